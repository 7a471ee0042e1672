//! C ABI of `caduceus_core::consent`.
