//! A loaded model: the bytes (memory map, owned aligned buffer, or borrowed caller memory) and
//! the [`Layout`] that [`validate`] produced for them. Every accessor here is safe because the
//! layout was checked against exactly these bytes, which never change while the model lives.

use crate::error::{Error, Result, Status};
use crate::format::*;
use crate::signature;
use crate::traverse::{Kernel, NativeCode, Tree, NATIVE_MAX_NODES};
use crate::validate::{validate, Layout};
use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// How a model's bytes are held.
enum Storage {
    /// Read-only memory map. The file must not be modified in place while mapped.
    Mmap(memmap2::Mmap),
    /// Owned copy, in a `u64` buffer so that it is 8-aligned; `len` is the byte length.
    Owned { buf: Vec<u64>, len: usize },
    /// Caller memory that the caller keeps alive and unchanged until the model is freed.
    Borrowed { ptr: *const u8, len: usize },
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mmap(m) => m,
            Storage::Owned { buf, len } => &zerocopy::IntoBytes::as_bytes(buf.as_slice())[..*len],
            // SAFETY: `Model::from_borrowed`'s contract: `ptr` is valid for `len` bytes, non-null
            // and unchanged for the model's whole life.
            Storage::Borrowed { ptr, len } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }
}

fn owned_copy(bytes: &[u8]) -> Storage {
    let mut buf = vec![0u64; bytes.len().div_ceil(8)];
    zerocopy::IntoBytes::as_mut_bytes(buf.as_mut_slice())[..bytes.len()].copy_from_slice(bytes);
    Storage::Owned {
        buf,
        len: bytes.len(),
    }
}

/// Options for [`Model::open`] and [`Model::from_bytes_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions<'k> {
    /// Read the file into memory instead of mapping it (immune to later changes of the file).
    pub copy: bool,
    /// Verify the HMAC-SHA256 signature with this key before parsing.
    pub verify_key: Option<&'k [u8]>,
    /// Never generate native code (feature `native`): always walk with the interpreter.
    pub interpret: bool,
}

impl<'k> OpenOptions<'k> {
    /// These options with [`OpenOptions::interpret`] set to `on`.
    pub fn interpret(mut self, on: bool) -> OpenOptions<'k> {
        self.interpret = on;
        self
    }
}

/// Trees of at most this many nodes get native code whatever their shape (see [`wants_native`]).
pub const NATIVE_SMALL_TREE: usize = 1024;

/// Whether a tree gets native code at load: when the build has the native kernel, the tree is
/// at most [`NATIVE_MAX_NODES`] nodes, and either the interpreter would walk it branchy (chains
/// and ragged trees, where the immediate-offset loads of the native code win: 0.8-1.2x a
/// gcc -O3 if/else against 1.3-2.5x for the branchy walk) or it is small (at most
/// [`NATIVE_SMALL_TREE`] nodes). Measured on issue 12's balanced families (three runs, int8 rows
/// from memory, ratio to the if/else): depth 6 (127 nodes) native 0.74-0.85 vs branch-free
/// 0.81-0.91; depth 12 (8,191 nodes) native 0.89-0.95 vs branch-free 0.72-0.85, so larger
/// balanced trees keep the interleaved branch-free walk (see `benches/README.md`).
pub fn wants_native(tree: &Tree<'_>, n_nodes: usize) -> bool {
    crate::traverse::NATIVE_AVAILABLE
        && n_nodes <= NATIVE_MAX_NODES
        && (tree.interpreter_kernel() == Kernel::Branchy || n_nodes <= NATIVE_SMALL_TREE)
}

/// An immutable, validated model. `Send + Sync`: any number of threads may predict at once.
pub struct Model {
    storage: Storage,
    layout: Layout,
    digest: OnceLock<[u8; 32]>,
    /// Machine code generated from this model's tree at load (the `native` kernel), if any.
    /// It lives exactly as long as the model.
    native: Option<NativeCode>,
}

// SAFETY: the only non-thread-safe member is the borrowed pointer, which is only ever read, and
// whose memory the caller promised to keep alive and unchanged (see `from_borrowed`).
unsafe impl Send for Model {}
// SAFETY: as above; all access is read-only, and `digest` is a `OnceLock`.
unsafe impl Sync for Model {}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(
        Status::Io,
        format!("{}: cannot {what}: {e}", path.display()),
    )
}

impl Model {
    fn from_storage(storage: Storage, verify_key: Option<&[u8]>, interpret: bool) -> Result<Model> {
        if let Some(key) = verify_key {
            signature::verify(storage.bytes(), key)?;
        }
        let layout = validate(storage.bytes())?;
        let mut model = Model {
            storage,
            layout,
            digest: OnceLock::new(),
            native: None,
        };
        if !interpret {
            let tree = model.tree();
            if wants_native(&tree, model.n_nodes()) {
                model.native = NativeCode::generate(&tree);
            }
        }
        Ok(model)
    }

    /// Validate a copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        Model::from_bytes_verified(bytes, None)
    }

    pub fn from_bytes_verified(bytes: &[u8], verify_key: Option<&[u8]>) -> Result<Model> {
        Model::from_bytes_with(
            bytes,
            OpenOptions {
                verify_key,
                ..OpenOptions::default()
            },
        )
    }

    /// Validate a copy of `bytes` with `opts` (`copy` does not apply: bytes are always copied).
    pub fn from_bytes_with(bytes: &[u8], opts: OpenOptions<'_>) -> Result<Model> {
        Model::check_image_len(bytes.len() as u64)?;
        Model::from_storage(owned_copy(bytes), opts.verify_key, opts.interpret)
    }

    /// Bytes of native machine code generated for this model at load; 0 when it walks with
    /// the interpreter (no `native` feature, [`OpenOptions::interpret`], a tree the choice
    /// leaves to the interpreter, or a refusal of the code generator or of executable memory).
    pub fn native_code_len(&self) -> usize {
        self.native.as_ref().map_or(0, NativeCode::code_len)
    }

    /// Generate native code for this model whatever the kernel choice (benchmarks and tests:
    /// e.g. to time it on balanced trees). Returns whether the model now has native code.
    pub fn force_native(&mut self) -> bool {
        if self.native.is_none() {
            let code = NativeCode::generate(&self.tree());
            self.native = code;
        }
        self.native.is_some()
    }

    /// The size cap of an image (a model of at most `MAX_FILE_LEN` bytes plus a signature
    /// trailer), checked before any byte is read.
    pub fn check_image_len(len: u64) -> Result<()> {
        if len > MAX_FILE_LEN + TRAILER_LEN as u64 {
            return Err(Error::new(
                Status::Limit,
                format!("{len} bytes exceed the cap of {MAX_FILE_LEN}"),
            ));
        }
        Ok(())
    }

    /// Validate caller memory in place, without copying.
    ///
    /// # Safety
    /// `ptr` must be non-null and valid for reads of `len` bytes (so `len <= isize::MAX`), and
    /// the memory must stay alive and unchanged until the returned model is dropped.
    pub unsafe fn from_borrowed(
        ptr: *const u8,
        len: usize,
        verify_key: Option<&[u8]>,
    ) -> Result<Model> {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { Model::from_borrowed_with(ptr, len, verify_key, false) }
    }

    /// [`Model::from_borrowed`], without native code when `interpret`.
    ///
    /// # Safety
    /// As for [`Model::from_borrowed`].
    pub unsafe fn from_borrowed_with(
        ptr: *const u8,
        len: usize,
        verify_key: Option<&[u8]>,
        interpret: bool,
    ) -> Result<Model> {
        Model::from_storage(Storage::Borrowed { ptr, len }, verify_key, interpret)
    }

    /// Open a model file: memory-mapped read-only, or copied into memory with `copy`.
    pub fn open(path: &Path, opts: OpenOptions<'_>) -> Result<Model> {
        let mut file = File::open(path).map_err(|e| io_error(path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| io_error(path, "stat", e))?
            .len();
        if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(Error::new(
                Status::Io,
                format!("{}: not a regular file", path.display()),
            ));
        }
        Model::check_image_len(len).map_err(|mut e| {
            e.message = format!("{}: {}", path.display(), e.message);
            e
        })?;
        let storage = if opts.copy || len == 0 {
            // Within the cap, so the casts below are lossless.
            let len = len as usize;
            let mut buf = vec![0u64; len.div_ceil(8)];
            let dst = &mut zerocopy::IntoBytes::as_mut_bytes(buf.as_mut_slice())[..len];
            file.read_exact(dst)
                .map_err(|e| io_error(path, "read", e))?;
            Storage::Owned { buf, len }
        } else {
            // SAFETY: the map is read-only; the documented deployment contract is that model files
            // are replaced by rename and never modified in place while loaded (README, header).
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io_error(path, "map", e))?;
            Storage::Mmap(map)
        };
        Model::from_storage(storage, opts.verify_key, opts.interpret).map_err(|mut e| {
            e.message = format!("{}: {}", path.display(), e.message);
            e
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The whole image as loaded (model plus any signature trailer).
    pub fn image(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// The model bytes proper (`file_len` bytes, no trailer).
    pub fn model_bytes(&self) -> &[u8] {
        &self.storage.bytes()[..self.layout.model_len()]
    }

    fn section(&self, k: usize) -> &[u8] {
        let (off, len) = self.layout.section(k);
        &self.storage.bytes()[off..off + len]
    }

    pub fn tree(&self) -> Tree<'_> {
        Tree::new(self.model_bytes(), &self.layout).with_native(self.native.as_ref())
    }

    pub fn n_features(&self) -> usize {
        self.layout.n_features() as usize
    }
    pub fn n_classes(&self) -> usize {
        self.layout.n_classes() as usize
    }
    pub fn n_nodes(&self) -> usize {
        self.layout.n_nodes() as usize
    }
    pub fn n_leaves(&self) -> usize {
        self.layout.n_leaves() as usize
    }
    pub fn max_depth(&self) -> usize {
        self.layout.max_depth() as usize
    }
    pub fn crc32(&self) -> u32 {
        self.layout.crc32()
    }
    pub fn is_signed(&self) -> bool {
        self.layout.has_signature()
    }
    pub fn is_mmapped(&self) -> bool {
        matches!(self.storage, Storage::Mmap(_))
    }

    /// SHA-256 of the model bytes, computed on first use.
    pub fn digest(&self) -> &[u8; 32] {
        self.digest
            .get_or_init(|| signature::digest(self.model_bytes()))
    }

    fn feature_table(&self) -> StringTable<'_> {
        StringTable::new(self.section(SEC_FEATURE_NAMES), self.n_features())
    }
    fn label_table(&self) -> StringTable<'_> {
        StringTable::new(self.section(SEC_CLASS_LABELS), self.n_classes())
    }

    /// Name of input column `i`, NUL-terminated.
    pub fn feature_name_c(&self, i: usize) -> Option<&CStr> {
        self.feature_table().get_c(i)
    }
    pub fn feature_name(&self, i: usize) -> Option<&str> {
        self.feature_name_c(i).map(cstr_str)
    }
    /// Column index of the feature called `name` (binary search over the sorted index).
    pub fn feature_index(&self, name: &[u8]) -> Option<usize> {
        self.feature_table().find(name)
    }
    pub fn class_label_c(&self, i: usize) -> Option<&CStr> {
        self.label_table().get_c(i)
    }
    pub fn class_label(&self, i: usize) -> Option<&str> {
        self.class_label_c(i).map(cstr_str)
    }
    pub fn model_version_c(&self) -> &CStr {
        validated_cstr(self.section(SEC_MODEL_VERSION))
    }
    pub fn model_version(&self) -> &str {
        cstr_str(self.model_version_c())
    }
    pub fn metadata_json_c(&self) -> &CStr {
        validated_cstr(self.section(SEC_METADATA))
    }
    pub fn metadata_json(&self) -> &str {
        cstr_str(self.metadata_json_c())
    }
}

/// A validated text section always ends in its only NUL and is UTF-8; the fallbacks below are
/// unreachable but keep these functions panic-free.
fn validated_cstr(sec: &[u8]) -> &CStr {
    CStr::from_bytes_with_nul(sec).unwrap_or(c"")
}
fn cstr_str(c: &CStr) -> &str {
    c.to_str().unwrap_or("")
}

/// Read access to a validated string table (layout in [`crate::format`]).
struct StringTable<'a> {
    index: &'a [u8],
    blob: &'a [u8],
    n: usize,
}

impl<'a> StringTable<'a> {
    fn new(sec: &'a [u8], n: usize) -> StringTable<'a> {
        let (index, blob) = sec.split_at(8 * n);
        StringTable { index, blob, n }
    }
    fn word(&self, i: usize) -> usize {
        let b = &self.index[4 * i..4 * i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }
    /// String `i` including its NUL.
    fn raw(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.word(i - 1) };
        &self.blob[start..self.word(i)]
    }
    fn get_c(&self, i: usize) -> Option<&'a CStr> {
        (i < self.n).then(|| validated_cstr(self.raw(i)))
    }
    fn find(&self, name: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let idx = self.word(self.n + mid);
            let s = self.raw(idx);
            match s[..s.len() - 1].cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(idx),
            }
        }
        None
    }
}
