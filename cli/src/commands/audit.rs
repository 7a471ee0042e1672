//! `caduceus audit`: append to, checkpoint, verify, prove and export a
//! tamper-evident audit log file (format: docs/AUDIT.md section 8).

use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use caduceus_core::audit::{
    Action, AuditEntry, AuditEvent, AuditKey, AuditLog, Checkpoint, LogVerifier, MAX_ENTRY_LEN,
    Outcome, PseudonymKind, VerifyReport, fhir, merkle, note,
};
use clap::{Args, Subcommand, ValueEnum};

use super::system_rng;
use crate::error::{Result, fail, refused, usage};
use crate::files::{self, Output, OutputMode};
use crate::state::{self, LockedFile};
use crate::time;

/// Magic that starts an audit log file, before its version byte.
const LOG_MAGIC: &[u8; 4] = b"CDAL";
/// Format 1: the origin only. Read; the first append records the key.
const LOG_V1: u8 = 1;
/// Format 2: the origin and the pseudonym key's fingerprint.
const LOG_V2: u8 = 2;
/// Length of the pseudonym key's fingerprint in a format-2 header.
const FINGERPRINT_LEN: usize = 16;
/// Largest log file read (16 GiB). It is read one record at a time.
const MAX_LOG_FILE: u64 = 1 << 34;
/// Largest checkpoint file read: a signed note longer than
/// [`note::MAX_NOTE_LEN`] (1 MiB) is refused by the core anyway.
const MAX_CHECKPOINT_FILE: u64 = note::MAX_NOTE_LEN as u64;
/// Largest proof file read (64 KiB). A proof as `audit prove` prints it has
/// four lines and at most [`merkle::MAX_PROOF_LEN`] (130) hashes of 64 hex
/// digits: less than 9 KiB even with CRLF line ends; the rest leaves room
/// for trailing white space and blank lines, which are ignored.
const MAX_PROOF_FILE: u64 = 64 << 10;

/// `caduceus audit`.
#[derive(Debug, Args)]
#[command(after_help = "\
An audit log file holds the log's origin and its entries (docs/AUDIT.md).
Entries hold pseudonyms only: real identifiers given with --actor-id and
--subject-id are turned into pseudonyms with the audit key and never stored.

Examples:
  caduceus audit keygen --kind pseudonym -o audit.key
  caduceus audit keygen --kind signing --name praxis.example/audit -o log.skey
  caduceus audit append --log audit.log --origin praxis.example/audit \\
      --audit-key audit.key --actor-id dr.mueller --role doctor --action read \\
      --subject-id 4711 --category clinical-photos --purpose treatment --source pms
  caduceus audit checkpoint --log audit.log --key log.skey -o cp.txt
  caduceus audit verify --log audit.log --checkpoint cp.txt --vkey 'praxis.example/audit+...'
  caduceus audit prove --log audit.log --index 0 > entry0.proof
  caduceus audit verify-proof --proof entry0.proof --checkpoint cp.txt --vkey 'praxis.example/audit+...'
  caduceus audit export-fhir --log audit.log -o audit.fhir.json")]
pub struct AuditArgs {
    /// The audit command.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Generate a pseudonym (HMAC) key or a checkpoint signing key.
    Keygen(KeygenArgs),
    /// Append one entry to a log file (created if missing).
    Append(Box<AppendArgs>),
    /// Sign a checkpoint (C2SP tlog-checkpoint + signed-note) of the log.
    Checkpoint(CheckpointArgs),
    /// Verify the log (and checkpoints); print OK with size and root, or the first bad index.
    Verify(VerifyArgs),
    /// Print an inclusion proof of an entry, or a consistency proof between two sizes.
    Prove(ProveArgs),
    /// Check an inclusion or consistency proof (from 'audit prove') against signed checkpoints.
    VerifyProof(VerifyProofArgs),
    /// Export the entries as a FHIR R4 Bundle of AuditEvent resources.
    ExportFhir(ExportArgs),
    /// Cut an incomplete final record left by a crash (never a complete entry).
    Repair(RepairArgs),
}

/// Which key `audit keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditKeyKind {
    /// The secret HMAC key that turns identifiers into pseudonyms.
    Pseudonym,
    /// An Ed25519 checkpoint signing key (signed-note PRIVATE+KEY+... form).
    Signing,
}

/// `caduceus audit keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Kind of key.
    #[arg(long, value_enum)]
    pub kind: AuditKeyKind,
    /// Key name of a signing key, required with --kind signing (use the log
    /// origin, e.g. praxis.example/audit).
    #[arg(long, required_if_eq("kind", "signing"))]
    pub name: Option<String>,
    /// Write the key to FILE (mode 0600, never overwritten; not standard
    /// output: a secret key goes only to a file).
    #[arg(short, long, value_name = "FILE", required = true)]
    pub output: PathBuf,
}

/// `caduceus audit append`.
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The log file.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Origin (log name) when creating a new log file.
    #[arg(long)]
    pub origin: Option<String>,
    /// File with the pseudonym key (from 'audit keygen --kind pseudonym').
    #[arg(long, value_name = "FILE")]
    pub audit_key: PathBuf,
    /// The acting staff member's identifier (pseudonymized before storing).
    #[arg(long)]
    pub actor_id: String,
    /// The actor's role, e.g. doctor, coordinator, finance, admin.
    #[arg(long)]
    pub role: String,
    /// What was done.
    #[arg(long, value_parser = parse_action)]
    pub action: Action,
    /// The source system, e.g. pms-reception.
    #[arg(long)]
    pub source: String,
    /// The patient's identifier (pseudonymized before storing).
    #[arg(long)]
    pub subject_id: Option<String>,
    /// Data category, e.g. clinical-photos.
    #[arg(long)]
    pub category: Option<String>,
    /// Record or envelope id: a pseudonym or a restricted identifier
    /// (a-z 0-9 . _ : -, at most 5 digits in a row), never free text.
    #[arg(long)]
    pub record: Option<String>,
    /// Purpose of processing.
    #[arg(long)]
    pub purpose: Option<String>,
    /// Legal basis, e.g. gdpr-6-1-b;gdpr-9-2-h.
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// The action was denied, for REASON.
    #[arg(long, value_name = "REASON", conflicts_with = "failed")]
    pub denied: Option<String>,
    /// The action failed, for REASON.
    #[arg(long, value_name = "REASON")]
    pub failed: Option<String>,
    /// Correlation id.
    #[arg(long)]
    pub correlation: Option<String>,
    /// Time: Unix seconds or RFC 3339 (default now).
    #[arg(long)]
    pub time: Option<String>,
}

/// `caduceus audit checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The log file.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Signing key file(s) (PRIVATE+KEY+...); repeat to co-sign.
    #[arg(long, value_name = "FILE", required = true)]
    pub key: Vec<PathBuf>,
    /// Write the signed checkpoint to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `caduceus audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log file.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Signed checkpoint file to check the log against; repeatable (all must match).
    #[arg(long, value_name = "FILE", requires = "vkey")]
    pub checkpoint: Vec<PathBuf>,
    /// Trusted verifier key (name+id+key); repeatable.
    #[arg(long, value_name = "VKEY")]
    pub vkey: Vec<String>,
}

/// `caduceus audit prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The log file.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Leaf index for an inclusion proof.
    #[arg(
        long,
        conflicts_with = "old_size",
        required_unless_present = "old_size"
    )]
    pub index: Option<u64>,
    /// Older tree size for a consistency proof.
    #[arg(long)]
    pub old_size: Option<u64>,
    /// Tree size to prove against (default: the whole log).
    #[arg(long)]
    pub size: Option<u64>,
    /// Print hashes in hex instead of base64 (C2SP tlog tooling uses base64).
    #[arg(long)]
    pub hex: bool,
}

/// `caduceus audit verify-proof`.
#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The proof, as 'audit prove' prints it (hashes in base64 or hex).
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// Signed checkpoint of the proof's tree size (for a consistency proof: the newer size).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// For a consistency proof: signed checkpoint of the older size (else the
    /// proof's old-root line is taken as given).
    #[arg(long, value_name = "FILE")]
    pub old_checkpoint: Option<PathBuf>,
    /// Trusted verifier key (name+id+key); repeatable.
    #[arg(long, value_name = "VKEY", required = true)]
    pub vkey: Vec<String>,
}

/// `caduceus audit export-fhir`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The log file.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `caduceus audit repair`.
#[derive(Debug, Args)]
#[command(after_help = "\
Checks every entry of the log (format, sequence, links). When the file ends in
an incomplete record (an append interrupted by a crash or a power loss), cuts
exactly that record and says how many bytes it cut; every complete entry is
kept. A log damaged anywhere else is refused and left as it is: find the first
bad entry with 'caduceus audit verify' and restore the log from a backup.")]
pub struct RepairArgs {
    /// The log file, cut back to its last complete record.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
}

fn parse_action(s: &str) -> std::result::Result<Action, String> {
    Action::from_code(s).ok_or_else(|| {
        let all: Vec<&str> = Action::all().map(Action::code).collect();
        // The text is not repeated: it may be free text typed by mistake.
        format!("unknown action; use one of: {}", all.join(", "))
    })
}

/// Run `caduceus audit ...`.
pub fn audit(args: AuditArgs) -> Result<()> {
    match args.command {
        AuditCommand::Keygen(a) => keygen(a),
        AuditCommand::Append(a) => append(*a),
        AuditCommand::Checkpoint(a) => checkpoint(a),
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Prove(a) => prove(a),
        AuditCommand::VerifyProof(a) => verify_proof(a),
        AuditCommand::ExportFhir(a) => export(a),
        AuditCommand::Repair(a) => repair(a),
    }
}

/// The header of a log file.
struct LogHeader {
    version: u8,
    origin: String,
    /// The pseudonym key's fingerprint (format 2).
    fingerprint: Option<[u8; FINGERPRINT_LEN]>,
    /// Length of the header in bytes.
    len: u64,
}

/// A final record cut short: what an interrupted append leaves.
struct TornRecord {
    /// Bytes up to the end of the last complete record (0: the header is incomplete).
    keep_len: u64,
    /// Bytes after it.
    cut_len: u64,
}

/// Read up to `buf.len()` bytes; fewer only at the end of the file.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|b| !b.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Read a log file one record at a time (memory bounded whatever its size),
/// handing each complete entry to `each`. A final record (or header) cut
/// short is reported, not an error; `None` header: the file is empty or its
/// header incomplete.
fn scan_log(
    lock: &mut LockedFile,
    path: &Path,
    mut each: impl FnMut(&LogHeader, &[u8]) -> Result<()>,
) -> Result<(Option<LogHeader>, Option<TornRecord>)> {
    let size = lock.len()?;
    if size > MAX_LOG_FILE {
        return Err(fail(format!(
            "log file {} is too large (more than {})",
            path.display(),
            files::size_text(MAX_LOG_FILE)
        )));
    }
    let io_err = |e: std::io::Error| fail(format!("cannot read log file {}: {e}", path.display()));
    let bad = |what: &str| fail(format!("log file {} is damaged: {what}", path.display()));
    let file = lock.file();
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let torn = |keep_len: u64, pos: u64| TornRecord {
        keep_len,
        cut_len: pos - keep_len,
    };
    let mut start = [0u8; 6];
    let n = read_up_to(&mut r, &mut start).map_err(io_err)?;
    let got = start.get(..n).unwrap_or_default();
    if got.iter().zip(LOG_MAGIC).any(|(a, b)| a != b) {
        return Err(bad("not a Caduceus audit log file (bad magic)"));
    }
    if let Some(&v) = got.get(4)
        && v != LOG_V1
        && v != LOG_V2
    {
        return Err(bad(
            "unknown format version; the file is not an audit log this tool wrote",
        ));
    }
    if n < start.len() {
        return Ok((None, (n > 0).then(|| torn(0, n as u64))));
    }
    let [.., version, olen] = start;
    let mut rest = vec![
        0u8;
        usize::from(olen)
            + if version == LOG_V2 {
                FINGERPRINT_LEN
            } else {
                0
            }
    ];
    let n2 = read_up_to(&mut r, &mut rest).map_err(io_err)?;
    if n2 < rest.len() {
        return Ok((None, Some(torn(0, (start.len() + n2) as u64))));
    }
    let (origin, fp) = rest.split_at(usize::from(olen));
    let origin = std::str::from_utf8(origin)
        .map_err(|_| bad("the origin is not UTF-8"))?
        .to_owned();
    let fingerprint = <[u8; FINGERPRINT_LEN]>::try_from(fp).ok();
    let header = LogHeader {
        version,
        origin,
        fingerprint,
        len: (start.len() + rest.len()) as u64,
    };
    let mut pos = header.len;
    let mut entry = vec![0u8; MAX_ENTRY_LEN];
    let mut index = 0u64;
    loop {
        let mut len = [0u8; 4];
        let k = read_up_to(&mut r, &mut len).map_err(io_err)?;
        if k == 0 {
            return Ok((Some(header), None));
        }
        if k < len.len() {
            return Ok((Some(header), Some(torn(pos, pos + k as u64))));
        }
        let l = u32::from_be_bytes(len) as usize;
        let Some(body) = entry.get_mut(..l) else {
            return Err(bad(&format!(
                "record {index} claims {l} bytes, more than an entry can hold ({MAX_ENTRY_LEN})"
            )));
        };
        let k2 = read_up_to(&mut r, body).map_err(io_err)?;
        if k2 < l {
            // A complete entry whose length field was damaged is damage,
            // not a torn record: cutting it would remove a whole entry.
            let got = body.get(..k2).unwrap_or_default();
            let whole = (1..=got.len()).any(|n| {
                got.get(..n)
                    .is_some_and(|e| AuditEntry::validate(e).is_ok_and(|(seq, _)| seq == index))
            });
            if whole {
                return Err(bad(&format!(
                    "record {index} is complete but its length field is damaged; nothing can be \
                     cut safely: restore the log from a backup"
                )));
            }
            return Ok((Some(header), Some(torn(pos, pos + 4 + k2 as u64))));
        }
        each(&header, body)?;
        pos += 4 + l as u64;
        index += 1;
    }
}

fn torn_message(path: &Path, t: &TornRecord) -> crate::error::Failure {
    fail(torn_text(path, t))
}

fn torn_text(path: &Path, t: &TornRecord) -> String {
    format!(
        "log file {} ends in an incomplete record ({} bytes after the last complete record, \
         which ends at byte {}), as an interrupted write leaves it; run \
         'caduceus audit repair --log {}' to cut only that record",
        path.display(),
        t.cut_len,
        t.keep_len,
        path.display()
    )
}

/// Read a whole log under a shared lock, handing each entry to `each`;
/// an empty, incomplete or torn file is an error.
fn read_log(path: &Path, each: impl FnMut(&LogHeader, &[u8]) -> Result<()>) -> Result<LogHeader> {
    let mut lock = LockedFile::open_shared(path, "log file")?;
    match scan_log(&mut lock, path, each)? {
        (_, Some(t)) => Err(torn_message(path, &t)),
        (Some(h), None) => Ok(h),
        (None, None) => Err(fail(format!(
            "log file {} is empty: no entry has been appended yet",
            path.display()
        ))),
    }
}

/// Read and verify a whole log: its header and writer state.
fn rebuild(path: &Path) -> Result<(LogHeader, AuditLog)> {
    let mut v = LogVerifier::new(&[]);
    let header = read_log(path, |_, e| {
        let _ = v.push(e);
        Ok(())
    })?;
    let log = v.into_log(&header.origin).map_err(|f| damaged_at(&f))?;
    Ok((header, log))
}

fn damaged_at(f: &caduceus_core::audit::LogFault) -> crate::error::Failure {
    fail(format!(
        "the log is damaged at index {}: {f}; run 'caduceus audit verify'",
        f.first_bad_index()
    ))
}

fn keygen(args: KeygenArgs) -> Result<()> {
    let mut rng = system_rng()?;
    let (secret, public) = match args.kind {
        AuditKeyKind::Pseudonym => (AuditKey::generate(&mut rng).to_secret_string(), None),
        AuditKeyKind::Signing => {
            let name = args.name.as_deref().unwrap_or_default();
            let signer = note::NoteSigner::generate(name, &mut rng)
                .map_err(|e| usage(format!("--name: {e}")))?;
            (
                signer.to_secret_string(),
                Some(signer.verifier().to_string()),
            )
        }
    };
    if args.output.as_os_str() == "-" {
        return Err(usage(
            "-o -: a secret key is written only to a new file (mode 0600), never to standard output",
        ));
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    if let Some(p) = &public {
        text.push_str(&format!("# verifier key: {p}\n"));
    }
    text.push_str(&secret);
    text.push('\n');
    files::write_new(&args.output, true, text.as_bytes()).map_err(|e| {
        fail(format!(
            "cannot create {} (it must not exist yet): {e}",
            args.output.display()
        ))
    })?;
    if let Some(p) = public {
        println!("{p}");
    }
    Ok(())
}

/// The first non-comment line of a key file.
pub(crate) fn key_line(path: &Path, what: &str) -> Result<zeroize::Zeroizing<String>> {
    let text = files::read_key_file(path, what)?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| fail(format!("{what} {} holds no key", path.display())))?;
    Ok(zeroize::Zeroizing::new(line.to_owned()))
}

fn append(args: AppendArgs) -> Result<()> {
    // Append reads the log and extends the same file: "-" (standard input)
    // would chain the entry onto one log and write it to another.
    if args.log.as_os_str() == "-" {
        return Err(usage(
            "--log -: append reads the log file and extends it in place; give the log file's path",
        ));
    }
    let key = AuditKey::parse(&key_line(&args.audit_key, "audit key file")?)
        .map_err(|e| fail(format!("audit key file {}: {e}", args.audit_key.display())))?;
    let time_s = match &args.time {
        Some(t) => time::parse_time(t).ok_or_else(|| {
            usage("--time: expected Unix seconds or RFC 3339, e.g. 2025-01-31T12:00:00Z")
        })?,
        None => time::now()?,
    };
    let field = |e: caduceus_core::audit::AuditError| usage(e.to_string());
    let actor = key.pseudonym(PseudonymKind::Staff, &args.actor_id);
    let mut event = AuditEvent::new(
        time_s.saturating_mul(1000),
        actor,
        &args.role,
        args.action,
        &args.source,
    )
    .map_err(field)?;
    if let Some(s) = &args.subject_id {
        event = event.subject(key.pseudonym(PseudonymKind::Subject, s));
    }
    if let Some(c) = &args.category {
        event = event.category(c).map_err(field)?;
    }
    if let Some(r) = &args.record {
        // A record id, never free text: "Max Mustermann HIV positiv" is refused.
        caduceus_core::pseudonym::check_identifier(r)
            .map_err(|e| usage(format!("--record: {e}")))?;
        event = event.record(r).map_err(field)?;
    }
    if let Some(p) = &args.purpose {
        event = event.purpose(p).map_err(field)?;
    }
    if let Some(l) = &args.legal_basis {
        event = event.legal_basis(l).map_err(field)?;
    }
    if let Some(r) = &args.denied {
        event = event.outcome(Outcome::Denied(r.clone())).map_err(field)?;
    }
    if let Some(r) = &args.failed {
        event = event.outcome(Outcome::Failed(r.clone())).map_err(field)?;
    }
    if let Some(c) = &args.correlation {
        event = event.correlation(c).map_err(field)?;
    }

    // One writer at a time: the lock is held from reading the log to the
    // synced append, so concurrent appends chain correctly. An empty file is
    // a log being created (or whose creation failed): it is created anew.
    let mut locked = lock_or_create_log(&args.log)?;
    let fingerprint = key.fingerprint();
    let mut v = LogVerifier::new(&[]);
    let (header, torn) = if locked.len()? > 0 {
        scan_log(&mut locked, &args.log, |_, e| {
            let _ = v.push(e);
            Ok(())
        })?
    } else {
        (None, None)
    };
    if let Some(t) = torn {
        return Err(torn_message(&args.log, &t));
    }
    let (mut log, old_header) = match header {
        Some(h) => {
            if let Some(o) = &args.origin
                && o != &h.origin
            {
                return Err(usage(format!(
                    "--origin differs from the log's origin {}; give the log's origin or omit --origin",
                    h.origin
                )));
            }
            if h.fingerprint.is_some_and(|f| f != fingerprint) {
                return Err(refused(format!(
                    "refusing to append: log file {} was started with another pseudonym key \
                     (the fingerprints differ), and one log must use one key; give the log's own \
                     key file, or start a new log",
                    args.log.display()
                )));
            }
            let log = v.into_log(&h.origin).map_err(|f| {
                fail(format!(
                    "refusing to append: the log is damaged at index {}: {f}",
                    f.first_bad_index()
                ))
            })?;
            (log, Some(h))
        }
        None => {
            let origin = args
                .origin
                .as_deref()
                .ok_or_else(|| usage("the log file does not exist; give --origin to create it"))?;
            if origin.len() > 255 {
                return Err(usage("--origin is longer than 255 bytes"));
            }
            (
                AuditLog::new(origin).map_err(|e| usage(format!("--origin: {e}")))?,
                None,
            )
        }
    };
    let appended = log.append(&event).map_err(field)?;
    let mut record = Vec::new();
    let len = u32::try_from(appended.bytes.len()).map_err(|_| fail("entry too large"))?;
    record.extend_from_slice(&len.to_be_bytes());
    record.extend_from_slice(&appended.bytes);
    match old_header {
        // A format-1 log: rewritten once as format 2, recording the key.
        Some(h) if h.version == LOG_V1 => {
            upgrade_log(&mut locked, &args.log, &h, &fingerprint, &record)?;
            eprintln!(
                "note: recorded the pseudonym key's fingerprint in log file {} (format 2); \
                 appends with another key are refused from now on",
                args.log.display()
            );
        }
        old => {
            let mut bytes = match old {
                Some(_) => Vec::new(),
                None => header_bytes(log.origin(), &fingerprint),
            };
            bytes.extend_from_slice(&record);
            state::append_whole(
                locked.file(),
                &bytes,
                &format!("log file {}", args.log.display()),
            )?;
        }
    }
    println!("appended entry {} (size {})", appended.index, log.size());
    Ok(())
}

fn repair(args: RepairArgs) -> Result<()> {
    let mut lock = LockedFile::open(&args.log, "log file")?;
    let mut v = LogVerifier::new(&[]);
    let (header, torn) = scan_log(&mut lock, &args.log, |_, e| {
        v.push(e).map(|_| ()).map_err(|f| {
            fail(format!(
                "log file {} is damaged at index {}: {f}; nothing was cut (repair cuts only an \
                 incomplete final record): restore the log from a backup",
                args.log.display(),
                f.first_bad_index()
            ))
        })
    })?;
    let entries = v.size();
    match torn {
        None if header.is_none() => Err(fail(format!(
            "log file {} is empty: nothing to repair",
            args.log.display()
        ))),
        None => {
            println!(
                "log file {} is intact ({entries} entries); nothing cut",
                args.log.display()
            );
            Ok(())
        }
        Some(t) => {
            lock.truncate(t.keep_len, "log file")?;
            let what = if header.is_none() {
                "an incomplete header (the log's first append was interrupted); the file is \
                 empty now and the next append creates the log"
                    .to_owned()
            } else {
                format!(
                    "an incomplete record left by an interrupted append; kept {entries} entries"
                )
            };
            println!(
                "cut {} bytes from the end of {}: {what}",
                t.cut_len,
                args.log.display()
            );
            Ok(())
        }
    }
}

/// The header of a format-2 log file.
fn header_bytes(origin: &str, fingerprint: &[u8; FINGERPRINT_LEN]) -> Vec<u8> {
    let mut out = LOG_MAGIC.to_vec();
    out.push(LOG_V2);
    out.push(u8::try_from(origin.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(fingerprint);
    out
}

/// Rewrite a format-1 log as format 2 with `record` appended: a new file
/// beside it (the old one stays whole until the rename), under the lock.
fn upgrade_log(
    locked: &mut LockedFile,
    path: &Path,
    old: &LogHeader,
    fingerprint: &[u8; FINGERPRINT_LEN],
    record: &[u8],
) -> Result<()> {
    let io_err =
        |e: std::io::Error| fail(format!("cannot rewrite log file {}: {e}", path.display()));
    let mut out = Output::create(Some(path), OutputMode::PUBLIC_TEXT)?;
    out.write_all(&header_bytes(&old.origin, fingerprint))
        .map_err(io_err)?;
    let file = locked.file();
    file.seek(SeekFrom::Start(old.len)).map_err(io_err)?;
    std::io::copy(file, &mut out).map_err(io_err)?;
    out.write_all(record).map_err(io_err)?;
    out.commit()
}

/// Lock the log file at `path`, creating it (empty, locked) if it does not
/// exist. Two processes creating the same log agree on one file.
fn lock_or_create_log(path: &Path) -> Result<LockedFile> {
    loop {
        match LockedFile::open(path, "log file") {
            Ok(l) => return Ok(l),
            Err(e) if path.exists() => return Err(e),
            Err(_) => {}
        }
        match LockedFile::create_new(path, "log file", false) {
            Ok(l) => return Ok(l),
            Err(_) if path.exists() => continue,
            Err(e) => return Err(e),
        }
    }
}

fn checkpoint(args: CheckpointArgs) -> Result<()> {
    let mut inputs: Vec<&Path> = vec![&args.log];
    inputs.extend(args.key.iter().map(PathBuf::as_path));
    state::ensure_not_input(args.output.as_deref(), &inputs)?;
    let (_, log) = rebuild(&args.log)?;
    let signers = load_signers(&args.key)?;
    let refs: Vec<&note::NoteSigner> = signers.iter().collect();
    let signed = log
        .checkpoint()
        .sign(&refs)
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Output::create_user(args.output.as_deref(), OutputMode::PUBLIC_TEXT)?;
    out.write_all(signed.as_bytes())
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}

fn verify(args: VerifyArgs) -> Result<()> {
    let mut verifiers = Vec::new();
    for v in &args.vkey {
        verifiers.push(note::NoteVerifier::parse(v).map_err(|e| usage(format!("--vkey: {e}")))?);
    }
    let mut checkpoints = Vec::new();
    for path in &args.checkpoint {
        checkpoints.push(open_checkpoint(path, &verifiers)?);
    }
    let mut v = LogVerifier::new(&checkpoints);
    let mut lock = LockedFile::open_shared(&args.log, "log file")?;
    let (header, torn) = scan_log(&mut lock, &args.log, |_, e| {
        let _ = v.push(e);
        Ok(())
    })?;
    let Some(file) = header else {
        return Err(match torn {
            Some(t) => torn_message(&args.log, &t),
            None => fail(format!(
                "log file {} is empty: no entry has been appended yet",
                args.log.display()
            )),
        });
    };
    for (path, cp) in args.checkpoint.iter().zip(&checkpoints) {
        if cp.origin != file.origin {
            return Err(refused(format!(
                "checkpoint {} is for origin '{}', not this log's '{}'",
                path.display(),
                cp.origin,
                file.origin
            )));
        }
    }
    if let Some(t) = torn {
        println!("FAIL: the last record is incomplete");
        return Err(refused(torn_text(&args.log, &t)));
    }
    let report = v.finish();
    print_report(&report, "")
}

/// The signers of the signing key files `paths`.
pub(crate) fn load_signers(paths: &[PathBuf]) -> Result<Vec<note::NoteSigner>> {
    paths
        .iter()
        .map(|path| {
            note::NoteSigner::parse(&key_line(path, "signing key file")?)
                .map_err(|e| fail(format!("signing key file {}: {e}", path.display())))
        })
        .collect()
}

/// Print a verification report as `OK: ...` (with `suffix` after the
/// checkpoint count) or `FAIL: ...`, the latter as a refusal (exit 1).
pub(crate) fn print_report(report: &VerifyReport, suffix: &str) -> Result<()> {
    match &report.fault {
        None => {
            println!(
                "OK: {} entries, root {} (hex {}), {} checkpoint(s) matched{suffix}",
                report.size,
                merkle::hash_to_base64(&report.root),
                hex::encode(report.root),
                report.checkpoints_matched
            );
            Ok(())
        }
        Some(f) => {
            println!("FAIL: first bad index {}: {f}", f.first_bad_index());
            Err(refused(format!(
                "audit log verification failed at index {}",
                f.first_bad_index()
            )))
        }
    }
}

fn prove(args: ProveArgs) -> Result<()> {
    // Memory: one 32-byte leaf hash per entry, never the entries.
    let mut tree = merkle::MemoryTree::new();
    let mut v = LogVerifier::new(&[]);
    let header = read_log(&args.log, |_, e| {
        let _ = v.push(e);
        tree.push(merkle::leaf_hash(e));
        Ok(())
    })?;
    v.into_log(&header.origin).map_err(|f| damaged_at(&f))?;
    let size = args.size.unwrap_or(tree.len());
    let root = tree.root(size).map_err(|e| usage(e.to_string()))?;
    let enc = |h: &merkle::Hash| {
        if args.hex {
            hex::encode(h)
        } else {
            merkle::hash_to_base64(h)
        }
    };
    let mut text = String::new();
    if let Some(index) = args.index {
        let proof =
            merkle::inclusion_proof(&tree, index, size).map_err(|e| usage(e.to_string()))?;
        let leaf = tree
            .leaves()
            .get(index as usize)
            .copied()
            .unwrap_or_default();
        text.push_str(&format!(
            "inclusion proof\nindex {index}\nsize {size}\nleaf {}\nroot {}\n",
            enc(&leaf),
            enc(&root)
        ));
        for h in proof {
            text.push_str(&format!("{}\n", enc(&h)));
        }
    } else if let Some(old) = args.old_size {
        if old == 0 {
            return Err(usage(
                "--old-size 0: a consistency proof from the empty tree proves nothing and is \
                 refused by verifiers (docs/AUDIT.md section 4); give an old size of at least 1",
            ));
        }
        let proof =
            merkle::consistency_proof(&tree, old, size).map_err(|e| usage(e.to_string()))?;
        let old_root = tree.root(old).map_err(|e| usage(e.to_string()))?;
        text.push_str(&format!(
            "consistency proof\nold-size {old}\nsize {size}\nold-root {}\nroot {}\n",
            enc(&old_root),
            enc(&root)
        ));
        for h in proof {
            text.push_str(&format!("{}\n", enc(&h)));
        }
    }
    print!("{text}");
    Ok(())
}

/// A proof as `audit prove` prints it.
struct ProofText {
    /// True for an inclusion proof, false for a consistency proof.
    inclusion: bool,
    /// Leaf index (inclusion) or old tree size (consistency).
    first: u64,
    size: u64,
    /// Leaf hash (inclusion) or old root (consistency).
    first_hash: merkle::Hash,
    root: merkle::Hash,
    hashes: Vec<merkle::Hash>,
}

fn parse_proof(text: &str) -> std::result::Result<ProofText, String> {
    let mut lines = text.lines();
    let inclusion = match lines.next().map(str::trim_end) {
        Some("inclusion proof") => true,
        Some("consistency proof") => false,
        _ => return Err("the first line must be 'inclusion proof' or 'consistency proof'".into()),
    };
    let (first_key, first_hash_key) = if inclusion {
        ("index", "leaf")
    } else {
        ("old-size", "old-root")
    };
    let mut field = |key: &str| -> std::result::Result<String, String> {
        let line = lines.next().unwrap_or_default().trim_end();
        line.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .map(str::to_owned)
            .ok_or_else(|| format!("expected a '{key}' line, found '{line}'"))
    };
    let number = |v: String, key: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("'{key}' must be a decimal number"))
    };
    let hash = |v: &str| {
        merkle::parse_hash(v).ok_or_else(|| format!("'{v}' is not a hash in base64 or hex"))
    };
    let first = number(field(first_key)?, first_key)?;
    let size = number(field("size")?, "size")?;
    let first_hash = hash(&field(first_hash_key)?)?;
    let root = hash(&field("root")?)?;
    let hashes = lines
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(hash)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if hashes.len() > merkle::MAX_PROOF_LEN {
        return Err("the proof has too many hashes".into());
    }
    Ok(ProofText {
        inclusion,
        first,
        size,
        first_hash,
        root,
        hashes,
    })
}

pub(crate) fn open_checkpoint(path: &Path, verifiers: &[note::NoteVerifier]) -> Result<Checkpoint> {
    let text = files::read_limited_text(path, MAX_CHECKPOINT_FILE, "checkpoint")?;
    // A checkpoint that does not open with the verifier keys is a failed
    // verification (exit code 1), not a broken command.
    Checkpoint::open(&text, verifiers)
        .map_err(|e| refused(format!("checkpoint {}: {e}", path.display())))
}

fn verify_proof(args: VerifyProofArgs) -> Result<()> {
    let mut verifiers = Vec::new();
    for v in &args.vkey {
        verifiers.push(note::NoteVerifier::parse(v).map_err(|e| usage(format!("--vkey: {e}")))?);
    }
    let text = files::read_limited_text(&args.proof, MAX_PROOF_FILE, "proof")?;
    let proof = parse_proof(&text)
        .map_err(|e| fail(format!("proof {} is malformed: {e}", args.proof.display())))?;
    let cp = open_checkpoint(&args.checkpoint, &verifiers)?;
    let refuse = |why: String| {
        println!("FAIL: {why}");
        refused(format!(
            "the proof in {} does not verify",
            args.proof.display()
        ))
    };
    if cp.size != proof.size {
        return Err(refuse(format!(
            "the proof is for tree size {}, the checkpoint is for size {}",
            proof.size, cp.size
        )));
    }
    if cp.root != proof.root {
        return Err(refuse(
            "the proof's root differs from the checkpoint's root".into(),
        ));
    }
    if proof.inclusion {
        if args.old_checkpoint.is_some() {
            return Err(usage("--old-checkpoint is for consistency proofs"));
        }
        merkle::verify_inclusion(
            &proof.first_hash,
            proof.first,
            proof.size,
            &proof.hashes,
            &cp.root,
        )
        .map_err(|e| refuse(e.to_string()))?;
        println!(
            "OK: entry {} (leaf {}) is in the tree of size {} (root {}) of checkpoint '{}'",
            proof.first,
            merkle::hash_to_base64(&proof.first_hash),
            cp.size,
            merkle::hash_to_base64(&cp.root),
            cp.origin
        );
        return Ok(());
    }
    let old_source = match &args.old_checkpoint {
        Some(path) => {
            let old = open_checkpoint(path, &verifiers)?;
            if old.origin != cp.origin {
                return Err(refuse(format!(
                    "the checkpoints are for different logs ('{}' and '{}')",
                    old.origin, cp.origin
                )));
            }
            if old.size != proof.first || old.root != proof.first_hash {
                return Err(refuse(
                    "the proof's old size and root differ from the old checkpoint's".into(),
                ));
            }
            "the old checkpoint"
        }
        None => "the proof (not signed: compare it with a checkpoint you trust)",
    };
    merkle::verify_consistency(
        proof.first,
        proof.size,
        &proof.first_hash,
        &cp.root,
        &proof.hashes,
    )
    .map_err(|e| refuse(e.to_string()))?;
    println!(
        "OK: the tree of size {} (root {}, from {old_source}) is a prefix of the tree of size {} (root {}) of checkpoint '{}'",
        proof.first,
        merkle::hash_to_base64(&proof.first_hash),
        cp.size,
        merkle::hash_to_base64(&cp.root),
        cp.origin
    );
    Ok(())
}

fn export(args: ExportArgs) -> Result<()> {
    state::ensure_not_input(args.output.as_deref(), &[&args.log])?;
    // Entries are verified and written one at a time into an output that
    // is moved into place only when the whole log verified.
    let mut out = Output::create_user(args.output.as_deref(), OutputMode::PUBLIC_TEXT)?;
    let write_err = |e: std::io::Error| fail(format!("cannot write output: {e}"));
    out.write_all(b"{\"resourceType\":\"Bundle\",\"type\":\"collection\"")
        .map_err(write_err)?;
    let mut v = LogVerifier::new(&[]);
    let mut lock = LockedFile::open_shared(&args.log, "log file")?;
    let scanned = scan_log(&mut lock, &args.log, |header, bytes| {
        v.push(bytes).map_err(|f| damaged_at(&f))?;
        let entry = AuditEntry::from_bytes(bytes).map_err(|e| fail(e.to_string()))?;
        let ev = fhir::audit_event(&entry, &header.origin);
        // FHIR forbids empty arrays: an empty log exports a Bundle without entries.
        let sep: &[u8] = if v.size() == 1 { b",\"entry\":[" } else { b"," };
        out.write_all(sep).map_err(write_err)?;
        write!(out, "{{\"resource\":{ev}}}").map_err(write_err)
    })?;
    match &scanned {
        (None, None) => {
            return Err(fail(format!(
                "log file {} is empty: no entry has been appended yet",
                args.log.display()
            )));
        }
        (_, Some(t)) => return Err(torn_message(&args.log, t)),
        (Some(_), None) => {}
    }
    let end: &[u8] = if v.size() == 0 { b"}\n" } else { b"]}\n" };
    out.write_all(end).map_err(write_err)?;
    out.commit()
}
