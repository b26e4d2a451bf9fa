//! Account-recovery email: the SMTP server messages go through, their sender, the links
//! they carry and how long their tokens live (API.md, "Account recovery: email").

use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

use super::ConfigError;
use super::key::Fallback::{Computed, Unset, Value};
use super::key::{Key, Problem};
use super::reader::Env;
use super::values::{hours, mins};
use crate::email::SmtpUrl;
use crate::public_url::PublicUrl;

const SMTP_URL: Key<SmtpUrl> = Key::parsed(
    "SMTP_URL",
    Unset("(email off)"),
    |v| v.parse().map_err(Problem::Plain),
    SmtpUrl::masked,
    "smtps://USER:PASS@HOST:PORT, or smtp://...?tls=required (STARTTLS); plain smtp:// to loopback only",
);

const SMTP_FROM: Key<Mailbox> = Key::from_str(
    "SMTP_FROM",
    Computed("authd@<PUBLIC_URL's host>"),
    "sender of account-recovery messages",
);

const VERIFY_EMAIL_URL: Key<Url> = Key::parsed(
    "VERIFY_EMAIL_URL",
    Computed("<PUBLIC_URL>/verify-email"),
    parse_link,
    Url::to_string,
    "link base in verification messages (the token is added as ?token=)",
);

const RESET_PASSWORD_URL: Key<Url> = Key::parsed(
    "RESET_PASSWORD_URL",
    Computed("<PUBLIC_URL>/reset-password"),
    parse_link,
    Url::to_string,
    "link base in password-reset messages (the token is added as ?token=)",
);

const EMAIL_TOKEN_TTL: Key<Duration> = Key::duration(
    "EMAIL_TOKEN_TTL",
    Value("24h"),
    mins(5)..=hours(24 * 30),
    "lifetime of email verification tokens",
);

const PASSWORD_RESET_TTL: Key<Duration> = Key::duration(
    "PASSWORD_RESET_TTL",
    Value("30m"),
    mins(1)..=hours(24),
    "lifetime of password-reset tokens",
);

/// Email settings; `smtp` is `None` when email is off.
#[derive(Debug, Clone)]
pub struct Email {
    pub smtp: Option<SmtpUrl>,
    pub from: Mailbox,
    pub verify_url: Url,
    pub reset_url: Url,
    pub token_ttl: Duration,
    pub reset_ttl: Duration,
}

impl Email {
    pub(super) fn read(env: &mut Env, public_url: &PublicUrl) -> Result<Self, ConfigError> {
        Ok(Self {
            smtp: env.optional(&SMTP_URL)?,
            from: env.derived(&SMTP_FROM, || {
                format!("authd@{}", public_url.host().trim_matches(['[', ']']))
                    .parse()
                    .map_err(|e| format!("cannot be derived from PUBLIC_URL ({e}): set it"))
            })?,
            verify_url: env.derived(&VERIFY_EMAIL_URL, || link(public_url, "/verify-email"))?,
            reset_url: env.derived(&RESET_PASSWORD_URL, || link(public_url, "/reset-password"))?,
            token_ttl: env.value(&EMAIL_TOKEN_TTL)?,
            reset_ttl: env.value(&PASSWORD_RESET_TTL)?,
        })
    }
}

fn link(public_url: &PublicUrl, path: &str) -> Result<Url, String> {
    Url::parse(&public_url.join(path)).map_err(|e| e.to_string())
}

/// An absolute http(s) URL with no fragment (the token goes in its query).
fn parse_link(value: &str) -> Result<Url, Problem> {
    let url =
        Url::parse(value).map_err(|e| Problem::Value(format!("not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return Err(Problem::Value(
            "must be an http:// or https:// URL without a fragment".to_owned(),
        ));
    }
    Ok(url)
}
