//! Every place that checks a password (login, the current password on a change) counts
//! against the same budget: the username's login throttle and, when it is on, the
//! client address's. An attempt is counted before the password is checked and refunded
//! when it was right, so guesses in flight are counted too.

use std::net::IpAddr;

use user_store::{Admission, ThrottleKey, ThrottlePolicy, Timestamp, Username};

use crate::accounts::{AccountError, Accounts};

/// A password attempt admitted against its throttle keys; settle it with
/// [`Attempt::succeeded`] when the password was right (a wrong one stays counted).
pub struct Attempt<'a> {
    keys: Vec<ThrottleKey<'a>>,
}

impl<'a> Attempt<'a> {
    /// Counts an attempt on `name` (when it could exist) from `client` (when the
    /// per-address limit is on and the address is known), or refuses it with
    /// [`AccountError::TooManyAttempts`] before any hashing while a key is blocked. The address is
    /// asked first, so a blocked address costs the username nothing.
    pub async fn admit(
        accounts: &'a Accounts,
        name: Option<&'a Username>,
        client: Option<IpAddr>,
    ) -> Result<Attempt<'a>, AccountError> {
        let policy = &accounts.policy;
        let by_address = policy
            .address_throttle
            .as_ref()
            .zip(client)
            .map(|(policy, address)| (ThrottleKey::Address(address), policy));
        let by_name = name.map(|name| (ThrottleKey::Username(name), &policy.login_throttle));
        let mut keys = Vec::with_capacity(2);
        for (key, policy) in by_address.into_iter().chain(by_name) {
            if let Admission::Blocked { until } = admit_one(accounts, key, policy).await? {
                // No password is checked: the keys already counted get their attempt back.
                Attempt { keys }.refund(accounts).await;
                tracing::debug!(throttled = key_kind(&key), "password attempt throttled");
                return Err(too_many_attempts(until));
            }
            keys.push(key);
        }
        Ok(Attempt { keys })
    }

    /// The password was right: the username's record is cleared, the address's attempt
    /// given back. Best effort: the session may already be open, and a failure here only
    /// leaves an attempt counted.
    pub async fn succeeded(self, accounts: &Accounts) {
        for key in self.keys {
            if let Err(e) = accounts.users.store.login_attempt_succeeded(key).await {
                tracing::warn!(error = %e, "cannot clear a login throttle record");
            }
        }
    }

    /// The password could not be checked (the store or the hashing queue failed): the
    /// attempt is given back, so an outage or a flood does not lock users out. Best effort.
    pub async fn refund(self, accounts: &Accounts) {
        for key in self.keys {
            if let Err(e) = accounts.users.store.refund_login_attempt(key).await {
                tracing::debug!(error = %e, "cannot refund a login attempt");
            }
        }
    }

    /// Runs the password check `check`; when it fails to run at all, refunds the attempt.
    pub async fn check<T, E>(
        self,
        accounts: &Accounts,
        check: impl Future<Output = Result<T, E>>,
    ) -> Result<(Attempt<'a>, T), E> {
        match check.await {
            Ok(done) => Ok((self, done)),
            Err(e) => {
                self.refund(accounts).await;
                Err(e)
            }
        }
    }
}

async fn admit_one(
    accounts: &Accounts,
    key: ThrottleKey<'_>,
    policy: &ThrottlePolicy,
) -> Result<Admission, AccountError> {
    Ok(accounts
        .users
        .store
        .admit_login_attempt(key, policy)
        .await?)
}

fn key_kind(key: &ThrottleKey<'_>) -> &'static str {
    match key {
        ThrottleKey::Username(_) => "username",
        ThrottleKey::Address(_) => "address",
        ThrottleKey::RecoveryAddress(_)
        | ThrottleKey::RecoveryTarget(_)
        | ThrottleKey::EmailChange(_) => "recovery",
    }
}

/// The wait in whole seconds, rounded up (as `Retry-After` says it, RFC 9110 §10.2.3).
fn too_many_attempts(until: Timestamp) -> AccountError {
    let left = until.since(Timestamp::now());
    let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    AccountError::TooManyAttempts {
        retry_after: retry_after.max(1),
    }
}
