//! The tamper-evident audit log: pseudonym key, entries, checkpoints.

use std::sync::{Arc, Mutex, MutexGuard};

use caduceus_core::audit::{
    self as core_audit, Action, AuditKey as CoreAuditKey, Checkpoint, LogFault, Outcome, Pseudonym,
    PseudonymKind as CorePseudonymKind, note, verify_log,
};

use crate::envelope::hex;
use crate::error::{CaduceusError, invalid};
use crate::rng;

/// Whom a pseudonym names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PseudonymKind {
    /// A patient: `sbj-...`.
    Subject,
    /// A staff member or device: `stf-...`.
    Staff,
}

/// The practice's secret pseudonym key: audit entries (and the intake)
/// name people only by pseudonyms derived with it.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct AuditKey {
    pub(crate) key: CoreAuditKey,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(REDACTED)")
    }
}

#[uniffi::export]
impl AuditKey {
    /// A fresh key from the operating system's RNG.
    #[uniffi::constructor]
    pub fn generate() -> Arc<Self> {
        Arc::new(Self {
            key: CoreAuditKey::generate(&mut rng()),
        })
    }

    /// Parse the secret text form (`CADUCEUS-AUDIT-KEY-1...`).
    #[uniffi::constructor]
    pub fn parse(text: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Arc::new(Self {
            key: CoreAuditKey::parse(text.trim())?,
        }))
    }

    /// The secret text form, to store in the practice's vault.
    pub fn to_secret_text(&self) -> String {
        self.key.to_secret_string().as_str().to_owned()
    }

    /// The pseudonym of a patient or staff identifier (a keyed hash).
    pub fn pseudonym(
        &self,
        kind: PseudonymKind,
        identifier: String,
    ) -> Result<String, CaduceusError> {
        if identifier.is_empty() {
            return Err(invalid("the identifier must not be empty"));
        }
        let kind = match kind {
            PseudonymKind::Subject => CorePseudonymKind::Subject,
            PseudonymKind::Staff => CorePseudonymKind::Staff,
        };
        Ok(self.key.pseudonym(kind, &identifier).as_str().to_owned())
    }
}

/// The outcome of an audited action.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AuditOutcome {
    /// It happened.
    Success,
    /// It was refused.
    Denied {
        /// A short reason code, no personal data.
        reason: String,
    },
    /// It failed.
    Failed {
        /// A short reason code, no personal data.
        reason: String,
    },
}

/// One audited action. People appear only as pseudonyms.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditEvent {
    /// Unix milliseconds.
    pub time_ms: i64,
    /// Actor pseudonym (`stf-...`).
    pub actor: String,
    /// Actor role, e.g. `doctor`.
    pub role: String,
    /// Action code (docs/AUDIT.md), e.g. `read`, `create`.
    pub action: String,
    /// Source system, e.g. `pms-reception`.
    pub source: String,
    /// Patient pseudonym (`sbj-...`), if any.
    pub subject: Option<String>,
    /// Data category, if any.
    pub category: Option<String>,
    /// Record id, if any.
    pub record: Option<String>,
    /// Purpose, if any.
    pub purpose: Option<String>,
    /// Legal basis code, if any.
    pub legal_basis: Option<String>,
    /// Correlation id, if any.
    pub correlation: Option<String>,
    /// Outcome.
    pub outcome: AuditOutcome,
}

impl AuditEvent {
    fn to_core(&self) -> Result<core_audit::AuditEvent, CaduceusError> {
        let action = Action::from_code(&self.action)
            .ok_or_else(|| invalid("'action' is not an action code (docs/AUDIT.md)"))?;
        let mut ev = core_audit::AuditEvent::new(
            self.time_ms,
            Pseudonym::parse(&self.actor)?,
            &self.role,
            action,
            &self.source,
        )?;
        if let Some(s) = &self.subject {
            ev = ev.subject(Pseudonym::parse(s)?);
        }
        if let Some(s) = &self.category {
            ev = ev.category(s)?;
        }
        if let Some(s) = &self.record {
            ev = ev.record(s)?;
        }
        if let Some(s) = &self.purpose {
            ev = ev.purpose(s)?;
        }
        if let Some(s) = &self.legal_basis {
            ev = ev.legal_basis(s)?;
        }
        if let Some(s) = &self.correlation {
            ev = ev.correlation(s)?;
        }
        Ok(ev.outcome(match &self.outcome {
            AuditOutcome::Success => Outcome::Success,
            AuditOutcome::Denied { reason } => Outcome::Denied(reason.clone()),
            AuditOutcome::Failed { reason } => Outcome::Failed(reason.clone()),
        })?)
    }
}

/// An entry appended: store `bytes`, in order (the host's only duty).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppendedEntry {
    /// Leaf index (= sequence number).
    pub index: u64,
    /// The canonical entry bytes to store.
    pub bytes: Vec<u8>,
    /// The Merkle leaf hash (hex).
    pub leaf_hash: String,
}

impl From<core_audit::AppendedEntry> for AppendedEntry {
    fn from(a: core_audit::AppendedEntry) -> Self {
        Self {
            index: a.index,
            leaf_hash: hex(&a.leaf_hash),
            bytes: a.bytes,
        }
    }
}

/// An Ed25519 checkpoint signer (C2SP signed note keys).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignerKeys {
    /// `PRIVATE+KEY+name+id+key`: keep secret.
    pub signer_key: String,
    /// `name+id+key`: give to auditors.
    pub verifier_key: String,
}

/// A new checkpoint signer named `name` (e.g. `praxis.example/audit`).
#[uniffi::export]
pub fn generate_audit_signer(name: String) -> Result<SignerKeys, CaduceusError> {
    let signer = note::NoteSigner::generate(&name, &mut rng())?;
    Ok(SignerKeys {
        signer_key: signer.to_secret_string().as_str().to_owned(),
        verifier_key: signer.verifier().to_string(),
    })
}

fn fault(f: &LogFault) -> CaduceusError {
    CaduceusError::Tampered {
        reason: format!(
            "audit log entry {} is changed, missing or out of order",
            f.first_bad_index()
        ),
    }
}

/// The audit log writer: appends entries and signs checkpoints. The host
/// stores the entries; the library keeps only the Merkle tree's edge.
#[derive(uniffi::Object)]
pub struct AuditLog {
    log: Mutex<core_audit::AuditLog>,
}

impl AuditLog {
    pub(crate) fn lock(&self) -> MutexGuard<'_, core_audit::AuditLog> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[uniffi::export]
impl AuditLog {
    /// An empty log; `origin` names it in checkpoints.
    #[uniffi::constructor]
    pub fn new(origin: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Arc::new(Self {
            log: Mutex::new(core_audit::AuditLog::new(&origin)?),
        }))
    }

    /// Resume from the stored entries (each checked);
    /// [`CaduceusError::Tampered`] names the first bad one.
    #[uniffi::constructor]
    pub fn from_entries(origin: String, entries: Vec<Vec<u8>>) -> Result<Arc<Self>, CaduceusError> {
        core_audit::AuditLog::new(&origin)?;
        let log = core_audit::AuditLog::from_entries(&origin, entries.iter().map(Vec::as_slice))
            .map_err(|f| fault(&f))?;
        Ok(Arc::new(Self {
            log: Mutex::new(log),
        }))
    }

    /// Append an event; returns the entry to store.
    pub fn append(&self, event: AuditEvent) -> Result<AppendedEntry, CaduceusError> {
        let ev = event.to_core()?;
        Ok(self.lock().append(&ev)?.into())
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.lock().size()
    }

    /// The Merkle tree root (hex).
    pub fn root(&self) -> String {
        hex(&self.lock().root())
    }

    /// The unsigned checkpoint text (origin, size, root).
    pub fn checkpoint(&self) -> String {
        self.lock().checkpoint().to_text()
    }

    /// The checkpoint as a signed note, signed with `signer_key`.
    pub fn sign_checkpoint(&self, signer_key: String) -> Result<String, CaduceusError> {
        let signer = note::NoteSigner::parse(signer_key.trim())?;
        Ok(self.lock().checkpoint().sign(&[&signer])?)
    }
}

/// What [`verify_audit_log`] found.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditReport {
    /// No fault, and every checkpoint matched.
    pub ok: bool,
    /// Entries read.
    pub size: u64,
    /// The root over them (hex).
    pub root: String,
    /// Checkpoints reproduced.
    pub checkpoints_matched: u64,
    /// The first changed, missing or out-of-order entry, if any.
    pub first_bad_index: Option<u64>,
    /// What is wrong, if anything (no personal data).
    pub fault: Option<String>,
}

/// Verify stored entries against signed checkpoints (each checked against
/// `verifier_keys` first: a bad signature is
/// [`CaduceusError::SignatureInvalid`]).
#[uniffi::export]
pub fn verify_audit_log(
    entries: Vec<Vec<u8>>,
    signed_checkpoints: Vec<String>,
    verifier_keys: Vec<String>,
) -> Result<AuditReport, CaduceusError> {
    let vs = verifier_keys
        .iter()
        .map(|k| note::NoteVerifier::parse(k.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let cps = signed_checkpoints
        .iter()
        .map(|s| Checkpoint::open(s, &vs))
        .collect::<Result<Vec<_>, _>>()?;
    let report = verify_log(entries.iter().map(Vec::as_slice), &cps);
    Ok(AuditReport {
        ok: report.is_ok(),
        size: report.size,
        root: hex(&report.root),
        checkpoints_matched: report.checkpoints_matched as u64,
        first_bad_index: report.fault.as_ref().map(LogFault::first_bad_index),
        fault: report.fault.as_ref().map(ToString::to_string),
    })
}
