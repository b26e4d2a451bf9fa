//! authd's integration tests: the real server on a random port, spoken to over HTTP,
//! each test on a fresh SQLite database and (with `TEST_DATABASE_URL`) a fresh PostgreSQL one.

// A scenario reads best as one test from start to end; the length rule is for the
// service's own code.
#![allow(clippy::too_many_lines)]

mod helpers;
mod process;

mod admin;
mod cli;
mod cors;
mod email;
mod errors;
mod events;
mod faults;
mod ijson;
mod key_leak;
mod keys;
mod load;
mod login;
mod logout;
mod logs;
mod mfa;
mod oauth;
mod observability;
mod openapi;
mod protected;
mod purge;
mod races;
mod refresh;
mod register;
mod remote_key_cache;
mod remote_verifier;
mod replicas;
mod review_fixes;
mod rotation;
mod shutdown;
mod slow_clients;
mod start;
mod throttle;
mod tls;
mod token_lifetime;
