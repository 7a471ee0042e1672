//! Result codes: stable numbers, never reused, each with a message.

use caduceus_core::access::AccessError;
use caduceus_core::audit::{AuditError, LogFault};
use caduceus_core::consent::ConsentError;
use caduceus_core::envelope::EnvelopeError;
use caduceus_core::keys::KeyError;
use caduceus_core::retention::{PlanError, PolicyError, RecordsError};
use caduceus_core::whatsapp::{
    IdentityError, IntakeError, OutboundStateError, ParseError, SignatureError, SubscriptionError,
};

use crate::boundary::write_text;

/// The result of every fallible call. `CADUCEUS_OK` (0) is success. The
/// numbers are part of the ABI: they never change and are never reused.
/// Ranges: 1-99 general, 100-199 keys, 200-299 envelopes, 300-399 consent,
/// 400-499 retention and access, 500-599 audit, 600-699 WhatsApp.
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

    /// A key text is malformed (characters, checksum, length), or its public
    /// key is not a canonical X25519 u-coordinate (see the last error).
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
    /// A text is neither a pseudonym nor a restricted identifier (a name or
    /// a phone number where an identifier belongs).
    CADUCEUS_INVALID_IDENTIFIER = 112,
    /// The key id to remove is not a recipient of this envelope or record.
    CADUCEUS_NOT_A_RECIPIENT = 113,

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

    /// A consent event or notice field is invalid (label, time, purposes, expiry, missing notice).
    CADUCEUS_CONSENT_INVALID_EVENT = 300,
    /// The purpose is not configured in the ledger's consent policy.
    CADUCEUS_CONSENT_UNKNOWN_PURPOSE = 301,
    /// An event with this id is already in the ledger.
    CADUCEUS_CONSENT_DUPLICATE_EVENT = 302,
    /// The event is older than the subject's latest event.
    CADUCEUS_CONSENT_OUT_OF_ORDER = 303,
    /// The event or notice time lies beyond the allowed clock skew in the future.
    CADUCEUS_CONSENT_IN_FUTURE = 304,
    /// A withdrawal or expiry for a purpose without consent in effect.
    CADUCEUS_CONSENT_WITHOUT_PRIOR_CONSENT = 305,
    /// The notice reference matches no registered notice.
    CADUCEUS_CONSENT_UNKNOWN_NOTICE = 306,
    /// The notice version is already registered (or already retired).
    CADUCEUS_CONSENT_DUPLICATE_NOTICE = 307,
    /// The notice text or language is invalid.
    CADUCEUS_CONSENT_INVALID_NOTICE = 308,
    /// The consent policy is invalid.
    CADUCEUS_CONSENT_INVALID_POLICY = 309,
    /// A consent ledger or event record is malformed, damaged or inconsistent.
    CADUCEUS_CONSENT_MALFORMED_LEDGER = 310,
    /// The consent ledger is full.
    CADUCEUS_CONSENT_LEDGER_FULL = 311,
    /// The consent ledger file ends inside an entry (an interrupted append).
    CADUCEUS_CONSENT_TORN_TAIL = 312,
    /// A save marked as written is not what the ledger had left to save.
    CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER = 313,
    /// A ledger read for some subjects only was asked about, or to append
    /// for, a subject or event id it does not hold, or to write the whole file.
    CADUCEUS_CONSENT_NOT_HELD = 314,

    /// The retention policy is not valid TOML of the policy format.
    CADUCEUS_POLICY_SYNTAX = 400,
    /// The retention policy has a value that is not allowed.
    CADUCEUS_POLICY_INVALID = 401,
    /// Record or hold metadata (JSON) is malformed or refers to something unknown.
    CADUCEUS_POLICY_BAD_RECORDS = 402,
    /// The role is not defined in the policy.
    CADUCEUS_POLICY_UNKNOWN_ROLE = 403,
    /// The category is not defined in the policy.
    CADUCEUS_POLICY_UNKNOWN_CATEGORY = 404,
    /// The subject is not a valid pseudonym.
    CADUCEUS_POLICY_BAD_SUBJECT = 405,
    /// A record belongs to another subject than the request's.
    CADUCEUS_POLICY_OTHER_SUBJECT = 406,

    /// An audit event is invalid (field not a label, not a pseudonym, time out of range).
    CADUCEUS_AUDIT_INVALID_EVENT = 500,
    /// Audit entry bytes are malformed or too large.
    CADUCEUS_AUDIT_MALFORMED_ENTRY = 501,
    /// A leaf index or tree size lies outside the tree.
    CADUCEUS_AUDIT_OUT_OF_RANGE = 502,
    /// A Merkle proof does not verify.
    CADUCEUS_AUDIT_BAD_PROOF = 503,
    /// A checkpoint or signed note is malformed.
    CADUCEUS_AUDIT_MALFORMED_CHECKPOINT = 504,
    /// An audit key, signer key or verifier key text is malformed.
    CADUCEUS_AUDIT_MALFORMED_KEY = 505,
    /// A signature does not verify, or no trusted key signed the note.
    CADUCEUS_AUDIT_BAD_SIGNATURE = 506,
    /// The audit log has reached its maximum size.
    CADUCEUS_AUDIT_LOG_FULL = 507,
    /// The entries do not form a valid log (modified, missing or reordered entries).
    CADUCEUS_AUDIT_INVALID_LOG = 508,

    /// No app secret was given, or one of them is empty.
    CADUCEUS_WHATSAPP_NO_SECRETS = 600,
    /// The webhook body is larger than 3 MiB.
    CADUCEUS_WHATSAPP_BODY_TOO_LARGE = 601,
    /// The webhook request has no (or an empty) `X-Hub-Signature-256` header.
    CADUCEUS_WHATSAPP_SIGNATURE_MISSING = 602,
    /// The `X-Hub-Signature-256` header is not `sha256=` and 64 hex digits.
    CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED = 603,
    /// The webhook signature matches no app secret.
    CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH = 604,
    /// No verify token is configured (it is empty).
    CADUCEUS_WHATSAPP_NO_VERIFY_TOKEN = 605,
    /// The subscription handshake's `hub.mode` is not `subscribe`.
    CADUCEUS_WHATSAPP_SUBSCRIPTION_MODE = 606,
    /// The subscription handshake's `hub.verify_token` is wrong.
    CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN = 607,
    /// The subscription handshake's `hub.challenge` is not a short printable token.
    CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE = 608,
    /// The webhook body is not valid JSON, not a WhatsApp Business Account
    /// webhook, or its envelope is not as Meta documents it.
    CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED = 609,
    /// The webhook body nests arrays and objects too deeply.
    CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP = 610,
    /// The webhook body holds more updates than the limit.
    CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS = 611,
    /// An event index (of a webhook, or of a decision's audit events or
    /// replies) is past the end.
    CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE = 612,
    /// The intake's privacy notice is not registered in the consent ledger.
    CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED = 613,
    /// The intake configuration does not fit (routes, ages, button texts,
    /// notice id length, a keyring record of another subject).
    CADUCEUS_WHATSAPP_INTAKE_CONFIG = 614,
    /// An identity map text has a malformed line or links an alias to two subjects.
    CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED = 615,
    /// The identity map text ends inside a line (an interrupted append).
    CADUCEUS_WHATSAPP_IDENTITIES_TORN = 616,
    /// An outbound state text has a malformed line.
    CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED = 617,
    /// The decision has no such part (no envelope, keyring record, media
    /// plan, subject, record id or dedupe key).
    CADUCEUS_WHATSAPP_NOT_IN_DECISION = 618,
    /// The downloaded media does not have the SHA-256 the webhook announced.
    CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH = 619,
    /// The downloaded media is larger than the limit for its kind.
    CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE = 620,
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
        CADUCEUS_INVALID_IDENTIFIER,
        CADUCEUS_NOT_A_RECIPIENT,
        CADUCEUS_TRUNCATED,
        CADUCEUS_TRAILING_DATA,
        CADUCEUS_BAD_MAGIC,
        CADUCEUS_MALFORMED_HEADER,
        CADUCEUS_HEADER_CORRUPTED,
        CADUCEUS_SEGMENT_CORRUPTED,
        CADUCEUS_SEGMENT_OUT_OF_RANGE,
        CADUCEUS_INPUT_TOO_LARGE,
        CADUCEUS_PART_SET,
        CADUCEUS_CONSENT_INVALID_EVENT,
        CADUCEUS_CONSENT_UNKNOWN_PURPOSE,
        CADUCEUS_CONSENT_DUPLICATE_EVENT,
        CADUCEUS_CONSENT_OUT_OF_ORDER,
        CADUCEUS_CONSENT_IN_FUTURE,
        CADUCEUS_CONSENT_WITHOUT_PRIOR_CONSENT,
        CADUCEUS_CONSENT_UNKNOWN_NOTICE,
        CADUCEUS_CONSENT_DUPLICATE_NOTICE,
        CADUCEUS_CONSENT_INVALID_NOTICE,
        CADUCEUS_CONSENT_INVALID_POLICY,
        CADUCEUS_CONSENT_MALFORMED_LEDGER,
        CADUCEUS_CONSENT_LEDGER_FULL,
        CADUCEUS_CONSENT_TORN_TAIL,
        CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER,
        CADUCEUS_CONSENT_NOT_HELD,
        CADUCEUS_POLICY_SYNTAX,
        CADUCEUS_POLICY_INVALID,
        CADUCEUS_POLICY_BAD_RECORDS,
        CADUCEUS_POLICY_UNKNOWN_ROLE,
        CADUCEUS_POLICY_UNKNOWN_CATEGORY,
        CADUCEUS_POLICY_BAD_SUBJECT,
        CADUCEUS_POLICY_OTHER_SUBJECT,
        CADUCEUS_AUDIT_INVALID_EVENT,
        CADUCEUS_AUDIT_MALFORMED_ENTRY,
        CADUCEUS_AUDIT_OUT_OF_RANGE,
        CADUCEUS_AUDIT_BAD_PROOF,
        CADUCEUS_AUDIT_MALFORMED_CHECKPOINT,
        CADUCEUS_AUDIT_MALFORMED_KEY,
        CADUCEUS_AUDIT_BAD_SIGNATURE,
        CADUCEUS_AUDIT_LOG_FULL,
        CADUCEUS_AUDIT_INVALID_LOG,
        CADUCEUS_WHATSAPP_NO_SECRETS,
        CADUCEUS_WHATSAPP_BODY_TOO_LARGE,
        CADUCEUS_WHATSAPP_SIGNATURE_MISSING,
        CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED,
        CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH,
        CADUCEUS_WHATSAPP_NO_VERIFY_TOKEN,
        CADUCEUS_WHATSAPP_SUBSCRIPTION_MODE,
        CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN,
        CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE,
        CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED,
        CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP,
        CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS,
        CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE,
        CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED,
        CADUCEUS_WHATSAPP_INTAKE_CONFIG,
        CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED,
        CADUCEUS_WHATSAPP_IDENTITIES_TORN,
        CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED,
        CADUCEUS_WHATSAPP_NOT_IN_DECISION,
        CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH,
        CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE,
    ];

    /// The fixed message of a code.
    pub fn message(self) -> &'static str {
        match self {
            CADUCEUS_OK => "success",
            CADUCEUS_NULL_PARAMETER => "a required pointer argument was NULL",
            CADUCEUS_INVALID_UTF8 => "a text argument is not valid UTF-8",
            CADUCEUS_BUFFER_TOO_SMALL => "the buffer is too small; retry with the reported size",
            CADUCEUS_PANIC => "internal panic caught at the C boundary; please report this",
            CADUCEUS_INVALID_ARGUMENT => {
                "an argument is out of range or malformed; see caduceus_last_error"
            }
            CADUCEUS_WRONG_STATE => {
                "the object is in the wrong state for this call (e.g. used after finish)"
            }
            CADUCEUS_UNKNOWN_CODE => "unknown result code",
            CADUCEUS_INTERNAL => "internal error; please report this",
            CADUCEUS_INVALID_KEY => "not a valid Caduceus key text; copy the key again in full",
            CADUCEUS_WRONG_KEY_KIND => {
                "a key of another kind was given (public/secret or practice/staff/subject)"
            }
            CADUCEUS_KEY_SHREDDED => "the key was shredded; the data it protected is erased",
            CADUCEUS_NO_ACCESS => "the key is not a recipient; ask the practice to grant access",
            CADUCEUS_MALFORMED_RECORD => "the keyring record is malformed or inconsistent",
            CADUCEUS_LAST_RECIPIENT => {
                "refusing to remove the last recipient; the data would become unreadable"
            }
            CADUCEUS_DUPLICATE_RECIPIENT => "the recipient is already present",
            CADUCEUS_TOO_MANY_RECIPIENTS => "too many recipients for the format",
            CADUCEUS_WEAK_KEY => "the public key is a low-order point and cannot be used",
            CADUCEUS_UNSUPPORTED_VERSION => {
                "unsupported format version or cipher suite; upgrade Caduceus"
            }
            CADUCEUS_NO_RECIPIENTS => "at least one recipient is required",
            CADUCEUS_INVALID_LABEL => "invalid label: use 1 to 128 printable ASCII characters",
            CADUCEUS_NOT_A_RECIPIENT => {
                "the key to remove is not a recipient; check the key id with inspect"
            }
            CADUCEUS_INVALID_IDENTIFIER => {
                "not a pseudonym or restricted identifier (no names, spaces or phone numbers); \
                 see caduceus_last_error"
            }
            CADUCEUS_TRUNCATED => "the input is truncated",
            CADUCEUS_TRAILING_DATA => "unexpected bytes after the end of the envelope",
            CADUCEUS_BAD_MAGIC => "not a Caduceus envelope",
            CADUCEUS_MALFORMED_HEADER => {
                "the envelope header is malformed, too large or not canonical"
            }
            CADUCEUS_HEADER_CORRUPTED => {
                "the envelope header was modified or a recipient stanza is damaged"
            }
            CADUCEUS_SEGMENT_CORRUPTED => "a payload segment was modified, reordered or duplicated",
            CADUCEUS_SEGMENT_OUT_OF_RANGE => "segment index out of range",
            CADUCEUS_INPUT_TOO_LARGE => "the input is too large for one envelope",
            CADUCEUS_PART_SET => "the envelope set is inconsistent or incomplete",
            CADUCEUS_CONSENT_INVALID_EVENT => {
                "a consent event or notice field is invalid; see caduceus_last_error"
            }
            CADUCEUS_CONSENT_UNKNOWN_PURPOSE => {
                "unknown purpose: add it to the consent policy or use a configured purpose"
            }
            CADUCEUS_CONSENT_DUPLICATE_EVENT => {
                "an event with this id is already in the ledger; event ids must be unique"
            }
            CADUCEUS_CONSENT_OUT_OF_ORDER => {
                "the event is older than the subject's latest event; append a subject's events in time order"
            }
            CADUCEUS_CONSENT_IN_FUTURE => {
                "the time lies further in the future than the allowed clock skew; check the clocks"
            }
            CADUCEUS_CONSENT_WITHOUT_PRIOR_CONSENT => {
                "withdrawal or expiry without prior consent; record a refusal instead"
            }
            CADUCEUS_CONSENT_UNKNOWN_NOTICE => {
                "the notice is not registered; register the exact text shown first"
            }
            CADUCEUS_CONSENT_DUPLICATE_NOTICE => {
                "the notice version is already registered or retired; changed wording needs a new version"
            }
            CADUCEUS_CONSENT_INVALID_NOTICE => "invalid notice text or language",
            CADUCEUS_CONSENT_INVALID_POLICY => "invalid consent policy; see caduceus_last_error",
            CADUCEUS_CONSENT_MALFORMED_LEDGER => {
                "the consent ledger or event record is malformed or damaged; restore it from a backup"
            }
            CADUCEUS_CONSENT_LEDGER_FULL => {
                "the consent ledger is full; archive it and start a new one"
            }
            CADUCEUS_CONSENT_TORN_TAIL => {
                "the consent ledger file ends inside an entry, as an interrupted append leaves it; \
                 load it with caduceus_consent_ledger_from_bytes_repairing and cut the file to keep_len"
            }
            CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER => {
                "these bytes are not what the ledger has left to save; call caduceus_consent_ledger_unsaved again"
            }
            CADUCEUS_CONSENT_NOT_HELD => {
                "this ledger was read for some subjects only; hold the event's subject and id with \
                 caduceus_consent_ledger_reader_hold_subject / _hold_event_id, or read the whole ledger"
            }
            CADUCEUS_POLICY_SYNTAX => {
                "the retention policy is not valid; see caduceus_last_error for line and column"
            }
            CADUCEUS_POLICY_INVALID => {
                "the retention policy has a value that is not allowed; see caduceus_last_error for line and column"
            }
            CADUCEUS_POLICY_BAD_RECORDS => {
                "record or hold metadata is malformed; see caduceus_last_error"
            }
            CADUCEUS_POLICY_UNKNOWN_ROLE => "unknown role: use a role id of the policy",
            CADUCEUS_POLICY_UNKNOWN_CATEGORY => "unknown category: use a category id of the policy",
            CADUCEUS_POLICY_BAD_SUBJECT => {
                "the subject must be a pseudonym of 1 to 128 printable ASCII characters"
            }
            CADUCEUS_POLICY_OTHER_SUBJECT => {
                "a record belongs to another subject; pass only the requesting subject's records"
            }
            CADUCEUS_AUDIT_INVALID_EVENT => {
                "the audit event is invalid: labels and pseudonyms only; see caduceus_last_error"
            }
            CADUCEUS_AUDIT_MALFORMED_ENTRY => "the audit entry is malformed or too large",
            CADUCEUS_AUDIT_OUT_OF_RANGE => "leaf index or tree size outside the tree",
            CADUCEUS_AUDIT_BAD_PROOF => "the Merkle proof does not verify",
            CADUCEUS_AUDIT_MALFORMED_CHECKPOINT => "the checkpoint or signed note is malformed",
            CADUCEUS_AUDIT_MALFORMED_KEY => "the audit, signer or verifier key text is malformed",
            CADUCEUS_AUDIT_BAD_SIGNATURE => {
                "the signature does not verify or no trusted key signed the note"
            }
            CADUCEUS_AUDIT_LOG_FULL => "the audit log has reached its maximum size",
            CADUCEUS_AUDIT_INVALID_LOG => {
                "the entries do not form a valid log; see caduceus_last_error for the first bad index"
            }
            CADUCEUS_WHATSAPP_NO_SECRETS => {
                "no app secret (or an empty one) was given; pass the app secret from the Meta App Dashboard"
            }
            CADUCEUS_WHATSAPP_BODY_TOO_LARGE => {
                "the webhook body is larger than 3 MiB; refuse the request (HTTP 413)"
            }
            CADUCEUS_WHATSAPP_SIGNATURE_MISSING => {
                "the request has no X-Hub-Signature-256 header; refuse it (HTTP 401)"
            }
            CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED => {
                "the X-Hub-Signature-256 header is not 'sha256=' and 64 hex digits; refuse the request (HTTP 400)"
            }
            CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH => {
                "the webhook signature matches no app secret; refuse the request (HTTP 401) and \
                 hash the body exactly as received"
            }
            CADUCEUS_WHATSAPP_NO_VERIFY_TOKEN => {
                "no verify token is configured; set the one entered in the Meta App Dashboard"
            }
            CADUCEUS_WHATSAPP_SUBSCRIPTION_MODE => {
                "hub.mode is not 'subscribe'; refuse the request (HTTP 403)"
            }
            CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN => {
                "hub.verify_token does not match the configured verify token; refuse the request (HTTP 403)"
            }
            CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE => {
                "hub.challenge is not 1 to 256 characters of A-Z a-z 0-9 . _ -; refuse the request (HTTP 400)"
            }
            CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED => {
                "the webhook body is not a WhatsApp Business Account webhook of the documented shape; \
                 refuse it (HTTP 400) and keep the raw bytes for review"
            }
            CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP => {
                "the webhook body nests arrays and objects too deeply; refuse it (HTTP 400)"
            }
            CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS => {
                "the webhook body holds more updates than the limit; refuse it (HTTP 400) or raise max_events"
            }
            CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE => {
                "the index is past the end; use an index below the count"
            }
            CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED => {
                "the intake's privacy notice is not registered in the consent ledger; register it first"
            }
            CADUCEUS_WHATSAPP_INTAKE_CONFIG => {
                "the intake configuration does not fit; see caduceus_last_error"
            }
            CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED => {
                "the identity map text is damaged (a malformed line, or an alias linked to two \
                 subjects); restore it from a backup"
            }
            CADUCEUS_WHATSAPP_IDENTITIES_TORN => {
                "the identity map text ends inside a line (an interrupted append); remove that last line"
            }
            CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED => {
                "the outbound state text has a malformed line; see caduceus_last_error for its number"
            }
            CADUCEUS_WHATSAPP_NOT_IN_DECISION => {
                "the decision has no such part; check the decision's kind first"
            }
            CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH => {
                "the downloaded media does not match the SHA-256 the webhook announced; discard \
                 what was written and fetch the media again"
            }
            CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE => {
                "the media is larger than its kind allows; stop the download and discard what was written"
            }
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
            KeyError::InvalidKeyText(_) | KeyError::NonCanonicalPublicKey => CADUCEUS_INVALID_KEY,
            KeyError::WrongKeyKind { .. } => CADUCEUS_WRONG_KEY_KIND,
            KeyError::KeyShredded | KeyError::AlreadyShredded => CADUCEUS_KEY_SHREDDED,
            KeyError::NoAccess => CADUCEUS_NO_ACCESS,
            KeyError::MalformedRecord(_) | KeyError::RecordMismatch | KeyError::WrapCorrupted => {
                CADUCEUS_MALFORMED_RECORD
            }
            KeyError::UnsupportedVersion(_) | KeyError::UnsupportedSuite(_) => {
                CADUCEUS_UNSUPPORTED_VERSION
            }
            KeyError::LastRecipient | KeyError::LastPracticeRecipient => CADUCEUS_LAST_RECIPIENT,
            KeyError::NotARecipient => CADUCEUS_NOT_A_RECIPIENT,
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
            EnvelopeError::NotARecipient => CADUCEUS_NOT_A_RECIPIENT,
            EnvelopeError::LastPracticeRecipient => CADUCEUS_LAST_RECIPIENT,
            EnvelopeError::KeyShredded => CADUCEUS_KEY_SHREDDED,
            EnvelopeError::Keyring(k) => k.into(),
            EnvelopeError::StanzaCorrupted | EnvelopeError::HeaderMacMismatch => {
                CADUCEUS_HEADER_CORRUPTED
            }
            EnvelopeError::SegmentCorrupted { .. } => CADUCEUS_SEGMENT_CORRUPTED,
            EnvelopeError::SegmentOutOfRange => CADUCEUS_SEGMENT_OUT_OF_RANGE,
            EnvelopeError::InputTooLarge => CADUCEUS_INPUT_TOO_LARGE,
            EnvelopeError::PartSet(_) => CADUCEUS_PART_SET,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<ConsentError> for caduceus_result {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::InvalidLabel(_)
            | ConsentError::TimeOutOfRange(_)
            | ConsentError::NoPurposes(_)
            | ConsentError::DuplicatePurpose { .. }
            | ConsentError::TooManyPurposes(_)
            | ConsentError::InvalidExpiry(_)
            | ConsentError::NoticeRequired(_) => CADUCEUS_CONSENT_INVALID_EVENT,
            ConsentError::UnknownPurpose(_) => CADUCEUS_CONSENT_UNKNOWN_PURPOSE,
            ConsentError::InvalidSubject(_) => CADUCEUS_INVALID_IDENTIFIER,
            ConsentError::DuplicateEventId(_) => CADUCEUS_CONSENT_DUPLICATE_EVENT,
            ConsentError::OutOfOrder { .. } => CADUCEUS_CONSENT_OUT_OF_ORDER,
            ConsentError::InFuture { .. } => CADUCEUS_CONSENT_IN_FUTURE,
            ConsentError::WithoutPriorConsent { .. } => CADUCEUS_CONSENT_WITHOUT_PRIOR_CONSENT,
            ConsentError::UnknownNotice { .. } => CADUCEUS_CONSENT_UNKNOWN_NOTICE,
            ConsentError::DuplicateNotice { .. } | ConsentError::NoticeAlreadyRetired { .. } => {
                CADUCEUS_CONSENT_DUPLICATE_NOTICE
            }
            ConsentError::InvalidNoticeText | ConsentError::InvalidLanguage => {
                CADUCEUS_CONSENT_INVALID_NOTICE
            }
            ConsentError::InvalidPolicy(_) => CADUCEUS_CONSENT_INVALID_POLICY,
            ConsentError::MalformedEvent(_)
            | ConsentError::MalformedLedger(_)
            | ConsentError::InvalidEntry { .. } => CADUCEUS_CONSENT_MALFORMED_LEDGER,
            ConsentError::UnsupportedVersion(_) => CADUCEUS_UNSUPPORTED_VERSION,
            ConsentError::LedgerFull => CADUCEUS_CONSENT_LEDGER_FULL,
            ConsentError::TornTail { .. } => CADUCEUS_CONSENT_TORN_TAIL,
            ConsentError::SaveOutOfOrder => CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER,
            ConsentError::NotHeld => CADUCEUS_CONSENT_NOT_HELD,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<PolicyError> for caduceus_result {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Syntax { .. } => CADUCEUS_POLICY_SYNTAX,
            PolicyError::Invalid { .. } => CADUCEUS_POLICY_INVALID,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<RecordsError> for caduceus_result {
    fn from(_: RecordsError) -> Self {
        CADUCEUS_POLICY_BAD_RECORDS
    }
}

impl From<PlanError> for caduceus_result {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::BadSubject => CADUCEUS_POLICY_BAD_SUBJECT,
            PlanError::OtherSubject(_) => CADUCEUS_POLICY_OTHER_SUBJECT,
            PlanError::UnknownCategory(_) => CADUCEUS_POLICY_UNKNOWN_CATEGORY,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<AccessError> for caduceus_result {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::UnknownRole(_) => CADUCEUS_POLICY_UNKNOWN_ROLE,
            AccessError::UnknownCategory(_) => CADUCEUS_POLICY_UNKNOWN_CATEGORY,
            AccessError::BadSubject => CADUCEUS_POLICY_BAD_SUBJECT,
            AccessError::OtherSubject(_) => CADUCEUS_POLICY_OTHER_SUBJECT,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<caduceus_core::pseudonym::IdentifierError> for caduceus_result {
    fn from(_: caduceus_core::pseudonym::IdentifierError) -> Self {
        CADUCEUS_INVALID_IDENTIFIER
    }
}

impl From<AuditError> for caduceus_result {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::InvalidIdentifier(_) => CADUCEUS_INVALID_IDENTIFIER,
            AuditError::InvalidField(_)
            | AuditError::InvalidPseudonym
            | AuditError::InvalidTime => CADUCEUS_AUDIT_INVALID_EVENT,
            AuditError::MalformedEntry(_)
            | AuditError::MalformedBody { .. }
            | AuditError::EntryTooLarge => CADUCEUS_AUDIT_MALFORMED_ENTRY,
            AuditError::UnsupportedVersion(_) => CADUCEUS_UNSUPPORTED_VERSION,
            AuditError::IndexOutOfRange { .. }
            | AuditError::SizeOutOfRange { .. }
            | AuditError::MissingHash { .. } => CADUCEUS_AUDIT_OUT_OF_RANGE,
            AuditError::BadProof | AuditError::BadCompactRange | AuditError::ResumeMismatch(_) => {
                CADUCEUS_AUDIT_BAD_PROOF
            }
            AuditError::MalformedCheckpoint(_) | AuditError::MalformedNote(_) => {
                CADUCEUS_AUDIT_MALFORMED_CHECKPOINT
            }
            AuditError::MalformedKey(_) | AuditError::MalformedAuditKey => {
                CADUCEUS_AUDIT_MALFORMED_KEY
            }
            AuditError::BadSignature(_) | AuditError::UnverifiedNote => {
                CADUCEUS_AUDIT_BAD_SIGNATURE
            }
            AuditError::LogFull => CADUCEUS_AUDIT_LOG_FULL,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<LogFault> for caduceus_result {
    fn from(_: LogFault) -> Self {
        CADUCEUS_AUDIT_INVALID_LOG
    }
}

impl From<SignatureError> for caduceus_result {
    fn from(e: SignatureError) -> Self {
        match e {
            SignatureError::NoSecrets | SignatureError::EmptySecret => CADUCEUS_WHATSAPP_NO_SECRETS,
            SignatureError::BodyTooLarge => CADUCEUS_WHATSAPP_BODY_TOO_LARGE,
            SignatureError::Missing => CADUCEUS_WHATSAPP_SIGNATURE_MISSING,
            SignatureError::Malformed => CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED,
            SignatureError::Mismatch => CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<SubscriptionError> for caduceus_result {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::NoVerifyToken => CADUCEUS_WHATSAPP_NO_VERIFY_TOKEN,
            SubscriptionError::Mode => CADUCEUS_WHATSAPP_SUBSCRIPTION_MODE,
            SubscriptionError::Token => CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN,
            SubscriptionError::Challenge => CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<ParseError> for caduceus_result {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::BodyTooLarge { .. } => CADUCEUS_WHATSAPP_BODY_TOO_LARGE,
            ParseError::TooDeep { .. } => CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP,
            ParseError::TooManyEvents { .. } => CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS,
            ParseError::Json { .. } | ParseError::NotWhatsApp | ParseError::Shape(_) => {
                CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED
            }
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<IntakeError> for caduceus_result {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Config(_) => CADUCEUS_WHATSAPP_INTAKE_CONFIG,
            IntakeError::NoticeNotRegistered => CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED,
            IntakeError::Access(e) => e.into(),
            IntakeError::Envelope(e) => e.into(),
            IntakeError::Keyring(e) => e.into(),
            IntakeError::Consent(e) => e.into(),
            IntakeError::Audit(e) => e.into(),
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<IdentityError> for caduceus_result {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::TornLine => CADUCEUS_WHATSAPP_IDENTITIES_TORN,
            IdentityError::MalformedLine { .. }
            | IdentityError::Conflict { .. }
            | IdentityError::AliasTaken => CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED,
            _ => CADUCEUS_INTERNAL,
        }
    }
}

impl From<OutboundStateError> for caduceus_result {
    fn from(e: OutboundStateError) -> Self {
        match e {
            OutboundStateError::MalformedLine { .. } => CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED,
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
        assert_eq!(CADUCEUS_WHATSAPP_NO_SECRETS as u32, 600);
        assert_eq!(CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH as u32, 604);
        assert_eq!(CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE as u32, 608);
        assert_eq!(CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED as u32, 609);
        assert_eq!(CADUCEUS_WHATSAPP_NOT_IN_DECISION as u32, 618);
    }

    #[test]
    fn whatsapp_core_errors_map_to_their_codes() {
        assert_eq!(
            caduceus_result::from(ParseError::BodyTooLarge { limit: 1 }),
            CADUCEUS_WHATSAPP_BODY_TOO_LARGE
        );
        assert_eq!(
            caduceus_result::from(ParseError::TooDeep { limit: 1 }),
            CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP
        );
        assert_eq!(
            caduceus_result::from(ParseError::TooManyEvents { limit: 1 }),
            CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS
        );
        for e in [
            ParseError::Json { line: 1, column: 1 },
            ParseError::NotWhatsApp,
            ParseError::Shape("x"),
        ] {
            assert_eq!(
                caduceus_result::from(e),
                CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED
            );
        }
        assert_eq!(
            caduceus_result::from(IntakeError::NoticeNotRegistered),
            CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED
        );
        assert_eq!(
            caduceus_result::from(IntakeError::Config("x".into())),
            CADUCEUS_WHATSAPP_INTAKE_CONFIG
        );
        assert_eq!(
            caduceus_result::from(IntakeError::Access(AccessError::UnknownRole("x".into()))),
            CADUCEUS_POLICY_UNKNOWN_ROLE
        );
        assert_eq!(
            caduceus_result::from(IdentityError::TornLine),
            CADUCEUS_WHATSAPP_IDENTITIES_TORN
        );
        assert_eq!(
            caduceus_result::from(IdentityError::Conflict { line: 2 }),
            CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED
        );
        assert_eq!(
            caduceus_result::from(OutboundStateError::MalformedLine { line: 1 }),
            CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED
        );
    }
}
