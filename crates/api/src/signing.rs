//! The signing key: from configuration, or generated into `DATA_DIR` on first start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use auth_core::{Algorithm, KeySet, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

use user_store::{Store, Timestamp};

use crate::config::Settings;
use crate::keyring::load_stored_key_set;

/// Builds the key set in force. HS256: the secret from `JWT_SECRET`, or generated into
/// `DATA_DIR` on first start. RS256/ES256/EdDSA: the keys in the database, shared by every
/// replica; `JWT_PRIVATE_KEY_FILE` (or, when the database has no key yet, a key generated
/// into `DATA_DIR`) is added to them when it is not there yet, and then signs.
pub async fn load_key_set(settings: &Settings, store: &Store) -> anyhow::Result<KeySet> {
    let alg = settings.signing.algorithm;
    if alg == Algorithm::HS256 {
        let secret = hs256_secret(settings)?;
        let key = SigningKey::hs256(&secret).context("invalid JWT_SECRET")?;
        tracing::info!(alg = %alg, kid = key.kid(), "signing key loaded");
        return Ok(KeySet::new(key));
    }

    let stored = store.signing_keys(alg.as_str()).await?;
    let configured = match &settings.signing.private_key_file {
        Some(path) => Some(
            fs::read_to_string(path)
                .map(SecretString::from)
                .with_context(|| {
                    format!(
                        "invalid JWT_PRIVATE_KEY_FILE: cannot read {}",
                        path.display()
                    )
                })?,
        ),
        None if stored.iter().all(|k| k.retired_at.is_some()) => {
            let path = settings.database.data_dir.join(generated_key_file(alg));
            Some(load_or_create(
                &path,
                &format!("{alg} private key"),
                || {
                    SigningKey::generate(alg)
                        .map(|(pem, _)| pem)
                        .map_err(anyhow::Error::new)
                },
            )?)
        }
        None => None,
    };
    if let Some(pem) = configured {
        let key = SigningKey::from_pem(alg, pem.expose_secret().as_bytes())
            .with_context(|| format!("invalid JWT_PRIVATE_KEY_FILE for JWT_ALGORITHM={alg}"))?;
        if !stored.iter().any(|k| k.kid == key.kid()) {
            store
                .add_signing_key(
                    key.kid(),
                    alg.as_str(),
                    pem.expose_secret(),
                    Timestamp::now(),
                )
                .await?;
            tracing::info!(alg = %alg, kid = key.kid(), "configured signing key added to the shared key set");
        }
    }
    let keys = load_stored_key_set(store, alg, settings.token_retention()).await?;
    tracing::info!(alg = %alg, kid = keys.signing_key().kid(), verification_keys = keys.kids().len(), "signing keys loaded");
    Ok(keys)
}

/// Where a generated private key lives in `DATA_DIR`, one file per algorithm.
/// The HS256 secret: `JWT_SECRET`, or the one generated into `DATA_DIR` on first start.
pub fn hs256_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    match &settings.signing.secret {
        Some(secret) => Ok(secret.clone()),
        None => load_or_create(
            &settings.database.data_dir.join("jwt_secret"),
            "signing secret",
            random_secret,
        ),
    }
}

pub fn generated_key_file(alg: Algorithm) -> String {
    format!("jwt_{}.pem", alg.as_str().to_lowercase())
}

fn random_secret() -> anyhow::Result<SecretString> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the signing secret: {e}"))?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
}

/// Reads `path`, or creates it with `make()` (mode 0600, never overwriting: a process that
/// loses the race reads the winner's file) and says so in the log.
fn load_or_create(
    path: &Path,
    what: &str,
    make: impl Fn() -> anyhow::Result<SecretString>,
) -> anyhow::Result<SecretString> {
    match fs::read_to_string(path) {
        Ok(value) => return Ok(SecretString::from(value.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the {what} {}", path.display()));
        }
    }
    let value = make()?;
    match write_private_file(path, value.expose_secret()) {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "no key configured: generated a {what}. Every replica must share it; \
                 configure it (JWT_SECRET or JWT_PRIVATE_KEY_FILE) or copy this file."
            );
            Ok(value)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path, what, make),
        Err(e) => Err(e).with_context(|| format!("cannot write the {what} {}", path.display())),
    }
}

/// Writes a new file readable by its owner only; fails if it exists.
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Creates `DATA_DIR` (mode 0700) when missing.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("invalid DATA_DIR: cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_first_start_generates_a_private_secret_and_later_starts_reuse_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");
        let first = load_or_create(&path, "signing secret", random_secret).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again =
            load_or_create(&path, "signing secret", || panic!("must not regenerate")).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert!(first.expose_secret().len() >= 32);
    }
}
