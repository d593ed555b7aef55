//! Complete validation of a `.ttm` image: one pure function over `&[u8]`.
//!
//! Everything the traversal relies on is checked here, once, before any prediction can run:
//! magic, version, endianness, exact length, CRC, every offset and length (checked arithmetic),
//! section order, alignment and zero padding, caps, every child index (in range, greater than its
//! parent, exactly one parent per node), every feature index, leaf indices and labels,
//! probabilities (finite, in [0, 1], equal to the counts they derive from), the recorded
//! missing-value directions, depth, and every string (UTF-8, no interior NUL, sorted index).
//! Checks use plain `if`s that return errors: nothing here can panic on hostile input.
//!
//! This module checks the header, the section table and the text sections; `tree` checks the
//! node graph, statistics and leaves; `strings` the string tables and texts.

use crate::error::{Error, Result, Status};
use crate::format::*;
use zerocopy::FromBytes;

mod strings;
mod tree;

use strings::{check_string_table, check_text};
use tree::check_tree;

/// Where the sections of a validated image are, and its header counts. Only [`validate`]
/// creates one (the fields are private), so holding a `Layout` for some bytes means those bytes
/// passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    model_len: usize,
    n_features: u32,
    n_classes: u32,
    n_nodes: u32,
    n_leaves: u32,
    max_depth: u32,
    flags: u32,
    format_minor: u16,
    crc32: u32,
    sections: [(usize, usize); N_SECTIONS],
    has_signature: bool,
    /// Expected path length of a training row (from the node sample counts), in 1/256 units.
    expected_path_256: u32,
}

impl Layout {
    /// Length of the model proper (the header's `file_len`), excluding any signature trailer.
    pub fn model_len(&self) -> usize {
        self.model_len
    }
    pub fn n_features(&self) -> u32 {
        self.n_features
    }
    pub fn n_classes(&self) -> u32 {
        self.n_classes
    }
    pub fn n_nodes(&self) -> u32 {
        self.n_nodes
    }
    pub fn n_leaves(&self) -> u32 {
        self.n_leaves
    }
    /// Expected path length of a training row: `sum over leaves of depth * n_samples / n_root`
    /// from the stats section (the root's depth is 0).
    pub fn expected_path(&self) -> f64 {
        f64::from(self.expected_path_256) / 256.0
    }
    pub fn max_depth(&self) -> u32 {
        self.max_depth
    }
    /// The header flags (only known bits are ever set).
    pub fn flags(&self) -> u32 {
        self.flags
    }
    pub fn format_minor(&self) -> u16 {
        self.format_minor
    }
    /// The CRC-32 stored in the header (equal to the bytes' CRC).
    pub fn crc32(&self) -> u32 {
        self.crc32
    }
    /// `(offset, length)` of section `k` (`SEC_*`, in [`SECTION_NAMES`] order). Panics if
    /// `k >= N_SECTIONS`.
    pub fn section(&self, k: usize) -> (usize, usize) {
        self.sections[k]
    }
    /// Whether a signature trailer follows the model (it is only *checked* by
    /// `crate::signature::verify`).
    pub fn has_signature(&self) -> bool {
        self.has_signature
    }
}

fn corrupt(offset: usize, msg: String) -> Error {
    Error::at(Status::Corrupt, offset as u64, msg)
}

fn read_header(bytes: &[u8]) -> Result<RawHeader> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(Error::at(
            Status::BadMagic,
            field::MAGIC,
            format!(
                "not a thetatree model: the first bytes are {:02x?}, expected {:02x?} (\"TTMODEL\\0\")",
                &bytes[..n],
                MAGIC
            ),
        ));
    }
    match RawHeader::read_from_prefix(bytes) {
        Ok((h, _)) => Ok(h),
        Err(_) => Err(Error::at(
            Status::Truncated,
            bytes.len() as u64,
            format!(
                "truncated: {} bytes, shorter than the {HEADER_LEN}-byte header",
                bytes.len()
            ),
        )),
    }
}

/// Validate a complete image (model, optionally followed by a signature trailer).
pub fn validate(bytes: &[u8]) -> Result<Layout> {
    let h = read_header(bytes)?;
    check_identity(&h)?;
    let (model_len, has_signature) = model_extent(bytes, &h)?;
    let model = &bytes[..model_len];
    let crc32 = check_crc(model, &h)?;
    check_header_fields(&h)?;
    let layout = Layout {
        model_len,
        n_features: h.n_features.get(),
        n_classes: h.n_classes.get(),
        n_nodes: h.n_nodes.get(),
        n_leaves: h.n_leaves.get(),
        max_depth: h.max_depth.get(),
        flags: h.flags.get(),
        format_minor: h.format_minor.get(),
        crc32,
        sections: section_table(model, &h)?,
        has_signature,
        expected_path_256: 0,
    };
    let expected_path_256 = check_tree(model, &layout)?;
    let layout = Layout {
        expected_path_256,
        ..layout
    };
    check_text_sections(model, &layout)?;
    Ok(layout)
}

/// The format version, the endianness tag and the header length.
fn check_identity(h: &RawHeader) -> Result<()> {
    let major = h.format_major.get();
    if major != FORMAT_MAJOR {
        return Err(Error::at(
            Status::Version,
            field::FORMAT_MAJOR,
            format!(
                "unsupported format version {major}.{} (this library reads {FORMAT_MAJOR}.x)",
                h.format_minor.get()
            ),
        ));
    }
    let tag = h.endian_tag.get();
    if tag != ENDIAN_TAG {
        return Err(Error::at(
            Status::Endian,
            field::ENDIAN_TAG,
            format!("endianness tag reads 0x{tag:08x}, expected 0x{ENDIAN_TAG:08x} (file is not little-endian .ttm)"),
        ));
    }
    if h.header_len.get() as usize != HEADER_LEN {
        return Err(Error::at(
            Status::Layout,
            field::HEADER_LEN,
            format!(
                "header_len is {}, expected {HEADER_LEN}",
                h.header_len.get()
            ),
        ));
    }
    Ok(())
}

/// The model's length (the header's `file_len`, within the caps and the bytes given) and
/// whether a signature trailer follows it; anything else after the model is refused.
fn model_extent(bytes: &[u8], h: &RawHeader) -> Result<(usize, bool)> {
    let file_len = h.file_len.get();
    if file_len > MAX_FILE_LEN {
        return Err(Error::at(
            Status::Limit,
            field::FILE_LEN,
            format!("file_len {file_len} exceeds the cap of {MAX_FILE_LEN} bytes"),
        ));
    }
    if file_len < HEADER_LEN as u64 {
        return Err(Error::at(
            Status::Layout,
            field::FILE_LEN,
            format!("file_len {file_len} is shorter than the header"),
        ));
    }
    if (bytes.len() as u64) < file_len {
        return Err(Error::at(
            Status::Truncated,
            bytes.len() as u64,
            format!(
                "truncated: the header declares {file_len} bytes but only {} are present",
                bytes.len()
            ),
        ));
    }
    let model_len = file_len as usize;
    let has_signature = if bytes.len() == model_len {
        false
    } else if is_trailer(&bytes[model_len..], file_len) {
        true
    } else {
        return Err(Error::at(
            Status::TrailingBytes,
            file_len,
            format!(
                "{} unexpected bytes after the declared end of the model at offset {file_len}",
                bytes.len() - model_len
            ),
        ));
    };
    Ok((model_len, has_signature))
}

/// The header's CRC against the model's bytes; returns it.
fn check_crc(model: &[u8], h: &RawHeader) -> Result<u32> {
    let crc = model_crc(model);
    if crc != h.crc32.get() {
        return Err(Error::at(
            Status::Checksum,
            field::CRC32,
            format!(
                "checksum mismatch: header says 0x{:08x}, the bytes give 0x{crc:08x} (file corrupted)",
                h.crc32.get()
            ),
        ));
    }
    Ok(crc)
}

/// Flags, reserved fields, the section count and the header's counts against the caps.
fn check_header_fields(h: &RawHeader) -> Result<()> {
    let flags = h.flags.get();
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Error::at(
            Status::Version,
            field::FLAGS,
            format!("header flags 0x{flags:08x} use bits this library does not know"),
        ));
    }
    if h.reserved.get() != 0 {
        return Err(Error::at(
            Status::Layout,
            field::RESERVED,
            "reserved header field is not zero",
        ));
    }
    if h.n_sections.get() as usize != N_SECTIONS {
        return Err(Error::at(
            Status::Layout,
            field::N_SECTIONS,
            format!(
                "n_sections is {}, expected {N_SECTIONS}",
                h.n_sections.get()
            ),
        ));
    }
    let (n_features, n_classes, n_nodes, n_leaves, max_depth) = (
        h.n_features.get(),
        h.n_classes.get(),
        h.n_nodes.get(),
        h.n_leaves.get(),
        h.max_depth.get(),
    );
    if n_classes != N_CLASSES {
        return Err(Error::at(
            Status::Corrupt,
            field::N_CLASSES,
            format!("n_classes is {n_classes}; only binary models (2) exist"),
        ));
    }
    if n_nodes == 0 {
        return Err(Error::at(
            Status::Graph,
            field::N_NODES,
            "the model has no nodes",
        ));
    }
    if n_nodes > MAX_NODES {
        return Err(Error::at(
            Status::Limit,
            field::N_NODES,
            format!("n_nodes {n_nodes} exceeds the cap of {MAX_NODES}"),
        ));
    }
    if n_features > MAX_FEATURES {
        return Err(Error::at(
            Status::Limit,
            field::N_FEATURES,
            format!("n_features {n_features} exceeds the cap of {MAX_FEATURES}"),
        ));
    }
    if max_depth > MAX_DEPTH {
        return Err(Error::at(
            Status::Limit,
            field::MAX_DEPTH,
            format!("max_depth {max_depth} exceeds the cap of {MAX_DEPTH}"),
        ));
    }
    if n_leaves == 0 || n_leaves > n_nodes {
        return Err(Error::at(
            Status::Corrupt,
            field::N_LEAVES,
            format!("n_leaves {n_leaves} is impossible for {n_nodes} nodes"),
        ));
    }
    Ok(())
}

/// The section table: contiguous, 8-aligned, zero padding, exact fixed-size lengths, ending
/// at `file_len`. Returns `(offset, length)` per section.
fn section_table(model: &[u8], h: &RawHeader) -> Result<[(usize, usize); N_SECTIONS]> {
    let file_len = h.file_len.get();
    let mut sections = [(0usize, 0usize); N_SECTIONS];
    let mut expected = HEADER_LEN as u64;
    for (k, section) in sections.iter_mut().enumerate() {
        let (off, len, next) = section_entry(model, h, k, expected)?;
        *section = (off as usize, len as usize);
        expected = next;
    }
    if expected != file_len {
        return Err(Error::at(
            Status::Layout,
            expected,
            format!(
                "{} bytes after the last section are not described by the section table",
                file_len - expected
            ),
        ));
    }

    Ok(sections)
}

/// The length the header's counts fix for section `k` (`None` for variable-length sections).
fn fixed_section_len(h: &RawHeader, k: usize) -> Option<u64> {
    let (n_nodes, n_leaves, n_classes) = (h.n_nodes.get(), h.n_leaves.get(), h.n_classes.get());
    match k {
        SEC_NODES => Some(n_nodes as u64 * NODE_SIZE as u64),
        SEC_STATS => Some(n_nodes as u64 * STATS_SIZE as u64),
        SEC_PROBS => Some(n_leaves as u64 * n_classes as u64 * 8),
        _ => None,
    }
}

/// Section table entry `k`, which must start at `expected`: `(offset, length, next expected
/// offset)` after checking its bounds, its fixed length and its zero padding.
fn section_entry(model: &[u8], h: &RawHeader, k: usize, expected: u64) -> Result<(u64, u64, u64)> {
    let file_len = h.file_len.get();
    let entry = field::SECTIONS + 16 * k as u64;
    let off = h.sections[k].offset.get();
    let len = h.sections[k].length.get();
    let name = SECTION_NAMES[k];
    let end = off.checked_add(len).ok_or_else(|| {
        Error::at(
            Status::Bounds,
            entry,
            format!("{name} section: offset {off} + length {len} overflows"),
        )
    })?;
    if off > file_len || end > file_len {
        return Err(Error::at(
            Status::Bounds,
            entry,
            format!("{name} section [{off}, {end}) lies outside the {file_len}-byte file"),
        ));
    }
    if off != expected {
        return Err(Error::at(
            Status::Layout,
            entry,
            format!("{name} section starts at {off}, expected {expected} (sections must be contiguous and 8-aligned)"),
        ));
    }
    if let Some(want) = fixed_section_len(h, k) {
        if len != want {
            return Err(Error::at(
                Status::Layout,
                entry + 8,
                format!("{name} section is {len} bytes, expected {want} for the header's counts"),
            ));
        }
    }
    let next = (end + 7) & !7;
    if next > file_len {
        return Err(Error::at(
            Status::Bounds,
            entry,
            format!("{name} section padding runs past the end of the file"),
        ));
    }
    if let Some(p) = model[end as usize..next as usize]
        .iter()
        .position(|&b| b != 0)
    {
        return Err(Error::at(
            Status::Layout,
            end + p as u64,
            format!("non-zero padding byte after the {name} section"),
        ));
    }
    Ok((off, len, next))
}

/// The string sections: class labels and feature names (string tables), the model version
/// and the metadata (a JSON object, nesting checked before parsing).
fn check_text_sections(model: &[u8], l: &Layout) -> Result<()> {
    let (off, len) = l.sections[SEC_CLASS_LABELS];
    check_string_table(
        &model[off..off + len],
        off,
        l.n_classes as usize,
        "class labels",
    )?;
    let (off, len) = l.sections[SEC_FEATURE_NAMES];
    check_string_table(
        &model[off..off + len],
        off,
        l.n_features as usize,
        "feature names",
    )?;
    let (off, len) = l.sections[SEC_MODEL_VERSION];
    check_text(
        &model[off..off + len],
        off,
        MAX_VERSION_LEN,
        "model version",
    )?;
    let (off, len) = l.sections[SEC_METADATA];
    let text = check_text(&model[off..off + len], off, MAX_METADATA_LEN, "metadata")?;
    if json_nesting_depth(text) > MAX_METADATA_NESTING {
        return Err(corrupt(
            off,
            format!("metadata JSON is nested deeper than {MAX_METADATA_NESTING} levels"),
        ));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => {}
        Ok(_) => return Err(corrupt(off, "metadata is not a JSON object".into())),
        Err(e) => return Err(corrupt(off, format!("metadata is not valid JSON: {e}"))),
    }
    Ok(())
}

/// Deepest nesting the metadata JSON may have (checked before parsing it, so that parsing cannot
/// recurse deeply).
pub const MAX_METADATA_NESTING: usize = 64;

/// Deepest `[`/`{` nesting of a JSON text (strings skipped), computed without recursion.
pub fn json_nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &b in text.as_bytes() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Leaf probabilities exactly as the reference computes them: `c / (c0 + c1)` in f64, or
/// `[0.5, 0.5]` when the total is zero.
pub fn leaf_probabilities(c: [f64; 2]) -> [f64; 2] {
    let total = c[0] + c[1];
    if total == 0.0 {
        [0.5, 0.5]
    } else {
        [c[0] / total, c[1] / total]
    }
}

/// The reference's leaf label: argmax of the counts, class 0 on a tie.
pub fn leaf_label(c: [f64; 2]) -> u32 {
    u32::from(c[1] > c[0])
}
