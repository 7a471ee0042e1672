//! `envelope::inspect` and `header_len_from_prefix` on untrusted bytes: no
//! panic; when a header parses, the prefix agrees on its length and the
//! header bytes alone inspect to the same header.
#![no_main]

use caduceus_core::envelope::{self, PREFIX_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let from_prefix = envelope::header_len_from_prefix(data);
    if let Ok(h) = envelope::inspect(data) {
        assert!(h.header_len >= PREFIX_LEN && h.header_len <= data.len());
        assert_eq!(from_prefix, Ok(h.header_len), "prefix and header disagree");
        let again = envelope::inspect(&data[..h.header_len]).expect("header alone inspects");
        assert_eq!(again, h);
        assert!(!h.recipients.is_empty());
        let _ = format!("{h:?}");
    }
});
