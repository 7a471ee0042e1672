#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! New files that must never replace an existing one (issue 11): the secret
//! keys of `keygen -o` and `audit keygen -o` and the new ledger of
//! `consent init -o` appear under their name whole or not at all, are
//! owner-only (0600), and never replace a name that exists, even when many
//! processes create the same name at once.
//!
//! "Killed while writing" is made exact with a file size limit of 0
//! (`ulimit -f 0`): the first write of file data raises SIGXFSZ, which ends
//! the process, so the kill lands between creating the file and writing it,
//! where a file created under its own name would be left empty. Kills with
//! SIGKILL and SIGTERM at spread-out moments are checked as well. Both ways
//! of creating files are tested: unnamed (`O_TMPFILE`, the default on
//! Linux) and the named fallback (`CADUCEUS_NO_TMPFILE=1`).
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{TempDir, audit_append_args};

/// SIGXFSZ on Linux.
const SIGXFSZ: i32 = 25;
/// What an existing file holds before a command is told to create it.
const OLD: &[u8] = b"an existing file\n";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Unnamed,
    Fallback,
}

const MODES: [Mode; 2] = [Mode::Unnamed, Mode::Fallback];

/// A command that creates the new file `name` in its directory, and what
/// it says when the name exists.
struct Creator {
    args: &'static [&'static str],
    name: &'static str,
    exists_message: &'static str,
}

const CREATORS: [Creator; 3] = [
    Creator {
        args: &["keygen", "--kind", "staff", "-o", "k.key"],
        name: "k.key",
        exists_message: "refusing to overwrite existing file",
    },
    Creator {
        args: &["audit", "keygen", "--kind", "pseudonym", "-o", "a.key"],
        name: "a.key",
        exists_message: "(it must not exist yet)",
    },
    Creator {
        args: &["consent", "init", "-o", "c.ledger"],
        name: "c.ledger",
        exists_message: "init refuses to overwrite an existing ledger",
    },
];

/// `caduceus ARGS` in `dir`, files created the way `mode` says; with
/// `limited`, under a file size limit of 0.
fn command(dir: &TempDir, mode: Mode, args: &[&str], limited: bool) -> Command {
    let bin = env!("CARGO_BIN_EXE_caduceus");
    let mut cmd = if limited {
        let mut sh = Command::new("sh");
        sh.args(["-c", "ulimit -f 0 && exec \"$@\"", "sh", bin]);
        sh
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match mode {
        Mode::Unnamed => cmd.env_remove("CADUCEUS_NO_TMPFILE"),
        Mode::Fallback => cmd.env("CADUCEUS_NO_TMPFILE", "1"),
    };
    cmd
}

fn run(dir: &TempDir, mode: Mode, args: &[&str]) -> Output {
    command(dir, mode, args, false).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn permissions(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Hidden temporary files of the fallback for `name`.
fn is_hidden_temp(file: &str, name: &str) -> bool {
    file.starts_with(&format!(".{name}.")) && file.ends_with(".tmp")
}

/// `name` in `dir` is complete: owner-only, and the commands that use it
/// accept it.
fn assert_complete(dir: &TempDir, creator: &Creator, what: &str) {
    let path = dir.path(creator.name);
    assert_eq!(permissions(&path), 0o600, "{what}");
    let check: Vec<&str> = match creator.name {
        "k.key" => vec!["pubkey", "-i", "k.key"],
        "a.key" => audit_append_args("l.log", "1738324800", &[]),
        _ => vec![
            "consent",
            "history",
            "--ledger",
            "c.ledger",
            "--subject",
            "p-1",
        ],
    };
    let out = run(dir, Mode::Unnamed, &check);
    assert!(out.status.success(), "{what}: {check:?}: {}", stderr(&out));
    let _ = fs::remove_file(dir.path("l.log"));
}

#[test]
fn a_command_killed_while_writing_leaves_no_file_under_the_name() {
    for mode in MODES {
        for creator in &CREATORS {
            let what = format!("{mode:?} {:?}", creator.args);
            let dir = TempDir::new("new-files", "xfsz");
            let out = command(&dir, mode, creator.args, true).output().unwrap();
            assert_eq!(out.status.signal(), Some(SIGXFSZ), "{what}: {out:?}");
            assert!(!dir.path(creator.name).exists(), "{what}");
            let left = dir.listing();
            match mode {
                Mode::Unnamed => assert!(left.is_empty(), "{what}: {left:?}"),
                // The killed process cannot remove its hidden temporary file;
                // nothing was written to it.
                Mode::Fallback => {
                    assert_eq!(left.len(), 1, "{what}: {left:?}");
                    assert!(is_hidden_temp(&left[0], creator.name), "{what}: {left:?}");
                    assert_eq!(fs::metadata(dir.path(&left[0])).unwrap().len(), 0);
                }
            }
            // The name is still free: without the limit the command succeeds.
            let out = run(&dir, mode, creator.args);
            assert!(out.status.success(), "{what}: {}", stderr(&out));
            assert_complete(&dir, creator, &what);
        }
    }
}

#[test]
fn killed_at_any_moment_the_name_holds_nothing_or_the_whole_file() {
    for mode in MODES {
        for (signal, number) in [("KILL", 9), ("TERM", 15)] {
            for step in 0..8u64 {
                let creator = &CREATORS[step as usize % CREATORS.len()];
                let what = format!(
                    "{mode:?} SIG{signal} after {}us {:?}",
                    step * 2500,
                    creator.args
                );
                let dir = TempDir::new("new-files", "kill");
                let child = command(&dir, mode, creator.args, false).spawn().unwrap();
                std::thread::sleep(Duration::from_micros(step * 2500));
                let _ = Command::new("kill")
                    .args(["-s", signal, &child.id().to_string()])
                    .status()
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                let killed =
                    out.status.signal() == Some(number) || out.status.code() == Some(128 + number);
                assert!(killed || out.status.success(), "{what}: {out:?}");
                if dir.path(creator.name).exists() {
                    assert_complete(&dir, creator, &what);
                } else {
                    assert!(killed, "{what}: {out:?}");
                }
                // Only the fallback under SIGKILL can leave its hidden file.
                for file in dir.listing() {
                    assert!(
                        file == creator.name
                            || (mode == Mode::Fallback
                                && signal == "KILL"
                                && is_hidden_temp(&file, creator.name)),
                        "{what}: {file}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_existing_name_is_never_replaced() {
    for mode in MODES {
        for creator in &CREATORS {
            let what = format!("{mode:?} {:?}", creator.args);
            let dir = TempDir::new("new-files", "exists");
            fs::write(dir.path(creator.name), OLD).unwrap();
            let out = run(&dir, mode, creator.args);
            assert_eq!(out.status.code(), Some(3), "{what}: {out:?}");
            assert!(
                stderr(&out).contains(creator.exists_message),
                "{what}: {out:?}"
            );
            assert_eq!(fs::read(dir.path(creator.name)).unwrap(), OLD, "{what}");
            assert_eq!(dir.listing(), [creator.name], "{what}");
            // A dangling symlink is not followed: its target is not created.
            fs::remove_file(dir.path(creator.name)).unwrap();
            std::os::unix::fs::symlink("target", dir.path(creator.name)).unwrap();
            let out = run(&dir, mode, creator.args);
            assert_eq!(out.status.code(), Some(3), "{what}: {out:?}");
            assert!(
                stderr(&out).contains(creator.exists_message),
                "{what}: {out:?}"
            );
            assert_eq!(dir.listing(), [creator.name], "{what}");
        }
    }
}

#[test]
fn twenty_racing_creators_of_one_name_make_exactly_one_whole_file() {
    for mode in MODES {
        for creator in &CREATORS {
            let what = format!("{mode:?} {:?}", creator.args);
            let dir = TempDir::new("new-files", "race");
            let children: Vec<_> = (0..20)
                .map(|_| command(&dir, mode, creator.args, false).spawn().unwrap())
                .collect();
            let outs: Vec<Output> = children
                .into_iter()
                .map(|c| c.wait_with_output().unwrap())
                .collect();
            let (won, lost): (Vec<&Output>, Vec<&Output>) =
                outs.iter().partition(|o| o.status.success());
            assert_eq!(won.len(), 1, "{what}: {outs:?}");
            for out in lost {
                assert_eq!(out.status.code(), Some(3), "{what}: {out:?}");
                assert!(
                    stderr(out).contains(creator.exists_message),
                    "{what}: {out:?}"
                );
            }
            assert_eq!(dir.listing(), [creator.name], "{what}");
            assert_complete(&dir, creator, &what);
            if creator.name == "k.key" {
                // The key on disk is the winner's: the public key it printed.
                let printed = stderr(won[0]);
                let pubkey = run(&dir, mode, &["pubkey", "-i", "k.key"]);
                let public = String::from_utf8(pubkey.stdout).unwrap();
                assert_eq!(printed, format!("Public key: {public}"), "{what}");
            }
        }
    }
}
