//! Envelope sets: a message split into several envelopes whose headers say
//! "part x of y", so a receiver knows whether all parts arrived.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::{ENVELOPE_ID_LEN, EnvelopeError, Labels, MAX_PARTS, Opened, Part, seal_with_part};
use crate::keys::PublicKey;

/// Seal `parts` as one envelope set: each part is its own envelope with
/// `Part { set_id, index: i + 1, count: parts.len() }` in its authenticated header.
pub fn seal_parts(
    recipients: &[PublicKey],
    labels: &Labels,
    parts: &[&[u8]],
    rng: &mut impl CryptoRng,
) -> Result<Vec<Vec<u8>>, EnvelopeError> {
    let count = u32::try_from(parts.len()).map_err(|_| EnvelopeError::PartSet("too many parts"))?;
    if count == 0 || count > MAX_PARTS {
        return Err(EnvelopeError::PartSet("a set has 1 to 65535 parts"));
    }
    let mut set_id = [0u8; ENVELOPE_ID_LEN];
    rng.fill_bytes(&mut set_id);
    parts
        .iter()
        .zip(1u32..)
        .map(|(data, index)| {
            seal_with_part(
                recipients,
                labels,
                Some(Part {
                    set_id,
                    index,
                    count,
                }),
                data,
                rng,
            )
        })
        .collect()
}

/// Collects the opened envelopes of one set, in any order, and tells which
/// parts are still missing.
///
/// ```
/// use caduceus_core::envelope::{self, Labels, PartSet};
/// use caduceus_core::keys::{KeyKind, PrivateKey};
/// // The operating system RNG (never a seeded or test RNG).
/// let mut rng = caduceus_core::rand_core::UnwrapErr(getrandom::SysRng);
/// let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
/// let labels = Labels::new("p-1", "chat-messages", "treatment", "text/plain", 0).unwrap();
/// let sealed = envelope::seal_parts(&[key.public_key()], &labels, &[b"Teil 1 ", b"Teil 2"], &mut rng).unwrap();
/// let mut set = PartSet::new();
/// set.add(envelope::open(&sealed[1], &key).unwrap()).unwrap();
/// assert_eq!(set.missing(), vec![1]);
/// set.add(envelope::open(&sealed[0], &key).unwrap()).unwrap();
/// assert_eq!(set.assemble().unwrap(), b"Teil 1 Teil 2");
/// ```
#[derive(Debug, Default)]
pub struct PartSet {
    set_id: Option<[u8; ENVELOPE_ID_LEN]>,
    count: u32,
    parts: BTreeMap<u32, Opened>,
}

impl PartSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an opened part. Rejects envelopes without a part, of another set,
    /// with a different count, or a second copy of an index.
    pub fn add(&mut self, opened: Opened) -> Result<(), EnvelopeError> {
        let part = opened
            .header
            .part
            .ok_or(EnvelopeError::PartSet("the envelope is not part of a set"))?;
        match self.set_id {
            None => {
                self.set_id = Some(part.set_id);
                self.count = part.count;
            }
            Some(id) if id != part.set_id => {
                return Err(EnvelopeError::PartSet(
                    "the envelope belongs to another set",
                ));
            }
            Some(_) if part.count != self.count => {
                return Err(EnvelopeError::PartSet(
                    "the parts disagree on the part count",
                ));
            }
            Some(_) => {}
        }
        if self.parts.contains_key(&part.index) {
            return Err(EnvelopeError::PartSet("this part was already received"));
        }
        self.parts.insert(part.index, opened);
        Ok(())
    }

    /// Number of parts the set announces (0 before the first part).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Indices (1-based) not yet received.
    pub fn missing(&self) -> Vec<u32> {
        (1..=self.count)
            .filter(|i| !self.parts.contains_key(i))
            .collect()
    }

    /// Whether every part arrived.
    pub fn is_complete(&self) -> bool {
        self.count > 0 && self.parts.len() == self.count as usize
    }

    /// The concatenated plaintext, if complete.
    pub fn assemble(&self) -> Result<Vec<u8>, EnvelopeError> {
        if !self.is_complete() {
            return Err(EnvelopeError::PartSet("parts are missing"));
        }
        Ok(self
            .parts
            .values()
            .flat_map(|o| o.plaintext.iter().copied())
            .collect())
    }
}
