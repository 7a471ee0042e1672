//! A fake Graph API server on loopback, for the demo and the tests: it
//! serves `GET /v23.0/<MEDIA_ID>` (the lookup, answering a download URL on
//! itself), `GET /download/<MEDIA_ID>` (the bytes), and records
//! `POST /v23.0/<PHONE_NUMBER_ID>/messages` (the replies). Every request
//! must carry the configured bearer token. Faults can be set per media id:
//! HTTP errors, slow answers, wrong bytes.
//!
//! It is not a model of Meta's servers beyond these three requests; it
//! binds 127.0.0.1 only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the fake does wrong for one media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The lookup answers this HTTP status the next `times` times.
    LookupStatus {
        /// The status, e.g. 500.
        status: u16,
        /// How many times (then it answers normally).
        times: u32,
    },
    /// The download answers this HTTP status the next `times` times.
    DownloadStatus {
        /// The status, e.g. 404.
        status: u16,
        /// How many times.
        times: u32,
    },
    /// The download waits this long before answering, the next `times`
    /// times.
    Slow {
        /// The delay.
        delay: Duration,
        /// How many times.
        times: u32,
    },
    /// The download serves other bytes than the webhook's hash names, the
    /// next `times` times.
    WrongBytes {
        /// How many times.
        times: u32,
    },
}

#[derive(Debug, Default)]
struct Inner {
    media: HashMap<String, (Vec<u8>, String)>,
    faults: HashMap<String, Fault>,
    sent: Vec<serde_json::Value>,
    lookups: u64,
    downloads: u64,
    unauthorized: u64,
}

/// A running fake Graph API server.
pub struct FakeGraph {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakeGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGraph")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    token: Arc<String>,
    addr: SocketAddr,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The webhook's `sha256` of `bytes` (base64, as Meta sends it).
pub fn media_sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

impl FakeGraph {
    /// Start on a free loopback port; requests must carry `Bearer <token>`.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = Shared {
            inner: inner.clone(),
            token: Arc::new(token.to_owned()),
            addr,
        };
        let app = Router::new()
            .route("/v23.0/{id}", get(lookup))
            .route("/download/{id}", get(download))
            .route("/v23.0/{phone}/messages", post(send))
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            inner,
            stop: Some(stop),
        })
    }

    /// The base URL to configure (`graph.base_url`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v23.0", self.addr)
    }

    /// Serve `bytes` as media `id`.
    pub fn add_media(&self, id: &str, bytes: Vec<u8>, mime: &str) {
        lock(&self.inner)
            .media
            .insert(id.to_owned(), (bytes, mime.to_owned()));
    }

    /// Set (or replace) the fault of media `id`.
    pub fn set_fault(&self, id: &str, fault: Fault) {
        lock(&self.inner).faults.insert(id.to_owned(), fault);
    }

    /// The message bodies posted so far.
    pub fn sent(&self) -> Vec<serde_json::Value> {
        lock(&self.inner).sent.clone()
    }

    /// Media lookups, downloads and requests without the right token so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        let i = lock(&self.inner);
        (i.lookups, i.downloads, i.unauthorized)
    }

    /// Stop serving.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.stop();
    }
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", s.token));
    if !ok {
        lock(&s.inner).unauthorized += 1;
    }
    ok
}

/// Take one use of a counted fault, if it matches `pick`.
fn take_fault<T>(i: &mut Inner, id: &str, pick: impl Fn(&Fault) -> Option<T>) -> Option<T> {
    let f = i.faults.get_mut(id)?;
    let value = pick(f)?;
    let times = match f {
        Fault::LookupStatus { times, .. }
        | Fault::DownloadStatus { times, .. }
        | Fault::Slow { times, .. }
        | Fault::WrongBytes { times } => times,
    };
    *times = times.saturating_sub(1);
    if *times == 0 {
        i.faults.remove(id);
    }
    Some(value)
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn lookup(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut i = lock(&s.inner);
    i.lookups += 1;
    if let Some(status) = take_fault(&mut i, &id, |f| match f {
        Fault::LookupStatus { status, .. } => Some(*status),
        _ => None,
    }) {
        return code(status).into_response();
    }
    let Some((bytes, mime)) = i.media.get(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{}/download/{id}", s.addr),
        "mime_type": mime,
        "sha256": media_sha256_b64(bytes),
        "file_size": bytes.len().to_string(),
        "id": id,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn download(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (status, delay, wrong, bytes) = {
        let mut i = lock(&s.inner);
        i.downloads += 1;
        let status = take_fault(&mut i, &id, |f| match f {
            Fault::DownloadStatus { status, .. } => Some(*status),
            _ => None,
        });
        let delay = take_fault(&mut i, &id, |f| match f {
            Fault::Slow { delay, .. } => Some(*delay),
            _ => None,
        });
        let wrong = take_fault(&mut i, &id, |f| match f {
            Fault::WrongBytes { .. } => Some(()),
            _ => None,
        });
        (status, delay, wrong, i.media.get(&id).map(|m| m.0.clone()))
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if let Some(status) = status {
        return code(status).into_response();
    }
    let Some(mut bytes) = bytes else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if wrong.is_some()
        && let Some(b) = bytes.last_mut()
    {
        *b ^= 0x01;
    }
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

async fn send(
    State(s): State<Shared>,
    Path(_phone): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let n = {
        let mut i = lock(&s.inner);
        i.sent.push(v);
        i.sent.len()
    };
    let answer = serde_json::json!({
        "messaging_product": "whatsapp",
        "messages": [{"id": format!("wamid.fake-{n}")}],
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}
