//! `caduceus audit` end to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{
    AUDIT_KEYGEN_PSEUDONYM, audit_append_args, audit_checkpoint_args, audit_keygen_signing_args,
    audit_verify_args, audit_verify_proof_args,
};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caduceus"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("caduceus-cli-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn setup(d: &Path, n: usize) -> String {
    assert!(run(d, &AUDIT_KEYGEN_PSEUDONYM).status.success());
    let k = run(d, &audit_keygen_signing_args("s.key"));
    assert!(k.status.success());
    let vkey = stdout(&k).trim().to_owned();
    append_entries(d, 0..n);
    vkey
}

fn append_entries(d: &Path, range: std::ops::Range<usize>) {
    for i in range {
        let t = format!("{}", 1_763_800_000 + i);
        let subject = [
            "--subject-id",
            "4711",
            "--category",
            "clinical-photos",
            "--purpose",
            "treatment",
        ];
        let o = run(d, &audit_append_args("l.log", &t, &subject));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// `audit verify` of l.log against the checkpoint file `cp` and key `vkey`.
fn verify(d: &Path, cp: &str, vkey: &str) -> Output {
    run(d, &audit_verify_args(cp, vkey))
}

fn checkpoint(d: &Path, out: &str) {
    let o = run(d, &audit_checkpoint_args(out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn append_checkpoint_verify_prove_export() {
    let d = tmp("flow");
    let vkey = setup(&d, 5);
    let log = std::fs::read(d.join("l.log")).unwrap();
    assert!(!String::from_utf8_lossy(&log).contains("4711"));
    assert!(!String::from_utf8_lossy(&log).contains("mueller"));
    checkpoint(&d, "cp.txt");
    let cp = std::fs::read_to_string(d.join("cp.txt")).unwrap();
    assert!(cp.starts_with("praxis.example/audit\n5\n"));
    let v = verify(&d, "cp.txt", &vkey);
    assert!(v.status.success());
    assert!(
        stdout(&v).starts_with("OK: 5 entries, root "),
        "{}",
        stdout(&v)
    );
    let p = run(&d, &["audit", "prove", "--log", "l.log", "--index", "2"]);
    assert!(p.status.success() && stdout(&p).starts_with("inclusion proof\nindex 2\nsize 5\n"));
    let c = run(&d, &["audit", "prove", "--log", "l.log", "--old-size", "3"]);
    assert!(c.status.success() && stdout(&c).starts_with("consistency proof\nold-size 3\n"));
    // A proof from size 0 is refused, as docs/AUDIT.md says, and none is printed.
    let z = run(&d, &["audit", "prove", "--log", "l.log", "--old-size", "0"]);
    assert_eq!(z.status.code(), Some(2));
    assert!(z.stdout.is_empty());
    let e = run(
        &d,
        &["audit", "export-fhir", "--log", "l.log", "-o", "f.json"],
    );
    assert!(e.status.success());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("f.json")).unwrap()).unwrap();
    assert_eq!(json["entry"].as_array().unwrap().len(), 5);
    assert_eq!(json["entry"][0]["resource"]["resourceType"], "AuditEvent");
    // Wrong verifier key: the checkpoint is refused.
    let other = run(&d, &audit_keygen_signing_args("o.key"));
    let v = verify(&d, "cp.txt", stdout(&other).trim());
    assert_eq!(v.status.code(), Some(1));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn verify_reports_the_first_bad_index() {
    let d = tmp("tamper");
    let vkey = setup(&d, 4);
    checkpoint(&d, "cp.txt");
    let mut bytes = std::fs::read(d.join("l.log")).unwrap();
    // Header: 5 magic/version bytes, 1 length byte, 20 origin bytes, the
    // 16-byte key fingerprint; then records of a 4-byte length and the
    // entry. Flip a byte in entry 1's body.
    assert_eq!(&bytes[..5], b"CDAL\x02");
    let mut pos = 6 + 20 + 16;
    let len0 = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
    pos += 4 + len0;
    bytes[pos + 4 + 60] ^= 1;
    std::fs::write(d.join("l.log"), &bytes).unwrap();
    let v = verify(&d, "cp.txt", &vkey);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stdout(&v).starts_with("FAIL: first bad index 1:"),
        "{}",
        stdout(&v)
    );
    // Appending to a damaged log is refused.
    let a = run(
        &d,
        &[
            "audit",
            "append",
            "--log",
            "l.log",
            "--audit-key",
            "a.key",
            "--actor-id",
            "x",
            "--role",
            "doctor",
            "--action",
            "login",
            "--source",
            "pms",
        ],
    );
    assert_eq!(a.status.code(), Some(3));
    // Truncation relative to the checkpoint.
    std::fs::write(d.join("l.log"), &bytes[..6 + 20 + 16 + 4 + len0]).unwrap();
    let v = verify(&d, "cp.txt", &vkey);
    assert!(
        stdout(&v).starts_with("FAIL: first bad index 1:"),
        "{}",
        stdout(&v)
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn proofs_print_base64_and_verify_against_checkpoints() {
    let d = tmp("proofs");
    let vkey = setup(&d, 3);
    checkpoint(&d, "cp3.txt");
    append_entries(&d, 3..7);
    checkpoint(&d, "cp7.txt");
    let write = |name: &str, args: &[&str]| {
        let o = run(&d, args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::write(d.join(name), &o.stdout).unwrap();
        stdout(&o)
    };
    let verify = |proof: &str, extra: &[&str]| {
        let mut args = audit_verify_proof_args(proof, "cp7.txt", &vkey).to_vec();
        args.extend_from_slice(extra);
        run(&d, &args)
    };

    // Inclusion: base64 by default, the root equal to the checkpoint's line.
    let text = write(
        "inc.txt",
        &["audit", "prove", "--log", "l.log", "--index", "5"],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..3], &["inclusion proof", "index 5", "size 7"]);
    let cp7 = std::fs::read_to_string(d.join("cp7.txt")).unwrap();
    let root_b64 = cp7.lines().nth(2).unwrap();
    assert_eq!(lines[4], format!("root {root_b64}"));
    // leaf, root and the proof hashes: 44 characters of padded base64.
    assert!(lines[3..].iter().all(|l| {
        let h = l.rsplit(' ').next().unwrap();
        h.len() == 44 && h.ends_with('=')
    }));
    let ok = verify("inc.txt", &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout(&ok).starts_with("OK: entry 5 "), "{}", stdout(&ok));

    // The hex form verifies too.
    write(
        "inc-hex.txt",
        &["audit", "prove", "--log", "l.log", "--index", "5", "--hex"],
    );
    assert!(
        std::fs::read_to_string(d.join("inc-hex.txt"))
            .unwrap()
            .lines()
            .nth(3)
            .unwrap()
            .len()
            == 5 + 64
    );
    assert!(verify("inc-hex.txt", &[]).status.success());

    // Tampered: one proof hash changed, the leaf changed, another index.
    let tamper = |name: &str, line: usize, new: &str| {
        let mut l: Vec<String> = text.lines().map(str::to_owned).collect();
        l[line] = new.to_owned();
        std::fs::write(d.join(name), l.join("\n") + "\n").unwrap();
        verify(name, &[])
    };
    let other = text.lines().nth(5).unwrap().to_owned();
    for (name, line, new) in [
        ("t1.txt", 6, other.as_str()),
        ("t2.txt", 3, &format!("leaf {other}")),
        ("t3.txt", 1, "index 4"),
    ] {
        let o = tamper(name, line, new);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(stdout(&o).starts_with("FAIL: "), "{name}: {}", stdout(&o));
    }

    // Consistency 3 -> 7, with and without the old signed checkpoint.
    write(
        "con.txt",
        &["audit", "prove", "--log", "l.log", "--old-size", "3"],
    );
    let ok = verify("con.txt", &["--old-checkpoint", "cp3.txt"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout(&ok).starts_with("OK: the tree of size 3 "));
    assert!(verify("con.txt", &[]).status.success());
    // Tampered consistency proof: a hash replaced.
    let con = std::fs::read_to_string(d.join("con.txt")).unwrap();
    let mut l: Vec<&str> = con.lines().collect();
    l.swap(5, 6);
    std::fs::write(d.join("con-bad.txt"), l.join("\n") + "\n").unwrap();
    let bad = verify("con-bad.txt", &["--old-checkpoint", "cp3.txt"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).starts_with("FAIL: "));
    // A proof against the wrong checkpoint (size 3 instead of 7).
    let wrong = run(&d, &audit_verify_proof_args("inc.txt", "cp3.txt", &vkey));
    assert_eq!(wrong.status.code(), Some(1));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn append_refuses_standard_input_as_the_log() {
    let d = tmp("append-stdin");
    assert!(run(&d, &AUDIT_KEYGEN_PSEUDONYM).status.success());
    let before = std::fs::read_dir(&d).unwrap().count();
    let o = run(&d, &audit_append_args("-", "1763800000", &[]));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--log -"), "{err}");
    // Nothing written: no file named "-", no other new file.
    assert!(!d.join("-").exists());
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), before);
}
