//! Webhook signature (`X-Hub-Signature-256`) and subscription handshake.
//! Byte-level rules: docs/WHATSAPP.md section 1.

use subtle::ConstantTimeEq;

use crate::suite::{hmac_sha256_verify, sha256};

/// Largest webhook body accepted, in bytes (3 MiB). Meta batches up to
/// 1,000 updates in one POST, and documents bodies of up to 3 MB; a larger
/// body is refused before any HMAC is computed. docs/LIMITS.md.
pub const MAX_WEBHOOK_BODY: usize = 3 * 1024 * 1024;

/// The prefix of the `X-Hub-Signature-256` value, exactly as Meta sends it
/// (lowercase; `SHA256=` is refused).
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// Longest `hub.challenge` echoed by [`verify_subscription`], in characters.
pub const MAX_CHALLENGE_LEN: usize = 256;

/// Number of hexadecimal digits after [`SIGNATURE_PREFIX`].
const SIGNATURE_HEX_LEN: usize = 64;

/// The position, in the list passed to [`verify_signature`], of the app
/// secret whose HMAC matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretIndex(usize);

impl SecretIndex {
    /// The index (0 for the first secret).
    pub fn index(self) -> usize {
        self.0
    }
}

/// Why a webhook POST was refused. The messages never repeat the body, the
/// header value or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No app secret was configured.
    #[error(
        "no app secret is configured; pass the app secret from the Meta App Dashboard \
         (App settings > Basic) to verify webhook signatures"
    )]
    NoSecrets,
    /// One of the configured app secrets is empty.
    #[error("an app secret is empty; configure the app secret from the Meta App Dashboard")]
    EmptySecret,
    /// The body is larger than [`MAX_WEBHOOK_BODY`].
    #[error(
        "the webhook body is larger than 3 MiB, the most Meta sends; refuse the request \
         (HTTP 413) without processing it"
    )]
    BodyTooLarge,
    /// No `X-Hub-Signature-256` header (or an empty one).
    #[error(
        "the request has no X-Hub-Signature-256 header; refuse it (HTTP 401): every webhook \
         POST from Meta is signed"
    )]
    Missing,
    /// The header is not `sha256=` followed by 64 hexadecimal digits.
    #[error(
        "the X-Hub-Signature-256 header is malformed: expected 'sha256=' followed by 64 \
         hexadecimal digits; refuse the request (HTTP 400)"
    )]
    Malformed,
    /// No configured app secret produces the signature over these bytes.
    #[error(
        "the webhook signature does not match any configured app secret; refuse the request \
         (HTTP 401). Check the app secret, and that the body is hashed exactly as received \
         (never re-serialised JSON)"
    )]
    Mismatch,
}

/// Why a subscription handshake (webhook verification GET) was refused. The
/// messages never repeat the mode, the token or the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The expected verify token is empty.
    #[error(
        "no verify token is configured; set the same verify token here and in the Meta App \
         Dashboard (WhatsApp > Configuration)"
    )]
    NoVerifyToken,
    /// `hub.mode` is not `subscribe`.
    #[error("hub.mode is not 'subscribe'; refuse the request (HTTP 403)")]
    Mode,
    /// `hub.verify_token` is not the configured verify token.
    #[error(
        "hub.verify_token does not match the configured verify token; refuse the request \
         (HTTP 403) and check the token in the Meta App Dashboard"
    )]
    Token,
    /// `hub.challenge` is empty, longer than [`MAX_CHALLENGE_LEN`] or holds a
    /// character outside `A-Z a-z 0-9 . _ -`.
    #[error(
        "hub.challenge must be 1 to 256 characters from A-Z, a-z, 0-9, '.', '_' and '-'; \
         refuse the request (HTTP 400) rather than echo it"
    )]
    Challenge,
}

/// Verify the `X-Hub-Signature-256` header of a webhook POST before anything
/// in the body is parsed.
///
/// `raw_body` is the body exactly as received (Meta signs its escaped form:
/// never re-serialise it). `header_value` is the header's value, or `None`
/// if the request has none. `app_secrets` are the app secrets currently in
/// use; during a rotation pass the new and the old one.
///
/// The checks, in this order: a secret is configured and none is empty; the
/// body is at most [`MAX_WEBHOOK_BODY`] bytes; the header is present and not
/// empty after trimming ASCII whitespace around it; it is [`SIGNATURE_PREFIX`]
/// (case-sensitive) and exactly 64 hexadecimal digits (upper- or lowercase,
/// mixed allowed); HMAC-SHA256 of the body under each secret, every secret
/// tried and each compared in constant time. Returns the index of the first
/// secret that matched.
pub fn verify_signature(
    raw_body: &[u8],
    header_value: Option<&str>,
    app_secrets: &[&[u8]],
) -> Result<SecretIndex, SignatureError> {
    if app_secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }
    if app_secrets.iter().any(|s| s.is_empty()) {
        return Err(SignatureError::EmptySecret);
    }
    if raw_body.len() > MAX_WEBHOOK_BODY {
        return Err(SignatureError::BodyTooLarge);
    }
    let value = header_value
        .map(|v| v.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::Missing)?;
    let tag = parse_header(value)?;
    let mut matched = None;
    for (i, secret) in app_secrets.iter().enumerate() {
        // Every secret is tried, whether or not an earlier one matched.
        let ok = hmac_sha256_verify(secret, &[raw_body], &tag);
        if ok && matched.is_none() {
            matched = Some(SecretIndex(i));
        }
    }
    matched.ok_or(SignatureError::Mismatch)
}

/// `sha256=` and 64 hexadecimal digits, as the 32 bytes of the tag.
fn parse_header(value: &str) -> Result<[u8; 32], SignatureError> {
    let hex = value
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::Malformed)?
        .as_bytes();
    if hex.len() != SIGNATURE_HEX_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_digit(*hi), hex_digit(*lo)),
            _ => (None, None),
        };
        *byte = match (hi, lo) {
            (Some(hi), Some(lo)) => (hi << 4) | lo,
            _ => return Err(SignatureError::Malformed),
        };
    }
    Ok(tag)
}

/// The value of one hexadecimal digit (either case).
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Check the webhook verification GET (`hub.mode`, `hub.verify_token`,
/// `hub.challenge`) and return the challenge to echo as the response body.
///
/// The checks, in this order: `expected_token` is not empty; `mode` is
/// exactly `subscribe`; `token` equals `expected_token` (compared in
/// constant time, over SHA-256 digests so that the length is not revealed
/// either); `challenge` is 1 to [`MAX_CHALLENGE_LEN`] characters from
/// `A-Z a-z 0-9 . _ -` (Meta sends digits; the bound keeps a host from
/// reflecting arbitrary bytes).
pub fn verify_subscription<'a>(
    mode: &str,
    token: &str,
    challenge: &'a str,
    expected_token: &str,
) -> Result<&'a str, SubscriptionError> {
    if expected_token.is_empty() {
        return Err(SubscriptionError::NoVerifyToken);
    }
    if mode != "subscribe" {
        return Err(SubscriptionError::Mode);
    }
    let given = sha256(&[token.as_bytes()]);
    let expected = sha256(&[expected_token.as_bytes()]);
    if !bool::from(given.ct_eq(&expected)) {
        return Err(SubscriptionError::Token);
    }
    let printable = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
    if challenge.is_empty()
        || challenge.len() > MAX_CHALLENGE_LEN
        || !challenge.bytes().all(printable)
    {
        return Err(SubscriptionError::Challenge);
    }
    Ok(challenge)
}
