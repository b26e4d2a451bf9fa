//! Account recovery by email over HTTP, with a real SMTP server as its own process
//! (`.ci/smtp_sink.py`, aiosmtpd) that stores each message in a folder this test reads.
//! Without Python and aiosmtpd the tests print a note and pass, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::*;

const NEW_PASSWORD: &str = "a brand new passphrase for this test";

/// The SMTP server process; killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that runs the sink: `AUTHD_TEST_PYTHON`, else `python3` on `PATH` (CI puts
/// its venv there).
fn python() -> String {
    std::env::var("AUTHD_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

impl SmtpSink {
    /// Starts the sink on a free port, or `None` (with a note) when Python or aiosmtpd is
    /// missing; under `CI=true` that fails the test instead.
    fn start() -> Option<Self> {
        let has_aiosmtpd = Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {} cannot import aiosmtpd (.ci/requirements.txt)",
                python()
            );
            eprintln!("python3 with aiosmtpd not found: email test not run");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP sink");
        let mut ready = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready", "the SMTP sink did not start");
        Some(Self { child, port, dir })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        });
        files
    }

    /// Waits for message number `n` (1-based) and returns its text, soft line breaks of
    /// quoted-printable undone.
    async fn message(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(path) = self.messages().get(n - 1) {
                let raw = std::fs::read_to_string(path).unwrap();
                return raw.replace("=\r\n", "").replace("=3D", "=");
            }
            assert!(Instant::now() < deadline, "message {n} never arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The token of the link in a message.
fn token_in(message: &str) -> String {
    let start = message.find("token=").expect("a link with a token") + "token=".len();
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn email_app(db: Db, extra: &[(&str, &str)]) -> Option<(TestApp, SmtpSink)> {
    let db = db.ready()?;
    let sink = SmtpSink::start()?;
    let url = sink.url();
    let mut settings = vec![("SMTP_URL", url.as_str())];
    settings.extend_from_slice(extra);
    Some((spawn_app_with(db, &settings).await, sink))
}

async fn register_with_email(app: &TestApp, username: &str, email: &str) -> reqwest::Response {
    app.http
        .post_json(
            "/auth/register",
            &json!({"username": username, "password": PASSWORD, "email": email}),
        )
        .await
}

/// Registers `username` with `email` and verifies it with the token of message `n`.
async fn verified_user(app: &TestApp, sink: &SmtpSink, username: &str, email: &str, n: usize) {
    let response = register_with_email(app, username, email).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let token = token_in(&sink.message(n).await);
    let response = app
        .http
        .post_json("/auth/email/verify", &json!({"token": token}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

async fn forgot(app: &TestApp, body: &Value) -> reqwest::Response {
    app.http.post_json("/auth/password/forgot", body).await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.http
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": password}),
        )
        .await
}

async fn put_email(app: &TestApp, access: &str, email: &str, password: &str) -> reqwest::Response {
    app.http
        .client
        .put(app.http.url("/api/me/email"))
        .bearer_auth(access)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_with_an_email_sends_a_link_that_verifies_it_once(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    let response = register_with_email(&app, "alice", "Alice@Example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], "Alice@Example.com");
    assert_eq!(user["email_verified"], false);

    let message = sink.message(1).await;
    assert!(message.contains("Alice@Example.com"), "{message}");
    let token = token_in(&message);
    assert!(token.len() >= 43, "256 bits at least: {token}");

    // Opening the link shows a form and spends nothing.
    let page = app
        .http
        .client
        .get(app.http.url(&format!("/verify-email?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("method=\"post\"") && !html.contains("<script"),
        "{html}"
    );

    let verify = json!({"token": token});
    let response = app.http.post_json("/auth/email/verify", &verify).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let tokens = app.tokens("alice").await;
    let me: Value = app.http.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "{me}");

    let again = app.http.post_json("/auth/email/verify", &verify).await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_sets_the_password_revokes_every_session_and_spends_the_token(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "bob", "bob@example.com", 1).await;
    let old = app.tokens("bob").await;

    let response = forgot(&app, &json!({"email": "BOB@example.com"})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
    let message = sink.message(2).await;
    assert!(message.contains("/reset-password?token="), "{message}");
    let token = token_in(&message);

    let weak = reset(&app, &token, "password").await;
    assert_error(weak, StatusCode::BAD_REQUEST, "weak_password").await;
    let response = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_unauthorized(app.http.me(&old.access).await, true).await;
    assert_error(
        app.http.refresh(&old.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        app.http.login("bob", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let again = reset(&app, &token, "yet another fine passphrase 42").await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_page_takes_a_form_post_and_only_the_post_spends_the_token(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "carol", "carol@example.com", 1).await;
    forgot(&app, &json!({"username": "Carol"})).await;
    let token = token_in(&sink.message(2).await);
    for _ in 0..2 {
        let page = app
            .http
            .client
            .get(app.http.url(&format!("/reset-password?token={token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert!(page.text().await.unwrap().contains("name=\"new_password\""));
    }
    let post = |password: &'static str| {
        app.http
            .client
            .post(app.http.url("/reset-password"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "token={token}&new_password={}",
                password.replace(' ', "+")
            ))
            .send()
    };
    let done = post(NEW_PASSWORD).await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Password changed"));
    let again = post("yet another fine passphrase 42").await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.http.login("carol", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_answers_alike_for_every_account_and_mails_only_verified_addresses(#[case] db: Db) {
    // Throttles out of the way for the timing rounds (their own test is below); each
    // round comes from its own client address.
    let settings = [
        ("LOGIN_FREE_FAILURES", "100000"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let Some((app, sink)) = email_app(db, &settings).await else {
        return;
    };
    verified_user(&app, &sink, "dave", "dave@example.com", 1).await;
    let response = register_with_email(&app, "erin", "erin@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    sink.message(2).await; // erin's verification, left unverified
    let cases = [
        json!({"email": "dave@example.com"}),
        json!({"email": "erin@example.com"}),
        json!({"email": "nobody@example.com"}),
        json!({"username": "dave"}),
        json!({"username": "nobody"}),
    ];
    for body in &cases {
        let response = forgot(&app, body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{body}");
        assert_eq!(response.json::<Value>().await.unwrap(), json!({}), "{body}");
    }
    // Two reset messages, both to dave.
    let third = sink.message(3).await;
    let fourth = sink.message(4).await;
    for message in [&third, &fourth] {
        assert!(message.contains("dave@example.com") && message.contains("reset-password"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 4, "no message to erin or to nobody");

    // Timing: existing (verified) against unknown, interleaved.
    let rounds = 40;
    let (mut known, mut unknown) = (Duration::ZERO, Duration::ZERO);
    for i in 0..rounds {
        for (target, total) in [
            ("dave@example.com", &mut known),
            ("ghost@example.com", &mut unknown),
        ] {
            let started = Instant::now();
            let response = app
                .http
                .client
                .post(app.http.url("/auth/password/forgot"))
                .header("x-forwarded-for", format!("198.51.100.{}", i % 250 + 1))
                .json(&json!({"email": target}))
                .send()
                .await
                .unwrap();
            *total += started.elapsed();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
        }
    }
    let (known, unknown) = (known / rounds, unknown / rounds);
    eprintln!("forgot: mean {known:?} for an existing account, {unknown:?} for an unknown one");
    let gap = known.abs_diff(unknown);
    assert!(
        gap < Duration::from_millis(25).max(known.min(unknown) / 2),
        "forgot's timing tells accounts apart: {known:?} vs {unknown:?}"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_is_throttled_per_target_and_per_client_address(#[case] db: Db) {
    let Some((app, _sink)) = email_app(db, &[]).await else {
        return;
    };
    let target = json!({"email": "target@example.com"});
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(forgot(&app, &target).await.status());
    }
    assert_eq!(statuses[..6], [StatusCode::ACCEPTED; 6]);
    let response = forgot(&app, &target).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    // Per address: many targets from one client.
    let mut throttled = None;
    for i in 0..40 {
        let response = forgot(&app, &json!({"email": format!("someone{i}@example.com")})).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(i);
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
            break;
        }
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    assert!(throttled.is_some(), "the client address is never throttled");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resets_with_one_token_at_once_succeed_exactly_once(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "frank", "frank@example.com", 1).await;
    forgot(&app, &json!({"email": "frank@example.com"})).await;
    let token = token_in(&sink.message(2).await);
    let (a, b) = tokio::join!(
        reset(&app, &token, NEW_PASSWORD),
        reset(&app, &token, "yet another fine passphrase 42")
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::BAD_REQUEST]);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_tokens_from_before_a_password_change_are_refused(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "grace", "grace@example.com", 1).await;
    forgot(&app, &json!({"email": "grace@example.com"})).await;
    let first = token_in(&sink.message(2).await);
    forgot(&app, &json!({"email": "grace@example.com"})).await;
    let second = token_in(&sink.message(3).await);
    // The password changes: both tokens die.
    let tokens = app.tokens("grace").await;
    let changed = app
        .http
        .change_password(&tokens.access, PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    for token in [&first, &second] {
        let response = reset(&app, token, "yet another fine passphrase 42").await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    // A token past its lifetime.
    forgot(&app, &json!({"email": "grace@example.com"})).await;
    let third = token_in(&sink.message(4).await);
    expire_all_tokens(&app).await;
    let response = reset(&app, &third, "yet another fine passphrase 42").await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let unknown = reset(
        &app,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        NEW_PASSWORD,
    )
    .await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// Moves every email token's expiry back to its issue.
async fn expire_all_tokens(app: &TestApp) {
    use sqlx::Connection;
    const SQL: &str = "UPDATE email_tokens SET expires_at = issued_at";
    let url = &app.env["DATABASE_URL"];
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(SQL).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(SQL).execute(&mut conn).await.unwrap();
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_email_checks_the_password_against_the_login_throttle(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "heidi", "heidi@example.com", 1).await;
    let tokens = app.tokens("heidi").await;

    let response = put_email(&app, &tokens.access, "new@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (a, b) = (sink.message(2).await, sink.message(3).await);
    let (verification, notice) = if a.contains("token=") { (a, b) } else { (b, a) };
    assert!(
        verification.contains("X-Rcpt-To: new@example.com"),
        "{verification}"
    );
    assert!(notice.contains("X-Rcpt-To: heidi@example.com"), "{notice}");
    // The verified address stays in force until the new one is verified.
    let me: Value = app.http.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(
        (me["email"].as_str(), me["email_verified"].as_bool()),
        (Some("heidi@example.com"), Some(true))
    );
    let verify = json!({"token": token_in(&verification)});
    assert_eq!(
        app.http
            .post_json("/auth/email/verify", &verify)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let me: Value = app.http.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["email"], "new@example.com");

    let bad = put_email(&app, &tokens.access, "not-an-email", PASSWORD).await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_email").await;
    // Wrong passwords are login failures: past the free ones, even the right login waits.
    for _ in 0..6 {
        let wrong = put_email(&app, &tokens.access, "x@example.com", "wrong password!").await;
        assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_credentials").await;
    }
    let login = app.http.login("heidi", PASSWORD).await;
    assert_error(login, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

/// The pages' refusals reach the person as the page says them (HTML, with the reason),
/// not as the generic JSON error that other non-JSON errors become.
#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_refusals_are_html_with_their_reason(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "lena", "lena@example.com", 1).await;
    forgot(&app, &json!({"username": "lena"})).await;
    let token = token_in(&sink.message(2).await);
    let form = |path: &str, body: String| {
        app.http
            .client
            .post(app.http.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let bogus = "A".repeat(43);
    let cases = [
        (
            form(
                "/reset-password",
                format!("token={token}&new_password=lena"),
            )
            .await
            .unwrap(),
            "That password cannot be used",
        ),
        (
            form("/verify-email", format!("token={bogus}"))
                .await
                .unwrap(),
            "This link is invalid",
        ),
    ];
    for (response, reason) in cases {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(response.headers().contains_key("content-security-policy"));
        let body = response.text().await.unwrap();
        assert!(body.contains(reason), "{body}");
    }
}

/// One account cannot make authd mail an address of its choosing without bound: a few
/// changes go through, then 429 (the right login is not throttled by it).
#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_changes_are_limited_per_user(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    verified_user(&app, &sink, "kim", "kim@example.com", 1).await;
    let tokens = app.tokens("kim").await;
    let mut accepted = 0;
    for _ in 0..8 {
        let response = put_email(&app, &tokens.access, "target@victim.example", PASSWORD).await;
        match response.status() {
            StatusCode::ACCEPTED => accepted += 1,
            _ => {
                assert!(response.headers().contains_key("retry-after"));
                assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
            }
        }
    }
    assert!((3..=4).contains(&accepted), "{accepted} changes accepted");
    assert_eq!(
        app.http.login("kim", PASSWORD).await.status(),
        StatusCode::OK
    );
    // Two messages per accepted change, besides the first verification.
    sink.message(1 + 2 * accepted).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1 + 2 * accepted);
}

/// A wrong or throttled password on `PUT /api/me/email` is recorded as on
/// `PUT /api/me/password`: `login_failed` and `login_throttled`, `detail.check` naming it.
#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_throttled_passwords_of_an_email_change_are_security_events(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[("LOGIN_FREE_FAILURES", "1")]).await else {
        return;
    };
    let admin = app.admin("root").await;
    verified_user(&app, &sink, "judy", "judy@example.com", 1).await;
    let tokens = app.tokens("judy").await;
    let me: Value = app.http.me(&tokens.access).await.json().await.unwrap();
    let judy = me["id"].clone();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let wrong = put_email(&app, &tokens.access, "x@example.com", "wrong password!").await;
        statuses.push(wrong.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let failed = app.events_of(&admin, "login_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    for event in &failed {
        assert_eq!(event["user_id"], judy, "{event}");
        let detail = json!({"reason": "wrong_password", "check": "email_change"});
        assert_eq!(event["detail"], detail, "{event}");
    }
    let throttled = app.events_of(&admin, "login_throttled").await;
    let [event] = &throttled[..] else {
        panic!("{throttled:?}")
    };
    assert_eq!(event["user_id"], judy, "{event}");
    assert_eq!(event["detail"], json!({"check": "email_change"}), "{event}");
    assert_eq!(event["ip"], "127.0.0.1", "{event}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_url_the_email_endpoints_answer_email_disabled(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let response = register_with_email(&app, "ivan", "ivan@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    assert_eq!(
        (user["email"].as_str(), user["email_verified"].as_bool()),
        (Some("ivan@example.com"), Some(false))
    );
    let tokens = app.tokens("ivan").await;
    let token = json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
    for response in [
        put_email(&app, &tokens.access, "ivan2@example.com", PASSWORD).await,
        app.http.post_json("/auth/email/verify", &token).await,
        forgot(&app, &json!({"email": "ivan@example.com"})).await,
        reset(
            &app,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            NEW_PASSWORD,
        )
        .await,
    ] {
        assert_error(response, StatusCode::FORBIDDEN, "email_disabled").await;
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_addresses_are_invalid_email(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let long = format!("{}@example.com", "a".repeat(250));
    for (i, bad) in [
        "plain",
        "@example.com",
        "a@localhost",
        "a b@example.com",
        "a@b@example.com",
        &long,
    ]
    .into_iter()
    .enumerate()
    {
        let response = register_with_email(&app, &format!("user{i}"), bad).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_reset_requests_and_resets_record_their_events(#[case] db: Db) {
    let Some((app, sink)) = email_app(db, &[]).await else {
        return;
    };
    let admin = app.admin("root").await;
    verified_user(&app, &sink, "erin", "erin@example.com", 1).await;
    let erin = app.tokens("erin").await;
    let claims: Value = app.http.session(&erin.access).await.json().await.unwrap();
    let erin_id = claims["sub"].as_str().unwrap().to_owned();

    let verified = app.events_of(&admin, "email_verified").await;
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert_eq!(verified[0]["user_id"], erin_id.as_str());

    let response = forgot(&app, &json!({"username": "erin"})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let token = token_in(&sink.message(2).await);
    // The request is prepared off the request path; its message is out, so its event is
    // written (in the transaction that stored the token).
    let requested = app.events_of(&admin, "password_reset_requested").await;
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0]["user_id"], erin_id.as_str());
    assert_eq!(requested[0]["detail"]["by_email"], false);
    // An unknown account records nothing.
    let response = forgot(&app, &json!({"email": "nobody@example.com"})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    let reset_events = app.events_of(&admin, "password_reset").await;
    assert_eq!(reset_events.len(), 1, "{reset_events:?}");
    assert_eq!(reset_events[0]["user_id"], erin_id.as_str());
    assert_eq!(reset_events[0]["detail"]["sessions_revoked"], 1);
    let requested = app.events_of(&admin, "password_reset_requested").await;
    assert_eq!(requested.len(), 1, "{requested:?}");
    let all = serde_json::to_string(&app.events(&admin, "").await).unwrap();
    assert!(!all.contains(&token), "a reset token in an event: {all}");
}
