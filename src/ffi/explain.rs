//! C entry points for explanations (issue 15): leaf indices, per-feature contributions,
//! decision paths and node records. Same conventions as the predict calls: status codes, `err`
//! written only on failure, NULL / shape / length / alignment errors write no output, panics
//! become `TT_ERR_PANIC`.

use super::args::{aligned, check_cols, guard, input, model_ref, named, null, output};
use super::dense::predict_args;
use super::wide::{bits_call, csr_call};
use super::{tt_error, tt_model};
use crate::error::{Error, Result, Status};
use crate::traverse::{Cell, NodeInfo, PathLen};

/// One node of the tree, as `tt_node_info` reads it. Node indices are the reference's
/// pre-order numbering (root 0, node, left subtree, right subtree).
#[repr(C)]
pub struct tt_node {
    /// 1 leaf, 0 split.
    pub is_leaf: i32,
    /// Split feature index; -1 for a leaf.
    pub feature: i32,
    /// Child for value 0; -1 for a leaf.
    pub left: i32,
    /// Child for value 1; -1 for a leaf.
    pub right: i32,
    /// 1 if a missing value goes right; 0 otherwise (and for a leaf).
    pub missing_right: i32,
    /// Majority class index (as tt_predict would give at this node; class 0 on a tie).
    pub label: i32,
    /// Training samples that reached the node.
    pub n_samples: f64,
    /// Training samples of class 0 and 1 (NaN for a split whose counts were not recorded).
    pub class_counts: [f64; 2],
    /// From the counts, computed exactly as the leaves' are (NaN when the counts are).
    pub probabilities: [f64; 2],
}

impl From<NodeInfo> for tt_node {
    fn from(n: NodeInfo) -> tt_node {
        // Indices are < MAX_NODES / MAX_FEATURES (2^24 / 2^22), so they fit an i32.
        let idx = |v: Option<usize>| v.map_or(-1, |v| v as i32);
        tt_node {
            is_leaf: n.is_leaf as i32,
            feature: idx(n.feature),
            left: idx(n.left),
            right: idx(n.right),
            missing_right: n.missing_right as i32,
            label: n.label,
            n_samples: n.n_samples,
            class_counts: n.class_counts,
            probabilities: n.probabilities,
        }
    }
}

/// # Safety
/// As for [`predict_args`].
unsafe fn run_leaf<T: Cell>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut i32,
    out_len: usize,
) -> Result<()> {
    // SAFETY: this function's contract.
    let (model, xs, os) = unsafe { predict_args(m, x, n_rows, n_cols, out, out_len, 1)? };
    model
        .tree()
        .predict_leaf(xs, n_rows, os)
        .map_err(|e| named(model, e))
}

/// # Safety
/// As for [`predict_args`].
unsafe fn run_contrib<T: Cell>(
    m: *const tt_model,
    x: *const T,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
) -> Result<()> {
    // SAFETY: this function's contract.
    let width = unsafe { model_ref(m)? }.tree().contrib_width();
    // SAFETY: this function's contract.
    let (model, xs, os) = unsafe { predict_args(m, x, n_rows, n_cols, out, out_len, width)? };
    model
        .tree()
        .predict_contrib(xs, n_rows, os)
        .map_err(|e| named(model, e))
}

/// The leaf each row reaches, as its node index in the reference's pre-order numbering (root
/// 0, node, left subtree, right subtree: the golden files' `leaf_preorder`). `out_leaf` must
/// hold at least `n_rows` values. Input, errors and cost as `tt_predict`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_leaf(
    m: *const tt_model,
    x: *const i8,
    n_rows: usize,
    n_cols: usize,
    out_leaf: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe { guard(err, || run_leaf(m, x, n_rows, n_cols, out_leaf, out_len)) }
}

/// `tt_predict_leaf` for double input (0.0, 1.0, NaN = missing).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_leaf_f64(
    m: *const tt_model,
    x: *const f64,
    n_rows: usize,
    n_cols: usize,
    out_leaf: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe { guard(err, || run_leaf(m, x, n_rows, n_cols, out_leaf, out_len)) }
}

/// `tt_predict_leaf` for bit-packed rows (layout and errors as `tt_predict_bits`).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_leaf_bits(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out_leaf: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            bits_call(
                m,
                x,
                missing,
                n_rows,
                n_cols,
                out_leaf,
                out_len,
                1,
                |t, x, mask, o| t.predict_leaf_bits(x, mask, n_rows, o),
            )
        })
    }
}

/// `tt_predict_leaf` for sparse CSR rows (layout and errors as `tt_predict_csr`).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_leaf_csr(
    m: *const tt_model,
    row_offsets: *const usize,
    indices: *const u32,
    n_indices: usize,
    n_rows: usize,
    n_cols: usize,
    out_leaf: *mut i32,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            csr_call(
                m,
                row_offsets,
                indices,
                n_indices,
                n_rows,
                n_cols,
                out_leaf,
                out_len,
                1,
                |t, offs, idx, o| t.predict_leaf_csr(offs, idx, n_rows, o),
            )
        })
    }
}

/// Per-feature contributions to P(class 1) (LightGBM's `pred_contrib` layout):
/// `n_features + 1` doubles per row, row-major; `out_len >= n_rows * (n_features + 1)`, else
/// `TT_ERR_LENGTH`. For each split on the row's path that tests feature `f`,
/// `out[f] += P1(child) - P1(node)` (node probabilities from the class counts, computed as the
/// leaves' are); `out[n_features]` = P1(root), the bias. A row's values add up to its P(class 1)
/// (within 1e-12) and are non-zero only for features tested on its path. Input and errors as
/// `tt_predict`; on `TT_ERR_INPUT_VALUE` earlier rows are written, the failing row's values
/// are incomplete.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_contrib(
    m: *const tt_model,
    x: *const i8,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe { guard(err, || run_contrib(m, x, n_rows, n_cols, out, out_len)) }
}

/// `tt_predict_contrib` for double input (0.0, 1.0, NaN = missing).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_contrib_f64(
    m: *const tt_model,
    x: *const f64,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for `m`, `x`, the output and `err`.
    unsafe { guard(err, || run_contrib(m, x, n_rows, n_cols, out, out_len)) }
}

/// `tt_predict_contrib` for bit-packed rows (input as `tt_predict_bits`).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_contrib_bits(
    m: *const tt_model,
    x: *const u64,
    missing: *const u64,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            let width = model_ref(m)?.tree().contrib_width();
            bits_call(
                m,
                x,
                missing,
                n_rows,
                n_cols,
                out,
                out_len,
                width,
                |t, x, mask, o| t.predict_contrib_bits(x, mask, n_rows, o),
            )
        })
    }
}

/// `tt_predict_contrib` for sparse CSR rows (input and structure errors as `tt_predict_csr`).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_predict_contrib_csr(
    m: *const tt_model,
    row_offsets: *const usize,
    indices: *const u32,
    n_indices: usize,
    n_rows: usize,
    n_cols: usize,
    out: *mut f64,
    out_len: usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            let width = model_ref(m)?.tree().contrib_width();
            csr_call(
                m,
                row_offsets,
                indices,
                n_indices,
                n_rows,
                n_cols,
                out,
                out_len,
                width,
                |t, offs, idx, o| t.predict_contrib_csr(offs, idx, n_rows, o),
            )
        })
    }
}

/// The shared body of the decision-path calls.
///
/// # Safety
/// `m` NULL or a live model; `row` NULL or readable for `n_cols` values; `out_nodes` NULL or
/// writable for `cap` values; `out_len` NULL or writable; outputs alias nothing else.
unsafe fn run_path<T: Cell>(
    m: *const tt_model,
    row: *const T,
    n_cols: usize,
    out_nodes: *mut i32,
    cap: usize,
    out_len: *mut usize,
) -> Result<()> {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(m)? };
    if row.is_null() {
        return Err(null("row"));
    }
    if out_len.is_null() {
        return Err(null("out_len"));
    }
    // NULL out_nodes is the "ask for the size" call, allowed only with cap == 0.
    if out_nodes.is_null() && cap != 0 {
        return Err(null("out_nodes"));
    }
    aligned(row, "row")?;
    aligned(out_len as *const usize, "out_len")?;
    check_cols(model, n_cols)?;
    // SAFETY: this function's contract: `row` holds n_cols readable values.
    let xs = unsafe { input(row, n_cols, "row")? };
    let nodes: &mut [i32] = if out_nodes.is_null() {
        &mut []
    } else {
        // SAFETY: this function's contract: `out_nodes` is writable for `cap` values.
        unsafe { output(out_nodes, cap, cap, 1)? }
    };
    let tree = model.tree();
    match tree
        .decision_path_into(xs, nodes)
        .map_err(|e| named(model, e))?
    {
        PathLen::Written(n) => {
            // SAFETY: non-null, aligned, writable (this function's contract).
            unsafe { out_len.write(n) };
            Ok(())
        }
        PathLen::Short(n) => {
            // SAFETY: as above; the needed length is the one output of a short call.
            unsafe { out_len.write(n) };
            Err(Error::new(
                Status::Length,
                format!("cap is {cap}, the decision path has {n} nodes"),
            ))
        }
    }
}

/// The nodes from the root to the reached leaf for one int8 row of `n_cols` values (node
/// indices as `tt_predict_leaf`'s, root first, leaf last). On success `*out_len` = the path
/// length. When `cap` is shorter, returns `TT_ERR_LENGTH` with `*out_len` = the needed length
/// and writes no node (`out_nodes` may be NULL iff `cap == 0`: the "ask for the size" call; a
/// path never has more than `tt_max_depth(m) + 1` nodes). `out_len` NULL is `TT_ERR_NULL_ARG`.
/// An invalid value is `TT_ERR_INPUT_VALUE` (row 0, its column).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_decision_path(
    m: *const tt_model,
    row: *const i8,
    n_cols: usize,
    out_nodes: *mut i32,
    cap: usize,
    out_len: *mut usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe { guard(err, || run_path(m, row, n_cols, out_nodes, cap, out_len)) }
}

/// `tt_decision_path` for a double row (0.0, 1.0, NaN = missing).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_decision_path_f64(
    m: *const tt_model,
    row: *const f64,
    n_cols: usize,
    out_nodes: *mut i32,
    cap: usize,
    out_len: *mut usize,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe { guard(err, || run_path(m, row, n_cols, out_nodes, cap, out_len)) }
}

/// Read node `node` (0 .. tt_n_nodes(m) - 1): leaf or split, split feature, children, missing
/// direction, n_samples, class counts and the probabilities and label they give. A node
/// `>= tt_n_nodes(m)` is `TT_ERR_NOT_FOUND`. `*out` is written only on success.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn tt_node_info(
    m: *const tt_model,
    node: usize,
    out: *mut tt_node,
    err: *mut tt_error,
) -> i32 {
    // SAFETY: the caller meets the header's contract for every pointer argument.
    unsafe {
        guard(err, || {
            let model = model_ref(m)?;
            if out.is_null() {
                return Err(null("out"));
            }
            aligned(out as *const tt_node, "out")?;
            let tree = model.tree();
            let info = tree.node(node).ok_or_else(|| {
                Error::new(
                    Status::NotFound,
                    format!("node {node} is out of range (n_nodes = {})", tree.n_nodes()),
                )
            })?;
            // SAFETY: non-null, aligned and writable for one tt_node (the header's contract).
            out.write(tt_node::from(info));
            Ok(())
        })
    }
}
