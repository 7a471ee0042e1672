//! The segmented AES-256-GCM payload (STREAM construction).
//!
//! Plaintext is cut into 64 KiB segments; segment *i* is sealed with nonce
//! = 88-bit big-endian *i* || last-flag byte (0x01 for the final segment,
//! 0x00 otherwise) and no associated data. The final segment is the only
//! one that may be shorter than 64 KiB; it is empty only when the whole
//! plaintext is. Memory use is one segment, whatever the payload size.
//!
//! Two ways to drive a [`PayloadSealer`] / [`PayloadOpener`]:
//!
//! * **Copying**: [`PayloadSealer::push`] / [`PayloadSealer::finish`] take
//!   any slices and append to a `Vec`; every byte is copied once.
//! * **In place**: [`PayloadSealer::seal_segment_in_place`] and
//!   [`PayloadOpener::open_segment_in_place`] take one segment at a time
//!   in the caller's buffer and transform it there (the tag goes in and out
//!   separately); [`PayloadSealer::seal_payload_in_place`] does a whole
//!   payload laid out as it will be stored (segments with their tag slots).
//!   The caller does the segmentation, so misuse is checked and reported as
//!   a [`SegmentError`], never turned into a wrong envelope.

use zeroize::{Zeroize, Zeroizing};

use super::EnvelopeError;
use crate::suite::{self, SegmentCipher};

/// Plaintext bytes per segment.
pub const SEGMENT_SIZE: usize = 64 * 1024;
/// Ciphertext bytes of a full segment (plaintext plus tag).
pub const SEGMENT_CIPHERTEXT_SIZE: usize = SEGMENT_SIZE + suite::TAG_LEN;
/// Bytes of the AES-GCM tag that ends each segment.
pub const TAG_LEN: usize = suite::TAG_LEN;

/// Errors of the in-place segment API: misuse of the API (each its own
/// variant), or an [`EnvelopeError`] (a segment that does not authenticate,
/// a payload too large for the format).
///
/// Misuse is detected before anything is written: the caller's buffer is
/// left as it was and the sealer or opener is unchanged, so no wrong
/// envelope and no unauthenticated plaintext can result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// A segment that is not the last must hold exactly [`SEGMENT_SIZE`]
    /// bytes (plaintext when sealing, ciphertext without the tag when
    /// opening); the last one at most that many.
    #[error(
        "a payload segment must hold exactly {SEGMENT_SIZE} bytes (at most that many if it is the last); got {len}"
    )]
    BadSegmentLength {
        /// The length given.
        len: usize,
    },
    /// An empty final segment after other segments: only an empty
    /// plaintext has an empty final segment (sealing; when opening, the
    /// same data is an envelope error, [`EnvelopeError::TrailingData`]).
    #[error("an empty final segment may only end an empty payload")]
    EmptyFinalSegment,
    /// The final segment was already sealed or opened.
    #[error("the final segment was already sealed or opened; nothing may follow it")]
    AfterFinalSegment,
    /// `push` holds buffered bytes that are not a sealed (or opened)
    /// segment yet. `push` keeps up to one segment back until it knows
    /// whether more data follows, so after a non-empty `push` the payload
    /// must be ended with `push` and `finish`; in-place calls may come
    /// first, and `push` after them.
    #[error("push has buffered bytes; they must be sealed or opened before an in-place segment")]
    PushBuffered,
    /// A framed payload buffer whose length no payload can have (see
    /// [`SegmentLayout::for_plaintext`]).
    #[error("a framed payload of {len} bytes has no valid segment layout")]
    BadPayloadLength {
        /// The length given.
        len: usize,
    },
    /// The envelope-level error: a segment that does not authenticate
    /// ([`EnvelopeError::SegmentCorrupted`], [`EnvelopeError::Truncated`],
    /// [`EnvelopeError::TrailingData`]), or [`EnvelopeError::InputTooLarge`].
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

impl From<SegmentError> for EnvelopeError {
    /// The envelope error itself, or [`EnvelopeError::Internal`] for misuse
    /// of the API (for code that segments correctly by construction, such
    /// as [`super::SealWriter`], misuse is an internal bug).
    fn from(e: SegmentError) -> Self {
        match e {
            SegmentError::Envelope(e) => e,
            _ => EnvelopeError::Internal,
        }
    }
}

/// The checks the in-place calls share (everything but the empty final
/// segment, which the sealer and opener treat differently).
fn check_in_place(done: bool, buffered: usize, len: usize, last: bool) -> Result<(), SegmentError> {
    if done {
        return Err(SegmentError::AfterFinalSegment);
    }
    if buffered != 0 {
        return Err(SegmentError::PushBuffered);
    }
    if len > SEGMENT_SIZE || (!last && len != SEGMENT_SIZE) {
        return Err(SegmentError::BadSegmentLength { len });
    }
    Ok(())
}

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
    open_body(cipher, counter, last, body, &tag)?;
    buf.truncate(ct_len);
    Ok(())
}

/// Decrypt the ciphertext `body` of one segment in place after checking
/// `tag`. On failure `body` is unchanged (`aes-gcm` verifies the tag before
/// decrypting), and the error tells a truncated or extended stream apart
/// from a corrupted segment where it can.
fn open_body(
    cipher: &SegmentCipher,
    counter: u64,
    last: bool,
    body: &mut [u8],
    tag: &[u8; suite::TAG_LEN],
) -> Result<(), EnvelopeError> {
    if cipher
        .open_in_place(&nonce(counter, last), body, tag)
        .is_ok()
    {
        return Ok(());
    }
    // Diagnose without releasing anything: a final segment that is
    // authentic as a middle one means the stream was cut after it; a middle
    // segment that is authentic as a final one means bytes were appended.
    let mut probe = Zeroizing::new(body.to_vec());
    let diagnosis = if cipher
        .open_in_place(&nonce(counter, !last), &mut probe, tag)
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

/// Payload encryptor. Either feed plaintext with [`PayloadSealer::push`]
/// and end with [`PayloadSealer::finish`] (copying; holds at most one
/// segment), or seal the caller's segments in place with
/// [`PayloadSealer::seal_segment_in_place`] (or a whole framed payload with
/// [`PayloadSealer::seal_payload_in_place`]). In-place segments may be
/// followed by `push`, not the other way round (`push` keeps its last bytes
/// back until `finish`; see [`SegmentError::PushBuffered`]).
pub struct PayloadSealer {
    cipher: SegmentCipher,
    buf: Zeroizing<Vec<u8>>,
    counter: u64,
    /// The final segment was sealed in place: nothing may follow.
    done: bool,
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
            // Allocated on the first push, to the size it needs: a short
            // message does not allocate (and zeroize) a whole segment.
            buf: Zeroizing::new(Vec::new()),
            counter: 0,
            done: false,
        }
    }

    /// Encrypt `data`, appending finished segments to `out`.
    ///
    /// Fails with [`EnvelopeError::TrailingData`] once the final segment
    /// was sealed in place (the data would follow the end of the payload).
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.done {
            return Err(EnvelopeError::TrailingData);
        }
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
            self.reserve(take);
            self.buf.extend_from_slice(head);
            data = tail;
        }
        Ok(())
    }

    /// Seal the final segment and append it to `out`.
    ///
    /// Fails with [`EnvelopeError::TrailingData`] if the final segment was
    /// already sealed in place (a second final segment would follow it).
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.done {
            return Err(EnvelopeError::TrailingData);
        }
        self.seal_buffered(true, out)
    }

    /// Encrypt one segment in place and return its tag, which follows the
    /// segment in the payload (ciphertext || tag).
    ///
    /// `segment` holds exactly [`SEGMENT_SIZE`] plaintext bytes, unless
    /// `last` is set: the final segment holds 0 to [`SEGMENT_SIZE`] bytes,
    /// and 0 only if it is also the first (an empty payload). Segments are
    /// numbered in call order, continuing after any segments `push` sealed.
    /// The output is byte for byte what `push` and `finish` give for the
    /// same plaintext.
    ///
    /// Errors, each leaving `segment` and the sealer unchanged:
    /// [`SegmentError::BadSegmentLength`] (a short or long segment),
    /// [`SegmentError::EmptyFinalSegment`], [`SegmentError::AfterFinalSegment`]
    /// (a call after the final segment), [`SegmentError::PushBuffered`]
    /// (`push` holds part of a segment), or
    /// [`EnvelopeError::InputTooLarge`] inside [`SegmentError::Envelope`].
    ///
    /// ```
    /// use caduceus_core::envelope::{self, Labels, SEGMENT_SIZE};
    /// use caduceus_core::keys::{KeyKind, PrivateKey};
    /// // The operating system RNG (never a seeded or test RNG).
    /// let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
    /// let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    /// let labels = Labels::new("p-1", "clinical-photos", "treatment", "image/jpeg", 0).unwrap();
    /// let (mut sealed, mut sealer) = envelope::begin_seal(&[key.public_key()], &labels, None, &mut rng).unwrap();
    /// let mut media = vec![0xAB; SEGMENT_SIZE + 1000];
    /// let count = media.chunks(SEGMENT_SIZE).count();
    /// for (i, segment) in media.chunks_mut(SEGMENT_SIZE).enumerate() {
    ///     let tag = sealer.seal_segment_in_place(segment, i + 1 == count).unwrap();
    ///     sealed.extend_from_slice(segment); // now ciphertext
    ///     sealed.extend_from_slice(&tag);
    /// }
    /// assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, vec![0xAB; SEGMENT_SIZE + 1000]);
    /// ```
    pub fn seal_segment_in_place(
        &mut self,
        segment: &mut [u8],
        last: bool,
    ) -> Result<[u8; TAG_LEN], SegmentError> {
        check_in_place(self.done, self.buf.len(), segment.len(), last)?;
        if last && segment.is_empty() && self.counter > 0 {
            return Err(SegmentError::EmptyFinalSegment);
        }
        let next = self
            .counter
            .checked_add(1)
            .ok_or(EnvelopeError::InputTooLarge)?;
        let tag = self
            .cipher
            .seal_in_place(&nonce(self.counter, last), segment)
            .map_err(|_| EnvelopeError::Internal)?;
        self.counter = next;
        self.done = last;
        Ok(tag)
    }

    /// Seal a whole (remaining) payload in place, in the layout it is
    /// stored in: each segment's plaintext followed by a [`TAG_LEN`]-byte
    /// slot that receives its tag. For hosts that hold the payload in one
    /// buffer (a memory-mapped file, say): size it with
    /// [`SegmentLayout::for_plaintext`] and put the plaintext of segment
    /// *i* at the start of [`SegmentLayout::segment_range`]`(i)`.
    ///
    /// The length is checked before anything is sealed
    /// ([`SegmentError::BadPayloadLength`]), as are the other rules of
    /// [`PayloadSealer::seal_segment_in_place`]; the first segment here
    /// continues the numbering of any segments already sealed.
    ///
    /// ```
    /// use caduceus_core::envelope::{self, Labels, SegmentLayout};
    /// use caduceus_core::keys::{KeyKind, PrivateKey};
    /// // The operating system RNG (never a seeded or test RNG).
    /// let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
    /// let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    /// let labels = Labels::new("p-1", "clinical-photos", "treatment", "image/jpeg", 0).unwrap();
    /// let media = vec![0xCD; 150_000];
    /// let layout = SegmentLayout::for_plaintext(media.len() as u64).unwrap();
    /// let (header, sealer) = envelope::begin_seal(&[key.public_key()], &labels, None, &mut rng).unwrap();
    /// let mut payload = vec![0u8; layout.payload_len() as usize];
    /// let mut plain = media.chunks(envelope::SEGMENT_SIZE);
    /// for i in 0..layout.count() {
    ///     let start = layout.segment_range(i).unwrap().start as usize;
    ///     let chunk = plain.next().unwrap_or_default();
    ///     payload[start..start + chunk.len()].copy_from_slice(chunk);
    /// }
    /// sealer.seal_payload_in_place(&mut payload).unwrap();
    /// let sealed = [header, payload].concat();
    /// assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, media);
    /// ```
    pub fn seal_payload_in_place(mut self, payload: &mut [u8]) -> Result<(), SegmentError> {
        check_in_place(self.done, self.buf.len(), 0, true)?;
        let len = payload.len();
        let bad = SegmentError::BadPayloadLength { len };
        // Length of the final segment including its tag slot.
        let last_len = len
            .checked_sub(1)
            .map_or(0, |l| l % SEGMENT_CIPHERTEXT_SIZE + 1);
        if last_len < TAG_LEN || (last_len == TAG_LEN && (len > TAG_LEN || self.counter > 0)) {
            return Err(bad);
        }
        let count = len.div_ceil(SEGMENT_CIPHERTEXT_SIZE);
        for (i, segment) in payload.chunks_mut(SEGMENT_CIPHERTEXT_SIZE).enumerate() {
            let body_len = segment.len().checked_sub(TAG_LEN).ok_or(bad.clone())?;
            let (body, slot) = segment.split_at_mut(body_len);
            let tag = self.seal_segment_in_place(body, i + 1 == count)?;
            slot.copy_from_slice(&tag);
        }
        Ok(())
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

    /// Make room for `more` bytes in `buf` without a reallocation that
    /// would leave plaintext in freed memory: a new buffer is allocated (the
    /// exact size on the first push, a whole segment after that), the bytes
    /// are copied over, and the old buffer is zeroized as it is dropped.
    fn reserve(&mut self, more: usize) {
        let need = self.buf.len() + more;
        if need <= self.buf.capacity() {
            return;
        }
        let first = self.counter == 0 && self.buf.capacity() == 0;
        let capacity = if first { need } else { need.max(SEGMENT_SIZE) };
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(&self.buf);
        self.buf = grown;
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

/// Payload decryptor. Either feed ciphertext with [`PayloadOpener::push`]
/// and end with [`PayloadOpener::finish`] (copying), or open the caller's
/// segments in place with [`PayloadOpener::open_segment_in_place`].
/// Plaintext is released one authenticated segment at a time; only the
/// final segment (`finish`, or an in-place call with `last` set) proves
/// that the stream was complete (not truncated), so a caller must discard
/// what it received if that fails.
pub struct PayloadOpener {
    cipher: SegmentCipher,
    buf: Zeroizing<Vec<u8>>,
    counter: u64,
    /// The final segment was opened in place: nothing may follow.
    done: bool,
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
            done: false,
        }
    }

    /// Decrypt `data`, appending plaintext of authenticated segments to `out`.
    ///
    /// Fails with [`EnvelopeError::TrailingData`] once the final segment
    /// was opened in place.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.done {
            return Err(EnvelopeError::TrailingData);
        }
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

    /// Decrypt one segment in place, after checking its `tag` (the
    /// [`TAG_LEN`] bytes that follow it in the payload).
    ///
    /// `segment` holds the segment's ciphertext without the tag: exactly
    /// [`SEGMENT_SIZE`] bytes unless `last` is set (the final segment holds
    /// 0 to [`SEGMENT_SIZE`]). Segments are numbered in call order,
    /// continuing after any segments `push` opened.
    ///
    /// `segment` is overwritten with plaintext only if the tag checks out;
    /// on any error it still holds the ciphertext, and the opener is
    /// unchanged. Errors: [`SegmentError::BadSegmentLength`],
    /// [`SegmentError::AfterFinalSegment`], [`SegmentError::PushBuffered`]
    /// (misuse), or in [`SegmentError::Envelope`]:
    /// [`EnvelopeError::SegmentCorrupted`], [`EnvelopeError::Truncated`] (a
    /// middle segment given as the last: the stream was cut),
    /// [`EnvelopeError::TrailingData`] (the final segment given as a middle
    /// one, or an empty final segment after others).
    pub fn open_segment_in_place(
        &mut self,
        segment: &mut [u8],
        tag: &[u8; TAG_LEN],
        last: bool,
    ) -> Result<(), SegmentError> {
        check_in_place(self.done, self.buf.len(), segment.len(), last)?;
        if last && segment.is_empty() && self.counter > 0 {
            // An empty final segment after a full one is never written.
            return Err(EnvelopeError::TrailingData.into());
        }
        let next = self
            .counter
            .checked_add(1)
            .ok_or(EnvelopeError::InputTooLarge)?;
        open_body(&self.cipher, self.counter, last, segment, tag)?;
        self.counter = next;
        self.done = last;
        Ok(())
    }

    /// Decrypt the final segment and append its plaintext to `out`.
    ///
    /// Fails with [`EnvelopeError::TrailingData`] if the final segment was
    /// already opened in place.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.done {
            return Err(EnvelopeError::TrailingData);
        }
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
    /// Layout of the payload that a plaintext of `plaintext_len` bytes
    /// seals to.
    pub fn for_plaintext(plaintext_len: u64) -> Result<Self, EnvelopeError> {
        let count = plaintext_len.div_ceil(SEGMENT_SIZE as u64).max(1);
        let payload_len = count
            .checked_mul(suite::TAG_LEN as u64)
            .and_then(|tags| tags.checked_add(plaintext_len))
            .ok_or(EnvelopeError::InputTooLarge)?;
        Self::new(payload_len)
    }

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

    /// Length of the whole payload (ciphertext and tags).
    pub fn payload_len(&self) -> u64 {
        self.payload_len
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
        // `start < payload_len`; saturating keeps a caller-given length
        // near `u64::MAX` from overflowing (the `min` clamps it anyway).
        let end = start.saturating_add(full).min(self.payload_len);
        Ok(start..end)
    }
}
