//! The bearer guard of the protected scope: actix-web-httpauth's `HttpAuthentication`
//! with our own credentials extractor, so that every 401 carries the contract's JSON body
//! and the scheme name is case-insensitive (RFC 7235 §2.1), which the crate's
//! `BearerAuth` is not.

use std::future::{Ready, ready};

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::sync::Arc;

use auth_core::Claims;
use auth_core::verifier::MAX_TOKEN_LEN;

use crate::error::{ApiError, TokenProblem};
use crate::state::AppState;

/// What the `Authorization` header offered. Tokens are read from this header only: never
/// from a query string, a form body or a cookie (RFC 6750 §2.1 is the only method we accept).
#[derive(Clone)]
pub enum BearerCredentials {
    Missing,
    Malformed,
    Token(String),
}

impl FromRequest for BearerCredentials {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(parse_authorization(req)))
    }
}

fn parse_authorization(req: &HttpRequest) -> BearerCredentials {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return BearerCredentials::Missing;
    };
    // Bounded before anything else: a 100 KB header costs one length check.
    if value.len() > MAX_TOKEN_LEN + 16 {
        return BearerCredentials::Malformed;
    }
    let Ok(value) = value.to_str() else {
        return BearerCredentials::Malformed;
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, ...): no bearer credentials were offered.
        return BearerCredentials::Missing;
    }
    let token = rest.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return BearerCredentials::Malformed;
    }
    BearerCredentials::Token(token.to_owned())
}

/// The validator for `HttpAuthentication::with_fn`: verifies the token (no database),
/// checks its session against the in-memory revoked set, and hands the claims to
/// handlers through the request's extensions (`web::ReqData<Arc<Claims>>`).
pub async fn validate_bearer(
    req: ServiceRequest,
    credentials: BearerCredentials,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    match authenticate(&req, credentials) {
        Ok(claims) => {
            req.extensions_mut().insert(claims);
            Ok(req)
        }
        Err(e) => Err((e.into(), req)),
    }
}

fn authenticate(
    req: &ServiceRequest,
    credentials: BearerCredentials,
) -> Result<Arc<Claims>, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("application state is not registered"))
    })?;
    let token = match credentials {
        BearerCredentials::Missing => return Err(TokenProblem::Missing.into()),
        BearerCredentials::Malformed => return Err(TokenProblem::MalformedHeader.into()),
        BearerCredentials::Token(token) => token,
    };
    let accounts = &state.accounts;
    let claims = accounts
        .keys
        .current()
        .verifier
        .verify_cached(&token)
        .map_err(TokenProblem::from)?;
    if accounts.sessions.revoked().contains(&claims.sid) {
        return Err(TokenProblem::Revoked.into());
    }
    Ok(claims)
}
