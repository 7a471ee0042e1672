//! C ABI of `caduceus_core::audit`: the tamper-evident audit log.
//!
//! * `caduceus_audit_key`: the practice's secret pseudonym key; entries name
//!   people only by pseudonyms (`sbj-...`, `stf-...`) derived with it.
//! * `caduceus_audit_log`: the writer's state (origin, the Merkle tree's
//!   compact right edge, the last leaf hash). Appending returns the entry
//!   bytes the host stores and the entry's leaf hash (for proofs); the
//!   library never stores entries.
//! * Checkpoints are C2SP signed notes (Ed25519): signer keys
//!   `PRIVATE+KEY+name+id+key`, verifier keys `name+id+key`.
//! * Verification reads the stored entries (and signed checkpoints) and
//!   reports OK or the first bad index. Inclusion and consistency proofs
//!   (RFC 9162) are computed from the stored leaf hashes.
//! * Export as FHIR R4 `AuditEvent` resources.
//!
//! Byte formats: docs/AUDIT.md. Hashes and roots are 32 raw bytes where
//! they are parameters (`uint8_t *` of exactly 32 bytes) and lowercase hex
//! in JSON; a proof is the concatenation of its 32-byte hashes. The JSON of
//! this module uses snake_case keys.

use std::ffi::c_char;

use caduceus_core::audit::merkle::{self, CompactRange, Hash, MemoryTree};
use caduceus_core::audit::{
    Action, AuditEntry, AuditError, AuditEvent, AuditKey, AuditLog, Checkpoint, Outcome, Pseudonym,
    PseudonymKind, fhir, note, verify_log,
};
use serde_json::{Value, json};

use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_mut, read_handle_out,
    read_out, set_last_error, slice, text, text_array, write_handle, write_out,
};
use crate::bytes::caduceus_bytes;
use crate::consent::{
    buffers, get_str, hex, invalid, object, opt_i64, opt_str, parse_json, write_opt,
    write_opt_text, write_text_out,
};
use crate::result::caduceus_result::{self, *};

/// [`caduceus_audit_key_pseudonym`]: a patient (data subject), `sbj-...`.
pub const CADUCEUS_PSEUDONYM_SUBJECT: u32 = 0;
/// [`caduceus_audit_key_pseudonym`]: a staff member or device, `stf-...`.
pub const CADUCEUS_PSEUDONYM_STAFF: u32 = 1;

/// The practice's secret audit (pseudonym) key (opaque): pseudonyms are
/// HMAC-SHA256 under it. Zeroized when freed. Keep it away from the log's
/// readers.
///
/// Thread safety: immutable; every call takes a `const` pointer and may run
/// concurrently from any number of threads.
#[allow(non_camel_case_types)]
pub struct caduceus_audit_key(pub(crate) AuditKey);

/// The writer's state of an audit log (opaque): origin, compact right edge
/// of the Merkle tree and last leaf hash (O(log n) memory).
///
/// Thread safety: [`caduceus_audit_log_append`] needs exclusive access; the
/// calls taking a `const caduceus_audit_log *` (size, root, checkpoints)
/// may run concurrently with each other. Keep one writer per log.
#[allow(non_camel_case_types)]
pub struct caduceus_audit_log(pub(crate) AuditLog);

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Read exactly 32 bytes.
///
/// # Safety
/// `ptr` NULL or valid for 32 bytes of reads.
#[allow(unsafe_code)]
unsafe fn hash_in(ptr: *const u8) -> Result<Hash, caduceus_result> {
    // SAFETY: NULL (refused) or valid for 32 bytes per the caller's contract.
    let s = unsafe { slice(ptr, 32)? };
    s.try_into().map_err(|_| CADUCEUS_INTERNAL)
}

/// Write exactly 32 bytes (checked with `check_out` before).
///
/// # Safety
/// `out` non-NULL and valid for 32 bytes of writes.
#[allow(unsafe_code)]
unsafe fn hash_out(out: *mut u8, hash: &Hash) {
    // SAFETY: valid for 32 bytes per the caller's contract; no overlap with a local.
    unsafe { std::ptr::copy_nonoverlapping(hash.as_ptr(), out, 32) }
}

/// Verifier keys from their texts.
fn verifiers(keys: &[&str]) -> Result<Vec<note::NoteVerifier>, caduceus_result> {
    keys.iter()
        .map(|k| note::NoteVerifier::parse(k).map_err(fail))
        .collect()
}

/// The tree of `leaf_hashes` (concatenated 32-byte hashes), at least `size` leaves.
fn tree(leaf_hashes: &[u8], size: u64) -> Result<MemoryTree, caduceus_result> {
    if !leaf_hashes.len().is_multiple_of(32) {
        return Err(invalid("leaf hashes must be concatenated 32-byte hashes"));
    }
    let n = (leaf_hashes.len() / 32) as u64;
    if size > n {
        return Err(fail(AuditError::SizeOutOfRange { size, tree_size: n }));
    }
    let mut t = MemoryTree::new();
    for c in leaf_hashes.chunks_exact(32) {
        let mut h = [0u8; 32];
        h.copy_from_slice(c);
        t.push(h);
    }
    Ok(t)
}

/// A proof from its bytes (concatenated 32-byte hashes).
fn proof_hashes(bytes: &[u8]) -> Result<Vec<Hash>, caduceus_result> {
    if !bytes.len().is_multiple_of(32) {
        return Err(fail(AuditError::BadProof));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Magic of the compact right edge encoding ([`caduceus_audit_log_edge`]).
const EDGE_MAGIC: &[u8; 4] = b"CDCR";
/// Version of the compact right edge encoding.
const EDGE_VERSION: u8 = 1;
/// Magic, version and tree size.
const EDGE_HEADER_LEN: usize = 13;

/// Encode a compact range: `"CDCR" || 0x01 || size (u64 BE) || hashes`.
fn edge_bytes(edge: &CompactRange) -> Vec<u8> {
    let mut out = Vec::with_capacity(EDGE_HEADER_LEN + 32 * edge.hashes().len());
    out.extend_from_slice(EDGE_MAGIC);
    out.push(EDGE_VERSION);
    out.extend_from_slice(&edge.size().to_be_bytes());
    for h in edge.hashes() {
        out.extend_from_slice(h);
    }
    out
}

/// A malformed edge: `CADUCEUS_AUDIT_BAD_PROOF` (as core's `BadCompactRange`).
fn bad_edge(detail: &str) -> caduceus_result {
    set_last_error(format!("malformed compact range (edge): {detail}"));
    CADUCEUS_AUDIT_BAD_PROOF
}

/// Decode a compact range strictly (see [`edge_bytes`]).
fn parse_edge(bytes: &[u8]) -> Result<CompactRange, caduceus_result> {
    let (header, rest) = bytes
        .split_at_checked(EDGE_HEADER_LEN)
        .ok_or_else(|| bad_edge("shorter than its 13-byte header"))?;
    let (magic, header) = header.split_at(4);
    if magic != EDGE_MAGIC {
        return Err(bad_edge("bad magic: not a Caduceus compact range"));
    }
    let (version, size) = header.split_at(1);
    if version != [EDGE_VERSION] {
        set_last_error("unsupported compact range (edge) version; upgrade caduceus");
        return Err(CADUCEUS_UNSUPPORTED_VERSION);
    }
    let size = u64::from_be_bytes(size.try_into().map_err(|_| CADUCEUS_INTERNAL)?);
    let count = size.count_ones() as usize;
    if rest.len() != 32 * count {
        return Err(bad_edge(
            "the number of hashes does not match the tree size (truncated or extra bytes)",
        ));
    }
    let hashes = rest
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    CompactRange::from_parts(size, hashes).map_err(fail)
}

fn checkpoint_value(cp: &Checkpoint) -> Value {
    json!({"origin": cp.origin, "size": cp.size, "root": hex(&cp.root),
           "root_base64": merkle::hash_to_base64(&cp.root)})
}

fn entry_value(entry: &AuditEntry, bytes: &[u8]) -> Value {
    let ev = &entry.event;
    let mut v = json!({
        "sequence": entry.sequence,
        "prev_leaf": hex(&entry.prev_leaf),
        "leaf_hash": hex(&merkle::leaf_hash(bytes)),
        "time_ms": ev.time_ms(),
        "actor": ev.actor().as_str(),
        "role": ev.role(),
        "action": ev.action().code(),
        "source": ev.source(),
    });
    if let Some(obj) = v.as_object_mut() {
        let mut put = |k: &str, val: Option<&str>| {
            if let Some(s) = val {
                obj.insert(k.into(), s.into());
            }
        };
        put("subject", ev.subject_pseudonym().map(Pseudonym::as_str));
        put("category", ev.data_category());
        put("record", ev.record_id());
        put("purpose", ev.purpose_of_use());
        put("legal_basis", ev.legal_basis_code());
        put("correlation", ev.correlation_id());
        let (outcome, reason) = match ev.result() {
            Outcome::Success => ("success", None),
            Outcome::Denied(r) => ("denied", Some(r.as_str())),
            Outcome::Failed(r) => ("failed", Some(r.as_str())),
            _ => ("other", None),
        };
        obj.insert("outcome".into(), outcome.into());
        if let Some(r) = reason {
            obj.insert("outcome_reason".into(), r.into());
        }
    }
    v
}

const EVENT_KEYS: &[&str] = &[
    "time",
    "time_ms",
    "actor",
    "role",
    "action",
    "source",
    "subject",
    "category",
    "record",
    "purpose",
    "legal_basis",
    "outcome",
    "outcome_reason",
    "correlation",
];

fn parse_event(json_text: &str) -> Result<AuditEvent, caduceus_result> {
    const W: &str = "audit event JSON";
    let v = parse_json(json_text, W)?;
    let obj = object(&v, W, EVENT_KEYS)?;
    let time_ms = match (opt_i64(obj, W, "time")?, opt_i64(obj, W, "time_ms")?) {
        (Some(s), None) => s
            .checked_mul(1000)
            .ok_or_else(|| fail(AuditError::InvalidTime))?,
        (None, Some(ms)) => ms,
        _ => {
            return Err(invalid(format!(
                "{W}: give exactly one of 'time' (Unix seconds) or 'time_ms'"
            )));
        }
    };
    let actor = Pseudonym::parse(get_str(obj, W, "actor")?).map_err(fail)?;
    let action = Action::from_code(get_str(obj, W, "action")?).ok_or_else(|| {
        invalid(format!(
            "{W}: 'action' is not an action code (docs/AUDIT.md), e.g. read, create"
        ))
    })?;
    let mut ev = AuditEvent::new(
        time_ms,
        actor,
        get_str(obj, W, "role")?,
        action,
        get_str(obj, W, "source")?,
    )
    .map_err(fail)?;
    if let Some(s) = opt_str(obj, W, "subject")? {
        ev = ev.subject(Pseudonym::parse(s).map_err(fail)?);
    }
    if let Some(s) = opt_str(obj, W, "category")? {
        ev = ev.category(s).map_err(fail)?;
    }
    if let Some(s) = opt_str(obj, W, "record")? {
        ev = ev.record(s).map_err(fail)?;
    }
    if let Some(s) = opt_str(obj, W, "purpose")? {
        ev = ev.purpose(s).map_err(fail)?;
    }
    if let Some(s) = opt_str(obj, W, "legal_basis")? {
        ev = ev.legal_basis(s).map_err(fail)?;
    }
    if let Some(s) = opt_str(obj, W, "correlation")? {
        ev = ev.correlation(s).map_err(fail)?;
    }
    let reason = opt_str(obj, W, "outcome_reason")?;
    let outcome = match (opt_str(obj, W, "outcome")?.unwrap_or("success"), reason) {
        ("success", None) => Outcome::Success,
        ("denied", Some(r)) => Outcome::Denied(r.to_owned()),
        ("failed", Some(r)) => Outcome::Failed(r.to_owned()),
        _ => {
            return Err(invalid(format!(
                "{W}: 'outcome' must be success (without 'outcome_reason'), or denied or failed with 'outcome_reason'"
            )));
        }
    };
    ev.outcome(outcome).map_err(fail)
}

// ---------------------------------------------------------------------------
// Audit key.

/// Generate a new random audit key (operating-system randomness).
///
/// # Safety
/// `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_key_generate(
    out: *mut *mut caduceus_audit_key,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        let key = AuditKey::generate(&mut rng());
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_audit_key(key)) };
        Ok(())
    })
}

/// Parse an audit key text, `CADUCEUS-AUDIT-KEY-1` followed by 64 hex
/// digits (surrounding whitespace ignored). A malformed text gives
/// `CADUCEUS_AUDIT_MALFORMED_KEY`.
///
/// # Safety
/// `key_text` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_key_parse(
    key_text: *const c_char,
    out: *mut *mut caduceus_audit_key,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let t = unsafe { text(key_text)? };
        let key = AuditKey::parse(t).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_audit_key(key)) };
        Ok(())
    })
}

/// The key's text form (secret: store it like a password; the buffer is
/// zeroized by `caduceus_bytes_free`).
///
/// # Safety
/// `key` a live audit key; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_key_to_text(
    key: *const caduceus_audit_key,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(key, out, |k| {
                let secret = k.0.to_secret_string();
                Ok(caduceus_bytes::text(secret.as_str().to_owned()))
            })
        }
    })
}

/// The pseudonym (text, `sbj-` or `stf-`, 32 hex digits and a check
/// character: 37 characters) of a real identifier (patient id, phone
/// number, staff login; non-empty UTF-8).
/// `kind` is `CADUCEUS_PSEUDONYM_SUBJECT` or `CADUCEUS_PSEUDONYM_STAFF`.
///
/// # Safety
/// `key` a live audit key; `identifier` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_key_pseudonym(
    key: *const caduceus_audit_key,
    kind: u32,
    identifier: *const c_char,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        let kind = match kind {
            CADUCEUS_PSEUDONYM_SUBJECT => PseudonymKind::Subject,
            CADUCEUS_PSEUDONYM_STAFF => PseudonymKind::Staff,
            _ => {
                return Err(invalid(
                    "kind must be CADUCEUS_PSEUDONYM_SUBJECT or CADUCEUS_PSEUDONYM_STAFF",
                ));
            }
        };
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (k, id) = unsafe { (handle(key)?, text(identifier)?) };
        if id.is_empty() {
            return Err(invalid("the identifier must not be empty"));
        }
        let p = k.0.pseudonym(kind, id);
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, p.as_str().to_owned()) };
        Ok(())
    })
}

/// Free (and zeroize) an audit key. NULL is a no-op.
///
/// # Safety
/// `key` NULL or a live audit key, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_key_free(key: *mut caduceus_audit_key) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(key) }
    })
}

// ---------------------------------------------------------------------------
// Checkpoint signer and verifier keys.

/// Generate an Ed25519 checkpoint signing key named `name` (recommended:
/// the log origin, e.g. "praxis.example/audit"). `signer_key` receives the
/// secret signer key text `PRIVATE+KEY+name+id+key` (zeroized on free),
/// `verifier_key` the public verifier key text `name+id+key`.
///
/// # Safety
/// `name` NUL-terminated; `signer_key` and `verifier_key` valid for writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_signer_generate(
    name: *const c_char,
    signer_key: *mut *mut caduceus_bytes,
    verifier_key: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(signer_key)?;
        check_out(verifier_key)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let name = unsafe { text(name)? };
        let signer = note::NoteSigner::generate(name, &mut rng()).map_err(fail)?;
        let secret = signer.to_secret_string();
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_text_out(signer_key, secret.as_str().to_owned());
            write_text_out(verifier_key, signer.verifier().to_string());
        }
        Ok(())
    })
}

/// The verifier key text (`name+id+key`) of a signer key text.
///
/// # Safety
/// `signer_key` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_signer_verifier(
    signer_key: *const c_char,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let t = unsafe { text(signer_key)? };
        let signer = note::NoteSigner::parse(t).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, signer.verifier().to_string()) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The log.

/// A new, empty log named `origin` (the checkpoint origin line, e.g.
/// "praxis.example/audit").
///
/// # Safety
/// `origin` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_new(
    origin: *const c_char,
    out: *mut *mut caduceus_audit_log,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let origin = unsafe { text(origin)? };
        let log = AuditLog::new(origin).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_audit_log(log)) };
        Ok(())
    })
}

/// Rebuild the writer's state of the log `origin` from all its stored
/// entries, in order (`count` buffers `(entries[i], entry_lens[i])`; 0 for
/// an empty log), checking each as [`caduceus_audit_verify`] does. A bad
/// entry gives `CADUCEUS_AUDIT_INVALID_LOG`, with the first bad index in
/// the last error.
///
/// # Safety
/// `origin` NUL-terminated; `entries` and `entry_lens` valid for `count`
/// reads (NULL only if `count` is 0), each entry valid for its length;
/// `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_from_entries(
    origin: *const c_char,
    entries: *const *const u8,
    entry_lens: *const usize,
    count: usize,
    out: *mut *mut caduceus_audit_log,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated string and buffer arrays per the caller's contract.
        let (origin, list) = unsafe { (text(origin)?, buffers(entries, entry_lens, count)?) };
        AuditLog::new(origin).map_err(fail)?;
        let log = AuditLog::from_entries(origin, list.iter().copied()).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_audit_log(log)) };
        Ok(())
    })
}

/// Append an event, given as JSON, to the log. `entry` receives the
/// canonical entry bytes, which the host must store (in order); the
/// optional `index_or_null` the entry's index (sequence number) and
/// `leaf_hash_or_null` (32 bytes) its Merkle leaf hash, for hosts that keep
/// leaf hashes for proofs.
///
/// Event JSON schema (an object; unknown keys are refused; every text is a
/// label of 1 to 128 printable ASCII characters; people only as
/// pseudonyms from [`caduceus_audit_key_pseudonym`]):
///
/// ```text
/// {
///   "time": integer, Unix seconds   -- or --   "time_ms": integer, Unix ms,
///   "actor":  "stf-..." pseudonym of the acting staff member or device,
///   "role":   string, e.g. "doctor",
///   "action": "create" | "read" | "update" | "delete" | "export" | "shred"
///             | "consent-given" | "consent-withdrawn" | "login" | "logout"
///             | "policy-change" | "erasure-request" | "erasure-completed"
///             | "breach-detected" | "key-change",
///   "source": string, the source system, e.g. "pms-reception",
///   "subject": "sbj-..." pseudonym of the patient (optional),
///   "category", "record", "purpose", "legal_basis", "correlation":
///             strings (optional),
///   "outcome": "success" (default) | "denied" | "failed",
///   "outcome_reason": string (required for denied and failed)
/// }
/// ```
///
/// # Safety
/// `log` a live log used by no other thread; `event_json` NUL-terminated;
/// `entry` valid for a write; `index_or_null` NULL or valid for a write;
/// `leaf_hash_or_null` NULL or valid for 32 bytes of writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_append(
    log: *mut caduceus_audit_log,
    event_json: *const c_char,
    entry: *mut *mut caduceus_bytes,
    index_or_null: *mut u64,
    leaf_hash_or_null: *mut u8,
) -> caduceus_result {
    guard(|| {
        check_out(entry)?;
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, event_json) = unsafe { (handle_mut(log)?, text(event_json)?) };
        let ev = parse_event(event_json)?;
        let appended = l.0.append(&ev).map_err(fail)?;
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_handle(entry, caduceus_bytes::public(appended.bytes));
            write_opt(index_or_null, appended.index);
            if !leaf_hash_or_null.is_null() {
                hash_out(leaf_hash_or_null, &appended.leaf_hash);
            }
        }
        Ok(())
    })
}

/// The number of entries in the log.
///
/// # Safety
/// `log` a live log; `size` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_size(
    log: *const caduceus_audit_log,
    size: *mut u64,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(log, size, |l| Ok(l.0.size())) }
    })
}

/// The current Merkle root hash (32 bytes into `root`).
///
/// # Safety
/// `log` a live log; `root` valid for 32 bytes of writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_root(
    log: *const caduceus_audit_log,
    root: *mut u8,
) -> caduceus_result {
    guard(|| {
        check_out(root)?;
        // SAFETY: a live handle per the caller's contract.
        let l = unsafe { handle(log)? };
        // SAFETY: checked non-NULL; valid for 32 bytes per the caller's contract.
        unsafe { hash_out(root, &l.0.root()) };
        Ok(())
    })
}

/// The unsigned checkpoint text of the current tree (C2SP
/// `tlog-checkpoint`: origin, size and base64 root, one per line).
///
/// # Safety
/// `log` a live log; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_checkpoint(
    log: *const caduceus_audit_log,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(log, out, |l| {
                Ok(caduceus_bytes::text(l.0.checkpoint().to_text()))
            })
        }
    })
}

/// Sign the current checkpoint with a signer key text
/// (`PRIVATE+KEY+...`): `out` receives the C2SP signed note (text) that
/// transparency-log tooling and [`caduceus_audit_checkpoint_open`] verify.
///
/// # Safety
/// `log` a live log; `signer_key` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_sign_checkpoint(
    log: *const caduceus_audit_log,
    signer_key: *const c_char,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (l, key) = unsafe { (handle(log)?, text(signer_key)?) };
        let signer = note::NoteSigner::parse(key).map_err(fail)?;
        let signed = l.0.checkpoint().sign(&[&signer]).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, signed) };
        Ok(())
    })
}

/// The log's compact right edge, for resuming it later with
/// [`caduceus_audit_log_resume`] without reading the old entries: store it
/// next to the last entry (and a checkpoint) whenever the host persists
/// its state. `out` receives the bytes (public: hashes only)
///
/// ```text
/// edge = "CDCR" || version 0x01 || size (uint64, big-endian)
///        || hash[0] || ... || hash[k-1]     (32 bytes each)
/// ```
///
/// where `size` is the number of entries and the `k` hashes (one per set
/// bit of `size`) are the roots of the perfect subtrees of the Merkle tree,
/// largest (leftmost) first, so `13 + 32 * k` bytes in all (13 for an empty
/// log).
///
/// Thread safety: takes a `const caduceus_audit_log *`; may run concurrently
/// with the other `const` calls on the same log, not with
/// [`caduceus_audit_log_append`].
///
/// # Safety
/// `log` a live log; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_edge(
    log: *const caduceus_audit_log,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(log, out, |l| {
                Ok(caduceus_bytes::public(edge_bytes(l.0.edge())))
            })
        }
    })
}

/// Resume the writer's state of the log `origin` after a restart without
/// reading its old entries: from the compact right edge stored by
/// [`caduceus_audit_log_edge`] (`edge`, `edge_len` bytes) and the last
/// stored entry (`last_entry`, `last_entry_len` bytes; `(NULL, 0)` exactly
/// when the edge is of an empty log). Entries appended to the resumed log
/// are byte for byte those the original log would have appended.
///
/// Checks: the edge is well-formed (`CADUCEUS_AUDIT_BAD_PROOF` for a
/// wrong magic, a truncated edge or extra bytes;
/// `CADUCEUS_UNSUPPORTED_VERSION` for an unknown version); the last entry
/// has a well-formed header (`CADUCEUS_AUDIT_MALFORMED_ENTRY`) whose
/// sequence number is the edge's size minus one, and, when the size is
/// odd, its leaf hash is the edge's last hash (`CADUCEUS_AUDIT_BAD_PROOF`
/// on a mismatch). When the size is even the last leaf is folded into a
/// subtree hash: a wrong last entry with the right sequence number is then
/// not detected here, but the next appended entry links to it and
/// [`caduceus_audit_verify`] reports that entry as bad.
///
/// `checkpoint_or_null` is optional: the unsigned checkpoint text
/// (`origin\nsize\nbase64 root\n`, as [`caduceus_audit_log_checkpoint`]
/// gives it) the host stored with the edge. When given, it must be for
/// `origin` and the edge must reproduce its size and root
/// (`CADUCEUS_AUDIT_BAD_PROOF` if not; `CADUCEUS_AUDIT_MALFORMED_CHECKPOINT`
/// if it does not parse). For a signed checkpoint, verify it first with
/// [`caduceus_audit_checkpoint_open`] and pass its note text (the lines up
/// to the blank line before the signatures). NULL skips this check.
///
/// Thread safety: reads its arguments only; `out` is a new log, owned by
/// the caller.
///
/// # Safety
/// `origin` NUL-terminated; `edge` valid for `edge_len` bytes and
/// `last_entry` for `last_entry_len` bytes (each NULL only with length 0);
/// `checkpoint_or_null` NULL or NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_resume(
    origin: *const c_char,
    edge: *const u8,
    edge_len: usize,
    last_entry: *const u8,
    last_entry_len: usize,
    checkpoint_or_null: *const c_char,
    out: *mut *mut caduceus_audit_log,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated string and buffers per the caller's contract.
        let (origin, edge, last) = unsafe {
            (
                text(origin)?,
                slice(edge, edge_len)?,
                slice(last_entry, last_entry_len)?,
            )
        };
        let cp = if checkpoint_or_null.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated per the caller's contract.
            let t = unsafe { text(checkpoint_or_null)? };
            Some(Checkpoint::parse(t).map_err(fail)?)
        };
        let edge = parse_edge(edge)?;
        let last = (!last.is_empty()).then_some(last);
        let log = AuditLog::resume(origin, edge, last, cp.as_ref()).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_audit_log(log)) };
        Ok(())
    })
}

/// Free a log's state. NULL is a no-op.
///
/// # Safety
/// `log` NULL or a live log, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_log_free(log: *mut caduceus_audit_log) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(log) }
    })
}

// ---------------------------------------------------------------------------
// Checkpoints and verification.

/// Verify a signed checkpoint against trusted verifier keys (`count` texts
/// `name+id+key`) and parse it: `size` receives the tree size, `root` (32
/// bytes) the root hash; the optional `json_or_null`
/// `{"origin": string, "size": integer, "root": hex, "root_base64": string}`.
/// No signature by a trusted key gives `CADUCEUS_AUDIT_BAD_SIGNATURE`.
///
/// # Safety
/// `signed_checkpoint` NUL-terminated; `verifier_keys` valid for `count`
/// NUL-terminated strings; `size` valid for a write; `root` valid for 32
/// bytes of writes; `json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_checkpoint_open(
    signed_checkpoint: *const c_char,
    verifier_keys: *const *const c_char,
    count: usize,
    size: *mut u64,
    root: *mut u8,
    json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(size)?;
        check_out(root)?;
        // SAFETY: NUL-terminated string and string array per the caller's contract.
        let (signed, keys) =
            unsafe { (text(signed_checkpoint)?, text_array(verifier_keys, count)?) };
        let cp = Checkpoint::open(signed, &verifiers(&keys)?).map_err(fail)?;
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(size, cp.size);
            hash_out(root, &cp.root);
            write_opt_text(json_or_null, checkpoint_value(&cp).to_string());
        }
        Ok(())
    })
}

/// Verify a whole log: every entry (`count` buffers, in order) decodes and
/// carries its position as sequence number, links to the previous entry,
/// and the tree reproduces every signed checkpoint (`checkpoint_count`
/// signed notes, each verified with the `key_count` verifier keys) at its
/// size. Detects modified, deleted, inserted or reordered entries,
/// truncation against a checkpoint and forks.
///
/// The return value is `CADUCEUS_OK` whenever the verification ran: `ok`
/// receives the verdict and `first_bad_index` the first entry index that
/// cannot be trusted (the number of entries when `ok`). A checkpoint that
/// does not open fails the call (`CADUCEUS_AUDIT_BAD_SIGNATURE`,
/// `CADUCEUS_AUDIT_MALFORMED_CHECKPOINT`, ...). The optional
/// `report_json_or_null` receives
///
/// ```text
/// {"ok": bool, "size": integer (entries read), "root": hex,
///  "checkpoints_matched": integer, "first_bad_index": integer | null,
///  "fault": string | null (what is wrong; indices only)}
/// ```
///
/// # Safety
/// `entries` / `entry_lens` valid for `count` reads, each entry for its
/// length; `signed_checkpoints` valid for `checkpoint_count` and
/// `verifier_keys` for `key_count` NUL-terminated strings (each array NULL
/// only with a count of 0); `ok` and `first_bad_index` valid for writes;
/// `report_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_audit_verify(
    entries: *const *const u8,
    entry_lens: *const usize,
    count: usize,
    signed_checkpoints: *const *const c_char,
    checkpoint_count: usize,
    verifier_keys: *const *const c_char,
    key_count: usize,
    ok: *mut bool,
    first_bad_index: *mut u64,
    report_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(ok)?;
        check_out(first_bad_index)?;
        // SAFETY: buffer and string arrays per the caller's contract.
        let (list, signed, keys) = unsafe {
            (
                buffers(entries, entry_lens, count)?,
                text_array(signed_checkpoints, checkpoint_count)?,
                text_array(verifier_keys, key_count)?,
            )
        };
        let vs = verifiers(&keys)?;
        let cps = signed
            .iter()
            .map(|s| Checkpoint::open(s, &vs).map_err(fail))
            .collect::<Result<Vec<_>, _>>()?;
        let report = verify_log(list.iter().copied(), &cps);
        let bad = report.fault.as_ref().map(|f| f.first_bad_index());
        if !report_json_or_null.is_null() {
            let v = json!({
                "ok": report.is_ok(), "size": report.size, "root": hex(&report.root),
                "checkpoints_matched": report.checkpoints_matched,
                "first_bad_index": bad, "fault": report.fault.as_ref().map(ToString::to_string),
            });
            // SAFETY: non-NULL, valid per the caller's contract.
            unsafe { write_opt_text(report_json_or_null, v.to_string()) };
        }
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_out(ok, report.is_ok());
            write_out(first_bad_index, bad.unwrap_or(count as u64));
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Entries.

/// The Merkle leaf hash (RFC 6962: SHA-256 of 0x00 || entry) of stored
/// entry bytes, 32 bytes into `out`.
///
/// # Safety
/// `entry` valid for `len` bytes (NULL only with `len` 0); `out` valid for
/// 32 bytes of writes.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_leaf_hash(
    entry: *const u8,
    len: usize,
    out: *mut u8,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: valid for `len` bytes per the caller's contract.
        let bytes = unsafe { slice(entry, len)? };
        // SAFETY: checked non-NULL; valid for 32 bytes per the caller's contract.
        unsafe { hash_out(out, &merkle::leaf_hash(bytes)) };
        Ok(())
    })
}

/// Decode and check one stored entry (strictly: magic, version, canonical
/// body, every field's rules) and return it as JSON:
///
/// ```text
/// {"sequence": integer, "prev_leaf": hex, "leaf_hash": hex,
///  "time_ms": integer, "actor": string, "role": string, "action": string,
///  "source": string, "subject", "category", "record", "purpose",
///  "legal_basis", "correlation": string (each if present),
///  "outcome": "success" | "denied" | "failed",
///  "outcome_reason": string (if any)}
/// ```
///
/// Damaged bytes give `CADUCEUS_AUDIT_MALFORMED_ENTRY` (or
/// `CADUCEUS_UNSUPPORTED_VERSION`).
///
/// # Safety
/// `entry` valid for `len` bytes (NULL only with `len` 0); `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_entry_json(
    entry: *const u8,
    len: usize,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: valid for `len` bytes per the caller's contract.
        let bytes = unsafe { slice(entry, len)? };
        let e = AuditEntry::from_bytes(bytes).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, entry_value(&e, bytes).to_string()) };
        Ok(())
    })
}

/// Export stored entries of the log `origin` as a FHIR R4 `Bundle` (type
/// `collection`) of `AuditEvent` resources (IHE BALP shapes; docs/AUDIT.md);
/// no entries give a Bundle without `entry`. A damaged entry fails the
/// call with `CADUCEUS_AUDIT_MALFORMED_ENTRY`.
///
/// # Safety
/// `origin` NUL-terminated; `entries` / `entry_lens` valid for `count`
/// reads, each entry for its length; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_export_fhir(
    origin: *const c_char,
    entries: *const *const u8,
    entry_lens: *const usize,
    count: usize,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated string and buffer arrays per the caller's contract.
        let (origin, list) = unsafe { (text(origin)?, buffers(entries, entry_lens, count)?) };
        let mut resources = Vec::with_capacity(list.len());
        for bytes in &list {
            let e = AuditEntry::from_bytes(bytes).map_err(fail)?;
            resources.push(json!({"resource": fhir::audit_event(&e, origin)}));
        }
        let mut bundle = json!({"resourceType": "Bundle", "type": "collection"});
        if !resources.is_empty()
            && let Some(obj) = bundle.as_object_mut()
        {
            obj.insert("entry".into(), Value::Array(resources));
        }
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, bundle.to_string()) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Proofs.

/// The inclusion proof (RFC 9162 2.1.3) of leaf `index` in the tree of the
/// first `size` leaves, computed from the stored leaf hashes
/// (`leaf_hashes`: concatenated 32-byte hashes, at least `size` of them).
/// `proof` receives the concatenated 32-byte proof hashes (possibly empty).
///
/// # Safety
/// `leaf_hashes` valid for `leaf_hashes_len` bytes (NULL only with 0);
/// `proof` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_inclusion_proof(
    leaf_hashes: *const u8,
    leaf_hashes_len: usize,
    index: u64,
    size: u64,
    proof: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(proof)?;
        // SAFETY: valid for `leaf_hashes_len` bytes per the caller's contract.
        let leaves = unsafe { slice(leaf_hashes, leaf_hashes_len)? };
        let t = tree(leaves, size)?;
        let p = merkle::inclusion_proof(&t, index, size).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(proof, caduceus_bytes::public(p.concat())) };
        Ok(())
    })
}

/// The consistency proof (RFC 9162 2.1.4) between the trees of the first
/// `old_size` and `new_size` leaves, from the stored leaf hashes (at least
/// `new_size`). `proof` receives the concatenated 32-byte hashes (empty
/// when the sizes are equal or `old_size` is 0).
///
/// # Safety
/// `leaf_hashes` valid for `leaf_hashes_len` bytes (NULL only with 0);
/// `proof` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_consistency_proof(
    leaf_hashes: *const u8,
    leaf_hashes_len: usize,
    old_size: u64,
    new_size: u64,
    proof: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(proof)?;
        // SAFETY: valid for `leaf_hashes_len` bytes per the caller's contract.
        let leaves = unsafe { slice(leaf_hashes, leaf_hashes_len)? };
        let t = tree(leaves, new_size)?;
        let p = merkle::consistency_proof(&t, old_size, new_size).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(proof, caduceus_bytes::public(p.concat())) };
        Ok(())
    })
}

/// Verify an inclusion proof: the leaf hash `leaf_hash` (32 bytes) is leaf
/// `index` of the tree of `size` leaves with root `root` (32 bytes, e.g.
/// from [`caduceus_audit_checkpoint_open`]). Returns `CADUCEUS_OK` if it
/// verifies, `CADUCEUS_AUDIT_BAD_PROOF` if not, `CADUCEUS_AUDIT_OUT_OF_RANGE`
/// if `index >= size`.
///
/// # Safety
/// `leaf_hash` and `root` valid for 32 bytes of reads; `proof` valid for
/// `proof_len` bytes (NULL only with 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_verify_inclusion(
    leaf_hash: *const u8,
    index: u64,
    size: u64,
    proof: *const u8,
    proof_len: usize,
    root: *const u8,
) -> caduceus_result {
    guard(|| {
        // SAFETY: 32-byte and `proof_len`-byte buffers per the caller's contract.
        let (leaf, p, root) = unsafe {
            (
                hash_in(leaf_hash)?,
                slice(proof, proof_len)?,
                hash_in(root)?,
            )
        };
        let p = proof_hashes(p)?;
        merkle::verify_inclusion(&leaf, index, size, &p, &root).map_err(fail)
    })
}

/// Verify a consistency proof: the tree of `old_size` leaves with root
/// `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root` (32 bytes each). Returns `CADUCEUS_OK` if it verifies,
/// `CADUCEUS_AUDIT_BAD_PROOF` if not (also for `old_size` 0 or
/// `old_size > new_size`).
///
/// # Safety
/// `old_root` and `new_root` valid for 32 bytes of reads; `proof` valid
/// for `proof_len` bytes (NULL only with 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_audit_verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: *const u8,
    new_root: *const u8,
    proof: *const u8,
    proof_len: usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: 32-byte and `proof_len`-byte buffers per the caller's contract.
        let (old, new, p) = unsafe {
            (
                hash_in(old_root)?,
                hash_in(new_root)?,
                slice(proof, proof_len)?,
            )
        };
        let p = proof_hashes(p)?;
        merkle::verify_consistency(old_size, new_size, &old, &new, &p).map_err(fail)
    })
}
