//! Keys of the practice key hierarchy: practice, staff and subject-category
//! X25519 key pairs, their key ids and text forms, and the subject-category
//! keyring record ([`KeyringRecord`]).
//!
//! * The **practice key** belongs to the controller; its private half never
//!   leaves the practice.
//! * **Staff keys** exist per staff member device or role.
//! * A **subject-category key** exists per (patient pseudonym, data category).
//!   Its public half is all a sealer needs; its private half is stored only
//!   wrapped (HPKE) to the practice key and to authorised staff keys.
//!
//! Text forms are Bech32 (BIP 173) with a human-readable part naming the key
//! kind, so a mistyped or swapped key is caught by the checksum or the prefix:
//!
//! ```
//! use caduceus_core::keys::{KeyKind, PrivateKey, PublicKey};
//! // The operating system RNG (never a seeded or test RNG).
//! let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
//! let staff = PrivateKey::generate(KeyKind::Staff, &mut rng);
//! let text = staff.public_key().to_string();
//! assert!(text.starts_with("cdstaff1"));
//! let parsed: PublicKey = text.parse().unwrap();
//! assert_eq!(parsed, staff.public_key());
//! // Secrets never appear in Debug output.
//! assert!(format!("{staff:?}").contains("REDACTED"));
//! ```

mod keyring;

pub use keyring::{KeyringRecord, KeyringState, MAX_RECORD_BODY, MAX_WRAPS};

use core::fmt;
use core::str::FromStr;

use bech32::{Bech32, Hrp, primitives::decode::CheckedHrpstring};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::suite;

/// Length in bytes of a [`KeyId`].
pub const KEY_ID_LEN: usize = 16;

/// Longest key text (public or secret, Bech32) accepted, in bytes (a valid
/// key text is ASCII), after surrounding white space is trimmed; checked
/// before Bech32 decoding. The texts this library writes are 66 to 88
/// characters long.
pub const MAX_KEY_TEXT_LEN: usize = 120;

/// Domain separation for key ids.
const KEY_ID_DOMAIN: &[u8] = b"caduceus/v1 key id";

/// Errors of key parsing and keyring operations. Messages name what was wrong
/// and what to do; they never contain key material or personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a well-formed key (bad characters, bad checksum, wrong length).
    #[error("not a valid Caduceus key: {0}; copy the key again in full")]
    InvalidKeyText(&'static str),
    /// The text is a key of another kind than expected.
    #[error("expected a {expected} key but found a {found} key")]
    WrongKeyKind {
        /// The kind the caller asked for.
        expected: &'static str,
        /// The kind the text encodes.
        found: &'static str,
    },
    /// The subject-category key was shredded: its data is erased for good.
    #[error("the subject-category key was shredded; the data it protected is erased")]
    KeyShredded,
    /// The keyring record has no wrap for the given key.
    #[error("this key is not a recipient of the keyring record; ask the practice to grant access")]
    NoAccess,
    /// The keyring record bytes are malformed.
    #[error("malformed keyring record: {0}")]
    MalformedRecord(&'static str),
    /// The keyring record was written by a newer format version (the rest
    /// is not a version-1 record; a version-1 record behind an unknown
    /// version byte is [`KeyError::MalformedRecord`]: damage).
    #[error(
        "unsupported keyring record version {0}: written by a newer Caduceus; upgrade Caduceus"
    )]
    UnsupportedVersion(u8),
    /// The keyring record uses an unknown cipher suite.
    #[error("unsupported keyring cipher suite {0}; upgrade Caduceus")]
    UnsupportedSuite(u8),
    /// A wrap decrypted, but to a key that does not match the record.
    #[error(
        "keyring record is inconsistent: a wrapped key does not match its public key; restore the record from a backup"
    )]
    RecordMismatch,
    /// A wrap for the key's id exists but does not decrypt.
    #[error("a wrapped key in the keyring record failed to decrypt; the record is damaged")]
    WrapCorrupted,
    /// Removing this recipient would leave nobody able to unwrap the key.
    #[error(
        "refusing to remove the last recipient: the key would become unreadable; add another recipient first, or shred"
    )]
    LastRecipient,
    /// Removing this recipient would leave no practice key able to unwrap.
    #[error(
        "refusing to revoke the last practice key recipient: the practice could no longer read this key; rotate the practice key instead"
    )]
    LastPracticeRecipient,
    /// A key id given for revocation holds no wrap in the record.
    #[error(
        "the key id to revoke is not a recipient of this keyring record; list its recipients with 'caduceus keyring inspect'"
    )]
    NotARecipient,
    /// The recipient already holds a wrap.
    #[error("the key is already a recipient of this record")]
    DuplicateRecipient,
    /// More recipients than the format allows.
    #[error("too many recipients (at most {MAX_WRAPS})")]
    TooManyRecipients,
    /// No recipient was given.
    #[error("at least one recipient is required")]
    NoRecipients,
    /// The subject or category label is empty, too long or not printable ASCII.
    #[error("invalid {0}: use 1 to 128 printable ASCII characters")]
    InvalidLabel(&'static str),
    /// The public key is a low-order point.
    #[error("the public key is a low-order X25519 point and cannot be used")]
    WeakPublicKey,
    /// The public key bytes are not the canonical encoding of an X25519
    /// u-coordinate (bit 255 set, or a value of 2^255 - 19 or more). Such a
    /// text names the same X25519 key under a different key id, so data
    /// sealed to it would match no identity.
    #[error(
        "the public key is not in canonical form (its top bit is set or its value is 2^255-19 or more); Caduceus never writes such a key: export the public key again from its private key"
    )]
    NonCanonicalPublicKey,
    /// The operation needs an active record.
    #[error("the keyring record is shredded; it can no longer be changed")]
    AlreadyShredded,
}

/// The role a key pair plays in the hierarchy. It selects the text-form
/// prefix; the key bytes and key id do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// The practice (controller) key.
    Practice,
    /// A staff member device or role key.
    Staff,
    /// A (patient pseudonym, data category) key.
    SubjectCategory,
}

impl KeyKind {
    /// All kinds, in text-form lookup order.
    pub const ALL: [KeyKind; 3] = [KeyKind::Practice, KeyKind::Staff, KeyKind::SubjectCategory];

    /// Human-readable name.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Practice => "practice",
            KeyKind::Staff => "staff",
            KeyKind::SubjectCategory => "subject-category",
        }
    }

    fn public_hrp(self) -> &'static str {
        match self {
            KeyKind::Practice => "cdpractice",
            KeyKind::Staff => "cdstaff",
            KeyKind::SubjectCategory => "cdsubject",
        }
    }

    fn secret_hrp(self) -> &'static str {
        match self {
            KeyKind::Practice => "caduceus-practice-secret-key-",
            KeyKind::Staff => "caduceus-staff-secret-key-",
            KeyKind::SubjectCategory => "caduceus-subject-secret-key-",
        }
    }
}

/// A stable key id: the first 16 bytes of
/// SHA-256("caduceus/v1 key id" || public key). Shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The key id of a raw X25519 public key.
    pub fn of(public: &[u8; suite::X25519_LEN]) -> Self {
        let digest = suite::sha256(&[KEY_ID_DOMAIN, public]);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        // `from_str_radix` alone would also take a sign ("+f").
        if s.len() != KEY_ID_LEN * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::InvalidKeyText(
                "a key id is 32 hexadecimal digits",
            ));
        }
        let mut id = [0u8; KEY_ID_LEN];
        for (i, slot) in id.iter_mut().enumerate() {
            let pair = s.get(2 * i..2 * i + 2).ok_or(KeyError::InvalidKeyText(
                "a key id is 32 hexadecimal digits",
            ))?;
            *slot = u8::from_str_radix(pair, 16)
                .map_err(|_| KeyError::InvalidKeyText("a key id is 32 hexadecimal digits"))?;
        }
        Ok(KeyId(id))
    }
}

/// An X25519 public key of a given kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    kind: KeyKind,
    bytes: [u8; suite::X25519_LEN],
}

impl PublicKey {
    /// A public key from raw bytes. Rejects a non-canonical u-coordinate
    /// ([`KeyError::NonCanonicalPublicKey`]: bit 255 set, or u >= 2^255 - 19,
    /// which X25519 would reduce to another encoding of the same key, under
    /// another key id), then low-order points, for which every shared secret
    /// would be zero ([`KeyError::WeakPublicKey`]).
    pub fn from_bytes(kind: KeyKind, bytes: [u8; suite::X25519_LEN]) -> Result<Self, KeyError> {
        if !is_canonical_u(&bytes) {
            return Err(KeyError::NonCanonicalPublicKey);
        }
        // DH with a fixed, valid scalar yields zero exactly for low-order points.
        let probe = [0x42u8; suite::X25519_LEN];
        if suite::x25519(&probe, &bytes).is_err() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(Self { kind, bytes })
    }

    /// The kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; suite::X25519_LEN] {
        &self.bytes
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.bytes)
    }

    /// The same key, relabelled as another kind.
    pub fn with_kind(self, kind: KeyKind) -> Self {
        Self { kind, ..self }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse(self.kind.public_hrp()).map_err(|_| fmt::Error)?;
        bech32::encode_lower_to_fmt::<Bech32, _>(f, hrp, &self.bytes).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {self})", self.kind.name())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (kind, bytes) = decode_text(s.trim(), false)?;
        PublicKey::from_bytes(kind, *bytes)
    }
}

/// An X25519 private key of a given kind. Zeroized on drop, compared in
/// constant time, redacted in `Debug`; its text form is written only by
/// [`PrivateKey::to_secret_string`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey {
    #[zeroize(skip)]
    kind: KeyKind,
    secret: [u8; suite::X25519_LEN],
    #[zeroize(skip)]
    public: [u8; suite::X25519_LEN],
}

impl PrivateKey {
    /// Generate a fresh key pair from `rng`.
    pub fn generate(kind: KeyKind, rng: &mut impl CryptoRng) -> Self {
        let mut secret = Zeroizing::new([0u8; suite::X25519_LEN]);
        loop {
            rng.fill_bytes(secret.as_mut());
            let public = suite::x25519_public(&secret);
            // A clamped scalar never gives a low-order public key; the check
            // guards against a broken RNG returning all zeros.
            if PublicKey::from_bytes(kind, public).is_ok() {
                return Self {
                    kind,
                    secret: *secret,
                    public,
                };
            }
        }
    }

    /// A private key from its 32 raw bytes (an X25519 scalar).
    pub fn from_bytes(kind: KeyKind, secret: [u8; suite::X25519_LEN]) -> Result<Self, KeyError> {
        let mut secret = Zeroizing::new(secret);
        let public = suite::x25519_public(&secret);
        PublicKey::from_bytes(kind, public)?;
        Ok(Self {
            kind,
            secret: core::mem::take(&mut *secret),
            public,
        })
    }

    /// The kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kind: self.kind,
            bytes: self.public,
        }
    }

    /// The key id of the public half.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.public)
    }

    /// The raw secret scalar. Handle with care: zeroize copies.
    pub fn secret_bytes(&self) -> &[u8; suite::X25519_LEN] {
        &self.secret
    }

    /// The text form (upper-case Bech32, e.g. `CADUCEUS-STAFF-SECRET-KEY-1…`),
    /// in a buffer zeroized on drop. Write it only to protected storage.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(96));
        if let Ok(hrp) = Hrp::parse(self.kind.secret_hrp()) {
            // Writing into a String cannot fail.
            let _ = bech32::encode_upper_to_fmt::<Bech32, _>(&mut *out, hrp, &self.secret);
        }
        out
    }

    /// Parse the text form of a private key.
    pub fn from_secret_str(s: &str) -> Result<Self, KeyError> {
        let (kind, bytes) = decode_text(s.trim(), true)?;
        PrivateKey::from_bytes(kind, *bytes)
    }

    /// Parse an identity file: one secret key per line; blank lines and lines
    /// starting with `#` are ignored.
    pub fn parse_identities(text: &str) -> Result<Vec<PrivateKey>, KeyError> {
        let mut keys = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys.push(PrivateKey::from_secret_str(line)?);
        }
        if keys.is_empty() {
            return Err(KeyError::InvalidKeyText(
                "the identity file holds no secret key",
            ));
        }
        Ok(keys)
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && bool::from(self.secret.ct_eq(&other.secret))
    }
}

impl Eq for PrivateKey {}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey({}, {}, [REDACTED])",
            self.kind.name(),
            self.key_id()
        )
    }
}

/// True if `u` (little-endian, RFC 7748) is the canonical encoding of an
/// X25519 u-coordinate: bit 255 clear and u < p = 2^255 - 19. The only
/// values with bit 255 clear that are not canonical are p ..= 2^255 - 1:
/// top byte 0x7f, bytes 1..=30 all 0xff, byte 0 at least 0xed.
fn is_canonical_u(u: &[u8; suite::X25519_LEN]) -> bool {
    let [low, middle @ .., top] = u;
    if *top & 0x80 != 0 {
        return false;
    }
    !(*top == 0x7f && middle.iter().all(|b| *b == 0xff) && *low >= 0xed)
}

/// Decode a Bech32 key text of any kind; `secret` selects which prefixes count.
fn decode_text(s: &str, secret: bool) -> Result<(KeyKind, Zeroizing<[u8; 32]>), KeyError> {
    if s.len() > MAX_KEY_TEXT_LEN {
        return Err(KeyError::InvalidKeyText("too long"));
    }
    let checked = CheckedHrpstring::new::<Bech32>(s)
        .map_err(|_| KeyError::InvalidKeyText("bad characters, mixed case or checksum mismatch"))?;
    // BIP 173: the padding bits after the last byte must be zero, so that
    // each key has exactly one text form.
    checked
        .validate_segwit_padding()
        .map_err(|_| KeyError::InvalidKeyText("non-zero padding bits"))?;
    let hrp = checked.hrp().to_lowercase();
    let wanted = if secret { "secret" } else { "public" };
    let kind = KeyKind::ALL
        .into_iter()
        .find(|k| {
            (if secret {
                k.secret_hrp()
            } else {
                k.public_hrp()
            }) == hrp
        })
        .ok_or_else(|| {
            let other = KeyKind::ALL.into_iter().any(|k| {
                (if secret {
                    k.public_hrp()
                } else {
                    k.secret_hrp()
                }) == hrp
            });
            if other {
                KeyError::WrongKeyKind {
                    expected: wanted,
                    found: if secret { "public" } else { "secret" },
                }
            } else {
                KeyError::InvalidKeyText("unknown key prefix")
            }
        })?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    let mut n = 0usize;
    for b in checked.byte_iter() {
        let slot = bytes
            .get_mut(n)
            .ok_or(KeyError::InvalidKeyText("a key is 32 bytes"))?;
        *slot = b;
        n += 1;
    }
    if n != 32 {
        return Err(KeyError::InvalidKeyText("a key is 32 bytes"));
    }
    Ok((kind, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    #[test]
    #[cfg_attr(
        miri,
        ignore = "generates a key of every kind: X25519 runs about 1000x slower under Miri; the other key tests cover the same code there"
    )]
    fn text_forms_round_trip_for_every_kind() {
        let mut rng = DeterministicRng::new(7);
        for kind in KeyKind::ALL {
            let sk = PrivateKey::generate(kind, &mut rng);
            let text = sk.to_secret_string();
            assert!(text.starts_with(&kind.secret_hrp().to_uppercase()));
            let back = PrivateKey::from_secret_str(&text).unwrap();
            assert_eq!(back, sk);
            assert_eq!(back.kind(), kind);
            let pk_text = sk.public_key().to_string();
            assert!(pk_text.starts_with(kind.public_hrp()));
            assert_eq!(pk_text.parse::<PublicKey>().unwrap(), sk.public_key());
        }
    }

    #[test]
    fn mistyped_keys_are_caught() {
        let mut rng = DeterministicRng::new(8);
        let sk = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let text = sk.public_key().to_string();
        // Change one data character: the checksum catches it.
        let mut chars: Vec<char> = text.chars().collect();
        let i = chars.len() - 10;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        assert!(matches!(
            typo.parse::<PublicKey>(),
            Err(KeyError::InvalidKeyText(_))
        ));
        // Truncation.
        assert!(text[..text.len() - 1].parse::<PublicKey>().is_err());
        // A secret key where a public key is expected, and vice versa.
        assert!(matches!(
            sk.to_secret_string().parse::<PublicKey>(),
            Err(KeyError::WrongKeyKind { .. })
        ));
        assert!(matches!(
            PrivateKey::from_secret_str(&text),
            Err(KeyError::WrongKeyKind { .. })
        ));
    }

    #[test]
    fn low_order_public_keys_are_rejected() {
        assert_eq!(
            PublicKey::from_bytes(KeyKind::Staff, [0u8; 32]),
            Err(KeyError::WeakPublicKey)
        );
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(KeyKind::Staff, one),
            Err(KeyError::WeakPublicKey)
        );
    }

    /// p + delta as 32 little-endian bytes, for -2 <= delta <= 18 (no carry:
    /// p = 2^255 - 19 is ed ff .. ff 7f).
    fn p_plus(delta: i16) -> [u8; 32] {
        let mut u = [0xffu8; 32];
        u[31] = 0x7f;
        u[0] = u8::try_from(0xed + delta).unwrap();
        u
    }

    #[test]
    fn non_canonical_u_coordinates_are_rejected() {
        let mut rng = DeterministicRng::new(10);
        let sk = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let mut high = *sk.public_key().as_bytes();
        assert_eq!(high[31] & 0x80, 0, "X25519 writes bit 255 clear");
        high[31] |= 0x80;
        // The same X25519 key (the bit is masked in DH), another key id.
        assert_ne!(KeyId::of(&high), sk.key_id());
        assert_eq!(
            PublicKey::from_bytes(KeyKind::Staff, high),
            Err(KeyError::NonCanonicalPublicKey)
        );
        // p, p + 1 (0 and 1 again) and 2^255 - 1 (= p + 18, i.e. 18).
        for u in [p_plus(0), p_plus(1), p_plus(18), [0xff; 32]] {
            assert_eq!(
                PublicKey::from_bytes(KeyKind::Practice, u),
                Err(KeyError::NonCanonicalPublicKey)
            );
        }
        // p - 1 is canonical; it is refused only as a low-order point (the
        // point of order 2 on the twist). p - 2 is an ordinary key.
        assert_eq!(
            PublicKey::from_bytes(KeyKind::Practice, p_plus(-1)),
            Err(KeyError::WeakPublicKey)
        );
        let below = PublicKey::from_bytes(KeyKind::Practice, p_plus(-2)).unwrap();
        assert_eq!(below.as_bytes(), &p_plus(-2));
        // The text form: a valid Bech32 text of the non-canonical bytes.
        let hrp = Hrp::parse(KeyKind::Staff.public_hrp()).unwrap();
        for u in [high, p_plus(18)] {
            let text = bech32::encode_lower::<Bech32>(hrp, &u).unwrap();
            assert_eq!(
                text.parse::<PublicKey>(),
                Err(KeyError::NonCanonicalPublicKey)
            );
        }
        let text = bech32::encode_lower::<Bech32>(hrp, &p_plus(-2)).unwrap();
        assert_eq!(text.parse::<PublicKey>().unwrap().as_bytes(), &p_plus(-2));
        // The message names the fault and the remedy, never the key.
        let msg = KeyError::NonCanonicalPublicKey.to_string();
        assert!(msg.contains("canonical") && msg.contains("export the public key again"));
    }

    #[test]
    fn debug_of_private_key_is_redacted() {
        let mut rng = DeterministicRng::new(9);
        let sk = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let dbg = format!("{sk:?}");
        assert!(dbg.contains("[REDACTED]"));
        let secret_text = sk.to_secret_string();
        assert!(!dbg.contains(&secret_text[secret_text.len() - 20..]));
        for b in sk.secret_bytes().chunks(4) {
            let hexpart: String = b.iter().map(|x| format!("{x:02x}")).collect();
            assert!(!dbg.contains(&hexpart));
        }
    }

    #[test]
    fn key_id_text_round_trips() {
        let id = KeyId([0xab; 16]);
        assert_eq!(id.to_string().parse::<KeyId>().unwrap(), id);
        assert!("xyz".parse::<KeyId>().is_err());
    }
}
