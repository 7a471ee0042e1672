//! C2SP `signed-note` with Ed25519 signatures, and the signer (`PRIVATE+KEY+...`)
//! and verifier key texts of Go's `golang.org/x/mod/sumdb/note`.
//!
//! ```
//! use caduceus_core::audit::note::{NoteSigner, NoteVerifier, open, sign};
//! let signer = NoteSigner::parse(
//!     "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").unwrap();
//! let verifier = NoteVerifier::parse(
//!     "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap();
//! let text = "If you think cryptography is the answer to your problem,\n\
//!             then you don't know what your problem is.\n";
//! let note = sign(text, &[&signer]).unwrap();
//! assert!(note.ends_with("\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"));
//! let opened = open(&note, &[verifier]).unwrap();
//! assert_eq!(opened.text, text);
//! assert_eq!(opened.verified_by, ["PeterNeumann"]);
//! ```

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::AuditError;
use crate::suite;

/// Signature type byte of Ed25519 (C2SP signed-note).
pub const ALG_ED25519: u8 = 0x01;
/// Most signature lines in one note: [`open`] refuses a note with more, and
/// [`sign`] refuses more signers (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Longest signed note, in bytes: [`open`] refuses a longer note, and
/// [`sign`] refuses to write one.
pub const MAX_NOTE_LEN: usize = 1 << 20;
/// Longest key name of a signer or verifier key, and of a signature line,
/// in bytes.
pub const MAX_KEY_NAME_LEN: usize = 256;
const EM_DASH_SPACE: &str = "\u{2014} ";
/// Base64 (with padding) of a 4-byte key id and a 64-byte signature.
const SIGNATURE_B64_LEN: usize = (4 + 64usize).div_ceil(3) * 4;

/// Key name rules: non-empty, no Unicode white space, no `+`, no control
/// characters.
fn check_name(name: &str) -> Result<(), AuditError> {
    if name.is_empty()
        || name.len() > MAX_KEY_NAME_LEN
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(AuditError::MalformedKey(
            "key name must be 1 to 256 bytes, without spaces, '+' or control characters",
        ));
    }
    Ok(())
}

/// Key ID = SHA-256(name || 0x0A || 0x01 || public key)`[:4]`, big-endian.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let h = suite::sha256(&[name.as_bytes(), b"\n", &[ALG_ED25519], public_key]);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// An Ed25519 note verifier: key name, key id and public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `name` and a 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, AuditError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| AuditError::MalformedKey("not an Ed25519 public key"))?;
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, public_key),
            key,
        })
    }

    /// Parse `name+hex8id+base64(0x01 || public key)`; the id must match.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AuditError::MalformedKey("expected name+keyid+key"));
        };
        let id = parse_id(id)?;
        let raw = B64
            .decode(b64)
            .map_err(|_| AuditError::MalformedKey("key is not base64"))?;
        let (Some(&ALG_ED25519), Ok(pk)) = (
            raw.first(),
            <[u8; 32]>::try_from(raw.get(1..).unwrap_or_default()),
        ) else {
            return Err(AuditError::MalformedKey(
                "not an Ed25519 (type 0x01) 32-byte key",
            ));
        };
        let v = Self::new(name, &pk)?;
        if v.id != id {
            return Err(AuditError::MalformedKey("key id does not match the key"));
        }
        Ok(v)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl fmt::Display for NoteVerifier {
    /// The verifier key text `name+hex8id+base64(0x01 || public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

fn parse_id(id: &str) -> Result<u32, AuditError> {
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuditError::MalformedKey("key id must be 8 hex digits"));
    }
    u32::from_str_radix(id, 16).map_err(|_| AuditError::MalformedKey("key id must be 8 hex digits"))
}

/// An Ed25519 note signer (the log's checkpoint signing key). Zeroized on
/// drop, redacted in `Debug`, compared in constant time.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// A new random key for `name` (RECOMMENDED: a schema-less URL such as
    /// `praxis.example/audit`).
    pub fn generate(name: &str, rng: &mut impl CryptoRng) -> Result<Self, AuditError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(name, &seed)
    }

    /// A signer from a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, AuditError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parse `PRIVATE+KEY+name+hex8id+base64(0x01 || seed)`; the id must
    /// match the key.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(AuditError::MalformedKey(
                "expected PRIVATE+KEY+name+keyid+key",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AuditError::MalformedKey(
                "expected PRIVATE+KEY+name+keyid+key",
            ));
        };
        let id = parse_id(id)?;
        let raw = Zeroizing::new(
            B64.decode(b64)
                .map_err(|_| AuditError::MalformedKey("key is not base64"))?,
        );
        if raw.len() != 33 || raw.first() != Some(&ALG_ED25519) {
            return Err(AuditError::MalformedKey(
                "not an Ed25519 (type 0x01) 32-byte key",
            ));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(raw.get(1..).unwrap_or(&[0; 32]));
        let s = Self::from_seed(name, &seed)?;
        if s.id != id {
            return Err(AuditError::MalformedKey("key id does not match the key"));
        }
        Ok(s)
    }

    /// The signer key text `PRIVATE+KEY+name+hex8id+base64(0x01 || seed)`,
    /// in a buffer zeroized on drop.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(B64.encode(raw.as_slice()));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            b64.as_str()
        ))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Length in bytes of this signer's signature line, newline included:
    /// em dash and space, key name, space, base64 of key id and signature.
    fn signature_line_len(&self) -> usize {
        EM_DASH_SPACE.len() + self.name.len() + 1 + SIGNATURE_B64_LEN + 1
    }

    fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.id.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        format!("{EM_DASH_SPACE}{} {}\n", self.name, B64.encode(raw))
    }
}

impl PartialEq for NoteSigner {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.name == other.name && bool::from(self.key.as_bytes().ct_eq(other.key.as_bytes()))
    }
}

impl Eq for NoteSigner {}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{:08x}, [REDACTED])", self.name, self.id)
    }
}

fn check_text(text: &str) -> Result<(), AuditError> {
    if text.len() > MAX_NOTE_LEN {
        return Err(AuditError::MalformedNote("note too large"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(AuditError::MalformedNote("control character in note"));
    }
    Ok(())
}

/// Sign `text` (which must end in a newline) with each signer; returns the
/// signed note: text, blank line, one signature line per signer. At most
/// [`MAX_SIGNATURES`] signers, and the signed note (not only the text) at
/// most [`MAX_NOTE_LEN`] bytes, so that [`open`] accepts every note `sign`
/// writes; both are checked before anything is signed.
pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<String, AuditError> {
    check_text(text)?;
    if !text.ends_with('\n') {
        return Err(AuditError::MalformedNote(
            "note text must end with a newline",
        ));
    }
    if signers.is_empty() {
        return Err(AuditError::MalformedNote("no signer given"));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(AuditError::MalformedNote(
            "more than 100 signers: a note carries at most 100 signatures (MAX_SIGNATURES); sign with fewer keys",
        ));
    }
    // The text is at most MAX_NOTE_LEN and there are at most MAX_SIGNATURES
    // lines of at most MAX_KEY_NAME_LEN + 98 bytes: the sum cannot overflow.
    let len = text.len()
        + 1
        + signers
            .iter()
            .map(|s| s.signature_line_len())
            .sum::<usize>();
    if len > MAX_NOTE_LEN {
        return Err(AuditError::MalformedNote(
            "the signed note would be longer than 1 MiB (MAX_NOTE_LEN), which open refuses; shorten the text (a checkpoint's extension lines) or sign with fewer keys",
        ));
    }
    let mut out = String::with_capacity(len);
    out.push_str(text);
    out.push('\n');
    for s in signers {
        out.push_str(&s.signature_line(text));
    }
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The signed text (including its final newline).
    pub text: String,
    /// Names of the known keys whose signatures verified.
    pub verified_by: Vec<String>,
    /// Number of signature lines from keys not given (ignored).
    pub unknown_signatures: usize,
}

/// Verify a signed note against known keys. Signatures from unknown keys
/// (name and id not both matching) are ignored; a signature from a known key
/// that fails rejects the note; at least one known signature must verify.
pub fn open(note: &str, verifiers: &[NoteVerifier]) -> Result<OpenedNote, AuditError> {
    check_text(note)?;
    if !note.ends_with('\n') {
        return Err(AuditError::MalformedNote("note must end with a newline"));
    }
    let split = note.rfind("\n\n").ok_or(AuditError::MalformedNote(
        "no blank line before the signatures",
    ))?;
    let text = note.get(..=split).unwrap_or_default();
    let sigs = note.get(split + 2..).unwrap_or_default();
    let mut verified_by = Vec::new();
    let mut unknown = 0usize;
    let mut count = 0usize;
    for line in sigs.split_terminator('\n') {
        count += 1;
        if count > MAX_SIGNATURES {
            return Err(AuditError::MalformedNote("too many signatures"));
        }
        let rest = line
            .strip_prefix(EM_DASH_SPACE)
            .ok_or(AuditError::MalformedNote(
                "signature line must start with an em dash and a space",
            ))?;
        let (name, b64) = rest.split_once(' ').ok_or(AuditError::MalformedNote(
            "signature line needs a key name and a signature",
        ))?;
        check_name(name)
            .map_err(|_| AuditError::MalformedNote("bad key name in a signature line"))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| AuditError::MalformedNote("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(AuditError::MalformedNote("signature too short"));
        }
        let (id_bytes, sig_bytes) = raw
            .split_first_chunk::<4>()
            .ok_or(AuditError::MalformedNote("signature too short"))?;
        let id = u32::from_be_bytes(*id_bytes);
        let Some(v) = verifiers.iter().find(|v| v.name == name && v.id == id) else {
            unknown += 1;
            continue;
        };
        let sig = <[u8; 64]>::try_from(sig_bytes)
            .map(|b| Signature::from_bytes(&b))
            .map_err(|_| AuditError::BadSignature(name.to_owned()))?;
        v.key
            .verify_strict(text.as_bytes(), &sig)
            .map_err(|_| AuditError::BadSignature(name.to_owned()))?;
        if !verified_by.iter().any(|n: &String| n == name) {
            verified_by.push(name.to_owned());
        }
    }
    if count == 0 {
        return Err(AuditError::MalformedNote("no signature lines"));
    }
    if verified_by.is_empty() {
        return Err(AuditError::UnverifiedNote);
    }
    Ok(OpenedNote {
        text: text.to_owned(),
        verified_by,
        unknown_signatures: unknown,
    })
}
