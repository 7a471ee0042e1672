//! The consent policy: purposes, their legal bases, opt-out keywords and the
//! allowed clock skew.

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
    /// Whether an opt-out keyword (STOP) withdraws this purpose.
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
}

/// The consent policy of a ledger.
///
/// The default ([`ConsentPolicy::default`], the same as
/// [`DEFAULT_POLICY_TOML`]) has four purposes, all resting on consent:
/// `treatment-communication`, `clinical-photos` and `recall` (health data:
/// explicit consent) and `marketing` (withdrawn by STOP); opt-out keywords
/// `STOP`, `STOPP`, `ABMELDEN`; a clock skew of 300 s.
///
/// ```
/// use caduceus_core::consent::{Art6Basis, Art9Condition, ConsentPolicy, LegalBasis};
/// let policy = ConsentPolicy::from_toml(r#"
///     max-clock-skew = 120
///     opt-out-keywords = ["STOP", "STOPP", "ABMELDEN"]
///     [[purpose]]
///     id = "treatment-communication"
///     health-data = true
///     alternative = { art6 = "contract", art9 = "health-care" }
///     [[purpose]]
///     id = "marketing"
///     opt-out = true
/// "#).unwrap();
/// assert_eq!(policy.purposes[0].alternative, Some(LegalBasis {
///     art6: Art6Basis::Contract, art9: Some(Art9Condition::HealthCare) }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPolicy {
    /// The purposes, in a fixed order (1 to [`MAX_PURPOSES`]).
    pub purposes: Vec<PurposeConfig>,
    /// Chat replies that withdraw the opt-out purposes, compared after
    /// removing all whitespace and upper-casing.
    pub opt_out_keywords: Vec<String>,
    /// How far (seconds) an event may lie ahead of the caller's `now`.
    pub max_clock_skew: i64,
}

/// The default policy as TOML (what `caduceus consent init` writes).
pub const DEFAULT_POLICY_TOML: &str = r#"# Caduceus consent policy (docs/CONSENT.md, section 2).
# Seconds an event may lie ahead of the clock of the recording system.
max-clock-skew = 300
# Chat replies that withdraw every purpose with opt-out = true
# (case- and whitespace-insensitive).
opt-out-keywords = ["STOP", "STOPP", "ABMELDEN"]

[[purpose]]
id = "treatment-communication"
health-data = true
# Uncomment to rely on the treatment contract when no consent is in effect:
# alternative = { art6 = "contract", art9 = "health-care" }

[[purpose]]
id = "clinical-photos"
health-data = true

[[purpose]]
id = "recall"
health-data = true
# Set to true to let STOP also withdraw recalls.
opt-out = false

[[purpose]]
id = "marketing"
health-data = false
opt-out = true
"#;

fn purpose(id: &str, health_data: bool, opt_out: bool) -> PurposeConfig {
    PurposeConfig {
        id: id.to_owned(),
        health_data,
        alternative: None,
        require_current_notice: false,
        opt_out,
    }
}

impl Default for ConsentPolicy {
    fn default() -> Self {
        Self {
            purposes: vec![
                purpose("treatment-communication", true, false),
                purpose("clinical-photos", true, false),
                purpose("recall", true, false),
                purpose("marketing", false, true),
            ],
            opt_out_keywords: vec!["STOP".into(), "STOPP".into(), "ABMELDEN".into()],
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
    #[serde(default)]
    opt_out: bool,
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

/// Normalise a chat reply or keyword: drop all whitespace, upper-case.
pub(crate) fn normalize_keyword(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
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
            purposes.push(PurposeConfig {
                id: p.id,
                health_data: p.health_data,
                alternative,
                require_current_notice: p.require_current_notice,
                opt_out: p.opt_out,
            });
        }
        let policy = Self {
            purposes,
            opt_out_keywords: parsed
                .opt_out_keywords
                .unwrap_or(defaults.opt_out_keywords)
                .iter()
                .map(|k| normalize_keyword(k))
                .collect(),
            max_clock_skew: parsed.max_clock_skew.unwrap_or(defaults.max_clock_skew),
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Check the policy: 1 to 64 purposes with distinct label ids; an
    /// alternative basis that is not consent and, for health data, has an
    /// Art. 9 condition other than explicit consent; keywords that are
    /// non-empty labels after normalisation; a skew of 0 to 86 400 s.
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
        for k in &self.opt_out_keywords {
            if label::check(k).is_err() || normalize_keyword(k) != *k {
                return bad(
                    "opt-out keywords must be printable ASCII words without spaces (upper case)"
                        .into(),
                );
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

    /// Whether a chat reply is an opt-out keyword.
    pub fn is_opt_out(&self, reply: &str) -> bool {
        let n = normalize_keyword(reply);
        !n.is_empty() && self.opt_out_keywords.contains(&n)
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
    fn keywords_are_case_and_whitespace_insensitive() {
        let p = ConsentPolicy::default();
        for yes in ["STOP", "stop", " Stop \n", "s t o p", "Stopp", "abmelden"] {
            assert!(p.is_opt_out(yes), "{yes}");
        }
        for no in ["", "stop please", "STOPPEN", "ok"] {
            assert!(!p.is_opt_out(no), "{no}");
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
