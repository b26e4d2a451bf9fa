//! The key set in force, shared by the handlers and replaced as keys rotate.
//!
//! HS256 keys come from configuration and never change while running. Asymmetric keys
//! live in the database (`signing_keys`), shared by every replica: each replica rebuilds
//! its key set from that table every `KEY_RELOAD_INTERVAL`, so a rotation reaches all of
//! them without a restart, and a key announced for a future `activates_at` is verified (and
//! published in the JWKS) everywhere before anyone signs with it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, bail};
use auth_core::{Algorithm, KeySet, SigningKey, TokenIssuer, Verifier, VerifierConfig};
use tokio::task::JoinHandle;
use user_store::{Store, StoredKey, Timestamp};

use crate::config::Settings;

/// What signs and what verifies, as of the last reload.
pub struct Signing {
    pub issuer: TokenIssuer,
    pub verifier: Verifier,
}

/// The current [`Signing`], swapped whole on reload: a request holds one consistent
/// snapshot (an `Arc`) for as long as it needs it.
pub struct KeyRing {
    current: RwLock<Arc<Signing>>,
    config: TokenConfig,
}

/// What tokens say and allow besides their keys.
struct TokenConfig {
    issuer: String,
    audience: String,
    leeway: Duration,
    verified_token_cache: usize,
    access_token_ttl: Duration,
}

impl TokenConfig {
    fn signing(&self, keys: KeySet) -> Signing {
        Signing {
            issuer: TokenIssuer::new(
                keys.clone(),
                self.issuer.clone(),
                self.audience.clone(),
                self.access_token_ttl,
            ),
            verifier: Verifier::new(
                keys,
                VerifierConfig {
                    issuer: self.issuer.clone(),
                    audience: self.audience.clone(),
                    leeway: self.leeway,
                    // Tokens issued under a longer TTL than today's are refused, so lowering
                    // ACCESS_TOKEN_TTL never outlasts the revocations kept for it.
                    max_lifetime: Some(self.access_token_ttl),
                    cache_capacity: self.verified_token_cache,
                },
            ),
        }
    }
}

impl KeyRing {
    pub fn new(keys: KeySet, settings: &Settings) -> Self {
        let config = TokenConfig {
            issuer: settings.tokens.issuer.clone(),
            audience: settings.tokens.audience.clone(),
            leeway: settings.tokens.leeway,
            verified_token_cache: settings.tokens.verified_token_cache,
            access_token_ttl: settings.tokens.access_ttl,
        };
        Self {
            current: RwLock::new(Arc::new(config.signing(keys))),
            config,
        }
    }

    pub fn current(&self) -> Arc<Signing> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs a new key set.
    pub fn replace(&self, keys: KeySet) {
        let signing = Arc::new(self.config.signing(keys));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = signing;
    }
}

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

/// The key set the stored keys describe at `now`.
pub fn key_set_at(
    keys: &[StoredKey],
    alg: Algorithm,
    now: Timestamp,
    retention: Duration,
) -> anyhow::Result<KeySet> {
    let states = key_states(keys, now, retention);
    let mut signing = None;
    let mut verifying = Vec::new();
    for (stored, state) in keys.iter().zip(states) {
        if !state.verifies() {
            continue;
        }
        let key = SigningKey::from_pem(alg, stored.private_key.as_bytes())
            .with_context(|| format!("stored signing key {} is unusable", stored.kid))?;
        if state == KeyState::Active {
            signing = Some(key);
        } else {
            verifying.push(key);
        }
    }
    let Some(signing) = signing else {
        bail!("no {alg} signing key is active: add one with `authd keys rotate`");
    };
    Ok(KeySet::with_verification_keys(signing, verifying))
}

/// The key set the database describes now: what start-up loads and every reload rebuilds.
pub async fn load_stored_key_set(
    store: &Store,
    alg: Algorithm,
    retention: Duration,
) -> anyhow::Result<KeySet> {
    let stored = store.signing_keys(alg.as_str()).await?;
    key_set_at(&stored, alg, Timestamp::now(), retention)
}

/// Rebuilds the ring from the database every `interval` (asymmetric algorithms only).
pub fn spawn_key_reload(
    store: Store,
    ring: Arc<KeyRing>,
    alg: Algorithm,
    retention: Duration,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match load_stored_key_set(&store, alg, retention).await {
                Ok(keys) => {
                    let current = ring.current();
                    let changed = current.verifier.keys().signing_key().kid()
                        != keys.signing_key().kid()
                        || current.verifier.keys().kids() != keys.kids();
                    if changed {
                        tracing::info!(
                            signing_kid = keys.signing_key().kid(),
                            "signing keys reloaded"
                        );
                        ring.replace(keys);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot reload signing keys; keeping the current ones")
                }
            }
        }
    })
}
