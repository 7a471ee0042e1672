//! Consent: an append-only ledger of explicit, purpose-bound consent events,
//! decisions over it, and standard exports (FHIR R4 `Consent`, an
//! ISO/IEC TS 27560-shaped record with W3C DPV terms).
//!
//! * A [`ConsentPolicy`] names the purposes of processing (treatment
//!   communication, clinical photos, recall, marketing, and more by
//!   configuration), whether each concerns health data (then consent is
//!   explicit consent, GDPR Art. 9(2)(a)), an optional basis other than
//!   consent (e.g. Art. 6(1)(b) with Art. 9(2)(h) and § 22 BDSG for treatment
//!   communication), re-consent on new notice wording, and the opt-out
//!   phrases (`STOP`, `STOPP`, `BITTE STOPP`, `ABMELDEN`, `UNSUBSCRIBE`, ...),
//!   matched on the whole reply. [`STANDARD_PURPOSES`] is the one table of
//!   the standard purposes' legal bases, used by the default policy and by
//!   the Art. 30 register lint.
//! * [`Notice`]s are the exact privacy-notice texts shown to patients,
//!   registered by id, version and language and bound by SHA-256.
//! * A [`ConsentEvent`] records one given, refused, withdrawn, expired or
//!   renewed consent: who (a pseudonym), which purposes, how, under which
//!   notice, with what evidence, recorded by whom and when. Events are never
//!   changed: a withdrawal is a new event. Each event has a canonical binary
//!   encoding and a SHA-256 [`EventHash`] that audit entries reference.
//! * The [`Ledger`] validates and appends events, folds them into the state
//!   per (subject, purpose), answers [`Ledger::decide`] in O(1), bulk
//!   decisions for send-outs, the full history per subject, and serialises to
//!   a versioned binary file (docs/CONSENT.md).
//!
//! ```
//! use caduceus_core::consent::{
//!     ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, Refusal,
//! };
//! # fn main() -> Result<(), caduceus_core::consent::ConsentError> {
//! let mut ledger = Ledger::new(ConsentPolicy::default())?;
//! let t0 = 1_763_800_000;
//! let notice = ledger.register_notice("privacy-chat", 1, "de", "Datenschutzhinweis ...", t0, t0)?;
//!
//! // Consent by QR code at reception, for treatment communication only.
//! let event = ConsentEvent::new(
//!     "evt-1", "p-7f3a91", &["treatment-communication"], ConsentStatus::Given,
//!     ConsentMethod::QrReception, Some(notice), "reception-qr", "staff-12", t0 + 60)?;
//! let recorded = ledger.append(event, t0 + 60)?;
//!
//! let d = ledger.decide("p-7f3a91", "treatment-communication", t0 + 120);
//! assert!(d.allowed);
//! assert_eq!(d.event.map(|e| e.hash), Some(recorded.hash));
//!
//! // Marketing never rides on treatment consent.
//! let d = ledger.decide("p-7f3a91", "marketing", t0 + 120);
//! assert!(!d.allowed);
//! assert_eq!(d.refusal, Some(Refusal::NoConsent));
//! # Ok(()) }
//! ```

mod event;
mod export;
mod file;
mod ledger;
mod notice;
mod policy;
mod scope;

pub use event::{
    ConsentEvent, ConsentMethod, ConsentStatus, EVENT_MAGIC, EVENT_VERSION, EventHash,
    MAX_EVENT_LEN, MAX_EVENT_PURPOSES, MAX_TIME, NoticeRef,
};
pub use file::{
    LEDGER_CHAIN_LEN, LEDGER_MAGIC, LEDGER_VERSION, LEDGER_VERSION_1, LedgerReader, LedgerSave,
    MAX_LEDGER_ENTRY, TornTail,
};
pub use ledger::{
    Decision, EventRef, Ledger, OBJECTION_ID_SUFFIX, OptOutEvent, OptOutOutcome, OptOutRequest,
    RecordedEvent, Refusal, SubjectId,
};
pub use notice::{MAX_LANGUAGE_TAG_LEN, MAX_NOTICE_TEXT, MAX_NOTICES, Notice};
pub use policy::{
    Art6Basis, Art9Condition, ConsentPolicy, DEFAULT_OPT_OUT_KEYWORDS, DEFAULT_POLICY_TOML,
    LegalBasis, MAX_KEYWORD_LEN, MAX_KEYWORDS, MAX_POLICY_TOML_LEN, MAX_PURPOSES, PurposeConfig,
    STANDARD_PURPOSES, StandardPurpose, normalize_reply, standard_purpose,
};
pub use scope::LedgerScope;

/// Errors of the consent module. Messages say what was wrong and what to do;
/// they never contain subject pseudonyms, notice texts or other personal
/// data (event ids, purpose names and notice ids are not personal data).
///
/// Every operation that returns an error leaves the ledger unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// A label field (pseudonym, id, channel, ...) is empty, too long or not
    /// printable ASCII.
    #[error(
        "invalid {0}: use 1 to 128 printable ASCII characters without leading or trailing spaces"
    )]
    InvalidLabel(&'static str),
    /// A new event's subject is neither a pseudonym nor a restricted
    /// identifier ([`crate::pseudonym::check_identifier`]): a name or a
    /// phone number typed in by mistake. Checked when an event is appended,
    /// not when a ledger file is read, so older files stay readable.
    #[error("invalid consent subject: {0}")]
    InvalidSubject(crate::pseudonym::IdentifierError),
    /// The purpose is not configured in the ledger's policy.
    #[error("unknown purpose '{0}': add it to the consent policy or use a configured purpose")]
    UnknownPurpose(String),
    /// An event time or expiry lies before 1970 or after the year 9999.
    #[error(
        "event '{0}': times must lie between 1970-01-01 and 9999-12-31 (Unix seconds 0 to {MAX_TIME})"
    )]
    TimeOutOfRange(String),
    /// An event names no purpose.
    #[error("event '{0}' names no purpose; name at least one")]
    NoPurposes(String),
    /// An event names a purpose twice, or more purposes than allowed.
    #[error("event '{event}' names purpose '{purpose}' twice; name each purpose once")]
    DuplicatePurpose {
        /// The event id.
        event: String,
        /// The repeated purpose.
        purpose: String,
    },
    /// An event names more purposes than the format allows.
    #[error("event '{0}' names more than {MAX_EVENT_PURPOSES} purposes; split it")]
    TooManyPurposes(String),
    /// An event id is already in the ledger.
    #[error("an event with id '{0}' is already in the ledger; event ids must be unique")]
    DuplicateEventId(String),
    /// The event is older than the subject's latest event.
    #[error(
        "event '{event}' at {time} is older than the subject's latest event at {latest}; events of a subject must be appended in time order"
    )]
    OutOfOrder {
        /// The event id.
        event: String,
        /// The event's time (Unix seconds).
        time: i64,
        /// The time of the subject's latest event.
        latest: i64,
    },
    /// The event's time lies further in the future than the allowed clock skew.
    #[error(
        "'{what}' has a time {ahead} s ahead of now, more than the allowed clock skew of {skew} s; check the clocks"
    )]
    InFuture {
        /// The event id or notice id.
        what: String,
        /// Seconds ahead of `now`.
        ahead: i64,
        /// The policy's allowed skew in seconds.
        skew: i64,
    },
    /// The expiry is not after the event time, or is given on an event that
    /// does not grant consent.
    #[error(
        "event '{0}': an expiry must lie after the event time and only given or renewed consent expires"
    )]
    InvalidExpiry(String),
    /// A withdrawal or expiry for a purpose without consent in effect.
    #[error(
        "event '{event}' withdraws or expires purpose '{purpose}', but no consent for it was given before; record a refusal instead"
    )]
    WithoutPriorConsent {
        /// The event id.
        event: String,
        /// The purpose without prior consent.
        purpose: String,
    },
    /// A given or renewed consent without the notice the patient was shown.
    #[error(
        "event '{0}' grants consent but names no notice; consent must point at the notice wording shown"
    )]
    NoticeRequired(String),
    /// The notice reference matches no registered notice (id, version,
    /// language and SHA-256 of the text).
    #[error(
        "notice '{id}' version {version} ({language}) with this SHA-256 is not registered; register the exact text shown first"
    )]
    UnknownNotice {
        /// Notice id.
        id: String,
        /// Notice version.
        version: u32,
        /// Notice language.
        language: String,
    },
    /// A notice with the same id, version and language is already registered.
    #[error(
        "notice '{id}' version {version} ({language}) is already registered; changed wording needs a new version"
    )]
    DuplicateNotice {
        /// Notice id.
        id: String,
        /// Notice version.
        version: u32,
        /// Notice language.
        language: String,
    },
    /// The notice version is already retired.
    #[error("notice '{id}' version {version} is already retired")]
    NoticeAlreadyRetired {
        /// Notice id.
        id: String,
        /// Notice version.
        version: u32,
    },
    /// The notice text is empty or longer than [`MAX_NOTICE_TEXT`].
    #[error("notice text must be 1 to {MAX_NOTICE_TEXT} bytes of UTF-8")]
    InvalidNoticeText,
    /// The notice language is not a language tag.
    #[error("invalid notice language: use a language tag such as 'de' or 'en-GB'")]
    InvalidLanguage,
    /// The consent policy is inconsistent.
    #[error("invalid consent policy: {0}")]
    InvalidPolicy(String),
    /// An event record's bytes are malformed.
    #[error("malformed consent event: {0}")]
    MalformedEvent(&'static str),
    /// A ledger file's bytes are malformed.
    #[error("malformed consent ledger: {0}")]
    MalformedLedger(&'static str),
    /// An entry of a ledger file failed validation.
    #[error("consent ledger entry {index}: {source}")]
    InvalidEntry {
        /// Zero-based index of the entry after the file prefix.
        index: u64,
        /// Why it failed.
        source: Box<ConsentError>,
    },
    /// A version-2 ledger file ends in an incomplete entry, as a crash or a
    /// power loss during an append leaves it. Every entry before it is
    /// intact; cutting the file to `keep_len` bytes repairs it
    /// ([`LedgerReader::finish_repairing`], `caduceus consent repair`).
    #[error(
        "the consent ledger ends in an incomplete entry ({cut_len} bytes after the last complete entry, which ends at byte {keep_len}), as an interrupted write leaves it; repair it (caduceus consent repair) to cut only that entry"
    )]
    TornTail {
        /// Bytes up to the end of the last complete entry.
        keep_len: u64,
        /// Bytes of the incomplete entry.
        cut_len: u64,
    },
    /// [`Ledger::mark_saved`] was given a save that does not continue from
    /// what was saved before.
    #[error(
        "this save does not continue the ledger's last save (an older save, or another ledger's); call Ledger::unsaved again and write what it returns"
    )]
    SaveOutOfOrder,
    /// A scoped ledger ([`LedgerReader::scoped`]) was asked to append an
    /// event of a subject, or with an id, that its scope does not name, or
    /// to write the whole file.
    #[error(
        "this ledger was read for some subjects only (a scoped load); name the event's subject and id in the scope, or read the whole ledger"
    )]
    NotHeld,
    /// The record was written by an unknown format version.
    #[error("unsupported consent format version {0}; upgrade Caduceus")]
    UnsupportedVersion(u8),
    /// The ledger cannot hold more events, subjects or notices (at most
    /// 2^32 - 2 events and subjects, [`MAX_NOTICES`] notices).
    #[error(
        "the consent ledger is full (at most 2^32 - 2 events and subjects and {MAX_NOTICES} notices); archive it and start a new one"
    )]
    LedgerFull,
}

#[cfg(test)]
mod send_sync {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Ledger>();
        assert_send_sync::<ConsentEvent>();
        assert_send_sync::<ConsentPolicy>();
        assert_send_sync::<Notice>();
        assert_send_sync::<Decision>();
        assert_send_sync::<ConsentError>();
        assert_send_sync::<OptOutOutcome>();
    }
}
