//! The key and consent functions of the C ABI on untrusted input: key
//! texts (`private_key_from_secret`, `public_key_parse`), keyring record
//! bytes and labels (`keyring_record_from_bytes`, `_create`, revoke and
//! rotate with fuzzed key ids), ledger bytes (`consent_ledger_from_bytes`),
//! consent events as JSON (`consent_record`), fuzzed strings for
//! `consent_decide`, `_decide_many`, `_opt_out`, `_history`, the exports,
//! and a fuzzed consent policy TOML with notices.
//!
//! Input: a selector byte (low 3 bits: the operation; bit 7: also pass NULL
//! pointers, which must give `CADUCEUS_NULL_PARAMETER` and change nothing),
//! then the operation's input (raw bytes, or NUL-separated strings).
//!
//! Properties: no panic; every result code has a message and a failure a
//! last-error detail; out-parameters are written only on success, and a
//! failed call leaves a ledger byte-for-byte unchanged; every returned
//! object is freed; the C ABI agrees with core; texts and records round-trip
//! (to_secret/from_secret, to_text/parse, to_bytes/from_bytes); an
//! unwrapped key matches the record's public key; decisions agree with
//! `decide_many` and with a recorded opt-out.
#![no_main]

use std::ffi::CString;
use std::ptr;

use caduceus::caduceus_result::*;
use caduceus::*;
use caduceus_core::consent::Ledger;
use caduceus_core::keys::{KeyringRecord, PrivateKey, PublicKey};
use caduceus_fuzz::ffi::*;
use caduceus_fuzz::{Reader, T0, sample_ledger_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_op(
        data,
        &[
            private_key,
            public_key,
            record_bytes,
            record_create,
            ledger_bytes,
            consent_record,
            consent_strings,
            consent_policy,
        ],
    );
});

fn private_id(k: *const caduceus_private_key) -> String {
    // SAFETY: `k` a live handle; the out-parameter valid for a write.
    text_of(|o| unsafe { caduceus_private_key_id(k, o) })
}

fn public_id(k: *const caduceus_public_key) -> String {
    // SAFETY: `k` a live handle; the out-parameter valid for a write.
    text_of(|o| unsafe { caduceus_public_key_id(k, o) })
}

/// The bytes (`to`) of handle `h` (`what`, for the messages), after
/// checking that they load (`from`) into a handle with the same bytes,
/// which is freed (`free`).
#[track_caller]
fn round_trip<H>(
    h: *const H,
    to: fn(*const H) -> Vec<u8>,
    from: fn(&[u8]) -> Result<*mut H, caduceus_result>,
    free: fn(*mut H),
    what: &str,
) -> Vec<u8> {
    let b = to(h);
    let again = from(&b).unwrap_or_else(|rc| panic!("{what} does not load: {rc:?}"));
    assert_eq!(to(again), b, "{what} does not round-trip");
    free(again);
    b
}

/// [`round_trip`] of a keyring record.
#[track_caller]
fn reparsed(r: *const caduceus_keyring_record, what: &str) -> Vec<u8> {
    round_trip(r, record_to_bytes, record_from_bytes, free_record, what)
}

/// [`round_trip`] of a consent ledger.
#[track_caller]
fn reloaded(l: *const caduceus_consent_ledger, what: &str) -> Vec<u8> {
    round_trip(l, ledger_to, ledger_from, free_ledger, what)
}

fn private_key(data: &[u8], null_case: bool) {
    let text = cstr(data);
    let mut key = ptr::null_mut();
    // SAFETY: NUL-terminated text; `key` valid for a write.
    let rc = unsafe { caduceus_private_key_from_secret(text.as_ptr(), &mut key) };
    let core = text.to_str().ok().map(PrivateKey::from_secret_str);
    if let Some(core) = parsed_like_core(rc, key, core, "from_secret", "key text") {
        let id = private_id(key);
        assert_eq!(id, core.key_id().to_string());
        let mut kind = u32::MAX;
        // SAFETY: live handle; `kind` valid for a write.
        assert!(ok(unsafe { caduceus_private_key_kind(key, &mut kind) }));
        assert!((1..=3).contains(&kind));
        // to_secret -> from_secret is the same key.
        // SAFETY: live handle; out valid.
        let secret = text_of(|o| unsafe { caduceus_private_key_to_secret(key, o) });
        let secret = CString::new(secret).expect("no NUL in a key text");
        let mut again = ptr::null_mut();
        // SAFETY: NUL-terminated text; `again` valid for a write.
        assert!(ok(unsafe {
            caduceus_private_key_from_secret(secret.as_ptr(), &mut again)
        }));
        assert_eq!(private_id(again), id, "secret key text does not round-trip");
        // The public half: to_text -> parse is the same key, of the same kind.
        let public = public_handle(key);
        assert_eq!(public_id(public), id);
        let mut pkind = u32::MAX;
        // SAFETY: live handle; `pkind` valid for a write.
        assert!(ok(unsafe { caduceus_public_key_kind(public, &mut pkind) }));
        assert_eq!(pkind, kind);
        // SAFETY: live handle; out valid.
        let ptext = CString::new(text_of(|o| unsafe {
            caduceus_public_key_to_text(public, o)
        }))
        .expect("text");
        let mut p2 = ptr::null_mut();
        // SAFETY: NUL-terminated text; `p2` valid for a write.
        assert!(ok(unsafe {
            caduceus_public_key_parse(ptext.as_ptr(), &mut p2)
        }));
        assert_eq!(public_id(p2), id);
        // SAFETY: live handles, each freed once.
        unsafe {
            caduceus_public_key_free(p2);
            caduceus_public_key_free(public);
            caduceus_private_key_free(again);
            caduceus_private_key_free(key);
        }
    }
    if null_case {
        // SAFETY: a NULL text is refused before any read.
        assert_null(unsafe { caduceus_private_key_from_secret(ptr::null(), &mut key) });
        // SAFETY: a NULL out-parameter is refused.
        assert_null(unsafe { caduceus_private_key_from_secret(text.as_ptr(), ptr::null_mut()) });
    }
}

fn public_key(data: &[u8], null_case: bool) {
    let text = cstr(data);
    let mut key = ptr::null_mut();
    // SAFETY: NUL-terminated text; `key` valid for a write.
    let rc = unsafe { caduceus_public_key_parse(text.as_ptr(), &mut key) };
    let core = text.to_str().ok().map(|s| s.parse::<PublicKey>());
    if let Some(core) = parsed_like_core(rc, key, core, "public_key_parse", "key text") {
        let id = public_id(key);
        assert_eq!(id, core.key_id().to_string());
        // SAFETY: live handle; out valid.
        let t = text_of(|o| unsafe { caduceus_public_key_to_text(key, o) });
        assert_eq!(t, core.to_string());
        let t = CString::new(t).expect("text");
        let mut again = ptr::null_mut();
        // SAFETY: NUL-terminated text; `again` valid for a write.
        assert!(ok(unsafe {
            caduceus_public_key_parse(t.as_ptr(), &mut again)
        }));
        assert_eq!(public_id(again), id, "public key text does not round-trip");
        // SAFETY: live handles, each freed once.
        unsafe {
            caduceus_public_key_free(again);
            caduceus_public_key_free(key);
        }
    }
    if null_case {
        // SAFETY: a NULL text is refused before any read.
        assert_null(unsafe { caduceus_public_key_parse(ptr::null(), &mut key) });
    }
}

fn record_to_bytes(r: *const caduceus_keyring_record) -> Vec<u8> {
    let mut out = ptr::null_mut();
    // SAFETY: live record; `out` valid for a write.
    assert!(ok(unsafe { caduceus_keyring_record_to_bytes(r, &mut out) }));
    take(out)
}

fn record_from_bytes(b: &[u8]) -> Result<*mut caduceus_keyring_record, caduceus_result> {
    let mut r = ptr::null_mut();
    // SAFETY: `b` valid for its length; `r` valid for a write.
    let rc = unsafe { caduceus_keyring_record_from_bytes(b.as_ptr(), b.len(), &mut r) };
    out_or_err(rc, r, "keyring_record_from_bytes")
}

fn free_record(r: *mut caduceus_keyring_record) {
    // SAFETY: NULL or a live record, freed once.
    unsafe { caduceus_keyring_record_free(r) };
}

/// The state and recipient count of a record; checks the accessors.
fn inspect_record(r: *const caduceus_keyring_record) -> (u32, usize) {
    let (mut state, mut at, mut n, mut created) = (u32::MAX, i64::MIN, usize::MAX, i64::MIN);
    // SAFETY: live record; out-parameters valid for writes.
    unsafe {
        assert!(ok(caduceus_keyring_record_state(r, &mut state, &mut at)));
        assert!(ok(caduceus_keyring_record_recipient_count(r, &mut n)));
        assert!(ok(caduceus_keyring_record_created_at(r, &mut created)));
    }
    assert!(state == CADUCEUS_KEYRING_ACTIVE || state == CADUCEUS_KEYRING_SHREDDED);
    // SAFETY: live record; out valid.
    let _ = text_of(|o| unsafe { caduceus_keyring_record_subject(r, o) });
    // SAFETY: live record; out valid.
    let _ = text_of(|o| unsafe { caduceus_keyring_record_category(r, o) });
    for i in 0..n {
        // SAFETY: live record; out valid.
        let id = text_of(|o| unsafe { caduceus_keyring_record_recipient_id(r, i, o) });
        assert_eq!(id.len(), 32);
    }
    let mut out = ptr::null_mut();
    // SAFETY: live record; `out` valid for a write.
    let rc = unsafe { caduceus_keyring_record_recipient_id(r, n, &mut out) };
    assert!(!ok(rc) && out.is_null(), "a recipient past the end");
    (state, n)
}

/// Unwrap with `key`; a success must match the record's public key.
fn check_unwrap(r: *const caduceus_keyring_record, key: *const caduceus_private_key) -> bool {
    let mut sk = ptr::null_mut();
    // SAFETY: live handles; `sk` valid for a write.
    let rc = unsafe { caduceus_keyring_record_unwrap(r, key, &mut sk) };
    if !ok(rc) {
        assert!(sk.is_null(), "unwrap wrote its out-parameter on failure");
        return false;
    }
    let mut pk = ptr::null_mut();
    // SAFETY: live record; `pk` valid for a write.
    assert!(ok(unsafe {
        caduceus_keyring_record_public_key(r, &mut pk)
    }));
    assert_eq!(
        private_id(sk),
        public_id(pk),
        "the unwrapped key is not the record's key"
    );
    // SAFETY: live handles, each freed once.
    unsafe {
        caduceus_public_key_free(pk);
        caduceus_private_key_free(sk);
    }
    true
}

/// A derived record (from a record operation that succeeded or not):
/// round-trips and unwraps consistently; freed.
fn check_derived(success: bool, out: *mut caduceus_keyring_record) {
    if !success {
        assert!(
            out.is_null(),
            "a record operation wrote its out-parameter on failure"
        );
        return;
    }
    reparsed(out, "a derived record");
    let f = fixed();
    for k in [f.staff, f.practice, f.third] {
        check_unwrap(out, k);
    }
    let _ = inspect_record(out);
    free_record(out);
}

/// Revoke, rotate, add, shred and rotate the practice key of a record.
fn record_operations(r: *const caduceus_keyring_record, key_id: &CString) {
    let f = fixed();
    let mut out = ptr::null_mut();
    // SAFETY: live record; NUL-terminated key id; `out` valid for a write.
    let rc = unsafe { caduceus_keyring_record_revoke_recipient(r, key_id.as_ptr(), &mut out) };
    check_derived(ok(rc), out);
    let mut out = ptr::null_mut();
    // SAFETY: live handles; NUL-terminated key id; `out` valid.
    let rc = unsafe {
        caduceus_keyring_record_rotate_recipient(r, f.staff, key_id.as_ptr(), f.third_pub, &mut out)
    };
    check_derived(ok(rc), out);
    let add = [f.third_pub as *const caduceus_public_key];
    let mut out = ptr::null_mut();
    // SAFETY: live handles; `add` holds one live handle; `out` valid.
    let rc =
        unsafe { caduceus_keyring_record_add_recipients(r, f.practice, add.as_ptr(), 1, &mut out) };
    let added = ok(rc);
    check_derived(added, out);
    if added {
        assert!(
            check_unwrap(r, f.practice),
            "added recipients without access"
        );
    }
    let mut out = ptr::null_mut();
    // SAFETY: live record; `out` valid.
    let rc = unsafe { caduceus_keyring_record_shred(r, T0 + 100, &mut out) };
    assert!(ok(rc));
    let (state, n) = inspect_record(out);
    assert_eq!((state, n), (CADUCEUS_KEYRING_SHREDDED, 0));
    assert!(!check_unwrap(out, f.staff), "a shredded record unwraps");
    check_derived(true, out);
    let records = [r];
    let mut outs = [ptr::null_mut(); 1];
    // SAFETY: `records` holds one live handle; `outs` valid for one write.
    let rc = unsafe {
        caduceus_keyring_record_rotate_practice_key(
            records.as_ptr(),
            1,
            f.practice,
            f.third_pub,
            outs.as_mut_ptr(),
        )
    };
    check_derived(ok(rc), outs[0]);
}

fn record_bytes(data: &[u8], null_case: bool) {
    let f = fixed();
    let parsed = record_from_bytes(data);
    decoded_like_core(&parsed, KeyringRecord::from_bytes(data), "keyring record");
    if let Ok(r) = parsed {
        assert_eq!(
            record_to_bytes(r),
            data,
            "keyring record encoding is not canonical"
        );
        let (state, _) = inspect_record(r);
        let mut any = false;
        for k in [f.staff, f.practice, f.me, f.other] {
            any |= check_unwrap(r, k);
        }
        if state == CADUCEUS_KEYRING_SHREDDED {
            assert!(!any, "a shredded record unwraps");
        }
        // Revoke / rotate the first recipient.
        let mut id = ptr::null_mut();
        // SAFETY: live record; `id` valid for a write.
        let first = if ok(unsafe { caduceus_keyring_record_recipient_id(r, 0, &mut id) }) {
            take_text(id)
        } else {
            key_id_text(&caduceus_fuzz::staff_identity())
        };
        record_operations(r, &CString::new(first).expect("key id"));
        free_record(r);
    }
    if null_case {
        let mut r = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe {
            caduceus_keyring_record_from_bytes(ptr::null(), data.len().max(1), &mut r)
        });
        assert!(r.is_null());
    }
}

fn record_create(data: &[u8], null_case: bool) {
    let f = fixed();
    let (flags, data) = data.split_first().map_or((0, &[][..]), |(a, b)| (*a, b));
    let fl = fields(data, 3);
    let (subject, category, key_id) = (cstr(fl[0]), cstr(fl[1]), cstr(fl[2]));
    let recipients: Vec<*const caduceus_public_key> = match flags % 4 {
        0 => vec![f.practice_pub, f.staff_pub],
        1 => vec![f.staff_pub, f.staff_pub],
        2 => vec![],
        _ => vec![f.practice_pub],
    };
    let created = match flags >> 2 {
        0 => i64::MIN,
        1 => i64::MAX,
        b => T0 + i64::from(b),
    };
    let mut r = ptr::null_mut();
    // SAFETY: NUL-terminated strings; the array valid for its length (NULL with 0); `r` valid.
    let rc = unsafe {
        caduceus_keyring_record_create(
            subject.as_ptr(),
            category.as_ptr(),
            array_ptr(&recipients),
            recipients.len(),
            created,
            &mut r,
        )
    };
    if ok(rc) {
        // SAFETY: live record; out valid.
        assert_eq!(
            text_of(|o| unsafe { caduceus_keyring_record_subject(r, o) }).as_bytes(),
            subject.as_bytes()
        );
        // SAFETY: live record; out valid.
        assert_eq!(
            text_of(|o| unsafe { caduceus_keyring_record_category(r, o) }).as_bytes(),
            category.as_bytes()
        );
        let (state, n) = inspect_record(r);
        assert_eq!((state, n), (CADUCEUS_KEYRING_ACTIVE, recipients.len()));
        reparsed(r, "a created record");
        assert!(check_unwrap(r, f.practice), "a recipient cannot unwrap");
        record_operations(r, &key_id);
        free_record(r);
    } else {
        assert!(
            r.is_null(),
            "keyring_record_create wrote its out-parameter on failure"
        );
    }
    if null_case {
        // Valid other arguments: the NULL must be the only thing wrong.
        let (subject, category) = (
            CString::new("p-3f9a").expect("s"),
            CString::new("chat-messages").expect("s"),
        );
        let recipients = [f.practice_pub as *const caduceus_public_key];
        let mut r = ptr::null_mut();
        // SAFETY: a NULL subject is refused before any read.
        assert_null(unsafe {
            caduceus_keyring_record_create(
                ptr::null(),
                category.as_ptr(),
                recipients.as_ptr(),
                recipients.len(),
                T0,
                &mut r,
            )
        });
        // SAFETY: a NULL recipient array with a non-zero count is refused.
        assert_null(unsafe {
            caduceus_keyring_record_create(
                subject.as_ptr(),
                category.as_ptr(),
                ptr::null(),
                2,
                T0,
                &mut r,
            )
        });
        assert!(r.is_null());
        let mut out = ptr::null_mut();
        // SAFETY: a NULL key id is refused before any read.
        assert_null(unsafe {
            caduceus_keyring_record_revoke_recipient(f.record, ptr::null(), &mut out)
        });
        assert!(out.is_null());
    }
}

// ---------------------------------------------------------------------------
// Consent.

fn ledger_from(b: &[u8]) -> Result<*mut caduceus_consent_ledger, caduceus_result> {
    let mut l = ptr::null_mut();
    // SAFETY: `b` valid for its length; `l` valid for a write.
    let rc = unsafe { caduceus_consent_ledger_from_bytes(b.as_ptr(), b.len(), &mut l) };
    out_or_err(rc, l, "ledger_from_bytes")
}

fn ledger_to(l: *const caduceus_consent_ledger) -> Vec<u8> {
    let mut out = ptr::null_mut();
    // SAFETY: live ledger; `out` valid for a write.
    assert!(ok(unsafe { caduceus_consent_ledger_to_bytes(l, &mut out) }));
    take(out)
}

fn free_ledger(l: *mut caduceus_consent_ledger) {
    // SAFETY: NULL or a live ledger, freed once.
    unsafe { caduceus_consent_ledger_free(l) };
}

fn counts(l: *const caduceus_consent_ledger) -> (u64, u64) {
    let (mut e, mut s) = (u64::MAX, u64::MAX);
    // SAFETY: live ledger; out-parameters valid.
    assert!(ok(unsafe {
        caduceus_consent_ledger_counts(l, &mut e, &mut s)
    }));
    (e, s)
}

/// A decision; the JSON agrees with the boolean.
fn decide(
    l: *const caduceus_consent_ledger,
    subject: &CString,
    purpose: &CString,
    at: i64,
) -> Option<bool> {
    let mut allowed = false;
    let mut json = ptr::null_mut();
    // SAFETY: live ledger; NUL-terminated strings; out-parameters valid.
    let rc = unsafe {
        caduceus_consent_decide(
            l,
            subject.as_ptr(),
            purpose.as_ptr(),
            at,
            &mut allowed,
            &mut json,
        )
    };
    if !ok(rc) {
        assert!(json.is_null());
        assert_eq!(
            rc, CADUCEUS_INVALID_UTF8,
            "decide fails only for invalid UTF-8"
        );
        return None;
    }
    let v = take_json(json);
    assert_eq!(
        v["allowed"].as_bool(),
        Some(allowed),
        "decision JSON and boolean disagree"
    );
    assert_eq!(v["subject"].as_str(), subject.to_str().ok());
    Some(allowed)
}

/// History and exports of a subject: JSON.
fn queries(l: *const caduceus_consent_ledger, subject: &CString) {
    let mut out = ptr::null_mut();
    // SAFETY: live ledger; NUL-terminated subject; `out` valid.
    let rc = unsafe { caduceus_consent_export_fhir(l, subject.as_ptr(), 1_763_800_000, &mut out) };
    if ok(rc) {
        let _ = take_json(out);
    } else {
        assert!(out.is_null());
    }
    for f in [caduceus_consent_history, caduceus_consent_export_iso27560] {
        let mut out = ptr::null_mut();
        // SAFETY: live ledger; NUL-terminated subject; `out` valid.
        let rc = unsafe { f(l, subject.as_ptr(), &mut out) };
        if ok(rc) {
            let _ = take_json(out);
        } else {
            assert!(out.is_null());
        }
    }
}

const SUBJECTS: [&str; 3] = ["p-0000", "p-0001", "p-0002"];
const PURPOSES: [&str; 3] = ["treatment-communication", "marketing", "recall"];

fn ledger_bytes(data: &[u8], null_case: bool) {
    let parsed = ledger_from(data);
    decoded_like_core(&parsed, Ledger::from_bytes(data), "ledger");
    if let Ok(l) = parsed {
        assert_eq!(ledger_to(l), data, "ledger encoding is not canonical");
        let _ = counts(l);
        let subjects: Vec<CString> = SUBJECTS
            .iter()
            .map(|s| CString::new(*s).expect("s"))
            .collect();
        for p in PURPOSES {
            let p = CString::new(p).expect("p");
            let single: Vec<bool> = subjects
                .iter()
                .map(|s| decide(l, s, &p, T0 + 50).expect("decide"))
                .collect();
            let sp = ptrs(&subjects);
            let mut many = vec![false; sp.len()];
            let mut json = ptr::null_mut();
            // SAFETY: live ledger; arrays of `sp.len()` elements; out-parameters valid.
            assert!(ok(unsafe {
                caduceus_consent_decide_many(
                    l,
                    sp.as_ptr(),
                    sp.len(),
                    p.as_ptr(),
                    T0 + 50,
                    many.as_mut_ptr(),
                    &mut json,
                )
            }));
            assert_eq!(many, single, "decide_many and decide disagree");
            let v = take_json(json);
            assert_eq!(v.as_array().map(Vec::len), Some(sp.len()));
        }
        queries(l, &subjects[1]);
        free_ledger(l);
    }
    if null_case {
        let mut l = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe {
            caduceus_consent_ledger_from_bytes(ptr::null(), data.len().max(1), &mut l)
        });
        assert!(l.is_null());
    }
}

/// A fresh copy of the sample ledger (loaded through the C ABI).
fn sample() -> *mut caduceus_consent_ledger {
    ledger_from(sample_ledger_bytes()).expect("the sample ledger loads")
}

fn time_of(b: u8) -> i64 {
    match b % 8 {
        0 => i64::MIN,
        1 => i64::MAX,
        2 => T0 - 1_000_000,
        3 => T0,
        4 => T0 + 10,
        b => T0 + 1000 * i64::from(b),
    }
}

fn consent_record(data: &[u8], null_case: bool) {
    let l = sample();
    let mut r = Reader(data);
    let now = time_of(r.u8());
    let json = cstr(r.0);
    let before = ledger_to(l);
    let (events, _) = counts(l);
    if null_case {
        // SAFETY: a NULL text is refused before any read.
        assert_null(unsafe {
            caduceus_consent_record(l, ptr::null(), now, ptr::null_mut(), ptr::null_mut())
        });
        // SAFETY: a NULL ledger is refused.
        assert_null(unsafe {
            caduceus_consent_record(
                ptr::null_mut(),
                json.as_ptr(),
                now,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        });
        assert_eq!(ledger_to(l), before, "a refused call changed the ledger");
    }
    const SEQ: u64 = u64::MAX - 3;
    let mut seq = SEQ;
    let mut sha = [0xEEu8; 32];
    // SAFETY: live ledger; NUL-terminated JSON; `seq` valid; `sha` valid for 32 bytes.
    let rc = unsafe { caduceus_consent_record(l, json.as_ptr(), now, &mut seq, sha.as_mut_ptr()) };
    if ok(rc) {
        assert_eq!(seq, events, "the new event's sequence number");
        assert_eq!(counts(l).0, events + 1);
        reloaded(l, "a ledger with a recorded event");
        // The event is in its subject's history with this hash.
        let v: serde_json::Value =
            serde_json::from_str(json.to_str().expect("UTF-8")).expect("JSON");
        let subject = CString::new(v["subject"].as_str().expect("subject")).expect("no NUL");
        let mut out = ptr::null_mut();
        // SAFETY: live ledger; NUL-terminated subject; `out` valid.
        assert!(ok(unsafe {
            caduceus_consent_history(l, subject.as_ptr(), &mut out)
        }));
        let h = take_json(out);
        let last = h
            .as_array()
            .and_then(|a| a.last())
            .expect("history of the subject");
        assert_eq!(last["seq"].as_u64(), Some(seq));
        assert_eq!(last["sha256"].as_str(), Some(hex(&sha).as_str()));
    } else {
        assert_eq!(seq, SEQ, "record wrote the sequence number on failure");
        assert_eq!(sha, [0xEE; 32], "record wrote the hash on failure");
        assert_eq!(ledger_to(l), before, "a failed record changed the ledger");
    }
    free_ledger(l);
}

fn consent_strings(data: &[u8], null_case: bool) {
    let l = sample();
    let mut r = Reader(data);
    let (t, n) = (time_of(r.u8()), time_of(r.u8()));
    let fl = fields(r.0, 6);
    let s: Vec<CString> = fl.iter().map(|b| cstr(b)).collect();
    let (subject, purpose, reply, event_id, message_id, channel) =
        (&s[0], &s[1], &s[2], &s[3], &s[4], &s[5]);
    let single = decide(l, subject, purpose, t);
    let list = [
        subject.clone(),
        CString::new("p-0001").expect("s"),
        event_id.clone(),
    ];
    let lp = ptrs(&list);
    let mut many = [false; 3];
    let mut json = ptr::null_mut();
    // SAFETY: live ledger; arrays of 3 elements; out-parameters valid.
    let rc = unsafe {
        caduceus_consent_decide_many(
            l,
            lp.as_ptr(),
            3,
            purpose.as_ptr(),
            t,
            many.as_mut_ptr(),
            &mut json,
        )
    };
    if ok(rc) {
        let _ = take_json(json);
        if let Some(a) = single {
            assert_eq!(many[0], a, "decide_many and decide disagree");
        }
    } else {
        assert!(json.is_null());
    }
    queries(l, subject);

    let before = ledger_to(l);
    let recorded_by = CString::new("ingest").expect("s");
    let mut withdrawn = false;
    let mut out = ptr::null_mut();
    // SAFETY: live ledger; NUL-terminated strings; out-parameters valid.
    let rc = unsafe {
        caduceus_consent_opt_out(
            l,
            event_id.as_ptr(),
            subject.as_ptr(),
            reply.as_ptr(),
            message_id.as_ptr(),
            channel.as_ptr(),
            recorded_by.as_ptr(),
            t,
            n,
            &mut withdrawn,
            &mut out,
        )
    };
    if ok(rc) {
        let v = take_json(out);
        assert_eq!(v["outcome"] == "stopped", withdrawn);
        if withdrawn {
            let m = CString::new("marketing").expect("s");
            assert_eq!(
                decide(l, subject, &m, t),
                Some(false),
                "still allowed after an opt-out"
            );
        } else {
            assert_eq!(
                ledger_to(l),
                before,
                "an opt-out without withdrawal changed the ledger"
            );
        }
    } else {
        assert!(out.is_null(), "opt_out wrote its out-parameter on failure");
        assert_eq!(ledger_to(l), before, "a failed opt-out changed the ledger");
    }
    if null_case {
        // Valid other arguments: the NULL must be the only thing wrong.
        let v: Vec<CString> = ["p-0000", "marketing", "stop-9", "wamid.9", "whatsapp"]
            .iter()
            .map(|s| CString::new(*s).expect("s"))
            .collect();
        let (subject, purpose, event_id, message_id, channel) = (&v[0], &v[1], &v[2], &v[3], &v[4]);
        let before = ledger_to(l);
        let mut allowed = false;
        // SAFETY: a NULL subject is refused before any read.
        assert_null(unsafe {
            caduceus_consent_decide(
                l,
                ptr::null(),
                purpose.as_ptr(),
                t,
                &mut allowed,
                ptr::null_mut(),
            )
        });
        // SAFETY: a NULL subject array with a non-zero count is refused.
        assert_null(unsafe {
            caduceus_consent_decide_many(
                l,
                ptr::null(),
                2,
                purpose.as_ptr(),
                t,
                many.as_mut_ptr(),
                ptr::null_mut(),
            )
        });
        // SAFETY: a NULL reply is refused before any read.
        assert_null(unsafe {
            caduceus_consent_opt_out(
                l,
                event_id.as_ptr(),
                subject.as_ptr(),
                ptr::null(),
                message_id.as_ptr(),
                channel.as_ptr(),
                recorded_by.as_ptr(),
                t,
                n,
                &mut withdrawn,
                ptr::null_mut(),
            )
        });
        let mut out = ptr::null_mut();
        // SAFETY: a NULL subject is refused before any read.
        assert_null(unsafe { caduceus_consent_history(l, ptr::null(), &mut out) });
        assert!(out.is_null());
        assert_eq!(ledger_to(l), before, "a refused call changed the ledger");
    }
    free_ledger(l);
}

fn consent_policy(data: &[u8], null_case: bool) {
    let mut r = Reader(data);
    let flags = r.u8();
    let version = u32::from(r.u8());
    let (at, now) = (time_of(r.u8()), time_of(r.u8()));
    let fl = fields(r.0, 4);
    let s: Vec<CString> = fl.iter().map(|b| cstr(b)).collect();
    let (toml, id, language, text) = (&s[0], &s[1], &s[2], &s[3]);
    let mut l = ptr::null_mut();
    if flags & 1 != 0 {
        // SAFETY: NUL-terminated TOML; `l` valid for a write.
        let rc = unsafe { caduceus_consent_ledger_new_with_policy(toml.as_ptr(), &mut l) };
        if ok(rc) {
            assert_eq!(counts(l), (0, 0));
            reloaded(l, "a new ledger");
        } else {
            assert!(
                l.is_null(),
                "new_with_policy wrote its out-parameter on failure"
            );
        }
    }
    if l.is_null() {
        l = sample();
    }
    let before = ledger_to(l);
    let register = |json: *mut *mut caduceus_bytes| {
        // SAFETY: live ledger; NUL-terminated strings; `json` NULL or valid
        // for a write.
        unsafe {
            caduceus_consent_register_notice(
                l,
                id.as_ptr(),
                version,
                language.as_ptr(),
                text.as_ptr(),
                at,
                now,
                json,
            )
        }
    };
    let mut json = ptr::null_mut();
    let rc = register(&mut json);
    if ok(rc) {
        let v = take_json(json);
        assert_eq!(v["id"].as_str(), id.to_str().ok());
        assert_eq!(v["version"].as_u64(), Some(u64::from(version)));
        let after = reloaded(l, "a ledger with a notice");
        // The same version again (without the optional out-parameter) is a
        // duplicate.
        assert_code(
            register(ptr::null_mut()),
            CADUCEUS_CONSENT_DUPLICATE_NOTICE,
            "a notice version registered twice",
        );
        assert_eq!(ledger_to(l), after);
    } else {
        assert!(
            json.is_null(),
            "register_notice wrote its out-parameter on failure"
        );
        assert_eq!(
            ledger_to(l),
            before,
            "a failed register_notice changed the ledger"
        );
    }
    let before = ledger_to(l);
    // SAFETY: live ledger; NUL-terminated id.
    let retire = || unsafe { caduceus_consent_retire_notice(l, id.as_ptr(), version, at, now) };
    if ok(retire()) {
        assert_code(
            retire(),
            CADUCEUS_CONSENT_DUPLICATE_NOTICE,
            "a notice retired twice",
        );
    } else {
        assert_eq!(
            ledger_to(l),
            before,
            "a failed retire_notice changed the ledger"
        );
    }
    if null_case {
        let before = ledger_to(l);
        let mut l2 = ptr::null_mut();
        // SAFETY: a NULL TOML text is refused before any read.
        assert_null(unsafe { caduceus_consent_ledger_new_with_policy(ptr::null(), &mut l2) });
        assert!(l2.is_null());
        let (id, language) = (
            CString::new("privacy-chat").expect("s"),
            CString::new("de").expect("s"),
        );
        // SAFETY: a NULL notice text is refused before any read.
        assert_null(unsafe {
            caduceus_consent_register_notice(
                l,
                id.as_ptr(),
                version,
                language.as_ptr(),
                ptr::null(),
                at,
                now,
                ptr::null_mut(),
            )
        });
        // SAFETY: a NULL id is refused before any read.
        assert_null(unsafe { caduceus_consent_retire_notice(l, ptr::null(), version, at, now) });
        assert_eq!(ledger_to(l), before, "a refused call changed the ledger");
    }
    free_ledger(l);
}
