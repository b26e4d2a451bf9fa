//! The keys a [`RemoteVerifier`](super::RemoteVerifier) holds, how old they are, and the
//! fetches that renew them: on demand, in the background, or when they have expired.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::fetch::JwksSource;
use super::freshness::Freshness;
use super::public_keys::PublicKeys;
use super::{JwksError, RemoteVerifyError};
use crate::VerifierConfig;

/// Least time between two background refetches, and between two fetches of an expired key
/// set after a failure: a down JWKS server is asked at most once a second per verifier.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// The cached keys and the bookkeeping of their fetches, shared with background refetches.
pub(super) struct KeyCache {
    pub(super) config: VerifierConfig,
    current: RwLock<Arc<CachedKeys>>,
    /// Held during every fetch, so that concurrent verifications that need one wait for
    /// it and use its result instead of fetching too.
    pub(super) fetches: tokio::sync::Mutex<FetchLog>,
    background: std::sync::Mutex<BackgroundRefetch>,
}

/// One fetched key set.
pub(super) struct CachedKeys {
    pub(super) keys: PublicKeys,
    /// When the request that fetched them was sent (their age counts from there); `None`
    /// before the first fetch and for a pinned key, which do not age.
    fetched_at: Option<Instant>,
    /// How long they are fresh: the response's max-age, see [`super::freshness::max_age`].
    max_age: Duration,
}

#[derive(Default)]
pub(super) struct FetchLog {
    /// When the last fetch failed; `None` once one succeeds.
    failed_at: Option<Instant>,
}

#[derive(Default)]
struct BackgroundRefetch {
    running: bool,
    started_at: Option<Instant>,
}

impl KeyCache {
    pub(super) fn new(config: VerifierConfig, keys: PublicKeys) -> Self {
        Self {
            config,
            current: RwLock::new(Arc::new(CachedKeys {
                keys,
                fetched_at: None,
                max_age: Duration::ZERO,
            })),
            fetches: tokio::sync::Mutex::new(FetchLog::default()),
            background: std::sync::Mutex::new(BackgroundRefetch::default()),
        }
    }

    pub(super) fn current(&self) -> Arc<CachedKeys> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fetches and, on success, replaces the cached keys. `log` is the held fetch lock.
    pub(super) async fn fetch(
        &self,
        source: &JwksSource,
        log: &mut FetchLog,
    ) -> Result<Arc<CachedKeys>, JwksError> {
        let sent = Instant::now();
        let fetched = match source.download().await {
            Ok(document) => PublicKeys::from_jwks(&document.body, &self.config)
                .map(|keys| (keys, document.max_age)),
            Err(e) => Err(e),
        };
        let (keys, max_age) = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                log.failed_at = Some(Instant::now());
                return Err(e);
            }
        };
        log.failed_at = None;
        let cached = Arc::new(CachedKeys {
            keys,
            fetched_at: Some(sent),
            max_age,
        });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&cached);
        Ok(cached)
    }

    /// Fresh keys in place of expired ones, or the refusal: no token is verified with keys
    /// past max-age + max-stale.
    pub(super) async fn renew_expired(
        &self,
        source: &JwksSource,
        max_stale: Duration,
    ) -> Result<Arc<CachedKeys>, RemoteVerifyError> {
        let mut log = self.fetches.lock().await;
        let current = self.current();
        if current.freshness(max_stale) != Freshness::Expired {
            return Ok(current); // fetched while this one waited
        }
        if log
            .failed_at
            .is_some_and(|at| at.elapsed() < RETRY_INTERVAL)
        {
            return Err(RemoteVerifyError::KeysExpired { cause: None });
        }
        self.fetch(source, &mut log)
            .await
            .map_err(|e| RemoteVerifyError::KeysExpired { cause: Some(e) })
    }

    /// Starts a refetch of stale keys that no verification waits for, on the current Tokio
    /// runtime (if any), unless one runs or started less than [`RETRY_INTERVAL`] ago.
    pub(super) fn refetch_in_background(
        self: &Arc<Self>,
        source: &JwksSource,
        max_stale: Duration,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(run) = BackgroundRun::start(self) else {
            return;
        };
        let source = source.clone();
        runtime.spawn(async move {
            let keys = &run.0;
            let mut log = keys.fetches.lock().await;
            if keys.current().freshness(max_stale) == Freshness::Fresh {
                return; // another fetch renewed them while this one waited
            }
            if let Err(e) = keys.fetch(&source, &mut log).await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    jwks_url = source.url.as_str(),
                    "cannot refetch the JWKS; the cached keys stay in use until they expire"
                );
            }
        });
    }
}

impl CachedKeys {
    /// Whether these keys came from a fetch (not the empty set held before the first).
    pub(super) fn fetched(&self) -> bool {
        self.fetched_at.is_some()
    }

    pub(super) fn freshness(&self, max_stale: Duration) -> Freshness {
        match self.fetched_at {
            Some(at) => Freshness::of(at.elapsed(), self.max_age, max_stale),
            // Nothing fetched yet: the first token fetches, as for an unknown `kid`.
            None => Freshness::Fresh,
        }
    }
}

/// A background refetch in progress; dropping it (when the task ends, panics or is
/// cancelled with its runtime) lets the next one start.
struct BackgroundRun(Arc<KeyCache>);

impl BackgroundRun {
    fn start(keys: &Arc<KeyCache>) -> Option<Self> {
        let mut state = keys
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if state.running
            || state
                .started_at
                .is_some_and(|at| at.elapsed() < RETRY_INTERVAL)
        {
            return None;
        }
        state.running = true;
        state.started_at = Some(Instant::now());
        Some(Self(Arc::clone(keys)))
    }
}

impl Drop for BackgroundRun {
    fn drop(&mut self) {
        let mut state = self
            .0
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.running = false;
    }
}
