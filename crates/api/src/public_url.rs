//! `PUBLIC_URL`: the address clients reach authd at, the base of every absolute URL authd
//! writes (links in messages, OAuth metadata, the cookies' origin) and of the host name an
//! authenticator app shows.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// An absolute `http` or `https` URL with a host and no query, fragment or credentials,
/// kept without a trailing slash so that paths can be appended (`/verify-email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(Url);

impl PublicUrl {
    /// The URL clients would use for a server listening on `bind_addr` with no proxy in
    /// front: `http://<BIND_ADDR>`, or `https://` when authd serves TLS itself.
    pub fn for_bind_addr(bind_addr: &str, tls: bool) -> Result<Self, String> {
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{bind_addr}").parse()
    }

    /// The URL with `path` (starting with `/`) appended to its own path.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.as_str())
    }

    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The host name (or address), without the port.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The origin (`scheme://host[:port]`), as browsers send it in `Origin` (RFC 6454 §6.1).
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// Whether clients reach authd over HTTPS.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(value).map_err(|e| {
            format!("{value:?} is not an absolute URL like https://auth.example.com ({e})")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{value:?} must start with http:// or https://"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{value:?} has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{value:?} must have no query (?) and no fragment (#)"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{value:?} must not hold credentials"));
        }
        Ok(Self(url))
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_a_path_keeps_it_and_loses_the_trailing_slash() {
        let url: PublicUrl = "https://example.com/auth/".parse().unwrap();
        assert_eq!(url.as_str(), "https://example.com/auth");
        assert_eq!(
            url.join("/verify-email"),
            "https://example.com/auth/verify-email"
        );
        assert_eq!(url.host(), "example.com");
        assert_eq!(url.origin(), "https://example.com");
        assert!(url.is_https());
    }

    #[test]
    fn a_bare_origin_joins_paths_at_the_root() {
        let url: PublicUrl = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            url.join("/reset-password"),
            "http://127.0.0.1:8080/reset-password"
        );
        assert_eq!(url.host(), "127.0.0.1");
        assert_eq!(url.origin(), "http://127.0.0.1:8080");
    }

    #[test]
    fn the_default_follows_the_bind_address_and_tls() {
        let plain = PublicUrl::for_bind_addr("0.0.0.0:8080", false).unwrap();
        assert_eq!(plain.as_str(), "http://0.0.0.0:8080");
        let tls = PublicUrl::for_bind_addr("[::1]:8443", true).unwrap();
        assert_eq!(tls.as_str(), "https://[::1]:8443");
        assert_eq!(tls.host(), "[::1]");
    }

    #[test]
    fn anything_but_a_plain_http_or_https_url_is_refused() {
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/?a=1",
            "https://example.com/#top",
            "https://user:pw@example.com",
            "https://",
            "",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad:?} was accepted");
        }
    }
}
