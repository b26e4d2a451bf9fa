//! Who may sign up: `SIGNUP_ENABLED`, then `REGISTER_RATE_PER_ADDRESS` and
//! `REGISTER_RATE_TOTAL`, then the rules
//! every new user meets ([`crate::accounts::Users::create`]).

use std::net::IpAddr;

use secrecy::SecretString;
use user_store::User;

use crate::accounts::{AccountError, Accounts, NewUser, email};

/// A sign-up, from whichever transport.
pub struct Registration {
    pub username: String,
    pub password: SecretString,
    /// An optional address, stored pending and sent a verification message.
    pub email: Option<String>,
    /// The client's address as `TRUSTED_PROXIES` resolves it, for the per-address limit.
    pub client: Option<IpAddr>,
}

/// Creates a user with no roles, when sign-up is open and the address within its rate.
pub async fn register(
    accounts: &Accounts,
    registration: Registration,
) -> Result<User, AccountError> {
    if !accounts.policy.signup_enabled {
        return Err(AccountError::SignupDisabled);
    }
    admit(accounts, registration.client)?;
    let email = registration
        .email
        .as_deref()
        .map(email::parse_email)
        .transpose()?;
    let user = accounts
        .users
        .create(NewUser {
            username: registration.username,
            password: registration.password,
            roles: Vec::new(),
            email,
        })
        .await?;
    email::send_first_verification(accounts, &user).await?;
    Ok(user)
}

/// `REGISTER_RATE_PER_ADDRESS` (per address, and per /56 and /48 for IPv6) and
/// `REGISTER_RATE_TOTAL`: every attempt counts, whatever its outcome, since each costs a
/// strength estimate and usually an argon2 hash. The CLI is not limited, nor is a request
/// with no peer address (none arrives over TCP without one).
fn admit(accounts: &Accounts, client: Option<IpAddr>) -> Result<(), AccountError> {
    let (Some(limit), Some(address)) = (&accounts.policy.register_limit, client) else {
        return Ok(());
    };
    limit
        .check(address)
        .map_err(|wait| AccountError::TooManyRegistrations {
            retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        })
}
