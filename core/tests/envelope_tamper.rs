//! Tamper evidence: every single-byte change, truncation, reordering,
//! duplication and extension of an envelope fails to open with a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::envelope::{
    self, EnvelopeError, OpenReader, SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE,
};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;

mod common;
use common::{labels, pattern, sealed_to_new_key};

/// Flip every byte (XOR `mask`) of `sealed` on `threads` threads and check
/// that none opens; returns how many errors of each kind were seen.
fn flip_every_byte(
    sealed: &[u8],
    key: &PrivateKey,
    mask: u8,
) -> std::collections::BTreeMap<String, usize> {
    let threads = 2;
    let chunk = sealed.len().div_ceil(threads);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut counts = std::collections::BTreeMap::<String, usize>::new();
                    let mut copy = sealed.to_vec();
                    let lo = t * chunk;
                    let hi = ((t + 1) * chunk).min(sealed.len());
                    for i in lo..hi {
                        copy[i] ^= mask;
                        match envelope::open(&copy, key) {
                            Ok(_) => panic!("envelope with byte {i} changed opened"),
                            Err(e) => {
                                let name = format!("{e:?}");
                                let name = name.split(['(', ' ', '{']).next().unwrap().to_owned();
                                *counts.entry(name).or_default() += 1;
                            }
                        }
                        copy[i] ^= mask;
                    }
                    counts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut total = std::collections::BTreeMap::new();
    for r in results {
        for (k, v) in r {
            *total.entry(k).or_insert(0) += v;
        }
    }
    total
}

#[test]
fn every_byte_of_a_message_envelope_is_protected() {
    let (_, key, sealed) = sealed_to_new_key(1, b"Bitte Termin am Montag");
    for mask in [0x01, 0x80, 0xff] {
        let counts = flip_every_byte(&sealed, &key, mask);
        assert_eq!(counts.values().sum::<usize>(), sealed.len());
        // Changes in the payload are caught by the segment tag, in the
        // header by the MAC, in the stanza by HPKE.
        assert!(counts.contains_key("SegmentCorrupted"), "{counts:?}");
        assert!(counts.contains_key("HeaderMacMismatch"), "{counts:?}");
        assert!(counts.contains_key("StanzaCorrupted"), "{counts:?}");
    }
}

#[test]
fn every_byte_of_a_three_segment_media_envelope_is_protected() {
    let plaintext = pattern(2 * SEGMENT_SIZE + 1000, 0);
    let (_, key, sealed) = sealed_to_new_key(2, &plaintext);
    let header_len = envelope::inspect(&sealed).unwrap().header_len;
    assert_eq!(
        sealed.len(),
        header_len + 2 * SEGMENT_CIPHERTEXT_SIZE + 1000 + 16
    );
    let counts = flip_every_byte(&sealed, &key, 0x01);
    assert_eq!(counts.values().sum::<usize>(), sealed.len());
    assert_eq!(
        counts.get("SegmentCorrupted"),
        Some(&(sealed.len() - header_len)),
        "{counts:?}"
    );
}

#[test]
fn truncation_at_every_segment_boundary_and_elsewhere_is_detected() {
    let plaintext = pattern(2 * SEGMENT_SIZE + 1000, 0);
    let (_, key, sealed) = sealed_to_new_key(3, &plaintext);
    let h = envelope::inspect(&sealed).unwrap().header_len;
    for k in 0..=2 {
        let cut = h + k * SEGMENT_CIPHERTEXT_SIZE;
        let err = envelope::open(&sealed[..cut], &key).unwrap_err();
        assert_eq!(err, EnvelopeError::Truncated, "cut at boundary {k}");
    }
    // Every cut inside the header, and a spread of cuts in the payload.
    for cut in (0..h).chain((h..sealed.len()).step_by(997)) {
        assert!(
            envelope::open(&sealed[..cut], &key).is_err(),
            "cut at {cut}"
        );
    }
    // Also the streaming reader reports truncation at a boundary.
    let cut = &sealed[..h + 2 * SEGMENT_CIPHERTEXT_SIZE];
    let mut r = envelope::OpenReader::new(cut, &key).unwrap();
    let mut out = Vec::new();
    let err = std::io::Read::read_to_end(&mut r, &mut out).unwrap_err();
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<EnvelopeError>())
        .unwrap();
    assert_eq!(inner, &EnvelopeError::Truncated);
}

#[test]
fn reordering_duplication_and_extension_are_detected() {
    let plaintext = pattern(3 * SEGMENT_SIZE, 0);
    let (_, key, sealed) = sealed_to_new_key(4, &plaintext);
    let h = envelope::inspect(&sealed).unwrap().header_len;
    let seg =
        |i: usize| &sealed[h + i * SEGMENT_CIPHERTEXT_SIZE..h + (i + 1) * SEGMENT_CIPHERTEXT_SIZE];
    let header = &sealed[..h];

    let swapped = [header, seg(1), seg(0), seg(2)].concat();
    assert_eq!(
        envelope::open(&swapped, &key).unwrap_err(),
        EnvelopeError::SegmentCorrupted { index: 0 }
    );
    let duplicated = [header, seg(0), seg(0), seg(1), seg(2)].concat();
    assert_eq!(
        envelope::open(&duplicated, &key).unwrap_err(),
        EnvelopeError::SegmentCorrupted { index: 1 }
    );
    let last_dropped_middle = [header, seg(0), seg(2)].concat();
    assert!(envelope::open(&last_dropped_middle, &key).is_err());

    let mut appended = sealed.clone();
    appended.push(0);
    assert!(envelope::open(&appended, &key).is_err());
    let repeated_last = [&sealed[..], seg(2)].concat();
    assert_eq!(
        envelope::open(&repeated_last, &key).unwrap_err(),
        EnvelopeError::TrailingData
    );
    let mut tag_only = sealed.clone();
    tag_only.extend_from_slice(&[0u8; 16]);
    assert_eq!(
        envelope::open(&tag_only, &key).unwrap_err(),
        EnvelopeError::TrailingData
    );
}

#[test]
fn wrong_key_gives_no_access_and_shredded_record_gives_key_shredded() {
    let mut rng = DeterministicRng::new(5);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let clerk = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let record = caduceus_core::keys::KeyringRecord::create(
        "p-7f3a91",
        "clinical-photos",
        &[practice.public_key(), doctor.public_key()],
        1_763_800_000,
        &mut rng,
    )
    .unwrap();
    let sealed = envelope::seal(&[record.public_key()], &labels(), b"Befund", &mut rng).unwrap();

    assert_eq!(
        envelope::open(&sealed, &doctor).unwrap_err(),
        EnvelopeError::NoAccess
    );
    assert_eq!(
        envelope::open_with_keyring(&sealed, &record, &doctor)
            .unwrap()
            .plaintext,
        b"Befund"
    );
    assert_eq!(
        envelope::open_with_keyring(&sealed, &record, &clerk).unwrap_err(),
        EnvelopeError::NoAccess
    );
    let shredded = record.shred(1_900_000_000);
    assert_eq!(
        envelope::open_with_keyring(&sealed, &shredded, &doctor).unwrap_err(),
        EnvelopeError::KeyShredded
    );
    // A record of another subject is not a recipient of this envelope.
    let other = caduceus_core::keys::KeyringRecord::create(
        "p-000001",
        "clinical-photos",
        &[doctor.public_key()],
        1_763_800_000,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        envelope::open_with_keyring(&sealed, &other, &doctor).unwrap_err(),
        EnvelopeError::NoAccess
    );
}

#[test]
fn strict_parsing_of_prefix_and_header() {
    let (_, _, sealed) = sealed_to_new_key(6, b"x");
    let mut v = sealed.clone();
    v[4] = 2;
    assert!(matches!(
        envelope::inspect(&v).unwrap_err(),
        EnvelopeError::MalformedHeader(m) if m.contains("version byte is damaged")
    ));
    let mut s = sealed.clone();
    s[5] = 7;
    assert_eq!(
        envelope::inspect(&s).unwrap_err(),
        EnvelopeError::UnsupportedSuite(7)
    );
    let mut m = sealed.clone();
    m[0] = b'X';
    assert_eq!(envelope::inspect(&m).unwrap_err(), EnvelopeError::BadMagic);
    let mut big = sealed.clone();
    big[6..10].copy_from_slice(&(16 * 1024 + 1u32).to_be_bytes());
    assert_eq!(
        envelope::inspect(&big).unwrap_err(),
        EnvelopeError::HeaderTooLarge
    );
    assert_eq!(
        envelope::inspect(&sealed[..9]).unwrap_err(),
        EnvelopeError::Truncated
    );

    // A non-canonical header: re-encode the body's first array header as
    // array16 (0xdc 0x00 0x04) instead of fixarray (0x94).
    let body_len = u32::from_be_bytes(sealed[6..10].try_into().unwrap()) as usize;
    assert_eq!(sealed[10], 0x94);
    let mut nc = sealed[..10].to_vec();
    nc[6..10].copy_from_slice(&((body_len + 2) as u32).to_be_bytes());
    nc.extend_from_slice(&[0xdc, 0x00, 0x04]);
    nc.extend_from_slice(&sealed[11..]);
    assert_eq!(
        envelope::inspect(&nc).unwrap_err(),
        EnvelopeError::NonCanonicalHeader
    );
}

/// A version-1 envelope whose version byte was damaged (every single-bit
/// flip, and 0) is reported as damaged through every way of reading it, and
/// never as a newer version that an upgrade would open (FORMAT.md 5.8 step 3).
#[test]
fn a_damaged_version_byte_does_not_ask_for_an_upgrade() {
    let (_, key, sealed) = sealed_to_new_key(8, b"Kontrolltermin");
    let header_len = envelope::inspect(&sealed).unwrap().header_len;
    let versions: Vec<u8> = (0..8)
        .map(|bit| 1u8 ^ (1 << bit))
        .chain([0, 2, 0xff])
        .collect();
    for v in versions {
        let mut bad = sealed.clone();
        bad[4] = v;
        let stream = OpenReader::new(&bad[..], &key).map(|_| ()).unwrap_err();
        for err in [
            envelope::inspect(&bad).unwrap_err(),
            envelope::inspect(&bad[..header_len]).unwrap_err(),
            envelope::open(&bad, &key).unwrap_err(),
            stream,
        ] {
            assert!(
                matches!(err, EnvelopeError::MalformedHeader(m) if m.contains("version byte is damaged")),
                "version {v}: {err:?}"
            );
            assert!(!err.to_string().contains("upgrade"), "version {v}: {err}");
        }
    }
    // The prefix alone cannot tell: it gives the length as version 1, except
    // for version 0, which never existed.
    let mut two = sealed.clone();
    two[4] = 2;
    assert_eq!(envelope::header_len_from_prefix(&two), Ok(header_len));
    let mut zero = sealed.clone();
    zero[4] = 0;
    assert!(matches!(
        envelope::header_len_from_prefix(&zero),
        Err(EnvelopeError::MalformedHeader(_))
    ));
}

/// An envelope of a newer version (its header is not a version-1 header)
/// is `UnsupportedVersion`, whose message asks for an upgrade.
#[test]
fn a_newer_version_asks_for_an_upgrade() {
    let (_, key, sealed) = sealed_to_new_key(9, b"x");
    let body_len = u32::from_be_bytes(sealed[6..10].try_into().unwrap()) as usize;
    assert_eq!(sealed[10], 0x94, "a version-1 body is an array of 4");
    // A body of another shape: an array of 5 (the v1 body plus one nil).
    let mut newer = sealed[..10].to_vec();
    newer[4] = 2;
    newer[6..10].copy_from_slice(&((body_len + 1) as u32).to_be_bytes());
    newer.push(0x95);
    newer.extend_from_slice(&sealed[11..10 + body_len]);
    newer.push(0xc0);
    newer.extend_from_slice(&sealed[10 + body_len..]);
    // Another suite, and a body longer than version 1 allows.
    let mut suite = sealed.clone();
    suite[4] = 2;
    suite[5] = 9;
    let mut long = sealed.clone();
    long[4] = 2;
    long[6..10].copy_from_slice(&(16 * 1024 + 1u32).to_be_bytes());
    for bytes in [&newer, &suite, &long] {
        for err in [
            envelope::inspect(bytes).unwrap_err(),
            envelope::open(bytes, &key).unwrap_err(),
        ] {
            assert_eq!(err, EnvelopeError::UnsupportedVersion(2));
            assert!(err.to_string().contains("upgrade Caduceus"));
        }
    }
    // A prefix that cannot be version 1 is refused by the prefix alone.
    assert_eq!(
        envelope::header_len_from_prefix(&suite),
        Err(EnvelopeError::UnsupportedVersion(2))
    );
    // Version 2 cut short of its version-1 length: not "truncated", since
    // a newer version may lay out its header differently.
    assert_eq!(
        envelope::inspect(&newer[..20]).unwrap_err(),
        EnvelopeError::UnsupportedVersion(2)
    );
}

#[test]
fn recipient_limits_at_and_past_the_maximum() {
    let mut rng = DeterministicRng::new(7);
    let keys: Vec<_> = (0..=envelope::MAX_RECIPIENTS)
        .map(|_| PrivateKey::generate(KeyKind::Staff, &mut rng).public_key())
        .collect();
    let max = &keys[..envelope::MAX_RECIPIENTS];
    let sealed = envelope::seal(max, &labels(), b"x", &mut rng).unwrap();
    assert_eq!(
        envelope::inspect(&sealed).unwrap().recipients.len(),
        envelope::MAX_RECIPIENTS
    );
    assert_eq!(
        envelope::seal(&keys, &labels(), b"x", &mut rng).unwrap_err(),
        EnvelopeError::TooManyRecipients
    );
    assert_eq!(
        envelope::seal(&[], &labels(), b"x", &mut rng).unwrap_err(),
        EnvelopeError::NoRecipients
    );
    assert_eq!(
        envelope::seal(&[keys[0], keys[0]], &labels(), b"x", &mut rng).unwrap_err(),
        EnvelopeError::DuplicateRecipient
    );
}

#[test]
fn low_order_ephemeral_keys_in_a_stanza_are_rejected() {
    let (mut rng, key, sealed) = sealed_to_new_key(8, b"x");
    // The stanza is [bin16 key id, bin32 enc, bin48 wrapped]: locate `enc`.
    let mut needle = vec![0x93, 0xc4, 0x10];
    needle.extend_from_slice(key.key_id().as_bytes());
    needle.extend_from_slice(&[0xc4, 0x20]);
    let at = sealed
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
        + needle.len();
    // Low-order points of Curve25519 (all-zero shared secret for any key).
    let mut one = [0u8; 32];
    one[0] = 1;
    let order8 =
        hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800").unwrap();
    for point in [[0u8; 32].to_vec(), one.to_vec(), order8] {
        let mut bad = sealed.clone();
        bad[at..at + 32].copy_from_slice(&point);
        assert_eq!(
            envelope::open(&bad, &key).unwrap_err(),
            EnvelopeError::StanzaCorrupted
        );
        let enc: [u8; 32] = point.as_slice().try_into().unwrap();
        assert_eq!(
            caduceus_core::suite::hpke_open(key.secret_bytes(), &enc, b"", b"", &[0u8; 48])
                .unwrap_err(),
            caduceus_core::suite::SuiteError::ZeroSharedSecret
        );
        // And sealing to such a point is refused.
        assert_eq!(
            caduceus_core::suite::hpke_seal(&enc, b"", b"", b"k", &mut rng).unwrap_err(),
            caduceus_core::suite::SuiteError::ZeroSharedSecret
        );
    }
}
