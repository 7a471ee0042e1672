//! Result codes: stable numbers, never reused, each with a message.

use caduceus_core::envelope::EnvelopeError;
use caduceus_core::keys::KeyError;

use crate::boundary::write_text;

/// The result of every fallible call. `CADUCEUS_OK` (0) is success. The
/// numbers are part of the ABI: they never change and are never reused.
/// Ranges: 1-99 general, 100-199 keys, 200-299 envelopes, 300-399 consent,
/// 400-499 retention and access, 500-599 audit.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum caduceus_result {
    /// Success.
    CADUCEUS_OK = 0,
    /// A required pointer argument was NULL.
    CADUCEUS_NULL_PARAMETER = 1,
    /// A text argument was not valid UTF-8.
    CADUCEUS_INVALID_UTF8 = 2,
    /// The caller's buffer is too small; the required size was reported.
    CADUCEUS_BUFFER_TOO_SMALL = 3,
    /// An internal panic was caught at the boundary; please report it.
    CADUCEUS_PANIC = 4,
    /// An argument is out of range or malformed (see the last error).
    CADUCEUS_INVALID_ARGUMENT = 5,
    /// The object is in the wrong state for this call (e.g. used after finish).
    CADUCEUS_WRONG_STATE = 6,
    /// An unknown result code was passed to `caduceus_result_message`.
    CADUCEUS_UNKNOWN_CODE = 7,
    /// An internal invariant failed; please report it.
    CADUCEUS_INTERNAL = 8,

    /// A key text is malformed (characters, checksum, length).
    CADUCEUS_INVALID_KEY = 100,
    /// A key of another kind (public/secret, practice/staff/subject) was given.
    CADUCEUS_WRONG_KEY_KIND = 101,
    /// The subject-category key was shredded: the data is erased.
    CADUCEUS_KEY_SHREDDED = 102,
    /// The key is not a recipient.
    CADUCEUS_NO_ACCESS = 103,
    /// A keyring record is malformed or inconsistent.
    CADUCEUS_MALFORMED_RECORD = 104,
    /// Removing this recipient would leave nobody able to decrypt.
    CADUCEUS_LAST_RECIPIENT = 105,
    /// The recipient is already present.
    CADUCEUS_DUPLICATE_RECIPIENT = 106,
    /// More recipients than the format allows.
    CADUCEUS_TOO_MANY_RECIPIENTS = 107,
    /// A public key is a low-order point.
    CADUCEUS_WEAK_KEY = 108,
    /// A record or envelope of an unsupported format version or suite.
    CADUCEUS_UNSUPPORTED_VERSION = 109,
    /// No recipients were given.
    CADUCEUS_NO_RECIPIENTS = 110,
    /// A label is empty, too long or not printable ASCII.
    CADUCEUS_INVALID_LABEL = 111,

    /// The input ends before the envelope does.
    CADUCEUS_TRUNCATED = 200,
    /// Bytes follow the end of the envelope.
    CADUCEUS_TRAILING_DATA = 201,
    /// Not a Caduceus envelope.
    CADUCEUS_BAD_MAGIC = 202,
    /// The envelope header is malformed, too large or not canonical.
    CADUCEUS_MALFORMED_HEADER = 203,
    /// The envelope header was modified (MAC mismatch) or a stanza is damaged.
    CADUCEUS_HEADER_CORRUPTED = 204,
    /// A payload segment was modified, reordered or duplicated.
    CADUCEUS_SEGMENT_CORRUPTED = 205,
    /// A segment index past the end.
    CADUCEUS_SEGMENT_OUT_OF_RANGE = 206,
    /// The input is too large for one envelope.
    CADUCEUS_INPUT_TOO_LARGE = 207,
    /// An envelope set is inconsistent or incomplete.
    CADUCEUS_PART_SET = 208,
}

use caduceus_result::*;

impl caduceus_result {
    /// Every code, for `caduceus_result_message` and the tests.
    pub const ALL: &'static [caduceus_result] = &[
        CADUCEUS_OK,
        CADUCEUS_NULL_PARAMETER,
        CADUCEUS_INVALID_UTF8,
        CADUCEUS_BUFFER_TOO_SMALL,
        CADUCEUS_PANIC,
        CADUCEUS_INVALID_ARGUMENT,
        CADUCEUS_WRONG_STATE,
        CADUCEUS_UNKNOWN_CODE,
        CADUCEUS_INTERNAL,
        CADUCEUS_INVALID_KEY,
        CADUCEUS_WRONG_KEY_KIND,
        CADUCEUS_KEY_SHREDDED,
        CADUCEUS_NO_ACCESS,
        CADUCEUS_MALFORMED_RECORD,
        CADUCEUS_LAST_RECIPIENT,
        CADUCEUS_DUPLICATE_RECIPIENT,
        CADUCEUS_TOO_MANY_RECIPIENTS,
        CADUCEUS_WEAK_KEY,
        CADUCEUS_UNSUPPORTED_VERSION,
        CADUCEUS_NO_RECIPIENTS,
        CADUCEUS_INVALID_LABEL,
        CADUCEUS_TRUNCATED,
        CADUCEUS_TRAILING_DATA,
        CADUCEUS_BAD_MAGIC,
        CADUCEUS_MALFORMED_HEADER,
        CADUCEUS_HEADER_CORRUPTED,
        CADUCEUS_SEGMENT_CORRUPTED,
        CADUCEUS_SEGMENT_OUT_OF_RANGE,
        CADUCEUS_INPUT_TOO_LARGE,
        CADUCEUS_PART_SET,
    ];

    /// The fixed message of a code.
    pub fn message(self) -> &'static str {
        match self {
            CADUCEUS_OK => "success",
            CADUCEUS_NULL_PARAMETER => "a required pointer argument was NULL",
            CADUCEUS_INVALID_UTF8 => "a text argument is not valid UTF-8",
            CADUCEUS_BUFFER_TOO_SMALL => "the buffer is too small; retry with the reported size",
            CADUCEUS_PANIC => "internal panic caught at the C boundary; please report this",
            CADUCEUS_INVALID_ARGUMENT => "an argument is out of range or malformed; see caduceus_last_error",
            CADUCEUS_WRONG_STATE => "the object is in the wrong state for this call (e.g. used after finish)",
            CADUCEUS_UNKNOWN_CODE => "unknown result code",
            CADUCEUS_INTERNAL => "internal error; please report this",
            CADUCEUS_INVALID_KEY => "not a valid Caduceus key text; copy the key again in full",
            CADUCEUS_WRONG_KEY_KIND => "a key of another kind was given (public/secret or practice/staff/subject)",
            CADUCEUS_KEY_SHREDDED => "the key was shredded; the data it protected is erased",
            CADUCEUS_NO_ACCESS => "the key is not a recipient; ask the practice to grant access",
            CADUCEUS_MALFORMED_RECORD => "the keyring record is malformed or inconsistent",
            CADUCEUS_LAST_RECIPIENT => "refusing to remove the last recipient; the data would become unreadable",
            CADUCEUS_DUPLICATE_RECIPIENT => "the recipient is already present",
            CADUCEUS_TOO_MANY_RECIPIENTS => "too many recipients for the format",
            CADUCEUS_WEAK_KEY => "the public key is a low-order point and cannot be used",
            CADUCEUS_UNSUPPORTED_VERSION => "unsupported format version or cipher suite; upgrade Caduceus",
            CADUCEUS_NO_RECIPIENTS => "at least one recipient is required",
            CADUCEUS_INVALID_LABEL => "invalid label: use 1 to 128 printable ASCII characters",
            CADUCEUS_TRUNCATED => "the input is truncated",
            CADUCEUS_TRAILING_DATA => "unexpected bytes after the end of the envelope",
            CADUCEUS_BAD_MAGIC => "not a Caduceus envelope",
            CADUCEUS_MALFORMED_HEADER => "the envelope header is malformed, too large or not canonical",
            CADUCEUS_HEADER_CORRUPTED => "the envelope header was modified or a recipient stanza is damaged",
            CADUCEUS_SEGMENT_CORRUPTED => "a payload segment was modified, reordered or duplicated",
            CADUCEUS_SEGMENT_OUT_OF_RANGE => "segment index out of range",
            CADUCEUS_INPUT_TOO_LARGE => "the input is too large for one envelope",
            CADUCEUS_PART_SET => "the envelope set is inconsistent or incomplete",
        }
    }
}

/// Describe `code` as NUL-terminated UTF-8 in `buf` (`len` bytes). Writes
/// the message length (without the NUL) to `out_n`. If `buf` is too small,
/// returns `CADUCEUS_BUFFER_TOO_SMALL` and still writes the required length
/// (without the NUL) to `out_n`. An unknown code gives
/// `CADUCEUS_UNKNOWN_CODE`.
///
/// # Safety
/// `buf` must be valid for `len` bytes of writes; `out_n` must be valid
/// for a write or NULL (then `CADUCEUS_NULL_PARAMETER`).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_result_message(
    code: u32,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> caduceus_result {
    crate::boundary::guard(|| {
        let result = caduceus_result::ALL
            .iter()
            .find(|r| **r as u32 == code)
            .copied()
            .ok_or(CADUCEUS_UNKNOWN_CODE)?;
        // SAFETY: forwarded caller contract (buf valid for len bytes, out_n valid).
        unsafe { write_text(result.message(), buf, len, out_n) }
    })
}

impl From<KeyError> for caduceus_result {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::InvalidKeyText(_) => CADUCEUS_INVALID_KEY,
            KeyError::WrongKeyKind { .. } => CADUCEUS_WRONG_KEY_KIND,
            KeyError::KeyShredded | KeyError::AlreadyShredded => CADUCEUS_KEY_SHREDDED,
            KeyError::NoAccess => CADUCEUS_NO_ACCESS,
            KeyError::MalformedRecord(_) | KeyError::RecordMismatch | KeyError::WrapCorrupted => {
                CADUCEUS_MALFORMED_RECORD
            }
            KeyError::UnsupportedVersion(_) | KeyError::UnsupportedSuite(_) => CADUCEUS_UNSUPPORTED_VERSION,
            KeyError::LastRecipient => CADUCEUS_LAST_RECIPIENT,
            KeyError::DuplicateRecipient => CADUCEUS_DUPLICATE_RECIPIENT,
            KeyError::TooManyRecipients => CADUCEUS_TOO_MANY_RECIPIENTS,
            KeyError::NoRecipients => CADUCEUS_NO_RECIPIENTS,
            KeyError::InvalidLabel(_) => CADUCEUS_INVALID_LABEL,
            KeyError::WeakPublicKey => CADUCEUS_WEAK_KEY,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<EnvelopeError> for caduceus_result {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::Truncated => CADUCEUS_TRUNCATED,
            EnvelopeError::TrailingData => CADUCEUS_TRAILING_DATA,
            EnvelopeError::BadMagic => CADUCEUS_BAD_MAGIC,
            EnvelopeError::UnsupportedVersion(_) | EnvelopeError::UnsupportedSuite(_) => {
                CADUCEUS_UNSUPPORTED_VERSION
            }
            EnvelopeError::HeaderTooLarge
            | EnvelopeError::MalformedHeader(_)
            | EnvelopeError::NonCanonicalHeader => CADUCEUS_MALFORMED_HEADER,
            EnvelopeError::InvalidLabel(_) => CADUCEUS_INVALID_LABEL,
            EnvelopeError::TooManyRecipients => CADUCEUS_TOO_MANY_RECIPIENTS,
            EnvelopeError::NoRecipients => CADUCEUS_NO_RECIPIENTS,
            EnvelopeError::DuplicateRecipient => CADUCEUS_DUPLICATE_RECIPIENT,
            EnvelopeError::WeakRecipientKey => CADUCEUS_WEAK_KEY,
            EnvelopeError::NoAccess => CADUCEUS_NO_ACCESS,
            EnvelopeError::KeyShredded => CADUCEUS_KEY_SHREDDED,
            EnvelopeError::Keyring(k) => k.into(),
            EnvelopeError::StanzaCorrupted | EnvelopeError::HeaderMacMismatch => CADUCEUS_HEADER_CORRUPTED,
            EnvelopeError::SegmentCorrupted { .. } => CADUCEUS_SEGMENT_CORRUPTED,
            EnvelopeError::SegmentOutOfRange => CADUCEUS_SEGMENT_OUT_OF_RANGE,
            EnvelopeError::InputTooLarge => CADUCEUS_INPUT_TOO_LARGE,
            EnvelopeError::PartSet(_) => CADUCEUS_PART_SET,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_have_messages() {
        let mut seen = std::collections::BTreeSet::new();
        for r in caduceus_result::ALL {
            assert!(seen.insert(*r as u32), "duplicate code {}", *r as u32);
            assert!(!r.message().is_empty());
        }
        // Stable numbers: a few anchors that must never change.
        assert_eq!(CADUCEUS_OK as u32, 0);
        assert_eq!(CADUCEUS_NULL_PARAMETER as u32, 1);
        assert_eq!(CADUCEUS_PANIC as u32, 4);
        assert_eq!(CADUCEUS_NO_ACCESS as u32, 103);
        assert_eq!(CADUCEUS_SEGMENT_CORRUPTED as u32, 205);
    }
}
