//! The commands, and helpers they share.

pub mod audit;
pub mod consent;
mod inspect;
mod keygen;
pub mod keyring;
mod open;
pub mod policy;
mod rewrap;
mod seal;
pub mod serve;
pub mod store;
pub mod whatsapp;

pub use inspect::inspect;
pub use keygen::{keygen, pubkey};
pub use open::open;
pub use rewrap::rewrap;
pub use seal::seal;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use caduceus_core::envelope::{
    self, EnvelopeError, Header, MAGIC, PREFIX_LEN, PayloadOpener, PayloadSealer,
    SEGMENT_CIPHERTEXT_SIZE, SEGMENT_SIZE, TAG_LEN,
};
use caduceus_core::keys::{KeyId, KeyKind, PrivateKey, PublicKey};
use getrandom::SysRng;
use rand_core::UnwrapErr;
use zeroize::Zeroizing;

use crate::error::{Failure, Result, fail, io_message, is_envelope_error, usage};
use crate::files::{self, Input};
use crate::progress::Progress;

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

/// The `--practice` keys (which are never removed) and the `--remove` key
/// ids of rewrap and keyring revoke. A key removed as a `cdpractice1...` text
/// counts as a practice key too, so core's rule keeps another practice key.
pub fn practice_and_removed(
    practice_texts: &[String],
    remove_texts: &[String],
) -> Result<(Vec<KeyId>, Vec<KeyId>)> {
    let mut practice: Vec<KeyId> = Vec::new();
    for text in practice_texts {
        let (id, kind) = parse_key_ref(text, "--practice")?;
        if kind.is_some_and(|k| k != KeyKind::Practice) {
            return Err(usage(
                "--practice: expected the practice public key (cdpractice1...) or its key id",
            ));
        }
        practice.push(id);
    }
    let mut remove: Vec<KeyId> = Vec::new();
    for text in remove_texts {
        let (id, kind) = parse_key_ref(text, "--remove")?;
        if kind == Some(KeyKind::Practice) && !practice.contains(&id) {
            practice.push(id);
        }
        remove.push(id);
    }
    Ok((practice, remove))
}

/// A key named on the command line by its key id (32 hex digits) or its
/// public key text; the kind is known only for a public key. A usage error
/// names `option`, never the text.
pub fn parse_key_ref(text: &str, option: &str) -> Result<(KeyId, Option<KeyKind>)> {
    if let Ok(id) = text.parse::<KeyId>() {
        return Ok((id, None));
    }
    match text.parse::<PublicKey>() {
        Ok(pk) => Ok((pk.key_id(), Some(pk.kind()))),
        Err(_) => Err(usage(format!(
            "{option}: expected a key id (32 hexadecimal digits, see 'caduceus inspect') or a public key"
        ))),
    }
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

/// An envelope input whose header has been read, but not yet authenticated.
pub struct EnvelopeInput {
    /// The input, positioned at the start of the payload.
    pub input: Input,
    /// The header's bytes (prefix, body and MAC), as read.
    pub header_bytes: Vec<u8>,
    /// The parsed header: nothing in it is authenticated yet.
    pub header: Header,
}

/// Open `path` (standard input for `None` or `-`) and read and parse the
/// envelope header, leaving the payload unread.
pub fn read_envelope(path: Option<&Path>) -> Result<EnvelopeInput> {
    let mut input = files::open_input(path)?;
    let header_bytes = read_header(input.reader.as_mut())?;
    let header = envelope::inspect(&header_bytes)?;
    Ok(EnvelopeInput {
        input,
        header_bytes,
        header,
    })
}

/// Read exactly the envelope header (prefix, body and MAC) from `r`,
/// leaving the payload unread.
fn read_header(r: &mut dyn Read) -> Result<Vec<u8>> {
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

/// Stream `reader` into `writer` through a [`CHUNK`]-sized buffer that is
/// zeroized afterwards, counting each piece in `progress`; returns the number
/// of bytes copied. An envelope error carried by either side (a modified or
/// truncated envelope, a limit of the format) is reported as such; any other
/// error as a failure to read the input or to write the output.
pub fn copy(reader: &mut dyn Read, writer: &mut dyn Write, progress: &mut Progress) -> Result<u64> {
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    let mut copied: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(stream_failure(&e, "cannot read input")),
        };
        writer
            .write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| stream_failure(&e, "cannot write output"))?;
        copied += n as u64;
        progress.add(n);
    }
}

/// Seal `reader` into `writer` (which already holds the header) with
/// `sealer`, one segment at a time and without copying: each segment is
/// read straight into a buffer, sealed there in place and written with its
/// tag. Returns the number of plaintext bytes.
pub fn seal_copy(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    mut sealer: PayloadSealer,
    progress: &mut Progress,
) -> Result<u64> {
    segment_copy(reader, writer, SEGMENT_SIZE, &mut |buf, len, last| {
        progress.add(len);
        let (body, rest) = buf.split_at_mut(len);
        let tag = sealer
            .seal_segment_in_place(body, last)
            .map_err(EnvelopeError::from)?;
        let slot = rest.get_mut(..TAG_LEN).ok_or(EnvelopeError::Internal)?;
        slot.copy_from_slice(&tag);
        Ok(len + TAG_LEN)
    })
}

/// Open the payload in `reader` (positioned after the header) into
/// `writer` with `opener`, one segment at a time: each segment is read
/// straight into a buffer, opened there in place (only if authentic) and
/// its plaintext written. Returns the number of payload bytes read.
pub fn open_copy(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    mut opener: PayloadOpener,
    progress: &mut Progress,
) -> Result<u64> {
    segment_copy(
        reader,
        writer,
        SEGMENT_CIPHERTEXT_SIZE,
        &mut |buf, len, last| {
            let body_len = len.checked_sub(TAG_LEN).ok_or(EnvelopeError::Truncated)?;
            let (body, rest) = buf.split_at_mut(body_len);
            let tag = rest
                .get(..TAG_LEN)
                .and_then(|t| <&[u8; TAG_LEN]>::try_from(t).ok())
                .ok_or(EnvelopeError::Internal)?;
            opener
                .open_segment_in_place(body, tag, last)
                .map_err(EnvelopeError::from)?;
            progress.add(body_len);
            Ok(body_len)
        },
    )
}

/// What [`segment_copy`] does to each piece: given the buffer, the length
/// read into it and whether it is the last piece, transform it in place and
/// return how many bytes of the buffer to write.
type SegmentStep<'a> = dyn FnMut(&mut [u8], usize, bool) -> Result<usize> + 'a;

/// Stream `reader` to `writer` in pieces of `piece` bytes (the last one
/// shorter, possibly empty), each read straight into one of two zeroized
/// buffers of [`SEGMENT_CIPHERTEXT_SIZE`] bytes and handed to `step`. A
/// full piece waits in the second buffer until the next read shows whether
/// it is the last, so nothing is copied. Returns the number of bytes read.
fn segment_copy(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    piece: usize,
    step: &mut SegmentStep<'_>,
) -> Result<u64> {
    let mut current = Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]);
    let mut held = Zeroizing::new(vec![0u8; SEGMENT_CIPHERTEXT_SIZE]);
    let mut holding = false;
    let mut copied: u64 = 0;
    let mut put = |buf: &mut [u8], len: usize, last: bool| -> Result<()> {
        let n = step(buf, len, last)?;
        writer
            .write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| fail(format!("cannot write output: {e}")))
    };
    loop {
        let n = read_full(reader, current.get_mut(..piece).unwrap_or_default())?;
        copied += n as u64;
        if holding {
            // The held full piece is the last one if nothing followed it.
            put(&mut held, piece, n == 0)?;
            if n == 0 {
                return Ok(copied);
            }
        }
        if n < piece {
            put(&mut current, n, true)?;
            return Ok(copied);
        }
        // A full piece: hold it until the next read.
        std::mem::swap(&mut current, &mut held);
        holding = true;
    }
}

/// The failure for an I/O error while streaming: the envelope error it
/// carries, or `what` (e.g. "cannot read input") and the error.
fn stream_failure(e: &io::Error, what: &str) -> Failure {
    if is_envelope_error(e) {
        fail(io_message(e))
    } else {
        fail(format!("{what}: {e}"))
    }
}

/// A JSON string literal of `v`: quotes, backslashes and control characters
/// escaped; with `ascii_only` also DEL and every non-ASCII character (as
/// UTF-16 `\uXXXX` escapes), so that the output is printable ASCII.
pub(crate) fn json_string(v: &str, ascii_only: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 || (ascii_only && (c as u32 == 0x7f || !c.is_ascii())) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(s, "\\u{unit:04x}");
                }
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_strings_are_escaped() {
        for ascii_only in [true, false] {
            assert_eq!(json_string("a\"b\\c", ascii_only), "\"a\\\"b\\\\c\"");
            assert_eq!(json_string("x\ny", ascii_only), "\"x\\u000ay\"");
            assert_eq!(json_string("\u{1f}", ascii_only), "\"\\u001f\"");
        }
        assert_eq!(json_string("ü", true), "\"\\u00fc\"");
        assert_eq!(json_string("\u{7f}😀", true), "\"\\u007f\\ud83d\\ude00\"");
        assert_eq!(json_string("ü\u{7f}😀", false), "\"ü\u{7f}😀\"");
    }
}
