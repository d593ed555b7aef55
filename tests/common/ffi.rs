//! Calling the C ABI from tests: error records, loading, messages.

use std::ffi::CStr;
use thetatree::ffi::*;

/// An error record filled with sentinels, so that a test sees which fields a call wrote.
pub fn new_err() -> tt_error {
    tt_error {
        code: -99,
        row: -99,
        column: -99,
        byte_offset: 99,
        message: [0; TT_ERROR_MESSAGE_LEN as usize],
    }
}

/// The message of an error record the library wrote.
pub fn err_message(e: &tt_error) -> String {
    // SAFETY: the library NUL-terminates `message` (and `new_err` zero-fills it).
    unsafe { CStr::from_ptr(e.message.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Load through `tt_load_bytes`: the status, the error record and the model (NULL on failure).
pub fn ffi_load(bytes: &[u8], flags: u32) -> (i32, tt_error, *mut tt_model) {
    let mut out: *mut tt_model = std::ptr::null_mut();
    let mut err = new_err();
    // An empty slice's pointer is dangling but non-null and aligned: fine for a 0-byte read.
    // SAFETY: `bytes` is readable for its length (and outlives the model with TT_LOAD_BORROW
    // as long as the caller keeps it); `out` and `err` are writable.
    let rc = unsafe { tt_load_bytes(bytes.as_ptr(), bytes.len(), flags, &mut out, &mut err) };
    (rc, err, out)
}

/// Load `bytes` through the C ABI (must succeed); release it with `tt_free`.
pub fn ffi_model(bytes: &[u8], flags: u32) -> *mut tt_model {
    let (rc, err, m) = ffi_load(bytes, flags);
    assert_eq!(rc, TT_OK, "{}", err_message(&err));
    m
}

/// A model loaded through the C ABI, freed on drop.
pub struct CModel(pub *mut tt_model);

impl CModel {
    pub fn load(bytes: &[u8]) -> CModel {
        CModel(ffi_model(bytes, 0))
    }
}

impl Drop for CModel {
    fn drop(&mut self) {
        // SAFETY: the model came from tt_load_bytes and is freed once, here.
        unsafe { tt_free(self.0) };
    }
}
