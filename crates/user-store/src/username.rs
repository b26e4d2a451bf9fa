use unicode_normalization::UnicodeNormalization;

/// A valid username: trimmed, NFKC-normalised, 3 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

/// Why a username was refused; the text is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("a username must be 3 to 64 characters long")]
    Length,
    #[error("a username must not contain control characters")]
    ControlCharacter,
}

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 64;

    /// Normalises and validates a username as entered.
    ///
    /// ```
    /// # use user_store::Username;
    /// let u = Username::parse("  Ａlice ").unwrap(); // fullwidth A, NFKC folds it
    /// assert_eq!(u.as_str(), "Alice");
    /// assert_eq!(u.key(), "alice");
    /// ```
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let display: String = raw.trim().nfkc().collect();
        let display = display.trim().to_owned();
        if display.chars().any(char::is_control) {
            return Err(UsernameError::ControlCharacter);
        }
        let len = display.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(UsernameError::Length);
        }
        // Case-insensitive comparison: lowercase of the NFKC form, normalised again since
        // lowercasing can leave a string that is not in NFKC.
        let key = display.to_lowercase().nfkc().collect();
        Ok(Self { display, key })
    }

    /// The name of a stored user, taken as it was stored (it was validated when the user
    /// was created, perhaps under older rules): to count against its throttle record.
    pub fn of_stored_user(stored: &str) -> Self {
        Self {
            display: stored.to_owned(),
            key: stored.to_lowercase().nfkc().collect(),
        }
    }

    /// The name as shown back to the user.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form that is compared and unique in the database.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_case_insensitively_after_nfkc() {
        assert_eq!(
            Username::parse("Alice").unwrap().key(),
            Username::parse(" ALICE ").unwrap().key()
        );
        assert_eq!(Username::parse("ｂｏｂ").unwrap().key(), "bob");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert!(Username::parse("äöü").is_ok());
        assert!(Username::parse(&"é".repeat(64)).is_ok());
        assert_eq!(Username::parse(&"a".repeat(65)), Err(UsernameError::Length));
        assert_eq!(Username::parse("   "), Err(UsernameError::Length));
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            Username::parse("ali\u{0}ce"),
            Err(UsernameError::ControlCharacter)
        );
        assert_eq!(
            Username::parse("ali\nce"),
            Err(UsernameError::ControlCharacter)
        );
        assert_eq!(
            Username::parse("ali\u{7f}ce"),
            Err(UsernameError::ControlCharacter)
        );
    }
}
