//! The findings of the issue 10 review, each as the attacker would try it over HTTP or at
//! start. The registration limit is in memory, the same on either database: these run on
//! SQLite.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::json;

use crate::helpers::*;
use crate::process::{Running, authd};

/// `POST /auth/register` as relayed by the trusted proxy 127.0.0.1 for `forwarded`.
async fn register_from(app: &TestApp, forwarded: &[u8], username: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/register"))
        .header(
            "X-Forwarded-For",
            HeaderValue::from_bytes(forwarded).unwrap(),
        )
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_registrations_also_count_against_their_slash_56_and_slash_48() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("REGISTER_RATE_PER_ADDRESS", "1/1h"),
        ],
    )
    .await;
    // 2001:db8:1::/56 holds the /64s 2001:db8:1:0:: to 2001:db8:1:ff::; its budget is 4.
    for n in 0..4 {
        let address = format!("2001:db8:1:{n:x}::1");
        let response = register_from(&app, address.as_bytes(), &format!("user{n}")).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{address}");
    }
    let response = register_from(&app, b"2001:db8:1:4::1", "user4").await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a fifth /64 of the /56"
    );
    assert_eq!(response.headers()["retry-after"], "900");
    // Another /56 of the same /48 (budget 16) still has room.
    let response = register_from(&app, b"2001:db8:1:100::1", "user5").await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_limits_registrations_from_any_number_of_addresses() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("REGISTER_RATE_TOTAL", "2/1h"),
        ],
    )
    .await;
    for n in 1..=2 {
        let address = format!("203.0.113.{n}");
        let response = register_from(&app, address.as_bytes(), &format!("user{n}")).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{address}");
    }
    let response = register_from(&app, b"2001:db8:9::1", "user3").await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1800")
    );
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_entry_in_x_forwarded_for_does_not_move_the_client_onto_the_proxy() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("REGISTER_RATE_PER_ADDRESS", "1/1h"),
        ],
    )
    .await;
    let first = register_from(&app, b"203.0.113.5", "alice").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // The client sent `\xe9`; a proxy such as nginx appended its real address to that line.
    let again = register_from(&app, b"\xe9, 203.0.113.5", "bob").await;
    assert_eq!(
        again.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "still 203.0.113.5's budget"
    );
    // And the proxy's own address was not charged for it.
    let proxy = app.register("carol", PASSWORD).await;
    assert_eq!(proxy.status(), StatusCode::CREATED);
}

/// Starts authd with `extra` and returns the one line it printed on refusing to start.
fn refused_start(extra: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let url = format!("sqlite://{data_dir}/auth.db");
    let mut vars = vec![
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
    ];
    vars.extend_from_slice(extra);
    // Were the settings accepted, authd would serve: the bounded wait would then fail.
    let done = Running::start(&mut authd(dir.path(), &vars), None).wait(Duration::from_secs(30));
    assert!(!done.status.success(), "{extra:?}: {}", done.status);
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{extra:?}: one line: {:?}", done.stderr);
    lines[0].to_owned()
}

#[test]
fn trusted_proxies_that_take_in_every_client_stop_the_start_naming_the_key() {
    for wide in [
        "0.0.0.0/0",
        "::/0",
        "10.0.0.1, 0.0.0.0/1",
        "::ffff:0.0.0.0/96",
    ] {
        let line = refused_start(&[("TRUSTED_PROXIES", wide)]);
        assert!(
            line.starts_with("authd: invalid TRUSTED_PROXIES: "),
            "{wide}: {line}"
        );
        assert!(line.contains("list only the proxies"), "{line}");
    }
}

#[test]
fn weak_or_oversized_argon2_settings_stop_the_start_naming_the_key() {
    let line = refused_start(&[
        ("PASSWORD_HASH_MEMORY", "8"),
        ("PASSWORD_HASH_ITERATIONS", "1"),
    ]);
    assert!(
        line.starts_with("authd: invalid PASSWORD_HASH_MEMORY: "),
        "{line}"
    );
    assert!(line.contains("OWASP"), "{line}");
    // 1 GiB for each of 1024 hashing threads: 1 TiB, over half of any machine here.
    let line = refused_start(&[
        ("PASSWORD_HASH_MEMORY", "1048576"),
        ("PASSWORD_HASH_CONCURRENCY", "1024"),
    ]);
    assert!(
        line.starts_with("authd: invalid PASSWORD_HASH_MEMORY: "),
        "{line}"
    );
    assert!(line.contains("PASSWORD_HASH_CONCURRENCY=1024"), "{line}");
}
