#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The test vectors of docs/FORMAT.md, read from that file and reproduced
//! byte for byte twice: through the public API, and by an independent
//! construction from the suite primitives that follows the prose of the
//! specification (so the document, not only the code, is checked).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use caduceus_core::envelope::{self, EnvelopeError, Labels, PartSet};
use caduceus_core::keys::{KeyError, KeyId, KeyKind, KeyringRecord, PrivateKey, PublicKey};
use caduceus_core::suite;
use caduceus_core::testing::FixedBytesRng;

const FORMAT_MD: &str = include_str!("../../docs/FORMAT.md");

// ---------------------------------------------------------------------------
// Reading the vector blocks of docs/FORMAT.md
// ---------------------------------------------------------------------------

/// One ```vector NAME block: `key = value` lines; indented lines continue
/// the previous value. Records which keys a test read, so that a test can
/// assert it checked every value of its block.
struct Block {
    name: String,
    entries: BTreeMap<String, String>,
    order: Vec<String>,
    used: RefCell<BTreeSet<String>>,
}

impl Block {
    fn raw(&self, key: &str) -> &str {
        self.used.borrow_mut().insert(key.to_owned());
        self.entries
            .get(key)
            .unwrap_or_else(|| panic!("vector {}: no value {key}", self.name))
    }
    fn hex(&self, key: &str) -> Vec<u8> {
        assert_eq!(value_type(key, self.raw(key)), ValueType::Hex, "{key}");
        hex::decode(self.raw(key))
            .unwrap_or_else(|e| panic!("vector {}: {key} is not hex: {e}", self.name))
    }
    fn h32(&self, key: &str) -> [u8; 32] {
        self.hex(key).try_into().unwrap()
    }
    fn h16(&self, key: &str) -> [u8; 16] {
        self.hex(key).try_into().unwrap()
    }
    fn str(&self, key: &str) -> String {
        assert_eq!(value_type(key, self.raw(key)), ValueType::Str, "{key}");
        unquote(self.raw(key))
            .unwrap_or_else(|| panic!("vector {}: {key} is not a string", self.name))
    }
    fn int(&self, key: &str) -> i64 {
        assert_eq!(value_type(key, self.raw(key)), ValueType::Int, "{key}");
        self.raw(key).parse().unwrap()
    }
    fn labels(&self) -> Labels {
        Labels::new(
            &self.str("label.subject"),
            &self.str("label.category"),
            &self.str("label.purpose"),
            &self.str("label.content_type"),
            self.int("label.created_at"),
        )
        .unwrap()
    }
    fn assert_all_used(&self) {
        let used = self.used.borrow();
        let unused: Vec<&String> = self.order.iter().filter(|k| !used.contains(*k)).collect();
        assert!(
            unused.is_empty(),
            "vector {}: values not checked: {unused:?}",
            self.name
        );
    }
}

/// The three value types of section 9.
#[derive(Debug, PartialEq, Eq)]
enum ValueType {
    Str,
    Int,
    Hex,
}

/// The type of a value by the rule of section 9: a string if it starts with
/// `"`; else a decimal integer if the name ends in `created_at`,
/// `shredded_at` or `_len`; else hexadecimal bytes.
fn value_type(name: &str, value: &str) -> ValueType {
    if value.starts_with('"') {
        ValueType::Str
    } else if ["created_at", "shredded_at", "_len"]
        .iter()
        .any(|end| name.ends_with(end))
    {
        ValueType::Int
    } else {
        ValueType::Hex
    }
}

/// A string value of section 9: `"` … `"` around printable ASCII, in which
/// `"` and `\` appear only as the escapes `\"` and `\\`.
fn unquote(v: &str) -> Option<String> {
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('"' | '\\') => out.push(e),
                _ => return None,
            },
            '"' => return None,
            ' '..='~' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// Whether `value` is well-formed for its type (section 9).
fn well_formed(name: &str, value: &str) -> bool {
    match value_type(name, value) {
        ValueType::Str => unquote(value).is_some(),
        ValueType::Int => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
        }
        ValueType::Hex => {
            !value.is_empty()
                && value.len().is_multiple_of(2)
                && value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
    }
}

#[test]
fn vector_value_syntax() {
    assert_eq!(
        unquote(r#""a \"b\" \\ c""#).as_deref(),
        Some(r#"a "b" \ c"#)
    );
    assert_eq!(unquote(r#""""#).as_deref(), Some(""));
    for bad in [
        r#""a"b""#,
        r#""a\n""#,
        r#""a\""#,
        "\"\u{e4}\"",
        "\"tab\there\"",
        "plain",
    ] {
        assert_eq!(unquote(bad), None, "{bad}");
    }
    assert!(well_formed("created_at", "1767225600"));
    assert!(!well_formed("created_at", "01"));
    assert!(well_formed("random.data_key", "00ff"));
    assert!(!well_formed("random.data_key", "0F"));
    assert!(!well_formed("random.data_key", "abc"));
    // Every value of every block is well-formed for its type.
    for (name, b) in blocks() {
        for (k, v) in &b.entries {
            assert!(well_formed(k, v), "vector {name}: {k} = {v}");
        }
    }
}

fn blocks() -> BTreeMap<String, Block> {
    let mut out = BTreeMap::new();
    let mut lines = FORMAT_MD.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```vector ") else {
            continue;
        };
        let mut block = Block {
            name: name.trim().to_owned(),
            entries: BTreeMap::new(),
            order: Vec::new(),
            used: RefCell::new(BTreeSet::new()),
        };
        let mut current: Option<String> = None;
        for line in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            if line.starts_with(' ') {
                let key = current.as_ref().expect("continuation without a key");
                block.entries.get_mut(key).unwrap().push_str(line.trim());
                continue;
            }
            let (k, v) = line.split_once(" =").expect("a `key = value` line");
            let k = k.trim().to_owned();
            assert!(
                block
                    .entries
                    .insert(k.clone(), v.trim().to_owned())
                    .is_none(),
                "vector {}: {k} twice",
                block.name
            );
            block.order.push(k.clone());
            current = Some(k);
        }
        assert!(!block.order.is_empty(), "vector {} is empty", block.name);
        assert!(
            out.insert(block.name.clone(), block).is_none(),
            "vector block {name} twice"
        );
    }
    out
}

fn block(name: &str) -> Block {
    blocks()
        .remove(name)
        .unwrap_or_else(|| panic!("docs/FORMAT.md has no ```vector {name} block"))
}

// ---------------------------------------------------------------------------
// An independent construction, following the prose of docs/FORMAT.md
// ---------------------------------------------------------------------------

/// Canonical MessagePack, section 2: shortest forms, arrays, no maps.
mod mp {
    pub fn array(out: &mut Vec<u8>, n: usize) {
        match n {
            0..=15 => out.push(0x90 | n as u8),
            16..=0xffff => {
                out.push(0xdc);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            _ => {
                out.push(0xdd);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
        }
    }
    pub fn str(out: &mut Vec<u8>, s: &str) {
        let n = s.len();
        match n {
            0..=31 => out.push(0xa0 | n as u8),
            32..=255 => out.extend_from_slice(&[0xd9, n as u8]),
            _ => {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(s.as_bytes());
    }
    pub fn bin(out: &mut Vec<u8>, b: &[u8]) {
        let n = b.len();
        match n {
            0..=255 => out.extend_from_slice(&[0xc4, n as u8]),
            _ => {
                out.push(0xc5);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(b);
    }
    pub fn int(out: &mut Vec<u8>, v: i64) {
        if (0..=127).contains(&v) {
            out.push(v as u8);
        } else if (-32..0).contains(&v) {
            out.push(v as i8 as u8);
        } else if v >= 0 {
            if v <= 0xff {
                out.extend_from_slice(&[0xcc, v as u8]);
            } else if v <= 0xffff {
                out.push(0xcd);
                out.extend_from_slice(&(v as u16).to_be_bytes());
            } else if v <= 0xffff_ffff {
                out.push(0xce);
                out.extend_from_slice(&(v as u32).to_be_bytes());
            } else {
                out.push(0xcf);
                out.extend_from_slice(&(v as u64).to_be_bytes());
            }
        } else if v >= -128 {
            out.extend_from_slice(&[0xd0, v as i8 as u8]);
        } else if v >= -32768 {
            out.push(0xd1);
            out.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= -(1 << 31) {
            out.push(0xd2);
            out.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    pub fn nil(out: &mut Vec<u8>) {
        out.push(0xc0);
    }
}

fn key_id(public: &[u8; 32]) -> [u8; 16] {
    suite::sha256(&[b"caduceus/v1 key id", public])[..16]
        .try_into()
        .unwrap()
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    suite::hkdf_sha256(salt, ikm, info, &mut out).unwrap();
    out
}

struct SpecStanza {
    key_id: [u8; 16],
    info: Vec<u8>,
    ske: [u8; 32],
    enc: [u8; 32],
    wrapped: Vec<u8>,
}

/// HPKE SealBase with the ephemeral key DeriveKeyPair(ikm_e).
fn spec_hpke(pk: &[u8; 32], info: &[u8], pt: &[u8], ikm_e: &[u8; 32]) -> ([u8; 32], Vec<u8>) {
    let mut rng = FixedBytesRng::new(ikm_e.to_vec());
    let out = suite::hpke_seal(pk, info, &[], pt, &mut rng).unwrap();
    assert_eq!(rng.consumed(), 32, "HPKE draws exactly 32 bytes of ikmE");
    out
}

fn spec_stanza(
    envelope_id: &[u8; 16],
    data_key: &[u8; 32],
    pk: &[u8; 32],
    ikm_e: &[u8; 32],
) -> SpecStanza {
    let kid = key_id(pk);
    let info = [b"caduceus/v1 envelope stanza".as_slice(), envelope_id, &kid].concat();
    assert_eq!(info.len(), 59);
    let (enc, wrapped) = spec_hpke(pk, &info, data_key, ikm_e);
    assert_eq!(wrapped.len(), 48);
    let (ske, pke) = suite::hpke_derive_keypair(ikm_e);
    assert_eq!(pke, enc, "enc is the public key of DeriveKeyPair(ikmE)");
    SpecStanza {
        key_id: kid,
        info,
        ske: *ske,
        enc,
        wrapped,
    }
}

fn spec_body(
    envelope_id: &[u8; 16],
    labels: &Labels,
    part: Option<([u8; 16], u32, u32)>,
    stanzas: &[SpecStanza],
) -> Vec<u8> {
    let mut b = Vec::new();
    mp::array(&mut b, 4);
    mp::bin(&mut b, envelope_id);
    mp::array(&mut b, 5);
    mp::str(&mut b, &labels.subject);
    mp::str(&mut b, &labels.category);
    mp::str(&mut b, &labels.purpose);
    mp::str(&mut b, &labels.content_type);
    mp::int(&mut b, labels.created_at);
    match part {
        None => mp::nil(&mut b),
        Some((set_id, index, count)) => {
            mp::array(&mut b, 3);
            mp::bin(&mut b, &set_id);
            mp::int(&mut b, i64::from(index));
            mp::int(&mut b, i64::from(count));
        }
    }
    mp::array(&mut b, stanzas.len());
    for s in stanzas {
        mp::array(&mut b, 3);
        mp::bin(&mut b, &s.key_id);
        mp::bin(&mut b, &s.enc);
        mp::bin(&mut b, &s.wrapped);
    }
    b
}

fn spec_prefix(magic: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut p = magic.to_vec();
    p.extend_from_slice(&[1, 1]);
    p.extend_from_slice(&(body.len() as u32).to_be_bytes());
    p
}

fn spec_payload(payload_key: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    let n = plaintext.len().div_ceil(65536).max(1);
    let mut out = Vec::new();
    for i in 0..n {
        let chunk = &plaintext[i * 65536..((i + 1) * 65536).min(plaintext.len())];
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&(i as u64).to_be_bytes());
        nonce[11] = u8::from(i + 1 == n);
        out.extend(suite::aes256gcm_seal(payload_key, &nonce, &[], chunk).unwrap());
    }
    assert_eq!(out.len(), plaintext.len() + 16 * n);
    out
}

struct SpecEnvelope {
    stanzas: Vec<SpecStanza>,
    mac_key: [u8; 32],
    payload_key: [u8; 32],
    prefix: Vec<u8>,
    body: Vec<u8>,
    mac: [u8; 32],
    payload: Vec<u8>,
    envelope: Vec<u8>,
}

fn spec_seal(
    envelope_id: &[u8; 16],
    data_key: &[u8; 32],
    labels: &Labels,
    part: Option<([u8; 16], u32, u32)>,
    recipients: &[[u8; 32]],
    ikms: &[[u8; 32]],
    plaintext: &[u8],
) -> SpecEnvelope {
    let stanzas: Vec<SpecStanza> = recipients
        .iter()
        .zip(ikms)
        .map(|(pk, ikm)| spec_stanza(envelope_id, data_key, pk, ikm))
        .collect();
    let mac_key = hkdf(envelope_id, data_key, b"caduceus/v1 header mac");
    let payload_key = hkdf(envelope_id, data_key, b"caduceus/v1 payload");
    let body = spec_body(envelope_id, labels, part, &stanzas);
    let prefix = spec_prefix(b"CADU", &body);
    let mac = suite::hmac_sha256(&mac_key, &[&prefix, &body]);
    let payload = spec_payload(&payload_key, plaintext);
    let envelope = [prefix.as_slice(), &body, &mac, &payload].concat();
    SpecEnvelope {
        stanzas,
        mac_key,
        payload_key,
        prefix,
        body,
        mac,
        payload,
        envelope,
    }
}

/// `skE` is printed clamped (section 9): RFC 7748 `decodeScalar25519`
/// leaves it unchanged.
fn assert_clamped(sk: &[u8; 32]) {
    assert_eq!(sk[0] & 0x07, 0, "low 3 bits clear");
    assert_eq!(sk[31] & 0xc0, 0x40, "bit 255 clear, bit 254 set");
}

/// Checks the per-stanza values `stanza.{i}.*` of a block.
fn check_stanza(v: &Block, i: usize, s: &SpecStanza) {
    assert_eq!(v.hex(&format!("stanza.{i}.key_id")), s.key_id);
    assert_eq!(v.hex(&format!("stanza.{i}.info")), s.info);
    assert_clamped(&s.ske);
    assert_eq!(v.hex(&format!("stanza.{i}.skE")), s.ske);
    assert_eq!(v.hex(&format!("stanza.{i}.enc")), s.enc);
    assert_eq!(v.hex(&format!("stanza.{i}.wrapped")), s.wrapped);
}

fn keys_from(v: &Block) -> (PrivateKey, PrivateKey, PrivateKey) {
    (
        PrivateKey::from_bytes(KeyKind::Practice, v.h32("practice.secret")).unwrap(),
        PrivateKey::from_bytes(KeyKind::Staff, v.h32("staff.secret")).unwrap(),
        PrivateKey::from_bytes(KeyKind::SubjectCategory, v.h32("subject.secret")).unwrap(),
    )
}

fn test_keys() -> (PrivateKey, PrivateKey, PrivateKey) {
    keys_from(&block("keys"))
}

// ---------------------------------------------------------------------------
// The vectors
// ---------------------------------------------------------------------------

#[test]
fn every_vector_block_is_present() {
    let names: Vec<String> = blocks().into_keys().collect();
    assert_eq!(
        names,
        [
            "empty-envelope",
            "envelope-set",
            "keyring-record",
            "keys",
            "media-envelope",
            "message-envelope",
            "rewrap",
        ]
    );
}

/// The table of section 9: (block, value, name) for every value derived
/// from a name, read from docs/FORMAT.md.
fn derived_names() -> Vec<(String, String, String)> {
    let section = FORMAT_MD
        .split_once("## 9. Test vectors")
        .and_then(|(_, rest)| rest.split_once("### 9.1"))
        .map(|(intro, _)| intro)
        .expect("section 9 and 9.1");
    let cell = |c: &str| {
        c.trim()
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .map(str::to_owned)
    };
    let rows: Vec<(String, String, String)> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .collect();
            match cells.as_slice() {
                [b, k, n] => Some((cell(b)?, cell(k)?, cell(n)?)),
                _ => None,
            }
        })
        .collect();
    assert!(rows.len() > 20, "the table of derived values in section 9");
    rows
}

#[test]
fn random_inputs_are_derived_from_their_names() {
    let all = blocks();
    let rows = derived_names();
    let table: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(b, k, n)| (b.as_str(), k.as_str(), n.as_str()))
        .collect();
    // Key secrets follow the same rule as the random inputs.
    for kind in ["practice", "staff", "subject"] {
        let key = format!("{kind}.secret");
        assert!(
            table.iter().any(|(b, k, _)| *b == "keys" && *k == key),
            "{key} is not in the table"
        );
    }
    for (b, key, name) in &table {
        let value = all[*b].hex(key);
        let digest = suite::sha256(&[b"caduceus format vector: ", name.as_bytes()]);
        assert_eq!(value, digest[..value.len()], "{b}: {key}");
    }
    // Every random input of every block is in the table.
    for (name, b) in &all {
        for key in b.order.iter().filter(|k| k.contains("random.")) {
            assert!(
                table.iter().any(|(tb, tk, _)| tb == name && tk == key),
                "{name}: {key} is not in the table"
            );
        }
    }
}

#[test]
fn keys_and_text_forms() {
    let v = block("keys");
    for (name, kind, hrp_public, hrp_secret) in [
        (
            "practice",
            KeyKind::Practice,
            "cdpractice",
            "caduceus-practice-secret-key-",
        ),
        (
            "staff",
            KeyKind::Staff,
            "cdstaff",
            "caduceus-staff-secret-key-",
        ),
        (
            "subject",
            KeyKind::SubjectCategory,
            "cdsubject",
            "caduceus-subject-secret-key-",
        ),
    ] {
        let secret = v.h32(&format!("{name}.secret"));
        let public = v.h32(&format!("{name}.public"));
        let id = v.hex(&format!("{name}.key_id"));
        let public_text = v.str(&format!("{name}.public_text"));
        let secret_text = v.str(&format!("{name}.secret_text"));

        // Through the API.
        let sk = PrivateKey::from_bytes(kind, secret).unwrap();
        assert_eq!(sk.public_key().as_bytes(), &public);
        assert_eq!(sk.key_id().as_bytes().as_slice(), id);
        assert_eq!(sk.public_key().to_string(), public_text);
        assert_eq!(*sk.to_secret_string(), secret_text);
        let parsed: PublicKey = public_text.parse().unwrap();
        assert_eq!(parsed, sk.public_key());
        assert_eq!(parsed.kind(), kind);
        let back = PrivateKey::from_secret_str(&secret_text).unwrap();
        assert_eq!(back.secret_bytes(), &secret, "secrets are kept unclamped");
        assert_eq!(back.kind(), kind);
        assert_eq!(
            KeyId::of(&public).to_string().parse::<KeyId>().unwrap(),
            sk.key_id()
        );

        // From the specification: X25519 base-point multiplication, the
        // key id rule of 4.2, Bech32 of 4.3.
        assert_eq!(suite::x25519_public(&secret), public);
        assert_eq!(key_id(&public).as_slice(), id);
        let hrp = bech32::Hrp::parse(hrp_public).unwrap();
        assert_eq!(
            bech32::encode_lower::<bech32::Bech32>(hrp, &public).unwrap(),
            public_text
        );
        let hrp = bech32::Hrp::parse(hrp_secret).unwrap();
        assert_eq!(
            bech32::encode_upper::<bech32::Bech32>(hrp, &secret).unwrap(),
            secret_text
        );
        assert!(public_text.len() <= 90 && secret_text.len() <= 90);
    }
    v.assert_all_used();
}

#[test]
fn keyring_record() {
    let v = block("keyring-record");
    let (practice, staff, subject) = test_keys();
    let subj = v.str("subject");
    let cat = v.str("category");
    let created = v.int("created_at");
    let secret = v.h32("random.subject_secret");
    let ikm0 = v.h32("random.ikmE.0");
    let ikm1 = v.h32("random.ikmE.1");
    let recipients = [v.h32("recipient.0"), v.h32("recipient.1")];
    assert_eq!(&recipients[0], practice.public_key().as_bytes());
    assert_eq!(&recipients[1], staff.public_key().as_bytes());
    let record_hex = v.hex("record");

    // Through the API.
    let mut rng = FixedBytesRng::new([secret, ikm0, ikm1].concat());
    let record = KeyringRecord::create(
        &subj,
        &cat,
        &[practice.public_key(), staff.public_key()],
        created,
        &mut rng,
    )
    .unwrap();
    assert_eq!(rng.consumed(), 96);
    assert_eq!(record.to_bytes(), record_hex);
    assert_eq!(KeyringRecord::from_bytes(&record_hex).unwrap(), record);
    assert_eq!(record.public_key().as_bytes(), &v.h32("public_key"));
    assert_eq!(record.public_key(), subject.public_key());
    for identity in [&practice, &staff] {
        let unwrapped = record.unwrap(identity).unwrap();
        assert_eq!(unwrapped.secret_bytes(), &secret);
    }
    let at = v.int("shredded_at");
    let tombstone = v.hex("tombstone");
    assert_eq!(record.shred(at).to_bytes(), tombstone);
    let parsed = KeyringRecord::from_bytes(&tombstone).unwrap();
    assert_eq!(parsed.unwrap(&staff), Err(KeyError::KeyShredded));

    // From the specification (section 6).
    let public = suite::x25519_public(&secret);
    let mut context = Vec::new();
    mp::array(&mut context, 4);
    mp::str(&mut context, &subj);
    mp::str(&mut context, &cat);
    mp::bin(&mut context, &public);
    mp::int(&mut context, created);
    assert_eq!(v.hex("wrap_context"), context);
    let context_hash = suite::sha256(&[&context]);
    assert_eq!(v.hex("wrap_context_hash"), context_hash);
    let mut wraps = Vec::new();
    for (i, (pk, ikm)) in recipients.iter().zip([ikm0, ikm1]).enumerate() {
        let kid = key_id(pk);
        let info = [b"caduceus/v1 keyring wrap".as_slice(), &context_hash, &kid].concat();
        assert_eq!(info.len(), 72);
        let (enc, wrapped) = spec_hpke(pk, &info, &secret, &ikm);
        let (ske, _) = suite::hpke_derive_keypair(&ikm);
        assert_clamped(&ske);
        assert_eq!(v.hex(&format!("wrap.{i}.key_id")), kid);
        assert_eq!(v.hex(&format!("wrap.{i}.info")), info);
        assert_eq!(v.hex(&format!("wrap.{i}.skE")), *ske);
        assert_eq!(v.hex(&format!("wrap.{i}.enc")), enc);
        assert_eq!(v.hex(&format!("wrap.{i}.wrapped")), wrapped);
        wraps.push((kid, enc, wrapped));
    }
    let body = |shredded_at: Option<i64>, wraps: &[([u8; 16], [u8; 32], Vec<u8>)]| {
        let mut b = Vec::new();
        mp::array(&mut b, 6);
        mp::str(&mut b, &subj);
        mp::str(&mut b, &cat);
        mp::bin(&mut b, &public);
        mp::int(&mut b, created);
        match shredded_at {
            None => mp::nil(&mut b),
            Some(t) => mp::int(&mut b, t),
        }
        mp::array(&mut b, wraps.len());
        for (kid, enc, wrapped) in wraps {
            mp::array(&mut b, 3);
            mp::bin(&mut b, kid);
            mp::bin(&mut b, enc);
            mp::bin(&mut b, wrapped);
        }
        [spec_prefix(b"CDKR", &b), b].concat()
    };
    assert_eq!(body(None, &wraps), record_hex);
    assert_eq!(body(Some(at), &[]), tombstone);
    v.assert_all_used();
}

#[test]
fn message_envelope() {
    let v = block("message-envelope");
    let (_, staff, subject) = test_keys();
    let labels = v.labels();
    let plaintext = v.str("plaintext");
    let recipient = v.h32("recipient.0");
    assert_eq!(&recipient, subject.public_key().as_bytes());
    let envelope_id = v.h16("random.envelope_id");
    let data_key = v.h32("random.data_key");
    let ikm = v.h32("random.ikmE.0");
    let envelope_hex = v.hex("envelope");

    // Through the API.
    let mut rng = FixedBytesRng::new([&envelope_id[..], &data_key, &ikm].concat());
    let sealed = envelope::seal(
        &[subject.public_key()],
        &labels,
        plaintext.as_bytes(),
        &mut rng,
    )
    .unwrap();
    assert_eq!(rng.consumed(), 80);
    assert_eq!(sealed, envelope_hex);
    let opened = envelope::open(&envelope_hex, &subject).unwrap();
    assert_eq!(opened.plaintext, plaintext.as_bytes());
    assert_eq!(opened.header.labels, labels);
    assert_eq!(opened.header.envelope_id, envelope_id);
    // The full open path: staff key -> keyring record -> subject key -> data.
    let record = KeyringRecord::from_bytes(&block("keyring-record").hex("record")).unwrap();
    let opened = envelope::open_with_keyring(&envelope_hex, &record, &staff).unwrap();
    assert_eq!(opened.plaintext, plaintext.as_bytes());
    assert_eq!(
        envelope::open(&envelope_hex, &staff).unwrap_err(),
        EnvelopeError::NoAccess
    );

    // From the specification (section 5).
    let spec = spec_seal(
        &envelope_id,
        &data_key,
        &labels,
        None,
        &[recipient],
        &[ikm],
        plaintext.as_bytes(),
    );
    check_stanza(&v, 0, &spec.stanzas[0]);
    assert_eq!(v.hex("mac_key"), spec.mac_key);
    assert_eq!(v.hex("payload_key"), spec.payload_key);
    assert_eq!(v.hex("header_prefix"), spec.prefix);
    assert_eq!(v.hex("header_body"), spec.body);
    assert_eq!(v.hex("header_mac"), spec.mac);
    assert_eq!(v.hex("payload"), spec.payload);
    assert_eq!(spec.envelope, envelope_hex);
    v.assert_all_used();
}

#[test]
fn rewrap() {
    let v = block("rewrap");
    let m = block("message-envelope");
    let (_, staff, subject) = test_keys();
    let identity = PrivateKey::from_bytes(KeyKind::SubjectCategory, v.h32("identity")).unwrap();
    assert_eq!(identity, subject);
    let add = v.h32("add.0");
    assert_eq!(&add, staff.public_key().as_bytes());
    let ikm = v.h32("random.ikmE.0");
    let original = m.hex("envelope");
    let envelope_hex = v.hex("envelope");

    // Through the API.
    let mut rng = FixedBytesRng::new(ikm.to_vec());
    let rewrapped =
        envelope::rewrap(&original, &identity, &[staff.public_key()], &[], &mut rng).unwrap();
    assert_eq!(rng.consumed(), 32);
    assert_eq!(rewrapped, envelope_hex);
    let old_len = envelope::inspect(&original).unwrap().header_len;
    let new_len = envelope::inspect(&rewrapped).unwrap().header_len;
    assert_eq!(
        rewrapped[new_len..],
        original[old_len..],
        "payload unchanged"
    );
    let plaintext = m.str("plaintext");
    assert_eq!(
        envelope::open(&rewrapped, &staff).unwrap().plaintext,
        plaintext.as_bytes()
    );

    // From the specification (section 5.10): stanza 0 as before, stanza 1
    // new, the same mac key, a new MAC, the old payload.
    let envelope_id = m.h16("random.envelope_id");
    let data_key = m.h32("random.data_key");
    let spec = spec_seal(
        &envelope_id,
        &data_key,
        &m.labels(),
        None,
        &[m.h32("recipient.0"), add],
        &[m.h32("random.ikmE.0"), ikm],
        plaintext.as_bytes(),
    );
    check_stanza(&v, 1, &spec.stanzas[1]);
    assert_eq!(v.hex("header_prefix"), spec.prefix);
    assert_eq!(v.hex("header_body"), spec.body);
    assert_eq!(v.hex("header_mac"), spec.mac);
    assert_eq!(spec.envelope, envelope_hex);
    v.assert_all_used();
}

#[test]
fn envelope_set() {
    let v = block("envelope-set");
    let (practice, _, subject) = test_keys();
    let labels = v.labels();
    let parts = [v.str("part.1.plaintext"), v.str("part.2.plaintext")];
    let recipients = [v.h32("recipient.0"), v.h32("recipient.1")];
    assert_eq!(&recipients[0], subject.public_key().as_bytes());
    assert_eq!(&recipients[1], practice.public_key().as_bytes());
    let set_id = v.h16("random.set_id");
    let mut random = set_id.to_vec();
    let mut expected = Vec::new();
    for p in 1..=2 {
        let id = v.h16(&format!("part.{p}.random.envelope_id"));
        let dk = v.h32(&format!("part.{p}.random.data_key"));
        let ikms = [
            v.h32(&format!("part.{p}.random.ikmE.0")),
            v.h32(&format!("part.{p}.random.ikmE.1")),
        ];
        random.extend_from_slice(&id);
        random.extend_from_slice(&dk);
        random.extend(ikms.concat());
        // From the specification (sections 5 and 5.9).
        let spec = spec_seal(
            &id,
            &dk,
            &labels,
            Some((set_id, p, 2)),
            &recipients,
            &ikms,
            parts[p as usize - 1].as_bytes(),
        );
        let env = v.hex(&format!("part.{p}.envelope"));
        assert_eq!(spec.envelope, env);
        assert_eq!(v.hex(&format!("part.{p}.header_mac")), spec.mac);
        expected.push(env);
    }

    // Through the API.
    let mut rng = FixedBytesRng::new(random.clone());
    let sealed = envelope::seal_parts(
        &[subject.public_key(), practice.public_key()],
        &labels,
        &[parts[0].as_bytes(), parts[1].as_bytes()],
        &mut rng,
    )
    .unwrap();
    assert_eq!(rng.consumed(), random.len());
    assert_eq!(sealed, expected);
    let mut set = PartSet::new();
    set.add(envelope::open(&expected[1], &practice).unwrap())
        .unwrap();
    assert_eq!(set.missing(), vec![1]);
    set.add(envelope::open(&expected[0], &subject).unwrap())
        .unwrap();
    assert_eq!(set.assemble().unwrap(), parts.concat().as_bytes());
    v.assert_all_used();
}

#[test]
fn media_envelope() {
    let v = block("media-envelope");
    let (_, _, subject) = test_keys();
    let labels = v.labels();
    let len = v.int("plaintext_len") as usize;
    let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    assert_eq!(v.hex("plaintext_sha256"), suite::sha256(&[&plaintext]));
    let recipient = v.h32("recipient.0");
    let envelope_id = v.h16("random.envelope_id");
    let data_key = v.h32("random.data_key");
    let ikm = v.h32("random.ikmE.0");

    // Through the API.
    let mut rng = FixedBytesRng::new([&envelope_id[..], &data_key, &ikm].concat());
    let sealed = envelope::seal(&[subject.public_key()], &labels, &plaintext, &mut rng).unwrap();
    let check = |sealed: &[u8]| {
        let h = v.int("header_len") as usize;
        assert_eq!(sealed[..h], v.hex("header"));
        let seg0 = &sealed[h..h + 65552];
        assert_eq!(v.hex("segment.0.sha256"), suite::sha256(&[seg0]));
        assert_eq!(v.hex("segment.0.tag"), seg0[65536..]);
        assert_eq!(sealed[h + 65552..], v.hex("segment.1"));
        assert_eq!(sealed.len() as i64, v.int("envelope_len"));
        assert_eq!(v.hex("envelope_sha256"), suite::sha256(&[sealed]));
    };
    check(&sealed);
    assert_eq!(
        envelope::open(&sealed, &subject).unwrap().plaintext,
        plaintext
    );
    // Random access (5.7).
    assert_eq!(
        envelope::open_segment(&sealed, &subject, 1).unwrap(),
        plaintext[65536..]
    );
    assert_eq!(
        envelope::open_segment(&sealed, &subject, 0).unwrap(),
        plaintext[..65536]
    );

    // From the specification.
    let spec = spec_seal(
        &envelope_id,
        &data_key,
        &labels,
        None,
        &[recipient],
        &[ikm],
        &plaintext,
    );
    check(&spec.envelope);
    v.assert_all_used();
}

#[test]
fn empty_envelope() {
    let v = block("empty-envelope");
    let (_, _, subject) = test_keys();
    let labels = v.labels();
    assert_eq!(v.str("plaintext"), "");
    let recipient = v.h32("recipient.0");
    let envelope_id = v.h16("random.envelope_id");
    let data_key = v.h32("random.data_key");
    let ikm = v.h32("random.ikmE.0");
    let envelope_hex = v.hex("envelope");

    let mut rng = FixedBytesRng::new([&envelope_id[..], &data_key, &ikm].concat());
    let sealed = envelope::seal(&[subject.public_key()], &labels, b"", &mut rng).unwrap();
    assert_eq!(sealed, envelope_hex);
    assert!(
        envelope::open(&sealed, &subject)
            .unwrap()
            .plaintext
            .is_empty()
    );

    let spec = spec_seal(
        &envelope_id,
        &data_key,
        &labels,
        None,
        &[recipient],
        &[ikm],
        b"",
    );
    assert_eq!(spec.payload.len(), 16, "one final segment: a bare tag");
    check_stanza(&v, 0, &spec.stanzas[0]);
    assert_eq!(v.hex("mac_key"), spec.mac_key);
    assert_eq!(v.hex("payload_key"), spec.payload_key);
    assert_eq!(v.hex("header_prefix"), spec.prefix);
    assert_eq!(v.hex("header_body"), spec.body);
    assert_eq!(v.hex("header_mac"), spec.mac);
    assert_eq!(v.hex("payload"), spec.payload);
    assert_eq!(spec.envelope, envelope_hex);
    v.assert_all_used();
}

// ---------------------------------------------------------------------------
// The parsing rules and error tables of the specification, on the vectors
// ---------------------------------------------------------------------------

/// Replace the body of an envelope (or record) and fix its length field.
fn with_body(bytes: &[u8], body: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = bytes[..6].to_vec();
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(rest);
    out
}

#[test]
fn key_text_rules() {
    let v = block("keys");
    let public_text = v.str("staff.public_text");
    let secret_text = v.str("staff.secret_text");
    // Either case, not mixed.
    assert!(public_text.to_uppercase().parse::<PublicKey>().is_ok());
    assert!(PrivateKey::from_secret_str(&secret_text.to_lowercase()).is_ok());
    let mixed = format!(
        "{}{}",
        &public_text[..10].to_uppercase(),
        &public_text[10..]
    );
    assert!(matches!(
        mixed.parse::<PublicKey>(),
        Err(KeyError::InvalidKeyText(_))
    ));
    // Whitespace around the text is trimmed: the Unicode White_Space
    // characters (4.3), such as tab, CR, LF, NO-BREAK SPACE and
    // IDEOGRAPHIC SPACE; not ZERO WIDTH SPACE, which is not White_Space.
    assert!(format!("  {public_text}\n").parse::<PublicKey>().is_ok());
    assert!(
        format!("\t\u{a0}{public_text}\u{3000}\r\n")
            .parse::<PublicKey>()
            .is_ok()
    );
    assert!(matches!(
        format!("\u{200b}{public_text}").parse::<PublicKey>(),
        Err(KeyError::InvalidKeyText(_))
    ));
    // A canonical u-coordinate is required: the same staff key with bit 255
    // set is refused (it is the same X25519 key under another key id).
    let mut high = v.h32("staff.public");
    high[31] |= 0x80;
    assert_ne!(key_id(&high), key_id(&v.h32("staff.public")));
    let high_text =
        bech32::encode_lower::<bech32::Bech32>(bech32::Hrp::parse("cdstaff").unwrap(), &high)
            .unwrap();
    assert_eq!(
        high_text.parse::<PublicKey>(),
        Err(KeyError::NonCanonicalPublicKey)
    );
    // Wrong class of key.
    assert!(matches!(
        secret_text.parse::<PublicKey>(),
        Err(KeyError::WrongKeyKind { .. })
    ));
    assert!(matches!(
        PrivateKey::from_secret_str(&public_text),
        Err(KeyError::WrongKeyKind { .. })
    ));
    // Unknown prefix, with a valid checksum.
    let other = bech32::encode_lower::<bech32::Bech32>(
        bech32::Hrp::parse("age").unwrap(),
        &v.h32("staff.public"),
    )
    .unwrap();
    assert!(matches!(
        other.parse::<PublicKey>(),
        Err(KeyError::InvalidKeyText(_))
    ));
    // Non-zero padding bits, with a valid checksum: a second text for the
    // same key bytes, which must be refused.
    use bech32::primitives::iter::{ByteIterExt, Fe32IterExt};
    let hrp = bech32::Hrp::parse("cdstaff").unwrap();
    let mut fes: Vec<bech32::Fe32> = v.h32("staff.public").into_iter().bytes_to_fes().collect();
    assert_eq!(fes.len(), 52);
    let last = fes.len() - 1;
    fes[last] = bech32::Fe32::try_from(fes[last].to_u8() | 1).unwrap();
    let padded: String = fes
        .into_iter()
        .with_checksum::<bech32::Bech32>(&hrp)
        .chars()
        .collect();
    assert_ne!(padded, public_text);
    assert!(matches!(
        padded.parse::<PublicKey>(),
        Err(KeyError::InvalidKeyText(_))
    ));
    // 31 bytes.
    let short = bech32::encode_lower::<bech32::Bech32>(hrp, &[7u8; 31]).unwrap();
    assert!(matches!(
        short.parse::<PublicKey>(),
        Err(KeyError::InvalidKeyText(_))
    ));
    // Key id text: 32 hex digits, either case, nothing else.
    let id = v.raw("staff.key_id").to_owned();
    assert!(id.to_uppercase().parse::<KeyId>().is_ok());
    assert!(format!("+{}", &id[1..]).parse::<KeyId>().is_err());
    assert!(format!("0x{}", &id[2..]).parse::<KeyId>().is_err());
    // Identity files.
    let file = format!("# comment\r\n\r\n  {secret_text}  \r\n");
    assert_eq!(PrivateKey::parse_identities(&file).unwrap().len(), 1);
    // Comment lines are recognised after trimming; a line of only
    // whitespace is empty.
    let file = format!("\t # indented comment\n\u{a0}\n{secret_text}\n");
    assert_eq!(PrivateKey::parse_identities(&file).unwrap().len(), 1);
    assert!(PrivateKey::parse_identities("# nothing\n").is_err());
    assert!(PrivateKey::parse_identities(&format!("{secret_text}\nnonsense\n")).is_err());
}

#[test]
fn envelope_check_order_and_errors() {
    let m = block("message-envelope");
    let (_, _, subject) = test_keys();
    let env = m.hex("envelope");
    let body = m.hex("header_body");
    let mac = m.hex("header_mac");
    let payload = m.hex("payload");
    let rest = [mac.as_slice(), &payload].concat();
    let open = |b: &[u8]| envelope::open(b, &subject).unwrap_err();
    let set = |i: usize, x: u8| {
        let mut e = env.clone();
        e[i] = x;
        e
    };

    assert_eq!(open(&env[..9]), EnvelopeError::Truncated);
    assert_eq!(open(&set(0, b'X')), EnvelopeError::BadMagic);
    // Step 3: a version byte in front of a valid version-1 header is damage.
    for v in [0, 2, 0x81] {
        assert!(
            matches!(open(&set(4, v)), EnvelopeError::MalformedHeader(m) if m.contains("version byte is damaged")),
            "version {v}"
        );
    }
    assert_eq!(open(&set(5, 2)), EnvelopeError::UnsupportedSuite(2));
    let mut big = env.clone();
    big[6..10].copy_from_slice(&16385u32.to_be_bytes());
    assert_eq!(open(&big), EnvelopeError::HeaderTooLarge);
    // Step 5: a header length of 0, with or without bytes after the prefix.
    let mut zero = env.clone();
    zero[6..10].copy_from_slice(&0u32.to_be_bytes());
    for bytes in [&zero[..], &zero[..10], &zero[..10 + 32]] {
        assert_eq!(
            open(bytes),
            EnvelopeError::MalformedHeader("the header length is 0; the envelope is damaged")
        );
    }
    assert_eq!(open(&env[..10 + body.len() + 31]), EnvelopeError::Truncated);

    // Non-canonical encodings of the same header (section 2): created_at
    // (uint 32 `ce`) as int 64 `d3`, and the first label as str 8.
    // The body ends: created_at (5), nil (1), [ (1), [ (1), 18 + 34 + 50.
    let created = &body[body.len() - 110..];
    assert_eq!(created[0], 0xce, "created_at is a uint 32");
    let mut as_i64 = body[..body.len() - 110].to_vec();
    as_i64.extend_from_slice(&[0xd3, 0, 0, 0, 0]);
    as_i64.extend_from_slice(&created[1..]);
    assert_eq!(
        envelope::inspect(&with_body(&env, &as_i64, &rest)).unwrap_err(),
        EnvelopeError::NonCanonicalHeader
    );
    let subject_label = m.str("label.subject");
    let pos = body
        .windows(subject_label.len())
        .position(|w| w == subject_label.as_bytes())
        .unwrap();
    assert_eq!(body[pos - 1], 0xa0 | subject_label.len() as u8);
    let str8 = [
        &body[..pos - 1],
        &[0xd9, subject_label.len() as u8],
        &body[pos..],
    ]
    .concat();
    assert_eq!(
        envelope::inspect(&with_body(&env, &str8, &rest)).unwrap_err(),
        EnvelopeError::NonCanonicalHeader
    );
    // A byte inside the body after the array: step 7, NonCanonicalHeader.
    let trailing = [body.as_slice(), &[0xc0]].concat();
    assert_eq!(
        envelope::inspect(&with_body(&env, &trailing, &rest)).unwrap_err(),
        EnvelopeError::NonCanonicalHeader
    );
    // A label with a trailing space, canonically encoded: step 9.
    let spaced = [
        &body[..pos - 1],
        &[0xa0 | (subject_label.len() as u8 + 1)],
        subject_label.as_bytes(),
        b" ",
        &body[pos + subject_label.len()..],
    ]
    .concat();
    assert_eq!(
        envelope::inspect(&with_body(&env, &spaced, &rest)).unwrap_err(),
        EnvelopeError::InvalidLabel("subject pseudonym")
    );
    // Both: a trailing byte after a body whose label is invalid. Step 7
    // comes first.
    let both = [spaced.as_slice(), &[0xc0]].concat();
    assert_eq!(
        envelope::inspect(&with_body(&env, &both, &rest)).unwrap_err(),
        EnvelopeError::NonCanonicalHeader
    );
    // A stanza `enc` with bit 255 set is not checked at parsing; it enters
    // the HPKE key schedule as bytes, so OpenBase fails: step 14.
    let enc = m.hex("stanza.0.enc");
    let enc_at = body.windows(32).position(|w| w == enc.as_slice()).unwrap();
    let mut high = body.clone();
    high[enc_at + 31] |= 0x80;
    assert_eq!(
        open(&with_body(&env, &high, &rest)),
        EnvelopeError::StanzaCorrupted
    );
    // Not a recipient: step 13.
    let (practice, _, _) = test_keys();
    assert_eq!(
        envelope::open(&env, &practice).unwrap_err(),
        EnvelopeError::NoAccess
    );
    // A changed label with the old MAC: step 15.
    let mut relabelled = body.clone();
    relabelled[pos] = b'q';
    assert_eq!(
        open(&with_body(&env, &relabelled, &rest)),
        EnvelopeError::HeaderMacMismatch
    );
    // Payload: modified, appended to a short final segment, too short.
    let n = env.len();
    assert_eq!(
        open(&set(n - 1, env[n - 1] ^ 1)),
        EnvelopeError::SegmentCorrupted { index: 0 }
    );
    assert_eq!(
        open(&[env.as_slice(), &[0]].concat()),
        EnvelopeError::SegmentCorrupted { index: 0 }
    );
    let header_len = n - payload.len();
    assert_eq!(open(&env[..header_len + 15]), EnvelopeError::Truncated);
}

#[test]
fn segment_boundary_rules() {
    let v = block("media-envelope");
    let (_, _, subject) = test_keys();
    let plaintext: Vec<u8> = (0..65_537usize).map(|i| (i % 251) as u8).collect();
    let mut rng = FixedBytesRng::new(
        [
            &v.h16("random.envelope_id")[..],
            &v.h32("random.data_key"),
            &v.h32("random.ikmE.0"),
        ]
        .concat(),
    );
    let sealed =
        envelope::seal(&[subject.public_key()], &v.labels(), &plaintext, &mut rng).unwrap();
    let h = v.int("header_len") as usize;
    // Cut at the segment boundary: segment 0 is not flagged last.
    assert_eq!(
        envelope::open(&sealed[..h + 65552], &subject).unwrap_err(),
        EnvelopeError::Truncated
    );
    // Segments swapped.
    let swapped = [&sealed[..h], &sealed[h + 65552..], &sealed[h..h + 65552]].concat();
    assert!(matches!(
        envelope::open(&swapped, &subject).unwrap_err(),
        EnvelopeError::SegmentCorrupted { .. }
    ));

    // A plaintext of exactly one full segment: one segment, flagged last.
    let mut rng = FixedBytesRng::new(vec![9; 80]);
    let full = envelope::seal(
        &[subject.public_key()],
        &v.labels(),
        &plaintext[..65536],
        &mut rng,
    )
    .unwrap();
    assert_eq!(full.len(), h + 65552);
    assert_eq!(
        envelope::open(&full, &subject).unwrap().plaintext,
        plaintext[..65536]
    );
    // Any 16 bytes after it form an "empty final segment": invalid.
    let extended = [full.as_slice(), &[0u8; 16]].concat();
    assert_eq!(
        envelope::open(&extended, &subject).unwrap_err(),
        EnvelopeError::TrailingData
    );
    // More bytes after a full final segment: that segment opens only as
    // final, so the stream was extended. With 1 to 15 bytes appended the
    // new "final segment" is also shorter than a tag, but segments are
    // checked in order and segment 0 fails first (5.8, step 17).
    for extra in [1usize, 15, 17, 40] {
        let extended = [full.as_slice(), &vec![0u8; extra]].concat();
        assert_eq!(
            envelope::open(&extended, &subject).unwrap_err(),
            EnvelopeError::TrailingData,
            "{extra} bytes appended"
        );
        let mut reader = envelope::OpenReader::new(&extended[..], &subject).unwrap();
        let err = std::io::Read::read_to_end(&mut reader, &mut Vec::new()).unwrap_err();
        let err = err
            .get_ref()
            .unwrap()
            .downcast_ref::<EnvelopeError>()
            .unwrap();
        assert_eq!(
            err,
            &EnvelopeError::TrailingData,
            "{extra} bytes, streaming"
        );
    }
    // Random access to the appended stub alone sees only a short final
    // segment.
    let extended = [full.as_slice(), &[0u8; 1]].concat();
    assert_eq!(
        envelope::open_segment(&extended, &subject, 1).unwrap_err(),
        EnvelopeError::Truncated
    );
}

#[test]
fn keyring_record_check_order_and_errors() {
    let v = block("keyring-record");
    let (_, staff, _) = test_keys();
    let rec = v.hex("record");
    let tomb = v.hex("tombstone");
    let set = |i: usize, x: u8| {
        let mut r = rec.clone();
        r[i] = x;
        r
    };
    let parse = |b: &[u8]| KeyringRecord::from_bytes(b).unwrap_err();
    assert!(matches!(parse(&rec[..9]), KeyError::MalformedRecord(_)));
    assert!(matches!(parse(&set(0, b'X')), KeyError::MalformedRecord(_)));
    // Step 3: a version byte in front of a valid version-1 record is damage;
    // a record of another shape behind version 2 is newer.
    for v in [0, 2, 0x81] {
        assert!(
            matches!(parse(&set(4, v)), KeyError::MalformedRecord(m) if m.contains("version byte is damaged")),
            "version {v}"
        );
    }
    let mut newer = with_body(&rec, &[&[0x97][..], &rec[11..], &[0xc0]].concat(), &[]);
    newer[4] = 2;
    assert_eq!(rec[10], 0x96, "a version-1 record body is an array of 6");
    assert_eq!(parse(&newer), KeyError::UnsupportedVersion(2));
    assert!(
        KeyError::UnsupportedVersion(2)
            .to_string()
            .contains("upgrade Caduceus")
    );
    assert_eq!(parse(&set(5, 2)), KeyError::UnsupportedSuite(2));
    assert!(matches!(
        parse(&[rec.as_slice(), &[0]].concat()),
        KeyError::MalformedRecord(_)
    ));
    assert!(matches!(
        parse(&rec[..rec.len() - 1]),
        KeyError::MalformedRecord(_)
    ));
    // A shredded_at with wraps still present: neither state (step 12).
    let body = &rec[10..];
    let nil = 1 + (1 + v.str("subject").len()) + (1 + v.str("category").len()) + 34 + 5;
    assert_eq!(body[nil], 0xc0, "shredded_at is nil");
    let mixed = [&body[..nil], &[0x01], &body[nil + 1..]].concat();
    assert!(matches!(
        parse(&with_body(&rec, &mixed, &[])),
        KeyError::MalformedRecord(_)
    ));
    // An active record with no wraps.
    let tbody = &tomb[10..];
    let empty_active = [&tbody[..tbody.len() - 6], &[0xc0, 0x90]].concat();
    assert_eq!(tbody[tbody.len() - 6], 0xce, "shredded_at is a uint 32");
    assert!(matches!(
        parse(&with_body(&tomb, &empty_active, &[])),
        KeyError::MalformedRecord(_)
    ));
    // A shredded record can no longer be changed (6.3).
    let (practice, _, _) = test_keys();
    let shredded = KeyringRecord::from_bytes(&tomb).unwrap();
    let mut rng = FixedBytesRng::new(vec![1; 32]);
    assert_eq!(
        shredded.revoke_recipient(&staff.key_id()),
        Err(KeyError::AlreadyShredded)
    );
    assert_eq!(
        shredded.add_recipients(&practice, &[staff.public_key()], &mut rng),
        Err(KeyError::KeyShredded)
    );
    assert_eq!(
        shredded.rotate_recipient(&practice, &practice.key_id(), &staff.public_key(), &mut rng),
        Err(KeyError::KeyShredded)
    );
    // A swapped public key: the wrap info no longer matches.
    let record = KeyringRecord::from_bytes(&rec).unwrap();
    let pk_at = body
        .windows(32)
        .position(|w| w == record.public_key().as_bytes())
        .unwrap();
    let other = v.h32("recipient.0");
    let swapped = [&body[..pk_at], &other, &body[pk_at + 32..]].concat();
    let forged = KeyringRecord::from_bytes(&with_body(&rec, &swapped, &[])).unwrap();
    assert_eq!(forged.unwrap(&staff), Err(KeyError::WrapCorrupted));
    // A public key with bit 255 set (the same X25519 key, another key id):
    // step 9.
    let mut high = body.to_vec();
    high[pk_at + 31] |= 0x80;
    assert_eq!(
        parse(&with_body(&rec, &high, &[])),
        KeyError::NonCanonicalPublicKey
    );
}
