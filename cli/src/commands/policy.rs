//! `caduceus policy`: lint a retention policy, print its hash and the
//! Art. 30 register, sweep record metadata, plan erasure and access
//! requests, start the breach clock, and answer access-role questions
//! (docs/POLICY.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use caduceus_core::access::{self, Operation};
use caduceus_core::consent::ConsentPolicy;
use caduceus_core::retention::{
    BreachClock, DEFAULT_POLICY, Date, Hold, Policy, RecordSet, Severity, lint_with_consent,
    parse_holds, parse_records,
};
use clap::{Args, Subcommand, ValueEnum};

use crate::error::{Result, fail, refused, usage};
use crate::files::{self, Output, OutputMode};
use crate::time;

/// Largest policy, records or holds file read (1 GiB; the core's own limits
/// then apply).
const MAX_INPUT: u64 = 1 << 30;

/// `caduceus policy`.
#[derive(Debug, Args)]
#[command(after_help = "\
Every command reads the policy given with -p/--policy (TOML, docs/POLICY.md);
without it, the built-in default for German practices
(policies/de-practice.toml). Errors in a policy are reported as
FILE:LINE:COLUMN: message, and nothing is done.

Records and holds are JSON arrays (docs/POLICY.md, section 3 'The sweep'):
  [{\"id\": 1, \"subject\": \"p-7f3a91\", \"category\": \"chat-messages\",
    \"created\": \"2023-04-01\"}]
  [{\"subject\": \"p-7f3a91\", \"reason\": \"case 3 O 12/26\", \"until\": \"2027-01-01\"}]

Examples:
  caduceus policy lint -p practice.toml --consent-policy consent-policy.toml
  caduceus policy register -p practice.toml --format markdown -o register.md
  caduceus policy sweep -p practice.toml --records records.json --date 2026-01-31
  caduceus policy erasure --subject p-7f3a91 --records p-7f3a91.json \\
      --received 2026-01-31T10:00:00Z --format de
  caduceus policy breach --detected 2026-01-31T08:15:00Z")]
pub struct PolicyArgs {
    /// The policy command.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// The policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy: each finding with severity, line, column and the fix; exit 1 on errors.
    Lint(LintArgs),
    /// Print the policy hash (SHA-256 of the canonical policy) that plans record.
    Hash(PolicyOnly),
    /// Render the register of processing activities (Art. 30) as Markdown or JSON.
    Register(RegisterArgs),
    /// Given record metadata and a date: the actions due, held and unresolved records, next due dates (JSON).
    Sweep(SweepArgs),
    /// Plan an erasure request (Art. 17): per category erase now, or keep with ground and date.
    Erasure(RequestArgs),
    /// Plan an access / portability request (Art. 15, 20): what exists, by category, and the export.
    Access(RequestArgs),
    /// The breach notification deadline (Art. 33: 72 hours from detection).
    Breach(BreachArgs),
    /// May a role read, write or export a category? Exit 0 if permitted, 1 if not.
    Check(CheckArgs),
    /// The roles whose staff keys receive a wrapped copy of a category's subject keys.
    Recipients(RecipientsArgs),
}

/// The policy option shared by the subcommands.
#[derive(Debug, Args)]
pub struct PolicyOnly {
    /// The policy file (TOML); default: the built-in German practice policy.
    #[arg(short, long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `caduceus policy lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    policy: PolicyOnly,
    /// The consent policy (TOML) the practice's ledger uses: each activity's
    /// consent-purpose is checked against its bases (default: the built-in
    /// consent policy).
    #[arg(long, value_name = "FILE")]
    consent_policy: Option<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
}

/// Register formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegisterFormat {
    /// Markdown document.
    Markdown,
    /// JSON.
    Json,
}

/// `caduceus policy register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    policy: PolicyOnly,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RegisterFormat::Markdown)]
    format: RegisterFormat,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `caduceus policy sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    policy: PolicyOnly,
    /// Record metadata (JSON array); '-' for standard input.
    #[arg(long, value_name = "FILE", required = true)]
    records: PathBuf,
    /// Legal holds (JSON array).
    #[arg(long, value_name = "FILE")]
    holds: Option<PathBuf>,
    /// The day to sweep for, YYYY-MM-DD (Europe/Berlin); default today.
    #[arg(long, value_name = "DATE")]
    date: Option<String>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Plan formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// JSON for the host, including both texts.
    Json,
    /// The German text for the patient.
    De,
    /// The English text for the patient.
    En,
}

/// `caduceus policy erasure` and `caduceus policy access`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    #[command(flatten)]
    policy: PolicyOnly,
    /// The subject's pseudonym.
    #[arg(long, value_name = "PSEUDONYM", required = true)]
    subject: String,
    /// The subject's record metadata (JSON array); '-' for standard input.
    #[arg(long, value_name = "FILE", required = true)]
    records: PathBuf,
    /// Legal holds (JSON array); used by erasure.
    #[arg(long, value_name = "FILE")]
    holds: Option<PathBuf>,
    /// When the request was received: RFC 3339 or Unix seconds; default now.
    #[arg(long, value_name = "TIME")]
    received: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    format: PlanFormat,
    /// Write to FILE (mode 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `caduceus policy breach`.
#[derive(Debug, Args)]
pub struct BreachArgs {
    /// When the breach was detected: RFC 3339 or Unix seconds.
    #[arg(long, value_name = "TIME", required = true)]
    detected: String,
    /// The time to report the remaining time for; default now.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

/// Operations for `policy check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OpArg {
    /// Read (open).
    Read,
    /// Write.
    Write,
    /// Export.
    Export,
}

/// `caduceus policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    policy: PolicyOnly,
    /// Role id.
    #[arg(long, required = true)]
    role: String,
    /// Category id.
    #[arg(long, required = true)]
    category: String,
    /// Operation.
    #[arg(long, value_enum, default_value_t = OpArg::Read)]
    op: OpArg,
}

/// `caduceus policy recipients`.
#[derive(Debug, Args)]
pub struct RecipientsArgs {
    #[command(flatten)]
    policy: PolicyOnly,
    /// Category id.
    #[arg(long, required = true)]
    category: String,
}

/// Run a policy subcommand.
pub fn policy(args: PolicyArgs) -> Result<()> {
    match args.command {
        PolicyCommand::Lint(a) => lint_cmd(a),
        PolicyCommand::Hash(a) => {
            let (_, p) = load_policy(a.policy.as_deref())?;
            print(&format!("{}\n", p.hash_hex()))
        }
        PolicyCommand::Register(a) => {
            let (_, p) = load_policy(a.policy.policy.as_deref())?;
            let text = match a.format {
                RegisterFormat::Markdown => p.register_markdown(),
                RegisterFormat::Json => format!("{:#}\n", p.register_json()),
            };
            write_out(a.output.as_deref(), &text, OutputMode::PUBLIC_TEXT)
        }
        PolicyCommand::Sweep(a) => sweep(a),
        PolicyCommand::Erasure(a) => request(a, true),
        PolicyCommand::Access(a) => request(a, false),
        PolicyCommand::Breach(a) => {
            let detected = parse_time(&a.detected, "--detected")?;
            let now = match &a.now {
                Some(t) => parse_time(t, "--now")?,
                None => time::now()?,
            };
            // A detection in the future (beyond 5 minutes of clock skew)
            // would push the Art. 33 deadline out: a typing mistake.
            if detected > now.saturating_add(300) {
                return Err(usage(
                    "--detected lies in the future: give the time the breach was detected \
                     (the 72-hour clock starts then), or --now if this machine's clock is wrong",
                ));
            }
            let clock = BreachClock::start(detected);
            print(&format!("{:#}\n", clock.to_json(Some(now))))
        }
        PolicyCommand::Check(a) => {
            let (_, p) = load_policy(a.policy.policy.as_deref())?;
            let op = match a.op {
                OpArg::Read => Operation::Read,
                OpArg::Write => Operation::Write,
                OpArg::Export => Operation::Export,
            };
            let d =
                access::check(&p, &a.role, &a.category, op).map_err(|e| usage(e.to_string()))?;
            print(&format!(
                "{}: {} (policy {})\n",
                if d.allowed { "permitted" } else { "denied" },
                d.reason,
                d.policy_hash
            ))?;
            if d.allowed {
                Ok(())
            } else {
                Err(refused(format!("access denied: {}", d.reason)))
            }
        }
        PolicyCommand::Recipients(a) => {
            let (_, p) = load_policy(a.policy.policy.as_deref())?;
            let roles = access::readers(&p, &a.category).map_err(|e| usage(e.to_string()))?;
            let mut s = String::from("practice (always)\n");
            for r in roles {
                s.push_str(&r);
                s.push('\n');
            }
            print(&s)
        }
    }
}

fn lint_cmd(a: LintArgs) -> Result<()> {
    let (name, p) = load_policy(a.policy.policy.as_deref())?;
    let consent = match &a.consent_policy {
        None => ConsentPolicy::default(),
        Some(path) => ConsentPolicy::from_toml(&read_text(path, "consent policy")?)
            .map_err(|e| fail(format!("consent policy {}: {e}", path.display())))?,
    };
    let findings = lint_with_consent(&p, &consent);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let text = if a.json {
        let list: Vec<String> = findings
            .iter()
            .map(|f| {
                format!(
                    "{{\"code\":{},\"severity\":\"{}\",\"line\":{},\"column\":{},\"message\":{},\"fix\":{}}}",
                    json_str(f.code),
                    f.severity.name(),
                    f.location.line,
                    f.location.column,
                    json_str(&f.message),
                    json_str(&f.fix)
                )
            })
            .collect();
        format!(
            "{{\"policy\":{},\"hash\":\"{}\",\"findings\":[{}]}}\n",
            json_str(&name),
            p.hash_hex(),
            list.join(",")
        )
    } else {
        let mut s = String::new();
        for f in &findings {
            s.push_str(&format!(
                "{name}:{}:{}: {}[{}]: {}\n  fix: {}\n",
                f.location.line,
                f.location.column,
                f.severity.name(),
                f.code,
                f.message,
                f.fix
            ));
        }
        s.push_str(&format!(
            "{name}: {} error(s), {} warning(s); policy hash {}\n",
            errors,
            findings.len() - errors,
            p.hash_hex()
        ));
        s
    };
    print(&text)?;
    if errors > 0 {
        Err(refused(format!(
            "policy {name} has {errors} error finding(s); fix them before use"
        )))
    } else {
        Ok(())
    }
}

fn sweep(a: SweepArgs) -> Result<()> {
    let (_, p) = load_policy(a.policy.policy.as_deref())?;
    let today = match &a.date {
        Some(d) => d
            .parse::<Date>()
            .map_err(|e| usage(format!("--date: {e}")))?,
        None => Date::from_unix_berlin(time::now()?),
    };
    let records = load_records(&p, &a.records)?;
    let holds = load_holds(&p, a.holds.as_deref())?;
    let report = p.sweep(&records.records, today, &holds);
    let text = format!("{:#}\n", report.to_json(&p, &holds));
    write_out(a.output.as_deref(), &text, OutputMode::PLAINTEXT)
}

fn request(a: RequestArgs, erasure: bool) -> Result<()> {
    let (_, p) = load_policy(a.policy.policy.as_deref())?;
    let received = match &a.received {
        Some(t) => parse_time(t, "--received")?,
        None => time::now()?,
    };
    let records = load_records(&p, &a.records)?;
    let holds = load_holds(&p, a.holds.as_deref())?;
    let text = if erasure {
        let plan = p
            .plan_erasure(&a.subject, received, &records.records, &holds)
            .map_err(|e| fail(e.to_string()))?;
        match a.format {
            PlanFormat::Json => format!("{:#}\n", plan.to_json(&p)),
            PlanFormat::De => plan.text_de(&p),
            PlanFormat::En => plan.text_en(&p),
        }
    } else {
        let plan = access::plan_access(&p, &a.subject, received, &records.records)
            .map_err(|e| fail(e.to_string()))?;
        match a.format {
            PlanFormat::Json => format!("{:#}\n", plan.to_json(&p)),
            PlanFormat::De => plan.text_de(&p),
            PlanFormat::En => plan.text_en(&p),
        }
    };
    write_out(a.output.as_deref(), &text, OutputMode::PLAINTEXT)
}

/// Read a text input file (or standard input for `-`).
fn read_text(path: &Path, what: &str) -> Result<String> {
    files::read_limited_text(path, MAX_INPUT, what)
}

/// Load and validate the policy; returns its display name and the policy.
pub(crate) fn load_policy(path: Option<&Path>) -> Result<(String, Policy)> {
    let (name, text) = match path {
        Some(p) => (p.display().to_string(), read_text(p, "policy file")?),
        None => (
            "de-practice.toml (built in)".to_owned(),
            DEFAULT_POLICY.to_owned(),
        ),
    };
    let policy = Policy::parse(&text).map_err(|e| {
        let l = e.location();
        let msg = e.to_string();
        let msg = msg
            .split_once(": ")
            .map_or(msg.as_str(), |(_, m)| m)
            .to_owned();
        fail(format!("{name}:{}:{}: {msg}", l.line, l.column))
    })?;
    Ok((name, policy))
}

fn load_records(p: &Policy, path: &Path) -> Result<RecordSet> {
    let text = read_text(path, "records file")?;
    parse_records(p, &text).map_err(|e| fail(format!("{}: {e}", path.display())))
}

fn load_holds(p: &Policy, path: Option<&Path>) -> Result<Vec<Hold>> {
    match path {
        None => Ok(Vec::new()),
        Some(path) => {
            let text = read_text(path, "holds file")?;
            parse_holds(p, &text).map_err(|e| fail(format!("{}: {e}", path.display())))
        }
    }
}

fn parse_time(s: &str, option: &str) -> Result<i64> {
    time::parse_time(s).ok_or_else(|| {
        usage(format!(
            "{option}: not a time; give RFC 3339 (2026-01-31T10:00:00Z) or Unix seconds"
        ))
    })
}

fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| fail(format!("cannot write output: {e}")))
}

fn write_out(path: Option<&Path>, text: &str, mode: OutputMode) -> Result<()> {
    let mut out = Output::create_user(path, mode)?;
    out.write_all(text.as_bytes())
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}

/// A JSON string literal (UTF-8 kept as it is).
fn json_str(v: &str) -> String {
    super::json_string(v, false)
}
