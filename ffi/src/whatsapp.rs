//! C ABI of `caduceus_core::whatsapp`: webhook intake checks (docs/WHATSAPP.md
//! section 1, docs/FFI.md).

use std::ffi::c_char;

use caduceus_core::whatsapp::{verify_signature, verify_subscription};

use crate::boundary::{check_out, fail, guard, slice, text, write_handle, write_out};
use crate::bytes::caduceus_bytes;
use crate::consent::buffers;
use crate::result::caduceus_result::{self, *};

/// Verify the `X-Hub-Signature-256` header of a WhatsApp webhook POST before
/// the body is parsed: HMAC-SHA256 of `(body, body_len)` exactly as received
/// under each app secret `(secrets[i], secret_lens[i])`, `i < n_secrets`
/// (several during a rotation), compared in constant time.
///
/// `header` is the header's value (`sha256=` and 64 hex digits, either
/// case; surrounding whitespace ignored), NUL-terminated, or NULL when the
/// request has no such header. On success the index of the secret that
/// matched (0 for the first) is written to `out_index`.
///
/// Results: `CADUCEUS_WHATSAPP_NO_SECRETS` (no secret, or an empty one),
/// `CADUCEUS_WHATSAPP_BODY_TOO_LARGE` (over 3 MiB),
/// `CADUCEUS_WHATSAPP_SIGNATURE_MISSING` (NULL or empty header),
/// `CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED` (also for a header that is not
/// UTF-8), `CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH`.
///
/// # Safety
/// `body` valid for `body_len` bytes (NULL only with 0); `header` NULL or
/// NUL-terminated; `secrets` and `secret_lens` valid for `n_secrets`
/// elements (NULL only with 0), each `(secrets[i], secret_lens[i])` a valid
/// buffer; `out_index` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_verify_signature(
    body: *const u8,
    body_len: usize,
    header: *const c_char,
    secrets: *const *const u8,
    secret_lens: *const usize,
    n_secrets: usize,
    out_index: *mut usize,
) -> caduceus_result {
    guard(|| {
        check_out(out_index)?;
        // SAFETY: forwarded caller contract.
        let body = unsafe { slice(body, body_len) }?;
        // SAFETY: forwarded caller contract.
        let secrets = unsafe { buffers(secrets, secret_lens, n_secrets) }?;
        let header = if header.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated per the caller's contract.
            match unsafe { text(header) } {
                Ok(h) => Some(h),
                Err(CADUCEUS_INVALID_UTF8) => {
                    return Err(fail(caduceus_core::whatsapp::SignatureError::Malformed));
                }
                Err(code) => return Err(code),
            }
        };
        let matched = verify_signature(body, header, &secrets).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_out(out_index, matched.index()) };
        Ok(())
    })
}

/// Check a webhook verification GET: `mode` (`hub.mode`, must be
/// `subscribe`), `token` (`hub.verify_token`, compared in constant time with
/// `expected_token`) and `challenge` (`hub.challenge`, 1 to 256 characters
/// from `A-Z a-z 0-9 . _ -`). On success a copy of the challenge, the
/// response body to send, is written to `out_challenge` (free it with
/// `caduceus_bytes_free`).
///
/// Results: `CADUCEUS_WHATSAPP_NO_VERIFY_TOKEN` (empty `expected_token`),
/// `CADUCEUS_WHATSAPP_SUBSCRIPTION_MODE`, `CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN`,
/// `CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE`.
///
/// # Safety
/// The four texts NUL-terminated; `out_challenge` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_verify_subscription(
    mode: *const c_char,
    token: *const c_char,
    challenge: *const c_char,
    expected_token: *const c_char,
    out_challenge: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_challenge)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let (mode, token, challenge, expected) = unsafe {
            (
                text(mode)?,
                text(token)?,
                text(challenge)?,
                text(expected_token)?,
            )
        };
        let echo = verify_subscription(mode, token, challenge, expected).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_challenge, caduceus_bytes::text(echo.to_owned())) };
        Ok(())
    })
}
