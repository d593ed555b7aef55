//! Give the shared library the SONAME `libthetatree.so.<ABI>`, so that consumers record the ABI
//! they were linked against (not the build path, and not a bare `libthetatree.so` that any
//! future incompatible library would satisfy).
//!
//! The ABI number has one source: `TT_ABI_VERSION` in `src/ffi.rs`. It reaches this script
//! through the generated header `include/thetatree.h` (tests/header.rs keeps the header equal to
//! a fresh generation), which is also where bindings/c/CMakeLists.txt reads it for the install
//! file names.
use std::path::Path;

const HEADER: &str = "include/thetatree.h";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={HEADER}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    let header = std::fs::read_to_string(Path::new(&root).join(HEADER))
        .unwrap_or_else(|e| panic!("build.rs: cannot read {HEADER}: {e}"));
    let abi = abi_version(&header)
        .unwrap_or_else(|| panic!("build.rs: no `#define TT_ABI_VERSION <number>` in {HEADER}"));
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libthetatree.so.{abi}");
}

/// The value of `#define TT_ABI_VERSION N` in the header text.
fn abi_version(header: &str) -> Option<u32> {
    header.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#define"), Some("TT_ABI_VERSION"), Some(n)) => n.parse().ok(),
            _ => None,
        }
    })
}
