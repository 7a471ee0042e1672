//! `caduceus rewrap`: a new header, the same payload bytes.

use std::io::{self, Read, Write};

use caduceus_core::envelope;
use caduceus_core::keys::{KeyId, PublicKey};
use zeroize::Zeroizing;

use super::{CHUNK, load_identities, parse_public_key, pick_identity, read_header, system_rng};
use crate::args::RewrapArgs;
use crate::error::{Result, fail, usage};
use crate::files::{self, Output, OutputMode};
use crate::progress::Progress;

/// Add and remove recipients, copying the payload unchanged.
pub fn rewrap(args: RewrapArgs) -> Result<()> {
    let mut add: Vec<PublicKey> = Vec::new();
    for text in &args.add {
        add.push(parse_public_key(text, "--add")?);
    }
    let mut remove: Vec<KeyId> = Vec::new();
    for text in &args.remove {
        remove.push(parse_key_id(text)?);
    }
    if add.is_empty() && remove.is_empty() {
        return Err(usage("nothing to do: give --add KEY and/or --remove KEYID"));
    }
    let identities = load_identities(&args.identity)?;
    let mut rng = system_rng()?;

    let mut input = files::open_input(args.input.as_deref())?;
    let old_header = read_header(input.reader.as_mut())?;
    let header = envelope::inspect(&old_header)?;
    let identity = pick_identity(&identities, &header)?;
    let unlocked = envelope::unlock(&old_header, identity)?;
    let new_header = unlocked.rewrap(&old_header, identity, &add, &remove, &mut rng)?;

    let mut out = Output::create(
        args.output.as_deref(),
        OutputMode {
            private: false,
            binary: true,
        },
    )?;
    let write_err = |e: io::Error| fail(format!("cannot write output: {e}"));
    out.write_all(&new_header).map_err(write_err)?;
    let mut progress = Progress::new("rewrapping", input.size);
    progress.add(old_header.len());
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    let mut payload_len: u64 = 0;
    loop {
        let n = match input.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("cannot read input: {e}"))),
        };
        out.write_all(buf.get(..n).unwrap_or_default())
            .map_err(write_err)?;
        payload_len += n as u64;
        progress.add(n);
    }
    // The payload is copied, not decrypted; still refuse one that cannot be
    // a valid payload (e.g. a header without its payload).
    unlocked.layout(old_header.len() as u64 + payload_len)?;
    out.commit()?;
    progress.finish();
    Ok(())
}

/// A recipient to remove: a key id (32 hex digits) or a public key text.
fn parse_key_id(text: &str) -> Result<KeyId> {
    if let Ok(id) = text.parse::<KeyId>() {
        return Ok(id);
    }
    match text.parse::<PublicKey>() {
        Ok(pk) => Ok(pk.key_id()),
        Err(_) => Err(usage(
            "--remove: expected a key id (32 hexadecimal digits, see 'caduceus inspect') or a public key",
        )),
    }
}
