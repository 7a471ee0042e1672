//! Seed corpora for the fuzz targets: a few valid inputs per target,
//! written to `<dir>/<target>/` (default `fuzz/corpus`). Run by
//! `make fuzz` / `make fuzz-smoke` (via fuzz/seeds.sh) before fuzzing.

use std::fs;
use std::path::{Path, PathBuf};

use caduceus_core::audit::{Action, AuditEvent, AuditKey, AuditLog, PseudonymKind, note};
use caduceus_core::consent::{ConsentPolicy, DEFAULT_POLICY_TOML, Ledger};
use caduceus_core::envelope::{self, seal_parts};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::testing::DeterministicRng;
use caduceus_fuzz::{
    AUDIT_ORIGIN, T0, audit_fixture, bases, identity, keyring_base, labels, new_keyring_record,
    other_identity, part_bases, practice_identity, sample_ledger, sample_ledger_bytes,
    staff_identity,
};

const POLICY: &str = include_str!("../../policies/de-practice.toml");

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).expect("create corpus dir");
    fs::write(d.join(name), bytes).expect("write seed");
}

fn main() {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map_or_else(|| "fuzz/corpus".into(), PathBuf::from);
    let mut rng = DeterministicRng::new(42);
    let me = identity();
    let other = other_identity();

    // Envelopes.
    let mut envelopes: Vec<Vec<u8>> = bases().iter().map(|b| b.sealed.clone()).collect();
    let parts = seal_parts(
        &[me.public_key()],
        &labels(),
        &[b"part one", b"part two"],
        &mut rng,
    )
    .expect("seal parts");
    envelopes.extend(parts);
    let staff = PrivateKey::generate(KeyKind::Staff, &mut rng);
    envelopes.push(
        envelope::seal(
            &[staff.public_key(), me.public_key(), other.public_key()],
            &labels(),
            &[7u8; 1000],
            &mut rng,
        )
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
        for (v, edit) in EDITS.iter().enumerate() {
            let mut s = vec![mode];
            s.extend_from_slice(edit);
            write(&dir, "envelope_open", &format!("mode{mode}-{v}"), &s);
            s.extend_from_slice(&[3, 0x11, 0, 0, 0x01, 0, 1, 0x40, 0, 0]);
            write(&dir, "envelope_stream_open", &format!("mode{mode}-{v}"), &s);
        }
    }

    // Key text.
    let keys = [
        me.clone(),
        other.clone(),
        PrivateKey::generate(KeyKind::Practice, &mut rng),
    ];
    for (i, k) in keys.iter().enumerate() {
        write(
            &dir,
            "key_text",
            &format!("pub-{i}"),
            k.public_key().to_string().as_bytes(),
        );
        write(
            &dir,
            "key_text",
            &format!("sec-{i}"),
            k.to_secret_string().as_bytes(),
        );
        write(
            &dir,
            "key_text",
            &format!("id-{i}"),
            k.key_id().to_string().as_bytes(),
        );
    }
    let ids = format!(
        "# identities\n{}\n\n{}\n",
        keys[0].to_secret_string().as_str(),
        keys[2].to_secret_string().as_str()
    );
    write(&dir, "key_text", "identities", ids.as_bytes());

    // Keyring records.
    let rec = KeyringRecord::create(
        "p-3f9a",
        "chat-messages",
        &[staff.public_key(), other.public_key()],
        T0,
        &mut rng,
    )
    .expect("keyring record");
    write(&dir, "keyring_record", "active", &rec.to_bytes());
    let revoked = rec.revoke_recipient(&other.key_id()).expect("revoke");
    write(&dir, "keyring_record", "revoked", &revoked.to_bytes());
    write(
        &dir,
        "keyring_record",
        "shredded",
        &rec.shred(T0 + 100).to_bytes(),
    );
    let added = rec
        .add_recipients(&staff, &[me.public_key()], &mut rng)
        .expect("add");
    write(&dir, "keyring_record", "added", &added.to_bytes());

    // Consent events and ledgers.
    write(&dir, "consent_ledger", "empty", &empty_ledger_bytes());
    let ledger = sample_ledger();
    for seq in 0..ledger.len() as u64 {
        if let Some(b) = ledger.event_bytes(seq) {
            write(&dir, "consent_event", &format!("evt-{seq}"), b);
        }
    }
    write(
        &dir,
        "consent_ledger",
        "events",
        &ledger.to_bytes().expect("a whole ledger"),
    );
    write(
        &dir,
        "consent_ledger",
        "events-v1",
        &version_1(&ledger.to_bytes().expect("a whole ledger")),
    );

    // Audit entries.
    let key = AuditKey::from_bytes([5; 32]);
    let actor = key.pseudonym(PseudonymKind::Staff, "dr-a");
    let mut log = AuditLog::new("fuzz.example/log").expect("log");
    let events = [
        AuditEvent::new(T0 * 1000, actor.clone(), "doctor", Action::Read, "pms").expect("event"),
        AuditEvent::new(
            T0 * 1000 + 5,
            actor.clone(),
            "reception",
            Action::Export,
            "pms-reception",
        )
        .expect("event")
        .subject(key.pseudonym(PseudonymKind::Subject, "patient-1"))
        .category("chat-messages")
        .and_then(|e| e.record("msg-17"))
        .and_then(|e| e.purpose("treatment-communication"))
        .and_then(|e| e.legal_basis("art9-2-h"))
        .and_then(|e| e.correlation("req-9"))
        .expect("event"),
        AuditEvent::new(
            T0 * 1000 + 9,
            actor.clone(),
            "doctor",
            Action::Delete,
            "pms",
        )
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
    write(
        &dir,
        nc,
        "signed-checkpoint",
        cp.sign(&[&signer]).expect("sign").as_bytes(),
    );
    write(&dir, nc, "vkey", signer.verifier().to_string().as_bytes());
    write(&dir, nc, "skey", signer.to_secret_string().as_bytes());
    write(&dir, nc, "go-note", "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n".as_bytes());
    write(
        &dir,
        nc,
        "go-skey",
        b"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    );
    write(&dir, nc, "pseudonym", actor.to_string().as_bytes());
    write(&dir, nc, "audit-key", key.to_secret_string().as_bytes());

    // Proofs: structured input; a few byte strings of different lengths.
    for (i, len) in [64usize, 200, 600].iter().enumerate() {
        let bytes: Vec<u8> = (0..*len).map(|j| (j * 37 + i * 11) as u8).collect();
        write(&dir, "audit_proofs", &format!("seed-{i}"), &bytes);
    }

    // Policies.
    write(&dir, "policy_toml", "de-practice", POLICY.as_bytes());
    write(
        &dir,
        "policy_toml",
        "consent-default",
        DEFAULT_POLICY_TOML.as_bytes(),
    );

    retention_json(&dir);
    ffi_envelope(&dir);
    ffi_keys_consent(&dir);
    ffi_policy_audit(&dir);
    whatsapp(&dir);
    println!("seeds written to {}", dir.display());
}

/// The bytes of a new ledger under the default policy.
fn empty_ledger_bytes() -> Vec<u8> {
    Ledger::new(ConsentPolicy::default())
        .expect("ledger")
        .to_bytes()
        .expect("a whole ledger")
}

/// The version-1 form of a version-2 ledger file (docs/CONSENT.md 5.3):
/// entries without chain hashes, policy, notices, retirements, events, then
/// the end entry `[count, SHA-256 of all bytes before it]`.
fn version_1(v2: &[u8]) -> Vec<u8> {
    let mut entries: Vec<(u8, &[u8])> = Vec::new();
    let mut at = 5;
    while at + 5 <= v2.len() {
        let len = u32::from_be_bytes([v2[at + 1], v2[at + 2], v2[at + 3], v2[at + 4]]) as usize;
        entries.push((v2[at], &v2[at + 5..at + 5 + len]));
        at += 5 + len + 32;
    }
    entries.sort_by_key(|(tag, _)| *tag);
    let mut out = b"CDCL\x01".to_vec();
    for (tag, body) in &entries {
        out.push(*tag);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }
    let count = u8::try_from(entries.len()).expect("fewer than 128 entries");
    let mut end = vec![0x92, count, 0xc4, 0x20];
    end.extend_from_slice(&caduceus_core::suite::sha256(&[&out]));
    out.push(5);
    out.extend_from_slice(&(end.len() as u32).to_be_bytes());
    out.extend_from_slice(&end);
    out
}

/// `cat(&[a, b, ...])`: the parts joined with NUL bytes.
fn nul_joined(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&0u8)
}

/// Record metadata and holds in the JSON of `retention::parse_records` /
/// `parse_holds` (the CLI's test data).
const RECORDS: &str = r#"[
 {"id": 1, "subject": "p-7f3a91", "category": "chat-messages", "created": "2022-01-10"},
 {"id": 2, "subject": "p-7f3a91", "category": "clinical-photos", "created": "2025-11-02", "end-of-treatment": "2025-12-10"},
 {"id": 3, "subject": "p-7f3a91", "category": "invoices", "billing": "2025-12-15"},
 {"id": 4, "subject": "p-7f3a91", "category": "xray-records", "last-contact": "2015-05-04", "birth": "2010-03-01"},
 {"id": 5, "subject": "p-7f3a91", "category": "consent-records", "consent-end": "2024-02-29", "last-contact": "2023-01-01"}
]"#;
const HOLDS: &str = r#"[{"record": 1, "reason": "case 3 O 12/26"},
 {"subject": "p-7f3a91", "reason": "Rechtsstreit", "from": "2025-01-01", "until": "2027-01-01"},
 {"category": "invoices", "reason": "tax audit 2026", "from": "2026-01-01"}]"#;

fn retention_json(dir: &Path) {
    let t = "retention_json";
    write(dir, t, "records", RECORDS.as_bytes());
    write(dir, t, "holds", HOLDS.as_bytes());
    write(
        dir,
        t,
        "records-holds",
        nul_joined(&[RECORDS.as_bytes(), HOLDS.as_bytes()]).as_slice(),
    );
    write(dir, t, "empty", b"[]");
    write(
        dir,
        t,
        "one-record",
        br#"[{"id": 18446744073709551615, "subject": "p", "category": "backups"}]"#,
    );
    // Inputs that fail to parse with a marker in a string value: the error
    // must not quote it.
    write(
        dir,
        t,
        "marker-wrong-type",
        br#"[{"id": "PATIENT-SECRET-MARKER", "subject": "p-1", "category": "chat-messages"}]"#,
    );
    write(dir, t, "marker-bad-date", br#"[{"id": 1, "subject": "PATIENT-SECRET-MARKER", "category": "chat-messages", "created": "PATIENT-SECRET-MARKER"}]"#);
    write(dir, t, "marker-duplicate-id", br#"[{"id": 1, "subject": "PATIENT-SECRET-MARKER", "category": "invoices"}, {"id": 1, "subject": "PATIENT-SECRET-MARKER", "category": "invoices"}]"#);
    write(
        dir,
        t,
        "marker-hold",
        br#"[{"record": 1, "subject": "p-1", "reason": "PATIENT-SECRET-MARKER"}]"#,
    );
    write(
        dir,
        t,
        "marker-hold-unknown-key",
        br#"[{"record": 1, "reason": "PATIENT-SECRET-MARKER", "note": "PATIENT-SECRET-MARKER"}]"#,
    );
    write(dir, t, "marker-hold-dates", br#"[{"record": 1, "reason": "PATIENT-SECRET-MARKER", "from": "2026-01-01", "until": "2025-01-01"}]"#);
}

/// Envelope edits (as in `envelope_open`): none, a bit flip, a truncation,
/// an appended tail.
const EDITS: [&[u8]; 4] = [
    &[0, 0],
    &[1, 0x30, 0, 0, 0x01, 0],
    &[0, 1, 0x10, 0, 0],
    &[0, 2, 3, 1, 2, 3],
];

fn ffi_envelope(dir: &Path) {
    let t = "ffi_envelope";
    // Operations 0-4 (open, open_any, open_segment, rewrap, stream) on the
    // fixed messages, edited; raw small envelopes too.
    let tails: [&[u8]; 5] = [
        &[],
        &[],
        &[1],
        &[1],
        &[3, 0x11, 0, 0, 0x01, 0, 1, 0x40, 0, 0],
    ];
    for (op, tail) in tails.iter().enumerate() {
        for mode in 1u8..=3 {
            for (v, edit) in EDITS.iter().enumerate() {
                let mut s = vec![op as u8, mode];
                s.extend_from_slice(edit);
                s.extend_from_slice(tail);
                write(dir, t, &format!("op{op}-mode{mode}-{v}"), &s);
            }
        }
        for (i, b) in bases().iter().enumerate() {
            if b.sealed.len() < 100_000 {
                let mut s = vec![op as u8 | 0x80, 0];
                s.extend_from_slice(&b.sealed);
                write(dir, t, &format!("op{op}-raw-{i}"), &s);
            }
        }
    }
    // Rewrap removing `other` and a key id text.
    let mut s = vec![3, 2, 0, 0, 7];
    s.extend_from_slice(other_identity().key_id().to_string().as_bytes());
    write(dir, t, "op3-remove", &s);
    // Part sets.
    for mode in 1u8..=2 {
        for (v, edit) in EDITS.iter().enumerate() {
            let mut s = vec![5, mode];
            s.extend_from_slice(edit);
            s.push(v as u8);
            write(dir, t, &format!("op5-mode{mode}-{v}"), &s);
        }
    }
    for (i, p) in part_bases().iter().enumerate() {
        let mut s = vec![5 | 0x80, 0];
        s.extend_from_slice(&p.sealed);
        write(dir, t, &format!("op5-raw-{i}"), &s);
    }
    // Keyring: the fixed message edited, with the fixed record appended.
    let kb = keyring_base();
    for (v, edit) in EDITS.iter().enumerate() {
        let mut s = vec![6, 1];
        s.extend_from_slice(edit);
        let n = kb.record.len() as u16;
        s.extend_from_slice(&n.to_le_bytes());
        s.extend_from_slice(&kb.record);
        write(dir, t, &format!("op6-{v}"), &s);
    }
    let mut s = vec![6 | 0x80, 0];
    s.extend_from_slice(&kb.messages[0].sealed);
    write(dir, t, "op6-raw", &s);
    // Seal: labels and plaintext.
    let labels: &[&[u8]] = &[
        b"p-3f9a",
        b"chat-messages",
        b"treatment-communication",
        b"text/plain",
    ];
    for (v, (flags, pt)) in [
        (0u8, &b"Zahnschmerzen seit Dienstag"[..]),
        (1, &[]),
        (0x85, &[7u8; 300][..]),
    ]
    .iter()
    .enumerate()
    {
        let mut parts = labels.to_vec();
        parts.push(pt);
        let mut s = vec![7 | if v == 2 { 0x80 } else { 0 }, *flags];
        s.extend_from_slice(&nul_joined(&parts));
        write(dir, t, &format!("op7-{v}"), &s);
    }
}

fn ffi_keys_consent(dir: &Path) {
    let t = "ffi_keys_consent";
    let keys = [
        identity(),
        other_identity(),
        staff_identity(),
        practice_identity(),
    ];
    for (i, k) in keys.iter().enumerate() {
        let mut s = vec![0];
        s.extend_from_slice(k.to_secret_string().as_bytes());
        write(dir, t, &format!("op0-{i}"), &s);
        let mut s = vec![1];
        s.extend_from_slice(k.public_key().to_string().as_bytes());
        write(dir, t, &format!("op1-{i}"), &s);
    }
    // Keyring records wrapped to the fixed keys.
    let mut rng = DeterministicRng::new(43);
    let rec = new_keyring_record(&mut rng);
    let records = [
        keyring_base().record.clone(),
        rec.to_bytes(),
        rec.shred(T0 + 100).to_bytes(),
        rec.add_recipients(
            &staff_identity(),
            &[other_identity().public_key()],
            &mut rng,
        )
        .expect("add")
        .to_bytes(),
    ];
    for (i, r) in records.iter().enumerate() {
        let mut s = vec![2 | if i == 0 { 0x80 } else { 0 }];
        s.extend_from_slice(r);
        write(dir, t, &format!("op2-{i}"), &s);
    }
    for (i, flags) in [0u8, 5, 0x83].iter().enumerate() {
        let mut s = vec![3 | if i == 2 { 0x80 } else { 0 }, *flags];
        s.extend_from_slice(&nul_joined(&[
            b"p-3f9a",
            b"clinical-photos",
            staff_identity().key_id().to_string().as_bytes(),
        ]));
        write(dir, t, &format!("op3-{i}"), &s);
    }
    // Ledgers.
    let mut s = vec![4 | 0x80];
    s.extend_from_slice(sample_ledger_bytes());
    write(dir, t, "op4-sample", &s);
    let mut s = vec![4];
    s.extend_from_slice(&empty_ledger_bytes());
    write(dir, t, "op4-empty", &s);
    // Consent events as JSON (time byte 5: T0 + 5000).
    let events = [
        r#"{"id": "evt-9", "subject": "p-0003", "purposes": ["treatment-communication", "marketing"], "status": "given", "method": "qr-reception", "notice": {"id": "privacy-chat", "version": 1, "language": "de"}, "channel": "reception-qr", "evidence": "form-9", "recorded_by": "staff-1", "time": 1763800100, "expires_at": 1795336100}"#,
        r#"{"id": "evt-10", "subject": "p-0000", "purposes": ["marketing"], "status": "withdrawn", "method": "chat-reply", "channel": "whatsapp", "recorded_by": "ingest", "time": 1763800200}"#,
        r#"{"id": "evt-11", "subject": "p-0002", "purposes": ["recall"], "status": "refused", "method": "other", "channel": "phone", "recorded_by": "staff-2", "time": 1763800300}"#,
    ];
    for (i, e) in events.iter().enumerate() {
        let mut s = vec![5 | if i == 0 { 0x80 } else { 0 }, 5];
        s.extend_from_slice(e.as_bytes());
        write(dir, t, &format!("op5-{i}"), &s);
    }
    // Decisions, opt-outs, histories.
    let strings: [&[&[u8]]; 3] = [
        &[
            b"p-0000",
            b"marketing",
            b"STOP",
            b"stop-2",
            b"wamid.2",
            b"whatsapp",
        ],
        &[
            b"p-0001",
            b"treatment-communication",
            b"Danke!",
            b"msg-3",
            b"wamid.3",
            b"whatsapp",
        ],
        &[
            b"p-0002",
            b"recall",
            b" abmelden ",
            b"stop-4",
            b"wamid.4",
            b"sms",
        ],
    ];
    for (i, f) in strings.iter().enumerate() {
        let mut s = vec![6 | if i == 0 { 0x80 } else { 0 }, 5, 5];
        s.extend_from_slice(&nul_joined(f));
        write(dir, t, &format!("op6-{i}"), &s);
    }
    // A consent policy and a notice.
    for (i, flags) in [1u8, 0].iter().enumerate() {
        let mut s = vec![7 | if i == 1 { 0x80 } else { 0 }, *flags, 2, 5, 5];
        s.extend_from_slice(&nul_joined(&[
            DEFAULT_POLICY_TOML.as_bytes(),
            b"privacy-chat",
            b"de",
            "Datenschutzhinweis f\u{fc}r den Chat".as_bytes(),
        ]));
        write(dir, t, &format!("op7-{i}"), &s);
    }
}

fn ffi_policy_audit(dir: &Path) {
    let t = "ffi_policy_audit";
    let mut s = vec![0 | 0x80];
    s.extend_from_slice(POLICY.as_bytes());
    write(dir, t, "op0-de-practice", &s);
    // Sweeps (time byte 7: T0 + 400 days).
    let sweeps: [Vec<u8>; 3] = [
        RECORDS.as_bytes().to_vec(),
        nul_joined(&[RECORDS.as_bytes(), HOLDS.as_bytes()]),
        b"[]".to_vec(),
    ];
    for (i, body) in sweeps.iter().enumerate() {
        let mut s = vec![1 | if i == 0 { 0x80 } else { 0 }, 7];
        s.extend_from_slice(body);
        write(dir, t, &format!("op1-{i}"), &s);
    }
    // Plans.
    let mut s = vec![2 | 0x80, 7, 7];
    s.extend_from_slice(&nul_joined(&[
        b"p-7f3a91",
        RECORDS.as_bytes(),
        HOLDS.as_bytes(),
    ]));
    write(dir, t, "op2-holds", &s);
    let mut s = vec![2, 3, 8];
    s.extend_from_slice(&nul_joined(&[b"p-7f3a91", RECORDS.as_bytes()]));
    write(dir, t, "op2", &s);
    let mut s = vec![3 | 0x80, 7, 7];
    s.extend_from_slice(&nul_joined(&[b"p-7f3a91", RECORDS.as_bytes()]));
    write(dir, t, "op3", &s);
    // Access checks.
    for (i, (op, strings)) in [
        (0u8, [&b"doctor"[..], b"clinical-photos", b"finance"]),
        (2, [b"finance", b"invoices", b"admin"]),
        (1, [b"coordinator", b"chat-messages", b"doctor"]),
    ]
    .iter()
    .enumerate()
    {
        let mut s = vec![4 | if i == 0 { 0x80 } else { 0 }, *op, 4];
        s.extend_from_slice(&nul_joined(strings));
        write(dir, t, &format!("op4-{i}"), &s);
    }
    // Audit texts: key, identifier, signer, origin, event.
    let fx = audit_fixture();
    for kind in 0u8..=1 {
        let mut s = vec![5 | if kind == 0 { 0x80 } else { 0 }, kind];
        s.extend_from_slice(&nul_joined(&[
            fx.audit_key.as_bytes(),
            b"patient-1",
            fx.signer.as_bytes(),
            AUDIT_ORIGIN.as_bytes(),
            fx.event_json.as_bytes(),
        ]));
        write(dir, t, &format!("op5-{kind}"), &s);
    }
    // Stored entries: the fixed log, edited, reordered, and raw.
    write(dir, t, "op6-fixed", &[6, 1]);
    write(dir, t, "op6-null", &[6 | 0x80, 1]);
    write(dir, t, "op6-edit", &[6, 3, 1, 1, 0x40, 0, 0, 1, 0]);
    write(dir, t, "op6-remove", &[6, 5, 1]);
    write(dir, t, "op6-swap", &[6, 13, 0]);
    let mut s = vec![6, 0];
    for e in &fx.entries {
        s.extend_from_slice(&(e.len() as u16).to_le_bytes());
        s.extend_from_slice(e);
    }
    write(dir, t, "op6-raw", &s);
    // Checkpoints and proofs.
    let mut proof_bytes = vec![0x11u8; 64];
    proof_bytes.extend_from_slice(&[2, 0, 5, 0]);
    proof_bytes.extend_from_slice(&[0x22; 96]);
    for (i, flags) in [3u8, 0, 0x7c].iter().enumerate() {
        let mut s = vec![7 | if i == 0 { 0x80 } else { 0 }, *flags];
        s.extend_from_slice(&nul_joined(&[
            fx.signed_checkpoint.as_bytes(),
            fx.verifier.as_bytes(),
            &proof_bytes,
        ]));
        write(dir, t, &format!("op7-{i}"), &s);
    }
}

/// The signed webhook fixtures of `tests/fixtures/whatsapp/`: each body for
/// `whatsapp_webhook`, and its signature header, a NUL and the body for
/// `whatsapp_signature`; plus a few marker bodies.
fn whatsapp(dir: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/whatsapp");
    let mut names: Vec<_> = fs::read_dir(&fixtures)
        .expect("tests/fixtures/whatsapp")
        .map(|e| {
            e.expect("fixture entry")
                .file_name()
                .into_string()
                .expect("name")
        })
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    for name in &names {
        let body = fs::read(fixtures.join(name)).expect("fixture");
        let sig = fs::read(fixtures.join(format!("{name}.sig"))).expect("fixture signature");
        write(dir, "whatsapp_webhook", name, &body);
        write(dir, "whatsapp_signature", name, &nul_joined(&[&sig, &body]));
    }
    let t = "whatsapp_webhook";
    write(
        dir,
        t,
        "marker-object",
        br#"{"object":"PATIENT-SECRET-MARKER","entry":[]}"#,
    );
    write(dir, t, "marker-truncated", br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messages":[{"text":{"body":"PATIENT-SECRET-MARKER"#);
    write(dir, t, "marker-repeated-key", br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messages":[{"from":"1","id":"w","timestamp":1,"type":"text","type":"PATIENT-SECRET-MARKER"}]},"field":"messages"}]}]}"#);
    write(dir, t, "marker-text", br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"contacts":[{"profile":{"name":"PATIENT-SECRET-MARKER"},"user_id":"DE.PATIENT-SECRET-MARKER"}],"messages":[{"from_user_id":"DE.PATIENT-SECRET-MARKER","id":"w","timestamp":1,"type":"text","text":{"body":"PATIENT-SECRET-MARKER"}}]},"field":"messages"}]}]}"#);
    let s = "whatsapp_signature";
    write(dir, s, "no-header", b"{}");
    write(dir, s, "marker-header", b"sha256=PATIENT-SECRET-MARKER\0{}");
}
