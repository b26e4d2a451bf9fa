//! `authd sessions revoke`: every session of a user, as the admin API revokes them.

use clap::Subcommand;
use user_store::Origin;

use crate::accounts::{Sessions, admin};
use crate::cli::users::find;
use crate::config::Settings;
use crate::startup::open_store;

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Revoke every session of a user: their refresh tokens stop working at once, and
    /// their access tokens are refused by every replica within seconds.
    Revoke {
        #[arg(long = "user")]
        username: String,
    },
}

pub async fn run(command: SessionsCommand, settings: &Settings) -> anyhow::Result<()> {
    let SessionsCommand::Revoke { username } = command;
    let store = open_store(settings).await?;
    let result = async {
        let user = find(&store, &username).await?;
        let sessions = Sessions::offline(store.clone());
        let origin = Origin::operator();
        let revoked = admin::revoke_sessions(&store, &sessions, user.id, &origin).await?;
        eprintln!(
            "revoked {revoked} session(s) of {}: every replica refuses their tokens within seconds",
            user.username
        );
        Ok(())
    }
    .await;
    store.close().await;
    result
}
