//! JSON interchange for record metadata, holds and sweep reports (what the
//! CLI reads and writes; a host linking the library builds [`Record`]s
//! directly).

use serde::Deserialize;
use serde_json::{Value, json};

use super::date::Date;
use super::engine::{Anchors, Hold, HoldScope, Record, SubjectKey, SweepReport, Verdict};
use super::policy::{Anchor, Policy};

/// Why record or hold metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// Not valid JSON of the expected shape.
    #[error("{what} JSON line {line}, column {column}: {message}")]
    Json {
        /// `records` or `holds`.
        what: &'static str,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// An entry is well formed but refers to something unknown or is
    /// inconsistent.
    #[error("{what} entry {index}: {message}")]
    Invalid {
        /// `records` or `holds`.
        what: &'static str,
        /// Position in the array, from 1.
        index: usize,
        /// What was wrong and what to do.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRecord {
    id: u64,
    subject: String,
    category: String,
    created: Option<Date>,
    last_contact: Option<Date>,
    end_of_treatment: Option<Date>,
    billing: Option<Date>,
    consent_end: Option<Date>,
    birth: Option<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHold {
    subject: Option<String>,
    category: Option<String>,
    record: Option<u64>,
    reason: String,
    from: Option<Date>,
    until: Option<Date>,
}

fn json_err(what: &'static str, e: &serde_json::Error) -> RecordsError {
    RecordsError::Json {
        what,
        line: e.line(),
        column: e.column(),
        // Only the kind of error: serde_json's own message quotes the
        // offending value, which may be a hold reason or other free text.
        message: match e.classify() {
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => {
                "a value has the wrong type, or a field is unknown or missing"
            }
            serde_json::error::Category::Eof => "the JSON ends too early",
            serde_json::error::Category::Io => "the JSON could not be read",
        }
        .to_owned(),
    }
}

/// A subject's records, with the pseudonyms they were given under.
#[derive(Debug, Clone, Default)]
pub struct RecordSet {
    /// The records.
    pub records: Vec<Record>,
    /// The pseudonym of each record, in the same order.
    pub subjects: Vec<String>,
}

/// Parse record metadata: a JSON array of objects with `id` (integer),
/// `subject` (pseudonym), `category` (a category id of the policy) and the
/// anchor dates `created`, `last-contact`, `end-of-treatment`, `billing`,
/// `consent-end`, `birth` (`YYYY-MM-DD`, each optional).
pub fn parse_records(policy: &Policy, json: &str) -> Result<RecordSet, RecordsError> {
    let raw: Vec<RawRecord> = serde_json::from_str(json).map_err(|e| json_err("records", &e))?;
    let mut set = RecordSet::default();
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in raw.into_iter().enumerate() {
        let invalid = |message: String| RecordsError::Invalid {
            what: "records",
            index: i + 1,
            message,
        };
        // The value is not quoted: records come from the practice's
        // database, and an error must never carry what they contain.
        let category = policy
            .category_id(&r.category)
            .ok_or_else(|| invalid("unknown category: use a category id of the policy".into()))?;
        if crate::label::check(&r.subject).is_err() {
            return Err(invalid(
                "subject must be a pseudonym of 1 to 128 printable ASCII characters".into(),
            ));
        }
        if !seen.insert(r.id) {
            return Err(invalid(format!("record id {} appears twice", r.id)));
        }
        let mut anchors = Anchors::default();
        for (a, d) in [
            (Anchor::Created, r.created),
            (Anchor::LastContact, r.last_contact),
            (Anchor::EndOfTreatment, r.end_of_treatment),
            (Anchor::Billing, r.billing),
            (Anchor::ConsentEnd, r.consent_end),
            (Anchor::Birth, r.birth),
        ] {
            anchors.set(a, d);
        }
        set.records.push(Record {
            id: r.id,
            subject: SubjectKey::of(&r.subject),
            category,
            anchors,
        });
        set.subjects.push(r.subject);
    }
    Ok(set)
}

/// Parse legal holds: a JSON array of objects with exactly one of `subject`
/// (pseudonym), `category` (category id) or `record` (record id), a
/// `reason`, and optional `from` and `until` dates (`until` exclusive).
pub fn parse_holds(policy: &Policy, json: &str) -> Result<Vec<Hold>, RecordsError> {
    let raw: Vec<RawHold> = serde_json::from_str(json).map_err(|e| json_err("holds", &e))?;
    let mut holds = Vec::with_capacity(raw.len());
    for (i, h) in raw.into_iter().enumerate() {
        let invalid = |message: String| RecordsError::Invalid {
            what: "holds",
            index: i + 1,
            message,
        };
        let scope = match (h.subject, h.category, h.record) {
            (Some(s), None, None) => HoldScope::Subject(SubjectKey::of(&s)),
            (None, Some(c), None) => {
                HoldScope::Category(policy.category_id(&c).ok_or_else(|| {
                    invalid("unknown category: use a category id of the policy".into())
                })?)
            }
            (None, None, Some(r)) => HoldScope::Record(r),
            _ => {
                return Err(invalid(
                    "give exactly one of subject, category or record".into(),
                ));
            }
        };
        if h.reason.trim().is_empty() {
            return Err(invalid(
                "a hold needs a reason (e.g. a case reference)".into(),
            ));
        }
        if let (Some(f), Some(u)) = (h.from, h.until)
            && u <= f
        {
            return Err(invalid("until must be after from".into()));
        }
        holds.push(Hold {
            scope,
            reason: h.reason,
            from: h.from,
            until: h.until,
        });
    }
    Ok(holds)
}

impl SweepReport {
    /// The report as JSON for the host: the policy hash, a summary, the
    /// actions due, the held and unresolved records, and every kept
    /// record's next due date.
    pub fn to_json(&self, policy: &Policy, holds: &[Hold]) -> Value {
        let cat = |c| policy.category_name(c).unwrap_or("?");
        let (mut due, mut held, mut unresolved, mut next) = (vec![], vec![], vec![], vec![]);
        for o in &self.outcomes {
            match o.verdict {
                Verdict::Due { action, since } => due.push(json!({
                    "record": o.record, "category": cat(o.category),
                    "action": action.name(), "since": since})),
                Verdict::Keep { action, until } => next.push(json!({
                    "record": o.record, "category": cat(o.category),
                    "action": action.name(), "due": until})),
                Verdict::Held { hold, due } => held.push(json!({
                    "record": o.record, "category": cat(o.category),
                    "reason": holds.get(hold as usize).map(|h| h.reason.as_str()),
                    "retention-expires": due})),
                Verdict::MissingAnchor { anchor } => unresolved.push(json!({
                    "record": o.record, "category": cat(o.category),
                    "missing-anchor": anchor.name(),
                    "note": "not erased: supply this date (or wait until it is known)"})),
                Verdict::NoRule => unresolved.push(json!({
                    "record": o.record, "category": cat(o.category),
                    "missing-anchor": null,
                    "note": "not erased: the category has no retention rule"})),
            }
        }
        json!({
            "kind": "caduceus-sweep/1",
            "policy": {"id": policy.meta().id, "version": policy.meta().version, "hash": policy.hash_hex()},
            "date": self.today,
            "summary": {"records": self.outcomes.len(), "due": self.due, "kept": self.kept,
                        "held": self.held, "unresolved": self.unresolved},
            "due": due, "held": held, "unresolved": unresolved, "next-due": next,
        })
    }
}
