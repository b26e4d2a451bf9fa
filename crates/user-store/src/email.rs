//! Users' email addresses and the one-time tokens sent to them (API.md, "Account
//! recovery: email"): verifying an address, and resetting a forgotten password.
//!
//! A token is 256 bits from the system's random source, shown once (in the message) and
//! stored only as its SHA-256. Each is bound to what it was issued for: the address it was
//! sent to, and a stamp of the password hash at issue, so that every token dies when the
//! password changes. Spending is one conditional update (`spent_at IS NULL`) in the
//! transaction that acts on it: of concurrent uses of one token exactly one wins.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::sessions::{REVOKE_USER_SESSIONS, RevocationReason};
use crate::{Store, StoreError, Timestamp};

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Proves that the user reads the (pending) address it was sent to.
    Verify,
    /// Sets a new password.
    Reset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Verify => "verify",
            TokenPurpose::Reset => "reset",
        }
    }
}

/// A fresh one-time token: the text for the message, and the hash to store.
pub struct OneTimeToken {
    secret: String,
    hash: [u8; 32],
}

impl OneTimeToken {
    /// 256 random bits, base64url without padding (43 characters, safe in a query).
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no randomness for an email token: {e}"))?;
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let hash = token_hash(&secret);
        Ok(Self { secret, hash })
    }

    /// The token as the user gets it; never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

/// What is stored for a presented token: its SHA-256. A token is found by this hash, an
/// index lookup on a value the attacker cannot choose the preimage of, so no comparison of
/// secrets happens in code.
pub fn token_hash(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

/// The password state a token is bound to: the SHA-256 of the stored hash (any change of
/// password, and so of its salted hash, gives another stamp).
pub fn password_stamp(password_hash: &str) -> [u8; 32] {
    Sha256::digest(password_hash.as_bytes()).into()
}

/// A token to store: for whom, for what, to which address, and for how long.
pub struct TokenIssue<'a> {
    pub user_id: Uuid,
    pub purpose: TokenPurpose,
    pub email: &'a str,
    /// The user's password hash when the token is issued (see [`password_stamp`]).
    pub password_hash: &'a str,
    pub ttl: Duration,
}

/// The account a password reset was asked for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecoveryTarget {
    pub user_id: Uuid,
    pub username: String,
    /// The verified address: the only one a reset message may go to.
    pub email: Option<String>,
    pub password_hash: String,
}

/// The holder of a live reset token, looked up before hashing the new password (its
/// strength is judged against the username).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResetHolder {
    pub user_id: Uuid,
    pub username: String,
}

/// The token row as the statements that spend one read it.
#[derive(sqlx::FromRow)]
struct LiveToken {
    user_id: Uuid,
    email: String,
    password_stamp: Vec<u8>,
    password_hash: String,
    verified_email: Option<String>,
    pending_email: Option<String>,
}

const INSERT_TOKEN: &str = "INSERT INTO email_tokens \
     (token_hash, user_id, purpose, email, password_stamp, issued_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Spends token `$2` of purpose `$3` at `$1` if it is unspent and unexpired.
const SPEND_TOKEN: &str = "UPDATE email_tokens SET spent_at = $1 \
     WHERE token_hash = $2 AND purpose = $3 AND spent_at IS NULL AND expires_at > $1";

/// A spent token with the user's state, to check what the token is bound to.
const READ_TOKEN: &str = "SELECT t.user_id, t.email, t.password_stamp, u.password_hash, \
     u.email AS verified_email, u.pending_email \
     FROM email_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";

impl LiveToken {
    /// Whether the password is still the one the token was issued under.
    fn password_unchanged(&self) -> bool {
        self.password_stamp.as_slice() == password_stamp(&self.password_hash).as_slice()
    }
}

impl Store {
    /// Stores a token (registration's verification, a reset request), with the event that
    /// records it when there is one (`password_reset_requested`), in one transaction.
    #[tracing::instrument(skip_all, fields(user_id = %issue.user_id))]
    pub async fn issue_email_token(
        &self,
        issue: &TokenIssue<'_>,
        token: &OneTimeToken,
        event: Option<&NewEvent<'_>>,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        tx.sql(INSERT_TOKEN)
            .bind(token.hash.as_slice())
            .bind(issue.user_id)
            .bind(issue.purpose.as_str())
            .bind(issue.email)
            .bind(password_stamp(issue.password_hash).as_slice())
            .bind(now)
            .bind(now.plus(issue.ttl))
            .execute()
            .await
            .db("insert email token")?;
        if let Some(event) = event {
            events::insert(&mut tx, event).await?;
        }
        tx.commit().await.db("commit email token")
    }

    /// Makes `issue.email` the user's pending address and stores its verification token,
    /// in one transaction, only if the password hash is still `issue.password_hash` (the
    /// one the caller checked the password against). `None` when it changed meanwhile;
    /// else the verified address in force before (it gets a notice).
    #[tracing::instrument(skip_all, fields(user_id = %issue.user_id))]
    pub async fn change_pending_email(
        &self,
        issue: &TokenIssue<'_>,
        token: &OneTimeToken,
    ) -> Result<Option<Option<String>>, StoreError> {
        const READ: &str = "SELECT email FROM users WHERE id = $1 AND password_hash = $2";
        const SET: &str = "UPDATE users SET pending_email = $1, updated_at = $2 WHERE id = $3";
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let Some(previous) = tx
            .sql_locking(READ, "FOR UPDATE")
            .bind(issue.user_id)
            .bind(issue.password_hash)
            .fetch_optional::<(Option<String>,)>()
            .await
            .db("read user email")?
        else {
            return Ok(None);
        };
        tx.sql(SET)
            .bind(issue.email)
            .bind(now)
            .bind(issue.user_id)
            .execute()
            .await
            .db("set pending email")?;
        tx.sql(INSERT_TOKEN)
            .bind(token.hash.as_slice())
            .bind(issue.user_id)
            .bind(issue.purpose.as_str())
            .bind(issue.email)
            .bind(password_stamp(issue.password_hash).as_slice())
            .bind(now)
            .bind(now.plus(issue.ttl))
            .execute()
            .await
            .db("insert email token")?;
        tx.commit().await.db("commit email change")?;
        Ok(Some(previous.0))
    }

    /// Spends a verification token and makes the address it was sent to the verified one,
    /// if it is still the pending address and the password has not changed since. `None`
    /// (nothing written) for an unknown, spent, expired or stale token, and when another
    /// account has verified this address meanwhile (the `users_email_key` index decides).
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(
        &self,
        presented: &str,
        origin: &Origin,
    ) -> Result<Option<Uuid>, StoreError> {
        const VERIFY: &str = "UPDATE users SET email = pending_email, email_key = $1, \
             pending_email = NULL, updated_at = $2 WHERE id = $3";
        let hash = token_hash(presented);
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let Some(token) = spend(&mut tx, &hash, TokenPurpose::Verify, now).await? else {
            return Ok(None);
        };
        let pending = token.pending_email.as_deref() == Some(token.email.as_str());
        if !pending || !token.password_unchanged() {
            return Ok(None);
        }
        let verified = tx
            .sql(VERIFY)
            .bind(email_key(&token.email))
            .bind(now)
            .bind(token.user_id)
            .execute()
            .await;
        match verified {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
            Err(e) => return Err(StoreError::from_sqlx(e, "verify email")),
        }
        let event = NewEvent::new(EventType::EmailVerified, Some(token.user_id), origin);
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit email verification")?;
        Ok(Some(token.user_id))
    }

    /// The account a reset is asked for, by verified address (compared case-insensitively)
    /// or by username key; the same one query either way, so both cost the same.
    #[tracing::instrument(skip_all)]
    pub async fn find_recovery_target(
        &self,
        email_key_or_username_key: &str,
        by_email: bool,
    ) -> Result<Option<RecoveryTarget>, StoreError> {
        const SQL: &str = "SELECT id AS user_id, username, email, password_hash FROM users \
             WHERE (email_key = $1 AND $2) OR (username_key = $1 AND NOT $2)";
        self.sql(SQL)
            .bind(email_key_or_username_key)
            .bind(by_email)
            .fetch_optional::<RecoveryTarget>()
            .await
            .db("find recovery target")
    }

    /// Who holds this reset token, if it is live (unspent, unexpired, bound to the current
    /// password and verified address). Spends nothing.
    #[tracing::instrument(skip_all)]
    pub async fn reset_token_holder(
        &self,
        presented: &str,
    ) -> Result<Option<ResetHolder>, StoreError> {
        const SQL: &str = "SELECT t.user_id, u.username, t.email, t.password_stamp, \
             u.password_hash, u.email AS verified_email, u.pending_email \
             FROM email_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.purpose = 'reset' AND t.spent_at IS NULL \
             AND t.expires_at > $2";
        #[derive(sqlx::FromRow)]
        struct Row {
            username: String,
            #[sqlx(flatten)]
            token: LiveToken,
        }
        let row = self
            .sql(SQL)
            .bind(token_hash(presented).as_slice())
            .bind(Timestamp::now())
            .fetch_optional::<Row>()
            .await
            .db("read reset token")?;
        Ok(row
            .filter(|row| row.token.reset_still_bound())
            .map(|row| ResetHolder {
                user_id: row.token.user_id,
                username: row.username,
            }))
    }

    /// Spends a reset token, sets `new_hash` and revokes every session of the user, in
    /// one transaction. `None` (nothing written) when the token is unknown, spent, expired
    /// or stale; else the user and the revoked sessions.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        presented: &str,
        new_hash: &str,
        origin: &Origin,
    ) -> Result<Option<(Uuid, Vec<Uuid>)>, StoreError> {
        let hash = token_hash(presented);
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let Some(token) = spend(&mut tx, &hash, TokenPurpose::Reset, now).await? else {
            return Ok(None);
        };
        if !token.reset_still_bound() {
            return Ok(None);
        }
        let revoked = set_hash_and_revoke(&mut tx, token.user_id, new_hash, now).await?;
        let event = NewEvent::new(EventType::PasswordReset, Some(token.user_id), origin)
            .with("sessions_revoked", revoked.len());
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit password reset")?;
        Ok(Some((token.user_id, revoked)))
    }

    /// An operator's new password (`authd user set-password`): sets `new_hash` and revokes
    /// every session of the user in one transaction; the revoked sessions.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn set_password(
        &self,
        user_id: Uuid,
        new_hash: &str,
        origin: &Origin,
    ) -> Result<Vec<Uuid>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let revoked = set_hash_and_revoke(&mut tx, user_id, new_hash, now).await?;
        let event = NewEvent::new(EventType::PasswordChanged, Some(user_id), origin)
            .with("sessions_revoked", revoked.len());
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit password set")?;
        Ok(revoked)
    }
}

impl LiveToken {
    /// A reset token holds while the password and the verified address are those it was
    /// issued for.
    fn reset_still_bound(&self) -> bool {
        self.password_unchanged() && self.verified_email.as_deref() == Some(self.email.as_str())
    }
}

/// Spends the token if it is live, and reads it with its user's state.
async fn spend(
    tx: &mut crate::statement::WriteTx,
    hash: &[u8; 32],
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<Option<LiveToken>, StoreError> {
    let spent = tx
        .sql(SPEND_TOKEN)
        .bind(now)
        .bind(hash.as_slice())
        .bind(purpose.as_str())
        .execute()
        .await
        .db("spend email token")?;
    if spent != 1 {
        return Ok(None);
    }
    tx.sql_locking(READ_TOKEN, "FOR UPDATE OF u")
        .bind(hash.as_slice())
        .fetch_optional::<LiveToken>()
        .await
        .db("read email token")
}

async fn set_hash_and_revoke(
    tx: &mut crate::statement::WriteTx,
    user_id: Uuid,
    new_hash: &str,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    const SET: &str = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3";
    tx.sql(SET)
        .bind(new_hash)
        .bind(now)
        .bind(user_id)
        .execute()
        .await
        .db("set password")?;
    tx.sql(REVOKE_USER_SESSIONS)
        .bind(now)
        .bind(RevocationReason::PasswordChange.as_str())
        .bind(user_id)
        .bind(Uuid::nil())
        .fetch_all_scalar::<Uuid>()
        .await
        .db("revoke sessions on password reset")
}

/// How verified addresses are compared: case-insensitively (the domain is, and no
/// provider in practice tells two local parts apart by case).
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}
