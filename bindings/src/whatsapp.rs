//! The WhatsApp intake: signatures, webhook parsing, the consent gate's
//! decisions and the outbound gate.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use caduceus_core::access::StaffKey;
use caduceus_core::keys::KeyKind as CoreKeyKind;
use caduceus_core::whatsapp::{
    self as wa, DecisionKind, IntakeConfig, MessageKind, ParseLimits, SendDecision,
};

use crate::audit::{AppendedEntry, AuditKey, AuditLog};
use crate::consent::Ledger;
use crate::error::{CaduceusError, invalid};
use crate::keys::{KeyringRecord, PublicKey};
use crate::policy::Policy;
use crate::rng;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Verify the `X-Hub-Signature-256` header over the raw request body with
/// the app secrets in use (new and old during a rotation). Returns the
/// index of the secret that matched; [`CaduceusError::SignatureInvalid`]
/// when none did (answer HTTP 401 and do not parse the body).
#[uniffi::export]
pub fn verify_signature(
    body: Vec<u8>,
    signature_header: Option<String>,
    app_secrets: Vec<Vec<u8>>,
) -> Result<u32, CaduceusError> {
    let secrets: Vec<&[u8]> = app_secrets.iter().map(Vec::as_slice).collect();
    let matched = wa::verify_signature(&body, signature_header.as_deref(), &secrets)?;
    u32::try_from(matched.index()).map_err(|_| invalid("too many app secrets"))
}

/// The subscription handshake (`GET` with `hub.mode`, `hub.verify_token`,
/// `hub.challenge`): returns the challenge to echo.
#[uniffi::export]
pub fn verify_subscription(
    mode: String,
    token: String,
    challenge: String,
    expected_token: String,
) -> Result<String, CaduceusError> {
    Ok(wa::verify_subscription(&mode, &token, &challenge, &expected_token)?.to_owned())
}

/// A parsed (signature-verified) webhook body: its events.
#[derive(uniffi::Object)]
pub struct Webhook {
    webhook: wa::Webhook,
}

#[uniffi::export]
impl Webhook {
    /// Parse a webhook body within the default limits (3 MiB, depth,
    /// event count). Verify its signature first.
    #[uniffi::constructor]
    pub fn parse(body: Vec<u8>) -> Result<Arc<Self>, CaduceusError> {
        Ok(Arc::new(Self {
            webhook: wa::parse_webhook(&body, &ParseLimits::default())?,
        }))
    }

    /// Number of events (messages, statuses, ...).
    pub fn event_count(&self) -> u64 {
        self.webhook.events.len() as u64
    }

    /// The events as JSON; personal content is redacted unless
    /// `show_content`.
    pub fn to_json(&self, show_content: bool) -> String {
        self.webhook.to_json(show_content).to_string()
    }
}

/// Aliases of WhatsApp ids (numbers, BSUIDs) to subject pseudonyms.
/// Persist [`Identities::to_text`].
#[derive(uniffi::Object)]
pub struct Identities {
    map: Mutex<wa::IdentityMap>,
}

#[uniffi::export]
impl Identities {
    /// An empty map.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::new(wa::IdentityMap::new()),
        })
    }

    /// Load the stored text form.
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Arc::new(Self {
            map: Mutex::new(wa::IdentityMap::from_text(&text)?),
        }))
    }

    /// The text form to store.
    pub fn to_text(&self) -> String {
        lock(&self.map).to_text()
    }

    /// Number of aliases.
    pub fn len(&self) -> u64 {
        lock(&self.map).len() as u64
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        lock(&self.map).is_empty()
    }
}

/// The keyring records the intake seals to, by (subject, category).
#[derive(uniffi::Object)]
pub struct KeyringSet {
    set: Mutex<wa::KeyringSet>,
}

#[uniffi::export]
impl KeyringSet {
    /// An empty set.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            set: Mutex::new(wa::KeyringSet::new()),
        })
    }

    /// Add or replace a record.
    pub fn insert(&self, record: Arc<KeyringRecord>) {
        lock(&self.set).insert(record.record.clone());
    }

    /// The record of (subject, category), if any.
    pub fn get(&self, subject: String, category: String) -> Option<Arc<KeyringRecord>> {
        lock(&self.set)
            .get(&subject, &category)
            .map(|r| KeyringRecord::wrap(r.clone()))
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        lock(&self.set).len() as u64
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        lock(&self.set).is_empty()
    }
}

/// A staff member's public key and the policy roles it holds.
#[derive(uniffi::Record)]
pub struct StaffMember {
    /// The staff public key (`cdstaff1...`).
    pub key: Arc<PublicKey>,
    /// Role ids of the policy, e.g. `doctor`.
    pub roles: Vec<String>,
}

/// The consent gate: decides what to do with each webhook event (send the
/// notice, record consent, seal content, plan media fetches, ...), as data
/// the host persists.
#[derive(uniffi::Object)]
pub struct Intake {
    intake: wa::Intake,
}

#[uniffi::export]
impl Intake {
    /// An intake over the access policy, sealing to the practice key and
    /// to the staff whose roles may read each category; `notice_*` names
    /// the registered privacy notice sent before consent.
    #[uniffi::constructor]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pseudonym_key: Arc<AuditKey>,
        policy: Arc<Policy>,
        practice: Arc<PublicKey>,
        staff: Vec<StaffMember>,
        notice_id: String,
        notice_version: u32,
        notice_language: String,
        ledger: Arc<Ledger>,
    ) -> Result<Arc<Self>, CaduceusError> {
        let kind_err = |what: &str| CaduceusError::InvalidKey {
            reason: what.to_owned(),
        };
        if practice.key.kind() != CoreKeyKind::Practice {
            return Err(kind_err("practice must be the practice public key"));
        }
        let mut keys = Vec::with_capacity(staff.len());
        for s in &staff {
            if s.key.key.kind() != CoreKeyKind::Staff {
                return Err(kind_err("every staff key must be a staff public key"));
            }
            if s.roles.is_empty() {
                return Err(invalid("every staff member needs at least one role"));
            }
            keys.push(StaffKey {
                key: s.key.key,
                roles: s.roles.clone(),
            });
        }
        let notice = ledger
            .lock()
            .notice_ref(&notice_id, notice_version, &notice_language)
            .ok_or(wa::IntakeError::NoticeNotRegistered)?;
        let config = IntakeConfig::new(practice.key, keys, notice);
        Ok(Arc::new(Self {
            intake: wa::Intake::new(pseudonym_key.key.clone(), &policy.policy, config)?,
        }))
    }

    /// Decide event `index` of `webhook`. Nothing changes until
    /// [`Decision::apply`].
    pub fn decide(
        &self,
        webhook: Arc<Webhook>,
        index: u64,
        ledger: Arc<Ledger>,
        identities: Arc<Identities>,
        keyrings: Arc<KeyringSet>,
        now: i64,
    ) -> Result<Arc<Decision>, CaduceusError> {
        let events = &webhook.webhook.events;
        let event = usize::try_from(index)
            .ok()
            .and_then(|i| events.get(i))
            .ok_or_else(|| invalid("the event index is past the end of the webhook"))?;
        let d = self.intake.decide(
            event,
            &ledger.lock(),
            &lock(&identities.map),
            &*lock(&keyrings.set),
            now,
            &mut rng(),
        )?;
        Ok(Arc::new(Decision { decision: d }))
    }
}

/// What to do with one event.
#[derive(uniffi::Object)]
pub struct Decision {
    pub(crate) decision: wa::Decision,
}

#[uniffi::export]
impl Decision {
    /// The kind: `ask-consent`, `consent-recorded`, `stored`,
    /// `fetch-media`, `opted-out`, `not-stored`, `refused`, `ignored`, ...
    pub fn kind(&self) -> String {
        self.decision.kind.code().to_owned()
    }

    /// Why not stored, refused or ignored, if so.
    pub fn reason(&self) -> Option<String> {
        match &self.decision.kind {
            DecisionKind::NotStored { reason }
            | DecisionKind::Refused { reason }
            | DecisionKind::Ignored { reason } => Some((*reason).to_owned()),
            _ => None,
        }
    }

    /// The decision as JSON; personal content redacted unless
    /// `show_content`.
    pub fn to_json(&self, show_content: bool) -> String {
        self.decision.to_json(show_content).to_string()
    }

    /// The key to deduplicate redeliveries with (hex).
    pub fn dedupe_key(&self) -> Option<String> {
        self.decision.dedupe_key.map(|k| k.to_hex())
    }

    /// The subject pseudonym.
    pub fn subject(&self) -> Option<String> {
        self.decision
            .subject
            .as_ref()
            .map(|s| s.as_str().to_owned())
    }

    /// The record id of a stored message, a media fetch or a deletion.
    pub fn record_id(&self) -> Option<String> {
        match &self.decision.kind {
            DecisionKind::Stored { record_id }
            | DecisionKind::FetchMedia { record_id }
            | DecisionKind::DeletionRequested { record_id } => Some(record_id.clone()),
            _ => None,
        }
    }

    /// The sealed envelope to store, if content is kept.
    pub fn envelope(&self) -> Option<Vec<u8>> {
        self.decision.record.as_ref().map(|r| r.envelope.clone())
    }

    /// A new keyring record to store (first contact in a category).
    pub fn keyring_record(&self) -> Option<Arc<KeyringRecord>> {
        self.decision
            .keyring_record
            .as_ref()
            .map(|r| KeyringRecord::wrap(r.clone()))
    }

    /// The replies to send, as WhatsApp Cloud API request bodies (JSON).
    pub fn reply_requests(&self) -> Vec<String> {
        self.decision
            .replies
            .iter()
            .map(|r| r.to_graph_json().as_str().to_owned())
            .collect()
    }

    /// Number of audit events to append.
    pub fn audit_count(&self) -> u64 {
        self.decision.audit_events.len() as u64
    }

    /// Append the decision's audit events to `log`; returns the entries to
    /// store.
    pub fn append_audit(&self, log: Arc<AuditLog>) -> Result<Vec<AppendedEntry>, CaduceusError> {
        let mut l = log.lock();
        let mut out = Vec::with_capacity(self.decision.audit_events.len());
        for ev in &self.decision.audit_events {
            out.push(l.append(ev)?.into());
        }
        Ok(out)
    }

    /// Apply the decision: record its consent events, add identity links
    /// and its keyring record. All or nothing.
    pub fn apply(
        &self,
        ledger: Arc<Ledger>,
        identities: Arc<Identities>,
        keyrings: Arc<KeyringSet>,
        now: i64,
    ) -> Result<(), CaduceusError> {
        self.decision.apply(
            &mut ledger.lock(),
            &mut lock(&identities.map),
            &mut lock(&keyrings.set),
            now,
        )?;
        Ok(())
    }
}

/// Customer-service windows and template categories for the outbound gate.
/// Persist [`OutboundState::to_text`].
#[derive(uniffi::Object)]
pub struct OutboundState {
    state: Mutex<wa::OutboundState>,
}

#[uniffi::export]
impl OutboundState {
    /// An empty state.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(wa::OutboundState::new()),
        })
    }

    /// Load the stored text form.
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<Self>, CaduceusError> {
        Ok(Arc::new(Self {
            state: Mutex::new(wa::OutboundState::from_text(&text)?),
        }))
    }

    /// The text form to store.
    pub fn to_text(&self) -> String {
        lock(&self.state).to_text()
    }

    /// Take a decision's inbound time and template changes into account.
    pub fn apply(&self, decision: Arc<Decision>) {
        lock(&self.state).apply(&decision.decision);
    }
}

/// An approved message template.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Template {
    /// Template name.
    pub name: String,
    /// Template language, e.g. `de`.
    pub language: String,
    /// Its category: `UTILITY`, `MARKETING`, `AUTHENTICATION`.
    pub category: String,
}

/// The outbound gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SendVerdict {
    /// Whether the message may be sent.
    pub allowed: bool,
    /// `free-form`, `template`, `template-required` or `forbidden`.
    pub decision: String,
    /// Why forbidden: `no-consent`, `withdrawn`, `marketing-stopped`, ...
    pub forbidden: Option<String>,
    /// End of the 24-hour customer-service window (free-form).
    pub window_ends: Option<i64>,
}

/// May a message for `purpose` be sent to `subject` now: consent for the
/// purpose, the 24-hour window for free-form text, the template's
/// category. `template` `None` means a free-form message.
#[uniffi::export]
pub fn may_send(
    ledger: Arc<Ledger>,
    state: Arc<OutboundState>,
    subject: String,
    purpose: String,
    template: Option<Template>,
    now: i64,
) -> SendVerdict {
    let kind = match &template {
        None => MessageKind::FreeForm,
        Some(t) => MessageKind::Template {
            name: &t.name,
            language: &t.language,
            category: &t.category,
        },
    };
    let d = wa::may_send(
        &ledger.lock(),
        &lock(&state.state),
        &subject,
        &purpose,
        kind,
        now,
    );
    SendVerdict {
        allowed: d.allowed(),
        decision: d.code().to_owned(),
        forbidden: match &d {
            SendDecision::Forbidden(f) => Some(f.code().to_owned()),
            _ => None,
        },
        window_ends: match &d {
            SendDecision::FreeForm { window_ends, .. } => Some(*window_ends),
            _ => None,
        },
    }
}

#[uniffi::export]
impl Decision {
    /// The WhatsApp media id to download, for a `fetch-media` decision.
    pub fn media_id(&self) -> Option<String> {
        self.decision.media.as_ref().map(|p| p.media.id.clone())
    }

    /// Append the media fetch's audit entry to `log`: stored, or failed
    /// with `failure_reason` (a short code such as `download-failed`).
    pub fn append_media_audit(
        &self,
        log: Arc<AuditLog>,
        failure_reason: Option<String>,
    ) -> Result<AppendedEntry, CaduceusError> {
        let plan = media_plan(&self.decision)?;
        let event = match failure_reason {
            None => plan.audit_stored.clone(),
            Some(r) => plan.audit_failed(&r)?,
        };
        Ok(log.lock().append(&event)?.into())
    }
}

fn media_plan(d: &wa::Decision) -> Result<&wa::MediaPlan, CaduceusError> {
    d.media.as_ref().ok_or_else(|| CaduceusError::WrongState {
        reason: "the decision has no media plan (its kind is not fetch-media)".into(),
    })
}

enum MediaState {
    Sealing {
        header: Option<Vec<u8>>,
        sealer: Box<wa::MediaSealer>,
    },
    Done,
}

/// Seals the attachment of a `fetch-media` decision as it downloads,
/// checking its size limit and the SHA-256 the webhook announced; on a
/// mismatch [`MediaSealer::finish`] fails with
/// [`CaduceusError::Tampered`] and writes no final segment, so nothing
/// that was pushed opens. Write out every output, in order.
#[derive(uniffi::Object)]
pub struct MediaSealer {
    state: Mutex<MediaState>,
}

#[uniffi::export]
impl MediaSealer {
    /// Start sealing the media of `decision` (kind `fetch-media`).
    #[uniffi::constructor]
    pub fn new(decision: Arc<Decision>) -> Result<Arc<Self>, CaduceusError> {
        let (header, sealer) = media_plan(&decision.decision)?.begin_seal(&mut rng())?;
        Ok(Arc::new(Self {
            state: Mutex::new(MediaState::Sealing {
                header: Some(header),
                sealer: Box::new(sealer),
            }),
        }))
    }

    /// Seal the next downloaded chunk; returns envelope bytes.
    pub fn push(&self, chunk: Vec<u8>) -> Result<Vec<u8>, CaduceusError> {
        let chunk = zeroize::Zeroizing::new(chunk);
        let mut state = lock(&self.state);
        let MediaState::Sealing { header, sealer } = &mut *state else {
            return Err(media_finished());
        };
        let mut out = header.take().unwrap_or_default();
        if let Err(e) = sealer.push(&chunk, &mut out) {
            *state = MediaState::Done;
            return Err(e.into());
        }
        Ok(out)
    }

    /// Check the size and SHA-256 and seal the last segment.
    pub fn finish(&self) -> Result<Vec<u8>, CaduceusError> {
        let mut state = lock(&self.state);
        let MediaState::Sealing { header, sealer } =
            std::mem::replace(&mut *state, MediaState::Done)
        else {
            return Err(media_finished());
        };
        let mut out = header.unwrap_or_default();
        sealer.finish(&mut out)?;
        Ok(out)
    }
}

fn media_finished() -> CaduceusError {
    CaduceusError::WrongState {
        reason: "the media sealer was already finished, or failed earlier; start a new one".into(),
    }
}

/// Seal a downloaded attachment file of a `fetch-media` decision into
/// `output_path` (checked against the webhook's SHA-256 and size limit;
/// nothing is left at `output_path` on a mismatch). The bytes never cross
/// the binding boundary.
#[uniffi::export]
pub fn seal_media_file(
    decision: Arc<Decision>,
    input_path: String,
    output_path: String,
) -> Result<(), CaduceusError> {
    use std::io::Read;
    let plan = media_plan(&decision.decision)?;
    let mut input = std::fs::File::open(&input_path)?;
    crate::envelope::write_atomically(std::path::Path::new(&output_path), |w| {
        use std::io::Write;
        let (header, mut sealer) = plan.begin_seal(&mut rng())?;
        w.write_all(&header)?;
        let mut buf = zeroize::Zeroizing::new(vec![0u8; 1 << 16]);
        let mut out = Vec::with_capacity(1 << 17);
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sealer.push(buf.get(..n).unwrap_or_default(), &mut out)?;
            w.write_all(&out)?;
            out.clear();
        }
        sealer.finish(&mut out)?;
        w.write_all(&out)?;
        Ok(())
    })
}
