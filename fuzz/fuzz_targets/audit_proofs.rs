//! Merkle proof checks. Arbitrary proofs, sizes and roots fed to
//! `verify_inclusion` / `verify_consistency` must not panic; proofs built
//! from a real tree must verify, and a proof with one hash changed, or
//! checked at another index or size, must not.
#![no_main]

use arbitrary::Arbitrary;
use caduceus_core::audit::merkle::{
    self, Hash, MemoryTree, consistency_proof, inclusion_proof, verify_consistency,
    verify_inclusion,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    leaf: Hash,
    index: u64,
    size: u64,
    old_size: u64,
    root_a: Hash,
    root_b: Hash,
    proof: Vec<Hash>,
    /// A real tree of 1 to 300 leaves.
    tree_leaves: u16,
    pick_a: u16,
    pick_b: u16,
    flip: u8,
}

fuzz_target!(|input: Input| {
    let _ = verify_inclusion(
        &input.leaf,
        input.index,
        input.size,
        &input.proof,
        &input.root_a,
    );
    let _ = verify_consistency(
        input.old_size,
        input.size,
        &input.root_a,
        &input.root_b,
        &input.proof,
    );

    let n = u64::from(input.tree_leaves % 300) + 1;
    let mut tree = MemoryTree::new();
    for i in 0..n {
        tree.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let size = u64::from(input.pick_a) % n + 1;
    let index = u64::from(input.pick_b) % size;
    let root = tree.root(size).expect("root");
    let leaf = tree.leaves()[index as usize];
    let proof = inclusion_proof(&tree, index, size).expect("inclusion proof");
    verify_inclusion(&leaf, index, size, &proof, &root).expect("a real inclusion proof verifies");
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let k = usize::from(input.flip) % bad.len();
        bad[k][usize::from(input.flip) % 32] ^= 1;
        assert!(
            verify_inclusion(&leaf, index, size, &bad, &root).is_err(),
            "tampered inclusion proof verified"
        );
    }
    if size > 1 {
        let other = (index + 1 + u64::from(input.flip) % (size - 1)) % size;
        if tree.leaves()[other as usize] != leaf {
            assert!(
                verify_inclusion(&leaf, other, size, &proof, &root).is_err(),
                "proof verified at another index"
            );
        }
    }

    let old = u64::from(input.flip) % size + 1;
    let old_root = tree.root(old).expect("old root");
    let cproof = consistency_proof(&tree, old, size).expect("consistency proof");
    verify_consistency(old, size, &old_root, &root, &cproof)
        .expect("a real consistency proof verifies");
    if !cproof.is_empty() {
        let mut bad = cproof.clone();
        let k = usize::from(input.pick_b) % bad.len();
        bad[k][usize::from(input.pick_a) % 32] ^= 0x80;
        assert!(
            verify_consistency(old, size, &old_root, &root, &bad).is_err(),
            "tampered consistency proof verified"
        );
    }
    // Arbitrary hashes appended to a real proof never verify.
    if !input.proof.is_empty() {
        let mut long = cproof.clone();
        long.extend_from_slice(&input.proof);
        assert!(verify_consistency(old, size, &old_root, &root, &long).is_err());
        let mut long = proof.clone();
        long.extend_from_slice(&input.proof);
        assert!(verify_inclusion(&leaf, index, size, &long, &root).is_err());
    }
});
