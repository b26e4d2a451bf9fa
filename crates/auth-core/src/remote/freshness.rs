//! How long a fetched JWKS may be trusted: its HTTP caching headers (RFC 9111), clamped,
//! and what to do with a key set of a given age.

use std::time::Duration;

use reqwest::header::{AGE, CACHE_CONTROL, HeaderMap};

/// How long keys are trusted when the JWKS response has no `max-age`.
pub(super) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// The least freshness given to a response, whatever its headers: `no-store`, `no-cache`,
/// `max-age=0` and an invalid `max-age` mean "refetch at the next token", at most this often.
pub(super) const SHORTEST_MAX_AGE: Duration = Duration::from_secs(1);
/// The most freshness given to a response, whatever its headers: a retired key must stop
/// being trusted in bounded time even if the JWKS server asks for a day of caching.
pub(super) const LONGEST_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Where a cached key set stands at some age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Younger than its max-age: used, nothing fetched.
    Fresh,
    /// Past its max-age but within the max-stale grace: still used, and refetched in the
    /// background (RFC 5861's stale-while-revalidate).
    Stale,
    /// Past max-age plus max-stale: never used again; a verification must fetch first.
    Expired,
}

impl Freshness {
    pub(super) fn of(age: Duration, max_age: Duration, max_stale: Duration) -> Self {
        if age < max_age {
            Self::Fresh
        } else if age < max_age.saturating_add(max_stale) {
            Self::Stale
        } else {
            Self::Expired
        }
    }
}

/// The freshness lifetime of a JWKS response (RFC 9111 §4.2.1): its `Cache-Control:
/// max-age` (§5.2.2.1) less its `Age` (§5.1, when a cache served it), clamped to
/// [`SHORTEST_MAX_AGE`]..=[`LONGEST_MAX_AGE`]. `no-store` and `no-cache` (§5.2.2.4,
/// §5.2.2.5) give the shortest: the keys must be checked again before the next use, and a
/// verifier cannot do without them. No `max-age` gives [`DEFAULT_MAX_AGE`]; an invalid one,
/// the shortest (§4.2.1: such a response is stale).
pub(super) fn max_age(headers: &HeaderMap) -> Duration {
    let mut max_age = None;
    let directives = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for directive in directives {
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim())),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return SHORTEST_MAX_AGE;
        }
        // §4.2.1: on several max-age directives, the first one counts.
        if name.eq_ignore_ascii_case("max-age") && max_age.is_none() {
            // §5.2: recipients accept the quoted form too.
            let seconds = argument
                .map(|a| a.trim_matches('"'))
                .and_then(delta_seconds);
            max_age = Some(seconds.unwrap_or(Duration::ZERO));
        }
    }
    let Some(max_age) = max_age else {
        return DEFAULT_MAX_AGE;
    };
    let age = headers
        .get(AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| delta_seconds(value.trim()))
        .unwrap_or(Duration::ZERO);
    max_age
        .saturating_sub(age)
        .clamp(SHORTEST_MAX_AGE, LONGEST_MAX_AGE)
}

/// RFC 9111 §1.2.2 delta-seconds: digits only; a value too large to hold is as large as
/// can be held.
fn delta_seconds(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(cache_control: &[&str], age: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in cache_control {
            headers.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        if let Some(age) = age {
            headers.insert(AGE, HeaderValue::from_str(age).unwrap());
        }
        headers
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        for (values, expected) in [
            (&["public, max-age=30"][..], secs(30)),
            (&["MAX-AGE=45"], secs(45)),
            (&[r#"max-age="20""#], secs(20)),
            (&["public", "max-age=25, must-revalidate"], secs(25)),
            (&["max-age=10, max-age=900"], secs(10)),
            (&[" max-age = 12 "], secs(12)),
        ] {
            assert_eq!(max_age(&headers(values, None)), expected, "{values:?}");
        }
    }

    #[test]
    fn no_store_no_cache_zero_and_invalid_values_get_the_shortest_lifetime() {
        for values in [
            &["no-store"][..],
            &["max-age=60, no-cache"],
            &["No-Cache"],
            &["max-age=0"],
            &["max-age=soon"],
            &["max-age=-5"],
            &["max-age="],
            &["max-age"],
        ] {
            assert_eq!(
                max_age(&headers(values, None)),
                SHORTEST_MAX_AGE,
                "{values:?}"
            );
        }
    }

    #[test]
    fn without_a_max_age_the_default_applies() {
        assert_eq!(max_age(&headers(&[], None)), DEFAULT_MAX_AGE);
        assert_eq!(max_age(&headers(&["public"], None)), DEFAULT_MAX_AGE);
        assert_eq!(max_age(&headers(&["s-maxage=5"], None)), DEFAULT_MAX_AGE);
    }

    #[test]
    fn long_lifetimes_are_clamped() {
        for value in ["max-age=86400", "max-age=99999999999999999999999999"] {
            assert_eq!(
                max_age(&headers(&[value], None)),
                LONGEST_MAX_AGE,
                "{value}"
            );
        }
    }

    #[test]
    fn the_age_a_cache_reports_is_subtracted() {
        assert_eq!(max_age(&headers(&["max-age=60"], Some("45"))), secs(15));
        assert_eq!(
            max_age(&headers(&["max-age=60"], Some("600"))),
            SHORTEST_MAX_AGE
        );
        assert_eq!(max_age(&headers(&["max-age=60"], Some("x"))), secs(60));
    }

    #[test]
    fn a_key_set_is_fresh_then_stale_then_expired() {
        let (max_age, max_stale) = (secs(30), secs(60));
        for (age, expected) in [
            (0, Freshness::Fresh),
            (29, Freshness::Fresh),
            (30, Freshness::Stale),
            (89, Freshness::Stale),
            (90, Freshness::Expired),
            (10_000, Freshness::Expired),
        ] {
            assert_eq!(
                Freshness::of(secs(age), max_age, max_stale),
                expected,
                "{age}"
            );
        }
        // No grace: past max-age the keys are not used until refetched.
        assert_eq!(
            Freshness::of(secs(30), max_age, Duration::ZERO),
            Freshness::Expired
        );
    }
}
