//! # caduceus-core
//!
//! The compliance core of Caduceus: envelope encryption of patient messages
//! and media on a practice key hierarchy, for practice software that handles
//! patient messaging over the WhatsApp Business Platform under the GDPR and
//! German medical law.
//!
//! * [`envelope`]: seal and open messages (one call) and media (streaming,
//!   one segment of memory), inspect labels without a key, rewrap
//!   recipients without touching the payload, random access to segments,
//!   "part x of y" envelope sets.
//! * [`keys`]: practice, staff and subject-category X25519 keys, their text
//!   forms and key ids, and the subject-category [`keys::KeyringRecord`]
//!   (create, unwrap, add and revoke recipients, rotate, shred).
//! * [`audit`]: the tamper-evident audit log (pseudonymous entries, RFC 6962
//!   Merkle tree and proofs, signed C2SP checkpoints, FHIR `AuditEvent` export).
//! * [`consent`]: the append-only consent ledger, decisions and FHIR / ISO 27560 exports.
//! * [`retention`]: the retention policy, sweep, legal holds, erasure plans,
//!   breach clock and Art. 30 register; [`access`]: roles, key recipients,
//!   access and portability plans.
//! * [`pseudonym`]: the only forms a person or record may be named in:
//!   keyed-hash pseudonyms with a check character, and restricted identifiers.
//! * [`suite`]: the cipher suite's primitives exactly as the formats call them.
//! * [`time`]: civil dates and RFC 3339 timestamps (UTC), integer arithmetic
//!   only, shared by the exports and the command line.
//! * [`whatsapp`]: WhatsApp Business Platform intake: the
//!   `X-Hub-Signature-256` check and the subscription handshake, the
//!   bounded webhook parser, the consent gate (decisions the host persists),
//!   the media sealer that verifies the webhook's SHA-256, deduplication and
//!   the outbound gate.
//! * `testing`: deterministic, predictable RNGs for tests and the test
//!   vectors, compiled only with the `test-rng` feature, which no product
//!   may enable. Production code passes the operating system's RNG, e.g.
//!   `rand_core::UnwrapErr(getrandom::SysRng)`.
//!
//! The crate does no I/O of its own (it offers `std::io` adapters over the
//! caller's streams), reads no clock (times are parameters) and takes all
//! randomness from a caller-supplied [`rand_core::CryptoRng`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

pub mod access;
pub mod audit;
mod codec;
pub mod consent;
pub mod envelope;
pub mod keys;
mod label;
pub mod pseudonym;
pub mod retention;
pub mod suite;
#[cfg(any(test, feature = "test-rng"))]
pub mod testing;
pub mod time;
mod toml_depth;
pub mod whatsapp;

pub use label::MAX_LABEL_LEN;
pub use rand_core;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
