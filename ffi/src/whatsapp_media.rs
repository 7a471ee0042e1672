//! C ABI of the media sealer (docs/WHATSAPP.md section 5): the bytes of a
//! `fetch-media` decision's attachment, sealed as they are downloaded and
//! checked against the webhook's SHA-256 and the kind's size limit,
//! failing closed (no final segment on a mismatch).

use caduceus_core::whatsapp::{MediaError, MediaPlan, MediaSealer};

use crate::audit::caduceus_audit_log;
use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_mut, read_handle_out,
    set_last_error, slice, text, write_handle,
};
use crate::bytes::caduceus_bytes;
use crate::keys::rng;
use crate::result::caduceus_result::{self, *};
use crate::whatsapp_intake::caduceus_decision;

enum State {
    Sealing(Box<MediaSealer>),
    Finished,
    Failed,
}

/// A media sealer (opaque): created by [`caduceus_media_sealer_new`] from a
/// decision's media plan, fed the downloaded bytes with
/// [`caduceus_media_sealer_update`], ended with
/// [`caduceus_media_sealer_finish`], freed with [`caduceus_media_sealer_free`].
/// It holds at most a few MiB (one 64 KiB segment and the hash buffers);
/// runs of 1 MiB and more are hashed on a second thread.
///
/// After a failed call, or after `finish`, every further `update` or
/// `finish` gives `CADUCEUS_WRONG_STATE`. Only a successful `finish` makes
/// a complete envelope: after any failure discard the header and every
/// output (they are a truncated envelope no opener accepts).
///
/// Thread safety: mutable; one thread at a time.
#[allow(non_camel_case_types)]
pub struct caduceus_media_sealer {
    state: State,
}

fn plan(d: &caduceus_decision) -> Result<&MediaPlan, caduceus_result> {
    d.0.media.as_ref().ok_or_else(|| {
        set_last_error(
            "the decision has no media plan (its kind is not fetch-media); check caduceus_decision_kind first",
        );
        CADUCEUS_WHATSAPP_NOT_IN_DECISION
    })
}

fn wrong_state() -> caduceus_result {
    set_last_error("the media sealer was already finished, or failed earlier; start a new one");
    CADUCEUS_WRONG_STATE
}

/// Start sealing the media of a `fetch-media` decision: to the plan's
/// subject-category key, with its labels, expecting the webhook's SHA-256
/// and at most the kind's size limit. The envelope header (to store first)
/// goes to `out_header`, the sealer to `out_sealer`. A decision without a
/// media plan gives `CADUCEUS_WHATSAPP_NOT_IN_DECISION`. Fetch the bytes
/// with the plan's media id (`caduceus_decision_media_id`).
///
/// # Safety
/// `decision` a live handle; `out_header` and `out_sealer` valid for a
/// write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_media_sealer_new(
    decision: *const caduceus_decision,
    out_header: *mut *mut caduceus_bytes,
    out_sealer: *mut *mut caduceus_media_sealer,
) -> caduceus_result {
    guard(|| {
        check_out(out_header)?;
        check_out(out_sealer)?;
        // SAFETY: a live handle per the caller's contract.
        let d = unsafe { handle(decision) }?;
        let (header, sealer) = plan(d)?.begin_seal(&mut rng()?).map_err(fail)?;
        // SAFETY: both checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(out_header, caduceus_bytes::public(header));
            write_handle(
                out_sealer,
                caduceus_media_sealer {
                    state: State::Sealing(Box::new(sealer)),
                },
            );
        }
        Ok(())
    })
}

/// Seal the next `(chunk, len)` of the downloaded media (any size, may be
/// 0); the ciphertext produced (whole segments; possibly empty) goes to a
/// new `caduceus_bytes` in `out_ciphertext`, to append after the header and
/// the earlier outputs. `CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE` as soon as the
/// total would pass the limit (nothing of this chunk is used: stop the
/// download); the sealer is then spent.
///
/// # Safety
/// `sealer` a live handle not used concurrently; `chunk` valid for `len`
/// bytes (NULL only with 0); `out_ciphertext` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_media_sealer_update(
    sealer: *mut caduceus_media_sealer,
    chunk: *const u8,
    len: usize,
    out_ciphertext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_ciphertext)?;
        // SAFETY: live handle and valid buffer per the caller's contract.
        let (s, chunk) = unsafe { (handle_mut(sealer)?, slice(chunk, len)?) };
        let State::Sealing(inner) = &mut s.state else {
            return Err(wrong_state());
        };
        let mut out = Vec::with_capacity(len.saturating_add(1 << 17));
        if let Err(e) = inner.push(chunk, &mut out) {
            s.state = State::Failed;
            return Err(fail(e));
        }
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_ciphertext, caduceus_bytes::public(out)) };
        Ok(())
    })
}

/// Check the size and SHA-256 of everything pushed, then seal the final
/// segment into a new `caduceus_bytes` in `out_ciphertext`, which completes
/// the envelope. `CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH` when the bytes are
/// not the ones the webhook announced: no final segment is written
/// (`out_ciphertext` untouched), discard everything and fetch the media
/// again. A second call gives `CADUCEUS_WRONG_STATE`.
///
/// # Safety
/// `sealer` a live handle not used concurrently; `out_ciphertext` valid for
/// a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_media_sealer_finish(
    sealer: *mut caduceus_media_sealer,
    out_ciphertext: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_ciphertext)?;
        // SAFETY: a live handle per the caller's contract.
        let s = unsafe { handle_mut(sealer) }?;
        let State::Sealing(inner) = std::mem::replace(&mut s.state, State::Failed) else {
            return Err(wrong_state());
        };
        let mut out = Vec::with_capacity(1 << 17);
        inner.finish(&mut out).map_err(fail)?;
        s.state = State::Finished;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_ciphertext, caduceus_bytes::public(out)) };
        Ok(())
    })
}

/// Free a media sealer (finished or not). NULL is a no-op. An unfinished
/// envelope is incomplete and will not open.
///
/// # Safety
/// `sealer` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_media_sealer_free(sealer: *mut caduceus_media_sealer) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(sealer) }
    })
}

/// The media id to fetch (`GET /<MEDIA_ID>`, valid 7 days) of a
/// `fetch-media` decision, NUL-terminated, in a new `caduceus_bytes`;
/// `CADUCEUS_WHATSAPP_NOT_IN_DECISION` without a media plan.
///
/// # Safety
/// `decision` a live handle; `out_media_id` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_media_id(
    decision: *const caduceus_decision,
    out_media_id: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_media_id, |d| {
                Ok(caduceus_bytes::text(plan(d)?.media.id.clone()))
            })
        }
    })
}

/// Append the media plan's audit event to `log` once the media was handled:
/// with `failure_reason_or_null` NULL the event that the sealed envelope was
/// stored (after a successful `caduceus_media_sealer_finish` and the
/// envelope stored); otherwise the same event with outcome `failed` and
/// that reason (a label, e.g. `media-hash-mismatch`, `media-too-large`,
/// `media-fetch-failed`). `out_entry` receives the entry bytes to store.
/// `CADUCEUS_WHATSAPP_NOT_IN_DECISION` without a media plan,
/// `CADUCEUS_AUDIT_INVALID_EVENT` for a reason that is not a label.
///
/// # Safety
/// `decision` a live handle; `failure_reason_or_null` NULL or
/// NUL-terminated; `log` a live log used by no other thread; `out_entry`
/// valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_media_audit_append(
    decision: *const caduceus_decision,
    failure_reason_or_null: *const std::ffi::c_char,
    log: *mut caduceus_audit_log,
    out_entry: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_entry)?;
        // SAFETY: live handles per the caller's contract.
        let (d, log) = unsafe { (handle(decision)?, handle_mut(log)?) };
        let p = plan(d)?;
        let event = if failure_reason_or_null.is_null() {
            p.audit_stored.clone()
        } else {
            // SAFETY: NUL-terminated per the caller's contract.
            let reason = unsafe { text(failure_reason_or_null) }?;
            p.audit_failed(reason).map_err(fail)?
        };
        let appended = log.0.append(&event).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_entry, caduceus_bytes::public(appended.bytes)) };
        Ok(())
    })
}

impl From<MediaError> for caduceus_result {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::HashMismatch => CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH,
            MediaError::TooLarge { .. } => CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE,
            MediaError::NoExpectedHash => CADUCEUS_WHATSAPP_NOT_IN_DECISION,
            MediaError::Envelope(e) => e.into(),
            _ => CADUCEUS_INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caduceus_core::envelope::EnvelopeError;

    #[test]
    fn media_errors_map_to_their_codes() {
        assert_eq!(
            caduceus_result::from(MediaError::HashMismatch),
            CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH
        );
        assert_eq!(
            caduceus_result::from(MediaError::TooLarge { limit: 5 }),
            CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE
        );
        assert_eq!(
            caduceus_result::from(MediaError::Envelope(EnvelopeError::NoRecipients)),
            CADUCEUS_NO_RECIPIENTS
        );
        assert_eq!(
            caduceus_result::from(MediaError::Internal),
            CADUCEUS_INTERNAL
        );
    }
}
