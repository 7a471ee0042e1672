//! `whatsapp::DedupeSet::from_bytes`: arbitrary bytes, and valid sets
//! built from the input then edited (bit flips, truncation, an appended
//! tail), with the checksum recomputed or not. Properties: no panic;
//! whatever is accepted is canonical (to_bytes gives the input back), holds
//! at most its capacity, and keeps behaving as a set (insert, contains,
//! remove, another round trip).
#![no_main]

use caduceus_core::suite;
use caduceus_core::whatsapp::{DedupeError, DedupeKey, DedupeSet, Seen};
use caduceus_fuzz::{Reader, T0, apply_edits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader(data);
    let bytes = if r.u8() % 2 == 0 {
        r.0.to_vec()
    } else {
        let capacity = 1 + usize::from(r.u8() % 16);
        let window = 1 + i64::from(r.u16());
        let mut set = DedupeSet::new(capacity, window).expect("valid parameters");
        for _ in 0..r.u8() % 24 {
            let key = DedupeKey::message(&format!("wamid.{}", r.u8()));
            match set.insert(key, T0 + i64::from(r.u8())) {
                Ok(_) | Err(DedupeError::Full { .. }) => {}
                Err(e) => panic!("insert failed: {e:?}"),
            }
            assert!(set.len() <= capacity);
        }
        let mut bytes = set.to_bytes();
        assert!(
            DedupeSet::from_bytes(&bytes).expect("a written set reads") == set,
            "round trip changed the set"
        );
        apply_edits(&mut bytes, &mut r);
        if r.u8() % 2 == 0 && bytes.len() >= 32 {
            let body = bytes.len() - 32;
            let check = suite::sha256(&[&bytes[..body]]);
            bytes[body..].copy_from_slice(&check);
        }
        bytes
    };
    if let Ok(mut set) = DedupeSet::from_bytes(&bytes) {
        assert!(
            set.to_bytes() == bytes,
            "dedupe set encoding is not canonical"
        );
        assert!(set.len() <= set.capacity());
        let key = DedupeKey::message("wamid.fuzz");
        let now = T0 + 500;
        let had = set.contains(&key, now);
        match set.insert(key, now) {
            Ok(Seen::New) => assert!(!had && set.contains(&key, now)),
            Ok(Seen::Duplicate) => assert!(had),
            Err(DedupeError::Full { capacity }) => assert_eq!(capacity, set.capacity()),
            Err(e) => panic!("insert failed: {e:?}"),
        }
        let again = DedupeSet::from_bytes(&set.to_bytes()).expect("a written set reads");
        assert!(again == set);
        set.remove(&key);
        assert!(!set.contains(&key, now));
    }
});
