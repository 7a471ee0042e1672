//! Overhead of the C ABI: a 200-byte message seal and a 5 MiB media seal
//! through the `extern "C"` functions (called from Rust, as a C host would
//! call them) against `caduceus_core::envelope::seal` directly, both with
//! the operating system's random number generator.
//!
//! Run with `cargo bench -p caduceus-ffi --bench ffi`. The C path includes
//! everything a host pays: the pointer and label checks, the panic
//! boundary, the `caduceus_bytes` handle, and `caduceus_bytes_free`, which
//! zeroizes the output. After criterion's per-function figures, an
//! *interleaved* phase times the two paths alternately, round after round
//! (the machine is shared), and prints
//!
//! ```text
//! ratio = C ABI time / core time   (median over rounds; target <= 1.05)
//! ```
//!
//! plus, for reference, core with its output zeroized on drop (what the C
//! path's `caduceus_bytes_free` does), which separates the cost of the
//! zeroization from the cost of the boundary, and core with its output
//! wiped by a plain `memset` (what a vectorised wipe would cost).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::CString;
use std::hint::black_box;
use std::time::{Duration, Instant};

use caduceus::{
    caduceus_bytes, caduceus_bytes_free, caduceus_bytes_len, caduceus_envelope_seal,
    caduceus_labels, caduceus_public_key, caduceus_public_key_free, caduceus_public_key_parse,
    caduceus_result,
};
use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, PrivateKey, PublicKey};
use criterion::{Criterion, Throughput};
use getrandom::SysRng;
use rand_core::UnwrapErr;
use zeroize::Zeroizing;

const MIB: usize = 1024 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Keys and labels in both forms, created once.
struct Fixture {
    recipient: Vec<PublicKey>,
    labels: Labels,
    c_key: *mut caduceus_public_key,
    c_strings: [CString; 4],
}

impl Fixture {
    fn new() -> Self {
        let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut UnwrapErr(SysRng));
        let text = CString::new(key.public_key().to_string()).unwrap();
        let mut c_key = std::ptr::null_mut();
        #[allow(unsafe_code)]
        // SAFETY: a NUL-terminated string and a valid out-pointer.
        let rc = unsafe { caduceus_public_key_parse(text.as_ptr(), &mut c_key) };
        assert_eq!(rc, caduceus_result::CADUCEUS_OK);
        let (s, c, p, t) = (
            "p-7f3a91",
            "clinical-photos",
            "treatment-communication",
            "image/jpeg",
        );
        Self {
            recipient: vec![key.public_key()],
            labels: Labels::new(s, c, p, t, 1_763_800_000).unwrap(),
            c_key,
            c_strings: [s, c, p, t].map(|x| CString::new(x).unwrap()),
        }
    }

    /// Seal through `caduceus_core` directly.
    fn core_seal(&self, pt: &[u8]) -> usize {
        let sealed =
            envelope::seal(&self.recipient, &self.labels, pt, &mut UnwrapErr(SysRng)).unwrap();
        black_box(sealed.len())
    }

    /// As `core_seal`, with the output zeroized on drop (as `caduceus_bytes_free` does).
    fn core_seal_zeroized(&self, pt: &[u8]) -> usize {
        let sealed = Zeroizing::new(
            envelope::seal(&self.recipient, &self.labels, pt, &mut UnwrapErr(SysRng)).unwrap(),
        );
        black_box(sealed.len())
    }

    /// As `core_seal`, with the output wiped by `fill(0)` (a `memset`) kept
    /// alive by `black_box`: what a vectorised wipe would cost instead of
    /// `zeroize`'s byte-by-byte volatile writes.
    fn core_seal_memset(&self, pt: &[u8]) -> usize {
        let mut sealed =
            envelope::seal(&self.recipient, &self.labels, pt, &mut UnwrapErr(SysRng)).unwrap();
        let len = sealed.len();
        sealed.fill(0);
        black_box(&mut sealed);
        black_box(len)
    }

    /// Seal through the C ABI, including building the labels struct and
    /// freeing the output, as a C host does.
    fn ffi_seal(&self, pt: &[u8]) -> usize {
        let labels = caduceus_labels {
            subject: self.c_strings[0].as_ptr(),
            category: self.c_strings[1].as_ptr(),
            purpose: self.c_strings[2].as_ptr(),
            content_type: self.c_strings[3].as_ptr(),
            created_at: 1_763_800_000,
        };
        let keys = [self.c_key.cast_const()];
        let mut out: *mut caduceus_bytes = std::ptr::null_mut();
        #[allow(unsafe_code)]
        // SAFETY: live key handle, valid labels and buffer, valid out-pointer;
        // the output is read and freed once.
        let len = unsafe {
            let rc =
                caduceus_envelope_seal(keys.as_ptr(), 1, &labels, pt.as_ptr(), pt.len(), &mut out);
            assert_eq!(rc, caduceus_result::CADUCEUS_OK);
            let len = caduceus_bytes_len(out);
            caduceus_bytes_free(out);
            len
        };
        black_box(len)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: the handle from `new`, freed once.
        unsafe {
            caduceus_public_key_free(self.c_key)
        };
    }
}

fn bench(c: &mut Criterion, fx: &Fixture, name: &str, pt: &[u8]) {
    let mut g = c.benchmark_group(format!("ffi/seal_{name}"));
    g.throughput(Throughput::Bytes(pt.len() as u64));
    if pt.len() > MIB {
        g.sample_size(30);
    }
    g.bench_function("core", |b| b.iter(|| fx.core_seal(black_box(pt))));
    g.bench_function("c_abi", |b| b.iter(|| fx.ffi_seal(black_box(pt))));
    g.finish();
}

fn time(batch: usize, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Time core, C ABI and core+zeroize alternately (the order rotating per
/// round) and print the median ratios with their spread.
fn interleaved(fx: &Fixture, name: &str, pt: &[u8], rounds: usize, batch: usize) {
    // core, C ABI, core + zeroize, core + memset wipe
    let mut t: [Vec<f64>; 4] = Default::default();
    // Warm-up.
    fx.core_seal(pt);
    fx.ffi_seal(pt);
    for round in 0..rounds {
        for k in 0..4 {
            let which = (round + k) % 4;
            let d = match which {
                0 => time(batch, || {
                    black_box(fx.core_seal(pt));
                }),
                1 => time(batch, || {
                    black_box(fx.ffi_seal(pt));
                }),
                2 => time(batch, || {
                    black_box(fx.core_seal_zeroized(pt));
                }),
                _ => time(batch, || {
                    black_box(fx.core_seal_memset(pt));
                }),
            };
            t[which].push(d.as_secs_f64() / batch as f64);
        }
    }
    let ratio =
        |a: usize, b: usize| -> Vec<f64> { t[a].iter().zip(&t[b]).map(|(x, y)| x / y).collect() };
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.3}..{hi:.3}")
    };
    let (c_core, zero_core, c_zero, memset_core) =
        (ratio(1, 0), ratio(2, 0), ratio(1, 2), ratio(3, 0));
    println!(
        "seal {name:>4}: median core {:.1} us, C ABI {:.1} us, core+zeroize {:.1} us, core+memset {:.1} us  [{rounds} rounds x {batch}]",
        median(t[0].clone()) * 1e6,
        median(t[1].clone()) * 1e6,
        median(t[2].clone()) * 1e6,
        median(t[3].clone()) * 1e6,
    );
    println!(
        "           C/core {:.3} (range {}) | core+zeroize/core {:.3} | C/(core+zeroize) {:.3} (range {}) | core+memset/core {:.3}",
        median(c_core.clone()),
        spread(&c_core),
        median(zero_core),
        median(c_zero.clone()),
        spread(&c_zero),
        median(memset_core),
    );
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    let fx = Fixture::new();
    let small = pattern(200);
    let media = pattern(5 * MIB);
    bench(&mut c, &fx, "200B", &small);
    bench(&mut c, &fx, "5MiB", &media);
    c.final_summary();

    println!();
    println!(
        "Interleaved phase (ratio = C ABI time / core time, median over rounds; target <= 1.05):"
    );
    if bench_mode {
        interleaved(&fx, "200B", &small, 60, 200);
        interleaved(&fx, "5MiB", &media, 60, 2);
    } else {
        println!("(test mode, one round: these figures mean nothing)");
        interleaved(&fx, "200B", &small, 1, 1);
        interleaved(&fx, "5MiB", &media, 1, 1);
    }
}
