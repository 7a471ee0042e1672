//! Schema version, migration from an empty database, reopen, refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use caduceus_store::{APPLICATION_ID, SCHEMA_VERSION, Store, StoreError};
use common::{Fixture, TempDir, counts};

#[test]
fn migration_from_an_empty_database_creates_every_table_and_reopens() {
    let dir = TempDir::new("migrate");
    // An empty SQLite file, as another tool would leave it.
    rusqlite::Connection::open(dir.db()).unwrap();
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    {
        let mut store = Store::open(dir.db()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store
            .commit_delivery(&fx.delivery(1, &subject, "chat-messages", 40))
            .unwrap();
    }
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app: i64 = raw
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
    let version: String = raw
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_string());
    drop(raw);
    let before = counts(&dir.db());
    assert!(before.iter().any(|(t, n)| t == "envelopes" && *n == 1));
    // Reopening migrates nothing and keeps everything.
    let store = Store::open(dir.db()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(counts(&dir.db()), before);
    let opened = store
        .open_record(&common::record_id(1), &fx.doctor)
        .unwrap();
    assert_eq!(opened.plaintext, common::plaintext(1, 40));
}

#[test]
fn a_newer_schema_version_is_refused_untouched() {
    let dir = TempDir::new("newer");
    drop(Store::open(dir.db()).unwrap());
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [(SCHEMA_VERSION + 1).to_string()],
    )
    .unwrap();
    drop(raw);
    let before = std::fs::read(dir.db()).unwrap();
    match Store::open(dir.db()) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    let v: String = raw
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, (SCHEMA_VERSION + 1).to_string());
    drop(raw);
    assert_eq!(std::fs::read(dir.db()).unwrap().len(), before.len());
}

#[test]
fn a_foreign_database_is_not_a_store() {
    let dir = TempDir::new("foreign");
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute_batch("CREATE TABLE patients (name TEXT);")
        .unwrap();
    drop(raw);
    assert!(matches!(Store::open(dir.db()), Err(StoreError::NotAStore)));
}

#[test]
fn a_held_write_lock_gives_a_busy_error_within_the_timeout() {
    let dir = TempDir::new("busy");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-b");
    let options = caduceus_store::StoreOptions {
        busy_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let mut store = Store::open_with(dir.db(), options).unwrap();
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let r = store.commit_delivery(&fx.delivery(2, &subject, "chat-messages", 10));
    assert!(matches!(r, Err(StoreError::Busy)), "{r:?}");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(150),
        "{waited:?}"
    );
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
    raw.execute_batch("ROLLBACK").unwrap();
    assert!(
        store
            .commit_delivery(&fx.delivery(2, &subject, "chat-messages", 10))
            .is_ok()
    );
}
