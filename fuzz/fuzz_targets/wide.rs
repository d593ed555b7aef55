//! A valid model, then arbitrary bit-packed and CSR calls: bogus n_rows / n_cols / out_len,
//! misaligned pointers, optional missing masks, and CSR structures that are often broken
//! (decreasing offsets, offsets past the indices, unsorted, duplicate or out-of-range indices).
//! The harness keeps its side of the contract (every buffer holds what the call may read);
//! the library must refuse bad calls with one of the applicable codes and write nothing, report
//! a broken CSR structure exactly (code, row, column), and otherwise agree bit for bit with the
//! reference walk on the equivalent dense row.
#![no_main]
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use thetatree::error::code::*;
use thetatree::ffi::*;
use thetatree_fuzz::*;

const MAX_ROWS: usize = 24;
const FILL: u64 = 0xA5A5_A5A5_A5A5_A5A5;

fn bogus_rows(u: &mut Unstructured) -> Result<usize> {
    Ok(if u.ratio(7u8, 8u8)? {
        u.int_in_range(0..=MAX_ROWS)?
    } else {
        *u.choose(&[usize::MAX, usize::MAX / 2, isize::MAX as usize / 4 + 1, 1 << 40, MAX_ROWS + 1])?
    })
}

fn bogus_cols(u: &mut Unstructured, nf: usize) -> Result<usize> {
    Ok(if u.ratio(7u8, 8u8)? {
        nf
    } else {
        *u.choose(&[0, nf + 1, nf.wrapping_sub(1), usize::MAX, 1 << 33])?
    })
}

/// An 8-aligned output area of `cap` values of 8 bytes (room for a shift) and a pointer into
/// it `shift` bytes in.
struct Out {
    buf: Vec<u64>,
    shift: usize,
}

impl Out {
    fn new(u: &mut Unstructured, cap: usize) -> Result<Out> {
        let shift = if u.ratio(1u8, 8u8)? { u.int_in_range(1usize..=7)? } else { 0 };
        Ok(Out { buf: vec![FILL; cap + 2], shift })
    }
    fn ptr<T>(&mut self) -> *mut T {
        // The shift stays within the buffer's first word.
        self.buf.as_mut_ptr().cast::<u8>().wrapping_add(self.shift).cast()
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: a u64 buffer viewed as its bytes.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast(), self.buf.len() * 8) }
    }
    fn untouched(&self) -> bool {
        self.buf.iter().all(|&w| w == FILL)
    }
    /// Check rows `0..n` against the expected walks; nothing past them may be written.
    fn check(&self, per_row: usize, want: &[Walk]) {
        let b = self.bytes();
        let size = if per_row == 1 { 4 } else { 8 };
        for (r, w) in want.iter().enumerate() {
            let at = self.shift + r * per_row * size;
            let Walk::Leaf { label, p } = w else { panic!("sparse rows cannot be invalid") };
            if per_row == 1 {
                assert_eq!(i32::from_ne_bytes(b[at..at + 4].try_into().unwrap()), *label, "row {r}");
            } else {
                let p0 = u64::from_ne_bytes(b[at..at + 8].try_into().unwrap());
                let p1 = u64::from_ne_bytes(b[at + 8..at + 16].try_into().unwrap());
                assert_eq!([p0, p1], *p, "row {r}");
            }
        }
        let end = self.shift + want.len() * per_row * size;
        assert!(b[end..].iter().all(|&x| x == 0xA5), "wrote past the rows");
        assert!(b[..self.shift].iter().all(|&x| x == 0xA5), "wrote before the output");
    }
}

/// The codes an inconsistent call may return (the checks' order is not part of the contract).
fn arg_errors(n_rows: usize, n_cols: usize, nf: usize, per_row: usize, out_len: usize, misaligned: bool, in_words: Option<usize>) -> Vec<i32> {
    let mut e = Vec::new();
    if misaligned {
        e.push(TT_ERR_ALIGNMENT);
    }
    let size = if per_row == 1 { 4 } else { 8 };
    let out_ok = n_rows
        .checked_mul(per_row)
        .and_then(|n| n.checked_mul(size))
        .is_some_and(|b| b <= isize::MAX as usize);
    if n_cols != nf || !out_ok || in_words.is_none() {
        e.push(TT_ERR_SHAPE);
    }
    if out_ok && out_len < n_rows * per_row {
        e.push(TT_ERR_LENGTH);
    }
    e
}

fn bits_call(u: &mut Unstructured, m: *const tt_model, model: &[u8], nf: usize) -> Result<()> {
    let proba = u.arbitrary::<bool>()?;
    let per_row = if proba { 2 } else { 1 };
    let n_rows = bogus_rows(u)?;
    let n_cols = bogus_cols(u, nf)?;
    let rows = n_rows.min(MAX_ROWS);
    let wpr = nf.div_ceil(64);
    let x: Vec<u64> = (0..rows * wpr).map(|_| u.arbitrary()).collect::<Result<_>>()?;
    let mask: Option<Vec<u64>> = if u.arbitrary()? {
        // Sparse masks: a few missing features per row.
        Some((0..rows * wpr).map(|_| Ok(u.arbitrary::<u64>()? & u.arbitrary::<u64>()? & u.arbitrary::<u64>()?)).collect::<Result<_>>()?)
    } else {
        None
    };
    // A misaligned input: the same words one byte in, in a bigger buffer.
    let x_mis = u.ratio(1u8, 10u8)?;
    let mut x_store = vec![0u64; x.len() + 1];
    x_store[..x.len()].copy_from_slice(&x);
    let x_ptr: *const u64 = if x_mis { x_store.as_ptr().cast::<u8>().wrapping_add(1).cast() } else { x_store.as_ptr() };
    let out_len = if u.ratio(3u8, 4u8)? { rows * per_row } else { u.int_in_range(0..=rows * per_row)? };
    let mut out = Out::new(u, rows * per_row)?;
    let out_mis = out.shift % if per_row == 1 { 4 } else { 8 } != 0;
    let words = n_rows.checked_mul(n_cols.div_ceil(64)).filter(|w| w.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize));
    let bad = arg_errors(n_rows, n_cols, nf, per_row, out_len, x_mis || out_mis, words);
    let mask_ptr = mask.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
    let mut err = zero_err();
    let rc = if proba {
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba_bits(m, x_ptr, mask_ptr, n_rows, n_cols, out.ptr(), out_len, &mut err) }
    } else {
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_bits(m, x_ptr, mask_ptr, n_rows, n_cols, out.ptr(), out_len, &mut err) }
    };
    if !bad.is_empty() {
        assert!(bad.contains(&rc), "bits: got {rc}, expected one of {bad:?}");
        assert_eq!(err.code, rc);
        assert!(out.untouched(), "a refused call wrote output");
        return Ok(());
    }
    assert_eq!(rc, TT_OK);
    let want: Vec<Walk> = (0..n_rows)
        .map(|r| {
            let row: Vec<f64> = (0..nf)
                .map(|j| {
                    let bit = |v: &[u64]| (v[r * wpr + j / 64] >> (j % 64)) & 1 == 1;
                    if mask.as_deref().is_some_and(bit) {
                        f64::NAN
                    } else if bit(&x) {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            reference_walk(model, &row)
        })
        .collect();
    out.check(per_row, &want);
    Ok(())
}

fn csr_call(u: &mut Unstructured, m: *const tt_model, model: &[u8], nf: usize) -> Result<()> {
    let proba = u.arbitrary::<bool>()?;
    let per_row = if proba { 2 } else { 1 };
    let n_rows = bogus_rows(u)?;
    let n_cols = bogus_cols(u, nf)?;
    let rows = n_rows.min(MAX_ROWS);
    // Mostly well-formed rows: sorted distinct indices < nf; sometimes a deliberate break.
    let base = u.int_in_range(0usize..=3)?;
    let mut idx: Vec<u32> = (0..base).map(|_| u.arbitrary()).collect::<Result<_>>()?;
    let mut off = vec![base];
    for _ in 0..rows {
        let k = u.int_in_range(0usize..=6)?;
        let mut row: Vec<u32> = (0..k).map(|_| Ok(u.int_in_range(0..=nf.max(1) as u32 - 1)?)).collect::<Result<_>>()?;
        row.sort_unstable();
        row.dedup();
        idx.extend(row);
        off.push(idx.len());
    }
    if u.ratio(1u8, 4u8)? && !idx.is_empty() {
        // Break one index or one offset.
        match u.int_in_range(0u8..=3)? {
            0 => {
                let k = u.choose_index(idx.len())?;
                idx[k] = u.arbitrary()?;
            }
            1 => {
                let k = u.choose_index(idx.len())?;
                idx[k] = nf as u32;
            }
            2 => {
                let k = u.choose_index(off.len())?;
                off[k] = u.int_in_range(0..=idx.len() + 200)?;
            }
            _ => {
                let k = u.choose_index(idx.len())?;
                if k > 0 {
                    idx[k] = idx[k - 1];
                }
            }
        }
    }
    let n_indices = if u.ratio(7u8, 8u8)? { idx.len() } else { u.int_in_range(0..=idx.len())? };
    let idx_mis = u.ratio(1u8, 12u8)?;
    let off_mis = u.ratio(1u8, 12u8)?;
    let mut idx_store = vec![0u32; idx.len() + 1];
    idx_store[..idx.len()].copy_from_slice(&idx);
    let mut off_store = vec![0usize; off.len() + 1];
    off_store[..off.len()].copy_from_slice(&off);
    let idx_ptr: *const u32 = if idx_mis { idx_store.as_ptr().cast::<u8>().wrapping_add(1).cast() } else { idx_store.as_ptr() };
    let off_ptr: *const usize = if off_mis { off_store.as_ptr().cast::<u8>().wrapping_add(3).cast() } else { off_store.as_ptr() };
    let out_len = if u.ratio(3u8, 4u8)? { rows * per_row } else { u.int_in_range(0..=rows * per_row)? };
    let mut out = Out::new(u, rows * per_row)?;
    let out_mis = out.shift % if per_row == 1 { 4 } else { 8 } != 0;
    let offs_ok = n_rows.checked_add(1).filter(|n| n.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize));
    let bad = arg_errors(n_rows, n_cols, nf, per_row, out_len, idx_mis || off_mis || out_mis, offs_ok);
    let mut err = zero_err();
    let rc = if proba {
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba_csr(m, off_ptr, idx_ptr, n_indices, n_rows, n_cols, out.ptr(), out_len, &mut err) }
    } else {
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_csr(m, off_ptr, idx_ptr, n_indices, n_rows, n_cols, out.ptr(), out_len, &mut err) }
    };
    if !bad.is_empty() {
        assert!(bad.contains(&rc), "csr: got {rc}, expected one of {bad:?}");
        assert_eq!(err.code, rc);
        assert!(out.untouched(), "a refused call wrote output");
        return Ok(());
    }
    // The arguments are consistent: the structure decides, before anything is written.
    let expect = if off[n_rows] > n_indices {
        Some((TT_ERR_LENGTH, -1, -1))
    } else if let Some(r) = off.windows(2).position(|w| w[0] > w[1]) {
        Some((TT_ERR_SHAPE, r as i64, -1))
    } else {
        (0..n_rows).find_map(|r| {
            let row = &idx[off[r]..off[r + 1]];
            row.iter().enumerate().find_map(|(k, &j)| {
                let broken = j as usize >= nf || (k > 0 && row[k - 1] >= j);
                broken.then_some((TT_ERR_SHAPE, r as i64, j as i64))
            })
        })
    };
    if let Some((code, row, column)) = expect {
        assert_eq!(rc, code, "csr structure: {:?}", std::str::from_utf8(&err.message.map(|c| c as u8)));
        if code == TT_ERR_SHAPE {
            assert_eq!((err.row, err.column), (row, column));
        }
        assert!(out.untouched(), "a refused call wrote output");
        return Ok(());
    }
    assert_eq!(rc, TT_OK);
    let want: Vec<Walk> = (0..n_rows)
        .map(|r| {
            let mut row = vec![0.0; nf];
            for &j in &idx[off[r]..off[r + 1]] {
                row[j as usize] = 1.0;
            }
            reference_walk(model, &row)
        })
        .collect();
    out.check(per_row, &want);
    Ok(())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let spec = gen_spec(&mut u)?;
    let bytes = thetatree::format::encode(&spec);
    let nf = spec.feature_names.len();
    let mut m: *mut tt_model = std::ptr::null_mut();
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_load_bytes(bytes.as_ptr(), bytes.len(), 0, &mut m, std::ptr::null_mut()) }, TT_OK);
    let calls = u.int_in_range(1u8..=6)?;
    let mut result = Ok(());
    for _ in 0..calls {
        result = if u.arbitrary()? { bits_call(&mut u, m, &bytes, nf) } else { csr_call(&mut u, m, &bytes, nf) };
        if result.is_err() {
            break;
        }
    }
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
    result
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
