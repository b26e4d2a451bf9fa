//! What stops a start, and what a start waits for: absurd settings stop it with one line
//! naming the key; a database that does not accept connections yet is waited for, up to
//! `DATABASE_CONNECT_TIMEOUT`, and then named with the real cause.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;
use crate::process::{Running, Server, authd, refused_start, vars};

#[test]
fn an_absurd_duration_or_size_stops_the_start_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("ACCESS_TOKEN_TTL", "10000y"),
        ("ACCESS_TOKEN_TTL", "18446744073709551615"),
        ("JWT_LEEWAY", "18446744073709551615"),
        ("REQUEST_TIMEOUT", "10000y"),
        ("SHUTDOWN_TIMEOUT", "18446744073709551615"),
        ("REQUEST_BODY_LIMIT", "18446744073709551615"),
    ] {
        let refused = refused_start(dir.path(), key, value);
        assert!(
            refused.line.starts_with(&format!("authd: invalid {key}: ")),
            "{key}={value}: names the key: {}",
            refused.line
        );
    }
}

/// A local port nobody listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_database_is_waited_for_then_named_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let port = free_port();
    let url = format!("postgres://authd:hunter2@127.0.0.1:{port}/authd");
    let vars = [
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
        ("DATABASE_TIMEOUT", "1s"),
        ("DATABASE_CONNECT_TIMEOUT", "2s"),
    ];
    let started = Instant::now();
    let done = Running::start(&mut authd(dir.path(), &vars), None).wait(Duration::from_secs(30));
    let took = started.elapsed();
    assert!(!done.status.success(), "{}", done.stderr);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "exited after {took:?}"
    );
    let last = done.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "authd: could not reach the database at 127.0.0.1:{port} after 2s: "
        )),
        "{}",
        done.stderr
    );
    assert!(last.to_lowercase().contains("connection refused"), "{last}");
    let retries = done
        .stderr
        .lines()
        .filter(|l| l.contains("the database cannot be reached yet"))
        .count();
    assert!(retries >= 2, "each attempt is logged: {}", done.stderr);
    for unwanted in ["hunter2", "invalid DATABASE_URL", "panicked"] {
        assert!(
            !done.stderr.contains(unwanted),
            "{unwanted}: {}",
            done.stderr
        );
    }

    // A URL that does not parse is not waited for.
    let vars = [
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", "postgres://authd:hunter2@[::1/authd"),
        ("JWT_SECRET", SECRET),
        ("DATABASE_CONNECT_TIMEOUT", "30s"),
    ];
    let started = Instant::now();
    let done = Running::start(&mut authd(dir.path(), &vars), None).wait(Duration::from_secs(30));
    assert!(!done.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{}", done.stderr);
    assert!(
        lines[0].starts_with("authd: invalid DATABASE_URL: "),
        "{}",
        lines[0]
    );
    assert!(!done.stderr.contains("hunter2"), "{}", done.stderr);
}

/// From `at` on, forwards every connection to `127.0.0.1:port` to `upstream`.
async fn forward_after(at: Duration, port: u16, upstream: SocketAddr) {
    tokio::time::sleep(at).await;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(upstream).await {
                    let _ = copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_comes_up_during_the_wait_is_used() {
    if !postgres_or_skip("start-up wait test not run") {
        return;
    }
    let pg = PgDatabase::create().await;
    let mut url = reqwest::Url::parse(&pg.url).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let port = free_port();
    url.set_port(Some(port)).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let settings = vars(&[
        ("DATA_DIR", &data_dir),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
        ("HTTP_WORKERS", "1"),
        // The pool alone would give up after this; the wait is what keeps authd starting.
        ("DATABASE_TIMEOUT", "1s"),
        ("DATABASE_CONNECT_TIMEOUT", "30s"),
    ]);

    tokio::spawn(forward_after(Duration::from_millis(2500), port, upstream));
    let started = Instant::now();
    let server = Server::start(dir.path(), &settings).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(
        server.log().contains("the database cannot be reached yet"),
        "{}",
        server.log()
    );
    drop(server);
    drop(pg);
}
