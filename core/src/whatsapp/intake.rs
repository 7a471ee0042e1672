//! The consent gate: what the host does with each webhook event
//! (docs/WHATSAPP.md, section 4).
//!
//! [`Intake::decide`] takes one parsed [`Event`], the consent [`Ledger`],
//! the [`IdentityMap`], the subject-category keyring records (through
//! [`KeyringLookup`]) and `now`, and returns a [`Decision`]: everything the
//! host must persist, as data (consent events, audit events, a sealed
//! record, a new keyring record, identity links, the dedupe key, the
//! messaging window), the replies to send and, for media, the plan to fetch
//! and seal the bytes. Nothing is changed by deciding: the host persists
//! the decision in one transaction, then applies it to its in-memory state
//! ([`Decision::apply`]) before deciding the next event.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde_json::json;
use zeroize::Zeroizing;

use super::dedupe::DedupeKey;
use super::event::{
    Contact, Event, EventKind, InboundMessage, Media, MediaKind, MessageBody, PreferenceValue,
    Sensitive, StatusUpdate, SystemChange, TemplateCategoryUpdate, TemplateStatus, UserPreference,
};
use super::identity::{AliasKind, IdentityLink, IdentityMap};
use crate::access::{self, AccessError, StaffKey};
use crate::audit::{Action, AuditError, AuditEvent, AuditKey, Outcome, Pseudonym, PseudonymKind};
use crate::consent::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentStatus, Ledger, LegalBasis, NoticeRef,
    OptOutRequest, normalize_reply,
};
use crate::envelope::{self, EnvelopeError, Labels};
use crate::keys::{KeyError, KeyringRecord, KeyringState, PublicKey};
use crate::retention::Policy;

/// Oldest event accepted, in seconds before `now`: Meta retries a delivery
/// for up to 7 days, plus one day of margin. An older event cannot be told
/// apart from a replay once its dedupe key has expired, so it is refused.
pub const MAX_EVENT_AGE: i64 = 8 * 24 * 3600;
/// Default allowed clock skew for event timestamps ahead of `now`, seconds.
pub const DEFAULT_MAX_CLOCK_SKEW: i64 = 300;
/// Prefix of the button payloads Caduceus puts on its consent requests.
pub const CONSENT_PAYLOAD_PREFIX: &str = "caduceus.consent.v1:";
/// The consent and audit channel of chat traffic.
pub const CHANNEL: &str = "whatsapp";
/// The consent channel of `user_preferences` webhooks.
pub const PREFERENCES_CHANNEL: &str = "whatsapp-user-preferences";
/// The role of the intake in audit entries.
pub const INTAKE_ROLE: &str = "ingest";
/// The source system in audit entries.
pub const INTAKE_SOURCE: &str = "whatsapp";
/// The consent purpose a `user_preferences` stop withdraws.
pub const MARKETING_PURPOSE: &str = "marketing";
/// Longest button payload WhatsApp accepts (`reply.id`).
pub const MAX_BUTTON_PAYLOAD: usize = 256;
/// Longest button title WhatsApp accepts, in characters.
pub const MAX_BUTTON_TITLE: usize = 20;

const RECORD_DOMAIN: &[u8] = b"caduceus/v1 whatsapp record id";
const CONSENT_DOMAIN: &[u8] = b"caduceus/v1 whatsapp consent event id";

/// Why the intake could not decide. Messages never contain message
/// content, phone numbers, names or user ids.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The configuration does not fit the policies.
    #[error("intake configuration: {0}")]
    Config(String),
    /// The configured privacy notice is not registered in the ledger.
    #[error(
        "the intake's privacy notice is not registered in the consent ledger: register it (consent notice add) first"
    )]
    NoticeNotRegistered,
    /// An access question failed.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Sealing failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Creating a keyring record failed.
    #[error(transparent)]
    Keyring(#[from] KeyError),
    /// A consent event could not be built or would not be appended.
    #[error(transparent)]
    Consent(#[from] ConsentError),
    /// An audit event could not be built.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Where content of one kind goes: its data category and purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Data category (retention policy), e.g. `chat-messages`.
    pub category: String,
    /// Consent purpose, e.g. `treatment-communication`.
    pub purpose: String,
}

impl Route {
    fn new(category: &str, purpose: &str) -> Self {
        Self {
            category: category.to_owned(),
            purpose: purpose.to_owned(),
        }
    }
}

/// The routes of the content kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    /// Text, locations, shared contacts, replies, reactions; its purpose is
    /// the treatment-communication purpose every other kind needs too.
    pub text: Route,
    /// Images and videos: clinical photos, with their own explicit consent.
    pub photo: Route,
    /// Documents, audio and stickers.
    pub file: Route,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            text: Route::new("chat-messages", "treatment-communication"),
            photo: Route::new("clinical-photos", "clinical-photos"),
            file: Route::new("chat-messages", "treatment-communication"),
        }
    }
}

/// The texts of the replies (German by default). Button titles are at most
/// 20 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTexts {
    /// The question under the notice, with the consent buttons.
    pub consent_question: String,
    /// Button: consent to treatment communication.
    pub button_yes: String,
    /// Button: consent to treatment communication and clinical photos.
    pub button_yes_photos: String,
    /// Button: no consent.
    pub button_no: String,
    /// Button: consent to clinical photos (after a photo was not kept).
    pub button_photos: String,
    /// After consent was given.
    pub consent_given: String,
    /// After consent was refused or withdrawn, and to a message that was
    /// not kept after a refusal.
    pub consent_refused: String,
    /// A photo was not kept for want of photo consent.
    pub photo_not_kept: String,
    /// After a STOP.
    pub opted_out: String,
}

impl Default for ReplyTexts {
    fn default() -> Self {
        Self {
            consent_question: "Dürfen wir Ihre Nachrichten für Ihre Behandlung speichern und \
                beantworten? Einzelheiten stehen im Datenschutzhinweis oben. Ihre Einwilligung \
                können Sie jederzeit widerrufen."
                .into(),
            button_yes: "Ja".into(),
            button_yes_photos: "Ja, auch Fotos".into(),
            button_no: "Nein".into(),
            button_photos: "Fotos erlauben".into(),
            consent_given: "Danke, Ihre Einwilligung ist gespeichert.".into(),
            consent_refused: "Wir haben Ihre Nachricht nicht gespeichert. Bitte rufen Sie uns an \
                oder kommen Sie in die Praxis."
                .into(),
            photo_not_kept: "Wir haben Ihr Foto nicht gespeichert: Für Fotos brauchen wir Ihre \
                ausdrückliche Einwilligung (Art. 9 Abs. 2 lit. a DSGVO). Möchten Sie uns Fotos \
                für Ihre Behandlung senden?"
                .into(),
            opted_out: "Sie erhalten von uns keine Erinnerungen und keine Werbung mehr.".into(),
        }
    }
}

/// The intake's configuration.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// The practice key: every new keyring record is wrapped to it.
    pub practice: PublicKey,
    /// Staff keys with their roles; new keyring records are wrapped to
    /// those whose roles may read the category.
    pub staff: Vec<StaffKey>,
    /// The privacy notice (Art. 13) shown to unknown contacts; registered
    /// in the ledger.
    pub notice: NoticeRef,
    /// Reply texts.
    pub texts: ReplyTexts,
    /// Categories and purposes of the content kinds.
    pub routes: Routes,
    /// Whole replies (normalised) that give treatment-communication consent
    /// while none is in effect: `JA`, `YES`.
    pub yes_keywords: Vec<String>,
    /// Whole replies that refuse it: `NEIN`, `NO`.
    pub no_keywords: Vec<String>,
    /// Seconds an event may lie ahead of `now`.
    pub max_clock_skew: i64,
    /// Seconds an event may lie before `now` (at most [`MAX_EVENT_AGE`]).
    pub max_age: i64,
    /// The identifier of the intake service, pseudonymised as the actor of
    /// its audit entries and the recorder of its consent events.
    pub service: String,
}

impl IntakeConfig {
    /// A configuration with the defaults: German texts, the standard
    /// routes, keywords JA/YES and NEIN/NO, 300 s skew, 8 days age.
    pub fn new(practice: PublicKey, staff: Vec<StaffKey>, notice: NoticeRef) -> Self {
        Self {
            practice,
            staff,
            notice,
            texts: ReplyTexts::default(),
            routes: Routes::default(),
            yes_keywords: vec!["JA".into(), "YES".into()],
            no_keywords: vec!["NEIN".into(), "NO".into()],
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            max_age: MAX_EVENT_AGE,
            service: "whatsapp-intake".into(),
        }
    }
}

/// Where the keyring records of subjects come from: the host's store.
pub trait KeyringLookup {
    /// The record of (subject, category), if one exists.
    fn keyring_record(&self, subject: &str, category: &str) -> Option<KeyringRecord>;
}

/// An in-memory set of keyring records by (subject, category), for hosts
/// that load them (the CLI, tests) and for [`Decision::apply`].
#[derive(Debug, Clone, Default)]
pub struct KeyringSet {
    records: BTreeMap<(String, String), KeyringRecord>,
}

impl KeyringSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace the record of its (subject, category).
    pub fn insert(&mut self, record: KeyringRecord) {
        self.records.insert(
            (record.subject().to_owned(), record.category().to_owned()),
            record,
        );
    }

    /// The record of (subject, category).
    pub fn get(&self, subject: &str, category: &str) -> Option<&KeyringRecord> {
        self.records.get(&(subject.to_owned(), category.to_owned()))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl KeyringLookup for KeyringSet {
    fn keyring_record(&self, subject: &str, category: &str) -> Option<KeyringRecord> {
        self.get(subject, category).cloned()
    }
}

impl<F: Fn(&str, &str) -> Option<KeyringRecord>> KeyringLookup for F {
    fn keyring_record(&self, subject: &str, category: &str) -> Option<KeyringRecord> {
        self(subject, category)
    }
}

/// What a decision does, in short (its [`DecisionKind::code`] is stable).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecisionKind {
    /// No consent for treatment communication: nothing kept; the notice
    /// and a consent request are sent (or, after a refusal, a short reply).
    AskConsent,
    /// A consent reply was recorded.
    ConsentRecorded {
        /// Given, refused or withdrawn.
        status: ConsentStatus,
        /// The purposes.
        purposes: Vec<String>,
    },
    /// The content was sealed into [`Decision::record`].
    Stored {
        /// The record id.
        record_id: String,
    },
    /// Media is to be fetched and sealed with [`Decision::media`].
    FetchMedia {
        /// The record id the sealed media gets.
        record_id: String,
    },
    /// A photo or video without photo consent: not kept; the patient is told
    /// why and asked.
    PhotoNotKept,
    /// An opt-out (STOP) or a marketing stop was recorded.
    OptedOut {
        /// The purposes stopped.
        purposes: Vec<String>,
    },
    /// The patient deleted a message: its stored copy is to be deleted.
    DeletionRequested {
        /// The record id of the deleted message.
        record_id: String,
    },
    /// Only audit entries (statuses, template events, identity changes,
    /// marketing resume).
    Audited,
    /// Nothing kept, nothing sent (a reason code), e.g.
    /// `unsupported-message-type`, `key-shredded`, `no-media-hash`.
    NotStored {
        /// The reason code.
        reason: &'static str,
    },
    /// The event was refused: `timestamp-in-future`, `timestamp-too-old`.
    Refused {
        /// The reason code.
        reason: &'static str,
    },
    /// The event needs nothing (value-level errors, unsupported changes).
    Ignored {
        /// The reason code.
        reason: &'static str,
    },
}

impl DecisionKind {
    /// A stable code: `ask-consent`, `consent-recorded`, `stored`,
    /// `fetch-media`, `photo-not-kept`, `opted-out`, `deletion-requested`,
    /// `audited`, `not-stored`, `refused`, `ignored`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AskConsent => "ask-consent",
            Self::ConsentRecorded { .. } => "consent-recorded",
            Self::Stored { .. } => "stored",
            Self::FetchMedia { .. } => "fetch-media",
            Self::PhotoNotKept => "photo-not-kept",
            Self::OptedOut { .. } => "opted-out",
            Self::DeletionRequested { .. } => "deletion-requested",
            Self::Audited => "audited",
            Self::NotStored { .. } => "not-stored",
            Self::Refused { .. } => "refused",
            Self::Ignored { .. } => "ignored",
        }
    }
}

/// A sealed record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// The record id (a restricted identifier derived from the message id
    /// under the pseudonym key).
    pub record_id: String,
    /// The envelope.
    pub envelope: Vec<u8>,
    /// Its labels (also in the envelope header).
    pub labels: Labels,
    /// For an edit: the record id of the first version.
    pub replaces: Option<String>,
}

/// The plan for a media attachment: fetch `media_id` (at most `max_size`
/// bytes) and seal it with [`super::MediaSealer`], checking `sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlan {
    /// The announced media.
    pub media: Media,
    /// The SHA-256 the bytes must have (from the webhook).
    pub sha256: [u8; 32],
    /// The most bytes to fetch.
    pub max_size: u64,
    /// The record id the envelope gets.
    pub record_id: String,
    /// For an edit: the first version's record id.
    pub replaces: Option<String>,
    /// The only recipient: the subject-category public key.
    pub recipient: PublicKey,
    /// The envelope's labels.
    pub labels: Labels,
    /// The audit event to append once the envelope is stored.
    pub audit_stored: AuditEvent,
}

impl MediaPlan {
    /// What the fetched bytes must be: the kind, the webhook's SHA-256 and
    /// the size limit.
    pub fn expectation(&self) -> super::MediaExpectation {
        super::MediaExpectation::new(self.media.kind, self.sha256).with_max_size(self.max_size)
    }

    /// Start sealing the fetched bytes: the envelope header (write it
    /// first) and a [`super::MediaSealer`] that verifies size and SHA-256
    /// as it seals and fails closed (docs/WHATSAPP.md section 5).
    pub fn begin_seal(
        &self,
        rng: &mut impl CryptoRng,
    ) -> Result<(Vec<u8>, super::MediaSealer), super::MediaError> {
        super::MediaSealer::new(&[self.recipient], &self.labels, self.expectation(), rng)
    }

    /// The audit event to append instead when fetching or sealing failed
    /// (`reason` a label such as `media-hash-mismatch`).
    pub fn audit_failed(&self, reason: &str) -> Result<AuditEvent, AuditError> {
        self.audit_stored
            .clone()
            .outcome(Outcome::Failed(reason.to_owned()))
    }
}

/// How a reply is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// The phone-based id (`to`).
    Phone(Sensitive),
    /// The business-scoped user id (`recipient`), when no phone number is
    /// known.
    UserId(Sensitive),
}

/// What a reply is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyKind {
    /// The privacy notice text.
    Notice,
    /// The consent question with its buttons.
    ConsentRequest,
    /// Consent was recorded.
    ConsentConfirmation,
    /// A message was not kept after a refusal.
    NotStored,
    /// A photo was not kept; with the photo-consent button.
    PhotoConsentRequest,
    /// A STOP was recorded.
    OptOutConfirmation,
}

/// A message the host sends back (free-form: the patient just wrote, so
/// the customer service window is open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// To whom.
    pub to: Address,
    /// What for.
    pub kind: ReplyKind,
    /// The text (at most 4096 characters; 1024 with buttons).
    pub text: String,
    /// Reply buttons (payload, title), at most 3.
    pub buttons: Vec<(String, String)>,
    /// The message replied to.
    pub context: Option<String>,
}

impl Reply {
    /// The Cloud API request body (`POST /<PHONE_NUMBER_ID>/messages`): a
    /// text message, or an interactive button message. Holds the
    /// recipient's id: send it, never log it.
    pub fn to_graph_json(&self) -> Zeroizing<String> {
        let mut v = serde_json::Map::new();
        v.insert("messaging_product".into(), json!("whatsapp"));
        v.insert("recipient_type".into(), json!("individual"));
        match &self.to {
            Address::Phone(p) => v.insert("to".into(), json!(p.expose())),
            Address::UserId(u) => v.insert("recipient".into(), json!(u.expose())),
        };
        if let Some(c) = &self.context {
            v.insert("context".into(), json!({ "message_id": c }));
        }
        if self.buttons.is_empty() {
            v.insert("type".into(), json!("text"));
            v.insert("text".into(), json!({ "body": self.text }));
        } else {
            let buttons: Vec<_> = self
                .buttons
                .iter()
                .map(|(id, title)| json!({"type": "reply", "reply": {"id": id, "title": title}}))
                .collect();
            v.insert("type".into(), json!("interactive"));
            v.insert(
                "interactive".into(),
                json!({
                    "type": "button",
                    "body": {"text": self.text},
                    "action": {"buttons": buttons}
                }),
            );
        }
        let v = serde_json::Value::Object(v);
        Zeroizing::new(v.to_string())
    }
}

/// A template's category as the outbound gate must assume it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCategoryChange {
    /// Template name.
    pub name: String,
    /// Template language.
    pub language: String,
    /// The category to assume from now on (an announced change counts from
    /// its announcement), uppercase, e.g. `MARKETING`.
    pub category: String,
}

/// Everything the host does for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What it is, in short.
    pub kind: DecisionKind,
    /// The dedupe key: an event whose key was already processed is skipped
    /// whole (docs/WHATSAPP.md, section 6). `None` for events without ids.
    pub dedupe_key: Option<DedupeKey>,
    /// The subject, when the event names one.
    pub subject: Option<Pseudonym>,
    /// Identity links to persist.
    pub identity_links: Vec<IdentityLink>,
    /// A new keyring record to persist (first contact in a category),
    /// before or with the record sealed to it.
    pub keyring_record: Option<KeyringRecord>,
    /// A sealed record to store.
    pub record: Option<SealedRecord>,
    /// Media to fetch and seal.
    pub media: Option<MediaPlan>,
    /// Consent events to append, in order (validated against the ledger).
    pub consent_events: Vec<ConsentEvent>,
    /// Audit events to append, in order.
    pub audit_events: Vec<AuditEvent>,
    /// Replies to send.
    pub replies: Vec<Reply>,
    /// A record to mark for deletion (the patient deleted the message).
    pub delete_record: Option<String>,
    /// The patient's message time, opening the 24-hour customer service
    /// window (the outbound gate's input).
    pub last_inbound: Option<i64>,
    /// A template category change for the outbound gate.
    pub template_category: Option<TemplateCategoryChange>,
}

impl Decision {
    fn new(kind: DecisionKind) -> Self {
        Self {
            kind,
            dedupe_key: None,
            subject: None,
            identity_links: Vec::new(),
            keyring_record: None,
            record: None,
            media: None,
            consent_events: Vec::new(),
            audit_events: Vec::new(),
            replies: Vec::new(),
            delete_record: None,
            last_inbound: None,
            template_category: None,
        }
    }

    /// Apply the decision to the host's in-memory state after it was
    /// persisted: append its consent events to the ledger, link its
    /// identities, add its new keyring record. (Audit events go to the
    /// host's [`crate::audit::AuditLog`].) All or nothing: every consent
    /// event is checked against the ledger first, and on an error nothing
    /// is changed ([`Ledger::append_all`]).
    pub fn apply(
        &self,
        ledger: &mut Ledger,
        identities: &mut IdentityMap,
        keyrings: &mut KeyringSet,
        now: i64,
    ) -> Result<(), ConsentError> {
        ledger.append_all(&self.consent_events, now)?;
        for l in &self.identity_links {
            identities.insert(l.clone());
        }
        if let Some(r) = &self.keyring_record {
            keyrings.insert(r.clone());
        }
        Ok(())
    }
}

/// The consent choices a reply can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Yes,
    YesPhotos,
    Photos,
    No,
}

impl Choice {
    fn code(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::YesPhotos => "yes-photos",
            Self::Photos => "photos",
            Self::No => "no",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Self::Yes, Self::YesPhotos, Self::Photos, Self::No]
            .into_iter()
            .find(|c| c.code() == code)
    }
}

/// The intake: configuration, policies and keys, ready to decide.
#[derive(Debug)]
pub struct Intake {
    key: AuditKey,
    config: IntakeConfig,
    actor: Pseudonym,
    /// Wrap recipients per category of the routes.
    recipients: BTreeMap<String, Vec<PublicKey>>,
}

impl Intake {
    /// An intake over the access policy (categories and roles), with the
    /// practice's pseudonym key. Checks that the routes' categories exist,
    /// that the staff roles exist, and that button payloads fit.
    pub fn new(
        pseudonym_key: AuditKey,
        access_policy: &Policy,
        config: IntakeConfig,
    ) -> Result<Self, IntakeError> {
        let mut recipients = BTreeMap::new();
        for r in [
            &config.routes.text,
            &config.routes.photo,
            &config.routes.file,
        ] {
            let keys = access::wrap_recipients(
                access_policy,
                &r.category,
                &config.practice,
                &config.staff,
            )?;
            recipients.insert(r.category.clone(), keys);
        }
        if !(0..=MAX_EVENT_AGE).contains(&config.max_age) {
            return Err(IntakeError::Config(format!(
                "max_age must be 0 to {MAX_EVENT_AGE} seconds (the dedupe window)"
            )));
        }
        if !(0..=86_400).contains(&config.max_clock_skew) {
            return Err(IntakeError::Config(
                "max_clock_skew must be 0 to 86400 seconds".into(),
            ));
        }
        let t = &config.texts;
        for title in [
            &t.button_yes,
            &t.button_yes_photos,
            &t.button_no,
            &t.button_photos,
        ] {
            if title.is_empty() || title.chars().count() > MAX_BUTTON_TITLE {
                return Err(IntakeError::Config(format!(
                    "button titles must be 1 to {MAX_BUTTON_TITLE} characters"
                )));
            }
        }
        let intake = Self {
            actor: pseudonym_key.pseudonym(PseudonymKind::Staff, &config.service),
            key: pseudonym_key,
            config,
            recipients,
        };
        if intake.payload(Choice::YesPhotos).len() > MAX_BUTTON_PAYLOAD {
            return Err(IntakeError::Config(format!(
                "the notice id is too long for a button payload of {MAX_BUTTON_PAYLOAD} bytes"
            )));
        }
        Ok(intake)
    }

    /// The configuration.
    pub fn config(&self) -> &IntakeConfig {
        &self.config
    }

    /// The actor pseudonym of the intake's audit entries.
    pub fn actor(&self) -> &Pseudonym {
        &self.actor
    }

    /// The record id of a message: `wa-` and 32 letters `a` to `p` (the
    /// first 16 bytes of HMAC-SHA256 of the message id under the pseudonym
    /// key, one letter per 4 bits), so record ids reveal no message id and
    /// a redelivered message gets the same id.
    pub fn record_id(&self, message_id: &str) -> String {
        letters_id(
            "wa-",
            &self.key.keyed_hash(RECORD_DOMAIN, &[message_id.as_bytes()]),
        )
    }

    fn consent_event_id(&self, source: &str) -> String {
        letters_id(
            "wa-c-",
            &self.key.keyed_hash(CONSENT_DOMAIN, &[source.as_bytes()]),
        )
    }

    /// The button payload of a consent choice under the configured notice.
    fn payload(&self, c: Choice) -> String {
        let n = &self.config.notice;
        format!(
            "{CONSENT_PAYLOAD_PREFIX}{}:{}:{}:{}",
            c.code(),
            n.id,
            n.version,
            n.language
        )
    }

    fn audit(&self, now: i64, action: Action) -> Result<AuditEvent, IntakeError> {
        Ok(AuditEvent::new(
            now.saturating_mul(1000),
            self.actor.clone(),
            INTAKE_ROLE,
            action,
            INTAKE_SOURCE,
        )?)
    }

    fn time_refusal(&self, t: i64, now: i64) -> Option<&'static str> {
        if t > now.saturating_add(self.config.max_clock_skew) {
            Some("timestamp-in-future")
        } else if t < now.saturating_sub(self.config.max_age) {
            Some("timestamp-too-old")
        } else {
            None
        }
    }

    /// Decide one event (docs/WHATSAPP.md, section 4). Errors are failures
    /// of the host's inputs (an unregistered notice, a keyring record of
    /// another subject) or of sealing; refusals of the event itself are
    /// decisions ([`DecisionKind::Refused`], [`DecisionKind::NotStored`]).
    pub fn decide(
        &self,
        event: &Event,
        ledger: &Ledger,
        identities: &IdentityMap,
        keyrings: &impl KeyringLookup,
        now: i64,
        rng: &mut impl CryptoRng,
    ) -> Result<Decision, IntakeError> {
        let ctx = Ctx {
            ledger,
            identities,
            now,
        };
        match &event.kind {
            EventKind::Message(m) => self.message(m, &ctx, keyrings, rng),
            EventKind::Status(s) => self.status(s, &ctx),
            EventKind::UserPreference(p) => self.preference(p, &ctx),
            EventKind::TemplateStatus(t) => self.template_status(t, now),
            EventKind::TemplateCategory(t) => self.template_category(t, now),
            EventKind::Errors(errors) => {
                let outcome = errors.first().map_or_else(
                    || "whatsapp-platform-errors".to_owned(),
                    |e| format!("whatsapp-error-{}", e.code),
                );
                self.unhandled(
                    "platform-errors",
                    "whatsapp-platform-errors",
                    Outcome::Failed(outcome),
                    now,
                )
            }
            EventKind::Unsupported { field, .. } => self.unhandled(
                "unsupported-event",
                &format!("whatsapp-unsupported-{}", label_part(field)),
                Outcome::Denied("unsupported-event".into()),
                now,
            ),
        }
    }

    /// An update the intake does not act on (value-level `errors`, a
    /// change the parser made `Unsupported`): `ignored`, with one audit
    /// entry "received, not acted on". It names no subject and holds no
    /// personal data: the field name and error code are labels, the
    /// reason a fixed text. No dedupe key (docs/WHATSAPP.md, section 4):
    /// a redelivery adds a second such entry.
    fn unhandled(
        &self,
        reason: &'static str,
        correlation: &str,
        outcome: Outcome,
        now: i64,
    ) -> Result<Decision, IntakeError> {
        let mut d = Decision::new(DecisionKind::Ignored { reason });
        d.audit_events.push(
            self.audit(now, Action::Create)?
                .correlation(correlation)?
                .outcome(outcome)?,
        );
        Ok(d)
    }

    fn message(
        &self,
        m: &InboundMessage,
        ctx: &Ctx<'_>,
        keyrings: &impl KeyringLookup,
        rng: &mut impl CryptoRng,
    ) -> Result<Decision, IntakeError> {
        let mut d = Decision::new(DecisionKind::Ignored {
            reason: "names-no-contact",
        });
        d.dedupe_key = Some(DedupeKey::message(&m.id));
        let Some(res) = ctx.identities.resolve(&self.key, &m.from) else {
            return Ok(d);
        };
        let subject = res.subject.clone();
        d.subject = Some(subject.clone());
        d.identity_links = res.new_links;
        let base = |action| -> Result<AuditEvent, IntakeError> {
            Ok(self.audit(ctx.now, action)?.subject(subject.clone()))
        };
        if let Some(reason) = self.time_refusal(m.timestamp, ctx.now) {
            d.kind = DecisionKind::Refused { reason };
            d.audit_events.push(
                base(Action::Create)?
                    .record(&self.record_id(&m.id))?
                    .outcome(Outcome::Denied(reason.into()))?,
            );
            return Ok(d);
        }
        d.last_inbound = Some(m.timestamp);
        match &m.body {
            MessageBody::System(change) => return self.system(d, change, &subject, ctx),
            MessageBody::Revoke {
                original_message_id,
            } => {
                let record_id = self.record_id(original_message_id);
                d.audit_events.push(
                    base(Action::ErasureRequest)?
                        .record(&record_id)?
                        .correlation("whatsapp-revoke")?,
                );
                d.delete_record = Some(record_id.clone());
                d.kind = DecisionKind::DeletionRequested { record_id };
                return Ok(d);
            }
            _ => {}
        }
        let treatment = &self.config.routes.text.purpose;
        let consented = ctx.ledger.decide(subject.as_str(), treatment, ctx.now);
        if let Some((choice, notice)) = self.consent_reply(&m.body, ctx.ledger, consented.allowed) {
            return self.record_consent(d, m, &subject, choice, notice, ctx);
        }
        if let MessageBody::Text(t) = &m.body
            && ctx.ledger.policy().is_opt_out(t.expose())
        {
            return self.opt_out(d, m, &subject, t, ctx);
        }
        let (body, replaces) = match &m.body {
            MessageBody::Edit {
                original_message_id,
                message,
            } => (message.as_ref(), Some(self.record_id(original_message_id))),
            b => (b, None),
        };
        let Some(route) = self.route(body) else {
            d.kind = DecisionKind::NotStored {
                reason: "unsupported-message-type",
            };
            d.audit_events.push(
                base(Action::Create)?
                    .record(&self.record_id(&m.id))?
                    .outcome(Outcome::Denied("unsupported-message-type".into()))?,
            );
            return Ok(d);
        };
        let record_id = self.record_id(&m.id);
        if !consented.allowed {
            d.kind = DecisionKind::AskConsent;
            let refused = consented
                .refusal
                .is_some_and(|r| matches!(r.code(), "refused" | "withdrawn"));
            d.audit_events.push(
                base(Action::Create)?
                    .record(&record_id)?
                    .purpose(treatment)?
                    .outcome(Outcome::Denied("not-stored-no-consent".into()))?,
            );
            self.ask_consent(&mut d, ctx.ledger, &m.from, &m.id, refused)?;
            return Ok(d);
        }
        let mut basis = consented.basis;
        if route.purpose != *treatment {
            let photo = ctx.ledger.decide(subject.as_str(), &route.purpose, ctx.now);
            if !photo.allowed {
                d.kind = DecisionKind::PhotoNotKept;
                d.audit_events.push(
                    base(Action::Create)?
                        .record(&record_id)?
                        .category(&route.category)?
                        .purpose(&route.purpose)?
                        .outcome(Outcome::Denied("not-stored-no-photo-consent".into()))?,
                );
                if let Some(to) = address(&m.from) {
                    d.replies.push(Reply {
                        to,
                        kind: ReplyKind::PhotoConsentRequest,
                        text: self.config.texts.photo_not_kept.clone(),
                        buttons: vec![
                            (
                                self.payload(Choice::Photos),
                                self.config.texts.button_photos.clone(),
                            ),
                            (
                                self.payload(Choice::No),
                                self.config.texts.button_no.clone(),
                            ),
                        ],
                        context: Some(m.id.clone()),
                    });
                }
                return Ok(d);
            }
            basis = photo.basis;
        }
        // The subject-category key: the existing one, or a new record.
        let public =
            match self.subject_key(subject.as_str(), &route.category, keyrings, ctx.now, rng)? {
                SubjectKey::Existing(k) => k,
                SubjectKey::New(r) => {
                    let k = r.public_key();
                    d.keyring_record = Some(*r);
                    k
                }
                SubjectKey::Shredded => {
                    d.kind = DecisionKind::NotStored {
                        reason: "key-shredded",
                    };
                    d.audit_events.push(
                        base(Action::Create)?
                            .record(&record_id)?
                            .category(&route.category)?
                            .outcome(Outcome::Denied("key-shredded".into()))?,
                    );
                    return Ok(d);
                }
            };
        let action = if replaces.is_some() {
            Action::Update
        } else {
            Action::Create
        };
        let mut audit = base(action)?
            .record(&record_id)?
            .category(&route.category)?
            .purpose(&route.purpose)?;
        if let Some(b) = basis {
            audit = audit.legal_basis(&basis_code(b))?;
        }
        if let Some(r) = &replaces {
            audit = audit.correlation(r)?;
        }
        if let MessageBody::Media(media) = body {
            let Some(sha256) = media.sha256 else {
                d.kind = DecisionKind::NotStored {
                    reason: "no-media-hash",
                };
                d.audit_events
                    .push(audit.outcome(Outcome::Denied("no-media-hash".into()))?);
                return Ok(d);
            };
            let content_type = media
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            let labels = Labels::new(
                subject.as_str(),
                &route.category,
                &route.purpose,
                &content_type,
                m.timestamp,
            )?;
            d.kind = DecisionKind::FetchMedia {
                record_id: record_id.clone(),
            };
            d.media = Some(MediaPlan {
                media: media.clone(),
                sha256,
                max_size: media.kind.max_size(),
                record_id,
                replaces,
                recipient: public,
                labels,
                audit_stored: audit,
            });
            return Ok(d);
        }
        let (content_type, plaintext) = content(body);
        let labels = Labels::new(
            subject.as_str(),
            &route.category,
            &route.purpose,
            content_type,
            m.timestamp,
        )?;
        let envelope = envelope::seal(&[public], &labels, &plaintext, rng)?;
        d.record = Some(SealedRecord {
            record_id: record_id.clone(),
            envelope,
            labels,
            replaces,
        });
        d.audit_events.push(audit);
        d.kind = DecisionKind::Stored { record_id };
        Ok(d)
    }

    /// The subject-category public key to seal to: the record's, or a new
    /// record's (wrapped to the category's recipients).
    fn subject_key(
        &self,
        subject: &str,
        category: &str,
        keyrings: &impl KeyringLookup,
        now: i64,
        rng: &mut impl CryptoRng,
    ) -> Result<SubjectKey, IntakeError> {
        match keyrings.keyring_record(subject, category) {
            Some(r) if r.subject() != subject || r.category() != category => {
                Err(IntakeError::Config(
                    "the keyring lookup returned a record of another subject or category".into(),
                ))
            }
            Some(r) if r.state() != KeyringState::Active => Ok(SubjectKey::Shredded),
            Some(r) => Ok(SubjectKey::Existing(r.public_key())),
            None => {
                let recipients = match self.recipients.get(category) {
                    Some(r) => r.clone(),
                    None => {
                        return Err(IntakeError::Config(
                            "the category is not one of the intake's routes".into(),
                        ));
                    }
                };
                let r = KeyringRecord::create(subject, category, &recipients, now, rng)?;
                Ok(SubjectKey::New(Box::new(r)))
            }
        }
    }

    /// Seal an outbound message like an inbound one (docs/WHATSAPP.md,
    /// section 7): to the subject-category key of `route` (creating the
    /// record on first use), labelled, with its audit event. `message_id`
    /// is the id the Cloud API returned for the sent message, so its
    /// statuses name the same record. Check [`super::may_send`] first.
    #[allow(clippy::too_many_arguments)]
    pub fn seal_outbound(
        &self,
        subject: &Pseudonym,
        route: &Route,
        content_type: &str,
        plaintext: &[u8],
        message_id: &str,
        keyrings: &impl KeyringLookup,
        now: i64,
        rng: &mut impl CryptoRng,
    ) -> Result<Decision, IntakeError> {
        let record_id = self.record_id(message_id);
        let mut d = Decision::new(DecisionKind::Stored {
            record_id: record_id.clone(),
        });
        d.dedupe_key = Some(DedupeKey::message(message_id));
        d.subject = Some(subject.clone());
        let audit = self
            .audit(now, Action::Create)?
            .subject(subject.clone())
            .record(&record_id)?
            .category(&route.category)?
            .purpose(&route.purpose)?
            .correlation("whatsapp-outbound")?;
        let public =
            match self.subject_key(subject.as_str(), &route.category, keyrings, now, rng)? {
                SubjectKey::Existing(k) => k,
                SubjectKey::New(r) => {
                    let k = r.public_key();
                    d.keyring_record = Some(*r);
                    k
                }
                SubjectKey::Shredded => {
                    d.kind = DecisionKind::NotStored {
                        reason: "key-shredded",
                    };
                    d.audit_events
                        .push(audit.outcome(Outcome::Denied("key-shredded".into()))?);
                    return Ok(d);
                }
            };
        let labels = Labels::new(
            subject.as_str(),
            &route.category,
            &route.purpose,
            content_type,
            now,
        )?;
        d.record = Some(SealedRecord {
            record_id,
            envelope: envelope::seal(&[public], &labels, plaintext, rng)?,
            labels,
            replaces: None,
        });
        d.audit_events.push(audit);
        Ok(d)
    }

    fn route(&self, body: &MessageBody) -> Option<&Route> {
        let r = &self.config.routes;
        match body {
            MessageBody::Text(_)
            | MessageBody::Location(_)
            | MessageBody::Contacts(_)
            | MessageBody::ButtonReply { .. }
            | MessageBody::ListReply { .. }
            | MessageBody::QuickReply { .. }
            | MessageBody::Reaction { .. } => Some(&r.text),
            MessageBody::Media(m) => Some(match m.kind {
                MediaKind::Image | MediaKind::Video => &r.photo,
                _ => &r.file,
            }),
            _ => None,
        }
    }

    /// A consent reply: one of our button payloads (always), or a yes/no
    /// keyword while no treatment consent is in effect.
    fn consent_reply(
        &self,
        body: &MessageBody,
        ledger: &Ledger,
        consented: bool,
    ) -> Option<(Choice, NoticeRef)> {
        let payload = match body {
            MessageBody::ButtonReply { id, .. } | MessageBody::ListReply { id, .. } => Some(id),
            MessageBody::QuickReply { payload, .. } => Some(payload),
            _ => None,
        };
        if let Some(rest) = payload.and_then(|p| p.strip_prefix(CONSENT_PAYLOAD_PREFIX)) {
            let (choice, notice) = rest.split_once(':')?;
            let choice = Choice::from_code(choice)?;
            let mut parts = notice.rsplitn(3, ':');
            let language = parts.next()?;
            let version: u32 = parts.next()?.parse().ok()?;
            let id = parts.next()?;
            return Some((choice, ledger.notice_ref(id, version, language)?));
        }
        if consented {
            return None;
        }
        let MessageBody::Text(t) = body else {
            return None;
        };
        let reply = normalize_reply(t.expose());
        let is = |words: &[String]| words.iter().any(|w| normalize_reply(w) == reply);
        let choice = if is(&self.config.yes_keywords) {
            Choice::Yes
        } else if is(&self.config.no_keywords) {
            Choice::No
        } else {
            return None;
        };
        Some((choice, self.config.notice.clone()))
    }

    fn record_consent(
        &self,
        mut d: Decision,
        m: &InboundMessage,
        subject: &Pseudonym,
        choice: Choice,
        notice: NoticeRef,
        ctx: &Ctx<'_>,
    ) -> Result<Decision, IntakeError> {
        let routes = &self.config.routes;
        let (purposes, status): (Vec<&str>, ConsentStatus) = match choice {
            Choice::Yes => (vec![routes.text.purpose.as_str()], ConsentStatus::Given),
            Choice::YesPhotos => (
                vec![routes.text.purpose.as_str(), routes.photo.purpose.as_str()],
                ConsentStatus::Given,
            ),
            Choice::Photos => (vec![routes.photo.purpose.as_str()], ConsentStatus::Given),
            Choice::No => {
                let mut ps = vec![routes.text.purpose.as_str()];
                if routes.photo.purpose != routes.text.purpose {
                    ps.push(routes.photo.purpose.as_str());
                }
                let any_granted = ps.iter().any(|p| {
                    ctx.ledger
                        .decide(subject.as_str(), p, ctx.now)
                        .event
                        .is_some()
                });
                let status = if any_granted
                    && ps
                        .iter()
                        .any(|p| ctx.ledger.decide(subject.as_str(), p, ctx.now).allowed)
                {
                    ConsentStatus::Withdrawn
                } else {
                    ConsentStatus::Refused
                };
                // A withdrawal names only the purposes that had consent.
                if status == ConsentStatus::Withdrawn {
                    ps.retain(|p| ctx.ledger.decide(subject.as_str(), p, ctx.now).allowed);
                }
                (ps, status)
            }
        };
        let event_id = self.consent_event_id(&m.id);
        if ctx.ledger.event_by_id(&event_id).is_some() {
            d.kind = DecisionKind::Ignored {
                reason: "already-recorded",
            };
            return Ok(d);
        }
        let mut event = ConsentEvent::new(
            &event_id,
            subject.as_str(),
            &purposes,
            status,
            ConsentMethod::ChatReply,
            Some(notice),
            CHANNEL,
            self.actor.as_str(),
            m.timestamp,
        )?;
        event.evidence = Some(m.id.clone());
        if let Err(e) = ctx.ledger.check_append(&event, ctx.now) {
            // A reply delivered late, after newer events of the subject:
            // recorded at the time it is processed (the evidence keeps the
            // message id).
            if matches!(e, ConsentError::OutOfOrder { .. }) {
                event.time = ctx.now;
                ctx.ledger.check_append(&event, ctx.now)?;
            } else {
                return Err(e.into());
            }
        }
        let action = if status.grants() {
            Action::ConsentGiven
        } else {
            Action::ConsentWithdrawn
        };
        for p in &purposes {
            d.audit_events.push(
                self.audit(ctx.now, action)?
                    .subject(subject.clone())
                    .purpose(p)?
                    .record(&event.id)?,
            );
        }
        if let Some(to) = address(&m.from) {
            d.replies.push(Reply {
                to,
                kind: ReplyKind::ConsentConfirmation,
                text: if status.grants() {
                    self.config.texts.consent_given.clone()
                } else {
                    self.config.texts.consent_refused.clone()
                },
                buttons: Vec::new(),
                context: Some(m.id.clone()),
            });
        }
        d.kind = DecisionKind::ConsentRecorded {
            status,
            purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
        };
        d.consent_events.push(event);
        Ok(d)
    }

    fn opt_out(
        &self,
        mut d: Decision,
        m: &InboundMessage,
        subject: &Pseudonym,
        text: &Sensitive,
        ctx: &Ctx<'_>,
    ) -> Result<Decision, IntakeError> {
        let event_id = self.consent_event_id(&m.id);
        if ctx.ledger.event_by_id(&event_id).is_some() {
            d.kind = DecisionKind::Ignored {
                reason: "already-recorded",
            };
            return Ok(d);
        }
        let mut req = OptOutRequest {
            event_id,
            subject: subject.as_str().to_owned(),
            reply: text.expose().to_owned(),
            message_id: m.id.clone(),
            channel: CHANNEL.to_owned(),
            recorded_by: self.actor.as_str().to_owned(),
            time: m.timestamp,
        };
        let events = match ctx.ledger.plan_opt_out(&req, ctx.now) {
            Err(ConsentError::OutOfOrder { .. }) => {
                req.time = ctx.now;
                ctx.ledger.plan_opt_out(&req, ctx.now)?
            }
            other => other?,
        };
        zeroize::Zeroize::zeroize(&mut req.reply);
        let mut purposes = Vec::new();
        for e in &events {
            for p in &e.purposes {
                d.audit_events.push(
                    self.audit(ctx.now, Action::ConsentWithdrawn)?
                        .subject(subject.clone())
                        .purpose(p)?
                        .record(&e.id)?,
                );
                purposes.push(p.clone());
            }
        }
        if let Some(to) = address(&m.from) {
            d.replies.push(Reply {
                to,
                kind: ReplyKind::OptOutConfirmation,
                text: self.config.texts.opted_out.clone(),
                buttons: Vec::new(),
                context: Some(m.id.clone()),
            });
        }
        d.consent_events = events;
        d.kind = DecisionKind::OptedOut { purposes };
        Ok(d)
    }

    fn ask_consent(
        &self,
        d: &mut Decision,
        ledger: &Ledger,
        from: &Contact,
        message_id: &str,
        refused_before: bool,
    ) -> Result<(), IntakeError> {
        let Some(to) = address(from) else {
            return Ok(());
        };
        let t = &self.config.texts;
        let buttons = vec![
            (self.payload(Choice::Yes), t.button_yes.clone()),
            (self.payload(Choice::YesPhotos), t.button_yes_photos.clone()),
            (self.payload(Choice::No), t.button_no.clone()),
        ];
        if refused_before {
            d.replies.push(Reply {
                to: to.clone(),
                kind: ReplyKind::NotStored,
                text: t.consent_refused.clone(),
                buttons: Vec::new(),
                context: Some(message_id.to_owned()),
            });
        } else {
            let notice = ledger
                .find_notice(&self.config.notice)
                .ok_or(IntakeError::NoticeNotRegistered)?;
            d.replies.push(Reply {
                to: to.clone(),
                kind: ReplyKind::Notice,
                text: notice.text.clone(),
                buttons: Vec::new(),
                context: Some(message_id.to_owned()),
            });
        }
        d.replies.push(Reply {
            to,
            kind: ReplyKind::ConsentRequest,
            text: t.consent_question.clone(),
            buttons,
            context: None,
        });
        Ok(())
    }

    fn system(
        &self,
        mut d: Decision,
        change: &SystemChange,
        subject: &Pseudonym,
        ctx: &Ctx<'_>,
    ) -> Result<Decision, IntakeError> {
        let link = match change {
            SystemChange::ChangedNumber { new_wa_id } => Some((AliasKind::WaId, new_wa_id)),
            SystemChange::ChangedUserId { new_user_id } => Some((AliasKind::UserId, new_user_id)),
            _ => None,
        };
        let mut audit = self
            .audit(ctx.now, Action::Update)?
            .subject(subject.clone())
            .category("contact-data")?
            .correlation("whatsapp-identity-change")?;
        if let Some((kind, value)) = link.filter(|(_, v)| !v.is_empty()) {
            // Checked against the map and the links the resolution found,
            // which are not in the map yet.
            let pending = &d.identity_links;
            match ctx
                .identities
                .link_new(&self.key, subject, kind, value.expose(), pending)
            {
                Ok(Some(l)) => d.identity_links.push(l),
                Ok(None) => {}
                Err(_) => audit = audit.outcome(Outcome::Failed("identity-alias-taken".into()))?,
            }
        }
        d.audit_events.push(audit);
        d.kind = DecisionKind::Audited;
        Ok(d)
    }

    fn status(&self, s: &StatusUpdate, ctx: &Ctx<'_>) -> Result<Decision, IntakeError> {
        let mut d = Decision::new(DecisionKind::Audited);
        d.dedupe_key = Some(DedupeKey::status(&s.message_id, s.status.code()));
        d.subject = ctx
            .identities
            .resolve(&self.key, &s.recipient)
            .map(|r| r.subject);
        let mut audit = self
            .audit(ctx.now, Action::Update)?
            .record(&self.record_id(&s.message_id))?
            .correlation(&format!("whatsapp-status-{}", label_part(s.status.code())))?;
        if let Some(subject) = &d.subject {
            audit = audit.subject(subject.clone());
        }
        if let Some(reason) = self.time_refusal(s.timestamp, ctx.now) {
            d.kind = DecisionKind::Refused { reason };
            d.audit_events
                .push(audit.outcome(Outcome::Denied(reason.into()))?);
            return Ok(d);
        }
        if let Some(e) = s.errors.first() {
            audit = audit.outcome(Outcome::Failed(format!("whatsapp-error-{}", e.code)))?;
        } else if matches!(s.status, super::event::DeliveryStatus::Failed) {
            audit = audit.outcome(Outcome::Failed("whatsapp-delivery-failed".into()))?;
        }
        d.audit_events.push(audit);
        Ok(d)
    }

    fn preference(&self, p: &UserPreference, ctx: &Ctx<'_>) -> Result<Decision, IntakeError> {
        let mut d = Decision::new(DecisionKind::Ignored {
            reason: "names-no-contact",
        });
        let Some(res) = ctx.identities.resolve(&self.key, &p.contact) else {
            return Ok(d);
        };
        let subject = res.subject;
        d.identity_links = res.new_links;
        d.subject = Some(subject.clone());
        let value = match &p.value {
            PreferenceValue::Stop => "stop",
            PreferenceValue::Resume => "resume",
            PreferenceValue::Other(v) => v.as_str(),
        };
        d.dedupe_key = Some(DedupeKey::preference(
            subject.as_str(),
            &p.category,
            value,
            p.timestamp,
        ));
        let base = self
            .audit(ctx.now, Action::ConsentWithdrawn)?
            .subject(subject.clone())
            .purpose(MARKETING_PURPOSE)?;
        if let Some(reason) = self.time_refusal(p.timestamp, ctx.now) {
            d.kind = DecisionKind::Refused { reason };
            d.audit_events
                .push(base.outcome(Outcome::Denied(reason.into()))?);
            return Ok(d);
        }
        let has_marketing = ctx
            .ledger
            .policy()
            .purposes
            .iter()
            .any(|c| c.id == MARKETING_PURPOSE);
        match &p.value {
            PreferenceValue::Stop if has_marketing => {
                let current = ctx
                    .ledger
                    .decide(subject.as_str(), MARKETING_PURPOSE, ctx.now);
                let status = if current.allowed {
                    ConsentStatus::Withdrawn
                } else {
                    ConsentStatus::Refused
                };
                let source = format!("user_preferences\0{}\0{}", subject.as_str(), p.timestamp);
                let event_id = self.consent_event_id(&source);
                if ctx.ledger.event_by_id(&event_id).is_some() {
                    d.kind = DecisionKind::Ignored {
                        reason: "already-recorded",
                    };
                    return Ok(d);
                }
                let mut event = ConsentEvent::new(
                    &event_id,
                    subject.as_str(),
                    &[MARKETING_PURPOSE],
                    status,
                    ConsentMethod::Other,
                    None,
                    PREFERENCES_CHANNEL,
                    self.actor.as_str(),
                    p.timestamp,
                )?;
                event.evidence = Some(format!("user_preferences:stop:{}", p.timestamp));
                if let Err(ConsentError::OutOfOrder { .. }) =
                    ctx.ledger.check_append(&event, ctx.now)
                {
                    event.time = ctx.now;
                }
                ctx.ledger.check_append(&event, ctx.now)?;
                d.audit_events.push(base.record(&event.id)?);
                d.consent_events.push(event);
                d.kind = DecisionKind::OptedOut {
                    purposes: vec![MARKETING_PURPOSE.into()],
                };
            }
            _ => {
                // A resume is not a consent: marketing stays as the ledger
                // says. Audited as a preference change only.
                d.audit_events.push(
                    self.audit(ctx.now, Action::Update)?
                        .subject(subject)
                        .purpose(MARKETING_PURPOSE)?
                        .correlation(&format!("whatsapp-preference-{}", label_part(value)))?,
                );
                d.kind = DecisionKind::Audited;
            }
        }
        Ok(d)
    }

    fn template_status(&self, t: &TemplateStatus, now: i64) -> Result<Decision, IntakeError> {
        let mut d = Decision::new(DecisionKind::Audited);
        d.dedupe_key = Some(DedupeKey::template(&t.template_id, &t.event, None));
        let mut audit = self
            .audit(now, Action::PolicyChange)?
            .correlation(&format!("whatsapp-template-{}", label_part(&t.event)))?;
        if let Ok(a) = audit.clone().record(&template_record(&t.name, &t.language)) {
            audit = a;
        }
        d.audit_events.push(audit);
        Ok(d)
    }

    fn template_category(
        &self,
        t: &TemplateCategoryUpdate,
        now: i64,
    ) -> Result<Decision, IntakeError> {
        let mut d = Decision::new(DecisionKind::Audited);
        let category = t
            .correct_category
            .clone()
            .unwrap_or_else(|| t.new_category.clone())
            .to_ascii_uppercase();
        d.dedupe_key = Some(DedupeKey::template(
            &t.template_id,
            &format!("category:{category}"),
            t.update_timestamp,
        ));
        let mut audit = self
            .audit(now, Action::PolicyChange)?
            .correlation(&format!(
                "whatsapp-template-category-{}",
                label_part(&category.to_ascii_lowercase())
            ))?;
        if let Ok(a) = audit.clone().record(&template_record(&t.name, &t.language)) {
            audit = a;
        }
        d.audit_events.push(audit);
        d.template_category = Some(TemplateCategoryChange {
            name: t.name.clone(),
            language: t.language.clone(),
            category,
        });
        Ok(d)
    }
}

enum SubjectKey {
    Existing(PublicKey),
    New(Box<KeyringRecord>),
    Shredded,
}

struct Ctx<'a> {
    ledger: &'a Ledger,
    identities: &'a IdentityMap,
    now: i64,
}

/// How to reach a contact: the phone-based id, else the BSUID.
pub(crate) fn address(c: &Contact) -> Option<Address> {
    match (&c.wa_id, &c.user_id) {
        (Some(w), _) if !w.is_empty() => Some(Address::Phone(w.clone())),
        (_, Some(u)) if !u.is_empty() => Some(Address::UserId(u.clone())),
        _ => None,
    }
}

/// The legal basis as an audit label, e.g. `eu-gdpr:A6-1-a;eu-gdpr:A9-2-a`.
pub(crate) fn basis_code(b: LegalBasis) -> String {
    match b.art9 {
        Some(c) => format!("{};{}", b.art6.dpv(), c.dpv()),
        None => b.art6.dpv().to_owned(),
    }
}

/// `tpl-` and the template name and language, when they form a
/// restricted identifier.
fn template_record(name: &str, language: &str) -> String {
    format!("tpl-{name}-{language}")
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// A code cut to what a label part may hold: lowercase letters, digits and
/// `-`, at most 40 characters.
fn label_part(code: &str) -> String {
    let s: String = code
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "none".into() } else { s }
}

/// `prefix` and 32 letters `a`..=`p` for the first 16 bytes of `mac`.
fn letters_id(prefix: &str, mac: &[u8; 32]) -> String {
    let mut s = String::with_capacity(prefix.len() + 32);
    s.push_str(prefix);
    for b in mac.iter().take(16) {
        s.push(char::from(b'a' + (b >> 4)));
        s.push(char::from(b'a' + (b & 0x0f)));
    }
    s
}

/// The content type and bytes sealed for a non-media body.
fn content(body: &MessageBody) -> (&'static str, Zeroizing<Vec<u8>>) {
    let json_bytes = |v: serde_json::Value| Zeroizing::new(v.to_string().into_bytes());
    match body {
        MessageBody::Text(t) => (
            "text/plain; charset=utf-8",
            Zeroizing::new(t.expose().as_bytes().to_vec()),
        ),
        MessageBody::Location(j) | MessageBody::Contacts(j) => {
            let kind = body.type_code();
            let value: serde_json::Value =
                serde_json::from_str(j.expose()).unwrap_or(serde_json::Value::Null);
            (
                "application/vnd.caduceus.whatsapp+json",
                json_bytes(json!({ "type": kind, kind: value })),
            )
        }
        MessageBody::ButtonReply { id, title } => (
            "application/vnd.caduceus.whatsapp+json",
            json_bytes(json!({"type": "button_reply", "id": id, "title": title.expose()})),
        ),
        MessageBody::ListReply {
            id,
            title,
            description,
        } => (
            "application/vnd.caduceus.whatsapp+json",
            json_bytes(
                json!({"type": "list_reply", "id": id, "title": title.expose(),
                "description": description.as_ref().map(Sensitive::expose)}),
            ),
        ),
        MessageBody::QuickReply { payload, text } => (
            "application/vnd.caduceus.whatsapp+json",
            json_bytes(json!({"type": "button", "payload": payload, "text": text.expose()})),
        ),
        MessageBody::Reaction { message_id, emoji } => (
            "application/vnd.caduceus.whatsapp+json",
            json_bytes(json!({"type": "reaction", "message_id": message_id,
                "emoji": emoji.as_ref().map(Sensitive::expose)})),
        ),
        other => (
            "application/vnd.caduceus.whatsapp+json",
            json_bytes(json!({ "type": other.type_code() })),
        ),
    }
}
