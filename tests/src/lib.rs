//! End-to-end scenario tests of Caduceus live in `tests/tests/`; this crate
//! has no library code of its own.
