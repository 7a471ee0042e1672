//! Reading a consent ledger file in chunks, whole or for some subjects only
//! (docs/CONSENT.md, section 5.4): `caduceus_consent_ledger_reader_*`.

use std::ffi::c_char;

use caduceus_core::consent::{LedgerReader, LedgerScope};

use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle_mut, set_last_error, slice, text,
    write_handle, write_out,
};
use crate::consent::caduceus_consent_ledger;
use crate::result::caduceus_result::{self, *};

/// A consent ledger file being read in chunks of any size, so a host never
/// holds the file and the ledger at once. Create it with
/// [`caduceus_consent_ledger_reader_new`]; optionally name the subjects (and
/// new event ids) to hold with [`caduceus_consent_ledger_reader_hold_subject`]
/// and [`caduceus_consent_ledger_reader_hold_event_id`] before the first
/// chunk; feed the file with [`caduceus_consent_ledger_reader_feed`]; then
/// [`caduceus_consent_ledger_reader_finish`]. Free it with
/// [`caduceus_consent_ledger_reader_free`]. One thread at a time.
#[allow(non_camel_case_types)]
pub struct caduceus_consent_ledger_reader {
    scope: Option<LedgerScope>,
    reader: Option<LedgerReader>,
    started: bool,
}

impl caduceus_consent_ledger_reader {
    fn hold(
        &mut self,
        add: impl FnOnce(LedgerScope) -> LedgerScope,
    ) -> Result<(), caduceus_result> {
        if self.started {
            set_last_error("subjects and event ids must be held before the first chunk is fed");
            return Err(CADUCEUS_WRONG_STATE);
        }
        self.scope = Some(add(self.scope.take().unwrap_or_default()));
        Ok(())
    }

    fn reader(&mut self) -> Result<&mut LedgerReader, caduceus_result> {
        if !self.started {
            self.started = true;
            self.reader = Some(match self.scope.take() {
                Some(scope) => LedgerReader::scoped(scope),
                None => LedgerReader::new(),
            });
        }
        self.reader.as_mut().ok_or_else(spent)
    }
}

fn spent() -> caduceus_result {
    set_last_error("this reader already finished; create a new one");
    CADUCEUS_WRONG_STATE
}

/// Create a reader of a consent ledger file. Without any
/// `caduceus_consent_ledger_reader_hold_*` call it reads the whole ledger,
/// as [`crate::consent::caduceus_consent_ledger_from_bytes`] does.
///
/// # Safety
/// `out` valid for a write of a pointer.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_reader_new(
    out: *mut *mut caduceus_consent_ledger_reader,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        let reader = caduceus_consent_ledger_reader {
            scope: None,
            reader: None,
            started: false,
        };
        // SAFETY: `out` checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, reader) };
        Ok(())
    })
}

/// Hold `subject`'s events. Once a subject is held, the ledger the reader
/// gives holds only the held subjects' events (every entry of the file is
/// still checked): it decides for them exactly as the whole ledger would,
/// refuses a decision for any other subject with reason `not-held`, and
/// appends only events of held subjects with held event ids (else
/// `CADUCEUS_CONSENT_NOT_HELD`). `CADUCEUS_WRONG_STATE` after the first
/// chunk.
///
/// # Safety
/// `reader` a live reader; `subject` a NUL-terminated string.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_reader_hold_subject(
    reader: *mut caduceus_consent_ledger_reader,
    subject: *const c_char,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let r = unsafe { handle_mut(reader)? };
        // SAFETY: NUL-terminated per the caller's contract.
        let subject = unsafe { text(subject)? };
        r.hold(|s| s.subject(subject))
    })
}

/// Allow the ledger the reader gives to append an event with id `id`
/// (whether the file already uses it is noted while reading). For an
/// opt-out, hold its event id and the objection's id (the event id followed
/// by `-objection`). `CADUCEUS_WRONG_STATE` after the first chunk.
///
/// # Safety
/// `reader` a live reader; `id` a NUL-terminated string.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_reader_hold_event_id(
    reader: *mut caduceus_consent_ledger_reader,
    id: *const c_char,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let r = unsafe { handle_mut(reader)? };
        // SAFETY: NUL-terminated per the caller's contract.
        let id = unsafe { text(id)? };
        r.hold(|s| s.event_id(id))
    })
}

/// Feed the next `len` bytes of the file. A damaged entry gives
/// `CADUCEUS_CONSENT_MALFORMED_LEDGER` (the reader is then spent: later
/// calls give `CADUCEUS_CONSENT_MALFORMED_LEDGER` too), an unknown version
/// `CADUCEUS_UNSUPPORTED_VERSION`.
///
/// # Safety
/// `reader` a live reader; `data` valid for `len` bytes (NULL only with `len` 0).
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_reader_feed(
    reader: *mut caduceus_consent_ledger_reader,
    data: *const u8,
    len: usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let r = unsafe { handle_mut(reader)? };
        // SAFETY: valid for `len` bytes per the caller's contract.
        let bytes = unsafe { slice(data, len)? };
        r.reader()?.feed(bytes).map_err(fail)
    })
}

/// Finish reading: the ledger, written to `*out` (free it with
/// [`crate::consent::caduceus_consent_ledger_free`]). With `keep_len` NULL a
/// file that ends inside an entry gives `CADUCEUS_CONSENT_TORN_TAIL`; with
/// `keep_len` not NULL it loads with every complete entry and `*keep_len`
/// receives the length to cut the file to (the whole length when nothing is
/// torn), as [`crate::consent::caduceus_consent_ledger_from_bytes_repairing`].
/// The reader is spent afterwards (free it).
///
/// # Safety
/// `reader` a live reader; `out` valid for a write; `keep_len` NULL or valid
/// for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_reader_finish(
    reader: *mut caduceus_consent_ledger_reader,
    out: *mut *mut caduceus_consent_ledger,
    keep_len: *mut u64,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: forwarded caller contract.
        let r = unsafe { handle_mut(reader)? };
        r.reader()?;
        let inner = r.reader.take().ok_or_else(spent)?;
        let complete = inner.complete_len();
        let (ledger, keep) = if keep_len.is_null() {
            (inner.finish().map_err(fail)?, None)
        } else {
            let (ledger, torn) = inner.finish_repairing().map_err(fail)?;
            (ledger, Some(torn.map_or(complete, |t| t.keep_len)))
        };
        // SAFETY: `out` checked non-NULL, `keep_len` written only when not
        // NULL; both valid per the caller's contract.
        unsafe {
            if let Some(k) = keep {
                write_out(keep_len, k);
            }
            write_handle(out, caduceus_consent_ledger(ledger));
        }
        Ok(())
    })
}

/// Free a reader. NULL is a no-op.
///
/// # Safety
/// `reader` NULL or a live reader, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_consent_ledger_reader_free(
    reader: *mut caduceus_consent_ledger_reader,
) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(reader) }
    })
}
