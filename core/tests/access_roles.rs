#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Access roles of the default policy: decisions, key recipients fed into
//! core::keys, and the access / portability plan.

use caduceus_core::access::{self, AccessError, Operation, StaffKey};
use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::retention::*;
use caduceus_core::testing::DeterministicRng;

fn policy() -> Policy {
    Policy::parse(DEFAULT_POLICY).unwrap()
}

#[test]
fn role_decisions() {
    let p = policy();
    let yes = |r, c, op| access::check(&p, r, c, op).unwrap().allowed;
    assert!(yes("doctor", "clinical-photos", Operation::Read));
    assert!(yes("doctor", "xray-records", Operation::Export));
    assert!(!yes("coordinator", "clinical-photos", Operation::Read));
    assert!(yes("coordinator", "chat-messages", Operation::Write));
    assert!(!yes("finance", "patient-record", Operation::Read));
    assert!(yes("finance", "invoices", Operation::Read));
    assert!(!yes("admin", "chat-messages", Operation::Read));
    assert!(!yes("doctor", "invoices", Operation::Read));
    let d = access::check(&p, "finance", "xray-records", Operation::Read).unwrap();
    assert_eq!(d.policy_hash, p.hash_hex());
    assert!(d.reason.contains("may not read"));
    assert_eq!(
        access::check(&p, "nurse", "invoices", Operation::Read).unwrap_err(),
        AccessError::UnknownRole("nurse".into())
    );
    assert!(matches!(
        access::check(&p, "doctor", "x", Operation::Read),
        Err(AccessError::UnknownCategory(_))
    ));
}

#[test]
fn wrapped_key_recipients_feed_the_keyring() {
    let p = policy();
    let mut rng = DeterministicRng::new(7);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let reception = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let staff = [
        StaffKey {
            key: doctor.public_key(),
            roles: vec!["doctor".into()],
        },
        StaffKey {
            key: reception.public_key(),
            roles: vec!["coordinator".into()],
        },
    ];
    let photos =
        access::wrap_recipients(&p, "clinical-photos", &practice.public_key(), &staff).unwrap();
    assert_eq!(photos, [practice.public_key(), doctor.public_key()]);
    let chat =
        access::wrap_recipients(&p, "chat-messages", &practice.public_key(), &staff).unwrap();
    assert_eq!(chat.len(), 3);

    // The reception cannot open a clinical photo; the doctor can.
    let record =
        KeyringRecord::create("p-1", "clinical-photos", &photos, 1_763_800_000, &mut rng).unwrap();
    let labels = Labels::new(
        "p-1",
        "clinical-photos",
        "treatment-communication",
        "image/jpeg",
        1_763_800_000,
    )
    .unwrap();
    let sealed = envelope::seal(&[record.public_key()], &labels, b"jpeg", &mut rng).unwrap();
    assert!(envelope::open_with_keyring(&sealed, &record, &reception).is_err());
    assert_eq!(
        envelope::open_with_keyring(&sealed, &record, &doctor)
            .unwrap()
            .plaintext,
        b"jpeg"
    );

    let bad = [StaffKey {
        key: doctor.public_key(),
        roles: vec!["surgeon".into()],
    }];
    assert!(access::wrap_recipients(&p, "chat-messages", &practice.public_key(), &bad).is_err());
}

#[test]
fn access_and_portability_plan() {
    let p = policy();
    let s = "p-7f3a91";
    let mk = |id, cat: &str, created: &str| Record {
        id,
        subject: SubjectKey::of(s),
        category: p.category_id(cat).unwrap(),
        anchors: Anchors::created(created.parse().unwrap()),
    };
    let records = [
        mk(1, "chat-messages", "2025-11-02"),
        mk(2, "chat-messages", "2025-12-24"),
        mk(3, "invoices", "2025-12-15"),
        mk(4, "clinical-photos", "2025-11-03"),
    ];
    let plan = access::plan_access(&p, s, 1_769_853_600, &records).unwrap();
    let ids: Vec<&str> = plan
        .categories
        .iter()
        .map(|c| c.category.as_str())
        .collect();
    assert_eq!(ids, ["chat-messages", "clinical-photos", "invoices"]);
    assert!(plan.categories[0].portable && plan.categories[1].portable);
    assert!(!plan.categories[2].portable);
    let json = plan.to_json(&p);
    assert_eq!(json["policy"]["hash"], p.hash_hex());
    assert_eq!(json["categories"][0]["count"], 2);
    assert_eq!(json["categories"][0]["created-from"], "2025-11-02");
    assert_eq!(
        json["categories"][0]["export"]["records"],
        serde_json::json!([1, 2])
    );
    assert!(
        json["text"]["de"]
            .as_str()
            .unwrap()
            .contains("Chatnachrichten (WhatsApp): 2 Einträge vom 02.11.2025 bis 24.12.2025")
    );
    let de = json["text"]["de"].as_str().unwrap();
    assert!(
        de.contains("Rechnungen und Buchungsbelege: 1 Eintrag vom 15.12.2025."),
        "{de}"
    );
    assert!(!de.contains("1 Einträge"), "{de}");
    assert!(
        json["categories"][2]["legal-bases"][0]
            .as_str()
            .unwrap()
            .contains("6(1)(c)")
    );
    let other = Record {
        subject: SubjectKey::of("p-other"),
        ..records[0]
    };
    assert_eq!(
        access::plan_access(&p, s, 0, &[other]).unwrap_err(),
        AccessError::OtherSubject(1)
    );
}
