//! The `/api` scope: the bearer middleware and the caller's own session and account.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Response, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

const NEW_PASSWORD: &str = "a brand new passphrase for alice 7";
const OTHER_SECRET: &str = "another-secret-another-secret-another-secret";

/// `GET path` with a raw `Authorization` header.
async fn get_with_authorization(app: &TestApp, path: &str, authorization: &str) -> Response {
    app.client
        .get(app.url(path))
        .header("Authorization", authorization)
        .send()
        .await
        .expect("request")
}

/// The token with its claims segment replaced by `claims`, header and signature kept.
fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact token: {token}");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// The token with its header segment replaced by `header`, claims and signature kept.
fn with_header(token: &str, header: &Value, signature: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    format!("{header}.{}.{signature}", parts[1])
}

/// `GET /api/session` until the token is refused: revocation must reach it within 2 s
/// (API.md); bounded at about 5 s so a slow machine does not make this flaky.
async fn session_once_revoked(app: &TestApp, access_token: &str) -> Response {
    for _ in 0..20 {
        let response = app.session(access_token).await;
        if response.status() != StatusCode::OK {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.session(access_token).await
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_returns_exactly_the_verified_claims_of_the_token(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let response = app.session(&tokens.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let claims = jwt_part(&tokens.access, 1);
    let keys = [
        "sub",
        "sid",
        "username",
        "roles",
        "exp",
        "iat",
        "jti",
        "client_id",
        "amr",
    ];
    assert_eq!(
        body.as_object().unwrap().len(),
        keys.len(),
        "exactly {keys:?}: {body}"
    );
    for key in keys {
        assert!(!body[key].is_null(), "{key} missing from {body}");
        assert_eq!(body[key], claims[key], "{key}");
    }
    assert_eq!(body["username"], "alice");
    assert_eq!(body["roles"], json!([]));
    assert_eq!(body["amr"], json!(["pwd"]));
    assert_eq!(body["client_id"], "authd");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheme_name_is_case_insensitive(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response =
            get_with_authorization(&app, "/api/session", &format!("{scheme} {}", tokens.access))
                .await;
        assert_eq!(response.status(), StatusCode::OK, "scheme {scheme}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["username"], "alice", "scheme {scheme}");
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_bearer_token_gets_the_bare_challenge(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    for path in ["/api/session", "/api/me"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_unauthorized(response, false).await;
    }
    // Another scheme is not a bearer token, even with the right credentials.
    let basic = format!("Basic {}", STANDARD.encode(format!("alice:{PASSWORD}")));
    assert_unauthorized(
        get_with_authorization(&app, "/api/session", &basic).await,
        false,
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_token_is_rejected_as_invalid(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let parts: Vec<&str> = tokens.access.split('.').collect();
    let (header, payload, signature) = (parts[0], parts[1], parts[2]);
    let malformed = [
        "garbage".to_owned(),
        "not.a.token".to_owned(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}."),
        format!("{header}..{signature}"),
        format!("{header}.{payload}.{signature}.{signature}"),
        format!(
            "{header}.{payload}.{}",
            URL_SAFE_NO_PAD.encode(b"not the signature")
        ),
        format!("{}x", tokens.access),
    ];
    for token in &malformed {
        let response = app.session(token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "token {token}");
        assert_unauthorized(response, true).await;
    }
    // The genuine token still works: the refusals were about the tokens.
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_a_changed_claim_or_header_is_rejected(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let mut claims = jwt_part(&tokens.access, 1);
    claims["roles"] = json!(["admin"]);
    let promoted = with_claims(&tokens.access, &claims);
    assert_eq!(jwt_part(&promoted, 1)["roles"], json!(["admin"]));
    assert_unauthorized(app.session(&promoted).await, true).await;

    let signature = tokens.access.split('.').nth(2).unwrap();
    let mut header = jwt_part(&tokens.access, 0);
    header["alg"] = json!("none");
    assert_unauthorized(
        app.session(&with_header(&tokens.access, &header, "")).await,
        true,
    )
    .await;
    assert_unauthorized(
        app.session(&with_header(&tokens.access, &header, signature))
            .await,
        true,
    )
    .await;

    let mut header = jwt_part(&tokens.access, 0);
    header["kid"] = json!("some-other-key");
    assert_unauthorized(
        app.session(&with_header(&tokens.access, &header, signature))
            .await,
        true,
    )
    .await;

    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_secret_is_rejected(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let elsewhere = spawn_app_with(db, &[("JWT_SECRET", OTHER_SECRET)]).await;
    let tokens = elsewhere.signed_in("alice").await;
    assert_eq!(
        elsewhere.session(&tokens.access).await.status(),
        StatusCode::OK
    );
    assert_unauthorized(app.session(&tokens.access).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_a_replica_with_the_same_settings_is_accepted(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    // The control for the issuer, audience and secret tests: a token from another
    // process is refused because of what differs, not because it comes from elsewhere.
    let app = spawn_app(db).await;
    let replica = spawn_app(db).await;
    let tokens = replica.signed_in("alice").await;
    let response = app.session(&tokens.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["username"], "alice");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_rejected(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("ACCESS_TOKEN_TTL", "1"), ("JWT_LEEWAY", "0")]).await;
    let tokens = app.signed_in("alice").await;
    let claims = jwt_part(&tokens.access, 1);
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(
        exp - claims["iat"].as_i64().unwrap(),
        1,
        "ACCESS_TOKEN_TTL=1 applies: {claims}"
    );
    // Past exp by more than a second, whatever the rounding (bounded: ~10 s at most).
    for _ in 0..20 {
        if unix_now() > exp + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(unix_now() > exp + 1);
    assert_unauthorized(app.session(&tokens.access).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_issuer_is_rejected(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let elsewhere = spawn_app_with(db, &[("JWT_ISSUER", "someone-else")]).await;
    let tokens = elsewhere.signed_in("alice").await;
    assert_eq!(jwt_part(&tokens.access, 1)["iss"], "someone-else");
    assert_eq!(
        elsewhere.session(&tokens.access).await.status(),
        StatusCode::OK
    );
    assert_unauthorized(app.session(&tokens.access).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_is_rejected(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let elsewhere = spawn_app_with(db, &[("JWT_AUDIENCE", "another-api")]).await;
    let tokens = elsewhere.signed_in("alice").await;
    assert_eq!(jwt_part(&tokens.access, 1)["aud"], "another-api");
    assert_eq!(
        elsewhere.session(&tokens.access).await.status(),
        StatusCode::OK
    );
    assert_unauthorized(app.session(&tokens.access).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_query_string_is_ignored(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let url = format!("{}?access_token={}", app.url("/api/session"), tokens.access);
    let response = app.client.get(url).send().await.unwrap();
    assert_unauthorized(response, false).await;
    // Nor from a form body.
    let response = app
        .client
        .get(app.url("/api/session"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("access_token={}", tokens.access))
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, false).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_is_not_a_bearer_token(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    assert_unauthorized(app.session(&tokens.refresh).await, true).await;
    assert_unauthorized(app.me(&tokens.refresh).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_authorization_header_is_refused_and_the_server_keeps_serving(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let huge = format!("Bearer {}", "a".repeat(100_000));
    let response = app
        .client
        .get(app.url("/api/session"))
        .header("Authorization", huge)
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let status = response.status();
    assert!(
        [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        ]
        .contains(&status),
        "status {status}"
    );
    if status == StatusCode::UNAUTHORIZED {
        assert_unauthorized(response, true).await;
    }
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_returns_the_user_object_and_nothing_else(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let response = app.me(&tokens.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains("$argon2"), "no hash: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "disabled",
            "email",
            "email_verified",
            "id",
            "mfa",
            "roles",
            "username"
        ],
        "{body}"
    );
    assert_eq!(body["id"], jwt_part(&tokens.access, 1)["sub"]);
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    assert_eq!(body["username"], "alice");
    assert_eq!(body["roles"], json!([]));
    assert_eq!(body["disabled"], false);
    let created_at = body["created_at"].as_str().expect("created_at is a string");
    assert!(
        created_at.contains('T') && created_at.ends_with('Z'),
        "RFC 3339 UTC: {created_at}"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_revokes_every_session_and_replaces_the_password(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let this = app.signed_in("alice").await;
    let other = app.tokens("alice").await;
    let bob = app.signed_in("bob").await;
    let response = app
        .change_password(&this.access, PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for tokens in [&this, &other] {
        assert_unauthorized(session_once_revoked(&app, &tokens.access).await, true).await;
        assert_error(
            app.refresh(&tokens.refresh).await,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        )
        .await;
    }
    assert_error(
        app.login("alice", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let response = app.login("alice", NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = Tokens::from_body(&response.json().await.unwrap());
    assert_eq!(app.session(&fresh.access).await.status(), StatusCode::OK);
    // Another user's session is untouched.
    assert_eq!(app.session(&bob.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_current_password_is_refused_and_changes_nothing(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let response = app
        .change_password(&tokens.access, "not the password at all", NEW_PASSWORD)
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        app.login("alice", NEW_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_401_on_the_protected_scope_carries_the_bearer_challenge(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    // API.md: "401s on the protected scope carry WWW-Authenticate: Bearer realm="api""
    // (and RFC 9110 §15.5.2: a 401 always carries a challenge), this one included.
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let response = app
        .change_password(&tokens.access, "not the password at all", NEW_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with(r#"Bearer realm="api""#)),
        "WWW-Authenticate {challenge:?}"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_new_password_is_refused_and_changes_nothing(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let response = app
        .change_password(&tokens.access, PASSWORD, "password123")
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_with_missing_or_wrong_fields_is_an_invalid_request(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    for body in [
        json!({}),
        json!({"current_password": PASSWORD}),
        json!({"new_password": NEW_PASSWORD}),
        json!({"current_password": PASSWORD, "new_password": 12345678}),
        json!({"current_password": [PASSWORD], "new_password": NEW_PASSWORD}),
        json!([]),
    ] {
        let response = app
            .client
            .put(app.url("/api/me/password"))
            .bearer_auth(&tokens.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_needs_a_token(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    let response = app
        .client
        .put(app.url("/api/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, false).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}
