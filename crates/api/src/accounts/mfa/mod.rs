//! The second factor (API.md, "Second factor: TOTP and recovery codes"): enrolling and
//! confirming a TOTP factor ([`enrol`]), disabling it or an operator's reset
//! ([`disable`]), and the login's second step ([`second_step`]); the RFC 6238 codes
//! ([`totp`]) and the recovery codes ([`recovery`]) they check.
//!
//! Every code accepted is spent by one conditional statement in the store (a TOTP step
//! later than the last accepted one, an unused recovery code), so of two requests with
//! one code exactly one succeeds (RFC 6238 §5.2).

pub mod disable;
pub mod enrol;
pub mod recovery;
pub mod second_step;
pub mod totp;

use secrecy::SecretString;
use user_store::{EventType, NewEvent, Origin, Store, Timestamp, TotpFactor, Username};
use uuid::Uuid;

use crate::accounts::attempts::Attempt;
use crate::accounts::events::{self, FailureReason};
use crate::accounts::{AccountError, Accounts};
use crate::metrics::LoginOutcome;

pub use disable::{TotpDisable, disable_totp, reset_mfa};
pub use enrol::{Enrolment, TotpConfirmation, confirm_totp, enrol_totp};
pub use second_step::{MfaRequired, MfaStep, complete_login};

/// RFC 8176 §2 `amr` values: a password, and a one-time password (a TOTP code or a
/// recovery code alike: both are one-time passwords).
pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_OTP: &str = "otp";

/// Spends `code` for the user's active `factor`: a 6-digit code as TOTP (a step within
/// the window and later than the last accepted), anything else as a recovery code.
/// `false` when it is wrong, reused, or of neither form.
async fn spend_code(
    store: &Store,
    user_id: Uuid,
    factor: &TotpFactor,
    code: &str,
) -> Result<bool, AccountError> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if totp::is_totp_code(&compact) {
        let now = Timestamp::now().unix_seconds();
        let Some(step) = totp::matching_step(factor.secret.expose(), &compact, now) else {
            return Ok(false);
        };
        return Ok(store.accept_totp_step(factor.id, step).await?);
    }
    let Some(normalised) = recovery::normalise(code) else {
        return Ok(false);
    };
    let hash = recovery::hash(user_id, &normalised);
    Ok(store.use_recovery_code(user_id, &hash).await?)
}

/// Which check a security event is about, in `detail.check`.
const CHECK_CONFIRM: &str = "mfa_confirm";
const CHECK_DISABLE: &str = "mfa_disable";
const CHECK_LOGIN: &str = "mfa_login";

/// Checks the signed-in user's password as a login does: it counts against the login
/// throttle (per username, and per address when that is on), so a stolen access token is
/// no faster a password oracle here than at the login form; a refusal is recorded as
/// `login_failed` or `login_throttled` with `check`.
async fn check_password(
    accounts: &Accounts,
    user_id: Uuid,
    password: SecretString,
    origin: &Origin,
    check: &'static str,
) -> Result<(), AccountError> {
    let users = &accounts.users;
    let credentials = users
        .store
        .find_credentials_by_id(user_id)
        .await?
        .ok_or(AccountError::AccountGone)?;
    let name = Username::of_stored_user(&credentials.user.username);
    let attempt = Attempt::admit(accounts, Some(&name), origin.ip).await;
    if let Err(AccountError::TooManyAttempts { .. }) = &attempt {
        events::login_throttled(&users.store, Some(&name), origin, Some(check)).await;
    }
    let attempt = attempt?;
    let stored_hash = Some(credentials.password_hash);
    let (attempt, verified) = attempt
        .check(accounts, users.hasher.verify(password, stored_hash))
        .await?;
    if !verified {
        tracing::debug!("second factor change refused: wrong password");
        let reason = FailureReason::WrongPassword;
        events::login_failed(&users.store, Some(user_id), origin, reason, Some(check)).await;
        return Err(AccountError::WrongPassword);
    }
    attempt.succeeded(accounts).await;
    Ok(())
}

/// Records `mfa_failed`: a wrong, reused or malformed code (never the code itself).
async fn record_failure(store: &Store, user_id: Uuid, origin: &Origin, check: &'static str) {
    let event = NewEvent::new(EventType::MfaFailed, Some(user_id), origin).with("check", check);
    events::record(store, &event).await;
}

/// Counts a throttled password check in `logins_total`, as a password change does.
fn count_throttled<T>(accounts: &Accounts, outcome: &Result<T, AccountError>) {
    if let Err(AccountError::TooManyAttempts { .. }) = outcome {
        accounts.metrics.login(LoginOutcome::Throttled);
    }
}
