//! Key text forms: `PublicKey`, `PrivateKey::from_secret_str`,
//! `PrivateKey::parse_identities` and `KeyId` on arbitrary UTF-8. Property:
//! no panic, and parse(display(x)) == x whenever x parses.
#![no_main]

use caduceus_core::keys::{KeyId, PrivateKey, PublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = s.parse::<PublicKey>() {
        let text = k.to_string();
        assert_eq!(text.parse::<PublicKey>().ok(), Some(k));
        assert_eq!(
            text,
            s.trim().to_ascii_lowercase(),
            "public key text not canonical"
        );
    }
    if let Ok(k) = PrivateKey::from_secret_str(s) {
        let text = k.to_secret_string();
        let again = PrivateKey::from_secret_str(&text).expect("secret text parses back");
        assert_eq!(again.secret_bytes(), k.secret_bytes());
        assert_eq!(again.kind(), k.kind());
        assert_eq!(again.public_key(), k.public_key());
    }
    if let Ok(keys) = PrivateKey::parse_identities(s) {
        assert!(!keys.is_empty());
    }
    if let Ok(id) = s.parse::<KeyId>() {
        let text = id.to_string();
        assert_eq!(text.parse::<KeyId>().ok(), Some(id));
        assert_eq!(text, s.trim().to_ascii_lowercase());
    }
});
