//! `std::io` adapters for sealing and opening media of any size in one
//! segment of memory.

use std::io::{self, Read, Write};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{
    EnvelopeError, Header, Labels, PREFIX_LEN, Part, PayloadOpener, PayloadSealer,
    SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE, TAG_LEN, begin_seal, header_len_from_prefix, unlock,
};
use crate::keys::{PrivateKey, PublicKey};

fn io_err(e: EnvelopeError) -> io::Error {
    let kind = match e {
        EnvelopeError::Io(k) => k,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e)
}

/// Seals everything written to it into an envelope written to `W`.
/// Call [`SealWriter::finish`] at the end: without it the envelope is
/// incomplete and will not open.
///
/// Written bytes are gathered in one segment buffer, which is sealed in
/// place ([`PayloadSealer::seal_segment_in_place`]) and written with its
/// tag in one `write_all`: one copy per byte (from the caller's slice), and
/// one segment of memory. A failed write leaves the writer unusable (every
/// later call fails), so a partial envelope is never continued.
///
/// ```
/// use std::io::Write;
/// use caduceus_core::envelope::{self, Labels, SealWriter};
/// use caduceus_core::keys::{KeyKind, PrivateKey};
/// // The operating system RNG (never a seeded or test RNG).
/// let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
/// let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
/// let labels = Labels::new("p-1", "clinical-photos", "treatment", "image/jpeg", 0).unwrap();
/// let mut w = SealWriter::new(Vec::new(), &[key.public_key()], &labels, None, &mut rng).unwrap();
/// w.write_all(&vec![0xAB; 200_000]).unwrap();
/// let sealed = w.finish().unwrap();
/// assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext.len(), 200_000);
/// ```
pub struct SealWriter<W: Write> {
    out: W,
    /// `None` once finished or after a failure.
    sealer: Option<PayloadSealer>,
    /// One segment in its stored layout: `filled` plaintext bytes, then
    /// room for the tag.
    segment: Zeroizing<Vec<u8>>,
    filled: usize,
}

impl<W: Write> core::fmt::Debug for SealWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealWriter")
            .field("sealer", &self.sealer)
            .field("buffered", &self.filled)
            .finish_non_exhaustive()
    }
}

impl<W: Write> SealWriter<W> {
    /// Write the header to `out` and prepare to seal the payload.
    pub fn new(
        mut out: W,
        recipients: &[PublicKey],
        labels: &Labels,
        part: Option<Part>,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, EnvelopeError> {
        let (header, sealer) = begin_seal(recipients, labels, part, rng)?;
        out.write_all(&header)
            .map_err(|e| EnvelopeError::Io(e.kind()))?;
        Ok(Self {
            out,
            sealer: Some(sealer),
            segment: Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]),
            filled: 0,
        })
    }

    /// Seal the final segment, flush, and return the inner writer.
    pub fn finish(mut self) -> Result<W, EnvelopeError> {
        let mut sealer = self.sealer.take().ok_or(EnvelopeError::Internal)?;
        self.seal_and_write(&mut sealer, true)?;
        self.out.flush().map_err(|e| EnvelopeError::Io(e.kind()))?;
        Ok(self.out)
    }

    /// Seal the buffered segment in place and write it with its tag.
    fn seal_and_write(
        &mut self,
        sealer: &mut PayloadSealer,
        last: bool,
    ) -> Result<(), EnvelopeError> {
        let len = self.filled + TAG_LEN;
        let stored = self.segment.get_mut(..len).ok_or(EnvelopeError::Internal)?;
        let (body, slot) = stored.split_at_mut(self.filled);
        let tag = sealer.seal_segment_in_place(body, last)?;
        slot.copy_from_slice(&tag);
        self.out
            .write_all(stored)
            .map_err(|e| EnvelopeError::Io(e.kind()))?;
        self.filled = 0;
        Ok(())
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Taken out while in use; put back only on success.
        let mut sealer = self
            .sealer
            .take()
            .ok_or_else(|| io_err(EnvelopeError::Internal))?;
        if self.filled == SEGMENT_SIZE {
            // More data follows the full segment, so it is not the last.
            self.seal_and_write(&mut sealer, false).map_err(io_err)?;
        }
        let take = (SEGMENT_SIZE - self.filled).min(buf.len());
        let dst = self
            .segment
            .get_mut(self.filled..self.filled + take)
            .ok_or_else(|| io_err(EnvelopeError::Internal))?;
        dst.copy_from_slice(buf.get(..take).unwrap_or_default());
        self.filled += take;
        self.sealer = Some(sealer);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads and authenticates an envelope from `R`, yielding plaintext.
/// Plaintext is released one authenticated segment at a time; an error at
/// any point (including at the end: a truncated stream) means the data read
/// so far must be discarded. After an error every later read fails again.
///
/// Each segment is read straight into a segment buffer and opened there in
/// place ([`PayloadOpener::open_segment_in_place`]); `read` copies the
/// plaintext out. Two segment buffers: while one is served, the other holds
/// the start of the next segment, read ahead to learn whether the current
/// one is the last.
pub struct OpenReader<R: Read> {
    inner: R,
    header: Header,
    /// `None` once the final segment was opened, or after an error.
    opener: Option<PayloadOpener>,
    /// The current segment: plaintext at `pos..plain_len`.
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    plain_len: usize,
    /// The next segment's ciphertext read so far: `ahead` bytes.
    next: Zeroizing<Vec<u8>>,
    ahead: usize,
    /// The error that stopped the stream, returned again by later reads.
    failed: Option<EnvelopeError>,
}

impl<R: Read> core::fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenReader")
            .field("header", &self.header)
            .field("opener", &self.opener)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<R: Read> OpenReader<R> {
    /// Read and authenticate the header with `identity`.
    pub fn new(mut inner: R, identity: &PrivateKey) -> Result<Self, EnvelopeError> {
        let mut header_bytes = vec![0u8; super::PREFIX_LEN];
        read_exact(&mut inner, &mut header_bytes)?;
        let total = header_len_from_prefix(&header_bytes)?;
        header_bytes.resize(total, 0);
        read_exact(
            &mut inner,
            header_bytes
                .get_mut(super::PREFIX_LEN..)
                .unwrap_or_default(),
        )?;
        let unlocked = unlock(&header_bytes, identity)?;
        Ok(Self {
            inner,
            header: unlocked.header().clone(),
            opener: Some(unlocked.payload_opener()),
            plain: Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]),
            pos: 0,
            plain_len: 0,
            next: Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]),
            ahead: 0,
            failed: None,
        })
    }

    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Read, authenticate and decrypt the next segment into `plain`.
    fn refill(&mut self) -> Result<(), EnvelopeError> {
        self.pos = 0;
        self.plain_len = 0;
        let Some(opener) = self.opener.as_mut() else {
            return Ok(());
        };
        let rest = self.next.get_mut(self.ahead..).unwrap_or_default();
        self.ahead += read_full(&mut self.inner, rest)?;
        let len = self.ahead;
        // A full segment is the last one only if nothing follows it: read
        // ahead into the spent buffer, which becomes the next one.
        let mut read_ahead = 0;
        if len == SEGMENT_CIPHERTEXT_SIZE {
            read_ahead = read_some(&mut self.inner, &mut self.plain)?;
        }
        let last = len < SEGMENT_CIPHERTEXT_SIZE || read_ahead == 0;
        core::mem::swap(&mut self.plain, &mut self.next);
        self.ahead = read_ahead;
        let body_len = len.checked_sub(TAG_LEN).ok_or(EnvelopeError::Truncated)?;
        let stored = self.plain.get_mut(..len).ok_or(EnvelopeError::Internal)?;
        let (body, tag) = stored.split_at_mut(body_len);
        let tag = <&[u8; TAG_LEN]>::try_from(&*tag).map_err(|_| EnvelopeError::Internal)?;
        opener.open_segment_in_place(body, tag, last)?;
        self.plain_len = body_len;
        if last {
            self.opener = None;
        }
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io_err(e.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.plain_len {
            if self.opener.is_none() {
                return Ok(0);
            }
            if let Err(e) = self.refill() {
                self.opener = None;
                self.failed = Some(e.clone());
                return Err(io_err(e));
            }
        }
        let avail = self.plain.get(self.pos..self.plain_len).unwrap_or_default();
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), EnvelopeError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => EnvelopeError::Truncated,
        k => EnvelopeError::Io(k),
    })
}

/// One read that is not interrupted; 0 only at the end of the input.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, EnvelopeError> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EnvelopeError::Io(e.kind())),
        }
    }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, EnvelopeError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match read_some(r, rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// An opener that is fed the envelope in chunks of any size (pushed, as a
/// network callback or a foreign-language binding delivers them) instead of
/// reading it: it buffers the header, authenticates it with the identity,
/// then releases the plaintext segment by segment, each only after its tag
/// verified. The C ABI's `caduceus_opener` and the bindings' `Opener` are
/// this type.
///
/// Once [`PushOpener::finish`] succeeded, or a call failed, the opener is
/// closed ([`PushOpener::is_closed`]): further input is refused with
/// [`EnvelopeError::TrailingData`] (hosts that report a wrong state check
/// `is_closed` first).
pub struct PushOpener {
    identity: PrivateKey,
    state: PushState,
}

enum PushState {
    Header(Vec<u8>),
    Payload {
        header: Box<Header>,
        opener: Box<PayloadOpener>,
    },
    Finished {
        header: Box<Header>,
    },
    Failed,
}

impl core::fmt::Debug for PushOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PushOpener")
            .field("header", &self.header())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl PushOpener {
    /// An opener for envelopes of which `identity` is a recipient.
    pub fn new(identity: PrivateKey) -> Self {
        Self {
            identity,
            state: PushState::Header(Vec::with_capacity(PREFIX_LEN)),
        }
    }

    /// The authenticated header, once it has arrived (also after finish).
    pub fn header(&self) -> Option<&Header> {
        match &self.state {
            PushState::Payload { header, .. } | PushState::Finished { header } => Some(header),
            PushState::Header(_) | PushState::Failed => None,
        }
    }

    /// Whether the opener takes no more input: finished, or failed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, PushState::Finished { .. } | PushState::Failed)
    }

    /// Feed the next bytes of the envelope; the plaintext released is
    /// appended to `out`. An error closes the opener.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.is_closed() {
            return Err(EnvelopeError::TrailingData);
        }
        let r = self.update(data, out);
        if r.is_err() {
            self.state = PushState::Failed;
        }
        r
    }

    fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if let PushState::Header(buf) = &mut self.state {
            let mut complete = false;
            while !data.is_empty() {
                let want = if buf.len() < PREFIX_LEN {
                    PREFIX_LEN
                } else {
                    header_len_from_prefix(buf)?
                };
                let take = want.saturating_sub(buf.len()).min(data.len());
                let (head, tail) = data.split_at(take);
                buf.extend_from_slice(head);
                data = tail;
                if buf.len() >= PREFIX_LEN && buf.len() == header_len_from_prefix(buf)? {
                    complete = true;
                    break;
                }
            }
            if complete {
                let unlocked = unlock(buf, &self.identity)?;
                self.state = PushState::Payload {
                    header: Box::new(unlocked.header().clone()),
                    opener: Box::new(unlocked.payload_opener()),
                };
            }
        }
        if let PushState::Payload { opener, .. } = &mut self.state
            && !data.is_empty()
        {
            opener.push(data, out)?;
        }
        Ok(())
    }

    /// End of input: checks that the last segment was the final one and
    /// appends the remaining plaintext to `out`. An envelope that ended
    /// early is [`EnvelopeError::Truncated`].
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        match core::mem::replace(&mut self.state, PushState::Failed) {
            PushState::Header(_) => Err(EnvelopeError::Truncated),
            PushState::Payload { header, opener } => {
                opener.finish(out)?;
                self.state = PushState::Finished { header };
                Ok(())
            }
            state @ PushState::Finished { .. } => {
                self.state = state;
                Err(EnvelopeError::TrailingData)
            }
            PushState::Failed => Err(EnvelopeError::TrailingData),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::envelope;
    use crate::keys::KeyKind;
    use crate::testing::DeterministicRng;

    /// The push opener takes the envelope split at every position of its
    /// header, and gives the one-shot plaintext.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "one X25519 unlock per split, minutes under Miri; safe code only"
    )]
    fn push_opener_accepts_any_split() {
        let mut rng = DeterministicRng::new(9);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let labels = Labels::new("p-1", "chat-messages", "treatment", "text/plain", 0).unwrap();
        let plaintext = vec![7u8; 70_000];
        let sealed = envelope::seal(&[key.public_key()], &labels, &plaintext, &mut rng).unwrap();
        let header_len = envelope::inspect(&sealed).unwrap().header_len;
        for split in (0..header_len + 40).chain([sealed.len() - 1, sealed.len()]) {
            let mut o = PushOpener::new(key.clone());
            let mut out = Vec::new();
            o.push(&sealed[..split], &mut out).unwrap();
            o.push(&sealed[split..], &mut out).unwrap();
            assert!(o.header().is_some(), "header not complete at split {split}");
            o.finish(&mut out).unwrap();
            assert_eq!(out, plaintext, "split {split}");
            assert!(o.is_closed() && o.header().is_some());
            assert_eq!(o.push(b"x", &mut out), Err(EnvelopeError::TrailingData));
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and AES-GCM are slow under Miri; safe code only"
    )]
    fn push_opener_refuses_truncation_and_tampering() {
        let mut rng = DeterministicRng::new(10);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let labels = Labels::new("p-1", "chat-messages", "treatment", "text/plain", 0).unwrap();
        let sealed = envelope::seal(&[key.public_key()], &labels, b"hello", &mut rng).unwrap();
        let mut o = PushOpener::new(key.clone());
        let mut out = Vec::new();
        o.push(&sealed[..5], &mut out).unwrap();
        assert_eq!(o.finish(&mut out), Err(EnvelopeError::Truncated));
        assert!(o.is_closed() && o.header().is_none());
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut o = PushOpener::new(key);
        o.push(&bad, &mut out).unwrap();
        assert!(o.finish(&mut out).is_err());
        assert!(out.is_empty() && o.is_closed());
    }
}
