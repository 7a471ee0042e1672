//! Envelope benchmarks (placeholder replaced by the benchmark suite).
fn main() {}
