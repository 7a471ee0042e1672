//! The consent ledger: append-only events folded into a compact state per
//! (subject, purpose), decisions, history and the ledger file format.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::file::SaveMark;
use super::notice::{MAX_NOTICES, check_notice};
use super::scope::{Held, LedgerScope};
use super::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, EventHash, LegalBasis,
    Notice, NoticeRef,
};
use crate::suite;

const NONE: u32 = u32::MAX;
/// Largest number of events or subjects (indices stay below [`NONE`]).
const MAX_ITEMS: usize = (u32::MAX - 1) as usize;

/// A fast, deterministic hasher for the ledger's interning tables (no
/// per-process random keys: the core holds no global state). Keys are
/// pseudonyms and event ids chosen by the practice's own systems.
#[derive(Default, Clone, Copy)]
struct FoldHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(rest) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        // A final avalanche so that both the high bits (control bytes) and
        // the low bits (bucket index) of the table depend on every input bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

impl FoldHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

type Map = HashMap<Box<str>, u32, BuildHasherDefault<FoldHasher>>;

/// Where an event sits in a ledger: its sequence number (0-based append
/// order) and its hash (what audit entries reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventRef {
    /// Append order, from 0.
    pub seq: u64,
    /// SHA-256 of the event record.
    pub hash: EventHash,
}

/// An event as stored in a ledger, with its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Sequence number and hash.
    pub event_ref: EventRef,
    /// The event.
    pub event: ConsentEvent,
}

/// An interned subject: a dense index into the ledger's state, for bulk
/// decisions without string lookups. Valid only for the ledger that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId(u32);

impl SubjectId {
    /// The dense index (0-based, in order of first appearance).
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Why a decision refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// No consent event for the purpose.
    NoConsent,
    /// The subject refused consent at the given time.
    Refused {
        /// When (Unix seconds).
        at: i64,
    },
    /// The subject withdrew consent at the given time.
    Withdrawn {
        /// When (Unix seconds).
        at: i64,
    },
    /// The consent expired at the given time.
    Expired {
        /// When (Unix seconds).
        at: i64,
    },
    /// The notice version the consent was given under was retired (or, where
    /// the policy demands re-consent, superseded by a newer version) at the
    /// given time.
    NoticeRetired {
        /// When (Unix seconds).
        at: i64,
    },
    /// The purpose is not configured in the policy.
    UnknownPurpose,
    /// The ledger was read with a [`LedgerScope`] that does not name the
    /// subject, so it cannot tell; load it with a scope that does.
    NotHeld,
}

impl Refusal {
    /// A stable machine-readable code: `no-consent`, `refused`, `withdrawn`,
    /// `expired`, `notice-retired`, `purpose-unknown`, `not-held`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoConsent => "no-consent",
            Self::Refused { .. } => "refused",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Expired { .. } => "expired",
            Self::NoticeRetired { .. } => "notice-retired",
            Self::UnknownPurpose => "purpose-unknown",
            Self::NotHeld => "not-held",
        }
    }

    /// The time the reason arose, if it has one.
    pub fn at(self) -> Option<i64> {
        match self {
            Self::Refused { at }
            | Self::Withdrawn { at }
            | Self::Expired { at }
            | Self::NoticeRetired { at } => Some(at),
            Self::NoConsent | Self::UnknownPurpose | Self::NotHeld => None,
        }
    }
}

/// The answer to "may we process this subject's data for this purpose now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Whether processing is allowed.
    pub allowed: bool,
    /// The legal basis relied on (when allowed).
    pub basis: Option<LegalBasis>,
    /// The consent event the decision rests on: the consent relied on, or
    /// the refusal, withdrawal or expiry that stops processing.
    pub event: Option<EventRef>,
    /// Why processing is not allowed (when refused).
    pub refusal: Option<Refusal>,
}

impl Decision {
    fn refuse(event: Option<EventRef>, refusal: Refusal) -> Self {
        Self {
            allowed: false,
            basis: None,
            event,
            refusal: Some(refusal),
        }
    }
}

/// A chat reply to check for an opt-out phrase (STOP, STOPP, BITTE STOPP,
/// ABMELDEN, UNSUBSCRIBE, ...: the policy's keywords).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutRequest {
    /// Id of the event to record (label rules). When a STOP records two
    /// events (a withdrawal and an objection), the objection gets this id
    /// followed by [`OBJECTION_ID_SUFFIX`] (shortened with a hash of the id
    /// when that would be longer than a label may be, or is taken).
    pub event_id: String,
    /// The subject's pseudonym.
    pub subject: String,
    /// The reply text; only compared with the keywords, never stored.
    pub reply: String,
    /// The WhatsApp message id of the reply, recorded as evidence.
    pub message_id: String,
    /// The channel, e.g. `whatsapp`.
    pub channel: String,
    /// Who records it, e.g. the ingest service's pseudonym.
    pub recorded_by: String,
    /// When the reply was received (Unix seconds).
    pub time: i64,
}

/// Appended to [`OptOutRequest::event_id`] for the objection event when one
/// STOP records both a withdrawal and an objection.
pub const OBJECTION_ID_SUFFIX: &str = "-objection";

/// One event an opt-out recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutEvent {
    /// The event.
    pub event: EventRef,
    /// The purposes it names.
    pub purposes: Vec<String>,
}

/// What an opt-out reply did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptOutOutcome {
    /// The reply is not an opt-out phrase; nothing was recorded.
    NotOptOut,
    /// The reply is an opt-out phrase and was recorded (docs/CONSENT.md,
    /// section 6.1): a `withdrawn` event for the purposes that stop on STOP
    /// and had consent in effect, and a `refused` event (the objection) for
    /// the other purposes that stop on STOP. At least one of the two is
    /// present unless the policy has no purpose that stops on STOP.
    Stopped {
        /// The withdrawal, if a purpose had consent in effect.
        withdrawal: Option<OptOutEvent>,
        /// The objection, if a purpose had no consent in effect.
        objection: Option<OptOutEvent>,
    },
}

impl OptOutOutcome {
    /// Every purpose the opt-out stopped (withdrawn or objected to).
    pub fn stopped_purposes(&self) -> Vec<&str> {
        match self {
            Self::NotOptOut => Vec::new(),
            Self::Stopped {
                withdrawal,
                objection,
            } => withdrawal
                .iter()
                .chain(objection)
                .flat_map(|e| e.purposes.iter().map(String::as_str))
                .collect(),
        }
    }
}

/// Compact per-event state, read by decisions: one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(align(64))]
struct EventMeta {
    hash: EventHash,
    purposes: u64,
    time: i64,
    /// `i64::MAX` when the consent does not expire.
    expires: i64,
    /// Index of the notice, or `NONE`.
    notice: u32,
    status: ConsentStatus,
}

/// A registered notice and the times from which consents under it stop
/// counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NoticeEntry {
    pub(super) notice: Notice,
    hash: [u8; 32],
    /// Registration time of the first newer version of the same id.
    superseded_at: i64,
}

pub(super) struct Prepared {
    bytes: Vec<u8>,
    mask: u64,
    notice: u32,
    subject: Option<u32>,
}

/// What the earlier events of a batch ([`Ledger::append_all`]) change, seen
/// by the checks of the later ones before anything is appended.
#[derive(Default)]
struct Overlay<'a> {
    ids: std::collections::BTreeSet<&'a str>,
    /// The latest time per subject within the batch.
    last: std::collections::BTreeMap<&'a str, i64>,
    /// Whether (subject, purpose) grants after the batch's earlier events.
    grants: std::collections::BTreeMap<(&'a str, usize), bool>,
    events: usize,
    new_subjects: usize,
}

/// The consent ledger. Events are validated and appended, never changed;
/// the state per (subject, purpose) is folded as they arrive, so
/// [`Ledger::decide`] is O(1) (plus a walk back through the subject's own
/// history when asked about a time before its latest event).
///
/// Every method that returns an error leaves the ledger unchanged.
///
/// ```
/// use caduceus_core::consent::{ConsentPolicy, Ledger, OptOutOutcome, OptOutRequest};
/// # use caduceus_core::consent::{ConsentEvent, ConsentMethod, ConsentStatus};
/// # fn main() -> Result<(), caduceus_core::consent::ConsentError> {
/// let mut ledger = Ledger::new(ConsentPolicy::default())?;
/// # let t = 1_763_800_000;
/// # let n = ledger.register_notice("privacy", 1, "de", "Hinweis", t, t)?;
/// # let e = ConsentEvent::new("e1", "p-1", &["treatment-communication", "marketing"],
/// #     ConsentStatus::Given, ConsentMethod::AnamnesisForm, Some(n), "paper-form", "staff-3", t)?;
/// # ledger.append(e, t)?;
/// // ... consents recorded ...; then the patient replies "Bitte stopp!".
/// let outcome = ledger.opt_out(OptOutRequest {
///     event_id: "e2".into(), subject: "p-1".into(), reply: " Bitte stopp! ".into(),
///     message_id: "wamid.HBgM".into(), channel: "whatsapp".into(),
///     recorded_by: "ingest".into(), time: t + 10 }, t + 10)?;
/// // Marketing had consent: withdrawn; recall had none: an objection.
/// assert_eq!(outcome.stopped_purposes(), ["marketing", "recall"]);
/// assert!(matches!(outcome, OptOutOutcome::Stopped { withdrawal: Some(_), objection: Some(_) }));
/// assert!(!ledger.decide("p-1", "marketing", t + 11).allowed);
/// assert!(ledger.decide("p-1", "treatment-communication", t + 11).allowed);
///
/// // Bulk decisions for a send-out; the ledger file round-trips.
/// let ds = ledger.decide_many(&["p-1", "p-2"], "marketing", t + 11);
/// assert!(ds.iter().all(|d| !d.allowed));
/// let bytes = ledger.to_bytes()?;
/// assert_eq!(Ledger::from_bytes(&bytes)?, ledger);
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Ledger {
    pub(super) policy: ConsentPolicy,
    n_purposes: usize,
    pub(super) notices: Vec<NoticeEntry>,
    pub(super) retirements: Vec<(String, u32, i64)>,
    /// Event records, concatenated.
    records: Vec<u8>,
    /// Start of each record in `records`.
    offsets: Vec<usize>,
    meta: Vec<EventMeta>,
    /// The previous event of the same subject, per event, or `NONE`.
    prev: Vec<u32>,
    ids: Map,
    subjects: Map,
    /// Latest event of each subject.
    subject_last: Vec<u32>,
    /// Latest event per (subject, purpose): `slots[subject * n_purposes + purpose]`.
    slots: Vec<u32>,
    /// Every notice, retirement and event in the order it was added: the
    /// order of the entries of the ledger file.
    pub(super) journal: Vec<Item>,
    /// How much of the journal the host has saved (bookkeeping, not content:
    /// it takes no part in equality).
    pub(super) saved: SaveMark,
    /// Set when the ledger was read with a [`LedgerScope`]: it holds only
    /// the events of the scope's subjects.
    held: Option<Box<Held>>,
}

/// One entry of the journal: an index into the notices, the retirements or
/// the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Item {
    Notice(u32),
    Retire(u32),
    Event(u32),
}

impl core::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Counts only: no pseudonyms.
        f.debug_struct("Ledger")
            .field("purposes", &self.n_purposes)
            .field("notices", &self.notices.len())
            .field("events", &self.meta.len())
            .field("subjects", &self.subject_last.len())
            .field("scoped", &self.held.is_some())
            .finish_non_exhaustive()
    }
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

impl Ledger {
    /// An empty ledger under `policy` (validated).
    pub fn new(policy: ConsentPolicy) -> Result<Self, ConsentError> {
        policy.validate()?;
        Ok(Self {
            n_purposes: policy.purposes.len(),
            policy,
            notices: Vec::new(),
            retirements: Vec::new(),
            records: Vec::new(),
            offsets: Vec::new(),
            meta: Vec::new(),
            prev: Vec::new(),
            ids: Map::default(),
            subjects: Map::default(),
            subject_last: Vec::new(),
            slots: Vec::new(),
            journal: Vec::new(),
            saved: SaveMark::default(),
            held: None,
        })
    }

    /// Hold from now on only the events of `scope`'s subjects (set by a
    /// scoped reader right after the policy entry, before any event).
    pub(super) fn set_scope(&mut self, scope: LedgerScope) {
        self.held = Some(Box::new(Held::new(scope)));
    }

    /// The scope the ledger was read with ([`LedgerReader::scoped`]), or
    /// `None` when it holds every event.
    ///
    /// [`LedgerReader::scoped`]: super::LedgerReader::scoped
    pub fn scope(&self) -> Option<&LedgerScope> {
        self.held.as_deref().map(|h| &h.scope)
    }

    /// Whether the ledger holds `subject`'s events: always, unless it was
    /// read with a scope that does not name the subject.
    pub fn holds_subject(&self, subject: &str) -> bool {
        self.held
            .as_deref()
            .is_none_or(|h| h.scope.holds_subject(subject))
    }

    /// Read from a file, an event of a subject this scoped ledger does not
    /// hold: counted (sequence numbers stay those of the whole file) and
    /// its id noted if the scope names it, but not kept.
    pub(super) fn skip_event(&mut self, e: &ConsentEvent) -> Result<(), ConsentError> {
        if self.ids.contains_key(e.id.as_str()) {
            return Err(ConsentError::DuplicateEventId(e.id.clone()));
        }
        if self.len() >= MAX_ITEMS {
            return Err(ConsentError::LedgerFull);
        }
        if let Some(h) = self.held.as_deref_mut() {
            h.skipped += 1;
            if h.scope.holds_event_id(&e.id) && !h.taken.insert(e.id.as_str().into()) {
                return Err(ConsentError::DuplicateEventId(e.id.clone()));
            }
        }
        Ok(())
    }

    /// Whether an event already uses `id` (held, or seen while a scoped
    /// ledger was read).
    fn id_taken(&self, id: &str) -> bool {
        self.ids.contains_key(id) || self.held.as_deref().is_some_and(|h| h.taken.contains(id))
    }

    /// The sequence number (in the whole file) of held event `i`.
    fn seq_of(&self, i: u32) -> u64 {
        match self.held.as_deref() {
            None => u64::from(i),
            Some(h) => h.seqs.get(i as usize).copied().unwrap_or(u64::MAX),
        }
    }

    /// The index of the held event with sequence number `seq`.
    fn index_of(&self, seq: u64) -> Option<u32> {
        match self.held.as_deref() {
            None => u32::try_from(seq).ok(),
            Some(h) => h.seqs.binary_search(&seq).ok().map(idx),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ConsentPolicy {
        &self.policy
    }

    /// Number of events (in the whole file, for a scoped ledger).
    pub fn len(&self) -> usize {
        let skipped = self.held.as_deref().map_or(0, |h| h.skipped);
        self.meta
            .len()
            .saturating_add(usize::try_from(skipped).unwrap_or(usize::MAX))
    }

    /// True if the ledger has no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct subjects (held ones, for a scoped ledger).
    pub fn subject_count(&self) -> usize {
        self.subject_last.len()
    }

    /// The registered notices, in registration order.
    pub fn notices(&self) -> Vec<Notice> {
        self.notices.iter().map(|n| n.notice.clone()).collect()
    }

    /// The registered notice a reference points at (id, version, language
    /// and hash must all match).
    pub fn find_notice(&self, r: &NoticeRef) -> Option<&Notice> {
        self.notice_index(r)
            .and_then(|i| self.notices.get(i))
            .map(|n| &n.notice)
    }

    fn notice_index(&self, r: &NoticeRef) -> Option<usize> {
        self.notices.iter().position(|n| {
            n.notice.id == r.id
                && n.notice.version == r.version
                && n.notice.language == r.language
                && n.hash == r.sha256
        })
    }

    fn check_time(&self, what: &str, time: i64, now: Option<i64>) -> Result<(), ConsentError> {
        if let Some(now) = now {
            let ahead = time.saturating_sub(now);
            if ahead > self.policy.max_clock_skew {
                return Err(ConsentError::InFuture {
                    what: what.to_owned(),
                    ahead,
                    skew: self.policy.max_clock_skew,
                });
            }
        }
        Ok(())
    }

    /// Register the exact text of a notice version in a language. `at` is
    /// the registration time, `now` the caller's clock (for the skew check).
    /// Returns the reference consent events point at. Changed wording needs
    /// a new version; a newer version does not invalidate consents under an
    /// older one unless the purpose has `require_current_notice`.
    pub fn register_notice(
        &mut self,
        id: &str,
        version: u32,
        language: &str,
        text: &str,
        at: i64,
        now: i64,
    ) -> Result<NoticeRef, ConsentError> {
        self.check_time(id, at, Some(now))?;
        self.add_notice(Notice {
            id: id.to_owned(),
            version,
            language: language.to_owned(),
            text: text.to_owned(),
            registered_at: at,
            retired_at: None,
        })
    }

    pub(super) fn add_notice(&mut self, notice: Notice) -> Result<NoticeRef, ConsentError> {
        check_notice(&notice.id, &notice.language, &notice.text)?;
        if self.notices.iter().any(|n| {
            n.notice.id == notice.id
                && n.notice.version == notice.version
                && n.notice.language == notice.language
        }) {
            return Err(ConsentError::DuplicateNotice {
                id: notice.id,
                version: notice.version,
                language: notice.language,
            });
        }
        if self.notices.len() >= MAX_NOTICES {
            return Err(ConsentError::LedgerFull);
        }
        let r = notice.reference();
        let mut superseded_at = i64::MAX;
        for n in &mut self.notices {
            if n.notice.id == notice.id {
                if n.notice.version < notice.version {
                    n.superseded_at = n.superseded_at.min(notice.registered_at);
                } else if n.notice.version > notice.version {
                    superseded_at = superseded_at.min(n.notice.registered_at);
                }
            }
        }
        self.journal.push(Item::Notice(idx(self.notices.len())));
        self.notices.push(NoticeEntry {
            notice,
            hash: r.sha256,
            superseded_at,
        });
        Ok(r)
    }

    /// Retire a notice version (every language): consents given under it no
    /// longer count from `at` on (reason `notice-retired`).
    pub fn retire_notice(
        &mut self,
        id: &str,
        version: u32,
        at: i64,
        now: i64,
    ) -> Result<(), ConsentError> {
        self.check_time(id, at, Some(now))?;
        self.retire(id, version, at)
    }

    pub(super) fn retire(&mut self, id: &str, version: u32, at: i64) -> Result<(), ConsentError> {
        let matching = |n: &NoticeEntry| n.notice.id == id && n.notice.version == version;
        if !self.notices.iter().any(matching) {
            return Err(ConsentError::UnknownNotice {
                id: id.to_owned(),
                version,
                language: "any".to_owned(),
            });
        }
        if self
            .notices
            .iter()
            .any(|n| matching(n) && n.notice.retired_at.is_some())
        {
            return Err(ConsentError::NoticeAlreadyRetired {
                id: id.to_owned(),
                version,
            });
        }
        for n in self.notices.iter_mut().filter(|n| matching(n)) {
            n.notice.retired_at = Some(at);
        }
        self.journal.push(Item::Retire(idx(self.retirements.len())));
        self.retirements.push((id.to_owned(), version, at));
        Ok(())
    }

    /// Validate `event` against the policy, the notices and the subject's
    /// history, and append it. `now` is the caller's clock: the event may
    /// lie at most the policy's clock skew ahead of it.
    ///
    /// Refused with a typed error (the ledger unchanged): invalid fields,
    /// unknown purposes, a duplicate event id, an unregistered notice (id,
    /// version, language or hash), a time beyond the clock skew, a time
    /// before the subject's latest event, a withdrawal or expiry without
    /// prior consent.
    pub fn append(&mut self, event: ConsentEvent, now: i64) -> Result<EventRef, ConsentError> {
        let prepared = self.prepare(&event, Some(now))?;
        Ok(self.commit(&event, prepared))
    }

    /// Whether `event` would be appended at `now`, without appending it:
    /// the same checks and errors as [`Ledger::append`].
    pub fn check_append(&self, event: &ConsentEvent, now: i64) -> Result<(), ConsentError> {
        self.prepare(event, Some(now)).map(|_| ())
    }

    /// Append several events as one, in order: either every one is
    /// appended, or none is and the ledger is unchanged. Each event is
    /// checked as [`Ledger::append`] would check it after the ones before
    /// it in `events` (so a batch may grant a purpose and withdraw it
    /// again, but may not repeat an event id or go back in time for a
    /// subject), all before the first is appended.
    ///
    /// ```
    /// # use caduceus_core::consent::*;
    /// let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    /// let n = ledger.register_notice("privacy-chat", 1, "de", "Hinweistext", 100, 100).unwrap();
    /// let grant = ConsentEvent::new("e1", "p-1", &["marketing"], ConsentStatus::Given,
    ///     ConsentMethod::ChatReply, Some(n), "whatsapp", "system-ingest", 200).unwrap();
    /// let withdraw = ConsentEvent::new("e2", "p-1", &["marketing"], ConsentStatus::Withdrawn,
    ///     ConsentMethod::ChatReply, None, "whatsapp", "system-ingest", 300).unwrap();
    /// // A repeated id refuses the whole batch: nothing was appended.
    /// assert!(ledger.append_all(&[grant.clone(), grant.clone()], 400).is_err());
    /// assert_eq!(ledger.len(), 0);
    /// assert_eq!(ledger.append_all(&[grant, withdraw], 400).unwrap().len(), 2);
    /// ```
    pub fn append_all(
        &mut self,
        events: &[ConsentEvent],
        now: i64,
    ) -> Result<Vec<EventRef>, ConsentError> {
        let prepared = self.prepare_all(events, now)?;
        Ok(events
            .iter()
            .zip(prepared)
            .map(|(e, p)| self.commit(e, p))
            .collect())
    }

    /// Whether [`Ledger::append_all`] would append `events` at `now`,
    /// without appending anything: the same checks and errors.
    pub fn check_append_all(&self, events: &[ConsentEvent], now: i64) -> Result<(), ConsentError> {
        self.prepare_all(events, now).map(|_| ())
    }

    /// Each event of a batch prepared against the state the ones before it
    /// produce. A subject new to the ledger is `None` in every event of the
    /// batch that names it; [`Ledger::commit`] creates it at the first.
    fn prepare_all(
        &self,
        events: &[ConsentEvent],
        now: i64,
    ) -> Result<Vec<Prepared>, ConsentError> {
        let mut overlay = Overlay::default();
        let mut prepared = Vec::with_capacity(events.len());
        for e in events {
            let p = self.prepare_in(e, Some(now), &overlay)?;
            let subject = e.subject.as_str();
            if p.subject.is_none() && !overlay.last.contains_key(subject) {
                overlay.new_subjects += 1;
            }
            overlay.events += 1;
            overlay.ids.insert(e.id.as_str());
            overlay.last.insert(subject, e.time);
            for purpose in 0..self.n_purposes {
                if p.mask & (1u64 << purpose) != 0 {
                    overlay.grants.insert((subject, purpose), e.status.grants());
                }
            }
            prepared.push(p);
        }
        Ok(prepared)
    }

    /// The reference (with its hash) of a registered notice version.
    pub fn notice_ref(&self, id: &str, version: u32, language: &str) -> Option<NoticeRef> {
        self.notices
            .iter()
            .find(|n| {
                n.notice.id == id && n.notice.version == version && n.notice.language == language
            })
            .map(|n| n.notice.reference())
    }

    pub(super) fn prepare(
        &self,
        e: &ConsentEvent,
        now: Option<i64>,
    ) -> Result<Prepared, ConsentError> {
        self.prepare_in(e, now, &Overlay::default())
    }

    /// [`Ledger::prepare`] as if the events of `overlay` were appended.
    fn prepare_in(
        &self,
        e: &ConsentEvent,
        now: Option<i64>,
        overlay: &Overlay<'_>,
    ) -> Result<Prepared, ConsentError> {
        e.check()?;
        if now.is_some() {
            crate::pseudonym::check_identifier(&e.subject).map_err(ConsentError::InvalidSubject)?;
            // A scoped ledger appends only what it can check: its subjects'
            // events, with ids whose use in the file it has noted.
            if let Some(h) = self.held.as_deref()
                && !(h.scope.holds_subject(&e.subject) && h.scope.holds_event_id(&e.id))
            {
                return Err(ConsentError::NotHeld);
            }
        }
        let mut mask = 0u64;
        for p in &e.purposes {
            let i = self
                .policy
                .purpose_index(p)
                .ok_or_else(|| ConsentError::UnknownPurpose(p.clone()))?;
            mask |= 1u64 << i;
        }
        if self.id_taken(&e.id) || overlay.ids.contains(e.id.as_str()) {
            return Err(ConsentError::DuplicateEventId(e.id.clone()));
        }
        let notice = match &e.notice {
            None => NONE,
            Some(r) => idx(self
                .notice_index(r)
                .ok_or_else(|| ConsentError::UnknownNotice {
                    id: r.id.clone(),
                    version: r.version,
                    language: r.language.clone(),
                })?),
        };
        self.check_time(&e.id, e.time, now)?;
        let subject = self.subjects.get(e.subject.as_str()).copied();
        let in_batch = overlay.last.get(e.subject.as_str()).copied();
        if let Some(last) = in_batch.or_else(|| subject.map(|s| self.subject_last_time(s)))
            && e.time < last
        {
            return Err(ConsentError::OutOfOrder {
                event: e.id.clone(),
                time: e.time,
                latest: last,
            });
        }
        if matches!(e.status, ConsentStatus::Withdrawn | ConsentStatus::Expired) {
            for (p, cfg) in self.policy.purposes.iter().enumerate() {
                if mask & (1u64 << p) == 0 {
                    continue;
                }
                let latest = subject.map_or(NONE, |s| self.slot(s, p));
                let grants = overlay
                    .grants
                    .get(&(e.subject.as_str(), p))
                    .copied()
                    .unwrap_or_else(|| {
                        self.meta
                            .get(latest as usize)
                            .is_some_and(|m| m.status.grants())
                    });
                if !grants {
                    return Err(ConsentError::WithoutPriorConsent {
                        event: e.id.clone(),
                        purpose: cfg.id.clone(),
                    });
                }
            }
        }
        let new_subject = subject.is_none() && in_batch.is_none();
        if self.len() + overlay.events >= MAX_ITEMS
            || (new_subject && self.subject_last.len() + overlay.new_subjects >= MAX_ITEMS)
        {
            return Err(ConsentError::LedgerFull);
        }
        let bytes = e.to_bytes()?;
        Ok(Prepared {
            bytes,
            mask,
            notice,
            subject,
        })
    }

    pub(super) fn commit(&mut self, e: &ConsentEvent, p: Prepared) -> EventRef {
        let seq = idx(self.meta.len());
        let global = self.len() as u64;
        if let Some(h) = self.held.as_deref_mut() {
            h.seqs.push(global);
        }
        let hash = suite::sha256(&[&p.bytes]);
        // A subject prepared as new may have been created by an earlier
        // event of the same batch.
        let known = p
            .subject
            .or_else(|| self.subjects.get(e.subject.as_str()).copied());
        let s = match known {
            Some(s) => s,
            None => {
                let s = idx(self.subject_last.len());
                self.subjects.insert(e.subject.as_str().into(), s);
                self.subject_last.push(NONE);
                self.slots
                    .extend(std::iter::repeat_n(NONE, self.n_purposes));
                s
            }
        };
        let prev = self.subject_last.get(s as usize).copied().unwrap_or(NONE);
        self.offsets.push(self.records.len());
        self.records.extend_from_slice(&p.bytes);
        self.meta.push(EventMeta {
            hash,
            purposes: p.mask,
            time: e.time,
            expires: e.expires_at.unwrap_or(i64::MAX),
            notice: p.notice,
            status: e.status,
        });
        self.prev.push(prev);
        if let Some(last) = self.subject_last.get_mut(s as usize) {
            *last = seq;
        }
        let base = s as usize * self.n_purposes;
        for purpose in 0..self.n_purposes {
            if p.mask & (1u64 << purpose) != 0
                && let Some(slot) = self.slots.get_mut(base + purpose)
            {
                *slot = seq;
            }
        }
        self.ids.insert(e.id.as_str().into(), seq);
        self.journal.push(Item::Event(seq));
        EventRef { seq: global, hash }
    }

    #[inline]
    fn slot(&self, s: u32, p: usize) -> u32 {
        self.slots
            .get(s as usize * self.n_purposes + p)
            .copied()
            .unwrap_or(NONE)
    }

    fn subject_last_time(&self, s: u32) -> i64 {
        self.subject_last
            .get(s as usize)
            .and_then(|&e| self.meta.get(e as usize))
            .map_or(i64::MIN, |m| m.time)
    }

    /// Record an opt-out reply (docs/CONSENT.md, section 6.1). If the whole
    /// of `req.reply`, normalised ([`super::normalize_reply`]), is one of
    /// the policy's keywords, every purpose that stops on STOP
    /// ([`super::PurposeConfig::stops_on_opt_out`]) is stopped and the reply
    /// is always recorded, method `chat-reply`, the message id as evidence:
    ///
    /// * purposes whose latest event grants consent: one `withdrawn` event;
    /// * every other such purpose: one `refused` event, the objection, which
    ///   also blocks an alternative basis (Art. 21 GDPR).
    ///
    /// The first event gets `req.event_id`; when both are recorded the
    /// objection gets `req.event_id` + [`OBJECTION_ID_SUFFIX`]. Both are
    /// validated before either is appended: on error the ledger is unchanged.
    pub fn opt_out(&mut self, req: OptOutRequest, now: i64) -> Result<OptOutOutcome, ConsentError> {
        let Some((w, o)) = self.opt_out_events(&req) else {
            return Ok(OptOutOutcome::NotOptOut);
        };
        let both = w.is_some() && o.is_some();
        let (w, withdrawn) = w.map_or((None, Vec::new()), |(e, p)| (Some(e), p));
        let (o, objected) = o.map_or((None, Vec::new()), |(e, p)| (Some(e), p));
        // Validate both against the current state before appending either.
        let pw = w.as_ref().map(|e| self.prepare(e, Some(now))).transpose()?;
        let mut po = o.as_ref().map(|e| self.prepare(e, Some(now))).transpose()?;
        if both && self.len() + 2 > MAX_ITEMS {
            return Err(ConsentError::LedgerFull);
        }
        let mut withdrawal = None;
        if let (Some(e), Some(p)) = (&w, pw) {
            withdrawal = Some(OptOutEvent {
                event: self.commit(e, p),
                purposes: withdrawn,
            });
            // The subject may have been interned by the withdrawal.
            if let Some(p) = po.as_mut() {
                p.subject = self.subjects.get(req.subject.as_str()).copied();
            }
        }
        let mut objection = None;
        if let (Some(e), Some(p)) = (&o, po) {
            objection = Some(OptOutEvent {
                event: self.commit(e, p),
                purposes: objected,
            });
        }
        Ok(OptOutOutcome::Stopped {
            withdrawal,
            objection,
        })
    }

    /// The events an opt-out reply would record, validated against the
    /// current state, without recording them: empty when `req.reply` is not
    /// an opt-out phrase, else the withdrawal and/or the objection of
    /// [`Ledger::opt_out`], in the order to append them. For hosts that
    /// persist events themselves (e.g. one transaction per webhook
    /// delivery) and append them afterwards with [`Ledger::append`].
    pub fn plan_opt_out(
        &self,
        req: &OptOutRequest,
        now: i64,
    ) -> Result<Vec<ConsentEvent>, ConsentError> {
        let Some((w, o)) = self.opt_out_events(req) else {
            return Ok(Vec::new());
        };
        let events: Vec<ConsentEvent> = w.into_iter().chain(o).map(|(e, _)| e).collect();
        for e in &events {
            self.prepare(e, Some(now))?;
        }
        if self.len() + events.len() > MAX_ITEMS {
            return Err(ConsentError::LedgerFull);
        }
        Ok(events)
    }

    /// The withdrawal and objection events (each with its purposes) an
    /// opt-out reply records, or `None` when the reply is not an opt-out.
    #[allow(clippy::type_complexity)]
    fn opt_out_events(
        &self,
        req: &OptOutRequest,
    ) -> Option<(
        Option<(ConsentEvent, Vec<String>)>,
        Option<(ConsentEvent, Vec<String>)>,
    )> {
        if !self.policy.is_opt_out(&req.reply) {
            return None;
        }
        let subject = self.subjects.get(req.subject.as_str()).copied();
        let (mut withdrawn, mut objected) = (Vec::new(), Vec::new());
        for (p, cfg) in self.policy.purposes.iter().enumerate() {
            if !cfg.stops_on_opt_out() {
                continue;
            }
            let grants = subject.is_some_and(|s| {
                self.meta
                    .get(self.slot(s, p) as usize)
                    .is_some_and(|m| m.status.grants())
            });
            if grants {
                withdrawn.push(cfg.id.clone());
            } else {
                objected.push(cfg.id.clone());
            }
        }
        let both = !withdrawn.is_empty() && !objected.is_empty();
        let event = |id: String, purposes: &[String], status| ConsentEvent {
            id,
            subject: req.subject.clone(),
            purposes: purposes.to_vec(),
            status,
            method: ConsentMethod::ChatReply,
            notice: None,
            channel: req.channel.clone(),
            evidence: Some(req.message_id.clone()),
            recorded_by: req.recorded_by.clone(),
            time: req.time,
            expires_at: None,
        };
        let w = (!withdrawn.is_empty()).then(|| {
            (
                event(req.event_id.clone(), &withdrawn, ConsentStatus::Withdrawn),
                withdrawn.clone(),
            )
        });
        let o = (!objected.is_empty()).then(|| {
            let id = if both {
                self.objection_id(&req.event_id)
            } else {
                req.event_id.clone()
            };
            (
                event(id, &objected, ConsentStatus::Refused),
                objected.clone(),
            )
        });
        Some((w, o))
    }

    /// The id of the objection event that goes with withdrawal `event_id`:
    /// `event_id` + [`OBJECTION_ID_SUFFIX`]; when that is longer than a
    /// label may be or already taken, the first 101 characters of
    /// `event_id`, `-`, 16 hex digits of its SHA-256 and the suffix, so a
    /// STOP is always recorded.
    fn objection_id(&self, event_id: &str) -> String {
        let [plain, hashed] = objection_ids(event_id);
        if plain.len() <= crate::label::MAX_LABEL_LEN && !self.id_taken(&plain) {
            return plain;
        }
        hashed
    }

    /// The interned id of a subject, if it has events.
    pub fn subject_id(&self, subject: &str) -> Option<SubjectId> {
        self.subjects.get(subject).map(|&s| SubjectId(s))
    }

    /// Every subject id, in order of first appearance.
    pub fn subject_ids(&self) -> impl Iterator<Item = SubjectId> + '_ {
        (0..idx(self.subject_last.len())).map(SubjectId)
    }

    /// The pseudonym of an interned subject.
    pub fn subject_name(&self, id: SubjectId) -> Option<String> {
        let e = *self.subject_last.get(id.0 as usize)?;
        self.event_at(e).map(|r| r.event.subject)
    }

    /// Decide whether `subject`'s data may be processed for `purpose` at
    /// time `at` (Unix seconds): allowed or not, the legal basis, the event
    /// relied on and, when refused, why. O(1) for `at` at or after the
    /// subject's latest event for the purpose.
    ///
    /// Consent in effect (given or renewed, not expired, its notice not
    /// retired) allows with Art. 6(1)(a) (and Art. 9(2)(a) for health data).
    /// Without it, a configured alternative basis allows, unless the subject
    /// refused or withdrew the purpose.
    pub fn decide(&self, subject: &str, purpose: &str, at: i64) -> Decision {
        let Some(p) = self.policy.purpose_index(purpose) else {
            return Decision::refuse(None, Refusal::UnknownPurpose);
        };
        if !self.holds_subject(subject) {
            return Decision::refuse(None, Refusal::NotHeld);
        }
        let s = self.subjects.get(subject).copied().unwrap_or(NONE);
        self.decide_slot(s, p, at)
    }

    /// [`Ledger::decide`] for many subjects and one purpose (a recall or
    /// marketing send-out). Subjects without events get `no-consent` (or the
    /// alternative basis).
    pub fn decide_many<S: AsRef<str>>(
        &self,
        subjects: &[S],
        purpose: &str,
        at: i64,
    ) -> Vec<Decision> {
        let Some(p) = self.policy.purpose_index(purpose) else {
            return vec![Decision::refuse(None, Refusal::UnknownPurpose); subjects.len()];
        };
        // Two passes: the independent table lookups first, so that their
        // cache misses overlap, then the decisions.
        let ids: Vec<Option<u32>> = subjects
            .iter()
            .map(|s| {
                let s = s.as_ref();
                self.holds_subject(s)
                    .then(|| self.subjects.get(s).copied().unwrap_or(NONE))
            })
            .collect();
        ids.iter()
            .map(|s| match *s {
                Some(s) => self.decide_slot(s, p, at),
                None => Decision::refuse(None, Refusal::NotHeld),
            })
            .collect()
    }

    /// [`Ledger::decide`] for interned subjects (see [`Ledger::subject_id`]):
    /// no string lookups, for repeated send-outs over the same list.
    pub fn decide_ids(&self, subjects: &[SubjectId], purpose: &str, at: i64) -> Vec<Decision> {
        let Some(p) = self.policy.purpose_index(purpose) else {
            return vec![Decision::refuse(None, Refusal::UnknownPurpose); subjects.len()];
        };
        subjects
            .iter()
            .map(|s| self.decide_slot(s.0, p, at))
            .collect()
    }

    fn effective_event(&self, s: u32, p: usize, at: i64) -> Option<(u32, &EventMeta)> {
        let bit = 1u64 << p;
        let mut e = self.slot(s, p);
        while let Some(m) = self.meta.get(e as usize) {
            if m.time <= at && m.purposes & bit != 0 {
                return Some((e, m));
            }
            e = self.prev.get(e as usize).copied().unwrap_or(NONE);
        }
        None
    }

    fn notice_invalid_from(&self, notice: u32, require_current: bool) -> i64 {
        match self.notices.get(notice as usize) {
            None => i64::MAX,
            Some(n) => {
                let retired = n.notice.retired_at.unwrap_or(i64::MAX);
                if require_current {
                    retired.min(n.superseded_at)
                } else {
                    retired
                }
            }
        }
    }

    #[inline]
    fn decide_slot(&self, s: u32, p: usize, at: i64) -> Decision {
        let Some(cfg) = self.policy.purposes.get(p) else {
            return Decision::refuse(None, Refusal::UnknownPurpose);
        };
        let (event, refusal) = match self.effective_event(s, p, at) {
            None => (None, Refusal::NoConsent),
            Some((i, m)) => {
                let r = Some(EventRef {
                    seq: self.seq_of(i),
                    hash: m.hash,
                });
                match m.status {
                    ConsentStatus::Given | ConsentStatus::Renewed => {
                        let notice_end =
                            self.notice_invalid_from(m.notice, cfg.require_current_notice);
                        if m.expires <= at {
                            (r, Refusal::Expired { at: m.expires })
                        } else if notice_end <= at {
                            (r, Refusal::NoticeRetired { at: notice_end })
                        } else {
                            return Decision {
                                allowed: true,
                                basis: Some(cfg.consent_basis()),
                                event: r,
                                refusal: None,
                            };
                        }
                    }
                    ConsentStatus::Refused => {
                        return Decision::refuse(r, Refusal::Refused { at: m.time });
                    }
                    ConsentStatus::Withdrawn => {
                        return Decision::refuse(r, Refusal::Withdrawn { at: m.time });
                    }
                    ConsentStatus::Expired => (r, Refusal::Expired { at: m.time }),
                }
            }
        };
        match cfg.alternative {
            Some(basis) => Decision {
                allowed: true,
                basis: Some(basis),
                event: None,
                refusal: None,
            },
            None => Decision::refuse(event, refusal),
        }
    }

    /// Total length of the stored event records.
    pub(super) fn records_len(&self) -> usize {
        self.records.len()
    }

    /// The stored bytes of event number `i`.
    pub(super) fn record_bytes(&self, i: usize) -> Option<&[u8]> {
        let start = *self.offsets.get(i)?;
        let end = self
            .offsets
            .get(i + 1)
            .copied()
            .unwrap_or(self.records.len());
        self.records.get(start..end)
    }

    fn event_at(&self, seq: u32) -> Option<RecordedEvent> {
        let i = seq as usize;
        let event = ConsentEvent::from_bytes(self.record_bytes(i)?).ok()?;
        let m = self.meta.get(i)?;
        Some(RecordedEvent {
            event_ref: EventRef {
                seq: self.seq_of(seq),
                hash: m.hash,
            },
            event,
        })
    }

    /// The event with sequence number `seq` (`None` for an event a scoped
    /// ledger does not hold).
    pub fn event(&self, seq: u64) -> Option<RecordedEvent> {
        self.index_of(seq).and_then(|s| self.event_at(s))
    }

    /// The event with the given id.
    pub fn event_by_id(&self, id: &str) -> Option<RecordedEvent> {
        self.ids.get(id).and_then(|&s| self.event_at(s))
    }

    /// The exact bytes of event `seq` (what its hash covers).
    pub fn event_bytes(&self, seq: u64) -> Option<&[u8]> {
        self.record_bytes(self.index_of(seq)? as usize)
    }

    /// The full history of a subject, oldest first (empty if unknown, or
    /// not held by a scoped ledger: see [`Ledger::holds_subject`]).
    pub fn history(&self, subject: &str) -> Vec<RecordedEvent> {
        let mut out = Vec::new();
        let mut e = self
            .subjects
            .get(subject)
            .and_then(|&s| self.subject_last.get(s as usize).copied())
            .unwrap_or(NONE);
        while let Some(&prev) = self.prev.get(e as usize) {
            if let Some(r) = self.event_at(e) {
                out.push(r);
            }
            e = prev;
        }
        out.reverse();
        out
    }
}

/// The two ids the objection of withdrawal `event_id` can get
/// ([`OBJECTION_ID_SUFFIX`]): `event_id` + the suffix, and the form used
/// when that is longer than a label may be or already taken: the first 101
/// characters of `event_id`, `-`, 16 hex digits of its SHA-256 and the
/// suffix.
pub(super) fn objection_ids(event_id: &str) -> [String; 2] {
    let plain = format!("{event_id}{OBJECTION_ID_SUFFIX}");
    let digest = suite::sha256(&[event_id.as_bytes()]);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let head = event_id.get(..101).unwrap_or(event_id);
    [plain, format!("{head}-{hex}{OBJECTION_ID_SUFFIX}")]
}
