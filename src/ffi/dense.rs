//! Predictions on dense rows: int8 (0, 1, -1 missing) or double (0.0, 1.0, NaN missing) cells.

use super::args::{aligned, check_cols, guard, input, model_ref, named, null, output};
use super::{tt_error, tt_model};
use crate::error::{Error, Result, Status};
use crate::model::Model;
use crate::traverse::Cell;

/// Validate a predict call's arguments and return the input and output slices. The order of
/// the checks is part of the contract the fuzz target `predict` checks: NULLs, alignment,
/// shape, then lengths; no slice is made before all of them passed.
///
/// # Safety
/// The header's contract for a predict call: `m` NULL or a live model; `x` NULL or readable for
/// `n_rows * n_cols` values; `out` NULL or writable for `out_len` values, not aliasing `x`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn predict_args<'a, T: Cell, O>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut O,
    out_len: usize,
    per_row: usize,
) -> Result<(&'a Model, &'a [T], &'a mut [O])> {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(m)? };
    if x.is_null() {
        return Err(null("x"));
    }
    if out.is_null() {
        return Err(null("out"));
    }
    aligned(x, "x")?;
    aligned(out as *const O, "out")?;
    check_cols(model, n_cols)?;
    let n_in = n_rows
        .checked_mul(n_cols)
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .ok_or_else(|| {
            Error::new(
                Status::Shape,
                format!("n_rows {n_rows} * n_cols {n_cols} overflows"),
            )
        })?;
    // SAFETY: this function's contract; n_in = n_rows * n_cols (size checked above).
    let (os, xs) = unsafe { (output(out, out_len, n_rows, per_row)?, input(x, n_in, "x")?) };
    Ok((model, xs, os))
}

/// # Safety
/// As for [`predict_args`].
unsafe fn run_predict<T: Cell>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut i32,
    out_len: usize,
) -> Result<()> {
    // SAFETY: this function's contract.
    let (model, xs, os) = unsafe { predict_args(m, x, n_rows, n_cols, out, out_len, 1)? };
    model
        .tree()
        .predict(xs, n_rows, os)
        .map_err(|e| named(model, e))
}

/// # Safety
/// As for [`predict_args`].
unsafe fn run_proba<T: Cell>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
) -> Result<()> {
    // SAFETY: this function's contract.
    let (model, xs, os) = unsafe { predict_args(m, x, n_rows, n_cols, out, out_len, 2)? };
    model
        .tree()
        .predict_proba(xs, n_rows, os)
        .map_err(|e| named(model, e))
}

/// Predict class labels (0 or 1) for `n_rows` row-major rows of `n_cols` int8 values each:
/// 0 = absent, 1 = present, -1 = missing (goes to the child with more training samples).
/// `out_labels` must hold at least `n_rows` values. Any other value fails with
/// `TT_ERR_INPUT_VALUE` naming its row and column; values are checked where the traversal reads
/// them, so on that error the labels of earlier rows may already be written.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict(
    m: *const tt_model,
    x: *const i8,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe {
        guard(err, || {
            run_predict(m, x, n_rows, n_cols, out_labels, out_len)
        })
    }
}

/// Predict class probabilities: writes `n_rows * n_classes` doubles, row-major
/// (`out[2r]` = P(class 0), `out[2r+1]` = P(class 1)). Input and errors as `tt_predict`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_proba(
    m: *const tt_model,
    x: *const i8,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe { guard(err, || run_proba(m, x, n_rows, n_cols, out, out_len)) }
}

/// `tt_predict` for double input: 0.0 (or -0.0) = absent, 1.0 = present, NaN = missing.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_f64(
    m: *const tt_model,
    x: *const f64,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe {
        guard(err, || {
            run_predict(m, x, n_rows, n_cols, out_labels, out_len)
        })
    }
}

/// `tt_predict_proba` for double input (0.0, 1.0, NaN = missing).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_proba_f64(
    m: *const tt_model,
    x: *const f64,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe { guard(err, || run_proba(m, x, n_rows, n_cols, out, out_len)) }
}
