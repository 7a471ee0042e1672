//! What one webhook delivery persists, built from the intake's decision.

use caduceus_core::audit::{AuditEvent, Pseudonym};
use caduceus_core::consent::ConsentEvent;
use caduceus_core::keys::KeyringRecord;
use caduceus_core::whatsapp::{
    Decision, DedupeKey, IdentityLink, MediaPlan, SealedRecord, TemplateCategoryChange,
};

use crate::StoreError;

/// Everything one delivery (one decided webhook event) writes, committed
/// whole or not at all by [`crate::Store::commit_delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// When the host received it (Unix seconds): the dedupe mark's time.
    pub received_at: i64,
    /// The dedupe key: a delivery whose key is stored is a redelivery and
    /// writes nothing.
    pub dedupe_key: Option<DedupeKey>,
    /// The subject the event names (for the outbound window).
    pub subject: Option<Pseudonym>,
    /// Identity links to add.
    pub identity_links: Vec<IdentityLink>,
    /// A new subject-category keyring record (first contact).
    pub keyring_record: Option<KeyringRecord>,
    /// The sealed record (message or media envelope).
    pub record: Option<SealedRecord>,
    /// Consent events to append, in order.
    pub consent_events: Vec<ConsentEvent>,
    /// Audit events to append, in order.
    pub audit_events: Vec<AuditEvent>,
    /// A record the patient deleted: removed from the store unless a legal
    /// hold covers it.
    pub delete_record: Option<String>,
    /// The patient's message time (opens the 24-hour window).
    pub last_inbound: Option<i64>,
    /// A template category the outbound gate must assume.
    pub template_category: Option<TemplateCategoryChange>,
}

impl Delivery {
    /// An empty delivery received at `received_at`.
    pub fn new(received_at: i64) -> Self {
        Self {
            received_at,
            dedupe_key: None,
            subject: None,
            identity_links: Vec::new(),
            keyring_record: None,
            record: None,
            consent_events: Vec::new(),
            audit_events: Vec::new(),
            delete_record: None,
            last_inbound: None,
            template_category: None,
        }
    }

    /// What a decision persists. A media decision ([`Decision::media`])
    /// persists its record only once the bytes are fetched and sealed: add
    /// them with [`Delivery::with_media`] (or the failure with
    /// [`Delivery::with_media_failed`]).
    pub fn from_decision(decision: &Decision, received_at: i64) -> Self {
        Self {
            received_at,
            dedupe_key: decision.dedupe_key,
            subject: decision.subject.clone(),
            identity_links: decision.identity_links.clone(),
            keyring_record: decision.keyring_record.clone(),
            record: decision.record.clone(),
            consent_events: decision.consent_events.clone(),
            audit_events: decision.audit_events.clone(),
            delete_record: decision.delete_record.clone(),
            last_inbound: decision.last_inbound,
            template_category: decision.template_category.clone(),
        }
    }

    /// Add the envelope sealed by the plan's [`caduceus_core::whatsapp::MediaSealer`]
    /// (header and payload) and the plan's "stored" audit event.
    #[must_use]
    pub fn with_media(mut self, plan: &MediaPlan, envelope: Vec<u8>) -> Self {
        self.record = Some(SealedRecord {
            record_id: plan.record_id.clone(),
            envelope,
            labels: plan.labels.clone(),
            replaces: plan.replaces.clone(),
        });
        self.audit_events.push(plan.audit_stored.clone());
        self
    }

    /// Record that fetching or sealing the media failed (`reason` a label
    /// such as `media-hash-mismatch`): the audit event only, no record.
    pub fn with_media_failed(mut self, plan: &MediaPlan, reason: &str) -> Result<Self, StoreError> {
        self.audit_events.push(plan.audit_failed(reason)?);
        Ok(self)
    }
}

/// What [`crate::Store::commit_delivery`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Committed {
    /// The delivery was committed whole.
    Stored {
        /// Leaf indexes of its audit entries.
        audit_indexes: Vec<u64>,
        /// The record to delete was kept because a legal hold covers it.
        deletion_held: bool,
    },
    /// Its dedupe key was already stored: nothing was written.
    Duplicate,
}
