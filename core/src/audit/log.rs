//! The append-only log and its verifier.

use super::AuditError;
use super::checkpoint::Checkpoint;
use super::entry::{AuditEntry, AuditEvent};
use super::merkle::{self, CompactRange, Hash};

/// An entry just appended: what the host must store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEntry {
    /// Leaf index (= sequence number).
    pub index: u64,
    /// The canonical entry bytes to store (the host's only obligation).
    pub bytes: Vec<u8>,
    /// The entry's leaf hash, for hosts that keep a hash store for proofs.
    pub leaf_hash: Hash,
}

/// The writer's state of an audit log: origin, the Merkle tree's compact
/// right edge, and the last leaf hash (O(log n) memory, whatever the size).
/// The host stores entry bytes; see [`AuditLog::resume`] to continue after a
/// restart without reading old entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    origin: String,
    edge: CompactRange,
    last_leaf: Hash,
}

impl AuditLog {
    /// A new, empty log named `origin` (the checkpoint origin line, e.g.
    /// `praxis.example/audit`).
    pub fn new(origin: &str) -> Result<Self, AuditError> {
        Checkpoint::new(origin, 0, merkle::empty_root())?;
        Ok(Self {
            origin: origin.to_owned(),
            edge: CompactRange::new(),
            last_leaf: [0; 32],
        })
    }

    /// Rebuild the state by reading all entries (checking each as
    /// [`verify_log`] does).
    pub fn from_entries<'a>(
        origin: &str,
        entries: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, LogFault> {
        let mut v = LogVerifier::new(&[]);
        for e in entries {
            v.push(e)?;
        }
        v.into_log(origin)
    }

    /// Resume from a stored compact right edge and the last stored entry
    /// (`None` for an empty log). When `checkpoint` is given, the edge must
    /// reproduce its size and root.
    pub fn resume(
        origin: &str,
        edge: CompactRange,
        last_entry: Option<&[u8]>,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Self, AuditError> {
        let mut log = Self::new(origin)?;
        if let Some(cp) = checkpoint {
            if cp.origin != origin {
                return Err(AuditError::ResumeMismatch(
                    "the checkpoint is for another origin",
                ));
            }
            if cp.size != edge.size() || cp.root != edge.root() {
                return Err(AuditError::ResumeMismatch(
                    "the compact range does not reproduce the checkpoint",
                ));
            }
        }
        match (edge.size(), last_entry) {
            (0, None) => {}
            (0, Some(_)) | (_, None) => {
                return Err(AuditError::ResumeMismatch(
                    "the last entry must be given exactly when the log is not empty",
                ));
            }
            (n, Some(bytes)) => {
                let (seq, _) = AuditEntry::header(bytes)?;
                if seq != n - 1 {
                    return Err(AuditError::ResumeMismatch(
                        "the last entry's sequence number does not match the size",
                    ));
                }
                let leaf = merkle::leaf_hash(bytes);
                if n % 2 == 1 && edge.hashes().last() != Some(&leaf) {
                    return Err(AuditError::ResumeMismatch(
                        "the last entry is not the compact range's last leaf",
                    ));
                }
                log.last_leaf = leaf;
            }
        }
        log.edge = edge;
        Ok(log)
    }

    /// Append an event: assigns the next sequence number, links it to the
    /// previous entry, and returns the bytes to store.
    pub fn append(&mut self, event: &AuditEvent) -> Result<AppendedEntry, AuditError> {
        let index = self.edge.size();
        if index == u64::MAX {
            return Err(AuditError::LogFull);
        }
        let entry = AuditEntry {
            sequence: index,
            prev_leaf: self.last_leaf,
            event: event.clone(),
        };
        let bytes = entry.to_bytes()?;
        let leaf_hash = merkle::leaf_hash(&bytes);
        self.edge.push(leaf_hash);
        self.last_leaf = leaf_hash;
        Ok(AppendedEntry {
            index,
            bytes,
            leaf_hash,
        })
    }

    /// The origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.edge.root()
    }

    /// The compact right edge, for the host to store next to a checkpoint.
    pub fn edge(&self) -> &CompactRange {
        &self.edge
    }

    /// The (unsigned) checkpoint of the current tree.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            origin: self.origin.clone(),
            size: self.size(),
            root: self.root(),
            extensions: Vec::new(),
        }
    }
}

/// What is wrong with a log. [`LogFault::first_bad_index`] is the first
/// entry index that cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogFault {
    /// Entry `index` is not a well-formed entry.
    #[error("entry {index} is malformed: {error}")]
    Malformed {
        /// The entry's position.
        index: u64,
        /// Why.
        error: AuditError,
    },
    /// Entry at position `index` carries another sequence number: entries
    /// were deleted, inserted or reordered.
    #[error(
        "entry at position {index} has sequence number {found}: entries were deleted, inserted or reordered"
    )]
    SequenceMismatch {
        /// The position.
        index: u64,
        /// The sequence number found.
        found: u64,
    },
    /// Entry `index` does not link to the leaf hash of entry `index - 1`:
    /// entry `index - 1` (or this entry's link) was modified.
    #[error("entry {index} does not link to entry {prev}: entry {prev} was modified", prev = index.saturating_sub(1))]
    BrokenLink {
        /// The entry whose link fails.
        index: u64,
    },
    /// The log is shorter than a checkpoint: entries from `size` on are missing.
    #[error(
        "the log has {size} entries but a checkpoint covers {checkpoint_size}: the log was truncated"
    )]
    Truncated {
        /// Entries present.
        size: u64,
        /// Size of the checkpoint.
        checkpoint_size: u64,
    },
    /// The root of the first `checkpoint_size` entries differs from the
    /// checkpoint's: an entry from `from` on was changed (entries before
    /// `from` are confirmed by an earlier checkpoint).
    #[error(
        "the first {checkpoint_size} entries do not match their checkpoint: an entry at or after index {from} was changed"
    )]
    RootMismatch {
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// First index not confirmed by an earlier checkpoint.
        from: u64,
    },
    /// Two checkpoints cannot both describe this log: the log matches the
    /// later one but not the earlier one (or two checkpoints of one size
    /// differ). The log was forked or rewritten after `old_size`.
    #[error(
        "fork: the checkpoints of sizes {old_size} and {new_size} are inconsistent; entries from index {from} on were rewritten"
    )]
    Fork {
        /// Size of the earlier checkpoint.
        old_size: u64,
        /// Size of the later checkpoint.
        new_size: u64,
        /// First index not confirmed by an earlier checkpoint.
        from: u64,
    },
}

impl LogFault {
    /// The first entry index that cannot be trusted.
    pub fn first_bad_index(&self) -> u64 {
        match self {
            LogFault::Malformed { index, .. } | LogFault::SequenceMismatch { index, .. } => *index,
            LogFault::BrokenLink { index } => index.saturating_sub(1),
            LogFault::Truncated { size, .. } => *size,
            LogFault::RootMismatch { from, .. } | LogFault::Fork { from, .. } => *from,
        }
    }
}

/// The result of verifying a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read (up to and including a bad one).
    pub size: u64,
    /// Root of the entries read.
    pub root: Hash,
    /// Number of checkpoints whose root the log reproduced.
    pub checkpoints_matched: usize,
    /// The first fault found, if any.
    pub fault: Option<LogFault>,
}

impl VerifyReport {
    /// True if no fault was found.
    pub fn is_ok(&self) -> bool {
        self.fault.is_none()
    }
}

/// Streaming log verifier: feed entries in order with [`LogVerifier::push`],
/// then [`LogVerifier::finish`]. Memory is O(log n) plus the checkpoints.
#[derive(Debug, Clone)]
pub struct LogVerifier {
    edge: CompactRange,
    last_leaf: Hash,
    checkpoints: Vec<Checkpoint>,
    next_cp: usize,
    confirmed: u64,
    matched: usize,
    mismatch: Option<u64>,
    fault: Option<LogFault>,
    decode: bool,
}

impl LogVerifier {
    /// A verifier that checks the log against `checkpoints` (already
    /// signature-verified, e.g. with [`Checkpoint::open`]), in any order.
    pub fn new(checkpoints: &[Checkpoint]) -> Self {
        let mut cps = checkpoints.to_vec();
        cps.sort_by_key(|c| c.size);
        let mut fault = None;
        for pair in cps.windows(2) {
            if let [a, b] = pair
                && a.size == b.size
                && a.root != b.root
            {
                fault = Some(LogFault::Fork {
                    old_size: a.size,
                    new_size: b.size,
                    from: 0,
                });
                break;
            }
        }
        Self {
            edge: CompactRange::new(),
            last_leaf: [0; 32],
            checkpoints: cps,
            next_cp: 0,
            confirmed: 0,
            matched: 0,
            mismatch: None,
            fault,
            decode: true,
        }
    }

    /// Skip the full decoding of entry bodies (check only headers, links
    /// and the tree). Default: decode and check every field.
    pub fn headers_only(mut self) -> Self {
        self.decode = false;
        self
    }

    fn check_checkpoints(&mut self) {
        let size = self.edge.size();
        while let Some(cp) = self.checkpoints.get(self.next_cp) {
            if cp.size != size {
                break;
            }
            if cp.root == self.edge.root() {
                self.matched += 1;
                if let Some(old_size) = self.mismatch.take() {
                    self.fault = Some(LogFault::Fork {
                        old_size,
                        new_size: size,
                        from: self.confirmed,
                    });
                    return;
                }
                self.confirmed = size;
            } else if self.mismatch.is_none() {
                self.mismatch = Some(size);
            }
            self.next_cp += 1;
        }
    }

    /// The writer's state of the log read so far, to append to it (for
    /// entries read one at a time from a file: [`AuditLog::from_entries`]
    /// for entries in memory). Refused with the first fault, if any.
    pub fn into_log(self, origin: &str) -> Result<AuditLog, LogFault> {
        if let Some(f) = self.fault {
            return Err(f);
        }
        let mut log =
            AuditLog::new(origin).map_err(|e| LogFault::Malformed { index: 0, error: e })?;
        log.edge = self.edge;
        log.last_leaf = self.last_leaf;
        Ok(log)
    }

    /// Check the next entry. After the first fault every call returns it.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), LogFault> {
        if self.edge.size() == 0 && self.next_cp == 0 && self.fault.is_none() {
            self.check_checkpoints();
        }
        if let Some(f) = &self.fault {
            return Err(f.clone());
        }
        let index = self.edge.size();
        let fault = match AuditEntry::header(entry) {
            Err(error) => Some(LogFault::Malformed { index, error }),
            Ok((seq, _)) if seq != index => Some(LogFault::SequenceMismatch { index, found: seq }),
            Ok((_, prev)) if prev != self.last_leaf => Some(LogFault::BrokenLink { index }),
            Ok(_) if self.decode => AuditEntry::validate_body(entry)
                .err()
                .map(|error| LogFault::Malformed { index, error }),
            Ok(_) => None,
        };
        if let Some(f) = fault {
            self.fault = Some(f.clone());
            return Err(f);
        }
        let leaf = merkle::leaf_hash(entry);
        self.edge.push(leaf);
        self.last_leaf = leaf;
        self.check_checkpoints();
        match &self.fault {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }

    /// Entries accepted so far.
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// The compact right edge of the entries accepted so far.
    pub fn edge(&self) -> &CompactRange {
        &self.edge
    }

    /// Finish: report truncation against a checkpoint, or a root mismatch.
    pub fn finish(mut self) -> VerifyReport {
        if self.edge.size() == 0 && self.next_cp == 0 && self.fault.is_none() {
            self.check_checkpoints();
        }
        if self.fault.is_none() {
            if let Some(checkpoint_size) = self.mismatch {
                self.fault = Some(LogFault::RootMismatch {
                    checkpoint_size,
                    from: self.confirmed,
                });
            } else if let Some(cp) = self.checkpoints.get(self.next_cp) {
                self.fault = Some(LogFault::Truncated {
                    size: self.edge.size(),
                    checkpoint_size: cp.size,
                });
            }
        }
        VerifyReport {
            size: self.edge.size(),
            root: self.edge.root(),
            checkpoints_matched: self.matched,
            fault: self.fault,
        }
    }
}

/// Verify a whole log: every entry decodes and carries its position as
/// sequence number, every entry links to the previous one, and the tree
/// reproduces every checkpoint (already signature-verified) at its size.
pub fn verify_log<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
    checkpoints: &[Checkpoint],
) -> VerifyReport {
    let mut v = LogVerifier::new(checkpoints);
    for e in entries {
        if v.push(e).is_err() {
            break;
        }
    }
    v.finish()
}
