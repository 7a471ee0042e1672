//! `caduceus consent`: the consent ledger file (docs/CONSENT.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use caduceus_core::consent::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, DEFAULT_POLICY_TOML,
    Decision, Ledger, LedgerReader, LedgerScope, NoticeRef, OptOutOutcome, OptOutRequest, TornTail,
};
use clap::{Args, Subcommand, ValueEnum};

use crate::error::{Result, fail, refused, usage};
use crate::files::{self, Output, OutputMode};
use crate::state::{self, LockedFile};
use crate::time;

/// Largest ledger file read (4 GiB).
const MAX_LEDGER: u64 = 4 << 30;
/// Largest consent policy, notice text or subjects file read (64 MiB; the
/// core's own limits then apply).
const MAX_TEXT: u64 = 64 << 20;

/// Ledger files hold pseudonyms: owner-only, and binary.
const LEDGER_MODE: OutputMode = OutputMode {
    private: true,
    binary: true,
};

/// `caduceus consent`.
#[derive(Debug, Args)]
#[command(after_help = "\
The ledger file is append-only: events are never changed, a withdrawal is a
new event. Each command that changes the ledger holds the file's lock,
validates the change, then appends its entries and syncs them; on any error
the file is cut back to exactly what it was. A file whose last entry was cut
short by a crash is refused until 'caduceus consent repair' cuts that entry. Times are Unix seconds or RFC 3339
(2025-01-31T12:00:00Z) and default to now.

Example:
  caduceus consent init -o consent.ledger
  caduceus consent notice --ledger consent.ledger --id privacy-chat --version 1 \\
      --language de --text-file hinweis-v1.txt
  caduceus consent record --ledger consent.ledger --id evt-1 --subject p-7f3a91 \\
      --purpose treatment-communication --purpose recall --status given \\
      --method qr-reception --notice privacy-chat:1:de --channel reception-qr \\
      --recorded-by staff-12
  caduceus consent stop --ledger consent.ledger --id evt-2 --subject p-7f3a91 \\
      --reply STOP --message-id wamid.HBgM
  caduceus consent decide --ledger consent.ledger --purpose marketing --subject p-7f3a91
  caduceus consent history --ledger consent.ledger --subject p-7f3a91
  caduceus consent export --ledger consent.ledger --subject p-7f3a91 --format fhir")]
pub struct ConsentArgs {
    /// The consent subcommand.
    #[command(subcommand)]
    pub command: ConsentCommand,
}

/// The consent subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Create an empty ledger file with a policy (default: the built-in policy).
    Init(InitArgs),
    /// Print the built-in default policy (TOML), to copy and edit.
    DefaultPolicy,
    /// Register the exact text of a privacy notice version in a language.
    Notice(NoticeArgs),
    /// Retire a notice version: consents under it stop counting.
    RetireNotice(RetireArgs),
    /// Record a consent event (given, refused, withdrawn, expired, renewed).
    Record(RecordArgs),
    /// Handle a chat reply: an opt-out phrase (STOP, Bitte stopp, ABMELDEN, ...) stops recall and marketing, and is always recorded.
    Stop(StopArgs),
    /// Decide whether subjects' data may be processed for a purpose.
    Decide(DecideArgs),
    /// Show a subject's full consent history.
    History(HistoryArgs),
    /// Export a subject's consents as FHIR R4 Consent (Bundle) or ISO/IEC TS 27560-shaped JSON.
    Export(ExportArgs),
    /// Cut an incomplete final entry left by a crash (never a complete one).
    Repair(RepairArgs),
}

/// `consent repair`.
#[derive(Debug, Args)]
#[command(after_help = "\
Checks every entry of the ledger. When the file ends in an incomplete entry
(a write interrupted by a crash or a power loss), cuts exactly that entry and
says how many bytes it cut; every complete entry is kept. A ledger damaged
anywhere else is refused and left as it is: restore it from a backup.")]
pub struct RepairArgs {
    /// The ledger file, cut back to its last complete entry.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
}

/// `consent init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Policy file (TOML, see 'caduceus consent default-policy').
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The new ledger file (refuses to overwrite).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// `consent notice`.
#[derive(Debug, Args)]
pub struct NoticeArgs {
    /// The ledger file, appended to.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Notice id, e.g. privacy-chat.
    #[arg(long)]
    pub id: String,
    /// Notice version (a new wording needs a new version).
    #[arg(long)]
    pub version: u32,
    /// Language tag, e.g. de, en, tr.
    #[arg(long)]
    pub language: String,
    /// File with the exact UTF-8 text shown to patients.
    #[arg(long, value_name = "FILE")]
    pub text_file: PathBuf,
    /// Registration time (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// `consent retire-notice`.
#[derive(Debug, Args)]
pub struct RetireArgs {
    /// The ledger file, appended to.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Notice id.
    #[arg(long)]
    pub id: String,
    /// Notice version (all languages are retired).
    #[arg(long)]
    pub version: u32,
    /// Retirement time (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Event status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Consent given (dpv:ConsentGiven).
    Given,
    /// Consent refused (dpv:ConsentRefused).
    Refused,
    /// Consent withdrawn (dpv:ConsentWithdrawn).
    Withdrawn,
    /// Consent expired (dpv:ConsentExpired).
    Expired,
    /// Consent renewed (dpv:RenewedConsentGiven).
    Renewed,
}

/// How consent was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// QR code at reception.
    QrReception,
    /// Anamnesis form.
    AnamnesisForm,
    /// Chat reply.
    ChatReply,
    /// In person, documented by staff.
    InPersonDocumented,
    /// Other (say which in --channel and --evidence).
    Other,
}

/// `consent record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The ledger file, appended to.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Unique event id.
    #[arg(long)]
    pub id: String,
    /// Subject pseudonym (never a name or phone number).
    #[arg(long)]
    pub subject: String,
    /// Purpose; repeat for several.
    #[arg(long, required = true)]
    pub purpose: Vec<String>,
    /// What happened.
    #[arg(long, value_enum)]
    pub status: StatusArg,
    /// How consent was obtained.
    #[arg(long, value_enum)]
    pub method: MethodArg,
    /// Notice shown, as ID:VERSION:LANGUAGE (required for given and renewed).
    #[arg(long, value_name = "ID:VERSION:LANG")]
    pub notice: Option<String>,
    /// SHA-256 (hex) of the notice text shown; default: the registered text's.
    #[arg(long, value_name = "HEX", requires = "notice")]
    pub notice_sha256: Option<String>,
    /// Channel, e.g. whatsapp, reception-qr, paper-form.
    #[arg(long)]
    pub channel: String,
    /// Evidence, e.g. the WhatsApp message id of the reply or a form id.
    #[arg(long)]
    pub evidence: Option<String>,
    /// Pseudonym of the staff member recording the event.
    #[arg(long)]
    pub recorded_by: String,
    /// When it happened (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// When a given or renewed consent ends.
    #[arg(long, value_name = "TIME")]
    pub expires: Option<String>,
}

/// `consent stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The ledger file, appended to: an opt-out reply is always recorded (a
    /// withdrawal, and an objection for purposes without consent).
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Id of the event to record; when both a withdrawal and an objection
    /// are recorded, the objection gets this id followed by `-objection`.
    #[arg(long)]
    pub id: String,
    /// Subject pseudonym.
    #[arg(long)]
    pub subject: String,
    /// The reply text as received: compared, as a whole message, with the
    /// policy's opt-out phrases (case, spaces, punctuation and emoji ignored);
    /// never stored.
    #[arg(long)]
    pub reply: String,
    /// WhatsApp message id of the reply (recorded as evidence).
    #[arg(long)]
    pub message_id: String,
    /// Channel.
    #[arg(long, default_value = "whatsapp")]
    pub channel: String,
    /// Who records it.
    #[arg(long, default_value = "whatsapp-ingest")]
    pub recorded_by: String,
    /// When the reply was received (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// `consent decide`.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// The purpose.
    #[arg(long)]
    pub purpose: String,
    /// Subject pseudonym; repeat for several.
    #[arg(long)]
    pub subject: Vec<String>,
    /// File of subject pseudonyms, one per line (a send-out list).
    #[arg(long, value_name = "FILE")]
    pub subjects_file: Option<PathBuf>,
    /// Decision time (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `consent history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Subject pseudonym.
    #[arg(long)]
    pub subject: String,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// FHIR R4 Bundle of Consent resources.
    Fhir,
    /// ISO/IEC TS 27560-shaped consent records with W3C DPV terms.
    Iso27560,
}

/// `consent export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// Subject pseudonym.
    #[arg(long)]
    pub subject: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Fhir)]
    pub format: FormatArg,
    /// The time whose state FHIR shows (default now): a consent that ended by
    /// then (withdrawn, refused, expired, notice retired) is `inactive`.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run a consent subcommand.
pub fn consent(args: ConsentArgs) -> Result<()> {
    match args.command {
        ConsentCommand::Init(a) => init(a),
        ConsentCommand::DefaultPolicy => print(DEFAULT_POLICY_TOML),
        ConsentCommand::Notice(a) => notice(a),
        ConsentCommand::RetireNotice(a) => retire(a),
        ConsentCommand::Record(a) => record(a),
        ConsentCommand::Stop(a) => stop(a),
        ConsentCommand::Decide(a) => decide(a),
        ConsentCommand::History(a) => history(a),
        ConsentCommand::Export(a) => export(a),
        ConsentCommand::Repair(a) => repair(a),
    }
}

fn consent_err(e: ConsentError) -> crate::error::Failure {
    fail(e.to_string())
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    files::read_limited_text(path, MAX_TEXT, what)
}

/// Read the ledger from its locked file, streaming (memory holds the
/// ledger, never the file as well), keeping only the events of `scope`'s
/// subjects (docs/CONSENT.md 5.4: memory grows with those, not with the
/// file). With `repairing`, an incomplete final entry is reported instead
/// of refused.
fn read_ledger(
    lock: &mut LockedFile,
    path: &Path,
    scope: Option<LedgerScope>,
    repairing: bool,
) -> Result<(Ledger, Option<TornTail>)> {
    let damaged = |e: ConsentError| fail(format!("ledger file {}: {e}", path.display()));
    let mut reader = scope.map_or_else(LedgerReader::new, LedgerReader::scoped);
    lock.read_chunks(path, "ledger file", MAX_LEDGER, |chunk| {
        reader.feed(chunk).map_err(damaged)
    })?;
    if repairing {
        reader.finish_repairing().map_err(damaged)
    } else {
        reader.finish().map(|l| (l, None)).map_err(damaged)
    }
}

/// Load the events of `scope`'s subjects (`None`: of every subject) to
/// read them, under a shared lock (never half an append).
pub(crate) fn load(path: &Path, scope: Option<LedgerScope>) -> Result<Ledger> {
    let mut lock = LockedFile::open_shared(path, "ledger file")?;
    Ok(read_ledger(&mut lock, path, scope, false)?.0)
}

/// Load the events of `scope`'s subjects for a change: the returned lock is
/// held until the caller's change is saved, so concurrent writers never
/// lose an event.
fn load_locked(path: &Path, scope: LedgerScope) -> Result<(LockedFile, Ledger)> {
    let mut lock = LockedFile::open(path, "ledger file")?;
    let (ledger, _) = read_ledger(&mut lock, path, Some(scope), false)?;
    Ok((lock, ledger))
}

/// Save a change: append the new entries to the locked file (whole or not
/// at all); a version-1 file is rewritten once as version 2 (temporary file,
/// rename).
fn save(lock: &mut LockedFile, path: &Path, ledger: &mut Ledger) -> Result<()> {
    let save = ledger.unsaved();
    if save.is_empty() {
        return Ok(());
    }
    if save.is_append() {
        state::append_whole(lock.file(), save.bytes(), "ledger file")?;
    } else {
        let mut out = Output::create(Some(path), LEDGER_MODE)?;
        out.write_all(save.bytes())
            .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        out.commit()?;
    }
    ledger.mark_saved(&save).map_err(consent_err)
}

fn repair(a: RepairArgs) -> Result<()> {
    let mut lock = LockedFile::open(&a.ledger, "ledger file")?;
    let (ledger, torn) = read_ledger(&mut lock, &a.ledger, Some(LedgerScope::new()), true)?;
    match torn {
        None => print(&format!(
            "ledger {} is intact ({} events); nothing cut\n",
            a.ledger.display(),
            ledger.len()
        )),
        Some(t) => {
            lock.truncate(t.keep_len, "ledger file")?;
            print(&format!(
                "cut {} bytes from the end of {}: an incomplete entry left by an interrupted write; \
                 kept {} bytes ({} events)\n",
                t.cut_len,
                a.ledger.display(),
                t.keep_len,
                ledger.len()
            ))
        }
    }
}

fn print(text: &str) -> Result<()> {
    let mut out = Output::create(None, OutputMode::PUBLIC_TEXT)?;
    out.write_all(text.as_bytes())
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}

/// The time of `--at` (the clock when it is not given) and the clock.
fn at_and_now(at: Option<&str>) -> Result<(i64, i64)> {
    Ok((time::given_or_now(at, "--at")?, time::now()?))
}

fn init(a: InitArgs) -> Result<()> {
    let policy = match &a.policy {
        None => ConsentPolicy::default(),
        Some(p) => ConsentPolicy::from_toml(&read_text(p, "policy file")?)
            .map_err(|e| fail(format!("policy file {}: {e}", p.display())))?,
    };
    let ledger = Ledger::new(policy).map_err(consent_err)?;
    let bytes = ledger.to_bytes().map_err(consent_err)?;
    crate::files::write_new(&a.output, true, &bytes).map_err(|e| {
        fail(format!(
            "cannot create {} ({e}); init refuses to overwrite an existing ledger",
            a.output.display()
        ))
    })?;
    eprintln!(
        "Created consent ledger {} with {} purposes",
        a.output.display(),
        ledger.policy().purposes.len()
    );
    Ok(())
}

fn notice(a: NoticeArgs) -> Result<()> {
    let (at, now) = at_and_now(a.at.as_deref())?;
    let text = read_text(&a.text_file, "notice text file")?;
    let (mut lock, mut ledger) = load_locked(&a.ledger, LedgerScope::new())?;
    let r = ledger
        .register_notice(&a.id, a.version, &a.language, &text, at, now)
        .map_err(consent_err)?;
    save(&mut lock, &a.ledger, &mut ledger)?;
    print(&format!(
        "registered notice {} version {} ({}) sha256 {}\n",
        r.id,
        r.version,
        r.language,
        hex::encode(r.sha256)
    ))
}

fn retire(a: RetireArgs) -> Result<()> {
    let (at, now) = at_and_now(a.at.as_deref())?;
    let (mut lock, mut ledger) = load_locked(&a.ledger, LedgerScope::new())?;
    ledger
        .retire_notice(&a.id, a.version, at, now)
        .map_err(consent_err)?;
    save(&mut lock, &a.ledger, &mut ledger)?;
    print(&format!(
        "retired notice {} version {} at {}\n",
        a.id,
        a.version,
        time::format_rfc3339(at)
    ))
}

/// Split a `--notice ID:VERSION:LANGUAGE` argument.
pub(crate) fn notice_spec(spec: &str) -> Result<(&str, u32, &str)> {
    let mut parts = spec.splitn(3, ':');
    let (Some(id), Some(version), Some(language)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(usage(
            "--notice: use ID:VERSION:LANGUAGE, e.g. privacy-chat:1:de",
        ));
    };
    let version: u32 = version
        .parse()
        .map_err(|_| usage("--notice: the version must be a number, e.g. privacy-chat:1:de"))?;
    Ok((id, version, language))
}

fn parse_notice(ledger: &Ledger, spec: &str, sha: Option<&str>) -> Result<NoticeRef> {
    let (id, version, language) = notice_spec(spec)?;
    let sha256 = match sha {
        Some(h) => hex::decode(h.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| usage("--notice-sha256: give 64 hexadecimal digits"))?,
        None => ledger
            .notices()
            .iter()
            .find(|n| n.id == id && n.version == version && n.language == language)
            .map(|n| n.reference().sha256)
            .ok_or_else(|| {
                fail(format!(
                    "notice '{id}' version {version} ({language}) is not registered; register it with 'caduceus consent notice' first"
                ))
            })?,
    };
    Ok(NoticeRef {
        id: id.to_owned(),
        version,
        language: language.to_owned(),
        sha256,
    })
}

/// A subject must be a pseudonym or restricted identifier: a name or a
/// phone number is a usage error, caught before the ledger is read.
fn check_subject(subject: &str) -> Result<()> {
    caduceus_core::pseudonym::check_identifier(subject)
        .map_err(|e| usage(format!("--subject: {e}")))
}

fn record(a: RecordArgs) -> Result<()> {
    check_subject(&a.subject)?;
    let at = time::given_or_now(a.at.as_deref(), "--at")?;
    let expires = match a.expires.as_deref() {
        None => None,
        Some(s) => Some(time::given_or_now(Some(s), "--expires")?),
    };
    let now = time::now()?;
    let scope = LedgerScope::new().subject(&a.subject).event_id(&a.id);
    let (mut lock, mut ledger) = load_locked(&a.ledger, scope)?;
    let notice = match a.notice.as_deref() {
        None => None,
        Some(spec) => Some(parse_notice(&ledger, spec, a.notice_sha256.as_deref())?),
    };
    let event = ConsentEvent {
        id: a.id,
        subject: a.subject,
        purposes: a.purpose,
        status: match a.status {
            StatusArg::Given => ConsentStatus::Given,
            StatusArg::Refused => ConsentStatus::Refused,
            StatusArg::Withdrawn => ConsentStatus::Withdrawn,
            StatusArg::Expired => ConsentStatus::Expired,
            StatusArg::Renewed => ConsentStatus::Renewed,
        },
        method: match a.method {
            MethodArg::QrReception => ConsentMethod::QrReception,
            MethodArg::AnamnesisForm => ConsentMethod::AnamnesisForm,
            MethodArg::ChatReply => ConsentMethod::ChatReply,
            MethodArg::InPersonDocumented => ConsentMethod::InPersonDocumented,
            MethodArg::Other => ConsentMethod::Other,
        },
        notice,
        channel: a.channel,
        evidence: a.evidence,
        recorded_by: a.recorded_by,
        time: at,
        expires_at: expires,
    };
    let r = ledger.append(event, now).map_err(consent_err)?;
    save(&mut lock, &a.ledger, &mut ledger)?;
    print(&format!(
        "recorded event {} sha256 {}\n",
        r.seq,
        hex::encode(r.hash)
    ))
}

fn stop(a: StopArgs) -> Result<()> {
    check_subject(&a.subject)?;
    let (at, now) = at_and_now(a.at.as_deref())?;
    let req = OptOutRequest {
        event_id: a.id,
        subject: a.subject,
        reply: a.reply,
        message_id: a.message_id,
        channel: a.channel,
        recorded_by: a.recorded_by,
        time: at,
    };
    let (mut lock, mut ledger) = load_locked(&a.ledger, LedgerScope::opt_out(&req))?;
    let outcome = ledger.opt_out(req, now).map_err(consent_err)?;
    let OptOutOutcome::Stopped {
        withdrawal,
        objection,
    } = outcome
    else {
        return print("not an opt-out reply; nothing recorded\n");
    };
    if withdrawal.is_none() && objection.is_none() {
        return print(
            "opt-out reply, but the policy has no purpose that stops on STOP; nothing recorded\n",
        );
    }
    save(&mut lock, &a.ledger, &mut ledger)?;
    let mut out = String::new();
    for (what, e) in [("withdrawn", withdrawal), ("objection recorded", objection)] {
        if let Some(e) = e {
            out.push_str(&format!(
                "{what}: {} (event {} sha256 {})\n",
                e.purposes.join(", "),
                e.event.seq,
                hex::encode(e.event.hash)
            ));
        }
    }
    print(&out)
}

fn describe(subject: &str, purpose: &str, d: &Decision, json: bool) -> String {
    let basis = d.basis.map(|b| {
        let mut s = b.art6.article().to_owned();
        if let Some(c) = b.art9 {
            s.push_str(" + ");
            s.push_str(c.article());
        }
        s
    });
    if json {
        let mut v = serde_json::json!({
            "subject": subject,
            "purpose": purpose,
            "allowed": d.allowed,
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(b) = d.basis {
                obj.insert("art6".into(), b.art6.code().into());
                if let Some(c) = b.art9 {
                    obj.insert("art9".into(), c.code().into());
                }
            }
            if let Some(e) = d.event {
                obj.insert("event_seq".into(), e.seq.into());
                obj.insert("event_sha256".into(), hex::encode(e.hash).into());
            }
            if let Some(r) = d.refusal {
                obj.insert("reason".into(), r.code().into());
                if let Some(t) = r.at() {
                    obj.insert("reason_at".into(), time::format_rfc3339(t).into());
                }
            }
        }
        v.to_string()
    } else {
        let mut line = format!(
            "{subject}\t{purpose}\t{}",
            if d.allowed { "allowed" } else { "refused" }
        );
        if let Some(b) = basis {
            line.push_str(&format!("\t{b}"));
        }
        if let Some(r) = d.refusal {
            line.push_str(&format!("\t{}", r.code()));
            if let Some(t) = r.at() {
                line.push_str(&format!(" at {}", time::format_rfc3339(t)));
            }
        }
        if let Some(e) = d.event {
            line.push_str(&format!("\tevent {} sha256 {}", e.seq, hex::encode(e.hash)));
        }
        line
    }
}

fn decide(a: DecideArgs) -> Result<()> {
    let at = time::given_or_now(a.at.as_deref(), "--at")?;
    let mut subjects = a.subject;
    if let Some(path) = &a.subjects_file {
        let text = read_text(path, "subjects file")?;
        subjects.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if subjects.is_empty() {
        return Err(usage("name at least one --subject or a --subjects-file"));
    }
    let ledger = load(&a.ledger, Some(LedgerScope::new().subjects(&subjects)))?;
    if ledger.policy().purposes.iter().all(|p| p.id != a.purpose) {
        return Err(fail(
            ConsentError::UnknownPurpose(a.purpose.clone()).to_string(),
        ));
    }
    let decisions = ledger.decide_many(&subjects, &a.purpose, at);
    let mut text = String::new();
    for (s, d) in subjects.iter().zip(&decisions) {
        text.push_str(&describe(s, &a.purpose, d, a.json));
        text.push('\n');
    }
    print(&text)?;
    // `decide ... && send` must never send to a refused subject: any refusal
    // makes the exit code 1 (docs/CONSENT.md section 8).
    let refused_count = decisions.iter().filter(|d| !d.allowed).count();
    if refused_count > 0 {
        return Err(refused(format!(
            "{refused_count} of {} subjects may not be contacted for purpose {}",
            decisions.len(),
            a.purpose
        )));
    }
    Ok(())
}

fn history(a: HistoryArgs) -> Result<()> {
    let ledger = load(&a.ledger, Some(LedgerScope::new().subject(&a.subject)))?;
    let mut text = String::new();
    for r in ledger.history(&a.subject) {
        let e = &r.event;
        if a.json {
            let mut v = serde_json::json!({
                "seq": r.event_ref.seq,
                "sha256": hex::encode(r.event_ref.hash),
                "id": e.id,
                "time": time::format_rfc3339(e.time),
                "status": e.status.code(),
                "purposes": e.purposes,
                "method": e.method.code(),
                "channel": e.channel,
                "recorded_by": e.recorded_by,
            });
            if let Some(obj) = v.as_object_mut() {
                if let Some(ev) = &e.evidence {
                    obj.insert("evidence".into(), ev.clone().into());
                }
                if let Some(n) = &e.notice {
                    obj.insert(
                        "notice".into(),
                        serde_json::json!({"id": n.id, "version": n.version,
                            "language": n.language, "sha256": hex::encode(n.sha256)}),
                    );
                }
                if let Some(x) = e.expires_at {
                    obj.insert("expires".into(), time::format_rfc3339(x).into());
                }
            }
            text.push_str(&v.to_string());
        } else {
            text.push_str(&format!(
                "{} {} {} [{}] method={} channel={} by={}",
                time::format_rfc3339(e.time),
                e.id,
                e.status.code(),
                e.purposes.join(","),
                e.method.code(),
                e.channel,
                e.recorded_by
            ));
            if let Some(n) = &e.notice {
                text.push_str(&format!(" notice={}:{}:{}", n.id, n.version, n.language));
            }
            if let Some(ev) = &e.evidence {
                text.push_str(&format!(" evidence={ev}"));
            }
            if let Some(x) = e.expires_at {
                text.push_str(&format!(" expires={}", time::format_rfc3339(x)));
            }
            text.push_str(&format!(" sha256={}", hex::encode(r.event_ref.hash)));
        }
        text.push('\n');
    }
    if text.is_empty() {
        eprintln!("no consent events for this subject");
    }
    print(&text)
}

fn export(a: ExportArgs) -> Result<()> {
    state::ensure_not_input(a.output.as_deref(), &[&a.ledger])?;
    let (at, _) = at_and_now(a.at.as_deref())?;
    let ledger = load(&a.ledger, Some(LedgerScope::new().subject(&a.subject)))?;
    let json = match a.format {
        FormatArg::Fhir => ledger.export_fhir(&a.subject, at),
        FormatArg::Iso27560 => ledger.export_iso27560(&a.subject),
    };
    let mut out = Output::create_user(a.output.as_deref(), OutputMode::PLAINTEXT)?;
    out.write_all(json.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}
