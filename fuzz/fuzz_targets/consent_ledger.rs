//! `Ledger::from_bytes`: no panic; canonical round trip; queries on a
//! parsed ledger never panic.
#![no_main]

use caduceus_core::consent::Ledger;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = Ledger::from_bytes(data) {
        assert_eq!(l.to_bytes(), data, "ledger encoding is not canonical");
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
