#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database, offline.
#
#   .ci/audit.sh DB_DIR
#
# DB_DIR is a checkout of https://github.com/rustsec/advisory-db (a clone, or any copy of
# its files). Needs cargo-audit 0.22 (`cargo install cargo-audit --locked`). Not part of
# .ci/run: CI has no network access to fetch the database. See the README, "Checking
# dependencies for advisories".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

db=${1:?usage: .ci/audit.sh ADVISORY_DB_DIR (a checkout of rustsec/advisory-db)}
if [ ! -d "$db/crates" ]; then
    echo "$db does not look like a checkout of rustsec/advisory-db (no crates/ in it)" >&2
    exit 2
fi
if ! cargo audit --version >/dev/null 2>&1; then
    echo "cargo-audit is not installed: cargo install cargo-audit --locked" >&2
    exit 2
fi

if [ -d "$db/.git" ]; then
    echo "advisory-db at $(git -C "$db" log -1 --format='%h, %cs')"
fi

# Advisories accepted, each with the reason it does not apply (README, "Checking
# dependencies for advisories"); anything else fails the check.
#
# RUSTSEC-2023-0071 rsa (Marvin attack: private-key operations leak timing; no fixed
# version). authd signs RS256 with ring, never with `rsa`. `rsa` remains for RSA key
# generation (one-off, local, on no outside input) and, inside jsonwebtoken's RustCrypto
# backend, for RS256 verification, which uses only public keys.
ignored=(--ignore RUSTSEC-2023-0071)

# --stale: a checkout is never updated here (--no-fetch), so its age is the caller's to judge
# (the date is printed above). --deny warnings: unmaintained, unsound and yanked crates fail
# the check too, unless ignored above.
cargo audit --db "$db" --no-fetch --stale --deny warnings "${ignored[@]}"
