//! Envelopes: one-shot, streaming ([`Sealer`], [`Opener`]) and
//! file-to-file ([`seal_file`], [`open_file`]).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use caduceus_core::envelope::{
    self as core_env, EnvelopeError, OpenReader, PayloadSealer, PushOpener,
    SEGMENT_CIPHERTEXT_SIZE, SealWriter,
};
use zeroize::Zeroizing;

use crate::error::CaduceusError;
use crate::keys::{KeyringRecord, PrivateKey, PublicKey, core_public_keys, key_id};
use crate::rng;

/// Policy labels in the authenticated header: a store enforces retention
/// on them without decrypting.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Labels {
    /// Pseudonym of the data subject (never a name or number).
    pub subject: String,
    /// Data category, e.g. `chat-messages`, `clinical-photos`.
    pub category: String,
    /// Purpose of processing, e.g. `treatment-communication`.
    pub purpose: String,
    /// Media type of the plaintext, e.g. `image/jpeg`.
    pub content_type: String,
    /// Creation time, Unix seconds (UTC).
    pub created_at: i64,
}

impl Labels {
    fn to_core(&self) -> Result<core_env::Labels, CaduceusError> {
        Ok(core_env::Labels::new(
            &self.subject,
            &self.category,
            &self.purpose,
            &self.content_type,
            self.created_at,
        )?)
    }
}

/// What anyone can read from an envelope header; after an open, it is
/// authenticated.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Header {
    /// Random envelope id (hex).
    pub envelope_id: String,
    /// The policy labels.
    pub labels: Labels,
    /// "Part x of y" of a message split into several envelopes: x.
    pub part_index: Option<u32>,
    /// ... and y.
    pub part_count: Option<u32>,
    /// Key ids of the recipients.
    pub recipients: Vec<String>,
    /// Length of the header: where the payload starts.
    pub header_len: u64,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<&core_env::Header> for Header {
    fn from(h: &core_env::Header) -> Self {
        let l = &h.labels;
        Self {
            envelope_id: hex(&h.envelope_id),
            labels: Labels {
                subject: l.subject.clone(),
                category: l.category.clone(),
                purpose: l.purpose.clone(),
                content_type: l.content_type.clone(),
                created_at: l.created_at,
            },
            part_index: h.part.map(|p| p.index),
            part_count: h.part.map(|p| p.count),
            recipients: h.recipients.iter().map(ToString::to_string).collect(),
            header_len: h.header_len as u64,
        }
    }
}

/// An opened envelope. (No `Debug` on purpose: the plaintext must not end
/// up in a log line.)
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Opened {
    /// The authenticated header.
    pub header: Header,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

fn opened(o: core_env::Opened) -> Opened {
    Opened {
        header: (&o.header).into(),
        plaintext: o.plaintext,
    }
}

fn env_err(e: EnvelopeError) -> CaduceusError {
    match e {
        EnvelopeError::Io(kind) => CaduceusError::Io {
            reason: kind.to_string(),
        },
        other => other.into(),
    }
}

/// Seal `plaintext` to `recipients` (a keyring record's public key, as a
/// rule) with `labels`.
#[uniffi::export]
pub fn seal(
    recipients: Vec<Arc<PublicKey>>,
    labels: Labels,
    plaintext: Vec<u8>,
) -> Result<Vec<u8>, CaduceusError> {
    let plaintext = Zeroizing::new(plaintext);
    core_env::seal(
        &core_public_keys(&recipients),
        &labels.to_core()?,
        &plaintext,
        &mut rng(),
    )
    .map_err(env_err)
}

/// Open an envelope with a private key that is one of its recipients.
#[uniffi::export]
pub fn open(envelope: Vec<u8>, identity: Arc<PrivateKey>) -> Result<Opened, CaduceusError> {
    core_env::open(&envelope, &identity.key)
        .map(opened)
        .map_err(env_err)
}

/// Open with the first of `identities` that is a recipient
/// ([`CaduceusError::NoAccess`] if none is).
#[uniffi::export]
pub fn open_any(
    envelope: Vec<u8>,
    identities: Vec<Arc<PrivateKey>>,
) -> Result<Opened, CaduceusError> {
    let keys: Vec<caduceus_core::keys::PrivateKey> =
        identities.iter().map(|k| k.key.clone()).collect();
    core_env::open_any(&envelope, &keys)
        .map(opened)
        .map_err(env_err)
}

/// The full open path: staff (or practice) key -> keyring record ->
/// subject-category key -> plaintext. [`CaduceusError::NoAccess`] when the
/// staff key holds no wrap, [`CaduceusError::KeyShredded`] when the record
/// was shredded.
#[uniffi::export]
pub fn open_with_keyring(
    envelope: Vec<u8>,
    record: Arc<KeyringRecord>,
    staff: Arc<PrivateKey>,
) -> Result<Opened, CaduceusError> {
    core_env::open_with_keyring(&envelope, &record.record, &staff.key)
        .map(opened)
        .map_err(env_err)
}

/// Read the header without a key (nothing authenticated yet).
#[uniffi::export]
pub fn inspect(envelope: Vec<u8>) -> Result<Header, CaduceusError> {
    core_env::inspect(&envelope)
        .map(|h| (&h).into())
        .map_err(env_err)
}

/// Open segment `index` (64 KiB each) without the segments before it.
#[uniffi::export]
pub fn open_segment(
    envelope: Vec<u8>,
    identity: Arc<PrivateKey>,
    index: u64,
) -> Result<Vec<u8>, CaduceusError> {
    core_env::open_segment(&envelope, &identity.key, index).map_err(env_err)
}

/// Add and remove recipients: a new header, the payload bytes unchanged.
#[uniffi::export]
pub fn rewrap(
    envelope: Vec<u8>,
    identity: Arc<PrivateKey>,
    add: Vec<Arc<PublicKey>>,
    remove_key_ids: Vec<String>,
) -> Result<Vec<u8>, CaduceusError> {
    let remove = remove_key_ids
        .iter()
        .map(|k| key_id(k))
        .collect::<Result<Vec<_>, _>>()?;
    core_env::rewrap(
        &envelope,
        &identity.key,
        &core_public_keys(&add),
        &remove,
        &mut rng(),
    )
    .map_err(env_err)
}

/// Seal `parts` as one envelope set: each part its own envelope whose
/// authenticated header says "part x of y" (for messages too long for one
/// envelope, or a series of photos sent together).
#[uniffi::export]
pub fn seal_parts(
    recipients: Vec<Arc<PublicKey>>,
    labels: Labels,
    parts: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, CaduceusError> {
    let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    core_env::seal_parts(
        &core_public_keys(&recipients),
        &labels.to_core()?,
        &slices,
        &mut rng(),
    )
    .map_err(env_err)
}

/// Collects the opened envelopes of one set, in any order, and tells
/// which parts are missing.
#[derive(uniffi::Object)]
pub struct PartSet {
    set: Mutex<core_env::PartSet>,
}

#[uniffi::export]
impl PartSet {
    /// An empty set.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            set: Mutex::new(core_env::PartSet::new()),
        })
    }

    /// Open `envelope` with `identity` and add it.
    pub fn add(&self, envelope: Vec<u8>, identity: Arc<PrivateKey>) -> Result<(), CaduceusError> {
        let opened = core_env::open(&envelope, &identity.key).map_err(env_err)?;
        lock(&self.set).add(opened).map_err(env_err)
    }

    /// The number of parts the set has (0 before the first).
    pub fn count(&self) -> u32 {
        lock(&self.set).count()
    }

    /// The part numbers (1-based) not added yet.
    pub fn missing(&self) -> Vec<u32> {
        lock(&self.set).missing()
    }

    /// Whether every part is in.
    pub fn is_complete(&self) -> bool {
        lock(&self.set).is_complete()
    }

    /// The parts' plaintexts joined in order.
    pub fn assemble(&self) -> Result<Vec<u8>, CaduceusError> {
        lock(&self.set).assemble().map_err(env_err)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn finished(what: &str) -> CaduceusError {
    CaduceusError::WrongState {
        reason: format!("the {what} was already finished, or failed earlier; start a new one"),
    }
}

enum SealerState {
    Sealing {
        header: Option<Vec<u8>>,
        sealer: Box<PayloadSealer>,
    },
    Done,
}

/// A streaming sealer: push the plaintext chunk by chunk, write out what
/// each call returns, in order (the first output starts with the header),
/// then [`Sealer::finish`]. Memory stays at one 64 KiB segment.
#[derive(uniffi::Object)]
pub struct Sealer {
    state: Mutex<SealerState>,
}

#[uniffi::export]
impl Sealer {
    /// Start sealing to `recipients` with `labels`.
    #[uniffi::constructor]
    pub fn new(
        recipients: Vec<Arc<PublicKey>>,
        labels: Labels,
    ) -> Result<Arc<Self>, CaduceusError> {
        let (header, sealer) = core_env::begin_seal(
            &core_public_keys(&recipients),
            &labels.to_core()?,
            None,
            &mut rng(),
        )
        .map_err(env_err)?;
        Ok(Arc::new(Self {
            state: Mutex::new(SealerState::Sealing {
                header: Some(header),
                sealer: Box::new(sealer),
            }),
        }))
    }

    /// Seal the next chunk; returns the envelope bytes now complete.
    pub fn push(&self, chunk: Vec<u8>) -> Result<Vec<u8>, CaduceusError> {
        let chunk = Zeroizing::new(chunk);
        let mut state = lock(&self.state);
        let SealerState::Sealing { header, sealer } = &mut *state else {
            return Err(finished("sealer"));
        };
        let mut out = header.take().unwrap_or_default();
        out.reserve(chunk.len() + SEGMENT_CIPHERTEXT_SIZE);
        if let Err(e) = sealer.push(&chunk, &mut out) {
            *state = SealerState::Done;
            return Err(env_err(e));
        }
        Ok(out)
    }

    /// Seal the last segment; returns the final envelope bytes.
    pub fn finish(&self) -> Result<Vec<u8>, CaduceusError> {
        let mut state = lock(&self.state);
        let SealerState::Sealing { header, sealer } =
            std::mem::replace(&mut *state, SealerState::Done)
        else {
            return Err(finished("sealer"));
        };
        let mut out = header.unwrap_or_default();
        sealer.finish(&mut out).map_err(env_err)?;
        Ok(out)
    }
}

/// A streaming opener: push the envelope chunk by chunk; each call returns
/// the plaintext authenticated so far. Plaintext is released only segment
/// by segment after its tag verified; a truncated envelope fails at
/// [`Opener::finish`]. (Core's [`PushOpener`], as the C ABI's
/// `caduceus_opener`.)
#[derive(uniffi::Object)]
pub struct Opener {
    opener: Mutex<PushOpener>,
}

#[uniffi::export]
impl Opener {
    /// Open with `identity` (a recipient of the envelope).
    #[uniffi::constructor]
    pub fn new(identity: Arc<PrivateKey>) -> Arc<Self> {
        Arc::new(Self {
            opener: Mutex::new(PushOpener::new(identity.key.clone())),
        })
    }

    /// Open through a keyring record with a staff (or practice) key.
    #[uniffi::constructor]
    pub fn with_keyring(
        record: Arc<KeyringRecord>,
        staff: Arc<PrivateKey>,
    ) -> Result<Arc<Self>, CaduceusError> {
        let subject_key = record.record.unwrap(&staff.key)?;
        Ok(Arc::new(Self {
            opener: Mutex::new(PushOpener::new(subject_key)),
        }))
    }

    /// Feed the next chunk of the envelope; returns the plaintext released.
    pub fn push(&self, chunk: Vec<u8>) -> Result<Vec<u8>, CaduceusError> {
        let mut opener = lock(&self.opener);
        if opener.is_closed() {
            return Err(finished("opener"));
        }
        let mut out = Vec::with_capacity(chunk.len().saturating_add(SEGMENT_CIPHERTEXT_SIZE));
        opener.push(&chunk, &mut out).map_err(env_err)?;
        Ok(out)
    }

    /// The authenticated header, once it has been read.
    pub fn header(&self) -> Option<Header> {
        lock(&self.opener).header().map(Into::into)
    }

    /// End of input: checks that the last segment was final; returns the
    /// remaining plaintext.
    pub fn finish(&self) -> Result<Vec<u8>, CaduceusError> {
        let mut opener = lock(&self.opener);
        if opener.is_closed() {
            return Err(finished("opener"));
        }
        let mut out = Vec::with_capacity(SEGMENT_CIPHERTEXT_SIZE);
        opener.finish(&mut out).map_err(env_err)?;
        Ok(out)
    }
}

/// `out` written through a temporary file beside it, renamed into place
/// only on success; on failure nothing is left behind.
pub(crate) fn write_atomically(
    out: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> Result<(), CaduceusError>,
) -> Result<(), CaduceusError> {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".caduceus-partial-{}", std::process::id()));
    let tmp: PathBuf = out.with_file_name(name);
    let result = (|| {
        let mut w = BufWriter::with_capacity(SEGMENT_CIPHERTEXT_SIZE, File::create(&tmp)?);
        f(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| CaduceusError::from(e.into_error()))?;
        file.sync_all()?;
        std::fs::rename(&tmp, out)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Seal the file at `input_path` into `output_path`, streaming: the bytes
/// never cross the binding boundary and memory stays at one segment.
#[uniffi::export]
pub fn seal_file(
    recipients: Vec<Arc<PublicKey>>,
    labels: Labels,
    input_path: String,
    output_path: String,
) -> Result<(), CaduceusError> {
    let labels = labels.to_core()?;
    let keys = core_public_keys(&recipients);
    let mut input = File::open(&input_path)?;
    write_atomically(Path::new(&output_path), |w| {
        let mut sealer = SealWriter::new(w, &keys, &labels, None, &mut rng()).map_err(env_err)?;
        let mut buf = Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]);
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sealer.write_all(buf.get(..n).unwrap_or_default())?;
        }
        sealer.finish().map_err(env_err)?;
        Ok(())
    })
}

/// Open the envelope file at `input_path` into `output_path` with
/// `identity`. The plaintext file appears only when the whole envelope
/// authenticated; on any error no partial plaintext is left behind.
/// Returns the authenticated header.
#[uniffi::export]
pub fn open_file(
    identity: Arc<PrivateKey>,
    input_path: String,
    output_path: String,
) -> Result<Header, CaduceusError> {
    open_file_with(&identity.key, &input_path, &output_path)
}

/// [`open_file`] through a keyring record with a staff (or practice) key.
#[uniffi::export]
pub fn open_file_with_keyring(
    record: Arc<KeyringRecord>,
    staff: Arc<PrivateKey>,
    input_path: String,
    output_path: String,
) -> Result<Header, CaduceusError> {
    let subject_key = record.record.unwrap(&staff.key)?;
    open_file_with(&subject_key, &input_path, &output_path)
}

fn open_file_with(
    identity: &caduceus_core::keys::PrivateKey,
    input_path: &str,
    output_path: &str,
) -> Result<Header, CaduceusError> {
    let input = BufReader::with_capacity(SEGMENT_CIPHERTEXT_SIZE, File::open(input_path)?);
    let mut reader = OpenReader::new(input, identity).map_err(env_err)?;
    let header: Header = reader.header().into();
    write_atomically(Path::new(output_path), |w| {
        let mut buf = Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]);
        loop {
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) => return Err(io_to_env(e)),
            };
            if n == 0 {
                break;
            }
            w.write_all(buf.get(..n).unwrap_or_default())?;
        }
        Ok(())
    })?;
    Ok(header)
}

/// The OpenReader reports envelope errors inside `io::Error`s: unpack them.
fn io_to_env(e: std::io::Error) -> CaduceusError {
    match e
        .into_inner()
        .map(|inner| inner.downcast::<EnvelopeError>())
    {
        Some(Ok(env)) => env_err(*env),
        Some(Err(_)) | None => CaduceusError::Io {
            reason: "read failed".into(),
        },
    }
}
