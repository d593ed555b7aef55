//! The C ABI (`include/thetatree.h` is generated from this module by cbindgen).
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

//!
//! Safety: every entry point that takes a pointer is an `unsafe extern "C" fn`. Its contract is
//! the header's: each non-NULL pointer is valid for the documented number of elements (reads,
//! or writes for outputs, which do not alias inputs), strings are NUL-terminated, and a model
//! pointer comes from a `tt_load*` call and was not freed. NULL pointers, misalignment, bad
//! shapes and short lengths are checked and reported, never dereferenced.
//!
//! * `args`: the panic guard, error reporting and the pointer-argument checks every call shares.
//! * `load`: loading and freeing models.
//! * `dense`: predictions on int8 / double rows.
//! * `info`: model metadata, version and status names.
//! * `wide`: predictions on bit-packed and sparse (CSR) rows, and the kernel query.
//! * `explain`: leaf indices, contributions, decision paths and node records (issue 15).

#![allow(non_camel_case_types)]
// The entry points' doc comments become the header's; their shared safety contract is stated
// once, above and in the header's conventions, instead of a `# Safety` section per function.
#![allow(clippy::missing_safety_doc)]

mod args;
// cbindgen writes the functions in the order it meets these modules: keep them in the order of
// the header's sections (load, dense predictions, metadata, wide predictions, explanations).
mod load;

mod dense;

mod info;

mod wide;

mod explain;

pub use dense::*;
pub use explain::*;
pub use info::*;
pub use load::*;
pub use wide::*;

use crate::model::Model;
use std::ffi::c_char;

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
/// Never generate native code for the model (builds with the `native` feature generate it at
/// load for chain-shaped and ragged trees): always walk with the interpreter. Results are the
/// same either way; `tt_model_kernel` then never reports "native".
pub const TT_LOAD_INTERPRET: u32 = 8;

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
    pub message: [c_char; TT_ERROR_MESSAGE_LEN as usize],
}

/// An opaque, immutable, validated model.
pub struct tt_model {
    inner: Model,
}
