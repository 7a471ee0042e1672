//! Parsing a verified webhook body into typed [`Event`]s (docs/WHATSAPP.md,
//! section 2).
//!
//! [`parse_webhook`] checks, in this order: the body size
//! ([`ParseLimits::max_body`]); the nesting depth, by one pass over the bytes
//! that counts `[` and `{` outside strings ([`ParseLimits::max_depth`]), so
//! that nothing after it recurses deeper; UTF-8; then one typed serde pass.
//! The envelope (`object`, `entry[]`, `entry[].id`, `entry[].changes[]`) must
//! be as Meta documents it, or the whole body is refused ([`ParseError`]).
//! Below it every change, message and status is read leniently: a value of
//! the wrong type, a missing object, a bad timestamp or id makes that one
//! event [`EventKind::Unsupported`] or its body [`MessageBody::Unsupported`],
//! never an error for the whole body.
//!
//! Memory: the elements of `messages[]`, `statuses[]` and
//! `user_preferences[]` are counted as they are read, so no more than
//! [`ParseLimits::max_events`] are ever held; a value's `contacts[]` beyond
//! that many and an object's `errors[]` beyond [`MAX_ERRORS_KEPT`] are
//! skipped without being stored. Strings are borrowed from the body where
//! they have no escapes. Personal data (texts, captions, names, phone
//! numbers, user ids) is decoded by this module from the raw JSON into
//! buffers that are zeroized when dropped or moved into [`Sensitive`]
//! values; it never passes through serde_json's scratch buffer, which only
//! unescapes labels and keys.

use core::fmt;
use core::marker::PhantomData;
use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use zeroize::Zeroize;

use super::event::{
    Contact, DeliveryStatus, Event, EventKind, InboundMessage, Media, MediaKind, MessageBody,
    MessageContext, PlatformError, PreferenceValue, Sensitive, StatusUpdate, SystemChange,
    TemplateCategoryUpdate, TemplateStatus, UserPreference, Webhook,
};
use super::signature::MAX_WEBHOOK_BODY;

/// Deepest nesting of JSON arrays and objects [`parse_webhook`] reads by
/// default: 32 levels (the body's own object is level 1). Meta's webhooks
/// need at most 12 (a shared contact card's phone number). docs/LIMITS.md.
pub const MAX_JSON_DEPTH: usize = 32;

/// Most events one body may yield by default: 5,000 (Meta batches at most
/// 1,000 updates in one POST). docs/LIMITS.md.
pub const MAX_EVENTS: usize = 5000;

/// Most `errors[]` entries kept per message, status or value; the rest are
/// skipped (Meta sends one).
pub const MAX_ERRORS_KEPT: usize = 16;

/// Largest timestamp accepted: 9999-12-31T23:59:59Z, in Unix seconds.
const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// Longest label (id, type, template name, category), in bytes.
const MAX_LABEL: usize = 128;

/// Longest identity id (`wa_id`, `user_id`, `parent_user_id`), in bytes: a
/// BSUID is `CC.` and up to 128 alphanumerics, a parent BSUID `CC.ENT.` and
/// as many.
const MAX_IDENTITY: usize = 256;

/// The `object` of every WhatsApp Business Account webhook.
const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// The [`ParseError::Shape`] of a body whose object repeats a known key.
const REPEATED_KEY: &str = "an object repeats a key, so the body is ambiguous";

/// Bounds on what one body may cost. [`Default`] gives
/// [`MAX_WEBHOOK_BODY`] bytes, [`MAX_JSON_DEPTH`] levels and [`MAX_EVENTS`]
/// events.
///
/// serde_json stops at 128 levels on its own, so a `max_depth` above 127
/// behaves as 127 (the body is then refused as [`ParseError::Json`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseLimits {
    /// Largest body, in bytes.
    pub max_body: usize,
    /// Deepest nesting of arrays and objects (the body's object is level 1).
    pub max_depth: usize,
    /// Most events in the result.
    pub max_events: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_body: MAX_WEBHOOK_BODY,
            max_depth: MAX_JSON_DEPTH,
            max_events: MAX_EVENTS,
        }
    }
}

/// Why a webhook body was refused as a whole. The messages never contain
/// any part of the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is larger than [`ParseLimits::max_body`].
    #[error(
        "the webhook body is larger than {limit} bytes; refuse it (HTTP 413) without parsing it"
    )]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Arrays and objects nest deeper than [`ParseLimits::max_depth`].
    #[error(
        "the webhook body nests arrays and objects more than {limit} levels deep (Meta's \
         webhooks need fewer than 16); refuse it (HTTP 400)"
    )]
    TooDeep {
        /// The limit, in levels.
        limit: usize,
    },
    /// The body holds more updates than [`ParseLimits::max_events`].
    #[error(
        "the webhook body holds more than {limit} updates (Meta batches at most 1,000 per \
         request); refuse it (HTTP 400), or raise ParseLimits::max_events if the provider \
         batches more"
    )]
    TooManyEvents {
        /// The limit, in events.
        limit: usize,
    },
    /// The body is not UTF-8 or not valid JSON.
    #[error(
        "the webhook body is not valid JSON in UTF-8 (error at line {line}, column {column}); \
         refuse it (HTTP 400) and keep the raw bytes for review"
    )]
    Json {
        /// The line of the error, from 1.
        line: usize,
        /// The byte in that line, from 1 (0 at the very start of an empty
        /// body).
        column: usize,
    },
    /// `object` is missing or not `whatsapp_business_account`.
    #[error(
        "the webhook body is not a WhatsApp Business Account webhook (its \"object\" is not \
         \"whatsapp_business_account\"); check which object the app's webhook subscribes to"
    )]
    NotWhatsApp,
    /// The envelope is not as Meta documents it: not an object, no `entry`
    /// array, an entry without `id` or `changes` array, a change that is not
    /// an object, a repeated key.
    #[error(
        "the webhook body does not have the shape Meta documents: {0}; refuse it (HTTP 400) \
         and keep the raw bytes for review"
    )]
    Shape(&'static str),
}

/// Parse a webhook body whose signature was verified
/// ([`verify_signature`](super::verify_signature)) into its events, in body
/// order: entries, their changes, and in each change its messages, then its
/// statuses, then its user preferences.
///
/// ```
/// use caduceus_core::whatsapp::{parse_webhook, EventKind, MessageBody, ParseLimits};
/// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1029384756","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930000000","phone_number_id":"1098765432"},"contacts":[{"profile":{"name":"Erika Musterfrau"},"wa_id":"4915100000001","user_id":"DE.1234567890123456789"}],"messages":[{"from":"4915100000001","from_user_id":"DE.1234567890123456789","id":"wamid.TEST1","timestamp":"1767225600","type":"text","text":{"body":"Guten Tag"}}]},"field":"messages"}]}]}"#;
/// let hook = parse_webhook(body, &ParseLimits::default()).unwrap();
/// let EventKind::Message(m) = &hook.events[0].kind else { panic!() };
/// assert_eq!(m.id, "wamid.TEST1");
/// assert_eq!(m.from.user_id.as_ref().unwrap().expose(), "DE.1234567890123456789");
/// assert_eq!(m.from.profile_name.as_ref().unwrap().expose(), "Erika Musterfrau");
/// let MessageBody::Text(text) = &m.body else { panic!() };
/// assert_eq!(text.expose(), "Guten Tag");
/// assert!(!format!("{m:?}").contains("Guten"));
/// ```
pub fn parse_webhook(body: &[u8], limits: &ParseLimits) -> Result<Webhook, ParseError> {
    if body.len() > limits.max_body {
        return Err(ParseError::BodyTooLarge {
            limit: limits.max_body,
        });
    }
    if !depth_within(body, limits.max_depth) {
        return Err(ParseError::TooDeep {
            limit: limits.max_depth,
        });
    }
    let text = core::str::from_utf8(body).map_err(|e| position_error(body, e.valid_up_to()))?;
    let mut ctx = Ctx {
        events: Vec::new(),
        remaining: limits.max_events,
        charged: 0,
        max_events: limits.max_events,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let outcome = BodySeed { ctx: &mut ctx }
        .deserialize(&mut de)
        .and_then(|o| de.end().map(|()| o));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            return Err(match e.classify() {
                serde_json::error::Category::Data => ParseError::Shape(REPEATED_KEY),
                _ => ParseError::Json {
                    line: e.line(),
                    column: e.column(),
                },
            });
        }
    };
    if !outcome.whatsapp {
        return Err(ParseError::NotWhatsApp);
    }
    if let Some(e) = ctx.error {
        return Err(e);
    }
    if !outcome.entry {
        return Err(ParseError::Shape("the body has no entry array"));
    }
    Ok(Webhook { events: ctx.events })
}

/// Whether arrays and objects nest at most `max_depth` levels: `[` and `{`
/// outside strings counted, `]` and `}` uncounted, a backslash in a string
/// skipping the next byte. One pass, no recursion; it reads any bytes
/// (malformed JSON is refused later, by the parser). String contents are
/// skipped eight bytes at a time where they hold no quote or backslash.
///
/// First a cheaper bound: the depth is at most the number of `[` and `{`
/// bytes anywhere in the body, so a body with at most `max_depth` of them
/// (a typical single update) needs no scan of its strings.
fn depth_within(body: &[u8], max_depth: usize) -> bool {
    if opening_bytes(body) <= max_depth {
        return true;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        i += 1;
        match b {
            b'"' => i = string_end(body, i),
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// The number of `[` and `{` bytes in `body` (counted in blocks of 255 in
/// a byte-wide counter, which the compiler vectorises).
fn opening_bytes(body: &[u8]) -> usize {
    body.chunks(255)
        .map(|block| {
            block.iter().fold(0u8, |n, &b| {
                n.wrapping_add(u8::from(b == b'[' || b == b'{'))
            })
        })
        .map(usize::from)
        .sum()
}

/// The offset just past the quote that ends the string whose contents
/// start at `i` (or the end of `body`).
fn string_end(body: &[u8], mut i: usize) -> usize {
    loop {
        if let Some(chunk) = body.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
            let x = u64::from_le_bytes(chunk);
            let hits = bytes_equal(x, b'"') | bytes_equal(x, b'\\');
            if hits == 0 {
                i += 8;
                continue;
            }
            i += (hits.trailing_zeros() / 8) as usize;
        }
        match body.get(i) {
            None => return i,
            Some(b'\\') => i += 2,
            Some(b'"') => return i + 1,
            Some(_) => i += 1,
        }
    }
}

/// [`ParseError::Json`] at byte `offset` of `body`.
fn position_error(body: &[u8], offset: usize) -> ParseError {
    let before = body.get(..offset).unwrap_or(body);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    ParseError::Json {
        line,
        column: offset - line_start + 1,
    }
}

// ---------------------------------------------------------------------------
// Lenient leaf types: each accepts any JSON value and keeps only the shape it
// expects, so a wrong type never fails the body.

/// Visitor methods that take any JSON value other than the ones a visitor
/// handles itself, consume it and yield `$ret`.
macro_rules! accept_others {
    ($ret:expr; $($kind:ident),*) => { $( accept_others!(@ $kind $ret); )* };
    (@bool $ret:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok($ret) }
    };
    (@int $ret:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok($ret) }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok($ret) }
    };
    (@float $ret:expr) => {
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok($ret) }
    };
    (@str $ret:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok($ret) }
    };
    (@unit $ret:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($ret) }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> { Ok($ret) }
    };
    (@seq $ret:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($ret)
        }
    };
    (@map $ret:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($ret)
        }
    };
}

/// A string that names no person (an id, a type), or `None` if the value
/// is not a string.
#[derive(Default)]
struct Str<'a>(Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The value if it is a label (1 to 128 printable ASCII characters).
    fn label(&self) -> Option<String> {
        self.get().filter(|s| is_label(s)).map(str::to_owned)
    }
}

/// Visits a string into a `Cow`, borrowed where serde_json can.
struct CowVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for CowVisitor<'a> {
    type Value = Option<Cow<'a, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }

    accept_others!(None; bool, int, float, unit, seq, map);
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CowVisitor(PhantomData)).map(Str)
    }
}

/// A string that is personal data: an owned copy (one serde_json had to
/// unescape) is zeroized on drop; [`Pii::take`] moves it into a
/// [`Sensitive`].
#[derive(Default)]
struct Pii<'a>(Option<Cow<'a, str>>);

impl Drop for Pii<'_> {
    fn drop(&mut self) {
        if let Some(Cow::Owned(s)) = &mut self.0 {
            s.zeroize();
        }
    }
}

impl<'a> Pii<'a> {
    fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The value as an identity id (1 to 256 printable ASCII characters
    /// without spaces), else `None`.
    fn identity(&self) -> Option<&str> {
        self.get().filter(|s| {
            !s.is_empty() && s.len() <= MAX_IDENTITY && s.bytes().all(|b| b.is_ascii_graphic())
        })
    }

    /// Move the value into a [`Sensitive`] (no copy when it is owned).
    fn take(&mut self) -> Option<Sensitive> {
        self.0.take().map(|c| match c {
            Cow::Owned(s) => Sensitive::new(s),
            Cow::Borrowed(s) => Sensitive::new(s),
        })
    }

    /// A [`Sensitive`] copy of a non-empty value.
    fn copy(&self) -> Option<Sensitive> {
        self.get().filter(|s| !s.is_empty()).map(Sensitive::new)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pii<'a> {
    /// Read as the raw JSON text (serde_json checks it, but never copies it
    /// into its scratch buffer, which is not zeroized), then decoded by
    /// [`json_string`] into one buffer of its own, zeroized on drop.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: &'de RawValue = Deserialize::deserialize(d)?;
        Ok(Pii(json_string(raw.get())))
    }
}

/// The text of the JSON string literal `raw` (quotes included), borrowed
/// when it has no escape; `None` if `raw` is another JSON value, or the
/// string holds a control character, an invalid escape or a lone
/// surrogate (what serde_json refuses in a string it decodes).
fn json_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let Some(first) = first_special(inner.as_bytes()) else {
        return Some(Cow::Borrowed(inner));
    };
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    let mut next = Some(first);
    while let Some(pos) = next {
        // A backslash or control byte is ASCII: `pos` is a char boundary.
        out.push_str(rest.get(..pos)?);
        let esc = rest.get(pos..)?.as_bytes();
        let (c, len) = match esc.get(1) {
            _ if esc.first() != Some(&b'\\') => return None,
            Some(b'"') => ('"', 2),
            Some(b'\\') => ('\\', 2),
            Some(b'/') => ('/', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let hi = hex4(esc.get(2..6)?)?;
                match hi {
                    0xD800..=0xDBFF => {
                        if esc.get(6..8)? != b"\\u" {
                            return None;
                        }
                        let lo = hex4(esc.get(8..12)?)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        let code = 0x1_0000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        (char::from_u32(code)?, 12)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => (char::from_u32(hi)?, 6),
                }
            }
            _ => return None,
        };
        out.push(c);
        rest = rest.get(pos + len..)?;
        next = first_special(rest.as_bytes());
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// The high bit of each byte of `x` that is `b`. The lowest bit set is
/// exact (a borrow only disturbs the bytes above a match), so it gives the
/// position of the first match.
fn bytes_equal(x: u64, b: u8) -> u64 {
    let v = x ^ (ONES * u64::from(b));
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// `0x0101...01`.
const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x8080...80`.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The position of the first backslash or control character (below
/// U+0020) in `s`, eight bytes at a time.
fn first_special(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        let x = u64::from_le_bytes(chunk);
        // Bytes below 0x20 (exact in the lowest bit, as in `bytes_equal`).
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let hits = control | bytes_equal(x, b'\\');
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s.get(i..)?
        .iter()
        .position(|&b| b == b'\\' || b < 0x20)
        .map(|p| i + p)
}

/// The value of four hexadecimal digits.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |v, &d| Some((v << 4) | u32::from(hex_value(d)?)))
        .filter(|_| digits.len() == 4)
}

/// `true` only for the JSON value `true`.
#[derive(Default, Clone, Copy)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            accept_others!(Flag(false); int, float, str, unit, seq, map);
        }
        d.deserialize_any(V)
    }
}

/// A timestamp: Unix seconds as a JSON integer or a string of decimal
/// digits, within `0..=MAX_TIMESTAMP`.
#[derive(Default, Clone, Copy)]
enum Stamp {
    /// Not given (or `null`).
    #[default]
    Absent,
    /// Given, but not such a number.
    Bad,
    /// A valid timestamp.
    At(i64),
}

impl Stamp {
    fn from_u64(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(t) if t <= MAX_TIMESTAMP => Self::At(t),
            _ => Self::Bad,
        }
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Stamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Stamp, E> {
                Ok(Stamp::from_u64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Stamp, E> {
                Ok(u64::try_from(v).map_or(Stamp::Bad, Stamp::from_u64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Stamp, E> {
                Ok(decimal(v).map_or(Stamp::Bad, Stamp::from_u64))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Stamp, E> {
                Ok(Stamp::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Stamp, E> {
                Ok(Stamp::Absent)
            }
            accept_others!(Stamp::Bad; bool, float, seq, map);
        }
        d.deserialize_any(V)
    }
}

/// The value of 1 to 19 decimal digits.
fn decimal(v: &str) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// An error code: a JSON integer.
#[derive(Default, Clone, Copy)]
struct Code(Option<i64>);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Code;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Code, E> {
                Ok(Code(i64::try_from(v).ok()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Code, E> {
                Ok(Code(Some(v)))
            }
            accept_others!(Code(None); bool, float, str, unit, seq, map);
        }
        d.deserialize_any(V)
    }
}

/// An id given as a JSON string or a non-negative JSON integer (then as
/// decimal text).
#[derive(Default)]
struct NumText<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for NumText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = NumText<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(NumText(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(NumText(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NumText(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(NumText(None))
            }
            accept_others!(NumText(None); bool, float, unit, seq, map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object read as `T` (every field of `T` lenient), or `None` if the
/// value is not an object.
struct Obj<T>(Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            accept_others!(Obj(None); bool, int, float, str, unit, seq);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An array's first `N` elements (the rest skipped unread), or empty if the
/// value is not an array.
struct List<T, const N: usize>(Vec<T>);

impl<T, const N: usize> Default for List<T, N> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for List<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, const N: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
            type Value = List<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while items.len() < N {
                    match seq.next_element::<T>()? {
                        Some(x) => items.push(x),
                        None => return Ok(List(items)),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(List(items))
            }
            accept_others!(List(Vec::new()); bool, int, float, str, unit, map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `errors[]`.
type Errors<'a> = List<Obj<RawError<'a>>, MAX_ERRORS_KEPT>;

// ---------------------------------------------------------------------------
// The raw shapes, as Meta documents them (unknown keys ignored).

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawError<'a> {
    code: Code,
    #[serde(borrow)]
    title: Str<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawMetadata<'a> {
    #[serde(borrow)]
    phone_number_id: Str<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawProfile<'a> {
    #[serde(borrow)]
    name: Pii<'a>,
    #[serde(borrow)]
    username: Pii<'a>,
}

/// `value.contacts[]`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawContact<'a> {
    #[serde(borrow)]
    wa_id: Pii<'a>,
    #[serde(borrow)]
    user_id: Pii<'a>,
    #[serde(borrow)]
    parent_user_id: Pii<'a>,
    #[serde(borrow)]
    profile: Obj<RawProfile<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawContext<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    forwarded: Flag,
    frequently_forwarded: Flag,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawText<'a> {
    #[serde(borrow)]
    body: Pii<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawMedia<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    mime_type: Str<'a>,
    #[serde(borrow)]
    sha256: Str<'a>,
    #[serde(borrow)]
    caption: Pii<'a>,
    #[serde(borrow)]
    filename: Pii<'a>,
    voice: Flag,
    animated: Flag,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawReply<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    title: Pii<'a>,
    #[serde(borrow)]
    description: Pii<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawInteractive<'a> {
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow)]
    button_reply: Obj<RawReply<'a>>,
    #[serde(borrow)]
    list_reply: Obj<RawReply<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawButton<'a> {
    #[serde(borrow)]
    payload: Str<'a>,
    #[serde(borrow)]
    text: Pii<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawReaction<'a> {
    #[serde(borrow)]
    message_id: Str<'a>,
    #[serde(borrow)]
    emoji: Pii<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawRevoke<'a> {
    #[serde(borrow)]
    original_message_id: Str<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawEdit<'a> {
    #[serde(borrow)]
    original_message_id: Str<'a>,
    #[serde(borrow)]
    message: Obj<Box<RawMessage<'a>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawSystem<'a> {
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow)]
    new_wa_id: Pii<'a>,
    #[serde(borrow)]
    wa_id: Pii<'a>,
    #[serde(borrow)]
    user_id: Pii<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawUnsupported<'a> {
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
}

/// `value.messages[]` (and `edit.message`).
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawMessage<'a> {
    #[serde(borrow)]
    from: Pii<'a>,
    #[serde(borrow)]
    from_user_id: Pii<'a>,
    #[serde(borrow)]
    from_parent_user_id: Pii<'a>,
    #[serde(borrow)]
    id: Str<'a>,
    timestamp: Stamp,
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow)]
    context: Obj<RawContext<'a>>,
    #[serde(borrow)]
    text: Obj<RawText<'a>>,
    #[serde(borrow)]
    image: Obj<Box<RawMedia<'a>>>,
    #[serde(borrow)]
    document: Obj<Box<RawMedia<'a>>>,
    #[serde(borrow)]
    audio: Obj<Box<RawMedia<'a>>>,
    #[serde(borrow)]
    video: Obj<Box<RawMedia<'a>>>,
    #[serde(borrow)]
    sticker: Obj<Box<RawMedia<'a>>>,
    #[serde(borrow)]
    location: Option<&'a RawValue>,
    #[serde(borrow)]
    contacts: Option<&'a RawValue>,
    #[serde(borrow)]
    interactive: Obj<Box<RawInteractive<'a>>>,
    #[serde(borrow)]
    button: Obj<Box<RawButton<'a>>>,
    #[serde(borrow)]
    reaction: Obj<Box<RawReaction<'a>>>,
    #[serde(borrow)]
    revoke: Obj<Box<RawRevoke<'a>>>,
    #[serde(borrow)]
    edit: Obj<Box<RawEdit<'a>>>,
    #[serde(borrow)]
    system: Obj<Box<RawSystem<'a>>>,
    #[serde(borrow)]
    unsupported: Obj<Box<RawUnsupported<'a>>>,
    #[serde(borrow)]
    errors: Errors<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawPricing<'a> {
    #[serde(borrow)]
    category: Str<'a>,
}

/// `value.statuses[]`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawStatus<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    status: Str<'a>,
    timestamp: Stamp,
    #[serde(borrow)]
    recipient_id: Pii<'a>,
    #[serde(borrow)]
    recipient_user_id: Pii<'a>,
    #[serde(borrow)]
    recipient_parent_user_id: Pii<'a>,
    #[serde(borrow)]
    pricing: Obj<RawPricing<'a>>,
    #[serde(borrow)]
    errors: Errors<'a>,
}

/// `value.user_preferences[]`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawPreference<'a> {
    #[serde(borrow)]
    wa_id: Pii<'a>,
    #[serde(borrow)]
    user_id: Pii<'a>,
    #[serde(borrow)]
    parent_user_id: Pii<'a>,
    #[serde(borrow)]
    category: Str<'a>,
    #[serde(borrow)]
    value: Str<'a>,
    timestamp: Stamp,
}

/// An array read element by element against the event budget.
#[derive(Default)]
enum Arr<T> {
    /// The key is absent (or `null`).
    #[default]
    Absent,
    /// The value is not an array.
    Wrong,
    /// The elements (each `None` if it is not an object).
    Items(Vec<Obj<T>>),
}

/// `changes[].value`: every key any handled `field` uses, read before the
/// `field` is known (Meta sends `value` before `field`).
#[derive(Default)]
struct RawChangeValue<'a> {
    metadata: Obj<RawMetadata<'a>>,
    contacts: Vec<Obj<RawContact<'a>>>,
    messages: Arr<RawMessage<'a>>,
    statuses: Arr<RawStatus<'a>>,
    preferences: Arr<RawPreference<'a>>,
    errors: Errors<'a>,
    event: Str<'a>,
    template_id: NumText<'a>,
    template_name: Str<'a>,
    template_language: Str<'a>,
    reason: Str<'a>,
    template_category: Str<'a>,
    previous_category: Str<'a>,
    new_category: Str<'a>,
    correct_category: Str<'a>,
    update_timestamp: Stamp,
}

// ---------------------------------------------------------------------------
// The envelope, read with seeds that carry the event budget and the output.

/// State of one parse.
struct Ctx {
    /// The events so far.
    events: Vec<Event>,
    /// Events still allowed.
    remaining: usize,
    /// Array elements of the current change's value taken from `remaining`
    /// while reading it (given back before its events are counted).
    charged: usize,
    /// The limit, for the error and the contacts bound.
    max_events: usize,
    /// The first error found; from then on the rest of the body is only
    /// read to its end (no more events are built).
    error: Option<ParseError>,
}

impl Ctx {
    fn fail(&mut self, e: ParseError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn stopped(&self) -> bool {
        self.error.is_some()
    }

    /// Append an event, if the budget allows.
    fn push(&mut self, event: Event) {
        if self.stopped() {
            return;
        }
        if self.remaining == 0 {
            self.fail(ParseError::TooManyEvents {
                limit: self.max_events,
            });
            return;
        }
        self.remaining -= 1;
        self.events.push(event);
    }
}

/// What the body's own object said.
struct Outcome {
    /// `object` is `whatsapp_business_account`.
    whatsapp: bool,
    /// `entry` was present.
    entry: bool,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum BodyKey {
    Object,
    Entry,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EntryKey {
    Id,
    Changes,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChangeKey {
    Field,
    Value,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ValueKey {
    Metadata,
    Contacts,
    Messages,
    Statuses,
    UserPreferences,
    Errors,
    Event,
    MessageTemplateId,
    MessageTemplateName,
    MessageTemplateLanguage,
    Reason,
    MessageTemplateCategory,
    PreviousCategory,
    NewCategory,
    CorrectCategory,
    CategoryUpdateTimestamp,
    #[serde(other)]
    Other,
}

/// Refuse a second occurrence of a known key (bit `bit` of `seen`).
fn once<E: de::Error>(seen: &mut u32, bit: u32) -> Result<(), E> {
    let mask = 1u32 << bit;
    if *seen & mask != 0 {
        return Err(E::custom(REPEATED_KEY));
    }
    *seen |= mask;
    Ok(())
}

/// A visitor of a value that must be an object: any other value is read
/// and `$shape` is recorded as the error.
macro_rules! non_objects_fail {
    ($shape:expr) => {
        scalars_fail!($shape);
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            self.ctx.fail(ParseError::Shape($shape));
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

/// Visitor methods for the scalar JSON values, each recording `$shape` as
/// the error and yielding the default value.
macro_rules! scalars_fail {
    ($shape:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            self.ctx.fail(ParseError::Shape($shape));
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            self.ctx.fail(ParseError::Shape($shape));
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            self.ctx.fail(ParseError::Shape($shape));
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            self.ctx.fail(ParseError::Shape($shape));
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            self.ctx.fail(ParseError::Shape($shape));
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.ctx.fail(ParseError::Shape($shape));
            Ok(Default::default())
        }
    };
}

/// A visitor of a value that must be an array of `$seed` elements, read
/// one by one until the first error (then only skipped); any other value
/// is read and `$shape` is recorded as the error.
macro_rules! elements_of {
    ($seed:ident, $shape:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            loop {
                if self.ctx.stopped() {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(());
                }
                if seq
                    .next_element_seed($seed {
                        ctx: &mut *self.ctx,
                    })?
                    .is_none()
                {
                    return Ok(());
                }
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            self.ctx.fail(ParseError::Shape($shape));
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(())
        }

        scalars_fail!($shape);
    };
}

/// The body's object.
struct BodySeed<'c> {
    ctx: &'c mut Ctx,
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Outcome;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Outcome, D::Error> {
        d.deserialize_any(self)
    }
}

impl Default for Outcome {
    fn default() -> Self {
        // A body that is not an object: the Shape error recorded wins over
        // NotWhatsApp.
        Self {
            whatsapp: true,
            entry: true,
        }
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a webhook body")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let mut seen = 0;
        let mut whatsapp = false;
        let mut entry = false;
        while let Some(key) = map.next_key::<BodyKey>()? {
            match key {
                BodyKey::Object => {
                    once::<A::Error>(&mut seen, 0)?;
                    let object: Str<'de> = map.next_value()?;
                    whatsapp = object.get() == Some(WHATSAPP_OBJECT);
                    if !whatsapp {
                        // No need to build events of another product's body.
                        self.ctx.fail(ParseError::NotWhatsApp);
                    }
                }
                BodyKey::Entry => {
                    once::<A::Error>(&mut seen, 1)?;
                    entry = true;
                    map.next_value_seed(EntriesSeed {
                        ctx: &mut *self.ctx,
                    })?;
                }
                BodyKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Outcome { whatsapp, entry })
    }

    non_objects_fail!("the body is not a JSON object");
}

/// `entry[]`.
struct EntriesSeed<'c> {
    ctx: &'c mut Ctx,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry array")
    }

    elements_of!(EntrySeed, "entry is not an array");
}

/// One `entry[]` element.
struct EntrySeed<'c> {
    ctx: &'c mut Ctx,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.ctx.events.len();
        let mut seen = 0;
        let mut id: Option<String> = None;
        let mut changes = false;
        while let Some(key) = map.next_key::<EntryKey>()? {
            match key {
                EntryKey::Id => {
                    once::<A::Error>(&mut seen, 0)?;
                    let v: NumText<'de> = map.next_value()?;
                    id = v.0.as_deref().filter(|s| is_label(s)).map(str::to_owned);
                }
                EntryKey::Changes => {
                    once::<A::Error>(&mut seen, 1)?;
                    changes = true;
                    map.next_value_seed(ChangesSeed {
                        ctx: &mut *self.ctx,
                    })?;
                }
                EntryKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match id {
            Some(id) if changes => {
                // `id` may follow `changes`: name the account now.
                for e in self.ctx.events.iter_mut().skip(start) {
                    e.account_id.clone_from(&id);
                }
            }
            Some(_) => self
                .ctx
                .fail(ParseError::Shape("an entry has no changes array")),
            None => self.ctx.fail(ParseError::Shape(
                "an entry has no id of 1 to 128 printable ASCII characters",
            )),
        }
        Ok(())
    }

    non_objects_fail!("an entry is not an object");
}

/// `entry[].changes[]`.
struct ChangesSeed<'c> {
    ctx: &'c mut Ctx,
}

impl<'de> DeserializeSeed<'de> for ChangesSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ChangesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a changes array")
    }

    elements_of!(ChangeSeed, "an entry has no changes array");
}

/// One `changes[]` element: its events are built when it ends.
struct ChangeSeed<'c> {
    ctx: &'c mut Ctx,
}

impl<'de> DeserializeSeed<'de> for ChangeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ChangeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0;
        let mut field: Str<'de> = Str(None);
        let mut value: Option<Option<RawChangeValue<'de>>> = None;
        self.ctx.charged = 0;
        while let Some(key) = map.next_key::<ChangeKey>()? {
            match key {
                ChangeKey::Field => {
                    once::<A::Error>(&mut seen, 0)?;
                    field = map.next_value()?;
                }
                ChangeKey::Value => {
                    once::<A::Error>(&mut seen, 1)?;
                    value = Some(map.next_value_seed(ValueSeed {
                        ctx: &mut *self.ctx,
                    })?);
                }
                ChangeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // The elements read are given back; the events built are counted.
        self.ctx.remaining += core::mem::take(&mut self.ctx.charged);
        if self.ctx.stopped() {
            return Ok(());
        }
        change_events(self.ctx, field.get(), value);
        Ok(())
    }

    non_objects_fail!("a change is not an object");
}

/// `changes[].value`; `None` if it is not an object.
struct ValueSeed<'c> {
    ctx: &'c mut Ctx,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Option<RawChangeValue<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Option<RawChangeValue<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut v = RawChangeValue::default();
        let mut seen = 0;
        while let Some(key) = map.next_key::<ValueKey>()? {
            match key {
                ValueKey::Metadata => {
                    once::<A::Error>(&mut seen, 0)?;
                    v.metadata = map.next_value()?;
                }
                ValueKey::Contacts => {
                    once::<A::Error>(&mut seen, 1)?;
                    v.contacts = map.next_value_seed(ContactsSeed {
                        cap: self.ctx.max_events,
                        _p: PhantomData,
                    })?;
                }
                ValueKey::Messages => {
                    once::<A::Error>(&mut seen, 2)?;
                    v.messages = map.next_value_seed(Counted::new(&mut *self.ctx))?;
                }
                ValueKey::Statuses => {
                    once::<A::Error>(&mut seen, 3)?;
                    v.statuses = map.next_value_seed(Counted::new(&mut *self.ctx))?;
                }
                ValueKey::UserPreferences => {
                    once::<A::Error>(&mut seen, 4)?;
                    v.preferences = map.next_value_seed(Counted::new(&mut *self.ctx))?;
                }
                ValueKey::Errors => {
                    once::<A::Error>(&mut seen, 5)?;
                    v.errors = map.next_value()?;
                }
                ValueKey::Event => {
                    once::<A::Error>(&mut seen, 6)?;
                    v.event = map.next_value()?;
                }
                ValueKey::MessageTemplateId => {
                    once::<A::Error>(&mut seen, 7)?;
                    v.template_id = map.next_value()?;
                }
                ValueKey::MessageTemplateName => {
                    once::<A::Error>(&mut seen, 8)?;
                    v.template_name = map.next_value()?;
                }
                ValueKey::MessageTemplateLanguage => {
                    once::<A::Error>(&mut seen, 9)?;
                    v.template_language = map.next_value()?;
                }
                ValueKey::Reason => {
                    once::<A::Error>(&mut seen, 10)?;
                    v.reason = map.next_value()?;
                }
                ValueKey::MessageTemplateCategory => {
                    once::<A::Error>(&mut seen, 11)?;
                    v.template_category = map.next_value()?;
                }
                ValueKey::PreviousCategory => {
                    once::<A::Error>(&mut seen, 12)?;
                    v.previous_category = map.next_value()?;
                }
                ValueKey::NewCategory => {
                    once::<A::Error>(&mut seen, 13)?;
                    v.new_category = map.next_value()?;
                }
                ValueKey::CorrectCategory => {
                    once::<A::Error>(&mut seen, 14)?;
                    v.correct_category = map.next_value()?;
                }
                ValueKey::CategoryUpdateTimestamp => {
                    once::<A::Error>(&mut seen, 15)?;
                    v.update_timestamp = map.next_value()?;
                }
                ValueKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(v))
    }

    accept_others!(None; bool, int, float, str, unit, seq);
}

/// `value.contacts[]`: the first `cap` entries (the rest skipped unread).
struct ContactsSeed<'a> {
    cap: usize,
    _p: PhantomData<&'a ()>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for ContactsSeed<'a> {
    type Value = Vec<Obj<RawContact<'a>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ContactsSeed<'a> {
    type Value = Vec<Obj<RawContact<'a>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a contacts array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while items.len() < self.cap {
            match seq.next_element()? {
                Some(c) => items.push(c),
                None => return Ok(items),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(items)
    }

    accept_others!(Vec::new(); bool, int, float, str, unit, map);
}

/// `messages[]`, `statuses[]`, `user_preferences[]`: every element taken
/// from the event budget as it is read, so that no more than the limit are
/// ever held.
struct Counted<'c, T> {
    ctx: &'c mut Ctx,
    _t: PhantomData<T>,
}

impl<'c, T> Counted<'c, T> {
    fn new(ctx: &'c mut Ctx) -> Self {
        Self {
            ctx,
            _t: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Counted<'_, T> {
    type Value = Arr<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arr<T>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Counted<'_, T> {
    type Value = Arr<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of updates")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arr<T>, A::Error> {
        let mut items = Vec::new();
        while !self.ctx.stopped() {
            if self.ctx.remaining == 0 {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    self.ctx.fail(ParseError::TooManyEvents {
                        limit: self.ctx.max_events,
                    });
                }
                break;
            }
            match seq.next_element::<Obj<T>>()? {
                Some(x) => {
                    self.ctx.remaining -= 1;
                    self.ctx.charged += 1;
                    items.push(x);
                }
                None => return Ok(Arr::Items(items)),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Arr::Items(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Arr<T>, E> {
        Ok(Arr::Absent)
    }

    accept_others!(Arr::Wrong; bool, int, float, str, map);
}

// ---------------------------------------------------------------------------
// From raw shapes to events.

/// Whether `s` is a label: 1 to 128 printable ASCII characters.
fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LABEL && s.bytes().all(|b| matches!(b, 0x20..=0x7e))
}

/// `s` cut to a label: at most 128 characters, each one that is not
/// printable ASCII replaced by `?`; `?` if empty.
fn cut_label(s: &str) -> String {
    let out = cut_printable(s);
    if out.is_empty() { "?".to_owned() } else { out }
}

/// `s` cut to at most 128 characters, each one that is not printable ASCII
/// replaced by `?`.
fn cut_printable(s: &str) -> String {
    s.chars()
        .take(MAX_LABEL)
        .map(|c| if matches!(c, ' '..='~') { c } else { '?' })
        .collect()
}

fn unsupported(field: &str, reason: &'static str) -> EventKind {
    EventKind::Unsupported {
        field: cut_label(field),
        reason,
    }
}

fn platform_errors(raw: &Errors<'_>) -> Vec<PlatformError> {
    raw.0
        .iter()
        .filter_map(|e| e.0.as_ref())
        .map(|e| PlatformError {
            code: e.code.0.unwrap_or(0),
            title: e.title.get().map(cut_printable).unwrap_or_default(),
        })
        .collect()
}

/// Build the events of one change, once its `field` and `value` are known.
fn change_events(ctx: &mut Ctx, field: Option<&str>, value: Option<Option<RawChangeValue<'_>>>) {
    let field_name = field.unwrap_or("?");
    let one = |ctx: &mut Ctx, kind: EventKind| {
        ctx.push(Event {
            account_id: String::new(),
            phone_number_id: None,
            kind,
        })
    };
    let Some(field) = field else {
        return one(ctx, unsupported(field_name, "the change has no field"));
    };
    let value = match value {
        None => return one(ctx, unsupported(field, "the change has no value")),
        Some(None) => {
            return one(
                ctx,
                unsupported(field, "the change's value is not an object"),
            );
        }
        Some(Some(v)) => v,
    };
    match field {
        "messages" | "user_preferences" => update_events(ctx, field, value),
        "message_template_status_update" => one(ctx, template_status(value)),
        "template_category_update" => one(ctx, template_category(value)),
        _ => one(ctx, unsupported(field, "this field is not handled")),
    }
}

/// Messages, statuses and preferences of a `messages` or `user_preferences`
/// change, then (if it has none of them) its value-level errors.
fn update_events(ctx: &mut Ctx, field: &str, mut value: RawChangeValue<'_>) {
    let phone_number_id = value
        .metadata
        .0
        .as_ref()
        .and_then(|m| m.phone_number_id.label());
    let value_errors = platform_errors(&value.errors);
    let contacts = Directory::new(&value.contacts);
    let before = ctx.events.len();
    let emit = |ctx: &mut Ctx, kind: EventKind| {
        ctx.push(Event {
            account_id: String::new(),
            phone_number_id: phone_number_id.clone(),
            kind,
        })
    };
    let (messages, statuses, preferences) = if field == "messages" {
        (
            core::mem::take(&mut value.messages),
            core::mem::take(&mut value.statuses),
            Arr::Absent,
        )
    } else {
        (
            Arr::Absent,
            Arr::Absent,
            core::mem::take(&mut value.preferences),
        )
    };
    match messages {
        Arr::Absent => {}
        Arr::Wrong => emit(ctx, unsupported(field, "messages is not an array")),
        Arr::Items(items) => {
            for mut m in items {
                emit(
                    ctx,
                    message_event(field, m.0.as_mut(), &contacts, &value_errors),
                );
            }
        }
    }
    match statuses {
        Arr::Absent => {}
        Arr::Wrong => emit(ctx, unsupported(field, "statuses is not an array")),
        Arr::Items(items) => {
            for mut s in items {
                emit(
                    ctx,
                    status_event(field, s.0.as_mut(), &contacts, &value_errors),
                );
            }
        }
    }
    match preferences {
        Arr::Absent => {}
        Arr::Wrong => emit(ctx, unsupported(field, "user_preferences is not an array")),
        Arr::Items(items) => {
            for mut p in items {
                emit(ctx, preference_event(field, p.0.as_mut(), &contacts));
            }
        }
    }
    let built = ctx.events.len() - before;
    // Value-level errors go with the messages and statuses they concern.
    let carried = ctx
        .events
        .iter()
        .skip(before)
        .any(|e| matches!(e.kind, EventKind::Message(_) | EventKind::Status(_)));
    if !value_errors.is_empty() && !carried {
        emit(ctx, EventKind::Errors(value_errors));
    } else if built == 0 && !ctx.stopped() {
        emit(ctx, unsupported(field, "the change holds no update"));
    }
}

/// The first index of each `wa_id` and of each `user_id` in a contacts list.
type ContactIndex<'v> = (BTreeMap<&'v str, usize>, BTreeMap<&'v str, usize>);

/// The contacts of one change, looked up by `wa_id` or `user_id`.
struct Directory<'v, 'a> {
    list: &'v [Obj<RawContact<'a>>],
    /// For long lists: the first index of each `wa_id` and `user_id`.
    index: Option<ContactIndex<'v>>,
}

impl<'v, 'a> Directory<'v, 'a> {
    fn new(list: &'v [Obj<RawContact<'a>>]) -> Self {
        let index = (list.len() > 16).then(|| {
            let mut wa = BTreeMap::new();
            let mut user = BTreeMap::new();
            for (i, c) in list.iter().enumerate() {
                if let Some(c) = &c.0 {
                    if let Some(k) = c.wa_id.identity() {
                        wa.entry(k).or_insert(i);
                    }
                    if let Some(k) = c.user_id.identity() {
                        user.entry(k).or_insert(i);
                    }
                }
            }
            (wa, user)
        });
        Self { list, index }
    }

    fn at(&self, i: Option<usize>) -> Option<&'v RawContact<'a>> {
        i.and_then(|i| self.list.get(i)).and_then(|c| c.0.as_ref())
    }

    /// The contact with this `wa_id` (else this `user_id`) that contradicts
    /// neither.
    fn find(&self, wa: Option<&str>, user: Option<&str>) -> Option<&'v RawContact<'a>> {
        let agrees = |c: &RawContact<'_>| {
            let same = |mine: Option<&str>, theirs: Option<&str>| match (mine, theirs) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            same(wa, c.wa_id.identity()) && same(user, c.user_id.identity())
        };
        let by = |key: Option<&str>, wa_key: bool| -> Option<&'v RawContact<'a>> {
            let key = key?;
            let i = match &self.index {
                Some((w, u)) => (if wa_key { w } else { u }).get(key).copied(),
                None => self.list.iter().position(|c| {
                    c.0.as_ref().is_some_and(|c| {
                        if wa_key {
                            c.wa_id.identity() == Some(key)
                        } else {
                            c.user_id.identity() == Some(key)
                        }
                    })
                }),
            };
            self.at(i).filter(|c| agrees(c))
        };
        by(wa, true).or_else(|| by(user, false))
    }
}

/// Who an update is from or about: its own ids, completed from the
/// matching contact; `None` if it names nobody.
fn identify(
    wa: &mut Pii<'_>,
    user: &mut Pii<'_>,
    parent: &mut Pii<'_>,
    contacts: &Directory<'_, '_>,
) -> Option<Contact> {
    let wa_key = wa.identity();
    let user_key = user.identity();
    if wa_key.is_none() && user_key.is_none() {
        return None;
    }
    let found = contacts.find(wa_key, user_key);
    let own = |p: &mut Pii<'_>| {
        if p.identity().is_some() {
            p.take()
        } else {
            None
        }
    };
    let theirs = |p: &Pii<'_>| p.identity().map(Sensitive::new);
    let profile = found.and_then(|c| c.profile.0.as_ref());
    Some(Contact {
        wa_id: own(wa).or_else(|| found.and_then(|c| theirs(&c.wa_id))),
        user_id: own(user).or_else(|| found.and_then(|c| theirs(&c.user_id))),
        parent_user_id: own(parent).or_else(|| found.and_then(|c| theirs(&c.parent_user_id))),
        profile_name: profile.and_then(|p| p.name.copy()),
        username: profile.and_then(|p| p.username.copy()),
    })
}

fn message_event(
    field: &str,
    raw: Option<&mut RawMessage<'_>>,
    contacts: &Directory<'_, '_>,
    value_errors: &[PlatformError],
) -> EventKind {
    let Some(m) = raw else {
        return unsupported(field, "a message is not an object");
    };
    let Some(id) = m.id.label() else {
        return unsupported(field, "a message id is missing or not a label");
    };
    let Stamp::At(timestamp) = m.timestamp else {
        return unsupported(field, "a message timestamp is missing or out of range");
    };
    let Some(from) = identify(
        &mut m.from,
        &mut m.from_user_id,
        &mut m.from_parent_user_id,
        contacts,
    ) else {
        return unsupported(field, "names no contact");
    };
    let context = m
        .context
        .0
        .as_ref()
        .map(|c| MessageContext {
            replied_to: c.id.label(),
            forwarded: c.forwarded.0,
            frequently_forwarded: c.frequently_forwarded.0,
        })
        .unwrap_or_default();
    let mut errors = platform_errors(&m.errors);
    errors.extend_from_slice(value_errors);
    let body = message_body(m, &errors, false);
    EventKind::Message(InboundMessage {
        id,
        from,
        timestamp,
        context,
        body,
        errors,
    })
}

/// The content of a message by its `type`; `in_edit` for the new version
/// inside an `edit`.
fn message_body(m: &mut RawMessage<'_>, errors: &[PlatformError], in_edit: bool) -> MessageBody {
    let kind = m.kind.get().unwrap_or("");
    let other = |message_type: &str| MessageBody::Unsupported {
        message_type: cut_label(message_type),
        errors: errors.to_vec(),
    };
    let body = match kind {
        "text" => m
            .text
            .0
            .as_mut()
            .and_then(|t| t.body.take())
            .map(MessageBody::Text),
        "image" => media(MediaKind::Image, &mut m.image),
        "document" => media(MediaKind::Document, &mut m.document),
        "audio" => media(MediaKind::Audio, &mut m.audio),
        "video" => media(MediaKind::Video, &mut m.video),
        "sticker" => media(MediaKind::Sticker, &mut m.sticker),
        "location" => m
            .location
            .filter(|r| r.get().starts_with('{'))
            .map(|r| MessageBody::Location(Sensitive::new(r.get()))),
        "contacts" => m
            .contacts
            .filter(|r| r.get().starts_with('['))
            .map(|r| MessageBody::Contacts(Sensitive::new(r.get()))),
        "interactive" => m.interactive.0.as_mut().and_then(|i| interactive(i)),
        "button" => m.button.0.as_mut().and_then(|b| {
            let payload = b.payload.label()?;
            let text = b.text.take()?;
            Some(MessageBody::QuickReply { payload, text })
        }),
        "reaction" => m.reaction.0.as_mut().and_then(|r| {
            let message_id = r.message_id.label()?;
            let emoji = r.emoji.take().filter(|e| !e.is_empty());
            Some(MessageBody::Reaction { message_id, emoji })
        }),
        "revoke" => m.revoke.0.as_ref().and_then(|r| {
            Some(MessageBody::Revoke {
                original_message_id: r.original_message_id.label()?,
            })
        }),
        "edit" if !in_edit => m.edit.0.as_mut().and_then(|e| {
            let original_message_id = e.original_message_id.label()?;
            let inner = e.message.0.as_mut()?;
            let message = Box::new(message_body(inner, &[], true));
            Some(MessageBody::Edit {
                original_message_id,
                message,
            })
        }),
        "system" => m.system.0.as_mut().and_then(|s| system(s)),
        "unsupported" => {
            let named = m
                .unsupported
                .0
                .as_ref()
                .and_then(|u| u.kind.get())
                .filter(|k| !k.is_empty());
            return other(named.unwrap_or("unsupported"));
        }
        _ => None,
    };
    body.unwrap_or_else(|| other(kind))
}

fn media(kind: MediaKind, slot: &mut Obj<Box<RawMedia<'_>>>) -> Option<MessageBody> {
    let raw = slot.0.as_mut()?;
    Some(MessageBody::Media(Media {
        kind,
        id: raw.id.label()?,
        mime_type: raw.mime_type.label(),
        sha256: raw.sha256.get().and_then(decode_sha256),
        caption: raw.caption.take(),
        filename: raw.filename.take(),
        voice: raw.voice.0,
        animated: raw.animated.0,
    }))
}

/// A SHA-256 as the webhook gives it: standard base64 with padding (44
/// characters), or 64 hexadecimal digits; anything else is `None`.
fn decode_sha256(s: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let mut out = [0u8; 32];
    if s.len() == 64 {
        for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let hi = hex_value(*pair.first()?)?;
            let lo = hex_value(*pair.get(1)?)?;
            *byte = (hi << 4) | lo;
        }
        return Some(out);
    }
    if s.len() != 44 {
        return None;
    }
    let mut buf = [0u8; 33];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(s, &mut buf)
        .ok()?;
    if n != 32 {
        return None;
    }
    out.copy_from_slice(buf.get(..32)?);
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn interactive(i: &mut RawInteractive<'_>) -> Option<MessageBody> {
    match i.kind.get()? {
        "button_reply" => {
            let r = i.button_reply.0.as_mut()?;
            Some(MessageBody::ButtonReply {
                id: r.id.label()?,
                title: r.title.take()?,
            })
        }
        "list_reply" => {
            let r = i.list_reply.0.as_mut()?;
            Some(MessageBody::ListReply {
                id: r.id.label()?,
                title: r.title.take()?,
                description: r.description.take(),
            })
        }
        _ => None,
    }
}

fn system(s: &mut RawSystem<'_>) -> Option<MessageBody> {
    let change = match s.kind.get()? {
        "user_changed_number" => {
            let new_wa_id = if s.new_wa_id.identity().is_some() {
                s.new_wa_id.take()
            } else if s.wa_id.identity().is_some() {
                s.wa_id.take()
            } else {
                None
            }?;
            SystemChange::ChangedNumber { new_wa_id }
        }
        "user_changed_user_id" => {
            s.user_id.identity()?;
            SystemChange::ChangedUserId {
                new_user_id: s.user_id.take()?,
            }
        }
        "" => return None,
        other => SystemChange::Other(cut_label(other)),
    };
    Some(MessageBody::System(change))
}

fn status_event(
    field: &str,
    raw: Option<&mut RawStatus<'_>>,
    contacts: &Directory<'_, '_>,
    value_errors: &[PlatformError],
) -> EventKind {
    let Some(s) = raw else {
        return unsupported(field, "a status is not an object");
    };
    let Some(message_id) = s.id.label() else {
        return unsupported(field, "a status's message id is missing or not a label");
    };
    let status = match s.status.get() {
        Some("sent") => DeliveryStatus::Sent,
        Some("delivered") => DeliveryStatus::Delivered,
        Some("read") => DeliveryStatus::Read,
        Some("played") => DeliveryStatus::Played,
        Some("failed") => DeliveryStatus::Failed,
        Some(other) if !other.is_empty() => DeliveryStatus::Other(cut_label(other)),
        _ => return unsupported(field, "a status has no status"),
    };
    let Stamp::At(timestamp) = s.timestamp else {
        return unsupported(field, "a status timestamp is missing or out of range");
    };
    let Some(recipient) = identify(
        &mut s.recipient_id,
        &mut s.recipient_user_id,
        &mut s.recipient_parent_user_id,
        contacts,
    ) else {
        return unsupported(field, "names no contact");
    };
    let mut errors = platform_errors(&s.errors);
    errors.extend_from_slice(value_errors);
    EventKind::Status(StatusUpdate {
        message_id,
        status,
        timestamp,
        recipient,
        pricing_category: s.pricing.0.as_ref().and_then(|p| p.category.label()),
        errors,
    })
}

fn preference_event(
    field: &str,
    raw: Option<&mut RawPreference<'_>>,
    contacts: &Directory<'_, '_>,
) -> EventKind {
    let Some(p) = raw else {
        return unsupported(field, "a user preference is not an object");
    };
    let Some(category) = p.category.label() else {
        return unsupported(field, "a user preference has no category");
    };
    let value = match p.value.get() {
        Some("stop") => PreferenceValue::Stop,
        Some("resume") => PreferenceValue::Resume,
        Some(other) if !other.is_empty() => PreferenceValue::Other(cut_label(other)),
        _ => return unsupported(field, "a user preference has no value"),
    };
    let Stamp::At(timestamp) = p.timestamp else {
        return unsupported(
            field,
            "a user preference timestamp is missing or out of range",
        );
    };
    let Some(contact) = identify(
        &mut p.wa_id,
        &mut p.user_id,
        &mut p.parent_user_id,
        contacts,
    ) else {
        return unsupported(field, "names no contact");
    };
    EventKind::UserPreference(UserPreference {
        contact,
        category,
        value,
        timestamp,
    })
}

/// `message_template_id`: 1 to 19 decimal digits.
fn template_id(v: &NumText<'_>) -> Option<String> {
    v.0.as_deref()
        .filter(|s| decimal(s).is_some())
        .map(str::to_owned)
}

fn template_status(v: RawChangeValue<'_>) -> EventKind {
    const FIELD: &str = "message_template_status_update";
    let (Some(template_id), Some(name), Some(language), Some(event)) = (
        template_id(&v.template_id),
        v.template_name.label(),
        v.template_language.label(),
        v.event.label(),
    ) else {
        return unsupported(
            FIELD,
            "the template id, name, language or event is missing or not a label",
        );
    };
    EventKind::TemplateStatus(TemplateStatus {
        template_id,
        name,
        language,
        event,
        reason: v.reason.label(),
        category: v.template_category.label(),
    })
}

fn template_category(v: RawChangeValue<'_>) -> EventKind {
    const FIELD: &str = "template_category_update";
    let (Some(template_id), Some(name), Some(language), Some(new_category)) = (
        template_id(&v.template_id),
        v.template_name.label(),
        v.template_language.label(),
        v.new_category.label(),
    ) else {
        return unsupported(
            FIELD,
            "the template id, name, language or new category is missing or not a label",
        );
    };
    let update_timestamp = match v.update_timestamp {
        Stamp::Absent => None,
        Stamp::At(t) => Some(t),
        Stamp::Bad => return unsupported(FIELD, "the category update timestamp is out of range"),
    };
    EventKind::TemplateCategory(TemplateCategoryUpdate {
        template_id,
        name,
        language,
        previous_category: v.previous_category.label(),
        new_category,
        correct_category: v.correct_category.label(),
        update_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn depth_counts_arrays_and_objects_together() {
        assert!(depth_within(b"", 0));
        assert!(depth_within(b"1", 0));
        assert!(!depth_within(b"[]", 0));
        assert!(depth_within(nested("[", "]", 32).as_bytes(), 32));
        assert!(!depth_within(nested("[", "]", 33).as_bytes(), 32));
        assert!(depth_within(nested("{\"a\":", "}", 32).as_bytes(), 32));
        assert!(!depth_within(nested("{\"a\":", "}", 33).as_bytes(), 32));
        let mixed = format!("{}{}", "[{\"k\":".repeat(16), "}]".repeat(16));
        assert!(depth_within(mixed.as_bytes(), 32));
        assert!(!depth_within(mixed.as_bytes(), 31));
        // Siblings do not add up: depth is the deepest point, not a count.
        let siblings = format!("[{}]", vec!["[[]]"; 100].join(","));
        assert!(depth_within(siblings.as_bytes(), 3));
        assert!(!depth_within(siblings.as_bytes(), 2));
    }

    #[test]
    fn depth_ignores_brackets_inside_strings() {
        let s = format!("[\"{}\"]", "[{".repeat(100));
        assert!(depth_within(s.as_bytes(), 1));
        // An escaped quote does not end the string; an escaped backslash
        // before the quote does.
        assert!(depth_within(br#"["\"[[[[","x"]"#, 1));
        assert!(!depth_within(br#"["\\",[[]]]"#, 2));
        assert!(depth_within(br#"["\\",[[]]]"#, 3));
        // An unterminated string swallows the rest.
        assert!(depth_within(b"[\"[[[[[[", 1));
    }

    #[test]
    fn depth_survives_unbalanced_closers() {
        assert!(depth_within(b"]]]]}}}}", 0));
        // Extra closers never make depth negative, so what follows counts.
        assert!(!depth_within(b"]]]][[", 1));
    }

    #[test]
    fn position_errors_count_lines_and_bytes() {
        assert_eq!(
            position_error(b"ab\ncd", 4),
            ParseError::Json { line: 2, column: 2 }
        );
        assert_eq!(
            position_error(b"abc", 0),
            ParseError::Json { line: 1, column: 1 }
        );
        assert_eq!(
            position_error(b"a\n", 2),
            ParseError::Json { line: 2, column: 1 }
        );
    }

    #[test]
    fn sha256_accepts_base64_and_hex_only() {
        let digest: Vec<u8> = (0u8..32).collect();
        let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        assert_eq!(decode_sha256(b64).map(|d| d.to_vec()), Some(digest.clone()));
        assert_eq!(decode_sha256(hex).map(|d| d.to_vec()), Some(digest.clone()));
        assert_eq!(
            decode_sha256(&hex.to_ascii_uppercase()).map(|d| d.to_vec()),
            Some(digest)
        );
        for bad in [
            "",
            "4654+8g=",
            &b64[..43],
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8!",
            &hex.replace('0', "g"),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==",
        ] {
            assert_eq!(decode_sha256(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_strings_decode_as_serde_json_decodes_them() {
        let cases = [
            r#""""#,
            r#""plain text""#,
            r#""Gru\u00df an Frau M\u00fcller \u0040 Praxis""#,
            r#""\"\\\/\b\f\n\r\t""#,
            r#""\ud83d\ude0a smile""#,
            r#""\u00E4\u00c4""#,
            r#""end\\""#,
            "\"caf\u{e9} direkt\"",
        ];
        for raw in cases {
            let want: String = serde_json::from_str(raw).unwrap();
            let got = json_string(raw).unwrap();
            assert_eq!(got, want, "{raw}");
            assert_eq!(matches!(got, Cow::Borrowed(_)), !raw.contains('\\'));
        }
    }

    #[test]
    fn json_strings_refuse_what_serde_json_refuses() {
        for raw in [
            "\"tab\there\"",
            r#""lone \ud83d high""#,
            r#""lone \ude0a low""#,
            r#""\ud83d\u0041 wrong low""#,
            r#""bad \x escape""#,
            r#""short \u00e""#,
            r#""\u00g0""#,
            r#""trailing \""#,
            "null",
            "17",
            r#"{"a":"b"}"#,
            r#"["a"]"#,
            r#""unterminated"#,
        ] {
            assert_eq!(json_string(raw), None, "{raw}");
            if raw.starts_with('"') && raw.ends_with('"') && raw.len() > 1 {
                assert!(serde_json::from_str::<String>(raw).is_err(), "{raw}");
            }
        }
    }

    #[test]
    fn labels_are_printable_ascii_up_to_128_bytes() {
        assert!(is_label("wamid.HBgL=="));
        assert!(is_label(&"a".repeat(128)));
        assert!(!is_label(&"a".repeat(129)));
        assert!(!is_label(""));
        assert!(!is_label("a\nb"));
        assert!(!is_label("caf\u{e9}"));
        assert_eq!(cut_label("caf\u{e9}\n"), "caf??");
        assert_eq!(cut_label(""), "?");
        assert_eq!(cut_label(&"x".repeat(200)).len(), 128);
    }
}
