//! auth-core's `RemoteVerifier`, as another service uses it: against a running authd's JWKS,
//! against a small JWKS server that counts its fetches, and inside the example service.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode as ActixStatus;
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use auth_core::{
    Algorithm, JwksError, KeySet, RemoteVerifier, RemoteVerifyError, SigningKey, TokenIssuer,
    TokenSubject, VerifierConfig, VerifyError,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;
use uuid::Uuid;

use crate::helpers::*;

#[allow(dead_code)] // its `main`: the tests start `serve` with a verifier of their own
#[path = "../../../../examples/verify_service.rs"]
pub mod verify_service;

const ASYMMETRIC: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub fn config() -> VerifierConfig {
    VerifierConfig::new("authd", "api")
}

/// The same token with `username` changed in its payload, signature untouched.
fn tampered(token: &str) -> String {
    let mut claims = jwt_part(token, 1);
    claims["username"] = json!("mallory");
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

pub fn key_set(alg: Algorithm) -> KeySet {
    KeySet::new(SigningKey::generate(alg).expect("key").1)
}

/// A valid access token signed by `keys`, as authd would issue it.
pub fn token_of(keys: &KeySet) -> String {
    let subject = TokenSubject {
        user_id: Uuid::now_v7(),
        session_id: Uuid::now_v7(),
        username: "alice".into(),
        roles: vec![],
        amr: Some(vec!["pwd".into()]),
        client_id: None,
    };
    TokenIssuer::new(
        keys.clone(),
        "authd".into(),
        "api".into(),
        Duration::from_secs(600),
    )
    .issue(&subject)
    .expect("token")
    .token
}

/// The JWKS document publishing the keys of `sets`.
pub fn jwks_of(sets: &[&KeySet]) -> String {
    let keys: Vec<Value> = sets
        .iter()
        .flat_map(|set| set.jwks().keys)
        .map(|jwk| serde_json::to_value(jwk).unwrap())
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A JWKS server on a random port that counts its requests and answers each with the
/// status, body and `Cache-Control` the test last set (none at first), after the test
/// [releases](Self::release) it if it [holds](Self::hold) answers. It lives as long as the
/// test process, like the apps, unless [stopped](Self::stop).
pub struct JwksServer {
    pub url: String,
    state: web::Data<JwksState>,
    handle: ServerHandle,
}

struct JwksState {
    fetches: AtomicUsize,
    response: Mutex<(ActixStatus, String)>,
    cache_control: Mutex<Option<String>>,
    /// `false`: requests wait until it is `true` again.
    open: watch::Sender<bool>,
}

impl JwksServer {
    pub fn start(body: String) -> Self {
        let state = web::Data::new(JwksState {
            fetches: AtomicUsize::new(0),
            response: Mutex::new((ActixStatus::OK, body)),
            cache_control: Mutex::new(None),
            open: watch::Sender::new(true),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .route(JWKS_PATH, web::get().to(serve_jwks))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, state, handle }
    }

    pub fn answer(&self, status: u16, body: &str) {
        *self.state.response.lock().unwrap() =
            (ActixStatus::from_u16(status).unwrap(), body.to_owned());
    }

    /// Sends `Cache-Control: value` from now on.
    pub fn cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    /// Requests that arrive from now on are counted, then wait for [`Self::release`].
    pub fn hold(&self) {
        self.state.open.send_replace(false);
    }

    pub fn release(&self) {
        self.state.open.send_replace(true);
    }

    /// Down: the port refuses connections from now on.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(state: web::Data<JwksState>) -> HttpResponse {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let _ = state.open.subscribe().wait_for(|open| *open).await;
    let (status, body) = state.response.lock().unwrap().clone();
    let mut response = HttpResponse::build(status);
    if let Some(value) = state.cache_control.lock().unwrap().clone() {
        response.insert_header((header::CACHE_CONTROL, value));
    }
    response.content_type("application/json").body(body)
}

/// `count` verifications of `token` at once; each must fail with an unknown key.
async fn flood_with_unknown_kid(verifier: &RemoteVerifier, token: &str, count: usize) {
    for result in join_all((0..count).map(|_| verifier.verify(token))).await {
        assert!(
            matches!(
                result,
                Err(RemoteVerifyError::Invalid(VerifyError::UnknownKey))
            ),
            "{result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_verifier_accepts_authds_tokens_and_refuses_tampered_and_foreign_ones() {
    for alg in ASYMMETRIC {
        let app = spawn_app_with(Db::Sqlite, &[("JWT_ALGORITHM", alg.as_str())]).await;
        let other = spawn_app_with(Db::Sqlite, &[("JWT_ALGORITHM", alg.as_str())]).await;
        let tokens = app.signed_in("alice").await;
        let verifier = RemoteVerifier::new(&app.url(JWKS_PATH), config()).unwrap();

        let claims = verifier
            .verify(&tokens.access)
            .await
            .expect("authd's token");
        let session: Value = app.session(&tokens.access).await.json().await.unwrap();
        assert_eq!(claims.username, "alice", "{alg}");
        assert_eq!(claims.iss, "authd");
        assert_eq!(claims.aud, "api");
        assert_eq!(json!(claims.sub), session["sub"]);
        assert_eq!(json!(claims.sid), session["sid"]);
        assert_eq!(json!(claims.jti), session["jti"]);
        assert_eq!(json!(claims.roles), session["roles"]);
        assert_eq!(json!(claims.exp), session["exp"]);

        assert!(
            matches!(
                verifier.verify(&tampered(&tokens.access)).await,
                Err(RemoteVerifyError::Invalid(VerifyError::BadSignature))
            ),
            "{alg}: tampered"
        );
        let foreign = other.signed_in("alice").await.access;
        assert!(
            matches!(
                verifier.verify(&foreign).await,
                Err(RemoteVerifyError::Invalid(VerifyError::UnknownKey))
            ),
            "{alg}: another authd's token"
        );
        let billing =
            RemoteVerifier::new(&app.url(JWKS_PATH), VerifierConfig::new("authd", "billing"))
                .unwrap();
        assert!(matches!(
            billing.verify(&tokens.access).await,
            Err(RemoteVerifyError::Invalid(VerifyError::WrongAudience))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_refetches_the_jwks_at_most_once_per_interval() {
    join_all(ASYMMETRIC.map(|alg| async move {
        let known = key_set(alg);
        let server = JwksServer::start(jwks_of(&[&known]));
        let interval = Duration::from_secs(2);
        let verifier = RemoteVerifier::new(&server.url, config())
            .unwrap()
            .with_refetch_interval(interval);
        let good = token_of(&known);
        let forged_kid = token_of(&key_set(alg));

        verifier.verify(&good).await.expect("a published key");
        assert_eq!(server.fetches(), 1, "{alg}: the first token fetches");
        verifier.verify(&good).await.unwrap();
        assert_eq!(
            server.fetches(),
            1,
            "{alg}: a known kid is served from the cache"
        );

        flood_with_unknown_kid(&verifier, &forged_kid, 50).await;
        assert_eq!(server.fetches(), 1, "{alg}: no refetch within the interval");

        tokio::time::sleep(interval + Duration::from_millis(200)).await;
        flood_with_unknown_kid(&verifier, &forged_kid, 50).await;
        assert_eq!(
            server.fetches(),
            2,
            "{alg}: one refetch for the whole flood"
        );
        flood_with_unknown_kid(&verifier, &forged_kid, 50).await;
        assert_eq!(
            server.fetches(),
            2,
            "{alg}: and none again within the interval"
        );

        verifier.verify(&good).await.expect("still verifies");
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_is_fetched_with_its_first_token_and_a_failed_fetch_keeps_the_old_keys() {
    let old = key_set(Algorithm::EdDSA);
    let server = JwksServer::start(jwks_of(&[&old]));
    let verifier = RemoteVerifier::new(&server.url, config())
        .unwrap()
        .with_refetch_interval(Duration::ZERO);
    assert_eq!(verifier.refresh().await.unwrap(), 1, "usable keys");
    verifier.verify(&token_of(&old)).await.unwrap();
    assert_eq!(server.fetches(), 1);

    // Rotation: the JWKS announces the new key next to the old one.
    let new = key_set(Algorithm::EdDSA);
    server.answer(200, &jwks_of(&[&old, &new]));
    verifier.verify(&token_of(&new)).await.expect("the new key");
    verifier.verify(&token_of(&old)).await.expect("the old key");
    assert_eq!(server.fetches(), 2);

    // Whatever goes wrong with a refetch, the token is refused and the keys stay.
    let unknown = token_of(&key_set(Algorithm::EdDSA));
    let secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let hmac_only = json!({"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": secret}]});
    let failures = [
        (503, "{}".to_owned(), "status 503 Service Unavailable"),
        (200, "<html>".to_owned(), "not a key set"),
        (200, hmac_only.to_string(), "no usable key"),
    ];
    for (status, body, expected) in failures {
        server.answer(status, &body);
        let err = verifier.verify(&unknown).await.unwrap_err();
        let cause = match &err {
            RemoteVerifyError::KeysUnavailable(JwksError::Status(s)) => format!("status {s}"),
            RemoteVerifyError::KeysUnavailable(JwksError::NotAKeySet(_)) => "not a key set".into(),
            RemoteVerifyError::KeysUnavailable(JwksError::NoUsableKey) => "no usable key".into(),
            other => format!("{other:?}"),
        };
        assert_eq!(cause, expected, "{status} {body}");
        assert_eq!(err.verify_error(), &VerifyError::UnknownKey);
        verifier
            .verify(&token_of(&old))
            .await
            .expect("old key kept");
        verifier
            .verify(&token_of(&new))
            .await
            .expect("new key kept");
    }
    assert_eq!(server.fetches(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_that_fails_at_start_is_fetched_again_by_the_first_token() {
    let keys = key_set(Algorithm::ES256);
    let server = JwksServer::start(String::new());
    server.answer(503, "{}");
    let verifier = RemoteVerifier::new(&server.url, config()).unwrap();
    assert!(matches!(
        verifier.refresh().await,
        Err(JwksError::Status(StatusCode::SERVICE_UNAVAILABLE))
    ));
    // authd is up now: the first token does not wait out the refetch interval.
    server.answer(200, &jwks_of(&[&keys]));
    verifier.verify(&token_of(&keys)).await.expect("fetched");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_service_greets_the_bearer_of_an_authd_token() {
    let app = spawn_app_with(Db::Sqlite, &[("JWT_ALGORITHM", "EdDSA")]).await;
    let tokens = app.signed_in("alice").await;
    let verifier = RemoteVerifier::new(&app.url(JWKS_PATH), config()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hello = format!("http://{}/hello", listener.local_addr().unwrap());
    tokio::spawn(verify_service::serve(listener, verifier).unwrap());
    let get = |token: Option<&str>| {
        let request = app.client.get(&hello);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        async move { request.send().await.expect("request") }
    };

    let response = get(Some(&tokens.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"hello": "alice"})
    );

    assert_unauthorized(get(None).await, false).await;
    assert_unauthorized(get(Some(&tampered(&tokens.access))).await, true).await;
    let foreign = spawn_app_with(Db::Sqlite, &[("JWT_ALGORITHM", "EdDSA")])
        .await
        .signed_in("alice")
        .await
        .access;
    assert_unauthorized(get(Some(&foreign)).await, true).await;
}
