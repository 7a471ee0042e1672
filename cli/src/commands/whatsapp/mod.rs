//! `caduceus whatsapp`: WhatsApp Business Platform webhook intake checks
//! (docs/WHATSAPP.md section 1): the `X-Hub-Signature-256` of a webhook body
//! and the subscription handshake.

use std::path::{Path, PathBuf};

use caduceus_core::whatsapp::{
    self, MAX_WEBHOOK_BODY, SignatureError, SubscriptionError, verify_signature,
};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::error::{Result, fail, refused, usage};
use crate::files;

mod intake;

/// `caduceus whatsapp`.
#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes: 0 verified, 1 refused (the signature matches no app secret; the
handshake's mode, token or challenge is wrong), 2 usage error (a missing or
malformed --signature), 3 failed (a file cannot be read, is empty, or the
body is larger than 3 MiB).

Examples:
  caduceus whatsapp verify --body webhook.json \\
      --signature 'sha256=...' --app-secret-file app-secret.txt
  caduceus whatsapp subscribe --mode subscribe --token \"$HUB_VERIFY_TOKEN\" \\
      --challenge 1158201444 --verify-token-file verify-token.txt")]
pub struct WhatsappArgs {
    /// The whatsapp subcommand.
    #[command(subcommand)]
    pub command: WhatsappCommand,
}

/// The whatsapp subcommands.
#[derive(Debug, Subcommand)]
pub enum WhatsappCommand {
    /// Verify the X-Hub-Signature-256 of a webhook body against the app secret(s).
    Verify(VerifyArgs),
    /// Check a webhook subscription handshake and print the challenge to echo.
    Subscribe(SubscribeArgs),
    /// Parse a webhook body into typed events, printed as JSON (content redacted).
    Parse(ParseArgs),
    /// Decide what to do with each event of a signed webhook body (JSON).
    Decide(DecideArgs),
    /// May the practice send this message to this patient now?
    MaySend(MaySendArgs),
}

/// `caduceus whatsapp verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
The body file must hold the request body exactly as received (Meta signs its
escaped form; a re-serialised body fails). With several --app-secret-file
options (an app secret rotation) each secret is tried, and the one that
matched is named by its position (1 for the first). An app secret file holds
one line.")]
pub struct VerifyArgs {
    /// The webhook request body, byte for byte as received (at most 3 MiB).
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// The value of the X-Hub-Signature-256 header: sha256= and 64 hex digits.
    #[arg(long, value_name = "VALUE")]
    pub signature: Option<String>,
    /// File holding an app secret (one line); repeat for several during a rotation.
    #[arg(long = "app-secret-file", value_name = "FILE", required = true)]
    pub app_secret_file: Vec<PathBuf>,
}

/// `caduceus whatsapp subscribe`.
#[derive(Debug, Args)]
#[command(after_help = "\
On success the challenge is printed on standard output (the response body to
send back); it must be 1 to 256 characters from A-Z, a-z, 0-9, '.', '_', '-'.")]
pub struct SubscribeArgs {
    /// The hub.mode parameter (must be 'subscribe').
    #[arg(long, value_name = "MODE")]
    pub mode: String,
    /// The hub.verify_token parameter.
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// The hub.challenge parameter.
    #[arg(long, value_name = "CHALLENGE")]
    pub challenge: String,
    /// File holding the configured verify token (one line).
    #[arg(long = "verify-token-file", value_name = "FILE")]
    pub verify_token_file: PathBuf,
}

/// Run `caduceus whatsapp`.
pub fn whatsapp(args: WhatsappArgs) -> Result<()> {
    match args.command {
        WhatsappCommand::Verify(a) => verify(&a),
        WhatsappCommand::Subscribe(a) => subscribe(&a),
        WhatsappCommand::Parse(a) => intake::parse(&a),
        WhatsappCommand::Decide(a) => intake::decide(&a),
        WhatsappCommand::MaySend(a) => intake::may_send(&a),
    }
}

pub use intake::{DecideArgs, MaySendArgs, ParseArgs};

fn verify(a: &VerifyArgs) -> Result<()> {
    let body = read_body(&a.body)?;
    let i = check_signature(&body, a.signature.as_deref(), &a.app_secret_file)?;
    println!("OK: signature matches app secret {}", i + 1);
    Ok(())
}

/// Read a webhook body file (at most 3 MiB).
fn read_body(path: &Path) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    files::read_limited(path, MAX_WEBHOOK_BODY as u64, "body file", &mut body)?;
    Ok(body)
}

/// Verify a body's signature under the app secrets in `secret_files`;
/// the 0-based index of the secret that matched.
fn check_signature(
    body: &[u8],
    signature: Option<&str>,
    secret_files: &[PathBuf],
) -> Result<usize> {
    let mut secrets = Vec::with_capacity(secret_files.len());
    for path in secret_files {
        secrets.push(read_one_line(path, "app secret file")?);
    }
    let keys: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    match verify_signature(body, signature, &keys) {
        Ok(i) => Ok(i.index()),
        Err(e @ SignatureError::Mismatch) => Err(refused(e.to_string())),
        Err(e @ (SignatureError::Missing | SignatureError::Malformed)) => {
            Err(usage(format!("--signature: {e}")))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

fn subscribe(a: &SubscribeArgs) -> Result<()> {
    let expected = read_one_line(&a.verify_token_file, "verify token file")?;
    match whatsapp::verify_subscription(&a.mode, &a.token, &a.challenge, &expected) {
        Ok(challenge) => {
            println!("{challenge}");
            Ok(())
        }
        Err(e @ SubscriptionError::NoVerifyToken) => Err(fail(format!(
            "verify token file {}: {e}",
            a.verify_token_file.display()
        ))),
        Err(e) => Err(refused(e.to_string())),
    }
}

/// The one line of a small secret file (surrounding whitespace removed),
/// zeroized on drop. Empty or several lines is a failure.
fn read_one_line(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    let text = files::read_key_file(path, what)?;
    let line = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if line.is_empty() {
        return Err(fail(format!("{what} {} is empty", path.display())));
    }
    if line.contains(['\n', '\r']) {
        return Err(fail(format!(
            "{what} {} must hold exactly one line",
            path.display()
        )));
    }
    Ok(Zeroizing::new(line.to_owned()))
}
