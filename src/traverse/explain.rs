//! Explanations of a prediction (issue 15): the leaf a row reaches, its decision path, the
//! per-feature contributions to P(class 1), and one node's record.
//!
//! Node numbering is the `.ttm` node index, which the compiler lays out in the reference's
//! pre-order (root 0, node, left subtree, right subtree): the golden files' `leaf_preorder`.
//!
//! Contributions use LightGBM's `pred_contrib` layout, `n_features + 1` values per row: for
//! each split on the row's path that tests feature `f`, `out[f] += P1(child) - P1(node)`, and
//! `out[n_features] = P1(root)` (the bias). The sum telescopes to P1 of the reached leaf, which
//! is the row's P(class 1). Node probabilities come from the node's class counts by the leaves'
//! rule ([`leaf_probabilities`]), so a leaf's P1 equals the leaf table bit for bit (the
//! validator checks it). A split whose counts were not recorded (a JSON export without
//! `class_counts` on splits; stored as NaN) takes its parent's probability, and a root without
//! counts takes 0.5 (the rule's value for empty counts): the sum still equals the leaf's P1.
//!
//! Everything here is safe code: the only unchecked reads are the walk's own, in `kernels.rs`
//! ([`Tree::walk_edges`] and its drivers); node and stats reads here are checked.

use super::kernels::PathVisit;
use super::{Cell, Tree};
use crate::error::{Error, Result, Status};
use crate::format::{TAG_LEAF, TAG_SPLIT_MISSING_RIGHT};
use crate::validate::{leaf_label, leaf_probabilities};

/// One node as read by `tt_node_info` / [`Tree::node`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeInfo {
    pub is_leaf: bool,
    /// Split feature index; `None` for a leaf.
    pub feature: Option<usize>,
    /// Child for value 0; `None` for a leaf.
    pub left: Option<usize>,
    /// Child for value 1; `None` for a leaf.
    pub right: Option<usize>,
    /// Where a missing value goes (false for a leaf).
    pub missing_right: bool,
    pub n_samples: f64,
    /// `[count of class 0, count of class 1]`; NaN for a split whose counts were not recorded.
    pub class_counts: [f64; 2],
    /// From the counts, computed exactly as the leaves' are (NaN when the counts are).
    pub probabilities: [f64; 2],
    /// Majority class of the node (the leaf rule: class 0 on a tie); a leaf's stored label.
    pub label: i32,
}

/// Result of a decision-path walk into a caller's buffer.
pub(crate) enum PathLen {
    /// The path (this many nodes) was written.
    Written(usize),
    /// The buffer is shorter than the path, which has this many nodes; nothing was written.
    Short(usize),
}

impl Tree<'_> {
    /// Number of nodes (node indices are `0..n_nodes()`).
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Values per row written by the contribution calls: `n_features + 1`.
    pub fn contrib_width(&self) -> usize {
        self.n_features + 1
    }

    /// Node `i`'s record; `None` when `i >= n_nodes()`.
    pub fn node(&self, i: usize) -> Option<NodeInfo> {
        let (n, s) = (self.nodes.get(i)?, self.stats.get(i)?);
        let counts = [s.count_neg.get(), s.count_pos.get()];
        let tag = n.tag.get();
        let is_leaf = tag == TAG_LEAF;
        let split = |v: u32| (!is_leaf).then_some(v as usize);
        Some(NodeInfo {
            is_leaf,
            feature: split(n.a.get()),
            left: split(n.b.get()),
            right: split(n.c.get()),
            missing_right: tag == TAG_SPLIT_MISSING_RIGHT,
            n_samples: s.n_samples.get(),
            class_counts: counts,
            probabilities: leaf_probabilities(counts),
            label: if is_leaf {
                n.b.get() as i32
            } else {
                leaf_label(counts) as i32
            },
        })
    }

    /// P(class 1) of node `i` from its counts, or `None` when they were not recorded.
    #[inline(always)]
    fn node_p1(&self, i: usize) -> Option<f64> {
        let s = self.stats.get(i)?;
        let c = [s.count_neg.get(), s.count_pos.get()];
        (!c[0].is_nan()).then(|| leaf_probabilities(c)[1])
    }

    /// The bias of the contributions: the root's P(class 1) (0.5 if not recorded).
    fn root_p1(&self) -> f64 {
        self.node_p1(0).unwrap_or(0.5)
    }

    /// The reached leaf's node index for `n_rows` rows of `x` (row-major, `n_features` wide)
    /// into `out[..n_rows]`. The batch kernels of [`Tree::predict`], so it costs what a
    /// prediction costs; errors as [`Tree::predict`]'s.
    pub fn predict_leaf<T: Cell>(&self, x: &[T], n_rows: usize, out: &mut [i32]) -> Result<()> {
        self.check_shape(x.len(), n_rows, out.len(), 1)?;
        self.for_each_leaf(x, n_rows, |r, leaf| out[r] = leaf.index() as i32)
    }

    /// Per-feature contributions to P(class 1), [`Tree::contrib_width`] values per row
    /// (layout in the module documentation) into `out[..n_rows * contrib_width()]`. Errors as
    /// [`Tree::predict_proba`]'s; on an invalid value, earlier rows are written and the
    /// failing row's values are incomplete.
    pub fn predict_contrib<T: Cell>(&self, x: &[T], n_rows: usize, out: &mut [f64]) -> Result<()> {
        self.check_shape(x.len(), n_rows, out.len(), self.contrib_width())?;
        self.for_each_path(x, n_rows, &mut Contrib::new(self, out))
    }

    /// Writes the indices of the nodes from the root to the reached leaf into `out`, returns
    /// the path length. `row.len()` must be `n_features` (`Status::Shape` otherwise); an
    /// `out` shorter than the path is `Status::Length` (the message gives the needed length;
    /// nothing is written); an invalid value is `Status::InputValue` (row 0 and its column).
    pub fn decision_path<T: Cell>(&self, row: &[T], out: &mut [i32]) -> Result<usize> {
        match self.decision_path_into(row, out)? {
            PathLen::Written(n) => Ok(n),
            PathLen::Short(n) => Err(Error::new(
                Status::Length,
                format!(
                    "the path has {n} nodes, the output buffer holds {}",
                    out.len()
                ),
            )),
        }
    }

    /// [`Tree::decision_path`] reporting a short buffer as a value (the C ABI returns the
    /// needed length in `*out_len`).
    pub(crate) fn decision_path_into<T: Cell>(
        &self,
        row: &[T],
        out: &mut [i32],
    ) -> Result<PathLen> {
        if row.len() != self.n_features {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "row has {} values, the model expects {} features",
                    row.len(),
                    self.n_features
                ),
            ));
        }
        let walk = |visit: &mut Path<'_>| {
            self.walk_dense_edges(row, visit)
                .map_err(|c| super::bad_value(0, c, row[c]))
        };
        // A path has at most max_depth + 1 nodes; only a buffer shorter than that needs a
        // counting walk first, so that a short buffer is never written.
        if out.len() <= self.max_depth as usize {
            let mut count = Path {
                out: &mut [],
                len: 0,
            };
            walk(&mut count)?;
            if count.len > out.len() {
                return Ok(PathLen::Short(count.len));
            }
        }
        let mut path = Path { out, len: 0 };
        walk(&mut path)?;
        Ok(PathLen::Written(path.len))
    }
}

/// The contribution visitor: accumulates `P1(child) - P1(node)` per feature into the row's
/// `contrib_width()` values.
pub(super) struct Contrib<'t, 'o> {
    tree: Tree<'t>,
    out: &'o mut [f64],
    /// Start of the current row's values in `out`.
    base: usize,
    /// P1 of the node the walk is at.
    p: f64,
    bias: f64,
}

impl<'t, 'o> Contrib<'t, 'o> {
    pub(super) fn new(tree: &Tree<'t>, out: &'o mut [f64]) -> Contrib<'t, 'o> {
        Contrib {
            tree: *tree,
            out,
            base: 0,
            p: 0.0,
            bias: tree.root_p1(),
        }
    }
}

impl PathVisit for Contrib<'_, '_> {
    #[inline(always)]
    fn start(&mut self, row: usize) {
        let w = self.tree.contrib_width();
        self.base = row * w;
        let vals = &mut self.out[self.base..self.base + w];
        vals.fill(0.0);
        vals[w - 1] = self.bias;
        self.p = self.bias;
    }
    #[inline(always)]
    fn edge(&mut self, _node: usize, feature: usize, child: usize) {
        let pc = self.tree.node_p1(child).unwrap_or(self.p);
        self.out[self.base + feature] += pc - self.p;
        self.p = pc;
    }
}

/// The decision-path visitor: writes node indices while they fit, counts them all.
struct Path<'o> {
    out: &'o mut [i32],
    len: usize,
}

impl Path<'_> {
    #[inline(always)]
    fn push(&mut self, node: usize) {
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = node as i32;
        }
        self.len += 1;
    }
}

impl PathVisit for Path<'_> {
    fn start(&mut self, _row: usize) {
        self.len = 0;
        self.push(0);
    }
    fn edge(&mut self, _node: usize, _feature: usize, child: usize) {
        self.push(child);
    }
}
