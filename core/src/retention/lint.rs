//! `policy lint`: findings about a valid policy that is legally or
//! technically questionable, each with a severity, a location and the fix.

use std::collections::BTreeSet;

use serde::Serialize;

use super::date::Period;
use super::policy::{Art6, EEA, Location, Policy, Rule};
use super::sources::cited_sources;
use crate::consent::{ConsentPolicy, LegalBasis};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy must not be used like this.
    Error,
    /// Probably wrong; check it.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code, e.g. `art9-missing` (listed in docs/POLICY.md).
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Where in the policy.
    pub location: Location,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

impl core::fmt::Display for Finding {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}:{}: {} [{}]: {} (fix: {})",
            self.location.line,
            self.location.column,
            self.severity.name(),
            self.code,
            self.message,
            self.fix
        )
    }
}

/// The nominal length of a rule in days, for comparing rules with one
/// another: 365 per year, 30 per month, the days, and 365 more for a rule
/// that runs from the end of the calendar year.
pub fn nominal_days(rule: &Rule) -> u32 {
    nominal(rule.period, rule.end_of_year)
}

/// The nominal length in days of `period`, counted from the end of the
/// calendar year when `end_of_year` is set (see [`nominal_days`]).
pub(crate) fn nominal(period: Period, end_of_year: bool) -> u32 {
    u32::from(period.years) * 365
        + u32::from(period.months) * 30
        + u32::from(period.days)
        + if end_of_year { 365 } else { 0 }
}

/// Check a policy against the default consent policy (the standard purposes'
/// bases, [`crate::consent::STANDARD_PURPOSES`]): [`lint_with_consent`] with
/// [`ConsentPolicy::default`]. Findings are sorted by location. A policy
/// without error findings is fit to use.
///
/// ```
/// use caduceus_core::retention::{Policy, Severity, lint, DEFAULT_POLICY};
/// let policy = Policy::parse(DEFAULT_POLICY).unwrap();
/// assert!(lint(&policy).iter().all(|f| f.severity != Severity::Error));
/// ```
pub fn lint(p: &Policy) -> Vec<Finding> {
    lint_with_consent(p, &ConsentPolicy::default())
}

/// `Art. 6(1)(a) GDPR + Art. 9(2)(a) GDPR`, the retention policy's spelling.
fn basis_text(art6: char, art9: Option<char>) -> String {
    match art9 {
        None => format!("Art. 6(1)({art6}) GDPR"),
        Some(c) => format!("Art. 6(1)({art6}) GDPR + Art. 9(2)({c}) GDPR"),
    }
}

fn letters(b: LegalBasis) -> (char, Option<char>) {
    (b.art6.letter(), b.art9.map(|c| c.letter()))
}

/// Check a policy, and its register entries against `consent`, the consent
/// policy the practice's ledger decides with: an activity that names a
/// `consent-purpose` must state, as `art6` / `art9`, the basis the consent
/// engine relies on for it (consent, or its configured alternative).
pub fn lint_with_consent(p: &Policy, consent: &ConsentPolicy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |code, severity, location, message: String, fix: String| {
        out.push(Finding {
            code,
            severity,
            location,
            message,
            fix,
        });
    };

    // Activities: Art. 9 conditions and marketing consent.
    for a in &p.activities {
        let special: Vec<&str> = a
            .categories
            .iter()
            .filter(|c| p.category(c).is_some_and(|c| c.special))
            .map(String::as_str)
            .collect();
        if !special.is_empty() && a.art9.is_none() {
            push(
                "art9-missing",
                Severity::Error,
                a.location,
                format!(
                    "activity '{}' processes health data ({}) without an Art. 9(2) condition",
                    a.id,
                    special.join(", ")
                ),
                "add art9 = \"a\" (explicit consent) or \"h\" (health care, with § 22 (1) 1 b BDSG), or remove the category".into(),
            );
        }
        let marketing = a.marketing || a.purpose.to_ascii_lowercase().contains("marketing");
        if marketing && a.art6 != super::policy::Art6::A {
            push(
                "marketing-without-consent",
                Severity::Error,
                a.location,
                format!(
                    "activity '{}' is marketing but rests on {}, not on consent",
                    a.id,
                    a.art6.citation()
                ),
                "use art6 = \"a\" (consent, § 7 (2) UWG for messages) in its own activity; marketing never rides on treatment consent".into(),
            );
        }
    }

    // Activities against the consent engine: one basis per purpose.
    for a in &p.activities {
        let stated = (a.art6.letter(), a.art9.map(|x| x.letter()));
        let Some(id) = &a.consent_purpose else {
            if a.art6 == Art6::A {
                push(
                    "consent-purpose-missing",
                    Severity::Warning,
                    a.location,
                    format!(
                        "activity '{}' rests on consent but names no consent-purpose, so its basis cannot be checked against the consent engine",
                        a.id
                    ),
                    "add consent-purpose = \"...\" naming the purpose of the consent policy whose consent it relies on".into(),
                );
            }
            continue;
        };
        let Some(cfg) = consent.purposes.iter().find(|c| &c.id == id) else {
            push(
                "consent-purpose-unknown",
                Severity::Error,
                a.location,
                format!(
                    "activity '{}' names consent-purpose '{id}', which the consent policy does not have",
                    a.id
                ),
                "use a purpose id of the consent policy (caduceus consent default-policy lists the defaults)".into(),
            );
            continue;
        };
        let engine: Vec<(char, Option<char>)> = std::iter::once(cfg.consent_basis())
            .chain(cfg.alternative)
            .map(letters)
            .collect();
        if !engine.contains(&stated) {
            let engine_text: Vec<String> =
                engine.iter().map(|(a6, a9)| basis_text(*a6, *a9)).collect();
            push(
                "basis-contradicts-consent",
                Severity::Error,
                a.location,
                format!(
                    "activity '{}' states {} in the register, but the consent engine decides purpose '{id}' on {}",
                    a.id,
                    basis_text(stated.0, stated.1),
                    engine_text.join(" or ")
                ),
                format!(
                    "state the basis the engine uses (art6 = \"{}\"{}), or configure that basis as the purpose's alternative in the consent policy",
                    engine.first().map_or('a', |b| b.0),
                    engine
                        .first()
                        .and_then(|b| b.1)
                        .map(|c| format!(", art9 = \"{c}\""))
                        .unwrap_or_default()
                ),
            );
        }
    }

    // Rules: the statutory minimum of the law each cites.
    for r in &p.rules {
        let cited = cited_sources(&r.source);
        if let Some((law, m)) = cited.minimum()
            && nominal_days(r) < m.nominal_days()
        {
            push(
                "retention-below-statutory-minimum",
                Severity::Error,
                r.location,
                format!(
                    "the rule on '{}' keeps {}, but it cites {}, which requires at least {} ({})",
                    r.category,
                    r.describe(),
                    law.citation(),
                    m.describe(),
                    law.rule
                ),
                "lengthen the rule to at least the statutory period, or cite the law that really applies".into(),
            );
        }
        if !cited.unknown.is_empty() {
            push(
                "source-unknown",
                Severity::Warning,
                r.location,
                format!(
                    "the rule on '{}' cites {} the linter does not know ({}), so its period cannot be checked against a statutory minimum",
                    r.category,
                    if cited.unknown.len() == 1 { "a source" } else { "sources" },
                    cited.unknown.join("; ")
                ),
                "check the period against the law yourself; the sources the linter knows are listed in docs/POLICY.md, section 5.1".into(),
            );
        }
    }

    // Categories: missing, unbounded and contradicting retention.
    let mut kept_forever = BTreeSet::new();
    for c in &p.categories {
        let rules: Vec<&Rule> = p.rules_of(&c.id).collect();
        if rules.is_empty() {
            push(
                "retention-missing",
                Severity::Error,
                c.location,
                format!("category '{}' has no retention rule", c.id),
                format!(
                    "add a [[retention]] table with category = \"{}\", a duration, an anchor (from) and an action",
                    c.id
                ),
            );
            continue;
        }
        if rules.iter().all(|r| !r.action.erases()) {
            kept_forever.insert(c.id.as_str());
            push(
                "retention-unbounded",
                Severity::Error,
                rules.first().map_or(c.location, |r| r.location),
                format!(
                    "category '{}' is never erased: every rule ends in review",
                    c.id
                ),
                "give the rule that decides an erasing action (shred-key, delete-record or anonymise)".into(),
            );
        }
        if let Some(first) = rules.first() {
            for r in rules.iter().skip(1) {
                if r.action != first.action {
                    push(
                        "contradicting-rules",
                        Severity::Error,
                        r.action_location,
                        format!(
                            "rules on category '{}' disagree on the action at expiry: {} (line {}) and {} (line {})",
                            c.id,
                            first.action.name(),
                            first.location.line,
                            r.action.name(),
                            r.location.line
                        ),
                        "use one action for all rules of a category (the longest rule decides when, not what)".into(),
                    );
                }
            }
        }
        for (i, r) in rules.iter().enumerate() {
            for s in rules.iter().skip(i + 1) {
                if r.from == s.from && r.end_of_year == s.end_of_year && r.period == s.period {
                    push(
                        "duplicate-rule",
                        Severity::Warning,
                        s.location,
                        format!(
                            "this rule on '{}' repeats the rule at line {}",
                            c.id, r.location.line
                        ),
                        "remove one of them, or cite both sources in one rule".into(),
                    );
                }
            }
        }
        if !p.activities.iter().any(|a| a.categories.contains(&c.id)) {
            push(
                "category-unused",
                Severity::Warning,
                c.location,
                format!("no activity processes category '{}'", c.id),
                "list it in the categories of the activity that processes it, so the register shows it".into(),
            );
        }
    }

    // Third-country processors.
    for pr in &p.processors {
        if !EEA.contains(&pr.country.as_str()) && pr.transfer.is_none() {
            push(
                "transfer-missing",
                Severity::Error,
                pr.location,
                format!(
                    "processor '{}' processes in a third country ({}) without a transfer mechanism",
                    pr.id, pr.country
                ),
                "add transfer = \"...\": an adequacy decision (Art. 45, e.g. EU-US Data Privacy Framework) or standard contractual clauses (Art. 46(2)(c)) with a transfer impact assessment".into(),
            );
        }
    }

    // Audit retention.
    match &p.meta.audit_category {
        None => push(
            "audit-category-missing",
            Severity::Warning,
            p.meta.location,
            "no audit-category: the engine cannot check that the audit log outlives what it proves".into(),
            "set audit-category = \"audit-log\" in [policy] and give that category a retention rule".into(),
        ),
        Some(audit) => {
            let audit_len = p.rules_of(audit).map(nominal_days).max().unwrap_or(0);
            let proves: Vec<&str> = match &p.meta.audit_proves {
                Some(v) => v.iter().map(String::as_str).collect(),
                None => p
                    .categories
                    .iter()
                    .map(|c| c.id.as_str())
                    .filter(|c| c != audit)
                    .collect(),
            };
            let longest = p
                .rules
                .iter()
                .filter(|r| proves.contains(&r.category.as_str()))
                .max_by_key(|r| nominal_days(r));
            if let Some(l) = longest
                && audit_len < nominal_days(l)
                && !kept_forever.contains(audit.as_str())
            {
                let loc = p.rules_of(audit).next().map_or(p.meta.location, |r| r.location);
                push(
                    "audit-too-short",
                    Severity::Error,
                    loc,
                    format!(
                        "the audit log ('{}') is kept shorter than the longest retention it must prove: '{}' ({}, line {})",
                        audit,
                        l.category,
                        l.describe(),
                        l.location.line
                    ),
                    "lengthen the audit rule, or narrow audit-proves to the categories the log really has to prove".into(),
                );
            }
        }
    }

    // Roles.
    for r in &p.roles {
        if r.clinical {
            continue;
        }
        for (i, c) in r.read.iter().enumerate() {
            if p.category(c).is_some_and(|c| c.clinical) {
                push(
                    "non-clinical-reads-clinical",
                    Severity::Error,
                    r.read_locations.get(i).copied().unwrap_or(r.location),
                    format!(
                        "non-clinical role '{}' can read clinical category '{}'",
                        r.id, c
                    ),
                    "remove the category from its read list, or mark the role clinical = true if it is one (E4: roles are separated)".into(),
                );
            }
        }
    }

    out.sort_by(|a, b| a.location.cmp(&b.location).then(a.code.cmp(b.code)));
    out
}
