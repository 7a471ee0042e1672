//! The content-addressed media directory next to the database
//! (`<db>.media/<sha256 hex>`), docs/STORE.md "File layout".

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::StoreError;

/// Suffix of files being written (swept on open).
const TEMP_MARK: &str = ".tmp-";

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { what, source }
}

/// The media directory of a database path.
pub(crate) fn dir_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".media");
    PathBuf::from(name)
}

/// SHA-256 of the bytes, lowercase hex.
pub(crate) fn name_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing the media directory"))
}

/// Write `bytes` under its content name, durably: temporary name, fsync,
/// rename, fsync of the directory. An existing file of that name is
/// checked and replaced when damaged. Returns the name.
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> Result<String, StoreError> {
    let name = name_of(bytes);
    let path = dir.join(&name);
    if let Ok(existing) = fs::read(&path)
        && name_of(&existing) == name
    {
        return Ok(name);
    }
    fs::create_dir_all(dir).map_err(io("creating the media directory"))?;
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|_| StoreError::Io {
        what: "drawing a temporary file name",
        source: std::io::Error::other("no randomness"),
    })?;
    let temp = dir.join(format!("{name}{TEMP_MARK}{}", hex::encode(tag)));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(io("creating a media file"))?;
        f.write_all(bytes).map_err(io("writing a media file"))?;
        f.sync_all().map_err(io("syncing a media file"))?;
        drop(f);
        fs::rename(&temp, &path).map_err(io("renaming a media file into place"))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map(|()| name)
}

/// Read the file `name` and check it against its name.
pub(crate) fn read(dir: &Path, name: &str) -> Result<Vec<u8>, StoreError> {
    let bytes = fs::read(dir.join(name)).map_err(|_| StoreError::MediaDamaged)?;
    if name_of(&bytes) != name {
        return Err(StoreError::MediaDamaged);
    }
    Ok(bytes)
}

/// The files of the directory: (content names, temporary names).
pub(crate) fn list(dir: &Path) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut names = Vec::new();
    let mut temps = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((names, temps)),
        Err(e) => return Err(io("listing the media directory")(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io("listing the media directory"))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.contains(TEMP_MARK) {
            temps.push(name);
        } else if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            names.push(name);
        }
    }
    Ok((names, temps))
}

/// Remove files by name (missing ones are fine), then sync the directory.
pub(crate) fn remove(dir: &Path, names: &[String]) -> Result<usize, StoreError> {
    let mut removed = 0;
    for n in names {
        match fs::remove_file(dir.join(n)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("removing a media file")(e)),
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}
