//! A safe reader for the pickles the reference trainer writes (`ModelPersistence.save_model`):
//! a pickle machine that builds plain values and never imports or runs anything.
//!
//! Python's `pickle.load` calls whatever callable a file names (`os.system`, `builtins.eval`,
//! ...). This reader instead has a fixed table of what may be built, and refuses everything
//! else with an [`Error`] naming the byte offset of the opcode and what it found.
//!
//! # Accepted
//!
//! * Protocols 2 to 5; the first opcode must be `PROTO`, the last `STOP`, with exactly one
//!   value on the stack and nothing after it.
//! * Opcodes: `PROTO`, `FRAME`, `STOP`, `MARK`, `POP`, `POP_MARK`, `DUP`; `NONE`, `NEWTRUE`,
//!   `NEWFALSE`, `BININT`, `BININT1`, `BININT2`, `LONG1`/`LONG4` (up to 8 bytes: `i64`),
//!   `BINFLOAT`; `SHORT_BINUNICODE`, `BINUNICODE`, `BINUNICODE8` (UTF-8), `SHORT_BINBYTES`,
//!   `BINBYTES`, `BINBYTES8`, `BYTEARRAY8` (in-band protocol-5 buffers), `READONLY_BUFFER`;
//!   `EMPTY_DICT`, `DICT`, `SETITEM`, `SETITEMS`, `EMPTY_LIST`, `LIST`, `APPEND`, `APPENDS`,
//!   `EMPTY_TUPLE`, `TUPLE`, `TUPLE1`-`TUPLE3`; `MEMOIZE`, `BINPUT`, `LONG_BINPUT`, `PUT`,
//!   `BINGET`, `LONG_BINGET`, `GET`; `GLOBAL`/`STACK_GLOBAL`, `REDUCE` and `BUILD` only as
//!   below.
//! * Globals (numpy 1.x `numpy.core.*` and 2.x `numpy._core.*` paths alike):
//!   `numpy.(_)core.multiarray._reconstruct` with `numpy.ndarray`, then `BUILD` with
//!   `(1, shape, dtype, is_fortran, data)` (data: bytes, or a list of `str` for object arrays);
//!   `numpy.(_)core.numeric._frombuffer(buffer, dtype, shape, 'C' | 'F')`;
//!   `numpy.(_)core.multiarray.scalar(dtype, bytes)`; `numpy.dtype(name, align, copy)` then
//!   `BUILD` with its state `(3, byteorder, None, None, None, elsize, alignment, flags)` (or
//!   version 4 with a `None` metadata field); `_codecs.encode(str, 'latin1')` and `bytes()`,
//!   which protocol 2 uses for `bytes`.
//! * dtypes: `bool`, `int8`-`int64`, `uint8`-`uint64` (values up to `i64::MAX`), `float32`,
//!   `float64`, fixed-width unicode `<U n` (UCS-4), and `object` arrays of `str`; little- and
//!   big-endian; C or Fortran order (returned in C order); 0 to 32 dimensions.
//!
//! # Refused
//!
//! Any other global (the error names it, e.g. `global os.system is not allowed`), `REDUCE` of
//! anything but the callables above, `BUILD` on anything but a new array or dtype, `INST`,
//! `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `PERSID`, `BINPERSID`, `EXT1/2/4`, sets, out-of-band buffers
//! (`NEXT_BUFFER`), the protocol 0/1 text opcodes (`INT`, `LONG`, `FLOAT`, `STRING`,
//! `BINSTRING`, `SHORT_BINSTRING`, `UNICODE`), unknown opcodes, a missing memo key, a stack or
//! MARK underflow, a buffer whose length is not shape x itemsize, structured, sub-array,
//! string (`S`), datetime, complex and float16 dtypes, non-UTF-8 text, integers beyond `i64`,
//! trailing bytes after `STOP`.
//!
//! # Caps
//!
//! Each is checked before the memory it guards is reserved: a declared length of 2^40 fails
//! at its offset without allocating.
//!
//! | what | cap | status |
//! |---|---|---|
//! | one string, bytes or buffer | [`MAX_BLOB_LEN`] = 256 MiB (and never past the end of the input) | `TT_ERR_LIMIT` / `TT_ERR_TRUNCATED` |
//! | nesting of values, and of MARKs | [`MAX_NESTING`] = the tree depth cap 4096 + 64 | `TT_ERR_LIMIT` |
//! | values on the machine's stack | [`MAX_STACK`] = 2^20 | `TT_ERR_LIMIT` |
//! | objects built, and elements of one array | [`MAX_ELEMENTS`] = 2^25 | `TT_ERR_LIMIT` |
//! | array dimensions | [`MAX_NDIM`] = 32 | `TT_ERR_LIMIT` |
//! | memory for objects, memo and the result | [`memory_cap`]: 16 MiB + 64 x the input size, at most 4 GiB | `TT_ERR_LIMIT` |
//!
//! The memory cap is charged for every object, string, container slot and memo entry, and
//! again while the result is copied out (so a 20 KB pickle that references one list from
//! itself 60 times over, which would expand to 2^60 values, stops at about 17 MiB). Nothing
//! recurses: the machine is a loop, the result is built with an explicit stack, and dropping a
//! [`Value`] is iterative.
//!
//! Status codes: `TT_ERR_BAD_MAGIC` (not a pickle: no `PROTO`), `TT_ERR_VERSION` (protocol
//! outside 2-5), `TT_ERR_TRUNCATED` (ends early), `TT_ERR_TRAILING_BYTES`, `TT_ERR_LIMIT`
//! (a cap), `TT_ERR_CORRUPT` (everything refused above); `byte_offset` is the offset of the
//! opcode at fault.

mod json;
mod numpy;
mod value;
mod vm;

pub use json::to_json;
pub use value::{ArrayData, DType, NdArray, Value};

use crate::compile::{compile_document, with_big_stack, CompileError, CompileOptions};
use crate::error::{Error, Result, Status};
use crate::format::MAX_DEPTH;

/// Lowest protocol read (the first with `PROTO`, and what numpy 1.x users often wrote).
pub const MIN_PROTOCOL: u8 = 2;
/// Highest protocol read (Python 3.8+'s `HIGHEST_PROTOCOL`).
pub const MAX_PROTOCOL: u8 = 5;
/// Largest string, bytes or buffer.
pub const MAX_BLOB_LEN: u64 = 256 << 20;
/// Deepest nesting of values (and of MARKs): the tree depth cap plus room for the dicts and
/// lists around the tree.
pub const MAX_NESTING: usize = MAX_DEPTH as usize + 64;
/// Most values on the machine's stack at once.
pub const MAX_STACK: usize = 1 << 20;
/// Most objects built, and most elements in one array.
pub const MAX_ELEMENTS: usize = 1 << 25;
/// Most dimensions of an array (numpy's own limit is 64).
pub const MAX_NDIM: usize = 32;
/// Longest module or name of a `GLOBAL`, and longest `PUT`/`GET` argument.
pub const MAX_GLOBAL_NAME: usize = 256;
/// Absolute memory cap.
pub const MAX_MEMORY: usize = 4 << 30;

/// The memory a pickle of `input_len` bytes may use: 16 MiB + 64 bytes per input byte, at most
/// [`MAX_MEMORY`]. Real model pickles use a fraction of it (7 to 21 bytes per input byte for
/// the reference models, the larger figure for the smallest file).
pub fn memory_cap(input_len: usize) -> usize {
    (16usize << 20)
        .saturating_add(input_len.saturating_mul(64))
        .min(MAX_MEMORY)
}

/// Read a pickle into a [`Value`]. Nothing is imported or executed.
pub fn loads(bytes: &[u8]) -> Result<Value> {
    vm::run(bytes)
}

/// Read a `ModelPersistence` pickle and return its dict as the JSON the compiler's
/// persistence-dict path takes (what `persistence_tree.json` holds for the same model).
/// The pickle must hold a dict with a `tree_structure` dict; the compiler checks the rest.
pub fn persistence_json(bytes: &[u8]) -> Result<serde_json::Value> {
    let value = loads(bytes)?;
    if !matches!(value, Value::Dict(_)) {
        return Err(Error::new(
            Status::Corrupt,
            format!(
                "$: the pickle holds a {}, not the dict ModelPersistence.save_model writes",
                value.type_name()
            ),
        ));
    }
    match value.get("tree_structure") {
        Some(Value::Dict(_)) => {}
        Some(other) => {
            return Err(Error::new(
                Status::Corrupt,
                format!(
                    "$.tree_structure: a {}, not a dict (the root node)",
                    other.type_name()
                ),
            ))
        }
        None => {
            return Err(Error::new(
                Status::Corrupt,
                "$: the pickled dict has no tree_structure: not a ModelPersistence model",
            ))
        }
    }
    to_json(&value)
}

/// Compile a pickle written by the reference's `ModelPersistence.save_model` (protocols 2-5,
/// numpy 1.x or 2.x) into `.ttm` bytes, exactly as its dict converted to JSON would compile:
/// the feature mapping is the pickle's own (unless `opts` gives one), probabilities come from
/// `class_counts`, and the metadata keeps `hyperparameters`, `version` and
/// `fitted_attributes` (with `feature_importances`). The pickle is read by [`loads`], which
/// runs no code; a refused pickle is reported at its byte offset.
///
/// Also available as `thetatree::compile::compile_pickle`.
pub fn compile_pickle(
    bytes: &[u8],
    opts: &CompileOptions,
) -> std::result::Result<Vec<u8>, CompileError> {
    with_big_stack(|| {
        let doc = persistence_json(bytes).map_err(pickle_error)?;
        if opts.feature_mapping.is_none() && doc.get("feature_mapping").is_none() {
            return Err(CompileError {
                path: "$".into(),
                message: "the pickled dict has no feature_mapping: give the mapping the model was trained with".into(),
            });
        }
        compile_document(&doc, bytes, true, opts)
    })
}

/// A pickle reader error as a compile error: where (byte offset, or the JSON path of the
/// converted value) and what.
fn pickle_error(e: Error) -> CompileError {
    match e.message.strip_prefix('$').and_then(|m| m.split_once(": ")) {
        Some((path, message)) => CompileError {
            path: format!("${path}"),
            message: message.to_string(),
        },
        None => CompileError {
            path: format!("pickle byte offset {}", e.byte_offset),
            message: format!("{}: {}", e.status.name(), e.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps({'a': [1, 2.5, None, True], 'b': ('x', b'\x01')}, protocol=5)`.
    #[test]
    fn reads_what_cpython_writes() {
        let p = b"\x80\x05\x95(\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88e\x8c\x01b\x94\x8c\x01x\x94C\x01\x01\x94\x86\x94u.";
        let v = loads(p).unwrap();
        assert_eq!(
            v,
            Value::Dict(vec![
                (
                    Value::Str("a".into()),
                    Value::List(vec![
                        Value::Int(1),
                        Value::Float(2.5),
                        Value::None,
                        Value::Bool(true)
                    ])
                ),
                (
                    Value::Str("b".into()),
                    Value::Tuple(vec![Value::Str("x".into()), Value::Bytes(vec![1])])
                ),
            ])
        );
    }

    /// `l = [7]; pickle.dumps([l, l], protocol=4)`: the inner list is memoized empty, filled,
    /// then fetched again; both elements must be the filled list.
    #[test]
    fn memoized_objects_are_seen_after_they_are_filled() {
        let p = b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94K\x07ah\x01e.";
        let inner = Value::List(vec![Value::Int(7)]);
        assert_eq!(loads(p).unwrap(), Value::List(vec![inner.clone(), inner]));
    }

    #[test]
    fn memory_cap_scales_with_the_input() {
        assert_eq!(memory_cap(0), 16 << 20);
        assert_eq!(memory_cap(1 << 20), (16 << 20) + (64 << 20));
        assert_eq!(memory_cap(usize::MAX), MAX_MEMORY);
    }
}
