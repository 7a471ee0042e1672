//! `uniffi-bindgen` pinned to the workspace's uniffi version: bindings and
//! the library must be generated and built by the same uniffi, or the
//! foreign side fails its checksum check at load time.

fn main() {
    uniffi::uniffi_bindgen_main()
}
