//! Pseudonyms and identifiers: what may name a patient, a staff member or a
//! record wherever Caduceus stores a name readable without a key (envelope
//! subject labels, consent subjects, audit record ids).
//!
//! Two forms are accepted, and nothing else:
//!
//! * a **pseudonym**: `sbj-` (a patient) or `stf-` (a staff member or
//!   device), 32 lowercase hex digits and one hex check character, 37
//!   characters in all. The 32 digits are the first 128 bits of
//!   HMAC-SHA256 of a stable identity under the practice's pseudonym key
//!   ([`PseudonymKey`], the key the audit log uses; docs/AUDIT.md section 2).
//!   The check character is Luhn mod 16 over those 32 digits, so a mistyped
//!   digit or two swapped neighbours are caught.
//! * a **restricted identifier** for ids that are not about a person (an
//!   event id, a record number): 1 to 64 characters from `a-z`, `0-9`, `.`,
//!   `_`, `:` and `-`, starting with a letter or digit, with no run of more
//!   than five decimal digits (so a phone number, a birth date without
//!   separators or an insurance number cannot be typed in), and not looking
//!   like a pseudonym with a wrong check character.
//!
//! Neither form can hold a space or a capital letter, so "Max Mustermann"
//! or "+49 170 1234567" is refused by every command and call that takes a
//! subject.
//!
//! ```
//! use caduceus_core::pseudonym::{PseudonymKey, PseudonymKind, check_identifier};
//! use caduceus_core::rand_core::UnwrapErr;
//! # use getrandom::SysRng;
//! let key = PseudonymKey::generate(&mut UnwrapErr(SysRng));
//! let p = key.pseudonym(PseudonymKind::Subject, "patient 4711 of practice A");
//! assert!(check_identifier(p.as_str()).is_ok());
//! assert!(check_identifier("evt-2026-03-01").is_ok());
//! assert!(check_identifier("Max Mustermann").is_err());
//! assert!(check_identifier("+491701234567").is_err());
//! ```

pub use crate::audit::{AuditKey as PseudonymKey, Pseudonym, PseudonymKind};

/// Longest restricted identifier.
pub const MAX_IDENTIFIER_LEN: usize = 64;
/// Longest run of decimal digits a restricted identifier may hold.
pub const MAX_DIGIT_RUN: usize = 5;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Why a text was refused as a pseudonym or identifier. The messages never
/// repeat the text (it may be a name or phone number typed by mistake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// Empty, or longer than [`MAX_IDENTIFIER_LEN`].
    #[error("an identifier must be 1 to 64 characters; use a pseudonym (sbj-...) for a person")]
    Length,
    /// A character outside `a-z 0-9 . _ : -` (a space, a capital, `+`, `@`).
    #[error(
        "an identifier may hold only a-z, 0-9, '.', '_', ':' and '-' (no spaces or capitals: \
         names and phone numbers are not accepted; derive a pseudonym with the practice's pseudonym key)"
    )]
    Alphabet,
    /// Starts with a punctuation character.
    #[error("an identifier must start with a letter or digit")]
    Start,
    /// More than [`MAX_DIGIT_RUN`] digits in a row.
    #[error(
        "an identifier may not hold more than 5 digits in a row (it looks like a phone, \
         insurance or date number); derive a pseudonym with the practice's pseudonym key"
    )]
    DigitRun,
    /// Shaped like a pseudonym but its length or check character is wrong.
    #[error(
        "not a valid pseudonym: 'sbj-' or 'stf-', 32 lowercase hex digits and a check character \
         expected (check for a typing mistake)"
    )]
    BadPseudonym,
}

/// The check character of 32 lowercase hex digits: Luhn mod 16 (ISO/IEC
/// 7812 Luhn generalised to base 16), as a lowercase hex digit. Characters
/// outside `0-9a-f` count as 0 (callers check the alphabet first).
pub fn check_character(digits: &str) -> char {
    let sum = luhn_sum(digits.bytes().rev(), true);
    let check = (16 - sum % 16) % 16;
    char::from(HEX.get(check).copied().unwrap_or(b'0'))
}

/// True if the last character of `digits_and_check` is the Luhn mod 16
/// check character of the ones before it.
pub fn check_character_valid(digits_and_check: &str) -> bool {
    !digits_and_check.is_empty()
        && luhn_sum(digits_and_check.bytes().rev(), false).is_multiple_of(16)
}

/// Sum of the Luhn mod 16 addends, from the rightmost digit; the rightmost
/// is doubled when `double_first` (it is then a payload digit, the check
/// character comes after it).
fn luhn_sum(rev: impl Iterator<Item = u8>, double_first: bool) -> usize {
    let mut sum = 0usize;
    for (i, b) in rev.enumerate() {
        let v = HEX.iter().position(|h| *h == b).unwrap_or(0);
        let double = (i % 2 == 0) == double_first;
        let addend = if double { v * 2 } else { v };
        sum += addend / 16 + addend % 16;
    }
    sum
}

/// Check that `text` is a pseudonym (with a valid check character) or a
/// restricted identifier. See the module documentation for the rules.
pub fn check_identifier(text: &str) -> Result<(), IdentifierError> {
    if text.starts_with("sbj-") || text.starts_with("stf-") {
        return Pseudonym::parse(text)
            .map(|_| ())
            .map_err(|_| IdentifierError::BadPseudonym);
    }
    if text.is_empty() || text.len() > MAX_IDENTIFIER_LEN {
        return Err(IdentifierError::Length);
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(&b);
    if !text.bytes().all(allowed) {
        return Err(IdentifierError::Alphabet);
    }
    if !text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return Err(IdentifierError::Start);
    }
    let mut run = 0usize;
    for b in text.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run > MAX_DIGIT_RUN {
            return Err(IdentifierError::DigitRun);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "thousands of HMAC checks; runs natively in make unit")]
    fn check_character_catches_single_errors_and_adjacent_swaps() {
        let key = PseudonymKey::from_bytes([7; 32]);
        for id in ["a", "b", "patient-4711", "staff"] {
            let p = key.pseudonym(PseudonymKind::Subject, id);
            assert_eq!(p.as_str().len(), 37);
            assert!(check_identifier(p.as_str()).is_ok());
            let body: Vec<u8> = p.as_str().bytes().skip(4).collect();
            for i in 0..body.len() {
                for h in HEX {
                    if *h == body[i] {
                        continue;
                    }
                    let mut m = body.clone();
                    m[i] = *h;
                    let text = format!("sbj-{}", String::from_utf8(m).unwrap());
                    assert_eq!(
                        check_identifier(&text),
                        Err(IdentifierError::BadPseudonym),
                        "{text}"
                    );
                }
                if i + 1 < body.len() && body[i] != body[i + 1] {
                    let mut m = body.clone();
                    m.swap(i, i + 1);
                    let text = format!("sbj-{}", String::from_utf8(m).unwrap());
                    // Luhn mod N misses only the swap of 0 and N-1 ("0f"/"f0").
                    let pair = [body[i], body[i + 1]];
                    if pair != *b"0f" && pair != *b"f0" {
                        assert!(check_identifier(&text).is_err(), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn known_check_characters() {
        // Worked by hand from the definition (docs/AUDIT.md section 2).
        assert_eq!(check_character(&"0".repeat(32)), '0');
        // "...01": the rightmost 1 is doubled: sum 2, check 14.
        assert_eq!(check_character(&format!("{}1", "0".repeat(31))), 'e');
        // "...10": the 1 is not doubled: sum 1, check 15.
        assert_eq!(check_character(&format!("{}10", "0".repeat(30))), 'f');
        // "...0f": f doubled = 30 = 0x1e, digit sum 1 + 14 = 15, check 1.
        assert_eq!(check_character(&format!("{}f", "0".repeat(31))), '1');
    }

    #[test]
    fn names_phone_numbers_and_free_text_are_refused() {
        for bad in [
            "Max Mustermann",
            "max mustermann",
            "MaxMustermann",
            "+49 170 1234567",
            "+491701234567",
            "491701234567",
            "01701234567",
            "max@example.org",
            "Max Mustermann HIV positiv",
            "geb-19800101",
            "",
            "-leading",
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
        let long = "a".repeat(MAX_IDENTIFIER_LEN + 1);
        assert_eq!(check_identifier(&long), Err(IdentifierError::Length));
        for good in ["p-7f3a91", "evt-1", "rec-2026-03-01", "x", "a.b_c:d-12345"] {
            assert!(check_identifier(good).is_ok(), "{good}");
        }
        assert!(check_identifier(&"a".repeat(MAX_IDENTIFIER_LEN)).is_ok());
        assert_eq!(
            check_identifier("sbj-00112233445566778899aabbccddeeff"),
            Err(IdentifierError::BadPseudonym)
        );
    }

    #[test]
    fn errors_do_not_repeat_the_input() {
        for bad in ["Max Mustermann", "+491701234567", "sbj-zz"] {
            let msg = check_identifier(bad).unwrap_err().to_string();
            assert!(!msg.contains(bad), "{msg}");
        }
    }
}
