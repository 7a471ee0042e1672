//! C ABI of `caduceus_core::keys`: private and public keys of the practice
//! key hierarchy, and subject-category keyring records.
//!
//! Thread safety: the three handles of this module are immutable once
//! created. Every call that takes a `const` handle only reads it, so one
//! handle may be used from several threads at the same time; freeing a
//! handle must not race with any other use of it.

use std::ffi::c_char;

use caduceus_core::keys::{KeyId, KeyKind, KeyringRecord, KeyringState, PrivateKey, PublicKey};
use getrandom::SysRng;
use rand_core::UnwrapErr;

use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_array, read_handle_out,
    read_out, set_last_error, slice, text, text_array, write_handle, write_out,
};
use crate::bytes::caduceus_bytes;
use crate::result::caduceus_result::{self, *};

/// Key kind: the practice (controller) key. Text forms `cdpractice1…` /
/// `CADUCEUS-PRACTICE-SECRET-KEY-1…`.
pub const CADUCEUS_KEY_KIND_PRACTICE: u32 = 1;
/// Key kind: a staff member device or role key (`cdstaff1…`).
pub const CADUCEUS_KEY_KIND_STAFF: u32 = 2;
/// Key kind: a (patient pseudonym, data category) key (`cdsubject1…`).
pub const CADUCEUS_KEY_KIND_SUBJECT_CATEGORY: u32 = 3;

/// Keyring record state: active, the subject-category key can be unwrapped.
pub const CADUCEUS_KEYRING_ACTIVE: u32 = 1;
/// Keyring record state: shredded, the key and the data sealed to it are erased.
pub const CADUCEUS_KEYRING_SHREDDED: u32 = 2;

/// An X25519 private key (practice, staff or subject-category), created by
/// [`caduceus_private_key_generate`], [`caduceus_private_key_from_secret`]
/// or [`caduceus_keyring_record_unwrap`] and released with
/// [`caduceus_private_key_free`], which zeroizes it.
///
/// Thread safety: immutable; may be used from several threads at once.
#[allow(non_camel_case_types)]
pub struct caduceus_private_key {
    pub(crate) key: PrivateKey,
}

/// An X25519 public key with its kind, created by
/// [`caduceus_public_key_parse`], [`caduceus_private_key_public_key`] or
/// [`caduceus_keyring_record_public_key`]; released with
/// [`caduceus_public_key_free`].
///
/// Thread safety: immutable; may be used from several threads at once.
#[allow(non_camel_case_types)]
pub struct caduceus_public_key {
    pub(crate) key: PublicKey,
}

/// A subject-category keyring record: one (patient pseudonym, data
/// category) public key and its private key wrapped to each recipient
/// (the practice key and authorised staff keys). Every change returns a
/// NEW record handle and leaves the old one untouched: store the new
/// record's bytes before discarding the old ones. Released with
/// [`caduceus_keyring_record_free`].
///
/// Thread safety: immutable; may be used from several threads at once.
#[allow(non_camel_case_types)]
pub struct caduceus_keyring_record {
    pub(crate) record: KeyringRecord,
}

/// The operating system's random number generator, checked first so that a
/// broken one is a clean error (`CADUCEUS_INTERNAL`) instead of a panic.
pub(crate) fn rng() -> Result<UnwrapErr<SysRng>, caduceus_result> {
    let mut probe = [0u8; 16];
    getrandom::fill(&mut probe).map_err(|_| {
        set_last_error("the operating system's random number generator failed");
        CADUCEUS_INTERNAL
    })?;
    Ok(UnwrapErr(SysRng))
}

fn key_kind(kind: u32) -> Result<KeyKind, caduceus_result> {
    match kind {
        CADUCEUS_KEY_KIND_PRACTICE => Ok(KeyKind::Practice),
        CADUCEUS_KEY_KIND_STAFF => Ok(KeyKind::Staff),
        CADUCEUS_KEY_KIND_SUBJECT_CATEGORY => Ok(KeyKind::SubjectCategory),
        _ => {
            set_last_error("unknown key kind; use one of the CADUCEUS_KEY_KIND_* constants");
            Err(CADUCEUS_INVALID_ARGUMENT)
        }
    }
}

fn kind_code(kind: KeyKind) -> Result<u32, caduceus_result> {
    match kind {
        KeyKind::Practice => Ok(CADUCEUS_KEY_KIND_PRACTICE),
        KeyKind::Staff => Ok(CADUCEUS_KEY_KIND_STAFF),
        KeyKind::SubjectCategory => Ok(CADUCEUS_KEY_KIND_SUBJECT_CATEGORY),
        _ => {
            set_last_error("a key kind this version of the C ABI does not know");
            Err(CADUCEUS_INTERNAL)
        }
    }
}

/// Parse a key id given as 32 hexadecimal digits.
pub(crate) fn key_id(text: &str) -> Result<KeyId, caduceus_result> {
    text.parse::<KeyId>().map_err(fail)
}

/// The public keys behind an array of `n` public key handles.
///
/// # Safety
/// As [`handle_array`].
#[allow(unsafe_code)]
pub(crate) unsafe fn public_keys(
    ptr: *const *const caduceus_public_key,
    n: usize,
) -> Result<Vec<PublicKey>, caduceus_result> {
    // SAFETY: forwarded caller contract.
    let handles = unsafe { handle_array(ptr, n) }?;
    Ok(handles.iter().map(|h| h.key).collect())
}

/// Key id text as library-allocated NUL-terminated text.
fn key_id_text(id: KeyId) -> caduceus_bytes {
    caduceus_bytes::text(id.to_string())
}

// ---------------------------------------------------------------------------
// Private keys
// ---------------------------------------------------------------------------

/// Generate a fresh key pair of `kind` (one of `CADUCEUS_KEY_KIND_*`) from
/// the operating system's random number generator and write its handle to
/// `out_key`. An unknown kind gives `CADUCEUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `out_key` must be valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_generate(
    kind: u32,
    out_key: *mut *mut caduceus_private_key,
) -> caduceus_result {
    guard(|| {
        check_out(out_key)?;
        let kind = key_kind(kind)?;
        let key = PrivateKey::generate(kind, &mut rng()?);
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_key, caduceus_private_key { key }) };
        Ok(())
    })
}

/// Parse the text form of a private key (`CADUCEUS-STAFF-SECRET-KEY-1…`;
/// surrounding whitespace is ignored) and write its handle to `out_key`.
/// Errors: `CADUCEUS_INVALID_KEY` (malformed, bad checksum, a public key
/// text), `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `secret` must be a NUL-terminated string; `out_key` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_from_secret(
    secret: *const c_char,
    out_key: *mut *mut caduceus_private_key,
) -> caduceus_result {
    guard(|| {
        check_out(out_key)?;
        // SAFETY: forwarded caller contract.
        let secret = unsafe { text(secret) }?;
        let key = PrivateKey::from_secret_str(secret).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_key, caduceus_private_key { key }) };
        Ok(())
    })
}

/// The text form of the private key (upper-case Bech32, e.g.
/// `CADUCEUS-STAFF-SECRET-KEY-1…`) as NUL-terminated text in a new
/// `caduceus_bytes`. It is key material: write it only to protected
/// storage; `caduceus_bytes_free` zeroizes it.
///
/// # Safety
/// `key` must be a live handle; `out_secret` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_to_secret(
    key: *const caduceus_private_key,
    out_secret: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(key, out_secret, |key| {
                let secret = key.key.to_secret_string();
                // Room for the NUL that `caduceus_bytes::text` appends, so the
                // secret is never reallocated (which would leave a copy behind).
                let mut copy = String::with_capacity(secret.len() + 1);
                copy.push_str(&secret);
                Ok(caduceus_bytes::text(copy))
            })
        }
    })
}

/// The public half of a private key, as a new public key handle.
///
/// # Safety
/// `key` must be a live handle; `out_public` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_public_key(
    key: *const caduceus_private_key,
    out_public: *mut *mut caduceus_public_key,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(key, out_public, |key| {
                Ok(caduceus_public_key {
                    key: key.key.public_key(),
                })
            })
        }
    })
}

/// The kind of a private key (`CADUCEUS_KEY_KIND_*`) into `out_kind`.
///
/// # Safety
/// `key` must be a live handle; `out_kind` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_kind(
    key: *const caduceus_private_key,
    out_kind: *mut u32,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(key, out_kind, |key| kind_code(key.key.kind())) }
    })
}

/// The key id of the private key's public half: 32 lowercase hexadecimal
/// digits as NUL-terminated text in a new `caduceus_bytes`.
///
/// # Safety
/// `key` must be a live handle; `out_id` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_id(
    key: *const caduceus_private_key,
    out_id: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_handle_out(key, out_id, |key| Ok(key_id_text(key.key.key_id()))) }
    })
}

/// Zeroize and free a private key. NULL is a no-op.
///
/// # Safety
/// `key` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_private_key_free(key: *mut caduceus_private_key) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(key) }
    })
}

// ---------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------

/// Parse the text form of a public key of any kind (`cdpractice1…`,
/// `cdstaff1…`, `cdsubject1…`; surrounding whitespace is ignored).
/// Errors: `CADUCEUS_INVALID_KEY` (also for a public key that is not a
/// canonical X25519 u-coordinate: bit 255 set, or 2^255 - 19 or more),
/// `CADUCEUS_WEAK_KEY` (a low-order point), `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `text` must be a NUL-terminated string; `out_key` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_public_key_parse(
    text_form: *const c_char,
    out_key: *mut *mut caduceus_public_key,
) -> caduceus_result {
    guard(|| {
        check_out(out_key)?;
        // SAFETY: forwarded caller contract.
        let s = unsafe { text(text_form) }?;
        let key = s.parse::<PublicKey>().map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_key, caduceus_public_key { key }) };
        Ok(())
    })
}

/// The text form of a public key (`cdstaff1…`) as NUL-terminated text in a
/// new `caduceus_bytes`.
///
/// # Safety
/// `key` must be a live handle; `out_text` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_public_key_to_text(
    key: *const caduceus_public_key,
    out_text: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(key, out_text, |key| {
                Ok(caduceus_bytes::text(key.key.to_string()))
            })
        }
    })
}

/// The kind of a public key (`CADUCEUS_KEY_KIND_*`) into `out_kind`.
///
/// # Safety
/// `key` must be a live handle; `out_kind` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_public_key_kind(
    key: *const caduceus_public_key,
    out_kind: *mut u32,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(key, out_kind, |key| kind_code(key.key.kind())) }
    })
}

/// The key id of a public key: 32 lowercase hexadecimal digits as
/// NUL-terminated text in a new `caduceus_bytes`.
///
/// # Safety
/// `key` must be a live handle; `out_id` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_public_key_id(
    key: *const caduceus_public_key,
    out_id: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_handle_out(key, out_id, |key| Ok(key_id_text(key.key.key_id()))) }
    })
}

/// Free a public key. NULL is a no-op.
///
/// # Safety
/// `key` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_public_key_free(key: *mut caduceus_public_key) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(key) }
    })
}

// ---------------------------------------------------------------------------
// Keyring records
// ---------------------------------------------------------------------------

/// Create the keyring record of (`subject` pseudonym, `category`) on first
/// contact: generate the subject-category key pair, wrap its private half
/// to each of the `n` public keys in `recipients` (usually the practice key
/// and the authorised staff keys), and write the new record to
/// `out_record`. `created_at` is Unix seconds (UTC).
/// Errors: `CADUCEUS_NO_RECIPIENTS` (`n` is 0), `CADUCEUS_INVALID_LABEL`,
/// `CADUCEUS_DUPLICATE_RECIPIENT`, `CADUCEUS_TOO_MANY_RECIPIENTS`,
/// `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `subject` and `category` must be NUL-terminated strings; `recipients`
/// valid for reads of `n` live public key handles (NULL only if `n` is 0);
/// `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_create(
    subject: *const c_char,
    category: *const c_char,
    recipients: *const *const caduceus_public_key,
    n: usize,
    created_at: i64,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        check_out(out_record)?;
        // SAFETY: forwarded caller contract.
        let subject = unsafe { text(subject) }?;
        // SAFETY: forwarded caller contract.
        let category = unsafe { text(category) }?;
        // SAFETY: forwarded caller contract.
        let keys = unsafe { public_keys(recipients, n) }?;
        let record = KeyringRecord::create(subject, category, &keys, created_at, &mut rng()?)
            .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_record, caduceus_keyring_record { record }) };
        Ok(())
    })
}

/// Parse a stored keyring record, strictly (exact length, canonical
/// encoding, known version). Errors: `CADUCEUS_MALFORMED_RECORD` (also for
/// a truncated buffer, bytes after the record, or a damaged version byte in
/// front of a version-1 record; the last error says which),
/// `CADUCEUS_UNSUPPORTED_VERSION` (a newer record format), `CADUCEUS_INVALID_LABEL`,
/// `CADUCEUS_DUPLICATE_RECIPIENT`, `CADUCEUS_TOO_MANY_RECIPIENTS`,
/// `CADUCEUS_INVALID_KEY` (a public key that is not canonical),
/// `CADUCEUS_WEAK_KEY`.
///
/// # Safety
/// `data` must be valid for reads of `len` bytes (NULL only if `len` is 0);
/// `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_from_bytes(
    data: *const u8,
    len: usize,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        check_out(out_record)?;
        // SAFETY: forwarded caller contract.
        let bytes = unsafe { slice(data, len) }?;
        let record = KeyringRecord::from_bytes(bytes).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_record, caduceus_keyring_record { record }) };
        Ok(())
    })
}

/// The canonical binary encoding of a record (docs/FORMAT.md, "Keyring
/// record") in a new `caduceus_bytes`, for the host to store.
///
/// # Safety
/// `record` must be a live handle; `out_bytes` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_to_bytes(
    record: *const caduceus_keyring_record,
    out_bytes: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(record, out_bytes, |record| {
                Ok(caduceus_bytes::public(record.record.to_bytes()))
            })
        }
    })
}

/// Unwrap the subject-category private key with a staff or practice key
/// (`identity`) and write it to `out_key` (free it with
/// `caduceus_private_key_free`). Errors: `CADUCEUS_NO_ACCESS` (`identity`
/// holds no wrap), `CADUCEUS_KEY_SHREDDED`, `CADUCEUS_MALFORMED_RECORD` (a
/// damaged wrap).
///
/// # Safety
/// `record` and `identity` must be live handles; `out_key` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_unwrap(
    record: *const caduceus_keyring_record,
    identity: *const caduceus_private_key,
    out_key: *mut *mut caduceus_private_key,
) -> caduceus_result {
    guard(|| {
        check_out(out_key)?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        let key = record.record.unwrap(&identity.key).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_key, caduceus_private_key { key }) };
        Ok(())
    })
}

/// A NEW record with wraps added for the `n` public keys in `recipients`;
/// `identity` must be able to unwrap `record`. `record` is unchanged.
/// Errors: `CADUCEUS_NO_ACCESS`, `CADUCEUS_KEY_SHREDDED`,
/// `CADUCEUS_DUPLICATE_RECIPIENT`, `CADUCEUS_TOO_MANY_RECIPIENTS`.
///
/// # Safety
/// `record` and `identity` must be live handles; `recipients` valid for
/// reads of `n` live public key handles (NULL only if `n` is 0);
/// `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_add_recipients(
    record: *const caduceus_keyring_record,
    identity: *const caduceus_private_key,
    recipients: *const *const caduceus_public_key,
    n: usize,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        check_out(out_record)?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        // SAFETY: forwarded caller contract.
        let keys = unsafe { public_keys(recipients, n) }?;
        let next = record
            .record
            .add_recipients(&identity.key, &keys, &mut rng()?)
            .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_record, caduceus_keyring_record { record: next }) };
        Ok(())
    })
}

/// A NEW record without the wrap of the recipient whose key id (32
/// hexadecimal digits) is `key_id`: a departing or compromised staff key.
/// Needs no secret. `record` is unchanged. Errors: `CADUCEUS_NO_ACCESS`
/// (not a recipient), `CADUCEUS_LAST_RECIPIENT`, `CADUCEUS_KEY_SHREDDED`,
/// `CADUCEUS_INVALID_KEY` (not a key id), `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `record` must be a live handle; `key_id` a NUL-terminated string;
/// `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_revoke_recipient(
    record: *const caduceus_keyring_record,
    key_id_hex: *const c_char,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        check_out(out_record)?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        // SAFETY: forwarded caller contract.
        let id = key_id(unsafe { text(key_id_hex) }?)?;
        let next = record.record.revoke_recipient(&id).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_record, caduceus_keyring_record { record: next }) };
        Ok(())
    })
}

/// As [`caduceus_keyring_record_revoke_recipient`], keeping the practice
/// able to unwrap: the `n_practice` key ids in `practice` (32 hexadecimal
/// digits each) name the practice keys (a record does not record kinds).
/// Revoking the last of them that holds a wrap gives
/// `CADUCEUS_LAST_RECIPIENT`; a key id without a wrap `CADUCEUS_NO_ACCESS`.
///
/// # Safety
/// As [`caduceus_keyring_record_revoke_recipient`]; `practice` valid for
/// reads of `n_practice` NUL-terminated strings (NULL only if `n_practice`
/// is 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_revoke_recipient_keeping(
    record: *const caduceus_keyring_record,
    key_id_hex: *const c_char,
    practice: *const *const c_char,
    n_practice: usize,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        check_out(out_record)?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        // SAFETY: forwarded caller contract.
        let id = key_id(unsafe { text(key_id_hex) }?)?;
        // SAFETY: forwarded caller contract.
        let practice = unsafe { text_array(practice, n_practice) }?
            .into_iter()
            .map(key_id)
            .collect::<Result<Vec<_>, _>>()?;
        let next = record
            .record
            .revoke_recipient_keeping(&id, &practice)
            .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_record, caduceus_keyring_record { record: next }) };
        Ok(())
    })
}

/// A NEW record in which the wrap of `old_key_id` (32 hexadecimal digits)
/// is replaced by one for `new_key` (key rotation); `identity` must be able
/// to unwrap `record`. `record` is unchanged. Errors: `CADUCEUS_NO_ACCESS`,
/// `CADUCEUS_KEY_SHREDDED`, `CADUCEUS_DUPLICATE_RECIPIENT`,
/// `CADUCEUS_INVALID_KEY`, `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `record`, `identity` and `new_key` must be live handles; `old_key_id` a
/// NUL-terminated string; `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_rotate_recipient(
    record: *const caduceus_keyring_record,
    identity: *const caduceus_private_key,
    old_key_id: *const c_char,
    new_key: *const caduceus_public_key,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        check_out(out_record)?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        // SAFETY: forwarded caller contract.
        let identity = unsafe { handle(identity) }?;
        // SAFETY: forwarded caller contract.
        let old = key_id(unsafe { text(old_key_id) }?)?;
        // SAFETY: forwarded caller contract.
        let new_key = unsafe { handle(new_key) }?;
        let next = record
            .record
            .rotate_recipient(&identity.key, &old, &new_key.key, &mut rng()?)
            .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_record, caduceus_keyring_record { record: next }) };
        Ok(())
    })
}

/// Rotate the practice key across `n` records: every active record gets a
/// wrap for `new_practice` in place of `old_practice`'s; shredded records
/// are copied unchanged. All or nothing: on success `n` NEW record handles
/// are written to the caller's array `out_records` (in input order; free
/// each); on failure nothing is written and the last error names the index
/// of the first record that failed. `n` may be 0.
///
/// # Safety
/// `records` valid for reads of `n` live record handles and `out_records`
/// for writes of `n` pointers (each NULL only if `n` is 0);
/// `old_practice` and `new_practice` live handles.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_rotate_practice_key(
    records: *const *const caduceus_keyring_record,
    n: usize,
    old_practice: *const caduceus_private_key,
    new_practice: *const caduceus_public_key,
    out_records: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        if n > 0 {
            check_out(out_records)?;
        }
        // SAFETY: forwarded caller contract.
        let handles = unsafe { handle_array(records, n) }?;
        // SAFETY: forwarded caller contract.
        let old = unsafe { handle(old_practice) }?;
        // SAFETY: forwarded caller contract.
        let new = unsafe { handle(new_practice) }?;
        let list: Vec<KeyringRecord> = handles.iter().map(|h| h.record.clone()).collect();
        let rotated = KeyringRecord::rotate_practice_key(&list, &old.key, &new.key, &mut rng()?)
            .map_err(|(i, e)| {
                set_last_error(format!("record {i}: {e}"));
                caduceus_result::from(e)
            })?;
        if rotated.len() != n {
            set_last_error("internal error: rotation returned another number of records");
            return Err(CADUCEUS_INTERNAL);
        }
        for (i, record) in rotated.into_iter().enumerate() {
            // SAFETY: out_records is non-NULL (n > 0) and valid for n writes
            // per the caller's contract; i < n.
            unsafe { write_handle(out_records.add(i), caduceus_keyring_record { record }) };
        }
        Ok(())
    })
}

/// A NEW record that is the tombstone of `record`: every wrap destroyed, so
/// the subject-category key (and every envelope sealed to it, backups
/// included) is unrecoverable. `at` is the shred time, Unix seconds. Store
/// it in place of the old record and roll keyring backups past it.
///
/// # Safety
/// `record` must be a live handle; `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_shred(
    record: *const caduceus_keyring_record,
    at: i64,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(record, out_record, |record| {
                let next = record.record.shred(at);
                Ok(caduceus_keyring_record { record: next })
            })
        }
    })
}

/// The subject-category public key that sealers encrypt to, as a new
/// public key handle (kind `CADUCEUS_KEY_KIND_SUBJECT_CATEGORY`).
///
/// # Safety
/// `record` must be a live handle; `out_key` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_public_key(
    record: *const caduceus_keyring_record,
    out_key: *mut *mut caduceus_public_key,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(record, out_key, |record| {
                Ok(caduceus_public_key {
                    key: record.record.public_key(),
                })
            })
        }
    })
}

/// The record's state into `out_state` (`CADUCEUS_KEYRING_ACTIVE` or
/// `CADUCEUS_KEYRING_SHREDDED`) and the shred time (Unix seconds; 0 if
/// active) into `out_shredded_at`.
///
/// # Safety
/// `record` must be a live handle; `out_state` and `out_shredded_at` valid
/// for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_state(
    record: *const caduceus_keyring_record,
    out_state: *mut u32,
    out_shredded_at: *mut i64,
) -> caduceus_result {
    guard(|| {
        check_out(out_state)?;
        check_out(out_shredded_at)?;
        // SAFETY: forwarded caller contract.
        let record = unsafe { handle(record) }?;
        let (state, at) = match record.record.state() {
            KeyringState::Active => (CADUCEUS_KEYRING_ACTIVE, 0),
            KeyringState::Shredded { at } => (CADUCEUS_KEYRING_SHREDDED, at),
            _ => {
                set_last_error("a keyring state this version of the C ABI does not know");
                return Err(CADUCEUS_INTERNAL);
            }
        };
        // SAFETY: both checked non-NULL; valid per the caller's contract.
        unsafe {
            write_out(out_state, state);
            write_out(out_shredded_at, at);
        }
        Ok(())
    })
}

/// The subject pseudonym of the record as NUL-terminated text in a new
/// `caduceus_bytes`.
///
/// # Safety
/// `record` must be a live handle; `out_subject` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_subject(
    record: *const caduceus_keyring_record,
    out_subject: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(record, out_subject, |record| {
                Ok(caduceus_bytes::text(record.record.subject().to_owned()))
            })
        }
    })
}

/// The data category of the record as NUL-terminated text in a new
/// `caduceus_bytes`.
///
/// # Safety
/// `record` must be a live handle; `out_category` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_category(
    record: *const caduceus_keyring_record,
    out_category: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(record, out_category, |record| {
                Ok(caduceus_bytes::text(record.record.category().to_owned()))
            })
        }
    })
}

/// The creation time of the record (Unix seconds) into `out_created_at`.
///
/// # Safety
/// `record` must be a live handle; `out_created_at` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_created_at(
    record: *const caduceus_keyring_record,
    out_created_at: *mut i64,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_out(record, out_created_at, |record| {
                Ok(record.record.created_at())
            })
        }
    })
}

/// The number of recipients holding a wrap (0 for a shredded record) into
/// `out_count`.
///
/// # Safety
/// `record` must be a live handle; `out_count` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_recipient_count(
    record: *const caduceus_keyring_record,
    out_count: *mut usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_out(record, out_count, |record| {
                Ok(record.record.recipients().len())
            })
        }
    })
}

/// The key id (32 hexadecimal digits, NUL-terminated text in a new
/// `caduceus_bytes`) of recipient `index` (0-based, below
/// [`caduceus_keyring_record_recipient_count`]); an index past the end
/// gives `CADUCEUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `record` must be a live handle; `out_id` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_recipient_id(
    record: *const caduceus_keyring_record,
    index: usize,
    out_id: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(record, out_id, |record| {
                let id = record
                    .record
                    .recipients()
                    .get(index)
                    .copied()
                    .ok_or_else(|| {
                        set_last_error("recipient index out of range");
                        CADUCEUS_INVALID_ARGUMENT
                    })?;
                Ok(key_id_text(id))
            })
        }
    })
}

/// Free a keyring record. NULL is a no-op.
///
/// # Safety
/// `record` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_record_free(record: *mut caduceus_keyring_record) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(record) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn arrays_with_impossible_counts_are_refused_before_any_read() {
        let dangling = std::ptr::NonNull::<*const caduceus_public_key>::dangling().as_ptr();
        // SAFETY: the count is rejected before the pointer is read.
        let r = unsafe { handle_array(dangling.cast_const(), usize::MAX) };
        assert_eq!(r.err(), Some(CADUCEUS_INVALID_ARGUMENT));
        let texts = std::ptr::NonNull::<*const c_char>::dangling().as_ptr();
        // SAFETY: as above.
        let r = unsafe { text_array(texts.cast_const(), usize::MAX / 2) };
        assert_eq!(r.err(), Some(CADUCEUS_INVALID_ARGUMENT));
        // SAFETY: NULL with a zero count is an empty array; nothing is read.
        let r = unsafe { handle_array::<caduceus_public_key>(std::ptr::null(), 0) };
        assert!(r.is_ok_and(|v| v.is_empty()));
    }

    #[test]
    #[allow(unsafe_code)]
    fn non_canonical_public_keys_are_refused() {
        // The staff key of the FORMAT.md vectors, then the same bytes with
        // bit 255 set (a valid Bech32 text), and u = 2^255 - 1.
        let canonical = c"cdstaff1q9epw4gagxw6zc54htq8fgwnlhcz5sewt5rh84u5qypezu4t9anq0ldp42";
        let mut key: *mut caduceus_public_key = std::ptr::null_mut();
        // SAFETY: NUL-terminated text, valid out pointer.
        let rc = unsafe { caduceus_public_key_parse(canonical.as_ptr(), &mut key) };
        assert_eq!(rc, caduceus_result::CADUCEUS_OK);
        // SAFETY: a handle from parse, freed once.
        unsafe { caduceus_public_key_free(key) };
        for text in [
            c"cdstaff1q9epw4gagxw6zc54htq8fgwnlhcz5sewt5rh84u5qypezu4t9lnqtmlxwn",
            c"cdpractice1lllllllllllllllllllllllllllllllllllllllllllllllllalsha42ax",
        ] {
            let mut key: *mut caduceus_public_key = std::ptr::null_mut();
            // SAFETY: as above.
            let rc = unsafe { caduceus_public_key_parse(text.as_ptr(), &mut key) };
            assert_eq!(rc, CADUCEUS_INVALID_KEY);
            assert!(key.is_null());
            let mut buf = [0u8; 512];
            let mut n = 0usize;
            // SAFETY: buf is valid for its length, n for a write.
            let rc = unsafe {
                crate::boundary::caduceus_last_error(buf.as_mut_ptr(), buf.len(), &mut n)
            };
            assert_eq!(rc, caduceus_result::CADUCEUS_OK);
            let detail = String::from_utf8_lossy(&buf[..n]);
            assert!(detail.contains("not in canonical form"), "{detail}");
        }
    }

    #[test]
    fn key_kinds_map_both_ways() {
        for code in [
            CADUCEUS_KEY_KIND_PRACTICE,
            CADUCEUS_KEY_KIND_STAFF,
            CADUCEUS_KEY_KIND_SUBJECT_CATEGORY,
        ] {
            assert_eq!(kind_code(key_kind(code).unwrap()).unwrap(), code);
        }
        assert_eq!(key_kind(0).err(), Some(CADUCEUS_INVALID_ARGUMENT));
        assert!(rng().is_ok());
    }
}
