//! Command-line definitions (clap derive). Doc comments here are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Input is read from standard input and output written to standard output,
unless -i/--input or -o/--output name a file ('-' means standard input or
output). An output file is written unnamed (or under a hidden temporary
name) next to it and moved into place only when the command succeeded, so a
failed or interrupted command never leaves a partial file behind.

Exit codes (the same for every command):
  0  success (allowed, verified)
  1  refused: a decision that says no (consent decide, policy check), a
     verification that fails (audit verify, whatsapp verify), a log of
     another key
  2  usage error: the command line is wrong (unknown option, invalid key text,
     missing or invalid label, a name where a pseudonym belongs); nothing was
     read or written
  3  failure: the operation did not complete (I/O error, damaged or modified
     input, no matching key, a shredded key); no output file was written
  4  busy: another caduceus process holds the ledger's, log's or keyring's
     lock past the bounded wait (CADUCEUS_LOCK_TIMEOUT_MS); nothing changed
  130, 143, 129  interrupted by SIGINT, SIGTERM or SIGHUP; unfinished output
     files were removed

Errors are one line on standard error, starting with 'caduceus: error:'.";

/// Seal, open, inspect and rewrap patient messages and images (Caduceus envelopes).
#[derive(Debug, Parser)]
#[command(name = "caduceus", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a key pair and write it as an identity file.
    Keygen(KeygenArgs),
    /// Print the public key(s) of an identity file.
    Pubkey(PubkeyArgs),
    /// Seal (encrypt) input to one or more recipient public keys.
    Seal(SealArgs),
    /// Open (decrypt and authenticate) an envelope with an identity file.
    Open(OpenArgs),
    /// Show an envelope's labels and recipient key ids, without any key.
    Inspect(InspectArgs),
    /// Add or remove recipients by rewriting the header only; the payload bytes stay unchanged.
    Rewrap(RewrapArgs),
    /// Append to, checkpoint, verify, prove and export a tamper-evident audit log.
    Audit(crate::commands::audit::AuditArgs),
    /// Retention policy: lint, register (Art. 30), sweep, erasure and access plans, breach clock.
    Policy(crate::commands::policy::PolicyArgs),
    /// Consent ledger: register notices, record consent events and STOP replies, decide, history, export.
    Consent(crate::commands::consent::ConsentArgs),
    /// Subject-category keyring files: create, add, revoke, rotate, shred (crypto-erasure), inspect.
    Keyring(crate::commands::keyring::KeyringArgs),
    /// WhatsApp webhook intake: verify a body's X-Hub-Signature-256, check a subscription handshake.
    Whatsapp(crate::commands::whatsapp::WhatsappArgs),
    /// The embedded store (SQLite): init, list, open (audited), verify, checkpoint, prove, sweep, erase, holds.
    Store(crate::commands::store::StoreArgs),
    /// The WhatsApp webhook intake server: verify, decide, seal, commit to the store, then 200.
    Serve(crate::commands::serve::ServeArgs),
    /// A practice's day end to end: the intake server, a fake Graph API and signed deliveries.
    Demo(crate::commands::serve::DemoArgs),
}

/// The role of a key pair; it selects the key's text prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// The practice (controller) key: cdpractice1...
    Practice,
    /// A staff member's device or role key: cdstaff1...
    Staff,
    /// A (patient pseudonym, data category) key: cdsubject1...
    #[value(alias = "subject-category")]
    Subject,
}

/// `caduceus keygen`.
#[derive(Debug, Args)]
#[command(after_help = "\
The identity file holds comment lines (creation time, kind, public key, key id)
and the secret key line. It is created with mode 0600 and never overwritten.
When writing to a file, the public key is also printed on standard error.

Examples:
  caduceus keygen --kind practice -o practice.key
  caduceus keygen -y practice.key        # print its public key")]
pub struct KeygenArgs {
    /// Kind of key to generate.
    #[arg(long, value_enum, default_value_t = KindArg::Staff)]
    pub kind: KindArg,
    /// Write the identity file to FILE (refuses to overwrite) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Do not generate: print the public key(s) of the identity file FILE.
    #[arg(short = 'y', value_name = "FILE", conflicts_with = "kind")]
    pub convert: Option<PathBuf>,
}

/// `caduceus pubkey`.
#[derive(Debug, Args)]
pub struct PubkeyArgs {
    /// The identity file (default: standard input).
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `caduceus seal`.
#[derive(Debug, Args)]
#[command(after_help = "\
Labels (--label key=value, each 1 to 128 printable ASCII characters):
  subject=P        required: pseudonym of the patient (never a name or number)
  category=C       required: data category, e.g. clinical-photos, chat-messages
  purpose=P        required: purpose of processing, e.g. treatment-communication
                   (no default: the purpose is a legal decision, GDPR Art. 5(1)(b))
  content-type=T   optional: media type, default application/octet-stream
  created-at=T     optional: Unix seconds or RFC 3339 (2025-01-31T12:00:00Z),
                   default now
Labels are readable by anyone without a key (see 'caduceus inspect'): keep
health data out of them. They are authenticated: only a holder of the
envelope's data key can change them.

The input is streamed in 64 KiB segments: memory use stays constant whatever
its size. Writing an envelope to a terminal is refused.

With --keyring FILE the envelope is sealed to the subject-category key of
that keyring file (see 'caduceus keyring'), and only to it, so that shredding
the key erases the envelope; the subject and category labels default to the
record's and must match it.

With --expect-sha256 HASH (media fetched for a WhatsApp webhook: the
webhook's base64 sha256, or 64 hex digits) the input is hashed while it is
sealed and must have that SHA-256 and at most the size limit of --media-kind
(image 5 MB, audio and video 16 MB, document 100 MB, sticker 500 KB): on a
mismatch or a larger input nothing is written (exit 1), the output file is
removed, and the envelope's final segment is never produced
(docs/WHATSAPP.md section 5).

Example:
  caduceus seal --keyring p-7f3a91.xray.keyring \\
      --label purpose=treatment-communication \\
      --label content-type=image/png -i scan.png -o scan.png.cdu")]
pub struct SealArgs {
    /// Recipient public key (cdpractice1..., cdstaff1..., cdsubject1...); repeat for several.
    #[arg(long = "to", value_name = "KEY", conflicts_with = "keyring")]
    pub to: Vec<String>,
    /// File of recipient public keys, one per line ('#' comments allowed); repeatable.
    #[arg(long = "to-file", value_name = "FILE", conflicts_with = "keyring")]
    pub to_file: Vec<PathBuf>,
    /// Seal to the subject-category key of this keyring file (instead of --to).
    #[arg(short, long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Policy label key=value (see below); repeat for each label.
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Read the plaintext from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write the envelope to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The SHA-256 the input must have (base64 as in WhatsApp webhooks, or hex).
    #[arg(long = "expect-sha256", value_name = "HASH", requires = "media_kind")]
    pub expect_sha256: Option<String>,
    /// The WhatsApp media kind, for its size limit: image, audio, video, document, sticker.
    #[arg(long = "media-kind", value_name = "KIND", requires = "expect_sha256")]
    pub media_kind: Option<String>,
}

/// `caduceus open`.
#[derive(Debug, Args)]
#[command(after_help = "\
Plaintext is released one authenticated segment at a time; the command
succeeds only if the whole envelope is authentic and complete. On failure an
output file is removed (nothing unauthenticated is left behind); when writing
to standard output, discard what was written if the exit code is not 0.
Plaintext output files are created with mode 0600.

With --keyring FILE, an envelope sealed to that file's subject-category key is
opened through it: the identity unwraps the key from the keyring record. If
the key was shredded, opening fails and says so: the content is erased.")]
pub struct OpenArgs {
    /// Identity file with the secret key(s) to try; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub identity: Vec<PathBuf>,
    /// Keyring file of the envelope's subject-category key (see 'caduceus keyring').
    #[arg(short, long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Read the envelope from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write the plaintext to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `caduceus inspect`.
#[derive(Debug, Args)]
#[command(after_help = "\
Only the header is read. Nothing shown is authenticated until the envelope is
opened with a recipient key.")]
pub struct InspectArgs {
    /// Read the envelope from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `caduceus rewrap`.
#[derive(Debug, Args)]
#[command(after_help = "\
The identity must be a current recipient. The new header is written, then
the payload is copied byte for byte: no re-encryption. Removing a key stops it
from opening this copy of the envelope (old copies, e.g. in backups, still
name it; shred the subject-category key with 'caduceus keyring shred' to
erase everywhere).

The practice key is never removed: the last practice recipient stays. The
header does not record which key is the practice's, so --remove needs the
practice identity or --practice KEY; a key id that is not a recipient of the
envelope is refused.

Example:
  caduceus rewrap --identity practice.key --add cdstaff1... -i a.cdu -o b.cdu
  caduceus rewrap --identity staff.key --practice cdpractice1... \\
      --remove KEYID -i b.cdu -o c.cdu")]
pub struct RewrapArgs {
    /// Identity file with the secret key(s) of a current recipient; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub identity: Vec<PathBuf>,
    /// Public key to add as a recipient; repeatable.
    #[arg(long, value_name = "KEY")]
    pub add: Vec<String>,
    /// Recipient to remove, by key id (32 hex digits, see inspect) or public key; repeatable.
    #[arg(long, value_name = "KEYID")]
    pub remove: Vec<String>,
    /// The practice public key (or key id), which is never removed; repeatable.
    #[arg(long, value_name = "KEY")]
    pub practice: Vec<String>,
    /// Read the envelope from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write the new envelope to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
