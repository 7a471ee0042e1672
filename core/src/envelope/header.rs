//! Envelope header: wire encoding, strict parsing, stanzas and key schedule.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

use super::{EnvelopeError, Labels, Part};
use crate::keys::{KEY_ID_LEN, KeyId, PrivateKey, PublicKey};
use crate::{codec, label, suite};

/// Magic bytes that start every envelope.
pub const MAGIC: [u8; 4] = *b"CADU";
/// The envelope format version this library writes and reads.
pub const VERSION: u8 = 1;
/// Suite 1: HPKE(X25519, HKDF-SHA256, AES-256-GCM) stanzas, HKDF-SHA256
/// key schedule, HMAC-SHA256 header MAC, AES-256-GCM STREAM payload.
pub const SUITE: u8 = 1;
/// Length of the fixed prefix: magic, version, suite, header length.
pub const PREFIX_LEN: usize = 10;
/// Maximum length of the MessagePack header body.
pub const MAX_HEADER_BODY: usize = 16 * 1024;
/// Maximum number of recipient stanzas.
pub const MAX_RECIPIENTS: usize = 64;
/// Maximum number of parts in an envelope set.
pub const MAX_PARTS: u32 = 65_535;
/// Length of an envelope id and of an envelope-set id.
pub const ENVELOPE_ID_LEN: usize = 16;

const STANZA_INFO_DOMAIN: &[u8] = b"caduceus/v1 envelope stanza";
const MAC_KEY_INFO: &[u8] = b"caduceus/v1 header mac";
const PAYLOAD_KEY_INFO: &[u8] = b"caduceus/v1 payload";
const WRAPPED_LEN: usize = suite::AES_KEY_LEN + suite::TAG_LEN;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LabelsWire(String, String, String, String, i64);

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartWire(ByteBuf, u32, u32);

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StanzaWire(ByteBuf, ByteBuf, ByteBuf);

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BodyWire(ByteBuf, LabelsWire, Option<PartWire>, Vec<StanzaWire>);

/// One recipient stanza: the data key wrapped with HPKE to one public key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Stanza {
    pub(crate) key_id: KeyId,
    enc: [u8; suite::X25519_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

/// The parsed, not yet authenticated header.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct WireHeader {
    pub(crate) envelope_id: [u8; ENVELOPE_ID_LEN],
    pub(crate) labels: Labels,
    pub(crate) part: Option<Part>,
    pub(crate) stanzas: Vec<Stanza>,
}

/// The per-envelope secret: the data key. Zeroized on drop.
pub(crate) struct DataKey(Zeroizing<[u8; suite::AES_KEY_LEN]>);

/// Keys derived from the data key and envelope id.
pub(crate) struct DerivedKeys {
    pub(crate) mac_key: Zeroizing<[u8; 32]>,
    pub(crate) payload_key: Zeroizing<[u8; suite::AES_KEY_LEN]>,
}

impl DataKey {
    pub(crate) fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut k = Zeroizing::new([0u8; suite::AES_KEY_LEN]);
        rng.fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// HKDF-SHA256 with salt = envelope id, ikm = data key.
    pub(crate) fn derive(
        &self,
        envelope_id: &[u8; ENVELOPE_ID_LEN],
    ) -> Result<DerivedKeys, EnvelopeError> {
        let mut mac_key = Zeroizing::new([0u8; 32]);
        let mut payload_key = Zeroizing::new([0u8; suite::AES_KEY_LEN]);
        suite::hkdf_sha256(envelope_id, self.0.as_ref(), MAC_KEY_INFO, mac_key.as_mut())
            .map_err(|_| EnvelopeError::Internal)?;
        suite::hkdf_sha256(
            envelope_id,
            self.0.as_ref(),
            PAYLOAD_KEY_INFO,
            payload_key.as_mut(),
        )
        .map_err(|_| EnvelopeError::Internal)?;
        Ok(DerivedKeys {
            mac_key,
            payload_key,
        })
    }
}

fn stanza_info(envelope_id: &[u8; ENVELOPE_ID_LEN], key_id: &KeyId) -> Vec<u8> {
    let mut info = Vec::with_capacity(STANZA_INFO_DOMAIN.len() + ENVELOPE_ID_LEN + KEY_ID_LEN);
    info.extend_from_slice(STANZA_INFO_DOMAIN);
    info.extend_from_slice(envelope_id);
    info.extend_from_slice(&key_id.0);
    info
}

impl WireHeader {
    /// Add stanzas wrapping `data_key` to `recipients`.
    pub(crate) fn add_stanzas(
        &mut self,
        data_key: &DataKey,
        recipients: &[PublicKey],
        rng: &mut impl CryptoRng,
    ) -> Result<(), EnvelopeError> {
        if self.stanzas.len().saturating_add(recipients.len()) > MAX_RECIPIENTS {
            return Err(EnvelopeError::TooManyRecipients);
        }
        for r in recipients {
            let key_id = r.key_id();
            if self.stanzas.iter().any(|s| s.key_id == key_id) {
                return Err(EnvelopeError::DuplicateRecipient);
            }
            let info = stanza_info(&self.envelope_id, &key_id);
            let (enc, ct) = suite::hpke_seal(r.as_bytes(), &info, &[], data_key.0.as_ref(), rng)
                .map_err(|_| EnvelopeError::WeakRecipientKey)?;
            let wrapped: [u8; WRAPPED_LEN] = ct
                .as_slice()
                .try_into()
                .map_err(|_| EnvelopeError::Internal)?;
            self.stanzas.push(Stanza {
                key_id,
                enc,
                wrapped,
            });
        }
        Ok(())
    }

    /// Unwrap the data key with `identity`.
    pub(crate) fn unwrap(&self, identity: &PrivateKey) -> Result<DataKey, EnvelopeError> {
        let key_id = identity.key_id();
        let stanza = self
            .stanzas
            .iter()
            .find(|s| s.key_id == key_id)
            .ok_or(EnvelopeError::NoAccess)?;
        let info = stanza_info(&self.envelope_id, &key_id);
        let pt = suite::hpke_open(
            identity.secret_bytes(),
            &stanza.enc,
            &info,
            &[],
            &stanza.wrapped,
        )
        .map_err(|_| EnvelopeError::StanzaCorrupted)?;
        let mut k = Zeroizing::new([0u8; suite::AES_KEY_LEN]);
        if pt.len() != k.len() {
            return Err(EnvelopeError::StanzaCorrupted);
        }
        k.copy_from_slice(&pt);
        Ok(DataKey(k))
    }

    /// Serialize prefix and body (everything the MAC covers).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        if self.stanzas.is_empty() {
            return Err(EnvelopeError::NoRecipients);
        }
        let l = &self.labels;
        let body = BodyWire(
            ByteBuf::from(self.envelope_id.to_vec()),
            LabelsWire(
                l.subject.clone(),
                l.category.clone(),
                l.purpose.clone(),
                l.content_type.clone(),
                l.created_at,
            ),
            self.part
                .map(|p| PartWire(ByteBuf::from(p.set_id.to_vec()), p.index, p.count)),
            self.stanzas
                .iter()
                .map(|s| {
                    StanzaWire(
                        ByteBuf::from(s.key_id.0.to_vec()),
                        ByteBuf::from(s.enc.to_vec()),
                        ByteBuf::from(s.wrapped.to_vec()),
                    )
                })
                .collect(),
        );
        let body = codec::encode(&body);
        if body.len() > MAX_HEADER_BODY {
            return Err(EnvelopeError::HeaderTooLarge);
        }
        let mut out = Vec::with_capacity(PREFIX_LEN + body.len() + suite::MAC_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(SUITE);
        out.extend_from_slice(
            &u32::try_from(body.len())
                .map_err(|_| EnvelopeError::HeaderTooLarge)?
                .to_be_bytes(),
        );
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Encode and append the header MAC.
    pub(crate) fn encode_with_mac(&self, keys: &DerivedKeys) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = self.encode()?;
        let mac = suite::hmac_sha256(keys.mac_key.as_ref(), &[&out]);
        out.extend_from_slice(&mac);
        Ok(out)
    }
}

/// The message for a version byte that names no version: 0 was never
/// assigned, and a version-1 header behind another version byte means that
/// byte was damaged (docs/FORMAT.md 5.8 step 3, section 10).
const DAMAGED_VERSION: &str = "the version byte is damaged (version 0 does not exist, or the rest is a valid version 1 header); a newer Caduceus will not open it: restore the envelope from a backup";

/// Check the 10-byte prefix and return the total header length
/// (prefix + body + MAC), i.e. the offset of the payload
/// (docs/FORMAT.md 5.8 steps 1-5).
///
/// Version 0 never existed ([`EnvelopeError::MalformedHeader`]). Any other
/// unknown version is [`EnvelopeError::UnsupportedVersion`], unless the
/// prefix also has the shape of a version-1 prefix (suite 1, a body length
/// of 1 to [`MAX_HEADER_BODY`]): then the length it has as version 1 is
/// returned, because only the whole header can tell a newer envelope
/// (upgrade Caduceus) from a version-1 envelope with a damaged version
/// byte; [`inspect`](super::inspect) and the open functions decide.
pub fn header_len_from_prefix(prefix: &[u8]) -> Result<usize, EnvelopeError> {
    let p = prefix.get(..PREFIX_LEN).ok_or(EnvelopeError::Truncated)?;
    if p.get(..4) != Some(&MAGIC[..]) {
        return Err(EnvelopeError::BadMagic);
    }
    let version = p.get(4).copied().unwrap_or(0);
    if version == 0 {
        return Err(EnvelopeError::MalformedHeader(DAMAGED_VERSION));
    }
    let v1_shape = v1_prefix_len(p);
    if version != VERSION {
        return v1_shape.map_err(|_| EnvelopeError::UnsupportedVersion(version));
    }
    v1_shape
}

/// Steps 4-5 of docs/FORMAT.md 5.8 (suite 1, 1 <= `L` <= 16384) on a
/// 10-byte prefix, whatever its version byte; the total header length.
fn v1_prefix_len(p: &[u8]) -> Result<usize, EnvelopeError> {
    let suite_id = p.get(5).copied().unwrap_or(0);
    if suite_id != SUITE {
        return Err(EnvelopeError::UnsupportedSuite(suite_id));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(p.get(6..10).ok_or(EnvelopeError::Truncated)?);
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Err(EnvelopeError::MalformedHeader(
            "the header length is 0; the envelope is damaged",
        ));
    }
    if len > MAX_HEADER_BODY {
        return Err(EnvelopeError::HeaderTooLarge);
    }
    PREFIX_LEN
        .checked_add(len)
        .and_then(|n| n.checked_add(suite::MAC_LEN))
        .ok_or(EnvelopeError::HeaderTooLarge)
}

/// Parse the header at the start of `bytes` (which may continue with the
/// payload). Returns the header, the authenticated bytes (prefix + body) and
/// the MAC. An unknown version byte in front of a header that is valid as
/// version 1 (steps 4-12 of docs/FORMAT.md 5.8) is damage, not a newer
/// format: no later version has a version-1 header (FORMAT.md section 10).
pub(crate) fn parse(bytes: &[u8]) -> Result<(WireHeader, &[u8], &[u8]), EnvelopeError> {
    let total = header_len_from_prefix(bytes)?;
    let version = bytes.get(4).copied().unwrap_or(0);
    if version == VERSION {
        return parse_v1(bytes, total);
    }
    // `header_len_from_prefix` let an unknown version through only with a
    // version-1-shaped prefix: try the header as version 1.
    let Some(header) = bytes.get(..total) else {
        return Err(EnvelopeError::UnsupportedVersion(version));
    };
    let mut as_v1 = header.to_vec();
    if let Some(v) = as_v1.get_mut(4) {
        *v = VERSION;
    }
    match parse_v1(&as_v1, total) {
        Ok(_) => Err(EnvelopeError::MalformedHeader(DAMAGED_VERSION)),
        Err(_) => Err(EnvelopeError::UnsupportedVersion(version)),
    }
}

/// Steps 6-12 of docs/FORMAT.md 5.8 on a header whose prefix passed steps
/// 1-5 as version 1, `total` bytes long (prefix + body + MAC).
fn parse_v1(bytes: &[u8], total: usize) -> Result<(WireHeader, &[u8], &[u8]), EnvelopeError> {
    let authed_len = total - suite::MAC_LEN;
    let authed = bytes.get(..authed_len).ok_or(EnvelopeError::Truncated)?;
    let mac = bytes
        .get(authed_len..total)
        .ok_or(EnvelopeError::Truncated)?;
    let body = authed.get(PREFIX_LEN..).ok_or(EnvelopeError::Truncated)?;
    let wire: BodyWire = codec::decode_canonical(body).map_err(|e| match e {
        codec::CodecError::Malformed => {
            EnvelopeError::MalformedHeader("header body is not a valid envelope header")
        }
        codec::CodecError::NonCanonical => EnvelopeError::NonCanonicalHeader,
    })?;
    let BodyWire(
        id,
        LabelsWire(subject, category, purpose, content_type, created_at),
        part,
        stanzas,
    ) = wire;
    let envelope_id: [u8; ENVELOPE_ID_LEN] = id
        .as_slice()
        .try_into()
        .map_err(|_| EnvelopeError::MalformedHeader("envelope id must be 16 bytes"))?;
    let labels = Labels {
        subject,
        category,
        purpose,
        content_type,
        created_at,
    };
    labels.validate()?;
    let part = match part {
        None => None,
        Some(PartWire(set_id, index, count)) => {
            let p = Part {
                set_id: set_id
                    .as_slice()
                    .try_into()
                    .map_err(|_| EnvelopeError::MalformedHeader("set id must be 16 bytes"))?,
                index,
                count,
            };
            p.validate()?;
            Some(p)
        }
    };
    if stanzas.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    if stanzas.len() > MAX_RECIPIENTS {
        return Err(EnvelopeError::TooManyRecipients);
    }
    let mut parsed: Vec<Stanza> = Vec::with_capacity(stanzas.len());
    for StanzaWire(kid, enc, wrapped) in stanzas {
        let key_id = KeyId(
            kid.as_slice()
                .try_into()
                .map_err(|_| EnvelopeError::MalformedHeader("stanza key id must be 16 bytes"))?,
        );
        if parsed.iter().any(|s| s.key_id == key_id) {
            return Err(EnvelopeError::DuplicateRecipient);
        }
        parsed.push(Stanza {
            key_id,
            enc: enc.as_slice().try_into().map_err(|_| {
                EnvelopeError::MalformedHeader("stanza encapsulated key must be 32 bytes")
            })?,
            wrapped: wrapped.as_slice().try_into().map_err(|_| {
                EnvelopeError::MalformedHeader("stanza wrapped key must be 48 bytes")
            })?,
        });
    }
    Ok((
        WireHeader {
            envelope_id,
            labels,
            part,
            stanzas: parsed,
        },
        authed,
        mac,
    ))
}

/// Verify the header MAC in constant time.
pub(crate) fn verify_mac(
    keys: &DerivedKeys,
    authed: &[u8],
    mac: &[u8],
) -> Result<(), EnvelopeError> {
    if suite::hmac_sha256_verify(keys.mac_key.as_ref(), &[authed], mac) {
        Ok(())
    } else {
        Err(EnvelopeError::HeaderMacMismatch)
    }
}

impl Labels {
    pub(crate) fn validate(&self) -> Result<(), EnvelopeError> {
        label::check(&self.subject)
            .map_err(|_| EnvelopeError::InvalidLabel("subject pseudonym"))?;
        label::check(&self.category).map_err(|_| EnvelopeError::InvalidLabel("data category"))?;
        label::check(&self.purpose).map_err(|_| EnvelopeError::InvalidLabel("purpose"))?;
        label::check(&self.content_type)
            .map_err(|_| EnvelopeError::InvalidLabel("content type"))?;
        Ok(())
    }
}

impl Part {
    pub(crate) fn validate(&self) -> Result<(), EnvelopeError> {
        if self.count == 0 || self.count > MAX_PARTS || self.index == 0 || self.index > self.count {
            return Err(EnvelopeError::MalformedHeader(
                "part index must be 1..=count and count 1..=65535",
            ));
        }
        Ok(())
    }
}
