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

/// Check the 10-byte prefix and return the total header length
/// (prefix + body + MAC), i.e. the offset of the payload.
pub fn header_len_from_prefix(prefix: &[u8]) -> Result<usize, EnvelopeError> {
    let p = prefix.get(..PREFIX_LEN).ok_or(EnvelopeError::Truncated)?;
    if p.get(..4) != Some(&MAGIC[..]) {
        return Err(EnvelopeError::BadMagic);
    }
    let version = p.get(4).copied().unwrap_or(0);
    if version != VERSION {
        return Err(EnvelopeError::UnsupportedVersion(version));
    }
    let suite_id = p.get(5).copied().unwrap_or(0);
    if suite_id != SUITE {
        return Err(EnvelopeError::UnsupportedSuite(suite_id));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(p.get(6..10).ok_or(EnvelopeError::Truncated)?);
    let len = u32::from_be_bytes(len) as usize;
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
/// the MAC.
pub(crate) fn parse(bytes: &[u8]) -> Result<(WireHeader, &[u8], &[u8]), EnvelopeError> {
    let total = header_len_from_prefix(bytes)?;
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
