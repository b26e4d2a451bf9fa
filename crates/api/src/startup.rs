//! Building and running the application: one `Application::build(settings)` that tests
//! drive on port 0 exactly as `main` does on the configured address.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::ErrorHandlers;
use actix_web::{App, HttpServer, web};
use actix_web_httpauth::middleware::HttpAuthentication;
use anyhow::Context;
use std::sync::Arc;

use auth_core::{Algorithm, RevokedSessions};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;
use user_store::{PasswordHasher, Store, StoreOptions, ThrottlePolicy, spawn_revocation_feed};

use crate::auth::validate_bearer;
use crate::config::Settings;
use crate::error::{ApiError, render_non_json_errors};
use crate::keyring::{KeyRing, spawn_key_reload};
use crate::routes::{auth, health, me};
use crate::signing::{ensure_data_dir, load_key_set};
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    /// The revocation feed and, for asymmetric keys, the key reload.
    background: Vec<JoinHandle<()>>,
}

impl Application {
    /// Binds the listener, opens the store (applying migrations), loads the keys and the
    /// revoked sessions, and prepares the server; nothing is served until
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Bind first: a bad BIND_ADDR fails before anything is created on disk.
        let listener = TcpListener::bind(&settings.bind_addr).with_context(|| {
            format!("invalid BIND_ADDR: cannot listen on {}", settings.bind_addr)
        })?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let state = build_state(&settings).await?;

        let revocation_feed = spawn_revocation_feed(
            state.store.clone(),
            state.revoked.clone(),
            state.revocation_retention,
            settings.revocation_poll_interval,
        )
        .await
        .context("loading revoked sessions")?;
        let mut background = vec![revocation_feed];
        if settings.jwt_algorithm != Algorithm::HS256 {
            background.push(spawn_key_reload(
                state.store.clone(),
                state.keys.clone(),
                settings.jwt_algorithm,
                settings.token_retention(),
                settings.key_reload_interval,
            ));
        }

        let state = web::Data::new(state);
        let body_limit = settings.request_body_limit;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(ErrorHandlers::new().default_handler(render_non_json_errors))
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .configure(routes)
        })
        .workers(settings.http_workers)
        .client_request_timeout(Duration::from_secs(10))
        .listen(listener)
        .context("starting the HTTP server")?
        .run();
        tracing::info!(port, "authd listening");
        Ok(Self {
            port,
            server,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for task in self.background {
            task.abort();
        }
        result
    }
}

/// Everything the handlers share. Also used by the CLI, which needs the store and hasher.
pub async fn build_state(settings: &Settings) -> anyhow::Result<AppState> {
    ensure_data_dir(&settings.data_dir)?;
    let store = open_store(settings).await?;
    let keys = load_key_set(settings, &store).await?;
    Ok(AppState {
        store,
        hasher: PasswordHasher::new(
            PasswordHasher::owasp_params(),
            settings.password_hash_concurrency,
        ),
        keys: Arc::new(KeyRing::new(keys, settings)),
        revoked: RevokedSessions::new(),
        refresh_token_ttl: settings.refresh_token_ttl,
        refresh_reuse_grace: settings.refresh_reuse_grace,
        signup_enabled: settings.signup_enabled,
        login_throttle: ThrottlePolicy {
            free_failures: settings.login_free_failures,
            max_delay: settings.login_max_delay,
            ..ThrottlePolicy::default()
        },
        revocation_retention: settings.token_retention(),
    })
}

/// Connects to `DATABASE_URL` and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: settings.database_max_connections,
        acquire_timeout: settings.database_timeout,
    };
    let store = Store::connect(settings.database_url.expose_secret(), &options)
        .await
        .context("invalid DATABASE_URL")?;
    store.migrate().await?;
    Ok(store)
}

fn routes(cfg: &mut web::ServiceConfig) {
    let bearer = HttpAuthentication::with_fn(validate_bearer);
    cfg.service(
        web::scope("/auth")
            .service(web::resource("/register").route(web::post().to(auth::register)))
            .service(web::resource("/login").route(web::post().to(auth::login)))
            .service(web::resource("/refresh").route(web::post().to(auth::refresh)))
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
            .service(web::resource("/me/password").route(web::put().to(me::change_password))),
    )
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(health::jwks)))
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
    }));
}
