//! Consent events and their canonical binary encoding.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::ConsentError;
use crate::{codec, label, suite};

/// Magic bytes that start every consent event record.
pub const EVENT_MAGIC: [u8; 4] = *b"CDCE";
/// The consent event format version this library writes and reads.
pub const EVENT_VERSION: u8 = 1;
/// Maximum length of an encoded event record, prefix included.
pub const MAX_EVENT_LEN: usize = 8 * 1024;
/// Maximum number of purposes in one event.
pub const MAX_EVENT_PURPOSES: usize = 16;

/// Latest time an event may carry: 9999-12-31T23:59:59Z (Unix seconds).
pub const MAX_TIME: i64 = 253_402_300_799;

/// The SHA-256 of an event record's bytes: what an audit-log entry
/// references.
pub type EventHash = [u8; 32];

/// The status an event records, aligned with the W3C DPV consent statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsentStatus {
    /// Consent was given (`dpv:ConsentGiven`).
    Given,
    /// Consent was asked for and refused (`dpv:ConsentRefused`).
    Refused,
    /// Consent was withdrawn (`dpv:ConsentWithdrawn`).
    Withdrawn,
    /// Consent expired (`dpv:ConsentExpired`).
    Expired,
    /// Consent was given again, renewing an earlier one (`dpv:RenewedConsentGiven`).
    Renewed,
}

impl ConsentStatus {
    const ALL: [Self; 5] = [
        Self::Given,
        Self::Refused,
        Self::Withdrawn,
        Self::Expired,
        Self::Renewed,
    ];

    /// The code in the binary format and the CLI: `given`, `refused`,
    /// `withdrawn`, `expired`, `renewed`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
            Self::Renewed => "renewed",
        }
    }

    /// Parse a code (see [`ConsentStatus::code`]).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The W3C DPV term, e.g. `dpv:ConsentGiven`.
    pub fn dpv(self) -> &'static str {
        match self {
            Self::Given => "dpv:ConsentGiven",
            Self::Refused => "dpv:ConsentRefused",
            Self::Withdrawn => "dpv:ConsentWithdrawn",
            Self::Expired => "dpv:ConsentExpired",
            Self::Renewed => "dpv:RenewedConsentGiven",
        }
    }

    /// Whether the status grants consent (given or renewed).
    pub fn grants(self) -> bool {
        matches!(self, Self::Given | Self::Renewed)
    }
}

/// How consent was obtained or documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsentMethod {
    /// A QR code scanned at reception (`qr-reception`).
    QrReception,
    /// The anamnesis (medical history) form (`anamnesis-form`).
    AnamnesisForm,
    /// A reply in the chat (`chat-reply`).
    ChatReply,
    /// In person, documented by staff (`in-person-documented`).
    InPersonDocumented,
    /// Any other method (`other`); say which in the channel and evidence.
    Other,
}

impl ConsentMethod {
    const ALL: [Self; 5] = [
        Self::QrReception,
        Self::AnamnesisForm,
        Self::ChatReply,
        Self::InPersonDocumented,
        Self::Other,
    ];

    /// The code in the binary format and the CLI.
    pub fn code(self) -> &'static str {
        match self {
            Self::QrReception => "qr-reception",
            Self::AnamnesisForm => "anamnesis-form",
            Self::ChatReply => "chat-reply",
            Self::InPersonDocumented => "in-person-documented",
            Self::Other => "other",
        }
    }

    /// Parse a code (see [`ConsentMethod::code`]).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A reference to the exact notice text the patient was shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoticeRef {
    /// Notice id (label rules), e.g. `privacy-chat`.
    pub id: String,
    /// Notice version.
    pub version: u32,
    /// Language tag, e.g. `de`.
    pub language: String,
    /// SHA-256 of the UTF-8 text shown.
    pub sha256: [u8; 32],
}

/// One consent event. Events are never changed once in a ledger; a
/// withdrawal is a new event.
///
/// ```
/// use caduceus_core::consent::{ConsentEvent, ConsentMethod, ConsentStatus};
/// let mut e = ConsentEvent::new("evt-9", "p-7f3a91", &["marketing"], ConsentStatus::Withdrawn,
///     ConsentMethod::ChatReply, None, "whatsapp", "system-ingest", 1_763_800_000).unwrap();
/// e.evidence = Some("wamid.HBgLNDkxNTE".into());
/// let bytes = e.to_bytes().unwrap();
/// assert_eq!(&bytes[..5], b"CDCE\x01");
/// assert_eq!(ConsentEvent::from_bytes(&bytes).unwrap(), e);
/// assert_eq!(e.hash().unwrap(), caduceus_core::suite::sha256(&[&bytes]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsentEvent {
    /// Unique event id (label rules), e.g. a UUID.
    pub id: String,
    /// The subject's pseudonym (label rules; never a name or phone number).
    pub subject: String,
    /// The purposes the event is about (1 to 16, distinct, configured).
    pub purposes: Vec<String>,
    /// What happened.
    pub status: ConsentStatus,
    /// How it was obtained.
    pub method: ConsentMethod,
    /// The notice shown; required for given and renewed consent.
    pub notice: Option<NoticeRef>,
    /// The channel (label rules), e.g. `whatsapp`, `reception-qr`, `paper-form`.
    pub channel: String,
    /// Evidence (label rules), e.g. the WhatsApp message id of the reply or a form id.
    pub evidence: Option<String>,
    /// Pseudonym of the staff member or system that recorded the event.
    pub recorded_by: String,
    /// When it happened (Unix seconds, UTC).
    pub time: i64,
    /// When a given or renewed consent ends (Unix seconds), if it does.
    pub expires_at: Option<i64>,
}

/// Wire form (docs/CONSENT.md 4.2).
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct EventWire(
    String,
    String,
    Vec<String>,
    String,
    String,
    Option<(String, u32, String, ByteBuf)>,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

const PREFIX_LEN: usize = 5;

impl ConsentEvent {
    /// A new event without evidence or expiry (set those fields directly),
    /// checked with [`ConsentEvent::check`]. `notice` is required for given
    /// and renewed consent.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        subject: &str,
        purposes: &[&str],
        status: ConsentStatus,
        method: ConsentMethod,
        notice: Option<NoticeRef>,
        channel: &str,
        recorded_by: &str,
        time: i64,
    ) -> Result<Self, ConsentError> {
        let e = Self {
            id: id.to_owned(),
            subject: subject.to_owned(),
            purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
            status,
            method,
            notice,
            channel: channel.to_owned(),
            evidence: None,
            recorded_by: recorded_by.to_owned(),
            time,
            expires_at: None,
        };
        e.check()?;
        Ok(e)
    }

    /// Check the event on its own (without a ledger): label fields, 1 to 16
    /// distinct purposes, a notice for given or renewed consent, an expiry
    /// only on granting events and after the event time.
    pub fn check(&self) -> Result<(), ConsentError> {
        let lbl = |v: &str, what| label::check(v).map_err(|_| ConsentError::InvalidLabel(what));
        lbl(&self.id, "event id")?;
        lbl(&self.subject, "subject pseudonym")?;
        lbl(&self.channel, "channel")?;
        lbl(&self.recorded_by, "recorded-by pseudonym")?;
        if let Some(ev) = &self.evidence {
            lbl(ev, "evidence")?;
        }
        let in_range = |t: i64| (0..=MAX_TIME).contains(&t);
        if !in_range(self.time) || !self.expires_at.is_none_or(in_range) {
            return Err(ConsentError::TimeOutOfRange(self.id.clone()));
        }
        if self.purposes.is_empty() {
            return Err(ConsentError::NoPurposes(self.id.clone()));
        }
        if self.purposes.len() > MAX_EVENT_PURPOSES {
            return Err(ConsentError::TooManyPurposes(self.id.clone()));
        }
        for (i, p) in self.purposes.iter().enumerate() {
            lbl(p, "purpose")?;
            if self.purposes.iter().take(i).any(|q| q == p) {
                return Err(ConsentError::DuplicatePurpose {
                    event: self.id.clone(),
                    purpose: p.clone(),
                });
            }
        }
        if let Some(n) = &self.notice {
            lbl(&n.id, "notice id")?;
            super::notice::check_language(&n.language)?;
        } else if self.status.grants() {
            return Err(ConsentError::NoticeRequired(self.id.clone()));
        }
        if let Some(exp) = self.expires_at
            && (!self.status.grants() || exp <= self.time)
        {
            return Err(ConsentError::InvalidExpiry(self.id.clone()));
        }
        Ok(())
    }

    fn to_wire(&self) -> EventWire {
        EventWire(
            self.id.clone(),
            self.subject.clone(),
            self.purposes.clone(),
            self.status.code().to_owned(),
            self.method.code().to_owned(),
            self.notice.as_ref().map(|n| {
                (
                    n.id.clone(),
                    n.version,
                    n.language.clone(),
                    ByteBuf::from(n.sha256.to_vec()),
                )
            }),
            self.channel.clone(),
            self.evidence.clone(),
            self.recorded_by.clone(),
            self.time,
            self.expires_at,
        )
    }

    /// The canonical event record: `"CDCE" || 0x01 || canonical MessagePack
    /// body` (docs/CONSENT.md, section 4). Fails if the event does not pass
    /// [`ConsentEvent::check`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, ConsentError> {
        self.check()?;
        let body = codec::encode(&self.to_wire());
        let mut out = Vec::with_capacity(PREFIX_LEN + body.len());
        out.extend_from_slice(&EVENT_MAGIC);
        out.push(EVENT_VERSION);
        out.extend_from_slice(&body);
        if out.len() > MAX_EVENT_LEN {
            return Err(ConsentError::MalformedEvent(
                "longer than the format allows",
            ));
        }
        Ok(out)
    }

    /// SHA-256 of [`ConsentEvent::to_bytes`]: the reference an audit-log
    /// entry holds.
    pub fn hash(&self) -> Result<EventHash, ConsentError> {
        Ok(suite::sha256(&[&self.to_bytes()?]))
    }

    /// Parse an event record strictly: magic, version, canonical body, no
    /// trailing bytes, known codes, and [`ConsentEvent::check`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConsentError> {
        if bytes.len() > MAX_EVENT_LEN {
            return Err(ConsentError::MalformedEvent(
                "longer than the format allows",
            ));
        }
        let prefix = bytes
            .get(..PREFIX_LEN)
            .ok_or(ConsentError::MalformedEvent("truncated"))?;
        if prefix.get(..4) != Some(&EVENT_MAGIC[..]) {
            return Err(ConsentError::MalformedEvent(
                "not a consent event (bad magic)",
            ));
        }
        let version = prefix.get(4).copied().unwrap_or(0);
        if version != EVENT_VERSION {
            return Err(ConsentError::UnsupportedVersion(version));
        }
        let body = bytes.get(PREFIX_LEN..).unwrap_or_default();
        let w: EventWire = codec::decode_canonical(body).map_err(|e| match e {
            codec::CodecError::Malformed => {
                ConsentError::MalformedEvent("body is not a valid event (truncated or wrong shape)")
            }
            codec::CodecError::NonCanonical => {
                ConsentError::MalformedEvent("body is not canonical MessagePack")
            }
        })?;
        let notice = match w.5 {
            None => None,
            Some((id, version, language, hash)) => Some(NoticeRef {
                id,
                version,
                language,
                sha256: hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| ConsentError::MalformedEvent("notice hash must be 32 bytes"))?,
            }),
        };
        let e = Self {
            id: w.0,
            subject: w.1,
            purposes: w.2,
            status: ConsentStatus::from_code(&w.3)
                .ok_or(ConsentError::MalformedEvent("unknown status"))?,
            method: ConsentMethod::from_code(&w.4)
                .ok_or(ConsentError::MalformedEvent("unknown method"))?,
            notice,
            channel: w.6,
            evidence: w.7,
            recorded_by: w.8,
            time: w.9,
            expires_at: w.10,
        };
        e.check()?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConsentEvent {
        ConsentEvent {
            id: "evt-1".into(),
            subject: "p-1".into(),
            purposes: vec!["treatment-communication".into(), "recall".into()],
            status: ConsentStatus::Given,
            method: ConsentMethod::QrReception,
            notice: Some(NoticeRef {
                id: "privacy".into(),
                version: 2,
                language: "de".into(),
                sha256: [7; 32],
            }),
            channel: "reception-qr".into(),
            evidence: Some("form-77".into()),
            recorded_by: "staff-1".into(),
            time: 1_700_000_000,
            expires_at: Some(1_800_000_000),
        }
    }

    #[test]
    fn round_trip_and_strictness() {
        let e = sample();
        let bytes = e.to_bytes().unwrap();
        assert_eq!(ConsentEvent::from_bytes(&bytes).unwrap(), e);
        let mut trailing = bytes.clone();
        trailing.push(0xc0);
        assert!(ConsentEvent::from_bytes(&trailing).is_err());
        for cut in 0..bytes.len() {
            assert!(ConsentEvent::from_bytes(&bytes[..cut]).is_err(), "{cut}");
        }
        let mut v = bytes.clone();
        v[4] = 9;
        assert_eq!(
            ConsentEvent::from_bytes(&v),
            Err(ConsentError::UnsupportedVersion(9))
        );
    }

    #[test]
    fn check_catches_bad_fields() {
        assert_eq!(
            ConsentEvent::new(
                "evt-1",
                "p-1",
                &["recall"],
                ConsentStatus::Given,
                ConsentMethod::QrReception,
                None,
                "reception-qr",
                "staff-1",
                1_700_000_000,
            ),
            Err(ConsentError::NoticeRequired("evt-1".into()))
        );
        let mut e = sample();
        e.purposes.push("recall".into());
        assert!(matches!(
            e.check(),
            Err(ConsentError::DuplicatePurpose { .. })
        ));
        let mut e = sample();
        e.expires_at = Some(e.time);
        assert_eq!(e.check(), Err(ConsentError::InvalidExpiry("evt-1".into())));
        let mut e = sample();
        e.subject = "Müller".into();
        assert_eq!(
            e.check(),
            Err(ConsentError::InvalidLabel("subject pseudonym"))
        );
        let mut e = sample();
        e.status = ConsentStatus::Withdrawn;
        assert_eq!(e.check(), Err(ConsentError::InvalidExpiry("evt-1".into())));
    }
}
