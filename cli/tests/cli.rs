#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests of the `caduceus` binary: every command is run as a
//! process, as an operator would, on files in a fresh temporary directory.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::fs;
use std::path::Path;
use std::process::Output;

mod common;
use common::{LABELS, TempDir, p, run_caduceus};

fn run<S: AsRef<OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Output {
    run_caduceus(None, args, stdin)
}

/// Run and require success; returns stdout.
fn ok<S: AsRef<OsStr> + Debug>(args: &[S]) -> Vec<u8> {
    let out = run(args, None);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Run and require failure with `code` and one `caduceus: error:` line
/// containing `needle`; returns that line.
fn fails<S: AsRef<OsStr> + Debug>(args: &[S], code: i32, needle: &str) -> String {
    let out = run(args, None);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(stderr.starts_with("caduceus: error: "), "{stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    stderr
}

/// Deterministic pseudo-random bytes (xorshift64).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Generate an identity file; returns (public key text, key id).
fn keygen(dir: &TempDir, name: &str, kind: &str) -> (String, String) {
    let path = dir.path(name);
    let out = run(&["keygen", "--kind", kind, "-o", p(&path)], None);
    assert!(out.status.success());
    let text = fs::read_to_string(&path).unwrap();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .to_owned()
    };
    let public = field("# public key: ");
    // The public key is announced on stderr, and derivable from the file.
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim(),
        format!("Public key: {public}")
    );
    let derived = String::from_utf8(ok(&["pubkey", "-i", p(&path)])).unwrap();
    assert_eq!(derived.trim(), public);
    (public, field("# key id: "))
}

/// `seal --to KEY... LABELS`: from standard input to standard output.
fn seal_args(to: &[&str]) -> Vec<String> {
    let mut args = vec!["seal"];
    for key in to {
        args.extend(["--to", key]);
    }
    args.extend(LABELS);
    args.into_iter().map(str::to_owned).collect()
}

/// `seal --to KEY... LABELS -i INPUT -o OUTPUT`.
fn seal_file_args(to: &[&str], input: &Path, output: &Path) -> Vec<String> {
    let mut args = seal_args(to);
    args.extend(["-i", p(input), "-o", p(output)].map(str::to_owned));
    args
}

fn seal(input: &Path, output: &Path, to: &[&str]) {
    let out = run(&seal_file_args(to, input, output), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a terminal: no progress output, nothing at all on stderr.
    assert!(out.stderr.is_empty());
}

/// `open --identity IDENTITY -i INPUT` (files in `dir`): plaintext to standard output.
fn open_args(dir: &TempDir, identity: &str, input: &str) -> Vec<String> {
    vec![
        "open".to_owned(),
        "--identity".to_owned(),
        dir.arg(identity),
        "-i".to_owned(),
        dir.arg(input),
    ]
}

/// `open --identity IDENTITY -i INPUT -o OUTPUT` (files in `dir`).
fn open_file_args(dir: &TempDir, identity: &str, input: &str, output: &str) -> Vec<String> {
    let mut args = open_args(dir, identity, input);
    args.extend(["-o".to_owned(), dir.arg(output)]);
    args
}

/// Open `input` into `output` (files in `dir`) and require failure with exit
/// code 1 and `needle` in the error line; returns that line.
fn open_fails(dir: &TempDir, identity: &str, input: &str, output: &str, needle: &str) -> String {
    fails(&open_file_args(dir, identity, input, output), 3, needle)
}

/// `rewrap --identity IDENTITY CHANGE KEY -i INPUT -o OUTPUT` (files in
/// `dir`), where CHANGE is `--add` or `--remove`.
fn rewrap_args(
    dir: &TempDir,
    identity: &str,
    change: &str,
    key: &str,
    input: &str,
    output: &str,
) -> Vec<String> {
    vec![
        "rewrap".to_owned(),
        "--identity".to_owned(),
        dir.arg(identity),
        change.to_owned(),
        key.to_owned(),
        "-i".to_owned(),
        dir.arg(input),
        "-o".to_owned(),
        dir.arg(output),
    ]
}

/// The permission bits of a file.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn inspect_json(envelope: &Path) -> serde_json::Value {
    serde_json::from_slice(&ok(&["inspect", "--json", "-i", p(envelope)])).unwrap()
}

fn header_len(envelope: &Path) -> usize {
    inspect_json(envelope)["header_len"].as_u64().unwrap() as usize
}

#[test]
fn keygen_seal_inspect_open_round_trip() {
    let dir = TempDir::new("cli", "roundtrip");
    let (practice, practice_id) = keygen(&dir, "practice.key", "practice");
    assert!(practice.starts_with("cdpractice1"));
    #[cfg(unix)]
    assert_eq!(mode(&dir.path("practice.key")), 0o600);
    let key_text = fs::read_to_string(dir.path("practice.key")).unwrap();
    assert!(key_text.starts_with("# created: "));
    assert!(key_text.contains("# kind: practice\n"));
    assert!(key_text.contains("\nCADUCEUS-PRACTICE-SECRET-KEY-1"));

    // ~200 KB: four 64 KiB segments.
    let plain = data(200_000, 1);
    fs::write(dir.path("scan.png"), &plain).unwrap();
    seal(&dir.path("scan.png"), &dir.path("scan.cdu"), &[&practice]);
    let sealed = fs::read(dir.path("scan.cdu")).unwrap();
    assert!(sealed.starts_with(b"CADU"));
    assert!(sealed.len() > plain.len() + 4 * 16);

    let human = String::from_utf8(ok(&["inspect", "-i", p(&dir.path("scan.cdu"))])).unwrap();
    for expected in [
        "subject:       p-7f3a91",
        "category:      xray",
        "purpose:       treatment-communication",
        "content type:  image/png",
        "created at:    2025-01-31T12:00:00Z (1738324800)",
        "recipients:    1",
        &format!("key id {practice_id}"),
    ] {
        assert!(human.contains(expected), "{expected:?} not in {human}");
    }

    ok(&open_file_args(
        &dir,
        "practice.key",
        "scan.cdu",
        "scan.out",
    ));
    assert_eq!(fs::read(dir.path("scan.out")).unwrap(), plain);
    #[cfg(unix)]
    assert_eq!(
        mode(&dir.path("scan.out")),
        0o600,
        "plaintext is owner-only"
    );
    // No temporary files were left behind.
    assert_eq!(
        dir.listing(),
        ["practice.key", "scan.cdu", "scan.out", "scan.png"]
    );
}

#[test]
fn seal_and_open_stream_through_stdin_and_stdout() {
    let dir = TempDir::new("cli", "pipes");
    let (staff, _) = keygen(&dir, "staff.key", "staff");
    let plain = data(70_000, 2);
    let sealed = run(&seal_args(&[&staff]), Some(&plain));
    assert!(sealed.status.success());
    let opened = run(
        &["open", "--identity", p(&dir.path("staff.key"))],
        Some(&sealed.stdout),
    );
    assert!(opened.status.success());
    assert_eq!(opened.stdout, plain);
    // Inspect from stdin reads the header only.
    let inspected = run(&["inspect", "--json"], Some(&sealed.stdout));
    let json: serde_json::Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(json["labels"]["category"], "xray");
}

#[test]
fn inspect_json_holds_labels_and_recipients() {
    let dir = TempDir::new("cli", "json");
    let (practice, practice_id) = keygen(&dir, "practice.key", "practice");
    let (staff, staff_id) = keygen(&dir, "staff.key", "staff");
    fs::write(dir.path("msg.txt"), b"Zahnschmerzen seit Montag").unwrap();
    seal(
        &dir.path("msg.txt"),
        &dir.path("msg.cdu"),
        &[&practice, &staff],
    );
    let json = inspect_json(&dir.path("msg.cdu"));
    let labels = &json["labels"];
    assert_eq!(labels["subject"], "p-7f3a91");
    assert_eq!(labels["category"], "xray");
    assert_eq!(labels["purpose"], "treatment-communication");
    assert_eq!(labels["content_type"], "image/png");
    assert_eq!(labels["created_at"], 1_738_324_800);
    assert_eq!(labels["created_at_rfc3339"], "2025-01-31T12:00:00Z");
    assert_eq!(json["part"], serde_json::Value::Null);
    assert_eq!(
        json["recipients"],
        serde_json::json!([practice_id, staff_id])
    );
    let total = fs::metadata(dir.path("msg.cdu")).unwrap().len();
    assert_eq!(
        json["header_len"].as_u64().unwrap() + json["payload_len"].as_u64().unwrap(),
        total
    );
    // The plaintext is nowhere in what inspect prints.
    let human = ok(&["inspect", "-i", p(&dir.path("msg.cdu"))]);
    assert!(!String::from_utf8(human).unwrap().contains("Zahnschmerzen"));
}

#[test]
fn wrong_identity_fails_without_output() {
    let dir = TempDir::new("cli", "wrongkey");
    let (practice, _) = keygen(&dir, "practice.key", "practice");
    keygen(&dir, "other.key", "staff");
    fs::write(dir.path("in.bin"), data(100_000, 3)).unwrap();
    seal(&dir.path("in.bin"), &dir.path("in.cdu"), &[&practice]);
    let line = open_fails(
        &dir,
        "other.key",
        "in.cdu",
        "out.bin",
        "none of the given keys is a recipient",
    );
    let secret = fs::read_to_string(dir.path("other.key")).unwrap();
    let secret_line = secret.lines().last().unwrap();
    assert!(!line.contains(secret_line));
    assert!(!dir.path("out.bin").exists());
    assert_eq!(
        dir.listing(),
        ["in.bin", "in.cdu", "other.key", "practice.key"]
    );
}

#[test]
fn tampering_fails_and_removes_partial_output() {
    let dir = TempDir::new("cli", "tamper");
    let (practice, _) = keygen(&dir, "practice.key", "practice");
    let plain = data(200_000, 4);
    fs::write(dir.path("in.bin"), &plain).unwrap();
    seal(&dir.path("in.bin"), &dir.path("in.cdu"), &[&practice]);
    let sealed = fs::read(dir.path("in.cdu")).unwrap();
    let identity = "practice.key";

    // A flipped byte in the third segment: the first two segments decrypt
    // (and are written) before the damage is found; all of it must go.
    let mut flipped = sealed.clone();
    let at = header_len(&dir.path("in.cdu")) + 2 * (65_536 + 16) + 100;
    flipped[at] ^= 0x01;
    fs::write(dir.path("flipped.cdu"), &flipped).unwrap();
    open_fails(
        &dir,
        identity,
        "flipped.cdu",
        "out.bin",
        "payload segment 2 was modified",
    );
    assert!(!dir.path("out.bin").exists());

    // A flipped header byte (a label) breaks the header MAC.
    let mut header_flip = sealed.clone();
    let label_at = sealed.windows(8).position(|w| w == b"p-7f3a91").unwrap();
    header_flip[label_at] = b'q';
    fs::write(dir.path("header.cdu"), &header_flip).unwrap();
    open_fails(&dir, identity, "header.cdu", "out.bin", "header");

    // Truncation at a segment boundary.
    let cut = header_len(&dir.path("in.cdu")) + 3 * (65_536 + 16);
    fs::write(dir.path("cut.cdu"), &sealed[..cut]).unwrap();
    open_fails(&dir, identity, "cut.cdu", "out.bin", "truncated");

    // An existing output file is left as it was when opening fails.
    fs::write(dir.path("out.bin"), b"previous contents").unwrap();
    open_fails(&dir, identity, "flipped.cdu", "out.bin", "modified");
    assert_eq!(fs::read(dir.path("out.bin")).unwrap(), b"previous contents");
    assert_eq!(
        dir.listing(),
        [
            "cut.cdu",
            "flipped.cdu",
            "header.cdu",
            "in.bin",
            "in.cdu",
            "out.bin",
            "practice.key"
        ]
    );

    // Not an envelope at all.
    fails(
        &["inspect", "-i", p(&dir.path("in.bin"))],
        3,
        "not a Caduceus envelope",
    );
}

#[test]
fn rewrap_adds_and_removes_recipients_without_touching_the_payload() {
    let dir = TempDir::new("cli", "rewrap");
    let (practice, _) = keygen(&dir, "practice.key", "practice");
    let (staff, staff_id) = keygen(&dir, "staff.key", "staff");
    let plain = data(150_000, 5);
    fs::write(dir.path("in.bin"), &plain).unwrap();
    seal(&dir.path("in.bin"), &dir.path("a.cdu"), &[&practice]);
    let open_with = |key: &str, envelope: &str| run(&open_args(&dir, key, envelope), None);
    assert!(!open_with("staff.key", "a.cdu").status.success());

    ok(&rewrap_args(
        &dir,
        "practice.key",
        "--add",
        &staff,
        "a.cdu",
        "b.cdu",
    ));
    let a = fs::read(dir.path("a.cdu")).unwrap();
    let b = fs::read(dir.path("b.cdu")).unwrap();
    let (ha, hb) = (
        header_len(&dir.path("a.cdu")),
        header_len(&dir.path("b.cdu")),
    );
    assert!(hb > ha, "the header grew by a stanza");
    assert_eq!(&a[ha..], &b[hb..], "payload bytes are unchanged");
    let json = inspect_json(&dir.path("b.cdu"));
    assert_eq!(json["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(json["labels"], inspect_json(&dir.path("a.cdu"))["labels"]);
    for key in ["staff.key", "practice.key"] {
        let out = open_with(key, "b.cdu");
        assert!(out.status.success(), "{key}");
        assert_eq!(out.stdout, plain);
    }

    // Rewriting the input in place is refused (exit 2, nothing changed):
    // no command writes to one of its inputs.
    let before = fs::read(dir.path("b.cdu")).unwrap();
    fails(
        &rewrap_args(
            &dir,
            "practice.key",
            "--remove",
            &staff_id,
            "b.cdu",
            "b.cdu",
        ),
        2,
        "refusing to overwrite an input",
    );
    assert_eq!(fs::read(dir.path("b.cdu")).unwrap(), before);
    // Remove the staff key by its key id, into a new file.
    ok(&rewrap_args(
        &dir,
        "practice.key",
        "--remove",
        &staff_id,
        "b.cdu",
        "c.cdu",
    ));
    let c = fs::read(dir.path("c.cdu")).unwrap();
    let hc = header_len(&dir.path("c.cdu"));
    assert_eq!(&c[hc..], &a[ha..]);
    let refused = open_with("staff.key", "c.cdu");
    assert_eq!(refused.status.code(), Some(3));
    assert!(refused.stdout.is_empty());
    assert!(
        String::from_utf8(refused.stderr)
            .unwrap()
            .contains("none of the given keys is a recipient")
    );
    assert_eq!(open_with("practice.key", "b.cdu").stdout, plain);

    // A key that is not a recipient cannot rewrap; removing the last
    // recipient is refused; nothing is written in either case.
    fails(
        &rewrap_args(&dir, "staff.key", "--add", &staff, "a.cdu", "d.cdu"),
        3,
        "is a recipient of this envelope",
    );
    fails(
        &rewrap_args(
            &dir,
            "practice.key",
            "--remove",
            &practice,
            "a.cdu",
            "d.cdu",
        ),
        3,
        "at least one recipient",
    );
    assert!(!dir.path("d.cdu").exists());
    fails(
        &["rewrap", "--identity", p(&dir.path("practice.key"))],
        2,
        "nothing to do",
    );
}

#[test]
fn keygen_refuses_to_overwrite() {
    let dir = TempDir::new("cli", "overwrite");
    keygen(&dir, "k.key", "staff");
    let before = fs::read(dir.path("k.key")).unwrap();
    fails(
        &["keygen", "-o", p(&dir.path("k.key"))],
        3,
        "refusing to overwrite",
    );
    assert_eq!(fs::read(dir.path("k.key")).unwrap(), before);
    // Without -o, the identity goes to stdout and nothing to stderr.
    let out = run(&["keygen", "--kind", "subject"], None);
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("# public key: cdsubject1"));
    assert!(text.contains("\nCADUCEUS-SUBJECT-SECRET-KEY-1"));
}

/// Docs/FORMAT.md 9.1: the staff key of the test vectors.
const VECTOR_STAFF_SECRET: &str =
    "CADUCEUS-STAFF-SECRET-KEY-1VWSLYETKW8PSZ0ZXMLHL5YJ920VZPHVL4XWE487JGEMTJ9WXUHRQ4G5ZXN";
const VECTOR_STAFF_PUBLIC: &str =
    "cdstaff1q9epw4gagxw6zc54htq8fgwnlhcz5sewt5rh84u5qypezu4t9anq0ldp42";

#[test]
fn non_canonical_public_keys_are_refused_before_anything_is_written() {
    let dir = TempDir::new("cli", "noncanonical");
    fs::write(dir.path("in.bin"), b"Befund").unwrap();
    fs::write(dir.path("staff.key"), format!("{VECTOR_STAFF_SECRET}\n")).unwrap();
    let input = dir.path("in.bin");
    let out = dir.path("out.cdu");
    // The identity's own public key seals and opens.
    let derived = String::from_utf8(ok(&["pubkey", "-i", p(&dir.path("staff.key"))])).unwrap();
    assert_eq!(derived.trim(), VECTOR_STAFF_PUBLIC);
    seal(&input, &out, &[VECTOR_STAFF_PUBLIC]);
    assert_eq!(ok(&open_args(&dir, "staff.key", "out.cdu")), b"Befund");
    fs::remove_file(&out).unwrap();

    // Valid Bech32 texts of non-canonical u-coordinates: the same staff key
    // with bit 255 set (another key id, so the staff key could never open
    // what was sealed to it), u = p, u = p + 1, u = 2^255 - 1.
    for text in [
        "cdstaff1q9epw4gagxw6zc54htq8fgwnlhcz5sewt5rh84u5qypezu4t9lnqtmlxwn",
        "cdpractice1ahlllllllllllllllllllllllllllllllllllllllllllllllalsk2z54w",
        "cdpractice1amlllllllllllllllllllllllllllllllllllllllllllllllalsuqm8jx",
        "cdpractice1lllllllllllllllllllllllllllllllllllllllllllllllllalsha42ax",
    ] {
        let line = fails(
            &seal_file_args(&[text], &input, &out),
            2,
            "--to: the public key is not in canonical form",
        );
        assert!(!line.contains(&text[12..]), "the key is echoed: {line}");
        assert!(!out.exists());
        // To standard output: nothing is written either.
        let piped = run(&seal_args(&[text]), Some(b"Befund"));
        assert_eq!(piped.status.code(), Some(2));
        assert!(piped.stdout.is_empty());
        // In a recipients file.
        fs::write(dir.path("to.txt"), format!("# reception\n{text}\n")).unwrap();
        let mut args = seal_file_args(&[], &input, &out);
        args.extend(["--to-file".to_owned(), dir.arg("to.txt")]);
        fails(&args, 3, "line 2: the public key is not in canonical form");
        assert!(!out.exists());
    }
}

#[test]
fn a_damaged_version_byte_is_reported_as_damage_not_as_a_newer_version() {
    let dir = TempDir::new("cli", "version");
    fs::write(dir.path("in.bin"), b"Befund").unwrap();
    fs::write(dir.path("staff.key"), format!("{VECTOR_STAFF_SECRET}\n")).unwrap();
    seal(
        &dir.path("in.bin"),
        &dir.path("a.cdu"),
        &[VECTOR_STAFF_PUBLIC],
    );
    let mut bytes = fs::read(dir.path("a.cdu")).unwrap();
    for v in [0u8, 3, 0x81] {
        bytes[4] = v;
        fs::write(dir.path("v.cdu"), &bytes).unwrap();
        for args in [
            open_args(&dir, "staff.key", "v.cdu"),
            vec!["inspect".to_owned(), "-i".to_owned(), dir.arg("v.cdu")],
        ] {
            let line = fails(&args, 3, "the version byte is damaged");
            assert!(!line.contains("upgrade Caduceus"), "{line}");
        }
    }
}

#[test]
fn bad_key_text_and_bad_usage_give_clear_errors() {
    let dir = TempDir::new("cli", "badkey");
    let (staff, _) = keygen(&dir, "staff.key", "staff");
    fs::write(dir.path("in.bin"), b"x").unwrap();
    let out = dir.path("out.cdu");
    let input = dir.path("in.bin");
    let seal_to = |key: &str| seal_file_args(&[key], &input, &out);

    // One mistyped character: the checksum catches it.
    let mut typo: Vec<char> = staff.chars().collect();
    let i = typo.len() - 5;
    typo[i] = if typo[i] == 'q' { 'p' } else { 'q' };
    let typo: String = typo.into_iter().collect();
    fails(&seal_to(&typo), 2, "--to: not a valid Caduceus key");
    // The same recipient twice: a usage error, nothing written.
    fails(
        &seal_file_args(&[staff.as_str(), staff.as_str()], &input, &out),
        2,
        "more than once",
    );
    assert!(!out.exists());

    // A secret key pasted where a public key belongs is refused, not echoed.
    let identity = fs::read_to_string(dir.path("staff.key")).unwrap();
    let secret = identity.lines().last().unwrap();
    let line = fails(
        &seal_to(secret),
        2,
        "expected a public key but found a secret key",
    );
    assert!(!line.contains(&secret[30..]));
    assert!(!out.exists());

    // A public key file given as identity.
    fs::write(dir.path("pub.txt"), format!("{staff}\n")).unwrap();
    fails(
        &open_args(&dir, "pub.txt", "in.bin"),
        3,
        "expected a secret key but found a public key",
    );

    // Missing label, unknown option: usage errors, one line, exit 2.
    fails(
        &[
            "seal",
            "--to",
            &staff,
            "--label",
            "subject=p-1",
            "--label",
            "category=xray",
        ],
        2,
        "missing label purpose",
    );
    fails(&["seal", "--frobnicate"], 2, "--frobnicate");
    fails(&["open", "-i", p(&dir.path("in.bin"))], 2, "--identity");
    assert!(!out.exists());
}

#[test]
fn rewrap_names_an_unknown_id_and_never_removes_the_practice_key() {
    let dir = TempDir::new("cli", "rewrap-practice");
    let (practice, practice_id) = keygen(&dir, "practice.key", "practice");
    let (staff, staff_id) = keygen(&dir, "staff.key", "staff");
    let (_, stranger_id) = keygen(&dir, "stranger.key", "staff");
    fs::write(dir.path("in.bin"), data(1000, 7)).unwrap();
    seal(
        &dir.path("in.bin"),
        &dir.path("a.cdu"),
        &[&practice, &staff],
    );

    // An id that is not a recipient: said so, and the id is not echoed.
    let line = fails(
        &rewrap_args(
            &dir,
            "practice.key",
            "--remove",
            &stranger_id,
            "a.cdu",
            "b.cdu",
        ),
        3,
        "a key id given for removal is not a recipient of this envelope",
    );
    assert!(!line.contains("none of the given keys"), "{line}");
    assert!(!line.contains(&stranger_id), "{line}");

    // A staff key cannot remove the practice key: by public key text...
    fails(
        &rewrap_args(&dir, "staff.key", "--remove", &practice, "a.cdu", "b.cdu"),
        3,
        "refusing to remove the last practice key recipient",
    );
    // ...nor by key id: then the practice key must be named.
    fails(
        &rewrap_args(
            &dir,
            "staff.key",
            "--remove",
            &practice_id,
            "a.cdu",
            "b.cdu",
        ),
        2,
        "--practice",
    );
    let mut named = rewrap_args(
        &dir,
        "staff.key",
        "--remove",
        &practice_id,
        "a.cdu",
        "b.cdu",
    );
    named.extend(["--practice".to_owned(), practice.clone()]);
    fails(
        &named,
        3,
        "refusing to remove the last practice key recipient",
    );
    // The practice key cannot remove itself either.
    fails(
        &rewrap_args(
            &dir,
            "practice.key",
            "--remove",
            &practice_id,
            "a.cdu",
            "b.cdu",
        ),
        3,
        "refusing to remove the last practice key recipient",
    );
    assert!(!dir.path("b.cdu").exists());

    // Removing the staff key, with the practice key named, still works.
    let mut staff_out = rewrap_args(&dir, "staff.key", "--remove", &staff_id, "a.cdu", "c.cdu");
    staff_out.extend(["--practice".to_owned(), practice_id.clone()]);
    ok(&staff_out);
    let json = inspect_json(&dir.path("c.cdu"));
    assert_eq!(json["recipients"], serde_json::json!([practice_id]));
}
