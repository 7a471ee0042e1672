//! Erasure requests (Art. 17 GDPR): per category, erase now or keep with the
//! Art. 17(3) ground and the date of erasure, restriction (Art. 18)
//! meanwhile, and the answer deadline (Art. 12(3)).

use serde_json::{Value, json};

use super::date::{Date, format_unix};
use super::engine::{ActiveHolds, Hold, Record, SubjectKey, longest};
use super::policy::{Action, Anchor, Ground, Policy};
use super::sources::cited_sources;

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The subject pseudonym is not a valid label.
    #[error("the subject must be a pseudonym of 1 to 128 printable ASCII characters")]
    BadSubject,
    /// A record given belongs to another subject.
    #[error("record {0} belongs to another subject; pass only the requesting subject's records")]
    OtherSubject(u64),
    /// A record's category is not in the policy.
    #[error("record {0} has a category the policy does not define")]
    UnknownCategory(u64),
}

/// The deadline for answering a data-subject request received at
/// `received_at` (Unix seconds): the end of the same-numbered day of the
/// next month in Europe/Berlin (Art. 12(3) GDPR, counted as §§ 187 (1),
/// 188 (2), (3) BGB), or `promise_hours` after receipt if that is earlier.
/// Returns the deadline (Unix seconds) and which rule gave it.
///
/// ```
/// use caduceus_core::retention::answer_deadline;
/// // Received 31 January 2026 10:00 UTC: the month ends with 28 February,
/// // i.e. 1 March 2026 00:00 CET = 2026-02-28T23:00:00Z.
/// let (deadline, _) = answer_deadline(1_769_853_600, None);
/// assert_eq!(deadline, 1_772_319_600);
/// let (deadline, basis) = answer_deadline(1_769_853_600, Some(72));
/// assert_eq!(deadline, 1_769_853_600 + 72 * 3600);
/// assert_eq!(basis, "practice promise (72 hours)");
/// ```
pub fn answer_deadline(received_at: i64, promise_hours: Option<u32>) -> (i64, String) {
    let day = Date::from_unix_berlin(received_at);
    let legal = day.add_months_clamped(1).next_day().berlin_start_unix();
    match promise_hours {
        Some(h) if received_at.saturating_add(i64::from(h) * 3600) < legal => (
            received_at.saturating_add(i64::from(h) * 3600),
            format!("practice promise ({h} hours)"),
        ),
        _ => (legal, "Art. 12(3) GDPR (one month)".to_owned()),
    }
}

/// What happens to one category of the subject's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryErasure {
    /// Category id.
    pub category: String,
    /// Records erased now.
    pub erase_now: Vec<u64>,
    /// How they are erased.
    pub method: Action,
    /// True if the whole subject-category key is shredded (every record of
    /// the category is erased now and the action is shred-key).
    pub shred_key: bool,
    /// Records kept under an Art. 17(3) ground: (record, erase on; `None`
    /// while an anchor is not known yet, with the anchor).
    pub keep: Vec<(u64, Option<Date>, Option<Anchor>)>,
    /// The ground the kept records are kept under.
    pub ground: Option<Ground>,
    /// The legal source of the deciding rule.
    pub source: Option<String>,
    /// Records under a legal hold: (record, hold reason).
    pub held: Vec<(u64, String)>,
}

impl CategoryErasure {
    /// The latest known erasure date of the kept records.
    pub fn keep_until(&self) -> Option<Date> {
        self.keep.iter().filter_map(|k| k.1).max()
    }
}

/// An erasure plan for one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasurePlan {
    /// The subject pseudonym.
    pub subject: String,
    /// When the request was received (Unix seconds).
    pub received_at: i64,
    /// The day the plan was evaluated for (the day of receipt, Europe/Berlin).
    pub day: Date,
    /// Answer deadline (Unix seconds) and its basis.
    pub deadline: (i64, String),
    /// Per category, in policy order.
    pub categories: Vec<CategoryErasure>,
    /// The policy hash the plan was computed with.
    pub policy_hash: String,
    /// Policy id and version.
    pub policy_version: (String, String),
}

impl Policy {
    /// Plan the erasure of `subject`'s data (Art. 17), requested at
    /// `received_at` (Unix seconds). `records` are the subject's records;
    /// `holds` the legal holds.
    ///
    /// Per category, a record is kept if a rule with an Art. 17(3) ground
    /// has not expired yet on the day of receipt (or its anchor is not known
    /// yet), or a hold covers it; otherwise it is erased now. Rules without a
    /// ground (a practice's own choice, such as 3 years for chats) yield to
    /// the request.
    pub fn plan_erasure(
        &self,
        subject: &str,
        received_at: i64,
        records: &[Record],
        holds: &[Hold],
    ) -> Result<ErasurePlan, PlanError> {
        if crate::label::check(subject).is_err() {
            return Err(PlanError::BadSubject);
        }
        let key = SubjectKey::of(subject);
        let day = Date::from_unix_berlin(received_at);
        let active = ActiveHolds::new(holds, day);
        let mut cats: Vec<CategoryErasure> = Vec::new();
        for r in records {
            if r.subject != key {
                return Err(PlanError::OtherSubject(r.id));
            }
            let cat = self
                .categories
                .get(usize::from(r.category.0))
                .ok_or(PlanError::UnknownCategory(r.id))?;
            let rules = self.compiled.rules_of(r.category);
            let grounded: Vec<_> = rules.iter().copied().filter(|x| x.grounded).collect();
            let method = rules.first().map_or(Action::DeleteRecord, |x| x.action);
            let entry = match cats.iter().position(|c| c.category == cat.id) {
                Some(i) => i,
                None => {
                    cats.push(CategoryErasure {
                        category: cat.id.clone(),
                        erase_now: vec![],
                        method: if method.erases() {
                            method
                        } else {
                            Action::DeleteRecord
                        },
                        shred_key: false,
                        keep: vec![],
                        ground: None,
                        source: None,
                        held: vec![],
                    });
                    cats.len() - 1
                }
            };
            let Some(e) = cats.get_mut(entry) else {
                continue;
            };
            if let Some(h) = active.covering(r) {
                let reason = holds
                    .get(h as usize)
                    .map(|h| h.reason.clone())
                    .unwrap_or_default();
                e.held.push((r.id, reason));
                continue;
            }
            match longest(&grounded, &r.anchors) {
                Ok(Some((due, _))) if due > day => e.keep.push((r.id, Some(due), None)),
                Ok(_) => e.erase_now.push(r.id),
                Err(anchor) => e.keep.push((r.id, None, Some(anchor))),
            }
        }
        for e in &mut cats {
            if !e.keep.is_empty() {
                // The ground and source of the grounded rule that expires last.
                let rule = self
                    .rules_of(&e.category)
                    .filter(|r| r.ground.is_some())
                    .max_by_key(|r| super::lint::nominal_days(r));
                e.ground = rule.and_then(|r| r.ground);
                e.source = rule.map(|r| r.source.clone());
            }
            e.shred_key = e.method == Action::ShredKey
                && !e.erase_now.is_empty()
                && e.keep.is_empty()
                && e.held.is_empty();
            if e.method == Action::ShredKey && !e.shred_key {
                // Other records of the category stay: erase records one by one.
                e.method = Action::DeleteRecord;
            }
        }
        let order = |c: &CategoryErasure| self.category_id(&c.category).map_or(u16::MAX, |x| x.0);
        cats.sort_by_key(order);
        Ok(ErasurePlan {
            subject: subject.to_owned(),
            received_at,
            day,
            deadline: answer_deadline(received_at, self.meta.answer_promise_hours),
            categories: cats,
            policy_hash: self.hash_hex(),
            policy_version: (self.meta.id.clone(), self.meta.version.clone()),
        })
    }
}

impl ErasurePlan {
    /// The plan as JSON for the host to execute.
    pub fn to_json(&self, policy: &Policy) -> Value {
        let cats: Vec<Value> = self
            .categories
            .iter()
            .map(|c| {
                json!({
                    "category": c.category,
                    "decision": if c.keep.is_empty() && c.held.is_empty() { "erase-now" }
                                else if c.erase_now.is_empty() { "keep" } else { "partly-keep" },
                    "erase-now": {"records": c.erase_now, "method": c.method.name(), "shred-key": c.shred_key},
                    "keep": c.keep.iter().map(|(id, d, a)| json!({
                        "record": id, "erase-on": d, "waiting-for": a.map(Anchor::name)})).collect::<Vec<_>>(),
                    "ground": c.ground.map(|g| json!({"id": g.name(), "article": g.article()})),
                    "source": c.source,
                    "restrict-processing": !c.keep.is_empty() || !c.held.is_empty(),
                    "held": c.held.iter().map(|(id, reason)| json!({"record": id, "reason": reason})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "kind": "caduceus-erasure-plan/1",
            "policy": {"id": self.policy_version.0, "version": self.policy_version.1, "hash": self.policy_hash},
            "subject": self.subject,
            "received-at": format_unix(self.received_at),
            "evaluated-for": self.day,
            "answer-deadline": format_unix(self.deadline.0),
            "deadline-basis": self.deadline.1,
            "categories": cats,
            "text": {"de": self.text_de(policy), "en": self.text_en(policy)},
        })
    }

    /// A plain-language English answer to the patient.
    pub fn text_en(&self, policy: &Policy) -> String {
        let mut s = format!(
            "Your request to erase your data (Art. 17 GDPR), received on {}:\n",
            self.day
        );
        for c in &self.categories {
            let name = policy
                .category(&c.category)
                .map_or(c.category.as_str(), |x| x.name.as_str());
            if !c.erase_now.is_empty() {
                let n = c.erase_now.len();
                s.push_str(&format!(
                    "- {name}: {} {} erased now.\n",
                    english_items(n),
                    plural(n, "is", "are")
                ));
            }
            if !c.keep.is_empty() {
                let when = match c.keep_until() {
                    Some(d) if c.keep.iter().all(|k| k.1.is_some()) => {
                        format!("until {d} at the latest")
                    }
                    _ => {
                        "for as long as the law requires (the end date is not known yet)".to_owned()
                    }
                };
                let reason = c.ground.map_or("the law requires it", Ground::english);
                let n = c.keep.len();
                s.push_str(&format!(
                    "- {name}: {} {} kept {when}, because {reason} ({}{}). Until then we use {} for nothing else (restriction of processing, Art. 18 GDPR); then {} erased.\n",
                    english_items(n),
                    plural(n, "is", "are"),
                    c.ground.map_or("Art. 17(3) GDPR", Ground::article),
                    c.source.as_deref().map(|x| format!("; {x}")).unwrap_or_default(),
                    plural(n, "it", "them"),
                    plural(n, "it is", "they are"),
                ));
            }
            if !c.held.is_empty() {
                let n = c.held.len();
                s.push_str(&format!(
                    "- {name}: {} must be kept for a pending legal matter (Art. 17(3)(e) GDPR) and {} erased when it ends; until then processing is restricted (Art. 18 GDPR).\n",
                    english_items(n),
                    plural(n, "is", "are"),
                ));
            }
        }
        if self.categories.is_empty() {
            s.push_str("- We hold no data about you in this system.\n");
        }
        s.push_str(&format!(
            "Erased messages and images become unreadable in our backups as well, because their key is destroyed.\nPolicy {} version {} ({}).\n",
            self.policy_version.0, self.policy_version.1, self.policy_hash
        ));
        s
    }

    /// A plain-language German answer to the patient: singular and plural
    /// agree with the number of entries, subordinate clauses end in their
    /// verb, and the legal sources are cited in German (DSGVO), without the
    /// policy's English `source` text.
    pub fn text_de(&self, policy: &Policy) -> String {
        let mut s = format!(
            "Ihr Antrag auf Löschung Ihrer Daten (Art. 17 DSGVO), eingegangen am {}:\n",
            self.day.to_german()
        );
        for c in &self.categories {
            let name = policy
                .category(&c.category)
                .map_or(c.category.as_str(), |x| x.name_de.as_str());
            if !c.erase_now.is_empty() {
                let n = c.erase_now.len();
                s.push_str(&format!(
                    "- {name}: {} {} jetzt gelöscht.\n",
                    german_entries(n),
                    plural(n, "wird", "werden")
                ));
            }
            if !c.keep.is_empty() {
                let n = c.keep.len();
                let when = match c.keep_until() {
                    Some(d) if c.keep.iter().all(|k| k.1.is_some()) => {
                        format!("längstens bis zum {}", d.to_german())
                    }
                    _ => {
                        "so lange, wie das Gesetz es verlangt (das Enddatum steht noch nicht fest)"
                            .to_owned()
                    }
                };
                let reason = c.ground.map_or("das Gesetz es verlangt", Ground::german);
                let article = c.ground.map_or("Art. 17 Abs. 3 DSGVO", |g| match g {
                    Ground::TaxLaw => "Art. 17 Abs. 3 lit. b DSGVO",
                    Ground::LegalClaims => "Art. 17 Abs. 3 lit. e DSGVO",
                    _ => "Art. 17 Abs. 3 lit. b, c DSGVO",
                });
                let laws: Vec<String> = c
                    .source
                    .as_deref()
                    .map(cited_sources)
                    .map(|k| k.known.iter().map(|l| l.citation_de()).collect())
                    .unwrap_or_default();
                let laws = if laws.is_empty() {
                    String::new()
                } else {
                    format!("; {}", laws.join("; "))
                };
                s.push_str(&format!(
                    "- {name}: {} {} {when} gespeichert, weil {reason} ({article}{laws}). Bis dahin {} für nichts anderes genutzt (Einschränkung der Verarbeitung, Art. 18 DSGVO); danach {} gelöscht.\n",
                    german_entries(n),
                    plural(n, "bleibt", "bleiben"),
                    plural(n, "wird er", "werden sie"),
                    plural(n, "wird er", "werden sie"),
                ));
            }
            if !c.held.is_empty() {
                let n = c.held.len();
                s.push_str(&format!(
                    "- {name}: {} {} wegen eines laufenden Rechtsverfahrens aufbewahrt werden (Art. 17 Abs. 3 lit. e DSGVO) und {} danach gelöscht; bis dahin ist die Verarbeitung eingeschränkt (Art. 18 DSGVO).\n",
                    german_entries(n),
                    plural(n, "muss", "müssen"),
                    plural(n, "wird", "werden"),
                ));
            }
        }
        if self.categories.is_empty() {
            s.push_str("- In diesem System sind keine Daten zu Ihrer Person gespeichert.\n");
        }
        s.push_str(&format!(
            "Gelöschte Nachrichten und Bilder werden auch in unseren Sicherungen unlesbar, weil ihr Schlüssel vernichtet wird.\nRichtlinie {} Version {} ({}).\n",
            self.policy_version.0, self.policy_version.1, self.policy_hash
        ));
        s
    }
}

/// `one` for a count of 1, else `many`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `1 Eintrag`, `2 Einträge`: a count of entries in German.
pub(crate) fn german_entries(n: usize) -> String {
    format!("{n} {}", plural(n, "Eintrag", "Einträge"))
}

/// `1 item`, `2 items`: a count of entries in English.
pub(crate) fn english_items(n: usize) -> String {
    format!("{n} {}", plural(n, "item", "items"))
}

/// The Art. 33 breach notification clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreachClock {
    /// When the controller became aware of the breach (Unix seconds).
    pub detected_at: i64,
    /// The notification deadline: 72 hours later (Unix seconds).
    pub deadline: i64,
}

/// Hours the supervisory authority must be notified within (Art. 33(1)).
pub const BREACH_NOTIFICATION_HOURS: i64 = 72;

impl BreachClock {
    /// The clock for a breach detected at `detected_at` (Unix seconds).
    ///
    /// ```
    /// use caduceus_core::retention::BreachClock;
    /// let clock = BreachClock::start(1_767_225_600); // 2026-01-01T00:00:00Z
    /// assert_eq!(clock.deadline, 1_767_225_600 + 72 * 3600);
    /// assert_eq!(clock.seconds_left(1_767_225_600 + 3600), 71 * 3600);
    /// ```
    pub fn start(detected_at: i64) -> Self {
        Self {
            detected_at,
            deadline: detected_at.saturating_add(BREACH_NOTIFICATION_HOURS * 3600),
        }
    }

    /// Seconds left at `now` (negative once overdue).
    pub fn seconds_left(&self, now: i64) -> i64 {
        self.deadline.saturating_sub(now)
    }

    /// The clock as JSON, with the state at `now`.
    pub fn to_json(&self, now: Option<i64>) -> Value {
        let left = now.map(|n| self.seconds_left(n));
        json!({
            "kind": "caduceus-breach-clock/1",
            "detected-at": format_unix(self.detected_at),
            "deadline": format_unix(self.deadline),
            "deadline-berlin-day": Date::from_unix_berlin(self.deadline),
            "basis": "Art. 33(1) GDPR: notify the supervisory authority without undue delay and where feasible within 72 hours of becoming aware; a later notification must give the reasons for the delay",
            "now": now.map(format_unix),
            "seconds-left": left,
            "overdue": left.map(|l| l <= 0),
        })
    }
}
