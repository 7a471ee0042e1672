#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! State files under concurrency and operator mistakes (issue 11): many
//! processes writing one consent ledger or audit log lose nothing and break
//! nothing; no command overwrites one of its inputs; refusals exit 1.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

mod common;
use common::{
    AUDIT_KEYGEN_PSEUDONYM, TempDir, audit_append_args, audit_checkpoint_args,
    audit_keygen_signing_args, consent_notice_args, p, run_caduceus,
};

const BIN: &str = env!("CARGO_BIN_EXE_caduceus");
const T0: i64 = 1_763_800_000;

fn spawn(dir: &Path, args: &[String]) -> Child {
    // The test is about what lands, not about timing: a generous wait, so
    // a loaded machine does not turn the queue into busy errors.
    Command::new(BIN)
        .env("CADUCEUS_LOCK_TIMEOUT_MS", "120000")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run_caduceus(Some(dir), args, None);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

/// Run all commands at once; every one must succeed.
fn all_at_once(dir: &Path, commands: Vec<Vec<String>>) {
    let children: Vec<Child> = commands.iter().map(|c| spawn(dir, c)).collect();
    for (c, child) in commands.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{c:?}: {out:?}");
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A ledger with notice privacy-chat v1 (de).
fn ledger_with_notice(dir: &TempDir) {
    ok(&dir.0, &["consent", "init", "-o", "c.ledger"]);
    fs::write(dir.path("hinweis.txt"), "Datenschutzhinweis: ...").unwrap();
    ok(
        &dir.0,
        &consent_notice_args("c.ledger", "hinweis.txt", &T0.to_string()),
    );
}

fn record_args(i: usize, purpose: &str) -> Vec<String> {
    strings(&[
        "consent",
        "record",
        "--ledger",
        "c.ledger",
        "--id",
        &format!("rec-{purpose}-{i}"),
        "--subject",
        &format!("p-{i}"),
        "--purpose",
        purpose,
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
        &(T0 + 60).to_string(),
    ])
}

fn decide(dir: &Path, subject: &str, purpose: &str) -> Output {
    run_caduceus(
        Some(dir),
        &[
            "consent",
            "decide",
            "--ledger",
            "c.ledger",
            "--purpose",
            purpose,
            "--subject",
            subject,
            "--at",
            &(T0 + 600).to_string(),
        ],
        None,
    )
}

#[test]
fn forty_concurrent_consent_records_all_survive() {
    let dir = TempDir::new("state", "records");
    ledger_with_notice(&dir);
    all_at_once(
        &dir.0,
        (0..40)
            .map(|i| record_args(i, "treatment-communication"))
            .collect(),
    );
    for i in 0..40 {
        let out = decide(&dir.0, &format!("p-{i}"), "treatment-communication");
        assert_eq!(code(&out), 0, "p-{i}: {out:?}");
        let history = ok(
            &dir.0,
            &[
                "consent",
                "history",
                "--ledger",
                "c.ledger",
                "--subject",
                &format!("p-{i}"),
            ],
        );
        assert!(
            history.contains(&format!("rec-treatment-communication-{i}")),
            "{history}"
        );
    }
}

#[test]
fn ten_concurrent_stop_replies_all_withdraw_marketing() {
    let dir = TempDir::new("state", "stops");
    ledger_with_notice(&dir);
    for i in 0..10 {
        let args = record_args(i, "marketing");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&dir.0, &refs);
        assert_eq!(code(&decide(&dir.0, &format!("p-{i}"), "marketing")), 0);
    }
    all_at_once(
        &dir.0,
        (0..10)
            .map(|i| {
                strings(&[
                    "consent",
                    "stop",
                    "--ledger",
                    "c.ledger",
                    "--id",
                    &format!("stop-{i}"),
                    "--subject",
                    &format!("p-{i}"),
                    "--reply",
                    "STOP",
                    "--message-id",
                    &format!("wamid.stop{i}"),
                    "--at",
                    &(T0 + 120).to_string(),
                ])
            })
            .collect(),
    );
    for i in 0..10 {
        let out = decide(&dir.0, &format!("p-{i}"), "marketing");
        // Refused is exit code 1, so `decide ... && send` never sends.
        assert_eq!(code(&out), 1, "p-{i} still allowed: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("refused"), "{stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("caduceus: refused: "), "{stderr}");
    }
}

#[test]
fn forty_concurrent_audit_appends_chain_into_one_verifiable_log() {
    let dir = TempDir::new("state", "audit");
    ok(&dir.0, &AUDIT_KEYGEN_PSEUDONYM);
    ok(&dir.0, &audit_keygen_signing_args("s.key"));
    // The first append creates the log concurrently with the others.
    let times: Vec<String> = (0..40).map(|i| (T0 + i).to_string()).collect();
    all_at_once(
        &dir.0,
        times
            .iter()
            .map(|t| strings(&audit_append_args("l.log", t, &[])))
            .collect(),
    );
    ok(&dir.0, &audit_checkpoint_args("cp.txt"));
    let cp = fs::read_to_string(dir.path("cp.txt")).unwrap();
    let size = cp.lines().nth(1).unwrap();
    assert_eq!(size, "40", "{cp}");
    // And the log still takes appends.
    ok(&dir.0, &audit_append_args("l.log", &T0.to_string(), &[]));
}

#[test]
fn a_busy_state_file_fails_with_exit_code_4_and_changes_nothing() {
    let dir = TempDir::new("state", "busy");
    ledger_with_notice(&dir);
    let before = fs::read(dir.path("c.ledger")).unwrap();
    // Hold the ledger's lock in this process, as another writer would.
    let held = fs::File::open(dir.path("c.ledger")).unwrap();
    held.lock().unwrap();
    let args = record_args(1, "treatment-communication");
    let out = Command::new(BIN)
        .current_dir(&dir.0)
        .args(&args)
        .env("CADUCEUS_LOCK_TIMEOUT_MS", "200")
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("caduceus: busy: "), "{stderr}");
    held.unlock().unwrap();
    assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), before);
}

#[test]
fn no_command_overwrites_one_of_its_inputs() {
    let dir = TempDir::new("state", "inputs");
    let d = &dir.0;
    ledger_with_notice(&dir);
    ok(d, &AUDIT_KEYGEN_PSEUDONYM);
    ok(d, &audit_keygen_signing_args("s.key"));
    ok(d, &audit_append_args("l.log", &T0.to_string(), &[]));
    ok(d, &["keygen", "--kind", "practice", "-o", "practice.key"]);
    let cases: [&[&str]; 7] = [
        &[
            "consent",
            "export",
            "--ledger",
            "c.ledger",
            "--subject",
            "p-1",
            "--format",
            "fhir",
            "-o",
            "c.ledger",
        ],
        &["audit", "export-fhir", "--log", "l.log", "-o", "./l.log"],
        &["pubkey", "-i", "practice.key", "-o", "practice.key"],
        &[
            "open",
            "--identity",
            "practice.key",
            "-i",
            "l.log",
            "-o",
            "practice.key",
        ],
        &audit_checkpoint_args("s.key"),
        &audit_checkpoint_args("l.log"),
        &["audit", "keygen", "--kind", "pseudonym", "-o", "-"],
    ];
    let names = ["c.ledger", "practice.key", "s.key", "a.key"];
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(dir.path(n)).unwrap())
        .collect();
    let log_at_start = fs::read(dir.path("l.log")).unwrap();
    for args in cases {
        let out = run_caduceus(Some(d), args, None);
        assert_eq!(code(&out), 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
    }
    assert_eq!(fs::read(dir.path("l.log")).unwrap(), log_at_start);
    // Free text as an audit record id is refused, and the log is unchanged.
    let bad = audit_append_args(
        "l.log",
        "1763800000",
        &["--record", "Max Mustermann HIV positiv"],
    );
    let out = run_caduceus(Some(d), &bad, None);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Mustermann"));
    ok(
        d,
        &audit_append_args("l.log", "1763800000", &["--record", "env-4711"]),
    );
    let before_log = fs::read(dir.path("l.log")).unwrap();
    // A hard link is the same file under another name.
    fs::hard_link(dir.path("practice.key"), dir.path("link.key")).unwrap();
    let out = run_caduceus(
        Some(d),
        &["pubkey", "-i", "practice.key", "-o", "link.key"],
        None,
    );
    assert_eq!(code(&out), 2, "{out:?}");
    for (n, b) in names.iter().zip(&before) {
        assert_eq!(&fs::read(dir.path(n)).unwrap(), b, "{n} changed");
    }
    assert!(!dir.path("-").exists(), "a file named '-' was written");
    assert_eq!(fs::read(dir.path("l.log")).unwrap(), before_log);
    // The same commands with a fresh output file work.
    ok(d, &["pubkey", "-i", "practice.key", "-o", "practice.pub"]);
    let _ = p(&dir.path("practice.pub"));
}

/// Record in target/not-run.log (printed by `make test`'s summary) that a
/// check could not run on this machine.
fn not_run(what: &str) {
    use std::io::Write;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/not-run.log");
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{what}: NOT RUN (needs root to mount a small tmpfs)");
    }
    eprintln!("NOT RUN: {what} (needs root to mount a small tmpfs)");
}

#[test]
fn appends_on_a_full_disk_leave_the_log_and_the_ledger_byte_identical() {
    let dir = TempDir::new("state", "full");
    let mnt = dir.path("small");
    fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", p(&mnt)])
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        not_run("audit append and consent record on a full disk");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        ok(&mnt, &AUDIT_KEYGEN_PSEUDONYM);
        for i in 0..3 {
            ok(
                &mnt,
                &audit_append_args("l.log", &(T0 + i).to_string(), &[]),
            );
        }
        // A consent ledger too (its notice text beside it).
        ok(&mnt, &["consent", "init", "-o", "c.ledger"]);
        fs::write(mnt.join("hinweis.txt"), "Datenschutzhinweis: ...").unwrap();
        ok(
            &mnt,
            &consent_notice_args("c.ledger", "hinweis.txt", &T0.to_string()),
        );
        // Fill the file system to the last byte.
        let mut filler = fs::File::create(mnt.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut filler, &block).is_ok() {}
        while std::io::Write::write_all(&mut filler, &block[..1]).is_ok() {}
        drop(filler);
        // Appends fill the log's last page, then one fails part-way
        // (ENOSPC): it and every later one must leave the log as it was.
        let mut failures = 0;
        let mut appended = 0;
        for i in 0..200 {
            let before = fs::read(mnt.join("l.log")).unwrap();
            let out = run_caduceus(
                Some(&mnt),
                &audit_append_args("l.log", &(T0 + 10 + i).to_string(), &[]),
                None,
            );
            if out.status.success() {
                assert_eq!(failures, 0, "an append succeeded after the disk was full");
                appended += 1;
                continue;
            }
            assert_eq!(code(&out), 3, "{out:?}");
            assert_eq!(fs::read(mnt.join("l.log")).unwrap(), before, "log changed");
            failures += 1;
            if failures == 3 {
                break;
            }
        }
        assert_eq!(failures, 3, "the disk never filled up");
        // Consent records on the full disk: each one lands whole or leaves
        // the ledger byte-identical.
        let (mut recorded, mut refused) = (0usize, 0);
        for i in 0..200 {
            let before = fs::read(mnt.join("c.ledger")).unwrap();
            let out = run_caduceus(Some(&mnt), &to_strs(&record_args(i, "marketing")), None);
            if out.status.success() {
                assert_eq!(refused, 0, "a record succeeded after the disk was full");
                recorded += 1;
                continue;
            }
            assert_eq!(code(&out), 3, "{out:?}");
            assert_eq!(
                fs::read(mnt.join("c.ledger")).unwrap(),
                before,
                "ledger changed"
            );
            refused += 1;
            if refused == 3 {
                break;
            }
        }
        assert_eq!(refused, 3, "the disk never filled up for the ledger");
        // Space returns: appends work again and the log verifies.
        fs::remove_file(mnt.join("filler")).unwrap();
        ok(&mnt, &to_strs(&record_args(500, "marketing")));
        for i in (0..recorded).chain([500]) {
            let out = run_caduceus(
                Some(&mnt),
                &[
                    "consent",
                    "decide",
                    "--ledger",
                    "c.ledger",
                    "--purpose",
                    "marketing",
                    "--subject",
                    &format!("p-{i}"),
                    "--at",
                    &(T0 + 600).to_string(),
                ],
                None,
            );
            assert_eq!(code(&out), 0, "p-{i}: {out:?}");
        }
        ok(
            &mnt,
            &audit_append_args("l.log", &(T0 + 20).to_string(), &[]),
        );
        ok(&mnt, &audit_keygen_signing_args("s.key"));
        ok(&mnt, &audit_checkpoint_args("cp.txt"));
        let cp = fs::read_to_string(mnt.join("cp.txt")).unwrap();
        let size = (4 + appended).to_string();
        assert_eq!(cp.lines().nth(1), Some(size.as_str()), "{cp}");
    });
    let _ = Command::new("umount").arg(p(&mnt)).output();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn ledger_cmd(dir: &Path, sub: &str) -> Output {
    run_caduceus(Some(dir), &["consent", sub, "--ledger", "c.ledger"], None)
}

#[test]
fn a_torn_consent_ledger_is_refused_until_repair_cuts_only_the_torn_entry() {
    let dir = TempDir::new("state", "torn-ledger");
    let d = &dir.0;
    ledger_with_notice(&dir);
    for i in 0..3 {
        ok(d, &to_strs(&record_args(i, "marketing")));
    }
    let complete = fs::read(dir.path("c.ledger")).unwrap();
    // An append is exactly one entry more: the file before it is a prefix.
    ok(d, &to_strs(&record_args(3, "marketing")));
    let four = fs::read(dir.path("c.ledger")).unwrap();
    assert!(four.starts_with(&complete));
    // A crash part-way through the fourth append: cut it anywhere inside.
    for cut in [1, 5, 20, four.len() - complete.len() - 1] {
        let torn = &four[..complete.len() + cut];
        fs::write(dir.path("c.ledger"), torn).unwrap();
        // Every command refuses it (exit 3), naming the repair, and changes nothing.
        let out = run_caduceus(Some(d), &to_strs(&record_args(9, "marketing")), None);
        assert_eq!(code(&out), 3, "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("incomplete entry") && err.contains("consent repair"),
            "{err}"
        );
        assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), torn);
        assert_eq!(code(&decide(d, "p-0", "marketing")), 3);
        // Repair cuts exactly the torn entry and says so.
        let out = ledger_cmd(d, "repair");
        assert_eq!(code(&out), 0, "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(&format!("cut {cut} bytes")), "{said}");
        assert!(said.contains("(3 events)"), "{said}");
        assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), complete);
        for i in 0..3 {
            assert_eq!(code(&decide(d, &format!("p-{i}"), "marketing")), 0);
        }
    }
    // An intact ledger: nothing cut.
    let out = ledger_cmd(d, "repair");
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact (3 events); nothing cut"));
    assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), complete);
    // A damaged complete entry is never cut: repair refuses, the file stays.
    let mut damaged = complete.clone();
    let at = damaged.len() - 40;
    damaged[at] ^= 1;
    fs::write(dir.path("c.ledger"), &damaged).unwrap();
    let out = ledger_cmd(d, "repair");
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("restore it from a backup"));
    assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), damaged);
    // After the repair appends work again.
    fs::write(dir.path("c.ledger"), &complete).unwrap();
    ok(d, &to_strs(&record_args(3, "marketing")));
    assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), four);
}

fn to_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn audit_log(dir: &TempDir, n: i64) -> Vec<u8> {
    ok(&dir.0, &AUDIT_KEYGEN_PSEUDONYM);
    for i in 0..n {
        ok(
            &dir.0,
            &audit_append_args("l.log", &(T0 + i).to_string(), &[]),
        );
    }
    fs::read(dir.path("l.log")).unwrap()
}

fn log_cmd(dir: &Path, args: &[&str]) -> Output {
    run_caduceus(Some(dir), args, None)
}

#[test]
fn a_torn_audit_log_is_refused_until_repair_cuts_only_the_torn_record() {
    let dir = TempDir::new("state", "torn-log");
    let d = &dir.0;
    let three = audit_log(&dir, 3);
    ok(d, &audit_append_args("l.log", &(T0 + 3).to_string(), &[]));
    let four = fs::read(dir.path("l.log")).unwrap();
    assert!(four.starts_with(&three));
    for cut in [1, 3, 4, 10, four.len() - three.len() - 1] {
        let torn = &four[..three.len() + cut];
        fs::write(dir.path("l.log"), torn).unwrap();
        let out = log_cmd(d, &audit_append_args("l.log", &(T0 + 9).to_string(), &[]));
        assert_eq!(code(&out), 3, "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("incomplete record") && err.contains("audit repair"),
            "{err}"
        );
        assert_eq!(fs::read(dir.path("l.log")).unwrap(), torn);
        // verify reports it as a failed verification (exit 1).
        let out = log_cmd(d, &["audit", "verify", "--log", "l.log"]);
        assert_eq!(code(&out), 1, "{out:?}");
        let out = log_cmd(d, &["audit", "repair", "--log", "l.log"]);
        assert_eq!(code(&out), 0, "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(&format!("cut {cut} bytes")), "{said}");
        assert!(said.contains("kept 3 entries"), "{said}");
        assert_eq!(fs::read(dir.path("l.log")).unwrap(), three);
    }
    let out = log_cmd(d, &["audit", "repair", "--log", "l.log"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact (3 entries); nothing cut"));
    // A damaged complete entry is never cut (entry 1: entry 2's link fails).
    let mut damaged = three.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 1;
    fs::write(dir.path("l.log"), &damaged).unwrap();
    let out = log_cmd(d, &["audit", "repair", "--log", "l.log"]);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was cut"));
    assert_eq!(fs::read(dir.path("l.log")).unwrap(), damaged);
    // The log's very first append, interrupted inside the header: repair
    // leaves an empty file, and the next append creates the log.
    fs::write(dir.path("l.log"), &three[..8]).unwrap();
    let out = log_cmd(d, &["audit", "repair", "--log", "l.log"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("incomplete header"),
        "{out:?}"
    );
    assert_eq!(fs::read(dir.path("l.log")).unwrap().len(), 0);
    ok(d, &audit_append_args("l.log", &T0.to_string(), &[]));
    ok(d, &["audit", "verify", "--log", "l.log"]);
}

#[test]
fn a_log_refuses_appends_made_with_another_pseudonym_key() {
    let dir = TempDir::new("state", "log-key");
    let d = &dir.0;
    let before = audit_log(&dir, 2);
    // The header records the key's fingerprint after the origin.
    let origin = "praxis.example/audit";
    assert_eq!(
        &before[..6],
        &[b'C', b'D', b'A', b'L', 2, origin.len() as u8]
    );
    fs::rename(dir.path("a.key"), dir.path("first.key")).unwrap();
    ok(d, &AUDIT_KEYGEN_PSEUDONYM);
    let out = log_cmd(d, &audit_append_args("l.log", &(T0 + 5).to_string(), &[]));
    assert_eq!(code(&out), 1, "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("another pseudonym key"));
    assert_eq!(fs::read(dir.path("l.log")).unwrap(), before);
    // The log's own key still appends.
    fs::rename(dir.path("first.key"), dir.path("a.key")).unwrap();
    ok(d, &audit_append_args("l.log", &(T0 + 5).to_string(), &[]));
}

#[test]
fn a_format_1_log_is_read_and_its_first_append_records_the_key() {
    let dir = TempDir::new("state", "log-v1");
    let d = &dir.0;
    let v2 = audit_log(&dir, 3);
    ok(d, &audit_keygen_signing_args("s.key"));
    ok(d, &audit_checkpoint_args("cp3.txt"));
    // Format 1 is format 2 without the fingerprint.
    let olen = usize::from(v2[5]);
    let mut v1 = v2[..6 + olen].to_vec();
    v1[4] = 1;
    v1.extend_from_slice(&v2[6 + olen + 16..]);
    fs::write(dir.path("l.log"), &v1).unwrap();
    let vkey = fs::read_to_string(dir.path("s.key")).unwrap();
    let vkey = vkey
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# verifier key: ");
    let verify = || {
        ok(
            d,
            &[
                "audit",
                "verify",
                "--log",
                "l.log",
                "--checkpoint",
                "cp3.txt",
                "--vkey",
                vkey,
            ],
        )
    };
    assert!(verify().starts_with("OK: 3 entries"));
    let out = log_cmd(d, &audit_append_args("l.log", &(T0 + 3).to_string(), &[]));
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recorded the pseudonym key's fingerprint")
    );
    let now = fs::read(dir.path("l.log")).unwrap();
    assert!(
        now.starts_with(&v2),
        "the upgraded log is the format-2 log plus the new entry"
    );
    // The old checkpoint still verifies: entries did not change.
    assert!(verify().starts_with("OK: 4 entries"), "{}", verify());
}

#[test]
fn verify_reads_a_log_in_memory_independent_of_its_size() {
    use caduceus_core::audit::{Action, AuditEvent, AuditKey, AuditLog, PseudonymKind};
    let dir = TempDir::new("state", "log-memory");
    let d = &dir.0;
    let key = AuditKey::from_bytes([9; 32]);
    fs::write(dir.path("a.key"), format!("{}\n", &*key.to_secret_string())).unwrap();
    // A 64 MiB log written from docs/AUDIT.md section 8.
    let origin = "praxis.example/audit";
    let mut file = b"CDAL\x02".to_vec();
    file.push(origin.len() as u8);
    file.extend_from_slice(origin.as_bytes());
    file.extend_from_slice(&key.fingerprint());
    let mut log = AuditLog::new(origin).unwrap();
    let actor = key.pseudonym(PseudonymKind::Staff, "dr.mueller");
    let mut n = 0u64;
    while file.len() < 64 << 20 {
        let event = AuditEvent::new(
            T0 * 1000 + n as i64,
            actor.clone(),
            "doctor",
            Action::Read,
            "pms",
        )
        .unwrap()
        .category("x-ray")
        .unwrap();
        let e = log.append(&event).unwrap();
        file.extend_from_slice(&(e.bytes.len() as u32).to_be_bytes());
        file.extend_from_slice(&e.bytes);
        n += 1;
    }
    fs::write(dir.path("l.log"), &file).unwrap();
    drop(file);
    // With its address space capped at 32 MiB (half the file), verify and an
    // append still run: neither holds the file in memory.
    let capped = |args: &[&str]| {
        Command::new("prlimit")
            .arg(format!("--as={}", 32 << 20))
            .arg(BIN)
            .args(args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let out = capped(&["audit", "verify", "--log", "l.log"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("OK: {n} entries")));
    let out = capped(&audit_append_args(
        "l.log",
        &(T0 + 1_000_000).to_string(),
        &[],
    ));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("appended entry {n}")));
}

/// Issue 11: consent commands on a ledger of 64 MiB run with their address
/// space capped at 32 MiB. They read it scoped (docs/CONSENT.md 5.4): every
/// entry is checked and hashed in passing, but only the named subject's
/// events are held.
#[test]
fn consent_commands_run_in_memory_independent_of_the_ledger_size() {
    use caduceus_core::consent::{ConsentEvent, ConsentMethod, ConsentStatus, LedgerReader};
    let dir = TempDir::new("state", "ledger-memory");
    let d = &dir.0;
    ledger_with_notice(&dir);
    let mut file = fs::read(dir.path("c.ledger")).unwrap();
    let mut reader = LedgerReader::new();
    reader.feed(&file).unwrap();
    let mut ledger = reader.finish().unwrap();
    let notice = ledger.notice_ref("privacy-chat", 1, "de").unwrap();
    // Grants for 20,000 subjects, then more events for them, written by the
    // library as appends until the file passes 64 MiB.
    let mut n = 0u64;
    while file.len() < 64 << 20 {
        let time = T0 + 60 + n as i64;
        let event = ConsentEvent {
            id: format!("bulk-{n}"),
            subject: format!("p-{}", n % 20_000),
            purposes: vec!["marketing".into(), "recall".into()],
            status: ConsentStatus::Given,
            method: ConsentMethod::QrReception,
            notice: Some(notice.clone()),
            channel: "reception-qr".into(),
            evidence: Some(format!("form-{n}")),
            recorded_by: "staff-12".into(),
            time,
            expires_at: None,
        };
        ledger.append(event, time).unwrap();
        n += 1;
        if n.is_multiple_of(4096) {
            let save = ledger.unsaved();
            file.extend_from_slice(save.bytes());
            ledger.mark_saved(&save).unwrap();
        }
    }
    let save = ledger.unsaved();
    file.extend_from_slice(save.bytes());
    ledger.mark_saved(&save).unwrap();
    drop(ledger);
    fs::write(dir.path("c.ledger"), &file).unwrap();
    drop(file);
    let late = (T0 + 60 + n as i64 + 10).to_string();
    let capped = |args: &[&str]| {
        Command::new("prlimit")
            .arg(format!("--as={}", 32 << 20))
            .arg(BIN)
            .args(args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let decide = |subject: &str| {
        capped(&[
            "consent",
            "decide",
            "--ledger",
            "c.ledger",
            "--subject",
            subject,
            "--purpose",
            "marketing",
            "--at",
            &late,
        ])
    };
    let out = decide("p-7");
    assert_eq!(code(&out), 0, "{out:?}");
    let out = capped(&[
        "consent",
        "stop",
        "--ledger",
        "c.ledger",
        "--id",
        "stop-p-7",
        "--subject",
        "p-7",
        "--reply",
        "STOP",
        "--message-id",
        "wamid.stop7",
        "--at",
        &late,
    ]);
    assert_eq!(code(&out), 0, "{out:?}");
    let out = decide("p-7");
    assert_eq!(code(&out), 1, "a STOP on a large ledger must hold: {out:?}");
    assert_eq!(code(&decide("p-8")), 0);
    let mut args = record_args(20_001, "recall");
    let at = args.iter().position(|a| a == "--at").unwrap() + 1;
    args[at] = late.clone();
    let out = capped(&to_strs(&args));
    assert_eq!(code(&out), 0, "{out:?}");
    let out = capped(&[
        "consent",
        "history",
        "--ledger",
        "c.ledger",
        "--subject",
        "p-7",
    ]);
    assert_eq!(code(&out), 0, "{out:?}");
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(history.contains("stop-p-7"), "{history}");
    assert!(
        !history.contains("bulk-8 "),
        "another subject's event: {history}"
    );
    // A torn tail on the large file: repair cuts only it, in capped memory.
    let whole = fs::metadata(dir.path("c.ledger")).unwrap().len();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(dir.path("c.ledger"))
        .unwrap();
    std::io::Write::write_all(&mut f, &[4, 0, 0, 1, 0, 7]).unwrap();
    drop(f);
    let out = capped(&["consent", "repair", "--ledger", "c.ledger"]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cut 6 bytes"),
        "{out:?}"
    );
    assert_eq!(fs::metadata(dir.path("c.ledger")).unwrap().len(), whole);
    assert_eq!(code(&decide("p-7")), 1);
}

#[test]
fn a_name_or_phone_number_is_refused_as_a_consent_subject() {
    let dir = TempDir::new("state", "subjects");
    let d = &dir.0;
    ledger_with_notice(&dir);
    let before = fs::read(dir.path("c.ledger")).unwrap();
    for bad in [
        "Max Mustermann",
        "+49 170 1234567",
        "491701234567",
        "max.mustermann@example.de",
    ] {
        let mut args = record_args(0, "marketing");
        let at = args.iter().position(|a| a == "--subject").unwrap() + 1;
        args[at] = bad.to_owned();
        let out = run_caduceus(Some(d), &to_strs(&args), None);
        assert_eq!(code(&out), 2, "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--subject"), "{err}");
        assert!(
            !err.contains(bad) && !err.contains("Mustermann"),
            "echoed: {err}"
        );
        assert_eq!(fs::read(dir.path("c.ledger")).unwrap(), before);
    }
}

#[test]
fn an_invalid_option_value_is_not_repeated_in_the_error() {
    let dir = TempDir::new("state", "echo");
    let d = &dir.0;
    ok(d, &AUDIT_KEYGEN_PSEUDONYM);
    let secret = "Max Mustermann HIV positiv";
    let t = T0.to_string();
    let mut args = audit_append_args("l.log", &t, &[]);
    let at = args.iter().position(|a| *a == "--action").unwrap() + 1;
    args[at] = secret;
    let out = run_caduceus(Some(d), &args, None);
    assert_eq!(code(&out), 2, "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--action") && err.contains("unknown action"),
        "{err}"
    );
    assert!(
        !err.contains("Mustermann") && !err.contains("HIV"),
        "echoed: {err}"
    );
    // An enum option too: the possible values, not the value given.
    ledger_with_notice(&dir);
    let mut args = record_args(0, "marketing");
    let at = args.iter().position(|a| a == "--status").unwrap() + 1;
    args[at] = secret.to_owned();
    let out = run_caduceus(Some(d), &to_strs(&args), None);
    assert_eq!(code(&out), 2, "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("possible values"), "{err}");
    assert!(!err.contains("Mustermann"), "echoed: {err}");
}

#[test]
fn no_output_replaces_an_existing_ledger_log_keyring_or_secret_key() {
    let dir = TempDir::new("state", "protect");
    let d = &dir.0;
    ledger_with_notice(&dir);
    ok(d, &to_strs(&record_args(0, "marketing")));
    fs::copy(dir.path("c.ledger"), dir.path("other.ledger")).unwrap();
    audit_log(&dir, 2);
    fs::copy(dir.path("l.log"), dir.path("other.log")).unwrap();
    ok(d, &["keygen", "--kind", "practice", "-o", "practice.key"]);
    ok(d, &["keygen", "--kind", "staff", "-o", "staff.key"]);
    ok(d, &audit_keygen_signing_args("s.key"));
    let pubkey = ok(d, &["pubkey", "-i", "practice.key"]);
    fs::write(dir.path("msg.txt"), "Befund: ...").unwrap();
    ok(
        d,
        &[
            "seal",
            "--to",
            pubkey.trim(),
            "-l",
            "subject=p-1",
            "-l",
            "category=message",
            "-l",
            "purpose=treatment-communication",
            "-i",
            "msg.txt",
            "-o",
            "msg.cdu",
        ],
    );
    let protected = ["other.ledger", "other.log", "staff.key", "a.key", "s.key"];
    let before: Vec<Vec<u8>> = protected
        .iter()
        .map(|n| fs::read(dir.path(n)).unwrap())
        .collect();
    let attempts: Vec<Vec<&str>> = vec![
        vec![
            "consent",
            "export",
            "--ledger",
            "c.ledger",
            "--subject",
            "p-0",
            "--format",
            "fhir",
            "-o",
            "other.ledger",
        ],
        vec!["audit", "export-fhir", "--log", "l.log", "-o", "other.log"],
        vec![
            "open",
            "--identity",
            "practice.key",
            "-i",
            "msg.cdu",
            "-o",
            "staff.key",
        ],
        vec!["pubkey", "-i", "practice.key", "-o", "a.key"],
        vec![
            "seal",
            "--to",
            pubkey.trim(),
            "-l",
            "subject=p-1",
            "-l",
            "category=message",
            "-l",
            "purpose=treatment-communication",
            "-i",
            "msg.txt",
            "-o",
            "s.key",
        ],
    ];
    for args in &attempts {
        let out = run_caduceus(Some(d), args, None);
        assert_eq!(code(&out), 2, "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"),
            "{out:?}"
        );
    }
    for (n, b) in protected.iter().zip(&before) {
        assert_eq!(&fs::read(dir.path(n)).unwrap(), b, "{n} changed");
    }
    // An ordinary existing output is still replaced.
    fs::write(dir.path("plain.txt"), "old").unwrap();
    ok(
        d,
        &[
            "open",
            "--identity",
            "practice.key",
            "-i",
            "msg.cdu",
            "-o",
            "plain.txt",
        ],
    );
    assert_eq!(
        fs::read_to_string(dir.path("plain.txt")).unwrap(),
        "Befund: ..."
    );
}

#[test]
fn appends_interrupted_by_sigterm_and_sigint_never_leave_a_torn_record() {
    let dir = TempDir::new("state", "signals");
    let d = &dir.0;
    audit_log(&dir, 1);
    ledger_with_notice(&dir);
    for round in 0..4u64 {
        let mut children = Vec::new();
        for i in 0..12u64 {
            let t = (T0 + 10 + (round * 100 + i) as i64).to_string();
            children.push(spawn(d, &strings(&audit_append_args("l.log", &t, &[]))));
            let r = record_args((round * 100 + i) as usize, "marketing");
            children.push(spawn(d, &r));
        }
        std::thread::sleep(std::time::Duration::from_millis(5 + 10 * round));
        for (k, c) in children.iter().enumerate() {
            let sig = if k % 2 == 0 { "-TERM" } else { "-INT" };
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
        for c in children {
            let _ = c.wait_with_output();
        }
        // Whatever was interrupted, both files are whole.
        let out = log_cmd(d, &["audit", "repair", "--log", "l.log"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("nothing cut"),
            "{out:?}"
        );
        let out = ledger_cmd(d, "repair");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("nothing cut"),
            "{out:?}"
        );
        ok(d, &["audit", "verify", "--log", "l.log"]);
    }
}

#[test]
fn audit_repair_never_cuts_a_complete_entry_whose_length_was_damaged() {
    let dir = TempDir::new("state", "log-length");
    let d = &dir.0;
    let two = audit_log(&dir, 2);
    ok(d, &audit_append_args("l.log", &(T0 + 2).to_string(), &[]));
    let three = fs::read(dir.path("l.log")).unwrap();
    // Raise the third record's length past the end of the file.
    let at = two.len();
    let len = u32::from_be_bytes(three[at..at + 4].try_into().unwrap());
    let mut damaged = three.clone();
    damaged[at..at + 4].copy_from_slice(&(len + 50).to_be_bytes());
    fs::write(dir.path("l.log"), &damaged).unwrap();
    let out = log_cmd(d, &["audit", "repair", "--log", "l.log"]);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("length field is damaged"),
        "{out:?}"
    );
    assert_eq!(fs::read(dir.path("l.log")).unwrap(), damaged);
}
