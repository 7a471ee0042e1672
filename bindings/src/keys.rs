//! Keys and keyring records.

use std::sync::Arc;

use caduceus_core::keys::{self as core_keys, KeyId};

use crate::error::{CaduceusError, invalid};
use crate::rng;

/// The role a key pair plays in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum KeyKind {
    /// The practice (controller) key.
    Practice,
    /// A staff member's device or role key.
    Staff,
    /// A (patient pseudonym, data category) key, held in a keyring record.
    SubjectCategory,
}

impl From<KeyKind> for core_keys::KeyKind {
    fn from(k: KeyKind) -> Self {
        match k {
            KeyKind::Practice => Self::Practice,
            KeyKind::Staff => Self::Staff,
            KeyKind::SubjectCategory => Self::SubjectCategory,
        }
    }
}

impl From<core_keys::KeyKind> for KeyKind {
    fn from(k: core_keys::KeyKind) -> Self {
        match k {
            core_keys::KeyKind::Practice => Self::Practice,
            core_keys::KeyKind::Staff => Self::Staff,
            _ => Self::SubjectCategory,
        }
    }
}

pub(crate) fn key_id(text: &str) -> Result<KeyId, CaduceusError> {
    Ok(text.parse::<KeyId>()?)
}

fn secret32(bytes: &[u8]) -> Result<[u8; 32], CaduceusError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| invalid("a key is exactly 32 bytes"))
}

/// An X25519 public key (practice, staff or subject-category).
#[derive(uniffi::Object)]
#[uniffi::export(Debug, Display)]
pub struct PublicKey {
    pub(crate) key: core_keys::PublicKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.key)
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.key)
    }
}

impl PublicKey {
    pub(crate) fn wrap(key: core_keys::PublicKey) -> Arc<Self> {
        Arc::new(Self { key })
    }
}

pub(crate) fn core_public_keys(keys: &[Arc<PublicKey>]) -> Vec<core_keys::PublicKey> {
    keys.iter().map(|k| k.key).collect()
}

#[uniffi::export]
impl PublicKey {
    /// Parse the checksummed text form (`cdpractice1...`, `cdstaff1...`,
    /// `cdsubject1...`).
    #[uniffi::constructor]
    pub fn parse(text: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(text.trim().parse()?))
    }

    /// A public key from its 32 raw bytes.
    #[uniffi::constructor]
    pub fn from_bytes(kind: KeyKind, bytes: Vec<u8>) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(core_keys::PublicKey::from_bytes(
            kind.into(),
            secret32(&bytes)?,
        )?))
    }

    /// The checksummed text form.
    pub fn to_text(&self) -> String {
        self.key.to_string()
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.key.as_bytes().to_vec()
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.key.kind().into()
    }

    /// The key id (32 hex digits), as listed in envelope headers and
    /// keyring records.
    pub fn key_id(&self) -> String {
        self.key.key_id().to_string()
    }
}

/// An X25519 private key. Its `Debug`/`toString`/`repr` is redacted; export
/// it only to store it under platform protection (Android Keystore, iOS
/// Keychain) with [`PrivateKey::to_bytes`].
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct PrivateKey {
    pub(crate) key: core_keys::PrivateKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({}, id {}, secret REDACTED)",
            self.key.kind().name(),
            self.key.key_id()
        )
    }
}

#[uniffi::export]
impl PrivateKey {
    /// A fresh key pair from the operating system's RNG.
    #[uniffi::constructor]
    pub fn generate(kind: KeyKind) -> Arc<Self> {
        Arc::new(Self {
            key: core_keys::PrivateKey::generate(kind.into(), &mut rng()),
        })
    }

    /// Import the 32 secret bytes (from the platform keystore).
    #[uniffi::constructor]
    pub fn from_bytes(kind: KeyKind, secret: Vec<u8>) -> Result<Arc<Self>, CaduceusError> {
        let mut bytes = zeroize::Zeroizing::new(secret);
        let s = zeroize::Zeroizing::new(secret32(&bytes)?);
        zeroize::Zeroize::zeroize(&mut *bytes);
        Ok(Arc::new(Self {
            key: core_keys::PrivateKey::from_bytes(kind.into(), *s)?,
        }))
    }

    /// Parse the secret text form (`CADUCEUS-...-SECRET-KEY-1...`), as
    /// written by `caduceus keygen`.
    #[uniffi::constructor]
    pub fn from_secret_text(text: String) -> Result<Arc<Self>, CaduceusError> {
        let text = zeroize::Zeroizing::new(text);
        Ok(Arc::new(Self {
            key: core_keys::PrivateKey::from_secret_str(text.trim())?,
        }))
    }

    /// Export the 32 secret bytes, for the platform keystore only.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.key.secret_bytes().to_vec()
    }

    /// The secret text form (as `caduceus keygen` writes it).
    pub fn to_secret_text(&self) -> String {
        self.key.to_secret_string().as_str().to_owned()
    }

    /// The public half.
    pub fn public_key(&self) -> Arc<PublicKey> {
        PublicKey::wrap(self.key.public_key())
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.key.kind().into()
    }

    /// The key id (32 hex digits).
    pub fn key_id(&self) -> String {
        self.key.key_id().to_string()
    }
}

/// Whether a keyring record still holds its key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum KeyringState {
    /// The record holds wraps of the subject-category key.
    Active,
    /// The key was destroyed at `at` (Unix seconds).
    Shredded {
        /// When.
        at: i64,
    },
}

/// The keyring record of one (patient pseudonym, data category): its
/// subject-category key, wrapped to the practice and the authorised staff.
/// Immutable: every change returns a new record, which the caller stores
/// in place of the old one.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct KeyringRecord {
    pub(crate) record: core_keys::KeyringRecord,
}

impl std::fmt::Debug for KeyringRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.record, f)
    }
}

impl KeyringRecord {
    pub(crate) fn wrap(record: core_keys::KeyringRecord) -> Arc<Self> {
        Arc::new(Self { record })
    }
}

#[uniffi::export]
impl KeyringRecord {
    /// Create the record on first contact: a fresh subject-category key,
    /// wrapped to each recipient (the practice key and staff keys).
    #[uniffi::constructor]
    pub fn create(
        subject: String,
        category: String,
        recipients: Vec<Arc<PublicKey>>,
        created_at: i64,
    ) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(core_keys::KeyringRecord::create(
            &subject,
            &category,
            &core_public_keys(&recipients),
            created_at,
            &mut rng(),
        )?))
    }

    /// Decode a stored record.
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(core_keys::KeyringRecord::from_bytes(&bytes)?))
    }

    /// The bytes to store.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.record.to_bytes()
    }

    /// The subject pseudonym.
    pub fn subject(&self) -> String {
        self.record.subject().to_owned()
    }

    /// The data category.
    pub fn category(&self) -> String {
        self.record.category().to_owned()
    }

    /// The subject-category public key: seal to this.
    pub fn public_key(&self) -> Arc<PublicKey> {
        PublicKey::wrap(self.record.public_key())
    }

    /// Creation time (Unix seconds).
    pub fn created_at(&self) -> i64 {
        self.record.created_at()
    }

    /// Active, or shredded and when.
    pub fn state(&self) -> KeyringState {
        match self.record.state() {
            core_keys::KeyringState::Shredded { at } => KeyringState::Shredded { at },
            _ => KeyringState::Active,
        }
    }

    /// Key ids of the keys holding a wrap.
    pub fn recipient_ids(&self) -> Vec<String> {
        self.record
            .recipients()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// A new record with wraps for `new_recipients` added; `identity` must
    /// be able to unwrap this record (the practice key, usually).
    pub fn add_recipients(
        &self,
        identity: Arc<PrivateKey>,
        new_recipients: Vec<Arc<PublicKey>>,
    ) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(self.record.add_recipients(
            &identity.key,
            &core_public_keys(&new_recipients),
            &mut rng(),
        )?))
    }

    /// A new record without the wrap of `key_id`.
    pub fn revoke_recipient(&self, key_id: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(
            self.record.revoke_recipient(&self::key_id(&key_id)?)?,
        ))
    }

    /// A new record with the wrap of `old_key_id` replaced by one for `new`
    /// (a staff device's key rotation).
    pub fn rotate_recipient(
        &self,
        identity: Arc<PrivateKey>,
        old_key_id: String,
        new: Arc<PublicKey>,
    ) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(self.record.rotate_recipient(
            &identity.key,
            &key_id(&old_key_id)?,
            &new.key,
            &mut rng(),
        )?))
    }

    /// The shredded record: the subject-category key is destroyed, every
    /// envelope sealed to it (and every backup of one) is erased.
    pub fn shred(&self, at: i64) -> Arc<Self> {
        Self::wrap(self.record.shred(at))
    }

    /// The subject-category private key, for `identity` (staff or practice).
    pub fn unwrap_key(&self, identity: Arc<PrivateKey>) -> Result<Arc<PrivateKey>, CaduceusError> {
        Ok(Arc::new(PrivateKey {
            key: self.record.unwrap(&identity.key)?,
        }))
    }
}

/// Rotate the practice key: every record gets a wrap for `new_practice`
/// (unwrapped with `old_practice`) in place of the old practice key's, in
/// order; store them all before retiring the old key. No envelope is
/// rewritten. Shredded records come back unchanged. On an error nothing is
/// returned; the error names no record.
#[uniffi::export]
pub fn rotate_practice_key(
    records: Vec<Arc<KeyringRecord>>,
    old_practice: Arc<PrivateKey>,
    new_practice: Arc<PublicKey>,
) -> Result<Vec<Arc<KeyringRecord>>, CaduceusError> {
    let list: Vec<core_keys::KeyringRecord> = records.iter().map(|r| r.record.clone()).collect();
    core_keys::KeyringRecord::rotate_practice_key(
        &list,
        &old_practice.key,
        &new_practice.key,
        &mut rng(),
    )
    .map(|v| v.into_iter().map(KeyringRecord::wrap).collect())
    .map_err(|(_, e)| e.into())
}
