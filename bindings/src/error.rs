//! The one public error enum, mapped from core's errors through the C
//! ABI's result codes (one mapping for both boundaries).

use caduceus_ffi::caduceus_result::{self, *};

/// What went wrong. Callers branch on the variant; the `reason` texts are
/// fixed descriptions of the failure class (the C ABI's result messages)
/// and never hold personal data, keys or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CaduceusError {
    /// The key has no access: it holds no wrap in the keyring record, or is
    /// not a recipient of the envelope.
    #[error("no access: this key cannot open it")]
    NoAccess,
    /// The subject-category key was shredded: the data is erased.
    #[error("the key was shredded: the data is erased")]
    KeyShredded,
    /// Authentication failed: the envelope, a segment, a wrap or a stored
    /// record was changed or truncated.
    #[error("tampered: authentication failed ({reason})")]
    Tampered {
        /// Which check failed (no personal data).
        reason: String,
    },
    /// A signature did not verify: a webhook's `X-Hub-Signature-256`, a
    /// signed checkpoint.
    #[error("signature invalid ({reason})")]
    SignatureInvalid {
        /// Which check failed (no personal data).
        reason: String,
    },
    /// The consent ledger does not allow the processing.
    #[error("not consented ({reason})")]
    NotConsented {
        /// The refusal code (`no-consent`, `withdrawn`, ...).
        reason: String,
    },
    /// A key of the wrong kind, or a malformed key text.
    #[error("invalid key ({reason})")]
    InvalidKey {
        /// What is wrong (no personal data).
        reason: String,
    },
    /// Bad input: a label, a JSON or TOML text, an id, a policy.
    #[error("invalid input ({reason})")]
    InvalidInput {
        /// What is wrong (no personal data).
        reason: String,
    },
    /// The object is in the wrong state: a finished sealer or opener.
    #[error("wrong state ({reason})")]
    WrongState {
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("I/O error ({reason})")]
    Io {
        /// The I/O error kind.
        reason: String,
    },
    /// A bug in Caduceus; please report it.
    #[error("internal error ({reason})")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl From<caduceus_result> for CaduceusError {
    fn from(code: caduceus_result) -> Self {
        // The C ABI's message without its pointer to caduceus_last_error
        // (the detail there may name ids; the bindings do not pass it on).
        let message = code.message();
        let reason = message
            .split("; see caduceus_last_error")
            .next()
            .unwrap_or(message)
            .to_owned();
        match code {
            CADUCEUS_NO_ACCESS | CADUCEUS_NOT_A_RECIPIENT => Self::NoAccess,
            CADUCEUS_KEY_SHREDDED => Self::KeyShredded,
            CADUCEUS_TRUNCATED
            | CADUCEUS_HEADER_CORRUPTED
            | CADUCEUS_SEGMENT_CORRUPTED
            | CADUCEUS_MALFORMED_RECORD
            | CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH => Self::Tampered { reason },
            CADUCEUS_WHATSAPP_SIGNATURE_MISSING
            | CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED
            | CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH
            | CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN
            | CADUCEUS_AUDIT_BAD_SIGNATURE
            | CADUCEUS_AUDIT_BAD_PROOF => Self::SignatureInvalid { reason },
            CADUCEUS_INVALID_KEY | CADUCEUS_WRONG_KEY_KIND | CADUCEUS_WEAK_KEY => {
                Self::InvalidKey { reason }
            }
            CADUCEUS_WRONG_STATE => Self::WrongState { reason },
            CADUCEUS_PANIC | CADUCEUS_INTERNAL => Self::Internal { reason },
            _ => Self::InvalidInput { reason },
        }
    }
}

/// Every core error converts through its C ABI result code.
macro_rules! from_core {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for CaduceusError {
            fn from(e: $t) -> Self {
                caduceus_result::from(e).into()
            }
        })*
    };
}

from_core!(
    caduceus_core::keys::KeyError,
    caduceus_core::envelope::EnvelopeError,
    caduceus_core::consent::ConsentError,
    caduceus_core::retention::PolicyError,
    caduceus_core::retention::RecordsError,
    caduceus_core::retention::PlanError,
    caduceus_core::access::AccessError,
    caduceus_core::audit::AuditError,
    caduceus_core::whatsapp::SignatureError,
    caduceus_core::whatsapp::SubscriptionError,
    caduceus_core::whatsapp::ParseError,
    caduceus_core::whatsapp::IntakeError,
    caduceus_core::whatsapp::IdentityError,
    caduceus_core::whatsapp::OutboundStateError,
    caduceus_core::whatsapp::MediaError,
);

impl From<std::io::Error> for CaduceusError {
    fn from(e: std::io::Error) -> Self {
        Self::Io {
            reason: e.kind().to_string(),
        }
    }
}

/// An invalid-input error with a fixed reason.
pub(crate) fn invalid(reason: &str) -> CaduceusError {
    CaduceusError::InvalidInput {
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: &CaduceusError) -> Option<&str> {
        match e {
            CaduceusError::NoAccess | CaduceusError::KeyShredded => None,
            CaduceusError::Tampered { reason }
            | CaduceusError::SignatureInvalid { reason }
            | CaduceusError::NotConsented { reason }
            | CaduceusError::InvalidKey { reason }
            | CaduceusError::InvalidInput { reason }
            | CaduceusError::WrongState { reason }
            | CaduceusError::Io { reason }
            | CaduceusError::Internal { reason } => Some(reason),
        }
    }

    #[test]
    fn every_c_abi_code_maps_to_a_variant_with_a_fixed_reason() {
        for &code in caduceus_result::ALL {
            let e = CaduceusError::from(code);
            if let Some(r) = reason(&e) {
                assert!(!r.is_empty(), "{code:?}");
                assert!(!r.contains("caduceus_last_error"), "{code:?}: {r}");
            }
        }
        assert_eq!(
            CaduceusError::from(CADUCEUS_NO_ACCESS),
            CaduceusError::NoAccess
        );
        assert!(matches!(
            CaduceusError::from(CADUCEUS_SEGMENT_CORRUPTED),
            CaduceusError::Tampered { .. }
        ));
        assert!(matches!(
            CaduceusError::from(CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH),
            CaduceusError::SignatureInvalid { .. }
        ));
    }

    #[test]
    fn core_errors_with_ids_do_not_leak_them() {
        let e = CaduceusError::from(caduceus_core::consent::ConsentError::DuplicateEventId(
            "wa-erika-musterfrau".into(),
        ));
        assert!(matches!(e, CaduceusError::InvalidInput { .. }));
        assert!(!e.to_string().contains("erika"), "{e}");
    }
}
