//! The policy and audit functions of the C ABI on untrusted input: policy
//! TOML (`policy_parse`), record and hold JSON (`policy_sweep`,
//! `_plan_erasure`, `_plan_access`), fuzzed role and category strings
//! (`policy_access_check`, `_readers`, `_wrap_recipients`), audit key,
//! signer key, origin and event texts (`audit_key_parse`, `_pseudonym`,
//! `audit_signer_verifier`, `audit_log_new`, `_append`,
//! `_sign_checkpoint`), stored entries (`audit_log_from_entries`,
//! `audit_verify`, `audit_entry_json`, `audit_leaf_hash`,
//! `audit_export_fhir`, `audit_log_resume`), signed checkpoints
//! (`audit_checkpoint_open`) and Merkle proofs
//! (`audit_verify_inclusion`, `_consistency`, and the proof builders).
//!
//! Input: a selector byte (low 3 bits: the operation; bit 7: also pass NULL
//! pointers, which must give `CADUCEUS_NULL_PARAMETER` and write nothing),
//! then the operation's input (NUL-separated strings, or bytes).
//!
//! Properties: no panic; every result code has a message and a failure a
//! last-error detail; out-parameters are written only on success; every
//! returned object is freed; the C ABI agrees with core (policy parse,
//! sweep, plans, log verification); reports and plans are JSON that agrees
//! with the typed out-parameters; a log verifies against the fixed signed
//! checkpoint only if it starts with the fixed entries; proofs built by the
//! C ABI verify through it, and tampered ones do not.
#![no_main]

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use caduceus::caduceus_result::*;
use caduceus::*;
use caduceus_core::access;
use caduceus_core::audit::merkle::{self, MemoryTree};
use caduceus_core::retention::{self, DEFAULT_POLICY, Date, Policy, parse_holds, parse_records};
use caduceus_fuzz::ffi::*;
use caduceus_fuzz::{AUDIT_ORIGIN, Reader, T0, apply_edits, audit_fixture};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_op(
        data,
        &[
            policy_parse,
            sweep,
            plan_erasure,
            plan_access,
            access_checks,
            audit_texts,
            audit_entries,
            checkpoints_and_proofs,
        ],
    );
});

fn core_policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::parse(DEFAULT_POLICY).expect("default policy"))
}

/// Times: inside and just outside 1900..=9999, and extremes.
fn time_of(b: u8) -> i64 {
    const MIN: i64 = -2_208_988_800;
    const MAX: i64 = 253_402_300_799;
    match b % 10 {
        0 => MIN,
        1 => MAX,
        2 => MIN - 1,
        3 => MAX + 1,
        4 => i64::MIN,
        5 => i64::MAX,
        6 => 0,
        b => T0 + 86_400 * 400 * i64::from(b - 6),
    }
}

fn in_range(t: i64) -> bool {
    (-2_208_988_800..=253_402_300_799).contains(&t)
}

/// A NUL-terminated C string or NULL (for `_or_null` parameters).
fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

// ---------------------------------------------------------------------------
// Policy.

fn policy_parse(data: &[u8], null_case: bool) {
    let toml = cstr(data);
    let mut p = ptr::null_mut();
    // SAFETY: NUL-terminated text; `p` valid for a write.
    let rc = unsafe { caduceus_policy_parse(toml.as_ptr(), &mut p) };
    let core = toml.to_str().ok().map(Policy::parse);
    if let Some(core) = parsed_like_core(rc, p, core, "policy_parse", "policy") {
        // SAFETY: live policy; out valid.
        let hash = text_of(|o| unsafe { caduceus_policy_hash(p, o) });
        assert_eq!(hash, core.hash_hex());
        assert!(hash.starts_with("sha256:") && hash.len() == 71);
        let (mut findings, mut errors, mut json) = (usize::MAX, usize::MAX, ptr::null_mut());
        // SAFETY: live policy; out-parameters valid.
        assert!(ok(unsafe {
            caduceus_policy_lint(p, &mut findings, &mut errors, &mut json)
        }));
        let v = take_json(json);
        assert_eq!(v["findings"].as_array().map(Vec::len), Some(findings));
        assert!(errors <= findings);
        // SAFETY: live policy; out valid.
        let _ = text_of(|o| unsafe { caduceus_policy_register_markdown(p, o) });
        // SAFETY: live policy; out valid.
        let reg = text_of(|o| unsafe { caduceus_policy_register_json(p, o) });
        let _: serde_json::Value = serde_json::from_str(&reg).expect("register JSON");
        let (mut deadline, mut basis) = (i64::MIN, ptr::null_mut());
        // SAFETY: live policy; out-parameters valid.
        assert!(ok(unsafe {
            caduceus_policy_answer_deadline(p, T0, &mut deadline, &mut basis)
        }));
        assert!(deadline > T0);
        let _ = take_text(basis);
        let empty = CString::new("[]").expect("s");
        let mut due = usize::MAX;
        // SAFETY: live policy; NUL-terminated JSON; `due` valid.
        assert!(ok(unsafe {
            caduceus_policy_sweep(
                p,
                empty.as_ptr(),
                ptr::null(),
                T0,
                &mut due,
                ptr::null_mut(),
            )
        }));
        assert_eq!(due, 0);
        if let Some(c) = core.categories().first() {
            let cat = CString::new(c.id.as_str()).expect("category id");
            let mut out = ptr::null_mut();
            // SAFETY: live policy; NUL-terminated category; `out` valid.
            assert!(ok(unsafe {
                caduceus_policy_readers(p, cat.as_ptr(), &mut out)
            }));
            let _ = take_json(out);
        }
        // SAFETY: live policy, freed once.
        unsafe { caduceus_policy_free(p) };
    }
    if null_case {
        let mut p = ptr::null_mut();
        // SAFETY: a NULL text is refused before any read.
        assert_null(unsafe { caduceus_policy_parse(ptr::null(), &mut p) });
        assert!(p.is_null());
    }
}

/// What core says about records and holds (None: a parse error).
fn core_inputs(
    records: &CString,
    holds: &Option<CString>,
) -> Option<(Vec<retention::Record>, Vec<retention::Hold>)> {
    let p = core_policy();
    let recs = parse_records(p, records.to_str().ok()?).ok()?;
    let holds = match holds {
        Some(h) => parse_holds(p, h.to_str().ok()?).ok()?,
        None => Vec::new(),
    };
    Some((recs.records, holds))
}

/// `caduceus_breach_clock`: 72 hours; outputs only on success.
fn breach_clock(detected: i64, now: i64) {
    let (mut deadline, mut left, mut json) = (i64::MIN, i64::MIN, ptr::null_mut());
    // SAFETY: out-parameters valid for writes.
    let rc = unsafe { caduceus_breach_clock(detected, now, &mut deadline, &mut left, &mut json) };
    if ok(rc) {
        assert!(in_range(detected) && in_range(now));
        assert_eq!(deadline, detected + 72 * 3600);
        assert_eq!(left, deadline - now);
        let v = take_json(json);
        assert_eq!(v["seconds-left"].as_i64(), Some(left));
    } else {
        assert!(
            !(in_range(detected) && in_range(now)),
            "breach_clock refused times in range"
        );
        assert!(
            deadline == i64::MIN && left == i64::MIN && json.is_null(),
            "breach_clock wrote outputs on failure"
        );
    }
}

fn sweep(data: &[u8], null_case: bool) {
    let f = fixed();
    let mut r = Reader(data);
    let at = time_of(r.u8());
    let fl = fields(r.0, 2);
    let records = cstr(fl[0]);
    let holds = r.0.contains(&0).then(|| cstr(fl[1]));
    breach_clock(at, at.saturating_add(3600));
    let (mut due, mut report) = (usize::MAX, ptr::null_mut());
    // SAFETY: live policy; NUL-terminated texts (holds NULL or text); out-parameters valid.
    let rc = unsafe {
        caduceus_policy_sweep(
            f.policy,
            records.as_ptr(),
            opt_ptr(&holds),
            at,
            &mut due,
            &mut report,
        )
    };
    let core = core_inputs(&records, &holds);
    if ok(rc) {
        let (recs, hs) = core.expect("core refuses records the C ABI swept");
        let expect = core_policy().sweep(&recs, Date::from_unix_berlin(at), &hs);
        assert_eq!(due, expect.due, "the C ABI and core sweep differently");
        let v = take_json(report);
        assert_eq!(v["summary"]["due"].as_u64(), Some(due as u64));
        assert_eq!(v["summary"]["records"].as_u64(), Some(recs.len() as u64));
    } else {
        assert_eq!(due, usize::MAX, "sweep wrote `due` on failure");
        assert!(report.is_null(), "sweep wrote the report on failure");
        assert!(
            core.is_none() || !in_range(at),
            "the C ABI refuses records core accepts"
        );
    }
    if null_case {
        // Each with one NULL: the records text, the policy, `due`.
        let calls: [(
            *const caduceus_policy,
            *const c_char,
            *const c_char,
            *mut usize,
        ); 3] = [
            (f.policy, ptr::null(), opt_ptr(&holds), &mut due),
            (ptr::null(), records.as_ptr(), ptr::null(), &mut due),
            (f.policy, records.as_ptr(), ptr::null(), ptr::null_mut()),
        ];
        for (policy, records, holds, due) in calls {
            // SAFETY: a NULL text is refused before any read, a NULL policy
            // or `due` before any work; the other arguments are valid.
            assert_null(unsafe {
                caduceus_policy_sweep(policy, records, holds, T0, due, ptr::null_mut())
            });
        }
    }
}

/// Optional outputs of the plan functions.
struct PlanOuts {
    plan: *mut caduceus_bytes,
    de: *mut caduceus_bytes,
    en: *mut caduceus_bytes,
    deadline: i64,
}

const NO_DEADLINE: i64 = i64::MIN + 11;

impl PlanOuts {
    fn new() -> Self {
        Self {
            plan: ptr::null_mut(),
            de: ptr::null_mut(),
            en: ptr::null_mut(),
            deadline: NO_DEADLINE,
        }
    }
    /// The optional out-parameters, or NULL as the flags say.
    fn opts(
        &mut self,
        flags: u8,
    ) -> (*mut *mut caduceus_bytes, *mut *mut caduceus_bytes, *mut i64) {
        (
            if flags & 1 != 0 {
                &mut self.de
            } else {
                ptr::null_mut()
            },
            if flags & 2 != 0 {
                &mut self.en
            } else {
                ptr::null_mut()
            },
            if flags & 4 != 0 {
                &mut self.deadline
            } else {
                ptr::null_mut()
            },
        )
    }
    /// Check a plan call that returned `rc` (`core_plans`: whether core
    /// makes the plan, for a request time in range) and its outputs.
    #[track_caller]
    fn check(
        self,
        rc: caduceus_result,
        core_plans: bool,
        call: &str,
        flags: u8,
        kind: &str,
        received_at: i64,
    ) {
        let success = ok(rc);
        if in_range(received_at) {
            assert_eq!(
                success, core_plans,
                "{call}: the C ABI and core disagree ({rc:?})"
            );
        } else {
            assert!(!success);
        }
        if success {
            let v = take_json(self.plan);
            assert_eq!(v["kind"].as_str(), Some(kind));
            assert_eq!(!self.de.is_null(), flags & 1 != 0);
            assert_eq!(!self.en.is_null(), flags & 2 != 0);
            if !self.de.is_null() {
                assert!(!take_text(self.de).is_empty());
            }
            if !self.en.is_null() {
                assert!(!take_text(self.en).is_empty());
            }
            if flags & 4 != 0 {
                assert!(
                    self.deadline > received_at,
                    "answer deadline not after the request"
                );
            } else {
                assert_eq!(self.deadline, NO_DEADLINE);
            }
        } else {
            assert!(
                self.plan.is_null() && self.de.is_null() && self.en.is_null(),
                "a plan wrote outputs on failure"
            );
            assert_eq!(
                self.deadline, NO_DEADLINE,
                "a plan wrote the deadline on failure"
            );
        }
    }
}

fn plan_erasure(data: &[u8], null_case: bool) {
    let f = fixed();
    let mut r = Reader(data);
    let (flags, at) = (r.u8(), time_of(r.u8()));
    let fl = fields(r.0, 3);
    let (subject, records) = (cstr(fl[0]), cstr(fl[1]));
    let holds = (r.0.iter().filter(|&&b| b == 0).count() >= 2).then(|| cstr(fl[2]));
    let mut outs = PlanOuts::new();
    let (de, en, dl) = outs.opts(flags);
    // SAFETY: live policy; NUL-terminated texts (holds NULL or text); out-parameters valid or NULL.
    let rc = unsafe {
        caduceus_policy_plan_erasure(
            f.policy,
            subject.as_ptr(),
            records.as_ptr(),
            opt_ptr(&holds),
            at,
            &mut outs.plan,
            de,
            en,
            dl,
        )
    };
    let core = core_inputs(&records, &holds).and_then(|(recs, hs)| {
        let s = subject.to_str().ok()?;
        core_policy().plan_erasure(s, at, &recs, &hs).ok()
    });
    outs.check(
        rc,
        core.is_some(),
        "plan_erasure",
        flags,
        "caduceus-erasure-plan/1",
        at,
    );
    if null_case {
        let (subject, records) = (
            CString::new("p-1").expect("s"),
            CString::new("[]").expect("s"),
        );
        let mut plan = ptr::null_mut();
        // Each with one NULL: the subject, the records text, the plan
        // out-parameter.
        let calls: [(*const c_char, *const c_char, *mut *mut caduceus_bytes); 3] = [
            (ptr::null(), records.as_ptr(), &mut plan),
            (subject.as_ptr(), ptr::null(), &mut plan),
            (subject.as_ptr(), records.as_ptr(), ptr::null_mut()),
        ];
        for (subject, records, plan) in calls {
            // SAFETY: a NULL text is refused before any read, a NULL plan
            // out-parameter before any work; the other arguments are valid.
            assert_null(unsafe {
                caduceus_policy_plan_erasure(
                    f.policy,
                    subject,
                    records,
                    ptr::null(),
                    T0,
                    plan,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            });
        }
        assert!(plan.is_null());
    }
}

fn plan_access(data: &[u8], null_case: bool) {
    let f = fixed();
    let mut r = Reader(data);
    let (flags, at) = (r.u8(), time_of(r.u8()));
    let fl = fields(r.0, 2);
    let (subject, records) = (cstr(fl[0]), cstr(fl[1]));
    let mut outs = PlanOuts::new();
    let (de, en, dl) = outs.opts(flags);
    // SAFETY: live policy; NUL-terminated texts; out-parameters valid or NULL.
    let rc = unsafe {
        caduceus_policy_plan_access(
            f.policy,
            subject.as_ptr(),
            records.as_ptr(),
            at,
            &mut outs.plan,
            de,
            en,
            dl,
        )
    };
    let core = core_inputs(&records, &None).and_then(|(recs, _)| {
        let s = subject.to_str().ok()?;
        access::plan_access(core_policy(), s, at, &recs).ok()
    });
    outs.check(
        rc,
        core.is_some(),
        "plan_access",
        flags,
        "caduceus-access-plan/1",
        at,
    );
    if null_case {
        let subject = CString::new("p-1").expect("s");
        let mut plan = ptr::null_mut();
        // SAFETY: a NULL records text is refused before any read.
        assert_null(unsafe {
            caduceus_policy_plan_access(
                f.policy,
                subject.as_ptr(),
                ptr::null(),
                T0,
                &mut plan,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        });
        assert!(plan.is_null());
    }
}

/// `caduceus_result_message` with any code and a buffer of `len` bytes.
fn result_message(code: u32, len: usize) {
    let mut buf = vec![0xAAu8; len];
    let mut n = usize::MAX;
    // SAFETY: `buf` valid for `len` bytes of writes (NULL-free even when
    // empty: a dangling, never-written pointer); `n` valid for a write.
    let rc = unsafe { caduceus_result_message(code, buf.as_mut_ptr(), len, &mut n) };
    let _ = ok(rc);
    let mut full = [0u8; 256];
    let mut m = usize::MAX;
    // SAFETY: `full` valid for 256 bytes; `m` valid for a write.
    let known = unsafe { caduceus_result_message(code, full.as_mut_ptr(), full.len(), &mut m) };
    match known {
        CADUCEUS_UNKNOWN_CODE => {
            assert_eq!(rc, CADUCEUS_UNKNOWN_CODE);
            assert_eq!(n, usize::MAX, "a length for an unknown code");
            assert!(
                buf.iter().all(|&b| b == 0xAA),
                "wrote a message for an unknown code"
            );
        }
        CADUCEUS_OK => {
            assert_eq!(n, m, "the required length depends on the buffer");
            if len > m {
                assert_eq!(rc, CADUCEUS_OK);
                assert_eq!(buf[..=m], full[..=m]);
            } else {
                assert_eq!(rc, CADUCEUS_BUFFER_TOO_SMALL);
            }
        }
        other => panic!("result_message with a 256-byte buffer: {other:?}"),
    }
}

fn access_checks(data: &[u8], null_case: bool) {
    let f = fixed();
    let mut r = Reader(data);
    let (op_byte, cap_byte) = (r.u8(), r.u8());
    let (op, cap) = (u32::from(op_byte % 4), usize::from(cap_byte % 5));
    result_message(
        u32::from(op_byte) | u32::from(cap_byte) << 8,
        usize::from(cap_byte % 64),
    );
    let fl = fields(r.0, 3);
    let (role, category, role2) = (cstr(fl[0]), cstr(fl[1]), cstr(fl[2]));
    let mut allowed = false;
    let mut json = ptr::null_mut();
    // SAFETY: live policy; NUL-terminated strings; out-parameters valid.
    let rc = unsafe {
        caduceus_policy_access_check(
            f.policy,
            role.as_ptr(),
            category.as_ptr(),
            op,
            &mut allowed,
            &mut json,
        )
    };
    let checked = ok(rc);
    if checked {
        let v = take_json(json);
        assert_eq!(v["allowed"].as_bool(), Some(allowed));
    } else {
        assert!(
            json.is_null(),
            "access_check wrote its out-parameter on failure"
        );
    }
    let mut out = ptr::null_mut();
    // SAFETY: live policy; NUL-terminated category; `out` valid.
    let rc = unsafe { caduceus_policy_readers(f.policy, category.as_ptr(), &mut out) };
    if ok(rc) {
        let readers = take_json(out);
        if checked && op == CADUCEUS_ACCESS_READ {
            let listed = readers
                .as_array()
                .expect("array")
                .iter()
                .any(|x| x.as_str() == role.to_str().ok());
            assert_eq!(allowed, listed, "access_check(read) and readers disagree");
        }
    } else {
        assert!(out.is_null());
    }
    // Wrap recipients: the practice key and the staff keys of reading roles.
    let roles = [role.clone(), role2.clone()];
    let role_ptrs = ptrs(&roles);
    let staff = [f.staff_pub as *const caduceus_public_key, f.other_pub];
    let sentinel = ptr::dangling::<caduceus_public_key>();
    let mut out_keys = [sentinel; 4];
    let mut n = usize::MAX;
    // SAFETY: live handles; arrays of 2; `out_keys` valid for `cap <= 4` writes; `n` valid.
    let rc = unsafe {
        caduceus_policy_wrap_recipients(
            f.policy,
            category.as_ptr(),
            f.practice_pub,
            role_ptrs.as_ptr(),
            staff.as_ptr(),
            2,
            out_keys.as_mut_ptr(),
            cap,
            &mut n,
        )
    };
    if ok(rc) {
        assert!(cap >= 3);
        assert!((1..=3).contains(&n), "{n} recipients selected");
        assert_eq!(
            out_keys[0], f.practice_pub as *const _,
            "the practice key comes first"
        );
        for k in &out_keys[1..n] {
            assert!(
                staff.contains(k),
                "a selected key is none of the keys given"
            );
        }
        assert!(
            out_keys[n..].iter().all(|k| *k == sentinel),
            "written past out_n"
        );
    } else {
        assert_eq!(n, usize::MAX, "wrap_recipients wrote out_n on failure");
        assert!(
            out_keys.iter().all(|k| *k == sentinel),
            "wrap_recipients wrote out_keys on failure"
        );
        if cap < 3 {
            assert_eq!(rc, CADUCEUS_BUFFER_TOO_SMALL);
        }
    }
    if null_case {
        // Valid other arguments: the NULL must be the only thing wrong.
        let (role, category) = (
            CString::new("doctor").expect("s"),
            CString::new("chat-messages").expect("s"),
        );
        let mut out = ptr::null_mut();
        // SAFETY: a NULL role is refused before any read.
        assert_null(unsafe {
            caduceus_policy_access_check(
                f.policy,
                ptr::null(),
                category.as_ptr(),
                0,
                &mut allowed,
                ptr::null_mut(),
            )
        });
        // SAFETY: a NULL category is refused before any read.
        assert_null(unsafe { caduceus_policy_readers(f.policy, ptr::null(), &mut out) });
        // SAFETY: a NULL role array with a non-zero count is refused.
        assert_null(unsafe {
            caduceus_policy_wrap_recipients(
                f.policy,
                category.as_ptr(),
                f.practice_pub,
                ptr::null(),
                staff.as_ptr(),
                2,
                out_keys.as_mut_ptr(),
                4,
                &mut n,
            )
        });
        let with_null = [role.as_ptr(), ptr::null()];
        // SAFETY: a NULL role string is refused.
        assert_null(unsafe {
            caduceus_policy_wrap_recipients(
                f.policy,
                category.as_ptr(),
                f.practice_pub,
                with_null.as_ptr(),
                staff.as_ptr(),
                2,
                out_keys.as_mut_ptr(),
                4,
                &mut n,
            )
        });
        assert!(out.is_null());
    }
}

// ---------------------------------------------------------------------------
// Audit.

fn pseudonym(
    key: *const caduceus_audit_key,
    kind: u32,
    id: &CString,
) -> Result<String, caduceus_result> {
    let mut out = ptr::null_mut();
    // SAFETY: live key; NUL-terminated identifier; `out` valid.
    let rc = unsafe { caduceus_audit_key_pseudonym(key, kind, id.as_ptr(), &mut out) };
    if ok(rc) {
        Ok(take_text(out))
    } else {
        assert!(out.is_null());
        Err(rc)
    }
}

fn log_root(log: *const caduceus_audit_log) -> [u8; 32] {
    let mut root = [0xA5u8; 32];
    // SAFETY: live log; `root` valid for 32 bytes.
    assert!(ok(unsafe {
        caduceus_audit_log_root(log, root.as_mut_ptr())
    }));
    root
}

fn log_size(log: *const caduceus_audit_log) -> u64 {
    let mut n = u64::MAX;
    // SAFETY: live log; `n` valid.
    assert!(ok(unsafe { caduceus_audit_log_size(log, &mut n) }));
    n
}

fn free_log(log: *mut caduceus_audit_log) {
    // SAFETY: NULL or a live log, freed once.
    unsafe { caduceus_audit_log_free(log) };
}

/// The pointer and length arrays of `entries`, for the C ABI's entry
/// list parameters.
fn entry_arrays(entries: &[&[u8]]) -> (Vec<*const u8>, Vec<usize>) {
    (
        entries.iter().map(|e| e.as_ptr()).collect(),
        entries.iter().map(|e| e.len()).collect(),
    )
}

/// `caduceus_audit_verify` over `entries` with optional checkpoints: (ok,
/// first bad index), or the failing code.
fn verify(
    entries: &[&[u8]],
    checkpoints: &[CString],
    keys: &[CString],
) -> Result<(bool, u64), caduceus_result> {
    let (ptrs_e, lens) = entry_arrays(entries);
    let (cps, ks) = (ptrs(checkpoints), ptrs(keys));
    let (mut good, mut bad, mut report) = (false, u64::MAX - 5, ptr::null_mut());
    // SAFETY: arrays valid for their lengths (NULL with 0), each entry for its length; out-parameters valid.
    let rc = unsafe {
        caduceus_audit_verify(
            array_ptr(&ptrs_e),
            array_ptr(&lens),
            entries.len(),
            array_ptr(&cps),
            cps.len(),
            array_ptr(&ks),
            ks.len(),
            &mut good,
            &mut bad,
            &mut report,
        )
    };
    if ok(rc) {
        let v = take_json(report);
        assert_eq!(v["ok"].as_bool(), Some(good));
        if good {
            assert_eq!(bad, entries.len() as u64);
            assert!(v["first_bad_index"].is_null());
        } else {
            assert_eq!(v["first_bad_index"].as_u64(), Some(bad));
            assert!(bad <= entries.len() as u64);
        }
        Ok((good, bad))
    } else {
        assert!(report.is_null());
        assert_eq!(bad, u64::MAX - 5, "verify wrote first_bad_index on failure");
        Err(rc)
    }
}

fn from_entries(
    origin: &CString,
    entries: &[&[u8]],
) -> Result<*mut caduceus_audit_log, caduceus_result> {
    let (ptrs_e, lens) = entry_arrays(entries);
    let mut log = ptr::null_mut();
    // SAFETY: NUL-terminated origin; arrays valid for their lengths; `log` valid.
    let rc = unsafe {
        caduceus_audit_log_from_entries(
            origin.as_ptr(),
            array_ptr(&ptrs_e),
            array_ptr(&lens),
            entries.len(),
            &mut log,
        )
    };
    out_or_err(rc, log, "from_entries")
}

fn audit_texts(data: &[u8], null_case: bool) {
    let f = fixed();
    let mut r = Reader(data);
    let kind = u32::from(r.u8() % 3);
    let fl = fields(r.0, 5);
    let s: Vec<CString> = fl.iter().map(|b| cstr(b)).collect();
    let (key_text, identifier, signer, origin, event) = (&s[0], &s[1], &s[2], &s[3], &s[4]);

    let mut key = ptr::null_mut();
    // SAFETY: NUL-terminated text; `key` valid.
    let rc = unsafe { caduceus_audit_key_parse(key_text.as_ptr(), &mut key) };
    if ok(rc) {
        // SAFETY: live key; out valid.
        let t =
            CString::new(text_of(|o| unsafe { caduceus_audit_key_to_text(key, o) })).expect("text");
        let mut again = ptr::null_mut();
        // SAFETY: NUL-terminated text; `again` valid.
        assert!(ok(unsafe {
            caduceus_audit_key_parse(t.as_ptr(), &mut again)
        }));
        assert_eq!(
            pseudonym(key, kind, identifier),
            pseudonym(again, kind, identifier),
            "audit key text does not round-trip"
        );
        // SAFETY: live keys, each freed once.
        unsafe {
            caduceus_audit_key_free(again);
            caduceus_audit_key_free(key);
        }
    } else {
        assert!(
            key.is_null(),
            "audit_key_parse wrote its out-parameter on failure"
        );
    }
    if let Ok(p) = pseudonym(f.audit_key, kind, identifier) {
        let prefix = if kind == CADUCEUS_PSEUDONYM_SUBJECT {
            "sbj-"
        } else {
            "stf-"
        };
        assert!(p.starts_with(prefix) && p.len() == 37, "pseudonym {p}");
    }

    let mut verifier = ptr::null_mut();
    // SAFETY: NUL-terminated text; `verifier` valid.
    let rc = unsafe { caduceus_audit_signer_verifier(signer.as_ptr(), &mut verifier) };
    let verifier = if ok(rc) {
        Some(CString::new(take_text(verifier)).expect("text"))
    } else {
        assert!(verifier.is_null());
        None
    };

    // A signer named by the fuzzed origin: its verifier is the one derived
    // from its secret text.
    let (mut sk, mut vk) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: NUL-terminated name; out-parameters valid.
    if ok(unsafe { caduceus_audit_signer_generate(origin.as_ptr(), &mut sk, &mut vk) }) {
        let sk = CString::new(take_text(sk)).expect("text");
        let vk = take_text(vk);
        // SAFETY: NUL-terminated text; out valid.
        assert_eq!(
            text_of(|o| unsafe { caduceus_audit_signer_verifier(sk.as_ptr(), o) }),
            vk
        );
    } else {
        assert!(
            sk.is_null() && vk.is_null(),
            "signer_generate wrote outputs on failure"
        );
    }

    let mut log = ptr::null_mut();
    // SAFETY: NUL-terminated origin; `log` valid.
    let rc = unsafe { caduceus_audit_log_new(origin.as_ptr(), &mut log) };
    let origin = if ok(rc) {
        origin.clone()
    } else {
        assert!(log.is_null());
        let o = CString::new(AUDIT_ORIGIN).expect("origin");
        // SAFETY: as above.
        assert!(ok(unsafe { caduceus_audit_log_new(o.as_ptr(), &mut log) }));
        o
    };
    let (mut entry, mut index, mut leaf) = (ptr::null_mut(), u64::MAX, [0xA5u8; 32]);
    // SAFETY: live log; NUL-terminated JSON; out-parameters valid.
    let rc = unsafe {
        caduceus_audit_log_append(
            log,
            event.as_ptr(),
            &mut entry,
            &mut index,
            leaf.as_mut_ptr(),
        )
    };
    if ok(rc) {
        let e = take(entry);
        assert_eq!(index, 0);
        assert_eq!(log_size(log), 1);
        let mut json = ptr::null_mut();
        // SAFETY: `e` valid; `json` valid.
        assert!(
            ok(unsafe { caduceus_audit_entry_json(e.as_ptr(), e.len(), &mut json) }),
            "an appended entry does not decode"
        );
        let v = take_json(json);
        assert_eq!(v["leaf_hash"].as_str(), Some(hex(&leaf).as_str()));
        assert_eq!(v["sequence"].as_u64(), Some(0));
        let mut lh = [0u8; 32];
        // SAFETY: `e` valid; `lh` valid for 32 bytes.
        assert!(ok(unsafe {
            caduceus_audit_leaf_hash(e.as_ptr(), e.len(), lh.as_mut_ptr())
        }));
        assert_eq!(lh, leaf);
        assert_eq!(
            verify(&[&e], &[], &[]),
            Ok((true, 1)),
            "an appended entry does not verify"
        );
        let rebuilt = from_entries(&origin, &[&e]).expect("an appended entry rebuilds the log");
        assert_eq!(log_root(rebuilt), log_root(log));
        free_log(rebuilt);
    } else {
        assert!(entry.is_null(), "append wrote its entry on failure");
        assert_eq!(index, u64::MAX, "append wrote the index on failure");
        assert_eq!(leaf, [0xA5; 32], "append wrote the leaf hash on failure");
        assert_eq!(log_size(log), 0, "a failed append changed the log");
    }
    // Sign the checkpoint with the fuzzed signer key; it opens with its verifier.
    let mut signed = ptr::null_mut();
    // SAFETY: live log; NUL-terminated key text; `signed` valid.
    let rc = unsafe { caduceus_audit_log_sign_checkpoint(log, signer.as_ptr(), &mut signed) };
    if ok(rc) {
        let signed = CString::new(take_text(signed)).expect("text");
        let v = verifier.expect("a signer that signs has a verifier");
        let keys = [v.as_ptr()];
        let (mut size, mut root) = (u64::MAX, [0u8; 32]);
        // SAFETY: NUL-terminated texts; out-parameters valid.
        assert!(
            ok(unsafe {
                caduceus_audit_checkpoint_open(
                    signed.as_ptr(),
                    keys.as_ptr(),
                    1,
                    &mut size,
                    root.as_mut_ptr(),
                    ptr::null_mut(),
                )
            }),
            "a signed checkpoint does not open with its verifier"
        );
        assert_eq!(size, log_size(log));
        assert_eq!(root, log_root(log));
    } else {
        assert!(signed.is_null());
    }
    if null_case {
        let mut k = ptr::null_mut();
        // SAFETY: a NULL text is refused before any read.
        assert_null(unsafe { caduceus_audit_key_parse(ptr::null(), &mut k) });
        assert!(k.is_null());
        let mut out = ptr::null_mut();
        // SAFETY: a NULL identifier is refused before any read.
        assert_null(unsafe { caduceus_audit_key_pseudonym(f.audit_key, 0, ptr::null(), &mut out) });
        // SAFETY: a NULL signer text is refused before any read.
        assert_null(unsafe { caduceus_audit_signer_verifier(ptr::null(), &mut out) });
        // SAFETY: a NULL signer text is refused before any read.
        assert_null(unsafe { caduceus_audit_log_sign_checkpoint(log, ptr::null(), &mut out) });
        assert!(out.is_null());
        let mut l2 = ptr::null_mut();
        // SAFETY: a NULL origin is refused before any read.
        assert_null(unsafe { caduceus_audit_log_new(ptr::null(), &mut l2) });
        assert!(l2.is_null());
        let size = log_size(log);
        // SAFETY: a NULL event text is refused before any read.
        assert_null(unsafe {
            caduceus_audit_log_append(log, ptr::null(), &mut out, ptr::null_mut(), ptr::null_mut())
        });
        assert!(out.is_null());
        assert_eq!(log_size(log), size);
    }
    free_log(log);
}

fn audit_entries(data: &[u8], null_case: bool) {
    let fx = audit_fixture();
    let mut r = Reader(data);
    let flags = r.u8();
    let mut entries: Vec<Vec<u8>> = if flags & 1 != 0 {
        fx.entries.clone()
    } else {
        Vec::new()
    };
    if flags & 2 != 0 && !entries.is_empty() {
        let k = usize::from(r.u8()) % entries.len();
        apply_edits(&mut entries[k], &mut r);
    }
    if flags & 4 != 0 && entries.len() > 1 {
        let k = usize::from(r.u8()) % entries.len();
        let e = entries.remove(k);
        if flags & 8 != 0 {
            entries.push(e);
        }
    }
    // Extra raw entries: u16 length, bytes.
    while !r.0.is_empty() && entries.len() < 8 {
        let n = usize::from(r.u16());
        entries.push(r.take(n).to_vec());
    }
    let list: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
    let origin = CString::new(AUDIT_ORIGIN).expect("origin");

    let verdict = verify(&list, &[], &[]).expect("verify without checkpoints runs");
    let core = caduceus_core::audit::verify_log(list.iter().copied(), &[]);
    assert_eq!(
        verdict.0,
        core.is_ok(),
        "the C ABI and core verify differently"
    );
    let rebuilt = from_entries(&origin, &list);
    assert_eq!(
        rebuilt.is_ok(),
        verdict.0,
        "from_entries and verify disagree"
    );

    // Against the fixed signed checkpoint (3 entries): only a log that
    // starts with the fixed entries verifies.
    let cp = [CString::new(fx.signed_checkpoint.as_str()).expect("text")];
    let keys = [CString::new(fx.verifier.as_str()).expect("text")];
    let pinned = verify(&list, &cp, &keys).expect("the fixed checkpoint opens");
    if pinned.0 {
        assert!(
            list.len() >= 3
                && list[..3] == fx.entries.iter().map(|e| &e[..]).collect::<Vec<_>>()[..],
            "a modified log verifies against the signed checkpoint"
        );
    }
    if entries.len() >= 3 && entries[..3] == fx.entries[..] {
        assert_eq!(
            pinned.0, verdict.0,
            "the fixed entries do not match their checkpoint"
        );
    }

    // Each entry decodes (or not) consistently.
    let mut all_decode = true;
    for e in &list {
        let mut json = ptr::null_mut();
        // SAFETY: `e` valid; `json` valid.
        let decoded = ok(unsafe { caduceus_audit_entry_json(e.as_ptr(), e.len(), &mut json) });
        let mut lh = [0u8; 32];
        // SAFETY: `e` valid; `lh` valid for 32 bytes.
        assert!(ok(unsafe {
            caduceus_audit_leaf_hash(e.as_ptr(), e.len(), lh.as_mut_ptr())
        }));
        assert_eq!(lh, merkle::leaf_hash(e));
        if decoded {
            let v = take_json(json);
            assert_eq!(v["leaf_hash"].as_str(), Some(hex(&lh).as_str()));
        } else {
            assert!(json.is_null());
            all_decode = false;
        }
    }
    let (ptrs_e, lens) = entry_arrays(&list);
    let mut fhir = ptr::null_mut();
    // SAFETY: NUL-terminated origin; arrays valid for their lengths; `fhir` valid.
    let rc = unsafe {
        caduceus_audit_export_fhir(
            origin.as_ptr(),
            array_ptr(&ptrs_e),
            array_ptr(&lens),
            list.len(),
            &mut fhir,
        )
    };
    assert_eq!(ok(rc), all_decode, "export_fhir and entry_json disagree");
    if all_decode {
        let _ = take_json(fhir);
    } else {
        assert!(fhir.is_null());
    }

    // A rebuilt log: its edge and last entry resume it.
    if let Ok(log) = rebuilt {
        assert_eq!(log_size(log), list.len() as u64);
        let mut edge = ptr::null_mut();
        // SAFETY: live log; `edge` valid.
        assert!(ok(unsafe { caduceus_audit_log_edge(log, &mut edge) }));
        let edge = take(edge);
        // SAFETY: live log; out valid.
        let cp_text = CString::new(text_of(|o| unsafe {
            caduceus_audit_log_checkpoint(log, o)
        }))
        .expect("text");
        let last: &[u8] = list.last().copied().unwrap_or(&[]);
        let mut resumed = ptr::null_mut();
        // SAFETY: NUL-terminated texts; buffers valid for their lengths; `resumed` valid.
        let rc = unsafe {
            caduceus_audit_log_resume(
                origin.as_ptr(),
                edge.as_ptr(),
                edge.len(),
                last.as_ptr(),
                last.len(),
                cp_text.as_ptr(),
                &mut resumed,
            )
        };
        assert!(ok(rc), "a log does not resume from its own edge");
        assert_eq!(log_root(resumed), log_root(log));
        assert_eq!(log_size(resumed), log_size(log));
        free_log(resumed);
        free_log(log);
    }
    // Resume from fuzzed bytes: the last entry as the edge.
    if let Some(e) = list.last() {
        let mut resumed = ptr::null_mut();
        let first: &[u8] = list.first().copied().unwrap_or(&[]);
        // SAFETY: NUL-terminated origin; buffers valid for their lengths; `resumed` valid.
        let rc = unsafe {
            caduceus_audit_log_resume(
                origin.as_ptr(),
                e.as_ptr(),
                e.len(),
                first.as_ptr(),
                first.len(),
                ptr::null(),
                &mut resumed,
            )
        };
        if ok(rc) {
            free_log(resumed);
        } else {
            assert!(
                resumed.is_null(),
                "resume wrote its out-parameter on failure"
            );
        }
    }
    if null_case {
        let n = list.first().map_or(1, |e| e.len().max(1));
        let mut log = ptr::null_mut();
        // SAFETY: NULL arrays with a non-zero count are refused before any read.
        assert_null(unsafe {
            caduceus_audit_log_from_entries(origin.as_ptr(), ptr::null(), ptr::null(), 2, &mut log)
        });
        let null_entry = [ptr::null::<u8>()];
        let lens = [n];
        // SAFETY: a NULL entry with a non-zero length is refused before any read.
        assert_null(unsafe {
            caduceus_audit_log_from_entries(
                origin.as_ptr(),
                null_entry.as_ptr(),
                lens.as_ptr(),
                1,
                &mut log,
            )
        });
        assert!(log.is_null());
        let (mut good, mut bad) = (false, 7u64);
        // SAFETY: as above.
        assert_null(unsafe {
            caduceus_audit_verify(
                null_entry.as_ptr(),
                lens.as_ptr(),
                1,
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut good,
                &mut bad,
                ptr::null_mut(),
            )
        });
        assert_eq!(bad, 7);
        let mut out = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe { caduceus_audit_entry_json(ptr::null(), n, &mut out) });
        // SAFETY: as above.
        assert_null(unsafe {
            caduceus_audit_export_fhir(
                origin.as_ptr(),
                null_entry.as_ptr(),
                lens.as_ptr(),
                1,
                &mut out,
            )
        });
        assert!(out.is_null());
        let mut lh = [0xA5u8; 32];
        // SAFETY: as above.
        assert_null(unsafe { caduceus_audit_leaf_hash(ptr::null(), n, lh.as_mut_ptr()) });
        assert_eq!(lh, [0xA5; 32]);
        // SAFETY: a NULL edge with a non-zero length is refused before any read.
        assert_null(unsafe {
            caduceus_audit_log_resume(
                origin.as_ptr(),
                ptr::null(),
                n,
                ptr::null(),
                0,
                ptr::null(),
                &mut log,
            )
        });
        assert!(log.is_null());
    }
}

/// 32 bytes of `r` (zeros past its end).
fn hash_of(r: &mut Reader<'_>) -> [u8; 32] {
    let mut h = [0u8; 32];
    let b = r.take(32);
    h[..b.len()].copy_from_slice(b);
    h
}

/// A proof builder of the C ABI: leaf hashes, their length, two tree
/// positions (index or old size, and size) and the proof out-parameter.
type ProofBuilder =
    unsafe extern "C" fn(*const u8, usize, u64, u64, *mut *mut caduceus_bytes) -> caduceus_result;

/// A proof from `build` over `leaves`, or the code.
#[track_caller]
fn build_proof(
    build: ProofBuilder,
    leaves: &[u8],
    a: u64,
    b: u64,
) -> Result<Vec<u8>, caduceus_result> {
    let mut out = ptr::null_mut();
    // SAFETY: `leaves` valid for its length; `out` valid for a write.
    let rc = unsafe { build(leaves.as_ptr(), leaves.len(), a, b, &mut out) };
    bytes_or_err(rc, out, "a proof builder")
}

/// A real `what` proof verifies through `verify`; with one bit flipped (at
/// `k` modulo its length) it does not.
#[track_caller]
fn check_proof(
    mut proof: Vec<u8>,
    k: usize,
    what: &str,
    verify: impl Fn(&[u8]) -> caduceus_result,
) {
    assert!(ok(verify(&proof)), "a real {what} proof does not verify");
    if !proof.is_empty() {
        let k = k % proof.len();
        proof[k] ^= 1;
        assert!(!ok(verify(&proof)), "a tampered {what} proof verifies");
    }
}

fn checkpoints_and_proofs(data: &[u8], null_case: bool) {
    let fx = audit_fixture();
    let mut r = Reader(data);
    let flags = r.u8();
    // A signed checkpoint and a verifier key: fuzzed (NUL-separated) or fixed.
    let fl = fields(r.0, 3);
    let signed = if flags & 1 != 0 {
        CString::new(fx.signed_checkpoint.as_str()).expect("text")
    } else {
        cstr(fl[0])
    };
    let verifier = if flags & 2 != 0 {
        CString::new(fx.verifier.as_str()).expect("text")
    } else {
        cstr(fl[1])
    };
    let keys = [verifier.as_ptr()];
    let (mut size, mut root, mut json) = (u64::MAX, [0xA5u8; 32], ptr::null_mut());
    // SAFETY: NUL-terminated texts; out-parameters valid.
    let rc = unsafe {
        caduceus_audit_checkpoint_open(
            signed.as_ptr(),
            keys.as_ptr(),
            1,
            &mut size,
            root.as_mut_ptr(),
            &mut json,
        )
    };
    if ok(rc) {
        let v = take_json(json);
        assert_eq!(v["size"].as_u64(), Some(size));
        assert_eq!(v["root"].as_str(), Some(hex(&root).as_str()));
    } else {
        assert!(
            json.is_null() && size == u64::MAX && root == [0xA5; 32],
            "checkpoint_open wrote outputs on failure"
        );
        assert!(
            flags & 3 != 3,
            "the fixed checkpoint does not open with its verifier"
        );
    }

    // Arbitrary proofs: leaf, root, index, size, proof bytes from the input.
    let mut p = Reader(fl[2]);
    let leaf = hash_of(&mut p);
    let root2 = hash_of(&mut p);
    let (index, size2) = (u64::from(p.u16()), u64::from(p.u16()));
    let proof = p.0;
    // SAFETY: 32-byte buffers; `proof` valid for its length.
    let _ = ok(unsafe {
        caduceus_audit_verify_inclusion(
            leaf.as_ptr(),
            index,
            size2,
            proof.as_ptr(),
            proof.len(),
            root2.as_ptr(),
        )
    });
    // SAFETY: as above.
    let _ = ok(unsafe {
        caduceus_audit_verify_consistency(
            index,
            size2,
            leaf.as_ptr(),
            root2.as_ptr(),
            proof.as_ptr(),
            proof.len(),
        )
    });

    // Proofs built by the C ABI from a real tree verify; tampered ones do not.
    let n = usize::from(flags >> 2) % 40 + 1;
    let mut tree = MemoryTree::new();
    let mut leaves = Vec::with_capacity(32 * n);
    for i in 0..n {
        let h = match fx.entries.get(i) {
            Some(e) => merkle::leaf_hash(e),
            None => merkle::leaf_hash(&(i as u64).to_be_bytes()),
        };
        tree.push(h);
        leaves.extend_from_slice(&h);
    }
    let sz = index % n as u64 + 1;
    let idx = size2 % sz;
    let real_root = tree.root(sz).expect("root");
    let ip = build_proof(caduceus_audit_inclusion_proof, &leaves, idx, sz)
        .expect("an inclusion proof of a real tree");
    let leaf = tree.leaves()[idx as usize];
    check_proof(ip, usize::from(flags), "inclusion", |ip| {
        // SAFETY: 32-byte buffers; `ip` valid for its length.
        unsafe {
            caduceus_audit_verify_inclusion(
                leaf.as_ptr(),
                idx,
                sz,
                ip.as_ptr(),
                ip.len(),
                real_root.as_ptr(),
            )
        }
    });
    let old = idx + 1;
    let old_root = tree.root(old).expect("root");
    let cproof = build_proof(caduceus_audit_consistency_proof, &leaves, old, sz)
        .expect("a consistency proof of a real tree");
    check_proof(cproof, usize::from(flags), "consistency", |cproof| {
        // SAFETY: 32-byte buffers; `cproof` valid for its length.
        unsafe {
            caduceus_audit_verify_consistency(
                old,
                sz,
                old_root.as_ptr(),
                real_root.as_ptr(),
                cproof.as_ptr(),
                cproof.len(),
            )
        }
    });
    // Proofs over fuzzed leaf hashes (any length).
    for f in [
        caduceus_audit_inclusion_proof,
        caduceus_audit_consistency_proof,
    ] {
        let _ = build_proof(f, proof, index, size2);
    }
    if null_case {
        let m = proof.len().max(1);
        // SAFETY: a NULL leaf hash is refused before any read.
        assert_null(unsafe {
            caduceus_audit_verify_inclusion(ptr::null(), 0, 1, ptr::null(), 0, root2.as_ptr())
        });
        // SAFETY: a NULL proof with a non-zero length is refused before any read.
        assert_null(unsafe {
            caduceus_audit_verify_inclusion(leaf.as_ptr(), 0, 1, ptr::null(), m, root2.as_ptr())
        });
        // SAFETY: as above.
        assert_null(unsafe {
            caduceus_audit_verify_consistency(1, 2, leaf.as_ptr(), root2.as_ptr(), ptr::null(), m)
        });
        // SAFETY: a NULL root is refused.
        assert_null(unsafe {
            caduceus_audit_verify_consistency(
                1,
                2,
                leaf.as_ptr(),
                ptr::null(),
                proof.as_ptr(),
                proof.len(),
            )
        });
        let mut out = ptr::null_mut();
        // SAFETY: a NULL buffer with a non-zero length is refused before any read.
        assert_null(unsafe { caduceus_audit_inclusion_proof(ptr::null(), m, 0, 1, &mut out) });
        // SAFETY: as above.
        assert_null(unsafe { caduceus_audit_consistency_proof(ptr::null(), m, 1, 1, &mut out) });
        assert!(out.is_null());
        let (mut size, mut root) = (u64::MAX, [0xA5u8; 32]);
        // SAFETY: a NULL checkpoint text is refused before any read.
        assert_null(unsafe {
            caduceus_audit_checkpoint_open(
                ptr::null(),
                keys.as_ptr(),
                1,
                &mut size,
                root.as_mut_ptr(),
                ptr::null_mut(),
            )
        });
        let signed = CString::new(fx.signed_checkpoint.as_str()).expect("text");
        // SAFETY: a NULL key array with a non-zero count is refused.
        assert_null(unsafe {
            caduceus_audit_checkpoint_open(
                signed.as_ptr(),
                ptr::null(),
                1,
                &mut size,
                root.as_mut_ptr(),
                ptr::null_mut(),
            )
        });
        assert!(size == u64::MAX && root == [0xA5; 32]);
    }
}
