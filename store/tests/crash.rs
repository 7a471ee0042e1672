//! Crash safety: a child process commits deliveries in a loop and is
//! killed with SIGKILL at random points, 20 times; after each kill the
//! store reopens, every acknowledged delivery is whole, no delivery is
//! half-written, every media file a row names is there and intact, and
//! the audit log verifies.
//!
//! One binary (no libtest harness): with `CADUCEUS_STORE_CRASH_DB` set it
//! is the writer child, else the parent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use caduceus_store::{Committed, Store};
use common::{Fixture, TempDir, record_id, whole_or_absent};

const ENV_DB: &str = "CADUCEUS_STORE_CRASH_DB";
const ENV_RUN: &str = "CADUCEUS_STORE_CRASH_RUN";
const KILLS: u64 = 20;
const PER_RUN: u64 = 100_000;

fn main() {
    if let Ok(db) = std::env::var(ENV_DB) {
        child(&db, std::env::var(ENV_RUN).unwrap().parse().unwrap());
        return;
    }
    parent();
}

/// Commit deliveries `run * PER_RUN + i` for ever; print each number once
/// its commit returned.
fn child(db: &str, run: u64) {
    let mut fx = Fixture::new();
    let subject = fx.subject(&format!("patient-{run}"));
    let mut store = Store::open(db).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        let n = run * PER_RUN + i;
        // Every third delivery carries a media-sized envelope (a file).
        let len = if i % 3 == 2 { 70_000 } else { 200 };
        let category = if len > 1000 {
            "clinical-photos"
        } else {
            "chat-messages"
        };
        let d = fx.delivery(n, &subject, category, len);
        assert!(matches!(
            store.commit_delivery(&d).unwrap(),
            Committed::Stored { .. }
        ));
        writeln!(out, "{n}").unwrap();
        out.flush().unwrap();
    }
}

fn random_ms(lo: u64, hi: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    lo + u64::from_le_bytes(b) % (hi - lo)
}

fn parent() {
    let dir = TempDir::new("crash");
    drop(Store::open(dir.db()).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut acked_total = 0u64;
    let mut present_total = 0u64;
    for run in 0..KILLS {
        let mut child = Command::new(&exe)
            .env(ENV_DB, dir.db())
            .env(ENV_RUN, run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .map(|l| l.parse::<u64>().unwrap())
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(random_ms(30, 400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        acked_total += acked.len() as u64;

        let store = Store::open(dir.db()).unwrap();
        for &n in &acked {
            assert!(
                whole_or_absent(&dir.db(), n),
                "acknowledged delivery {n} is missing"
            );
        }
        // The one in flight at the kill is whole or absent; none after it.
        let next = acked.last().map_or(run * PER_RUN, |n| n + 1);
        let in_flight = whole_or_absent(&dir.db(), next);
        assert!(!whole_or_absent(&dir.db(), next + 1));
        let present = acked.len() as u64 + u64::from(in_flight);
        present_total += present;
        assert_eq!(store.record_count().unwrap(), present_total);
        assert_eq!(store.audit_size().unwrap(), present_total);
        for n in run * PER_RUN..run * PER_RUN + present {
            let bytes = store.envelope(&record_id(n)).unwrap();
            assert!(!bytes.is_empty());
        }
        let report = store.verify_audit(&[]).unwrap();
        assert!(report.is_ok(), "run {run}: {report:?}");
        // Media files: exactly those the rows name (orphans were swept).
        let files = std::fs::read_dir(store.media_dir()).map_or(0, |d| d.count());
        let raw = rusqlite::Connection::open(dir.db()).unwrap();
        let named: i64 = raw
            .query_row(
                "SELECT count(DISTINCT media_sha256) FROM envelopes WHERE media_sha256 IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(files as i64, named, "run {run}");
    }
    assert!(
        acked_total > 0,
        "no delivery was acknowledged in {KILLS} runs"
    );
    println!(
        "crash: {KILLS} SIGKILLs, {acked_total} acknowledged deliveries, {present_total} stored, all whole; audit log verifies"
    );
}
