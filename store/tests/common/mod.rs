//! Shared fixtures: keys, synthetic deliveries built with core's own
//! constructors, and temporary store paths.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use caduceus_core::audit::{Action, AuditEvent, AuditKey, Pseudonym, PseudonymKind};
use caduceus_core::consent::{ConsentEvent, ConsentMethod, ConsentStatus};
use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::rand_core::UnwrapErr;
use caduceus_core::whatsapp::{DedupeKey, SealedRecord};
use caduceus_store::{Actor, Delivery};

pub type Rng = UnwrapErr<getrandom::SysRng>;

pub fn rng() -> Rng {
    UnwrapErr(getrandom::SysRng)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let p = std::env::temp_dir().join(format!(
            "caduceus-store-{tag}-{}-{}",
            std::process::id(),
            hex_of(&b)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("practice.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `n` as letters a..p (restricted identifiers allow few digits in a row).
pub fn letters(n: u64) -> String {
    (0..16)
        .rev()
        .map(|i| char::from(b'a' + ((n >> (i * 4)) & 0xf) as u8))
        .collect()
}

pub fn record_id(n: u64) -> String {
    format!("rec-{}", letters(n))
}

pub fn consent_id(n: u64) -> String {
    format!("ce-{}", letters(n))
}

pub fn dedupe(n: u64) -> DedupeKey {
    DedupeKey::message(&format!("wamid.test.{n}"))
}

/// Keys of a practice with a doctor and a finance clerk; keyring records
/// are wrapped to the practice and the doctor only.
pub struct Fixture {
    pub audit_key: AuditKey,
    pub practice: PrivateKey,
    pub doctor: PrivateKey,
    pub finance: PrivateKey,
    pub service: Pseudonym,
    keyrings: HashMap<(String, String), KeyringRecord>,
}

pub const T0: i64 = 1_764_000_000; // 2025-11-24

impl Fixture {
    pub fn new() -> Self {
        let mut r = rng();
        let audit_key = AuditKey::generate(&mut r);
        let service = audit_key.pseudonym(PseudonymKind::Staff, "whatsapp-intake");
        Self {
            practice: PrivateKey::generate(KeyKind::Practice, &mut r),
            doctor: PrivateKey::generate(KeyKind::Staff, &mut r),
            finance: PrivateKey::generate(KeyKind::Staff, &mut r),
            audit_key,
            service,
            keyrings: HashMap::new(),
        }
    }

    pub fn subject(&self, name: &str) -> Pseudonym {
        self.audit_key.pseudonym(PseudonymKind::Subject, name)
    }

    pub fn actor(&self, role: &str) -> Actor {
        Actor {
            pseudonym: self.audit_key.pseudonym(PseudonymKind::Staff, role),
            role: role.to_owned(),
            source: "caduceus-store-test".to_owned(),
        }
    }

    /// The keyring record of (subject, category), created once.
    pub fn keyring(&mut self, subject: &Pseudonym, category: &str) -> KeyringRecord {
        let recipients = [self.practice.public_key(), self.doctor.public_key()];
        self.keyrings
            .entry((subject.as_str().to_owned(), category.to_owned()))
            .or_insert_with(|| {
                KeyringRecord::create(subject.as_str(), category, &recipients, T0, &mut rng())
                    .unwrap()
            })
            .clone()
    }

    /// Delivery `n` of `subject`: its keyring record, a sealed text of
    /// `len` bytes, one consent event, one audit entry naming the record,
    /// the dedupe mark and the outbound window.
    pub fn delivery(
        &mut self,
        n: u64,
        subject: &Pseudonym,
        category: &str,
        len: usize,
    ) -> Delivery {
        let keyring = self.keyring(subject, category);
        let at = T0 + i64::try_from(n).unwrap();
        let labels = Labels::new(
            subject.as_str(),
            category,
            "treatment-communication",
            "text/plain; charset=utf-8",
            at,
        )
        .unwrap();
        let plaintext = plaintext(n, len);
        let sealed =
            envelope::seal(&[keyring.public_key()], &labels, &plaintext, &mut rng()).unwrap();
        let mut d = Delivery::new(at);
        d.dedupe_key = Some(dedupe(n));
        d.subject = Some(subject.clone());
        d.keyring_record = Some(keyring);
        d.record = Some(SealedRecord {
            record_id: record_id(n),
            envelope: sealed,
            labels,
            replaces: None,
        });
        d.consent_events.push(
            ConsentEvent::new(
                &consent_id(n),
                subject.as_str(),
                &["marketing"],
                ConsentStatus::Refused,
                ConsentMethod::ChatReply,
                None,
                "whatsapp",
                self.service.as_str(),
                at,
            )
            .unwrap(),
        );
        d.audit_events.push(
            AuditEvent::new(
                at * 1000,
                self.service.clone(),
                "ingest",
                Action::Create,
                "whatsapp",
            )
            .unwrap()
            .subject(subject.clone())
            .category(category)
            .unwrap()
            .record(&record_id(n))
            .unwrap(),
        );
        d.last_inbound = Some(at);
        d
    }
}

/// The plaintext of delivery `n`: `len` bytes derived from `n`.
pub fn plaintext(n: u64, len: usize) -> Vec<u8> {
    let seed = format!("message {n} ");
    seed.bytes().cycle().take(len.max(seed.len())).collect()
}

/// Row counts of every table, read with a raw connection.
pub fn counts(db: &Path) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let tables = [
        "envelopes",
        "keyrings",
        "consent_events",
        "audit_entries",
        "audit_nodes",
        "dedupe_keys",
        "identity_links",
        "outbound_windows",
        "template_categories",
        "legal_holds",
    ];
    tables
        .iter()
        .map(|t| {
            let n: i64 = c
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            ((*t).to_owned(), n)
        })
        .collect()
}

/// Whether delivery `n` is whole (true), absent (false), or half-written
/// (panics).
pub fn whole_or_absent(db: &Path, n: u64) -> bool {
    let c = rusqlite::Connection::open(db).unwrap();
    let one = |sql: &str, v: &dyn rusqlite::ToSql| -> bool {
        c.query_row(sql, [v], |r| r.get::<_, i64>(0)).unwrap() > 0
    };
    let rec = record_id(n);
    let parts = [
        one("SELECT count(*) FROM envelopes WHERE record_id = ?1", &rec),
        one(
            "SELECT count(*) FROM consent_events WHERE event_id = ?1",
            &consent_id(n),
        ),
        one(
            "SELECT count(*) FROM dedupe_keys WHERE key = ?1",
            &dedupe(n).as_bytes().as_slice(),
        ),
        audit_names(&c, &rec),
    ];
    assert!(
        parts.iter().all(|p| *p) || parts.iter().all(|p| !*p),
        "delivery {n} is half-written: {parts:?}"
    );
    parts[0]
}

/// Whether an audit entry names the record.
fn audit_names(c: &rusqlite::Connection, rec: &str) -> bool {
    let mut q = c.prepare("SELECT bytes FROM audit_entries").unwrap();
    let rows = q.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
    for b in rows {
        let e = caduceus_core::audit::AuditEntry::from_bytes(&b.unwrap()).unwrap();
        if e.event.record_id() == Some(rec) {
            return true;
        }
    }
    false
}
