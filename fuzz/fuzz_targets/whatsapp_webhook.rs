//! `whatsapp::parse_webhook` on arbitrary bytes (seeds: the signed fixtures
//! of `tests/fixtures/whatsapp/`).
//!
//! Properties: no panic; parsing is deterministic; an error's Display never
//! quotes the input (checked with a marker: if the input contains
//! `PATIENT-SECRET-MARKER` and parsing fails, the error text does not) and
//! is ASCII; a parsed body has at most `max_events` events, every message
//! and status names somebody (a `wa_id` or a `user_id`), ids and types are
//! labels (1 to 128 printable ASCII characters), timestamps lie within
//! 0..=253402300799, error titles are at most 128 printable characters, an
//! edit never holds an edit; a marker in a text, name or id never shows in
//! the Debug of the text or the contact; and under tighter limits (4 events, 12 levels) a body either
//! is refused or parses exactly as under the default limits.
#![no_main]

use caduceus_core::whatsapp::{
    EventKind, MessageBody, ParseLimits, PlatformError, Sensitive, Webhook, parse_webhook,
};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "PATIENT-SECRET-MARKER";

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn check_errors(errors: &[PlatformError]) {
    for e in errors {
        assert!(e.title.len() <= 128);
        assert!(e.title.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    }
}

/// A personal-data value holding the marker: the marker must not show in
/// `debug` (the Debug of a value with no labels in it).
fn hidden(value: &Option<Sensitive>, debug: &str) {
    if value.as_ref().is_some_and(|v| v.expose().contains(MARKER)) {
        assert!(!debug.contains(MARKER), "Debug shows personal data");
    }
}

fn check(hook: &Webhook, limits: &ParseLimits) {
    assert!(hook.events.len() <= limits.max_events);
    for e in &hook.events {
        assert!(is_label(&e.account_id));
        assert!(e.phone_number_id.as_deref().is_none_or(is_label));
        match &e.kind {
            EventKind::Message(m) => {
                assert!(is_label(&m.id));
                assert!((0..=253_402_300_799).contains(&m.timestamp));
                assert!(m.from.is_identified());
                assert!(is_label(m.body.type_code()));
                check_errors(&m.errors);
                if let MessageBody::Edit { message, .. } = &m.body {
                    assert!(!matches!(**message, MessageBody::Edit { .. }));
                }
                // A text's and a contact's Debug hold no labels.
                if let MessageBody::Text(t) = &m.body {
                    hidden(&Some(t.clone()), &format!("{:?}", m.body));
                }
                let contact = format!("{:?}", m.from);
                hidden(&m.from.profile_name, &contact);
                hidden(&m.from.wa_id, &contact);
                hidden(&m.from.user_id, &contact);
            }
            EventKind::Status(s) => {
                assert!(is_label(&s.message_id));
                assert!((0..=253_402_300_799).contains(&s.timestamp));
                assert!(s.recipient.is_identified());
                assert!(is_label(s.status.code()));
                check_errors(&s.errors);
            }
            EventKind::UserPreference(p) => {
                assert!(p.contact.is_identified());
                assert!(is_label(&p.category));
                assert!((0..=253_402_300_799).contains(&p.timestamp));
            }
            EventKind::TemplateStatus(t) => {
                assert!(
                    !t.template_id.is_empty() && t.template_id.bytes().all(|b| b.is_ascii_digit())
                );
                assert!(is_label(&t.name) && is_label(&t.language) && is_label(&t.event));
            }
            EventKind::TemplateCategory(t) => {
                assert!(
                    !t.template_id.is_empty() && t.template_id.bytes().all(|b| b.is_ascii_digit())
                );
                assert!(is_label(&t.new_category));
            }
            EventKind::Errors(errors) => {
                assert!(!errors.is_empty());
                check_errors(errors);
            }
            EventKind::Unsupported { field, reason } => {
                assert!(is_label(field));
                assert!(!reason.is_empty());
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let default = ParseLimits::default();
    let tight = ParseLimits {
        max_events: 4,
        max_depth: 12,
        ..default
    };
    let result = parse_webhook(data, &default);
    assert_eq!(result, parse_webhook(data, &default), "not deterministic");
    match &result {
        Ok(hook) => check(hook, &default),
        Err(e) => {
            let text = e.to_string();
            assert!(text.is_ascii() && text.contains("webhook body"));
            if String::from_utf8_lossy(data).contains(MARKER) {
                assert!(!text.contains(MARKER), "an error quotes the input: {text}");
            }
        }
    }
    match parse_webhook(data, &tight) {
        Ok(hook) => {
            check(&hook, &tight);
            assert_eq!(
                Ok(&hook),
                result.as_ref(),
                "tighter limits changed the result"
            );
        }
        Err(e) => assert!(e.to_string().is_ascii()),
    }
});
