//! `caduceus keygen` and `caduceus pubkey`.

use std::io::{self, Write};
use std::path::Path;

use caduceus_core::keys::{KeyKind, PrivateKey};
use zeroize::Zeroizing;

use super::{load_identities, system_rng};
use crate::args::{KeygenArgs, KindArg, PubkeyArgs};
use crate::error::{Result, fail};
use crate::files::{self, Output, OutputMode};
use crate::time;

/// Generate a key pair and write its identity file.
pub fn keygen(args: KeygenArgs) -> Result<()> {
    if let Some(identity) = &args.convert {
        return print_public_keys(identity, args.output.as_deref());
    }
    let kind = match args.kind {
        KindArg::Practice => KeyKind::Practice,
        KindArg::Staff => KeyKind::Staff,
        KindArg::Subject => KeyKind::SubjectCategory,
    };
    let created = time::format_rfc3339(time::now()?);
    let mut rng = system_rng()?;
    let key = PrivateKey::generate(kind, &mut rng);
    let public = key.public_key();
    let secret = key.to_secret_string();
    let mut text = Zeroizing::new(String::with_capacity(512));
    text.push_str(&format!(
        "# created: {created}\n# kind: {}\n# public key: {public}\n# key id: {}\n",
        kind.name(),
        key.key_id()
    ));
    text.push_str(&secret);
    text.push('\n');

    match args.output.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            write_new_private_file(path, text.as_bytes())?;
            eprintln!("Public key: {public}");
        }
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| fail(format!("cannot write output: {e}")))?;
        }
    }
    Ok(())
}

/// Write `contents` to a new file with mode 0600, whole or not at all;
/// never overwrite.
fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    files::write_new(path, true, contents).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            fail(format!(
                "refusing to overwrite existing file {}; choose another name or remove it first",
                path.display()
            ))
        } else {
            fail(format!("cannot create {}: {e}", path.display()))
        }
    })
}

/// Print the public keys of an identity file (`caduceus pubkey`).
pub fn pubkey(args: PubkeyArgs) -> Result<()> {
    let input = args.input.unwrap_or_else(|| "-".into());
    print_public_keys(&input, args.output.as_deref())
}

fn print_public_keys(identity: &Path, output: Option<&Path>) -> Result<()> {
    crate::state::ensure_not_input(output, &[identity])?;
    let keys = load_identities(&[identity.to_path_buf()])?;
    let mut text = String::new();
    for key in &keys {
        text.push_str(&key.public_key().to_string());
        text.push('\n');
    }
    let mut out = Output::create_user(output, OutputMode::PUBLIC_TEXT)?;
    out.write_all(text.as_bytes())
        .map_err(|e| fail(format!("cannot write output: {e}")))?;
    out.commit()
}
