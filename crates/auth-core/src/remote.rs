//! [`RemoteVerifier`]: authd's token checks in another service, with the public keys from
//! authd's JWKS (`/.well-known/jwks.json`) instead of a shared secret.

mod fetch;
mod freshness;
mod key_cache;
mod public_keys;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::{Algorithm, Claims, KeyError, VerifierConfig, VerifyError};
use fetch::JwksSource;
use freshness::Freshness;
use key_cache::{CachedKeys, KeyCache};
use public_keys::PublicKeys;

/// Why the JWKS could not be fetched or used. The keys fetched last stay in use (within
/// their [max-stale](RemoteVerifier::with_max_stale) grace).
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS URL {0:?} is not an http or https URL")]
    InvalidUrl(String),
    #[error("the JWKS request failed")]
    Request(#[source] reqwest::Error),
    #[error("the JWKS server answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the JWKS is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the JWKS is not a JSON object with a \"keys\" array")]
    NotAKeySet(#[source] serde_json::Error),
    #[error("the JWKS has no usable key (RS256, ES256 or EdDSA, with a kid and an alg)")]
    NoUsableKey,
}

/// Why [`RemoteVerifier::verify`] refused a token. The `Display` text is safe to show to the
/// client, as [`VerifyError`]'s is; a fetch failure is only in [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum RemoteVerifyError {
    /// The token is not valid.
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    /// The token names a key that is not in the cache, and refetching the JWKS failed: the
    /// token is refused as [`VerifyError::UnknownKey`]. Worth logging: authd may be down.
    #[error("{}", VerifyError::UnknownKey)]
    KeysUnavailable(#[source] JwksError),
    /// The cached keys are older than their max-age plus the
    /// [max-stale](RemoteVerifier::with_max_stale) grace, and refetching them failed: every
    /// token is refused, as [`VerifyError::UnknownKey`], until a fetch succeeds. `cause` is
    /// the failure of the fetch this verification made, `None` when it made none because
    /// one had failed less than a second before. Worth an alert: authd is out of reach.
    #[error("{}", VerifyError::UnknownKey)]
    KeysExpired {
        #[source]
        cause: Option<JwksError>,
    },
}

impl RemoteVerifyError {
    /// Why the token was refused, as the client may be told (RFC 6750 §3).
    pub fn verify_error(&self) -> &VerifyError {
        match self {
            Self::Invalid(e) => e,
            Self::KeysUnavailable(_) | Self::KeysExpired { .. } => &VerifyError::UnknownKey,
        }
    }
}

/// Verifies authd's access tokens in another service: the checks of [`crate::Verifier`]
/// (`typ`, forbidden headers, the key's own algorithm, `iss`, `aud`, `exp`, `nbf`), with the
/// public keys of authd's JWKS.
///
/// The keys are fetched on first use (or by [`refresh`](Self::refresh)) and cached for as
/// long as the JWKS response's `Cache-Control: max-age` says (RFC 9111; authd sends its
/// `JWKS_MAX_AGE`, 30 s by default), less its `Age`, kept within
/// [`SHORTEST_MAX_AGE`](Self::SHORTEST_MAX_AGE)..=[`LONGEST_MAX_AGE`](Self::LONGEST_MAX_AGE);
/// `no-store` and `no-cache` count as the shortest, a response without `max-age` gets
/// [`DEFAULT_MAX_AGE`](Self::DEFAULT_MAX_AGE). Then, by the age of the cached key set:
///
/// - **within max-age**: tokens are verified with it, nothing is fetched;
/// - **past max-age**: tokens are still verified with it, at once, and a refetch runs in
///   the background (stale-while-revalidate, RFC 5861 §3; one at a time, at most one start
///   a second while they fail);
/// - **past max-age + [max-stale](Self::with_max_stale)** (5 minutes by default): it is not
///   used any more. A verification fetches first (concurrent ones share that fetch) and
///   is refused with [`RemoteVerifyError::KeysExpired`] if the fetch fails, as is every
///   token until one succeeds (at most one attempt a second).
///
/// So a key that authd no longer publishes (after `authd keys retire`) stops being accepted
/// here within max-age of authd's dropping it while tokens keep arriving and authd answers,
/// and within max-age + max-stale at worst (a verifier that sat idle answers its first
/// tokens from the old set while it refetches; one that cannot reach authd uses the old set
/// until it expires).
///
/// A token whose `kid` is not in the cache triggers a refetch as well, so a new signing key
/// is picked up when its first token arrives; at most one such fetch per
/// [refetch interval](Self::with_refetch_interval), so tokens with made-up `kid`s cannot
/// make it hammer authd. A token that finds this interval's fetch taken (even one still in
/// progress) is refused at once rather than held; made-up `kid`s can take it, so a new key
/// is reliably accepted only once it has been published for longer than max-age (authd
/// publishes a key before it signs with it). A failed fetch keeps the keys it had. A token that no key could
/// make valid (malformed, wrong `typ`, bad signature by a known key...) never triggers a
/// fetch. Only RS256, ES256 and EdDSA keys with a `kid` and an `alg` are taken from the
/// JWKS, never a symmetric (`oct`) one.
///
/// Background refetches are spawned on the Tokio runtime of the verification that finds
/// the keys stale; without a runtime there is none, and the keys are refetched when they
/// expire. Failures of background refetches are logged (`tracing`, level WARN).
///
/// The JWKS URL is configuration, so trusted: use `https` unless the network between the
/// two services is. (`https` needs a TLS feature of `reqwest` in the build, e.g. `rustls`,
/// or a client of your own through [`with_http_client`](Self::with_http_client).)
///
/// ```no_run
/// use auth_core::{RemoteVerifier, VerifierConfig};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = RemoteVerifier::new(
///     "http://127.0.0.1:8080/.well-known/jwks.json",
///     VerifierConfig::new("authd", "api"),
/// )?;
/// verifier.refresh().await?; // optional: fail at start rather than on the first token
/// let claims = verifier.verify(token).await?;
/// println!("hello {}", claims.username);
/// # Ok(())
/// # }
/// ```
pub struct RemoteVerifier {
    keys: Arc<KeyCache>,
    /// `None` for a pinned key: nothing to fetch.
    jwks: Option<Remote>,
}

/// Where the keys come from and the rules for refetching them.
struct Remote {
    source: JwksSource,
    refetch_interval: Duration,
    max_stale: Duration,
    /// When a token with an unknown `kid` last claimed a fetch. Kept apart from the fetch
    /// lock so that a token refused for want of it is refused at once, not after waiting
    /// out a fetch in progress.
    unknown_kid_fetch: std::sync::Mutex<Option<Instant>>,
}

impl Remote {
    /// Claims the unknown-`kid` fetch of this refetch interval; `false` if it is taken.
    fn claim_unknown_kid_fetch(&self) -> bool {
        let mut last = self
            .unknown_kid_fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

impl RemoteVerifier {
    /// Least time between two fetches triggered by unknown `kid`s, unless set otherwise.
    pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
    /// How long keys are fresh when the JWKS response has no `max-age`.
    pub const DEFAULT_MAX_AGE: Duration = freshness::DEFAULT_MAX_AGE;
    /// The least freshness given to a JWKS response (`no-store`, `no-cache`, `max-age=0`).
    pub const SHORTEST_MAX_AGE: Duration = freshness::SHORTEST_MAX_AGE;
    /// The most freshness given to a JWKS response, whatever its `max-age`.
    pub const LONGEST_MAX_AGE: Duration = freshness::LONGEST_MAX_AGE;
    /// How long past its max-age a key set is still used while refetching fails, unless
    /// set otherwise.
    pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(5 * 60);
    /// Longest wait for the JWKS server, connection included.
    pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
    /// Largest JWKS read; authd's is well under a kilobyte per key.
    pub const MAX_JWKS_BYTES: usize = 256 * 1024;

    /// A verifier with the keys at `jwks_url` (an `http` or `https` URL), fetched on first
    /// use. Nothing is fetched here.
    pub fn new(jwks_url: &str, config: VerifierConfig) -> Result<Self, JwksError> {
        let url = Url::parse(jwks_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| JwksError::InvalidUrl(jwks_url.to_owned()))?;
        let client = reqwest::Client::builder()
            .timeout(Self::FETCH_TIMEOUT)
            // A redirect could take the request somewhere the configuration did not say.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(JwksError::Request)?;
        Ok(Self {
            keys: Arc::new(KeyCache::new(config, PublicKeys::empty())),
            jwks: Some(Remote {
                source: JwksSource { url, client },
                refetch_interval: Self::DEFAULT_REFETCH_INTERVAL,
                max_stale: Self::DEFAULT_MAX_STALE,
                unknown_kid_fetch: std::sync::Mutex::new(None),
            }),
        })
    }

    /// A verifier that trusts one public key (PEM: SubjectPublicKeyInfo, or PKCS#1 for RSA),
    /// for a service that pins authd's key instead of fetching the JWKS. Tokens must name
    /// it by its `kid`, the RFC 7638 thumbprint, as authd does. The key never expires here:
    /// replace the verifier to stop trusting it.
    ///
    /// ```
    /// use auth_core::{Algorithm, RemoteVerifier, VerifierConfig};
    ///
    /// // authd's public key, e.g. from `openssl pkey -in signing.pem -pubout`.
    /// let pem = b"-----BEGIN PUBLIC KEY-----
    /// MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
    /// -----END PUBLIC KEY-----";
    /// let config = VerifierConfig::new("authd", "api");
    /// let verifier = RemoteVerifier::from_public_key_pem(Algorithm::EdDSA, pem, config)?;
    /// # Ok::<(), auth_core::KeyError>(())
    /// ```
    pub fn from_public_key_pem(
        alg: Algorithm,
        pem: &[u8],
        config: VerifierConfig,
    ) -> Result<Self, KeyError> {
        let keys = PublicKeys::from_public_key_pem(alg, pem, &config)?;
        Ok(Self {
            keys: Arc::new(KeyCache::new(config, keys)),
            jwks: None,
        })
    }

    /// Sets the least time between two fetches that unknown `kid`s trigger
    /// ([`DEFAULT_REFETCH_INTERVAL`](Self::DEFAULT_REFETCH_INTERVAL) otherwise).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        if let Some(jwks) = &mut self.jwks {
            jwks.refetch_interval = interval;
        }
        self
    }

    /// Sets how long past its max-age a key set is still used while it cannot be
    /// refetched ([`DEFAULT_MAX_STALE`](Self::DEFAULT_MAX_STALE) otherwise): the longest
    /// this service keeps working while authd is out of reach, and so the longest it may
    /// keep trusting a key authd has retired. Zero: a key set past its max-age is never
    /// used; the verification that finds it so waits for a refetch.
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        if let Some(jwks) = &mut self.jwks {
            jwks.max_stale = max_stale;
        }
        self
    }

    /// Fetches with `client` instead of the default one (no redirects,
    /// [`FETCH_TIMEOUT`](Self::FETCH_TIMEOUT)): for your own TLS roots, proxy or timeouts.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        if let Some(jwks) = &mut self.jwks {
            jwks.source.client = client;
        }
        self
    }

    /// Fetches the JWKS now and returns how many keys are usable. Call it at start to fail
    /// early (the keys are refetched as they age without it). It neither waits for nor
    /// counts against the refetch interval, which only limits the fetches that unknown
    /// `kid`s trigger. On error the keys fetched last stay in use.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let Some(jwks) = &self.jwks else {
            return Ok(self.keys.current().keys.len());
        };
        let mut log = self.keys.fetches.lock().await;
        Ok(self.keys.fetch(&jwks.source, &mut log).await?.keys.len())
    }

    /// Verifies `token` and returns its claims. Waits for the network only when the token
    /// names a key not in the cache (and the last such fetch is older than the refetch
    /// interval), before the first fetch, or when the cached keys have expired; see the
    /// type's documentation.
    ///
    /// Revocation is not checked: a logout reaches these tokens only when they expire, so
    /// keep authd's `ACCESS_TOKEN_TTL` short.
    pub async fn verify(&self, token: &str) -> Result<Claims, RemoteVerifyError> {
        let cached = self.keys.current();
        let checked = cached.keys.verify(token);
        let Some(jwks) = &self.jwks else {
            return Ok(checked?);
        };
        match &checked {
            Ok(_) | Err(VerifyError::UnknownKey) => {}
            // No key set makes this token valid: nothing to fetch for it.
            Err(invalid) => return Err(invalid.clone().into()),
        }
        match cached.freshness(jwks.max_stale) {
            Freshness::Fresh => {}
            Freshness::Stale => self
                .keys
                .refetch_in_background(&jwks.source, jwks.max_stale),
            Freshness::Expired => {
                let renewed = self
                    .keys
                    .renew_expired(&jwks.source, jwks.max_stale)
                    .await?;
                return Ok(renewed.keys.verify(token)?);
            }
        }
        match checked {
            Err(VerifyError::UnknownKey) => self.verify_unknown_kid(jwks, &cached, token).await,
            checked => Ok(checked?),
        }
    }

    /// A token whose `kid` is not in `seen`: refetched, unless another verification did
    /// while this one waited, or the last such fetch is within the refetch interval. The
    /// interval's fetch is claimed before waiting for the fetch lock, so a token that cannot
    /// have it is refused at once instead of queueing behind a slow fetch (made-up `kid`s
    /// would otherwise hold requests for up to twice `FETCH_TIMEOUT`). Before the first key
    /// set arrives every token waits for it, since nothing else can answer them.
    async fn verify_unknown_kid(
        &self,
        jwks: &Remote,
        seen: &Arc<CachedKeys>,
        token: &str,
    ) -> Result<Claims, RemoteVerifyError> {
        let claimed = jwks.claim_unknown_kid_fetch();
        if !claimed && seen.fetched() {
            return Err(VerifyError::UnknownKey.into());
        }
        let mut log = self.keys.fetches.lock().await;
        let current = self.keys.current();
        if !Arc::ptr_eq(&current, seen) {
            return Ok(current.keys.verify(token)?);
        }
        if !claimed {
            return Err(VerifyError::UnknownKey.into());
        }
        let fetched = self
            .keys
            .fetch(&jwks.source, &mut log)
            .await
            .map_err(RemoteVerifyError::KeysUnavailable)?;
        Ok(fetched.keys.verify(token)?)
    }
}

impl fmt::Debug for RemoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteVerifier")
            .field(
                "jwks_url",
                &self.jwks.as_ref().map(|j| j.source.url.as_str()),
            )
            .field("keys", &self.keys.current().keys.len())
            .field("config", &self.keys.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        for url in [
            "ftp://authd/jwks.json",
            "file:///etc/jwks.json",
            "authd/jwks",
            "",
        ] {
            assert!(matches!(
                RemoteVerifier::new(url, VerifierConfig::new("authd", "api")),
                Err(JwksError::InvalidUrl(_))
            ));
        }
        assert!(
            RemoteVerifier::new(
                "https://auth.example/jwks.json",
                VerifierConfig::new("authd", "api")
            )
            .is_ok()
        );
    }

    #[tokio::test]
    async fn an_unreachable_jwks_refuses_the_token_and_says_why_in_the_source() {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let verifier = RemoteVerifier::new(
            &format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
            VerifierConfig::new("authd", "api"),
        )
        .unwrap();
        let token = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCIsImtpZCI6Im5vcGUifQ.e30.c2ln";
        let err = verifier.verify(token).await.unwrap_err();
        assert!(matches!(
            err,
            RemoteVerifyError::KeysUnavailable(JwksError::Request(_))
        ));
        assert_eq!(err.verify_error(), &VerifyError::UnknownKey);
        assert_eq!(err.to_string(), VerifyError::UnknownKey.to_string());
        assert!(std::error::Error::source(&err).is_some());
        // Within the interval: refused again, without trying to fetch.
        assert!(matches!(
            verifier.verify(token).await,
            Err(RemoteVerifyError::Invalid(VerifyError::UnknownKey))
        ));
    }

    #[tokio::test]
    async fn a_malformed_token_never_triggers_a_fetch() {
        let verifier = RemoteVerifier::new(
            "http://127.0.0.1:9/.well-known/jwks.json",
            VerifierConfig::new("authd", "api"),
        )
        .unwrap();
        assert!(matches!(
            verifier.verify("not.a.token").await,
            Err(RemoteVerifyError::Invalid(VerifyError::Malformed))
        ));
    }

    #[tokio::test]
    async fn an_unknown_kid_past_its_budget_is_refused_without_waiting_for_a_fetch() {
        // A JWKS server that answers its first request, then takes connections and never
        // answers again.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":"Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"}]}"#;
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut first, _) = listener.accept().unwrap();
            let _ = first.read(&mut [0; 4096]);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                jwks.len()
            );
            first.write_all(head.as_bytes()).unwrap();
            first.write_all(jwks.as_bytes()).unwrap();
            listener
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let verifier = Arc::new(
            RemoteVerifier::new(&url, VerifierConfig::new("authd", "api"))
                .unwrap()
                .with_http_client(client),
        );
        assert_eq!(verifier.refresh().await.unwrap(), 1);
        let _silent = server.join().unwrap();
        let token = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCIsImtpZCI6Im5vcGUifQ.e30.c2ln";
        // The first unknown `kid` fetches (and waits on the silent server); the second
        // finds the interval's fetch taken.
        let fetching = tokio::spawn({
            let verifier = Arc::clone(&verifier);
            async move { verifier.verify(token).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let refused = tokio::time::timeout(Duration::from_secs(1), verifier.verify(token))
            .await
            .expect("refused at once, not after the fetch in progress");
        assert!(matches!(
            refused,
            Err(RemoteVerifyError::Invalid(VerifyError::UnknownKey))
        ));
        assert!(started.elapsed() < Duration::from_millis(500));
        fetching.abort();
    }
}
