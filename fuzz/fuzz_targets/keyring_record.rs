//! `KeyringRecord::from_bytes`: no panic; the encoding is canonical, so
//! to_bytes(from_bytes(b)) == b; unwrapping with a fixed identity never
//! panics.
#![no_main]

use caduceus_core::keys::KeyringRecord;
use caduceus_fuzz::identity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = KeyringRecord::from_bytes(data) {
        assert_eq!(
            r.to_bytes(),
            data,
            "keyring record encoding is not canonical"
        );
        let _ = r.recipients();
        let _ = r.public_key();
        let _ = r.unwrap(&identity());
        let _ = format!("{r:?}");
    }
});
