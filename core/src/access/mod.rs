//! Access roles (E4) and the subject's right of access and portability
//! (Art. 15, 20 GDPR), from the same policy as retention.
//!
//! * [`check`] answers whether a role may read, write or export a category
//!   (the decision the audit log records).
//! * [`readers`] and [`wrap_recipients`] say who receives a wrapped copy of
//!   each subject-category key: the practice key and the staff keys of the
//!   roles that may read the category (feeding
//!   [`KeyringRecord::create`](crate::keys::KeyringRecord::create)).
//! * [`plan_access`] lists what exists for a subject, by category, with
//!   purposes, legal bases, recipients and retention, and the plan to export
//!   it (portable categories marked, Art. 20).
//!
//! ```
//! use caduceus_core::access::{self, Operation};
//! use caduceus_core::retention::{Policy, DEFAULT_POLICY};
//! let policy = Policy::parse(DEFAULT_POLICY).unwrap();
//! assert!(access::check(&policy, "doctor", "xray-records", Operation::Read).unwrap().allowed);
//! assert!(!access::check(&policy, "finance", "xray-records", Operation::Read).unwrap().allowed);
//! assert_eq!(access::readers(&policy, "clinical-photos").unwrap(), ["doctor"]);
//! ```

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::keys::PublicKey;
use crate::retention::{Art6, Date, EEA, Policy, Record, SubjectKey, answer_deadline, format_unix};

/// Why an access question could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The role is not defined in the policy.
    #[error("unknown role '{0}': use a role id of the policy ([[role]] tables)")]
    UnknownRole(String),
    /// The category is not defined in the policy.
    #[error("unknown category '{0}': use a category id of the policy ([[category]] tables)")]
    UnknownCategory(String),
    /// The subject pseudonym is not a valid label.
    #[error("the subject must be a pseudonym of 1 to 128 printable ASCII characters")]
    BadSubject,
    /// A record given belongs to another subject.
    #[error("record {0} belongs to another subject; pass only the requesting subject's records")]
    OtherSubject(u64),
}

/// What a role wants to do with a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Open and read (needs a wrapped key copy).
    Read,
    /// Create or change.
    Write,
    /// Export out of the system (e.g. for an Art. 15 answer or a referral).
    Export,
}

impl Operation {
    /// `read`, `write` or `export`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Export => "export",
        }
    }
}

/// An access decision, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDecision {
    /// Permitted or not.
    pub allowed: bool,
    /// Why, in one sentence.
    pub reason: String,
    /// The policy hash the decision was made with.
    pub policy_hash: String,
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// May `role` perform `op` on `category`? Unknown roles and categories are
/// errors, never a silent "no".
pub fn check(
    policy: &Policy,
    role: &str,
    category: &str,
    op: Operation,
) -> Result<AccessDecision, AccessError> {
    let r = policy
        .role(role)
        .ok_or_else(|| AccessError::UnknownRole(short(role)))?;
    if policy.category(category).is_none() {
        return Err(AccessError::UnknownCategory(short(category)));
    }
    let list = match op {
        Operation::Read => &r.read,
        Operation::Write => &r.write,
        Operation::Export => &r.export,
    };
    let allowed = list.iter().any(|c| c == category);
    Ok(AccessDecision {
        allowed,
        reason: format!(
            "role '{}' {} {} category '{}' under the policy",
            r.id,
            if allowed { "may" } else { "may not" },
            op.name(),
            category
        ),
        policy_hash: policy.hash_hex(),
    })
}

/// The roles that may read `category`, in policy order: the roles whose
/// staff keys receive a wrapped copy of each subject-category key.
pub fn readers(policy: &Policy, category: &str) -> Result<Vec<String>, AccessError> {
    if policy.category(category).is_none() {
        return Err(AccessError::UnknownCategory(short(category)));
    }
    Ok(policy
        .roles()
        .iter()
        .filter(|r| r.read.iter().any(|c| c == category))
        .map(|r| r.id.clone())
        .collect())
}

/// A staff key and the roles its holder has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffKey {
    /// The staff member's (or device's) public key.
    pub key: PublicKey,
    /// Role ids of the policy.
    pub roles: Vec<String>,
}

/// The recipients of a subject-category key of `category`: the practice
/// key first, then every staff key with a role that may read the category,
/// each key once. Pass the result to
/// [`KeyringRecord::create`](crate::keys::KeyringRecord::create); when roles
/// change, compare with the record's recipients and add or revoke.
pub fn wrap_recipients(
    policy: &Policy,
    category: &str,
    practice: &PublicKey,
    staff: &[StaffKey],
) -> Result<Vec<PublicKey>, AccessError> {
    let readers = readers(policy, category)?;
    let mut out = vec![*practice];
    let mut seen = BTreeSet::from([practice.key_id()]);
    for s in staff {
        for role in &s.roles {
            if policy.role(role).is_none() {
                return Err(AccessError::UnknownRole(short(role)));
            }
        }
        if s.roles.iter().any(|r| readers.contains(r)) && seen.insert(s.key.key_id()) {
            out.push(s.key);
        }
    }
    Ok(out)
}

/// One category of an access plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryAccess {
    /// Category id.
    pub category: String,
    /// The subject's records of this category.
    pub records: Vec<u64>,
    /// Earliest and latest creation date, where known.
    pub created: Option<(Date, Date)>,
    /// Whether the data falls under the right to portability (Art. 20):
    /// provided by the subject and processed on consent or contract.
    pub portable: bool,
}

/// The answer plan to an access (Art. 15) or portability (Art. 20) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPlan {
    /// The subject pseudonym.
    pub subject: String,
    /// When the request was received (Unix seconds).
    pub received_at: i64,
    /// Answer deadline (Unix seconds) and its basis.
    pub deadline: (i64, String),
    /// Per category, in policy order.
    pub categories: Vec<CategoryAccess>,
    /// The policy hash the plan was computed with.
    pub policy_hash: String,
}

/// Plan the answer to an access or portability request of `subject`
/// received at `received_at` (Unix seconds), given the subject's records.
pub fn plan_access(
    policy: &Policy,
    subject: &str,
    received_at: i64,
    records: &[Record],
) -> Result<AccessPlan, AccessError> {
    if crate::label::check(subject).is_err() {
        return Err(AccessError::BadSubject);
    }
    let key = SubjectKey::of(subject);
    let mut categories: Vec<CategoryAccess> = Vec::new();
    for r in records {
        if r.subject != key {
            return Err(AccessError::OtherSubject(r.id));
        }
        let id = policy
            .category_name(r.category)
            .ok_or_else(|| AccessError::UnknownCategory(format!("#{}", r.category.0)))?;
        let i = match categories.iter().position(|c| c.category == id) {
            Some(i) => i,
            None => {
                let cat = policy.category(id);
                let portable = cat.is_some_and(|c| c.provided_by_subject)
                    && policy.activities().iter().any(|a| {
                        a.categories.iter().any(|c| c == id) && matches!(a.art6, Art6::A | Art6::B)
                    });
                categories.push(CategoryAccess {
                    category: id.to_owned(),
                    records: vec![],
                    created: None,
                    portable,
                });
                categories.len() - 1
            }
        };
        if let Some(c) = categories.get_mut(i) {
            c.records.push(r.id);
            if let Some(d) = r.anchors.get(crate::retention::Anchor::Created) {
                c.created = Some(match c.created {
                    None => (d, d),
                    Some((a, b)) => (a.min(d), b.max(d)),
                });
            }
        }
    }
    categories.sort_by_key(|c| policy.category_id(&c.category).map_or(u16::MAX, |x| x.0));
    Ok(AccessPlan {
        subject: subject.to_owned(),
        received_at,
        deadline: answer_deadline(received_at, policy.meta().answer_promise_hours),
        categories,
        policy_hash: policy.hash_hex(),
    })
}

impl AccessPlan {
    /// The plan as JSON: per category what exists, why it is processed
    /// (purposes, legal bases), who receives it, how long it is kept, and
    /// what to export (all records, as opened plaintext in their original
    /// media types plus a JSON index; portable categories marked).
    pub fn to_json(&self, policy: &Policy) -> Value {
        let cats: Vec<Value> = self
            .categories
            .iter()
            .map(|c| {
                let acts: Vec<_> = policy
                    .activities()
                    .iter()
                    .filter(|a| a.categories.contains(&c.category))
                    .collect();
                let processors: BTreeSet<String> = acts
                    .iter()
                    .flat_map(|a| a.processors.iter())
                    .filter_map(|p| policy.processors().iter().find(|x| &x.id == p))
                    .map(|p| {
                        if EEA.contains(&p.country.as_str()) {
                            format!("{} ({})", p.name, p.country)
                        } else {
                            format!(
                                "{} ({}; transfer: {})",
                                p.name,
                                p.country,
                                p.transfer.as_deref().unwrap_or("none")
                            )
                        }
                    })
                    .collect();
                let cat = policy.category(&c.category);
                json!({
                    "category": c.category,
                    "name": cat.map(|x| x.name.as_str()),
                    "name-de": cat.map(|x| x.name_de.as_str()),
                    "count": c.records.len(),
                    "created-from": c.created.map(|x| x.0),
                    "created-to": c.created.map(|x| x.1),
                    "purposes": acts.iter().map(|a| a.purpose.as_str()).collect::<Vec<_>>(),
                    "legal-bases": acts.iter().map(|a| {
                        let mut b = a.art6.citation();
                        if let Some(x) = a.art9 { b.push_str(&format!(", {}", x.citation())); }
                        b
                    }).collect::<Vec<_>>(),
                    "recipients": processors,
                    "retention": policy.retention_text(&c.category),
                    "portable": c.portable,
                    "export": {"records": c.records,
                               "format": "original media types, with a JSON index of labels and dates (machine-readable, Art. 20(1))"},
                })
            })
            .collect();
        json!({
            "kind": "caduceus-access-plan/1",
            "policy": {"id": policy.meta().id, "version": policy.meta().version, "hash": self.policy_hash},
            "subject": self.subject,
            "received-at": format_unix(self.received_at),
            "answer-deadline": format_unix(self.deadline.0),
            "deadline-basis": self.deadline.1,
            "categories": cats,
            "text": {"de": self.text_de(policy), "en": self.text_en(policy)},
        })
    }

    /// A plain-language English cover note for the patient.
    pub fn text_en(&self, policy: &Policy) -> String {
        let mut s = String::from(
            "Your request for access to your data (Art. 15 GDPR) and a copy (Art. 20 GDPR):\n",
        );
        for c in &self.categories {
            let name = policy
                .category(&c.category)
                .map_or(c.category.as_str(), |x| x.name.as_str());
            s.push_str(&format!(
                "- {name}: {}",
                crate::retention::english_items(c.records.len())
            ));
            if let Some((a, b)) = c.created {
                s.push_str(&format!(" from {a} to {b}"));
            }
            s.push_str(if c.portable {
                "; included in the machine-readable copy.\n"
            } else {
                ".\n"
            });
        }
        if self.categories.is_empty() {
            s.push_str("- We hold no data about you in this system.\n");
        }
        s.push_str("The enclosed overview names the purposes, legal bases, recipients and retention periods of each category.\n");
        s
    }

    /// A plain-language German cover note for the patient.
    pub fn text_de(&self, policy: &Policy) -> String {
        let mut s = String::from(
            "Ihr Antrag auf Auskunft (Art. 15 DSGVO) und auf eine Kopie Ihrer Daten (Art. 20 DSGVO):\n",
        );
        for c in &self.categories {
            let name = policy
                .category(&c.category)
                .map_or(c.category.as_str(), |x| x.name_de.as_str());
            s.push_str(&format!(
                "- {name}: {}",
                crate::retention::german_entries(c.records.len())
            ));
            match c.created {
                Some((a, b)) if a == b => s.push_str(&format!(" vom {}", a.to_german())),
                Some((a, b)) => {
                    s.push_str(&format!(" vom {} bis {}", a.to_german(), b.to_german()));
                }
                None => {}
            }
            s.push_str(if c.portable {
                "; in der maschinenlesbaren Kopie enthalten.\n"
            } else {
                ".\n"
            });
        }
        if self.categories.is_empty() {
            s.push_str("- In diesem System sind keine Daten zu Ihrer Person gespeichert.\n");
        }
        s.push_str("Die beiliegende Übersicht nennt für jede Kategorie Zwecke, Rechtsgrundlagen, Empfänger und Speicherdauer.\n");
        s
    }
}
