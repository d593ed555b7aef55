//! C entry points for wide inputs: bit-packed rows and sparse (CSR) rows, plus the kernel query.
//! Same conventions as the rest of [`crate::ffi`]: status codes, `err` written only on failure, NULL /
//! shape / length / alignment errors write no output, panics become `TT_ERR_PANIC`.

use super::args::{check_cols, getter, guard, input, model_ref, named, null, output};
use super::{tt_error, tt_model};
use crate::error::{Error, Result, Status};
use crate::traverse::{Kernel, Tree};
use std::ffi::c_char;

/// The shared body of the bit-packed calls: argument checks (output first, so that a call
/// whose `out_len` is too short for `n_rows` fails before the inputs, sized by `n_rows`, are
/// touched), then `predict` on the checked slices.
///
/// # Safety
/// The header's contract for a bit-packed call: `m` NULL or a live model; `x` (and `missing`
/// unless NULL) readable for `n_rows * ceil(n_cols / 64)` words; `out` NULL or writable for
/// `out_len` values, not aliasing the inputs.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn bits_call<O>(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out: *mut O,
    out_len: usize,
    per_row: usize,
    predict: impl FnOnce(Tree<'_>, &[u64], Option<&[u64]>, &mut [O]) -> Result<()>,
) -> Result<()> {
    // SAFETY: this function's contract.
    let (model, os) = unsafe { (model_ref(m)?, output(out, out_len, n_rows, per_row)?) };
    if x.is_null() {
        return Err(null("x"));
    }
    check_cols(model, n_cols)?;
    let wpr = n_cols.div_ceil(64);
    let words = n_rows.checked_mul(wpr).ok_or_else(|| {
        Error::new(
            Status::Shape,
            format!("n_rows {n_rows} * {wpr} words per row overflows"),
        )
    })?;
    // SAFETY: this function's contract: n_rows * ceil(n_cols / 64) readable words in x (and
    // in missing, unless NULL).
    let xs = unsafe { input(x, words, "x")? };
    let ms = if missing.is_null() {
        None
    } else {
        // SAFETY: as for `x`.
        Some(unsafe { input(missing, words, "missing")? })
    };
    predict(model.tree(), xs, ms, os)
}

/// Predict class labels for `n_rows` bit-packed rows. Each row is `ceil(n_cols / 64)` uint64
/// words; feature `j` is bit `j % 64` (least significant first) of word `j / 64`; bits past
/// `n_cols` in a row's last word are ignored. `missing` is NULL (no missing values) or a mask of
/// the same layout: a set bit marks feature `j` missing (it goes to the child with more training
/// samples) and its value bit is ignored. `n_cols` must equal `tt_n_features(m)`; `x` and
/// `missing` must be 8-byte aligned. No cell can be invalid, so the call fails only on its
/// arguments, before writing anything.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_bits(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            bits_call(
                m,
                x,
                missing,
                n_rows,
                n_cols,
                out_labels,
                out_len,
                1,
                |t, x, mask, o| t.predict_bits(x, mask, n_rows, o),
            )
        })
    }
}

/// `tt_predict_bits` returning class probabilities: `n_rows * 2` doubles, row-major
/// (`out[2r]` = P(class 0), `out[2r+1]` = P(class 1)).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_proba_bits(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            bits_call(
                m,
                x,
                missing,
                n_rows,
                n_cols,
                out,
                out_len,
                2,
                |t, x, mask, o| t.predict_proba_bits(x, mask, n_rows, o),
            )
        })
    }
}

/// The shared body of the CSR calls (checks in the order of [`bits_call`]); input-value
/// errors name the feature.
///
/// # Safety
/// The header's contract for a CSR call: `m` NULL or a live model; `row_offsets` readable for
/// `n_rows + 1` values and `indices` for `n_indices`; `out` NULL or writable for `out_len`
/// values, not aliasing the inputs.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn csr_call<O>(
    m: *const tt_model,
    row_offsets: *const usize,
    indices: *const u32,
    n_indices: usize,
    n_rows: usize,
    n_cols: usize,
    out: *mut O,
    out_len: usize,
    per_row: usize,
    predict: impl FnOnce(Tree<'_>, &[usize], &[u32], &mut [O]) -> Result<()>,
) -> Result<()> {
    // SAFETY: this function's contract.
    let (model, os) = unsafe { (model_ref(m)?, output(out, out_len, n_rows, per_row)?) };
    if row_offsets.is_null() {
        return Err(null("row_offsets"));
    }
    if indices.is_null() {
        return Err(null("indices"));
    }
    check_cols(model, n_cols)?;
    let n_off = n_rows
        .checked_add(1)
        .ok_or_else(|| Error::new(Status::Shape, format!("n_rows {n_rows} + 1 overflows")))?;
    // SAFETY: this function's contract: n_rows + 1 readable offsets, n_indices indices.
    let (offs, idx) = unsafe {
        (
            input(row_offsets, n_off, "row_offsets")?,
            input(indices, n_indices, "indices")?,
        )
    };
    predict(model.tree(), offs, idx, os).map_err(|e| named(model, e))
}

/// Predict class labels for `n_rows` sparse rows in CSR form: row `r`'s present features
/// (value 1) are `indices[row_offsets[r] .. row_offsets[r+1]]`, strictly increasing; every other
/// feature is 0 (sparse rows have no missing values). `row_offsets` holds `n_rows + 1`
/// non-decreasing entries (`row_offsets[0]` need not be 0) and `row_offsets[n_rows]` must not
/// exceed `n_indices`, the length of `indices`. The whole structure is checked before anything
/// is written: decreasing offsets, unsorted, duplicate or out-of-range (`>= n_cols`) indices fail
/// with `TT_ERR_SHAPE` naming the row (`err->row`; `err->column` = the offending index when
/// there is one); offsets past `n_indices` fail with `TT_ERR_LENGTH`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_csr(
    m: *const tt_model,
    row_offsets: *const usize,
    indices: *const u32,
    n_indices: usize,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            csr_call(
                m,
                row_offsets,
                indices,
                n_indices,
                n_rows,
                n_cols,
                out_labels,
                out_len,
                1,
                |t, offs, idx, o| t.predict_csr(offs, idx, n_rows, o),
            )
        })
    }
}

/// `tt_predict_csr` returning class probabilities (`n_rows * 2` doubles, row-major).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_proba_csr(
    m: *const tt_model,
    row_offsets: *const usize,
    indices: *const u32,
    n_indices: usize,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            csr_call(
                m,
                row_offsets,
                indices,
                n_indices,
                n_rows,
                n_cols,
                out,
                out_len,
                2,
                |t, offs, idx, o| t.predict_proba_csr(offs, idx, n_rows, o),
            )
        })
    }
}

/// The traversal kernel chosen for this model from its shape at load time, as a static string:
/// "branch-free" (dense, balanced trees: rows walked 8 at a time with mask-selected children),
/// "branchy" (deep chain-like trees such as one-hot sketch trees) or "native" (machine code
/// generated at load for such trees, in builds with the `native` feature, unless
/// `TT_LOAD_INTERPRET`). Results never depend on it. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_model_kernel(m: *const tt_model) -> *const c_char {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe {
        getter(m, std::ptr::null(), |model| match model.tree().kernel() {
            Kernel::Branchy => c"branchy".as_ptr(),
            Kernel::BranchFree => c"branch-free".as_ptr(),
            Kernel::Native => c"native".as_ptr(),
        })
    }
}
