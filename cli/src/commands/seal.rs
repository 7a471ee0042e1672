//! `caduceus seal`: stream input into an envelope.

use std::io::Write;

use caduceus_core::envelope::{self, EnvelopeError, Labels};
use caduceus_core::keys::{KeyringRecord, KeyringState, PublicKey};

use super::{load_recipients_file, parse_public_key, seal_copy, system_rng};
use crate::args::SealArgs;
use crate::error::{Failure, Result, envelope_message, fail, usage};
use crate::files::{self, Output, OutputMode};
use crate::progress::Progress;
use crate::time;

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Seal the input to the recipients.
pub fn seal(args: SealArgs) -> Result<()> {
    let mut inputs: Vec<&std::path::Path> = args.to_file.iter().map(|p| p.as_path()).collect();
    inputs.extend(args.input.as_deref());
    inputs.extend(args.keyring.as_deref());
    crate::state::ensure_not_input(args.output.as_deref(), &inputs)?;
    // Everything on the command line is checked before anything is read or written.
    let mut recipients: Vec<PublicKey> = Vec::new();
    for text in &args.to {
        recipients.push(parse_public_key(text, "--to")?);
    }
    if recipients.is_empty() && args.to_file.is_empty() && args.keyring.is_none() {
        return Err(usage(
            "no recipient: give --keyring FILE (the subject-category key), or --to KEY / --to-file FILE",
        ));
    }
    let labels = match &args.keyring {
        None => parse_labels(&args.label, None)?,
        Some(path) => {
            let record = super::keyring::load(path)?;
            if let KeyringState::Shredded { .. } = record.state() {
                return Err(fail(format!(
                    "keyring file {}: the subject-category key was shredded; nothing can be sealed to it (create a new keyring file)",
                    path.display()
                )));
            }
            let labels = parse_labels(&args.label, Some(&record))?;
            recipients.push(record.public_key());
            labels
        }
    };
    for path in &args.to_file {
        recipients.extend(load_recipients_file(path)?);
    }
    let mut rng = system_rng()?;
    if let Some(hash) = &args.expect_sha256 {
        return seal_media(&args, hash, &recipients, &labels, &mut rng);
    }
    // The header is built before any input is read or output created, so a
    // bad recipient set (the same key twice) leaves nothing behind.
    let (header, sealer) =
        envelope::begin_seal(&recipients, &labels, None, &mut rng).map_err(|e| match e {
            EnvelopeError::DuplicateRecipient => {
                usage("a recipient is given more than once (--to / --to-file); name each key once")
            }
            other => write_failure(other),
        })?;

    let mut input = files::open_input(args.input.as_deref())?;
    let mut out = Output::create_user(args.output.as_deref(), OutputMode::ENVELOPE)?;
    out.write_all(&header)
        .map_err(|e| write_failure(EnvelopeError::Io(e.kind())))?;
    let mut progress = Progress::new("sealing", input.size);
    // Each segment is read into a buffer and sealed there, in place.
    seal_copy(input.reader.as_mut(), &mut out, sealer, &mut progress)?;
    out.commit()?;
    progress.finish();
    Ok(())
}

/// Seal media fetched for a webhook, verifying its SHA-256 and size while
/// sealing (`core::whatsapp::MediaSealer`): nothing is committed unless both
/// hold.
fn seal_media(
    args: &SealArgs,
    hash: &str,
    recipients: &[PublicKey],
    labels: &Labels,
    rng: &mut impl caduceus_core::rand_core::CryptoRng,
) -> Result<()> {
    use caduceus_core::whatsapp::{
        MediaError, MediaExpectation, MediaKind, MediaSealer, decode_sha256,
    };
    use std::io::Read;
    let sha256 = decode_sha256(hash).ok_or_else(|| {
        usage("--expect-sha256: give the SHA-256 in base64 (as in the webhook) or 64 hex digits")
    })?;
    let kind_text = args.media_kind.as_deref().unwrap_or_default();
    let kind = MediaKind::from_code(kind_text)
        .ok_or_else(|| usage("--media-kind: one of image, audio, video, document, sticker"))?;
    let media_failure = |e: MediaError| match e {
        MediaError::HashMismatch | MediaError::TooLarge { .. } => {
            crate::error::refused(format!("input: {e}"))
        }
        other => fail(other.to_string()),
    };
    let (header, mut sealer) =
        MediaSealer::new(recipients, labels, MediaExpectation::new(kind, sha256), rng)
            .map_err(media_failure)?;
    let mut input = files::open_input(args.input.as_deref())?;
    let mut out = Output::create_user(args.output.as_deref(), OutputMode::ENVELOPE)?;
    let write = |out: &mut Output, bytes: &[u8]| {
        out.write_all(bytes)
            .map_err(|e| write_failure(EnvelopeError::Io(e.kind())))
    };
    write(&mut out, &header)?;
    let mut progress = Progress::new("sealing", input.size);
    let mut buf = zeroize::Zeroizing::new(vec![0u8; 1024 * 1024]);
    let mut sealed = Vec::with_capacity(buf.len() + 64 * 1024);
    loop {
        let n = match input.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("cannot read input: {e}"))),
        };
        progress.add(n);
        sealer
            .push(buf.get(..n).unwrap_or_default(), &mut sealed)
            .map_err(media_failure)?;
        write(&mut out, &sealed)?;
        sealed.clear();
    }
    sealer.finish(&mut sealed).map_err(media_failure)?;
    write(&mut out, &sealed)?;
    out.commit()?;
    progress.finish();
    Ok(())
}

/// Sealing errors: an I/O kind comes from the output.
fn write_failure(e: EnvelopeError) -> Failure {
    match e {
        EnvelopeError::Io(kind) => fail(format!("cannot write output: {kind}")),
        other => fail(envelope_message(&other)),
    }
}

/// Build the labels from `key=value` arguments. With a keyring `record`,
/// subject and category default to the record's and must equal them.
fn parse_labels(args: &[String], record: Option<&KeyringRecord>) -> Result<Labels> {
    let mut subject = None;
    let mut category = None;
    let mut purpose = None;
    let mut content_type = None;
    let mut created_at = None;
    for arg in args {
        let (key, value) = arg.split_once('=').ok_or_else(|| {
            usage("--label: expected key=value, e.g. --label purpose=treatment-communication")
        })?;
        let slot = match key.trim() {
            "subject" => &mut subject,
            "category" => &mut category,
            "purpose" => &mut purpose,
            "content-type" | "content_type" => &mut content_type,
            "created-at" | "created_at" => &mut created_at,
            // The name is not echoed: it may be free text typed by mistake.
            _ => {
                return Err(usage(
                    "--label: unknown label name; known labels: subject, category, purpose, content-type, created-at",
                ));
            }
        };
        if slot.is_some() {
            return Err(usage(format!("--label: {} given twice", key.trim())));
        }
        *slot = Some(value.to_owned());
    }
    let required = |v: Option<String>, name: &str, example: &str| {
        v.ok_or_else(|| {
            usage(format!(
                "missing label {name}: add --label {name}={example} (required: subject, category, purpose)"
            ))
        })
    };
    if let Some(r) = record {
        for (name, given, own) in [
            ("subject", &mut subject, r.subject()),
            ("category", &mut category, r.category()),
        ] {
            match given {
                Some(v) if v != own => {
                    return Err(usage(format!(
                        "--label {name}: differs from the keyring record's {name}; leave it out to use the record's"
                    )));
                }
                Some(_) => {}
                None => *given = Some(own.to_owned()),
            }
        }
    }
    let subject = required(subject, "subject", "p-7f3a91")?;
    // A name or phone number typed as the subject would be stored readable.
    caduceus_core::pseudonym::check_identifier(&subject)
        .map_err(|e| usage(format!("--label subject: {e}")))?;
    let category = required(category, "category", "clinical-photos")?;
    let purpose = required(purpose, "purpose", "treatment-communication")?;
    let content_type = content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
    let created_at = match created_at {
        // The value is not echoed (it may be anything the operator typed).
        Some(t) => time::parse_time(t.trim()).ok_or_else(|| {
            usage(
                "--label created-at: not a time; expected Unix seconds or RFC 3339 (e.g. 2025-01-31T12:00:00Z)",
            )
        })?,
        None => time::now()?,
    };
    Labels::new(&subject, &category, &purpose, &content_type, created_at)
        .map_err(|e| usage(format!("--label: {}", envelope_message(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn labels_defaults_and_errors() {
        let l = parse_labels(
            &strings(&[
                "subject=p-1",
                "category=xray",
                "purpose=treatment-communication",
                "created-at=2023-11-14T22:13:20Z",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(l.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(l.created_at, 1_700_000_000);

        let missing = parse_labels(&strings(&["subject=p-1", "category=xray"]), None).unwrap_err();
        assert!(missing.message().contains("missing label purpose"));
        assert_eq!(missing.exit_code(), crate::error::EXIT_USAGE);

        for bad in [
            vec!["subject"],
            vec!["colour=red"],
            vec!["subject=a", "subject=b"],
            vec!["subject=Müller", "category=x", "purpose=y"],
            vec!["subject=Max Mustermann", "category=x", "purpose=y"],
            vec!["subject=+491701234567", "category=x", "purpose=y"],
            vec!["subject=a", "category=x", "purpose=y", "created-at=soon"],
        ] {
            assert!(parse_labels(&strings(&bad), None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_errors_do_not_echo_the_input() {
        let base = ["subject=p-1", "category=xray", "purpose=treatment"];
        for (extra, needle) in [
            ("Max Mustermann HIV=positiv", "unknown label name"),
            (
                "created-at=Max Mustermann HIV",
                "--label created-at: not a time",
            ),
            (
                "subject=Müller Mustermann HIV",
                "--label subject: an identifier may hold only",
            ),
        ] {
            let mut args: Vec<&str> = base
                .iter()
                .copied()
                .filter(|b| b.split('=').next() != extra.split('=').next())
                .collect();
            args.push(extra);
            let err = parse_labels(&strings(&args), None).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
            let msg = err.message();
            assert!(msg.contains(needle), "{msg}");
            assert!(!msg.contains("Mustermann") && !msg.contains("HIV"), "{msg}");
        }
    }
}
