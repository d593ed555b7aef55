//! Zero heap allocations per predict call: a counting global allocator around every predict
//! entry point (int8, f64, labels and probabilities, bit-packed with and without mask, CSR),
//! single rows and batches, on each benchmark tree and with each kernel.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "../benches/gen/mod.rs"]
mod gen;

use counting_alloc::allocs;
use thetatree::ffi::*;
use thetatree::traverse::Kernel;

#[test]
fn predict_calls_do_not_allocate() {
    let e = std::ptr::null_mut();
    for g in gen::issue4_trees() {
        let nf = g.n_features;
        let mut m = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_load_bytes(g.bytes.as_ptr(), g.bytes.len(), 0, &mut m, e) },
            TT_OK
        );
        let model = thetatree::Model::from_bytes(&g.bytes).unwrap();
        for n_rows in [1usize, 16, 37, 300] {
            let x = gen::rows_i8(&g, n_rows as u64, n_rows, 0.0);
            let xm = gen::rows_i8(&g, n_rows as u64 + 1, n_rows, 0.05);
            let xf: Vec<f64> = xm
                .iter()
                .map(|&c| if c == -1 { f64::NAN } else { c as f64 })
                .collect();
            let (bits, _) = gen::pack_bits(&x, nf);
            let (bits_m, mask_m) = gen::pack_bits(&xm, nf);
            let (off, idx) = gen::to_csr(&x, nf);
            let mut p = vec![0.0f64; 2 * n_rows];
            let mut l = vec![0i32; n_rows];
            let mut c = vec![0.0f64; (nf + 1) * n_rows];
            let mut path = vec![0i32; model.max_depth() + 1];
            let mut path_len = 0usize;
            let mut node = std::mem::MaybeUninit::<tt_node>::uninit();
            let mut calls = || {
                let (pp, lp) = (p.as_mut_ptr(), l.as_mut_ptr());
                let (np, nl) = (p.len(), l.len());
                let rcs = [
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict(m, x.as_ptr(), n_rows, nf, lp, nl, e) },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_proba(m, xm.as_ptr(), n_rows, nf, pp, np, e) },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_f64(m, xf.as_ptr(), n_rows, nf, lp, nl, e) },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_proba_f64(m, xf.as_ptr(), n_rows, nf, pp, np, e) },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_bits(m, bits.as_ptr(), std::ptr::null(), n_rows, nf, lp, nl, e)
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_bits(
                            m,
                            bits_m.as_ptr(),
                            mask_m.as_ptr(),
                            n_rows,
                            nf,
                            pp,
                            np,
                            e,
                        )
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_csr(
                            m,
                            off.as_ptr(),
                            idx.as_ptr(),
                            idx.len(),
                            n_rows,
                            nf,
                            lp,
                            nl,
                            e,
                        )
                    },
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe {
                        tt_predict_proba_csr(
                            m,
                            off.as_ptr(),
                            idx.as_ptr(),
                            idx.len(),
                            n_rows,
                            nf,
                            pp,
                            np,
                            e,
                        )
                    },
                ];
                assert!(rcs.iter().all(|&rc| rc == TT_OK), "{rcs:?}");
                // The explanation calls (issue 15).
                let (cp, nc) = (c.as_mut_ptr(), c.len());
                let (pa, cap) = (path.as_mut_ptr(), path.len());
                let (offs, ix) = (off.as_ptr(), idx.as_ptr());
                let (bp, mp) = (bits_m.as_ptr(), mask_m.as_ptr());
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                let rcs = unsafe {
                    [
                        tt_predict_leaf(m, xm.as_ptr(), n_rows, nf, lp, nl, e),
                        tt_predict_leaf_f64(m, xf.as_ptr(), n_rows, nf, lp, nl, e),
                        tt_predict_leaf_bits(m, bp, mp, n_rows, nf, lp, nl, e),
                        tt_predict_leaf_csr(m, offs, ix, idx.len(), n_rows, nf, lp, nl, e),
                        tt_predict_contrib(m, xm.as_ptr(), n_rows, nf, cp, nc, e),
                        tt_predict_contrib_f64(m, xf.as_ptr(), n_rows, nf, cp, nc, e),
                        tt_predict_contrib_bits(m, bp, mp, n_rows, nf, cp, nc, e),
                        tt_predict_contrib_csr(m, offs, ix, idx.len(), n_rows, nf, cp, nc, e),
                        tt_decision_path(m, xm.as_ptr(), nf, pa, cap, &mut path_len, e),
                        tt_decision_path_f64(m, xf.as_ptr(), nf, pa, cap, &mut path_len, e),
                        tt_node_info(m, n_rows % model.n_nodes(), node.as_mut_ptr(), e),
                    ]
                };
                assert!(rcs.iter().all(|&rc| rc == TT_OK), "{rcs:?}");
                // The "ask for the size" call fails with TT_ERR_LENGTH, still without allocating.
                // SAFETY: as above (NULL out_nodes with cap 0 is allowed).
                let rc = unsafe {
                    tt_decision_path(m, x.as_ptr(), nf, std::ptr::null_mut(), 0, &mut path_len, e)
                };
                assert_eq!(rc, TT_ERR_LENGTH);
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                assert!(!unsafe { tt_model_kernel(m) }.is_null());
                for (k, runs) in [
                    (Kernel::Branchy, false),
                    (Kernel::Branchy, true),
                    (Kernel::BranchFree, false),
                ] {
                    let t = model.tree().with_kernel(k).with_chain_runs(runs);
                    t.predict(&x, n_rows, &mut l).unwrap();
                    t.predict_proba(&xf, n_rows, &mut p).unwrap();
                    t.predict_proba_bits(&bits_m, Some(&mask_m), n_rows, &mut p)
                        .unwrap();
                    t.predict_csr(&off, &idx, n_rows, &mut l).unwrap();
                    t.leaf(&x[..nf]).unwrap();
                    t.predict_leaf(&x, n_rows, &mut l).unwrap();
                    t.predict_leaf_bits(&bits_m, Some(&mask_m), n_rows, &mut l)
                        .unwrap();
                    t.predict_leaf_csr(&off, &idx, n_rows, &mut l).unwrap();
                    t.predict_contrib(&xf, n_rows, &mut c).unwrap();
                    t.predict_contrib_bits(&bits, None, n_rows, &mut c).unwrap();
                    t.predict_contrib_csr(&off, &idx, n_rows, &mut c).unwrap();
                    t.decision_path(&xm[..nf], &mut path).unwrap();
                    t.node(n_rows % t.n_nodes()).unwrap();
                }
            };
            // Warm-up (lazy statics, thread-locals, first-touch of anything).
            for _ in 0..3 {
                calls();
            }
            let before = allocs();
            for _ in 0..200 {
                calls();
            }
            let after = allocs();
            assert_eq!(
                after - before,
                0,
                "{}: {n_rows}-row predict calls allocated {} times",
                g.name,
                after - before
            );
        }
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_free(m) };
    }
    // The counter itself works.
    let before = allocs();
    let v = std::hint::black_box(vec![1u8; 10]);
    drop(v);
    assert!(allocs() > before);
}
