#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `caduceus whatsapp verify` and `caduceus whatsapp subscribe` (issue 12,
//! intake): exit codes 0 / 1 / 2 / 3 and messages that never repeat the
//! body, the header or a secret.
//!
//! The expected HMACs were computed with Python's `hmac` module, not by our
//! Rust code: `hmac.new(SECRET, BODY, "sha256").hexdigest()`.

use std::fs;
use std::path::Path;
use std::process::Output;

mod common;
use common::{TempDir, run_caduceus};

const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","contacts":[{"profile":{"name":"Test Patientin"},"wa_id":"4915100000001"}],"messages":[{"from":"4915100000001","id":"wamid.TEST1","timestamp":"1767225600","type":"text","text":{"body":"Guten Tag, Frau Dr. M\u00fcller \u0040 Praxis"}}]},"field":"messages"}]}]}"#;
/// Python: hmac.new(b"test-app-secret-1", BODY, "sha256").hexdigest()
const SIG_1: &str = "sha256=92067406d45aee3b7de9d1608fa27e9cc046f0ffd04be9f50d3eafdb0f95508e";
/// Python: hmac.new(b"test-app-secret-2", BODY, "sha256").hexdigest()
const SIG_2: &str = "sha256=ba3a22c740a3cea4f95954419d70acee957a950e9c4c0206b5395724e1e9a421";

fn setup(name: &str) -> TempDir {
    let dir = TempDir::new("whatsapp", name);
    fs::write(dir.path("body.json"), BODY).unwrap();
    fs::write(dir.path("secret1"), "test-app-secret-1\n").unwrap();
    fs::write(dir.path("secret2"), "test-app-secret-2\n").unwrap();
    fs::write(dir.path("token"), "vt-4711-secret\n").unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    run_caduceus(Some(dir), args, None)
}

/// Exit `code`, one error line with `needle`, and none of the secrets,
/// signature digits or body contents in it.
fn fails(dir: &Path, args: &[&str], code: i32, needle: &str) {
    let out = run(dir, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    for secret in [
        "test-app-secret",
        "92067406",
        "ba3a22c7",
        "4915100000001",
        "vt-4711",
        "Patientin",
    ] {
        assert!(!stderr.contains(secret), "{stderr:?} echoes input");
    }
    assert!(out.stdout.is_empty());
}

const VERIFY: [&str; 4] = ["whatsapp", "verify", "--body", "body.json"];

#[test]
fn verify_names_the_matching_secret() {
    let dir = setup("ok");
    let upper = SIG_1.replace("sha256=", "").to_ascii_uppercase();
    let upper = format!("sha256={upper}");
    for (sig, files, n) in [
        (SIG_1, vec!["secret1"], 1),
        (upper.as_str(), vec!["secret1"], 1),
        (SIG_2, vec!["secret1", "secret2"], 2),
    ] {
        let mut args = VERIFY.to_vec();
        args.extend(["--signature", sig]);
        for f in &files {
            args.extend(["--app-secret-file", f]);
        }
        let out = run(&dir.0, &args);
        assert_eq!(out.status.code(), Some(0), "{:?}", out.stderr);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("OK: signature matches app secret {n}\n")
        );
    }
}

#[test]
fn verify_mismatch_is_refused() {
    let dir = setup("mismatch");
    let mut args = VERIFY.to_vec();
    args.extend(["--signature", SIG_2, "--app-secret-file", "secret1"]);
    fails(&dir.0, &args, 1, "does not match");
    // A re-serialised body (spaces added) fails with the right secret.
    let spaced = String::from_utf8(BODY.to_vec()).unwrap().replace(',', ", ");
    fs::write(dir.path("body.json"), spaced).unwrap();
    let mut args = VERIFY.to_vec();
    args.extend(["--signature", SIG_1, "--app-secret-file", "secret1"]);
    fails(&dir.0, &args, 1, "does not match");
}

#[test]
fn verify_missing_or_malformed_signature_is_a_usage_error() {
    let dir = setup("malformed");
    let mut args = VERIFY.to_vec();
    args.extend(["--app-secret-file", "secret1"]);
    fails(&dir.0, &args, 2, "no X-Hub-Signature-256");
    let short = &SIG_1[..SIG_1.len() - 1];
    let no_prefix = &SIG_1["sha256=".len()..];
    for bad in [short, no_prefix, "sha256=zz"] {
        let mut args = VERIFY.to_vec();
        args.extend(["--signature", bad, "--app-secret-file", "secret1"]);
        fails(&dir.0, &args, 2, "malformed");
    }
}

#[test]
fn verify_unreadable_files_fail() {
    let dir = setup("files");
    let mut args = VERIFY.to_vec();
    args.extend(["--signature", SIG_1, "--app-secret-file", "nonexistent"]);
    fails(&dir.0, &args, 3, "cannot read app secret file");
    fs::write(dir.path("empty"), "\n").unwrap();
    let mut args = VERIFY.to_vec();
    args.extend(["--signature", SIG_1, "--app-secret-file", "empty"]);
    fails(&dir.0, &args, 3, "is empty");
    let args = [
        "whatsapp",
        "verify",
        "--body",
        "missing.json",
        "--signature",
        SIG_1,
        "--app-secret-file",
        "secret1",
    ];
    fails(&dir.0, &args, 3, "cannot read body file");
    fs::write(dir.path("big.json"), vec![b' '; 3 * 1024 * 1024 + 1]).unwrap();
    let args = [
        "whatsapp",
        "verify",
        "--body",
        "big.json",
        "--signature",
        SIG_1,
        "--app-secret-file",
        "secret1",
    ];
    fails(&dir.0, &args, 3, "too large");
}

#[test]
fn subscribe_prints_the_challenge_only_when_mode_and_token_hold() {
    let dir = setup("subscribe");
    let base = |mode: &'static str, token: &'static str, challenge: &'static str| {
        vec![
            "whatsapp",
            "subscribe",
            "--mode",
            mode,
            "--token",
            token,
            "--challenge",
            challenge,
            "--verify-token-file",
            "token",
        ]
    };
    let out = run(&dir.0, &base("subscribe", "vt-4711-secret", "1158201444"));
    assert_eq!(out.status.code(), Some(0), "{:?}", out.stderr);
    assert_eq!(out.stdout, b"1158201444\n");
    fails(
        &dir.0,
        &base("unsubscribe", "vt-4711-secret", "1158201444"),
        1,
        "hub.mode",
    );
    fails(
        &dir.0,
        &base("subscribe", "vt-4711-secreT", "1158201444"),
        1,
        "hub.verify_token",
    );
    fails(
        &dir.0,
        &base("subscribe", "vt-4711-secret", "<b>x</b>"),
        1,
        "hub.challenge",
    );
    let mut args = base("subscribe", "vt-4711-secret", "1158201444");
    *args.last_mut().unwrap() = "nonexistent";
    fails(&dir.0, &args, 3, "cannot read verify token file");
}

// ---------------------------------------------------------------------------
// parse, decide, may-send on the signed fixtures of tests/fixtures/whatsapp/.

/// A fixture file.
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/whatsapp")
        .join(name)
}

fn fixture_sig(name: &str) -> String {
    fs::read_to_string(fixture(&format!("{name}.sig")))
        .unwrap()
        .trim()
        .to_owned()
}

/// The fixtures' time: just after their messages (timestamps 1790000001...).
const NOW: &str = "1790000100";
const FIXTURE_TEXT: &str = "Termin am Dienstag";

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A practice with a ledger holding notice privacy-chat:1:de, a pseudonym
/// key, a practice key, a doctor and a finance key, an empty keyring dir.
struct Practice {
    dir: TempDir,
    practice: String,
    doctor: String,
    finance: String,
}

fn practice(name: &str) -> Practice {
    let dir = TempDir::new("whatsapp-intake", name);
    let d = dir.path("");
    let pubkey = |file: &str, kind: &str| {
        let out = run(&d, &["keygen", "--kind", kind, "-o", file]);
        assert!(out.status.success());
        String::from_utf8(out.stderr)
            .unwrap()
            .trim()
            .strip_prefix("Public key: ")
            .unwrap()
            .to_owned()
    };
    let practice = pubkey("practice.key", "practice");
    let doctor = pubkey("doctor.key", "staff");
    let finance = pubkey("finance.key", "staff");
    assert!(
        run(
            &d,
            &["audit", "keygen", "--kind", "pseudonym", "-o", "a.key"]
        )
        .status
        .success()
    );
    assert!(
        run(&d, &["consent", "init", "-o", "consent.cdl"])
            .status
            .success()
    );
    fs::write(dir.path("notice.txt"), "Datenschutzhinweis der Praxis").unwrap();
    let out = run(
        &d,
        &common::consent_notice_args("consent.cdl", "notice.txt", "1780000000"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::create_dir(dir.path("keyrings")).unwrap();
    fs::copy(fixture("app-secret.txt"), dir.path("app-secret.txt")).unwrap();
    Practice {
        dir,
        practice,
        doctor,
        finance,
    }
}

impl Practice {
    fn decide(&self, fixture_name: &str, extra: &[&str]) -> Output {
        self.decide_signed(fixture_name, &fixture_sig(fixture_name), extra)
    }

    fn decide_signed(&self, fixture_name: &str, sig: &str, extra: &[&str]) -> Output {
        let body = fixture(fixture_name);
        let doctor = format!("doctor={}", self.doctor);
        let finance = format!("finance={}", self.finance);
        let mut args = vec![
            "whatsapp",
            "decide",
            "--body",
            body.to_str().unwrap(),
            "--signature",
            sig,
            "--app-secret-file",
            "app-secret.txt",
            "--ledger",
            "consent.cdl",
            "--keyring-dir",
            "keyrings",
            "--pseudonym-key",
            "a.key",
            "--practice",
            &self.practice,
            "--staff",
            &doctor,
            "--staff",
            &finance,
            "--now",
            NOW,
        ];
        if !extra.contains(&"--notice") {
            args.extend(["--notice", "privacy-chat:1:de"]);
        }
        args.extend_from_slice(extra);
        run(&self.dir.path(""), &args)
    }
}

#[test]
fn parse_prints_typed_events_without_content_unless_asked() {
    let dir = setup("parse");
    let body = fixture("text.json");
    let sig = fixture_sig("text.json");
    let args = [
        "whatsapp",
        "parse",
        "--body",
        body.to_str().unwrap(),
        "--signature",
        &sig,
        "--app-secret-file",
    ];
    fs::copy(fixture("app-secret.txt"), dir.path("app-secret.txt")).unwrap();
    let mut a = args.to_vec();
    a.push("app-secret.txt");
    let out = run(&dir.path(""), &a);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let v = stdout_json(&out);
    assert_eq!(v[0]["event"], "message");
    assert_eq!(v[0]["body"]["type"], "text");
    assert!(v[0]["body"]["text"]["redacted_bytes"].as_u64().unwrap() > 10);
    for secret in [
        FIXTURE_TEXT,
        "4915100000001",
        "Erika",
        "DE.1234567890123456789",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} printed without --show-content"
        );
    }
    a.push("--show-content");
    let shown = String::from_utf8(run(&dir.path(""), &a).stdout).unwrap();
    assert!(shown.contains(FIXTURE_TEXT) && shown.contains("4915100000001"));
    // A body re-serialised by a proxy fails the signature: refused.
    let reserialised: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture("text-umlaut-escaped.json")).unwrap()).unwrap();
    fs::write(dir.path("proxy.json"), reserialised.to_string()).unwrap();
    let sig = fixture_sig("text-umlaut-escaped.json");
    fails(
        &dir.path(""),
        &[
            "whatsapp",
            "parse",
            "--body",
            "proxy.json",
            "--signature",
            &sig,
            "--app-secret-file",
            "app-secret.txt",
        ],
        1,
        "signature",
    );
    // A malformed body is refused with its position only.
    fs::write(
        dir.path("bad.json"),
        b"{\"object\":\"whatsapp_business_account\",",
    )
    .unwrap();
    fails(
        &dir.path(""),
        &["whatsapp", "parse", "--body", "bad.json"],
        1,
        "not valid JSON",
    );
}

#[test]
fn decide_a_first_contact_a_consent_reply_and_a_stored_message() {
    let pr = practice("decide");
    // First contact: ask for consent, keep nothing.
    let out = pr.decide("text.json", &[]);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let v = stdout_json(&out);
    let d = &v[0]["decision"];
    assert_eq!(d["kind"], "ask-consent");
    assert!(d["record"].is_null() && d["keyring_record"].is_null());
    assert_eq!(d["replies"][0]["kind"], "notice");
    assert_eq!(d["replies"][0]["text"], "Datenschutzhinweis der Praxis");
    assert_eq!(d["replies"][1]["buttons"].as_array().unwrap().len(), 3);
    assert_eq!(
        d["audit_events"][0]["outcome_reason"],
        "not-stored-no-consent"
    );
    for secret in [FIXTURE_TEXT, "4915100000001", "Erika"] {
        assert!(!stdout.contains(secret), "{secret} in decide output");
    }
    let subject = d["subject"].as_str().unwrap().to_owned();
    assert!(subject.starts_with("sbj-"));
    // The consent button of the fixture.
    let v = stdout_json(&pr.decide("consent-yes-button.json", &[]));
    let d = &v[0]["decision"];
    assert_eq!(d["kind"], "consent-recorded");
    assert_eq!(d["subject"], subject.as_str());
    assert_eq!(d["consent_events"][0]["status"], "given");
    assert!(
        d["consent_events"][0]["evidence"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );
    // decide writes nothing: record the consent as the host would, then the
    // text is sealed, and the doctor opens it through the keyring record.
    let dir = pr.dir.path("");
    let out = run(
        &dir,
        &[
            "consent",
            "record",
            "--ledger",
            "consent.cdl",
            "--id",
            "c-1",
            "--subject",
            &subject,
            "--purpose",
            "treatment-communication",
            "--status",
            "given",
            "--method",
            "chat-reply",
            "--notice",
            "privacy-chat:1:de",
            "--channel",
            "whatsapp",
            "--recorded-by",
            "intake",
            "--at",
            "1790000050",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pr.decide("text.json", &[]);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let v = stdout_json(&out);
    let d = &v[0]["decision"];
    assert_eq!(d["kind"], "stored");
    assert!(!stdout.contains(FIXTURE_TEXT));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    fs::write(
        pr.dir.path("m.env"),
        b64.decode(d["record"]["envelope"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    fs::write(
        pr.dir.path("keyrings/chat.keyring"),
        b64.decode(d["keyring_record"]["bytes"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let open = |identity: &str| {
        run(
            &dir,
            &[
                "open",
                "--identity",
                identity,
                "--keyring",
                "keyrings/chat.keyring",
                "-i",
                "m.env",
            ],
        )
    };
    let o = open("doctor.key");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8(o.stdout).unwrap().contains(FIXTURE_TEXT));
    assert!(!open("finance.key").status.success());
    // With the keyring file in the directory, the next decision reuses it.
    let v = stdout_json(&pr.decide("text.json", &[]));
    assert!(v[0]["decision"]["keyring_record"].is_null());
    assert_eq!(v[0]["decision"]["kind"], "stored");
}

#[test]
fn decide_refuses_unsigned_or_unregistered_setups() {
    let pr = practice("decide-bad");
    // The signature of another body: refused, nothing decided.
    let out = pr.decide_signed("text.json", &fixture_sig("image.json"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature"));
    let out = pr.decide("text.json", &["--notice", "privacy-chat:9:de"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));
}

#[test]
fn may_send_answers_window_consent_and_templates() {
    let pr = practice("may-send");
    let dir = pr.dir.path("");
    let subject = "sbj-0123456789abcdef0123456789abcdef";
    let subject = {
        // A valid pseudonym (check character): take one from decide.
        let v = stdout_json(&pr.decide("text.json", &[]));
        let s = v[0]["decision"]["subject"].as_str().unwrap().to_owned();
        assert_ne!(s, subject);
        s
    };
    let may = |extra: &[&str]| {
        let mut a = vec![
            "whatsapp",
            "may-send",
            "--ledger",
            "consent.cdl",
            "--subject",
            &subject,
            "--now",
            "1790000100",
            "--json",
        ];
        a.extend_from_slice(extra);
        run(&dir, &a)
    };
    let out = may(&["--purpose", "treatment-communication"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "forbidden");
    assert_eq!(v["forbidden"], "no-consent");
    let out = run(
        &dir,
        &[
            "consent",
            "record",
            "--ledger",
            "consent.cdl",
            "--id",
            "c-1",
            "--subject",
            &subject,
            "--purpose",
            "treatment-communication",
            "--status",
            "given",
            "--method",
            "chat-reply",
            "--notice",
            "privacy-chat:1:de",
            "--channel",
            "whatsapp",
            "--recorded-by",
            "intake",
            "--at",
            "1790000050",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = may(&[
        "--purpose",
        "treatment-communication",
        "--last-inbound",
        "1790000001",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "free-form");
    assert_eq!(v["window_ends"], 1790000001 + 86400);
    let out = may(&[
        "--purpose",
        "treatment-communication",
        "--last-inbound",
        "1789900000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "template-required");
    assert_eq!(v["category"], "UTILITY");
    let tpl = [
        "--purpose",
        "treatment-communication",
        "--template",
        "appointment_reminder",
        "--language",
        "de",
        "--category",
        "UTILITY",
    ];
    assert_eq!(may(&tpl).status.code(), Some(0));
    // Meta re-categorised the template to MARKETING (outbound state file).
    fs::write(
        pr.dir.path("state.txt"),
        "template appointment_reminder de MARKETING\n",
    )
    .unwrap();
    let mut with_state = tpl.to_vec();
    with_state.extend(["--state", "state.txt"]);
    let out = may(&with_state);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["forbidden"], "template-is-marketing");
    // Marketing never rides on treatment consent.
    let out = may(&["--purpose", "marketing", "--last-inbound", "1790000001"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Rows 63 and 64 of docs/LIMITS.md: the identity map and outbound state
/// files are refused one byte past 64 MiB before they are read (sparse
/// files); a keyring directory of 100 000 keyring files is read, one more
/// file is refused before any is read.
#[test]
fn decide_and_may_send_state_files_past_their_limits() {
    let pr = practice("limits");
    let ident = pr.dir.path("identities.txt");
    std::fs::File::create(&ident)
        .unwrap()
        .set_len(64 * 1024 * 1024 + 1)
        .unwrap();
    let out = pr.decide("text.json", &["--identities", "identities.txt"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is too large (more than 64 MiB)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = pr.dir.path("state.txt");
    std::fs::File::create(&state)
        .unwrap()
        .set_len(64 * 1024 * 1024 + 1)
        .unwrap();
    let out = run(
        &pr.dir.path(""),
        &[
            "whatsapp",
            "may-send",
            "--ledger",
            "consent.cdl",
            "--subject",
            "p-1",
            "--purpose",
            "recall",
            "--state",
            "state.txt",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is too large (more than 64 MiB)"));
    // 100 000 keyring files are read (these are empty, so the first one
    // read is refused as damaged); one more is refused by the count.
    let keyrings = pr.dir.path("keyrings");
    for i in 0..100_000 {
        std::fs::File::create(keyrings.join(format!("{i}.keyring"))).unwrap();
    }
    let out = pr.decide("text.json", &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        err.contains("keyring file") && !err.contains("more than"),
        "{err}"
    );
    std::fs::File::create(keyrings.join("100000.keyring")).unwrap();
    let out = pr.decide("text.json", &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds more than 100000 keyring files"));
}

/// `seal --expect-sha256`: media fetched for a webhook is sealed only if it
/// has the announced SHA-256 and fits its kind's limit; otherwise exit 1
/// and no output file.
#[test]
fn seal_with_an_expected_sha256_fails_closed() {
    let pr = practice("seal-media");
    let dir = pr.dir.path("");
    fs::copy(fixture("image.bin"), pr.dir.path("photo.jpg")).unwrap();
    // The webhook's sha256 of image.bin (image.json), base64.
    let b64 = "ne5QlptxxjSSgP6WduFl0ho5N/E6LAHmk/P6qjiywak=";
    let seal = |input: &str, hash: &str, kind: &str, out: &str| {
        run(
            &dir,
            &[
                "seal",
                "--to",
                &pr.doctor,
                "--label",
                "subject=p-1",
                "--label",
                "category=clinical-photos",
                "--label",
                "purpose=clinical-photos",
                "--expect-sha256",
                hash,
                "--media-kind",
                kind,
                "-i",
                input,
                "-o",
                out,
            ],
        )
    };
    let out = seal("photo.jpg", b64, "image", "ok.cdu");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opened = run(&dir, &["open", "--identity", "doctor.key", "-i", "ok.cdu"]);
    assert!(opened.status.success());
    assert_eq!(opened.stdout, fs::read(fixture("image.bin")).unwrap());
    // One byte different: refused, nothing written.
    let mut bad = fs::read(fixture("image.bin")).unwrap();
    bad[10] ^= 0x01;
    fs::write(pr.dir.path("bad.jpg"), &bad).unwrap();
    let out = seal("bad.jpg", b64, "image", "bad.cdu");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the SHA-256"));
    assert!(!pr.dir.path("bad.cdu").exists());
    // Larger than a sticker may be: refused.
    fs::write(pr.dir.path("big.webp"), vec![7u8; 500_001]).unwrap();
    let out = seal("big.webp", b64, "sticker", "big.cdu");
    assert_eq!(out.status.code(), Some(1));
    assert!(!pr.dir.path("big.cdu").exists());
    // A malformed hash or kind is a usage error.
    assert_eq!(
        seal("photo.jpg", "nope", "image", "x.cdu").status.code(),
        Some(2)
    );
    assert_eq!(
        seal("photo.jpg", b64, "gif", "x.cdu").status.code(),
        Some(2)
    );
}
