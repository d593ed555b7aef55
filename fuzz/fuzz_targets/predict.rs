//! A valid model, then arbitrary call shapes and values through `tt_predict`,
//! `tt_predict_proba` and their `_f64` variants: bogus n_rows / n_cols / out_len, misaligned
//! pointers, invalid cells. The harness keeps its side of the contract (buffers hold what it
//! claims); the library must refuse every inconsistent call with the documented code without
//! touching the output, and otherwise agree with the reference walk.
#![no_main]
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use thetatree::error::code::*;
use thetatree::ffi::*;
use thetatree_fuzz::*;

const MAX_ROWS: usize = 40;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Labels,
    Proba,
    LabelsF64,
    ProbaF64,
}

fn call(u: &mut Unstructured, model: *const tt_model, bytes: &[u8], nf: usize) -> Result<()> {
    let kind = *u.choose(&[Kind::Labels, Kind::Proba, Kind::LabelsF64, Kind::ProbaF64])?;
    let per_row = match kind {
        Kind::Labels | Kind::LabelsF64 => 1,
        _ => 2,
    };
    let n_rows: usize = if u.ratio(7u8, 8u8)? {
        u.int_in_range(0..=MAX_ROWS)?
    } else {
        *u.choose(&[
            usize::MAX,
            usize::MAX / 2,
            (usize::MAX / nf.max(1)).wrapping_add(1),
            isize::MAX as usize / 8 + 1,
            1 << 40,
            MAX_ROWS + 1,
        ])?
    };
    let n_cols: usize = if u.ratio(7u8, 8u8)? {
        nf
    } else {
        *u.choose(&[0, nf + 1, nf.wrapping_sub(1), usize::MAX, 1 << 33])?
    };
    let rows_alloc = n_rows.min(MAX_ROWS);
    let out_cap = rows_alloc * per_row; // claims never exceed what is allocated
    let out_len = if u.ratio(3u8, 4u8)? {
        out_cap
    } else {
        u.int_in_range(0..=out_cap)?
    };
    let x_shift = if u.ratio(1u8, 6u8)? { u.int_in_range(1usize..=7)? } else { 0 };
    let out_shift = if u.ratio(1u8, 6u8)? { u.int_in_range(1usize..=7)? } else { 0 };
    let cells = cells(u, rows_alloc * nf);

    // The documented argument checks, in order.
    let f64_input = matches!(kind, Kind::LabelsF64 | Kind::ProbaF64);
    let x_misaligned = f64_input && x_shift % 8 != 0;
    let out_align = if per_row == 1 { 4 } else { 8 };
    let out_misaligned = out_shift % out_align != 0;
    let in_size = if f64_input { 8 } else { 1 };
    let out_size = if per_row == 1 { 4 } else { 8 };
    let expected_arg_error = if x_misaligned || out_misaligned {
        Some(TT_ERR_ALIGNMENT)
    } else if n_cols != nf
        || n_rows
            .checked_mul(n_cols)
            .and_then(|n| n.checked_mul(in_size))
            .is_none_or(|b| b > isize::MAX as usize)
        || n_rows
            .checked_mul(per_row)
            .and_then(|n| n.checked_mul(out_size))
            .is_none_or(|b| b > isize::MAX as usize)
    {
        Some(TT_ERR_SHAPE)
    } else if out_len < n_rows * per_row {
        Some(TT_ERR_LENGTH)
    } else {
        None
    };

    // Buffers: 8-aligned storage with room for the shifts.
    let mut xs = vec![0u64; rows_alloc * nf + 2];
    // SAFETY: a u64 buffer viewed as its bytes (u8 has no alignment or validity needs).
    let xb: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(xs.as_mut_ptr().cast(), xs.len() * 8) };
    if f64_input {
        for (k, v) in cells.iter().enumerate() {
            xb[x_shift + 8 * k..x_shift + 8 * k + 8].copy_from_slice(&v.to_ne_bytes());
        }
    } else {
        for (k, v) in to_i8(&cells).iter().enumerate() {
            xb[x_shift + k] = *v as u8;
        }
    }
    // SAFETY: x_shift < 8 < the buffer's length (two spare words).
    let x_ptr = unsafe { xb.as_ptr().add(x_shift) };
    let mut os = vec![0xA5A5_A5A5_A5A5_A5A5u64; out_cap + 2];
    // SAFETY: as for `xb`.
    let ob: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(os.as_mut_ptr().cast(), os.len() * 8) };
    let before = ob.to_vec();
    // SAFETY: out_shift < 8 < the buffer's length (two spare words).
    let out_ptr = unsafe { ob.as_mut_ptr().add(out_shift) };
    let mut err = zero_err();
    let rc = match kind {
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Kind::Labels => unsafe { tt_predict(model, x_ptr.cast(), n_rows, n_cols, out_ptr.cast(), out_len, &mut err) },
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Kind::Proba => unsafe { tt_predict_proba(model, x_ptr.cast(), n_rows, n_cols, out_ptr.cast(), out_len, &mut err) },
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Kind::LabelsF64 => unsafe { tt_predict_f64(model, x_ptr.cast(), n_rows, n_cols, out_ptr.cast(), out_len, &mut err) },
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Kind::ProbaF64 => unsafe { tt_predict_proba_f64(model, x_ptr.cast(), n_rows, n_cols, out_ptr.cast(), out_len, &mut err) },
    };
    if let Some(code) = expected_arg_error {
        assert_eq!(rc, code, "{kind:?} n_rows={n_rows} n_cols={n_cols} out_len={out_len}");
        assert_eq!(&ob[..], &before[..], "a refused call wrote output");
        return Ok(());
    }
    // A consistent call: compare with the reference walk, row by row.
    let n = n_rows;
    let mut first_bad = None;
    for r in 0..n {
        let w = reference_walk(bytes, &cells[r * nf..(r + 1) * nf]);
        match w {
            Walk::Invalid { column } => {
                first_bad = Some((r, column));
                break;
            }
            Walk::Leaf { label, p } => {
                let at = out_shift + r * per_row * out_size;
                if per_row == 1 {
                    let got = i32::from_ne_bytes(ob[at..at + 4].try_into().unwrap());
                    assert_eq!(got, label, "row {r}");
                } else {
                    let p0 = u64::from_ne_bytes(ob[at..at + 8].try_into().unwrap());
                    let p1 = u64::from_ne_bytes(ob[at + 8..at + 16].try_into().unwrap());
                    assert_eq!([p0, p1], p, "row {r}");
                }
            }
        }
    }
    match first_bad {
        None => assert_eq!(rc, TT_OK),
        Some((r, c)) => {
            assert_eq!(rc, TT_ERR_INPUT_VALUE);
            assert_eq!((err.row, err.column), (r as i64, c as i64));
        }
    }
    // Nothing past the rows the call covers was written.
    let end = out_shift + n_rows * per_row * out_size;
    assert_eq!(&ob[end..], &before[end..], "wrote past the output rows");
    assert_eq!(&ob[..out_shift], &before[..out_shift]);
    Ok(())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let spec = gen_spec(&mut u)?;
    let bytes = thetatree::format::encode(&spec);
    let nf = spec.feature_names.len();
    let borrow = u.arbitrary::<bool>()?;
    let flags = if borrow { TT_LOAD_BORROW } else { 0 };
    let mut m: *mut tt_model = std::ptr::null_mut();
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_load_bytes(bytes.as_ptr(), bytes.len(), flags, &mut m, std::ptr::null_mut()) }, TT_OK);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_n_features(m) }, nf);
    let calls = u.int_in_range(1u8..=6)?;
    let mut result = Ok(());
    for _ in 0..calls {
        result = call(&mut u, m, &bytes, nf);
        if result.is_err() {
            break;
        }
    }
    // NULL model and NULL pointers are refused.
    let mut l = [0i32; 1];
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_predict(std::ptr::null(), [0i8].as_ptr(), 1, nf, l.as_mut_ptr(), 1, std::ptr::null_mut()) }, TT_ERR_NULL_ARG);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_predict(m, std::ptr::null(), 1, nf, l.as_mut_ptr(), 1, std::ptr::null_mut()) }, TT_ERR_NULL_ARG);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
    result
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
