//! WhatsApp Business Platform traffic (Cloud API, or a business solution
//! provider relaying the same requests).
//!
//! A host takes each webhook POST through these steps (docs/WHATSAPP.md):
//!
//! * [`verify_signature`]: the `X-Hub-Signature-256` header of a webhook
//!   POST, HMAC-SHA256 of the raw body bytes as received under one of the
//!   app's secrets (several at once during a rotation), compared in
//!   constant time, with a bound on the body size ([`MAX_WEBHOOK_BODY`]).
//! * [`verify_subscription`]: the GET handshake (`hub.mode`,
//!   `hub.verify_token`, `hub.challenge`) that subscribes the webhook; the
//!   challenge to echo is returned only when mode and token are right and
//!   it is a short printable token.
//!
//! ```
//! use caduceus_core::whatsapp::{verify_signature, verify_subscription, SignatureError};
//! // The expected value was computed with Python's hmac module:
//! // hmac.new(b"app-secret", b'{"object":"whatsapp_business_account"}', "sha256").hexdigest()
//! let body = br#"{"object":"whatsapp_business_account"}"#;
//! let header = "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923";
//! let matched = verify_signature(body, Some(header), &[b"old-secret", b"app-secret"]).unwrap();
//! assert_eq!(matched.index(), 1);
//! assert_eq!(
//!     verify_signature(body, Some(header), &[b"old-secret"]),
//!     Err(SignatureError::Mismatch)
//! );
//! assert_eq!(verify_subscription("subscribe", "tok", "1158201444", "tok"), Ok("1158201444"));
//! ```
//!
//! Then, for a verified body:
//!
//! * [`parse_webhook`]: typed [`Event`]s under size, depth and count bounds
//!   ([`ParseLimits`]); unknown types become `Unsupported` events, personal
//!   data is held in [`Sensitive`] values (redacted `Debug`, zeroized).
//! * [`Intake::decide`]: the consent gate. For each event a [`Decision`]:
//!   what to persist (consent and audit events, a sealed record, a new
//!   keyring record, identity links from the [`IdentityMap`], a dedupe key)
//!   and what to send, as data; media gives a [`MediaPlan`] whose
//!   [`MediaSealer`] verifies the fetched bytes against the webhook's
//!   SHA-256 while sealing and fails closed.
//! * [`DedupeSet`]: a bounded set of processed [`DedupeKey`]s for hosts
//!   without a database (Meta redelivers for 7 days).
//! * [`may_send`]: the outbound gate (consent per purpose, the 24-hour
//!   window, templates re-categorised to MARKETING), over the
//!   [`OutboundState`] the decisions feed; [`Intake::seal_outbound`] seals
//!   and audits what is sent.

mod dedupe;
mod event;
mod identity;
mod intake;
mod json;
mod media;
mod outbound;
mod signature;
mod webhook;

pub use event::{
    Contact, DeliveryStatus, Event, EventKind, InboundMessage, Media, MediaKind, MessageBody,
    MessageContext, PlatformError, PreferenceValue, Sensitive, StatusUpdate, SystemChange,
    TemplateCategoryUpdate, TemplateStatus, UserPreference, Webhook,
};

pub use media::{
    MediaError, MediaExpectation, MediaSealer, PARALLEL_HASH_THRESHOLD, SealedMedia, decode_sha256,
    seal_media,
};

pub use dedupe::{DEDUPE_WINDOW, DedupeError, DedupeKey, DedupeSet, MAX_DEDUPE_CAPACITY, Seen};
pub use identity::{
    Alias, AliasKind, IDENTITY_LINE_LEN, IdentityError, IdentityLink, IdentityMap, Resolution,
};
pub use intake::{
    Address, CHANNEL, CONSENT_PAYLOAD_PREFIX, DEFAULT_MAX_CLOCK_SKEW, Decision, DecisionKind,
    INTAKE_ROLE, INTAKE_SOURCE, Intake, IntakeConfig, IntakeError, KeyringLookup, KeyringSet,
    MARKETING_PURPOSE, MAX_BUTTON_PAYLOAD, MAX_BUTTON_TITLE, MAX_EVENT_AGE, MediaPlan,
    PREFERENCES_CHANNEL, Reply, ReplyKind, ReplyTexts, Route, Routes, SealedRecord,
    TemplateCategoryChange,
};
pub use json::{audit_event_json, consent_event_json};
pub use outbound::{
    AUTHENTICATION, Forbidden, MARKETING, MessageKind, OutboundState, OutboundStateError,
    SERVICE_WINDOW, SendDecision, UTILITY, may_send,
};

pub use signature::{
    MAX_CHALLENGE_LEN, MAX_WEBHOOK_BODY, SIGNATURE_PREFIX, SecretIndex, SignatureError,
    SubscriptionError, verify_signature, verify_subscription,
};

pub use webhook::{
    MAX_ERRORS_KEPT, MAX_EVENTS, MAX_JSON_DEPTH, ParseError, ParseLimits, parse_webhook,
};
