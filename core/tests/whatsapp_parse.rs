//! WhatsApp webhook bodies parsed into typed events (docs/WHATSAPP.md
//! section 2), against the signed fixtures in `tests/fixtures/whatsapp/`
//! (described in its README.md).
//!
//! Every fixture is verified with `verify_signature` against its `.sig`,
//! which `tests/fixtures/whatsapp/sign.py` computed with Python's `hmac`
//! module over the exact file bytes; a fixture edited without re-signing
//! fails `every_fixture_is_signed_with_the_test_app_secret`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use caduceus_core::suite::sha256;
use caduceus_core::whatsapp::{
    Contact, DeliveryStatus, Event, EventKind, InboundMessage, MAX_ERRORS_KEPT, MAX_EVENTS,
    MAX_JSON_DEPTH, MAX_WEBHOOK_BODY, MediaKind, MessageBody, ParseError, ParseLimits,
    PlatformError, PreferenceValue, Sensitive, SignatureError, StatusUpdate, SystemChange, Webhook,
    parse_webhook, verify_signature,
};
use proptest::prelude::*;
use serde_json::Value;

const WABA: &str = "1029384756102938";
const PHONE_NUMBER_ID: &str = "109876543210987";
const T: i64 = 1_790_000_000;

const ERIKA: (&str, &str, &str, &str) = (
    "Erika Musterfrau",
    "4915100000001",
    "DE.1234567890123456789",
    "DE.ENT.9876543210987654321",
);

/// Every fixture, and what parsing it gives: `Ok(n)` events or an error.
const FIXTURES: &[(&str, Result<usize, &str>)] = &[
    ("audio-voice.json", Ok(1)),
    ("batch.json", Ok(7)),
    ("button-reply.json", Ok(1)),
    ("consent-yes-button.json", Ok(1)),
    ("consent-yes-photos-button.json", Ok(1)),
    ("contacts.json", Ok(1)),
    ("document.json", Ok(1)),
    ("edit.json", Ok(1)),
    ("image.json", Ok(1)),
    ("interactive-with-value-errors.json", Ok(1)),
    ("list-reply.json", Ok(1)),
    ("location.json", Ok(1)),
    ("malformed.json", Err("Json")),
    ("no-contact-id.json", Ok(1)),
    ("not-whatsapp.json", Err("NotWhatsApp")),
    ("quick-reply.json", Ok(1)),
    ("reaction.json", Ok(1)),
    ("revoke.json", Ok(1)),
    ("status-delivered.json", Ok(1)),
    ("status-failed.json", Ok(1)),
    ("status-read.json", Ok(1)),
    ("status-sent.json", Ok(1)),
    ("sticker.json", Ok(1)),
    ("system-changed-number.json", Ok(1)),
    ("system-changed-user-id.json", Ok(1)),
    ("template-category-completed.json", Ok(1)),
    ("template-category-impending.json", Ok(1)),
    ("template-status-approved.json", Ok(1)),
    ("template-status-pending-deletion.json", Ok(1)),
    ("template-status-rejected.json", Ok(1)),
    ("text-bsuid-only.json", Ok(1)),
    ("text-then-both.json", Ok(2)),
    ("text-umlaut-escaped.json", Ok(1)),
    ("text.json", Ok(1)),
    ("too-deep.json", Err("TooDeep")),
    ("unknown-field.json", Ok(1)),
    ("unknown-legacy.json", Ok(1)),
    ("unreaction.json", Ok(2)),
    ("unsupported.json", Ok(1)),
    ("user-preferences-resume.json", Ok(1)),
    ("user-preferences-stop.json", Ok(1)),
    ("video.json", Ok(1)),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/whatsapp")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text_of(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

fn secret() -> Vec<u8> {
    read("app-secret.txt")
}

fn parse_bytes(body: &[u8]) -> Result<Webhook, ParseError> {
    parse_webhook(body, &ParseLimits::default())
}

fn parse_str(body: &str) -> Webhook {
    parse_bytes(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// A fixture, verified against its signature, then parsed.
fn parse(name: &str) -> Webhook {
    let body = read(name);
    let sig = String::from_utf8(read(&format!("{name}.sig"))).unwrap();
    verify_signature(&body, Some(&sig), &[&secret()]).unwrap();
    let hook = parse_bytes(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
    check_invariants(&hook, &ParseLimits::default());
    hook
}

/// The only event of a fixture.
fn only(name: &str) -> Event {
    let mut hook = parse(name);
    assert_eq!(hook.events.len(), 1, "{name}");
    hook.events.remove(0)
}

fn message_in(event: Event) -> InboundMessage {
    match event.kind {
        EventKind::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

fn message(name: &str) -> InboundMessage {
    let e = only(name);
    assert_eq!(e.account_id, WABA, "{name}");
    assert_eq!(
        e.phone_number_id.as_deref(),
        Some(PHONE_NUMBER_ID),
        "{name}"
    );
    message_in(e)
}

fn status(name: &str) -> StatusUpdate {
    match only(name).kind {
        EventKind::Status(s) => s,
        other => panic!("not a status: {other:?}"),
    }
}

fn exposed(v: &Option<Sensitive>) -> Option<&str> {
    v.as_ref().map(Sensitive::expose)
}

fn wamid(n: u32) -> String {
    format!("wamid.HBgNNDkxNTEwMDAwMDAwMRUCABIYFjNFQjBDQUQ{n:04}QTAwMDAwMDAwMDAA")
}

/// Assert a contact, field by field: wa_id, user_id, parent, name, username.
fn assert_contact(
    c: &Contact,
    wa_id: Option<&str>,
    user_id: Option<&str>,
    parent: Option<&str>,
    name: Option<&str>,
    username: Option<&str>,
) {
    assert_eq!(exposed(&c.wa_id), wa_id, "wa_id");
    assert_eq!(exposed(&c.user_id), user_id, "user_id");
    assert_eq!(exposed(&c.parent_user_id), parent, "parent_user_id");
    assert_eq!(exposed(&c.profile_name), name, "profile name");
    assert_eq!(exposed(&c.username), username, "username");
    assert!(c.is_identified());
}

fn assert_erika(c: &Contact) {
    assert_contact(
        c,
        Some(ERIKA.1),
        Some(ERIKA.2),
        Some(ERIKA.3),
        Some(ERIKA.0),
        None,
    );
}

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// What every parse result must satisfy, whatever the input.
fn check_invariants(hook: &Webhook, limits: &ParseLimits) {
    assert!(hook.events.len() <= limits.max_events);
    let errors_ok = |errors: &[PlatformError]| {
        for e in errors {
            assert!(e.title.len() <= 128 && e.title.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        }
    };
    for e in &hook.events {
        assert!(is_label(&e.account_id), "{:?}", e.account_id);
        if let Some(p) = &e.phone_number_id {
            assert!(is_label(p));
        }
        match &e.kind {
            EventKind::Message(m) => {
                assert!(is_label(&m.id));
                assert!((0..=253_402_300_799).contains(&m.timestamp));
                assert!(m.from.is_identified());
                assert!(is_label(m.body.type_code()), "{:?}", m.body.type_code());
                errors_ok(&m.errors);
                if let MessageBody::Edit { message, .. } = &m.body {
                    assert!(!matches!(**message, MessageBody::Edit { .. }));
                }
            }
            EventKind::Status(s) => {
                assert!(is_label(&s.message_id));
                assert!((0..=253_402_300_799).contains(&s.timestamp));
                assert!(s.recipient.is_identified());
                assert!(is_label(s.status.code()));
                errors_ok(&s.errors);
            }
            EventKind::UserPreference(p) => {
                assert!(p.contact.is_identified());
                assert!(is_label(&p.category));
            }
            EventKind::TemplateStatus(t) => {
                assert!(!t.template_id.is_empty());
                assert!(t.template_id.bytes().all(|b| b.is_ascii_digit()));
                assert!(is_label(&t.name) && is_label(&t.language) && is_label(&t.event));
            }
            EventKind::TemplateCategory(t) => {
                assert!(t.template_id.bytes().all(|b| b.is_ascii_digit()));
                assert!(is_label(&t.new_category));
            }
            EventKind::Errors(errors) => errors_ok(errors),
            EventKind::Unsupported { field, reason } => {
                assert!(is_label(field), "{field:?}");
                assert!(!reason.is_empty());
            }
            other => panic!("an event kind this test does not know: {other:?}"),
        }
    }
}

/// A text-message body; `extra` is inserted into the message object.
fn text_body(extra: &str) -> String {
    format!(
        concat!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","changes":[{{"value":{{"#,
            r#""messaging_product":"whatsapp","metadata":{{"display_phone_number":"4930000000000","phone_number_id":"{}"}},"#,
            r#""contacts":[{{"profile":{{"name":"Erika Musterfrau"}},"wa_id":"4915100000001","user_id":"DE.1234567890123456789"}}],"#,
            r#""messages":[{{"from":"4915100000001","from_user_id":"DE.1234567890123456789","id":"wamid.TEST","timestamp":"1790000001","type":"text","text":{{"body":"Hallo"}}{}}}]}},"#,
            r#""field":"messages"}}]}}]}}"#
        ),
        WABA, PHONE_NUMBER_ID, extra
    )
}

/// A body of `n` status updates in one change.
fn statuses_body(n: usize) -> String {
    let statuses: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"wamid.S{i}","status":"delivered","timestamp":"1790000100","recipient_id":"4915100000001"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{WABA}","changes":[{{"value":{{"messaging_product":"whatsapp","statuses":[{}]}},"field":"messages"}}]}}]}}"#,
        statuses.join(",")
    )
}

/// `hook`'s only event, which must be a message.
fn only_message(hook: Webhook) -> InboundMessage {
    assert_eq!(hook.events.len(), 1);
    message_in(hook.events.into_iter().next().unwrap())
}

fn unsupported_reason(e: &Event) -> &'static str {
    match &e.kind {
        EventKind::Unsupported { reason, .. } => reason,
        other => panic!("not unsupported: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Fixtures: signatures and the list.

#[test]
fn every_fixture_is_signed_with_the_test_app_secret() {
    assert_eq!(secret(), b"caduceus-test-app-secret");
    let mut bodies = BTreeSet::new();
    let mut sigs = BTreeSet::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(body) = name.strip_suffix(".sig") {
            sigs.insert(body.to_owned());
        } else if name.ends_with(".json") {
            bodies.insert(name);
        }
    }
    assert_eq!(
        bodies, sigs,
        "every .json has a .sig and every .sig a .json"
    );
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(bodies, listed, "FIXTURES lists every fixture");
    for name in &bodies {
        let body = read(name);
        let sig = String::from_utf8(read(&format!("{name}.sig"))).unwrap();
        assert!(
            sig.starts_with("sha256=") && sig.len() == 71,
            "{name}: {sig}"
        );
        assert_eq!(
            verify_signature(&body, Some(&sig), &[&secret()]).map(|i| i.index()),
            Ok(0),
            "{name}: stale signature, run tests/fixtures/whatsapp/sign.py"
        );
        // Meta's escaped form: the bodies are ASCII.
        assert!(body.is_ascii(), "{name} is not in Meta's escaped form");
    }
}

#[test]
fn every_fixture_parses_as_listed() {
    for (name, want) in FIXTURES {
        let got = parse_bytes(&read(name));
        match (want, &got) {
            (Ok(n), Ok(hook)) => {
                assert_eq!(hook.events.len(), *n, "{name}");
                check_invariants(hook, &ParseLimits::default());
            }
            (Err("Json"), Err(ParseError::Json { .. }))
            | (Err("TooDeep"), Err(ParseError::TooDeep { limit: 32 }))
            | (Err("NotWhatsApp"), Err(ParseError::NotWhatsApp)) => {}
            _ => panic!("{name}: expected {want:?}, got {got:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Messages, type by type.

#[test]
fn text_message_fields() {
    let m = message("text.json");
    assert_eq!(m.id, wamid(1));
    assert_eq!(m.timestamp, T + 1);
    assert_erika(&m.from);
    assert_eq!(m.context, Default::default());
    assert!(m.errors.is_empty());
    let MessageBody::Text(text) = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(
        text.expose(),
        "Guten Tag, ich m\u{f6}chte meinen Termin am Dienstag verschieben."
    );
    assert_eq!(m.body.type_code(), "text");
}

#[test]
fn debug_of_a_text_event_shows_no_personal_data() {
    let hook = parse("text.json");
    let debug = format!("{hook:?}");
    for secret in [
        "Guten Tag",
        "Termin",
        ERIKA.0,
        "Musterfrau",
        ERIKA.1,
        ERIKA.2,
        ERIKA.3,
        "4915100000001",
    ] {
        assert!(!debug.contains(secret), "Debug shows {secret:?}: {debug}");
    }
    // What names no person is shown.
    assert!(debug.contains(&wamid(1)));
    assert!(debug.contains("REDACTED"));
}

#[test]
fn a_contact_with_only_a_bsuid_and_a_username() {
    let m = message("text-bsuid-only.json");
    assert_eq!(m.id, wamid(2));
    assert_contact(
        &m.from,
        None,
        Some("DE.3234567890123456789"),
        Some("DE.ENT.9876543210987654321"),
        Some("Anna Schr\u{f6}der"),
        Some("@anna.schroeder"),
    );
    let MessageBody::Text(text) = &m.body else {
        panic!()
    };
    assert_eq!(text.expose(), "Hallo, ist die Praxis morgen ge\u{f6}ffnet?");
}

#[test]
fn the_same_contact_first_by_bsuid_then_with_its_phone_number() {
    let hook = parse("text-then-both.json");
    let [first, second] = <[Event; 2]>::try_from(hook.events).unwrap();
    let (first, second) = (message_in(first), message_in(second));
    let name = Some("Klaus Beispielmann");
    assert_contact(
        &first.from,
        None,
        Some("DE.5234567890123456789"),
        None,
        name,
        None,
    );
    assert_contact(
        &second.from,
        Some("4915100000005"),
        Some("DE.5234567890123456789"),
        None,
        name,
        None,
    );
    // The BSUID is what links them.
    assert_eq!(first.from.user_id, second.from.user_id);
    assert_eq!((first.id, second.id), (wamid(3), wamid(4)));
}

#[test]
fn image_with_caption_and_a_checkable_sha256() {
    let m = message("image.json");
    assert_erika(&m.from);
    let MessageBody::Media(media) = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(media.kind, MediaKind::Image);
    assert_eq!(media.id, "1100000000000005");
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(exposed(&media.caption), Some("Foto vom Zahn oben links"));
    assert_eq!(media.filename, None);
    assert!(!media.voice && !media.animated);
    // The webhook's base64 SHA-256 is that of the bytes checked in beside it.
    assert_eq!(media.sha256, Some(sha256(&[&read("image.bin")])));
    assert_eq!(m.body.type_code(), "image");
}

#[test]
fn document_audio_video_and_sticker() {
    let m = message("document.json");
    let MessageBody::Media(d) = &m.body else {
        panic!()
    };
    assert_eq!(
        (d.kind, d.id.as_str(), d.mime_type.as_deref()),
        (
            MediaKind::Document,
            "1100000000000006",
            Some("application/pdf")
        )
    );
    assert_eq!(exposed(&d.filename), Some("Befund_B\u{e4}cker.pdf"));
    assert_eq!(exposed(&d.caption), Some("Mein Befund"));
    assert_eq!(d.sha256, Some(sha256(&[b"caduceus synthetic pdf"])));
    assert!(m.context.forwarded && !m.context.frequently_forwarded);
    assert_contact(
        &m.from,
        Some("4915100000002"),
        Some("DE.2234567890123456789"),
        None,
        Some("J\u{fc}rgen B\u{e4}cker"),
        None,
    );

    let m = message("audio-voice.json");
    let MessageBody::Media(a) = &m.body else {
        panic!()
    };
    assert_eq!((a.kind, a.voice), (MediaKind::Audio, true));
    assert_eq!(a.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
    assert_eq!(a.sha256, Some(sha256(&[b"caduceus synthetic voice note"])));
    assert_eq!(m.body.type_code(), "audio");

    let m = message("video.json");
    let MessageBody::Media(v) = &m.body else {
        panic!()
    };
    assert_eq!(
        (v.kind, v.id.as_str()),
        (MediaKind::Video, "1100000000000008")
    );
    assert_eq!(exposed(&v.caption), Some("Wie putze ich richtig?"));
    assert_eq!(v.sha256, Some(sha256(&[b"caduceus synthetic video"])));
    assert!(m.context.frequently_forwarded && !m.context.forwarded);

    let m = message("sticker.json");
    let MessageBody::Media(s) = &m.body else {
        panic!()
    };
    assert_eq!(
        (s.kind, s.animated, s.voice),
        (MediaKind::Sticker, true, false)
    );
    assert_eq!(s.mime_type.as_deref(), Some("image/webp"));
    assert_eq!(s.sha256, Some(sha256(&[b"caduceus synthetic sticker"])));
}

#[test]
fn location_and_contacts_are_kept_as_json_text() {
    let m = message("location.json");
    let MessageBody::Location(loc) = &m.body else {
        panic!("{:?}", m.body)
    };
    let v: Value = serde_json::from_str(loc.expose()).unwrap();
    assert_eq!(v["latitude"], 52.520008);
    assert_eq!(v["longitude"], 13.404954);
    assert_eq!(v["name"], "Zahnarztpraxis Dr. M\u{fc}ller");
    assert_eq!(v["address"], "Hauptstra\u{df}e 1, 10115 Berlin");
    assert!(!format!("{m:?}").contains("Berlin"));

    let m = message("contacts.json");
    let MessageBody::Contacts(cards) = &m.body else {
        panic!("{:?}", m.body)
    };
    let v: Value = serde_json::from_str(cards.expose()).unwrap();
    assert_eq!(v[0]["name"]["formatted_name"], "Hans Beispiel");
    assert_eq!(v[0]["phones"][0]["wa_id"], "4915100000009");
    assert_eq!(v[0]["phones"][0]["phone"], "+49 151 00000009");
    assert!(!format!("{m:?}").contains("Hans"));
}

#[test]
fn interactive_replies_and_template_quick_replies() {
    let m = message("button-reply.json");
    assert_eq!(m.context.replied_to.as_deref(), Some(wamid(9012).as_str()));
    let MessageBody::ButtonReply { id, title } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(
        (id.as_str(), title.expose()),
        ("reschedule-yes", "Ja, bitte")
    );
    assert_eq!(m.body.type_code(), "interactive");

    let m = message("list-reply.json");
    assert_eq!(m.context.replied_to.as_deref(), Some(wamid(9013).as_str()));
    let MessageBody::ListReply {
        id,
        title,
        description,
    } = &m.body
    else {
        panic!("{:?}", m.body)
    };
    assert_eq!(id, "slot-2026-09-22-0930");
    assert_eq!(title.expose(), "Di 22.09. 09:30");
    assert_eq!(
        exposed(description),
        Some("Prophylaxe bei Frau Dr. M\u{fc}ller")
    );

    let m = message("quick-reply.json");
    assert_eq!(m.context.replied_to.as_deref(), Some(wamid(9014).as_str()));
    let MessageBody::QuickReply { payload, text } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(payload, "recall-confirm");
    assert_eq!(text.expose(), "Termin best\u{e4}tigen");
    assert_eq!(m.body.type_code(), "button");
}

#[test]
fn the_consent_button_payload_arrives_verbatim() {
    let m = message("consent-yes-button.json");
    assert_erika(&m.from);
    assert_eq!(m.id, wamid(40));
    assert_eq!(m.context.replied_to.as_deref(), Some(wamid(9040).as_str()));
    let MessageBody::ButtonReply { id, title } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(id, "caduceus.consent.v1:yes:privacy-chat:1:de");
    assert_eq!(title.expose(), "Ja, ich willige ein");
}

#[test]
fn the_photo_consent_button_payload_arrives_verbatim() {
    let m = message("consent-yes-photos-button.json");
    assert_erika(&m.from);
    assert_eq!(m.id, wamid(41));
    let MessageBody::ButtonReply { id, title } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(id, "caduceus.consent.v1:yes-photos:privacy-chat:1:de");
    assert_eq!(title.expose(), "Ja, auch Fotos");
}

#[test]
fn reactions_and_unreactions() {
    let m = message("reaction.json");
    let MessageBody::Reaction { message_id, emoji } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(message_id, &wamid(9015));
    assert_eq!(exposed(emoji), Some("\u{1F44D}"));

    let hook = parse("unreaction.json");
    let got: Vec<(String, bool)> = hook
        .events
        .into_iter()
        .map(|e| match message_in(e).body {
            MessageBody::Reaction { message_id, emoji } => (message_id, emoji.is_some()),
            other => panic!("{other:?}"),
        })
        .collect();
    // "emoji":"" and no emoji at all both remove the reaction.
    assert_eq!(got, [(wamid(9015), false), (wamid(9016), false)]);
}

#[test]
fn revoke_and_edit() {
    let m = message("revoke.json");
    assert_eq!(
        m.body,
        MessageBody::Revoke {
            original_message_id: wamid(1)
        }
    );

    let m = message("edit.json");
    let MessageBody::Edit {
        original_message_id,
        message,
    } = &m.body
    else {
        panic!("{:?}", m.body)
    };
    assert_eq!(original_message_id, &wamid(1));
    let MessageBody::Text(text) = message.as_ref() else {
        panic!("{message:?}")
    };
    assert_eq!(text.expose(), "Korrektur: Mittwoch statt Dienstag, bitte.");
    assert_eq!(m.body.type_code(), "edit");
}

#[test]
fn an_edit_inside_an_edit_is_unsupported() {
    let mut v: Value = serde_json::from_slice(&read("edit.json")).unwrap();
    let msg = &mut v["entry"][0]["changes"][0]["value"]["messages"][0];
    let inner = msg["edit"]["message"].clone();
    msg["edit"]["message"] = serde_json::json!({
        "type": "edit",
        "edit": {"original_message_id": wamid(2), "message": inner}
    });
    let m = only_message(parse_str(&v.to_string()));
    let MessageBody::Edit { message, .. } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(
        **message,
        MessageBody::Unsupported {
            message_type: "edit".into(),
            errors: vec![]
        }
    );
    // An edit without the new version is unsupported as a whole.
    let mut v: Value = serde_json::from_slice(&read("edit.json")).unwrap();
    v["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]
        .as_object_mut()
        .unwrap()
        .remove("message");
    let m = only_message(parse_str(&v.to_string()));
    assert!(
        matches!(&m.body, MessageBody::Unsupported { message_type, .. } if message_type == "edit")
    );
}

#[test]
fn system_messages_change_identities() {
    let m = message("system-changed-number.json");
    assert_contact(
        &m.from,
        Some(ERIKA.1),
        Some(ERIKA.2),
        None,
        None, // a system webhook has no contacts block
        None,
    );
    let MessageBody::System(SystemChange::ChangedNumber { new_wa_id }) = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(new_wa_id.expose(), "4915100000011");

    let m = message("system-changed-user-id.json");
    assert_contact(&m.from, None, Some(ERIKA.2), None, None, None);
    let MessageBody::System(SystemChange::ChangedUserId { new_user_id }) = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(new_user_id.expose(), "DE.1234567890123456790");
    assert!(!format!("{m:?}").contains("DE.1234567890123456790"));

    // Older bodies name the new number `wa_id`; other system types by name.
    let text = text_of("system-changed-number.json");
    let m = only_message(parse_str(&text.replace("new_wa_id", "wa_id")));
    assert!(
        matches!(&m.body, MessageBody::System(SystemChange::ChangedNumber { new_wa_id }) if new_wa_id.expose() == "4915100000011")
    );
    let m = only_message(parse_str(
        &text.replace("user_changed_number", "customer_identity_changed"),
    ));
    assert_eq!(
        m.body,
        MessageBody::System(SystemChange::Other("customer_identity_changed".into()))
    );
    // A number change that does not say the new number is unsupported.
    let m = only_message(parse_str(&text.replace("\"new_wa_id\"", "\"other\"")));
    assert!(
        matches!(&m.body, MessageBody::Unsupported { message_type, .. } if message_type == "system")
    );
}

#[test]
fn unsupported_and_legacy_unknown_messages_keep_type_and_errors() {
    let m = message("unsupported.json");
    assert_eq!(
        m.body,
        MessageBody::Unsupported {
            message_type: "poll_creation".into(),
            errors: vec![PlatformError {
                code: 131051,
                title: "Message type unknown".into()
            }],
        }
    );
    assert_eq!(m.errors.len(), 1);
    assert_eq!(m.body.type_code(), "poll_creation");
    // Without `unsupported.type` the type is `unsupported`.
    let text =
        text_of("unsupported.json").replace(r#","unsupported":{"type":"poll_creation"}"#, "");
    let m = only_message(parse_str(&text));
    assert_eq!(m.body.type_code(), "unsupported");

    let m = message("unknown-legacy.json");
    assert_eq!(
        m.body,
        MessageBody::Unsupported {
            message_type: "unknown".into(),
            errors: vec![PlatformError {
                code: 131051,
                title: "Unsupported message type".into()
            }],
        }
    );
}

#[test]
fn a_bare_interactive_message_carries_the_value_errors() {
    let m = message("interactive-with-value-errors.json");
    assert_erika(&m.from);
    let err = PlatformError {
        code: 131000,
        title: "Something went wrong".into(),
    };
    assert_eq!(
        m.body,
        MessageBody::Unsupported {
            message_type: "interactive".into(),
            errors: vec![err.clone()],
        }
    );
    assert_eq!(m.errors, vec![err.clone()]);
    // Value-level errors alone become an Errors event.
    let mut v: Value = serde_json::from_slice(&read("interactive-with-value-errors.json")).unwrap();
    let value = v["entry"][0]["changes"][0]["value"]
        .as_object_mut()
        .unwrap();
    value.remove("messages");
    value.remove("contacts");
    let hook = parse_str(&v.to_string());
    assert_eq!(hook.events.len(), 1);
    assert_eq!(hook.events[0].kind, EventKind::Errors(vec![err]));
}

#[test]
fn known_types_without_their_object_and_unknown_types_are_unsupported() {
    for (ty, object) in [
        ("text", "text"),
        ("image", "image"),
        ("document", "document"),
        ("audio", "audio"),
        ("video", "video"),
        ("sticker", "sticker"),
        ("location", "location"),
        ("contacts", "contacts"),
        ("interactive", "interactive"),
        ("button", "button"),
        ("reaction", "reaction"),
        ("revoke", "revoke"),
        ("edit", "edit"),
        ("system", "system"),
    ] {
        // `type` says one thing, the message has only a text object.
        let body = text_body("").replace(r#""type":"text""#, &format!(r#""type":"{ty}""#));
        let m = only_message(parse_str(&body));
        if ty == "text" {
            assert!(matches!(m.body, MessageBody::Text(_)));
            // Without it: unsupported.
            let body = text_body("").replace(r#","text":{"body":"Hallo"}"#, "");
            let m = only_message(parse_str(&body));
            assert_eq!(
                m.body,
                MessageBody::Unsupported {
                    message_type: "text".into(),
                    errors: vec![]
                }
            );
        } else {
            assert_eq!(
                m.body,
                MessageBody::Unsupported {
                    message_type: object.into(),
                    errors: vec![]
                },
                "{ty}"
            );
        }
    }
    for ty in ["order", "poll", "group_invite", "request_welcome"] {
        let body = text_body("").replace(r#""type":"text""#, &format!(r#""type":"{ty}""#));
        let m = only_message(parse_str(&body));
        assert_eq!(m.body.type_code(), ty);
        assert!(matches!(m.body, MessageBody::Unsupported { .. }));
    }
    // No type at all, or a type that is not a label.
    let m = only_message(parse_str(&text_body("").replace(r#""type":"text","#, "")));
    assert_eq!(m.body.type_code(), "?");
    let m = only_message(parse_str(
        &text_body("").replace(r#""type":"text""#, r#""type":"t\u00e4xt\n""#),
    ));
    assert_eq!(m.body.type_code(), "t?xt?");
}

#[test]
fn values_of_the_wrong_type_make_only_that_message_unsupported() {
    // `text` a number, `context` a string, flags not booleans: lenient.
    let m = only_message(parse_str(
        &text_body("").replace(r#""text":{"body":"Hallo"}"#, r#""text":5"#),
    ));
    assert_eq!(m.body.type_code(), "text");
    assert!(matches!(m.body, MessageBody::Unsupported { .. }));
    let m = only_message(parse_str(&text_body(r#","context":"reply""#)));
    assert_eq!(m.context, Default::default());
    let m = only_message(parse_str(&text_body(
        r#","context":{"forwarded":"yes","frequently_forwarded":1,"id":7}"#,
    )));
    assert_eq!(m.context, Default::default());
    // A message that is not an object, beside one that is.
    let body = text_body("").replace(r#""messages":[{"#, r#""messages":[17,"x",null,[],{"#);
    let hook = parse_str(&body);
    let reasons: Vec<_> = hook.events.iter().take(4).map(unsupported_reason).collect();
    assert_eq!(reasons, ["a message is not an object"; 4]);
    assert!(matches!(hook.events[4].kind, EventKind::Message(_)));
    // `messages` itself not an array.
    let body = text_body("")
        .replace(r#""messages":[{"#, r#""messages":{"x":[{"#)
        .replace(r#"}}]},"field""#, r#"}}]}},"field""#);
    let hook = parse_str(&body);
    assert_eq!(
        unsupported_reason(&hook.events[0]),
        "messages is not an array"
    );
    // A value that is not an object, a change without value or field.
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{WABA}","changes":[{{"value":[],"field":"messages"}},{{"field":"messages"}},{{"value":{{}}}},{{"value":{{}},"field":"messages"}}]}}]}}"#
    );
    let hook = parse_str(&body);
    let reasons: Vec<_> = hook.events.iter().map(unsupported_reason).collect();
    assert_eq!(
        reasons,
        [
            "the change's value is not an object",
            "the change has no value",
            "the change has no field",
            "the change holds no update"
        ]
    );
}

#[test]
fn timestamps_are_strings_or_integers_within_year_9999() {
    let stamp = |t: &str| {
        let body = text_body("").replace(
            r#""timestamp":"1790000001""#,
            &format!(r#""timestamp":{t}"#),
        );
        parse_str(&body).events.remove(0)
    };
    for (t, want) in [
        (r#""1790000001""#, 1_790_000_001),
        ("1790000001", 1_790_000_001),
        (r#""0""#, 0),
        ("0", 0),
        (r#""253402300799""#, 253_402_300_799),
        ("253402300799", 253_402_300_799),
    ] {
        assert_eq!(message_in(stamp(t)).timestamp, want, "{t}");
    }
    for t in [
        r#""253402300800""#,
        "253402300800",
        "-1",
        r#""-1""#,
        "1790000001.5",
        r#""1790000001 ""#,
        r#""""#,
        r#""abc""#,
        "null",
        "true",
        "[1790000001]",
        r#""99999999999999999999""#,
        "18446744073709551615",
    ] {
        assert_eq!(
            unsupported_reason(&stamp(t)),
            "a message timestamp is missing or out of range",
            "{t}"
        );
    }
    // One bad timestamp does not fail the others in the body.
    let two = text_body("").replace(
        r#""messages":[{"#,
        r#""messages":[{"from":"4915100000001","id":"wamid.BAD","timestamp":"-5","type":"text","text":{"body":"x"}},{"#,
    );
    let hook = parse_str(&two);
    assert_eq!(hook.events.len(), 2);
    assert_eq!(
        unsupported_reason(&hook.events[0]),
        "a message timestamp is missing or out of range"
    );
    assert!(matches!(hook.events[1].kind, EventKind::Message(_)));
    // Statuses likewise.
    let body = statuses_body(1).replace(r#""1790000100""#, r#""253402300800""#);
    assert_eq!(
        unsupported_reason(&parse_str(&body).events[0]),
        "a status timestamp is missing or out of range"
    );
}

#[test]
fn ids_must_be_labels() {
    let with_id = |id: &str| {
        let body = text_body("").replace("wamid.TEST", id);
        parse_str(&body).events.remove(0)
    };
    let longest = "w".repeat(128);
    assert_eq!(message_in(with_id(&longest)).id, longest);
    assert_eq!(
        message_in(with_id("wamid.with space=")).id,
        "wamid.with space="
    );
    for bad in [
        "w".repeat(129),
        String::new(),
        "wamid.\\u00e9".into(),
        "a\\nb".into(),
    ] {
        assert_eq!(
            unsupported_reason(&with_id(&bad)),
            "a message id is missing or not a label",
            "{bad}"
        );
    }
    // A media id, reaction target, button id or template name that is not
    // a label makes that content unsupported.
    let text = text_of("image.json").replace("1100000000000005", &"9".repeat(129));
    let m = only_message(parse_str(&text));
    assert_eq!(
        m.body,
        MessageBody::Unsupported {
            message_type: "image".into(),
            errors: vec![]
        }
    );
    let text =
        text_of("consent-yes-button.json").replace("caduceus.consent.v1", "caduceus.\\u00e9");
    assert!(matches!(
        only_message(parse_str(&text)).body,
        MessageBody::Unsupported { .. }
    ));
    let text = text_of("reaction.json").replace(&wamid(9015), "");
    assert!(matches!(
        only_message(parse_str(&text)).body,
        MessageBody::Unsupported { .. }
    ));
    let text =
        text_of("template-status-approved.json").replace("recall_reminder_de", &"r".repeat(129));
    assert_eq!(
        unsupported_reason(&parse_str(&text).events[0]),
        "the template id, name, language or event is missing or not a label"
    );
    // Optional labels that are not labels are dropped.
    let text = text_of("image.json").replace("image/jpeg", "image/\\u00e9");
    let MessageBody::Media(media) = only_message(parse_str(&text)).body else {
        panic!()
    };
    assert_eq!(media.mime_type, None);
    let text = text_of("button-reply.json").replace(&wamid(9012), &"x".repeat(129));
    assert_eq!(only_message(parse_str(&text)).context.replied_to, None);
    // An entry id that is not a label fails the body (Meta's are digits).
    let text = text_of("text.json").replace(WABA, "");
    assert!(matches!(
        parse_bytes(text.as_bytes()),
        Err(ParseError::Shape(_))
    ));
    // An entry id given as a number is accepted as decimal text.
    let text =
        text_of("text.json").replace(&format!(r#""id":"{WABA}""#), &format!(r#""id":{WABA}"#));
    assert_eq!(parse_str(&text).events[0].account_id, WABA);
}

#[test]
fn media_sha256_is_base64_or_hex_else_none() {
    let text = text_of("image.json");
    let b64 = {
        let v: Value = serde_json::from_str(&text).unwrap();
        v["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["sha256"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let digest = sha256(&[&read("image.bin")]);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let with = |sha: &str| {
        let MessageBody::Media(m) = only_message(parse_str(&text.replace(&b64, sha))).body else {
            panic!()
        };
        m.sha256
    };
    assert_eq!(with(&b64), Some(digest));
    assert_eq!(with(&hex), Some(digest));
    assert_eq!(with(&hex.to_uppercase()), Some(digest));
    for bad in [
        "",
        "4654+8g=",
        &b64[..43],
        &b64[..40],
        &hex[..62],
        "not base64 at all, not hex either, 44 chars",
    ] {
        assert_eq!(with(bad), None, "{bad}");
    }
}

#[test]
fn error_titles_are_cut_to_128_printable_ascii_characters() {
    let long = format!("{}\\u00e4\\n{}", "T".repeat(100), "x".repeat(100));
    let text = text_of("unsupported.json").replace(
        r#""title":"Message type unknown""#,
        &format!(r#""title":"{long}""#),
    );
    let m = only_message(parse_str(&text));
    let title = &m.errors[0].title;
    assert_eq!(title.len(), 128);
    assert_eq!(title, &format!("{}??{}", "T".repeat(100), "x".repeat(26)));
    // An error without a code keeps code 0; at most MAX_ERRORS_KEPT are kept.
    assert_eq!(MAX_ERRORS_KEPT, 16);
    let errors: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"code":{i},"title":"E{i}"}}"#))
        .chain([r#"{"title":"no code"}"#.to_owned()])
        .collect();
    let body = text_body(&format!(r#","errors":[{}]"#, errors.join(",")));
    let m = only_message(parse_str(&body));
    assert_eq!(m.errors.len(), MAX_ERRORS_KEPT);
    assert_eq!(
        m.errors[15],
        PlatformError {
            code: 15,
            title: "E15".into()
        }
    );
    let body = text_body(r#","errors":[{"title":"no code"},{"code":"131000"},7]"#);
    let m = only_message(parse_str(&body));
    assert_eq!(
        m.errors,
        [
            PlatformError {
                code: 0,
                title: "no code".into()
            },
            PlatformError {
                code: 0,
                title: String::new()
            }
        ]
    );
}

// ---------------------------------------------------------------------------
// Identity.

#[test]
fn a_message_that_names_nobody_is_unsupported() {
    let e = only("no-contact-id.json");
    assert_eq!(
        e.kind,
        EventKind::Unsupported {
            field: "messages".into(),
            reason: "names no contact"
        }
    );
    // Empty or unprintable ids name nobody either.
    for from in [r#""from":"""#, r#""from":"49151 00000001""#, r#""from":5"#] {
        let body = text_body("").replace(
            r#""from":"4915100000001","from_user_id":"DE.1234567890123456789""#,
            from,
        );
        assert_eq!(
            unsupported_reason(&parse_str(&body).events[0]),
            "names no contact",
            "{from}"
        );
    }
    // A status without recipient ids likewise.
    let body = statuses_body(1).replace(r#","recipient_id":"4915100000001""#, "");
    assert_eq!(
        unsupported_reason(&parse_str(&body).events[0]),
        "names no contact"
    );
}

#[test]
fn contacts_are_matched_by_wa_id_or_user_id_and_never_contradict() {
    // Matched by user_id alone: the contact fills in the phone number.
    let body = text_body("").replace(r#""from":"4915100000001","#, "");
    let m = only_message(parse_str(&body));
    assert_contact(
        &m.from,
        Some(ERIKA.1),
        Some(ERIKA.2),
        None,
        Some(ERIKA.0),
        None,
    );
    // Matched by wa_id alone: the contact fills in the BSUID.
    let body = text_body("").replace(r#""from_user_id":"DE.1234567890123456789","#, "");
    assert_eq!(
        exposed(&only_message(parse_str(&body)).from.user_id),
        Some(ERIKA.2)
    );
    // A contact with the same phone number but another BSUID is someone
    // else: not used.
    let body = text_body("").replace(
        r#""wa_id":"4915100000001","user_id":"DE.1234567890123456789""#,
        r#""wa_id":"4915100000001","user_id":"DE.9999999999999999999""#,
    );
    let m = only_message(parse_str(&body));
    assert_contact(&m.from, Some(ERIKA.1), Some(ERIKA.2), None, None, None);
    // No matching contact: the message's own ids, no profile.
    let body = text_body("")
        .replace(r#""wa_id":"4915100000001","#, r#""wa_id":"4915100000099","#)
        .replace(
            r#""user_id":"DE.1234567890123456789"}"#,
            r#""user_id":"DE.1"}"#,
        );
    let m = only_message(parse_str(&body));
    assert_contact(&m.from, Some(ERIKA.1), Some(ERIKA.2), None, None, None);
}

#[test]
fn many_contacts_in_one_change_are_each_matched() {
    // More than 16 contacts take the indexed lookup.
    let n = 40;
    let contacts: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"profile":{{"name":"Patient {i}"}},"wa_id":"49151{i:08}","user_id":"DE.{i}"}}"#
            )
        })
        .collect();
    let messages: Vec<String> = (0..n)
        .rev()
        .map(|i| {
            let from = if i % 2 == 0 {
                format!(r#""from":"49151{i:08}""#)
            } else {
                format!(r#""from_user_id":"DE.{i}""#)
            };
            format!(r#"{{{from},"id":"wamid.{i}","timestamp":"1790000001","type":"text","text":{{"body":"m{i}"}}}}"#)
        })
        .collect();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{WABA}","changes":[{{"value":{{"contacts":[{}],"messages":[{}]}},"field":"messages"}}]}}]}}"#,
        contacts.join(","),
        messages.join(",")
    );
    let hook = parse_str(&body);
    assert_eq!(hook.events.len(), n);
    for (e, i) in hook.events.into_iter().zip((0..n).rev()) {
        let m = message_in(e);
        assert_eq!(m.id, format!("wamid.{i}"));
        assert_contact(
            &m.from,
            Some(&format!("49151{i:08}")),
            Some(&format!("DE.{i}")),
            None,
            Some(&format!("Patient {i}")),
            None,
        );
    }
}

// ---------------------------------------------------------------------------
// Statuses, preferences, templates.

#[test]
fn statuses_sent_delivered_read() {
    for (name, want, n, pricing) in [
        ("status-sent.json", DeliveryStatus::Sent, 1, Some("utility")),
        (
            "status-delivered.json",
            DeliveryStatus::Delivered,
            2,
            Some("utility"),
        ),
    ] {
        let s = status(name);
        assert_eq!(s.status, want, "{name}");
        assert_eq!(s.message_id, wamid(8000 + n));
        assert_eq!(s.timestamp, T + 100 + i64::from(n));
        assert_eq!(s.pricing_category.as_deref(), pricing);
        assert!(s.errors.is_empty());
        assert_erika(&s.recipient);
    }
    let s = status("status-read.json");
    assert_eq!(s.status, DeliveryStatus::Read);
    assert_eq!(s.pricing_category, None);
    assert_contact(
        &s.recipient,
        None,
        Some("DE.3234567890123456789"),
        Some("DE.ENT.9876543210987654321"),
        Some("Anna Schr\u{f6}der"),
        Some("@anna.schroeder"),
    );
    // `played` and unknown statuses.
    for (value, want) in [
        ("played", DeliveryStatus::Played),
        ("deleted", DeliveryStatus::Other("deleted".into())),
    ] {
        let hook = parse_str(&statuses_body(1).replace("delivered", value));
        let EventKind::Status(s) = &hook.events[0].kind else {
            panic!()
        };
        assert_eq!(s.status, want);
    }
    let body = statuses_body(1).replace(r#""status":"delivered","#, "");
    assert_eq!(
        unsupported_reason(&parse_str(&body).events[0]),
        "a status has no status"
    );
}

#[test]
fn a_failed_status_has_errors_and_no_contacts_block() {
    let s = status("status-failed.json");
    assert_eq!(s.status, DeliveryStatus::Failed);
    assert_eq!(s.message_id, wamid(8004));
    assert_eq!(s.timestamp, T + 104);
    assert_contact(&s.recipient, Some("4915100000004"), None, None, None, None);
    assert_eq!(
        s.errors,
        [PlatformError {
            code: 131049,
            title: "This message was not delivered to maintain healthy ecosystem engagement."
                .into()
        }]
    );
    assert_eq!(s.pricing_category, None);
}

#[test]
fn user_preferences_stop_and_resume() {
    let e = only("user-preferences-stop.json");
    assert_eq!(e.phone_number_id.as_deref(), Some(PHONE_NUMBER_ID));
    let EventKind::UserPreference(p) = e.kind else {
        panic!("{:?}", e.kind)
    };
    assert_eq!(p.value, PreferenceValue::Stop);
    assert_eq!(p.category, "marketing_messages");
    assert_eq!(p.timestamp, T + 300);
    assert_contact(
        &p.contact,
        Some(ERIKA.1),
        Some(ERIKA.2),
        Some(ERIKA.3),
        None,
        None,
    );

    let EventKind::UserPreference(p) = only("user-preferences-resume.json").kind else {
        panic!()
    };
    assert_eq!(p.value, PreferenceValue::Resume);
    assert_eq!(p.timestamp, T + 301);
    assert_contact(
        &p.contact,
        None,
        Some("DE.3234567890123456789"),
        Some("DE.ENT.9876543210987654321"),
        None,
        None,
    );
    // Other values by name; a string timestamp is accepted too.
    let text = text_of("user-preferences-stop.json");
    let hook = parse_str(&text.replace(r#""value":"stop""#, r#""value":"signup""#));
    let EventKind::UserPreference(p) = &hook.events[0].kind else {
        panic!()
    };
    assert_eq!(p.value, PreferenceValue::Other("signup".into()));
    let stamp = (T + 300).to_string();
    let hook = parse_str(&text.replace(&stamp, &format!("\"{stamp}\"")));
    let EventKind::UserPreference(p) = &hook.events[0].kind else {
        panic!()
    };
    assert_eq!(p.timestamp, T + 300);
}

#[test]
fn template_status_updates() {
    for (name, event, reason) in [
        ("template-status-approved.json", "APPROVED", Some("NONE")),
        (
            "template-status-rejected.json",
            "REJECTED",
            Some("INCORRECT_CATEGORY"),
        ),
        (
            "template-status-pending-deletion.json",
            "PENDING_DELETION",
            None,
        ),
    ] {
        let e = only(name);
        assert_eq!((e.account_id.as_str(), e.phone_number_id), (WABA, None));
        let EventKind::TemplateStatus(t) = e.kind else {
            panic!("{:?}", e.kind)
        };
        // message_template_id is a JSON number in the body.
        assert!(text_of(name).contains(r#""message_template_id":1700000000000001,"#));
        assert_eq!(t.template_id, "1700000000000001");
        assert_eq!(t.name, "recall_reminder_de");
        assert_eq!(t.language, "de");
        assert_eq!(t.event, event);
        assert_eq!(t.reason.as_deref(), reason, "{name}");
        assert_eq!(t.category.as_deref(), Some("UTILITY"));
    }
    // A string id of digits is accepted; a negative or fractional one is not.
    let text = text_of("template-status-approved.json");
    let hook = parse_str(&text.replace("1700000000000001", "\"17\""));
    let EventKind::TemplateStatus(t) = &hook.events[0].kind else {
        panic!()
    };
    assert_eq!(t.template_id, "17");
    for bad in ["-17", "1.5", "\"x17\"", "null"] {
        assert!(
            matches!(
                parse_str(&text.replace("1700000000000001", bad)).events[0].kind,
                EventKind::Unsupported { .. }
            ),
            "{bad}"
        );
    }
}

#[test]
fn template_category_updates_impending_and_completed() {
    let EventKind::TemplateCategory(t) = only("template-category-impending.json").kind else {
        panic!()
    };
    assert_eq!(t.template_id, "1700000000000002");
    assert_eq!(
        (t.name.as_str(), t.language.as_str()),
        ("checkup_invite_de", "de")
    );
    assert_eq!(t.new_category, "UTILITY");
    assert_eq!(t.correct_category.as_deref(), Some("MARKETING"));
    assert_eq!(t.previous_category, None);
    assert_eq!(t.update_timestamp, Some(T + 86400));

    let EventKind::TemplateCategory(t) = only("template-category-completed.json").kind else {
        panic!()
    };
    assert_eq!(t.previous_category.as_deref(), Some("UTILITY"));
    assert_eq!(t.new_category, "MARKETING");
    assert_eq!((t.correct_category, t.update_timestamp), (None, None));
    // A bad update timestamp makes the update unsupported.
    let text = text_of("template-category-impending.json").replace(&(T + 86400).to_string(), "-1");
    assert_eq!(
        unsupported_reason(&parse_str(&text).events[0]),
        "the category update timestamp is out of range"
    );
}

#[test]
fn a_batch_keeps_entries_changes_and_updates_in_body_order() {
    let hook = parse("batch.json");
    let kinds: Vec<(&str, &str)> = hook
        .events
        .iter()
        .map(|e| {
            let kind = match &e.kind {
                EventKind::Message(m) => m.body.type_code(),
                EventKind::Status(s) => s.status.code(),
                EventKind::TemplateStatus(t) => t.event.as_str(),
                EventKind::UserPreference(_) => "preference",
                EventKind::Unsupported { field, .. } => field.as_str(),
                other => panic!("{other:?}"),
            };
            (e.account_id.as_str(), kind)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (WABA, "text"),
            (WABA, "image"),
            (WABA, "delivered"),
            (WABA, "read"),
            ("1029384756102939", "PAUSED"),
            ("1029384756102939", "preference"),
            ("1029384756102939", "account_update"),
        ]
    );
    let EventKind::Message(m) = &hook.events[1].kind else {
        panic!()
    };
    assert_eq!(
        exposed(&m.from.profile_name),
        Some("J\u{fc}rgen B\u{e4}cker")
    );
    let EventKind::Status(s) = &hook.events[2].kind else {
        panic!()
    };
    assert_eq!(s.pricing_category.as_deref(), Some("service"));
    assert_eq!(exposed(&s.recipient.profile_name), Some("Max Mustermann"));
    assert_eq!(hook.events[4].phone_number_id, None);
}

#[test]
fn an_unknown_field_is_unsupported_not_an_error() {
    let e = only("unknown-field.json");
    assert_eq!(e.account_id, WABA);
    assert_eq!(
        e.kind,
        EventKind::Unsupported {
            field: "business_username_update".into(),
            reason: "this field is not handled"
        }
    );
}

// ---------------------------------------------------------------------------
// Escapes and signatures.

#[test]
fn escaped_text_is_decoded_and_a_reserialised_body_fails_the_signature() {
    let body = read("text-umlaut-escaped.json");
    let sig = String::from_utf8(read("text-umlaut-escaped.json.sig")).unwrap();
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.contains(r"Sch\u00f6nen Gru\u00df") && text.contains(r"\u0040"));
    let m = message("text-umlaut-escaped.json");
    let MessageBody::Text(t) = &m.body else {
        panic!()
    };
    assert_eq!(
        t.expose(),
        "Sch\u{f6}nen Gru\u{df} an Frau Dr. M\u{fc}ller @ Praxis \u{2013} bis Dienstag \u{1F60A}"
    );
    assert_eq!(
        exposed(&m.from.profile_name),
        Some("J\u{fc}rgen B\u{e4}cker")
    );
    // What a framework does when it decodes and re-encodes the JSON.
    let value: Value = serde_json::from_slice(&body).unwrap();
    let reserialised = serde_json::to_vec(&value).unwrap();
    assert_ne!(reserialised, body);
    assert_eq!(
        verify_signature(&reserialised, Some(&sig), &[&secret()]),
        Err(SignatureError::Mismatch)
    );
    // The original bytes verify, and both parse to the same events.
    assert!(verify_signature(&body, Some(&sig), &[&secret()]).is_ok());
    assert_eq!(
        parse_bytes(&reserialised).unwrap(),
        parse("text-umlaut-escaped.json")
    );
}

// ---------------------------------------------------------------------------
// Whole-body errors.

#[test]
fn malformed_json_and_non_utf8_give_a_position_only() {
    let body = read("malformed.json");
    let err = parse_bytes(&body).unwrap_err();
    // The trailing comma before `}` at the end of the message.
    let at = text_of("malformed.json").find(",}").unwrap() + 2;
    assert_eq!(
        err,
        ParseError::Json {
            line: 1,
            column: at
        }
    );
    let message = err.to_string();
    assert!(message.contains(&format!("line 1, column {at}")));
    for case in [
        &b""[..],
        b"{",
        b"{\"object\":\"whatsapp_business_account\",\"entry\":[]",
        b"{} {}",
        b"nul",
    ] {
        assert!(
            matches!(parse_bytes(case), Err(ParseError::Json { .. })),
            "{case:?}"
        );
    }
    let mut bad = text_of("text.json").into_bytes();
    let pos = bad.iter().position(|&b| b == b'G').unwrap();
    bad[pos] = 0xff;
    assert_eq!(
        parse_bytes(&bad),
        Err(ParseError::Json {
            line: 1,
            column: pos + 1
        })
    );
    let lines = "{\n\"object\":\n\u{1}";
    assert_eq!(
        parse_bytes(lines.as_bytes()),
        Err(ParseError::Json { line: 3, column: 1 })
    );
}

#[test]
fn a_body_of_another_object_is_not_whatsapp() {
    assert_eq!(
        parse_bytes(&read("not-whatsapp.json")),
        Err(ParseError::NotWhatsApp)
    );
    let text = text_of("text.json");
    for object in [
        r#""object":"page""#,
        r#""object":null"#,
        r#""object":7"#,
        r#""object":"WHATSAPP_BUSINESS_ACCOUNT""#,
    ] {
        let body = text.replace(r#""object":"whatsapp_business_account""#, object);
        assert_eq!(
            parse_bytes(body.as_bytes()),
            Err(ParseError::NotWhatsApp),
            "{object}"
        );
    }
    let body = text.replace(r#""object":"whatsapp_business_account","#, "");
    assert_eq!(parse_bytes(body.as_bytes()), Err(ParseError::NotWhatsApp));
    // `object` after the entries (as in Meta's template examples) is
    // checked too, and wins over other errors of the entries.
    let body = format!(
        r#"{{"entry":{},"object":"page"}}"#,
        &statuses_body(MAX_EVENTS + 1)["{\"object\":\"whatsapp_business_account\",\"entry\":".len()
            ..statuses_body(MAX_EVENTS + 1).len() - 1]
    );
    assert_eq!(parse_bytes(body.as_bytes()), Err(ParseError::NotWhatsApp));
}

#[test]
fn an_envelope_of_the_wrong_shape_is_refused() {
    let head = r#"{"object":"whatsapp_business_account","#;
    for (body, want) in [
        ("[]".to_owned(), "the body is not a JSON object"),
        ("\"text\"".to_owned(), "the body is not a JSON object"),
        (format!("{head}\"x\":1}}"), "the body has no entry array"),
        (format!("{head}\"entry\":{{}}}}"), "entry is not an array"),
        (format!("{head}\"entry\":\"e\"}}"), "entry is not an array"),
        (
            format!("{head}\"entry\":[5]}}"),
            "an entry is not an object",
        ),
        (
            format!("{head}\"entry\":[{{\"id\":\"1\"}}]}}"),
            "an entry has no changes array",
        ),
        (
            format!("{head}\"entry\":[{{\"id\":\"1\",\"changes\":{{}}}}]}}"),
            "an entry has no changes array",
        ),
        (
            format!("{head}\"entry\":[{{\"changes\":[]}}]}}"),
            "an entry has no id of 1 to 128 printable ASCII characters",
        ),
        (
            format!("{head}\"entry\":[{{\"id\":\"1\",\"changes\":[true]}}]}}"),
            "a change is not an object",
        ),
    ] {
        assert_eq!(
            parse_bytes(body.as_bytes()),
            Err(ParseError::Shape(want)),
            "{body}"
        );
    }
    // An empty entry list is a body without events.
    let body = format!("{head}\"entry\":[]}}");
    assert_eq!(parse_str(&body).events.len(), 0);
}

#[test]
fn a_repeated_key_makes_the_body_ambiguous_and_refused() {
    let want = ParseError::Shape("an object repeats a key, so the body is ambiguous");
    let text = text_of("text.json");
    for (from, to) in [
        (
            r#""object":"whatsapp_business_account","#,
            r#""object":"whatsapp_business_account","object":"whatsapp_business_account","#,
        ),
        (
            r#""field":"messages""#,
            r#""field":"messages","field":"messages""#,
        ),
        (r#""type":"text""#, r#""type":"text","type":"image""#),
        (r#""text":{"body":"#, r#""text":{"body":"x","body":"#),
        (
            r#""messaging_product":"whatsapp","#,
            r#""messaging_product":"whatsapp","contacts":[],"#,
        ),
    ] {
        let body = text.replacen(from, to, 1);
        assert_ne!(body, text);
        assert_eq!(parse_bytes(body.as_bytes()), Err(want.clone()), "{to}");
    }
    // Keys that are ignored may repeat.
    let body = text.replacen(
        r#""messaging_product":"whatsapp","#,
        r#""messaging_product":"whatsapp","messaging_product":"x","#,
        1,
    );
    assert_eq!(parse_str(&body).events.len(), 1);
}

#[test]
fn a_raw_control_character_in_any_string_is_malformed_json() {
    // In a personal-data string (read raw, decoded by the parser), in a
    // label, and in a string no field reads.
    for (from, to) in [
        ("Guten", "Guten\u{1}"),
        (r#""type":"text""#, "\"type\":\"te\u{1f}xt\""),
        ("whatsapp\",\"metadata", "what\u{7}sapp\",\"metadata"),
    ] {
        let body = text_of("text.json").replace(from, to);
        assert_ne!(body, text_of("text.json"));
        assert!(
            matches!(
                parse_bytes(body.as_bytes()),
                Err(ParseError::Json { line: 1, .. })
            ),
            "{to:?}"
        );
    }
}

#[test]
fn error_messages_never_contain_body_content() {
    let text = text_of("text.json");
    let bodies = [
        read("malformed.json"),
        read("too-deep.json"),
        read("not-whatsapp.json"),
        text.replace("\"entry\":[", "\"entry\":[17,").into_bytes(),
        text.replace("}]}]}", "").into_bytes(),
        text.replace("Guten", "Guten\u{1}").into_bytes(),
        text.replace(r#""type":"text""#, r#""type":"text","type":"text""#)
            .into_bytes(),
        statuses_body(MAX_EVENTS + 1).into_bytes(),
        text.clone()
            .into_bytes()
            .into_iter()
            .chain([b' '; 4])
            .collect(),
    ];
    let small = ParseLimits {
        max_body: text.len() + 2,
        ..ParseLimits::default()
    };
    for body in &bodies {
        let mut refused = 0;
        for limits in [ParseLimits::default(), small] {
            let Err(e) = parse_webhook(body, &limits) else {
                continue;
            };
            refused += 1;
            let m = e.to_string();
            for secret in [
                "Guten",
                "Musterfrau",
                "4915100000001",
                "DE.1234567890123456789",
                "wamid",
                "Termin",
                "1029384756102938",
            ] {
                assert!(!m.contains(secret), "{m}");
            }
            assert!(m.contains("webhook body"), "{m}");
            assert!(m.is_ascii());
        }
        assert!(refused > 0, "parsed: {}", String::from_utf8_lossy(body));
    }
}

// ---------------------------------------------------------------------------
// Limits (docs/LIMITS.md rows 58 to 60).

#[test]
fn webhook_body_at_max_body_is_parsed_and_one_past_refused() {
    assert_eq!(MAX_WEBHOOK_BODY, 3 * 1024 * 1024);
    assert_eq!(ParseLimits::default().max_body, MAX_WEBHOOK_BODY);
    let mut body = read("text.json");
    body.resize(MAX_WEBHOOK_BODY, b' ');
    assert_eq!(parse_bytes(&body).unwrap().events.len(), 1);
    body.push(b' ');
    assert_eq!(
        parse_bytes(&body),
        Err(ParseError::BodyTooLarge {
            limit: MAX_WEBHOOK_BODY
        })
    );
    // A smaller limit, checked before anything else is read.
    let body = read("text.json");
    let at = ParseLimits {
        max_body: body.len(),
        ..ParseLimits::default()
    };
    assert!(parse_webhook(&body, &at).is_ok());
    let below = ParseLimits {
        max_body: body.len() - 1,
        ..ParseLimits::default()
    };
    assert_eq!(
        parse_webhook(&body, &below),
        Err(ParseError::BodyTooLarge {
            limit: body.len() - 1
        })
    );
    let deep_and_large = format!("{}{}", "[".repeat(100), " ".repeat(body.len()));
    assert_eq!(
        parse_webhook(deep_and_large.as_bytes(), &below),
        Err(ParseError::BodyTooLarge {
            limit: body.len() - 1
        })
    );
}

#[test]
fn json_depth_at_max_json_depth_is_parsed_and_one_past_refused() {
    assert_eq!(MAX_JSON_DEPTH, 32);
    assert_eq!(ParseLimits::default().max_depth, MAX_JSON_DEPTH);
    // The message object is at depth 8 (body, entry[], entry, changes[],
    // change, value, messages[], message); an ignored key adds arrays.
    let nested = |levels: usize| {
        text_body(&format!(
            r#","x_nested":{}0{}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        ))
    };
    let at = nested(MAX_JSON_DEPTH - 8);
    assert_eq!(parse_str(&at).events.len(), 1);
    assert_eq!(
        parse_bytes(nested(MAX_JSON_DEPTH - 7).as_bytes()),
        Err(ParseError::TooDeep { limit: 32 })
    );
    // Objects count as arrays do.
    let objects = |levels: usize| {
        text_body(&format!(
            r#","x_nested":{}0{}"#,
            "{\"k\":".repeat(levels),
            "}".repeat(levels)
        ))
    };
    assert!(parse_bytes(objects(24).as_bytes()).is_ok());
    assert_eq!(
        parse_bytes(objects(25).as_bytes()),
        Err(ParseError::TooDeep { limit: 32 })
    );
    // The fixture: 33 levels.
    assert_eq!(
        parse_bytes(&read("too-deep.json")),
        Err(ParseError::TooDeep { limit: 32 })
    );
    // Brackets inside strings do not count, escaped quotes included.
    let in_strings = text_body(&format!(
        r#","x":"{}\"{}""#,
        "[{".repeat(200),
        "[".repeat(50)
    ));
    assert_eq!(parse_str(&in_strings).events.len(), 1);
    // Far beyond serde_json's own limit: refused by the pre-scan.
    let very = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        parse_bytes(very.as_bytes()),
        Err(ParseError::TooDeep { limit: 32 })
    );
    // Another limit.
    let limits = |max_depth| ParseLimits {
        max_depth,
        ..ParseLimits::default()
    };
    let plain = text_body("");
    assert!(parse_webhook(plain.as_bytes(), &limits(9)).is_ok());
    assert_eq!(
        parse_webhook(plain.as_bytes(), &limits(8)),
        Err(ParseError::TooDeep { limit: 8 })
    );
}

#[test]
fn the_deepest_accepted_body_parses_within_a_256_kib_stack() {
    // Edits nested as deep as MAX_JSON_DEPTH allows, the typed parse's
    // deepest recursion. The message object is at level 8, its `edit` at 9;
    // each nested edit takes two levels from 10 on; the innermost message
    // and its text object take two more, and an empty array in that text
    // object one more: 10 + 2 * 10 + 2 = 32.
    let mut inner = r#"{"type":"text","text":{"body":"x","d":[]}}"#.to_owned();
    for i in 0..10 {
        inner = format!(
            r#"{{"type":"edit","edit":{{"original_message_id":"wamid.E{i}","message":{inner}}}}}"#
        );
    }
    let body = text_body(&format!(
        r#","edit":{{"original_message_id":"wamid.E","message":{inner}}}"#
    ))
    .replacen(r#""type":"text","text""#, r#""type":"edit","text""#, 1);
    let deeper = body.replacen(r#""d":[]"#, r#""d":[[]]"#, 1);
    let outcome = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || (parse_bytes(body.as_bytes()), parse_bytes(deeper.as_bytes())))
        .unwrap()
        .join()
        .unwrap();
    let m = only_message(outcome.0.unwrap());
    // The outer edit holds an edit, which is unsupported (never an edit in
    // an edit).
    let MessageBody::Edit { message, .. } = &m.body else {
        panic!("{:?}", m.body)
    };
    assert_eq!(message.type_code(), "edit");
    assert!(matches!(**message, MessageBody::Unsupported { .. }));
    assert_eq!(outcome.1, Err(ParseError::TooDeep { limit: 32 }));
}

#[test]
fn events_at_max_events_are_parsed_and_one_past_refused() {
    assert_eq!(MAX_EVENTS, 5000);
    assert_eq!(ParseLimits::default().max_events, MAX_EVENTS);
    let hook = parse_str(&statuses_body(MAX_EVENTS));
    assert_eq!(hook.events.len(), MAX_EVENTS);
    assert_eq!(
        parse_bytes(statuses_body(MAX_EVENTS + 1).as_bytes()),
        Err(ParseError::TooManyEvents { limit: MAX_EVENTS })
    );
    // Counted over all entries and changes: batch.json has 7 events.
    let batch = read("batch.json");
    let limits = |max_events| ParseLimits {
        max_events,
        ..ParseLimits::default()
    };
    assert_eq!(parse_webhook(&batch, &limits(7)).unwrap().events.len(), 7);
    for max in [0, 1, 3, 4, 6] {
        assert_eq!(
            parse_webhook(&batch, &limits(max)),
            Err(ParseError::TooManyEvents { limit: max }),
            "{max}"
        );
    }
    // Change-level events (templates, unsupported fields) count too.
    let unknown = read("unknown-field.json");
    assert!(parse_webhook(&unknown, &limits(1)).is_ok());
    assert_eq!(
        parse_webhook(&unknown, &limits(0)),
        Err(ParseError::TooManyEvents { limit: 0 })
    );
    // Elements of an array no event is built from still count while read
    // (so that none are held beyond the limit), and are given back after.
    let body = statuses_body(3).replace(r#""field":"messages""#, r#""field":"x_other""#);
    assert_eq!(
        parse_webhook(body.as_bytes(), &limits(3))
            .unwrap()
            .events
            .len(),
        1
    );
    assert_eq!(
        parse_webhook(body.as_bytes(), &limits(2)),
        Err(ParseError::TooManyEvents { limit: 2 })
    );
}

// ---------------------------------------------------------------------------
// No panic on any input.

#[test]
fn every_truncation_of_every_fixture_is_an_error_without_panic() {
    for (name, _) in FIXTURES {
        let body = read(name);
        for n in 0..body.len() {
            let r = parse_bytes(&body[..n]);
            // A strict prefix of a JSON object is never a complete body.
            assert!(r.is_err(), "{name} cut at {n} parsed");
        }
    }
}

fn fixture_bodies() -> Vec<Vec<u8>> {
    FIXTURES.iter().map(|(n, _)| read(n)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(hook) = parse_bytes(&body) {
            check_invariants(&hook, &ParseLimits::default());
        }
    }

    #[test]
    fn bit_flips_in_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..4),
    ) {
        let mut body = fixture_bodies().swap_remove(which);
        for (pos, bit) in flips {
            let i = pos % body.len();
            body[i] ^= 1 << bit;
        }
        let limits = ParseLimits { max_events: 4, max_depth: 12, ..ParseLimits::default() };
        for l in [ParseLimits::default(), limits] {
            if let Ok(hook) = parse_webhook(&body, &l) {
                check_invariants(&hook, &l);
            }
        }
    }

    #[test]
    fn json_significant_bytes_spliced_into_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        pos in any::<usize>(),
        insert in proptest::sample::select(vec![
            "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "1e999", "-0", "\"\\ud83d\"",
            "{\"type\":\"edit\"}", "[[[[", "\u{0}", "\u{7f}", "\"messages\":[{}],",
        ]),
    ) {
        let mut body = fixture_bodies().swap_remove(which);
        let tail = body.split_off(pos % (body.len() + 1));
        body.extend_from_slice(insert.as_bytes());
        body.extend(tail);
        if let Ok(hook) = parse_bytes(&body) {
            check_invariants(&hook, &ParseLimits::default());
        }
    }
}
