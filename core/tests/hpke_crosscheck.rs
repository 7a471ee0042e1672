//! Cross-check of Caduceus's HPKE usage and envelope format against an
//! independent implementation written here from the specifications alone.
//!
//! The module `indep` is a minimal RFC 9180 base mode for
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, built directly on
//! `x25519-dalek`, `hkdf` and `aes-gcm` (not on the `hpke` crate that
//! Caduceus uses). It is first validated against the official RFC 9180
//! vector (every intermediate value), then used to
//! * open envelopes produced by `caduceus_core::envelope::seal`, parsing the
//!   header from the documented wire layout with a hand-written MessagePack
//!   reader, verifying the header MAC and decrypting the payload segments;
//! * produce stanzas and whole envelopes that Caduceus must open.
//!
//! Wire layout used here (docs/FORMAT.md is the full spec):
//! `"CADU" | version 1 | suite 1 | u32-BE body length | body | HMAC-SHA256 (32)`
//! then the payload; body = canonical MessagePack
//! `[envelope_id bin16, [subject, category, purpose, content_type, created_at],
//!   part nil | [set_id bin16, index, count], [[key_id bin16, enc bin32, wrapped bin48], ...]]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyId, KeyKind, PrivateKey};
use caduceus_core::suite;
use caduceus_core::testing::{DeterministicRng, FixedBytesRng};
use serde_json::Value;

const RFC_VECTORS: &str = include_str!("data/rfc9180-base-x25519-sha256-aes256gcm.json");

/// A minimal, independent RFC 9180 implementation for one suite.
mod indep {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    use hkdf::Hkdf;
    use sha2::Sha256;

    /// suite_id of the KEM: "KEM" || I2OSP(kem_id = 0x0020, 2).
    pub const KEM_SUITE_ID: &[u8] = b"KEM\x00\x20";
    /// suite_id of HPKE: "HPKE" || kem_id || kdf_id (0x0001) || aead_id (0x0002).
    pub const HPKE_SUITE_ID: &[u8] = b"HPKE\x00\x20\x00\x01\x00\x02";
    const VERSION_LABEL: &[u8] = b"HPKE-v1";
    const BASEPOINT: [u8; 32] = x25519_dalek::X25519_BASEPOINT_BYTES;

    pub fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> [u8; 32] {
        let labeled_ikm = [VERSION_LABEL, suite_id, label, ikm].concat();
        let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &labeled_ikm);
        let mut out = [0u8; 32];
        out.copy_from_slice(prk.as_slice());
        out
    }

    pub fn labeled_expand(
        suite_id: &[u8],
        prk: &[u8; 32],
        label: &[u8],
        info: &[u8],
        len: usize,
    ) -> Vec<u8> {
        let l = u16::try_from(len).unwrap().to_be_bytes();
        let labeled_info = [&l[..], VERSION_LABEL, suite_id, label, info].concat();
        let mut out = vec![0u8; len];
        Hkdf::<Sha256>::from_prk(prk)
            .unwrap()
            .expand(&labeled_info, &mut out)
            .unwrap();
        out
    }

    fn arr<const N: usize>(v: Vec<u8>) -> [u8; N] {
        v.try_into().unwrap()
    }

    pub fn public_key(sk: &[u8; 32]) -> [u8; 32] {
        x25519_dalek::x25519(*sk, BASEPOINT)
    }

    /// DeriveKeyPair (RFC 9180 section 7.1.3), returning the private key as
    /// LabeledExpand outputs it (the JSON vectors list it that way).
    pub fn derive_keypair(ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
        let dkp_prk = labeled_extract(KEM_SUITE_ID, b"", b"dkp_prk", ikm);
        let sk = arr(labeled_expand(KEM_SUITE_ID, &dkp_prk, b"sk", b"", 32));
        (sk, public_key(&sk))
    }

    /// DH with the all-zero check of RFC 9180 section 7.1.4.
    fn dh(sk: &[u8; 32], pk: &[u8; 32]) -> Option<[u8; 32]> {
        let z = x25519_dalek::x25519(*sk, *pk);
        (z != [0u8; 32]).then_some(z)
    }

    fn extract_and_expand(dh: &[u8; 32], kem_context: &[u8]) -> [u8; 32] {
        let eae_prk = labeled_extract(KEM_SUITE_ID, b"", b"eae_prk", dh);
        arr(labeled_expand(
            KEM_SUITE_ID,
            &eae_prk,
            b"shared_secret",
            kem_context,
            32,
        ))
    }

    /// Encap with a given ephemeral secret: (shared_secret, enc).
    pub fn encap(pk_r: &[u8; 32], sk_e: &[u8; 32]) -> Option<([u8; 32], [u8; 32])> {
        let enc = public_key(sk_e);
        let dh = dh(sk_e, pk_r)?;
        let kem_context = [&enc[..], &pk_r[..]].concat();
        Some((extract_and_expand(&dh, &kem_context), enc))
    }

    pub fn decap(enc: &[u8; 32], sk_r: &[u8; 32]) -> Option<[u8; 32]> {
        let dh = dh(sk_r, enc)?;
        let kem_context = [&enc[..], &public_key(sk_r)[..]].concat();
        Some(extract_and_expand(&dh, &kem_context))
    }

    /// The key schedule's outputs and the AEAD context (RFC 9180 section 5.1).
    pub struct Context {
        pub key_schedule_context: Vec<u8>,
        pub secret: [u8; 32],
        pub key: [u8; 32],
        pub base_nonce: [u8; 12],
        pub exporter_secret: [u8; 32],
        seq: u64,
    }

    /// KeySchedule for mode_base (psk = "", psk_id = "").
    pub fn key_schedule(shared_secret: &[u8; 32], info: &[u8]) -> Context {
        let psk_id_hash = labeled_extract(HPKE_SUITE_ID, b"", b"psk_id_hash", b"");
        let info_hash = labeled_extract(HPKE_SUITE_ID, b"", b"info_hash", info);
        let ksc = [&[0u8][..], &psk_id_hash, &info_hash].concat();
        let secret = labeled_extract(HPKE_SUITE_ID, shared_secret, b"secret", b"");
        Context {
            key: arr(labeled_expand(HPKE_SUITE_ID, &secret, b"key", &ksc, 32)),
            base_nonce: arr(labeled_expand(
                HPKE_SUITE_ID,
                &secret,
                b"base_nonce",
                &ksc,
                12,
            )),
            exporter_secret: arr(labeled_expand(HPKE_SUITE_ID, &secret, b"exp", &ksc, 32)),
            key_schedule_context: ksc,
            secret,
            seq: 0,
        }
    }

    impl Context {
        fn next_nonce(&mut self) -> [u8; 12] {
            let mut n = self.base_nonce;
            for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *b ^= s;
            }
            self.seq += 1;
            n
        }

        pub fn seal(&mut self, aad: &[u8], pt: &[u8]) -> Vec<u8> {
            let nonce = self.next_nonce();
            Aes256Gcm::new((&self.key).into())
                .encrypt(&Nonce::from(nonce), Payload { msg: pt, aad })
                .unwrap()
        }

        pub fn open(&mut self, aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
            let nonce = self.next_nonce();
            Aes256Gcm::new((&self.key).into())
                .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
                .ok()
        }

        pub fn export(&self, exporter_context: &[u8], len: usize) -> Vec<u8> {
            labeled_expand(
                HPKE_SUITE_ID,
                &self.exporter_secret,
                b"sec",
                exporter_context,
                len,
            )
        }
    }

    /// Single-shot seal with a given ephemeral secret: (enc, ct).
    pub fn seal_base(
        pk_r: &[u8; 32],
        sk_e: &[u8; 32],
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
    ) -> Option<([u8; 32], Vec<u8>)> {
        let (shared, enc) = encap(pk_r, sk_e)?;
        Some((enc, key_schedule(&shared, info).seal(aad, pt)))
    }

    /// Single-shot open.
    pub fn open_base(
        sk_r: &[u8; 32],
        enc: &[u8; 32],
        info: &[u8],
        aad: &[u8],
        ct: &[u8],
    ) -> Option<Vec<u8>> {
        let shared = decap(enc, sk_r)?;
        key_schedule(&shared, info).open(aad, ct)
    }
}

/// Independent implementation of the envelope format's other primitives.
mod format {
    use aes_gcm::aead::{Aead, KeyInit};
    use aes_gcm::{Aes256Gcm, Nonce};
    use hkdf::Hkdf;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    pub const PREFIX_LEN: usize = 10;
    pub const SEGMENT_SIZE: usize = 64 * 1024;
    pub const TAG_LEN: usize = 16;
    pub const STANZA_INFO: &[u8] = b"caduceus/v1 envelope stanza";

    pub fn key_id(public: &[u8; 32]) -> [u8; 16] {
        let d = Sha256::new()
            .chain_update(b"caduceus/v1 key id")
            .chain_update(public)
            .finalize();
        d[..16].try_into().unwrap()
    }

    pub fn stanza_info(envelope_id: &[u8; 16], key_id: &[u8; 16]) -> Vec<u8> {
        [STANZA_INFO, &envelope_id[..], &key_id[..]].concat()
    }

    fn hkdf32(envelope_id: &[u8; 16], data_key: &[u8; 32], info: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(Some(envelope_id), data_key)
            .expand(info, &mut out)
            .unwrap();
        out
    }

    pub fn mac_key(envelope_id: &[u8; 16], data_key: &[u8; 32]) -> [u8; 32] {
        hkdf32(envelope_id, data_key, b"caduceus/v1 header mac")
    }

    pub fn payload_key(envelope_id: &[u8; 16], data_key: &[u8; 32]) -> [u8; 32] {
        hkdf32(envelope_id, data_key, b"caduceus/v1 payload")
    }

    pub fn hmac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// Nonce of payload segment `counter`: 11-byte big-endian counter || last flag.
    pub fn segment_nonce(counter: u64, last: bool) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[3..11].copy_from_slice(&counter.to_be_bytes());
        n[11] = u8::from(last);
        n
    }

    pub fn open_segment(key: &[u8; 32], counter: u64, last: bool, ct: &[u8]) -> Option<Vec<u8>> {
        Aes256Gcm::new(key.into())
            .decrypt(&Nonce::from(segment_nonce(counter, last)), ct)
            .ok()
    }

    /// Decrypt a whole payload: 64 KiB + 16 byte segments, the last one
    /// shorter (or empty for an empty plaintext) and flagged.
    pub fn open_payload(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
        let segments: Vec<&[u8]> = payload.chunks(SEGMENT_SIZE + TAG_LEN).collect();
        assert!(!segments.is_empty(), "a payload has at least one segment");
        let mut out = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let pt = open_segment(key, i as u64, last, seg)
                .unwrap_or_else(|| panic!("segment {i} does not open"));
            out.extend_from_slice(&pt);
        }
        out
    }

    pub fn seal_payload(key: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(key.into());
        let chunks: Vec<&[u8]> = if plaintext.is_empty() {
            vec![&[]]
        } else {
            plaintext.chunks(SEGMENT_SIZE).collect()
        };
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let ct = cipher
                .encrypt(&Nonce::from(segment_nonce(i as u64, last)), *c)
                .unwrap();
            out.extend_from_slice(&ct);
        }
        out
    }
}

/// Hand-written MessagePack reading and writing for the header's shape.
mod msgpack {
    pub struct Reader<'a> {
        bytes: &'a [u8],
        pub pos: usize,
    }

    impl<'a> Reader<'a> {
        pub fn new(bytes: &'a [u8]) -> Self {
            Self { bytes, pos: 0 }
        }

        fn take(&mut self, n: usize) -> &'a [u8] {
            let s = &self.bytes[self.pos..self.pos + n];
            self.pos += n;
            s
        }

        fn byte(&mut self) -> u8 {
            self.take(1)[0]
        }

        fn be(&mut self, n: usize) -> u64 {
            self.take(n)
                .iter()
                .fold(0u64, |a, &b| (a << 8) | u64::from(b))
        }

        pub fn array(&mut self) -> usize {
            match self.byte() {
                m @ 0x90..=0x9f => usize::from(m & 0x0f),
                0xdc => self.be(2) as usize,
                0xdd => self.be(4) as usize,
                m => panic!("expected an array, found marker {m:#04x}"),
            }
        }

        pub fn bin(&mut self) -> &'a [u8] {
            let n = match self.byte() {
                0xc4 => self.be(1),
                0xc5 => self.be(2),
                0xc6 => self.be(4),
                m => panic!("expected bin, found marker {m:#04x}"),
            };
            self.take(n as usize)
        }

        pub fn str(&mut self) -> String {
            let n = match self.byte() {
                m @ 0xa0..=0xbf => u64::from(m & 0x1f),
                0xd9 => self.be(1),
                0xda => self.be(2),
                0xdb => self.be(4),
                m => panic!("expected str, found marker {m:#04x}"),
            };
            String::from_utf8(self.take(n as usize).to_vec()).unwrap()
        }

        pub fn int(&mut self) -> i64 {
            match self.byte() {
                m @ 0x00..=0x7f => i64::from(m),
                m @ 0xe0..=0xff => i64::from(m as i8),
                0xcc => self.be(1) as i64,
                0xcd => self.be(2) as i64,
                0xce => self.be(4) as i64,
                0xcf => i64::try_from(self.be(8)).unwrap(),
                0xd0 => i64::from(self.be(1) as u8 as i8),
                0xd1 => i64::from(self.be(2) as u16 as i16),
                0xd2 => i64::from(self.be(4) as u32 as i32),
                0xd3 => self.be(8) as i64,
                m => panic!("expected an integer, found marker {m:#04x}"),
            }
        }

        /// Consume a nil if one is next.
        pub fn nil(&mut self) -> bool {
            if self.bytes[self.pos] == 0xc0 {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        pub fn at_end(&self) -> bool {
            self.pos == self.bytes.len()
        }
    }

    /// Shortest-form writers (the canonical form the format requires).
    pub fn array(out: &mut Vec<u8>, n: usize) {
        if n < 16 {
            out.push(0x90 | n as u8);
        } else {
            out.push(0xdc);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
    }

    pub fn bin(out: &mut Vec<u8>, b: &[u8]) {
        out.push(0xc4);
        out.push(u8::try_from(b.len()).unwrap());
        out.extend_from_slice(b);
    }

    pub fn str(out: &mut Vec<u8>, s: &str) {
        let n = s.len();
        if n < 32 {
            out.push(0xa0 | n as u8);
        } else {
            out.push(0xd9);
            out.push(u8::try_from(n).unwrap());
        }
        out.extend_from_slice(s.as_bytes());
    }

    pub fn int(out: &mut Vec<u8>, v: i64) {
        match v {
            0..=127 => out.push(v as u8),
            -32..=-1 => out.push(v as i8 as u8),
            128..=255 => out.extend_from_slice(&[0xcc, v as u8]),
            256..=65_535 => {
                out.push(0xcd);
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
            65_536..=4_294_967_295 => {
                out.push(0xce);
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            4_294_967_296.. => {
                out.push(0xcf);
                out.extend_from_slice(&(v as u64).to_be_bytes());
            }
            -128..=-33 => out.extend_from_slice(&[0xd0, v as i8 as u8]),
            -32_768..=-129 => {
                out.push(0xd1);
                out.extend_from_slice(&(v as i16).to_be_bytes());
            }
            -2_147_483_648..=-32_769 => {
                out.push(0xd2);
                out.extend_from_slice(&(v as i32).to_be_bytes());
            }
            _ => {
                out.push(0xd3);
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
}

/// A header as read from the wire by this file's own parser.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedHeader {
    envelope_id: [u8; 16],
    labels: (String, String, String, String, i64),
    part: Option<([u8; 16], i64, i64)>,
    stanzas: Vec<([u8; 16], [u8; 32], [u8; 48])>,
    /// Prefix and body: the bytes the MAC covers.
    authed_len: usize,
}

fn parse_header(bytes: &[u8]) -> ParsedHeader {
    assert_eq!(&bytes[..4], b"CADU");
    assert_eq!(bytes[4], 1, "version");
    assert_eq!(bytes[5], 1, "suite");
    let body_len = u32::from_be_bytes(bytes[6..10].try_into().unwrap()) as usize;
    let body = &bytes[format::PREFIX_LEN..format::PREFIX_LEN + body_len];
    let mut r = msgpack::Reader::new(body);
    assert_eq!(r.array(), 4);
    let envelope_id: [u8; 16] = r.bin().try_into().unwrap();
    assert_eq!(r.array(), 5);
    let labels = (r.str(), r.str(), r.str(), r.str(), r.int());
    let part = if r.nil() {
        None
    } else {
        assert_eq!(r.array(), 3);
        Some((r.bin().try_into().unwrap(), r.int(), r.int()))
    };
    let n = r.array();
    let stanzas = (0..n)
        .map(|_| {
            assert_eq!(r.array(), 3);
            (
                r.bin().try_into().unwrap(),
                r.bin().try_into().unwrap(),
                r.bin().try_into().unwrap(),
            )
        })
        .collect();
    assert!(r.at_end(), "body has trailing bytes");
    ParsedHeader {
        envelope_id,
        labels,
        part,
        stanzas,
        authed_len: format::PREFIX_LEN + body_len,
    }
}

/// Encode a header's prefix and body (without MAC) with this file's writer.
fn encode_header(h: &ParsedHeader) -> Vec<u8> {
    let mut body = Vec::new();
    msgpack::array(&mut body, 4);
    msgpack::bin(&mut body, &h.envelope_id);
    msgpack::array(&mut body, 5);
    msgpack::str(&mut body, &h.labels.0);
    msgpack::str(&mut body, &h.labels.1);
    msgpack::str(&mut body, &h.labels.2);
    msgpack::str(&mut body, &h.labels.3);
    msgpack::int(&mut body, h.labels.4);
    match &h.part {
        None => body.push(0xc0),
        Some((set_id, index, count)) => {
            msgpack::array(&mut body, 3);
            msgpack::bin(&mut body, set_id);
            msgpack::int(&mut body, *index);
            msgpack::int(&mut body, *count);
        }
    }
    msgpack::array(&mut body, h.stanzas.len());
    for (kid, enc, wrapped) in &h.stanzas {
        msgpack::array(&mut body, 3);
        msgpack::bin(&mut body, kid);
        msgpack::bin(&mut body, enc);
        msgpack::bin(&mut body, wrapped);
    }
    let mut out = b"CADU\x01\x01".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn rfc_vector() -> Value {
    let all: Value = serde_json::from_str(RFC_VECTORS).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|v| v["mode"] == 0 && v["kem_id"] == 32 && v["kdf_id"] == 1 && v["aead_id"] == 2)
        .unwrap()
        .clone()
}

fn hx(v: &Value, name: &str) -> Vec<u8> {
    hex::decode(v[name].as_str().unwrap()).unwrap()
}

fn hx32(v: &Value, name: &str) -> [u8; 32] {
    hx(v, name).try_into().unwrap()
}

fn labels() -> Labels {
    Labels::new(
        "p-3f9a0c11",
        "clinical-photos",
        // 41 characters: exercises the str8 form of MessagePack.
        "treatment-communication-with-the-practice",
        "image/jpeg",
        1_763_800_000,
    )
    .unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn independent_hpke_reproduces_the_rfc9180_vector() {
    let v = rfc_vector();
    let (sk_r, pk_r) = indep::derive_keypair(&hx(&v, "ikmR"));
    assert_eq!(sk_r, hx32(&v, "skRm"));
    assert_eq!(pk_r, hx32(&v, "pkRm"));
    let (sk_e, pk_e) = indep::derive_keypair(&hx(&v, "ikmE"));
    assert_eq!(sk_e, hx32(&v, "skEm"));
    assert_eq!(pk_e, hx32(&v, "pkEm"));

    let (shared, enc) = indep::encap(&pk_r, &sk_e).unwrap();
    assert_eq!(enc, hx32(&v, "enc"));
    assert_eq!(shared, hx32(&v, "shared_secret"));
    assert_eq!(indep::decap(&enc, &sk_r).unwrap(), shared);

    let info = hx(&v, "info");
    let mut sender = indep::key_schedule(&shared, &info);
    let mut receiver = indep::key_schedule(&indep::decap(&enc, &sk_r).unwrap(), &info);
    assert_eq!(sender.key_schedule_context, hx(&v, "key_schedule_context"));
    assert_eq!(sender.secret, hx32(&v, "secret"));
    assert_eq!(sender.key, hx32(&v, "key"));
    assert_eq!(sender.base_nonce[..], hx(&v, "base_nonce")[..]);
    assert_eq!(sender.exporter_secret, hx32(&v, "exporter_secret"));

    let encryptions = v["encryptions"].as_array().unwrap();
    assert!(encryptions.len() > 200);
    for (seq, e) in encryptions.iter().enumerate() {
        let (aad, pt, ct) = (hx(e, "aad"), hx(e, "pt"), hx(e, "ct"));
        assert_eq!(sender.seal(&aad, &pt), ct, "seal, sequence {seq}");
        assert_eq!(
            receiver.open(&aad, &ct).unwrap(),
            pt,
            "open, sequence {seq}"
        );
    }
    for x in v["exports"].as_array().unwrap() {
        let len = x["L"].as_u64().unwrap() as usize;
        assert_eq!(
            sender.export(&hx(x, "exporter_context"), len),
            hx(x, "exported_value")
        );
    }

    // Single-shot forms, and rejection of a modified ciphertext and aad.
    let first = &encryptions[0];
    let (aad, pt, ct) = (hx(first, "aad"), hx(first, "pt"), hx(first, "ct"));
    assert_eq!(
        indep::seal_base(&pk_r, &sk_e, &info, &aad, &pt).unwrap(),
        (enc, ct.clone())
    );
    assert_eq!(indep::open_base(&sk_r, &enc, &info, &aad, &ct).unwrap(), pt);
    let mut bad = ct.clone();
    bad[0] ^= 1;
    assert!(indep::open_base(&sk_r, &enc, &info, &aad, &bad).is_none());
    assert!(indep::open_base(&sk_r, &enc, &info, b"Count-1", &ct).is_none());
    // All-zero DH output is rejected.
    assert!(indep::decap(&[0u8; 32], &sk_r).is_none());
}

/// Open a Caduceus envelope with the independent code only; returns the
/// parsed header and the plaintext.
fn open_independently(sealed: &[u8], identity: &PrivateKey) -> (ParsedHeader, Vec<u8>) {
    let h = parse_header(sealed);
    // Our writer re-encodes the parsed header to the very same bytes: the
    // format's canonical MessagePack is the shortest form, as documented.
    assert_eq!(encode_header(&h), &sealed[..h.authed_len]);

    let pk = *identity.public_key().as_bytes();
    let kid = format::key_id(&pk);
    assert_eq!(
        kid,
        identity.key_id().0,
        "key id = SHA-256(domain || pk)[..16]"
    );
    let (_, enc, wrapped) = h
        .stanzas
        .iter()
        .find(|(k, _, _)| *k == kid)
        .expect("a stanza for this key");
    let info = format::stanza_info(&h.envelope_id, &kid);
    let data_key: [u8; 32] = indep::open_base(identity.secret_bytes(), enc, &info, b"", wrapped)
        .expect("the stanza opens with the independent HPKE")
        .try_into()
        .unwrap();

    let mac = format::hmac(
        &format::mac_key(&h.envelope_id, &data_key),
        &sealed[..h.authed_len],
    );
    assert_eq!(
        mac[..],
        sealed[h.authed_len..h.authed_len + 32],
        "header MAC"
    );

    let payload = &sealed[h.authed_len + 32..];
    let key = format::payload_key(&h.envelope_id, &data_key);
    (h, format::open_payload(&key, payload))
}

#[test]
fn independent_code_opens_a_caduceus_message_envelope() {
    let mut rng = DeterministicRng::new(9180);
    let alice = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let l = labels();
    let msg = b"Befund: Karies an 36, Kontrolle in 6 Monaten.";
    let sealed = envelope::seal(
        &[alice.public_key(), practice.public_key()],
        &l,
        msg,
        &mut rng,
    )
    .unwrap();

    for identity in [&alice, &practice] {
        let (h, plaintext) = open_independently(&sealed, identity);
        assert_eq!(plaintext, msg);
        assert_eq!(
            h.labels,
            (
                l.subject.clone(),
                l.category.clone(),
                l.purpose.clone(),
                l.content_type.clone(),
                l.created_at
            )
        );
        assert_eq!(h.part, None);
        assert_eq!(h.stanzas.len(), 2);
        // One segment, flagged last: header + 45 bytes + tag.
        assert_eq!(sealed.len(), h.authed_len + 32 + msg.len() + 16);
        // Caduceus's own reading agrees with ours.
        let inspected = envelope::inspect(&sealed).unwrap();
        assert_eq!(inspected.envelope_id, h.envelope_id);
        assert_eq!(inspected.header_len, h.authed_len + 32);
        let ids: Vec<[u8; 16]> = h.stanzas.iter().map(|s| s.0).collect();
        let theirs: Vec<[u8; 16]> = inspected.recipients.iter().map(|k| k.0).collect();
        assert_eq!(ids, theirs);
    }
}

#[test]
fn independent_code_opens_a_three_segment_media_envelope() {
    let mut rng = DeterministicRng::new(2);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let media = pattern(2 * format::SEGMENT_SIZE + 1000);
    let sealed = envelope::seal(&[key.public_key()], &labels(), &media, &mut rng).unwrap();
    let (h, plaintext) = open_independently(&sealed, &key);
    assert_eq!(plaintext, media);

    // Segment 0 on its own: nonce = counter 0, not last.
    let data_key: [u8; 32] = {
        let (_, enc, wrapped) = &h.stanzas[0];
        let info = format::stanza_info(&h.envelope_id, &h.stanzas[0].0);
        indep::open_base(key.secret_bytes(), enc, &info, b"", wrapped)
            .unwrap()
            .try_into()
            .unwrap()
    };
    let pkey = format::payload_key(&h.envelope_id, &data_key);
    let seg_ct = format::SEGMENT_SIZE + format::TAG_LEN;
    let payload = &sealed[h.authed_len + 32..];
    assert_eq!(payload.len(), 2 * seg_ct + 1000 + format::TAG_LEN);
    let seg0 = format::open_segment(&pkey, 0, false, &payload[..seg_ct]).unwrap();
    assert_eq!(seg0, media[..format::SEGMENT_SIZE]);
    // The same bytes do not open as a final segment, nor as segment 1.
    assert!(format::open_segment(&pkey, 0, true, &payload[..seg_ct]).is_none());
    assert!(format::open_segment(&pkey, 1, false, &payload[..seg_ct]).is_none());
    // The last segment carries the flag.
    assert!(format::open_segment(&pkey, 2, true, &payload[2 * seg_ct..]).is_some());
    assert!(format::open_segment(&pkey, 2, false, &payload[2 * seg_ct..]).is_none());
}

#[test]
fn independent_code_reads_part_x_of_y() {
    let mut rng = DeterministicRng::new(3);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let parts: [&[u8]; 3] = [b"Teil eins", b"Teil zwei", b""];
    let sealed = envelope::seal_parts(&[key.public_key()], &labels(), &parts, &mut rng).unwrap();
    assert_eq!(sealed.len(), 3);
    let mut set_ids = Vec::new();
    for (i, env) in sealed.iter().enumerate() {
        let (h, plaintext) = open_independently(env, &key);
        assert_eq!(plaintext, parts[i]);
        let (set_id, index, count) = h.part.unwrap();
        assert_eq!((index, count), (i as i64 + 1, 3));
        set_ids.push(set_id);
    }
    assert!(set_ids.iter().all(|s| *s == set_ids[0]));
}

#[test]
fn caduceus_opens_a_stanza_sealed_by_the_independent_hpke() {
    let mut rng = DeterministicRng::new(4);
    let recipient = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let pk = *recipient.public_key().as_bytes();
    let envelope_id = [0x42u8; 16];
    let info = format::stanza_info(&envelope_id, &recipient.key_id().0);
    let data_key = [0x5au8; 32];
    let ikm_e = [0x17u8; 32];
    let (sk_e, _) = indep::derive_keypair(&ikm_e);

    let (enc, wrapped) = indep::seal_base(&pk, &sk_e, &info, b"", &data_key).unwrap();
    assert_eq!(wrapped.len(), 48);
    let opened = suite::hpke_open(recipient.secret_bytes(), &enc, &info, b"", &wrapped).unwrap();
    assert_eq!(opened.as_slice(), &data_key[..]);

    // And Caduceus, given the same ephemeral randomness, seals the same bytes.
    let mut fixed = FixedBytesRng::new(ikm_e.to_vec());
    let ours = suite::hpke_seal(&pk, &info, b"", &data_key, &mut fixed).unwrap();
    assert_eq!(ours, (enc, wrapped.clone()));

    // The info binds envelope id and key id: another one does not open.
    let other_info = format::stanza_info(&[0x43u8; 16], &recipient.key_id().0);
    assert!(suite::hpke_open(recipient.secret_bytes(), &enc, &other_info, b"", &wrapped).is_err());
}

/// Build a whole envelope with the independent code only.
fn build_independently(
    recipients: &[[u8; 32]],
    labels: (String, String, String, String, i64),
    plaintext: &[u8],
    seed: u8,
) -> Vec<u8> {
    let envelope_id = [seed; 16];
    let data_key = [seed.wrapping_add(1); 32];
    let stanzas = recipients
        .iter()
        .enumerate()
        .map(|(i, pk)| {
            let kid = format::key_id(pk);
            let (sk_e, _) = indep::derive_keypair(&[seed, i as u8, 0xee]);
            let info = format::stanza_info(&envelope_id, &kid);
            let (enc, wrapped) = indep::seal_base(pk, &sk_e, &info, b"", &data_key).unwrap();
            (kid, enc, wrapped.try_into().unwrap())
        })
        .collect();
    let h = ParsedHeader {
        envelope_id,
        labels,
        part: None,
        stanzas,
        authed_len: 0,
    };
    let mut out = encode_header(&h);
    let mac = format::hmac(&format::mac_key(&envelope_id, &data_key), &out);
    out.extend_from_slice(&mac);
    out.extend_from_slice(&format::seal_payload(
        &format::payload_key(&envelope_id, &data_key),
        plaintext,
    ));
    out
}

#[test]
fn caduceus_opens_an_envelope_built_by_the_independent_code() {
    let mut rng = DeterministicRng::new(5);
    let a = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let b = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let recipients = [*a.public_key().as_bytes(), *b.public_key().as_bytes()];
    let cases: [(i64, usize); 6] = [
        (0, 0),
        (-5, 1),
        (1_763_800_000, 200),
        (5_000_000_000, format::SEGMENT_SIZE),
        (-100_000, format::SEGMENT_SIZE + 1),
        (i64::MIN, 3),
    ];
    for (seed, (created_at, len)) in cases.into_iter().enumerate() {
        let l = labels();
        let wire_labels = (
            l.subject.clone(),
            l.category.clone(),
            l.purpose.clone(),
            l.content_type.clone(),
            created_at,
        );
        let plaintext = pattern(len);
        let bytes = build_independently(&recipients, wire_labels, &plaintext, seed as u8 + 1);
        for identity in [&a, &b] {
            let opened = envelope::open(&bytes, identity)
                .unwrap_or_else(|e| panic!("case {seed}: Caduceus rejected it: {e:?}"));
            assert_eq!(opened.plaintext, plaintext, "case {seed}");
            assert_eq!(opened.header.labels.created_at, created_at);
            assert_eq!(opened.header.labels.purpose, l.purpose);
            assert_eq!(opened.header.envelope_id, [seed as u8 + 1; 16]);
            assert_eq!(
                opened.header.recipients,
                vec![a.key_id(), b.key_id()] as Vec<KeyId>
            );
        }
        // A flipped MAC byte is refused: the MAC we computed is the one checked.
        let mut bad = bytes.clone();
        let mac_at = envelope::inspect(&bytes).unwrap().header_len - 1;
        bad[mac_at] ^= 1;
        assert!(envelope::open(&bad, &a).is_err());
    }
}
