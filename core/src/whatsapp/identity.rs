//! Who a WhatsApp contact is: the subject pseudonym of a phone-based id
//! (`wa_id`) and a business-scoped user id (BSUID), kept the same across a
//! number change or a new BSUID (docs/WHATSAPP.md, section 3).
//!
//! Each identifier the webhooks carry is an **alias**: an HMAC-SHA256
//! under the practice's pseudonym key ([`AuditKey`]) of its kind and value,
//! so a stored alias reveals neither. The [`IdentityMap`] maps aliases to
//! subject pseudonyms; the host persists it (one line per alias,
//! [`IdentityLink::to_line`]) and passes it to every decision. The first
//! identifier seen for a patient names the pseudonym; every later alias of
//! the same contact (the BSUID next to a phone number, the new number of
//! `user_changed_number`, the new BSUID of `user_changed_user_id`) is linked
//! to it.

use std::collections::HashMap;

use super::event::Contact;
use crate::audit::{AuditKey, Pseudonym, PseudonymKind};

const ALIAS_DOMAIN: &[u8] = b"caduceus/v1 whatsapp alias";

/// Longest line of the identity map's text form (64 hex digits, a space,
/// a 37-character pseudonym and the newline).
pub const IDENTITY_LINE_LEN: usize = 64 + 1 + 37 + 1;

/// Which kind of identifier an alias is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AliasKind {
    /// A phone-number-based WhatsApp id (`wa_id`).
    WaId,
    /// A business-scoped user id (`user_id`).
    UserId,
}

impl AliasKind {
    fn code(self) -> &'static str {
        match self {
            Self::WaId => "wa",
            Self::UserId => "bsuid",
        }
    }
}

/// The keyed hash of one identifier (kind and value); 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Alias([u8; 32]);

impl core::fmt::Debug for Alias {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Alias({})", self.to_hex())
    }
}

impl Alias {
    /// The alias of `value` (e.g. a `wa_id`) under the pseudonym key:
    /// HMAC-SHA256(key, "caduceus/v1 whatsapp alias" || 0x00 || kind ||
    /// 0x00 || value), kind `wa` or `bsuid`.
    pub fn of(key: &AuditKey, kind: AliasKind, value: &str) -> Self {
        Self(key.keyed_hash(
            ALIAS_DOMAIN,
            &[kind.code().as_bytes(), &[0], value.as_bytes()],
        ))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex (64 digits).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parse 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let s = core::str::from_utf8(pair).ok()?;
            *o = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Self(out))
    }
}

/// One alias linked to a subject: what the host persists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    /// The alias.
    pub alias: Alias,
    /// The subject pseudonym it names.
    pub subject: Pseudonym,
}

impl IdentityLink {
    /// The line of the map's text form: `<64 hex> <pseudonym>\n`.
    pub fn to_line(&self) -> String {
        format!("{} {}\n", self.alias.to_hex(), self.subject.as_str())
    }
}

/// Why an identity map text was refused. Messages name the line, never
/// its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A line is not `<64 hex digits> <subject pseudonym>`.
    #[error(
        "identity map line {line} is not '<64 hex digits> <subject pseudonym>': restore the file from a backup"
    )]
    MalformedLine {
        /// 1-based line number.
        line: usize,
    },
    /// The last line has no newline: an append was cut short.
    #[error(
        "the identity map's last line is incomplete (an append was interrupted): remove that line"
    )]
    TornLine,
    /// An alias is linked to two different subjects.
    #[error(
        "identity map line {line} links an alias already linked to another subject: the file was edited; restore it from a backup"
    )]
    Conflict {
        /// 1-based line number.
        line: usize,
    },
    /// A new identifier of a subject is already linked to another subject.
    #[error(
        "the new identifier is already linked to another subject: nothing was linked; resolve the two subjects by hand"
    )]
    AliasTaken,
}

/// How a contact was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The subject pseudonym.
    pub subject: Pseudonym,
    /// Aliases of the contact not yet in the map, to persist.
    pub new_links: Vec<IdentityLink>,
    /// Whether this is the first time the contact is seen (no alias was
    /// in the map).
    pub first_contact: bool,
    /// The phone-based id and the BSUID of the contact name two different
    /// subjects in the map; the phone-based one was taken and nothing was
    /// linked (docs/WHATSAPP.md, section 3).
    pub conflict: bool,
}

/// Aliases to subject pseudonyms. Built from the persisted lines with
/// [`IdentityMap::from_text`] (or link by link), extended by the links
/// decisions return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityMap {
    links: HashMap<Alias, Pseudonym>,
}

impl IdentityMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of aliases.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The subject an alias names.
    pub fn get(&self, alias: &Alias) -> Option<&Pseudonym> {
        self.links.get(alias)
    }

    /// Add a link. Returns `false` (and changes nothing) if the alias is
    /// already linked to another subject; linking it again to the same
    /// subject is a no-op that returns `true`.
    pub fn insert(&mut self, link: IdentityLink) -> bool {
        match self.links.get(&link.alias) {
            Some(s) => *s == link.subject,
            None => {
                self.links.insert(link.alias, link.subject);
                true
            }
        }
    }

    /// Parse the text form: one [`IdentityLink::to_line`] per line. A
    /// repeated line is accepted; an alias linked to two subjects, a
    /// malformed line or a last line without its newline is refused.
    pub fn from_text(text: &str) -> Result<Self, IdentityError> {
        let mut map = Self::new();
        if text.is_empty() {
            return Ok(map);
        }
        if !text.ends_with('\n') {
            return Err(IdentityError::TornLine);
        }
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let (hex, subject) = line
                .split_once(' ')
                .ok_or(IdentityError::MalformedLine { line: n })?;
            let alias = Alias::from_hex(hex).ok_or(IdentityError::MalformedLine { line: n })?;
            let subject = Pseudonym::parse(subject)
                .ok()
                .filter(|p| p.kind() == PseudonymKind::Subject)
                .ok_or(IdentityError::MalformedLine { line: n })?;
            if !map.insert(IdentityLink { alias, subject }) {
                return Err(IdentityError::Conflict { line: n });
            }
        }
        Ok(map)
    }

    /// The whole map in its text form, lines sorted by alias.
    pub fn to_text(&self) -> String {
        let mut links: Vec<_> = self.links.iter().collect();
        links.sort();
        links
            .into_iter()
            .map(|(a, s)| {
                IdentityLink {
                    alias: *a,
                    subject: s.clone(),
                }
                .to_line()
            })
            .collect()
    }

    /// Resolve a contact: the subject its phone-based id or BSUID is linked
    /// to (the phone-based id first), or, on first contact, the pseudonym of
    /// its first identifier (`whatsapp:wa:<wa_id>`, or
    /// `whatsapp:bsuid:<user_id>` when the phone number is withheld). Every
    /// alias of the contact not yet linked is returned to persist. `None`
    /// when the contact names nobody.
    pub fn resolve(&self, key: &AuditKey, contact: &Contact) -> Option<Resolution> {
        let wa = nonempty(contact.wa_id.as_ref().map(|v| v.expose()));
        let uid = nonempty(contact.user_id.as_ref().map(|v| v.expose()));
        let aliases: Vec<Alias> = [
            wa.map(|v| Alias::of(key, AliasKind::WaId, v)),
            uid.map(|v| Alias::of(key, AliasKind::UserId, v)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if aliases.is_empty() {
            return None;
        }
        let known: Vec<&Pseudonym> = aliases.iter().filter_map(|a| self.get(a)).collect();
        let conflict = known.windows(2).any(|w| w.first() != w.last());
        let (subject, first_contact) = match known.first() {
            Some(s) => ((*s).clone(), false),
            None => {
                let stable = match wa {
                    Some(w) => format!("whatsapp:wa:{w}"),
                    None => format!("whatsapp:bsuid:{}", uid.unwrap_or_default()),
                };
                (key.pseudonym(PseudonymKind::Subject, &stable), true)
            }
        };
        let new_links = if conflict {
            Vec::new()
        } else {
            aliases
                .iter()
                .filter(|a| self.get(a).is_none())
                .map(|a| IdentityLink {
                    alias: *a,
                    subject: subject.clone(),
                })
                .collect()
        };
        Some(Resolution {
            subject,
            new_links,
            first_contact,
            conflict,
        })
    }

    /// The link that keeps `subject` when a contact gets a new identifier
    /// (`user_changed_number`: kind [`AliasKind::WaId`];
    /// `user_changed_user_id`: [`AliasKind::UserId`]). `Err(())` when the
    /// new identifier is already linked to another subject
    /// ([`IdentityError::AliasTaken`]; nothing is linked then); `Ok(None)`
    /// when it is already linked to this one. `pending` are links decided
    /// but not yet inserted (those of the same decision): they count as if
    /// inserted after the map's own, without copying the map.
    pub fn link_new(
        &self,
        key: &AuditKey,
        subject: &Pseudonym,
        kind: AliasKind,
        value: &str,
        pending: &[IdentityLink],
    ) -> Result<Option<IdentityLink>, IdentityError> {
        let alias = Alias::of(key, kind, value);
        let known = self.get(&alias).or_else(|| {
            pending
                .iter()
                .find(|l| l.alias == alias)
                .map(|l| &l.subject)
        });
        match known {
            Some(s) if s == subject => Ok(None),
            Some(_) => Err(IdentityError::AliasTaken),
            None => Ok(Some(IdentityLink {
                alias,
                subject: subject.clone(),
            })),
        }
    }
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::whatsapp::Sensitive;

    fn key() -> AuditKey {
        AuditKey::from_bytes([7; 32])
    }

    fn contact(wa: Option<&str>, uid: Option<&str>) -> Contact {
        Contact {
            wa_id: wa.map(Sensitive::new),
            user_id: uid.map(Sensitive::new),
            ..Contact::default()
        }
    }

    fn apply(map: &mut IdentityMap, r: &Resolution) {
        for l in &r.new_links {
            assert!(map.insert(l.clone()));
        }
    }

    #[test]
    fn phone_first_then_both_is_one_subject() {
        let k = key();
        let mut map = IdentityMap::new();
        let r1 = map
            .resolve(&k, &contact(Some("4915100000001"), None))
            .unwrap();
        assert!(r1.first_contact);
        assert_eq!(r1.new_links.len(), 1);
        apply(&mut map, &r1);
        let r2 = map
            .resolve(
                &k,
                &contact(Some("4915100000001"), Some("DE.1234567890123456789")),
            )
            .unwrap();
        assert_eq!(r2.subject, r1.subject);
        assert!(!r2.first_contact);
        assert_eq!(r2.new_links.len(), 1);
        apply(&mut map, &r2);
        // Later the phone number is withheld: the BSUID alone finds the subject.
        let r3 = map
            .resolve(&k, &contact(None, Some("DE.1234567890123456789")))
            .unwrap();
        assert_eq!(r3.subject, r1.subject);
        assert!(r3.new_links.is_empty());
    }

    #[test]
    fn bsuid_only_contact_gets_a_pseudonym_and_nobody_gets_none() {
        let k = key();
        let map = IdentityMap::new();
        let r = map.resolve(&k, &contact(None, Some("DE.42"))).unwrap();
        assert_eq!(
            r.subject,
            k.pseudonym(PseudonymKind::Subject, "whatsapp:bsuid:DE.42")
        );
        assert!(map.resolve(&k, &contact(None, None)).is_none());
        assert!(map.resolve(&k, &contact(Some(""), Some(""))).is_none());
    }

    #[test]
    fn conflicting_aliases_take_the_phone_subject_and_link_nothing() {
        let k = key();
        let mut map = IdentityMap::new();
        let a = map.resolve(&k, &contact(Some("111"), None)).unwrap();
        apply(&mut map, &a);
        let b = map.resolve(&k, &contact(None, Some("DE.9"))).unwrap();
        apply(&mut map, &b);
        let c = map
            .resolve(&k, &contact(Some("111"), Some("DE.9")))
            .unwrap();
        assert!(c.conflict);
        assert_eq!(c.subject, a.subject);
        assert!(c.new_links.is_empty());
    }

    #[test]
    fn text_form_round_trips_and_refuses_damage() {
        let k = key();
        let mut map = IdentityMap::new();
        for wa in ["1", "2", "3"] {
            let r = map.resolve(&k, &contact(Some(wa), None)).unwrap();
            apply(&mut map, &r);
        }
        let text = map.to_text();
        assert_eq!(text.len(), 3 * IDENTITY_LINE_LEN);
        assert_eq!(IdentityMap::from_text(&text).unwrap(), map);
        assert_eq!(
            IdentityMap::from_text(&text[..text.len() - 1]),
            Err(IdentityError::TornLine)
        );
        let mut bad = text.clone();
        bad.replace_range(0..1, "x");
        assert_eq!(
            IdentityMap::from_text(&bad),
            Err(IdentityError::MalformedLine { line: 1 })
        );
        // The same alias to another subject.
        let first = text.lines().next().unwrap();
        let other = k.pseudonym(PseudonymKind::Subject, "someone else");
        let forged = format!("{text}{} {}\n", &first[..64], other.as_str());
        assert_eq!(
            IdentityMap::from_text(&forged),
            Err(IdentityError::Conflict { line: 4 })
        );
        // A staff pseudonym is not a subject.
        let staff = k.pseudonym(PseudonymKind::Staff, "x");
        let line = format!("{} {}\n", "ab".repeat(32), staff.as_str());
        assert!(IdentityMap::from_text(&line).is_err());
    }

    #[test]
    fn a_new_number_keeps_the_subject() {
        let k = key();
        let mut map = IdentityMap::new();
        let r = map.resolve(&k, &contact(Some("111"), None)).unwrap();
        apply(&mut map, &r);
        let link = map
            .link_new(&k, &r.subject, AliasKind::WaId, "222", &[])
            .unwrap()
            .unwrap();
        assert!(map.insert(link));
        let again = map.resolve(&k, &contact(Some("222"), None)).unwrap();
        assert_eq!(again.subject, r.subject);
        assert_eq!(
            map.link_new(&k, &r.subject, AliasKind::WaId, "222", &[]),
            Ok(None)
        );
        let other = map.resolve(&k, &contact(Some("333"), None)).unwrap();
        assert_eq!(
            map.link_new(&k, &other.subject, AliasKind::WaId, "222", &[]),
            Err(IdentityError::AliasTaken)
        );
    }

    #[test]
    fn a_new_number_is_checked_against_pending_links_too() {
        let k = key();
        let map = IdentityMap::new();
        let a = map.resolve(&k, &contact(Some("111"), None)).unwrap();
        let b = map.resolve(&k, &contact(Some("333"), None)).unwrap();
        // "222" is linked to `b` by a link not yet in the map.
        let pending = [map
            .link_new(&k, &b.subject, AliasKind::WaId, "222", &[])
            .unwrap()
            .unwrap()];
        assert_eq!(
            map.link_new(&k, &a.subject, AliasKind::WaId, "222", &pending),
            Err(IdentityError::AliasTaken)
        );
        assert_eq!(
            map.link_new(&k, &b.subject, AliasKind::WaId, "222", &pending),
            Ok(None)
        );
        assert!(
            map.link_new(&k, &a.subject, AliasKind::WaId, "444", &pending)
                .unwrap()
                .is_some()
        );
    }
}
