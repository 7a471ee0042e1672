//! The one cipher suite Caduceus uses, exposed as the exact calls the formats make.
//!
//! Suite 1: X25519, HKDF-SHA256, AES-256-GCM, HMAC-SHA256, and HPKE (RFC 9180)
//! in base mode with DHKEM(X25519, HKDF-SHA256) (KEM id 0x0020), HKDF-SHA256
//! (KDF id 0x0001) and AES-256-GCM (AEAD id 0x0002).
//!
//! These functions are thin, documented wrappers over the RustCrypto and
//! `hpke` crates. They are public so that the test suite can check them
//! against published vectors (RFC 9180, Wycheproof) exactly as the envelope
//! and keyring formats call them; applications normally use
//! [`crate::envelope`] and [`crate::keys`] instead.
//!
//! ```
//! use caduceus_core::suite;
//! let key = [7u8; 32];
//! let nonce = [0u8; 12];
//! let sealed = suite::aes256gcm_seal(&key, &nonce, b"aad", b"hello").unwrap();
//! assert_eq!(suite::aes256gcm_open(&key, &nonce, b"aad", &sealed).unwrap(), b"hello");
//! ```

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length in bytes of an X25519 public or private key, and of an HPKE
/// encapsulated key for this suite.
pub const X25519_LEN: usize = 32;
/// Length in bytes of an AES-256-GCM key.
pub const AES_KEY_LEN: usize = 32;
/// Length in bytes of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length in bytes of an AES-GCM authentication tag.
pub const TAG_LEN: usize = 16;
/// Length in bytes of an HMAC-SHA256 output and of a SHA-256 digest.
pub const MAC_LEN: usize = 32;

type Hpke256 = hpke::aead::AesGcm256;
type HpkeKdf = hpke::kdf::HkdfSha256;

/// Failure of a primitive. Callers map it to their module's error; it never
/// carries key or plaintext material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// Authentication of a ciphertext failed (wrong key, or modified data).
    #[error("authentication failed: the ciphertext was modified or the key is wrong")]
    Authentication,
    /// A Diffie-Hellman result was all zeros (a low-order public key).
    #[error("the public key is a low-order point (all-zero shared secret); use a real X25519 key")]
    ZeroSharedSecret,
    /// An input had a length the primitive cannot take.
    #[error("an input to the cipher suite had an invalid length")]
    InvalidLength,
}

/// HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` into `out`.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Result<(), SuiteError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| SuiteError::InvalidLength)
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; MAC_LEN] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; MAC_LEN],
    };
    for part in data {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Verify an HMAC-SHA256 tag in constant time.
pub fn hmac_sha256_verify(key: &[u8], data: &[&[u8]], tag: &[u8]) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) else {
        return false;
    };
    for part in data {
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// AES-256-GCM encryption; returns ciphertext || tag.
pub fn aes256gcm_seal(
    key: &[u8; AES_KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SuiteError> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .encrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SuiteError::InvalidLength)
}

/// AES-256-GCM decryption of ciphertext || tag.
pub fn aes256gcm_open(
    key: &[u8; AES_KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, SuiteError> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SuiteError::Authentication)
}

/// An AES-256-GCM key schedule reused across many segments; the round keys
/// are zeroized on drop.
pub(crate) struct SegmentCipher(Aes256Gcm);

impl SegmentCipher {
    pub(crate) fn new(key: &[u8; AES_KEY_LEN]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypt `buf` in place (no AAD) and return the tag.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], SuiteError> {
        use aes_gcm::aead::AeadInOut;
        self.0
            .encrypt_inout_detached(&Nonce::from(*nonce), &[], buf.into())
            .map(Into::into)
            .map_err(|_| SuiteError::InvalidLength)
    }

    /// Decrypt `buf` in place (no AAD) after checking `tag`.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), SuiteError> {
        use aes_gcm::aead::AeadInOut;
        self.0
            .decrypt_inout_detached(&Nonce::from(*nonce), &[], buf.into(), tag.into())
            .map_err(|_| SuiteError::Authentication)
    }
}

impl core::fmt::Debug for SegmentCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SegmentCipher([REDACTED])")
    }
}

/// X25519 public key of a 32-byte private scalar (clamped per RFC 7748).
pub fn x25519_public(secret: &[u8; X25519_LEN]) -> [u8; X25519_LEN] {
    let sk = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&sk).to_bytes()
}

/// X25519 Diffie-Hellman; rejects an all-zero shared secret (RFC 7748
/// section 6.1, RFC 9180 section 7.1.4).
pub fn x25519(
    secret: &[u8; X25519_LEN],
    public: &[u8; X25519_LEN],
) -> Result<Zeroizing<[u8; X25519_LEN]>, SuiteError> {
    let sk = x25519_dalek::StaticSecret::from(*secret);
    let shared = sk.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(SuiteError::ZeroSharedSecret);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// HPKE DeriveKeyPair (RFC 9180 section 7.1.3) for DHKEM(X25519, HKDF-SHA256):
/// returns (private key, public key). The private key is returned clamped, as
/// RFC 9180 section 7.1.2 requires of SerializePrivateKey for X25519 (the
/// RFC's JSON vectors list `skRm` unclamped; both give the same public key).
pub fn hpke_derive_keypair(ikm: &[u8]) -> (Zeroizing<[u8; X25519_LEN]>, [u8; X25519_LEN]) {
    let (sk, pk) = X25519HkdfSha256::derive_keypair(ikm);
    let mut out = Zeroizing::new([0u8; X25519_LEN]);
    out.copy_from_slice(&sk.to_bytes());
    (out, pk.to_bytes().into())
}

/// HPKE single-shot seal, base mode, this suite (RFC 9180 section 6.1):
/// returns (enc, ciphertext || tag). The ephemeral key is
/// DeriveKeyPair(32 bytes from `rng`), exactly as RFC 9180's test vectors
/// derive it from `ikmE`.
pub fn hpke_seal(
    recipient: &[u8; X25519_LEN],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; X25519_LEN], Vec<u8>), SuiteError> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(recipient)
        .map_err(|_| SuiteError::InvalidLength)?;
    let (enc, ct) = hpke::single_shot_seal_with_rng::<Hpke256, HpkeKdf, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(map_hpke)?;
    Ok((enc.to_bytes().into(), ct))
}

/// HPKE single-shot open, base mode, this suite (RFC 9180 section 6.1).
pub fn hpke_open(
    secret: &[u8; X25519_LEN],
    enc: &[u8; X25519_LEN],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SuiteError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret)
        .map_err(|_| SuiteError::InvalidLength)?;
    let encapped = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| SuiteError::InvalidLength)?;
    hpke::single_shot_open::<Hpke256, HpkeKdf, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &encapped,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(map_hpke)
}

/// HPKE base-mode receiver context, for checking the RFC 9180 vectors'
/// sequence of encryptions and exporter values against this suite.
pub fn hpke_receiver_context(
    secret: &[u8; X25519_LEN],
    enc: &[u8; X25519_LEN],
    info: &[u8],
) -> Result<HpkeReceiver, SuiteError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret)
        .map_err(|_| SuiteError::InvalidLength)?;
    let encapped = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| SuiteError::InvalidLength)?;
    let ctx = hpke::setup_receiver::<Hpke256, HpkeKdf, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &encapped,
        info,
    )
    .map_err(map_hpke)?;
    Ok(HpkeReceiver(ctx))
}

/// An HPKE receiver context of this suite (RFC 9180 section 5.2).
pub struct HpkeReceiver(hpke::aead::AeadCtxR<Hpke256, HpkeKdf, X25519HkdfSha256>);

impl HpkeReceiver {
    /// Open the next message in sequence.
    pub fn open(&mut self, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SuiteError> {
        self.0.open(ciphertext, aad).map_err(map_hpke)
    }

    /// The secret export interface (RFC 9180 section 5.3).
    pub fn export(&self, context: &[u8], out: &mut [u8]) -> Result<(), SuiteError> {
        self.0.export(context, out).map_err(map_hpke)
    }
}

impl core::fmt::Debug for HpkeReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HpkeReceiver([REDACTED])")
    }
}

fn map_hpke(e: hpke::HpkeError) -> SuiteError {
    match e {
        hpke::HpkeError::EncapError | hpke::HpkeError::DecapError => {
            // In this suite encap/decap fail only on an all-zero DH output.
            SuiteError::ZeroSharedSecret
        }
        hpke::HpkeError::OpenError => SuiteError::Authentication,
        _ => SuiteError::InvalidLength,
    }
}
