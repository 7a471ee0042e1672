//! The ledger file (docs/CONSENT.md, section 5).
//!
//! Version 2, written by this library, is an append-only run of
//! hash-chained entries: a new event costs one entry appended to the file,
//! whatever the ledger's size ([`Ledger::unsaved`]). A write cut short by a
//! crash leaves an incomplete final entry, which a reader reports as
//! [`ConsentError::TornTail`] and [`LedgerReader::finish_repairing`] cuts.
//! Version 1 (one end entry with a checksum of the whole file) is still
//! read; the first save of a version-1 ledger rewrites it as version 2.
//!
//! [`LedgerReader`] parses a file from chunks of any size, so a host never
//! holds the file and the ledger in memory at once.

use sha2::{Digest, Sha256};

use super::event::{EVENT_MAGIC, MAX_EVENT_LEN};
use super::ledger::{Item, Ledger};
use super::notice::{NoticeWire, RetireWire};
use super::policy::PolicyWire;
use super::{ConsentError, ConsentEvent, ConsentPolicy, LedgerScope, Notice};
use crate::codec;

/// Magic bytes that start a ledger file.
pub const LEDGER_MAGIC: [u8; 4] = *b"CDCL";
/// The ledger file format version this library writes (it also reads
/// [`LEDGER_VERSION_1`]).
pub const LEDGER_VERSION: u8 = 2;
/// The first ledger file format version: read, never written.
pub const LEDGER_VERSION_1: u8 = 1;
/// Largest body in bytes of a policy, notice or retirement entry of a ledger
/// file, checked before the body is read (an event entry's body is at most
/// [`MAX_EVENT_LEN`]).
pub const MAX_LEDGER_ENTRY: usize = 1024 * 1024;
/// Length of the chain hash that ends every version-2 entry.
pub const LEDGER_CHAIN_LEN: usize = 32;

const PREFIX_LEN: usize = 5;
const HEADER_LEN: usize = 5;
const TAG_POLICY: u8 = 1;
const TAG_NOTICE: u8 = 2;
const TAG_RETIRE: u8 = 3;
const TAG_EVENT: u8 = 4;
const TAG_END: u8 = 5;

type Chain = [u8; LEDGER_CHAIN_LEN];

/// How much of a ledger's journal has been saved, and the chain hash of the
/// file's last entry (`None` while the file is not a version-2 file this
/// ledger can append to: a new ledger, or one read from version 1).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SaveMark {
    items: usize,
    head: Option<Chain>,
}

/// Bookkeeping, not content: two ledgers with the same events are equal
/// whatever each has saved.
impl PartialEq for SaveMark {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SaveMark {}

/// An incomplete final entry: what a crash or a power loss during an append
/// leaves at the end of a version-2 ledger file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TornTail {
    /// Length in bytes of the file up to the end of its last complete entry:
    /// what a repair keeps.
    pub keep_len: u64,
    /// Length in bytes of the incomplete entry after it: what a repair cuts.
    pub cut_len: u64,
}

/// The bytes a host must write to bring its ledger file up to date, from
/// [`Ledger::unsaved`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSave {
    bytes: Vec<u8>,
    append: bool,
    base: usize,
    items: usize,
    head: Chain,
}

impl LedgerSave {
    /// The bytes to write.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `true`: append [`LedgerSave::bytes`] to the end of the existing file
    /// (whole or not at all: on a failed write, cut the file back to its old
    /// length). `false`: they are a whole new file, to be written beside the
    /// old one and renamed over it (a new ledger, or the first save of a
    /// version-1 file).
    pub fn is_append(&self) -> bool {
        self.append
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.append && self.bytes.is_empty()
    }
}

fn chain(prev: &Chain, tag: u8, body: &[u8]) -> Chain {
    let mut h = Sha256::new();
    h.update(prev);
    h.update([tag]);
    h.update(entry_len(body).to_be_bytes());
    h.update(body);
    h.finalize().into()
}

fn entry_len(body: &[u8]) -> u32 {
    // Bodies are bounded by MAX_LEDGER_ENTRY long before u32::MAX.
    u32::try_from(body.len()).unwrap_or(u32::MAX)
}

fn genesis() -> Chain {
    let mut h = Sha256::new();
    h.update(LEDGER_MAGIC);
    h.update([LEDGER_VERSION]);
    h.finalize().into()
}

fn push_entry(out: &mut Vec<u8>, head: &mut Chain, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&entry_len(body).to_be_bytes());
    out.extend_from_slice(body);
    *head = chain(head, tag, body);
    out.extend_from_slice(head);
}

impl Ledger {
    /// The ledger as a whole version-2 file (docs/CONSENT.md, section 5):
    /// prefix, the policy, then every notice, retirement and event in the
    /// order it was added, each entry ending in its chain hash.
    ///
    /// A scoped ledger ([`LedgerReader::scoped`]) does not hold the whole
    /// file and is refused with [`ConsentError::NotHeld`]; save it with
    /// [`Ledger::unsaved`], which appends.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ConsentError> {
        if self.scope().is_some() {
            return Err(ConsentError::NotHeld);
        }
        let (bytes, _) = self.encode(0, None);
        Ok(bytes)
    }

    /// What the host must write to its file to save this ledger: the
    /// entries added since the last [`Ledger::mark_saved`] (or since the
    /// ledger was read from a version-2 file), to append; or, for a new
    /// ledger or one read from version 1, the whole file. Appending costs
    /// the same for the 10th and the millionth event. Call
    /// [`Ledger::mark_saved`] once the bytes are durably written.
    pub fn unsaved(&self) -> LedgerSave {
        let base = self.saved.items;
        let (bytes, head) = self.encode(base, self.saved.head);
        LedgerSave {
            bytes,
            append: self.saved.head.is_some(),
            base,
            items: self.journal.len(),
            head,
        }
    }

    /// Record that `save` (from [`Ledger::unsaved`]) is durably written.
    /// Refused with [`ConsentError::SaveOutOfOrder`] when it does not
    /// continue from what was saved before (an older save, or one of
    /// another ledger); the mark is then unchanged.
    pub fn mark_saved(&mut self, save: &LedgerSave) -> Result<(), ConsentError> {
        let continues = if save.append {
            self.saved.head.is_some() && save.base == self.saved.items
        } else {
            save.base == 0
        };
        if !continues || save.items > self.journal.len() || save.head != self.chain_at(save.items) {
            return Err(ConsentError::SaveOutOfOrder);
        }
        self.saved = SaveMark {
            items: save.items,
            head: Some(save.head),
        };
        Ok(())
    }

    /// The chain hash after the first `items` journal entries.
    fn chain_at(&self, items: usize) -> Chain {
        let (start, head) = match self.saved.head {
            Some(h) if self.saved.items <= items => (self.saved.items, h),
            _ => (0, self.policy_chain()),
        };
        let mut head = head;
        for item in self.journal.iter().take(items).skip(start) {
            let (tag, body) = self.item_body(*item);
            head = chain(&head, tag, &body);
        }
        head
    }

    fn policy_chain(&self) -> Chain {
        chain(
            &genesis(),
            TAG_POLICY,
            &codec::encode(&self.policy.to_wire()),
        )
    }

    /// The file bytes of journal entries `from..`, chained from `head`; the
    /// whole file (prefix and policy first) when `head` is `None`.
    fn encode(&self, from: usize, head: Option<Chain>) -> (Vec<u8>, Chain) {
        let mut out = Vec::new();
        let (from, mut head) = match head {
            Some(h) => (from, h),
            None => {
                out.reserve(64 + self.records_len() + 45 * self.journal.len());
                out.extend_from_slice(&LEDGER_MAGIC);
                out.push(LEDGER_VERSION);
                let mut h = genesis();
                push_entry(
                    &mut out,
                    &mut h,
                    TAG_POLICY,
                    &codec::encode(&self.policy.to_wire()),
                );
                (0, h)
            }
        };
        for item in self.journal.iter().skip(from) {
            let (tag, body) = self.item_body(*item);
            push_entry(&mut out, &mut head, tag, &body);
        }
        (out, head)
    }

    fn item_body(&self, item: Item) -> (u8, std::borrow::Cow<'_, [u8]>) {
        use std::borrow::Cow;
        match item {
            Item::Notice(i) => {
                let body = self.notices.get(i as usize).map_or_else(Vec::new, |n| {
                    codec::encode(&NoticeWire(
                        n.notice.id.clone(),
                        n.notice.version,
                        n.notice.language.clone(),
                        n.notice.text.clone(),
                        n.notice.registered_at,
                    ))
                });
                (TAG_NOTICE, Cow::Owned(body))
            }
            Item::Retire(i) => {
                let body = self
                    .retirements
                    .get(i as usize)
                    .map_or_else(Vec::new, |(id, version, at)| {
                        codec::encode(&RetireWire(id.clone(), *version, *at))
                    });
                (TAG_RETIRE, Cow::Owned(body))
            }
            Item::Event(i) => (
                TAG_EVENT,
                Cow::Borrowed(self.record_bytes(i as usize).unwrap_or_default()),
            ),
        }
    }

    /// Parse and replay a whole ledger file (version 2 or 1) strictly, as
    /// [`LedgerReader`] does; a version-2 file that ends in an incomplete
    /// entry is refused with [`ConsentError::TornTail`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConsentError> {
        let mut r = LedgerReader::default();
        r.feed(bytes)?;
        r.finish()
    }
}

/// Wire form of the version-1 end entry: `[entry count, SHA-256 of all bytes
/// before it]`.
#[derive(serde::Serialize, serde::Deserialize)]
struct EndWire(u64, serde_bytes::ByteBuf);

/// A ledger file parser fed in chunks of any size: it keeps at most one
/// incomplete entry besides the ledger it builds. Every entry is checked
/// (magic, version, a policy entry first, known tags, lengths within the
/// limits, canonical bodies, the chain hash of version 2, the end entry and
/// checksum of version 1, no bytes after it) and replayed with the
/// validation of an append (except the clock-skew check), so a file holding a
/// duplicate id, an out-of-order event or a withdrawal without consent is
/// refused. After an error the reader is spent: further calls fail.
///
/// A reader made with [`LedgerReader::scoped`] checks every entry the same
/// way, but keeps (and replays with every check) only the events of its
/// scope's subjects: memory then grows with those, not with the file.
#[derive(Debug)]
pub struct LedgerReader {
    scope: Option<LedgerScope>,
    version: Option<u8>,
    buf: Vec<u8>,
    consumed: u64,
    ledger: Option<Ledger>,
    index: u64,
    head: Chain,
    v1_hash: Sha256,
    ended: bool,
    failed: bool,
}

impl Default for LedgerReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LedgerReader {
    /// A reader at the start of a file.
    pub fn new() -> Self {
        Self {
            scope: None,
            version: None,
            buf: Vec::new(),
            consumed: 0,
            ledger: None,
            index: 0,
            head: genesis(),
            v1_hash: Sha256::new(),
            ended: false,
            failed: false,
        }
    }

    /// A reader that keeps only the events of `scope`'s subjects (and every
    /// notice and retirement); see [`LedgerScope`]. Every entry of the file
    /// is still checked: framing, limits, canonical bodies and the chain
    /// hash. The events it does not keep are checked as events (shape and
    /// canonical encoding) but not replayed against their subject's
    /// history; a whole read ([`LedgerReader::new`]) replays them all.
    ///
    /// A version-1 file (read, never written, by this library) is read
    /// whole whatever the scope: its first save rewrites the whole file.
    ///
    /// ```
    /// # use caduceus_core::consent::*;
    /// # fn main() -> Result<(), ConsentError> {
    /// let mut ledger = Ledger::new(ConsentPolicy::default())?;
    /// let n = ledger.register_notice("privacy-chat", 1, "de", "Hinweistext", 100, 100)?;
    /// for (id, subject) in [("e1", "p-1"), ("e2", "p-2")] {
    ///     let e = ConsentEvent::new(id, subject, &["marketing"], ConsentStatus::Given,
    ///         ConsentMethod::ChatReply, Some(n.clone()), "whatsapp", "ingest", 200)?;
    ///     ledger.append(e, 200)?;
    /// }
    /// let file = ledger.to_bytes()?;
    ///
    /// // Read only p-2, to record its STOP.
    /// let stop = OptOutRequest { event_id: "e3".into(), subject: "p-2".into(),
    ///     reply: "STOP".into(), message_id: "wamid.X".into(), channel: "whatsapp".into(),
    ///     recorded_by: "ingest".into(), time: 300 };
    /// let mut reader = LedgerReader::scoped(LedgerScope::opt_out(&stop));
    /// reader.feed(&file)?;
    /// let mut part = reader.finish()?;
    /// assert_eq!(part.len(), 2);
    /// part.opt_out(stop, 300)?;
    /// assert_eq!(part.decide("p-1", "marketing", 301).refusal, Some(Refusal::NotHeld));
    ///
    /// // Its save appends to the file; the whole ledger reads it back.
    /// let mut whole = file.clone();
    /// whole.extend_from_slice(part.unsaved().bytes());
    /// let whole = Ledger::from_bytes(&whole)?;
    /// assert!(!whole.decide("p-2", "marketing", 301).allowed);
    /// assert!(whole.decide("p-1", "marketing", 301).allowed);
    /// # Ok(()) }
    /// ```
    pub fn scoped(scope: LedgerScope) -> Self {
        Self {
            scope: Some(scope),
            ..Self::new()
        }
    }

    /// Bytes of complete entries (and the prefix) read so far.
    pub fn complete_len(&self) -> u64 {
        self.consumed
    }

    /// Entries read so far (the policy included).
    pub fn entries(&self) -> u64 {
        self.index
    }

    /// Feed the next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ConsentError> {
        if self.failed {
            return Err(ConsentError::MalformedLedger(
                "the reader already failed; start again with a new reader",
            ));
        }
        self.buf.extend_from_slice(chunk);
        let r = self.drain();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn drain(&mut self) -> Result<(), ConsentError> {
        let malformed = ConsentError::MalformedLedger;
        let mut pos = 0usize;
        if self.version.is_none() {
            if self.buf.len() < PREFIX_LEN {
                if self.buf.get(..4).is_some_and(|m| m != LEDGER_MAGIC) {
                    return Err(malformed("not a consent ledger (bad magic)"));
                }
                return Ok(());
            }
            if self.buf.get(..4) != Some(&LEDGER_MAGIC[..]) {
                return Err(malformed("not a consent ledger (bad magic)"));
            }
            let version = self.buf.get(4).copied().unwrap_or(0);
            if version != LEDGER_VERSION && version != LEDGER_VERSION_1 {
                return Err(ConsentError::UnsupportedVersion(version));
            }
            self.version = Some(version);
            self.v1_hash
                .update(self.buf.get(..PREFIX_LEN).unwrap_or_default());
            self.consumed = PREFIX_LEN as u64;
            pos = PREFIX_LEN;
        }
        let v2 = self.version == Some(LEDGER_VERSION);
        let trailer = if v2 { LEDGER_CHAIN_LEN } else { 0 };
        let result = loop {
            let rest = self.buf.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                break Ok(());
            }
            if self.ended {
                break Err(malformed("trailing bytes after the end entry"));
            }
            // Fewer than 5 bytes: a torn entry header, whatever they hold
            // (a power loss can leave zeros), section 5.2.
            let Some(len) = rest.get(1..HEADER_LEN) else {
                break Ok(());
            };
            let tag = rest.first().copied().unwrap_or(0);
            if !(TAG_POLICY..=TAG_END).contains(&tag) || (v2 && tag == TAG_END) {
                break Err(malformed("unknown entry tag"));
            }
            let mut l = [0u8; 4];
            l.copy_from_slice(len);
            let len = u32::from_be_bytes(l) as usize;
            let max = if tag == TAG_EVENT {
                MAX_EVENT_LEN
            } else {
                MAX_LEDGER_ENTRY
            };
            if len > max {
                break Err(malformed("entry longer than the format allows"));
            }
            let body_end = HEADER_LEN + len;
            let Some(body) = rest.get(HEADER_LEN..body_end) else {
                break Ok(());
            };
            if tag == TAG_EVENT && body.get(..4) != Some(&EVENT_MAGIC[..]) {
                break Err(malformed("event entry does not hold a consent event"));
            }
            let Some(stored) = rest.get(body_end..body_end + trailer) else {
                break Ok(());
            };
            let whole = body_end + trailer;
            if v2 {
                let next = chain(&self.head, tag, body);
                if stored != next {
                    break Err(malformed(
                        "chain hash mismatch: the file was damaged or edited; restore it from a backup",
                    ));
                }
                self.head = next;
            } else if tag == TAG_END {
                let digest = self.v1_hash.clone().finalize();
                let r = end_entry(body, self.index, &digest);
                if r.is_err() {
                    break r;
                }
                self.ended = true;
            } else {
                self.v1_hash.update(rest.get(..whole).unwrap_or_default());
            }
            if tag != TAG_END {
                let body = body.to_vec();
                if let Err(e) = self.replay(tag, &body) {
                    break Err(e);
                }
                self.index += 1;
            }
            pos += whole;
            self.consumed += whole as u64;
        };
        self.buf.drain(..pos.min(self.buf.len()));
        result
    }

    fn replay(&mut self, tag: u8, body: &[u8]) -> Result<(), ConsentError> {
        let malformed = ConsentError::MalformedLedger;
        let index = self.index;
        let wrap = |source| ConsentError::InvalidEntry {
            index,
            source: Box::new(source),
        };
        match (&mut self.ledger, tag) {
            (None, TAG_POLICY) => {
                let w: PolicyWire = decode(body).map_err(wrap)?;
                let mut l =
                    Ledger::new(ConsentPolicy::from_wire(w).map_err(wrap)?).map_err(wrap)?;
                if self.version == Some(LEDGER_VERSION)
                    && let Some(scope) = self.scope.take()
                {
                    l.set_scope(scope);
                }
                self.ledger = Some(l);
            }
            (None, _) => return Err(malformed("the first entry must be the policy")),
            (Some(_), TAG_POLICY) => return Err(malformed("more than one policy entry")),
            (Some(l), TAG_NOTICE) => {
                let NoticeWire(id, version, language, text, registered_at) =
                    decode(body).map_err(wrap)?;
                l.add_notice(Notice {
                    id,
                    version,
                    language,
                    text,
                    registered_at,
                    retired_at: None,
                })
                .map_err(wrap)?;
            }
            (Some(l), TAG_RETIRE) => {
                let RetireWire(id, version, at) = decode(body).map_err(wrap)?;
                l.retire(&id, version, at).map_err(wrap)?;
            }
            (Some(l), _) => {
                let e = ConsentEvent::from_bytes(body).map_err(wrap)?;
                if l.holds_subject(&e.subject) {
                    let p = l.prepare(&e, None).map_err(wrap)?;
                    l.commit(&e, p);
                } else {
                    l.skip_event(&e).map_err(wrap)?;
                }
            }
        }
        Ok(())
    }

    /// The ledger, when the file ended exactly after a complete entry (a
    /// version-1 file: after its end entry). A version-2 file that ends in
    /// an incomplete entry is refused with [`ConsentError::TornTail`].
    pub fn finish(self) -> Result<Ledger, ConsentError> {
        match self.finish_repairing()? {
            (ledger, None) => Ok(ledger),
            (_, Some(t)) => Err(ConsentError::TornTail {
                keep_len: t.keep_len,
                cut_len: t.cut_len,
            }),
        }
    }

    /// As [`LedgerReader::finish`], but a version-2 file's incomplete final
    /// entry is reported, not refused: the ledger holds every complete
    /// entry, and the host repairs the file by cutting it to
    /// [`TornTail::keep_len`]. Nothing else is ever cut: a damaged complete
    /// entry is an error, as in [`LedgerReader::finish`].
    pub fn finish_repairing(mut self) -> Result<(Ledger, Option<TornTail>), ConsentError> {
        let malformed = ConsentError::MalformedLedger;
        if self.failed {
            return Err(malformed(
                "the reader already failed; start again with a new reader",
            ));
        }
        match self.version {
            None => Err(malformed("truncated")),
            Some(LEDGER_VERSION_1) => {
                if !self.ended {
                    return Err(malformed("truncated: the end entry is missing"));
                }
                self.ledger
                    .take()
                    .ok_or(malformed("no policy entry"))
                    .map(|l| (l, None))
            }
            Some(_) => {
                let Some(mut ledger) = self.ledger.take() else {
                    return Err(malformed(
                        "the file has no complete policy entry: nothing can be kept; restore it from a backup",
                    ));
                };
                if !self.buf.is_empty() && damaged_length(&self.head, &self.buf) {
                    return Err(malformed(
                        "the last entry is complete but its length field is damaged: nothing can \
                         be cut safely; restore the file from a backup",
                    ));
                }
                ledger.saved = SaveMark {
                    items: ledger.journal.len(),
                    head: Some(self.head),
                };
                let torn = (!self.buf.is_empty()).then_some(TornTail {
                    keep_len: self.consumed,
                    cut_len: self.buf.len() as u64,
                });
                Ok((ledger, torn))
            }
        }
    }
}

/// Longest body a torn tail is probed for (every event entry fits).
const PROBE_LEN: usize = 16 * 1024;

/// Whether an apparently incomplete final entry is in fact a complete one
/// whose length field was damaged: some shorter body length `l` makes the
/// 32 bytes after it the entry's correct chain hash. Then cutting it would
/// remove a complete entry (and everything after it). Bodies up to
/// [`PROBE_LEN`] are probed.
fn damaged_length(head: &Chain, tail: &[u8]) -> bool {
    let Some(&tag) = tail.first() else {
        return false;
    };
    let room = tail.len().saturating_sub(HEADER_LEN + LEDGER_CHAIN_LEN);
    (0..=room.min(PROBE_LEN)).any(|l| {
        let body = tail.get(HEADER_LEN..HEADER_LEN + l).unwrap_or_default();
        let stored = tail.get(HEADER_LEN + l..HEADER_LEN + l + LEDGER_CHAIN_LEN);
        tail.len() >= HEADER_LEN + LEDGER_CHAIN_LEN && stored == Some(&chain(head, tag, body)[..])
    })
}

fn end_entry(body: &[u8], count: u64, digest: &[u8]) -> Result<(), ConsentError> {
    let malformed = ConsentError::MalformedLedger;
    let EndWire(n, sum) = decode(body)?;
    if n != count {
        return Err(malformed("entry count does not match the end entry"));
    }
    if sum.as_slice() != digest {
        return Err(malformed(
            "checksum mismatch: the file was damaged or edited; restore it from a backup",
        ));
    }
    Ok(())
}

fn decode<T: serde::Serialize + serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, ConsentError> {
    codec::decode_canonical(body).map_err(|e| match e {
        codec::CodecError::Malformed => {
            ConsentError::MalformedLedger("entry body is not of the expected shape")
        }
        codec::CodecError::NonCanonical => {
            ConsentError::MalformedLedger("entry body is not canonical MessagePack")
        }
    })
}
