#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The command line's own input size limits (docs/LIMITS.md, section 9):
//! each file the command line reads whole is refused one byte past its
//! limit with "WHAT PATH is too large (more than LIMIT)", exit code 1 and
//! nothing written; at the limit it passes the size check and is accepted
//! or refused for its content.
//!
//! All the limits are enforced by one helper (`cli/src/files.rs`
//! `read_limited`), which checks a regular file's size before reading it.
//! The limits of a GiB and more are tested one past the limit on sparse
//! files (`File::set_len`), which the helper must refuse without reading
//! them (reading one would allocate gigabytes). At the limit, such a file
//! would be read whole; those limits are covered at the limit by the same
//! helper's tests at the 1 MiB, 64 KiB and 64 MiB limits below.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::fs::{self, File};
use std::path::Path;
use std::process::Output;

use caduceus_core::audit::Checkpoint;
use caduceus_core::audit::note::{self, NoteSigner, NoteVerifier};

mod common;
use common::{
    AUDIT_KEYGEN_PSEUDONYM, LABELS, TempDir, audit_append_args, audit_checkpoint_args,
    audit_keygen_signing_args, audit_verify_args, audit_verify_proof_args, consent_notice_args,
    consent_record_args, run_caduceus,
};

const T0: i64 = 1_763_800_000;

/// `cli/src/files.rs` `MAX_KEY_FILE`.
const MAX_KEY_FILE: u64 = 1 << 20;
/// `cli/src/commands/consent.rs` `MAX_LEDGER`.
const MAX_LEDGER: u64 = 4 << 30;
/// `cli/src/commands/consent.rs` `MAX_TEXT`.
const MAX_TEXT: u64 = 64 << 20;
/// `cli/src/commands/policy.rs` `MAX_INPUT`.
const MAX_INPUT: u64 = 1 << 30;
/// `cli/src/commands/audit.rs` `MAX_LOG_FILE`.
const MAX_LOG_FILE: u64 = 1 << 34;
/// `cli/src/commands/audit.rs` `MAX_CHECKPOINT_FILE`.
const MAX_CHECKPOINT_FILE: u64 = 1 << 20;
/// `cli/src/commands/audit.rs` `MAX_PROOF_FILE`.
const MAX_PROOF_FILE: u64 = 64 << 10;

fn run<S: AsRef<OsStr>>(dir: &TempDir, args: &[S]) -> Output {
    run_caduceus(Some(&dir.0), args, None)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Require success; returns standard output.
fn ok<S: AsRef<OsStr> + Debug>(dir: &TempDir, args: &[S]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The "too large" error line of a file past `limit` (e.g. "1 MiB").
fn too_large(what: &str, path: &str, limit: &str) -> String {
    format!("{what} {path} is too large (more than {limit})")
}

/// Require that `out` failed with exit code 3, one error line holding
/// `needle`, and nothing on standard output.
fn refused(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with("caduceus: error: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Run `args` in `dir`, require the "too large" refusal, and require that
/// no file of `dir` was created, removed or changed.
fn refused_unchanged<S: AsRef<OsStr> + Debug>(dir: &TempDir, args: &[S], needle: &str) {
    let before = snapshot(dir);
    refused(&run(dir, args), needle);
    assert_eq!(snapshot(dir), before, "{args:?} changed the directory");
}

/// Names, sizes and (for files up to 2 MiB) contents of the files in `dir`.
fn snapshot(dir: &TempDir) -> Vec<(String, u64, Option<Vec<u8>>)> {
    dir.listing()
        .into_iter()
        .map(|name| {
            let path = dir.path(&name);
            let len = fs::metadata(&path).unwrap().len();
            let data = (len <= 2 << 20).then(|| fs::read(&path).unwrap());
            (name, len, data)
        })
        .collect()
}

/// A sparse file of `len` bytes (zeros), which takes no disk space.
fn sparse(path: &Path, len: u64) {
    File::create(path).unwrap().set_len(len).unwrap();
}

/// `text` followed by a comment line that pads it to exactly `len` bytes.
fn padded(text: &str, len: u64) -> Vec<u8> {
    let mut out = format!("{text}\n#").into_bytes();
    let len = usize::try_from(len).unwrap();
    assert!(out.len() < len);
    out.resize(len - 1, b'x');
    out.push(b'\n');
    out
}

/// Identity and recipients files of exactly 1 MiB are read (and work); one
/// byte more is refused, from a file and from standard input.
#[test]
fn key_files_at_and_past_max_key_file() {
    let dir = TempDir::new("limits", "keys");
    ok(&dir, &["keygen", "-o", "id.key"]);
    let identity = fs::read_to_string(dir.path("id.key")).unwrap();
    let public = identity
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    fs::write(dir.path("msg.txt"), b"Befund anbei").unwrap();

    // A recipients file: at the limit it seals, one byte more is refused.
    fs::write(dir.path("to-at"), padded(&public, MAX_KEY_FILE)).unwrap();
    fs::write(dir.path("to-past"), padded(&public, MAX_KEY_FILE + 1)).unwrap();
    let seal = |to: &'static str, out: &'static str| {
        let mut args = vec!["seal", "--to-file", to, "-i", "msg.txt", "-o", out];
        args.extend(LABELS);
        args
    };
    ok(&dir, &seal("to-at", "msg.cdu"));
    refused_unchanged(
        &dir,
        &seal("to-past", "past.cdu"),
        &too_large("recipients file", "to-past", "1 MiB"),
    );

    // An identity file: at the limit it opens, one byte more is refused.
    fs::write(dir.path("id-at"), padded(identity.trim_end(), MAX_KEY_FILE)).unwrap();
    fs::write(
        dir.path("id-past"),
        padded(identity.trim_end(), MAX_KEY_FILE + 1),
    )
    .unwrap();
    let open = |id: &'static str, out: &'static str| {
        ["open", "--identity", id, "-i", "msg.cdu", "-o", out]
    };
    ok(&dir, &open("id-at", "msg.out"));
    assert_eq!(fs::read(dir.path("msg.out")).unwrap(), b"Befund anbei");
    refused_unchanged(
        &dir,
        &open("id-past", "past.out"),
        &too_large("identity file", "id-past", "1 MiB"),
    );

    // The same through standard input, whose size is not known in advance:
    // read up to the limit and one byte more.
    let piped = |id: &str| {
        run_caduceus(
            Some(&dir.0),
            &["open", "--identity", "-", "-i", "msg.cdu"],
            Some(&fs::read(dir.path(id)).unwrap()),
        )
    };
    let at = piped("id-at");
    assert!(at.status.success(), "{}", stderr(&at));
    assert_eq!(at.stdout, b"Befund anbei");
    refused(&piped("id-past"), &too_large("identity file", "-", "1 MiB"));
}

/// A new consent ledger `consent.ledger` with the default policy.
fn ledger(dir: &TempDir) {
    ok(dir, &["consent", "init", "-o", "consent.ledger"]);
}

/// Consent text inputs (policy, notice text, subjects): 64 MiB. At the
/// limit the file is read and refused by the core's own, smaller limits.
#[test]
fn consent_text_files_at_and_past_max_text() {
    let dir = TempDir::new("limits", "consent-text");
    ledger(&dir);
    sparse(&dir.path("at"), MAX_TEXT);
    sparse(&dir.path("past"), MAX_TEXT + 1);
    let notice = |file: &'static str| consent_notice_args("consent.ledger", file, "1763800000");
    let before = snapshot(&dir);
    let at = run(&dir, &notice("at"));
    refused(&at, "notice text must be 1 to 65536 bytes");
    assert!(!stderr(&at).contains("too large"), "{}", stderr(&at));
    assert_eq!(snapshot(&dir), before);
    refused_unchanged(
        &dir,
        &notice("past"),
        &too_large("notice text file", "past", "64 MiB"),
    );

    // A consent policy file for a new ledger.
    let at = run(
        &dir,
        &["consent", "init", "--policy", "at", "-o", "new.ledger"],
    );
    refused(&at, "65536");
    assert!(!stderr(&at).contains("too large ("), "{}", stderr(&at));
    refused_unchanged(
        &dir,
        &["consent", "init", "--policy", "past", "-o", "new.ledger"],
        &too_large("policy file", "past", "64 MiB"),
    );

    // A subjects file.
    refused_unchanged(
        &dir,
        &[
            "consent",
            "decide",
            "--ledger",
            "consent.ledger",
            "--purpose",
            "treatment-communication",
            "--subjects-file",
            "past",
        ],
        &too_large("subjects file", "past", "64 MiB"),
    );
}

/// A ledger file one byte past 4 GiB (sparse) is refused without being
/// read, by every command, and left as it is.
#[test]
fn consent_ledger_past_max_ledger() {
    let dir = TempDir::new("limits", "ledger");
    sparse(&dir.path("big.ledger"), MAX_LEDGER + 1);
    let needle = too_large("ledger file", "big.ledger", "4 GiB");
    let t0 = T0.to_string();
    refused_unchanged(
        &dir,
        &consent_record_args(
            "big.ledger",
            &[
                "--status",
                "given",
                "--method",
                "qr-reception",
                "--channel",
                "reception",
                "--recorded-by",
                "staff-12",
                "--at",
                &t0,
            ],
        ),
        &needle,
    );
    refused_unchanged(
        &dir,
        &[
            "consent",
            "history",
            "--ledger",
            "big.ledger",
            "--subject",
            "p-1",
        ],
        &needle,
    );
}

/// Retention policy, records and holds files one byte past 1 GiB (sparse)
/// are refused without being read; no output file is written.
#[test]
fn policy_files_past_max_input() {
    let dir = TempDir::new("limits", "policy");
    sparse(&dir.path("big"), MAX_INPUT + 1);
    fs::write(dir.path("records.json"), "[]").unwrap();
    refused_unchanged(
        &dir,
        &["policy", "lint", "-p", "big"],
        &too_large("policy file", "big", "1 GiB"),
    );
    refused_unchanged(
        &dir,
        &[
            "policy",
            "sweep",
            "--records",
            "big",
            "--date",
            "2026-01-31",
            "-o",
            "out.json",
        ],
        &too_large("records file", "big", "1 GiB"),
    );
    refused_unchanged(
        &dir,
        &[
            "policy",
            "sweep",
            "--records",
            "records.json",
            "--holds",
            "big",
            "--date",
            "2026-01-31",
            "-o",
            "out.json",
        ],
        &too_large("holds file", "big", "1 GiB"),
    );
}

/// An audit log with `n` entries (`l.log`), a pseudonym key (`a.key`) and a
/// signing key (`s.key`); returns the verifier key text.
fn audit_log(dir: &TempDir, n: usize) -> String {
    ok(dir, &AUDIT_KEYGEN_PSEUDONYM);
    let vkey = ok(dir, &audit_keygen_signing_args("s.key"));
    for i in 0..n {
        let time = (T0 + i as i64).to_string();
        ok(dir, &audit_append_args("l.log", &time, &[]));
    }
    vkey.trim().to_owned()
}

/// An audit log file one byte past 16 GiB (sparse) is refused without being
/// read, and nothing is appended to it.
#[test]
fn audit_log_past_max_log_file() {
    let dir = TempDir::new("limits", "audit-log");
    audit_log(&dir, 0);
    sparse(&dir.path("big.log"), MAX_LOG_FILE + 1);
    let needle = too_large("log file", "big.log", "16 GiB");
    refused_unchanged(&dir, &["audit", "verify", "--log", "big.log"], &needle);
    refused_unchanged(
        &dir,
        &["audit", "export-fhir", "--log", "big.log", "-o", "out.json"],
        &needle,
    );
    let time = T0.to_string();
    refused_unchanged(&dir, &audit_append_args("big.log", &time, &[]), &needle);
}

/// A signed checkpoint of exactly 1 MiB (the core's `MAX_NOTE_LEN`, padded
/// with an extension line) verifies; one byte more is refused by the
/// command line before the core sees it.
#[test]
fn checkpoint_files_at_and_past_max_checkpoint_file() {
    assert_eq!(MAX_CHECKPOINT_FILE, note::MAX_NOTE_LEN as u64);
    let dir = TempDir::new("limits", "checkpoint");
    let vkey = audit_log(&dir, 3);
    ok(&dir, &audit_checkpoint_args("cp.txt"));
    let proof = ok(&dir, &["audit", "prove", "--log", "l.log", "--index", "1"]);
    fs::write(dir.path("proof.txt"), &proof).unwrap();

    // Sign the same checkpoint with an extension line that pads the signed
    // note to `len` bytes.
    let key_text = fs::read_to_string(dir.path("s.key")).unwrap();
    let signer =
        NoteSigner::parse(key_text.lines().find(|l| !l.starts_with('#')).unwrap()).unwrap();
    let verifier = NoteVerifier::parse(&vkey).unwrap();
    let mut cp = Checkpoint::open(
        &fs::read_to_string(dir.path("cp.txt")).unwrap(),
        &[verifier],
    )
    .unwrap();
    cp.extensions = vec!["x".to_owned()];
    let base = cp.sign(&[&signer]).unwrap().len() as u64;
    let signed = |len: u64| {
        let mut cp = cp.clone();
        cp.extensions = vec!["x".repeat(usize::try_from(1 + len - base).unwrap())];
        let text = note::sign(&cp.to_text(), &[&signer]).unwrap();
        assert_eq!(text.len() as u64, len);
        text
    };
    fs::write(dir.path("cp-at.txt"), signed(MAX_CHECKPOINT_FILE)).unwrap();
    // Past the limit the core refuses to sign (and to open), so the note is
    // built by hand: one more byte at the end of the extension line. That
    // breaks the signature, but the command line refuses the file by its
    // size before anything else.
    let mut past = signed(MAX_CHECKPOINT_FILE);
    past.insert(past.rfind("\n\n").unwrap(), 'x');
    assert_eq!(past.len() as u64, MAX_CHECKPOINT_FILE + 1);
    fs::write(dir.path("cp-past.txt"), past).unwrap();

    let verify = |cp: &'static str| audit_verify_args(cp, &vkey);
    let out = ok(&dir, &verify("cp-at.txt"));
    assert!(out.contains("1 checkpoint(s) matched"), "{out}");
    refused_unchanged(
        &dir,
        &verify("cp-past.txt"),
        &too_large("checkpoint", "cp-past.txt", "1 MiB"),
    );

    // `verify-proof` reads checkpoints with the same limit.
    let verify_proof = |cp: &'static str| audit_verify_proof_args("proof.txt", cp, &vkey);
    let out = ok(&dir, &verify_proof("cp-at.txt"));
    assert!(out.starts_with("OK: entry 1 "), "{out}");
    refused_unchanged(
        &dir,
        &verify_proof("cp-past.txt"),
        &too_large("checkpoint", "cp-past.txt", "1 MiB"),
    );
    // ... also as the older checkpoint of a consistency proof.
    let consistency = ok(
        &dir,
        &["audit", "prove", "--log", "l.log", "--old-size", "2"],
    );
    fs::write(dir.path("consistency.txt"), consistency).unwrap();
    let mut args = audit_verify_proof_args("consistency.txt", "cp-at.txt", &vkey).to_vec();
    args.extend(["--old-checkpoint", "cp-past.txt"]);
    refused_unchanged(
        &dir,
        &args,
        &too_large("checkpoint", "cp-past.txt", "1 MiB"),
    );
}

/// A proof file of exactly 64 KiB (a proof padded with blank lines, which
/// are ignored) verifies; one byte more is refused.
#[test]
fn proof_files_at_and_past_max_proof_file() {
    let dir = TempDir::new("limits", "proof");
    let vkey = audit_log(&dir, 5);
    ok(&dir, &audit_checkpoint_args("cp.txt"));
    let proof = ok(
        &dir,
        &["audit", "prove", "--log", "l.log", "--index", "4", "--hex"],
    );
    let pad = |len: u64| {
        let mut text = proof.clone().into_bytes();
        text.resize(usize::try_from(len).unwrap(), b'\n');
        text
    };
    fs::write(dir.path("at.txt"), pad(MAX_PROOF_FILE)).unwrap();
    fs::write(dir.path("past.txt"), pad(MAX_PROOF_FILE + 1)).unwrap();
    let verify = |proof: &'static str| audit_verify_proof_args(proof, "cp.txt", &vkey);
    let out = ok(&dir, &verify("at.txt"));
    assert!(out.starts_with("OK: entry 4 "), "{out}");
    refused_unchanged(
        &dir,
        &verify("past.txt"),
        &too_large("proof", "past.txt", "64 KiB"),
    );
}
