//! Deterministic randomness for tests and the published test vectors.
//!
//! **Insecure: never use these outside tests.** Their output is predictable
//! by design, so keys and data keys drawn from them can be recomputed by
//! anyone. This module exists only with the `test-rng` cargo feature (and in
//! core's own unit tests); no shipped crate enables it. Production callers
//! pass the operating system's RNG, for example
//! `rand_core::UnwrapErr(getrandom::SysRng)`. The core takes randomness as a
//! parameter so that tests and the vectors in `docs/FORMAT.md` are
//! reproducible.

use core::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use zeroize::Zeroize;

use crate::suite;

/// A seeded RNG: block *i* is SHA-256("caduceus test rng" || seed (8 bytes
/// big-endian) || *i* (8 bytes big-endian)), and the output is the
/// concatenation of blocks. **Insecure**: predictable by design, for tests
/// only (`test-rng` feature).
#[derive(Clone)]
pub struct DeterministicRng {
    seed: u64,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl DeterministicRng {
    /// A new RNG from a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl core::fmt::Debug for DeterministicRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DeterministicRng([REDACTED])")
    }
}

impl Drop for DeterministicRng {
    fn drop(&mut self) {
        self.block.zeroize();
    }
}

impl TryRng for DeterministicRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for out in dst.iter_mut() {
            if self.used == self.block.len() {
                self.block = suite::sha256(&[
                    b"caduceus test rng",
                    &self.seed.to_be_bytes(),
                    &self.counter.to_be_bytes(),
                ]);
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *out = self.block.get(self.used).copied().unwrap_or(0);
            self.used += 1;
        }
        Ok(())
    }
}

impl TryCryptoRng for DeterministicRng {}

/// **Insecure**, for tests only (`test-rng` feature): an RNG that returns
/// the given bytes in order, then zeros. Used to
/// reproduce published vectors whose random inputs are listed (such as
/// RFC 9180's `ikmE`).
#[derive(Clone)]
pub struct FixedBytesRng {
    bytes: Vec<u8>,
    pos: usize,
}

impl FixedBytesRng {
    /// An RNG that yields `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, pos: 0 }
    }

    /// How many bytes were consumed so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

impl core::fmt::Debug for FixedBytesRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FixedBytesRng([REDACTED])")
    }
}

impl TryRng for FixedBytesRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for out in dst.iter_mut() {
            *out = self.bytes.get(self.pos).copied().unwrap_or(0);
            self.pos = self.pos.saturating_add(1);
        }
        Ok(())
    }
}

impl TryCryptoRng for FixedBytesRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn deterministic_rng_is_reproducible_and_seed_dependent() {
        let mut a = DeterministicRng::new(1);
        let mut b = DeterministicRng::new(1);
        let mut c = DeterministicRng::new(2);
        let (mut x, mut y, mut z) = ([0u8; 70], [0u8; 70], [0u8; 70]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        c.fill_bytes(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        let first = suite::sha256(&[
            b"caduceus test rng",
            &1u64.to_be_bytes(),
            &0u64.to_be_bytes(),
        ]);
        assert_eq!(x[..32], first);
    }

    #[test]
    fn fixed_bytes_rng_yields_its_bytes() {
        let mut r = FixedBytesRng::new(vec![1, 2, 3]);
        let mut out = [9u8; 5];
        r.fill_bytes(&mut out);
        assert_eq!(out, [1, 2, 3, 0, 0]);
        assert_eq!(r.consumed(), 5);
    }
}
