//! JSON bodies are I-JSON (RFC 7493): a member name given twice, at any depth and however
//! escaped, is 400 `invalid_request` on every endpoint, and nothing happens.

use reqwest::{Response, StatusCode};
use rstest::rstest;
use serde_json::json;

use crate::helpers::*;

/// A password that is not the user's.
const WRONG: &str = "wrong password here";

/// `method path` with a raw JSON body and, optionally, a bearer token.
async fn send_json(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> Response {
    let request = app
        .client
        .request(method, app.url(path))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.expect("request")
}

async fn assert_not_ijson(response: Response) {
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("I-JSON"),
        "{body}"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_name_in_a_registration_registers_nobody(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    for body in [
        format!(r#"{{"username":"alice","username":"bob","password":"{PASSWORD}"}}"#),
        format!(r#"{{"username":"alice","\u0075sername":"bob","password":"{PASSWORD}"}}"#),
        format!(r#"{{"username":"alice","password":"{PASSWORD}","password":"password123"}}"#),
        format!(
            r#"{{"username":"alice","password":"{PASSWORD}","extra":[{{"x":1}},{{"x":1,"x":2}}]}}"#
        ),
    ] {
        assert_not_ijson(
            send_json(&app, reqwest::Method::POST, "/auth/register", &body, None).await,
        )
        .await;
    }
    // Neither name was taken.
    app.create_user("alice").await;
    app.create_user("bob").await;
    // The same name in different objects is no repetition.
    let body =
        format!(r#"{{"username":"carol","password":"{PASSWORD}","a":{{"x":1}},"b":{{"x":2}}}}"#);
    let response = send_json(&app, reqwest::Method::POST, "/auth/register", &body, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_name_in_a_login_logs_nobody_in(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    for body in [
        format!(r#"{{"username":"alice","password":"{WRONG}","password":"{PASSWORD}"}}"#),
        format!(r#"{{"username":"mallory","username":"alice","password":"{PASSWORD}"}}"#),
        format!(r#"{{"username":"alice","password":"{WRONG}","pass\u0077ord":"{PASSWORD}"}}"#),
    ] {
        assert_not_ijson(send_json(&app, reqwest::Method::POST, "/auth/login", &body, None).await)
            .await;
    }
    app.tokens("alice").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_name_in_a_password_change_changes_nothing(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let (old, new) = (PASSWORD, "a brand new passphrase for alice 7");
    for body in [
        format!(
            r#"{{"current_password":"{old}","new_password":"{new}","new_password":"{new} 8"}}"#
        ),
        format!(
            r#"{{"current_password":"{WRONG}","current_password":"{old}","new_password":"{new}"}}"#
        ),
        format!(
            r#"{{"current_password":"{old}","new_password":"{new}","n\u0065w_password":"{new}"}}"#
        ),
    ] {
        assert_not_ijson(
            send_json(
                &app,
                reqwest::Method::PUT,
                "/api/me/password",
                &body,
                Some(&tokens.access),
            )
            .await,
        )
        .await;
    }
    // The password is unchanged and the session still open.
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
    app.tokens("alice").await;
    assert_eq!(
        app.login("alice", new).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_that_are_not_i_json_are_refused(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    // A noncharacter is refused as not I-JSON; a lone surrogate is not JSON at all.
    let noncharacter = format!(r#"{{"username":"alice","password":"{PASSWORD}\uffff"}}"#);
    assert_not_ijson(
        send_json(
            &app,
            reqwest::Method::POST,
            "/auth/register",
            &noncharacter,
            None,
        )
        .await,
    )
    .await;
    let surrogate = format!(r#"{{"username":"alice","password":"{PASSWORD}\ud800"}}"#);
    let response = send_json(
        &app,
        reqwest::Method::POST,
        "/auth/register",
        &surrogate,
        None,
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A plain body still works.
    let response = app
        .post_json(
            "/auth/register",
            &json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
