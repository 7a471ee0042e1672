#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Table tests of the default German policy, legal holds, missing anchors,
//! erasure plans, and a property test of the sweep's safety.

use caduceus_core::retention::*;
use proptest::prelude::*;

fn policy() -> Policy {
    Policy::parse(DEFAULT_POLICY).unwrap()
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn rec(p: &Policy, id: u64, subject: &str, cat: &str, anchors: &[(Anchor, &str)]) -> Record {
    let mut a = Anchors::default();
    for (k, v) in anchors {
        a.set(*k, Some(d(v)));
    }
    Record {
        id,
        subject: SubjectKey::of(subject),
        category: p.category_id(cat).unwrap(),
        anchors: a,
    }
}

/// The first day the record is erasable (checked on the day before, too).
fn erasable_from(p: &Policy, r: &Record) -> Date {
    let none = ActiveHolds::default();
    let Verdict::Keep { until, .. } = p.evaluate(r, d("1990-01-01"), &none) else {
        panic!("expected Keep");
    };
    assert!(!p.evaluate(r, until.add_days(-1), &none).erases());
    assert!(p.evaluate(r, until, &none).erases());
    until
}

/// (category, anchors, first day erasable)
type Case = (
    &'static str,
    &'static [(Anchor, &'static str)],
    &'static str,
);

#[test]
fn german_retention_table() {
    let p = policy();
    use Anchor::*;
    let cases: &[Case] = &[
        // § 630f (3) BGB: treatment ended 2016-06-30, 10 years from the end of 2016.
        (
            "patient-record",
            &[(EndOfTreatment, "2016-06-30")],
            "2027-01-01",
        ),
        (
            "patient-record",
            &[(EndOfTreatment, "2016-12-31")],
            "2027-01-01",
        ),
        (
            "patient-record",
            &[(EndOfTreatment, "2017-01-01")],
            "2028-01-01",
        ),
        (
            "clinical-photos",
            &[(EndOfTreatment, "2016-06-30")],
            "2027-01-01",
        ),
        // MBO-Z § 12; BMV-Z § 8 (3).
        (
            "dental-records",
            &[(EndOfTreatment, "2020-03-15")],
            "2031-01-01",
        ),
        (
            "dental-models",
            &[(EndOfTreatment, "2020-03-15")],
            "2023-01-01",
        ),
        // § 85 (2) StrlSchG: child born 2010-03-01, examined 2015: until the 28th birthday.
        (
            "xray-records",
            &[(LastContact, "2015-05-04"), (Birth, "2010-03-01")],
            "2038-03-01",
        ),
        // Adult: 10 years after the examination wins.
        (
            "xray-records",
            &[(LastContact, "2015-05-04"), (Birth, "1970-01-01")],
            "2025-05-04",
        ),
        // Born on 29 February: the 28th birthday in a common year is 1 March.
        (
            "xray-records",
            &[(LastContact, "2001-01-01"), (Birth, "2000-02-29")],
            "2028-02-29",
        ),
        (
            "xray-records",
            &[(LastContact, "2001-01-01"), (Birth, "2004-02-29")],
            "2032-02-29",
        ),
        (
            "xray-records",
            &[(LastContact, "2001-01-01"), (Birth, "1996-02-29")],
            "2024-02-29",
        ),
        (
            "xray-records",
            &[(LastContact, "2001-01-01"), (Birth, "1995-03-01")],
            "2023-03-01",
        ),
        (
            "radiotherapy-records",
            &[(LastContact, "2010-07-01")],
            "2040-07-01",
        ),
        // § 147 AO, § 14b UStG: 8 years from the end of the billing year.
        ("invoices", &[(Billing, "2025-12-31")], "2034-01-01"),
        (
            "accounting-records",
            &[(Created, "2020-05-05")],
            "2031-01-01",
        ),
        ("business-letters", &[(Created, "2020-05-05")], "2027-01-01"),
        // Chat messages: 3 years from creation; a period starting on 29 February.
        ("chat-messages", &[(Created, "2024-02-29")], "2027-03-01"),
        ("chat-messages", &[(Created, "2024-03-01")], "2027-03-01"),
        ("chat-messages", &[(Created, "2023-02-28")], "2026-02-28"),
        ("contact-data", &[(LastContact, "2023-06-01")], "2027-01-01"),
        (
            "consent-records",
            &[(ConsentEnd, "2024-02-29")],
            "2026-03-01",
        ),
        ("audit-log", &[(Created, "2026-01-01")], "2037-01-01"),
        ("backups", &[(Created, "2026-12-15")], "2027-01-14"),
    ];
    for (i, (cat, anchors, want)) in cases.iter().enumerate() {
        let r = rec(&p, i as u64, "p-1", cat, anchors);
        assert_eq!(erasable_from(&p, &r), d(want), "{cat} {anchors:?}");
    }
}

#[test]
fn treatment_ended_2016_erasable_from_2027_not_a_day_before() {
    let p = policy();
    let r = rec(
        &p,
        1,
        "p-1",
        "patient-record",
        &[(Anchor::EndOfTreatment, "2016-06-30")],
    );
    let none = ActiveHolds::default();
    assert_eq!(
        p.evaluate(&r, d("2026-12-31"), &none),
        Verdict::Keep {
            action: Action::DeleteRecord,
            until: d("2027-01-01")
        }
    );
    assert_eq!(
        p.evaluate(&r, d("2027-01-01"), &none),
        Verdict::Due {
            action: Action::DeleteRecord,
            since: d("2027-01-01")
        }
    );
    // The end of 2016 in Berlin is 2016-12-31T23:00:00Z.
    assert_eq!(d("2017-01-01").berlin_start_unix(), 1_483_225_200);
}

#[test]
fn child_xray_kept_until_2038_03_01() {
    let p = policy();
    let r = rec(
        &p,
        1,
        "p-child",
        "xray-records",
        &[
            (Anchor::LastContact, "2015-05-04"),
            (Anchor::Birth, "2010-03-01"),
        ],
    );
    let none = ActiveHolds::default();
    assert!(matches!(
        p.evaluate(&r, d("2038-02-28"), &none),
        Verdict::Keep { .. }
    ));
    assert!(p.evaluate(&r, d("2038-03-01"), &none).erases());
}

#[test]
fn missing_anchor_is_reported_never_erased() {
    let p = policy();
    // An X-ray without birth date: the 28th-birthday rule cannot be evaluated.
    let r = rec(
        &p,
        5,
        "p-1",
        "xray-records",
        &[(Anchor::LastContact, "1990-01-01")],
    );
    let report = p.sweep(&[r], d("2100-01-01"), &[]);
    assert_eq!(report.unresolved, 1);
    assert_eq!(
        report.outcomes[0].verdict,
        Verdict::MissingAnchor {
            anchor: Anchor::Birth
        }
    );
    // A consent that has not ended.
    let c = rec(
        &p,
        6,
        "p-1",
        "consent-records",
        &[(Anchor::Created, "2020-01-01")],
    );
    assert!(
        !p.evaluate(&c, d("2100-01-01"), &ActiveHolds::default())
            .erases()
    );
}

#[test]
fn legal_holds_block_deletion() {
    let p = policy();
    let chat = |id, s: &str| {
        rec(
            &p,
            id,
            s,
            "chat-messages",
            &[(Anchor::Created, "2020-01-01")],
        )
    };
    let records = [
        chat(1, "p-a"),
        chat(2, "p-b"),
        chat(3, "p-c"),
        chat(4, "p-d"),
    ];
    let holds = vec![
        Hold {
            scope: HoldScope::Subject(SubjectKey::of("p-a")),
            reason: "case 3 O 12/26".into(),
            from: None,
            until: None,
        },
        Hold {
            scope: HoldScope::Record(2),
            reason: "authority request".into(),
            from: Some(d("2025-01-01")),
            until: Some(d("2027-01-01")),
        },
        Hold {
            scope: HoldScope::Record(3),
            reason: "expired hold".into(),
            from: None,
            until: Some(d("2026-01-01")),
        },
    ];
    let report = p.sweep(&records, d("2026-06-01"), &holds);
    assert_eq!((report.held, report.due), (2, 2));
    assert!(matches!(
        report.outcomes[0].verdict,
        Verdict::Held { hold: 0, .. }
    ));
    assert!(matches!(
        report.outcomes[1].verdict,
        Verdict::Held { hold: 1, .. }
    ));
    assert!(report.outcomes[2].verdict.erases());
    // A category hold.
    let cat_hold = [Hold {
        scope: HoldScope::Category(p.category_id("chat-messages").unwrap()),
        reason: "litigation".into(),
        from: None,
        until: None,
    }];
    let report = p.sweep(&records, d("2030-01-01"), &cat_hold);
    assert_eq!(report.held, 4);
    let json = report.to_json(&p, &cat_hold);
    assert_eq!(json["held"][0]["reason"], "litigation");
    assert_eq!(json["policy"]["hash"], p.hash_hex());
}

#[test]
fn erasure_plan_per_category() {
    let p = policy();
    let s = "p-7f3a91";
    let records = [
        rec(
            &p,
            1,
            s,
            "chat-messages",
            &[(Anchor::Created, "2025-11-02")],
        ),
        rec(
            &p,
            2,
            s,
            "chat-messages",
            &[(Anchor::Created, "2025-12-24")],
        ),
        rec(
            &p,
            3,
            s,
            "clinical-photos",
            &[
                (Anchor::Created, "2025-11-02"),
                (Anchor::EndOfTreatment, "2025-12-10"),
            ],
        ),
        rec(&p, 4, s, "invoices", &[(Anchor::Billing, "2025-12-15")]),
        rec(
            &p,
            5,
            s,
            "consent-records",
            &[(Anchor::Created, "2025-11-01")],
        ),
    ];
    // Received 31 January 2026, 10:00 UTC.
    let plan = p.plan_erasure(s, 1_769_853_600, &records, &[]).unwrap();
    let by = |c: &str| plan.categories.iter().find(|x| x.category == c).unwrap();
    let chat = by("chat-messages");
    assert_eq!(chat.erase_now, [1, 2]);
    assert!(chat.shred_key && chat.keep.is_empty());
    let photos = by("clinical-photos");
    assert!(photos.erase_now.is_empty());
    assert_eq!(photos.keep, [(3, Some(d("2036-01-01")), None)]);
    assert_eq!(photos.ground, Some(Ground::DocumentationDuty));
    assert!(photos.source.as_deref().unwrap().contains("§ 630f"));
    let inv = by("invoices");
    assert_eq!(inv.keep, [(4, Some(d("2034-01-01")), None)]);
    assert_eq!(inv.ground, Some(Ground::TaxLaw));
    assert!(
        inv.source
            .as_deref()
            .unwrap()
            .starts_with("§ 147 (1) Nr. 4")
    );
    let consent = by("consent-records");
    assert_eq!(consent.keep, [(5, None, Some(Anchor::ConsentEnd))]);
    // Deadline: the practice's 72 hours, shorter than the month.
    assert_eq!(plan.deadline.0, 1_769_853_600 + 72 * 3600);
    let json = plan.to_json(&p);
    assert_eq!(json["policy"]["hash"], p.hash_hex());
    assert_eq!(json["categories"][0]["decision"], "erase-now");
    assert_eq!(json["categories"][1]["keep"][0]["erase-on"], "2036-01-01");
    assert_eq!(json["categories"][1]["restrict-processing"], true);
    let de = plan.text_de(&p);
    assert!(
        de.contains("Chatnachrichten (WhatsApp): 2 Einträge werden jetzt gelöscht."),
        "{de}"
    );
    assert!(de.contains("längstens bis zum 01.01.2036"), "{de}");
    assert!(de.contains("§ 630f BGB") && de.contains("§ 147"), "{de}");
    assert!(de.contains("Art. 18 DSGVO"));
    // One kept entry: singular, the verb last in the "weil" clause, German
    // citations only.
    assert!(
        de.contains(
            "Klinische Fotos und Unterlagen zur Behandlung: 1 Eintrag bleibt längstens bis zum 01.01.2036 gespeichert, weil wir gesetzlich verpflichtet sind, Ihre Behandlungsdokumentation aufzubewahren (Art. 17 Abs. 3 lit. b, c DSGVO; § 630f BGB; § 10 MBO-Ä). Bis dahin wird er für nichts anderes genutzt (Einschränkung der Verarbeitung, Art. 18 DSGVO); danach wird er gelöscht."
        ),
        "{de}"
    );
    assert!(
        de.contains(
            "weil Steuer- und Handelsrecht uns verpflichten, Abrechnungsunterlagen aufzubewahren"
        ),
        "{de}"
    );
    assert!(
        !de.contains("1 Einträge") && !de.contains("weil wir sind"),
        "{de}"
    );
    for english in [
        "GDPR",
        "years",
        "processor",
        "example",
        "item",
        "treatment",
        "the ",
    ] {
        assert!(
            !de.contains(english),
            "English '{english}' in the German letter:\n{de}"
        );
    }
    let en = plan.text_en(&p);
    assert!(en.contains("until 2036-01-01 at the latest"), "{en}");
    assert!(en.contains(&p.hash_hex()));
}

#[test]
fn erasure_respects_holds_and_refuses_other_subjects() {
    let p = policy();
    let r = rec(
        &p,
        1,
        "p-a",
        "chat-messages",
        &[(Anchor::Created, "2025-01-01")],
    );
    let hold = [Hold {
        scope: HoldScope::Record(1),
        reason: "case 1".into(),
        from: None,
        until: None,
    }];
    let plan = p.plan_erasure("p-a", 1_769_853_600, &[r], &hold).unwrap();
    assert!(plan.categories[0].erase_now.is_empty());
    assert_eq!(plan.categories[0].held, [(1, "case 1".to_owned())]);
    assert!(!plan.categories[0].shred_key);
    let de = plan.text_de(&p);
    assert!(
        de.contains("Chatnachrichten (WhatsApp): 1 Eintrag muss wegen eines laufenden Rechtsverfahrens aufbewahrt werden (Art. 17 Abs. 3 lit. e DSGVO) und wird danach gelöscht;"),
        "{de}"
    );
    let en = plan.text_en(&p);
    assert!(
        en.contains(": 1 item must be kept") && en.contains("and is erased"),
        "{en}"
    );
    // Without the hold, the single entry is erased now: singular.
    let plan = p.plan_erasure("p-a", 1_769_853_600, &[r], &[]).unwrap();
    let de = plan.text_de(&p);
    assert!(
        de.contains("Chatnachrichten (WhatsApp): 1 Eintrag wird jetzt gelöscht."),
        "{de}"
    );
    assert!(plan.text_en(&p).contains(": 1 item is erased now."));
    assert_eq!(
        p.plan_erasure("p-b", 0, &[r], &[]).unwrap_err(),
        PlanError::OtherSubject(1)
    );
}

#[test]
fn answer_deadline_one_month_berlin() {
    // Received 15 March 2026 12:00 UTC, no promise: end of 15 April (CEST).
    let (t, basis) = answer_deadline(1_773_576_000, None);
    assert_eq!(format_unix(t), "2026-04-15T22:00:00Z");
    assert!(basis.contains("12(3)"));
    // A promise longer than the month does not extend it.
    let (t2, _) = answer_deadline(1_773_576_000, Some(2000));
    assert_eq!(t2, t);
}

#[test]
fn breach_clock_72_hours() {
    let c = BreachClock::start(1_769_847_300);
    assert_eq!(format_unix(c.deadline), "2026-02-03T08:15:00Z");
    assert_eq!(c.to_json(Some(c.deadline))["overdue"], true);
}

/// An independent reference: add years and months by stepping month by
/// month over the civil fields, then days one at a time.
fn reference_due(anchor: Date, years: u16, months: u16, days: u16, eoy: bool) -> Date {
    let (mut y, mut m, dd) = anchor.ymd();
    if eoy {
        return reference_due(
            Date::from_ymd(y + 1, 1, 1).unwrap(),
            years,
            months,
            days,
            false,
        );
    }
    for _ in 0..(u32::from(years) * 12 + u32::from(months)) {
        m += 1;
        if m == 13 {
            m = 1;
            y += 1;
        }
    }
    let base = match Date::from_ymd(y, m, dd) {
        Ok(x) => x,
        // The day does not exist: the first of the next month.
        Err(_) => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Date::from_ymd(ny, nm, 1).unwrap()
        }
    };
    let mut out = base;
    for _ in 0..days {
        out = out.next_day();
    }
    out
}

const CATS: [&str; 14] = [
    "chat-messages",
    "clinical-photos",
    "patient-record",
    "dental-records",
    "dental-models",
    "xray-records",
    "radiotherapy-records",
    "invoices",
    "accounting-records",
    "business-letters",
    "contact-data",
    "consent-records",
    "audit-log",
    "backups",
];

fn arb_date() -> impl Strategy<Value = Date> {
    (1950i32..2060, 1u32..=12, 1u32..=31)
        .prop_map(|(y, m, d)| Date::from_ymd(y, m, d).unwrap_or(Date::from_ymd(y, m, 28).unwrap()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No sweep ever returns a deletion for a held record, or before the
    /// longest applicable rule (computed independently) has expired.
    #[test]
    fn sweep_never_erases_held_or_early(
        recs in prop::collection::vec(
            (0usize..CATS.len(), 0u64..6, prop::collection::vec(prop::option::of(arb_date()), ANCHOR_COUNT)),
            1..40),
        held_subjects in prop::collection::vec(0u64..6, 0..3),
        held_records in prop::collection::vec(0u64..40, 0..5),
        today in arb_date(),
    ) {
        let p = policy();
        let records: Vec<Record> = recs.iter().enumerate().map(|(i, (c, s, anchors))| {
            let mut a = Anchors::default();
            for (k, v) in Anchor::ALL.iter().zip(anchors) { a.set(*k, *v); }
            Record { id: i as u64, subject: SubjectKey::of(&format!("p-{s}")),
                     category: p.category_id(CATS[*c]).unwrap(), anchors: a }
        }).collect();
        let mut holds: Vec<Hold> = held_subjects.iter().map(|s| Hold {
            scope: HoldScope::Subject(SubjectKey::of(&format!("p-{s}"))),
            reason: "r".into(), from: None, until: None }).collect();
        holds.extend(held_records.iter().map(|r| Hold {
            scope: HoldScope::Record(*r), reason: "r".into(), from: None, until: None }));
        let report = p.sweep(&records, today, &holds);
        for (r, o) in records.iter().zip(&report.outcomes) {
            prop_assert_eq!(r.id, o.record);
            let held = held_records.contains(&r.id)
                || held_subjects.iter().any(|s| SubjectKey::of(&format!("p-{s}")) == r.subject);
            if let Verdict::Due { since, .. } = o.verdict {
                prop_assert!(!held);
                let cat = p.category_name(r.category).unwrap();
                for rule in p.rules_of(cat) {
                    let a = r.anchors.get(rule.from);
                    prop_assert!(a.is_some());
                    let due = reference_due(a.unwrap(), rule.period.years, rule.period.months,
                                            rule.period.days, rule.end_of_year);
                    prop_assert!(due <= since && since <= today);
                }
            }
            if held { prop_assert!(!o.verdict.erases()); }
        }
    }

    /// Date arithmetic agrees with the month-stepping reference.
    #[test]
    fn periods_match_reference(a in arb_date(), y in 0u16..40, m in 0u16..30, dd in 0u16..400, eoy: bool) {
        let mut start = a;
        if eoy { start = start.end_of_year(); }
        let got = start.add_period(Period { years: y, months: m, days: dd });
        prop_assert_eq!(got, reference_due(a, y, m, dd, eoy));
        // Never shorter than the minimal length.
        prop_assert!(got.days() - start.days() >= i32::from(y) * 365 + i32::from(m) * 28 + i32::from(dd));
    }

    /// Berlin day of an instant and the start of that day agree.
    #[test]
    fn berlin_day_roundtrip(t in 0i64..4_102_444_800) {
        let day = Date::from_unix_berlin(t);
        prop_assert!(day.berlin_start_unix() <= t);
        prop_assert!(t < day.next_day().berlin_start_unix());
    }
}
