use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::cache::VerifiedTokens;
use crate::issuer::ACCESS_TOKEN_TYP;
use crate::keys::VerificationKey;
use crate::{Claims, KeySet, unix_now};

/// Longest token looked at; anything longer is rejected before any parsing.
/// Ours are a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a verifier expects of a token besides its signature.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The longest lifetime (`exp - iat`) a token may claim; `None`: any. authd sets its
    /// `ACCESS_TOKEN_TTL` here: a token issued under a longer TTL is refused, so lowering
    /// the TTL bounds how long any accepted token lives, and a revoked session need only be
    /// remembered that long (plus the leeway). A `RemoteVerifier` (feature `remote`) does
    /// not know authd's TTL: set it with [`VerifierConfig::with_max_lifetime`] to have the
    /// same check.
    pub max_lifetime: Option<Duration>,
    /// Tokens remembered by [`Verifier::verify_cached`], per generation (so at most twice
    /// this many; each entry costs about the token's length plus 300 bytes). 0: none.
    pub cache_capacity: usize,
}

impl VerifierConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            max_lifetime: None,
            cache_capacity: 4096,
        }
    }

    /// Refuses tokens whose lifetime `exp - iat` is longer than `max` (see
    /// [`VerifierConfig::max_lifetime`]).
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = Some(max);
        self
    }
}

/// The time checks of verification in whole seconds (the unit of the claims), done the
/// same way by [`Verifier::verify_with`] and by the verified-token cache on every hit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRules {
    leeway: i64,
    max_lifetime: Option<i64>,
}

impl TimeRules {
    pub(crate) fn of(config: &VerifierConfig) -> Self {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Self {
            leeway: secs(config.leeway),
            max_lifetime: config.max_lifetime.map(secs),
        }
    }

    /// Checks `iat`, `exp` and `nbf` against `now` (Unix seconds). Every sum saturates: no
    /// claim value or setting can overflow it.
    ///
    /// With a lifetime limit, a token is accepted at most until `iat + max_lifetime +
    /// leeway`: past that second it is [`VerifyError::Expired`] (or
    /// [`VerifyError::LifetimeTooLong`] if its `exp` claims more), which is what lets a
    /// revoked session be forgotten (see `Settings::token_retention` in authd).
    pub(crate) fn check(&self, claims: &Claims, now: i64) -> Result<(), VerifyError> {
        // RFC 7519 §4.1.4-6: NumericDate, so never negative.
        if claims.exp < 0 || claims.nbf < 0 || claims.iat < 0 {
            return Err(VerifyError::InvalidClaims);
        }
        if claims.exp < now.saturating_sub(self.leeway) {
            return Err(VerifyError::Expired);
        }
        // RFC 7519 §4.1.5 for `nbf`; a token claiming to be issued in the future (§4.1.6)
        // is refused the same way, else its lifetime below would count from a made-up start.
        let latest_start = now.saturating_add(self.leeway);
        if claims.nbf > latest_start || claims.iat > latest_start {
            return Err(VerifyError::NotYetValid);
        }
        if let Some(max) = self.max_lifetime
            && claims.exp.saturating_sub(claims.iat) > max
        {
            return Err(VerifyError::LifetimeTooLong);
        }
        Ok(())
    }
}

/// Why a token was rejected. The `Display` text is safe to show to the client: it
/// goes into `error_description` and the `WWW-Authenticate` header (RFC 6750 §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token header has a parameter that is not accepted")]
    ForbiddenHeader,
    #[error("the token is signed with a key that is not known")]
    UnknownKey,
    #[error("the token's algorithm is not accepted")]
    AlgorithmNotAllowed,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's lifetime is longer than this server accepts")]
    LifetimeTooLong,
    #[error("the token was issued by someone else")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token's claims are missing or malformed")]
    InvalidClaims,
}

/// Checks access tokens: header, allow-listed algorithm, signature by `kid`, then claims.
///
/// Everything that RFC 8725 (JWT best current practices) asks of a verifier: the algorithm
/// comes from our key, never from the token (§3.1); `jku`, `jwk`, `x5u` and `x5c` are never
/// followed (§3.10 of the same spirit: keys come only from configuration); `crit` is
/// rejected since we understand no extension (RFC 7515 §4.1.11); `typ` must be `at+jwt`
/// (RFC 9068 §4, RFC 8725 §3.11); `iss`, `aud`, `exp`, `nbf`, `iat` are required and
/// checked, and so is the lifetime `exp - iat` when [`VerifierConfig::max_lifetime`] is set.
///
/// [`Verifier::verify_cached`] remembers the tokens it has verified (a bounded cache, see
/// [`VerifierConfig::cache_capacity`]) and checks only their time claims when they come back.
#[derive(Clone)]
pub struct Verifier {
    keys: KeySet,
    config: VerifierConfig,
    verified: Arc<VerifiedTokens>,
}

impl Verifier {
    pub fn new(keys: KeySet, config: VerifierConfig) -> Self {
        Self {
            keys,
            verified: Arc::new(VerifiedTokens::new(
                config.cache_capacity,
                TimeRules::of(&config),
            )),
            config,
        }
    }

    /// [`Self::verify`], remembering the result: a token verified before is answered from
    /// memory after its `exp` and `nbf` are checked against the clock again. Only tokens
    /// that passed every check are remembered.
    pub fn verify_cached(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        if let Some(known) = self.verified.get(token, unix_now()) {
            return known;
        }
        let claims = Arc::new(self.verify(token)?);
        self.verified.insert(token, claims.clone());
        Ok(claims)
    }

    /// The keys this verifier accepts.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Verifies `token` and returns its claims. Does not consult revocation: that is the
    /// caller's (the claims' `sid` against [`crate::RevokedSessions`]).
    pub fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        Self::verify_with(token, &self.config, |kid| self.keys.verification_key(kid))
    }

    /// The checks of [`Self::verify`], with the keys looked up by `key_for` (also
    /// `RemoteVerifier`'s, with the `remote` feature).
    ///
    /// One pass over the token: the header and the payload are each decoded and parsed
    /// once, the signature is checked with the key's prepared verifier, and the claims are
    /// checked on the typed [`Claims`] (jsonwebtoken's `decode` parses the header three
    /// times and the claims twice; this path keeps its checks and their order: signature,
    /// then claim types, `exp`, `nbf` and `iat`, the lifetime, `iss`, `aud`).
    pub(crate) fn verify_with<'k>(
        token: &str,
        config: &VerifierConfig,
        key_for: impl FnOnce(&str) -> Option<&'k VerificationKey>,
    ) -> Result<Claims, VerifyError> {
        let (header, payload, signature) = split_compact(token)?;
        let message = &token.as_bytes()[..header.len() + 1 + payload.len()];

        let (mut stack, mut heap) = ([0u8; 1024], Vec::new());
        let header =
            decode_b64(header, &mut stack, &mut heap).map_err(|_| VerifyError::Malformed)?;
        let header: JoseHeader =
            serde_json::from_slice(header).map_err(|_| VerifyError::Malformed)?;
        let alg =
            jsonwebtoken::Algorithm::from_str(&header.alg).map_err(|_| VerifyError::Malformed)?;
        if !header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(VerifyError::WrongType);
        }
        if header.crit.is_some()
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(VerifyError::ForbiddenHeader);
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
        let key = key_for(kid).ok_or(VerifyError::UnknownKey)?;
        // RFC 8725 §3.1: the key decides the algorithm, the token only has to agree.
        if alg != key.alg.to_jwt() {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        key.verify_signature(message, signature)?;

        let claims: Claims = decode_segment(payload).map_err(|e| match e {
            SegmentError::Base64 => VerifyError::Malformed,
            SegmentError::Json => VerifyError::InvalidClaims,
        })?;
        TimeRules::of(config).check(&claims, unix_now())?;
        // RFC 7519 §4.1.1 and §4.1.3 (RFC 9068 §4: both must match this resource server).
        if claims.iss != config.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if claims.aud != config.audience {
            return Err(VerifyError::WrongAudience);
        }
        Ok(claims)
    }
}

/// The JOSE header members we read (RFC 7515 §4.1); the key-bearing and critical ones
/// only to refuse them. A duplicate member is refused by the parser.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
}

enum SegmentError {
    Base64,
    Json,
}

/// A base64url segment (no padding, RFC 7515 §2), decoded into `stack` when it fits (ours
/// always do), else into `heap`.
fn decode_b64<'b, const N: usize>(
    segment: &str,
    stack: &'b mut [u8; N],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], SegmentError> {
    match URL_SAFE_NO_PAD.decode_slice(segment, stack) {
        Ok(len) => Ok(&stack[..len]),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            *heap = URL_SAFE_NO_PAD
                .decode(segment)
                .map_err(|_| SegmentError::Base64)?;
            Ok(heap)
        }
        Err(base64::DecodeSliceError::DecodeError(_)) => Err(SegmentError::Base64),
    }
}

/// A segment decoded and parsed as JSON into an owned `T`.
fn decode_segment<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, SegmentError> {
    let (mut stack, mut heap) = ([0u8; 768], Vec::new());
    let decoded = decode_b64(segment, &mut stack, &mut heap)?;
    serde_json::from_slice::<T>(decoded).map_err(|_| SegmentError::Json)
}

/// JWS compact serialisation (RFC 7515 §7.1): exactly three non-empty base64url segments
/// without padding (RFC 7515 §2), within a bounded length; returns the header, payload
/// and signature segments. The dots are found with `memchr` and the alphabet checked
/// without a branch per byte, so the check vectorises.
fn split_compact(token: &str) -> Result<(&str, &str, &str), VerifyError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::Malformed);
    }
    let (header, rest) = token.split_once('.').ok_or(VerifyError::Malformed)?;
    let (payload, signature) = rest.split_once('.').ok_or(VerifyError::Malformed)?;
    let base64url = |segment: &str| {
        !segment.is_empty()
            && segment.bytes().fold(true, |ok, b| {
                ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_'))
            })
    };
    // A third dot, padding or any other character fails the alphabet check.
    if base64url(header) && base64url(payload) && base64url(signature) {
        Ok((header, payload, signature))
    } else {
        Err(VerifyError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header, decode_header, encode};
    use secrecy::SecretString;
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;
    use crate::{SigningKey, TokenIssuer, TokenSubject, unix_now};

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn keys() -> KeySet {
        KeySet::new(SigningKey::hs256(&SecretString::from(SECRET)).unwrap())
    }

    fn verifier() -> Verifier {
        Verifier::new(keys(), VerifierConfig::new("authd", "api"))
    }

    fn subject() -> TokenSubject {
        TokenSubject {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            username: "alice".into(),
            roles: vec!["admin".into()],
            amr: Some(vec!["pwd".into()]),
            client_id: None,
        }
    }

    fn good_claims() -> Value {
        let now = unix_now();
        json!({
            "iss": "authd", "aud": "api", "sub": Uuid::now_v7(), "sid": Uuid::now_v7(),
            "jti": Uuid::now_v7(), "iat": now, "nbf": now, "exp": now + 600,
            "roles": [], "username": "alice"
        })
    }

    /// Signs arbitrary claims with the real secret and a header we control.
    fn forge(header: Header, claims: &Value) -> String {
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn good_header() -> Header {
        let mut h = Header::new(jsonwebtoken::Algorithm::HS256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(keys().signing_key().kid().to_owned());
        h
    }

    #[test]
    fn a_token_it_signs_verifies_with_all_claims() {
        // Also proves a crypto backend is compiled in: without one jsonwebtoken panics here.
        let issuer = TokenIssuer::new(
            keys(),
            "authd".into(),
            "api".into(),
            Duration::from_secs(900),
        );
        let s = subject();
        let issued = issuer.issue(&s).unwrap();
        let claims = verifier().verify(&issued.token).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!(claims.sub, s.user_id);
        assert_eq!(claims.sid, s.session_id);
        assert_eq!(claims.exp - claims.iat, 900);
        let header = decode_header(&issued.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys().signing_key().kid()));
    }

    #[test]
    fn the_forging_helper_makes_tokens_that_verify() {
        // Guards the negative tests below: they differ from this one in one thing each.
        assert!(
            verifier()
                .verify(&forge(good_header(), &good_claims()))
                .is_ok()
        );
    }

    #[test]
    fn a_cached_token_gives_the_same_claims_and_a_bad_one_is_never_cached() {
        let v = verifier();
        let issuer = TokenIssuer::new(
            keys(),
            "authd".into(),
            "api".into(),
            Duration::from_secs(900),
        );
        let issued = issuer.issue(&subject()).unwrap();
        let first = v.verify_cached(&issued.token).unwrap();
        let again = v.verify_cached(&issued.token).unwrap();
        assert_eq!(*first, issued.claims);
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second answer comes from the cache"
        );
        // A token differing only in its signature is verified (and refused), not looked up.
        let middle = issued.token.len() - 10;
        let swapped = if &issued.token[middle..=middle] == "A" {
            "B"
        } else {
            "A"
        };
        let mut forged = issued.token.clone();
        forged.replace_range(middle..=middle, swapped);
        assert_eq!(v.verify_cached(&forged), Err(VerifyError::BadSignature));
        assert_eq!(v.verify_cached(&forged), Err(VerifyError::BadSignature));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let other = KeySet::new(SigningKey::hs256(&SecretString::from("z".repeat(32))).unwrap());
        let token = TokenIssuer::new(other, "authd".into(), "api".into(), Duration::from_secs(60))
            .issue(&subject())
            .unwrap()
            .token;
        // Different secret means different kid: unknown key.
        assert_eq!(verifier().verify(&token), Err(VerifyError::UnknownKey));
        let mut h = good_header();
        h.kid = Some(keys().signing_key().kid().to_owned());
        let forged = encode(&h, &good_claims(), &EncodingKey::from_secret(&[b'z'; 32])).unwrap();
        assert_eq!(verifier().verify(&forged), Err(VerifyError::BadSignature));
    }

    #[test]
    fn alg_none_is_rejected_in_any_casing() {
        let payload = URL_SAFE_NO_PAD.encode(good_claims().to_string());
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = URL_SAFE_NO_PAD.encode(
                json!({"alg": alg, "typ": "at+jwt", "kid": keys().signing_key().kid()}).to_string(),
            );
            for token in [
                format!("{header}.{payload}."),
                format!("{header}.{payload}.c2ln"),
            ] {
                assert!(verifier().verify(&token).is_err(), "{alg} accepted");
            }
        }
    }

    #[test]
    fn a_wrong_or_missing_typ_is_rejected() {
        for typ in [None, Some("JWT"), Some("jwt"), Some("at+jwt2")] {
            let mut h = good_header();
            h.typ = typ.map(str::to_owned);
            assert_eq!(
                verifier().verify(&forge(h, &good_claims())),
                Err(VerifyError::WrongType)
            );
        }
    }

    #[test]
    fn key_bearing_and_critical_headers_are_rejected() {
        let mut h = good_header();
        h.jku = Some("https://evil.example/jwks.json".into());
        assert_eq!(
            verifier().verify(&forge(h, &good_claims())),
            Err(VerifyError::ForbiddenHeader)
        );
        let mut h = good_header();
        h.x5u = Some("https://evil.example/cert.pem".into());
        assert_eq!(
            verifier().verify(&forge(h, &good_claims())),
            Err(VerifyError::ForbiddenHeader)
        );
        let mut h = good_header();
        h.crit = Some(vec!["exp".into()]);
        assert_eq!(
            verifier().verify(&forge(h, &good_claims())),
            Err(VerifyError::ForbiddenHeader)
        );
    }

    #[test]
    fn an_unknown_or_missing_kid_is_rejected() {
        let mut h = good_header();
        h.kid = Some("someone-else".into());
        assert_eq!(
            verifier().verify(&forge(h, &good_claims())),
            Err(VerifyError::UnknownKey)
        );
        let mut h = good_header();
        h.kid = None;
        assert_eq!(
            verifier().verify(&forge(h, &good_claims())),
            Err(VerifyError::UnknownKey)
        );
    }

    #[test]
    fn another_algorithm_than_the_keys_is_rejected() {
        let mut h = good_header();
        h.alg = jsonwebtoken::Algorithm::HS512;
        assert_eq!(
            verifier().verify(&forge(h, &good_claims())),
            Err(VerifyError::AlgorithmNotAllowed)
        );
    }

    /// Claims that must fail, each with the reason: the same on every algorithm.
    fn bad_claims(now: i64) -> Vec<(&'static str, Value, VerifyError)> {
        vec![
            ("iss", json!("someone"), VerifyError::WrongIssuer),
            ("aud", json!("other"), VerifyError::WrongAudience),
            ("exp", json!(now - 120), VerifyError::Expired),
            ("nbf", json!(now + 120), VerifyError::NotYetValid),
            (
                "exp",
                json!((now + 600).to_string()),
                VerifyError::InvalidClaims,
            ),
            ("exp", json!(1e300), VerifyError::InvalidClaims),
            ("exp", json!(-1), VerifyError::InvalidClaims),
            ("sub", json!("not-a-uuid"), VerifyError::InvalidClaims),
        ]
    }

    #[test]
    fn claim_checks_reject_what_they_should() {
        let cases = bad_claims(unix_now());
        for (claim, value, expected) in cases {
            let mut claims = good_claims();
            claims[claim] = value.clone();
            assert_eq!(
                verifier().verify(&forge(good_header(), &claims)),
                Err(expected.clone()),
                "{claim} = {value}"
            );
        }
        for claim in ["exp", "nbf", "iss", "aud", "sub", "sid"] {
            let mut claims = good_claims();
            claims.as_object_mut().unwrap().remove(claim);
            assert!(
                verifier().verify(&forge(good_header(), &claims)).is_err(),
                "without {claim}"
            );
        }
    }

    #[test]
    fn the_leeway_tolerates_small_clock_skew_only() {
        let now = unix_now();
        let mut claims = good_claims();
        claims["exp"] = json!(now - 10);
        assert!(verifier().verify(&forge(good_header(), &claims)).is_ok());
        claims["exp"] = json!(now - 40);
        assert_eq!(
            verifier().verify(&forge(good_header(), &claims)),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn a_lifetime_longer_than_the_limit_is_refused() {
        let limited = Verifier::new(
            keys(),
            VerifierConfig::new("authd", "api").with_max_lifetime(Duration::from_secs(600)),
        );
        let now = unix_now();
        let mut claims = good_claims();
        assert!(limited.verify(&forge(good_header(), &claims)).is_ok());
        claims["exp"] = json!(now + 601);
        let token = forge(good_header(), &claims);
        assert_eq!(limited.verify(&token), Err(VerifyError::LifetimeTooLong));
        assert_eq!(
            limited.verify_cached(&token),
            Err(VerifyError::LifetimeTooLong)
        );
        // Without a limit (the default, and a RemoteVerifier's unless set) it is accepted.
        assert!(verifier().verify(&token).is_ok());
        // A token issued by authd under a longer TTL than the verifier's limit.
        let issuer = TokenIssuer::new(
            keys(),
            "authd".into(),
            "api".into(),
            Duration::from_secs(3600),
        );
        let issued = issuer.issue(&subject()).unwrap();
        assert_eq!(
            limited.verify(&issued.token),
            Err(VerifyError::LifetimeTooLong)
        );
    }

    #[test]
    fn an_iat_in_the_future_or_negative_is_refused() {
        let now = unix_now();
        for (iat, expected) in [
            (json!(now + 120), VerifyError::NotYetValid),
            (json!(-1), VerifyError::InvalidClaims),
            (json!("now"), VerifyError::InvalidClaims),
        ] {
            let mut claims = good_claims();
            claims["iat"] = iat.clone();
            assert_eq!(
                verifier().verify(&forge(good_header(), &claims)),
                Err(expected),
                "iat = {iat}"
            );
        }
        let mut claims = good_claims();
        claims["iat"] = json!(now + 10);
        assert!(
            verifier().verify(&forge(good_header(), &claims)).is_ok(),
            "within the leeway"
        );
    }

    fn claims_at(iat: i64, nbf: i64, exp: i64) -> Claims {
        Claims {
            iss: "authd".into(),
            aud: "api".into(),
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            jti: Uuid::now_v7(),
            iat,
            nbf,
            exp,
            roles: vec![],
            amr: None,
            username: "alice".into(),
            client_id: "authd".into(),
        }
    }

    /// What revocation relies on: with a lifetime limit, no token is accepted from
    /// `iat + max_lifetime + leeway + 1` on, whatever its `nbf` and `exp`.
    #[test]
    fn no_token_is_accepted_past_its_iat_plus_the_limit_and_the_leeway() {
        let (max, leeway) = (60, 5);
        let rules = TimeRules::of(&VerifierConfig {
            leeway: Duration::from_secs(leeway),
            ..VerifierConfig::new("authd", "api").with_max_lifetime(Duration::from_secs(max))
        });
        let iat = 1_000_000i64;
        let last = iat + max as i64 + leeway as i64;
        let mut accepted_at_last = false;
        for nbf in [0, iat - 100, iat, iat + 30, iat + 100] {
            for exp in [iat, iat + 30, iat + 60, iat + 61, iat + 10_000, i64::MAX] {
                let claims = claims_at(iat, nbf, exp);
                accepted_at_last |= rules.check(&claims, last).is_ok();
                for now in [last + 1, last + 2, i64::MAX] {
                    assert!(
                        rules.check(&claims, now).is_err(),
                        "nbf {nbf} exp {exp} accepted at {now}"
                    );
                }
            }
        }
        assert!(accepted_at_last, "the bound is tight");
    }

    #[test]
    fn extreme_claims_and_settings_neither_overflow_nor_panic() {
        let huge = VerifierConfig {
            leeway: Duration::MAX,
            ..VerifierConfig::new("authd", "api").with_max_lifetime(Duration::MAX)
        };
        let zero = VerifierConfig {
            leeway: Duration::ZERO,
            ..VerifierConfig::new("authd", "api").with_max_lifetime(Duration::ZERO)
        };
        for config in [huge, zero] {
            let rules = TimeRules::of(&config);
            for (iat, nbf, exp) in [
                (0, 0, i64::MAX),
                (i64::MAX, i64::MAX, i64::MAX),
                (0, i64::MAX, 0),
                (i64::MIN, i64::MIN, i64::MIN),
            ] {
                for now in [i64::MIN, 0, unix_now(), i64::MAX] {
                    let _ = rules.check(&claims_at(iat, nbf, exp), now);
                }
            }
        }
    }

    #[test]
    fn structurally_broken_tokens_are_malformed() {
        let token = forge(good_header(), &good_claims());
        let (head, sig) = token.rsplit_once('.').unwrap();
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let cases = [
            String::new(),
            "abc".into(),
            format!("{head}."),
            format!("{head}.{sig}.{sig}"),
            format!("{token}="),
            format!("{head}.{}", &sig[..sig.len() / 2]),
            format!("{head}.+{sig}"),
            format!("{head}.{sig}/"),
            format!(" {token}"),
            long,
        ];
        for case in cases {
            let result = verifier().verify(&case);
            assert!(result.is_err(), "accepted {case:?}");
        }
    }

    /// Signs raw header and payload JSON with the test secret, so that headers jsonwebtoken
    /// would never write (duplicates, escapes, unknown algorithms) can be tried.
    fn sign_raw(header: &str, payload: &str) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        format!("{message}.{signature}")
    }

    #[test]
    fn the_one_pass_parser_refuses_what_a_full_parse_would() {
        let kid = keys().signing_key().kid().to_owned();
        let claims = good_claims().to_string();
        let header =
            |extra: &str| format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"{extra}}}"#);
        // The well-formed baseline verifies, also with escapes and null optional members.
        assert!(verifier().verify(&sign_raw(&header(""), &claims)).is_ok());
        assert!(
            verifier()
                .verify(&sign_raw(&header(r#","jku":null"#), &claims))
                .is_ok()
        );
        let escaped = format!(r#"{{"alg":"HS\u0032\u00356","typ":"at+jwt","kid":"{kid}"}}"#);
        assert!(verifier().verify(&sign_raw(&escaped, &claims)).is_ok());
        for (raw_header, payload, expected) in [
            (
                header(r#","alg":"none""#),
                claims.clone(),
                VerifyError::Malformed,
            ),
            (
                format!(r#"{{"alg":"HS257","typ":"at+jwt","kid":"{kid}"}}"#),
                claims.clone(),
                VerifyError::Malformed,
            ),
            ("[1,2]".to_owned(), claims.clone(), VerifyError::Malformed),
            (
                header(r#","x5c":[]"#),
                claims.clone(),
                VerifyError::ForbiddenHeader,
            ),
            (header(""), "[1,2]".to_owned(), VerifyError::InvalidClaims),
            (
                header(""),
                "not json".to_owned(),
                VerifyError::InvalidClaims,
            ),
            (
                header(""),
                good_claims()
                    .to_string()
                    .replace(r#""iss":"authd""#, r#""iss":"authd","iss":"authd""#),
                VerifyError::InvalidClaims,
            ),
        ] {
            assert_eq!(
                verifier().verify(&sign_raw(&raw_header, &payload)),
                Err(expected),
                "{raw_header} {payload}"
            );
        }
        // An HS256 signature of the wrong length is a bad signature, not a crash.
        let token = sign_raw(&header(""), &claims);
        let (message, _) = token.rsplit_once('.').unwrap();
        let short = format!("{message}.{}", URL_SAFE_NO_PAD.encode([7u8; 16]));
        let long = format!("{message}.{}", URL_SAFE_NO_PAD.encode([7u8; 48]));
        assert_eq!(verifier().verify(&short), Err(VerifyError::BadSignature));
        assert_eq!(verifier().verify(&long), Err(VerifyError::BadSignature));
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let token = forge(good_header(), &good_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = good_claims();
        claims["roles"] = json!(["admin"]);
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert_eq!(verifier().verify(&tampered), Err(VerifyError::BadSignature));
    }

    mod every_algorithm {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        use secrecy::ExposeSecret;

        use super::*;
        use crate::Algorithm;

        const ASYMMETRIC: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

        struct Fixture {
            kid: String,
            pem: String,
            verifier: Verifier,
            issuer: TokenIssuer,
        }

        fn fixture(alg: Algorithm) -> Fixture {
            let (pem, key) = SigningKey::generate(alg).unwrap();
            let kid = key.kid().to_owned();
            let keys = KeySet::new(key);
            Fixture {
                kid,
                pem: pem.expose_secret().to_owned(),
                verifier: Verifier::new(keys.clone(), VerifierConfig::new("authd", "api")),
                issuer: TokenIssuer::new(
                    keys,
                    "authd".into(),
                    "api".into(),
                    Duration::from_secs(600),
                ),
            }
        }

        /// The public key in the two forms an attacker would try as an HMAC secret.
        fn public_key_pem_and_der(alg: Algorithm, pem: &str) -> (String, Vec<u8>) {
            let (pem, der) = match alg {
                Algorithm::RS256 => {
                    let public = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                        .unwrap()
                        .to_public_key();
                    (
                        public.to_public_key_pem(LineEnding::LF).unwrap(),
                        public.to_public_key_der().unwrap(),
                    )
                }
                Algorithm::ES256 => {
                    let public = p256::SecretKey::from_pkcs8_pem(pem).unwrap().public_key();
                    (
                        public.to_public_key_pem(LineEnding::LF).unwrap(),
                        public.to_public_key_der().unwrap(),
                    )
                }
                Algorithm::EdDSA => {
                    let public = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                        .unwrap()
                        .verifying_key();
                    (
                        public.to_public_key_pem(LineEnding::LF).unwrap(),
                        public.to_public_key_der().unwrap(),
                    )
                }
                Algorithm::HS256 => unreachable!(),
            };
            (pem, der.as_bytes().to_vec())
        }

        fn header(alg: jsonwebtoken::Algorithm, kid: &str) -> Header {
            let mut h = Header::new(alg);
            h.typ = Some("at+jwt".into());
            h.kid = Some(kid.to_owned());
            h
        }

        #[test]
        fn tokens_sign_and_verify() {
            for alg in ASYMMETRIC {
                let f = fixture(alg);
                let issued = f.issuer.issue(&subject()).unwrap();
                assert_eq!(decode_header(&issued.token).unwrap().alg, alg.to_jwt());
                assert_eq!(
                    f.verifier.verify(&issued.token).unwrap(),
                    issued.claims,
                    "{alg}"
                );
            }
        }

        #[test]
        fn hs256_signed_with_the_public_key_is_rejected() {
            // RFC 8725 §2.1: algorithm confusion. The key's own algorithm decides.
            for alg in ASYMMETRIC {
                let f = fixture(alg);
                let (pem, der) = public_key_pem_and_der(alg, &f.pem);
                for secret in [pem.as_bytes(), pem.trim_end().as_bytes(), der.as_slice()] {
                    let token = encode(
                        &header(jsonwebtoken::Algorithm::HS256, &f.kid),
                        &good_claims(),
                        &EncodingKey::from_secret(secret),
                    )
                    .unwrap();
                    assert_eq!(
                        f.verifier.verify(&token),
                        Err(VerifyError::AlgorithmNotAllowed),
                        "{alg}"
                    );
                }
            }
        }

        #[test]
        fn alg_none_tampering_and_stripped_signatures_are_rejected() {
            for alg in ASYMMETRIC {
                let f = fixture(alg);
                let token = f.issuer.issue(&subject()).unwrap().token;
                let parts: Vec<&str> = token.split('.').collect();
                let none_header = URL_SAFE_NO_PAD
                    .encode(json!({"alg": "none", "typ": "at+jwt", "kid": f.kid}).to_string());
                let mut claims = jwt_json(parts[1]);
                claims["roles"] = json!(["admin"]);
                let tampered = URL_SAFE_NO_PAD.encode(claims.to_string());
                let cases = [
                    format!("{none_header}.{}.", parts[1]),
                    format!("{none_header}.{}", parts[1]),
                    format!("{}.{tampered}.{}", parts[0], parts[2]),
                    format!("{}.{}.", parts[0], parts[1]),
                    format!("{}.{}", parts[0], parts[1]),
                    format!(
                        "{}.{}.{}",
                        parts[0],
                        parts[1],
                        &parts[2][..parts[2].len() - 4]
                    ),
                ];
                for case in cases {
                    assert!(f.verifier.verify(&case).is_err(), "{alg} accepted {case}");
                }
            }
        }

        #[test]
        fn an_ecdsa_signature_with_r_or_s_zero_is_rejected() {
            let f = fixture(Algorithm::ES256);
            let token = f.issuer.issue(&subject()).unwrap().token;
            let (signed, signature) = token.rsplit_once('.').unwrap();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            assert_eq!(
                signature.len(),
                64,
                "JWS ECDSA signatures are r || s (RFC 7518 §3.4)"
            );
            let zero = [0u8; 32];
            let forged = [
                [zero.as_slice(), zero.as_slice()].concat(),
                [zero.as_slice(), &signature[32..]].concat(),
                [&signature[..32], zero.as_slice()].concat(),
            ];
            for sig in forged {
                let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig));
                assert_eq!(f.verifier.verify(&token), Err(VerifyError::BadSignature));
            }
        }

        #[test]
        fn a_key_of_another_algorithm_is_unknown_to_the_verifier() {
            let es = fixture(Algorithm::ES256);
            let ed = fixture(Algorithm::EdDSA);
            let token = ed.issuer.issue(&subject()).unwrap().token;
            assert_eq!(es.verifier.verify(&token), Err(VerifyError::UnknownKey));
        }

        #[test]
        fn header_and_claim_checks_hold_on_every_algorithm() {
            let now = unix_now();
            for alg in ASYMMETRIC {
                let f = fixture(alg);
                let keys = f.verifier.keys().clone();
                let sign = |h: Header, claims: &Value| keys.signing_key().sign(&h, claims).unwrap();
                let good = || header(alg.to_jwt(), &f.kid);
                assert!(
                    f.verifier.verify(&sign(good(), &good_claims())).is_ok(),
                    "{alg} control"
                );

                let mut cases: Vec<(Header, Value, VerifyError)> = Vec::new();
                for (claim, value, expected) in bad_claims(now) {
                    let mut claims = good_claims();
                    claims[claim] = value;
                    cases.push((good(), claims, expected));
                }
                let mut no_exp = good_claims();
                no_exp.as_object_mut().unwrap().remove("exp");
                cases.push((good(), no_exp, VerifyError::InvalidClaims));
                let mut h = good();
                h.typ = Some("JWT".into());
                cases.push((h, good_claims(), VerifyError::WrongType));
                let mut h = good();
                h.crit = Some(vec!["exp".into()]);
                cases.push((h, good_claims(), VerifyError::ForbiddenHeader));
                let mut h = good();
                h.jku = Some("https://evil.example/jwks.json".into());
                cases.push((h, good_claims(), VerifyError::ForbiddenHeader));
                let mut h = good();
                h.x5u = Some("https://evil.example/cert.pem".into());
                cases.push((h, good_claims(), VerifyError::ForbiddenHeader));
                let mut h = good();
                h.kid = Some("unknown".into());
                cases.push((h, good_claims(), VerifyError::UnknownKey));
                for (h, claims, expected) in cases {
                    assert_eq!(
                        f.verifier.verify(&sign(h, &claims)),
                        Err(expected.clone()),
                        "{alg}: {claims}"
                    );
                }
            }
        }

        fn jwt_json(segment: &str) -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
        }
    }
}
