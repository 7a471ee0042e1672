//! The Graph API client: media lookup and download (`GET /<MEDIA_ID>`, then
//! `GET <url>` with the token), and sending the intake's replies
//! (`POST /<PHONE_NUMBER_ID>/messages`). HTTPS with rustls and Mozilla's
//! root certificates; plain HTTP only to a loopback address (the tests'
//! fake Graph server).
//!
//! Downloaded bytes go straight into the caller's sink (the media sealer)
//! frame by frame: the plaintext of a photo is never collected whole.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, Response, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use zeroize::Zeroizing;

use crate::ServerError;
use crate::config::Graph;

/// Largest JSON answer read from the Graph API (media lookup, send): 64 KiB.
pub const MAX_GRAPH_JSON: usize = 64 * 1024;
/// Longest media id accepted from a webhook for a lookup URL.
pub const MAX_MEDIA_ID: usize = 128;

const AGENT: &str = concat!("caduceus-server/", env!("CARGO_PKG_VERSION"));

/// A Graph API client (cheap to clone).
#[derive(Clone)]
pub struct GraphClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    token: Option<Zeroizing<String>>,
    timeout: Duration,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn graph_err(what: impl Into<String>) -> ServerError {
    ServerError::Graph(what.into())
}

/// Whether `url` may be fetched: HTTPS, or HTTP to a loopback host when the
/// base itself is a loopback HTTP URL (tests).
fn allowed_url(url: &str, base: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    is_loopback_http(url) && is_loopback_http(base)
}

/// Whether `url` is plain HTTP to 127.0.0.1, localhost or [::1] (the only
/// HTTP the server speaks to: the tests' fake Graph server).
pub(crate) fn is_loopback_http(url: &str) -> bool {
    url.strip_prefix("http://")
        .and_then(|r| r.split(['/', '?']).next())
        .map(|h| h.rsplit_once(':').map_or(h, |(h, _)| h))
        .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]")
}

/// Whether a media or phone number id is safe in a URL path.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_MEDIA_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl GraphClient {
    /// A client for the configured Graph API.
    pub fn new(g: &Graph) -> Result<Self, ServerError> {
        // rustls marks its ring provider deprecated because it lacks the
        // post-quantum hybrid key exchange (X25519MLKEM768); the aws-lc-rs
        // provider has it but needs a C/CMake build of AWS-LC. Media comes
        // from Meta's CDN over this connection: see docs/SERVER.md,
        // "Transport security", for the trade-off and the switch.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| graph_err(format!("TLS setup: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            base: g.base_url.clone(),
            token: g.token.clone(),
            timeout: g.timeout,
        })
    }

    /// Whether a token is configured (media fetches and replies need one).
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    async fn request(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, ServerError> {
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(graph_err(format!("request failed: {e}"))),
            Err(_) => Err(graph_err(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    fn builder(
        &self,
        method: &str,
        url: &str,
    ) -> Result<hyper::http::request::Builder, ServerError> {
        let token = self
            .token
            .as_ref()
            .ok_or_else(|| graph_err("no Graph API token configured (graph.token_file)"))?;
        Ok(Request::builder()
            .method(method)
            .uri(url)
            .header(USER_AGENT, AGENT)
            .header(AUTHORIZATION, format!("Bearer {}", token.as_str())))
    }

    async fn json(&self, resp: Response<Incoming>) -> Result<serde_json::Value, ServerError> {
        let status = resp.status();
        let body = tokio::time::timeout(
            self.timeout,
            http_body_util::Limited::new(resp.into_body(), MAX_GRAPH_JSON).collect(),
        )
        .await
        .map_err(|_| graph_err("answer body not complete in time"))?
        .map_err(|_| {
            graph_err(format!(
                "answer body unreadable or over {MAX_GRAPH_JSON} bytes"
            ))
        })?
        .to_bytes();
        if !status.is_success() {
            return Err(graph_err(format!("answered HTTP {}", status.as_u16())));
        }
        serde_json::from_slice(&body).map_err(|_| graph_err("answer is not JSON"))
    }

    /// Look up a media id: the short-lived download URL.
    pub async fn media_url(&self, media_id: &str) -> Result<String, ServerError> {
        if !safe_id(media_id) {
            return Err(graph_err("the webhook's media id is not a plain id"));
        }
        let url = format!("{}/{media_id}", self.base);
        let req = self
            .builder("GET", &url)?
            .body(Full::new(Bytes::new()))
            .map_err(|_| graph_err("cannot build the media lookup request"))?;
        let v = self.json(self.request(req).await?).await?;
        let u = v
            .get("url")
            .and_then(|u| u.as_str())
            .ok_or_else(|| graph_err("media lookup answer has no url"))?;
        if !allowed_url(u, &self.base) {
            return Err(graph_err("media URL is not https"));
        }
        Ok(u.to_owned())
    }

    /// Download `url` into `sink`, frame by frame, refusing more than
    /// `max` bytes (by Content-Length before reading, and while reading).
    /// Returns the number of bytes passed to `sink`.
    pub async fn download(
        &self,
        url: &str,
        max: u64,
        mut sink: impl FnMut(&[u8]) -> Result<(), ServerError>,
    ) -> Result<u64, ServerError> {
        let req = self
            .builder("GET", url)?
            .body(Full::new(Bytes::new()))
            .map_err(|_| graph_err("cannot build the media download request"))?;
        let resp = self.request(req).await?;
        if resp.status() != StatusCode::OK {
            return Err(graph_err(format!(
                "media download answered HTTP {}",
                resp.status().as_u16()
            )));
        }
        if let Some(len) = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > max
        {
            return Err(graph_err(format!(
                "media is {len} bytes, over the policy's limit of {max}"
            )));
        }
        let mut body = resp.into_body();
        let mut total = 0u64;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => return Err(graph_err("media download not complete in time")),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(graph_err(format!("media download broke off: {e}")));
                }
                Ok(Some(Ok(f))) => f,
            };
            if let Ok(data) = frame.into_data() {
                total = total.saturating_add(data.len() as u64);
                if total > max {
                    return Err(graph_err(format!(
                        "media is over the policy's limit of {max} bytes"
                    )));
                }
                sink(&data)?;
            }
        }
        Ok(total)
    }

    /// Send one message (`body`: the Cloud API JSON) from the practice's
    /// number.
    pub async fn send(&self, phone_number_id: &str, body: &str) -> Result<(), ServerError> {
        if !safe_id(phone_number_id) {
            return Err(graph_err("the webhook's phone number id is not a plain id"));
        }
        let url = format!("{}/{phone_number_id}/messages", self.base);
        let req = self
            .builder("POST", &url)?
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|_| graph_err("cannot build the send request"))?;
        self.json(self.request(req).await?).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_urls_are_fetched() {
        let base = "http://127.0.0.1:9/v23.0";
        assert!(allowed_url("https://lookaside.fbsbx.com/x", base));
        assert!(allowed_url("http://127.0.0.1:7/media/1", base));
        assert!(!allowed_url("http://example.com/media/1", base));
        assert!(!allowed_url(
            "http://127.0.0.1:7/m",
            "https://graph.facebook.com/v23.0"
        ));
        assert!(!allowed_url("file:///etc/passwd", base));
    }

    #[test]
    fn ids_with_path_characters_are_refused() {
        assert!(safe_id("1045318750286941"));
        assert!(!safe_id("../../me"));
        assert!(!safe_id("1?x=2"));
        assert!(!safe_id(""));
        assert!(!safe_id(&"9".repeat(MAX_MEDIA_ID + 1)));
    }
}
