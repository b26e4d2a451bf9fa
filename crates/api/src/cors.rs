//! CORS for single-page apps (Fetch Standard, "CORS protocol"): nothing is allowed unless
//! `CORS_ALLOWED_ORIGINS` names the origins.

use std::str::FromStr;

use actix_cors::Cors;
use actix_web::http::{Method, header};

/// Origins (`scheme://host[:port]`) whose pages may call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl FromStr for AllowedOrigins {
    type Err = String;

    /// A comma-separated list such as `https://app.example.com, http://localhost:5173`.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let (scheme, rest) = origin.split_once("://").unwrap_or(("", ""));
                let valid = matches!(scheme, "http" | "https")
                    && !rest.is_empty()
                    && !rest.contains(['/', '?', '#', '*', ' ', '@']);
                if valid {
                    Ok(origin.to_ascii_lowercase())
                } else {
                    Err(format!(
                        "{origin:?} is not an origin like https://app.example.com (no path, no wildcard)"
                    ))
                }
            })
            .collect::<Result<_, _>>()
            .map(AllowedOrigins)
    }
}

impl std::fmt::Display for AllowedOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl AllowedOrigins {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The middleware: preflights answered for the allowed origins; the headers a client
    /// needs to read (`WWW-Authenticate`, `Retry-After`, `X-Request-Id`) exposed. No
    /// credentials mode: tokens travel in `Authorization`, never in cookies.
    pub fn middleware(&self) -> Cors {
        self.0
            .iter()
            .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
            .allowed_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::WWW_AUTHENTICATE,
                header::RETRY_AFTER,
                header::HeaderName::from_static("x-request-id"),
            ])
            .max_age(600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_origins_are_accepted() {
        assert!(
            "https://app.example.com, http://localhost:5173"
                .parse::<AllowedOrigins>()
                .is_ok()
        );
        assert!("".parse::<AllowedOrigins>().unwrap().is_empty());
        for bad in [
            "*",
            "https://*.example.com",
            "app.example.com",
            "https://app.example.com/",
            "ftp://x",
        ] {
            assert!(bad.parse::<AllowedOrigins>().is_err(), "{bad}");
        }
    }
}
