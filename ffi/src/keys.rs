//! C ABI of `caduceus_core::keys`.
