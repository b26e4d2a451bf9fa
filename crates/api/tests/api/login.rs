use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_a_token_pair_that_is_never_cached(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    let response = app.login("alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 30 * 24 * 3600);
    assert_eq!(body.as_object().unwrap().len(), 5, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 43, "at least 256 bits: {refresh}");

    let access = body["access_token"].as_str().unwrap();
    let header = jwt_part(access, 0);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let claims = jwt_part(access, 1);
    assert_eq!(claims["iss"], "authd");
    assert_eq!(claims["aud"], "api");
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["roles"], json!([]));
    for claim in ["sub", "sid", "jti"] {
        assert!(
            uuid::Uuid::parse_str(claims[claim].as_str().unwrap()).is_ok(),
            "{claim}"
        );
    }
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 900);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_login_opens_its_own_session_with_unique_token_ids(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    let a = app.tokens("alice").await;
    let b = app.tokens("alice").await;
    assert_ne!(jwt_part(&a.access, 1)["sid"], jwt_part(&b.access, 1)["sid"]);
    assert_ne!(jwt_part(&a.access, 1)["jti"], jwt_part(&b.access, 1)["jti"]);
    assert_ne!(a.refresh, b.refresh);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_compares_usernames_case_insensitively(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("Alice").await;
    for name in ["alice", "ALICE", "  Alice", "ａｌｉｃｅ"] {
        assert_eq!(
            app.login(name, PASSWORD).await.status(),
            StatusCode::OK,
            "{name}"
        );
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_and_wrong_password_get_the_same_answer(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    let wrong_password = assert_error(
        app.login("alice", "not the password at all").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown_user = assert_error(
        app.login("nobody", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let impossible_name = assert_error(
        app.login("x", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(wrong_password, impossible_name);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_accepts_http_basic_with_an_empty_body(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    let response = app
        .client
        .post(app.url("/auth/login"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens = Tokens::from_body(&response.json().await.unwrap());
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);

    // The scheme name is case-insensitive; a wrong password is a wrong password.
    let encoded = STANDARD.encode(format!("alice:{PASSWORD}"));
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("Authorization", format!("basic {encoded}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .client
        .post(app.url("/auth/login"))
        .basic_auth("alice", Some("wrong password here"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_credentials_or_with_malformed_ones_is_invalid_request(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let response = app
        .client
        .post(app.url("/auth/login"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    for header in ["Basic !!!notbase64", "Basic bm9jb2xvbg=="] {
        let response = app
            .client
            .post(app.url("/auth/login"))
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    for body in [
        json!({"username": "alice"}),
        json!({"password": PASSWORD}),
        json!({"username": 5, "password": PASSWORD}),
        json!([1, 2]),
    ] {
        let response = app.post_json("/auth/login", &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}
