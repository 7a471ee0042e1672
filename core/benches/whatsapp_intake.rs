//! WhatsApp intake benchmark: one signed text-message webhook taken all the
//! way (verify the signature, parse, decide for a consented patient, which
//! seals the text to the subject-category key, and append the decision's
//! audit entry to the log) against a bare 200-byte HPKE seal, the one
//! public-key operation the intake cannot avoid, in the same run.
//!
//! Run with `cargo bench -p caduceus-core --bench whatsapp_intake`. The
//! target is stated as
//!
//! ```text
//! ratio = intakes per second / bare HPKE seals per second   (goal >= 0.8)
//! ```
//!
//! Criterion reports each on its own; the binary ends with an interleaved
//! phase (the two timed alternately, round after round, on one core) that
//! prints the median ratio and its spread. Figures: docs/BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use caduceus_core::access::StaffKey;
use caduceus_core::audit::{AuditKey, AuditLog};
use caduceus_core::consent::{ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::testing::DeterministicRng;
use caduceus_core::whatsapp::{
    DecisionKind, IdentityMap, Intake, IntakeConfig, KeyringSet, ParseLimits, parse_webhook,
    verify_signature,
};
use criterion::Criterion;

/// The fixtures' clock (their messages are at 1790000001 and later).
const NOW: i64 = 1_790_000_100;

struct Setup {
    body: Vec<u8>,
    sig: String,
    secret: Vec<u8>,
    intake: Intake,
    ledger: Ledger,
    ids: IdentityMap,
    keys: KeyringSet,
    log: AuditLog,
    rng: DeterministicRng,
    hpke_recipient: [u8; 32],
    message: [u8; 200],
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/whatsapp")
            .join(name),
    )
    .unwrap()
}

impl Setup {
    fn new() -> Self {
        let body = fixture("text.json");
        let sig = String::from_utf8(fixture("text.json.sig"))
            .unwrap()
            .trim()
            .to_owned();
        let secret = fixture("app-secret.txt");
        let mut rng = DeterministicRng::new(1);
        let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
        let notice = ledger
            .register_notice("privacy-chat", 1, "de", "Datenschutzhinweis", NOW - 10, NOW)
            .unwrap();
        let policy = Policy::parse(DEFAULT_POLICY).unwrap();
        let staff = vec![StaffKey {
            key: doctor.public_key(),
            roles: vec!["doctor".into()],
        }];
        let config = IntakeConfig::new(practice.public_key(), staff, notice.clone());
        let intake = Intake::new(AuditKey::from_bytes([3; 32]), &policy, config).unwrap();
        let mut s = Self {
            body,
            sig,
            secret,
            intake,
            ledger,
            ids: IdentityMap::new(),
            keys: KeyringSet::new(),
            log: AuditLog::new("praxis.example/audit").unwrap(),
            hpke_recipient: *PrivateKey::generate(KeyKind::SubjectCategory, &mut rng)
                .public_key()
                .as_bytes(),
            rng,
            message: [0x5a; 200],
        };
        // The patient consented and has a chat-messages keyring record:
        // the steady state of a practice's day.
        let first = s.decide_once();
        let subject = first.subject.clone().unwrap();
        first
            .apply(&mut s.ledger, &mut s.ids, &mut s.keys, NOW)
            .unwrap();
        let mut consent = ConsentEvent::new(
            "c-1",
            subject.as_str(),
            &["treatment-communication"],
            ConsentStatus::Given,
            ConsentMethod::ChatReply,
            Some(notice),
            "whatsapp",
            "intake",
            NOW - 5,
        )
        .unwrap();
        consent.evidence = Some("wamid.bench".into());
        s.ledger.append(consent, NOW).unwrap();
        let stored = s.decide_once();
        assert!(matches!(stored.kind, DecisionKind::Stored { .. }));
        stored
            .apply(&mut s.ledger, &mut s.ids, &mut s.keys, NOW)
            .unwrap();
        s
    }

    fn decide_once(&mut self) -> caduceus_core::whatsapp::Decision {
        let hook = parse_webhook(&self.body, &ParseLimits::default()).unwrap();
        self.intake
            .decide(
                &hook.events[0],
                &self.ledger,
                &self.ids,
                &self.keys,
                NOW,
                &mut self.rng,
            )
            .unwrap()
    }

    /// One whole intake: verify, parse, decide (seals), audit entry.
    fn intake_once(&mut self) -> usize {
        verify_signature(&self.body, Some(&self.sig), &[&self.secret]).unwrap();
        let hook = parse_webhook(&self.body, &ParseLimits::default()).unwrap();
        let mut n = 0;
        for event in &hook.events {
            let d = self
                .intake
                .decide(
                    event,
                    &self.ledger,
                    &self.ids,
                    &self.keys,
                    NOW,
                    &mut self.rng,
                )
                .unwrap();
            n += d.record.as_ref().map_or(0, |r| r.envelope.len());
            for a in &d.audit_events {
                n += self.log.append(a).unwrap().bytes.len();
            }
        }
        n
    }

    fn hpke_once(&mut self) -> usize {
        let (enc, ct) = caduceus_core::suite::hpke_seal(
            &self.hpke_recipient,
            b"caduceus bench",
            b"",
            &self.message,
            &mut self.rng,
        )
        .unwrap();
        enc.len() + ct.len()
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    let mut s = Setup::new();
    c.bench_function(
        "whatsapp intake: verify+parse+decide+seal+audit (text webhook)",
        |b| b.iter(|| black_box(s.intake_once())),
    );
    c.bench_function("bare HPKE seal, 200 bytes", |b| {
        b.iter(|| black_box(s.hpke_once()))
    });
    c.final_summary();

    let (rounds, per_round) = if bench_mode { (41, 400) } else { (1, 2) };
    let (mut ratios, mut intake_rate, mut hpke_rate) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..per_round {
            black_box(s.hpke_once());
        }
        let hpke = t.elapsed().as_secs_f64() / per_round as f64;
        let t = Instant::now();
        for _ in 0..per_round {
            black_box(s.intake_once());
        }
        let intake = t.elapsed().as_secs_f64() / per_round as f64;
        ratios.push(hpke / intake);
        intake_rate.push(1.0 / intake);
        hpke_rate.push(1.0 / hpke);
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(0.0, f64::max);
    println!();
    println!(
        "Interleaved phase ({rounds} rounds of {per_round}): intake {:.0}/s, bare HPKE seal {:.0}/s, \
         ratio intake/HPKE = {:.3} (median; min {:.3}, max {:.3}; goal >= 0.8)",
        median(&mut intake_rate),
        median(&mut hpke_rate),
        median(&mut ratios),
        min,
        max
    );
}
