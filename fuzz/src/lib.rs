//! Fixtures shared by the fuzz targets and the seed generator: a fixed
//! recipient identity, fixed sealed messages, and the input decoding used by
//! the envelope targets; fixtures and helpers of the C ABI targets
//! ([`ffi`]).

use std::sync::OnceLock;

use caduceus_core::audit::{Action, AuditEvent, AuditKey, AuditLog, Outcome, PseudonymKind, note};
use caduceus_core::consent::{
    ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, OptOutRequest,
};
use caduceus_core::envelope::{self, Labels, SEGMENT_SIZE};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::testing::DeterministicRng;

/// A fixed key, derived once (deriving the public key is a scalar
/// multiplication; the targets need these keys on every input).
pub(crate) fn fixed_key(
    cell: &'static OnceLock<PrivateKey>,
    kind: KeyKind,
    byte: u8,
) -> PrivateKey {
    cell.get_or_init(|| PrivateKey::from_bytes(kind, [byte; 32]).expect("fixed identity"))
        .clone()
}

/// The identity every fuzzed envelope is opened with.
pub fn identity() -> PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    fixed_key(&K, KeyKind::SubjectCategory, 0x11)
}

/// A valid key that is not a recipient of the fixed messages.
pub fn other_identity() -> PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    fixed_key(&K, KeyKind::Staff, 0x22)
}

/// Labels of the fixed messages.
pub fn labels() -> Labels {
    Labels::new(
        "p-3f9a",
        "chat-messages",
        "treatment-communication",
        "text/plain",
        1_700_000_000,
    )
    .expect("fixed labels")
}

/// A fixed sealed message and its plaintext.
pub struct Base {
    pub plaintext: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// The fixed sealed messages: short, empty, and three segments long (the
/// last one short), all sealed to [`identity`] (the second one also to
/// [`other_identity`]).
pub fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        let me = identity().public_key();
        let other = other_identity().public_key();
        let multi: Vec<u8> = (0..2 * SEGMENT_SIZE + 777)
            .map(|i| (i % 251) as u8)
            .collect();
        let cases: [(&[_], Vec<u8>); 3] = [
            (&[me], b"Zahnschmerzen seit Dienstag".to_vec()),
            (&[other, me], Vec::new()),
            (&[me], multi),
        ];
        cases
            .into_iter()
            .zip(1u64..)
            .map(|((recipients, plaintext), seed)| {
                let mut rng = DeterministicRng::new(seed);
                let sealed = envelope::seal(recipients, &labels(), &plaintext, &mut rng)
                    .expect("seal fixed message");
                Base { plaintext, sealed }
            })
            .collect()
    })
}

/// An envelope built from fuzz input.
pub struct EnvelopeInput<'a> {
    /// The envelope bytes to decode.
    pub bytes: Vec<u8>,
    /// The fixed message these bytes were derived from, if any.
    pub base: Option<&'static Base>,
    /// The rest of the input (e.g. chunk sizes for streaming).
    pub rest: &'a [u8],
}

/// Decode fuzz input into an envelope. First byte: mode. Mode 0 (and any
/// mode past the bases): the remaining bytes are the envelope. Mode `k`
/// (1..=3): start from fixed message `k-1` and apply edits read from the
/// input: a count, then (u24 position, xor byte) pairs, then a truncation
/// and an appended tail.
pub fn envelope_input(data: &[u8]) -> EnvelopeInput<'_> {
    envelope_input_from(data, bases())
}

/// As [`envelope_input`], with mode `k` (1..=3) picking `list[k-1]` (raw
/// bytes when `list` has no such entry).
pub fn envelope_input_from<'a>(data: &'a [u8], list: &'static [Base]) -> EnvelopeInput<'a> {
    let Some((&mode, data)) = data.split_first() else {
        return EnvelopeInput {
            bytes: Vec::new(),
            base: None,
            rest: &[],
        };
    };
    let base = match usize::from(mode % 4) {
        0 => None,
        k => list.get(k - 1),
    };
    let Some(base) = base else {
        return EnvelopeInput {
            bytes: data.to_vec(),
            base: None,
            rest: &[],
        };
    };
    let mut bytes = base.sealed.clone();
    let mut r = Reader(data);
    apply_edits(&mut bytes, &mut r);
    EnvelopeInput {
        bytes,
        base: Some(base),
        rest: r.0,
    }
}

/// Apply the edits read from `r` to `bytes`: a count, then (u24 position,
/// xor byte) pairs, then a truncation or an appended tail.
pub fn apply_edits(bytes: &mut Vec<u8>, r: &mut Reader<'_>) {
    let edits = r.u8() % 8;
    for _ in 0..edits {
        let pos = r.u24() as usize;
        let x = r.u8();
        if !bytes.is_empty() {
            let pos = pos % bytes.len();
            bytes[pos] ^= x.max(1);
        }
    }
    match r.u8() % 4 {
        1 => {
            let cut = r.u24() as usize;
            bytes.truncate(cut % (bytes.len() + 1));
        }
        2 => {
            let n = usize::from(r.u8() % 32);
            let tail = r.take(n);
            bytes.extend_from_slice(tail);
        }
        _ => {}
    }
}

/// A little-endian reader that yields zeros past the end.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | u16::from(self.u8()) << 8
    }
    pub fn u24(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u8()) << 16
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// A `Read` that hands out its bytes in chunks of the given sizes (cycled;
/// a zero size is read as 1 so the stream always progresses).
pub struct ChunkedReader<'a> {
    pub data: &'a [u8],
    pub sizes: Vec<usize>,
    pub next: usize,
}

impl std::io::Read for ChunkedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = if self.sizes.is_empty() {
            usize::MAX
        } else {
            let s = self.sizes[self.next % self.sizes.len()].max(1);
            self.next += 1;
            s
        };
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Chunk sizes read from fuzz input: up to 16 sizes of 1 to 131072 bytes.
pub fn chunk_sizes(rest: &[u8]) -> Vec<usize> {
    let mut r = Reader(rest);
    let n = usize::from(r.u8() % 17);
    (0..n)
        .map(|_| {
            let v = r.u24() as usize;
            // Favour small chunks and segment-boundary-sized ones.
            match v % 4 {
                0 => v % 64 + 1,
                1 => 65536 + 16 - 8 + (v >> 2) % 16,
                _ => v % 131072 + 1,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Fixtures of the C ABI targets (ffi_*): fixed keys, a keyring record with a
// message sealed to it, an envelope set, a consent ledger and an audit log.

pub mod ffi;

/// Unix seconds of the fixtures (2025-11-22).
pub const T0: i64 = 1_763_800_000;

/// A fixed staff key, recipient of [`keyring_base`]'s record.
pub fn staff_identity() -> PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    fixed_key(&K, KeyKind::Staff, 0x44)
}

/// A fixed practice key, recipient of [`keyring_base`]'s record.
pub fn practice_identity() -> PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    fixed_key(&K, KeyKind::Practice, 0x55)
}

/// A fixed keyring record (wrapped to [`practice_identity`] and
/// [`staff_identity`]) and a message sealed to its subject-category key.
pub struct KeyringBase {
    /// The record's bytes.
    pub record: Vec<u8>,
    /// One message sealed to the record's public key.
    pub messages: Vec<Base>,
}

/// A new keyring record of "p-3f9a" / "chat-messages" at [`T0`], wrapped
/// to [`practice_identity`] and [`staff_identity`], drawn from `rng`.
pub fn new_keyring_record(rng: &mut DeterministicRng) -> KeyringRecord {
    KeyringRecord::create(
        "p-3f9a",
        "chat-messages",
        &[
            practice_identity().public_key(),
            staff_identity().public_key(),
        ],
        T0,
        rng,
    )
    .expect("keyring record")
}

/// The keyring fixture.
pub fn keyring_base() -> &'static KeyringBase {
    static KB: OnceLock<KeyringBase> = OnceLock::new();
    KB.get_or_init(|| {
        let mut rng = DeterministicRng::new(7);
        let record = new_keyring_record(&mut rng);
        let plaintext = "Befund: unauff\u{e4}llig".as_bytes().to_vec();
        let sealed = envelope::seal(&[record.public_key()], &labels(), &plaintext, &mut rng)
            .expect("seal to the record");
        KeyringBase {
            record: record.to_bytes(),
            messages: vec![Base { plaintext, sealed }],
        }
    })
}

/// A fixed envelope set of two parts sealed to [`identity`].
pub fn part_bases() -> &'static [Base] {
    static PARTS: OnceLock<Vec<Base>> = OnceLock::new();
    PARTS.get_or_init(|| {
        let mut rng = DeterministicRng::new(5);
        let plaintexts: [&[u8]; 2] = [b"part one", b"part two"];
        let sealed =
            envelope::seal_parts(&[identity().public_key()], &labels(), &plaintexts, &mut rng)
                .expect("seal parts");
        plaintexts
            .iter()
            .zip(sealed)
            .map(|(p, sealed)| Base {
                plaintext: p.to_vec(),
                sealed,
            })
            .collect()
    })
}

/// A consent ledger under the default policy with a notice
/// ("privacy-chat" version 1, "de") and events of subjects `p-0000` to
/// `p-0002` (given for treatment-communication and marketing at T0+1..3;
/// `p-0001` then opted out of marketing by STOP at T0+10).
pub fn sample_ledger() -> Ledger {
    let mut ledger = Ledger::new(ConsentPolicy::default()).expect("ledger");
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
    ledger
}

/// The bytes of [`sample_ledger`].
pub fn sample_ledger_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        sample_ledger()
            .to_bytes()
            .expect("the sample ledger is read whole")
    })
}

/// Origin of the fixed audit log.
pub const AUDIT_ORIGIN: &str = "fuzz.example/log";

/// A fixed audit log: its entries, a checkpoint signed by a fixed signer,
/// the signer's secret and verifier key texts, and the audit key.
pub struct AuditFixture {
    /// The stored entries, in order.
    pub entries: Vec<Vec<u8>>,
    /// The checkpoint of all entries, signed.
    pub signed_checkpoint: String,
    /// The checkpoint of all entries, unsigned.
    pub checkpoint: String,
    /// Signer key text (`PRIVATE+KEY+...`).
    pub signer: String,
    /// Verifier key text.
    pub verifier: String,
    /// Audit key text (`CADUCEUS-AUDIT-KEY-1...`).
    pub audit_key: String,
    /// An event as the C ABI's JSON (for `caduceus_audit_log_append`).
    pub event_json: String,
}

/// The audit fixture (three entries).
pub fn audit_fixture() -> &'static AuditFixture {
    static AF: OnceLock<AuditFixture> = OnceLock::new();
    AF.get_or_init(|| {
        let key = AuditKey::from_bytes([5; 32]);
        let actor = key.pseudonym(PseudonymKind::Staff, "dr-a");
        let subject = key.pseudonym(PseudonymKind::Subject, "patient-1");
        let mut log = AuditLog::new(AUDIT_ORIGIN).expect("log");
        let events = [
            AuditEvent::new(T0 * 1000, actor.clone(), "doctor", Action::Read, "pms").expect("event"),
            AuditEvent::new(T0 * 1000 + 5, actor.clone(), "reception", Action::Export, "pms-reception")
                .expect("event")
                .subject(subject.clone())
                .category("chat-messages")
                .and_then(|e| e.record("msg-17"))
                .and_then(|e| e.purpose("treatment-communication"))
                .expect("event"),
            AuditEvent::new(T0 * 1000 + 9, actor.clone(), "doctor", Action::Delete, "pms")
                .and_then(|e| e.outcome(Outcome::Denied("no-access".into())))
                .expect("event"),
        ];
        let entries = events.iter().map(|e| log.append(e).expect("append").bytes).collect();
        let signer = note::NoteSigner::from_seed(AUDIT_ORIGIN, &[7; 32]).expect("signer");
        let cp = log.checkpoint();
        let event_json = format!(
            r#"{{"time": {}, "actor": "{}", "role": "doctor", "action": "read", "source": "pms", "subject": "{}", "category": "chat-messages", "outcome": "denied", "outcome_reason": "no-access"}}"#,
            T0 + 60,
            actor.as_str(),
            subject.as_str()
        );
        AuditFixture {
            entries,
            signed_checkpoint: cp.sign(&[&signer]).expect("sign"),
            checkpoint: cp.to_text(),
            signer: signer.to_secret_string().as_str().to_owned(),
            verifier: signer.verifier().to_string(),
            audit_key: key.to_secret_string().as_str().to_owned(),
            event_json,
        }
    })
}
