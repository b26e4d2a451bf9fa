use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::helpers::*;

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_this_session_only(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let this = app.signed_in("alice").await;
    let other = app.tokens("alice").await;
    let response = app.logout(&this.access, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_unauthorized(app.session(&this.access).await, true).await;
    assert_error(
        app.refresh(&this.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(app.session(&other.access).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&other.refresh).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_with_scope_local_is_the_default(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let this = app.signed_in("alice").await;
    let other = app.tokens("alice").await;
    assert_eq!(
        app.logout(&this.access, Some("local")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_unauthorized(app.session(&this.access).await, true).await;
    assert_eq!(app.session(&other.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_logout_ends_every_session_of_the_user(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let a = app.signed_in("alice").await;
    let b = app.tokens("alice").await;
    let bob = app.signed_in("bob").await;
    assert_eq!(
        app.logout(&a.access, Some("global")).await.status(),
        StatusCode::NO_CONTENT
    );
    for tokens in [&a, &b] {
        assert_unauthorized(app.session(&tokens.access).await, true).await;
        assert_error(
            app.refresh(&tokens.refresh).await,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        )
        .await;
    }
    assert_eq!(app.session(&bob.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_of_others_keeps_this_session(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let this = app.signed_in("alice").await;
    let other = app.tokens("alice").await;
    assert_eq!(
        app.logout(&this.access, Some("others")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.session(&this.access).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&this.refresh).await.status(), StatusCode::OK);
    assert_unauthorized(app.session(&other.access).await, true).await;
    assert_error(
        app.refresh(&other.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_needs_a_valid_token_and_a_known_scope(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, false).await;
    assert_unauthorized(app.logout("not.a.token", None).await, true).await;
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .bearer_auth(&tokens.access)
        .json(&json!({"scope": "everything"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Nothing was revoked by the bad requests.
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_stays_revoked_after_a_restart(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    assert_eq!(
        app.logout(&tokens.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    // A second process on the same store loads the revoked set at start.
    let overrides: Vec<(&str, &str)> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let restarted = spawn_app_with(db, &overrides).await;
    assert_unauthorized(restarted.session(&tokens.access).await, true).await;
}
