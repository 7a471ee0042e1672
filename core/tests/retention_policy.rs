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
