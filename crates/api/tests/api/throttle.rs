use std::time::Duration;

use reqwest::{Response, StatusCode};
use rstest::rstest;

use crate::helpers::*;

const WRONG: &str = "definitely not the password";

/// Asserts a 429 `too_many_attempts` and returns its `Retry-After` in seconds.
async fn assert_throttled(response: Response) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on a 429")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    retry_after
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_throttle_a_username_even_for_the_right_password(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "2")]).await;
    app.create_user("alice").await;
    for _ in 0..3 {
        assert_error(
            app.login("alice", WRONG).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let retry_after = assert_throttled(app.login("alice", PASSWORD).await).await;
    assert!(retry_after <= 2, "first block is short: {retry_after}");
    // Same name after normalisation; another name is not affected.
    assert_throttled(app.login(" ALICE ", PASSWORD).await).await;
    app.create_user("bob").await;
    assert_eq!(app.login("bob", PASSWORD).await.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(retry_after * 1000 + 100)).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
    // A success forgets the failures: the next mistake is a plain 401 again.
    assert_error(
        app.login("alice", WRONG).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_usernames_are_throttled_like_known_ones(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "2")]).await;
    app.create_user("alice").await;
    for name in ["alice", "nobody"] {
        for _ in 0..3 {
            assert_error(
                app.login(name, WRONG).await,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            )
            .await;
        }
    }
    let known = assert_throttled(app.login("alice", WRONG).await).await;
    let unknown = assert_throttled(app.login("nobody", WRONG).await).await;
    assert_eq!(known, unknown, "the throttle does not tell who exists");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_shared_by_every_replica(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let first = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "2")]).await;
    first.create_user("alice").await;
    let env: Vec<(&str, &str)> = first
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let second = spawn_app_with(db, &env).await;
    assert_error(
        first.login("alice", WRONG).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        second.login("alice", WRONG).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        first.login("alice", WRONG).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_throttled(second.login("alice", PASSWORD).await).await;
    assert_throttled(first.login("alice", PASSWORD).await).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_logins_are_throttled_too(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "1")]).await;
    app.create_user("alice").await;
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url("/auth/login"))
            .basic_auth("alice", Some(WRONG))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let response = app
        .client
        .post(app.url("/auth/login"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_throttled(response).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_limit_blocks_an_address_that_guesses_many_names(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[
            ("LOGIN_IP_FREE_FAILURES", "3"),
            ("LOGIN_FREE_FAILURES", "100"),
        ],
    )
    .await;
    app.create_user("bob").await;
    for name in ["u1", "u2", "u3", "u4"] {
        assert_error(
            app.login(name, WRONG).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // Another name, the right password: the address is blocked.
    assert_throttled(app.login("bob", PASSWORD).await).await;
    // X-Forwarded-For is not believed from a peer that is not a trusted proxy.
    let spoofed = app
        .client
        .post(app.url("/auth/login"))
        .header("X-Forwarded-For", "198.51.100.77")
        .json(&serde_json::json!({"username": "bob", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_throttled(spoofed).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[
            ("LOGIN_IP_FREE_FAILURES", "2"),
            ("LOGIN_FREE_FAILURES", "100"),
            ("TRUSTED_PROXIES", "127.0.0.1, ::1"),
        ],
    )
    .await;
    app.create_user("bob").await;
    let login_from = |client: &'static str, name: &'static str, password: &'static str| {
        app.client
            .post(app.url("/auth/login"))
            .header("X-Forwarded-For", format!("{client}, 10.9.8.7"))
            .json(&serde_json::json!({"username": name, "password": password}))
            .send()
    };
    // 10.9.8.7 is not trusted: it is the client the proxy saw, whatever is to its left.
    for name in ["u1", "u2", "u3"] {
        let response = login_from("198.51.100.1", name, WRONG).await.unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    assert_throttled(login_from("203.0.113.5", "bob", PASSWORD).await.unwrap()).await;

    let direct = |client: &'static str| {
        app.client
            .post(app.url("/auth/login"))
            .header("X-Forwarded-For", client)
            .json(&serde_json::json!({"username": "bob", "password": PASSWORD}))
            .send()
    };
    for name in ["u1", "u2", "u3"] {
        let response = app
            .client
            .post(app.url("/auth/login"))
            .header("X-Forwarded-For", "198.51.100.1")
            .json(&serde_json::json!({"username": name, "password": WRONG}))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    assert_throttled(direct("198.51.100.1").await.unwrap()).await;
    assert_eq!(
        direct("198.51.100.2").await.unwrap().status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_free_failures_guesses_sent_at_once_are_admitted_one_at_a_time(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "2")]).await;
    app.create_user("alice").await;
    for _ in 0..2 {
        assert_error(
            app.login("alice", WRONG).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // The next failure earns a block: of eight guesses sent together, one is checked
    // (counted up front with its block) and the rest are refused without hashing.
    let responses = futures::future::join_all((0..8).map(|_| app.login("alice", WRONG))).await;
    let mut checked = 0;
    for response in responses {
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_throttled(response).await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // One, or two on a machine so slow that the 1 s block passed during the burst.
    assert!((1..=2).contains(&checked), "{checked} guesses were checked");
    // The right password waits for the block too, then works and clears the record.
    assert_throttled(app.login("alice", PASSWORD).await).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_at_once_on_a_fresh_name_are_checked_only_as_far_as_the_free_attempts(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await; // five free attempts
    app.create_user("alice").await;
    let responses = futures::future::join_all((0..40).map(|_| app.login("alice", WRONG))).await;
    let mut checked = 0;
    for response in responses {
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_throttled(response).await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Every attempt is counted before its hash: five free, the sixth earns the first
    // block (one more on a machine so slow that the 1 s block passed meanwhile).
    assert!(
        (5..=7).contains(&checked),
        "{checked} of 40 guesses were checked"
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_free_attempts_do_not_come_back_when_the_longest_block_ends(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[("LOGIN_FREE_FAILURES", "2"), ("LOGIN_MAX_DELAY", "2s")],
    )
    .await;
    app.create_user("alice").await;
    for _ in 0..3 {
        assert_error(
            app.login("alice", WRONG).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // Up to the longest block (2 s here).
    let wait = assert_throttled(app.login("alice", WRONG).await).await;
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    assert_error(
        app.login("alice", WRONG).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let wait = assert_throttled(app.login("alice", WRONG).await).await;
    assert_eq!(wait, 2, "at the longest block");
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    // The block has ended, but the record is kept for a window after it: one guess,
    // then blocked again, not a fresh set of free attempts.
    assert_error(
        app.login("alice", WRONG).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_throttled(app.login("alice", WRONG).await).await;
}
