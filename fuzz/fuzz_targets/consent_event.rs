//! `ConsentEvent::from_bytes`: no panic; canonical round trip.
#![no_main]

use caduceus_core::consent::ConsentEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = ConsentEvent::from_bytes(data) {
        let bytes = e.to_bytes().expect("a parsed event encodes");
        assert_eq!(bytes, data, "consent event encoding is not canonical");
        assert_eq!(ConsentEvent::from_bytes(&bytes).as_ref(), Ok(&e));
    }
});
