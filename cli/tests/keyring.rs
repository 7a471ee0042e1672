#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `caduceus keyring` (issue 11, item 13): every subcommand as an operator
//! runs it, the keyring flow of seal and open, crypto-erasure by shredding,
//! and the keyring file as a state file (one writer at a time, busy exit 4,
//! never overwritten by create, never an output of a command reading it).

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use caduceus_core::keys::{KeyringRecord, KeyringState, PrivateKey};

mod common;
use common::{TempDir, run_caduceus};

const BIN: &str = env!("CARGO_BIN_EXE_caduceus");

fn run(dir: &Path, args: &[&str]) -> Output {
    run_caduceus(Some(dir), args, None)
}

/// Run and require success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run and require exit `code` with one error line holding `needle`.
fn fails(dir: &Path, args: &[&str], code: i32, needle: &str) -> String {
    let out = run(dir, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(stderr.starts_with("caduceus: "), "{stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    stderr
}

/// Generate an identity file in `dir`; returns (public key text, key id).
fn keygen(dir: &Path, name: &str, kind: &str) -> (String, String) {
    ok(dir, &["keygen", "--kind", kind, "-o", name]);
    let text = fs::read_to_string(dir.join(name)).unwrap();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .to_owned()
    };
    (field("# public key: "), field("# key id: "))
}

fn record(dir: &Path, name: &str) -> KeyringRecord {
    KeyringRecord::from_bytes(&fs::read(dir.join(name)).unwrap()).unwrap()
}

fn identity(dir: &Path, name: &str) -> PrivateKey {
    let text = fs::read_to_string(dir.join(name)).unwrap();
    PrivateKey::parse_identities(&text).unwrap().remove(0)
}

fn inspect_json(dir: &Path, keyring: &str) -> serde_json::Value {
    serde_json::from_str(&ok(
        dir,
        &["keyring", "inspect", "--keyring", keyring, "--json"],
    ))
    .unwrap()
}

fn recipients(dir: &Path, keyring: &str) -> Vec<String> {
    inspect_json(dir, keyring)["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// A practice key, a doctor key and a keyring `k.keyring` for p-7f3a91 /
/// clinical-photos wrapped to both; returns (practice, doctor) public keys.
fn setup(dir: &Path) -> (String, String) {
    let (practice, _) = keygen(dir, "practice.key", "practice");
    let (doctor, _) = keygen(dir, "doctor.key", "staff");
    let out = ok(
        dir,
        &[
            "keyring",
            "create",
            "--keyring",
            "k.keyring",
            "--subject",
            "p-7f3a91",
            "--category",
            "clinical-photos",
            "--to",
            &practice,
            "--to",
            &doctor,
            "--at",
            "2025-01-31T12:00:00Z",
        ],
    );
    assert!(out.contains("public key: cdsubject1"), "{out}");
    (practice, doctor)
}

/// Seal `m.txt` to the keyring's subject-category key into `out`.
fn seal(dir: &Path, out: &str) {
    ok(
        dir,
        &[
            "seal",
            "--keyring",
            "k.keyring",
            "--label",
            "purpose=treatment-communication",
            "-i",
            "m.txt",
            "-o",
            out,
        ],
    );
}

fn open(dir: &Path, identity: &str, envelope: &str) -> Output {
    run(
        dir,
        &[
            "open",
            "--keyring",
            "k.keyring",
            "--identity",
            identity,
            "-i",
            envelope,
        ],
    )
}

const MESSAGE: &[u8] = b"Roentgenbild Zahn 36, Befund folgt";

#[test]
fn every_subcommand_and_the_keyring_flow_of_seal_and_open() {
    let dir = TempDir::new("keyring", "flow");
    let d = &dir.0;
    let (practice, doctor) = setup(d);
    let (nurse, nurse_id) = keygen(d, "nurse.key", "staff");
    let (tablet, tablet_id) = keygen(d, "tablet.key", "staff");
    let practice_id = identity(d, "practice.key").key_id().to_string();
    let doctor_id = identity(d, "doctor.key").key_id().to_string();

    // inspect: subject, category, public key, state, recipients.
    let text = ok(d, &["keyring", "inspect", "--keyring", "k.keyring"]);
    let rec = record(d, "k.keyring");
    for expected in [
        "subject:       p-7f3a91",
        "category:      clinical-photos",
        "kind:          subject-category",
        &format!("public key:    {}", rec.public_key()),
        "created at:    2025-01-31T12:00:00Z (1738324800)",
        "state:         active",
        "recipients:    2",
        &format!("key id {practice_id}"),
        &format!("key id {doctor_id}"),
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    let json = inspect_json(d, "k.keyring");
    assert_eq!(json["state"], "active");
    assert_eq!(json["kind"], "subject-category");
    assert_eq!(json["key_id"], rec.public_key().key_id().to_string());

    // seal --keyring: to the subject-category key only, labels from the record.
    fs::write(d.join("m.txt"), MESSAGE).unwrap();
    seal(d, "m.cdu");
    let header: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "--json", "-i", "m.cdu"])).unwrap();
    assert_eq!(
        header["recipients"],
        serde_json::json!([rec.public_key().key_id().to_string()])
    );
    assert_eq!(header["labels"]["subject"], "p-7f3a91");
    assert_eq!(header["labels"]["category"], "clinical-photos");
    fails(
        d,
        &[
            "seal",
            "--keyring",
            "k.keyring",
            "--label",
            "category=xray",
            "--label",
            "purpose=treatment-communication",
            "-i",
            "m.txt",
            "-o",
            "x.cdu",
        ],
        2,
        "differs from the keyring record's category",
    );
    assert!(!d.join("x.cdu").exists());

    // open --keyring: the doctor and the practice, not the nurse (yet).
    for who in ["doctor.key", "practice.key"] {
        let out = open(d, who, "m.cdu");
        assert!(out.status.success(), "{who}: {out:?}");
        assert_eq!(out.stdout, MESSAGE);
    }
    let refused = open(d, "nurse.key", "m.cdu");
    assert_eq!(refused.status.code(), Some(3));
    assert!(refused.stdout.is_empty());
    // Without the keyring, the doctor's key is no recipient of the envelope.
    fails(
        d,
        &["open", "--identity", "doctor.key", "-i", "m.cdu"],
        3,
        "none of the given keys is a recipient",
    );

    // add: the nurse and the tablet, by a current recipient (the doctor).
    let out = ok(
        d,
        &[
            "keyring",
            "add",
            "--keyring",
            "k.keyring",
            "--identity",
            "doctor.key",
            "--to",
            &nurse,
            "--to",
            &tablet,
        ],
    );
    assert!(out.contains("4 in all"), "{out}");
    assert_eq!(open(d, "nurse.key", "m.cdu").stdout, MESSAGE);
    // Adding twice, or by a key without access, fails and changes nothing.
    let before = fs::read(d.join("k.keyring")).unwrap();
    let add_nurse = |identity: &'static str| {
        vec![
            "keyring".to_owned(),
            "add".to_owned(),
            "--keyring".to_owned(),
            "k.keyring".to_owned(),
            "--identity".to_owned(),
            identity.to_owned(),
            "--to".to_owned(),
            nurse.clone(),
        ]
    };
    let args = add_nurse("practice.key");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(d, &args, 3, "already a recipient");
    keygen(d, "outsider.key", "staff");
    let args = add_nurse("outsider.key");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(d, &args, 3, "not a recipient of the keyring record");
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), before);

    // revoke: the tablet goes; the practice key never does; an unknown id
    // says that it is not a recipient.
    let out = ok(
        d,
        &[
            "keyring",
            "revoke",
            "--keyring",
            "k.keyring",
            "--practice",
            &practice,
            "--remove",
            &tablet_id,
        ],
    );
    assert!(out.contains("3 left"), "{out}");
    assert!(!recipients(d, "k.keyring").contains(&tablet_id));
    assert_eq!(open(d, "tablet.key", "m.cdu").status.code(), Some(3));
    let before = fs::read(d.join("k.keyring")).unwrap();
    fails(
        d,
        &[
            "keyring",
            "revoke",
            "--keyring",
            "k.keyring",
            "--practice",
            &practice,
            "--remove",
            &practice_id,
        ],
        3,
        "refusing to revoke the last practice key recipient",
    );
    fails(
        d,
        &[
            "keyring",
            "revoke",
            "--keyring",
            "k.keyring",
            "--practice",
            &practice,
            "--remove",
            &tablet_id,
        ],
        3,
        "not a recipient of this keyring record",
    );
    fails(
        d,
        &[
            "keyring",
            "revoke",
            "--keyring",
            "k.keyring",
            "--remove",
            &tablet_id,
        ],
        2,
        "--practice",
    );
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), before);

    // rotate: the doctor's device is replaced by a new key.
    let (doctor2, doctor2_id) = keygen(d, "doctor2.key", "staff");
    let out = ok(
        d,
        &[
            "keyring",
            "rotate",
            "--keyring",
            "k.keyring",
            "--identity",
            "practice.key",
            "--old",
            &doctor,
            "--to",
            &doctor2,
        ],
    );
    assert!(out.contains(&doctor2_id), "{out}");
    let now = recipients(d, "k.keyring");
    assert!(now.contains(&doctor2_id) && !now.contains(&doctor_id));
    assert!(now.contains(&nurse_id) && now.contains(&practice_id));
    assert_eq!(open(d, "doctor2.key", "m.cdu").stdout, MESSAGE);
    assert_eq!(open(d, "doctor.key", "m.cdu").status.code(), Some(3));
    // The envelope was not touched by any of this.
    assert_eq!(record(d, "k.keyring").public_key(), rec.public_key());

    // shred: needs --yes; then nothing opens the envelope, and open says why.
    let before = fs::read(d.join("k.keyring")).unwrap();
    fails(
        d,
        &["keyring", "shred", "--keyring", "k.keyring"],
        2,
        "add --yes to confirm",
    );
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), before);
    let out = ok(d, &["keyring", "shred", "--keyring", "k.keyring", "--yes"]);
    assert!(
        out.contains("shredded the subject-category key")
            && out.contains("can no longer be opened"),
        "{out}"
    );
    let tomb = record(d, "k.keyring");
    assert!(matches!(tomb.state(), KeyringState::Shredded { .. }));
    assert!(tomb.recipients().is_empty());
    assert_eq!(tomb.public_key(), rec.public_key());
    for who in ["practice.key", "doctor2.key", "nurse.key"] {
        let out = run(
            d,
            &[
                "open",
                "--keyring",
                "k.keyring",
                "--identity",
                who,
                "-i",
                "m.cdu",
                "-o",
                "m.out",
            ],
        );
        assert_eq!(out.status.code(), Some(3), "{who}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("was shredded; its content is erased"),
            "{stderr}"
        );
        assert!(!d.join("m.out").exists());
    }
    let text = ok(d, &["keyring", "inspect", "--keyring", "k.keyring"]);
    assert!(text.contains("state:         shredded at"), "{text}");
    assert!(text.contains("recipients:    0"), "{text}");
    // A shredded key takes no new envelopes and no changes.
    fails(
        d,
        &[
            "seal",
            "--keyring",
            "k.keyring",
            "--label",
            "purpose=treatment-communication",
            "-i",
            "m.txt",
            "-o",
            "n.cdu",
        ],
        3,
        "shredded",
    );
    assert!(!d.join("n.cdu").exists());
    fails(
        d,
        &[
            "keyring",
            "add",
            "--keyring",
            "k.keyring",
            "--identity",
            "practice.key",
            "--to",
            &tablet,
        ],
        3,
        "shredded",
    );
    // Shredding again changes nothing and says so.
    let tomb_bytes = fs::read(d.join("k.keyring")).unwrap();
    let out = ok(d, &["keyring", "shred", "--keyring", "k.keyring", "--yes"]);
    assert!(out.contains("already shredded"), "{out}");
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), tomb_bytes);
}

#[test]
fn create_refuses_to_overwrite_and_checks_its_recipients() {
    let dir = TempDir::new("keyring", "create");
    let d = &dir.0;
    let (practice, doctor) = setup(d);
    let before = fs::read(d.join("k.keyring")).unwrap();
    let create = |keyring: &str, to: &[&str]| {
        let mut args = vec![
            "keyring",
            "create",
            "--keyring",
            keyring,
            "--subject",
            "p-1",
            "--category",
            "chat-messages",
        ];
        for key in to {
            args.extend(["--to", key]);
        }
        run(d, &args)
    };
    let out = create("k.keyring", &[&practice]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), before);
    // The practice must be a recipient; a key is named once.
    for (to, needle) in [
        (
            vec![doctor.as_str()],
            "no practice key among the recipients",
        ),
        (vec![practice.as_str(), practice.as_str()], "more than once"),
    ] {
        let out = create("new.keyring", &to);
        assert_eq!(out.status.code(), Some(2), "{to:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle));
        assert!(!d.join("new.keyring").exists());
    }
    // A name as subject is refused without being echoed.
    let out = run(
        d,
        &[
            "keyring",
            "create",
            "--keyring",
            "new.keyring",
            "--subject",
            "Max Mustermann",
            "--category",
            "chat-messages",
            "--to",
            &practice,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--subject"), "{stderr}");
    assert!(!stderr.contains("Mustermann"), "{stderr}");
    assert!(!d.join("new.keyring").exists());
}

#[test]
fn no_command_writes_onto_the_keyring_or_another_input() {
    let dir = TempDir::new("keyring", "inputs");
    let d = &dir.0;
    setup(d);
    fs::write(d.join("m.txt"), MESSAGE).unwrap();
    seal(d, "m.cdu");
    let keyring = fs::read(d.join("k.keyring")).unwrap();
    let envelope = fs::read(d.join("m.cdu")).unwrap();
    for args in [
        vec![
            "open",
            "--keyring",
            "k.keyring",
            "--identity",
            "doctor.key",
            "-i",
            "m.cdu",
            "-o",
            "k.keyring",
        ],
        vec![
            "seal",
            "--keyring",
            "k.keyring",
            "--label",
            "purpose=treatment-communication",
            "-i",
            "m.txt",
            "-o",
            "k.keyring",
        ],
        vec![
            "keyring",
            "add",
            "--keyring",
            "k.keyring",
            "--identity",
            "k.keyring",
            "--to",
            "cdstaff1x",
        ],
    ] {
        fails(d, &args, 2, "refusing to overwrite an input");
    }
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), keyring);
    assert_eq!(fs::read(d.join("m.cdu")).unwrap(), envelope);
}

#[test]
fn no_command_prints_a_secret() {
    let dir = TempDir::new("keyring", "secrets");
    let d = &dir.0;
    let (_, _) = setup(d);
    let (nurse, _) = keygen(d, "nurse.key", "staff");
    let practice = identity(d, "practice.key");
    let subject_key = record(d, "k.keyring").unwrap(&practice).unwrap();
    let mut secrets: Vec<String> = Vec::new();
    for key in [&practice, &identity(d, "doctor.key"), &subject_key] {
        secrets.push(key.to_secret_string().to_string());
        secrets.push(hex::encode(key.secret_bytes()));
    }
    // The wraps are not secret, but inspect has no reason to show them.
    let bytes = fs::read(d.join("k.keyring")).unwrap();
    let tail = hex::encode(&bytes[bytes.len() - 24..]);
    let mut seen = String::new();
    for args in [
        vec!["keyring", "inspect", "--keyring", "k.keyring"],
        vec!["keyring", "inspect", "--keyring", "k.keyring", "--json"],
        vec![
            "keyring",
            "add",
            "--keyring",
            "k.keyring",
            "--identity",
            "doctor.key",
            "--to",
            &nurse,
        ],
        vec![
            "keyring",
            "add",
            "--keyring",
            "k.keyring",
            "--identity",
            "doctor.key",
            "--to",
            &nurse,
        ],
        vec!["keyring", "shred", "--keyring", "k.keyring", "--yes"],
        vec!["keyring", "inspect", "--keyring", "k.keyring"],
    ] {
        let out = run(d, &args);
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(seen.contains("key id"), "{seen}");
    let lower = seen.to_lowercase();
    assert!(!lower.contains("secret-key"), "{seen}");
    assert!(!lower.contains(&tail), "{seen}");
    for s in &secrets {
        assert!(!lower.contains(&s.to_lowercase()), "a secret was printed");
    }
}

fn spawn(dir: &Path, args: &[String]) -> Child {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn forty_concurrent_adds_to_one_keyring_all_survive() {
    let dir = TempDir::new("keyring", "forty");
    let d = &dir.0;
    setup(d);
    let staff: Vec<(String, String)> = (0..40)
        .map(|i| keygen(d, &format!("s{i}.key"), "staff"))
        .collect();
    let commands: Vec<Vec<String>> = staff
        .iter()
        .map(|(public, _)| {
            [
                "keyring",
                "add",
                "--keyring",
                "k.keyring",
                "--identity",
                "practice.key",
                "--to",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([public.clone()])
            .collect()
        })
        .collect();
    let children: Vec<Child> = commands.iter().map(|c| spawn(d, c)).collect();
    for (c, child) in commands.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{c:?}: {out:?}");
    }
    // Nothing lost: the practice, the doctor and all forty, each of which
    // unwraps the same subject-category key.
    let rec = record(d, "k.keyring");
    assert_eq!(rec.recipients().len(), 42);
    let ids: Vec<String> = rec.recipients().iter().map(ToString::to_string).collect();
    for (_, id) in &staff {
        assert!(ids.contains(id), "{id} was lost");
    }
    let subject = rec.unwrap(&identity(d, "practice.key")).unwrap();
    for i in [0, 17, 39] {
        let k = identity(d, &format!("s{i}.key"));
        assert_eq!(rec.unwrap(&k).unwrap(), subject);
    }
    // No temporary file is left behind.
    let stray: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn a_busy_keyring_fails_with_exit_code_4_and_changes_nothing() {
    let dir = TempDir::new("keyring", "busy");
    let d = &dir.0;
    let (practice, _) = setup(d);
    let (nurse, nurse_id) = keygen(d, "nurse.key", "staff");
    let before = fs::read(d.join("k.keyring")).unwrap();
    let held = fs::File::open(d.join("k.keyring")).unwrap();
    held.lock().unwrap();
    let busy = |args: &[&str]| {
        let out = Command::new(BIN)
            .current_dir(d)
            .args(args)
            .env("CADUCEUS_LOCK_TIMEOUT_MS", "200")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("caduceus: busy: "), "{stderr}");
    };
    busy(&[
        "keyring",
        "add",
        "--keyring",
        "k.keyring",
        "--identity",
        "practice.key",
        "--to",
        &nurse,
    ]);
    busy(&[
        "keyring",
        "revoke",
        "--keyring",
        "k.keyring",
        "--practice",
        &practice,
        "--remove",
        &nurse_id,
    ]);
    busy(&["keyring", "shred", "--keyring", "k.keyring", "--yes"]);
    held.unlock().unwrap();
    assert_eq!(fs::read(d.join("k.keyring")).unwrap(), before);
    // Reading needs no lock.
    ok(d, &["keyring", "inspect", "--keyring", "k.keyring"]);
}

#[test]
fn keyring_file_at_and_past_max_keyring_file() {
    // LIMITS.md row 55: a keyring file is read up to the record prefix
    // (10 bytes) plus the longest body (16 384 bytes).
    let dir = TempDir::new("keyring", "limit");
    let d = &dir.0;
    let mut at_limit = b"CDKR\x01\x01".to_vec();
    at_limit.extend_from_slice(&16_384u32.to_be_bytes());
    at_limit.resize(10 + 16_384, 0);
    fs::write(d.join("at.keyring"), &at_limit).unwrap();
    // Read whole, then refused by the record parser, not by the size.
    let line = fails(
        d,
        &["keyring", "inspect", "--keyring", "at.keyring"],
        3,
        "malformed keyring record",
    );
    assert!(!line.contains("too large"), "{line}");
    let mut past = at_limit;
    past.push(0);
    fs::write(d.join("past.keyring"), &past).unwrap();
    fails(
        d,
        &["keyring", "inspect", "--keyring", "past.keyring"],
        3,
        "is too large (more than 16394 bytes)",
    );
}
