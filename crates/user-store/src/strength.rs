//! The strength check for new passwords (`weak_password`), at a bounded cost.
//!
//! zxcvbn's cost grows with the square of the length and, through its l33t matcher,
//! exponentially with the number of distinct l33t symbols: it tries every combination of
//! readings (`4` or `@` for a, one of `( { [ <` for c, `1 ! |` for i, ...) and runs its
//! dictionaries once per combination. Measured on a release build, a 128-character password
//! cycling `4@8({[<369!|170$5+%2` took 1.7 s; the same 20 symbols in 16 characters 57 ms.
//! So the estimate reads only the first [`JUDGED_CHARS`] characters, with each l33t symbol
//! that shares its letter with a digit (or with `(`) read as that digit (see
//! [`judged_form`]): the worst case measured is then about 5 ms.

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
/// How many characters (from the start) the strength estimate reads. A password judged
/// weak on them is refused whatever follows: characters after them can only add to its
/// strength, and a long password made of a weak pattern repeated is weak from its start.
pub const JUDGED_CHARS: usize = 32;

/// Checks a new password: 8 to 128 characters, and rated at least "safely unguessable"
/// (zxcvbn score 3, about 10^10 guesses) taking the username into account. Only its first
/// [`JUDGED_CHARS`] characters are rated, so the cost is bounded (a few milliseconds) however
/// the password is built; still, call it off the async workers (the hashing threads do).
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
    let estimate = zxcvbn(&judged_form(password), &[username]);
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

/// What the estimate reads: the first [`JUDGED_CHARS`] characters, with the symbols that
/// zxcvbn reads as the same letter as a digit folded into that digit (`@` → `4`, a;
/// `$` → `5`, s; `+` → `7`, t; `!` and `|` → `1`, i and l) and the other readings of c into
/// `(`. That leaves the l33t matcher few combinations to try (digits, `(` and `%`), while
/// `p@$$w0rd` is still read as l33t for "password". Folding only ever makes a password
/// look more regular (never hides a digit's dates or sequences), so it errs on refusing.
fn judged_form(password: &str) -> String {
    password
        .chars()
        .take(JUDGED_CHARS)
        .map(|c| match c {
            '@' => '4',
            '$' => '5',
            '+' => '7',
            '!' | '|' => '1',
            '{' | '[' | '<' => '(',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

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

    #[test]
    fn l33t_spellings_of_common_words_are_still_refused() {
        for password in ["p@$$w0rd!", "P@ssw0rd!2024", "$uperm@n!!", "l0v3|y0u!"] {
            assert!(
                matches!(
                    check_password_strength(password, "bob"),
                    Err(PasswordError::Weak(_))
                ),
                "{password}"
            );
        }
        // Symbols in a random password are no weakness.
        assert!(check_password_strength("Xk9#mQ2$vL7!pR4&", "bob").is_ok());
    }

    #[test]
    fn only_the_first_judged_characters_are_rated() {
        let strong = "correct horse battery staple";
        // A strong start is enough, whatever follows, up to the length limit.
        let padded = format!("{strong}{}", "a".repeat(MAX_PASSWORD_CHARS - strong.len()));
        assert_eq!(padded.chars().count(), MAX_PASSWORD_CHARS);
        assert!(check_password_strength(&padded, "bob").is_ok());
        // A weak start is refused, whatever follows.
        let late = format!("{}{strong}", "a".repeat(JUDGED_CHARS));
        assert!(matches!(
            check_password_strength(&late, "bob"),
            Err(PasswordError::Weak(_))
        ));
        // Long passwords made of a weak pattern repeated are weak from their start.
        for pattern in ["a", "abc", "password", "qwerty", "1234", "ab12"] {
            let long: String = pattern.chars().cycle().take(MAX_PASSWORD_CHARS).collect();
            assert!(
                matches!(
                    check_password_strength(&long, "bob"),
                    Err(PasswordError::Weak(_))
                ),
                "{pattern}"
            );
        }
    }

    /// The inputs that cost most before the bound (see the module's comment). The bound
    /// here is a sanity check, far above the few milliseconds measured, so that a slow CI
    /// machine does not fail it.
    #[test]
    fn the_costliest_inputs_known_are_judged_quickly() {
        let patterns = [
            "4@8({[<369!|170$5+%2",
            "@4({[<8369|!170$5+%2aeiostlgbcxz",
            "4@({[<6971|!$5+",
            "0123456789(%",
            "9617(%0",
            "passwordmonkeydragon",
            "Ünïcødé-pässwørd-42ÆØÅ",
        ];
        for pattern in patterns {
            let password: String = pattern.chars().cycle().take(MAX_PASSWORD_CHARS).collect();
            let started = Instant::now();
            let _ = check_password_strength(&password, "bob");
            let took = started.elapsed();
            assert!(took < Duration::from_secs(1), "{pattern}: {took:?}");
        }
    }
}
