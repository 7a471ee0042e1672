//! `caduceus keyring`: subject-category keyring files (create, add, revoke,
//! rotate, shred, inspect).
//!
//! A keyring file holds exactly one keyring record (docs/FORMAT.md section
//! 6, docs/KEYRING.md): the public key of one (patient pseudonym, data
//! category) pair and its private key wrapped to the practice key and the
//! permitted staff keys. Every command that changes the file holds its lock
//! (`LockedFile`) across read, check and write, and writes the new record
//! under a temporary name, synced, then renamed over the old one, so the old
//! record stays readable until the new one is complete on disk.

use std::fmt::Write as _;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use caduceus_core::keys::{
    KeyError, KeyKind, KeyringRecord, KeyringState, MAX_RECORD_BODY, PrivateKey, PublicKey,
};
use clap::{Args, Subcommand};

use super::{json_string, load_identities, load_recipients_file, parse_key_ref, system_rng};
use crate::error::{Failure, Result, fail, usage};
use crate::files::{self, Output, OutputMode};
use crate::state::{self, LockedFile};
use crate::time;

/// Largest keyring file read: the record prefix (10 bytes) and the longest
/// body the format allows ([`MAX_RECORD_BODY`]).
pub const MAX_KEYRING_FILE: u64 = 10 + MAX_RECORD_BODY as u64;

/// Keyring files name a patient pseudonym: owner-only, like plaintext.
const KEYRING_MODE: OutputMode = OutputMode {
    private: true,
    binary: true,
};

const WHAT: &str = "keyring file";

/// `caduceus keyring`.
#[derive(Debug, Args)]
#[command(after_help = "\
A keyring file holds the key of one (patient pseudonym, data category) pair:
its public key, which 'caduceus seal --keyring' seals to, and its private key,
wrapped to the practice key and to each permitted staff key. Messages and
images are sealed to this subject-category key, never to the practice key, so
that shredding it erases them: every envelope sealed to it, in the live store
and in every backup of the envelopes, can no longer be opened.

Each command that changes a keyring file locks it (another caduceus process
waits up to 10 s, CADUCEUS_LOCK_TIMEOUT_MS, then fails with exit code 4 and
changes nothing), checks the change, and replaces the file atomically
(temporary file, fsync, rename). Secret keys are never printed.

Exit codes: 0 done, 2 usage error (nothing was read or written), 3 failed
(nothing was changed), 4 busy.

Example:
  caduceus keyring create --keyring p-7f3a91.photos.keyring --subject p-7f3a91 \\
      --category clinical-photos --to cdpractice1... --to cdstaff1...
  caduceus seal --keyring p-7f3a91.photos.keyring \\
      --label purpose=treatment-communication -i scan.png -o scan.cdu
  caduceus open --keyring p-7f3a91.photos.keyring --identity doctor.key -i scan.cdu -o scan.png
  caduceus keyring add --keyring p-7f3a91.photos.keyring --identity practice.key --to cdstaff1...
  caduceus keyring revoke --keyring p-7f3a91.photos.keyring --practice cdpractice1... --remove KEYID
  caduceus keyring rotate --keyring p-7f3a91.photos.keyring --identity practice.key \\
      --old KEYID --to cdstaff1...
  caduceus keyring inspect --keyring p-7f3a91.photos.keyring
  caduceus keyring shred --keyring p-7f3a91.photos.keyring --yes")]
pub struct KeyringArgs {
    /// The keyring subcommand.
    #[command(subcommand)]
    pub command: KeyringCommand,
}

/// The keyring subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyringCommand {
    /// Create a new keyring file: a fresh subject-category key, wrapped to the recipients.
    Create(CreateArgs),
    /// Give more staff (or practice) keys access: wrap the key to them too.
    Add(AddArgs),
    /// Remove a recipient's wrap (a departing or compromised staff key).
    Revoke(RevokeArgs),
    /// Replace one recipient's wrap by a wrap for a new key (key rotation).
    Rotate(RotateArgs),
    /// Destroy the subject-category key for good (crypto-erasure); needs --yes.
    Shred(ShredArgs),
    /// Show subject, category, key kind and public key, state, dates and recipient key ids (never a secret).
    Inspect(InspectArgs),
}

/// `keyring create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new keyring file (refuses to overwrite).
    #[arg(short, long, value_name = "FILE")]
    pub keyring: PathBuf,
    /// Subject pseudonym, e.g. p-7f3a91 (never a name or number).
    #[arg(long)]
    pub subject: String,
    /// Data category, e.g. clinical-photos, chat-messages.
    #[arg(long)]
    pub category: String,
    /// Recipient public key; at least one practice key (cdpractice1...); repeatable.
    #[arg(long = "to", value_name = "KEY")]
    pub to: Vec<String>,
    /// File of recipient public keys, one per line ('#' comments allowed); repeatable.
    #[arg(long = "to-file", value_name = "FILE")]
    pub to_file: Vec<PathBuf>,
    /// Creation time, Unix seconds or RFC 3339 (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// `keyring add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The keyring file, replaced atomically.
    #[arg(short, long, value_name = "FILE")]
    pub keyring: PathBuf,
    /// Identity file of a current recipient (it unwraps the key); repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub identity: Vec<PathBuf>,
    /// Public key to add; repeatable.
    #[arg(long = "to", value_name = "KEY", required = true)]
    pub to: Vec<String>,
}

/// `keyring revoke`.
#[derive(Debug, Args)]
#[command(after_help = "\
Needs no secret key. A keyring record does not say which wrap belongs to the
practice, so name the practice key with --practice: revoking the last practice
key recipient is refused (rotate the practice key instead). A revoked key
that kept a copy of the unwrapped key can still open envelopes sealed to it;
seal new data to a new keyring file to cut that off.")]
pub struct RevokeArgs {
    /// The keyring file, replaced atomically.
    #[arg(short, long, value_name = "FILE")]
    pub keyring: PathBuf,
    /// Recipient to remove: key id (32 hex digits, see inspect) or public key; repeatable.
    #[arg(long, value_name = "KEYID", required = true)]
    pub remove: Vec<String>,
    /// The practice public key (or its key id), which is never revoked; repeatable.
    #[arg(long, value_name = "KEY", required = true)]
    pub practice: Vec<String>,
}

/// `keyring rotate`.
#[derive(Debug, Args)]
#[command(after_help = "\
The new wrap is made and checked before the old one is dropped, and the new
record is on disk (synced) before it replaces the old one. Envelopes are not
touched: they are sealed to the subject-category key, which does not change.")]
pub struct RotateArgs {
    /// The keyring file, replaced atomically.
    #[arg(short, long, value_name = "FILE")]
    pub keyring: PathBuf,
    /// Identity file of a current recipient (it unwraps the key); repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub identity: Vec<PathBuf>,
    /// The recipient to replace: key id or public key.
    #[arg(long, value_name = "KEYID")]
    pub old: String,
    /// Its replacement: a public key.
    #[arg(long = "to", value_name = "KEY")]
    pub to: String,
}

/// `keyring shred`.
#[derive(Debug, Args)]
#[command(after_help = "\
Shredding is irreversible: every wrap of the subject-category private key is
destroyed, and the old record's bytes are overwritten on disk, so no envelope
sealed to this key (in the live store or in any backup of the envelopes) can
be opened again. The file keeps a tombstone (subject, category, public key,
times) so that 'open' answers \"shredded\" rather than \"missing\". Backups of
the keyring file itself still hold the key until they roll over.")]
pub struct ShredArgs {
    /// The keyring file, replaced by its tombstone.
    #[arg(short, long, value_name = "FILE")]
    pub keyring: PathBuf,
    /// Confirm the irreversible erasure.
    #[arg(long)]
    pub yes: bool,
    /// Time of the shred, Unix seconds or RFC 3339 (default now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// `keyring inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The keyring file.
    #[arg(short, long, value_name = "FILE")]
    pub keyring: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run a keyring subcommand.
pub fn keyring(args: KeyringArgs) -> Result<()> {
    match args.command {
        KeyringCommand::Create(a) => create(a),
        KeyringCommand::Add(a) => add(a),
        KeyringCommand::Revoke(a) => revoke(a),
        KeyringCommand::Rotate(a) => rotate(a),
        KeyringCommand::Shred(a) => shred(a),
        KeyringCommand::Inspect(a) => inspect(a),
    }
}

/// Read and parse the keyring file `path` (no lock: writers replace the
/// file whole, so a reader sees the old or the new record).
pub fn load(path: &Path) -> Result<KeyringRecord> {
    let mut bytes = Vec::new();
    files::read_limited(path, MAX_KEYRING_FILE, WHAT, &mut bytes)?;
    KeyringRecord::from_bytes(&bytes).map_err(|e| fail(format!("{WHAT} {}: {e}", path.display())))
}

/// Lock the keyring file and read it: the lock is held until the caller's
/// change is saved, so concurrent writers never lose a change.
fn load_locked(path: &Path) -> Result<(LockedFile, KeyringRecord)> {
    let lock = LockedFile::open(path, WHAT)?;
    let record = load(path)?;
    Ok((lock, record))
}

/// Replace the keyring file with `record` (temporary file, fsync, rename).
fn save(path: &Path, record: &KeyringRecord) -> Result<()> {
    let mut out = Output::create(Some(path), KEYRING_MODE)?;
    out.write_all(&record.to_bytes())
        .map_err(|e| fail(format!("cannot write {WHAT} {}: {e}", path.display())))?;
    out.commit()
}

/// Refuse a keyring file that is also one of the command's key files.
fn ensure_distinct(keyring: &Path, inputs: &[PathBuf]) -> Result<()> {
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    state::ensure_not_input(Some(keyring), &inputs)
}

/// A keyring error as a failure naming the file.
fn key_failure(path: &Path, e: &KeyError) -> Failure {
    fail(format!("{WHAT} {}: {e}", path.display()))
}

fn create(a: CreateArgs) -> Result<()> {
    ensure_distinct(&a.keyring, &a.to_file)?;
    let mut recipients: Vec<PublicKey> = Vec::new();
    for text in &a.to {
        recipients.push(super::parse_public_key(text, "--to")?);
    }
    if recipients.is_empty() && a.to_file.is_empty() {
        return Err(usage(
            "no recipient: give --to KEY (the practice key, and staff keys) at least once",
        ));
    }
    // A pseudonym or identifier, never free text such as a name (not echoed).
    for (option, value) in [("--subject", &a.subject), ("--category", &a.category)] {
        caduceus_core::pseudonym::check_identifier(value)
            .map_err(|e| usage(format!("{option}: {e}")))?;
    }
    let created_at = time::given_or_now(a.at.as_deref(), "--at")?;
    for path in &a.to_file {
        recipients.extend(load_recipients_file(path)?);
    }
    if !recipients.iter().any(|k| k.kind() == KeyKind::Practice) {
        return Err(usage(
            "no practice key among the recipients: give the practice public key (cdpractice1...) with --to, so the practice can always read",
        ));
    }
    let mut rng = system_rng()?;
    // The record is built (and checked) before the file is created.
    let record = KeyringRecord::create(&a.subject, &a.category, &recipients, created_at, &mut rng)
        .map_err(|e| match e {
            KeyError::InvalidLabel(which) => usage(format!(
                "--{}: use 1 to 128 printable ASCII characters (a pseudonym, never a name)",
                if which == "data category" {
                    "category"
                } else {
                    "subject"
                }
            )),
            KeyError::DuplicateRecipient => {
                usage("a recipient is given more than once (--to / --to-file); name each key once")
            }
            other => fail(other.to_string()),
        })?;
    // The file appears under its name whole or not at all, and never
    // replaces an existing one (a crash leaves no empty keyring behind).
    crate::files::write_new(&a.keyring, true, &record.to_bytes()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            usage(format!(
                "{WHAT} {} already exists; refusing to overwrite it",
                a.keyring.display()
            ))
        } else {
            fail(format!("cannot create {WHAT} {}: {e}", a.keyring.display()))
        }
    })?;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "created {} with {} recipient(s)\npublic key: {}\nkey id: {}",
        a.keyring.display(),
        record.recipients().len(),
        record.public_key(),
        record.public_key().key_id()
    );
    print(&text)
}

fn add(a: AddArgs) -> Result<()> {
    ensure_distinct(&a.keyring, &a.identity)?;
    let mut new: Vec<PublicKey> = Vec::new();
    for text in &a.to {
        new.push(super::parse_public_key(text, "--to")?);
    }
    let identities = load_identities(&a.identity)?;
    let mut rng = system_rng()?;
    let (lock, record) = load_locked(&a.keyring)?;
    let identity = pick(&identities, &record, &a.keyring)?;
    let next = record
        .add_recipients(identity, &new, &mut rng)
        .map_err(|e| key_failure(&a.keyring, &e))?;
    save(&a.keyring, &next)?;
    drop(lock);
    print(&format!(
        "added {} recipient(s); {} in all\n",
        new.len(),
        next.recipients().len()
    ))
}

fn revoke(a: RevokeArgs) -> Result<()> {
    let (practice, remove) = super::practice_and_removed(&a.practice, &a.remove)?;
    let (lock, record) = load_locked(&a.keyring)?;
    let mut next = record;
    for id in &remove {
        next = next
            .revoke_recipient_keeping(id, &practice)
            .map_err(|e| key_failure(&a.keyring, &e))?;
    }
    save(&a.keyring, &next)?;
    drop(lock);
    print(&format!(
        "revoked {} recipient(s); {} left\n",
        remove.len(),
        next.recipients().len()
    ))
}

fn rotate(a: RotateArgs) -> Result<()> {
    ensure_distinct(&a.keyring, &a.identity)?;
    let (old, old_kind) = parse_key_ref(&a.old, "--old")?;
    let new = super::parse_public_key(&a.to, "--to")?;
    if old_kind == Some(KeyKind::Practice) && new.kind() != KeyKind::Practice {
        return Err(usage(
            "--to: a practice key is rotated to a new practice key (cdpractice1...), not to another kind",
        ));
    }
    let identities = load_identities(&a.identity)?;
    let mut rng = system_rng()?;
    let (lock, record) = load_locked(&a.keyring)?;
    let identity = pick(&identities, &record, &a.keyring)?;
    if !record.recipients().contains(&old) {
        return Err(key_failure(&a.keyring, &KeyError::NotARecipient));
    }
    let next = record
        .rotate_recipient(identity, &old, &new, &mut rng)
        .map_err(|e| key_failure(&a.keyring, &e))?;
    save(&a.keyring, &next)?;
    drop(lock);
    print(&format!(
        "rotated: key id {old} replaced by {}\n",
        new.key_id()
    ))
}

fn shred(a: ShredArgs) -> Result<()> {
    if !a.yes {
        return Err(usage(
            "shredding destroys the key for good: envelopes sealed to it can never be opened again; add --yes to confirm",
        ));
    }
    let at = time::given_or_now(a.at.as_deref(), "--at")?;
    let (mut lock, record) = load_locked(&a.keyring)?;
    let key_id = record.public_key().key_id();
    if let KeyringState::Shredded { at: then } = record.state() {
        drop(lock);
        return print(&format!(
            "the subject-category key {key_id} was already shredded at {}; nothing changed\n",
            time::format_rfc3339(then)
        ));
    }
    let tomb = record.shred(at);
    save(&a.keyring, &tomb)?;
    // The lock still holds the old inode: overwrite its bytes, so the wraps
    // do not linger in the freed blocks (best effort: copy-on-write file
    // systems and SSD wear levelling may keep copies).
    let old_len = lock.len()?;
    let file = lock.file();
    let zeros = vec![0u8; usize::try_from(old_len).unwrap_or(0)];
    let wiped = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&zeros))
        .and_then(|()| file.sync_all());
    drop(lock);
    let mut text = format!(
        "shredded the subject-category key {key_id} ({}): every envelope sealed to it can no longer be opened; \
         backups of {} made before now still hold the key until they roll over\n",
        tomb.category(),
        a.keyring.display()
    );
    if let Err(e) = wiped {
        let _ = writeln!(
            text,
            "warning: the old record's bytes could not be overwritten ({e}); the file itself holds only the tombstone"
        );
    }
    print(&text)
}

fn inspect(a: InspectArgs) -> Result<()> {
    let record = load(&a.keyring)?;
    let text = if a.json {
        inspect_json(&record)
    } else {
        inspect_text(&record)
    };
    print(&text)
}

fn inspect_text(r: &KeyringRecord) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Caduceus keyring record, format version 1, suite 1");
    let _ = writeln!(s, "subject:       {}", r.subject());
    let _ = writeln!(s, "category:      {}", r.category());
    let _ = writeln!(s, "kind:          {}", r.public_key().kind().name());
    let _ = writeln!(s, "public key:    {}", r.public_key());
    let _ = writeln!(s, "key id:        {}", r.public_key().key_id());
    let _ = writeln!(
        s,
        "created at:    {} ({})",
        time::format_rfc3339(r.created_at()),
        r.created_at()
    );
    match r.state() {
        KeyringState::Shredded { at } => {
            let _ = writeln!(
                s,
                "state:         shredded at {} ({at}); envelopes sealed to this key cannot be opened",
                time::format_rfc3339(at)
            );
        }
        _ => {
            let _ = writeln!(s, "state:         active");
        }
    }
    let _ = writeln!(s, "recipients:    {}", r.recipients().len());
    for id in r.recipients() {
        let _ = writeln!(s, "  key id {id}");
    }
    s
}

fn inspect_json(r: &KeyringRecord) -> String {
    let (state, shredded_at) = match r.state() {
        KeyringState::Shredded { at } => ("shredded", at.to_string()),
        _ => ("active", "null".to_owned()),
    };
    let recipients = r
        .recipients()
        .iter()
        .map(|id| format!("\"{id}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{{\n  \"version\": 1,\n  \"suite\": 1,\n  \"subject\": {},\n  \"category\": {},\n  \"kind\": \"subject-category\",\n  \"public_key\": \"{}\",\n  \"key_id\": \"{}\",\n  \"created_at\": {},\n  \"state\": \"{state}\",\n  \"shredded_at\": {shredded_at},\n  \"recipients\": [{recipients}]\n}}\n",
        json_string(r.subject(), true),
        json_string(r.category(), true),
        r.public_key(),
        r.public_key().key_id(),
        r.created_at(),
    )
}

/// The first identity that holds a wrap in the record.
fn pick<'a>(
    identities: &'a [PrivateKey],
    record: &KeyringRecord,
    path: &Path,
) -> Result<&'a PrivateKey> {
    if let KeyringState::Shredded { .. } = record.state() {
        return Err(key_failure(path, &KeyError::KeyShredded));
    }
    let ids = record.recipients();
    identities
        .iter()
        .find(|k| ids.contains(&k.key_id()))
        .ok_or_else(|| key_failure(path, &KeyError::NoAccess))
}

fn print(text: &str) -> Result<()> {
    let mut out = Output::create(None, OutputMode::PUBLIC_TEXT)?;
    out.write_all(text.as_bytes())
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}
