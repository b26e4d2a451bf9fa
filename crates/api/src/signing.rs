//! The signing key: from configuration, or generated into `DATA_DIR` on first start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use auth_core::{Algorithm, KeySet, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;

use crate::config::Settings;

const SECRET_FILE: &str = "jwt_secret";

/// Builds the key set the settings describe.
pub fn load_key_set(settings: &Settings) -> anyhow::Result<KeySet> {
    if settings.jwt_algorithm != Algorithm::HS256 {
        bail!(
            "invalid JWT_ALGORITHM: {} is not supported by this version yet (use HS256)",
            settings.jwt_algorithm
        );
    }
    let secret = match &settings.jwt_secret {
        Some(secret) => secret.clone(),
        None => load_or_generate_secret(&settings.data_dir)?,
    };
    Ok(KeySet::new(
        SigningKey::hs256(&secret).context("invalid JWT_SECRET")?,
    ))
}

/// Reads `DATA_DIR/jwt_secret`, creating it (256 random bits, mode 0600) when missing.
fn load_or_generate_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join(SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(secret) => return Ok(SecretString::from(secret.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the signing secret {}", path.display()));
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the signing secret: {e}"))?;
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(secret.as_bytes()).and_then(|()| f.sync_all()));
    match written {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "JWT_SECRET is not set: generated a signing secret. Every replica must share it; \
                 set JWT_SECRET or copy this file."
            );
            Ok(SecretString::from(secret))
        }
        // Another process created it between our read and write: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_generate_secret(data_dir)
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot write the signing secret {}", path.display()))
        }
    }
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
        let first = load_or_generate_secret(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_generate_secret(dir.path()).unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert!(first.expose_secret().len() >= 32);
    }
}
