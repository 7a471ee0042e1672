//! `whatsapp::MediaSealer` and `seal_media`: arbitrary media bytes pushed
//! in arbitrary chunk splits, against an expected SHA-256 that matches
//! (the content's), is off by one bit, or is arbitrary, under the kind's
//! size limit or a lowered one. Properties: no panic; `finish` is Ok iff
//! the hash matches and the size is within the limit, and fails with
//! exactly `TooLarge` or `HashMismatch` otherwise; what is sealed opens to
//! the content; what is refused opens nowhere; the one-shot `seal_media`
//! agrees and gives the same bytes for the same RNG.
#![no_main]

use caduceus_core::envelope;
use caduceus_core::suite;
use caduceus_core::testing::DeterministicRng;
use caduceus_core::whatsapp::{
    MediaError, MediaExpectation, MediaKind, MediaSealer, PARALLEL_HASH_THRESHOLD, seal_media,
};
use caduceus_fuzz::{Reader, chunk_sizes, identity, labels};
use libfuzzer_sys::fuzz_target;

const KINDS: [MediaKind; 5] = [
    MediaKind::Image,
    MediaKind::Document,
    MediaKind::Audio,
    MediaKind::Video,
    MediaKind::Sticker,
];

fuzz_target!(|data: &[u8]| {
    let mut r = Reader(data);
    let mode = r.u8();
    let kind = KINDS[usize::from(mode % 5)];
    let lowered = u64::from(r.u16());
    let hash_mode = r.u8() % 3;
    let flip = r.u16();
    let raw_hash: [u8; 32] = {
        let mut h = [0u8; 32];
        let t = r.take(32);
        h[..t.len()].copy_from_slice(t);
        h
    };
    let seed = u64::from(r.u16());
    let sizes = chunk_sizes(r.take(49));
    let mut content = r.0.to_vec();
    // Now and then, media past the thread threshold (the content repeated).
    if mode & 0xF0 == 0xF0 && !content.is_empty() {
        let len = PARALLEL_HASH_THRESHOLD + usize::from(flip) * 3;
        content = content.iter().copied().cycle().take(len).collect();
    }

    let mut expected = MediaExpectation::new(kind, suite::sha256(&[&content]));
    match hash_mode {
        0 => {}
        1 => expected.sha256[usize::from(flip % 32)] ^= 1 << (flip >> 13),
        _ => expected.sha256 = raw_hash,
    }
    if mode & 0x08 != 0 {
        expected = expected.with_max_size(lowered);
    }
    let limit = expected.limit();
    let fits = content.len() as u64 <= limit;
    let matches = suite::sha256(&[&content]) == expected.sha256;

    let me = identity();
    let recipients = [me.public_key()];
    let (mut out, mut sealer) = MediaSealer::new(
        &recipients,
        &labels(),
        expected,
        &mut DeterministicRng::new(seed),
    )
    .expect("fixed recipients and labels");
    let mut rest = &content[..];
    let mut i = 0;
    let mut pushed = Ok(());
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        let before = out.len();
        pushed = sealer.push(&rest[..n], &mut out);
        if pushed.is_err() {
            assert_eq!(out.len(), before, "a refused push wrote bytes");
            break;
        }
        rest = &rest[n..];
        i += 1;
    }
    assert_eq!(pushed.is_ok(), fits, "push refused iff past the limit");
    let done = sealer.finish(&mut out);
    match (&done, fits, matches) {
        (Ok(sealed), true, true) => {
            assert_eq!(sealed.size, content.len() as u64);
            assert_eq!(sealed.sha256, expected.sha256);
            let opened = envelope::open(&out, &me).expect("sealed media opens");
            assert!(
                opened.plaintext == content,
                "sealed media opens to other bytes"
            );
        }
        (Err(MediaError::TooLarge { limit: l }), false, _) => assert_eq!(*l, limit),
        (Err(MediaError::HashMismatch), true, false) => {}
        other => panic!(
            "finish gave {:?} for fits={fits} matches={matches}",
            other.0
        ),
    }
    if done.is_err() {
        assert!(envelope::open(&out, &me).is_err(), "refused media opens");
    }

    let one_shot = seal_media(
        &recipients,
        &labels(),
        expected,
        &content,
        &mut DeterministicRng::new(seed),
    );
    match (&done, &one_shot) {
        (Ok(_), Ok(bytes)) => assert!(*bytes == out, "seal_media gives other bytes"),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("seal_media and MediaSealer disagree"),
    }
});
