use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_the_token_within_the_same_session(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let first = app.signed_in("alice").await;
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let second = Tokens::from_body(&body);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        jwt_part(&second.access, 1)["sid"],
        jwt_part(&first.access, 1)["sid"]
    );
    assert_ne!(
        jwt_part(&second.access, 1)["jti"],
        jwt_part(&first.access, 1)["jti"]
    );
    assert_eq!(app.session(&second.access).await.status(), StatusCode::OK);
    // The child rotates in turn.
    assert_eq!(app.refresh(&second.refresh).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_within_the_grace_gets_the_sessions_live_token_not_a_sibling(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await; // default grace: 10 s
    let first = app.signed_in("alice").await;
    let a = Tokens::from_body(&app.refresh(&first.refresh).await.json().await.unwrap());
    let again = app.refresh(&first.refresh).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a second tab refreshing with the same token"
    );
    assert_eq!(again.headers()["cache-control"], "no-store");
    let b = Tokens::from_body(&again.json().await.unwrap());
    assert_eq!(
        b.refresh, a.refresh,
        "the very string the first rotation returned"
    );
    assert_ne!(b.access, a.access);
    assert_eq!(
        jwt_part(&b.access, 1)["sid"],
        jwt_part(&first.access, 1)["sid"]
    );
    assert_eq!(app.session(&a.access).await.status(), StatusCode::OK);
    assert_eq!(app.session(&b.access).await.status(), StatusCode::OK);
    // Once the live token has rotated in turn, a replay of the first one (still within
    // its grace) gets the newest token.
    let c = Tokens::from_body(&app.refresh(&a.refresh).await.json().await.unwrap());
    let replay = Tokens::from_body(&app.refresh(&first.refresh).await.json().await.unwrap());
    assert_eq!(replay.refresh, c.refresh);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thief_replaying_within_the_grace_gets_no_chain_of_its_own(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REFRESH_REUSE_GRACE", "2s")]).await;
    let stolen = app.signed_in("alice").await;
    let owner = Tokens::from_body(&app.refresh(&stolen.refresh).await.json().await.unwrap());
    // The thief replays the spent token at once, and gets the owner's token, not a
    // sibling: there is one chain.
    let thief = Tokens::from_body(&app.refresh(&stolen.refresh).await.json().await.unwrap());
    assert_eq!(thief.refresh, owner.refresh);
    // The owner rotates; past the grace the thief's copy is a spent token: reuse.
    let owner = Tokens::from_body(&app.refresh(&owner.refresh).await.json().await.unwrap());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_error(
        app.refresh(&thief.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    // Reuse revoked the whole session, the owner's live token included.
    assert_error(
        app.refresh(&owner.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_unauthorized(app.session(&owner.access).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_after_the_grace_revokes_the_session(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REFRESH_REUSE_GRACE", "1s")]).await;
    let stolen = app.signed_in("alice").await;
    let other_session = app.tokens("alice").await;
    let child = Tokens::from_body(&app.refresh(&stolen.refresh).await.json().await.unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let reuse = app.refresh(&stolen.refresh).await;
    assert_error(reuse, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // The whole session is gone: the legitimate child and every access token of it.
    assert_error(
        app.refresh(&child.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_unauthorized(app.session(&child.access).await, true).await;
    assert_unauthorized(app.session(&stolen.access).await, true).await;
    // Other sessions of the user are untouched.
    assert_eq!(
        app.session(&other_session.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.refresh(&other_session.refresh).await.status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_refreshes_within_the_grace_all_get_the_one_live_token(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let responses = join_all((0..20).map(|_| app.refresh(&tokens.refresh))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let mut children = Vec::new();
    for response in responses {
        children.push(Tokens::from_body(&response.json().await.unwrap()));
    }
    let mut refresh_tokens: Vec<&str> = children.iter().map(|t| t.refresh.as_str()).collect();
    refresh_tokens.sort_unstable();
    refresh_tokens.dedup();
    assert_eq!(
        refresh_tokens.len(),
        1,
        "one live refresh token per session"
    );
    for child in &children {
        assert_eq!(app.session(&child.access).await.status(), StatusCode::OK);
    }
    // And it is live: it rotates once, like any other.
    assert_eq!(
        app.refresh(refresh_tokens[0]).await.status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_refreshes_without_grace_let_one_win_and_revoke_the_session(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REFRESH_REUSE_GRACE", "0")]).await;
    let tokens = app.signed_in("alice").await;
    let responses = join_all((0..20).map(|_| app.refresh(&tokens.refresh))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert!(
        statuses.iter().all(|s| !s.is_server_error()),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        19,
        "{statuses:?}"
    );
    let mut winner = None;
    for response in responses {
        if response.status() == StatusCode::OK {
            winner = Some(Tokens::from_body(&response.json().await.unwrap()));
        } else {
            assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
        }
    }
    let winner = winner.unwrap();
    // The losers presented a spent token: the session, winner included, is revoked.
    assert_error(
        app.refresh(&winner.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_unauthorized(app.session(&winner.access).await, true).await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_refresh_tokens_get_invalid_grant(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let mut altered = tokens.refresh.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let long = "A".repeat(5000);
    for token in [
        "",
        "nope",
        altered.as_str(),
        long.as_str(),
        tokens.access.as_str(),
    ] {
        assert_error(
            app.refresh(token).await,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        )
        .await;
    }
    // The right token still works: failed attempts did not spend it.
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    for body in [
        json!({}),
        json!({"refresh_token": 42}),
        json!({"refresh_token": null}),
    ] {
        assert_error(
            app.post_json("/auth/refresh", &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_gets_invalid_grant(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REFRESH_TOKEN_TTL", "1")]).await;
    let tokens = app.signed_in("alice").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_error(
        app.refresh(&tokens.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}
