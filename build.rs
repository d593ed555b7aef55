//! Give the shared library a SONAME so that consumers record `libthetatree.so`, not the build
//! path they linked against.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libthetatree.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
