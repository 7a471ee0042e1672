//! The Merkle tree of RFC 6962 / RFC 9162 section 2.1: hashing, the compact
//! right edge, proofs built from stored hashes, and the proof verifiers.
//!
//! ```
//! use caduceus_core::audit::merkle::{self, CompactRange, MemoryTree};
//! let entries: Vec<Vec<u8>> = (0u8..5).map(|i| vec![i; 10]).collect();
//! let mut tree = MemoryTree::new();
//! let mut edge = CompactRange::new();
//! for e in &entries {
//!     tree.push(merkle::leaf_hash(e));
//!     edge.push(merkle::leaf_hash(e));
//! }
//! assert_eq!(tree.root(5).unwrap(), edge.root());
//! let proof = merkle::inclusion_proof(&tree, 3, 5).unwrap();
//! merkle::verify_inclusion(&merkle::leaf_hash(&entries[3]), 3, 5, &proof, &edge.root()).unwrap();
//! let old = tree.root(2).unwrap();
//! let cproof = merkle::consistency_proof(&tree, 2, 5).unwrap();
//! merkle::verify_consistency(2, 5, &old, &edge.root(), &cproof).unwrap();
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use super::AuditError;

/// A SHA-256 hash: a leaf hash, an inner node hash or a root.
pub type Hash = [u8; 32];

/// Longest proof accepted by the verifiers: a cheap bound, checked before
/// the walk. Valid proofs are shorter (in trees of up to 2^64 - 1 leaves, at
/// most 64 hashes for an inclusion proof and 65 for a consistency proof),
/// and the walk refuses any proof longer than its path with the same error.
pub const MAX_PROOF_LEN: usize = 130;

/// A hash as C2SP tlog tooling writes it (checkpoints, tlog-proof): RFC 4648
/// standard base64 with padding, 44 characters.
pub fn hash_to_base64(hash: &Hash) -> String {
    B64.encode(hash)
}

/// Parse a hash written in standard base64 (44 characters, as
/// [`hash_to_base64`] writes it) or in hex (64 digits, either case).
pub fn parse_hash(text: &str) -> Option<Hash> {
    let bytes = if text.len() == 64 {
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        (0..32)
            .map(|i| {
                text.get(2 * i..2 * i + 2)
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()?
    } else {
        B64.decode(text).ok()?
    };
    bytes.try_into().ok()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The leaf hash of an entry: SHA-256(0x00 || entry bytes).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an inner node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// Read access to the hashes of complete (perfect) subtrees of a tree, as a
/// host stores them.
///
/// `node(level, index)` is the hash of the perfect subtree of `2^level`
/// leaves covering leaves `index * 2^level .. (index + 1) * 2^level`; level 0
/// are the leaf hashes. A host that stores every level answers each lookup
/// directly, so a proof costs O(log^2 n) lookups and no hashing; a host that
/// stores only some levels may compute a missing node from the level below.
/// Return `None` for a node that is not (yet) complete or not stored.
pub trait HashSource {
    /// The hash of the perfect subtree at `level`, `index`.
    fn node(&self, level: u32, index: u64) -> Option<Hash>;
}

/// Every node hash of a tree, in memory, level by level (about 2 × 32 bytes
/// per leaf). Hosts that keep their tree elsewhere implement [`HashSource`]
/// over their own store instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// True if the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append a leaf hash, completing every subtree it closes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                return;
            }
            let (Some(l), Some(r)) = (row.get(n - 2), row.get(n - 1)) else {
                return;
            };
            hash = node_hash(l, r);
            level += 1;
        }
    }

    /// The root of the first `size` leaves (any size up to [`Self::len`]).
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        if size > self.len() {
            return Err(AuditError::SizeOutOfRange {
                size,
                tree_size: self.len(),
            });
        }
        subtree_hash(self, 0, size)
    }

    /// The leaf hashes (level 0).
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], |l| l.as_slice())
    }
}

impl HashSource for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        let row = self.levels.get(level as usize)?;
        row.get(usize::try_from(index).ok()?).copied()
    }
}

/// The compact right edge of a tree of `size` leaves: the roots of its
/// perfect subtrees, largest (leftmost) first, one per set bit of `size`.
/// Enough to append further leaves and to compute the root, in
/// O(log n) memory: a host resumes a log from a checkpoint and this edge
/// without reading old entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild from a size and its subtree roots (as stored by a host); the
    /// number of hashes must equal the number of set bits of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, AuditError> {
        if hashes.len() != size.count_ones() as usize {
            return Err(AuditError::BadCompactRange);
        }
        Ok(Self { size, hashes })
    }

    /// The edge of an existing tree, read from its stored hashes.
    pub fn from_source(source: &dyn HashSource, size: u64) -> Result<Self, AuditError> {
        let mut hashes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                let h = source
                    .node(level, start >> level)
                    .ok_or(AuditError::MissingHash {
                        level,
                        index: start >> level,
                    })?;
                hashes.push(h);
                start += 1u64 << level;
            }
        }
        Ok(Self { size, hashes })
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Append one leaf hash. A range of `u64::MAX` leaves (possible only
    /// through [`Self::from_parts`]) is full and stays unchanged.
    pub fn push(&mut self, leaf: Hash) {
        let Some(new_size) = self.size.checked_add(1) else {
            return;
        };
        let mut hash = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            hash = node_hash(&left, &hash);
            s >>= 1;
        }
        self.hashes.push(hash);
        self.size = new_size;
    }

    /// The tree root (RFC 6962 MTH) of the leaves covered.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        let mut acc = *last;
        for h in it {
            acc = node_hash(h, &acc);
        }
        acc
    }
}

/// Largest power of two strictly less than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `start..end` from stored hashes. `start` must be a multiple
/// of the largest power of two not exceeding `end - start` (true for every
/// subtree the RFC 6962 recursion visits).
fn subtree_hash(source: &dyn HashSource, start: u64, end: u64) -> Result<Hash, AuditError> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return source
            .node(level, start >> level)
            .ok_or(AuditError::MissingHash {
                level,
                index: start >> level,
            });
    }
    let k = split_point(n);
    let left = subtree_hash(source, start, start + k)?;
    let right = subtree_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The inclusion proof (RFC 9162 section 2.1.3.1) of leaf `index` in the
/// tree of the first `size` leaves, from stored hashes.
pub fn inclusion_proof(
    source: &dyn HashSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    // Walk from the root down, then reverse (the proof lists leaf-side first).
    let (mut start, mut end, mut m) = (0u64, size, index);
    while end - start > 1 {
        let k = split_point(end - start);
        if m < k {
            proof.push(subtree_hash(source, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree_hash(source, start, start + k)?);
            start += k;
            m -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof (RFC 9162 section 2.1.4.1) between the trees of
/// the first `old_size` and `new_size` leaves, from stored hashes. Empty when
/// the sizes are equal or `old_size` is 0.
pub fn consistency_proof(
    source: &dyn HashSource,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, AuditError> {
    if old_size > new_size {
        return Err(AuditError::SizeOutOfRange {
            size: old_size,
            tree_size: new_size,
        });
    }
    let mut proof = Vec::new();
    if old_size == 0 || old_size == new_size {
        return Ok(proof);
    }
    // SUBPROOF(m, D[start..end], b), iteratively.
    let (mut start, mut end, mut m, mut complete) = (0u64, new_size, old_size, true);
    loop {
        let n = end - start;
        if m == n {
            if !complete {
                proof.push(subtree_hash(source, start, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(subtree_hash(source, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree_hash(source, start, start + k)?);
            start += k;
            m -= k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Verify an inclusion proof per RFC 9162 section 2.1.3.2.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), AuditError> {
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(AuditError::BadProof);
    }
    let mut walk = Walk {
        fnn: index,
        sn: size - 1,
    };
    let mut r = *leaf;
    for p in proof {
        r = if walk.step()? {
            node_hash(p, &r)
        } else {
            node_hash(&r, p)
        };
    }
    if walk.sn != 0 || !ct_eq(&r, root) {
        return Err(AuditError::BadProof);
    }
    Ok(())
}

/// The position walk shared by the proof checks of RFC 9162 sections
/// 2.1.3.2 and 2.1.4.2: `fn` (`fnn`) and `sn` as the RFC names them.
struct Walk {
    fnn: u64,
    sn: u64,
}

impl Walk {
    /// One proof hash: whether it is the **left** sibling (`LSB(fn)` set or
    /// `fn == sn`), then up one level. A hash past the root (`sn == 0`) is a
    /// bad proof.
    fn step(&mut self) -> Result<bool, AuditError> {
        if self.sn == 0 {
            return Err(AuditError::BadProof);
        }
        let left = self.fnn & 1 == 1 || self.fnn == self.sn;
        if left {
            while self.fnn & 1 == 0 && self.fnn != 0 {
                self.fnn >>= 1;
                self.sn >>= 1;
            }
        }
        self.fnn >>= 1;
        self.sn >>= 1;
        Ok(left)
    }
}

/// Verify a consistency proof per RFC 9162 section 2.1.4.2. Equal sizes
/// need an empty proof and equal roots; an old size of 0 is refused (every
/// tree extends the empty tree: there is nothing to prove).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), AuditError> {
    if old_size == 0 || old_size > new_size || proof.len() > MAX_PROOF_LEN {
        return Err(AuditError::BadProof);
    }
    if old_size == new_size {
        return if proof.is_empty() && ct_eq(old_root, new_root) {
            Ok(())
        } else {
            Err(AuditError::BadProof)
        };
    }
    if proof.is_empty() {
        return Err(AuditError::BadProof);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut walk = Walk {
        fnn: old_size - 1,
        sn: new_size - 1,
    };
    while walk.fnn & 1 == 1 {
        walk.fnn >>= 1;
        walk.sn >>= 1;
    }
    let mut iter = path.iter();
    let Some(first) = iter.next() else {
        return Err(AuditError::BadProof);
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in iter {
        if walk.step()? {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        } else {
            sr = node_hash(&sr, c);
        }
    }
    if walk.sn != 0 || !ct_eq(&fr, old_root) || !ct_eq(&sr, new_root) {
        return Err(AuditError::BadProof);
    }
    Ok(())
}

fn ct_eq(a: &Hash, b: &Hash) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_base64_and_hex() {
        let h = leaf_hash(b"x");
        let b64 = hash_to_base64(&h);
        assert_eq!(b64.len(), 44);
        assert_eq!(parse_hash(&b64), Some(h));
        let hex: String = h.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(parse_hash(&hex), Some(h));
        assert_eq!(parse_hash(&hex.to_lowercase()), Some(h));
        assert_eq!(parse_hash(&b64[..40]), None);
        assert_eq!(parse_hash(&hex[1..]), None);
        assert_eq!(parse_hash(&format!("+{}", &hex[1..])), None);
        assert_eq!(parse_hash(""), None);
    }

    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_proofs_and_edges_agree_for_small_trees() {
        // Every tree shape up to 40 leaves natively; under Miri (about 1000x
        // slower) up to 7, which still covers full, ragged and odd trees.
        let count = if cfg!(miri) { 7 } else { 40 };
        let leaves: Vec<Hash> = (0u8..count).map(|i| leaf_hash(&[i])).collect();
        let mut tree = MemoryTree::new();
        let mut edge = CompactRange::new();
        for (n, l) in leaves.iter().enumerate() {
            tree.push(*l);
            edge.push(*l);
            let size = n as u64 + 1;
            let root = reference_root(&leaves[..=n]);
            assert_eq!(edge.root(), root);
            assert_eq!(tree.root(size).unwrap(), root);
            assert_eq!(CompactRange::from_source(&tree, size).unwrap(), edge);
            for i in 0..size {
                let p = inclusion_proof(&tree, i, size).unwrap();
                verify_inclusion(&leaves[i as usize], i, size, &p, &root).unwrap();
            }
            for m in 1..=size {
                let p = consistency_proof(&tree, m, size).unwrap();
                let old = tree.root(m).unwrap();
                verify_consistency(m, size, &old, &root, &p).unwrap();
            }
        }
    }
}
