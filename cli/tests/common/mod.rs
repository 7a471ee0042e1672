//! Helpers shared by the command-line integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory `caduceus-{prefix}-{name}-{pid}-{n}`.
    pub fn new(prefix: &str, name: &str) -> Self {
        Self::new_in(&std::env::temp_dir(), prefix, name)
    }

    /// As [`TempDir::new`], in `base` (e.g. `CARGO_TARGET_TMPDIR` for large
    /// files).
    pub fn new_in(base: &Path, prefix: &str, name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = base.join(format!(
            "caduceus-{prefix}-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The path of `name` in the directory, as a command-line argument.
    pub fn arg(&self, name: &str) -> String {
        p(&self.path(name)).to_owned()
    }

    /// Names of the files in the directory, sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A path as a command-line argument (the tests use UTF-8 paths).
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Run the `caduceus` binary with `args` (in `dir`, if given) and `stdin`
/// as its standard input (none if `None`).
pub fn run_caduceus<S: AsRef<OsStr>>(
    dir: Option<&Path>,
    args: &[S],
    stdin: Option<&[u8]>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caduceus"));
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        // Write from a thread, so that a child that stops reading cannot
        // block the test.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().unwrap()
}

/// `consent record` into `ledger` of event `e1`: subject `p-1` and purpose
/// `treatment-communication`, then `rest` (status, method, ...).
pub fn consent_record_args<'a>(ledger: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "consent",
        "record",
        "--ledger",
        ledger,
        "--id",
        "e1",
        "--subject",
        "p-1",
        "--purpose",
        "treatment-communication",
    ];
    args.extend_from_slice(rest);
    args
}

/// `consent notice` registering notice privacy-chat version 1 (de) in
/// `ledger` with the text of `text_file`, at Unix time `at`.
pub fn consent_notice_args<'a>(ledger: &'a str, text_file: &'a str, at: &'a str) -> [&'a str; 14] {
    [
        "consent",
        "notice",
        "--ledger",
        ledger,
        "--id",
        "privacy-chat",
        "--version",
        "1",
        "--language",
        "de",
        "--text-file",
        text_file,
        "--at",
        at,
    ]
}

/// The labels of the sealed messages of the tests.
pub const LABELS: [&str; 10] = [
    "--label",
    "subject=p-7f3a91",
    "--label",
    "category=xray",
    "--label",
    "purpose=treatment-communication",
    "--label",
    "content-type=image/png",
    "--label",
    "created-at=2025-01-31T12:00:00Z",
];

// The audit logs of the tests: `l.log` (origin `praxis.example/audit`),
// pseudonym key `a.key`, signing key `s.key`.

/// `audit keygen` of the pseudonym key `a.key`.
pub const AUDIT_KEYGEN_PSEUDONYM: [&str; 6] =
    ["audit", "keygen", "--kind", "pseudonym", "-o", "a.key"];

/// `audit keygen` of a signing key named `praxis.example/audit` into `out`
/// (prints its verifier key).
pub fn audit_keygen_signing_args(out: &str) -> [&str; 8] {
    [
        "audit",
        "keygen",
        "--kind",
        "signing",
        "--name",
        "praxis.example/audit",
        "-o",
        out,
    ]
}

/// `audit append` to `log` (origin `praxis.example/audit`, pseudonym key
/// `a.key`): dr.mueller, a doctor, read in the pms at Unix time `time`;
/// `extra` arguments (e.g. the subject) before `--source`.
pub fn audit_append_args<'a>(log: &'a str, time: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "audit",
        "append",
        "--log",
        log,
        "--origin",
        "praxis.example/audit",
        "--audit-key",
        "a.key",
        "--actor-id",
        "dr.mueller",
        "--role",
        "doctor",
        "--action",
        "read",
    ];
    args.extend_from_slice(extra);
    args.extend(["--source", "pms", "--time", time]);
    args
}

/// `audit checkpoint` of `l.log` signed with `s.key`, written to `out`.
pub fn audit_checkpoint_args(out: &str) -> [&str; 8] {
    [
        "audit",
        "checkpoint",
        "--log",
        "l.log",
        "--key",
        "s.key",
        "-o",
        out,
    ]
}

/// `audit verify` of `l.log` against `checkpoint`, signed by `vkey`.
pub fn audit_verify_args<'a>(checkpoint: &'a str, vkey: &'a str) -> [&'a str; 8] {
    [
        "audit",
        "verify",
        "--log",
        "l.log",
        "--checkpoint",
        checkpoint,
        "--vkey",
        vkey,
    ]
}

/// `audit verify-proof` of the proof file `proof` against `checkpoint`,
/// signed by `vkey`.
pub fn audit_verify_proof_args<'a>(
    proof: &'a str,
    checkpoint: &'a str,
    vkey: &'a str,
) -> [&'a str; 8] {
    [
        "audit",
        "verify-proof",
        "--proof",
        proof,
        "--checkpoint",
        checkpoint,
        "--vkey",
        vkey,
    ]
}
