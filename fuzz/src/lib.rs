//! Fixtures shared by the fuzz targets and the seed generator: a fixed
//! recipient identity, fixed sealed messages, and the input decoding used by
//! the envelope targets.

use std::sync::OnceLock;

use caduceus_core::envelope::{self, Labels, SEGMENT_SIZE};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;

/// The identity every fuzzed envelope is opened with.
pub fn identity() -> PrivateKey {
    PrivateKey::from_bytes(KeyKind::SubjectCategory, [0x11; 32]).expect("fixed identity")
}

/// A valid key that is not a recipient of the fixed messages.
pub fn other_identity() -> PrivateKey {
    PrivateKey::from_bytes(KeyKind::Staff, [0x22; 32]).expect("fixed identity")
}

/// Labels of the fixed messages.
pub fn labels() -> Labels {
    Labels::new("p-3f9a", "chat-messages", "treatment-communication", "text/plain", 1_700_000_000)
        .expect("fixed labels")
}

/// A fixed sealed message and its plaintext.
pub struct Base {
    pub plaintext: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// The fixed sealed messages: short, empty, and three segments long (the
/// last one short), all sealed to [`identity`] (the second one also to
/// [`other_identity`]).
pub fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        let me = identity().public_key();
        let other = other_identity().public_key();
        let multi: Vec<u8> = (0..2 * SEGMENT_SIZE + 777).map(|i| (i % 251) as u8).collect();
        let cases: [(&[_], Vec<u8>); 3] = [
            (&[me], b"Zahnschmerzen seit Dienstag".to_vec()),
            (&[other, me], Vec::new()),
            (&[me], multi),
        ];
        cases
            .into_iter()
            .zip(1u64..)
            .map(|((recipients, plaintext), seed)| {
                let mut rng = DeterministicRng::new(seed);
                let sealed = envelope::seal(recipients, &labels(), &plaintext, &mut rng)
                    .expect("seal fixed message");
                Base { plaintext, sealed }
            })
            .collect()
    })
}

/// An envelope built from fuzz input.
pub struct EnvelopeInput<'a> {
    /// The envelope bytes to decode.
    pub bytes: Vec<u8>,
    /// The fixed message these bytes were derived from, if any.
    pub base: Option<&'static Base>,
    /// The rest of the input (e.g. chunk sizes for streaming).
    pub rest: &'a [u8],
}

/// Decode fuzz input into an envelope. First byte: mode. Mode 0 (and any
/// mode past the bases): the remaining bytes are the envelope. Mode `k`
/// (1..=3): start from fixed message `k-1` and apply edits read from the
/// input: a count, then (u24 position, xor byte) pairs, then a truncation
/// and an appended tail.
pub fn envelope_input(data: &[u8]) -> EnvelopeInput<'_> {
    let Some((&mode, data)) = data.split_first() else {
        return EnvelopeInput { bytes: Vec::new(), base: None, rest: &[] };
    };
    let base = match usize::from(mode % 4) {
        0 => None,
        k => bases().get(k - 1),
    };
    let Some(base) = base else {
        return EnvelopeInput { bytes: data.to_vec(), base: None, rest: &[] };
    };
    let mut bytes = base.sealed.clone();
    let mut r = Reader(data);
    let edits = r.u8() % 8;
    for _ in 0..edits {
        let pos = r.u24() as usize;
        let x = r.u8();
        if !bytes.is_empty() {
            let pos = pos % bytes.len();
            bytes[pos] ^= x.max(1);
        }
    }
    match r.u8() % 4 {
        1 => {
            let cut = r.u24() as usize;
            bytes.truncate(cut % (bytes.len() + 1));
        }
        2 => {
            let n = usize::from(r.u8() % 32);
            let tail = r.take(n);
            bytes.extend_from_slice(tail);
        }
        _ => {}
    }
    EnvelopeInput { bytes, base: Some(base), rest: r.0 }
}

/// A little-endian reader that yields zeros past the end.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | u16::from(self.u8()) << 8
    }
    pub fn u24(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u8()) << 16
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// A `Read` that hands out its bytes in chunks of the given sizes (cycled;
/// a zero size is read as 1 so the stream always progresses).
pub struct ChunkedReader<'a> {
    pub data: &'a [u8],
    pub sizes: Vec<usize>,
    pub next: usize,
}

impl std::io::Read for ChunkedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = if self.sizes.is_empty() {
            usize::MAX
        } else {
            let s = self.sizes[self.next % self.sizes.len()].max(1);
            self.next += 1;
            s
        };
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Chunk sizes read from fuzz input: up to 16 sizes of 1 to 131072 bytes.
pub fn chunk_sizes(rest: &[u8]) -> Vec<usize> {
    let mut r = Reader(rest);
    let n = usize::from(r.u8() % 17);
    (0..n)
        .map(|_| {
            let v = r.u24() as usize;
            // Favour small chunks and segment-boundary-sized ones.
            match v % 4 {
                0 => v % 64 + 1,
                1 => 65536 + 16 - 8 + (v >> 2) % 16,
                _ => v % 131072 + 1,
            }
        })
        .collect()
}
