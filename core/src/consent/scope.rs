//! Scoped loading: hold in memory only the part of a ledger file a task
//! needs (docs/CONSENT.md, section 5.4).
//!
//! A practice's ledger grows by every consent, withdrawal and STOP of every
//! patient for decades; a command that records one patient's STOP, or
//! decides for one send-out list, needs only those patients' events. A
//! [`LedgerScope`] names them. [`LedgerReader::scoped`] then reads the whole
//! file (every entry's framing, canonical form and chain hash is checked, so
//! a damaged file is still refused) but keeps only the notices, the
//! retirements and the events of the scope's subjects: memory grows with
//! those, not with the file.
//!
//! [`LedgerReader::scoped`]: super::LedgerReader::scoped

use std::collections::BTreeSet;

use super::ledger::OptOutRequest;

/// Which subjects' events (and which new event ids) a scoped ledger holds.
///
/// A scoped [`Ledger`](super::Ledger) answers for its subjects exactly as
/// the whole ledger would, and appends events of its subjects whose ids the
/// scope names (it has seen every id in the file, so it can tell whether
/// those are taken). Anything else is refused with
/// [`ConsentError::NotHeld`](super::ConsentError::NotHeld), and a decision
/// for a subject outside the scope refuses with
/// [`Refusal::NotHeld`](super::Refusal::NotHeld): it never guesses.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LedgerScope {
    pub(super) subjects: BTreeSet<Box<str>>,
    pub(super) ids: BTreeSet<Box<str>>,
}

/// Counts only: no pseudonyms or event ids.
impl core::fmt::Debug for LedgerScope {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LedgerScope")
            .field("subjects", &self.subjects.len())
            .field("event_ids", &self.ids.len())
            .finish()
    }
}

impl LedgerScope {
    /// A scope that holds no subject: enough to verify a file, count its
    /// events and read its notices.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also hold `subject`'s events.
    pub fn subject(mut self, subject: &str) -> Self {
        self.subjects.insert(subject.into());
        self
    }

    /// Also hold the events of each of `subjects`.
    pub fn subjects<S: AsRef<str>>(mut self, subjects: &[S]) -> Self {
        self.subjects
            .extend(subjects.iter().map(|s| s.as_ref().into()));
        self
    }

    /// Allow appending an event with id `id` (whether the file already has
    /// an event with this id is noted while it is read).
    pub fn event_id(mut self, id: &str) -> Self {
        self.ids.insert(id.into());
        self
    }

    /// The scope [`Ledger::opt_out`](super::Ledger::opt_out) needs for
    /// `req`: its subject, its event id and both forms the objection's id
    /// can take.
    pub fn opt_out(req: &OptOutRequest) -> Self {
        let mut scope = Self::new().subject(&req.subject).event_id(&req.event_id);
        for id in super::ledger::objection_ids(&req.event_id) {
            scope = scope.event_id(&id);
        }
        scope
    }

    /// Whether the scope holds `subject`'s events.
    pub fn holds_subject(&self, subject: &str) -> bool {
        self.subjects.contains(subject)
    }

    /// Whether the scope allows appending an event with id `id`.
    pub fn holds_event_id(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

/// A scoped ledger's bookkeeping: the scope, the events of the file it does
/// not hold, and which of the scope's ids the file already uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    pub(super) scope: LedgerScope,
    /// Events read from the file but not held (other subjects').
    pub(super) skipped: u64,
    /// Sequence number of each held event, by its index in the ledger.
    pub(super) seqs: Vec<u64>,
    /// The scope's ids that an event not held already uses.
    pub(super) taken: BTreeSet<Box<str>>,
}

impl Held {
    pub(super) fn new(scope: LedgerScope) -> Self {
        Self {
            scope,
            skipped: 0,
            seqs: Vec::new(),
            taken: BTreeSet::new(),
        }
    }
}
