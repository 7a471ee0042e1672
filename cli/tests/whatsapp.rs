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
