//! Media attachments: the bytes a host fetched from the Graph API, checked
//! against the webhook's SHA-256 and size limit *while* they are sealed
//! into an envelope, failing closed (docs/WHATSAPP.md section 5).
//!
//! The host downloads the file (`GET /<MEDIA_ID>`, then the media URL) and
//! pushes the bytes as they arrive into a [`MediaSealer`]; at most 3 MiB of
//! them are held at a time, whatever the file's size:
//!
//! * [`MediaSealer::push`] refuses a chunk as soon as the total would
//!   exceed the limit ([`MediaError::TooLarge`]), so the host stops the
//!   download there;
//! * [`MediaSealer::finish`] compares the SHA-256 of everything pushed with
//!   the expected one (in constant time) *before* the final STREAM segment
//!   is sealed. On a mismatch ([`MediaError::HashMismatch`]) no final
//!   segment is ever produced: the bytes written so far are a truncated
//!   envelope that every opener refuses ([`EnvelopeError::Truncated`]).
//!   The host discards them anyway.
//!
//! SHA-256 and AES-256-GCM each take one core at about the same speed. So
//! that verifying costs little time over sealing alone, media past
//! [`PARALLEL_HASH_THRESHOLD`] is hashed on a second thread while the
//! calling thread seals it: a push longer than the threshold on a scoped
//! thread, in place; shorter pushes are copied into a few 1 MiB buffers
//! that one worker thread hashes in order (started when the media passes
//! the threshold, joined by [`MediaSealer::finish`] or on drop, so no thread
//! outlives the sealer). [`seal_media`] hashes its whole input on one
//! scoped thread. If no thread can be started, the hash is computed inline:
//! slower, never different.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::event::{Media, MediaKind};
use crate::envelope::{self, EnvelopeError, Labels, PayloadSealer};
use crate::keys::PublicKey;

/// Media of at most this many bytes (256 KiB) is hashed on the calling
/// thread as it is sealed. Past it, the hash runs on a second thread while
/// the calling thread seals: a push longer than this on a scoped thread of
/// its own (without a copy), shorter pushes on one worker thread fed with
/// copies. [`seal_media`] uses a scoped thread for inputs longer than this.
/// Below it a thread costs about as much as it saves: starting and joining
/// one takes 55 to 155 µs on the 2-vCPU test machine, hashing 256 KiB
/// about 0.17 ms (docs/WHATSAPP.md section 5.3, `cargo bench -p
/// caduceus-core --bench media`).
pub const PARALLEL_HASH_THRESHOLD: usize = 256 * 1024;

/// Length of a SHA-256 digest.
const SHA256_LEN: usize = 32;

/// Why media was not sealed. The messages never contain the media, its
/// hash or anything the patient sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The webhook announced no SHA-256 for the media.
    #[error(
        "the webhook gave no SHA-256 for this media, so the downloaded bytes cannot be verified; the media is not sealed (refuse it, or take the sha256 of the Graph API media object)"
    )]
    NoExpectedHash,
    /// More bytes than the limit for the media's kind.
    #[error(
        "the media is larger than the {limit} bytes allowed for its kind; stop the download and discard what was written"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The bytes do not have the SHA-256 the webhook announced.
    #[error(
        "the downloaded media does not match the SHA-256 the webhook announced; discard what was written and fetch the media again (with a new media URL)"
    )]
    HashMismatch,
    /// The envelope could not be sealed (recipients, labels, size).
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The hashing thread stopped unexpectedly; please report this.
    #[error("internal error in the media sealer; please report this")]
    Internal,
}

/// What the webhook says the media must be: its kind, SHA-256 and the
/// largest size accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaExpectation {
    /// The kind (its [`MediaKind::max_size`] caps `max_size`).
    pub kind: MediaKind,
    /// The SHA-256 the webhook announced (`sha256`, decoded).
    pub sha256: [u8; SHA256_LEN],
    /// The largest size accepted, in bytes. [`MediaExpectation::new`] sets
    /// it to [`MediaKind::max_size`]; a caller may lower it
    /// ([`MediaExpectation::with_max_size`]). A value above the kind's
    /// limit counts as the kind's limit.
    pub max_size: u64,
}

impl MediaExpectation {
    /// An expectation of `kind` with `sha256`, at the kind's size limit.
    pub fn new(kind: MediaKind, sha256: [u8; SHA256_LEN]) -> Self {
        Self {
            kind,
            sha256,
            max_size: kind.max_size(),
        }
    }

    /// The expectation for a webhook's media attachment: fails with
    /// [`MediaError::NoExpectedHash`] when the webhook gave no `sha256`
    /// (there would be nothing to verify the download against).
    pub fn from_media(media: &Media) -> Result<Self, MediaError> {
        let sha256 = media.sha256.ok_or(MediaError::NoExpectedHash)?;
        Ok(Self::new(media.kind, sha256))
    }

    /// The same with a lower size limit (a limit above the current one is
    /// ignored: the limit is never raised).
    #[must_use]
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = self.max_size.min(max_size);
        self
    }

    /// The limit enforced: `max_size`, at most the kind's limit.
    pub fn limit(&self) -> u64 {
        self.max_size.min(self.kind.max_size())
    }
}

/// Media that was verified and sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedMedia {
    /// The kind.
    pub kind: MediaKind,
    /// Size of the plaintext in bytes.
    pub size: u64,
    /// Its SHA-256 (equal to the expected one).
    pub sha256: [u8; SHA256_LEN],
}

/// A streaming envelope sealer that verifies the media's size and SHA-256
/// as it seals (docs/WHATSAPP.md section 5): media past
/// [`PARALLEL_HASH_THRESHOLD`] is hashed on a second thread, and nothing is
/// sealed as the final segment unless size and hash are right.
///
/// ```
/// use caduceus_core::envelope::{self, Labels};
/// use caduceus_core::keys::{KeyKind, PrivateKey};
/// use caduceus_core::whatsapp::{decode_sha256, MediaError, MediaExpectation, MediaKind, MediaSealer};
/// // The operating system RNG (never a seeded or test RNG).
/// let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
/// let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
/// let labels = Labels::new("p-3f9a", "clinical-photos", "treatment-communication",
///                          "image/jpeg", 1_700_000_000).unwrap();
/// // The webhook's "sha256" of the three bytes b"abc" (base64), as
/// // `printf abc | sha256sum` and base64 give it:
/// let sha256 = decode_sha256("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=").unwrap();
/// let expected = MediaExpectation::new(MediaKind::Image, sha256);
///
/// let (mut sealed, mut sealer) = MediaSealer::new(&[key.public_key()], &labels, expected, &mut rng).unwrap();
/// sealer.push(b"ab", &mut sealed).unwrap();
/// sealer.push(b"c", &mut sealed).unwrap();
/// let done = sealer.finish(&mut sealed).unwrap();
/// assert_eq!(done.size, 3);
/// assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext, b"abc");
///
/// // Other bytes: no final segment, nothing that opens.
/// let (mut partial, mut sealer) = MediaSealer::new(&[key.public_key()], &labels, expected, &mut rng).unwrap();
/// sealer.push(b"abd", &mut partial).unwrap();
/// assert_eq!(sealer.finish(&mut partial).unwrap_err(), MediaError::HashMismatch);
/// assert!(envelope::open(&partial, &key).is_err());
/// ```
///
/// After an error from [`MediaSealer::push`] every later call returns the
/// same error: discard the header and everything written.
pub struct MediaSealer {
    sealer: PayloadSealer,
    /// The hash state, unless `worker` holds it.
    hasher: Sha256,
    /// The worker thread for short pushes, once more than
    /// [`PARALLEL_HASH_THRESHOLD`] bytes were pushed (a long push takes its
    /// state back into `hasher`).
    worker: Option<HashWorker>,
    /// No thread could be started: hash everything here.
    inline_only: bool,
    expected: [u8; SHA256_LEN],
    kind: MediaKind,
    limit: u64,
    /// Bytes pushed so far.
    total: u64,
    /// The error that stopped this sealer, if any.
    failed: Option<MediaError>,
}

impl core::fmt::Debug for MediaSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MediaSealer")
            .field("kind", &self.kind)
            .field("limit", &self.limit)
            .field("pushed", &self.total)
            .field("hash_thread", &self.worker.is_some())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl MediaSealer {
    /// Start sealing media to `recipients`: returns the envelope header (to
    /// write first) and the sealer.
    pub fn new(
        recipients: &[PublicKey],
        labels: &Labels,
        expected: MediaExpectation,
        rng: &mut impl CryptoRng,
    ) -> Result<(Vec<u8>, MediaSealer), MediaError> {
        let (header, sealer) = envelope::begin_seal(recipients, labels, None, rng)?;
        Ok((
            header,
            MediaSealer {
                sealer,
                hasher: Sha256::new(),
                worker: None,
                inline_only: false,
                expected: expected.sha256,
                kind: expected.kind,
                limit: expected.limit(),
                total: 0,
                failed: None,
            },
        ))
    }

    /// Bytes pushed so far.
    pub fn pushed(&self) -> u64 {
        self.total
    }

    /// Seal the next `chunk` of the media, appending finished envelope
    /// bytes to `out`.
    ///
    /// Fails with [`MediaError::TooLarge`] as soon as the total would
    /// exceed the limit (nothing of that chunk is used; stop the download).
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.push_inner(chunk, out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn push_inner(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        self.total = u64::try_from(chunk.len())
            .ok()
            .and_then(|n| self.total.checked_add(n))
            .filter(|t| *t <= self.limit)
            .ok_or(MediaError::TooLarge { limit: self.limit })?;
        if self.inline_only || chunk.is_empty() {
            self.hasher.update(chunk);
            return self.sealer.push(chunk, out).map_err(MediaError::from);
        }
        if chunk.len() > PARALLEL_HASH_THRESHOLD {
            // A long push: hash it in place on a scoped thread, no copy.
            // The worker, if short pushes started one, hands over its state.
            if let Some(worker) = self.worker.take() {
                self.hasher = worker.finish()?;
            }
            let sealer = &mut self.sealer;
            return hash_while(&mut self.hasher, chunk, || sealer.push(chunk, out));
        }
        if self.worker.is_none() {
            if self.total <= PARALLEL_HASH_THRESHOLD as u64 {
                // Short media: a thread would cost more than it saves.
                self.hasher.update(chunk);
                return self.sealer.push(chunk, out).map_err(MediaError::from);
            }
            self.worker = HashWorker::start(&self.hasher);
            if self.worker.is_none() {
                self.inline_only = true;
                self.hasher.update(chunk);
                return self.sealer.push(chunk, out).map_err(MediaError::from);
            }
        }
        match &mut self.worker {
            Some(worker) => worker.feed(chunk, &mut self.sealer, out),
            None => Err(MediaError::Internal),
        }
    }

    /// Check the size and the SHA-256 of everything pushed, then seal the
    /// final segment into `out`.
    ///
    /// On [`MediaError::HashMismatch`] (or any other error) no final segment
    /// is written: `out` ends in a truncated envelope that no opener
    /// accepts. Discard it.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<SealedMedia, MediaError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let hasher = match self.worker.take() {
            Some(worker) => worker.finish()?,
            None => core::mem::take(&mut self.hasher),
        };
        if self.total > self.limit {
            return Err(MediaError::TooLarge { limit: self.limit });
        }
        let digest: [u8; SHA256_LEN] = hasher.finalize().into();
        if !bool::from(digest.ct_eq(&self.expected)) {
            // `self.sealer` is dropped here: the final segment never exists.
            return Err(MediaError::HashMismatch);
        }
        self.sealer.finish(out)?;
        Ok(SealedMedia {
            kind: self.kind,
            size: self.total,
            sha256: digest,
        })
    }
}

/// Bytes per buffer handed to the hash thread.
const WORKER_BUFFER: usize = 1024 * 1024;
/// Buffers in use at most (one being filled, the others queued or being
/// hashed): the memory bound is `WORKER_BUFFERS * WORKER_BUFFER`.
const WORKER_BUFFERS: usize = 3;

/// A buffer of media bytes, zeroized on drop.
type Buffer = Zeroizing<Vec<u8>>;

/// The second thread: hashes the buffers it is sent, in order, and hands
/// them back for reuse. It ends when the sender is dropped, returning the
/// hash state.
struct HashWorker {
    to_hash: Option<SyncSender<Buffer>>,
    free: Receiver<Buffer>,
    handle: Option<JoinHandle<Sha256>>,
    /// The buffer being filled.
    current: Buffer,
    /// Buffers allocated so far.
    allocated: usize,
}

impl HashWorker {
    /// Start the thread, continuing from the hash state `hasher`; `None`
    /// if no thread can be started.
    fn start(hasher: &Sha256) -> Option<Self> {
        let (to_hash, queue) = mpsc::sync_channel::<Buffer>(WORKER_BUFFERS);
        let (give_back, free) = mpsc::sync_channel::<Buffer>(WORKER_BUFFERS);
        let mut hasher = hasher.clone();
        let handle = thread::Builder::new()
            .name("caduceus-media-sha256".into())
            .spawn(move || {
                for buffer in queue {
                    hasher.update(buffer.as_slice());
                    // The sealer may be gone (dropped after an error).
                    let _ = give_back.send(buffer);
                }
                hasher
            })
            .ok()?;
        Some(Self {
            to_hash: Some(to_hash),
            free,
            handle: Some(handle),
            current: Zeroizing::new(Vec::with_capacity(WORKER_BUFFER)),
            allocated: 1,
        })
    }

    /// Copy `data` into buffers for the thread to hash, and seal it here.
    fn feed(
        &mut self,
        mut data: &[u8],
        sealer: &mut PayloadSealer,
        out: &mut Vec<u8>,
    ) -> Result<(), MediaError> {
        while !data.is_empty() {
            let room = WORKER_BUFFER.saturating_sub(self.current.len());
            let (piece, rest) = data
                .split_at_checked(room.min(data.len()))
                .unwrap_or((data, &[]));
            let start = self.current.len();
            self.current.extend_from_slice(piece);
            sealer.push(self.current.get(start..).unwrap_or_default(), out)?;
            data = rest;
            if self.current.len() >= WORKER_BUFFER {
                self.send_current()?;
            }
        }
        Ok(())
    }

    /// Queue the current buffer and take a free one.
    fn send_current(&mut self) -> Result<(), MediaError> {
        if self.current.is_empty() {
            return Ok(());
        }
        let next = match self.free.try_recv() {
            Ok(buffer) => buffer,
            Err(_) if self.allocated < WORKER_BUFFERS => {
                self.allocated += 1;
                Zeroizing::new(Vec::with_capacity(WORKER_BUFFER))
            }
            // Wait for the thread to finish one.
            Err(_) => self.free.recv().map_err(|_| MediaError::Internal)?,
        };
        let full = core::mem::replace(&mut self.current, next);
        self.current.clear();
        let sender = self.to_hash.as_ref().ok_or(MediaError::Internal)?;
        sender.send(full).map_err(|_| MediaError::Internal)
    }

    /// Queue what is left, stop the thread and return the hash state.
    fn finish(mut self) -> Result<Sha256, MediaError> {
        self.send_current()?;
        self.to_hash = None;
        self.handle
            .take()
            .ok_or(MediaError::Internal)?
            .join()
            .map_err(|_| MediaError::Internal)
    }
}

impl Drop for HashWorker {
    fn drop(&mut self) {
        // Close the queue and wait for the thread (at most a few buffers of
        // hashing), so that no thread outlives the sealer.
        self.to_hash = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Seal `bytes` in one call after the same checks as [`MediaSealer`]:
/// returns the whole envelope, or an error and nothing (no partial
/// envelope) when the size or the SHA-256 is wrong. The size is checked
/// before anything is sealed. Past [`PARALLEL_HASH_THRESHOLD`] bytes, the
/// hash is computed on a second (scoped) thread while this one seals.
pub fn seal_media(
    recipients: &[PublicKey],
    labels: &Labels,
    expected: MediaExpectation,
    bytes: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, MediaError> {
    let limit = expected.limit();
    if u64::try_from(bytes.len()).map_or(true, |n| n > limit) {
        return Err(MediaError::TooLarge { limit });
    }
    let (mut out, mut sealer) = envelope::begin_seal(recipients, labels, None, rng)?;
    let segments = bytes.len().div_ceil(envelope::SEGMENT_SIZE).max(1);
    out.reserve(
        bytes
            .len()
            .saturating_add(segments.saturating_mul(envelope::TAG_LEN)),
    );
    let mut hasher = Sha256::new();
    hash_while(&mut hasher, bytes, || sealer.push(bytes, &mut out))?;
    let digest: [u8; SHA256_LEN] = hasher.finalize().into();
    if !bool::from(digest.ct_eq(&expected.sha256)) {
        // `out` (header and non-final segments) is dropped: nothing is
        // returned.
        return Err(MediaError::HashMismatch);
    }
    sealer.finish(&mut out)?;
    Ok(out)
}

/// Add `bytes` to `hasher` on a scoped thread while `seal` runs here, when
/// `bytes` is longer than [`PARALLEL_HASH_THRESHOLD`] (else, or if no
/// thread can be started, here after `seal`).
fn hash_while(
    hasher: &mut Sha256,
    bytes: &[u8],
    seal: impl FnOnce() -> Result<(), EnvelopeError>,
) -> Result<(), MediaError> {
    if bytes.len() <= PARALLEL_HASH_THRESHOLD {
        seal()?;
        hasher.update(bytes);
        return Ok(());
    }
    let (hashed, sealed) = thread::scope(|scope| {
        let handle = thread::Builder::new()
            .name("caduceus-media-sha256".into())
            .spawn_scoped(scope, || hasher.update(bytes))
            .ok();
        let sealed = seal();
        (handle.map(|h| h.join()), sealed)
    });
    match hashed {
        Some(Ok(())) => {}
        // The thread panicked: the hash state is unknown.
        Some(Err(_)) => return Err(MediaError::Internal),
        None => hasher.update(bytes),
    }
    sealed.map_err(MediaError::from)
}

/// Decode a SHA-256 as the webhook (`sha256`, base64) or the Graph API
/// media object may give it: standard base64 (`+`, `/`) with or without
/// `=` padding, or 64 hexadecimal digits in either case. Anything else (a
/// digest of another length, URL-safe base64, whitespace, non-canonical
/// trailing bits) is `None`.
///
/// ```
/// use caduceus_core::whatsapp::decode_sha256;
/// let b64 = decode_sha256("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=").unwrap();
/// let hex = decode_sha256("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").unwrap();
/// assert_eq!(b64, hex);
/// assert_eq!(decode_sha256("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"), Some(b64));
/// assert_eq!(decode_sha256("4654+8g="), None); // not 32 bytes
/// ```
pub fn decode_sha256(text: &str) -> Option<[u8; SHA256_LEN]> {
    if text.len() == 2 * SHA256_LEN {
        let mut out = [0u8; SHA256_LEN];
        for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let [hi, lo] = pair else { return None };
            *byte = hex_digit(*hi)? << 4 | hex_digit(*lo)?;
        }
        return Some(out);
    }
    // 44 characters with padding, 43 without.
    if !(43..=44).contains(&text.len()) {
        return None;
    }
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = ENGINE.decode(text).ok()?;
    <[u8; SHA256_LEN]>::try_from(bytes.as_slice()).ok()
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::keys::{KeyKind, PrivateKey};
    use crate::testing::DeterministicRng;

    fn labels() -> Labels {
        Labels::new("p-1", "clinical-photos", "treatment", "image/jpeg", 0).unwrap()
    }

    fn sha(bytes: &[u8]) -> [u8; 32] {
        crate::suite::sha256(&[bytes])
    }

    #[test]
    fn decode_accepts_base64_and_hex_only() {
        // printf abc | sha256sum
        let digest = sha(b"abc");
        assert_eq!(
            decode_sha256("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
            Some(digest)
        );
        assert_eq!(
            decode_sha256("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
            Some(digest)
        );
        for bad in [
            "",
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=",
            " ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0==",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
            "é816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015add",
        ] {
            assert_eq!(decode_sha256(bad), None, "{bad:?}");
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "megabytes of SHA-256 and AES-GCM and threads: minutes under Miri; runs natively in make unit"
    )]
    fn short_and_long_pushes_hash_in_order_across_the_threads() {
        let mut rng = DeterministicRng::new(5);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let t = PARALLEL_HASH_THRESHOLD;
        let data: Vec<u8> = (0..20 * t + 777).map(|i| (i % 251) as u8).collect();
        let expected = MediaExpectation::new(MediaKind::Video, sha(&data));
        let (mut out, mut sealer) =
            MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
        // (push length, whether the worker thread runs afterwards): short
        // pushes within the threshold stay inline; a short push past it
        // starts the worker, more short pushes feed it (several buffers'
        // worth); a long push takes the state back on a scoped thread; a
        // short push starts a worker again.
        let steps = [
            (1000, false),
            (t - 1000, false),
            (1, true),
            (5000, true),
            (WORKER_BUFFER * WORKER_BUFFERS + 1, false),
            (t + 1, false),
            (t, true),
            (65_537, true),
            (3 * t, false),
            (17, true),
        ];
        let mut start = 0;
        for (len, worker) in steps {
            let end = start + len;
            if len > t || worker {
                sealer.push(&data[start..end], &mut out).unwrap();
            } else {
                // Short pushes in pieces.
                for piece in data[start..end].chunks(4096) {
                    sealer.push(piece, &mut out).unwrap();
                }
            }
            assert_eq!(sealer.worker.is_some(), worker, "after {len}");
            start = end;
        }
        for piece in data[start..].chunks(65_537) {
            sealer.push(piece, &mut out).unwrap();
        }
        assert_eq!(sealer.pushed(), data.len() as u64);
        let done = sealer.finish(&mut out).unwrap();
        assert_eq!(done.sha256, sha(&data));
        assert_eq!(crate::envelope::open(&out, &key).unwrap().plaintext, data);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "megabytes of SHA-256 and AES-GCM and threads: minutes under Miri; runs natively in make unit"
    )]
    fn a_mismatch_on_either_thread_writes_no_final_segment() {
        let mut rng = DeterministicRng::new(7);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let mut data = vec![0x5A; 4 * PARALLEL_HASH_THRESHOLD + 10];
        let expected = MediaExpectation::new(MediaKind::Video, sha(&data));
        data[2 * PARALLEL_HASH_THRESHOLD + 1] ^= 1;
        for piece_len in [data.len(), 10_000] {
            let (mut out, mut sealer) =
                MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
            for piece in data.chunks(piece_len) {
                sealer.push(piece, &mut out).unwrap();
            }
            assert_eq!(sealer.worker.is_some(), piece_len == 10_000);
            assert_eq!(sealer.finish(&mut out), Err(MediaError::HashMismatch));
            assert_eq!(
                crate::envelope::open(&out, &key),
                Err(EnvelopeError::Truncated)
            );
        }
    }

    #[test]
    fn an_error_sticks() {
        let mut rng = DeterministicRng::new(6);
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let expected = MediaExpectation::new(MediaKind::Sticker, [0; 32]).with_max_size(10);
        assert_eq!(expected.limit(), 10);
        let (mut out, mut sealer) =
            MediaSealer::new(&[key.public_key()], &labels(), expected, &mut rng).unwrap();
        sealer.push(&[1; 10], &mut out).unwrap();
        let err = sealer.push(&[1], &mut out).unwrap_err();
        assert_eq!(err, MediaError::TooLarge { limit: 10 });
        assert_eq!(sealer.push(&[], &mut out).unwrap_err(), err);
        assert_eq!(sealer.finish(&mut out).unwrap_err(), err);
    }
}
