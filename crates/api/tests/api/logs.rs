//! Logs keep secrets: a whole session at the most verbose level, and not one password,
//! token, refresh token or signing secret in the output.

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::helpers::*;
use crate::process::ProcessStore;

const NEW_PASSWORD: &str = "an entirely different passphrase";

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_at_trace_level_logs_no_secret(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let store = ProcessStore::new(db).await;
    let server = store
        .start(&[("RUST_LOG", "trace"), ("REFRESH_REUSE_GRACE", "0")])
        .await;

    server.create_user("alice").await;
    let first = server.tokens("alice").await;
    let basic = server
        .client
        .post(server.url("/auth/login"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let second = Tokens::from_body(&basic.json().await.unwrap());
    assert_eq!(
        server
            .login("alice", "a wrong guess at the password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = server.refresh(&first.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let third = Tokens::from_body(&refreshed.json().await.unwrap());
    // Reuse after the (zero) grace: a refresh token in a warning path.
    assert_eq!(
        server.refresh(&first.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.me(&second.access).await.status(), StatusCode::OK);
    // Tokens where authd never reads them: the query string, a form body.
    let in_query = server
        .client
        .get(server.url(&format!("/api/session?access_token={}", second.access)))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), StatusCode::UNAUTHORIZED);
    let in_form = server
        .client
        .post(server.url("/auth/refresh"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("refresh_token={}", second.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(in_form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A malformed body that carries a password.
    let malformed = server
        .client
        .post(server.url("/auth/login"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"username": "alice", "password": "{PASSWORD}""#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let changed = server
        .change_password(&second.access, PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let last = server.login("alice", NEW_PASSWORD).await;
    assert_eq!(last.status(), StatusCode::OK);
    let last = Tokens::from_body(&last.json().await.unwrap());
    assert_eq!(
        server.logout(&last.access, Some("global")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.session(&last.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let _ = server
        .post_json(
            "/auth/register",
            &json!({"username": "bob", "password": "password"}),
        )
        .await;

    let log = server.log();
    // The log is really there, at the verbose level, and covers the session.
    assert!(
        log.contains("login succeeded") && log.contains("\"level\":\"TRACE\""),
        "{log}"
    );
    let mut secrets = vec![
        PASSWORD.to_owned(),
        NEW_PASSWORD.to_owned(),
        "a wrong guess at the password".to_owned(),
        SECRET.to_owned(),
    ];
    for tokens in [&first, &second, &third, &last] {
        // The signature alone would be enough to matter; check it and the whole token.
        secrets.push(tokens.access.clone());
        secrets.push(tokens.access.rsplit('.').next().unwrap().to_owned());
        secrets.push(tokens.refresh.clone());
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log contains a secret: {secret}"
        );
    }
    drop(server);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_write_no_log_line_above_debug(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let store = ProcessStore::new(db).await;
    let server = store.start(&[("RUST_LOG", "info")]).await;
    server.create_user("alice").await;
    let before = server.log().lines().count();
    let forged = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    for _ in 0..50 {
        assert_eq!(
            server.session(forged).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..10 {
        assert!(
            server
                .login("alice", "a wrong guess at the password")
                .await
                .status()
                .is_client_error()
        );
        assert_eq!(
            server.refresh("not a refresh token").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            server.get_with_token("/nowhere", forged).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            server
                .post_json("/auth/register", &json!({"username": 1}))
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
    // The log is written as it goes; give the last lines a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = server.log();
    let new_lines: Vec<&str> = log.lines().skip(before).collect();
    assert!(
        new_lines.len() <= 2,
        "refused requests were logged above debug:\n{}",
        new_lines.join("\n")
    );
    drop(server);
}
