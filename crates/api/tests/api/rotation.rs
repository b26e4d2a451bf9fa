//! Key rotation across replicas, driven through the real `authd keys` commands.

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::Value;

use crate::helpers::*;

/// Runs `authd keys ARGS` against the app's store, with its settings only.
pub fn authd_keys(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_authd"))
        .arg("keys")
        .args(args)
        .env_clear()
        .envs(app.env.iter())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .current_dir(app.data_dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run authd")
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let set: Value = app.get_json("/.well-known/jwks.json").await;
    let mut kids: Vec<String> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

async fn signing_kid(app: &TestApp) -> String {
    let tokens = app.tokens("alice").await;
    jwt_part(&tokens.access, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_announced_then_signs_and_old_tokens_keep_verifying(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let overrides = [("JWT_ALGORITHM", "EdDSA"), ("KEY_RELOAD_INTERVAL", "200ms")];
    let first = spawn_app_with(db, &overrides).await;
    let env: Vec<(&str, &str)> = first
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let second = spawn_app_with(db, &env).await;
    let old = first.signed_in("alice").await;
    let old_kid = jwt_part(&old.access, 0)["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        jwks_kids(&second).await,
        vec![old_kid.clone()],
        "replicas share one key"
    );

    let rotated = authd_keys(&first, &["rotate", "--in", "4s"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    // Announced on every replica before it signs.
    eventually("both replicas publish two keys", || async {
        jwks_kids(&first).await.len() == 2 && jwks_kids(&second).await.len() == 2
    })
    .await;
    let new_kid = jwks_kids(&first)
        .await
        .into_iter()
        .find(|k| *k != old_kid)
        .unwrap();
    // Then it signs, on every replica; tokens of the old key still verify everywhere.
    eventually("both replicas sign with the new key", || async {
        signing_kid(&first).await == new_kid && signing_kid(&second).await == new_kid
    })
    .await;
    let fresh = second.tokens("alice").await;
    assert_eq!(first.session(&fresh.access).await.status(), StatusCode::OK);
    assert_eq!(second.session(&old.access).await.status(), StatusCode::OK);

    let listed = authd_keys(&first, &["list"]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success());
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with(new_kid.as_str()) && l.contains("active")),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with(old_kid.as_str()) && l.contains("verifying until")),
        "{listing}"
    );

    // The key that signs cannot be retired; the old one can, and then its tokens fail.
    let refused = authd_keys(&first, &["retire", &new_kid]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("rotate"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let retired = authd_keys(&first, &["retire", &old_kid]);
    assert!(
        retired.status.success(),
        "{}",
        String::from_utf8_lossy(&retired.stderr)
    );
    eventually("both replicas reject the retired key's tokens", || async {
        first.session(&old.access).await.status() == StatusCode::UNAUTHORIZED
            && second.session(&old.access).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_unauthorized(second.session(&old.access).await, true).await;
    assert_eq!(jwks_kids(&second).await, vec![new_kid]);
    assert_eq!(second.session(&fresh.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_keys_are_not_rotated_through_the_database(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let refused = authd_keys(&app, &["rotate"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("JWT_SECRET") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
