//! `Debug` of every type that holds a secret (or plaintext) is redacted:
//! no key bytes, no byte arrays, no plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::envelope::{self, Labels, OpenReader, SealWriter};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::suite;
use caduceus_core::testing::{DeterministicRng, FixedBytesRng};

/// A Debug string leaks if it shows a byte list (`[12, 34, ...]`), a long
/// hex run that is not a key id, or any 4-byte window of a known secret.
fn assert_redacted(what: &str, dbg: &str, secrets: &[&[u8]], allowed_hex: &[String]) {
    let mut scrubbed = dbg.to_owned();
    for ok in allowed_hex {
        scrubbed = scrubbed.replace(ok.as_str(), "");
    }
    // Key ids (public fingerprints) may be shown.
    while let Some(at) = scrubbed.find("KeyId(") {
        let end = (at + 6 + 32).min(scrubbed.len());
        scrubbed.replace_range(at..end, "");
    }
    let hex_run = scrubbed
        .as_bytes()
        .split(|b| !b.is_ascii_hexdigit())
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    assert!(hex_run < 16, "{what}: long hex run in {dbg}");
    let digits_list =
        scrubbed.contains("[0,") || scrubbed.chars().filter(|c| *c == ',').count() > 16;
    assert!(!digits_list, "{what}: byte list in {dbg}");
    for secret in secrets {
        for w in secret.windows(4) {
            let h: String = w.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!dbg.contains(&h), "{what}: secret bytes in {dbg}");
            let d = format!("{}, {}, {}, {}", w[0], w[1], w[2], w[3]);
            assert!(!dbg.contains(&d), "{what}: secret bytes in {dbg}");
        }
    }
}

#[test]
fn debug_of_secret_holding_types_is_redacted() {
    let mut rng = DeterministicRng::new(77);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let subject = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let ids = vec![practice.key_id().to_string(), subject.key_id().to_string()];
    let secrets: Vec<&[u8]> = vec![practice.secret_bytes(), subject.secret_bytes()];
    let labels = Labels::new("p-1", "chat-messages", "treatment", "text/plain", 0).unwrap();
    let plaintext = b"Diagnose: Parodontitis, Befund anbei";
    let sealed = envelope::seal(&[subject.public_key()], &labels, plaintext, &mut rng).unwrap();

    assert_redacted("PrivateKey", &format!("{practice:?}"), &secrets, &ids);
    let record = KeyringRecord::create(
        "p-1",
        "chat-messages",
        &[practice.public_key()],
        0,
        &mut rng,
    )
    .unwrap();
    assert_redacted("KeyringRecord", &format!("{record:?}"), &secrets, &ids);

    let unlocked = envelope::unlock(&sealed, &subject).unwrap();
    let envelope_id: String = unlocked
        .header()
        .envelope_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ids = [ids, vec![envelope_id]].concat();
    assert_redacted("Unlocked", &format!("{unlocked:?}"), &secrets, &ids);
    assert_redacted(
        "PayloadOpener",
        &format!("{:?}", unlocked.payload_opener()),
        &secrets,
        &ids,
    );
    let (_, sealer) =
        envelope::begin_seal(&[subject.public_key()], &labels, None, &mut rng).unwrap();
    assert_redacted("PayloadSealer", &format!("{sealer:?}"), &secrets, &ids);

    let opened = envelope::open(&sealed, &subject).unwrap();
    let dbg = format!("{opened:?}");
    assert_redacted("Opened", &dbg, &secrets, &ids);
    assert!(!dbg.contains("Parodontitis"));

    let writer =
        SealWriter::new(Vec::new(), &[subject.public_key()], &labels, None, &mut rng).unwrap();
    assert_redacted("SealWriter", &format!("{writer:?}"), &secrets, &ids);
    let reader = OpenReader::new(&sealed[..], &subject).unwrap();
    assert_redacted("OpenReader", &format!("{reader:?}"), &secrets, &ids);

    let (sk, _) = suite::hpke_derive_keypair(&[9u8; 32]);
    let (enc, _) = suite::hpke_seal(&suite::x25519_public(&sk), b"i", b"", b"k", &mut rng).unwrap();
    let ctx = suite::hpke_receiver_context(&sk, &enc, b"i").unwrap();
    assert_redacted("HpkeReceiver", &format!("{ctx:?}"), &[&sk[..]], &[]);
    assert_redacted(
        "DeterministicRng",
        &format!("{:?}", DeterministicRng::new(1)),
        &[],
        &[],
    );
    assert_redacted(
        "FixedBytesRng",
        &format!("{:?}", FixedBytesRng::new(vec![7; 64])),
        &[&[7; 64]],
        &[],
    );
}
