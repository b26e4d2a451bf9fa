//! Placeholder, replaced by the sign/verify benchmarks.
fn main() {}
