//! Privacy-notice texts, registered by id, version and language.

use serde::{Deserialize, Serialize};

use super::{ConsentError, NoticeRef};
use crate::{label, suite};

/// Maximum length of a notice text in bytes.
pub const MAX_NOTICE_TEXT: usize = 64 * 1024;
/// Most notices (id, version, language) one ledger holds. Each registration
/// and each event's notice reference is checked against every notice, so
/// the count is bounded to keep loading a ledger file linear in its size.
pub const MAX_NOTICES: usize = 4096;
/// Longest language tag of a notice, in characters (the shortest is 2).
pub const MAX_LANGUAGE_TAG_LEN: usize = 35;

/// A registered notice: the exact text shown to patients. Its SHA-256 binds
/// consents to the wording; changed wording is a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Notice id (label rules).
    pub id: String,
    /// Version.
    pub version: u32,
    /// Language tag, e.g. `de`, `en`, `tr`.
    pub language: String,
    /// The exact UTF-8 text shown.
    pub text: String,
    /// When it was registered (Unix seconds).
    pub registered_at: i64,
    /// When it was retired, if it was (Unix seconds). Consents given under
    /// it no longer count from then on.
    pub retired_at: Option<i64>,
}

impl Notice {
    /// The reference a consent event holds (id, version, language, SHA-256).
    pub fn reference(&self) -> NoticeRef {
        NoticeRef {
            id: self.id.clone(),
            version: self.version,
            language: self.language.clone(),
            sha256: suite::sha256(&[self.text.as_bytes()]),
        }
    }
}

/// Language tags: 2 to [`MAX_LANGUAGE_TAG_LEN`] ASCII letters, digits and
/// hyphens, starting with a letter (a practical subset of BCP 47).
pub(crate) fn check_language(tag: &str) -> Result<(), ConsentError> {
    let ok = (2..=MAX_LANGUAGE_TAG_LEN).contains(&tag.len())
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !tag.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ConsentError::InvalidLanguage)
    }
}

pub(crate) fn check_notice(id: &str, language: &str, text: &str) -> Result<(), ConsentError> {
    label::check(id).map_err(|_| ConsentError::InvalidLabel("notice id"))?;
    check_language(language)?;
    if text.is_empty() || text.len() > MAX_NOTICE_TEXT {
        return Err(ConsentError::InvalidNoticeText);
    }
    Ok(())
}

/// Wire form of a notice registration: `[id, version, language, text, registered_at]`.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct NoticeWire(pub String, pub u32, pub String, pub String, pub i64);

/// Wire form of a notice retirement: `[id, version, retired_at]`.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RetireWire(pub String, pub u32, pub i64);
