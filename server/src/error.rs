//! Why the server could not start or could not take a delivery. Messages
//! never contain message content, phone numbers, names or secrets.

use caduceus_core::whatsapp::{IntakeError, MediaError};
use caduceus_store::StoreError;

/// Why `caduceus serve` could not start, or a delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration file (or a file it names) is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A private key was found where the server expects only public keys
    /// or secrets: the server must be able to seal but never to open.
    #[error(
        "{0} holds a private key: the intake server takes only public keys (give the cdpractice1.../cdstaff1... public key; keep private keys on the practice side)"
    )]
    PrivateKeyInConfig(String),
    /// The store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The intake could not decide an event.
    #[error("intake: {0}")]
    Intake(#[from] IntakeError),
    /// Fetching or sealing media failed.
    #[error("media: {0}")]
    Media(#[from] MediaError),
    /// The Graph API could not be reached or answered an error.
    #[error("Graph API: {0}")]
    Graph(String),
    /// Binding the listening socket or another I/O step failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The writer thread stopped (it failed earlier, or the server is
    /// shutting down).
    #[error("the store writer has stopped; restart the server")]
    WriterStopped,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
}

impl ServerError {
    /// A short stable label for logs and audit outcomes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::PrivateKeyInConfig(_) => "private-key-in-config",
            Self::Store(StoreError::Busy) => "store-busy",
            Self::Store(_) => "store",
            Self::Intake(_) => "intake",
            Self::Media(MediaError::HashMismatch) => "media-hash-mismatch",
            Self::Media(MediaError::TooLarge { .. }) => "media-too-large",
            Self::Media(_) => "media",
            Self::Graph(_) => "graph",
            Self::Io { .. } => "io",
            Self::WriterStopped => "writer-stopped",
            Self::Random => "random",
        }
    }
}
