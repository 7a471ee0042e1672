#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `caduceus policy ...` run as a process, on files in a temporary directory.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_caduceus");

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caduceus-policy-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn policy_file() -> String {
    format!(
        "{}/../policies/de-practice.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn lint_default_is_clean_and_hash_matches_builtin() {
    let out = stdout(&run(&["policy", "lint", "-p", &policy_file()]));
    assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");
    let h1 = stdout(&run(&["policy", "hash", "-p", &policy_file()]));
    let h2 = stdout(&run(&["policy", "hash"]));
    assert_eq!(h1, h2);
    assert!(h1.starts_with("sha256:") && h1.len() == 72);
}

#[test]
fn lint_reports_findings_and_parse_errors_with_location() {
    let dir = tmp("lint");
    let bad = dir.join("bad.toml");
    let text = fs::read_to_string(policy_file()).unwrap().replace(
        "country = \"US\"\ntransfer = ",
        "country = \"US\"\nnote-transfer = ",
    );
    fs::write(&bad, &text).unwrap();
    // Unknown key: a parse error with file, line and column; exit 3.
    let out = run(&["policy", "lint", "-p", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("caduceus: error: ") && err.contains("bad.toml:"),
        "{err}"
    );
    assert!(err.contains("note-transfer"), "{err}");
    // Without the transfer line: a lint finding with line and column.
    let text = text
        .lines()
        .filter(|l| !l.starts_with("note-transfer"))
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(&bad, &text).unwrap();
    let out = run(&["policy", "lint", "-p", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains(": error[transfer-missing]: processor 'meta-us'"),
        "{report}"
    );
    assert!(report.contains("fix: add transfer"), "{report}");
    let json = run(&["policy", "lint", "--json", "-p", bad.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["findings"][0]["code"], "transfer-missing");
    assert!(v["findings"][0]["line"].as_u64().unwrap() > 1);
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn lint_checks_statutory_minima_and_the_register_against_the_consent_policy() {
    let dir = tmp("lint-law");
    let shipped = fs::read_to_string(policy_file()).unwrap();
    let write = |name: &str, text: &str| {
        let f = dir.join(name);
        fs::write(&f, text).unwrap();
        f.to_str().unwrap().to_owned()
    };
    // A patient-record rule of 1 year that cites § 630f BGB (10 years).
    let short = write(
        "short.toml",
        &shipped.replacen(
            "category = \"patient-record\"\nyears = 10",
            "category = \"patient-record\"\nyears = 1",
            1,
        ),
    );
    let out = run(&["policy", "lint", "-p", &short]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains(
            "error[retention-below-statutory-minimum]: the rule on 'patient-record' keeps 1 year"
        ) && report.contains("§ 630f BGB"),
        "{report}"
    );
    // The register says treatment communication rests on the contract; the
    // default consent policy decides it on consent: a contradiction ...
    let contract = write(
        "contract.toml",
        &shipped.replacen(
            "consent-purpose = \"treatment-communication\"\nart6 = \"a\"\nart9 = \"a\"",
            "consent-purpose = \"treatment-communication\"\nart6 = \"b\"\nart9 = \"h\"",
            1,
        ),
    );
    let out = run(&["policy", "lint", "-p", &contract]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains("error[basis-contradicts-consent]: activity 'patient-messaging'"),
        "{report}"
    );
    // ... that disappears when the consent policy has that alternative basis.
    let consent = write(
        "consent.toml",
        "[[purpose]]\nid = \"treatment-communication\"\nhealth-data = true\nopt-out = false\nalternative = { art6 = \"contract\", art9 = \"health-care\" }\n[[purpose]]\nid = \"clinical-photos\"\nhealth-data = true\nopt-out = false\n[[purpose]]\nid = \"recall\"\nhealth-data = true\n[[purpose]]\nid = \"marketing\"\n",
    );
    let out = stdout(&run(&[
        "policy",
        "lint",
        "-p",
        &contract,
        "--consent-policy",
        &consent,
    ]));
    assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn register_markdown_and_json() {
    let dir = tmp("register");
    let md = dir.join("register.md");
    stdout(&run(&["policy", "register", "-o", md.to_str().unwrap()]));
    let text = fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# Register of processing activities (Art. 30(1) GDPR)"));
    let json = stdout(&run(&["policy", "register", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kind"], "caduceus-register/1");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn sweep_erasure_access_breach() {
    let dir = tmp("sweep");
    let records = dir.join("records.json");
    fs::write(
        &records,
        r#"[
 {"id": 1, "subject": "p-7f3a91", "category": "chat-messages", "created": "2022-01-10"},
 {"id": 2, "subject": "p-7f3a91", "category": "clinical-photos", "created": "2025-11-02", "end-of-treatment": "2025-12-10"},
 {"id": 3, "subject": "p-7f3a91", "category": "invoices", "billing": "2025-12-15"},
 {"id": 4, "subject": "p-7f3a91", "category": "xray-records", "last-contact": "2015-05-04"}
]"#,
    )
    .unwrap();
    let holds = dir.join("holds.json");
    fs::write(&holds, r#"[{"record": 1, "reason": "case 3 O 12/26"}]"#).unwrap();
    let r = records.to_str().unwrap();

    // `policy sweep` of the records on 31 January 2026.
    let sweep = |extra: &[&str]| {
        let mut args = vec!["policy", "sweep", "--records", r, "--date", "2026-01-31"];
        args.extend_from_slice(extra);
        stdout(&run(&args))
    };
    // `policy <command>` (erasure or access) for p-7f3a91's request
    // received at `received`.
    let request = |command: &str, received: &str, extra: &[&str]| {
        let mut args = vec![
            "policy",
            command,
            "--subject",
            "p-7f3a91",
            "--records",
            r,
            "--received",
            received,
        ];
        args.extend_from_slice(extra);
        stdout(&run(&args))
    };

    let out = sweep(&[]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["due"][0]["record"], 1);
    assert_eq!(v["unresolved"][0]["missing-anchor"], "birth");
    let out = sweep(&["--holds", holds.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["due"], 0);
    assert_eq!(v["held"][0]["reason"], "case 3 O 12/26");

    let out = request("erasure", "2026-01-31T10:00:00Z", &[]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["categories"][0]["decision"], "erase-now");
    assert_eq!(v["answer-deadline"], "2026-02-03T10:00:00Z");
    let de = request("erasure", "2026-01-31T10:00:00Z", &["--format", "de"]);
    assert!(de.contains("längstens bis zum 01.01.2036"), "{de}");

    let out = request("access", "1769853600", &[]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "caduceus-access-plan/1");

    let out = stdout(&run(&[
        "policy",
        "breach",
        "--detected",
        "2026-01-31T08:15:00Z",
        "--now",
        "2026-01-31T09:15:00Z",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["deadline"], "2026-02-03T08:15:00Z");
    assert_eq!(v["seconds-left"], 71 * 3600);
    // A detection a day in the future is refused (it would move the deadline).
    let future = run(&[
        "policy",
        "breach",
        "--detected",
        "2026-02-01T09:15:00Z",
        "--now",
        "2026-01-31T09:15:00Z",
    ]);
    assert_eq!(future.status.code(), Some(2));
    assert!(future.stdout.is_empty());

    // Bad records: an unknown category, with the entry number.
    fs::write(
        &records,
        r#"[{"id": 1, "subject": "p", "category": "nope"}]"#,
    )
    .unwrap();
    let out = run(&["policy", "sweep", "--records", r, "--date", "2026-01-31"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("records entry 1: unknown category"));
    // A bad date is a usage error.
    let out = run(&["policy", "sweep", "--records", r, "--date", "2026-02-30"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn check_and_recipients() {
    let check = |role: &str| {
        run(&[
            "policy",
            "check",
            "--role",
            role,
            "--category",
            "xray-records",
        ])
    };
    let ok = check("doctor");
    assert!(stdout(&ok).starts_with("permitted"));
    let no = check("finance");
    assert_eq!(no.status.code(), Some(1));
    let unknown = check("nurse");
    assert_eq!(unknown.status.code(), Some(2));
    let out = stdout(&run(&[
        "policy",
        "recipients",
        "--category",
        "chat-messages",
    ]));
    assert_eq!(out, "practice (always)\ndoctor\ncoordinator\n");
}
