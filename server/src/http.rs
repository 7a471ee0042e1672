//! The HTTP side: `GET /webhook` (subscription handshake), `POST /webhook`
//! (a delivery), `GET /healthz`.
//!
//! A POST is answered in this order: 413 when the announced or actual body
//! is over the limit (the body is never read past it), 401 when the
//! signature over the raw bytes is missing or wrong, 400 when the verified
//! body does not parse, 503 when the store or the media fetch failed (Meta
//! redelivers), and 200 only after every event of the body is committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use caduceus_core::whatsapp::{parse_webhook, verify_signature, verify_subscription};
use http_body_util::BodyExt;
use tokio::sync::{Semaphore, oneshot};

use crate::config::Config;
use crate::graph::GraphClient;
use crate::writer::{Job, Outcome};
use crate::{log, now_unix};

/// How long a client may take to send a request body.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Counters the server keeps (also printed at shutdown).
#[derive(Debug, Default)]
pub struct Counters {
    /// Deliveries answered 200.
    pub ok: AtomicU64,
    /// Answered 401.
    pub unauthorized: AtomicU64,
    /// Answered 413.
    pub too_large: AtomicU64,
    /// Answered 400.
    pub bad_request: AtomicU64,
    /// Answered 5xx.
    pub failed: AtomicU64,
    /// Replies sent to the Graph API.
    pub replies_sent: AtomicU64,
    /// Replies that could not be sent.
    pub replies_failed: AtomicU64,
}

pub(crate) struct App {
    pub jobs: std::sync::mpsc::SyncSender<Job>,
    pub in_flight: Semaphore,
    pub config: Arc<Config>,
    pub graph: GraphClient,
    pub counters: Arc<Counters>,
    pub replies: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/webhook", get(subscribe).post(deliver))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(app)
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn subscribe(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map_or("", String::as_str);
    match verify_subscription(
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
        &app.config.verify_token,
    ) {
        Ok(challenge) => {
            log::info("subscription-verified", &[]);
            (StatusCode::OK, challenge.to_owned()).into_response()
        }
        Err(_) => {
            log::warn("subscription-refused", &[]);
            status(StatusCode::FORBIDDEN, "subscription refused\n")
        }
    }
}

async fn deliver(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (code, text) = take(&app, &headers, body).await;
    let counter = match code.as_u16() {
        200 => &app.counters.ok,
        401 => &app.counters.unauthorized,
        413 => &app.counters.too_large,
        400 | 408 => &app.counters.bad_request,
        _ => &app.counters.failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    log::info(
        "delivery",
        &[
            ("status", code.as_u16().into()),
            (
                "us",
                u64::try_from(started.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .into(),
            ),
        ],
    );
    status(code, text)
}

async fn take(app: &Arc<App>, headers: &HeaderMap, body: Body) -> (StatusCode, &'static str) {
    let max = app.config.max_body;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max as u64
    {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
    }
    // A slot first, then the body: at most max_in_flight bodies are held.
    let Ok(_permit) = app.in_flight.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    };
    let read = http_body_util::Limited::new(body, max).collect();
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Err(_) => return (StatusCode::REQUEST_TIMEOUT, "body not complete in time\n"),
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
        }
        Ok(Err(_)) => return (StatusCode::BAD_REQUEST, "body could not be read\n"),
    };
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let secrets: Vec<&[u8]> = app
        .config
        .app_secrets
        .iter()
        .map(|s| s.as_slice())
        .collect();
    if let Err(e) = verify_signature(&bytes, sig, &secrets) {
        log::warn(
            "signature-refused",
            &[("reason", signature_code(&e).into())],
        );
        return (StatusCode::UNAUTHORIZED, "signature refused\n");
    }
    let hook = match parse_webhook(&bytes, &app.config.parse_limits) {
        Ok(h) => h,
        Err(_) => return (StatusCode::BAD_REQUEST, "body refused\n"),
    };
    drop(bytes);
    let (tx, rx) = oneshot::channel();
    let job = Job {
        hook,
        received_at: now_unix(),
        reply: tx,
    };
    if app.jobs.try_send(job).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy, retry\n");
    }
    let outcome = match rx.await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            log::warn("delivery-failed", &[("error", e.code().into())]);
            return (StatusCode::SERVICE_UNAVAILABLE, "not stored, retry\n");
        }
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "not stored, retry\n"),
    };
    log::info(
        "committed",
        &[
            ("events", outcome.events.into()),
            ("stored", outcome.stored.into()),
            ("duplicates", outcome.duplicates.into()),
            ("media_failed", outcome.media_failed.into()),
        ],
    );
    for code in &outcome.decisions {
        log::info("decision", &[("code", (*code).into())]);
    }
    let failed = outcome.media_failed;
    send_replies(app, outcome).await;
    if failed > 0 {
        // Everything else is committed; the media is fetched again when
        // Meta redelivers (its other events are then duplicates).
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "media not fetched, retry\n",
        );
    }
    (StatusCode::OK, "ok\n")
}

fn signature_code(e: &caduceus_core::whatsapp::SignatureError) -> &'static str {
    use caduceus_core::whatsapp::SignatureError as S;
    match e {
        S::Missing => "missing",
        S::Mismatch => "mismatch",
        _ => "malformed",
    }
}

/// Send the committed events' replies in the background (after the
/// commit; a reply that cannot be sent is counted and logged, never
/// retried by redelivery).
async fn send_replies(app: &Arc<App>, outcome: Outcome) {
    if outcome.replies.is_empty() {
        return;
    }
    if !app.config.graph.send_replies || !app.graph.has_token() {
        log::info(
            "replies-not-sent",
            &[("count", outcome.replies.len().into())],
        );
        return;
    }
    let mut set = app.replies.lock().await;
    while set.try_join_next().is_some() {}
    for (phone, reply) in outcome.replies {
        let graph = app.graph.clone();
        let counters = app.counters.clone();
        set.spawn(async move {
            let Some(phone) = phone else {
                counters.replies_failed.fetch_add(1, Ordering::Relaxed);
                log::warn("reply-not-sent", &[("reason", "no-phone-number-id".into())]);
                return;
            };
            let body = reply.to_graph_json();
            match graph.send(&phone, &body).await {
                Ok(()) => {
                    counters.replies_sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    counters.replies_failed.fetch_add(1, Ordering::Relaxed);
                    log::warn("reply-not-sent", &[("reason", e.code().into())]);
                }
            }
        });
    }
}
