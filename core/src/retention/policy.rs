//! The policy file (TOML): parsing, validation with locations, the model,
//! and the canonical form and hash. The format is specified in
//! `docs/POLICY.md`.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::Serialize;
use serde_json::{Value, json};
use toml::Spanned;

use super::date::Period;
use crate::suite;

/// Longest retention period a policy may state (in years, all parts together).
pub const MAX_PERIOD_YEARS: u32 = 150;
/// Most categories a policy may define (category ids are `u16`).
pub const MAX_CATEGORIES: usize = 1024;
/// Most retention rules on one category (the sweep evaluates every rule of
/// a record's category; the lint compares them pairwise).
pub const MAX_RULES_PER_CATEGORY: usize = 16;
/// Longest policy text accepted, in bytes (the shipped policy has about
/// 16 KB; the TOML parser allocates a multiple of its input).
pub const MAX_POLICY_LEN: usize = 1 << 20;
/// Deepest nesting of tables and arrays accepted in a policy text, the
/// retention policy's and the consent policy's
/// ([`ConsentPolicy::from_toml`](crate::consent::ConsentPolicy::from_toml)):
/// a top-level table or array is level 1. The policy formats need at most
/// 3 levels (`[[category]]` is an array of tables, 2; a list in it, 3). Checked before the
/// typed parse, without recursion: the `toml` crate's own limits allow some
/// 6 500 nested tables, whose drop would need about 1 MiB of stack.
pub const MAX_POLICY_NESTING: usize = 32;

/// Where something is in the policy text: 1-based line and column (column
/// in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Location {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub fn of(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = text.get(..offset).unwrap_or_default();
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
        Self {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

impl core::fmt::Display for Location {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a policy text was refused. Nothing of a refused policy is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not valid TOML, or has an unknown or missing key, or a
    /// value of the wrong type.
    #[error("policy {location}: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// What was wrong and what to do.
        message: String,
    },
    /// The TOML is well formed but a value is not allowed (unknown
    /// category or role, negative or absurd duration, duplicate id, ...).
    #[error("policy {location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What was wrong and what to do.
        message: String,
    },
}

impl PolicyError {
    /// The location of the error.
    pub fn location(&self) -> Location {
        match self {
            Self::Syntax { location, .. } | Self::Invalid { location, .. } => *location,
        }
    }
}

/// The date a retention period runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum Anchor {
    /// The record's creation (message received, image taken, entry logged,
    /// snapshot made).
    Created = 0,
    /// The subject's last contact of this kind (last message, last
    /// examination or treatment).
    LastContact = 1,
    /// The end of treatment.
    EndOfTreatment = 2,
    /// The billing date (invoice issued).
    Billing = 3,
    /// The end of the consent (withdrawal or expiry).
    ConsentEnd = 4,
    /// The subject's date of birth (for "until the 28th birthday").
    Birth = 5,
}

/// Number of [`Anchor`]s.
pub const ANCHOR_COUNT: usize = 6;

impl Anchor {
    /// Every anchor, in index order.
    pub const ALL: [Anchor; ANCHOR_COUNT] = [
        Anchor::Created,
        Anchor::LastContact,
        Anchor::EndOfTreatment,
        Anchor::Billing,
        Anchor::ConsentEnd,
        Anchor::Birth,
    ];

    /// The policy spelling, e.g. `end-of-treatment`.
    pub fn name(self) -> &'static str {
        match self {
            Anchor::Created => "created",
            Anchor::LastContact => "last-contact",
            Anchor::EndOfTreatment => "end-of-treatment",
            Anchor::Billing => "billing",
            Anchor::ConsentEnd => "consent-end",
            Anchor::Birth => "birth",
        }
    }

    /// The anchor with the policy spelling `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    fn english(self) -> &'static str {
        match self {
            Anchor::Created => "creation",
            Anchor::LastContact => "last contact",
            Anchor::EndOfTreatment => "end of treatment",
            Anchor::Billing => "billing",
            Anchor::ConsentEnd => "end of consent",
            Anchor::Birth => "date of birth",
        }
    }
}

/// What happens when a record's retention has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Destroy the subject-category keyring record (crypto-shredding:
    /// reaches every copy and backup of the envelopes).
    ShredKey,
    /// Delete the record.
    DeleteRecord,
    /// Remove the link to the subject (keep only anonymous statistics).
    Anonymise,
    /// A person decides (no automatic deletion).
    Review,
}

impl Action {
    /// The policy spelling.
    pub fn name(self) -> &'static str {
        match self {
            Action::ShredKey => "shred-key",
            Action::DeleteRecord => "delete-record",
            Action::Anonymise => "anonymise",
            Action::Review => "review",
        }
    }

    /// True for actions that remove personal data (all but review).
    pub fn erases(self) -> bool {
        !matches!(self, Action::Review)
    }
}

/// An Art. 17(3) GDPR ground that lets a retention rule survive an erasure
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ground {
    /// Medical documentation duty (§ 630f BGB, professional codes):
    /// Art. 17(3)(b) and (c).
    DocumentationDuty,
    /// Commercial and tax retention (§ 147 AO, § 257 HGB, § 14b UStG):
    /// Art. 17(3)(b).
    TaxLaw,
    /// Radiation protection records (§ 85 StrlSchG): Art. 17(3)(b) and (c).
    RadiationProtection,
    /// Establishment, exercise or defence of legal claims: Art. 17(3)(e).
    LegalClaims,
}

impl Ground {
    /// The policy spelling.
    pub fn name(self) -> &'static str {
        match self {
            Ground::DocumentationDuty => "documentation-duty",
            Ground::TaxLaw => "tax-law",
            Ground::RadiationProtection => "radiation-protection",
            Ground::LegalClaims => "legal-claims",
        }
    }

    /// The GDPR provision.
    pub fn article(self) -> &'static str {
        match self {
            Ground::DocumentationDuty | Ground::RadiationProtection => "Art. 17(3)(b), (c) GDPR",
            Ground::TaxLaw => "Art. 17(3)(b) GDPR",
            Ground::LegalClaims => "Art. 17(3)(e) GDPR",
        }
    }

    /// Plain English reason.
    pub fn english(self) -> &'static str {
        match self {
            Ground::DocumentationDuty => "the law requires us to keep your medical documentation",
            Ground::TaxLaw => "tax and commercial law require us to keep billing records",
            Ground::RadiationProtection => {
                "radiation protection law requires us to keep X-ray records"
            }
            Ground::LegalClaims => "we need them to establish, exercise or defend legal claims",
        }
    }

    /// Plain German reason, as a subordinate clause after "weil" (verb
    /// last).
    pub fn german(self) -> &'static str {
        match self {
            Ground::DocumentationDuty => {
                "wir gesetzlich verpflichtet sind, Ihre Behandlungsdokumentation aufzubewahren"
            }
            Ground::TaxLaw => {
                "Steuer- und Handelsrecht uns verpflichten, Abrechnungsunterlagen aufzubewahren"
            }
            Ground::RadiationProtection => {
                "das Strahlenschutzrecht uns verpflichtet, Röntgenaufzeichnungen aufzubewahren"
            }
            Ground::LegalClaims => {
                "wir die Daten zur Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen benötigen"
            }
        }
    }
}

/// The Art. 6(1) GDPR legal basis of a processing activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Art6 {
    /// (a) consent.
    A,
    /// (b) contract (the treatment contract, § 630a BGB).
    B,
    /// (c) legal obligation.
    C,
    /// (d) vital interests.
    D,
    /// (e) public task.
    E,
    /// (f) legitimate interests.
    F,
}

impl Art6 {
    /// The citation, e.g. `Art. 6(1)(a) GDPR`.
    pub fn citation(self) -> String {
        format!("Art. 6(1)({}) GDPR", self.letter())
    }

    /// The letter, `a`..`f`.
    pub fn letter(self) -> char {
        match self {
            Art6::A => 'a',
            Art6::B => 'b',
            Art6::C => 'c',
            Art6::D => 'd',
            Art6::E => 'e',
            Art6::F => 'f',
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "a" => Art6::A,
            "b" => Art6::B,
            "c" => Art6::C,
            "d" => Art6::D,
            "e" => Art6::E,
            "f" => Art6::F,
            _ => return None,
        })
    }
}

/// The Art. 9(2) GDPR condition for special-category (health) data, as its
/// letter `a`..`j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Art9(char);

impl Art9 {
    /// The letter, `a`..`j`.
    pub fn letter(self) -> char {
        self.0
    }

    /// The citation, e.g. `Art. 9(2)(h) GDPR`.
    pub fn citation(self) -> String {
        format!("Art. 9(2)({}) GDPR", self.0)
    }

    fn parse(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c @ 'a'..='j'), None) => Some(Self(c)),
            _ => None,
        }
    }
}

/// Policy-wide settings (`[policy]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMeta {
    /// Short id, e.g. `de-practice`.
    pub id: String,
    /// Title.
    pub name: String,
    /// The author's version string.
    pub version: String,
    /// The controller (the practice), as it appears in the register.
    pub controller: String,
    /// Contact of the data protection officer, if any.
    pub dpo: Option<String>,
    /// The practice's promise for answering a data-subject request, in hours,
    /// if shorter than the month of Art. 12(3).
    pub answer_promise_hours: Option<u32>,
    /// The category of the audit log.
    pub audit_category: Option<String>,
    /// The categories whose handling the audit log must prove (default:
    /// every other category).
    pub audit_proves: Option<Vec<String>>,
    /// Where the `[policy]` table is.
    pub location: Location,
}

/// A data category (`[[category]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Id, as in envelope labels, e.g. `clinical-photos`.
    pub id: String,
    /// English name.
    pub name: String,
    /// German name.
    pub name_de: String,
    /// Special-category data (health data, Art. 9 GDPR).
    pub special: bool,
    /// Clinical content: only clinical roles may read it.
    pub clinical: bool,
    /// Provided by the data subject (relevant for portability, Art. 20).
    pub provided_by_subject: bool,
    /// Where it is defined.
    pub location: Location,
}

/// A retention rule (`[[retention]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The category it applies to.
    pub category: String,
    /// The period.
    pub period: Period,
    /// What it runs from.
    pub from: Anchor,
    /// Runs from the end of the anchor's calendar year (31 Dec 24:00
    /// Europe/Berlin) instead of the anchor day.
    pub end_of_year: bool,
    /// What happens at expiry.
    pub action: Action,
    /// The Art. 17(3) ground, if the rule is a legal obligation that
    /// survives an erasure request.
    pub ground: Option<Ground>,
    /// The legal source, e.g. `§ 630f (3) BGB`.
    pub source: String,
    /// Where it is defined.
    pub location: Location,
    /// Where its `action` is.
    pub action_location: Location,
}

impl Rule {
    /// English description, e.g. `10 years from the end of the calendar year of end of treatment`.
    pub fn describe(&self) -> String {
        if self.end_of_year {
            format!(
                "{} from the end of the calendar year of {}",
                self.period.to_english(),
                self.from.english()
            )
        } else {
            format!("{} from {}", self.period.to_english(), self.from.english())
        }
    }
}

/// A processing activity (`[[activity]]`), in the shape of Art. 30(1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Purpose (Art. 30(1)(b)).
    pub purpose: String,
    /// Direct marketing.
    pub marketing: bool,
    /// Data categories processed.
    pub categories: Vec<String>,
    /// Categories of data subjects.
    pub subjects: Vec<String>,
    /// Art. 6(1) legal basis.
    pub art6: Art6,
    /// Art. 9(2) condition, for special-category data.
    pub art9: Option<Art9>,
    /// The national law or contract the basis rests on, in words.
    pub basis_note: Option<String>,
    /// The consent-policy purpose whose messages this activity sends
    /// (`consent-purpose`, e.g. `recall`): `lint` checks that `art6` and
    /// `art9` state the basis the consent engine decides on.
    pub consent_purpose: Option<String>,
    /// Internal recipients: roles.
    pub roles: Vec<String>,
    /// Processors and external recipients (ids of `[[processor]]`).
    pub processors: Vec<String>,
    /// Other recipients (e.g. laboratories, insurers), in words.
    pub recipients: Vec<String>,
    /// Where it is defined.
    pub location: Location,
}

/// A processor or external recipient (`[[processor]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processor {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// What it does.
    pub service: String,
    /// ISO 3166-1 alpha-2 country of processing.
    pub country: String,
    /// Transfer mechanism for a third country (Art. 44 ff.).
    pub transfer: Option<String>,
    /// Where it is defined.
    pub location: Location,
}

/// An access role (`[[role]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Id, e.g. `doctor`.
    pub id: String,
    /// Name.
    pub name: String,
    /// A clinical role (may read clinical categories).
    pub clinical: bool,
    /// Categories it may read (receives a wrapped key copy).
    pub read: Vec<String>,
    /// Categories it may write.
    pub write: Vec<String>,
    /// Categories it may export.
    pub export: Vec<String>,
    /// Where it is defined.
    pub location: Location,
    /// Where each `read` entry is.
    pub read_locations: Vec<Location>,
}

/// EU and EEA member states (ISO 3166-1 alpha-2; Greece as `GR`, also `EL`).
pub const EEA: [&str; 31] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "EL", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

// ---- raw TOML shapes -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPolicy {
    policy: Spanned<RawMeta>,
    #[serde(default)]
    category: Vec<Spanned<RawCategory>>,
    #[serde(default)]
    retention: Vec<Spanned<RawRule>>,
    #[serde(default)]
    activity: Vec<Spanned<RawActivity>>,
    #[serde(default)]
    processor: Vec<Spanned<RawProcessor>>,
    #[serde(default)]
    role: Vec<Spanned<RawRole>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawMeta {
    id: Spanned<String>,
    name: String,
    version: String,
    controller: String,
    dpo: Option<String>,
    answer_promise_hours: Option<Spanned<i64>>,
    audit_category: Option<Spanned<String>>,
    audit_proves: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCategory {
    id: Spanned<String>,
    name: String,
    name_de: String,
    #[serde(default)]
    special: bool,
    #[serde(default)]
    clinical: bool,
    #[serde(default)]
    provided_by_subject: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRule {
    category: Spanned<String>,
    years: Option<Spanned<i64>>,
    months: Option<Spanned<i64>>,
    days: Option<Spanned<i64>>,
    from: Anchor,
    #[serde(default)]
    end_of_year: bool,
    action: Spanned<Action>,
    ground: Option<Ground>,
    source: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawActivity {
    id: Spanned<String>,
    name: String,
    purpose: String,
    #[serde(default)]
    marketing: bool,
    categories: Vec<Spanned<String>>,
    subjects: Vec<String>,
    art6: Spanned<String>,
    art9: Option<Spanned<String>>,
    basis_note: Option<String>,
    consent_purpose: Option<String>,
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    #[serde(default)]
    processors: Vec<Spanned<String>>,
    #[serde(default)]
    recipients: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProcessor {
    id: Spanned<String>,
    name: String,
    service: String,
    country: Spanned<String>,
    transfer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRole {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    clinical: bool,
    #[serde(default)]
    read: Vec<Spanned<String>>,
    #[serde(default)]
    write: Vec<Spanned<String>>,
    #[serde(default)]
    export: Vec<Spanned<String>>,
}

// ---- the validated policy --------------------------------------------------

/// A validated retention, access and register policy.
///
/// Parse one with [`Policy::parse`]; check it with
/// [`lint`](super::lint); run the engine with [`Policy::evaluate`] and
/// [`Policy::sweep`].
///
/// ```
/// use caduceus_core::retention::Policy;
/// let policy = Policy::parse(caduceus_core::retention::DEFAULT_POLICY).unwrap();
/// assert_eq!(policy.meta().id, "de-practice");
/// assert!(policy.hash_hex().starts_with("sha256:"));
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) meta: PolicyMeta,
    pub(crate) categories: Vec<Category>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) activities: Vec<Activity>,
    pub(crate) processors: Vec<Processor>,
    pub(crate) roles: Vec<Role>,
    pub(crate) hash: [u8; 32],
    pub(crate) compiled: super::engine::Compiled,
}

/// Bytes per block of [`LineIndex::chars`].
const CHAR_BLOCK: usize = 1024;

/// Where the lines of a policy text start and how many characters precede
/// each block of [`CHAR_BLOCK`] bytes, so that a [`Location`] costs a
/// binary search and at most one block scan instead of a scan from the
/// start of the text (a policy has a location per category, rule, role
/// and reference, which made parsing quadratic in the text's length).
struct LineIndex {
    /// Byte offset of the start of each line (the first is 0).
    starts: Vec<usize>,
    /// Characters before byte `i * CHAR_BLOCK`, for every block and the end.
    chars: Vec<usize>,
}

/// Characters in `bytes`, which start and end at character boundaries.
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xc0 != 0x80).count()
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut chars = Vec::with_capacity(bytes.len() / CHAR_BLOCK + 2);
        let mut n = 0;
        for block in bytes.chunks(CHAR_BLOCK) {
            chars.push(n);
            n += char_count(block);
        }
        chars.push(n);
        Self { starts, chars }
    }

    /// Characters of `text` before byte `offset` (a character boundary).
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let block = offset / CHAR_BLOCK;
        let base = self.chars.get(block).copied().unwrap_or(0);
        let rest = text
            .as_bytes()
            .get(block * CHAR_BLOCK..offset)
            .unwrap_or_default();
        base + char_count(rest)
    }

    /// The same as [`Location::of`]`(text, offset)`.
    fn location(&self, text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self.chars_before(text, offset) - self.chars_before(text, line_start) + 1;
        Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

struct Ctx<'a> {
    text: &'a str,
    lines: LineIndex,
}

impl Ctx<'_> {
    fn loc(&self, span: &core::ops::Range<usize>) -> Location {
        self.lines.location(self.text, span.start)
    }

    fn invalid(&self, span: &core::ops::Range<usize>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            location: self.loc(span),
            message: message.into(),
        }
    }

    fn id(&self, s: &Spanned<String>, what: &str) -> Result<String, PolicyError> {
        let v = s.get_ref();
        let ok = !v.is_empty()
            && v.len() <= crate::MAX_LABEL_LEN
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !v.starts_with('-')
            && crate::label::check(v).is_ok();
        if ok {
            Ok(v.clone())
        } else {
            Err(self.invalid(
                &s.span(),
                format!("invalid {what} id: use 1 to 128 characters a-z, 0-9 and '-', starting with a letter or digit"),
            ))
        }
    }

    fn count(&self, v: &Option<Spanned<i64>>, what: &str) -> Result<u16, PolicyError> {
        match v {
            None => Ok(0),
            Some(s) => {
                let n = *s.get_ref();
                if n < 0 {
                    return Err(self.invalid(
                        &s.span(),
                        format!("negative {what}: a retention period runs forward; write a number from 0"),
                    ));
                }
                u16::try_from(n).map_err(|_| {
                    self.invalid(
                        &s.span(),
                        format!("absurd number of {what}: a period may be at most {MAX_PERIOD_YEARS} years"),
                    )
                })
            }
        }
    }
}

fn check_refs(
    ctx: &Ctx<'_>,
    refs: &[Spanned<String>],
    known: &BTreeSet<&str>,
    what: &str,
    fix: &str,
) -> Result<Vec<String>, PolicyError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        if !known.contains(r.get_ref().as_str()) {
            return Err(ctx.invalid(
                &r.span(),
                format!("unknown {what} '{}': {fix}", printable(r.get_ref())),
            ));
        }
        if !seen.insert(r.get_ref().as_str()) {
            return Err(ctx.invalid(
                &r.span(),
                format!("{what} '{}' is listed twice; list it once", r.get_ref()),
            ));
        }
        out.push(r.get_ref().clone());
    }
    Ok(out)
}

/// At most 64 characters of `s`, control characters replaced, for messages.
fn printable(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn unique<'a>(
    ctx: &Ctx<'_>,
    ids: impl Iterator<Item = &'a Spanned<String>>,
    what: &str,
) -> Result<(), PolicyError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id.get_ref().as_str()) {
            return Err(ctx.invalid(
                &id.span(),
                format!(
                    "duplicate {what} id '{}': give each {what} its own id",
                    id.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

impl Policy {
    /// Parse and validate a policy from its TOML text.
    ///
    /// Malformed TOML, unknown keys, unknown categories, roles or
    /// processors, duplicate ids, negative or absurd durations and rules
    /// without a duration are errors with a line and column; nothing of a
    /// refused policy is used. A text longer than [`MAX_POLICY_LEN`] bytes
    /// is refused before parsing ([`PolicyError::Invalid`] at line 1), and
    /// tables or arrays nested more than [`MAX_POLICY_NESTING`] levels deep
    /// are refused before the typed parse ([`PolicyError::Invalid`] at the
    /// first one too deep).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_LEN {
            return Err(PolicyError::Invalid {
                location: Location { line: 1, column: 1 },
                message: format!(
                    "the policy has {} bytes; at most {MAX_POLICY_LEN} are accepted",
                    text.len()
                ),
            });
        }
        if let Err(deep) = crate::toml_depth::check_nesting(text, MAX_POLICY_NESTING) {
            return Err(PolicyError::Invalid {
                location: Location::of(text, deep.span.start),
                message: format!(
                    "tables or arrays nested {} levels deep; at most {MAX_POLICY_NESTING} are accepted",
                    deep.depth
                ),
            });
        }
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            location: Location::of(text, e.span().map_or(0, |s| s.start)),
            message: toml_message(e.message()),
        })?;
        let ctx = Ctx {
            text,
            lines: LineIndex::new(text),
        };
        let meta_span = raw.policy.span();
        let m = raw.policy.into_inner();

        // Categories.
        unique(
            &ctx,
            raw.category.iter().map(|c| &c.get_ref().id),
            "category",
        )?;
        if raw.category.len() > MAX_CATEGORIES {
            return Err(ctx.invalid(
                &meta_span,
                format!("too many categories: at most {MAX_CATEGORIES}"),
            ));
        }
        let mut categories = Vec::with_capacity(raw.category.len());
        for c in &raw.category {
            let r = c.get_ref();
            categories.push(Category {
                id: ctx.id(&r.id, "category")?,
                name: r.name.clone(),
                name_de: r.name_de.clone(),
                special: r.special,
                clinical: r.clinical,
                provided_by_subject: r.provided_by_subject,
                location: ctx.loc(&c.span()),
            });
        }
        let cat_ids: BTreeSet<&str> = categories.iter().map(|c| c.id.as_str()).collect();
        let cat_fix = "define it in a [[category]] table or correct the spelling";

        // Retention rules.
        let mut rules = Vec::with_capacity(raw.retention.len());
        let mut rules_per_category = std::collections::BTreeMap::<&str, usize>::new();
        for r in &raw.retention {
            let span = r.span();
            let r = r.get_ref();
            if !cat_ids.contains(r.category.get_ref().as_str()) {
                return Err(ctx.invalid(
                    &r.category.span(),
                    format!(
                        "unknown category '{}': {cat_fix}",
                        printable(r.category.get_ref())
                    ),
                ));
            }
            let n = rules_per_category
                .entry(r.category.get_ref().as_str())
                .or_default();
            *n += 1;
            if *n > MAX_RULES_PER_CATEGORY {
                return Err(ctx.invalid(
                    &span,
                    format!(
                        "too many retention rules on category '{}': at most {MAX_RULES_PER_CATEGORY}; merge rules with the same anchor (the longest one decides)",
                        r.category.get_ref()
                    ),
                ));
            }
            if r.years.is_none() && r.months.is_none() && r.days.is_none() {
                return Err(ctx.invalid(
                    &span,
                    "retention rule without a duration: give years, months and/or days",
                ));
            }
            let period = Period {
                years: ctx.count(&r.years, "years")?,
                months: ctx.count(&r.months, "months")?,
                days: ctx.count(&r.days, "days")?,
            };
            if period.min_days() > MAX_PERIOD_YEARS * 365 {
                let at = r
                    .years
                    .as_ref()
                    .or(r.months.as_ref())
                    .or(r.days.as_ref())
                    .map_or(span.clone(), Spanned::span);
                return Err(ctx.invalid(
                    &at,
                    format!("absurd retention period: at most {MAX_PERIOD_YEARS} years in all"),
                ));
            }
            if r.source.get_ref().trim().is_empty() {
                return Err(ctx.invalid(
                    &r.source.span(),
                    "empty source: name the law or document the period comes from",
                ));
            }
            rules.push(Rule {
                category: r.category.get_ref().clone(),
                period,
                from: r.from,
                end_of_year: r.end_of_year,
                action: *r.action.get_ref(),
                ground: r.ground,
                source: r.source.get_ref().clone(),
                location: ctx.loc(&span),
                action_location: ctx.loc(&r.action.span()),
            });
        }

        // Roles.
        unique(&ctx, raw.role.iter().map(|r| &r.get_ref().id), "role")?;
        let mut roles = Vec::with_capacity(raw.role.len());
        for ro in &raw.role {
            let r = ro.get_ref();
            roles.push(Role {
                id: ctx.id(&r.id, "role")?,
                name: r.name.clone(),
                clinical: r.clinical,
                read: check_refs(&ctx, &r.read, &cat_ids, "category", cat_fix)?,
                write: check_refs(&ctx, &r.write, &cat_ids, "category", cat_fix)?,
                export: check_refs(&ctx, &r.export, &cat_ids, "category", cat_fix)?,
                location: ctx.loc(&ro.span()),
                read_locations: r.read.iter().map(|s| ctx.loc(&s.span())).collect(),
            });
        }
        let role_ids: BTreeSet<&str> = roles.iter().map(|r| r.id.as_str()).collect();

        // Processors.
        unique(
            &ctx,
            raw.processor.iter().map(|p| &p.get_ref().id),
            "processor",
        )?;
        let mut processors = Vec::with_capacity(raw.processor.len());
        for p in &raw.processor {
            let r = p.get_ref();
            let country = r.country.get_ref();
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ctx.invalid(
                    &r.country.span(),
                    "country must be an ISO 3166-1 alpha-2 code in capitals, e.g. DE, IE, US",
                ));
            }
            processors.push(Processor {
                id: ctx.id(&r.id, "processor")?,
                name: r.name.clone(),
                service: r.service.clone(),
                country: country.clone(),
                transfer: r.transfer.clone().filter(|t| !t.trim().is_empty()),
                location: ctx.loc(&p.span()),
            });
        }
        let proc_ids: BTreeSet<&str> = processors.iter().map(|p| p.id.as_str()).collect();

        // Activities.
        unique(
            &ctx,
            raw.activity.iter().map(|a| &a.get_ref().id),
            "activity",
        )?;
        let mut activities = Vec::with_capacity(raw.activity.len());
        for a in &raw.activity {
            let r = a.get_ref();
            let art6 = Art6::parse(r.art6.get_ref()).ok_or_else(|| {
                ctx.invalid(
                    &r.art6.span(),
                    "art6 must be one letter a to f (Art. 6(1)(a)-(f) GDPR)",
                )
            })?;
            let art9 = match &r.art9 {
                None => None,
                Some(s) => Some(Art9::parse(s.get_ref()).ok_or_else(|| {
                    ctx.invalid(
                        &s.span(),
                        "art9 must be one letter a to j (Art. 9(2)(a)-(j) GDPR)",
                    )
                })?),
            };
            if r.categories.is_empty() {
                return Err(ctx.invalid(&a.span(), "an activity needs at least one data category"));
            }
            activities.push(Activity {
                id: ctx.id(&r.id, "activity")?,
                name: r.name.clone(),
                purpose: r.purpose.clone(),
                marketing: r.marketing,
                categories: check_refs(&ctx, &r.categories, &cat_ids, "category", cat_fix)?,
                subjects: r.subjects.clone(),
                art6,
                art9,
                basis_note: r.basis_note.clone(),
                consent_purpose: r.consent_purpose.clone(),
                roles: check_refs(
                    &ctx,
                    &r.roles,
                    &role_ids,
                    "role",
                    "define it in a [[role]] table or correct the spelling",
                )?,
                processors: check_refs(
                    &ctx,
                    &r.processors,
                    &proc_ids,
                    "processor",
                    "define it in a [[processor]] table or correct the spelling",
                )?,
                recipients: r.recipients.clone(),
                location: ctx.loc(&a.span()),
            });
        }

        // Policy-wide settings.
        let answer_promise_hours = match &m.answer_promise_hours {
            None => None,
            Some(h) => {
                let v = *h.get_ref();
                if !(1..=24 * 92).contains(&v) {
                    return Err(ctx.invalid(
                        &h.span(),
                        "answer-promise-hours must be 1 to 2208 (the law allows one month, three at most)",
                    ));
                }
                u32::try_from(v).ok()
            }
        };
        let audit_category = match &m.audit_category {
            None => None,
            Some(c) => Some(
                check_refs(
                    &ctx,
                    core::slice::from_ref(c),
                    &cat_ids,
                    "category",
                    cat_fix,
                )?
                .into_iter()
                .next()
                .unwrap_or_default(),
            ),
        };
        let audit_proves = match &m.audit_proves {
            None => None,
            Some(v) => Some(check_refs(&ctx, v, &cat_ids, "category", cat_fix)?),
        };
        let meta = PolicyMeta {
            id: ctx.id(&m.id, "policy")?,
            name: m.name,
            version: m.version,
            controller: m.controller,
            dpo: m.dpo,
            answer_promise_hours,
            audit_category,
            audit_proves,
            location: ctx.loc(&meta_span),
        };

        let mut policy = Policy {
            meta,
            categories,
            rules,
            activities,
            processors,
            roles,
            hash: [0; 32],
            compiled: super::engine::Compiled::default(),
        };
        policy.hash = suite::sha256(&[policy.canonical_json().as_bytes()]);
        policy.compiled = super::engine::Compiled::build(&policy);
        Ok(policy)
    }

    /// Policy-wide settings.
    pub fn meta(&self) -> &PolicyMeta {
        &self.meta
    }

    /// The categories, in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The retention rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The processing activities, in file order.
    pub fn activities(&self) -> &[Activity] {
        &self.activities
    }

    /// The processors and external recipients, in file order.
    pub fn processors(&self) -> &[Processor] {
        &self.processors
    }

    /// The access roles, in file order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The category with id `id`.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The role with id `id`.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The rules of category `id`.
    pub fn rules_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.category == id)
    }

    /// SHA-256 of the canonical form ([`Policy::canonical_json`]).
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The hash as `sha256:` and 64 lowercase hex digits: the policy version
    /// every plan records.
    pub fn hash_hex(&self) -> String {
        let mut s = String::with_capacity(71);
        s.push_str("sha256:");
        for b in self.hash {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The canonical form of the policy: the JSON model of `docs/POLICY.md`
    /// section "Policy hash", serialised as RFC 8785 (JCS): object members
    /// sorted by key, no insignificant white space, integers only. Comments,
    /// formatting, key order and table order *within* the file's kinds do not
    /// matter except where the model keeps order (lists).
    pub fn canonical_json(&self) -> String {
        let cats: Vec<Value> = self
            .categories
            .iter()
            .map(|c| {
                json!({"id": c.id, "name": c.name, "name-de": c.name_de, "special": c.special,
                       "clinical": c.clinical, "provided-by-subject": c.provided_by_subject})
            })
            .collect();
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                json!({"category": r.category, "years": r.period.years, "months": r.period.months,
                       "days": r.period.days, "from": r.from.name(), "end-of-year": r.end_of_year,
                       "action": r.action.name(), "ground": r.ground.map(Ground::name),
                       "source": r.source})
            })
            .collect();
        let acts: Vec<Value> = self
            .activities
            .iter()
            .map(|a| {
                json!({"id": a.id, "name": a.name, "purpose": a.purpose, "marketing": a.marketing,
                       "categories": a.categories, "subjects": a.subjects,
                       "art6": a.art6.letter().to_string(),
                       "art9": a.art9.map(|x| x.letter().to_string()),
                       "basis-note": a.basis_note, "consent-purpose": a.consent_purpose,
                       "roles": a.roles, "processors": a.processors,
                       "recipients": a.recipients})
            })
            .collect();
        let procs: Vec<Value> = self
            .processors
            .iter()
            .map(|p| {
                json!({"id": p.id, "name": p.name, "service": p.service, "country": p.country,
                       "transfer": p.transfer})
            })
            .collect();
        let roles: Vec<Value> = self
            .roles
            .iter()
            .map(|r| {
                json!({"id": r.id, "name": r.name, "clinical": r.clinical, "read": r.read,
                       "write": r.write, "export": r.export})
            })
            .collect();
        let m = &self.meta;
        let model = json!({
            "format": "caduceus-policy/1",
            "policy": {"id": m.id, "name": m.name, "version": m.version, "controller": m.controller,
                       "dpo": m.dpo, "answer-promise-hours": m.answer_promise_hours,
                       "audit-category": m.audit_category, "audit-proves": m.audit_proves},
            "category": cats, "retention": rules, "activity": acts, "processor": procs, "role": roles,
        });
        let mut out = String::new();
        write_jcs(&model, &mut out);
        out
    }
}

/// Serialise per RFC 8785 for the value space used here (strings, integers,
/// booleans, null, arrays, objects). Keys are sorted by UTF-16 code units.
pub(crate) fn write_jcs(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_jcs_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs_str(k, out);
                out.push(':');
                if let Some(x) = o.get(*k) {
                    write_jcs(x, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_jcs_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The TOML parser's message on one line, with a hint.
fn toml_message(m: &str) -> String {
    let one = m
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    format!("{one} (see docs/POLICY.md for the keys a policy may have)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_locations_equal_location_of() {
        let long_line = format!("a = [{}]\n", "\"é\", ".repeat(600));
        // Under Miri (about 1000x slower) the shipped policy is left out:
        // each `Location::of` scans it from the start, minutes in all.
        let shipped = if cfg!(miri) {
            ""
        } else {
            super::super::DEFAULT_POLICY
        };
        for text in [
            shipped,
            "",
            "\n",
            "x",
            "ä\nöü\r\n\n€ x\n",
            long_line.as_str(),
        ] {
            let index = LineIndex::new(text);
            // Every offset natively; under Miri (about 1000x slower) every
            // 61st, which still crosses lines, blocks and multi-byte chars.
            let step = if cfg!(miri) { 61 } else { 1 };
            for offset in (0..=text.len() + 2).step_by(step) {
                assert_eq!(
                    index.location(text, offset),
                    Location::of(text, offset),
                    "offset {offset}"
                );
            }
        }
    }
}
