//! `caduceus inspect`: the header of an envelope, without any key.

use std::fmt::Write as _;
use std::io::Write;

use caduceus_core::envelope::Header;

use super::{EnvelopeInput, read_envelope};
use crate::args::InspectArgs;
use crate::error::{Result, fail};
use crate::time;

/// Print the labels, part, recipients and header length of an envelope.
pub fn inspect(args: InspectArgs) -> Result<()> {
    let EnvelopeInput { input, header, .. } = read_envelope(args.input.as_deref())?;
    let text = if args.json {
        json(&header, input.size)
    } else {
        human(&header, input.size)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| fail(format!("cannot write output: {e}")))
}

fn human(h: &Header, size: Option<u64>) -> String {
    let l = &h.labels;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Caduceus envelope, format version {}, suite {}",
        h.version, h.suite
    );
    let _ = writeln!(s, "envelope id:   {}", hex::encode(h.envelope_id));
    let _ = writeln!(s, "subject:       {}", l.subject);
    let _ = writeln!(s, "category:      {}", l.category);
    let _ = writeln!(s, "purpose:       {}", l.purpose);
    let _ = writeln!(s, "content type:  {}", l.content_type);
    let _ = writeln!(
        s,
        "created at:    {} ({})",
        time::format_rfc3339(l.created_at),
        l.created_at
    );
    match &h.part {
        Some(p) => {
            let _ = writeln!(
                s,
                "part:          {} of {} (set {})",
                p.index,
                p.count,
                hex::encode(p.set_id)
            );
        }
        None => {
            let _ = writeln!(s, "part:          single envelope");
        }
    }
    let _ = writeln!(s, "recipients:    {}", h.recipients.len());
    for id in &h.recipients {
        let _ = writeln!(s, "  key id {id}");
    }
    let _ = writeln!(s, "header length: {} bytes", h.header_len);
    if let Some(total) = size {
        let _ = writeln!(
            s,
            "payload:       {} bytes",
            total.saturating_sub(h.header_len as u64)
        );
    }
    let _ = writeln!(
        s,
        "note: nothing above is authenticated until the envelope is opened with a recipient key"
    );
    s
}

/// A JSON string literal. Labels are printable ASCII, but escape fully anyway.
fn json_str(v: &str) -> String {
    super::json_string(v, true)
}

fn json(h: &Header, size: Option<u64>) -> String {
    let l = &h.labels;
    let part = match &h.part {
        Some(p) => format!(
            "{{\"index\": {}, \"count\": {}, \"set_id\": \"{}\"}}",
            p.index,
            p.count,
            hex::encode(p.set_id)
        ),
        None => "null".to_owned(),
    };
    let recipients = h
        .recipients
        .iter()
        .map(|id| format!("\"{id}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let payload = size.map_or_else(
        || "null".to_owned(),
        |t| t.saturating_sub(h.header_len as u64).to_string(),
    );
    format!(
        "{{\n  \"version\": {},\n  \"suite\": {},\n  \"envelope_id\": \"{}\",\n  \"labels\": {{\n    \"subject\": {},\n    \"category\": {},\n    \"purpose\": {},\n    \"content_type\": {},\n    \"created_at\": {},\n    \"created_at_rfc3339\": \"{}\"\n  }},\n  \"part\": {part},\n  \"recipients\": [{recipients}],\n  \"header_len\": {},\n  \"payload_len\": {payload},\n  \"authenticated\": false\n}}\n",
        h.version,
        h.suite,
        hex::encode(h.envelope_id),
        json_str(&l.subject),
        json_str(&l.category),
        json_str(&l.purpose),
        json_str(&l.content_type),
        l.created_at,
        time::format_rfc3339(l.created_at),
        h.header_len,
    )
}
