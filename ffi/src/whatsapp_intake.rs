//! C ABI of the WhatsApp intake (docs/WHATSAPP.md sections 2 to 7,
//! docs/FFI.md "WhatsApp intake"): parsing a verified webhook body, the
//! identity map, the consent gate's decisions, applying and auditing them,
//! the outbound gate and sealing outbound messages.
//!
//! Handles of this module, each created and freed by the library
//! (`_free(NULL)` is a no-op):
//!
//! * [`caduceus_webhook`]: a parsed webhook body (its events);
//! * [`caduceus_whatsapp_identities`]: aliases of WhatsApp ids to subject
//!   pseudonyms (the host persists its text form);
//! * [`caduceus_keyring_set`]: the subject-category keyring records the
//!   intake seals to;
//! * [`caduceus_intake`]: the configured consent gate;
//! * [`caduceus_decision`]: what to do with one event;
//! * [`caduceus_outbound_state`]: service windows and template categories
//!   for the outbound gate.
//!
//! Thread safety: calls taking a `const` handle only read it and may run
//! concurrently; calls taking a non-const handle need exclusive access.

use std::ffi::{CStr, c_char};

use caduceus_core::access::StaffKey;
use caduceus_core::audit::{Pseudonym, PseudonymKind};
use caduceus_core::consent::LegalBasis;
use caduceus_core::keys::KeyKind;
use caduceus_core::whatsapp::{
    Decision, Forbidden, IdentityMap, Intake, IntakeConfig, IntakeError, KeyringSet, MessageKind,
    OutboundState, ParseLimits, Route, SendDecision, Webhook, audit_event_json, may_send,
    parse_webhook,
};
use serde_json::Value;

use crate::audit::{caduceus_audit_key, caduceus_audit_log};
use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_array, handle_mut,
    read_handle_out, read_out, set_last_error, slice, text, text_array, write_handle, write_out,
};
use crate::bytes::caduceus_bytes;
use crate::consent::{caduceus_consent_ledger, invalid, write_opt_text};
use crate::keys::{caduceus_keyring_record, caduceus_public_key, rng};
use crate::policy::caduceus_policy;
use crate::result::caduceus_result::{self, *};

/// A parsed webhook body (opaque): its events in body order. Created by
/// [`caduceus_whatsapp_webhook_parse`], freed by
/// [`caduceus_whatsapp_webhook_free`] (which zeroizes the personal data it
/// holds).
///
/// Thread safety: immutable; may be used from several threads at once.
#[allow(non_camel_case_types)]
pub struct caduceus_webhook(Webhook);

/// The identity map (opaque): keyed aliases of `wa_id`s and business-scoped
/// user ids to subject pseudonyms. Created by
/// [`caduceus_whatsapp_identities_new`] or
/// [`caduceus_whatsapp_identities_from_text`], extended by
/// [`caduceus_decision_apply`], freed by
/// [`caduceus_whatsapp_identities_free`].
///
/// Thread safety: `const` calls may run concurrently; `apply` needs
/// exclusive access.
#[allow(non_camel_case_types)]
pub struct caduceus_whatsapp_identities(IdentityMap);

/// An in-memory set of subject-category keyring records by (subject,
/// category) (opaque), for the intake to seal to. Created by
/// [`caduceus_keyring_set_new`], filled by [`caduceus_keyring_set_insert`]
/// and [`caduceus_decision_apply`], freed by [`caduceus_keyring_set_free`].
///
/// Thread safety: `const` calls may run concurrently; `insert` and `apply`
/// need exclusive access.
#[allow(non_camel_case_types)]
pub struct caduceus_keyring_set(KeyringSet);

/// The intake (opaque): the pseudonym key, the routes' wrap recipients,
/// the privacy notice and the reply texts, ready to decide. Created by
/// [`caduceus_intake_new`], freed by [`caduceus_intake_free`] (which
/// zeroizes the pseudonym key).
///
/// Thread safety: immutable; may be used from several threads at once.
#[allow(non_camel_case_types)]
pub struct caduceus_intake(Intake);

/// What the host does with one event (opaque): consent and audit events,
/// a sealed record, a new keyring record, identity links, replies, the
/// dedupe key. Created by [`caduceus_intake_decide`] or
/// [`caduceus_intake_seal_outbound`], freed by [`caduceus_decision_free`].
///
/// Thread safety: immutable; may be used from several threads at once.
#[allow(non_camel_case_types)]
pub struct caduceus_decision(pub(crate) Decision);

/// The outbound gate's state (opaque): each subject's last inbound message
/// time and the template categories Meta reported. Created by
/// [`caduceus_outbound_state_new`] or [`caduceus_outbound_state_from_text`],
/// fed by [`caduceus_outbound_state_apply`], freed by
/// [`caduceus_outbound_state_free`].
///
/// Thread safety: `const` calls may run concurrently; `apply` needs
/// exclusive access.
#[allow(non_camel_case_types)]
pub struct caduceus_outbound_state(OutboundState);

/// Borrow `(ptr, len)` as UTF-8 text.
///
/// # Safety
/// As [`slice`].
#[allow(unsafe_code)]
unsafe fn utf8<'a>(ptr: *const u8, len: usize) -> Result<&'a str, caduceus_result> {
    // SAFETY: forwarded caller contract.
    let bytes = unsafe { slice(ptr, len) }?;
    std::str::from_utf8(bytes).map_err(|_| {
        set_last_error("the text is not valid UTF-8");
        CADUCEUS_INVALID_UTF8
    })
}

fn out_of_range(what: &str, index: usize, count: usize) -> caduceus_result {
    set_last_error(format!(
        "{what} index {index} is past the end (there are {count})"
    ));
    CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE
}

fn not_in_decision(what: &str) -> caduceus_result {
    set_last_error(format!(
        "the decision has no {what}; check caduceus_decision_kind first"
    ));
    CADUCEUS_WHATSAPP_NOT_IN_DECISION
}

fn json_text(v: &Value) -> caduceus_bytes {
    caduceus_bytes::text(v.to_string())
}

// ---------------------------------------------------------------------------
// Webhook bodies.

/// Parse a webhook body whose signature was verified
/// ([`caduceus_whatsapp_verify_signature`](crate::caduceus_whatsapp_verify_signature))
/// into its events, with the default limits (3 MiB, 32 levels of nesting,
/// 5,000 events). The new webhook goes to `out_webhook`.
///
/// Results: `CADUCEUS_WHATSAPP_BODY_TOO_LARGE`,
/// `CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP`,
/// `CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS`,
/// `CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED` (not JSON in UTF-8, not a WhatsApp
/// Business Account webhook, an envelope not as Meta documents it; the last
/// error says which, never quoting the body). Below the envelope nothing
/// fails: an update of an unknown or damaged shape becomes an event of kind
/// `unsupported`.
///
/// # Safety
/// `body` valid for `body_len` bytes (NULL only with 0); `out_webhook`
/// valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_webhook_parse(
    body: *const u8,
    body_len: usize,
    out_webhook: *mut *mut caduceus_webhook,
) -> caduceus_result {
    // SAFETY: forwarded caller contract.
    unsafe { caduceus_whatsapp_webhook_parse_with_limits(body, body_len, 0, 0, 0, out_webhook) }
}

/// As [`caduceus_whatsapp_webhook_parse`] with other limits: the largest
/// body in bytes, the deepest nesting (the body's object is level 1; above
/// 127 behaves as 127) and the most events; 0 for any of them means its
/// default (3 MiB, 32, 5,000).
///
/// # Safety
/// As [`caduceus_whatsapp_webhook_parse`].
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_webhook_parse_with_limits(
    body: *const u8,
    body_len: usize,
    max_body: usize,
    max_depth: usize,
    max_events: usize,
    out_webhook: *mut *mut caduceus_webhook,
) -> caduceus_result {
    guard(|| {
        check_out(out_webhook)?;
        // SAFETY: forwarded caller contract.
        let body = unsafe { slice(body, body_len) }?;
        let d = ParseLimits::default();
        let or = |v: usize, default: usize| if v == 0 { default } else { v };
        let limits = ParseLimits {
            max_body: or(max_body, d.max_body),
            max_depth: or(max_depth, d.max_depth),
            max_events: or(max_events, d.max_events),
        };
        let hook = parse_webhook(body, &limits).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_webhook, caduceus_webhook(hook)) };
        Ok(())
    })
}

/// The number of events in the webhook into `out_count`.
///
/// # Safety
/// `webhook` a live handle; `out_count` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_webhook_event_count(
    webhook: *const caduceus_webhook,
    out_count: *mut usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(webhook, out_count, |w| Ok(w.0.events.len())) }
    })
}

/// The events as a JSON array (docs/WHATSAPP.md section 8) in a new
/// `caduceus_bytes`. Message text, captions, phone numbers, names and user
/// ids appear only when `show_content` is true; otherwise each is
/// `{"redacted_bytes": n}`. The buffer is zeroized when freed.
///
/// # Safety
/// `webhook` a live handle; `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_webhook_json(
    webhook: *const caduceus_webhook,
    show_content: bool,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(webhook, out_json, |w| {
                Ok(json_text(&w.0.to_json(show_content)))
            })
        }
    })
}

/// Event `index` (below [`caduceus_whatsapp_webhook_event_count`]) as one
/// JSON object, as in [`caduceus_whatsapp_webhook_json`]. An index past the
/// end gives `CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `webhook` a live handle; `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_webhook_event_json(
    webhook: *const caduceus_webhook,
    index: usize,
    show_content: bool,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(webhook, out_json, |w| {
                let e =
                    w.0.events
                        .get(index)
                        .ok_or_else(|| out_of_range("event", index, w.0.events.len()))?;
                Ok(json_text(&e.to_json(show_content)))
            })
        }
    })
}

/// Free a webhook, zeroizing the personal data it holds. NULL is a no-op.
///
/// # Safety
/// `webhook` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_webhook_free(webhook: *mut caduceus_webhook) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(webhook) }
    })
}

// ---------------------------------------------------------------------------
// Identity map.

/// A new, empty identity map into `out_identities`.
///
/// # Safety
/// `out_identities` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_identities_new(
    out_identities: *mut *mut caduceus_whatsapp_identities,
) -> caduceus_result {
    guard(|| {
        check_out(out_identities)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe {
            write_handle(
                out_identities,
                caduceus_whatsapp_identities(IdentityMap::new()),
            )
        };
        Ok(())
    })
}

/// Load an identity map from its text form `(text, len)` (UTF-8, one line
/// `<64 hex digits> <subject pseudonym>\n` per alias, as
/// [`caduceus_whatsapp_identities_to_text`] writes and as the host appends
/// the links of each decision). An empty text is an empty map; a repeated
/// line is accepted.
///
/// Results: `CADUCEUS_WHATSAPP_IDENTITIES_TORN` (the last line has no
/// newline: an interrupted append; remove that line),
/// `CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED` (a malformed line, or an alias
/// linked to two subjects; the last error names the line number, never its
/// content), `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `text` valid for `len` bytes (NULL only with 0); `out_identities` valid
/// for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_identities_from_text(
    text: *const u8,
    len: usize,
    out_identities: *mut *mut caduceus_whatsapp_identities,
) -> caduceus_result {
    guard(|| {
        check_out(out_identities)?;
        // SAFETY: forwarded caller contract.
        let text = unsafe { utf8(text, len) }?;
        let map = IdentityMap::from_text(text).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_identities, caduceus_whatsapp_identities(map)) };
        Ok(())
    })
}

/// The whole map in its text form (lines sorted by alias; 103 bytes a
/// line), NUL-terminated, in a new `caduceus_bytes`.
///
/// # Safety
/// `identities` a live handle; `out_text` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_identities_to_text(
    identities: *const caduceus_whatsapp_identities,
    out_text: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(identities, out_text, |m| {
                Ok(caduceus_bytes::text(m.0.to_text()))
            })
        }
    })
}

/// The number of aliases in the map into `out_len`.
///
/// # Safety
/// `identities` a live handle; `out_len` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_identities_len(
    identities: *const caduceus_whatsapp_identities,
    out_len: *mut usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(identities, out_len, |m| Ok(m.0.len())) }
    })
}

/// Free an identity map. NULL is a no-op.
///
/// # Safety
/// `identities` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_whatsapp_identities_free(
    identities: *mut caduceus_whatsapp_identities,
) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(identities) }
    })
}

// ---------------------------------------------------------------------------
// Keyring sets.

/// A new, empty keyring set into `out_set`.
///
/// # Safety
/// `out_set` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_set_new(
    out_set: *mut *mut caduceus_keyring_set,
) -> caduceus_result {
    guard(|| {
        check_out(out_set)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_set, caduceus_keyring_set(KeyringSet::new())) };
        Ok(())
    })
}

/// Add a copy of `record` to the set, replacing the record of the same
/// (subject, category) if there is one. The caller keeps (and frees)
/// `record`.
///
/// # Safety
/// `set` a live handle used by no other thread; `record` a live handle.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_set_insert(
    set: *mut caduceus_keyring_set,
    record: *const caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        // SAFETY: live handles per the caller's contract.
        let (set, record) = unsafe { (handle_mut(set)?, handle(record)?) };
        set.0.insert(record.record.clone());
        Ok(())
    })
}

/// The number of records in the set into `out_len`.
///
/// # Safety
/// `set` a live handle; `out_len` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_set_len(
    set: *const caduceus_keyring_set,
    out_len: *mut usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(set, out_len, |s| Ok(s.0.len())) }
    })
}

/// Free a keyring set (the records in it). NULL is a no-op.
///
/// # Safety
/// `set` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_keyring_set_free(set: *mut caduceus_keyring_set) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(set) }
    })
}

// ---------------------------------------------------------------------------
// The intake.

/// The role ids of one comma-separated roles string.
fn roles(list: &str, i: usize) -> Result<Vec<String>, caduceus_result> {
    let roles: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if roles.is_empty() {
        return Err(invalid(format!(
            "staff_roles[{i}] names no role: give comma-separated role ids of the policy, e.g. \"doctor\" or \"doctor,coordinator\""
        )));
    }
    Ok(roles)
}

fn wrong_kind(what: String) -> caduceus_result {
    set_last_error(what);
    CADUCEUS_WRONG_KEY_KIND
}

/// Create an intake (the consent gate) with the defaults of
/// docs/WHATSAPP.md section 4: German reply texts, the routes text ->
/// `chat-messages`/`treatment-communication`, images and videos ->
/// `clinical-photos`/`clinical-photos`, documents, audio and stickers ->
/// `chat-messages`/`treatment-communication`, keywords JA/YES and NEIN/NO,
/// 300 s clock skew, 8 days maximum event age, service `whatsapp-intake`.
///
/// * `pseudonym_key`: the practice's audit (pseudonym) key; subject
///   pseudonyms, aliases and record ids are keyed hashes under it (a copy
///   is kept).
/// * `access_policy`: the retention and access policy; each route's
///   category must be in it.
/// * `practice`: the practice public key (kind practice); every new
///   keyring record is wrapped to it.
/// * `staff_keys`, `staff_roles`, `n_staff`: staff public keys (kind staff)
///   and, for each, its role ids, comma-separated (e.g.
///   `"doctor,coordinator"`); new keyring records are wrapped to the keys
///   whose roles may read the category.
/// * `notice_id`, `notice_version`, `notice_language`: the privacy notice
///   shown to unknown contacts, registered in `ledger` (its hash is taken
///   from there).
///
/// Results: `CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED`,
/// `CADUCEUS_POLICY_UNKNOWN_ROLE`, `CADUCEUS_POLICY_UNKNOWN_CATEGORY`,
/// `CADUCEUS_WRONG_KEY_KIND`, `CADUCEUS_INVALID_ARGUMENT` (a roles string
/// naming no role), `CADUCEUS_WHATSAPP_INTAKE_CONFIG` (the notice id too long
/// for a button payload).
///
/// # Safety
/// The handles live; `staff_keys` and `staff_roles` valid for `n_staff`
/// elements (NULL only with 0), each a live handle or NUL-terminated
/// string; the notice texts NUL-terminated; `out_intake` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_intake_new(
    pseudonym_key: *const caduceus_audit_key,
    access_policy: *const caduceus_policy,
    practice: *const caduceus_public_key,
    staff_keys: *const *const caduceus_public_key,
    staff_roles: *const *const c_char,
    n_staff: usize,
    notice_id: *const c_char,
    notice_version: u32,
    notice_language: *const c_char,
    ledger: *const caduceus_consent_ledger,
    out_intake: *mut *mut caduceus_intake,
) -> caduceus_result {
    guard(|| {
        check_out(out_intake)?;
        // SAFETY: live handles, arrays of `n_staff` elements and
        // NUL-terminated strings per the caller's contract.
        let (key, policy, practice, keys, role_lists, id, language, ledger) = unsafe {
            (
                handle(pseudonym_key)?,
                handle(access_policy)?,
                handle(practice)?,
                handle_array(staff_keys, n_staff)?,
                text_array(staff_roles, n_staff)?,
                text(notice_id)?,
                text(notice_language)?,
                handle(ledger)?,
            )
        };
        if practice.key.kind() != KeyKind::Practice {
            return Err(wrong_kind(
                "practice must be the practice public key (cdpractice1...)".into(),
            ));
        }
        let mut staff = Vec::with_capacity(keys.len());
        for (i, (k, list)) in keys.iter().zip(&role_lists).enumerate() {
            if k.key.kind() != KeyKind::Staff {
                return Err(wrong_kind(format!(
                    "staff_keys[{i}] is not a staff public key (cdstaff1...)"
                )));
            }
            staff.push(StaffKey {
                key: k.key,
                roles: roles(list, i)?,
            });
        }
        let notice = ledger
            .0
            .notice_ref(id, notice_version, language)
            .ok_or_else(|| fail(IntakeError::NoticeNotRegistered))?;
        let config = IntakeConfig::new(practice.key, staff, notice);
        let intake = Intake::new(key.0.clone(), &policy.0, config).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_intake, caduceus_intake(intake)) };
        Ok(())
    })
}

/// Free an intake, zeroizing its pseudonym key. NULL is a no-op.
///
/// # Safety
/// `intake` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_intake_free(intake: *mut caduceus_intake) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(intake) }
    })
}

/// Decide event `index` of `webhook` (docs/WHATSAPP.md section 4) against
/// the consent `ledger`, the `identities` and the keyring records in
/// `keyrings`, at `now` (Unix seconds), sealing with operating-system
/// randomness. Nothing is changed: the host persists the decision (its
/// envelope, keyring record, identity links, consent events, audit
/// entries), then applies it with [`caduceus_decision_apply`] before
/// deciding the next event. A host skips an event whose dedupe key
/// ([`caduceus_decision_dedupe_key`]) it has already processed.
///
/// Refusals of the event itself are decisions (kinds `refused`,
/// `not-stored`, `ignored`), not errors. Results:
/// `CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE`,
/// `CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED` (the intake's notice is no
/// longer in this ledger), `CADUCEUS_WHATSAPP_INTAKE_CONFIG` (a keyring
/// record of another subject in the set), and the consent, envelope and key
/// codes of what failed.
///
/// # Safety
/// Live handles; `out_decision` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_intake_decide(
    intake: *const caduceus_intake,
    webhook: *const caduceus_webhook,
    index: usize,
    ledger: *const caduceus_consent_ledger,
    identities: *const caduceus_whatsapp_identities,
    keyrings: *const caduceus_keyring_set,
    now: i64,
    out_decision: *mut *mut caduceus_decision,
) -> caduceus_result {
    guard(|| {
        check_out(out_decision)?;
        // SAFETY: live handles per the caller's contract.
        let (intake, webhook, ledger, identities, keyrings) = unsafe {
            (
                handle(intake)?,
                handle(webhook)?,
                handle(ledger)?,
                handle(identities)?,
                handle(keyrings)?,
            )
        };
        let events = &webhook.0.events;
        let event = events
            .get(index)
            .ok_or_else(|| out_of_range("event", index, events.len()))?;
        let d = intake
            .0
            .decide(
                event,
                &ledger.0,
                &identities.0,
                &keyrings.0,
                now,
                &mut rng()?,
            )
            .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_decision, caduceus_decision(d)) };
        Ok(())
    })
}

/// Seal an outbound message like an inbound one (docs/WHATSAPP.md section
/// 7), after [`caduceus_whatsapp_may_send`] allowed it: `(plaintext, len)`
/// of `content_type` is sealed to the subject-category key of `subject`
/// (a subject pseudonym, `sbj-...`) and `category` (one of the intake's
/// route categories when a new keyring record is needed), labelled with
/// `purpose`, with its audit event. `message_id` is the id the Cloud API
/// returned for the sent message, so its statuses name the same record.
/// The decision (kind `stored`, or `not-stored` when the key was shredded)
/// goes to `out_decision`; persist and apply it as an inbound one.
///
/// Results: `CADUCEUS_INVALID_IDENTIFIER` (`subject` is not a subject
/// pseudonym), `CADUCEUS_INVALID_LABEL`, `CADUCEUS_WHATSAPP_INTAKE_CONFIG`
/// (a category that is no route's, with no record in `keyrings`).
///
/// # Safety
/// Live handles; the texts NUL-terminated; `plaintext` valid for `len`
/// bytes (NULL only with 0); `out_decision` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_intake_seal_outbound(
    intake: *const caduceus_intake,
    subject: *const c_char,
    category: *const c_char,
    purpose: *const c_char,
    content_type: *const c_char,
    plaintext: *const u8,
    len: usize,
    message_id: *const c_char,
    keyrings: *const caduceus_keyring_set,
    now: i64,
    out_decision: *mut *mut caduceus_decision,
) -> caduceus_result {
    guard(|| {
        check_out(out_decision)?;
        // SAFETY: live handles, NUL-terminated strings and a valid buffer
        // per the caller's contract.
        let (intake, subject, category, purpose, content_type, plaintext, message_id, keyrings) = unsafe {
            (
                handle(intake)?,
                text(subject)?,
                text(category)?,
                text(purpose)?,
                text(content_type)?,
                slice(plaintext, len)?,
                text(message_id)?,
                handle(keyrings)?,
            )
        };
        let subject = Pseudonym::parse(subject)
            .ok()
            .filter(|p| p.kind() == PseudonymKind::Subject)
            .ok_or_else(|| {
                set_last_error(
                    "subject must be a subject pseudonym (sbj-...), e.g. from caduceus_decision_subject",
                );
                CADUCEUS_INVALID_IDENTIFIER
            })?;
        let route = Route {
            category: category.to_owned(),
            purpose: purpose.to_owned(),
        };
        let d = intake
            .0
            .seal_outbound(
                &subject,
                &route,
                content_type,
                plaintext,
                message_id,
                &keyrings.0,
                now,
                &mut rng()?,
            )
            .map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_decision, caduceus_decision(d)) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Decisions.

/// The NUL-terminated form of a decision kind code.
fn kind_cstr(code: &str) -> &'static CStr {
    match code {
        "ask-consent" => c"ask-consent",
        "consent-recorded" => c"consent-recorded",
        "stored" => c"stored",
        "fetch-media" => c"fetch-media",
        "photo-not-kept" => c"photo-not-kept",
        "opted-out" => c"opted-out",
        "deletion-requested" => c"deletion-requested",
        "audited" => c"audited",
        "not-stored" => c"not-stored",
        "refused" => c"refused",
        "ignored" => c"ignored",
        _ => c"unknown",
    }
}

/// The decision's kind as a static NUL-terminated code (never freed):
/// `ask-consent`, `consent-recorded`, `stored`, `fetch-media`,
/// `photo-not-kept`, `opted-out`, `deletion-requested`, `audited`,
/// `not-stored`, `refused`, `ignored` (a kind added by a later version:
/// `unknown`). NULL only when `decision` is NULL.
///
/// # Safety
/// `decision` NULL or a live handle.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_kind(
    decision: *const caduceus_decision,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: NULL or live per the caller's contract.
        match unsafe { decision.as_ref() } {
            Some(d) => kind_cstr(d.0.kind.code()).as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// The whole decision as JSON (docs/WHATSAPP.md section 8) in a new
/// `caduceus_bytes`: kind, reason, purposes, dedupe key, subject, identity
/// links, the new keyring record and the sealed envelope (base64), the
/// media plan, consent and audit events (in the shapes
/// `caduceus_consent_record` and `caduceus_audit_log_append` read), the
/// replies (their recipient redacted unless `show_content`; with it each
/// reply also carries its Graph API request), the record to delete, the
/// last inbound time and a template category change. Zeroized when freed.
///
/// # Safety
/// `decision` a live handle; `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_json(
    decision: *const caduceus_decision,
    show_content: bool,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_json, |d| {
                Ok(json_text(&d.0.to_json(show_content)))
            })
        }
    })
}

/// The dedupe key (64 hex digits, NUL-terminated) in a new `caduceus_bytes`:
/// an event whose key was already processed is skipped whole.
/// `CADUCEUS_WHATSAPP_NOT_IN_DECISION` for events without ids (template
/// updates without one, value-level errors, unsupported changes).
///
/// # Safety
/// `decision` a live handle; `out_key` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_dedupe_key(
    decision: *const caduceus_decision,
    out_key: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_key, |d| {
                let k =
                    d.0.dedupe_key
                        .ok_or_else(|| not_in_decision("dedupe key"))?;
                Ok(caduceus_bytes::text(k.to_hex()))
            })
        }
    })
}

/// The subject pseudonym (`sbj-...`, NUL-terminated) the event names, in
/// a new `caduceus_bytes`; `CADUCEUS_WHATSAPP_NOT_IN_DECISION` when it
/// names nobody.
///
/// # Safety
/// `decision` a live handle; `out_subject` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_subject(
    decision: *const caduceus_decision,
    out_subject: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_subject, |d| {
                let s =
                    d.0.subject
                        .as_ref()
                        .ok_or_else(|| not_in_decision("subject"))?;
                Ok(caduceus_bytes::text(s.as_str().to_owned()))
            })
        }
    })
}

/// The record id (`wa-...`, NUL-terminated) the decision names, in a new
/// `caduceus_bytes`: the sealed record's (`stored`), the media's
/// (`fetch-media`) or the deleted message's (`deletion-requested`);
/// `CADUCEUS_WHATSAPP_NOT_IN_DECISION` for the other kinds.
///
/// # Safety
/// `decision` a live handle; `out_record_id` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_record_id(
    decision: *const caduceus_decision,
    out_record_id: *mut *mut caduceus_bytes,
) -> caduceus_result {
    use caduceus_core::whatsapp::DecisionKind;
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_record_id, |d| match &d.0.kind {
                DecisionKind::Stored { record_id }
                | DecisionKind::FetchMedia { record_id }
                | DecisionKind::DeletionRequested { record_id } => {
                    Ok(caduceus_bytes::text(record_id.clone()))
                }
                _ => Err(not_in_decision("record id")),
            })
        }
    })
}

/// The sealed envelope to store under [`caduceus_decision_record_id`]
/// (kind `stored`) in a new `caduceus_bytes`;
/// `CADUCEUS_WHATSAPP_NOT_IN_DECISION` when nothing was sealed. Open it with
/// `caduceus_envelope_open_with_keyring` and the subject-category record.
///
/// # Safety
/// `decision` a live handle; `out_envelope` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_envelope(
    decision: *const caduceus_decision,
    out_envelope: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_envelope, |d| {
                let r =
                    d.0.record
                        .as_ref()
                        .ok_or_else(|| not_in_decision("envelope"))?;
                Ok(caduceus_bytes::public(r.envelope.clone()))
            })
        }
    })
}

/// The new keyring record (first contact in a category) as a new record
/// handle; store its bytes (`caduceus_keyring_record_to_bytes`) before or
/// with the envelope sealed to it. `CADUCEUS_WHATSAPP_NOT_IN_DECISION` when
/// the decision created none.
///
/// # Safety
/// `decision` a live handle; `out_record` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_keyring_record(
    decision: *const caduceus_decision,
    out_record: *mut *mut caduceus_keyring_record,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_record, |d| {
                let r =
                    d.0.keyring_record
                        .as_ref()
                        .ok_or_else(|| not_in_decision("keyring record"))?;
                Ok(caduceus_keyring_record { record: r.clone() })
            })
        }
    })
}

/// Apply a persisted decision to the host's in-memory state: append its
/// consent events to `ledger` (at `now`), link its identities in
/// `identities`, add its new keyring record to `keyrings`. All or nothing:
/// when a consent event would not be appended (its consent code is
/// returned, e.g. `CADUCEUS_CONSENT_DUPLICATE_EVENT`), nothing is changed.
/// Audit events go to the log with [`caduceus_decision_audit_append`]; the
/// outbound gate takes the decision with [`caduceus_outbound_state_apply`].
///
/// # Safety
/// Live handles; `ledger`, `identities` and `keyrings` used by no other
/// thread.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_apply(
    decision: *const caduceus_decision,
    ledger: *mut caduceus_consent_ledger,
    identities: *mut caduceus_whatsapp_identities,
    keyrings: *mut caduceus_keyring_set,
    now: i64,
) -> caduceus_result {
    guard(|| {
        // SAFETY: live handles, the mutable ones unaliased, per the
        // caller's contract.
        let (d, ledger, identities, keyrings) = unsafe {
            (
                handle(decision)?,
                handle_mut(ledger)?,
                handle_mut(identities)?,
                handle_mut(keyrings)?,
            )
        };
        // All or nothing: on an error nothing has changed.
        d.0.apply(&mut ledger.0, &mut identities.0, &mut keyrings.0, now)
            .map_err(fail)?;
        Ok(())
    })
}

/// The number of audit events of the decision into `out_count`.
///
/// # Safety
/// `decision` a live handle; `out_count` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_audit_count(
    decision: *const caduceus_decision,
    out_count: *mut usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(decision, out_count, |d| Ok(d.0.audit_events.len())) }
    })
}

/// Append audit event `index` (below [`caduceus_decision_audit_count`]) of
/// the decision to `log`; `out_entry` receives the canonical entry bytes to
/// store, as from `caduceus_audit_log_append`. Append them in order, after
/// the decision was persisted. An index past the end gives
/// `CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE` (nothing appended).
///
/// # Safety
/// `decision` a live handle; `log` a live log used by no other thread;
/// `out_entry` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_audit_append(
    decision: *const caduceus_decision,
    index: usize,
    log: *mut caduceus_audit_log,
    out_entry: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_entry)?;
        // SAFETY: live handles per the caller's contract.
        let (d, log) = unsafe { (handle(decision)?, handle_mut(log)?) };
        let events = &d.0.audit_events;
        let ev = events
            .get(index)
            .ok_or_else(|| out_of_range("audit event", index, events.len()))?;
        let appended = log.0.append(ev).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_entry, caduceus_bytes::public(appended.bytes)) };
        Ok(())
    })
}

/// Audit event `index` of the decision as JSON in the shape
/// `caduceus_audit_log_append` reads, in a new `caduceus_bytes`, for hosts
/// that keep their own log. An index past the end gives
/// `CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `decision` a live handle; `out_json` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_audit_json(
    decision: *const caduceus_decision,
    index: usize,
    out_json: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_json, |d| {
                let events = &d.0.audit_events;
                let ev = events
                    .get(index)
                    .ok_or_else(|| out_of_range("audit event", index, events.len()))?;
                Ok(json_text(&audit_event_json(ev)))
            })
        }
    })
}

/// The number of replies to send into `out_count`.
///
/// # Safety
/// `decision` a live handle; `out_count` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_reply_count(
    decision: *const caduceus_decision,
    out_count: *mut usize,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_out(decision, out_count, |d| Ok(d.0.replies.len())) }
    })
}

/// Reply `index` (below [`caduceus_decision_reply_count`]) as the Cloud
/// API request body to `POST /<PHONE_NUMBER_ID>/messages` (a text or an
/// interactive button message), NUL-terminated, in a new `caduceus_bytes`.
/// It holds the recipient's phone number or user id: send it, never log
/// it (the buffer is zeroized when freed). An index past the end gives
/// `CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `decision` a live handle; `out_request` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_reply_request(
    decision: *const caduceus_decision,
    index: usize,
    out_request: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(decision, out_request, |d| {
                let replies = &d.0.replies;
                let r = replies
                    .get(index)
                    .ok_or_else(|| out_of_range("reply", index, replies.len()))?;
                Ok(caduceus_bytes::text(r.to_graph_json().to_string()))
            })
        }
    })
}

/// Free a decision, zeroizing the personal data it holds (the replies'
/// recipients); envelopes are ciphertext and keyring records hold wrapped
/// keys only. NULL is a no-op.
///
/// # Safety
/// `decision` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_decision_free(decision: *mut caduceus_decision) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(decision) }
    })
}

// ---------------------------------------------------------------------------
// The outbound gate.

/// A new, empty outbound state into `out_state`.
///
/// # Safety
/// `out_state` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_outbound_state_new(
    out_state: *mut *mut caduceus_outbound_state,
) -> caduceus_result {
    guard(|| {
        check_out(out_state)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_state, caduceus_outbound_state(OutboundState::new())) };
        Ok(())
    })
}

/// Load an outbound state from its text form `(text, len)` (UTF-8 lines
/// `window <subject> <time>` and `template <name> <language> <CATEGORY>`;
/// a later line for the same subject or template wins, so a host may
/// append). Results: `CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED` (the last
/// error names the line), `CADUCEUS_INVALID_UTF8`.
///
/// # Safety
/// `text` valid for `len` bytes (NULL only with 0); `out_state` valid for a
/// write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_outbound_state_from_text(
    text: *const u8,
    len: usize,
    out_state: *mut *mut caduceus_outbound_state,
) -> caduceus_result {
    guard(|| {
        check_out(out_state)?;
        // SAFETY: forwarded caller contract.
        let text = unsafe { utf8(text, len) }?;
        let state = OutboundState::from_text(text).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out_state, caduceus_outbound_state(state)) };
        Ok(())
    })
}

/// The state's text form (lines sorted), NUL-terminated, in a new
/// `caduceus_bytes`.
///
/// # Safety
/// `state` a live handle; `out_text` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_outbound_state_to_text(
    state: *const caduceus_outbound_state,
    out_text: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_handle_out(state, out_text, |s| Ok(caduceus_bytes::text(s.0.to_text()))) }
    })
}

/// Take what a decision reports: the subject's last inbound message time
/// (opening the 24-hour service window) and a template category change.
///
/// # Safety
/// `state` a live handle used by no other thread; `decision` a live handle.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_outbound_state_apply(
    state: *mut caduceus_outbound_state,
    decision: *const caduceus_decision,
) -> caduceus_result {
    guard(|| {
        // SAFETY: live handles per the caller's contract.
        let (state, d) = unsafe { (handle_mut(state)?, handle(decision)?) };
        state.0.apply(&d.0);
        Ok(())
    })
}

/// Free an outbound state. NULL is a no-op.
///
/// # Safety
/// `state` NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_outbound_state_free(state: *mut caduceus_outbound_state) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(state) }
    })
}

fn basis_json(o: &mut serde_json::Map<String, Value>, b: Option<LegalBasis>) {
    if let Some(b) = b {
        o.insert("art6".into(), b.art6.code().into());
        if let Some(c) = b.art9 {
            o.insert("art9".into(), c.code().into());
        }
    }
}

fn send_json(d: &SendDecision) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("decision".into(), d.code().into());
    o.insert("allowed".into(), d.allowed().into());
    match d {
        SendDecision::FreeForm { window_ends, basis } => {
            o.insert("window_ends".into(), (*window_ends).into());
            basis_json(&mut o, *basis);
        }
        SendDecision::Template { category, basis } => {
            o.insert("category".into(), category.clone().into());
            basis_json(&mut o, *basis);
        }
        SendDecision::TemplateRequired { category } => {
            o.insert("category".into(), category.clone().into());
        }
        SendDecision::Forbidden(f) => {
            o.insert("forbidden".into(), f.code().into());
            match f {
                Forbidden::NoConsent { purpose } | Forbidden::UnknownPurpose { purpose } => {
                    o.insert("purpose".into(), purpose.clone().into());
                }
                Forbidden::Refused { purpose, at }
                | Forbidden::Withdrawn { purpose, at }
                | Forbidden::ConsentLapsed { purpose, at } => {
                    o.insert("purpose".into(), purpose.clone().into());
                    o.insert("at".into(), (*at).into());
                }
                Forbidden::MarketingStopped { at } => {
                    o.insert("at".into(), (*at).into());
                }
                Forbidden::TemplateIsMarketing { recategorised } => {
                    o.insert("recategorised".into(), (*recategorised).into());
                }
                _ => {}
            }
        }
        _ => {}
    }
    Value::Object(o)
}

/// May the practice send to `subject` (a subject pseudonym) for `purpose`
/// now? (docs/WHATSAPP.md section 7.) `template_name` NULL asks about a
/// free-form message; otherwise about that approved template, with its
/// `template_language` and the `template_category` the practice registered
/// it under (a category Meta reported since, in `state`, overrides it).
/// `out_allowed` receives whether the message may be sent as it is; the
/// optional `out_json_or_null` the answer as JSON:
///
/// ```text
/// {"decision": "free-form" | "template" | "template-required" | "forbidden",
///  "allowed": bool,
///  "window_ends": int64 (free-form: end of the 24-hour window),
///  "category": "UTILITY" | "MARKETING" | ... (template, template-required),
///  "art6", "art9": legal basis codes (free-form, template),
///  "forbidden": "no-consent" | "refused" | "withdrawn" | "marketing-stopped"
///             | "consent-lapsed" | "purpose-unknown" | "template-is-marketing",
///  "purpose", "at", "recategorised": details of the refusal}
/// ```
///
/// # Safety
/// Live handles; `subject` and `purpose` NUL-terminated; `template_name`
/// NULL or NUL-terminated, and then `template_language` and
/// `template_category` NUL-terminated; `out_allowed` valid for a write;
/// `out_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_whatsapp_may_send(
    ledger: *const caduceus_consent_ledger,
    state: *const caduceus_outbound_state,
    subject: *const c_char,
    purpose: *const c_char,
    template_name: *const c_char,
    template_language: *const c_char,
    template_category: *const c_char,
    now: i64,
    out_allowed: *mut bool,
    out_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out_allowed)?;
        // SAFETY: live handles and NUL-terminated strings per the caller's
        // contract.
        let (ledger, state, subject, purpose) = unsafe {
            (
                handle(ledger)?,
                handle(state)?,
                text(subject)?,
                text(purpose)?,
            )
        };
        let kind = if template_name.is_null() {
            MessageKind::FreeForm
        } else {
            // SAFETY: NUL-terminated strings per the caller's contract.
            let (name, language, category) = unsafe {
                (
                    text(template_name)?,
                    text(template_language)?,
                    text(template_category)?,
                )
            };
            MessageKind::Template {
                name,
                language,
                category,
            }
        };
        let d = may_send(&ledger.0, &state.0, subject, purpose, kind, now);
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(out_allowed, d.allowed());
            write_opt_text(out_json_or_null, send_json(&d).to_string());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use caduceus_core::consent::ConsentStatus;
    use caduceus_core::whatsapp::DecisionKind;

    #[test]
    fn every_decision_kind_has_its_static_code() {
        let kinds = [
            DecisionKind::AskConsent,
            DecisionKind::ConsentRecorded {
                status: ConsentStatus::Given,
                purposes: vec!["treatment-communication".into()],
            },
            DecisionKind::Stored {
                record_id: "wa-a".into(),
            },
            DecisionKind::FetchMedia {
                record_id: "wa-a".into(),
            },
            DecisionKind::PhotoNotKept,
            DecisionKind::OptedOut {
                purposes: Vec::new(),
            },
            DecisionKind::DeletionRequested {
                record_id: "wa-a".into(),
            },
            DecisionKind::Audited,
            DecisionKind::NotStored { reason: "x" },
            DecisionKind::Refused { reason: "x" },
            DecisionKind::Ignored { reason: "x" },
        ];
        let mut seen = std::collections::BTreeSet::new();
        for k in &kinds {
            let c = kind_cstr(k.code());
            assert_eq!(c.to_str().unwrap(), k.code());
            assert!(seen.insert(k.code()));
        }
        assert_eq!(kind_cstr("a-kind-of-a-later-version"), c"unknown");
    }

    #[test]
    fn send_decisions_as_json_name_their_details() {
        let v = send_json(&SendDecision::FreeForm {
            window_ends: 5,
            basis: None,
        });
        assert_eq!(
            v,
            serde_json::json!({"decision": "free-form", "allowed": true, "window_ends": 5})
        );
        let v = send_json(&SendDecision::TemplateRequired {
            category: "UTILITY".into(),
        });
        assert_eq!(
            v,
            serde_json::json!({"decision": "template-required", "allowed": false, "category": "UTILITY"})
        );
        let cases = [
            (
                Forbidden::NoConsent {
                    purpose: "recall".into(),
                },
                serde_json::json!({"forbidden": "no-consent", "purpose": "recall"}),
            ),
            (
                Forbidden::Withdrawn {
                    purpose: "recall".into(),
                    at: 7,
                },
                serde_json::json!({"forbidden": "withdrawn", "purpose": "recall", "at": 7}),
            ),
            (
                Forbidden::MarketingStopped { at: 9 },
                serde_json::json!({"forbidden": "marketing-stopped", "at": 9}),
            ),
            (
                Forbidden::TemplateIsMarketing {
                    recategorised: true,
                },
                serde_json::json!({"forbidden": "template-is-marketing", "recategorised": true}),
            ),
        ];
        for (f, details) in cases {
            let v = send_json(&SendDecision::Forbidden(f));
            assert_eq!(v["decision"], "forbidden");
            assert_eq!(v["allowed"], false);
            for (k, want) in details.as_object().unwrap() {
                assert_eq!(&v[k], want, "{k}");
            }
        }
    }

    #[test]
    fn roles_strings_split_on_commas_and_refuse_empty_lists() {
        assert_eq!(roles("doctor", 0).unwrap(), vec!["doctor".to_owned()]);
        assert_eq!(
            roles(" doctor , coordinator,", 1).unwrap(),
            vec!["doctor".to_owned(), "coordinator".to_owned()]
        );
        for empty in ["", " ", ",", " , "] {
            assert_eq!(roles(empty, 3), Err(CADUCEUS_INVALID_ARGUMENT));
        }
    }
}
