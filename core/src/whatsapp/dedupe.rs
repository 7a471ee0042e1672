//! Placeholder for the dedupe keys (replaced by the dedupe module on merge).

/// A dedupe key: SHA-256 of a domain-separated key string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey([u8; 32]);

fn key(kind: &str, parts: &[&str]) -> DedupeKey {
    let mut data: Vec<&[u8]> = vec![b"caduceus/whatsapp dedupe v1", &[0], kind.as_bytes()];
    for p in parts {
        data.push(&[0]);
        data.push(p.as_bytes());
    }
    DedupeKey(crate::suite::sha256(&data))
}

impl DedupeKey {
    /// An inbound message.
    pub fn message(message_id: &str) -> Self {
        key("message", &[message_id])
    }
    /// A status of an outbound message.
    pub fn status(message_id: &str, status: &str) -> Self {
        key("status", &[message_id, status])
    }
    /// A template event.
    pub fn template(template_id: &str, event: &str, timestamp: &str) -> Self {
        key("template", &[template_id, event, timestamp])
    }
    /// A user preference change.
    pub fn preference(subject: &str, value: &str, timestamp: &str) -> Self {
        key("preference", &[subject, value, timestamp])
    }
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}
