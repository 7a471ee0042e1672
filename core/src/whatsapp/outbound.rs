//! The outbound gate: what the practice may send to a patient now
//! (docs/WHATSAPP.md, section 7).
//!
//! [`may_send`] combines the consent ledger (is there consent for the
//! purpose, was it withdrawn, did the patient stop marketing in WhatsApp),
//! the customer service window (free-form messages only within 24 hours of
//! the patient's last message) and the template categories Meta assigned
//! (a template re-categorised to MARKETING needs marketing consent,
//! whatever the purpose). [`OutboundState`] holds the windows and template
//! categories the decisions of the intake report.

use std::collections::HashMap;

use super::intake::{Decision, MARKETING_PURPOSE, PREFERENCES_CHANNEL};
use crate::audit::{Pseudonym, PseudonymKind};
use crate::consent::{Ledger, LegalBasis, Refusal};

/// The customer service window: free-form messages are allowed for 24
/// hours after the patient's last message.
pub const SERVICE_WINDOW: i64 = 24 * 3600;

/// Template category codes, as Meta names them.
pub const MARKETING: &str = "MARKETING";
/// Utility templates (appointments, recalls, findings ready).
pub const UTILITY: &str = "UTILITY";
/// Authentication templates (one-time codes).
pub const AUTHENTICATION: &str = "AUTHENTICATION";

/// What the practice wants to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind<'a> {
    /// A free-form (session) message: text, media, interactive.
    FreeForm,
    /// An approved template.
    Template {
        /// Template name.
        name: &'a str,
        /// Template language.
        language: &'a str,
        /// The category the practice registered it under; a category Meta
        /// reported since ([`OutboundState`]) overrides it.
        category: &'a str,
    },
}

/// Why sending is forbidden.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Forbidden {
    /// No consent for the purpose was ever recorded.
    NoConsent {
        /// The purpose.
        purpose: String,
    },
    /// The patient refused (or objected to) the purpose.
    Refused {
        /// The purpose.
        purpose: String,
        /// When.
        at: i64,
    },
    /// The patient withdrew consent for the purpose.
    Withdrawn {
        /// The purpose.
        purpose: String,
        /// When.
        at: i64,
    },
    /// The patient stopped marketing messages in WhatsApp
    /// (`user_preferences`).
    MarketingStopped {
        /// When.
        at: i64,
    },
    /// The consent expired, or its notice was retired.
    ConsentLapsed {
        /// The purpose.
        purpose: String,
        /// When.
        at: i64,
    },
    /// The purpose is not in the consent policy.
    UnknownPurpose {
        /// The purpose.
        purpose: String,
    },
    /// The template is (or will be) a MARKETING template and the patient
    /// has no marketing consent.
    TemplateIsMarketing {
        /// Whether Meta re-categorised it (the practice registered another
        /// category).
        recategorised: bool,
    },
}

impl Forbidden {
    /// A stable code: `no-consent`, `refused`, `withdrawn`,
    /// `marketing-stopped`, `consent-lapsed`, `purpose-unknown`,
    /// `template-is-marketing`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoConsent { .. } => "no-consent",
            Self::Refused { .. } => "refused",
            Self::Withdrawn { .. } => "withdrawn",
            Self::MarketingStopped { .. } => "marketing-stopped",
            Self::ConsentLapsed { .. } => "consent-lapsed",
            Self::UnknownPurpose { .. } => "purpose-unknown",
            Self::TemplateIsMarketing { .. } => "template-is-marketing",
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendDecision {
    /// A free-form message may be sent until `window_ends`.
    FreeForm {
        /// End of the customer service window (Unix seconds).
        window_ends: i64,
        /// The legal basis of the purpose.
        basis: Option<LegalBasis>,
    },
    /// The template may be sent.
    Template {
        /// Its category in force.
        category: String,
        /// The legal basis of the purpose.
        basis: Option<LegalBasis>,
    },
    /// The window is closed (or was never opened): only a template of this
    /// category may be sent.
    TemplateRequired {
        /// `MARKETING` for the marketing purpose, else `UTILITY`.
        category: String,
    },
    /// Nothing may be sent.
    Forbidden(Forbidden),
}

impl SendDecision {
    /// A stable code: `free-form`, `template`, `template-required`,
    /// `forbidden`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FreeForm { .. } => "free-form",
            Self::Template { .. } => "template",
            Self::TemplateRequired { .. } => "template-required",
            Self::Forbidden(_) => "forbidden",
        }
    }

    /// Whether the message asked about may be sent as it is.
    pub fn allowed(&self) -> bool {
        matches!(self, Self::FreeForm { .. } | Self::Template { .. })
    }
}

/// Why an outbound state text was refused (the line, never its content).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundStateError {
    /// A line is not `window <subject> <time>` or
    /// `template <name> <language> <CATEGORY>`.
    #[error(
        "outbound state line {line} is not 'window <subject> <time>' or 'template <name> <language> <CATEGORY>'"
    )]
    MalformedLine {
        /// 1-based line number.
        line: usize,
    },
}

/// The windows and template categories the gate needs: fed from the
/// intake's decisions ([`OutboundState::apply`]), persisted by the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundState {
    windows: HashMap<String, i64>,
    templates: HashMap<(String, String), String>,
}

impl OutboundState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record an inbound message of `subject` at `time` (the latest counts).
    pub fn record_inbound(&mut self, subject: &str, time: i64) {
        let t = self.windows.entry(subject.to_owned()).or_insert(time);
        *t = (*t).max(time);
    }

    /// The time of the subject's last inbound message.
    pub fn last_inbound(&self, subject: &str) -> Option<i64> {
        self.windows.get(subject).copied()
    }

    /// Remember the category Meta assigned a template (uppercase).
    pub fn set_template_category(&mut self, name: &str, language: &str, category: &str) {
        self.templates.insert(
            (name.to_owned(), language.to_owned()),
            category.to_ascii_uppercase(),
        );
    }

    /// The category Meta assigned a template, if reported.
    pub fn template_category(&self, name: &str, language: &str) -> Option<&str> {
        self.templates
            .get(&(name.to_owned(), language.to_owned()))
            .map(String::as_str)
    }

    /// Take what a decision reports: the window and a template category.
    pub fn apply(&mut self, d: &Decision) {
        if let (Some(s), Some(t)) = (&d.subject, d.last_inbound) {
            self.record_inbound(s.as_str(), t);
        }
        if let Some(c) = &d.template_category {
            self.set_template_category(&c.name, &c.language, &c.category);
        }
    }

    /// The text form: `window <subject> <time>` and
    /// `template <name> <language> <CATEGORY>` lines, sorted.
    pub fn to_text(&self) -> String {
        let mut lines: Vec<String> = self
            .windows
            .iter()
            .map(|(s, t)| format!("window {s} {t}\n"))
            .chain(
                self.templates
                    .iter()
                    .map(|((n, l), c)| format!("template {n} {l} {c}\n")),
            )
            .collect();
        lines.sort();
        lines.concat()
    }

    /// Parse the text form. A later line for the same subject or template
    /// wins (for windows: the latest time), so a host may append.
    pub fn from_text(text: &str) -> Result<Self, OutboundStateError> {
        let mut s = Self::new();
        for (i, line) in text.lines().enumerate() {
            let bad = OutboundStateError::MalformedLine { line: i + 1 };
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["window", subject, time] => {
                    let ok =
                        Pseudonym::parse(subject).is_ok_and(|p| p.kind() == PseudonymKind::Subject);
                    let t: i64 = time.parse().map_err(|_| bad.clone())?;
                    if !ok {
                        return Err(bad);
                    }
                    s.record_inbound(subject, t);
                }
                ["template", name, language, category]
                    if [name, language, category].iter().all(|v| {
                        !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())
                    }) =>
                {
                    s.set_template_category(name, language, category);
                }
                [] | [""] => {}
                _ => return Err(bad),
            }
        }
        Ok(s)
    }
}

/// May the practice send `kind` to `subject` for `purpose` now?
/// (docs/WHATSAPP.md, section 7.) In order:
///
/// 1. consent for the purpose must be in effect (marketing never rides on
///    treatment consent: each purpose has its own);
/// 2. a template whose category in force is MARKETING (as Meta reported it,
///    else as registered) needs marketing consent as well;
/// 3. a free-form message needs the customer service window open (24 hours
///    after the patient's last message); otherwise a template of the
///    purpose's category is required.
pub fn may_send(
    ledger: &Ledger,
    state: &OutboundState,
    subject: &str,
    purpose: &str,
    kind: MessageKind<'_>,
    now: i64,
) -> SendDecision {
    let d = ledger.decide(subject, purpose, now);
    if !d.allowed {
        return SendDecision::Forbidden(forbidden(ledger, purpose, &d));
    }
    match kind {
        MessageKind::Template {
            name,
            language,
            category,
        } => {
            let reported = state.template_category(name, language);
            let in_force = reported.unwrap_or(category).to_ascii_uppercase();
            if in_force == MARKETING && purpose != MARKETING_PURPOSE {
                let m = ledger.decide(subject, MARKETING_PURPOSE, now);
                if !m.allowed {
                    return SendDecision::Forbidden(Forbidden::TemplateIsMarketing {
                        recategorised: !category.eq_ignore_ascii_case(MARKETING),
                    });
                }
            }
            SendDecision::Template {
                category: in_force,
                basis: d.basis,
            }
        }
        MessageKind::FreeForm => match state.last_inbound(subject) {
            Some(t) if now < t.saturating_add(SERVICE_WINDOW) => SendDecision::FreeForm {
                window_ends: t.saturating_add(SERVICE_WINDOW),
                basis: d.basis,
            },
            _ => SendDecision::TemplateRequired {
                category: if purpose == MARKETING_PURPOSE {
                    MARKETING
                } else {
                    UTILITY
                }
                .into(),
            },
        },
    }
}

fn forbidden(ledger: &Ledger, purpose: &str, d: &crate::consent::Decision) -> Forbidden {
    let p = purpose.to_owned();
    match d.refusal {
        Some(Refusal::Withdrawn { at }) | Some(Refusal::Refused { at })
            if purpose == MARKETING_PURPOSE
                && d.event
                    .and_then(|e| ledger.event(e.seq))
                    .is_some_and(|e| e.event.channel == PREFERENCES_CHANNEL) =>
        {
            Forbidden::MarketingStopped { at }
        }
        Some(Refusal::Withdrawn { at }) => Forbidden::Withdrawn { purpose: p, at },
        Some(Refusal::Refused { at }) => Forbidden::Refused { purpose: p, at },
        Some(Refusal::Expired { at }) | Some(Refusal::NoticeRetired { at }) => {
            Forbidden::ConsentLapsed { purpose: p, at }
        }
        Some(Refusal::UnknownPurpose) => Forbidden::UnknownPurpose { purpose: p },
        _ => Forbidden::NoConsent { purpose: p },
    }
}
