//! The reference fixtures are the reference implementation's files, unchanged: every file
//! listed in `tests/data/reference/SHA256SUMS` (the digests of the uncompressed originals) reads
//! back, plain or gzipped, with exactly that digest, from the directory the other tests use
//! (the bundled one or `TT_REFERENCE_DIR`). The bundled directory holds nothing unlisted.
mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

fn listed() -> Vec<(String, String)> {
    read(&bundled_reference_dir().join("SHA256SUMS"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (sum, name) = l
                .split_once("  ")
                .unwrap_or_else(|| panic!("SHA256SUMS: malformed line {l:?}"));
            (sum.to_string(), name.to_string())
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_fixture_has_the_reference_digest() {
    let dir = reference_dir();
    let files = listed();
    assert!(files.len() >= 60, "SHA256SUMS lists {} files", files.len());
    for (sum, name) in &files {
        let got = hex(&Sha256::digest(read_bytes(&dir.join(name))));
        assert_eq!(&got, sum, "{} differs from the reference file", name);
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = format!("{prefix}{}", e.file_name().to_str().unwrap());
        if e.file_type().unwrap().is_dir() {
            walk(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name);
        }
    }
}

#[test]
fn bundled_directory_holds_exactly_the_listed_files() {
    let mut on_disk = BTreeSet::new();
    walk(&bundled_reference_dir(), "", &mut on_disk);
    let mut expected: BTreeSet<String> = ["README.md", "SHA256SUMS"].map(String::from).into();
    for (_, name) in listed() {
        // Stored either plain or gzipped, never both.
        let gz = format!("{name}.gz");
        assert!(
            on_disk.contains(&name) != on_disk.contains(&gz),
            "{name}: want exactly one of {name} and {gz}"
        );
        expected.insert(if on_disk.contains(&gz) { gz } else { name });
    }
    assert_eq!(
        on_disk, expected,
        "files in tests/data/reference vs SHA256SUMS"
    );
}
