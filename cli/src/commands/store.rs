//! `caduceus store`: the embedded store (docs/STORE.md) from the practice
//! side: create it, list its records by their labels, open a record with a
//! staff or practice key (audited), verify, checkpoint and prove its audit
//! log, run the retention sweep, carry out an Art. 17 erasure, and manage
//! legal holds.
//!
//! The store never holds a private key: `open` takes the identity file from
//! the command line and unwraps the record's subject-category key from the
//! keyring record in the store. SQLite serialises writers (WAL mode, a
//! bounded busy wait: exit code 4 when it runs out) and every change is one
//! transaction with its audit entries.

use std::io::Write;
use std::path::{Path, PathBuf};

use caduceus_core::audit::{AuditKey, Checkpoint, PseudonymKind, merkle, note};
use caduceus_core::retention::Date;
use caduceus_store::{Actor, HoldTarget, Store, StoreError, StoreOptions};
use clap::{Args, Subcommand};

use super::audit::{key_line, load_signers, open_checkpoint, print_report};
use super::{load_identities, policy};
use crate::error::{Failure, Result, fail, refused, usage};
use crate::files::{Output, OutputMode};
use crate::time;

/// `caduceus store`.
#[derive(Debug, Args)]
#[command(after_help = "\
The store is one SQLite database (WAL mode) with a media directory beside it
(docs/STORE.md). It holds sealed envelopes with their labels, keyring records,
consent events, the audit log, dedupe keys and legal holds; never a private
key. 'caduceus serve' writes to it; these commands are the practice side.

Exit codes: 0 done (verified), 1 refused (verification failed, a legal hold
blocks the erasure, the key has no access), 2 usage error, 3 failed, 4 busy
(another writer held the store past the busy wait; nothing was changed).

Examples:
  caduceus store init --db practice.db
  caduceus store list --db practice.db --subject p-7f3a91...
  caduceus store open --db practice.db --record rec-1 --identity dr.key \\
      --audit-key audit.key --actor-id dr.mueller --role doctor -o photo.jpg
  caduceus store sweep --db practice.db --audit-key audit.key --actor-id retention
  caduceus store erase --db practice.db --subject p-7f3a91... \\
      --audit-key audit.key --actor-id dpo --role dpo")]
pub struct StoreArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// The store subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create a new, empty store (refuses an existing file).
    Init(InitArgs),
    /// List records by their labels (nothing is decrypted).
    List(ListArgs),
    /// Open (decrypt) one record with a staff or practice key; the read is audited first.
    Open(OpenArgs),
    /// Verify the store's audit log (and signed checkpoints).
    Verify(VerifyArgs),
    /// Sign a checkpoint of the store's audit log and keep it in the store.
    Checkpoint(CheckpointArgs),
    /// Print an inclusion proof of an audit entry (checked by 'audit verify-proof').
    Prove(ProveArgs),
    /// Retention sweep: delete the records that are due and not held, with audit entries.
    Sweep(SweepArgs),
    /// Art. 17 erasure: shred a subject's keyring records (all or some categories).
    Erase(EraseArgs),
    /// Legal holds: add, lift, list.
    Hold(HoldArgs),
}

/// The store database file, shared by every subcommand.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The store's database file.
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
}

/// Who acts, for the audit entries a command writes.
#[derive(Debug, Args)]
pub struct ActorArgs {
    /// File with the pseudonym key (from 'audit keygen --kind pseudonym').
    #[arg(long, value_name = "FILE")]
    pub audit_key: PathBuf,
    /// The acting staff member's or service's identifier (pseudonymized).
    #[arg(long)]
    pub actor_id: String,
    /// The actor's role label.
    #[arg(long)]
    pub role: Option<String>,
    /// The source system label.
    #[arg(long, default_value = "caduceus-cli")]
    pub source: String,
    /// Time of the action: Unix seconds or RFC 3339 (default now).
    #[arg(long)]
    pub at: Option<String>,
}

/// `caduceus store init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    db: DbArg,
    /// Origin (log name) of the store's audit log, e.g. praxis.example/audit.
    #[arg(long, default_value = caduceus_store::DEFAULT_AUDIT_ORIGIN)]
    origin: String,
}

/// `caduceus store list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only the records of this subject pseudonym.
    #[arg(long)]
    subject: Option<String>,
}

/// `caduceus store open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    db: DbArg,
    /// The record id.
    #[arg(long)]
    record: String,
    /// Identity file (staff or practice key); repeatable, the first with access is used.
    #[arg(long, value_name = "FILE", required = true)]
    identity: Vec<PathBuf>,
    #[command(flatten)]
    actor: ActorArgs,
    /// Write the plaintext to FILE (mode 0600, never overwritten), or '-' for standard output.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// `caduceus store verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: DbArg,
    /// Signed checkpoint file to check against (besides those kept in the store).
    #[arg(long, value_name = "FILE", requires = "vkey")]
    checkpoint: Vec<PathBuf>,
    /// Trusted verifier key (name+id+key); with it the store's own checkpoints are checked too.
    #[arg(long, value_name = "VKEY")]
    vkey: Vec<String>,
}

/// `caduceus store checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    db: DbArg,
    /// Signing key file(s) (PRIVATE+KEY+...); repeat to co-sign.
    #[arg(long, value_name = "FILE", required = true)]
    key: Vec<PathBuf>,
    /// Also write the signed checkpoint to FILE (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `caduceus store prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    #[command(flatten)]
    db: DbArg,
    /// Leaf index of the entry, proved against the log's current size.
    #[arg(long)]
    index: u64,
}

/// `caduceus store sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    db: DbArg,
    /// Retention policy file (default: the built-in de-practice policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    actor: ActorArgs,
}

/// `caduceus store erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    db: DbArg,
    /// The subject pseudonym.
    #[arg(long)]
    subject: String,
    /// Only these categories (repeatable; default: every category of the subject).
    #[arg(long)]
    category: Vec<String>,
    #[command(flatten)]
    actor: ActorArgs,
}

/// `caduceus store hold`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    #[command(subcommand)]
    command: HoldCommand,
}

/// The hold subcommands.
#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Add a legal hold on a subject, a category or a record; prints its id.
    Add(HoldAddArgs),
    /// Lift a hold from a day on (it stays stored, ending that day).
    Lift(HoldLiftArgs),
    /// List the holds.
    List(DbArg),
}

/// `caduceus store hold add`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["subject", "category", "record"])))]
pub struct HoldAddArgs {
    #[command(flatten)]
    db: DbArg,
    /// Hold every record and keyring record of this subject pseudonym.
    #[arg(long)]
    subject: Option<String>,
    /// Hold every record of this category.
    #[arg(long)]
    category: Option<String>,
    /// Hold one record.
    #[arg(long)]
    record: Option<String>,
    /// Why: a case reference label (no health data).
    #[arg(long)]
    reason: String,
    /// First day in force (YYYY-MM-DD; default: since always).
    #[arg(long)]
    from: Option<String>,
    /// First day no longer in force (YYYY-MM-DD; default: until lifted).
    #[arg(long)]
    until: Option<String>,
}

/// `caduceus store hold lift`.
#[derive(Debug, Args)]
pub struct HoldLiftArgs {
    #[command(flatten)]
    db: DbArg,
    /// The hold's id (from 'store hold add' or 'store hold list').
    #[arg(long)]
    id: i64,
    /// The day it ends (YYYY-MM-DD; default today).
    #[arg(long)]
    on: Option<String>,
}

/// Run `caduceus store`.
pub fn store(args: StoreArgs) -> Result<()> {
    match args.command {
        StoreCommand::Init(a) => init(a),
        StoreCommand::List(a) => list(a),
        StoreCommand::Open(a) => open(a),
        StoreCommand::Verify(a) => verify(a),
        StoreCommand::Checkpoint(a) => checkpoint(a),
        StoreCommand::Prove(a) => prove(a),
        StoreCommand::Sweep(a) => sweep(a),
        StoreCommand::Erase(a) => erase(a),
        StoreCommand::Hold(a) => match a.command {
            HoldCommand::Add(a) => hold_add(a),
            HoldCommand::Lift(a) => hold_lift(a),
            HoldCommand::List(a) => hold_list(&a),
        },
    }
}

/// A store error as a CLI failure: busy is exit 4, a refusal of access or a
/// legal hold exit 1, anything else exit 3. Store messages hold no
/// personal data.
fn store_failure(db: &Path, e: StoreError) -> Failure {
    let msg = format!("store {}: {e}", db.display());
    match e {
        StoreError::Busy => Failure::Busy(msg),
        StoreError::NoAccess | StoreError::KeyShredded | StoreError::LegalHold { .. } => {
            refused(msg)
        }
        _ => fail(msg),
    }
}

/// Open an existing store (never creates one: a mistyped path is an error,
/// not a new empty store).
fn open_store(db: &Path) -> Result<Store> {
    if !db.is_file() {
        return Err(fail(format!(
            "store {}: no such file; create a store with 'caduceus store init --db {}'",
            db.display(),
            db.display()
        )));
    }
    Store::open(db).map_err(|e| store_failure(db, e))
}

fn actor(args: &ActorArgs, default_role: &str) -> Result<(Actor, i64)> {
    let key = AuditKey::parse(&key_line(&args.audit_key, "audit key file")?)
        .map_err(|e| fail(format!("audit key file {}: {e}", args.audit_key.display())))?;
    let now = time::given_or_now(args.at.as_deref(), "--at")?;
    Ok((
        Actor {
            pseudonym: key.pseudonym(PseudonymKind::Staff, &args.actor_id),
            role: args.role.clone().unwrap_or_else(|| default_role.to_owned()),
            source: args.source.clone(),
        },
        now,
    ))
}

fn parse_day(text: Option<&str>, option: &str) -> Result<Option<Date>> {
    text.map(|t| {
        t.parse::<Date>()
            .map_err(|_| usage(format!("{option}: expected a day as YYYY-MM-DD")))
    })
    .transpose()
}

fn init(args: InitArgs) -> Result<()> {
    let db = &args.db.db;
    if db.exists() {
        return Err(fail(format!(
            "{} already exists; 'store init' never overwrites a file",
            db.display()
        )));
    }
    let options = StoreOptions {
        audit_origin: args.origin.clone(),
        ..StoreOptions::default()
    };
    let store = Store::open_with(db, options).map_err(|e| store_failure(db, e))?;
    let version = store.schema_version().map_err(|e| store_failure(db, e))?;
    println!(
        "created store {} (schema version {version}, audit origin {}, media in {})",
        db.display(),
        args.origin,
        store.media_dir().display()
    );
    Ok(())
}

fn list(args: ListArgs) -> Result<()> {
    let db = &args.db.db;
    let store = open_store(db)?;
    let ids = match &args.subject {
        Some(s) => store.records_of(s),
        None => store.record_ids(),
    }
    .map_err(|e| store_failure(db, e))?;
    let mut out = std::io::stdout().lock();
    for id in &ids {
        let Some(r) = store.record(id).map_err(|e| store_failure(db, e))? else {
            continue;
        };
        let l = &r.labels;
        let _ = writeln!(
            out,
            "{} subject={} category={} purpose={} type={} created={} size={}{}{}",
            r.record_id,
            l.subject,
            l.category,
            l.purpose,
            l.content_type,
            l.created_at,
            r.size,
            if r.is_media_file { " file" } else { "" },
            r.replaces
                .as_ref()
                .map_or_else(String::new, |p| format!(" replaces={p}"))
        );
    }
    let _ = writeln!(out, "{} record(s)", ids.len());
    Ok(())
}

fn open(args: OpenArgs) -> Result<()> {
    let db = &args.db.db;
    let mut inputs: Vec<&Path> = args.identity.iter().map(PathBuf::as_path).collect();
    inputs.push(db);
    inputs.push(&args.actor.audit_key);
    crate::state::ensure_not_input(Some(&args.output), &inputs)?;
    let identities = load_identities(&args.identity)?;
    let (actor, now) = actor(&args.actor, "staff")?;
    let mut store = open_store(db)?;
    // The first identity with access opens it; each refused try is audited.
    let mut last = None;
    for identity in &identities {
        match store.open_record_audited(&args.record, identity, &actor, now) {
            Ok(opened) => {
                let mut out = Output::create_user(Some(&args.output), OutputMode::PLAINTEXT)?;
                out.write_all(&opened.plaintext)
                    .map_err(|e| fail(format!("cannot write output: {e}")))?;
                out.commit()?;
                eprintln!(
                    "opened {} ({} bytes, {}); the read is in the store's audit log",
                    args.record,
                    opened.plaintext.len(),
                    opened.header.labels.category
                );
                return Ok(());
            }
            Err(StoreError::NoAccess) => last = Some(StoreError::NoAccess),
            Err(e) => return Err(store_failure(db, e)),
        }
    }
    Err(store_failure(db, last.unwrap_or(StoreError::NoAccess)))
}

fn parse_verifiers(vkeys: &[String]) -> Result<Vec<note::NoteVerifier>> {
    vkeys
        .iter()
        .map(|v| note::NoteVerifier::parse(v).map_err(|e| usage(format!("--vkey: {e}"))))
        .collect()
}

fn verify(args: VerifyArgs) -> Result<()> {
    let db = &args.db.db;
    let verifiers = parse_verifiers(&args.vkey)?;
    let mut checkpoints = Vec::new();
    for path in &args.checkpoint {
        checkpoints.push(open_checkpoint(path, &verifiers)?);
    }
    let store = open_store(db)?;
    let mut kept = 0usize;
    if !verifiers.is_empty() {
        for (i, text) in store
            .checkpoints()
            .map_err(|e| store_failure(db, e))?
            .iter()
            .enumerate()
        {
            let cp = Checkpoint::open(text, &verifiers)
                .map_err(|e| refused(format!("checkpoint {i} kept in the store: {e}")))?;
            checkpoints.push(cp);
            kept += 1;
        }
    }
    let report = store
        .verify_audit(&checkpoints)
        .map_err(|e| store_failure(db, e))?;
    print_report(&report, &format!(" ({kept} kept in the store)"))
}

fn checkpoint(args: CheckpointArgs) -> Result<()> {
    let db = &args.db.db;
    let mut inputs: Vec<&Path> = args.key.iter().map(PathBuf::as_path).collect();
    inputs.push(db);
    crate::state::ensure_not_input(args.output.as_deref(), &inputs)?;
    let signers = load_signers(&args.key)?;
    let refs: Vec<&note::NoteSigner> = signers.iter().collect();
    let mut store = open_store(db)?;
    let cp = store.audit_checkpoint().map_err(|e| store_failure(db, e))?;
    let signed = cp.sign(&refs).map_err(|e| fail(e.to_string()))?;
    store
        .save_checkpoint(&cp, &signed)
        .map_err(|e| store_failure(db, e))?;
    let mut out = Output::create_user(args.output.as_deref(), OutputMode::PUBLIC_TEXT)?;
    out.write_all(signed.as_bytes())
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}

fn prove(args: ProveArgs) -> Result<()> {
    let db = &args.db.db;
    let store = open_store(db)?;
    let size = store.audit_size().map_err(|e| store_failure(db, e))?;
    if args.index >= size {
        return Err(usage(format!(
            "--index {}: the store's audit log has {size} entries",
            args.index
        )));
    }
    let entry = store
        .audit_entries(args.index, args.index + 1)
        .map_err(|e| store_failure(db, e))?;
    let leaf = merkle::leaf_hash(entry.first().map_or(&[][..], Vec::as_slice));
    let root = store
        .audit_checkpoint()
        .map_err(|e| store_failure(db, e))?
        .root;
    let proof = store
        .inclusion_proof(args.index, size)
        .map_err(|e| store_failure(db, e))?;
    let b64 = merkle::hash_to_base64;
    let mut text = format!(
        "inclusion proof\nindex {}\nsize {size}\nleaf {}\nroot {}\n",
        args.index,
        b64(&leaf),
        b64(&root)
    );
    for h in proof {
        text.push_str(&b64(&h));
        text.push('\n');
    }
    print!("{text}");
    Ok(())
}

fn sweep(args: SweepArgs) -> Result<()> {
    let db = &args.db.db;
    let (_, policy) = policy::load_policy(args.policy.as_deref())?;
    let (actor, now) = actor(&args.actor, "retention-service")?;
    let mut store = open_store(db)?;
    let s = store
        .sweep(now, &policy, &actor)
        .map_err(|e| store_failure(db, e))?;
    for id in &s.deleted {
        println!("deleted {id}");
    }
    println!(
        "sweep of {}: {} deleted, {} kept, {} held, {} unresolved",
        s.today,
        s.deleted.len(),
        s.kept,
        s.held,
        s.unresolved
    );
    Ok(())
}

fn erase(args: EraseArgs) -> Result<()> {
    let db = &args.db.db;
    let (actor, now) = actor(&args.actor, "dpo")?;
    let mut store = open_store(db)?;
    let categories: Vec<&str> = args.category.iter().map(String::as_str).collect();
    let s = store
        .erase_subject(&args.subject, &categories, now, &actor)
        .map_err(|e| store_failure(db, e))?;
    for c in &s.shredded {
        println!("shredded {c}");
    }
    for c in &s.already_shredded {
        println!("already shredded {c}");
    }
    if s.shredded.is_empty() && s.already_shredded.is_empty() {
        return Err(fail(
            "the store holds no keyring record of this subject (in the given categories); nothing was shredded",
        ));
    }
    println!(
        "erasure: {} categor{} shredded now; their envelopes can no longer be opened, in the store or in any backup",
        s.shredded.len(),
        if s.shredded.len() == 1 { "y" } else { "ies" }
    );
    Ok(())
}

fn hold_add(args: HoldAddArgs) -> Result<()> {
    let db = &args.db.db;
    let target = match (args.subject, args.category, args.record) {
        (Some(s), None, None) => HoldTarget::Subject(s),
        (None, Some(c), None) => HoldTarget::Category(c),
        (None, None, Some(r)) => HoldTarget::Record(r),
        _ => return Err(usage("give exactly one of --subject, --category, --record")),
    };
    let from = parse_day(args.from.as_deref(), "--from")?;
    let until = parse_day(args.until.as_deref(), "--until")?;
    let mut store = open_store(db)?;
    let id = store
        .add_hold(&target, &args.reason, from, until)
        .map_err(|e| store_failure(db, e))?;
    println!("hold {id} added");
    Ok(())
}

fn hold_lift(args: HoldLiftArgs) -> Result<()> {
    let db = &args.db.db;
    let day = match parse_day(args.on.as_deref(), "--on")? {
        Some(d) => d,
        None => Date::from_unix_berlin(time::now()?),
    };
    let mut store = open_store(db)?;
    if store
        .lift_hold(args.id, day)
        .map_err(|e| store_failure(db, e))?
    {
        println!("hold {} ends on {day}", args.id);
        Ok(())
    } else {
        Err(fail(format!("no hold with id {} in the store", args.id)))
    }
}

fn hold_list(args: &DbArg) -> Result<()> {
    let store = open_store(&args.db)?;
    let holds = store.holds().map_err(|e| store_failure(&args.db, e))?;
    for h in &holds {
        let (scope, target) = match &h.target {
            HoldTarget::Subject(s) => ("subject", s),
            HoldTarget::Category(c) => ("category", c),
            HoldTarget::Record(r) => ("record", r),
        };
        let day = |d: Option<Date>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
        println!(
            "{} {scope}={target} reason={} from={} until={}",
            h.id,
            h.reason,
            day(h.from),
            day(h.until)
        );
    }
    println!("{} hold(s)", holds.len());
    Ok(())
}
