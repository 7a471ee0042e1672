//! Round trips: one-shot, streaming, random access, rewrap and envelope sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};

use caduceus_core::envelope::{
    self, EnvelopeError, Labels, OpenReader, PartSet, SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE,
    SealWriter,
};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;

mod common;
use common::{labels, pattern, sealed_to_new_key};
use proptest::prelude::*;

/// Sizes around every boundary the format has.
fn interesting_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(SEGMENT_SIZE - 1),
        Just(SEGMENT_SIZE),
        Just(SEGMENT_SIZE + 1),
        Just(2 * SEGMENT_SIZE),
        Just(2 * SEGMENT_SIZE + 1),
        0usize..4 * SEGMENT_SIZE,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn open_of_seal_is_identity(len in interesting_size(), seed in any::<u64>(), fill in any::<u8>()) {
        let mut rng = DeterministicRng::new(seed);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let pt = pattern(len, fill);
        let sealed = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng).unwrap();
        let segments = len.div_ceil(SEGMENT_SIZE).max(1);
        let header_len = envelope::inspect(&sealed).unwrap().header_len;
        prop_assert_eq!(sealed.len(), header_len + len + 16 * segments);
        let opened = envelope::open(&sealed, &key).unwrap();
        prop_assert_eq!(&opened.plaintext, &pt);
        prop_assert_eq!(opened.header.labels, labels());
    }

    #[test]
    fn streaming_agrees_with_one_shot(len in interesting_size(), seed in any::<u64>(), write_chunk in 1usize..100_000, read_chunk in 1usize..100_000) {
        let mut rng_a = DeterministicRng::new(seed);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng_a);
        let mut rng_b = rng_a.clone();
        let pt = pattern(len, 7);
        let one_shot = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng_a).unwrap();
        let mut w = SealWriter::new(Vec::new(), &[key.public_key()], &labels(), None, &mut rng_b).unwrap();
        for chunk in pt.chunks(write_chunk) {
            w.write_all(chunk).unwrap();
        }
        let streamed = w.finish().unwrap();
        // Same randomness, same bytes: streaming is the same format.
        prop_assert_eq!(&streamed, &one_shot);
        let mut r = OpenReader::new(&streamed[..], &key).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; read_chunk];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 { break; }
            out.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(out, pt);
    }

    #[test]
    fn random_access_agrees_with_sequential(len in interesting_size(), seed in any::<u64>()) {
        let mut rng = DeterministicRng::new(seed);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let pt = pattern(len, 3);
        let sealed = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng).unwrap();
        let unlocked = envelope::unlock(&sealed, &key).unwrap();
        let layout = unlocked.layout(sealed.len() as u64).unwrap();
        prop_assert_eq!(layout.count(), len.div_ceil(SEGMENT_SIZE).max(1) as u64);
        prop_assert_eq!(layout.plaintext_len(), len as u64);
        // Open segments in reverse order, each on its own.
        let mut joined = vec![Vec::new(); layout.count() as usize];
        for i in (0..layout.count()).rev() {
            let seg = envelope::open_segment(&sealed, &key, i).unwrap();
            let start = i as usize * SEGMENT_SIZE;
            prop_assert_eq!(&seg[..], &pt[start..(start + SEGMENT_SIZE).min(len)]);
            joined[i as usize] = seg;
        }
        prop_assert_eq!(joined.concat(), pt);
        prop_assert_eq!(
            envelope::open_segment(&sealed, &key, layout.count()).unwrap_err(),
            EnvelopeError::SegmentOutOfRange
        );
    }

    #[test]
    fn rewrap_preserves_plaintext_and_payload_bytes(len in interesting_size(), seed in any::<u64>()) {
        let mut rng = DeterministicRng::new(seed);
        let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let pt = pattern(len, 9);
        let sealed = envelope::seal(&[practice.public_key()], &labels(), &pt, &mut rng).unwrap();
        let old_h = envelope::inspect(&sealed).unwrap().header_len;

        let added = envelope::rewrap(&sealed, &practice, &[doctor.public_key()], &[], &mut rng).unwrap();
        let new_h = envelope::inspect(&added).unwrap().header_len;
        prop_assert_eq!(&added[new_h..], &sealed[old_h..]);
        prop_assert_eq!(&envelope::open(&added, &doctor).unwrap().plaintext, &pt);
        prop_assert_eq!(&envelope::open(&added, &practice).unwrap().plaintext, &pt);

        let removed = envelope::rewrap(&added, &doctor, &[], &[practice.key_id()], &mut rng).unwrap();
        let rem_h = envelope::inspect(&removed).unwrap().header_len;
        prop_assert_eq!(&removed[rem_h..], &sealed[old_h..]);
        prop_assert_eq!(envelope::open(&removed, &practice).unwrap_err(), EnvelopeError::NoAccess);
        prop_assert_eq!(&envelope::open(&removed, &doctor).unwrap().plaintext, &pt);
        prop_assert_eq!(envelope::inspect(&removed).unwrap().recipients, vec![doctor.key_id()]);
    }
}

#[test]
fn rewrap_refuses_to_remove_every_recipient_and_unknown_ids() {
    let mut rng = DeterministicRng::new(10);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let stranger = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let sealed = envelope::seal(&[practice.public_key()], &labels(), b"x", &mut rng).unwrap();
    assert_eq!(
        envelope::rewrap(&sealed, &practice, &[], &[practice.key_id()], &mut rng).unwrap_err(),
        EnvelopeError::NoRecipients
    );
    // An id that is not a recipient is named as such, not as "no access".
    assert_eq!(
        envelope::rewrap(&sealed, &practice, &[], &[stranger.key_id()], &mut rng).unwrap_err(),
        EnvelopeError::NotARecipient
    );
    assert_eq!(
        envelope::rewrap(&sealed, &stranger, &[stranger.public_key()], &[], &mut rng).unwrap_err(),
        EnvelopeError::NoAccess
    );
    assert_eq!(
        envelope::rewrap(&sealed, &practice, &[practice.public_key()], &[], &mut rng).unwrap_err(),
        EnvelopeError::DuplicateRecipient
    );
}

#[test]
fn rewrap_never_removes_the_last_practice_recipient() {
    let mut rng = DeterministicRng::new(12);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let new_practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let staff = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let sealed = envelope::seal(
        &[practice.public_key(), staff.public_key()],
        &labels(),
        b"x",
        &mut rng,
    )
    .unwrap();
    let pid = [practice.key_id()];
    // A staff key that names the practice key cannot remove it...
    let staff_unlocked = envelope::unlock(&sealed, &staff).unwrap();
    assert_eq!(
        staff_unlocked
            .rewrap_keeping(&[], &pid, &pid, &mut rng)
            .unwrap_err(),
        EnvelopeError::LastPracticeRecipient
    );
    // ...nor can the practice remove itself, unlocking with its own key.
    assert_eq!(
        envelope::rewrap(&sealed, &practice, &[], &pid, &mut rng).unwrap_err(),
        EnvelopeError::LastPracticeRecipient
    );
    // Rotating the practice key (add the new one, remove the old) works.
    let rotated = envelope::rewrap(
        &sealed,
        &practice,
        &[new_practice.public_key()],
        &pid,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        envelope::open(&rotated, &new_practice).unwrap().plaintext,
        b"x"
    );
    assert_eq!(
        envelope::open(&rotated, &practice).unwrap_err(),
        EnvelopeError::NoAccess
    );
    // Removing a staff key is still allowed.
    let staff_id = [staff.key_id()];
    let without_staff = staff_unlocked
        .rewrap_keeping(&[], &staff_id, &pid, &mut rng)
        .unwrap();
    assert!(envelope::inspect(&without_staff).unwrap().recipients == pid);
}

#[test]
fn push_apis_accept_any_chunking() {
    let pt = pattern(3 * SEGMENT_SIZE + 5, 1);
    let (_, key, sealed) = sealed_to_new_key(11, &pt);
    let unlocked = envelope::unlock(&sealed, &key).unwrap();
    let payload = &sealed[unlocked.header().header_len..];
    for chunk in [
        1usize,
        15,
        16,
        17,
        SEGMENT_CIPHERTEXT_SIZE,
        SEGMENT_CIPHERTEXT_SIZE + 1,
        usize::MAX,
    ] {
        let mut opener = unlocked.payload_opener();
        let mut out = Vec::new();
        if chunk == usize::MAX {
            opener.push(payload, &mut out).unwrap();
        } else {
            for c in payload.chunks(chunk) {
                opener.push(c, &mut out).unwrap();
                // Never more plaintext than authenticated segments.
                assert_eq!(out.len() % SEGMENT_SIZE, 0);
            }
        }
        opener.finish(&mut out).unwrap();
        assert_eq!(out, pt, "chunk {chunk}");
    }
}

#[test]
fn envelope_sets_report_missing_parts() {
    let mut rng = DeterministicRng::new(12);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let parts: [&[u8]; 3] = [b"Teil eins. ", b"Teil zwei. ", b"Teil drei."];
    let sealed = envelope::seal_parts(&[key.public_key()], &labels(), &parts, &mut rng).unwrap();
    assert_eq!(sealed.len(), 3);
    for (i, s) in sealed.iter().enumerate() {
        let part = envelope::inspect(s).unwrap().part.unwrap();
        assert_eq!((part.index, part.count), (i as u32 + 1, 3));
    }
    let mut set = PartSet::new();
    set.add(envelope::open(&sealed[2], &key).unwrap()).unwrap();
    set.add(envelope::open(&sealed[0], &key).unwrap()).unwrap();
    assert_eq!(set.missing(), vec![2]);
    assert!(!set.is_complete());
    assert!(set.assemble().is_err());
    assert!(set.add(envelope::open(&sealed[0], &key).unwrap()).is_err());
    // A part of another set is refused.
    let other = envelope::seal_parts(&[key.public_key()], &labels(), &parts, &mut rng).unwrap();
    assert!(set.add(envelope::open(&other[1], &key).unwrap()).is_err());
    // A single envelope is not part of a set.
    let single = envelope::seal(&[key.public_key()], &labels(), b"x", &mut rng).unwrap();
    assert!(set.add(envelope::open(&single, &key).unwrap()).is_err());
    set.add(envelope::open(&sealed[1], &key).unwrap()).unwrap();
    assert!(set.is_complete());
    assert_eq!(set.assemble().unwrap(), parts.concat());
    assert!(envelope::seal_parts(&[key.public_key()], &labels(), &[], &mut rng).is_err());
}

#[test]
fn invalid_labels_are_refused() {
    for (s, c, p, t) in [
        ("", "c", "p", "t"),
        ("Max Mustermann, geb. 01.01.1970\n", "c", "p", "t"),
        ("p-1", &"c".repeat(129)[..], "p", "t"),
        ("p-1", "c", "Behandlung für Zahnschmerzen", "t"),
        ("p-1", "c", "p", " t"),
    ] {
        assert!(matches!(
            Labels::new(s, c, p, t, 0),
            Err(EnvelopeError::InvalidLabel(_))
        ));
    }
}

#[test]
fn opened_debug_does_not_print_plaintext() {
    let (_, key, sealed) = sealed_to_new_key(13, b"Diagnose: Karies");
    let opened = envelope::open(&sealed, &key).unwrap();
    let dbg = format!("{opened:?}");
    assert!(!dbg.contains("Karies"));
    assert!(dbg.contains("REDACTED"));
    let unlocked = envelope::unlock(&sealed, &key).unwrap();
    assert!(!format!("{unlocked:?}").contains("payload_key"));
}

/// Inputs beyond 4 GiB seal and open in one segment of memory: the sealer's
/// output is piped straight into the opener, nothing is stored.
#[test]
fn more_than_four_gib_stream_through_bounded_memory() {
    let mut rng = DeterministicRng::new(14);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let (header, mut sealer) =
        envelope::begin_seal(&[key.public_key()], &labels(), None, &mut rng).unwrap();
    let unlocked = envelope::unlock(&header, &key).unwrap();
    let mut opener = unlocked.payload_opener();
    let total: u64 = (4u64 << 30) + 3;
    let block = pattern(SEGMENT_SIZE, 5);
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut ct = Vec::with_capacity(2 * SEGMENT_CIPHERTEXT_SIZE);
    let mut pt = Vec::with_capacity(2 * SEGMENT_SIZE);
    let mut mismatches = 0u64;
    while sent < total {
        let n = ((total - sent) as usize).min(block.len());
        sealer.push(&block[..n], &mut ct).unwrap();
        sent += n as u64;
        opener.push(&ct, &mut pt).unwrap();
        assert!(ct.len() <= SEGMENT_CIPHERTEXT_SIZE);
        ct.clear();
        // Segments are whole and aligned, so each is a prefix of `block`.
        assert_eq!(received % SEGMENT_SIZE as u64, 0);
        for seg in pt.chunks(SEGMENT_SIZE) {
            if seg != &block[..seg.len()] {
                mismatches += 1;
            }
        }
        received += pt.len() as u64;
        pt.clear();
    }
    sealer.finish(&mut ct).unwrap();
    opener.push(&ct, &mut pt).unwrap();
    opener.finish(&mut pt).unwrap();
    received += pt.len() as u64;
    assert_eq!(received, total);
    assert_eq!(mismatches, 0);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<PrivateKey>();
    check::<caduceus_core::keys::PublicKey>();
    check::<caduceus_core::keys::KeyringRecord>();
    check::<envelope::Unlocked>();
    check::<envelope::PayloadSealer>();
    check::<envelope::PayloadOpener>();
    check::<envelope::Opened>();
    check::<envelope::Header>();
    check::<EnvelopeError>();
    check::<caduceus_core::keys::KeyError>();
}

/// Regression: a payload length near `u64::MAX` (from a host's file size)
/// must give ranges, never an arithmetic overflow.
#[test]
fn segment_layout_at_the_largest_lengths_does_not_overflow() {
    let layout = envelope::SegmentLayout::new(u64::MAX).unwrap();
    let last = layout.count() - 1;
    let range = layout.segment_range(last).unwrap();
    assert_eq!(range.end, u64::MAX);
    assert!(range.start < range.end);
    assert_eq!(
        layout.segment_range(layout.count()).unwrap_err(),
        EnvelopeError::SegmentOutOfRange
    );
}
