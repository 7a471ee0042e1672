//! The `caduceus` command line: generate keys, and seal, open, inspect and
//! rewrap envelopes of patient messages and images, streaming from standard
//! input to standard output (or files) in constant memory.
//!
//! Exit codes, the same for every command: 0 success (allowed, verified), 1
//! refused (a decision that says no, a verification that fails), 2 usage
//! error (the command line is wrong; nothing was read or written), 3 failure
//! (the operation did not complete: bad or damaged input, I/O, no access; no
//! output file was left behind), 4 busy (a state file is locked by another
//! process past the bounded wait; nothing was changed); 130, 143 and 129 after
//! SIGINT, SIGTERM and SIGHUP (128 + the signal; unfinished output files are
//! removed first, see `signals`). Every error is one line on standard error,
//! `caduceus: error: ...`, and never contains key material or plaintext.

mod args;
mod commands;
mod error;
mod files;
mod progress;
mod signals;
mod state;
mod time;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    // The server shuts down gracefully on SIGTERM/SIGINT itself (and the
    // demo runs it); every other command removes its unfinished outputs.
    if !matches!(cli.command, Command::Serve(_) | Command::Demo(_))
        && let Err(failure) = signals::install()
    {
        return report(&failure);
    }
    let result = match cli.command {
        Command::Keygen(a) => commands::keygen(a),
        Command::Pubkey(a) => commands::pubkey(a),
        Command::Seal(a) => commands::seal(a),
        Command::Open(a) => commands::open(a),
        Command::Inspect(a) => commands::inspect(a),
        Command::Rewrap(a) => commands::rewrap(a),
        Command::Audit(a) => commands::audit::audit(a),
        Command::Policy(a) => commands::policy::policy(a),
        Command::Consent(a) => commands::consent::consent(a),
        Command::Keyring(a) => commands::keyring::keyring(a),
        Command::Whatsapp(a) => commands::whatsapp::whatsapp(a),
        Command::Store(a) => commands::store::store(a),
        Command::Serve(a) => commands::serve::serve(a),
        Command::Demo(a) => commands::serve::demo(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure),
    }
}

/// Print one error line and map the failure to its exit code.
fn report(failure: &Failure) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let word = match failure {
        Failure::Refused(_) => "refused",
        Failure::Busy(_) => "busy",
        _ => "error",
    };
    let _ = writeln!(stderr, "caduceus: {word}: {}", failure.message());
    ExitCode::from(failure.exit_code())
}

/// Help and version go to stdout with exit 0; parse errors become one
/// `caduceus: error:` line with exit 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(error::EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        ErrorKind::UnknownArgument => {
            // An unknown option is named; a stray word is not: it may be the
            // second half of an unquoted name ("--subject Max Mustermann").
            use clap::error::ContextKind;
            let arg = e.get(ContextKind::InvalidArg).map(|a| a.to_string());
            let text = match arg.filter(|a| a.starts_with('-')) {
                Some(option) => format!("unknown option '{option}' (see 'caduceus --help')"),
                None => "unexpected argument; a value with spaces must be quoted (see 'caduceus --help')"
                    .to_owned(),
            };
            report(&Failure::Usage(text))
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            // clap's own message repeats the value, which may be a name or
            // free text typed into the wrong option: say what is wrong
            // without it.
            use clap::error::ContextKind;
            let arg = e
                .get(ContextKind::InvalidArg)
                .map_or_else(|| "an option".to_owned(), |a| format!("'{a}'"));
            let why = match e.kind() {
                ErrorKind::ValueValidation => std::error::Error::source(e).map(|s| s.to_string()),
                _ => e
                    .get(ContextKind::ValidValue)
                    .map(|v| format!("possible values: {v}")),
            };
            let why = why.map_or_else(String::new, |w| format!(": {w}"));
            report(&Failure::Usage(format!(
                "invalid value for {arg}{why} (see 'caduceus --help')"
            )))
        }
        _ => {
            // The first paragraph of clap's message, on one line.
            let rendered = e.render().to_string();
            let first: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty())
                .collect();
            let first = first.join(" ");
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            report(&Failure::Usage(format!("{first} (see 'caduceus --help')")))
        }
    }
}
