//! WhatsApp media: the bytes fetched from the Graph API are checked against
//! the webhook's SHA-256 and the size limit of their kind while they are
//! sealed, failing closed (docs/WHATSAPP.md section 5).
//!
//! The expected SHA-256 of the fixture `fixtures/whatsapp/media/sample.pdf`
//! was NOT computed by our Rust code but with Python's `hashlib` (see
//! [`SAMPLE_PDF_SHA256_B64`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;

use caduceus_core::envelope::{self, EnvelopeError, Labels, OpenReader, SEGMENT_SIZE};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;
use caduceus_core::whatsapp::{
    Media, MediaError, MediaExpectation, MediaKind, MediaSealer, PARALLEL_HASH_THRESHOLD,
    SealedMedia, decode_sha256, seal_media,
};
use proptest::prelude::*;

/// A synthetic one-page PDF (no patient data) of 6,400 bytes.
const SAMPLE_PDF: &[u8] = include_bytes!("fixtures/whatsapp/media/sample.pdf");

/// The SHA-256 of `SAMPLE_PDF` in base64, as a webhook carries it, computed
/// with
/// `python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode())' core/tests/fixtures/whatsapp/media/sample.pdf`
/// and pasted in. (`sha256sum` gives the same digest in hex:
/// `defad0a8b3c93ccb541d0a74ca3b7331fc4a3cb3d27816dd26267758665bcc92`.)
const SAMPLE_PDF_SHA256_B64: &str = "3vrQqLPJPMtUHQp0yjtzMfxKPLPSeBbdJiZ3WGZbzJI=";
const SAMPLE_PDF_SHA256_HEX: &str =
    "defad0a8b3c93ccb541d0a74ca3b7331fc4a3cb3d27816dd26267758665bcc92";

const ALL_KINDS: [MediaKind; 5] = [
    MediaKind::Image,
    MediaKind::Document,
    MediaKind::Audio,
    MediaKind::Video,
    MediaKind::Sticker,
];

fn labels() -> Labels {
    Labels::new(
        "p-7f3a91",
        "clinical-documents",
        "treatment-communication",
        "application/pdf",
        1_767_225_600,
    )
    .unwrap()
}

/// `len` bytes of a simple non-constant pattern.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

/// SHA-256 by the `sha2` crate the suite uses, through the public suite
/// function (the fixture test below checks it against Python).
fn sha256(bytes: &[u8]) -> [u8; 32] {
    caduceus_core::suite::sha256(&[bytes])
}

/// Seal `data` pushed in `chunks` (sizes, repeated), returning the header
/// and everything written (also on error) and the result.
fn seal_in_chunks(
    key: &PrivateKey,
    rng: &mut DeterministicRng,
    expected: MediaExpectation,
    data: &[u8],
    chunks: &[usize],
) -> (Vec<u8>, Result<SealedMedia, MediaError>) {
    let (mut out, mut sealer) =
        MediaSealer::new(&[key.public_key()], &labels(), expected, rng).unwrap();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].clamp(1, rest.len());
        if let Err(e) = sealer.push(&rest[..n], &mut out) {
            return (out, Err(e));
        }
        rest = &rest[n..];
        i += 1;
    }
    let done = sealer.finish(&mut out);
    (out, done)
}

/// Every way to open an envelope refuses `bytes` and releases nothing
/// complete: one-shot open, the streaming reader, the push opener.
fn assert_no_opener_accepts(bytes: &[u8], key: &PrivateKey) {
    assert!(envelope::open(bytes, key).is_err(), "open accepted it");
    assert!(
        envelope::open_any(bytes, std::slice::from_ref(key)).is_err(),
        "open_any accepted it"
    );
    if let Ok(mut reader) = OpenReader::new(bytes, key) {
        let mut sink = Vec::new();
        assert!(
            reader.read_to_end(&mut sink).is_err(),
            "the streaming reader accepted it"
        );
    }
    if let Ok(unlocked) = envelope::unlock(bytes, key) {
        let mut opener = unlocked.payload_opener();
        let mut sink = Vec::new();
        let payload = &bytes[unlocked.header().header_len..];
        let pushed = opener.push(payload, &mut sink);
        assert!(
            pushed.is_err() || opener.finish(&mut sink).is_err(),
            "the push opener accepted it"
        );
    }
}

#[test]
fn sealed_media_opens_to_the_exact_bytes() {
    let mut rng = DeterministicRng::new(1);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    for len in [
        0,
        1,
        SEGMENT_SIZE - 1,
        SEGMENT_SIZE,
        SEGMENT_SIZE + 1,
        PARALLEL_HASH_THRESHOLD - 1,
        PARALLEL_HASH_THRESHOLD,
        PARALLEL_HASH_THRESHOLD + 1,
        3 * PARALLEL_HASH_THRESHOLD + 12_345,
    ] {
        let data = pattern(len, 7);
        let expected = MediaExpectation::new(MediaKind::Video, sha256(&data));
        for chunks in [
            &[usize::MAX][..],
            &[1000, 70_000],
            &[PARALLEL_HASH_THRESHOLD],
        ] {
            let (sealed, done) = seal_in_chunks(&key, &mut rng, expected, &data, chunks);
            let done = done.unwrap();
            assert_eq!(done.size, len as u64);
            assert_eq!(done.sha256, sha256(&data));
            assert_eq!(done.kind, MediaKind::Video);
            let opened = envelope::open(&sealed, &key).unwrap();
            assert!(opened.plaintext == data, "len {len}: other bytes");
            assert_eq!(opened.header.labels, labels());
        }
        let one_shot =
            seal_media(&[key.public_key()], &labels(), expected, &data, &mut rng).unwrap();
        assert!(envelope::open(&one_shot, &key).unwrap().plaintext == data);
    }
}

#[test]
fn an_empty_file_is_sealed_and_checked() {
    let mut rng = DeterministicRng::new(2);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    // printf '' | sha256sum
    let empty =
        decode_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
    let expected = MediaExpectation::new(MediaKind::Document, empty);
    let (sealed, done) = seal_in_chunks(&key, &mut rng, expected, &[], &[1]);
    assert_eq!(done.unwrap().size, 0);
    assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, b"");
    // Empty pushes count for nothing.
    let (mut out, mut sealer) =
        MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
    sealer.push(&[], &mut out).unwrap();
    sealer.push(&[], &mut out).unwrap();
    sealer.finish(&mut out).unwrap();
    assert_eq!(envelope::open(&out, &key).unwrap().plaintext, b"");
    // An empty download where the webhook announced a file: refused, and
    // the header alone opens nowhere.
    let expected = MediaExpectation::new(MediaKind::Document, sha256(b"%PDF"));
    let (partial, done) = seal_in_chunks(&key, &mut rng, expected, &[], &[1]);
    assert_eq!(done, Err(MediaError::HashMismatch));
    assert_eq!(
        envelope::open(&partial, &key),
        Err(EnvelopeError::Truncated)
    );
    assert_no_opener_accepts(&partial, &key);
    assert_eq!(
        seal_media(&[key.public_key()], &labels(), expected, &[], &mut rng),
        Err(MediaError::HashMismatch)
    );
}

#[test]
fn one_flipped_byte_at_the_start_middle_or_end_is_refused() {
    let mut rng = DeterministicRng::new(3);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    for len in [
        1,
        100,
        3 * SEGMENT_SIZE + 5,
        2 * PARALLEL_HASH_THRESHOLD + 99,
    ] {
        let data = pattern(len, 11);
        let expected = MediaExpectation::new(MediaKind::Video, sha256(&data));
        for at in [0, len / 2, len - 1] {
            for bit in [0x01, 0x80] {
                let mut fetched = data.clone();
                fetched[at] ^= bit;
                for chunks in [&[usize::MAX][..], &[4096, 100_000]] {
                    let (partial, done) =
                        seal_in_chunks(&key, &mut rng, expected, &fetched, chunks);
                    assert_eq!(done, Err(MediaError::HashMismatch), "len {len} at {at}");
                    // No final segment was written: a truncated envelope.
                    assert_eq!(
                        envelope::open(&partial, &key),
                        Err(EnvelopeError::Truncated)
                    );
                    assert_no_opener_accepts(&partial, &key);
                }
                assert_eq!(
                    seal_media(&[key.public_key()], &labels(), expected, &fetched, &mut rng),
                    Err(MediaError::HashMismatch)
                );
            }
        }
    }
}

#[test]
fn a_truncated_or_extended_download_is_refused() {
    let mut rng = DeterministicRng::new(4);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let data = pattern(5 * SEGMENT_SIZE + 17, 3);
    let expected = MediaExpectation::new(MediaKind::Image, sha256(&data));
    let mut longer = data.clone();
    longer.push(0);
    for fetched in [&data[..data.len() - 1], &data[..SEGMENT_SIZE], &longer[..]] {
        let (partial, done) = seal_in_chunks(&key, &mut rng, expected, fetched, &[8192]);
        assert_eq!(done, Err(MediaError::HashMismatch));
        assert_no_opener_accepts(&partial, &key);
    }
}

/// Bytes `0..len` of a cheap stream: fed chunk by chunk so that the 100 MB
/// document limit needs no 100 MB buffer.
fn stream_chunk(buf: &mut [u8], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = offset + i;
        *b = (x as u8) ^ (x >> 9) as u8;
    }
}

/// SHA-256 of the first `len` bytes of [`stream_chunk`]'s stream.
fn stream_sha256(len: usize) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < len {
        let n = buf.len().min(len - offset);
        stream_chunk(&mut buf[..n], offset);
        h.update(&buf[..n]);
        offset += n;
    }
    h.finalize().into()
}

#[test]
fn media_size_at_and_past_each_kinds_limit() {
    // WhatsApp's limits (decimal megabytes, as Meta states them).
    let limits = [
        (MediaKind::Image, 5_000_000u64),
        (MediaKind::Video, 16_000_000),
        (MediaKind::Audio, 16_000_000),
        (MediaKind::Document, 100_000_000),
        (MediaKind::Sticker, 500_000),
    ];
    let mut rng = DeterministicRng::new(5);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let mut buf = vec![0u8; 1 << 20];
    for (kind, limit) in limits {
        assert_eq!(kind.max_size(), limit);
        let len = limit as usize;
        let expected = MediaExpectation::new(kind, stream_sha256(len));
        assert_eq!(expected.limit(), limit);

        // Exactly at the limit: accepted (the output is dropped chunk by
        // chunk; the round trip is tested above).
        let (mut out, mut sealer) =
            MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
        let mut offset = 0;
        while offset < len {
            let n = buf.len().min(len - offset);
            stream_chunk(&mut buf[..n], offset);
            sealer.push(&buf[..n], &mut out).unwrap();
            out.clear();
            offset += n;
        }
        assert_eq!(sealer.pushed(), limit);
        let done = sealer.finish(&mut out).unwrap();
        assert_eq!(done.size, limit);

        // One past: the push that crosses the limit is refused, whole,
        // before it is sealed, and the sealer stays refused.
        let (mut out, mut sealer) =
            MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
        let big = vec![0u8; len + 1];
        let before = out.len();
        assert_eq!(
            sealer.push(&big, &mut out),
            Err(MediaError::TooLarge { limit })
        );
        assert_eq!(out.len(), before, "nothing of the refused chunk is written");
        assert_eq!(
            sealer.push(&[], &mut out),
            Err(MediaError::TooLarge { limit })
        );
        assert_eq!(
            sealer.finish(&mut out).unwrap_err(),
            MediaError::TooLarge { limit }
        );
        assert_eq!(
            seal_media(&[key.public_key()], &labels(), expected, &big, &mut rng),
            Err(MediaError::TooLarge { limit })
        );
    }
}

#[test]
fn the_push_that_crosses_the_limit_is_refused_and_nothing_opens() {
    let mut rng = DeterministicRng::new(6);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let limit = MediaKind::Sticker.max_size();
    let data = pattern(limit as usize + 1, 1);
    let expected = MediaExpectation::new(MediaKind::Sticker, sha256(&data));
    let (mut out, mut sealer) =
        MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
    sealer.push(&data[..limit as usize], &mut out).unwrap();
    assert_eq!(sealer.pushed(), limit);
    assert_eq!(
        sealer.push(&data[limit as usize..], &mut out),
        Err(MediaError::TooLarge { limit })
    );
    assert_eq!(sealer.pushed(), limit);
    assert_eq!(
        sealer.finish(&mut out).unwrap_err(),
        MediaError::TooLarge { limit }
    );
    assert_no_opener_accepts(&out, &key);
}

#[test]
fn a_lowered_limit_applies_at_and_past_it_and_a_raised_one_does_not() {
    let mut rng = DeterministicRng::new(7);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let data = pattern(1000, 5);
    let at = MediaExpectation::new(MediaKind::Image, sha256(&data)).with_max_size(1000);
    assert_eq!(at.limit(), 1000);
    let (_, done) = seal_in_chunks(&key, &mut rng, at, &data, &[300]);
    assert_eq!(done.unwrap().size, 1000);
    let below = at.with_max_size(999);
    let (_, done) = seal_in_chunks(&key, &mut rng, below, &data, &[300]);
    assert_eq!(done, Err(MediaError::TooLarge { limit: 999 }));
    // with_max_size never raises; a larger field value counts as the
    // kind's limit.
    assert_eq!(at.with_max_size(u64::MAX).limit(), 1000);
    let mut raised = MediaExpectation::new(MediaKind::Sticker, [0; 32]);
    raised.max_size = u64::MAX;
    assert_eq!(raised.limit(), 500_000);
    let (_, done) = seal_in_chunks(&key, &mut rng, raised, &vec![0; 500_001], &[500_001]);
    assert_eq!(done, Err(MediaError::TooLarge { limit: 500_000 }));
}

#[test]
fn the_expected_hash_comes_from_the_webhooks_base64() {
    let mut rng = DeterministicRng::new(8);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let b64 = decode_sha256(SAMPLE_PDF_SHA256_B64).unwrap();
    // Without padding, and as hex: the same digest.
    assert_eq!(
        decode_sha256(SAMPLE_PDF_SHA256_B64.trim_end_matches('=')),
        Some(b64)
    );
    assert_eq!(decode_sha256(SAMPLE_PDF_SHA256_HEX), Some(b64));
    assert_eq!(
        decode_sha256(&SAMPLE_PDF_SHA256_HEX.to_uppercase()),
        Some(b64)
    );
    // Short, truncated or URL-safe forms are not a SHA-256.
    for bad in [
        "4654+8g=",
        &SAMPLE_PDF_SHA256_B64[..42],
        &SAMPLE_PDF_SHA256_HEX[..63],
        // URL-safe base64 of SHA-256("abc") (standard: ungWv48Bz+pB...).
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=",
    ] {
        assert_eq!(decode_sha256(bad), None, "{bad}");
    }
    let media = Media {
        kind: MediaKind::Document,
        id: "1234567890987654321".into(),
        mime_type: Some("application/pdf".into()),
        sha256: Some(b64),
        caption: None,
        filename: None,
        voice: false,
        animated: false,
    };
    let expected = MediaExpectation::from_media(&media).unwrap();
    assert_eq!(expected.kind, MediaKind::Document);
    assert_eq!(expected.max_size, 100_000_000);
    let sealed = seal_media(
        &[key.public_key()],
        &labels(),
        expected,
        SAMPLE_PDF,
        &mut rng,
    )
    .unwrap();
    assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, SAMPLE_PDF);

    let unverifiable = Media {
        sha256: None,
        ..media
    };
    assert_eq!(
        MediaExpectation::from_media(&unverifiable),
        Err(MediaError::NoExpectedHash)
    );
}

#[test]
fn the_sha256_matches_an_independent_tool() {
    assert_eq!(SAMPLE_PDF.len(), 6400);
    assert!(SAMPLE_PDF.starts_with(b"%PDF-1.4"));
    let expected = decode_sha256(SAMPLE_PDF_SHA256_B64).unwrap();
    assert_eq!(sha256(SAMPLE_PDF), expected);
    let mut rng = DeterministicRng::new(9);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let exp = MediaExpectation::new(MediaKind::Document, expected);
    let (sealed, done) = seal_in_chunks(&key, &mut rng, exp, SAMPLE_PDF, &[1000, 17]);
    assert_eq!(done.unwrap().sha256, expected);
    assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, SAMPLE_PDF);
}

#[test]
fn errors_do_not_quote_the_media_or_its_hash() {
    let digest = sha256(SAMPLE_PDF);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    for e in [
        MediaError::NoExpectedHash,
        MediaError::TooLarge { limit: 5_000_000 },
        MediaError::HashMismatch,
        MediaError::Envelope(EnvelopeError::NoRecipients),
    ] {
        let text = e.to_string();
        assert!(!text.contains(&hex) && !text.contains(SAMPLE_PDF_SHA256_B64));
        assert!(!text.contains("%PDF"));
        assert!(text.len() > 20, "{text}");
    }
    assert!(
        MediaError::HashMismatch
            .to_string()
            .contains("fetch the media again")
    );
    // The sealer's Debug shows sizes, never bytes or hashes.
    let mut rng = DeterministicRng::new(10);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let exp = MediaExpectation::new(MediaKind::Document, digest);
    let (mut out, mut sealer) =
        MediaSealer::new(&[key.public_key()], &labels(), exp, &mut rng).unwrap();
    sealer.push(SAMPLE_PDF, &mut out).unwrap();
    let debug = format!("{sealer:?}");
    assert!(debug.contains("pushed: 6400"), "{debug}");
    assert!(!debug.contains(&hex) && !debug.contains("222, 250"));
}

#[test]
fn bad_recipients_or_labels_are_envelope_errors() {
    let mut rng = DeterministicRng::new(11);
    let exp = MediaExpectation::new(MediaKind::Image, [0; 32]);
    assert_eq!(
        MediaSealer::new(&[], &labels(), exp, &mut rng).unwrap_err(),
        MediaError::Envelope(EnvelopeError::NoRecipients)
    );
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let mut bad = labels();
    bad.category = String::new();
    assert!(matches!(
        seal_media(&[key.public_key()], &bad, exp, b"x", &mut rng),
        Err(MediaError::Envelope(EnvelopeError::InvalidLabel(_)))
    ));
}

#[test]
fn every_kind_has_a_limit_and_a_code() {
    for kind in ALL_KINDS {
        assert_eq!(MediaKind::from_code(kind.code()), Some(kind));
        assert_eq!(
            MediaExpectation::new(kind, [1; 32]).limit(),
            kind.max_size()
        );
    }
}

/// Data lengths around the segment size and the thread threshold.
fn media_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0usize..200_000,
        1 => (PARALLEL_HASH_THRESHOLD - 70_000)..(4 * PARALLEL_HASH_THRESHOLD),
    ]
}

/// Push lengths: short ones (fed to the worker thread past the threshold)
/// and long ones (hashed on a scoped thread).
fn chunk_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 1usize..70_000,
        1 => (PARALLEL_HASH_THRESHOLD - 10)..(2 * PARALLEL_HASH_THRESHOLD),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// The same bytes pushed in any chunking give the same envelope, byte
    /// for byte, as one-shot sealing with the same RNG (and as the plain
    /// envelope sealer), and it opens to them.
    #[test]
    fn chunking_does_not_change_the_envelope(
        len in media_len(),
        seed in any::<u64>(),
        chunks in prop::collection::vec(chunk_len(), 1..12),
    ) {
        let data = pattern(len, seed as u8);
        let expected = MediaExpectation::new(MediaKind::Video, sha256(&data));
        let mut rng = DeterministicRng::new(seed);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let (sealed, done) =
            seal_in_chunks(&key, &mut DeterministicRng::new(seed ^ 1), expected, &data, &chunks);
        prop_assert_eq!(done.unwrap().size, len as u64);
        let one_shot = seal_media(
            &[key.public_key()], &labels(), expected, &data, &mut DeterministicRng::new(seed ^ 1),
        ).unwrap();
        prop_assert!(sealed == one_shot);
        let plain = envelope::seal(
            &[key.public_key()], &labels(), &data, &mut DeterministicRng::new(seed ^ 1),
        ).unwrap();
        prop_assert!(sealed == plain);
        prop_assert!(envelope::open(&sealed, &key).unwrap().plaintext == data);
    }

    /// Any other content, in any chunking, is refused and opens nowhere.
    #[test]
    fn other_content_never_seals(
        len in media_len(),
        seed in any::<u64>(),
        flip in any::<prop::sample::Index>(),
        chunks in prop::collection::vec(chunk_len(), 1..12),
    ) {
        prop_assume!(len > 0);
        let data = pattern(len, seed as u8);
        let expected = MediaExpectation::new(MediaKind::Video, sha256(&data));
        let mut fetched = data.clone();
        fetched[flip.index(len)] ^= 0x20;
        let mut rng = DeterministicRng::new(seed);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let (partial, done) = seal_in_chunks(&key, &mut rng, expected, &fetched, &chunks);
        prop_assert_eq!(done, Err(MediaError::HashMismatch));
        assert_no_opener_accepts(&partial, &key);
    }
}
