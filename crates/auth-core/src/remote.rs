//! [`RemoteVerifier`]: authd's token checks in another service, with the public keys from
//! authd's JWKS (`/.well-known/jwks.json`) instead of a shared secret.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::jwks::PublicKeys;
use crate::{Algorithm, Claims, KeyError, VerifierConfig, VerifyError};

/// Why the JWKS could not be fetched or used. The keys fetched last stay in use.
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
}

impl RemoteVerifyError {
    /// Why the token was refused, as the client may be told (RFC 6750 §3).
    pub fn verify_error(&self) -> &VerifyError {
        match self {
            Self::Invalid(e) => e,
            Self::KeysUnavailable(_) => &VerifyError::UnknownKey,
        }
    }
}

/// Verifies authd's access tokens in another service: the checks of [`crate::Verifier`]
/// (`typ`, forbidden headers, the key's own algorithm, `iss`, `aud`, `exp`, `nbf`), with the
/// public keys of authd's JWKS.
///
/// The keys are fetched on first use (or by [`refresh`](Self::refresh)) and cached. A token
/// whose `kid` is not in the cache triggers a refetch, so a new signing key is picked up
/// when its first token arrives; at most one fetch per
/// [refetch interval](Self::with_refetch_interval), so tokens with made-up `kid`s cannot
/// make it hammer authd. A failed fetch keeps the keys it had. Only RS256, ES256 and EdDSA
/// keys with a `kid` and an `alg` are taken from the JWKS, never a symmetric (`oct`) one.
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
    config: VerifierConfig,
    keys: RwLock<Arc<PublicKeys>>,
    /// `None` for a pinned key: nothing to fetch.
    jwks: Option<JwksSource>,
}

struct JwksSource {
    url: Url,
    client: reqwest::Client,
    refetch_interval: Duration,
    /// When a token last triggered a fetch. Held during every fetch, so that concurrent
    /// tokens with an unknown `kid` wait for it and use its result instead of fetching too.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl RemoteVerifier {
    /// Least time between two fetches triggered by unknown `kid`s, unless set otherwise.
    pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
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
            config,
            keys: RwLock::new(Arc::new(PublicKeys::empty())),
            jwks: Some(JwksSource {
                url,
                client,
                refetch_interval: Self::DEFAULT_REFETCH_INTERVAL,
                last_fetch: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// A verifier that trusts one public key (PEM: SubjectPublicKeyInfo, or PKCS#1 for RSA),
    /// for a service that pins authd's key instead of fetching the JWKS. Tokens must name
    /// it by its `kid`, the RFC 7638 thumbprint, as authd does.
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
            config,
            keys: RwLock::new(Arc::new(keys)),
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

    /// Fetches with `client` instead of the default one (no redirects,
    /// [`FETCH_TIMEOUT`](Self::FETCH_TIMEOUT)): for your own TLS roots, proxy or timeouts.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        if let Some(jwks) = &mut self.jwks {
            jwks.client = client;
        }
        self
    }

    /// Fetches the JWKS now and returns how many keys are usable. Call it at start to fail
    /// early, or on a timer to drop retired keys sooner than a new `kid` would. It neither
    /// waits for nor counts against the refetch interval, which only limits the fetches
    /// that tokens trigger. On error the keys fetched last stay in use.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let Some(jwks) = &self.jwks else {
            return Ok(self.current().len());
        };
        let _one_fetch_at_a_time = jwks.last_fetch.lock().await;
        self.fetch(jwks).await
    }

    /// Verifies `token` and returns its claims. Fetches the JWKS only when the token names
    /// a key not in the cache and the last fetch is older than the refetch interval.
    ///
    /// Revocation is not checked: a logout reaches these tokens only when they expire, so
    /// keep authd's `ACCESS_TOKEN_TTL` short.
    pub async fn verify(&self, token: &str) -> Result<Claims, RemoteVerifyError> {
        let keys = self.current();
        match keys.verify(token) {
            Err(VerifyError::UnknownKey) => {}
            checked => return Ok(checked?),
        }
        let Some(jwks) = &self.jwks else {
            return Err(VerifyError::UnknownKey.into());
        };
        let mut last_fetch = jwks.last_fetch.lock().await;
        let fetched_while_waiting = !Arc::ptr_eq(&keys, &self.current());
        if !fetched_while_waiting {
            if last_fetch.is_some_and(|at| at.elapsed() < jwks.refetch_interval) {
                return Err(VerifyError::UnknownKey.into());
            }
            *last_fetch = Some(Instant::now());
            self.fetch(jwks)
                .await
                .map_err(RemoteVerifyError::KeysUnavailable)?;
        }
        drop(last_fetch);
        Ok(self.current().verify(token)?)
    }

    /// Fetches and, on success, replaces the cached keys. The caller holds `last_fetch`.
    async fn fetch(&self, jwks: &JwksSource) -> Result<usize, JwksError> {
        let keys = PublicKeys::from_jwks(&jwks.download().await?, &self.config)?;
        let usable = keys.len();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(usable)
    }

    fn current(&self) -> Arc<PublicKeys> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl JwksSource {
    /// The JWKS document, bounded to [`RemoteVerifier::MAX_JWKS_BYTES`].
    async fn download(&self) -> Result<Vec<u8>, JwksError> {
        const MAX: usize = RemoteVerifier::MAX_JWKS_BYTES;
        let mut response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(JwksError::Request)?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX as u64)
        {
            return Err(JwksError::TooLarge { max: MAX });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(JwksError::Request)? {
            if body.len() + chunk.len() > MAX {
                return Err(JwksError::TooLarge { max: MAX });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl fmt::Debug for RemoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteVerifier")
            .field("jwks_url", &self.jwks.as_ref().map(|j| j.url.as_str()))
            .field("keys", &self.current().len())
            .field("config", &self.config)
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
}
