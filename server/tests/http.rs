//! `caduceus serve` over real HTTP: what each kind of bad request gets and
//! that it changes nothing, media fetched and sealed against the fake Graph
//! API with its faults, and that nothing the server holds opens a record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use caduceus_core::audit::{AuditEntry, Outcome};
use caduceus_core::keys::PrivateKey;
use caduceus_server::demo::{self, Patient, image_body, text_body};
use caduceus_server::fake_graph::{Fault, media_sha256_b64};
use caduceus_server::{Config, ServerError};
use caduceus_store::Store;
use common::{Practice, now};

/// What the store holds, in counts: nothing may change on a refusal.
fn counts(s: &Store) -> (u64, u64, usize) {
    (
        s.audit_size().unwrap(),
        s.record_count().unwrap(),
        s.consent_events().unwrap().len(),
    )
}

/// Send raw bytes as one request; the status code of the answer.
fn raw(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer (and close) before it has read everything.
    let _ = c.write_all(request);
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_401_413_400_and_change_nothing() {
    let mut p = Practice::start_with("bad", |t| {
        t.replace("max_body = 3145728", "max_body = 4096")
    })
    .await;
    let patient = Patient::new("Anna Test", "4915100099901", "DE.3300000000000000001");
    let body = text_body(&patient, "wamid.bad-1", now() - 60, "Ich habe Schmerzen");
    let store = p.store();
    let before = counts(&store);

    // No signature, a wrong one, a malformed one: 401.
    assert_eq!(p.client.post(&body, None).await, 401);
    assert_eq!(p.client.post_signed(&body, b"wrong-secret").await, 401);
    assert_eq!(p.client.post(&body, Some("sha256=zz")).await, 401);
    // A signature over other bytes (the body changed in transit): 401.
    let sig = caduceus_server::signing::signature_header(&body, demo::APP_SECRET.as_bytes());
    let mut flipped = body.clone();
    flipped[40] ^= 1;
    assert_eq!(p.client.post(&flipped, Some(&sig)).await, 401);

    // Over the limit: by Content-Length, before the body is read...
    let big = vec![b' '; 5000];
    assert_eq!(
        p.client
            .post_signed(&big, demo::APP_SECRET.as_bytes())
            .await,
        413
    );
    let addr = p.server.as_ref().unwrap().addr();
    let announced = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{";
    assert_eq!(raw(addr, announced), 413);
    // ... and chunked, without a length: cut off at the limit.
    let mut chunked =
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"800\r\n");
        chunked.extend(std::iter::repeat_n(b'a', 0x800));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(addr, &chunked), 413);

    // Signed but not a webhook: 400.
    for junk in [&b"{\"object\":"[..], b"[1,2,3]", b"\xff\xfe\x00"] {
        assert_eq!(p.post(junk).await, 400, "{junk:?}");
    }
    assert_eq!(counts(&store), before);

    // The real one goes through.
    assert_eq!(p.post(&body).await, 200);
    assert!(counts(&store).0 > before.0);
    let c = p.server.as_ref().unwrap().counters();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(c.unauthorized.load(Relaxed), 4);
    assert_eq!(c.too_large.load(Relaxed), 3);
    assert_eq!(c.bad_request.load(Relaxed), 3);
    assert_eq!(c.ok.load(Relaxed), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_handshake_needs_the_verify_token() {
    let mut p = Practice::start("handshake").await;
    let ok = format!(
        "/webhook?hub.mode=subscribe&hub.verify_token={}&hub.challenge=424242",
        demo::VERIFY_TOKEN
    );
    assert_eq!(p.client.get(&ok).await, (200, "424242".to_owned()));
    for bad in [
        "/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
        "/webhook?hub.mode=unsubscribe&hub.verify_token=demo-verify-token-7c1f&hub.challenge=1",
        "/webhook",
    ] {
        assert_eq!(p.client.get(bad).await.0, 403, "{bad}");
    }
    p.stop().await;
}

fn failed_media_entries(s: &Store) -> Vec<String> {
    let n = s.audit_size().unwrap();
    s.audit_entries(0, n)
        .unwrap()
        .iter()
        .filter_map(
            |b| match AuditEntry::from_bytes(b).unwrap().event.result() {
                Outcome::Failed(r) => Some(r.clone()),
                _ => None,
            },
        )
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_fetched_sealed_and_opens_and_a_wrong_hash_is_never_stored() {
    let mut p = Practice::start("media").await;
    let patient = p.consented(1).await;
    let photo = b"\x89PNG synthetic photo bytes".repeat(5000);
    p.fake
        .add_media("3000000000000001", photo.clone(), "image/png");
    let body = image_body(
        &patient,
        "wamid.photo-1",
        now() - 30,
        "3000000000000001",
        &media_sha256_b64(&photo),
    );
    let store = p.store();

    // The Graph server serves other bytes (both attempts): 503, no record,
    // the failure audited.
    p.fake
        .set_fault("3000000000000001", Fault::WrongBytes { times: 2 });
    assert_eq!(p.post(&body).await, 503);
    assert_eq!(store.record_count().unwrap(), 0);
    assert_eq!(failed_media_entries(&store), ["media-hash-mismatch"]);
    let media_dir = store.media_dir().to_owned();
    let files = std::fs::read_dir(&media_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        files, 0,
        "nothing of the bad bytes is left in the media directory"
    );

    // The lookup fails once: the second attempt in the same delivery works.
    p.fake.set_fault(
        "3000000000000001",
        Fault::LookupStatus {
            status: 500,
            times: 1,
        },
    );
    assert_eq!(p.post(&body).await, 200);
    assert_eq!(store.record_count().unwrap(), 1);
    let id = store.record_ids().unwrap().remove(0);
    let opened = store.open_record(&id, &p.setup.doctor).unwrap();
    assert_eq!(opened.plaintext, photo);
    assert_eq!(opened.header.labels.category, "clinical-photos");
    assert!(matches!(
        store.open_record(&id, &p.setup.finance),
        Err(caduceus_store::StoreError::NoAccess)
    ));
    // Redelivered: not fetched again.
    let (_, downloads, _) = p.fake.counts();
    assert_eq!(p.post(&body).await, 200);
    assert_eq!(p.fake.counts().1, downloads);
    assert_eq!(
        p.fake.counts().2,
        0,
        "every Graph request carried the token"
    );
    assert!(store.verify_audit(&[]).unwrap().is_ok());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_failing_graph_answers_are_503_and_the_redelivery_completes() {
    let mut p = Practice::start_with("slow", |t| {
        t.replace("timeout_seconds = 5", "timeout_seconds = 1")
    })
    .await;
    let patient = p.consented(2).await;
    let photo = vec![7u8; 200_000];
    p.fake
        .add_media("3000000000000002", photo.clone(), "image/png");
    let body = image_body(
        &patient,
        "wamid.photo-2",
        now() - 30,
        "3000000000000002",
        &media_sha256_b64(&photo),
    );
    let store = p.store();
    p.fake.set_fault(
        "3000000000000002",
        Fault::Slow {
            delay: Duration::from_secs(2),
            times: 2,
        },
    );
    assert_eq!(p.post(&body).await, 503);
    p.fake.set_fault(
        "3000000000000002",
        Fault::DownloadStatus {
            status: 404,
            times: 2,
        },
    );
    assert_eq!(p.post(&body).await, 503);
    assert_eq!(store.record_count().unwrap(), 0);
    assert_eq!(failed_media_entries(&store), ["graph", "graph"]);
    // Meta redelivers once the Graph API is well again.
    assert_eq!(p.post(&body).await, 200);
    assert_eq!(store.record_count().unwrap(), 1);
    let id = store.record_ids().unwrap().remove(0);
    assert_eq!(
        store.open_record(&id, &p.setup.doctor).unwrap().plaintext,
        photo
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_server_holds_opens_a_record() {
    let mut p = Practice::start("noopen").await;
    let patient = p.consented(3).await;
    assert_eq!(
        p.post(&text_body(
            &patient,
            "wamid.t-3",
            now() - 20,
            "Zahnschmerzen links"
        ))
        .await,
        200
    );
    p.stop().await;
    let store = p.store();
    let id = store.record_ids().unwrap().remove(0);
    // Every file of the server's side (all but practice-side/) and every
    // line in it is tried as an identity: none is a private key.
    let mut tried = 0;
    for entry in std::fs::read_dir(p.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir()
            || path
                .extension()
                .is_some_and(|x| x == "db" || x == "db-wal" || x == "db-shm")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            for word in line.split(['"', ' ', '=']) {
                tried += 1;
                assert!(
                    PrivateKey::from_secret_str(word.trim()).is_err(),
                    "{}",
                    path.display()
                );
            }
        }
    }
    assert!(tried > 20);
    // The database holds no private key either: the secret strings of the
    // practice's and staff's keys do not occur in its bytes.
    let db = std::fs::read(&p.setup.db).unwrap();
    for k in [&p.setup.practice, &p.setup.doctor, &p.setup.finance] {
        let secret = k.secret_bytes();
        assert!(!db.windows(32).any(|w| w == secret));
    }
    // The practice side opens it.
    assert!(store.open_record(&id, &p.setup.practice).is_ok());

    // A configuration with a private key where a public key belongs, or as
    // a secret file, is refused.
    let text = std::fs::read_to_string(&p.setup.config).unwrap();
    let public = p.setup.practice.public_key().to_string();
    let secret = p.setup.practice.to_secret_string();
    let bad = text.replace(&public, &secret);
    assert!(matches!(
        Config::parse(&bad, p.dir.path()),
        Err(ServerError::PrivateKeyInConfig(_))
    ));
    std::fs::write(p.dir.path().join("app-secret.txt"), secret.as_bytes()).unwrap();
    assert!(matches!(
        Config::load(&p.setup.config),
        Err(ServerError::PrivateKeyInConfig(_))
    ));
}

#[test]
fn configuration_mistakes_are_named() {
    let dir = common::TempDir::new("config");
    let setup = demo::write_practice(dir.path(), "http://127.0.0.1:9/v23.0").unwrap();
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let cases = [
        (text.replace("store = ", "stor = "), "unknown field"),
        (
            text.replace("http://127.0.0.1:9", "http://graph.example"),
            "https",
        ),
        (
            text.replace("listen = \"127.0.0.1:0\"", "listen = \"everywhere\""),
            "listen",
        ),
        (
            text.replace("max_body = 3145728", "max_body = 99999999"),
            "max_body",
        ),
        (
            text.replace("app-secret.txt", "missing.txt"),
            "cannot open app secret file",
        ),
        (
            text.replace(
                &setup.doctor.public_key().to_string(),
                &setup.practice.public_key().to_string(),
            ),
            "expected a staff public key",
        ),
    ];
    for (t, want) in cases {
        let e = Config::parse(&t, dir.path()).unwrap_err().to_string();
        assert!(e.contains(want), "{e} should say {want}");
        assert!(!e.contains(demo::APP_SECRET) && !e.contains(demo::GRAPH_TOKEN));
    }
    let ok = Config::parse(&text, dir.path()).unwrap();
    let debug = format!("{ok:?}");
    assert!(
        !debug.contains(demo::APP_SECRET)
            && !debug.contains(demo::GRAPH_TOKEN)
            && !debug.contains(demo::VERIFY_TOKEN)
    );
    assert!(
        caduceus_server::check(&ok)
            .unwrap()
            .schema_version
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed_and_the_server_stays_usable() {
    let mut p = Practice::start_with("conns", |t| {
        t.replace(
            "max_body = 3145728",
            "max_body = 3145728\nmax_connections = 2",
        )
    })
    .await;
    let addr = p.server.as_ref().unwrap().addr();
    // Two idle connections (no request yet) take both slots.
    let idle: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = std::net::TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 16];
    assert!(
        matches!(third.read(&mut buf), Ok(0) | Err(_)),
        "the third connection is closed unanswered"
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, body) = p.client.get("/healthz").await;
    assert_eq!((st, body.as_str()), (200, "ok\n"));
    p.stop().await;
}

#[cfg(unix)]
#[test]
fn a_practice_setup_keeps_its_keys_and_secrets_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::TempDir::new("modes");
    demo::write_practice(dir.path(), "http://127.0.0.1:9/v23.0").unwrap();
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("practice-side"), 0o700);
    for f in [
        "practice-side/practice.key",
        "practice-side/doctor.key",
        "practice-side/finance.key",
        "audit.key",
        "app-secret.txt",
        "verify-token.txt",
        "graph-token.txt",
    ] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
    // A second setup into the same directory overwrites nothing.
    assert!(demo::write_practice(dir.path(), "http://127.0.0.1:9/v23.0").is_err());
}
