//! Inputs and outputs: standard streams or files.
//!
//! No named file ever holds a partial output (such as unauthenticated or
//! unfinished plaintext). On Linux an output file is created unnamed
//! (`O_TMPFILE` in the destination's directory), written, synced, linked to a
//! fresh hidden name and renamed over the destination. Where that is not
//! available (another Unix, a file system without `O_TMPFILE`, no `/proc`, or
//! `CADUCEUS_NO_TMPFILE=1`) it is written under a hidden temporary name that
//! is registered here, and the signal handler (`crate::signals`) removes
//! every registered file on SIGINT, SIGTERM and SIGHUP. A failed command
//! leaves no output file either way. New files that must never replace an
//! existing one (secret keys, a new ledger) are made the same way by
//! [`write_new`], and get their name only when complete, by an operation that
//! fails if the name exists. See docs/HARDENING.md, "Output files".

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use crate::error::{Result, fail};

/// Largest identity or recipients file accepted (1 MiB).
const MAX_KEY_FILE: u64 = 1 << 20;

fn is_stdio(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p.as_os_str() == "-")
}

/// An input stream and, for a regular file, its size.
pub struct Input {
    /// The stream.
    pub reader: Box<dyn Read>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// Open `path` for reading, or standard input for `None` or `-`.
pub fn open_input(path: Option<&Path>) -> Result<Input> {
    match path {
        Some(p) if !is_stdio(Some(p)) => {
            let file = File::open(p)
                .map_err(|e| fail(format!("cannot open input file {}: {e}", p.display())))?;
            let meta = file
                .metadata()
                .map_err(|e| fail(format!("cannot read input file {}: {e}", p.display())))?;
            if meta.is_dir() {
                return Err(fail(format!(
                    "input {} is a directory, not a file",
                    p.display()
                )));
            }
            let size = meta.is_file().then_some(meta.len());
            Ok(Input {
                reader: Box::new(file),
                size,
            })
        }
        _ => Ok(Input {
            reader: Box::new(io::stdin().lock()),
            size: None,
        }),
    }
}

/// Read all of `path` (standard input for `-`) into `buf`, refusing an input
/// of more than `limit` bytes with "WHAT PATH is too large (more than
/// LIMIT)". Every size-limited input of the command line goes through here.
///
/// A regular file's size is checked before anything is read, so a file past
/// the limit costs nothing however large it is, and `buf` is reserved for
/// the whole file at once (a [`Zeroizing`] buffer is then never reallocated,
/// which would leave an unzeroized copy behind). Standard input, a pipe or a
/// file that grows while it is read is read up to `limit + 1` bytes and
/// refused the same way.
pub fn read_limited(path: &Path, limit: u64, what: &str, buf: &mut Vec<u8>) -> Result<()> {
    let describe = |e: io::Error| fail(format!("cannot read {what} {}: {e}", path.display()));
    let too_large = || {
        fail(format!(
            "{what} {} is too large (more than {})",
            path.display(),
            size_text(limit)
        ))
    };
    let reader: Box<dyn Read> = if is_stdio(Some(path)) {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(path).map_err(describe)?;
        let meta = file.metadata().map_err(describe)?;
        if meta.is_file() {
            if meta.len() > limit {
                return Err(too_large());
            }
            let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
            buf.try_reserve(len.saturating_add(1)).map_err(|_| {
                fail(format!(
                    "cannot read {what} {}: not enough memory for {} bytes",
                    path.display(),
                    meta.len()
                ))
            })?;
        }
        Box::new(file)
    };
    reader
        .take(limit.saturating_add(1))
        .read_to_end(buf)
        .map_err(describe)?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(())
}

/// As [`read_limited`], for UTF-8 text.
pub fn read_limited_text(path: &Path, limit: u64, what: &str) -> Result<String> {
    let mut raw = Vec::new();
    read_limited(path, limit, what, &mut raw)?;
    String::from_utf8(raw).map_err(|_| fail(format!("{what} {} is not UTF-8 text", path.display())))
}

/// A size limit for messages: "1 MiB", "16 GiB", "65536 bytes".
pub fn size_text(limit: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| limit >= *unit && limit.is_multiple_of(*unit))
        .map_or_else(
            || format!("{limit} bytes"),
            |(unit, name)| format!("{} {name}", limit / unit),
        )
}

/// Read a small text file holding keys (identity or recipients file) into a
/// buffer that is zeroized on drop.
pub fn read_key_file(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    // Preallocated so that a key file of usual size read from a pipe is
    // never copied by a reallocation (which would leave an unzeroized copy
    // behind); a regular file is reserved for at once.
    let mut raw = Zeroizing::new(Vec::with_capacity(64 * 1024));
    read_limited(path, MAX_KEY_FILE, what, &mut raw)?;
    let mut text = Zeroizing::new(String::with_capacity(raw.len()));
    match std::str::from_utf8(&raw) {
        Ok(s) => text.push_str(s),
        Err(_) => {
            return Err(fail(format!(
                "{what} {} is not a text file of keys",
                path.display()
            )));
        }
    }
    Ok(text)
}

/// Where output goes.
enum Sink {
    /// Standard output.
    Stdout(Box<dyn Write>),
    /// An existing non-regular file (a device or pipe), written in place.
    Direct(File),
    /// A new file, moved to `dest` on commit.
    File {
        file: File,
        staged: Staged,
        dest: PathBuf,
    },
}

/// How a new output file exists until it is committed.
enum Staged {
    /// Unnamed (`O_TMPFILE`): nothing on disk names it, and the kernel frees
    /// it when the process ends, however it ends.
    #[cfg(target_os = "linux")]
    Unnamed,
    /// A hidden temporary file of this name, registered in [`UNFINISHED`].
    Named(PathBuf),
}

/// Hidden temporary output files that exist now: created and not yet
/// renamed into place or removed. Files are created, renamed and removed
/// with this lock held, so the signal handler never misses one.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Remove every unfinished hidden output file, and keep the registry locked
/// while the returned guard lives, so that no new one is created or renamed
/// into place: the signal handler holds it until the process exits.
pub fn remove_unfinished() -> MutexGuard<'static, Vec<PathBuf>> {
    let mut list = unfinished();
    for path in list.drain(..) {
        let _ = fs::remove_file(path);
    }
    list
}

fn forget_unfinished(list: &mut Vec<PathBuf>, path: &Path) {
    list.retain(|p| p != path);
}

/// An output stream. Dropping it without [`Output::commit`] removes a
/// temporary file, so a failed command leaves no output file.
pub struct Output {
    sink: Option<Sink>,
}

/// How to create an output.
#[derive(Debug, Clone, Copy)]
pub struct OutputMode {
    /// Create files readable by the owner only (mode 0600): for plaintext
    /// and secret keys.
    pub private: bool,
    /// Refuse to write to a terminal (binary envelopes).
    pub binary: bool,
}

impl OutputMode {
    /// An envelope: binary, so never written to a terminal; not secret.
    pub const ENVELOPE: Self = Self {
        private: false,
        binary: true,
    };
    /// Plaintext: files are owner-only (mode 0600).
    pub const PLAINTEXT: Self = Self {
        private: true,
        binary: false,
    };
    /// Text that is not secret, e.g. public keys.
    pub const PUBLIC_TEXT: Self = Self {
        private: false,
        binary: false,
    };
}

impl Output {
    /// Prepare an output to `path`, or standard output for `None` or `-`.
    pub fn create(path: Option<&Path>, mode: OutputMode) -> Result<Self> {
        let sink = match path {
            Some(p) if !is_stdio(Some(p)) => file_sink(p, mode)?,
            _ => {
                if mode.binary && io::stdout().is_terminal() {
                    return Err(fail(
                        "refusing to write a binary envelope to a terminal; use -o FILE or redirect standard output",
                    ));
                }
                Sink::Stdout(stdout_writer())
            }
        };
        Ok(Self { sink: Some(sink) })
    }

    fn writer(&mut self) -> io::Result<&mut dyn Write> {
        match self.sink.as_mut() {
            Some(Sink::Stdout(w)) => Ok(w.as_mut()),
            Some(Sink::Direct(f)) | Some(Sink::File { file: f, .. }) => Ok(f),
            None => Err(io::Error::other("output already closed")),
        }
    }

    /// As [`Output::create`], for an output the operator named with `-o`:
    /// an existing consent ledger, audit log, keyring file or secret key
    /// file is refused (usage error), never replaced. State files are
    /// changed only by their own commands, under their lock.
    pub fn create_user(path: Option<&Path>, mode: OutputMode) -> Result<Self> {
        if let Some(p) = path.filter(|p| !is_stdio(Some(p)))
            && let Some(kind) = protected_kind(p)
        {
            return Err(crate::error::usage(format!(
                "output {} is an existing {kind}; refusing to overwrite it (write to a new file)",
                p.display()
            )));
        }
        Self::create(path, mode)
    }

    /// Flush and, for a file, move it into place.
    pub fn commit(mut self) -> Result<()> {
        let write_err = |e: io::Error| fail(format!("cannot write output: {e}"));
        match self.sink.take() {
            Some(Sink::Stdout(mut w)) => w.flush().map_err(write_err),
            Some(Sink::Direct(mut f)) => f.flush().map_err(write_err),
            Some(Sink::File {
                mut file,
                staged,
                dest,
            }) => {
                // Synced before it gets a name, so a crash leaves the old
                // file or the whole new one, never a named partial file.
                let synced = file.flush().and_then(|()| file.sync_all());
                synced
                    .and_then(|()| staged.commit(file, &dest))
                    .map_err(|e| fail(format!("cannot write output file {}: {e}", dest.display())))
            }
            None => Ok(()),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(Sink::File { file, staged, .. }) = self.sink.take() {
            drop(file);
            staged.discard();
        }
    }
}

impl Staged {
    /// Give the synced `file` the name `dest`, replacing what was there,
    /// and sync the directory. On error nothing new is left on disk.
    fn commit(self, file: File, dest: &Path) -> io::Result<()> {
        let dir = parent_dir(dest);
        let mut list = unfinished();
        let tmp = match self {
            #[cfg(target_os = "linux")]
            Staged::Unnamed => {
                // linkat cannot replace a file: link to a fresh hidden name
                // (which then holds the whole, synced output), then rename.
                let proc_fd = proc_fd_path(&file);
                with_hidden_name(dest, |tmp| {
                    rustix::fs::linkat(
                        rustix::fs::CWD,
                        &proc_fd,
                        rustix::fs::CWD,
                        tmp,
                        rustix::fs::AtFlags::SYMLINK_FOLLOW,
                    )
                    .map_err(io::Error::from)
                })?
                .0
            }
            Staged::Named(tmp) => tmp,
        };
        // Closed before the rename (which some systems require).
        drop(file);
        let renamed = fs::rename(&tmp, dest);
        if renamed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        forget_unfinished(&mut list, &tmp);
        drop(list);
        renamed?;
        sync_dir(&dir);
        Ok(())
    }

    /// Remove what an uncommitted output left (nothing, when unnamed).
    fn discard(self) {
        match self {
            #[cfg(target_os = "linux")]
            Staged::Unnamed => {}
            Staged::Named(tmp) => {
                let mut list = unfinished();
                let _ = fs::remove_file(&tmp);
                forget_unfinished(&mut list, &tmp);
            }
        }
    }
}

fn file_sink(path: &Path, mode: OutputMode) -> Result<Sink> {
    // Follow a symlink to the file it names, so the link itself is kept.
    let dest = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).unwrap_or(path.into()),
        _ => path.to_path_buf(),
    };
    match fs::metadata(&dest) {
        Ok(m) if m.is_dir() => {
            return Err(fail(format!(
                "output {} is a directory, not a file",
                path.display()
            )));
        }
        Ok(m) if !m.is_file() => {
            // A device or a pipe (e.g. /dev/null): write in place, never rename over it.
            let file = OpenOptions::new()
                .write(true)
                .open(&dest)
                .map_err(|e| fail(format!("cannot open output {}: {e}", path.display())))?;
            return Ok(Sink::Direct(file));
        }
        _ => {}
    }
    if dest.file_name().is_none() {
        return Err(fail(format!(
            "output {} is not a file name",
            path.display()
        )));
    }
    let create_err =
        |e: io::Error| fail(format!("cannot create output file {}: {e}", path.display()));
    #[cfg(target_os = "linux")]
    if unnamed_allowed()
        && let Some(file) = create_unnamed(&parent_dir(&dest), mode.private).map_err(create_err)?
    {
        return Ok(Sink::File {
            file,
            staged: Staged::Unnamed,
            dest,
        });
    }
    // Registered while the lock is held, so a signal that arrives at any
    // point finds the file.
    let mut list = unfinished();
    let (tmp, file) =
        with_hidden_name(&dest, |tmp| create_new(tmp, mode.private)).map_err(create_err)?;
    list.push(tmp.clone());
    Ok(Sink::File {
        file,
        staged: Staged::Named(tmp),
        dest,
    })
}

/// Set to `1`, output files are always created under a hidden temporary name
/// (the fallback where `O_TMPFILE` is not available), e.g. to test it.
#[cfg(target_os = "linux")]
const NO_TMPFILE_VAR: &str = "CADUCEUS_NO_TMPFILE";

/// Whether new files may be created unnamed (`O_TMPFILE`): unless
/// [`NO_TMPFILE_VAR`] is `1`.
#[cfg(target_os = "linux")]
fn unnamed_allowed() -> bool {
    std::env::var_os(NO_TMPFILE_VAR).is_none_or(|v| v != "1")
}

/// Make a rename or link in `dir` durable. The file is complete and in
/// place either way, so this is best effort (some file systems cannot sync
/// a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Create the new file `path` holding exactly `bytes` (mode 0600 on Unix
/// when `private`), or fail and leave nothing. The name appears only once
/// the whole content is written and synced, so a kill or crash at any point
/// leaves no file or the complete one under `path`, and it is given by an
/// operation that fails with [`io::ErrorKind::AlreadyExists`] when anything
/// (a file, a directory, a symlink, even a dangling one) already has the
/// name: an existing file is never replaced, and of several processes
/// creating the same name exactly one succeeds.
///
/// On Linux the file is unnamed (`O_TMPFILE`) until it is linked to `path`;
/// elsewhere (see the module documentation) it is a registered hidden
/// temporary file, moved to `path` by `renameat2(RENAME_NOREPLACE)` on
/// Linux, else hard-linked to `path` and removed.
pub fn write_new(path: &Path, private: bool, bytes: &[u8]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    let unnamed = unnamed_allowed();
    #[cfg(not(target_os = "linux"))]
    let unnamed = false;
    write_new_with(path, private, bytes, unnamed)
}

/// [`write_new`], trying `O_TMPFILE` first only when `unnamed`.
fn write_new_with(path: &Path, private: bool, bytes: &[u8], unnamed: bool) -> io::Result<()> {
    let dir = parent_dir(path);
    #[cfg(target_os = "linux")]
    if unnamed && let Some(mut file) = create_unnamed(&dir, private)? {
        file.write_all(bytes)?;
        file.sync_all()?;
        // Under the registry's lock: after a signal nothing gets a name.
        let list = unfinished();
        let linked = rustix::fs::linkat(
            rustix::fs::CWD,
            proc_fd_path(&file),
            rustix::fs::CWD,
            path,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        );
        drop(list);
        linked?;
        sync_dir(&dir);
        return Ok(());
    }
    #[cfg(not(target_os = "linux"))]
    let _ = unnamed;
    let mut list = unfinished();
    let (tmp, mut file) = with_hidden_name(path, |tmp| create_new(tmp, private))?;
    list.push(tmp.clone());
    drop(list);
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let mut list = unfinished();
    let placed = written.and_then(|()| place_new(&tmp, path));
    if placed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    forget_unfinished(&mut list, &tmp);
    drop(list);
    placed?;
    sync_dir(&dir);
    Ok(())
}

/// Give the complete file `tmp` the name `dest`, failing with
/// [`io::ErrorKind::AlreadyExists`] if `dest` exists; `tmp` is gone
/// afterwards on success.
fn place_new(tmp: &Path, dest: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, tmp, CWD, dest, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            // Kernels or file systems without the flag: link instead.
            Err(e) if [Errno::INVAL, Errno::NOSYS, Errno::OPNOTSUPP].contains(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    fs::hard_link(tmp, dest)?;
    // `dest` holds the whole file now; a leftover `tmp` is only a second name.
    let _ = fs::remove_file(tmp);
    Ok(())
}

/// The directory of `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Call `make` with a fresh hidden name `.NAME.<16 hex digits>.tmp` beside
/// `dest` until it does not fail with "already exists" (8 tries).
fn with_hidden_name<T>(
    dest: &Path,
    mut make: impl FnMut(&Path) -> io::Result<T>,
) -> io::Result<(PathBuf, T)> {
    let name = dest.file_name().unwrap_or(OsStr::new("output"));
    let dir = parent_dir(dest);
    let mut last_err = None;
    for _ in 0..8 {
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).map_err(|_| {
            io::Error::other("the operating system's random number generator failed")
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", hex::encode(tag)));
        let tmp = dir.join(tmp_name);
        match make(&tmp) {
            Ok(made) => return Ok((tmp, made)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// An unnamed file in `dir` (`O_TMPFILE`), or `None` where the kernel, the
/// file system or a missing `/proc` (needed to link it unprivileged) does
/// not allow one.
#[cfg(target_os = "linux")]
fn create_unnamed(dir: &Path, private: bool) -> io::Result<Option<File>> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    let mode = Mode::from_raw_mode(if private { 0o600 } else { 0o666 });
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    match rustix::fs::open(dir, flags, mode) {
        Ok(fd) => {
            let file = File::from(fd);
            Ok(fs::symlink_metadata(proc_fd_path(&file))
                .is_ok()
                .then_some(file))
        }
        // Old kernels (EISDIR), file systems without O_TMPFILE (EOPNOTSUPP)
        // and some that reject the flags (EINVAL).
        Err(e) if [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL].contains(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `/proc/self/fd/N` for `file`: linking it with `AT_SYMLINK_FOLLOW` names an
/// `O_TMPFILE` without the privilege that `AT_EMPTY_PATH` needs.
#[cfg(target_os = "linux")]
fn proc_fd_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// What an existing regular file at `path` holds, if it is a file no
/// output may replace: a consent ledger, an audit log, a keyring file or a
/// secret key file (identity, audit pseudonym key, checkpoint signing key).
fn protected_kind(path: &Path) -> Option<&'static str> {
    let mut file = File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = Vec::with_capacity(4096);
    (&mut file).take(4096).read_to_end(&mut head).ok()?;
    match head.get(..4) {
        Some(b"CDCL") => return Some("consent ledger"),
        Some(b"CDAL") => return Some("audit log"),
        Some(b"CDKR") => return Some("keyring file"),
        _ => {}
    }
    let text = String::from_utf8_lossy(&head);
    let secret = text.lines().map(str::trim).any(|l| {
        (l.starts_with("CADUCEUS-") && (l.contains("SECRET-KEY") || l.contains("AUDIT-KEY")))
            || l.starts_with("PRIVATE+KEY+")
    });
    secret.then_some("secret key file")
}

/// Create a new file (never following or replacing an existing one), with
/// mode 0600 on Unix when `private`.
pub fn create_new(path: &Path, private: bool) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if private {
            opts.mode(0o600);
        }
    }
    #[cfg(not(unix))]
    let _ = private;
    opts.open(path)
}

/// Standard output without line buffering: on Unix a duplicate of the file
/// descriptor, written directly.
fn stdout_writer() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(File::from(fd));
        }
    }
    Box::new(io::stdout().lock())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("caduceus-files-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Both ways (unnamed where the system has it, and the fallback).
    const WAYS: [bool; 2] = [true, false];

    #[test]
    fn write_new_creates_the_whole_file_and_never_replaces_a_name() {
        for unnamed in WAYS {
            let dir = tmp(&format!("write-new-{unnamed}"));
            let key = dir.join("k.key");
            write_new_with(&key, true, b"secret\n", unnamed).unwrap();
            assert_eq!(fs::read(&key).unwrap(), b"secret\n");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "unnamed: {unnamed}");
            }
            // An existing file, a directory and a dangling symlink keep
            // their name: AlreadyExists, nothing changed, nothing left over.
            let e = write_new_with(&key, true, b"other\n", unnamed).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "unnamed: {unnamed}");
            assert_eq!(fs::read(&key).unwrap(), b"secret\n");
            fs::create_dir(dir.join("d")).unwrap();
            let e = write_new_with(&dir.join("d"), true, b"x", unnamed).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "unnamed: {unnamed}");
            #[cfg(unix)]
            {
                std::os::unix::fs::symlink("absent", dir.join("link")).unwrap();
                let e = write_new_with(&dir.join("link"), true, b"x", unnamed).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "unnamed: {unnamed}");
                assert!(!dir.join("absent").exists());
                assert_eq!(names(&dir), ["d", "k.key", "link"], "unnamed: {unnamed}");
            }
            // A directory that does not exist: an error, no file.
            let e = write_new_with(&dir.join("no/such"), true, b"x", unnamed).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "unnamed: {unnamed}");
            assert!(!unfinished().iter().any(|p| p.starts_with(&dir)));
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn of_racing_writers_of_one_new_name_exactly_one_wins_whole() {
        for unnamed in WAYS {
            let dir = tmp(&format!("race-{unnamed}"));
            let key = dir.join("k.key");
            let results: Vec<io::Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..16u8)
                    .map(|i| {
                        let key = &key;
                        s.spawn(move || write_new_with(key, true, &[i; 4096], unnamed))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let won: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
            assert_eq!(won.len(), 1, "unnamed: {unnamed}: {results:?}");
            for r in results.iter().filter_map(|r| r.as_ref().err()) {
                assert_eq!(r.kind(), io::ErrorKind::AlreadyExists, "unnamed: {unnamed}");
            }
            assert_eq!(fs::read(&key).unwrap(), [won[0] as u8; 4096]);
            assert_eq!(names(&dir), ["k.key"], "unnamed: {unnamed}");
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}
