//! The native-code kernel's generator, fuzzed like the loader: bytes that load as a model (raw
//! images, or trees built by the generator from the bytes) get native code forced whatever the
//! kernel choice, and every row derived from the rest of the input (valid, missing, -0.0 and
//! invalid cells, int8 and f64; bit-packed rows with and without a missing mask) must give the
//! interpreter's answer bit for bit: labels, probabilities, leaves and the first invalid cell
//! (row, column, message).
#![no_main]
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use thetatree::traverse::{Cell, Kernel};
use thetatree::{Model, OpenOptions};
use thetatree_fuzz::*;

const MAX_ROWS: usize = 24;

fn same<T: Cell>(native: &Model, interp: &Model, x: &[T], n: usize) {
    let (tn, ti) = (native.tree(), interp.tree());
    let (mut ln, mut li) = (vec![-3i32; n], vec![-3i32; n]);
    let (a, b) = (tn.predict(x, n, &mut ln), ti.predict(x, n, &mut li));
    assert_eq!(
        a.as_ref().map_err(|e| (e.status, e.row, e.column, e.message.clone())),
        b.as_ref().map_err(|e| (e.status, e.row, e.column, e.message.clone()))
    );
    assert_eq!(ln, li);
    let (mut pn, mut pi) = (vec![-3f64; 2 * n], vec![-3f64; 2 * n]);
    let (a, b) = (tn.predict_proba(x, n, &mut pn), ti.predict_proba(x, n, &mut pi));
    assert_eq!(a.is_ok(), b.is_ok());
    let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&pn), bits(&pi));
    let nf = native.n_features();
    if nf > 0 {
        for row in x.chunks(nf) {
            assert_eq!(tn.leaf_index(row), ti.leaf_index(row));
        }
    }
}

/// Bit-packed rows (native code without a mask, the interpreter with one): labels, leaves and
/// probabilities as the interpreter gives them.
fn same_bits(native: &Model, interp: &Model, v: &[u64], mask: Option<&[u64]>, n: usize) {
    let (tn, ti) = (native.tree(), interp.tree());
    let (mut ln, mut li) = (vec![-3i32; n], vec![-3i32; n]);
    tn.predict_bits(v, mask, n, &mut ln).expect("well-formed bit-packed call");
    ti.predict_bits(v, mask, n, &mut li).expect("well-formed bit-packed call");
    assert_eq!(ln, li);
    tn.predict_leaf_bits(v, mask, n, &mut ln).expect("well-formed bit-packed call");
    ti.predict_leaf_bits(v, mask, n, &mut li).expect("well-formed bit-packed call");
    assert_eq!(ln, li);
    let (mut pn, mut pi) = (vec![-3f64; 2 * n], vec![-3f64; 2 * n]);
    tn.predict_proba_bits(v, mask, n, &mut pn).expect("well-formed bit-packed call");
    ti.predict_proba_bits(v, mask, n, &mut pi).expect("well-formed bit-packed call");
    let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&pn), bits(&pi));
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let bytes = if u.ratio(1u8, 4u8)? {
        // A raw image: whatever the fuzzer's bytes say (mostly refused by the validator).
        let len = u.int_in_range(0usize..=u.len())?;
        u.bytes(len)?.to_vec()
    } else {
        thetatree::format::encode(&gen_spec(&mut u)?)
    };
    let Ok(mut native) = Model::from_bytes(&bytes) else {
        return Ok(());
    };
    let interp = Model::from_bytes_with(&bytes, OpenOptions::default().interpret(true))
        .expect("a model that loads loads without native code too");
    assert_eq!(interp.native_code_len(), 0);
    if !native.force_native() {
        // Only a lone leaf (nothing to compile) or the node cap refuse on x86_64.
        assert!(native.n_nodes() == 1 || native.n_nodes() > thetatree::traverse::NATIVE_MAX_NODES);
        return Ok(());
    }
    assert_eq!(native.tree().kernel(), Kernel::Native);
    let nf = native.n_features();
    let n = u.int_in_range(0..=MAX_ROWS)?;
    let xf = cells(&mut u, n * nf);
    same(&native, &interp, &xf, n);
    same(&native, &interp, &to_i8(&xf), n);
    // Raw int8 bytes, every value possible.
    let raw: Vec<i8> = (0..n * nf).map(|_| u.arbitrary::<i8>().unwrap_or(0)).collect();
    same(&native, &interp, &raw, n);
    // Raw f64 bit patterns.
    let rawf: Vec<f64> = (0..n * nf)
        .map(|_| f64::from_bits(u.arbitrary::<u64>().unwrap_or(0)))
        .collect();
    same(&native, &interp, &rawf, n);
    // Raw bit-packed words, padding bits past n_features included.
    let words = n * native.tree().words_per_row();
    let word = |u: &mut Unstructured| u.arbitrary::<u64>().unwrap_or(0);
    let v: Vec<u64> = (0..words).map(|_| word(&mut u)).collect();
    let m: Vec<u64> = (0..words).map(|_| word(&mut u)).collect();
    same_bits(&native, &interp, &v, None, n);
    same_bits(&native, &interp, &v, Some(&m), n);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
