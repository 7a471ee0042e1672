//! `caduceus serve` as a process: killed with SIGKILL at random moments
//! during a stream of deliveries and restarted (every 200 is in the store,
//! nothing is half-written, re-sending the rest completes the set without
//! duplicates), stopped with SIGTERM while deliveries are in flight, on a
//! full disk, and `caduceus demo` with its logs searched for personal data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caduceus_server::demo::{self, Patient, button_body, text_body};
use caduceus_server::signing::signature_header;
use caduceus_store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_caduceus");

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let p = std::env::temp_dir().join(format!("caduceus-serve-{tag}-{}", hex::encode(b)));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A running `caduceus serve` child and the port it announced.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The whole log, once the process has exited and its pipe is read.
    fn final_log(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.log.lock().unwrap().clone()
    }
}

fn start(config: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("\"event\":\"listening\"") {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let _ = tx.send(v["port"].as_u64().unwrap());
                }
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        })
    };
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the server did not start: {}", log.lock().unwrap()));
    Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], u16::try_from(port).unwrap())),
        log,
        reader: Some(reader),
    }
}

/// POST a signed body; the status, or 0 when the connection failed.
fn post(addr: SocketAddr, body: &[u8]) -> u16 {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return 0;
    };
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let sig = signature_header(body, demo::APP_SECRET.as_bytes());
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if c.write_all(head.as_bytes())
        .and_then(|()| c.write_all(body))
        .is_err()
    {
        return 0;
    }
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn patient(n: u32) -> Patient {
    Patient::new(
        &format!("Prozess Person {n}"),
        &format!("49152000{n:05}"),
        &format!("DE.44000000000000{n:05}"),
    )
}

/// Consent of patients 0..n through the server.
fn consent_all(addr: SocketAddr, n: u32, t: i64) -> Vec<Patient> {
    let payload = "caduceus.consent.v1:yes:privacy-chat:1:de";
    (0..n)
        .map(|i| {
            let p = patient(i);
            assert_eq!(
                post(addr, &text_body(&p, &format!("wamid.hi-{i}"), t, "Hallo")),
                200
            );
            assert_eq!(
                post(
                    addr,
                    &button_body(&p, &format!("wamid.ja-{i}"), t + 1, payload, "Ja")
                ),
                200
            );
            p
        })
        .collect()
}

fn setup(tag: &str) -> (TempDir, demo::PracticeSetup) {
    let dir = TempDir::new(tag);
    let s = demo::write_practice(&dir.0, "http://127.0.0.1:9/v23.0").unwrap();
    (dir, s)
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_delivery_and_resending_completes_the_set() {
    const MESSAGES: usize = 240;
    const KILLS: usize = 24;
    let (_dir, s) = setup("kill");
    let t = now() - 900;
    let mut server = start(&s.config);
    let patients = consent_all(server.addr, 8, t);
    let bodies: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| {
            let p = &patients[i % patients.len()];
            text_body(
                p,
                &format!("wamid.kill-{i:04}"),
                t + 10 + i as i64,
                &format!("Befund {i}"),
            )
        })
        .collect();
    let mut acked = vec![false; MESSAGES];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut mid_stream = 0;
    for kill in 0..KILLS {
        // Two senders stream the unacknowledged messages first, then every
        // message again (redeliveries), round and round, until the server
        // dies under them.
        let mut order: Vec<usize> = (0..MESSAGES).filter(|i| !acked[*i]).collect();
        order.extend((0..MESSAGES).filter(|i| acked[*i]));
        let order = Arc::new(order);
        let results = Arc::new(Mutex::new(Vec::new()));
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut senders = Vec::new();
        for _ in 0..2 {
            let (order, next, results, addr, bodies) = (
                order.clone(),
                next.clone(),
                results.clone(),
                server.addr,
                bodies.clone(),
            );
            senders.push(std::thread::spawn(move || {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let i = order[k % order.len()];
                    let st = post(addr, &bodies[i]);
                    results.lock().unwrap().push((i, st));
                    if st == 0 {
                        break;
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(5 + rand(60)));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for h in senders {
            h.join().unwrap();
        }
        let results = results.lock().unwrap();
        if results.iter().any(|(_, st)| *st == 0) {
            mid_stream += 1;
        }
        for (i, st) in results.iter() {
            assert!(matches!(st, 200 | 0), "delivery {i} got {st}");
            if *st == 200 {
                acked[*i] = true;
            }
        }
        // After the kill: the store opens, verifies, and holds every
        // acknowledged message (and never one twice).
        let store = Store::open(&s.db).unwrap();
        assert!(
            store.verify_audit(&[]).unwrap().is_ok(),
            "after kill {kill}"
        );
        let n = store.record_count().unwrap() as usize;
        let acked_n = acked.iter().filter(|a| **a).count();
        assert!(
            n >= acked_n && n <= MESSAGES,
            "kill {kill}: {n} records, {acked_n} acknowledged"
        );
        drop(store);
        server = start(&s.config);
    }
    // The kills fell into the stream (a sender's connection broke), not
    // between streams.
    assert!(
        mid_stream >= 20,
        "only {mid_stream} of {KILLS} kills interrupted a delivery"
    );
    // Re-send everything not acknowledged: the set completes.
    for (i, body) in bodies.iter().enumerate() {
        if !acked[i] {
            assert_eq!(post(server.addr, body), 200);
        }
    }
    // And everything once more: all duplicates.
    let store = Store::open(&s.db).unwrap();
    let audit = store.audit_size().unwrap();
    for body in bodies.iter().step_by(7) {
        assert_eq!(post(server.addr, body), 200);
    }
    assert_eq!(
        store.audit_size().unwrap(),
        audit,
        "redeliveries write nothing"
    );
    assert_eq!(store.record_count().unwrap() as usize, MESSAGES);
    let ids = store.record_ids().unwrap();
    let mut opened = std::collections::BTreeSet::new();
    for id in &ids {
        let o = store.open_record(id, &s.doctor).unwrap();
        assert!(opened.insert(o.plaintext), "no message is stored twice");
    }
    assert_eq!(opened.len(), MESSAGES);
    assert!(store.verify_audit(&[]).unwrap().is_ok());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

fn sigterm(child: &Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn sigterm_finishes_the_deliveries_in_flight_and_exits_cleanly() {
    let (_dir, s) = setup("term");
    let t = now() - 900;
    let mut server = start(&s.config);
    let patients = consent_all(server.addr, 4, t);
    let results = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    for (k, p) in patients.iter().cloned().enumerate() {
        let (results, addr) = (results.clone(), server.addr);
        senders.push(std::thread::spawn(move || {
            for i in 0..200usize {
                let body = text_body(&p, &format!("wamid.term-{k}-{i}"), t + 10, "Termin?");
                let st = post(addr, &body);
                results.lock().unwrap().push(st);
                if st == 0 {
                    break;
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(150));
    sigterm(&server.child);
    let started = Instant::now();
    let status = server.child.wait().unwrap();
    for h in senders {
        h.join().unwrap();
    }
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let results = results.lock().unwrap();
    let ok = results.iter().filter(|s| **s == 200).count();
    assert!(ok > 0);
    // Every request that was answered was answered 200 (none cut off with
    // a 5xx); later ones found the port closed.
    assert!(results.iter().all(|s| matches!(s, 200 | 0)), "{results:?}");
    let store = Store::open(&s.db).unwrap();
    assert_eq!(store.record_count().unwrap() as usize, ok);
    assert!(store.verify_audit(&[]).unwrap().is_ok());
    // The WAL was checkpointed when the store was closed.
    let log = server.final_log();
    assert!(log.contains("\"event\":\"stopped\""), "{log}");
}

#[test]
fn serve_check_validates_and_refuses() {
    let (_dir, s) = setup("check");
    let out = Command::new(BIN)
        .args(["serve", "--check", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is valid") && text.contains("2 staff key(s)"),
        "{text}"
    );
    let conf = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        conf.replace(
            &s.doctor.public_key().to_string(),
            &s.doctor.to_secret_string(),
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--check", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds a private key"), "{err}");
    assert!(!err.contains(&*s.doctor.to_secret_string()));
}

/// Whether a small tmpfs can be mounted (root): else a NOT RUN line.
fn mount_tmpfs(mnt: &Path, size: &str) -> bool {
    std::fs::create_dir_all(mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let what = "caduceus serve on a full disk";
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/not-run.log"
            ))
        {
            let _ = writeln!(f, "{what}: NOT RUN (needs root to mount a small tmpfs)");
        }
        eprintln!("NOT RUN: {what} (needs root to mount a small tmpfs)");
    }
    ok
}

#[test]
fn a_full_disk_gets_503_writes_nothing_half_and_recovers_when_space_returns() {
    let dir = TempDir::new("full");
    let mnt = dir.0.join("mnt");
    if !mount_tmpfs(&mnt, "16m") {
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(mnt.clone());
    let s = demo::write_practice(&mnt, "http://127.0.0.1:9/v23.0").unwrap();
    let t = now() - 900;
    let mut server = start(&s.config);
    let patients = consent_all(server.addr, 2, t);
    // Fill the disk.
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let delivery = |i: usize| {
        text_body(
            &patients[i % 2],
            &format!("wamid.full-{i}"),
            t + 10,
            &"x".repeat(3000),
        )
    };
    let mut statuses = Vec::new();
    for i in 0..40 {
        let body = delivery(i);
        statuses.push(post(server.addr, &body));
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 503)),
        "{statuses:?}"
    );
    let stored_full = statuses.iter().filter(|s| **s == 200).count();
    // Space returns: the same deliveries go through, no duplicates.
    std::fs::remove_file(&filler).unwrap();
    for i in 0..40 {
        let body = delivery(i);
        let st = post(server.addr, &body);
        assert_eq!(st, 200, "{}", server.log.lock().unwrap());
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let store = Store::open(&s.db).unwrap();
    assert!(store.verify_audit(&[]).unwrap().is_ok());
    assert_eq!(
        store.record_count().unwrap(),
        40,
        "{stored_full} went through while full"
    );
}

#[test]
fn the_demo_runs_and_its_output_and_logs_hold_no_personal_data() {
    let dir = TempDir::new("demo");
    let d = dir.0.join("day");
    let out = Command::new(BIN)
        .args(["demo", "--dir"])
        .arg(&d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Demo finished: all 13 steps as expected"),
        "{stdout}"
    );
    assert_eq!(stdout.matches(" ok  ").count(), 13);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    assert!(log.lines().count() > 20);
    for line in log.lines() {
        let _: serde_json::Value = serde_json::from_str(line).unwrap();
    }
    // The demo's patients, numbers, ids and texts (server/src/demo.rs).
    let personal = [
        "4915100000101",
        "4915100000102",
        "Erika",
        "Beispiel",
        "Max Probe",
        "DE.1100000000000000101",
        "DE.1100000000000000102",
        "Zahnschmerzen",
        "Termin",
        "10 Uhr",
        "Danke",
        "wamid.",
        "2000000000000001",
        "STOP",
        demo::APP_SECRET,
        demo::GRAPH_TOKEN,
        demo::VERIFY_TOKEN,
        "sbj-",
    ];
    for word in personal {
        assert!(!log.contains(word), "the server log contains {word}");
        assert!(!stderr.contains(word), "stderr contains {word}");
    }
    for word in &personal[..13] {
        assert!(!stdout.contains(word), "the demo's output contains {word}");
    }
}
