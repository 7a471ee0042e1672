//! C ABI of `caduceus_core::envelope`: one-shot seal, open, inspect,
//! rewrap and random access; the streaming sealer and opener; envelope
//! sets ("part x of y").
//!
//! The header JSON schema is documented on [`caduceus_envelope_inspect`].
//!
//! Thread safety: `caduceus_sealer`, `caduceus_opener` and
//! `caduceus_part_set` are mutable state: one thread at a time (they may
//! move between threads). The one-shot functions are safe to call from
//! several threads at once, also with the same key handles.

use std::ffi::c_char;

use caduceus_core::envelope::{
    self, Header, Labels, PREFIX_LEN, PartSet, PayloadSealer, PushOpener, header_len_from_prefix,
};
use caduceus_core::keys::PrivateKey;
use serde_json::json;
use zeroize::Zeroizing;

use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_array, handle_mut,
    read_handle_out, read_out, set_last_error, slice, slice_of, text, text_array, write_handle,
    write_out,
};
use crate::bytes::caduceus_bytes;
use crate::keys::{
    caduceus_keyring_record, caduceus_private_key, caduceus_public_key, key_id, public_keys, rng,
};
use crate::result::caduceus_result::{self, *};

/// Plaintext bytes per payload segment (64 KiB): the streaming sealer and
/// opener hold at most one segment, and [`caduceus_envelope_open_segment`]
/// indexes segments of this size.
pub const CADUCEUS_SEGMENT_SIZE: usize = 65_536;

/// Bytes of the fixed envelope prefix that
/// [`caduceus_envelope_header_len`] needs to tell the header's length.
pub const CADUCEUS_ENVELOPE_PREFIX_LEN: usize = 10;

// Literals above so that cbindgen can write them; checked against core here.
const _: () = assert!(
    CADUCEUS_SEGMENT_SIZE == envelope::SEGMENT_SIZE && CADUCEUS_ENVELOPE_PREFIX_LEN == PREFIX_LEN
);

/// Policy labels of an envelope, carried in its authenticated (not secret)
/// header. Each string is NUL-terminated, 1 to 128 printable ASCII
/// characters (`CADUCEUS_INVALID_LABEL` otherwise; `CADUCEUS_INVALID_UTF8`
/// if not UTF-8; `CADUCEUS_NULL_PARAMETER` if NULL). The library copies
/// what it needs; the strings need to live only for the call.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct caduceus_labels {
    /// Pseudonym of the data subject (a keyed hash, never a name or number).
    pub subject: *const c_char,
    /// Data category, e.g. `chat-messages`, `clinical-photos`.
    pub category: *const c_char,
    /// Purpose of processing, e.g. `treatment-communication`.
    pub purpose: *const c_char,
    /// Media type of the plaintext, e.g. `image/jpeg`.
    pub content_type: *const c_char,
    /// Creation time, Unix seconds (UTC).
    pub created_at: i64,
}

/// Read and validate a `caduceus_labels`.
///
/// # Safety
/// `ptr` NULL or valid for a read, its strings NULL or NUL-terminated.
#[allow(unsafe_code)]
unsafe fn labels(ptr: *const caduceus_labels) -> Result<Labels, caduceus_result> {
    // SAFETY: forwarded caller contract.
    let l = unsafe { handle(ptr) }?;
    // SAFETY: forwarded caller contract (each string NULL or NUL-terminated).
    let (subject, category, purpose, content_type) = unsafe {
        (
            text(l.subject)?,
            text(l.category)?,
            text(l.purpose)?,
            text(l.content_type)?,
        )
    };
    Labels::new(subject, category, purpose, content_type, l.created_at).map_err(fail)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The documented header JSON (see the module documentation).
pub(crate) fn header_json(h: &Header) -> String {
    json!({
        "version": h.version,
        "suite": h.suite,
        "envelope_id": hex(&h.envelope_id),
        "labels": {
            "subject": h.labels.subject,
            "category": h.labels.category,
            "purpose": h.labels.purpose,
            "content_type": h.labels.content_type,
            "created_at": h.labels.created_at,
        },
        "part": h.part.map(|p| json!({"set_id": hex(&p.set_id), "index": p.index, "count": p.count})),
        "recipients": h.recipients.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        "header_len": h.header_len,
    })
    .to_string()
}

/// Plaintext (or other secret-bearing output) into a `caduceus_bytes`
/// without leaving a copy behind.
fn secret_bytes(mut data: Zeroizing<Vec<u8>>) -> caduceus_bytes {
    caduceus_bytes::new(std::mem::take(&mut *data))
}

// ---------------------------------------------------------------------------
// One-shot
// ---------------------------------------------------------------------------

/// Seal `plaintext` (`len` bytes, may be 0) to the `n` public keys in
/// `recipients` with `labels`; the envelope is written to a new
/// `caduceus_bytes` in `out_envelope`. For media larger than a few
/// megabytes use the streaming [`caduceus_sealer_new`].
/// Errors: `CADUCEUS_NO_RECIPIENTS`, `CADUCEUS_DUPLICATE_RECIPIENT`,
/// `CADUCEUS_TOO_MANY_RECIPIENTS`, `CADUCEUS_INVALID_LABEL`,
/// `CADUCEUS_INVALID_UTF8`, `CADUCEUS_INPUT_TOO_LARGE`.
///
/// # Safety
/// `recipients` valid for reads of `n` live public key handles (NULL only
/// if `n` is 0); `labels` valid (see [`caduceus_labels`]); `plaintext`
/// valid for reads of `len` bytes (NULL only if `len` is 0);
/// `out_envelope` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_seal(
    recipients: *const *const caduceus_public_key,
    n: usize,
    labels: *const caduceus_labels,
    plaintext: *const u8,
    len: usize,
    out_envelope: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_envelope)?;
        // SAFETY: forwarded caller contract.
        let keys = unsafe { public_keys(recipients, n) }?;
        // SAFETY: forwarded caller contract.
        let labels = unsafe { self::labels(labels) }?;
        // SAFETY: forwarded caller contract.
        let plaintext = unsafe { slice(plaintext, len) }?;
        let sealed = envelope::seal(&keys, &labels, plaintext, &mut rng()?).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_envelope, caduceus_bytes::public(sealed)) };
        Ok(())
    })
}

/// Open a whole envelope (`len` bytes) with `identity` and write the
/// plaintext to a new `caduceus_bytes` (zeroized on free). Nothing is
/// released unless every segment authenticates.
/// Errors: `CADUCEUS_NO_ACCESS` (not a recipient), `CADUCEUS_TRUNCATED`
/// (shorter than its header, or cut at a segment boundary),
/// `CADUCEUS_TRAILING_DATA` (extended by a segment or more),
/// `CADUCEUS_SEGMENT_CORRUPTED` (a modified segment; also a length that is
/// off inside the last segment, since the tag is no longer where it
/// belongs), `CADUCEUS_HEADER_CORRUPTED`, `CADUCEUS_MALFORMED_HEADER`,
/// `CADUCEUS_BAD_MAGIC`, `CADUCEUS_UNSUPPORTED_VERSION`.
///
/// # Safety
/// `data` valid for reads of `len` bytes (NULL only if `len` is 0);
/// `identity` a live handle; `out_plaintext` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_open(
    data: *const u8,
    len: usize,
    identity: *const caduceus_private_key,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_plaintext)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        let opened = envelope::open(data, &identity.key).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(
                out_plaintext,
                secret_bytes(Zeroizing::new(opened.plaintext)),
            )
        };
        Ok(())
    })
}

/// As [`caduceus_envelope_open`], with the first of the `n` private keys in
/// `identities` that is a recipient (`CADUCEUS_NO_ACCESS` if none is).
///
/// # Safety
/// As [`caduceus_envelope_open`]; `identities` valid for reads of `n` live
/// private key handles (NULL only if `n` is 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_open_any(
    data: *const u8,
    len: usize,
    identities: *const *const caduceus_private_key,
    n: usize,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_plaintext)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let handles = unsafe { handle_array(identities, n) }?;
        let keys: Vec<PrivateKey> = handles.iter().map(|h| h.key.clone()).collect();
        let opened = envelope::open_any(data, &keys).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(
                out_plaintext,
                secret_bytes(Zeroizing::new(opened.plaintext)),
            )
        };
        Ok(())
    })
}

/// The full open path: `staff` (or practice) private key -> keyring
/// `record` -> subject-category key -> plaintext, into a new
/// `caduceus_bytes`. Errors as [`caduceus_envelope_open`], plus
/// `CADUCEUS_KEY_SHREDDED` (the record was shredded) and
/// `CADUCEUS_NO_ACCESS` (`staff` holds no wrap in the record, or the record
/// is not a recipient of the envelope).
///
/// # Safety
/// As [`caduceus_envelope_open`]; `record` and `staff` live handles.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_open_with_keyring(
    data: *const u8,
    len: usize,
    record: *const caduceus_keyring_record,
    staff: *const caduceus_private_key,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_plaintext)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        // SAFETY: forwarded caller contract.
        let staff = unsafe { handle(staff) }?;
        let opened = envelope::open_with_keyring(data, &record.record, &staff.key).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(
                out_plaintext,
                secret_bytes(Zeroizing::new(opened.plaintext)),
            )
        };
        Ok(())
    })
}

/// Read the header of an envelope without any key (labels, part, recipient
/// key ids) and write it as JSON text to a new `caduceus_bytes`, one UTF-8
/// object of this schema (member order not significant):
///
/// ```text
/// {
///   "version": 1,                          format version
///   "suite": 1,                            cipher suite id
///   "envelope_id": "<32 hex digits>",
///   "labels": {
///     "subject": "<pseudonym>", "category": "<data category>",
///     "purpose": "<purpose>", "content_type": "<media type>",
///     "created_at": <int64, Unix seconds>
///   },
///   "part": null | {"set_id": "<32 hex digits>", "index": <1-based>, "count": <n>},
///   "recipients": ["<key id, 32 hex digits>", ...],   in stanza order
///   "header_len": <header bytes incl. its MAC = offset of the payload>
/// }
/// ```
///
/// For branching without JSON see [`caduceus_envelope_header_len`] and
/// [`caduceus_envelope_has_recipient`]. `data` may be
/// the whole envelope or just its first bytes (at least the header; see
/// [`caduceus_envelope_header_len`]). Nothing is authenticated yet: use it
/// for routing and retention, not for trust.
/// Errors: `CADUCEUS_TRUNCATED`, `CADUCEUS_BAD_MAGIC`,
/// `CADUCEUS_UNSUPPORTED_VERSION`, `CADUCEUS_MALFORMED_HEADER`,
/// `CADUCEUS_INVALID_LABEL`.
///
/// # Safety
/// `data` valid for reads of `len` bytes (NULL only if `len` is 0);
/// `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_inspect(
    data: *const u8,
    len: usize,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_json)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        let header = envelope::inspect(data).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_json, caduceus_bytes::text(header_json(&header))) };
        Ok(())
    })
}

/// The length of an envelope's header (prefix, body and MAC: the offset of
/// the payload) from its first `CADUCEUS_ENVELOPE_PREFIX_LEN` (10) bytes,
/// into `out_len`: how much to read before [`caduceus_envelope_inspect`].
/// Errors: `CADUCEUS_TRUNCATED` (fewer than 10 bytes),
/// `CADUCEUS_BAD_MAGIC`, `CADUCEUS_UNSUPPORTED_VERSION`,
/// `CADUCEUS_MALFORMED_HEADER` (a length of 0 or longer than the format
/// allows, or version 0). An unknown version whose prefix is otherwise a
/// version-1 prefix gets its version-1 length: only the whole header tells
/// a damaged version byte (`CADUCEUS_MALFORMED_HEADER` from
/// [`caduceus_envelope_inspect`]) from a newer version
/// (`CADUCEUS_UNSUPPORTED_VERSION`); see FORMAT.md 5.8.
///
/// # Safety
/// `data` valid for reads of `len` bytes (NULL only if `len` is 0);
/// `out_len` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_header_len(
    data: *const u8,
    len: usize,
    out_len: *mut usize,
) -> caduceus_result {
    guard(|| {
        check_out(out_len)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        let n = header_len_from_prefix(data).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_out(out_len, n) };
        Ok(())
    })
}

/// Whether the key with id `key_id` (32 hexadecimal digits) is a recipient
/// of the envelope, into `out_is_recipient`, read from the header without
/// any key (not authenticated: the final word is an open). Errors as
/// [`caduceus_envelope_inspect`], plus `CADUCEUS_INVALID_KEY` (not a key
/// id) and `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `data` valid for reads of `len` bytes (NULL only if `len` is 0);
/// `key_id` a NUL-terminated string; `out_is_recipient` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_has_recipient(
    data: *const u8,
    len: usize,
    key_id_hex: *const c_char,
    out_is_recipient: *mut bool,
) -> caduceus_result {
    guard(|| {
        check_out(out_is_recipient)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let id = key_id(unsafe { text(key_id_hex) }?)?;
        let header = envelope::inspect(data).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_out(out_is_recipient, header.recipients.contains(&id)) };
        Ok(())
    })
}

/// Re-key the recipients of a whole envelope: a new envelope with stanzas
/// added for the `n_add` public keys in `add` and removed for the `n_remove`
/// key ids (32 hexadecimal digits each) in `remove`, written to a new
/// `caduceus_bytes`. The payload bytes are unchanged. `identity` must be a
/// recipient. Errors: `CADUCEUS_NO_ACCESS` (`identity`, or a key id in
/// `remove`, is not a recipient), `CADUCEUS_NO_RECIPIENTS` (nobody would be
/// left), `CADUCEUS_DUPLICATE_RECIPIENT`, `CADUCEUS_TOO_MANY_RECIPIENTS`,
/// `CADUCEUS_INVALID_KEY`, the errors of [`caduceus_envelope_open`] for the
/// header.
///
/// # Safety
/// `data` valid for reads of `len` bytes; `identity` a live handle; `add`
/// valid for reads of `n_add` live public key handles and `remove` of
/// `n_remove` NUL-terminated strings (each array NULL only if its count is
/// 0); `out_envelope` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_rewrap(
    data: *const u8,
    len: usize,
    identity: *const caduceus_private_key,
    add: *const *const caduceus_public_key,
    n_add: usize,
    remove: *const *const c_char,
    n_remove: usize,
    out_envelope: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_envelope)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        // SAFETY: forwarded caller contract.
        let add = unsafe { public_keys(add, n_add) }?;
        // SAFETY: forwarded caller contract.
        let remove = unsafe { text_array(remove, n_remove) }?
            .into_iter()
            .map(key_id)
            .collect::<Result<Vec<_>, _>>()?;
        let out =
            envelope::rewrap(data, &identity.key, &add, &remove, &mut rng()?).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_envelope, caduceus_bytes::public(out)) };
        Ok(())
    })
}

/// As [`caduceus_envelope_rewrap`], keeping the practice able to open: the
/// `n_practice` key ids in `practice` (32 hexadecimal digits each) name the
/// practice keys (the header does not record kinds; the identity and added
/// keys of kind practice count too). If the envelope has a practice
/// recipient, one must remain: `CADUCEUS_LAST_RECIPIENT` otherwise (to
/// rotate the practice key, add the new one in the same call). A key id in
/// `remove` that is not a recipient gives `CADUCEUS_NO_ACCESS`.
///
/// # Safety
/// As [`caduceus_envelope_rewrap`]; `practice` valid for reads of
/// `n_practice` NUL-terminated strings (NULL only if `n_practice` is 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_envelope_rewrap_keeping(
    data: *const u8,
    len: usize,
    identity: *const caduceus_private_key,
    add: *const *const caduceus_public_key,
    n_add: usize,
    remove: *const *const c_char,
    n_remove: usize,
    practice: *const *const c_char,
    n_practice: usize,
    out_envelope: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_envelope)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        // SAFETY: forwarded caller contract.
        let add = unsafe { public_keys(add, n_add) }?;
        // SAFETY: forwarded caller contract.
        let remove = unsafe { text_array(remove, n_remove) }?
            .into_iter()
            .map(key_id)
            .collect::<Result<Vec<_>, _>>()?;
        // SAFETY: forwarded caller contract.
        let practice = unsafe { text_array(practice, n_practice) }?
            .into_iter()
            .map(key_id)
            .collect::<Result<Vec<_>, _>>()?;
        let out =
            envelope::rewrap_keeping(data, &identity.key, &add, &remove, &practice, &mut rng()?)
                .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_envelope, caduceus_bytes::public(out)) };
        Ok(())
    })
}

/// Open segment `index` (0-based; segments hold `CADUCEUS_SEGMENT_SIZE`
/// plaintext bytes) of a whole envelope without decrypting the segments
/// before it; the plaintext goes to a new `caduceus_bytes`. Errors:
/// `CADUCEUS_SEGMENT_OUT_OF_RANGE`, and those of
/// [`caduceus_envelope_open`].
///
/// # Safety
/// As [`caduceus_envelope_open`].
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_open_segment(
    data: *const u8,
    len: usize,
    identity: *const caduceus_private_key,
    index: u64,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_plaintext)?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        let plaintext = envelope::open_segment(data, &identity.key, index).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_plaintext, secret_bytes(Zeroizing::new(plaintext))) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Streaming sealer
// ---------------------------------------------------------------------------

enum SealerState {
    Sealing(Box<PayloadSealer>),
    Finished,
    Failed,
}

/// A streaming sealer for media of any size: created by
/// [`caduceus_sealer_new`] (which returns the header to write first), fed
/// with [`caduceus_sealer_update`], ended with [`caduceus_sealer_finish`],
/// released with [`caduceus_sealer_free`]. It holds at most one 64 KiB
/// segment; the envelope is the header followed by every output in order,
/// in the same format and of the same length as what
/// [`caduceus_envelope_seal`] writes for the same plaintext. After `finish`, or after a failed
/// call, every further `update` or `finish` gives `CADUCEUS_WRONG_STATE`.
///
/// Thread safety: mutable; one thread at a time.
#[allow(non_camel_case_types)]
pub struct caduceus_sealer {
    state: SealerState,
}

/// Start sealing to the `n` public keys in `recipients` with `labels`:
/// writes the new sealer to `out_sealer` and the envelope header (to store
/// first) to a new `caduceus_bytes` in `out_header`. Errors as
/// [`caduceus_envelope_seal`].
///
/// # Safety
/// `recipients` valid for reads of `n` live public key handles (NULL only
/// if `n` is 0); `labels` valid; `out_sealer` and `out_header` valid for a
/// write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_sealer_new(
    recipients: *const *const caduceus_public_key,
    n: usize,
    labels: *const caduceus_labels,
    out_sealer: *mut *mut caduceus_sealer,
    out_header: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_sealer)?;
        check_out(out_header)?;
        // SAFETY: forwarded caller contract.
        let keys = unsafe { public_keys(recipients, n) }?;
        // SAFETY: forwarded caller contract.
        let labels = unsafe { self::labels(labels) }?;
        let (header, sealer) =
            envelope::begin_seal(&keys, &labels, None, &mut rng()?).map_err(fail)?;
        // SAFETY: both checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(
                out_sealer,
                caduceus_sealer {
                    state: SealerState::Sealing(Box::new(sealer)),
                },
            );
            write_handle(out_header, caduceus_bytes::public(header));
        }
        Ok(())
    })
}

fn wrong_state(what: &str) -> caduceus_result {
    set_last_error(format!(
        "the {what} was already finished, or failed earlier; start a new one"
    ));
    CADUCEUS_WRONG_STATE
}

/// Seal the next `len` bytes of plaintext (may be 0); the ciphertext
/// produced (whole segments; possibly empty) goes to a new `caduceus_bytes`
/// in `out_ciphertext`, to append after the header and earlier outputs.
///
/// # Safety
/// `sealer` a live handle not used concurrently; `data` valid for reads of
/// `len` bytes (NULL only if `len` is 0); `out_ciphertext` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_sealer_update(
    sealer: *mut caduceus_sealer,
    data: *const u8,
    len: usize,
    out_ciphertext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_ciphertext)?;
        // SAFETY: forwarded caller contract.
        let sealer = unsafe { handle_mut(sealer) }?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        let SealerState::Sealing(inner) = &mut sealer.state else {
            return Err(wrong_state("sealer"));
        };
        let mut out = Vec::with_capacity(len.saturating_add(2 * envelope::SEGMENT_CIPHERTEXT_SIZE));
        if let Err(e) = inner.push(data, &mut out) {
            sealer.state = SealerState::Failed;
            return Err(fail(e));
        }
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_ciphertext, caduceus_bytes::public(out)) };
        Ok(())
    })
}

/// Seal the final segment; its ciphertext goes to a new `caduceus_bytes` in
/// `out_ciphertext` and completes the envelope. A second call gives
/// `CADUCEUS_WRONG_STATE`.
///
/// # Safety
/// `sealer` a live handle not used concurrently; `out_ciphertext` valid for
/// a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_sealer_finish(
    sealer: *mut caduceus_sealer,
    out_ciphertext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_ciphertext)?;
        // SAFETY: forwarded caller contract.
        let sealer = unsafe { handle_mut(sealer) }?;
        let SealerState::Sealing(inner) = std::mem::replace(&mut sealer.state, SealerState::Failed)
        else {
            return Err(wrong_state("sealer"));
        };
        let mut out = Vec::with_capacity(envelope::SEGMENT_CIPHERTEXT_SIZE);
        inner.finish(&mut out).map_err(fail)?;
        sealer.state = SealerState::Finished;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_ciphertext, caduceus_bytes::public(out)) };
        Ok(())
    })
}

/// Zeroize and free a sealer (finished or not). NULL is a no-op. An
/// unfinished envelope is incomplete and will not open.
///
/// # Safety
/// `sealer` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_sealer_free(sealer: *mut caduceus_sealer) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(sealer) }
    })
}

// ---------------------------------------------------------------------------
// Streaming opener
// ---------------------------------------------------------------------------

/// A streaming opener: created by [`caduceus_opener_new`] with the
/// identity to open with, fed the envelope in pieces of any size (the
/// header may arrive split) with [`caduceus_opener_update`], ended with
/// [`caduceus_opener_finish`], released with [`caduceus_opener_free`]. It
/// holds at most the header (up to about 16 KiB) and one 64 KiB segment.
///
/// Plaintext is released one authenticated segment at a time. Only a
/// successful `finish` proves the envelope was complete: if any call
/// fails, discard all plaintext received from this opener. After `finish`,
/// or after a failed call, every further `update` or `finish` gives
/// `CADUCEUS_WRONG_STATE`.
///
/// Thread safety: mutable; one thread at a time.
#[allow(non_camel_case_types)]
pub struct caduceus_opener(PushOpener);

/// A new streaming opener that opens with `identity` (a copy is kept,
/// zeroized on free), into `out_opener`.
///
/// # Safety
/// `identity` a live handle; `out_opener` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_opener_new(
    identity: *const caduceus_private_key,
    out_opener: *mut *mut caduceus_opener,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(identity, out_opener, |identity| {
                Ok(caduceus_opener(PushOpener::new(identity.key.clone())))
            })
        }
    })
}

/// Feed the next `len` bytes of the envelope (may be 0). The plaintext of
/// the segments authenticated so far (possibly empty) goes to a new
/// `caduceus_bytes` in `out_plaintext`. Once the header is complete it is
/// authenticated with the identity: `CADUCEUS_NO_ACCESS` if that is not a
/// recipient, `CADUCEUS_HEADER_CORRUPTED` if it was modified; a modified
/// segment gives `CADUCEUS_SEGMENT_CORRUPTED`, other damage the errors of
/// [`caduceus_envelope_open`]. After a failure the opener is unusable.
///
/// # Safety
/// `opener` a live handle not used concurrently; `data` valid for reads of
/// `len` bytes (NULL only if `len` is 0); `out_plaintext` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_opener_update(
    opener: *mut caduceus_opener,
    data: *const u8,
    len: usize,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_plaintext)?;
        // SAFETY: forwarded caller contract.
        let opener = unsafe { handle_mut(opener) }?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        if opener.0.is_closed() {
            return Err(wrong_state("opener"));
        }
        // The plaintext released is at most the input plus one buffered
        // segment: reserve it all, so that the vector never reallocates and
        // leaves plaintext behind in freed memory.
        let mut out = Zeroizing::new(Vec::with_capacity(
            len.saturating_add(envelope::SEGMENT_CIPHERTEXT_SIZE),
        ));
        opener.0.push(data, &mut out).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_plaintext, secret_bytes(out)) };
        Ok(())
    })
}

/// End the envelope: authenticate the final segment and write its
/// plaintext to a new `caduceus_bytes` in `out_plaintext`. Only now is the
/// whole plaintext proven complete. `CADUCEUS_TRUNCATED` if the input ended
/// early (also inside the header); a second call gives
/// `CADUCEUS_WRONG_STATE`.
///
/// # Safety
/// `opener` a live handle not used concurrently; `out_plaintext` valid for
/// a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_opener_finish(
    opener: *mut caduceus_opener,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_plaintext)?;
        // SAFETY: forwarded caller contract.
        let opener = unsafe { handle_mut(opener) }?;
        let mut out = Zeroizing::new(Vec::with_capacity(envelope::SEGMENT_CIPHERTEXT_SIZE));
        if opener.0.is_closed() {
            return Err(wrong_state("opener"));
        }
        opener.0.finish(&mut out).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_plaintext, secret_bytes(out)) };
        Ok(())
    })
}

/// The authenticated header of the envelope being opened, as JSON text
/// (the schema of [`caduceus_envelope_inspect`]) in a new `caduceus_bytes`.
/// `CADUCEUS_WRONG_STATE` until the header has arrived and been
/// authenticated, and after a failure.
///
/// # Safety
/// `opener` a live handle; `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_opener_header(
    opener: *const caduceus_opener,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_json)?;
        // SAFETY: forwarded caller contract.
        let opener = unsafe { handle(opener) }?;
        let Some(header) = opener.0.header() else {
            set_last_error(
                "the header has not been authenticated (not yet arrived, or the opener failed)",
            );
            return Err(CADUCEUS_WRONG_STATE);
        };
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_json, caduceus_bytes::text(header_json(header))) };
        Ok(())
    })
}

/// Zeroize and free an opener (finished or not). NULL is a no-op.
///
/// # Safety
/// `opener` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_opener_free(opener: *mut caduceus_opener) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(opener) }
    })
}

// ---------------------------------------------------------------------------
// Envelope sets
// ---------------------------------------------------------------------------

/// Seal `n_parts` plaintexts as one envelope set: part `i` is
/// `parts[i]` of `part_lens[i]` bytes, sealed to its own envelope whose
/// authenticated header says "part i+1 of n_parts". On success `n_parts`
/// new `caduceus_bytes` are written to the caller's array `out_envelopes`
/// (free each); on failure nothing is. Errors: `CADUCEUS_PART_SET` (0 or
/// more than 65535 parts), and those of [`caduceus_envelope_seal`].
///
/// # Safety
/// `recipients` valid for reads of `n` live public key handles; `labels`
/// valid; `parts` and `part_lens` valid for reads of `n_parts` elements,
/// each `parts[i]` valid for `part_lens[i]` bytes (NULL only if that length
/// is 0); `out_envelopes` valid for writes of `n_parts` pointers.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_envelope_seal_parts(
    recipients: *const *const caduceus_public_key,
    n: usize,
    labels: *const caduceus_labels,
    parts: *const *const u8,
    part_lens: *const usize,
    n_parts: usize,
    out_envelopes: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_envelopes)?;
        // SAFETY: forwarded caller contract.
        let keys = unsafe { public_keys(recipients, n) }?;
        // SAFETY: forwarded caller contract.
        let labels = unsafe { self::labels(labels) }?;
        // SAFETY: forwarded caller contract: n_parts pointers.
        let ptrs = unsafe { slice_of(parts, n_parts) }?;
        // SAFETY: forwarded caller contract: n_parts lengths.
        let lens = unsafe { slice_of(part_lens, n_parts) }?;
        let plaintexts = ptrs
            .iter()
            .zip(lens)
            .map(|(p, l)| {
                // SAFETY: forwarded caller contract: parts[i] valid for part_lens[i] bytes.
                unsafe { slice(*p, *l) }
            })
            .collect::<Result<Vec<&[u8]>, _>>()?;
        let sealed =
            envelope::seal_parts(&keys, &labels, &plaintexts, &mut rng()?).map_err(fail)?;
        if sealed.len() != n_parts {
            set_last_error("internal error: another number of envelopes than parts");
            return Err(CADUCEUS_INTERNAL);
        }
        for (i, env) in sealed.into_iter().enumerate() {
            // SAFETY: out_envelopes is non-NULL and valid for n_parts writes
            // per the caller's contract; i < n_parts.
            unsafe { write_handle(out_envelopes.add(i), caduceus_bytes::public(env)) };
        }
        Ok(())
    })
}

/// Collects the opened envelopes of one set, in any order, and tells which
/// parts are missing: [`caduceus_part_set_new`], [`caduceus_part_set_add`],
/// [`caduceus_part_set_count`], [`caduceus_part_set_is_complete`],
/// [`caduceus_part_set_missing`], [`caduceus_part_set_assemble`],
/// [`caduceus_part_set_free`].
///
/// Thread safety: `add` mutates, one thread at a time; the `const` calls
/// may run concurrently with each other.
#[allow(non_camel_case_types)]
pub struct caduceus_part_set {
    set: PartSet,
}

/// A new, empty envelope set collector into `out_set`.
///
/// # Safety
/// `out_set` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_new(
    out_set: *mut *mut caduceus_part_set,
) -> caduceus_result {
    guard(|| {
        check_out(out_set)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(
                out_set,
                caduceus_part_set {
                    set: PartSet::new(),
                },
            )
        };
        Ok(())
    })
}

/// Open one envelope of a set with `identity` and add it. Errors:
/// `CADUCEUS_PART_SET` (not part of a set, another set, a different count,
/// a part received twice), and those of [`caduceus_envelope_open`]; on
/// failure the set is unchanged.
///
/// # Safety
/// `set` a live handle not used concurrently; `data` valid for reads of
/// `len` bytes (NULL only if `len` is 0); `identity` a live handle.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_add(
    set: *mut caduceus_part_set,
    data: *const u8,
    len: usize,
    identity: *const caduceus_private_key,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let set = unsafe { handle_mut(set) }?;
        // SAFETY: forwarded caller contract.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        let opened = envelope::open(data, &identity.key).map_err(fail)?;
        set.set.add(opened).map_err(fail)
    })
}

/// The number of parts the set announces (0 before the first part) into
/// `out_count`.
///
/// # Safety
/// `set` a live handle; `out_count` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_count(
    set: *const caduceus_part_set,
    out_count: *mut u32,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(set, out_count, |set| Ok(set.set.count())) }
    })
}

/// Whether every part arrived, into `out_complete`.
///
/// # Safety
/// `set` a live handle; `out_complete` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_is_complete(
    set: *const caduceus_part_set,
    out_complete: *mut bool,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(set, out_complete, |set| Ok(set.set.is_complete())) }
    })
}

/// The 1-based indices of the parts not yet received, as a JSON array of
/// integers (e.g. `[2,3]`; `[]` when complete or before the first part) in
/// a new `caduceus_bytes`.
///
/// # Safety
/// `set` a live handle; `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_missing(
    set: *const caduceus_part_set,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(set, out_json, |set| {
                let json = serde_json::Value::from(set.set.missing()).to_string();
                Ok(caduceus_bytes::text(json))
            })
        }
    })
}

/// The concatenated plaintext of a complete set, in part order, in a new
/// `caduceus_bytes`. `CADUCEUS_PART_SET` if parts are missing.
///
/// # Safety
/// `set` a live handle; `out_plaintext` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_assemble(
    set: *const caduceus_part_set,
    out_plaintext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(set, out_plaintext, |set| {
                let plaintext = Zeroizing::new(set.set.assemble().map_err(fail)?);
                Ok(secret_bytes(plaintext))
            })
        }
    })
}

/// Free an envelope set collector. NULL is a no-op.
///
/// # Safety
/// `set` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_part_set_free(set: *mut caduceus_part_set) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(set) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_boundary_becomes_caduceus_panic() {
        let r = guard(|| panic!("boom"));
        assert_eq!(r, CADUCEUS_PANIC);
        assert_eq!(guard_value(7u32, || panic!("boom")), 7);
        assert_eq!(guard(|| Ok(())), CADUCEUS_OK);
    }

    #[test]
    #[allow(unsafe_code)]
    fn impossible_counts_are_refused_before_any_read() {
        let p = std::ptr::NonNull::<usize>::dangling().as_ptr();
        // SAFETY: the count is rejected before the pointer is read.
        let r = unsafe { slice_of(p.cast_const(), usize::MAX) };
        assert_eq!(r.err(), Some(CADUCEUS_INVALID_ARGUMENT));
    }
}
