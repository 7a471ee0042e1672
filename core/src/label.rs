//! Validation of short, non-secret label strings (pseudonyms, categories,
//! purposes, content types) that appear in authenticated headers and records.

/// Maximum length of a label in bytes.
pub const MAX_LABEL_LEN: usize = 128;

/// Why a label was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadLabel;

/// A label is 1 to 128 bytes of printable ASCII (0x20..=0x7e), without
/// leading or trailing spaces. This keeps free text (and with it health data)
/// out of headers that are readable without a key.
pub(crate) fn check(value: &str) -> Result<(), BadLabel> {
    let ok = !value.is_empty()
        && value.len() <= MAX_LABEL_LEN
        && value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ');
    if ok { Ok(()) } else { Err(BadLabel) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_at_and_past_the_limits() {
        assert!(check("clinical-photos").is_ok());
        assert!(check("text/plain; charset=utf-8").is_ok());
        assert!(check(&"a".repeat(MAX_LABEL_LEN)).is_ok());
        assert!(check(&"a".repeat(MAX_LABEL_LEN + 1)).is_err());
        assert!(check("").is_err());
        assert!(check(" x").is_err());
        assert!(check("x\n").is_err());
        assert!(check("Müller").is_err());
    }
}
