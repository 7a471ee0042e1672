//! `caduceus store`: the practice side of the embedded store. Records are
//! committed as `caduceus serve` commits them (library calls), then listed,
//! opened (audited), verified, checkpointed, proved, swept and erased from
//! the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use caduceus_core::audit::{Action, AuditEvent, AuditKey, Pseudonym, PseudonymKind};
use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyringRecord, PublicKey};
use caduceus_core::whatsapp::SealedRecord;
use caduceus_store::{Delivery, Store};
use common::{AUDIT_KEYGEN_PSEUDONYM, TempDir, audit_keygen_signing_args, run_caduceus};
use rand_core::UnwrapErr;

const T0: i64 = 1_764_000_000; // 2025-11-24
const YEAR: i64 = 365 * 24 * 3600;

fn run(dir: &Path, args: &[&str]) -> Output {
    run_caduceus(Some(dir), args, None)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn keygen(dir: &Path, name: &str, kind: &str) -> PublicKey {
    ok(dir, &["keygen", "--kind", kind, "-o", name]);
    ok(dir, &["pubkey", "-i", name]).trim().parse().unwrap()
}

/// A delivery as the intake commits it: a sealed text of `subject` in
/// `category`, its keyring record (practice and doctor), an audit entry.
fn deliver(store: &mut Store, n: i64, subject: &Pseudonym, category: &str, to: &[PublicKey]) {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let keyring = match store.keyring(subject.as_str(), category).unwrap() {
        Some(k) => k,
        None => KeyringRecord::create(subject.as_str(), category, to, T0, &mut rng).unwrap(),
    };
    let at = T0 + n;
    let labels = Labels::new(
        subject.as_str(),
        category,
        "treatment-communication",
        "text/plain; charset=utf-8",
        at,
    )
    .unwrap();
    let text = format!("Nachricht {n}: Zahnschmerzen seit gestern");
    let sealed =
        envelope::seal(&[keyring.public_key()], &labels, text.as_bytes(), &mut rng).unwrap();
    let service = AuditKey::from_bytes([3; 32]).pseudonym(PseudonymKind::Staff, "intake");
    let mut d = Delivery::new(at);
    d.subject = Some(subject.clone());
    d.keyring_record = Some(keyring);
    d.record = Some(SealedRecord {
        record_id: format!("rec-{n}"),
        envelope: sealed,
        labels,
        replaces: None,
    });
    d.audit_events.push(
        AuditEvent::new(at * 1000, service, "ingest", Action::Create, "whatsapp")
            .unwrap()
            .subject(subject.clone())
            .category(category)
            .unwrap()
            .record(&format!("rec-{n}"))
            .unwrap(),
    );
    store.commit_delivery(&d).unwrap();
}

#[test]
fn a_practice_lists_opens_verifies_proves_sweeps_and_erases_its_store() {
    let dir = TempDir::new("store", "day");
    let d = &dir.0;
    let out = ok(
        d,
        &[
            "store",
            "init",
            "--db",
            "s.db",
            "--origin",
            "praxis.example/audit",
        ],
    );
    assert!(out.contains("schema version 1"), "{out}");
    // init never overwrites.
    let before = fs::read(dir.path("s.db")).unwrap();
    assert_eq!(code(&run(d, &["store", "init", "--db", "s.db"])), 3);
    assert_eq!(fs::read(dir.path("s.db")).unwrap(), before);
    // A mistyped path is an error, not a new store.
    assert_eq!(code(&run(d, &["store", "list", "--db", "typo.db"])), 3);
    assert!(!dir.path("typo.db").exists());

    let practice = keygen(d, "practice.key", "practice");
    let doctor = keygen(d, "doctor.key", "staff");
    keygen(d, "finance.key", "staff");
    ok(d, &AUDIT_KEYGEN_PSEUDONYM);
    let k = run(d, &audit_keygen_signing_args("sign.key"));
    assert!(k.status.success(), "{k:?}");
    let vkey = String::from_utf8(k.stdout).unwrap().trim().to_owned();

    let keys = AuditKey::from_bytes([4; 32]);
    let anna = keys.pseudonym(PseudonymKind::Subject, "anna");
    let ben = keys.pseudonym(PseudonymKind::Subject, "ben");
    {
        let mut store = Store::open(dir.path("s.db")).unwrap();
        let to = [practice, doctor];
        deliver(&mut store, 1, &anna, "chat-messages", &to);
        deliver(&mut store, 2, &anna, "chat-messages", &to);
        deliver(&mut store, 3, &ben, "chat-messages", &to);
    }

    // list: labels only, by subject or all.
    let all = ok(d, &["store", "list", "--db", "s.db"]);
    assert!(all.ends_with("3 record(s)\n"), "{all}");
    assert!(!all.contains("Zahnschmerzen"));
    let of_anna = ok(
        d,
        &["store", "list", "--db", "s.db", "--subject", anna.as_str()],
    );
    assert!(
        of_anna.contains("rec-1 ") && of_anna.contains("rec-2 "),
        "{of_anna}"
    );
    assert!(!of_anna.contains("rec-3 "));

    // open: the doctor gets the plaintext, finance gets nothing; both
    // attempts are audited.
    let open = |identity: &str, out: &str| {
        run(
            d,
            &[
                "store",
                "open",
                "--db",
                "s.db",
                "--record",
                "rec-1",
                "--identity",
                identity,
                "--audit-key",
                "a.key",
                "--actor-id",
                "staff-7",
                "--role",
                "doctor",
                "-o",
                out,
            ],
        )
    };
    let entries = |s: &str| -> u64 { s.split_whitespace().nth(1).unwrap().parse().unwrap() };
    let n0 = entries(&ok(d, &["store", "verify", "--db", "s.db"]));
    assert_eq!(n0, 3);
    let out = open("doctor.key", "m1.txt");
    assert_eq!(code(&out), 0, "{out:?}");
    assert_eq!(
        fs::read_to_string(dir.path("m1.txt")).unwrap(),
        "Nachricht 1: Zahnschmerzen seit gestern"
    );
    let out = open("finance.key", "m1-finance.txt");
    assert_eq!(code(&out), 1, "{out:?}");
    assert!(!dir.path("m1-finance.txt").exists());
    // The output may not be one of the inputs.
    assert_eq!(code(&open("doctor.key", "doctor.key")), 2);
    let verified = ok(d, &["store", "verify", "--db", "s.db"]);
    assert!(verified.starts_with("OK: "), "{verified}");
    assert_eq!(entries(&verified), n0 + 2);

    // checkpoint, verify against it, and an inclusion proof that the
    // audit log's own verifier accepts.
    ok(
        d,
        &[
            "store",
            "checkpoint",
            "--db",
            "s.db",
            "--key",
            "sign.key",
            "-o",
            "cp.txt",
        ],
    );
    let verified = ok(d, &["store", "verify", "--db", "s.db", "--vkey", &vkey]);
    assert!(
        verified.contains("1 checkpoint(s) matched (1 kept in the store)"),
        "{verified}"
    );
    let proof = ok(d, &["store", "prove", "--db", "s.db", "--index", "0"]);
    fs::write(dir.path("p0.txt"), &proof).unwrap();
    ok(
        d,
        &[
            "audit",
            "verify-proof",
            "--proof",
            "p0.txt",
            "--checkpoint",
            "cp.txt",
            "--vkey",
            &vkey,
        ],
    );
    let mut bad = proof.clone().into_bytes();
    let at = bad.len() - 12; // inside the last hash, clear of the padding bits
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    fs::write(dir.path("p0-bad.txt"), &bad).unwrap();
    let out = run(
        d,
        &[
            "audit",
            "verify-proof",
            "--proof",
            "p0-bad.txt",
            "--checkpoint",
            "cp.txt",
            "--vkey",
            &vkey,
        ],
    );
    assert_eq!(code(&out), 1, "{out:?}");

    // A legal hold on anna blocks her erasure whole; lifted, the erasure
    // shreds her key and her records no longer open.
    let out = ok(
        d,
        &[
            "store",
            "hold",
            "add",
            "--db",
            "s.db",
            "--subject",
            anna.as_str(),
            "--reason",
            "case-2025-17",
        ],
    );
    let id = out
        .trim()
        .strip_prefix("hold ")
        .unwrap()
        .strip_suffix(" added")
        .unwrap()
        .to_owned();
    let erase = |who: &Pseudonym| {
        run(
            d,
            &[
                "store",
                "erase",
                "--db",
                "s.db",
                "--subject",
                who.as_str(),
                "--audit-key",
                "a.key",
                "--actor-id",
                "dpo-1",
                "--at",
                &(T0 + 100).to_string(),
            ],
        )
    };
    let out = erase(&anna);
    assert_eq!(code(&out), 1, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hold"),
        "{out:?}"
    );
    assert_eq!(code(&open("doctor.key", "m1-again.txt")), 0);
    ok(
        d,
        &[
            "store",
            "hold",
            "lift",
            "--db",
            "s.db",
            "--id",
            &id,
            "--on",
            "2025-01-01",
        ],
    );
    assert!(ok(d, &["store", "hold", "list", "--db", "s.db"]).contains("until=2025-01-01"));
    let out = erase(&anna);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("shredded chat-messages"));
    let out = open("doctor.key", "m1-shredded.txt");
    assert_eq!(code(&out), 1, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shredded"),
        "{out:?}"
    );
    assert!(!dir.path("m1-shredded.txt").exists());

    // The retention sweep three years and a month on deletes the chat
    // messages (3 years, docs/RETENTION.md) with one audit entry each.
    let before = entries(&ok(d, &["store", "verify", "--db", "s.db"]));
    let later = (T0 + 3 * YEAR + 30 * 24 * 3600).to_string();
    let sweep = |at: &str| {
        ok(
            d,
            &[
                "store",
                "sweep",
                "--db",
                "s.db",
                "--audit-key",
                "a.key",
                "--actor-id",
                "ret",
                "--at",
                at,
            ],
        )
    };
    let out = sweep(&(T0 + 3600).to_string());
    assert!(out.contains("0 deleted, 3 kept"), "{out}");
    let out = sweep(&later);
    assert!(out.contains("3 deleted, 0 kept"), "{out}");
    assert!(ok(d, &["store", "list", "--db", "s.db"]).ends_with("0 record(s)\n"));
    let after = ok(d, &["store", "verify", "--db", "s.db", "--vkey", &vkey]);
    assert_eq!(entries(&after), before + 3, "{after}");
}
