//! `caduceus demo`: a practice's day, end to end, over real HTTP.
//!
//! It writes a configuration (public keys only; the practice's and staff's
//! private keys stay in a `practice-side/` directory the server is never
//! told about), starts a fake Graph API server and `caduceus serve` on free
//! loopback ports with a fresh store, and plays signed webhook deliveries
//! of synthetic patients against it, checking every outcome: the notice,
//! consent by button, a photo fetched and sealed, the doctor opening it
//! from the store while finance cannot, a duplicate ignored, a recall only
//! to patients with recall consent, STOP, an Art. 17 erasure planned per
//! category and carried out, the retention sweep four years later, and the
//! audit log checkpointed, verified and proved.
//!
//! The webhook builders here ([`Patient`], [`text_body`], [`button_body`],
//! [`image_body`]) make bodies in the shape Meta sends (docs/WHATSAPP.md);
//! the tests use them too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use caduceus_core::audit::{AuditKey, PseudonymKind, merkle, note};
use caduceus_core::consent::{ConsentEvent, ConsentMethod, ConsentStatus};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::rand_core::UnwrapErr;
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::whatsapp::{MessageKind, SendDecision, may_send};
use caduceus_store::{Actor, Delivery, Store, StoreError};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::fake_graph::{FakeGraph, media_sha256_b64};
use crate::signing::signature_header;
use crate::{Config, ServerError, now_unix, writer};

/// The practice's WhatsApp Business Account id in the demo.
pub const ACCOUNT_ID: &str = "1029384756102938";
/// The practice's phone number id in the demo.
pub const PHONE_NUMBER_ID: &str = "109876543210987";
/// The demo's verify token.
pub const VERIFY_TOKEN: &str = "demo-verify-token-7c1f";
/// The demo's Graph API token.
pub const GRAPH_TOKEN: &str = "demo-graph-token-5b9e";
/// The demo's app secret.
pub const APP_SECRET: &str = "demo-app-secret-3d2a";
/// The sample image sent as the patient's photo.
pub const SAMPLE_IMAGE: &[u8] = include_bytes!("../../examples/sample-xray.png");

/// A synthetic patient: display name, phone-based id and business-scoped
/// user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// Profile name.
    pub name: String,
    /// `wa_id` (phone number).
    pub wa_id: String,
    /// Business-scoped user id.
    pub user_id: String,
}

impl Patient {
    /// A patient.
    pub fn new(name: &str, wa_id: &str, user_id: &str) -> Self {
        Self {
            name: name.into(),
            wa_id: wa_id.into(),
            user_id: user_id.into(),
        }
    }
}

fn envelope(p: &Patient, message: serde_json::Value) -> Vec<u8> {
    let v = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": ACCOUNT_ID,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "4930000000000", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": p.name}, "wa_id": p.wa_id, "user_id": p.user_id}],
                    "messages": [message],
                }
            }]
        }]
    });
    v.to_string().into_bytes()
}

fn head(p: &Patient, id: &str, ts: i64, kind: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("from".into(), json!(p.wa_id));
    m.insert("from_user_id".into(), json!(p.user_id));
    m.insert("id".into(), json!(id));
    m.insert("timestamp".into(), json!(ts.to_string()));
    m.insert("type".into(), json!(kind));
    m
}

/// A text message webhook body.
pub fn text_body(p: &Patient, id: &str, ts: i64, text: &str) -> Vec<u8> {
    let mut m = head(p, id, ts, "text");
    m.insert("text".into(), json!({ "body": text }));
    envelope(p, serde_json::Value::Object(m))
}

/// A reply-button tap (`interactive` / `button_reply`).
pub fn button_body(p: &Patient, id: &str, ts: i64, payload: &str, title: &str) -> Vec<u8> {
    let mut m = head(p, id, ts, "interactive");
    m.insert(
        "interactive".into(),
        json!({"type": "button_reply", "button_reply": {"id": payload, "title": title}}),
    );
    envelope(p, serde_json::Value::Object(m))
}

/// An image message whose file has SHA-256 `sha256_b64` (base64).
pub fn image_body(p: &Patient, id: &str, ts: i64, media_id: &str, sha256_b64: &str) -> Vec<u8> {
    let mut m = head(p, id, ts, "image");
    m.insert(
        "image".into(),
        json!({"mime_type": "image/png", "sha256": sha256_b64, "id": media_id}),
    );
    envelope(p, serde_json::Value::Object(m))
}

/// A minimal HTTP/1.1 client for loopback (the demo's and tests' "Meta").
#[derive(Debug, Clone)]
pub struct HookClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl HookClient {
    /// A client for the server at `addr`.
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
        }
    }

    /// POST `body` to `/webhook` with the signature header `signature`
    /// (none when `None`); returns the status code (0: no answer).
    pub async fn post(&self, body: &[u8], signature: Option<&str>) -> u16 {
        let mut req = hyper::Request::post(format!("{}/webhook", self.base))
            .header("content-type", "application/json");
        if let Some(s) = signature {
            req = req.header("x-hub-signature-256", s);
        }
        let Ok(req) = req.body(Full::new(Bytes::copy_from_slice(body))) else {
            return 0;
        };
        match self.client.request(req).await {
            Ok(r) => {
                let status = r.status().as_u16();
                let _ = r.into_body().collect().await;
                status
            }
            Err(_) => 0,
        }
    }

    /// POST `body` signed with `secret`.
    pub async fn post_signed(&self, body: &[u8], secret: &[u8]) -> u16 {
        self.post(body, Some(&signature_header(body, secret))).await
    }

    /// GET `path_and_query`; returns (status, body text).
    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        let Ok(req) = hyper::Request::get(format!("{}{path_and_query}", self.base))
            .body(Full::new(Bytes::new()))
        else {
            return (0, String::new());
        };
        match self.client.request(req).await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r
                    .into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes().to_vec())
                    .unwrap_or_default();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
            Err(_) => (0, String::new()),
        }
    }
}

/// The files of a practice set up for `caduceus serve`.
pub struct PracticeSetup {
    /// The configuration file.
    pub config: PathBuf,
    /// The store's database file.
    pub db: PathBuf,
    /// The practice's private key (practice side; not in the configuration).
    pub practice: PrivateKey,
    /// A doctor's private key (practice side).
    pub doctor: PrivateKey,
    /// A finance clerk's private key (practice side).
    pub finance: PrivateKey,
    /// The pseudonym key (shared by the server and the practice side).
    pub pseudonym_key: AuditKey,
}

impl std::fmt::Debug for PracticeSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PracticeSetup")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Write a new file readable by its owner only (every file of a practice
/// setup but `serve.toml` and the notice holds a key or a secret); an
/// existing file is refused, never overwritten.
fn write(path: &Path, text: &str) -> Result<(), ServerError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .map_err(|e| ServerError::Io {
            what: format!("cannot write {}", path.display()),
            source: e,
        })
}

/// Write a practice's configuration into `dir` (keys generated from the
/// operating system's RNG): `serve.toml` and the files it names, with
/// the Graph API at `graph_base`. Private keys go to
/// `dir/practice-side/`, which the configuration never names.
pub fn write_practice(dir: &Path, graph_base: &str) -> Result<PracticeSetup, ServerError> {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let finance = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let pseudonym_key = AuditKey::generate(&mut rng);
    let side = dir.join("practice-side");
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&side).map_err(|e| ServerError::Io {
        what: format!("cannot create {}", side.display()),
        source: e,
    })?;
    write(&side.join("practice.key"), &practice.to_secret_string())?;
    write(&side.join("doctor.key"), &doctor.to_secret_string())?;
    write(&side.join("finance.key"), &finance.to_secret_string())?;
    write(&dir.join("audit.key"), &pseudonym_key.to_secret_string())?;
    write(&dir.join("app-secret.txt"), APP_SECRET)?;
    write(&dir.join("verify-token.txt"), VERIFY_TOKEN)?;
    write(&dir.join("graph-token.txt"), GRAPH_TOKEN)?;
    write(
        &dir.join("notice-de.txt"),
        "Datenschutzhinweis der Zahnarztpraxis Beispiel: Wir verarbeiten Ihre Nachrichten \
         nur zu Ihrer Behandlung. Einzelheiten: https://praxis.example/datenschutz",
    )?;
    let config = format!(
        r#"# caduceus serve configuration (docs/SERVER.md)
listen = "127.0.0.1:0"
store = "practice.db"
practice_key = "{practice}"
pseudonym_key_file = "audit.key"
app_secret_files = ["app-secret.txt"]
verify_token_file = "verify-token.txt"

[[staff]]
key = "{doctor}"
roles = ["doctor"]

[[staff]]
key = "{finance}"
roles = ["finance"]

[notice]
id = "privacy-chat"
version = 1
language = "de"
text_file = "notice-de.txt"
published_at = 1767225600

[graph]
base_url = "{graph_base}"
token_file = "graph-token.txt"
timeout_seconds = 5

[limits]
max_body = 3145728
"#,
        practice = practice.public_key(),
        doctor = doctor.public_key(),
        finance = finance.public_key(),
    );
    let path = dir.join("serve.toml");
    write(&path, &config)?;
    Ok(PracticeSetup {
        config: path,
        db: dir.join("practice.db"),
        practice,
        doctor,
        finance,
        pseudonym_key,
    })
}

/// How the demo went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// Steps run.
    pub steps: usize,
    /// Steps whose outcome was not what the demo expected.
    pub failed: usize,
    /// Audit entries at the end.
    pub audit_entries: u64,
}

struct Steps {
    n: usize,
    failed: usize,
}

impl Steps {
    fn check(&mut self, ok: bool, text: &str) {
        self.n += 1;
        if !ok {
            self.failed += 1;
        }
        println!(
            "{:>2}. {}  {text}",
            self.n,
            if ok { "ok  " } else { "FAIL" }
        );
    }
}

fn staff_actor(key: &AuditKey, id: &str, role: &str) -> Actor {
    Actor {
        pseudonym: key.pseudonym(PseudonymKind::Staff, id),
        role: role.into(),
        source: "practice-pms".into(),
    }
}

/// The record ids of the store whose category is `category`, with their
/// subjects.
fn records_in(store: &Store, category: &str) -> Result<Vec<(String, String)>, ServerError> {
    let mut out = Vec::new();
    for id in store.record_ids()? {
        if let Some(r) = store.record(&id)?
            && r.labels.category == category
        {
            out.push((id, r.labels.subject.clone()));
        }
    }
    Ok(out)
}

/// Run the day in `dir` (which must exist and be empty); prints one line
/// per step.
pub fn run(dir: &Path) -> Result<DemoReport, ServerError> {
    crate::runtime()?.block_on(day(dir))
}

#[allow(clippy::too_many_lines)]
async fn day(dir: &Path) -> Result<DemoReport, ServerError> {
    let fake = FakeGraph::start(GRAPH_TOKEN)
        .await
        .map_err(|e| ServerError::Io {
            what: "cannot start the fake Graph API server".into(),
            source: e,
        })?;
    let setup = write_practice(dir, &fake.base_url())?;
    let log_path = dir.join("serve.log");
    crate::log::to_file(&log_path).map_err(|e| ServerError::Io {
        what: format!("cannot open {}", log_path.display()),
        source: e,
    })?;
    let config = Config::load(&setup.config)?;
    let policy = Policy::parse(DEFAULT_POLICY).map_err(|e| ServerError::Config(e.to_string()))?;
    let notice = config.notice.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| ServerError::Io {
            what: "cannot listen on loopback".into(),
            source: e,
        })?;
    let server = crate::start(config, listener).await?;
    let client = HookClient::new(server.addr());
    let secret = APP_SECRET.as_bytes();
    println!(
        "A practice's day: caduceus serve on {} (store {}, log {}), fake Graph API on {}",
        server.addr(),
        setup.db.display(),
        log_path.display(),
        fake.base_url()
    );
    let mut s = Steps { n: 0, failed: 0 };
    let store = Store::open(&setup.db)?;
    let erika = Patient::new("Erika Beispiel", "4915100000101", "DE.1100000000000000101");
    let max = Patient::new("Max Probe", "4915100000102", "DE.1100000000000000102");
    // Message times lie a little in the past, as when Meta delivers.
    let t0 = now_unix() - 120;

    // 1. Subscription handshake.
    let (st, body) = client
        .get(&format!(
            "/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        ))
        .await;
    let (bad, _) = client
        .get("/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
        .await;
    s.check(
        st == 200 && body == "1158201444" && bad == 403,
        "Meta subscribes the webhook: the challenge is echoed; a wrong verify token gets 403",
    );

    // 2. A new patient writes: notice and consent question, nothing kept.
    let st = client
        .post_signed(
            &text_body(
                &erika,
                "wamid.demo-0001",
                t0,
                "Guten Tag, ich habe seit gestern Zahnschmerzen.",
            ),
            secret,
        )
        .await;
    let notice_sent = wait_for(|| fake.sent().len() >= 2).await
        && fake
            .sent()
            .iter()
            .any(|m| m.to_string().contains("Datenschutzhinweis"));
    s.check(
        st == 200 && notice_sent && store.record_count()? == 0,
        "a new patient writes: she gets the privacy notice and the consent question; her message is not kept (no consent yet)",
    );

    // 3. She consents by button.
    let payload = format!(
        "caduceus.consent.v1:yes-photos:{}:{}:{}",
        notice.id, notice.version, notice.language
    );
    let st = client
        .post_signed(
            &button_body(
                &erika,
                "wamid.demo-0002",
                t0 + 1,
                &payload,
                "Ja, auch Fotos",
            ),
            secret,
        )
        .await;
    let events = store.consent_events()?;
    s.check(
        st == 200 && events.len() == 1 && events[0].purposes.len() == 2,
        "she taps \"Ja, auch Fotos\": consent for treatment communication and clinical photos is recorded",
    );

    // 4. She sends a photo: fetched from the Graph API, sealed, stored.
    fake.add_media("2000000000000001", SAMPLE_IMAGE.to_vec(), "image/png");
    let photo = image_body(
        &erika,
        "wamid.demo-0003",
        t0 + 2,
        "2000000000000001",
        &media_sha256_b64(SAMPLE_IMAGE),
    );
    let st = client.post_signed(&photo, secret).await;
    let photos = records_in(&store, "clinical-photos")?;
    let (_, downloads, _) = fake.counts();
    s.check(
        st == 200 && photos.len() == 1 && downloads == 1,
        &format!(
            "she sends a photo ({} bytes): fetched from the Graph API, its SHA-256 checked while it is sealed, stored sealed",
            SAMPLE_IMAGE.len()
        ),
    );
    let Some((photo_id, erika_subject)) = photos.into_iter().next() else {
        return Err(ServerError::Graph("the photo was not stored".into()));
    };

    // 5. The doctor opens it from the store; finance cannot.
    let mut practice_store = Store::open(&setup.db)?;
    let key = &setup.pseudonym_key;
    let opened = practice_store.open_record_audited(
        &photo_id,
        &setup.doctor,
        &staff_actor(key, "dr.weber", "doctor"),
        now_unix(),
    )?;
    let refused = practice_store.open_record_audited(
        &photo_id,
        &setup.finance,
        &staff_actor(key, "fin.kaya", "finance"),
        now_unix(),
    );
    s.check(
        opened.plaintext == SAMPLE_IMAGE && matches!(refused, Err(StoreError::NoAccess)),
        "the doctor opens the photo from the store (the read is audited first); finance is refused (no-access, audited)",
    );

    // 6. Meta redelivers the photo: nothing is written or fetched again.
    let audit_before = store.audit_size()?;
    let st = client.post_signed(&photo, secret).await;
    let (_, downloads_after, _) = fake.counts();
    s.check(
        st == 200 && downloads_after == downloads && store.audit_size()? == audit_before && store.record_count()? == 1,
        "Meta redelivers the photo's webhook: answered 200, nothing stored, fetched or audited twice",
    );

    // 7. A forged delivery is refused and changes nothing.
    let forged = text_body(
        &erika,
        "wamid.demo-0666",
        t0 + 3,
        "Bitte alle Daten an mich senden.",
    );
    let st = client.post_signed(&forged, b"not-the-app-secret").await;
    s.check(
        st == 401 && store.audit_size()? == audit_before,
        "a delivery signed with another secret gets 401 and changes nothing",
    );

    // 8. A second patient consents to chat only; both write.
    let mut ok = client
        .post_signed(
            &text_body(
                &max,
                "wamid.demo-0101",
                t0 + 4,
                "Hallo, ist morgen ein Termin frei?",
            ),
            secret,
        )
        .await
        == 200;
    let yes = format!(
        "caduceus.consent.v1:yes:{}:{}:{}",
        notice.id, notice.version, notice.language
    );
    ok &= client
        .post_signed(
            &button_body(&max, "wamid.demo-0102", t0 + 5, &yes, "Ja"),
            secret,
        )
        .await
        == 200;
    ok &= client
        .post_signed(
            &text_body(&max, "wamid.demo-0103", t0 + 6, "Ich komme um 10 Uhr."),
            secret,
        )
        .await
        == 200;
    ok &= client
        .post_signed(
            &text_body(&erika, "wamid.demo-0004", t0 + 7, "Danke, bis morgen!"),
            secret,
        )
        .await
        == 200;
    let chats = records_in(&store, "chat-messages")?;
    s.check(
        ok && chats.len() == 2,
        "a second patient consents to chat only; both write: two chat messages are stored sealed",
    );
    let Some(max_subject) = chats
        .iter()
        .map(|c| c.1.clone())
        .find(|sub| *sub != erika_subject)
    else {
        return Err(ServerError::Graph(
            "the second patient's message was not stored".into(),
        ));
    };

    // 9. Reception records recall consent for the first patient (paper
    // form); the recall goes only to her.
    let reception = key.pseudonym(PseudonymKind::Staff, "reception.lang");
    let mut ledger = writer::ledger_from_store(&notice, &store, now_unix())?;
    let recall = ConsentEvent {
        id: "demo-recall-0001".into(),
        subject: erika_subject.clone(),
        purposes: vec!["recall".into()],
        status: ConsentStatus::Given,
        method: ConsentMethod::InPersonDocumented,
        notice: ledger.notice_ref(&notice.id, notice.version, &notice.language),
        channel: "reception".into(),
        evidence: Some("signed form, scanned".into()),
        recorded_by: reception.as_str().to_owned(),
        time: now_unix(),
        expires_at: None,
    };
    ledger
        .append(recall.clone(), now_unix())
        .map_err(|e| ServerError::Store(StoreError::Consent(e)))?;
    let mut d = Delivery::new(now_unix());
    d.consent_events.push(recall);
    practice_store.commit_delivery(&d)?;
    let state = store.outbound_state()?;
    let template = MessageKind::Template {
        name: "recall_reminder",
        language: "de",
        category: "UTILITY",
    };
    let to_erika = may_send(
        &ledger,
        &state,
        &erika_subject,
        "recall",
        template,
        now_unix(),
    );
    let to_max = may_send(
        &ledger,
        &state,
        &max_subject,
        "recall",
        template,
        now_unix(),
    );
    s.check(
        to_erika.allowed() && !to_max.allowed(),
        &format!(
            "reception records recall consent for patient 1 (paper form); recall reminders through the outbound gate: patient 1 {}, patient 2 {}",
            gate(&to_erika),
            gate(&to_max)
        ),
    );

    // 10. She writes STOP: no more recalls.
    let st = client
        .post_signed(
            &text_body(&erika, "wamid.demo-0005", t0 + 8, "STOP"),
            secret,
        )
        .await;
    let ledger = writer::ledger_from_store(&notice, &store, now_unix())?;
    let after = may_send(
        &ledger,
        &store.outbound_state()?,
        &erika_subject,
        "recall",
        template,
        now_unix(),
    );
    s.check(
        st == 200 && !after.allowed(),
        &format!(
            "she writes STOP: recall and marketing stop; a recall to her now: {}",
            gate(&after)
        ),
    );

    // 11. She asks for erasure: planned per category, carried out.
    let plan = practice_store.plan_erasure(&erika_subject, now_unix(), &policy)?;
    let shred: Vec<&str> = plan
        .categories
        .iter()
        .filter(|c| c.shred_key)
        .map(|c| c.category.as_str())
        .collect();
    let kept: Vec<&str> = plan
        .categories
        .iter()
        .filter(|c| !c.keep.is_empty())
        .map(|c| c.category.as_str())
        .collect();
    println!("    erasure plan:");
    for line in plan.text_en(&policy).lines() {
        println!("      {line}");
    }
    let dpo = staff_actor(key, "dpo.schmidt", "dpo");
    let summary = practice_store.erase_subject(&erika_subject, &shred, now_unix(), &dpo)?;
    let her_chat = chats
        .iter()
        .find(|c| c.1 == erika_subject)
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let chat_gone = matches!(
        practice_store.open_record(&her_chat, &setup.doctor),
        Err(StoreError::KeyShredded)
    );
    let photo_kept = practice_store.open_record(&photo_id, &setup.doctor).is_ok();
    s.check(
        shred == ["chat-messages"] && kept == ["clinical-photos"] && summary.shredded.len() == 1 && chat_gone && photo_kept,
        "she asks for erasure (Art. 17): her chat key is shredded now; the photo is kept as treatment documentation (Art. 17(3)(b), § 630f BGB)",
    );

    // 12. The retention sweep four years later.
    let later = now_unix() + 4 * 365 * 86_400 + 86_400;
    let retention = staff_actor(key, "retention-service", "retention-service");
    let swept = practice_store.sweep(later, &policy, &retention)?;
    let left = store.record_count()?;
    s.check(
        swept.deleted.len() == 2 && left == 1,
        &format!(
            "the retention sweep runs on {}: {} chat messages (3 years) are due and deleted; {left} record left, the photo (10 years after the end of treatment)",
            swept.today,
            swept.deleted.len(),
        ),
    );

    // 13. Audit: checkpoint, verify, prove the first entry.
    let mut rng = UnwrapErr(getrandom::SysRng);
    let signer = note::NoteSigner::generate("praxis-beispiel-audit", &mut rng)
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let cp = practice_store.audit_checkpoint()?;
    let signed = cp
        .sign(&[&signer])
        .map_err(|e| ServerError::Config(e.to_string()))?;
    practice_store.save_checkpoint(&cp, &signed)?;
    let reopened = caduceus_core::audit::Checkpoint::open(&signed, &[signer.verifier()])
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let report = practice_store.verify_audit(&[reopened])?;
    let first = practice_store.audit_entries(0, 1)?;
    let proof = practice_store.inclusion_proof(0, cp.size)?;
    let proved = first.first().is_some_and(|e| {
        merkle::verify_inclusion(&merkle::leaf_hash(e), 0, cp.size, &proof, &cp.root).is_ok()
    });
    s.check(
        report.is_ok() && proved,
        &format!(
            "the audit log ({} entries) is checkpointed and signed, verifies against the checkpoint, and the first entry's inclusion proof ({} hashes) checks",
            cp.size,
            proof.len()
        ),
    );

    let audit_entries = cp.size;
    drop(practice_store);
    drop(store);
    server.shutdown().await?;
    Ok(DemoReport {
        steps: s.n,
        failed: s.failed,
        audit_entries,
    })
}

/// The gate's answer in short: `template`, or `forbidden (withdrawn)`.
fn gate(d: &SendDecision) -> String {
    match d {
        SendDecision::Forbidden(f) => format!("forbidden ({})", f.code()),
        other => other.code().to_owned(),
    }
}

/// Wait up to 5 s for `cond` (replies are sent after the 200).
async fn wait_for(cond: impl Fn() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
