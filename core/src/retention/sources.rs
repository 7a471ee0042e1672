//! The legal sources retention rules cite, each with the statutory minimum
//! period it sets (docs/POLICY.md, section 5.1). `lint` reports a rule that
//! is shorter than the minimum of a law it cites as an error, and a citation
//! it does not know as a warning.

use super::date::Period;

/// A statutory minimum retention period: `period`, counted from the end of
/// the calendar year when `end_of_year` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Minimum {
    /// The period.
    pub period: Period,
    /// Counted from the end of the calendar year (e.g. § 147 (4) AO).
    pub end_of_year: bool,
}

impl Minimum {
    /// The nominal length in days, as [`super::nominal_days`] counts a rule:
    /// 365 per year, 30 per month, the days, 365 more for `end_of_year`.
    pub fn nominal_days(self) -> u32 {
        super::lint::nominal(self.period, self.end_of_year)
    }
}

/// A legal source a retention rule may cite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegalSource {
    /// The law's abbreviation as cited, e.g. `BGB`, `StrlSchG`, `GDPR`.
    pub law: &'static str,
    /// The section (§) or article number, e.g. `630f`, `85`, `5`.
    pub section: &'static str,
    /// The item (`Nr.`) of the section this entry is about; `None` for the
    /// section as a whole (also used when a citation names no item, or an
    /// item not listed).
    pub item: Option<u8>,
    /// The minimum period the source requires, or `None` when it sets none
    /// (a limitation period, an accountability or storage-limitation rule).
    pub minimum: Option<Minimum>,
    /// What it requires, in words.
    pub rule: &'static str,
}

impl LegalSource {
    /// The citation, e.g. `§ 630f BGB`, `§ 147 Nr. 4 AO`, `Art. 5 GDPR`.
    pub fn citation(&self) -> String {
        self.cite("GDPR")
    }

    /// The citation in German, e.g. `§ 630f BGB`, `Art. 5 DSGVO`.
    pub fn citation_de(&self) -> String {
        self.cite("DSGVO")
    }

    fn cite(&self, gdpr: &str) -> String {
        let item = self.item.map(|i| format!(" Nr. {i}")).unwrap_or_default();
        if self.law == "GDPR" {
            format!("Art. {}{item} {gdpr}", self.section)
        } else {
            format!("§ {}{item} {}", self.section, self.law)
        }
    }
}

impl Minimum {
    /// In words, e.g. `10 years from the end of the calendar year`.
    pub fn describe(self) -> String {
        if self.end_of_year {
            format!(
                "{} from the end of the calendar year",
                self.period.to_english()
            )
        } else {
            self.period.to_english()
        }
    }
}

const fn min(years: u16, end_of_year: bool) -> Option<Minimum> {
    Some(Minimum {
        period: Period::years(years),
        end_of_year,
    })
}

const fn src(
    law: &'static str,
    section: &'static str,
    item: Option<u8>,
    minimum: Option<Minimum>,
    rule: &'static str,
) -> LegalSource {
    LegalSource {
        law,
        section,
        item,
        minimum,
        rule,
    }
}

/// The legal sources `lint` knows, with the minimum periods of
/// /work/shared/design.md's retention facts (docs/POLICY.md, section 5.1).
/// Where a section sets different periods for different items, the entry
/// without an item carries the shortest, so a citation that names no item
/// is held only to what the section requires of every record.
pub const LEGAL_SOURCES: &[LegalSource] = &[
    src(
        "BGB",
        "630f",
        None,
        min(10, false),
        "patient record: 10 years after the end of treatment",
    ),
    src(
        "MBO-Ä",
        "10",
        None,
        min(10, false),
        "medical documentation: 10 years after the end of treatment (as § 630f (3) BGB)",
    ),
    src(
        "MBO-Z",
        "12",
        None,
        min(10, false),
        "dental documentation: 10 years",
    ),
    src(
        "BMV-Z",
        "8",
        None,
        min(2, false),
        "dental documentation 10 years, dental models 2 years (the shorter applies to a citation without item)",
    ),
    src(
        "StrlSchG",
        "85",
        Some(1),
        min(30, false),
        "records of treatment with ionising radiation: 30 years after the last treatment",
    ),
    src(
        "StrlSchG",
        "85",
        Some(2),
        min(10, false),
        "records of examinations: 10 years after the last examination (minors: until the 28th birthday)",
    ),
    src(
        "StrlSchG",
        "85",
        None,
        min(10, false),
        "X-ray and radiation records: at least 10 years",
    ),
    src(
        "AO",
        "147",
        Some(1),
        min(10, true),
        "books, inventories, annual accounts: 10 years from the end of the calendar year",
    ),
    src(
        "AO",
        "147",
        Some(2),
        min(6, true),
        "business letters received: 6 years from the end of the calendar year",
    ),
    src(
        "AO",
        "147",
        Some(3),
        min(6, true),
        "copies of business letters sent: 6 years from the end of the calendar year",
    ),
    src(
        "AO",
        "147",
        Some(4),
        min(8, true),
        "booking vouchers and invoices: 8 years from the end of the calendar year (since 2025)",
    ),
    src(
        "AO",
        "147",
        None,
        min(6, true),
        "tax records: at least 6 years from the end of the calendar year",
    ),
    src(
        "HGB",
        "257",
        Some(1),
        min(10, true),
        "books, inventories, annual accounts: 10 years from the end of the calendar year (as § 147 AO)",
    ),
    src(
        "HGB",
        "257",
        Some(2),
        min(6, true),
        "business letters received: 6 years (as § 147 AO)",
    ),
    src(
        "HGB",
        "257",
        Some(3),
        min(6, true),
        "copies of business letters sent: 6 years (as § 147 AO)",
    ),
    src(
        "HGB",
        "257",
        Some(4),
        min(8, true),
        "booking vouchers: 8 years (as § 147 AO, since 2025)",
    ),
    src(
        "HGB",
        "257",
        None,
        min(6, true),
        "commercial records: at least 6 years from the end of the calendar year",
    ),
    src(
        "UStG",
        "14b",
        None,
        min(8, true),
        "invoices: 8 years from the end of the calendar year (since 2025)",
    ),
    src(
        "BGB",
        "195",
        None,
        None,
        "standard limitation period (3 years): a reason to keep, not a duty",
    ),
    src(
        "BGB",
        "199",
        None,
        None,
        "start and maximum of limitation periods (up to 30 years): a reason to keep, not a duty",
    ),
    src(
        "GDPR",
        "5",
        None,
        None,
        "principles (storage limitation, accountability): no minimum",
    ),
    src(
        "GDPR",
        "7",
        None,
        None,
        "proof of consent: kept while processing relies on it; no fixed minimum",
    ),
    src("GDPR", "17", None, None, "right to erasure: no minimum"),
    src(
        "GDPR",
        "24",
        None,
        None,
        "responsibility of the controller: no minimum",
    ),
    src(
        "GDPR",
        "30",
        None,
        None,
        "register of processing activities: no minimum",
    ),
    src(
        "GDPR",
        "32",
        None,
        None,
        "security of processing: no minimum",
    ),
];

/// What `lint` found in a rule's `source`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceCheck {
    /// The known sources it cites.
    pub known: Vec<&'static LegalSource>,
    /// The parts (separated by `;`) that look like a legal citation (start
    /// with `§`, `§§` or `Art.`) but name no known source.
    pub unknown: Vec<String>,
}

impl SourceCheck {
    /// The longest minimum among the cited sources (the first cited one on
    /// a tie): the rule must meet every law it cites. `None` when no cited
    /// source sets a minimum.
    pub fn minimum(&self) -> Option<(&'static LegalSource, Minimum)> {
        self.known
            .iter()
            .rev()
            .filter_map(|s| s.minimum.map(|m| (*s, m)))
            .max_by_key(|(_, m)| m.nominal_days())
    }
}

fn trim(token: &str) -> &str {
    token.trim_matches(|c: char| matches!(c, '(' | ')' | ',' | ':' | '.'))
}

/// The known source for `law`, `section` and cited `items`: the entry of
/// each item (or the section's entry for an item not listed), the one with
/// the shortest minimum when several items are cited.
fn lookup(law: &str, section: &str, items: &[u8]) -> Option<&'static LegalSource> {
    let entry = |item: Option<u8>| {
        LEGAL_SOURCES
            .iter()
            .find(|s| s.law == law && s.section == section && s.item == item)
    };
    let whole = entry(None);
    if items.is_empty() {
        return whole;
    }
    items
        .iter()
        .filter_map(|&i| entry(Some(i)).or(whole))
        .min_by_key(|s| s.minimum.map_or(0, Minimum::nominal_days))
}

/// Find the legal sources a rule's `source` text cites. The text is split at
/// `;`; a part that starts with `§`, `§§` or `Art.` is a citation: the
/// numbers that follow are its sections (or articles), `Nr.` followed by
/// numbers its items, and the first word that is a known law's abbreviation
/// its law. Other parts (e.g. "vendor promise 10 years") are not citations.
///
/// ```
/// use caduceus_core::retention::cited_sources;
/// let c = cited_sources("§ 630f (3) BGB; § 10 (3) MBO-Ä");
/// assert_eq!(c.minimum().map(|(_, m)| m.period.years), Some(10));
/// assert!(cited_sources("§ 999 XYZ").unknown.len() == 1);
/// ```
pub fn cited_sources(source: &str) -> SourceCheck {
    let mut out = SourceCheck::default();
    for part in source.split(';').map(str::trim) {
        let tokens: Vec<&str> = part
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        let Some(first) = tokens.first() else {
            continue;
        };
        let article = *first == "Art." || *first == "Art";
        if !(article || *first == "§" || *first == "§§") {
            continue;
        }
        let mut sections = Vec::new();
        let mut rest = tokens.iter().skip(1).peekable();
        while let Some(t) = rest.peek() {
            let digits: String = if article {
                t.chars().take_while(char::is_ascii_digit).collect()
            } else if t.starts_with(|c: char| c.is_ascii_digit()) {
                trim(t).to_owned()
            } else {
                String::new()
            };
            if digits.is_empty() {
                break;
            }
            sections.push(digits);
            rest.next();
        }
        let rest: Vec<&str> = rest.copied().collect();
        let mut items = Vec::new();
        if let Some(at) = rest.iter().position(|t| trim(t) == "Nr") {
            for t in rest.iter().skip(at + 1) {
                match t.parse::<u8>() {
                    Ok(n) => items.push(n),
                    Err(_) => break,
                }
            }
        }
        let law = rest
            .iter()
            .map(|t| trim(t))
            .find(|t| LEGAL_SOURCES.iter().any(|s| s.law == *t));
        let found: Vec<&'static LegalSource> = match law {
            None => Vec::new(),
            Some(law) => sections
                .iter()
                .filter_map(|s| lookup(law, s, &items))
                .collect(),
        };
        if found.is_empty() {
            out.unknown.push(part.to_owned());
        } else {
            out.known.extend(found);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn years(source: &str) -> Option<(u16, bool)> {
        cited_sources(source)
            .minimum()
            .map(|(_, m)| (m.period.years, m.end_of_year))
    }

    #[test]
    fn citations_resolve_to_their_minimum() {
        let cases: [(&str, Option<(u16, bool)>); 11] = [
            ("§ 630f (3) BGB", Some((10, false))),
            ("§ 630f BGB", Some((10, false))),
            (
                "§ 85 (2) 1 Nr. 1 StrlSchG (treatment: 30 years)",
                Some((30, false)),
            ),
            (
                "§ 85 (2) 1 Nr. 2 StrlSchG (examination: 10 years)",
                Some((10, false)),
            ),
            (
                "§ 147 (1) Nr. 4, (3), (4) AO; § 14b (1) UStG",
                Some((8, true)),
            ),
            (
                "§ 147 (1) Nr. 1, (3), (4) AO; § 257 (4) HGB",
                Some((10, true)),
            ),
            (
                "§ 147 (1) Nr. 2, 3, (3), (4) AO; § 257 (4) HGB",
                Some((6, true)),
            ),
            ("§ 8 (3) BMV-Z", Some((2, false))),
            ("§ 12 MBO-Z; § 8 (3) BMV-Z", Some((10, false))),
            ("§§ 195, 199 (1) BGB (standard limitation period)", None),
            (
                "Art. 5(2), 24 GDPR (accountability); vendor promise 10 years",
                None,
            ),
        ];
        for (source, want) in cases {
            assert_eq!(years(source), want, "{source}");
        }
        let first = cited_sources("§ 630f (3) BGB; § 10 (3) MBO-Ä")
            .minimum()
            .unwrap()
            .0;
        assert_eq!(first.citation(), "§ 630f BGB");
        let c = cited_sources("§§ 195, 199 (1) BGB");
        assert_eq!(c.known.len(), 2);
        assert!(c.unknown.is_empty());
    }

    #[test]
    fn unknown_citations_are_reported_and_prose_is_not_a_citation() {
        let c = cited_sources("§ 630f BGB; § 42 Foo; Art. 99 GDPR; practice choice");
        assert_eq!(c.known.len(), 1);
        assert_eq!(c.unknown, ["§ 42 Foo", "Art. 99 GDPR"]);
        assert!(
            cited_sources("processor register example: 3 years")
                .unknown
                .is_empty()
        );
        assert!(cited_sources("630f BGB").known.is_empty());
    }
}
