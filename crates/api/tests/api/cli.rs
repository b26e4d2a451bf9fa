//! The `authd` binary: subcommands, configuration errors and the first start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::helpers::*;
use crate::process::{Finished, Running, authd, refused_start};

/// The settings of a test app, for a command working on the same store.
pub(crate) fn settings_of(app: &TestApp) -> Vec<(String, String)> {
    ["DATA_DIR", "DATABASE_URL", "JWT_SECRET"]
        .into_iter()
        .map(|key| (key.to_owned(), app.env[key].clone()))
        .collect()
}

/// Runs `authd args` to completion (bounded), off the async runtime's threads.
pub(crate) async fn run_authd(
    dir: &Path,
    vars: Vec<(String, String)>,
    args: &[&str],
    stdin: Option<&str>,
) -> Finished {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut command = authd(&dir, &vars);
        command.args(&args);
        Running::start(&mut command, stdin.as_deref()).wait(Duration::from_secs(120))
    })
    .await
    .unwrap()
}

/// Polls (bounded) until `ready` holds; returns whether it did.
fn poll_until(limit: Duration, ready: impl Fn() -> bool) -> bool {
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while waited < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(step);
        waited += step;
    }
    ready()
}

fn non_empty_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_makes_a_user_who_logs_in_with_the_role(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let done = run_authd(
        app.data_dir.path(),
        settings_of(&app),
        &["user", "create", "carol", "--role", "admin"],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert!(done.status.success(), "{}: {}", done.status, done.stderr);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    for output in [&done.stdout, &done.stderr] {
        assert!(
            !output.contains(PASSWORD),
            "the password is never printed: {output}"
        );
        assert!(
            !output.contains("$argon2"),
            "the hash is never printed: {output}"
        );
    }

    let tokens = app.tokens("carol").await;
    let response = app.session(&tokens.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["username"], "carol");
    let roles = session["roles"].as_array().expect("roles");
    assert!(roles.iter().any(|r| r == "admin"), "{session}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_refuses_a_weak_or_missing_password_and_creates_nothing(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    for stdin in ["password123\n", "\n", ""] {
        let done = run_authd(
            app.data_dir.path(),
            settings_of(&app),
            &["user", "create", "dave", "--role", "admin"],
            Some(stdin),
        )
        .await;
        assert!(
            !done.status.success(),
            "password {stdin:?}: {}",
            done.stdout
        );
        assert!(
            !done.stderr.trim().is_empty(),
            "password {stdin:?}: says why"
        );
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    }
    assert_eq!(
        app.login("dave", "password123").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The name is still free.
    app.create_user("dave").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_users_set_roles_disable_enable_and_revoke_sessions(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let alice = app.signed_in("alice").await;
    app.create_user("bob").await;
    let authd = |args: &'static [&'static str]| {
        run_authd(app.data_dir.path(), settings_of(&app), args, None)
    };

    let listed = authd(&["user", "list"]).await;
    assert!(listed.status.success(), "{}", listed.stderr);
    let names: Vec<String> = listed
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["username"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!listed.stdout.contains("$argon2"));

    let done = authd(&[
        "user",
        "set-roles",
        "ALICE",
        "--role",
        "editor",
        "--role",
        "admin",
    ])
    .await;
    assert!(done.status.success(), "{}", done.stderr);
    let user: Value = serde_json::from_str(done.stdout.trim()).unwrap();
    assert_eq!(user["roles"], serde_json::json!(["editor", "admin"]));
    let refreshed = Tokens::from_body(&app.refresh(&alice.refresh).await.json().await.unwrap());
    let claims: Value = app.session(&refreshed.access).await.json().await.unwrap();
    assert_eq!(claims["roles"], serde_json::json!(["editor", "admin"]));

    let done = authd(&["sessions", "revoke", "--user", "alice"]).await;
    assert!(done.status.success(), "{}", done.stderr);
    // The server learns of it from the database (its next poll, or at once on PostgreSQL).
    eventually("the revocation reaches the server", || async {
        app.session(&refreshed.access).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_unauthorized(app.session(&refreshed.access).await, true).await;

    let done = authd(&["user", "disable", "bob"]).await;
    assert!(done.status.success(), "{}", done.stderr);
    assert_error(
        app.login("bob", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    let done = authd(&["user", "enable", "bob"]).await;
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(app.login("bob", PASSWORD).await.status(), StatusCode::OK);

    for args in [
        &["user", "disable", "nobody"][..],
        &["sessions", "revoke", "--user", "nobody"][..],
        &["user", "set-roles", "bob", "--role", "has space"][..],
    ] {
        let done = run_authd(app.data_dir.path(), settings_of(&app), args, None).await;
        assert!(!done.status.success(), "{args:?} should fail");
        assert!(
            !done.stderr.trim().is_empty() && !done.stderr.contains("panicked"),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn a_kid_that_starts_with_a_hyphen_is_taken_as_a_kid() {
    // RFC 7638 thumbprints are base64url: about one in 64 starts with '-'.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let url = format!("sqlite://{data_dir}/auth.db");
    let vars = [
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("JWT_ALGORITHM", "EdDSA"),
    ];
    let done = Running::start(
        authd(dir.path(), &vars).args(["keys", "retire", "-kAbC_9"]),
        None,
    )
    .wait(Duration::from_secs(60));
    assert!(!done.status.success());
    assert!(
        done.stderr.contains("no EdDSA key with kid -kAbC_9"),
        "{}",
        done.stderr
    );
}

#[test]
fn config_check_prints_the_effective_settings_masked_and_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let url = format!("sqlite://{data_dir}/auth.db");
    let good = [
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
    ];
    let done = Running::start(authd(dir.path(), &good).args(["config", "check"]), None)
        .wait(Duration::from_secs(60));
    assert!(done.status.success(), "{}{}", done.stdout, done.stderr);
    assert!(
        done.stdout.contains("ACCESS_TOKEN_TTL=15m"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("JWKS_MAX_AGE=30s"), "{}", done.stdout);
    assert!(done.stdout.contains("no problems found"), "{}", done.stdout);
    assert!(
        !done.stdout.contains(SECRET),
        "the secret is masked: {}",
        done.stdout
    );

    let bad = [
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", "postgres://authd:hunter2@127.0.0.1:1/authd"),
        ("JWT_SECRET", "short"),
        ("ACCESS_TOKEN_TTL", "soon"),
        ("HTTP_WORKERS", "0"),
        ("BIND_ADDR", "nowhere"),
        ("TLS_CERT_FILE", "/nonexistent/cert.pem"),
        ("TLS_KEY_FILE", "/nonexistent/key.pem"),
        ("JWKS_MAX_AGE", "2h"),
    ];
    let done = Running::start(authd(dir.path(), &bad).args(["config", "check"]), None)
        .wait(Duration::from_secs(60));
    assert!(!done.status.success(), "{}", done.stdout);
    for key in [
        "JWT_SECRET:",
        "ACCESS_TOKEN_TTL:",
        "HTTP_WORKERS:",
        "BIND_ADDR:",
        "TLS_CERT_FILE",
        "JWKS_MAX_AGE:",
    ] {
        assert!(done.stdout.contains(key), "{key} listed: {}", done.stdout);
    }
    assert!(!done.stdout.contains("hunter2"), "{}", done.stdout);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

#[test]
fn migrate_creates_the_sqlite_file_and_can_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("auth.db");
    let url = format!("sqlite://{}", db_file.display());
    let data_dir = dir.path().display().to_string();
    let vars = [
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
    ];
    assert!(!db_file.exists());
    for run in ["first", "second"] {
        let done = Running::start(authd(dir.path(), &vars).arg("migrate"), None)
            .wait(Duration::from_secs(120));
        assert!(
            done.status.success(),
            "{run} run: {}: {}",
            done.status,
            done.stderr
        );
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
        assert!(
            non_empty_file(&db_file),
            "{run} run: {} exists",
            db_file.display()
        );
    }
}

#[test]
fn a_bad_configuration_value_stops_the_start_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("ACCESS_TOKEN_TTL", "soon"),
        ("JWT_SECRET", "sekrit-value"),
        ("REFRESH_TOKEN_TTL", "forever"),
        ("REFRESH_REUSE_GRACE", "-5"),
        ("JWT_ALGORITHM", "none"),
        ("SIGNUP_ENABLED", "maybe"),
        ("DATABASE_URL", "mysql://localhost/auth"),
        ("LOG_FORMAT", "xml"),
        ("BIND_ADDR", "not-an-address"),
    ] {
        let refused = refused_start(dir.path(), key, value);
        let what = format!("{key}={value}");
        assert!(
            refused.line.contains(key),
            "{what}: names the key: {}",
            refused.line
        );
        if key == "JWT_SECRET" {
            assert!(
                !refused.stderr.contains(value),
                "{what}: the secret is not printed: {}",
                refused.line
            );
        }
        assert!(
            !dir.path().join("jwt_secret").exists(),
            "{what}: nothing generated"
        );
    }
}

#[test]
fn serving_for_the_first_time_generates_a_private_signing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir_str = data_dir.display().to_string();
    let url = format!("sqlite://{}/auth.db", dir.path().display());
    let vars = [
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATA_DIR", data_dir_str.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("HTTP_WORKERS", "1"),
    ];
    let secret_file = data_dir.join("jwt_secret");
    let server = Running::start(&mut authd(dir.path(), &vars), None);
    let generated = poll_until(Duration::from_secs(30), || non_empty_file(&secret_file));
    // Give the write a moment to finish before reading what it wrote, then stop it.
    std::thread::sleep(Duration::from_millis(200));
    let done = server.stop();
    assert!(
        generated,
        "{} was not generated; log: {}",
        secret_file.display(),
        done.stderr
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);

    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {:o}", mode & 0o777);
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(
        secret.trim().len() >= 32,
        "at least 32 bytes: {} bytes",
        secret.trim().len()
    );

    // A warning in the log says so, without the secret itself.
    let warning = done
        .stderr
        .lines()
        .find(|l| l.to_lowercase().contains("warn") && l.to_lowercase().contains("secret"));
    assert!(
        warning.is_some(),
        "a warning about the generated secret in: {}",
        done.stderr
    );
    assert!(
        !done.stderr.contains(secret.trim()),
        "the secret is not logged"
    );
}

#[test]
fn with_nothing_configured_it_keeps_its_data_under_dot_data() {
    let dir = tempfile::tempdir().unwrap();
    // Only the port differs from the defaults, so that tests can run side by side.
    let vars = [("BIND_ADDR", "127.0.0.1:0"), ("HTTP_WORKERS", "1")];
    let data_dir = dir.path().join("data");
    let server = Running::start(&mut authd(dir.path(), &vars), None);
    let ready = poll_until(Duration::from_secs(30), || {
        non_empty_file(&data_dir.join("jwt_secret")) && data_dir.join("auth.db").exists()
    });
    let done = server.stop();
    assert!(
        ready,
        "./data/jwt_secret and ./data/auth.db; log: {}",
        done.stderr
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

async fn public_tables(url: &str) -> i64 {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count tables");
    conn.close().await.ok();
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_to_a_fresh_postgres_database() {
    if !postgres_or_skip("PostgreSQL variant not run") {
        return;
    }
    let pg = PgDatabase::create().await;
    assert_eq!(public_tables(&pg.url).await, 0, "a fresh database");
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        ("DATA_DIR".to_owned(), dir.path().display().to_string()),
        ("DATABASE_URL".to_owned(), pg.url.clone()),
        ("JWT_SECRET".to_owned(), SECRET.to_owned()),
    ];
    for run in ["first", "second"] {
        let done = run_authd(dir.path(), vars.clone(), &["migrate"], None).await;
        assert!(
            done.status.success(),
            "{run} run: {}: {}",
            done.status,
            done.stderr
        );
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    }
    assert!(
        public_tables(&pg.url).await > 0,
        "migrate created the schema"
    );
    assert!(
        !dir.path().join("auth.db").exists(),
        "no SQLite file when PostgreSQL is selected"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_set_password_sets_it_revokes_every_session_and_records_the_operator(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    app.create_user("frank").await;
    let old = app.tokens("frank").await;
    let new_password = "an operator's fresh passphrase 7";

    let weak = run_authd(
        app.data_dir.path(),
        settings_of(&app),
        &["user", "set-password", "frank"],
        Some("password\n"),
    )
    .await;
    assert!(!weak.status.success(), "a weak password is refused");
    let unknown = run_authd(
        app.data_dir.path(),
        settings_of(&app),
        &["user", "set-password", "nobody"],
        Some(&format!("{new_password}\n")),
    )
    .await;
    assert!(!unknown.status.success(), "an unknown user is an error");

    let done = run_authd(
        app.data_dir.path(),
        settings_of(&app),
        &["user", "set-password", "frank"],
        Some(&format!("{new_password}\n")),
    )
    .await;
    assert!(done.status.success(), "{}: {}", done.status, done.stderr);
    for output in [&done.stdout, &done.stderr] {
        assert!(!output.contains(new_password), "never printed: {output}");
    }
    assert_error(
        app.refresh(&old.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        app.login("frank", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("frank", new_password).await.status(),
        StatusCode::OK
    );
    let changed = app.events_of(&admin, "password_changed").await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["detail"]["by"], "operator");
    assert_eq!(changed[0]["detail"]["sessions_revoked"], 1);
}
