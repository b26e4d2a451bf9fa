//! Where a signing key is listed, rotated and retired (asymmetric algorithms: the keys
//! live in the database, shared by every replica), and how a stored key stands at an
//! instant, which also decides what each replica's key ring holds
//! ([`crate::keyring::key_set_at`]).

use std::time::Duration;

use auth_core::{Algorithm, SigningKey};
use secrecy::ExposeSecret;
use user_store::{Store, StoredKey, Timestamp};

use crate::accounts::AccountError;

/// How a stored key stands at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Announced: verifies and is published, signs from `activates_at`.
    Next,
    /// Signs now.
    Active,
    /// Superseded; verifies until the tokens it signed have expired.
    Verifying {
        until: Timestamp,
    },
    /// Superseded long enough ago that no token it signed is still valid.
    Expired,
    Retired,
}

impl KeyState {
    pub fn verifies(self) -> bool {
        matches!(
            self,
            KeyState::Next | KeyState::Active | KeyState::Verifying { .. }
        )
    }
}

/// The state of each stored key (ordered by activation) at `now`. `retention` is how long a
/// superseded key keeps verifying: the access-token lifetime plus the leeway.
pub fn key_states(keys: &[StoredKey], now: Timestamp, retention: Duration) -> Vec<KeyState> {
    let live: Vec<usize> = (0..keys.len())
        .filter(|&i| keys[i].retired_at.is_none())
        .collect();
    let active = live.iter().rposition(|&i| keys[i].activates_at <= now);
    let mut states = vec![KeyState::Retired; keys.len()];
    for (position, &index) in live.iter().enumerate() {
        states[index] = match active {
            Some(a) if position == a => KeyState::Active,
            Some(a) if position < a => {
                // Superseded when the next live key activated.
                let until = keys[live[position + 1]].activates_at.plus(retention);
                if until > now {
                    KeyState::Verifying { until }
                } else {
                    KeyState::Expired
                }
            }
            _ => KeyState::Next,
        };
    }
    states
}

/// The stored keys of one asymmetric algorithm (HS256's key is `JWT_SECRET`, not stored).
pub struct StoredKeys {
    pub store: Store,
    pub alg: Algorithm,
    /// How long a superseded key keeps verifying ([`crate::Settings::token_retention`]).
    pub retention: Duration,
}

/// A key added by [`StoredKeys::rotate`].
pub struct Rotated {
    pub kid: String,
    pub activates_at: Timestamp,
}

/// What [`StoredKeys::retire`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    Now,
    Already,
}

impl StoredKeys {
    /// Every stored key of the algorithm, in activation order, with how it stands now.
    pub async fn list(&self) -> Result<Vec<(StoredKey, KeyState)>, AccountError> {
        let keys = self.store.signing_keys(self.alg.as_str()).await?;
        let states = key_states(&keys, Timestamp::now(), self.retention);
        Ok(keys.into_iter().zip(states).collect())
    }

    /// Adds a new key that takes over signing `after` from now. Until then it is only
    /// announced: every replica reloads keys every `KEY_RELOAD_INTERVAL` and the JWKS
    /// publishes it, so verifiers know it before it signs. The old key keeps verifying
    /// until the last token it signed has expired.
    pub async fn rotate(&self, after: Duration) -> Result<Rotated, AccountError> {
        let (pem, key) = SigningKey::generate(self.alg).map_err(|e| {
            AccountError::Internal(anyhow::Error::new(e).context("generating a key"))
        })?;
        let activates_at = Timestamp::now().plus(after);
        self.store
            .add_signing_key(
                key.kid(),
                self.alg.as_str(),
                pem.expose_secret(),
                activates_at,
            )
            .await?;
        tracing::info!(kid = key.kid(), "signing key added");
        Ok(Rotated {
            kid: key.kid().to_owned(),
            activates_at,
        })
    }

    /// Stops a key verifying (a compromised key): tokens it signed are rejected once each
    /// replica reloads. The key that signs now cannot be retired: rotate first.
    pub async fn retire(&self, kid: &str) -> Result<Retired, AccountError> {
        let listed = self.list().await?;
        match listed.iter().find(|(key, _)| key.kid == kid) {
            None => Err(AccountError::UnknownKey {
                alg: self.alg.to_string(),
                kid: kid.to_owned(),
            }),
            Some((_, KeyState::Active)) => Err(AccountError::KeyInUse {
                kid: kid.to_owned(),
            }),
            Some(_) if self.store.retire_signing_key(kid).await? => {
                tracing::info!(kid, "signing key retired");
                Ok(Retired::Now)
            }
            Some(_) => Ok(Retired::Already),
        }
    }
}
