//! C entry points for wide inputs: bit-packed rows and sparse (CSR) rows, plus the kernel query.
//! Same conventions as [`crate::ffi`]: status codes, `err` written only on failure, NULL /
//! shape / length / alignment errors write no output, panics become `TT_ERR_PANIC`.

use crate::error::{Error, Result, Status};
use crate::ffi::{aligned, guard, model_ref, named, null, tt_error, tt_model};
use crate::model::Model;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// `count` elements of `T` starting at `p` as a slice, after the NULL / alignment / size checks.
///
/// Like `ffi::predict_args`, this trusts the C API contract: a non-null `p` points to `count`
/// readable elements.
fn input<'a, T>(p: *const T, count: usize, what: &str) -> Result<&'a [T]> {
    if p.is_null() {
        return Err(null(what));
    }
    aligned(p, what)?;
    if count
        .checked_mul(std::mem::size_of::<T>())
        .map_or(true, |b| b > isize::MAX as usize)
    {
        return Err(Error::new(
            Status::Shape,
            format!("`{what}` would hold {count} values, which overflows"),
        ));
    }
    // SAFETY: non-null, aligned, size fits isize, and `count` readable values per the contract.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// The output slice of `n_rows * per_row` values, checked against `out_len`.
///
/// Trusts the C API contract: a non-null `out` points to `out_len` writable values that do not
/// alias the inputs.
fn output<'a, O>(
    out: *mut O,
    out_len: usize,
    n_rows: usize,
    per_row: usize,
) -> Result<&'a mut [O]> {
    if out.is_null() {
        return Err(null("out"));
    }
    aligned(out as *const O, "out")?;
    let n_out = n_rows
        .checked_mul(per_row)
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<O>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .ok_or_else(|| {
            Error::new(
                Status::Shape,
                format!("output size for {n_rows} rows overflows"),
            )
        })?;
    if out_len < n_out {
        return Err(Error::new(
            Status::Length,
            format!("out_len is {out_len}, the call needs {n_out} ({n_rows} rows x {per_row})"),
        ));
    }
    // SAFETY: non-null, aligned, and at least n_out <= out_len writable values (contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(out, n_out) })
}

fn check_cols(model: &Model, n_cols: usize) -> Result<()> {
    if n_cols != model.n_features() {
        return Err(Error::new(
            Status::Shape,
            format!(
                "n_cols is {n_cols}, the model expects {} features",
                model.n_features()
            ),
        ));
    }
    Ok(())
}

/// The input and optional mask of a bit-packed call.
#[allow(clippy::type_complexity)]
fn bits_args<'a>(
    model: &Model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
) -> Result<(&'a [u64], Option<&'a [u64]>)> {
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
    // The C contract gives n_rows * ceil(n_cols / 64) readable words in x (and missing).
    let xs = input(x, words, "x")?;
    let ms = if missing.is_null() {
        None
    } else {
        Some(input(missing, words, "missing")?)
    };
    Ok((xs, ms))
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
pub extern "C" fn tt_predict_bits(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        let model = model_ref(m)?;
        if out_labels.is_null() {
            return Err(null("out"));
        }
        // Output first, so that a call whose out_len is too short for n_rows fails before the
        // inputs (sized by n_rows) are touched. The C contract gives out_len writable values.
        let out = output(out_labels, out_len, n_rows, 1)?;
        let (xs, ms) = bits_args(model, x, missing, n_rows, n_cols)?;
        model.tree().predict_bits(xs, ms, n_rows, out)
    })
}

/// `tt_predict_bits` returning class probabilities: `n_rows * 2` doubles, row-major
/// (`out[2r]` = P(class 0), `out[2r+1]` = P(class 1)).
#[no_mangle]
#[must_use]
pub extern "C" fn tt_predict_proba_bits(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        let model = model_ref(m)?;
        if out.is_null() {
            return Err(null("out"));
        }
        // Output first, so that a call whose out_len is too short for n_rows fails before the
        // inputs (sized by n_rows) are touched. The C contract gives out_len writable values.
        let os = output(out, out_len, n_rows, 2)?;
        let (xs, ms) = bits_args(model, x, missing, n_rows, n_cols)?;
        model.tree().predict_proba_bits(xs, ms, n_rows, os)
    })
}

fn csr_args<'a>(
    model: &Model,
    row_offsets: *const usize,
    indices: *const u32,
    n_indices: usize,
    n_rows: usize,
    n_cols: usize,
) -> Result<(&'a [usize], &'a [u32])> {
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
    // The C contract gives n_rows + 1 readable offsets and n_indices readable indices.
    let offs = input(row_offsets, n_off, "row_offsets")?;
    let idx = input(indices, n_indices, "indices")?;
    Ok((offs, idx))
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
pub extern "C" fn tt_predict_csr(
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
    guard(err, || {
        let model = model_ref(m)?;
        if out_labels.is_null() {
            return Err(null("out"));
        }
        // Output first, so that a call whose out_len is too short for n_rows fails before the
        // inputs (sized by n_rows) are touched. The C contract gives out_len writable values.
        let out = output(out_labels, out_len, n_rows, 1)?;
        let (offs, idx) = csr_args(model, row_offsets, indices, n_indices, n_rows, n_cols)?;
        model
            .tree()
            .predict_csr(offs, idx, n_rows, out)
            .map_err(|e| named(model, e))
    })
}

/// `tt_predict_csr` returning class probabilities (`n_rows * 2` doubles, row-major).
#[no_mangle]
#[must_use]
pub extern "C" fn tt_predict_proba_csr(
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
    guard(err, || {
        let model = model_ref(m)?;
        if out.is_null() {
            return Err(null("out"));
        }
        // Output first, so that a call whose out_len is too short for n_rows fails before the
        // inputs (sized by n_rows) are touched. The C contract gives out_len writable values.
        let os = output(out, out_len, n_rows, 2)?;
        let (offs, idx) = csr_args(model, row_offsets, indices, n_indices, n_rows, n_cols)?;
        model
            .tree()
            .predict_proba_csr(offs, idx, n_rows, os)
            .map_err(|e| named(model, e))
    })
}

/// The traversal kernel chosen for this model from its shape at load time, as a static string:
/// "branch-free" (dense, balanced trees: rows walked 8 at a time with mask-selected children)
/// or "branchy" (deep chain-like trees such as one-hot sketch trees). Results never depend on
/// it. NULL for NULL.
#[no_mangle]
pub extern "C" fn tt_model_kernel(m: *const tt_model) -> *const c_char {
    catch_unwind(AssertUnwindSafe(|| match model_ref(m) {
        Ok(model) => match model.tree().kernel() {
            crate::traverse::Kernel::Branchy => c"branchy".as_ptr(),
            crate::traverse::Kernel::BranchFree => c"branch-free".as_ptr(),
        },
        Err(_) => std::ptr::null(),
    }))
    .unwrap_or(std::ptr::null())
}
