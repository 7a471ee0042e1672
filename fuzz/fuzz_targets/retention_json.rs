//! `retention::parse_records` and `parse_holds` (the JSON of record
//! metadata and legal holds) under the default policy.
//!
//! Input: UTF-8; up to the first NUL the records JSON, after it the holds
//! JSON (without a NUL the whole text is tried as both).
//!
//! Properties: no panic; an error's Display never quotes a string value of
//! the input (checked with a marker: if the input contains
//! `PATIENT-SECRET-MARKER` and parsing fails, the error text does not);
//! parsed records re-encode to JSON that parses to the same records (and
//! holds likewise); whatever parses sweeps (one outcome per record, in
//! order, the counts add up, a held record has a hold in force), renders
//! as a report and plans erasure and access requests without panic.
#![no_main]

use std::sync::OnceLock;

use caduceus_core::access;
use caduceus_core::retention::{
    Anchor, DEFAULT_POLICY, Date, Hold, HoldScope, Policy, RecordSet, Verdict, parse_holds,
    parse_records,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const MARKER: &str = "PATIENT-SECRET-MARKER";

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::parse(DEFAULT_POLICY).expect("default policy"))
}

/// The error of a failed parse must not quote the input's string values.
fn check_error(input: &str, e: &impl std::fmt::Display) {
    let text = e.to_string();
    assert!(!text.is_empty());
    if input.contains(MARKER) {
        assert!(
            !text.contains(MARKER),
            "an error quotes a string value of the input: {text}"
        );
    }
}

/// Records as the JSON `parse_records` reads.
fn encode_records(p: &Policy, set: &RecordSet) -> String {
    let list: Vec<Value> = set
        .records
        .iter()
        .zip(&set.subjects)
        .map(|(r, s)| {
            let mut o = Map::new();
            o.insert("id".into(), json!(r.id));
            o.insert("subject".into(), json!(s));
            o.insert(
                "category".into(),
                json!(p.category_name(r.category).expect("parsed category")),
            );
            for a in Anchor::ALL {
                if let Some(d) = r.anchors.get(a) {
                    o.insert(a.name().into(), json!(d.to_string()));
                }
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(list).to_string()
}

/// Holds as the JSON `parse_holds` reads; a subject scope keeps only a hash
/// of the pseudonym, so the pseudonym comes from the input (`raw`).
fn encode_holds(p: &Policy, holds: &[Hold], raw: &[Value]) -> String {
    let list: Vec<Value> = holds
        .iter()
        .zip(raw)
        .map(|(h, r)| {
            let mut o = Map::new();
            match h.scope {
                HoldScope::Subject(_) => {
                    o.insert("subject".into(), r["subject"].clone());
                }
                HoldScope::Category(c) => {
                    o.insert(
                        "category".into(),
                        json!(p.category_name(c).expect("parsed category")),
                    );
                }
                HoldScope::Record(id) => {
                    o.insert("record".into(), json!(id));
                }
            }
            o.insert("reason".into(), json!(h.reason));
            if let Some(d) = h.from {
                o.insert("from".into(), json!(d.to_string()));
            }
            if let Some(d) = h.until {
                o.insert("until".into(), json!(d.to_string()));
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(list).to_string()
}

fn days() -> &'static [Date] {
    static D: OnceLock<Vec<Date>> = OnceLock::new();
    D.get_or_init(|| {
        [(2026, 11, 22), (1900, 1, 1), (9999, 12, 31), (2038, 3, 1)]
            .iter()
            .map(|&(y, m, d)| Date::from_ymd(y, m, d).expect("date"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = policy();
    let (rec_text, hold_text) = match text.split_once('\0') {
        Some((r, h)) => (r, h),
        None => (text, text),
    };

    let records = parse_records(p, rec_text);
    if let Err(e) = &records {
        check_error(rec_text, e);
    }
    let holds = parse_holds(p, hold_text);
    if let Err(e) = &holds {
        check_error(hold_text, e);
    }

    if let Ok(set) = &records {
        assert_eq!(set.records.len(), set.subjects.len());
        let again = parse_records(p, &encode_records(p, set)).expect("re-encoded records parse");
        assert_eq!(again.records, set.records, "records do not round-trip");
        assert_eq!(again.subjects, set.subjects);
    }
    if let Ok(hs) = &holds {
        let raw: Vec<Value> =
            serde_json::from_str(hold_text).expect("parsed holds are a JSON array");
        let again = parse_holds(p, &encode_holds(p, hs, &raw)).expect("re-encoded holds parse");
        assert_eq!(&again, hs, "holds do not round-trip");
    }

    let Ok(set) = records else { return };
    let holds = holds.unwrap_or_default();
    for &day in days() {
        let report = p.sweep(&set.records, day, &holds);
        assert_eq!(report.outcomes.len(), set.records.len());
        assert_eq!(
            report.due + report.kept + report.held + report.unresolved,
            set.records.len()
        );
        for (o, r) in report.outcomes.iter().zip(&set.records) {
            assert_eq!(o.record, r.id, "outcomes out of order");
            if let Verdict::Held { hold, .. } = o.verdict {
                let h = holds
                    .get(hold as usize)
                    .expect("the hold of a held record exists");
                assert!(h.in_force(day), "held by a hold not in force");
            }
            if let Verdict::Due { since, .. } = o.verdict {
                assert!(since <= day, "due before its date");
            }
            if let Verdict::Keep { until, .. } = o.verdict {
                assert!(until > day, "kept past its date");
            }
        }
        let _ = report.to_json(p, &holds).to_string();
    }
    // Requests of the first record's subject over that subject's records.
    if let Some(subject) = set.subjects.first() {
        let mine: Vec<_> = set
            .records
            .iter()
            .zip(&set.subjects)
            .filter(|(_, s)| *s == subject)
            .map(|(r, _)| *r)
            .collect();
        let at = 1_795_000_000;
        if let Ok(plan) = p.plan_erasure(subject, at, &mine, &holds) {
            let _ = plan.to_json(p).to_string();
            let _ = plan.text_de(p);
            let _ = plan.text_en(p);
        }
        if let Ok(plan) = access::plan_access(p, subject, at, &mine) {
            let _ = plan.to_json(p).to_string();
            let _ = plan.text_de(p);
            let _ = plan.text_en(p);
        }
    }
});
