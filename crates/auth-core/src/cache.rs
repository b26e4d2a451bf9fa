//! A bounded memo of access tokens already verified, so the signature of a token a client
//! presents again is not checked again (as API gateways do: Envoy's `jwt_authn` filter
//! keeps such a cache).
//!
//! Only what cannot change is remembered: a token's signature and its fixed claims. Time
//! is checked again on every hit ([`VerifiedTokens::get`] takes the current time), and
//! revocation is the caller's check on every request either way. Keys cannot outlive their
//! cache: a new key set means a new [`crate::Verifier`] and a new, empty cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::Claims;
use crate::verifier::{TimeRules, VerifyError};

/// Two generations of at most `capacity` tokens each: when the current one is full it
/// becomes the previous one and the old previous one is dropped. Tokens in use keep being
/// found (in one generation or the other) while memory stays below `2 × capacity` entries,
/// and nothing is ever scanned.
pub(crate) struct VerifiedTokens {
    capacity: usize,
    /// The verifier's time checks, applied again on every hit.
    rules: TimeRules,
    generations: RwLock<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<Box<str>, Arc<Claims>>,
    previous: HashMap<Box<str>, Arc<Claims>>,
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: usize, rules: TimeRules) -> Self {
        Self {
            capacity,
            rules,
            generations: RwLock::default(),
        }
    }

    /// The claims of `token` if it was verified before, checked against `now` (Unix
    /// seconds) exactly as verification checks the time claims and the lifetime.
    /// `None`: not remembered.
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<Result<Arc<Claims>, VerifyError>> {
        let claims = {
            let generations = self.generations.read().unwrap_or_else(|p| p.into_inner());
            generations
                .current
                .get(token)
                .or_else(|| generations.previous.get(token))?
                .clone()
        };
        Some(self.rules.check(&claims, now).map(|()| claims))
    }

    /// Remembers a token that has just passed every check.
    pub(crate) fn insert(&self, token: &str, claims: Arc<Claims>) {
        if self.capacity == 0 {
            return;
        }
        let mut generations = self.generations.write().unwrap_or_else(|p| p.into_inner());
        if generations.current.len() >= self.capacity {
            generations.previous = std::mem::take(&mut generations.current);
        }
        generations.current.insert(token.into(), claims);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.generations.read().unwrap();
        generations.current.len() + generations.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use std::time::Duration;

    use super::*;
    use crate::VerifierConfig;

    /// The default rules: 30 s of leeway, no lifetime limit.
    fn rules() -> TimeRules {
        TimeRules::of(&VerifierConfig::new("authd", "api"))
    }

    fn claims(nbf: i64, exp: i64) -> Arc<Claims> {
        Arc::new(Claims {
            iss: "authd".into(),
            aud: "api".into(),
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            jti: Uuid::now_v7(),
            iat: nbf,
            nbf,
            exp,
            roles: vec![],
            username: "alice".into(),
            amr: None,
            client_id: "authd".into(),
        })
    }

    #[test]
    fn a_remembered_token_is_checked_against_the_clock_on_every_hit() {
        let cache = VerifiedTokens::new(8, rules());
        cache.insert("t", claims(1_000, 2_000));
        assert!(cache.get("t", 1_500).unwrap().is_ok());
        assert!(cache.get("t", 2_030).unwrap().is_ok(), "within the leeway");
        assert_eq!(cache.get("t", 2_031).unwrap(), Err(VerifyError::Expired));
        assert_eq!(cache.get("t", 969).unwrap(), Err(VerifyError::NotYetValid));
        assert!(cache.get("other", 1_500).is_none());
    }

    #[test]
    fn a_remembered_token_is_held_to_the_lifetime_limit_on_every_hit() {
        let limited = TimeRules::of(
            &VerifierConfig::new("authd", "api").with_max_lifetime(Duration::from_secs(60)),
        );
        let cache = VerifiedTokens::new(8, limited);
        cache.insert("short", claims(1_000, 1_060));
        cache.insert("long", claims(1_000, 1_061));
        assert!(cache.get("short", 1_010).unwrap().is_ok());
        assert_eq!(
            cache.get("long", 1_010).unwrap(),
            Err(VerifyError::LifetimeTooLong)
        );
    }

    #[test]
    fn memory_stays_within_two_generations() {
        let cache = VerifiedTokens::new(4, rules());
        for i in 0..100 {
            cache.insert(&format!("token-{i}"), claims(0, i64::MAX / 2));
            assert!(cache.len() <= 8);
        }
        // The newest are still found.
        assert!(cache.get("token-99", 1).is_some());
        assert!(cache.get("token-96", 1).is_some());
        assert!(cache.get("token-0", 1).is_none());
    }

    #[test]
    fn a_zero_capacity_remembers_nothing() {
        let cache = VerifiedTokens::new(0, rules());
        cache.insert("t", claims(0, 10));
        assert!(cache.get("t", 1).is_none());
    }
}
