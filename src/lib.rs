//! thetatree: serve theta-sketch decision trees, exactly as the Python reference predicts,
//! from a validated flat model file, through Rust and a C ABI.
//!
//! * [`format`]: the `.ttm` layout (byte by byte) and its encoder.
//! * [`validate`]: the single check of an image before anything trusts it.
//! * [`model`]: loading (mmap, owned copy, borrowed bytes) and metadata.
//! * [`traverse`]: the allocation-free, bounds-check-free walk.
//! * [`compile`]: the reference JSON (and pickle) to `.ttm` compiler and the exporter.
//! * [`pickle`]: the safe reader of the reference's pickles (no code is ever run).
//! * [`signature`]: HMAC-SHA256 signing and SHA-256 identity.
//! * [`ffi`]: the C ABI (`include/thetatree.h`).

/// cbindgen:ignore
pub mod compile;
pub mod error;
pub mod ffi;
pub mod ffi_wide;
/// cbindgen:ignore
pub mod format;
/// cbindgen:ignore
pub mod model;
mod persistence;
/// cbindgen:ignore
pub mod pickle;
/// cbindgen:ignore
pub mod signature;
/// cbindgen:ignore
pub mod traverse;
/// cbindgen:ignore
pub mod validate;

pub use error::{Error, Result, Status};
pub use model::{Model, OpenOptions};
