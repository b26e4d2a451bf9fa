//! The command line: `authd` serves; `authd migrate`, `authd user ...`, `authd sessions
//! revoke`, `authd clients ...`, `authd keys ...`, `authd purge`, `authd config check`.

mod clients;
pub mod config_check;
mod keys;
mod purge;
mod serve;
mod sessions;
mod users;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

pub use clients::ClientsCommand;
pub use keys::KeysCommand;
pub use sessions::SessionsCommand;
pub use users::UserCommand;

use crate::config::Settings;
use crate::startup::open_store;

#[derive(Debug, Parser)]
#[command(
    name = "authd",
    version,
    about = "A JWT authentication service: users, sessions, tokens."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (what `authd` does with no arguments).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Manage OAuth clients (service accounts).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Delete now what the server purges every PURGE_INTERVAL (expired refresh tokens,
    /// sessions ended long enough ago, stale throttle rows, events past EVENT_RETENTION);
    /// print the rows deleted.
    Purge,
    /// Print the OpenAPI 3 document of the HTTP API (what `GET /openapi.json` serves).
    Openapi,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets masked) and every problem with it; try
    /// the database. Exits non-zero when authd would not start.
    Check,
}

/// Commands that need no configuration at all.
pub fn run_without_settings(command: &Command) -> Option<anyhow::Result<()>> {
    match command {
        Command::Keys {
            command: KeysCommand::Generate { alg, out },
        } => Some(keys::generate_key(*alg, out.as_deref())),
        Command::Openapi => Some(crate::openapi::OpenApiJson::render().and_then(|document| {
            use std::io::Write;
            writeln!(std::io::stdout().lock(), "{}", document.0).context("writing to stdout")
        })),
        _ => None,
    }
}

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Keys { command } => keys::run(command, &settings).await?,
        Command::Serve => serve::serve(settings).await?,
        Command::Migrate => {
            let store = open_store(&settings).await?;
            eprintln!("migrations applied ({})", store.kind());
            store.close().await;
        }
        Command::User { command } => users::run(command, &settings).await?,
        Command::Sessions { command } => sessions::run(command, &settings).await?,
        Command::Clients { command } => clients::run(command, &settings).await?,
        Command::Purge => purge::purge(&settings).await?,
        Command::Openapi
        | Command::Config {
            command: ConfigCommand::Check,
        } => {
            // Handled before the settings are read (they may be what is wrong).
            bail!("this command runs before the configuration is loaded");
        }
    }
    Ok(())
}
