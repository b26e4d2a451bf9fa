//! authd's service: the accounts layer (`accounts`, every rule, no transport in it), and
//! its transports: HTTP (`routes`, the `bearer` middleware, the one `error` mapping) and
//! the command line (`cli`); with configuration and start-up.

pub mod accounts;
pub mod bearer;
pub mod cli;
pub mod client_address;
pub mod config;
pub mod cors;
pub mod email;
pub mod error;
pub mod ijson;
pub mod keyring;
mod listen;
pub mod metrics;
pub mod openapi;
pub mod public_url;
pub mod purge;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
mod server;
pub mod signing;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tls;

pub use config::Settings;
pub use startup::Application;
