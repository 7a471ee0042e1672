//! The CLI's error type: a one-line message and an exit code.

use std::io;

use caduceus_core::envelope::EnvelopeError;
use caduceus_core::keys::KeyError;

/// Exit code of a negative answer: a decision that refuses, a verification
/// that fails. The command itself worked.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code of a malformed command line (nothing was read or written).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a failed operation (bad or damaged input, I/O, no access).
pub const EXIT_FAILURE: u8 = 3;
/// Exit code when a state file is locked by another process past the
/// bounded wait (nothing was changed; try again).
pub const EXIT_BUSY: u8 = 4;

/// Why a command did not complete. Messages are one line and never hold key
/// material or plaintext.
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong (bad option, bad key text, missing label).
    Usage(String),
    /// The operation failed (I/O, a damaged envelope, no access).
    Failed(String),
    /// The command worked and its answer is "no" (refused, verification
    /// failed); the message says why.
    Refused(String),
    /// A state file is locked by another process.
    Busy(String),
}

/// Result of a command.
pub type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    /// The message, without the `caduceus: error:` prefix.
    pub fn message(&self) -> String {
        let m = match self {
            Failure::Usage(m) | Failure::Failed(m) | Failure::Refused(m) | Failure::Busy(m) => m,
        };
        // One line, whatever an underlying library put in its message.
        m.split(['\n', '\r'])
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Failed(_) => EXIT_FAILURE,
            Failure::Refused(_) => EXIT_REFUSED,
            Failure::Busy(_) => EXIT_BUSY,
        }
    }
}

/// A usage error.
pub fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

/// A negative answer (exit code 1).
pub fn refused(msg: impl Into<String>) -> Failure {
    Failure::Refused(msg.into())
}

/// An operational failure.
pub fn fail(msg: impl Into<String>) -> Failure {
    Failure::Failed(msg.into())
}

impl From<EnvelopeError> for Failure {
    fn from(e: EnvelopeError) -> Self {
        Failure::Failed(envelope_message(&e))
    }
}

impl From<KeyError> for Failure {
    fn from(e: KeyError) -> Self {
        Failure::Failed(e.to_string())
    }
}

/// The message for an envelope error.
pub fn envelope_message(e: &EnvelopeError) -> String {
    match e {
        EnvelopeError::Io(kind) => format!("I/O error: {kind}"),
        other => other.to_string(),
    }
}

/// Describe an I/O error, unwrapping an [`EnvelopeError`] carried inside it
/// (the streaming adapters report envelope failures as `io::Error`).
pub fn io_message(e: &io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<EnvelopeError>())
    {
        Some(env) => envelope_message(env),
        None => e.to_string(),
    }
}

/// True if the I/O error carries an envelope error (as opposed to a failure
/// of the file or pipe underneath).
pub fn is_envelope_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<EnvelopeError>())
}
