#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `caduceus consent`, run as a process over a ledger file.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::{TempDir, consent_notice_args, consent_record_args, p};

const BIN: &str = env!("CARGO_BIN_EXE_caduceus");
const T0: i64 = 1_763_800_000;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn err(args: &[&str], code: i32) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let word = if code == 1 { "refused" } else { "error" };
    assert!(
        stderr.starts_with(&format!("caduceus: {word}: ")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

fn t(offset: i64) -> String {
    (T0 + offset).to_string()
}

/// A ledger with notice privacy-chat v1 (de) and p-1's consent to
/// treatment communication and marketing.
fn setup(dir: &TempDir) -> PathBuf {
    let ledger = dir.path("consent.ledger");
    ok(&["consent", "init", "-o", p(&ledger)]);
    let text = dir.path("hinweis.txt");
    fs::write(&text, "Datenschutzhinweis: ...").unwrap();
    let out = ok(&consent_notice_args(p(&ledger), p(&text), &t(0)));
    assert!(out.contains("sha256 "), "{out}");
    ok(&consent_record_args(
        p(&ledger),
        &[
            "--purpose",
            "marketing",
            "--status",
            "given",
            "--method",
            "qr-reception",
            "--notice",
            "privacy-chat:1:de",
            "--channel",
            "reception-qr",
            "--recorded-by",
            "staff-12",
            "--at",
            &t(60),
        ],
    ));
    ledger
}

#[test]
fn record_decide_stop_history_export() {
    let dir = TempDir::new("consent", "flow");
    let ledger = setup(&dir);
    let l = p(&ledger);

    // `consent decide` for `purpose` and the subject options `who` at `at`.
    let decide = |purpose: &str, who: &[&str], at: i64, json: bool| {
        let at = t(at);
        let mut args = vec!["consent", "decide", "--ledger", l, "--purpose", purpose];
        args.extend_from_slice(who);
        args.extend_from_slice(&["--at", &at]);
        if json {
            args.push("--json");
        }
        // Exit 0 when every subject is allowed, 1 when any is refused.
        let out = run(&args);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let any_refused = stdout.contains("refused") || stdout.contains("\"allowed\":false");
        assert_eq!(
            out.status.code(),
            Some(i32::from(any_refused)),
            "{args:?}: {stdout}"
        );
        stdout
    };
    // p-1's reply `reply` (WhatsApp message `message_id`) as event `id`.
    let stop = |id: &str, reply: &str, message_id: &str, at: i64| {
        ok(&[
            "consent",
            "stop",
            "--ledger",
            l,
            "--id",
            id,
            "--subject",
            "p-1",
            "--reply",
            reply,
            "--message-id",
            message_id,
            "--at",
            &t(at),
        ])
    };

    let out = decide(
        "marketing",
        &["--subject", "p-1", "--subject", "p-2"],
        100,
        false,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("p-1\tmarketing\tallowed\tArt. 6(1)(a) GDPR"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("p-2\tmarketing\trefused\tno-consent"),
        "{out}"
    );

    // STOP withdraws marketing and records an objection to recall (no
    // consent to withdraw there); treatment communication goes on.
    let out = stop("e2", " Bitte   stopp! ", "wamid.HBgM", 200);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("withdrawn: marketing (event 1 "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("objection recorded: recall (event 2 "),
        "{out}"
    );
    for reply in ["Danke!", "Ich will nicht, dass Sie stoppen"] {
        let out = stop("e3", reply, "wamid.X", 210);
        assert!(out.contains("not an opt-out reply"), "{out}");
    }

    let subjects = dir.path("sendout.txt");
    fs::write(&subjects, "# recall list\np-1\np-2\n").unwrap();
    let out = decide("marketing", &["--subjects-file", p(&subjects)], 300, true);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["allowed"], false);
    assert_eq!(first["reason"], "withdrawn");
    assert_eq!(first["event_seq"], 1);
    let out = decide("treatment-communication", &["--subject", "p-1"], 300, true);
    let d: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(d["allowed"], true);
    assert_eq!(d["art9"], "explicit-consent");

    let out = ok(&["consent", "history", "--ledger", l, "--subject", "p-1"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.lines()
            .nth(2)
            .unwrap()
            .contains("refused [recall] method=chat-reply"),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .contains("withdrawn [marketing] method=chat-reply")
    );
    assert!(out.contains("evidence=wamid.HBgM"));
    let out = ok(&[
        "consent",
        "history",
        "--ledger",
        l,
        "--subject",
        "p-1",
        "--json",
    ]);
    let e: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(e["notice"]["id"], "privacy-chat");

    let fhir = dir.path("p-1.fhir.json");
    ok(&[
        "consent",
        "export",
        "--ledger",
        l,
        "--subject",
        "p-1",
        "-o",
        p(&fhir),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&fhir).unwrap()).unwrap();
    assert_eq!(v["resourceType"], "Bundle");
    assert_eq!(v["entry"][1]["resource"]["status"], "inactive");
    // The consent given before the STOP still covers treatment
    // communication; marketing is denied from the STOP on.
    let given = &v["entry"][0]["resource"];
    assert_eq!(given["status"], "active");
    assert_eq!(given["provision"]["provision"][0]["type"], "deny");
    assert_eq!(
        given["provision"]["provision"][0]["purpose"][0]["code"],
        "marketing"
    );
    // Before the STOP (--at), the same consent shows no denial.
    let out = ok(&[
        "consent",
        "export",
        "--ledger",
        l,
        "--subject",
        "p-1",
        "--at",
        &t(150),
    ]);
    let before: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(before["entry"][0]["resource"]["provision"]["provision"].is_null());
    let out = ok(&[
        "consent",
        "export",
        "--ledger",
        l,
        "--subject",
        "p-1",
        "--format",
        "iso27560",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(out.contains("dpv:ConsentWithdrawn"));
    assert_eq!(v["records"].as_array().unwrap().len(), 3);
}

#[test]
fn bad_input_fails_cleanly_and_leaves_the_ledger_unchanged() {
    let dir = TempDir::new("consent", "bad");
    let ledger = setup(&dir);
    let l = p(&ledger);
    let before = fs::read(&ledger).unwrap();
    // `consent record` of p-1 by chat reply with the given event id,
    // purpose, status, extra options and time.
    let record = |id: &str, purpose: &str, status: &str, extra: &[&str], at: &str| {
        let mut args = vec![
            "consent",
            "record",
            "--ledger",
            l,
            "--subject",
            "p-1",
            "--method",
            "chat-reply",
            "--channel",
            "whatsapp",
            "--recorded-by",
            "staff-1",
            "--id",
            id,
            "--purpose",
            purpose,
            "--status",
            status,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--at", at]);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let t100 = t(100);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            record("e9", "astrology", "refused", &[], &t100),
            "unknown purpose 'astrology'",
        ),
        (
            record("e1", "recall", "refused", &[], &t100),
            "already in the ledger",
        ),
        (
            record("e9", "recall", "withdrawn", &[], &t100),
            "no consent for it was given before",
        ),
        (record("e9", "recall", "refused", &[], &t(10)), "time order"),
        (
            record(
                "e9",
                "recall",
                "given",
                &["--notice", "privacy-chat:2:de"],
                &t100,
            ),
            "not registered",
        ),
        (
            record(
                "e9",
                "recall",
                "given",
                &[
                    "--notice",
                    "privacy-chat:1:de",
                    "--notice-sha256",
                    &"00".repeat(32),
                ],
                &t100,
            ),
            "with this SHA-256 is not registered",
        ),
        (
            record("e9", "recall", "given", &[], &t100),
            "names no notice",
        ),
        (
            record("e9", "recall", "refused", &[], "4102444800"),
            "clock skew",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let msg = err(&args, 3);
        assert!(msg.contains(want), "{args:?}: {msg}");
        assert!(!msg.contains("p-1"), "pseudonym in error: {msg}");
        assert_eq!(
            fs::read(&ledger).unwrap(),
            before,
            "{args:?} changed the ledger"
        );
    }
    // Usage errors: exit 2.
    let a = record("e9", "recall", "refused", &[], "yesterday");
    err(&a.iter().map(String::as_str).collect::<Vec<_>>(), 2);
    err(
        &["consent", "decide", "--ledger", l, "--purpose", "recall"],
        2,
    );
    // A damaged or truncated ledger file.
    let mut damaged = before.clone();
    let n = damaged.len();
    damaged[n / 2] ^= 0x20;
    fs::write(&ledger, &damaged).unwrap();
    let msg = err(
        &["consent", "history", "--ledger", l, "--subject", "p-1"],
        3,
    );
    assert!(
        msg.contains("malformed consent ledger") || msg.contains("consent ledger entry"),
        "{msg}"
    );
    fs::write(&ledger, &before[..n - 3]).unwrap();
    let msg = err(
        &[
            "consent",
            "decide",
            "--ledger",
            l,
            "--purpose",
            "recall",
            "--subject",
            "p-1",
        ],
        3,
    );
    assert!(msg.contains("ends in an incomplete entry"), "{msg}");
    // init refuses to overwrite.
    fs::write(&ledger, &before).unwrap();
    err(&["consent", "init", "-o", l], 3);
    assert_eq!(fs::read(&ledger).unwrap(), before);
    // No temporary files are left behind.
    let leftovers: Vec<_> = dir
        .listing()
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn custom_policy_and_default_policy() {
    let dir = TempDir::new("consent", "policy");
    let out = ok(&["consent", "default-policy"]);
    assert!(out.contains("[[purpose]]"));
    let policy = dir.path("policy.toml");
    fs::write(
        &policy,
        out.replace(
            "# alternative = { art6 = \"contract\", art9 = \"health-care\" }",
            "alternative = { art6 = \"contract\", art9 = \"health-care\" }",
        ),
    )
    .unwrap();
    let ledger = dir.path("l");
    ok(&["consent", "init", "--policy", p(&policy), "-o", p(&ledger)]);
    let out = ok(&[
        "consent",
        "decide",
        "--ledger",
        p(&ledger),
        "--purpose",
        "treatment-communication",
        "--subject",
        "p-9",
        "--json",
    ]);
    let d: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(d["allowed"], true);
    assert_eq!(d["art6"], "contract");
    assert_eq!(d["art9"], "health-care");
    fs::write(&policy, "[[purpose]]\nid = \"x\"\nbogus = 1\n").unwrap();
    let msg = err(
        &[
            "consent",
            "init",
            "--policy",
            p(&policy),
            "-o",
            p(&dir.path("m")),
        ],
        3,
    );
    assert!(msg.contains("invalid consent policy"), "{msg}");
}
