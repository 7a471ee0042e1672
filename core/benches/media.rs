//! Media sealer benchmark: sealing a 100 MB document (the largest WhatsApp
//! accepts, 100,000,000 bytes) pushed in 1 MiB chunks, as a host
//! downloading it would push them, with the plain envelope sealer
//! (`begin_seal` + `PayloadSealer::push` + `finish`) and with
//! `whatsapp::MediaSealer`, which also computes and checks the SHA-256.
//!
//! Run with `cargo bench -p caduceus-core --bench media`. The target is
//!
//! ```text
//! ratio = MediaSealer throughput / plain sealer throughput >= 0.95
//! ```
//!
//! Criterion measures one function after the other; on a shared machine
//! the binary therefore ends with an *interleaved* phase that times the two
//! alternately, round after round, and prints the median ratio with its
//! spread. For context it also times SHA-256 alone over the same bytes and
//! the plain sealer followed by SHA-256 on one thread (what a sealer
//! without the second thread would cost), and the media sealer fed in
//! 16 KiB chunks (typical HTTP body chunks, gathered by the sealer into
//! runs of `PARALLEL_HASH_THRESHOLD`). docs/WHATSAPP.md section 5.3.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, PrivateKey, PublicKey};
use caduceus_core::suite;
use caduceus_core::testing::DeterministicRng;
use caduceus_core::whatsapp::{MediaExpectation, MediaKind, MediaSealer};
use criterion::{Criterion, SamplingMode, Throughput};

/// The document: exactly the 100 MB limit.
const LEN: usize = 100_000_000;
/// What a host pushes per read.
const CHUNK: usize = 1024 * 1024;
/// Small HTTP body chunks, for context.
const SMALL_CHUNK: usize = 16 * 1024;
/// Rounds of the interleaved phase.
const ROUNDS: usize = 15;

fn pattern(len: usize) -> Vec<u8> {
    // Content does not matter to the speed; avoid an all-zero page the
    // kernel could share.
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

struct Fixture {
    media: Vec<u8>,
    expected: MediaExpectation,
    out: Vec<u8>,
    recipient: Vec<PublicKey>,
    identity: PrivateKey,
    labels: Labels,
    rng: DeterministicRng,
}

impl Fixture {
    fn new() -> Self {
        let media = pattern(LEN);
        let expected = MediaExpectation::new(MediaKind::Document, suite::sha256(&[&media]));
        let mut rng = DeterministicRng::new(100);
        let identity = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
        let labels = Labels::new(
            "p-7f3a9c",
            "clinical-documents",
            "treatment-communication",
            "application/pdf",
            1_767_225_600,
        )
        .unwrap();
        let mut fx = Self {
            out: Vec::with_capacity(LEN + LEN / 4096 + 4096),
            recipient: vec![identity.public_key()],
            media,
            expected,
            identity,
            labels,
            rng,
        };
        // Check each routine once, so a broken one cannot post a figure.
        for run in [Self::plain, Self::verified, Self::verified_small_chunks] {
            run(&mut fx);
            let opened = envelope::open(&fx.out, &fx.identity).unwrap();
            assert!(
                opened.plaintext == fx.media,
                "the sealed media does not open"
            );
        }
        fx
    }

    /// The plain envelope sealer, 1 MiB pushes.
    fn plain(&mut self) {
        self.out.clear();
        let (header, mut sealer) =
            envelope::begin_seal(&self.recipient, &self.labels, None, &mut self.rng).unwrap();
        self.out.extend_from_slice(&header);
        for chunk in self.media.chunks(CHUNK) {
            sealer.push(chunk, &mut self.out).unwrap();
        }
        sealer.finish(&mut self.out).unwrap();
        black_box(&mut self.out);
    }

    /// The plain sealer, then SHA-256 on the same thread.
    fn plain_then_sha256(&mut self) {
        self.plain();
        assert_eq!(suite::sha256(&[&self.media]), self.expected.sha256);
    }

    fn sealed_with(&mut self, chunk_len: usize) {
        self.out.clear();
        let (header, mut sealer) =
            MediaSealer::new(&self.recipient, &self.labels, self.expected, &mut self.rng).unwrap();
        self.out.extend_from_slice(&header);
        for chunk in self.media.chunks(chunk_len) {
            sealer.push(chunk, &mut self.out).unwrap();
        }
        let done = sealer.finish(&mut self.out).unwrap();
        assert_eq!(done.size, LEN as u64);
        black_box(&mut self.out);
    }

    /// `MediaSealer` with the hash check, 1 MiB pushes.
    fn verified(&mut self) {
        self.sealed_with(CHUNK);
    }

    /// `MediaSealer`, 16 KiB pushes.
    fn verified_small_chunks(&mut self) {
        self.sealed_with(SMALL_CHUNK);
    }

    fn sha256_alone(&mut self) {
        black_box(suite::sha256(&[black_box(&self.media)]));
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn mb_per_s(d: Duration) -> f64 {
    LEN as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let mut fx = Fixture::new();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("media_seal_100MB");
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(Throughput::Bytes(LEN as u64));
        g.bench_function("plain_envelope_1MiB_pushes", |b| b.iter(|| fx.plain()));
        g.bench_function("media_sealer_verified_1MiB_pushes", |b| {
            b.iter(|| fx.verified())
        });
        g.bench_function("media_sealer_verified_16KiB_pushes", |b| {
            b.iter(|| fx.verified_small_chunks())
        });
        g.bench_function("plain_then_sha256_one_thread", |b| {
            b.iter(|| fx.plain_then_sha256())
        });
        g.bench_function("sha256_alone", |b| b.iter(|| fx.sha256_alone()));
        g.finish();
    }
    c.final_summary();

    // Interleaved: plain and verified alternately, one ratio per round.
    let mut ratios = Vec::with_capacity(ROUNDS);
    let mut small = Vec::with_capacity(ROUNDS);
    let mut one_thread = Vec::with_capacity(ROUNDS);
    let (mut best_plain, mut best_verified) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        let p = time(|| fx.plain());
        let v = time(|| fx.verified());
        let s = time(|| fx.verified_small_chunks());
        let o = time(|| fx.plain_then_sha256());
        best_plain = best_plain.min(p);
        best_verified = best_verified.min(v);
        ratios.push(p.as_secs_f64() / v.as_secs_f64());
        small.push(p.as_secs_f64() / s.as_secs_f64());
        one_thread.push(p.as_secs_f64() / o.as_secs_f64());
    }
    let summary = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (med, lo, hi) = summary(&mut ratios);
    let (smed, slo, shi) = summary(&mut small);
    let (omed, olo, ohi) = summary(&mut one_thread);
    println!(
        "interleaved, {ROUNDS} rounds, 100 MB document: plain {:.0} MB/s, verified {:.0} MB/s (best round each)",
        mb_per_s(best_plain),
        mb_per_s(best_verified)
    );
    println!(
        "ratio verified/plain, 1 MiB pushes:  median {med:.3} (min {lo:.3}, max {hi:.3}) target >= 0.95"
    );
    println!("ratio verified/plain, 16 KiB pushes: median {smed:.3} (min {slo:.3}, max {shi:.3})");
    println!(
        "ratio (plain + sha256 on one thread)/plain: median {omed:.3} (min {olo:.3}, max {ohi:.3})"
    );
}
