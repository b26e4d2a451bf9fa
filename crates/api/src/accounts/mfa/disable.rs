//! Removing a second factor: by the user (password and a current code or a recovery code)
//! or by an operator (`DELETE /api/admin/users/{id}/mfa`, `authd user reset-mfa`). Sessions
//! are kept either way: removing a factor weakens no session that exists.

use secrecy::{ExposeSecret, SecretString};
use user_store::{Origin, Store, TotpFactor};
use uuid::Uuid;

use super::{CHECK_DISABLE, check_password, count_throttled, record_failure, spend_code};
use crate::accounts::{AccountError, Accounts};

/// A request by the signed-in user to turn their factor off.
pub struct TotpDisable {
    pub user_id: Uuid,
    pub password: SecretString,
    pub code: SecretString,
    /// The client (address for the throttle, and the security events).
    pub origin: Origin,
}

/// Removes the user's factor and recovery codes: [`AccountError::NoActiveFactor`] when
/// there is none, [`AccountError::WrongPassword`] (counted by the login throttle), then
/// [`AccountError::InvalidCode`] unless the code is a current TOTP code or an unused
/// recovery code (which is spent).
pub async fn disable_totp(accounts: &Accounts, request: TotpDisable) -> Result<(), AccountError> {
    let outcome = disable(accounts, request).await;
    count_throttled(accounts, &outcome);
    outcome
}

async fn disable(accounts: &Accounts, request: TotpDisable) -> Result<(), AccountError> {
    let TotpDisable {
        user_id,
        password,
        code,
        origin,
    } = request;
    let store = &accounts.users.store;
    let factor = store
        .totp_factor(user_id)
        .await?
        .filter(TotpFactor::is_active)
        .ok_or(AccountError::NoActiveFactor)?;
    check_password(accounts, user_id, password, &origin, CHECK_DISABLE).await?;
    if !spend_code(store, user_id, &factor, code.expose_secret()).await? {
        tracing::debug!("second factor not disabled: wrong code");
        record_failure(store, user_id, &origin, CHECK_DISABLE).await;
        return Err(AccountError::InvalidCode);
    }
    store.remove_factors(user_id, &origin).await?;
    tracing::info!(user_id = %user_id, "second factor disabled by its user");
    Ok(())
}

/// An operator removes every factor of the user `id` (pending ones too), with their
/// recovery codes and open login challenges; [`AccountError::UserNotFound`] when there is
/// no such user. Returns how many factors there were. `origin` names the admin or the
/// operator in the `mfa_disabled` event.
pub async fn reset_mfa(store: &Store, id: Uuid, origin: &Origin) -> Result<u64, AccountError> {
    if store.find_user(id).await?.is_none() {
        return Err(AccountError::UserNotFound);
    }
    let removed = store.remove_factors(id, origin).await?;
    tracing::info!(user_id = %id, factors = removed, "second factor reset by an operator");
    Ok(removed)
}
