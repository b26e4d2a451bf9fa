//! One JWKS download: the document, bounded in size, and how long it may be trusted.

use std::time::Duration;

use reqwest::Url;

use super::freshness;
use super::{JwksError, RemoteVerifier};

/// Where the JWKS is and how to get it.
#[derive(Clone)]
pub(super) struct JwksSource {
    pub(super) url: Url,
    pub(super) client: reqwest::Client,
}

/// A downloaded JWKS document.
pub(super) struct Downloaded {
    pub(super) body: Vec<u8>,
    /// Its freshness lifetime, from its caching headers ([`freshness::max_age`]).
    pub(super) max_age: Duration,
}

impl JwksSource {
    /// The JWKS document, bounded to [`RemoteVerifier::MAX_JWKS_BYTES`].
    pub(super) async fn download(&self) -> Result<Downloaded, JwksError> {
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
        let max_age = freshness::max_age(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(JwksError::Request)? {
            if body.len() + chunk.len() > MAX {
                return Err(JwksError::TooLarge { max: MAX });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Downloaded { body, max_age })
    }
}
