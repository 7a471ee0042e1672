//! Resource limits (docs/LIMITS.md): every length, count and nesting depth
//! read from input is checked at its limit (accepted) and one past it
//! (refused with the documented error variant). Where a public constant
//! names the limit, the test uses it and pins its documented value, so the
//! table and the code cannot drift apart.
//!
//! Where an object at the limit would be expensive to build (a payload of
//! 2^64 bytes, a log of 2^64 entries), the test feeds the parser the bytes
//! or state that claim that size.
//!
//! Past-the-limit errors are matched on their variant. A few limits share
//! their variant with other checks (`MalformedNote(_)`, `InvalidKeyText(_)`,
//! ...): there the input at the limit may still be refused for another
//! reason, and the test checks that it is not refused with the error the
//! input one past the limit gets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::audit::merkle::{self, CompactRange, MemoryTree};
use caduceus_core::audit::note::{
    self, MAX_KEY_NAME_LEN, MAX_NOTE_LEN, MAX_SIGNATURES, NoteSigner, NoteVerifier,
};
use caduceus_core::audit::{
    Action, AuditEntry, AuditError, AuditEvent, AuditKey, AuditLog, ENTRY_HEADER_LEN, ENTRY_MAGIC,
    ENTRY_VERSION, LogFault, LogVerifier, MAX_ENTRY_LEN, Outcome, PseudonymKind,
};
use caduceus_core::consent::{
    self, ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, EVENT_MAGIC,
    EVENT_VERSION, LEDGER_CHAIN_LEN, LEDGER_MAGIC, LEDGER_VERSION, LEDGER_VERSION_1, Ledger,
    MAX_EVENT_LEN, MAX_EVENT_PURPOSES, MAX_KEYWORDS, MAX_LANGUAGE_TAG_LEN, MAX_LEDGER_ENTRY,
    MAX_NOTICE_TEXT, MAX_NOTICES, MAX_POLICY_TOML_LEN, MAX_PURPOSES, NoticeRef,
};
use caduceus_core::envelope::{
    self, EnvelopeError, Labels, MAX_HEADER_BODY, MAX_PARTS, MAX_RECIPIENTS, PREFIX_LEN, Part,
    SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE, SegmentError, SegmentLayout, TAG_LEN,
};
use caduceus_core::keys::{
    KeyError, KeyKind, KeyringRecord, MAX_KEY_TEXT_LEN, MAX_RECORD_BODY, MAX_WRAPS, PrivateKey,
    PublicKey,
};
use caduceus_core::retention::{
    self, MAX_CATEGORIES, MAX_PERIOD_YEARS, MAX_POLICY_LEN, MAX_POLICY_NESTING,
    MAX_RULES_PER_CATEGORY, Policy, PolicyError, RecordsError,
};
use caduceus_core::suite::sha256;
use caduceus_core::testing::DeterministicRng;
use caduceus_core::{MAX_LABEL_LEN, envelope::header_len_from_prefix};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

const T0: i64 = 1_763_800_000;
const MAC_LEN: usize = 32;

fn labels() -> Labels {
    Labels::new("p-1", "chat-messages", "treatment", "text/plain", T0).unwrap()
}

fn staff_keys(n: usize, rng: &mut DeterministicRng) -> Vec<PublicKey> {
    (0..n)
        .map(|_| PrivateKey::generate(KeyKind::Staff, rng).public_key())
        .collect()
}

/// A new key of `kind` and `n + 1` public keys: its own, then `n` staff keys.
fn owner_and_staff_keys(
    kind: KeyKind,
    n: usize,
    rng: &mut DeterministicRng,
) -> (PrivateKey, Vec<PublicKey>) {
    let owner = PrivateKey::generate(kind, rng);
    let mut keys = vec![owner.public_key()];
    keys.extend(staff_keys(n, rng));
    (owner, keys)
}

// ------------------------------------------------------------------ envelope

/// The envelope header body (docs/FORMAT.md 5.3), for forging headers that
/// a sealer would never write.
#[derive(Serialize, Deserialize)]
#[allow(clippy::type_complexity)]
struct HeaderBody(
    ByteBuf,
    (String, String, String, String, i64),
    Option<(ByteBuf, u32, u32)>,
    Vec<(ByteBuf, ByteBuf, ByteBuf)>,
);

fn header_body(envelope: &[u8]) -> HeaderBody {
    let len = u32::from_be_bytes(envelope[6..10].try_into().unwrap()) as usize;
    rmp_serde::from_slice(&envelope[PREFIX_LEN..PREFIX_LEN + len]).unwrap()
}

/// Prefix, `body` and a (zero) MAC: enough for `inspect`, which parses the
/// header without a key.
fn envelope_with_body(body: &[u8]) -> Vec<u8> {
    let mut out = b"CADU\x01\x01".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&[0; MAC_LEN]);
    out
}

#[test]
fn envelope_header_body_at_and_past_max_header_body() {
    assert_eq!(MAX_HEADER_BODY, 16 * 1024);
    let prefix = |len: usize| {
        let mut p = b"CADU\x01\x01".to_vec();
        p.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        p
    };
    assert_eq!(
        header_len_from_prefix(&prefix(MAX_HEADER_BODY)).unwrap(),
        PREFIX_LEN + MAX_HEADER_BODY + MAC_LEN
    );
    assert_eq!(
        header_len_from_prefix(&prefix(MAX_HEADER_BODY + 1)).unwrap_err(),
        EnvelopeError::HeaderTooLarge
    );
    // A body of exactly the maximum is parsed (and refused only because it
    // is not a header); one byte more is refused by its length.
    let at = envelope_with_body(&[0xc0; MAX_HEADER_BODY]);
    assert!(matches!(
        envelope::inspect(&at).unwrap_err(),
        EnvelopeError::MalformedHeader(_)
    ));
    let past = envelope_with_body(&[0xc0; MAX_HEADER_BODY + 1]);
    assert_eq!(
        envelope::inspect(&past).unwrap_err(),
        EnvelopeError::HeaderTooLarge
    );
    // A length field claiming 4 GiB is refused before anything is read.
    assert_eq!(
        header_len_from_prefix(&prefix(u32::MAX as usize)).unwrap_err(),
        EnvelopeError::HeaderTooLarge
    );
    // The lower end: a body of 1 byte has a length (and is refused only as
    // not a header); 0 is refused by the prefix, before anything is read.
    assert_eq!(
        header_len_from_prefix(&prefix(1)).unwrap(),
        PREFIX_LEN + 1 + MAC_LEN
    );
    assert!(matches!(
        header_len_from_prefix(&prefix(0)).unwrap_err(),
        EnvelopeError::MalformedHeader(m) if m.contains("header length is 0")
    ));
}

#[test]
fn largest_valid_header_stays_below_half_the_limit() {
    // docs/FORMAT.md 7: 64 stanzas, 128-byte labels and a part stay below
    // 8 KiB, so a valid sealer never reaches MAX_HEADER_BODY.
    let mut rng = DeterministicRng::new(1);
    let keys = staff_keys(MAX_RECIPIENTS, &mut rng);
    let long = "a".repeat(MAX_LABEL_LEN);
    let labels = Labels::new(&long, &long, &long, &long, i64::MIN).unwrap();
    let part = Part {
        set_id: [0xff; 16],
        index: MAX_PARTS,
        count: MAX_PARTS,
    };
    let (header, _) = envelope::begin_seal(&keys, &labels, Some(part), &mut rng).unwrap();
    let body_len = header.len() - PREFIX_LEN - MAC_LEN;
    assert!(body_len < 8 * 1024, "{body_len}");
}

#[test]
fn envelope_recipients_at_and_past_max_recipients() {
    assert_eq!(MAX_RECIPIENTS, 64);
    let mut rng = DeterministicRng::new(2);
    let (owner, keys) = owner_and_staff_keys(KeyKind::Staff, MAX_RECIPIENTS, &mut rng);
    let sealed = envelope::seal(&keys[..MAX_RECIPIENTS], &labels(), b"x", &mut rng).unwrap();
    assert_eq!(
        envelope::inspect(&sealed).unwrap().recipients.len(),
        MAX_RECIPIENTS
    );
    assert_eq!(
        envelope::seal(&keys, &labels(), b"x", &mut rng).unwrap_err(),
        EnvelopeError::TooManyRecipients
    );
    // Rewrap: adding a 65th recipient is refused.
    assert_eq!(
        envelope::rewrap(&sealed, &owner, &keys[MAX_RECIPIENTS..], &[], &mut rng).unwrap_err(),
        EnvelopeError::TooManyRecipients
    );
    // Parsing: a forged header with 65 stanzas.
    let mut body = header_body(&sealed);
    assert_eq!(
        rmp_serde::to_vec(&body).unwrap(),
        &sealed[PREFIX_LEN..PREFIX_LEN + body_len(&sealed)],
        "the mirror of the header body re-encodes byte for byte"
    );
    let mut extra = body.3[0].clone();
    extra.0 = ByteBuf::from(vec![0xee; 16]);
    body.3.push(extra);
    let forged = envelope_with_body(&rmp_serde::to_vec(&body).unwrap());
    assert_eq!(
        envelope::inspect(&forged).unwrap_err(),
        EnvelopeError::TooManyRecipients
    );
}

fn body_len(envelope: &[u8]) -> usize {
    u32::from_be_bytes(envelope[6..10].try_into().unwrap()) as usize
}

#[test]
fn envelope_part_count_at_and_past_max_parts() {
    assert_eq!(MAX_PARTS, 65_535);
    let mut rng = DeterministicRng::new(3);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let part = |index, count| Part {
        set_id: [7; 16],
        index,
        count,
    };
    // Sealing: a part "65535 of 65535" is written and read back.
    let (mut sealed, sealer) = envelope::begin_seal(
        &[key.public_key()],
        &labels(),
        Some(part(MAX_PARTS, MAX_PARTS)),
        &mut rng,
    )
    .unwrap();
    sealer.finish(&mut sealed).unwrap();
    let opened = envelope::open(&sealed, &key).unwrap();
    assert_eq!(opened.header.part, Some(part(MAX_PARTS, MAX_PARTS)));
    let mut set = envelope::PartSet::new();
    set.add(opened).unwrap();
    assert_eq!(set.missing().len(), MAX_PARTS as usize - 1);
    assert!(matches!(
        envelope::begin_seal(
            &[key.public_key()],
            &labels(),
            Some(part(1, MAX_PARTS + 1)),
            &mut rng
        )
        .unwrap_err(),
        EnvelopeError::MalformedHeader(_)
    ));
    // Parsing: a forged header saying "1 of 65536".
    let mut body = header_body(&sealed);
    body.2.as_mut().unwrap().2 = MAX_PARTS + 1;
    body.2.as_mut().unwrap().1 = 1;
    let forged = envelope_with_body(&rmp_serde::to_vec(&body).unwrap());
    assert!(matches!(
        envelope::inspect(&forged).unwrap_err(),
        EnvelopeError::MalformedHeader(_)
    ));
    body.2.as_mut().unwrap().2 = MAX_PARTS;
    let at_limit = envelope_with_body(&rmp_serde::to_vec(&body).unwrap());
    assert_eq!(
        envelope::inspect(&at_limit).unwrap().part,
        Some(part(1, MAX_PARTS))
    );
    // seal_parts counts before sealing anything: 65536 empty parts are
    // refused at once (65535 would seal 65535 envelopes; the header tests
    // above cover the count at the limit).
    let empty: &[u8] = &[];
    let too_many = vec![empty; MAX_PARTS as usize + 1];
    assert!(matches!(
        envelope::seal_parts(&[key.public_key()], &labels(), &too_many, &mut rng).unwrap_err(),
        EnvelopeError::PartSet(_)
    ));
}

#[test]
fn labels_at_and_past_max_label_len() {
    assert_eq!(MAX_LABEL_LEN, 128);
    let at = "a".repeat(MAX_LABEL_LEN);
    let past = "a".repeat(MAX_LABEL_LEN + 1);
    let mut rng = DeterministicRng::new(4);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);

    // Envelope labels, sealing and parsing.
    let ok = Labels::new(&at, &at, &at, &at, T0).unwrap();
    let sealed = envelope::seal(&[key.public_key()], &ok, b"x", &mut rng).unwrap();
    assert_eq!(envelope::inspect(&sealed).unwrap().labels, ok);
    for field in 0..4 {
        let mut l = [at.as_str(); 4];
        l[field] = &past;
        assert!(matches!(
            Labels::new(l[0], l[1], l[2], l[3], T0).unwrap_err(),
            EnvelopeError::InvalidLabel(_)
        ));
    }
    let mut body = header_body(&sealed);
    body.1.2 = past.clone();
    let forged = envelope_with_body(&rmp_serde::to_vec(&body).unwrap());
    assert!(matches!(
        envelope::inspect(&forged).unwrap_err(),
        EnvelopeError::InvalidLabel(_)
    ));

    // Keyring record labels.
    let staff = staff_keys(1, &mut rng);
    KeyringRecord::create(&at, &at, &staff, T0, &mut rng).unwrap();
    assert!(matches!(
        KeyringRecord::create(&past, "chat", &staff, T0, &mut rng).unwrap_err(),
        KeyError::InvalidLabel(_)
    ));

    // Consent event labels.
    let event = |id: &str, channel: &str| {
        ConsentEvent::new(
            id,
            "p-1",
            &["marketing"],
            ConsentStatus::Refused,
            ConsentMethod::ChatReply,
            None,
            channel,
            "staff-1",
            T0,
        )
    };
    event(&at, &at).unwrap();
    assert!(matches!(
        event(&past, "whatsapp").unwrap_err(),
        ConsentError::InvalidLabel(_)
    ));
    assert!(matches!(
        event("e-1", &past).unwrap_err(),
        ConsentError::InvalidLabel(_)
    ));

    // Audit event fields.
    let actor = AuditKey::from_bytes([1; 32]).pseudonym(PseudonymKind::Staff, "dr-a");
    AuditEvent::new(T0 * 1000, actor.clone(), &at, Action::Read, &at)
        .unwrap()
        .purpose(&at)
        .unwrap();
    assert!(matches!(
        AuditEvent::new(T0 * 1000, actor.clone(), &past, Action::Read, "pms").unwrap_err(),
        AuditError::InvalidField(_)
    ));
    assert!(matches!(
        AuditEvent::new(T0 * 1000, actor, "doctor", Action::Read, "pms")
            .unwrap()
            .record(&past)
            .unwrap_err(),
        AuditError::InvalidIdentifier(_)
    ));

    // Record metadata for the retention sweep.
    let policy = Policy::parse(retention::DEFAULT_POLICY).unwrap();
    let records = |subject: &str| {
        format!(r#"[{{"id": 1, "subject": "{subject}", "category": "chat-messages"}}]"#)
    };
    retention::parse_records(&policy, &records(&at)).unwrap();
    assert!(matches!(
        retention::parse_records(&policy, &records(&past)).unwrap_err(),
        RecordsError::Invalid { .. }
    ));

    // Retention policy ids.
    let id = |id: &str| {
        format!("{MINIMAL_POLICY}[[category]]\nid = \"{id}\"\nname = \"n\"\nname-de = \"n\"\n")
    };
    Policy::parse(&id(&at)).unwrap();
    assert!(matches!(
        Policy::parse(&id(&past)).unwrap_err(),
        PolicyError::Invalid { .. }
    ));
}

#[test]
fn segment_length_at_and_past_segment_size() {
    assert_eq!(SEGMENT_SIZE, 64 * 1024);
    assert_eq!(SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE + TAG_LEN);
    let mut rng = DeterministicRng::new(5);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let (header, mut sealer) =
        envelope::begin_seal(&[key.public_key()], &labels(), None, &mut rng).unwrap();
    let mut past = vec![0u8; SEGMENT_SIZE + 1];
    assert_eq!(
        sealer.seal_segment_in_place(&mut past, true).unwrap_err(),
        SegmentError::BadSegmentLength {
            len: SEGMENT_SIZE + 1
        }
    );
    let mut at = vec![0x5a; SEGMENT_SIZE];
    let tag = sealer.seal_segment_in_place(&mut at, true).unwrap();
    let sealed = [header, at.clone(), tag.to_vec()].concat();

    let unlocked = envelope::unlock(&sealed, &key).unwrap();
    let mut opener = unlocked.payload_opener();
    assert_eq!(
        opener
            .open_segment_in_place(&mut past, &tag, true)
            .unwrap_err(),
        SegmentError::BadSegmentLength {
            len: SEGMENT_SIZE + 1
        }
    );
    opener.open_segment_in_place(&mut at, &tag, true).unwrap();
    assert_eq!(at, vec![0x5a; SEGMENT_SIZE]);
}

#[test]
fn payload_length_at_and_past_the_u64_limit() {
    // The payload length is a u64: the largest plaintext is the one whose
    // segments and tags fill u64::MAX bytes. Checked on the layout, which
    // every reader and writer of segments goes through.
    let full = SEGMENT_CIPHERTEXT_SIZE as u64;
    let (k, r) = (u64::MAX / full, u64::MAX % full);
    assert!(r > TAG_LEN as u64, "the last segment holds data");
    let max_plain = k * SEGMENT_SIZE as u64 + (r - TAG_LEN as u64);
    let layout = SegmentLayout::for_plaintext(max_plain).unwrap();
    assert_eq!(layout.payload_len(), u64::MAX);
    assert_eq!(layout.plaintext_len(), max_plain);
    // The segment counter (a u64) cannot overflow: far fewer segments.
    assert_eq!(layout.count(), k + 1);
    assert!(layout.segment_range(k).is_ok());
    assert_eq!(
        SegmentLayout::for_plaintext(max_plain + 1).unwrap_err(),
        EnvelopeError::InputTooLarge
    );
    assert_eq!(
        SegmentLayout::for_plaintext(u64::MAX).unwrap_err(),
        EnvelopeError::InputTooLarge
    );
    assert!(SegmentLayout::new(u64::MAX).is_ok());
}

#[test]
fn segment_index_at_and_past_the_last_segment() {
    let mut rng = DeterministicRng::new(6);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let plain = vec![3u8; SEGMENT_SIZE + 1];
    let sealed = envelope::seal(&[key.public_key()], &labels(), &plain, &mut rng).unwrap();
    assert_eq!(
        envelope::open_segment(&sealed, &key, 1).unwrap(),
        vec![3u8; 1]
    );
    assert_eq!(
        envelope::open_segment(&sealed, &key, 2).unwrap_err(),
        EnvelopeError::SegmentOutOfRange
    );
    assert_eq!(
        envelope::open_segment(&sealed, &key, u64::MAX).unwrap_err(),
        EnvelopeError::SegmentOutOfRange
    );
}

// ---------------------------------------------------------------------- keys

#[test]
fn key_text_at_and_past_max_key_text_len() {
    use bech32::{Bech32, Hrp};
    assert_eq!(MAX_KEY_TEXT_LEN, 120);
    // A Bech32 text of `len` characters carrying 32 bytes (52 data
    // characters, separator and checksum: 59) under an unknown prefix.
    let text = |len: usize| {
        let hrp = Hrp::parse(&"x".repeat(len - 59)).unwrap();
        let t = bech32::encode::<Bech32>(hrp, &[9u8; 32]).unwrap();
        assert_eq!(t.len(), len);
        t
    };
    let past = text(MAX_KEY_TEXT_LEN + 1).parse::<PublicKey>().unwrap_err();
    assert!(matches!(past, KeyError::InvalidKeyText(_)));
    assert_eq!(
        PrivateKey::from_secret_str(&text(MAX_KEY_TEXT_LEN + 1)).unwrap_err(),
        past,
        "secret key texts have the same limit"
    );
    // At the limit the text passes the length check and is refused for its
    // prefix, not its length.
    let at = text(MAX_KEY_TEXT_LEN).parse::<PublicKey>().unwrap_err();
    assert!(matches!(at, KeyError::InvalidKeyText(_)));
    assert_ne!(at, past);
    // The limit applies to the trimmed text: surrounding white space is free.
    let mut rng = DeterministicRng::new(7);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let spaced = format!("{:>200}\n", key.public_key().to_string());
    assert_eq!(spaced.parse::<PublicKey>().unwrap(), key.public_key());
}

/// The keyring record body (docs/FORMAT.md 6.1).
#[derive(Serialize, Deserialize)]
#[allow(clippy::type_complexity)]
struct RecordBody(
    String,
    String,
    ByteBuf,
    i64,
    Option<i64>,
    Vec<(ByteBuf, ByteBuf, ByteBuf)>,
);

fn record_with_body(body: &[u8]) -> Vec<u8> {
    let mut out = b"CDKR\x01\x01".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn keyring_record_body_at_and_past_max_record_body() {
    assert_eq!(MAX_RECORD_BODY, 16 * 1024);
    let past = KeyringRecord::from_bytes(&record_with_body(&[0xc0; MAX_RECORD_BODY + 1]));
    let past = past.unwrap_err();
    assert!(matches!(past, KeyError::MalformedRecord(_)));
    let at = KeyringRecord::from_bytes(&record_with_body(&[0xc0; MAX_RECORD_BODY])).unwrap_err();
    assert!(matches!(at, KeyError::MalformedRecord(_)));
    assert_ne!(
        at, past,
        "a body of 16 KiB is parsed, not refused by its length"
    );
    // The largest valid record (64 wraps, 128-byte labels) stays far below.
    let mut rng = DeterministicRng::new(8);
    let long = "a".repeat(MAX_LABEL_LEN);
    let record =
        KeyringRecord::create(&long, &long, &staff_keys(MAX_WRAPS, &mut rng), T0, &mut rng)
            .unwrap();
    let bytes = record.to_bytes();
    assert!(bytes.len() - 10 < MAX_RECORD_BODY / 2, "{}", bytes.len());
    assert_eq!(KeyringRecord::from_bytes(&bytes).unwrap(), record);
}

#[test]
fn keyring_wraps_at_and_past_max_wraps() {
    assert_eq!(MAX_WRAPS, 64);
    let mut rng = DeterministicRng::new(9);
    let (practice, keys) = owner_and_staff_keys(KeyKind::Practice, MAX_WRAPS, &mut rng);
    let record = KeyringRecord::create("p-1", "chat", &keys[..MAX_WRAPS], T0, &mut rng).unwrap();
    assert_eq!(record.recipients().len(), MAX_WRAPS);
    assert_eq!(
        KeyringRecord::create("p-1", "chat", &keys, T0, &mut rng).unwrap_err(),
        KeyError::TooManyRecipients
    );
    assert_eq!(
        record
            .add_recipients(&practice, &keys[MAX_WRAPS..], &mut rng)
            .unwrap_err(),
        KeyError::TooManyRecipients
    );
    // Parsing: a forged record with 65 wraps.
    let bytes = record.to_bytes();
    let mut body: RecordBody = rmp_serde::from_slice(&bytes[10..]).unwrap();
    assert_eq!(rmp_serde::to_vec(&body).unwrap(), &bytes[10..]);
    KeyringRecord::from_bytes(&record_with_body(&rmp_serde::to_vec(&body).unwrap())).unwrap();
    let mut extra = body.5[0].clone();
    extra.0 = ByteBuf::from(vec![0xee; 16]);
    body.5.push(extra);
    assert_eq!(
        KeyringRecord::from_bytes(&record_with_body(&rmp_serde::to_vec(&body).unwrap()))
            .unwrap_err(),
        KeyError::TooManyRecipients
    );
}

// ------------------------------------------------------------------- consent

/// The consent event body (docs/CONSENT.md 4.2).
#[derive(Serialize, Deserialize)]
#[allow(clippy::type_complexity)]
struct EventBody(
    String,
    String,
    Vec<String>,
    String,
    String,
    Option<(String, u32, String, ByteBuf)>,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

fn event_record(body: &[u8]) -> Vec<u8> {
    let mut out = EVENT_MAGIC.to_vec();
    out.push(EVENT_VERSION);
    out.extend_from_slice(body);
    out
}

/// An event with every field at its largest.
fn largest_event() -> ConsentEvent {
    let long = "a".repeat(MAX_LABEL_LEN);
    let purposes: Vec<String> = (0..MAX_EVENT_PURPOSES)
        .map(|i| format!("{i:0>width$}", width = MAX_LABEL_LEN))
        .collect();
    ConsentEvent {
        id: long.clone(),
        subject: long.clone(),
        purposes,
        status: ConsentStatus::Renewed,
        method: ConsentMethod::InPersonDocumented,
        notice: Some(NoticeRef {
            id: long.clone(),
            version: u32::MAX,
            language: "a".repeat(35),
            sha256: [0xff; 32],
        }),
        channel: long.clone(),
        evidence: Some(long.clone()),
        recorded_by: long,
        time: consent::MAX_TIME - 1,
        expires_at: Some(consent::MAX_TIME),
    }
}

#[test]
fn consent_event_record_at_and_past_max_event_len() {
    assert_eq!(MAX_EVENT_LEN, 8 * 1024);
    let e = largest_event();
    let bytes = e.to_bytes().unwrap();
    assert!(bytes.len() < MAX_EVENT_LEN / 2, "{}", bytes.len());
    assert_eq!(ConsentEvent::from_bytes(&bytes).unwrap(), e);

    let past = ConsentEvent::from_bytes(&event_record(&[0xc0; MAX_EVENT_LEN - 4])).unwrap_err();
    assert!(matches!(past, ConsentError::MalformedEvent(_)));
    let at = ConsentEvent::from_bytes(&event_record(&[0xc0; MAX_EVENT_LEN - 5])).unwrap_err();
    assert!(matches!(at, ConsentError::MalformedEvent(_)));
    assert_ne!(
        at, past,
        "a record of 8 KiB is parsed, not refused by its length"
    );
}

#[test]
fn consent_event_purposes_at_and_past_max_event_purposes() {
    assert_eq!(MAX_EVENT_PURPOSES, 16);
    let e = largest_event();
    assert_eq!(e.purposes.len(), MAX_EVENT_PURPOSES);
    e.check().unwrap();
    let mut more = e.clone();
    more.purposes.push("one-more".into());
    assert!(matches!(
        more.check().unwrap_err(),
        ConsentError::TooManyPurposes(_)
    ));
    assert!(matches!(
        more.to_bytes().unwrap_err(),
        ConsentError::TooManyPurposes(_)
    ));
    // Parsing: a forged record with 17 purposes.
    let bytes = e.to_bytes().unwrap();
    let mut body: EventBody = rmp_serde::from_slice(&bytes[5..]).unwrap();
    assert_eq!(rmp_serde::to_vec(&body).unwrap(), &bytes[5..]);
    body.2.push("one-more".into());
    assert!(matches!(
        ConsentEvent::from_bytes(&event_record(&rmp_serde::to_vec(&body).unwrap())).unwrap_err(),
        ConsentError::TooManyPurposes(_)
    ));
}

#[test]
fn notice_text_at_and_past_max_notice_text() {
    assert_eq!(MAX_NOTICE_TEXT, 64 * 1024);
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    ledger
        .register_notice("n", 1, "de", &"ä".repeat(MAX_NOTICE_TEXT / 2), T0, T0)
        .unwrap();
    assert_eq!(
        ledger
            .register_notice("n", 2, "de", &"a".repeat(MAX_NOTICE_TEXT + 1), T0, T0)
            .unwrap_err(),
        ConsentError::InvalidNoticeText
    );
    // A ledger file holding a notice at the limit loads again.
    assert_eq!(
        Ledger::from_bytes(&ledger.to_bytes().unwrap())
            .unwrap()
            .notices()
            .len(),
        1
    );
}

#[test]
fn notice_language_at_and_past_max_language_tag_len() {
    assert_eq!(MAX_LANGUAGE_TAG_LEN, 35);
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    let tag = |len: usize| "a".repeat(len);
    ledger
        .register_notice("n", 1, &tag(MAX_LANGUAGE_TAG_LEN), "text", T0, T0)
        .unwrap();
    assert_eq!(
        ledger
            .register_notice("n", 2, &tag(MAX_LANGUAGE_TAG_LEN + 1), "text", T0, T0)
            .unwrap_err(),
        ConsentError::InvalidLanguage
    );
}

/// Split a version-2 ledger file into its entries (tag, body).
fn ledger_entries(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(bytes[4], LEDGER_VERSION);
    let mut out = Vec::new();
    let mut rest = &bytes[5..];
    while !rest.is_empty() {
        let tag = rest[0];
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        out.push((tag, rest[5..5 + len].to_vec()));
        rest = &rest[5 + len + LEDGER_CHAIN_LEN..];
    }
    out
}

/// A version-2 ledger file of `entries`, each with its chain hash
/// (docs/CONSENT.md section 5).
fn ledger_file(entries: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = LEDGER_MAGIC.to_vec();
    out.push(LEDGER_VERSION);
    let mut head = sha256(&[&out]);
    for (tag, body) in entries {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        head = sha256(&[&head, &[*tag], &len, body]);
        out.push(*tag);
        out.extend_from_slice(&len);
        out.extend_from_slice(body);
        out.extend_from_slice(&head);
    }
    out
}

/// The prefix and `entries` of a version-1 ledger file, without the end entry.
fn ledger_start_v1(entries: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = LEDGER_MAGIC.to_vec();
    out.push(LEDGER_VERSION_1);
    for (tag, body) in entries {
        out.push(*tag);
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

/// A version-1 ledger file of `entries` with a correct end entry (count,
/// checksum).
fn ledger_file_v1(entries: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = ledger_start_v1(entries);
    let end = rmp_serde::to_vec(&(
        entries.len() as u64,
        ByteBuf::from(sha256(&[&out]).to_vec()),
    ))
    .unwrap();
    out.push(5);
    out.extend_from_slice(&u32::try_from(end.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&end);
    out
}

#[test]
fn ledger_notices_at_and_past_max_notices() {
    assert_eq!(MAX_NOTICES, 4096);
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    for v in 0..MAX_NOTICES {
        ledger
            .register_notice("n", v as u32, "de", "x", T0, T0)
            .unwrap();
    }
    assert_eq!(
        ledger
            .register_notice("n", MAX_NOTICES as u32, "de", "x", T0, T0)
            .unwrap_err(),
        ConsentError::LedgerFull
    );
    let bytes = ledger.to_bytes().unwrap();
    assert_eq!(ledger_file(&ledger_entries(&bytes)), bytes);
    assert_eq!(
        Ledger::from_bytes(&bytes).unwrap().notices().len(),
        MAX_NOTICES
    );
    // A ledger file with one notice entry more.
    let mut entries = ledger_entries(&bytes);
    let notice = ("n", MAX_NOTICES as u32, "de", "x", T0);
    entries.push((2, rmp_serde::to_vec(&notice).unwrap()));
    match Ledger::from_bytes(&ledger_file(&entries)).unwrap_err() {
        ConsentError::InvalidEntry { index, source } => {
            assert_eq!(index, MAX_NOTICES as u64 + 1);
            assert_eq!(*source, ConsentError::LedgerFull);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn ledger_entry_lengths_at_and_past_their_limits() {
    assert_eq!(MAX_LEDGER_ENTRY, 1 << 20);
    let ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    let policy_entry = ledger_entries(&ledger.to_bytes().unwrap()).remove(0);
    // Entry headers claiming a length; the bytes after them are missing.
    let claim = |entries: &[(u8, Vec<u8>)], tag: u8, len: usize| {
        let mut out = ledger_file(entries);
        out.push(tag);
        out.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        Ledger::from_bytes(&out).unwrap_err()
    };
    // Policy, notice and retirement entries: at most 1 MiB.
    let past = claim(&[], 1, MAX_LEDGER_ENTRY + 1);
    assert!(matches!(past, ConsentError::MalformedLedger(_)));
    let at = claim(&[], 1, MAX_LEDGER_ENTRY);
    assert!(matches!(at, ConsentError::MalformedLedger(_)));
    assert_ne!(
        at, past,
        "an entry of 1 MiB is read, not refused by its length"
    );
    let past = claim(std::slice::from_ref(&policy_entry), 2, MAX_LEDGER_ENTRY + 1);
    assert!(matches!(past, ConsentError::MalformedLedger(_)));
    assert_ne!(
        claim(std::slice::from_ref(&policy_entry), 2, MAX_LEDGER_ENTRY),
        past
    );
    // Event entries: at most MAX_EVENT_LEN.
    let past = claim(std::slice::from_ref(&policy_entry), 4, MAX_EVENT_LEN + 1);
    assert!(matches!(past, ConsentError::MalformedLedger(_)));
    assert_ne!(
        claim(std::slice::from_ref(&policy_entry), 4, MAX_EVENT_LEN),
        past
    );
    // With the bytes present: an event entry of exactly MAX_EVENT_LEN is
    // handed to the event parser.
    let entries = vec![policy_entry, (4, event_record(&[0xc0; MAX_EVENT_LEN - 5]))];
    assert!(matches!(
        Ledger::from_bytes(&ledger_file(&entries)).unwrap_err(),
        ConsentError::InvalidEntry { index: 1, .. }
    ));
}

/// A consent policy TOML with `n` purposes and `k` opt-out keywords.
fn consent_policy(n: usize, k: usize) -> String {
    let keywords: Vec<String> = (0..k).map(|i| format!("\"STOP{i}\"")).collect();
    let mut s = format!("opt-out-keywords = [{}]\n", keywords.join(", "));
    for i in 0..n {
        s.push_str(&format!("[[purpose]]\nid = \"purpose-{i}\"\n"));
    }
    s
}

#[test]
fn consent_policy_purposes_at_and_past_max_purposes() {
    assert_eq!(MAX_PURPOSES, 64);
    let p = ConsentPolicy::from_toml(&consent_policy(MAX_PURPOSES, 1)).unwrap();
    assert_eq!(p.purposes.len(), MAX_PURPOSES);
    // A ledger stores the policy and loads it again.
    let ledger = Ledger::new(p).unwrap();
    Ledger::from_bytes(&ledger.to_bytes().unwrap()).unwrap();
    assert!(matches!(
        ConsentPolicy::from_toml(&consent_policy(MAX_PURPOSES + 1, 1)).unwrap_err(),
        ConsentError::InvalidPolicy(_)
    ));
}

#[test]
fn consent_policy_keywords_at_and_past_max_keywords() {
    assert_eq!(MAX_KEYWORDS, 32);
    let p = ConsentPolicy::from_toml(&consent_policy(1, MAX_KEYWORDS)).unwrap();
    assert_eq!(p.opt_out_keywords.len(), MAX_KEYWORDS);
    assert!(matches!(
        ConsentPolicy::from_toml(&consent_policy(1, MAX_KEYWORDS + 1)).unwrap_err(),
        ConsentError::InvalidPolicy(_)
    ));
}

#[test]
fn consent_policy_keyword_at_and_past_max_keyword_len() {
    assert_eq!(consent::MAX_KEYWORD_LEN, 64);
    // "BITTE KEINE NACHRICHTEN " is 24 bytes; "Ä" counts 2 bytes.
    let at = format!("bitte keine Nachrichten {}", "ä".repeat(20));
    let toml = |k: &str| format!("opt-out-keywords = [\"{k}\"]\n[[purpose]]\nid = \"marketing\"\n");
    let p = ConsentPolicy::from_toml(&toml(&at)).unwrap();
    assert_eq!(p.opt_out_keywords[0].len(), 64);
    assert!(p.is_opt_out(&at.to_uppercase()));
    let past = format!("{at}x");
    assert!(matches!(
        ConsentPolicy::from_toml(&toml(&past)).unwrap_err(),
        ConsentError::InvalidPolicy(_)
    ));
}

/// `text` padded with a comment to exactly `len` bytes.
fn padded(text: &str, len: usize) -> String {
    let mut s = format!("{text}\n#");
    assert!(s.len() <= len);
    s.push_str(&"x".repeat(len - s.len()));
    s
}

#[test]
fn consent_policy_text_at_and_past_max_policy_toml_len() {
    assert_eq!(MAX_POLICY_TOML_LEN, 64 * 1024);
    let at = padded(consent::DEFAULT_POLICY_TOML, MAX_POLICY_TOML_LEN);
    assert_eq!(
        ConsentPolicy::from_toml(&at).unwrap(),
        ConsentPolicy::default()
    );
    let past = padded(consent::DEFAULT_POLICY_TOML, MAX_POLICY_TOML_LEN + 1);
    assert!(matches!(
        ConsentPolicy::from_toml(&past).unwrap_err(),
        ConsentError::InvalidPolicy(_)
    ));
}

/// The `toml` crate's depth limit: 80 levels of arrays and inline tables
/// (counted together), and 80 parts of a dotted key or a table header.
const TOML_DEPTH: usize = 80;

/// `key = ` and `depth` nested TOML arrays.
fn nested_toml(key: &str, depth: usize) -> String {
    format!("{key} = {}{}\n", "[".repeat(depth), "]".repeat(depth))
}

/// `key = ` and `depth` nested inline tables: `{a = {a = {}}}` is 3.
fn nested_inline_tables(key: &str, depth: usize) -> String {
    format!(
        "{key} = {}{{}}{}\n",
        "{a = ".repeat(depth - 1),
        "}".repeat(depth - 1)
    )
}

/// `key = ` and `depth` levels of inline tables and arrays in turn:
/// `{a = [{a = []}]}` is 4.
fn nested_tables_and_arrays(key: &str, depth: usize) -> String {
    let (open, close): (Vec<&str>, Vec<&str>) = (0..depth)
        .map(|i| {
            if i % 2 == 0 {
                ("{a = ", "}")
            } else {
                ("[", "]")
            }
        })
        .unzip();
    let mut s = format!("{key} = {}", open[..depth - 1].concat());
    s.push_str(if depth % 2 == 1 { "{}" } else { "[]" });
    close[..depth - 1].iter().rev().for_each(|c| s.push_str(c));
    s.push('\n');
    s
}

/// `key.a.a... = 1`, a dotted key of `parts` parts.
fn dotted_key(key: &str, parts: usize) -> String {
    format!("{key}{} = 1\n", ".a".repeat(parts - 1))
}

/// `[key.a.a...]`, a table header of `parts` parts.
fn table_header(key: &str, parts: usize) -> String {
    format!("[{key}{}]\n", ".a".repeat(parts - 1))
}

/// The deepest table the `toml` crate accepts: a table header of 80 parts,
/// in it a dotted key of 80 parts, whose value is 80 nested inline tables,
/// each holding the next under a dotted key of 80 parts: some 6 500 nested
/// tables in 13 KB.
fn deepest_toml(key: &str) -> String {
    let path = |first: &str| format!("{first}{}", ".a".repeat(TOML_DEPTH - 1));
    let mut s = format!("[{}]\n{} = ", path(key), path("a"));
    s.push_str(&format!("{{{} = ", path("a")).repeat(TOML_DEPTH - 1));
    s.push_str("{}");
    s.push_str(&"}".repeat(TOML_DEPTH - 1));
    s.push('\n');
    s
}

#[test]
fn toml_nesting_at_and_past_the_parsers_depth_limit() {
    type Nest = fn(&str, usize) -> String;
    let nestings: [(&str, Nest); 5] = [
        ("arrays", nested_toml),
        ("inline tables", nested_inline_tables),
        ("inline tables and arrays", nested_tables_and_arrays),
        ("dotted key", dotted_key),
        ("table header", table_header),
    ];
    for (what, nest) in nestings {
        let table = |depth| toml::from_str::<toml::Table>(&nest("a", depth));
        assert!(table(TOML_DEPTH).is_ok(), "{what}");
        assert!(table(TOML_DEPTH + 1).is_err(), "{what}");

        // Both policies refuse it either way (no key takes values nested
        // this deep): by their own nesting limit (row 42), before the
        // parser's.
        let key = if what == "table header" {
            "x"
        } else {
            "opt-out-keywords"
        };
        for depth in [TOML_DEPTH, TOML_DEPTH + 1] {
            assert!(
                matches!(
                    ConsentPolicy::from_toml(&nest(key, depth)).unwrap_err(),
                    ConsentError::InvalidPolicy(_)
                ),
                "{what}"
            );
        }
        let key = if what == "table header" { "x" } else { "dpo" };
        let policy = |depth| format!("{MINIMAL_POLICY}{}", nest(key, depth));
        assert!(
            matches!(
                Policy::parse(&policy(TOML_DEPTH)).unwrap_err(),
                PolicyError::Invalid { .. }
            ),
            "{what}"
        );
        assert!(
            matches!(
                Policy::parse(&policy(TOML_DEPTH + 1)).unwrap_err(),
                PolicyError::Syntax { .. } | PolicyError::Invalid { .. }
            ),
            "{what}"
        );
    }

    // Far deeper nesting (as deep as the size limit allows) is refused the
    // same way, without exhausting the stack.
    for nest in [nested_toml, nested_inline_tables, dotted_key] {
        let deep = nest("opt-out-keywords", MAX_POLICY_TOML_LEN / 7);
        assert!(deep.len() <= MAX_POLICY_TOML_LEN);
        assert!(matches!(
            ConsentPolicy::from_toml(&deep).unwrap_err(),
            ConsentError::InvalidPolicy(_)
        ));
        let deep = format!("{MINIMAL_POLICY}{}", nest("dpo", MAX_POLICY_LEN / 7));
        assert!(deep.len() <= MAX_POLICY_LEN);
        assert!(matches!(
            Policy::parse(&deep).unwrap_err(),
            PolicyError::Syntax { .. } | PolicyError::Invalid { .. }
        ));
    }
}

/// Whether the consent error is the nesting limit's.
fn is_consent_nesting_error(e: &ConsentError) -> bool {
    matches!(e, ConsentError::InvalidPolicy(m) if m.contains("levels deep"))
}

/// Whether the retention error is the nesting limit's.
fn is_retention_nesting_error(e: &PolicyError) -> bool {
    matches!(e, PolicyError::Invalid { message, .. } if message.contains("levels deep"))
}

#[test]
fn policy_nesting_at_and_past_max_policy_nesting() {
    assert_eq!(MAX_POLICY_NESTING, 32);
    // Each shape is `depth` levels deep under the unknown top-level key `x`
    // (a dotted key of n parts nests n - 1 tables, its last part names the
    // value). At the limit the depth check passes and the typed parse
    // refuses the unknown key; one level more is refused by the depth check.
    type Nest = fn(&str, usize) -> String;
    let shapes: [(&str, Nest); 5] = [
        ("arrays", nested_toml),
        ("inline tables", nested_inline_tables),
        ("inline tables and arrays", nested_tables_and_arrays),
        ("dotted key", |key, depth| dotted_key(key, depth + 1)),
        ("table header", table_header),
    ];
    for (what, nest) in shapes {
        for (depth, refused_for_depth) in
            [(MAX_POLICY_NESTING, false), (MAX_POLICY_NESTING + 1, true)]
        {
            let consent = ConsentPolicy::from_toml(&nest("x", depth)).unwrap_err();
            assert!(matches!(consent, ConsentError::InvalidPolicy(_)), "{what}");
            assert_eq!(
                is_consent_nesting_error(&consent),
                refused_for_depth,
                "{what} {depth}: {consent}"
            );
            // The retention policy: `x` at the top level, before `[policy]`.
            let retention =
                Policy::parse(&format!("{}{MINIMAL_POLICY}", nest("x", depth))).unwrap_err();
            if refused_for_depth {
                assert!(
                    is_retention_nesting_error(&retention),
                    "{what}: {retention}"
                );
            } else {
                assert!(
                    matches!(retention, PolicyError::Syntax { .. }),
                    "{what}: {retention}"
                );
            }
        }
    }
    // The location is that of the first value too deep: `x = ` and 32 `[`.
    let past = Policy::parse(&format!(
        "{}{MINIMAL_POLICY}",
        nested_toml("x", MAX_POLICY_NESTING + 1)
    ))
    .unwrap_err();
    assert_eq!((past.location().line, past.location().column), (1, 37));
    // The shipped policies stay far below the limit.
    assert_eq!(
        ConsentPolicy::from_toml(consent::DEFAULT_POLICY_TOML).unwrap(),
        ConsentPolicy::default()
    );
    Policy::parse(retention::DEFAULT_POLICY).unwrap();
}

/// Stack for parsing `deepest_toml`. Before the nesting limit, parsing it
/// took about 1 MiB of stack (almost all of it for dropping the parsed
/// tables) and overflowed this one; the depth check takes the tree apart
/// without recursion.
const STACK_FOR_DEEPEST_TOML: usize = 256 << 10;

#[test]
fn toml_deepest_accepted_nesting_is_refused_within_a_256_kib_stack() {
    // The `toml` crate's limits combine: a header, a dotted key and inline
    // tables holding dotted keys nest some 6 500 tables, which the parser
    // accepts and builds without recursion. Both policies refuse it by
    // their nesting limit (docs/LIMITS.md, row 42), on a thread with a
    // small stack, so that a host thread's stack suffices.
    let deepest = deepest_toml("x");
    assert!(deepest.len() < MAX_POLICY_TOML_LEN / 4, "{}", deepest.len());
    let run = move || {
        let consent = ConsentPolicy::from_toml(&deepest).unwrap_err();
        assert!(is_consent_nesting_error(&consent), "{consent}");
        let retention = Policy::parse(&format!("{MINIMAL_POLICY}{deepest}")).unwrap_err();
        assert!(is_retention_nesting_error(&retention), "{retention}");
        // With a syntax error after it (the parser recovers and hands back
        // what it built): refused the same way.
        let broken = format!("{deepest}y = \n");
        let consent = ConsentPolicy::from_toml(&broken).unwrap_err();
        assert!(is_consent_nesting_error(&consent), "{consent}");
    };
    std::thread::Builder::new()
        .stack_size(STACK_FOR_DEEPEST_TOML)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

// --------------------------------------------------------------------- audit

fn actor() -> caduceus_core::audit::Pseudonym {
    AuditKey::from_bytes([1; 32]).pseudonym(PseudonymKind::Staff, "dr-a")
}

/// An audit event with every field at its largest.
fn largest_audit_event() -> AuditEvent {
    let long = "a".repeat(MAX_LABEL_LEN);
    AuditEvent::new(
        i64::from(u32::MAX) * 1000,
        actor(),
        &long,
        Action::ErasureCompleted,
        &long,
    )
    .unwrap()
    .subject(AuditKey::from_bytes([1; 32]).pseudonym(PseudonymKind::Subject, "p"))
    .category(&long)
    .unwrap()
    .record(&"a".repeat(caduceus_core::pseudonym::MAX_IDENTIFIER_LEN))
    .unwrap()
    .purpose(&long)
    .unwrap()
    .legal_basis(&long)
    .unwrap()
    .outcome(Outcome::Failed(long.clone()))
    .unwrap()
    .correlation(&long)
    .unwrap()
}

/// Entry header (sequence 0, no previous leaf) and `body`.
fn audit_entry(body: &[u8]) -> Vec<u8> {
    let mut out = ENTRY_MAGIC.to_vec();
    out.push(ENTRY_VERSION);
    out.extend_from_slice(&[0; 8 + 32]);
    out.extend_from_slice(body);
    out
}

#[test]
fn audit_entry_at_and_past_max_entry_len() {
    assert_eq!(MAX_ENTRY_LEN, 4096);
    // The largest valid entry stays below the limit.
    let mut log = AuditLog::new("praxis.example/audit").unwrap();
    let appended = log.append(&largest_audit_event()).unwrap();
    assert!(
        appended.bytes.len() < MAX_ENTRY_LEN / 2,
        "{}",
        appended.bytes.len()
    );
    AuditEntry::from_bytes(&appended.bytes).unwrap();

    let at = audit_entry(&[0xc0; MAX_ENTRY_LEN - ENTRY_HEADER_LEN]);
    let past = audit_entry(&[0xc0; MAX_ENTRY_LEN - ENTRY_HEADER_LEN + 1]);
    assert_eq!(at.len(), MAX_ENTRY_LEN);
    assert!(AuditEntry::header(&at).is_ok());
    assert!(matches!(
        AuditEntry::from_bytes(&at).unwrap_err(),
        AuditError::MalformedBody { .. }
    ));
    assert_eq!(
        AuditEntry::header(&past).unwrap_err(),
        AuditError::EntryTooLarge
    );
    assert_eq!(
        AuditEntry::from_bytes(&past).unwrap_err(),
        AuditError::EntryTooLarge
    );
    assert_eq!(
        AuditEntry::validate(&past).unwrap_err(),
        AuditError::EntryTooLarge
    );
    let mut verifier = LogVerifier::new(&[]).headers_only();
    assert_eq!(
        verifier.push(&past).unwrap_err(),
        LogFault::Malformed {
            index: 0,
            error: AuditError::EntryTooLarge
        }
    );
}

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(name, &[seed; 32]).unwrap()
}

#[test]
fn signed_note_at_and_past_max_note_len() {
    assert_eq!(MAX_NOTE_LEN, 1 << 20);
    let s = signer("praxis.example/audit", 1);
    let overhead = note::sign("a\n", &[&s]).unwrap().len() - 2;
    let text = |len: usize| format!("{}\n", "a".repeat(len - 1));
    // `sign` writes a note of exactly MAX_NOTE_LEN, text and signature
    // included, and `open` accepts it.
    let at = note::sign(&text(MAX_NOTE_LEN - overhead), &[&s]).unwrap();
    assert_eq!(at.len(), MAX_NOTE_LEN);
    assert_eq!(
        note::open(&at, &[s.verifier()]).unwrap().verified_by,
        ["praxis.example/audit"]
    );
    // One byte more of text would make a note of MAX_NOTE_LEN + 1: `sign`
    // refuses to write it, so it never writes a note that `open` refuses.
    let past = note::sign(&text(MAX_NOTE_LEN - overhead + 1), &[&s]).unwrap_err();
    assert!(matches!(past, AuditError::MalformedNote(_)), "{past:?}");
    assert!(past.to_string().contains("longer than 1 MiB"), "{past}");
    // The signature lines count, not only the text: a text that fits with
    // one signer is refused with two.
    let two = signer("praxis.example/witness", 2);
    assert_eq!(
        note::sign(&text(MAX_NOTE_LEN - overhead), &[&s, &two]).unwrap_err(),
        past
    );
    // A text of MAX_NOTE_LEN + 1 bytes is refused before anything else.
    assert!(matches!(
        note::sign(&text(MAX_NOTE_LEN + 1), &[&s]).unwrap_err(),
        AuditError::MalformedNote(_)
    ));
    // `open` refuses a note of MAX_NOTE_LEN + 1 bytes, built by hand (one
    // more byte of text), by its length: without the length check its
    // signature would fail (`BadSignature`).
    let mut forged = at.clone();
    forged.insert(0, 'a');
    assert_eq!(forged.len(), MAX_NOTE_LEN + 1);
    assert!(matches!(
        note::open(&forged, &[s.verifier()]).unwrap_err(),
        AuditError::MalformedNote(_)
    ));
    // The same through a checkpoint, padded with an extension line: signed
    // at exactly MAX_NOTE_LEN, refused one byte past it.
    let mut cp =
        caduceus_core::audit::Checkpoint::new("praxis.example/audit", 0, merkle::empty_root())
            .unwrap();
    cp.extensions = vec!["x".to_owned()];
    let base = cp.sign(&[&s]).unwrap().len();
    cp.extensions = vec!["x".repeat(1 + MAX_NOTE_LEN - base)];
    let signed = cp.sign(&[&s]).unwrap();
    assert_eq!(signed.len(), MAX_NOTE_LEN);
    assert_eq!(
        caduceus_core::audit::Checkpoint::open(&signed, &[s.verifier()]).unwrap(),
        cp
    );
    cp.extensions[0].push('x');
    assert_eq!(cp.sign(&[&s]).unwrap_err(), past);
}

#[test]
fn signed_note_signatures_at_and_past_max_signatures() {
    assert_eq!(MAX_SIGNATURES, 100);
    let signers: Vec<NoteSigner> = (0..=MAX_SIGNATURES)
        .map(|i| signer(&format!("witness-{i}"), i as u8))
        .collect();
    let refs: Vec<&NoteSigner> = signers.iter().collect();
    let at = note::sign("tree\n", &refs[..MAX_SIGNATURES]).unwrap();
    let opened = note::open(&at, &[signers[0].verifier()]).unwrap();
    assert_eq!(opened.unknown_signatures, MAX_SIGNATURES - 1);
    // A forged note with one signature line more (`sign` refuses to write
    // it, see below).
    let mut past = at.clone();
    let extra = note::sign("tree\n", &refs[MAX_SIGNATURES..]).unwrap();
    past.push_str(extra.strip_prefix("tree\n\n").unwrap());
    assert_eq!(past.lines().count(), 2 + MAX_SIGNATURES + 1);
    assert!(matches!(
        note::open(&past, &[signers[0].verifier()]).unwrap_err(),
        AuditError::MalformedNote(_)
    ));
}

#[test]
fn note_signers_at_and_past_max_signatures() {
    // `sign` refuses more signers than `open` accepts signature lines, so it
    // never writes a note that `open` refuses.
    let signers: Vec<NoteSigner> = (0..=MAX_SIGNATURES)
        .map(|i| signer(&format!("witness-{i}"), i as u8))
        .collect();
    let refs: Vec<&NoteSigner> = signers.iter().collect();
    let at = note::sign("tree\n", &refs[..MAX_SIGNATURES]).unwrap();
    assert_eq!(at.lines().count(), 2 + MAX_SIGNATURES);
    let verifiers: Vec<NoteVerifier> = signers.iter().map(NoteSigner::verifier).collect();
    assert_eq!(
        note::open(&at, &verifiers).unwrap().verified_by.len(),
        MAX_SIGNATURES
    );
    let past = note::sign("tree\n", &refs).unwrap_err();
    assert!(matches!(past, AuditError::MalformedNote(_)), "{past:?}");
    assert!(
        past.to_string().contains("at most 100 signatures"),
        "{past}"
    );
    // The same through a checkpoint.
    let cp = caduceus_core::audit::Checkpoint::new("praxis.example/audit", 0, merkle::empty_root())
        .unwrap();
    assert_eq!(cp.sign(&refs).unwrap_err(), past);
    cp.sign(&refs[..MAX_SIGNATURES]).unwrap();
}

#[test]
fn note_key_name_at_and_past_max_key_name_len() {
    assert_eq!(MAX_KEY_NAME_LEN, 256);
    let name = |len: usize| "n".repeat(len);
    let at = signer(&name(MAX_KEY_NAME_LEN), 1);
    let text = at.verifier().to_string();
    assert_eq!(NoteVerifier::parse(&text).unwrap(), at.verifier());
    let note = note::sign("tree\n", &[&at]).unwrap();
    note::open(&note, &[at.verifier()]).unwrap();
    assert!(matches!(
        NoteSigner::from_seed(&name(MAX_KEY_NAME_LEN + 1), &[1; 32]).unwrap_err(),
        AuditError::MalformedKey(_)
    ));
    assert!(matches!(
        NoteVerifier::new(&name(MAX_KEY_NAME_LEN + 1), &at.verifier().public_key()).unwrap_err(),
        AuditError::MalformedKey(_)
    ));
    // A signature line naming a key one byte too long.
    let long_name = note.replace(&name(MAX_KEY_NAME_LEN), &name(MAX_KEY_NAME_LEN + 1));
    assert!(matches!(
        note::open(&long_name, &[at.verifier()]).unwrap_err(),
        AuditError::MalformedNote(_)
    ));
}

#[test]
fn inclusion_proof_length_at_and_past_the_tree_height() {
    // Leaf 0 of a tree of u64::MAX leaves: 64 levels, so 64 proof hashes
    // (the longest inclusion proof there is), all right siblings.
    let leaf = merkle::leaf_hash(b"entry");
    let proof: Vec<[u8; 32]> = (0..64u8).map(|i| [i; 32]).collect();
    let root = proof.iter().fold(leaf, |acc, p| merkle::node_hash(&acc, p));
    merkle::verify_inclusion(&leaf, 0, u64::MAX, &proof, &root).unwrap();
    // One hash more is refused, even with the root that it folds to: the
    // walk has reached the root after 64 hashes.
    let mut longer = proof.clone();
    longer.push([64; 32]);
    let longer_root = merkle::node_hash(&root, &[64; 32]);
    for root in [root, longer_root] {
        assert_eq!(
            merkle::verify_inclusion(&leaf, 0, u64::MAX, &longer, &root).unwrap_err(),
            AuditError::BadProof
        );
    }
}

#[test]
fn proof_length_past_max_proof_len() {
    // MAX_PROOF_LEN is a cheap bound checked before the walk (and, for a
    // consistency proof, before the path is copied). The walk refuses every
    // proof longer than the path of (index, size) or (old size, new size),
    // at most 64 and 65 hashes, with the same error, so the bound cannot be
    // observed at its limit: a proof of MAX_PROOF_LEN hashes is refused too
    // (docs/LIMITS.md, row 31 and section 10). One hash past it is refused
    // with `BadProof`, for both kinds of proof.
    assert_eq!(merkle::MAX_PROOF_LEN, 130);
    let leaf = merkle::leaf_hash(b"entry");
    let root = [0u8; 32];
    for len in [merkle::MAX_PROOF_LEN + 1, 100_000] {
        let long = vec![[0u8; 32]; len];
        assert_eq!(
            merkle::verify_inclusion(&leaf, 0, u64::MAX, &long, &root).unwrap_err(),
            AuditError::BadProof
        );
        assert_eq!(
            merkle::verify_consistency(3, u64::MAX, &root, &root, &long).unwrap_err(),
            AuditError::BadProof
        );
    }
}

/// The roots that a consistency proof from 3 leaves to `2^k` or
/// `2^64 - 1` leaves proves (RFC 9162 2.1.4.2): its hashes are leaf 2,
/// leaf 3, the node over leaves 0 and 1, then one right sibling per level
/// above.
fn roots_from_3(proof: &[[u8; 32]]) -> ([u8; 32], [u8; 32]) {
    let (l2, l3, l01) = (proof[0], proof[1], proof[2]);
    let old = merkle::node_hash(&l01, &l2);
    let new = proof[3..].iter().fold(
        merkle::node_hash(&l01, &merkle::node_hash(&l2, &l3)),
        |acc, p| merkle::node_hash(&acc, p),
    );
    (old, new)
}

#[test]
fn consistency_proof_length_at_and_past_the_tree_height() {
    // A real tree: the proof from 3 to 8 leaves has 4 hashes, and
    // `roots_from_3` gives the trees' roots from it.
    let mut tree = MemoryTree::new();
    for i in 0..8u32 {
        tree.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let proof = merkle::consistency_proof(&tree, 3, 8).unwrap();
    assert_eq!(proof.len(), 4);
    let (old, new) = roots_from_3(&proof);
    assert_eq!((old, new), (tree.root(3).unwrap(), tree.root(8).unwrap()));
    merkle::verify_consistency(3, 8, &old, &new, &proof).unwrap();

    // Claimed: from 3 to 2^64 - 1 leaves, 65 hashes, the longest a
    // consistency proof can be (the first hash, which starts both roots,
    // and one per level of the walk up the new tree: at most 64). One hash
    // more is refused, even with the roots that it folds to.
    let proof: Vec<[u8; 32]> = (0..65u8).map(|i| [i; 32]).collect();
    let (old, new) = roots_from_3(&proof);
    merkle::verify_consistency(3, u64::MAX, &old, &new, &proof).unwrap();
    let mut longer = proof.clone();
    longer.push([65; 32]);
    let (longer_old, longer_new) = roots_from_3(&longer);
    assert_eq!(longer_old, old);
    for new in [new, longer_new] {
        assert_eq!(
            merkle::verify_consistency(3, u64::MAX, &old, &new, &longer).unwrap_err(),
            AuditError::BadProof
        );
    }
    // ... and one hash fewer.
    let (_, shorter_new) = roots_from_3(&proof[..64]);
    assert_eq!(
        merkle::verify_consistency(3, u64::MAX, &old, &shorter_new, &proof[..64]).unwrap_err(),
        AuditError::BadProof
    );

    // A proof is exactly its path's length, whatever the sizes: in a tree
    // of 1 000 leaves, from every old size, one hash more or fewer is
    // refused.
    for i in 8..1000u32 {
        tree.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let new = tree.root(1000).unwrap();
    for old_size in 1..1000 {
        let old = tree.root(old_size).unwrap();
        let proof = merkle::consistency_proof(&tree, old_size, 1000).unwrap();
        merkle::verify_consistency(old_size, 1000, &old, &new, &proof).unwrap();
        let mut longer = proof.clone();
        longer.push([0; 32]);
        assert_eq!(
            merkle::verify_consistency(old_size, 1000, &old, &new, &longer).unwrap_err(),
            AuditError::BadProof,
            "{old_size}"
        );
        if !proof.is_empty() {
            assert_eq!(
                merkle::verify_consistency(old_size, 1000, &old, &new, &proof[..proof.len() - 1])
                    .unwrap_err(),
                AuditError::BadProof,
                "{old_size}"
            );
        }
    }
}

#[test]
fn compact_range_hashes_at_and_past_the_size_bits() {
    // One hash per set bit of the size: at most 64.
    let range = CompactRange::from_parts(u64::MAX, vec![[1; 32]; 64]).unwrap();
    assert_eq!(range.hashes().len(), 64);
    assert_eq!(
        CompactRange::from_parts(u64::MAX, vec![[1; 32]; 65]).unwrap_err(),
        AuditError::BadCompactRange
    );
    assert_eq!(
        CompactRange::from_parts(5, vec![[1; 32]; 3]).unwrap_err(),
        AuditError::BadCompactRange
    );
}

#[test]
fn audit_log_size_at_and_past_u64_max() {
    // Resume a log of u64::MAX - 1 entries from its edge and last entry:
    // one more entry fits (index u64::MAX - 1), the next does not.
    let size = u64::MAX - 1;
    let edge = CompactRange::from_parts(size, vec![[2; 32]; size.count_ones() as usize]).unwrap();
    let event = AuditEvent::new(T0 * 1000, actor(), "doctor", Action::Read, "pms").unwrap();
    let last = AuditEntry {
        sequence: size - 1,
        prev_leaf: [3; 32],
        event: event.clone(),
    }
    .to_bytes()
    .unwrap();
    let mut log = AuditLog::resume("praxis.example/audit", edge, Some(&last), None).unwrap();
    assert_eq!(log.append(&event).unwrap().index, u64::MAX - 1);
    assert_eq!(log.size(), u64::MAX);
    assert_eq!(log.append(&event).unwrap_err(), AuditError::LogFull);
}

// ----------------------------------------------------------------- retention

const MINIMAL_POLICY: &str =
    "[policy]\nid = \"t\"\nname = \"test\"\nversion = \"1\"\ncontroller = \"c\"\n";

fn categories(n: usize) -> String {
    let mut s = String::from(MINIMAL_POLICY);
    for i in 0..n {
        s.push_str(&format!(
            "[[category]]\nid = \"c{i}\"\nname = \"C\"\nname-de = \"C\"\n"
        ));
    }
    s
}

#[test]
fn policy_text_at_and_past_max_policy_len() {
    assert_eq!(MAX_POLICY_LEN, 1 << 20);
    let at = padded(retention::DEFAULT_POLICY, MAX_POLICY_LEN);
    let default = Policy::parse(retention::DEFAULT_POLICY).unwrap();
    assert_eq!(Policy::parse(&at).unwrap().hash_hex(), default.hash_hex());
    let past = padded(retention::DEFAULT_POLICY, MAX_POLICY_LEN + 1);
    assert!(matches!(
        Policy::parse(&past).unwrap_err(),
        PolicyError::Invalid { .. }
    ));
}

#[test]
fn policy_categories_at_and_past_max_categories() {
    assert_eq!(MAX_CATEGORIES, 1024);
    let p = Policy::parse(&categories(MAX_CATEGORIES)).unwrap();
    assert_eq!(p.categories().len(), MAX_CATEGORIES);
    assert!(matches!(
        Policy::parse(&categories(MAX_CATEGORIES + 1)).unwrap_err(),
        PolicyError::Invalid { .. }
    ));
}

fn rules(n: usize) -> String {
    let mut s = categories(1);
    for i in 0..n {
        s.push_str(&format!(
            "[[retention]]\ncategory = \"c0\"\nyears = {}\nfrom = \"created\"\naction = \"shred-key\"\nsource = \"s\"\n",
            i + 1
        ));
    }
    s
}

#[test]
fn policy_rules_per_category_at_and_past_max_rules_per_category() {
    assert_eq!(MAX_RULES_PER_CATEGORY, 16);
    let p = Policy::parse(&rules(MAX_RULES_PER_CATEGORY)).unwrap();
    assert_eq!(p.rules().len(), MAX_RULES_PER_CATEGORY);
    let err = Policy::parse(&rules(MAX_RULES_PER_CATEGORY + 1)).unwrap_err();
    assert!(matches!(err, PolicyError::Invalid { .. }));
    // Reported at the first rule too many.
    assert_eq!(
        err.location().line as usize,
        rules(MAX_RULES_PER_CATEGORY).lines().count() + 1
    );
}

#[test]
fn policy_period_at_and_past_max_period_years() {
    assert_eq!(MAX_PERIOD_YEARS, 150);
    let policy = |period: &str| {
        format!(
            "{}[[retention]]\ncategory = \"c0\"\n{period}\nfrom = \"created\"\naction = \"shred-key\"\nsource = \"s\"\n",
            categories(1)
        )
    };
    Policy::parse(&policy(&format!("years = {MAX_PERIOD_YEARS}"))).unwrap();
    Policy::parse(&policy(&format!("days = {}", MAX_PERIOD_YEARS * 365))).unwrap();
    for past in [
        format!("years = {}", MAX_PERIOD_YEARS + 1),
        format!("days = {}", MAX_PERIOD_YEARS * 365 + 1),
        format!("years = {MAX_PERIOD_YEARS}\ndays = 1"),
        // Each part is a u16 before the sum is checked.
        "months = 65536".to_owned(),
        format!("years = {}", i64::MAX),
    ] {
        assert!(
            matches!(
                Policy::parse(&policy(&past)).unwrap_err(),
                PolicyError::Invalid { .. }
            ),
            "{past}"
        );
    }
}

#[test]
fn records_and_holds_json_nesting_is_refused_without_recursion() {
    // The records and holds are an array of flat objects: any deeper
    // value is refused by type, before serde_json's own depth limit.
    let policy = Policy::parse(retention::DEFAULT_POLICY).unwrap();
    for depth in [3, 127, 128, 100_000] {
        let json = format!(
            r#"[{{"id": 1, "subject": "p", "category": {}"x"{}}}]"#,
            "[".repeat(depth - 2),
            "]".repeat(depth - 2)
        );
        assert!(matches!(
            retention::parse_records(&policy, &json).unwrap_err(),
            RecordsError::Json { .. }
        ));
        let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(
            retention::parse_holds(&policy, &json).unwrap_err(),
            RecordsError::Json { .. }
        ));
    }
}

#[test]
fn json_values_nesting_at_and_past_serde_jsons_depth_limit() {
    // Inherited from serde_json (the C ABI reads its JSON arguments as
    // `serde_json::Value`): 127 nested arrays parse, 128 do not.
    const JSON_DEPTH: usize = 127;
    let nested = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
    assert!(serde_json::from_str::<serde_json::Value>(&nested(JSON_DEPTH)).is_ok());
    let past = serde_json::from_str::<serde_json::Value>(&nested(JSON_DEPTH + 1)).unwrap_err();
    assert!(past.is_syntax());
    assert!(serde_json::from_str::<serde_json::Value>(&nested(1_000_000)).is_err());
}

// --------------------------------------------------------------- MessagePack

#[test]
fn messagepack_nesting_beyond_each_records_shape_is_refused() {
    // Every structured part has a fixed shape (at most three levels of
    // arrays); nested arrays where a value belongs are refused by type,
    // as deep as the enclosing length limit allows, without recursion.
    let nested = |n: usize| vec![0x91u8; n];
    assert!(matches!(
        envelope::inspect(&envelope_with_body(&nested(MAX_HEADER_BODY))).unwrap_err(),
        EnvelopeError::MalformedHeader(_)
    ));
    assert!(matches!(
        KeyringRecord::from_bytes(&record_with_body(&nested(16 * 1024))).unwrap_err(),
        KeyError::MalformedRecord(_)
    ));
    assert!(matches!(
        ConsentEvent::from_bytes(&event_record(&nested(MAX_EVENT_LEN - 5))).unwrap_err(),
        ConsentError::MalformedEvent(_)
    ));
    assert!(matches!(
        Ledger::from_bytes(&ledger_file(&[(1, nested(1 << 20))])).unwrap_err(),
        ConsentError::InvalidEntry { index: 0, .. }
    ));
    let entry = audit_entry(&nested(MAX_ENTRY_LEN - ENTRY_HEADER_LEN));
    assert!(matches!(
        AuditEntry::from_bytes(&entry).unwrap_err(),
        AuditError::MalformedBody { .. }
    ));
}

#[test]
fn messagepack_lengths_are_bounded_by_the_enclosing_record() {
    // A str 32 / bin 32 / array 32 claiming 4 GiB inside a 16 KiB header is
    // refused as truncated: rmp-serde reads strings and byte strings from
    // the record's slice and checks the bytes present before it takes any,
    // and serde preallocates at most 1 MiB for a claimed array length.
    for marker in [0xc6u8, 0xdb, 0xdd] {
        let body = [0x94, marker, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            envelope::inspect(&envelope_with_body(&body)).unwrap_err(),
            EnvelopeError::MalformedHeader(_)
        ));
        assert!(matches!(
            KeyringRecord::from_bytes(&record_with_body(&body)).unwrap_err(),
            KeyError::MalformedRecord(_)
        ));
    }
    // The audit entry reader: a str 32 role claiming 4 GiB.
    let mut body = vec![0x99, 0x00, 0x92, 0xd9, 37];
    body.extend_from_slice(actor().as_str().as_bytes());
    body.extend_from_slice(&[0xdb, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        AuditEntry::from_bytes(&audit_entry(&body)).unwrap_err(),
        AuditError::MalformedBody { .. }
    ));

    // The consent event (at most 8 KiB): a str 32 / bin 32 id, and an
    // array 32 of purposes, claiming 4 GiB.
    for marker in [0xc6u8, 0xdb] {
        let body = [0x9b, marker, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            ConsentEvent::from_bytes(&event_record(&body)).unwrap_err(),
            ConsentError::MalformedEvent(_)
        ));
    }
    let body = [0x9b, 0xa1, b'e', 0xa1, b'p', 0xdd, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        ConsentEvent::from_bytes(&event_record(&body)).unwrap_err(),
        ConsentError::MalformedEvent(_)
    ));

    // Ledger entries (at most 1 MiB): a policy entry whose purposes (array
    // 32) claim 2^32 - 1 entries; a notice entry whose text (str 32) claims
    // 4 GiB, and one whose text claims exactly the bytes left in the file
    // after the entry's body (its chain hash): an entry is read from its own
    // bytes only.
    let invalid_entry = |entries: &[(u8, Vec<u8>)], at: u64| {
        let err = Ledger::from_bytes(&ledger_file(entries)).unwrap_err();
        match err {
            ConsentError::InvalidEntry { index, source } => {
                assert_eq!(index, at);
                assert!(
                    matches!(*source, ConsentError::MalformedLedger(_)),
                    "{source:?}"
                );
            }
            e => panic!("{e:?}"),
        }
    };
    invalid_entry(&[(1, vec![0x93, 0xdd, 0xff, 0xff, 0xff, 0xff])], 0);
    let bytes = Ledger::new(ConsentPolicy::default())
        .unwrap()
        .to_bytes()
        .unwrap();
    let policy_entry = ledger_entries(&bytes).remove(0);
    let notice = |len: u32| {
        let mut body = vec![0x95, 0xa1, b'n', 0x01, 0xa2, b'd', b'e', 0xdb];
        body.extend_from_slice(&len.to_be_bytes());
        (2, body)
    };
    invalid_entry(&[policy_entry.clone(), notice(u32::MAX)], 1);
    invalid_entry(
        &[
            policy_entry,
            notice(u32::try_from(LEDGER_CHAIN_LEN).unwrap()),
        ],
        1,
    );

    // At the limit, in a version-1 file: the end entry ends in a bin 8 (the
    // checksum) whose length is exactly the rest of the entry, and is
    // accepted; claiming one byte more than the entry holds is refused.
    let bytes = ledger_file_v1(&ledger_entries(&bytes));
    Ledger::from_bytes(&bytes).unwrap();
    let len_at = bytes.len() - 32 - 1;
    assert_eq!(bytes[len_at - 1..=len_at], [0xc4, 0x20]);
    let mut past = bytes.clone();
    past[len_at] = 0x21;
    assert!(matches!(
        Ledger::from_bytes(&past).unwrap_err(),
        ConsentError::MalformedLedger(_)
    ));
}
