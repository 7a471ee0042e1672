//! WhatsApp webhook intake: `X-Hub-Signature-256` verification and the
//! subscription handshake (docs/WHATSAPP.md section 1).
//!
//! The expected HMACs below were NOT computed by our Rust code: they were
//! computed with Python's standard `hmac` module, e.g.
//! `python3 -c 'import hmac; print(hmac.new(b"test-app-secret-1", BODY, "sha256").hexdigest())'`,
//! and pasted in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::whatsapp::{
    MAX_CHALLENGE_LEN, MAX_WEBHOOK_BODY, SIGNATURE_PREFIX, SignatureError, SubscriptionError,
    verify_signature, verify_subscription,
};
use proptest::prelude::*;

/// A synthetic text-message webhook in the escaped form Meta signs
/// (`\u00fc` for ü, `\u0040` for @).
const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","contacts":[{"profile":{"name":"Test Patientin"},"wa_id":"4915100000001"}],"messages":[{"from":"4915100000001","id":"wamid.TEST1","timestamp":"1767225600","type":"text","text":{"body":"Guten Tag, Frau Dr. M\u00fcller \u0040 Praxis"}}]},"field":"messages"}]}]}"#;
const SECRET_1: &[u8] = b"test-app-secret-1";
const SECRET_2: &[u8] = b"test-app-secret-2";
/// Python: hmac.new(SECRET_1, BODY, "sha256").hexdigest()
const HMAC_1: &str = "92067406d45aee3b7de9d1608fa27e9cc046f0ffd04be9f50d3eafdb0f95508e";
/// Python: hmac.new(SECRET_2, BODY, "sha256").hexdigest()
const HMAC_2: &str = "ba3a22c740a3cea4f95954419d70acee957a950e9c4c0206b5395724e1e9a421";
/// Python: hmac.new(SECRET_1, b"a" * (3 * 1024 * 1024), "sha256").hexdigest()
const HMAC_AT_LIMIT: &str = "355af6ed9c2563b9a8fdabb71a786076e0f29c3de859bec212ea0f7d3bbc786d";
/// Python: hmac.new(SECRET_1, b"", "sha256").hexdigest()
const HMAC_EMPTY: &str = "20bec0c07c86994b2f55f8b8ae3d8a467311a61ea57098fb823fd1cba5112b93";

fn header(hex: &str) -> String {
    format!("sha256={hex}")
}

#[test]
fn lowercase_hex_verifies_with_the_matching_secret() {
    let h = header(HMAC_1);
    assert_eq!(
        verify_signature(BODY, Some(&h), &[SECRET_1])
            .unwrap()
            .index(),
        0
    );
    assert_eq!(
        verify_signature(b"", Some(&header(HMAC_EMPTY)), &[SECRET_1])
            .unwrap()
            .index(),
        0
    );
}

#[test]
fn uppercase_and_mixed_case_hex_verify() {
    let upper = header(&HMAC_1.to_ascii_uppercase());
    assert_eq!(
        verify_signature(BODY, Some(&upper), &[SECRET_1])
            .unwrap()
            .index(),
        0
    );
    let mixed: String = HMAC_1
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    assert!(verify_signature(BODY, Some(&header(&mixed)), &[SECRET_1]).is_ok());
}

#[test]
fn surrounding_whitespace_is_trimmed() {
    let h = format!(" \t{}\r\n", header(HMAC_1));
    assert!(verify_signature(BODY, Some(&h), &[SECRET_1]).is_ok());
}

#[test]
fn rotation_reports_the_secret_that_matched() {
    let h2 = header(HMAC_2);
    assert_eq!(
        verify_signature(BODY, Some(&h2), &[SECRET_1, SECRET_2])
            .unwrap()
            .index(),
        1
    );
    let h1 = header(HMAC_1);
    assert_eq!(
        verify_signature(BODY, Some(&h1), &[SECRET_1, SECRET_2])
            .unwrap()
            .index(),
        0
    );
    // The old secret alone no longer accepts the new signature.
    assert_eq!(
        verify_signature(BODY, Some(&h2), &[SECRET_1]),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_reserialised_body_fails() {
    let h = header(HMAC_1);
    let text = std::str::from_utf8(BODY).unwrap();
    // A proxy that pretty-prints, or decodes the escapes (ü, @) before
    // hashing, changes the bytes and must fail.
    let spaced = text.replace("\":", "\": ").replace(',', ", ");
    let unescaped = text.replace("\\u00fc", "ü").replace("\\u0040", "@");
    for body in [spaced, unescaped] {
        assert_ne!(body.as_bytes(), BODY);
        assert_eq!(
            verify_signature(body.as_bytes(), Some(&h), &[SECRET_1, SECRET_2]),
            Err(SignatureError::Mismatch)
        );
    }
}

#[test]
fn one_flipped_bit_in_body_or_header_fails() {
    let h = header(HMAC_1);
    for bit in [0, 7, 100, BODY.len() * 8 - 1] {
        let mut body = BODY.to_vec();
        body[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            verify_signature(&body, Some(&h), &[SECRET_1]),
            Err(SignatureError::Mismatch)
        );
    }
    // Flip the lowest bit of each hex digit's value: still valid hex.
    for pos in [0, 31, 63] {
        let mut digits: Vec<u8> = HMAC_1.bytes().collect();
        digits[pos] = match digits[pos] {
            b'0'..=b'8' | b'a'..=b'e' => digits[pos] + 1,
            b'9' => b'8',
            _ => b'e',
        };
        let h = header(std::str::from_utf8(&digits).unwrap());
        assert_eq!(
            verify_signature(BODY, Some(&h), &[SECRET_1]),
            Err(SignatureError::Mismatch)
        );
    }
    // Another secret fails.
    assert_eq!(
        verify_signature(BODY, Some(&h), &[b"test-app-secret-3"]),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn missing_header_is_refused() {
    assert_eq!(
        verify_signature(BODY, None, &[SECRET_1]),
        Err(SignatureError::Missing)
    );
    for empty in ["", "  ", "\r\n"] {
        assert_eq!(
            verify_signature(BODY, Some(empty), &[SECRET_1]),
            Err(SignatureError::Missing)
        );
    }
}

#[test]
fn malformed_headers_are_refused() {
    let cases = [
        HMAC_1.to_owned(),                                  // no prefix
        format!("SHA256={HMAC_1}"),                         // prefix in the wrong case
        format!("sha1={HMAC_1}"),                           // another algorithm
        format!("sha256= {HMAC_1}"),                        // space inside
        format!("sha256={}", &HMAC_1[..63]),                // 63 digits
        format!("sha256={HMAC_1}0"),                        // 65 digits
        format!("sha256={}g", &HMAC_1[..63]),               // not hex
        format!("sha256={}ü", &HMAC_1[..62]),               // non-ASCII, 64 bytes
        format!("sha256={}", &HMAC_1[..62]) + "\u{0}\u{0}", // NUL bytes
        "sha256=".to_owned(),                               // nothing after the prefix
    ];
    for h in &cases {
        assert_eq!(
            verify_signature(BODY, Some(h), &[SECRET_1]),
            Err(SignatureError::Malformed),
            "case {h:?}"
        );
    }
}

#[test]
fn secrets_must_be_configured() {
    let h = header(HMAC_1);
    assert_eq!(
        verify_signature(BODY, Some(&h), &[]),
        Err(SignatureError::NoSecrets)
    );
    assert_eq!(
        verify_signature(BODY, Some(&h), &[SECRET_1, b""]),
        Err(SignatureError::EmptySecret)
    );
}

#[test]
fn body_at_the_limit_is_accepted_and_one_past_refused() {
    assert_eq!(MAX_WEBHOOK_BODY, 3 * 1024 * 1024);
    let mut body = vec![b'a'; MAX_WEBHOOK_BODY];
    let h = header(HMAC_AT_LIMIT);
    assert_eq!(
        verify_signature(&body, Some(&h), &[SECRET_1])
            .unwrap()
            .index(),
        0
    );
    body.push(b'a');
    assert_eq!(
        verify_signature(&body, Some(&h), &[SECRET_1]),
        Err(SignatureError::BodyTooLarge)
    );
}

#[test]
fn error_messages_never_contain_input() {
    let h = header(HMAC_1);
    let errors = [
        verify_signature(BODY, Some(&h), &[b"test-app-secret-3"]).unwrap_err(),
        verify_signature(BODY, Some(&h[1..]), &[SECRET_1]).unwrap_err(),
        verify_signature(BODY, None, &[SECRET_1]).unwrap_err(),
    ];
    for e in errors {
        let m = e.to_string();
        assert!(!m.contains(&HMAC_1[..8]), "{m}");
        assert!(!m.contains("test-app-secret"), "{m}");
        assert!(!m.contains("4915100000001"), "{m}");
    }
    let e = verify_subscription("subscribe", "wrong-token", "12345", "right-token").unwrap_err();
    assert!(!e.to_string().contains("token-"));
}

#[test]
fn subscription_echoes_the_challenge_only_when_mode_and_token_hold() {
    assert_eq!(
        verify_subscription("subscribe", "vt-123", "1158201444", "vt-123"),
        Ok("1158201444")
    );
    assert_eq!(
        verify_subscription("subscribe", "vt-123", "CHALLENGE_ACCEPTED", "vt-123"),
        Ok("CHALLENGE_ACCEPTED")
    );
    assert_eq!(
        verify_subscription("unsubscribe", "vt-123", "1158201444", "vt-123"),
        Err(SubscriptionError::Mode)
    );
    assert_eq!(
        verify_subscription("Subscribe", "vt-123", "1158201444", "vt-123"),
        Err(SubscriptionError::Mode)
    );
    for wrong in ["vt-124", "vt-12", "vt-1234", "", "VT-123"] {
        assert_eq!(
            verify_subscription("subscribe", wrong, "1158201444", "vt-123"),
            Err(SubscriptionError::Token)
        );
    }
    assert_eq!(
        verify_subscription("subscribe", "", "1158201444", ""),
        Err(SubscriptionError::NoVerifyToken)
    );
}

#[test]
fn the_challenge_is_a_bounded_printable_token() {
    let at_limit = "7".repeat(MAX_CHALLENGE_LEN);
    assert_eq!(MAX_CHALLENGE_LEN, 256);
    assert_eq!(
        verify_subscription("subscribe", "t", &at_limit, "t"),
        Ok(at_limit.as_str())
    );
    let past = "7".repeat(MAX_CHALLENGE_LEN + 1);
    for bad in [
        past.as_str(),
        "",
        "<script>alert(1)</script>",
        "12 34",
        "123\r\nSet-Cookie: x=1",
        "12ü",
        "12%00",
    ] {
        assert_eq!(
            verify_subscription("subscribe", "t", bad, "t"),
            Err(SubscriptionError::Challenge)
        );
    }
}

/// HMAC-SHA256 as a reference independent of the code under test's
/// parsing: the `hmac` crate directly, lowercase hex.
fn reference_header(secret: &[u8], body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!(
        "{SIGNATURE_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn own_hmac_verifies_and_any_single_bit_flip_fails(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        secret in proptest::collection::vec(any::<u8>(), 1..80),
        flip in any::<proptest::sample::Index>(),
        flip_header in any::<bool>(),
    ) {
        let h = reference_header(&secret, &body);
        prop_assert_eq!(verify_signature(&body, Some(&h), &[&secret]).map(|i| i.index()), Ok(0));
        if flip_header || body.is_empty() {
            // Flip one bit of the 32-byte tag, re-encoded as valid hex.
            let mut tag = hex::decode(&h[SIGNATURE_PREFIX.len()..]).unwrap();
            let bit = flip.index(tag.len() * 8);
            tag[bit / 8] ^= 1 << (bit % 8);
            let flipped = format!("{SIGNATURE_PREFIX}{}", hex::encode(tag));
            prop_assert_eq!(
                verify_signature(&body, Some(&flipped), &[&secret]),
                Err(SignatureError::Mismatch)
            );
        } else {
            let mut flipped = body.clone();
            let bit = flip.index(flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert_eq!(
                verify_signature(&flipped, Some(&h), &[&secret]),
                Err(SignatureError::Mismatch)
            );
        }
    }
}
