//! Security events (`GET /api/admin/events`): each flow that exists records its event with
//! the right user, address, user agent and detail; an event exists exactly when its
//! change committed; the listing filters and pages newest first, for admins only; no
//! event holds a password, a token or a hash; the purge deletes events past
//! `EVENT_RETENTION`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Method, Response, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};
use user_store::{EventType, NewEvent, Origin, PurgePolicy, Store, StoreOptions, Timestamp};

use crate::cli::{run_authd, settings_of};
use crate::helpers::*;
use crate::process::ProcessStore;

const AGENT: &str = "events-test/1.0 (authd)";
const NEW_PASSWORD: &str = "an entirely new passphrase for alice";

impl TestApp {
    /// One page of `GET /api/admin/events?{query}`, as `admin` (asserted 200).
    pub(crate) async fn event_page(&self, admin: &Tokens, query: &str) -> Value {
        let path = format!("/api/admin/events?{query}");
        let response = self
            .admin_call(Method::GET, &path, &admin.access, None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    /// Every event matching `query`, newest first, following `next` to the last page.
    pub(crate) async fn events(&self, admin: &Tokens, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut page = self.event_page(admin, &format!("{query}&limit=200")).await;
        loop {
            all.extend(page["events"].as_array().unwrap().iter().cloned());
            let Some(next) = page["next"].as_str() else {
                return all;
            };
            let next = format!("{query}&limit=200&after={next}");
            page = self.event_page(admin, &next).await;
        }
    }

    /// The events of one type, newest first.
    pub(crate) async fn events_of(&self, admin: &Tokens, kind: &str) -> Vec<Value> {
        self.events(admin, &format!("type={kind}")).await
    }

    /// `POST /auth/login` with [`AGENT`] as the `User-Agent`.
    async fn login_as_agent(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/auth/login"))
            .header("user-agent", AGENT)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// The id of the user `token` belongs to.
    async fn id_of(&self, token: &Tokens) -> String {
        let claims: Value = self.session(&token.access).await.json().await.unwrap();
        claims["sub"].as_str().unwrap().to_owned()
    }
}

/// Asserts the columns every event of a request from the test client has.
fn assert_from_test_client(event: &Value, kind: &str, user_id: Option<&str>, agent: Option<&str>) {
    assert_eq!(event["type"], kind, "{event}");
    assert_eq!(event["user_id"].as_str(), user_id, "{event}");
    assert_eq!(event["ip"], "127.0.0.1", "{event}");
    assert_eq!(event["user_agent"].as_str(), agent, "{event}");
    assert!(event["detail"].is_object(), "{event}");
    assert!(event["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
}

/// Refused logins cost the client nothing, so each must not cost a row: a burst of them
/// leaves one `login_throttled` per user (or per address, for an unknown name) per quiet
/// minute, a few more at most where concurrent inserts race (PostgreSQL, one per pooled
/// connection).
#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_throttled_logins_records_a_handful_of_events(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "1")]).await;
    let admin = app.admin("root").await;
    app.create_user("bob").await;
    for name in ["bob", "nobody-at-all"] {
        for _ in 0..2 {
            app.login(name, "wrong wrong wrong").await;
        }
        let burst = (0..50).map(|_| app.login_as_agent(name, "wrong wrong wrong"));
        let responses = futures::future::join_all(burst).await;
        let refused = responses
            .iter()
            .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
            .count();
        // The first block is a second long: a slow burst may outlast it once or twice.
        assert!(refused >= 40, "{name}: {refused} of the burst refused");
    }
    let events = app.events_of(&admin, "login_throttled").await;
    let bob = events.iter().filter(|e| e["user_id"].is_string()).count();
    let unknown = events.iter().filter(|e| e["user_id"].is_null()).count();
    assert!((1..=5).contains(&bob), "bob: {events:?}");
    assert!((1..=5).contains(&unknown), "unknown: {events:?}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_record_their_success_failure_and_throttling(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "2")]).await;
    let admin = app.admin("root").await;
    app.create_user("alice").await;
    let response = app.login_as_agent("alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let alice = Tokens::from_body(&response.json().await.unwrap());
    let alice_id = app.id_of(&alice).await;
    let sid = jwt_part(&alice.access, 1)["sid"].clone();
    let response = app.login_as_agent("alice", "not alice's password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.login_as_agent("nobody-at-all", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let succeeded = app
        .events(&admin, &format!("user={alice_id}&type=login_succeeded"))
        .await;
    let [login] = &succeeded[..] else {
        panic!("{succeeded:?}")
    };
    assert_from_test_client(login, "login_succeeded", Some(&alice_id), Some(AGENT));
    assert_eq!(login["detail"], json!({"session_id": sid, "amr": ["pwd"]}));
    let failed = app.events_of(&admin, "login_failed").await;
    let [unknown, wrong] = &failed[..] else {
        panic!("{failed:?}")
    };
    assert_from_test_client(wrong, "login_failed", Some(&alice_id), Some(AGENT));
    assert_eq!(wrong["detail"], json!({"reason": "wrong_password"}));
    assert_from_test_client(unknown, "login_failed", None, Some(AGENT));
    assert_eq!(unknown["detail"], json!({"reason": "unknown_user"}));
    // The name tried is not kept: it could be a password typed into the wrong field.
    assert!(!unknown.to_string().contains("nobody-at-all"));

    app.create_user("carol").await;
    let carol_id = app.id_of(&app.tokens("carol").await).await;
    let mut throttled = false;
    for _ in 0..10 {
        let response = app.login_as_agent("carol", "wrong wrong wrong").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "carol's login is throttled");
    let events = app.events_of(&admin, "login_throttled").await;
    let [event] = &events[..] else {
        panic!("{events:?}")
    };
    assert_from_test_client(event, "login_throttled", Some(&carol_id), Some(AGENT));

    // A disabled user's right password is a failure of its own.
    let path = format!("/api/admin/users/{alice_id}");
    let patch = Some(json!({"disabled": true}));
    app.admin_call(Method::PATCH, &path, &admin.access, patch)
        .await;
    let response = app.login_as_agent("alice", PASSWORD).await;
    assert_error(response, StatusCode::FORBIDDEN, "account_disabled").await;
    let failed = app
        .events(&admin, &format!("user={alice_id}&type=login_failed"))
        .await;
    assert_eq!(failed[0]["detail"], json!({"reason": "account_disabled"}));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_reuse_password_changes_and_logouts_record_their_events(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REFRESH_REUSE_GRACE", "0")]).await;
    let admin = app.admin("root").await;
    let alice = app.signed_in("alice").await;
    let alice_id = app.id_of(&alice).await;
    let sid = jwt_part(&alice.access, 1)["sid"].clone();
    assert_eq!(app.refresh(&alice.refresh).await.status(), StatusCode::OK);
    let replay = app
        .client
        .post(app.url("/auth/refresh"))
        .header("user-agent", "thief/0.1")
        .json(&json!({"refresh_token": alice.refresh}))
        .send()
        .await
        .unwrap();
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let events = app.events_of(&admin, "refresh_reuse_detected").await;
    let [reuse] = &events[..] else {
        panic!("{events:?}")
    };
    assert_from_test_client(
        reuse,
        "refresh_reuse_detected",
        Some(&alice_id),
        Some("thief/0.1"),
    );
    assert_eq!(reuse["detail"], json!({"session_id": sid}));

    // A local logout is routine: no event. Every session, or every other one: an event.
    let first = app.tokens("alice").await;
    let second = app.tokens("alice").await;
    let third = app.tokens("alice").await;
    assert_eq!(
        app.logout(&first.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.events_of(&admin, "sessions_revoked").await.is_empty());
    let response = app.logout(&second.access, Some("others")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.logout(&second.access, Some("global")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let revoked = app.events_of(&admin, "sessions_revoked").await;
    let [global, others] = &revoked[..] else {
        panic!("{revoked:?}")
    };
    for (event, count) in [(others, 1), (global, 1)] {
        assert_from_test_client(event, "sessions_revoked", Some(&alice_id), None);
        let detail = json!({"reason": "logout", "sessions_revoked": count});
        assert_eq!(event["detail"], detail);
    }
    drop(third);

    let alice = app.tokens("alice").await;
    app.tokens("alice").await;
    let response = app
        .client
        .put(app.url("/api/me/password"))
        .bearer_auth(&alice.access)
        .header("user-agent", AGENT)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let events = app.events_of(&admin, "password_changed").await;
    let [changed] = &events[..] else {
        panic!("{events:?}")
    };
    assert_from_test_client(changed, "password_changed", Some(&alice_id), Some(AGENT));
    assert_eq!(changed["detail"], json!({"sessions_revoked": 2}));

    // A wrong current password is a failed password check like a login's.
    let alice = app.tokens_with("alice", NEW_PASSWORD).await;
    let response = app
        .change_password(&alice.access, PASSWORD, "yet another passphrase")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let failed = app.events_of(&admin, "login_failed").await;
    assert_eq!(
        failed[0]["detail"],
        json!({"reason": "wrong_password", "check": "password_change"})
    );
}

impl TestApp {
    /// Logs `username` in with `password`; panics unless it succeeds.
    async fn tokens_with(&self, username: &str, password: &str) -> Tokens {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {username}");
        Tokens::from_body(&response.json().await.unwrap())
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_operator_changes_record_who_made_them(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let admin_id = app.id_of(&admin).await;
    let alice = app.signed_in("alice").await;
    let alice_id = app.id_of(&alice).await;
    let path = format!("/api/admin/users/{alice_id}");
    let patch = |body: Value| {
        let path = path.clone();
        let app = &app;
        let token = admin.access.clone();
        async move {
            let response = app
                .admin_call(Method::PATCH, &path, &token, Some(body))
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    patch(json!({"roles": ["editor", "admin"]})).await;
    patch(json!({"roles": ["admin"]})).await;
    patch(json!({"roles": ["admin"]})).await; // no change: no event
    patch(json!({"disabled": true})).await;
    patch(json!({"disabled": true})).await; // no change: no event
    patch(json!({"disabled": false})).await;
    app.tokens("alice").await;
    let response = app
        .admin_call(
            Method::DELETE,
            &format!("{path}/sessions"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let by_admin = |detail: Value| {
        let mut detail = detail;
        detail["by"] = json!("admin");
        detail["admin_id"] = json!(admin_id);
        detail
    };
    let events = app.events(&admin, &format!("user={alice_id}")).await;
    let changes: Vec<(&str, &Value)> = events
        .iter()
        .filter(|e| e["type"] != "login_succeeded")
        .map(|e| (e["type"].as_str().unwrap(), &e["detail"]))
        .collect();
    let expected = [
        (
            "sessions_revoked",
            by_admin(json!({"reason": "admin", "sessions_revoked": 1})),
        ),
        ("user_enabled", by_admin(json!({}))),
        ("user_disabled", by_admin(json!({"sessions_revoked": 0}))),
        (
            "roles_changed",
            by_admin(
                json!({"before": ["admin", "editor"], "after": ["admin"], "sessions_revoked": 1}),
            ),
        ),
        (
            "roles_changed",
            by_admin(json!({"before": [], "after": ["admin", "editor"], "sessions_revoked": 0})),
        ),
    ];
    let expected: Vec<(&str, &Value)> = expected.iter().map(|(k, d)| (*k, d)).collect();
    assert_eq!(changes, expected);
    for event in events.iter().filter(|e| e["type"] != "login_succeeded") {
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        assert_eq!(event["user_id"], alice_id.as_str());
    }

    // The same operations from the CLI: the operator, with no address or user agent.
    let authd = |args: &'static [&'static str]| {
        run_authd(app.data_dir.path(), settings_of(&app), args, None)
    };
    for args in [
        &["user", "set-roles", "alice", "--role", "editor"][..],
        &["user", "disable", "alice"][..],
        &["user", "enable", "alice"][..],
        &["sessions", "revoke", "--user", "alice"][..],
    ] {
        let done = authd(args).await;
        assert!(done.status.success(), "{args:?}: {}", done.stderr);
    }
    app.tokens("alice").await;
    let done = authd(&["sessions", "revoke", "--user", "alice"]).await;
    assert!(done.status.success(), "{}", done.stderr);
    let events = app.events(&admin, &format!("user={alice_id}")).await;
    let by_operator: Vec<&str> = events
        .iter()
        .take_while(|e| e["detail"]["by"] == "operator" || e["type"] == "login_succeeded")
        .filter(|e| e["type"] != "login_succeeded")
        .map(|e| {
            assert_eq!(e["ip"], Value::Null, "{e}");
            assert_eq!(e["user_agent"], Value::Null, "{e}");
            e["type"].as_str().unwrap()
        })
        .collect();
    // Revoking when no session is live changes nothing: no event.
    assert_eq!(
        by_operator,
        [
            "sessions_revoked",
            "user_enabled",
            "user_disabled",
            "roles_changed"
        ]
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_listed_newest_first_by_user_and_type_a_page_at_a_time(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let (alice_id, bob_id) = (app.id_of(&alice).await, app.id_of(&bob).await);
    for (name, password) in [
        ("alice", PASSWORD),
        ("bob", "wrong password"),
        ("alice", "wrong password"),
        ("bob", PASSWORD),
        ("alice", PASSWORD),
    ] {
        app.login(name, password).await;
    }

    let everything = app.events(&admin, "").await;
    assert!(everything.len() >= 9, "{everything:?}");
    let ids: Vec<uuid::Uuid> = everything
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let times: Vec<&str> = everything
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // The last thing done is the first listed.
    assert_eq!(everything[0]["type"], "login_succeeded");
    assert_eq!(everything[0]["user_id"], alice_id.as_str());

    // Pages of two, following `next`, list the same events in the same order.
    let mut paged = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = app.event_page(&admin, &query).await;
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        paged.extend(events.iter().cloned());
        match page["next"].as_str() {
            Some(next) => query = format!("limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(paged, everything);

    let of_alice = app.events(&admin, &format!("user={alice_id}")).await;
    assert_eq!(of_alice.len(), 4, "{of_alice:?}");
    assert!(of_alice.iter().all(|e| e["user_id"] == alice_id.as_str()));
    let failed = app.events_of(&admin, "login_failed").await;
    assert_eq!(failed.len(), 2);
    let bob_failed = app
        .events(&admin, &format!("user={bob_id}&type=login_failed"))
        .await;
    let [event] = &bob_failed[..] else {
        panic!("{bob_failed:?}")
    };
    assert_eq!(event["user_id"], bob_id.as_str());
    let none = app
        .event_page(&admin, &format!("user={}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(none, json!({"events": [], "next": null}));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_list_events_and_bad_queries_are_invalid_requests(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let user = app.signed_in("alice").await;
    let response = app
        .client
        .get(app.url("/api/admin/events"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, false).await;
    let response = app.get_with_token("/api/admin/events", &user.access).await;
    assert_error(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let response = app.get_with_token("/api/admin/events", "not-a-token").await;
    assert_unauthorized(response, true).await;

    for bad in [
        "type=login",
        "type=LOGIN_SUCCEEDED",
        "type=",
        "user=not-an-id",
        "user=",
        "limit=0",
        "limit=201",
        "limit=ten",
        "after=not-an-id",
        "color=blue",
        "user_id=1",
    ] {
        let path = format!("/api/admin/events?{bad}");
        let response = app
            .admin_call(Method::GET, &path, &admin.access, None)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    for good in ["limit=1", "limit=200", "after=", "type=client_created"] {
        let path = format!("/api/admin/events?{good}");
        let response = app
            .admin_call(Method::GET, &path, &admin.access, None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{good}");
    }
}

/// How a stored hash could show in JSON: as text, hex, or base64.
fn spellings(bytes: &[u8]) -> Vec<String> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.clone(),
        hex.to_uppercase(),
        STANDARD.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ]
}

/// Every password hash and refresh token hash in the database.
async fn stored_hashes(app: &TestApp) -> Vec<String> {
    let store = Store::connect(&app.env["DATABASE_URL"], &StoreOptions::default())
        .await
        .unwrap();
    const PASSWORDS: &str = "SELECT password_hash FROM users";
    const TOKENS: &str = "SELECT secret_hash FROM refresh_tokens";
    let (passwords, tokens): (Vec<String>, Vec<Vec<u8>>) = match &store {
        Store::Sqlite(pool) => (
            sqlx::query_scalar(PASSWORDS).fetch_all(pool).await.unwrap(),
            sqlx::query_scalar(TOKENS).fetch_all(pool).await.unwrap(),
        ),
        Store::Postgres(pool) => (
            sqlx::query_scalar(PASSWORDS).fetch_all(pool).await.unwrap(),
            sqlx::query_scalar(TOKENS).fetch_all(pool).await.unwrap(),
        ),
    };
    store.close().await;
    let mut all = Vec::new();
    for hash in passwords {
        // The whole PHC string, and its salt and hash fields.
        all.extend(hash.rsplit('$').take(2).map(str::to_owned));
        all.push(hash);
    }
    for hash in tokens {
        all.extend(spellings(&hash));
    }
    all
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_holds_a_password_a_token_or_a_hash(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[("REFRESH_REUSE_GRACE", "0"), ("LOGIN_FREE_FAILURES", "1")],
    )
    .await;
    let admin = app.admin("root").await;
    let alice = app.signed_in("alice").await;
    let alice_id = app.id_of(&alice).await;
    let wrong = "a wrong guess at alice's password";
    let typed_as_name = "hunter2-typed-into-the-username-field";
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        NEW_PASSWORD.into(),
        wrong.into(),
        typed_as_name.into(),
        SECRET.into(),
    ];
    let mut tokens = vec![admin.clone(), alice.clone()];

    let rotated = Tokens::from_body(&app.refresh(&alice.refresh).await.json().await.unwrap());
    app.refresh(&alice.refresh).await; // a replay: the session is revoked
    tokens.push(rotated);
    app.login(typed_as_name, PASSWORD).await;
    let mut throttled = false;
    for _ in 0..10 {
        if app.login("alice", wrong).await.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
    }
    assert!(throttled);
    // Past the block (attempts while blocked are refused unchecked and not counted).
    eventually("alice's block ends", || async {
        app.login("alice", PASSWORD).await.status() == StatusCode::OK
    })
    .await;
    let alice = app.tokens("alice").await;
    app.change_password(&alice.access, wrong, NEW_PASSWORD)
        .await;
    eventually("alice changes her password", || async {
        let response = app
            .change_password(&alice.access, PASSWORD, NEW_PASSWORD)
            .await;
        response.status() == StatusCode::NO_CONTENT
    })
    .await;
    tokens.push(alice);
    let path = format!("/api/admin/users/{alice_id}");
    for body in [
        json!({"roles": ["editor"]}),
        json!({"disabled": true}),
        json!({"disabled": false}),
    ] {
        app.admin_call(Method::PATCH, &path, &admin.access, Some(body))
            .await;
    }
    let alice = app.tokens_with("alice", NEW_PASSWORD).await;
    app.logout(&alice.access, Some("global")).await;
    tokens.push(alice);

    for pair in &tokens {
        secrets.push(pair.access.clone());
        // The signature alone, and the refresh token and each of its parts.
        secrets.extend(pair.access.rsplit('.').next().map(str::to_owned));
        secrets.push(pair.refresh.clone());
        // The refresh token's secret part (after its 16-byte selector), however spelled.
        let bytes = URL_SAFE_NO_PAD.decode(&pair.refresh).unwrap();
        secrets.extend(spellings(&bytes[16..]));
    }
    secrets.extend(stored_hashes(&app).await);

    let events = app.events(&admin, "").await;
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in [
        "login_succeeded",
        "login_failed",
        "login_throttled",
        "refresh_reuse_detected",
        "roles_changed",
        "user_disabled",
        "user_enabled",
        "sessions_revoked",
        "password_changed",
    ] {
        assert!(kinds.contains(kind), "{kind} recorded: {kinds:?}");
    }
    let text = serde_json::to_string(&events).unwrap();
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "an event holds {secret:?}: {text}"
        );
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_record_one_event_per_change_that_committed(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let alice = app.signed_in("alice").await;
    let alice_id = app.id_of(&alice).await;

    // Four changes from the same current password: one wins, the others find the hash
    // changed under them and change nothing.
    let changes = (0..4).map(|i| {
        let new = format!("{NEW_PASSWORD} number {i}");
        let (app, access) = (&app, alice.access.clone());
        async move { app.change_password(&access, PASSWORD, &new).await.status() }
    });
    let statuses = futures::future::join_all(changes).await;
    let changed = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(changed, 1, "{statuses:?}");
    let events = app
        .events(&admin, &format!("user={alice_id}&type=password_changed"))
        .await;
    assert_eq!(events.len(), changed, "{events:?}");

    // Four disables at once: one changes the flag, so one `user_disabled`.
    let path = format!("/api/admin/users/{alice_id}");
    let disables = (0..4).map(|_| {
        let (app, path, token) = (&app, path.clone(), admin.access.clone());
        async move {
            let body = Some(json!({"disabled": true}));
            app.admin_call(Method::PATCH, &path, &token, body)
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(disables).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let events = app
        .events(&admin, &format!("user={alice_id}&type=user_disabled"))
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_the_retention_are_purged(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    app.signed_in("alice").await;
    let store = Store::connect(&app.env["DATABASE_URL"], &StoreOptions::default())
        .await
        .unwrap();
    let before = app.events(&admin, "").await.len();
    assert!(before >= 3);
    let policy = PurgePolicy::new(Duration::from_secs(930), Duration::from_secs(900));
    assert_eq!(policy.event_retention, Duration::from_secs(90 * 86_400));
    let day = Duration::from_secs(86_400);
    // 89 days on, every event is within the default 90 days.
    store
        .purge(&policy, Timestamp::now().plus(89 * day))
        .await
        .unwrap();
    assert_eq!(app.events(&admin, "").await.len(), before);
    // 91 days on, all are past it (the admin's own login below is new).
    let done = store
        .purge(&policy, Timestamp::now().plus(91 * day))
        .await
        .unwrap();
    let (_, purged) = done
        .iter()
        .find(|(rule, _)| rule.table == "events")
        .unwrap();
    assert_eq!(purged.rows as usize, before);
    assert!(app.events(&admin, "").await.is_empty());
    store.close().await;
}

/// `authd purge` applies `EVENT_RETENTION` and prints what it deleted.
#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_purge_deletes_events_past_event_retention(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let place = ProcessStore::new(db).await;
    let migrated = run_authd(place.dir.path(), place.vars(&[]), &["migrate"], None).await;
    assert!(migrated.status.success(), "{}", migrated.stderr);
    let store = Store::connect(&place.database_url, &StoreOptions::default())
        .await
        .unwrap();
    let origin = Origin::operator();
    let event = NewEvent::new(EventType::LoginFailed, None, &origin);
    store.record_event(&event).await.unwrap();
    store.record_event(&event).await.unwrap();
    // Make one of them two days old (an append-only table has no other way to age).
    const AGE: &str =
        "UPDATE events SET at = $1 WHERE id = (SELECT id FROM events ORDER BY id LIMIT 1)";
    let two_days_ago = Timestamp::now().minus(Duration::from_secs(2 * 86_400));
    let aged = match &store {
        Store::Sqlite(pool) => {
            let done = sqlx::query(AGE).bind(two_days_ago).execute(pool).await;
            done.unwrap().rows_affected()
        }
        Store::Postgres(pool) => {
            let done = sqlx::query(AGE).bind(two_days_ago).execute(pool).await;
            done.unwrap().rows_affected()
        }
    };
    assert_eq!(aged, 1);

    let vars = place.vars(&[("EVENT_RETENTION", "1d")]);
    let done = run_authd(place.dir.path(), vars, &["purge"], None).await;
    assert!(done.status.success(), "{}", done.stderr);
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with("events "))
        .unwrap_or_else(|| panic!("{}", done.stdout));
    assert_eq!(line.split_whitespace().nth(1), Some("1"), "{}", done.stdout);
    let left = store
        .list_events(Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(left.events.len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_the_event_listing_its_filters_and_every_type() {
    let app = spawn_app(Db::Sqlite).await;
    let doc: Value = app.get_json("/openapi.json").await;
    let operation = &doc["paths"]["/api/admin/events"]["get"];
    for status in ["200", "400", "401", "403", "503"] {
        assert!(operation["responses"].get(status).is_some(), "{status}");
    }
    let parameters = operation["parameters"].as_array().unwrap();
    let names: Vec<&str> = parameters
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user", "type", "limit", "after"]);
    let schemas = &doc["components"]["schemas"];
    let types: Vec<&str> = schemas["EventType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let contract: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(types, contract);
    let event = &schemas["Event"]["properties"];
    for field in ["id", "at", "type", "user_id", "ip", "user_agent", "detail"] {
        assert!(event.get(field).is_some(), "Event.{field}");
    }
    assert!(schemas["EventList"]["properties"].get("next").is_some());
}
