//! Seed corpora for the fuzz targets: a few valid inputs per target,
//! written to `<dir>/<target>/` (default `fuzz/corpus`). Run by
//! `make fuzz` / `make fuzz-smoke` (via fuzz/seeds.sh) before fuzzing.

use std::fs;
use std::path::{Path, PathBuf};

use caduceus_core::audit::{Action, AuditEvent, AuditKey, AuditLog, PseudonymKind, note};
use caduceus_core::consent::{
    ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, DEFAULT_POLICY_TOML, Ledger,
    OptOutRequest,
};
use caduceus_core::envelope::{self, seal_parts};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::testing::DeterministicRng;
use caduceus_fuzz::{bases, identity, labels, other_identity};

const POLICY: &str = include_str!("../../policies/de-practice.toml");
const T0: i64 = 1_763_800_000;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).expect("create corpus dir");
    fs::write(d.join(name), bytes).expect("write seed");
}

fn main() {
    let dir: PathBuf = std::env::args_os().nth(1).map_or_else(|| "fuzz/corpus".into(), PathBuf::from);
    let mut rng = DeterministicRng::new(42);
    let me = identity();
    let other = other_identity();

    // Envelopes.
    let mut envelopes: Vec<Vec<u8>> = bases().iter().map(|b| b.sealed.clone()).collect();
    let parts = seal_parts(&[me.public_key()], &labels(), &[b"part one", b"part two"], &mut rng)
        .expect("seal parts");
    envelopes.extend(parts);
    let staff = PrivateKey::generate(KeyKind::Staff, &mut rng);
    envelopes.push(
        envelope::seal(&[staff.public_key(), me.public_key(), other.public_key()], &labels(), &[7u8; 1000], &mut rng)
            .expect("seal"),
    );
    for (i, e) in envelopes.iter().enumerate() {
        write(&dir, "envelope_inspect", &format!("env-{i}"), e);
        let mut raw = vec![0u8];
        raw.extend_from_slice(e);
        if e.len() < 100_000 {
            write(&dir, "envelope_open", &format!("raw-{i}"), &raw);
            write(&dir, "envelope_stream_open", &format!("raw-{i}"), &raw);
        }
    }
    for mode in 1u8..=3 {
        // No edits (the fixed message), one bit flip, a truncation, and an
        // appended tail; stream seeds also carry chunk sizes.
        let variants: [&[u8]; 4] = [&[0, 0], &[1, 0x30, 0, 0, 0x01, 0], &[0, 1, 0x10, 0, 0], &[0, 2, 3, 1, 2, 3]];
        for (v, edit) in variants.iter().enumerate() {
            let mut s = vec![mode];
            s.extend_from_slice(edit);
            write(&dir, "envelope_open", &format!("mode{mode}-{v}"), &s);
            s.extend_from_slice(&[3, 0x11, 0, 0, 0x01, 0, 1, 0x40, 0, 0]);
            write(&dir, "envelope_stream_open", &format!("mode{mode}-{v}"), &s);
        }
    }

    // Key text.
    let keys = [me.clone(), other.clone(), PrivateKey::generate(KeyKind::Practice, &mut rng)];
    for (i, k) in keys.iter().enumerate() {
        write(&dir, "key_text", &format!("pub-{i}"), k.public_key().to_string().as_bytes());
        write(&dir, "key_text", &format!("sec-{i}"), k.to_secret_string().as_bytes());
        write(&dir, "key_text", &format!("id-{i}"), k.key_id().to_string().as_bytes());
    }
    let ids = format!("# identities\n{}\n\n{}\n", keys[0].to_secret_string().as_str(), keys[2].to_secret_string().as_str());
    write(&dir, "key_text", "identities", ids.as_bytes());

    // Keyring records.
    let rec = KeyringRecord::create("p-3f9a", "chat-messages", &[staff.public_key(), other.public_key()], T0, &mut rng)
        .expect("keyring record");
    write(&dir, "keyring_record", "active", &rec.to_bytes());
    let revoked = rec.revoke_recipient(&other.key_id()).expect("revoke");
    write(&dir, "keyring_record", "revoked", &revoked.to_bytes());
    write(&dir, "keyring_record", "shredded", &rec.shred(T0 + 100).to_bytes());
    let added = rec.add_recipients(&staff, &[me.public_key()], &mut rng).expect("add");
    write(&dir, "keyring_record", "added", &added.to_bytes());

    // Consent events and ledgers.
    let mut ledger = Ledger::new(ConsentPolicy::default()).expect("ledger");
    write(&dir, "consent_ledger", "empty", &ledger.to_bytes());
    let notice = ledger
        .register_notice("privacy-chat", 1, "de", "Datenschutzhinweis ...", T0, T0)
        .expect("notice");
    for i in 0..3i64 {
        let mut e = ConsentEvent::new(
            &format!("evt-{i}"),
            &format!("p-{i:04x}"),
            &["treatment-communication", "marketing"],
            ConsentStatus::Given,
            ConsentMethod::QrReception,
            Some(notice.clone()),
            "reception-qr",
            "staff-1",
            T0 + 1 + i,
        )
        .expect("event");
        if i == 1 {
            e.evidence = Some("form-1".into());
            e.expires_at = Some(T0 + 86_400 * 365);
        }
        ledger.append(e, T0 + 1 + i).expect("append");
    }
    ledger
        .opt_out(
            OptOutRequest {
                event_id: "stop-1".into(),
                subject: "p-0001".into(),
                reply: "STOP".into(),
                message_id: "wamid.1".into(),
                channel: "whatsapp".into(),
                recorded_by: "ingest".into(),
                time: T0 + 10,
            },
            T0 + 10,
        )
        .expect("opt out");
    for seq in 0..ledger.len() as u64 {
        if let Some(b) = ledger.event_bytes(seq) {
            write(&dir, "consent_event", &format!("evt-{seq}"), b);
        }
    }
    write(&dir, "consent_ledger", "events", &ledger.to_bytes());

    // Audit entries.
    let key = AuditKey::from_bytes([5; 32]);
    let actor = key.pseudonym(PseudonymKind::Staff, "dr-a");
    let mut log = AuditLog::new("fuzz.example/log").expect("log");
    let events = [
        AuditEvent::new(T0 * 1000, actor.clone(), "doctor", Action::Read, "pms").expect("event"),
        AuditEvent::new(T0 * 1000 + 5, actor.clone(), "reception", Action::Export, "pms-reception")
            .expect("event")
            .subject(key.pseudonym(PseudonymKind::Subject, "patient-1"))
            .category("chat-messages")
            .and_then(|e| e.record("msg-17"))
            .and_then(|e| e.purpose("treatment-communication"))
            .and_then(|e| e.legal_basis("art9-2-h"))
            .and_then(|e| e.correlation("req-9"))
            .expect("event"),
        AuditEvent::new(T0 * 1000 + 9, actor.clone(), "doctor", Action::Delete, "pms")
            .and_then(|e| e.outcome(caduceus_core::audit::Outcome::Denied("no-access".into())))
            .expect("event"),
    ];
    for (i, e) in events.iter().enumerate() {
        let appended = log.append(e).expect("append");
        write(&dir, "audit_entry", &format!("entry-{i}"), &appended.bytes);
    }

    // Notes and checkpoints.
    let signer = note::NoteSigner::from_seed("fuzz.example/log", &[7; 32]).expect("signer");
    let cp = log.checkpoint();
    let nc = "audit_note_checkpoint";
    write(&dir, nc, "checkpoint", cp.to_text().as_bytes());
    write(&dir, nc, "signed-checkpoint", cp.sign(&[&signer]).expect("sign").as_bytes());
    write(&dir, nc, "vkey", signer.verifier().to_string().as_bytes());
    write(&dir, nc, "skey", signer.to_secret_string().as_bytes());
    write(&dir, nc, "go-note", "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n".as_bytes());
    write(&dir, nc, "go-skey", b"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz");
    write(&dir, nc, "pseudonym", actor.to_string().as_bytes());
    write(&dir, nc, "audit-key", key.to_secret_string().as_bytes());

    // Proofs: structured input; a few byte strings of different lengths.
    for (i, len) in [64usize, 200, 600].iter().enumerate() {
        let bytes: Vec<u8> = (0..*len).map(|j| (j * 37 + i * 11) as u8).collect();
        write(&dir, "audit_proofs", &format!("seed-{i}"), &bytes);
    }

    // Policies.
    write(&dir, "policy_toml", "de-practice", POLICY.as_bytes());
    write(&dir, "policy_toml", "consent-default", DEFAULT_POLICY_TOML.as_bytes());
    println!("seeds written to {}", dir.display());
}
