//! SIGINT, SIGTERM and SIGHUP: remove unfinished output files, then exit with
//! 128 + the signal number (130, 143, 129), as a shell reports a process
//! killed by that signal.
//!
//! Output files created unnamed (`O_TMPFILE`) need no cleanup; the hidden
//! temporary files of the fallback do (see [`crate::files`]). The handler is
//! installed for every command, so the exit code is the same either way.

use crate::error::Result;

/// Start the thread that waits for SIGINT, SIGTERM and SIGHUP. From then on
/// these signals no longer end the process at once: the thread removes
/// every unfinished output file, writes one line to standard error and exits.
#[cfg(unix)]
pub fn install() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    use crate::error::fail;

    let cannot = |e: std::io::Error| fail(format!("cannot install the signal handlers: {e}"));
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(cannot)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                interrupted(signal);
            }
        })
        .map_err(cannot)?;
    Ok(())
}

/// Signals are not handled here: nothing to install.
#[cfg(not(unix))]
pub fn install() -> Result<()> {
    Ok(())
}

/// Remove the unfinished output files and exit with 128 + `signal`. The
/// registry stays locked until the process has exited, so no output file
/// is created or moved into place after the signal.
#[cfg(unix)]
fn interrupted(signal: i32) -> ! {
    use std::io::{IsTerminal, Write};

    // An append to a ledger, log or keyring in progress finishes (or is cut
    // back) first: a signal never leaves a torn record.
    let _appends = crate::state::hold_state_writes();
    let _held = crate::files::remove_unfinished();
    let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
    let mut stderr = std::io::stderr();
    // A progress line may be on the terminal; start on a line of our own.
    let newline = if stderr.is_terminal() { "\n" } else { "" };
    let _ = writeln!(
        stderr,
        "{newline}caduceus: error: interrupted by {name}; unfinished output files were removed"
    );
    std::process::exit(128 + signal)
}
