//! The C ABI's own input limits (docs/LIMITS.md, section 9), through the
//! `extern "C"` functions as a C caller sees them:
//!
//! * a buffer `(ptr, len)` with `len` past `isize::MAX` (`boundary.rs`
//!   `slice`) and an array `(ptr, n)` of more than `isize::MAX` bytes
//!   (`slice_of`) are refused with `CADUCEUS_INVALID_ARGUMENT` before
//!   anything is read: the pointers are dangling and never dereferenced.
//!   A buffer of `isize::MAX` bytes cannot be allocated, so the limit
//!   itself is not tested.
//! * a compact range (edge) is exactly `13 + 32 * popcount(size)` bytes:
//!   accepted at that length (up to 2 061 bytes, size 2^64 − 1), refused
//!   with `CADUCEUS_AUDIT_BAD_PROOF` one byte longer or shorter.
//!
//! And two of the core's limits as the C ABI applies them: serde_json's
//! depth limit on the JSON arguments read as `serde_json::Value` (row 44),
//! and records JSON refused by type at any depth (row 43).
//!
//! On every failure the out-parameters are left untouched.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::{CStr, c_char};
use std::ptr::{self, NonNull};

use caduceus::*;
use caduceus_core::audit::{
    Action, AuditEntry, AuditEvent, AuditKey, PseudonymKind, merkle::leaf_hash,
};

const ORIGIN: &CStr = c"praxis.example/audit";

/// The calling thread's last error detail.
fn last_error() -> String {
    let mut buf = [0u8; 512];
    let mut n = 0usize;
    // SAFETY: `buf` is valid for its length, `n` for a write.
    let r = unsafe { caduceus_last_error(buf.as_mut_ptr(), buf.len(), &mut n) };
    assert_eq!(r, caduceus_result::CADUCEUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// A non-NULL pointer that must never be read.
fn dangling<T>() -> *const T {
    NonNull::<T>::dangling().as_ptr().cast_const()
}

/// An out-parameter for a handle, set to a sentinel that a failing call
/// must leave in place.
fn sentinel<T>() -> *mut T {
    NonNull::<T>::dangling().as_ptr()
}

#[test]
fn buffer_lengths_past_isize_max_are_refused_before_any_read() {
    let past = isize::MAX as usize + 1;
    for len in [past, usize::MAX] {
        // `slice`: a buffer (entry bytes) for the leaf hash; `out` untouched.
        let mut out = [7u8; 32];
        // SAFETY: the length is refused before the pointer is read; `out`
        // is valid for 32 bytes.
        let r = unsafe { caduceus_audit_leaf_hash(dangling(), len, out.as_mut_ptr()) };
        assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT);
        assert_eq!(out, [7u8; 32]);
        assert!(last_error().contains("larger than any valid buffer"));

        // The same check in another export: an envelope to inspect.
        let mut json: *mut caduceus_bytes = sentinel();
        // SAFETY: as above; `json` is valid for a write.
        let r = unsafe { caduceus_envelope_inspect(dangling(), len, &mut json) };
        assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT);
        assert_eq!(json, sentinel());
    }
    // A buffer within the limit is read: one byte, hashed.
    let mut out = [7u8; 32];
    // SAFETY: a valid one-byte buffer; `out` valid for 32 bytes.
    let r = unsafe { caduceus_audit_leaf_hash([0u8].as_ptr(), 1, out.as_mut_ptr()) };
    assert_eq!(r, caduceus_result::CADUCEUS_OK);
    assert_eq!(out, leaf_hash(&[0]));
}

#[test]
fn array_counts_past_isize_max_bytes_are_refused_before_any_read() {
    // `slice_of`: `count` pointers and `count` lengths (8 bytes each on a
    // 64-bit target) of the stored entries of a log.
    let first_past = isize::MAX as usize / size_of::<*const u8>() + 1;
    for count in [first_past, isize::MAX as usize, usize::MAX] {
        let mut log: *mut caduceus_audit_log = sentinel();
        // SAFETY: the count is refused before either array is read; `log`
        // is valid for a write.
        let r = unsafe {
            caduceus_audit_log_from_entries(
                ORIGIN.as_ptr(),
                dangling(),
                dangling(),
                count,
                &mut log,
            )
        };
        assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT, "{count}");
        assert_eq!(log, sentinel());
        assert!(last_error().contains("larger than any valid array"));
    }
    // A valid array whose one element claims a buffer past `isize::MAX`:
    // the element goes through `slice` and is refused the same way.
    let ptrs = [dangling::<u8>()];
    let lens = [isize::MAX as usize + 1];
    let mut log: *mut caduceus_audit_log = sentinel();
    // SAFETY: both arrays hold one valid element; the element's length is
    // refused before its pointer is read.
    let r = unsafe {
        caduceus_audit_log_from_entries(ORIGIN.as_ptr(), ptrs.as_ptr(), lens.as_ptr(), 1, &mut log)
    };
    assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT);
    assert_eq!(log, sentinel());
}

/// A stored entry with sequence number `sequence`.
fn entry(sequence: u64) -> Vec<u8> {
    let actor = AuditKey::from_bytes([1; 32]).pseudonym(PseudonymKind::Staff, "dr-a");
    let event = AuditEvent::new(1_763_800_000_000, actor, "doctor", Action::Read, "pms").unwrap();
    AuditEntry {
        sequence,
        prev_leaf: [3; 32],
        event,
    }
    .to_bytes()
    .unwrap()
}

/// The edge of a log of `size` entries: `"CDCR" || 0x01 || size || hashes`,
/// the last hash being `last` (the last leaf when the size is odd).
fn edge(size: u64, last: [u8; 32]) -> Vec<u8> {
    let mut out = b"CDCR\x01".to_vec();
    out.extend_from_slice(&size.to_be_bytes());
    for i in 0..size.count_ones() {
        out.extend_from_slice(&if i + 1 == size.count_ones() {
            last
        } else {
            [2; 32]
        });
    }
    assert_eq!(out.len(), 13 + 32 * size.count_ones() as usize);
    out
}

/// `caduceus_audit_log_resume` of `edge` and `last` (no checkpoint).
fn resume(edge: &[u8], last: &[u8], out: &mut *mut caduceus_audit_log) -> caduceus_result {
    let last_ptr = if last.is_empty() {
        ptr::null()
    } else {
        last.as_ptr()
    };
    // SAFETY: every buffer is valid for its length, `ORIGIN` is
    // NUL-terminated and `out` is valid for a write.
    unsafe {
        caduceus_audit_log_resume(
            ORIGIN.as_ptr(),
            edge.as_ptr(),
            edge.len(),
            last_ptr,
            last.len(),
            ptr::null::<c_char>(),
            out,
        )
    }
}

#[test]
fn edge_lengths_at_and_past_the_size_bits() {
    // (size, last entry, last hash): an empty log; an odd size, whose last
    // hash is the last leaf; the largest even size (63 hashes); the largest
    // size (64 hashes, 2 061 bytes).
    let cases = [
        (0, Vec::new(), [2; 32]),
        (5, entry(4), leaf_hash(&entry(4))),
        (u64::MAX - 1, entry(u64::MAX - 2), [2; 32]),
        (
            u64::MAX,
            entry(u64::MAX - 1),
            leaf_hash(&entry(u64::MAX - 1)),
        ),
    ];
    for (size, last, last_hash) in cases {
        let at = edge(size, last_hash);
        let mut log: *mut caduceus_audit_log = ptr::null_mut();
        assert_eq!(
            resume(&at, &last, &mut log),
            caduceus_result::CADUCEUS_OK,
            "size {size}: {}",
            last_error()
        );
        let mut n = 0u64;
        // SAFETY: `log` is a live log, `n` valid for a write.
        let r = unsafe { caduceus_audit_log_size(log, &mut n) };
        assert_eq!((r, n), (caduceus_result::CADUCEUS_OK, size));
        // SAFETY: a log from this library, freed once.
        unsafe { caduceus_audit_log_free(log) };

        // One byte more (a zero, or the start of another hash) and one
        // byte less are refused; `out` is left untouched.
        let mut longer = at.clone();
        longer.push(0);
        let shorter = &at[..at.len() - 1];
        for bad in [&longer[..], shorter] {
            let mut log: *mut caduceus_audit_log = sentinel();
            assert_eq!(
                resume(bad, &last, &mut log),
                caduceus_result::CADUCEUS_AUDIT_BAD_PROOF,
                "size {size}, {} bytes",
                bad.len()
            );
            assert_eq!(log, sentinel());
            assert!(last_error().contains("malformed compact range"));
        }
    }
    // A whole hash more than the size's bits is refused too.
    let mut extra = edge(5, leaf_hash(&entry(4)));
    extra.extend_from_slice(&[2; 32]);
    let mut log: *mut caduceus_audit_log = sentinel();
    assert_eq!(
        resume(&extra, &entry(4), &mut log),
        caduceus_result::CADUCEUS_AUDIT_BAD_PROOF
    );
    assert_eq!(log, sentinel());
}

/// `{"time": [[...]]}`: an object and `depth - 1` nested arrays, `depth`
/// levels in all.
fn nested_event_json(depth: usize) -> std::ffi::CString {
    let json = format!(
        r#"{{"time": {}{}}}"#,
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    );
    std::ffi::CString::new(json).unwrap()
}

/// serde_json's depth limit (docs/LIMITS.md, row 44) through the exports
/// that read their JSON argument as a `serde_json::Value`: an event JSON
/// 127 levels deep is parsed (and refused for its content), 128 levels and
/// more are refused as not valid JSON, without exhausting the stack. Both
/// are `CADUCEUS_INVALID_ARGUMENT`; the last error tells them apart. This
/// also fails if anything in the C ABI's build enables serde_json's
/// `unbounded_depth` feature.
#[test]
fn json_arguments_nesting_at_and_past_serde_jsons_depth_limit() {
    const JSON_DEPTH: usize = 127;
    let mut log: *mut caduceus_audit_log = ptr::null_mut();
    // SAFETY: `ORIGIN` is NUL-terminated, `log` valid for a write.
    let r = unsafe { caduceus_audit_log_new(ORIGIN.as_ptr(), &mut log) };
    assert_eq!(r, caduceus_result::CADUCEUS_OK);
    let mut ledger: *mut caduceus_consent_ledger = ptr::null_mut();
    // SAFETY: `ledger` valid for a write.
    let r = unsafe { caduceus_consent_ledger_new(&mut ledger) };
    assert_eq!(r, caduceus_result::CADUCEUS_OK);

    for depth in [JSON_DEPTH, JSON_DEPTH + 1, JSON_DEPTH + 2, 100_000] {
        let json = nested_event_json(depth);
        let mut entry: *mut caduceus_bytes = sentinel();
        // SAFETY: a live log, a NUL-terminated string, `entry` valid for a
        // write; the optional out-parameters are NULL.
        let r = unsafe {
            caduceus_audit_log_append(
                log,
                json.as_ptr(),
                &mut entry,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT, "{depth}");
        assert_eq!(entry, sentinel());
        let audit_error = last_error();

        // SAFETY: a live ledger and a NUL-terminated string; the optional
        // out-parameters are NULL.
        let r = unsafe {
            caduceus_consent_record(
                ledger,
                json.as_ptr(),
                1_763_800_000,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT, "{depth}");
        let consent_error = last_error();

        for error in [audit_error, consent_error] {
            if depth <= JSON_DEPTH {
                assert!(!error.contains("not valid JSON"), "{depth}: {error}");
            } else {
                assert!(
                    error.contains("not valid JSON (Syntax error"),
                    "{depth}: {error}"
                );
            }
        }
    }
    let mut size = 1u64;
    // SAFETY: a live log, `size` valid for a write.
    let r = unsafe { caduceus_audit_log_size(log, &mut size) };
    assert_eq!((r, size), (caduceus_result::CADUCEUS_OK, 0));
    // SAFETY: handles from this library, each freed once.
    unsafe {
        caduceus_audit_log_free(log);
        caduceus_consent_ledger_free(ledger);
    }
}

/// The records JSON of a sweep is decoded into fixed types (row 43): a
/// nested value is refused by type, at any depth, as
/// `CADUCEUS_POLICY_BAD_RECORDS`, and `due` is left untouched.
#[test]
fn records_json_nesting_is_refused_through_the_sweep() {
    let mut policy: *mut caduceus_policy = ptr::null_mut();
    // SAFETY: `policy` valid for a write.
    let r = unsafe { caduceus_policy_default(&mut policy) };
    assert_eq!(r, caduceus_result::CADUCEUS_OK);
    let sweep = |records: &str| {
        let records = std::ffi::CString::new(records).unwrap();
        let mut due = usize::MAX;
        // SAFETY: a live policy, a NUL-terminated string, `due` valid for a
        // write; no holds, no report.
        let r = unsafe {
            caduceus_policy_sweep(
                policy,
                records.as_ptr(),
                ptr::null(),
                1_763_800_000,
                &mut due,
                ptr::null_mut(),
            )
        };
        (r, due)
    };
    // A flat record is swept.
    let (r, due) = sweep(
        r#"[{"id": 1, "subject": "p-1", "category": "chat-messages", "created": "2025-01-01"}]"#,
    );
    assert_eq!(r, caduceus_result::CADUCEUS_OK, "{}", last_error());
    assert_ne!(due, usize::MAX);
    // A category nested `depth - 2` arrays deep (`depth` levels in all).
    for depth in [3, 127, 128, 129, 100_000] {
        let records = format!(
            r#"[{{"id": 1, "subject": "p-1", "category": {}"x"{}}}]"#,
            "[".repeat(depth - 2),
            "]".repeat(depth - 2)
        );
        assert_eq!(
            sweep(&records),
            (caduceus_result::CADUCEUS_POLICY_BAD_RECORDS, usize::MAX),
            "{depth}"
        );
        // A bare nested array where the array of records belongs.
        let bare = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            sweep(&bare),
            (caduceus_result::CADUCEUS_POLICY_BAD_RECORDS, usize::MAX),
            "{depth}"
        );
    }
    // SAFETY: a policy from this library, freed once.
    unsafe { caduceus_policy_free(policy) };
}

/// `caduceus_whatsapp_webhook_parse` of `body` (the limits 0: defaults).
fn parse_webhook(body: &[u8], limits: (usize, usize, usize)) -> caduceus_result {
    let mut hook: *mut caduceus_webhook = sentinel();
    // SAFETY: `body` is valid for its length, `hook` for a write.
    let r = unsafe {
        caduceus_whatsapp_webhook_parse_with_limits(
            body.as_ptr(),
            body.len(),
            limits.0,
            limits.1,
            limits.2,
            &mut hook,
        )
    };
    if r == caduceus_result::CADUCEUS_OK {
        // SAFETY: a webhook from this library, freed once.
        unsafe { caduceus_whatsapp_webhook_free(hook) };
    } else {
        assert_eq!(hook, sentinel(), "out-parameter written on failure");
    }
    r
}

/// A WhatsApp body whose one change holds `n` statuses, padded with spaces
/// to `len` bytes (when longer).
fn statuses_body(n: usize, len: usize) -> Vec<u8> {
    let status = r#"{"id":"wamid.S","status":"sent","timestamp":"1790000000","recipient_id":"4915100000001"}"#;
    let statuses = vec![status; n].join(",");
    let mut body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"statuses":[{statuses}]}}}}]}}]}}"#
    )
    .into_bytes();
    if body.len() < len {
        body.resize(len, b' ');
    }
    body
}

/// A body nesting `depth` levels (the body's object is level 1).
fn nested_body(depth: usize) -> Vec<u8> {
    let inner = depth - 1;
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[],"x":{}{}}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    )
    .into_bytes()
}

#[test]
fn webhook_bodies_at_and_past_the_c_abi_limits() {
    use caduceus_core::whatsapp::{MAX_EVENTS, MAX_JSON_DEPTH, MAX_WEBHOOK_BODY};
    let ok = caduceus_result::CADUCEUS_OK;
    let defaults = (0, 0, 0);
    // Size: exactly 3 MiB (trailing whitespace) is read; one byte more is
    // refused before parsing. A length past isize::MAX is refused before
    // the pointer is read.
    assert_eq!(
        parse_webhook(&statuses_body(1, MAX_WEBHOOK_BODY), defaults),
        ok
    );
    assert_eq!(
        parse_webhook(&statuses_body(1, MAX_WEBHOOK_BODY + 1), defaults),
        caduceus_result::CADUCEUS_WHATSAPP_BODY_TOO_LARGE
    );
    assert!(last_error().contains("larger than 3145728 bytes"));
    let mut hook: *mut caduceus_webhook = sentinel();
    // SAFETY: the length is refused before the pointer is read.
    let r =
        unsafe { caduceus_whatsapp_webhook_parse(dangling(), isize::MAX as usize + 1, &mut hook) };
    assert_eq!(r, caduceus_result::CADUCEUS_INVALID_ARGUMENT);
    assert_eq!(hook, sentinel());
    // Depth: 32 levels are read, 33 refused (a depth limit given: the same
    // at that limit).
    assert_eq!(parse_webhook(&nested_body(MAX_JSON_DEPTH), defaults), ok);
    assert_eq!(
        parse_webhook(&nested_body(MAX_JSON_DEPTH + 1), defaults),
        caduceus_result::CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP
    );
    assert_eq!(parse_webhook(&nested_body(8), (0, 8, 0)), ok);
    assert_eq!(
        parse_webhook(&nested_body(9), (0, 8, 0)),
        caduceus_result::CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP
    );
    // Events: 5,000 are read, 5,001 refused; and at a given limit.
    assert_eq!(parse_webhook(&statuses_body(MAX_EVENTS, 0), defaults), ok);
    assert_eq!(
        parse_webhook(&statuses_body(MAX_EVENTS + 1, 0), defaults),
        caduceus_result::CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS
    );
    assert_eq!(parse_webhook(&statuses_body(3, 0), (0, 0, 3)), ok);
    assert_eq!(
        parse_webhook(&statuses_body(4, 0), (0, 0, 3)),
        caduceus_result::CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS
    );
}
