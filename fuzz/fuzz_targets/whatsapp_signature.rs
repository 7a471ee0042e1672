//! `whatsapp::verify_signature` with an arbitrary `X-Hub-Signature-256`
//! header and body. Input: the header value up to the first NUL, the body
//! after it (without a NUL: the whole input is the body and there is no
//! header). A header that is not UTF-8 is passed through lossy decoding.
//! The app secret is the fixtures' test secret, so the seeds (the signed
//! fixtures of `tests/fixtures/whatsapp/`) verify.
//!
//! Properties: no panic; a header is accepted only if it is, after trimming
//! ASCII whitespace, `sha256=` and the hex of the body's HMAC-SHA256 under
//! the secret (either case); the correct header is always accepted, with
//! the index of the matching secret during a rotation; an error's Display
//! never quotes the header (checked with a marker: if the header contains
//! `PATIENT-SECRET-MARKER`, the error text does not).
#![no_main]

use caduceus_core::suite::hmac_sha256;
use caduceus_core::whatsapp::{MAX_WEBHOOK_BODY, SignatureError, verify_signature};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"caduceus-test-app-secret";
const OTHER: &[u8] = b"another-app-secret";
const MARKER: &str = "PATIENT-SECRET-MARKER";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (
            Some(String::from_utf8_lossy(&data[..i]).into_owned()),
            &data[i + 1..],
        ),
        None => (None, data),
    };
    let expected = format!("sha256={}", hex(&hmac_sha256(SECRET, &[body])));
    let result = verify_signature(body, header.as_deref(), &[SECRET]);
    match (&result, &header) {
        (Ok(i), Some(h)) => {
            assert_eq!(i.index(), 0);
            let trimmed = h.trim_matches(|c: char| c.is_ascii_whitespace());
            let (prefix, digits) = trimmed.split_at(7.min(trimmed.len()));
            assert_eq!(prefix, "sha256=");
            assert_eq!(format!("sha256={}", digits.to_ascii_lowercase()), expected);
        }
        (Ok(_), None) => panic!("accepted without a header"),
        (Err(e), Some(h)) => {
            // A header may well be a piece of the fixed message itself, so
            // the check is by marker.
            let text = e.to_string();
            if h.contains(MARKER) {
                assert!(!text.contains(MARKER), "an error quotes the header");
            }
        }
        (Err(e), None) => assert_eq!(*e, SignatureError::Missing),
    }
    // The right header verifies, also as the second secret of a rotation.
    if body.len() <= MAX_WEBHOOK_BODY {
        assert_eq!(
            verify_signature(body, Some(&expected), &[SECRET]).map(|i| i.index()),
            Ok(0)
        );
        assert_eq!(
            verify_signature(body, Some(&expected), &[OTHER, SECRET]).map(|i| i.index()),
            Ok(1)
        );
        assert_eq!(
            verify_signature(body, Some(&expected), &[OTHER]),
            Err(SignatureError::Mismatch)
        );
    }
});
