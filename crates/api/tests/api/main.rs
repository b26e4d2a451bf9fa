//! authd's integration tests: the real server on a random port, spoken to over HTTP,
//! each test on a fresh SQLite database and (with `TEST_DATABASE_URL`) a fresh PostgreSQL one.

mod helpers;

mod cli;
mod errors;
mod keys;
mod login;
mod logout;
mod protected;
mod refresh;
mod register;
mod remote_verifier;
mod rotation;
mod throttle;
