//! # caduceus-store
//!
//! The embedded store of Caduceus (docs/STORE.md): one SQLite database in
//! WAL mode with `synchronous=FULL`, holding what the consent gate
//! ([`caduceus_core::whatsapp::Intake::decide`]) decides to persist:
//! sealed envelopes with their labels as columns, subject-category keyring
//! records, append-only consent events and audit entries (with the Merkle
//! tree's node hashes, so checkpoints and proofs come from the store),
//! dedupe keys, identity links, the outbound window, template categories
//! and legal holds. Media envelopes over [`StoreOptions::media_threshold`]
//! are files in a content-addressed directory next to the database.
//!
//! * [`Store::commit_delivery`]: one `BEGIN IMMEDIATE` transaction per
//!   webhook delivery; a redelivery (same dedupe key) writes nothing.
//! * [`Store::open_record`]: open an envelope on the practice side with a
//!   staff or practice key, through its stored keyring record. The store
//!   never holds a private key.
//! * [`Store::sweep`] (retention, from the label columns, no decryption),
//!   [`Store::erase_subject`] (crypto-shredding), both blocked by legal
//!   holds ([`Store::add_hold`]).
//!
//! ```
//! # fn main() -> Result<(), caduceus_store::StoreError> {
//! let dir = std::env::temp_dir().join(format!("caduceus-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let store = caduceus_store::Store::open(dir.join("practice.db"))?;
//! assert_eq!(store.audit_size()?, 0);
//! assert!(store.verify_audit(&[])?.is_ok());
//! # drop(store); std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```

mod audit;
mod delivery;
mod error;
mod media;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use caduceus_core::audit::merkle::{self, CompactRange, Hash};
use caduceus_core::audit::{
    Action, AuditEvent, Checkpoint, LogVerifier, Outcome, Pseudonym, VerifyReport,
};
use caduceus_core::consent::ConsentEvent;
use caduceus_core::envelope::{self, Labels, Opened};
use caduceus_core::keys::{KeyringRecord, PrivateKey};
use caduceus_core::retention::{
    Anchor, Anchors, Date, ErasurePlan, Hold, HoldScope, Policy, Record, SubjectKey, Verdict,
};
use caduceus_core::whatsapp::{
    Alias, DEDUPE_WINDOW, DedupeKey, IdentityLink, IdentityMap, KeyringSet, OutboundState,
};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

pub use delivery::{Committed, Delivery};
pub use error::StoreError;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

/// Default size above which an envelope is a file, not a row: 64 KiB.
pub const DEFAULT_MEDIA_THRESHOLD: usize = 64 * 1024;
/// Default busy timeout: 5 seconds.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Default audit origin of a new store.
pub const DEFAULT_AUDIT_ORIGIN: &str = "caduceus.local/audit";

/// How a store is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long to wait for another writer before [`StoreError::Busy`].
    pub busy_timeout: Duration,
    /// Envelopes larger than this many bytes are media files.
    pub media_threshold: usize,
    /// The checkpoint origin of the audit log of a NEW store (an existing
    /// store keeps the origin it was created with).
    pub audit_origin: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            media_threshold: DEFAULT_MEDIA_THRESHOLD,
            audit_origin: DEFAULT_AUDIT_ORIGIN.to_owned(),
        }
    }
}

/// Who acts in the audit entries the store writes itself (retention sweep,
/// erasure, opening a record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor's staff pseudonym.
    pub pseudonym: Pseudonym,
    /// The role label, e.g. `retention-service`, `doctor`.
    pub role: String,
    /// The source system label, e.g. `caduceus-store`.
    pub source: String,
}

impl Actor {
    fn event(&self, now: i64, action: Action) -> Result<AuditEvent, StoreError> {
        Ok(AuditEvent::new(
            now.saturating_mul(1000),
            self.pseudonym.clone(),
            &self.role,
            action,
            &self.source,
        )?)
    }
}

/// A stored record's labels and where its envelope is, read without
/// decrypting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record id.
    pub record_id: String,
    /// The envelope's labels (columns).
    pub labels: Labels,
    /// For an edit: the first version's record id.
    pub replaces: Option<String>,
    /// Envelope size in bytes.
    pub size: u64,
    /// Whether the envelope is a media file (else a row).
    pub is_media_file: bool,
}

/// What a legal hold covers, by the store's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    /// Every record and keyring record of a subject pseudonym.
    Subject(String),
    /// Every record of a data category.
    Category(String),
    /// One record, by record id.
    Record(String),
}

/// A legal hold stored in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    /// Its id in the store.
    pub id: i64,
    /// What it covers.
    pub target: HoldTarget,
    /// Why (a case reference label; no health data).
    pub reason: String,
    /// First day in force (`None`: since always).
    pub from: Option<Date>,
    /// First day no longer in force (`None`: until lifted).
    pub until: Option<Date>,
}

/// What a retention sweep did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSummary {
    /// The day swept (Europe/Berlin).
    pub today: Date,
    /// Record ids deleted (rows and media files), each with an audit entry.
    pub deleted: Vec<String>,
    /// Records kept (not yet due).
    pub kept: usize,
    /// Records due but under a legal hold.
    pub held: usize,
    /// Records with a missing anchor, without a rule, or of a category the
    /// policy does not know: nothing done.
    pub unresolved: usize,
}

/// What an erasure shredded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureSummary {
    /// The categories whose keyring records were shredded now.
    pub shredded: Vec<String>,
    /// Categories already shredded before.
    pub already_shredded: Vec<String>,
}

/// An open store. Writers take `&mut self`; open one `Store` per thread or
/// process (SQLite serialises the writers, readers never wait in WAL mode).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    media_dir: PathBuf,
    options: StoreOptions,
}

fn label_ok(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && s.trim() == s
}

fn day_text(d: Option<Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn parse_day(s: Option<String>) -> Result<Option<Date>, StoreError> {
    s.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Damaged("a stored day is not YYYY-MM-DD"))
    })
    .transpose()
}

impl Store {
    /// Open (or create) the store at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    /// Open (or create) the store at `path`: WAL mode,
    /// `synchronous=FULL`, `foreign_keys=ON`, the busy timeout; an empty
    /// database gets the schema; a newer schema is refused
    /// ([`StoreError::NewerSchema`]); media files no row names are removed.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(options.busy_timeout)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Damaged("the database refused WAL mode"));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn, &options.audit_origin)?;
        let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if app != APPLICATION_ID {
            return Err(StoreError::NotAStore);
        }
        let media_dir = media::dir_of(&path);
        let mut store = Self {
            conn,
            path,
            media_dir,
            options,
        };
        match store.sweep_media() {
            Ok(_) | Err(StoreError::Busy) => {}
            Err(e) => return Err(e),
        }
        Ok(store)
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The media directory (`<db>.media`).
    pub fn media_dir(&self) -> &Path {
        &self.media_dir
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::version(&self.conn)
    }

    /// A number that changes whenever ANOTHER connection (another process,
    /// such as `caduceus store erase`) has committed to the database since
    /// this one last looked (SQLite's `PRAGMA data_version`): a host that
    /// caches state read from the store reloads it when this changes.
    /// This connection's own commits do not change it.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    fn immediate(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Remove media files no envelope row names, and temporary files left
    /// by a crash, under the write lock (writers write media files only
    /// while they hold it). Returns the number removed.
    pub fn sweep_media(&mut self) -> Result<usize, StoreError> {
        let dir = self.media_dir.clone();
        let tx = self.immediate()?;
        let (names, mut unused) = media::list(&dir)?;
        {
            let mut q = tx.prepare_cached("SELECT 1 FROM envelopes WHERE media_sha256 = ?1")?;
            for n in names {
                if !q.exists([&n])? {
                    unused.push(n);
                }
            }
        }
        let removed = media::remove(&dir, &unused)?;
        tx.commit()?;
        Ok(removed)
    }

    /// Commit one delivery in one `BEGIN IMMEDIATE` transaction: the
    /// keyring record, identity links, the sealed record (its media file
    /// written and synced first), the consent events, the deletion, the
    /// outbound window, the audit entries and the dedupe mark, all or
    /// nothing. A delivery whose dedupe key is stored returns
    /// [`Committed::Duplicate`] and writes nothing.
    pub fn commit_delivery(&mut self, d: &Delivery) -> Result<Committed, StoreError> {
        let threshold = self.options.media_threshold;
        let dir = self.media_dir.clone();
        let today = Date::from_unix_berlin(d.received_at);
        let tx = self.immediate()?;
        if let Some(key) = &d.dedupe_key
            && tx
                .prepare_cached("SELECT 1 FROM dedupe_keys WHERE key = ?1")?
                .exists([key.as_bytes().as_slice()])?
        {
            return Ok(Committed::Duplicate);
        }
        if let Some(k) = &d.keyring_record {
            put_keyring(&tx, k, d.received_at)?;
        }
        for l in &d.identity_links {
            put_link(&tx, l)?;
        }
        if let Some(r) = &d.record {
            if tx
                .prepare_cached("SELECT 1 FROM envelopes WHERE record_id = ?1")?
                .exists([&r.record_id])?
            {
                return Err(StoreError::RecordExists);
            }
            let size = i64::try_from(r.envelope.len())
                .map_err(|_| StoreError::Damaged("envelope size"))?;
            let (blob, file) = if r.envelope.len() > threshold {
                (None, Some(media::write(&dir, &r.envelope)?))
            } else {
                (Some(r.envelope.as_slice()), None)
            };
            let l = &r.labels;
            tx.prepare_cached(
                "INSERT INTO envelopes (record_id, subject, category, purpose, content_type,
                    created_at, replaces, stored_at, size, blob, media_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                r.record_id,
                l.subject,
                l.category,
                l.purpose,
                l.content_type,
                l.created_at,
                r.replaces,
                d.received_at,
                size,
                blob,
                file
            ])?;
        }
        {
            let mut q = tx.prepare_cached(
                "INSERT INTO consent_events (event_id, subject, time, bytes) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for e in &d.consent_events {
                q.execute(params![e.id, e.subject, e.time, e.to_bytes()?])?;
            }
        }
        let mut deletion_held = false;
        let mut freed = Vec::new();
        if let Some(id) = &d.delete_record
            && let Some((subject, category)) = tx
                .query_row(
                    "SELECT subject, category FROM envelopes WHERE record_id = ?1",
                    [id],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?
        {
            if hold_covering(&tx, &subject, &category, Some(id), today)?.is_some() {
                deletion_held = true;
            } else {
                freed.extend(delete_envelope(&tx, id)?);
            }
        }
        if let (Some(s), Some(t)) = (&d.subject, d.last_inbound) {
            tx.prepare_cached(
                "INSERT INTO outbound_windows (subject, last_inbound) VALUES (?1, ?2)
                 ON CONFLICT (subject) DO UPDATE SET last_inbound = max(last_inbound, excluded.last_inbound)",
            )?
            .execute(params![s.as_str(), t])?;
        }
        if let Some(c) = &d.template_category {
            tx.prepare_cached(
                "INSERT INTO template_categories (name, language, category) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, language) DO UPDATE SET category = excluded.category",
            )?
            .execute(params![c.name, c.language, c.category.to_ascii_uppercase()])?;
        }
        let audit_indexes = audit::append(&tx, &d.audit_events)?;
        if let Some(key) = &d.dedupe_key {
            tx.prepare_cached("INSERT INTO dedupe_keys (key, seen_at) VALUES (?1, ?2)")?
                .execute(params![key.as_bytes().as_slice(), d.received_at])?;
        }
        tx.commit()?;
        self.release_media(&freed)?;
        Ok(Committed::Stored {
            audit_indexes,
            deletion_held,
        })
    }

    /// Remove media files that a committed transaction stopped naming, in a
    /// transaction of its own (no writer can be naming them meanwhile).
    fn release_media(&mut self, names: &[String]) -> Result<(), StoreError> {
        if names.is_empty() {
            return Ok(());
        }
        let dir = self.media_dir.clone();
        let tx = self.immediate()?;
        let mut unused = Vec::new();
        {
            let mut q = tx.prepare_cached("SELECT 1 FROM envelopes WHERE media_sha256 = ?1")?;
            for n in names {
                if !q.exists([n])? {
                    unused.push(n.clone());
                }
            }
        }
        media::remove(&dir, &unused)?;
        tx.commit()?;
        Ok(())
    }

    /// Whether a dedupe key is stored.
    pub fn seen(&self, key: &DedupeKey) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM dedupe_keys WHERE key = ?1")?
            .exists([key.as_bytes().as_slice()])?)
    }

    /// Forget dedupe keys older than [`DEDUPE_WINDOW`] before `now` (the
    /// intake refuses events that old). Returns how many.
    pub fn prune_dedupe(&mut self, now: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM dedupe_keys WHERE seen_at < ?1",
            [now.saturating_sub(DEDUPE_WINDOW)],
        )?)
    }

    /// The labels of a record, without decrypting.
    pub fn record(&self, record_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT record_id, subject, category, purpose, content_type, created_at, replaces,
                    size, media_sha256 IS NOT NULL FROM envelopes WHERE record_id = ?1",
                [record_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, bool>(8)?,
                    ))
                },
            )
            .optional()?
            .map(|(id, s, c, p, t, at, replaces, size, file)| {
                Ok(StoredRecord {
                    record_id: id,
                    labels: Labels {
                        subject: s,
                        category: c,
                        purpose: p,
                        content_type: t,
                        created_at: at,
                    },
                    replaces,
                    size: u64::try_from(size).map_err(|_| StoreError::Damaged("record size"))?,
                    is_media_file: file,
                })
            })
            .transpose()
    }

    /// Record ids of a subject, oldest first.
    pub fn records_of(&self, subject: &str) -> Result<Vec<String>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached("SELECT record_id FROM envelopes WHERE subject = ?1 ORDER BY id")?;
        let rows = q.query_map([subject], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every record id, oldest first.
    pub fn record_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached("SELECT record_id FROM envelopes ORDER BY id")?;
        let rows = q.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of stored records.
    pub fn record_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM envelopes", [], |r| r.get(0))?;
        u64::try_from(n).map_err(|_| StoreError::Damaged("record count"))
    }

    /// The envelope bytes of a record (from its row or its media file,
    /// checked against its SHA-256 name).
    pub fn envelope(&self, record_id: &str) -> Result<Vec<u8>, StoreError> {
        let (blob, file): (Option<Vec<u8>>, Option<String>) = self
            .conn
            .query_row(
                "SELECT blob, media_sha256 FROM envelopes WHERE record_id = ?1",
                [record_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(StoreError::RecordNotFound)?;
        match (blob, file) {
            (Some(b), None) => Ok(b),
            (None, Some(name)) => media::read(&self.media_dir, &name),
            _ => Err(StoreError::Damaged(
                "an envelope row has both or neither blob and file",
            )),
        }
    }

    /// Open a record on the practice side: the envelope and its
    /// subject-category keyring record from the store, unwrapped with
    /// `identity` (a staff or practice key the caller holds).
    /// [`StoreError::KeyShredded`] after an erasure,
    /// [`StoreError::NoAccess`] for a key without a wrap.
    pub fn open_record(
        &self,
        record_id: &str,
        identity: &PrivateKey,
    ) -> Result<Opened, StoreError> {
        let rec = self.record(record_id)?.ok_or(StoreError::RecordNotFound)?;
        let keyring = self
            .keyring(&rec.labels.subject, &rec.labels.category)?
            .ok_or(StoreError::KeyringMissing)?;
        let bytes = self.envelope(record_id)?;
        Ok(envelope::open_with_keyring(&bytes, &keyring, identity)?)
    }

    /// Open a record as [`Store::open_record`] does, with an audit entry:
    /// a `read` by `actor` (the record's subject, category and id, outcome
    /// success) is committed before the plaintext is returned, so no read
    /// goes unlogged; a refused open (no access, shredded key, damaged
    /// envelope) is committed as a `read` with outcome denied or failed,
    /// and its error returned. If the entry cannot be committed, the open
    /// fails and no plaintext is returned.
    pub fn open_record_audited(
        &mut self,
        record_id: &str,
        identity: &PrivateKey,
        actor: &Actor,
        now: i64,
    ) -> Result<Opened, StoreError> {
        let rec = self.record(record_id)?.ok_or(StoreError::RecordNotFound)?;
        let opened = self.open_record(record_id, identity);
        let outcome = match &opened {
            Ok(_) => Outcome::Success,
            Err(StoreError::NoAccess) => Outcome::Denied("no-access".into()),
            Err(StoreError::KeyShredded) => Outcome::Denied("key-shredded".into()),
            Err(_) => Outcome::Failed("open-failed".into()),
        };
        let mut e = actor
            .event(now, Action::Read)?
            .category(&rec.labels.category)?
            .record(record_id)?
            .outcome(outcome)?;
        if let Ok(p) = Pseudonym::parse(&rec.labels.subject) {
            e = e.subject(p);
        }
        let tx = self.immediate()?;
        audit::append(&tx, &[e])?;
        tx.commit()?;
        opened
    }

    /// Set an anchor date of a record (e.g. the end of treatment) for the
    /// retention sweep. The creation anchor is the `created_at` label.
    pub fn set_anchor(
        &mut self,
        record_id: &str,
        anchor: Anchor,
        day: Date,
    ) -> Result<(), StoreError> {
        if self.record(record_id)?.is_none() {
            return Err(StoreError::RecordNotFound);
        }
        self.conn.execute(
            "INSERT INTO record_anchors (record_id, anchor, day) VALUES (?1, ?2, ?3)
             ON CONFLICT (record_id, anchor) DO UPDATE SET day = excluded.day",
            params![record_id, anchor.name(), day.to_string()],
        )?;
        Ok(())
    }

    /// The keyring record of (subject, category).
    pub fn keyring(
        &self,
        subject: &str,
        category: &str,
    ) -> Result<Option<KeyringRecord>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT record FROM keyrings WHERE subject = ?1 AND category = ?2",
                [subject, category],
                |r| r.get(0),
            )
            .optional()?;
        bytes
            .map(|b| Ok(KeyringRecord::from_bytes(&b)?))
            .transpose()
    }

    /// Every keyring record, for [`caduceus_core::whatsapp::Intake::decide`].
    pub fn keyrings(&self) -> Result<KeyringSet, StoreError> {
        let mut set = KeyringSet::new();
        let mut q = self.conn.prepare("SELECT record FROM keyrings")?;
        let rows = q.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        for b in rows {
            set.insert(KeyringRecord::from_bytes(&b?)?);
        }
        Ok(set)
    }

    /// The identity map (alias hashes to subject pseudonyms).
    pub fn identity_map(&self) -> Result<IdentityMap, StoreError> {
        let mut map = IdentityMap::new();
        let mut q = self
            .conn
            .prepare("SELECT alias, subject FROM identity_links")?;
        let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (a, s) = row?;
            let alias = Alias::from_hex(&a).ok_or(StoreError::Damaged("identity alias"))?;
            let subject =
                Pseudonym::parse(&s).map_err(|_| StoreError::Damaged("identity subject"))?;
            map.insert(IdentityLink { alias, subject });
        }
        Ok(map)
    }

    /// The outbound gate's state: windows and template categories.
    pub fn outbound_state(&self) -> Result<OutboundState, StoreError> {
        let mut s = OutboundState::new();
        let mut q = self
            .conn
            .prepare("SELECT subject, last_inbound FROM outbound_windows")?;
        for row in q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (subject, t) = row?;
            s.record_inbound(&subject, t);
        }
        let mut q = self
            .conn
            .prepare("SELECT name, language, category FROM template_categories")?;
        for row in q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })? {
            let (n, l, c) = row?;
            s.set_template_category(&n, &l, &c);
        }
        Ok(s)
    }

    /// Every consent event in commit order, to rebuild a
    /// [`caduceus_core::consent::Ledger`] (append them in this order).
    pub fn consent_events(&self) -> Result<Vec<ConsentEvent>, StoreError> {
        let mut q = self
            .conn
            .prepare("SELECT bytes FROM consent_events ORDER BY seq")?;
        let rows = q.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for b in rows {
            out.push(ConsentEvent::from_bytes(&b?)?);
        }
        Ok(out)
    }

    /// Number of audit entries.
    pub fn audit_size(&self) -> Result<u64, StoreError> {
        audit::size(&self.conn)
    }

    /// The bytes of audit entries `from..to` (leaf indexes).
    pub fn audit_entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let (f, t) = (
            i64::try_from(from).unwrap_or(i64::MAX),
            i64::try_from(to).unwrap_or(i64::MAX),
        );
        let mut q = self
            .conn
            .prepare("SELECT bytes FROM audit_entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq")?;
        let rows = q.query_map([f, t], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The (unsigned) checkpoint of the stored log, from the stored tree
    /// hashes; sign it with [`caduceus_core::audit::Checkpoint::sign`].
    pub fn audit_checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let origin = audit::origin(&self.conn)?;
        let size = audit::size(&self.conn)?;
        let edge = CompactRange::from_source(&audit::Nodes(&self.conn), size)?;
        Ok(Checkpoint::new(&origin, size, edge.root())?)
    }

    /// Keep a signed checkpoint (append-only, one per tree size): `cp` is
    /// the checkpoint `signed` was opened to ([`Checkpoint::open`]).
    pub fn save_checkpoint(&mut self, cp: &Checkpoint, signed: &str) -> Result<(), StoreError> {
        let size = i64::try_from(cp.size).map_err(|_| StoreError::Damaged("checkpoint size"))?;
        self.conn.execute(
            "INSERT INTO audit_checkpoints (size, signed) VALUES (?1, ?2)
             ON CONFLICT (size) DO NOTHING",
            params![size, signed],
        )?;
        Ok(())
    }

    /// The signed checkpoints kept, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<String>, StoreError> {
        let mut q = self
            .conn
            .prepare("SELECT signed FROM audit_checkpoints ORDER BY size")?;
        let rows = q.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries,
    /// from the stored hashes.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        let stored = audit::size(&self.conn)?;
        if size > stored {
            return Err(caduceus_core::audit::AuditError::SizeOutOfRange {
                size,
                tree_size: stored,
            }
            .into());
        }
        Ok(merkle::inclusion_proof(
            &audit::Nodes(&self.conn),
            index,
            size,
        )?)
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        let stored = audit::size(&self.conn)?;
        if new > stored {
            return Err(caduceus_core::audit::AuditError::SizeOutOfRange {
                size: new,
                tree_size: stored,
            }
            .into());
        }
        Ok(merkle::consistency_proof(
            &audit::Nodes(&self.conn),
            old,
            new,
        )?)
    }

    /// Verify the stored log: every entry, the chain, the `checkpoints`
    /// (already signature-verified), and that the stored tree hashes give
    /// the same tree as the entries ([`StoreError::Damaged`] if not).
    pub fn verify_audit(&self, checkpoints: &[Checkpoint]) -> Result<VerifyReport, StoreError> {
        let mut v = LogVerifier::new(checkpoints);
        let mut q = self
            .conn
            .prepare("SELECT bytes FROM audit_entries ORDER BY seq")?;
        let mut rows = q.query([])?;
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            if v.push(&bytes).is_err() {
                break;
            }
        }
        let edge = v.edge().clone();
        let report = v.finish();
        if report.is_ok() {
            let stored = CompactRange::from_source(&audit::Nodes(&self.conn), edge.size())
                .map_err(|_| StoreError::Damaged("the stored audit tree hashes are incomplete"))?;
            if stored != edge || audit::size(&self.conn)? != edge.size() {
                return Err(StoreError::Damaged(
                    "the stored audit tree hashes do not match the entries",
                ));
            }
        }
        Ok(report)
    }

    /// Add a legal hold; returns its id.
    pub fn add_hold(
        &mut self,
        target: &HoldTarget,
        reason: &str,
        from: Option<Date>,
        until: Option<Date>,
    ) -> Result<i64, StoreError> {
        if !label_ok(reason) {
            return Err(StoreError::InvalidLabel("hold reason"));
        }
        let (scope, value) = match target {
            HoldTarget::Subject(s) => ("subject", s),
            HoldTarget::Category(c) => ("category", c),
            HoldTarget::Record(r) => ("record", r),
        };
        if !label_ok(value) {
            return Err(StoreError::InvalidLabel("hold target"));
        }
        self.conn.execute(
            "INSERT INTO legal_holds (scope, target, reason, from_day, until_day)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![scope, value, reason, day_text(from), day_text(until)],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Lift a hold from `day` on (it stays stored, ending that day).
    pub fn lift_hold(&mut self, id: i64, day: Date) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE legal_holds SET until_day = ?2 WHERE id = ?1",
            params![id, day.to_string()],
        )? == 1)
    }

    /// Every stored hold.
    pub fn holds(&self) -> Result<Vec<LegalHold>, StoreError> {
        load_holds(&self.conn)
    }

    /// The retention sweep for `now` (Unix seconds; the day in
    /// Europe/Berlin): every record is evaluated from its label columns
    /// and anchors, without decrypting; those with an erasing action due
    /// and no hold are deleted (rows and media files) in one transaction
    /// with one `delete` audit entry each by `actor`.
    pub fn sweep(
        &mut self,
        now: i64,
        policy: &Policy,
        actor: &Actor,
    ) -> Result<SweepSummary, StoreError> {
        let today = Date::from_unix_berlin(now);
        let tx = self.immediate()?;
        let holds = load_holds(&tx)?;
        let (records, names, unknown) = load_records(&tx, policy, None)?;
        let core_holds = to_core_holds(&tx, policy, &holds)?;
        let report = policy.sweep(&records, today, &core_holds);
        let mut summary = SweepSummary {
            today,
            deleted: Vec::new(),
            kept: 0,
            held: 0,
            unresolved: unknown,
        };
        let mut events = Vec::new();
        let mut freed = Vec::new();
        for (o, (record_id, subject, category)) in report.outcomes.iter().zip(&names) {
            match o.verdict {
                v if v.erases() => {
                    freed.extend(delete_envelope(&tx, record_id)?);
                    let mut e = actor
                        .event(now, Action::Delete)?
                        .category(category)?
                        .record(record_id)?
                        .correlation("retention-sweep")?;
                    if let Ok(p) = Pseudonym::parse(subject) {
                        e = e.subject(p);
                    }
                    events.push(e);
                    summary.deleted.push(record_id.clone());
                }
                Verdict::Held { .. } => summary.held += 1,
                Verdict::Keep { .. } | Verdict::Due { .. } => summary.kept += 1,
                _ => summary.unresolved += 1,
            }
        }
        audit::append(&tx, &events)?;
        tx.commit()?;
        self.release_media(&freed)?;
        Ok(summary)
    }

    /// Plan an Art. 17 erasure of `subject` requested at `received_at`,
    /// per category, from the stored records' labels and the legal holds
    /// (nothing is decrypted or changed): which categories can be shredded
    /// now, and which records are kept under an Art. 17(3) ground until
    /// when ([`Policy::plan_erasure`]). Carry it out with
    /// [`Store::erase_subject`] for the categories whose
    /// [`caduceus_core::retention::CategoryErasure::shred_key`] is set.
    pub fn plan_erasure(
        &self,
        subject: &str,
        received_at: i64,
        policy: &Policy,
    ) -> Result<ErasurePlan, StoreError> {
        let holds = load_holds(&self.conn)?;
        let (records, _, _) = load_records(&self.conn, policy, Some(subject))?;
        let core_holds = to_core_holds(&self.conn, policy, &holds)?;
        policy
            .plan_erasure(subject, received_at, &records, &core_holds)
            .map_err(|e| StoreError::Plan(e.to_string()))
    }

    /// Art. 17 erasure: shred the subject's keyring records of
    /// `categories` (all of its categories when empty), with one `shred`
    /// audit entry per category and one `erasure-completed`, in one
    /// transaction. A legal hold in force on the subject, a category or
    /// one of its records refuses the whole erasure
    /// ([`StoreError::LegalHold`]) and nothing changes.
    pub fn erase_subject(
        &mut self,
        subject: &str,
        categories: &[&str],
        now: i64,
        actor: &Actor,
    ) -> Result<ErasureSummary, StoreError> {
        let today = Date::from_unix_berlin(now);
        let pseudonym = Pseudonym::parse(subject).ok();
        let tx = self.immediate()?;
        let mut rows: Vec<(String, Vec<u8>, bool)> = Vec::new();
        {
            let mut q = tx.prepare(
                "SELECT category, record, shredded FROM keyrings WHERE subject = ?1 ORDER BY category",
            )?;
            for row in q.query_map([subject], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
                let row: (String, Vec<u8>, bool) = row?;
                if categories.is_empty() || categories.contains(&row.0.as_str()) {
                    rows.push(row);
                }
            }
        }
        for (category, _, _) in &rows {
            if let Some(hold) = hold_covering(&tx, subject, category, None, today)? {
                return Err(StoreError::LegalHold { hold });
            }
        }
        let mut summary = ErasureSummary {
            shredded: Vec::new(),
            already_shredded: Vec::new(),
        };
        let mut events = Vec::new();
        for (category, bytes, shredded) in rows {
            if shredded {
                summary.already_shredded.push(category);
                continue;
            }
            let record = KeyringRecord::from_bytes(&bytes)?.shred(now);
            tx.execute(
                "UPDATE keyrings SET record = ?3, shredded = 1, updated_at = ?4
                 WHERE subject = ?1 AND category = ?2",
                params![subject, category, record.to_bytes(), now],
            )?;
            let mut e = actor
                .event(now, Action::Shred)?
                .category(&category)?
                .correlation("erasure")?;
            if let Some(p) = &pseudonym {
                e = e.subject(p.clone());
            }
            events.push(e);
            summary.shredded.push(category);
        }
        if !summary.shredded.is_empty() {
            let mut e = actor
                .event(now, Action::ErasureCompleted)?
                .correlation("erasure")?;
            if let Some(p) = &pseudonym {
                e = e.subject(p.clone());
            }
            events.push(e);
        }
        audit::append(&tx, &events)?;
        tx.commit()?;
        Ok(summary)
    }
}

/// Records (as the retention engine sees them: category, anchors) of every
/// envelope, or of one subject's, with (record id, subject, category) of
/// each and the number whose category the policy does not know.
#[allow(clippy::type_complexity)]
fn load_records(
    tx: &rusqlite::Connection,
    policy: &Policy,
    subject: Option<&str>,
) -> Result<(Vec<Record>, Vec<(String, String, String)>, usize), StoreError> {
    let mut records = Vec::new();
    let mut names = Vec::new();
    let mut unknown = 0usize;
    let mut q = tx.prepare(
        "SELECT id, record_id, subject, category, created_at FROM envelopes
         WHERE ?1 IS NULL OR subject = ?1 ORDER BY id",
    )?;
    let mut anchors_q =
        tx.prepare_cached("SELECT anchor, day FROM record_anchors WHERE record_id = ?1")?;
    let mut rows = q.query([subject])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let record_id: String = row.get(1)?;
        let subject: String = row.get(2)?;
        let category: String = row.get(3)?;
        let created: i64 = row.get(4)?;
        let Some(cat) = policy.category_id(&category) else {
            unknown += 1;
            continue;
        };
        let mut anchors = Anchors::created(Date::from_unix_berlin(created));
        let mut a = anchors_q.query([&record_id])?;
        while let Some(r) = a.next()? {
            let name: String = r.get(0)?;
            let day: String = r.get(1)?;
            if let (Some(anchor), Ok(day)) = (Anchor::from_name(&name), day.parse()) {
                anchors.set(anchor, Some(day));
            }
        }
        records.push(Record {
            id: u64::try_from(id).map_err(|_| StoreError::Damaged("row id"))?,
            subject: SubjectKey::of(&subject),
            category: cat,
            anchors,
        });
        names.push((record_id, subject, category));
    }
    Ok((records, names, unknown))
}

/// The store's legal holds as the retention engine's holds.
fn to_core_holds(
    tx: &rusqlite::Connection,
    policy: &Policy,
    holds: &[LegalHold],
) -> Result<Vec<Hold>, StoreError> {
    let mut core_holds = Vec::new();
    for h in holds {
        let scope = match &h.target {
            HoldTarget::Subject(s) => Some(HoldScope::Subject(SubjectKey::of(s))),
            HoldTarget::Category(c) => policy.category_id(c).map(HoldScope::Category),
            HoldTarget::Record(r) => tx
                .query_row(
                    "SELECT id FROM envelopes WHERE record_id = ?1",
                    [r],
                    |row| row.get::<_, i64>(0),
                )
                .optional()?
                .and_then(|id| u64::try_from(id).ok())
                .map(HoldScope::Record),
        };
        if let Some(scope) = scope {
            core_holds.push(Hold {
                scope,
                reason: h.reason.clone(),
                from: h.from,
                until: h.until,
            });
        }
    }
    Ok(core_holds)
}

/// Insert a keyring record, or accept the same one again; another record
/// for the same (subject, category) is a conflict.
fn put_keyring(tx: &Transaction<'_>, k: &KeyringRecord, now: i64) -> Result<(), StoreError> {
    let bytes = k.to_bytes();
    let existing: Option<Vec<u8>> = tx
        .prepare_cached("SELECT record FROM keyrings WHERE subject = ?1 AND category = ?2")?
        .query_row([k.subject(), k.category()], |r| r.get(0))
        .optional()?;
    match existing {
        Some(e) if e == bytes => Ok(()),
        Some(_) => Err(StoreError::KeyringConflict),
        None => {
            tx.prepare_cached(
                "INSERT INTO keyrings (subject, category, record, shredded, updated_at)
                 VALUES (?1, ?2, ?3, 0, ?4)",
            )?
            .execute(params![k.subject(), k.category(), bytes, now])?;
            Ok(())
        }
    }
}

fn put_link(tx: &Transaction<'_>, l: &IdentityLink) -> Result<(), StoreError> {
    let alias = l.alias.to_hex();
    let existing: Option<String> = tx
        .prepare_cached("SELECT subject FROM identity_links WHERE alias = ?1")?
        .query_row([&alias], |r| r.get(0))
        .optional()?;
    match existing {
        Some(s) if s == l.subject.as_str() => Ok(()),
        Some(_) => Err(StoreError::IdentityConflict),
        None => {
            tx.prepare_cached("INSERT INTO identity_links (alias, subject) VALUES (?1, ?2)")?
                .execute(params![alias, l.subject.as_str()])?;
            Ok(())
        }
    }
}

/// Delete an envelope row; returns the media file it named, if any.
fn delete_envelope(tx: &Transaction<'_>, record_id: &str) -> Result<Option<String>, StoreError> {
    let file: Option<Option<String>> = tx
        .prepare_cached("DELETE FROM envelopes WHERE record_id = ?1 RETURNING media_sha256")?
        .query_row([record_id], |r| r.get(0))
        .optional()?;
    Ok(file.flatten())
}

/// The id of a hold in force on `day` covering the subject, the category
/// or (when given) the record, or any record of that subject and category.
fn hold_covering(
    conn: &Connection,
    subject: &str,
    category: &str,
    record: Option<&str>,
    day: Date,
) -> Result<Option<i64>, StoreError> {
    let day = day.to_string();
    Ok(conn
        .prepare_cached(
            "SELECT id FROM legal_holds
             WHERE (from_day IS NULL OR from_day <= ?4) AND (until_day IS NULL OR ?4 < until_day)
               AND ((scope = 'subject' AND target = ?1)
                 OR (scope = 'category' AND target = ?2)
                 OR (scope = 'record' AND (target = ?3 OR (?3 IS NULL AND target IN
                      (SELECT record_id FROM envelopes WHERE subject = ?1 AND category = ?2)))))
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![subject, category, record, day], |r| r.get(0))
        .optional()?)
}

fn load_holds(conn: &Connection) -> Result<Vec<LegalHold>, StoreError> {
    let mut q = conn.prepare(
        "SELECT id, scope, target, reason, from_day, until_day FROM legal_holds ORDER BY id",
    )?;
    let rows = q.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, scope, target, reason, from, until) = row?;
        let target = match scope.as_str() {
            "subject" => HoldTarget::Subject(target),
            "category" => HoldTarget::Category(target),
            "record" => HoldTarget::Record(target),
            _ => return Err(StoreError::Damaged("hold scope")),
        };
        out.push(LegalHold {
            id,
            target,
            reason,
            from: parse_day(from)?,
            until: parse_day(until)?,
        });
    }
    Ok(out)
}
