//! `authd user ...`: what an operator does to users from a shell, through the same use
//! cases as the admin API ([`crate::accounts::admin`]).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use secrecy::SecretString;
use user_store::{Origin, Store, User, UserChange, Username};

use crate::accounts::{AccountError, NewUser, Sessions, Users, admin, mfa, recovery, users};
use crate::config::Settings;
use crate::startup::{open_store, password_hasher};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from a prompt, or from standard input when it
    /// is not a terminal (one line).
    Create {
        username: String,
        /// A role to grant (repeatable), e.g. `--role admin`.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List every user, one JSON object a line.
    List,
    /// Replace a user's roles (repeat `--role`; none clears them). Tokens carry the new
    /// roles from the user's next login or refresh.
    SetRoles {
        username: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Set a user's password (the strength rules apply) and revoke every session. The
    /// password is read from a prompt, or from standard input when it is not a terminal.
    SetPassword { username: String },
    /// Disable a user: every session is revoked and logins get 403 account_disabled.
    Disable { username: String },
    /// Enable a disabled user again.
    Enable { username: String },
    /// Remove a user's second factors (TOTP and recovery codes), e.g. for a lost phone;
    /// sessions are kept, and the next login asks for the password alone.
    ResetMfa { username: String },
}

pub async fn run(command: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    if let UserCommand::Create { username, roles } = command {
        return create(settings, username, roles).await;
    }
    if let UserCommand::SetPassword { username } = command {
        return set_password(settings, &username).await;
    }
    let store = open_store(settings).await?;
    let result = match command {
        UserCommand::Create { .. } | UserCommand::SetPassword { .. } => {
            unreachable!("handled above")
        }
        UserCommand::List => list(&store).await,
        UserCommand::SetRoles { username, roles } => {
            let change = UserChange {
                roles: Some(roles),
                disabled: None,
            };
            update(&store, &username, change).await
        }
        UserCommand::Disable { username } => update(&store, &username, disabled(true)).await,
        UserCommand::Enable { username } => update(&store, &username, disabled(false)).await,
        UserCommand::ResetMfa { username } => reset_mfa(&store, &username).await,
    };
    store.close().await;
    result
}

/// Creates a user with the store and the hasher alone (no keys, no generated secret).
async fn create(settings: &Settings, username: String, roles: Vec<String>) -> anyhow::Result<()> {
    let password = read_password()?;
    let users = Users::new(open_store(settings).await?, password_hasher(settings));
    let new = NewUser {
        username,
        password,
        roles,
        email: None,
    };
    let created = users.create(new).await;
    users.store.close().await;
    print_user(&created?)
}

/// Sets a password with the store and the hasher alone; the servers learn of the
/// revocation from the database.
async fn set_password(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let password = read_password()?;
    let store = open_store(settings).await?;
    let users = Users::new(store.clone(), password_hasher(settings));
    let sessions = Sessions::offline(store.clone());
    let outcome = recovery::set_password(&users, &sessions, name, password).await;
    store.close().await;
    let (user_id, revoked) = match outcome {
        Err(AccountError::UserNotFound) => bail!("no user named {name:?}"),
        other => other?,
    };
    println!("password set for {user_id}; {revoked} session(s) revoked");
    Ok(())
}

fn disabled(disabled: bool) -> UserChange {
    UserChange {
        roles: None,
        disabled: Some(disabled),
    }
}

/// Finds a user by name (normalised as at login) or fails naming it.
pub(super) async fn find(store: &Store, name: &str) -> anyhow::Result<User> {
    let username = Username::parse(name).map_err(|e| anyhow!("{name:?}: {e}"))?;
    users::find_by_name(store, name)
        .await?
        .ok_or_else(|| anyhow!("no user named {:?}", username.as_str()))
}

fn print_user(user: &User) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string(user).context("printing the user")?
    );
    Ok(())
}

/// Every user, one JSON object a line, in creation order.
async fn list(store: &Store) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let page = admin::list_users(store, after, 500).await?;
        for user in &page.users {
            print_user(user)?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Replaces roles (they reach tokens at the next login or refresh), disables (revoking
/// every session) or enables a user; recorded as events by the operator (no address).
async fn update(store: &Store, name: &str, change: UserChange) -> anyhow::Result<()> {
    let user = find(store, name).await?;
    let sessions = Sessions::offline(store.clone());
    let updated = admin::update_user(&sessions, user.id, change, &Origin::operator()).await?;
    if updated.sessions_revoked > 0 {
        eprintln!(
            "revoked {} session(s): every replica refuses their tokens within seconds",
            updated.sessions_revoked
        );
    }
    print_user(&updated.user)
}

/// Removes every second factor of the user, as `DELETE /api/admin/users/{id}/mfa` does.
async fn reset_mfa(store: &Store, name: &str) -> anyhow::Result<()> {
    let user = find(store, name).await?;
    let removed = mfa::reset_mfa(store, user.id, &Origin::operator()).await?;
    eprintln!("removed {removed} factor(s) and the recovery codes; sessions are kept");
    let user = store
        .find_user(user.id)
        .await?
        .ok_or_else(|| anyhow!("the user was deleted meanwhile"))?;
    print_user(&user)
}

/// The password from a prompt (twice), or one line of standard input.
fn read_password() -> anyhow::Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again =
            rpassword::prompt_password("Repeat password: ").context("reading the password")?;
        if first != again {
            bail!("the passwords do not match");
        }
        return Ok(SecretString::from(first));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(SecretString::from(password))
}
