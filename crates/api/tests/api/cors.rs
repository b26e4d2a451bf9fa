//! CORS: nothing allowed by default; configured origins get preflights answered and the
//! headers a client must read exposed, on errors too.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

const APP: &str = "https://app.example.com";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/auth/login"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, authorization",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_no_origin_is_allowed() {
    let app = spawn_app(Db::Sqlite).await;
    let response = preflight(&app, APP).await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(response.status().is_client_error());
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("Origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_origin_gets_preflights_answered_and_the_headers_it_needs() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:5173",
        )],
    )
    .await;
    let response = preflight(&app, APP).await;
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], APP);
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        headers.get("access-control-allow-credentials").is_none(),
        "no cookies, no credentials mode"
    );

    // An actual request that fails: the browser must be able to read the challenge.
    let response = app
        .client
        .get(app.url("/api/me"))
        .header("Origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], APP);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["www-authenticate", "retry-after", "x-request-id"] {
        assert!(exposed.contains(name), "{name} exposed: {exposed}");
    }
    assert_unauthorized(response, false).await;

    // Another origin gets nothing.
    let response = preflight(&app, "https://evil.example.com").await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
