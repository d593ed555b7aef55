//! The `.ttm` model file format, version 1.0: layout, constants, in-place record types and the
//! encoder. The decoder side (checks) lives in [`crate::validate`].
//!
//! All integers and floats are little-endian. Every record type here is `zerocopy`-readable in
//! place with alignment 1, so a model can be served straight from a memory map or from any byte
//! buffer, whatever its address.
//!
//! # Header (176 bytes)
//!
//! | offset | size | field | rule |
//! |---:|---:|---|---|
//! | 0 | 8 | magic | `b"TTMODEL\0"` |
//! | 8 | 2 | format_major | must equal [`FORMAT_MAJOR`] (1) |
//! | 10 | 2 | format_minor | any; newer minors only add meaning to reserved fields |
//! | 12 | 4 | endian_tag | `0x0A0B0C0D`, stored as bytes `0D 0C 0B 0A` |
//! | 16 | 4 | header_len | [`HEADER_LEN`] (176) |
//! | 20 | 4 | flags | bit 0 [`FLAG_LEFT_ADJACENT`]; other bits zero |
//! | 24 | 8 | file_len | exact length of the model in bytes (a signature trailer may follow) |
//! | 32 | 4 | crc32 | CRC-32 (IEEE) of bytes `[0,32)` followed by `[36,file_len)` |
//! | 36 | 4 | n_features | input width; `<=` [`MAX_FEATURES`] |
//! | 40 | 4 | n_classes | always 2 (binary trees, class 0 = negative) |
//! | 44 | 4 | n_nodes | `1..=`[`MAX_NODES`] |
//! | 48 | 4 | n_leaves | number of leaf nodes |
//! | 52 | 4 | max_depth | edges from the root to the deepest leaf; `<=` [`MAX_DEPTH`] |
//! | 56 | 4 | n_sections | [`N_SECTIONS`] (7) |
//! | 60 | 4 | reserved | zero |
//! | 64 | 112 | section table | 7 entries of `{u64 offset, u64 length}`, in the order below |
//!
//! # Sections
//!
//! Sections follow the header in table order. Each starts at the first 8-aligned offset after
//! the previous one (the first at 176); the bytes between are zero; the file ends at the first
//! 8-aligned offset after the last section. So the table leaves no gaps, overlaps or trailing
//! bytes: a reader can check it entry by entry.
//!
//! | # | section | length | content |
//! |---:|---|---|---|
//! | 0 | nodes | `16 * n_nodes` | [`RawNode`] records, root at index 0 |
//! | 1 | node stats | `24 * n_nodes` | per node `f64 n_samples, f64 count_neg, f64 count_pos` |
//! | 2 | leaf probabilities | `8 * n_classes * n_leaves` | per leaf `f64 p0, f64 p1` |
//! | 3 | class labels | string table of `n_classes` | e.g. `"0","1"` or `"p","e"` |
//! | 4 | feature names | string table of `n_features` | name of input column `i` |
//! | 5 | model version | UTF-8 + NUL | user-supplied version string, may be empty |
//! | 6 | metadata | UTF-8 JSON + NUL | hyperparameters, source digest, compiler version |
//!
//! ## Node record (16 bytes)
//!
//! | offset | split node | leaf node |
//! |---:|---|---|
//! | 0 | tag 0 (missing goes left) or 1 (missing goes right) | tag 2 |
//! | 4 | feature index `< n_features` | leaf index (leaves numbered in node order) |
//! | 8 | left child index (value 0) | class label `< n_classes` |
//! | 12 | right child index (value 1) | 0 |
//!
//! Children always have a larger index than their parent, and every node except the root has
//! exactly one parent, so the graph is a tree and any walk terminates. The compiler writes nodes
//! in pre-order (left child at `index + 1`) and sets [`FLAG_LEFT_ADJACENT`]; the validator
//! checks that claim when the flag is set. The missing-value direction is the child with more
//! training samples, left on a tie; the validator recomputes it from the node stats.
//!
//! ## String table (`n` strings)
//!
//! `u32 end[n]` (exclusive end of string `i` within the blob, counting its NUL), then
//! `u32 sorted[n]` (string indices in strictly increasing byte order of the strings, for
//! binary search by name; strictness forbids duplicates), then the blob: the strings, each
//! UTF-8 without interior NUL, each followed by one NUL. Section length = `8n + blob length`.
//!
//! ## Signature trailer (optional, [`TRAILER_LEN`] = 64 bytes after `file_len`)
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic [`TRAILER_MAGIC`] `b"TTSIG001"` |
//! | 8 | 8 | key id: first 8 bytes of HMAC-SHA256(key, `"thetatree key id"`) |
//! | 16 | 8 | `u64` signed length = the model's `file_len` |
//! | 24 | 8 | zero |
//! | 32 | 32 | HMAC-SHA256(key, model bytes ‖ trailer bytes 0..32) |
//!
//! The trailer's shape is part of the format (the validator accepts exactly these 64 bytes
//! after the model, [`is_trailer`]); computing and checking the MACs is [`crate::signature`]'s.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub const MAGIC: [u8; 8] = *b"TTMODEL\0";
pub const FORMAT_MAJOR: u16 = 1;
pub const FORMAT_MINOR: u16 = 0;
pub const ENDIAN_TAG: u32 = 0x0A0B_0C0D;
pub const HEADER_LEN: usize = 176;
pub const N_SECTIONS: usize = 7;
/// Offset of the CRC field; the CRC covers every byte but these four.
pub const CRC_OFFSET: usize = 32;

/// Header flag: every split's left child sits at `index + 1` (pre-order layout).
pub const FLAG_LEFT_ADJACENT: u32 = 1;
pub const KNOWN_FLAGS: u32 = FLAG_LEFT_ADJACENT;

pub const TAG_SPLIT_MISSING_LEFT: u32 = 0;
pub const TAG_SPLIT_MISSING_RIGHT: u32 = 1;
pub const TAG_LEAF: u32 = 2;

pub const N_CLASSES: u32 = 2;

/// Caps, enforced by the validator and by the compiler.
pub const MAX_NODES: u32 = 1 << 24;
pub const MAX_DEPTH: u32 = 4096;
pub const MAX_FEATURES: u32 = 1 << 22;
pub const MAX_NAME_LEN: usize = 4096;
pub const MAX_VERSION_LEN: usize = 256;
pub const MAX_METADATA_LEN: usize = 1 << 20;
pub const MAX_FILE_LEN: u64 = 1 << 31;

pub const SEC_NODES: usize = 0;
pub const SEC_STATS: usize = 1;
pub const SEC_PROBS: usize = 2;
pub const SEC_CLASS_LABELS: usize = 3;
pub const SEC_FEATURE_NAMES: usize = 4;
pub const SEC_MODEL_VERSION: usize = 5;
pub const SEC_METADATA: usize = 6;

pub const SECTION_NAMES: [&str; N_SECTIONS] = [
    "nodes",
    "node stats",
    "leaf probabilities",
    "class labels",
    "feature names",
    "model version",
    "metadata",
];

pub const NODE_SIZE: usize = 16;
pub const STATS_SIZE: usize = 24;

/// Magic of the signature trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"TTSIG001";
/// Length of the signature trailer.
pub const TRAILER_LEN: usize = 64;
/// Offsets of the trailer's fields, relative to its start.
pub mod trailer_field {
    pub const MAGIC: usize = 0;
    pub const KEY_ID: usize = 8;
    pub const SIGNED_LEN: usize = 16;
    pub const ZERO: usize = 24;
    pub const MAC: usize = 32;
}

/// Whether `tail` (the bytes after the model) is a well-formed signature trailer for a model of
/// `model_len` bytes. Says nothing about whether the MAC is right.
pub fn is_trailer(tail: &[u8], model_len: u64) -> bool {
    use trailer_field::*;
    tail.len() == TRAILER_LEN
        && tail[MAGIC..KEY_ID] == TRAILER_MAGIC
        && tail[SIGNED_LEN..ZERO] == model_len.to_le_bytes()
        && tail[ZERO..MAC] == [0u8; 8]
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawSection {
    pub offset: U64,
    pub length: U64,
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawHeader {
    pub magic: [u8; 8],
    pub format_major: U16,
    pub format_minor: U16,
    pub endian_tag: U32,
    pub header_len: U32,
    pub flags: U32,
    pub file_len: U64,
    pub crc32: U32,
    pub n_features: U32,
    pub n_classes: U32,
    pub n_nodes: U32,
    pub n_leaves: U32,
    pub max_depth: U32,
    pub n_sections: U32,
    pub reserved: U32,
    pub sections: [RawSection; N_SECTIONS],
}

/// Byte offsets of header fields, for error messages.
pub mod field {
    pub const MAGIC: u64 = 0;
    pub const FORMAT_MAJOR: u64 = 8;
    pub const ENDIAN_TAG: u64 = 12;
    pub const HEADER_LEN: u64 = 16;
    pub const FLAGS: u64 = 20;
    pub const FILE_LEN: u64 = 24;
    pub const CRC32: u64 = 32;
    pub const N_FEATURES: u64 = 36;
    pub const N_CLASSES: u64 = 40;
    pub const N_NODES: u64 = 44;
    pub const N_LEAVES: u64 = 48;
    pub const MAX_DEPTH: u64 = 52;
    pub const N_SECTIONS: u64 = 56;
    pub const RESERVED: u64 = 60;
    pub const SECTIONS: u64 = 64;
}

/// One node, read in place.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawNode {
    pub tag: U32,
    pub a: U32,
    pub b: U32,
    pub c: U32,
}

/// Per-node training statistics, used for validation and export (never on the hot path).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawStats {
    pub n_samples: zerocopy::little_endian::F64,
    pub count_neg: zerocopy::little_endian::F64,
    pub count_pos: zerocopy::little_endian::F64,
}

pub const fn align8(x: usize) -> usize {
    (x + 7) & !7
}

/// The CRC the header must hold for `model` (whose length is the header's `file_len`).
pub fn model_crc(model: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&model[..CRC_OFFSET]);
    h.update(&model[CRC_OFFSET + 4..]);
    h.finalize()
}

/// A node as the encoder receives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeSpec {
    Split {
        feature: u32,
        left: u32,
        right: u32,
        missing_right: bool,
    },
    Leaf {
        label: u32,
        probabilities: [f64; 2],
    },
}

/// Everything needed to write a `.ttm` file. Nodes must already be in their final order.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    pub nodes: Vec<NodeSpec>,
    /// `[n_samples, count_neg, count_pos]` per node.
    pub stats: Vec<[f64; 3]>,
    pub feature_names: Vec<String>,
    pub class_labels: Vec<String>,
    pub model_version: String,
    pub metadata_json: String,
}

fn string_table(strings: &[String]) -> Vec<u8> {
    let mut ends = Vec::with_capacity(strings.len());
    let mut blob = Vec::new();
    for s in strings {
        blob.extend_from_slice(s.as_bytes());
        blob.push(0);
        ends.push(blob.len() as u32);
    }
    let mut sorted: Vec<u32> = (0..strings.len() as u32).collect();
    sorted.sort_by(|&x, &y| {
        strings[x as usize]
            .as_bytes()
            .cmp(strings[y as usize].as_bytes())
    });
    let mut out = Vec::with_capacity(8 * strings.len() + blob.len());
    for e in ends {
        out.extend_from_slice(&e.to_le_bytes());
    }
    for s in sorted {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.extend_from_slice(&blob);
    out
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Depth (edges) of the deepest leaf; nodes must have children after parents.
pub fn tree_depth(nodes: &[NodeSpec]) -> u32 {
    let mut depth = vec![0u32; nodes.len()];
    let mut max = 0;
    for (i, n) in nodes.iter().enumerate() {
        if let NodeSpec::Split { left, right, .. } = *n {
            depth[left as usize] = depth[i] + 1;
            depth[right as usize] = depth[i] + 1;
        } else {
            max = max.max(depth[i]);
        }
    }
    max
}

/// Serialise a model. The caller (the compiler) guarantees the structural rules; the result is
/// run through [`crate::validate::validate`] by the compiler before it is written anywhere.
pub fn encode(spec: &ModelSpec) -> Vec<u8> {
    let mut leaf_index = 0u32;
    let mut nodes = Vec::with_capacity(spec.nodes.len() * NODE_SIZE);
    let mut probs = Vec::new();
    let mut left_adjacent = true;
    for (i, n) in spec.nodes.iter().enumerate() {
        let words = match *n {
            NodeSpec::Split {
                feature,
                left,
                right,
                missing_right,
            } => {
                left_adjacent &= left as usize == i + 1;
                let tag = if missing_right {
                    TAG_SPLIT_MISSING_RIGHT
                } else {
                    TAG_SPLIT_MISSING_LEFT
                };
                [tag, feature, left, right]
            }
            NodeSpec::Leaf {
                label,
                probabilities,
            } => {
                for p in probabilities {
                    probs.extend_from_slice(&p.to_le_bytes());
                }
                leaf_index += 1;
                [TAG_LEAF, leaf_index - 1, label, 0]
            }
        };
        for w in words {
            nodes.extend_from_slice(&w.to_le_bytes());
        }
    }
    let mut stats = Vec::with_capacity(spec.stats.len() * STATS_SIZE);
    for s in &spec.stats {
        for v in s {
            stats.extend_from_slice(&v.to_le_bytes());
        }
    }
    let sections: [Vec<u8>; N_SECTIONS] = [
        nodes,
        stats,
        probs,
        string_table(&spec.class_labels),
        string_table(&spec.feature_names),
        nul_terminated(&spec.model_version),
        nul_terminated(&spec.metadata_json),
    ];

    let mut out = vec![0u8; HEADER_LEN];
    let mut table = [(0u64, 0u64); N_SECTIONS];
    for (k, body) in sections.iter().enumerate() {
        out.resize(align8(out.len()), 0);
        table[k] = (out.len() as u64, body.len() as u64);
        out.extend_from_slice(body);
    }
    out.resize(align8(out.len()), 0);

    let header = RawHeader {
        magic: MAGIC,
        format_major: FORMAT_MAJOR.into(),
        format_minor: FORMAT_MINOR.into(),
        endian_tag: ENDIAN_TAG.into(),
        header_len: (HEADER_LEN as u32).into(),
        flags: if left_adjacent { FLAG_LEFT_ADJACENT } else { 0 }.into(),
        file_len: (out.len() as u64).into(),
        crc32: 0.into(),
        n_features: (spec.feature_names.len() as u32).into(),
        n_classes: (spec.class_labels.len() as u32).into(),
        n_nodes: (spec.nodes.len() as u32).into(),
        n_leaves: leaf_index.into(),
        max_depth: tree_depth(&spec.nodes).into(),
        n_sections: (N_SECTIONS as u32).into(),
        reserved: 0.into(),
        sections: table.map(|(o, l)| RawSection {
            offset: o.into(),
            length: l.into(),
        }),
    };
    out[..HEADER_LEN].copy_from_slice(header.as_bytes());
    let crc = model_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Rewrite the CRC of a model buffer in place (for tools and for tests that forge structure).
pub fn refresh_crc(model: &mut [u8]) {
    let crc = model_crc(model);
    model[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}
