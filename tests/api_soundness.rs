//! Every public Rust function called with out-of-range and inconsistent arguments: each call
//! returns an error, `None`, or panics; none reads out of bounds or returns a value that is not
//! the model's. Runs under Miri too (`.ci/miri`), which turns any out-of-bounds read into a
//! failure, so the unchecked reads inside the traversal are exercised with hostile arguments.

mod common;
#[path = "../benches/gen/mod.rs"]
mod gen;

use common::*;
use gen::Generated;
use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use thetatree::compile::{compile, compile_pickle, export, CompileOptions};
use thetatree::ffi::{tt_abi_version, tt_status_str, tt_version_string, TT_ABI_VERSION};
use thetatree::format::*;
use thetatree::traverse::{Cell, Kernel, Tree};
use thetatree::validate::{json_nesting_depth, leaf_label, leaf_probabilities, validate};
use thetatree::{pickle, signature, Error, Model, Status};

/// `f` panics (and the panic does not escape).
#[track_caller]
fn panics<T>(f: impl FnOnce() -> T) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "expected a panic"
    );
}

#[track_caller]
fn status<T>(r: thetatree::Result<T>, want: Status) -> Error {
    let Err(e) = r else {
        panic!("expected an error {want:?}")
    };
    assert_eq!(e.status, want, "{e}");
    e
}

/// Small trees of every shape the walks distinguish: a single leaf, a dense tree in pre-order,
/// the same tree with children out of pre-order (no left-adjacent flag), a chain (branchy
/// kernel), and widths on both sides of the word and bitset boundaries.
fn models() -> Vec<(String, ModelSpec)> {
    let mut v: Vec<(String, ModelSpec)> = vec![
        ("stump".into(), stump()),
        ("leaf only".into(), single_leaf()),
        ("out of pre-order".into(), out_of_preorder()),
    ];
    let widths: &[usize] = if cfg!(miri) {
        &[3, 64, 65, 4100]
    } else {
        &[3, 64, 65, 4100, 70_000]
    };
    for &nf in widths {
        let g: Generated = gen::dense(nf as u64, nf, 60.0, Some(5), 2.0);
        v.push((format!("dense {nf}"), g.spec));
    }
    v.push(("one-hot chain".into(), gen::onehot(5, 200, 400.0, 2.0).spec));
    v
}

fn spec(nodes: Vec<NodeSpec>, stats: Vec<[f64; 3]>, n_features: usize) -> ModelSpec {
    ModelSpec {
        nodes,
        stats,
        feature_names: (0..n_features).map(|i| format!("f{i}")).collect(),
        class_labels: vec!["0".into(), "1".into()],
        model_version: "soundness".into(),
        metadata_json: "{}".into(),
    }
}

fn stump() -> ModelSpec {
    let nodes = vec![
        NodeSpec::Split {
            feature: 1,
            left: 1,
            right: 2,
            missing_right: true,
        },
        leaf([3.0, 1.0]),
        leaf([1.0, 5.0]),
    ];
    spec(
        nodes,
        vec![[10.0, 4.0, 6.0], [4.0, 3.0, 1.0], [6.0, 1.0, 5.0]],
        2,
    )
}

fn single_leaf() -> ModelSpec {
    spec(vec![leaf([2.0, 7.0])], vec![[9.0, 2.0, 7.0]], 4)
}

/// Root's left child is node 2, so the encoder leaves the pre-order flag unset.
fn out_of_preorder() -> ModelSpec {
    let nodes = vec![
        NodeSpec::Split {
            feature: 0,
            left: 2,
            right: 1,
            missing_right: false,
        },
        leaf([0.0, 3.0]),
        leaf([4.0, 1.0]),
    ];
    spec(
        nodes,
        vec![[8.0, 4.0, 4.0], [3.0, 0.0, 3.0], [5.0, 4.0, 1.0]],
        1,
    )
}

/// The leaf a row reaches, by walking the spec (the reference for every check below).
fn reference_leaf(s: &ModelSpec, row: &[i8]) -> Result<usize, usize> {
    let mut i = 0;
    loop {
        match s.nodes[i] {
            NodeSpec::Leaf { .. } => return Ok(i),
            NodeSpec::Split {
                feature,
                left,
                right,
                missing_right,
            } => {
                i = match row[feature as usize] {
                    0 => left,
                    1 => right,
                    -1 if missing_right => right,
                    -1 => left,
                    _ => return Err(feature as usize),
                } as usize;
            }
        }
    }
}

fn reference_value(s: &ModelSpec, node: usize) -> (i32, [f64; 2]) {
    match s.nodes[node] {
        NodeSpec::Leaf {
            label,
            probabilities,
        } => (label as i32, probabilities),
        NodeSpec::Split { .. } => unreachable!("not a leaf"),
    }
}

/// A few deterministic rows (0, 1 and missing cells).
fn rows(nf: usize, n: usize, seed: u64) -> Vec<i8> {
    let mut rng = gen::Rng::new(seed);
    (0..n * nf).map(|_| rng.below(3) as i8 - 1).collect()
}

fn kernels(m: &Model) -> [Tree<'_>; 2] {
    [
        m.tree().with_kernel(Kernel::Branchy),
        m.tree().with_kernel(Kernel::BranchFree),
    ]
}

#[test]
fn leaf_accessors_check_their_arguments() {
    for (name, s) in models() {
        let m = Model::from_bytes(&encode(&s)).unwrap();
        let nf = s.feature_names.len();
        for t in kernels(&m) {
            // leaf_at: every index, in range or not.
            let n = s.nodes.len();
            for i in (0..n + 3).chain([usize::MAX, usize::MAX / 2, u32::MAX as usize + 1]) {
                let got = t.leaf_at(i);
                match s.nodes.get(i) {
                    Some(NodeSpec::Leaf { .. }) => {
                        let leaf = got.unwrap();
                        assert_eq!(leaf.node, i);
                        assert_eq!(
                            (leaf.label, leaf.probabilities),
                            reference_value(&s, i),
                            "{name}"
                        );
                    }
                    _ => assert!(
                        got.is_none(),
                        "{name}: leaf_at({i}) on a split or past the end"
                    ),
                }
            }
            // Rows of the wrong length panic before any cell is read.
            for len in [0, nf.saturating_sub(1), nf + 1] {
                if len != nf {
                    panics(|| t.leaf(&vec![0i8; len]));
                    panics(|| t.leaf_index(&vec![0.0f64; len]));
                }
            }
            // Right length: the reference leaf, or the column of the invalid cell.
            for row in rows(nf, 4, 7).chunks(nf) {
                let want = reference_leaf(&s, row);
                assert_eq!(t.leaf_index(row), want, "{name}");
                if let Ok(node) = want {
                    let leaf = t.leaf(row).unwrap();
                    assert_eq!((leaf.label, leaf.probabilities), reference_value(&s, node));
                }
                let mut bad = row.to_vec();
                for v in [2i8, -2, i8::MIN, i8::MAX] {
                    bad.iter_mut().for_each(|c| *c = v);
                    if let Err(col) = reference_leaf(&s, &bad) {
                        assert_eq!(t.leaf(&bad), Err(col), "{name}: value {v}");
                    }
                }
            }
        }
    }
}

#[test]
fn leaf_indices_from_another_model_are_checked() {
    let big = Model::from_bytes(&encode(&gen::dense(9, 8, 200.0, Some(6), 2.0).spec)).unwrap();
    let small = Model::from_bytes(&encode(&stump())).unwrap();
    for row in rows(8, 16, 3).chunks(8) {
        if let Ok(node) = big.tree().leaf_index(row) {
            // An index of the big tree names nothing (or a leaf) in the small one.
            match small.tree().leaf_at(node) {
                None => assert!(node >= 3 || node == 0),
                Some(leaf) => assert!(leaf.node == 1 || leaf.node == 2),
            }
        }
    }
}

#[test]
fn dense_predictions_check_shapes_and_values() {
    for (name, s) in models() {
        let m = Model::from_bytes(&encode(&s)).unwrap();
        let nf = s.feature_names.len();
        let n = 11; // one group of 8 lanes and a tail
        let x = rows(nf, n, 11);
        let xf: Vec<f64> = x
            .iter()
            .map(|&c| if c == -1 { f64::NAN } else { c as f64 })
            .collect();
        let want: Vec<usize> = x
            .chunks(nf)
            .map(|r| reference_leaf(&s, r).unwrap())
            .collect();
        for t in kernels(&m) {
            let mut labels = vec![-5i32; n];
            let mut proba = vec![-5.0f64; 2 * n];
            t.predict(&x, n, &mut labels).unwrap();
            t.predict_proba(&xf, n, &mut proba).unwrap();
            for (r, &node) in want.iter().enumerate() {
                let (label, p) = reference_value(&s, node);
                assert_eq!(labels[r], label, "{name} row {r}");
                assert_eq!(&proba[2 * r..2 * r + 2], &p, "{name} row {r}");
            }
            // Wrong lengths, overflowing shapes, short outputs: errors, nothing read.
            let shape = |r: thetatree::Result<()>| status(r, Status::Shape);
            shape(t.predict(&x[..x.len() - 1], n, &mut labels));
            shape(t.predict(&x, n + 1, &mut vec![0; n + 1]));
            shape(t.predict(&x, usize::MAX, &mut labels));
            shape(t.predict_proba(&xf, usize::MAX / 2 + 1, &mut proba));
            status(t.predict(&x, n, &mut labels[..n - 1]), Status::Length);
            status(
                t.predict_proba(&x, n, &mut proba[..2 * n - 1]),
                Status::Length,
            );
            if nf.is_power_of_two() && nf > 1 {
                // A row count whose cell count wraps around to exactly the input's length.
                let wrap = n + (1usize << (usize::BITS - nf.trailing_zeros()));
                assert_eq!(wrap.wrapping_mul(nf), x.len());
                shape(t.predict(&x, wrap, &mut labels));
            }
            // Zero rows: nothing to do, whatever the output holds.
            t.predict::<i8>(&[], 0, &mut []).unwrap();
            // Invalid cells: the first one the scalar walk reads, with its row and column.
            let mut bad = x.clone();
            bad[(n - 1) * nf..].iter_mut().for_each(|c| *c = 9);
            let r = t.predict(&bad, n, &mut labels);
            match reference_leaf(&s, &bad[(n - 1) * nf..]) {
                Err(col) => {
                    let e = status(r, Status::InputValue);
                    assert_eq!((e.row, e.column), ((n - 1) as i64, col as i64));
                }
                Ok(_) => r.unwrap(), // a lone leaf reads no cell
            }
            // A value no kernel accepts, in the first cell the walk reads (the root's feature).
            if let NodeSpec::Split { feature, .. } = s.nodes[0] {
                let mut inf = xf.clone();
                inf[feature as usize] = f64::INFINITY;
                let e = status(t.predict_proba(&inf, n, &mut proba), Status::InputValue);
                assert_eq!((e.row, e.column), (0, feature as i64));
                assert!(e.message.contains("inf"), "{}", e.message);
            }
        }
    }
}

#[test]
fn bit_packed_predictions_check_shapes() {
    for (name, s) in models() {
        let m = Model::from_bytes(&encode(&s)).unwrap();
        let nf = s.feature_names.len();
        let n = 9;
        let x = rows(nf, n, 5);
        let (bits, mask) = gen::pack_bits(&x, nf);
        for t in kernels(&m) {
            let wpr = t.words_per_row();
            assert_eq!(wpr, nf.div_ceil(64));
            let mut labels = vec![-5i32; n];
            let mut proba = vec![-5.0; 2 * n];
            t.predict_bits(&bits, Some(&mask), n, &mut labels).unwrap();
            t.predict_proba_bits(&bits, Some(&mask), n, &mut proba)
                .unwrap();
            for (r, row) in x.chunks(nf).enumerate() {
                let (label, p) = reference_value(&s, reference_leaf(&s, row).unwrap());
                assert_eq!(
                    (labels[r], &proba[2 * r..2 * r + 2]),
                    (label, &p[..]),
                    "{name}"
                );
            }
            let shape = |r: thetatree::Result<()>| status(r, Status::Shape);
            shape(t.predict_bits(&bits[1..], None, n, &mut labels));
            shape(t.predict_bits(&bits, Some(&mask[1..]), n, &mut labels));
            shape(t.predict_bits(&bits, Some(&[]), n, &mut labels));
            shape(t.predict_bits(&bits, None, n + 1, &mut vec![0; n + 1]));
            shape(t.predict_proba_bits(&bits, None, usize::MAX, &mut proba));
            if wpr.is_power_of_two() && wpr > 1 {
                let wrap = n + (1usize << (usize::BITS - wpr.trailing_zeros()));
                assert_eq!(wrap.wrapping_mul(wpr), bits.len());
                shape(t.predict_bits(&bits, None, wrap, &mut labels));
            }
            status(
                t.predict_bits(&bits, None, n, &mut labels[..1]),
                Status::Length,
            );
            status(
                t.predict_proba_bits(&bits, None, n, &mut proba[..2 * n - 1]),
                Status::Length,
            );
            t.predict_bits(&[], None, 0, &mut []).unwrap();
        }
    }
}

#[test]
fn csr_predictions_check_structures() {
    for (name, s) in models() {
        let m = Model::from_bytes(&encode(&s)).unwrap();
        let nf = s.feature_names.len();
        let n = 9;
        let x: Vec<i8> = rows(nf, n, 2).into_iter().map(|c| c.max(0)).collect();
        let (off, idx) = gen::to_csr(&x, nf);
        for t in kernels(&m) {
            let mut labels = vec![-5i32; n];
            let mut proba = vec![-5.0; 2 * n];
            t.predict_csr(&off, &idx, n, &mut labels).unwrap();
            t.predict_proba_csr(&off, &idx, n, &mut proba).unwrap();
            for (r, row) in x.chunks(nf).enumerate() {
                let (label, p) = reference_value(&s, reference_leaf(&s, row).unwrap());
                assert_eq!(
                    (labels[r], &proba[2 * r..2 * r + 2]),
                    (label, &p[..]),
                    "{name}"
                );
            }
            let shape = |r: thetatree::Result<()>| status(r, Status::Shape);
            // Offsets: wrong count, n_rows at the top of the range, decreasing, past the end.
            shape(t.predict_csr(&off[1..], &idx, n, &mut labels));
            shape(t.predict_csr(&off, &idx, usize::MAX, &mut labels));
            shape(t.predict_csr(&[0], &idx, usize::MAX, &mut labels));
            let e = shape(t.predict_csr(&[0, 5, 2, 9], &[0; 9], 3, &mut labels));
            assert_eq!(e.row, 1);
            status(
                t.predict_csr(&[0, 1, usize::MAX], &[0], 2, &mut labels),
                Status::Length,
            );
            status(
                t.predict_csr(&[usize::MAX, usize::MAX], &[], 1, &mut labels),
                Status::Length,
            );
            // Indices: out of range, duplicate, unsorted; the row and the index are named.
            for (bad, col) in [
                (vec![nf as u32], nf as i64),
                (vec![u32::MAX], u32::MAX as i64),
                (vec![0, 0], 0),
            ] {
                let e = shape(t.predict_csr(&[0, bad.len()], &bad, 1, &mut labels));
                assert_eq!((e.row, e.column), (0, col), "{name}");
            }
            if nf > 1 {
                let e = shape(t.predict_csr(&[0, 0, 2], &[1, 0], 2, &mut labels));
                assert_eq!((e.row, e.column), (1, 0));
            }
            status(
                t.predict_csr(&off, &idx, n, &mut labels[..n - 1]),
                Status::Length,
            );
            status(
                t.predict_proba_csr(&off, &idx, n, &mut proba[..1]),
                Status::Length,
            );
            // Offsets need not start at 0; empty rows are all-zero rows.
            t.predict_csr(&[3, 3, 3], &[7, 7, 7], 2, &mut labels)
                .unwrap();
            let zero = reference_value(&s, reference_leaf(&s, &vec![0; nf]).unwrap()).0;
            assert_eq!(&labels[..2], &[zero, zero]);
        }
    }
}

#[test]
fn model_accessors_check_their_arguments() {
    for (name, s) in models().into_iter().take(4) {
        let bytes = encode(&s);
        let m = Model::from_bytes(&bytes).unwrap();
        let nf = m.n_features();
        assert_eq!(nf, s.feature_names.len(), "{name}");
        for i in [nf, nf + 1, usize::MAX] {
            assert!(m.feature_name(i).is_none() && m.feature_name_c(i).is_none());
        }
        for i in [2, 3, usize::MAX] {
            assert!(m.class_label(i).is_none() && m.class_label_c(i).is_none());
        }
        for name in [&b""[..], b"nope", b"f", b"\xff\xfe", b"f0\0", &[b'f'; 5000]] {
            let found = m.feature_index(name);
            assert_eq!(
                found,
                s.feature_names.iter().position(|n| n.as_bytes() == name)
            );
        }
        for (i, n) in s.feature_names.iter().enumerate().take(70) {
            assert_eq!(m.feature_index(n.as_bytes()), Some(i));
            assert_eq!(m.feature_name(i), Some(n.as_str()));
        }
        let l = m.layout();
        panics(|| l.section(N_SECTIONS));
        panics(|| l.section(usize::MAX));
        let (off, len) = l.section(SEC_METADATA);
        assert!(off + len <= l.model_len() && l.model_len() == m.model_bytes().len());
        assert_eq!(m.model_bytes(), &bytes[..]);
        assert_eq!(m.image().len(), bytes.len());
        assert_eq!(m.metadata_json(), s.metadata_json);
        assert_eq!(m.model_version(), s.model_version);
        assert_eq!(m.digest(), &signature::digest(&bytes));
        assert!(!m.is_signed() && !m.is_mmapped());
        // The image cap is checked on the length alone.
        for len in [u64::MAX, MAX_FILE_LEN + TRAILER_LEN as u64 + 1] {
            status(Model::check_image_len(len), Status::Limit);
        }
        Model::check_image_len(MAX_FILE_LEN + TRAILER_LEN as u64).unwrap();
    }
}

#[test]
fn loaders_refuse_hostile_bytes() {
    let bytes = encode(&stump());
    let step = if cfg!(miri) { 37 } else { 1 };
    for n in (0..bytes.len()).step_by(step) {
        let cut = &bytes[..n];
        assert!(validate(cut).is_err());
        assert!(Model::from_bytes(cut).is_err());
        // SAFETY: `cut` is readable for its length and outlives the (never created) model.
        assert!(unsafe { Model::from_borrowed(cut.as_ptr(), cut.len(), None) }.is_err());
        assert!(Model::from_bytes_verified(cut, Some(b"key")).is_err());
    }
    // Every byte set to each extreme, CRC recomputed: an error, or a model that still predicts
    // within the bounds the validator guarantees.
    let positions: Vec<usize> = (0..bytes.len())
        .step_by(if cfg!(miri) { 13 } else { 1 })
        .collect();
    for &pos in &positions {
        for v in [0u8, 0xff, 0x80, 3] {
            let mut b = bytes.clone();
            b[pos] = v;
            refresh_crc(&mut b);
            if let Ok(m) = Model::from_bytes(&b) {
                let t = m.tree();
                let nf = t.n_features();
                for row in rows(nf, 4, pos as u64).chunks(nf.max(1)).take(4) {
                    if row.len() == nf {
                        if let Ok(leaf) = t.leaf(row) {
                            assert!(leaf.node < m.n_nodes() && (0..=1).contains(&leaf.label));
                        }
                    }
                }
                for i in 0..m.n_nodes() + 2 {
                    if let Some(leaf) = t.leaf_at(i) {
                        assert!(leaf.probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
                    }
                }
            }
        }
    }
    // A trailer-sized tail that is not a trailer.
    let mut b = bytes.clone();
    b.extend_from_slice(&[0u8; TRAILER_LEN]);
    status(Model::from_bytes(&b), Status::TrailingBytes);
}

#[test]
fn format_helpers_panic_or_answer() {
    panics(|| model_crc(&[]));
    panics(|| model_crc(&[0; CRC_OFFSET + 3]));
    panics(|| refresh_crc(&mut [0; 10]));
    let mut ok = vec![0u8; CRC_OFFSET + 4];
    refresh_crc(&mut ok);
    assert_eq!(&ok[CRC_OFFSET..], &model_crc(&ok).to_le_bytes());
    // A spec whose child index is past the end: the depth helper panics, it does not guess.
    let broken = vec![NodeSpec::Split {
        feature: 0,
        left: 7,
        right: 9,
        missing_right: false,
    }];
    panics(|| tree_depth(&broken));
    // An inconsistent spec encodes to bytes the validator refuses.
    let mut s = stump();
    s.stats.pop();
    assert!(validate(&encode(&s)).is_err());
    let mut s = stump();
    s.feature_names.clear();
    assert!(validate(&encode(&s)).is_err());
    for tail in [&[][..], &[0; 10], &[0; TRAILER_LEN + 1]] {
        assert!(!is_trailer(tail, 0));
    }
    assert_eq!(align8(9), 16);
    assert_eq!(json_nesting_depth("[[[\"[[\"]]]"), 3);
    assert_eq!(json_nesting_depth("]]]]"), 0);
    assert_eq!(leaf_probabilities([0.0, 0.0]), [0.5, 0.5]);
    assert_eq!(leaf_label([1.0, 1.0]), 0);
}

#[test]
fn signing_compiling_and_pickles_refuse_bad_input() {
    let bytes = encode(&stump());
    status(signature::sign(&bytes, b""), Status::NoKey);
    assert!(signature::sign(&bytes[..100], b"k").is_err());
    let signed = signature::sign(&bytes, b"k").unwrap();
    for n in (0..signed.len()).step_by(if cfg!(miri) { 29 } else { 1 }) {
        assert!(signature::verify(&signed[..n], b"k").is_err(), "prefix {n}");
    }
    status(signature::verify(&signed, b""), Status::NoKey);
    status(signature::verify(&signed, b"other"), Status::KeyMismatch);
    signature::verify(&signed, b"k").unwrap();
    assert_eq!(signature::hex(&[]), "");
    assert_eq!(signature::key_id(b"").len(), 8);

    for json in [
        "",
        "[",
        "{}",
        "null",
        "{\"type\":\"leaf\"}",
        "{\"tree_structure\":7}",
    ] {
        assert!(
            compile(json, &CompileOptions::default()).is_err(),
            "{json:?}"
        );
    }
    let opts = CompileOptions {
        feature_mapping: Some("{\"a\": 5}".into()),
        ..Default::default()
    };
    let leaf = r#"{"type":"leaf","n_samples":1,"class_counts":[1,0]}"#;
    assert!(compile(leaf, &opts).is_err());
    let m = Model::from_bytes(&compile(leaf, &CompileOptions::default()).unwrap()).unwrap();
    assert!(compile(&export(&m), &CompileOptions::default()).is_ok());

    for p in [
        &b""[..],
        b"\x80",
        b"\x80\x05",
        b"\x80\x05K\x01.",
        b"}q\x00.",
        &[0xff; 40],
    ] {
        assert!(compile_pickle(p, &CompileOptions::default()).is_err());
        assert!(pickle::persistence_json(p).is_err());
        let _ = pickle::loads(p);
    }
    assert_eq!(pickle::memory_cap(usize::MAX), pickle::MAX_MEMORY);
}

#[test]
fn statuses_cells_and_kernels_for_every_value() {
    for code in (-3..30).chain([i32::MIN, i32::MAX]) {
        let s = Status::from_code(code);
        assert_eq!(s.is_some(), (0..Status::ALL.len() as i32).contains(&code));
        // SAFETY: tt_status_str returns a static NUL-terminated string for any code.
        let name = unsafe { CStr::from_ptr(tt_status_str(code)) }
            .to_str()
            .unwrap();
        assert_eq!(name, s.map_or("TT_ERR_UNKNOWN", Status::name));
    }
    assert_eq!(tt_abi_version(), TT_ABI_VERSION);
    // SAFETY: a static NUL-terminated string.
    assert!(!unsafe { CStr::from_ptr(tt_version_string()) }
        .to_bytes()
        .is_empty());
    for v in i8::MIN..=i8::MAX {
        for missing_right in [false, true] {
            let want = match v {
                0 => Some(false),
                1 => Some(true),
                -1 => Some(missing_right),
                _ => None,
            };
            assert_eq!(v.route(missing_right), want);
            let (right, valid) = v.route_mask(missing_right);
            assert_eq!(valid, want.is_some());
            if valid {
                assert_eq!(Some(right), want);
            }
        }
    }
    for v in [
        0.0,
        -0.0,
        1.0,
        f64::NAN,
        -f64::NAN,
        0.5,
        -1.0,
        f64::INFINITY,
        f64::MIN_POSITIVE,
    ] {
        let want = if v == 0.0 {
            Some(false)
        } else if v == 1.0 || v.is_nan() {
            Some(true) // missing goes right here
        } else {
            None
        };
        assert_eq!(v.route(true), want, "{v:?}");
        assert_eq!(v.route_mask(true).1, want.is_some(), "{v:?}");
    }
    for (leaves, depth) in [
        (0, 0),
        (1, 0),
        (u32::MAX, u32::MAX),
        (0, u32::MAX),
        (u32::MAX, 0),
    ] {
        let k = Kernel::for_shape(leaves, depth);
        assert!(!k.name().is_empty());
    }
}

/// The root-to-leaf path a row takes, by walking the spec.
fn reference_path(s: &ModelSpec, row: &[i8]) -> Vec<i32> {
    let mut path = vec![0i32];
    while let NodeSpec::Split {
        feature,
        left,
        right,
        missing_right,
    } = s.nodes[*path.last().unwrap() as usize]
    {
        let go_right = match row[feature as usize] {
            1 => true,
            -1 => missing_right,
            _ => false,
        };
        path.push(if go_right { right } else { left } as i32);
    }
    path
}

#[test]
fn explanations_check_their_arguments() {
    for (name, s) in models() {
        let m = Model::from_bytes(&encode(&s)).unwrap();
        let nf = s.feature_names.len();
        // Fewer rows under Miri: every model and kernel is still covered, at a third of the time.
        let n = if cfg!(miri) { 4 } else { 11 };
        let x = rows(nf, n, 17);
        let clean: Vec<i8> = x.iter().map(|&c| c.max(0)).collect();
        let (bits, mask) = gen::pack_bits(&x, nf);
        let (off, idx) = gen::to_csr(&clean, nf);
        let want: Vec<i32> = x
            .chunks(nf)
            .map(|r| reference_leaf(&s, r).unwrap() as i32)
            .collect();
        let want_clean: Vec<i32> = clean
            .chunks(nf)
            .map(|r| reference_leaf(&s, r).unwrap() as i32)
            .collect();
        for t in kernels(&m) {
            let w = t.contrib_width();
            assert_eq!(w, nf + 1);
            let mut leaf = vec![-5i32; n];
            t.predict_leaf(&x, n, &mut leaf).unwrap();
            assert_eq!(leaf, want, "{name}");
            t.predict_leaf_bits(&bits, Some(&mask), n, &mut leaf)
                .unwrap();
            assert_eq!(leaf, want, "{name} bits");
            t.predict_leaf_csr(&off, &idx, n, &mut leaf).unwrap();
            assert_eq!(leaf, want_clean, "{name} csr");
            let mut c = vec![f64::NAN; n * w];
            let mut p = vec![0.0; 2 * n];
            t.predict_contrib(&x, n, &mut c).unwrap();
            t.predict_proba(&x, n, &mut p).unwrap();
            let mut c_bits = vec![f64::NAN; n * w];
            t.predict_contrib_bits(&bits, Some(&mask), n, &mut c_bits)
                .unwrap();
            assert_eq!(c_bits, c, "{name} bits");
            let mut c_csr = vec![f64::NAN; n * w];
            let mut c_clean = vec![f64::NAN; n * w];
            t.predict_contrib_csr(&off, &idx, n, &mut c_csr).unwrap();
            t.predict_contrib(&clean, n, &mut c_clean).unwrap();
            assert_eq!(c_csr, c_clean, "{name} csr");
            let mut path = vec![-1i32; m.max_depth() + 1];
            for r in 0..n {
                let sum: f64 = c[r * w..(r + 1) * w].iter().sum();
                assert!((sum - p[2 * r + 1]).abs() <= 1e-12, "{name} row {r}");
                let row = &x[r * nf..(r + 1) * nf];
                let len = t.decision_path(row, &mut path).unwrap();
                assert_eq!(path[..len], reference_path(&s, row), "{name} row {r}");
            }
            // Shapes, lengths, zero rows.
            status(t.predict_leaf(&x[1..], n, &mut leaf), Status::Shape);
            status(t.predict_leaf(&x, usize::MAX, &mut leaf), Status::Shape);
            status(t.predict_leaf(&x, n, &mut leaf[..n - 1]), Status::Length);
            status(
                t.predict_contrib(&x, n, &mut c[..n * w - 1]),
                Status::Length,
            );
            status(t.predict_contrib(&x, usize::MAX / 2, &mut c), Status::Shape);
            status(
                t.predict_contrib_bits(&bits[1..], None, n, &mut c),
                Status::Shape,
            );
            status(
                t.predict_contrib_bits(&bits, Some(&mask[1..]), n, &mut c),
                Status::Shape,
            );
            status(
                t.predict_contrib_csr(&off[1..], &idx, n, &mut c),
                Status::Shape,
            );
            status(
                t.predict_leaf_csr(&off, &idx, n, &mut leaf[..n - 1]),
                Status::Length,
            );
            t.predict_contrib::<f64>(&[], 0, &mut []).unwrap();
            status(t.decision_path(&x[..nf - 1], &mut path), Status::Shape);
            status(t.decision_path(&x[..nf + 1], &mut path), Status::Shape);
            let full = reference_path(&s, &x[..nf]);
            let mut short = vec![-9i32; full.len() - 1];
            let e = status(t.decision_path(&x[..nf], &mut short), Status::Length);
            assert!(
                e.message.contains(&format!("{} nodes", full.len())),
                "{}",
                e.message
            );
            assert!(
                short.iter().all(|&v| v == -9),
                "{name}: short buffer written"
            );
            // Node records: every index in range answers, the rest are None.
            for i in 0..t.n_nodes() {
                let rec = t.node(i).unwrap();
                assert_eq!(rec.is_leaf, matches!(s.nodes[i], NodeSpec::Leaf { .. }));
            }
            for i in [t.n_nodes(), t.n_nodes() + 1, usize::MAX] {
                assert!(t.node(i).is_none(), "{name}: node {i}");
            }
        }
    }
}
