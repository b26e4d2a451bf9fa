//! The error contract: every error is `{"error", "error_description"}` JSON, whatever
//! produced it (router, extractors, body limits, handlers).

use reqwest::{Method, Response, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

/// `POST path` with a raw body and content type.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<String>,
) -> Response {
    app.client
        .post(app.url(path))
        .header("Content-Type", content_type)
        .body(body.into())
        .send()
        .await
        .expect("request")
}

/// A JSON body over `size` bytes for each of the public endpoints.
fn oversized_body(path: &str, size: usize) -> String {
    let filler = "a".repeat(size);
    let body = match path {
        "/auth/refresh" => json!({"refresh_token": filler}),
        _ => json!({"username": "alice", "password": filler}),
    };
    let body = body.to_string();
    assert!(body.len() > size);
    body
}

/// A request that must fail: method, path, headers, body.
type BadRequest<'a> = (Method, &'a str, Vec<(&'a str, String)>, String);

/// Asserts the contract's error shape whatever the code; returns the status and body.
async fn assert_json_error(response: Response, what: &str) -> (StatusCode, Value) {
    let status = response.status();
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{what}: status {status}"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {status}, content-type {content_type:?}"
    );
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: {status}, not JSON ({e}): {text:?}"));
    assert!(
        body["error"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: {body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "{what}: exactly error and error_description: {body}"
    );
    (status, body)
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_is_a_json_404(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    for path in [
        "/nope",
        "/",
        "/auth",
        "/auth/nope",
        "/healthz/extra",
        "/.well-known/nope",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Asking for HTML changes nothing.
    let response = app
        .client
        .get(app.url("/nope"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_on_a_known_path_is_a_json_405(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    for (method, path) in [
        (Method::DELETE, "/healthz"),
        (Method::POST, "/healthz"),
        (Method::POST, "/readyz"),
        (Method::GET, "/auth/login"),
        (Method::GET, "/auth/register"),
        (Method::PUT, "/auth/refresh"),
        (Method::POST, "/.well-known/jwks.json"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
    // Behind the bearer guard, with a valid token (without one, the 401 may come first).
    let tokens = app.signed_in("alice").await;
    for (method, path) in [
        (Method::GET, "/auth/logout"),
        (Method::POST, "/api/session"),
        (Method::DELETE, "/api/me"),
        (Method::POST, "/api/me/password"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&tokens.access)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_invalid_requests(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let credentials_bodies = [
        "",
        "{",
        r#"{"username": "alice", "password": "#,
        "not json at all",
        "null",
        r#""alice""#,
        "[]",
        "{}",
        r#"{"username": "alice"}"#,
        r#"{"password": "correct horse battery staple"}"#,
        r#"{"username": 42, "password": "correct horse battery staple"}"#,
        r#"{"username": "alice", "password": null}"#,
        r#"{"username": ["alice"], "password": "correct horse battery staple"}"#,
        r#"{"username": "alice", "password": {"value": "correct horse battery staple"}}"#,
    ];
    for path in ["/auth/register", "/auth/login"] {
        for body in credentials_bodies {
            let response = post_raw(&app, path, "application/json", body).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{path} {body:?}"
            );
            assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
    }
    let refresh_bodies = [
        "",
        "{",
        "null",
        "[]",
        "{}",
        r#"{"refresh_token": 5}"#,
        r#"{"refresh_token": null}"#,
        r#"{"refresh_token": ["a-refresh-token"]}"#,
    ];
    for body in refresh_bodies {
        let response = post_raw(&app, "/auth/refresh", "application/json", body).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "/auth/refresh {body:?}"
        );
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    // None of it created a user.
    app.create_user("alice").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_not_a_request_body(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    // API.md: the bodies are JSON objects; an array holding the right values in the
    // fields' order is malformed, not a positional form of the object.
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let new_password = "a brand new passphrase for alice 7";
    let mut accepted = Vec::new();
    for (method, path, body) in [
        (Method::POST, "/auth/register", json!(["bob", PASSWORD])),
        (Method::POST, "/auth/login", json!(["alice", PASSWORD])),
        (Method::POST, "/auth/refresh", json!([tokens.refresh])),
        (
            Method::PUT,
            "/api/me/password",
            json!([PASSWORD, new_password]),
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&tokens.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status == StatusCode::BAD_REQUEST {
            assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        } else {
            accepted.push(format!("{method} {path} {body} -> {status}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "array bodies not refused with 400: {accepted:#?}"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_never_echoes_a_submitted_password(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    let bodies = [
        json!({"username": "x", "password": 12345678901_u64}),
        json!({"username": "x", "password": ["hunter2-secret"]}),
        json!({"username": "alice", "password": 12345678901_u64}),
        json!({"username": "alice", "password": ["hunter2-secret"]}),
        json!({"username": "alice", "password": {"hunter2-secret": true}}),
        json!({"username": "alice", "password": 1.2345678901}),
        json!(["hunter2-secret", 12345678901_u64]),
    ];
    for path in ["/auth/register", "/auth/login"] {
        for body in &bodies {
            let response = app.post_json(path, body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {text}");
            assert!(!text.contains("hunter2"), "{path} {body}: {text}");
            assert!(!text.contains("12345678901"), "{path} {body}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error["error"], "invalid_request", "{text}");
        }
    }
    for body in [
        json!({"refresh_token": 12345678901_u64}),
        json!({"refresh_token": ["hunter2-secret"]}),
    ] {
        let text = app
            .post_json("/auth/refresh", &body)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("12345678901"),
            "{body}: {text}"
        );
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_an_unsupported_media_type(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let credentials = json!({"username": "alice", "password": PASSWORD}).to_string();
    for path in ["/auth/register", "/auth/login"] {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/html",
        ] {
            let response = post_raw(&app, path, content_type, credentials.clone()).await;
            assert_eq!(
                response.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type}"
            );
            assert_error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
    }
    let form = format!("username=alice&password={}", PASSWORD.replace(' ', "+"));
    let response = post_raw(
        &app,
        "/auth/login",
        "application/x-www-form-urlencoded",
        form,
    )
    .await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = post_raw(
        &app,
        "/auth/refresh",
        "text/plain",
        json!({"refresh_token": "x"}).to_string(),
    )
    .await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Nothing was registered under a wrong content type.
    app.create_user("alice").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_16_kib_is_too_large(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    for path in ["/auth/register", "/auth/login", "/auth/refresh"] {
        let response = post_raw(
            &app,
            path,
            "application/json",
            oversized_body(path, 16 * 1024 + 1),
        )
        .await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    // A body just under the limit is read (and judged on its content): JSON allows
    // trailing whitespace.
    let body = format!(
        "{}{}",
        json!({"username": "alice", "password": PASSWORD}),
        " ".repeat(15 * 1024)
    );
    let response = post_raw(&app, "/auth/register", "application/json", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // And the server still answers.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_limit_is_configurable(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REQUEST_BODY_LIMIT", "1024")]).await;
    for path in ["/auth/register", "/auth/login", "/auth/refresh"] {
        let response = post_raw(&app, path, "application/json", oversized_body(path, 2048)).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    let body = format!(
        "{}{}",
        json!({"username": "alice", "password": PASSWORD}),
        " ".repeat(900)
    );
    assert!(body.len() < 1024);
    let response = post_raw(&app, "/auth/register", "application/json", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_the_key_set_answer_json(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    for (path, expected) in [
        ("/healthz", Some(json!({"status": "ok"}))),
        ("/readyz", None),
        ("/.well-known/jwks.json", Some(json!({"keys": []}))),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        let body: Value = response.json().await.unwrap();
        if let Some(expected) = expected {
            assert_eq!(body, expected, "{path}");
        }
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_response_is_html_or_plain_text(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let big = oversized_body("/auth/login", 20 * 1024);
    let credentials = json!({"username": "alice", "password": PASSWORD}).to_string();
    let wrong_password =
        json!({"username": "alice", "password": "wrong password entirely"}).to_string();
    let json_type = || ("Content-Type", "application/json".to_owned());
    let bearer = || ("Authorization", format!("Bearer {}", tokens.access));
    let requests: Vec<BadRequest> = vec![
        (Method::GET, "/nope", vec![], String::new()),
        (
            Method::GET,
            "/nope",
            vec![("Accept", "text/html".to_owned())],
            String::new(),
        ),
        (Method::GET, "/%ff%fe", vec![], String::new()),
        (Method::GET, "/auth/../../etc/passwd", vec![], String::new()),
        (
            Method::DELETE,
            "/healthz",
            vec![("Accept", "text/html".to_owned())],
            String::new(),
        ),
        (Method::OPTIONS, "/auth/login", vec![], String::new()),
        (Method::PATCH, "/auth/register", vec![], String::new()),
        (Method::GET, "/auth/login", vec![], String::new()),
        (
            Method::POST,
            "/auth/register",
            vec![("Content-Type", "text/plain".to_owned())],
            credentials.clone(),
        ),
        (Method::POST, "/auth/register", vec![], credentials.clone()),
        (
            Method::POST,
            "/auth/register",
            vec![json_type()],
            "{".to_owned(),
        ),
        (
            Method::POST,
            "/auth/register",
            vec![json_type()],
            big.clone(),
        ),
        (Method::POST, "/auth/login", vec![json_type()], big.clone()),
        (
            Method::POST,
            "/auth/login",
            vec![json_type()],
            "[1,2".to_owned(),
        ),
        (
            Method::POST,
            "/auth/login",
            vec![("Authorization", "Basic !!!not-base64".to_owned())],
            String::new(),
        ),
        (
            Method::POST,
            "/auth/login",
            vec![json_type()],
            wrong_password,
        ),
        (
            Method::POST,
            "/auth/refresh",
            vec![json_type()],
            r#"{"refresh_token": "spent"}"#.to_owned(),
        ),
        (Method::POST, "/auth/logout", vec![], String::new()),
        (Method::GET, "/api/session", vec![], String::new()),
        (
            Method::GET,
            "/api/session",
            vec![("Authorization", "Bearer not.a.token".to_owned())],
            String::new(),
        ),
        (Method::GET, "/api/nope", vec![], String::new()),
        (Method::GET, "/api/nope", vec![bearer()], String::new()),
        (Method::POST, "/api/session", vec![bearer()], String::new()),
        (
            Method::PUT,
            "/api/me/password",
            vec![bearer()],
            credentials.clone(),
        ),
        (
            Method::PUT,
            "/api/me/password",
            vec![bearer(), json_type()],
            "{".to_owned(),
        ),
        (
            Method::PUT,
            "/api/me/password",
            vec![bearer(), json_type()],
            big.clone(),
        ),
    ];
    for (method, path, headers, body) in requests {
        let what = format!("{method} {path} {headers:?}");
        let mut request = app.client.request(method.clone(), app.url(path));
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_json_error(response, &what).await;
    }
    // The requests above changed nothing for alice.
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}
