//! The strength check for new passwords (`weak_password`).

use zxcvbn::{Score, zxcvbn};

/// Why a new password was refused; the text is shown to the client (`weak_password`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("a password must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("this password is too easy to guess: {0}")]
    Weak(String),
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a new password: 8 to 128 characters, and rated at least "safely unguessable"
/// (zxcvbn score 3, about 10^10 guesses) taking the username into account.
pub fn check_password_strength(password: &str, username: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    let estimate = zxcvbn(password, &[username]);
    if estimate.score() >= Score::Three {
        return Ok(());
    }
    let reason = estimate
        .feedback()
        .and_then(|f| f.warning().map(|w| w.to_string()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "add more words or characters that are less common".to_owned());
    Err(PasswordError::Weak(
        reason.trim_end_matches('.').to_lowercase(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_common_passwords_are_refused_with_a_reason() {
        assert_eq!(
            check_password_strength("short", "bob"),
            Err(PasswordError::TooShort { min: 8 })
        );
        assert!(matches!(
            check_password_strength("password123", "bob"),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(
            check_password_strength("aaaaaaaaaaaa", "bob"),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(
            check_password_strength("qwertyuiop", "bob"),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(
            check_password_strength("alice1234", "alice"),
            Err(PasswordError::Weak(_))
        ));
        assert_eq!(
            check_password_strength(&"x".repeat(129), "bob"),
            Err(PasswordError::TooLong { max: 128 })
        );
        assert!(check_password_strength("correct horse battery staple", "bob").is_ok());
        assert!(check_password_strength("Ünïcødé-pässwørd-42", "bob").is_ok());
    }
}
