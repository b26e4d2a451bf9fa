//! Building and running the application: one `Application::build(settings)` that tests
//! drive on port 0 exactly as `main` does on the configured address.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use actix_web_httpauth::middleware::HttpAuthentication;
use anyhow::Context;
use std::sync::Arc;

use auth_core::{Algorithm, RefreshChainKey, RevokedSessions};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;
use user_store::{
    HasherOptions, PasswordHasher, Store, StoreOptions, ThrottlePolicy, spawn_revocation_feed,
};

use crate::accounts::{Accounts, Policy, Sessions, Users};
use crate::bearer::validate_bearer;
use crate::config::Settings;
use crate::error::{ApiError, render_non_json_errors};
use crate::keyring::{KeyRing, spawn_key_reload};
use crate::metrics::{self, Metrics, observe};
use crate::openapi::{self, OpenApiJson};
use crate::purge::{purge_policy, spawn_purge};
use crate::rate_limit::AddressRateLimiter;
use crate::request_id::echo_request_id;
use crate::routes::{admin, auth, email, health, jwks, login, me, pages};
use crate::signing::{ensure_data_dir, hs256_secret, load_key_set};
use crate::state::AppState;
use crate::telemetry::RequestSpan;

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
        let Listeners {
            listener,
            tls,
            metrics_listener,
        } = Listeners::bind(&settings)?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let state = build_state(&settings).await?;

        let store = state.accounts.users.store.clone();
        let background = spawn_background(&state, &settings).await?;

        let state = web::Data::new(state);
        let openapi =
            web::Data::new(OpenApiJson::render().context("rendering the OpenAPI document")?);
        let body_limit = settings.http.body_limit;
        let request_timeout = settings.http.request_timeout;
        let workers = settings.http.workers;
        let metrics_here = metrics_listener.is_none();
        let cors = settings.http.cors_allowed_origins.clone();
        let metrics_server = match metrics_listener {
            Some(listener) => Some(metrics_server(listener, state.clone())?),
            None => None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(move |req, service| {
                    let response = service.call(req);
                    async move {
                        tokio::time::timeout(request_timeout, response)
                            .await
                            .unwrap_or_else(|_| Err(ApiError::TimedOut.into()))
                    }
                })
                .wrap(Condition::new(!cors.is_empty(), cors.middleware()))
                .wrap(ErrorHandlers::new().default_handler(render_non_json_errors))
                .wrap(from_fn(observe))
                .wrap(from_fn(echo_request_id))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(state.clone())
                .app_data(openapi.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .configure(|cfg| {
                    if metrics_here {
                        cfg.service(
                            web::resource("/metrics").route(web::get().to(metrics::metrics)),
                        );
                    }
                })
                .configure(routes)
        })
        .workers(workers)
        // Slow clients: the request head must arrive within REQUEST_HEADER_TIMEOUT (else
        // 408 and the connection is closed), idle keep-alive connections are closed after
        // as long, and at most MAX_CONNECTIONS are open at once (actix counts per worker;
        // beyond it new connections wait in the listen backlog).
        .client_request_timeout(settings.http.header_timeout)
        .keep_alive(settings.http.header_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .max_connections(settings.http.max_connections.div_ceil(workers).max(1))
        // Signals are the binary's business (`cli`): a test process keeps its own.
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout.as_secs());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config),
            None => server.listen(listener),
        }
        .context("starting the HTTP server")?
        .run();
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

/// What the server listens on, bound before anything else is done.
struct Listeners {
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    /// `METRICS_ADDR`, when set.
    metrics_listener: Option<TcpListener>,
}

impl Listeners {
    fn bind(settings: &Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.http.bind_addr).with_context(|| {
            format!(
                "invalid BIND_ADDR: cannot listen on {}",
                settings.http.bind_addr
            )
        })?;
        let tls = match &settings.http.tls {
            Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
            None => None,
        };
        let metrics_listener = match &settings.observability.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .with_context(|| format!("invalid METRICS_ADDR: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        Ok(Self {
            listener,
            tls,
            metrics_listener,
        })
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
        purge_policy(accounts),
        state.metrics.clone(),
        settings.database.purge_interval,
    ));
    Ok(background)
}

/// `GET /metrics` alone, on its own listener (one worker): kept off the public port.
fn metrics_server(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> anyhow::Result<(u16, Server)> {
    let port = listener
        .local_addr()
        .context("reading the metrics address")?
        .port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(web::resource("/metrics").route(web::get().to(metrics::metrics)))
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
            }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .context("starting the metrics server")?
    .run();
    tracing::info!(port, "metrics listening");
    Ok((port, server))
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
        register_limit: settings
            .login
            .register_rate_per_address
            .map(AddressRateLimiter::new),
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

fn routes(cfg: &mut web::ServiceConfig) {
    let bearer = HttpAuthentication::with_fn(validate_bearer);
    cfg.service(
        web::scope("/auth")
            .service(web::resource("/register").route(web::post().to(auth::register)))
            .service(web::resource("/login").route(web::post().to(login::login)))
            .service(web::resource("/refresh").route(web::post().to(auth::refresh)))
            .service(web::resource("/email/verify").route(web::post().to(email::verify_email)))
            .service(
                web::resource("/password/forgot").route(web::post().to(email::forgot_password)),
            )
            .service(
                web::resource("/password/reset").route(web::post().to(email::reset_password)),
            )
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
            .service(web::resource("/me").route(web::get().to(me::me)))
            .service(web::resource("/me/password").route(web::put().to(me::change_password)))
            .service(web::resource("/me/email").route(web::put().to(email::change_email)))
            .service(
                web::scope("/admin")
                    .wrap(from_fn(admin::require_admin))
                    .service(web::resource("/users").route(web::get().to(admin::list_users)))
                    .service(
                        web::resource("/users/{id}").route(web::patch().to(admin::update_user)),
                    )
                    .service(
                        web::resource("/users/{id}/sessions")
                            .route(web::delete().to(admin::revoke_sessions)),
                    ),
            ),
    )
    .service(
        web::resource("/verify-email")
            .route(web::get().to(pages::verify_page))
            .route(web::post().to(pages::verify_submit)),
    )
    .service(
        web::resource("/reset-password")
            .route(web::get().to(pages::reset_page))
            .route(web::post().to(pages::reset_submit)),
    )
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks::jwks)))
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
    .service(web::resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
    }));
}
