//! The tamper-evident audit log (requirements A1-A4).
//!
//! * [`AuditEvent`] / [`AuditEntry`]: who did what to which (pseudonymous)
//!   object, when, why, on what legal basis and with what outcome. Entries
//!   hold [`Pseudonym`]s (HMAC-SHA256 under the practice's [`AuditKey`]) and
//!   short labels only, never plaintext health data, so the log survives a
//!   patient's erasure and still proves that the erasure happened.
//! * [`AuditLog`]: an append-only log whose entries are the leaves of an
//!   RFC 6962 Merkle tree ([`merkle`]); each entry also links to the leaf
//!   hash of the one before it. The host stores the entry bytes; the log
//!   keeps only the tree's compact right edge and resumes from it.
//! * [`Checkpoint`]: the C2SP `tlog-checkpoint` of a tree, signed as a C2SP
//!   `signed-note` with Ed25519 ([`note`]), verifiable by existing
//!   transparency-log tooling.
//! * [`verify_log`]: detects modified, deleted, inserted or reordered
//!   entries, truncation against a checkpoint and forks, and reports the
//!   first bad index.
//! * [`fhir`]: export of entries as FHIR R4 `AuditEvent` (IHE BALP shapes).
//!
//! The byte formats are specified in `docs/AUDIT.md`.
//!
//! ```
//! use caduceus_core::audit::{
//!     Action, AuditEvent, AuditKey, AuditLog, Checkpoint, PseudonymKind, note,
//! };
//! let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
//! let key = AuditKey::generate(&mut rng);
//! let doctor = key.pseudonym(PseudonymKind::Staff, "dr-mueller@praxis");
//! let patient = key.pseudonym(PseudonymKind::Subject, "patient-4711");
//! let mut log = AuditLog::new("praxis.example/audit").unwrap();
//! let event = AuditEvent::new(1_763_800_000_000, doctor, "doctor", Action::Read, "pms")
//!     .unwrap()
//!     .subject(patient)
//!     .category("clinical-photos").unwrap()
//!     .purpose("treatment").unwrap();
//! let stored: Vec<Vec<u8>> = vec![log.append(&event).unwrap().bytes];
//!
//! let signer = note::NoteSigner::generate("praxis.example/audit", &mut rng).unwrap();
//! let signed = log.checkpoint().sign(&[&signer]).unwrap();
//! let cp = Checkpoint::open(&signed, &[signer.verifier()]).unwrap();
//! let report = caduceus_core::audit::verify_log(stored.iter().map(|e| e.as_slice()), &[cp]);
//! assert!(report.is_ok());
//! ```

mod checkpoint;
mod entry;
pub mod fhir;
mod log;
pub mod merkle;
pub mod note;
mod wire;

pub use checkpoint::Checkpoint;
pub use entry::{
    Action, AuditEntry, AuditEvent, AuditKey, ENTRY_HEADER_LEN, ENTRY_MAGIC, ENTRY_VERSION,
    MAX_ENTRY_LEN, Outcome, Pseudonym, PseudonymKind,
};
pub use log::{AppendedEntry, AuditLog, LogFault, LogVerifier, VerifyReport, verify_log};
pub use wire::BodyFault;

/// Errors of the audit module. Messages say what was wrong and what to do;
/// they never contain personal data or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A text field is not a label (1 to 128 printable ASCII characters).
    #[error(
        "audit field '{0}' must be 1 to 128 printable ASCII characters without surrounding spaces; keep free text and health data out of the audit log"
    )]
    InvalidField(&'static str),
    /// A record id is neither a pseudonym nor a restricted identifier
    /// ([`crate::pseudonym::check_identifier`]): free text such as a name
    /// or a diagnosis.
    #[error("invalid audit record id: {0}")]
    InvalidIdentifier(crate::pseudonym::IdentifierError),
    /// A pseudonym does not have the pseudonym form.
    #[error(
        "not a pseudonym: expected 'sbj-' or 'stf-' followed by 32 lowercase hex digits and a check character; derive pseudonyms with AuditKey::pseudonym, never pass a real identifier"
    )]
    InvalidPseudonym,
    /// The time is outside 0001..9999 or negative.
    #[error("audit time must be Unix milliseconds between 1970 and the year 9999")]
    InvalidTime,
    /// The entry bytes are not a well-formed audit entry.
    #[error("malformed audit entry: {0}")]
    MalformedEntry(&'static str),
    /// The entry body is not canonical MessagePack of the entry's shape
    /// (docs/AUDIT.md section 3); `offset` is the byte in the entry where
    /// the fault was found.
    #[error("malformed audit entry: {fault} (at byte {offset})")]
    MalformedBody {
        /// Offset in the entry bytes.
        offset: usize,
        /// What is wrong.
        fault: BodyFault,
    },
    /// The entry uses a format version this library does not read.
    #[error("unsupported audit entry version {0}; upgrade caduceus")]
    UnsupportedVersion(u8),
    /// An entry is larger than [`MAX_ENTRY_LEN`].
    #[error("audit entry too large")]
    EntryTooLarge,
    /// A leaf index is not inside the tree.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree size is larger than the tree.
    #[error("tree size {size} is larger than the log ({tree_size} entries)")]
    SizeOutOfRange {
        /// The size asked for.
        size: u64,
        /// The available size.
        tree_size: u64,
    },
    /// The host's hash store lacks a node the proof needs.
    #[error(
        "the hash store has no node at level {level}, index {index}; rebuild it from the entries"
    )]
    MissingHash {
        /// Tree level (0 = leaves).
        level: u32,
        /// Index within the level.
        index: u64,
    },
    /// A proof did not verify.
    #[error("the Merkle proof does not verify: the log, the proof or the root hash was changed")]
    BadProof,
    /// A compact range does not fit its size.
    #[error("the compact range does not match its tree size")]
    BadCompactRange,
    /// Resuming: the state does not match the checkpoint or last entry.
    #[error("cannot resume the log: {0}")]
    ResumeMismatch(&'static str),
    /// A checkpoint text is malformed.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A signed note is malformed.
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// A signer or verifier key text is malformed.
    #[error("malformed note key: {0}")]
    MalformedKey(&'static str),
    /// A signature by a known key failed to verify.
    #[error(
        "a signature by known key '{0}' does not verify: the note was changed or signed by another key"
    )]
    BadSignature(String),
    /// No signature by a known key.
    #[error("the note carries no signature by a trusted key; check the verifier key")]
    UnverifiedNote,
    /// An audit key text is malformed.
    #[error("malformed audit key: expected CADUCEUS-AUDIT-KEY-1 followed by 64 hex digits")]
    MalformedAuditKey,
    /// The log is full.
    #[error("the audit log has reached its maximum size")]
    LogFull,
}
