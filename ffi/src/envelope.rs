//! C ABI of `caduceus_core::envelope`.
