//! `SMTP_URL`: which SMTP server, how the connection is protected, and with what
//! credentials. A password and the tokens in messages must never cross the network in
//! clear, and a STARTTLS that an attacker on the path can strip would do just that, so
//! TLS is either implicit (`smtps://`, RFC 8314 §3.3) or required (`?tls=required`); plain
//! `smtp://` is accepted only to a loopback host (a relay on the same machine).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (RFC 8314).
    ImplicitTls,
    /// `smtp://...?tls=required`: STARTTLS, and no message without it (RFC 3207).
    StartTls,
    /// `smtp://` to a loopback host: no TLS.
    Plain,
}

/// A validated `SMTP_URL`; its password is never shown (`Debug` and [`Self::masked`]).
#[derive(Clone)]
pub struct SmtpUrl {
    url: SecretString,
    security: SmtpSecurity,
    masked: String,
}

impl SmtpUrl {
    /// The URL as lettre reads it (`AsyncSmtpTransport::from_url`).
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }

    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// The URL with its password replaced by `***`.
    pub fn masked(&self) -> String {
        self.masked.clone()
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SmtpUrl").field(&self.masked).finish()
    }
}

/// Error messages never quote the value: it may hold a password.
impl FromStr for SmtpUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(value)
            .map_err(|e| format!("not a URL like smtps://user:pass@host:465 ({e})"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("has no host")?;
        let tls_required = url
            .query_pairs()
            .any(|(k, v)| k == "tls" && v == "required");
        let security = match url.scheme() {
            "smtps" => SmtpSecurity::ImplicitTls,
            "smtp" if tls_required => SmtpSecurity::StartTls,
            "smtp" if is_loopback(host) => SmtpSecurity::Plain,
            "smtp" => {
                return Err(
                    "a plain smtp:// URL is accepted only to a loopback host: use \
                            smtps:// (implicit TLS) or smtp://...?tls=required (STARTTLS)"
                        .to_owned(),
                );
            }
            _ => return Err("must start with smtps:// or smtp://".to_owned()),
        };
        let mut masked = url.clone();
        if masked.password().is_some() {
            let _ = masked.set_password(Some("***"));
        }
        Ok(Self {
            url: SecretString::from(value),
            security,
            masked: masked.to_string(),
        })
    }
}

/// `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_tls_starttls_and_loopback_plain_are_accepted() {
        let url: SmtpUrl = "smtps://u:hunter2@smtp.example.com:465".parse().unwrap();
        assert_eq!(url.security(), SmtpSecurity::ImplicitTls);
        assert!(!format!("{url:?} {}", url.masked()).contains("hunter2"));
        let url: SmtpUrl = "smtp://u:p@smtp.example.com:587?tls=required"
            .parse()
            .unwrap();
        assert_eq!(url.security(), SmtpSecurity::StartTls);
        for plain in [
            "smtp://127.0.0.1:2525",
            "smtp://localhost",
            "smtp://[::1]:25",
        ] {
            let url: SmtpUrl = plain.parse().unwrap();
            assert_eq!(url.security(), SmtpSecurity::Plain, "{plain}");
        }
    }

    #[test]
    fn plain_smtp_elsewhere_and_other_schemes_are_refused_without_quoting_the_password() {
        for bad in [
            "smtp://u:hunter2@smtp.example.com:25",
            "smtp://u:hunter2@10.0.0.1:25?tls=opportunistic",
            "http://u:hunter2@smtp.example.com",
            "smtps://u:hunter2@",
        ] {
            let err = bad.parse::<SmtpUrl>().unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
