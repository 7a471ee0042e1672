//! Signing webhook bodies as Meta does (`X-Hub-Signature-256:
//! sha256=<hex of HMAC-SHA256(app secret, raw body)>`), for the demo, the
//! tests and a host's own replay tools. The server verifies with
//! [`caduceus_core::whatsapp::verify_signature`].

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The `X-Hub-Signature-256` header value for `body` under `secret`.
pub fn signature_header(body: &[u8], secret: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use caduceus_core::whatsapp::verify_signature;

    #[test]
    fn core_verifies_what_this_signs_and_refuses_another_secret() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let h = signature_header(body, b"app-secret");
        assert!(verify_signature(body, Some(&h), &[b"app-secret"]).is_ok());
        assert!(verify_signature(body, Some(&h), &[b"other"]).is_err());
        // RFC 4231 test case 2 (key "Jefe").
        assert_eq!(
            signature_header(b"what do ya want for nothing?", b"Jefe"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
