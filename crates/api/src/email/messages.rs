//! The messages authd sends, as plain text, each with its link: the link base
//! (`VERIFY_EMAIL_URL`, `RESET_PASSWORD_URL`) with the token as the `token` query
//! parameter.

use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

/// One message for the queue. `kind` labels logs and metrics; the body is never logged.
pub struct Outgoing {
    pub kind: &'static str,
    pub to: Mailbox,
    pub subject: String,
    pub body: String,
}

/// Where the links in messages point.
#[derive(Debug, Clone)]
pub struct Links {
    pub verify: Url,
    pub reset: Url,
}

impl Links {
    fn with_token(base: &Url, token: &str) -> String {
        let mut url = base.clone();
        url.query_pairs_mut().append_pair("token", token);
        url.to_string()
    }

    /// "Confirm your address", sent to the address to verify.
    pub fn verification(
        &self,
        to: Mailbox,
        username: &str,
        token: &str,
        ttl: Duration,
    ) -> Outgoing {
        let link = Self::with_token(&self.verify, token);
        Outgoing {
            kind: "verify",
            to,
            subject: "Confirm your email address".to_owned(),
            body: format!(
                "Hello {username},\n\nTo confirm that this address belongs to your account, \
                 open this link and press the button:\n\n{link}\n\nThe link works once, for \
                 {}. If you did not ask for this, ignore this message.\n",
                human(ttl)
            ),
        }
    }

    /// "Reset your password", sent to the verified address only.
    pub fn reset(&self, to: Mailbox, username: &str, token: &str, ttl: Duration) -> Outgoing {
        let link = Self::with_token(&self.reset, token);
        Outgoing {
            kind: "reset",
            to,
            subject: "Reset your password".to_owned(),
            body: format!(
                "Hello {username},\n\nSomeone (we hope you) asked to reset the password of \
                 your account. To choose a new one, open this link:\n\n{link}\n\nThe link \
                 works once, for {}. Resetting signs out every device. If you did not ask for \
                 this, ignore this message: your password stays as it is.\n",
                human(ttl)
            ),
        }
    }

    /// The notice to the verified address when another one is being set.
    pub fn change_notice(to: Mailbox, username: &str, new_address: &str) -> Outgoing {
        Outgoing {
            kind: "change_notice",
            to,
            subject: "Your email address is being changed".to_owned(),
            body: format!(
                "Hello {username},\n\nA new email address ({new_address}) was set on your \
                 account. This address stays in force until the new one is confirmed. If this \
                 was not you, change your password now.\n"
            ),
        }
    }
}

fn human(ttl: Duration) -> String {
    humantime::format_duration(ttl).to_string()
}
