//! Explanations (issue 15): leaf indices against the reference's `leaf_preorder` on every
//! golden row, contributions that add up to P(class 1), decision paths that end at the leaf,
//! node records, through the Rust API and the C ABI, and their argument errors.

mod common;
use common::*;
use std::ptr;
use thetatree::ffi::*;
use thetatree::traverse::{NodeInfo, Tree};
use thetatree::{Model, Status};

/// Pack int8 rows (-1 = missing) into bit rows and a missing mask.
fn pack(x: &[i8], nf: usize) -> (Vec<u64>, Vec<u64>) {
    let wpr = nf.div_ceil(64);
    let n = x.len() / nf.max(1);
    let (mut bits, mut mask) = (vec![0u64; n * wpr], vec![0u64; n * wpr]);
    for r in 0..n {
        for j in 0..nf {
            let w = r * wpr + j / 64;
            match x[r * nf + j] {
                1 => bits[w] |= 1 << (j % 64),
                -1 => mask[w] |= 1 << (j % 64),
                _ => {}
            }
        }
    }
    (bits, mask)
}

/// CSR form of rows without missing values.
fn csr(x: &[i8], nf: usize) -> (Vec<usize>, Vec<u32>) {
    let mut offs = vec![0usize];
    let mut idx = Vec::new();
    for row in x.chunks(nf) {
        idx.extend(
            row.iter()
                .enumerate()
                .filter(|(_, &v)| v == 1)
                .map(|(j, _)| j as u32),
        );
        offs.push(idx.len());
    }
    (offs, idx)
}

/// The root-to-leaf path of one row by following `node()` records (an independent walk).
fn path_by_records(tree: &Tree<'_>, row: &[i8]) -> Vec<usize> {
    let mut path = vec![0usize];
    loop {
        let n = tree.node(*path.last().unwrap()).unwrap();
        if n.is_leaf {
            return path;
        }
        let f = n.feature.unwrap();
        let right = match row[f] {
            0 => false,
            1 => true,
            _ => n.missing_right,
        };
        path.push(if right { n.right } else { n.left }.unwrap());
    }
}

/// Check one row's contributions against its path and P(class 1).
fn check_contrib(what: &str, tree: &Tree<'_>, c: &[f64], path: &[usize], p1: f64) {
    let nf = tree.n_features();
    assert_eq!(c.len(), nf + 1);
    let sum: f64 = c.iter().sum();
    assert!(
        (sum - p1).abs() <= 1e-12,
        "{what}: contributions add up to {sum}, P(class 1) is {p1}"
    );
    assert_eq!(
        c[nf].to_bits(),
        tree.node(0).unwrap().probabilities[1].to_bits(),
        "{what}: bias"
    );
    let tested: Vec<usize> = path[..path.len() - 1]
        .iter()
        .map(|&i| tree.node(i).unwrap().feature.unwrap())
        .collect();
    for (f, &v) in c[..nf].iter().enumerate() {
        if v != 0.0 {
            assert!(
                tested.contains(&f),
                "{what}: feature {f} has contribution {v} but is not on the path {path:?}"
            );
        }
    }
}

#[test]
fn leaf_index_equals_leaf_preorder_on_every_golden_row() {
    let mut rows = 0;
    for m in manifest() {
        let model = Model::from_bytes(&compile_ref(&m)).unwrap();
        let tree = model.tree();
        let nf = tree.n_features();
        for missing in [false, true] {
            let inp = input(&m.dataset, missing);
            let gold = golden(&m.name, missing);
            let n = inp.rows.len();
            let want: Vec<i32> = gold.iter().map(|g| g.leaf_preorder as i32).collect();
            let what = format!("{} missing={missing}", m.name);
            let x8 = inp.i8_flat();
            let mut out = vec![-7i32; n];
            tree.predict_leaf(&x8, n, &mut out).unwrap();
            assert_eq!(out, want, "{what} i8");
            let mut out = vec![-7i32; n];
            tree.predict_leaf(&inp.f64_flat(), n, &mut out).unwrap();
            assert_eq!(out, want, "{what} f64");
            let (bits, mask) = pack(&x8, nf);
            let mut out = vec![-7i32; n];
            tree.predict_leaf_bits(&bits, Some(&mask), n, &mut out)
                .unwrap();
            assert_eq!(out, want, "{what} bits");
            if !missing {
                let (offs, idx) = csr(&x8, nf);
                let mut out = vec![-7i32; n];
                tree.predict_leaf_csr(&offs, &idx, n, &mut out).unwrap();
                assert_eq!(out, want, "{what} csr");
                let mut out = vec![-7i32; n];
                tree.predict_leaf_bits(&bits, None, n, &mut out).unwrap();
                assert_eq!(out, want, "{what} bits, no mask");
            }
            // Through the C ABI.
            let c = CModel::load(model.image());
            let mut out = vec![-7i32; n];
            let mut err = new_err();
            // SAFETY: buffers valid for the lengths passed; the model is live.
            let rc =
                unsafe { tt_predict_leaf(c.0, x8.as_ptr(), n, nf, out.as_mut_ptr(), n, &mut err) };
            assert_eq!(rc, TT_OK, "{}", err_message(&err));
            assert_eq!(out, want, "{what} C int8");
            rows += n;
        }
    }
    assert!(rows > 10_000, "only {rows} golden rows checked");
}

#[test]
fn contributions_add_up_and_paths_end_at_the_leaf() {
    for m in manifest() {
        let model = Model::from_bytes(&compile_ref(&m)).unwrap();
        let tree = model.tree();
        let (nf, w) = (tree.n_features(), tree.contrib_width());
        assert_eq!(w, nf + 1);
        for missing in [false, true] {
            let inp = input(&m.dataset, missing);
            let n = inp.rows.len();
            let x8 = inp.i8_flat();
            let what = format!("{} missing={missing}", m.name);
            let mut proba = vec![0f64; 2 * n];
            tree.predict_proba(&x8, n, &mut proba).unwrap();
            let mut leaves = vec![0i32; n];
            tree.predict_leaf(&x8, n, &mut leaves).unwrap();
            let mut contrib = vec![f64::NAN; n * w];
            tree.predict_contrib(&x8, n, &mut contrib).unwrap();
            let mut contrib64 = vec![f64::NAN; n * w];
            tree.predict_contrib(&inp.f64_flat(), n, &mut contrib64)
                .unwrap();
            let (bits, mask) = pack(&x8, nf);
            let mut contrib_bits = vec![f64::NAN; n * w];
            tree.predict_contrib_bits(&bits, Some(&mask), n, &mut contrib_bits)
                .unwrap();
            let bitwise = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bitwise(&contrib64), bitwise(&contrib), "{what} f64");
            assert_eq!(bitwise(&contrib_bits), bitwise(&contrib), "{what} bits");
            if !missing {
                let (offs, idx) = csr(&x8, nf);
                let mut contrib_csr = vec![f64::NAN; n * w];
                tree.predict_contrib_csr(&offs, &idx, n, &mut contrib_csr)
                    .unwrap();
                assert_eq!(bitwise(&contrib_csr), bitwise(&contrib), "{what} csr");
            }
            let mut path = vec![-1i32; tree.n_nodes()];
            let xf = inp.f64_flat();
            for r in 0..n {
                let row = &x8[r * nf..(r + 1) * nf];
                let len = tree.decision_path(row, &mut path).unwrap();
                let got: Vec<usize> = path[..len].iter().map(|&i| i as usize).collect();
                assert_eq!(got, path_by_records(&tree, row), "{what} row {r} path");
                assert_eq!(got[0], 0);
                assert_eq!(got[len - 1], leaves[r] as usize, "{what} row {r} path end");
                let mut path64 = vec![-1i32; len];
                let row64 = &xf[r * nf..(r + 1) * nf];
                assert_eq!(tree.decision_path(row64, &mut path64).unwrap(), len);
                assert_eq!(path64[..], path[..len]);
                check_contrib(
                    &format!("{what} row {r}"),
                    &tree,
                    &contrib[r * w..(r + 1) * w],
                    &got,
                    proba[2 * r + 1],
                );
            }
        }
    }
}

#[test]
fn node_records_agree_with_the_leaf_table_and_the_export() {
    for m in manifest() {
        let model = Model::from_bytes(&compile_ref(&m)).unwrap();
        let tree = model.tree();
        assert_eq!(tree.n_nodes(), model.n_nodes());
        assert!(tree.node(tree.n_nodes()).is_none());
        let mut leaves = 0;
        for i in 0..tree.n_nodes() {
            let n: NodeInfo = tree.node(i).unwrap();
            if n.is_leaf {
                leaves += 1;
                let leaf = tree.leaf_at(i).unwrap();
                // The leaf's probabilities from counts equal the leaf table bit for bit.
                assert_eq!(
                    n.probabilities.map(f64::to_bits),
                    leaf.probabilities.map(f64::to_bits),
                    "{} leaf {i}",
                    m.name
                );
                assert_eq!(n.label, leaf.label);
                assert_eq!(
                    (n.feature, n.left, n.right, n.missing_right),
                    (None, None, None, false)
                );
            } else {
                let (l, r) = (n.left.unwrap(), n.right.unwrap());
                assert_eq!(l, i + 1, "pre-order: left child follows its parent");
                assert!(r > l);
                assert!(n.feature.unwrap() < tree.n_features());
                let (nl, nr) = (tree.node(l).unwrap(), tree.node(r).unwrap());
                assert_eq!(n.missing_right, nr.n_samples > nl.n_samples);
                assert_eq!(n.label, i32::from(n.class_counts[1] > n.class_counts[0]));
            }
        }
        assert_eq!(leaves, model.n_leaves());
    }
}

#[test]
fn node_records_match_the_reference_json() {
    let m = manifest()
        .into_iter()
        .find(|m| m.name == "mushroom_gini_d5_lgk12")
        .unwrap();
    let model = Model::from_bytes(&compile_ref(&m)).unwrap();
    let tree = model.tree();
    let json: serde_json::Value = serde_json::from_str(&read(&m.json)).unwrap();
    // Pre-order over the JSON gives the node numbering.
    let mut stack = vec![&json["tree_structure"]];
    let mut i = 0;
    while let Some(j) = stack.pop() {
        let n = tree.node(i).unwrap();
        assert_eq!(n.is_leaf, j["is_leaf"].as_bool().unwrap(), "node {i}");
        assert_eq!(n.n_samples, j["n_samples"].as_f64().unwrap(), "node {i}");
        let c = &j["class_counts"];
        assert_eq!(
            n.class_counts,
            [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()],
            "node {i}"
        );
        if !n.is_leaf {
            let f = n.feature.unwrap();
            assert_eq!(f as u64, j["feature_idx"].as_u64().unwrap(), "node {i}");
            assert_eq!(
                model.feature_name(f),
                j["feature_name"].as_str(),
                "node {i}"
            );
            stack.push(&j["right"]);
            stack.push(&j["left"]);
        }
        i += 1;
    }
    assert_eq!(i, tree.n_nodes());
}

#[test]
fn rust_api_errors() {
    let m = &manifest()[0];
    let model = Model::from_bytes(&compile_ref(m)).unwrap();
    let tree = model.tree();
    let nf = tree.n_features();
    let x = vec![0i8; 2 * nf];
    assert_eq!(
        tree.predict_leaf(&x, 3, &mut [0; 3]).unwrap_err().status,
        Status::Shape
    );
    assert_eq!(
        tree.predict_leaf(&x, 2, &mut [0; 1]).unwrap_err().status,
        Status::Length
    );
    let mut c = vec![0.0; 2 * (nf + 1) - 1];
    assert_eq!(
        tree.predict_contrib(&x, 2, &mut c).unwrap_err().status,
        Status::Length
    );
    // decision_path: wrong width, short buffer (nothing written, message gives the length).
    assert_eq!(
        tree.decision_path(&x[..nf - 1], &mut [0; 64])
            .unwrap_err()
            .status,
        Status::Shape
    );
    let mut full = vec![0i32; 64];
    let len = tree.decision_path(&x[..nf], &mut full).unwrap();
    assert!(len >= 2);
    let mut short = vec![-5i32; len - 1];
    let e = tree.decision_path(&x[..nf], &mut short).unwrap_err();
    assert_eq!(e.status, Status::Length);
    assert!(e.message.contains(&format!("{len} nodes")), "{}", e.message);
    assert!(
        short.iter().all(|&v| v == -5),
        "a short buffer is not written"
    );
    // Invalid values: row and column of the first bad cell the walk reads.
    let f0 = tree.node(0).unwrap().feature.unwrap();
    let mut bad = vec![0i8; 2 * nf];
    bad[nf + f0] = 7;
    let e = tree
        .predict_contrib(&bad, 2, &mut vec![0.0; 2 * (nf + 1)])
        .unwrap_err();
    assert_eq!(
        (e.status, e.row, e.column),
        (Status::InputValue, 1, f0 as i64)
    );
    let e = tree.predict_leaf(&bad, 2, &mut [0; 2]).unwrap_err();
    assert_eq!(
        (e.status, e.row, e.column),
        (Status::InputValue, 1, f0 as i64)
    );
    let e = tree.decision_path(&bad[nf..], &mut full).unwrap_err();
    assert_eq!(
        (e.status, e.row, e.column),
        (Status::InputValue, 0, f0 as i64)
    );
}

#[test]
fn c_abi_decision_path_and_node_info() {
    let m = &manifest()[0];
    let model = Model::from_bytes(&compile_ref(m)).unwrap();
    let c = CModel::load(model.image());
    let nf = model.n_features();
    let row = vec![0i8; nf];
    let mut len = 0usize;
    let mut err = new_err();
    // The "ask for the size" call.
    // SAFETY: buffers valid for the lengths passed; the model is live.
    let rc = unsafe {
        tt_decision_path(
            c.0,
            row.as_ptr(),
            nf,
            ptr::null_mut(),
            0,
            &mut len,
            &mut err,
        )
    };
    assert_eq!(rc, TT_ERR_LENGTH, "{}", err_message(&err));
    let need = len;
    let want = model.tree().decision_path(&row, &mut vec![0; 64]).unwrap();
    assert_eq!(need, want);
    let mut nodes = vec![-3i32; need - 1];
    // SAFETY: as above.
    let rc = unsafe {
        tt_decision_path(
            c.0,
            row.as_ptr(),
            nf,
            nodes.as_mut_ptr(),
            need - 1,
            &mut len,
            ptr::null_mut(),
        )
    };
    assert_eq!((rc, len), (TT_ERR_LENGTH, need));
    assert!(nodes.iter().all(|&v| v == -3));
    let mut nodes = vec![-3i32; need + 2];
    len = 0;
    // SAFETY: as above.
    let rc = unsafe {
        tt_decision_path(
            c.0,
            row.as_ptr(),
            nf,
            nodes.as_mut_ptr(),
            need + 2,
            &mut len,
            &mut err,
        )
    };
    assert_eq!((rc, len), (TT_OK, need));
    assert_eq!(nodes[0], 0);
    let rowf = vec![0.0f64; nf];
    let mut nodes64 = vec![0i32; need];
    // SAFETY: as above.
    let rc = unsafe {
        tt_decision_path_f64(
            c.0,
            rowf.as_ptr(),
            nf,
            nodes64.as_mut_ptr(),
            need,
            &mut len,
            &mut err,
        )
    };
    assert_eq!((rc, len), (TT_OK, need));
    assert_eq!(nodes64[..], nodes[..need]);
    // NULL arguments.
    // SAFETY: as above (NULLs are checked, not dereferenced).
    unsafe {
        assert_eq!(
            tt_decision_path(
                c.0,
                row.as_ptr(),
                nf,
                nodes.as_mut_ptr(),
                4,
                ptr::null_mut(),
                &mut err
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_decision_path(
                c.0,
                row.as_ptr(),
                nf,
                ptr::null_mut(),
                4,
                &mut len,
                &mut err
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_decision_path(
                c.0,
                ptr::null(),
                nf,
                nodes.as_mut_ptr(),
                4,
                &mut len,
                &mut err
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_decision_path(
                ptr::null(),
                row.as_ptr(),
                nf,
                nodes.as_mut_ptr(),
                4,
                &mut len,
                &mut err
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_decision_path(
                c.0,
                row.as_ptr(),
                nf + 1,
                nodes.as_mut_ptr(),
                4,
                &mut len,
                &mut err
            ),
            TT_ERR_SHAPE
        );
    }
    // Invalid value: row 0, its column.
    let f0 = model.tree().node(0).unwrap().feature.unwrap();
    let mut bad = row.clone();
    bad[f0] = 3;
    let mut err = new_err();
    // SAFETY: as above.
    let rc = unsafe {
        tt_decision_path(
            c.0,
            bad.as_ptr(),
            nf,
            nodes.as_mut_ptr(),
            need,
            &mut len,
            &mut err,
        )
    };
    assert_eq!(
        (rc, err.row, err.column),
        (TT_ERR_INPUT_VALUE, 0, f0 as i64)
    );

    // tt_node_info: every node, and one past the end.
    let n_nodes = model.n_nodes();
    for i in 0..n_nodes {
        let mut out = std::mem::MaybeUninit::<tt_node>::uninit();
        // SAFETY: as above; `out` is writable.
        let rc = unsafe { tt_node_info(c.0, i, out.as_mut_ptr(), ptr::null_mut()) };
        assert_eq!(rc, TT_OK);
        // SAFETY: written on TT_OK.
        let out = unsafe { out.assume_init() };
        let n = model.tree().node(i).unwrap();
        assert_eq!(out.is_leaf, n.is_leaf as i32);
        assert_eq!(out.feature, n.feature.map_or(-1, |f| f as i32));
        assert_eq!(out.left, n.left.map_or(-1, |f| f as i32));
        assert_eq!(out.right, n.right.map_or(-1, |f| f as i32));
        assert_eq!(out.missing_right, n.missing_right as i32);
        assert_eq!(out.label, n.label);
        assert_eq!(out.n_samples, n.n_samples);
        assert_eq!(out.class_counts, n.class_counts);
        assert_eq!(out.probabilities, n.probabilities);
    }
    let mut out = std::mem::MaybeUninit::<tt_node>::uninit();
    let mut err = new_err();
    // SAFETY: as above.
    let rc = unsafe { tt_node_info(c.0, n_nodes, out.as_mut_ptr(), &mut err) };
    assert_eq!(rc, TT_ERR_NOT_FOUND);
    let msg = err_message(&err);
    assert!(
        msg.contains(&format!("node {n_nodes}")) && msg.contains(&format!("n_nodes = {n_nodes}")),
        "{msg}"
    );
    // SAFETY: NULLs are checked.
    unsafe {
        assert_eq!(
            tt_node_info(c.0, 0, ptr::null_mut(), ptr::null_mut()),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_node_info(ptr::null(), 0, out.as_mut_ptr(), ptr::null_mut()),
            TT_ERR_NULL_ARG
        );
    }
}

#[test]
fn c_abi_contrib_and_leaf_variants_agree_and_check_lengths() {
    let m = &manifest()[0];
    let model = Model::from_bytes(&compile_ref(m)).unwrap();
    let c = CModel::load(model.image());
    let tree = model.tree();
    let inp = input(&m.dataset, false);
    let nf = tree.n_features();
    let w = nf + 1;
    let n = 100;
    let x8 = &inp.i8_flat()[..n * nf];
    let xf = &inp.f64_flat()[..n * nf];
    let mut want = vec![0.0; n * w];
    tree.predict_contrib(x8, n, &mut want).unwrap();
    let mut want_leaf = vec![0i32; n];
    tree.predict_leaf(x8, n, &mut want_leaf).unwrap();
    let (bits, _) = pack(x8, nf);
    let (offs, idx) = csr(x8, nf);
    let mut err = new_err();
    let mut out = vec![0.0; n * w];
    // SAFETY: buffers valid for the lengths passed; the model is live.
    unsafe {
        assert_eq!(
            tt_predict_contrib(c.0, x8.as_ptr(), n, nf, out.as_mut_ptr(), n * w, &mut err),
            TT_OK
        );
        assert_eq!(out, want);
        out.fill(0.0);
        assert_eq!(
            tt_predict_contrib_f64(c.0, xf.as_ptr(), n, nf, out.as_mut_ptr(), n * w, &mut err),
            TT_OK
        );
        assert_eq!(out, want);
        out.fill(0.0);
        assert_eq!(
            tt_predict_contrib_bits(
                c.0,
                bits.as_ptr(),
                ptr::null(),
                n,
                nf,
                out.as_mut_ptr(),
                n * w,
                &mut err
            ),
            TT_OK
        );
        assert_eq!(out, want);
        out.fill(0.0);
        assert_eq!(
            tt_predict_contrib_csr(
                c.0,
                offs.as_ptr(),
                idx.as_ptr(),
                idx.len(),
                n,
                nf,
                out.as_mut_ptr(),
                n * w,
                &mut err
            ),
            TT_OK
        );
        assert_eq!(out, want);
        let mut leaf = vec![0i32; n];
        assert_eq!(
            tt_predict_leaf_f64(c.0, xf.as_ptr(), n, nf, leaf.as_mut_ptr(), n, &mut err),
            TT_OK
        );
        assert_eq!(leaf, want_leaf);
        leaf.fill(0);
        assert_eq!(
            tt_predict_leaf_bits(
                c.0,
                bits.as_ptr(),
                ptr::null(),
                n,
                nf,
                leaf.as_mut_ptr(),
                n,
                &mut err
            ),
            TT_OK
        );
        assert_eq!(leaf, want_leaf);
        leaf.fill(0);
        assert_eq!(
            tt_predict_leaf_csr(
                c.0,
                offs.as_ptr(),
                idx.as_ptr(),
                idx.len(),
                n,
                nf,
                leaf.as_mut_ptr(),
                n,
                &mut err
            ),
            TT_OK
        );
        assert_eq!(leaf, want_leaf);

        // Short outputs: TT_ERR_LENGTH and nothing written.
        let mut short = vec![-1.0; n * w - 1];
        assert_eq!(
            tt_predict_contrib(
                c.0,
                x8.as_ptr(),
                n,
                nf,
                short.as_mut_ptr(),
                n * w - 1,
                &mut err
            ),
            TT_ERR_LENGTH
        );
        assert_eq!(
            tt_predict_contrib_bits(
                c.0,
                bits.as_ptr(),
                ptr::null(),
                n,
                nf,
                short.as_mut_ptr(),
                n * w - 1,
                &mut err
            ),
            TT_ERR_LENGTH
        );
        assert_eq!(
            tt_predict_contrib_csr(
                c.0,
                offs.as_ptr(),
                idx.as_ptr(),
                idx.len(),
                n,
                nf,
                short.as_mut_ptr(),
                n * w - 1,
                &mut err
            ),
            TT_ERR_LENGTH
        );
        assert!(short.iter().all(|&v| v == -1.0));
        let mut short_leaf = vec![-1i32; n - 1];
        assert_eq!(
            tt_predict_leaf(
                c.0,
                x8.as_ptr(),
                n,
                nf,
                short_leaf.as_mut_ptr(),
                n - 1,
                &mut err
            ),
            TT_ERR_LENGTH
        );
        assert!(short_leaf.iter().all(|&v| v == -1));
        // NULLs, wrong width.
        assert_eq!(
            tt_predict_contrib(
                ptr::null(),
                x8.as_ptr(),
                n,
                nf,
                out.as_mut_ptr(),
                n * w,
                ptr::null_mut()
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_predict_contrib(
                c.0,
                ptr::null(),
                n,
                nf,
                out.as_mut_ptr(),
                n * w,
                ptr::null_mut()
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_predict_contrib(
                c.0,
                x8.as_ptr(),
                n,
                nf,
                ptr::null_mut(),
                n * w,
                ptr::null_mut()
            ),
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            tt_predict_leaf(
                c.0,
                x8.as_ptr(),
                n,
                nf - 1,
                want_leaf.as_mut_ptr(),
                n,
                ptr::null_mut()
            ),
            TT_ERR_SHAPE
        );
        assert_eq!(
            tt_predict_leaf_csr(
                c.0,
                offs.as_ptr(),
                ptr::null(),
                idx.len(),
                n,
                nf,
                want_leaf.as_mut_ptr(),
                n,
                ptr::null_mut()
            ),
            TT_ERR_NULL_ARG
        );
        // Invalid value: row and column named, feature name in the message.
        let f0 = tree.node(0).unwrap().feature.unwrap();
        let mut bad = x8.to_vec();
        bad[3 * nf + f0] = 2;
        let mut err = new_err();
        assert_eq!(
            tt_predict_contrib(c.0, bad.as_ptr(), n, nf, out.as_mut_ptr(), n * w, &mut err),
            TT_ERR_INPUT_VALUE
        );
        assert_eq!((err.row, err.column), (3, f0 as i64));
        assert!(err_message(&err).contains(model.feature_name(f0).unwrap()));
    }
}
