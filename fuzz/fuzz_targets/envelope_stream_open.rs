//! Streaming decryption in random chunking: `unlock` + `PayloadOpener`
//! (push in chunks, then finish) and `OpenReader` over a reader that hands
//! out random chunk sizes. Properties: no panic; each agrees with one-shot
//! `open` (same plaintext when it succeeds, failure when it fails); a
//! mutated fixed message never streams out as complete; a key that is not
//! a recipient never unlocks and gets no plaintext byte.
#![no_main]

use std::io::Read;

use caduceus_core::envelope::{self, OpenReader};
use caduceus_fuzz::{ChunkedReader, chunk_sizes, envelope_input, identity, staff_identity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = envelope_input(data);
    let bytes = &input.bytes;
    let sizes = chunk_sizes(input.rest);
    let me = identity();
    let one_shot = envelope::open(bytes, &me).map(|o| o.plaintext);

    // Push-style opener.
    let pushed = envelope::unlock(bytes, &me).and_then(|u| {
        let payload = &bytes[u.header().header_len..];
        let mut opener = u.payload_opener();
        let mut out = Vec::new();
        let mut rest = payload;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(rest.len())
                .max(1);
            let n = n.min(rest.len());
            opener.push(&rest[..n], &mut out)?;
            rest = &rest[n..];
            i += 1;
        }
        opener.finish(&mut out)?;
        Ok(out)
    });
    assert_eq!(
        pushed.is_ok(),
        one_shot.is_ok(),
        "push opener and open disagree"
    );
    if let (Ok(a), Ok(b)) = (&pushed, &one_shot) {
        assert_eq!(a, b);
    }

    // Pull-style reader.
    let reader = ChunkedReader {
        data: bytes,
        sizes: sizes.clone(),
        next: 0,
    };
    let read = OpenReader::new(reader, &me)
        .map_err(|_| ())
        .and_then(|mut r| {
            let mut out = Vec::new();
            // Read in the same random sizes from the caller side too.
            let mut buf = vec![0u8; 200_000];
            let mut i = 0;
            loop {
                let want = sizes
                    .get(i % sizes.len().max(1))
                    .copied()
                    .unwrap_or(buf.len())
                    .max(1);
                i += 1;
                let want = want.min(buf.len());
                match r.read(&mut buf[..want]) {
                    Ok(0) => break Ok(out),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(_) => break Err(()),
                }
                // Every read but the last yields at least one byte.
                if i > bytes.len() + 16 {
                    panic!("OpenReader made no progress");
                }
            }
        });
    assert_eq!(
        read.is_ok(),
        one_shot.is_ok(),
        "OpenReader and open disagree"
    );
    if let (Ok(a), Ok(b)) = (&read, &one_shot) {
        assert_eq!(a, b);
    }
    if let (Some(base), Ok(p)) = (input.base, &one_shot) {
        assert_eq!(bytes, &base.sealed, "a modified envelope opened");
        assert_eq!(p, &base.plaintext);
    }

    // Without the right key: a key that is not among the header's recipients
    // never unlocks, neither push- nor pull-style.
    let stranger = staff_identity();
    let listed = envelope::inspect(bytes)
        .map(|h| h.recipients.contains(&stranger.key_id()))
        .unwrap_or(false);
    if !listed {
        assert!(
            envelope::unlock(bytes, &stranger).is_err(),
            "a non-recipient unlocked an envelope"
        );
        let reader = ChunkedReader {
            data: bytes,
            sizes,
            next: 0,
        };
        let mut sink = Vec::new();
        let opened = OpenReader::new(reader, &stranger)
            .map_err(|_| ())
            .and_then(|mut r| r.read_to_end(&mut sink).map_err(|_| ()));
        assert!(opened.is_err(), "a non-recipient streamed an envelope open");
        assert!(sink.is_empty(), "a non-recipient got plaintext bytes");
    }
});
