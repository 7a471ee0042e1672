//! One-shot `envelope::open` (and `open_any`, `open_segment`, `rewrap`) with
//! a fixed identity, on raw bytes or on mutations of fixed sealed messages.
//! Properties: no panic; whatever opens inspects to the same header; a
//! mutated fixed message opens only if it is byte-for-byte the original, and
//! then to the original plaintext; a non-recipient key never opens.
#![no_main]

use caduceus_core::envelope;
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;
use caduceus_fuzz::{envelope_input, identity, other_identity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = envelope_input(data);
    let bytes = &input.bytes;
    let me = identity();
    let opened = envelope::open(bytes, &me);
    if let Ok(o) = &opened {
        let h = envelope::inspect(bytes).expect("an opened envelope inspects");
        assert_eq!(h, o.header);
        if let Some(base) = input.base {
            assert_eq!(bytes, &base.sealed, "a modified envelope opened");
            assert_eq!(o.plaintext, base.plaintext);
        }
        // open_any with the right key among others agrees.
        let any = envelope::open_any(bytes, &[other_identity(), me.clone()]);
        if !o.header.recipients.contains(&other_identity().key_id()) {
            assert_eq!(any.as_ref().map(|a| &a.plaintext), Ok(&o.plaintext));
        }
        // Random access agrees with the one-shot plaintext.
        let seg0 = envelope::open_segment(bytes, &me, 0).expect("segment 0 of an opened envelope");
        assert!(o.plaintext.starts_with(&seg0));
        // Rewrap keeps the payload and still opens.
        // (A third key: `other_identity` may already be a recipient.)
        let mut rng = DeterministicRng::new(9);
        let third = PrivateKey::from_bytes(KeyKind::Staff, [0x33; 32]).expect("fixed key");
        if !o.header.recipients.contains(&third.key_id()) {
            let re = envelope::rewrap(bytes, &me, &[third.public_key()], &[], &mut rng)
                .expect("rewrap an opened envelope");
            let o2 = envelope::open(&re, &third).expect("rewrapped envelope opens");
            assert_eq!(o2.plaintext, o.plaintext);
        }
    } else {
        let _ = envelope::open_segment(bytes, &me, u64::from(data.len() as u8 % 4));
    }
    if input.base.is_some_and(|b| b.sealed == *bytes) {
        assert!(opened.is_ok(), "the unmodified fixed message must open");
    }
    // A key that is not among the recipients never opens.
    let other = other_identity();
    if let Ok(h) = envelope::inspect(bytes) {
        if !h.recipients.contains(&other.key_id()) {
            assert!(
                envelope::open(bytes, &other).is_err(),
                "opened without being a recipient"
            );
        }
    } else {
        let _ = envelope::open(bytes, &other);
    }
});
