//! The real intake over the store: signed fixture webhooks are verified,
//! parsed and decided against state read from the store, and each decision
//! is committed as one delivery (docs/STORE.md section 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use caduceus_core::access::StaffKey;
use caduceus_core::audit::{Action, AuditEntry, AuditKey, Outcome, PseudonymKind};
use caduceus_core::consent::{ConsentPolicy, Ledger};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::whatsapp::{
    DecisionKind, Intake, IntakeConfig, ParseLimits, parse_webhook, verify_signature,
};
use caduceus_store::{Actor, Committed, Delivery, Store, StoreError};
use common::TempDir;

const NOW: i64 = 1_790_000_500;

fn fixture(name: &str) -> Vec<u8> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/whatsapp");
    std::fs::read(dir.join(name)).unwrap()
}

/// A ledger with the practice's notice registered (what the host
/// configures; the store keeps the events, not the notices).
fn notice_ledger(notice: &(String, u32, String, String)) -> Ledger {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    let (id, v, lang, text) = notice;
    l.register_notice(id, *v, lang, text, 1_780_000_000, 1_780_000_000)
        .unwrap();
    l
}

struct Host {
    intake: Intake,
    notice: (String, u32, String, String),
    doctor: PrivateKey,
    finance: PrivateKey,
    store: Store,
}

impl Host {
    fn new(db: &Path) -> Self {
        let mut rng = common::rng();
        let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
        let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let finance = PrivateKey::generate(KeyKind::Staff, &mut rng);
        let notice = (
            "privacy-chat".to_owned(),
            1,
            "de".to_owned(),
            "Datenschutzhinweis".to_owned(),
        );
        let staff = vec![
            StaffKey {
                key: doctor.public_key(),
                roles: vec!["doctor".into()],
            },
            StaffKey {
                key: finance.public_key(),
                roles: vec!["finance".into()],
            },
        ];
        let reference = notice_ledger(&notice).notices()[0].reference();
        Self {
            intake: Intake::new(
                AuditKey::generate(&mut rng),
                &Policy::parse(DEFAULT_POLICY).unwrap(),
                IntakeConfig::new(practice.public_key(), staff, reference),
            )
            .unwrap(),
            notice,
            doctor,
            finance,
            store: Store::open(db).unwrap(),
        }
    }

    /// The consent ledger rebuilt from the store's consent events.
    fn ledger(&self) -> Ledger {
        let mut l = notice_ledger(&self.notice);
        for e in self.store.consent_events().unwrap() {
            l.append(e, NOW).unwrap();
        }
        l
    }

    /// Verify, parse, decide against the stored state, and commit.
    fn deliver(&mut self, name: &str) -> Vec<(DecisionKind, Committed)> {
        let body = fixture(name);
        let sig = String::from_utf8(fixture(&format!("{name}.sig"))).unwrap();
        verify_signature(&body, Some(sig.trim()), &[&fixture("app-secret.txt")]).unwrap();
        let hook = parse_webhook(&body, &ParseLimits::default()).unwrap();
        let mut out = Vec::new();
        for event in &hook.events {
            let d = self
                .intake
                .decide(
                    event,
                    &self.ledger(),
                    &self.store.identity_map().unwrap(),
                    &self.store.keyrings().unwrap(),
                    NOW,
                    &mut common::rng(),
                )
                .unwrap();
            let mut delivery = Delivery::from_decision(&d, NOW);
            if let Some(plan) = &d.media {
                let photo = fixture("image.bin");
                let (mut sealed, mut sealer) = plan.begin_seal(&mut common::rng()).unwrap();
                sealer.push(&photo, &mut sealed).unwrap();
                sealer.finish(&mut sealed).unwrap();
                delivery = delivery.with_media(plan, sealed);
            }
            out.push((d.kind, self.store.commit_delivery(&delivery).unwrap()));
        }
        out
    }
}

#[test]
fn a_first_contact_consent_and_photo_commit_and_open_from_the_store() {
    let dir = TempDir::new("intake");
    let mut h = Host::new(&dir.db());
    let r = h.deliver("text.json");
    assert_eq!(r[0].0, DecisionKind::AskConsent);
    assert_eq!(h.store.record_count().unwrap(), 0);
    let r = h.deliver("consent-yes-photos-button.json");
    assert_eq!(r[0].0.code(), "consent-recorded");
    assert_eq!(h.store.consent_events().unwrap().len(), 1);
    let r = h.deliver("image.json");
    let DecisionKind::FetchMedia { record_id } = &r[0].0 else {
        panic!("{:?}", r[0].0)
    };
    let record_id = record_id.clone();
    // The doctor opens the photo from the store; finance cannot.
    let opened = h.store.open_record(&record_id, &h.doctor).unwrap();
    assert_eq!(opened.plaintext, fixture("image.bin"));
    assert!(matches!(
        h.store.open_record(&record_id, &h.finance),
        Err(StoreError::NoAccess)
    ));
    // Audited opens: the doctor's read and finance's refused read are both
    // in the log before the call returns; only the doctor gets plaintext.
    let key = AuditKey::from_bytes([5; 32]);
    let actor = |role: &str| Actor {
        pseudonym: key.pseudonym(PseudonymKind::Staff, role),
        role: role.to_owned(),
        source: "pms".to_owned(),
    };
    let before = h.store.audit_size().unwrap();
    let audited = h
        .store
        .open_record_audited(&record_id, &h.doctor, &actor("doctor"), NOW + 5)
        .unwrap();
    assert_eq!(audited.plaintext, opened.plaintext);
    assert!(matches!(
        h.store
            .open_record_audited(&record_id, &h.finance, &actor("finance"), NOW + 6),
        Err(StoreError::NoAccess)
    ));
    assert_eq!(h.store.audit_size().unwrap(), before + 2);
    let entries = h.store.audit_entries(before, before + 2).unwrap();
    let read = AuditEntry::from_bytes(&entries[0]).unwrap();
    assert_eq!(read.event.action(), Action::Read);
    assert_eq!(read.event.record_id(), Some(record_id.as_str()));
    assert_eq!(read.event.result(), &Outcome::Success);
    let denied = AuditEntry::from_bytes(&entries[1]).unwrap();
    assert_eq!(denied.event.result(), &Outcome::Denied("no-access".into()));
    // The consent ledger rebuilt from the store allows photos now.
    let subject = opened.header.labels.subject.clone();
    assert!(h.ledger().decide(&subject, "clinical-photos", NOW).allowed);
    assert!(!h.store.identity_map().unwrap().is_empty());
    assert!(
        h.store
            .outbound_state()
            .unwrap()
            .last_inbound(&subject)
            .is_some()
    );
    // Meta redelivers the first message: nothing is written.
    let size = h.store.audit_size().unwrap();
    let r = h.deliver("text.json");
    assert_eq!(r[0].1, Committed::Duplicate);
    assert_eq!(h.store.audit_size().unwrap(), size);
    assert!(h.store.verify_audit(&[]).unwrap().is_ok());
}
