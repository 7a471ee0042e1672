//! C ABI of `caduceus_core::pseudonym`: the one check every subject, consent
//! subject and record id passes (docs/AUDIT.md section 2).

use std::ffi::c_char;

use caduceus_core::pseudonym::check_identifier;

use crate::boundary::{fail, guard, text};
use crate::result::caduceus_result;

/// Check that `identifier` is a pseudonym (`sbj-`/`stf-`, 32 lowercase hex
/// digits and a check character, from `caduceus_audit_key_pseudonym`) or a
/// restricted identifier (1 to 64 of `a-z 0-9 . _ : -`, starting with a
/// letter or digit, no run of more than five decimal digits). Call it before
/// a text becomes a subject label, a consent subject or a record id: a name
/// or a phone number typed by mistake gives `CADUCEUS_INVALID_IDENTIFIER`,
/// with the reason (never the text) in `caduceus_last_error`.
///
/// # Safety
/// `identifier` must be a NUL-terminated string.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_identifier_check(identifier: *const c_char) -> caduceus_result {
    guard(|| {
        // SAFETY: NUL-terminated per the caller's contract.
        let t = unsafe { text(identifier)? };
        check_identifier(t).map_err(fail)
    })
}
