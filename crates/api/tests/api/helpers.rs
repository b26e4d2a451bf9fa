//! Starts the real application on a random port with a fresh database, and talks to it
//! over HTTP as a client would.

use std::collections::HashMap;

use api::{Application, Settings};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests, from `TEST_DATABASE_URL` (CI always sets it).
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

impl Db {
    /// This database, when a test can run on it. Every test that takes a `Db` runs once
    /// per database (rstest cases `sqlite` and `postgres`) and starts with
    /// `let Some(db) = db.ready() else { return };`: PostgreSQL needs `TEST_DATABASE_URL`
    /// (see [`postgres_or_skip`]).
    pub fn ready(self) -> Option<Db> {
        match self {
            Db::Sqlite => Some(self),
            Db::Postgres => postgres_or_skip("PostgreSQL variant not run").then_some(self),
        }
    }
}

/// Whether `TEST_DATABASE_URL` is set, for a test that needs PostgreSQL. When it is not,
/// the test is skipped with a note saying `what` was not run, except under `CI=true`:
/// there a skipped test would pass unseen, so it fails instead.
pub fn postgres_or_skip(what: &str) -> bool {
    if postgres_url().is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "TEST_DATABASE_URL is not set but CI=true: PostgreSQL tests must run on CI ({what})"
    );
    eprintln!("TEST_DATABASE_URL is not set: {what}");
    false
}

/// A fresh PostgreSQL database, dropped when the test ends.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        let admin_url = postgres_url().expect("TEST_DATABASE_URL");
        let name = format!("authd_test_{}", Uuid::now_v7().simple());
        let mut conn = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        conn.execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .expect("create test database");
        let base = admin_url.split('?').next().unwrap_or(&admin_url);
        let (server, _) = base
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL has a database path");
        let url = format!("{server}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A client of one running authd (in this process or another): a method per endpoint.
pub struct Http {
    pub address: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(address: String) -> Self {
        Self {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }
}

/// authd running inside the test process, with the store it was given.
pub struct TestApp {
    pub http: Http,
    /// The separate metrics listener's port, when `METRICS_ADDR` was set.
    pub metrics_port: Option<u16>,
    /// The settings it was started with, to start another process on the same store.
    pub env: HashMap<String, String>,
    pub data_dir: TempDir,
    _pg: Option<PgDatabase>,
}

/// The application with default settings on `db`.
pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, &[]).await
}

/// The application with some settings overridden.
pub async fn spawn_app_with(db: Db, overrides: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let pg = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(PgDatabase::create().await),
    };
    let database_url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}/auth.db", data_dir.path().display()),
    };
    let mut env: HashMap<String, String> = [
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("DATA_DIR", data_dir.path().display().to_string()),
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", SECRET.to_owned()),
        ("HTTP_WORKERS", "1".to_owned()),
        ("PASSWORD_HASH_CONCURRENCY", "2".to_owned()),
        ("DATABASE_MAX_CONNECTIONS", "5".to_owned()),
        // Tests register many users from 127.0.0.1; the limit's own tests turn it on.
        ("REGISTER_RATE_PER_ADDRESS", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("valid test settings");
    let app = Application::build(settings)
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        http: Http::new(address),
        metrics_port,
        env,
        data_dir,
        _pg: pg,
    }
}

/// The tokens of a login.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_body(body: &Value) -> Self {
        Self {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        }
    }
}

impl std::ops::Deref for TestApp {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Http {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `GET path`, expecting a JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON body")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/auth/register",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/auth/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn logout(&self, access_token: &str, scope: Option<&str>) -> Response {
        let request = self
            .client
            .post(self.url("/auth/logout"))
            .bearer_auth(access_token);
        let request = match scope {
            Some(scope) => request.json(&json!({"scope": scope})),
            None => request,
        };
        request.send().await.expect("request")
    }

    pub async fn get_with_token(&self, path: &str, access_token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn session(&self, access_token: &str) -> Response {
        self.get_with_token("/api/session", access_token).await
    }

    pub async fn me(&self, access_token: &str) -> Response {
        self.get_with_token("/api/me", access_token).await
    }

    pub async fn change_password(&self, access_token: &str, current: &str, new: &str) -> Response {
        self.client
            .put(self.url("/api/me/password"))
            .bearer_auth(access_token)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .expect("request")
    }

    /// Registers `username` with [`PASSWORD`]; panics unless it is created.
    pub async fn create_user(&self, username: &str) {
        let response = self.register(username, PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "registering {username}"
        );
    }

    /// Logs `username` in with [`PASSWORD`]; panics unless it succeeds.
    pub async fn tokens(&self, username: &str) -> Tokens {
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {username}");
        Tokens::from_body(&response.json().await.unwrap())
    }

    /// A new user, logged in.
    pub async fn signed_in(&self, username: &str) -> Tokens {
        self.create_user(username).await;
        self.tokens(username).await
    }
}

/// Asserts the contract's error shape and code, and returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?}"
    );
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"], code, "error code in {body}");
    let description = body["error_description"]
        .as_str()
        .expect("error_description");
    assert!(!description.is_empty());
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "exactly error and error_description: {body}"
    );
    body
}

/// Asserts a 401 from the protected scope with its RFC 6750 challenge; `token_sent` says
/// whether the challenge must carry `error="invalid_token"`.
pub async fn assert_unauthorized(response: Response, token_sent: bool) -> Value {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("WWW-Authenticate on a 401")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(r#"Bearer realm="api""#),
        "{challenge}"
    );
    assert_eq!(
        challenge.contains(r#"error="invalid_token""#),
        token_sent,
        "{challenge}"
    );
    if token_sent {
        assert!(challenge.contains("error_description=\""), "{challenge}");
    }
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await
}

/// The decoded JSON of a JWT segment (0 header, 1 claims), without verifying anything.
pub fn jwt_part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

/// Waits (polling, at most 20 s) until `check` holds; panics naming `what` otherwise.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
