#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `caduceus consent`, run as a process over a ledger file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_caduceus");
const T0: i64 = 1_763_800_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "caduceus-consent-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

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
    assert!(stderr.starts_with("caduceus: error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
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
    let out = ok(&[
        "consent",
        "notice",
        "--ledger",
        p(&ledger),
        "--id",
        "privacy-chat",
        "--version",
        "1",
        "--language",
        "de",
        "--text-file",
        p(&text),
        "--at",
        &t(0),
    ]);
    assert!(out.contains("sha256 "), "{out}");
    ok(&[
        "consent",
        "record",
        "--ledger",
        p(&ledger),
        "--id",
        "e1",
        "--subject",
        "p-1",
        "--purpose",
        "treatment-communication",
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
    ]);
    ledger
}

#[test]
fn record_decide_stop_history_export() {
    let dir = TempDir::new("flow");
    let ledger = setup(&dir);
    let l = p(&ledger);

    let out = ok(&[
        "consent",
        "decide",
        "--ledger",
        l,
        "--purpose",
        "marketing",
        "--subject",
        "p-1",
        "--subject",
        "p-2",
        "--at",
        &t(100),
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("p-1\tmarketing\tallowed\tArt. 6(1)(a) GDPR"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("p-2\tmarketing\trefused\tno-consent"),
        "{out}"
    );

    let out = ok(&[
        "consent",
        "stop",
        "--ledger",
        l,
        "--id",
        "e2",
        "--subject",
        "p-1",
        "--reply",
        " stopp ",
        "--message-id",
        "wamid.HBgM",
        "--at",
        &t(200),
    ]);
    assert!(out.starts_with("withdrawn: marketing"), "{out}");
    let out = ok(&[
        "consent",
        "stop",
        "--ledger",
        l,
        "--id",
        "e3",
        "--subject",
        "p-1",
        "--reply",
        "Danke!",
        "--message-id",
        "wamid.X",
        "--at",
        &t(210),
    ]);
    assert!(out.contains("not an opt-out keyword"), "{out}");

    let subjects = dir.path("sendout.txt");
    fs::write(&subjects, "# recall list\np-1\np-2\n").unwrap();
    let out = ok(&[
        "consent",
        "decide",
        "--ledger",
        l,
        "--purpose",
        "marketing",
        "--subjects-file",
        p(&subjects),
        "--at",
        &t(300),
        "--json",
    ]);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["allowed"], false);
    assert_eq!(first["reason"], "withdrawn");
    assert_eq!(first["event_seq"], 1);
    let out = ok(&[
        "consent",
        "decide",
        "--ledger",
        l,
        "--purpose",
        "treatment-communication",
        "--subject",
        "p-1",
        "--at",
        &t(300),
        "--json",
    ]);
    let d: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(d["allowed"], true);
    assert_eq!(d["art9"], "explicit-consent");

    let out = ok(&["consent", "history", "--ledger", l, "--subject", "p-1"]);
    assert_eq!(out.lines().count(), 2, "{out}");
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
    assert_eq!(v["records"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_input_fails_cleanly_and_leaves_the_ledger_unchanged() {
    let dir = TempDir::new("bad");
    let ledger = setup(&dir);
    let l = p(&ledger);
    let before = fs::read(&ledger).unwrap();
    let record = |extra: &[&str]| {
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
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "astrology",
                "--status",
                "refused",
                "--at",
                &t(100),
            ]),
            "unknown purpose 'astrology'",
        ),
        (
            record(&[
                "--id",
                "e1",
                "--purpose",
                "recall",
                "--status",
                "refused",
                "--at",
                &t(100),
            ]),
            "already in the ledger",
        ),
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "recall",
                "--status",
                "withdrawn",
                "--at",
                &t(100),
            ]),
            "no consent for it was given before",
        ),
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "recall",
                "--status",
                "refused",
                "--at",
                &t(10),
            ]),
            "time order",
        ),
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "recall",
                "--status",
                "given",
                "--notice",
                "privacy-chat:2:de",
                "--at",
                &t(100),
            ]),
            "not registered",
        ),
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "recall",
                "--status",
                "given",
                "--notice",
                "privacy-chat:1:de",
                "--notice-sha256",
                &"00".repeat(32),
                "--at",
                &t(100),
            ]),
            "with this SHA-256 is not registered",
        ),
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "recall",
                "--status",
                "given",
                "--at",
                &t(100),
            ]),
            "names no notice",
        ),
        (
            record(&[
                "--id",
                "e9",
                "--purpose",
                "recall",
                "--status",
                "refused",
                "--at",
                "4102444800",
            ]),
            "clock skew",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let msg = err(&args, 1);
        assert!(msg.contains(want), "{args:?}: {msg}");
        assert!(!msg.contains("p-1"), "pseudonym in error: {msg}");
        assert_eq!(
            fs::read(&ledger).unwrap(),
            before,
            "{args:?} changed the ledger"
        );
    }
    // Usage errors: exit 2.
    let a = record(&[
        "--id",
        "e9",
        "--purpose",
        "recall",
        "--status",
        "refused",
        "--at",
        "yesterday",
    ]);
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
        1,
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
        1,
    );
    assert!(msg.contains("malformed consent ledger"), "{msg}");
    // init refuses to overwrite.
    fs::write(&ledger, &before).unwrap();
    err(&["consent", "init", "-o", l], 1);
    assert_eq!(fs::read(&ledger).unwrap(), before);
    // No temporary files are left behind.
    let leftovers: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn custom_policy_and_default_policy() {
    let dir = TempDir::new("policy");
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
        1,
    );
    assert!(msg.contains("invalid consent policy"), "{msg}");
}
