//! C ABI of `caduceus_core::retention` and `caduceus_core::access` (policy).
//!
//! A `caduceus_policy` is a parsed, validated retention and access policy
//! (TOML, docs/POLICY.md; the built-in default is the German practice
//! policy `policies/de-practice.toml`). From it: the policy hash, the lint
//! findings, the Art. 30 register, the retention sweep over record
//! metadata, Art. 17 erasure plans and Art. 15/20 access plans with their
//! patient texts, role-based access decisions and the Art. 12(3) answer
//! deadline; the Art. 33 breach clock needs no policy.
//!
//! Record metadata and legal holds are JSON arrays (docs/POLICY.md,
//! "Records and holds"):
//!
//! ```text
//! records: [{"id": integer, "subject": string (pseudonym),
//!            "category": string (category id of the policy),
//!            "created" | "last-contact" | "end-of-treatment" | "billing"
//!            | "consent-end" | "birth": "YYYY-MM-DD" (each optional)}]
//! holds:   [{"subject": string | "category": string | "record": integer
//!            (exactly one), "reason": string,
//!            "from": "YYYY-MM-DD" (optional), "until": "YYYY-MM-DD"
//!            (optional, exclusive)}]
//! ```
//!
//! Reports and plans use the kebab-case JSON of the core library and the
//! CLI (`caduceus-sweep/1`, `caduceus-erasure-plan/1`, ...), documented at
//! each function. Times in are Unix seconds (UTC) between 1900 and 9999;
//! days are taken in Europe/Berlin.

use std::ffi::c_char;

use caduceus_core::access::{self, Operation, StaffKey};
use caduceus_core::consent::ConsentPolicy;
use caduceus_core::retention::{
    BreachClock, DEFAULT_POLICY, Date, Finding, Hold, Policy, RecordSet, Severity, answer_deadline,
    lint_with_consent, parse_holds, parse_records,
};
use serde_json::{Value, json};

use crate::boundary::{
    check_out, fail, free_handle, guard, guard_value, handle, handle_array, read_handle_out,
    set_last_error, text, text_array, write_handle, write_out,
};
use crate::bytes::caduceus_bytes;
use crate::consent::{caduceus_consent_ledger, invalid, write_opt, write_opt_text, write_text_out};
use crate::keys::caduceus_public_key;
use crate::result::caduceus_result;

/// A retention and access policy (opaque). Create it with
/// [`caduceus_policy_default`] or [`caduceus_policy_parse`]; free it with
/// [`caduceus_policy_free`].
///
/// Thread safety: a policy never changes after it is created; every call
/// takes a `const caduceus_policy *` and may run concurrently from any
/// number of threads.
#[allow(non_camel_case_types)]
pub struct caduceus_policy(pub(crate) Policy);

/// [`caduceus_policy_access_check`]: open and read a category.
pub const CADUCEUS_ACCESS_READ: u32 = 0;
/// [`caduceus_policy_access_check`]: create or change.
pub const CADUCEUS_ACCESS_WRITE: u32 = 1;
/// [`caduceus_policy_access_check`]: export out of the system.
pub const CADUCEUS_ACCESS_EXPORT: u32 = 2;

/// Earliest time accepted: 1900-01-01T00:00:00Z.
const MIN_SECS: i64 = -2_208_988_800;
/// Latest time accepted: 9999-12-31T23:59:59Z.
const MAX_SECS: i64 = 253_402_300_799;

fn check_time(t: i64, what: &str) -> Result<(), caduceus_result> {
    if (MIN_SECS..=MAX_SECS).contains(&t) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} must be Unix seconds between 1900-01-01 and 9999-12-31"
        )))
    }
}

fn records(p: &Policy, json: &str) -> Result<RecordSet, caduceus_result> {
    parse_records(p, json).map_err(fail)
}

/// Holds from an optional JSON text (NULL: none).
///
/// # Safety
/// `holds_json` NULL or NUL-terminated.
#[allow(unsafe_code)]
unsafe fn holds(p: &Policy, holds_json: *const c_char) -> Result<Vec<Hold>, caduceus_result> {
    if holds_json.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let json = unsafe { text(holds_json)? };
    parse_holds(p, json).map_err(fail)
}

/// Load the built-in default policy for German medical and dental
/// practices (`policies/de-practice.toml`), each rule with its legal source.
///
/// # Safety
/// `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_default(
    out: *mut *mut caduceus_policy,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        let p = Policy::parse(DEFAULT_POLICY).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_policy(p)) };
        Ok(())
    })
}

/// Parse and validate a policy from TOML (docs/POLICY.md). Errors give
/// `CADUCEUS_POLICY_SYNTAX` or `CADUCEUS_POLICY_INVALID`, with the line,
/// column and reason in the last error; nothing of a refused policy is used.
///
/// # Safety
/// `toml` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_parse(
    toml: *const c_char,
    out: *mut *mut caduceus_policy,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: NUL-terminated per the caller's contract.
        let toml = unsafe { text(toml)? };
        let p = Policy::parse(toml).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_handle(out, caduceus_policy(p)) };
        Ok(())
    })
}

/// Free a policy. NULL is a no-op.
///
/// # Safety
/// `policy` NULL or a live policy, not used afterwards.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_free(policy: *mut caduceus_policy) {
    guard_value((), || {
        // SAFETY: NULL or a handle from this library, freed once.
        unsafe { free_handle(policy) }
    })
}

/// The policy hash: SHA-256 of the canonical policy as text,
/// `sha256:` followed by 64 lowercase hex digits. Every plan and access
/// decision records it.
///
/// # Safety
/// `policy` a live policy; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_hash(
    policy: *const caduceus_policy,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { read_handle_out(policy, out, |p| Ok(caduceus_bytes::text(p.0.hash_hex()))) }
    })
}

/// Lint the policy: what is legally or technically questionable, among
/// others a retention rule shorter than the statutory minimum of the law it
/// cites and a register entry whose `art6` / `art9` contradicts the basis the
/// default consent policy decides its `consent-purpose` on (use
/// [`caduceus_policy_lint_with_ledger`] to check against a ledger's own
/// consent policy). `findings` receives the number of findings, `errors` the
/// number of error findings (a policy with errors must not be used). The
/// optional `json_or_null` receives
///
/// ```text
/// {"hash": "sha256:...", "errors": integer, "warnings": integer,
///  "findings": [{"code": string (stable, docs/POLICY.md),
///                "severity": "error" | "warning", "line": integer,
///                "column": integer, "message": string, "fix": string}]}
/// ```
///
/// # Safety
/// `policy` a live policy; `findings` and `errors` valid for writes;
/// `json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_lint(
    policy: *const caduceus_policy,
    findings: *mut usize,
    errors: *mut usize,
    json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(findings)?;
        check_out(errors)?;
        // SAFETY: a live handle per the caller's contract.
        let p = unsafe { handle(policy)? };
        let list = lint_with_consent(&p.0, &ConsentPolicy::default());
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe { write_lint(&p.0, &list, findings, errors, json_or_null) };
        Ok(())
    })
}

/// [`caduceus_policy_lint`], checking each activity's `consent-purpose`
/// against the consent policy of `ledger` (the one the practice decides
/// with) instead of the default consent policy.
///
/// # Safety
/// `policy` a live policy; `ledger` a live consent ledger; `findings` and
/// `errors` valid for writes; `json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_lint_with_ledger(
    policy: *const caduceus_policy,
    ledger: *const caduceus_consent_ledger,
    findings: *mut usize,
    errors: *mut usize,
    json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(findings)?;
        check_out(errors)?;
        // SAFETY: live handles per the caller's contract.
        let (p, l) = unsafe { (handle(policy)?, handle(ledger)?) };
        let list = lint_with_consent(&p.0, l.ledger().policy());
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe { write_lint(&p.0, &list, findings, errors, json_or_null) };
        Ok(())
    })
}

/// Write lint findings to the out-parameters of the lint functions.
///
/// # Safety
/// `findings` and `errors` valid for writes; `json_or_null` NULL or valid
/// for a write.
#[allow(unsafe_code)]
unsafe fn write_lint(
    p: &Policy,
    list: &[Finding],
    findings: *mut usize,
    errors: *mut usize,
    json_or_null: *mut *mut caduceus_bytes,
) {
    let n_errors = list
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if !json_or_null.is_null() {
        let items: Vec<Value> = list
            .iter()
            .map(|f| {
                json!({"code": f.code, "severity": f.severity.name(), "line": f.location.line,
                       "column": f.location.column, "message": f.message, "fix": f.fix})
            })
            .collect();
        let v = json!({"hash": p.hash_hex(), "errors": n_errors,
                       "warnings": list.len() - n_errors, "findings": items});
        // SAFETY: non-NULL, valid per the caller's contract.
        unsafe { write_opt_text(json_or_null, v.to_string()) };
    }
    // SAFETY: valid per the caller's contract.
    unsafe {
        write_out(findings, list.len());
        write_out(errors, n_errors);
    }
}

/// The register of processing activities (Art. 30 GDPR) as a Markdown
/// document (text).
///
/// # Safety
/// `policy` a live policy; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_register_markdown(
    policy: *const caduceus_policy,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(policy, out, |p| {
                Ok(caduceus_bytes::text(p.0.register_markdown()))
            })
        }
    })
}

/// The register of processing activities (Art. 30 GDPR) as JSON: the
/// controller, each activity with purposes, categories, subjects, legal
/// bases, recipients, processors, transfers and retention (the shape the
/// CLI's `policy register --format json` prints; docs/POLICY.md).
///
/// # Safety
/// `policy` a live policy; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_register_json(
    policy: *const caduceus_policy,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            read_handle_out(policy, out, |p| {
                Ok(caduceus_bytes::text(p.0.register_json().to_string()))
            })
        }
    })
}

/// The retention sweep: for record metadata (`records_json`, see the
/// module schema) and optional legal holds (`holds_json_or_null`), on the
/// day of `at` (Unix seconds, Europe/Berlin), which actions are due, which
/// records are held or unresolved (a missing anchor date never erases), and
/// every kept record's next due date. `due` receives the number of records
/// with an action due. The optional `report_json_or_null` receives
///
/// ```text
/// {"kind": "caduceus-sweep/1",
///  "policy": {"id", "version", "hash"}, "date": "YYYY-MM-DD",
///  "summary": {"records", "due", "kept", "held", "unresolved"},
///  "due": [{"record", "category", "action", "since"}],
///  "held": [{"record", "category", "reason", "retention-expires"}],
///  "unresolved": [{"record", "category", "missing-anchor", "note"}],
///  "next-due": [{"record", "category", "action", "due"}]}
/// ```
///
/// Malformed records or holds give `CADUCEUS_POLICY_BAD_RECORDS`.
///
/// # Safety
/// `policy` a live policy; `records_json` NUL-terminated;
/// `holds_json_or_null` NULL or NUL-terminated; `due` valid for a write;
/// `report_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_sweep(
    policy: *const caduceus_policy,
    records_json: *const c_char,
    holds_json_or_null: *const c_char,
    at: i64,
    due: *mut usize,
    report_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(due)?;
        check_time(at, "the sweep time")?;
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (p, records_json) = unsafe { (handle(policy)?, text(records_json)?) };
        let set = records(&p.0, records_json)?;
        // SAFETY: NULL or NUL-terminated per the caller's contract.
        let holds = unsafe { holds(&p.0, holds_json_or_null)? };
        let report = p.0.sweep(&set.records, Date::from_unix_berlin(at), &holds);
        if !report_json_or_null.is_null() {
            // SAFETY: non-NULL, valid per the caller's contract.
            unsafe {
                write_opt_text(
                    report_json_or_null,
                    report.to_json(&p.0, &holds).to_string(),
                )
            };
        }
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_out(due, report.due) };
        Ok(())
    })
}

/// Plan an erasure request (Art. 17) of `subject`, received at
/// `received_at` (Unix seconds), over the subject's record metadata and the
/// legal holds: per category, erase now (and how: delete the record or
/// shred the subject-category key), or keep under an Art. 17(3) ground with
/// the date of erasure and restricted processing meanwhile; plus the answer
/// deadline (Art. 12(3)). `plan_json` receives
///
/// ```text
/// {"kind": "caduceus-erasure-plan/1",
///  "policy": {"id", "version", "hash"}, "subject": string,
///  "received-at": string, "evaluated-for": "YYYY-MM-DD",
///  "answer-deadline": string, "deadline-basis": string,
///  "categories": [{"category": string,
///                  "decision": "erase-now" | "keep" | "partly-keep",
///                  "erase-now": {"records": [int], "method": string, "shred-key": bool},
///                  "keep": [{"record": int, "erase-on": "YYYY-MM-DD" | null,
///                            "waiting-for": anchor | null}],
///                  "ground": {"id": string, "article": string} | null,
///                  "source": string | null, "restrict-processing": bool,
///                  "held": [{"record": int, "reason": string}]}],
///  "text": {"de": string, "en": string}}
/// ```
///
/// The optional `text_de_or_null` / `text_en_or_null` receive the letter to
/// the patient in German / English, `deadline_or_null` the answer deadline
/// (Unix seconds). Records of another subject give
/// `CADUCEUS_POLICY_OTHER_SUBJECT`.
///
/// # Safety
/// `policy` a live policy; `subject` and `records_json` NUL-terminated;
/// `holds_json_or_null` NULL or NUL-terminated; `plan_json` valid for a
/// write; each optional out-parameter NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_policy_plan_erasure(
    policy: *const caduceus_policy,
    subject: *const c_char,
    records_json: *const c_char,
    holds_json_or_null: *const c_char,
    received_at: i64,
    plan_json: *mut *mut caduceus_bytes,
    text_de_or_null: *mut *mut caduceus_bytes,
    text_en_or_null: *mut *mut caduceus_bytes,
    deadline_or_null: *mut i64,
) -> caduceus_result {
    guard(|| {
        check_out(plan_json)?;
        check_time(received_at, "the time of receipt")?;
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (p, subject, records_json) =
            unsafe { (handle(policy)?, text(subject)?, text(records_json)?) };
        let set = records(&p.0, records_json)?;
        // SAFETY: NULL or NUL-terminated per the caller's contract.
        let holds = unsafe { holds(&p.0, holds_json_or_null)? };
        let plan =
            p.0.plan_erasure(subject, received_at, &set.records, &holds)
                .map_err(fail)?;
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_text_out(plan_json, plan.to_json(&p.0).to_string());
            if !text_de_or_null.is_null() {
                write_opt_text(text_de_or_null, plan.text_de(&p.0));
            }
            if !text_en_or_null.is_null() {
                write_opt_text(text_en_or_null, plan.text_en(&p.0));
            }
            write_opt(deadline_or_null, plan.deadline.0);
        }
        Ok(())
    })
}

/// Plan an access (Art. 15) or portability (Art. 20) request of `subject`
/// received at `received_at` (Unix seconds), over the subject's record
/// metadata: per category what exists, why it is processed (purposes,
/// legal bases), who receives it, how long it is kept, what to export
/// (portable categories marked), and the answer deadline. `plan_json`
/// receives the plan (`"kind": "caduceus-access-plan/1"`, the shape of the
/// CLI's `policy access`); the optional texts are the letter to the
/// patient in German / English; `deadline_or_null` the deadline.
///
/// # Safety
/// As [`caduceus_policy_plan_erasure`], without holds.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_policy_plan_access(
    policy: *const caduceus_policy,
    subject: *const c_char,
    records_json: *const c_char,
    received_at: i64,
    plan_json: *mut *mut caduceus_bytes,
    text_de_or_null: *mut *mut caduceus_bytes,
    text_en_or_null: *mut *mut caduceus_bytes,
    deadline_or_null: *mut i64,
) -> caduceus_result {
    guard(|| {
        check_out(plan_json)?;
        check_time(received_at, "the time of receipt")?;
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (p, subject, records_json) =
            unsafe { (handle(policy)?, text(subject)?, text(records_json)?) };
        let set = records(&p.0, records_json)?;
        let plan = access::plan_access(&p.0, subject, received_at, &set.records).map_err(fail)?;
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_text_out(plan_json, plan.to_json(&p.0).to_string());
            if !text_de_or_null.is_null() {
                write_opt_text(text_de_or_null, plan.text_de(&p.0));
            }
            if !text_en_or_null.is_null() {
                write_opt_text(text_en_or_null, plan.text_en(&p.0));
            }
            write_opt(deadline_or_null, plan.deadline.0);
        }
        Ok(())
    })
}

/// May `role` perform `operation` (`CADUCEUS_ACCESS_READ`, `_WRITE` or
/// `_EXPORT`) on `category`? `allowed` receives the answer. Unknown roles
/// and categories are errors (`CADUCEUS_POLICY_UNKNOWN_ROLE`,
/// `CADUCEUS_POLICY_UNKNOWN_CATEGORY`), never a silent "no"; an unknown
/// operation gives `CADUCEUS_INVALID_ARGUMENT`. The optional
/// `decision_json_or_null` receives, for the audit log,
/// `{"role", "category", "operation", "allowed": bool, "reason": string,
///   "policy_hash": "sha256:..."}`.
///
/// # Safety
/// `policy` a live policy; `role` and `category` NUL-terminated; `allowed`
/// valid for a write; `decision_json_or_null` NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_access_check(
    policy: *const caduceus_policy,
    role: *const c_char,
    category: *const c_char,
    operation: u32,
    allowed: *mut bool,
    decision_json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(allowed)?;
        let op = match operation {
            CADUCEUS_ACCESS_READ => Operation::Read,
            CADUCEUS_ACCESS_WRITE => Operation::Write,
            CADUCEUS_ACCESS_EXPORT => Operation::Export,
            _ => {
                return Err(invalid(
                    "operation must be CADUCEUS_ACCESS_READ, _WRITE or _EXPORT",
                ));
            }
        };
        // SAFETY: live handle and NUL-terminated strings per the caller's contract.
        let (p, role, category) = unsafe { (handle(policy)?, text(role)?, text(category)?) };
        let d = access::check(&p.0, role, category, op).map_err(fail)?;
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(allowed, d.allowed);
            if !decision_json_or_null.is_null() {
                let v = json!({"role": role, "category": category, "operation": op.name(),
                               "allowed": d.allowed, "reason": d.reason, "policy_hash": d.policy_hash});
                write_opt_text(decision_json_or_null, v.to_string());
            }
        }
        Ok(())
    })
}

/// The roles that may read `category`, in policy order, as a JSON array of
/// role ids: the roles whose staff keys receive a wrapped copy of each
/// subject-category key (besides the practice key, which always does).
///
/// # Safety
/// `policy` a live policy; `category` NUL-terminated; `out` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_readers(
    policy: *const caduceus_policy,
    category: *const c_char,
    out: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(out)?;
        // SAFETY: live handle and NUL-terminated string per the caller's contract.
        let (p, category) = unsafe { (handle(policy)?, text(category)?) };
        let roles = access::readers(&p.0, category).map_err(fail)?;
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_text_out(out, json!(roles).to_string()) };
        Ok(())
    })
}

/// Who receives a wrapped copy of a subject-category key of `category`:
/// the practice key first, then every staff key with a role that may read
/// the category (in the order given), each key once (by key id). The
/// result feeds `caduceus_keyring_record_create` directly:
///
/// ```c
/// const caduceus_public_key *recipients[N_STAFF + 1];
/// size_t n = 0;
/// rc = caduceus_policy_wrap_recipients(policy, "clinical-photos", practice,
///                                      roles, staff, N_STAFF,
///                                      recipients, N_STAFF + 1, &n);
/// if (rc == CADUCEUS_OK)
///   rc = caduceus_keyring_record_create(subject, "clinical-photos",
///                                       recipients, n, now, &record);
/// ```
///
/// The staff are `n_staff` pairs `(staff_roles[i], staff_keys[i])`: a role
/// id of the policy and the public key of a staff member (or device) with
/// that role. A key whose holder has several roles is given once per role;
/// it is selected at most once. Every role must be defined in the policy
/// (`CADUCEUS_POLICY_UNKNOWN_ROLE`, also for a role that reads nothing);
/// an unknown category gives `CADUCEUS_POLICY_UNKNOWN_CATEGORY`. Key kinds
/// are not checked here; `caduceus_keyring_record_create` checks them.
///
/// On success `out_keys[0 .. *out_n]` receives the selected handles
/// themselves: `practice` and pointers taken from `staff_keys`. They are
/// borrowed, not new handles: do not free them, and use them only while
/// the handles passed in are alive. `out_capacity` is the number of
/// elements of `out_keys`; it must be at least `n_staff + 1` (the most
/// that can be selected), otherwise the call returns
/// `CADUCEUS_BUFFER_TOO_SMALL` and writes nothing. `*out_n` is at least 1
/// (the practice key).
///
/// Thread safety: reads its arguments only; `policy` and the key handles
/// may be used by other threads at the same time (they are immutable).
///
/// # Safety
/// `policy` a live policy; `category` NUL-terminated; `practice` a live
/// public key; `staff_roles` valid for `n_staff` NUL-terminated strings
/// and `staff_keys` for `n_staff` live public key handles (each array
/// NULL only when `n_staff` is 0); `out_keys` valid for `out_capacity`
/// pointer writes; `out_n` valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn caduceus_policy_wrap_recipients(
    policy: *const caduceus_policy,
    category: *const c_char,
    practice: *const caduceus_public_key,
    staff_roles: *const *const c_char,
    staff_keys: *const *const caduceus_public_key,
    n_staff: usize,
    out_keys: *mut *const caduceus_public_key,
    out_capacity: usize,
    out_n: *mut usize,
) -> caduceus_result {
    guard(|| {
        check_out(out_keys)?;
        check_out(out_n)?;
        let needed = n_staff
            .checked_add(1)
            .ok_or_else(|| invalid("n_staff is larger than any valid array"))?;
        if out_capacity < needed {
            set_last_error(format!(
                "out_keys needs room for n_staff + 1 = {needed} handles, out_capacity is {out_capacity}"
            ));
            return Err(caduceus_result::CADUCEUS_BUFFER_TOO_SMALL);
        }
        // SAFETY: live handles, NUL-terminated strings and arrays of
        // `n_staff` elements per the caller's contract.
        let (p, category, practice, roles, keys) = unsafe {
            (
                handle(policy)?,
                text(category)?,
                handle(practice)?,
                text_array(staff_roles, n_staff)?,
                handle_array(staff_keys, n_staff)?,
            )
        };
        let staff: Vec<StaffKey> = roles
            .iter()
            .zip(&keys)
            .map(|(role, k)| StaffKey {
                key: k.key,
                roles: vec![(*role).to_owned()],
            })
            .collect();
        let selected =
            access::wrap_recipients(&p.0, category, &practice.key, &staff).map_err(fail)?;
        // Map each selected key back to a handle passed in: the practice
        // key first, then the first staff handle holding the same key.
        let mut handles: Vec<*const caduceus_public_key> = Vec::with_capacity(selected.len());
        for (i, key) in selected.iter().enumerate() {
            let id = key.key_id();
            let h = if i == 0 {
                Some(practice)
            } else {
                keys.iter().copied().find(|k| k.key.key_id() == id)
            };
            let h = h.ok_or_else(|| {
                set_last_error("a selected key is none of the keys given");
                caduceus_result::CADUCEUS_INTERNAL
            })?;
            handles.push(h);
        }
        if handles.len() > out_capacity {
            set_last_error("more keys selected than given");
            return Err(caduceus_result::CADUCEUS_INTERNAL);
        }
        for (i, h) in handles.iter().enumerate() {
            // SAFETY: checked non-NULL; `i < handles.len() <= out_capacity`
            // and `out_keys` is valid for `out_capacity` writes per the
            // caller's contract.
            unsafe { write_out(out_keys.add(i), *h) };
        }
        // SAFETY: checked non-NULL; valid per the caller's contract.
        unsafe { write_out(out_n, handles.len()) };
        Ok(())
    })
}

/// The deadline for answering a data-subject request received at
/// `received_at` (Unix seconds): one month (Art. 12(3) GDPR, to the end of
/// the same-numbered day of the next month, Europe/Berlin), or the
/// practice's promise in the policy if earlier. `deadline` receives Unix
/// seconds; the optional `basis_or_null` the rule that gave it (text).
///
/// # Safety
/// `policy` a live policy; `deadline` valid for a write; `basis_or_null`
/// NULL or valid for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_policy_answer_deadline(
    policy: *const caduceus_policy,
    received_at: i64,
    deadline: *mut i64,
    basis_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(deadline)?;
        check_time(received_at, "the time of receipt")?;
        // SAFETY: a live handle per the caller's contract.
        let p = unsafe { handle(policy)? };
        let (when, basis) = answer_deadline(received_at, p.0.meta().answer_promise_hours);
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(deadline, when);
            write_opt_text(basis_or_null, basis);
        }
        Ok(())
    })
}

/// The Art. 33 breach clock: for a breach detected at `detected_at` (Unix
/// seconds), `deadline` receives the notification deadline (72 hours
/// later) and the optional `seconds_left_or_null` the seconds left at
/// `now` (negative once overdue). The optional `json_or_null` receives
///
/// ```text
/// {"kind": "caduceus-breach-clock/1", "detected-at": string,
///  "deadline": string, "deadline-berlin-day": "YYYY-MM-DD",
///  "basis": string, "now": string, "seconds-left": integer, "overdue": bool}
/// ```
///
/// # Safety
/// `deadline` valid for a write; the optional out-parameters NULL or valid
/// for a write.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe extern "C" fn caduceus_breach_clock(
    detected_at: i64,
    now: i64,
    deadline: *mut i64,
    seconds_left_or_null: *mut i64,
    json_or_null: *mut *mut caduceus_bytes,
) -> caduceus_result {
    guard(|| {
        check_out(deadline)?;
        check_time(detected_at, "the detection time")?;
        check_time(now, "now")?;
        let clock = BreachClock::start(detected_at);
        // SAFETY: checked non-NULL / NULL or valid per the caller's contract.
        unsafe {
            write_out(deadline, clock.deadline);
            write_opt(seconds_left_or_null, clock.seconds_left(now));
            if !json_or_null.is_null() {
                write_opt_text(json_or_null, clock.to_json(Some(now)).to_string());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use caduceus_core::retention::format_unix;

    #[test]
    fn time_bounds_render() {
        assert_eq!(format_unix(MIN_SECS).get(..4), Some("1900"));
        assert!(check_time(MAX_SECS + 1, "t").is_err());
    }
}
