//! Slow and idle clients cannot hold the server: header and body timeouts, and a
//! connection limit that idle connections do not exhaust for long.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Reads until the server closes the connection (bounded); returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut received));
    assert!(read.await.is_ok(), "the server kept a slow connection open");
    String::from_utf8_lossy(&received).into_owned()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_cut_off_after_the_header_timeout() {
    let app = spawn_app_with(Db::Sqlite, &[("REQUEST_HEADER_TIMEOUT", "1s")]).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream).await;
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "cut too early"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_gets_408_after_the_body_timeout() {
    let app = spawn_app_with(Db::Sqlite, &[("REQUEST_BODY_TIMEOUT", "1s")]).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"username\": ",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON error body");
    assert_eq!(body["error"], "request_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_limit_do_not_lock_clients_out() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[("MAX_CONNECTIONS", "2"), ("REQUEST_HEADER_TIMEOUT", "1s")],
    )
    .await;
    // More idle connections than the limit, sending nothing.
    let mut idle = Vec::new();
    for _ in 0..6 {
        idle.push(connect(&app).await);
    }
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(20),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("served once the idle connections time out")
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(idle);
}
