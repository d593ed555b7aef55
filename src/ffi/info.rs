//! Model metadata (sizes, names, version, CRC, signature, digest), library version and status
//! names.

use super::args::{getter, guard, guard_value, model_ref, null};
use super::{tt_error, tt_model, TT_ABI_VERSION, TT_DIGEST_LEN};
use crate::error::{Error, Result, Status};
use std::ffi::{c_char, CStr};

const DIGEST_LEN: usize = TT_DIGEST_LEN as usize;

/// Number of input features (columns); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_n_features(m: *const tt_model) -> usize {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| m.n_features()) }
}

/// Number of classes (always 2); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_n_classes(m: *const tt_model) -> usize {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| m.n_classes()) }
}

/// Number of nodes in the tree; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_n_nodes(m: *const tt_model) -> usize {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| m.n_nodes()) }
}

/// Number of leaves; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_n_leaves(m: *const tt_model) -> usize {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| m.n_leaves()) }
}

/// Depth of the tree (edges from the root to the deepest leaf); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_max_depth(m: *const tt_model) -> usize {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| m.max_depth()) }
}

/// Write an out-parameter.
///
/// # Safety
/// `out` is NULL or writable for one `T` (any alignment).
unsafe fn write_out<T>(out: *mut T, v: T) -> Result<()> {
    if out.is_null() {
        return Err(null("out"));
    }
    // SAFETY: non-null and writable (contract); unaligned write tolerates any address.
    unsafe { out.write_unaligned(v) };
    Ok(())
}

/// Name of feature (input column) `index`: `*out` receives a NUL-terminated UTF-8 string owned
/// by the model, valid until `tt_free`. `TT_ERR_NOT_FOUND` if `index >= tt_n_features(m)`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_feature_name(
    m: *const tt_model,
    index: usize,
    out: *mut *const c_char,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `out` and `err`.
    unsafe { guard(err, || feature_name(m, index, out)) }
}

/// # Safety
/// `m` NULL or a live model; `out` NULL or writable for one pointer.
unsafe fn feature_name(m: *const tt_model, index: usize, out: *mut *const c_char) -> Result<()> {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(m)? };
    let name = model.feature_name_c(index).ok_or_else(|| {
        Error::new(
            Status::NotFound,
            format!(
                "feature index {index} is out of range (n_features = {})",
                model.n_features()
            ),
        )
    })?;
    // SAFETY: this function's contract.
    unsafe { write_out(out, name.as_ptr()) }
}

/// Column index of the feature called `name` (NUL-terminated, exact byte match), in `*out`.
/// `TT_ERR_NOT_FOUND` if the model has no such feature. O(log n_features), no allocation.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_feature_index(
    m: *const tt_model,
    name: *const c_char,
    out: *mut usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `name`, `out` and `err`.
    unsafe { guard(err, || feature_index(m, name, out)) }
}

/// # Safety
/// `m` NULL or a live model; `name` NULL or NUL-terminated; `out` NULL or writable.
unsafe fn feature_index(m: *const tt_model, name: *const c_char, out: *mut usize) -> Result<()> {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(m)? };
    if name.is_null() {
        return Err(null("name"));
    }
    // SAFETY: non-null and NUL-terminated (contract).
    let name = unsafe { CStr::from_ptr(name) };
    let idx = model.feature_index(name.to_bytes()).ok_or_else(|| {
        Error::new(
            Status::NotFound,
            format!("no feature named '{}'", name.to_string_lossy()),
        )
    })?;
    // SAFETY: this function's contract.
    unsafe { write_out(out, idx) }
}

/// Label of class `index` (0 = negative, 1 = positive), e.g. "0"/"1" or as given to the compiler
/// with `--class-labels`; a model-owned NUL-terminated string in `*out`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_class_label(
    m: *const tt_model,
    index: usize,
    out: *mut *const c_char,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `out` and `err`.
    unsafe { guard(err, || class_label(m, index, out)) }
}

/// # Safety
/// As for [`feature_name`].
unsafe fn class_label(m: *const tt_model, index: usize, out: *mut *const c_char) -> Result<()> {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(m)? };
    let label = model.class_label_c(index).ok_or_else(|| {
        Error::new(
            Status::NotFound,
            format!("class index {index} is out of range (n_classes = 2)"),
        )
    })?;
    // SAFETY: this function's contract.
    unsafe { write_out(out, label.as_ptr()) }
}

/// The user-supplied model version string (may be empty), owned by the model; NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_model_version(m: *const tt_model) -> *const c_char {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, std::ptr::null(), |m| m.model_version_c().as_ptr()) }
}

/// The model's metadata as a JSON object (hyperparameters, source digest, compiler version, ...),
/// NUL-terminated, owned by the model; NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_metadata_json(m: *const tt_model) -> *const c_char {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, std::ptr::null(), |m| m.metadata_json_c().as_ptr()) }
}

/// The CRC-32 stored in (and verified against) the model file; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_model_crc32(m: *const tt_model) -> u32 {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| m.crc32()) }
}

/// 1 if the loaded file carries a signature trailer (verified only by the `_verified` loads),
/// 0 if not or NULL.
#[no_mangle]
pub unsafe extern "C" fn tt_model_is_signed(m: *const tt_model) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`.
    unsafe { getter(m, 0, |m| i32::from(m.is_signed())) }
}

/// SHA-256 of the model bytes (without signature trailer): the model's identity. Writes 32
/// bytes to `out`; `out_len` must be at least `TT_DIGEST_LEN`. Computed once, on first call.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_model_digest(
    m: *const tt_model,
    out: *mut u8,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `out` and `err`.
    unsafe { guard(err, || model_digest(m, out, out_len)) }
}

/// # Safety
/// `m` NULL or a live model; `out` NULL or writable for `out_len` bytes.
unsafe fn model_digest(m: *const tt_model, out: *mut u8, out_len: usize) -> Result<()> {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(m)? };
    if out.is_null() {
        return Err(null("out"));
    }
    if out_len < DIGEST_LEN {
        return Err(Error::new(
            Status::Length,
            format!("out_len is {out_len}, the digest needs {DIGEST_LEN} bytes"),
        ));
    }
    let d: &[u8; DIGEST_LEN] = model.digest();
    // SAFETY: non-null with at least DIGEST_LEN writable bytes (checked length, contract).
    unsafe { std::ptr::copy_nonoverlapping(d.as_ptr(), out, DIGEST_LEN) };
    Ok(())
}

/// The library version, e.g. "0.1.0" (static string).
#[no_mangle]
pub extern "C" fn tt_version_string() -> *const c_char {
    // Nothing here can panic: a static string.
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version of the loaded library; compare with `TT_ABI_VERSION` from the header.
#[no_mangle]
pub extern "C" fn tt_abi_version() -> u32 {
    // Nothing here can panic: a constant.
    TT_ABI_VERSION
}

/// The macro name of a status code, e.g. "TT_ERR_CHECKSUM" (static string); "TT_ERR_UNKNOWN" for
/// a code this library does not define.
#[no_mangle]
pub extern "C" fn tt_status_str(code: i32) -> *const c_char {
    let unknown = "TT_ERR_UNKNOWN\0";
    guard_value(unknown, || {
        Status::from_code(code).map_or(unknown, Status::c_name)
    })
    .as_ptr()
    .cast()
}
