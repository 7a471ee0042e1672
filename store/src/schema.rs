//! The schema and its migrations (docs/STORE.md, "Schema version and
//! migrations").

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::StoreError;

/// The schema version this library writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a Caduceus store ("CDST").
pub const APPLICATION_ID: i64 = 0x4344_5354;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1];

/// Version 1: every table of docs/STORE.md.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE envelopes (
    id            INTEGER PRIMARY KEY,
    record_id     TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    category      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    replaces      TEXT,
    stored_at     INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    blob          BLOB,
    media_sha256  TEXT,
    CHECK ((blob IS NULL) <> (media_sha256 IS NULL))
) STRICT;
CREATE INDEX envelopes_subject ON envelopes (subject, category);
CREATE INDEX envelopes_media ON envelopes (media_sha256) WHERE media_sha256 IS NOT NULL;

CREATE TABLE record_anchors (
    record_id TEXT NOT NULL REFERENCES envelopes (record_id) ON DELETE CASCADE,
    anchor    TEXT NOT NULL,
    day       TEXT NOT NULL,
    PRIMARY KEY (record_id, anchor)
) STRICT;

CREATE TABLE keyrings (
    subject    TEXT NOT NULL,
    category   TEXT NOT NULL,
    record     BLOB NOT NULL,
    shredded   INTEGER NOT NULL DEFAULT 0 CHECK (shredded IN (0, 1)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (subject, category)
) STRICT;
CREATE TRIGGER keyrings_no_unshred BEFORE UPDATE ON keyrings
    WHEN OLD.shredded = 1
    BEGIN SELECT RAISE(ABORT, 'a shredded keyring record cannot be changed'); END;
CREATE TRIGGER keyrings_no_delete BEFORE DELETE ON keyrings
    BEGIN SELECT RAISE(ABORT, 'keyring records are shredded, never deleted'); END;

CREATE TABLE consent_events (
    seq      INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    subject  TEXT NOT NULL,
    time     INTEGER NOT NULL,
    bytes    BLOB NOT NULL
) STRICT;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
    BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;

CREATE TABLE audit_entries (
    seq       INTEGER PRIMARY KEY,
    bytes     BLOB NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_entries_in_order BEFORE INSERT ON audit_entries
    WHEN NEW.seq <> (SELECT count(*) FROM audit_entries)
    BEGIN SELECT RAISE(ABORT, 'audit entries are appended in sequence order'); END;

CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
    BEGIN SELECT RAISE(ABORT, 'audit tree hashes are append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
    BEGIN SELECT RAISE(ABORT, 'audit tree hashes are append-only'); END;

CREATE TABLE audit_checkpoints (
    size   INTEGER PRIMARY KEY,
    signed TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;

CREATE TABLE dedupe_keys (
    key     BLOB PRIMARY KEY CHECK (length(key) = 32),
    seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX dedupe_keys_seen ON dedupe_keys (seen_at);

CREATE TABLE identity_links (
    alias   TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE outbound_windows (
    subject      TEXT PRIMARY KEY NOT NULL,
    last_inbound INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE template_categories (
    name     TEXT NOT NULL,
    language TEXT NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (name, language)
) STRICT, WITHOUT ROWID;

CREATE TABLE legal_holds (
    id        INTEGER PRIMARY KEY,
    scope     TEXT NOT NULL CHECK (scope IN ('subject', 'category', 'record')),
    target    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    from_day  TEXT,
    until_day TEXT
) STRICT;
"#;

/// The schema version of a database: 0 when it has no `meta` table (a new,
/// empty database).
pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(StoreError::NotAStore);
        }
        return Ok(0);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    v.and_then(|v| v.parse().ok()).ok_or(StoreError::NotAStore)
}

/// Bring the database to [`SCHEMA_VERSION`], in one `BEGIN IMMEDIATE`
/// transaction: an empty database gets the whole schema; a newer schema is
/// refused untouched.
pub(crate) fn migrate(conn: &mut Connection, audit_origin: &str) -> Result<(), StoreError> {
    if version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let from = version(&tx)?;
    if from > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: from,
            supported: SCHEMA_VERSION,
        });
    }
    if from == SCHEMA_VERSION {
        return Ok(());
    }
    for step in MIGRATIONS
        .iter()
        .skip(usize::try_from(from).unwrap_or(usize::MAX))
    {
        tx.execute_batch(step)?;
    }
    if from == 0 {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('audit_origin', ?1)",
            [audit_origin],
        )?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}
