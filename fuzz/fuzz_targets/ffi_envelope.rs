//! The envelope functions of the C ABI on untrusted buffers: open,
//! open_any, open_with_keyring, inspect, header_len, has_recipient, rewrap,
//! open_segment, the streaming opener (fed in fuzzer-chosen chunks), part
//! sets, and seal / sealer / seal_parts with fuzzed labels and plaintext.
//!
//! Input: a selector byte (low 3 bits: the operation; bit 7: also pass a
//! NULL buffer with a non-zero length, which must give
//! `CADUCEUS_NULL_PARAMETER` and write nothing), then the input of the
//! operation: for the opening operations an envelope as in the envelope
//! targets (mode byte: raw bytes or edits of a fixed sealed message), for
//! seal NUL-separated labels and the plaintext.
//!
//! Properties: no panic (caught or not); every result code has a message
//! and a failure leaves a last-error detail; out-parameters are written
//! only on success and every returned object is freed; the C ABI agrees
//! with core; a mutated fixed message never opens to another plaintext
//! (whole, per segment, streamed, through a keyring record, rewrapped or
//! as a part) and the unmodified one always opens; what is sealed opens.
#![no_main]

use std::ffi::CString;
use std::ptr;

use caduceus::caduceus_result::*;
use caduceus::*;
use caduceus_core::envelope::{self, SEGMENT_SIZE};
use caduceus_fuzz::ffi::*;
use caduceus_fuzz::{
    Base, Reader, T0, chunk_sizes, envelope_input, envelope_input_from, identity, keyring_base,
    other_identity, part_bases,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_op(
        data,
        &[
            one_shot,
            open_any,
            open_segment,
            rewrap,
            stream,
            part_set,
            keyring,
            seal,
        ],
    );
});

/// A length for the NULL-buffer calls: never 0 (0 allows NULL).
fn null_len(bytes: &[u8]) -> usize {
    bytes.len().max(1)
}

/// `caduceus_envelope_open` with `key`: the plaintext or the code.
fn ffi_open(bytes: &[u8], key: *const caduceus_private_key) -> Result<Vec<u8>, caduceus_result> {
    let mut out = ptr::null_mut();
    // SAFETY: `bytes` valid for its length; `key` a live handle; `out` valid for a write.
    let rc = unsafe { caduceus_envelope_open(bytes.as_ptr(), bytes.len(), key, &mut out) };
    bytes_or_err(rc, out, "open")
}

/// The opening property of a fixed message: a success is the unmodified
/// message with its plaintext; the unmodified message opens.
fn check_base(base: Option<&Base>, bytes: &[u8], opened: &Result<Vec<u8>, caduceus_result>) {
    let Some(base) = base else { return };
    if let Ok(p) = opened {
        assert_eq!(
            bytes,
            &base.sealed[..],
            "a modified envelope opened through the C ABI"
        );
        assert_eq!(p, &base.plaintext, "opened to another plaintext");
    }
    if bytes == base.sealed {
        assert!(
            opened.is_ok(),
            "the unmodified fixed message must open: {opened:?}"
        );
    }
}

fn one_shot(data: &[u8], null_case: bool) {
    let f = fixed();
    let input = envelope_input(data);
    let bytes = &input.bytes[..];

    let opened = ffi_open(bytes, f.me);
    match (&opened, envelope::open(bytes, &identity())) {
        (Ok(p), Ok(o)) => assert_eq!(p, &o.plaintext, "the C ABI and core open differently"),
        (Err(rc), Err(e)) => assert_eq!(*rc, code(e), "the C ABI maps the error differently"),
        (a, b) => panic!(
            "the C ABI and core disagree: {a:?} vs {:?}",
            b.map(|o| o.plaintext.len())
        ),
    }
    check_base(input.base, bytes, &opened);

    // Header functions (no key).
    let mut json = ptr::null_mut();
    // SAFETY: `bytes` valid for its length; `json` valid for a write.
    let rc = unsafe { caduceus_envelope_inspect(bytes.as_ptr(), bytes.len(), &mut json) };
    let header = if ok(rc) {
        Some(take_json(json))
    } else {
        assert!(json.is_null(), "inspect wrote its out-parameter on failure");
        None
    };
    const SENTINEL: usize = usize::MAX - 7;
    let mut hl = SENTINEL;
    // SAFETY: `bytes` valid for its length; `hl` valid for a write.
    let rc = unsafe { caduceus_envelope_header_len(bytes.as_ptr(), bytes.len(), &mut hl) };
    if ok(rc) {
        if let Some(h) = &header {
            assert_eq!(
                h["header_len"].as_u64(),
                Some(hl as u64),
                "header_len and inspect disagree"
            );
        }
    } else {
        assert_eq!(
            hl, SENTINEL,
            "header_len wrote its out-parameter on failure"
        );
        assert!(
            header.is_none(),
            "inspect succeeded where header_len failed"
        );
    }
    if opened.is_ok() {
        assert!(header.is_some(), "an opened envelope must inspect");
    }
    let me_id = CString::new(key_id_text(&identity())).expect("key id");
    let mut is = false;
    // SAFETY: `bytes` valid for its length; `me_id` NUL-terminated; `is` valid for a write.
    let rc = unsafe {
        caduceus_envelope_has_recipient(bytes.as_ptr(), bytes.len(), me_id.as_ptr(), &mut is)
    };
    match &header {
        Some(h) => {
            assert!(ok(rc), "has_recipient failed where inspect succeeded");
            let listed = h["recipients"]
                .as_array()
                .expect("recipients")
                .iter()
                .any(|r| r == me_id.to_str().expect("ascii"));
            assert_eq!(is, listed, "has_recipient and inspect disagree");
        }
        None => assert!(!ok(rc), "has_recipient succeeded where inspect failed"),
    }
    // A fuzzed key id text.
    let fuzzed_id = cstr(input.rest);
    // SAFETY: as above.
    let rc = unsafe {
        caduceus_envelope_has_recipient(bytes.as_ptr(), bytes.len(), fuzzed_id.as_ptr(), &mut is)
    };
    let _ = ok(rc);

    if null_case {
        let n = null_len(bytes);
        let mut out = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe { caduceus_envelope_open(ptr::null(), n, f.me, &mut out) });
        assert!(out.is_null());
        // SAFETY: as above.
        assert_null(unsafe { caduceus_envelope_inspect(ptr::null(), n, &mut out) });
        assert!(out.is_null());
        let mut hl = SENTINEL;
        // SAFETY: as above.
        assert_null(unsafe { caduceus_envelope_header_len(ptr::null(), n, &mut hl) });
        assert_eq!(hl, SENTINEL);
        // SAFETY: as above.
        assert_null(unsafe {
            caduceus_envelope_has_recipient(ptr::null(), n, me_id.as_ptr(), &mut is)
        });
        // SAFETY: a NULL key id text is refused before any read.
        assert_null(unsafe {
            caduceus_envelope_has_recipient(bytes.as_ptr(), bytes.len(), ptr::null(), &mut is)
        });
        // SAFETY: a NULL identity handle is refused.
        assert_null(unsafe {
            caduceus_envelope_open(bytes.as_ptr(), bytes.len(), ptr::null(), &mut out)
        });
        assert!(out.is_null());
    }
}

fn open_any(data: &[u8], null_case: bool) {
    let f = fixed();
    let input = envelope_input(data);
    let bytes = &input.bytes[..];
    let sets: [&[*const caduceus_private_key]; 3] = [&[f.other, f.me], &[f.other], &[]];
    let core_sets = [
        vec![other_identity(), identity()],
        vec![other_identity()],
        vec![],
    ];
    for (ids, keys) in sets.iter().zip(&core_sets) {
        let mut out = ptr::null_mut();
        // SAFETY: `bytes` valid; `ids` valid for its length of live handles (or NULL with 0).
        let rc = unsafe {
            caduceus_envelope_open_any(
                bytes.as_ptr(),
                bytes.len(),
                array_ptr(ids),
                ids.len(),
                &mut out,
            )
        };
        let opened = bytes_or_err(rc, out, "open_any");
        match (&opened, envelope::open_any(bytes, keys)) {
            (Ok(p), Ok(o)) => assert_eq!(p, &o.plaintext),
            (Err(rc), Err(e)) => assert_eq!(*rc, code(e)),
            (a, b) => panic!(
                "open_any: the C ABI and core disagree: {a:?} vs {:?}",
                b.map(|o| o.plaintext.len())
            ),
        }
        if ids.len() == 2 {
            check_base(input.base, bytes, &opened);
        } else if let (Some(base), Ok(p)) = (input.base, &opened) {
            assert_eq!(bytes, &base.sealed[..], "a modified envelope opened");
            assert_eq!(p, &base.plaintext);
        }
    }
    if null_case {
        let mut out = ptr::null_mut();
        let ids = [f.me as *const caduceus_private_key];
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe {
            caduceus_envelope_open_any(ptr::null(), null_len(bytes), ids.as_ptr(), 1, &mut out)
        });
        // SAFETY: a NULL array with a non-zero count is refused before any read.
        assert_null(unsafe {
            caduceus_envelope_open_any(bytes.as_ptr(), bytes.len(), ptr::null(), 2, &mut out)
        });
        let with_null = [f.other as *const caduceus_private_key, ptr::null()];
        // SAFETY: a NULL element is refused.
        assert_null(unsafe {
            caduceus_envelope_open_any(bytes.as_ptr(), bytes.len(), with_null.as_ptr(), 2, &mut out)
        });
        assert!(out.is_null());
    }
}

fn open_segment(data: &[u8], null_case: bool) {
    let f = fixed();
    let input = envelope_input(data);
    let bytes = &input.bytes[..];
    let mut r = Reader(input.rest);
    let index = match r.u8() {
        255 => u64::MAX,
        254 => u64::MAX / SEGMENT_SIZE as u64 + 1,
        b => u64::from(b % 4),
    };
    let mut out = ptr::null_mut();
    // SAFETY: `bytes` valid for its length; live handle; `out` valid for a write.
    let rc = unsafe {
        caduceus_envelope_open_segment(bytes.as_ptr(), bytes.len(), f.me, index, &mut out)
    };
    let opened = bytes_or_err(rc, out, "open_segment");
    match (&opened, envelope::open_segment(bytes, &identity(), index)) {
        (Ok(p), Ok(o)) => assert_eq!(p, &o),
        (Err(rc), Err(e)) => assert_eq!(*rc, code(e)),
        (a, b) => panic!(
            "open_segment: the C ABI and core disagree: {a:?} vs {:?}",
            b.map(|o| o.len())
        ),
    }
    // A segment opens only to the fixed message's own segment (the other
    // segments may have been modified: they are not read).
    if let (Some(base), Ok(p)) = (input.base, &opened) {
        let start = (index as usize)
            .saturating_mul(SEGMENT_SIZE)
            .min(base.plaintext.len());
        let end = start.saturating_add(SEGMENT_SIZE).min(base.plaintext.len());
        assert_eq!(
            p,
            &base.plaintext[start..end],
            "segment {index} opened to another plaintext"
        );
    }
    if input.base.is_some_and(|b| b.sealed == bytes) && index == 0 {
        assert!(
            opened.is_ok(),
            "segment 0 of the unmodified message must open"
        );
    }
    if null_case {
        let mut out = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe {
            caduceus_envelope_open_segment(ptr::null(), null_len(bytes), f.me, 0, &mut out)
        });
        assert!(out.is_null());
    }
}

fn rewrap(data: &[u8], null_case: bool) {
    let f = fixed();
    let input = envelope_input(data);
    let bytes = &input.bytes[..];
    let mut r = Reader(input.rest);
    let flags = r.u8();
    let add_third = flags & 1 != 0;
    let mut remove: Vec<CString> = Vec::new();
    if flags & 2 != 0 {
        remove.push(CString::new(key_id_text(&other_identity())).expect("key id"));
    }
    if flags & 4 != 0 {
        remove.push(cstr(r.0));
    }
    let add: Vec<*const caduceus_public_key> = if add_third { vec![f.third_pub] } else { vec![] };
    let remove_ptrs = ptrs(&remove);
    let mut out = ptr::null_mut();
    // SAFETY: `bytes` valid; live handles; arrays valid for their lengths (NULL with 0); `out` valid.
    let rc = unsafe {
        caduceus_envelope_rewrap(
            bytes.as_ptr(),
            bytes.len(),
            f.me,
            array_ptr(&add),
            add.len(),
            array_ptr(&remove_ptrs),
            remove_ptrs.len(),
            &mut out,
        )
    };
    let original = envelope::open(bytes, &identity());
    if ok(rc) {
        let re = take(out);
        // The payload is unchanged: whoever opens the new envelope gets the
        // original plaintext, and only that.
        for key in [f.third, f.me] {
            if let Ok(p) = ffi_open(&re, key) {
                if let Some(base) = input.base {
                    assert_eq!(
                        p, base.plaintext,
                        "a rewrapped modified envelope opened to another plaintext"
                    );
                }
                if let Ok(o) = &original {
                    assert_eq!(p, o.plaintext, "rewrap changed the plaintext");
                }
            }
        }
        // (Unless a fuzzed key id to remove happens to be the added key.)
        if add_third && flags & 4 == 0 && original.is_ok() {
            assert!(
                ffi_open(&re, f.third).is_ok(),
                "an added recipient cannot open the rewrapped envelope"
            );
        }
    } else {
        assert!(out.is_null(), "rewrap wrote its out-parameter on failure");
    }
    if null_case {
        let mut out = ptr::null_mut();
        // Each with one NULL and a non-zero length: the buffer, the keys to
        // add, the key ids to remove.
        let calls: [(*const u8, usize, usize, usize); 3] = [
            (ptr::null(), null_len(bytes), 0, 0),
            (bytes.as_ptr(), bytes.len(), 1, 0),
            (bytes.as_ptr(), bytes.len(), 0, 1),
        ];
        for (buf, len, add_n, remove_n) in calls {
            // SAFETY: a NULL buffer or array with a non-zero length is refused
            // before any read; the other arguments are valid.
            assert_null(unsafe {
                caduceus_envelope_rewrap(
                    buf,
                    len,
                    f.me,
                    ptr::null(),
                    add_n,
                    ptr::null(),
                    remove_n,
                    &mut out,
                )
            });
        }
        assert!(out.is_null());
    }
}

/// At most this many `update` calls; the rest of the input goes in one.
const MAX_UPDATES: usize = 64;

fn stream(data: &[u8], null_case: bool) {
    let f = fixed();
    let input = envelope_input(data);
    let bytes = &input.bytes[..];
    let sizes = chunk_sizes(input.rest);
    let mut op = ptr::null_mut();
    // SAFETY: live handle; `op` valid for a write.
    assert!(ok(unsafe { caduceus_opener_new(f.me, &mut op) }));
    let mut hdr = ptr::null_mut();
    // SAFETY: live opener; `hdr` valid for a write.
    let rc = unsafe { caduceus_opener_header(op, &mut hdr) };
    assert!(!ok(rc) && hdr.is_null(), "a header before any input");
    if null_case {
        let mut out = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read and leaves the opener usable.
        assert_null(unsafe { caduceus_opener_update(op, ptr::null(), null_len(bytes), &mut out) });
        assert!(out.is_null());
        // SAFETY: a NULL opener is refused.
        assert_null(unsafe {
            caduceus_opener_update(ptr::null_mut(), bytes.as_ptr(), bytes.len(), &mut out)
        });
    }
    let mut plaintext = Vec::new();
    let mut failed = false;
    let mut pos = 0;
    let mut calls = 0;
    while pos < bytes.len() {
        let n = if sizes.is_empty() || calls >= MAX_UPDATES {
            bytes.len() - pos
        } else {
            sizes[calls % sizes.len()].min(bytes.len() - pos)
        };
        let mut out = ptr::null_mut();
        // SAFETY: `bytes[pos..]` valid for `n` bytes; live opener; `out` valid.
        let rc = unsafe { caduceus_opener_update(op, bytes[pos..].as_ptr(), n, &mut out) };
        if ok(rc) {
            plaintext.extend(take(out));
        } else {
            assert!(
                out.is_null(),
                "opener_update wrote its out-parameter on failure"
            );
            failed = true;
            break;
        }
        pos += n;
        calls += 1;
    }
    if !failed {
        let mut out = ptr::null_mut();
        // SAFETY: live opener; `out` valid for a write.
        let rc = unsafe { caduceus_opener_finish(op, &mut out) };
        if ok(rc) {
            plaintext.extend(take(out));
        } else {
            assert!(
                out.is_null(),
                "opener_finish wrote its out-parameter on failure"
            );
            failed = true;
        }
    }
    // After finish or a failure: every further call is WRONG_STATE.
    let mut out = ptr::null_mut();
    // SAFETY: live opener; `out` valid; the 0-length NULL buffer is allowed.
    let rc = unsafe { caduceus_opener_update(op, ptr::null(), 0, &mut out) };
    assert_code(rc, CADUCEUS_WRONG_STATE, "update after the end");
    // SAFETY: as above.
    let rc = unsafe { caduceus_opener_finish(op, &mut out) };
    assert_code(rc, CADUCEUS_WRONG_STATE, "finish after the end");
    assert!(out.is_null());
    let mut hdr = ptr::null_mut();
    // SAFETY: live opener; `hdr` valid for a write.
    let rc = unsafe { caduceus_opener_header(op, &mut hdr) };
    let stream_header = if ok(rc) { Some(take_text(hdr)) } else { None };
    assert_eq!(
        stream_header.is_some(),
        !failed,
        "header available iff the opener finished"
    );
    // SAFETY: live opener, freed once.
    unsafe { caduceus_opener_free(op) };

    let one_shot = envelope::open(bytes, &identity());
    match (&one_shot, failed) {
        (Ok(o), false) => assert_eq!(
            plaintext, o.plaintext,
            "streamed and one-shot plaintexts differ"
        ),
        (Err(_), true) => {}
        (o, _) => panic!(
            "streaming (failed: {failed}) and one-shot ({:?}) disagree",
            o.as_ref().map(|o| o.plaintext.len())
        ),
    }
    if let Some(h) = stream_header {
        let mut json = ptr::null_mut();
        // SAFETY: `bytes` valid; `json` valid for a write.
        assert!(ok(unsafe {
            caduceus_envelope_inspect(bytes.as_ptr(), bytes.len(), &mut json)
        }));
        assert_eq!(h, take_text(json), "the opener's header and inspect differ");
    }
    let result = if failed {
        Err(CADUCEUS_SEGMENT_CORRUPTED)
    } else {
        Ok(plaintext)
    };
    check_base(input.base, bytes, &result);
}

/// Count, completeness and missing parts of a set.
fn snapshot(set: *const caduceus_part_set) -> (u32, bool, String) {
    let (mut count, mut complete, mut missing) = (u32::MAX, false, ptr::null_mut());
    // SAFETY: live set; out-parameters valid for writes.
    unsafe {
        assert!(ok(caduceus_part_set_count(set, &mut count)));
        assert!(ok(caduceus_part_set_is_complete(set, &mut complete)));
        assert!(ok(caduceus_part_set_missing(set, &mut missing)));
    }
    (count, complete, take_text(missing))
}

fn part_set(data: &[u8], null_case: bool) {
    let f = fixed();
    let parts = part_bases();
    let input = envelope_input_from(data, parts);
    let mut r = Reader(input.rest);
    let fuzzed_first = r.u8() & 1 == 0;
    // The other part: the one the fuzzed bytes were not derived from.
    let other = match input.base {
        Some(b) if std::ptr::eq(b, &parts[0]) => &parts[1],
        _ => &parts[0],
    };
    let mut set = ptr::null_mut();
    // SAFETY: `set` valid for a write.
    assert!(ok(unsafe { caduceus_part_set_new(&mut set) }));
    let order: [&[u8]; 2] = if fuzzed_first {
        [&input.bytes, &other.sealed]
    } else {
        [&other.sealed, &input.bytes]
    };
    let mut fuzzed_added = false;
    for (i, bytes) in order.iter().enumerate() {
        if null_case && i == 0 {
            let before = snapshot(set);
            // SAFETY: a NULL buffer is refused before any read.
            assert_null(unsafe { caduceus_part_set_add(set, ptr::null(), null_len(bytes), f.me) });
            assert_eq!(snapshot(set), before, "a refused add changed the set");
        }
        let before = snapshot(set);
        // SAFETY: live set; `bytes` valid for its length; live identity.
        let rc = unsafe { caduceus_part_set_add(set, bytes.as_ptr(), bytes.len(), f.me) };
        if ok(rc) {
            if std::ptr::eq(*bytes, &input.bytes[..]) {
                fuzzed_added = true;
            }
        } else {
            assert_eq!(snapshot(set), before, "a failed add changed the set");
        }
    }
    if fuzzed_added && let Some(base) = input.base {
        assert_eq!(input.bytes, base.sealed, "a modified part was added");
    }
    let mut out = ptr::null_mut();
    // SAFETY: live set; `out` valid for a write.
    let rc = unsafe { caduceus_part_set_assemble(set, &mut out) };
    let assembled = ok(rc);
    let (_, complete, missing) = snapshot(set);
    if assembled {
        assert!(complete && missing == "[]");
        let whole: Vec<u8> = parts.iter().flat_map(|p| p.plaintext.clone()).collect();
        assert_eq!(take(out), whole, "a set assembled to another plaintext");
    } else {
        assert!(out.is_null(), "assemble wrote its out-parameter on failure");
        assert!(!complete, "a complete set does not assemble");
    }
    // SAFETY: live set, freed once.
    unsafe { caduceus_part_set_free(set) };
}

fn keyring(data: &[u8], null_case: bool) {
    let f = fixed();
    let input = envelope_input_from(data, &keyring_base().messages);
    let bytes = &input.bytes[..];
    let open = |record: *const caduceus_keyring_record, staff: *const caduceus_private_key| {
        let mut out = ptr::null_mut();
        // SAFETY: `bytes` valid; live handles; `out` valid for a write.
        let rc = unsafe {
            caduceus_envelope_open_with_keyring(
                bytes.as_ptr(),
                bytes.len(),
                record,
                staff,
                &mut out,
            )
        };
        bytes_or_err(rc, out, "open_with_keyring")
    };
    let by_staff = open(f.record, f.staff);
    check_base(input.base, bytes, &by_staff);
    let by_practice = open(f.record, f.practice);
    check_base(input.base, bytes, &by_practice);
    assert_eq!(
        by_staff.is_ok(),
        by_practice.is_ok(),
        "staff and practice key disagree"
    );
    assert!(
        open(f.record, f.me).is_err(),
        "opened through a record without a wrap for the key"
    );
    // A fuzzed keyring record: whatever opens through it is the fixed
    // message's plaintext.
    let mut r = Reader(input.rest);
    let n = usize::from(r.u16());
    let rec_bytes = r.take(n);
    let mut rec = ptr::null_mut();
    // SAFETY: `rec_bytes` valid for its length; `rec` valid for a write.
    if ok(unsafe {
        caduceus_keyring_record_from_bytes(rec_bytes.as_ptr(), rec_bytes.len(), &mut rec)
    }) {
        for key in [f.staff, f.practice, f.me] {
            let o = open(rec, key);
            if let (Some(base), Ok(p)) = (input.base, &o) {
                assert_eq!(bytes, &base.sealed[..], "a modified envelope opened");
                assert_eq!(p, &base.plaintext);
            }
        }
        // SAFETY: live record, freed once.
        unsafe { caduceus_keyring_record_free(rec) };
    } else {
        assert!(
            rec.is_null(),
            "keyring_record_from_bytes wrote its out-parameter on failure"
        );
    }
    if null_case {
        let mut out = ptr::null_mut();
        // SAFETY: a NULL buffer is refused before any read.
        assert_null(unsafe {
            caduceus_envelope_open_with_keyring(
                ptr::null(),
                null_len(bytes),
                f.record,
                f.staff,
                &mut out,
            )
        });
        // SAFETY: a NULL record handle is refused.
        assert_null(unsafe {
            caduceus_envelope_open_with_keyring(
                bytes.as_ptr(),
                bytes.len(),
                ptr::null(),
                f.staff,
                &mut out,
            )
        });
        assert!(out.is_null());
    }
}

fn seal(data: &[u8], null_case: bool) {
    let f = fixed();
    let (flags, data) = data.split_first().map_or((0, &[][..]), |(a, b)| (*a, b));
    let fl = fields(data, 5);
    let strings: Vec<CString> = fl[..4].iter().map(|s| cstr(s)).collect();
    let plaintext = fl[4];
    let labels = caduceus_labels {
        subject: strings[0].as_ptr(),
        category: strings[1].as_ptr(),
        purpose: strings[2].as_ptr(),
        content_type: strings[3].as_ptr(),
        created_at: T0 + i64::from(flags >> 2),
    };
    let recipients: Vec<*const caduceus_public_key> = if flags & 1 != 0 {
        vec![f.other_pub, f.me_pub]
    } else {
        vec![f.me_pub]
    };
    let mut out = ptr::null_mut();
    // SAFETY: live key handles; `labels` with NUL-terminated strings; the
    // plaintext valid for its length; `out` valid for a write.
    let rc = unsafe {
        caduceus_envelope_seal(
            recipients.as_ptr(),
            recipients.len(),
            &labels,
            plaintext.as_ptr(),
            plaintext.len(),
            &mut out,
        )
    };
    let sealed_ok = ok(rc);
    let sealed_len = if sealed_ok {
        let env = take(out);
        assert_eq!(
            ffi_open(&env, f.me),
            Ok(plaintext.to_vec()),
            "a sealed message does not open to its plaintext"
        );
        let mut json = ptr::null_mut();
        // SAFETY: `env` valid; `json` valid for a write.
        assert!(ok(unsafe {
            caduceus_envelope_inspect(env.as_ptr(), env.len(), &mut json)
        }));
        let h = take_json(json);
        for (k, s) in ["subject", "category", "purpose", "content_type"]
            .iter()
            .zip(&strings)
        {
            assert_eq!(
                h["labels"][k].as_str(),
                s.to_str().ok(),
                "label {k} changed"
            );
        }
        Some(env.len())
    } else {
        assert!(out.is_null(), "seal wrote its out-parameter on failure");
        None
    };

    // Streaming: the same validation, the same envelope length, the same plaintext.
    let (mut sealer, mut hdr) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: as for seal; `sealer` and `hdr` valid for writes.
    let rc = unsafe {
        caduceus_sealer_new(
            recipients.as_ptr(),
            recipients.len(),
            &labels,
            &mut sealer,
            &mut hdr,
        )
    };
    assert_eq!(
        ok(rc),
        sealed_ok,
        "sealer_new and seal validate differently"
    );
    if sealed_ok {
        let mut env = take(hdr);
        if null_case {
            let mut o = ptr::null_mut();
            // SAFETY: a NULL buffer is refused before any read and leaves the sealer usable.
            assert_null(unsafe { caduceus_sealer_update(sealer, ptr::null(), 1, &mut o) });
            assert!(o.is_null());
        }
        let step = usize::from(flags >> 1).max(1) * 97;
        for chunk in plaintext.chunks(step) {
            let mut o = ptr::null_mut();
            // SAFETY: live sealer; `chunk` valid; `o` valid for a write.
            assert!(ok(unsafe {
                caduceus_sealer_update(sealer, chunk.as_ptr(), chunk.len(), &mut o)
            }));
            env.extend(take(o));
        }
        let mut o = ptr::null_mut();
        // SAFETY: live sealer; `o` valid for a write.
        assert!(ok(unsafe { caduceus_sealer_finish(sealer, &mut o) }));
        env.extend(take(o));
        // SAFETY: as above.
        let rc = unsafe { caduceus_sealer_finish(sealer, &mut o) };
        assert_code(rc, CADUCEUS_WRONG_STATE, "finish after the end");
        // SAFETY: live sealer, freed once.
        unsafe { caduceus_sealer_free(sealer) };
        assert_eq!(
            Some(env.len()),
            sealed_len,
            "streamed and one-shot envelopes differ in length"
        );
        assert_eq!(
            ffi_open(&env, f.me),
            Ok(plaintext.to_vec()),
            "a streamed envelope does not open to its plaintext"
        );
    } else {
        assert!(
            sealer.is_null() && hdr.is_null(),
            "sealer_new wrote its out-parameters on failure"
        );
    }

    // An envelope set of the two halves.
    let (a, b) = plaintext.split_at(plaintext.len() / 2);
    let part_ptrs = [a.as_ptr(), b.as_ptr()];
    let part_lens = [a.len(), b.len()];
    let mut envs = [ptr::null_mut(); 2];
    // SAFETY: as for seal; the arrays hold 2 elements; `envs` valid for 2 writes.
    let rc = unsafe {
        caduceus_envelope_seal_parts(
            recipients.as_ptr(),
            recipients.len(),
            &labels,
            part_ptrs.as_ptr(),
            part_lens.as_ptr(),
            2,
            envs.as_mut_ptr(),
        )
    };
    assert_eq!(
        ok(rc),
        sealed_ok,
        "seal_parts and seal validate differently"
    );
    if sealed_ok {
        let mut set = ptr::null_mut();
        // SAFETY: `set` valid for a write.
        assert!(ok(unsafe { caduceus_part_set_new(&mut set) }));
        for e in envs.iter().rev() {
            let e = take(*e);
            // SAFETY: live set; `e` valid; live identity.
            assert!(ok(unsafe {
                caduceus_part_set_add(set, e.as_ptr(), e.len(), f.me)
            }));
        }
        let mut o = ptr::null_mut();
        // SAFETY: live set; `o` valid for a write.
        assert!(ok(unsafe { caduceus_part_set_assemble(set, &mut o) }));
        assert_eq!(take(o), plaintext, "a set does not assemble to its parts");
        // SAFETY: live set, freed once.
        unsafe { caduceus_part_set_free(set) };
    } else {
        assert!(
            envs.iter().all(|e| e.is_null()),
            "seal_parts wrote its out-parameters on failure"
        );
    }

    if null_case {
        // Valid labels: the NULL must be the only thing wrong.
        let valid: Vec<CString> = [
            "p-3f9a",
            "chat-messages",
            "treatment-communication",
            "text/plain",
        ]
        .iter()
        .map(|s| CString::new(*s).expect("label"))
        .collect();
        let labels = caduceus_labels {
            subject: valid[0].as_ptr(),
            category: valid[1].as_ptr(),
            purpose: valid[2].as_ptr(),
            content_type: valid[3].as_ptr(),
            created_at: T0,
        };
        let no_subject = caduceus_labels {
            subject: ptr::null(),
            ..labels
        };
        let (rp, rn) = (recipients.as_ptr(), recipients.len());
        let (pp, pn) = (plaintext.as_ptr(), plaintext.len());
        // Each with one NULL: the plaintext (length 1), the labels, a label
        // string, the recipient array (count 1).
        let calls: [(
            *const *const caduceus_public_key,
            usize,
            *const caduceus_labels,
            *const u8,
            usize,
        ); 4] = [
            (rp, rn, &labels, ptr::null(), 1),
            (rp, rn, ptr::null(), pp, pn),
            (rp, rn, &no_subject, pp, pn),
            (ptr::null(), 1, &labels, pp, pn),
        ];
        let mut o = ptr::null_mut();
        for (rp, rn, labels, pp, pn) in calls {
            // SAFETY: a NULL pointer with a non-zero length is refused before
            // any read, NULL labels or a NULL label string before any use;
            // the other arguments are valid.
            assert_null(unsafe { caduceus_envelope_seal(rp, rn, labels, pp, pn, &mut o) });
        }
        assert!(o.is_null());
        let null_part = [ptr::null(), b.as_ptr()];
        let lens = [1usize, b.len()];
        let mut envs = [ptr::null_mut(); 2];
        // SAFETY: a NULL part with a non-zero length is refused before any read.
        assert_null(unsafe {
            caduceus_envelope_seal_parts(
                recipients.as_ptr(),
                recipients.len(),
                &labels,
                null_part.as_ptr(),
                lens.as_ptr(),
                2,
                envs.as_mut_ptr(),
            )
        });
        assert!(envs.iter().all(|e| e.is_null()));
    }
}
