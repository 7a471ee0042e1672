//! The zero-copy, in-place segment API: same bytes as the copying API,
//! typed errors for every misuse, and no plaintext after a failed open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;

use caduceus_core::envelope::{
    self, EnvelopeError, OpenReader, PayloadOpener, PayloadSealer, SEGMENT_CIPHERTEXT_SIZE,
    SEGMENT_SIZE, SegmentError, SegmentLayout, TAG_LEN,
};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;

mod common;
use common::{labels, pattern};

const SIZES: [usize; 6] = [
    0,
    1,
    SEGMENT_SIZE - 1,
    SEGMENT_SIZE,
    SEGMENT_SIZE + 1,
    3 * SEGMENT_SIZE + 5,
];

/// A key, and two RNGs in the same state (one for each API under test).
fn setup(seed: u64) -> (PrivateKey, DeterministicRng, DeterministicRng) {
    let mut rng = DeterministicRng::new(seed);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let twin = rng.clone();
    (key, rng, twin)
}

fn begin(key: &PrivateKey, rng: &mut DeterministicRng) -> (Vec<u8>, PayloadSealer) {
    envelope::begin_seal(&[key.public_key()], &labels(), None, rng).unwrap()
}

/// Seal `plaintext` segment by segment with `seal_segment_in_place`.
fn seal_in_place(key: &PrivateKey, rng: &mut DeterministicRng, plaintext: &[u8]) -> Vec<u8> {
    let (mut out, mut sealer) = begin(key, rng);
    let mut buf = plaintext.to_vec();
    if buf.is_empty() {
        let tag = sealer.seal_segment_in_place(&mut [], true).unwrap();
        out.extend_from_slice(&tag);
        return out;
    }
    let count = buf.len().div_ceil(SEGMENT_SIZE);
    for (i, segment) in buf.chunks_mut(SEGMENT_SIZE).enumerate() {
        let tag = sealer
            .seal_segment_in_place(segment, i + 1 == count)
            .unwrap();
        out.extend_from_slice(segment);
        out.extend_from_slice(&tag);
    }
    out
}

/// Open the payload of `sealed` segment by segment with
/// `open_segment_in_place`.
fn open_in_place(key: &PrivateKey, sealed: &[u8]) -> Vec<u8> {
    let unlocked = envelope::unlock(sealed, key).unwrap();
    let h = unlocked.header().header_len;
    let layout = unlocked.layout(sealed.len() as u64).unwrap();
    let mut payload = sealed[h..].to_vec();
    let mut opener = unlocked.payload_opener();
    let mut plaintext = Vec::new();
    for i in 0..layout.count() {
        let r = layout.segment_range(i).unwrap();
        let stored = &mut payload[r.start as usize..r.end as usize];
        let (body, tag) = stored.split_at_mut(stored.len() - TAG_LEN);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().unwrap();
        opener
            .open_segment_in_place(body, tag, i + 1 == layout.count())
            .unwrap();
        plaintext.extend_from_slice(body);
    }
    plaintext
}

fn payload_of(sealed: &[u8]) -> &[u8] {
    &sealed[envelope::inspect(sealed).unwrap().header_len..]
}

#[test]
fn in_place_seal_is_byte_identical_to_seal() {
    for (n, len) in SIZES.into_iter().enumerate() {
        let pt = pattern(len, n as u8);
        let (key, mut rng_a, mut rng_b) = setup(100 + n as u64);
        let copying = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng_a).unwrap();
        let in_place = seal_in_place(&key, &mut rng_b, &pt);
        assert_eq!(in_place, copying, "size {len}");
        assert_eq!(envelope::open(&in_place, &key).unwrap().plaintext, pt);
    }
}

#[test]
fn framed_payload_seal_is_byte_identical_to_seal() {
    for (n, len) in SIZES.into_iter().enumerate() {
        let pt = pattern(len, n as u8);
        let (key, mut rng_a, mut rng_b) = setup(200 + n as u64);
        let copying = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng_a).unwrap();
        let layout = SegmentLayout::for_plaintext(len as u64).unwrap();
        assert_eq!(layout.payload_len(), payload_of(&copying).len() as u64);
        assert_eq!(layout.plaintext_len(), len as u64);
        let mut payload = vec![0u8; layout.payload_len() as usize];
        for (i, chunk) in pt.chunks(SEGMENT_SIZE).enumerate() {
            let start = layout.segment_range(i as u64).unwrap().start as usize;
            payload[start..start + chunk.len()].copy_from_slice(chunk);
        }
        let (header, sealer) = begin(&key, &mut rng_b);
        sealer.seal_payload_in_place(&mut payload).unwrap();
        assert_eq!([header, payload].concat(), copying, "size {len}");
    }
}

#[test]
fn mixing_at_segment_boundaries_is_byte_identical() {
    let len = 3 * SEGMENT_SIZE + 5;
    let pt = pattern(len, 9);
    let (key, mut rng_a, mut rng_b) = setup(300);
    let copying = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng_a).unwrap();
    // In place first, then push and finish for the rest.
    let (mut out, mut sealer) = begin(&key, &mut rng_b);
    let mut first = pt[..SEGMENT_SIZE].to_vec();
    let tag = sealer.seal_segment_in_place(&mut first, false).unwrap();
    out.extend_from_slice(&first);
    out.extend_from_slice(&tag);
    sealer.push(&pt[SEGMENT_SIZE..], &mut out).unwrap();
    sealer.finish(&mut out).unwrap();
    assert_eq!(out, copying);
    // Same on the open side: in place, then push and finish.
    let unlocked = envelope::unlock(&copying, &key).unwrap();
    let mut opener = unlocked.payload_opener();
    let payload = payload_of(&copying);
    let mut seg0 = payload[..SEGMENT_CIPHERTEXT_SIZE].to_vec();
    let (body, tag) = seg0.split_at_mut(SEGMENT_SIZE);
    opener
        .open_segment_in_place(body, (&*tag).try_into().unwrap(), false)
        .unwrap();
    let mut plain = body.to_vec();
    opener
        .push(&payload[SEGMENT_CIPHERTEXT_SIZE..], &mut plain)
        .unwrap();
    opener.finish(&mut plain).unwrap();
    assert_eq!(plain, pt);
}

#[test]
fn in_place_open_agrees_with_open() {
    for (n, len) in SIZES.into_iter().enumerate() {
        let pt = pattern(len, n as u8);
        let (key, mut rng, _) = setup(400 + n as u64);
        let sealed = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng).unwrap();
        assert_eq!(open_in_place(&key, &sealed), pt, "size {len}");
        assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, pt);
    }
}

#[test]
fn reader_and_writer_agree_with_one_shot() {
    for (n, len) in SIZES.into_iter().enumerate() {
        let pt = pattern(len, n as u8);
        let (key, mut rng_a, mut rng_b) = setup(500 + n as u64);
        let copying = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng_a).unwrap();
        let mut w =
            envelope::SealWriter::new(Vec::new(), &[key.public_key()], &labels(), None, &mut rng_b)
                .unwrap();
        std::io::Write::write_all(&mut w, &pt).unwrap();
        assert_eq!(w.finish().unwrap(), copying, "size {len}");
        let mut r = OpenReader::new(&copying[..], &key).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, pt, "size {len}");
    }
}

#[test]
fn sealer_misuse_is_a_typed_error_and_changes_nothing() {
    let pt = pattern(2 * SEGMENT_SIZE + 7, 1);
    let (key, mut rng_a, mut rng_b) = setup(600);
    let copying = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng_a).unwrap();
    let (mut out, mut sealer) = begin(&key, &mut rng_b);

    // A short or long segment that is not the last, a long last one.
    for (len, last) in [
        (0, false),
        (1, false),
        (SEGMENT_SIZE - 1, false),
        (SEGMENT_SIZE + 1, false),
        (SEGMENT_SIZE + 1, true),
    ] {
        let mut seg = pattern(len, 2);
        assert_eq!(
            sealer.seal_segment_in_place(&mut seg, last),
            Err(SegmentError::BadSegmentLength { len }),
            "len {len} last {last}"
        );
        assert_eq!(seg, pattern(len, 2), "untouched");
    }

    // Two full segments, then an empty final segment (only an empty
    // payload may end that way).
    for i in 0..2 {
        let mut seg = pt[i * SEGMENT_SIZE..(i + 1) * SEGMENT_SIZE].to_vec();
        let tag = sealer.seal_segment_in_place(&mut seg, false).unwrap();
        out.extend_from_slice(&seg);
        out.extend_from_slice(&tag);
    }
    assert_eq!(
        sealer.seal_segment_in_place(&mut [], true),
        Err(SegmentError::EmptyFinalSegment)
    );

    // `push` holding part of a segment.
    let mut side = Vec::new();
    let mut pushed = {
        let (_, mut s) = begin(&key, &mut DeterministicRng::new(1));
        s.push(b"abc", &mut side).unwrap();
        s
    };
    let mut seg = vec![0u8; SEGMENT_SIZE];
    assert_eq!(
        pushed.seal_segment_in_place(&mut seg, false),
        Err(SegmentError::PushBuffered)
    );
    assert_eq!(
        pushed.seal_segment_in_place(&mut seg[..3], true),
        Err(SegmentError::PushBuffered)
    );
    assert!(seg.iter().all(|&b| b == 0), "untouched");

    // None of the errors disturbed the sealer: the envelope is still right.
    let mut last = pt[2 * SEGMENT_SIZE..].to_vec();
    let tag = sealer.seal_segment_in_place(&mut last, true).unwrap();
    out.extend_from_slice(&last);
    out.extend_from_slice(&tag);
    assert_eq!(out, copying);

    // Anything after the final segment.
    let mut more = vec![0u8; SEGMENT_SIZE];
    assert_eq!(
        sealer.seal_segment_in_place(&mut more, false),
        Err(SegmentError::AfterFinalSegment)
    );
    assert_eq!(
        sealer.seal_segment_in_place(&mut more[..5], true),
        Err(SegmentError::AfterFinalSegment)
    );
    let mut v = Vec::new();
    assert_eq!(sealer.push(b"x", &mut v), Err(EnvelopeError::TrailingData));
    assert_eq!(sealer.push(b"", &mut v), Err(EnvelopeError::TrailingData));
    assert!(v.is_empty());
    assert_eq!(sealer.finish(&mut v), Err(EnvelopeError::TrailingData));
    assert!(v.is_empty());
}

#[test]
fn framed_payload_misuse_is_a_typed_error() {
    let (key, mut rng, _) = setup(700);
    let full = SEGMENT_CIPHERTEXT_SIZE;
    // Lengths no payload has: shorter than a tag, a final segment shorter
    // than its tag, an empty final segment after a full one.
    for len in [
        0,
        1,
        TAG_LEN - 1,
        full + 1,
        full + TAG_LEN - 1,
        full + TAG_LEN,
    ] {
        let (_, sealer) = begin(&key, &mut rng);
        let mut payload = pattern(len, 4);
        assert_eq!(
            sealer.seal_payload_in_place(&mut payload),
            Err(SegmentError::BadPayloadLength { len }),
            "len {len}"
        );
        assert_eq!(payload, pattern(len, 4), "untouched");
    }
    // An empty payload after segments already sealed.
    let (_, mut sealer) = begin(&key, &mut rng);
    sealer
        .seal_segment_in_place(&mut vec![0u8; SEGMENT_SIZE], false)
        .unwrap();
    assert_eq!(
        sealer.seal_payload_in_place(&mut [0u8; TAG_LEN]),
        Err(SegmentError::BadPayloadLength { len: TAG_LEN })
    );
    // After the final segment, and with bytes buffered by push.
    let (_, mut sealer) = begin(&key, &mut rng);
    sealer.seal_segment_in_place(&mut [1, 2], true).unwrap();
    assert_eq!(
        sealer.seal_payload_in_place(&mut [0u8; 20]),
        Err(SegmentError::AfterFinalSegment)
    );
    let (_, mut sealer) = begin(&key, &mut rng);
    sealer.push(&[1, 2, 3], &mut Vec::new()).unwrap();
    assert_eq!(
        sealer.seal_payload_in_place(&mut [0u8; 20]),
        Err(SegmentError::PushBuffered)
    );
}

/// An opener for an envelope of `segments` full segments plus 5 bytes.
fn sealed_envelope(seed: u64) -> (PrivateKey, Vec<u8>, Vec<u8>, PayloadOpener) {
    let pt = pattern(2 * SEGMENT_SIZE + 5, 3);
    let (key, mut rng, _) = setup(seed);
    let sealed = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng).unwrap();
    let opener = envelope::unlock(&sealed, &key).unwrap().payload_opener();
    (key, pt, sealed, opener)
}

/// Segment `i` of the envelope's payload: (ciphertext, tag).
fn segment(sealed: &[u8], i: usize) -> (Vec<u8>, [u8; TAG_LEN]) {
    let payload = payload_of(sealed);
    let stored = &payload
        [i * SEGMENT_CIPHERTEXT_SIZE..((i + 1) * SEGMENT_CIPHERTEXT_SIZE).min(payload.len())];
    let (body, tag) = stored.split_at(stored.len() - TAG_LEN);
    (body.to_vec(), tag.try_into().unwrap())
}

#[test]
fn opener_misuse_is_a_typed_error_and_changes_nothing() {
    let (_, pt, sealed, mut opener) = sealed_envelope(800);
    let (mut s0, t0) = segment(&sealed, 0);
    let tag = [0u8; TAG_LEN];
    for (len, last) in [
        (0, false),
        (SEGMENT_SIZE - 1, false),
        (SEGMENT_SIZE + 1, false),
        (SEGMENT_SIZE + 1, true),
    ] {
        let mut seg = pattern(len, 2);
        assert_eq!(
            opener.open_segment_in_place(&mut seg, &tag, last),
            Err(SegmentError::BadSegmentLength { len })
        );
        assert_eq!(seg, pattern(len, 2));
    }
    // `push` holding part of a segment.
    let (_, _, _, mut pushed) = sealed_envelope(800);
    pushed
        .push(&payload_of(&sealed)[..100], &mut Vec::new())
        .unwrap();
    let mut copy = s0.clone();
    assert_eq!(
        pushed.open_segment_in_place(&mut copy, &t0, false),
        Err(SegmentError::PushBuffered)
    );
    assert_eq!(copy, s0, "still ciphertext");

    // The errors changed nothing: the envelope still opens in place.
    opener.open_segment_in_place(&mut s0, &t0, false).unwrap();
    assert_eq!(s0, pt[..SEGMENT_SIZE]);
    let (mut s1, t1) = segment(&sealed, 1);
    opener.open_segment_in_place(&mut s1, &t1, false).unwrap();
    // An empty final segment after full ones is an envelope error.
    assert_eq!(
        opener.open_segment_in_place(&mut [], &tag, true),
        Err(SegmentError::Envelope(EnvelopeError::TrailingData))
    );
    let (mut s2, t2) = segment(&sealed, 2);
    opener.open_segment_in_place(&mut s2, &t2, true).unwrap();
    assert_eq!(s2, pt[2 * SEGMENT_SIZE..]);

    // Anything after the final segment.
    let (mut again, t) = segment(&sealed, 2);
    assert_eq!(
        opener.open_segment_in_place(&mut again, &t, true),
        Err(SegmentError::AfterFinalSegment)
    );
    assert_eq!(again, segment(&sealed, 2).0);
    let mut v = Vec::new();
    assert_eq!(opener.push(b"x", &mut v), Err(EnvelopeError::TrailingData));
    assert_eq!(opener.finish(&mut v), Err(EnvelopeError::TrailingData));
    assert!(v.is_empty());
}

#[test]
fn failed_open_in_place_leaves_the_ciphertext() {
    let (_, pt, sealed, mut opener) = sealed_envelope(900);
    let (mut s0, t0) = segment(&sealed, 0);
    opener.open_segment_in_place(&mut s0, &t0, false).unwrap();
    assert_eq!(s0, pt[..SEGMENT_SIZE]);

    let (good, t1) = segment(&sealed, 1);
    let check = |opener: &mut PayloadOpener,
                 mut body: Vec<u8>,
                 tag: [u8; TAG_LEN],
                 last: bool,
                 want: EnvelopeError| {
        let before = body.clone();
        assert_eq!(
            opener.open_segment_in_place(&mut body, &tag, last),
            Err(SegmentError::Envelope(want))
        );
        assert_eq!(body, before, "the buffer still holds the ciphertext");
        assert_ne!(
            body[..64],
            pt[SEGMENT_SIZE..SEGMENT_SIZE + 64],
            "no plaintext"
        );
    };
    // A flipped ciphertext bit, a flipped tag bit, another segment.
    for pos in [0, 1000, SEGMENT_SIZE - 1] {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        check(
            &mut opener,
            bad,
            t1,
            false,
            EnvelopeError::SegmentCorrupted { index: 1 },
        );
    }
    let mut bad_tag = t1;
    bad_tag[TAG_LEN - 1] ^= 0x80;
    check(
        &mut opener,
        good.clone(),
        bad_tag,
        false,
        EnvelopeError::SegmentCorrupted { index: 1 },
    );
    let (other, t_other) = segment(&sealed, 0);
    check(
        &mut opener,
        other,
        t_other,
        false,
        EnvelopeError::SegmentCorrupted { index: 1 },
    );
    // A middle segment given as the last: the stream was cut there.
    check(
        &mut opener,
        good.clone(),
        t1,
        true,
        EnvelopeError::Truncated,
    );

    // The opener is unchanged: the genuine segment still opens, and the
    // final segment given as a middle one means bytes were appended.
    let mut body = good;
    opener.open_segment_in_place(&mut body, &t1, false).unwrap();
    assert_eq!(body, pt[SEGMENT_SIZE..2 * SEGMENT_SIZE]);
    let (mut s2, t2) = segment(&sealed, 2);
    let before = s2.clone();
    assert_eq!(
        opener.open_segment_in_place(&mut s2, &t2, false),
        Err(SegmentError::BadSegmentLength { len: 5 })
    );
    assert_eq!(s2, before);
    opener.open_segment_in_place(&mut s2, &t2, true).unwrap();
    assert_eq!(s2, pt[2 * SEGMENT_SIZE..]);
}

#[test]
fn final_full_segment_opened_as_middle_is_trailing_data() {
    let pt = pattern(2 * SEGMENT_SIZE, 5);
    let (key, mut rng, _) = setup(1000);
    let sealed = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng).unwrap();
    let mut opener = envelope::unlock(&sealed, &key).unwrap().payload_opener();
    let (mut s0, t0) = segment(&sealed, 0);
    opener.open_segment_in_place(&mut s0, &t0, false).unwrap();
    let (mut s1, t1) = segment(&sealed, 1);
    let before = s1.clone();
    assert_eq!(
        opener.open_segment_in_place(&mut s1, &t1, false),
        Err(SegmentError::Envelope(EnvelopeError::TrailingData))
    );
    assert_eq!(s1, before);
    opener.open_segment_in_place(&mut s1, &t1, true).unwrap();
    assert_eq!(s1, pt[SEGMENT_SIZE..]);
}

#[test]
fn open_reader_keeps_failing_after_an_error() {
    let pt = pattern(3 * SEGMENT_SIZE + 5, 6);
    let (key, mut rng, _) = setup(1100);
    let mut sealed = envelope::seal(&[key.public_key()], &labels(), &pt, &mut rng).unwrap();
    let h = envelope::inspect(&sealed).unwrap().header_len;
    sealed[h + SEGMENT_CIPHERTEXT_SIZE + 10] ^= 1;
    let mut r = OpenReader::new(&sealed[..], &key).unwrap();
    let mut out = Vec::new();
    let err = r.read_to_end(&mut out).unwrap_err();
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<EnvelopeError>())
        .unwrap();
    assert_eq!(inner, &EnvelopeError::SegmentCorrupted { index: 1 });
    assert_eq!(out, pt[..SEGMENT_SIZE], "only the authentic segment");
    let mut buf = [0u8; 16];
    assert!(r.read(&mut buf).is_err(), "no clean end after an error");
    assert!(format!("{r:?}").len() < 2000, "Debug shows no buffer");
}

#[test]
fn error_conversion() {
    assert_eq!(
        EnvelopeError::from(SegmentError::Envelope(EnvelopeError::Truncated)),
        EnvelopeError::Truncated
    );
    assert_eq!(
        EnvelopeError::from(SegmentError::AfterFinalSegment),
        EnvelopeError::Internal
    );
    assert!(
        SegmentError::BadSegmentLength { len: 3 }
            .to_string()
            .contains("got 3")
    );
}
