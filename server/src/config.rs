//! The one TOML file that configures `caduceus serve` (docs/SERVER.md,
//! section 2). Relative paths are relative to the file's directory.
//!
//! It names only what sealing needs: the practice's and staff's public
//! keys, the app secret(s), the verify token, the pseudonym (audit) key and
//! the Graph API token. A private key of the practice or of staff is
//! refused wherever a key or a secret file is expected, so a server
//! configured from this file can seal but never open.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use caduceus_core::access::StaffKey;
use caduceus_core::audit::AuditKey;
use caduceus_core::keys::{KeyKind, PrivateKey, PublicKey};
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::whatsapp::{MAX_WEBHOOK_BODY, ParseLimits};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::ServerError;

/// Largest configuration file or secret file read: 1 MiB.
pub const MAX_CONFIG_FILE: u64 = 1024 * 1024;
/// Default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default Graph API base URL.
pub const DEFAULT_GRAPH_BASE: &str = "https://graph.facebook.com/v23.0";
/// Default time for one Graph API request (media lookup, download, send).
pub const DEFAULT_GRAPH_TIMEOUT: Duration = Duration::from_secs(20);
/// Default number of webhook requests whose bodies are read and handled at
/// once; more wait (their bodies unread).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Default number of open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    store: PathBuf,
    practice_key: String,
    #[serde(default)]
    staff: Vec<StaffEntry>,
    policy_file: Option<PathBuf>,
    pseudonym_key_file: PathBuf,
    app_secret_files: Vec<PathBuf>,
    verify_token_file: PathBuf,
    notice: NoticeEntry,
    graph: Option<GraphEntry>,
    limits: Option<LimitsEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffEntry {
    key: String,
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeEntry {
    id: String,
    version: u32,
    language: String,
    text_file: PathBuf,
    published_at: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphEntry {
    base_url: Option<String>,
    token_file: Option<PathBuf>,
    timeout_seconds: Option<u64>,
    send_replies: Option<bool>,
    fetch_attempts: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsEntry {
    max_body: Option<usize>,
    max_in_flight: Option<usize>,
    max_connections: Option<usize>,
    max_events: Option<usize>,
    max_depth: Option<usize>,
}

/// The privacy notice shown to unknown contacts (the store keeps consent
/// events, not notices: the server registers this one on start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Notice id, e.g. `privacy-chat`.
    pub id: String,
    /// Its version.
    pub version: u32,
    /// Its language, e.g. `de`.
    pub language: String,
    /// Its text.
    pub text: String,
    /// When it was published (Unix seconds).
    pub published_at: i64,
}

/// Where media comes from and replies go.
#[derive(Clone)]
pub struct Graph {
    /// Base URL, e.g. `https://graph.facebook.com/v23.0` (`http://` only to
    /// a loopback address, for tests).
    pub base_url: String,
    /// The access token (a system user's), if media is fetched or replies
    /// are sent.
    pub token: Option<Zeroizing<String>>,
    /// Time for one request.
    pub timeout: Duration,
    /// Send the intake's replies (notice, consent question, confirmations).
    pub send_replies: bool,
    /// Attempts per media fetch within one delivery (then the delivery is
    /// answered 503 and Meta redelivers it later).
    pub fetch_attempts: u32,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("send_replies", &self.send_replies)
            .field("fetch_attempts", &self.fetch_attempts)
            .finish()
    }
}

/// A validated configuration.
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The store's database file.
    pub store: PathBuf,
    /// The practice public key.
    pub practice: PublicKey,
    /// Staff public keys and their roles (the access policy's subjects).
    pub staff: Vec<StaffKey>,
    /// The retention and access policy.
    pub policy: Policy,
    /// The pseudonym key (audit key): subjects' and actors' pseudonyms.
    pub pseudonym_key: AuditKey,
    /// App secrets (several during a rotation).
    pub app_secrets: Vec<Zeroizing<Vec<u8>>>,
    /// The subscription handshake's verify token.
    pub verify_token: Zeroizing<String>,
    /// The privacy notice.
    pub notice: Notice,
    /// The Graph API.
    pub graph: Graph,
    /// Largest request body accepted (413 above it).
    pub max_body: usize,
    /// Requests whose bodies are read and handled at once.
    pub max_in_flight: usize,
    /// Open connections at once (more are closed when accepted).
    pub max_connections: usize,
    /// Parser bounds.
    pub parse_limits: ParseLimits,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("store", &self.store)
            .field("practice", &self.practice.to_string())
            .field("staff", &self.staff.len())
            .field("app_secrets", &self.app_secrets.len())
            .field("notice", &(&self.notice.id, self.notice.version))
            .field("graph", &self.graph)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

fn bad(what: impl Into<String>) -> ServerError {
    ServerError::Config(what.into())
}

/// Read a small file whole; the error names the file, never its content.
fn read_small(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, ServerError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| bad(format!("cannot open {what} {}: {e}", path.display())))?;
    let mut bytes = Zeroizing::new(Vec::new());
    f.take(MAX_CONFIG_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read {what} {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_CONFIG_FILE {
        return Err(bad(format!(
            "{what} {} is larger than {MAX_CONFIG_FILE} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The first line of a secret file, trimmed; refused when it is a private
/// key (the server must not be able to open envelopes).
fn read_secret_line(path: &Path, what: &str) -> Result<Zeroizing<String>, ServerError> {
    let bytes = read_small(path, what)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| bad(format!("{what} {} is not UTF-8", path.display())))?;
    let line = Zeroizing::new(text.lines().next().unwrap_or("").trim().to_owned());
    if line.is_empty() {
        return Err(bad(format!("{what} {} is empty", path.display())));
    }
    refuse_private_key(&line, &format!("{what} {}", path.display()))?;
    Ok(line)
}

fn refuse_private_key(text: &str, where_: &str) -> Result<(), ServerError> {
    if PrivateKey::from_secret_str(text.trim()).is_ok() {
        return Err(ServerError::PrivateKeyInConfig(where_.to_owned()));
    }
    Ok(())
}

fn public_key(text: &str, kind: KeyKind, what: &str) -> Result<PublicKey, ServerError> {
    refuse_private_key(text, what)?;
    let key: PublicKey = text
        .trim()
        .parse()
        .map_err(|e| bad(format!("{what}: {e}")))?;
    if key.kind() != kind {
        return Err(bad(format!(
            "{what}: expected a {} public key, found a {} key",
            kind.name(),
            key.kind().name()
        )));
    }
    Ok(key)
}

impl Config {
    /// Read and validate the file at `path` (and every file it names).
    pub fn load(path: &Path) -> Result<Self, ServerError> {
        let bytes = read_small(path, "configuration file")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            bad(format!(
                "configuration file {} is not UTF-8",
                path.display()
            ))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(text, base)
    }

    /// Validate configuration text whose relative paths are under `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ServerError> {
        let f: File = toml::from_str(text).map_err(|e| bad(format!("configuration: {e}")))?;
        let at = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_owned()
            } else {
                base.join(p)
            }
        };
        let listen_text = f.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|e| {
            bad(format!(
                "listen = \"{listen_text}\": {e} (use e.g. 127.0.0.1:8080)"
            ))
        })?;
        let practice = public_key(&f.practice_key, KeyKind::Practice, "practice_key")?;
        let mut staff = Vec::with_capacity(f.staff.len());
        for (i, s) in f.staff.iter().enumerate() {
            if s.roles.is_empty() {
                return Err(bad(format!("staff[{i}]: give at least one role")));
            }
            staff.push(StaffKey {
                key: public_key(&s.key, KeyKind::Staff, &format!("staff[{i}].key"))?,
                roles: s.roles.clone(),
            });
        }
        let policy = match &f.policy_file {
            Some(p) => {
                let p = at(p);
                let bytes = read_small(&p, "policy file")?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| bad(format!("policy file {} is not UTF-8", p.display())))?;
                Policy::parse(text).map_err(|e| bad(format!("policy file {}: {e}", p.display())))?
            }
            None => {
                Policy::parse(DEFAULT_POLICY).map_err(|e| bad(format!("built-in policy: {e}")))?
            }
        };
        let key_file = at(&f.pseudonym_key_file);
        let key_line = read_secret_line(&key_file, "pseudonym key file")?;
        let pseudonym_key = AuditKey::parse(&key_line)
            .map_err(|e| bad(format!("pseudonym key file {}: {e}", key_file.display())))?;
        if f.app_secret_files.is_empty() {
            return Err(bad("app_secret_files: give at least one app secret file"));
        }
        let mut app_secrets = Vec::new();
        for p in &f.app_secret_files {
            let line = read_secret_line(&at(p), "app secret file")?;
            app_secrets.push(Zeroizing::new(line.as_bytes().to_vec()));
        }
        let verify_token = read_secret_line(&at(&f.verify_token_file), "verify token file")?;
        let notice_path = at(&f.notice.text_file);
        let notice_bytes = read_small(&notice_path, "notice text file")?;
        let notice_text = std::str::from_utf8(&notice_bytes)
            .map_err(|_| {
                bad(format!(
                    "notice text file {} is not UTF-8",
                    notice_path.display()
                ))
            })?
            .trim()
            .to_owned();
        let notice = Notice {
            id: f.notice.id,
            version: f.notice.version,
            language: f.notice.language,
            text: notice_text,
            published_at: f.notice.published_at,
        };
        let g = f.graph.unwrap_or(GraphEntry {
            base_url: None,
            token_file: None,
            timeout_seconds: None,
            send_replies: None,
            fetch_attempts: None,
        });
        let base_url = g
            .base_url
            .unwrap_or_else(|| DEFAULT_GRAPH_BASE.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("https://") || crate::graph::is_loopback_http(&base_url)) {
            return Err(bad(format!(
                "graph.base_url = \"{base_url}\": use https:// (http:// only to 127.0.0.1 or localhost, for tests)"
            )));
        }
        let token = match &g.token_file {
            Some(p) => Some(read_secret_line(&at(p), "Graph API token file")?),
            None => None,
        };
        let timeout =
            Duration::from_secs(g.timeout_seconds.unwrap_or(DEFAULT_GRAPH_TIMEOUT.as_secs()));
        if timeout.is_zero() || timeout > Duration::from_secs(300) {
            return Err(bad("graph.timeout_seconds: use 1 to 300"));
        }
        let fetch_attempts = g.fetch_attempts.unwrap_or(2);
        if !(1..=10).contains(&fetch_attempts) {
            return Err(bad("graph.fetch_attempts: use 1 to 10"));
        }
        let graph = Graph {
            base_url,
            token,
            timeout,
            send_replies: g.send_replies.unwrap_or(true),
            fetch_attempts,
        };
        let l = f.limits.unwrap_or(LimitsEntry {
            max_body: None,
            max_in_flight: None,
            max_connections: None,
            max_events: None,
            max_depth: None,
        });
        let max_body = l.max_body.unwrap_or(MAX_WEBHOOK_BODY);
        if max_body == 0 || max_body > MAX_WEBHOOK_BODY {
            return Err(bad(format!(
                "limits.max_body: use 1 to {MAX_WEBHOOK_BODY} bytes (Meta sends at most 3 MB)"
            )));
        }
        let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        if !(1..=4096).contains(&max_in_flight) {
            return Err(bad("limits.max_in_flight: use 1 to 4096"));
        }
        let max_connections = l.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if !(1..=65_536).contains(&max_connections) {
            return Err(bad("limits.max_connections: use 1 to 65536"));
        }
        let mut parse_limits = ParseLimits {
            max_body,
            ..ParseLimits::default()
        };
        if let Some(n) = l.max_events {
            parse_limits.max_events = n;
        }
        if let Some(n) = l.max_depth {
            parse_limits.max_depth = n;
        }
        Ok(Self {
            listen,
            store: at(&f.store),
            practice,
            staff,
            policy,
            pseudonym_key,
            app_secrets,
            verify_token,
            notice,
            graph,
            max_body,
            max_in_flight,
            max_connections,
            parse_limits,
        })
    }
}
