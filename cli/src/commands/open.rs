//! `caduceus open`: stream an envelope to plaintext.

use std::io::{self, Cursor, Read, Write};

use caduceus_core::envelope::{self, OpenReader, SegmentLayout};
use zeroize::Zeroizing;

use super::{CHUNK, load_identities, pick_identity, read_header};
use crate::args::OpenArgs;
use crate::error::{Result, fail, io_message, is_envelope_error};
use crate::files::{self, Output, OutputMode};
use crate::progress::Progress;

/// Open the envelope with the first identity that is a recipient.
pub fn open(args: OpenArgs) -> Result<()> {
    let identities = load_identities(&args.identity)?;
    let mut input = files::open_input(args.input.as_deref())?;
    let header_bytes = read_header(input.reader.as_mut())?;
    let header = envelope::inspect(&header_bytes)?;
    let identity = pick_identity(&identities, &header)?;
    let mut reader = OpenReader::new(Cursor::new(header_bytes).chain(input.reader), identity)?;

    // Created only now that the header is authentic; removed again (by
    // Drop) if anything below fails, so no unauthenticated plaintext stays.
    let mut out = Output::create(
        args.output.as_deref(),
        OutputMode {
            private: true,
            binary: false,
        },
    )?;
    // Progress counts plaintext, so compare it with the plaintext length.
    let plaintext_len = input.size.and_then(|total| {
        let payload = total.checked_sub(header.header_len as u64)?;
        SegmentLayout::new(payload).ok().map(|l| l.plaintext_len())
    });
    let mut progress = Progress::new("opening", plaintext_len);
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_envelope_error(&e) => return Err(fail(io_message(&e))),
            Err(e) => return Err(fail(format!("cannot read input: {e}"))),
        };
        out.write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| fail(format!("cannot write output: {e}")))?;
        progress.add(n);
    }
    out.commit()?;
    progress.finish();
    Ok(())
}
