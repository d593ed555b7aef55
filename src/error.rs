//! Status codes and the error type shared by the loader, the traversal, the compiler and the
//! C ABI. The numeric codes are part of the stable ABI: never renumber or reuse one.

use std::fmt;

/// Stable numeric status codes, exported to C as `#define`s by cbindgen. A new code is added
/// here and to the `status_table!` list below.
pub mod code {
    /// Success.
    pub const TT_OK: i32 = 0;
    /// A required pointer argument was NULL.
    pub const TT_ERR_NULL_ARG: i32 = 1;
    /// An output buffer is shorter than the call needs, or a length argument is inconsistent.
    pub const TT_ERR_LENGTH: i32 = 2;
    /// The input shape is wrong: n_cols differs from the model's feature count, or
    /// n_rows * n_cols overflows, or a sparse/bit-packed row structure is malformed.
    pub const TT_ERR_SHAPE: i32 = 3;
    /// An input value is neither 0, 1 nor the missing marker (-1 or NaN); row and column are set.
    pub const TT_ERR_INPUT_VALUE: i32 = 4;
    /// The model file could not be opened, read or mapped.
    pub const TT_ERR_IO: i32 = 5;
    /// The bytes do not start with the `.ttm` magic (also for inputs shorter than the magic
    /// whose bytes differ from its prefix).
    pub const TT_ERR_BAD_MAGIC: i32 = 6;
    /// The file's format major version is not supported by this library, or its header sets
    /// flag bits that only a newer library understands.
    pub const TT_ERR_VERSION: i32 = 7;
    /// The endianness tag does not read as little-endian.
    pub const TT_ERR_ENDIAN: i32 = 8;
    /// The data is shorter than the header or than the length the header declares.
    pub const TT_ERR_TRUNCATED: i32 = 9;
    /// The data is longer than the header declares (and is not a signature trailer).
    pub const TT_ERR_TRAILING_BYTES: i32 = 10;
    /// The CRC32 stored in the header does not match the file's bytes.
    pub const TT_ERR_CHECKSUM: i32 = 11;
    /// A section offset or length points outside the file or overflows.
    pub const TT_ERR_BOUNDS: i32 = 12;
    /// Sections overlap, leave gaps, are misaligned, or padding/reserved bytes are not zero.
    pub const TT_ERR_LAYOUT: i32 = 13;
    /// A count or size exceeds the documented caps (nodes, depth, features, names, file size).
    pub const TT_ERR_LIMIT: i32 = 14;
    /// The node graph is not a tree: child index out of range or not greater than its parent,
    /// a node with two parents, an unreachable node, or a bad node tag.
    pub const TT_ERR_GRAPH: i32 = 15;
    /// Any other structural inconsistency: feature index >= n_features, bad leaf index or label,
    /// non-finite or out-of-range probability, inconsistent statistics, invalid UTF-8, duplicate
    /// or unsorted names, bad metadata.
    pub const TT_ERR_CORRUPT: i32 = 16;
    /// Unknown or contradictory flag bits were passed to a load call.
    pub const TT_ERR_FLAGS: i32 = 17;
    /// A Rust panic was caught at the C boundary (a bug in thetatree; please report it).
    pub const TT_ERR_PANIC: i32 = 18;
    /// A feature name or a class/feature index was not found in the model.
    pub const TT_ERR_NOT_FOUND: i32 = 19;
    /// An output pointer is not aligned for its element type.
    pub const TT_ERR_ALIGNMENT: i32 = 20;
    /// Signature verification was requested but the file carries no signature trailer.
    pub const TT_ERR_UNSIGNED: i32 = 21;
    /// The file is signed with a different key than the one supplied.
    pub const TT_ERR_KEY_MISMATCH: i32 = 22;
    /// The signature does not match the file's bytes: the file was modified after signing.
    pub const TT_ERR_BAD_SIGNATURE: i32 = 23;
    /// Signature verification was requested without a key.
    pub const TT_ERR_NO_KEY: i32 = 24;
}

/// Generates [`Status`], [`Status::ALL`] and [`Status::c_name`] from one list of
/// `Variant = CONSTANT` pairs: values and C names come from the `code` constants (which cbindgen
/// reads, with their docs, for the header), so each is written once. `tests/header.rs` checks that
/// the list and the header's `TT_*` status macros agree.
macro_rules! status_table {
    ($($variant:ident = $code:ident,)+) => {
        /// A status as a Rust enum; `as i32` gives the stable code (see [`code`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum Status {
            $(
                #[doc = concat!("[`code::", stringify!($code), "`]")]
                $variant = code::$code,
            )+
        }

        impl Status {
            /// Every status, in code order (used by tests and by `tt_status_str`).
            pub const ALL: [Status; [$(code::$code),+].len()] = [$(Status::$variant),+];

            /// The C macro name, e.g. `TT_ERR_CHECKSUM`; NUL-terminated for the C ABI.
            pub fn c_name(self) -> &'static str {
                match self {
                    $(Status::$variant => concat!(stringify!($code), "\0"),)+
                }
            }
        }
    };
}

status_table! {
    Ok = TT_OK,
    NullArg = TT_ERR_NULL_ARG,
    Length = TT_ERR_LENGTH,
    Shape = TT_ERR_SHAPE,
    InputValue = TT_ERR_INPUT_VALUE,
    Io = TT_ERR_IO,
    BadMagic = TT_ERR_BAD_MAGIC,
    Version = TT_ERR_VERSION,
    Endian = TT_ERR_ENDIAN,
    Truncated = TT_ERR_TRUNCATED,
    TrailingBytes = TT_ERR_TRAILING_BYTES,
    Checksum = TT_ERR_CHECKSUM,
    Bounds = TT_ERR_BOUNDS,
    Layout = TT_ERR_LAYOUT,
    Limit = TT_ERR_LIMIT,
    Graph = TT_ERR_GRAPH,
    Corrupt = TT_ERR_CORRUPT,
    Flags = TT_ERR_FLAGS,
    Panic = TT_ERR_PANIC,
    NotFound = TT_ERR_NOT_FOUND,
    Alignment = TT_ERR_ALIGNMENT,
    Unsigned = TT_ERR_UNSIGNED,
    KeyMismatch = TT_ERR_KEY_MISMATCH,
    BadSignature = TT_ERR_BAD_SIGNATURE,
    NoKey = TT_ERR_NO_KEY,
}

impl Status {
    /// The status with this stable code, if the library defines it.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as i32 == code)
    }

    /// The macro name without the trailing NUL.
    pub fn name(self) -> &'static str {
        let n = self.c_name();
        &n[..n.len() - 1]
    }
}

/// A failure with everything a caller needs to locate it. `row`/`column` are -1 when they do
/// not apply; `byte_offset` is the file offset of the offending field (0 when not applicable).
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub status: Status,
    pub message: String,
    pub row: i64,
    pub column: i64,
    pub byte_offset: u64,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
            row: -1,
            column: -1,
            byte_offset: 0,
        }
    }

    /// An error about the file field at `offset`.
    pub fn at(status: Status, offset: u64, message: impl Into<String>) -> Error {
        Error {
            byte_offset: offset,
            ..Error::new(status, message)
        }
    }

    /// An input error at `row`, `column`.
    pub fn cell(status: Status, row: usize, column: usize, message: impl Into<String>) -> Error {
        Error {
            row: row as i64,
            column: column as i64,
            ..Error::new(status, message)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
