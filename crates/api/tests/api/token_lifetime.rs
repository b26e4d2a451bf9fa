//! Lowering `ACCESS_TOKEN_TTL` never brings a revoked token back: a token whose lifetime
//! (`exp - iat`) is longer than the configured TTL is refused, so a revocation need only
//! be remembered for the current TTL (plus the leeway and a margin).

use std::time::Duration;

use auth_core::{RemoteVerifier, RemoteVerifyError, VerifierConfig, VerifyError};
use reqwest::StatusCode;
use rstest::rstest;
use user_store::{Store, StoreOptions, Timestamp};

use crate::helpers::*;

/// Moves every revocation `ago` into the past, as if each logout had happened then.
async fn backdate_revocations(database_url: &str, ago: Duration) {
    const SQL: &str = "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NOT NULL";
    let store = Store::connect(database_url, &StoreOptions::default())
        .await
        .unwrap();
    let when = Timestamp::now().minus(ago);
    let updated = match &store {
        Store::Sqlite(pool) => sqlx::query(SQL)
            .bind(when)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Store::Postgres(pool) => sqlx::query(SQL)
            .bind(when)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    }
    .unwrap();
    assert!(updated > 0, "a revocation to backdate");
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_the_access_ttl_never_brings_a_revoked_token_back(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("ACCESS_TOKEN_TTL", "1h")]).await;
    let tokens = app.signed_in("alice").await;
    let claims = jwt_part(&tokens.access, 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        app.logout(&tokens.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_unauthorized(app.session(&tokens.access).await, true).await;

    // Ten minutes ago: longer than a replica configured with a 1-minute TTL looks back
    // for revocations (1m + 30s leeway + 10s margin), while the token, issued for an
    // hour, has fifty minutes to run.
    backdate_revocations(&app.env["DATABASE_URL"], Duration::from_secs(600)).await;
    let mut env: Vec<(&str, &str)> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| *k != "ACCESS_TOKEN_TTL")
        .collect();
    env.push(("ACCESS_TOKEN_TTL", "1m"));
    let restarted = spawn_app_with(db, &env).await;

    let body = assert_unauthorized(restarted.session(&tokens.access).await, true).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("lifetime"),
        "{body}"
    );
    // Such a token is simply invalid: a logout with it is 401.
    assert_unauthorized(restarted.logout(&tokens.access, None).await, true).await;
    // Tokens issued under the new TTL are accepted.
    let fresh = restarted.tokens("alice").await;
    assert_eq!(
        restarted.session(&fresh.access).await.status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issued_under_a_longer_ttl_is_refused_even_unrevoked(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("ACCESS_TOKEN_TTL", "1h")]).await;
    let tokens = app.signed_in("alice").await;
    let mut env: Vec<(&str, &str)> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| *k != "ACCESS_TOKEN_TTL")
        .collect();
    env.push(("ACCESS_TOKEN_TTL", "59m 59s"));
    let shorter = spawn_app_with(db, &env).await;
    assert_unauthorized(shorter.session(&tokens.access).await, true).await;
    // Exactly the TTL is still accepted.
    env.retain(|(k, _)| *k != "ACCESS_TOKEN_TTL");
    env.push(("ACCESS_TOKEN_TTL", "1h"));
    let same = spawn_app_with(db, &env).await;
    assert_eq!(same.session(&tokens.access).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_verifier_refuses_longer_lived_tokens_only_when_told_the_limit() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[("JWT_ALGORITHM", "EdDSA"), ("ACCESS_TOKEN_TTL", "1h")],
    )
    .await;
    let token = app.signed_in("alice").await.access;
    let jwks = app.url("/.well-known/jwks.json");

    let unlimited = RemoteVerifier::new(&jwks, VerifierConfig::new("authd", "api")).unwrap();
    assert_eq!(unlimited.verify(&token).await.unwrap().username, "alice");

    let limited = RemoteVerifier::new(
        &jwks,
        VerifierConfig::new("authd", "api").with_max_lifetime(Duration::from_secs(15 * 60)),
    )
    .unwrap();
    assert!(matches!(
        limited.verify(&token).await,
        Err(RemoteVerifyError::Invalid(VerifyError::LifetimeTooLong))
    ));
}
