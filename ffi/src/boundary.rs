//! The panic boundary, the per-thread last error, and the checked
//! conversions of caller pointers. All `unsafe` pointer handling of the
//! crate goes through the few functions here.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::caduceus_result::{self, *};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Record the calling thread's last error detail. Callers pass only
/// messages of core error types (which by design never contain key material
/// or personal data) or fixed strings.
pub(crate) fn set_last_error(detail: impl Into<String>) {
    let detail = detail.into();
    LAST_ERROR.with(|e| *e.borrow_mut() = detail);
}

/// An error with its detail recorded for `caduceus_last_error`.
pub(crate) fn fail<E: std::fmt::Display + Into<caduceus_result>>(e: E) -> caduceus_result {
    set_last_error(e.to_string());
    e.into()
}

/// Run `f` inside the panic boundary: a panic becomes `CADUCEUS_PANIC`.
/// The last error is cleared first, so after a failure it describes that
/// failure and nothing older.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), caduceus_result>) -> caduceus_result {
    LAST_ERROR.with(|e| e.borrow_mut().clear());
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CADUCEUS_OK,
        Ok(Err(code)) => {
            if code != CADUCEUS_OK {
                LAST_ERROR.with(|e| {
                    if e.borrow().is_empty() {
                        *e.borrow_mut() = code.message().to_owned();
                    }
                });
            }
            code
        }
        Err(_) => {
            set_last_error("internal panic caught at the C boundary");
            CADUCEUS_PANIC
        }
    }
}

/// Run `f` inside the panic boundary for functions without a result
/// (`_free`, accessors): a panic is swallowed and `default` returned.
pub(crate) fn guard_value<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// Borrow `(ptr, len)` as a byte slice. `ptr` may be NULL only if `len` is 0.
///
/// # Safety
/// If `ptr` is not NULL it must be valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn slice<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], caduceus_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        set_last_error("a buffer pointer was NULL with a non-zero length");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    if len > isize::MAX as usize {
        set_last_error("a buffer length is larger than any valid buffer");
        return Err(CADUCEUS_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, length bounded, validity guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrow a NUL-terminated UTF-8 string.
///
/// # Safety
/// If `ptr` is not NULL it must point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, caduceus_result> {
    if ptr.is_null() {
        set_last_error("a text pointer was NULL");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map_err(|_| {
        set_last_error("a text argument is not valid UTF-8");
        CADUCEUS_INVALID_UTF8
    })
}

/// Borrow `n` elements of `T` at `ptr` (NULL only if `n` is 0).
///
/// # Safety
/// If `ptr` is not NULL it must be valid for reads of `n` elements for `'a`.
pub(crate) unsafe fn slice_of<'a, T>(ptr: *const T, n: usize) -> Result<&'a [T], caduceus_result> {
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        set_last_error("an array pointer was NULL with a non-zero count");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    if n > isize::MAX as usize / size_of::<T>().max(1) {
        set_last_error("an array count is larger than any valid array");
        return Err(CADUCEUS_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, size bounded, valid per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// Borrow an array of `n` pointers (as [`slice_of`]) and convert each
/// element with `each`, stopping at the first failure.
///
/// # Safety
/// As [`slice_of`] for `ptr`; `each` must be sound for every element.
unsafe fn map_array<'a, P: Copy + 'a, R>(
    ptr: *const P,
    n: usize,
    each: impl FnMut(P) -> Result<R, caduceus_result>,
) -> Result<Vec<R>, caduceus_result> {
    // SAFETY: forwarded caller contract.
    let ptrs = unsafe { slice_of(ptr, n) }?;
    ptrs.iter().copied().map(each).collect()
}

/// Borrow an array of `n` handle pointers; `ptr` may be NULL only if `n` is
/// 0, and no element may be NULL.
///
/// # Safety
/// If `ptr` is not NULL it must be valid for reads of `n` pointers, each a
/// live handle of type `T`, for `'a`.
pub(crate) unsafe fn handle_array<'a, T>(
    ptr: *const *const T,
    n: usize,
) -> Result<Vec<&'a T>, caduceus_result> {
    // SAFETY: forwarded caller contract; each element is NULL (rejected) or
    // a live handle per the caller's contract.
    unsafe { map_array(ptr, n, |p| handle(p)) }
}

/// Borrow an array of `n` NUL-terminated UTF-8 strings (as [`handle_array`]).
///
/// # Safety
/// If `ptr` is not NULL it must be valid for reads of `n` pointers, each a
/// NUL-terminated string, for `'a`.
pub(crate) unsafe fn text_array<'a>(
    ptr: *const *const c_char,
    n: usize,
) -> Result<Vec<&'a str>, caduceus_result> {
    // SAFETY: forwarded caller contract; each element is NULL (rejected) or
    // a NUL-terminated string per the caller's contract.
    unsafe { map_array(ptr, n, |p| text(p)) }
}

/// Borrow a handle immutably.
///
/// # Safety
/// If `ptr` is not NULL it must be a live handle of type `T` created by this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T) -> Result<&'a T, caduceus_result> {
    if ptr.is_null() {
        set_last_error("a handle pointer was NULL");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    // SAFETY: a live handle per the caller's contract.
    Ok(unsafe { &*ptr })
}

/// Borrow a handle mutably.
///
/// # Safety
/// If `ptr` is not NULL it must be a live handle of type `T` created by this
/// library, not used concurrently.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, caduceus_result> {
    if ptr.is_null() {
        set_last_error("a handle pointer was NULL");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    // SAFETY: a live, unaliased handle per the caller's contract.
    Ok(unsafe { &mut *ptr })
}

/// Check an out-parameter before any work is done.
pub(crate) fn check_out<T>(out: *mut T) -> Result<(), caduceus_result> {
    if out.is_null() {
        set_last_error("an out-parameter pointer was NULL");
        return Err(CADUCEUS_NULL_PARAMETER);
    }
    Ok(())
}

/// Write `value` to a checked out-parameter (only on success).
///
/// # Safety
/// `out` must be non-NULL (see [`check_out`]) and valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: checked non-NULL earlier; valid per the caller's contract.
    unsafe { out.write(value) }
}

/// Move `value` into a new heap handle and write it to `out`.
///
/// # Safety
/// As [`write_out`].
pub(crate) unsafe fn write_handle<T>(out: *mut *mut T, value: T) {
    // SAFETY: forwarded.
    unsafe { write_out(out, Box::into_raw(Box::new(value))) }
}

/// The shape of a read-only accessor: check `out`, borrow the handle `h`,
/// and write `get(h)` to `out` (in that order; nothing is written on failure).
///
/// # Safety
/// `h` NULL or a live handle of type `H`; `out` NULL or valid for a write of `T`.
pub(crate) unsafe fn read_out<H, T>(
    h: *const H,
    out: *mut T,
    get: impl FnOnce(&H) -> Result<T, caduceus_result>,
) -> Result<(), caduceus_result> {
    check_out(out)?;
    // SAFETY: forwarded caller contract.
    let h = unsafe { handle(h) }?;
    let value = get(h)?;
    // SAFETY: checked non-NULL; valid per the caller's contract.
    unsafe { write_out(out, value) };
    Ok(())
}

/// As [`read_out`], writing `get(h)` as a new heap handle (see [`write_handle`]).
///
/// # Safety
/// As [`read_out`].
pub(crate) unsafe fn read_handle_out<H, T>(
    h: *const H,
    out: *mut *mut T,
    get: impl FnOnce(&H) -> Result<T, caduceus_result>,
) -> Result<(), caduceus_result> {
    // SAFETY: forwarded caller contract.
    unsafe { read_out(h, out, |h| get(h).map(|v| Box::into_raw(Box::new(v)))) }
}

/// Free a handle created by [`write_handle`]; NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or a handle of type `T` from this library, not used afterwards.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: created by Box::into_raw in write_handle, freed once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Write `msg` NUL-terminated into `(buf, len)` and its length to `out_n`.
///
/// # Safety
/// `buf` valid for `len` bytes of writes (or NULL with `len` 0); `out_n`
/// valid for a write.
pub(crate) unsafe fn write_text(
    msg: &str,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> Result<(), caduceus_result> {
    check_out(out_n)?;
    // SAFETY: checked non-NULL; valid per the caller's contract.
    unsafe { write_out(out_n, msg.len()) };
    if len < msg.len() + 1 || buf.is_null() {
        return Err(CADUCEUS_BUFFER_TOO_SMALL);
    }
    // SAFETY: buf is valid for len >= msg.len() + 1 bytes.
    let dst = unsafe { std::slice::from_raw_parts_mut(buf, msg.len() + 1) };
    let (text, nul) = dst.split_at_mut(msg.len());
    text.copy_from_slice(msg.as_bytes());
    if let Some(n) = nul.first_mut() {
        *n = 0;
    }
    Ok(())
}

/// The calling thread's last error detail, NUL-terminated, into `(buf,
/// len)`; its length (without the NUL) into `out_n`. Empty if no call on
/// this thread has failed. Never contains key material or personal data.
/// `CADUCEUS_BUFFER_TOO_SMALL` reports the required length in `out_n`.
///
/// # Safety
/// `buf` must be valid for `len` bytes of writes; `out_n` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caduceus_last_error(
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> caduceus_result {
    // Not `guard`: reading the detail must not clear or replace it, so a
    // caller can ask for the size first and then fetch it.
    let read = catch_unwind(AssertUnwindSafe(|| {
        let detail = LAST_ERROR.with(|e| e.borrow().clone());
        // SAFETY: forwarded caller contract.
        unsafe { write_text(&detail, buf, len, out_n) }
    }));
    match read {
        Ok(Ok(())) => CADUCEUS_OK,
        Ok(Err(code)) => code,
        Err(_) => CADUCEUS_PANIC,
    }
}

/// The library version as a static NUL-terminated string, e.g. "0.1.0"; it
/// equals the `CADUCEUS_VERSION` macro of the header it was built with.
#[unsafe(no_mangle)]
pub extern "C" fn caduceus_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}
