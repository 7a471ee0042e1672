//! The consent policy: purposes, their legal bases, opt-out keywords and the
//! allowed clock skew; the table of the standard purposes' legal bases
//! ([`STANDARD_PURPOSES`]) that the consent engine and the Art. 30 register
//! lint both use.

use serde::{Deserialize, Serialize};

use super::ConsentError;
use crate::label;
use crate::retention::MAX_POLICY_NESTING;

/// Maximum number of purposes in a policy.
pub const MAX_PURPOSES: usize = 64;
/// Longest policy TOML text accepted, in bytes (the TOML parser allocates
/// a multiple of its input before the purposes can be counted).
pub const MAX_POLICY_TOML_LEN: usize = 64 * 1024;
/// Maximum number of opt-out keywords in a consent policy.
pub const MAX_KEYWORDS: usize = 32;
/// Longest opt-out keyword (phrase) after normalisation, in bytes.
pub const MAX_KEYWORD_LEN: usize = 64;
/// Largest allowed clock skew (one day).
const MAX_SKEW: i64 = 86_400;

/// The lawful basis of GDPR Art. 6(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Art6Basis {
    /// Art. 6(1)(a): consent.
    Consent,
    /// Art. 6(1)(b): performance of a contract (the treatment contract, § 630a BGB).
    Contract,
    /// Art. 6(1)(c): a legal obligation.
    LegalObligation,
    /// Art. 6(1)(d): vital interests.
    VitalInterests,
    /// Art. 6(1)(e): a task in the public interest.
    PublicTask,
    /// Art. 6(1)(f): legitimate interests.
    LegitimateInterests,
}

impl Art6Basis {
    const ALL: [Self; 6] = [
        Self::Consent,
        Self::Contract,
        Self::LegalObligation,
        Self::VitalInterests,
        Self::PublicTask,
        Self::LegitimateInterests,
    ];

    /// The code used in policies and formats, e.g. `consent`, `contract`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Contract => "contract",
            Self::LegalObligation => "legal-obligation",
            Self::VitalInterests => "vital-interests",
            Self::PublicTask => "public-task",
            Self::LegitimateInterests => "legitimate-interests",
        }
    }

    /// Parse a code (see [`Art6Basis::code`]).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.code() == code)
    }

    /// The letter of Art. 6(1), `a` to `f` (the spelling of the retention
    /// policy's `art6`).
    pub fn letter(self) -> char {
        match self {
            Self::Consent => 'a',
            Self::Contract => 'b',
            Self::LegalObligation => 'c',
            Self::VitalInterests => 'd',
            Self::PublicTask => 'e',
            Self::LegitimateInterests => 'f',
        }
    }

    /// The article reference, e.g. `Art. 6(1)(a) GDPR`.
    pub fn article(self) -> &'static str {
        match self {
            Self::Consent => "Art. 6(1)(a) GDPR",
            Self::Contract => "Art. 6(1)(b) GDPR",
            Self::LegalObligation => "Art. 6(1)(c) GDPR",
            Self::VitalInterests => "Art. 6(1)(d) GDPR",
            Self::PublicTask => "Art. 6(1)(e) GDPR",
            Self::LegitimateInterests => "Art. 6(1)(f) GDPR",
        }
    }

    /// The W3C DPV term (EU GDPR extension), e.g. `eu-gdpr:A6-1-a`.
    pub fn dpv(self) -> &'static str {
        match self {
            Self::Consent => "eu-gdpr:A6-1-a",
            Self::Contract => "eu-gdpr:A6-1-b",
            Self::LegalObligation => "eu-gdpr:A6-1-c",
            Self::VitalInterests => "eu-gdpr:A6-1-d",
            Self::PublicTask => "eu-gdpr:A6-1-e",
            Self::LegitimateInterests => "eu-gdpr:A6-1-f",
        }
    }
}

/// The condition of GDPR Art. 9(2) for processing health data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Art9Condition {
    /// Art. 9(2)(a): explicit consent.
    ExplicitConsent,
    /// Art. 9(2)(c): vital interests of a person unable to consent.
    VitalInterests,
    /// Art. 9(2)(f): legal claims.
    LegalClaims,
    /// Art. 9(2)(h): health care, with § 22(1) no. 1 lit. b BDSG.
    HealthCare,
    /// Art. 9(2)(i): public health.
    PublicHealth,
}

impl Art9Condition {
    const ALL: [Self; 5] = [
        Self::ExplicitConsent,
        Self::VitalInterests,
        Self::LegalClaims,
        Self::HealthCare,
        Self::PublicHealth,
    ];

    /// The code used in policies and formats, e.g. `explicit-consent`, `health-care`.
    pub fn code(self) -> &'static str {
        match self {
            Self::ExplicitConsent => "explicit-consent",
            Self::VitalInterests => "vital-interests",
            Self::LegalClaims => "legal-claims",
            Self::HealthCare => "health-care",
            Self::PublicHealth => "public-health",
        }
    }

    /// Parse a code (see [`Art9Condition::code`]).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.code() == code)
    }

    /// The letter of Art. 9(2), e.g. `a` or `h` (the spelling of the
    /// retention policy's `art9`).
    pub fn letter(self) -> char {
        match self {
            Self::ExplicitConsent => 'a',
            Self::VitalInterests => 'c',
            Self::LegalClaims => 'f',
            Self::HealthCare => 'h',
            Self::PublicHealth => 'i',
        }
    }

    /// The article reference, e.g. `Art. 9(2)(h) GDPR with § 22(1) no. 1 lit. b BDSG`.
    pub fn article(self) -> &'static str {
        match self {
            Self::ExplicitConsent => "Art. 9(2)(a) GDPR",
            Self::VitalInterests => "Art. 9(2)(c) GDPR",
            Self::LegalClaims => "Art. 9(2)(f) GDPR",
            Self::HealthCare => "Art. 9(2)(h) GDPR with § 22(1) no. 1 lit. b BDSG",
            Self::PublicHealth => "Art. 9(2)(i) GDPR",
        }
    }

    /// The W3C DPV term (EU GDPR extension), e.g. `eu-gdpr:A9-2-a`.
    pub fn dpv(self) -> &'static str {
        match self {
            Self::ExplicitConsent => "eu-gdpr:A9-2-a",
            Self::VitalInterests => "eu-gdpr:A9-2-c",
            Self::LegalClaims => "eu-gdpr:A9-2-f",
            Self::HealthCare => "eu-gdpr:A9-2-h",
            Self::PublicHealth => "eu-gdpr:A9-2-i",
        }
    }
}

/// The legal basis a processing relies on: its Art. 6 basis and, for health
/// data, its Art. 9 condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegalBasis {
    /// The Art. 6(1) basis.
    pub art6: Art6Basis,
    /// The Art. 9(2) condition; `None` when no special-category data is processed.
    pub art9: Option<Art9Condition>,
}

/// One purpose of processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeConfig {
    /// The purpose id, e.g. `treatment-communication` (label rules).
    pub id: String,
    /// Whether the purpose processes health data. Consent for it is then
    /// explicit consent, Art. 6(1)(a) with Art. 9(2)(a).
    pub health_data: bool,
    /// A basis other than consent that the practice relies on when no
    /// consent is in effect (e.g. Art. 6(1)(b) with Art. 9(2)(h) and § 22
    /// BDSG for treatment communication). It does not apply after the
    /// subject refused or withdrew the purpose.
    pub alternative: Option<LegalBasis>,
    /// When true, consent counts only under the newest registered version of
    /// its notice: registering a new version demands re-consent.
    pub require_current_notice: bool,
    /// Whether an opt-out reply (STOP) stops this purpose. A purpose the
    /// patient can object to stops on STOP whatever this flag says (see
    /// [`PurposeConfig::stops_on_opt_out`]); the flag adds further purposes.
    pub opt_out: bool,
}

impl PurposeConfig {
    /// The basis of a consent to this purpose.
    pub fn consent_basis(&self) -> LegalBasis {
        LegalBasis {
            art6: Art6Basis::Consent,
            art9: self.health_data.then_some(Art9Condition::ExplicitConsent),
        }
    }

    /// Whether the patient can object to this purpose at any time, so that a
    /// STOP must stop it: a standard purpose marked `objectable` in
    /// [`STANDARD_PURPOSES`] (recall, marketing: Art. 21(2), (3) GDPR, § 7
    /// UWG, Art. 7(3) GDPR), or any purpose whose alternative basis is
    /// legitimate interests (Art. 21(1) GDPR).
    pub fn objectable(&self) -> bool {
        standard_purpose(&self.id).is_some_and(|s| s.objectable)
            || self
                .alternative
                .is_some_and(|b| b.art6 == Art6Basis::LegitimateInterests)
    }

    /// Whether an opt-out reply stops this purpose: `opt_out` is set or the
    /// purpose is [`PurposeConfig::objectable`]. Only purposes strictly
    /// needed for the treatment itself can be exempt.
    pub fn stops_on_opt_out(&self) -> bool {
        self.opt_out || self.objectable()
    }
}

/// A purpose whose legal basis the library defines: the one table that the
/// default consent policy ([`ConsentPolicy::default`]) is built from and that
/// the Art. 30 register lint (`retention::lint`) checks each activity's
/// `art6` / `art9` against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StandardPurpose {
    /// The purpose id.
    pub id: &'static str,
    /// Whether the purpose processes health data: consent to it is then
    /// explicit consent, Art. 6(1)(a) with Art. 9(2)(a).
    pub health_data: bool,
    /// The basis other than consent the engine relies on by default, if any.
    pub alternative: Option<LegalBasis>,
    /// Whether the patient can object at any time, so that STOP stops it.
    pub objectable: bool,
    /// Why, in one sentence (for documentation and lint messages).
    pub reason: &'static str,
}

impl StandardPurpose {
    /// The purpose as configured in the default consent policy.
    pub fn config(&self) -> PurposeConfig {
        PurposeConfig {
            id: self.id.to_owned(),
            health_data: self.health_data,
            alternative: self.alternative,
            require_current_notice: false,
            opt_out: self.objectable,
        }
    }
}

/// The standard purposes and their legal bases (docs/CONSENT.md, section
/// 2.1). Every one rests on consent: the first reply asks for it before any
/// content is kept (design C1), so the default policy has no alternative
/// basis; a practice that relies on the treatment contract for treatment
/// communication configures `alternative = { art6 = "contract", art9 =
/// "health-care" }` and states the same in its register.
pub const STANDARD_PURPOSES: [StandardPurpose; 4] = [
    StandardPurpose {
        id: "treatment-communication",
        health_data: true,
        alternative: None,
        objectable: false,
        reason: "messages about the patient's own treatment over the messenger: explicit consent (Art. 6(1)(a), 9(2)(a) GDPR), asked for in the first reply; needed for the treatment itself, so STOP does not end it (a withdrawal is recorded as such)",
    },
    StandardPurpose {
        id: "clinical-photos",
        health_data: true,
        alternative: None,
        objectable: false,
        reason: "photos and documents the patient sends for diagnosis and treatment: explicit consent (Art. 6(1)(a), 9(2)(a) GDPR)",
    },
    StandardPurpose {
        id: "recall",
        health_data: true,
        alternative: None,
        objectable: true,
        reason: "check-up reminders reveal that the person is a patient of the practice (health data): explicit consent (Art. 6(1)(a), 9(2)(a) GDPR); not needed for a treatment under way, so STOP ends it (Art. 7(3), 21 GDPR)",
    },
    StandardPurpose {
        id: "marketing",
        health_data: false,
        alternative: None,
        objectable: true,
        reason: "news about the practice's services: consent (Art. 6(1)(a) GDPR, § 7 (2) Nr. 2 UWG), never bundled with treatment consent; STOP ends it (Art. 7(3), 21(2), (3) GDPR)",
    },
];

/// The standard purpose with this id, if it is one.
pub fn standard_purpose(id: &str) -> Option<&'static StandardPurpose> {
    STANDARD_PURPOSES.iter().find(|p| p.id == id)
}

/// The default opt-out phrases, in normalised form (docs/CONSENT.md,
/// section 6.1): German and English replies that mean "stop messaging me"
/// and nothing else when they are the whole message. Left out on purpose,
/// because as a whole message they often mean something else: `ENDE`,
/// `NEIN`, `CANCEL`, `END`, `QUIT` (cancelling an appointment, ending a
/// conversation, answering a question).
pub const DEFAULT_OPT_OUT_KEYWORDS: [&str; 22] = [
    "STOP",
    "STOPP",
    "BITTE STOPP",
    "STOPP BITTE",
    "BITTE STOP",
    "STOP BITTE",
    "ABMELDEN",
    "BITTE ABMELDEN",
    "ABMELDUNG",
    "ABBESTELLEN",
    "BITTE ABBESTELLEN",
    "AUSTRAGEN",
    "KEINE NACHRICHTEN",
    "KEINE NACHRICHTEN MEHR",
    "BITTE KEINE NACHRICHTEN MEHR",
    "WIDERRUF",
    "UNSUBSCRIBE",
    "STOP ALL",
    "PLEASE STOP",
    "STOP PLEASE",
    "OPT OUT",
    "NO MORE MESSAGES",
];

/// The consent policy of a ledger.
///
/// The default ([`ConsentPolicy::default`], the same as
/// [`DEFAULT_POLICY_TOML`]) has the four [`STANDARD_PURPOSES`], all resting
/// on consent: `treatment-communication`, `clinical-photos` and `recall`
/// (health data: explicit consent) and `marketing`; STOP stops `recall` and
/// `marketing`; the opt-out phrases [`DEFAULT_OPT_OUT_KEYWORDS`]; a clock
/// skew of 300 s.
///
/// ```
/// use caduceus_core::consent::{Art6Basis, Art9Condition, ConsentPolicy, LegalBasis};
/// let policy = ConsentPolicy::from_toml(r#"
///     max-clock-skew = 120
///     opt-out-keywords = ["STOP", "STOPP", "Bitte stopp", "ABMELDEN"]
///     [[purpose]]
///     id = "treatment-communication"
///     health-data = true
///     alternative = { art6 = "contract", art9 = "health-care" }
///     opt-out = false
///     [[purpose]]
///     id = "marketing"
/// "#).unwrap();
/// assert_eq!(policy.purposes[0].alternative, Some(LegalBasis {
///     art6: Art6Basis::Contract, art9: Some(Art9Condition::HealthCare) }));
/// assert!(policy.is_opt_out(" bitte   STOPP. "));
/// assert!(policy.purposes[1].stops_on_opt_out());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPolicy {
    /// The purposes, in a fixed order (1 to [`MAX_PURPOSES`]).
    pub purposes: Vec<PurposeConfig>,
    /// Chat replies that stop the opt-out purposes, in normalised form
    /// ([`normalize_reply`]; ledgers of earlier versions may hold them
    /// without spaces); a reply matches when its whole normalised text
    /// equals a keyword's normalised form.
    pub opt_out_keywords: Vec<String>,
    /// How far (seconds) an event may lie ahead of the caller's `now`.
    pub max_clock_skew: i64,
}

/// The default policy as TOML (what `caduceus consent init` writes).
pub const DEFAULT_POLICY_TOML: &str = r#"# Caduceus consent policy (docs/CONSENT.md, section 2).
# Seconds an event may lie ahead of the clock of the recording system.
max-clock-skew = 300
# Whole chat replies that stop every purpose that stops on STOP
# (docs/CONSENT.md, section 6.1: compared after case folding, with
# punctuation, emoji and repeated spaces removed).
opt-out-keywords = [
    "STOP", "STOPP", "BITTE STOPP", "STOPP BITTE", "BITTE STOP", "STOP BITTE",
    "ABMELDEN", "BITTE ABMELDEN", "ABMELDUNG", "ABBESTELLEN", "BITTE ABBESTELLEN",
    "AUSTRAGEN", "KEINE NACHRICHTEN", "KEINE NACHRICHTEN MEHR",
    "BITTE KEINE NACHRICHTEN MEHR", "WIDERRUF",
    "UNSUBSCRIBE", "STOP ALL", "PLEASE STOP", "STOP PLEASE", "OPT OUT", "NO MORE MESSAGES",
]

# opt-out defaults to true: STOP stops a purpose unless it is needed for the
# treatment itself. recall and marketing always stop on STOP (Art. 21 GDPR,
# § 7 UWG); opt-out = false is refused for them.

[[purpose]]
id = "treatment-communication"
health-data = true
# Needed for the treatment itself: STOP does not end it (record a
# withdrawal with `consent record --status withdrawn`).
opt-out = false
# Uncomment to rely on the treatment contract when no consent is in effect
# (and say so in the Art. 30 register: art6 = "b", art9 = "h"):
# alternative = { art6 = "contract", art9 = "health-care" }

[[purpose]]
id = "clinical-photos"
health-data = true
opt-out = false

[[purpose]]
id = "recall"
health-data = true

[[purpose]]
id = "marketing"
health-data = false
"#;

impl Default for ConsentPolicy {
    fn default() -> Self {
        Self {
            purposes: STANDARD_PURPOSES
                .iter()
                .map(StandardPurpose::config)
                .collect(),
            opt_out_keywords: DEFAULT_OPT_OUT_KEYWORDS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            max_clock_skew: 300,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BasisToml {
    art6: String,
    art9: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PurposeToml {
    id: String,
    #[serde(default)]
    health_data: bool,
    alternative: Option<BasisToml>,
    #[serde(default)]
    require_current_notice: bool,
    opt_out: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyToml {
    max_clock_skew: Option<i64>,
    opt_out_keywords: Option<Vec<String>>,
    #[serde(default)]
    purpose: Vec<PurposeToml>,
}

/// Wire form (docs/CONSENT.md 3.3): `[id, health_data, alternative,
/// require_current_notice, opt_out]`, flags as 0/1.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PurposeWire(String, u8, Option<(String, Option<String>)>, u8, u8);

/// Wire form: `[purposes, opt_out_keywords, max_clock_skew]`.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PolicyWire(Vec<PurposeWire>, Vec<String>, i64);

fn flag(v: u8) -> Result<bool, ConsentError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ConsentError::MalformedLedger("a flag must be 0 or 1")),
    }
}

fn basis_from_codes(art6: &str, art9: Option<&str>) -> Result<LegalBasis, ConsentError> {
    let art6 = Art6Basis::from_code(art6)
        .ok_or_else(|| ConsentError::InvalidPolicy(format!("unknown Art. 6 basis '{art6}'")))?;
    let art9 = match art9 {
        None => None,
        Some(c) => Some(Art9Condition::from_code(c).ok_or_else(|| {
            ConsentError::InvalidPolicy(format!("unknown Art. 9 condition '{c}'"))
        })?),
    };
    Ok(LegalBasis { art6, art9 })
}

/// Normalise a chat reply or opt-out keyword for comparison
/// (docs/CONSENT.md, section 6.1): Unicode upper-casing (`ä` → `Ä`, `ß` and
/// `ẞ` → `SS`), a combining diaeresis after `A`, `O`, `U` composed to `Ä`,
/// `Ö`, `Ü` (other combining marks dropped), every run of characters that are
/// not letters or digits (white space, punctuation, symbols, emoji) turned
/// into one space, and none at the start or end.
///
/// ```
/// use caduceus_core::consent::normalize_reply;
/// assert_eq!(normalize_reply(" bitte   STOPP. "), "BITTE STOPP");
/// assert_eq!(normalize_reply("Stopp!! 🛑"), "STOPP");
/// assert_eq!(normalize_reply("Schluß"), "SCHLUSS");
/// ```
pub fn normalize_reply(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            match c {
                'ß' | 'ẞ' => out.push_str("SS"),
                _ => out.extend(c.to_uppercase()),
            }
        } else if ('\u{300}'..='\u{36f}').contains(&c) {
            if c == '\u{308}' {
                let composed = match out.chars().next_back() {
                    Some('A') => Some('Ä'),
                    Some('O') => Some('Ö'),
                    Some('U') => Some('Ü'),
                    _ => None,
                };
                if let Some(u) = composed {
                    out.pop();
                    out.push(u);
                }
            }
        } else {
            gap = true;
        }
    }
    out
}

/// Normalise a list of keywords: [`normalize_reply`] each, drop empty ones
/// and repeats, keep the order.
fn normalize_keywords<S: AsRef<str>>(keywords: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(keywords.len());
    for k in keywords {
        let n = normalize_reply(k.as_ref());
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

impl ConsentPolicy {
    /// Parse a policy from TOML (format in docs/CONSENT.md, section 2) and
    /// validate it. A text longer than [`MAX_POLICY_TOML_LEN`] bytes is
    /// refused before parsing, and one nesting tables or arrays more than
    /// [`MAX_POLICY_NESTING`] levels deep before the typed parse.
    pub fn from_toml(text: &str) -> Result<Self, ConsentError> {
        if text.len() > MAX_POLICY_TOML_LEN {
            return Err(ConsentError::InvalidPolicy(format!(
                "the policy file has {} bytes; at most {MAX_POLICY_TOML_LEN} are accepted",
                text.len()
            )));
        }
        if let Err(deep) = crate::toml_depth::check_nesting(text, MAX_POLICY_NESTING) {
            return Err(ConsentError::InvalidPolicy(format!(
                "the policy nests tables or arrays {} levels deep; at most {MAX_POLICY_NESTING} are accepted (a consent policy needs at most 3)",
                deep.depth
            )));
        }
        let parsed: PolicyToml = toml::from_str(text).map_err(|e| {
            ConsentError::InvalidPolicy(format!("not a valid policy file: {}", e.message()))
        })?;
        let defaults = Self::default();
        let mut purposes = Vec::with_capacity(parsed.purpose.len());
        for p in parsed.purpose {
            let alternative = match &p.alternative {
                None => None,
                Some(b) => Some(basis_from_codes(&b.art6, b.art9.as_deref())?),
            };
            let cfg = PurposeConfig {
                id: p.id,
                health_data: p.health_data,
                alternative,
                require_current_notice: p.require_current_notice,
                opt_out: p.opt_out.unwrap_or(true),
            };
            if p.opt_out == Some(false) && cfg.objectable() {
                return Err(ConsentError::InvalidPolicy(format!(
                    "purpose '{}' can be objected to at any time (Art. 7(3), 21 GDPR, § 7 UWG), so STOP must stop it; remove opt-out = false",
                    cfg.id
                )));
            }
            purposes.push(cfg);
        }
        let keywords = parsed.opt_out_keywords.unwrap_or(defaults.opt_out_keywords);
        if keywords.len() > MAX_KEYWORDS {
            return Err(ConsentError::InvalidPolicy(format!(
                "at most {MAX_KEYWORDS} opt-out keywords"
            )));
        }
        let policy = Self {
            purposes,
            opt_out_keywords: normalize_keywords(&keywords),
            max_clock_skew: parsed.max_clock_skew.unwrap_or(defaults.max_clock_skew),
        };
        if policy.opt_out_keywords.is_empty() {
            return Err(ConsentError::InvalidPolicy(
                "name at least one opt-out keyword with a letter or digit: opting out must stay as easy as opting in (Art. 7(3) GDPR)".into(),
            ));
        }
        policy.validate()?;
        Ok(policy)
    }

    /// Check the policy: 1 to 64 purposes with distinct label ids; an
    /// alternative basis that is not consent and, for health data, has an
    /// Art. 9 condition other than explicit consent; at most 32 keywords,
    /// each non-empty, in normalised form ([`normalize_reply`]) and at most
    /// [`MAX_KEYWORD_LEN`] bytes; a skew of 0 to 86 400 s.
    pub fn validate(&self) -> Result<(), ConsentError> {
        let bad = |m: String| Err(ConsentError::InvalidPolicy(m));
        if self.purposes.is_empty() || self.purposes.len() > MAX_PURPOSES {
            return bad(format!("name 1 to {MAX_PURPOSES} purposes"));
        }
        for (i, p) in self.purposes.iter().enumerate() {
            if label::check(&p.id).is_err() {
                return bad(format!(
                    "purpose {} has an invalid id; use 1 to 128 printable ASCII characters",
                    i + 1
                ));
            }
            if self.purposes.iter().take(i).any(|q| q.id == p.id) {
                return bad(format!("purpose '{}' is listed twice", p.id));
            }
            if let Some(alt) = p.alternative {
                if alt.art6 == Art6Basis::Consent
                    || alt.art9 == Some(Art9Condition::ExplicitConsent)
                {
                    return bad(format!(
                        "the alternative basis of purpose '{}' must not be consent; omit it to rely on consent",
                        p.id
                    ));
                }
                if p.health_data && alt.art9.is_none() {
                    return bad(format!(
                        "purpose '{}' processes health data; its alternative basis needs an Art. 9 condition",
                        p.id
                    ));
                }
                if !p.health_data && alt.art9.is_some() {
                    return bad(format!(
                        "purpose '{}' processes no health data; its alternative basis takes no Art. 9 condition",
                        p.id
                    ));
                }
            }
        }
        if self.opt_out_keywords.len() > MAX_KEYWORDS {
            return bad(format!("at most {MAX_KEYWORDS} opt-out keywords"));
        }
        for (i, k) in self.opt_out_keywords.iter().enumerate() {
            // Ledgers written before version 0.1.0 stored keywords with all
            // whitespace removed and upper-cased (printable ASCII): they
            // stay valid and are matched in normalised form.
            let legacy = label::check(k).is_ok()
                && k.chars()
                    .all(|c| c.is_ascii_graphic() && !c.is_ascii_lowercase());
            if k.is_empty() || k.len() > MAX_KEYWORD_LEN || (normalize_reply(k) != *k && !legacy) {
                return bad(format!(
                    "opt-out keyword {} must be 1 to {MAX_KEYWORD_LEN} bytes of upper-case words separated by single spaces (letters and digits only)",
                    i + 1
                ));
            }
        }
        if !(0..=MAX_SKEW).contains(&self.max_clock_skew) {
            return bad(format!("max-clock-skew must be 0 to {MAX_SKEW} seconds"));
        }
        Ok(())
    }

    /// The index of a purpose id.
    pub(crate) fn purpose_index(&self, id: &str) -> Option<usize> {
        self.purposes.iter().position(|p| p.id == id)
    }

    /// Whether a chat reply is an opt-out reply: its whole text, normalised
    /// with [`normalize_reply`], equals one of the keywords.
    pub fn is_opt_out(&self, reply: &str) -> bool {
        let n = normalize_reply(reply);
        !n.is_empty()
            && self
                .opt_out_keywords
                .iter()
                .any(|k| *k == n || normalize_reply(k) == n)
    }

    pub(crate) fn to_wire(&self) -> PolicyWire {
        PolicyWire(
            self.purposes
                .iter()
                .map(|p| {
                    PurposeWire(
                        p.id.clone(),
                        u8::from(p.health_data),
                        p.alternative.map(|b| {
                            (
                                b.art6.code().to_owned(),
                                b.art9.map(|c| c.code().to_owned()),
                            )
                        }),
                        u8::from(p.require_current_notice),
                        u8::from(p.opt_out),
                    )
                })
                .collect(),
            self.opt_out_keywords.clone(),
            self.max_clock_skew,
        )
    }

    pub(crate) fn from_wire(w: PolicyWire) -> Result<Self, ConsentError> {
        let mut purposes = Vec::with_capacity(w.0.len());
        for PurposeWire(id, health, alt, current, opt_out) in w.0 {
            let alternative = match &alt {
                None => None,
                Some((a6, a9)) => Some(
                    basis_from_codes(a6, a9.as_deref())
                        .map_err(|_| ConsentError::MalformedLedger("unknown legal basis code"))?,
                ),
            };
            purposes.push(PurposeConfig {
                id,
                health_data: flag(health)?,
                alternative,
                require_current_notice: flag(current)?,
                opt_out: flag(opt_out)?,
            });
        }
        let policy = Self {
            purposes,
            opt_out_keywords: w.1,
            max_clock_skew: w.2,
        };
        policy.validate()?;
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_is_the_default_policy() {
        assert_eq!(
            ConsentPolicy::from_toml(DEFAULT_POLICY_TOML).unwrap(),
            ConsentPolicy::default()
        );
        ConsentPolicy::default().validate().unwrap();
    }

    #[test]
    fn opt_out_phrases_match_the_whole_message_ignoring_case_space_and_punctuation() {
        let p = ConsentPolicy::default();
        for yes in [
            "STOP",
            "stop",
            " Stop \n",
            "Stopp!!",
            " bitte   STOPP. ",
            "Bitte stopp",
            "bitte\tstopp 🛑",
            "STOP, bitte!",
            "Please stop.",
            "Abmelden",
            "abbestellen",
            "Keine Nachrichten mehr!!!",
            "UNSUBSCRIBE",
            "opt-out",
            "„Widerruf“",
        ] {
            assert!(p.is_opt_out(yes), "{yes:?} must be an opt-out");
        }
        for no in [
            "",
            "!!!",
            "🛑",
            "Ich will nicht, dass Sie stoppen",
            "STOPPEN",
            "s t o p",
            "stop the reminders but keep my appointment",
            "nicht stoppen",
            "Termin absagen",
            "Ende",
            "Cancel",
            "ok",
        ] {
            assert!(!p.is_opt_out(no), "{no:?} must not be an opt-out");
        }
    }

    #[test]
    fn normalisation_folds_case_umlauts_and_sharp_s() {
        assert_eq!(normalize_reply("Kündigen"), "KÜNDIGEN");
        assert_eq!(normalize_reply("KU\u{308}NDIGEN"), "KÜNDIGEN");
        assert_eq!(normalize_reply("Schluß"), "SCHLUSS");
        assert_eq!(normalize_reply("SCHLUẞ"), "SCHLUSS");
        assert_eq!(
            normalize_reply("  keine -- Nachrichten\u{a0}mehr ✋ "),
            "KEINE NACHRICHTEN MEHR"
        );
        let p = ConsentPolicy::from_toml(
            "opt-out-keywords = [\"kündigen\", \"Schluß!\"]\n[[purpose]]\nid = \"marketing\"\n",
        )
        .unwrap();
        assert_eq!(p.opt_out_keywords, ["KÜNDIGEN", "SCHLUSS"]);
        for yes in ["KÜNDIGEN", "ku\u{308}ndigen.", "Schluss", "schluß"] {
            assert!(p.is_opt_out(yes), "{yes:?}");
        }
        assert!(
            !p.is_opt_out("STOP"),
            "the policy's own list replaces the default"
        );
    }

    #[test]
    fn every_objectable_purpose_stops_on_stop() {
        let p = ConsentPolicy::default();
        let stops: Vec<&str> = p
            .purposes
            .iter()
            .filter(|c| c.stops_on_opt_out())
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(stops, ["recall", "marketing"]);
        // opt-out defaults to true; false is refused where the patient can object.
        let t = ConsentPolicy::from_toml("[[purpose]]\nid = \"newsletter\"\n").unwrap();
        assert!(t.purposes[0].opt_out);
        for id in ["recall", "marketing"] {
            let e = ConsentPolicy::from_toml(&format!(
                "[[purpose]]\nid = \"{id}\"\nhealth-data = {}\nopt-out = false\n",
                id == "recall"
            ))
            .unwrap_err();
            assert!(e.to_string().contains("can be objected to"), "{e}");
        }
        let e = ConsentPolicy::from_toml(
            "[[purpose]]\nid = \"reviews\"\nalternative = { art6 = \"legitimate-interests\" }\nopt-out = false\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("can be objected to"), "{e}");
        // A ledger written before this rule (recall with opt-out = 0) still
        // loads, and its recall still stops on STOP.
        let mut old = ConsentPolicy::default();
        old.purposes[2].opt_out = false;
        let loaded = ConsentPolicy::from_wire(old.to_wire()).unwrap();
        assert!(loaded.purposes[2].stops_on_opt_out());
    }

    #[test]
    fn keywords_of_earlier_versions_still_load_and_match_normalised() {
        let old = ConsentPolicy {
            opt_out_keywords: vec!["STOP".into(), "KEINE-WERBUNG".into(), "!!!".into()],
            ..ConsentPolicy::default()
        };
        let loaded = ConsentPolicy::from_wire(old.to_wire()).unwrap();
        // Kept as stored, so the ledger file re-encodes byte for byte.
        assert_eq!(loaded, old);
        assert!(loaded.is_opt_out("Keine Werbung!"));
        assert!(loaded.is_opt_out("keine-werbung"));
        assert!(!loaded.is_opt_out("!!!"));
        let bad = ConsentPolicy {
            opt_out_keywords: vec!["stop".into()],
            ..ConsentPolicy::default()
        };
        assert!(bad.validate().is_err());
        assert!(
            ConsentPolicy::from_toml("opt-out-keywords = [\"!!\"]\n[[purpose]]\nid = \"x\"\n")
                .is_err()
        );
    }

    #[test]
    fn the_default_policy_is_the_standard_purpose_table() {
        let p = ConsentPolicy::default();
        for (cfg, std) in p.purposes.iter().zip(STANDARD_PURPOSES.iter()) {
            assert_eq!(cfg, &std.config());
            assert_eq!(standard_purpose(&cfg.id), Some(std));
        }
        assert_eq!(p.purposes.len(), STANDARD_PURPOSES.len());
        assert_eq!(p.opt_out_keywords, DEFAULT_OPT_OUT_KEYWORDS);
        for k in DEFAULT_OPT_OUT_KEYWORDS {
            assert_eq!(normalize_reply(k), k);
        }
    }

    #[test]
    fn invalid_policies_are_refused() {
        let mut p = ConsentPolicy::default();
        p.purposes[0].alternative = Some(LegalBasis {
            art6: Art6Basis::Contract,
            art9: None,
        });
        assert!(matches!(p.validate(), Err(ConsentError::InvalidPolicy(_))));
        let mut p = ConsentPolicy::default();
        p.purposes.push(p.purposes[0].clone());
        assert!(p.validate().is_err());
        let p = ConsentPolicy {
            max_clock_skew: -1,
            ..ConsentPolicy::default()
        };
        assert!(p.validate().is_err());
        assert!(ConsentPolicy::from_toml("[[purpose]]\nid = \"x\"\nfoo = 1\n").is_err());
        assert!(
            ConsentPolicy::from_toml(
                "[[purpose]]\nid = \"x\"\nalternative = { art6 = \"bribery\" }\n"
            )
            .is_err()
        );
    }
}
