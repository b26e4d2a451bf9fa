//! Request ids echoed in `X-Request-Id`, and Prometheus metrics at `GET /metrics`.

use reqwest::StatusCode;
use rstest::rstest;

use crate::helpers::*;

async fn metrics_text(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

/// The value of one sample line, e.g. `authd_logins_total{outcome="failed"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id_and_a_proxys_own_is_kept() {
    let app = spawn_app(Db::Sqlite).await;
    let mut seen = std::collections::HashSet::new();
    for path in ["/healthz", "/api/me", "/no/such/path"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(seen.insert(id), "ids are unique");
    }
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-7f3a.42");
    for bad in ["has spaces in it", &"x".repeat(200), "quote\"d"] {
        let replaced = app
            .client
            .get(app.url("/healthz"))
            .header("X-Request-Id", bad)
            .send()
            .await
            .unwrap();
        let id = replaced.headers()["x-request-id"].to_str().unwrap();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{bad:?} replaced by {id}"
        );
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_logins_refreshes_and_read_the_gauges(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[("LOGIN_FREE_FAILURES", "1"), ("REFRESH_REUSE_GRACE", "0")],
    )
    .await;
    let tokens = app.signed_in("alice").await;
    app.create_user("bob").await;
    for _ in 0..2 {
        assert_eq!(
            app.login("bob", "not the password at all").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("bob", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh("garbage").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.session(&tokens.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let _ = app
        .client
        .get(app.url("/no/such/path/12345"))
        .send()
        .await
        .unwrap();
    let invented = reqwest::Method::from_bytes(b"BREW").unwrap();
    let _ = app
        .client
        .request(invented, app.url("/healthz"))
        .send()
        .await
        .unwrap();

    let text = metrics_text(&app).await;
    let count =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
    assert_eq!(count(r#"authd_logins_total{outcome="succeeded"}"#), 1.0);
    assert_eq!(count(r#"authd_logins_total{outcome="failed"}"#), 2.0);
    assert_eq!(count(r#"authd_logins_total{outcome="throttled"}"#), 1.0);
    assert_eq!(count(r#"authd_refreshes_total{outcome="rotated"}"#), 1.0);
    assert_eq!(
        count(r#"authd_refreshes_total{outcome="reuse_detected"}"#),
        1.0
    );
    assert_eq!(count(r#"authd_refreshes_total{outcome="invalid"}"#), 1.0);
    assert_eq!(count("authd_password_hash_queue_depth"), 0.0);
    assert_eq!(count("authd_revoked_sessions"), 1.0, "the reused session");
    // The request histogram, by its labels.
    let requests = |labels: &str| count(&format!("authd_http_request_duration_seconds_{labels}"));
    assert_eq!(
        requests(r#"count{method="POST",route="/auth/login",status="401"}"#),
        2.0
    );
    assert_eq!(
        requests(r#"count{method="POST",route="/auth/login",status="429"}"#),
        1.0
    );
    assert_eq!(
        requests(r#"count{method="GET",route="/api/session",status="401"}"#),
        1.0
    );
    assert!(
        requests(r#"bucket{method="POST",route="/auth/register",status="201",le="+Inf"}"#) >= 2.0
    );
    // Raw paths never become series: unknown paths share one label.
    assert!(!text.contains("12345") && !text.contains("BREW"));
    assert!(
        text.contains(r#"method="other",route="/healthz""#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    // No secrets in metrics.
    assert!(!text.contains(&tokens.access) && !text.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_addr_the_metrics_are_served_only_there() {
    let app = spawn_app_with(Db::Sqlite, &[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_error(public, StatusCode::NOT_FOUND, "not_found").await;
    let port = app.metrics_port.expect("a metrics listener");
    let private = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    assert!(
        private
            .text()
            .await
            .unwrap()
            .contains("authd_password_hash_queue_depth")
    );
}
