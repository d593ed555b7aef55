//! Shared helpers for integration tests: the reference directory, the model manifest, and
//! loaders for the reference inputs and golden outputs; `builders` (model images byte by byte)
//! and `ffi` (calling the C ABI) are re-exported.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

mod builders;
mod ffi;
pub use builders::*;
pub use ffi::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use thetatree::compile::{compile, CompileOptions};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixtures committed in the repository.
pub fn bundled_reference_dir() -> PathBuf {
    repo().join("tests/data/reference")
}

/// `TT_REFERENCE_DIR`, else the bundled fixtures. Parity is a hard requirement, so a missing
/// reference directory fails the tests instead of skipping them.
pub fn reference_dir() -> PathBuf {
    let dir = std::env::var_os("TT_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(bundled_reference_dir);
    assert!(
        dir.join("golden").is_dir(),
        "reference data not found at {} (TT_REFERENCE_DIR overrides tests/data/reference)",
        dir.display()
    );
    dir
}

pub struct RefModel {
    pub name: String,
    pub json: PathBuf,
    pub mapping: PathBuf,
    pub dataset: String,
}

pub fn manifest() -> Vec<RefModel> {
    let dir = reference_dir();
    let text = std::fs::read_to_string(repo().join("tests/reference_models.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            RefModel {
                name: f[0].into(),
                json: dir.join(f[1]),
                mapping: dir.join(f[2]),
                dataset: f[3].into(),
            }
        })
        .collect()
}

/// The bytes of `p`, or, when only `p.gz` exists, its decompressed bytes: the repository
/// stores the large CSVs gzipped, a `TT_REFERENCE_DIR` may hold them plain.
pub fn read_bytes(p: &Path) -> Vec<u8> {
    if p.exists() {
        return std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    let mut gz = p.as_os_str().to_owned();
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    let file =
        std::fs::File::open(&gz).unwrap_or_else(|e| panic!("{} (nor .gz): {e}", p.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", gz.display()));
    out
}

/// `read_bytes` as UTF-8 text.
pub fn read(p: &Path) -> String {
    String::from_utf8(read_bytes(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn compile_ref(m: &RefModel) -> Vec<u8> {
    let opts = CompileOptions {
        feature_mapping: Some(read(&m.mapping)),
        model_version: Some(m.name.clone()),
        ..Default::default()
    };
    compile(&read(&m.json), &opts).unwrap_or_else(|e| panic!("{}: {e}", m.name))
}

/// Input matrix: header names, then rows as f64 (NaN = empty cell = missing).
pub struct Input {
    pub names: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl Input {
    pub fn f64_flat(&self) -> Vec<f64> {
        self.rows.iter().flatten().copied().collect()
    }
    pub fn i8_flat(&self) -> Vec<i8> {
        self.rows
            .iter()
            .flatten()
            .map(|&v| if v.is_nan() { -1 } else { v as i8 })
            .collect()
    }
}

pub fn input(dataset: &str, missing: bool) -> Input {
    let file = reference_dir().join(format!(
        "inputs/{dataset}_X{}.csv",
        if missing { "_missing" } else { "" }
    ));
    let text = read(&file);
    let mut lines = text.lines();
    let names = lines
        .next()
        .unwrap()
        .split(',')
        .skip(1)
        .map(String::from)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .skip(1)
                .map(|c| {
                    if c.is_empty() {
                        f64::NAN
                    } else {
                        c.parse().unwrap()
                    }
                })
                .collect()
        })
        .collect();
    Input { names, rows }
}

/// One golden row: expected label and probabilities (None where the golden file is empty),
/// and the reached leaf's pre-order node index.
pub struct Golden {
    pub pred: i32,
    pub proba: Option<[f64; 2]>,
    pub leaf_preorder: usize,
}

pub fn golden(model: &str, missing: bool) -> Vec<Golden> {
    let file = reference_dir().join(format!(
        "golden/{model}__X{}.csv",
        if missing { "_missing" } else { "" }
    ));
    let text = read(&file);
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "row,y_true,pred,p0,p1,leaf_preorder");
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let proba = (!f[3].is_empty()).then(|| [f[3].parse().unwrap(), f[4].parse().unwrap()]);
            Golden {
                pred: f[2].parse().unwrap(),
                proba,
                leaf_preorder: f[5].parse().unwrap(),
            }
        })
        .collect()
}

/// Assert labels and probabilities equal the golden file, bit for bit. Returns rows checked.
pub fn assert_matches(what: &str, gold: &[Golden], labels: &[i32], proba: &[f64]) -> usize {
    assert_eq!(gold.len(), labels.len(), "{what}: row count");
    for (r, g) in gold.iter().enumerate() {
        assert_eq!(labels[r], g.pred, "{what}: row {r} label");
        if let Some(p) = g.proba {
            assert_eq!(
                [proba[2 * r].to_bits(), proba[2 * r + 1].to_bits()],
                [p[0].to_bits(), p[1].to_bits()],
                "{what}: row {r} probabilities {:?} vs golden {:?}",
                &proba[2 * r..2 * r + 2],
                p
            );
        }
    }
    gold.len()
}
