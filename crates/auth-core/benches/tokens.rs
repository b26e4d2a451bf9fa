//! Micro-benchmarks of access-token signing and verification, for every algorithm authd
//! signs with: `sign/<alg>` is [`TokenIssuer::issue`] (claims, header, JSON, signature),
//! `verify/<alg>` is [`Verifier::verify`] of one token issued beforehand (header checks,
//! key lookup by `kid`, signature, claim checks), `verify_cached/<alg>` the same token
//! presented again ([`Verifier::verify_cached`]). Revocation is not part of any.
//!
//! `cargo bench -p auth-core --bench tokens`

use std::hint::black_box;
use std::time::Duration;

use auth_core::{
    Algorithm, KeySet, SigningKey, TokenIssuer, TokenSubject, Verifier, VerifierConfig,
};
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use uuid::Uuid;

const ISSUER: &str = "authd";
const AUDIENCE: &str = "api";
/// Long enough that the pre-issued token cannot expire during any run.
const TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// One algorithm's issuer and verifier over the same key, with a token to verify.
struct Fixture {
    alg: Algorithm,
    issuer: TokenIssuer,
    verifier: Verifier,
    token: String,
}

fn signing_key(alg: Algorithm) -> SigningKey {
    match alg {
        Algorithm::HS256 => SigningKey::hs256(&SecretString::from(
            "benchmark secret, 32 bytes or more: not for real use".to_owned(),
        ))
        .expect("a valid HS256 secret"),
        _ => SigningKey::generate(alg).expect("key generation").1,
    }
}

fn fixtures(subject: &TokenSubject) -> Vec<Fixture> {
    [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .map(|alg| {
        let keys = KeySet::new(signing_key(alg));
        let issuer = TokenIssuer::new(keys.clone(), ISSUER.into(), AUDIENCE.into(), TTL);
        let verifier = Verifier::new(keys, VerifierConfig::new(ISSUER, AUDIENCE));
        let issued = issuer.issue(subject).expect("issue");
        // Benchmark the success path only: a rejected token would measure an early exit.
        let claims = verifier.verify(&issued.token).expect("the token verifies");
        assert_eq!(claims, issued.claims, "{alg}");
        Fixture {
            alg,
            issuer,
            verifier,
            token: issued.token,
        }
    })
    .collect()
}

fn tokens(c: &mut Criterion) {
    let subject = TokenSubject {
        user_id: Uuid::now_v7(),
        session_id: Uuid::now_v7(),
        username: "alice".into(),
        roles: vec!["user".into()],
        amr: Some(vec!["pwd".into()]),
        client_id: None,
    };
    let fixtures = fixtures(&subject);

    let mut sign = c.benchmark_group("sign");
    for f in &fixtures {
        sign.bench_function(f.alg.as_str(), |b| {
            b.iter(|| f.issuer.issue(black_box(&subject)).expect("issue"))
        });
    }
    sign.finish();

    let mut verify = c.benchmark_group("verify");
    for f in &fixtures {
        verify.bench_function(f.alg.as_str(), |b| {
            b.iter(|| f.verifier.verify(black_box(&f.token)).expect("verify"))
        });
    }
    verify.finish();

    // The same token again: answered from the verified-token cache (time claims checked).
    let mut cached = c.benchmark_group("verify_cached");
    for f in &fixtures {
        f.verifier.verify_cached(&f.token).expect("verify");
        cached.bench_function(f.alg.as_str(), |b| {
            b.iter(|| {
                f.verifier
                    .verify_cached(black_box(&f.token))
                    .expect("verify")
            })
        });
    }
    cached.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
