//! `Ledger::from_bytes` and `LedgerReader`: no panic; canonical round trip
//! (a version-2 file re-encodes to itself, a version-1 file to a version-2
//! file holding the same ledger); feeding the bytes in two chunks gives the
//! same answer as one; a repair keeps exactly the complete entries; queries
//! on a parsed ledger never panic.
#![no_main]

use caduceus_core::consent::{LEDGER_VERSION, Ledger, LedgerReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = Ledger::from_bytes(data);
    // The same bytes in two chunks, split where the first byte says.
    let split = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
    let mut r = LedgerReader::new();
    let chunked = r
        .feed(&data[..split])
        .and_then(|()| r.feed(&data[split..]))
        .and_then(|()| r.finish());
    assert_eq!(strict.is_ok(), chunked.is_ok(), "chunked reading disagrees");
    if let (Ok(a), Ok(b)) = (&strict, &chunked) {
        assert_eq!(a, b, "chunked reading gives another ledger");
    }
    // A repair keeps exactly the complete entries of a version-2 file.
    let mut r = LedgerReader::new();
    if r.feed(data).is_ok()
        && let Ok((kept, Some(torn))) = r.finish_repairing()
    {
        let keep = usize::try_from(torn.keep_len).unwrap();
        assert_eq!(keep + usize::try_from(torn.cut_len).unwrap(), data.len());
        assert_eq!(
            kept.to_bytes().expect("a whole ledger"),
            &data[..keep],
            "repair kept other bytes"
        );
    }
    if let Ok(l) = strict {
        let bytes = l.to_bytes().expect("a whole ledger");
        if data.get(4) == Some(&LEDGER_VERSION) {
            assert_eq!(bytes, data, "ledger encoding is not canonical");
        } else {
            assert_eq!(
                Ledger::from_bytes(&bytes).as_ref(),
                Ok(&l),
                "version 1 does not convert"
            );
        }
        for id in l.subject_ids().take(4).collect::<Vec<_>>() {
            if let Some(name) = l.subject_name(id) {
                let _ = l.history(&name);
                let _ = l.decide(&name, "marketing", 1_763_800_000);
                let _ = l.export_fhir(&name, 1_763_800_000);
                let _ = l.export_iso27560(&name);
            }
        }
    }
});
