//! `std::io` adapters for sealing and opening media of any size in one
//! segment of memory.

use std::io::{self, Read, Write};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{
    EnvelopeError, Header, Labels, Part, PayloadOpener, PayloadSealer, SEGMENT_CIPHERTEXT_SIZE,
    begin_seal, header_len_from_prefix, unlock,
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
/// ```
/// use std::io::Write;
/// use caduceus_core::envelope::{self, Labels, SealWriter};
/// use caduceus_core::keys::{KeyKind, PrivateKey};
/// # let mut rng = caduceus_core::testing::DeterministicRng::new(5);
/// let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
/// let labels = Labels::new("p-1", "clinical-photos", "treatment", "image/jpeg", 0).unwrap();
/// let mut w = SealWriter::new(Vec::new(), &[key.public_key()], &labels, None, &mut rng).unwrap();
/// w.write_all(&vec![0xAB; 200_000]).unwrap();
/// let sealed = w.finish().unwrap();
/// assert_eq!(envelope::open(&sealed, &key).unwrap().plaintext.len(), 200_000);
/// ```
#[derive(Debug)]
pub struct SealWriter<W: Write> {
    out: W,
    sealer: Option<PayloadSealer>,
    pending: Vec<u8>,
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
            pending: Vec::with_capacity(SEGMENT_CIPHERTEXT_SIZE),
        })
    }

    /// Seal the final segment, flush, and return the inner writer.
    pub fn finish(mut self) -> Result<W, EnvelopeError> {
        let sealer = self.sealer.take().ok_or(EnvelopeError::Internal)?;
        sealer.finish(&mut self.pending)?;
        self.out
            .write_all(&self.pending)
            .map_err(|e| EnvelopeError::Io(e.kind()))?;
        self.out.flush().map_err(|e| EnvelopeError::Io(e.kind()))?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let sealer = self
            .sealer
            .as_mut()
            .ok_or_else(|| io_err(EnvelopeError::Internal))?;
        // Take at most one segment per call to keep memory bounded.
        let take = buf.len().min(super::SEGMENT_SIZE);
        let chunk = buf.get(..take).unwrap_or_default();
        sealer.push(chunk, &mut self.pending).map_err(io_err)?;
        if !self.pending.is_empty() {
            self.out.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads and authenticates an envelope from `R`, yielding plaintext.
/// Plaintext is released one authenticated segment at a time; an error at
/// any point (including at the end: a truncated stream) means the data read
/// so far must be discarded.
#[derive(Debug)]
pub struct OpenReader<R: Read> {
    inner: R,
    header: Header,
    opener: Option<PayloadOpener>,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    chunk: Vec<u8>,
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
            plain: Zeroizing::new(Vec::with_capacity(SEGMENT_CIPHERTEXT_SIZE)),
            pos: 0,
            chunk: vec![0u8; 16 * 1024],
        })
    }

    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Fill `plain` with the next authenticated plaintext, or finish.
    fn refill(&mut self) -> Result<(), EnvelopeError> {
        self.plain.clear();
        self.pos = 0;
        while self.plain.is_empty() {
            let Some(opener) = self.opener.as_mut() else {
                return Ok(());
            };
            let n = loop {
                match self.inner.read(&mut self.chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(EnvelopeError::Io(e.kind())),
                }
            };
            if n == 0 {
                let opener = self.opener.take().ok_or(EnvelopeError::Internal)?;
                opener.finish(&mut self.plain)?;
                return Ok(());
            }
            opener.push(self.chunk.get(..n).unwrap_or_default(), &mut self.plain)?;
        }
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.plain.len() {
            self.refill().map_err(io_err)?;
        }
        let avail = self.plain.get(self.pos..).unwrap_or_default();
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
