//! The store's errors. Messages say what was wrong and what to do; they
//! never hold message content, phone numbers, names or key material.

use caduceus_core::audit::{AuditError, LogFault};
use caduceus_core::consent::ConsentError;
use caduceus_core::envelope::EnvelopeError;
use caduceus_core::keys::KeyError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another writer held the database longer than the busy timeout.
    #[error(
        "the store is busy: another writer held it longer than the busy timeout; retry, or raise StoreOptions::busy_timeout"
    )]
    Busy,
    /// The database was written by a newer Caduceus.
    #[error(
        "the store has schema version {found}, this Caduceus reads up to version {supported}; upgrade Caduceus (the store was left untouched)"
    )]
    NewerSchema {
        /// The version found.
        found: i64,
        /// The newest version this library knows.
        supported: i64,
    },
    /// The file is an SQLite database but not a Caduceus store.
    #[error(
        "the file is not a Caduceus store (no schema version); point the store at a new or existing store file"
    )]
    NotAStore,
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// A file of the store (database or media directory) could not be used.
    #[error("store file error while {what}: {source}")]
    Io {
        /// What the store was doing.
        what: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The delivery brings a keyring record for a subject and category that
    /// already has another one (two intakes decided the first contact at
    /// once): nothing was written.
    #[error(
        "the store already holds another keyring record for this subject and category; decide the event again against the stored keyring records"
    )]
    KeyringConflict,
    /// The delivery links an alias that the store links to another subject.
    #[error(
        "the store links this alias to another subject; decide the event again against the stored identity map"
    )]
    IdentityConflict,
    /// A record with this id is already stored under another dedupe key.
    #[error("a record with this record id is already stored; nothing was written")]
    RecordExists,
    /// No record with this id.
    #[error(
        "no record with this id in the store (it may have been deleted by the retention sweep)"
    )]
    RecordNotFound,
    /// The record's subject-category keyring record is missing.
    #[error(
        "the store has no keyring record for this record's subject and category; restore the keyring records from a backup"
    )]
    KeyringMissing,
    /// The subject-category key was shredded: the record is erased for good.
    #[error("the subject-category key was shredded (erasure); the record can no longer be opened")]
    KeyShredded,
    /// The given key is not a recipient of the record's keyring record.
    #[error(
        "this key is not a recipient of the record's keyring record; ask the practice to grant access"
    )]
    NoAccess,
    /// A legal hold in force covers what was to be erased.
    #[error(
        "a legal hold in force covers this data (hold {hold}); nothing was erased; lift the hold first"
    )]
    LegalHold {
        /// The hold's id in the store.
        hold: i64,
    },
    /// A media file named by a record is missing or does not match its name.
    #[error(
        "the media file of a record is missing or damaged (its SHA-256 does not match); restore the store's media directory from a backup"
    )]
    MediaDamaged,
    /// A stored row does not decode.
    #[error("the store is damaged: {0}; restore it from a backup")]
    Damaged(&'static str),
    /// A label or hold reason is not 1 to 128 printable ASCII characters.
    #[error("invalid {0}: use 1 to 128 printable ASCII characters, no health data")]
    InvalidLabel(&'static str),
    /// The audit log could not be appended or read.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// An erasure could not be planned (the message names no personal data).
    #[error("cannot plan the erasure: {0}")]
    Plan(String),
    /// The stored audit log does not verify.
    #[error("the stored audit log does not verify: {0}")]
    AuditLog(#[from] LogFault),
    /// A stored consent event does not decode.
    #[error(transparent)]
    Consent(#[from] ConsentError),
    /// An envelope could not be opened.
    #[error(transparent)]
    Envelope(EnvelopeError),
    /// A keyring record could not be read or changed.
    #[error(transparent)]
    Key(KeyError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy,
            _ => Self::Sqlite(e),
        }
    }
}

impl From<EnvelopeError> for StoreError {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::KeyShredded => Self::KeyShredded,
            EnvelopeError::NoAccess => Self::NoAccess,
            other => Self::Envelope(other),
        }
    }
}

impl From<KeyError> for StoreError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::KeyShredded => Self::KeyShredded,
            KeyError::NoAccess => Self::NoAccess,
            other => Self::Key(other),
        }
    }
}
