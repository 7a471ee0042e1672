//! The consent ledger.

use std::sync::{Arc, Mutex, MutexGuard};

use caduceus_core::consent::{self as core_consent, OptOutOutcome};

use crate::envelope::hex;
use crate::error::{CaduceusError, invalid};

/// The status a consent event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentStatus {
    /// Consent given.
    Given,
    /// Consent refused.
    Refused,
    /// Consent withdrawn (Art. 7(3) GDPR).
    Withdrawn,
    /// Consent expired.
    Expired,
    /// Consent renewed.
    Renewed,
}

/// How the consent was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentMethod {
    /// QR code at reception.
    QrReception,
    /// The anamnesis form.
    AnamnesisForm,
    /// A chat reply (WhatsApp button or text).
    ChatReply,
    /// In person, documented by staff.
    InPersonDocumented,
    /// Other (documented in the evidence).
    Other,
}

impl From<ConsentStatus> for core_consent::ConsentStatus {
    fn from(s: ConsentStatus) -> Self {
        match s {
            ConsentStatus::Given => Self::Given,
            ConsentStatus::Refused => Self::Refused,
            ConsentStatus::Withdrawn => Self::Withdrawn,
            ConsentStatus::Expired => Self::Expired,
            ConsentStatus::Renewed => Self::Renewed,
        }
    }
}

impl From<ConsentMethod> for core_consent::ConsentMethod {
    fn from(m: ConsentMethod) -> Self {
        match m {
            ConsentMethod::QrReception => Self::QrReception,
            ConsentMethod::AnamnesisForm => Self::AnamnesisForm,
            ConsentMethod::ChatReply => Self::ChatReply,
            ConsentMethod::InPersonDocumented => Self::InPersonDocumented,
            ConsentMethod::Other => Self::Other,
        }
    }
}

/// A registered privacy notice version (the wording by its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoticeRef {
    /// Notice id, e.g. `privacy-chat`.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Language tag, e.g. `de`.
    pub language: String,
    /// SHA-256 of the exact text (hex).
    pub sha256: String,
}

impl From<&core_consent::NoticeRef> for NoticeRef {
    fn from(n: &core_consent::NoticeRef) -> Self {
        Self {
            id: n.id.clone(),
            version: n.version,
            language: n.language.clone(),
            sha256: hex(&n.sha256),
        }
    }
}

/// One consent event to record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentEvent {
    /// Unique event id.
    pub id: String,
    /// Subject pseudonym.
    pub subject: String,
    /// Purposes of the consent policy, e.g. `treatment-communication`.
    pub purposes: Vec<String>,
    /// Given, refused, withdrawn, ...
    pub status: ConsentStatus,
    /// How it was obtained.
    pub method: ConsentMethod,
    /// The notice shown (id, version, language); `None` where the policy
    /// allows it (e.g. a withdrawal).
    pub notice: Option<NoticeId>,
    /// Channel, e.g. `whatsapp`.
    pub channel: String,
    /// Evidence, e.g. the WhatsApp message id.
    pub evidence: Option<String>,
    /// Who recorded it (a staff pseudonym or `system`).
    pub recorded_by: String,
    /// When it happened (Unix seconds).
    pub time: i64,
    /// When it expires (Unix seconds), if it does.
    pub expires_at: Option<i64>,
}

/// Names a registered notice version.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoticeId {
    /// Notice id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Language tag.
    pub language: String,
}

/// Where a recorded event sits in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EventRef {
    /// Append order, from 0.
    pub seq: u64,
    /// SHA-256 of the event record (hex).
    pub sha256: String,
}

impl From<core_consent::EventRef> for EventRef {
    fn from(r: core_consent::EventRef) -> Self {
        Self {
            seq: r.seq,
            sha256: hex(&r.hash),
        }
    }
}

/// Whether a purpose may be pursued for a subject, and on what basis.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentDecision {
    /// Whether processing is allowed.
    pub allowed: bool,
    /// The Art. 6 basis relied on (code, e.g. `consent`), when allowed.
    pub art6: Option<String>,
    /// The Art. 9 condition relied on (code), if any.
    pub art9: Option<String>,
    /// The basis as articles, e.g. `Art. 6(1)(a) + Art. 9(2)(a)`.
    pub basis: Option<String>,
    /// Why not (a refusal code: `no-consent`, `withdrawn`, `expired`, ...).
    pub refusal: Option<String>,
    /// The event the decision rests on.
    pub event: Option<EventRef>,
}

impl From<core_consent::Decision> for ConsentDecision {
    fn from(d: core_consent::Decision) -> Self {
        Self {
            allowed: d.allowed,
            art6: d.basis.map(|b| b.art6.code().to_owned()),
            art9: d.basis.and_then(|b| b.art9.map(|c| c.code().to_owned())),
            basis: d.basis.map(|b| match b.art9 {
                Some(c) => format!("{} + {}", b.art6.article(), c.article()),
                None => b.art6.article().to_owned(),
            }),
            refusal: d.refusal.map(|r| r.code().to_owned()),
            event: d.event.map(Into::into),
        }
    }
}

/// A chat reply checked for an opt-out phrase (STOP, Bitte stopp, ...).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OptOutRequest {
    /// Event id for the withdrawal recorded.
    pub event_id: String,
    /// Subject pseudonym.
    pub subject: String,
    /// The reply text.
    pub reply: String,
    /// The WhatsApp message id (evidence).
    pub message_id: String,
    /// Channel, e.g. `whatsapp`.
    pub channel: String,
    /// Who records it.
    pub recorded_by: String,
    /// When the reply arrived (Unix seconds).
    pub time: i64,
}

/// The consent ledger: a consent policy, the registered notices and the
/// append-only consent events. Every call that fails leaves it unchanged.
/// Persist [`Ledger::to_bytes`].
#[derive(uniffi::Object)]
pub struct Ledger {
    pub(crate) inner: Mutex<core_consent::Ledger>,
}

impl Ledger {
    pub(crate) fn lock(&self) -> MutexGuard<'_, core_consent::Ledger> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wrap(l: core_consent::Ledger) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(l),
        })
    }
}

#[uniffi::export]
impl Ledger {
    /// An empty ledger with the default consent policy.
    #[uniffi::constructor]
    pub fn new() -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(core_consent::Ledger::new(
            core_consent::ConsentPolicy::default(),
        )?))
    }

    /// An empty ledger with a consent policy (TOML, docs/CONSENT.md).
    #[uniffi::constructor]
    pub fn with_policy(policy_toml: String) -> Result<Arc<Self>, CaduceusError> {
        let policy = core_consent::ConsentPolicy::from_toml(&policy_toml)?;
        Ok(Self::wrap(core_consent::Ledger::new(policy)?))
    }

    /// Load a stored ledger.
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, CaduceusError> {
        Ok(Self::wrap(core_consent::Ledger::from_bytes(&bytes)?))
    }

    /// The bytes to store.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CaduceusError> {
        Ok(self.lock().to_bytes()?)
    }

    /// Number of consent events.
    pub fn len(&self) -> u64 {
        self.lock().len() as u64
    }

    /// Whether the ledger holds no event.
    pub fn is_empty(&self) -> bool {
        self.lock().len() == 0
    }

    /// Register the exact text of a notice version; `at` is the
    /// registration time, `now` the caller's clock.
    pub fn register_notice(
        &self,
        id: String,
        version: u32,
        language: String,
        text: String,
        at: i64,
        now: i64,
    ) -> Result<NoticeRef, CaduceusError> {
        let r = self
            .lock()
            .register_notice(&id, version, &language, &text, at, now)?;
        Ok((&r).into())
    }

    /// Record a consent event (given, refused, withdrawn, ...).
    pub fn record(&self, event: ConsentEvent, now: i64) -> Result<EventRef, CaduceusError> {
        let mut ledger = self.lock();
        let notice = match &event.notice {
            None => None,
            Some(n) => Some(
                ledger
                    .notice_ref(&n.id, n.version, &n.language)
                    .ok_or_else(|| CaduceusError::InvalidInput {
                        reason: "the notice is not registered; register it first".into(),
                    })?,
            ),
        };
        let e = core_consent::ConsentEvent {
            id: event.id,
            subject: event.subject,
            purposes: event.purposes,
            status: event.status.into(),
            method: event.method.into(),
            notice,
            channel: event.channel,
            evidence: event.evidence,
            recorded_by: event.recorded_by,
            time: event.time,
            expires_at: event.expires_at,
        };
        Ok(ledger.append(e, now)?.into())
    }

    /// Withdraw consent to `purposes` (Art. 7(3)): records a withdrawal.
    #[allow(clippy::too_many_arguments)]
    pub fn withdraw(
        &self,
        event_id: String,
        subject: String,
        purposes: Vec<String>,
        method: ConsentMethod,
        channel: String,
        recorded_by: String,
        time: i64,
        now: i64,
    ) -> Result<EventRef, CaduceusError> {
        self.record(
            ConsentEvent {
                id: event_id,
                subject,
                purposes,
                status: ConsentStatus::Withdrawn,
                method,
                notice: None,
                channel,
                evidence: None,
                recorded_by,
                time,
                expires_at: None,
            },
            now,
        )
    }

    /// Check a chat reply for an opt-out phrase; when it is one, the
    /// withdrawal (and the marketing objection) is recorded. Returns the
    /// purposes stopped (empty: not an opt-out).
    pub fn opt_out(&self, request: OptOutRequest, now: i64) -> Result<Vec<String>, CaduceusError> {
        let req = core_consent::OptOutRequest {
            event_id: request.event_id,
            subject: request.subject,
            reply: request.reply,
            message_id: request.message_id,
            channel: request.channel,
            recorded_by: request.recorded_by,
            time: request.time,
        };
        Ok(match self.lock().opt_out(req, now)? {
            OptOutOutcome::Stopped {
                withdrawal,
                objection,
            } => withdrawal
                .into_iter()
                .chain(objection)
                .flat_map(|e| e.purposes)
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Whether `purpose` may be pursued for `subject` at `at`.
    pub fn decide(&self, subject: String, purpose: String, at: i64) -> ConsentDecision {
        self.lock().decide(&subject, &purpose, at).into()
    }

    /// [`Ledger::decide`] for many subjects at once (a send-out), in order.
    pub fn decide_many(
        &self,
        subjects: Vec<String>,
        purpose: String,
        at: i64,
    ) -> Vec<ConsentDecision> {
        self.lock()
            .decide_many(&subjects, &purpose, at)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Number of consent events recorded for `subject`.
    pub fn history_len(&self, subject: String) -> u64 {
        self.lock().history(&subject).len() as u64
    }

    /// [`Ledger::decide`], failing with [`CaduceusError::NotConsented`]
    /// when processing is not allowed: a guard before processing.
    pub fn require(
        &self,
        subject: String,
        purpose: String,
        at: i64,
    ) -> Result<ConsentDecision, CaduceusError> {
        let d = self.decide(subject, purpose, at);
        if d.allowed {
            Ok(d)
        } else {
            Err(CaduceusError::NotConsented {
                reason: d.refusal.unwrap_or_else(|| "no-consent".into()),
            })
        }
    }

    /// The subject's consent history as a FHIR R4 `Consent` bundle (JSON).
    pub fn export_fhir(&self, subject: String, at: i64) -> Result<String, CaduceusError> {
        if subject.is_empty() {
            return Err(invalid("the subject must not be empty"));
        }
        Ok(self.lock().export_fhir(&subject, at))
    }

    /// The subject's consent records as ISO/IEC TS 27560-shaped JSON.
    pub fn export_iso27560(&self, subject: String) -> Result<String, CaduceusError> {
        if subject.is_empty() {
            return Err(invalid("the subject must not be empty"));
        }
        Ok(self.lock().export_iso27560(&subject))
    }
}
