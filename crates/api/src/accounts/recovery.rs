//! A forgotten password: the request for a reset (`POST /auth/password/forgot`), the reset
//! itself (`POST /auth/password/reset`, and the page's form), and the operator's
//! `authd user set-password`.
//!
//! The request answers the same, in body and time, whether or not the account exists: on
//! the request path only the throttle is counted (the same statements for every target);
//! the lookup, the token and the message are prepared by a background task.

use std::time::Duration;

use secrecy::SecretString;
use user_store::{
    Admission, EventType, NewEvent, OneTimeToken, Origin, Store, ThrottleKey, ThrottlePolicy,
    Timestamp, TokenIssue, TokenPurpose, Username, email_key,
};
use uuid::Uuid;

use crate::accounts::email::{mailbox, parse_email, plausible_token};
use crate::accounts::{AccountError, Accounts, Sessions, Users};
use crate::email::{Links, Mailer};

/// Whose password to reset: a verified address, or a username.
pub enum ResetTarget {
    Email(String),
    Username(String),
}

/// Asks for a reset message. `Ok` whatever the account: a message goes only to a
/// verified address, later, from the queue.
pub async fn forgot_password(
    accounts: &Accounts,
    target: ResetTarget,
    origin: Origin,
) -> Result<(), AccountError> {
    let service = accounts.email_service()?;
    // The target's key; `None` for a name no account can have.
    let (key, by_email) = match target {
        ResetTarget::Email(email) => (Some(email_key(&parse_email(&email)?)), true),
        ResetTarget::Username(name) => (
            Username::parse(&name).ok().map(|n| n.key().to_owned()),
            false,
        ),
    };
    let store = &accounts.users.store;
    let address = origin.ip.map(ThrottleKey::RecoveryAddress);
    let target_key = key.as_deref().map(ThrottleKey::RecoveryTarget);
    for (key, policy) in address
        .map(|k| (k, &service.address_throttle))
        .into_iter()
        .chain(target_key.map(|k| (k, &service.target_throttle)))
    {
        if let Admission::Blocked { until } = store.admit_login_attempt(key, policy).await? {
            tracing::debug!("password reset request throttled");
            return Err(retry_after(until));
        }
    }
    let Some(key) = key else { return Ok(()) };
    let job = ResetJob {
        store: store.clone(),
        mailer: service.mailer.clone(),
        links: service.links.clone(),
        ttl: service.reset_ttl,
        key,
        by_email,
        origin,
    };
    match service.preparing.clone().try_acquire_owned() {
        Ok(slot) => {
            tokio::spawn(async move {
                if let Err(e) = job.run().await {
                    tracing::warn!(error = %e, "password reset request not prepared");
                }
                drop(slot);
            });
        }
        Err(_) => tracing::warn!("password reset request dropped: too many in preparation"),
    }
    Ok(())
}

/// A reset request, prepared off the request path.
struct ResetJob {
    store: Store,
    mailer: Mailer,
    links: Links,
    ttl: Duration,
    key: String,
    by_email: bool,
    /// Who asked, for the `password_reset_requested` event.
    origin: Origin,
}

impl ResetJob {
    /// Finds the account, and when it has a verified address, stores a reset token and
    /// queues the message.
    async fn run(self) -> Result<(), AccountError> {
        let store = &self.store;
        let Some(target) = store.find_recovery_target(&self.key, self.by_email).await? else {
            return Ok(());
        };
        let Some(address) = target.email.as_deref() else {
            return Ok(());
        };
        let token = OneTimeToken::generate()?;
        let issue = TokenIssue {
            user_id: target.user_id,
            purpose: TokenPurpose::Reset,
            email: address,
            password_hash: &target.password_hash,
            ttl: self.ttl,
        };
        let event = NewEvent::new(
            EventType::PasswordResetRequested,
            Some(target.user_id),
            &self.origin,
        )
        .with("by_email", self.by_email);
        store
            .issue_email_token(&issue, &token, Some(&event))
            .await?;
        if let Some(to) = mailbox(address) {
            let message = self
                .links
                .reset(to, &target.username, token.secret(), self.ttl);
            self.mailer.enqueue(message);
        }
        tracing::info!(user_id = %target.user_id, "password reset requested");
        Ok(())
    }
}

/// Sets a new password with a reset token (same strength rules as everywhere), spends the
/// token and revokes every session of the user; returns how many.
pub async fn reset_password(
    accounts: &Accounts,
    token: &SecretString,
    new_password: SecretString,
    origin: &Origin,
) -> Result<usize, AccountError> {
    accounts.email_service()?;
    let token = plausible_token(token)?;
    let users = &accounts.users;
    let holder = users
        .store
        .reset_token_holder(token)
        .await?
        .ok_or(AccountError::InvalidEmailToken)?;
    let hash = users
        .hasher
        .hash_new(new_password, &holder.username)
        .await?;
    let (user_id, revoked) = accounts
        .sessions
        .reset_password(token, &hash, origin)
        .await?
        .ok_or(AccountError::InvalidEmailToken)?;
    tracing::info!(%user_id, sessions = revoked, "password reset; sessions revoked");
    Ok(revoked)
}

/// `authd user set-password NAME`: sets a password (strength rules apply) and revokes
/// every session; returns the user and how many sessions were revoked.
pub async fn set_password(
    users: &Users,
    sessions: &Sessions,
    name: &str,
    password: SecretString,
) -> Result<(Uuid, usize), AccountError> {
    let user = crate::accounts::users::find_by_name(&users.store, name)
        .await?
        .ok_or(AccountError::UserNotFound)?;
    let hash = users.hasher.hash_new(password, &user.username).await?;
    let revoked = sessions
        .set_password(user.id, &hash, &Origin::operator())
        .await?;
    tracing::info!(user_id = %user.id, sessions = revoked, "password set by an operator");
    Ok((user.id, revoked))
}

/// The throttles of reset requests: per target as logins are per username, and per
/// client address with a larger free budget (one address may serve many people).
pub fn recovery_throttles(login: &ThrottlePolicy) -> (ThrottlePolicy, ThrottlePolicy) {
    let address = ThrottlePolicy {
        free_failures: login.free_failures.saturating_mul(6).max(30),
        ..login.clone()
    };
    (login.clone(), address)
}

fn retry_after(until: Timestamp) -> AccountError {
    let left = until.since(Timestamp::now());
    AccountError::TooManyAttempts {
        retry_after: (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1),
    }
}
