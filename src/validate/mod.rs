//! Complete validation of a `.ttm` image: one pure function over `&[u8]`.
//!
//! Everything the traversal relies on is checked here, once, before any prediction can run:
//! magic, version, endianness, exact length, CRC, every offset and length (checked arithmetic),
//! section order, alignment and zero padding, caps, every child index (in range, greater than its
//! parent, exactly one parent per node), every feature index, leaf indices and labels,
//! probabilities (finite, in [0, 1], equal to the counts they derive from), the recorded
//! missing-value directions, depth, and every string (UTF-8, no interior NUL, sorted index).
//! Checks use plain `if`s that return errors: nothing here can panic on hostile input.

use crate::error::{Error, Result, Status};
use crate::format::*;
use zerocopy::FromBytes;

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
    let model = &bytes[..model_len];
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

    // Section table: contiguous, 8-aligned, zero padding, exact fixed-size lengths.
    let fixed_len = [
        Some(n_nodes as u64 * NODE_SIZE as u64),
        Some(n_nodes as u64 * STATS_SIZE as u64),
        Some(n_leaves as u64 * n_classes as u64 * 8),
        None,
        None,
        None,
        None,
    ];
    let mut sections = [(0usize, 0usize); N_SECTIONS];
    let mut expected = HEADER_LEN as u64;
    for k in 0..N_SECTIONS {
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
        if let Some(want) = fixed_len[k] {
            if len != want {
                return Err(Error::at(
                    Status::Layout,
                    entry + 8,
                    format!(
                        "{name} section is {len} bytes, expected {want} for the header's counts"
                    ),
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
        sections[k] = (off as usize, len as usize);
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

    let layout = Layout {
        model_len,
        n_features,
        n_classes,
        n_nodes,
        n_leaves,
        max_depth,
        flags,
        format_minor: h.format_minor.get(),
        crc32: crc,
        sections,
        has_signature,
    };
    check_tree(model, &layout)?;
    let (off, len) = sections[SEC_CLASS_LABELS];
    check_string_table(
        &model[off..off + len],
        off,
        n_classes as usize,
        "class labels",
    )?;
    let (off, len) = sections[SEC_FEATURE_NAMES];
    check_string_table(
        &model[off..off + len],
        off,
        n_features as usize,
        "feature names",
    )?;
    let (off, len) = sections[SEC_MODEL_VERSION];
    check_text(
        &model[off..off + len],
        off,
        MAX_VERSION_LEN,
        "model version",
    )?;
    let (off, len) = sections[SEC_METADATA];
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
    Ok(layout)
}

/// A split whose missing-value direction is yet to be compared with its children's counts.
struct PendingSplit {
    parent: usize,
    right: usize,
    missing_right: bool,
    n_left: f64,
}

impl PendingSplit {
    /// The missing direction must name the child with more training samples (left on a tie).
    fn check(&self, n_right: f64, node_at: &impl Fn(usize, usize) -> u64) -> Result<()> {
        let (i, nl, nr) = (self.parent, self.n_left, n_right);
        if self.missing_right != (nr > nl) {
            return Err(Error::at(
                Status::Corrupt,
                node_at(i, 0),
                format!("node {i}: missing-value direction disagrees with the children's sample counts ({nl} left, {nr} right)"),
            ));
        }
        Ok(())
    }
}

fn check_tree(model: &[u8], l: &Layout) -> Result<()> {
    let (noff, nlen) = l.sections[SEC_NODES];
    let (soff, slen) = l.sections[SEC_STATS];
    let (poff, plen) = l.sections[SEC_PROBS];
    let (nodes, stats, probs) = match (
        <[RawNode]>::ref_from_bytes(&model[noff..noff + nlen]),
        <[RawStats]>::ref_from_bytes(&model[soff..soff + slen]),
        <[zerocopy::little_endian::F64]>::ref_from_bytes(&model[poff..poff + plen]),
    ) {
        (Ok(n), Ok(s), Ok(p)) => (n, s, p),
        _ => {
            return Err(corrupt(
                noff,
                "section lengths are not whole records".into(),
            ))
        }
    };
    let n = nodes.len();
    let node_at = |i: usize, word: usize| (noff + i * NODE_SIZE + 4 * word) as u64;
    let stat_at = |i: usize| (soff + i * STATS_SIZE) as u64;
    // depth[i] == u32::MAX until node i is claimed by a parent (the root is claimed by itself).
    let mut depth = vec![u32::MAX; n];
    depth[0] = 0;
    let mut max_depth = 0u32;
    let mut next_leaf = 0u32;
    let left_adjacent = l.flags & FLAG_LEFT_ADJACENT != 0;
    // Splits whose missing direction is checked when their right child is reached; in a
    // pre-order tree this is a stack no deeper than the tree.
    let mut pending: Vec<PendingSplit> =
        Vec::with_capacity(l.max_depth.min(MAX_DEPTH) as usize + 1);
    for i in 0..n {
        let node = &nodes[i];
        let d = depth[i];
        if d == u32::MAX {
            return Err(Error::at(
                Status::Graph,
                node_at(i, 0),
                format!("node {i} is unreachable: no parent points to it"),
            ));
        }
        let st = &stats[i];
        let ns = st.n_samples.get();
        let (c0, c1) = (st.count_neg.get(), st.count_pos.get());
        if !(ns.is_finite() && ns >= 0.0) {
            return Err(Error::at(
                Status::Corrupt,
                stat_at(i),
                format!("node {i}: n_samples {ns} is not a finite non-negative number"),
            ));
        }
        if pending.last().is_some_and(|p| p.right == i) {
            if let Some(p) = pending.pop() {
                p.check(ns, &node_at)?;
            }
        }
        match node.tag.get() {
            TAG_SPLIT_MISSING_LEFT | TAG_SPLIT_MISSING_RIGHT => {
                let (f, left, right) = (node.a.get(), node.b.get() as usize, node.c.get() as usize);
                if f >= l.n_features {
                    return Err(Error::at(
                        Status::Corrupt,
                        node_at(i, 1),
                        format!(
                            "node {i}: feature index {f} is out of range (n_features = {})",
                            l.n_features
                        ),
                    ));
                }
                for (word, c, side) in [(2, left, "left"), (3, right, "right")] {
                    if c <= i || c >= n {
                        return Err(Error::at(
                            Status::Graph,
                            node_at(i, word),
                            format!("node {i}: {side} child {c} must be greater than {i} and less than {n}"),
                        ));
                    }
                    if depth[c] != u32::MAX {
                        return Err(Error::at(
                            Status::Graph,
                            node_at(i, word),
                            format!("node {c} has two parents (second: node {i})"),
                        ));
                    }
                    depth[c] = d + 1;
                }
                if d + 1 > MAX_DEPTH {
                    return Err(Error::at(
                        Status::Limit,
                        node_at(i, 0),
                        format!("tree depth exceeds the cap of {MAX_DEPTH}"),
                    ));
                }
                if left_adjacent && left != i + 1 {
                    return Err(Error::at(Status::Layout, node_at(i, 2), format!("node {i}: left child {left} is not at {} as the header's pre-order flag promises", i + 1)));
                }
                let split = PendingSplit {
                    parent: i,
                    right,
                    missing_right: node.tag.get() == TAG_SPLIT_MISSING_RIGHT,
                    n_left: stats[left].n_samples.get(),
                };
                if left_adjacent {
                    // Pre-order: the right child follows the whole left subtree; compare when
                    // the walk reaches it (a sequential read, not a cache miss into the stats).
                    pending.push(split);
                } else {
                    split.check(stats[right].n_samples.get(), &node_at)?;
                }
                let counts_ok = (c0.is_finite() && c0 >= 0.0 && c1.is_finite() && c1 >= 0.0)
                    || (c0.is_nan() && c1.is_nan());
                if !counts_ok {
                    return Err(Error::at(
                        Status::Corrupt,
                        stat_at(i) + 8,
                        format!("node {i}: class counts [{c0}, {c1}] are invalid"),
                    ));
                }
            }
            TAG_LEAF => {
                max_depth = max_depth.max(d);
                let (leaf, label, pad) = (node.a.get(), node.b.get(), node.c.get());
                if leaf != next_leaf {
                    return Err(Error::at(Status::Corrupt, node_at(i, 1), format!("node {i}: leaf index {leaf}, expected {next_leaf} (leaves are numbered in node order)")));
                }
                next_leaf += 1;
                if label >= l.n_classes {
                    return Err(Error::at(
                        Status::Corrupt,
                        node_at(i, 2),
                        format!("node {i}: class label {label} is out of range"),
                    ));
                }
                if pad != 0 {
                    return Err(Error::at(
                        Status::Layout,
                        node_at(i, 3),
                        format!("node {i}: reserved leaf word is not zero"),
                    ));
                }
                if !(c0.is_finite() && c0 >= 0.0 && c1.is_finite() && c1 >= 0.0) {
                    return Err(Error::at(Status::Corrupt, stat_at(i) + 8, format!("leaf node {i}: class counts [{c0}, {c1}] are not finite non-negative numbers")));
                }
                let pi = 2 * leaf as usize;
                if pi + 1 >= probs.len() {
                    return Err(Error::at(
                        Status::Corrupt,
                        node_at(i, 1),
                        format!(
                            "node {i}: leaf index {leaf} exceeds n_leaves {}",
                            l.n_leaves
                        ),
                    ));
                }
                let (p0, p1) = (probs[pi].get(), probs[pi + 1].get());
                let p_at = (poff + 8 * pi) as u64;
                for (k, p) in [(0, p0), (1, p1)] {
                    if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                        return Err(Error::at(Status::Corrupt, p_at + 8 * k, format!("leaf {leaf}: probability {p} of class {k} is not a finite number in [0, 1]")));
                    }
                }
                let want = leaf_probabilities([c0, c1]);
                if [p0.to_bits(), p1.to_bits()] != [want[0].to_bits(), want[1].to_bits()] {
                    return Err(Error::at(Status::Corrupt, p_at, format!("leaf {leaf}: probabilities [{p0}, {p1}] do not equal the class counts' [{}, {}]", want[0], want[1])));
                }
                if label != leaf_label([c0, c1]) {
                    return Err(Error::at(Status::Corrupt, node_at(i, 2), format!("node {i}: label {label} is not the majority class of counts [{c0}, {c1}]")));
                }
            }
            t => {
                return Err(Error::at(
                    Status::Graph,
                    node_at(i, 0),
                    format!("node {i}: unknown node tag {t}"),
                ));
            }
        }
    }
    // Left-adjacent but not in pre-order (right children reached out of stack order): check
    // the rest directly.
    for p in pending {
        p.check(stats[p.right].n_samples.get(), &node_at)?;
    }
    if next_leaf != l.n_leaves {
        return Err(Error::at(
            Status::Corrupt,
            field::N_LEAVES,
            format!(
                "header says {} leaves, the node array has {next_leaf}",
                l.n_leaves
            ),
        ));
    }
    if max_depth != l.max_depth {
        return Err(Error::at(
            Status::Corrupt,
            field::MAX_DEPTH,
            format!(
                "header says max_depth {}, the tree's depth is {max_depth}",
                l.max_depth
            ),
        ));
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

/// Check a NUL-terminated UTF-8 text section; returns the text without its NUL.
fn check_text<'a>(sec: &'a [u8], off: usize, cap: usize, what: &str) -> Result<&'a str> {
    let Some((&0, body)) = sec.split_last() else {
        return Err(corrupt(off, format!("{what} is not NUL-terminated")));
    };
    if body.len() > cap {
        return Err(Error::at(
            Status::Limit,
            off as u64,
            format!("{what} is {} bytes, above the cap of {cap}", body.len()),
        ));
    }
    if let Some(p) = body.iter().position(|&b| b == 0) {
        return Err(corrupt(off + p, format!("{what} contains a NUL byte")));
    }
    std::str::from_utf8(body)
        .map_err(|e| corrupt(off + e.valid_up_to(), format!("{what} is not valid UTF-8")))
}

fn u32_at(sec: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([sec[4 * i], sec[4 * i + 1], sec[4 * i + 2], sec[4 * i + 3]])
}

/// Check a string table of `n` strings (layout in [`crate::format`]).
fn check_string_table(sec: &[u8], off: usize, n: usize, what: &str) -> Result<()> {
    let index_len = 8 * n;
    if sec.len() < index_len {
        return Err(Error::at(
            Status::Layout,
            off as u64,
            format!(
                "{what}: section of {} bytes cannot hold the index of {n} strings",
                sec.len()
            ),
        ));
    }
    let blob = &sec[index_len..];
    let blob_off = off + index_len;
    let mut start = 0usize;
    for i in 0..n {
        let end = u32_at(sec, i) as usize;
        let at = (off + 4 * i) as u64;
        if end <= start || end > blob.len() {
            return Err(Error::at(
                Status::Bounds,
                at,
                format!(
                    "{what}: string {i} ends at {end}, outside ({start}, {}]",
                    blob.len()
                ),
            ));
        }
        let s = &blob[start..end];
        if end - start - 1 > MAX_NAME_LEN {
            return Err(Error::at(
                Status::Limit,
                at,
                format!(
                    "{what}: string {i} is {} bytes, above the cap of {MAX_NAME_LEN}",
                    end - start - 1
                ),
            ));
        }
        check_text(s, blob_off + start, MAX_NAME_LEN, what)?;
        start = end;
    }
    if start != blob.len() {
        return Err(Error::at(
            Status::Layout,
            (blob_off + start) as u64,
            format!("{what}: {} bytes after the last string", blob.len() - start),
        ));
    }
    let name = |i: usize| -> &[u8] {
        let s = if i == 0 {
            0
        } else {
            u32_at(sec, i - 1) as usize
        };
        &blob[s..u32_at(sec, i) as usize - 1]
    };
    let mut prev: Option<usize> = None;
    for k in 0..n {
        let at = (off + 4 * (n + k)) as u64;
        let idx = u32_at(sec, n + k) as usize;
        if idx >= n {
            return Err(Error::at(
                Status::Corrupt,
                at,
                format!("{what}: sorted index entry {k} is {idx}, out of range"),
            ));
        }
        if let Some(p) = prev {
            if name(p) >= name(idx) {
                return Err(Error::at(Status::Corrupt, at, format!("{what}: sorted index is not strictly increasing at entry {k} (duplicate or unsorted name)")));
            }
        }
        prev = Some(idx);
    }
    Ok(())
}
