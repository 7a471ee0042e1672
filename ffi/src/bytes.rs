//! `caduceus_bytes`: library-allocated output buffers.
#![allow(unsafe_code)]

use zeroize::Zeroize;

use crate::boundary::{free_handle, guard_value};

/// A library-allocated byte buffer returned by the library. Read it with
/// [`caduceus_bytes_data`] and [`caduceus_bytes_len`]; release it with
/// [`caduceus_bytes_free`], which zeroizes contents that may be plaintext,
/// key material or personal data (ciphertext and other public outputs are
/// not wiped). Text results are also NUL-terminated; the
/// NUL is not counted in the length.
#[allow(non_camel_case_types)]
pub struct caduceus_bytes {
    data: Vec<u8>,
    len: usize,
    /// Whether the contents are wiped on free (everything except
    /// ciphertext and other public outputs).
    wipe: bool,
}

impl caduceus_bytes {
    /// Bytes, not NUL-terminated, wiped on free (plaintext, secrets,
    /// personal data).
    pub(crate) fn new(data: Vec<u8>) -> Self {
        let len = data.len();
        Self {
            data,
            len,
            wipe: true,
        }
    }

    /// Bytes that are public or ciphertext (envelopes, keyring records,
    /// audit entries, proofs): not wiped on free, which would cost as much as
    /// sealing them.
    pub(crate) fn public(data: Vec<u8>) -> Self {
        let len = data.len();
        Self {
            data,
            len,
            wipe: false,
        }
    }

    /// Text: NUL-terminated, the NUL not counted in the length.
    pub(crate) fn text(text: String) -> Self {
        let len = text.len();
        let mut data = text.into_bytes();
        data.push(0);
        Self {
            data,
            len,
            wipe: true,
        }
    }
}

impl Drop for caduceus_bytes {
    fn drop(&mut self) {
        if self.wipe {
            self.data.zeroize();
        }
    }
}

/// Pointer to the contents (valid until `caduceus_bytes_free`); NULL if
/// `bytes` is NULL.
///
/// # Safety
/// `bytes` must be NULL or a live `caduceus_bytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caduceus_bytes_data(bytes: *const caduceus_bytes) -> *const u8 {
    guard_value(std::ptr::null(), || {
        // SAFETY: NULL or live per the caller's contract.
        match unsafe { bytes.as_ref() } {
            Some(b) => b.data.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// Length of the contents in bytes (0 if `bytes` is NULL).
///
/// # Safety
/// `bytes` must be NULL or a live `caduceus_bytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caduceus_bytes_len(bytes: *const caduceus_bytes) -> usize {
    guard_value(0, || {
        // SAFETY: NULL or live per the caller's contract.
        unsafe { bytes.as_ref() }.map_or(0, |b| b.len)
    })
}

/// Free a buffer (zeroizing contents that may be secret). NULL is a no-op.
///
/// # Safety
/// `bytes` must be NULL or a live `caduceus_bytes`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caduceus_bytes_free(bytes: *mut caduceus_bytes) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(bytes) }
    })
}
