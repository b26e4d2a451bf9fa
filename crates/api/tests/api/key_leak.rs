//! The README's procedure for a leaked signing key, end to end: authd, the example service
//! that verifies authd's tokens from its JWKS, and a forger holding the leaked private key.

use std::time::{Duration, Instant};

use auth_core::{Algorithm, KeySet, RemoteVerifier, SigningKey, TokenIssuer, TokenSubject};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::remote_verifier::{JWKS_PATH, config, verify_service};
use crate::rotation::authd_keys;

const KEY_RELOAD_INTERVAL: Duration = Duration::from_millis(200);
const JWKS_MAX_AGE: Duration = Duration::from_secs(1);
/// Room for a slow, busy machine on top of what the README promises.
const MARGIN: Duration = Duration::from_secs(10);

/// An admin token for nobody, signed with `pem`: what the holder of a leaked key can make.
fn forged_with(pem: &[u8]) -> (String, String) {
    let key = SigningKey::from_pem(Algorithm::EdDSA, pem).expect("the leaked key");
    let kid = key.kid().to_owned();
    let subject = TokenSubject {
        user_id: Uuid::now_v7(),
        session_id: Uuid::now_v7(),
        username: "mallory".into(),
        roles: vec!["admin".into()],
        amr: Some(vec!["pwd".into()]),
        client_id: None,
    };
    let issuer = TokenIssuer::new(
        KeySet::new(key),
        "authd".into(),
        "api".into(),
        Duration::from_secs(600),
    );
    (issuer.issue(&subject).expect("token").token, kid)
}

fn kid_of(token: &str) -> String {
    jwt_part(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// The example service on a random port, verifying with authd's JWKS as its `main` does.
async fn start_example_service(app: &TestApp) -> String {
    let verifier = RemoteVerifier::new(&app.url(JWKS_PATH), config()).unwrap();
    verifier.refresh().await.expect("authd's JWKS");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hello = format!("http://{}/hello", listener.local_addr().unwrap());
    tokio::spawn(verify_service::serve(listener, verifier).unwrap());
    hello
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_leak_procedure_a_forged_token_is_refused_within_the_jwks_max_age(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[
            ("JWT_ALGORITHM", "EdDSA"),
            ("KEY_RELOAD_INTERVAL", "200ms"),
            ("JWKS_MAX_AGE", "1"),
        ],
    )
    .await;
    let jwks = app.client.get(app.url(JWKS_PATH)).send().await.unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=1");
    let hello = start_example_service(&app).await;
    let greet = |token: &str| {
        let request = app.client.get(&hello).bearer_auth(token);
        async move { request.send().await.expect("request") }
    };

    // Key A signs. Its private key leaks (here: the file authd generated into DATA_DIR).
    let alice = app.signed_in("alice").await.access;
    let leaked = std::fs::read(app.data_dir.path().join("jwt_eddsa.pem")).unwrap();
    let (forged, leaked_kid) = forged_with(&leaked);
    assert_eq!(kid_of(&alice), leaked_kid);
    let accepted = greet(&forged).await;
    assert_eq!(
        accepted.status(),
        StatusCode::OK,
        "a forgery with a live key works"
    );
    assert_eq!(
        accepted.json::<Value>().await.unwrap(),
        json!({"hello": "mallory"})
    );

    // The README: `authd keys rotate --in 0`, then `authd keys retire OLD_KID`.
    let rotated = authd_keys(&app, &["rotate", "--in", "0"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let fresh = loop {
        let token = app.tokens("alice").await.access;
        if kid_of(&token) != leaked_kid {
            break token;
        }
        assert!(
            Instant::now() < deadline,
            "authd still signs with the leaked key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let retired = authd_keys(&app, &["retire", &leaked_kid]);
    assert!(
        retired.status.success(),
        "{}",
        String::from_utf8_lossy(&retired.stderr)
    );
    let retired_at = Instant::now();

    eventually("authd refuses the forgery", || async {
        app.session(&forged).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    // The example service: within KEY_RELOAD_INTERVAL + JWKS_MAX_AGE (README).
    let bound = KEY_RELOAD_INTERVAL + JWKS_MAX_AGE + MARGIN;
    while greet(&forged).await.status() == StatusCode::OK {
        assert!(
            retired_at.elapsed() < bound,
            "the forgery is still accepted after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "forgery refused by the example service {:?} after the retirement",
        retired_at.elapsed()
    );
    assert_unauthorized(greet(&forged).await, true).await;
    assert_unauthorized(greet(&alice).await, true).await;
    let response = greet(&fresh).await;
    assert_eq!(response.status(), StatusCode::OK, "the new key's tokens");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"hello": "alice"})
    );
}
