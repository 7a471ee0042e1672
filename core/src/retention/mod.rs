//! Retention and deletion (R1-R7): the policy file, its lint, the sweep
//! that says which records are due for erasure, legal holds, erasure plans
//! (Art. 17), the answer deadline (Art. 12(3)), the breach clock (Art. 33)
//! and the register of processing activities (Art. 30), all from one policy.
//!
//! * [`Policy::parse`] reads the TOML policy (`docs/POLICY.md`); errors carry
//!   a line and column. [`DEFAULT_POLICY`] is the shipped default for German
//!   practices (`policies/de-practice.toml`).
//! * [`lint`] reports what is legally or technically questionable: among
//!   others a rule shorter than the statutory minimum of the law it cites
//!   ([`LEGAL_SOURCES`]) and a register entry whose legal basis contradicts
//!   the consent engine's ([`lint_with_consent`]).
//! * [`Policy::evaluate`] / [`Policy::sweep`] decide per record, from its
//!   metadata alone (category, anchor dates, holds), whether an action is due
//!   and when the next one will be. Rules combine longest-wins; a missing
//!   anchor or a hold always prevents erasure.
//! * [`Policy::plan_erasure`] answers an erasure request per category.
//! * [`Policy::register_markdown`] / [`Policy::register_json`] render the
//!   Art. 30 register.
//! * Every plan records [`Policy::hash_hex`], the SHA-256 of the canonical
//!   policy.
//!
//! Dates are civil dates in Europe/Berlin ([`Date`]); see its module for
//! the calendar rules. The crate reads no clock: "today" and request times
//! are parameters.
//!
//! ```
//! use caduceus_core::retention::*;
//! let policy = Policy::parse(DEFAULT_POLICY)?;
//! let xray = policy.category_id("xray-records").unwrap();
//! let record = Record {
//!     id: 7,
//!     subject: SubjectKey::of("p-child"),
//!     category: xray,
//!     anchors: Anchors::default()
//!         .with(Anchor::LastContact, "2015-05-04".parse()?)
//!         .with(Anchor::Birth, "2010-03-01".parse()?),
//! };
//! let report = policy.sweep(&[record], "2030-01-01".parse()?, &[]);
//! assert_eq!(report.kept, 1);
//! // Kept until the 28th birthday.
//! assert!(matches!(report.outcomes[0].verdict,
//!     Verdict::Keep { until, .. } if until.to_string() == "2038-03-01"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod date;
mod engine;
mod erasure;
mod lint;
mod policy;
mod records;
mod register;
mod sources;

pub use date::{Date, DateError, MAX_YEAR, MIN_YEAR, Period, berlin_offset_at, format_unix};
pub use engine::{
    ActiveHolds, Anchors, CategoryId, Hold, HoldScope, Outcome, Record, SubjectKey, SweepReport,
    Verdict,
};
pub use erasure::{
    BREACH_NOTIFICATION_HOURS, BreachClock, CategoryErasure, ErasurePlan, PlanError,
    answer_deadline,
};
pub(crate) use erasure::{english_items, german_entries};
pub use lint::{Finding, Severity, lint, lint_with_consent, nominal_days};
pub use policy::{
    ANCHOR_COUNT, Action, Activity, Anchor, Art6, Art9, Category, EEA, Ground, Location,
    MAX_CATEGORIES, MAX_PERIOD_YEARS, MAX_POLICY_LEN, MAX_POLICY_NESTING, MAX_RULES_PER_CATEGORY,
    Policy, PolicyError, PolicyMeta, Processor, Role, Rule,
};
pub use records::{RecordSet, RecordsError, parse_holds, parse_records};
pub use sources::{LEGAL_SOURCES, LegalSource, Minimum, SourceCheck, cited_sources};

/// The default policy for German medical and dental practices
/// (`policies/de-practice.toml`), each rule with its legal source.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/de-practice.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Policy>();
        assert_send_sync::<SweepReport>();
        assert_send_sync::<ErasurePlan>();
        assert_send_sync::<ActiveHolds>();
        assert_send_sync::<Finding>();
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "parsing and linting the 16 KB shipped policy takes minutes under Miri; consent::policy's TOML tests cover the toml crate there"
    )]
    fn default_policy_parses_and_lints_clean() {
        let p = Policy::parse(DEFAULT_POLICY).unwrap();
        let findings = lint(&p);
        assert!(findings.is_empty(), "{findings:#?}");
    }
}
