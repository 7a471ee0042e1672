//! C ABI of `caduceus_core::audit`.
