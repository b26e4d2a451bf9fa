//! `POST /auth/login`: credentials from a JSON body or HTTP Basic, brute-force throttling
//! per username (and optionally per client address), argon2id verification, a new session.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use user_store::{Admission, ThrottleKey, ThrottlePolicy, Timestamp, Username};

use crate::error::{ApiError, ErrorBody};
use crate::metrics::LoginOutcome;
use crate::routes::auth::{Credentials, TokenPair, new_refresh_secret, token_response};
use crate::routes::{Body, is_blank, parse_json_object};
use crate::state::AppState;

/// Checks a username and password (a JSON body, or HTTP Basic with an empty body) and
/// opens a session.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content = Option<Credentials>, description = "Or HTTP Basic credentials with an empty body"),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "A token pair (`Cache-Control: no-store`)", body = TokenPair),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: unknown user or wrong password alike", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: busy or no database; see `Retry-After`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let Credentials { username, password } = login_credentials(&req, &body)?;
    // A name that cannot exist is treated like an unknown user, dummy hash included; it
    // needs no username throttle, since no password can be right for it.
    let name = Username::parse(&username).ok();
    let throttles = throttles(&state, &req, name.as_ref());
    let admitted = match admit(&state, &throttles).await {
        Ok(admitted) => admitted,
        Err(blocked) => {
            if matches!(blocked, ApiError::TooManyAttempts { .. }) {
                state.metrics.login(LoginOutcome::Throttled);
            }
            return Err(blocked);
        }
    };

    let found = match &name {
        Some(name) => state.store.find_credentials(name).await?,
        None => None,
    };
    let (user, stored_hash) = match found {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    let verified = state
        .hasher
        .verify(password.clone(), stored_hash.clone())
        .await?;
    let (Some(user), Some(name), Some(stored_hash), true) = (user, &name, stored_hash, verified)
    else {
        state.metrics.login(LoginOutcome::Failed);
        record_failure(&state, &throttles, &admitted).await?;
        return Err(ApiError::InvalidCredentials);
    };
    // Only the username's count is cleared (when there is one: most logins write nothing
    // here): one good account must not reset the count of the address it guesses others'
    // passwords from.
    if admitted.name_on_record {
        state
            .store
            .clear_login_failures(ThrottleKey::Username(name))
            .await?;
    }
    if user.disabled {
        state.metrics.login(LoginOutcome::Disabled);
        return Err(ApiError::AccountDisabled);
    }
    if state.hasher.needs_rehash(&stored_hash) {
        rehash_in_background(&state, user.id, stored_hash, password);
    }
    let (refresh_token, refresh) = new_refresh_secret()?;
    let session = state
        .store
        .create_session(user.id, &refresh, state.refresh_token_ttl)
        .await?;
    state.metrics.login(LoginOutcome::Succeeded);
    tracing::info!(user_id = %user.id, session_id = %session.session_id, "login succeeded");
    token_response(&state, &user, session.session_id, refresh_token)
}

/// What this attempt counts against, each with its policy: the username (when it could
/// exist) and, when the per-address limit is on, the client's address.
fn throttles<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    name: Option<&'a Username>,
) -> Vec<(ThrottleKey<'a>, &'a ThrottlePolicy)> {
    let by_name = name.map(|name| (ThrottleKey::Username(name), &state.login_throttle));
    let by_address = state.address_throttle.as_ref().and_then(|policy| {
        let address = state.trusted_proxies.client_address(req)?;
        Some((ThrottleKey::Address(address), policy))
    });
    by_name.into_iter().chain(by_address).collect()
}

/// How an attempt was let through: whether the username has failures on record (for a
/// success to clear), and which keys already counted it as a failure.
struct Admitted {
    name_on_record: bool,
    counted: Vec<bool>,
}

/// 429 while any of the keys is blocked, before any hashing: even the right password
/// waits until the delay has passed. Past the free failures an attempt is counted up
/// front, so guesses sent at once are admitted one at a time (see
/// `Store::admit_login_attempt`).
async fn admit(
    state: &AppState,
    throttles: &[(ThrottleKey<'_>, &ThrottlePolicy)],
) -> Result<Admitted, ApiError> {
    let mut admitted = Admitted {
        name_on_record: false,
        counted: Vec::with_capacity(throttles.len()),
    };
    for (key, policy) in throttles {
        match state.store.admit_login_attempt(*key, policy).await? {
            Admission::Blocked { until } => return Err(too_many_attempts(until)),
            Admission::Allowed { on_record, counted } => {
                admitted.name_on_record |= on_record && matches!(key, ThrottleKey::Username(_));
                admitted.counted.push(counted);
            }
        }
    }
    Ok(admitted)
}

async fn record_failure(
    state: &AppState,
    throttles: &[(ThrottleKey<'_>, &ThrottlePolicy)],
    admitted: &Admitted,
) -> Result<(), ApiError> {
    let mut blocked = false;
    for ((key, policy), counted) in throttles.iter().zip(&admitted.counted) {
        let kind = match key {
            ThrottleKey::Username(_) => "username",
            ThrottleKey::Address(_) => "address",
        };
        if *counted {
            // Counted when it was admitted, with the block it earns.
            blocked = true;
            tracing::warn!(throttled = kind, "login failed; throttled");
        } else if let Some(until) = state.store.record_login_failure(*key, policy).await? {
            blocked = true;
            tracing::warn!(
                throttled = kind,
                blocked_for_secs = until.since(Timestamp::now()).as_secs(),
                "login failed; throttled"
            );
        }
    }
    if !blocked {
        tracing::info!("login failed");
    }
    Ok(())
}

/// 429 with `Retry-After` in whole seconds, rounded up (RFC 9110 §10.2.3).
fn too_many_attempts(until: Timestamp) -> ApiError {
    let left = until.since(Timestamp::now());
    let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    ApiError::TooManyAttempts {
        retry_after: retry_after.max(1),
    }
}

/// Replaces a hash made with older settings by one with the configured ones, after the
/// response: the login does not wait for a second argon2 run. Skipped when the hashing
/// queue is full (the next login tries again) or the password changed meanwhile.
fn rehash_in_background(
    state: &web::Data<AppState>,
    user_id: uuid::Uuid,
    old_hash: String,
    password: SecretString,
) {
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let result = async {
            let new_hash = state.hasher.hash(password).await?;
            state
                .store
                .replace_password_hash(user_id, &old_hash, &new_hash)
                .await
        }
        .await;
        match result {
            Ok(true) => tracing::info!(%user_id, "password rehashed with the current parameters"),
            Ok(false) => {}
            Err(e) => tracing::debug!(%user_id, error = %e, "password rehash skipped"),
        }
    });
}

/// JSON body, or an empty body with HTTP Basic credentials (RFC 7617).
fn login_credentials(req: &HttpRequest, body: &[u8]) -> Result<Credentials, ApiError> {
    if !is_blank(body) {
        return parse_json_object(req, body);
    }
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim());
    let Some(encoded) = basic else {
        return Err(ApiError::InvalidRequest(
            "send a JSON body with username and password, or HTTP Basic credentials".to_owned(),
        ));
    };
    let malformed = || ApiError::InvalidRequest("the Basic credentials are malformed".to_owned());
    let decoded = STANDARD.decode(encoded).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    // RFC 7617 §2: the user-id cannot contain a colon; the password may.
    let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Credentials {
        username: username.to_owned(),
        password: SecretString::from(password),
    })
}
