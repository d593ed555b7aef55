//! The hostile-file corpus, as tests. Every case asserts the *specific* status code (and, where
//! the validator reports one, the byte offset of the offending field) through the pure loader
//! (`Model::from_bytes`) and through the C ABI (`tt_load_bytes`, both copying and with
//! `TT_LOAD_BORROW`). Structural cases recompute the CRC with `refresh_crc`, so the structural
//! check, never the checksum, is what rejects them.
//!
//! The base model is built in-process (`format::encode`), 496 bytes:
//!
//! ```text
//! node 0  split f0 "b"  missing->left (10 vs 10 samples)   sections: nodes   [176, 256)
//! node 1    leaf [8, 2]  label 0                                     stats   [256, 376)
//! node 2    split f1 "a" missing->right (4 vs 6)                     probs   [376, 424)
//! node 3      leaf [1, 3] label 1                                    labels  [424, 448) "neg","pos"
//! node 4      leaf [0, 6] label 1                                    names   [448, 478)+2 pad "b","a","c"
//!                                                                    version [480, 483)+5 pad "v1"
//!                                                                    meta    [488, 496) {"k":1}
//! ```
//!
//! | case | status | byte_offset |
//! |---|---|---|
//! | truncated to every length 0..len (incl. a cut magic prefix) | TRUNCATED | the length |
//! | wrong first bytes (even a 2-byte wrong prefix) | BAD_MAGIC | 0 |
//! | format_major = 2 | VERSION | 8 |
//! | format_minor = 99 | OK (minors only add meaning) | – |
//! | endian tag byte-swapped | ENDIAN | 12 |
//! | header_len = 177 | LAYOUT | 16 |
//! | unknown header flag bit | VERSION | 20 |
//! | reserved != 0 | LAYOUT | 60 |
//! | n_sections = 6 | LAYOUT | 56 |
//! | n_classes = 3 | CORRUPT | 40 |
//! | n_nodes = 0 | GRAPH | 44 |
//! | file_len > actual | TRUNCATED | actual length |
//! | file_len < 176 | LAYOUT | 24 |
//! | file_len > MAX_FILE_LEN | LIMIT | 24 |
//! | 8 trailing zero bytes / a 64-byte tail that is not a valid trailer | TRAILING_BYTES | file_len |
//! | CRC field wrong | CHECKSUM | 32 |
//! | every single-bit flip (CRC not fixed) | CHECKSUM, or BAD_MAGIC / VERSION / ENDIAN / LAYOUT / LIMIT / TRUNCATED / TRAILING_BYTES for flips in magic / major / endian / header_len / file_len; never OK | field |
//! | n_nodes / n_features / max_depth above caps, in a 496-byte file | LIMIT | 44 / 36 / 52 |
//! | n_nodes = u32::MAX (no allocation happens) | LIMIT | 44 |
//! | n_leaves = 0, n_leaves > n_nodes | CORRUPT | 48 |
//! | section length past EOF | BOUNDS | table entry |
//! | section offset past EOF | BOUNDS | table entry |
//! | offset + length wraps u64 (both ways) | BOUNDS | table entry |
//! | sections overlap / gap / misaligned offset | LAYOUT | table entry |
//! | fixed-size section length disagrees with counts | LAYOUT | table entry + 8 |
//! | non-zero padding byte | LAYOUT | that byte |
//! | bytes inside file_len after the last section | LAYOUT | end of last section |
//! | child == self, child < parent, child out of range | GRAPH | child word |
//! | two parents | GRAPH | second child word |
//! | unreachable node | GRAPH | its tag word |
//! | bad node tag | GRAPH | tag word |
//! | feature index >= n_features | CORRUPT | feature word |
//! | leaf index out of order | CORRUPT | leaf index word |
//! | label >= n_classes; label not the counts' majority | CORRUPT | label word |
//! | reserved leaf word != 0 | LAYOUT | that word |
//! | probability NaN / +inf / > 1 / < 0 / -0.0 / != counts' | CORRUPT | that probability |
//! | n_samples NaN or negative; leaf counts negative; split counts half NaN | CORRUPT | stats record |
//! | missing-direction tag disagrees with child n_samples | CORRUPT | tag word |
//! | left-adjacent flag set on a non-pre-order tree | LAYOUT | left child word |
//! | header max_depth lies | CORRUPT | 52 |
//! | string table: end out of range / empty string / section too short for its index | BOUNDS / BOUNDS / LAYOUT | index word / index word / section |
//! | string table: non-UTF-8, interior NUL, missing NUL | CORRUPT | offending byte |
//! | string table: unsorted, duplicate, index out of range | CORRUPT | sorted-index word |
//! | string table: bytes after the last string | LAYOUT | first extra byte |
//! | version not NUL-terminated / interior NUL / non-UTF-8 | CORRUPT | byte |
//! | metadata not JSON / JSON but not an object / nested 100000 deep | CORRUPT | section |
//! | misaligned buffer (offset 1, 3, 5) with and without TT_LOAD_BORROW | OK, identical predictions | – |
//!
//! `every_status_code_is_exercised` produces every code of `error.rs` in this file except
//! TT_ERR_PANIC, which no public entry point can reach without a test hook (see that test).

mod common;
use common::*;
use std::ffi::{c_char, CStr};
use thetatree::error::code::*;
use thetatree::ffi::*;
use thetatree::format::*;
use thetatree::validate::leaf_probabilities;
use thetatree::{Model, Status};

// ---------------------------------------------------------------------------------------------
// Building and forging models
// ---------------------------------------------------------------------------------------------

fn base_spec() -> ModelSpec {
    ModelSpec {
        nodes: vec![
            NodeSpec::Split {
                feature: 0,
                left: 1,
                right: 2,
                missing_right: false,
            },
            leaf([8.0, 2.0]),
            NodeSpec::Split {
                feature: 1,
                left: 3,
                right: 4,
                missing_right: true,
            },
            leaf([1.0, 3.0]),
            leaf([0.0, 6.0]),
        ],
        stats: vec![
            [20.0, 9.0, 11.0],
            [10.0, 8.0, 2.0],
            [10.0, 1.0, 9.0],
            [4.0, 1.0, 3.0],
            [6.0, 0.0, 6.0],
        ],
        feature_names: vec!["b".into(), "a".into(), "c".into()],
        class_labels: vec!["neg".into(), "pos".into()],
        model_version: "v1".into(),
        metadata_json: r#"{"k":1}"#.into(),
    }
}

fn base() -> Vec<u8> {
    encode(&base_spec())
}

fn add_u64(b: &mut [u8], at: usize, d: i64) {
    let v = get_u64(b, at).wrapping_add_signed(d);
    set_u64(b, at, v);
}

/// Offset of section table entry `k`.
fn entry(k: usize) -> usize {
    64 + 16 * k
}
/// `(offset, length)` of section `k`, read from the table.
fn section(b: &[u8], k: usize) -> (usize, usize) {
    (
        get_u64(b, entry(k)) as usize,
        get_u64(b, entry(k) + 8) as usize,
    )
}
/// Offset of 32-bit word `w` of node `i`.
fn node_word(b: &[u8], i: usize, w: usize) -> usize {
    section(b, SEC_NODES).0 + NODE_SIZE * i + 4 * w
}
/// Offset of stats field `f` (0 n_samples, 1 count_neg, 2 count_pos) of node `i`.
fn stat(b: &[u8], i: usize, f: usize) -> usize {
    section(b, SEC_STATS).0 + STATS_SIZE * i + 8 * f
}
/// Offset of probability `k` of leaf `leaf`.
fn prob(b: &[u8], leaf: usize, k: usize) -> usize {
    section(b, SEC_PROBS).0 + 16 * leaf + 8 * k
}

/// The base model with `f` applied and the CRC recomputed.
fn forge(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = base();
    f(&mut b);
    refresh_crc(&mut b);
    b
}

/// A spec encoded, then `f` applied, then the CRC recomputed.
fn forge_spec(spec: &ModelSpec, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = encode(spec);
    f(&mut b);
    refresh_crc(&mut b);
    b
}

// ---------------------------------------------------------------------------------------------
// Loading through every path and checking the result
// ---------------------------------------------------------------------------------------------

/// Assert that `bytes` is rejected with `status` (and `offset`, if given) by the pure loader and
/// by `tt_load_bytes` with and without `TT_LOAD_BORROW`, with a message, and no model published.
#[track_caller]
fn expect(bytes: &[u8], status: Status, offset: Option<u64>) {
    let e = match Model::from_bytes(bytes) {
        Ok(_) => panic!("accepted; expected {}", status.name()),
        Err(e) => e,
    };
    assert_eq!(
        e.status,
        status,
        "expected {} got {} ({})",
        status.name(),
        e.status.name(),
        e.message
    );
    if let Some(off) = offset {
        assert_eq!(
            e.byte_offset,
            off,
            "{}: byte_offset {} expected {off} ({})",
            status.name(),
            e.byte_offset,
            e.message
        );
    }
    assert!(!e.message.is_empty());
    for flags in [TT_LOAD_DEFAULT, TT_LOAD_BORROW] {
        let (rc, err, out) = ffi_load(bytes, flags);
        assert_eq!(
            rc,
            status as i32,
            "tt_load_bytes flags {flags}: {}",
            err_message(&err)
        );
        assert_eq!(err.code, rc);
        assert_eq!(err.byte_offset, e.byte_offset, "tt_error.byte_offset");
        assert_eq!((err.row, err.column), (-1, -1));
        assert!(!err_message(&err).is_empty());
        assert!(out.is_null(), "a model was published on failure");
    }
}

#[track_caller]
fn expect_ok(bytes: &[u8]) -> Model {
    match Model::from_bytes(bytes) {
        Ok(m) => m,
        Err(e) => panic!("rejected: {e} at {}", e.byte_offset),
    }
}

/// The base model's predictions by hand: (label, [p0, p1]) for a row of i8 cells.
fn reference(row: [i8; 3]) -> (i32, [f64; 2]) {
    let leaf1 = (0, leaf_probabilities([8.0, 2.0]));
    let leaf3 = (1, leaf_probabilities([1.0, 3.0]));
    let leaf4 = (1, leaf_probabilities([0.0, 6.0]));
    match row[0] {
        0 | -1 => leaf1,
        _ => match row[1] {
            0 => leaf3,
            _ => leaf4, // 1, and missing goes right (6 > 4 samples)
        },
    }
}

/// All 27 rows over {0, 1, -1}^3.
fn all_rows() -> Vec<[i8; 3]> {
    let v = [0i8, 1, -1];
    let mut rows = vec![];
    for a in v {
        for b in v {
            for c in v {
                rows.push([a, b, c]);
            }
        }
    }
    rows
}

fn to_f64(v: i8) -> f64 {
    if v < 0 {
        f64::NAN
    } else {
        f64::from(v)
    }
}

/// Predict every row through all four predict entry points of a loaded FFI model.
fn ffi_predict_all(m: *const tt_model) -> (Vec<i32>, Vec<f64>) {
    let rows = all_rows();
    let x: Vec<i8> = rows.iter().flatten().copied().collect();
    let xf: Vec<f64> = x.iter().map(|&v| to_f64(v)).collect();
    let n = rows.len();
    let mut labels = vec![-7i32; n];
    let mut proba = vec![-7f64; 2 * n];
    let mut err = new_err();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), n, 3, labels.as_mut_ptr(), n, &mut err) },
        TT_OK
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba(m, x.as_ptr(), n, 3, proba.as_mut_ptr(), 2 * n, &mut err) },
        TT_OK
    );
    let mut labels_f = vec![-7i32; n];
    let mut proba_f = vec![-7f64; 2 * n];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_f64(m, xf.as_ptr(), n, 3, labels_f.as_mut_ptr(), n, &mut err) },
        TT_OK
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba_f64(m, xf.as_ptr(), n, 3, proba_f.as_mut_ptr(), 2 * n, &mut err)
        },
        TT_OK
    );
    assert_eq!(labels, labels_f);
    assert_eq!(
        proba.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
        proba_f.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
    );
    (labels, proba)
}

fn check_reference_predictions(labels: &[i32], proba: &[f64]) {
    for (r, row) in all_rows().into_iter().enumerate() {
        let (l, p) = reference(row);
        assert_eq!(labels[r], l, "row {row:?}");
        assert_eq!(
            [proba[2 * r].to_bits(), proba[2 * r + 1].to_bits()],
            p.map(f64::to_bits)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sanity: the base model is valid and predicts as the hand-written reference
// ---------------------------------------------------------------------------------------------

#[test]
fn base_model_is_valid_and_predicts_reference() {
    let b = base();
    assert_eq!(b.len(), 496);
    let m = expect_ok(&b);
    assert_eq!(
        (m.n_nodes(), m.n_leaves(), m.max_depth(), m.n_features()),
        (5, 3, 2, 3)
    );
    assert_eq!(m.layout().flags(), FLAG_LEFT_ADJACENT);
    assert_eq!(section(&b, SEC_FEATURE_NAMES), (448, 30));
    let (rc, err, out) = ffi_load(&b, 0);
    assert_eq!(rc, TT_OK, "{}", err_message(&err));
    let (labels, proba) = ffi_predict_all(out);
    check_reference_predictions(&labels, &proba);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(out) };
}

// ---------------------------------------------------------------------------------------------
// 1. Truncation, magic, version, endianness, header fields
// ---------------------------------------------------------------------------------------------

#[test]
fn truncation_at_every_length() {
    let b = base();
    for len in 0..b.len() {
        // Under Miri: the magic and header boundaries, and every 23rd length.
        if cfg!(miri) && !(len <= 9 || (174..=178).contains(&len) || len % 23 == 0) {
            continue;
        }
        // A prefix of the magic (including the empty file) is truncated, not "bad magic".
        expect(&b[..len], Status::Truncated, Some(len as u64));
    }
}

#[test]
fn truncated_signed_model_is_truncated_or_trailing() {
    // Cutting into a signature trailer leaves 1..63 bytes after the model: not a trailer.
    let signed = thetatree::signature::sign(&base(), b"k").unwrap();
    for len in 497..signed.len() {
        expect(&signed[..len], Status::TrailingBytes, Some(496));
    }
}

#[test]
fn wrong_magic() {
    expect(b"TX", Status::BadMagic, Some(0));
    expect(b"\0", Status::BadMagic, Some(0));
    let mut b = base();
    b[..8].copy_from_slice(b"TTMODEL1");
    expect(&b, Status::BadMagic, Some(0));
    let mut b = base();
    b[0] = b't';
    expect(&b, Status::BadMagic, Some(0));
    // Other formats' magics.
    expect(b"PK\x03\x04 not a model", Status::BadMagic, Some(0));
    expect(b"\x80\x04\x95 pickle", Status::BadMagic, Some(0));
    expect(b"GGUF\x03\0\0\0", Status::BadMagic, Some(0));
}

#[test]
fn wrong_major_version() {
    for major in [0u16, 2, 0xFFFF] {
        let b = forge(|b| b[8..10].copy_from_slice(&major.to_le_bytes()));
        expect(&b, Status::Version, Some(8));
    }
}

#[test]
fn newer_minor_version_loads() {
    let b = forge(|b| b[10..12].copy_from_slice(&99u16.to_le_bytes()));
    assert_eq!(expect_ok(&b).layout().format_minor(), 99);
}

#[test]
fn wrong_endian_tag() {
    // A big-endian writer would store the tag as 0A 0B 0C 0D.
    let b = forge(|b| b[12..16].copy_from_slice(&ENDIAN_TAG.to_be_bytes()));
    expect(&b, Status::Endian, Some(12));
    let b = forge(|b| set_u32(b, 12, 0));
    expect(&b, Status::Endian, Some(12));
}

#[test]
fn wrong_header_len() {
    for v in [0u32, 175, 177, 1 << 31] {
        let b = forge(|b| set_u32(b, 16, v));
        expect(&b, Status::Layout, Some(16));
    }
}

#[test]
fn unknown_header_flags() {
    for bit in 1..32 {
        let b = forge(|b| set_u32(b, 20, FLAG_LEFT_ADJACENT | 1 << bit));
        expect(&b, Status::Version, Some(20));
    }
}

#[test]
fn nonzero_reserved_and_section_count() {
    expect(&forge(|b| set_u32(b, 60, 1)), Status::Layout, Some(60));
    for n in [0u32, 6, 8, u32::MAX] {
        expect(&forge(|b| set_u32(b, 56, n)), Status::Layout, Some(56));
    }
}

#[test]
fn wrong_class_count_and_empty_tree() {
    for n in [0u32, 1, 3, u32::MAX] {
        expect(&forge(|b| set_u32(b, 40, n)), Status::Corrupt, Some(40));
    }
    expect(&forge(|b| set_u32(b, 44, 0)), Status::Graph, Some(44));
}

#[test]
fn file_len_lies() {
    let len = base().len() as u64;
    // Larger than the data: truncated, reported at the data's end.
    for fl in [len + 1, len + 8, len + 64, MAX_FILE_LEN] {
        expect(&forge(|b| set_u64(b, 24, fl)), Status::Truncated, Some(len));
    }
    // Shorter than the header.
    for fl in [0, 1, 175] {
        expect(&forge(|b| set_u64(b, 24, fl)), Status::Layout, Some(24));
    }
    // Above the cap (checked before anything is read or allocated).
    for fl in [MAX_FILE_LEN + 1, u64::MAX] {
        expect(&forge(|b| set_u64(b, 24, fl)), Status::Limit, Some(24));
    }
    // Shorter than the data (but >= header): the rest are trailing bytes.
    expect(
        &forge(|b| set_u64(b, 24, 488)),
        Status::TrailingBytes,
        Some(488),
    );
}

#[test]
fn trailing_bytes() {
    let mut b = base();
    b.extend_from_slice(&[0; 8]);
    expect(&b, Status::TrailingBytes, Some(496));
    let mut b = base();
    b.push(0);
    expect(&b, Status::TrailingBytes, Some(496));
    // A 64-byte tail that almost is a signature trailer: wrong signed length.
    let mut signed = thetatree::signature::sign(&base(), b"key").unwrap();
    set_u64(&mut signed, 496 + 16, 497);
    expect(&signed, Status::TrailingBytes, Some(496));
    // ... non-zero reserved word.
    let mut signed = thetatree::signature::sign(&base(), b"key").unwrap();
    signed[496 + 24] = 1;
    expect(&signed, Status::TrailingBytes, Some(496));
    // ... two trailers.
    let signed = thetatree::signature::sign(&base(), b"key").unwrap();
    let mut twice = signed.clone();
    twice.extend_from_slice(&signed[496..]);
    expect(&twice, Status::TrailingBytes, Some(496));
}

#[test]
fn wrong_crc_field() {
    let mut b = base();
    let crc = get_u32(&b, CRC_OFFSET);
    set_u32(&mut b, CRC_OFFSET, crc ^ 1);
    expect(&b, Status::Checksum, Some(32));
    set_u32(&mut b, CRC_OFFSET, 0);
    expect(&b, Status::Checksum, Some(32));
}

/// The status a single flipped bit (CRC *not* recomputed) must produce.
fn flip_expectation(b: &[u8], pos: usize, bit: u32) -> (Status, u64) {
    let len = b.len() as u64;
    match pos {
        0..=7 => (Status::BadMagic, 0),
        8..=9 => (Status::Version, 8),
        12..=15 => (Status::Endian, 12),
        16..=19 => (Status::Layout, 16),
        24..=31 => {
            let fl = get_u64(b, 24) ^ (1u64 << (8 * (pos - 24) as u32 + bit));
            if fl > MAX_FILE_LEN {
                (Status::Limit, 24)
            } else if fl < HEADER_LEN as u64 {
                (Status::Layout, 24)
            } else if len < fl {
                (Status::Truncated, len)
            } else {
                (Status::TrailingBytes, fl)
            }
        }
        // format_minor, flags, the CRC field itself and everything after the header fields.
        _ => (Status::Checksum, 32),
    }
}

/// Under Miri, visit a sample of positions only.
fn stride() -> usize {
    if cfg!(miri) {
        41
    } else {
        1
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let b = base();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for pos in (0..b.len()).step_by(stride()) {
        for bit in 0..8 {
            let mut f = b.clone();
            f[pos] ^= 1 << bit;
            let (status, off) = flip_expectation(&b, pos, bit);
            // The pure loader for every flip, the C ABI for one bit in three.
            if (pos * 8 + bit as usize) % 3 == 0 {
                expect(&f, status, Some(off));
            } else {
                let e = Model::from_bytes(&f)
                    .err()
                    .expect("a flipped bit was accepted");
                assert_eq!(
                    (e.status, e.byte_offset),
                    (status, off),
                    "byte {pos} bit {bit}: {e}"
                );
            }
            *seen.entry(status.name()).or_default() += 1;
        }
    }
    // Every flip was rejected; the codes that occur are exactly these.
    if !cfg!(miri) {
        let codes: Vec<_> = seen.keys().copied().collect();
        assert_eq!(
            codes,
            [
                "TT_ERR_BAD_MAGIC",
                "TT_ERR_CHECKSUM",
                "TT_ERR_ENDIAN",
                "TT_ERR_LAYOUT",
                "TT_ERR_LIMIT",
                "TT_ERR_TRAILING_BYTES",
                "TT_ERR_TRUNCATED",
                "TT_ERR_VERSION"
            ]
        );
    }
}

/// Regions of the base model where a single flipped bit, with the CRC recomputed, may still give
/// a valid (different) model: format_minor, the left-adjacent flag (clearing a true claim),
/// the CRC field itself, a split's feature index, the stats, and the bytes of the strings. Every
/// other byte is structural and must be rejected.
fn may_stay_valid(b: &[u8], pos: usize) -> bool {
    let in_sec = |k: usize| {
        let (o, l) = section(b, k);
        (o..o + l).contains(&pos)
    };
    let string_blob = |k: usize, n: usize| {
        let (o, l) = section(b, k);
        // Blob bytes other than each string's NUL.
        (o + 8 * n..o + l).contains(&pos) && b[pos] != 0
    };
    let split_feature_word = [0usize, 2]
        .iter()
        .any(|&i| (node_word(b, i, 1)..node_word(b, i, 2)).contains(&pos));
    matches!(pos, 10..=11 | 20 | 32..=35)
        || split_feature_word
        || in_sec(SEC_STATS)
        || string_blob(SEC_CLASS_LABELS, 2)
        || string_blob(SEC_FEATURE_NAMES, 3)
        || (in_sec(SEC_MODEL_VERSION) || in_sec(SEC_METADATA)) && b[pos] != 0
}

#[test]
fn every_single_bit_flip_with_fixed_crc_never_panics_and_structure_is_always_checked() {
    let b = base();
    let mut accepted = 0;
    let mut by_code = std::collections::BTreeMap::<&str, usize>::new();
    for pos in (0..b.len()).step_by(stride()) {
        for bit in 0..8 {
            let mut f = b.clone();
            f[pos] ^= 1 << bit;
            refresh_crc(&mut f);
            match Model::from_bytes(&f) {
                Ok(m) => {
                    accepted += 1;
                    assert!(
                        may_stay_valid(&b, pos),
                        "flip of byte {pos} bit {bit} (structural) was accepted"
                    );
                    // A different but valid model: it must still predict in range.
                    let x: Vec<f64> = all_rows().iter().flatten().map(|&v| to_f64(v)).collect();
                    let mut p = vec![0.0; 2 * 27];
                    let mut l = vec![0; 27];
                    let tree = m.tree();
                    if tree.n_features() == 3 {
                        tree.predict(&x, 27, &mut l).unwrap();
                        tree.predict_proba(&x, 27, &mut p).unwrap();
                        assert!(l.iter().all(|&l| l == 0 || l == 1));
                        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
                    }
                }
                Err(e) => *by_code.entry(e.status.name()).or_default() += 1,
            }
        }
    }
    eprintln!("single-bit flips with a recomputed CRC: {accepted} still valid (non-structural bytes), rejected: {by_code:?}");
    // (Miri samples one byte in 41, which meets fewer distinct codes.)
    let min_codes = if cfg!(miri) { 3 } else { 5 };
    assert!(
        accepted > 0 && by_code.len() >= min_codes,
        "{accepted} {by_code:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Counts above the caps, inside a small file (no allocation, no hang)
// ---------------------------------------------------------------------------------------------

#[test]
fn counts_above_caps_in_a_small_file() {
    for n in [MAX_NODES + 1, u32::MAX] {
        expect(&forge(|b| set_u32(b, 44, n)), Status::Limit, Some(44));
    }
    for n in [MAX_FEATURES + 1, u32::MAX] {
        expect(&forge(|b| set_u32(b, 36, n)), Status::Limit, Some(36));
    }
    for n in [MAX_DEPTH + 1, u32::MAX] {
        expect(&forge(|b| set_u32(b, 52, n)), Status::Limit, Some(52));
    }
    // At the cap, counts that the file cannot hold fail on the section table, not on the cap.
    expect(
        &forge(|b| set_u32(b, 44, MAX_NODES)),
        Status::Layout,
        Some(entry(0) as u64 + 8),
    );
    let b = forge(|b| {
        set_u32(b, 44, MAX_NODES);
        set_u64(b, entry(0) + 8, 16 * MAX_NODES as u64);
    });
    expect(&b, Status::Bounds, Some(entry(0) as u64));
}

#[test]
fn impossible_leaf_counts() {
    expect(&forge(|b| set_u32(b, 48, 0)), Status::Corrupt, Some(48));
    expect(&forge(|b| set_u32(b, 48, 6)), Status::Corrupt, Some(48));
    expect(
        &forge(|b| set_u32(b, 48, u32::MAX)),
        Status::Corrupt,
        Some(48),
    );
    // A plausible but wrong n_leaves: the probability section's length disagrees.
    expect(
        &forge(|b| set_u32(b, 48, 2)),
        Status::Layout,
        Some(entry(2) as u64 + 8),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Section table: bounds, wrapping, overlap, gaps, alignment, padding
// ---------------------------------------------------------------------------------------------

#[test]
fn section_lengths_past_eof() {
    for k in 0..N_SECTIONS {
        let at = entry(k);
        expect(
            &forge(|b| set_u64(b, at + 8, 1 << 20)),
            Status::Bounds,
            Some(at as u64),
        );
        expect(
            &forge(|b| set_u64(b, at + 8, MAX_FILE_LEN)),
            Status::Bounds,
            Some(at as u64),
        );
    }
    // The last section's length reaching exactly one byte past the end.
    let (o, _) = section(&base(), SEC_METADATA);
    expect(
        &forge(|b| set_u64(b, entry(6) + 8, (497 - o) as u64)),
        Status::Bounds,
        Some(entry(6) as u64),
    );
}

#[test]
fn section_offsets_past_eof() {
    for k in 0..N_SECTIONS {
        let at = entry(k);
        expect(
            &forge(|b| set_u64(b, at, 497)),
            Status::Bounds,
            Some(at as u64),
        );
        expect(
            &forge(|b| set_u64(b, at, 1 << 40)),
            Status::Bounds,
            Some(at as u64),
        );
    }
}

#[test]
fn section_offset_plus_length_wraps_u64() {
    for k in 0..N_SECTIONS {
        let at = entry(k);
        // offset + length wraps to a small number.
        let b = forge(|b| {
            let v = u64::MAX - get_u64(b, at) + 9;
            set_u64(b, at + 8, v)
        });
        expect(&b, Status::Bounds, Some(at as u64));
        let b = forge(|b| {
            set_u64(b, at, u64::MAX);
            set_u64(b, at + 8, 1);
        });
        expect(&b, Status::Bounds, Some(at as u64));
        let b = forge(|b| {
            set_u64(b, at, 1 << 63);
            set_u64(b, at + 8, 1 << 63);
        });
        expect(&b, Status::Bounds, Some(at as u64));
    }
}

#[test]
fn overlapping_sections_gaps_and_misalignment() {
    for k in 1..N_SECTIONS {
        let at = entry(k);
        // Overlap: start 8 bytes into the previous section.
        expect(
            &forge(|b| add_u64(b, at, -8)),
            Status::Layout,
            Some(at as u64),
        );
        // Aliasing: start where the previous section starts.
        expect(
            &forge(|b| {
                let v = get_u64(b, at - 16);
                set_u64(b, at, v)
            }),
            Status::Layout,
            Some(at as u64),
        );
        // Gap of 8 bytes, and misaligned offsets. (Moving the last section forward also moves
        // its end past EOF, which is reported first.)
        let forward = if k == SEC_METADATA {
            Status::Bounds
        } else {
            Status::Layout
        };
        for d in [8, 1, 3, 5] {
            expect(
                &forge(|b| add_u64(b, at, d as i64)),
                forward,
                Some(at as u64),
            );
        }
    }
    // The first section must start right after the header.
    expect(
        &forge(|b| set_u64(b, entry(0), 0)),
        Status::Layout,
        Some(entry(0) as u64),
    );
    expect(
        &forge(|b| set_u64(b, entry(0), 168)),
        Status::Layout,
        Some(entry(0) as u64),
    );
}

#[test]
fn fixed_section_lengths_must_match_counts() {
    for (k, d) in [
        (0usize, 16i64),
        (0, -16),
        (1, 24),
        (1, -1),
        (2, 16),
        (2, -8),
    ] {
        let at = entry(k);
        let b = forge(|b| add_u64(b, at + 8, d));
        expect(&b, Status::Layout, Some(at as u64 + 8));
    }
}

#[test]
fn nonzero_padding() {
    let b = base();
    // Feature names end at 478: two padding bytes; version ends at 483: five.
    for pad in [478usize, 479, 483, 487] {
        expect(&forge(|b| b[pad] = 0x20), Status::Layout, Some(pad as u64));
    }
    let (o, l) = section(&b, SEC_FEATURE_NAMES);
    assert_eq!(o + l, 478);
}

#[test]
fn undescribed_bytes_inside_file_len() {
    // Eight more zero bytes that file_len covers but no section does.
    let mut b = base();
    b.extend_from_slice(&[0; 8]);
    set_u64(&mut b, 24, 504);
    refresh_crc(&mut b);
    expect(&b, Status::Layout, Some(496));
}

// ---------------------------------------------------------------------------------------------
// 4. The node graph
// ---------------------------------------------------------------------------------------------

#[test]
fn child_equal_to_self_less_than_parent_or_out_of_range() {
    let b = base();
    // Node 2's left child (word 2) and right child (word 3).
    for (w, v) in [
        (2, 2u32),
        (3, 2),
        (2, 1),
        (3, 0),
        (2, 5),
        (3, 5),
        (2, u32::MAX),
        (3, 1 << 31),
    ] {
        let at = node_word(&b, 2, w);
        expect(
            &forge(|b| set_u32(b, at, v)),
            Status::Graph,
            Some(at as u64),
        );
    }
    // The root pointing at itself.
    let at = node_word(&b, 0, 2);
    expect(
        &forge(|b| set_u32(b, at, 0)),
        Status::Graph,
        Some(at as u64),
    );
}

#[test]
fn two_parents() {
    let b = base();
    // Node 2's both children are node 4 (node 3 also left unreachable; detected first: 2 parents).
    let b2 = forge(|b| {
        let at = node_word(b, 2, 2);
        set_u32(b, at, 4);
    });
    expect(&b2, Status::Graph, Some(node_word(&b, 2, 3) as u64));
    // Node 2's right child is node 1, the root's left child: fails as "child < parent" first.
    let b3 = forge(|b| {
        let at = node_word(b, 2, 3);
        set_u32(b, at, 1);
    });
    expect(&b3, Status::Graph, Some(node_word(&b, 2, 3) as u64));
    // A true second parent with larger indices: 7 nodes, 0 -> (1, 2), 1 -> (3, 4), 2 -> (4, 5).
    let spec = ModelSpec {
        nodes: vec![
            NodeSpec::Split {
                feature: 0,
                left: 1,
                right: 2,
                missing_right: false,
            },
            NodeSpec::Split {
                feature: 1,
                left: 3,
                right: 4,
                missing_right: false,
            },
            NodeSpec::Split {
                feature: 1,
                left: 5,
                right: 6,
                missing_right: false,
            },
            leaf([1.0, 0.0]),
            leaf([0.0, 1.0]),
            leaf([1.0, 0.0]),
            leaf([0.0, 1.0]),
        ],
        stats: vec![
            [4.0, 2.0, 2.0],
            [2.0, 1.0, 1.0],
            [2.0, 1.0, 1.0],
            [1.0, 1.0, 0.0],
            [1.0, 0.0, 1.0],
            [1.0, 1.0, 0.0],
            [1.0, 0.0, 1.0],
        ],
        ..base_spec()
    };
    expect_ok(&encode(&spec));
    let b4 = forge_spec(&spec, |b| {
        let at = node_word(b, 2, 2);
        set_u32(b, at, 4);
    });
    expect(&b4, Status::Graph, Some(node_word(&b4, 2, 2) as u64));
}

#[test]
fn unreachable_node() {
    let b = base();
    // The root's right child skips node 2 (node 3 has fewer samples than node 1, so "missing goes
    // left" still holds and the graph check is what fires).
    let b2 = forge(|b| {
        let at = node_word(b, 0, 3);
        set_u32(b, at, 3);
    });
    expect(&b2, Status::Graph, Some(node_word(&b, 2, 0) as u64));
    // A root leaf followed by two orphan leaves.
    let spec = ModelSpec {
        nodes: vec![leaf([1.0, 0.0]), leaf([1.0, 0.0]), leaf([0.0, 1.0])],
        stats: vec![[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]],
        ..base_spec()
    };
    let b3 = encode(&spec);
    expect(&b3, Status::Graph, Some(node_word(&b3, 1, 0) as u64));
}

#[test]
fn bad_node_tag() {
    let b = base();
    for (i, t) in [(0usize, 3u32), (1, 3), (2, u32::MAX), (4, 0x100)] {
        let at = node_word(&b, i, 0);
        expect(
            &forge(|b| set_u32(b, at, t)),
            Status::Graph,
            Some(at as u64),
        );
    }
}

#[test]
fn feature_index_out_of_range() {
    let b = base();
    for f in [3u32, 4, MAX_FEATURES, u32::MAX] {
        let at = node_word(&b, 0, 1);
        expect(
            &forge(|b| set_u32(b, at, f)),
            Status::Corrupt,
            Some(at as u64),
        );
    }
}

#[test]
fn leaf_words() {
    let b = base();
    // Leaf index out of order (node 1 should be leaf 0; node 4 leaf 2).
    for (i, v) in [(1usize, 1u32), (4, 1), (4, 3), (4, u32::MAX)] {
        let at = node_word(&b, i, 1);
        expect(
            &forge(|b| set_u32(b, at, v)),
            Status::Corrupt,
            Some(at as u64),
        );
    }
    // Label out of range.
    for v in [2u32, u32::MAX] {
        let at = node_word(&b, 1, 2);
        expect(
            &forge(|b| set_u32(b, at, v)),
            Status::Corrupt,
            Some(at as u64),
        );
    }
    // Label in range but not the majority of the counts.
    let at = node_word(&b, 1, 2);
    expect(
        &forge(|b| set_u32(b, at, 1)),
        Status::Corrupt,
        Some(at as u64),
    );
    // Reserved word.
    let at = node_word(&b, 3, 3);
    expect(
        &forge(|b| set_u32(b, at, 1)),
        Status::Layout,
        Some(at as u64),
    );
}

#[test]
fn bad_probabilities() {
    let b = base();
    for v in [
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.5,
        -0.5,
        -f64::MIN_POSITIVE,
    ] {
        let at = prob(&b, 0, 1);
        expect(
            &forge(|b| set_f64(b, at, v)),
            Status::Corrupt,
            Some(at as u64),
        );
    }
    // In [0, 1] but not what the counts give (leaf 0 = [0.8, 0.2]).
    let at = prob(&b, 0, 0);
    expect(
        &forge(|b| set_f64(b, at, 0.7)),
        Status::Corrupt,
        Some(at as u64),
    );
    expect(
        &forge(|b| set_f64(b, at, 0.8 + f64::EPSILON)),
        Status::Corrupt,
        Some(at as u64),
    );
    // -0.0 instead of 0.0 (leaf 2 = [0, 1]): bitwise different.
    let at2 = prob(&b, 2, 0);
    expect(
        &forge(|b| set_f64(b, at2, -0.0)),
        Status::Corrupt,
        Some(at2 as u64),
    );
    // Both probabilities swapped.
    expect(
        &forge(|b| {
            set_f64(b, at, 0.2);
            set_f64(b, at + 8, 0.8);
        }),
        Status::Corrupt,
        Some(at as u64),
    );
}

#[test]
fn bad_statistics() {
    let b = base();
    let parent = [0usize, 0, 0, 2, 2];
    for (i, &par) in parent.iter().enumerate() {
        for v in [f64::NAN, -1.0, f64::INFINITY] {
            let at = stat(&b, i, 0);
            // n_samples of node i. A child's n_samples is read first by its parent's
            // missing-direction check, which may fire first; otherwise the node's own check does.
            let f = forge(|b| set_f64(b, at, v));
            let e = Model::from_bytes(&f).err().expect("accepted");
            assert_eq!(e.status, Status::Corrupt, "{e}");
            assert!(
                e.byte_offset == at as u64 || e.byte_offset == node_word(&b, par, 0) as u64,
                "{e} at {}",
                e.byte_offset
            );
        }
    }
    // Exact cases.
    let at = stat(&b, 1, 0);
    expect(
        &forge(|b| set_f64(b, at, f64::NAN)),
        Status::Corrupt,
        Some(at as u64),
    );
    let at = stat(&b, 0, 0);
    expect(
        &forge(|b| set_f64(b, at, -1.0)),
        Status::Corrupt,
        Some(at as u64),
    );
    // Leaf counts negative / non-finite.
    for v in [-1.0, f64::NAN, f64::INFINITY] {
        let at = stat(&b, 1, 1);
        expect(
            &forge(|b| set_f64(b, at, v)),
            Status::Corrupt,
            Some(at as u64),
        );
    }
    // Split counts: one NaN, one number (both NaN is allowed: "counts unknown").
    let at = stat(&b, 0, 1);
    expect(
        &forge(|b| set_f64(b, at, f64::NAN)),
        Status::Corrupt,
        Some(at as u64),
    );
    expect_ok(&forge(|b| {
        set_f64(b, at, f64::NAN);
        set_f64(b, at + 8, f64::NAN);
    }));
    // Leaf counts changed: the stored probabilities no longer match.
    let at = stat(&b, 3, 1);
    expect(
        &forge(|b| set_f64(b, at, 2.0)),
        Status::Corrupt,
        Some(prob(&b, 1, 0) as u64),
    );
}

#[test]
fn missing_direction_bit_disagrees_with_child_samples() {
    let b = base();
    // Node 2 (4 vs 6 samples) must send missing right; node 0 (10 vs 10, a tie) left.
    let at = node_word(&b, 2, 0);
    expect(
        &forge(|b| set_u32(b, at, TAG_SPLIT_MISSING_LEFT)),
        Status::Corrupt,
        Some(at as u64),
    );
    let at = node_word(&b, 0, 0);
    expect(
        &forge(|b| set_u32(b, at, TAG_SPLIT_MISSING_RIGHT)),
        Status::Corrupt,
        Some(at as u64),
    );
    // Or keep the tag and change a child's n_samples.
    let at = stat(&b, 3, 0);
    expect(
        &forge(|b| set_f64(b, at, 7.0)),
        Status::Corrupt,
        Some(node_word(&b, 2, 0) as u64),
    );
}

#[test]
fn left_adjacent_flag_lie() {
    // Root's left child is node 2, right node 1: not pre-order, so encode clears the flag.
    let spec = ModelSpec {
        nodes: vec![
            NodeSpec::Split {
                feature: 0,
                left: 2,
                right: 1,
                missing_right: true,
            },
            leaf([0.0, 3.0]),
            leaf([2.0, 0.0]),
        ],
        stats: vec![[5.0, 2.0, 3.0], [3.0, 0.0, 3.0], [2.0, 2.0, 0.0]],
        ..base_spec()
    };
    let b = encode(&spec);
    let m = expect_ok(&b);
    assert_eq!(m.layout().flags(), 0);
    // value 0 -> left (node 2, label 0), value 1 -> right (node 1, label 1)
    let mut out = [9; 3];
    m.tree()
        .predict(&[0i8, 0, 0, 1, 0, 0, -1, 0, 0], 3, &mut out)
        .unwrap();
    assert_eq!(out, [0, 1, 1]);
    let lie = forge_spec(&spec, |b| set_u32(b, 20, FLAG_LEFT_ADJACENT));
    expect(&lie, Status::Layout, Some(node_word(&lie, 0, 2) as u64));
}

#[test]
fn header_depth_lie() {
    for d in [0u32, 1, 3, MAX_DEPTH] {
        expect(&forge(|b| set_u32(b, 52, d)), Status::Corrupt, Some(52));
    }
}

// ---------------------------------------------------------------------------------------------
// 5. String tables and text sections
// ---------------------------------------------------------------------------------------------

#[test]
fn string_table_end_offsets() {
    let b = base();
    let (lo, _) = section(&b, SEC_CLASS_LABELS); // ends [4, 8], blob "neg\0pos\0"
                                                 // End past the blob.
    expect(
        &forge(|b| set_u32(b, lo + 4, 9)),
        Status::Bounds,
        Some(lo as u64 + 4),
    );
    expect(
        &forge(|b| set_u32(b, lo, u32::MAX)),
        Status::Bounds,
        Some(lo as u64),
    );
    // End not after the start (an empty, NUL-less string).
    expect(
        &forge(|b| set_u32(b, lo + 4, 4)),
        Status::Bounds,
        Some(lo as u64 + 4),
    );
    expect(
        &forge(|b| set_u32(b, lo, 0)),
        Status::Bounds,
        Some(lo as u64),
    );
    // End inside a string: "ne" has no NUL.
    expect(
        &forge(|b| set_u32(b, lo, 2)),
        Status::Corrupt,
        Some(lo as u64 + 16),
    );
    // Bytes after the last string: blob "neg\0p\0\0\0" with ends [4, 6].
    let b2 = forge(|b| {
        set_u32(b, lo + 4, 6);
        b[lo + 16 + 5..lo + 24].fill(0);
    });
    expect(&b2, Status::Layout, Some(lo as u64 + 16 + 6));
    // The feature-name section too short for the index of n_features strings.
    let (fo, _) = section(&b, SEC_FEATURE_NAMES);
    expect(
        &forge(|b| set_u32(b, 36, 100)),
        Status::Layout,
        Some(fo as u64),
    );
}

#[test]
fn string_table_contents() {
    let b = base();
    let (lo, _) = section(&b, SEC_CLASS_LABELS);
    let blob = lo + 16;
    // Non-UTF-8 byte.
    expect(
        &forge(|b| b[blob + 1] = 0xFF),
        Status::Corrupt,
        Some(blob as u64 + 1),
    );
    // Overlong encoding of '/' and a lone continuation byte.
    expect(
        &forge(|b| b[blob..blob + 2].copy_from_slice(&[0xC0, 0xAF])),
        Status::Corrupt,
        Some(blob as u64),
    );
    expect(
        &forge(|b| b[blob + 2] = 0x80),
        Status::Corrupt,
        Some(blob as u64 + 2),
    );
    // Interior NUL ("n\0g").
    expect(
        &forge(|b| b[blob + 1] = 0),
        Status::Corrupt,
        Some(blob as u64 + 1),
    );
    // Missing NUL terminator.
    expect(
        &forge(|b| b[blob + 3] = b'x'),
        Status::Corrupt,
        Some(lo as u64 + 16),
    );
}

#[test]
fn string_table_sorted_index() {
    let b = base();
    let (lo, _) = section(&b, SEC_CLASS_LABELS); // sorted [0, 1]
                                                 // Unsorted.
    expect(
        &forge(|b| {
            set_u32(b, lo + 8, 1);
            set_u32(b, lo + 12, 0);
        }),
        Status::Corrupt,
        Some(lo as u64 + 12),
    );
    // Duplicate entry.
    expect(
        &forge(|b| set_u32(b, lo + 12, 0)),
        Status::Corrupt,
        Some(lo as u64 + 12),
    );
    // Out of range.
    expect(
        &forge(|b| set_u32(b, lo + 8, 2)),
        Status::Corrupt,
        Some(lo as u64 + 8),
    );
    expect(
        &forge(|b| set_u32(b, lo + 12, u32::MAX)),
        Status::Corrupt,
        Some(lo as u64 + 12),
    );
    // Feature names "b","a","c": sorted [1, 0, 2].
    let (fo, _) = section(&b, SEC_FEATURE_NAMES);
    assert_eq!(
        [
            get_u32(&b, fo + 12),
            get_u32(&b, fo + 16),
            get_u32(&b, fo + 20)
        ],
        [1, 0, 2]
    );
    expect(
        &forge(|b| set_u32(b, fo + 12, 0)),
        Status::Corrupt,
        Some(fo as u64 + 16),
    );
    // Duplicate names (the encoder does not refuse them; the validator does).
    let spec = ModelSpec {
        feature_names: vec!["a".into(), "a".into(), "c".into()],
        ..base_spec()
    };
    let d = encode(&spec);
    expect(&d, Status::Corrupt, Some(fo as u64 + 16));
    let spec = ModelSpec {
        class_labels: vec!["x".into(), "x".into()],
        ..base_spec()
    };
    let d = encode(&spec);
    let (lo2, _) = section(&d, SEC_CLASS_LABELS);
    expect(&d, Status::Corrupt, Some(lo2 as u64 + 12));
}

#[test]
fn version_text() {
    let b = base();
    let (vo, _) = section(&b, SEC_MODEL_VERSION); // "v1\0"
    expect(
        &forge(|b| b[vo + 2] = b'x'),
        Status::Corrupt,
        Some(vo as u64),
    );
    expect(
        &forge(|b| b[vo + 1] = 0),
        Status::Corrupt,
        Some(vo as u64 + 1),
    );
    expect(
        &forge(|b| b[vo + 1] = 0xFE),
        Status::Corrupt,
        Some(vo as u64 + 1),
    );
    // An empty version section (no NUL at all): move the metadata up to keep the layout exact.
    let (mo, ml) = section(&b, SEC_METADATA);
    let mut e = b.clone();
    set_u64(&mut e, entry(SEC_MODEL_VERSION) + 8, 0);
    set_u64(&mut e, entry(SEC_METADATA), vo as u64);
    e.copy_within(mo..mo + ml, vo);
    e.truncate(vo + 8);
    let n = e.len() as u64;
    set_u64(&mut e, 24, n);
    refresh_crc(&mut e);
    expect(&e, Status::Corrupt, Some(vo as u64));
}

#[test]
fn metadata_not_json() {
    let b = base();
    let (mo, _) = section(&b, SEC_METADATA); // {"k":1}\0
    expect(&forge(|b| b[mo] = b'['), Status::Corrupt, Some(mo as u64));
    expect(
        &forge(|b| b[mo..mo + 7].copy_from_slice(b"[1,2,3]")),
        Status::Corrupt,
        Some(mo as u64),
    );
    expect(
        &forge(|b| b[mo..mo + 7].copy_from_slice(b"\"s\"    ")),
        Status::Corrupt,
        Some(mo as u64),
    );
    expect(
        &forge(|b| b[mo + 2] = 0xFF),
        Status::Corrupt,
        Some(mo as u64 + 2),
    );
    expect(
        &forge(|b| b[mo + 7] = b' '),
        Status::Corrupt,
        Some(mo as u64),
    );
    // Deeply nested JSON must be an error, not a stack overflow.
    let depth = if cfg!(miri) { 300 } else { 100_000 };
    let spec = ModelSpec {
        metadata_json: format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth)),
        ..base_spec()
    };
    let d = encode(&spec);
    let (mo2, _) = section(&d, SEC_METADATA);
    expect(&d, Status::Corrupt, Some(mo2 as u64));
}

// ---------------------------------------------------------------------------------------------
// 6. Misaligned buffers through tt_load_bytes, copying and borrowing
// ---------------------------------------------------------------------------------------------

#[test]
fn misaligned_buffers_predict_identically() {
    let b = base();
    let (rc, err, aligned) = ffi_load(&b, 0);
    assert_eq!(rc, TT_OK, "{}", err_message(&err));
    let reference = ffi_predict_all(aligned);
    check_reference_predictions(&reference.0, &reference.1);
    // An 8-aligned backing store, so that `+ off` is misaligned by exactly `off`.
    let mut backing = vec![0u64; b.len() / 8 + 2];
    for off in [1usize, 3, 5] {
        let bytes: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(backing.as_mut_slice());
        bytes.fill(0);
        bytes[off..off + b.len()].copy_from_slice(&b);
        let ptr = bytes[off..].as_ptr();
        assert_eq!(ptr as usize % 8, off);
        for flags in [TT_LOAD_DEFAULT, TT_LOAD_BORROW] {
            let mut m: *mut tt_model = std::ptr::null_mut();
            let mut err = new_err();
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe { tt_load_bytes(ptr, b.len(), flags, &mut m, &mut err) },
                TT_OK,
                "{}",
                err_message(&err)
            );
            let got = ffi_predict_all(m);
            assert_eq!(got.0, reference.0, "offset {off} flags {flags}");
            assert_eq!(
                got.1.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
                reference.1.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
            );
            // Metadata through the model as well.
            // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
            let v = unsafe { CStr::from_ptr(tt_model_version(m)) };
            assert_eq!(v.to_str().unwrap(), "v1");
            let mut idx = 99usize;
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe { tt_feature_index(m, c"c".as_ptr(), &mut idx, &mut err) },
                TT_OK
            );
            assert_eq!(idx, 2);
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_free(m) };
        }
        // The pure loader (copies) and a borrowed model.
        let slice = &bytes[off..off + b.len()];
        let m = Model::from_bytes(slice).unwrap();
        let mut l = vec![0; 27];
        let x: Vec<i8> = all_rows().iter().flatten().copied().collect();
        m.tree().predict(&x, 27, &mut l).unwrap();
        assert_eq!(l, reference.0);
        // SAFETY: `slice` outlives `mb` and is not modified while it lives.
        let mb = unsafe { Model::from_borrowed(slice.as_ptr(), slice.len(), None) }.unwrap();
        mb.tree().predict(&x, 27, &mut l).unwrap();
        assert_eq!(l, reference.0);
        assert_eq!(mb.feature_index(b"a"), Some(1));
    }
    // A misaligned *input* matrix of i8 is fine (alignment 1); a misaligned f64 one is refused.
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(aligned) };
}

// ---------------------------------------------------------------------------------------------
// 7. Every status code
// ---------------------------------------------------------------------------------------------

/// Produce `status` through the public API, returning the code actually obtained.
fn produce(status: Status) -> Option<i32> {
    let b = base();
    let key = b"secret";
    let mut err = new_err();
    let mut out: *mut tt_model = std::ptr::null_mut();
    let load = |bytes: &[u8]| {
        Model::from_bytes(bytes)
            .err()
            .map_or(TT_OK, |e| e.status as i32)
    };
    let code = match status {
        Status::Ok => load(&b),
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Status::NullArg => unsafe { tt_load_bytes(std::ptr::null(), 10, 0, &mut out, &mut err) },
        Status::Length
        | Status::Shape
        | Status::InputValue
        | Status::NotFound
        | Status::Alignment => {
            let m = ffi_model(&b, 0);
            let x = [0i8, 1, 0, 1, 2, 0];
            let mut labels = [0i32; 2];
            let rc = match status {
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                Status::Length => unsafe {
                    tt_predict(m, x.as_ptr(), 2, 3, labels.as_mut_ptr(), 1, &mut err)
                },
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                Status::Shape => unsafe {
                    tt_predict(m, x.as_ptr(), 3, 2, labels.as_mut_ptr(), 3, &mut err)
                },
                Status::InputValue => {
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    let rc = unsafe {
                        tt_predict(m, x.as_ptr(), 2, 3, labels.as_mut_ptr(), 2, &mut err)
                    };
                    assert_eq!((err.row, err.column), (1, 1));
                    rc
                }
                Status::NotFound => {
                    let mut name: *const c_char = std::ptr::null();
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_feature_name(m, 3, &mut name, &mut err) }
                }
                _ => {
                    let mut p = [0f64; 5];
                    let mis = p.as_mut_ptr().wrapping_byte_add(1);
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_predict_proba(m, x.as_ptr(), 2, 3, mis, 4, &mut err) }
                }
            };
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_free(m) };
            rc
        }
        Status::Io => {
            if cfg!(miri) {
                return None; // no file system under Miri's isolation
            }
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe {
                tt_load(
                    c"/nonexistent/thetatree/model.ttm".as_ptr(),
                    0,
                    &mut out,
                    &mut err,
                )
            }
        }
        Status::BadMagic => load(b"XX"),
        Status::Version => load(&forge(|b| b[8] = 9)),
        Status::Endian => load(&forge(|b| b[12] = 0x0A)),
        Status::Truncated => load(&b[..100]),
        Status::TrailingBytes => load(&[&b[..], &[0]].concat()),
        Status::Checksum => {
            let mut c = b.clone();
            c[300] ^= 1;
            load(&c)
        }
        Status::Bounds => load(&forge(|b| set_u64(b, entry(0) + 8, 1 << 30))),
        Status::Layout => load(&forge(|b| set_u32(b, 60, 1))),
        Status::Limit => load(&forge(|b| set_u32(b, 44, u32::MAX))),
        Status::Graph => load(&forge(|b| set_u32(b, node_word(&base(), 2, 2), 2))),
        Status::Corrupt => load(&forge(|b| set_f64(b, prob(&base(), 0, 0), f64::NAN))),
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Status::Flags => unsafe {
            tt_load_bytes(
                b.as_ptr(),
                b.len(),
                TT_LOAD_BORROW | TT_LOAD_COPY,
                &mut out,
                &mut err,
            )
        },
        Status::Panic => return None, // see every_status_code_is_exercised
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Status::Unsigned => unsafe {
            tt_load_bytes_verified(
                b.as_ptr(),
                b.len(),
                key.as_ptr(),
                key.len(),
                0,
                &mut out,
                &mut err,
            )
        },
        Status::KeyMismatch | Status::BadSignature => {
            let mut s = thetatree::signature::sign(&b, b"other key").unwrap();
            if status == Status::BadSignature {
                s = thetatree::signature::sign(&b, key).unwrap();
                s[200] ^= 4;
            }
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe {
                tt_load_bytes_verified(
                    s.as_ptr(),
                    s.len(),
                    key.as_ptr(),
                    key.len(),
                    0,
                    &mut out,
                    &mut err,
                )
            }
        }
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        Status::NoKey => unsafe {
            tt_load_bytes(
                b.as_ptr(),
                b.len(),
                TT_LOAD_REQUIRE_SIGNATURE,
                &mut out,
                &mut err,
            )
        },
    };
    if status != Status::Ok {
        assert!(out.is_null());
    }
    Some(code)
}

/// Every status code `error.rs` defines is produced here, through the public API, except
/// `TT_ERR_PANIC`: the panic guard (`ffi::guard`) is `pub(crate)`, the validator is panic-free,
/// and no public entry point can be made to panic. It is produced by the crate's unit test
/// `ffi::tests::a_panic_becomes_tt_err_panic_with_its_message` (src/ffi.rs), which calls the
/// guard directly; an integration test would need a public test hook.
#[test]
fn every_status_code_is_exercised() {
    let mut produced = vec![];
    let mut unreachable = vec![];
    for s in Status::ALL {
        match produce(s) {
            Some(code) => {
                assert_eq!(
                    code,
                    s as i32,
                    "{}: got {:?}",
                    s.name(),
                    Status::from_code(code)
                );
                produced.push(s);
            }
            None => unreachable.push(s),
        }
    }
    let expected_unreachable: &[Status] = if cfg!(miri) {
        &[Status::Io, Status::Panic]
    } else {
        &[Status::Panic]
    };
    assert_eq!(unreachable, expected_unreachable);
    assert_eq!(produced.len() + unreachable.len(), Status::ALL.len());
    // And tt_status_str names each of them.
    for s in Status::ALL {
        // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
        let name = unsafe { CStr::from_ptr(tt_status_str(s as i32)) };
        assert_eq!(name.to_str().unwrap(), s.name());
    }
    // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
    let unknown = unsafe { CStr::from_ptr(tt_status_str(9999)) };
    assert_eq!(unknown.to_str().unwrap(), "TT_ERR_UNKNOWN");
}

/// Arguments that are wrong in each way the C ABI documents, one at a time.
#[test]
fn ffi_argument_errors() {
    let b = base();
    let m = ffi_model(&b, 0);
    let mut err = new_err();
    let mut out: *mut tt_model = std::ptr::null_mut();
    // NULL out / data / model / x / output.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(b.as_ptr(), b.len(), 0, std::ptr::null_mut(), &mut err) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(std::ptr::null(), 0, 0, &mut out, &mut err) },
        TT_ERR_NULL_ARG
    );
    let x = [0i8; 6];
    let xf = [0f64; 6];
    let mut l = [0i32; 2];
    let mut p = [0f64; 4];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict(
                std::ptr::null(),
                x.as_ptr(),
                2,
                3,
                l.as_mut_ptr(),
                2,
                &mut err,
            )
        },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, std::ptr::null(), 2, 3, l.as_mut_ptr(), 2, &mut err) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 2, 3, std::ptr::null_mut(), 2, &mut err) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba(
                m,
                x.as_ptr(),
                2,
                3,
                std::ptr::null_mut(),
                4,
                std::ptr::null_mut(),
            )
        },
        TT_ERR_NULL_ARG
    );
    // Shapes: n_rows * n_cols overflows; wrong n_cols; output too small.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict(
                m,
                x.as_ptr(),
                usize::MAX,
                3,
                l.as_mut_ptr(),
                usize::MAX,
                &mut err,
            )
        },
        TT_ERR_SHAPE
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_f64(
                m,
                xf.as_ptr(),
                usize::MAX / 3,
                3,
                l.as_mut_ptr(),
                usize::MAX,
                &mut err,
            )
        },
        TT_ERR_SHAPE
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba(
                m,
                x.as_ptr(),
                usize::MAX / 2,
                3,
                p.as_mut_ptr(),
                usize::MAX,
                &mut err,
            )
        },
        TT_ERR_SHAPE
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 2, 4, l.as_mut_ptr(), 2, &mut err) },
        TT_ERR_SHAPE
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba(m, x.as_ptr(), 2, 3, p.as_mut_ptr(), 3, &mut err) },
        TT_ERR_LENGTH
    );
    // Zero rows is fine and writes nothing.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 0, 3, l.as_mut_ptr(), 0, &mut err) },
        TT_OK
    );
    // Misaligned f64 input.
    let mis = xf.as_ptr().wrapping_byte_add(4);
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_f64(m, mis, 1, 3, l.as_mut_ptr(), 1, &mut err) },
        TT_ERR_ALIGNMENT
    );
    // Misaligned i32 output.
    let mis = l.as_mut_ptr().wrapping_byte_add(2);
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 1, 3, mis, 1, &mut err) },
        TT_ERR_ALIGNMENT
    );
    // Invalid cell values: position reported.
    for (v, col) in [(2i8, 0usize), (-2, 1), (127, 2)] {
        let mut x = [0i8, 1, 0, 1, 1, 1];
        x[3 + col] = v;
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        let rc = unsafe { tt_predict(m, x.as_ptr(), 2, 3, l.as_mut_ptr(), 2, &mut err) };
        // Column 2 ("c") is never read by the tree, so it cannot be invalid.
        if col == 2 {
            assert_eq!(rc, TT_OK);
        } else {
            assert_eq!(rc, TT_ERR_INPUT_VALUE);
            assert_eq!((err.row, err.column), (1, col as i64));
        }
    }
    for v in [0.5, 2.0, f64::INFINITY, -1.0] {
        let xf = [1.0, v, 0.0];
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_predict_f64(m, xf.as_ptr(), 1, 3, l.as_mut_ptr(), 1, &mut err) },
            TT_ERR_INPUT_VALUE
        );
    }
    // Flags.
    for f in [16u32, 1 << 31, TT_LOAD_BORROW | TT_LOAD_COPY] {
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_load_bytes(b.as_ptr(), b.len(), f, &mut out, &mut err) },
            TT_ERR_FLAGS
        );
    }
    // Metadata lookups.
    let mut s: *const c_char = std::ptr::null();
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_class_label(m, 2, &mut s, &mut err) },
        TT_ERR_NOT_FOUND
    );
    let mut i = 0usize;
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_index(m, c"z".as_ptr(), &mut i, &mut err) },
        TT_ERR_NOT_FOUND
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_index(m, c"".as_ptr(), &mut i, &mut err) },
        TT_ERR_NOT_FOUND
    );
    let mut d = [0u8; 32];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_model_digest(m, d.as_mut_ptr(), 31, &mut err) },
        TT_ERR_LENGTH
    );
    assert!(out.is_null());
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(std::ptr::null_mut()) };
}

#[test]
#[cfg_attr(miri, ignore = "file system")]
fn load_path_errors() {
    let mut err = new_err();
    let mut out: *mut tt_model = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(std::ptr::null(), 0, &mut out, &mut err) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(c"/nonexistent".as_ptr(), 0, &mut out, &mut err) },
        TT_ERR_IO
    );
    // A directory is not a model file.
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(c"/tmp".as_ptr(), 0, &mut out, &mut err) },
        TT_ERR_IO
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(c"/tmp".as_ptr(), TT_LOAD_COPY, &mut out, &mut err) },
        TT_ERR_IO
    );
    // BORROW applies to tt_load_bytes only.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(c"/nonexistent".as_ptr(), TT_LOAD_BORROW, &mut out, &mut err) },
        TT_ERR_FLAGS
    );
    // An empty file is truncated, a file of garbage bad magic, mapped or copied.
    let dir = std::env::temp_dir().join(format!("thetatree-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.ttm");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.join("garbage.ttm");
    std::fs::write(&garbage, vec![0xAB; 4096]).unwrap();
    let cut = dir.join("cut.ttm");
    std::fs::write(&cut, &base()[..300]).unwrap();
    for flags in [TT_LOAD_DEFAULT, TT_LOAD_COPY] {
        for (p, code) in [
            (&empty, TT_ERR_TRUNCATED),
            (&garbage, TT_ERR_BAD_MAGIC),
            (&cut, TT_ERR_TRUNCATED),
        ] {
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            assert_eq!(
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                unsafe { tt_load(c.as_ptr(), flags, &mut out, &mut err) },
                code
            );
            // The message names the file.
            assert!(err_message(&err).contains(p.file_name().unwrap().to_str().unwrap()));
        }
    }
    assert!(out.is_null());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 8. Hostile JSON to the compiler: refused with an error that points at the input, never an
//    "internal error" (which means the compiler built a model its own validator refuses).
// ---------------------------------------------------------------------------------------------

const LEAF_JSON: &str = r#"{"type":"leaf","n_samples":1,"class_counts":[1,0]}"#;

fn stump_with(left: &str, right: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"split","feature_idx":0,"n_samples":2,"class_counts":[1,1]{extra},"left":{left},"right":{right}}}"#
    )
}

#[track_caller]
fn expect_input_error(json: &str) -> thetatree::compile::CompileError {
    let opts = thetatree::compile::CompileOptions::default();
    match thetatree::compile::compile(json, &opts) {
        Ok(_) => panic!("compiled: {}", &json[..json.len().min(200)]),
        Err(e) => {
            assert!(
                !e.message.contains("internal error") && e.path != "output",
                "the compiler built a model its validator refuses: {e}"
            );
            e
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "serde_json parsing is slow under Miri")]
fn compiler_refuses_hostile_json_cleanly() {
    let cases: Vec<String> = vec![
        String::new(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "{".into(),
        "\u{feff}{}".into(),
        r#"{"type":"leaf"}"#.into(),
        r#"{"type":"leaf","class_counts":[1]}"#.into(),
        r#"{"type":"leaf","class_counts":[-1,2]}"#.into(),
        r#"{"type":"leaf","class_counts":[1e400,2]}"#.into(),
        r#"{"type":"leaf","class_counts":["1",2]}"#.into(),
        r#"{"type":"leaf","n_samples":-1,"class_counts":[1,2]}"#.into(),
        r#"{"type":"leaf","class_counts":[1,2],"prediction":0}"#.into(),
        r#"{"type":"truncated","depth":5}"#.into(),
        r#"{"type":7}"#.into(),
        r#"{"type":"split","feature_idx":0,"class_counts":[1,1]}"#.into(),
        stump_with(LEAF_JSON, "[]", ""),
        stump_with(LEAF_JSON, "null", ""),
        stump_with(LEAF_JSON, r#"{"type":"truncated"}"#, ""),
        stump_with(LEAF_JSON, LEAF_JSON, "").replace("\"feature_idx\":0", "\"feature_idx\":-1"),
        stump_with(LEAF_JSON, LEAF_JSON, "").replace("\"feature_idx\":0", "\"feature_idx\":0.5"),
        stump_with(LEAF_JSON, LEAF_JSON, "").replace("\"feature_idx\":0", "\"feature_idx\":\"0\""),
        stump_with(LEAF_JSON, LEAF_JSON, r#","feature_name":"a\u0000b""#),
        stump_with(LEAF_JSON, LEAF_JSON, r#","feature_name":7"#),
        // The same feature index under two names.
        stump_with(
            &stump_with(LEAF_JSON, LEAF_JSON, r#","feature_name":"x""#),
            LEAF_JSON,
            r#","feature_name":"y""#,
        ),
        // A baseline wrapper without --key; a persistence dict with a gappy mapping.
        r#"{"a":{"tree_structure":{}},"b":{}}"#.into(),
        format!(
            r#"{{"feature_mapping":{{"x":0,"y":2}},"tree_structure":{}}}"#,
            stump_with(LEAF_JSON, LEAF_JSON, "")
        ),
        format!(
            r#"{{"feature_mapping":{{"x":0,"y":0}},"tree_structure":{}}}"#,
            stump_with(LEAF_JSON, LEAF_JSON, "")
        ),
        // Own export: labels not two distinct strings, no metadata object.
        format!(
            r#"{{"thetatree_export":1,"class_labels":["a","a"],"metadata":{{}},"tree_structure":{LEAF_JSON}}}"#
        ),
        format!(
            r#"{{"thetatree_export":1,"class_labels":["a"],"metadata":{{}},"tree_structure":{LEAF_JSON}}}"#
        ),
        format!(r#"{{"thetatree_export":1,"metadata":[],"tree_structure":{LEAF_JSON}}}"#),
    ];
    for c in &cases {
        expect_input_error(c);
    }
}

/// BUG (src/compile.rs, `n_samples`): a node without `n_samples` gets `c0 + c1`, which can
/// overflow to +inf for finite counts; the validator then refuses "n_samples inf".
#[test]
#[cfg_attr(miri, ignore = "serde_json parsing is slow under Miri")]
fn compiler_refuses_count_sums_that_overflow() {
    let big = r#"{"type":"leaf","class_counts":[1e308,1e308]}"#;
    expect_input_error(&stump_with(LEAF_JSON, big, ""));
    let split =
        r#"{"type":"split","feature_idx":0,"class_counts":[1e308,1e308],"left":LEAF,"right":LEAF}"#
            .replace("LEAF", LEAF_JSON);
    expect_input_error(&split);
}

/// BUG (src/compile.rs, `compile_inner`): an own export's `feature_names` list is not checked
/// for duplicates (tree names are), so the encoded string table fails validation.
#[test]
#[cfg_attr(miri, ignore = "serde_json parsing is slow under Miri")]
fn compiler_refuses_duplicate_names_in_an_own_export() {
    let json = format!(
        r#"{{"thetatree_export":1,"feature_names":["a","a"],"class_labels":["0","1"],"metadata":{{}},"tree_structure":{}}}"#,
        stump_with(LEAF_JSON, LEAF_JSON, "")
    );
    let e = expect_input_error(&json);
    assert!(e.message.contains("\"a\""), "{e}");
}

/// The loader caps metadata JSON nesting at `validate::MAX_METADATA_NESTING` (64) before parsing
/// it; the compiler must refuse deeper `hyperparameters` (or an own export's `metadata`) with an
/// input error instead of writing a file its own loader rejects.
#[test]
#[cfg_attr(miri, ignore = "serde_json parsing is slow under Miri")]
fn compiler_refuses_metadata_nested_deeper_than_the_loader_accepts() {
    let tree = stump_with(LEAF_JSON, LEAF_JSON, "");
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // 50 levels are fine everywhere.
    let ok = format!(
        r#"{{"model_type":"x","hyperparameters":{},"tree_structure":{tree}}}"#,
        nested(50)
    );
    let opts = thetatree::compile::CompileOptions::default();
    expect_ok(&thetatree::compile::compile(&ok, &opts).unwrap());
    for n in [70, 200, 4000] {
        let deep = format!(
            r#"{{"model_type":"x","hyperparameters":{},"tree_structure":{tree}}}"#,
            nested(n)
        );
        expect_input_error(&deep);
        let own = format!(
            r#"{{"thetatree_export":1,"feature_names":["a"],"class_labels":["0","1"],"metadata":{{"h":{}}},"tree_structure":{tree}}}"#,
            nested(n)
        );
        expect_input_error(&own);
    }
}

/// A left-adjacent tree that is not in pre-order (node 0's right child comes before node 1's):
/// valid, and its missing directions are still checked (the validator's pre-order fast path
/// defers each check to the right child; out-of-order ones are checked at the end).
#[test]
fn left_adjacent_tree_out_of_pre_order() {
    let spec = |dir0: bool, dir1: bool| ModelSpec {
        nodes: vec![
            NodeSpec::Split {
                feature: 0,
                left: 1,
                right: 3,
                missing_right: dir0,
            },
            NodeSpec::Split {
                feature: 1,
                left: 2,
                right: 4,
                missing_right: dir1,
            },
            leaf([3.0, 1.0]),
            leaf([0.0, 5.0]),
            leaf([1.0, 2.0]),
        ],
        stats: vec![
            [12.0, 4.0, 8.0],
            [7.0, 4.0, 3.0],
            [4.0, 3.0, 1.0],
            [5.0, 0.0, 5.0],
            [3.0, 1.0, 2.0],
        ],
        ..base_spec()
    };
    let ok = encode(&spec(false, false));
    assert_eq!(get_u32(&ok, 20) & FLAG_LEFT_ADJACENT, FLAG_LEFT_ADJACENT);
    let m = expect_ok(&ok);
    // Row (f0 = 0, f1 = 1) reaches leaf B; (1, *) reaches leaf C.
    assert_eq!(
        m.tree().leaf(&[0i8, 1, 0]).unwrap().probabilities,
        [1.0 / 3.0, 2.0 / 3.0]
    );
    assert_eq!(
        m.tree().leaf(&[1i8, 0, 0]).unwrap().probabilities,
        [0.0, 1.0]
    );
    for (d0, d1, node) in [(true, false, 0), (false, true, 1)] {
        let b = encode(&spec(d0, d1));
        expect(&b, Status::Corrupt, Some(node_word(&b, node, 0) as u64));
    }
}
