//! Loading (from a path or from memory, optionally verifying a signature) and freeing models.

use super::args::{guard, input, null};
use super::{
    tt_error, tt_model, TT_LOAD_BORROW, TT_LOAD_COPY, TT_LOAD_INTERPRET, TT_LOAD_REQUIRE_SIGNATURE,
};
use crate::error::{Error, Result, Status};
use crate::model::{Model, OpenOptions};
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const KNOWN_LOAD_FLAGS: u32 =
    TT_LOAD_COPY | TT_LOAD_BORROW | TT_LOAD_REQUIRE_SIGNATURE | TT_LOAD_INTERPRET;

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
///
/// # Safety
/// `key` is NULL or valid for reading `key_len` bytes during `'a`.
unsafe fn key_for<'a>(
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
    // SAFETY: `key_len` readable bytes (this function's contract).
    unsafe { input(key, key_len, "key") }.map(Some)
}

/// Hand a loaded model to the caller through `*out`.
///
/// # Safety
/// `out` is non-NULL and valid for writing one pointer (any alignment).
unsafe fn publish(out: *mut *mut tt_model, model: Model) {
    let boxed = Box::into_raw(Box::new(tt_model { inner: model }));
    // SAFETY: this function's contract.
    unsafe { out.write_unaligned(boxed) };
}

/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or writable for one pointer.
unsafe fn load_path(
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
    // SAFETY: non-null and NUL-terminated (contract).
    let path = unsafe { CStr::from_ptr(path) };
    let path = path
        .to_str()
        .map_err(|_| Error::new(Status::Io, "path is not valid UTF-8"))?;
    let model = Model::open(
        Path::new(path),
        OpenOptions {
            copy: flags & TT_LOAD_COPY != 0,
            verify_key: key,
            interpret: flags & TT_LOAD_INTERPRET != 0,
        },
    )?;
    // SAFETY: `out` is non-null (checked above) and writable (contract).
    unsafe { publish(out, model) };
    Ok(())
}

/// Load and fully validate a `.ttm` file. Memory-maps it read-only unless `TT_LOAD_COPY`.
/// On success `*out` receives a model to release with `tt_free`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_load(
    path: *const c_char,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `path`, `out` and `err`.
    unsafe {
        guard(err, || {
            check_load_flags(flags, false)?;
            let key = key_for(flags, std::ptr::null(), 0, false)?;
            load_path(path, flags, key, out)
        })
    }
}

/// `tt_load` that first verifies the file's HMAC-SHA256 signature with `key` (before any
/// parsing): `TT_ERR_UNSIGNED`, `TT_ERR_KEY_MISMATCH`, `TT_ERR_BAD_SIGNATURE` or
/// `TT_ERR_NO_KEY` on failure. `TT_LOAD_REQUIRE_SIGNATURE` is implied.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_load_verified(
    path: *const c_char,
    key: *const u8,
    key_len: usize,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `path`, `key`, `out` and `err`.
    unsafe {
        guard(err, || {
            check_load_flags(flags, false)?;
            let key = key_for(flags, key, key_len, true)?;
            load_path(path, flags, key, out)
        })
    }
}

/// # Safety
/// `data` is NULL or readable for `len` bytes (alive and unchanged until the model is freed
/// with `TT_LOAD_BORROW`); `out` is NULL or writable for one pointer.
unsafe fn load_bytes(
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
    let interpret = flags & TT_LOAD_INTERPRET != 0;
    let model = if flags & TT_LOAD_BORROW != 0 {
        // SAFETY: non-null; with TT_LOAD_BORROW the caller keeps `len` bytes alive and unchanged
        // until tt_free (documented in the header).
        unsafe { Model::from_borrowed_with(data, len, key, interpret)? }
    } else {
        Model::check_image_len(len as u64)?;
        // SAFETY: non-null, `len` readable bytes (contract), `len` within the image cap (so
        // within isize::MAX); copied at once.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        Model::from_bytes_with(
            bytes,
            OpenOptions {
                verify_key: key,
                interpret,
                ..OpenOptions::default()
            },
        )?
    };
    // SAFETY: `out` is non-null (checked above) and writable (contract).
    unsafe { publish(out, model) };
    Ok(())
}

/// Load and fully validate a model from memory. Copies the bytes into an owned aligned buffer,
/// or, with `TT_LOAD_BORROW`, uses them in place (they must outlive the model, unchanged).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_load_bytes(
    data: *const u8,
    len: usize,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `data`, `out` and `err`.
    unsafe {
        guard(err, || {
            check_load_flags(flags, true)?;
            let key = key_for(flags, std::ptr::null(), 0, false)?;
            load_bytes(data, len, flags, key, out)
        })
    }
}

/// `tt_load_bytes` with signature verification, as `tt_load_verified`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_load_bytes_verified(
    data: *const u8,
    len: usize,
    key: *const u8,
    key_len: usize,
    flags: u32,
    out: *mut *mut tt_model,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `data`, `key`, `out` and `err`.
    unsafe {
        guard(err, || {
            check_load_flags(flags, true)?;
            let key = key_for(flags, key, key_len, true)?;
            load_bytes(data, len, flags, key, out)
        })
    }
}

/// Release a model. NULL is a no-op. The model must not be in use by another thread, and must
/// not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn tt_free(model: *mut tt_model) {
    if model.is_null() {
        return;
    }
    // SAFETY: a non-null `model` comes from `publish` (Box::into_raw) and is freed once
    // (contract).
    let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(model) })));
}
