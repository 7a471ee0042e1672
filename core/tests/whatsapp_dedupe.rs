//! Webhook deduplication: keys, the bounded set, its window, and the
//! canonical serialisation (docs/WHATSAPP.md section 6).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use caduceus_core::whatsapp::{
    DEDUPE_WINDOW, DedupeError, DedupeKey, DedupeSet, MAX_DEDUPE_CAPACITY, Seen,
};
use proptest::prelude::*;

const T0: i64 = 1_767_225_600;
const WAMID: &str = "wamid.HBgLNDkxNTEwMDAwMDAxFQIAERgSQUQ2MjA4NEYyRkExNjMyREUA";

fn key(i: u32) -> DedupeKey {
    DedupeKey::message(&format!("wamid.TEST{i}"))
}

/// Offsets of the serialised fields (docs/WHATSAPP.md section 6.3).
const HEADER_LEN: usize = 29;
const ENTRY_LEN: usize = 40;
const CHECK_LEN: usize = 32;

/// Recompute the trailing SHA-256 of a serialised set after an edit.
fn reseal(bytes: &mut [u8]) {
    let body_len = bytes.len() - CHECK_LEN;
    let check = caduceus_core::suite::sha256(&[&bytes[..body_len]]);
    bytes[body_len..].copy_from_slice(&check);
}

/// A serialised set built by hand from the documented layout.
fn hand_built(window: i64, capacity: u64, entries: &[(i64, [u8; 32])]) -> Vec<u8> {
    let mut b = b"CDDD\x01".to_vec();
    b.extend_from_slice(&window.to_be_bytes());
    b.extend_from_slice(&capacity.to_be_bytes());
    b.extend_from_slice(&(entries.len() as u64).to_be_bytes());
    for (t, k) in entries {
        b.extend_from_slice(&t.to_be_bytes());
        b.extend_from_slice(k);
    }
    b.extend_from_slice(&[0; CHECK_LEN]);
    reseal(&mut b);
    b
}

fn sample_set() -> DedupeSet {
    let mut set = DedupeSet::new(16, DEDUPE_WINDOW).unwrap();
    for (i, t) in [
        (1, T0),
        (2, T0 + 5),
        (3, T0 + 5),
        (4, T0 - 3),
        (5, T0 + 100),
    ] {
        assert_eq!(set.insert(key(i), t).unwrap(), Seen::New);
    }
    set
}

#[test]
fn the_same_key_twice_is_a_duplicate() {
    let mut set = DedupeSet::new(100, DEDUPE_WINDOW).unwrap();
    let k = DedupeKey::message(WAMID);
    assert_eq!(set.insert(k, T0).unwrap(), Seen::New);
    assert_eq!(set.insert(k, T0).unwrap(), Seen::Duplicate);
    // Meta's last retry, 7 days later, is still a duplicate.
    assert_eq!(set.insert(k, T0 + 7 * 24 * 3600).unwrap(), Seen::Duplicate);
    assert_eq!(
        set.insert(DedupeKey::message(WAMID), T0 + 1).unwrap(),
        Seen::Duplicate
    );
    assert_eq!(set.len(), 1);
    assert!(set.contains(&k, T0 + 1));
    assert_eq!(set.insert(key(1), T0).unwrap(), Seen::New);
    assert_eq!(set.len(), 2);
}

#[test]
fn after_the_window_a_key_is_new_again() {
    assert_eq!(DEDUPE_WINDOW, 691_200);
    let mut set = DedupeSet::new(100, DEDUPE_WINDOW).unwrap();
    let k = DedupeKey::message(WAMID);
    assert_eq!(set.insert(k, T0).unwrap(), Seen::New);
    // A duplicate does not extend the window.
    assert_eq!(set.insert(k, T0 + 1000).unwrap(), Seen::Duplicate);
    assert!(set.contains(&k, T0 + DEDUPE_WINDOW - 1));
    assert!(!set.contains(&k, T0 + DEDUPE_WINDOW));
    assert_eq!(
        set.insert(k, T0 + DEDUPE_WINDOW - 1).unwrap(),
        Seen::Duplicate
    );
    assert_eq!(set.insert(k, T0 + DEDUPE_WINDOW).unwrap(), Seen::New);
    // A clock that went back keeps the key.
    assert!(set.contains(&k, T0));
    assert_eq!(set.len(), 1);
}

#[test]
fn a_full_set_refuses_then_accepts_once_time_has_passed() {
    let mut set = DedupeSet::new(3, 100).unwrap();
    for i in 0..3 {
        assert_eq!(set.insert(key(i), T0 + i64::from(i)).unwrap(), Seen::New);
    }
    assert_eq!(
        set.insert(key(3), T0 + 50),
        Err(DedupeError::Full { capacity: 3 })
    );
    // Nothing was forgotten, and known keys are still recognised.
    assert_eq!(set.len(), 3);
    assert_eq!(set.insert(key(1), T0 + 50).unwrap(), Seen::Duplicate);
    for i in 0..3 {
        assert!(set.contains(&key(i), T0 + 50));
    }
    // At T0 + 100 the first key (from T0) leaves the window: one place.
    assert_eq!(set.insert(key(3), T0 + 100).unwrap(), Seen::New);
    assert!(!set.contains(&key(0), T0 + 100));
    assert_eq!(
        set.insert(key(4), T0 + 100),
        Err(DedupeError::Full { capacity: 3 })
    );
    // At T0 + 101 the key from T0 + 1 leaves.
    assert_eq!(set.insert(key(4), T0 + 101).unwrap(), Seen::New);
    assert_eq!(set.len(), 3);
    assert!(!set.contains(&key(1), T0 + 101));
    assert!(set.contains(&key(2), T0 + 101));
    let message = DedupeError::Full { capacity: 3 }.to_string();
    assert!(message.contains("503"), "{message}");
}

#[test]
fn remove_lets_a_retry_through() {
    let mut set = DedupeSet::new(2, DEDUPE_WINDOW).unwrap();
    let k = DedupeKey::status(WAMID, "delivered");
    assert_eq!(set.insert(k, T0).unwrap(), Seen::New);
    assert!(set.remove(&k));
    assert!(!set.remove(&k));
    assert!(set.is_empty());
    assert_eq!(set.insert(k, T0 + 10).unwrap(), Seen::New);
    // The re-inserted key's window runs from the new insert.
    assert!(set.contains(&k, T0 + 10 + DEDUPE_WINDOW - 1));
    let restored = DedupeSet::from_bytes(&set.to_bytes()).unwrap();
    assert_eq!(restored, set);
}

#[test]
fn evict_expired_drops_only_keys_past_the_window() {
    let mut set = DedupeSet::new(10, 100).unwrap();
    for i in 0..5 {
        assert_eq!(
            set.insert(key(i), T0 + 10 * i64::from(i)).unwrap(),
            Seen::New
        );
    }
    assert_eq!(set.evict_expired(T0 + 99), 0);
    assert_eq!(set.evict_expired(T0 + 120), 3);
    assert_eq!(set.len(), 2);
    assert!(set.contains(&key(3), T0 + 120));
}

#[test]
fn status_keys_differ_by_status_and_kinds_differ() {
    let sent = DedupeKey::status(WAMID, "sent");
    let delivered = DedupeKey::status(WAMID, "delivered");
    let read = DedupeKey::status(WAMID, "read");
    assert_ne!(sent, delivered);
    assert_ne!(delivered, read);
    assert_ne!(sent, read);
    assert_eq!(sent, DedupeKey::status(WAMID, "sent"));
    assert_ne!(DedupeKey::message(WAMID), sent);
    let mut set = DedupeSet::new(10, DEDUPE_WINDOW).unwrap();
    for k in [DedupeKey::message(WAMID), sent, delivered, read] {
        assert_eq!(set.insert(k, T0).unwrap(), Seen::New);
    }
    assert_eq!(set.insert(read, T0 + 1).unwrap(), Seen::Duplicate);

    let approved = DedupeKey::template("1689556908129832", "APPROVED", None);
    assert_ne!(
        approved,
        DedupeKey::template("1689556908129832", "PAUSED", None)
    );
    assert_ne!(
        approved,
        DedupeKey::template("1689556908129833", "APPROVED", None)
    );
    assert_ne!(
        approved,
        DedupeKey::template("1689556908129832", "APPROVED", Some(1_746_169_200))
    );
    let stop = DedupeKey::preference("P-7F3A9C", "marketing_messages", "stop", 1_731_705_721);
    for other in [
        DedupeKey::preference("P-7F3A9D", "marketing_messages", "stop", 1_731_705_721),
        DedupeKey::preference("P-7F3A9C", "marketing_messages", "resume", 1_731_705_721),
        DedupeKey::preference("P-7F3A9C", "marketing_messages", "stop", 1_731_705_722),
        DedupeKey::preference("P-7F3A9C", "other", "stop", 1_731_705_721),
    ] {
        assert_ne!(stop, other);
    }
    // Keys name nobody: the hex form is the hash, not the id.
    assert!(!stop.to_hex().contains("7f3a9c"));
    assert_eq!(DedupeKey::from_hex(&stop.to_hex()).unwrap(), stop);
    assert_eq!(DedupeKey::from_bytes(*stop.as_bytes()), stop);
    assert!(!format!("{stop:?}").contains("P-7F3A9C"));
}

#[test]
fn the_serialised_set_round_trips_and_follows_the_documented_layout() {
    let set = sample_set();
    let bytes = set.to_bytes();
    assert_eq!(bytes.len(), HEADER_LEN + 5 * ENTRY_LEN + CHECK_LEN);
    let back = DedupeSet::from_bytes(&bytes).unwrap();
    assert_eq!(back, set);
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.capacity(), 16);
    assert_eq!(back.window(), DEDUPE_WINDOW);
    // Entries in ascending (time, key) order.
    let mut entries = vec![
        (T0, *key(1).as_bytes()),
        (T0 + 5, *key(2).as_bytes()),
        (T0 + 5, *key(3).as_bytes()),
        (T0 - 3, *key(4).as_bytes()),
        (T0 + 100, *key(5).as_bytes()),
    ];
    entries.sort();
    assert_eq!(hand_built(DEDUPE_WINDOW, 16, &entries), bytes);
    // The empty set.
    let empty = DedupeSet::new(1, 1).unwrap();
    let bytes = empty.to_bytes();
    assert_eq!(bytes, hand_built(1, 1, &[]));
    assert_eq!(DedupeSet::from_bytes(&bytes).unwrap(), empty);
    // A restored set behaves like the original.
    let mut restored = DedupeSet::from_bytes(&sample_set().to_bytes()).unwrap();
    assert_eq!(restored.insert(key(2), T0 + 6).unwrap(), Seen::Duplicate);
    assert_eq!(restored.insert(key(9), T0 + 6).unwrap(), Seen::New);
}

#[test]
fn every_truncation_and_bit_flip_is_refused() {
    let bytes = sample_set().to_bytes();
    for len in 0..bytes.len() {
        let err = DedupeSet::from_bytes(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, DedupeError::Truncated | DedupeError::LengthMismatch),
            "cut at {len}: {err:?}"
        );
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(DedupeSet::from_bytes(&b).is_err(), "flip {i}.{bit}");
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        DedupeSet::from_bytes(&longer),
        Err(DedupeError::LengthMismatch)
    );
}

#[test]
fn flips_under_a_recomputed_checksum_are_refused_or_canonical() {
    // A writer that damages the content before the checksum (or a forger):
    // whatever is accepted is a valid set that serialises to the same bytes.
    let bytes = sample_set().to_bytes();
    let mut accepted = 0;
    for i in 0..bytes.len() - CHECK_LEN {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            reseal(&mut b);
            match DedupeSet::from_bytes(&b) {
                Ok(set) => {
                    accepted += 1;
                    assert_eq!(set.to_bytes(), b, "flip {i}.{bit}");
                    assert!(set.len() <= set.capacity());
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
    // Flips in the keys (mostly) and the window are valid sets.
    assert!(accepted > 5 * 32 * 8 / 2, "{accepted}");
}

#[test]
fn malformed_sets_get_their_own_errors() {
    let good = sample_set().to_bytes();
    let k1 = *key(1).as_bytes();
    let k2 = *key(2).as_bytes();
    let (lo, hi) = if k1 < k2 { (k1, k2) } else { (k2, k1) };
    let cases: Vec<(Vec<u8>, DedupeError)> = vec![
        (Vec::new(), DedupeError::Truncated),
        (b"CDD".to_vec(), DedupeError::Truncated),
        (b"CDDX\x01".to_vec(), DedupeError::BadMagic),
        (
            {
                let mut b = good.clone();
                b[4] = 2;
                b
            },
            DedupeError::UnsupportedVersion(2),
        ),
        (good[..HEADER_LEN - 1].to_vec(), DedupeError::Truncated),
        (hand_built(0, 4, &[]), DedupeError::InvalidWindow),
        (hand_built(-5, 4, &[]), DedupeError::InvalidWindow),
        (
            hand_built(10, 0, &[]),
            DedupeError::InvalidCapacity {
                max: MAX_DEDUPE_CAPACITY,
            },
        ),
        (
            hand_built(10, MAX_DEDUPE_CAPACITY as u64 + 1, &[]),
            DedupeError::InvalidCapacity {
                max: MAX_DEDUPE_CAPACITY,
            },
        ),
        (
            hand_built(10, u64::MAX, &[]),
            DedupeError::InvalidCapacity {
                max: MAX_DEDUPE_CAPACITY,
            },
        ),
        (
            hand_built(10, 1, &[(T0, lo), (T0 + 1, hi)]),
            DedupeError::CountExceedsCapacity,
        ),
        (
            hand_built(10, 4, &[(T0 + 1, lo), (T0, hi)]),
            DedupeError::OutOfOrder,
        ),
        (
            hand_built(10, 4, &[(T0, hi), (T0, lo)]),
            DedupeError::OutOfOrder,
        ),
        (
            hand_built(10, 4, &[(T0, lo), (T0, lo)]),
            DedupeError::DuplicateKey,
        ),
        (
            hand_built(10, 4, &[(T0, lo), (T0 + 1, lo)]),
            DedupeError::DuplicateKey,
        ),
        (
            {
                let mut b = good.clone();
                let last = b.len() - 1;
                b[last] ^= 1;
                b
            },
            DedupeError::ChecksumMismatch,
        ),
        (
            {
                // A count that lies (checksum recomputed): one more.
                let mut b = good.clone();
                b[28] += 1;
                reseal(&mut b);
                b
            },
            DedupeError::LengthMismatch,
        ),
        (
            {
                let mut b = hand_built(10, 4, &[]);
                b[21..29].copy_from_slice(&(MAX_DEDUPE_CAPACITY as u64 + 1).to_be_bytes());
                b
            },
            DedupeError::TooManyEntries {
                max: MAX_DEDUPE_CAPACITY,
            },
        ),
        (
            {
                let mut b = hand_built(10, 4, &[]);
                b[21..29].copy_from_slice(&u64::MAX.to_be_bytes());
                b
            },
            DedupeError::TooManyEntries {
                max: MAX_DEDUPE_CAPACITY,
            },
        ),
    ];
    for (i, (bytes, expected)) in cases.into_iter().enumerate() {
        assert_eq!(DedupeSet::from_bytes(&bytes), Err(expected), "case {i}");
    }
    // The entries in order are fine.
    assert!(DedupeSet::from_bytes(&hand_built(10, 4, &[(T0, hi), (T0 + 1, lo)])).is_ok());
    assert!(DedupeSet::from_bytes(&hand_built(10, 4, &[(T0, lo), (T0, hi)])).is_ok());
}

#[test]
fn dedupe_capacity_at_and_past_the_maximum() {
    assert_eq!(MAX_DEDUPE_CAPACITY, 1 << 20);
    let invalid = Err(DedupeError::InvalidCapacity {
        max: MAX_DEDUPE_CAPACITY,
    });
    assert_eq!(DedupeSet::new(0, DEDUPE_WINDOW), invalid);
    assert_eq!(
        DedupeSet::new(MAX_DEDUPE_CAPACITY + 1, DEDUPE_WINDOW),
        invalid
    );
    assert_eq!(DedupeSet::new(1, 0), Err(DedupeError::InvalidWindow));
    // At the limit: a full set of MAX_DEDUPE_CAPACITY keys, serialised in
    // the longest form there is, is read, refuses one key more and writes
    // the same bytes back.
    let entries: Vec<(i64, [u8; 32])> = (0..MAX_DEDUPE_CAPACITY as u64)
        .map(|i| {
            let mut k = [0u8; 32];
            k[24..].copy_from_slice(&i.to_be_bytes());
            (T0 + (i / 1024) as i64, k)
        })
        .collect();
    let bytes = hand_built(DEDUPE_WINDOW, MAX_DEDUPE_CAPACITY as u64, &entries);
    assert_eq!(bytes.len(), 41_943_101);
    assert_eq!(
        bytes.len(),
        HEADER_LEN + MAX_DEDUPE_CAPACITY * ENTRY_LEN + CHECK_LEN
    );
    let mut set = DedupeSet::from_bytes(&bytes).unwrap();
    assert_eq!(set.len(), MAX_DEDUPE_CAPACITY);
    let now = T0 + 1024;
    assert_eq!(
        set.insert(key(0), now),
        Err(DedupeError::Full {
            capacity: MAX_DEDUPE_CAPACITY
        })
    );
    let last = DedupeKey::from_bytes(entries[MAX_DEDUPE_CAPACITY - 1].1);
    assert_eq!(set.insert(last, now).unwrap(), Seen::Duplicate);
    assert!(set.to_bytes() == bytes);
    drop(set);
    // One past: a count of MAX_DEDUPE_CAPACITY + 1 is refused before the
    // length is even looked at.
    let mut past = bytes;
    past[21..29].copy_from_slice(&(MAX_DEDUPE_CAPACITY as u64 + 1).to_be_bytes());
    past.extend_from_slice(&[0; ENTRY_LEN]);
    assert_eq!(
        DedupeSet::from_bytes(&past),
        Err(DedupeError::TooManyEntries {
            max: MAX_DEDUPE_CAPACITY
        })
    );
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    /// Insert key `k` after moving the clock by `dt` (may go back).
    Insert { k: u8, dt: i64 },
    /// Remove key `k`.
    Remove { k: u8 },
    /// Evict after moving the clock by `dt`.
    Evict { dt: i64 },
    /// Serialise and restore.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12, -3i64..30).prop_map(|(k, dt)| Op::Insert { k, dt }),
        1 => (0u8..12).prop_map(|k| Op::Remove { k }),
        1 => (0i64..40).prop_map(|dt| Op::Evict { dt }),
        1 => Just(Op::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The set behaves as a plain map of key -> insert time with the
    /// documented rules: forget keys at least `window` seconds old, then
    /// Duplicate if held, Full if `capacity` are held, else New.
    #[test]
    fn the_set_agrees_with_a_simple_model(
        capacity in 1usize..8,
        window in 1i64..60,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut set = DedupeSet::new(capacity, window).unwrap();
        let mut model: HashMap<u8, i64> = HashMap::new();
        let keys: Vec<DedupeKey> = (0..12u32).map(key).collect();
        let mut now = T0;
        for op in ops {
            match op {
                Op::Insert { k, dt } => {
                    now += dt;
                    model.retain(|_, t| now - *t < window);
                    let expected = if model.contains_key(&k) {
                        Ok(Seen::Duplicate)
                    } else if model.len() >= capacity {
                        Err(DedupeError::Full { capacity })
                    } else {
                        model.insert(k, now);
                        Ok(Seen::New)
                    };
                    prop_assert_eq!(set.insert(keys[usize::from(k)], now), expected);
                }
                Op::Remove { k } => {
                    prop_assert_eq!(set.remove(&keys[usize::from(k)]), model.remove(&k).is_some());
                }
                Op::Evict { dt } => {
                    now += dt;
                    let before = model.len();
                    model.retain(|_, t| now - *t < window);
                    prop_assert_eq!(set.evict_expired(now), before - model.len());
                }
                Op::Restart => {
                    let bytes = set.to_bytes();
                    let back = DedupeSet::from_bytes(&bytes).unwrap();
                    prop_assert_eq!(back.to_bytes(), bytes);
                    prop_assert!(back == set);
                    set = back;
                }
            }
            prop_assert_eq!(set.len(), model.len());
            prop_assert_eq!(set.is_empty(), model.is_empty());
            for (i, k) in keys.iter().enumerate() {
                let held = model.get(&(i as u8)).is_some_and(|t| now - *t < window);
                prop_assert_eq!(set.contains(k, now), held);
            }
        }
    }

    /// Arbitrary bytes, and a valid set with arbitrary edits, never panic;
    /// whatever is accepted is canonical.
    #[test]
    fn from_bytes_never_panics(
        raw in prop::collection::vec(any::<u8>(), 0..400),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        reseal_it in any::<bool>(),
    ) {
        if let Ok(set) = DedupeSet::from_bytes(&raw) {
            prop_assert_eq!(set.to_bytes(), raw);
        }
        let mut b = sample_set().to_bytes();
        for (at, x) in edits {
            let i = at.index(b.len());
            b[i] ^= x;
        }
        b.truncate(b.len() - cut.index(8));
        if reseal_it && b.len() >= CHECK_LEN {
            reseal(&mut b);
        }
        if let Ok(set) = DedupeSet::from_bytes(&b) {
            prop_assert_eq!(set.to_bytes(), b);
        }
    }
}
