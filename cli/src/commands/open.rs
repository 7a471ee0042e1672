//! `caduceus open`: stream an envelope to plaintext.

use std::path::Path;

use caduceus_core::envelope::{self, EnvelopeError, Header, SegmentLayout};
use caduceus_core::keys::{KeyError, PrivateKey};

use super::{EnvelopeInput, load_identities, open_copy, pick_identity, read_envelope};
use crate::args::OpenArgs;
use crate::error::{Result, fail};
use crate::files::{Output, OutputMode};
use crate::progress::Progress;

/// Open the envelope with the first identity that is a recipient.
pub fn open(args: OpenArgs) -> Result<()> {
    let mut inputs: Vec<&std::path::Path> = args.identity.iter().map(|p| p.as_path()).collect();
    inputs.extend(args.input.as_deref());
    inputs.extend(args.keyring.as_deref());
    crate::state::ensure_not_input(args.output.as_deref(), &inputs)?;
    let mut identities = load_identities(&args.identity)?;
    let EnvelopeInput {
        mut input,
        header_bytes,
        header,
    } = read_envelope(args.input.as_deref())?;
    if let Some(path) = &args.keyring {
        identities.push(unwrap_subject_key(path, &identities, &header)?);
    }
    let identity = pick_identity(&identities, &header)?;
    let unlocked = envelope::unlock(&header_bytes, identity)?;

    // Created only now that the header is authentic; removed again (by
    // Drop) if anything below fails, so no unauthenticated plaintext stays.
    let mut out = Output::create_user(args.output.as_deref(), OutputMode::PLAINTEXT)?;
    // Progress counts plaintext, so compare it with the plaintext length.
    let plaintext_len = input.size.and_then(|total| {
        let payload = total.checked_sub(header.header_len as u64)?;
        SegmentLayout::new(payload).ok().map(|l| l.plaintext_len())
    });
    let mut progress = Progress::new("opening", plaintext_len);
    // Each segment is read into a buffer and opened there, in place.
    open_copy(
        input.reader.as_mut(),
        &mut out,
        unlocked.payload_opener(),
        &mut progress,
    )?;
    out.commit()?;
    progress.finish();
    Ok(())
}

/// The subject-category private key of the keyring file `path`, unwrapped
/// with the first identity that holds a wrap. The envelope must be sealed to
/// the record's key; a shredded record is [`EnvelopeError::KeyShredded`].
fn unwrap_subject_key(
    path: &Path,
    identities: &[PrivateKey],
    header: &Header,
) -> Result<PrivateKey> {
    let record = super::keyring::load(path)?;
    if !header.recipients.contains(&record.public_key().key_id()) {
        return Err(fail(format!(
            "keyring file {}: this envelope is not sealed to its subject-category key; use the keyring file of the envelope's subject and category",
            path.display()
        )));
    }
    record.unwrap_any(identities).map_err(|e| match e {
        KeyError::KeyShredded => EnvelopeError::KeyShredded.into(),
        KeyError::NoAccess => fail(format!(
            "keyring file {}: {}",
            path.display(),
            KeyError::NoAccess
        )),
        other => fail(format!("keyring file {}: {other}", path.display())),
    })
}
