//! Fixtures shared by the envelope integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;

/// The labels every test envelope carries.
pub fn labels() -> Labels {
    Labels::new(
        "p-7f3a91",
        "clinical-photos",
        "treatment-communication",
        "image/jpeg",
        1_763_800_000,
    )
    .unwrap()
}

/// `len` bytes of a simple non-constant pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A fresh subject-category key from `seed`, and `plaintext` sealed to it.
pub fn sealed_to_new_key(seed: u64, plaintext: &[u8]) -> (DeterministicRng, PrivateKey, Vec<u8>) {
    let mut rng = DeterministicRng::new(seed);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let sealed = envelope::seal(&[key.public_key()], &labels(), plaintext, &mut rng).unwrap();
    (rng, key, sealed)
}
