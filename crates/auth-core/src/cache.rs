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
use crate::verifier::VerifyError;

/// Two generations of at most `capacity` tokens each: when the current one is full it
/// becomes the previous one and the old previous one is dropped. Tokens in use keep being
/// found (in one generation or the other) while memory stays below `2 × capacity` entries,
/// and nothing is ever scanned.
pub(crate) struct VerifiedTokens {
    capacity: usize,
    /// Leeway on `exp` and `nbf`, seconds, as in verification.
    leeway: i64,
    generations: RwLock<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<Box<str>, Arc<Claims>>,
    previous: HashMap<Box<str>, Arc<Claims>>,
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: usize, leeway: i64) -> Self {
        Self {
            capacity,
            leeway,
            generations: RwLock::default(),
        }
    }

    /// The claims of `token` if it was verified before, checked against `now` (Unix
    /// seconds) exactly as verification checks `exp` and `nbf`. `None`: not remembered.
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<Result<Arc<Claims>, VerifyError>> {
        let claims = {
            let generations = self.generations.read().unwrap_or_else(|p| p.into_inner());
            generations
                .current
                .get(token)
                .or_else(|| generations.previous.get(token))?
                .clone()
        };
        Some(if claims.exp < now - self.leeway {
            Err(VerifyError::Expired)
        } else if claims.nbf > now + self.leeway {
            Err(VerifyError::NotYetValid)
        } else {
            Ok(claims)
        })
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

    use super::*;

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
        })
    }

    #[test]
    fn a_remembered_token_is_checked_against_the_clock_on_every_hit() {
        let cache = VerifiedTokens::new(8, 30);
        cache.insert("t", claims(1_000, 2_000));
        assert!(cache.get("t", 1_500).unwrap().is_ok());
        assert!(cache.get("t", 2_030).unwrap().is_ok(), "within the leeway");
        assert_eq!(cache.get("t", 2_031).unwrap(), Err(VerifyError::Expired));
        assert_eq!(cache.get("t", 969).unwrap(), Err(VerifyError::NotYetValid));
        assert!(cache.get("other", 1_500).is_none());
    }

    #[test]
    fn memory_stays_within_two_generations() {
        let cache = VerifiedTokens::new(4, 30);
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
        let cache = VerifiedTokens::new(0, 30);
        cache.insert("t", claims(0, 10));
        assert!(cache.get("t", 1).is_none());
    }
}
