//! Consent decision benchmark: bulk decisions over a ledger of 1,000,000
//! subjects, one core. Target: at least 5,000,000 decisions/s.
//!
//! Run with `cargo bench -p caduceus-core --bench consent`. It builds the
//! ledger (every subject gives consent for treatment communication and
//! recall, two in three also for marketing, one in ten of those later
//! withdraws marketing with STOP), then times, for the `marketing` purpose
//! (a send-out), each over all 1,000,000 subjects:
//!
//! * `decide_ids`, subjects in ledger order (interned ids, no string lookup);
//! * `decide_ids`, subjects in a shuffled order (random memory access);
//! * `decide_many`, pseudonyms in a shuffled order (one hash lookup each);
//! * `decide`, one call per pseudonym, shuffled.
//!
//! Each is repeated several rounds; the median and the range are printed as
//! decisions per second. Without `--bench` (e.g. `cargo test --benches`) it
//! runs a 10,000-subject smoke version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use caduceus_core::consent::{
    ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, OptOutRequest,
};

const T0: i64 = 1_763_800_000;

fn build(n: usize) -> Ledger {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    let notice = l
        .register_notice("privacy-chat", 1, "de", "Datenschutzhinweis ...", T0, T0)
        .unwrap();
    for i in 0..n {
        let t = T0 + 1 + (i as i64) / 100;
        let marketing = i % 3 != 2;
        let mut purposes = vec!["treatment-communication".to_owned(), "recall".to_owned()];
        if marketing {
            purposes.push("marketing".to_owned());
        }
        let e = ConsentEvent {
            id: format!("evt-{i:07}"),
            subject: format!("p-{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            purposes,
            status: ConsentStatus::Given,
            method: ConsentMethod::QrReception,
            notice: Some(notice.clone()),
            channel: "reception-qr".into(),
            evidence: Some(format!("form-{i}")),
            recorded_by: "staff-1".into(),
            time: t,
            expires_at: None,
        };
        let subject = e.subject.clone();
        l.append(e, t).unwrap();
        if marketing && i % 10 == 0 {
            l.opt_out(
                OptOutRequest {
                    event_id: format!("stop-{i:07}"),
                    subject,
                    reply: "STOP".into(),
                    message_id: format!("wamid.{i}"),
                    channel: "whatsapp".into(),
                    recorded_by: "ingest".into(),
                    time: t,
                },
                t,
            )
            .unwrap();
        }
    }
    l
}

/// A deterministic Fisher-Yates shuffle (xorshift).
fn shuffle<T>(v: &mut [T]) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn measure(name: &str, n: usize, rounds: usize, mut f: impl FnMut() -> usize) {
    let mut rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let allowed = f();
        let secs = start.elapsed().as_secs_f64();
        black_box(allowed);
        rates.push(n as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "{name:<44} {:>6.2} M decisions/s  (median of {rounds}; range {:.2} to {:.2})",
        median / 1e6,
        rates[0] / 1e6,
        rates[rates.len() - 1] / 1e6
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, rounds) = if full { (1_000_000, 15) } else { (10_000, 2) };
    let start = Instant::now();
    let ledger = build(n);
    println!(
        "consent ledger: {} subjects, {} events, built in {:.1} s; file {} MB",
        ledger.subject_count(),
        ledger.len(),
        start.elapsed().as_secs_f64(),
        ledger.to_bytes().expect("a whole ledger").len() / 1_000_000
    );
    let at = T0 + 1_000_000;
    let in_order: Vec<_> = ledger.subject_ids().collect();
    let mut shuffled_ids = in_order.clone();
    shuffle(&mut shuffled_ids);
    // The caller's list of pseudonyms, freshly allocated in send-out order
    // (random with respect to the ledger's order).
    let names: Vec<String> = shuffled_ids
        .iter()
        .map(|&s| ledger.subject_name(s).unwrap())
        .collect();
    let expected = ledger
        .decide_ids(&in_order, "marketing", at)
        .iter()
        .filter(|d| d.allowed)
        .count();
    // 2/3 gave marketing consent, a tenth of those withdrew it.
    println!("marketing allowed for {expected} of {n} subjects");

    measure("decide_ids, ledger order", n, rounds, || {
        ledger
            .decide_ids(&in_order, "marketing", at)
            .iter()
            .filter(|d| d.allowed)
            .count()
    });
    measure("decide_ids, shuffled", n, rounds, || {
        ledger
            .decide_ids(&shuffled_ids, "marketing", at)
            .iter()
            .filter(|d| d.allowed)
            .count()
    });
    measure("decide_many (pseudonyms), shuffled", n, rounds, || {
        let ds = ledger.decide_many(&names, "marketing", at);
        assert_eq!(ds.iter().filter(|d| d.allowed).count(), expected);
        ds.len()
    });
    measure("decide (one call each), shuffled", n, rounds, || {
        names
            .iter()
            .filter(|s| ledger.decide(s, "marketing", at).allowed)
            .count()
    });
}
