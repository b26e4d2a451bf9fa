use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;
use zxcvbn::{Score, zxcvbn};

use crate::StoreError;

/// Why a new password was refused; the text is shown to the client (`weak_password`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("a password must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("this password is too easy to guess: {0}")]
    Weak(String),
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a new password: 8 to 128 characters, and rated at least "safely unguessable"
/// (zxcvbn score 3, about 10^10 guesses) taking the username into account.
pub fn check_password_strength(password: &str, username: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    let estimate = zxcvbn(password, &[username]);
    if estimate.score() >= Score::Three {
        return Ok(());
    }
    let reason = estimate
        .feedback()
        .and_then(|f| f.warning().map(|w| w.to_string()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "add more words or characters that are less common".to_owned());
    Err(PasswordError::Weak(
        reason.trim_end_matches('.').to_lowercase(),
    ))
}

/// Argon2id hashing off the async workers, with a bound on how many run at once
/// (each holds `m_cost` KiB, 19 MiB by default).
///
/// Unknown users are "verified" against a dummy hash with the same parameters, so a login
/// for a name that does not exist costs the same time as a wrong password.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// OWASP's minimum for Argon2id: m = 19456 KiB, t = 2, p = 1.
    pub fn owasp_params() -> Params {
        Params::new(19_456, 2, 1, None).expect("valid argon2 parameters")
    }

    pub fn new(params: Params, max_concurrent: usize) -> Self {
        // Any salt and output will do: only the cost of computing the hash matters.
        let dummy_hash = format!(
            "$argon2id$v=19$m={},t={},p={}$ZHVtbXlzYWx0ZHVtbXlzYWx0$ZHVtbXloYXNoZHVtbXloYXNoZHVtbXloYXNoZHVtbXk",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: dummy_hash.into(),
        }
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, StoreError> {
        let argon = self.argon.clone();
        self.run_blocking(move || {
            argon
                .hash_password(password.expose_secret().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
        })
        .await
    }

    /// Verifies `password` against `stored` (a PHC string), or against the dummy hash
    /// when there is no user, so both cost the same. `false` for no user.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, StoreError> {
        let argon = self.argon.clone();
        let exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matched = self
            .run_blocking(move || {
                let parsed = PasswordHash::new(&hash)
                    .map_err(|e| anyhow::anyhow!("stored hash is not a PHC string: {e}"))?;
                Ok(argon
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(exists && matched)
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("password hasher closed")?;
        let result = tokio::task::spawn_blocking(work)
            .await
            .context("password hashing task failed")??;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        // Cheap parameters: these tests are about behaviour, not cost.
        PasswordHasher::new(Params::new(1024, 1, 1, None).unwrap(), 2)
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hasher();
        let hash = h
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(
            h.verify(
                SecretString::from("correct horse battery"),
                Some(hash.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !h.verify(SecretString::from("wrong horse battery"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(
            !hasher()
                .verify(SecretString::from("anything"), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_default_parameters_are_owasps() {
        let p = PasswordHasher::owasp_params();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
    }

    #[test]
    fn weak_and_common_passwords_are_refused_with_a_reason() {
        assert_eq!(
            check_password_strength("short", "bob"),
            Err(PasswordError::TooShort { min: 8 })
        );
        assert!(matches!(
            check_password_strength("password123", "bob"),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(
            check_password_strength("aaaaaaaaaaaa", "bob"),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(
            check_password_strength("qwertyuiop", "bob"),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(
            check_password_strength("alice1234", "alice"),
            Err(PasswordError::Weak(_))
        ));
        assert_eq!(
            check_password_strength(&"x".repeat(129), "bob"),
            Err(PasswordError::TooLong { max: 128 })
        );
        assert!(check_password_strength("correct horse battery staple", "bob").is_ok());
        assert!(check_password_strength("Ünïcødé-pässwørd-42", "bob").is_ok());
    }
}
