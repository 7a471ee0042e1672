//! The commands, and helpers they share.

mod inspect;
mod keygen;
mod open;
mod rewrap;
mod seal;

pub use inspect::inspect;
pub use keygen::{keygen, pubkey};
pub use open::open;
pub use rewrap::rewrap;
pub use seal::seal;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use caduceus_core::envelope::{self, EnvelopeError, Header, MAGIC, PREFIX_LEN};
use caduceus_core::keys::{PrivateKey, PublicKey};
use getrandom::SysRng;
use rand_core::UnwrapErr;

use crate::error::{Result, fail, usage};
use crate::files;

/// Size of the buffer used to stream data through.
pub const CHUNK: usize = 256 * 1024;

/// The system random number generator, checked to work first so that a
/// broken one is a clean error rather than a panic later.
pub fn system_rng() -> Result<UnwrapErr<SysRng>> {
    let mut probe = [0u8; 16];
    getrandom::fill(&mut probe)
        .map_err(|_| fail("the operating system's random number generator failed"))?;
    Ok(UnwrapErr(SysRng))
}

/// Load every secret key of the identity files.
pub fn load_identities(paths: &[PathBuf]) -> Result<Vec<PrivateKey>> {
    let mut keys = Vec::new();
    for path in paths {
        let text = files::read_key_file(path, "identity file")?;
        let parsed = PrivateKey::parse_identities(&text)
            .map_err(|e| fail(format!("identity file {}: {e}", path.display())))?;
        keys.extend(parsed);
    }
    Ok(keys)
}

/// Parse a public key given on the command line (a usage error if bad).
pub fn parse_public_key(text: &str, option: &str) -> Result<PublicKey> {
    text.parse::<PublicKey>()
        .map_err(|e| usage(format!("{option}: {e}")))
}

/// Parse a recipients file: one public key per line, `#` comments.
pub fn load_recipients_file(path: &Path) -> Result<Vec<PublicKey>> {
    let text = files::read_key_file(path, "recipients file")?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.parse::<PublicKey>().map_err(|e| {
            fail(format!(
                "recipients file {} line {}: {e}",
                path.display(),
                n + 1
            ))
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(fail(format!(
            "recipients file {} holds no public key",
            path.display()
        )));
    }
    Ok(keys)
}

/// Read exactly the envelope header (prefix, body and MAC) from `r`,
/// leaving the payload unread.
pub fn read_header(r: &mut dyn Read) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; PREFIX_LEN];
    let n = read_full(r, &mut buf)?;
    if n == 0 {
        return Err(fail("the input is empty; expected a Caduceus envelope"));
    }
    let seen = buf.get(..n.min(MAGIC.len())).unwrap_or_default();
    if !MAGIC.starts_with(seen) {
        return Err(EnvelopeError::BadMagic.into());
    }
    if n < PREFIX_LEN {
        return Err(EnvelopeError::Truncated.into());
    }
    let total = envelope::header_len_from_prefix(&buf)?;
    buf.resize(total, 0);
    let rest = buf.get_mut(PREFIX_LEN..).unwrap_or_default();
    let want = rest.len();
    if read_full(r, rest)? < want {
        return Err(EnvelopeError::Truncated.into());
    }
    Ok(buf)
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(format!("cannot read input: {e}"))),
        }
    }
    Ok(filled)
}

/// The first identity that is a recipient of the envelope.
pub fn pick_identity<'a>(identities: &'a [PrivateKey], header: &Header) -> Result<&'a PrivateKey> {
    identities
        .iter()
        .find(|k| header.recipients.contains(&k.key_id()))
        .ok_or_else(|| EnvelopeError::NoAccess.into())
}
