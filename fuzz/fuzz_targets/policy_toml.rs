//! `retention::Policy::parse` and `ConsentPolicy::from_toml` on arbitrary
//! UTF-8: no panic; a parsed policy lints, hashes, renders and sweeps
//! without panic, and its canonical form is deterministic.
#![no_main]

use caduceus_core::consent::ConsentPolicy;
use caduceus_core::retention::{Date, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::parse(s) {
        Ok(p) => {
            let _ = caduceus_core::retention::lint(&p);
            assert_eq!(p.canonical_json(), p.clone().canonical_json());
            let _ = p.hash_hex();
            let _ = p.register_markdown();
            let _ = p.register_json();
            if let Ok(today) = Date::from_ymd(2026, 11, 22) {
                let _ = p.sweep(&[], today, &[]);
            }
        }
        Err(e) => {
            let _ = e.location();
            let _ = e.to_string();
        }
    }
    if let Ok(c) = ConsentPolicy::from_toml(s) {
        let _ = c.validate();
    }
});
