//! What every entry point shares: the panic guard, error reporting, and the checks of pointer
//! arguments (NULL, alignment, sizes) before any slice is made from them.

use super::{tt_error, tt_model, TT_ERROR_MESSAGE_LEN, TT_OK};
use crate::error::{Error, Result, Status};
use crate::model::Model;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Fill `*err` (if not NULL) with `e`, the message truncated at a character boundary to fit.
///
/// # Safety
/// `err` is NULL or valid for writing one `tt_error` (any alignment).
pub(crate) unsafe fn write_error(err: *mut tt_error, e: &Error) {
    if err.is_null() {
        return;
    }
    let mut message = [0 as c_char; TT_ERROR_MESSAGE_LEN as usize];
    let mut n = e.message.len().min(message.len() - 1);
    while !e.message.is_char_boundary(n) {
        n -= 1;
    }
    for (d, s) in message.iter_mut().zip(&e.message.as_bytes()[..n]) {
        *d = *s as c_char;
    }
    let value = tt_error {
        code: e.status as i32,
        row: e.row,
        column: e.column,
        byte_offset: e.byte_offset,
        message,
    };
    // SAFETY: `err` is non-null and, per this function's contract, writable for one tt_error;
    // `write_unaligned` tolerates any alignment the caller gives it.
    unsafe { err.write_unaligned(value) };
}

/// Run an FFI body: map `Err` and panics to a status and fill `err`.
///
/// # Safety
/// As for [`write_error`].
pub(crate) unsafe fn guard(err: *mut tt_error, body: impl FnOnce() -> Result<()>) -> i32 {
    let e = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return TT_OK,
        Ok(Err(e)) => e,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Error::new(
                Status::Panic,
                format!("internal panic caught at the C boundary: {what}"),
            )
        }
    };
    debug_assert!(e.status != Status::Ok, "an error carries an error status");
    // SAFETY: this function's contract.
    unsafe { write_error(err, &e) };
    e.status as i32
}

/// Same as `guard` for infallible getters: a panic yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A getter's body: `get(model)`, or `fallback` for a NULL model or a panic.
///
/// # Safety
/// As for [`model_ref`].
pub(crate) unsafe fn getter<T: Copy>(
    m: *const tt_model,
    fallback: T,
    get: impl FnOnce(&Model) -> T,
) -> T {
    guard_value(fallback, || {
        // SAFETY: this function's contract.
        unsafe { model_ref(m) }.map_or(fallback, get)
    })
}

pub(crate) fn null(what: &str) -> Error {
    Error::new(Status::NullArg, format!("argument `{what}` is NULL"))
}

/// The model behind a handle; `TT_ERR_NULL_ARG` for NULL.
///
/// # Safety
/// `m` is NULL or was returned by a `tt_load*` call and is not freed during `'a`.
pub(crate) unsafe fn model_ref<'a>(m: *const tt_model) -> Result<&'a Model> {
    // SAFETY: a non-null `m` is a live model (this function's contract).
    unsafe { m.as_ref() }
        .map(|m| &m.inner)
        .ok_or_else(|| null("model"))
}

pub(crate) fn aligned<T>(p: *const T, what: &str) -> Result<()> {
    if (p as usize) % std::mem::align_of::<T>() != 0 {
        return Err(Error::new(
            Status::Alignment,
            format!(
                "`{what}` is not aligned to {} bytes",
                std::mem::align_of::<T>()
            ),
        ));
    }
    Ok(())
}

/// `count` elements of `T` starting at `p` as a slice, after the NULL / alignment / size checks.
///
/// # Safety
/// `p` is NULL or valid for reading `count` elements of `T`, unchanged during `'a`.
pub(crate) unsafe fn input<'a, T>(p: *const T, count: usize, what: &str) -> Result<&'a [T]> {
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
    // SAFETY: non-null, aligned, size fits isize, and `count` readable values (contract).
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// The output slice of `n_rows * per_row` values, checked against `out_len`.
///
/// # Safety
/// `out` is NULL or valid for writing `out_len` values of `O`, aliasing nothing else used
/// during `'a`.
pub(crate) unsafe fn output<'a, O>(
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

pub(crate) fn check_cols(model: &Model, n_cols: usize) -> Result<()> {
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

pub(crate) fn named(model: &Model, mut e: Error) -> Error {
    if e.status == Status::InputValue && e.column >= 0 {
        if let Some(name) = model.feature_name(e.column as usize) {
            e.message = format!("{} (feature '{name}')", e.message);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::TT_ERR_PANIC;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_tt_err_panic_with_its_message() {
        let mut e = std::mem::MaybeUninit::<tt_error>::zeroed();
        // SAFETY: a writable tt_error.
        let code = unsafe { guard(e.as_mut_ptr(), || panic!("boom")) };
        assert_eq!(code, TT_ERR_PANIC);
        // SAFETY: zero-initialised and then written by `guard`.
        let e = unsafe { e.assume_init() };
        assert_eq!(e.code, TT_ERR_PANIC);
        // SAFETY: `write_error` NUL-terminates the message.
        let msg = unsafe { CStr::from_ptr(e.message.as_ptr()) }
            .to_str()
            .unwrap();
        assert!(msg.contains("boom"), "{msg}");
        assert_eq!(guard_value(7, || panic!("x")), 7);
    }

    #[test]
    fn long_messages_are_truncated_at_a_char_boundary() {
        let mut e = std::mem::MaybeUninit::<tt_error>::zeroed();
        let long = "é".repeat(300);
        // SAFETY: a writable tt_error.
        unsafe { write_error(e.as_mut_ptr(), &Error::new(Status::Corrupt, long)) };
        // SAFETY: written by `write_error`.
        let e = unsafe { e.assume_init() };
        // SAFETY: `write_error` NUL-terminates the message.
        let msg = unsafe { CStr::from_ptr(e.message.as_ptr()) }
            .to_str()
            .unwrap();
        assert_eq!(msg.len(), 254, "127 two-byte characters fit in 255 bytes");
    }
}
