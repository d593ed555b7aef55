//! Shared pieces of the fuzz targets: a generator of valid trees driven by the fuzzer's bytes,
//! an independent (safe, bounds-checked, written from the format spec) reference walk over the
//! raw model bytes, and the checks every loaded model must pass.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use thetatree::compile::{compile, export, CompileOptions};
use thetatree::ffi::*;
use thetatree::format::{ModelSpec, NodeSpec};
use thetatree::validate::{leaf_label, leaf_probabilities};
use thetatree::Model;

pub const MAX_GEN_NODES: usize = 63;
pub const MAX_GEN_DEPTH: u32 = 12;

fn count(u: &mut Unstructured) -> Result<f64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => 0.0,
        1..=4 => f64::from(u.arbitrary::<u8>()?),
        5 => f64::from(u.arbitrary::<u16>()?) / 7.0,
        6 => 1e300 * f64::from(u.arbitrary::<u8>()?),
        _ => {
            let x = f64::from_bits(u.arbitrary::<u64>()?);
            if x.is_finite() && x >= 0.0 {
                x
            } else {
                1.0
            }
        }
    })
}

/// A short string without NUL (`max` bytes at most).
fn text(u: &mut Unstructured, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    let mut s: String = s.chars().filter(|&c| c != '\0').collect();
    while s.len() > max {
        s.pop();
    }
    Ok(s)
}

struct Gen {
    nodes: Vec<NodeSpec>,
    stats: Vec<[f64; 3]>,
    n_features: u32,
}

impl Gen {
    /// Append the subtree rooted here in pre-order; returns its index.
    fn build(&mut self, u: &mut Unstructured, depth: u32) -> Result<u32> {
        let i = self.nodes.len();
        let split = self.n_features > 0
            && depth < MAX_GEN_DEPTH
            && self.nodes.len() + 3 <= MAX_GEN_NODES
            && !u.is_empty()
            && u.ratio(3u8, 5u8)?;
        if split {
            let feature = u.int_in_range(0..=self.n_features - 1)?;
            self.nodes.push(NodeSpec::Leaf {
                label: 0,
                probabilities: [0.0; 2],
            });
            self.stats.push([0.0; 3]);
            let left = self.build(u, depth + 1)?;
            let right = self.build(u, depth + 1)?;
            let (l, r) = (self.stats[left as usize], self.stats[right as usize]);
            let unknown = u.ratio(1u8, 4u8)?;
            let counts = if unknown {
                [f64::NAN, f64::NAN]
            } else {
                [l[1] + r[1], l[2] + r[2]]
            };
            let counts = if counts[0].is_finite() && counts[1].is_finite() || unknown {
                counts
            } else {
                [f64::NAN, f64::NAN]
            };
            let n = l[0] + r[0];
            let n = if n.is_finite() { n } else { f64::MAX };
            self.nodes[i] = NodeSpec::Split {
                feature,
                left,
                right,
                missing_right: r[0] > l[0],
            };
            self.stats[i] = [n, counts[0], counts[1]];
        } else {
            let c = [count(u)?, count(u)?];
            let n = if u.ratio(1u8, 3u8)? {
                count(u)?
            } else {
                let s = c[0] + c[1];
                if s.is_finite() {
                    s
                } else {
                    f64::MAX
                }
            };
            self.nodes.push(NodeSpec::Leaf {
                label: leaf_label(c),
                probabilities: leaf_probabilities(c),
            });
            self.stats.push([n, c[0], c[1]]);
        }
        Ok(i as u32)
    }
}

/// A valid model spec (pre-order, at most 63 nodes, depth <= 12, 0..=8 features).
pub fn gen_spec(u: &mut Unstructured) -> Result<ModelSpec> {
    let n_features = u.int_in_range(0u32..=8)?;
    let mut g = Gen {
        nodes: vec![],
        stats: vec![],
        n_features,
    };
    g.build(u, 0)?;
    let prefix = text(u, 6)?;
    let feature_names = (0..n_features).map(|i| format!("{prefix}{i}")).collect();
    let neg = text(u, 8)?;
    let mut pos = text(u, 8)?;
    if pos == neg {
        pos.push('+');
    }
    let model_version = text(u, 40)?;
    let meta = text(u, 40)?;
    Ok(ModelSpec {
        nodes: g.nodes,
        stats: g.stats,
        feature_names,
        class_labels: vec![neg, pos],
        model_version,
        metadata_json: serde_json::json!({ "fuzz": meta }).to_string(),
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_bits(u64_at(b, at))
}

/// What a row does in the reference walk.
#[derive(Debug, PartialEq)]
pub enum Walk {
    Leaf { label: i32, p: [u64; 2] },
    Invalid { column: usize },
}

/// The reference walk, written from the format description only: plain bounds-checked reads
/// of the raw bytes (a panic here after a successful validation is a validator bug).
pub fn reference_walk(model: &[u8], row: &[f64]) -> Walk {
    let nodes = u64_at(model, 64) as usize;
    let probs = u64_at(model, 64 + 32) as usize;
    let n_nodes = u32_at(model, 44) as usize;
    let mut i = 0usize;
    for _ in 0..=n_nodes {
        let w = |j: usize| u32_at(model, nodes + 16 * i + 4 * j);
        let tag = w(0);
        if tag == 2 {
            let leaf = w(1) as usize;
            return Walk::Leaf {
                label: w(2) as i32,
                p: [
                    f64_at(model, probs + 16 * leaf).to_bits(),
                    f64_at(model, probs + 16 * leaf + 8).to_bits(),
                ],
            };
        }
        assert!(tag <= 1, "validated model has node tag {tag}");
        let f = w(1) as usize;
        let v = row[f];
        let right = if v == 0.0 {
            false
        } else if v == 1.0 {
            true
        } else if v.is_nan() {
            tag == 1
        } else {
            return Walk::Invalid { column: f };
        };
        let next = if right { w(3) } else { w(2) } as usize;
        assert!(next > i && next < n_nodes, "validated model walks {i} -> {next}");
        i = next;
    }
    panic!("validated model: the walk did not end within n_nodes steps");
}

/// Cells for `n_rows` rows: mostly 0 / 1 / missing, sometimes something invalid.
pub fn cells(u: &mut Unstructured, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| match u.int_in_range(0u8..=15).unwrap_or(0) {
            0..=5 => 0.0,
            6..=11 => 1.0,
            12 => -0.0,
            13 => f64::NAN,
            14 => f64::from_bits(0x7ff8_dead_beef_0001), // another NaN payload
            _ => [0.5, -1.0, 2.0, f64::INFINITY, f64::NEG_INFINITY, 1e-300][usize::from(
                u.arbitrary::<u8>().unwrap_or(0) % 6,
            )],
        })
        .collect()
}

/// i8 view of f64 cells (NaN -> -1; invalid values -> an invalid i8).
pub fn to_i8(x: &[f64]) -> Vec<i8> {
    x.iter()
        .map(|&v| {
            if v == 0.0 {
                0
            } else if v == 1.0 {
                1
            } else if v.is_nan() {
                -1
            } else {
                7
            }
        })
        .collect()
}

/// Predict `x` through the Rust API and the C ABI (i8 and f64, labels and probabilities) and
/// compare every row with the reference walk.
///
/// # Safety
/// `ffi` is a live model from `tt_load*` (the same model as `m`).
pub unsafe fn check_model(m: &Model, ffi: *const tt_model, x: &[f64]) {
    let nf = m.n_features();
    let n_rows = if nf == 0 { 3 } else { x.len() / nf };
    let x = &x[..n_rows * nf];
    let xi = to_i8(x);
    let expect: Vec<Walk> = (0..n_rows)
        .map(|r| reference_walk(m.model_bytes(), &x[r * nf..(r + 1) * nf]))
        .collect();
    let first_bad = expect.iter().position(|w| matches!(w, Walk::Invalid { .. }));
    let tree = m.tree();
    let mut labels = vec![-9i32; n_rows];
    let mut proba = vec![-9f64; 2 * n_rows];
    let r1 = tree.predict(x, n_rows, &mut labels);
    let r2 = tree.predict_proba(x, n_rows, &mut proba);
    let e = std::ptr::null_mut();
    let mut fl = vec![-9i32; n_rows];
    let mut fp = vec![-9f64; 2 * n_rows];
    let mut il = vec![-9i32; n_rows];
    let mut ip = vec![-9f64; 2 * n_rows];
    // SAFETY: the buffers hold n_rows rows (outputs n_rows or 2 * n_rows values); `ffi` is live.
    let c1 = unsafe { tt_predict_f64(ffi, x.as_ptr(), n_rows, nf, fl.as_mut_ptr(), n_rows, e) };
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let c2 = unsafe { tt_predict_proba_f64(ffi, x.as_ptr(), n_rows, nf, fp.as_mut_ptr(), 2 * n_rows, e) };
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let c3 = unsafe { tt_predict(ffi, xi.as_ptr(), n_rows, nf, il.as_mut_ptr(), n_rows, e) };
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let c4 = unsafe { tt_predict_proba(ffi, xi.as_ptr(), n_rows, nf, ip.as_mut_ptr(), 2 * n_rows, e) };
    match first_bad {
        None => {
            assert!(r1.is_ok() && r2.is_ok());
            assert_eq!([c1, c2, c3, c4], [TT_OK; 4]);
        }
        Some(r) => {
            let Walk::Invalid { column } = expect[r] else {
                unreachable!()
            };
            for res in [r1, r2] {
                let err = res.expect_err("an invalid cell was accepted");
                assert_eq!((err.row, err.column), (r as i64, column as i64));
            }
            assert_eq!([c1, c2, c3, c4], [TT_ERR_INPUT_VALUE; 4]);
        }
    }
    for (r, w) in expect.iter().enumerate().take(first_bad.unwrap_or(n_rows)) {
        let Walk::Leaf { label, p } = *w else {
            unreachable!()
        };
        for (l, pr) in [(&labels, &proba), (&fl, &fp), (&il, &ip)] {
            assert_eq!(l[r], label, "row {r}");
            assert_eq!([pr[2 * r].to_bits(), pr[2 * r + 1].to_bits()], p, "row {r}");
        }
        assert!(label == 0 || label == 1);
        let (p0, p1) = (f64::from_bits(p[0]), f64::from_bits(p[1]));
        assert!((0.0..=1.0).contains(&p0) && (0.0..=1.0).contains(&p1));
        assert!(!(p1 > p0 && label == 0) && !(p0 > p1 && label == 1));
    }
    // Metadata getters never fail on a valid model.
    for i in 0..nf {
        let name = m.feature_name(i).unwrap();
        assert_eq!(m.feature_index(name.as_bytes()), Some(i));
    }
    assert!(m.feature_name(nf).is_none());
    assert!(m.class_label(0).is_some() && m.class_label(1).is_some());
    let _ = (m.model_version(), m.metadata_json(), m.digest());
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert!(!unsafe { tt_model_version(ffi) }.is_null() && !unsafe { tt_metadata_json(ffi) }.is_null());
}

/// A valid model exports to JSON that compiles back to a model that predicts the same, and
/// `compile(export(.))` is idempotent after one round.
pub fn check_roundtrip(m: &Model) {
    let json = export(m);
    let b = compile(&json, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("a valid model does not recompile from its export: {e}"));
    let m2 = Model::from_bytes(&b).expect("the compiler wrote an invalid model");
    assert_eq!(m2.n_features(), m.n_features());
    assert_eq!(m2.n_nodes(), m.n_nodes());
    assert_eq!(m2.model_version(), m.model_version());
    let again = compile(&export(&m2), &CompileOptions::default()).unwrap();
    assert_eq!(again, b, "compile(export(m)) is not a fixed point");
    // Same predictions for up to 3^5 rows over the first features (0 elsewhere).
    let nf = m.n_features();
    let k = nf.min(5);
    for code in 0..3usize.pow(k as u32) {
        let mut row = vec![0.0; nf];
        let mut c = code;
        for v in row.iter_mut().take(k) {
            *v = [0.0, 1.0, f64::NAN][c % 3];
            c /= 3;
        }
        let a = m.tree().leaf(&row).unwrap();
        let b = m2.tree().leaf(&row).unwrap();
        assert_eq!(a.label, b.label);
        assert_eq!(
            a.probabilities.map(f64::to_bits),
            b.probabilities.map(f64::to_bits)
        );
    }
}

pub fn zero_err() -> tt_error {
    tt_error {
        code: 0,
        row: 0,
        column: 0,
        byte_offset: 0,
        message: [0; 256],
    }
}

/// Load `data` through `Model::from_bytes` and `tt_load_bytes` (copying and borrowing); all
/// three must agree. On success, run `check_model` on every path.
pub fn load_everywhere(data: &[u8], rows: &[f64]) -> Option<Model> {
    let pure = Model::from_bytes(data);
    let code = pure.as_ref().err().map_or(TT_OK, |e| e.status as i32);
    let offset = pure.as_ref().err().map_or(0, |e| e.byte_offset);
    for flags in [TT_LOAD_DEFAULT, TT_LOAD_BORROW] {
        let mut out: *mut tt_model = std::ptr::null_mut();
        let mut err = zero_err();
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        let rc = unsafe { tt_load_bytes(data.as_ptr(), data.len(), flags, &mut out, &mut err) };
        assert_eq!(rc, code, "tt_load_bytes and Model::from_bytes disagree");
        if rc == TT_OK {
            let m = pure.as_ref().unwrap();
            // SAFETY: `out` was just loaded (rc == TT_OK) and is freed below.
            unsafe { check_model(m, out, rows) };
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_free(out) };
        } else {
            assert!(out.is_null());
            assert_eq!((err.code, err.byte_offset), (rc, offset));
            assert!(rc != TT_ERR_PANIC);
            // The message is NUL-terminated within the buffer.
            assert!(err.message.contains(&0));
        }
    }
    pure.ok()
}

/// Recompute the CRC over the part of `buf` the header declares (if it has a header).
pub fn fix_crc(buf: &mut [u8]) {
    if buf.len() < 36 {
        return;
    }
    let fl = u64_at(buf, 24).min(buf.len() as u64) as usize;
    if fl >= 36 {
        thetatree::format::refresh_crc(&mut buf[..fl]);
    }
}
