//! `caduceus open`: stream an envelope to plaintext.

use std::io::{Cursor, Read};

use caduceus_core::envelope::{OpenReader, SegmentLayout};

use super::{EnvelopeInput, copy, load_identities, pick_identity, read_envelope};
use crate::args::OpenArgs;
use crate::error::Result;
use crate::files::{Output, OutputMode};
use crate::progress::Progress;

/// Open the envelope with the first identity that is a recipient.
pub fn open(args: OpenArgs) -> Result<()> {
    let identities = load_identities(&args.identity)?;
    let EnvelopeInput {
        input,
        header_bytes,
        header,
    } = read_envelope(args.input.as_deref())?;
    let identity = pick_identity(&identities, &header)?;
    let mut reader = OpenReader::new(Cursor::new(header_bytes).chain(input.reader), identity)?;

    // Created only now that the header is authentic; removed again (by
    // Drop) if anything below fails, so no unauthenticated plaintext stays.
    let mut out = Output::create(args.output.as_deref(), OutputMode::PLAINTEXT)?;
    // Progress counts plaintext, so compare it with the plaintext length.
    let plaintext_len = input.size.and_then(|total| {
        let payload = total.checked_sub(header.header_len as u64)?;
        SegmentLayout::new(payload).ok().map(|l| l.plaintext_len())
    });
    let mut progress = Progress::new("opening", plaintext_len);
    copy(&mut reader, &mut out, &mut progress)?;
    out.commit()?;
    progress.finish();
    Ok(())
}
