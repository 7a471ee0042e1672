//! C2SP `tlog-checkpoint`: origin, tree size and root hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::AuditError;
use super::merkle::Hash;
use super::note::{self, NoteSigner, NoteVerifier};

/// A checkpoint (C2SP tlog-checkpoint): the log's origin, a tree size and
/// the root hash of the tree of that size, plus optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The origin line: the log's unique name, e.g. `praxis.example/audit`.
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` entries.
    pub root: Hash,
    /// Extension lines (without newlines), kept as found.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, AuditError> {
        check_line(origin, "origin line must be non-empty printable text")?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The note text: `origin\nsize\nbase64(root)\n` and extension lines.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse a checkpoint's note text (not the signatures).
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(AuditError::MalformedCheckpoint("must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line(origin, "origin line must be non-empty printable text")?;
        let size_text = lines
            .next()
            .ok_or(AuditError::MalformedCheckpoint("missing tree size line"))?;
        let size_ok = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        let size: u64 =
            size_text
                .parse()
                .ok()
                .filter(|_| size_ok)
                .ok_or(AuditError::MalformedCheckpoint(
                    "tree size must be a decimal number without leading zeros",
                ))?;
        let root_text = lines
            .next()
            .ok_or(AuditError::MalformedCheckpoint("missing root hash line"))?;
        let root: Hash = B64
            .decode(root_text)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(AuditError::MalformedCheckpoint(
                "root hash must be 32 bytes in standard base64",
            ))?;
        let mut extensions = Vec::new();
        for l in lines {
            check_line(l, "extension lines must be non-empty")?;
            extensions.push(l.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Sign as a C2SP signed-note.
    pub fn sign(&self, signers: &[&NoteSigner]) -> Result<String, AuditError> {
        note::sign(&self.to_text(), signers)
    }

    /// Verify a signed checkpoint note against known keys and parse it.
    pub fn open(signed: &str, verifiers: &[NoteVerifier]) -> Result<Self, AuditError> {
        let opened = note::open(signed, verifiers)?;
        Self::parse(&opened.text)
    }
}

fn check_line(line: &str, what: &'static str) -> Result<(), AuditError> {
    if line.is_empty() || line.chars().any(char::is_control) {
        return Err(AuditError::MalformedCheckpoint(what));
    }
    Ok(())
}
