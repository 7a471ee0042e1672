//! The retention and access policy, erasure plans and access checks.

use std::sync::Arc;

use caduceus_core::access::{self, Operation};
use caduceus_core::retention::{self, DEFAULT_POLICY};

use crate::error::CaduceusError;

/// A parsed, validated retention and access policy (TOML, docs/POLICY.md).
#[derive(uniffi::Object)]
pub struct Policy {
    pub(crate) policy: retention::Policy,
}

/// An Art. 17 erasure plan for one subject.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ErasurePlan {
    /// Record ids to erase now, over all categories.
    pub erase_now: Vec<u64>,
    /// Record ids kept (retention periods, Art. 17(3) grounds, holds).
    pub keep: Vec<u64>,
    /// Categories whose subject-category key is to be shredded.
    pub shred_categories: Vec<String>,
    /// The answer deadline (Unix seconds).
    pub deadline: i64,
    /// The plan as `caduceus-erasure-plan/1` JSON.
    pub json: String,
    /// The letter to the patient, German.
    pub text_de: String,
    /// The letter to the patient, English.
    pub text_en: String,
}

/// The metadata-only retention sweep over a store's records.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SweepReport {
    /// Records whose retention ended: erase them (or shred their key).
    pub due: u64,
    /// Records still within their retention period.
    pub kept: u64,
    /// Records under a legal hold.
    pub held: u64,
    /// Records the policy cannot decide (a date is missing).
    pub unresolved: u64,
    /// The report as `caduceus-sweep/1` JSON, one outcome per record.
    pub json: String,
}

/// Unix seconds between 1900-01-01 and 9999-12-31 (the policy's dates).
fn check_time(t: i64) -> Result<(), CaduceusError> {
    if (-2_208_988_800..=253_402_300_799).contains(&t) {
        Ok(())
    } else {
        Err(crate::error::invalid(
            "times must be Unix seconds between 1900-01-01 and 9999-12-31",
        ))
    }
}

/// What a staff role may do with a data category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AccessOperation {
    /// Read (open) records.
    Read,
    /// Create or change records.
    Write,
    /// Export records (Art. 15/20).
    Export,
}

impl Policy {
    /// Record metadata and legal holds (JSON, docs/POLICY.md) against this
    /// policy.
    fn records_and_holds(
        &self,
        records_json: &str,
        holds_json: Option<&str>,
    ) -> Result<(retention::RecordSet, Vec<retention::Hold>), CaduceusError> {
        let set = retention::parse_records(&self.policy, records_json)?;
        let holds = match holds_json {
            Some(h) => retention::parse_holds(&self.policy, h)?,
            None => Vec::new(),
        };
        Ok((set, holds))
    }
}

#[uniffi::export]
impl Policy {
    /// The built-in German practice policy (`policies/de-practice.toml`).
    #[uniffi::constructor]
    pub fn default_policy() -> Result<Arc<Self>, CaduceusError> {
        Self::parse(DEFAULT_POLICY.to_owned())
    }

    /// Parse and validate a policy.
    #[uniffi::constructor]
    pub fn parse(toml: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Arc::new(Self {
            policy: retention::Policy::parse(&toml)?,
        }))
    }

    /// SHA-256 of the policy (hex), recorded in plans and decisions.
    pub fn hash(&self) -> String {
        self.policy.hash_hex()
    }

    /// Plan the erasure requested by `subject` at `received_at`, over the
    /// subject's record metadata (`records_json`, docs/POLICY.md "Records
    /// and holds") and legal holds (`holds_json`, optional).
    pub fn plan_erasure(
        &self,
        subject: String,
        records_json: String,
        holds_json: Option<String>,
        received_at: i64,
    ) -> Result<ErasurePlan, CaduceusError> {
        check_time(received_at)?;
        let p = &self.policy;
        let (set, holds) = self.records_and_holds(&records_json, holds_json.as_deref())?;
        let plan = p.plan_erasure(&subject, received_at, &set.records, &holds)?;
        Ok(ErasurePlan {
            erase_now: plan
                .categories
                .iter()
                .flat_map(|c| c.erase_now.iter().copied())
                .collect(),
            keep: plan
                .categories
                .iter()
                .flat_map(|c| c.keep.iter().map(|k| k.0).chain(c.held.iter().map(|h| h.0)))
                .collect(),
            shred_categories: plan
                .categories
                .iter()
                .filter(|c| c.shred_key)
                .map(|c| c.category.clone())
                .collect(),
            deadline: plan.deadline.0,
            json: plan.to_json(p).to_string(),
            text_de: plan.text_de(p),
            text_en: plan.text_en(p),
        })
    }

    /// Sweep record metadata (`records_json`, as for
    /// [`Policy::plan_erasure`]) at `at`: which records are due for
    /// deletion, kept, held or unresolved. Needs no key and no plaintext.
    pub fn sweep(
        &self,
        records_json: String,
        holds_json: Option<String>,
        at: i64,
    ) -> Result<SweepReport, CaduceusError> {
        check_time(at)?;
        let p = &self.policy;
        let (set, holds) = self.records_and_holds(&records_json, holds_json.as_deref())?;
        let report = p.sweep(&set.records, retention::Date::from_unix_berlin(at), &holds);
        Ok(SweepReport {
            due: report.due as u64,
            kept: report.kept as u64,
            held: report.held as u64,
            unresolved: report.unresolved as u64,
            json: report.to_json(p, &holds).to_string(),
        })
    }

    /// Whether `role` may perform `operation` on `category`.
    pub fn may_access(
        &self,
        role: String,
        category: String,
        operation: AccessOperation,
    ) -> Result<bool, CaduceusError> {
        let op = match operation {
            AccessOperation::Read => Operation::Read,
            AccessOperation::Write => Operation::Write,
            AccessOperation::Export => Operation::Export,
        };
        Ok(access::check(&self.policy, &role, &category, op)?.allowed)
    }

    /// The roles that may read `category` (who receives its keys).
    pub fn readers(&self, category: String) -> Result<Vec<String>, CaduceusError> {
        Ok(access::readers(&self.policy, &category)?)
    }
}
