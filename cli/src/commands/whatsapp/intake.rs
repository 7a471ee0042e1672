//! `caduceus whatsapp parse | decide | may-send`: the webhook parser, the
//! consent gate and the outbound gate of `core::whatsapp` (docs/WHATSAPP.md
//! sections 2, 4 and 7) on files.
//!
//! `decide` reads and never writes: it prints, per event, what a host would
//! persist (consent and audit events, sealed envelopes, new keyring records,
//! identity links) and send. Later events of the same body see the effects
//! of earlier ones, as in a host that applies each decision before the next.

use std::path::{Path, PathBuf};

use caduceus_core::access::StaffKey;
use caduceus_core::audit::AuditKey;
use caduceus_core::consent::LedgerScope;
use caduceus_core::keys::KeyringRecord;
use caduceus_core::whatsapp::{
    Decision, IdentityMap, Intake, IntakeConfig, KeyringSet, MessageKind, OutboundState,
    ParseLimits, SendDecision, Webhook, parse_webhook,
};
use clap::Args;
use serde_json::{Value, json};

use super::{check_signature, read_body};
use crate::commands::keyring::MAX_KEYRING_FILE;
use crate::commands::{audit, consent, parse_public_key, policy, system_rng};
use crate::error::{Result, fail, refused, usage};
use crate::{files, time};

/// Largest identities or outbound state file read (64 MiB: some 600 000
/// identity lines).
const MAX_STATE_TEXT: u64 = 64 * 1024 * 1024;
/// Most keyring files read from a keyring directory.
const MAX_KEYRING_FILES: usize = 100_000;

/// `caduceus whatsapp parse`.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints the body's events as a JSON array (docs/WHATSAPP.md section 2): one
object per message, status, preference change or template update. Message
text, captions, phone numbers, names and user ids are shown as
{\"redacted_bytes\": N} unless --show-content is given. With --signature the
signature is verified first (then --app-secret-file is required).

Exit codes: 0 parsed, 1 refused (signature mismatch; a malformed, too large
or too deeply nested body), 2 usage error, 3 failed (a file cannot be read).")]
pub struct ParseArgs {
    /// The webhook request body, byte for byte as received (at most 3 MiB).
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// The X-Hub-Signature-256 header value, verified before parsing.
    #[arg(long, value_name = "VALUE", requires = "app_secret_file")]
    pub signature: Option<String>,
    /// File holding an app secret (one line); repeat during a rotation.
    #[arg(long = "app-secret-file", value_name = "FILE")]
    pub app_secret_file: Vec<PathBuf>,
    /// Print message content and contact identifiers (health data: only for
    /// debugging on the practice's own machine).
    #[arg(long)]
    pub show_content: bool,
}

/// `caduceus whatsapp decide`.
#[derive(Debug, Args)]
#[command(after_help = "\
Verifies the body's signature, parses it and decides each event against the
consent ledger, the keyring directory (one keyring file per subject and
category, *.keyring) and the identity map (docs/WHATSAPP.md section 4). Prints
a JSON array with one decision per event: its kind (ask-consent,
consent-recorded, stored, fetch-media, photo-not-kept, opted-out,
deletion-requested, audited, not-stored, refused, ignored), the consent and
audit events to append, the sealed envelope and any new keyring record in
base64, the identity links, the dedupe key and the replies. Nothing is
written: a host (or 'caduceus serve') persists what the decision names.

Exit codes: 0 decided, 1 refused (signature mismatch; a malformed body),
2 usage error, 3 failed (a file cannot be read, the notice is not
registered, a keyring file is damaged).

Example:
  caduceus whatsapp decide --body webhook.json --signature \"$SIG\" \\
      --app-secret-file app-secret.txt --ledger consent.cdl \\
      --keyring-dir keyrings/ --identities identities.txt \\
      --pseudonym-key audit.key --practice cdpractice1... \\
      --staff doctor=cdstaff1... --notice privacy-chat:1:de")]
pub struct DecideArgs {
    /// The webhook request body, byte for byte as received (at most 3 MiB).
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// The X-Hub-Signature-256 header value.
    #[arg(long, value_name = "VALUE")]
    pub signature: String,
    /// File holding an app secret (one line); repeat during a rotation.
    #[arg(long = "app-secret-file", value_name = "FILE", required = true)]
    pub app_secret_file: Vec<PathBuf>,
    /// The consent ledger file.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Directory of keyring files (*.keyring); may be empty.
    #[arg(long = "keyring-dir", value_name = "DIR")]
    pub keyring_dir: PathBuf,
    /// The identity map file (alias lines); a missing file is an empty map.
    #[arg(long, value_name = "FILE")]
    pub identities: Option<PathBuf>,
    /// The practice's pseudonym key (the audit key file, CADUCEUS-AUDIT-KEY-1...).
    #[arg(long = "pseudonym-key", value_name = "FILE")]
    pub pseudonym_key: PathBuf,
    /// The practice public key (cdpractice1...).
    #[arg(long, value_name = "KEY")]
    pub practice: String,
    /// A staff key and its roles: ROLE[,ROLE...]=cdstaff1...; repeat.
    #[arg(long, value_name = "ROLES=KEY")]
    pub staff: Vec<String>,
    /// The retention and access policy (TOML); default: the built-in de-practice.
    #[arg(short, long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The privacy notice shown to unknown contacts: ID:VERSION:LANGUAGE.
    #[arg(long, value_name = "ID:VERSION:LANGUAGE")]
    pub notice: String,
    /// The time to decide at (Unix seconds or RFC 3339); default: now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Show reply recipients and the Graph API request bodies.
    #[arg(long)]
    pub show_content: bool,
}

/// `caduceus whatsapp may-send`.
#[derive(Debug, Args)]
#[command(after_help = "\
Answers from the consent ledger, the customer service window (24 hours after
the patient's last message: --last-inbound, or the outbound state file) and the
template's category (docs/WHATSAPP.md section 7): free-form, template,
template-required or forbidden with the reason. Marketing never rides on
treatment consent; a template Meta re-categorised to MARKETING needs marketing
consent.

Exit codes: 0 allowed as asked (free-form or template), 1 not allowed
(template-required or forbidden), 2 usage error, 3 failed.")]
pub struct MaySendArgs {
    /// The consent ledger file.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// The patient's pseudonym (sbj-...).
    #[arg(long, value_name = "PSEUDONYM")]
    pub subject: String,
    /// The purpose, e.g. treatment-communication, recall, marketing.
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: String,
    /// Send this template instead of a free-form message.
    #[arg(long, value_name = "NAME", requires_all = ["language", "category"])]
    pub template: Option<String>,
    /// The template's language, e.g. de.
    #[arg(long, value_name = "LANGUAGE", requires = "template")]
    pub language: Option<String>,
    /// The category the template was registered under: MARKETING, UTILITY, AUTHENTICATION.
    #[arg(long, value_name = "CATEGORY", requires = "template")]
    pub category: Option<String>,
    /// The outbound state file (window and template lines).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The time of the patient's last message (Unix seconds or RFC 3339).
    #[arg(long = "last-inbound", value_name = "TIME")]
    pub last_inbound: Option<String>,
    /// The time to decide at; default: now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Print JSON instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

fn parse_body(body: &[u8]) -> Result<Webhook> {
    parse_webhook(body, &ParseLimits::default()).map_err(|e| refused(e.to_string()))
}

fn print_json(v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| fail(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Run `caduceus whatsapp parse`.
pub fn parse(a: &ParseArgs) -> Result<()> {
    let body = read_body(&a.body)?;
    if a.signature.is_some() {
        check_signature(&body, a.signature.as_deref(), &a.app_secret_file)?;
    }
    let hook = parse_body(&body)?;
    print_json(&hook.to_json(a.show_content))
}

fn read_optional_text(path: Option<&Path>, what: &str) -> Result<String> {
    match path {
        Some(p) if p.exists() => files::read_limited_text(p, MAX_STATE_TEXT, what),
        _ => Ok(String::new()),
    }
}

/// Every `*.keyring` file of a directory (counted before any is read).
fn load_keyrings(dir: &Path) -> Result<KeyringSet> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        fail(format!(
            "cannot read keyring directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| fail(format!("cannot read {}: {e}", dir.display())))?;
        let path = entry.path();
        if path.extension().and_then(|x| x.to_str()) != Some("keyring") {
            continue;
        }
        if paths.len() == MAX_KEYRING_FILES {
            return Err(fail(format!(
                "keyring directory {} holds more than {MAX_KEYRING_FILES} keyring files",
                dir.display()
            )));
        }
        paths.push(path);
    }
    let mut set = KeyringSet::new();
    for path in paths {
        let mut bytes = Vec::new();
        files::read_limited(&path, MAX_KEYRING_FILE, "keyring file", &mut bytes)?;
        let record = KeyringRecord::from_bytes(&bytes)
            .map_err(|e| fail(format!("keyring file {}: {e}", path.display())))?;
        set.insert(record);
    }
    Ok(set)
}

fn staff_keys(specs: &[String]) -> Result<Vec<StaffKey>> {
    specs
        .iter()
        .map(|s| {
            let (roles, key) = s
                .split_once('=')
                .ok_or_else(|| usage("--staff: use ROLE[,ROLE...]=KEY, e.g. doctor=cdstaff1..."))?;
            Ok(StaffKey {
                key: parse_public_key(key, "--staff")?,
                roles: roles.split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// Run `caduceus whatsapp decide`.
pub fn decide(a: &DecideArgs) -> Result<()> {
    let now = time::given_or_now(a.now.as_deref(), "--now")?;
    let practice = parse_public_key(&a.practice, "--practice")?;
    let staff = staff_keys(&a.staff)?;
    let (notice_id, version, language) = consent::notice_spec(&a.notice)?;
    let body = read_body(&a.body)?;
    check_signature(&body, Some(&a.signature), &a.app_secret_file)?;
    let hook = parse_body(&body)?;

    let key_text = audit::key_line(&a.pseudonym_key, "pseudonym key file")?;
    let key = AuditKey::parse(&key_text).map_err(|e| {
        fail(format!(
            "pseudonym key file {}: {e}",
            a.pseudonym_key.display()
        ))
    })?;
    let (_, access_policy) = policy::load_policy(a.policy.as_deref())?;
    // The webhook's subjects are known only once its events are resolved
    // against the identity map: the whole ledger is read.
    let mut ledger = consent::load(&a.ledger, None)?;
    let notice = ledger
        .notice_ref(notice_id, version, language)
        .ok_or_else(|| {
            fail(format!(
                "notice '{notice_id}' version {version} ({language}) is not registered in {}; register it with 'caduceus consent notice' first",
                a.ledger.display()
            ))
        })?;
    let mut identities = IdentityMap::from_text(&read_optional_text(
        a.identities.as_deref(),
        "identities file",
    )?)
    .map_err(|e| fail(format!("identities file: {e}")))?;
    let mut keyrings = load_keyrings(&a.keyring_dir)?;
    let config = IntakeConfig::new(practice, staff, notice);
    let intake = Intake::new(key, &access_policy, config).map_err(|e| fail(e.to_string()))?;

    let mut rng = system_rng()?;
    let mut out = Vec::with_capacity(hook.events.len());
    for (i, event) in hook.events.iter().enumerate() {
        let d: Decision = intake
            .decide(event, &ledger, &identities, &keyrings, now, &mut rng)
            .map_err(|e| fail(format!("event {i}: {e}")))?;
        d.apply(&mut ledger, &mut identities, &mut keyrings, now)
            .map_err(|e| fail(format!("event {i}: {e}")))?;
        out.push(json!({"event": i, "decision": d.to_json(a.show_content)}));
    }
    print_json(&Value::Array(out))
}

/// Run `caduceus whatsapp may-send`.
pub fn may_send(a: &MaySendArgs) -> Result<()> {
    let now = time::given_or_now(a.now.as_deref(), "--now")?;
    caduceus_core::pseudonym::check_identifier(&a.subject)
        .map_err(|e| usage(format!("--subject: {e}")))?;
    let ledger = consent::load(&a.ledger, Some(LedgerScope::new().subject(&a.subject)))?;
    let mut state = OutboundState::from_text(&read_optional_text(
        a.state.as_deref(),
        "outbound state file",
    )?)
    .map_err(|e| fail(format!("outbound state file: {e}")))?;
    if let Some(t) = &a.last_inbound {
        state.record_inbound(&a.subject, time::given_or_now(Some(t), "--last-inbound")?);
    }
    let kind = match (&a.template, &a.language, &a.category) {
        (Some(name), Some(language), Some(category)) => MessageKind::Template {
            name,
            language,
            category,
        },
        _ => MessageKind::FreeForm,
    };
    let d = caduceus_core::whatsapp::may_send(&ledger, &state, &a.subject, &a.purpose, kind, now);
    let (detail, sentence) = match &d {
        SendDecision::FreeForm { window_ends, .. } => (
            json!({ "window_ends": window_ends }),
            format!(
                "allowed: a free-form message until {}",
                caduceus_core::retention::format_unix(*window_ends)
            ),
        ),
        SendDecision::Template { category, .. } => (
            json!({ "category": category }),
            format!("allowed: the template (category {category})"),
        ),
        SendDecision::TemplateRequired { category } => (
            json!({ "category": category }),
            format!("not as free-form: the service window is closed; send a {category} template"),
        ),
        SendDecision::Forbidden(f) => (
            json!({ "forbidden": f.code() }),
            format!("forbidden: {}", f.code()),
        ),
        _ => (json!({}), d.code().to_owned()),
    };
    if a.json {
        let mut v = json!({"decision": d.code(), "allowed": d.allowed()});
        if let (Some(o), Some(extra)) = (v.as_object_mut(), detail.as_object()) {
            o.extend(extra.clone());
        }
        print_json(&v)?;
    } else {
        println!("{sentence}");
    }
    if d.allowed() {
        Ok(())
    } else {
        Err(refused(format!(
            "the message may not be sent as asked ({})",
            d.code()
        )))
    }
}
