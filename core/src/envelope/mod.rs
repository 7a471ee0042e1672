//! Envelope encryption of messages and media.
//!
//! An envelope is a header (format version, suite, random envelope id,
//! policy labels, optional "part x of y", recipient stanzas each wrapping a
//! fresh 256-bit data key with HPKE), a header MAC (HMAC-SHA256 under a key
//! derived from the data key, which also commits the data key) and a payload
//! of 64 KiB AES-256-GCM segments. `docs/FORMAT.md` specifies every byte.
//!
//! ```
//! use caduceus_core::envelope::{self, Labels};
//! use caduceus_core::keys::{KeyKind, PrivateKey};
//! // The operating system RNG (never a seeded or test RNG).
//! let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
//! let subject_key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
//! let labels = Labels::new("p-3f9a", "chat-messages", "treatment-communication",
//!                          "text/plain", 1_700_000_000).unwrap();
//! let sealed = envelope::seal(&[subject_key.public_key()], &labels, b"Zahnschmerzen", &mut rng).unwrap();
//!
//! // Anyone can read the labels and recipients, without a key:
//! let header = envelope::inspect(&sealed).unwrap();
//! assert_eq!(header.labels.category, "chat-messages");
//!
//! // Only a recipient can open:
//! let opened = envelope::open(&sealed, &subject_key).unwrap();
//! assert_eq!(opened.plaintext, b"Zahnschmerzen");
//! ```
//!
//! Labels are authenticated by the header MAC, so they cannot be changed by
//! anyone who does not hold the data key. They are *not* protected against
//! a party that can open the envelope (such a party could rewrite the header
//! with other labels), and they are not secret: keep health data out of
//! them, which the label rules (short printable ASCII) encourage.

mod header;
mod parts;
mod payload;
mod stream;

pub use header::{
    ENVELOPE_ID_LEN, MAGIC, MAX_HEADER_BODY, MAX_PARTS, MAX_RECIPIENTS, PREFIX_LEN, SUITE, VERSION,
    header_len_from_prefix,
};
pub use parts::{PartSet, seal_parts};
pub use payload::{
    PayloadOpener, PayloadSealer, SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE, SegmentError,
    SegmentLayout, TAG_LEN,
};
pub use stream::{OpenReader, PushOpener, SealWriter};

use rand_core::CryptoRng;

use crate::keys::{KeyError, KeyId, KeyKind, KeyringRecord, PrivateKey, PublicKey};
use crate::suite::{self, SegmentCipher};
use header::{DataKey, DerivedKeys, WireHeader};

/// Errors of sealing, opening, inspecting and rewrapping envelopes. They
/// never contain key material, plaintext or label values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The input ends before the envelope does.
    #[error("the envelope is truncated; it was cut off in storage or transfer")]
    Truncated,
    /// Bytes follow the end of the envelope.
    #[error("unexpected bytes after the end of the envelope")]
    TrailingData,
    /// The input does not start with the envelope magic.
    #[error("not a Caduceus envelope (bad magic bytes)")]
    BadMagic,
    /// Unknown format version, and the header is not a version-1 header:
    /// written by a newer Caduceus. (A version-1 header behind an unknown
    /// version byte, or version 0, is damage:
    /// [`EnvelopeError::MalformedHeader`].)
    #[error("unsupported envelope version {0}: written by a newer Caduceus; upgrade Caduceus")]
    UnsupportedVersion(u8),
    /// Unknown cipher suite.
    #[error("unsupported envelope cipher suite {0}; upgrade Caduceus")]
    UnsupportedSuite(u8),
    /// The header is longer than the format allows.
    #[error("the envelope header is longer than the format allows")]
    HeaderTooLarge,
    /// The header is not a well-formed envelope header.
    #[error("malformed envelope header: {0}")]
    MalformedHeader(&'static str),
    /// The header is valid MessagePack, but not in canonical form.
    #[error("the envelope header is not canonical MessagePack")]
    NonCanonicalHeader,
    /// A label is empty, too long or not printable ASCII.
    #[error("invalid {0} label: use 1 to 128 printable ASCII characters")]
    InvalidLabel(&'static str),
    /// More recipients than the format allows.
    #[error("too many recipients (at most {MAX_RECIPIENTS})")]
    TooManyRecipients,
    /// No recipients (sealing) or all would be removed (rewrap).
    #[error("an envelope needs at least one recipient")]
    NoRecipients,
    /// The same recipient twice.
    #[error("the same recipient appears twice")]
    DuplicateRecipient,
    /// A recipient public key is a low-order point.
    #[error("a recipient public key is a low-order X25519 point and cannot be used")]
    WeakRecipientKey,
    /// None of the given keys is a recipient.
    #[error("none of the given keys is a recipient of this envelope")]
    NoAccess,
    /// A key id given for removal (rewrap) has no stanza in this envelope.
    #[error(
        "a key id given for removal is not a recipient of this envelope; list its recipients with 'caduceus inspect'"
    )]
    NotARecipient,
    /// The rewrap would remove the last practice recipient of the envelope.
    #[error(
        "refusing to remove the last practice key recipient: the practice could no longer open this envelope; add the new practice key in the same rewrap to rotate it"
    )]
    LastPracticeRecipient,
    /// The subject-category key of this envelope was shredded.
    #[error("the key of this envelope was shredded; its content is erased")]
    KeyShredded,
    /// The keyring record could not be used.
    #[error("keyring record: {0}")]
    Keyring(KeyError),
    /// The stanza for the given key does not decrypt.
    #[error("the recipient stanza for this key is damaged")]
    StanzaCorrupted,
    /// The header was modified.
    #[error("the envelope header was modified (header MAC mismatch)")]
    HeaderMacMismatch,
    /// A payload segment was modified, reordered or duplicated.
    #[error("payload segment {index} was modified, reordered or duplicated")]
    SegmentCorrupted {
        /// Index of the first segment that failed.
        index: u64,
    },
    /// A segment index past the end.
    #[error("segment index out of range")]
    SegmentOutOfRange,
    /// The input exceeds what the format can hold.
    #[error("the input is too large for one envelope")]
    InputTooLarge,
    /// An envelope set is inconsistent or incomplete.
    #[error("envelope set: {0}")]
    PartSet(&'static str),
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {0}")]
    Io(std::io::ErrorKind),
    /// An internal invariant failed; please report it.
    #[error("internal error in the envelope code; please report this")]
    Internal,
}

impl From<KeyError> for EnvelopeError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::KeyShredded => EnvelopeError::KeyShredded,
            KeyError::NoAccess => EnvelopeError::NoAccess,
            other => EnvelopeError::Keyring(other),
        }
    }
}

/// Policy labels carried in the authenticated header, so a store can
/// enforce retention without decrypting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    /// Pseudonym of the data subject (a keyed hash, never a name or number).
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
    /// Labels, validated: each string 1 to 128 printable ASCII characters.
    pub fn new(
        subject: &str,
        category: &str,
        purpose: &str,
        content_type: &str,
        created_at: i64,
    ) -> Result<Self, EnvelopeError> {
        let l = Self {
            subject: subject.to_owned(),
            category: category.to_owned(),
            purpose: purpose.to_owned(),
            content_type: content_type.to_owned(),
            created_at,
        };
        l.validate()?;
        Ok(l)
    }
}

/// "Part x of y" of a message split into several envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    /// Random id shared by all envelopes of the set.
    pub set_id: [u8; ENVELOPE_ID_LEN],
    /// This part's number, 1-based.
    pub index: u32,
    /// Number of parts in the set.
    pub count: u32,
}

/// What anyone can read from an envelope header without a key.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u8,
    /// Cipher suite id.
    pub suite: u8,
    /// Random envelope id.
    pub envelope_id: [u8; ENVELOPE_ID_LEN],
    /// Policy labels.
    pub labels: Labels,
    /// Position in an envelope set, if any.
    pub part: Option<Part>,
    /// Key ids of the recipients, in stanza order.
    pub recipients: Vec<KeyId>,
    /// Length of the whole header including its MAC: the payload offset.
    pub header_len: usize,
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let id: String = self
            .envelope_id
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("Header")
            .field("version", &self.version)
            .field("suite", &self.suite)
            .field("envelope_id", &format_args!("{id}"))
            .field("labels", &self.labels)
            .field("part", &self.part.map(|p| (p.index, p.count)))
            .field("recipients", &self.recipients)
            .field("header_len", &self.header_len)
            .finish()
    }
}

impl Header {
    fn from_wire(w: &WireHeader, header_len: usize) -> Self {
        Header {
            version: VERSION,
            suite: SUITE,
            envelope_id: w.envelope_id,
            labels: w.labels.clone(),
            part: w.part,
            recipients: w.stanzas.iter().map(|s| s.key_id).collect(),
            header_len,
        }
    }
}

/// An opened envelope.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// The authenticated header.
    pub header: Header,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

impl core::fmt::Debug for Opened {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opened")
            .field("header", &self.header)
            .field(
                "plaintext",
                &format_args!("[{} bytes REDACTED]", self.plaintext.len()),
            )
            .finish()
    }
}

/// Read the header of an envelope (or of its first bytes) without any key:
/// labels, part and recipient key ids. Nothing is authenticated yet.
pub fn inspect(envelope: &[u8]) -> Result<Header, EnvelopeError> {
    let (wire, authed, mac) = header::parse(envelope)?;
    Ok(Header::from_wire(&wire, authed.len() + mac.len()))
}

/// Start sealing: returns the encoded header (to write first) and a
/// [`PayloadSealer`] for the payload.
pub fn begin_seal(
    recipients: &[PublicKey],
    labels: &Labels,
    part: Option<Part>,
    rng: &mut impl CryptoRng,
) -> Result<(Vec<u8>, PayloadSealer), EnvelopeError> {
    labels.validate()?;
    if let Some(p) = &part {
        p.validate()?;
    }
    if recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    let mut envelope_id = [0u8; ENVELOPE_ID_LEN];
    rng.fill_bytes(&mut envelope_id);
    let data_key = DataKey::generate(rng);
    let mut wire = WireHeader {
        envelope_id,
        labels: labels.clone(),
        part,
        stanzas: Vec::new(),
    };
    wire.add_stanzas(&data_key, recipients, rng)?;
    let keys = data_key.derive(&envelope_id)?;
    let header = wire.encode_with_mac(&keys)?;
    Ok((header, PayloadSealer::new(&keys.payload_key)))
}

/// Seal a message (bytes in, bytes out) to `recipients`.
pub fn seal(
    recipients: &[PublicKey],
    labels: &Labels,
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, EnvelopeError> {
    seal_with_part(recipients, labels, None, plaintext, rng)
}

pub(crate) fn seal_with_part(
    recipients: &[PublicKey],
    labels: &Labels,
    part: Option<Part>,
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, EnvelopeError> {
    let (mut out, mut sealer) = begin_seal(recipients, labels, part, rng)?;
    let segments = plaintext.len().div_ceil(SEGMENT_SIZE).max(1);
    out.reserve(plaintext.len() + segments * suite::TAG_LEN);
    sealer.push(plaintext, &mut out)?;
    sealer.finish(&mut out)?;
    Ok(out)
}

/// An envelope whose header was authenticated with a recipient key: the
/// entry point for streaming and random-access decryption.
pub struct Unlocked {
    header: Header,
    wire: WireHeader,
    data_key: DataKey,
    keys: DerivedKeys,
    /// The key id of the identity that unlocked the header, if it is a
    /// practice key.
    practice_identity: Option<KeyId>,
}

impl core::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Unlocked")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// Parse the header at the start of `bytes`, unwrap the data key with
/// `identity`, and verify the header MAC.
pub fn unlock(bytes: &[u8], identity: &PrivateKey) -> Result<Unlocked, EnvelopeError> {
    let (wire, authed, mac) = header::parse(bytes)?;
    let data_key = wire.unwrap(identity)?;
    let keys = data_key.derive(&wire.envelope_id)?;
    header::verify_mac(&keys, authed, mac)?;
    Ok(Unlocked {
        header: Header::from_wire(&wire, authed.len() + mac.len()),
        wire,
        data_key,
        keys,
        practice_identity: (identity.kind() == KeyKind::Practice).then(|| identity.key_id()),
    })
}

/// Like [`unlock`], trying each identity in turn.
pub fn unlock_any(bytes: &[u8], identities: &[PrivateKey]) -> Result<Unlocked, EnvelopeError> {
    let header = inspect(bytes)?;
    let identity = identities
        .iter()
        .find(|k| header.recipients.contains(&k.key_id()))
        .ok_or(EnvelopeError::NoAccess)?;
    unlock(bytes, identity)
}

impl Unlocked {
    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// A push-style decryptor for the payload that follows the header.
    pub fn payload_opener(&self) -> PayloadOpener {
        PayloadOpener::new(&self.keys.payload_key)
    }

    /// Segment layout of an envelope of `envelope_len` bytes in total.
    pub fn layout(&self, envelope_len: u64) -> Result<SegmentLayout, EnvelopeError> {
        let payload_len = envelope_len
            .checked_sub(self.header.header_len as u64)
            .ok_or(EnvelopeError::Truncated)?;
        SegmentLayout::new(payload_len)
    }

    /// Decrypt segment `index` alone (random access), given the envelope's
    /// total length and that segment's ciphertext as located by
    /// [`SegmentLayout::segment_range`] (relative to the payload start,
    /// [`Header::header_len`]).
    pub fn open_segment(
        &self,
        envelope_len: u64,
        index: u64,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let layout = self.layout(envelope_len)?;
        let range = layout.segment_range(index)?;
        if ciphertext.len() as u64 != range.end - range.start {
            return Err(EnvelopeError::Truncated);
        }
        let cipher = SegmentCipher::new(&self.keys.payload_key);
        let mut buf = ciphertext.to_vec();
        payload::open_segment(&cipher, index, index + 1 == layout.count(), &mut buf)?;
        Ok(buf)
    }

    /// Re-key the recipients: a new header with stanzas for `add` and
    /// without those in `remove`, and a new MAC, from the header that
    /// [`unlock`] authenticated (no second unwrap). The payload is untouched:
    /// write the returned header followed by the old payload bytes
    /// (everything after the old [`Header::header_len`]).
    ///
    /// The same as [`Unlocked::rewrap_keeping`] with no further practice
    /// key ids: the unlocking identity and added keys still count when they
    /// are practice keys.
    pub fn rewrap(
        &self,
        add: &[PublicKey],
        remove: &[KeyId],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, EnvelopeError> {
        self.rewrap_keeping(add, remove, &[], rng)
    }

    /// [`Unlocked::rewrap`], keeping the practice able to open: the key ids
    /// in `practice`, the unlocking identity if it is a practice key, and
    /// every added key of kind practice are practice keys (the header does
    /// not record kinds). If the envelope has a practice recipient, one
    /// must remain ([`EnvelopeError::LastPracticeRecipient`]); to rotate
    /// the practice key, add the new one in the same rewrap. A key id in
    /// `remove` without a stanza is [`EnvelopeError::NotARecipient`].
    pub fn rewrap_keeping(
        &self,
        add: &[PublicKey],
        remove: &[KeyId],
        practice: &[KeyId],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let mut wire = self.wire.clone();
        for id in remove {
            if !wire.stanzas.iter().any(|s| &s.key_id == id) {
                return Err(EnvelopeError::NotARecipient);
            }
        }
        let is_practice = |id: &KeyId| {
            practice.contains(id)
                || self.practice_identity.as_ref() == Some(id)
                || add
                    .iter()
                    .any(|k| k.kind() == KeyKind::Practice && &k.key_id() == id)
        };
        let had_practice = wire.stanzas.iter().any(|s| is_practice(&s.key_id));
        wire.stanzas.retain(|s| !remove.contains(&s.key_id));
        wire.add_stanzas(&self.data_key, add, rng)?;
        if wire.stanzas.is_empty() {
            return Err(EnvelopeError::NoRecipients);
        }
        if had_practice && !wire.stanzas.iter().any(|s| is_practice(&s.key_id)) {
            return Err(EnvelopeError::LastPracticeRecipient);
        }
        wire.encode_with_mac(&self.keys)
    }
}

/// Open a whole envelope held in memory.
pub fn open(envelope: &[u8], identity: &PrivateKey) -> Result<Opened, EnvelopeError> {
    let unlocked = unlock(envelope, identity)?;
    open_unlocked(envelope, unlocked)
}

/// Open with the first of several identities that is a recipient.
pub fn open_any(envelope: &[u8], identities: &[PrivateKey]) -> Result<Opened, EnvelopeError> {
    let unlocked = unlock_any(envelope, identities)?;
    open_unlocked(envelope, unlocked)
}

fn open_unlocked(envelope: &[u8], unlocked: Unlocked) -> Result<Opened, EnvelopeError> {
    let payload = envelope
        .get(unlocked.header.header_len..)
        .ok_or(EnvelopeError::Truncated)?;
    let layout = SegmentLayout::new(payload.len() as u64)?;
    let mut plaintext = Vec::with_capacity(usize::try_from(layout.plaintext_len()).unwrap_or(0));
    let mut opener = unlocked.payload_opener();
    opener.push(payload, &mut plaintext)?;
    opener.finish(&mut plaintext)?;
    Ok(Opened {
        header: unlocked.header,
        plaintext,
    })
}

/// The full open path: staff (or practice) private key -> keyring record ->
/// subject-category private key -> data key -> plaintext. A shredded record
/// gives [`EnvelopeError::KeyShredded`]; a key without a wrap in the record,
/// or a record that is not a recipient of the envelope, gives
/// [`EnvelopeError::NoAccess`].
pub fn open_with_keyring(
    envelope: &[u8],
    record: &KeyringRecord,
    staff: &PrivateKey,
) -> Result<Opened, EnvelopeError> {
    let subject_key = record.unwrap(staff)?;
    open(envelope, &subject_key)
}

/// Open segment `index` of an envelope held in memory, without decrypting
/// the segments before it.
pub fn open_segment(
    envelope: &[u8],
    identity: &PrivateKey,
    index: u64,
) -> Result<Vec<u8>, EnvelopeError> {
    let unlocked = unlock(envelope, identity)?;
    let total = envelope.len() as u64;
    let range = unlocked.layout(total)?.segment_range(index)?;
    let start = unlocked.header.header_len as u64 + range.start;
    let end = unlocked.header.header_len as u64 + range.end;
    let ct = envelope
        .get(
            usize::try_from(start).map_err(|_| EnvelopeError::InputTooLarge)?
                ..usize::try_from(end).map_err(|_| EnvelopeError::InputTooLarge)?,
        )
        .ok_or(EnvelopeError::Truncated)?;
    unlocked.open_segment(total, index, ct)
}

/// Add or remove recipients of an envelope held in memory; returns the new
/// envelope (new header, identical payload bytes). See [`Unlocked::rewrap`].
pub fn rewrap(
    envelope: &[u8],
    identity: &PrivateKey,
    add: &[PublicKey],
    remove: &[KeyId],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, EnvelopeError> {
    rewrap_keeping(envelope, identity, add, remove, &[], rng)
}

/// [`rewrap`], keeping a practice recipient: `practice` names the practice
/// keys' ids. See [`Unlocked::rewrap_keeping`].
pub fn rewrap_keeping(
    envelope: &[u8],
    identity: &PrivateKey,
    add: &[PublicKey],
    remove: &[KeyId],
    practice: &[KeyId],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, EnvelopeError> {
    let unlocked = unlock(envelope, identity)?;
    let payload = envelope
        .get(unlocked.header.header_len..)
        .ok_or(EnvelopeError::Truncated)?;
    let mut out = unlocked.rewrap_keeping(add, remove, practice, rng)?;
    out.extend_from_slice(payload);
    Ok(out)
}
