//! `caduceus rewrap`: a new header, the same payload bytes.

use std::io::Write;

use caduceus_core::envelope;
use caduceus_core::keys::{KeyKind, PublicKey};

use super::{
    EnvelopeInput, copy, load_identities, parse_public_key, pick_identity, read_envelope,
    system_rng,
};
use crate::args::RewrapArgs;
use crate::error::{Result, fail, usage};
use crate::files::{Output, OutputMode};
use crate::progress::Progress;

/// Add and remove recipients, copying the payload unchanged.
pub fn rewrap(args: RewrapArgs) -> Result<()> {
    let mut inputs: Vec<&std::path::Path> = args.identity.iter().map(|p| p.as_path()).collect();
    inputs.extend(args.input.as_deref());
    crate::state::ensure_not_input(args.output.as_deref(), &inputs)?;
    let mut add: Vec<PublicKey> = Vec::new();
    for text in &args.add {
        add.push(parse_public_key(text, "--add")?);
    }
    // The header does not record kinds: the practice keys are those named
    // by --practice, removed or added as cdpractice1... texts, or used as
    // the identity. One of them must stay a recipient (core's rule).
    let (mut practice, remove) = super::practice_and_removed(&args.practice, &args.remove)?;
    if add.is_empty() && remove.is_empty() {
        return Err(usage("nothing to do: give --add KEY and/or --remove KEYID"));
    }
    let identities = load_identities(&args.identity)?;
    practice.extend(
        identities
            .iter()
            .filter(|k| k.kind() == KeyKind::Practice)
            .map(|k| k.key_id()),
    );
    if !remove.is_empty() && practice.is_empty() {
        return Err(usage(
            "--remove needs to know the practice key, which is never removed: give --practice cdpractice1... (or use the practice identity)",
        ));
    }
    let mut rng = system_rng()?;

    let EnvelopeInput {
        mut input,
        header_bytes: old_header,
        header,
    } = read_envelope(args.input.as_deref())?;
    let identity = pick_identity(&identities, &header)?;
    let unlocked = envelope::unlock(&old_header, identity)?;
    let new_header = unlocked.rewrap_keeping(&add, &remove, &practice, &mut rng)?;

    let mut out = Output::create_user(args.output.as_deref(), OutputMode::ENVELOPE)?;
    out.write_all(&new_header)
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    let mut progress = Progress::new("rewrapping", input.size);
    progress.add(old_header.len());
    let payload_len = copy(input.reader.as_mut(), &mut out, &mut progress)?;
    // The payload is copied, not decrypted; still refuse one that cannot be
    // a valid payload (e.g. a header without its payload).
    unlocked.layout(old_header.len() as u64 + payload_len)?;
    out.commit()?;
    progress.finish();
    Ok(())
}
