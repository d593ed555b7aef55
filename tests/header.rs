//! The committed C header must equal a fresh cbindgen generation (TT_BLESS=1 rewrites it), and
//! its version macros must match Cargo.toml.

use std::path::PathBuf;

fn generate() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
        .expect("cbindgen generation");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("utf-8 header")
}

#[test]
fn committed_header_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/thetatree.h");
    let fresh = generate();
    if std::env::var_os("TT_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/thetatree.h is stale: run `TT_BLESS=1 cargo test --test header` and commit it"
    );
}

#[test]
fn version_macros_match_cargo() {
    use thetatree::ffi::*;
    assert_eq!(
        TT_VERSION_MAJOR.to_string(),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        TT_VERSION_MINOR.to_string(),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        TT_VERSION_PATCH.to_string(),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
    let s = unsafe { std::ffi::CStr::from_ptr(tt_version_string()) };
    assert_eq!(
        s.to_str().unwrap(),
        format!("{TT_VERSION_MAJOR}.{TT_VERSION_MINOR}.{TT_VERSION_PATCH}")
    );
}

/// The status macros cbindgen writes (from `error::code`) and `Status::ALL` (from the
/// `status_table!` list) are the same table: same names, same values, same order.
#[test]
fn header_status_macros_match_status_all() {
    use thetatree::Status;
    let header = generate();
    let defines: Vec<(String, i32)> = header
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| *name == "TT_OK" || name.starts_with("TT_ERR_"))
        .map(|(name, v)| (name.to_string(), v.trim().parse().expect("integer status")))
        .collect();
    let table: Vec<(String, i32)> = Status::ALL
        .iter()
        .map(|&s| (s.name().to_string(), s as i32))
        .collect();
    assert_eq!(defines, table);
    for (k, s) in Status::ALL.iter().enumerate() {
        assert_eq!(*s as i32, k as i32, "codes are dense, in order");
        assert_eq!(Status::from_code(k as i32), Some(*s));
        assert!(s.c_name().ends_with('\0') && !s.name().contains('\0'));
    }
    assert_eq!(Status::from_code(Status::ALL.len() as i32), None);
}
