//! thetatree: serve theta-sketch decision trees, exactly as the Python reference predicts,
//! from a validated flat model file, through Rust and a C ABI.
//!
//! * [`format`]: the `.ttm` layout (byte by byte) and its encoder.
//! * [`validate`]: the single check of an image before anything trusts it.
//! * [`model`]: loading (mmap, owned copy, borrowed bytes) and metadata.
//! * [`traverse`]: the allocation-free, bounds-check-free walk.
//! * [`compile`]: the reference JSON (and pickle) to `.ttm` compiler and the exporter.
//! * [`pickle`]: the safe reader of the reference's pickles (no code is ever run).
//! * [`rules`]: readable rules from a model's paths (the CLI's `rules`, `predict --explain`).
//! * [`signature`]: HMAC-SHA256 signing and SHA-256 identity.
//! * [`ffi`]: the C ABI (`include/thetatree.h`): `unsafe extern "C"` entry points over the above.
//!
//! Every `unsafe` block carries a `SAFETY:` comment, and unsafe operations inside `unsafe fn`s
//! need their own block (denied below). No safe public function can cause undefined behaviour
//! with any argument: validated types are only constructed by the validator, and the unchecked
//! reads of the traversal are reachable only through walks of a validated tree.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

/// cbindgen:ignore
pub mod compile;
pub mod error;
pub mod ffi;
/// cbindgen:ignore
pub mod format;
/// cbindgen:ignore
pub mod model;
mod persistence;
/// cbindgen:ignore
pub mod pickle;
/// cbindgen:ignore
pub mod rules;
/// cbindgen:ignore
pub mod signature;
/// cbindgen:ignore
pub mod traverse;
/// cbindgen:ignore
pub mod validate;

pub use error::{Error, Result, Status};
pub use model::{Model, OpenOptions};
