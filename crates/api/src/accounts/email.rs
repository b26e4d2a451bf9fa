//! Users' email addresses: the syntax an address must have, setting one (at registration
//! or by `PUT /api/me/email`), and verifying it with the token sent to it (API.md,
//! "Account recovery: email"). No answer here says whether an address is in use: a pending
//! address is never refused as taken, only a verification can find it taken.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;
use user_store::{
    Admission, OneTimeToken, Origin, ThrottleKey, ThrottlePolicy, Timestamp, TokenIssue,
    TokenPurpose, User, UserCredentials, Username,
};
use uuid::Uuid;

use crate::accounts::attempts::Attempt;
use crate::accounts::events::{self, CHECK_EMAIL_CHANGE, FailureReason};
use crate::accounts::{AccountError, Accounts};
use crate::email::{Links, Mailer};
use crate::metrics::LoginOutcome;

/// Longest address (RFC 5321 §4.5.3.1.3 limits a path to 256 octets, with the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// What email needs when `SMTP_URL` is set: the queue, the links, the lifetimes, and the
/// throttles of reset requests.
pub struct EmailService {
    pub mailer: Mailer,
    pub links: Links,
    pub token_ttl: Duration,
    pub reset_ttl: Duration,
    /// Reset requests per target (email or username): as logins are per username.
    pub target_throttle: ThrottlePolicy,
    /// Reset requests per client address.
    pub address_throttle: ThrottlePolicy,
    /// Email changes per user ([`email_change_throttle`]).
    pub change_throttle: ThrottlePolicy,
    /// Reset requests being prepared off the request path at most (lookups, tokens).
    pub preparing: Arc<Semaphore>,
}

/// An address as the contract accepts it: one `@`, a non-empty local part, a domain with a
/// dot, at most 254 characters, no whitespace or control characters; and one that the
/// mailer can address.
pub fn parse_email(email: &str) -> Result<String, AccountError> {
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.matches('@').count() == 1
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| is_dot_atom(local) && is_host_name(domain))
        && email.parse::<lettre::Address>().is_ok();
    if valid {
        Ok(email.to_owned())
    } else {
        Err(AccountError::InvalidEmail)
    }
}

/// A local part of atoms joined by single dots (RFC 5322 §3.2.3 `dot-atom-text`; non-ASCII
/// letters as RFC 6532 allows): no quoted strings, which mail systems treat unevenly.
fn is_dot_atom(local: &str) -> bool {
    const ATEXT_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~";
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_alphanumeric() || ATEXT_SYMBOLS.contains(c))
    })
}

/// A domain of two or more labels of letters, digits and inner hyphens (RFC 1035 §2.3.1,
/// letters beyond ASCII for IDNA): no address literal such as `[192.0.2.1]`.
fn is_host_name(domain: &str) -> bool {
    domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Email changes per user: each sends a message to an address of the caller's choosing,
/// so a few are free, then one per block, doubling from a minute up to an hour; a user's
/// record is forgotten as a login's is (the login throttle's window). A successful change
/// stays counted.
pub fn email_change_throttle(login: &ThrottlePolicy) -> ThrottlePolicy {
    ThrottlePolicy {
        free_failures: 3,
        first_delay: Duration::from_secs(60),
        max_delay: Duration::from_secs(60 * 60),
        window: login.window,
    }
}

/// The mailbox of an address that [`parse_email`] accepted.
pub(crate) fn mailbox(email: &str) -> Option<Mailbox> {
    email
        .parse::<lettre::Address>()
        .ok()
        .map(|a| Mailbox::new(None, a))
}

impl Accounts {
    /// The email service, or [`AccountError::EmailDisabled`] without `SMTP_URL`.
    pub fn email_service(&self) -> Result<&EmailService, AccountError> {
        self.email.as_ref().ok_or(AccountError::EmailDisabled)
    }
}

/// Sends a verification message for `user`'s new pending address (after registration).
/// Without email, the address stays stored, unverified.
pub(crate) async fn send_first_verification(
    accounts: &Accounts,
    user: &User,
) -> Result<(), AccountError> {
    let (Some(service), Some(address)) = (&accounts.email, &user.email) else {
        return Ok(());
    };
    let store = &accounts.users.store;
    let Some(credentials) = store.find_credentials_by_id(user.id).await? else {
        return Ok(());
    };
    let token = OneTimeToken::generate()?;
    let issue = TokenIssue {
        user_id: user.id,
        purpose: TokenPurpose::Verify,
        email: address,
        password_hash: &credentials.password_hash,
        ttl: service.token_ttl,
    };
    store.issue_email_token(&issue, &token, None).await?;
    if let Some(to) = mailbox(address) {
        let message =
            service
                .links
                .verification(to, &user.username, token.secret(), service.token_ttl);
        service.mailer.enqueue(message);
    }
    Ok(())
}

/// `PUT /api/me/email`: a new address for the signed-in user.
pub struct EmailChange {
    pub user_id: Uuid,
    pub email: String,
    pub password: SecretString,
    /// The client (its address counts against the login throttle) and `User-Agent`.
    pub origin: Origin,
}

/// Checks the password (counted against the login throttle, like a login: a stolen access
/// token must not be enough to take the account over through a reset), makes the address
/// pending, sends it a verification message and the verified address a notice.
/// At most a few changes per user ([`email_change_throttle`]; 429 beyond), and their
/// messages never take the queue's reserve ([`crate::email::Mailer::enqueue_unreserved`]).
pub async fn change_email(accounts: &Accounts, change: EmailChange) -> Result<(), AccountError> {
    let service = accounts.email_service()?;
    let email = parse_email(&change.email)?;
    let users = &accounts.users;
    let credentials = users
        .store
        .find_credentials_by_id(change.user_id)
        .await?
        .ok_or(AccountError::AccountGone)?;
    check_password(accounts, &credentials, change.password, &change.origin).await?;
    let key = ThrottleKey::EmailChange(change.user_id);
    let policy = &service.change_throttle;
    if let Admission::Blocked { until } = users.store.admit_login_attempt(key, policy).await? {
        tracing::debug!("email change refused: too many changes");
        return Err(AccountError::TooManyAttempts {
            retry_after: retry_after_secs(until),
        });
    }
    let token = OneTimeToken::generate()?;
    let issue = TokenIssue {
        user_id: change.user_id,
        purpose: TokenPurpose::Verify,
        email: &email,
        password_hash: &credentials.password_hash,
        ttl: service.token_ttl,
    };
    let previous = users
        .store
        .change_pending_email(&issue, &token)
        .await?
        .ok_or(AccountError::PasswordMismatch)?;
    let username = &credentials.user.username;
    if let Some(to) = mailbox(&email) {
        let message = service
            .links
            .verification(to, username, token.secret(), service.token_ttl);
        service.mailer.enqueue_unreserved(message);
    }
    if let Some(to) = previous
        .filter(|p| *p != email)
        .as_deref()
        .and_then(mailbox)
    {
        service
            .mailer
            .enqueue_unreserved(Links::change_notice(to, username, &email));
    }
    tracing::info!(user_id = %change.user_id, "email change requested");
    Ok(())
}

/// Checks the password of an email change as a login's is checked, and records a wrong
/// or throttled one as `login_failed` or `login_throttled` (`detail.check`:
/// `email_change`), as a password change does: both checks look alike in the events.
async fn check_password(
    accounts: &Accounts,
    credentials: &UserCredentials,
    password: SecretString,
    origin: &Origin,
) -> Result<(), AccountError> {
    let store = &accounts.users.store;
    let name = Username::of_stored_user(&credentials.user.username);
    let check = Some(CHECK_EMAIL_CHANGE);
    let attempt = Attempt::admit(accounts, Some(&name), origin.ip).await;
    if let Err(AccountError::TooManyAttempts { .. }) = &attempt {
        // It spends the login throttle's budget: counted as a throttled login.
        accounts.metrics.login(LoginOutcome::Throttled);
        events::login_throttled(store, Some(&name), origin, check).await;
    }
    let stored_hash = Some(credentials.password_hash.clone());
    let (attempt, verified) = attempt?
        .check(
            accounts,
            accounts.users.hasher.verify(password, stored_hash),
        )
        .await?;
    if !verified {
        tracing::debug!("email change refused: wrong password");
        let reason = FailureReason::WrongPassword;
        events::login_failed(store, Some(credentials.user.id), origin, reason, check).await;
        return Err(AccountError::PasswordMismatch);
    }
    attempt.succeeded(accounts).await;
    Ok(())
}

/// `POST /auth/email/verify` (and the page's form): the address the token was sent to
/// becomes the verified one, if it is still pending. Returns the user.
pub async fn verify_email(
    accounts: &Accounts,
    token: &SecretString,
    origin: &Origin,
) -> Result<Uuid, AccountError> {
    accounts.email_service()?;
    let token = plausible_token(token)?;
    let user_id = accounts
        .users
        .store
        .verify_email(token, origin)
        .await?
        .ok_or(AccountError::InvalidEmailToken)?;
    tracing::info!(%user_id, "email verified");
    Ok(user_id)
}

/// The wait until `until` in whole seconds, rounded up, at least 1 (`Retry-After`, RFC
/// 9110 §10.2.3).
fn retry_after_secs(until: Timestamp) -> u64 {
    let left = until.since(Timestamp::now());
    (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1)
}

/// A token of the shape authd issues (43 base64url characters, with room to spare), so
/// that no absurd input reaches the database.
pub(crate) fn plausible_token(token: &SecretString) -> Result<&str, AccountError> {
    let token = token.expose_secret();
    let plausible = (16..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible
        .then_some(token)
        .ok_or(AccountError::InvalidEmailToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_contracts_syntax() {
        for good in [
            "a@b.co",
            "first.last+tag@example.com",
            "x@sub.example.org",
            "o'brien@my-host.example",
            "jörg@bücher.example",
        ] {
            assert!(parse_email(good).is_ok(), "{good}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@localhost",
            "a@@b.co",
            "a@b@c.co",
            "a b@c.co",
            "a@b.co ",
            "a\u{7}@b.co",
            "a@.co",
            "a@b.",
            &long,
            // Accepted by a permissive parser, but not mailed by every system.
            "\"a,b\"@example.com",
            "x@[192.0.2.1]",
            ".a@b.co",
            "a..b@c.co",
            "a@-b.co",
            "a@b_c.co",
        ] {
            assert!(
                matches!(parse_email(bad), Err(AccountError::InvalidEmail)),
                "{bad:?}"
            );
        }
    }
}
