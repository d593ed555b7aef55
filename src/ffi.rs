//! The C ABI (`include/thetatree.h` is generated from this file by cbindgen).
//!
//! Conventions, shared by every function:
//! * Fallible calls return an `int32_t` status: `TT_OK` (0) or one of the `TT_ERR_*` codes.
//! * The trailing `tt_error *err` may be NULL; it is written only on failure.
//! * Out-parameters (`*out`) are written only on success.
//! * Pointer arguments other than `err` must not be NULL (`TT_ERR_NULL_ARG`).
//! * A call with bad arguments (NULL, shape, lengths, alignment) writes no output at all.
//! * Every body runs inside `catch_unwind`: a Rust panic becomes `TT_ERR_PANIC`, never an abort.
//! * A `tt_model` is immutable after load: any number of threads may call predict and metadata
//!   functions on one model at once. `tt_free` must not race with other calls on that model.

#![allow(non_camel_case_types)]
// These functions are the C ABI: their pointer contracts are documented in the header and
// checked where checkable (NULL, alignment, lengths). Rust code should use `Model` instead.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use crate::error::{Error, Result, Status};
use crate::model::{Model, OpenOptions};
use crate::traverse::Cell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

pub use crate::error::code::*;

/// Library version (must equal Cargo.toml's; checked by a test).
pub const TT_VERSION_MAJOR: u32 = 0;
pub const TT_VERSION_MINOR: u32 = 1;
pub const TT_VERSION_PATCH: u32 = 0;
/// Bumped on any incompatible change of this header. Bindings compare it with `tt_abi_version()`.
pub const TT_ABI_VERSION: u32 = 1;

/// `tt_load`: memory-map the file read-only (the default). The file must then never be modified
/// in place while the model is loaded: replace model files by writing a new file and renaming it.
pub const TT_LOAD_DEFAULT: u32 = 0;
/// `tt_load`: read the file into an owned, 8-aligned buffer instead of mapping it (use this when
/// files may be rewritten in place). `tt_load_bytes` always copies unless `TT_LOAD_BORROW`.
pub const TT_LOAD_COPY: u32 = 1;
/// `tt_load_bytes` only: use the caller's bytes in place; they must stay alive and unchanged
/// until `tt_free`. Contradicts `TT_LOAD_COPY`.
pub const TT_LOAD_BORROW: u32 = 2;
/// Refuse the model unless it carries a valid HMAC-SHA256 signature for the key given to
/// `tt_load_verified` / `tt_load_bytes_verified` (plain `tt_load` has no key: `TT_ERR_NO_KEY`).
pub const TT_LOAD_REQUIRE_SIGNATURE: u32 = 4;
const KNOWN_LOAD_FLAGS: u32 = TT_LOAD_COPY | TT_LOAD_BORROW | TT_LOAD_REQUIRE_SIGNATURE;

/// Every model has exactly two classes (0 = negative, 1 = positive).
pub const TT_N_CLASSES: u32 = 2;
/// Bytes written by `tt_model_digest` (SHA-256).
pub const TT_DIGEST_LEN: u32 = 32;
/// Size of `tt_error.message`, including its NUL.
pub const TT_ERROR_MESSAGE_LEN: u32 = 256;

/// Details of a failure. Filled only when a call fails. `row`/`column` locate a bad input value
/// (relative to the `x` pointer of the call) and are -1 otherwise. `byte_offset` is the offset in
/// the model file of the offending field (0 when no field applies): e.g. 32 (the CRC field) for
/// `TT_ERR_CHECKSUM`, the available length for `TT_ERR_TRUNCATED`, the declared model length for
/// `TT_ERR_TRAILING_BYTES`, model length + 8 (trailer key id) for `TT_ERR_KEY_MISMATCH`, model
/// length + 32 (trailer MAC) for `TT_ERR_BAD_SIGNATURE`, and the node, section-table entry or
/// string for structural errors. `message` is NUL-terminated UTF-8 of at most
/// `TT_ERROR_MESSAGE_LEN - 1` bytes, truncated at a character boundary.
#[repr(C)]
pub struct tt_error {
    pub code: i32,
    pub row: i64,
    pub column: i64,
    pub byte_offset: u64,
    pub message: [c_char; 256],
}

/// An opaque, immutable, validated model.
pub struct tt_model {
    inner: Model,
}

pub(crate) fn write_error(err: *mut tt_error, e: &Error) {
    if err.is_null() {
        return;
    }
    let mut message = [0 as c_char; 256];
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
    // SAFETY: `err` is non-null and, per the API contract, points to a writable tt_error;
    // `write_unaligned` tolerates any alignment the caller gives it.
    unsafe { err.write_unaligned(value) };
}

/// Run an FFI body: map `Err` and panics to a status and fill `err`.
pub(crate) fn guard(err: *mut tt_error, body: impl FnOnce() -> Result<()>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => TT_OK,
        Ok(Err(e)) => {
            write_error(err, &e);
            e.status as i32
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let e = Error::new(
                Status::Panic,
                format!("internal panic caught at the C boundary: {what}"),
            );
            write_error(err, &e);
            TT_ERR_PANIC
        }
    }
}

/// Same as `guard` for infallible getters: a panic yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

pub(crate) fn null(what: &str) -> Error {
    Error::new(Status::NullArg, format!("argument `{what}` is NULL"))
}

pub(crate) fn model_ref<'a>(m: *const tt_model) -> Result<&'a Model> {
    // SAFETY: a non-null `m` was returned by a tt_load* call and not yet freed (API contract).
    unsafe { m.as_ref() }
        .map(|m| &m.inner)
        .ok_or_else(|| null("model"))
}

fn check_load_flags(flags: u32, allow_borrow: bool) -> Result<()> {
    if flags & !KNOWN_LOAD_FLAGS != 0 {
        return Err(Error::new(
            Status::Flags,
            format!("unknown load flag bits 0x{:x}", flags & !KNOWN_LOAD_FLAGS),
        ));
    }
    if flags & TT_LOAD_BORROW != 0 && !allow_borrow {
        return Err(Error::new(
            Status::Flags,
            "TT_LOAD_BORROW applies to tt_load_bytes only",
        ));
    }
    if flags & TT_LOAD_BORROW != 0 && flags & TT_LOAD_COPY != 0 {
        return Err(Error::new(
            Status::Flags,
            "TT_LOAD_BORROW and TT_LOAD_COPY contradict each other",
        ));
    }
    Ok(())
}

/// The key, if signature checking is requested; `TT_ERR_NO_KEY` when requested without one.
fn key_for<'a>(
    flags: u32,
    key: *const u8,
    key_len: usize,
    explicit: bool,
) -> Result<Option<&'a [u8]>> {
    if !explicit && flags & TT_LOAD_REQUIRE_SIGNATURE == 0 {
        return Ok(None);
    }
    if key.is_null() || key_len == 0 {
        return Err(Error::new(
            Status::NoKey,
            "signature verification was requested without a key",
        ));
    }
    // SAFETY: non-null, and the caller guarantees `key_len` readable bytes.
    Ok(Some(unsafe { std::slice::from_raw_parts(key, key_len) }))
}

fn publish(out: *mut *mut tt_model, model: Model) {
    let boxed = Box::into_raw(Box::new(tt_model { inner: model }));
    // SAFETY: `out` was checked non-null by the caller of `publish`.
    unsafe { out.write_unaligned(boxed) };
}

fn load_path(
    path: *const c_char,
    flags: u32,
    key: Option<&[u8]>,
    out: *mut *mut tt_model,
) -> Result<()> {
    if path.is_null() {
        return Err(null("path"));
    }
    if out.is_null() {
        return Err(null("out"));
    }
    // SAFETY: non-null, NUL-terminated per the API contract.
    let path = unsafe { CStr::from_ptr(path) };
    let path = path
        .to_str()
        .map_err(|_| Error::new(Status::Io, "path is not valid UTF-8"))?;
    let model = Model::open(
        Path::new(path),
        OpenOptions {
            copy: flags & TT_LOAD_COPY != 0,
            verify_key: key,
        },
    )?;
    publish(out, model);
    Ok(())
}

/// Load and fully validate a `.ttm` file. Memory-maps it read-only unless `TT_LOAD_COPY`.
/// On success `*out` receives a model to release with `tt_free`.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_load(
    path: *const c_char,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        check_load_flags(flags, false)?;
        let key = key_for(flags, std::ptr::null(), 0, false)?;
        load_path(path, flags, key, out)
    })
}

/// `tt_load` that first verifies the file's HMAC-SHA256 signature with `key` (before any
/// parsing): `TT_ERR_UNSIGNED`, `TT_ERR_KEY_MISMATCH`, `TT_ERR_BAD_SIGNATURE` or
/// `TT_ERR_NO_KEY` on failure. `TT_LOAD_REQUIRE_SIGNATURE` is implied.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_load_verified(
    path: *const c_char,
    key: *const u8,
    key_len: usize,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        check_load_flags(flags, false)?;
        let key = key_for(flags, key, key_len, true)?;
        load_path(path, flags, key, out)
    })
}

fn load_bytes(
    data: *const u8,
    len: usize,
    flags: u32,
    key: Option<&[u8]>,
    out: *mut *mut tt_model,
) -> Result<()> {
    if data.is_null() {
        return Err(null("data"));
    }
    if out.is_null() {
        return Err(null("out"));
    }
    let model = if flags & TT_LOAD_BORROW != 0 {
        // SAFETY: non-null; with TT_LOAD_BORROW the caller keeps `len` bytes alive and unchanged
        // until tt_free (documented in the header).
        unsafe { Model::from_borrowed(data, len, key)? }
    } else {
        // SAFETY: non-null and `len` readable bytes per the API contract; copied at once.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        Model::from_bytes_verified(bytes, key)?
    };
    publish(out, model);
    Ok(())
}

/// Load and fully validate a model from memory. Copies the bytes into an owned aligned buffer,
/// or, with `TT_LOAD_BORROW`, uses them in place (they must outlive the model, unchanged).
#[no_mangle]
#[must_use]
pub extern "C" fn tt_load_bytes(
    data: *const u8,
    len: usize,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        check_load_flags(flags, true)?;
        let key = key_for(flags, std::ptr::null(), 0, false)?;
        load_bytes(data, len, flags, key, out)
    })
}

/// `tt_load_bytes` with signature verification, as `tt_load_verified`.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_load_bytes_verified(
    data: *const u8,
    len: usize,
    key: *const u8,
    key_len: usize,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        check_load_flags(flags, true)?;
        let key = key_for(flags, key, key_len, true)?;
        load_bytes(data, len, flags, key, out)
    })
}

/// Release a model. NULL is a no-op. The model must not be in use by another thread, and must
/// not be freed twice.
#[no_mangle]
pub extern "C" fn tt_free(model: *mut tt_model) {
    if model.is_null() {
        return;
    }
    // SAFETY: non-null pointers come from `publish` (Box::into_raw) and are freed once.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(model) })));
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
/// Trusts the C API contract: a non-null `p` points to `count` readable elements.
pub(crate) fn input<'a, T>(p: *const T, count: usize, what: &str) -> Result<&'a [T]> {
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
pub(crate) fn output<'a, O>(
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

/// Validate a predict call's arguments and return the input and output slices. The order of
/// the checks is part of the contract the fuzz target `predict` checks: NULLs, alignment,
/// shape, then lengths; no slice is made before all of them passed.
#[allow(clippy::too_many_arguments)]
fn predict_args<'a, T: Cell, O>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut O,
    out_len: usize,
    per_row: usize,
) -> Result<(&'a Model, &'a [T], &'a mut [O])> {
    let model = model_ref(m)?;
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
    let os = output(out, out_len, n_rows, per_row)?;
    // The C contract gives n_rows * n_cols readable values in x (size checked above).
    let xs = input(x, n_in, "x")?;
    Ok((model, xs, os))
}

pub(crate) fn named(model: &Model, mut e: Error) -> Error {
    if e.status == Status::InputValue && e.column >= 0 {
        if let Some(name) = model.feature_name(e.column as usize) {
            e.message = format!("{} (feature '{name}')", e.message);
        }
    }
    e
}

fn run_predict<T: Cell>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut i32,
    out_len: usize,
) -> Result<()> {
    let (model, xs, os) = predict_args(m, x, n_rows, n_cols, out, out_len, 1)?;
    model
        .tree()
        .predict(xs, n_rows, os)
        .map_err(|e| named(model, e))
}

fn run_proba<T: Cell>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
) -> Result<()> {
    let (model, xs, os) = predict_args(m, x, n_rows, n_cols, out, out_len, 2)?;
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
pub extern "C" fn tt_predict(
    m: *const tt_model,
    x: *const i8,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        run_predict(m, x, n_rows, n_cols, out_labels, out_len)
    })
}

/// Predict class probabilities: writes `n_rows * n_classes` doubles, row-major
/// (`out[2r]` = P(class 0), `out[2r+1]` = P(class 1)). Input and errors as `tt_predict`.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_predict_proba(
    m: *const tt_model,
    x: *const i8,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || run_proba(m, x, n_rows, n_cols, out, out_len))
}

/// `tt_predict` for double input: 0.0 (or -0.0) = absent, 1.0 = present, NaN = missing.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_predict_f64(
    m: *const tt_model,
    x: *const f64,
    n_rows: usize,
    n_cols: usize,
    out_labels: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        run_predict(m, x, n_rows, n_cols, out_labels, out_len)
    })
}

/// `tt_predict_proba` for double input (0.0, 1.0, NaN = missing).
#[no_mangle]
#[must_use]
pub extern "C" fn tt_predict_proba_f64(
    m: *const tt_model,
    x: *const f64,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || run_proba(m, x, n_rows, n_cols, out, out_len))
}

/// Number of input features (columns); 0 for NULL.
#[no_mangle]
pub extern "C" fn tt_n_features(m: *const tt_model) -> usize {
    guard_value(0, || model_ref(m).map_or(0, |m| m.n_features()))
}

/// Number of classes (always 2); 0 for NULL.
#[no_mangle]
pub extern "C" fn tt_n_classes(m: *const tt_model) -> usize {
    guard_value(0, || model_ref(m).map_or(0, |m| m.n_classes()))
}

/// Number of nodes in the tree; 0 for NULL.
#[no_mangle]
pub extern "C" fn tt_n_nodes(m: *const tt_model) -> usize {
    guard_value(0, || model_ref(m).map_or(0, |m| m.n_nodes()))
}

/// Number of leaves; 0 for NULL.
#[no_mangle]
pub extern "C" fn tt_n_leaves(m: *const tt_model) -> usize {
    guard_value(0, || model_ref(m).map_or(0, |m| m.n_leaves()))
}

/// Depth of the tree (edges from the root to the deepest leaf); 0 for NULL.
#[no_mangle]
pub extern "C" fn tt_max_depth(m: *const tt_model) -> usize {
    guard_value(0, || model_ref(m).map_or(0, |m| m.max_depth()))
}

fn write_out<T>(out: *mut T, v: T) -> Result<()> {
    if out.is_null() {
        return Err(null("out"));
    }
    // SAFETY: non-null and writable per the API contract; unaligned write tolerates any address.
    unsafe { out.write_unaligned(v) };
    Ok(())
}

/// Name of feature (input column) `index`: `*out` receives a NUL-terminated UTF-8 string owned
/// by the model, valid until `tt_free`. `TT_ERR_NOT_FOUND` if `index >= tt_n_features(m)`.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_feature_name(
    m: *const tt_model,
    index: usize,
    out: *mut *const c_char,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        let model = model_ref(m)?;
        let name = model.feature_name_c(index).ok_or_else(|| {
            Error::new(
                Status::NotFound,
                format!(
                    "feature index {index} is out of range (n_features = {})",
                    model.n_features()
                ),
            )
        })?;
        write_out(out, name.as_ptr())
    })
}

/// Column index of the feature called `name` (NUL-terminated, exact byte match), in `*out`.
/// `TT_ERR_NOT_FOUND` if the model has no such feature. O(log n_features), no allocation.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_feature_index(
    m: *const tt_model,
    name: *const c_char,
    out: *mut usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        let model = model_ref(m)?;
        if name.is_null() {
            return Err(null("name"));
        }
        // SAFETY: non-null and NUL-terminated per the API contract.
        let name = unsafe { CStr::from_ptr(name) };
        let idx = model.feature_index(name.to_bytes()).ok_or_else(|| {
            Error::new(
                Status::NotFound,
                format!("no feature named '{}'", name.to_string_lossy()),
            )
        })?;
        write_out(out, idx)
    })
}

/// Label of class `index` (0 = negative, 1 = positive), e.g. "0"/"1" or as given to the compiler
/// with `--class-labels`; a model-owned NUL-terminated string in `*out`.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_class_label(
    m: *const tt_model,
    index: usize,
    out: *mut *const c_char,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        let model = model_ref(m)?;
        let label = model.class_label_c(index).ok_or_else(|| {
            Error::new(
                Status::NotFound,
                format!("class index {index} is out of range (n_classes = 2)"),
            )
        })?;
        write_out(out, label.as_ptr())
    })
}

/// The user-supplied model version string (may be empty), owned by the model; NULL for NULL.
#[no_mangle]
pub extern "C" fn tt_model_version(m: *const tt_model) -> *const c_char {
    guard_value(std::ptr::null(), || {
        model_ref(m).map_or(std::ptr::null(), |m| m.model_version_c().as_ptr())
    })
}

/// The model's metadata as a JSON object (hyperparameters, source digest, compiler version, ...),
/// NUL-terminated, owned by the model; NULL for NULL.
#[no_mangle]
pub extern "C" fn tt_metadata_json(m: *const tt_model) -> *const c_char {
    guard_value(std::ptr::null(), || {
        model_ref(m).map_or(std::ptr::null(), |m| m.metadata_json_c().as_ptr())
    })
}

/// The CRC-32 stored in (and verified against) the model file; 0 for NULL.
#[no_mangle]
pub extern "C" fn tt_model_crc32(m: *const tt_model) -> u32 {
    guard_value(0, || model_ref(m).map_or(0, |m| m.crc32()))
}

/// 1 if the loaded file carries a signature trailer (verified only by the `_verified` loads),
/// 0 if not or NULL.
#[no_mangle]
pub extern "C" fn tt_model_is_signed(m: *const tt_model) -> i32 {
    guard_value(0, || model_ref(m).map_or(0, |m| i32::from(m.is_signed())))
}

/// SHA-256 of the model bytes (without signature trailer): the model's identity. Writes 32
/// bytes to `out`; `out_len` must be at least `TT_DIGEST_LEN`. Computed once, on first call.
#[no_mangle]
#[must_use]
pub extern "C" fn tt_model_digest(
    m: *const tt_model,
    out: *mut u8,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    guard(err, || {
        let model = model_ref(m)?;
        if out.is_null() {
            return Err(null("out"));
        }
        if out_len < 32 {
            return Err(Error::new(
                Status::Length,
                format!("out_len is {out_len}, the digest needs 32 bytes"),
            ));
        }
        let d = model.digest();
        // SAFETY: non-null with at least 32 writable bytes (checked length, API contract).
        unsafe { std::ptr::copy_nonoverlapping(d.as_ptr(), out, 32) };
        Ok(())
    })
}

/// The library version, e.g. "0.1.0" (static string).
#[no_mangle]
pub extern "C" fn tt_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version of the loaded library; compare with `TT_ABI_VERSION` from the header.
#[no_mangle]
pub extern "C" fn tt_abi_version() -> u32 {
    TT_ABI_VERSION
}

/// The macro name of a status code, e.g. "TT_ERR_CHECKSUM" (static string); "TT_ERR_UNKNOWN" for
/// a code this library does not define.
#[no_mangle]
pub extern "C" fn tt_status_str(code: i32) -> *const c_char {
    Status::from_code(code)
        .map_or("TT_ERR_UNKNOWN\0", Status::c_name)
        .as_ptr()
        .cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_tt_err_panic_with_its_message() {
        let mut e = std::mem::MaybeUninit::<tt_error>::zeroed();
        let code = guard(e.as_mut_ptr(), || panic!("boom"));
        assert_eq!(code, TT_ERR_PANIC);
        // SAFETY: zero-initialised and then written by `guard`.
        let e = unsafe { e.assume_init() };
        assert_eq!(e.code, TT_ERR_PANIC);
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
        write_error(e.as_mut_ptr(), &Error::new(Status::Corrupt, long));
        // SAFETY: written by `write_error`.
        let e = unsafe { e.assume_init() };
        let msg = unsafe { CStr::from_ptr(e.message.as_ptr()) }
            .to_str()
            .unwrap();
        assert_eq!(msg.len(), 254, "127 two-byte characters fit in 255 bytes");
    }
}
