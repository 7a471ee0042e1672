//! `caduceus open`: stream an envelope to plaintext.

use caduceus_core::envelope::{self, SegmentLayout};

use super::{EnvelopeInput, load_identities, open_copy, pick_identity, read_envelope};
use crate::args::OpenArgs;
use crate::error::Result;
use crate::files::{Output, OutputMode};
use crate::progress::Progress;

/// Open the envelope with the first identity that is a recipient.
pub fn open(args: OpenArgs) -> Result<()> {
    let mut inputs: Vec<&std::path::Path> = args.identity.iter().map(|p| p.as_path()).collect();
    inputs.extend(args.input.as_deref());
    crate::state::ensure_not_input(args.output.as_deref(), &inputs)?;
    let identities = load_identities(&args.identity)?;
    let EnvelopeInput {
        mut input,
        header_bytes,
        header,
    } = read_envelope(args.input.as_deref())?;
    let identity = pick_identity(&identities, &header)?;
    let unlocked = envelope::unlock(&header_bytes, identity)?;

    // Created only now that the header is authentic; removed again (by
    // Drop) if anything below fails, so no unauthenticated plaintext stays.
    let mut out = Output::create(args.output.as_deref(), OutputMode::PLAINTEXT)?;
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
