#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Policy parsing (errors with line and column), the policy hash, and lint:
//! a deliberately bad policy yields each finding.

use caduceus_core::retention::*;

const MINIMAL: &str = r#"
[policy]
id = "t"
name = "test"
version = "1"
controller = "c"

[[category]]
id = "chat"
name = "Chat"
name-de = "Chat"

[[retention]]
category = "chat"
years = 3
from = "created"
action = "shred-key"
source = "test"
"#;

fn err(text: &str) -> PolicyError {
    Policy::parse(text).unwrap_err()
}

fn at(e: &PolicyError) -> (u32, u32) {
    (e.location().line, e.location().column)
}

#[test]
fn minimal_policy_parses() {
    let p = Policy::parse(MINIMAL).unwrap();
    assert_eq!(p.rules().len(), 1);
}

#[test]
fn bad_input_has_a_location() {
    // Malformed TOML.
    let e = err(&MINIMAL.replace("years = 3", "years = = 3"));
    assert!(matches!(e, PolicyError::Syntax { .. }));
    assert_eq!(at(&e).0, 15);
    // Unknown key.
    let e = err(&MINIMAL.replace("years = 3", "yeras = 3"));
    assert!(e.to_string().contains("yeras"), "{e}");
    assert_eq!(at(&e).0, 15);
    // Unknown category in a rule: points at the value.
    let e = err(&MINIMAL.replace("category = \"chat\"", "category = \"chats\""));
    assert_eq!(at(&e), (14, 12));
    assert!(e.to_string().contains("unknown category 'chats'"), "{e}");
    // Negative and absurd durations.
    let e = err(&MINIMAL.replace("years = 3", "years = -3"));
    assert_eq!(at(&e), (15, 9));
    assert!(e.to_string().contains("negative years"), "{e}");
    let e = err(&MINIMAL.replace("years = 3", "years = 500"));
    assert!(e.to_string().contains("absurd"), "{e}");
    let e = err(&MINIMAL.replace("years = 3", "years = 99999999"));
    assert!(e.to_string().contains("absurd"), "{e}");
    // No duration.
    let e = err(&MINIMAL.replace("years = 3\n", ""));
    assert!(e.to_string().contains("without a duration"), "{e}");
    // Unknown anchor and action.
    let e = err(&MINIMAL.replace("from = \"created\"", "from = \"sometime\""));
    assert_eq!(at(&e).0, 16);
    let e = err(&MINIMAL.replace("shred-key", "burn"));
    assert_eq!(at(&e).0, 17);
    // Unknown role in an activity.
    let act = "\n[[activity]]\nid = \"a\"\nname = \"a\"\npurpose = \"p\"\ncategories = [\"chat\"]\nsubjects = [\"s\"]\nart6 = \"b\"\nroles = [\"nurse\"]\n";
    let e = err(&format!("{MINIMAL}{act}"));
    assert!(e.to_string().contains("unknown role 'nurse'"), "{e}");
    assert_eq!(at(&e), (27, 10));
    // Duplicate id.
    let e = err(&format!(
        "{MINIMAL}\n[[category]]\nid = \"chat\"\nname = \"x\"\nname-de = \"x\"\n"
    ));
    assert!(e.to_string().contains("duplicate category id"), "{e}");
    assert_eq!(at(&e).0, 21);
    // Not TOML at all.
    assert!(matches!(err("\u{0}"), PolicyError::Syntax { .. }));
}

#[test]
fn hash_ignores_comments_and_layout_but_not_content() {
    let p = Policy::parse(MINIMAL).unwrap();
    let commented = MINIMAL.replace("years = 3", "years   =   3 # three years");
    assert_eq!(Policy::parse(&commented).unwrap().hash(), p.hash());
    let changed = MINIMAL.replace("years = 3", "years = 4");
    assert_ne!(Policy::parse(&changed).unwrap().hash(), p.hash());
    // The hash is SHA-256 of the canonical JSON.
    let canon = p.canonical_json();
    assert!(
        canon.starts_with("{\"activity\":[],\"category\":[{\"clinical\":false,"),
        "{canon}"
    );
    assert_eq!(p.hash(), caduceus_core::suite::sha256(&[canon.as_bytes()]));
}

/// A policy with every lint finding.
const BAD: &str = r#"
[policy]
id = "bad"
name = "bad"
version = "1"
controller = "c"
audit-category = "audit"

[[category]]
id = "photos"
name = "Photos"
name-de = "Fotos"
special = true
clinical = true

[[category]]
id = "chat"
name = "Chat"
name-de = "Chat"

[[category]]
id = "notes"
name = "Notes"
name-de = "Notizen"

[[category]]
id = "audit"
name = "Audit"
name-de = "Protokoll"

[[retention]]
category = "photos"
years = 10
from = "created"
action = "shred-key"
source = "x"

[[retention]]
category = "photos"
years = 12
from = "created"
action = "anonymise"
source = "y"

[[retention]]
category = "chat"
years = 3
from = "created"
action = "review"
source = "z"

[[retention]]
category = "audit"
years = 6
from = "created"
action = "delete-record"
source = "w"

[[processor]]
id = "cloud"
name = "Cloud Inc."
service = "hosting"
country = "US"

[[activity]]
id = "care"
name = "Care"
purpose = "treatment"
categories = ["photos", "chat", "notes", "audit"]
subjects = ["patients"]
art6 = "b"
processors = ["cloud"]

[[activity]]
id = "news"
name = "News"
purpose = "marketing newsletter"
categories = ["chat"]
subjects = ["patients"]
art6 = "f"

[[role]]
id = "finance"
name = "Finance"
read = ["chat", "photos"]
"#;

#[test]
fn bad_policy_yields_each_finding() {
    let p = Policy::parse(BAD).unwrap();
    let findings = lint(&p);
    let got: Vec<(&str, Severity, u32, u32)> = findings
        .iter()
        .map(|f| (f.code, f.severity, f.location.line, f.location.column))
        .collect();
    let want = [
        ("retention-missing", Severity::Error, 21, 1),
        ("audit-too-short", Severity::Error, 52, 1),
        ("contradicting-rules", Severity::Error, 42, 10),
        ("retention-unbounded", Severity::Error, 45, 1),
        ("transfer-missing", Severity::Error, 59, 1),
        ("art9-missing", Severity::Error, 65, 1),
        ("marketing-without-consent", Severity::Error, 74, 1),
        ("non-clinical-reads-clinical", Severity::Error, 85, 17),
    ];
    for w in want {
        assert!(got.contains(&w), "missing {w:?} in {got:#?}");
    }
    for f in &findings {
        assert!(!f.fix.is_empty() && !f.message.is_empty());
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
    // Every finding renders with line and column.
    assert!(
        findings[0]
            .to_string()
            .starts_with("21:1: error [retention-missing]")
    );
}

#[test]
fn clean_minimal_policy_only_warns() {
    let p = Policy::parse(MINIMAL).unwrap();
    let findings = lint(&p);
    assert!(
        findings.iter().all(|f| f.severity == Severity::Warning),
        "{findings:#?}"
    );
    assert!(findings.iter().any(|f| f.code == "audit-category-missing"));
    assert!(findings.iter().any(|f| f.code == "category-unused"));
}

/// Errors in record or hold JSON name the position and the kind of error,
/// never the offending value (a hold reason is free text).
#[test]
fn json_errors_do_not_quote_the_input() {
    use caduceus_core::retention::{DEFAULT_POLICY, Policy, parse_holds};
    let policy = Policy::parse(DEFAULT_POLICY).unwrap();
    let leaky =
        r#"[{"subject": "p-1", "record": "Karies Zahn 36, Klage angedroht", "reason": "x"}]"#;
    let msg = parse_holds(&policy, leaky).unwrap_err().to_string();
    assert!(!msg.contains("Karies"), "{msg}");
    assert!(msg.contains("line 1"), "{msg}");
    // Well-formed JSON with a value the policy does not know (found by the
    // retention_json fuzz target, fuzz/regressions/retention_json/).
    let unknown = r#"[{"id": 1, "subject": "p-1", "category": "HIV-Befund Mueller"}]"#;
    let msg = caduceus_core::retention::parse_records(&policy, unknown)
        .unwrap_err()
        .to_string();
    assert!(!msg.contains("HIV"), "{msg}");
    assert!(msg.contains("unknown category"), "{msg}");
}

/// MINIMAL with one more category and rule: `years` years from
/// end-of-treatment citing `source`.
fn with_rule(years: u32, end_of_year: bool, source: &str) -> Policy {
    let text = format!(
        "{MINIMAL}\n[[category]]\nid = \"record\"\nname = \"Record\"\nname-de = \"Akte\"\nspecial = true\n\n[[retention]]\ncategory = \"record\"\nyears = {years}\nfrom = \"end-of-treatment\"\nend-of-year = {end_of_year}\naction = \"delete-record\"\nsource = \"{source}\"\n"
    );
    Policy::parse(&text).unwrap()
}

/// The line of the last retention rule.
fn p_rules_line(p: &Policy) -> u32 {
    p.rules().last().unwrap().location.line
}

fn codes(findings: &[Finding], severity: Severity) -> Vec<&'static str> {
    findings
        .iter()
        .filter(|f| f.severity == severity)
        .map(|f| f.code)
        .collect()
}

#[test]
fn a_rule_shorter_than_the_law_it_cites_is_an_error() {
    let short = lint(&with_rule(1, false, "§ 630f (3) BGB"));
    assert_eq!(
        codes(&short, Severity::Error),
        ["retention-below-statutory-minimum"]
    );
    let f = short
        .iter()
        .find(|f| f.code == "retention-below-statutory-minimum")
        .unwrap();
    let second_rule = p_rules_line(&with_rule(1, false, "§ 630f (3) BGB"));
    assert_eq!(f.location.line, second_rule, "{f}");
    assert!(
        f.message.contains("§ 630f BGB") && f.message.contains("10 years"),
        "{f}"
    );
    // 10 years is what § 630f (3) BGB requires: fine.
    let ok = lint(&with_rule(10, false, "§ 630f (3) BGB"));
    assert!(codes(&ok, Severity::Error).is_empty(), "{ok:#?}");
    // The rule must meet every law it cites: § 147 AO for invoices counts
    // from the end of the calendar year.
    let tax = lint(&with_rule(8, false, "§ 147 (1) Nr. 4 AO"));
    assert_eq!(
        codes(&tax, Severity::Error),
        ["retention-below-statutory-minimum"]
    );
    assert!(
        codes(
            &lint(&with_rule(8, true, "§ 147 (1) Nr. 4 AO")),
            Severity::Error
        )
        .is_empty()
    );
    let radio = lint(&with_rule(10, false, "§ 85 (2) 1 Nr. 1 StrlSchG"));
    assert_eq!(
        codes(&radio, Severity::Error),
        ["retention-below-statutory-minimum"]
    );
}

#[test]
fn an_unknown_citation_is_a_warning_not_an_error() {
    let f = lint(&with_rule(1, false, "§ 42 Praxisordnung"));
    assert!(codes(&f, Severity::Error).is_empty(), "{f:#?}");
    assert!(codes(&f, Severity::Warning).contains(&"source-unknown"));
    // Prose that cites no law is not a citation.
    let f = lint(&with_rule(1, false, "practice choice"));
    assert!(!codes(&f, Severity::Warning).contains(&"source-unknown"));
}

#[test]
fn every_source_the_shipped_policy_cites_is_known() {
    let p = Policy::parse(DEFAULT_POLICY).unwrap();
    for r in p.rules() {
        let c = cited_sources(&r.source);
        assert!(c.unknown.is_empty(), "{}: {:?}", r.source, c.unknown);
        assert!(!c.known.is_empty(), "{} cites no known law", r.source);
    }
    assert!(lint(&p).is_empty(), "{:#?}", lint(&p));
}

/// The shipped policy with `from` replaced by `to` (which must occur once).
fn shipped_with(from: &str, to: &str) -> Policy {
    assert_eq!(DEFAULT_POLICY.matches(from).count(), 1, "{from}");
    Policy::parse(&DEFAULT_POLICY.replace(from, to)).unwrap()
}

#[test]
fn the_register_and_the_consent_engine_agree_on_each_purposes_basis() {
    use caduceus_core::consent::ConsentPolicy;
    // The contradiction the shipped policy had: the register said treatment
    // communication rests on the contract (6(1)(b) + 9(2)(h)) and recalls on
    // consent without an Art. 9 condition, while the consent engine decided
    // both on explicit consent (6(1)(a) + 9(2)(a)).
    let old = shipped_with(
        "consent-purpose = \"treatment-communication\"\nart6 = \"a\"\nart9 = \"a\"",
        "consent-purpose = \"treatment-communication\"\nart6 = \"b\"\nart9 = \"h\"",
    );
    let f = lint(&old);
    assert_eq!(codes(&f, Severity::Error), ["basis-contradicts-consent"]);
    assert!(
        f[0].message.contains("'patient-messaging'")
            && f[0]
                .message
                .contains("Art. 6(1)(b) GDPR + Art. 9(2)(h) GDPR")
            && f[0]
                .message
                .contains("Art. 6(1)(a) GDPR + Art. 9(2)(a) GDPR"),
        "{}",
        f[0]
    );
    let old_recall = shipped_with(
        "consent-purpose = \"recall\"\nart6 = \"a\"\nart9 = \"a\"",
        "consent-purpose = \"recall\"\nart6 = \"a\"",
    );
    assert_eq!(
        codes(&lint(&old_recall), Severity::Error),
        ["basis-contradicts-consent"]
    );
    // A practice that configures the contract as the alternative basis may
    // state it in the register.
    let mut consent = ConsentPolicy::default();
    consent.purposes[0].alternative = Some(caduceus_core::consent::LegalBasis {
        art6: caduceus_core::consent::Art6Basis::Contract,
        art9: Some(caduceus_core::consent::Art9Condition::HealthCare),
    });
    assert!(lint_with_consent(&old, &consent).is_empty());
    // A purpose the consent policy does not have.
    let unknown = shipped_with(
        "consent-purpose = \"marketing\"",
        "consent-purpose = \"newsletter\"",
    );
    assert_eq!(
        codes(&lint(&unknown), Severity::Error),
        ["consent-purpose-unknown"]
    );
    // A consent-based activity without a consent purpose cannot be checked.
    let unlinked = shipped_with("consent-purpose = \"marketing\"\n", "");
    assert_eq!(
        codes(&lint(&unlinked), Severity::Warning),
        ["consent-purpose-missing"]
    );
}
