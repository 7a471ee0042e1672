//! The subject-category keyring record.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

use super::{KEY_ID_LEN, KeyError, KeyId, KeyKind, PrivateKey, PublicKey};
use crate::{codec, label, suite};

/// Magic bytes that start every keyring record.
pub const KEYRING_MAGIC: [u8; 4] = *b"CDKR";
/// The keyring record format version this library writes and reads.
pub const KEYRING_VERSION: u8 = 1;
/// The cipher suite id (same numbering as envelopes).
pub const KEYRING_SUITE: u8 = 1;
/// Maximum number of wraps (recipients) in one record.
pub const MAX_WRAPS: usize = 64;
/// Maximum length in bytes of the MessagePack body of a record (the `L` of
/// the record prefix), checked before the body is read. The largest valid
/// record (64 wraps, 128-byte labels) stays below half of it.
pub const MAX_RECORD_BODY: usize = 16 * 1024;

const PREFIX_LEN: usize = 10;
const WRAP_INFO_DOMAIN: &[u8] = b"caduceus/v1 keyring wrap";
const WRAPPED_LEN: usize = suite::X25519_LEN + suite::TAG_LEN;

/// Whether a record can still be unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringState {
    /// The record holds wraps of the private key.
    Active,
    /// The private key was destroyed at the given time (Unix seconds).
    Shredded {
        /// When the shred happened.
        at: i64,
    },
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct WrapWire(ByteBuf, ByteBuf, ByteBuf);

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RecordBody {
    subject: String,
    category: String,
    public_key: ByteBuf,
    created_at: i64,
    shredded_at: Option<i64>,
    wraps: Vec<WrapWire>,
}

#[derive(Clone, PartialEq, Eq)]
struct Wrap {
    key_id: KeyId,
    enc: [u8; suite::X25519_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

/// A subject-category keyring record: the public key of one (patient
/// pseudonym, data category) pair and its private key wrapped with HPKE to
/// each authorised recipient (the practice key and permitted staff keys).
///
/// Every operation returns a new record and leaves `self` unchanged, so a
/// host stores the new record before discarding the old one and no data is
/// ever unreadable in between.
///
/// ```
/// use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
/// // The operating system RNG (never a seeded or test RNG).
/// let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
/// let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
/// let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
/// let record = KeyringRecord::create(
///     "p-3f9a", "clinical-photos", &[practice.public_key(), doctor.public_key()],
///     1_700_000_000, &mut rng).unwrap();
/// let subject_key = record.unwrap(&doctor).unwrap();
/// assert_eq!(subject_key.public_key(), record.public_key());
/// let bytes = record.to_bytes();
/// assert_eq!(KeyringRecord::from_bytes(&bytes).unwrap(), record);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KeyringRecord {
    subject: String,
    category: String,
    public_key: [u8; suite::X25519_LEN],
    created_at: i64,
    state: KeyringState,
    wraps: Vec<Wrap>,
}

impl core::fmt::Debug for KeyringRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyringRecord")
            .field("category", &self.category)
            .field("public_key_id", &KeyId::of(&self.public_key))
            .field("created_at", &self.created_at)
            .field("state", &self.state)
            .field("recipients", &self.recipients())
            .finish_non_exhaustive()
    }
}

impl KeyringRecord {
    /// Create the record on first contact: generate the subject-category key
    /// pair, wrap its private half to each recipient, and zeroize it.
    pub fn create(
        subject: &str,
        category: &str,
        recipients: &[PublicKey],
        created_at: i64,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, KeyError> {
        label::check(subject).map_err(|_| KeyError::InvalidLabel("subject pseudonym"))?;
        label::check(category).map_err(|_| KeyError::InvalidLabel("data category"))?;
        if recipients.is_empty() {
            return Err(KeyError::NoRecipients);
        }
        let subject_key = PrivateKey::generate(KeyKind::SubjectCategory, rng);
        let mut record = Self {
            subject: subject.to_owned(),
            category: category.to_owned(),
            public_key: *subject_key.public_key().as_bytes(),
            created_at,
            state: KeyringState::Active,
            wraps: Vec::new(),
        };
        record.push_wraps(&subject_key, recipients, rng)?;
        Ok(record)
        // `subject_key` is zeroized here, on drop.
    }

    /// The subject pseudonym.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The data category.
    pub fn category(&self) -> &str {
        &self.category
    }

    /// The subject-category public key that sealers encrypt to.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kind: KeyKind::SubjectCategory,
            bytes: self.public_key,
        }
    }

    /// Creation time (Unix seconds).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// Active or shredded.
    pub fn state(&self) -> KeyringState {
        self.state
    }

    /// Key ids of the recipients that hold a wrap.
    pub fn recipients(&self) -> Vec<KeyId> {
        self.wraps.iter().map(|w| w.key_id).collect()
    }

    /// Unwrap the subject-category private key with a staff or practice key.
    pub fn unwrap(&self, identity: &PrivateKey) -> Result<PrivateKey, KeyError> {
        if let KeyringState::Shredded { .. } = self.state {
            return Err(KeyError::KeyShredded);
        }
        let id = identity.key_id();
        let wrap = self
            .wraps
            .iter()
            .find(|w| w.key_id == id)
            .ok_or(KeyError::NoAccess)?;
        let info = self.wrap_info(&id);
        let secret = suite::hpke_open(
            identity.secret_bytes(),
            &wrap.enc,
            &info,
            &[],
            &wrap.wrapped,
        )
        .map_err(|_| KeyError::WrapCorrupted)?;
        let bytes: [u8; suite::X25519_LEN] = secret
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrapCorrupted)?;
        let key = PrivateKey::from_bytes(KeyKind::SubjectCategory, bytes)
            .map_err(|_| KeyError::RecordMismatch)?;
        if key.public_key().as_bytes() != &self.public_key {
            return Err(KeyError::RecordMismatch);
        }
        Ok(key)
    }

    /// Unwrap with the first of several identities that is a recipient.
    pub fn unwrap_any(&self, identities: &[PrivateKey]) -> Result<PrivateKey, KeyError> {
        let mut last = KeyError::NoAccess;
        for identity in identities {
            match self.unwrap(identity) {
                Ok(k) => return Ok(k),
                Err(KeyError::NoAccess) => {}
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A new record with wraps added for `new` recipients. `identity` must
    /// be able to unwrap this record.
    pub fn add_recipients(
        &self,
        identity: &PrivateKey,
        new: &[PublicKey],
        rng: &mut impl CryptoRng,
    ) -> Result<Self, KeyError> {
        let subject_key = self.unwrap(identity)?;
        let mut next = self.clone();
        next.push_wraps(&subject_key, new, rng)?;
        Ok(next)
    }

    /// A new record without the wrap of `key_id` (a departing or compromised
    /// staff key). Needs no secret. Refuses to remove the last wrap.
    ///
    /// A revoked member who kept a copy of the unwrapped subject-category key
    /// can still open envelopes sealed to it; to cut that off, seal new data
    /// to a fresh subject-category record.
    pub fn revoke_recipient(&self, key_id: &KeyId) -> Result<Self, KeyError> {
        if let KeyringState::Shredded { .. } = self.state {
            return Err(KeyError::AlreadyShredded);
        }
        if !self.wraps.iter().any(|w| &w.key_id == key_id) {
            return Err(KeyError::NoAccess);
        }
        if self.wraps.len() == 1 {
            return Err(KeyError::LastRecipient);
        }
        let mut next = self.clone();
        next.wraps.retain(|w| &w.key_id != key_id);
        Ok(next)
    }

    /// [`KeyringRecord::revoke_recipient`], keeping the practice able to
    /// unwrap: `practice` holds the key ids of the practice keys (a record
    /// does not record kinds). Revoking the last of them that holds a wrap
    /// is [`KeyError::LastPracticeRecipient`]; a key id without a wrap is
    /// [`KeyError::NotARecipient`].
    pub fn revoke_recipient_keeping(
        &self,
        key_id: &KeyId,
        practice: &[KeyId],
    ) -> Result<Self, KeyError> {
        if matches!(self.state, KeyringState::Active)
            && !self.wraps.iter().any(|w| &w.key_id == key_id)
        {
            return Err(KeyError::NotARecipient);
        }
        let next = self.revoke_recipient(key_id)?;
        let had = self.wraps.iter().any(|w| practice.contains(&w.key_id));
        if had && !next.wraps.iter().any(|w| practice.contains(&w.key_id)) {
            return Err(KeyError::LastPracticeRecipient);
        }
        Ok(next)
    }

    /// A new record in which the wrap for `old` is replaced by one for `new`
    /// (key rotation). The new wrap is created and checked before the old
    /// one is dropped; `self` stays valid until the caller replaces it.
    pub fn rotate_recipient(
        &self,
        identity: &PrivateKey,
        old: &KeyId,
        new: &PublicKey,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, KeyError> {
        if let KeyringState::Shredded { .. } = self.state {
            return Err(KeyError::KeyShredded);
        }
        if !self.wraps.iter().any(|w| &w.key_id == old) {
            return Err(KeyError::NoAccess);
        }
        let subject_key = self.unwrap(identity)?;
        let mut next = self.clone();
        if old != &new.key_id() {
            next.push_wraps(&subject_key, core::slice::from_ref(new), rng)?;
            next.wraps.retain(|w| &w.key_id != old);
        }
        Ok(next)
    }

    /// Rotate the practice key across many records: every active record
    /// gets a wrap for `new_practice` in place of `old_practice`'s.
    /// All-or-nothing: either every new record is returned (for the host to
    /// store before it retires the old key), or the index of the first record
    /// that failed and why. Shredded records are returned unchanged.
    pub fn rotate_practice_key(
        records: &[KeyringRecord],
        old_practice: &PrivateKey,
        new_practice: &PublicKey,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<KeyringRecord>, (usize, KeyError)> {
        let old_id = old_practice.key_id();
        records
            .iter()
            .enumerate()
            .map(|(i, r)| match r.state {
                KeyringState::Shredded { .. } => Ok(r.clone()),
                KeyringState::Active => r
                    .rotate_recipient(old_practice, &old_id, new_practice, rng)
                    .map_err(|e| (i, e)),
            })
            .collect()
    }

    /// A tombstone: the same record with every wrap destroyed, so the
    /// subject-category private key (and every envelope sealed to it, in the
    /// live store and in every backup of the envelopes) is unrecoverable.
    /// Backups of the keyring itself must be rolled past the shred (see
    /// docs/THREAT-MODEL.md).
    pub fn shred(&self, at: i64) -> Self {
        Self {
            subject: self.subject.clone(),
            category: self.category.clone(),
            public_key: self.public_key,
            created_at: self.created_at,
            state: KeyringState::Shredded { at },
            wraps: Vec::new(),
        }
    }

    /// The canonical binary encoding (docs/FORMAT.md, "Keyring record").
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = codec::encode(&self.body());
        let mut out = Vec::with_capacity(PREFIX_LEN + body.len());
        out.extend_from_slice(&KEYRING_MAGIC);
        out.push(KEYRING_VERSION);
        out.push(KEYRING_SUITE);
        out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parse a record, strictly: exact lengths, canonical MessagePack, no
    /// trailing bytes, known version and suite.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let prefix = bytes
            .get(..PREFIX_LEN)
            .ok_or(KeyError::MalformedRecord("truncated"))?;
        if prefix.get(..4) != Some(&KEYRING_MAGIC[..]) {
            return Err(KeyError::MalformedRecord(
                "not a keyring record (bad magic)",
            ));
        }
        let version = prefix.get(4).copied().unwrap_or(0);
        if version != KEYRING_VERSION {
            // A version-1 record behind another version byte (or version 0,
            // never assigned) is damage: a newer Caduceus would not help
            // (docs/FORMAT.md 6.4 step 3, section 10).
            let mut as_v1 = bytes.to_vec();
            if let Some(v) = as_v1.get_mut(4) {
                *v = KEYRING_VERSION;
            }
            if version != 0 && Self::from_bytes(&as_v1).is_err() {
                return Err(KeyError::UnsupportedVersion(version));
            }
            return Err(KeyError::MalformedRecord(
                "the version byte is damaged (version 0 does not exist, or the rest is a valid version 1 record); restore the record from a backup",
            ));
        }
        let suite_id = prefix.get(5).copied().unwrap_or(0);
        if suite_id != KEYRING_SUITE {
            return Err(KeyError::UnsupportedSuite(suite_id));
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(
            prefix
                .get(6..10)
                .ok_or(KeyError::MalformedRecord("truncated"))?,
        );
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_RECORD_BODY {
            return Err(KeyError::MalformedRecord(
                "body longer than the format allows",
            ));
        }
        let body_bytes = bytes
            .get(PREFIX_LEN..)
            .ok_or(KeyError::MalformedRecord("truncated"))?;
        if body_bytes.len() < len {
            return Err(KeyError::MalformedRecord("truncated"));
        }
        if body_bytes.len() > len {
            return Err(KeyError::MalformedRecord("trailing bytes after the record"));
        }
        let body: RecordBody = codec::decode_canonical(body_bytes).map_err(|e| match e {
            codec::CodecError::Malformed => KeyError::MalformedRecord("body is not a valid record"),
            codec::CodecError::NonCanonical => {
                KeyError::MalformedRecord("body is not canonical MessagePack")
            }
        })?;
        Self::from_body(body)
    }

    fn from_body(body: RecordBody) -> Result<Self, KeyError> {
        label::check(&body.subject).map_err(|_| KeyError::InvalidLabel("subject pseudonym"))?;
        label::check(&body.category).map_err(|_| KeyError::InvalidLabel("data category"))?;
        let public_key: [u8; suite::X25519_LEN] = body
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::MalformedRecord("public key must be 32 bytes"))?;
        PublicKey::from_bytes(KeyKind::SubjectCategory, public_key)?;
        if body.wraps.len() > MAX_WRAPS {
            return Err(KeyError::TooManyRecipients);
        }
        let mut wraps = Vec::with_capacity(body.wraps.len());
        for WrapWire(id, enc, wrapped) in body.wraps {
            let key_id = KeyId(
                id.as_slice()
                    .try_into()
                    .map_err(|_| KeyError::MalformedRecord("key id must be 16 bytes"))?,
            );
            if wraps.iter().any(|w: &Wrap| w.key_id == key_id) {
                return Err(KeyError::DuplicateRecipient);
            }
            wraps.push(Wrap {
                key_id,
                enc: enc
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::MalformedRecord("encapsulated key must be 32 bytes"))?,
                wrapped: wrapped
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::MalformedRecord("wrapped key must be 48 bytes"))?,
            });
        }
        let state = match body.shredded_at {
            None if wraps.is_empty() => {
                return Err(KeyError::MalformedRecord("an active record needs a wrap"));
            }
            None => KeyringState::Active,
            Some(_) if !wraps.is_empty() => {
                return Err(KeyError::MalformedRecord(
                    "a shredded record holds no wraps",
                ));
            }
            Some(at) => KeyringState::Shredded { at },
        };
        Ok(Self {
            subject: body.subject,
            category: body.category,
            public_key,
            created_at: body.created_at,
            state,
            wraps,
        })
    }

    fn body(&self) -> RecordBody {
        RecordBody {
            subject: self.subject.clone(),
            category: self.category.clone(),
            public_key: ByteBuf::from(self.public_key.to_vec()),
            created_at: self.created_at,
            shredded_at: match self.state {
                KeyringState::Active => None,
                KeyringState::Shredded { at } => Some(at),
            },
            wraps: self
                .wraps
                .iter()
                .map(|w| {
                    WrapWire(
                        ByteBuf::from(w.key_id.0.to_vec()),
                        ByteBuf::from(w.enc.to_vec()),
                        ByteBuf::from(w.wrapped.to_vec()),
                    )
                })
                .collect(),
        }
    }

    /// HPKE info of a wrap: domain || SHA-256(canonical [subject, category,
    /// public key, created-at]) || recipient key id.
    fn wrap_info(&self, key_id: &KeyId) -> Vec<u8> {
        let context = codec::encode(&(
            &self.subject,
            &self.category,
            ByteBuf::from(self.public_key.to_vec()),
            self.created_at,
        ));
        let digest = suite::sha256(&[&context]);
        let mut info = Vec::with_capacity(WRAP_INFO_DOMAIN.len() + 32 + KEY_ID_LEN);
        info.extend_from_slice(WRAP_INFO_DOMAIN);
        info.extend_from_slice(&digest);
        info.extend_from_slice(&key_id.0);
        info
    }

    fn push_wraps(
        &mut self,
        subject_key: &PrivateKey,
        recipients: &[PublicKey],
        rng: &mut impl CryptoRng,
    ) -> Result<(), KeyError> {
        if self.wraps.len().saturating_add(recipients.len()) > MAX_WRAPS {
            return Err(KeyError::TooManyRecipients);
        }
        for r in recipients {
            let key_id = r.key_id();
            if self.wraps.iter().any(|w| w.key_id == key_id) {
                return Err(KeyError::DuplicateRecipient);
            }
            let info = self.wrap_info(&key_id);
            let secret = Zeroizing::new(*subject_key.secret_bytes());
            let (enc, ct) = suite::hpke_seal(r.as_bytes(), &info, &[], secret.as_ref(), rng)
                .map_err(|_| KeyError::WeakPublicKey)?;
            let wrapped: [u8; WRAPPED_LEN] = ct
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::WrapCorrupted)?;
            self.wraps.push(Wrap {
                key_id,
                enc,
                wrapped,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    fn setup() -> (
        DeterministicRng,
        PrivateKey,
        PrivateKey,
        PrivateKey,
        KeyringRecord,
    ) {
        let mut rng = DeterministicRng::new(11);
        let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let outsider = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let rec = KeyringRecord::create(
            "p-4711",
            "clinical-photos",
            &[practice.public_key(), doctor.public_key()],
            1_700_000_000,
            &mut rng,
        )
        .unwrap();
        (rng, practice, doctor, outsider, rec)
    }

    #[test]
    fn create_unwrap_round_trip() {
        let (_, practice, doctor, outsider, rec) = setup();
        let a = rec.unwrap(&practice).unwrap();
        let b = rec.unwrap(&doctor).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.public_key(), rec.public_key());
        assert_eq!(rec.unwrap(&outsider), Err(KeyError::NoAccess));
        assert_eq!(KeyringRecord::from_bytes(&rec.to_bytes()).unwrap(), rec);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn add_revoke_and_last_recipient() {
        let (mut rng, practice, doctor, outsider, rec) = setup();
        let added = rec
            .add_recipients(&doctor, &[outsider.public_key()], &mut rng)
            .unwrap();
        assert!(added.unwrap(&outsider).is_ok());
        assert_eq!(
            added.add_recipients(&doctor, &[outsider.public_key()], &mut rng),
            Err(KeyError::DuplicateRecipient)
        );
        let revoked = added.revoke_recipient(&outsider.key_id()).unwrap();
        assert_eq!(revoked.unwrap(&outsider), Err(KeyError::NoAccess));
        assert!(revoked.unwrap(&doctor).is_ok());
        let only_practice = revoked.revoke_recipient(&doctor.key_id()).unwrap();
        assert_eq!(
            only_practice.revoke_recipient(&practice.key_id()),
            Err(KeyError::LastRecipient)
        );
        // An outsider cannot add themselves.
        assert_eq!(
            rec.add_recipients(&outsider, &[outsider.public_key()], &mut rng),
            Err(KeyError::NoAccess)
        );
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn the_last_practice_recipient_is_never_revoked() {
        let (mut rng, practice, doctor, outsider, rec) = setup();
        let ids = [practice.key_id()];
        // Two wraps are left, but the practice would lose access.
        assert_eq!(
            rec.revoke_recipient_keeping(&practice.key_id(), &ids),
            Err(KeyError::LastPracticeRecipient)
        );
        assert_eq!(
            rec.revoke_recipient_keeping(&outsider.key_id(), &ids),
            Err(KeyError::NotARecipient)
        );
        let without_doctor = rec
            .revoke_recipient_keeping(&doctor.key_id(), &ids)
            .unwrap();
        assert_eq!(without_doctor.recipients(), vec![practice.key_id()]);
        // With a second practice key recipient, the first may go.
        let second = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let both = rec
            .add_recipients(&doctor, &[second.public_key()], &mut rng)
            .unwrap();
        let ids = [practice.key_id(), second.key_id()];
        let rotated = both
            .revoke_recipient_keeping(&practice.key_id(), &ids)
            .unwrap();
        assert!(rotated.unwrap(&second).is_ok());
        assert_eq!(
            rec.shred(1)
                .revoke_recipient_keeping(&doctor.key_id(), &ids),
            Err(KeyError::AlreadyShredded)
        );
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn practice_rotation_keeps_old_records_readable_until_replaced() {
        let (mut rng, practice, doctor, _, rec) = setup();
        let new_practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let shredded = rec.shred(1_800_000_000);
        let olds = vec![rec.clone(), shredded.clone()];
        let news = KeyringRecord::rotate_practice_key(
            &olds,
            &practice,
            &new_practice.public_key(),
            &mut rng,
        )
        .unwrap();
        // The old records are untouched and still open with the old key.
        assert!(olds[0].unwrap(&practice).is_ok());
        // The new one opens with the new practice key and the doctor, not the old key.
        assert_eq!(
            news[0].unwrap(&new_practice).unwrap(),
            rec.unwrap(&doctor).unwrap()
        );
        assert_eq!(news[0].unwrap(&practice), Err(KeyError::NoAccess));
        assert_eq!(news[1], shredded);
        // Rotation with a key that is not a recipient fails as a whole.
        let stranger = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let err = KeyringRecord::rotate_practice_key(
            &olds,
            &stranger,
            &new_practice.public_key(),
            &mut rng,
        )
        .unwrap_err();
        assert_eq!(err, (0, KeyError::NoAccess));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn shredded_record_gives_key_shredded() {
        let (_, practice, _, _, rec) = setup();
        let tomb = rec.shred(1_800_000_000);
        assert_eq!(tomb.unwrap(&practice), Err(KeyError::KeyShredded));
        let bytes = tomb.to_bytes();
        let back = KeyringRecord::from_bytes(&bytes).unwrap();
        assert_eq!(back.state(), KeyringState::Shredded { at: 1_800_000_000 });
        assert!(back.recipients().is_empty());
        assert_eq!(back.unwrap(&practice), Err(KeyError::KeyShredded));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn swapped_public_key_is_detected() {
        let (mut rng, practice, _, _, rec) = setup();
        let other = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let mut forged = rec.clone();
        forged.public_key = *other.public_key().as_bytes();
        // The wrap info binds the public key, so the wrap no longer opens.
        assert_eq!(forged.unwrap(&practice), Err(KeyError::WrapCorrupted));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn strict_parsing() {
        let (_, _, _, _, rec) = setup();
        let bytes = rec.to_bytes();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            KeyringRecord::from_bytes(&trailing),
            Err(KeyError::MalformedRecord(_))
        ));
        for cut in 0..bytes.len() {
            assert!(
                KeyringRecord::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        // A damaged version byte in front of a valid version-1 record.
        let mut v = bytes.clone();
        v[4] = 2;
        assert!(matches!(
            KeyringRecord::from_bytes(&v),
            Err(KeyError::MalformedRecord(m)) if m.contains("version byte is damaged")
        ));
        let mut s = bytes.clone();
        s[5] = 9;
        assert_eq!(
            KeyringRecord::from_bytes(&s),
            Err(KeyError::UnsupportedSuite(9))
        );
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "X25519 and HPKE run about 1000x slower under Miri; create_unwrap_round_trip covers the same code there"
    )]
    fn debug_is_free_of_secrets_and_subject() {
        let (_, _, _, _, rec) = setup();
        let dbg = format!("{rec:?}");
        assert!(!dbg.contains("p-4711"));
    }
}
