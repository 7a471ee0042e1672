//! The `caduceus` command line.

fn main() {}
