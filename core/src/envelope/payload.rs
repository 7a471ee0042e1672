//! The segmented AES-256-GCM payload (STREAM construction).
//!
//! Plaintext is cut into 64 KiB segments; segment *i* is sealed with nonce
//! = 88-bit big-endian *i* || last-flag byte (0x01 for the final segment,
//! 0x00 otherwise) and no associated data. The final segment is the only
//! one that may be shorter than 64 KiB; it is empty only when the whole
//! plaintext is. Memory use is one segment, whatever the payload size.

use zeroize::{Zeroize, Zeroizing};

use super::EnvelopeError;
use crate::suite::{self, SegmentCipher};

/// Plaintext bytes per segment.
pub const SEGMENT_SIZE: usize = 64 * 1024;
/// Ciphertext bytes of a full segment (plaintext plus tag).
pub const SEGMENT_CIPHERTEXT_SIZE: usize = SEGMENT_SIZE + suite::TAG_LEN;

fn nonce(counter: u64, last: bool) -> [u8; suite::NONCE_LEN] {
    let mut n = [0u8; suite::NONCE_LEN];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Decrypt one segment in place; `buf` holds ciphertext || tag and is
/// truncated to the plaintext on success. On failure, tells a truncated or
/// extended stream apart from a corrupted segment where it can.
pub(crate) fn open_segment(
    cipher: &SegmentCipher,
    counter: u64,
    last: bool,
    buf: &mut Vec<u8>,
) -> Result<(), EnvelopeError> {
    let ct_len = buf
        .len()
        .checked_sub(suite::TAG_LEN)
        .ok_or(EnvelopeError::Truncated)?;
    let mut tag = [0u8; suite::TAG_LEN];
    tag.copy_from_slice(buf.get(ct_len..).ok_or(EnvelopeError::Truncated)?);
    let body = buf.get_mut(..ct_len).ok_or(EnvelopeError::Truncated)?;
    if cipher
        .open_in_place(&nonce(counter, last), body, &tag)
        .is_ok()
    {
        buf.truncate(ct_len);
        return Ok(());
    }
    // Diagnose without releasing anything: a final segment that is
    // authentic as a middle one means the stream was cut after it; a middle
    // segment that is authentic as a final one means bytes were appended.
    let mut probe = Zeroizing::new(body.to_vec());
    let diagnosis = if cipher
        .open_in_place(&nonce(counter, !last), &mut probe, &tag)
        .is_ok()
    {
        if last {
            EnvelopeError::Truncated
        } else {
            EnvelopeError::TrailingData
        }
    } else {
        EnvelopeError::SegmentCorrupted { index: counter }
    };
    Err(diagnosis)
}

/// Push-style payload encryptor: feed plaintext with [`PayloadSealer::push`],
/// end with [`PayloadSealer::finish`]. Holds at most one segment.
pub struct PayloadSealer {
    cipher: SegmentCipher,
    buf: Zeroizing<Vec<u8>>,
    counter: u64,
}

impl core::fmt::Debug for PayloadSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PayloadSealer")
            .field("segment", &self.counter)
            .finish_non_exhaustive()
    }
}

impl PayloadSealer {
    pub(crate) fn new(key: &[u8; suite::AES_KEY_LEN]) -> Self {
        Self {
            cipher: SegmentCipher::new(key),
            buf: Zeroizing::new(Vec::with_capacity(SEGMENT_CIPHERTEXT_SIZE)),
            counter: 0,
        }
    }

    /// Encrypt `data`, appending finished segments to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        while !data.is_empty() {
            if self.buf.len() == SEGMENT_SIZE {
                // More data follows, so the buffered segment is not the last.
                self.seal_buffered(false, out)?;
            }
            if self.buf.is_empty() && data.len() > SEGMENT_SIZE {
                // A whole segment with more data after it (so not the last):
                // seal it in `out` directly, without a copy through `buf`.
                let (segment, rest) = data.split_at(SEGMENT_SIZE);
                self.seal_direct(segment, out)?;
                data = rest;
                continue;
            }
            let take = (SEGMENT_SIZE - self.buf.len()).min(data.len());
            let (head, tail) = data.split_at(take);
            self.buf.extend_from_slice(head);
            data = tail;
        }
        Ok(())
    }

    /// Seal the final segment and append it to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        self.seal_buffered(true, out)
    }

    /// Seal `segment`, a full segment that is not the last, appending
    /// ciphertext || tag to `out`.
    fn seal_direct(&mut self, segment: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let start = out.len();
        out.extend_from_slice(segment);
        let sealed = self.cipher.seal_in_place(
            &nonce(self.counter, false),
            out.get_mut(start..).unwrap_or_default(),
        );
        let Ok(tag) = sealed else {
            // Never leave plaintext behind in the caller's buffer.
            out.get_mut(start..).unwrap_or_default().zeroize();
            out.truncate(start);
            return Err(EnvelopeError::Internal);
        };
        out.extend_from_slice(&tag);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(EnvelopeError::InputTooLarge)?;
        Ok(())
    }

    fn seal_buffered(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let tag = self
            .cipher
            .seal_in_place(&nonce(self.counter, last), &mut self.buf)
            .map_err(|_| EnvelopeError::Internal)?;
        out.extend_from_slice(&self.buf);
        out.extend_from_slice(&tag);
        self.buf.clear();
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(EnvelopeError::InputTooLarge)?;
        Ok(())
    }
}

/// Push-style payload decryptor: feed ciphertext with
/// [`PayloadOpener::push`], end with [`PayloadOpener::finish`]. Plaintext is
/// released one authenticated segment at a time; only `finish` proves that
/// the stream was complete (not truncated), so a caller must discard what
/// it received if `finish` fails.
pub struct PayloadOpener {
    cipher: SegmentCipher,
    buf: Zeroizing<Vec<u8>>,
    counter: u64,
}

impl core::fmt::Debug for PayloadOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PayloadOpener")
            .field("segment", &self.counter)
            .finish_non_exhaustive()
    }
}

impl PayloadOpener {
    pub(crate) fn new(key: &[u8; suite::AES_KEY_LEN]) -> Self {
        Self {
            cipher: SegmentCipher::new(key),
            buf: Zeroizing::new(Vec::with_capacity(SEGMENT_CIPHERTEXT_SIZE)),
            counter: 0,
        }
    }

    /// Decrypt `data`, appending plaintext of authenticated segments to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        while !data.is_empty() {
            if self.buf.len() == SEGMENT_CIPHERTEXT_SIZE {
                // More data follows this full segment, so it is not the last.
                open_segment(&self.cipher, self.counter, false, &mut self.buf)?;
                out.extend_from_slice(&self.buf);
                self.buf.clear();
                self.advance()?;
            }
            if self.buf.is_empty() && data.len() > SEGMENT_CIPHERTEXT_SIZE {
                // A whole segment with more data after it (so not the last):
                // open it in `out` directly, without a copy through `buf`.
                let (segment, rest) = data.split_at(SEGMENT_CIPHERTEXT_SIZE);
                if self.open_direct(segment, out) {
                    data = rest;
                    self.advance()?;
                    continue;
                }
                // Not authentic: take the buffered path, which diagnoses it.
            }
            let take = (SEGMENT_CIPHERTEXT_SIZE - self.buf.len()).min(data.len());
            let (head, tail) = data.split_at(take);
            self.buf.extend_from_slice(head);
            data = tail;
        }
        Ok(())
    }

    /// Open `segment`, a full segment (ciphertext || tag) that is not the
    /// last, appending its plaintext to `out`. On failure `out` is left as
    /// it was and `false` is returned.
    fn open_direct(&self, segment: &[u8], out: &mut Vec<u8>) -> bool {
        let Some((body, tag)) = segment.split_at_checked(SEGMENT_SIZE) else {
            return false;
        };
        let Ok(tag) = <&[u8; suite::TAG_LEN]>::try_from(tag) else {
            return false;
        };
        let start = out.len();
        out.extend_from_slice(body);
        let opened = self.cipher.open_in_place(
            &nonce(self.counter, false),
            out.get_mut(start..).unwrap_or_default(),
            tag,
        );
        if opened.is_err() {
            out.get_mut(start..).unwrap_or_default().zeroize();
            out.truncate(start);
            return false;
        }
        true
    }

    fn advance(&mut self) -> Result<(), EnvelopeError> {
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(EnvelopeError::InputTooLarge)?;
        Ok(())
    }

    /// Decrypt the final segment and append its plaintext to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.buf.len() < suite::TAG_LEN {
            return Err(EnvelopeError::Truncated);
        }
        if self.counter > 0 && self.buf.len() == suite::TAG_LEN {
            // An empty final segment after a full one is never written.
            return Err(EnvelopeError::TrailingData);
        }
        open_segment(&self.cipher, self.counter, true, &mut self.buf)?;
        out.extend_from_slice(&self.buf);
        Ok(())
    }
}

/// Where the segments of a payload of `payload_len` ciphertext bytes lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentLayout {
    payload_len: u64,
    count: u64,
}

impl SegmentLayout {
    /// Layout of a payload with `payload_len` ciphertext bytes. Rejects
    /// lengths no valid payload can have.
    pub fn new(payload_len: u64) -> Result<Self, EnvelopeError> {
        let full = SEGMENT_CIPHERTEXT_SIZE as u64;
        if payload_len < suite::TAG_LEN as u64 {
            return Err(EnvelopeError::Truncated);
        }
        let count = payload_len.div_ceil(full);
        let last_len = payload_len - (count - 1) * full;
        if count > 1 && last_len == suite::TAG_LEN as u64 {
            return Err(EnvelopeError::TrailingData);
        }
        Ok(Self { payload_len, count })
    }

    /// Number of segments.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Plaintext length of the whole payload.
    pub fn plaintext_len(&self) -> u64 {
        self.payload_len - self.count * suite::TAG_LEN as u64
    }

    /// Byte range of segment `index` within the payload (relative to the
    /// payload start).
    pub fn segment_range(&self, index: u64) -> Result<core::ops::Range<u64>, EnvelopeError> {
        if index >= self.count {
            return Err(EnvelopeError::SegmentOutOfRange);
        }
        let full = SEGMENT_CIPHERTEXT_SIZE as u64;
        let start = index * full;
        let end = (start + full).min(self.payload_len);
        Ok(start..end)
    }
}
