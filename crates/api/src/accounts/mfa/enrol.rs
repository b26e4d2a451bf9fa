//! Enrolling a TOTP factor: a pending factor with a fresh secret, then its confirmation
//! with a current code and the password, which activates it and issues the recovery codes.

use secrecy::{ExposeSecret, SecretString};
use user_store::{FactorSecret, Origin, Timestamp};
use uuid::Uuid;

use super::{CHECK_CONFIRM, check_password, count_throttled, record_failure, recovery, totp};
use crate::accounts::{AccountError, Accounts};

/// What the user copies into an authenticator app; shown once.
pub struct Enrolment {
    /// The secret in base32 without padding.
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
}

/// Starts (or restarts) enrolment: a new pending factor with a 160-bit secret from the
/// system's random source. [`AccountError::MfaAlreadyEnabled`] while a factor is active.
pub async fn enrol_totp(accounts: &Accounts, user_id: Uuid) -> Result<Enrolment, AccountError> {
    let user = accounts.users.own_account(user_id).await?;
    let mut secret = vec![0u8; totp::SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|e| AccountError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    let enrolment = Enrolment {
        secret: totp::base32(&secret).into(),
        otpauth_uri: totp::otpauth_uri(&accounts.policy.mfa_issuer, &user.username, &secret).into(),
    };
    let stored = FactorSecret::new(secret);
    if !accounts.users.store.enrol_totp(user_id, &stored).await? {
        return Err(AccountError::MfaAlreadyEnabled);
    }
    tracing::info!(user_id = %user_id, "totp factor enrolled, pending confirmation");
    Ok(enrolment)
}

/// A confirmation by the signed-in user.
pub struct TotpConfirmation {
    pub user_id: Uuid,
    pub code: SecretString,
    pub password: SecretString,
    /// The client (address for the throttle, and the security events).
    pub origin: Origin,
}

/// Activates the pending factor: the password is checked first (against the login
/// throttle), then the code; the code's step counts as used. Returns the ten recovery
/// codes, shown this once (only their hashes are stored).
pub async fn confirm_totp(
    accounts: &Accounts,
    confirmation: TotpConfirmation,
) -> Result<Vec<String>, AccountError> {
    let outcome = confirm(accounts, confirmation).await;
    count_throttled(accounts, &outcome);
    outcome
}

async fn confirm(
    accounts: &Accounts,
    confirmation: TotpConfirmation,
) -> Result<Vec<String>, AccountError> {
    let TotpConfirmation {
        user_id,
        code,
        password,
        origin,
    } = confirmation;
    check_password(accounts, user_id, password, &origin, CHECK_CONFIRM).await?;
    let store = &accounts.users.store;
    let factor = store
        .totp_factor(user_id)
        .await?
        .filter(|factor| !factor.is_active())
        .ok_or(AccountError::NoPendingFactor)?;
    let compact: String = code
        .expose_secret()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let now = Timestamp::now().unix_seconds();
    let Some(step) = totp::matching_step(factor.secret.expose(), &compact, now) else {
        record_failure(store, user_id, &origin, CHECK_CONFIRM).await;
        return Err(AccountError::InvalidCode);
    };
    let codes = (0..recovery::COUNT)
        .map(|_| recovery::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<[u8; 32]> = codes
        .iter()
        .map(|code| recovery::hash(user_id, &code.replace('-', "")))
        .collect();
    if !store
        .confirm_totp(user_id, &factor, step, &hashes, &origin)
        .await?
    {
        // Replaced by a new enrolment (or confirmed by another request) meanwhile.
        return Err(AccountError::NoPendingFactor);
    }
    tracing::info!(user_id = %user_id, "totp factor confirmed; recovery codes issued");
    Ok(codes)
}
