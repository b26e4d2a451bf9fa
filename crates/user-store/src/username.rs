use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;

/// A valid username: trimmed, NFKC-normalised, 3 to 64 characters, no control characters
/// and no invisible ones.
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
    #[error("a username must not contain control characters or line breaks")]
    ControlCharacter,
    #[error(
        "a username must not contain invisible characters (format characters such as \
         zero-width spaces, joiners, soft hyphens or bidirectional controls, or other \
         default-ignorable code points)"
    )]
    InvisibleCharacter,
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
        // Checked on the NFKC form, which is what is stored and compared: NFKC maps some
        // invisible characters onto others (U+3164 and U+FFA0 onto U+1160) and none onto
        // nothing, so whatever is invisible in the input is still caught here.
        if display.chars().any(|c| c.is_control() || is_line_break(c)) {
            return Err(UsernameError::ControlCharacter);
        }
        if display.chars().any(is_invisible) {
            return Err(UsernameError::InvisibleCharacter);
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

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR (General_Category Zl and Zp):
/// not controls, but they break a line wherever a name is shown, so a name could carry a
/// second line of text into a message or a page.
fn is_line_break(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

/// A character that renders as nothing, so that a name holding it looks like the name
/// without it (`victim2` and `victim2` + U+200B): General_Category Cf (format: zero-width
/// space and joiners, soft hyphen, bidirectional controls, word joiner, tags) or
/// Default_Ignorable_Code_Point (UAX #44, DerivedCoreProperties.txt: Cf minus a few visible
/// marks, plus the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, variation selectors,
/// U+034F COMBINING GRAPHEME JOINER, U+180B..U+180F, U+17B4..U+17B5 and the ranges
/// reserved for future ignorables). Both come from ICU4X's compiled Unicode data (the
/// `icu_properties` tables; version 2.1 carries Unicode 17.0), already linked in through
/// `url`'s IDNA support.
fn is_invisible(c: char) -> bool {
    CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

#[cfg(test)]
mod tests {

    #[test]
    fn line_and_paragraph_separators_are_refused_like_controls() {
        for name in ["alice\u{2028}Visit evil.example", "bob\u{2029}x"] {
            assert_eq!(
                Username::parse(name).unwrap_err(),
                UsernameError::ControlCharacter,
                "{name:?}"
            );
        }
    }

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

    /// What the contract names, one by one and as ranges (UAX #44 DerivedCoreProperties:
    /// Default_Ignorable_Code_Point; UnicodeData: Cf).
    const INVISIBLE: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),   // SOFT HYPHEN
        (0x034F, 0x034F),   // COMBINING GRAPHEME JOINER
        (0x061C, 0x061C),   // ARABIC LETTER MARK
        (0x115F, 0x1160),   // HANGUL CHOSEONG and JUNGSEONG FILLER
        (0x17B4, 0x17B5),   // KHMER VOWEL INHERENT AQ, AA
        (0x180B, 0x180F),   // MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR
        (0x200B, 0x200F),   // ZERO WIDTH SPACE, NON-JOINER, JOINER, LRM, RLM
        (0x202A, 0x202E),   // bidirectional embeddings and overrides (RLO: U+202E)
        (0x2060, 0x206F),   // WORD JOINER, invisible operators, isolates, reserved
        (0x3164, 0x3164),   // HANGUL FILLER
        (0xFE00, 0xFE0F),   // VARIATION SELECTORS 1-16
        (0xFEFF, 0xFEFF),   // ZERO WIDTH NO-BREAK SPACE (BOM)
        (0xFFA0, 0xFFA0),   // HALFWIDTH HANGUL FILLER
        (0xFFF0, 0xFFF8),   // reserved default-ignorable
        (0x1BCA0, 0x1BCA3), // SHORTHAND FORMAT controls
        (0x1D173, 0x1D17A), // MUSICAL SYMBOL BEGIN BEAM .. END PHRASE
        (0xE0000, 0xE0FFF), // TAGS (E0001, E0020..E007F) and reserved
        (0xE0100, 0xE01EF), // VARIATION SELECTORS 17-256
    ];

    fn chars(ranges: &[(u32, u32)]) -> impl Iterator<Item = char> + '_ {
        ranges
            .iter()
            .flat_map(|&(first, last)| first..=last)
            .filter_map(char::from_u32)
    }

    #[test]
    fn look_alikes_of_a_name_with_invisible_characters_are_refused() {
        for name in [
            "victim2\u{200b}",
            "\u{202e}victim2",
            "victim2\u{ad}",
            "vic\u{2060}tim2",
        ] {
            assert_eq!(
                Username::parse(name),
                Err(UsernameError::InvisibleCharacter),
                "{name:?}"
            );
        }
        assert!(Username::parse("victim2").is_ok());
    }

    #[test]
    fn every_listed_invisible_character_is_refused_anywhere_in_a_name() {
        let mut checked = 0u32;
        for c in chars(INVISIBLE) {
            for name in [
                format!("{c}victim2"),
                format!("vic{c}tim2"),
                format!("victim2{c}"),
            ] {
                assert_eq!(
                    Username::parse(&name),
                    Err(UsernameError::InvisibleCharacter),
                    "U+{:04X}",
                    u32::from(c)
                );
            }
            checked += 1;
        }
        let listed: u32 = INVISIBLE.iter().map(|(first, last)| last - first + 1).sum();
        assert_eq!(checked, listed, "every code point of the table is a char");
    }

    #[test]
    fn format_characters_that_are_not_default_ignorable_are_refused_too() {
        // Cf, yet visible or not ignorable: ARABIC NUMBER SIGN, ARABIC END OF AYAH,
        // SYRIAC ABBREVIATION MARK, INTERLINEAR ANNOTATION ANCHOR, KAITHI NUMBER SIGN,
        // EGYPTIAN HIEROGLYPH VERTICAL JOINER.
        for c in [
            '\u{600}',
            '\u{6dd}',
            '\u{70f}',
            '\u{fff9}',
            '\u{110bd}',
            '\u{13430}',
        ] {
            assert_eq!(
                Username::parse(&format!("victim{c}2")),
                Err(UsernameError::InvisibleCharacter),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn no_accepted_name_holds_an_invisible_character_after_nfkc_or_case_folding() {
        // Every Unicode scalar value that NFKC or lowercasing changes, in the middle of a
        // name: what they make of it must never leave an invisible or control character in
        // the stored forms, and an invisible character is only let through when NFKC maps it
        // to a visible one (none does as of Unicode 17). A character neither changes is
        // kept as it is, so the check on the NFKC form sees it.
        let mut changed = 0;
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let nfkc_keeps = unicode_normalization::is_nfkc_quick(std::iter::once(c))
                == unicode_normalization::IsNormalized::Yes;
            if nfkc_keeps && c.to_lowercase().eq(std::iter::once(c)) {
                continue;
            }
            changed += 1;
            match Username::parse(&format!("ab{c}cd")) {
                Ok(name) => {
                    for form in [name.as_str(), name.key()] {
                        assert!(
                            !form.chars().any(|c| is_invisible(c) || c.is_control()),
                            "U+{:04X} gave {form:?}",
                            u32::from(c)
                        );
                    }
                    assert!(!is_invisible(c), "U+{:04X} accepted", u32::from(c));
                }
                Err(UsernameError::Length) => {}
                Err(_) => assert!(
                    std::iter::once(c)
                        .nfkc()
                        .any(|c| is_invisible(c) || c.is_control()),
                    "U+{:04X} refused",
                    u32::from(c)
                ),
            }
        }
        assert!(
            changed > 5000,
            "{changed} characters changed by NFKC or lowercasing"
        );
    }

    #[test]
    fn ordinary_names_in_many_scripts_are_accepted() {
        for name in [
            "José",
            "Zoë",
            "日本語",
            "Σωκράτης",
            "Владимир",
            "한국어",
            "o'brien-2",
        ] {
            assert!(Username::parse(name).is_ok(), "{name}");
        }
    }
}
