//! C ABI of `caduceus_core::consent`: the consent ledger.
//!
//! A `caduceus_consent_ledger` holds a consent policy, the registered
//! privacy notices and the append-only list of consent events
//! (docs/CONSENT.md). Events are recorded from JSON (schema at
//! [`caduceus_consent_record`]); decisions, histories and exports come back
//! as JSON text in a `caduceus_bytes`, with typed out-parameters for what a
//! host branches on (`allowed`, `recorded`, the event's sequence number and
//! SHA-256).
//!
//! Every call that fails leaves the ledger unchanged.
//!
//! The JSON of this module uses snake_case keys; times are Unix seconds
//! (integers, UTC); hashes are lowercase hex.

use std::ffi::c_char;

use caduceus_core::consent::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Decision, Ledger,
    LedgerReader, NoticeRef, OptOutEvent, OptOutOutcome, OptOutRequest, RecordedEvent,
};
use serde_json::{Map, Value, json};

use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_mut, read_handle_out,
    set_last_error, slice, slice_of, text, text_array, write_handle, write_out,
};
use crate::bytes::caduceus_bytes;
use crate::result::caduceus_result::{self, *};

/// A consent ledger (opaque). Create it with [`caduceus_consent_ledger_new`],
/// [`caduceus_consent_ledger_new_with_policy`] or
/// [`caduceus_consent_ledger_from_bytes`]; free it with
/// [`caduceus_consent_ledger_free`].
///
/// Thread safety: calls taking a `const caduceus_consent_ledger *`
/// (decide, history, exports, to_bytes) may run concurrently from several
/// threads; calls taking a non-const pointer (register, retire, record,
/// opt-out) need exclusive access: no other call on the same ledger at the
/// same time. The handle may be moved between threads.
#[allow(non_camel_case_types)]
pub struct caduceus_consent_ledger(pub(crate) Ledger);

impl caduceus_consent_ledger {
    /// The ledger.
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the consent, policy and audit modules.

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Parse exactly 64 hex digits (either case).
pub(crate) fn unhex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// An invalid argument with a fixed detail (never personal data).
pub(crate) fn invalid(detail: impl Into<String>) -> caduceus_result {
    set_last_error(detail);
    CADUCEUS_INVALID_ARGUMENT
}

/// Parse JSON text; the error detail names only the position and the kind
/// of error, never the input.
pub(crate) fn parse_json(text: &str, what: &str) -> Result<Value, caduceus_result> {
    serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "{what}: not valid JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// The JSON object `v`, with only the keys in `allowed`.
pub(crate) fn object<'a>(
    v: &'a Value,
    what: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, caduceus_result> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(format!("{what}: expected a JSON object")))?;
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            let shown: String = k.chars().take(32).collect();
            return Err(invalid(format!(
                "{what}: unknown key '{shown}'; allowed keys: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(obj)
}

/// A required string member.
pub(crate) fn get_str<'a>(
    obj: &'a Map<String, Value>,
    what: &str,
    key: &str,
) -> Result<&'a str, caduceus_result> {
    opt_str(obj, what, key)?
        .ok_or_else(|| invalid(format!("{what}: '{key}' (a string) is required")))
}

/// An optional string member (absent or null: `None`).
pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    what: &str,
    key: &str,
) -> Result<Option<&'a str>, caduceus_result> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{what}: '{key}' must be a string"))),
    }
}

/// An optional integer member (absent or null: `None`).
pub(crate) fn opt_i64(
    obj: &Map<String, Value>,
    what: &str,
    key: &str,
) -> Result<Option<i64>, caduceus_result> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{what}: '{key}' must be an integer"))),
    }
}

/// A required integer member.
pub(crate) fn get_i64(
    obj: &Map<String, Value>,
    what: &str,
    key: &str,
) -> Result<i64, caduceus_result> {
    opt_i64(obj, what, key)?
        .ok_or_else(|| invalid(format!("{what}: '{key}' (an integer) is required")))
}

/// Borrow an array of `count` byte buffers `(ptrs[i], lens[i])`.
///
/// # Safety
/// `ptrs` and `lens` NULL only if `count` is 0; otherwise each valid for
/// `count` reads, and each `(ptrs[i], lens[i])` a valid buffer (or NULL
/// with length 0).
#[allow(unsafe_code)]
pub(crate) unsafe fn buffers<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    count: usize,
) -> Result<Vec<&'a [u8]>, caduceus_result> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptrs.is_null() || lens.is_null() {
        set_last_error("an array pointer was NULL with a non-zero count");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    // SAFETY: both non-NULL, valid for `count` elements per the caller's
    // contract; `slice_of` bounds the count.
    let (ptrs, lens) = unsafe { (slice_of(ptrs, count)?, slice_of(lens, count)?) };
    ptrs.iter()
        .zip(lens)
        // SAFETY: each buffer valid for its length per the caller's contract.
        .map(|(p, n)| unsafe { slice(*p, *n) })
        .collect()
}

/// Write an optional out-parameter (skipped when `out` is NULL).
///
/// # Safety
/// `out` NULL or valid for a write of `T`.
#[allow(unsafe_code)]
pub(crate) unsafe fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL, valid per the caller's contract.
        unsafe { write_out(out, value) }
    }
}

/// Write an optional `caduceus_bytes` out-parameter with JSON or text.
///
/// # Safety
/// `out` NULL or valid for a write of a pointer.
#[allow(unsafe_code)]
pub(crate) unsafe fn write_opt_text(out: *mut *mut caduceus_bytes, text: String) {
    if !out.is_null() {
        // SAFETY: non-NULL, valid per the caller's contract.
        unsafe { write_handle(out, caduceus_bytes::text(text)) }
    }
}

/// Write a required `caduceus_bytes` out-parameter (checked with
/// `check_out` before).
///
/// # Safety
/// `out` non-NULL and valid for a write of a pointer.
#[allow(unsafe_code)]
pub(crate) unsafe fn write_text_out(out: *mut *mut caduceus_bytes, text: String) {
    // SAFETY: forwarded.
    unsafe { write_handle(out, caduceus_bytes::text(text)) }
}

// ---------------------------------------------------------------------------
// JSON of decisions and events.

fn decision_value(subject: &str, purpose: &str, d: &Decision) -> Value {
    let mut v = json!({"subject": subject, "purpose": purpose, "allowed": d.allowed});
    if let Some(obj) = v.as_object_mut() {
        if let Some(b) = d.basis {
            obj.insert("art6".into(), b.art6.code().into());
            let mut basis = b.art6.article().to_owned();
            if let Some(c) = b.art9 {
                obj.insert("art9".into(), c.code().into());
                basis.push_str(" + ");
                basis.push_str(c.article());
            }
            obj.insert("basis".into(), basis.into());
        }
        if let Some(e) = d.event {
            obj.insert("event_seq".into(), e.seq.into());
            obj.insert("event_sha256".into(), hex(&e.hash).into());
        }
        if let Some(r) = d.refusal {
            obj.insert("reason".into(), r.code().into());
            if let Some(t) = r.at() {
                obj.insert("reason_at".into(), t.into());
            }
        }
    }
    v
}

fn notice_value(n: &NoticeRef) -> Value {
    json!({"id": n.id, "version": n.version, "language": n.language, "sha256": hex(&n.sha256)})
}

fn event_value(r: &RecordedEvent) -> Value {
    let e = &r.event;
    let mut v = json!({
        "seq": r.event_ref.seq,
        "sha256": hex(&r.event_ref.hash),
        "id": e.id,
        "subject": e.subject,
        "purposes": e.purposes,
        "status": e.status.code(),
        "method": e.method.code(),
        "channel": e.channel,
        "recorded_by": e.recorded_by,
        "time": e.time,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(n) = &e.notice {
            obj.insert("notice".into(), notice_value(n));
        }
        if let Some(ev) = &e.evidence {
            obj.insert("evidence".into(), ev.clone().into());
        }
        if let Some(x) = e.expires_at {
            obj.insert("expires_at".into(), x.into());
        }
    }
    v
}

const EVENT_KEYS: &[&str] = &[
    "id",
    "subject",
    "purposes",
    "status",
    "method",
    "notice",
    "channel",
    "evidence",
    "recorded_by",
    "time",
    "expires_at",
];

fn parse_event(ledger: &Ledger, json_text: &str) -> Result<ConsentEvent, caduceus_result> {
    const W: &str = "consent event JSON";
    let v = parse_json(json_text, W)?;
    let obj = object(&v, W, EVENT_KEYS)?;
    let purposes = match obj.get("purposes") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{W}: 'purposes' must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(invalid(format!(
                "{W}: 'purposes' (an array of strings) is required"
            )));
        }
    };
    let status = ConsentStatus::from_code(get_str(obj, W, "status")?).ok_or_else(|| {
        invalid(format!(
            "{W}: 'status' must be one of given, refused, withdrawn, expired, renewed"
        ))
    })?;
    let method = ConsentMethod::from_code(get_str(obj, W, "method")?).ok_or_else(|| {
        invalid(format!(
            "{W}: 'method' must be one of qr-reception, anamnesis-form, chat-reply, in-person-documented, other"
        ))
    })?;
    let notice = match obj.get("notice") {
        None | Some(Value::Null) => None,
        Some(n) => {
            const N: &str = "consent event JSON 'notice'";
            let n = object(n, N, &["id", "version", "language", "sha256"])?;
            let id = get_str(n, N, "id")?;
            let version = u32::try_from(get_i64(n, N, "version")?)
                .map_err(|_| invalid(format!("{N}: 'version' must be 0 to 4294967295")))?;
            let language = get_str(n, N, "language")?;
            let sha256 = match opt_str(n, N, "sha256")? {
                Some(h) => unhex32(h)
                    .ok_or_else(|| invalid(format!("{N}: 'sha256' must be 64 hex digits")))?,
                None => ledger
                    .notices()
                    .iter()
                    .find(|x| x.id == id && x.version == version && x.language == language)
                    .map(|x| x.reference().sha256)
                    .ok_or_else(|| {
                        set_last_error(format!(
                            "notice '{}' version {version} is not registered; register it first",
                            id.chars().take(64).collect::<String>()
                        ));
                        CADUCEUS_CONSENT_UNKNOWN_NOTICE
                    })?,
            };
            Some(NoticeRef {
                id: id.to_owned(),
                version,
                language: language.to_owned(),
                sha256,
            })
        }
    };
    Ok(ConsentEvent {
        id: get_str(obj, W, "id")?.to_owned(),
        subject: get_str(obj, W, "subject")?.to_owned(),
        purposes,
        status,
        method,
        notice,
        channel: get_str(obj, W, "channel")?.to_owned(),
        evidence: opt_str(obj, W, "evidence")?.map(str::to_owned),
        recorded_by: get_str(obj, W, "recorded_by")?.to_owned(),
        time: get_i64(obj, W, "time")?,
        expires_at: opt_i64(obj, W, "expires_at")?,
    })
}

// ---------------------------------------------------------------------------
// Ledger lifecycle.

/// Create an empty consent ledger under the default consent policy (four
/// purposes: `treatment-communication`, `clinical-photos`, `recall`,
/// `marketing`; STOP stops `recall` and `marketing`; the default opt-out
/// phrases of docs/CONSENT.md 6.1; clock skew 300 s).
/// Free it with [`caduceus_consent_ledger_free`].
///
/// # Safety
/// `out` must be valid for a write of a pointer.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_new(
    out: *mut *mut caduceus_consent_ledger,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        let ledger = Ledger::new(ConsentPolicy::default()).map_err(fail)?;
        // SAFETY: `out` checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_consent_ledger(ledger)) };
        Ok(())
    })
}

/// Create an empty consent ledger under a consent policy given as TOML
/// (docs/CONSENT.md, section 2). An invalid policy gives
/// `CADUCEUS_CONSENT_INVALID_POLICY` with the reason in the last error.
///
/// # Safety
/// `policy_toml` must be a NUL-terminated string; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_new_with_policy(
    policy_toml: *const c_char,
    out: *mut *mut caduceus_consent_ledger,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let toml = unsafe { text(policy_toml)? };
        let policy = ConsentPolicy::from_toml(toml).map_err(fail)?;
        let ledger = Ledger::new(policy).map_err(fail)?;
        // SAFETY: `out` checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_consent_ledger(ledger)) };
        Ok(())
    })
}

/// Load a ledger from its file bytes (written by
/// [`caduceus_consent_ledger_to_bytes`] and
/// [`caduceus_consent_ledger_unsaved`]; version 1 files are read too). The
/// file is checked strictly (magic, version, every entry's chain hash, every
/// entry replayed and validated): modified bytes give
/// `CADUCEUS_CONSENT_MALFORMED_LEDGER`, a file that ends inside an entry (an
/// interrupted append) `CADUCEUS_CONSENT_TORN_TAIL` (repair it with
/// [`caduceus_consent_ledger_from_bytes_repairing`]), an unknown version
/// `CADUCEUS_UNSUPPORTED_VERSION`.
///
/// # Safety
/// `data` valid for `len` bytes (NULL only with `len` 0); `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_from_bytes(
    data: *const u8,
    len: usize,
    out: *mut *mut caduceus_consent_ledger,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: valid for `len` bytes per the caller's contract.
        let bytes = unsafe { slice(data, len)? };
        let ledger = Ledger::from_bytes(bytes).map_err(fail)?;
        // SAFETY: `out` checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_consent_ledger(ledger)) };
        Ok(())
    })
}

/// As [`caduceus_consent_ledger_from_bytes`], but a file that ends inside an
/// entry (what a crash during an append leaves) loads with every complete
/// entry, and `*keep_len` receives the length to cut the file to (equal to
/// `len` when nothing is torn). Nothing else is ever cut: a damaged complete
/// entry still gives `CADUCEUS_CONSENT_MALFORMED_LEDGER`.
///
/// # Safety
/// `data` valid for `len` bytes (NULL only with `len` 0); `out` and
/// `keep_len` valid for writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_from_bytes_repairing(
    data: *const u8,
    len: usize,
    out: *mut *mut caduceus_consent_ledger,
    keep_len: *mut u64,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        check_out(keep_len)?;
        // SAFETY: valid for `len` bytes per the caller's contract.
        let bytes = unsafe { slice(data, len)? };
        let mut reader = LedgerReader::new();
        reader.feed(bytes).map_err(fail)?;
        let (ledger, torn) = reader.finish_repairing().map_err(fail)?;
        let keep = torn.map_or(len as u64, |t| t.keep_len);
        // SAFETY: both checked non-NULL; valid per the caller's contract.
        unsafe {
            write_out(keep_len, keep);
            write_handle(out, caduceus_consent_ledger(ledger));
        }
        Ok(())
    })
}

/// What the host must write to its ledger file to save the ledger
/// (docs/CONSENT.md, section 5.1): with `*append` true, bytes to append to
/// the end of the existing file (whole or not at all: cut the file back on
/// a failed write); with `*append` false, a whole new file to write beside
/// the old one and rename over it (a new ledger, or one read from a
/// version-1 file). Appending costs the same whatever the ledger's size.
/// Once the bytes are durably written, call
/// [`caduceus_consent_ledger_mark_saved`] with them.
///
/// # Safety
/// `ledger` a live ledger; `out` and `append` valid for writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_unsaved(
    ledger: *const caduceus_consent_ledger,
    out: *mut *mut caduceus_bytes,
    append: *mut bool,
) -> caduceus_result {
    guard(|| {
        check_out(append)?;
        // SAFETY: forwarded caller contract.
        let l = unsafe { handle(ledger)? };
        check_out(out)?;
        let save = l.0.unsaved();
        // SAFETY: both checked non-NULL; valid per the caller's contract.
        unsafe {
            write_out(append, save.is_append());
            write_handle(out, caduceus_bytes::new(save.bytes().to_vec()));
        }
        Ok(())
    })
}

/// Record that the bytes from [`caduceus_consent_ledger_unsaved`] are
/// durably written: pass them back with the same `append` flag. Refused with
/// `CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER` (and nothing marked) when they are
/// not what the ledger has left to save (an older save, or the ledger
/// changed since: call `_unsaved` again and write what it returns).
///
/// # Safety
/// `ledger` a live ledger without concurrent use; `data` valid for `len`
/// bytes (NULL only with `len` 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_mark_saved(
    ledger: *mut caduceus_consent_ledger,
    data: *const u8,
    len: usize,
    append: bool,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let l = unsafe { handle_mut(ledger)? };
        // SAFETY: valid for `len` bytes per the caller's contract.
        let written = unsafe { slice(data, len)? };
        let save = l.0.unsaved();
        if save.bytes() != written || save.is_append() != append {
            return Err(fail(ConsentError::SaveOutOfOrder));
        }
        l.0.mark_saved(&save).map_err(fail)
    })
}

/// The ledger as one whole file (docs/CONSENT.md, section 5): policy, then
/// notices, retirements and events in the order they were added, each entry
/// hash-chained. Store them; reload with
/// [`caduceus_consent_ledger_from_bytes`]. To save changes by appending,
/// use [`caduceus_consent_ledger_unsaved`]. A ledger read with a scope
/// (`caduceus_consent_ledger_reader_hold_subject`) holds only part of the
/// file: `CADUCEUS_CONSENT_NOT_HELD`.
///
/// # Safety
/// `ledger` a live ledger; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_to_bytes(
    ledger: *const caduceus_consent_ledger,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(ledger, out, |l| {
                let bytes = l.0.to_bytes().map_err(fail)?;
                Ok(caduceus_bytes::new(bytes))
            })
        }
    })
}

/// The number of events and of distinct subjects in the ledger.
///
/// # Safety
/// `ledger` a live ledger; `events` and `subjects` valid for writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_counts(
    ledger: *const caduceus_consent_ledger,
    events: *mut u64,
    subjects: *mut u64,
) -> caduceus_result {
    guard(|| {
        check_out(events)?;
        check_out(subjects)?;
        // SAFETY: a live handle per the caller's contract.
        let l = unsafe { handle(ledger)? };
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_out(events, l.0.len() as u64);
            write_out(subjects, l.0.subject_count() as u64);
        }
        Ok(())
    })
}

/// Free a ledger. NULL is a no-op.
///
/// # Safety
/// `ledger` NULL or a live ledger, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_free(ledger: *mut caduceus_consent_ledger) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(ledger) }
    })
}

// ---------------------------------------------------------------------------
// Notices.

/// Register the exact text of a privacy notice: id (1 to 128 printable
/// ASCII), version, language tag (e.g. "de") and the UTF-8 text shown to
/// patients (1 byte to 64 KiB). `at` is the registration time, `now` the
/// caller's clock (Unix seconds; `at` may lie at most the policy's clock
/// skew after `now`). Consent events then refer to the notice by id,
/// version and language (see [`caduceus_consent_record`]).
///
/// `notice_json_or_null` (optional) receives the reference
/// `{"id": string, "version": integer, "language": string, "sha256": hex}`.
///
/// # Safety
/// `ledger` a live ledger used by no other thread; the strings
/// NUL-terminated; `notice_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_register_notice(
    ledger: *mut caduceus_consent_ledger,
    id: *const c_char,
    version: u32,
    language: *const c_char,
    notice_text: *const c_char,
    at: i64,
    now: i64,
    notice_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (l, id, language, notice_text) = unsafe {
            (
                handle_mut(ledger)?,
                text(id)?,
                text(language)?,
                text(notice_text)?,
            )
        };
        let r =
            l.0.register_notice(id, version, language, notice_text, at, now)
                .map_err(fail)?;
        // SAFETY: NULL or valid per the caller's contract.
        unsafe { write_opt_text(notice_json_or_null, notice_value(&r).to_string()) };
        Ok(())
    })
}

/// Retire a notice version (every language): consents given under it stop
/// counting from `at` on (decision reason `notice-retired`). Unknown
/// notices give `CADUCEUS_CONSENT_UNKNOWN_NOTICE`, a second retirement
/// `CADUCEUS_CONSENT_DUPLICATE_NOTICE`.
///
/// # Safety
/// `ledger` a live ledger used by no other thread; `id` NUL-terminated.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_retire_notice(
    ledger: *mut caduceus_consent_ledger,
    id: *const c_char,
    version: u32,
    at: i64,
    now: i64,
) -> caduceus_result {
    guard(|| {
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, id) = unsafe { (handle_mut(ledger)?, text(id)?) };
        l.0.retire_notice(id, version, at, now).map_err(fail)
    })
}

// ---------------------------------------------------------------------------
// Events and decisions.

/// Record one consent event, given as JSON, after validating it against the
/// policy, the notices and the subject's history. `now` is the caller's
/// clock (Unix seconds).
///
/// Event JSON schema (an object; unknown keys are refused):
///
/// ```text
/// {
///   "id":          string, unique event id (label: 1-128 printable ASCII),
///   "subject":     string, the patient's pseudonym (label; never a name),
///   "purposes":    [string, ...], 1 to 16 distinct purpose ids of the policy,
///   "status":      "given" | "refused" | "withdrawn" | "expired" | "renewed",
///   "method":      "qr-reception" | "anamnesis-form" | "chat-reply"
///                  | "in-person-documented" | "other",
///   "notice":      {"id": string, "version": integer, "language": string,
///                   "sha256": hex (optional: looked up among the registered
///                   notices when absent)}  -- required for given/renewed,
///   "channel":     string (label), e.g. "whatsapp", "reception-qr",
///   "evidence":    string (label, optional), e.g. a WhatsApp message id,
///   "recorded_by": string (label), the staff or system pseudonym,
///   "time":        integer, Unix seconds,
///   "expires_at":  integer, Unix seconds (optional; given/renewed only)
/// }
/// ```
///
/// On success `seq_or_null` (optional) receives the event's sequence number
/// and `sha256_or_null` (optional, 32 bytes) its SHA-256, the reference an
/// audit entry holds. Malformed JSON gives `CADUCEUS_INVALID_ARGUMENT`;
/// validation failures the consent codes (300-311).
///
/// # Safety
/// `ledger` a live ledger used by no other thread; `event_json`
/// NUL-terminated; `seq_or_null` NULL or valid for a write;
/// `sha256_or_null` NULL or valid for 32 bytes of writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_record(
    ledger: *mut caduceus_consent_ledger,
    event_json: *const c_char,
    now: i64,
    seq_or_null: *mut u64,
    sha256_or_null: *mut u8,
) -> caduceus_result {
    guard(|| {
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, event_json) = unsafe { (handle_mut(ledger)?, text(event_json)?) };
        let event = parse_event(&l.0, event_json)?;
        let r = l.0.append(event, now).map_err(fail)?;
        // SAFETY: NULL or valid per the caller's contract (32 bytes for the hash).
        unsafe {
            write_opt(seq_or_null, r.seq);
            if !sha256_or_null.is_null() {
                std::ptr::copy_nonoverlapping(r.hash.as_ptr(), sha256_or_null, 32);
            }
        }
        Ok(())
    })
}

/// Handle a chat reply that may be an opt-out phrase: the whole message,
/// with case, white space, punctuation and emoji ignored, equals one of the
/// policy's keywords (default: STOP, STOPP, BITTE STOPP, ABMELDEN,
/// ABBESTELLEN, KEINE NACHRICHTEN MEHR, UNSUBSCRIBE, ...; docs/CONSENT.md,
/// section 6.1). If it is, every purpose that stops on STOP (recall,
/// marketing, and those the policy marks) is stopped and the reply is always
/// recorded, method `chat-reply`, `message_id` as evidence: a `withdrawn`
/// event for the purposes with consent in effect (id `event_id`) and a
/// `refused` event, the objection, for the others (id `event_id`, or
/// `event_id` + `-objection` when both are recorded). The reply text is
/// compared, never stored.
///
/// `recorded` receives true if an event was recorded. The optional
/// `outcome_json_or_null` receives
/// `{"outcome": "stopped" | "not-opt-out",
///   "withdrawal": null | {"purposes": [string], "event_seq": integer, "event_sha256": hex},
///   "objection":  null | {"purposes": [string], "event_seq": integer, "event_sha256": hex}}`
/// (`withdrawal` and `objection` only for `stopped`).
///
/// # Safety
/// `ledger` a live ledger used by no other thread; every string
/// NUL-terminated; `recorded` valid for a write; `outcome_json_or_null`
/// NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_consent_opt_out(
    ledger: *mut caduceus_consent_ledger,
    event_id: *const c_char,
    subject: *const c_char,
    reply: *const c_char,
    message_id: *const c_char,
    channel: *const c_char,
    recorded_by: *const c_char,
    time: i64,
    now: i64,
    recorded: *mut bool,
    outcome_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(recorded)?;
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (l, event_id, subject, reply, message_id, channel, recorded_by) = unsafe {
            (
                handle_mut(ledger)?,
                text(event_id)?,
                text(subject)?,
                text(reply)?,
                text(message_id)?,
                text(channel)?,
                text(recorded_by)?,
            )
        };
        let req = OptOutRequest {
            event_id: event_id.to_owned(),
            subject: subject.to_owned(),
            reply: reply.to_owned(),
            message_id: message_id.to_owned(),
            channel: channel.to_owned(),
            recorded_by: recorded_by.to_owned(),
            time,
        };
        let outcome = l.0.opt_out(req, now).map_err(fail)?;
        let part = |e: &Option<OptOutEvent>| match e {
            None => Value::Null,
            Some(e) => json!({"purposes": e.purposes, "event_seq": e.event.seq,
                              "event_sha256": hex(&e.event.hash)}),
        };
        let (done, v) = match &outcome {
            OptOutOutcome::Stopped {
                withdrawal,
                objection,
            } => (
                withdrawal.is_some() || objection.is_some(),
                json!({"outcome": "stopped", "withdrawal": part(withdrawal),
                       "objection": part(objection)}),
            ),
            _ => (false, json!({"outcome": "not-opt-out"})),
        };
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(recorded, done);
            write_opt_text(outcome_json_or_null, v.to_string());
        }
        Ok(())
    })
}

/// May `subject`'s data be processed for `purpose` at time `at` (Unix
/// seconds)? `allowed` receives the answer. An unknown purpose is not an
/// error: it is refused with reason `purpose-unknown`.
///
/// Decision JSON (optional, `decision_json_or_null`):
///
/// ```text
/// {
///   "subject": string, "purpose": string, "allowed": bool,
///   "art6": "consent" | "contract" | ... (when allowed),
///   "art9": "explicit-consent" | "health-care" | ... (when allowed, health data),
///   "basis": string, e.g. "Art. 6(1)(a) GDPR + Art. 9(2)(a) GDPR" (when allowed),
///   "event_seq": integer, "event_sha256": hex (the event the decision rests on),
///   "reason": "no-consent" | "refused" | "withdrawn" | "expired"
///             | "notice-retired" | "purpose-unknown" (when refused),
///   "reason_at": integer, Unix seconds (when the reason has a time)
/// }
/// ```
///
/// # Safety
/// `ledger` a live ledger; the strings NUL-terminated; `allowed` valid for
/// a write; `decision_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_decide(
    ledger: *const caduceus_consent_ledger,
    subject: *const c_char,
    purpose: *const c_char,
    at: i64,
    allowed: *mut bool,
    decision_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(allowed)?;
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (l, subject, purpose) = unsafe { (handle(ledger)?, text(subject)?, text(purpose)?) };
        let d = l.0.decide(subject, purpose, at);
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(allowed, d.allowed);
            if !decision_json_or_null.is_null() {
                write_opt_text(
                    decision_json_or_null,
                    decision_value(subject, purpose, &d).to_string(),
                );
            }
        }
        Ok(())
    })
}

/// Bulk decisions for a send-out: [`caduceus_consent_decide`] for `count`
/// subjects and one purpose at time `at`. `allowed` (an array of `count`
/// bools) receives each answer; the optional `decisions_json_or_null`
/// receives a JSON array of decision objects (schema at
/// [`caduceus_consent_decide`]) in the same order. `count` may be 0 (then
/// `subjects` and `allowed` may be NULL).
///
/// # Safety
/// `ledger` a live ledger; `subjects` valid for `count` NUL-terminated
/// strings; `allowed` valid for `count` writes; `purpose` NUL-terminated;
/// `decisions_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_decide_many(
    ledger: *const caduceus_consent_ledger,
    subjects: *const *const c_char,
    count: usize,
    purpose: *const c_char,
    at: i64,
    allowed: *mut bool,
    decisions_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        if count > 0 {
            check_out(allowed)?;
        }
        // SAFETY: live handle, string array and string per the caller's contract.
        let (l, subjects, purpose) = unsafe {
            (
                handle(ledger)?,
                text_array(subjects, count)?,
                text(purpose)?,
            )
        };
        let decisions = l.0.decide_many(&subjects, purpose, at);
        if count > 0 {
            // SAFETY: checked non-NULL; valid for `count` writes per the caller's contract.
            let out = unsafe { std::slice::from_raw_parts_mut(allowed, count) };
            for (o, d) in out.iter_mut().zip(&decisions) {
                *o = d.allowed;
            }
        }
        if !decisions_json_or_null.is_null() {
            let list: Vec<Value> = subjects
                .iter()
                .zip(&decisions)
                .map(|(s, d)| decision_value(s, purpose, d))
                .collect();
            // SAFETY: non-NULL, valid per the caller's contract.
            unsafe { write_opt_text(decisions_json_or_null, Value::Array(list).to_string()) };
        }
        Ok(())
    })
}

/// A subject's full history, oldest first, as a JSON array (empty if the
/// subject has no events). Each element:
///
/// ```text
/// {"seq": integer, "sha256": hex, "id": string, "subject": string,
///  "purposes": [string], "status": string, "method": string,
///  "notice": {"id", "version", "language", "sha256"} (if any),
///  "channel": string, "evidence": string (if any), "recorded_by": string,
///  "time": integer, "expires_at": integer (if any)}
/// ```
///
/// # Safety
/// `ledger` a live ledger; `subject` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_history(
    ledger: *const caduceus_consent_ledger,
    subject: *const c_char,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, subject) = unsafe { (handle(ledger)?, text(subject)?) };
        let list: Vec<Value> = l.0.history(subject).iter().map(event_value).collect();
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, Value::Array(list).to_string()) };
        Ok(())
    })
}

/// A subject's consent events as a FHIR R4 `Bundle` (type `collection`) of
/// `Consent` resources, each in its state at `at` (Unix seconds, normally
/// now): a consent that ended by then (withdrawn, refused, expired, its
/// notice retired) is `inactive` with its period ended (mapping:
/// docs/CONSENT.md, section 7).
///
/// # Safety
/// `ledger` a live ledger; `subject` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_export_fhir(
    ledger: *const caduceus_consent_ledger,
    subject: *const c_char,
    at: i64,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, subject) = unsafe { (handle(ledger)?, text(subject)?) };
        let json = l.0.export_fhir(subject, at);
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, json) };
        Ok(())
    })
}

/// A subject's consents as ISO/IEC TS 27560-shaped JSON records with W3C
/// DPV terms, one per purpose (mapping: docs/CONSENT.md, section 7).
///
/// # Safety
/// `ledger` a live ledger; `subject` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_export_iso27560(
    ledger: *const caduceus_consent_ledger,
    subject: *const c_char,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, subject) = unsafe { (handle(ledger)?, text(subject)?) };
        let json = l.0.export_iso27560(subject);
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, json) };
        Ok(())
    })
}
