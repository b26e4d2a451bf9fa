use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_returns_201_and_the_user_object_without_a_hash(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let response = app.register("  Alice ", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 8, "{user}");
    assert_eq!(user["mfa"], serde_json::json!([]), "no second factor yet");
    for key in [
        "id",
        "username",
        "roles",
        "disabled",
        "created_at",
        "email",
        "email_verified",
        "mfa",
    ] {
        assert!(user.get(key).is_some(), "{key} missing from {user}");
    }
    assert_eq!(user["username"], "Alice", "trimmed, case kept");
    assert_eq!(user["roles"], json!([]));
    assert_eq!(user["disabled"], false);
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    let created = user["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.contains('T'),
        "RFC 3339 UTC: {created}"
    );
    assert!(!user.to_string().contains("argon2"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_unique_case_insensitively_after_nfkc(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("alice").await;
    for same in ["alice", "ALICE", " Alice ", "ａｌｉｃｅ"] {
        let response = app.register(same, PASSWORD).await;
        assert_error(response, StatusCode::CONFLICT, "username_taken").await;
    }
    app.create_user("alice2").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_usernames_get_invalid_username(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let long = "a".repeat(65);
    for name in [
        "ab",
        "  ab  ",
        "",
        long.as_str(),
        "ali\u{0}ce",
        "bad\nname",
        "tab\there",
    ] {
        let response = app.register(name, PASSWORD).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_username").await;
    }
    app.create_user(&"é".repeat(64)).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_look_like_another_through_invisible_characters_are_refused(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    app.create_user("victim2").await;
    // Format characters (Cf) and default-ignorable code points, at either end or inside:
    // each would otherwise be an account of its own that displays as `victim2`.
    let look_alikes = [
        "victim2\u{200b}",
        "\u{202e}victim2",
        "victim2\u{ad}",
        "vic\u{200d}tim2",
        "victim2\u{2060}",
        "\u{feff}victim2",
        "victim2\u{fe0f}",
        "victim2\u{e0001}",
        "victim2\u{e0100}",
        "\u{3164}victim2",
        "victim2\u{ffa0}",
        "victim2\u{115f}",
        "vic\u{34f}tim2",
        "victim2\u{180e}",
        "victim2\u{2066}",
    ];
    for name in look_alikes {
        let response = app.register(name, PASSWORD).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_username").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("invisible"),
            "{body}"
        );
    }
    // Such a name cannot exist, so logging in with it is an unknown user: 401, never
    // `victim2`'s session, never a 400 that would tell the name apart.
    for name in look_alikes {
        let response = app.login(name, PASSWORD).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    app.tokens("victim2").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_bounded_as_sent_as_well_as_once_normalised(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    // 65 characters sent, 64 once trimmed; one character sent, four after NFKC.
    let padded = format!(" {}", "a".repeat(64));
    for name in [padded.as_str(), "\u{3300}"] {
        let response = app.register(name, PASSWORD).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_username").await;
    }
    app.create_user(&format!(" {} ", "b".repeat(62))).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_get_weak_password_with_a_reason(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let long = "Ab1!".repeat(33);
    for password in [
        "short",
        "password123",
        "aaaaaaaaaaaaaaa",
        "qwertyuiop",
        "carol1234",
        long.as_str(),
    ] {
        let response = app.register("carol", password).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
        assert!(
            !body["error_description"]
                .as_str()
                .unwrap()
                .contains(password)
        );
    }
    // Any Unicode counts, by characters.
    app.create_user("dave").await;
    let response = app.register("erin", "Ünïcødé-pässwørd-42").await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_name_create_exactly_one_user(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let names = ["frank", "FRANK", "Frank", "frank ", "fRank", "franK"];
    let responses = join_all(names.iter().map(|n| app.register(n, PASSWORD))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        names.len() - 1
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_can_be_disabled(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("SIGNUP_ENABLED", "false")]).await;
    let response = app.register("grace", PASSWORD).await;
    assert_error(response, StatusCode::FORBIDDEN, "signup_disabled").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_beyond_the_per_address_limit_get_429_while_other_addresses_register(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    // The default limit (10 at once, then 10 an hour), from behind a trusted proxy.
    let app = spawn_app_with(
        db,
        &[
            ("REGISTER_RATE_PER_ADDRESS", ""),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let register_from = |address: &'static str, username: &str, password: &str| {
        app.client
            .post(app.url("/auth/register"))
            .header("X-Forwarded-For", address)
            .json(&json!({"username": username, "password": password}))
            .send()
    };
    // Refused attempts count too: each costs a strength estimate.
    let weak = register_from("198.51.100.1", "weakling", "password123")
        .await
        .unwrap();
    assert_error(weak, StatusCode::BAD_REQUEST, "weak_password").await;
    for i in 1..10 {
        let response = register_from("198.51.100.1", &format!("user{i}"), PASSWORD)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "registration {i}");
    }
    let refused = register_from("198.51.100.1", "user10", PASSWORD)
        .await
        .unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=360).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Another address is not held back, and the refused name was not taken.
    let other = register_from("198.51.100.2", "user10", PASSWORD)
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);
    // An IPv6 client is counted by its /64.
    for i in 0..10 {
        let response = register_from("2001:db8:5:6::1", &format!("six{i}"), PASSWORD)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let same_64 = register_from("2001:db8:5:6:ffff::2", "six10", PASSWORD)
        .await
        .unwrap();
    assert_error(same_64, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_are_answered_while_the_costliest_passwords_are_judged(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    // One HTTP worker: a strength estimate run on it would hold up every other request.
    let app = spawn_app(db).await;
    let costly: Vec<String> = [
        "4@8({[<369!|170$5+%2",
        "@4({[<8369|!170$5+%2aeiostlgbcxz",
        "4@({[<6971|!$5+",
        "4@8({[<3691!|70$5+%2",
    ]
    .iter()
    .map(|pattern| pattern.chars().cycle().take(128).collect())
    .collect();
    let names: Vec<String> = (0..costly.len()).map(|i| format!("costly{i}")).collect();
    let registrations = join_all(
        names
            .iter()
            .zip(&costly)
            .map(|(name, password)| app.register(name, password)),
    );
    let probes = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let started = Instant::now();
            let response = app.client.get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    };
    let (responses, slowest) = tokio::join!(registrations, probes);
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?}"
    );
    for response in responses {
        let status = response.status();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::BAD_REQUEST,
            "{status}"
        );
    }
}
