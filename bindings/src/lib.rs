//! # Caduceus for Kotlin, Swift and Python
//!
//! `caduceus-uniffi` exposes `caduceus-core` through [uniffi] proc macros
//! (no UDL): Kotlin package `health.caduceus`, Swift module `Caduceus`,
//! Python module `caduceus`. It mirrors what the C ABI (`caduceus-ffi`,
//! `include/caduceus.h`) exposes, in each language's idiom:
//!
//! * objects for long-lived things ([`PrivateKey`], [`PublicKey`],
//!   [`KeyringRecord`], [`Sealer`], [`Opener`], [`Ledger`], [`Policy`],
//!   [`AuditKey`], [`AuditLog`], [`Webhook`], [`Intake`], [`Decision`],
//!   [`OutboundState`], ...), records for plain data ([`Labels`],
//!   [`Header`], [`ConsentEvent`], ...);
//! * one error enum, [`CaduceusError`], whose variants are what callers
//!   branch on; its messages never hold personal data;
//! * randomness from the operating system (getrandom), times as
//!   parameters (Unix seconds, UTC) or, where documented, the system clock;
//! * a Rust panic inside a call becomes an exception on the foreign side
//!   (uniffi catches it), never a crash.
//!
//! Byte buffers are copied at the boundary; for large media use the
//! streaming [`Sealer`] / [`Opener`] or the file-to-file calls
//! [`seal_file`] / [`open_file`], whose bytes never cross it.
//!
//! [uniffi]: https://mozilla.github.io/uniffi-rs/

mod audit;
mod consent;
mod envelope;
mod error;
mod keys;
mod policy;
mod whatsapp;

pub use audit::*;
pub use consent::*;
pub use envelope::*;
pub use error::CaduceusError;
pub use keys::*;
pub use policy::*;
pub use whatsapp::*;

uniffi::setup_scaffolding!("caduceus");

/// The operating system's RNG (getrandom); a failure of the OS RNG panics,
/// which uniffi turns into an exception.
pub(crate) fn rng() -> caduceus_core::rand_core::UnwrapErr<getrandom::SysRng> {
    caduceus_core::rand_core::UnwrapErr(getrandom::SysRng)
}

/// The library version, e.g. `0.1.0`.
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Test support only: fails with [`CaduceusError::Internal`] (the variant
/// Caduceus reports for its own bugs, which no input should reach), so the
/// foreign test suites can check they receive it. Never call it in a
/// product.
#[uniffi::export]
pub fn test_only_internal_error() -> Result<(), CaduceusError> {
    Err(caduceus_ffi::caduceus_result::CADUCEUS_INTERNAL.into())
}

/// Test support only: panics inside a call, so the foreign test suites can
/// check that a Rust panic arrives as an exception and not as a crash.
/// Never call it in a product.
#[uniffi::export]
pub fn test_only_panic(message: String) -> Result<(), CaduceusError> {
    if message.is_empty() {
        return Err(CaduceusError::InvalidInput {
            reason: "give a message".into(),
        });
    }
    #[allow(clippy::panic)]
    {
        panic!("test-only panic: {message}");
    }
}
