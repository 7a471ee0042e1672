//! Exports: FHIR R4 `Consent` (in a `Bundle`) and an ISO/IEC TS 27560-shaped
//! consent record with W3C DPV terms. Field mappings: docs/CONSENT.md,
//! section 7.

use serde_json::{Map, Value, json};

use super::{ConsentStatus, Ledger, RecordedEvent};
use crate::time::format_rfc3339 as rfc3339;

/// FHIR system of subject pseudonyms.
const SYS_SUBJECT: &str = "urn:caduceus:subject-pseudonym";
/// FHIR system of event ids.
const SYS_EVENT_ID: &str = "urn:caduceus:consent-event-id";
/// FHIR system of event hashes (hex SHA-256 of the event record).
const SYS_EVENT_HASH: &str = "urn:caduceus:consent-event-sha256";
/// FHIR system of notice hashes.
const SYS_NOTICE_HASH: &str = "urn:caduceus:notice-sha256";
/// FHIR code system of purposes (the policy's purpose ids).
const SYS_PURPOSE: &str = "urn:caduceus:purpose";
/// Extension URLs.
const EXT_BASE: &str = "urn:caduceus:fhir:consent-";
const GDPR: &str = "https://eur-lex.europa.eu/eli/reg/2016/679/oj";
const DPV_GDPR: &str = "https://w3id.org/dpv/legal/eu/gdpr#";

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(
            DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            DIGITS.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    s
}

fn fhir_status(s: ConsentStatus) -> (&'static str, &'static str) {
    match s {
        ConsentStatus::Given | ConsentStatus::Renewed => ("active", "permit"),
        ConsentStatus::Refused => ("rejected", "deny"),
        ConsentStatus::Withdrawn | ConsentStatus::Expired => ("inactive", "deny"),
    }
}

impl Ledger {
    /// When the consent that granting event `history[i]` records stopped
    /// counting for each of its purposes, as of `at`: the first of its
    /// expiry, the time its notice stopped counting (docs/CONSENT.md,
    /// section 3) and the next event of the subject naming the purpose
    /// (withdrawal, refusal, expiry, or a newer consent that replaces it).
    /// `None` while it still counts at `at`.
    fn purpose_ends(&self, history: &[RecordedEvent], i: usize, at: i64) -> Vec<Option<i64>> {
        let Some(r) = history.get(i) else {
            return Vec::new();
        };
        let e = &r.event;
        // (id, version, registration time) of every notice, needed only
        // where a purpose demands the current notice (a newer version then
        // ends the consent).
        let versions: Vec<(String, u32, i64)> = if self
            .policy()
            .purposes
            .iter()
            .any(|c| c.require_current_notice)
        {
            self.notices()
                .into_iter()
                .map(|n| (n.id, n.version, n.registered_at))
                .collect()
        } else {
            Vec::new()
        };
        let notice = e.notice.as_ref().and_then(|n| self.find_notice(n));
        e.purposes
            .iter()
            .map(|p| {
                let require_current = self
                    .policy()
                    .purposes
                    .iter()
                    .any(|c| &c.id == p && c.require_current_notice);
                let mut end = e.expires_at.unwrap_or(i64::MAX);
                if let Some(n) = notice {
                    end = end.min(n.retired_at.unwrap_or(i64::MAX));
                    if require_current {
                        for (_, _, registered) in versions
                            .iter()
                            .filter(|(id, version, _)| *id == n.id && *version > n.version)
                        {
                            end = end.min(*registered);
                        }
                    }
                }
                if let Some(next) = history
                    .iter()
                    .skip(i + 1)
                    .find(|x| x.event.time <= at && x.event.purposes.contains(p))
                {
                    end = end.min(next.event.time);
                }
                (end <= at).then_some(end)
            })
            .collect()
    }

    /// One event as a FHIR R4 `Consent` resource (JSON value), in its state
    /// at `at`.
    fn fhir_consent(&self, history: &[RecordedEvent], i: usize, at: i64) -> Value {
        let Some(r) = history.get(i) else {
            return Value::Null;
        };
        let e = &r.event;
        let hash = hex(&r.event_ref.hash);
        let (mut status, provision_type) = fhir_status(e.status);
        // A consent that later ended (withdrawn, refused, expired, replaced,
        // its notice retired) is no longer active: inactive, its period
        // ended, once it has ended for every purpose; while some purposes
        // still rest on it, the ended ones are denied from their end on.
        let ends = if e.status.grants() {
            self.purpose_ends(history, i, at)
        } else {
            Vec::new()
        };
        let ended_all = !ends.is_empty() && ends.iter().all(Option::is_some);
        if ended_all {
            status = "inactive";
        }
        let ended_some: Vec<Value> = if ended_all {
            Vec::new()
        } else {
            e.purposes
                .iter()
                .zip(&ends)
                .filter_map(|(p, end)| {
                    end.map(|t| {
                        json!({"type": "deny",
                               "period": {"start": rfc3339(t)},
                               "purpose": [{"system": SYS_PURPOSE, "code": p}]})
                    })
                })
                .collect()
        };
        let health = e.purposes.iter().any(|p| {
            self.policy()
                .purposes
                .iter()
                .any(|c| &c.id == p && c.health_data)
        });
        let mut policy = vec![json!({"authority": GDPR, "uri": format!("{DPV_GDPR}A6-1-a")})];
        if health {
            policy.push(json!({"authority": GDPR, "uri": format!("{DPV_GDPR}A9-2-a")}));
        }
        let mut period = Map::new();
        period.insert("start".into(), Value::String(rfc3339(e.time)));
        let end = if ended_all {
            ends.iter().flatten().copied().max()
        } else {
            e.expires_at
        };
        if let Some(end) = end {
            period.insert("end".into(), Value::String(rfc3339(end)));
        }
        let mut ext = vec![
            json!({"url": format!("{EXT_BASE}method"), "valueCode": e.method.code()}),
            json!({"url": format!("{EXT_BASE}channel"), "valueString": e.channel}),
            json!({"url": format!("{EXT_BASE}recorded-by"),
                   "valueIdentifier": {"system": "urn:caduceus:staff-pseudonym", "value": e.recorded_by}}),
            json!({"url": format!("{EXT_BASE}dpv-status"), "valueCode": e.status.dpv()}),
        ];
        if let Some(ev) = &e.evidence {
            ext.push(json!({"url": format!("{EXT_BASE}evidence"), "valueString": ev}));
        }
        let mut consent = json!({
            "resourceType": "Consent",
            "id": hash,
            "extension": ext,
            "identifier": [
                {"system": SYS_EVENT_ID, "value": e.id},
                {"system": SYS_EVENT_HASH, "value": hash},
            ],
            "status": status,
            "scope": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                "code": "patient-privacy", "display": "Privacy Consent"}]},
            "category": [{"coding": [{
                "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
            "patient": {"identifier": {"system": SYS_SUBJECT, "value": e.subject}},
            "dateTime": rfc3339(e.time),
            "policy": policy,
            "provision": {
                "type": provision_type,
                "period": Value::Object(period),
                "purpose": e.purposes.iter()
                    .map(|p| json!({"system": SYS_PURPOSE, "code": p}))
                    .collect::<Vec<_>>(),
            },
        });
        if let (false, Some(provision)) = (
            ended_some.is_empty(),
            consent.get_mut("provision").and_then(Value::as_object_mut),
        ) {
            provision.insert("provision".into(), Value::Array(ended_some));
        }
        if let (Some(n), Some(obj)) = (&e.notice, consent.as_object_mut()) {
            obj.insert(
                "sourceReference".into(),
                json!({
                    "type": "DocumentReference",
                    "identifier": {"system": SYS_NOTICE_HASH, "value": hex(&n.sha256)},
                    "display": format!("privacy notice {} version {} ({})", n.id, n.version, n.language),
                }),
            );
        }
        consent
    }

    /// A subject's consent history as a FHIR R4 `Bundle` (type
    /// `collection`) of `Consent` resources, one per event, oldest first,
    /// each in its state at `at` (Unix seconds, normally now; events after
    /// `at` do not end earlier ones). A given or renewed consent is `active`
    /// only while it still counts: once it ended for all its purposes
    /// (withdrawn, refused, expired, replaced by a newer consent, its notice
    /// retired) it is `inactive` with `provision.period.end` the time it
    /// ended; purposes that ended while others still rest on it get a
    /// nested `deny` provision from their end (docs/CONSENT.md, section 7).
    /// The patient appears only as a pseudonymous identifier.
    ///
    /// ```
    /// # use caduceus_core::consent::*;
    /// # let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    /// # let n = ledger.register_notice("privacy", 1, "de", "Hinweis", 0, 0).unwrap();
    /// # let e = ConsentEvent::new("e1", "p-1", &["recall"], ConsentStatus::Given,
    /// #     ConsentMethod::QrReception, Some(n), "reception-qr", "staff-1", 10).unwrap();
    /// # ledger.append(e, 10).unwrap();
    /// let json = ledger.export_fhir("p-1", 20);
    /// let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    /// assert_eq!(v["entry"][0]["resource"]["resourceType"], "Consent");
    /// assert_eq!(v["entry"][0]["resource"]["status"], "active");
    /// ```
    pub fn export_fhir(&self, subject: &str, at: i64) -> String {
        let history = self.history(subject);
        let entries: Vec<Value> = (0..history.len())
            .map(|i| json!({"resource": self.fhir_consent(&history, i, at)}))
            .collect();
        let mut bundle = json!({"resourceType": "Bundle", "type": "collection"});
        if let Some(obj) = bundle.as_object_mut()
            && !entries.is_empty()
        {
            obj.insert("entry".into(), Value::Array(entries));
        }
        bundle.to_string()
    }

    /// A subject's consents as ISO/IEC TS 27560-shaped records with W3C DPV
    /// terms: one record per purpose the subject has events for, holding the
    /// purpose's legal basis, the current state and every event.
    pub fn export_iso27560(&self, subject: &str) -> String {
        let history = self.history(subject);
        let mut records = Vec::new();
        for cfg in &self.policy().purposes {
            let events: Vec<&RecordedEvent> = history
                .iter()
                .filter(|r| r.event.purposes.iter().any(|p| p == &cfg.id))
                .collect();
            let (Some(first), Some(last)) = (events.first(), events.last()) else {
                continue;
            };
            let basis = cfg.consent_basis();
            let mut lawful = vec![json!("dpv:Consent"), json!(basis.art6.dpv())];
            if let Some(c) = basis.art9 {
                lawful.push(json!(c.dpv()));
            }
            let mut purpose = json!({
                "id": cfg.id,
                "lawfulBasis": lawful,
                "personalDataCategory": if cfg.health_data { "dpv:HealthData" } else { "dpv:Contact" },
            });
            if let (Some(alt), Some(obj)) = (cfg.alternative, purpose.as_object_mut()) {
                let mut v = vec![json!(alt.art6.dpv())];
                if let Some(c) = alt.art9 {
                    v.push(json!(c.dpv()));
                }
                obj.insert("alternativeLawfulBasis".into(), Value::Array(v));
            }
            let evs: Vec<Value> = events
                .iter()
                .map(|r| {
                    let e = &r.event;
                    let mut o = json!({
                        "eventId": e.id,
                        "eventHash": hex(&r.event_ref.hash),
                        "eventSeq": r.event_ref.seq,
                        "eventTime": rfc3339(e.time),
                        "eventState": e.status.dpv(),
                        "method": e.method.code(),
                        "channel": e.channel,
                        "recordedBy": e.recorded_by,
                    });
                    if let Some(obj) = o.as_object_mut() {
                        if let Some(ev) = &e.evidence {
                            obj.insert("evidence".into(), json!(ev));
                        }
                        if let Some(exp) = e.expires_at {
                            obj.insert("expiryTime".into(), json!(rfc3339(exp)));
                        }
                        if let Some(n) = &e.notice {
                            obj.insert(
                                "notice".into(),
                                json!({"id": n.id, "version": n.version,
                                       "language": n.language, "sha256": hex(&n.sha256)}),
                            );
                        }
                    }
                    o
                })
                .collect();
            records.push(json!({
                "recordId": format!("urn:caduceus:consent:{}:{}", hex(&first.event_ref.hash), cfg.id),
                "piiPrincipalId": subject,
                "purpose": purpose,
                "consentType": if cfg.health_data {
                    "dpv:ExplicitlyExpressedConsent"
                } else {
                    "dpv:ExpressedConsent"
                },
                "state": last.event.status.dpv(),
                "lastUpdated": rfc3339(last.event.time),
                "events": evs,
            }));
        }
        json!({
            "@context": {"dpv": "https://w3id.org/dpv#", "eu-gdpr": DPV_GDPR},
            "schemaVersion": "ISO/IEC TS 27560:2023 (shape); caduceus consent export 1",
            "records": records,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
    }
}
