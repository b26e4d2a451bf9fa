//! Every signing algorithm end to end: tokens, the JWKS, and forgeries at the HTTP level.
//! (The verifier's unit tests in auth-core cover each forgery in depth.)

use auth_core::{Algorithm, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use rstest::rstest;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::*;

const ALGORITHMS: [&str; 4] = ["HS256", "RS256", "ES256", "EdDSA"];

async fn jwks(app: &TestApp) -> (Value, String) {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.json().await.unwrap(), cache)
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_issues_tokens_that_its_jwks_verifies(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    for alg in ALGORITHMS {
        let app = spawn_app_with(db, &[("JWT_ALGORITHM", alg)]).await;
        let tokens = app.signed_in("alice").await;
        let header = jwt_part(&tokens.access, 0);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(
            app.session(&tokens.access).await.status(),
            StatusCode::OK,
            "{alg}"
        );

        let (set, cache) = jwks(&app).await;
        assert_eq!(cache, "public, max-age=30", "JWKS_MAX_AGE's default");
        let keys = set["keys"].as_array().unwrap();
        if alg == "HS256" {
            assert!(keys.is_empty(), "an HMAC secret is never published: {set}");
            continue;
        }
        assert_eq!(keys.len(), 1, "{set}");
        let jwk = &keys[0];
        assert_eq!(jwk["kid"], header["kid"]);
        assert_eq!(jwk["alg"], alg);
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                jwk.get(private).is_none(),
                "{alg}: private member {private} in {jwk}"
            );
        }
        // A verifier holding only the JWKS accepts the token.
        let set: JwkSet = serde_json::from_value(set).unwrap();
        let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
        let mut validation = Validation::new(alg.parse().unwrap());
        validation.set_audience(&["api"]);
        validation.set_issuer(&["authd"]);
        let claims = jsonwebtoken::decode::<Value>(&tokens.access, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["username"], "alice");
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_key_survives_a_restart(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("JWT_ALGORITHM", "EdDSA")]).await;
    let tokens = app.signed_in("alice").await;
    let key_file = app.data_dir.path().join("jwt_eddsa.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let overrides: Vec<(&str, &str)> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let restarted = spawn_app_with(db, &overrides).await;
    assert_eq!(
        restarted.session(&tokens.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(jwks(&restarted).await.0, jwks(&app).await.0);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_on_every_asymmetric_algorithm(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let (pem, key) = SigningKey::generate(alg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key.pem");
        std::fs::write(&key_file, pem.expose_secret()).unwrap();
        let app = spawn_app_with(
            db,
            &[
                ("JWT_ALGORITHM", alg.as_str()),
                ("JWT_PRIVATE_KEY_FILE", key_file.to_str().unwrap()),
            ],
        )
        .await;
        let tokens = app.signed_in("alice").await;
        let parts: Vec<&str> = tokens.access.split('.').collect();
        let claims = jwt_part(&tokens.access, 1);

        // Algorithm confusion: HS256 keyed with the public key as the JWKS publishes it.
        let public = serde_json::to_string(key.public_jwk().unwrap()).unwrap();
        let mut hs = Header::new(jsonwebtoken::Algorithm::HS256);
        hs.typ = Some("at+jwt".into());
        hs.kid = Some(key.kid().to_owned());
        let confused =
            jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(public.as_bytes()))
                .unwrap();

        let none_header = URL_SAFE_NO_PAD
            .encode(json!({"alg": "none", "typ": "at+jwt", "kid": key.kid()}).to_string());
        let mut admin = claims.clone();
        admin["roles"] = json!(["admin"]);
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(admin.to_string()),
            parts[2]
        );
        let forged = [
            confused,
            format!("{none_header}.{}.", parts[1]),
            tampered,
            format!("{}.{}.", parts[0], parts[1]),
            format!("{}.{}", parts[0], parts[1]),
        ];
        for token in forged {
            assert_unauthorized(app.session(&token).await, true).await;
        }
        assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
    }
}
