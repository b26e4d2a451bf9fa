//! The command line: `authd` serves; `authd migrate`, `authd user ...`, `authd sessions
//! revoke`, `authd keys ...`, `authd purge`, `authd config check`.

pub mod config_check;
mod users;

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use std::path::PathBuf;

use auth_core::{Algorithm, SigningKey};
use secrecy::ExposeSecret;

use user_store::Timestamp;

use crate::config::Settings;
use crate::keyring::{KeyState, key_states};
use crate::purge::{purge_once, purge_policy};
use crate::routes::auth::create_user;
use crate::signing::write_private_file;
use crate::startup::{Application, build_state, open_store};

#[derive(Debug, Parser)]
#[command(
    name = "authd",
    version,
    about = "A JWT authentication service: users, sessions, tokens."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (what `authd` does with no arguments).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Delete now what the server purges every PURGE_INTERVAL (expired refresh tokens,
    /// sessions ended long enough ago, stale throttle rows); print the rows deleted.
    Purge,
    /// Print the OpenAPI 3 document of the HTTP API (what `GET /openapi.json` serves).
    Openapi,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Revoke every session of a user: their refresh tokens stop working at once, and
    /// their access tokens are refused by every replica within seconds.
    Revoke {
        #[arg(long = "user")]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets masked) and every problem with it; try
    /// the database. Exits non-zero when authd would not start.
    Check,
}

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

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from a prompt, or from standard input when it
    /// is not a terminal (one line).
    Create {
        username: String,
        /// A role to grant (repeatable), e.g. `--role admin`.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List every user, one JSON object a line.
    List,
    /// Replace a user's roles (repeat `--role`; none clears them). Tokens carry the new
    /// roles from the user's next login or refresh.
    SetRoles {
        username: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Disable a user: every session is revoked and logins get 403 account_disabled.
    Disable { username: String },
    /// Enable a disabled user again.
    Enable { username: String },
}

/// Commands that need no configuration at all.
pub fn run_without_settings(command: &Command) -> Option<anyhow::Result<()>> {
    match command {
        Command::Keys {
            command: KeysCommand::Generate { alg, out },
        } => Some(generate_key(*alg, out.as_deref())),
        Command::Openapi => Some(crate::openapi::OpenApiJson::render().and_then(|document| {
            use std::io::Write;
            writeln!(std::io::stdout().lock(), "{}", document.0).context("writing to stdout")
        })),
        _ => None,
    }
}

fn generate_key(alg: Algorithm, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (pem, key) = SigningKey::generate(alg)?;
    match out {
        Some(path) => write_private_file(path, pem.expose_secret())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", pem.expose_secret()),
    }
    eprintln!("generated {alg} key, kid {}", key.kid());
    Ok(())
}

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Keys { command } => manage_keys(command, &settings).await?,
        Command::Serve => serve(settings).await?,
        Command::Migrate => {
            let store = open_store(&settings).await?;
            eprintln!("migrations applied ({})", store.kind());
            store.close().await;
        }
        Command::User { command } => manage_users(command, &settings).await?,
        Command::Sessions {
            command: SessionsCommand::Revoke { username },
        } => {
            let store = open_store(&settings).await?;
            let result = users::revoke_sessions(&store, &username).await;
            store.close().await;
            result?;
        }
        Command::Purge => purge(&settings).await?,
        Command::Openapi
        | Command::Config {
            command: ConfigCommand::Check,
        } => {
            // Handled before the settings are read (they may be what is wrong).
            bail!("this command runs before the configuration is loaded");
        }
    }
    Ok(())
}

/// One full purge, as the server runs it; fails when any rule failed.
async fn purge(settings: &Settings) -> anyhow::Result<()> {
    let state = build_state(settings).await?;
    let report = purge_once(&state.store, &purge_policy(&state), None).await;
    state.store.close().await;
    let mut failed = 0;
    for (rule, outcome) in report {
        match outcome {
            Ok(purged) => {
                let more = if purged.complete {
                    ""
                } else {
                    " (more remain: run again)"
                };
                println!("{:<24} {:>8}  {}{more}", rule.table, purged.rows, rule.what);
            }
            Err(e) => {
                failed += 1;
                println!("{:<24} {:>8}  {}: {e:#}", rule.table, "failed", rule.what);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} purge rule(s) failed");
    }
    Ok(())
}

/// Serves until SIGTERM or SIGINT, then shuts down gracefully: no new connections, the
/// requests in flight finish (within `SHUTDOWN_TIMEOUT`), the pool is closed.
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let server = app.handle();
    let signals = tokio::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutting down: finishing the requests in flight");
        server.stop(true).await;
    });
    let served = app.run_until_stopped().await;
    signals.abort();
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The first of SIGTERM (what orchestrators send) and SIGINT (Ctrl-C).
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tokio::select! {
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGTERM",
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGINT",
    }
}

async fn manage_users(command: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { username, roles } => {
            let password = read_password()?;
            let state = build_state(settings).await?;
            let user = create_user(&state, &username, password, &roles)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{}",
                serde_json::to_string(&user).context("printing the user")?
            );
            state.store.close().await;
            Ok(())
        }
        command => {
            let store = open_store(settings).await?;
            let result = match command {
                UserCommand::List => users::list(&store).await,
                UserCommand::SetRoles { username, roles } => {
                    users::set_roles(&store, &username, roles).await
                }
                UserCommand::Disable { username } => {
                    users::set_disabled(&store, &username, true).await
                }
                UserCommand::Enable { username } => {
                    users::set_disabled(&store, &username, false).await
                }
                UserCommand::Create { .. } => unreachable!("handled above"),
            };
            store.close().await;
            result
        }
    }
}

/// `keys generate` (a file), and `keys list`, `keys rotate`, `keys retire` (the shared key
/// set in the database).
async fn manage_keys(command: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
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
    let store = open_store(settings).await?;
    let retention = settings.token_retention();
    match command {
        KeysCommand::Generate { alg, out } => generate_key(alg, out.as_deref())?,
        KeysCommand::List => {
            let keys = store.signing_keys(alg.as_str()).await?;
            let states = key_states(&keys, Timestamp::now(), retention);
            println!(
                "{:<45} {:<6} {:<32} {:<28} created",
                "kid", "alg", "state", "activates"
            );
            for (key, state) in keys.iter().zip(states) {
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
        }
        KeysCommand::Rotate { after } => {
            let (pem, key) = SigningKey::generate(alg)?;
            let activates_at = Timestamp::now().plus(after);
            store
                .add_signing_key(key.kid(), alg.as_str(), pem.expose_secret(), activates_at)
                .await?;
            eprintln!(
                "added {alg} key {}: announced now, signs from {}",
                key.kid(),
                activates_at.rfc3339()
            );
        }
        KeysCommand::Retire { kid } => {
            let keys = store.signing_keys(alg.as_str()).await?;
            let states = key_states(&keys, Timestamp::now(), retention);
            match keys.iter().zip(states).find(|(k, _)| k.kid == kid) {
                None => bail!("no {alg} key with kid {kid}"),
                Some((_, KeyState::Active)) => {
                    bail!(
                        "{kid} signs tokens now: run `authd keys rotate --in 0` first, then retire it"
                    )
                }
                Some(_) => {
                    if store.retire_signing_key(&kid).await? {
                        let reload = settings.signing.reload_interval;
                        let published = reload + settings.signing.jwks_max_age;
                        eprintln!(
                            "retired {kid}: authd rejects tokens it signed within {} \
                             (KEY_RELOAD_INTERVAL), verifiers that honour the JWKS's max-age \
                             within {} (+ JWKS_MAX_AGE; see the README for RemoteVerifier's bound)",
                            humantime::format_duration(reload),
                            humantime::format_duration(published),
                        );
                    } else {
                        eprintln!("{kid} was already retired");
                    }
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

fn read_password() -> anyhow::Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again =
            rpassword::prompt_password("Repeat password: ").context("reading the password")?;
        if first != again {
            bail!("the passwords do not match");
        }
        return Ok(SecretString::from(first));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(SecretString::from(password))
}
