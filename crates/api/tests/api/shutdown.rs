//! Graceful shutdown: on SIGTERM or SIGINT the server stops accepting, lets the request in
//! flight finish, closes its pool and exits 0.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;
use crate::process::ProcessStore;

async fn a_signal_lets_the_request_in_flight_finish(signal: &str) {
    let store = ProcessStore::new(Db::Sqlite).await;
    // Costly hashing, so that a login is surely in flight when the signal arrives.
    let mut server = store
        .start(&[
            ("PASSWORD_HASH_MEMORY", "65536"),
            ("PASSWORD_HASH_ITERATIONS", "8"),
            ("SHUTDOWN_TIMEOUT", "20s"),
        ])
        .await;
    server.create_user("alice").await;

    let in_flight = tokio::spawn({
        let http = crate::helpers::Http::new(server.address.clone());
        async move {
            let started = Instant::now();
            let response = http.login("alice", PASSWORD).await;
            (response.status(), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.signal(signal);
    let exited = server.exited_within(Duration::from_secs(30)).await;
    let (status, took) = in_flight.await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the login in flight finished (after {took:?})"
    );
    assert!(
        took > Duration::from_millis(100),
        "the login was still in flight at the signal"
    );
    let exited = exited.expect("the server exits after a signal");
    assert!(exited.success(), "exit status {exited}");
    let log = server.log();
    assert!(
        log.contains("shutting down") && log.contains(signal),
        "{log}"
    );
    // Nothing listens any more.
    assert!(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_then_exits() {
    a_signal_lets_the_request_in_flight_finish("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_shuts_down_gracefully_too() {
    a_signal_lets_the_request_in_flight_finish("INT").await;
}
