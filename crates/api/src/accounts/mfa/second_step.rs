//! The login's second step: after the right password, a user with an active factor gets an
//! `mfa_token` instead of a session ([`challenge`]); `POST /auth/login/mfa` trades it and a
//! code for the session ([`complete_login`]). The token is 256 random bits, stored only as
//! its SHA-256, single use, five minutes; five wrong codes spend it, and every wrong code
//! counts against the username's login throttle like a wrong password.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use user_store::{MfaChallenge, Origin, TotpFactor, Username};
use uuid::Uuid;

use super::{AMR_OTP, AMR_PASSWORD, CHECK_LOGIN, record_failure, spend_code};
use crate::accounts::attempts::Attempt;
use crate::accounts::events::{self, FailureReason};
use crate::accounts::login::{Opened, failed, open_session};
use crate::accounts::tokens::Tokens;
use crate::accounts::{AccountError, Accounts, GrantProblem};
use crate::metrics::LoginOutcome;

/// How long an `mfa_token` lives.
pub const MFA_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// The answer to a right password when a second factor is due.
pub struct MfaRequired {
    pub mfa_token: SecretString,
    /// Seconds the token lives.
    pub expires_in: u64,
}

/// Stores a challenge for `user_id`, whose password was verified against `verified_hash`.
pub(crate) async fn challenge(
    accounts: &Accounts,
    user_id: Uuid,
    verified_hash: &str,
) -> Result<MfaRequired, AccountError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AccountError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    accounts
        .users
        .store
        .create_mfa_challenge(&token_hash(&token), user_id, verified_hash, MFA_TOKEN_TTL)
        .await?;
    tracing::info!(user_id = %user_id, "password accepted; second factor required");
    Ok(MfaRequired {
        mfa_token: token.into(),
        expires_in: MFA_TOKEN_TTL.as_secs(),
    })
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The second step, from whichever transport.
pub struct MfaStep {
    pub mfa_token: SecretString,
    pub code: SecretString,
    /// The client (address for the throttle, and the security events).
    pub origin: Origin,
}

/// Completes a login with a TOTP code or a recovery code: a session whose tokens carry
/// `amr: ["pwd", "otp"]`. [`GrantProblem::MfaToken`] for an unknown, spent or expired
/// token; [`AccountError::WrongSecondFactor`] for a wrong or reused code;
/// [`AccountError::TooManyAttempts`] while the username is throttled; and, as a login,
/// [`AccountError::AccountDisabled`]. Counted once in `logins_total` by its outcome.
pub async fn complete_login(accounts: &Accounts, step: MfaStep) -> Result<Tokens, AccountError> {
    let outcome = decide(accounts, step).await;
    let counted = match &outcome {
        Ok(_) => Some(LoginOutcome::Succeeded),
        Err(AccountError::WrongSecondFactor) => Some(LoginOutcome::Failed),
        Err(AccountError::TooManyAttempts { .. }) => Some(LoginOutcome::Throttled),
        Err(AccountError::AccountDisabled) => Some(LoginOutcome::Disabled),
        Err(_) => None,
    };
    if let Some(counted) = counted {
        accounts.metrics.login(counted);
    }
    outcome
}

async fn decide(accounts: &Accounts, step: MfaStep) -> Result<Tokens, AccountError> {
    let store = &accounts.users.store;
    let hash = token_hash(step.mfa_token.expose_secret());
    let challenge = store
        .find_mfa_challenge(&hash)
        .await?
        .ok_or(GrantProblem::MfaToken)?;
    let name = Username::of_stored_user(&challenge.username);
    let origin = &step.origin;
    let attempt = Attempt::admit(accounts, Some(&name), origin.ip).await;
    if let Err(AccountError::TooManyAttempts { .. }) = &attempt {
        events::login_throttled(store, Some(&name), origin, Some(CHECK_LOGIN)).await;
    }
    let attempt = attempt?;
    let (attempt, checked) = attempt
        .check(accounts, check(accounts, &challenge, &step.code))
        .await?;
    match checked {
        Checked::NoFactor => {
            // Reset by an operator meanwhile: this token buys nothing; log in again.
            attempt.refund(accounts).await;
            return Err(GrantProblem::MfaToken.into());
        }
        Checked::Wrong => {
            // Stays counted by the throttle; the fifth wrong code spends the token.
            store.mfa_challenge_failed(&hash).await?;
            record_failure(store, challenge.user_id, origin, CHECK_LOGIN).await;
            tracing::debug!(user_id = %challenge.user_id, "second factor refused");
            return Err(AccountError::WrongSecondFactor);
        }
        Checked::Right => {}
    }
    if !store.spend_mfa_challenge(&hash).await? {
        // Completed (or spent by wrong codes) by a concurrent request.
        return Err(GrantProblem::MfaToken.into());
    }
    let amr = [AMR_PASSWORD.to_owned(), AMR_OTP.to_owned()];
    let (user_id, verified_hash) = (challenge.user_id, &challenge.password_hash);
    match open_session(accounts, user_id, verified_hash, &amr, origin).await? {
        Opened::Tokens(tokens) => {
            attempt.succeeded(accounts).await;
            Ok(*tokens)
        }
        Opened::Refused(reason) => {
            if let FailureReason::AccountDisabled = reason {
                attempt.succeeded(accounts).await;
            }
            // A disabled user: 403, as a login; a password changed since it was checked:
            // the token is void.
            match failed(accounts, Some(user_id), origin, reason).await {
                AccountError::InvalidCredentials => Err(GrantProblem::MfaToken.into()),
                refusal => Err(refusal),
            }
        }
    }
}

enum Checked {
    Right,
    Wrong,
    NoFactor,
}

async fn check(
    accounts: &Accounts,
    challenge: &MfaChallenge,
    code: &SecretString,
) -> Result<Checked, AccountError> {
    let store = &accounts.users.store;
    let Some(factor) = store
        .totp_factor(challenge.user_id)
        .await?
        .filter(TotpFactor::is_active)
    else {
        return Ok(Checked::NoFactor);
    };
    let right = spend_code(store, challenge.user_id, &factor, code.expose_secret()).await?;
    Ok(if right {
        Checked::Right
    } else {
        Checked::Wrong
    })
}
