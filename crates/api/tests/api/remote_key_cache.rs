//! How long `RemoteVerifier` trusts the keys it fetched: the JWKS's `Cache-Control: max-age`,
//! then a background refetch, then a hard limit. Small max-ages (1 s) and generous bounded
//! polling: nothing here depends on how fast the machine is.

use std::time::{Duration, Instant};

use auth_core::{Algorithm, RemoteVerifier, RemoteVerifyError, VerifyError};
use futures::future::join_all;

use crate::remote_verifier::{JwksServer, config, jwks_of, key_set, token_of};

/// Polls `verify` every 100 ms, at most 20 s, until it refuses; returns the refusal.
async fn first_refusal(verifier: &RemoteVerifier, token: &str) -> RemoteVerifyError {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match verifier.verify(token).await {
            Err(e) => return e,
            Ok(_) => assert!(Instant::now() < deadline, "still accepted after 20 s"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_removed_from_the_jwks_stops_being_accepted_after_its_max_age() {
    let (retired, kept) = (key_set(Algorithm::EdDSA), key_set(Algorithm::EdDSA));
    let server = JwksServer::start(jwks_of(&[&retired, &kept]));
    server.cache_control("public, max-age=1");
    let verifier = RemoteVerifier::new(&server.url, config()).unwrap();
    assert_eq!(verifier.refresh().await.unwrap(), 2);
    let old = token_of(&retired);
    verifier.verify(&old).await.expect("a published key");

    server.answer(200, &jwks_of(&[&kept]));
    let refusal = first_refusal(&verifier, &old).await;
    assert!(
        matches!(refusal, RemoteVerifyError::Invalid(VerifyError::UnknownKey)),
        "{refusal:?}"
    );
    verifier
        .verify(&token_of(&kept))
        .await
        .expect("the key still published");
    assert!(
        verifier.verify(&old).await.is_err(),
        "and the removed one stays refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_keys_serve_within_the_grace_and_are_refused_past_it_while_the_jwks_is_down() {
    let keys = key_set(Algorithm::ES256);
    let server = JwksServer::start(jwks_of(&[&keys]));
    server.cache_control("max-age=1");
    let strict = RemoteVerifier::new(&server.url, config())
        .unwrap()
        .with_max_stale(Duration::from_secs(1));
    let lenient = RemoteVerifier::new(&server.url, config())
        .unwrap()
        .with_max_stale(Duration::from_secs(600));
    let before_fetch = Instant::now();
    strict.refresh().await.unwrap();
    lenient.refresh().await.unwrap();
    let token = token_of(&keys);
    strict.verify(&token).await.unwrap();
    lenient.verify(&token).await.unwrap();

    server.stop().await;
    let refusal = first_refusal(&strict, &token).await;
    assert!(
        matches!(
            refusal,
            // Refused by its own fetch, or within a second of a background one failing.
            RemoteVerifyError::KeysExpired {
                cause: None | Some(auth_core::JwksError::Request(_))
            }
        ),
        "{refusal:?}"
    );
    assert_eq!(refusal.verify_error(), &VerifyError::UnknownKey);
    // Not before max-age + max-stale: until then the stale keys answered.
    assert!(before_fetch.elapsed() >= Duration::from_secs(2));
    assert!(matches!(
        strict.verify(&token).await,
        Err(RemoteVerifyError::KeysExpired { .. })
    ));
    // Past its max-age too, but within its grace.
    lenient
        .verify(&token)
        .await
        .expect("stale keys within the grace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_refetched_by_the_next_token_once_the_jwks_answers_again() {
    let keys = key_set(Algorithm::RS256);
    let document = jwks_of(&[&keys]);
    let server = JwksServer::start(document.clone());
    server.cache_control("no-store");
    let verifier = RemoteVerifier::new(&server.url, config())
        .unwrap()
        .with_max_stale(Duration::ZERO);
    verifier.refresh().await.unwrap();
    let token = token_of(&keys);

    server.answer(503, "{}");
    let refusal = first_refusal(&verifier, &token).await;
    assert!(
        matches!(refusal, RemoteVerifyError::KeysExpired { .. }),
        "{refusal:?}"
    );
    // One attempt a second at most, however many tokens arrive.
    let (fetches, flood) = (server.fetches(), Instant::now());
    join_all((0..50).map(|_| verifier.verify(&token))).await;
    let allowed = fetches + 1 + flood.elapsed().as_secs() as usize;
    assert!(
        server.fetches() <= allowed,
        "{} > {allowed}",
        server.fetches()
    );

    server.answer(200, &document);
    crate::helpers::eventually("the keys are fetched again", || async {
        verifier.verify(&token).await.is_ok()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_keys_are_refetched_in_the_background_while_tokens_are_answered_at_once() {
    let (old, new) = (key_set(Algorithm::EdDSA), key_set(Algorithm::EdDSA));
    let server = JwksServer::start(jwks_of(&[&old]));
    server.cache_control("max-age=1");
    // A refetch the server holds would be waited for up to two minutes.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let verifier = RemoteVerifier::new(&server.url, config())
        .unwrap()
        .with_http_client(patient)
        .with_refetch_interval(Duration::from_secs(3600));
    // The first fetch, by an unknown kid; no token can trigger another for an hour, so
    // only a background refetch can bring the new key.
    let made_up = token_of(&key_set(Algorithm::EdDSA));
    assert!(matches!(
        verifier.verify(&made_up).await,
        Err(RemoteVerifyError::Invalid(VerifyError::UnknownKey))
    ));
    assert_eq!(server.fetches(), 1);

    server.hold();
    server.answer(200, &jwks_of(&[&old, &new]));
    tokio::time::sleep(Duration::from_millis(1500)).await; // past max-age
    let old_token = token_of(&old);
    let answered = tokio::time::timeout(
        Duration::from_secs(30),
        join_all((0..50).map(|_| verifier.verify(&old_token))),
    )
    .await
    .expect("answered without waiting for the held refetch");
    assert!(answered.iter().all(Result::is_ok), "{answered:?}");
    crate::helpers::eventually("the background refetch reaches the server", || async {
        server.fetches() == 2
    })
    .await;
    verifier.verify(&old_token).await.expect("still answered");
    assert_eq!(server.fetches(), 2, "one background refetch at a time");

    // Unknown kids may not fetch for an hour: only the background refetch brings it. (Its
    // age counts from when it was requested, so it may be stale at once and refetched.)
    server.release();
    crate::helpers::eventually("the new key arrives", || async {
        verifier.verify(&token_of(&new)).await.is_ok()
    })
    .await;
}
