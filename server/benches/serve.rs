//! Deliveries per second through `caduceus serve` (durable commits, over
//! loopback HTTP, 16 clients) against core's intake of the same messages in
//! the same run, and the latency of one delivery (p50, p99).
//!
//! `cargo bench -p caduceus-server --bench serve` (figures in
//! docs/BENCHMARKS.md). Core's rate: verify the signature, parse, decide
//! (seal the message to its subject-category key) and apply to in-memory
//! state: what the server does minus HTTP and the store's transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caduceus_core::consent::{ConsentPolicy, Ledger};
use caduceus_core::rand_core::UnwrapErr;
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::whatsapp::{
    IdentityMap, Intake, IntakeConfig, KeyringSet, ParseLimits, parse_webhook, verify_signature,
};
use caduceus_server::demo::{self, HookClient, Patient, button_body, text_body};
use caduceus_server::fake_graph::FakeGraph;
use caduceus_server::signing::signature_header;

const PATIENTS: u32 = 50;
const MESSAGES: usize = 3_000;
const CLIENTS: usize = 16;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn patient(n: u32) -> Patient {
    Patient::new(
        &format!("Bench {n}"),
        &format!("49153000{n:05}"),
        &format!("DE.55000000000000{n:05}"),
    )
}

fn messages(t: i64, tag: &str) -> Vec<(Vec<u8>, String)> {
    (0..MESSAGES)
        .map(|i| {
            let body = text_body(
                &patient(i as u32 % PATIENTS),
                &format!("wamid.{tag}-{i:06}"),
                t + (i % 100) as i64,
                "Guten Tag, ich brauche einen Termin wegen meiner Zahnschmerzen.",
            );
            let sig = signature_header(&body, demo::APP_SECRET.as_bytes());
            (body, sig)
        })
        .collect()
}

fn consents(t: i64) -> Vec<(Vec<u8>, String)> {
    let payload = "caduceus.consent.v1:yes:privacy-chat:1:de";
    (0..PATIENTS)
        .flat_map(|n| {
            let p = patient(n);
            [
                text_body(&p, &format!("wamid.hi-{n}"), t, "Hallo"),
                button_body(&p, &format!("wamid.ja-{n}"), t + 1, payload, "Ja"),
            ]
        })
        .map(|b| {
            let s = signature_header(&b, demo::APP_SECRET.as_bytes());
            (b, s)
        })
        .collect()
}

/// Core alone: verify, parse, decide, apply.
fn core_rate(setup: &demo::PracticeSetup, t: i64) -> f64 {
    let config = caduceus_server::Config::load(&setup.config).unwrap();
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    let n = &config.notice;
    let notice = ledger
        .register_notice(
            &n.id,
            n.version,
            &n.language,
            &n.text,
            n.published_at,
            now(),
        )
        .unwrap();
    let intake = Intake::new(
        config.pseudonym_key.clone(),
        &Policy::parse(DEFAULT_POLICY).unwrap(),
        IntakeConfig::new(config.practice, config.staff.clone(), notice),
    )
    .unwrap();
    let (mut ids, mut keys) = (IdentityMap::new(), KeyringSet::new());
    let mut rng = UnwrapErr(getrandom::SysRng);
    let secrets: Vec<&[u8]> = vec![demo::APP_SECRET.as_bytes()];
    let mut run = |batch: &[(Vec<u8>, String)]| {
        for (body, sig) in batch {
            verify_signature(body, Some(sig), &secrets).unwrap();
            let hook = parse_webhook(body, &ParseLimits::default()).unwrap();
            for e in &hook.events {
                let d = intake
                    .decide(e, &ledger, &ids, &keys, now(), &mut rng)
                    .unwrap();
                d.apply(&mut ledger, &mut ids, &mut keys, now()).unwrap();
            }
        }
    };
    run(&consents(t));
    let msgs = messages(t, "core");
    let start = Instant::now();
    run(&msgs);
    MESSAGES as f64 / start.elapsed().as_secs_f64()
}

async fn serve_rate(setup: &demo::PracticeSetup, t: i64) -> (f64, Duration, Duration) {
    let config = caduceus_server::Config::load(&setup.config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = caduceus_server::start(config, listener).await.unwrap();
    let client = HookClient::new(server.addr());
    for (b, s) in consents(t) {
        assert_eq!(client.post(&b, Some(&s)).await, 200);
    }
    let queue = Arc::new(Mutex::new(
        messages(t, "serve").into_iter().collect::<VecDeque<_>>(),
    ));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, client) = (queue.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let Some((b, s)) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let t0 = Instant::now();
                assert_eq!(client.post(&b, Some(&s)).await, 200);
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let rate = MESSAGES as f64 / start.elapsed().as_secs_f64();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    server.shutdown().await.unwrap();
    (rate, p(0.50), p(0.99))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("caduceus-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeGraph::start(demo::GRAPH_TOKEN)).unwrap();
    let log = dir.join("serve.log");
    caduceus_server::log::to_file(&log).unwrap();
    let setup = demo::write_practice(&dir, &fake.base_url()).unwrap();
    let t = now() - 600;
    let core = core_rate(&setup, t);
    let (serve, p50, p99) = rt.block_on(serve_rate(&setup, t));
    println!("signed text deliveries, {MESSAGES} messages of {PATIENTS} consented patients");
    println!("core intake (verify, parse, decide+seal, apply):  {core:>8.0} /s");
    println!("caduceus serve ({CLIENTS} clients, loopback, durable commits): {serve:>8.0} /s");
    println!("ratio serve / core: {:.3}", serve / core);
    println!(
        "delivery latency through serve: p50 {:.2} ms, p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    drop(fake);
    let _ = std::fs::remove_dir_all(&dir);
}
