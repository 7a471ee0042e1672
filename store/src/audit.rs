//! The audit log in the store: entry bytes, the Merkle tree's node hashes
//! (every complete subtree, so proofs need no rehashing) and checkpoints.

use caduceus_core::audit::merkle::{self, CompactRange, Hash, HashSource};
use caduceus_core::audit::{AuditEvent, AuditLog};
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// Node hashes read from the `audit_nodes` table.
pub(crate) struct Nodes<'c>(pub &'c Connection);

impl HashSource for Nodes<'_> {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        let idx = i64::try_from(index).ok()?;
        let blob: Vec<u8> = self
            .0
            .query_row(
                "SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2",
                params![level, idx],
                |r| r.get(0),
            )
            .ok()?;
        blob.try_into().ok()
    }
}

/// Number of entries.
pub(crate) fn size(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM audit_entries", [], |r| r.get(0))?;
    u64::try_from(n).map_err(|_| StoreError::Damaged("negative audit size"))
}

/// The origin recorded when the store was created.
pub(crate) fn origin(conn: &Connection) -> Result<String, StoreError> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'audit_origin'",
        [],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(StoreError::Damaged("no audit origin"))
}

/// The log's writer state, resumed from the stored tree edge and the last
/// entry (O(log n) reads).
pub(crate) fn resume(conn: &Connection) -> Result<AuditLog, StoreError> {
    let origin = origin(conn)?;
    let n = size(conn)?;
    let edge = CompactRange::from_source(&Nodes(conn), n)?;
    let last: Option<Vec<u8>> = match n.checked_sub(1) {
        None => None,
        Some(last) => Some(conn.query_row(
            "SELECT bytes FROM audit_entries WHERE seq = ?1",
            [i64::try_from(last).map_err(|_| StoreError::Damaged("audit size"))?],
            |r| r.get(0),
        )?),
    };
    Ok(AuditLog::resume(&origin, edge, last.as_deref(), None)?)
}

/// Append events inside the caller's transaction: entries, then every
/// subtree hash each leaf completes.
pub(crate) fn append(conn: &Connection, events: &[AuditEvent]) -> Result<Vec<u64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut log = resume(conn)?;
    let mut entry = conn
        .prepare_cached("INSERT INTO audit_entries (seq, bytes, leaf_hash) VALUES (?1, ?2, ?3)")?;
    let mut node =
        conn.prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    let mut get =
        conn.prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let appended = log.append(e)?;
        let seq = i64::try_from(appended.index).map_err(|_| StoreError::Damaged("audit size"))?;
        entry.execute(params![seq, appended.bytes, appended.leaf_hash.as_slice()])?;
        let (mut level, mut idx, mut hash) = (0u32, seq, appended.leaf_hash);
        loop {
            node.execute(params![level, idx, hash.as_slice()])?;
            if idx % 2 == 0 {
                break;
            }
            let left: Vec<u8> = get.query_row(params![level, idx - 1], |r| r.get(0))?;
            let left: Hash = left
                .try_into()
                .map_err(|_| StoreError::Damaged("audit node hash"))?;
            hash = merkle::node_hash(&left, &hash);
            level += 1;
            idx /= 2;
        }
        out.push(appended.index);
    }
    Ok(out)
}
