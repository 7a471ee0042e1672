//! Idempotence for hosts without a database: a bounded set of the webhook
//! updates already handled, keyed by hashes (docs/WHATSAPP.md section 6).
//!
//! Meta retries a webhook it could not deliver for up to 7 days, and may
//! deliver one update more than once. A host records the [`DedupeKey`] of
//! every update it handles in a [`DedupeSet`] and skips an update whose key
//! is already there ([`Seen::Duplicate`]). Keys are SHA-256 hashes of
//! domain-separated id strings, so the set (and its serialised form) holds
//! no message id (a `wamid` embeds the phone number) and no person.
//!
//! The set fails closed: when it is full of keys still inside the window,
//! [`DedupeSet::insert`] returns [`DedupeError::Full`] rather than forget
//! one; the host answers 503 and Meta retries later.

use std::collections::{BTreeMap, BTreeSet};

use crate::suite;

/// How long a key is remembered, in seconds: 8 days (Meta retries for up to
/// 7 days; one day of margin).
pub const DEDUPE_WINDOW: i64 = 8 * 24 * 3600;

/// The largest capacity of a [`DedupeSet`]: 1,048,576 keys (a serialised
/// set of at most 41,943,101 bytes). docs/LIMITS.md row 62.
pub const MAX_DEDUPE_CAPACITY: usize = 1 << 20;

/// The domain of every key hash (docs/WHATSAPP.md section 6.1).
const KEY_DOMAIN: &[u8] = b"caduceus/whatsapp dedupe v1";

/// Magic bytes of a serialised set.
const MAGIC: &[u8; 4] = b"CDDD";
/// Format version of a serialised set.
const VERSION: u8 = 1;
/// Magic, version, window, capacity, count.
const HEADER_LEN: usize = 4 + 1 + 8 + 8 + 8;
/// Time and key.
const ENTRY_LEN: usize = 8 + 32;
/// SHA-256 of everything before it.
const CHECK_LEN: usize = 32;

/// Why a dedupe set or key was refused. The messages never contain keys or
/// ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DedupeError {
    /// A capacity of 0 or above [`MAX_DEDUPE_CAPACITY`].
    #[error("a dedupe set holds 1 to {max} keys; choose a capacity in that range")]
    InvalidCapacity {
        /// [`MAX_DEDUPE_CAPACITY`].
        max: usize,
    },
    /// A window of zero or fewer seconds.
    #[error("the dedupe window must be a positive number of seconds (DEDUPE_WINDOW is 8 days)")]
    InvalidWindow,
    /// Every place is taken by a key still inside the window.
    #[error(
        "the dedupe set is full: its {capacity} keys are all inside the window; answer the webhook with 503 so that Meta retries it later, and raise the capacity"
    )]
    Full {
        /// The set's capacity.
        capacity: usize,
    },
    /// A key text that is not 64 hexadecimal digits.
    #[error("a dedupe key is written as 64 hexadecimal digits")]
    BadKeyHex,
    /// The input ends inside the fixed header of a serialised set.
    #[error("the serialised dedupe set is truncated; it was cut off in storage")]
    Truncated,
    /// The input does not start with `CDDD`.
    #[error("not a serialised dedupe set (bad magic bytes)")]
    BadMagic,
    /// A format version this version does not know.
    #[error("unsupported dedupe set version {0}: written by a newer Caduceus; upgrade Caduceus")]
    UnsupportedVersion(u8),
    /// The entry count is above [`MAX_DEDUPE_CAPACITY`].
    #[error("the serialised dedupe set claims more than {max} entries; it is damaged")]
    TooManyEntries {
        /// [`MAX_DEDUPE_CAPACITY`].
        max: usize,
    },
    /// The length is not what the entry count says.
    #[error(
        "the length of the serialised dedupe set does not match its entry count; it was cut off, extended or damaged"
    )]
    LengthMismatch,
    /// The checksum does not match the content.
    #[error(
        "the serialised dedupe set was damaged (checksum mismatch); restore a good copy, or start an empty set knowing that webhooks retried within the window may be handled twice"
    )]
    ChecksumMismatch,
    /// More entries than the stated capacity.
    #[error("the serialised dedupe set holds more entries than its capacity")]
    CountExceedsCapacity,
    /// Entries not in ascending order of (time, key).
    #[error("the entries of the serialised dedupe set are not in ascending order")]
    OutOfOrder,
    /// The same key twice.
    #[error("the serialised dedupe set holds the same key twice")]
    DuplicateKey,
}

/// The key of one webhook update: SHA-256 of a domain-separated string of
/// its ids (docs/WHATSAPP.md section 6.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey([u8; 32]);

impl core::fmt::Debug for DedupeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DedupeKey({})", self.to_hex())
    }
}

impl DedupeKey {
    fn derive(kind: &str, parts: &[&[u8]]) -> Self {
        let mut input = Vec::with_capacity(64 + parts.iter().map(|p| p.len() + 8).sum::<usize>());
        input.extend_from_slice(KEY_DOMAIN);
        input.push(0);
        input.extend_from_slice(kind.as_bytes());
        input.push(0);
        for part in parts {
            input.extend_from_slice(&(part.len() as u64).to_be_bytes());
            input.extend_from_slice(part);
        }
        Self(suite::sha256(&[&input]))
    }

    /// An inbound message, by its id (`messages[].id`, `wamid....`).
    pub fn message(message_id: &str) -> Self {
        Self::derive("message", &[message_id.as_bytes()])
    }

    /// A status update, by the outbound message's id and the status value
    /// ([`super::DeliveryStatus::code`]): one message legitimately has a
    /// `sent`, a `delivered` and a `read` status, each its own key.
    pub fn status(message_id: &str, status: &str) -> Self {
        Self::derive("status", &[message_id.as_bytes(), status.as_bytes()])
    }

    /// A template update, by the template id, the event or new category
    /// (`APPROVED`, `PAUSED`, `MARKETING`, ...) and its timestamp if the
    /// update has one (`category_update_timestamp`, or the entry's `time`
    /// when the host keeps it). Without a timestamp, the same event for the
    /// same template twice within the window is one key.
    pub fn template(template_id: &str, event_or_category: &str, timestamp: Option<i64>) -> Self {
        let time = timestamp.map(|t| t.to_string()).unwrap_or_default();
        Self::derive(
            "template",
            &[
                template_id.as_bytes(),
                event_or_category.as_bytes(),
                time.as_bytes(),
            ],
        )
    }

    /// A marketing preference change, by the person's pseudonym (a keyed
    /// hash, [`crate::pseudonym`]; never a phone number or BSUID, whose
    /// plain hash anyone can recompute by trying all numbers), the category
    /// (`marketing_messages`), the value (`stop`, `resume`) and the
    /// timestamp.
    pub fn preference(subject: &str, category: &str, value: &str, timestamp: i64) -> Self {
        let time = timestamp.to_string();
        Self::derive(
            "preference",
            &[
                subject.as_bytes(),
                category.as_bytes(),
                value.as_bytes(),
                time.as_bytes(),
            ],
        )
    }

    /// A key from its 32 bytes (as [`DedupeKey::as_bytes`] gave them).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parse 64 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, DedupeError> {
        if text.len() != 64 {
            return Err(DedupeError::BadKeyHex);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16).ok_or(DedupeError::BadKeyHex);
            let [hi, lo] = pair else {
                return Err(DedupeError::BadKeyHex);
            };
            // Both digits are below 16.
            *byte = (digit(*hi)? << 4 | digit(*lo)?) as u8;
        }
        Ok(Self(out))
    }
}

/// Whether a key was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Seen {
    /// Not in the set (now recorded): handle the update.
    New,
    /// Already in the set inside the window: skip the update (and answer
    /// 200).
    Duplicate,
}

/// A bounded set of [`DedupeKey`]s, each remembered for a window of
/// seconds from its first insert (docs/WHATSAPP.md section 6). Memory is
/// O(capacity): about 130 bytes per key. When full of keys inside the
/// window it refuses ([`DedupeError::Full`]) rather than forget one.
///
/// ```
/// use caduceus_core::whatsapp::{DEDUPE_WINDOW, DedupeKey, DedupeSet, Seen};
/// let mut set = DedupeSet::new(10_000, DEDUPE_WINDOW).unwrap();
/// let now = 1_767_225_600;
/// let key = DedupeKey::message("wamid.HBgLNDkxNTEyMzQ1Njc4FQIAEhgUM0E");
/// assert_eq!(set.insert(key, now).unwrap(), Seen::New);
/// assert_eq!(set.insert(key, now + 60).unwrap(), Seen::Duplicate);
/// // A status repeats for one message with other values:
/// let sent = DedupeKey::status("wamid.HBgLNDkxNTEyMzQ1Njc4FQIAEhgUM0E", "sent");
/// let read = DedupeKey::status("wamid.HBgLNDkxNTEyMzQ1Njc4FQIAEhgUM0E", "read");
/// assert_ne!(sent, read);
/// // Persist across restarts:
/// let restored = DedupeSet::from_bytes(&set.to_bytes()).unwrap();
/// assert!(restored.contains(&key, now + 60));
/// // After the window the key is forgotten:
/// assert_eq!(set.insert(key, now + DEDUPE_WINDOW).unwrap(), Seen::New);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DedupeSet {
    capacity: usize,
    window: i64,
    /// Key -> time of insert.
    by_key: BTreeMap<DedupeKey, i64>,
    /// (time of insert, key): the eviction order and the serialised order.
    by_time: BTreeSet<(i64, DedupeKey)>,
}

impl core::fmt::Debug for DedupeSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DedupeSet")
            .field("capacity", &self.capacity)
            .field("window", &self.window)
            .field("len", &self.by_key.len())
            .finish()
    }
}

/// Whether an entry inserted at `time` is inside the window at `now`. An
/// entry from the future (the host's clock went back) is inside.
fn live(time: i64, now: i64, window: i64) -> bool {
    i128::from(now) - i128::from(time) < i128::from(window)
}

impl DedupeSet {
    /// An empty set of at most `capacity` keys (1 to
    /// [`MAX_DEDUPE_CAPACITY`]), each remembered for `window_secs` seconds
    /// (positive; use [`DEDUPE_WINDOW`]).
    pub fn new(capacity: usize, window_secs: i64) -> Result<Self, DedupeError> {
        if capacity == 0 || capacity > MAX_DEDUPE_CAPACITY {
            return Err(DedupeError::InvalidCapacity {
                max: MAX_DEDUPE_CAPACITY,
            });
        }
        if window_secs <= 0 {
            return Err(DedupeError::InvalidWindow);
        }
        Ok(Self {
            capacity,
            window: window_secs,
            by_key: BTreeMap::new(),
            by_time: BTreeSet::new(),
        })
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The window in seconds.
    pub fn window(&self) -> i64 {
        self.window
    }

    /// Number of keys held (including any past the window that no insert
    /// or [`DedupeSet::evict_expired`] has dropped yet).
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Record `key` at time `now` (Unix seconds): keys past the window are
    /// dropped first; then [`Seen::Duplicate`] if the key is held,
    /// [`DedupeError::Full`] if every place is taken by a key inside the
    /// window (nothing is forgotten; answer 503), else [`Seen::New`].
    ///
    /// A key's window runs from its first insert; a duplicate does not
    /// extend it.
    pub fn insert(&mut self, key: DedupeKey, now: i64) -> Result<Seen, DedupeError> {
        self.evict_expired(now);
        if self.by_key.contains_key(&key) {
            return Ok(Seen::Duplicate);
        }
        if self.by_key.len() >= self.capacity {
            return Err(DedupeError::Full {
                capacity: self.capacity,
            });
        }
        self.by_key.insert(key, now);
        self.by_time.insert((now, key));
        Ok(Seen::New)
    }

    /// Whether `key` is held and inside the window at `now`.
    pub fn contains(&self, key: &DedupeKey, now: i64) -> bool {
        self.by_key
            .get(key)
            .is_some_and(|t| live(*t, now, self.window))
    }

    /// Forget `key` (for a host whose handling failed after the insert, so
    /// that Meta's retry is handled). Returns whether it was held.
    pub fn remove(&mut self, key: &DedupeKey) -> bool {
        match self.by_key.remove(key) {
            Some(t) => {
                self.by_time.remove(&(t, *key));
                true
            }
            None => false,
        }
    }

    /// Drop every key past the window at `now`; returns how many.
    pub fn evict_expired(&mut self, now: i64) -> usize {
        let mut dropped = 0;
        while let Some(&(t, key)) = self.by_time.first() {
            if live(t, now, self.window) {
                break;
            }
            self.by_time.pop_first();
            self.by_key.remove(&key);
            dropped += 1;
        }
        dropped
    }

    /// The canonical serialisation (docs/WHATSAPP.md section 6.3): `CDDD`,
    /// version 1, window, capacity, count, the entries in ascending order of
    /// (time, key), and a SHA-256 of all of it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.len() * ENTRY_LEN + CHECK_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&(self.capacity as u64).to_be_bytes());
        out.extend_from_slice(&(self.by_time.len() as u64).to_be_bytes());
        for (time, key) in &self.by_time {
            out.extend_from_slice(&time.to_be_bytes());
            out.extend_from_slice(key.as_bytes());
        }
        let check = suite::sha256(&[&out]);
        out.extend_from_slice(&check);
        out
    }

    /// Read a set written by [`DedupeSet::to_bytes`]. Refuses, with its own
    /// error each: a truncated header, bad magic, another version, a count
    /// above [`MAX_DEDUPE_CAPACITY`], a length other than the count says, a
    /// checksum mismatch, an invalid window or capacity, more entries than
    /// the capacity, entries out of order and a key held twice. Whatever it
    /// accepts, `to_bytes` gives back byte for byte.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DedupeError> {
        let mut r = Reader(bytes);
        if r.take::<4>().ok_or(DedupeError::Truncated)? != *MAGIC {
            return Err(DedupeError::BadMagic);
        }
        let [version] = r.take::<1>().ok_or(DedupeError::Truncated)?;
        if version != VERSION {
            return Err(DedupeError::UnsupportedVersion(version));
        }
        let window = i64::from_be_bytes(r.take::<8>().ok_or(DedupeError::Truncated)?);
        let capacity = u64::from_be_bytes(r.take::<8>().ok_or(DedupeError::Truncated)?);
        let count = u64::from_be_bytes(r.take::<8>().ok_or(DedupeError::Truncated)?);
        let count = usize::try_from(count)
            .ok()
            .filter(|c| *c <= MAX_DEDUPE_CAPACITY)
            .ok_or(DedupeError::TooManyEntries {
                max: MAX_DEDUPE_CAPACITY,
            })?;
        // At most 29 + 40 * 2^20 + 32: no overflow.
        if bytes.len() != HEADER_LEN + count * ENTRY_LEN + CHECK_LEN {
            return Err(DedupeError::LengthMismatch);
        }
        let (body, check) = bytes
            .split_at_checked(bytes.len() - CHECK_LEN)
            .ok_or(DedupeError::LengthMismatch)?;
        if suite::sha256(&[body]) != check {
            return Err(DedupeError::ChecksumMismatch);
        }
        let capacity = usize::try_from(capacity).map_err(|_| DedupeError::InvalidCapacity {
            max: MAX_DEDUPE_CAPACITY,
        })?;
        let mut set = Self::new(capacity, window)?;
        if count > capacity {
            return Err(DedupeError::CountExceedsCapacity);
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let time = i64::from_be_bytes(r.take::<8>().ok_or(DedupeError::LengthMismatch)?);
            let key = DedupeKey(r.take::<32>().ok_or(DedupeError::LengthMismatch)?);
            let entry = (time, key);
            if let Some(previous) = entries.last() {
                if *previous == entry {
                    return Err(DedupeError::DuplicateKey);
                }
                if *previous > entry {
                    return Err(DedupeError::OutOfOrder);
                }
            }
            entries.push(entry);
        }
        // Built in bulk from sorted input, not entry by entry.
        set.by_key = entries.iter().map(|&(t, k)| (k, t)).collect();
        if set.by_key.len() != entries.len() {
            return Err(DedupeError::DuplicateKey);
        }
        set.by_time = entries.into_iter().collect();
        Ok(set)
    }
}

/// A cursor over the serialised bytes.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn keys_are_domain_separated_and_injective() {
        // The same strings under another kind, and parts that would join to
        // the same text, give other keys.
        let keys = [
            DedupeKey::message("wamid.A"),
            DedupeKey::status("wamid.A", ""),
            DedupeKey::status("wamid.", "Asent"),
            DedupeKey::status("wamid.A", "sent"),
            DedupeKey::template("1", "APPROVED", None),
            DedupeKey::template("1", "APPROVED", Some(0)),
            DedupeKey::template("1A", "PPROVED", None),
            DedupeKey::preference("p", "marketing_messages", "stop", 1),
            DedupeKey::preference("p", "marketing_messages", "stop", 11),
        ];
        let distinct: BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        // Pinned: SHA-256 of the documented input (docs/WHATSAPP.md 6.1).
        let mut input = b"caduceus/whatsapp dedupe v1\0message\0".to_vec();
        input.extend_from_slice(&7u64.to_be_bytes());
        input.extend_from_slice(b"wamid.A");
        assert_eq!(
            DedupeKey::message("wamid.A").as_bytes(),
            &suite::sha256(&[&input])
        );
    }

    #[test]
    fn hex_round_trip() {
        let key = DedupeKey::message("wamid.B");
        assert_eq!(DedupeKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(
            DedupeKey::from_hex(&key.to_hex().to_uppercase()).unwrap(),
            key
        );
        assert_eq!(
            DedupeKey::from_hex(&key.to_hex()[1..]),
            Err(DedupeError::BadKeyHex)
        );
        let mut bad = key.to_hex();
        bad.replace_range(10..11, "g");
        assert_eq!(DedupeKey::from_hex(&bad), Err(DedupeError::BadKeyHex));
        let plus = format!("+{}", &key.to_hex()[1..]);
        assert_eq!(DedupeKey::from_hex(&plus), Err(DedupeError::BadKeyHex));
    }

    #[test]
    fn window_arithmetic_does_not_overflow() {
        let mut set = DedupeSet::new(2, i64::MAX).unwrap();
        let k = DedupeKey::message("m");
        assert_eq!(set.insert(k, i64::MIN).unwrap(), Seen::New);
        // i64::MAX - i64::MIN >= i64::MAX: past the window.
        assert_eq!(set.insert(k, i64::MAX).unwrap(), Seen::New);
        assert_eq!(set.insert(k, i64::MIN).unwrap(), Seen::Duplicate);
    }
}
