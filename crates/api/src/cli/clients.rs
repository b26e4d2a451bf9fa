//! `authd clients create|list|delete`: registered OAuth clients, through the same use
//! cases as the admin API ([`crate::accounts::clients`]).

use std::io::Write;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use user_store::{Client, Origin, Store};
use uuid::Uuid;

use crate::accounts::clients::{self, NewClient};
use crate::accounts::{AccountError, Sessions};
use crate::config::Settings;
use crate::startup::open_store;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints it with its secret as JSON (the secret is shown this once).
    Create {
        name: String,
        /// A role its tokens carry (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List every client, one JSON object a line.
    List,
    /// Delete a client: every replica refuses its tokens within seconds.
    Delete { client_id: String },
}

pub async fn run(command: ClientsCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let result = match command {
        ClientsCommand::Create { name, roles } => create(&store, name, roles).await,
        ClientsCommand::List => list(&store).await,
        ClientsCommand::Delete { client_id } => delete(&store, &client_id).await,
    };
    store.close().await;
    result
}

async fn create(store: &Store, name: String, roles: Vec<String>) -> anyhow::Result<()> {
    let created = clients::create(store, NewClient { name, roles }, &Origin::operator()).await?;
    let mut shown = view(&created.client);
    shown["client_secret"] = json!(created.secret);
    print(&shown)
}

async fn list(store: &Store) -> anyhow::Result<()> {
    for client in clients::list(store).await? {
        print(&view(&client))?;
    }
    Ok(())
}

async fn delete(store: &Store, client_id: &str) -> anyhow::Result<()> {
    let id: Uuid = client_id
        .parse()
        .map_err(|_| AccountError::ClientNotFound)?;
    clients::delete(&Sessions::offline(store.clone()), id, &Origin::operator()).await?;
    eprintln!("deleted client {id}: every replica refuses its tokens within seconds");
    Ok(())
}

/// As the admin API shows it.
fn view(client: &Client) -> serde_json::Value {
    json!({
        "client_id": client.id,
        "name": client.name,
        "roles": client.roles.0,
        "created_at": client.created_at.rfc3339(),
    })
}

fn print(value: &serde_json::Value) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{value}").context("writing to stdout")
}
