//! `authd keys ...`: generate a key file; list, rotate and retire the shared keys in the
//! database (the rules are in [`crate::accounts::keys`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use auth_core::{Algorithm, SigningKey};
use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::accounts::AccountError;
use crate::accounts::keys::{KeyState, Retired, StoredKeys};
use crate::config::Settings;
use crate::signing::write_private_file;
use crate::startup::open_store;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a private key (PKCS#8 PEM) for JWT_PRIVATE_KEY_FILE. Prints its `kid` (the
    /// RFC 7638 thumbprint) on stderr.
    Generate {
        /// RS256, ES256 or EdDSA.
        #[arg(long, value_parser = parse_asymmetric)]
        alg: Algorithm,
        /// Write the key to this file (mode 0600, never overwritten) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the signing keys of JWT_ALGORITHM in the database and how each stands.
    List,
    /// Add a new signing key that takes over signing after `--in` (default 1m). Until then it
    /// is only announced: every replica reloads keys every KEY_RELOAD_INTERVAL and the JWKS
    /// publishes it, so verifiers know it before it signs. The old key keeps verifying until
    /// the last token it signed has expired.
    Rotate {
        /// How long to announce the key before it signs, e.g. 1m, 30s, 0.
        #[arg(long = "in", value_parser = crate::config::parse_duration, default_value = "1m")]
        after: std::time::Duration,
    },
    /// Stop a key verifying now (a compromised key): tokens it signed are rejected.
    Retire {
        /// The key's id, as `keys list` shows it (base64url: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

fn parse_asymmetric(value: &str) -> Result<Algorithm, String> {
    match value.parse::<Algorithm>()? {
        Algorithm::HS256 => Err("HS256 uses a secret (JWT_SECRET), not a key pair".to_owned()),
        alg => Ok(alg),
    }
}

/// `keys generate` (a file), and `keys list`, `keys rotate`, `keys retire` (the shared key
/// set in the database).
pub async fn run(command: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    if let KeysCommand::Generate { alg, out } = command {
        return generate_key(alg, out.as_deref());
    }
    let alg = settings.signing.algorithm;
    if alg == Algorithm::HS256 {
        bail!(
            "JWT_ALGORITHM is HS256: its key is JWT_SECRET, not the database; rotating it \
             means changing JWT_SECRET everywhere (or move to RS256, ES256 or EdDSA)"
        );
    }
    let keys = StoredKeys {
        store: open_store(settings).await?,
        alg,
        retention: settings.token_retention(),
    };
    let result = match command {
        KeysCommand::Generate { alg, out } => generate_key(alg, out.as_deref()),
        KeysCommand::List => list(&keys).await,
        KeysCommand::Rotate { after } => rotate(&keys, after).await,
        KeysCommand::Retire { kid } => retire(&keys, &kid, settings).await,
    };
    keys.store.close().await;
    result
}

/// A new private key, to a file or stdout; its `kid` on stderr.
pub fn generate_key(alg: Algorithm, out: Option<&Path>) -> anyhow::Result<()> {
    let (pem, key) = SigningKey::generate(alg)?;
    match out {
        Some(path) => write_private_file(path, pem.expose_secret())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", pem.expose_secret()),
    }
    eprintln!("generated {alg} key, kid {}", key.kid());
    Ok(())
}

async fn list(keys: &StoredKeys) -> anyhow::Result<()> {
    let listed = keys.list().await?;
    println!(
        "{:<45} {:<6} {:<32} {:<28} created",
        "kid", "alg", "state", "activates"
    );
    for (key, state) in listed {
        let state = match state {
            KeyState::Next => "next (announced)".to_owned(),
            KeyState::Active => "active (signs)".to_owned(),
            KeyState::Verifying { until } => format!("verifying until {}", until.rfc3339()),
            KeyState::Expired => "expired".to_owned(),
            KeyState::Retired => "retired".to_owned(),
        };
        println!(
            "{:<45} {:<6} {:<32} {:<28} {}",
            key.kid,
            key.alg,
            state,
            key.activates_at.rfc3339(),
            key.created_at.rfc3339()
        );
    }
    Ok(())
}

async fn rotate(keys: &StoredKeys, after: std::time::Duration) -> anyhow::Result<()> {
    let rotated = keys.rotate(after).await?;
    eprintln!(
        "added {} key {}: announced now, signs from {}",
        keys.alg,
        rotated.kid,
        rotated.activates_at.rfc3339()
    );
    Ok(())
}

async fn retire(keys: &StoredKeys, kid: &str, settings: &Settings) -> anyhow::Result<()> {
    match keys.retire(kid).await {
        Ok(Retired::Now) => {
            let reload = settings.signing.reload_interval;
            let published = reload + settings.signing.jwks_max_age;
            eprintln!(
                "retired {kid}: authd rejects tokens it signed within {} \
                 (KEY_RELOAD_INTERVAL), verifiers that honour the JWKS's max-age \
                 within {} (+ JWKS_MAX_AGE; see the README for RemoteVerifier's bound)",
                humantime::format_duration(reload),
                humantime::format_duration(published),
            );
            Ok(())
        }
        Ok(Retired::Already) => {
            eprintln!("{kid} was already retired");
            Ok(())
        }
        Err(AccountError::KeyInUse { kid }) => {
            bail!("{kid} signs tokens now: run `authd keys rotate --in 0` first, then retire it")
        }
        Err(e) => Err(e.into()),
    }
}
