//! `caduceus serve`: the WhatsApp webhook intake server of Caduceus.
//!
//! A small HTTP server (tokio, axum) on 127.0.0.1 by default, in front of
//! the embedded store ([`caduceus_store`]) and core's intake
//! ([`caduceus_core::whatsapp`]):
//!
//! * `GET /webhook` answers the subscription handshake with the configured
//!   verify token;
//! * `POST /webhook` is refused with 413 over the size limit (before the
//!   body is read whole), 401 without a valid `X-Hub-Signature-256` over
//!   the raw bytes, 400 when the body does not parse; otherwise every event
//!   is decided, media is fetched from the Graph API and sealed while it
//!   arrives (its SHA-256 checked), each event is committed as one store
//!   transaction, and only then is the answer 200. A store or media
//!   failure is a 503, and Meta redelivers.
//!
//! The server holds only public keys, the app secret(s), the verify token,
//! the pseudonym key and the Graph API token: it seals but cannot open
//! ([`Config`] refuses a private key). One writer thread owns the store;
//! SIGTERM or SIGINT stops accepting, lets the requests in flight finish
//! and closes the database. Logs are JSON lines with no health data
//! ([`log`]). docs/SERVER.md has the configuration, the answers and the
//! failure model.
//!
//! ```no_run
//! # fn main() -> Result<(), caduceus_server::ServerError> {
//! let config = caduceus_server::Config::load(std::path::Path::new("serve.toml"))?;
//! caduceus_server::run(config)?; // until SIGTERM
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod demo;
mod error;
pub mod fake_graph;
pub mod graph;
mod http;
pub mod log;
pub mod signing;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use config::Config;
pub use error::ServerError;
pub use http::Counters;
pub use writer::Outcome;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

/// A server started by [`start`]: its address, a way to stop it, and its
/// counters.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), ServerError>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stop gracefully: stop accepting, finish the requests in flight and
    /// the replies being sent, close the store.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.done.await {
            Ok(r) => r,
            Err(_) => Err(ServerError::WriterStopped),
        }
    }
}

/// Start serving `config` on `listener` (bound by the caller, e.g. to
/// `127.0.0.1:0` for a free port) inside the current tokio runtime.
pub async fn start(config: Config, listener: TcpListener) -> Result<RunningServer, ServerError> {
    let addr = listener.local_addr().map_err(|e| ServerError::Io {
        what: "cannot read the listening address".into(),
        source: e,
    })?;
    let config = Arc::new(config);
    let graph = graph::GraphClient::new(&config.graph)?;
    let handle = tokio::runtime::Handle::current();
    // The store is opened and its state loaded on a blocking thread.
    let writer = {
        let (config, graph, handle) = (config.clone(), graph.clone(), handle.clone());
        tokio::task::spawn_blocking(move || writer::start(&config, graph, handle))
            .await
            .map_err(|_| ServerError::WriterStopped)??
    };
    let counters = Arc::new(Counters::default());
    let app = Arc::new(http::App {
        jobs: writer.jobs,
        in_flight: Semaphore::new(config.max_in_flight),
        config: config.clone(),
        graph,
        counters: counters.clone(),
        replies: tokio::sync::Mutex::new(tokio::task::JoinSet::new()),
    });
    let router = http::router(app.clone());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = writer.thread;
    let max_connections = config.max_connections;
    log::info("listening", &[("port", addr.port().into())]);
    let done = tokio::spawn(async move {
        accept_loop(listener, router, max_connections, stop_rx).await;
        // In-flight requests are finished; let the replies go out.
        {
            let mut set = app.replies.lock().await;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                while set.join_next().await.is_some() {}
            })
            .await;
        }
        // The last sender goes with the app: the writer drains and stops.
        drop(app);
        let joined = tokio::task::spawn_blocking(move || thread.join()).await;
        log::info("stopped", &[]);
        match joined {
            Ok(Ok(())) => Ok(()),
            _ => Err(ServerError::WriterStopped),
        }
    });
    Ok(RunningServer {
        addr,
        stop: Some(stop_tx),
        done,
        counters,
    })
}

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the requests in flight may take to finish after a stop.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Accept connections until `stop`: at most `max_connections` at once
/// (more are closed at once), HTTP/1.1 only, headers within
/// [`HEADER_READ_TIMEOUT`]. On `stop`, stop accepting and let every
/// connection finish its request in flight (at most [`DRAIN_TIMEOUT`]).
async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    max_connections: usize,
    mut stop: oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off a little.
                log::warn("accept-failed", &[]);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            log::warn(
                "connection-refused",
                &[("reason", "max-connections".into())],
            );
            drop(stream);
            continue;
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(64 * 1024);
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        log::warn("drain-timed-out", &[]);
    }
}

/// What `caduceus serve --check` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Where it would listen.
    pub listen: SocketAddr,
    /// Staff keys configured.
    pub staff: usize,
    /// App secrets configured.
    pub app_secrets: usize,
    /// Whether the store file exists already (else it is created on start).
    pub store_exists: bool,
    /// The store's schema version, when it exists.
    pub schema_version: Option<i64>,
    /// Whether media can be fetched and replies sent (a token is set).
    pub graph_token: bool,
}

/// Validate a configuration as `serve` would use it, without listening:
/// the intake is built from it, and an existing store is opened.
pub fn check(config: &Config) -> Result<CheckReport, ServerError> {
    writer::intake_for(config, now_unix())?;
    let store_exists = config.store.exists();
    let schema_version = if store_exists {
        Some(caduceus_store::Store::open(&config.store)?.schema_version()?)
    } else {
        None
    };
    Ok(CheckReport {
        listen: config.listen,
        staff: config.staff.len(),
        app_secrets: config.app_secrets.len(),
        store_exists,
        schema_version,
        graph_token: config.graph.token.is_some(),
    })
}

/// Run the server until SIGTERM or SIGINT (blocking; builds its own
/// runtime). Binds `config.listen`.
pub fn run(config: Config) -> Result<(), ServerError> {
    runtime()?.block_on(async move {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::Io {
                what: format!("cannot listen on {}", config.listen),
                source: e,
            })?;
        let server = start(config, listener).await?;
        wait_for_signal().await?;
        log::info("shutting-down", &[]);
        let counters = server.counters();
        log::info(
            "totals",
            &[
                ("ok", counters.ok.load(Ordering::Relaxed).into()),
                (
                    "unauthorized",
                    counters.unauthorized.load(Ordering::Relaxed).into(),
                ),
                (
                    "bad_request",
                    counters.bad_request.load(Ordering::Relaxed).into(),
                ),
                (
                    "too_large",
                    counters.too_large.load(Ordering::Relaxed).into(),
                ),
                ("failed", counters.failed.load(Ordering::Relaxed).into()),
            ],
        );
        server.shutdown().await
    })
}

/// The system clock in Unix seconds (0 before 1970): the server is the
/// part of Caduceus that reads the clock and hands it to core.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A multi-threaded tokio runtime with I/O and timers.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ServerError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::Io {
            what: "cannot start the runtime".into(),
            source: e,
        })
}

async fn wait_for_signal() -> Result<(), ServerError> {
    use tokio::signal::unix::{SignalKind, signal};
    let io = |e| ServerError::Io {
        what: "cannot install the signal handlers".into(),
        source: e,
    };
    let mut term = signal(SignalKind::terminate()).map_err(io)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io)?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
