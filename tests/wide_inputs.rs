//! Wide-input entry points (bit-packed and CSR rows) and the batch kernels: the same leaf as
//! the dense int8 path for every row, and every error case of the new C functions.

mod common;
#[path = "../benches/gen/mod.rs"]
mod gen;

use common::*;
use gen::Generated;
use thetatree::ffi::*;
use thetatree::format::NodeSpec;
use thetatree::traverse::Kernel;
use thetatree::Model;

/// Reference walk straight over the spec: leaf node index, or the first invalid column.
fn reference_leaf(g: &Generated, row: &[i8]) -> Result<usize, usize> {
    let mut i = 0usize;
    loop {
        match g.spec.nodes[i] {
            NodeSpec::Leaf { .. } => return Ok(i),
            NodeSpec::Split {
                feature,
                left,
                right,
                missing_right,
            } => {
                let go_right = match row[feature as usize] {
                    0 => false,
                    1 => true,
                    -1 => missing_right,
                    _ => return Err(feature as usize),
                };
                i = if go_right { right } else { left } as usize;
            }
        }
    }
}

fn reference_proba(g: &Generated, x: &[i8]) -> Vec<f64> {
    let mut out = Vec::new();
    for row in x.chunks(g.n_features) {
        let leaf = reference_leaf(g, row).expect("valid row");
        let NodeSpec::Leaf { probabilities, .. } = g.spec.nodes[leaf] else {
            unreachable!()
        };
        out.extend_from_slice(&probabilities);
    }
    out
}

fn trees() -> Vec<Generated> {
    let mut v = gen::issue4_trees();
    // Narrow and odd widths: words with padding bits, a single word, a single-leaf tree.
    v.push(gen::dense(70, 70, 3000.0, Some(9), 2.0));
    v.push(gen::dense(3, 3, 500.0, Some(4), 2.0));
    v.push(gen::onehot(777, 200, 20000.0, 40.0));
    v.push(gen::dense(1, 5, 1.0, Some(0), 2.0));
    // Issue 12's families: ragged paths, 64 x 16 one-hot chains, reference-like deep chains.
    v.extend(gen::families::issue12_trees(5));
    v
}

/// Every way a tree can be walked: both kernels, and the branchy walk with and without the
/// scan of left-link runs.
const WALKS: [(Kernel, bool); 3] = [
    (Kernel::Branchy, false),
    (Kernel::Branchy, true),
    (Kernel::BranchFree, false),
];

fn load(g: &Generated) -> CModel {
    CModel::load(&g.bytes)
}

#[test]
fn kernels_agree_with_reference_on_int8_f64_bits_and_csr() {
    for g in trees() {
        let model = Model::from_bytes(&g.bytes).unwrap();
        let nf = g.n_features;
        for (seed, n_rows, missing) in [
            (1u64, 1usize, 0.0),
            (2, 15, 0.0),
            (3, 16, 0.1),
            (4, 333, 0.05),
            (5, 1000, 0.0),
        ] {
            let x = gen::rows_i8(&g, seed, n_rows, missing);
            let want = reference_proba(&g, &x);
            let want_labels: Vec<i32> = x
                .chunks(nf.max(1))
                .take(n_rows)
                .map(|r| {
                    model
                        .tree()
                        .leaf_at(reference_leaf(&g, r).unwrap())
                        .unwrap()
                        .label
                })
                .collect();
            let xf: Vec<f64> = x
                .iter()
                .map(|&c| if c == -1 { f64::NAN } else { c as f64 })
                .collect();
            let (bits, mask) = gen::pack_bits(&x, nf);
            for (kernel, runs) in WALKS {
                let t = model.tree().with_kernel(kernel).with_chain_runs(runs);
                let ctx = format!(
                    "{} {kernel:?} runs {runs} rows {n_rows} missing {missing}",
                    g.name
                );
                let mut p = vec![0.0; 2 * n_rows];
                let mut l = vec![-1; n_rows];
                t.predict_proba(&x, n_rows, &mut p).unwrap();
                assert_eq!(bitwise(&p), bitwise(&want), "i8 {ctx}");
                t.predict(&x, n_rows, &mut l).unwrap();
                assert_eq!(l, want_labels, "i8 labels {ctx}");
                p.fill(0.0);
                t.predict_proba(&xf, n_rows, &mut p).unwrap();
                assert_eq!(bitwise(&p), bitwise(&want), "f64 {ctx}");
                p.fill(0.0);
                t.predict_proba_bits(&bits, Some(&mask), n_rows, &mut p)
                    .unwrap();
                assert_eq!(bitwise(&p), bitwise(&want), "bits+mask {ctx}");
                l.fill(-1);
                t.predict_bits(&bits, Some(&mask), n_rows, &mut l).unwrap();
                assert_eq!(l, want_labels, "bits labels {ctx}");
                if missing == 0.0 {
                    p.fill(0.0);
                    t.predict_proba_bits(&bits, None, n_rows, &mut p).unwrap();
                    assert_eq!(bitwise(&p), bitwise(&want), "bits {ctx}");
                    let (off, idx) = gen::to_csr(&x, nf);
                    let off = if nf == 0 { vec![0; n_rows + 1] } else { off };
                    p.fill(0.0);
                    t.predict_proba_csr(&off, &idx, n_rows, &mut p).unwrap();
                    assert_eq!(bitwise(&p), bitwise(&want), "csr {ctx}");
                    l.fill(-1);
                    t.predict_csr(&off, &idx, n_rows, &mut l).unwrap();
                    assert_eq!(l, want_labels, "csr labels {ctx}");
                }
            }
        }
    }
}

fn bitwise(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn c_entry_points_match_dense_int8() {
    for g in trees() {
        let m = load(&g);
        let nf = g.n_features;
        let n_rows = 300;
        let x = gen::rows_i8(&g, 42, n_rows, 0.0);
        let xm = gen::rows_i8(&g, 43, n_rows, 0.1);
        let mut want = vec![0.0; 2 * n_rows];
        let mut want_m = vec![0.0; 2 * n_rows];
        let mut want_l = vec![0; n_rows];
        {
            let e = std::ptr::null_mut();
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_proba(
                        m.0,
                        x.as_ptr(),
                        n_rows,
                        nf,
                        want.as_mut_ptr(),
                        want.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_proba(
                        m.0,
                        xm.as_ptr(),
                        n_rows,
                        nf,
                        want_m.as_mut_ptr(),
                        want_m.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict(
                        m.0,
                        x.as_ptr(),
                        n_rows,
                        nf,
                        want_l.as_mut_ptr(),
                        want_l.len(),
                        e,
                    )
                },
                TT_OK
            );
            let (bits, _) = gen::pack_bits(&x, nf);
            let (bits_m, mask_m) = gen::pack_bits(&xm, nf);
            let mut p = vec![0.0; 2 * n_rows];
            let mut l = vec![0; n_rows];
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_proba_bits(
                        m.0,
                        bits.as_ptr(),
                        std::ptr::null(),
                        n_rows,
                        nf,
                        p.as_mut_ptr(),
                        p.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(bitwise(&p), bitwise(&want), "{}", g.name);
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_bits(
                        m.0,
                        bits.as_ptr(),
                        std::ptr::null(),
                        n_rows,
                        nf,
                        l.as_mut_ptr(),
                        l.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(l, want_l);
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_proba_bits(
                        m.0,
                        bits_m.as_ptr(),
                        mask_m.as_ptr(),
                        n_rows,
                        nf,
                        p.as_mut_ptr(),
                        p.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(bitwise(&p), bitwise(&want_m), "{} masked", g.name);
            let (off, idx) = gen::to_csr(&x, nf);
            let off = if nf == 0 { vec![0; n_rows + 1] } else { off };
            p.fill(0.0);
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_proba_csr(
                        m.0,
                        off.as_ptr(),
                        idx.as_ptr(),
                        idx.len(),
                        n_rows,
                        nf,
                        p.as_mut_ptr(),
                        p.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(bitwise(&p), bitwise(&want), "{} csr", g.name);
            l.fill(-1);
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_csr(
                        m.0,
                        off.as_ptr(),
                        idx.as_ptr(),
                        idx.len(),
                        n_rows,
                        nf,
                        l.as_mut_ptr(),
                        l.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(l, want_l);
            // CSR offsets need not start at 0: a window into a larger index array.
            let shift: Vec<usize> = off.iter().map(|o| o + 3).collect();
            let mut idx3 = vec![0u32, 1, 2];
            idx3.extend_from_slice(&idx);
            p.fill(0.0);
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe {
                    tt_predict_proba_csr(
                        m.0,
                        shift.as_ptr(),
                        idx3.as_ptr(),
                        idx3.len(),
                        n_rows,
                        nf,
                        p.as_mut_ptr(),
                        p.len(),
                        e,
                    )
                },
                TT_OK
            );
            assert_eq!(bitwise(&p), bitwise(&want), "{} csr shifted", g.name);
        }
    }
}

#[test]
fn padding_bits_past_n_features_are_ignored() {
    let g = gen::dense(70, 70, 3000.0, Some(9), 2.0);
    let model = Model::from_bytes(&g.bytes).unwrap();
    let x = gen::rows_i8(&g, 9, 64, 0.0);
    let (mut bits, _) = gen::pack_bits(&x, 70);
    let mut want = vec![0.0; 128];
    model
        .tree()
        .predict_proba_bits(&bits, None, 64, &mut want)
        .unwrap();
    for r in 0..64 {
        bits[2 * r + 1] |= !0u64 << 6;
    }
    let mut p = vec![0.0; 128];
    model
        .tree()
        .predict_proba_bits(&bits, None, 64, &mut p)
        .unwrap();
    assert_eq!(bitwise(&p), bitwise(&want));
}

#[test]
fn kernel_choice_is_recorded_and_queryable() {
    // With the native kernel (feature `native`, x86_64), chains and small trees get it.
    let native = thetatree::traverse::NATIVE_AVAILABLE;
    let cases = [
        (
            gen::dense_d6(),
            if native { "native" } else { "branch-free" },
        ),
        (gen::dense_d12(), "branch-free"),
        (gen::dense_unlimited(), "branch-free"),
        (
            gen::onehot_unlimited(),
            if native { "native" } else { "branchy" },
        ),
    ];
    for (g, want) in cases {
        let m = load(&g);
        // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
        let s = unsafe { std::ffi::CStr::from_ptr(tt_model_kernel(m.0)) };
        assert_eq!(s.to_str().unwrap(), want, "{}", g.name);
        let model = Model::from_bytes(&g.bytes).unwrap();
        assert_eq!(model.tree().kernel().name(), want);
    }
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert!(unsafe { tt_model_kernel(std::ptr::null()) }.is_null());
}

/// Invalid cells in a batch: the error names the first bad cell the walk reads, in the first
/// failing row, and every earlier row is written, whatever the kernel and wherever the row
/// falls in an interleaved group.
#[test]
fn invalid_cell_errors_are_exact_in_batches() {
    for g in [gen::dense_d12(), gen::onehot_unlimited()] {
        let model = Model::from_bytes(&g.bytes).unwrap();
        let nf = g.n_features;
        let n_rows = 70;
        for bad_row in [0usize, 5, 15, 16, 17, 31, 40, 69] {
            let mut x = gen::rows_i8(&g, bad_row as u64, n_rows, 0.05);
            // Poison the first cell the reference walk reads in bad_row, plus a later row.
            let row = &x[bad_row * nf..(bad_row + 1) * nf];
            let first_read = first_split_feature(&g, row);
            x[bad_row * nf + first_read] = 7;
            if bad_row + 1 < n_rows {
                let f = first_split_feature(&g, &x[(bad_row + 1) * nf..(bad_row + 2) * nf]);
                x[(bad_row + 1) * nf + f] = -3;
            }
            let xf: Vec<f64> = x
                .iter()
                .map(|&c| match c {
                    -1 => f64::NAN,
                    7 => 0.5,
                    -3 => f64::INFINITY,
                    c => c as f64,
                })
                .collect();
            let want = reference_proba(&g, &x[..bad_row * nf]);
            for (kernel, runs) in WALKS {
                let t = model.tree().with_kernel(kernel).with_chain_runs(runs);
                let mut p = vec![-1.0; 2 * n_rows];
                let e = t.predict_proba(&x, n_rows, &mut p).unwrap_err();
                assert_eq!(e.status, thetatree::Status::InputValue);
                assert_eq!(
                    (e.row, e.column),
                    (bad_row as i64, first_read as i64),
                    "{kernel:?}"
                );
                assert!(e.message.contains("value 7"), "{}", e.message);
                assert_eq!(bitwise(&p[..2 * bad_row]), bitwise(&want));
                let mut p = vec![-1.0; 2 * n_rows];
                let e = t.predict_proba(&xf, n_rows, &mut p).unwrap_err();
                assert_eq!((e.row, e.column), (bad_row as i64, first_read as i64));
                assert!(e.message.contains("0.5"), "{}", e.message);
                assert_eq!(bitwise(&p[..2 * bad_row]), bitwise(&want));
            }
        }
    }
}

/// The root split's feature is always read first.
fn first_split_feature(g: &Generated, _row: &[i8]) -> usize {
    match g.spec.nodes[0] {
        NodeSpec::Split { feature, .. } => feature as usize,
        NodeSpec::Leaf { .. } => panic!("leaf root"),
    }
}

#[test]
fn bits_argument_errors_write_nothing() {
    let g = gen::dense(70, 70, 3000.0, Some(9), 2.0);
    let m = load(&g);
    let n_rows = 4;
    let x = gen::rows_i8(&g, 1, n_rows, 0.0);
    let (bits, mask) = gen::pack_bits(&x, 70);
    let null_u64 = std::ptr::null::<u64>();
    let mut out = vec![9.0f64; 8];
    let mut lab = vec![9i32; 4];
    let mis = bits.as_ptr().wrapping_byte_add(1);
    type Case<'a> = (
        &'a str,
        i32,
        Box<dyn Fn(*mut tt_error, *mut f64, *mut i32) -> [i32; 2] + 'a>,
    );
    let cases: Vec<Case> = vec![
        (
            "null model",
            TT_ERR_NULL_ARG,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(
                            std::ptr::null(),
                            bits.as_ptr(),
                            null_u64,
                            n_rows,
                            70,
                            o,
                            8,
                            e,
                        )
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(
                            std::ptr::null(),
                            bits.as_ptr(),
                            null_u64,
                            n_rows,
                            70,
                            l,
                            4,
                            e,
                        )
                    },
                ]
            }),
        ),
        (
            "null x",
            TT_ERR_NULL_ARG,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_proba_bits(m.0, null_u64, null_u64, n_rows, 70, o, 8, e) },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_bits(m.0, null_u64, null_u64, n_rows, 70, l, 4, e) },
                ]
            }),
        ),
        (
            "null out",
            TT_ERR_NULL_ARG,
            Box::new(|e, _, _| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(
                            m.0,
                            bits.as_ptr(),
                            null_u64,
                            n_rows,
                            70,
                            std::ptr::null_mut(),
                            8,
                            e,
                        )
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(
                            m.0,
                            bits.as_ptr(),
                            null_u64,
                            n_rows,
                            70,
                            std::ptr::null_mut(),
                            4,
                            e,
                        )
                    },
                ]
            }),
        ),
        (
            "n_cols",
            TT_ERR_SHAPE,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(m.0, bits.as_ptr(), null_u64, n_rows, 64, o, 8, e)
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(m.0, bits.as_ptr(), mask.as_ptr(), n_rows, 71, l, 4, e)
                    },
                ]
            }),
        ),
        (
            "overflow",
            TT_ERR_SHAPE,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(
                            m.0,
                            bits.as_ptr(),
                            null_u64,
                            usize::MAX / 2,
                            70,
                            o,
                            8,
                            e,
                        )
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(m.0, bits.as_ptr(), null_u64, usize::MAX / 2, 70, l, 4, e)
                    },
                ]
            }),
        ),
        (
            "short out",
            TT_ERR_LENGTH,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(m.0, bits.as_ptr(), null_u64, n_rows, 70, o, 7, e)
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(m.0, bits.as_ptr(), mask.as_ptr(), n_rows, 70, l, 3, e)
                    },
                ]
            }),
        ),
        (
            "misaligned x",
            TT_ERR_ALIGNMENT,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_proba_bits(m.0, mis, null_u64, n_rows, 70, o, 8, e) },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_bits(m.0, bits.as_ptr(), mis, n_rows, 70, l, 4, e) },
                ]
            }),
        ),
        (
            "misaligned out",
            TT_ERR_ALIGNMENT,
            Box::new(|e, o, l| {
                [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(
                            m.0,
                            bits.as_ptr(),
                            null_u64,
                            n_rows,
                            70,
                            (o as *mut u8).wrapping_add(1) as *mut f64,
                            8,
                            e,
                        )
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(
                            m.0,
                            bits.as_ptr(),
                            null_u64,
                            n_rows,
                            70,
                            (l as *mut u8).wrapping_add(1) as *mut i32,
                            4,
                            e,
                        )
                    },
                ]
            }),
        ),
    ];
    for (what, code, call) in cases {
        let mut err = new_err();
        let rcs = call(&mut err, out.as_mut_ptr(), lab.as_mut_ptr());
        assert_eq!(rcs, [code, code], "{what}");
        assert_eq!(err.code, code, "{what}");
        assert!(!err_message(&err).is_empty(), "{what}");
        assert!(out.iter().all(|&v| v == 9.0), "{what}: output written");
        assert!(lab.iter().all(|&v| v == 9), "{what}: labels written");
        // NULL err is allowed.
        let rcs = call(std::ptr::null_mut(), out.as_mut_ptr(), lab.as_mut_ptr());
        assert_eq!(rcs, [code, code], "{what} (err NULL)");
    }
}

#[test]
fn csr_argument_and_structure_errors_write_nothing() {
    let g = gen::onehot(777, 200, 20000.0, 40.0);
    let m = load(&g);
    let nf = 200;
    let off: Vec<usize> = vec![0, 2, 4, 6];
    let good: Vec<u32> = vec![1, 50, 3, 199, 0, 7];
    let n_rows = 3;
    let run = |offs: &[usize],
               idx: &[u32],
               n_idx: usize,
               n_rows: usize,
               n_cols: usize,
               out_len: usize| {
        let mut out = vec![9.0f64; 8];
        let mut lab = vec![9i32; 4];
        let mut e1 = new_err();
        let mut e2 = new_err();
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        let r1 = unsafe {
            tt_predict_proba_csr(
                m.0,
                offs.as_ptr(),
                idx.as_ptr(),
                n_idx,
                n_rows,
                n_cols,
                out.as_mut_ptr(),
                out_len,
                &mut e1,
            )
        };
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        let r2 = unsafe {
            tt_predict_csr(
                m.0,
                offs.as_ptr(),
                idx.as_ptr(),
                n_idx,
                n_rows,
                n_cols,
                lab.as_mut_ptr(),
                out_len / 2,
                &mut e2,
            )
        };
        assert_eq!(r1, r2);
        assert_eq!((e1.row, e1.column), (e2.row, e2.column));
        if r1 != TT_OK {
            assert!(
                out.iter().all(|&v| v == 9.0),
                "output written on error {}",
                err_message(&e1)
            );
            assert!(lab.iter().all(|&v| v == 9), "labels written on error");
            assert_eq!(e1.code, r1);
        }
        (r1, e1.row, e1.column, err_message(&e1))
    };
    assert_eq!(run(&off, &good, 6, n_rows, nf, 6).0, TT_OK);
    // Structure errors name the row (and the bad index as column).
    let (rc, row, col, msg) = run(&off, &[1, 50, 3, 200, 0, 7], 6, n_rows, nf, 6);
    assert_eq!((rc, row, col), (TT_ERR_SHAPE, 1, 200), "{msg}");
    assert!(msg.contains("out of range"), "{msg}");
    let (rc, row, col, msg) = run(&off, &[1, 50, 3, 199, 7, 0], 6, n_rows, nf, 6);
    assert_eq!((rc, row, col), (TT_ERR_SHAPE, 2, 0), "{msg}");
    assert!(msg.contains("unsorted"), "{msg}");
    let (rc, row, col, msg) = run(&off, &[50, 50, 3, 199, 0, 7], 6, n_rows, nf, 6);
    assert_eq!((rc, row, col), (TT_ERR_SHAPE, 0, 50), "{msg}");
    assert!(msg.contains("duplicate"), "{msg}");
    let (rc, row, _, msg) = run(&[0, 4, 2, 6], &[0, 1, 2, 3, 4, 5], 6, n_rows, nf, 6);
    assert_eq!((rc, row), (TT_ERR_SHAPE, 1), "{msg}");
    assert!(msg.contains("decrease"), "{msg}");
    // A middle offset past the indices, the last one within them: a decrease, found before any
    // row's indices are read (regression: row 0 used to be sliced up to offset 100 and panic).
    let (rc, row, _, msg) = run(&[0, 100, 5, 6], &[0, 1, 2, 3, 4, 5], 6, n_rows, nf, 6);
    assert_eq!((rc, row), (TT_ERR_SHAPE, 1), "{msg}");
    assert!(msg.contains("decrease"), "{msg}");
    // An error in a later row still writes nothing for earlier rows.
    let (rc, row, _, _) = run(&off, &[1, 50, 3, 199, 0, 0], 6, n_rows, nf, 6);
    assert_eq!((rc, row), (TT_ERR_SHAPE, 2));
    // Lengths and shapes.
    assert_eq!(run(&off, &good, 5, n_rows, nf, 6).0, TT_ERR_LENGTH);
    assert_eq!(run(&off, &good, 6, n_rows, nf, 5).0, TT_ERR_LENGTH);
    assert_eq!(run(&off, &good, 6, n_rows, nf + 1, 6).0, TT_ERR_SHAPE);
    assert_eq!(run(&off, &good, usize::MAX, n_rows, nf, 6).0, TT_ERR_SHAPE);
    assert_eq!(run(&off, &good, 6, usize::MAX, nf, 6).0, TT_ERR_SHAPE);
    // NULLs and alignment.
    let mut out = vec![9.0f64; 8];
    let mut e = new_err();
    let nul_off = std::ptr::null::<usize>();
    let nul_idx = std::ptr::null::<u32>();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                std::ptr::null(),
                off.as_ptr(),
                good.as_ptr(),
                6,
                3,
                nf,
                out.as_mut_ptr(),
                6,
                &mut e,
            )
        },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                m.0,
                nul_off,
                good.as_ptr(),
                6,
                3,
                nf,
                out.as_mut_ptr(),
                6,
                &mut e,
            )
        },
        TT_ERR_NULL_ARG
    );
    assert!(err_message(&e).contains("row_offsets"));
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                m.0,
                off.as_ptr(),
                nul_idx,
                6,
                3,
                nf,
                out.as_mut_ptr(),
                6,
                &mut e,
            )
        },
        TT_ERR_NULL_ARG
    );
    assert!(err_message(&e).contains("indices"));
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                m.0,
                off.as_ptr(),
                good.as_ptr(),
                6,
                3,
                nf,
                std::ptr::null_mut(),
                6,
                &mut e,
            )
        },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_csr(
                m.0,
                off.as_ptr(),
                good.as_ptr(),
                6,
                3,
                nf,
                std::ptr::null_mut(),
                6,
                &mut e,
            )
        },
        TT_ERR_NULL_ARG
    );
    let mis_off = (off.as_ptr() as *const u8).wrapping_add(1) as *const usize;
    let mis_idx = (good.as_ptr() as *const u8).wrapping_add(1) as *const u32;
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                m.0,
                mis_off,
                good.as_ptr(),
                6,
                3,
                nf,
                out.as_mut_ptr(),
                6,
                &mut e,
            )
        },
        TT_ERR_ALIGNMENT
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                m.0,
                off.as_ptr(),
                mis_idx,
                6,
                3,
                nf,
                out.as_mut_ptr(),
                6,
                &mut e,
            )
        },
        TT_ERR_ALIGNMENT
    );
    assert!(out.iter().all(|&v| v == 9.0));
    // Zero rows: fine, nothing written.
    let mut out0 = [9.0f64; 2];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_csr(
                m.0,
                off.as_ptr(),
                good.as_ptr(),
                0,
                0,
                nf,
                out0.as_mut_ptr(),
                0,
                &mut e,
            )
        },
        TT_OK
    );
    assert_eq!(out0, [9.0, 9.0]);
}

#[test]
fn wide_models_use_the_search_path() {
    // 70,000 features: past the 8 KiB stack set, so CSR rows are searched, not scattered.
    let g = gen::onehot(70_001, 70_000, 30000.0, 60.0);
    let model = Model::from_bytes(&g.bytes).unwrap();
    let n_rows = 50;
    let x = gen::rows_i8(&g, 5, n_rows, 0.0);
    let want = reference_proba(&g, &x);
    let (off, idx) = gen::to_csr(&x, g.n_features);
    let mut p = vec![0.0; 2 * n_rows];
    model
        .tree()
        .predict_proba_csr(&off, &idx, n_rows, &mut p)
        .unwrap();
    assert_eq!(bitwise(&p), bitwise(&want));
    let (bits, _) = gen::pack_bits(&x, g.n_features);
    model
        .tree()
        .predict_proba_bits(&bits, None, n_rows, &mut p)
        .unwrap();
    assert_eq!(bitwise(&p), bitwise(&want));
}

/// The features the reference walk reads for `row`, in order.
fn path_features(g: &Generated, row: &[i8]) -> Vec<usize> {
    let mut i = 0usize;
    let mut read = Vec::new();
    while let NodeSpec::Split {
        feature,
        left,
        right,
        missing_right,
    } = g.spec.nodes[i]
    {
        read.push(feature as usize);
        let go_right = match row[feature as usize] {
            0 => false,
            1 => true,
            _ => missing_right,
        };
        i = if go_right { right } else { left } as usize;
    }
    read
}

/// Deep in a chain: a bad cell at the k-th read of the path fails with that cell whatever the
/// walk (the run scan reads cells four at a time but only the checked step reports), and a bad
/// cell that only a stopped run attempt reads (just past where the path turns right) is no error.
#[test]
fn run_scan_reports_the_first_bad_cell_of_the_path_and_nothing_else() {
    let mut checked = 0;
    for g in gen::families::issue12_trees(9) {
        let model = Model::from_bytes(&g.bytes).unwrap();
        let nf = g.n_features;
        let x = gen::rows_i8(&g, 3, 200, 0.0);
        for (r, row) in x.chunks(nf).enumerate() {
            let path = path_features(&g, row);
            if path.len() < 12 {
                continue;
            }
            for k in [1usize, 5, path.len() / 2, path.len() - 1] {
                let mut bad = row.to_vec();
                // A cell read earlier on the path must keep its value (same path up to k).
                if path[..k].contains(&path[k]) {
                    continue;
                }
                bad[path[k]] = 5;
                for (kernel, runs) in WALKS {
                    let t = model.tree().with_kernel(kernel).with_chain_runs(runs);
                    assert_eq!(
                        t.leaf(&bad).map(|l| l.node),
                        Err(path[k]),
                        "{} row {r} read {k} {kernel:?} runs {runs}",
                        g.name
                    );
                }
                checked += 1;
            }
            // Poison every cell that the path does not read: the leaf must not change.
            let mut off_path = row.to_vec();
            for (j, c) in off_path.iter_mut().enumerate() {
                if !path.contains(&j) {
                    *c = 9;
                }
            }
            let want = reference_leaf(&g, row).unwrap();
            for (kernel, runs) in WALKS {
                let t = model.tree().with_kernel(kernel).with_chain_runs(runs);
                assert_eq!(
                    t.leaf(&off_path).map(|l| l.node),
                    Ok(want),
                    "{} row {r} {kernel:?} runs {runs}",
                    g.name
                );
            }
        }
    }
    assert!(checked > 100, "only {checked} deep cells checked");
}
