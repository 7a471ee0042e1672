#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! No named file ever holds partial plaintext (issue 11): `open -o` of a
//! 128 MiB envelope, killed with SIGKILL, SIGTERM or SIGINT right after it
//! started, once it has begun writing, and half-way through, leaves no file
//! on disk that holds any of the plaintext, and the output is either absent
//! or, when a complete one was there before, unchanged. SIGTERM and SIGINT
//! exit with 143 and 130.
//!
//! Both ways of creating outputs are tested: unnamed (`O_TMPFILE`, the
//! default on Linux: while `open` writes, the output directory holds no new
//! name at all) and the named fallback (`CADUCEUS_NO_TMPFILE=1`: a hidden
//! temporary file, removed by the signal handler). SIGKILL cannot be
//! handled, so on the fallback it leaves the hidden temporary file behind;
//! the test shows that too, as docs/HARDENING.md says.
//!
//! Files scanned are read whole and searched for the marker the plaintext
//! is made of (contents, not names). Kills are placed by watching the
//! process: its caught-signal mask (`/proc/PID/status`, so "right after
//! start" means the handler is installed) and its written bytes
//! (`/proc/PID/io`).
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{LABELS, TempDir, run_caduceus};

/// What the plaintext is made of, repeated.
const MARKER: &[u8] = b"PLAINTEXT-MARKER-7f3a91 Befund: vertraulich\n";
/// Size of the plaintext.
const SIZE: usize = 128 << 20;
/// A complete earlier output, which a killed `open` must leave as it is.
const OLD: &[u8] = b"an earlier, complete output\n";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Sig {
    Kill,
    Term,
    Int,
}

impl Sig {
    fn name(self) -> &'static str {
        match self {
            Sig::Kill => "KILL",
            Sig::Term => "TERM",
            Sig::Int => "INT",
        }
    }

    fn number(self) -> i32 {
        match self {
            Sig::Kill => 9,
            Sig::Term => 15,
            Sig::Int => 2,
        }
    }
}

/// Where in the run the signal is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Point {
    /// The signal handler is installed; nothing written yet.
    Started,
    /// At least 1 MiB of plaintext written.
    Writing,
    /// At least half the plaintext written.
    Halfway,
}

/// How outputs are created.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Unnamed,
    Fallback,
}

/// One line of `/proc/PID/FILE` starting with `key`, without it; `None`
/// once the process is gone.
fn proc_field(pid: u32, file: &str, key: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

fn reached(pid: u32, point: Point) -> bool {
    let caught = proc_field(pid, "status", "SigCgt:")
        .map(|hex| u64::from_str_radix(&hex, 16).unwrap())
        .unwrap_or(0);
    let handler = [Sig::Int, Sig::Term]
        .iter()
        .all(|s| caught & (1 << (s.number() - 1)) != 0);
    let written: u64 = proc_field(pid, "io", "wchar:")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    match point {
        Point::Started => handler,
        Point::Writing => handler && written >= 1 << 20,
        Point::Halfway => handler && written >= SIZE as u64 / 2,
    }
}

/// Wait until `child` has reached `point`; it must not finish first.
fn wait_for(child: &mut Child, point: Point) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reached(child.id(), point) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("open ended ({status}) before {point:?}");
        }
        assert!(Instant::now() < deadline, "open never reached {point:?}");
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// The names in `dir` of files that hold the marker.
fn holding_plaintext(dir: &TempDir) -> Vec<String> {
    dir.listing()
        .into_iter()
        .filter(|name| {
            let data = fs::read(dir.path(name)).unwrap();
            data.windows(MARKER.len()).any(|w| w == MARKER)
        })
        .collect()
}

fn hidden_temps(dir: &TempDir) -> Vec<String> {
    dir.listing()
        .into_iter()
        .filter(|n| n.starts_with(".out.") && n.ends_with(".tmp"))
        .collect()
}

/// The practice key and a sealed envelope of the marker plaintext, in a
/// directory of their own (the plaintext itself is never written to disk).
struct Envelope {
    dir: TempDir,
}

impl Envelope {
    fn new() -> Self {
        let dir = TempDir::new_in(
            Path::new(env!("CARGO_TARGET_TMPDIR")),
            "plaintext",
            "envelope",
        );
        let keygen = run_caduceus(
            None,
            &["keygen", "--kind", "practice", "-o", &dir.arg("k.key")],
            None,
        );
        assert!(keygen.status.success());
        let public = run_caduceus(None, &["pubkey", "-i", &dir.arg("k.key")], None);
        assert!(public.status.success());
        let public = String::from_utf8(public.stdout).unwrap();
        let plaintext = MARKER.repeat(SIZE / MARKER.len() + 1);
        let mut args = vec!["seal", "--to", public.trim()];
        args.extend(LABELS);
        let envelope = dir.arg("in.cdu");
        args.extend(["-o", &envelope]);
        let sealed = run_caduceus(None, &args, Some(&plaintext[..SIZE]));
        assert!(sealed.status.success(), "{sealed:?}");
        assert!(holding_plaintext(&dir).is_empty());
        Envelope { dir }
    }

    /// Start `open -o out_dir/out`.
    fn open(&self, out_dir: &TempDir, mode: Mode) -> Child {
        caduceus(
            mode,
            &["open", "--identity", &self.dir.arg("k.key")],
            &["-i", &self.dir.arg("in.cdu"), "-o", &out_dir.arg("out")],
        )
        .spawn()
        .unwrap()
    }
}

/// The `caduceus` command with `args` and `more`, outputs created the way
/// `mode` says, standard error piped.
fn caduceus(mode: Mode, args: &[&str], more: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caduceus"));
    cmd.args(args)
        .args(more)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match mode {
        Mode::Unnamed => cmd.env_remove("CADUCEUS_NO_TMPFILE"),
        Mode::Fallback => cmd.env("CADUCEUS_NO_TMPFILE", "1"),
    };
    cmd
}

fn permissions(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn kill(pid: u32, sig: Sig) {
    let status = Command::new("kill")
        .args(["-s", sig.name(), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The exit of a process sent `sig`: killed by SIGKILL, exit 128 + signal
/// (with one line saying so) for the signals the handler catches.
fn assert_exit(status: ExitStatus, stderr: &str, sig: Sig) {
    if sig == Sig::Kill {
        assert_eq!(status.signal(), Some(9), "{status}");
    } else {
        assert_eq!(
            status.code(),
            Some(128 + sig.number()),
            "{status}: {stderr}"
        );
        assert_eq!(
            stderr,
            format!(
                "caduceus: error: interrupted by SIG{}; unfinished output files were removed\n",
                sig.name()
            )
        );
    }
}

/// Run `open`, send `sig` at `point`, and check what is on disk. With an
/// earlier output, it must be left unchanged; without, there must be none.
fn kill_open_at(envelope: &Envelope, mode: Mode, sig: Sig, point: Point, earlier: bool) {
    let what = format!("{mode:?} {sig:?} at {point:?} (earlier output: {earlier})");
    let out_dir = TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")), "plaintext", "out");
    if earlier {
        fs::write(out_dir.path("out"), OLD).unwrap();
    }
    let before = out_dir.listing();
    let mut child = envelope.open(&out_dir, mode);
    wait_for(&mut child, point);
    if point != Point::Started {
        match mode {
            // Being written, the output has no name in the directory.
            Mode::Unnamed => assert_eq!(out_dir.listing(), before, "{what}"),
            Mode::Fallback => assert_eq!(hidden_temps(&out_dir).len(), 1, "{what}"),
        }
    }
    kill(child.id(), sig);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_exit(output.status, &stderr, sig);

    let temps = hidden_temps(&out_dir);
    if mode == Mode::Fallback && sig == Sig::Kill {
        // The one case nothing can clean up: the hidden temporary file stays,
        // with plaintext in it (right after start, it may not exist yet).
        if point == Point::Started {
            assert!(temps.len() <= 1, "{what}: {temps:?}");
        } else {
            assert_eq!(temps.len(), 1, "{what}");
            assert_eq!(holding_plaintext(&out_dir), temps, "{what}");
        }
        for temp in &temps {
            fs::remove_file(out_dir.path(temp)).unwrap();
        }
    }
    assert_eq!(out_dir.listing(), before, "{what}");
    assert_eq!(holding_plaintext(&out_dir), Vec::<String>::new(), "{what}");
    if earlier {
        assert_eq!(fs::read(out_dir.path("out")).unwrap(), OLD, "{what}");
    }
}

#[test]
fn killed_open_leaves_no_plaintext_on_disk() {
    let envelope = Envelope::new();
    // An uninterrupted run writes the whole plaintext, so the marker scan
    // finds it (and the envelope is big enough to be interrupted).
    let out_dir = TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")), "plaintext", "out");
    let done = envelope
        .open(&out_dir, Mode::Unnamed)
        .wait_with_output()
        .unwrap();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        fs::metadata(out_dir.path("out")).unwrap().len(),
        SIZE as u64
    );
    assert_eq!(holding_plaintext(&out_dir), ["out"]);
    drop(out_dir);

    for mode in [Mode::Unnamed, Mode::Fallback] {
        for sig in [Sig::Kill, Sig::Term, Sig::Int] {
            for point in [Point::Started, Point::Writing, Point::Halfway] {
                // Half-way runs replace an earlier complete output.
                kill_open_at(&envelope, mode, sig, point, point == Point::Halfway);
            }
        }
    }
}

/// Both ways of creating outputs keep what `-o` always did: a new file is
/// owner-only for plaintext and follows the umask otherwise, an existing
/// file is replaced, a symlink is kept and its target replaced, a device is
/// written in place, and nothing else is left in the directory.
#[test]
fn outputs_land_the_same_either_way() {
    let dir = TempDir::new("plaintext", "modes");
    let keygen = run_caduceus(
        None,
        &["keygen", "--kind", "practice", "-o", &dir.arg("k.key")],
        None,
    );
    assert!(keygen.status.success());
    let public = run_caduceus(None, &["pubkey", "-i", &dir.arg("k.key")], None);
    let public = String::from_utf8(public.stdout).unwrap();
    let plaintext = MARKER.repeat(3000);
    fs::write(dir.path("in.bin"), &plaintext).unwrap();
    // A file made by the test itself shows what the umask gives.
    let umask_mode = permissions(&dir.path("in.bin"));
    let identity = dir.arg("k.key");
    for mode in [Mode::Unnamed, Mode::Fallback] {
        let out = TempDir::new("plaintext", "modes-out");
        let run = |args: &[&str], more: &[&str]| {
            let done = caduceus(mode, args, more).output().unwrap();
            assert!(done.status.success(), "{mode:?} {args:?}: {done:?}");
        };
        let mut seal = vec!["seal", "--to", public.trim()];
        seal.extend(LABELS);
        run(&seal, &["-i", &dir.arg("in.bin"), "-o", &out.arg("in.cdu")]);
        assert_eq!(permissions(&out.path("in.cdu")), umask_mode, "{mode:?}");
        let open = ["open", "--identity", identity.as_str()];
        let envelope = out.arg("in.cdu");
        run(&open, &["-i", &envelope, "-o", &out.arg("new")]);
        assert_eq!(fs::read(out.path("new")).unwrap(), plaintext, "{mode:?}");
        assert_eq!(permissions(&out.path("new")), 0o600, "{mode:?}");
        // Replaced.
        fs::write(out.path("old"), OLD).unwrap();
        run(&open, &["-i", &envelope, "-o", &out.arg("old")]);
        assert_eq!(fs::read(out.path("old")).unwrap(), plaintext, "{mode:?}");
        // The link stays a link; its target gets the output.
        fs::write(out.path("target"), OLD).unwrap();
        std::os::unix::fs::symlink("target", out.path("link")).unwrap();
        run(&open, &["-i", &envelope, "-o", &out.arg("link")]);
        assert!(fs::symlink_metadata(out.path("link")).unwrap().is_symlink());
        assert_eq!(fs::read(out.path("target")).unwrap(), plaintext, "{mode:?}");
        // A device is written in place.
        run(&open, &["-i", &envelope, "-o", "/dev/null"]);
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert_eq!(
            out.listing(),
            ["in.cdu", "link", "new", "old", "target"],
            "{mode:?}"
        );
    }
}
