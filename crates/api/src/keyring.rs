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

use crate::accounts::keys::{KeyState, key_states};
use crate::config::Settings;

/// What signs and what verifies, as of the last reload.
pub struct CurrentKeys {
    pub issuer: TokenIssuer,
    pub verifier: Verifier,
}

/// The current [`CurrentKeys`], swapped whole on reload: a request holds one consistent
/// snapshot (an `Arc`) for as long as it needs it.
pub struct KeyRing {
    current: RwLock<Arc<CurrentKeys>>,
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
    fn current_keys(&self, keys: KeySet) -> CurrentKeys {
        CurrentKeys {
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
            current: RwLock::new(Arc::new(config.current_keys(keys))),
            config,
        }
    }

    pub fn current(&self) -> Arc<CurrentKeys> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs a new key set.
    pub fn replace(&self, keys: KeySet) {
        let current = Arc::new(self.config.current_keys(keys));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = current;
    }
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
