//! The sweep: record metadata and a date in, the actions due and each
//! record's next due date out. Metadata only, no decryption.
//!
//! The policy is compiled once into a flat table of rules per category, so
//! evaluating a record is a few integer operations per rule, with no
//! allocation and no string comparison.

use serde::Serialize;

use super::date::Date;
use super::policy::{ANCHOR_COUNT, Action, Anchor, Policy};
use crate::suite;

/// Index of a category in a [`Policy`] (from [`Policy::category_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CategoryId(pub u16);

/// A compact key for a data subject: the first 8 bytes (big-endian) of
/// SHA-256 of `"caduceus/v1 subject key" || pseudonym`. Two pseudonyms that
/// collide can only make a hold cover more records, never fewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SubjectKey(pub u64);

impl SubjectKey {
    /// The key of a subject pseudonym.
    pub fn of(pseudonym: &str) -> Self {
        let h = suite::sha256(&[b"caduceus/v1 subject key", pseudonym.as_bytes()]);
        let mut b = [0u8; 8];
        b.copy_from_slice(h.get(..8).unwrap_or(&[0; 8]));
        Self(u64::from_be_bytes(b))
    }
}

/// The anchor dates of one record; absent anchors are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Anchors([Option<Date>; ANCHOR_COUNT]);

impl Anchors {
    /// Only the creation date.
    pub fn created(date: Date) -> Self {
        Self::default().with(Anchor::Created, date)
    }

    /// These anchors with `anchor` set to `date`.
    #[must_use]
    pub fn with(mut self, anchor: Anchor, date: Date) -> Self {
        self.set(anchor, Some(date));
        self
    }

    /// Set or clear an anchor.
    pub fn set(&mut self, anchor: Anchor, date: Option<Date>) {
        if let Some(slot) = self.0.get_mut(anchor as usize) {
            *slot = date;
        }
    }

    /// The date of `anchor`, if known.
    #[inline]
    pub fn get(&self, anchor: Anchor) -> Option<Date> {
        self.0.get(anchor as usize).copied().flatten()
    }
}

/// The metadata of one stored record, as the sweep needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The host's record id.
    pub id: u64,
    /// The subject.
    pub subject: SubjectKey,
    /// The category.
    pub category: CategoryId,
    /// Anchor dates.
    pub anchors: Anchors,
}

/// What a legal hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldScope {
    /// Every record of a subject.
    Subject(SubjectKey),
    /// Every record of a category.
    Category(CategoryId),
    /// One record.
    Record(u64),
}

/// A legal hold (R4): records it covers are never erased while it is in
/// force, from `from` (inclusive) to `until` (exclusive; `None`: until lifted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// What it covers.
    pub scope: HoldScope,
    /// Why (e.g. a court case reference); no health data.
    pub reason: String,
    /// First day in force.
    pub from: Option<Date>,
    /// First day no longer in force.
    pub until: Option<Date>,
}

impl Hold {
    /// True if the hold is in force on `day`.
    pub fn in_force(&self, day: Date) -> bool {
        self.from.is_none_or(|f| f <= day) && self.until.is_none_or(|u| day < u)
    }
}

/// The holds in force on one day, indexed for the sweep.
#[derive(Debug, Clone, Default)]
pub struct ActiveHolds {
    subjects: Vec<(u64, u32)>,
    records: Vec<(u64, u32)>,
    categories: Vec<Option<u32>>,
    any: bool,
}

impl ActiveHolds {
    /// Index the holds of `holds` that are in force on `day`. The `u32` a
    /// verdict reports is the index of the hold in `holds`.
    pub fn new(holds: &[Hold], day: Date) -> Self {
        let mut s = Self::default();
        for (i, h) in holds.iter().enumerate() {
            if !h.in_force(day) {
                continue;
            }
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            s.any = true;
            match h.scope {
                HoldScope::Subject(k) => s.subjects.push((k.0, i)),
                HoldScope::Record(r) => s.records.push((r, i)),
                HoldScope::Category(c) => {
                    let c = usize::from(c.0);
                    if s.categories.len() <= c {
                        s.categories.resize(c + 1, None);
                    }
                    if let Some(slot) = s.categories.get_mut(c) {
                        slot.get_or_insert(i);
                    }
                }
            }
        }
        s.subjects.sort_unstable();
        s.records.sort_unstable();
        s
    }

    /// The index of a hold covering `r`, if any.
    #[inline]
    pub fn covering(&self, r: &Record) -> Option<u32> {
        if !self.any {
            return None;
        }
        if let Some(Some(i)) = self.categories.get(usize::from(r.category.0)) {
            return Some(*i);
        }
        let find = |v: &[(u64, u32)], k: u64| {
            let at = v.partition_point(|&(x, _)| x < k);
            v.get(at).filter(|&&(x, _)| x == k).map(|&(_, i)| i)
        };
        find(&self.subjects, r.subject.0).or_else(|| find(&self.records, r.id))
    }
}

/// The engine's answer for one record on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The retention has expired: `action` is due, since `since`.
    Due {
        /// What to do.
        action: Action,
        /// The first day it was due.
        since: Date,
    },
    /// Keep; the next action is due on `until`.
    Keep {
        /// What will be due.
        action: Action,
        /// The day it becomes due.
        until: Date,
    },
    /// A legal hold covers the record: nothing may be erased. `due` is the
    /// day the retention expires (or expired) regardless of the hold.
    Held {
        /// Index of the hold (in the slice given to [`ActiveHolds::new`]).
        hold: u32,
        /// When the retention expires without the hold.
        due: Date,
    },
    /// A rule needs an anchor the record lacks: nothing is done; the host
    /// must supply the date (or it is not known yet, e.g. a consent that has
    /// not ended).
    MissingAnchor {
        /// The first missing anchor.
        anchor: Anchor,
    },
    /// The category has no retention rule (a lint error): nothing is done.
    NoRule,
}

impl Verdict {
    /// True if the verdict asks to erase data now (a due action other than
    /// review).
    pub fn erases(&self) -> bool {
        matches!(self, Verdict::Due { action, .. } if action.erases())
    }
}

/// One record's verdict in a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The record id.
    pub record: u64,
    /// The category.
    pub category: CategoryId,
    /// The verdict.
    pub verdict: Verdict,
}

/// A rule compiled for the hot loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompiledRule {
    pub anchor: Anchor,
    pub months: u32,
    pub days: u32,
    pub end_of_year: bool,
    pub action: Action,
    pub grounded: bool,
}

impl CompiledRule {
    #[inline]
    pub fn due(&self, anchor: Date) -> Date {
        let start = if self.end_of_year {
            anchor.end_of_year()
        } else {
            anchor
        };
        start.add_months_days(self.months, self.days)
    }
}

/// Rules per category, flat.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub rules: Vec<CompiledRule>,
    /// `(start, end)` into `rules`, per category index.
    pub ranges: Vec<(u32, u32)>,
}

impl Compiled {
    pub fn build(p: &Policy) -> Self {
        let mut c = Compiled::default();
        for cat in &p.categories {
            let start = u32::try_from(c.rules.len()).unwrap_or(u32::MAX);
            for r in p.rules.iter().filter(|r| r.category == cat.id) {
                c.rules.push(CompiledRule {
                    anchor: r.from,
                    months: r.period.total_months(),
                    days: u32::from(r.period.days),
                    end_of_year: r.end_of_year,
                    action: r.action,
                    grounded: r.ground.is_some(),
                });
            }
            let end = u32::try_from(c.rules.len()).unwrap_or(u32::MAX);
            c.ranges.push((start, end));
        }
        c
    }

    #[inline]
    pub fn rules_of(&self, cat: CategoryId) -> &[CompiledRule] {
        match self.ranges.get(usize::from(cat.0)) {
            Some(&(s, e)) => self.rules.get(s as usize..e as usize).unwrap_or(&[]),
            None => &[],
        }
    }
}

/// Longest-wins over `rules`: the due date and the action of the rule that
/// expires last (the first such rule on ties), or the first missing anchor.
#[inline]
pub(crate) fn longest(
    rules: &[CompiledRule],
    anchors: &Anchors,
) -> Result<Option<(Date, Action)>, Anchor> {
    let mut best: Option<(Date, Action)> = None;
    for rule in rules {
        let Some(a) = anchors.get(rule.anchor) else {
            return Err(rule.anchor);
        };
        let due = rule.due(a);
        if best.is_none_or(|(d, _)| due > d) {
            best = Some((due, rule.action));
        }
    }
    Ok(best)
}

impl Policy {
    /// The id of category `id`, for building [`Record`]s.
    pub fn category_id(&self, id: &str) -> Option<CategoryId> {
        self.categories
            .iter()
            .position(|c| c.id == id)
            .and_then(|i| u16::try_from(i).ok())
            .map(CategoryId)
    }

    /// The category id string of `id`.
    pub fn category_name(&self, id: CategoryId) -> Option<&str> {
        self.categories
            .get(usize::from(id.0))
            .map(|c| c.id.as_str())
    }

    /// The verdict for one record on `today`.
    ///
    /// Several rules on one category combine longest-wins. A record whose
    /// rule needs a missing anchor is never erased; a record under a hold is
    /// never erased.
    ///
    /// ```
    /// use caduceus_core::retention::*;
    /// let policy = Policy::parse(DEFAULT_POLICY).unwrap();
    /// let cat = policy.category_id("patient-record").unwrap();
    /// let ended: Date = "2016-06-30".parse().unwrap();
    /// let record = Record {
    ///     id: 1, subject: SubjectKey::of("p-7f3a91"), category: cat,
    ///     anchors: Anchors::created(ended).with(Anchor::EndOfTreatment, ended),
    /// };
    /// let none = ActiveHolds::default();
    /// let v = policy.evaluate(&record, "2026-12-31".parse().unwrap(), &none);
    /// assert!(matches!(v, Verdict::Keep { until, .. } if until.to_string() == "2027-01-01"));
    /// let v = policy.evaluate(&record, "2027-01-01".parse().unwrap(), &none);
    /// assert!(v.erases());
    /// ```
    #[inline]
    pub fn evaluate(&self, record: &Record, today: Date, holds: &ActiveHolds) -> Verdict {
        let rules = self.compiled.rules_of(record.category);
        let (due, action) = match longest(rules, &record.anchors) {
            Err(anchor) => return Verdict::MissingAnchor { anchor },
            Ok(None) => return Verdict::NoRule,
            Ok(Some(x)) => x,
        };
        if let Some(hold) = holds.covering(record) {
            return Verdict::Held { hold, due };
        }
        if today >= due {
            Verdict::Due { action, since: due }
        } else {
            Verdict::Keep { action, until: due }
        }
    }

    /// Evaluate every record on `today`, appending one [`Outcome`] per record
    /// to `out` (reserve it once and reuse it: the loop allocates nothing
    /// else).
    pub fn sweep_into(
        &self,
        records: &[Record],
        today: Date,
        holds: &ActiveHolds,
        out: &mut Vec<Outcome>,
    ) {
        out.reserve(records.len());
        out.extend(records.iter().map(|r| Outcome {
            record: r.id,
            category: r.category,
            verdict: self.evaluate(r, today, holds),
        }));
    }

    /// Evaluate every record on `today` with `holds`, and summarise.
    pub fn sweep(&self, records: &[Record], today: Date, holds: &[Hold]) -> SweepReport {
        let active = ActiveHolds::new(holds, today);
        let mut outcomes = Vec::with_capacity(records.len());
        self.sweep_into(records, today, &active, &mut outcomes);
        let mut report = SweepReport {
            today,
            outcomes,
            ..SweepReport::default()
        };
        for o in &report.outcomes {
            match o.verdict {
                Verdict::Due { .. } => report.due += 1,
                Verdict::Keep { .. } => report.kept += 1,
                Verdict::Held { .. } => report.held += 1,
                Verdict::MissingAnchor { .. } | Verdict::NoRule => report.unresolved += 1,
            }
        }
        report
    }
}

/// The result of [`Policy::sweep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The day swept.
    pub today: Date,
    /// One outcome per record, in input order.
    pub outcomes: Vec<Outcome>,
    /// Records with an action due.
    pub due: usize,
    /// Records kept, with a next due date.
    pub kept: usize,
    /// Records under a legal hold.
    pub held: usize,
    /// Records with a missing anchor or without a rule.
    pub unresolved: usize,
}

impl Default for SweepReport {
    fn default() -> Self {
        Self {
            today: Date::from_days(0),
            outcomes: Vec::new(),
            due: 0,
            kept: 0,
            held: 0,
            unresolved: 0,
        }
    }
}
