//! Files that hold state (consent ledger, audit log, keyring records): one
//! writer at a time across processes, appends that land whole or not at all,
//! and outputs that are never one of a command's inputs.
//!
//! * [`LockedFile::open`] takes an exclusive advisory lock (`flock`) on the
//!   state file itself and holds it across read, check and write. Waiting is
//!   bounded ([`lock_timeout`]); past it the command fails with
//!   [`Failure::Busy`] (exit code 4), and the file is untouched. A writer that
//!   replaces the file (temporary file and rename) keeps the lock on the old
//!   inode until the rename; a waiter that then gets the lock sees that the
//!   path names another inode and locks that one instead.
//! * [`append_whole`] writes one record at the end, syncs it, and on any
//!   error (a full disk, a failing device) cuts the file back to its old
//!   length, so the file is byte-identical to what it was.
//! * [`ensure_not_input`] compares device and inode numbers, not names, so
//!   `-o ./x`, `-o x` and a hard link all count as the input `x`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Failure, Result, fail, usage};

/// How long a command waits for another process to release a state file by
/// default: 10 seconds. The environment variable `CADUCEUS_LOCK_TIMEOUT_MS`
/// overrides it (0: do not wait).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounded wait for a state file's lock.
pub fn lock_timeout() -> Duration {
    std::env::var("CADUCEUS_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_LOCK_TIMEOUT, Duration::from_millis)
}

/// A state file opened for reading and writing, with this process holding
/// its exclusive lock until the value is dropped.
#[derive(Debug)]
pub struct LockedFile {
    file: File,
}

impl LockedFile {
    /// Open the existing state file `path` (`what` names it in messages, e.g.
    /// "ledger file") and lock it, waiting at most [`lock_timeout`].
    pub fn open(path: &Path, what: &str) -> Result<Self> {
        Self::open_with(path, what, lock_timeout())
    }

    /// As [`LockedFile::open`], with an explicit bound on the wait.
    pub fn open_with(path: &Path, what: &str, timeout: Duration) -> Result<Self> {
        Self::open_mode(path, what, timeout, Lock::Exclusive)
    }

    /// Open the existing state file `path` for reading only, holding a
    /// shared lock: readers run side by side, and never while a writer
    /// holds the exclusive lock (so they never see a half-written append).
    pub fn open_shared(path: &Path, what: &str) -> Result<Self> {
        Self::open_mode(path, what, lock_timeout(), Lock::Shared)
    }

    fn open_mode(path: &Path, what: &str, timeout: Duration, lock: Lock) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(lock == Lock::Exclusive)
                .open(path)
                .map_err(|e| fail(format!("cannot open {what} {}: {e}", path.display())))?;
            lock_bounded(&file, path, what, deadline, lock)?;
            // The path may have been replaced (rename) while we waited: then
            // the lock we hold is on a file nobody reads any more.
            if same_inode(&file, path)? {
                return Ok(Self { file });
            }
        }
    }

    /// Create the state file `path`, which must not exist, and lock it
    /// (opened for reading and writing). Files are created owner-only (0600) when
    /// `private`.
    pub fn create_new(path: &Path, what: &str, private: bool) -> Result<Self> {
        let file = crate::files::create_new(path, private).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                usage(format!(
                    "{what} {} already exists; refusing to overwrite it",
                    path.display()
                ))
            } else {
                fail(format!("cannot create {what} {}: {e}", path.display()))
            }
        })?;
        // Reopened for reading too: a process that loses the race to lock
        // the new file finds it written by the winner and must read it.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()
            .filter(|f| is_same_open_file(f, &file))
            .unwrap_or(file);
        lock_bounded(
            &file,
            path,
            what,
            Instant::now() + lock_timeout(),
            Lock::Exclusive,
        )?;
        Ok(Self { file })
    }

    /// The open file (positioned wherever the last operation left it).
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Read the whole file from its start in chunks of 64 KiB, handing each
    /// to `f`: memory stays bounded whatever the file's size. A file longer
    /// than `limit` is refused before anything is read.
    pub fn read_chunks(
        &mut self,
        path: &Path,
        what: &str,
        limit: u64,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let describe = |e: io::Error| fail(format!("cannot read {what} {}: {e}", path.display()));
        if self.len()? > limit {
            return Err(fail(format!(
                "{what} {} is too large (more than {})",
                path.display(),
                crate::files::size_text(limit)
            )));
        }
        self.file.seek(SeekFrom::Start(0)).map_err(describe)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match self.file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(describe(e)),
            };
            total += n as u64;
            if total > limit {
                return Err(fail(format!(
                    "{what} {} is too large (more than {})",
                    path.display(),
                    crate::files::size_text(limit)
                )));
            }
            f(buf.get(..n).unwrap_or_default())?;
        }
    }

    /// Cut the file to `len` bytes and sync it.
    pub fn truncate(&mut self, len: u64, what: &str) -> Result<()> {
        let _writing = hold_state_writes();
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| fail(format!("cannot cut {what}: {e}")))
    }

    /// The file's current length.
    pub fn len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| fail(format!("cannot read a state file's size: {e}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    Shared,
    Exclusive,
}

fn lock_bounded(file: &File, path: &Path, what: &str, deadline: Instant, lock: Lock) -> Result<()> {
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = match lock {
            Lock::Shared => file.try_lock_shared(),
            Lock::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Failure::Busy(format!(
                        "{what} {} is busy: another caduceus process is changing it; \
                         nothing was changed, try again",
                        path.display()
                    )));
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock {what} {}: {e}", path.display())));
            }
        }
    }
}

#[cfg(unix)]
fn is_same_open_file(a: &File, b: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_same_open_file(_a: &File, _b: &File) -> bool {
    true
}

#[cfg(unix)]
fn same_inode(file: &File, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file
        .metadata()
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    Ok(match std::fs::metadata(path) {
        Ok(now) => open.dev() == now.dev() && open.ino() == now.ino(),
        Err(_) => false,
    })
}

#[cfg(not(unix))]
fn same_inode(_file: &File, _path: &Path) -> Result<bool> {
    Ok(true)
}

/// Held while a state file is being appended to (or cut back): the signal
/// handler takes it before the process exits, so SIGINT/SIGTERM never stop
/// an append half-way.
static STATE_WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Wait for a state write in progress to finish and keep others from
/// starting (for the signal handler, which then exits).
pub fn hold_state_writes() -> std::sync::MutexGuard<'static, ()> {
    STATE_WRITE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Append `record` at the end of `file` and sync it to the disk. On any
/// error the file is cut back to the length it had and synced again, so it
/// is byte-identical to before; the error names `what`.
pub fn append_whole(file: &mut File, record: &[u8], what: &str) -> Result<()> {
    let _writing = hold_state_writes();
    let old_len = file
        .metadata()
        .map_err(|e| fail(format!("cannot append to {what}: {e}")))?
        .len();
    let written = file
        .seek(SeekFrom::Start(old_len))
        .and_then(|_| file.write_all(record))
        .and_then(|()| file.sync_data());
    if let Err(e) = written {
        let restored = file.set_len(old_len).and_then(|()| file.sync_all());
        return Err(match restored {
            Ok(()) => fail(format!(
                "cannot append to {what}: {e}; the file was left as it was"
            )),
            Err(e2) => fail(format!(
                "cannot append to {what}: {e}; cutting the partial record off also failed \
                 ({e2}): run the repair command before the next append"
            )),
        });
    }
    Ok(())
}

/// Refuse an output path that names one of the command's inputs (same
/// device and inode). `None` and `-` are standard output and always
/// allowed.
pub fn ensure_not_input(output: Option<&Path>, inputs: &[&Path]) -> Result<()> {
    let Some(out) = output.filter(|p| p.as_os_str() != "-") else {
        return Ok(());
    };
    for input in inputs.iter().filter(|p| p.as_os_str() != "-") {
        if is_same_file(out, input) {
            return Err(usage(format!(
                "output {} is the input {}; refusing to overwrite an input (write to another file)",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// True if both paths name the same existing file (device and inode).
#[cfg(unix)]
pub fn is_same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// True if both paths name the same existing file (canonical paths).
#[cfg(not(unix))]
pub fn is_same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("caduceus-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn second_lock_is_busy_after_the_bounded_wait() {
        let dir = tmp("busy");
        let path = dir.join("ledger");
        std::fs::write(&path, b"x").unwrap();
        let _held = LockedFile::open(&path, "ledger file").unwrap();
        let start = Instant::now();
        let err =
            LockedFile::open_with(&path, "ledger file", Duration::from_millis(80)).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(80));
        assert_eq!(err.exit_code(), crate::error::EXIT_BUSY);
        assert!(err.message().contains("is busy"), "{}", err.message());
    }

    #[test]
    fn lock_follows_a_replaced_file() {
        let dir = tmp("replaced");
        let path = dir.join("rec");
        std::fs::write(&path, b"old").unwrap();
        let held = LockedFile::open(&path, "record").unwrap();
        let p2 = path.clone();
        let waiter = std::thread::spawn(move || {
            let mut l = LockedFile::open(&p2, "record").unwrap();
            let mut s = String::new();
            l.file().read_to_string(&mut s).unwrap();
            s
        });
        std::thread::sleep(Duration::from_millis(50));
        let new = dir.join(".rec.tmp");
        std::fs::write(&new, b"new").unwrap();
        std::fs::rename(&new, &path).unwrap();
        drop(held);
        assert_eq!(waiter.join().unwrap(), "new");
    }

    #[test]
    fn output_equal_to_input_is_refused_by_inode() {
        let dir = tmp("inode");
        let a = dir.join("a");
        std::fs::write(&a, b"1").unwrap();
        let link = dir.join("hard");
        std::fs::hard_link(&a, &link).unwrap();
        let dotted = dir.join(".").join("a");
        for out in [&a, &link, &dotted] {
            let e = ensure_not_input(Some(out), &[&a]).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        }
        assert!(ensure_not_input(Some(&dir.join("b")), &[&a]).is_ok());
        assert!(ensure_not_input(Some(Path::new("-")), &[&a]).is_ok());
    }

    #[test]
    fn append_whole_adds_exactly_the_record() {
        let dir = tmp("append");
        let path = dir.join("log");
        std::fs::write(&path, b"head").unwrap();
        let mut l = LockedFile::open(&path, "log").unwrap();
        append_whole(l.file(), b"-rec", "log").unwrap();
        drop(l);
        assert_eq!(std::fs::read(&path).unwrap(), b"head-rec");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn append_whole_on_a_full_device_leaves_the_file_as_it_was() {
        // /dev/full accepts the open and fails every write with ENOSPC; it
        // cannot be truncated, so the restore reports that too.
        let mut f = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let e = append_whole(&mut f, &[0u8; 4096], "log").unwrap_err();
        assert!(
            e.message().contains("cannot append to log"),
            "{}",
            e.message()
        );
    }
}
