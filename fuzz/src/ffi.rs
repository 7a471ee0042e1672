//! Helpers of the C ABI targets (`ffi_*`): the checks every result code
//! must pass, C strings from fuzz input, taking (and freeing) returned
//! buffers, and fixed handles created once through the C ABI.
//!
//! The C functions are called through the rlib of `caduceus-ffi` (library
//! name `caduceus`), exactly as a C host would call them: raw pointers in,
//! result codes and out-parameters back.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use caduceus::caduceus_result::{self, *};
use caduceus::*;
use caduceus_core::keys::PrivateKey;

use crate::{
    audit_fixture, fixed_key, identity, keyring_base, other_identity, practice_identity,
    staff_identity,
};

/// Check a result code, right after the call (every guarded call, also the
/// `caduceus_result_message` made here, clears the last error, so call it
/// once per result): it is never a caught panic or an internal error,
/// `caduceus_result_message` knows it, and a failure leaves a last-error
/// detail. Returns whether the call succeeded. With `CADUCEUS_FUZZ_TRACE`
/// set, prints each result and its call site (to see what seeds reach).
#[track_caller]
pub fn ok(rc: caduceus_result) -> bool {
    // Read the last error first: every guarded call (also
    // `caduceus_result_message`) clears it.
    let detail = last_error();
    if trace() {
        let at = std::panic::Location::caller();
        eprintln!("trace {}:{} {rc:?} {detail}", at.file(), at.line());
    }
    assert_ne!(
        rc, CADUCEUS_PANIC,
        "a panic was caught at the C boundary: {detail}"
    );
    assert_ne!(
        rc, CADUCEUS_INTERNAL,
        "an internal invariant failed: {detail}"
    );
    if rc != CADUCEUS_OK {
        assert!(!detail.is_empty(), "{rc:?} without a last-error detail");
    }
    let mut buf = [0xAAu8; 256];
    let mut n = usize::MAX;
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes, `n` for a write.
    let r = unsafe { caduceus_result_message(rc as u32, buf.as_mut_ptr(), buf.len(), &mut n) };
    assert_eq!(r, CADUCEUS_OK, "no message for result code {}", rc as u32);
    assert!(
        n > 0 && n < buf.len(),
        "message length {n} for code {}",
        rc as u32
    );
    assert_eq!(buf[n], 0, "message not NUL-terminated");
    assert!(std::str::from_utf8(&buf[..n]).is_ok(), "message not UTF-8");
    rc == CADUCEUS_OK
}

/// An operation of a C ABI target: its input, and whether to also pass
/// NULL pointers.
pub type Op = fn(&[u8], bool);

/// Run the operation a C ABI target's input selects: the first byte's low
/// 3 bits pick one of `ops`, its bit 7 asks for the NULL-pointer calls, the
/// rest is the operation's input. An empty input does nothing.
pub fn run_op(data: &[u8], ops: &[Op; 8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    ops[usize::from(sel % 8)](rest, sel & 0x80 != 0);
}

/// Whether `CADUCEUS_FUZZ_TRACE` is set.
fn trace() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("CADUCEUS_FUZZ_TRACE").is_some())
}

/// Check a result code with [`ok`] and assert that it is `expected`.
#[track_caller]
pub fn assert_code(rc: caduceus_result, expected: caduceus_result, what: &str) {
    let _ = ok(rc);
    assert_eq!(rc, expected, "{what}");
}

/// Assert that a call given a NULL pointer was refused as such.
#[track_caller]
pub fn assert_null(rc: caduceus_result) {
    assert_code(
        rc,
        CADUCEUS_NULL_PARAMETER,
        "a NULL pointer was not refused with CADUCEUS_NULL_PARAMETER",
    );
}

/// The calling thread's last error detail (without clearing it).
pub fn last_error() -> String {
    let mut n = usize::MAX;
    // SAFETY: a NULL buffer with length 0 asks for the size; `n` valid for a write.
    let r = unsafe { caduceus_last_error(ptr::null_mut(), 0, &mut n) };
    assert!(
        r == CADUCEUS_OK || r == CADUCEUS_BUFFER_TOO_SMALL,
        "caduceus_last_error: {r:?}"
    );
    assert_ne!(n, usize::MAX, "caduceus_last_error wrote no length");
    let mut buf = vec![0xAAu8; n + 1];
    let mut m = usize::MAX;
    // SAFETY: `buf` is valid for `n + 1` bytes of writes, `m` for a write.
    let r = unsafe { caduceus_last_error(buf.as_mut_ptr(), buf.len(), &mut m) };
    assert_eq!(r, CADUCEUS_OK);
    assert_eq!(m, n, "the last error changed between two reads");
    assert_eq!(buf[n], 0, "last error not NUL-terminated");
    buf.truncate(n);
    String::from_utf8(buf).expect("the last error is UTF-8")
}

/// A C string of `bytes` as C would read it: up to the first NUL.
pub fn cstr(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).expect("no interior NUL")
}

/// `n` fields of `data` separated by NUL bytes (the last one takes the
/// rest, NULs included); missing fields are empty.
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |&b| b == 0).collect();
    out.resize(n, &[]);
    out
}

/// The contents of a returned buffer, which is freed. Asserts that it is
/// not NULL and that `caduceus_bytes_data` is not NULL.
pub fn take(b: *mut caduceus_bytes) -> Vec<u8> {
    assert!(!b.is_null(), "success without the output buffer");
    // SAFETY: `b` is a live buffer returned by the library.
    let (data, len) = unsafe { (caduceus_bytes_data(b), caduceus_bytes_len(b)) };
    assert!(!data.is_null(), "caduceus_bytes_data gave NULL");
    // SAFETY: `data` is valid for `len` bytes until the buffer is freed.
    let v = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
    // SAFETY: live, freed once, not used afterwards.
    unsafe { caduceus_bytes_free(b) };
    v
}

/// A returned text buffer: NUL-terminated (not counted) UTF-8; freed.
pub fn take_text(b: *mut caduceus_bytes) -> String {
    assert!(!b.is_null(), "success without the output text");
    // SAFETY: `b` is a live buffer returned by the library.
    let (data, len) = unsafe { (caduceus_bytes_data(b), caduceus_bytes_len(b)) };
    assert!(!data.is_null(), "caduceus_bytes_data gave NULL");
    // SAFETY: text buffers hold `len` bytes and a NUL.
    let v = unsafe { std::slice::from_raw_parts(data, len + 1) }.to_vec();
    // SAFETY: live, freed once, not used afterwards.
    unsafe { caduceus_bytes_free(b) };
    assert_eq!(v[len], 0, "text output not NUL-terminated");
    String::from_utf8(v[..len].to_vec()).expect("text output is UTF-8")
}

/// A returned JSON text, parsed; freed.
pub fn take_json(b: *mut caduceus_bytes) -> serde_json::Value {
    let t = take_text(b);
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("JSON output does not parse ({e}): {t}"))
}

/// Free an optional returned buffer (NULL is fine).
pub fn free_bytes(b: *mut caduceus_bytes) {
    // SAFETY: NULL or a live buffer, freed once.
    unsafe { caduceus_bytes_free(b) };
}

/// The text of a new buffer from a `caduceus_bytes **` call that must
/// succeed.
#[track_caller]
pub fn text_of(f: impl FnOnce(*mut *mut caduceus_bytes) -> caduceus_result) -> String {
    let mut out = ptr::null_mut();
    assert!(ok(f(&mut out)));
    take_text(out)
}

/// The out-parameter of a call that returned `rc`: on success, `out`; on
/// failure the code, after checking that `call` left `out` NULL.
#[track_caller]
pub fn out_or_err<T>(
    rc: caduceus_result,
    out: *mut T,
    call: &str,
) -> Result<*mut T, caduceus_result> {
    if ok(rc) {
        Ok(out)
    } else {
        assert!(out.is_null(), "{call} wrote its out-parameter on failure");
        Err(rc)
    }
}

/// As [`out_or_err`] for a returned buffer, taken (and freed).
#[track_caller]
pub fn bytes_or_err(
    rc: caduceus_result,
    out: *mut caduceus_bytes,
    call: &str,
) -> Result<Vec<u8>, caduceus_result> {
    out_or_err(rc, out, call).map(take)
}

/// A parse of a C string through the C ABI (`call` returned `rc` and the
/// out-parameter `out`) against core's parse of the same text (`None`: the
/// text is not UTF-8). On success, core's value; on failure (None), checks
/// that `out` is NULL and that core refuses the `what` with the same code.
#[track_caller]
pub fn parsed_like_core<T, U, E: std::fmt::Debug>(
    rc: caduceus_result,
    out: *mut T,
    core: Option<Result<U, E>>,
    call: &str,
    what: &str,
) -> Option<U>
where
    caduceus_result: From<E>,
{
    match out_or_err(rc, out, call) {
        Ok(_) => Some(
            core.expect("UTF-8")
                .expect("core refuses what the C ABI parsed"),
        ),
        Err(rc) => {
            match core {
                Some(Ok(_)) => panic!("the C ABI refuses a {what} core parses"),
                Some(Err(e)) => assert_eq!(rc, code(e)),
                None => assert_eq!(rc, CADUCEUS_INVALID_UTF8),
            }
            None
        }
    }
}

/// A decode of bytes through the C ABI (`ffi`) against core's decode of
/// the same bytes: both succeed, or both fail with the same code.
#[track_caller]
pub fn decoded_like_core<T: std::fmt::Debug, U, E>(
    ffi: &Result<T, caduceus_result>,
    core: Result<U, E>,
    what: &str,
) where
    caduceus_result: From<E>,
{
    match (ffi, core) {
        (Ok(_), Ok(_)) => {}
        (Err(rc), Err(e)) => assert_eq!(*rc, code(e)),
        (a, b) => panic!(
            "{what}: the C ABI ({a:?}) and core ({}) disagree",
            b.is_ok()
        ),
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key id text of a core private key's public half.
pub fn key_id_text(k: &PrivateKey) -> String {
    k.key_id().to_string()
}

/// A private key handle through `caduceus_private_key_from_secret`.
pub fn private_handle(k: &PrivateKey) -> *mut caduceus_private_key {
    let secret = CString::new(k.to_secret_string().as_str()).expect("key text");
    let mut h = ptr::null_mut();
    // SAFETY: NUL-terminated text; `h` valid for a write.
    assert!(ok(unsafe {
        caduceus_private_key_from_secret(secret.as_ptr(), &mut h)
    }));
    h
}

/// The public key handle of a private key handle.
pub fn public_handle(k: *const caduceus_private_key) -> *mut caduceus_public_key {
    let mut h = ptr::null_mut();
    // SAFETY: `k` a live handle; `h` valid for a write.
    assert!(ok(unsafe { caduceus_private_key_public_key(k, &mut h) }));
    h
}

/// Handles created once and never freed (reachable from a static, so not
/// a leak): the fixed identities, their public keys, the fixed keyring
/// record and the default policy.
pub struct Fixed {
    /// [`identity`] (recipient of the fixed messages).
    pub me: *mut caduceus_private_key,
    /// [`other_identity`].
    pub other: *mut caduceus_private_key,
    /// A third staff key, recipient of nothing.
    pub third: *mut caduceus_private_key,
    /// [`staff_identity`] (recipient of the fixed keyring record).
    pub staff: *mut caduceus_private_key,
    /// [`practice_identity`] (recipient of the fixed keyring record).
    pub practice: *mut caduceus_private_key,
    /// Public key of `me`.
    pub me_pub: *mut caduceus_public_key,
    /// Public key of `other`.
    pub other_pub: *mut caduceus_public_key,
    /// Public key of `third`.
    pub third_pub: *mut caduceus_public_key,
    /// Public key of `staff`.
    pub staff_pub: *mut caduceus_public_key,
    /// Public key of `practice`.
    pub practice_pub: *mut caduceus_public_key,
    /// The fixed keyring record.
    pub record: *mut caduceus_keyring_record,
    /// The default policy.
    pub policy: *mut caduceus_policy,
    /// The fixed audit key.
    pub audit_key: *mut caduceus_audit_key,
}

// SAFETY: the handles are immutable after creation (the C ABI documents
// them as usable from several threads); libFuzzer runs one thread anyway.
unsafe impl Send for Fixed {}
// SAFETY: as above.
unsafe impl Sync for Fixed {}

/// A third fixed key (staff), recipient of nothing.
pub fn third_identity() -> PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    fixed_key(&K, caduceus_core::keys::KeyKind::Staff, 0x33)
}

/// The fixed handles.
pub fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let me = private_handle(&identity());
        let other = private_handle(&other_identity());
        let third = private_handle(&third_identity());
        let staff = private_handle(&staff_identity());
        let practice = private_handle(&practice_identity());
        let rec = &keyring_base().record;
        let mut record = ptr::null_mut();
        // SAFETY: `rec` valid for its length; `record` valid for a write.
        assert!(ok(unsafe {
            caduceus_keyring_record_from_bytes(rec.as_ptr(), rec.len(), &mut record)
        }));
        let mut policy = ptr::null_mut();
        // SAFETY: `policy` valid for a write.
        assert!(ok(unsafe { caduceus_policy_default(&mut policy) }));
        let key_text = CString::new(audit_fixture().audit_key.as_str()).expect("key text");
        let mut audit_key = ptr::null_mut();
        // SAFETY: NUL-terminated text; `audit_key` valid for a write.
        assert!(ok(unsafe {
            caduceus_audit_key_parse(key_text.as_ptr(), &mut audit_key)
        }));
        Fixed {
            me,
            other,
            third,
            staff,
            practice,
            me_pub: public_handle(me),
            other_pub: public_handle(other),
            third_pub: public_handle(third),
            staff_pub: public_handle(staff),
            practice_pub: public_handle(practice),
            record,
            policy,
            audit_key,
        }
    })
}

/// Pointers of C strings, for the `const char *const *` parameters.
pub fn ptrs(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).collect()
}

/// A pointer or NULL for an empty array (allowed with a count of 0).
pub fn array_ptr<T>(v: &[T]) -> *const T {
    if v.is_empty() {
        ptr::null()
    } else {
        v.as_ptr()
    }
}

/// The result of a C call, for `caduceus_result::from` comparisons.
pub fn code<E>(e: E) -> caduceus_result
where
    caduceus_result: From<E>,
{
    caduceus_result::from(e)
}
