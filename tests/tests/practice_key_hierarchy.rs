//! The key hierarchy end to end, as a practice lives it: the processor's
//! ingest seals on first contact and cannot read back; authorised staff
//! read through the keyring; a departing staff member is revoked; the
//! practice key rotates without a window of unreadability; a shred erases a
//! patient's category everywhere, backups of the envelopes included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::envelope::{self, EnvelopeError, Labels};
use caduceus_core::keys::{KeyError, KeyKind, KeyringRecord, PrivateKey, PublicKey};
use caduceus_core::testing::DeterministicRng;

struct Practice {
    practice: PrivateKey,
    doctor: PrivateKey,
    assistant: PrivateKey,
    finance: PrivateKey,
}

impl Practice {
    fn new(rng: &mut DeterministicRng) -> Self {
        Self {
            practice: PrivateKey::generate(KeyKind::Practice, rng),
            doctor: PrivateKey::generate(KeyKind::Staff, rng),
            assistant: PrivateKey::generate(KeyKind::Staff, rng),
            finance: PrivateKey::generate(KeyKind::Staff, rng),
        }
    }

    /// Who may read clinical photos: practice, doctor, assistant (not finance).
    fn clinical_recipients(&self) -> Vec<PublicKey> {
        vec![
            self.practice.public_key(),
            self.doctor.public_key(),
            self.assistant.public_key(),
        ]
    }
}

/// What the processor's ingest holds: public keys only.
struct Ingest {
    recipients: Vec<PublicKey>,
    keyring: Vec<KeyringRecord>,
    store: Vec<Vec<u8>>,
}

impl Ingest {
    fn receive(
        &mut self,
        subject: &str,
        category: &str,
        content_type: &str,
        body: &[u8],
        at: i64,
        rng: &mut DeterministicRng,
    ) {
        let record = match self
            .keyring
            .iter()
            .find(|r| r.subject() == subject && r.category() == category)
        {
            Some(r) => r.clone(),
            None => {
                let r =
                    KeyringRecord::create(subject, category, &self.recipients, at, rng).unwrap();
                self.keyring.push(r.clone());
                r
            }
        };
        let labels = Labels::new(
            subject,
            category,
            "treatment-communication",
            content_type,
            at,
        )
        .unwrap();
        self.store
            .push(envelope::seal(&[record.public_key()], &labels, body, rng).unwrap());
    }
}

#[test]
fn a_practice_day_on_the_key_hierarchy() {
    let mut rng = DeterministicRng::new(2026);
    let p = Practice::new(&mut rng);
    let mut ingest = Ingest {
        recipients: p.clinical_recipients(),
        keyring: Vec::new(),
        store: Vec::new(),
    };

    // Inbound: two messages and a photo from patient A, one from patient B.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i % 256) as u8).collect();
    ingest.receive(
        "p-aaaa01",
        "chat-messages",
        "text/plain",
        b"Mein Zahn tut weh",
        1_763_800_000,
        &mut rng,
    );
    ingest.receive(
        "p-aaaa01",
        "chat-messages",
        "text/plain",
        b"Seit gestern",
        1_763_800_060,
        &mut rng,
    );
    ingest.receive(
        "p-aaaa01",
        "clinical-photos",
        "image/jpeg",
        &photo,
        1_763_800_120,
        &mut rng,
    );
    ingest.receive(
        "p-bbbb02",
        "chat-messages",
        "text/plain",
        b"Termin absagen",
        1_763_800_180,
        &mut rng,
    );
    // One keyring record per (patient, category), created on first contact.
    assert_eq!(ingest.keyring.len(), 3);

    // The processor holds no private key: it can read labels, not content.
    for sealed in &ingest.store {
        let header = envelope::inspect(sealed).unwrap();
        assert_eq!(header.labels.purpose, "treatment-communication");
        assert_eq!(header.recipients.len(), 1);
    }

    let record_of = |ingest: &Ingest, subject: &str, category: &str| {
        ingest
            .keyring
            .iter()
            .find(|r| r.subject() == subject && r.category() == category)
            .unwrap()
            .clone()
    };
    let open = |ingest: &Ingest, i: usize, who: &PrivateKey| {
        let header = envelope::inspect(&ingest.store[i]).unwrap();
        let record = record_of(ingest, &header.labels.subject, &header.labels.category);
        envelope::open_with_keyring(&ingest.store[i], &record, who)
    };

    // The doctor reads everything; finance reads nothing clinical.
    assert_eq!(
        open(&ingest, 0, &p.doctor).unwrap().plaintext,
        b"Mein Zahn tut weh"
    );
    assert_eq!(open(&ingest, 2, &p.assistant).unwrap().plaintext, photo);
    assert_eq!(
        open(&ingest, 3, &p.finance).unwrap_err(),
        EnvelopeError::NoAccess
    );

    // The assistant leaves: revoke the wrap in every record.
    for r in ingest.keyring.iter_mut() {
        *r = r.revoke_recipient(&p.assistant.key_id()).unwrap();
    }
    assert_eq!(
        open(&ingest, 2, &p.assistant).unwrap_err(),
        EnvelopeError::NoAccess
    );
    assert_eq!(open(&ingest, 2, &p.doctor).unwrap().plaintext, photo);

    // Practice key rotation: new records exist before the old key retires,
    // and every envelope stays readable throughout (no re-encryption).
    let new_practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let rotated = KeyringRecord::rotate_practice_key(
        &ingest.keyring,
        &p.practice,
        &new_practice.public_key(),
        &mut rng,
    )
    .unwrap();
    for i in 0..ingest.store.len() {
        // Before the switch: old records with the old key.
        assert!(open(&ingest, i, &p.practice).is_ok());
    }
    let old_keyring = std::mem::replace(&mut ingest.keyring, rotated);
    for i in 0..ingest.store.len() {
        assert!(open(&ingest, i, &new_practice).is_ok());
        assert_eq!(
            open(&ingest, i, &p.practice).unwrap_err(),
            EnvelopeError::NoAccess
        );
    }
    // Envelope bytes never changed.
    assert_eq!(old_keyring.len(), ingest.keyring.len());

    // A backup of the envelope store, taken before the erasure.
    let backup = ingest.store.clone();

    // Erasure of patient A's chat messages: shred that one record.
    let idx = ingest
        .keyring
        .iter()
        .position(|r| r.subject() == "p-aaaa01" && r.category() == "chat-messages")
        .unwrap();
    ingest.keyring[idx] = ingest.keyring[idx].shred(1_763_900_000);
    // The shredded record survives a storage round trip as a tombstone.
    let tomb = KeyringRecord::from_bytes(&ingest.keyring[idx].to_bytes()).unwrap();
    assert_eq!(
        tomb.unwrap(&new_practice).unwrap_err(),
        KeyError::KeyShredded
    );

    for store in [&ingest.store, &backup] {
        for (i, sealed) in store.iter().enumerate() {
            let header = envelope::inspect(sealed).unwrap();
            let record = record_of(&ingest, &header.labels.subject, &header.labels.category);
            let result = envelope::open_with_keyring(sealed, &record, &p.doctor);
            if header.labels.subject == "p-aaaa01" && header.labels.category == "chat-messages" {
                assert_eq!(
                    result.unwrap_err(),
                    EnvelopeError::KeyShredded,
                    "envelope {i}"
                );
            } else {
                assert!(
                    result.is_ok(),
                    "envelope {i} of another patient or category stays readable"
                );
            }
        }
    }
}
