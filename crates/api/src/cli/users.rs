//! `authd user ...` and `authd sessions revoke`: what an operator does to users from a
//! shell, with the same rules as the admin API.

use anyhow::{Context, anyhow};
use user_store::{RevocationReason, Store, User, UserChange, Username};

use crate::routes::admin::check_roles;

/// Finds a user by name (normalised as at login) or fails naming it.
async fn find(store: &Store, name: &str) -> anyhow::Result<User> {
    let username = Username::parse(name).map_err(|e| anyhow!("{name:?}: {e}"))?;
    Ok(store
        .find_credentials(&username)
        .await?
        .ok_or_else(|| anyhow!("no user named {:?}", username.as_str()))?
        .user)
}

fn print_user(user: &User) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string(user).context("printing the user")?
    );
    Ok(())
}

/// Every user, one JSON object a line, in creation order.
pub async fn list(store: &Store) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let page = store.list_users(after, 500).await?;
        for user in &page.users {
            print_user(user)?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Replaces a user's roles (they reach tokens at the next login or refresh).
pub async fn set_roles(store: &Store, name: &str, roles: Vec<String>) -> anyhow::Result<()> {
    check_roles(&roles).map_err(|e| anyhow!("{e}"))?;
    let user = find(store, name).await?;
    change(
        store,
        &user,
        UserChange {
            roles: Some(roles),
            disabled: None,
        },
    )
    .await
}

/// Disables (revoking every session) or enables a user.
pub async fn set_disabled(store: &Store, name: &str, disabled: bool) -> anyhow::Result<()> {
    let user = find(store, name).await?;
    change(
        store,
        &user,
        UserChange {
            roles: None,
            disabled: Some(disabled),
        },
    )
    .await
}

async fn change(store: &Store, user: &User, change: UserChange) -> anyhow::Result<()> {
    let (user, revoked) = store
        .update_user(user.id, &change)
        .await?
        .ok_or_else(|| anyhow!("the user was deleted meanwhile"))?;
    if !revoked.is_empty() {
        eprintln!(
            "revoked {} session(s): every replica refuses their tokens within seconds",
            revoked.len()
        );
    }
    print_user(&user)
}

/// Revokes every session of a user.
pub async fn revoke_sessions(store: &Store, name: &str) -> anyhow::Result<()> {
    let user = find(store, name).await?;
    let revoked = store
        .revoke_user_sessions(user.id, None, RevocationReason::Admin)
        .await?;
    eprintln!(
        "revoked {} session(s) of {}: every replica refuses their tokens within seconds",
        revoked.len(),
        user.username
    );
    Ok(())
}
