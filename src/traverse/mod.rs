//! Allocation-free traversal over a validated node array.
//!
//! [`Tree`] can only be built from bytes and a [`Layout`] that [`crate::validate::validate`]
//! produced for them, which is what makes the unchecked indexing below sound: every child index
//! is `< n_nodes`, every split's feature index is `< n_features`, every leaf index is
//! `< n_leaves`, and the walk strictly increases the node index, so it ends within `n_nodes`
//! steps. Rows handed to the walk always have exactly `n_features` cells (checked per call).
//!
//! # Kernels
//!
//! Three ways to choose a child, picked per model when the [`Tree`] is built ([`Tree::kernel`]):
//!
//! * [`Kernel::Branchy`]: `if go_right { right } else { left }`. The CPU predicts the branch and
//!   runs ahead along the predicted path (the left child is the next record in pre-order, so
//!   that path is also the prefetcher's). Best when branches are predictable: one-hot / sketch
//!   trees, whose long chains of `var=value` splits almost always go the `0` way.
//! * [`Kernel::BranchFree`]: the child index is computed with a mask (no branch on the data),
//!   and batches walk [`LANES`] (8) rows at once, interleaved, so that the loads of one row hide the
//!   latency of the others. Best when each split is a coin flip for the branch predictor:
//!   dense, balanced trees.
//!
//! * [`Kernel::Native`] (feature `native`, x86_64): machine code generated at load from the
//!   validated tree (`native.rs`, Cranelift) in the shape of a compiled if/else: one block per
//!   split that loads its cell at an immediate offset, the left (absent) child falling through.
//!   Dense int8 / f64 rows only; chosen for trees the interpreter would walk branchy and for
//!   small trees (see [`crate::model::wants_native`]); every native result is checked (a leaf
//!   of this tree, or a column `< n_features`) and anything else walks with the interpreter.
//!
//! A single row takes a short path (no batching set-up) with the model's child selection.
//! Whatever the kernel, every row reaches the same leaf and every error is the same: the first
//! invalid cell that the scalar walk of the first failing row reads (a batch group that meets
//! an invalid cell is re-walked row by row to find it).
//!
//! # Modules
//!
//! * `cell`: the int8 / f64 cell types of dense rows and how a value routes at a split.
//! * `kernels`: the walks themselves and the row readers they use; the only `unsafe` of the
//!   traversal (unchecked node, leaf and cell reads, justified by the validated layout and the
//!   shape checks of the drivers, and the call of the native code).
//! * `native` (feature `native`, x86_64): the native code generator; no `unsafe`.
//! * this module: [`Tree`], [`Kernel`], and the dense-row (int8 / f64) prediction calls.
//! * `wide`: the bit-packed and sparse (CSR) prediction calls.
//! * `explain`: leaf indices, decision paths, per-feature contributions and node records.

mod cell;
mod explain;
mod kernels;
#[cfg(all(feature = "native", target_arch = "x86_64", not(miri)))]
mod native;
mod wide;

pub(crate) use cell::bad_value;
pub use cell::Cell;
pub use explain::NodeInfo;
pub(crate) use explain::PathLen;
pub use kernels::{NativeCode, LANES, NATIVE_AVAILABLE};

/// Trees with more nodes than this get no native code (the interpreter walks them).
pub const NATIVE_MAX_NODES: usize = 65_536;

use kernels::LeafNode;

use crate::error::{Error, Result, Status};
use crate::format::*;
use crate::validate::Layout;
use zerocopy::little_endian::F64;
use zerocopy::FromBytes;

/// How children are chosen (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Branch on each split; single rows and batches walk row by row.
    Branchy,
    /// Mask-selected children; batches walk [`LANES`] rows interleaved.
    BranchFree,
    /// Machine code generated at load from the tree (feature `native`): the if/else shape,
    /// one immediate-offset cell load per split. Dense (int8 / f64) rows only; other inputs,
    /// and any row whose native result does not check out, walk with the interpreter.
    Native,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Branchy => "branchy",
            Kernel::BranchFree => "branch-free",
            Kernel::Native => "native",
        }
    }

    /// Whether a tree is chain-shaped, from header fields only (O(1)).
    ///
    /// A balanced tree has `max_depth` close to `log2(n_leaves)`; a tree much deeper than that
    /// is made of chains (one-hot / sketch trees: `var=value` splits whose `1` side is rare),
    /// whose branches the CPU predicts well, and a branchy walk that runs ahead along the left
    /// (next-record) child wins by up to 10x. The threshold
    /// `max_depth > 3 * ceil(log2(n_leaves)) + 4` sits far from both families: dense trees
    /// score depth/log2 <= 2, the chains of issue 12's families >= 6. Returns
    /// [`Kernel::Branchy`] for chains.
    pub fn for_shape(n_leaves: u32, max_depth: u32) -> Kernel {
        let log2_leaves = 32 - n_leaves.saturating_sub(1).leading_zeros();
        if max_depth > 3 * log2_leaves + 4 {
            Kernel::Branchy
        } else {
            Kernel::BranchFree
        }
    }

    /// The choice for a tree, from its shape and its expected path length (the
    /// [`Layout::expected_path`] of training rows, from the node sample counts).
    ///
    /// Chains (see [`Kernel::for_shape`]) walk branchy. Otherwise the interleaved branch-free
    /// walk moves its [`LANES`] rows in lock-step, so a group costs its deepest lane's path:
    /// that pays when paths have about the same length (balanced trees: E[path] ~ max_depth),
    /// not when they are ragged. Measured (issue 12's families, rows from memory): balanced
    /// d12 58.8 (branch-free) vs 64.6 ns (branchy), ragged depth 23 with E[path] 6.3: 50.9
    /// vs 38.1 ns. The cut at E[path] < max_depth / 2 sits between the ragged tree (0.27) and
    /// issue 4's unlimited dense tree (13.5 / 24 = 0.56: coin-flip splits, where branch-free
    /// meets its criterion budget), and far from balanced trees (1.0).
    pub fn for_tree(n_leaves: u32, max_depth: u32, expected_path: f64) -> Kernel {
        if Kernel::for_shape(n_leaves, max_depth) == Kernel::Branchy
            || expected_path < 0.5 * f64::from(max_depth)
        {
            Kernel::Branchy
        } else {
            Kernel::BranchFree
        }
    }
}

/// The node array and leaf table of a validated model.
#[derive(Clone, Copy)]
pub struct Tree<'a> {
    nodes: &'a [RawNode],
    probs: &'a [F64],
    /// Per-node training statistics (explanations only; never read by the prediction walks).
    stats: &'a [RawStats],
    /// Edges from the root to the deepest leaf (bounds a decision path's length).
    max_depth: u32,
    n_features: usize,
    kernel: Kernel,
    /// The header's pre-order flag (validated): every split's left child is the next record.
    left_adjacent: bool,
    /// Branchy walks scan runs of left links four records at a time (pre-order chain-shaped
    /// trees only; see `walk_chain` in `kernels`).
    chain_runs: bool,
    /// The model's native code for this tree (dense rows then run it instead of `kernel`).
    native: Option<&'a NativeCode>,
}

/// A reached leaf, as a value (it does not refer back into the tree).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leaf {
    pub node: usize,
    pub label: i32,
    pub probabilities: [f64; 2],
}

impl<'a> Tree<'a> {
    /// `model` and `layout` must come from one successful `validate` call (the constructor is
    /// crate-private so that only `Model` and tests holding a real `Layout` can build a Tree).
    pub(crate) fn new(model: &'a [u8], layout: &Layout) -> Tree<'a> {
        let (noff, nlen) = layout.section(SEC_NODES);
        let (poff, plen) = layout.section(SEC_PROBS);
        let (soff, slen) = layout.section(SEC_STATS);
        // Validation already proved both conversions succeed; empty fallbacks keep this panic-free.
        let nodes = <[RawNode]>::ref_from_bytes(&model[noff..noff + nlen]).unwrap_or(&[]);
        let probs = <[F64]>::ref_from_bytes(&model[poff..poff + plen]).unwrap_or(&[]);
        let stats = <[RawStats]>::ref_from_bytes(&model[soff..soff + slen]).unwrap_or(&[]);
        assert!(
            !nodes.is_empty(),
            "Tree::new called with an unvalidated layout"
        );
        let (n_leaves, max_depth) = (layout.n_leaves(), layout.max_depth());
        let left_adjacent = layout.flags() & FLAG_LEFT_ADJACENT != 0;
        Tree {
            nodes,
            probs,
            stats,
            max_depth: layout.max_depth(),
            n_features: layout.n_features() as usize,
            kernel: Kernel::for_tree(n_leaves, max_depth, layout.expected_path()),
            left_adjacent,
            chain_runs: left_adjacent && Kernel::for_shape(n_leaves, max_depth) == Kernel::Branchy,
            native: None,
        }
    }

    /// The same tree running `code`, which must have been generated from this tree (the
    /// model that owns both guarantees it; the node count and width are checked as well).
    pub(crate) fn with_native(mut self, code: Option<&'a NativeCode>) -> Tree<'a> {
        self.native =
            code.filter(|c| c.n_nodes() == self.nodes.len() && c.n_features() == self.n_features);
        self
    }

    /// Whether the interpreter's own choice for this tree is the branchy walk (chains and
    /// ragged trees), where the native kernel is used when the build has it.
    pub fn interpreter_kernel(&self) -> Kernel {
        self.kernel
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The child-selection kernel chosen for this model: [`Kernel::Native`] when the model
    /// carries native code, else the interpreter's.
    pub fn kernel(&self) -> Kernel {
        if self.native.is_some() {
            Kernel::Native
        } else {
            self.kernel
        }
    }

    /// The same tree with another kernel (for benchmarks and equivalence tests; results are
    /// identical, only speed differs). Every kernel is sound on any validated tree. An
    /// interpreter kernel drops the native code; [`Kernel::Native`] keeps the tree as it is
    /// (there is native code only if the model generated it at load).
    pub fn with_kernel(mut self, kernel: Kernel) -> Tree<'a> {
        if kernel != Kernel::Native {
            self.kernel = kernel;
            self.native = None;
        }
        self
    }

    /// Whether branchy walks scan runs of left links (chosen at load for pre-order
    /// chain-shaped trees).
    pub fn chain_runs(&self) -> bool {
        self.chain_runs
    }

    /// The same tree with run scanning on or off (for benchmarks and equivalence tests; it is
    /// only ever on for pre-order trees, whose left links are the next record).
    pub fn with_chain_runs(mut self, on: bool) -> Tree<'a> {
        self.chain_runs = on && self.left_adjacent;
        self
    }

    /// Walk one row to its leaf node index, or return the column holding an invalid value.
    /// Panics unless `row.len() == n_features`.
    #[inline(always)]
    pub fn leaf_index<T: Cell>(&self, row: &[T]) -> std::result::Result<usize, usize> {
        self.walk_dense(row).map(LeafNode::index)
    }

    /// Walk one row to its leaf (node index, label, probabilities), or return the column
    /// holding an invalid value. Panics unless `row.len() == n_features`.
    pub fn leaf<T: Cell>(&self, row: &[T]) -> std::result::Result<Leaf, usize> {
        self.walk_dense(row).map(|leaf| self.leaf_value(leaf))
    }

    /// The leaf at node index `node`; `None` if `node` is out of range or not a leaf.
    pub fn leaf_at(&self, node: usize) -> Option<Leaf> {
        self.leaf_node(node).map(|leaf| self.leaf_value(leaf))
    }

    fn check_out(&self, n_rows: usize, out_len: usize, per_row: usize) -> Result<()> {
        let out_need = n_rows
            .checked_mul(per_row)
            .ok_or_else(|| Error::new(Status::Shape, "output size overflows"))?;
        if out_len < out_need {
            return Err(Error::new(
                Status::Length,
                format!("output buffer holds {out_len} values, the call needs {out_need}"),
            ));
        }
        Ok(())
    }

    fn check_shape(
        &self,
        x_len: usize,
        n_rows: usize,
        out_len: usize,
        per_row: usize,
    ) -> Result<()> {
        let need = n_rows.checked_mul(self.n_features).ok_or_else(|| {
            Error::new(
                Status::Shape,
                format!("n_rows {n_rows} * n_features {} overflows", self.n_features),
            )
        })?;
        if x_len != need {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "input has {x_len} values, expected n_rows {n_rows} * n_features {} = {need}",
                    self.n_features
                ),
            ));
        }
        self.check_out(n_rows, out_len, per_row)
    }

    /// Labels for `n_rows` rows of `x` (row-major, `n_features` wide) into `out[..n_rows]`.
    /// On an invalid value, rows before it are already written.
    pub fn predict<T: Cell>(&self, x: &[T], n_rows: usize, out: &mut [i32]) -> Result<()> {
        self.check_shape(x.len(), n_rows, out.len(), 1)?;
        self.for_each_leaf(x, n_rows, |r, leaf| out[r] = self.label(leaf))
    }

    /// Class probabilities, row-major `[p0, p1]` per row, into `out[..2 * n_rows]`.
    pub fn predict_proba<T: Cell>(&self, x: &[T], n_rows: usize, out: &mut [f64]) -> Result<()> {
        self.check_shape(x.len(), n_rows, out.len(), 2)?;
        self.for_each_leaf(x, n_rows, |r, leaf| {
            write_proba(out, r, self.probabilities(leaf))
        })
    }
}

#[inline(always)]
fn write_proba(out: &mut [f64], r: usize, p: [f64; 2]) {
    out[2 * r] = p[0];
    out[2 * r + 1] = p[1];
}
