//! WhatsApp webhook intake benchmark: `verify_signature` + `parse_webhook`
//! of a signed ~2 KB text-message body, and `parse_webhook` alone, on one
//! core. Target: at least 200,000 verified and parsed bodies per second.
//!
//! Run with `cargo bench -p caduceus-core --bench whatsapp`. Criterion
//! reports both; the binary then prints
//!
//! ```text
//! whatsapp verify+parse: N bodies/s (wall time, median of R rounds, one core; ...; by CPU time: ...)
//! whatsapp parse       : ...
//! whatsapp verify      : ...
//! ```
//!
//! The rates by CPU time (Linux) leave out the time the thread waited for
//! a core: on a shared machine the wall-time rates understate the speed.
//!
//! Without `--bench` (e.g. `cargo test --benches`) it runs a short smoke
//! version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use caduceus_core::suite::hmac_sha256;
use caduceus_core::whatsapp::{EventKind, ParseLimits, parse_webhook, verify_signature};
use criterion::{Criterion, Throughput};

const SECRET: &[u8] = b"caduceus-bench-app-secret";

/// A text-message webhook as Meta sends it (non-ASCII `\u`-escaped), with
/// a message text long enough to make the body about 2 KB.
fn body() -> Vec<u8> {
    let sentence = "Guten Tag Frau Dr. M\\u00fcller, ich m\\u00f6chte meinen Termin am Dienstag um 9:30 Uhr verschieben, weil ich beruflich verhindert bin. ";
    let mut text = String::new();
    while text.len() < 1_450 {
        text.push_str(sentence);
    }
    format!(
        concat!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1029384756102938","changes":[{{"value":{{"messaging_product":"whatsapp","#,
            r#""metadata":{{"display_phone_number":"4930000000000","phone_number_id":"109876543210987"}},"#,
            r#""contacts":[{{"profile":{{"name":"Erika Musterfrau"}},"wa_id":"4915100000001","user_id":"DE.1234567890123456789","parent_user_id":"DE.ENT.9876543210987654321"}}],"#,
            r#""messages":[{{"from":"4915100000001","from_user_id":"DE.1234567890123456789","from_parent_user_id":"DE.ENT.9876543210987654321","#,
            r#""id":"wamid.HBgNNDkxNTEwMDAwMDAwMRUCABIYFjNFQjBDQUQ0001QTAwMDAwMDAwMDAA","timestamp":"1790000001","text":{{"body":"{}"}},"type":"text"}}]}},"#,
            r#""field":"messages"}}]}}]}}"#
        ),
        text.trim_end()
    )
    .into_bytes()
}

fn header(body: &[u8]) -> String {
    let tag = hmac_sha256(SECRET, &[body]);
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn verify_and_parse(body: &[u8], header: &str, limits: &ParseLimits) -> usize {
    verify_signature(body, Some(header), &[SECRET]).unwrap();
    parse_webhook(body, limits).unwrap().events.len()
}

/// This thread's time on a CPU so far, in nanoseconds (Linux:
/// `/proc/thread-self/schedstat`), or `None` where unavailable. Unlike wall
/// time it leaves out the time the thread waited for a core, which on a
/// shared machine can be most of it.
fn cpu_ns() -> Option<u128> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Calls per second over `rounds` rounds of `per` calls: (median, min, max)
/// by wall time, and the median and best by CPU time.
struct Rates {
    wall: (u64, u64, u64),
    cpu: Option<(u64, u64)>,
}

fn rate(rounds: usize, per: usize, mut f: impl FnMut() -> usize) -> Rates {
    let per_s = |ns: u128| (per as u128 * 1_000_000_000 / ns.max(1)) as u64;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..rounds {
        let c0 = cpu_ns();
        let t = Instant::now();
        for _ in 0..per {
            black_box(f());
        }
        wall.push(per_s(t.elapsed().as_nanos()));
        if let (Some(a), Some(b)) = (c0, cpu_ns()) {
            cpu.push(per_s(b - a));
        }
    }
    wall.sort_unstable();
    cpu.sort_unstable();
    Rates {
        wall: (wall[wall.len() / 2], wall[0], wall[wall.len() - 1]),
        cpu: (cpu.len() == rounds).then(|| (cpu[cpu.len() / 2], cpu[cpu.len() - 1])),
    }
}

fn report(name: &str, r: &Rates, rounds: usize) {
    let cpu = r.cpu.map_or_else(String::new, |(median, best)| {
        format!("; by CPU time: median {median}, best {best}")
    });
    println!(
        "{name}: {} bodies/s (wall time, median of {rounds} rounds, one core; min {}, max {}{cpu})",
        r.wall.0, r.wall.1, r.wall.2
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let body = body();
    let header = header(&body);
    let limits = ParseLimits::default();
    // The body is what it claims to be.
    let hook = parse_webhook(&body, &limits).unwrap();
    let EventKind::Message(m) = &hook.events[0].kind else {
        panic!("not a message")
    };
    assert_eq!(
        m.id,
        "wamid.HBgNNDkxNTEwMDAwMDAwMRUCABIYFjNFQjBDQUQ0001QTAwMDAwMDAwMDAA"
    );

    if full {
        let mut c = Criterion::default().configure_from_args();
        let mut g = c.benchmark_group("whatsapp");
        g.throughput(Throughput::Elements(1));
        g.bench_function("verify_signature+parse_webhook_2KB_text", |b| {
            b.iter(|| verify_and_parse(black_box(&body), &header, &limits))
        });
        g.bench_function("parse_webhook_2KB_text", |b| {
            b.iter(|| {
                parse_webhook(black_box(&body), &limits)
                    .unwrap()
                    .events
                    .len()
            })
        });
        g.bench_function("verify_signature_2KB", |b| {
            b.iter(|| verify_signature(black_box(&body), Some(&header), &[SECRET]).unwrap())
        });
        g.finish();
        c.final_summary();
    }

    let (rounds, per) = if full { (25, 50_000) } else { (3, 1_000) };
    let both = rate(rounds, per, || verify_and_parse(&body, &header, &limits));
    let parse = rate(rounds, per, || {
        parse_webhook(&body, &limits).unwrap().events.len()
    });
    let verify = rate(rounds, per, || {
        verify_signature(&body, Some(&header), &[SECRET])
            .unwrap()
            .index()
    });
    println!(
        "whatsapp: a signed text-message webhook of {} bytes; target 200,000 verified and parsed bodies/s",
        body.len()
    );
    report("whatsapp verify+parse", &both, rounds);
    report("whatsapp parse       ", &parse, rounds);
    report("whatsapp verify      ", &verify, rounds);
}
