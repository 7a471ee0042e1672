//! Prints the test vectors of `docs/FORMAT.md` (section "Test vectors").
//!
//! Every random input is listed in the output and fed to the sealer through
//! [`FixedBytesRng`], so an independent implementation sees exactly which
//! bytes were drawn. Each random input is the first bytes of
//! SHA-256("caduceus format vector: " || name), a nothing-up-my-sleeve choice.
//!
//! `cargo run -p caduceus-core --example gen_format_vectors` prints the
//! blocks; `... -- --update docs/FORMAT.md` rewrites the `vector` blocks of
//! the specification in place. `core/tests/format_vectors.rs` reads the
//! blocks from docs/FORMAT.md and checks every value against the library.

use std::error::Error;

use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, KeyringRecord, PrivateKey};
use caduceus_core::suite;
use caduceus_core::testing::FixedBytesRng;
use serde_bytes::ByteBuf;

type Res<T> = Result<T, Box<dyn Error>>;

/// One value of a vector block.
enum Val {
    Hex(Vec<u8>),
    Str(String),
    Int(i64),
}

/// A named block of `key = value` lines.
struct Block {
    name: &'static str,
    entries: Vec<(String, Val)>,
}

impl Block {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            entries: Vec::new(),
        }
    }
    fn hex(&mut self, key: &str, bytes: &[u8]) {
        self.entries
            .push((key.to_owned(), Val::Hex(bytes.to_vec())));
    }
    fn str(&mut self, key: &str, s: &str) {
        self.entries.push((key.to_owned(), Val::Str(s.to_owned())));
    }
    fn int(&mut self, key: &str, v: i64) {
        self.entries.push((key.to_owned(), Val::Int(v)));
    }
    /// The block in the syntax of docs/FORMAT.md section 9; refuses a
    /// value that the section's typing rule would read as another type.
    fn render(&self) -> Res<String> {
        let mut out = format!("```vector {}\n", self.name);
        for (k, v) in &self.entries {
            let int_name = ["created_at", "shredded_at", "_len"]
                .iter()
                .any(|end| k.ends_with(end));
            if int_name != matches!(v, Val::Int(_)) && !matches!(v, Val::Str(_)) {
                return Err(
                    format!("{}: {k} breaks the typing rule of section 9", self.name).into(),
                );
            }
            match v {
                Val::Str(s) => {
                    if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
                        return Err(format!("{}: {k} is not printable ASCII", self.name).into());
                    }
                    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
                    out.push_str(&format!("{k} = \"{escaped}\"\n"));
                }
                Val::Int(i) => out.push_str(&format!("{k} = {i}\n")),
                Val::Hex(b) if b.len() <= 32 => {
                    out.push_str(&format!("{k} = {}\n", hex(b)));
                }
                Val::Hex(b) => {
                    out.push_str(&format!("{k} =\n"));
                    for chunk in b.chunks(32) {
                        out.push_str(&format!("    {}\n", hex(chunk)));
                    }
                }
            }
        }
        out.push_str("```\n");
        Ok(out)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The fixed "random" input called `name`: the first `len` bytes of
/// SHA-256("caduceus format vector: " || name).
fn fixed(name: &str, len: usize) -> Vec<u8> {
    let d = suite::sha256(&[b"caduceus format vector: ", name.as_bytes()]);
    d[..len].to_vec()
}

fn arr32(v: &[u8]) -> Res<[u8; 32]> {
    Ok(v.try_into()?)
}

type WireStanza = (ByteBuf, ByteBuf, ByteBuf);
type WireBody = (
    ByteBuf,
    (String, String, String, String, i64),
    Option<(ByteBuf, u32, u32)>,
    Vec<WireStanza>,
);
type WireRecord = (String, String, ByteBuf, i64, Option<i64>, Vec<WireStanza>);

fn stanza_info(envelope_id: &[u8], key_id: &[u8]) -> Vec<u8> {
    [
        b"caduceus/v1 envelope stanza".as_slice(),
        envelope_id,
        key_id,
    ]
    .concat()
}

/// Adds the intermediate values and the envelope of one sealed message:
/// the stanzas from `first_stanza` on (whose ephemeral inputs are `ikms`),
/// the derived keys if `data_key` is given, the header and the payload.
fn envelope_entries(
    b: &mut Block,
    sealed: &[u8],
    data_key: Option<&[u8]>,
    first_stanza: usize,
    ikms: &[Vec<u8>],
) -> Res<()> {
    let header = envelope::inspect(sealed)?;
    let body_len = header.header_len - envelope::PREFIX_LEN - suite::MAC_LEN;
    let body = &sealed[envelope::PREFIX_LEN..envelope::PREFIX_LEN + body_len];
    let wire: WireBody = rmp_serde::from_slice(body)?;
    for (i, (stanza, ikm)) in wire.3.iter().zip(ikms).enumerate().skip(first_stanza) {
        let (ske, pke) = suite::hpke_derive_keypair(ikm);
        if pke.as_slice() != stanza.1.as_slice() {
            return Err("enc is not DeriveKeyPair(ikmE)".into());
        }
        b.hex(&format!("stanza.{i}.key_id"), &stanza.0);
        b.hex(
            &format!("stanza.{i}.info"),
            &stanza_info(&header.envelope_id, &stanza.0),
        );
        b.hex(&format!("stanza.{i}.skE"), ske.as_ref());
        b.hex(&format!("stanza.{i}.enc"), &stanza.1);
        b.hex(&format!("stanza.{i}.wrapped"), &stanza.2);
    }
    if let Some(data_key) = data_key {
        let mut mac_key = [0u8; 32];
        let mut payload_key = [0u8; 32];
        suite::hkdf_sha256(
            &header.envelope_id,
            data_key,
            b"caduceus/v1 header mac",
            &mut mac_key,
        )?;
        suite::hkdf_sha256(
            &header.envelope_id,
            data_key,
            b"caduceus/v1 payload",
            &mut payload_key,
        )?;
        b.hex("mac_key", &mac_key);
        b.hex("payload_key", &payload_key);
    }
    b.hex("header_prefix", &sealed[..envelope::PREFIX_LEN]);
    b.hex("header_body", body);
    b.hex(
        "header_mac",
        &sealed[header.header_len - suite::MAC_LEN..header.header_len],
    );
    if data_key.is_some() {
        b.hex("payload", &sealed[header.header_len..]);
    }
    b.hex("envelope", sealed);
    Ok(())
}

fn main() -> Res<()> {
    let mut blocks = Vec::new();

    // (a) Keys and their text forms.
    let practice =
        PrivateKey::from_bytes(KeyKind::Practice, arr32(&fixed("practice secret", 32))?)?;
    let staff = PrivateKey::from_bytes(KeyKind::Staff, arr32(&fixed("staff secret", 32))?)?;
    let subject = PrivateKey::from_bytes(
        KeyKind::SubjectCategory,
        arr32(&fixed("subject secret", 32))?,
    )?;
    let mut b = Block::new("keys");
    for (name, key) in [
        ("practice", &practice),
        ("staff", &staff),
        ("subject", &subject),
    ] {
        b.hex(&format!("{name}.secret"), key.secret_bytes());
        b.hex(&format!("{name}.public"), key.public_key().as_bytes());
        b.hex(&format!("{name}.key_id"), key.key_id().as_bytes());
        b.str(
            &format!("{name}.public_text"),
            &key.public_key().to_string(),
        );
        b.str(&format!("{name}.secret_text"), &key.to_secret_string());
    }
    blocks.push(b);

    // (b) The keyring record of (subject, category), wrapped to the practice
    // and the staff key. The subject-category secret is the first random input.
    let (subj, cat, created) = ("p-4f1c2a", "chat-messages", 1_767_225_600_i64);
    let rnd = [
        fixed("subject secret", 32),
        fixed("keyring ikmE practice", 32),
        fixed("keyring ikmE staff", 32),
    ];
    let mut rng = FixedBytesRng::new(rnd.concat());
    let record = KeyringRecord::create(
        subj,
        cat,
        &[practice.public_key(), staff.public_key()],
        created,
        &mut rng,
    )?;
    if rng.consumed() != 96 {
        return Err("keyring create drew an unexpected number of bytes".into());
    }
    let mut b = Block::new("keyring-record");
    b.str("subject", subj);
    b.str("category", cat);
    b.int("created_at", created);
    b.hex("random.subject_secret", &rnd[0]);
    b.hex("random.ikmE.0", &rnd[1]);
    b.hex("random.ikmE.1", &rnd[2]);
    b.hex("recipient.0", practice.public_key().as_bytes());
    b.hex("recipient.1", staff.public_key().as_bytes());
    b.hex("public_key", record.public_key().as_bytes());
    let context = rmp_serde::to_vec(&(
        subj,
        cat,
        ByteBuf::from(record.public_key().as_bytes().to_vec()),
        created,
    ))?;
    let context_hash = suite::sha256(&[&context]);
    b.hex("wrap_context", &context);
    b.hex("wrap_context_hash", &context_hash);
    let bytes = record.to_bytes();
    let wire: WireRecord = rmp_serde::from_slice(&bytes[10..])?;
    for (i, (w, ikm)) in wire.5.iter().zip(&rnd[1..]).enumerate() {
        let info = [
            b"caduceus/v1 keyring wrap".as_slice(),
            &context_hash,
            w.0.as_slice(),
        ]
        .concat();
        let (ske, _) = suite::hpke_derive_keypair(ikm);
        b.hex(&format!("wrap.{i}.key_id"), &w.0);
        b.hex(&format!("wrap.{i}.info"), &info);
        b.hex(&format!("wrap.{i}.skE"), ske.as_ref());
        b.hex(&format!("wrap.{i}.enc"), &w.1);
        b.hex(&format!("wrap.{i}.wrapped"), &w.2);
    }
    b.hex("record", &bytes);
    b.int("shredded_at", 1_893_456_000);
    b.hex("tombstone", &record.shred(1_893_456_000).to_bytes());
    blocks.push(b);

    // (c) A message sealed to the subject-category key.
    let labels = Labels::new(
        subj,
        cat,
        "treatment-communication",
        "text/plain; charset=utf-8",
        1_767_225_600,
    )?;
    let plaintext = "Guten Tag, seit gestern habe ich Zahnschmerzen unten links.";
    let rnd = [
        fixed("message envelope id", 16),
        fixed("message data key", 32),
        fixed("message ikmE", 32),
    ];
    let mut rng = FixedBytesRng::new(rnd.concat());
    let message = envelope::seal(
        &[subject.public_key()],
        &labels,
        plaintext.as_bytes(),
        &mut rng,
    )?;
    if rng.consumed() != 80 {
        return Err("seal drew an unexpected number of bytes".into());
    }
    let mut b = Block::new("message-envelope");
    label_entries(&mut b, &labels);
    b.str("plaintext", plaintext);
    b.hex("recipient.0", subject.public_key().as_bytes());
    b.hex("random.envelope_id", &rnd[0]);
    b.hex("random.data_key", &rnd[1]);
    b.hex("random.ikmE.0", &rnd[2]);
    envelope_entries(&mut b, &message, Some(&rnd[1]), 0, &rnd[2..])?;
    blocks.push(b);

    // (d) Rewrap of (c): the subject-category key adds the staff key.
    let ikm = fixed("rewrap ikmE", 32);
    let mut rng = FixedBytesRng::new(ikm.clone());
    let rewrapped = envelope::rewrap(&message, &subject, &[staff.public_key()], &[], &mut rng)?;
    let mut b = Block::new("rewrap");
    b.hex("identity", subject.secret_bytes());
    b.hex("add.0", staff.public_key().as_bytes());
    b.hex("random.ikmE.0", &ikm);
    let ikms = [fixed("message ikmE", 32), ikm];
    envelope_entries(&mut b, &rewrapped, None, 1, &ikms)?;
    blocks.push(b);

    // (e) An envelope set of two parts, sealed to the subject-category and
    // the practice key.
    let labels = Labels::new(
        subj,
        cat,
        "treatment-communication",
        "text/plain; charset=utf-8",
        1_767_225_660,
    )?;
    let parts = [
        "Teil 1: Die Schwellung ist seit heute frueh ",
        "Teil 2: etwas kleiner geworden.",
    ];
    let names = [
        "set id",
        "set 1 envelope id",
        "set 1 data key",
        "set 1 ikmE subject",
        "set 1 ikmE practice",
        "set 2 envelope id",
        "set 2 data key",
        "set 2 ikmE subject",
        "set 2 ikmE practice",
    ];
    let rnd: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fixed(n, if n.ends_with(" id") { 16 } else { 32 }))
        .collect();
    let mut rng = FixedBytesRng::new(rnd.concat());
    let sealed = envelope::seal_parts(
        &[subject.public_key(), practice.public_key()],
        &labels,
        &[parts[0].as_bytes(), parts[1].as_bytes()],
        &mut rng,
    )?;
    if rng.consumed() != rnd.iter().map(Vec::len).sum::<usize>() {
        return Err("seal_parts drew an unexpected number of bytes".into());
    }
    let mut b = Block::new("envelope-set");
    label_entries(&mut b, &labels);
    b.str("part.1.plaintext", parts[0]);
    b.str("part.2.plaintext", parts[1]);
    b.hex("recipient.0", subject.public_key().as_bytes());
    b.hex("recipient.1", practice.public_key().as_bytes());
    b.hex("random.set_id", &rnd[0]);
    for (p, env) in sealed.iter().enumerate() {
        let r = &rnd[1 + 4 * p..5 + 4 * p];
        let pre = format!("part.{}.", p + 1);
        b.hex(&format!("{pre}random.envelope_id"), &r[0]);
        b.hex(&format!("{pre}random.data_key"), &r[1]);
        b.hex(&format!("{pre}random.ikmE.0"), &r[2]);
        b.hex(&format!("{pre}random.ikmE.1"), &r[3]);
        b.hex(&format!("{pre}header_mac"), &header_mac(env)?);
        b.hex(&format!("{pre}envelope"), env);
    }
    blocks.push(b);

    // (f) A two-segment media envelope: 65537 bytes, byte i = i mod 251.
    let labels = Labels::new(
        subj,
        cat,
        "treatment-communication",
        "image/jpeg",
        1_767_225_720,
    )?;
    let media: Vec<u8> = (0..65_537u32).map(|i| (i % 251) as u8).collect();
    let rnd = [
        fixed("media envelope id", 16),
        fixed("media data key", 32),
        fixed("media ikmE", 32),
    ];
    let mut rng = FixedBytesRng::new(rnd.concat());
    let sealed = envelope::seal(&[subject.public_key()], &labels, &media, &mut rng)?;
    let header = envelope::inspect(&sealed)?;
    let seg0 = &sealed[header.header_len..header.header_len + envelope::SEGMENT_CIPHERTEXT_SIZE];
    let seg1 = &sealed[header.header_len + envelope::SEGMENT_CIPHERTEXT_SIZE..];
    let mut b = Block::new("media-envelope");
    label_entries(&mut b, &labels);
    b.int("plaintext_len", media.len() as i64);
    b.hex("plaintext_sha256", &suite::sha256(&[&media]));
    b.hex("recipient.0", subject.public_key().as_bytes());
    b.hex("random.envelope_id", &rnd[0]);
    b.hex("random.data_key", &rnd[1]);
    b.hex("random.ikmE.0", &rnd[2]);
    b.hex("header", &sealed[..header.header_len]);
    b.int("header_len", header.header_len as i64);
    b.hex("segment.0.sha256", &suite::sha256(&[seg0]));
    b.hex("segment.0.tag", &seg0[seg0.len() - suite::TAG_LEN..]);
    b.hex("segment.1", seg1);
    b.int("envelope_len", sealed.len() as i64);
    b.hex("envelope_sha256", &suite::sha256(&[&sealed]));
    blocks.push(b);

    // (g) An empty message: one final segment holding only a tag.
    let labels = Labels::new(
        subj,
        cat,
        "treatment-communication",
        "text/plain; charset=utf-8",
        1_767_225_780,
    )?;
    let rnd = [
        fixed("empty envelope id", 16),
        fixed("empty data key", 32),
        fixed("empty ikmE", 32),
    ];
    let mut rng = FixedBytesRng::new(rnd.concat());
    let sealed = envelope::seal(&[subject.public_key()], &labels, b"", &mut rng)?;
    let mut b = Block::new("empty-envelope");
    label_entries(&mut b, &labels);
    b.str("plaintext", "");
    b.hex("recipient.0", subject.public_key().as_bytes());
    b.hex("random.envelope_id", &rnd[0]);
    b.hex("random.data_key", &rnd[1]);
    b.hex("random.ikmE.0", &rnd[2]);
    envelope_entries(&mut b, &sealed, Some(&rnd[1]), 0, &rnd[2..])?;
    blocks.push(b);

    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {
            for b in &blocks {
                println!("{}", b.render()?);
            }
        }
        (Some("--update"), Some(path)) => {
            // Replace each ```vector NAME block of the file in place.
            let mut doc = std::fs::read_to_string(&path)?;
            for b in &blocks {
                let open = format!("```vector {}\n", b.name);
                let start = doc
                    .find(&open)
                    .ok_or(format!("{path}: no block {}", b.name))?;
                let len = doc[start + open.len()..]
                    .find("```\n")
                    .ok_or(format!("{path}: unterminated block {}", b.name))?;
                let rendered = b.render()?;
                doc.replace_range(start..start + open.len() + len + 4, &rendered);
            }
            std::fs::write(&path, doc)?;
        }
        _ => return Err("usage: gen_format_vectors [--update docs/FORMAT.md]".into()),
    }
    Ok(())
}

fn label_entries(b: &mut Block, l: &Labels) {
    b.str("label.subject", &l.subject);
    b.str("label.category", &l.category);
    b.str("label.purpose", &l.purpose);
    b.str("label.content_type", &l.content_type);
    b.int("label.created_at", l.created_at);
}

fn header_mac(sealed: &[u8]) -> Res<Vec<u8>> {
    let header = envelope::inspect(sealed)?;
    Ok(sealed[header.header_len - suite::MAC_LEN..header.header_len].to_vec())
}
