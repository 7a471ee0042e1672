//! C ABI of `caduceus_core::retention` and `caduceus_core::access` (policy).
