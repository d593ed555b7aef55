//! The load-time native-code kernel (feature `native`): bit for bit the interpreter's answers
//! (labels, probabilities, leaves, the first invalid cell's row and column) on generated chains,
//! ragged and balanced trees and on the reference models, for int8 and f64 rows including every
//! value the cell rules treat specially, and for bit-packed and CSR rows; the kernel choice, the
//! `TT_LOAD_INTERPRET` opt-out, the node cap and zero allocations per call.
#![cfg(all(feature = "native", target_arch = "x86_64"))]

mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "../benches/gen/mod.rs"]
mod gen;

use counting_alloc::allocs;
use gen::{families, Generated, Rng};
use thetatree::error::Error;
use thetatree::format::{encode, ModelSpec, NodeSpec};
use thetatree::traverse::{Cell, Kernel, NATIVE_MAX_NODES};
use thetatree::{Model, OpenOptions};

/// The model with native code (forced, whatever the kernel choice) and the interpreter's.
fn pair(bytes: &[u8]) -> (Model, Model) {
    let mut native = Model::from_bytes(bytes).unwrap();
    assert!(native.force_native(), "no native code generated");
    assert!(native.native_code_len() > 0);
    assert_eq!(native.tree().kernel(), Kernel::Native);
    let interp = Model::from_bytes_with(bytes, OpenOptions::default().interpret(true)).unwrap();
    assert_eq!(interp.native_code_len(), 0);
    assert_ne!(interp.tree().kernel(), Kernel::Native);
    (native, interp)
}

fn same_err(a: &Error, b: &Error) {
    assert_eq!(
        (a.status, a.row, a.column, &a.message),
        (b.status, b.row, b.column, &b.message)
    );
}

/// Labels, probabilities (bits) and per-row leaves agree, or both fail on the same cell with the
/// same outputs written before it.
fn agree<T: Cell + std::fmt::Debug>(what: &str, native: &Model, interp: &Model, x: &[T]) {
    let nf = native.n_features();
    let n = x.len() / nf;
    let (tn, ti) = (native.tree(), interp.tree());
    assert_eq!(tn.kernel(), Kernel::Native);
    let (mut ln, mut li) = (vec![-7i32; n], vec![-7i32; n]);
    let (rn, ri) = (tn.predict(x, n, &mut ln), ti.predict(x, n, &mut li));
    match (&rn, &ri) {
        (Ok(()), Ok(())) => {}
        (Err(a), Err(b)) => same_err(a, b),
        _ => panic!("{what}: native {rn:?} vs interpreter {ri:?}"),
    }
    assert_eq!(ln, li, "{what}: labels");
    let (mut pn, mut pi) = (vec![-7f64; 2 * n], vec![-7f64; 2 * n]);
    let (rn, ri) = (
        tn.predict_proba(x, n, &mut pn),
        ti.predict_proba(x, n, &mut pi),
    );
    match (&rn, &ri) {
        (Ok(()), Ok(())) => {}
        (Err(a), Err(b)) => same_err(a, b),
        _ => panic!("{what}: native {rn:?} vs interpreter {ri:?}"),
    }
    let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&pn), bits(&pi), "{what}: probabilities");
    for (r, row) in x.chunks(nf).enumerate() {
        assert_eq!(
            tn.leaf_index(row),
            ti.leaf_index(row),
            "{what}: row {r} leaf"
        );
    }
}

/// The bit-packed (with and without the missing mask) and CSR entry points agree: labels,
/// probabilities (bits) and leaves. Bits without a mask and CSR rows run the native bits
/// function; a masked row is walked by the interpreter in both models.
fn agree_wide(what: &str, native: &Model, interp: &Model, x: &[i8]) {
    let nf = native.n_features();
    let n = x.len() / nf;
    let (tn, ti) = (native.tree(), interp.tree());
    let (v, m) = gen::pack_bits(x, nf);
    let (off, idx) = gen::to_csr(x, nf);
    let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    for mask in [None, Some(&m[..])] {
        let w = format!("{what} bits mask {}", mask.is_some());
        let (mut ln, mut li) = (vec![-7i32; n], vec![-7i32; n]);
        tn.predict_bits(&v, mask, n, &mut ln).unwrap();
        ti.predict_bits(&v, mask, n, &mut li).unwrap();
        assert_eq!(ln, li, "{w}: labels");
        tn.predict_leaf_bits(&v, mask, n, &mut ln).unwrap();
        ti.predict_leaf_bits(&v, mask, n, &mut li).unwrap();
        assert_eq!(ln, li, "{w}: leaves");
        let (mut pn, mut pi) = (vec![-7f64; 2 * n], vec![-7f64; 2 * n]);
        tn.predict_proba_bits(&v, mask, n, &mut pn).unwrap();
        ti.predict_proba_bits(&v, mask, n, &mut pi).unwrap();
        assert_eq!(bits(&pn), bits(&pi), "{w}: probabilities");
    }
    let (mut ln, mut li) = (vec![-7i32; n], vec![-7i32; n]);
    tn.predict_csr(&off, &idx, n, &mut ln).unwrap();
    ti.predict_csr(&off, &idx, n, &mut li).unwrap();
    assert_eq!(ln, li, "{what} csr: labels");
    tn.predict_leaf_csr(&off, &idx, n, &mut ln).unwrap();
    ti.predict_leaf_csr(&off, &idx, n, &mut li).unwrap();
    assert_eq!(ln, li, "{what} csr: leaves");
    let (mut pn, mut pi) = (vec![-7f64; 2 * n], vec![-7f64; 2 * n]);
    tn.predict_proba_csr(&off, &idx, n, &mut pn).unwrap();
    ti.predict_proba_csr(&off, &idx, n, &mut pi).unwrap();
    assert_eq!(bits(&pn), bits(&pi), "{what} csr: probabilities");
}

/// f64 rows from int8 ones: 0 as 0.0 or -0.0, 1 as 1.0, -1 as one of several NaNs.
fn to_f64(x: &[i8], seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let nans = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7FF0_0000_0000_0001),
        f64::from_bits(0xFFF8_0000_0000_00FF),
    ];
    x.iter()
        .map(|&v| match v {
            0 if rng.below(2) == 0 => 0.0,
            0 => -0.0,
            1 => 1.0,
            _ => nans[rng.below(4) as usize],
        })
        .collect()
}

fn check_generated(g: &Generated, n_rows: usize) {
    let (native, interp) = pair(&g.bytes);
    for (k, missing) in [0.0, 0.05, 0.3].into_iter().enumerate() {
        let x = gen::rows_i8(g, 17 + k as u64, n_rows, missing);
        agree(
            &format!("{} i8 missing {missing}", g.name),
            &native,
            &interp,
            &x,
        );
        let xf = to_f64(&x, 99 + k as u64);
        agree(
            &format!("{} f64 missing {missing}", g.name),
            &native,
            &interp,
            &xf,
        );
        agree_wide(
            &format!("{} missing {missing}", g.name),
            &native,
            &interp,
            &x,
        );
    }
}

fn generated() -> Vec<Generated> {
    let mut v = families::issue12_trees(5);
    v.extend(families::issue12_trees(77));
    v.extend(gen::issue4_trees());
    v
}

#[test]
fn parity_on_generated_families() {
    for g in generated() {
        check_generated(&g, 300);
    }
}

#[test]
fn parity_on_reference_models() {
    for m in common::manifest() {
        let bytes = common::compile_ref(&m);
        let model = Model::from_bytes(&bytes).unwrap();
        if model.n_nodes() == 1 {
            continue;
        }
        let (native, interp) = pair(&bytes);
        for missing in [false, true] {
            let input = common::input(&m.dataset, missing);
            agree(
                &format!("{} f64 missing {missing}", m.name),
                &native,
                &interp,
                &input.f64_flat(),
            );
            agree(
                &format!("{} i8 missing {missing}", m.name),
                &native,
                &interp,
                &input.i8_flat(),
            );
            agree_wide(
                &format!("{} missing {missing}", m.name),
                &native,
                &interp,
                &input.i8_flat(),
            );
        }
    }
}

/// Every invalid value at every column of some rows: the same first bad cell (row, column,
/// message) as the interpreter, the same outputs before it.
#[test]
fn invalid_values_at_every_column() {
    let bad_i8: [i8; 6] = [2, -2, 127, -128, 5, 64];
    let bad_f64 = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.5,
        f64::from_bits(1),
        f64::from_bits(0x8000_0000_0000_0001),
        2.0,
        -1.0,
        f64::MIN_POSITIVE,
        1.0 + f64::EPSILON,
        f64::from_bits(0x7FF0_0000_0000_0000 - 1),
    ];
    for g in [
        families::ragged(3),
        families::onehot_chain(3),
        families::ref_chain(3, false),
        families::balanced(3, 6),
    ] {
        let (native, interp) = pair(&g.bytes);
        let nf = g.n_features;
        let rows = 4;
        let base = gen::rows_i8(&g, 1, rows, 0.02);
        let basef = to_f64(&base, 2);
        let mut errors = 0;
        for c in 0..nf {
            let r = c % rows;
            let mut x = base.clone();
            x[r * nf + c] = bad_i8[c % bad_i8.len()];
            agree(&format!("{} i8 bad at {c}", g.name), &native, &interp, &x);
            let mut xf = basef.clone();
            xf[r * nf + c] = bad_f64[c % bad_f64.len()];
            agree(&format!("{} f64 bad at {c}", g.name), &native, &interp, &xf);
            let mut l = vec![0i32; rows];
            errors += usize::from(native.tree().predict(&xf, rows, &mut l).is_err());
        }
        // The checks above are only meaningful if bad cells are met on the paths.
        assert!(errors > 0, "{}: no invalid cell was ever read", g.name);
    }
}

/// A row that reaches each split, with that split's cell missing (and, separately, invalid).
#[test]
fn missing_at_every_split() {
    for g in [
        families::ragged(8),
        families::onehot_chain(8),
        families::ref_chain(8, true),
    ] {
        let (native, interp) = pair(&g.bytes);
        let nodes = &g.spec.nodes;
        let nf = g.n_features;
        let mut parent = vec![None; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            if let NodeSpec::Split { left, right, .. } = *n {
                parent[left as usize] = Some((i, false));
                parent[right as usize] = Some((i, true));
            }
        }
        let mut checked = 0;
        for (i, n) in nodes.iter().enumerate() {
            let NodeSpec::Split { feature, .. } = *n else {
                continue;
            };
            let mut row = vec![0i8; nf];
            let mut at = i;
            while let Some((p, right)) = parent[at] {
                if let NodeSpec::Split { feature: pf, .. } = nodes[p] {
                    row[pf as usize] = i8::from(right);
                }
                at = p;
            }
            for v in [-1i8, 3] {
                row[feature as usize] = v;
                let t = (native.tree(), interp.tree());
                assert_eq!(
                    t.0.leaf_index(&row),
                    t.1.leaf_index(&row),
                    "{} node {i}",
                    g.name
                );
                let rowf = to_f64(&row, i as u64);
                assert_eq!(
                    t.0.leaf_index(&rowf),
                    t.1.leaf_index(&rowf),
                    "{} node {i}",
                    g.name
                );
            }
            checked += 1;
        }
        assert!(checked > 10);
    }
}

/// A spec builder for shapes the generators do not make.
struct Shape {
    nodes: Vec<NodeSpec>,
    stats: Vec<[f64; 3]>,
}

impl Shape {
    fn leaf(&mut self, pos: bool) -> u32 {
        let i = self.nodes.len() as u32;
        self.nodes.push(NodeSpec::Leaf {
            label: u32::from(pos),
            probabilities: if pos { [0.25, 0.75] } else { [0.75, 0.25] },
        });
        self.stats.push([
            4.0,
            if pos { 1.0 } else { 3.0 },
            if pos { 3.0 } else { 1.0 },
        ]);
        i
    }
    fn split(
        &mut self,
        feature: u32,
        left: impl FnOnce(&mut Shape) -> u32,
        right: impl FnOnce(&mut Shape) -> u32,
    ) -> u32 {
        let i = self.nodes.len() as u32;
        self.nodes.push(NodeSpec::Leaf {
            label: 0,
            probabilities: [0.5, 0.5],
        });
        self.stats.push([0.0; 3]);
        let l = left(self);
        let r = right(self);
        let (a, b) = (self.stats[l as usize], self.stats[r as usize]);
        self.nodes[i as usize] = NodeSpec::Split {
            feature,
            left: l,
            right: r,
            // The format's rule: missing values follow the larger child.
            missing_right: b[0] > a[0],
        };
        self.stats[i as usize] = [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        i
    }
    fn bytes(self, nf: usize) -> Vec<u8> {
        encode(&ModelSpec {
            nodes: self.nodes,
            stats: self.stats,
            feature_names: (0..nf).map(|i| format!("f{i}")).collect(),
            class_labels: vec!["0".into(), "1".into()],
            model_version: "native-test".into(),
            metadata_json: "{}".into(),
        })
    }
}

/// A left chain of `depth` splits, each right child a full subtree of depth `sub`, built
/// without recursion on the chain.
fn chain(depth: u32, sub: u32, nf: u32) -> Vec<u8> {
    fn full(s: &mut Shape, d: u32, f: u32, nf: u32) -> u32 {
        if d == 0 {
            s.leaf(f % 2 == 1)
        } else {
            s.split(
                f % nf,
                |s| full(s, d - 1, f * 7 + 1, nf),
                |s| full(s, d - 1, f * 7 + 2, nf),
            )
        }
    }
    // The chain's splits come first (pre-order, left = next), then the innermost leaf, then
    // the right subtrees innermost first: build it by hand.
    let mut s = Shape {
        nodes: Vec::new(),
        stats: Vec::new(),
    };
    let mut splits = Vec::new();
    for k in 0..depth {
        splits.push(s.nodes.len() as u32);
        s.nodes.push(NodeSpec::Leaf {
            label: 0,
            probabilities: [0.5, 0.5],
        });
        s.stats.push([0.0; 3]);
        let _ = k;
    }
    let mut below = s.leaf(false);
    for (k, &i) in splits.iter().enumerate().rev() {
        let r = full(&mut s, sub, k as u32, nf);
        let (a, b) = (s.stats[below as usize], s.stats[r as usize]);
        s.nodes[i as usize] = NodeSpec::Split {
            feature: (k as u32 * 13) % nf,
            left: below,
            right: r,
            missing_right: b[0] > a[0],
        };
        s.stats[i as usize] = [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        below = i;
    }
    s.bytes(nf as usize)
}

fn chain_rows(nf: usize, n: usize, seed: u64) -> Vec<i8> {
    let mut rng = Rng::new(seed);
    (0..n * nf)
        .map(|_| match rng.below(100) {
            0..=1 => -1,
            2..=5 => 1,
            _ => 0,
        })
        .collect()
}

#[test]
fn deepest_chain_compiles_without_recursion() {
    // MAX_DEPTH splits in a row: the generator (and Cranelift) must not recurse on depth.
    let bytes = chain(thetatree::format::MAX_DEPTH - 2, 1, 300);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.tree().kernel(), Kernel::Native, "a chain chooses native");
    let (native, interp) = pair(&bytes);
    let x = chain_rows(300, 200, 4);
    agree("deep chain i8", &native, &interp, &x);
    agree("deep chain f64", &native, &interp, &to_f64(&x, 5));
}

#[test]
fn node_cap_falls_back_to_the_interpreter() {
    // 2,100 chain splits with 31-node right subtrees: 67,201 nodes, chain-shaped.
    let bytes = chain(2100, 4, 64);
    let mut m = Model::from_bytes(&bytes).unwrap();
    assert!(m.n_nodes() > NATIVE_MAX_NODES, "{} nodes", m.n_nodes());
    assert_eq!(m.tree().kernel(), Kernel::Branchy);
    assert_eq!(m.native_code_len(), 0);
    assert!(!m.force_native(), "above MAX_NODES there is no native code");
    // Just under the cap: native.
    let bytes = chain(2000, 4, 64);
    let m = Model::from_bytes(&bytes).unwrap();
    assert!(m.n_nodes() <= NATIVE_MAX_NODES, "{} nodes", m.n_nodes());
    assert_eq!(m.tree().kernel(), Kernel::Native);
    let (native, interp) = pair(&bytes);
    agree(
        "chain under the cap",
        &native,
        &interp,
        &chain_rows(64, 300, 9),
    );
}

#[test]
fn kernel_choice() {
    let chosen = |g: &Generated| {
        let m = Model::from_bytes(&g.bytes).unwrap();
        (m.tree().kernel(), m.native_code_len())
    };
    for g in [
        families::onehot_chain(1),
        families::ref_chain(1, false),
        families::ref_chain(1, true),
        families::ragged(1),
    ] {
        let (k, len) = chosen(&g);
        assert_eq!(k, Kernel::Native, "{}", g.name);
        assert!(len > 0);
        let m = Model::from_bytes_with(&g.bytes, OpenOptions::default().interpret(true)).unwrap();
        assert_eq!(m.tree().kernel(), Kernel::Branchy, "{}", g.name);
        // An interpreter kernel asked for explicitly drops the native code.
        let m = Model::from_bytes(&g.bytes).unwrap();
        assert_eq!(
            m.tree().with_kernel(Kernel::Branchy).kernel(),
            Kernel::Branchy
        );
        assert_eq!(
            m.tree().with_kernel(Kernel::Native).kernel(),
            Kernel::Native
        );
    }
    // Small balanced trees: native (measured faster than branch-free at depth 6); larger ones
    // keep the branch-free walk.
    let (k, len) = chosen(&families::balanced(1, 6));
    assert_eq!(k, Kernel::Native);
    assert!(len > 0);
    for g in [families::balanced(1, 12), gen::dense_d12()] {
        let (k, len) = chosen(&g);
        assert!(g.n_nodes() > thetatree::model::NATIVE_SMALL_TREE);
        assert_eq!(k, Kernel::BranchFree, "{}", g.name);
        assert_eq!(len, 0);
        // Native asked for on a model without code: still the interpreter.
        let m = Model::from_bytes(&g.bytes).unwrap();
        assert_eq!(
            m.tree().with_kernel(Kernel::Native).kernel(),
            Kernel::BranchFree
        );
    }
}

#[test]
fn load_flag_interpret() {
    use thetatree::ffi::*;
    let g = families::onehot_chain(2);
    let kernel = |flags: u32| {
        let mut m = std::ptr::null_mut();
        // SAFETY: the bytes are live for the call (copied, or borrowed until tt_free below).
        let rc = unsafe {
            tt_load_bytes(
                g.bytes.as_ptr(),
                g.bytes.len(),
                flags,
                &mut m,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, TT_OK);
        // SAFETY: a live model; the kernel name is a static string.
        let k = unsafe { std::ffi::CStr::from_ptr(tt_model_kernel(m)) }
            .to_str()
            .unwrap()
            .to_owned();
        // SAFETY: loaded above, freed once.
        unsafe { tt_free(m) };
        k
    };
    assert_eq!(kernel(0), "native");
    assert_eq!(kernel(TT_LOAD_BORROW), "native");
    assert_eq!(kernel(TT_LOAD_INTERPRET), "branchy");
    assert_eq!(kernel(TT_LOAD_INTERPRET | TT_LOAD_BORROW), "branchy");
    let dir = std::env::temp_dir().join(format!("thetatree-native-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chain.ttm");
    std::fs::write(&path, &g.bytes).unwrap();
    for (flags, want) in [(0, "native"), (TT_LOAD_INTERPRET | TT_LOAD_COPY, "branchy")] {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let mut m = std::ptr::null_mut();
        // SAFETY: a NUL-terminated path; `m` is written on success.
        let rc = unsafe { tt_load(c.as_ptr(), flags, &mut m, std::ptr::null_mut()) };
        assert_eq!(rc, TT_OK);
        // SAFETY: a live model.
        let k = unsafe { std::ffi::CStr::from_ptr(tt_model_kernel(m)) };
        assert_eq!(k.to_str().unwrap(), want);
        // SAFETY: loaded above, freed once.
        unsafe { tt_free(m) };
    }
    let m = Model::open(&path, OpenOptions::default().interpret(true)).unwrap();
    assert_eq!(m.native_code_len(), 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn predict_does_not_allocate() {
    for g in [families::onehot_chain(4), families::ragged(4)] {
        let m = Model::from_bytes(&g.bytes).unwrap();
        let tree = m.tree();
        assert_eq!(tree.kernel(), Kernel::Native);
        let nf = g.n_features;
        for n in [1, 7, 300] {
            let x = gen::rows_i8(&g, n as u64, n, 0.05);
            let xf = to_f64(&x, 3);
            let (v, _) = gen::pack_bits(&x, nf);
            let (off, idx) = gen::to_csr(&x, nf);
            let mut l = vec![0i32; n];
            let mut p = vec![0f64; 2 * n];
            let before = allocs();
            tree.predict_proba_bits(&v, None, n, &mut p).unwrap();
            tree.predict_proba_csr(&off, &idx, n, &mut p).unwrap();
            tree.predict(&x, n, &mut l).unwrap();
            tree.predict_proba(&x, n, &mut p).unwrap();
            tree.predict(&xf, n, &mut l).unwrap();
            tree.predict_proba(&xf, n, &mut p).unwrap();
            let _ = tree.leaf_index(&x[..nf]);
            let _ = tree.leaf(&xf[..nf]);
            assert_eq!(allocs() - before, 0, "{} with {n} rows", g.name);
        }
    }
}

/// Load times with native code (not a check; `cargo test --features native --test native --
/// --ignored --nocapture load_times`).
#[test]
#[ignore]
fn load_times() {
    let mut trees = families::issue12_trees(12);
    trees.push(gen::dense_unlimited());
    let chains = [(4094u32, 1u32), (2000, 4), (1000, 1)];
    for g in &trees {
        let t0 = std::time::Instant::now();
        let mut m =
            Model::from_bytes_with(&g.bytes, OpenOptions::default().interpret(true)).unwrap();
        let t1 = t0.elapsed();
        m.force_native();
        let t2 = t0.elapsed();
        println!(
            "{}: {} nodes, depth {}: load {:?}, native {:?}, {} bytes",
            g.name,
            g.n_nodes(),
            g.depth(),
            t1,
            t2 - t1,
            m.native_code_len()
        );
    }
    for (d, sub) in chains {
        let bytes = chain(d, sub, 300);
        let t0 = std::time::Instant::now();
        let mut m = Model::from_bytes_with(&bytes, OpenOptions::default().interpret(true)).unwrap();
        let t1 = t0.elapsed();
        m.force_native();
        let t2 = t0.elapsed();
        println!(
            "chain {d}/{sub}: {} nodes: load {:?}, native {:?}, {} bytes",
            m.n_nodes(),
            t1,
            t2 - t1,
            m.native_code_len()
        );
    }
}
