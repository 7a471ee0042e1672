//! JSON forms of events and decisions, shared by the command line, the C
//! ABI and the bindings (docs/WHATSAPP.md, section 8).
//!
//! Personal and health data ([`Sensitive`] values: message text, captions,
//! phone numbers, names, user ids) appear only when `show_content` is true;
//! otherwise each is `{"redacted_bytes": <length>}`. Audit and consent
//! events use the key names the C ABI reads
//! (`caduceus_audit_log_append`, `caduceus_consent_record`), so a host can
//! feed them back unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::event::{
    Contact, Event, EventKind, InboundMessage, Media, MessageBody, PlatformError, PreferenceValue,
    Sensitive, SystemChange, Webhook,
};
use super::intake::{Address, Decision, DecisionKind, Reply, ReplyKind};
use crate::audit::{AuditEvent, Outcome};
use crate::consent::ConsentEvent;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sensitive(v: &Sensitive, show: bool) -> Value {
    if show {
        json!(v.expose())
    } else {
        json!({ "redacted_bytes": v.len() })
    }
}

fn opt_sensitive(v: Option<&Sensitive>, show: bool) -> Value {
    v.map_or(Value::Null, |v| sensitive(v, show))
}

fn errors(e: &[PlatformError]) -> Value {
    Value::Array(
        e.iter()
            .map(|e| json!({"code": e.code, "title": e.title}))
            .collect(),
    )
}

fn contact(c: &Contact, show: bool) -> Value {
    json!({
        "wa_id": opt_sensitive(c.wa_id.as_ref(), show),
        "user_id": opt_sensitive(c.user_id.as_ref(), show),
        "parent_user_id": opt_sensitive(c.parent_user_id.as_ref(), show),
        "profile_name": opt_sensitive(c.profile_name.as_ref(), show),
        "username": opt_sensitive(c.username.as_ref(), show),
    })
}

fn media(m: &Media, show: bool) -> Value {
    json!({
        "kind": m.kind.code(),
        "id": m.id,
        "mime_type": m.mime_type,
        "sha256": m.sha256.map(|h| B64.encode(h)),
        "max_size": m.kind.max_size(),
        "caption": opt_sensitive(m.caption.as_ref(), show),
        "filename": opt_sensitive(m.filename.as_ref(), show),
        "voice": m.voice,
        "animated": m.animated,
    })
}

fn body(b: &MessageBody, show: bool) -> Value {
    let mut v = match b {
        MessageBody::Text(t) => json!({ "text": sensitive(t, show) }),
        MessageBody::Media(m) => json!({ "media": media(m, show) }),
        MessageBody::Location(j) => json!({ "location": sensitive(j, show) }),
        MessageBody::Contacts(j) => json!({ "contacts": sensitive(j, show) }),
        MessageBody::ButtonReply { id, title } => {
            json!({"interactive": "button_reply", "id": id, "title": sensitive(title, show)})
        }
        MessageBody::ListReply {
            id,
            title,
            description,
        } => json!({"interactive": "list_reply", "id": id, "title": sensitive(title, show),
            "description": opt_sensitive(description.as_ref(), show)}),
        MessageBody::QuickReply { payload, text } => {
            json!({"payload": payload, "text": sensitive(text, show)})
        }
        MessageBody::Reaction { message_id, emoji } => {
            json!({"message_id": message_id, "emoji": opt_sensitive(emoji.as_ref(), show)})
        }
        MessageBody::Revoke {
            original_message_id,
        } => json!({ "original_message_id": original_message_id }),
        MessageBody::Edit {
            original_message_id,
            message,
        } => json!({"original_message_id": original_message_id, "message": body(message, show)}),
        MessageBody::System(SystemChange::ChangedNumber { new_wa_id }) => {
            json!({"system": "user_changed_number", "new_wa_id": sensitive(new_wa_id, show)})
        }
        MessageBody::System(SystemChange::ChangedUserId { new_user_id }) => {
            json!({"system": "user_changed_user_id", "new_user_id": sensitive(new_user_id, show)})
        }
        MessageBody::System(SystemChange::Other(t)) => json!({ "system": t }),
        MessageBody::Unsupported { errors: e, .. } => json!({ "errors": errors(e) }),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), json!(b.type_code()));
    }
    v
}

fn message(m: &InboundMessage, show: bool) -> Value {
    json!({
        "event": "message",
        "id": m.id,
        "from": contact(&m.from, show),
        "timestamp": m.timestamp,
        "context": {
            "replied_to": m.context.replied_to,
            "forwarded": m.context.forwarded,
            "frequently_forwarded": m.context.frequently_forwarded,
        },
        "body": body(&m.body, show),
        "errors": errors(&m.errors),
    })
}

impl Event {
    /// The event as JSON (content redacted unless `show_content`).
    pub fn to_json(&self, show_content: bool) -> Value {
        let show = show_content;
        let mut v = match &self.kind {
            EventKind::Message(m) => message(m, show),
            EventKind::Status(s) => json!({
                "event": "status",
                "message_id": s.message_id,
                "status": s.status.code(),
                "timestamp": s.timestamp,
                "recipient": contact(&s.recipient, show),
                "pricing_category": s.pricing_category,
                "errors": errors(&s.errors),
            }),
            EventKind::UserPreference(p) => json!({
                "event": "user_preference",
                "contact": contact(&p.contact, show),
                "category": p.category,
                "value": match &p.value {
                    PreferenceValue::Stop => "stop",
                    PreferenceValue::Resume => "resume",
                    PreferenceValue::Other(o) => o.as_str(),
                },
                "timestamp": p.timestamp,
            }),
            EventKind::TemplateStatus(t) => json!({
                "event": "template_status",
                "template_id": t.template_id,
                "name": t.name,
                "language": t.language,
                "status": t.event,
                "reason": t.reason,
                "category": t.category,
            }),
            EventKind::TemplateCategory(t) => json!({
                "event": "template_category",
                "template_id": t.template_id,
                "name": t.name,
                "language": t.language,
                "previous_category": t.previous_category,
                "new_category": t.new_category,
                "correct_category": t.correct_category,
                "update_timestamp": t.update_timestamp,
            }),
            EventKind::Errors(e) => json!({"event": "errors", "errors": errors(e)}),
            EventKind::Unsupported { field, reason } => {
                json!({"event": "unsupported", "field": field, "reason": reason})
            }
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("account_id".into(), json!(self.account_id));
            o.insert("phone_number_id".into(), json!(self.phone_number_id));
        }
        v
    }
}

impl Webhook {
    /// The events as a JSON array (content redacted unless `show_content`).
    pub fn to_json(&self, show_content: bool) -> Value {
        Value::Array(
            self.events
                .iter()
                .map(|e| e.to_json(show_content))
                .collect(),
        )
    }
}

/// An audit event in the JSON shape `caduceus_audit_log_append` reads.
pub fn audit_event_json(e: &AuditEvent) -> Value {
    let mut o = Map::new();
    o.insert("time_ms".into(), json!(e.time_ms()));
    o.insert("actor".into(), json!(e.actor().as_str()));
    o.insert("role".into(), json!(e.role()));
    o.insert("action".into(), json!(e.action().code()));
    o.insert("source".into(), json!(e.source()));
    let opt = |o: &mut Map<String, Value>, k: &str, v: Option<&str>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    opt(&mut o, "subject", e.subject_pseudonym().map(|p| p.as_str()));
    opt(&mut o, "category", e.data_category());
    opt(&mut o, "record", e.record_id());
    opt(&mut o, "purpose", e.purpose_of_use());
    opt(&mut o, "legal_basis", e.legal_basis_code());
    opt(&mut o, "correlation", e.correlation_id());
    match e.result() {
        Outcome::Success => {
            o.insert("outcome".into(), json!("success"));
        }
        Outcome::Denied(r) => {
            o.insert("outcome".into(), json!("denied"));
            o.insert("outcome_reason".into(), json!(r));
        }
        Outcome::Failed(r) => {
            o.insert("outcome".into(), json!("failed"));
            o.insert("outcome_reason".into(), json!(r));
        }
    }
    Value::Object(o)
}

/// A consent event in the JSON shape `caduceus_consent_record` reads.
pub fn consent_event_json(e: &ConsentEvent) -> Value {
    json!({
        "id": e.id,
        "subject": e.subject,
        "purposes": e.purposes,
        "status": e.status.code(),
        "method": e.method.code(),
        "notice": e.notice.as_ref().map(|n| json!({
            "id": n.id, "version": n.version, "language": n.language, "sha256": hex(&n.sha256)
        })),
        "channel": e.channel,
        "evidence": e.evidence,
        "recorded_by": e.recorded_by,
        "time": e.time,
        "expires_at": e.expires_at,
    })
}

fn reply_kind(k: ReplyKind) -> &'static str {
    match k {
        ReplyKind::Notice => "notice",
        ReplyKind::ConsentRequest => "consent-request",
        ReplyKind::ConsentConfirmation => "consent-confirmation",
        ReplyKind::NotStored => "not-stored",
        ReplyKind::PhotoConsentRequest => "photo-consent-request",
        ReplyKind::OptOutConfirmation => "opt-out-confirmation",
    }
}

fn reply(r: &Reply, show: bool) -> Value {
    let (kind, to) = match &r.to {
        Address::Phone(p) => ("wa_id", p),
        Address::UserId(u) => ("user_id", u),
    };
    let mut v = json!({
        "kind": reply_kind(r.kind),
        "to": {kind: sensitive(to, show)},
        "text": r.text,
        "buttons": r.buttons.iter().map(|(p, t)| json!({"payload": p, "title": t})).collect::<Vec<_>>(),
        "context": r.context,
    });
    if show && let Some(o) = v.as_object_mut() {
        let graph: Value = serde_json::from_str(&r.to_graph_json()).unwrap_or(Value::Null);
        o.insert("graph_request".into(), graph);
    }
    v
}

impl Decision {
    /// The decision as JSON: kind, keys and ids, consent and audit events
    /// in the C ABI's input shapes, the sealed envelope and a new keyring
    /// record in base64 (ciphertext and wrapped keys only), the media plan,
    /// and the replies (their recipient redacted unless `show_content`).
    pub fn to_json(&self, show_content: bool) -> Value {
        let reason = match &self.kind {
            DecisionKind::NotStored { reason }
            | DecisionKind::Refused { reason }
            | DecisionKind::Ignored { reason } => Some(*reason),
            _ => None,
        };
        let purposes = match &self.kind {
            DecisionKind::ConsentRecorded { purposes, .. }
            | DecisionKind::OptedOut { purposes } => Some(purposes.clone()),
            _ => None,
        };
        json!({
            "kind": self.kind.code(),
            "reason": reason,
            "purposes": purposes,
            "dedupe_key": self.dedupe_key.map(|k| k.to_hex()),
            "subject": self.subject.as_ref().map(|s| s.as_str()),
            "identity_links": self.identity_links.iter()
                .map(|l| json!({"alias": l.alias.to_hex(), "subject": l.subject.as_str()}))
                .collect::<Vec<_>>(),
            "keyring_record": self.keyring_record.as_ref().map(|r| json!({
                "subject": r.subject(), "category": r.category(),
                "bytes": B64.encode(r.to_bytes()),
            })),
            "record": self.record.as_ref().map(|r| json!({
                "record_id": r.record_id,
                "replaces": r.replaces,
                "category": r.labels.category,
                "purpose": r.labels.purpose,
                "content_type": r.labels.content_type,
                "created_at": r.labels.created_at,
                "envelope": B64.encode(&r.envelope),
            })),
            "media": self.media.as_ref().map(|m| json!({
                "media_id": m.media.id,
                "kind": m.media.kind.code(),
                "sha256": B64.encode(m.sha256),
                "max_size": m.max_size,
                "record_id": m.record_id,
                "replaces": m.replaces,
                "category": m.labels.category,
                "purpose": m.labels.purpose,
                "content_type": m.labels.content_type,
                "created_at": m.labels.created_at,
                "audit_stored": audit_event_json(&m.audit_stored),
            })),
            "consent_events": self.consent_events.iter().map(consent_event_json).collect::<Vec<_>>(),
            "audit_events": self.audit_events.iter().map(audit_event_json).collect::<Vec<_>>(),
            "replies": self.replies.iter().map(|r| reply(r, show_content)).collect::<Vec<_>>(),
            "delete_record": self.delete_record,
            "last_inbound": self.last_inbound,
            "template_category": self.template_category.as_ref().map(|t| json!({
                "name": t.name, "language": t.language, "category": t.category
            })),
        })
    }
}
