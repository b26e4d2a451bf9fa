//! Building and running the application: one `Application::build(settings)` that tests
//! drive on port 0 exactly as `main` does on the configured address.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::web;
use actix_web_httpauth::middleware::HttpAuthentication;
use anyhow::Context;
use auth_core::{Algorithm, RefreshChainKey, RevokedSessions};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use user_store::{
    HasherOptions, PasswordHasher, Store, StoreOptions, ThrottlePolicy, spawn_revocation_feed,
};

use crate::accounts::{Accounts, Policy, Sessions, Users};
use crate::bearer::validate_bearer;
use crate::config::Settings;
use crate::error::ApiError;
use crate::keyring::{KeyRing, spawn_key_reload};
use crate::listen::Listeners;
use crate::metrics::Metrics;
use crate::openapi::{self, OpenApiJson};
use crate::purge::{purge_policy, spawn_purge};
use crate::rate_limit::AddressRateLimiter;
use crate::routes::oauth::metadata::Metadata;
use crate::routes::{admin, auth, email, health, jwks, login, me, mfa, oauth, pages};
use crate::server::{AppParts, http_server, metrics_server};
use crate::signing::{ensure_data_dir, hs256_secret, load_key_set};
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on `METRICS_ADDR`, when that is set.
    metrics_server: Option<(u16, Server)>,
    store: Store,
    /// The revocation feed, the purge and, for asymmetric keys, the key reload.
    background: Vec<JoinHandle<()>>,
}

impl Application {
    /// Binds the listener, opens the store (applying migrations), loads the keys and the
    /// revoked sessions, and prepares the server; nothing is served until
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Bind first: a bad BIND_ADDR fails before anything is created on disk.
        let listeners = Listeners::bind(&settings)?;
        let port = listeners.port()?;
        let state = build_state(&settings).await?;
        let store = state.accounts.users.store.clone();
        let background = spawn_background(&state, &settings).await?;
        let state = web::Data::new(state);
        let metrics_server = match listeners.metrics_listener {
            Some(listener) => Some(metrics_server(listener, state.clone())?),
            None => None,
        };
        let parts = AppParts {
            state,
            openapi: web::Data::new(
                OpenApiJson::render().context("rendering the OpenAPI document")?,
            ),
            body_limit: settings.http.body_limit,
            request_timeout: settings.http.request_timeout,
            metrics_here: metrics_server.is_none(),
            cors: settings.http.cors_allowed_origins.clone(),
        };
        let scheme = if listeners.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let server = http_server(parts, &settings.http, listeners.listener, listeners.tls)?;
        tracing::info!(port, scheme, "authd listening");
        Ok(Self {
            port,
            server,
            metrics_server,
            store,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What stops the server: `stop(true)` stops accepting at once and lets the requests
    /// in flight finish within `SHUTDOWN_TIMEOUT`.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The port of the separate metrics listener, when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Serves until stopped, then stops the metrics listener and the background tasks, and
    /// closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        for task in self.background {
            task.abort();
        }
        self.store.close().await;
        result
    }
}

/// The revocation feed (which loads the revoked sessions first), the key reload for
/// asymmetric keys, and the purge.
async fn spawn_background(
    state: &AppState,
    settings: &Settings,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let accounts = &state.accounts;
    let store = accounts.users.store.clone();
    let mut background = spawn_revocation_feed(
        store.clone(),
        accounts.sessions.revoked().clone(),
        accounts.sessions.retention(),
        settings.tokens.revocation_poll_interval,
    )
    .await
    .context("loading revoked sessions")?;
    if settings.signing.algorithm != Algorithm::HS256 {
        background.push(spawn_key_reload(
            store.clone(),
            accounts.keys.clone(),
            settings.signing.algorithm,
            settings.token_retention(),
            settings.signing.reload_interval,
        ));
    }
    background.push(spawn_purge(
        store.clone(),
        purge_policy(accounts, settings.database.event_retention),
        state.metrics.clone(),
        settings.database.purge_interval,
    ));
    Ok(background)
}

/// Everything the handlers share: the store, the keys (generated on first start when none
/// is configured), the hasher, the policy, the metrics.
pub async fn build_state(settings: &Settings) -> anyhow::Result<AppState> {
    ensure_data_dir(&settings.database.data_dir)?;
    let store = open_store(settings).await?;
    let keys = load_key_set(settings, &store).await?;
    // With HS256 the chain key is bound to the secret too; the asymmetric algorithms keep
    // their private keys in the database already.
    let hs256_secret = match settings.signing.algorithm {
        Algorithm::HS256 => Some(hs256_secret(settings)?),
        _ => None,
    };
    let refresh_chain = store
        .refresh_chain_key(hs256_secret.as_ref().map(|s| s.expose_secret().as_bytes()))
        .await
        .context("reading the refresh-token chain key from the database")?;
    let metrics = Metrics::new().context("setting up metrics")?;
    let policy = policy(settings, refresh_chain);
    let email = crate::email::service(settings, &policy, &metrics)?;
    let accounts = Accounts {
        users: Users::new(store.clone(), password_hasher(settings)),
        sessions: Sessions::new(store, RevokedSessions::new(), settings.token_retention()),
        keys: Arc::new(KeyRing::new(keys, settings)),
        policy,
        metrics: metrics.clone(),
        email,
    };
    Ok(AppState {
        accounts,
        jwks_cache_control: settings.jwks_cache_control(),
        trusted_proxies: settings.http.trusted_proxies.clone(),
        request_body_timeout: settings.http.body_timeout,
        metrics,
        oauth_metadata: Metadata::new(&settings.http.public_url, &settings.tokens.issuer),
    })
}

/// The bounded argon2 pool with the configured parameters: all that hashing a password
/// needs (`authd user create` builds only this and the store).
pub fn password_hasher(settings: &Settings) -> PasswordHasher {
    PasswordHasher::new(HasherOptions {
        params: settings.passwords.params.clone(),
        threads: settings.passwords.concurrency,
        queue: settings.passwords.queue,
        nice: settings.passwords.nice,
    })
}

/// The account rules as configured.
fn policy(settings: &Settings, refresh_chain: RefreshChainKey) -> Policy {
    Policy {
        signup_enabled: settings.login.signup_enabled,
        refresh_token_ttl: settings.tokens.refresh_ttl,
        refresh_reuse_grace: settings.tokens.refresh_reuse_grace,
        refresh_chain,
        login_throttle: ThrottlePolicy {
            free_failures: settings.login.free_failures,
            max_delay: settings.login.max_delay,
            // A record is kept this long after its block ends: at least 15 minutes, so a
            // shorter LOGIN_MAX_DELAY does not bring the free attempts back sooner.
            window: throttle_window(settings),
            ..ThrottlePolicy::default()
        },
        address_throttle: settings
            .login
            .ip_free_failures
            .map(|free_failures| ThrottlePolicy {
                free_failures,
                max_delay: settings.login.max_delay,
                window: throttle_window(settings),
                ..ThrottlePolicy::default()
            }),
        register_limit: AddressRateLimiter::new(
            settings.login.register_rate_per_address,
            settings.login.register_rate_total,
        ),
        mfa_issuer: settings.mfa.issuer.clone(),
    }
}

/// How long a throttle record is kept after its block ends.
pub fn throttle_window(settings: &Settings) -> Duration {
    settings.login.max_delay.max(Duration::from_secs(15 * 60))
}

/// Connects to `DATABASE_URL`, waiting up to `DATABASE_CONNECT_TIMEOUT` for it to accept
/// connections, and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: settings.database.max_connections,
        acquire_timeout: settings.database.timeout,
    };
    let store = Store::connect_within(
        settings.database.url.expose_secret(),
        &options,
        settings.database.connect_timeout,
    )
    .await?;
    store.migrate().await?;
    Ok(store)
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    let bearer = HttpAuthentication::with_fn(validate_bearer);
    cfg.service(
        web::scope("/auth")
            .service(web::resource("/register").route(web::post().to(auth::register)))
            .service(web::resource("/login").route(web::post().to(login::login)))
            .service(web::resource("/login/mfa").route(web::post().to(mfa::login_mfa)))
            .service(web::resource("/refresh").route(web::post().to(auth::refresh)))
            .service(web::resource("/email/verify").route(web::post().to(email::verify_email)))
            .service(
                web::resource("/password/forgot").route(web::post().to(email::forgot_password)),
            )
            .service(web::resource("/password/reset").route(web::post().to(email::reset_password)))
            .service(
                web::resource("/logout")
                    .wrap(bearer.clone())
                    .route(web::post().to(auth::logout)),
            ),
    )
    .service(
        web::scope("/api")
            .wrap(bearer)
            .service(web::resource("/session").route(web::get().to(me::session)))
            .service(
                // A client's own token is not a user's (API.md, OAuth 2.0).
                web::scope("/me")
                    .wrap(from_fn(me::require_user))
                    .service(web::resource("").route(web::get().to(me::me)))
                    .service(web::resource("/password").route(web::put().to(me::change_password)))
                    .service(web::resource("/email").route(web::put().to(email::change_email)))
                    .service(web::resource("/mfa/totp").route(web::post().to(mfa::enrol)))
                    .service(web::resource("/mfa/totp/confirm").route(web::post().to(mfa::confirm)))
                    .service(
                        web::resource("/mfa/totp/disable").route(web::post().to(mfa::disable)),
                    ),
            )
            .service(
                web::scope("/admin")
                    .wrap(from_fn(admin::require_admin))
                    .configure(admin::routes),
            ),
    )
    .configure(oauth::routes)
    .configure(pages::routes)
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks::jwks)))
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
    .service(web::resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
    .default_service(web::to(no_route));
}

/// Any path no route matches: the contract's 404 body.
async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
