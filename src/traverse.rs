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
//! Two ways to choose a child, picked per model when the [`Tree`] is built ([`Tree::kernel`]):
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
//! A single row takes a short path (no batching set-up) with the model's child selection.
//! Whatever the kernel, every row reaches the same leaf and every error is the same: the first
//! invalid cell that the scalar walk of the first failing row reads (a batch group that meets
//! an invalid cell is re-walked row by row to find it).

use crate::error::{Error, Result, Status};
use crate::format::*;
use crate::validate::Layout;
use zerocopy::little_endian::F64;
use zerocopy::FromBytes;

/// A cell type of an input row: how a value routes at a split.
pub trait Cell: Copy + Send + Sync {
    /// `Some(true)` = go right, `Some(false)` = go left, `None` = invalid value.
    /// `missing_right` is the split's precomputed direction for a missing value.
    fn route(self, missing_right: bool) -> Option<bool>;
    /// Branch-free form of [`Cell::route`]: `(go_right, valid)`; `go_right` is meaningless
    /// when `valid` is false.
    #[inline(always)]
    fn route_mask(self, missing_right: bool) -> (bool, bool) {
        match self.route(missing_right) {
            Some(r) => (r, true),
            None => (false, false),
        }
    }
    /// The value as text, for error messages.
    fn describe(self) -> String;
    /// What the accepted values are, for error messages.
    const ACCEPTED: &'static str;
}

impl Cell for i8 {
    #[inline(always)]
    fn route(self, missing_right: bool) -> Option<bool> {
        match self {
            0 => Some(false),
            1 => Some(true),
            -1 => Some(missing_right),
            _ => None,
        }
    }
    #[inline(always)]
    fn route_mask(self, missing_right: bool) -> (bool, bool) {
        let u = self as u8;
        let right = (u == 1) | ((u == 0xFF) & missing_right);
        (right, u.wrapping_add(1) <= 2)
    }
    fn describe(self) -> String {
        self.to_string()
    }
    const ACCEPTED: &'static str = "0, 1 or -1 (missing)";
}

impl Cell for f64 {
    #[inline(always)]
    fn route(self, missing_right: bool) -> Option<bool> {
        if self == 0.0 {
            Some(false) // 0.0 and -0.0
        } else if self == 1.0 {
            Some(true)
        } else if self.is_nan() {
            Some(missing_right)
        } else {
            None
        }
    }
    #[inline(always)]
    fn route_mask(self, missing_right: bool) -> (bool, bool) {
        let one = self == 1.0;
        let nan = self.is_nan();
        ((one | (nan & missing_right)), (self == 0.0) | one | nan)
    }
    fn describe(self) -> String {
        format!("{self:?}")
    }
    const ACCEPTED: &'static str = "0.0, 1.0 or NaN (missing)";
}

/// How children are chosen (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Branch on each split; single rows and batches walk row by row.
    Branchy,
    /// Mask-selected children; batches walk [`LANES`] rows interleaved.
    BranchFree,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Branchy => "branchy",
            Kernel::BranchFree => "branch-free",
        }
    }

    /// The choice for a tree shape, from header fields only (O(1), so it is made every time a
    /// [`Tree`] is built from a loaded model, with the same result).
    ///
    /// A balanced tree has `max_depth` close to `log2(n_leaves)`; the paths of random rows then
    /// branch unpredictably at every level and the branch-free interleaved walk wins. A tree
    /// much deeper than that is made of chains (one-hot / sketch trees: `var=value` splits
    /// whose `1` side is rare), whose branches the CPU predicts well, and a branchy walk that
    /// runs ahead along the left (next-record) child wins by up to 10x. The threshold
    /// `max_depth > 3 * ceil(log2(n_leaves)) + 4` sits far from both families: the benchmark's
    /// dense trees score depth/log2 <= 2, sketch-like chains >= 10.
    pub fn for_shape(n_leaves: u32, max_depth: u32) -> Kernel {
        let log2_leaves = 32 - n_leaves.saturating_sub(1).leading_zeros();
        if max_depth > 3 * log2_leaves + 4 {
            Kernel::Branchy
        } else {
            Kernel::BranchFree
        }
    }
}

/// Batch prefetch distance, in groups of [`LANES`] rows: while a group is walked, the rows of
/// the group this far ahead are prefetched (dense rows only: a 256-byte int8 row is 4 cache
/// lines that the walk touches in random order; measured from memory, d6: 57 -> 36 ns/row).
const PF_DIST: usize = 4;
/// Rows walked together by the interleaved batch kernel.
pub const LANES: usize = 8;

/// The node array and leaf table of a validated model.
#[derive(Clone, Copy)]
pub struct Tree<'a> {
    nodes: &'a [RawNode],
    probs: &'a [F64],
    n_features: usize,
    kernel: Kernel,
    /// The header's pre-order flag (validated): every split's left child is the next record.
    left_adjacent: bool,
}

/// A reached leaf.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leaf {
    pub node: usize,
    pub label: i32,
    pub probabilities: [f64; 2],
}

/// Read access to one input row, for the walk. Implementations only read cells at split
/// feature indices, which the validator bounds by `n_features`; each implementation's
/// constructor guarantees that `n_features` cells (bits) are readable.
trait RowRead: Copy {
    /// Whether `valid` can ever be false (int8/f64 cells); lets the compiler drop the checks.
    const CHECKED: bool;
    /// Hint the CPU to start loading the row (no-op for kinds where it does not pay).
    #[inline(always)]
    fn prefetch(self, _n_features: usize) {}
    /// `(go_right, valid)` for feature `f` at a split with missing direction `missing_right`.
    ///
    /// # Safety
    /// `f < n_features` of the tree the row was checked against.
    unsafe fn route(self, f: usize, missing_right: bool) -> (bool, bool);
    /// Branchy form for the branchy kernel: `Some(go_right)`, or `None` for an invalid value.
    ///
    /// # Safety
    /// As for [`RowRead::route`].
    #[inline(always)]
    unsafe fn route_branchy(self, f: usize, missing_right: bool) -> Option<bool> {
        // SAFETY: forwarded contract.
        let (right, valid) = unsafe { self.route(f, missing_right) };
        (!Self::CHECKED || valid).then_some(right)
    }
}

/// A dense row of [`Cell`]s: a pointer to `n_features` readable cells.
#[derive(Clone, Copy)]
struct DenseRow<T: Cell>(*const T);

impl<T: Cell> RowRead for DenseRow<T> {
    const CHECKED: bool = true;
    #[inline(always)]
    fn prefetch(self, n_features: usize) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            let bytes = n_features * std::mem::size_of::<T>();
            let p = self.0 as *const i8;
            let mut off = 0;
            while off < bytes {
                // SAFETY: prefetch never faults and has no architectural effect; the address
                // lies within the row (off < row bytes).
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        p.wrapping_add(off),
                    )
                };
                off += 64;
            }
        }
    }
    #[inline(always)]
    unsafe fn route(self, f: usize, missing_right: bool) -> (bool, bool) {
        // SAFETY: the caller's `f < n_features`; the row holds n_features cells: DenseRows are
        // only built by `leaf_index` (after asserting `row.len() == n_features`) and by
        // `for_each_leaf` at `r * n_features` for `r < n_rows`, with the input's length checked
        // to be exactly `n_rows * n_features`.
        unsafe { *self.0.add(f) }.route_mask(missing_right)
    }
    #[inline(always)]
    unsafe fn route_branchy(self, f: usize, missing_right: bool) -> Option<bool> {
        // SAFETY: as for `route`. The match form keeps one predictable branch per common value
        // (0, 1) instead of computing masks, so fewer instructions sit between cell loads.
        unsafe { *self.0.add(f) }.route(missing_right)
    }
}

/// A bit-packed row: `ceil(n_features / 64)` readable words, feature `j` = bit `j % 64` of word
/// `j / 64`.
#[derive(Clone, Copy)]
struct BitsRow(*const u64);

impl RowRead for BitsRow {
    const CHECKED: bool = false;
    #[inline(always)]
    unsafe fn route(self, f: usize, _missing_right: bool) -> (bool, bool) {
        // SAFETY: f < n_features, so f / 64 < ceil(n_features / 64) readable words.
        let w = unsafe { *self.0.add(f >> 6) };
        ((w >> (f & 63)) & 1 != 0, true)
    }
}

/// A bit-packed row with a missing mask of the same layout (a set mask bit overrides the value).
#[derive(Clone, Copy)]
struct MaskedBitsRow(*const u64, *const u64);

impl RowRead for MaskedBitsRow {
    const CHECKED: bool = false;
    #[inline(always)]
    unsafe fn route(self, f: usize, missing_right: bool) -> (bool, bool) {
        // SAFETY: as for BitsRow, for both the value and the mask words.
        let (w, m) = unsafe { (*self.0.add(f >> 6), *self.1.add(f >> 6)) };
        let (v, m) = ((w >> (f & 63)) & 1 != 0, (m >> (f & 63)) & 1 != 0);
        ((v & !m) | (m & missing_right), true)
    }
}

/// A sparse row: the sorted, in-range indices of its present features (binary search; used
/// when the model is too wide for a stack bitset).
#[derive(Clone, Copy)]
struct SortedRow<'r>(&'r [u32]);

impl RowRead for SortedRow<'_> {
    const CHECKED: bool = false;
    #[inline(always)]
    unsafe fn route(self, f: usize, _missing_right: bool) -> (bool, bool) {
        (self.0.binary_search(&(f as u32)).is_ok(), true)
    }
}

/// Keeps a real conditional branch around the arm it is called in: without it LLVM turns the
/// branchy walk into a select, which makes the next node's address wait for the cell load and
/// so stops the CPU from running ahead along the predicted path (measured: 5x slower on
/// one-hot trees with rows from memory).
#[inline(always)]
fn keep_branch() {
    // Miri cannot interpret inline assembly; the barrier only affects codegen, so it is left out.
    #[cfg(not(miri))]
    // SAFETY: an empty instruction sequence: reads and writes nothing (no memory, no stack, no
    // flags). It only counts as a side effect for the optimiser, which may not speculate it.
    unsafe {
        std::arch::asm!("", options(nomem, nostack, preserves_flags))
    }
}

/// Select `right` when `go_right`, else `left`, without a branch.
#[inline(always)]
fn select(go_right: bool, left: u32, right: u32) -> u32 {
    let mask = (go_right as u32).wrapping_neg();
    left ^ ((left ^ right) & mask)
}

/// Stack bitset sizes for sparse rows: models up to 4,096 features use a 512-byte set, up to
/// 65,536 an 8 KiB set; wider models search the row's indices instead.
const SMALL_SET_WORDS: usize = 64;
const LARGE_SET_WORDS: usize = 1024;

impl<'a> Tree<'a> {
    /// `model` and `layout` must come from one successful `validate` call (the constructor is
    /// crate-private so that only `Model` and tests holding a real `Layout` can build a Tree).
    pub(crate) fn new(model: &'a [u8], layout: &Layout) -> Tree<'a> {
        let (noff, nlen) = layout.section(SEC_NODES);
        let (poff, plen) = layout.section(SEC_PROBS);
        // Validation already proved both conversions succeed; empty fallbacks keep this panic-free.
        let nodes = <[RawNode]>::ref_from_bytes(&model[noff..noff + nlen]).unwrap_or(&[]);
        let probs = <[F64]>::ref_from_bytes(&model[poff..poff + plen]).unwrap_or(&[]);
        assert!(
            !nodes.is_empty(),
            "Tree::new called with an unvalidated layout"
        );
        Tree {
            nodes,
            probs,
            n_features: layout.n_features() as usize,
            kernel: Kernel::for_shape(layout.n_leaves(), layout.max_depth()),
            left_adjacent: layout.flags() & FLAG_LEFT_ADJACENT != 0,
        }
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The child-selection kernel chosen for this model.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The same tree with another kernel (for benchmarks and equivalence tests; results are
    /// identical, only speed differs).
    pub fn with_kernel(mut self, kernel: Kernel) -> Tree<'a> {
        self.kernel = kernel;
        self
    }

    #[inline(always)]
    fn node(&self, i: usize) -> &'a RawNode {
        // SAFETY: every index the walks pass is 0 (n_nodes >= 1) or a child index read from a
        // split, validated < n_nodes.
        unsafe { self.nodes.get_unchecked(i) }
    }

    /// Scalar walk of one row with the tree's kernel: `Ok(leaf node)` or `Err(column)` of the
    /// first invalid cell read.
    #[inline(always)]
    fn walk<R: RowRead>(&self, row: R) -> std::result::Result<usize, usize> {
        match self.kernel {
            Kernel::Branchy if self.left_adjacent => self.walk_branchy::<R, true>(row),
            Kernel::Branchy => self.walk_branchy::<R, false>(row),
            Kernel::BranchFree => self.walk_branch_free(row),
        }
    }

    #[inline(always)]
    /// With `ADJ` (validated pre-order layout) the left child is `i + 1`: computed, not loaded,
    /// so along predicted left turns the next node's address never waits for memory.
    fn walk_branchy<R: RowRead, const ADJ: bool>(
        &self,
        row: R,
    ) -> std::result::Result<usize, usize> {
        let mut i = 0usize;
        loop {
            let node = self.node(i);
            let tag = node.tag.get();
            if tag == TAG_LEAF {
                return Ok(i);
            }
            let f = node.a.get() as usize;
            // SAFETY: split feature indices are validated < n_features.
            i = match unsafe { row.route_branchy(f, tag == TAG_SPLIT_MISSING_RIGHT) } {
                Some(false) if ADJ => i + 1,
                Some(false) => node.b.get() as usize,
                Some(true) => {
                    keep_branch();
                    node.c.get() as usize
                }
                None => return Err(f),
            };
        }
    }

    #[inline(always)]
    fn walk_branch_free<R: RowRead>(&self, row: R) -> std::result::Result<usize, usize> {
        let mut i = 0usize;
        loop {
            let node = self.node(i);
            let tag = node.tag.get();
            if tag == TAG_LEAF {
                return Ok(i);
            }
            let f = node.a.get() as usize;
            // SAFETY: split feature indices are validated < n_features.
            let (right, valid) = unsafe { row.route(f, tag == TAG_SPLIT_MISSING_RIGHT) };
            if R::CHECKED && !valid {
                return Err(f);
            }
            i = select(right, node.b.get(), node.c.get()) as usize;
        }
    }

    /// Walk `LANES` rows at once with mask-selected children. Returns `None` if any row met an
    /// invalid cell (the caller then re-walks the group row by row to report the first one).
    #[inline(always)]
    fn walk_lanes<R: RowRead>(&self, rows: &[R; LANES]) -> Option<[u32; LANES]> {
        let mut at = [0u32; LANES];
        let mut bad = false;
        loop {
            let mut active = false;
            for l in 0..LANES {
                let node = self.node(at[l] as usize);
                let tag = node.tag.get();
                let split = tag != TAG_LEAF;
                // A lane at a leaf reads feature 0 and stays put. n_features >= 1 here: a tree
                // with a split has a feature (the root-is-leaf case never reaches this walk).
                let f = if split { node.a.get() as usize } else { 0 };
                // SAFETY: f is a validated split feature (< n_features) or 0 < n_features.
                let (right, valid) = unsafe { rows[l].route(f, tag == TAG_SPLIT_MISSING_RIGHT) };
                bad |= R::CHECKED & split & !valid;
                let next = select(right, node.b.get(), node.c.get());
                at[l] = select(split, at[l], next);
                active |= split;
            }
            if !active || bad {
                break;
            }
        }
        (!bad).then_some(at)
    }

    /// Drive `emit(row, leaf_node)` over `n_rows` rows given by `row(r)`. Errors come from
    /// `fail(row, column)` for the first invalid cell, after all earlier rows were emitted.
    #[inline(always)]
    fn run<R: RowRead>(
        &self,
        n_rows: usize,
        row: impl Fn(usize) -> R,
        fail: impl Fn(usize, usize) -> Error,
        mut emit: impl FnMut(usize, usize),
    ) -> Result<()> {
        if self.node(0).tag.get() == TAG_LEAF {
            // The root is the only leaf: no cell is ever read.
            for r in 0..n_rows {
                emit(r, 0);
            }
            return Ok(());
        }
        let mut r = 0;
        if self.kernel == Kernel::BranchFree {
            while r + LANES <= n_rows {
                let rows: [R; LANES] = std::array::from_fn(|l| row(r + l));
                if r + (PF_DIST + 1) * LANES <= n_rows {
                    for l in 0..LANES {
                        row(r + PF_DIST * LANES + l).prefetch(self.n_features);
                    }
                }
                let walked = self.walk_lanes(&rows);
                match walked {
                    Some(leaves) => {
                        for (l, &leaf) in leaves.iter().enumerate() {
                            emit(r + l, leaf as usize);
                        }
                    }
                    None => {
                        for (l, &rw) in rows.iter().enumerate() {
                            match self.walk_branch_free(rw) {
                                Ok(leaf) => emit(r + l, leaf),
                                Err(c) => return Err(fail(r + l, c)),
                            }
                        }
                    }
                }
                r += LANES;
            }
        }
        while r < n_rows {
            match self.walk(row(r)) {
                Ok(leaf) => emit(r, leaf),
                Err(c) => return Err(fail(r, c)),
            }
            r += 1;
        }
        Ok(())
    }

    /// Walk one row (`row.len() == n_features`) to its leaf node index, or return the column
    /// holding an invalid value.
    #[inline(always)]
    pub fn leaf_index<T: Cell>(&self, row: &[T]) -> std::result::Result<usize, usize> {
        assert_eq!(row.len(), self.n_features, "row length != n_features");
        self.walk(DenseRow(row.as_ptr()))
    }

    #[inline(always)]
    pub fn label(&self, leaf_node: usize) -> i32 {
        // SAFETY: leaf_node comes from a walk, so it is < n_nodes.
        unsafe { self.nodes.get_unchecked(leaf_node) }.b.get() as i32
    }

    #[inline(always)]
    pub fn probabilities(&self, leaf_node: usize) -> [f64; 2] {
        // SAFETY: leaf_node < n_nodes (from a walk); its leaf index k < n_leaves, so
        // 2k + 1 < 2 * n_leaves == probs.len() (all validated).
        unsafe {
            let k = 2 * self.nodes.get_unchecked(leaf_node).a.get() as usize;
            [
                self.probs.get_unchecked(k).get(),
                self.probs.get_unchecked(k + 1).get(),
            ]
        }
    }

    pub fn leaf<T: Cell>(&self, row: &[T]) -> std::result::Result<Leaf, usize> {
        let node = self.leaf_index(row)?;
        Ok(Leaf {
            node,
            label: self.label(node),
            probabilities: self.probabilities(node),
        })
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

    /// Drive `emit(row_index, leaf_node)` over every row of a row-major matrix (shape checked).
    #[inline(always)]
    fn for_each_leaf<T: Cell>(
        &self,
        x: &[T],
        n_rows: usize,
        emit: impl FnMut(usize, usize),
    ) -> Result<()> {
        let nf = self.n_features;
        let base = x.as_ptr();
        self.run(
            n_rows,
            // The pointer arithmetic stays in bounds: r < n_rows and x.len() == n_rows * nf.
            |r| DenseRow(base.wrapping_add(r * nf)),
            |r, c| bad_value(r, c, x[r * nf + c]),
            emit,
        )
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

    // ---- bit-packed rows -----------------------------------------------------------------

    /// Words per bit-packed row: `ceil(n_features / 64)`.
    pub fn words_per_row(&self) -> usize {
        self.n_features.div_ceil(64)
    }

    fn check_bits(
        &self,
        x_len: usize,
        mask_len: Option<usize>,
        n_rows: usize,
        out_len: usize,
        per_row: usize,
    ) -> Result<()> {
        let wpr = self.words_per_row();
        let need = n_rows.checked_mul(wpr).ok_or_else(|| {
            Error::new(
                Status::Shape,
                format!("n_rows {n_rows} * {wpr} words per row overflows"),
            )
        })?;
        for (what, len) in [("input", Some(x_len)), ("missing mask", mask_len)] {
            if let Some(len) = len {
                if len != need {
                    return Err(Error::new(
                        Status::Shape,
                        format!(
                            "{what} has {len} words, expected n_rows {n_rows} * {wpr} words per row = {need}"
                        ),
                    ));
                }
            }
        }
        self.check_out(n_rows, out_len, per_row)
    }

    #[inline(always)]
    fn for_each_leaf_bits(
        &self,
        x: &[u64],
        mask: Option<&[u64]>,
        n_rows: usize,
        emit: impl FnMut(usize, usize),
    ) {
        let wpr = self.words_per_row();
        let fail = |_r: usize, _c: usize| unreachable_error();
        // Bit rows hold no invalid value, so `run` cannot fail; its result is Ok.
        let _ = match mask {
            None => {
                let base = x.as_ptr();
                self.run(n_rows, |r| BitsRow(base.wrapping_add(r * wpr)), fail, emit)
            }
            Some(m) => {
                let (base, mbase) = (x.as_ptr(), m.as_ptr());
                self.run(
                    n_rows,
                    |r| MaskedBitsRow(base.wrapping_add(r * wpr), mbase.wrapping_add(r * wpr)),
                    fail,
                    emit,
                )
            }
        };
    }

    /// Labels for bit-packed rows: `words_per_row()` words per row, bit `j % 64` of word
    /// `j / 64` = feature `j` (bits past `n_features` are ignored). `mask`, if given, has the
    /// same layout; a set bit marks the feature missing (the value bit is then ignored).
    pub fn predict_bits(
        &self,
        x: &[u64],
        mask: Option<&[u64]>,
        n_rows: usize,
        out: &mut [i32],
    ) -> Result<()> {
        self.check_bits(x.len(), mask.map(<[u64]>::len), n_rows, out.len(), 1)?;
        self.for_each_leaf_bits(x, mask, n_rows, |r, leaf| out[r] = self.label(leaf));
        Ok(())
    }

    /// Probabilities for bit-packed rows (layout as [`Tree::predict_bits`]).
    pub fn predict_proba_bits(
        &self,
        x: &[u64],
        mask: Option<&[u64]>,
        n_rows: usize,
        out: &mut [f64],
    ) -> Result<()> {
        self.check_bits(x.len(), mask.map(<[u64]>::len), n_rows, out.len(), 2)?;
        self.for_each_leaf_bits(x, mask, n_rows, |r, leaf| {
            write_proba(out, r, self.probabilities(leaf))
        });
        Ok(())
    }

    // ---- sparse (CSR) rows ---------------------------------------------------------------

    /// Check a CSR matrix completely before anything is written: `offsets` has `n_rows + 1`
    /// non-decreasing entries (checked first, for all rows) ending within `indices`, and each
    /// row's indices are strictly
    /// increasing and `< n_features`. Errors are `TT_ERR_SHAPE` with `row` set (and `column` =
    /// the offending feature index for a bad index, else -1), or `TT_ERR_LENGTH` when the
    /// offsets point past `indices` or the output is too short.
    fn check_csr(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        out_len: usize,
        per_row: usize,
    ) -> Result<()> {
        if offsets.len() != n_rows.wrapping_add(1) || n_rows == usize::MAX {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "row_offsets has {} entries, expected n_rows + 1 = {}",
                    offsets.len(),
                    n_rows as u128 + 1
                ),
            ));
        }
        self.check_out(n_rows, out_len, per_row)?;
        let last = offsets[n_rows];
        if last > indices.len() {
            return Err(Error::new(
                Status::Length,
                format!(
                    "row_offsets[{n_rows}] is {last}, past the {} indices given",
                    indices.len()
                ),
            ));
        }
        // Offsets first: once they are non-decreasing and the last is within `indices`, every
        // row's range is too (checking them row by row with the indices would slice past the
        // end on offsets like [0, 100, 5]).
        if let Some(r) = offsets.windows(2).position(|w| w[0] > w[1]) {
            return Err(shape_row(
                r,
                None,
                format!(
                    "row {r}: row_offsets decrease ({} then {})",
                    offsets[r],
                    offsets[r + 1]
                ),
            ));
        }
        let nf = self.n_features as u64;
        for r in 0..n_rows {
            let row = &indices[offsets[r]..offsets[r + 1]];
            // Branch-free scan (vectorisable); the slow path below only runs on failure.
            let mut ok = row.last().map_or(true, |&j| (j as u64) < nf);
            for w in row.windows(2) {
                ok &= w[0] < w[1];
            }
            if !ok {
                return Err(csr_row_error(r, row, nf));
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn for_each_leaf_csr(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        mut emit: impl FnMut(usize, usize),
    ) {
        let wpr = self.words_per_row();
        if self.node(0).tag.get() == TAG_LEAF {
            for r in 0..n_rows {
                emit(r, 0);
            }
        } else if wpr <= SMALL_SET_WORDS {
            self.csr_with_set::<SMALL_SET_WORDS>(wpr, offsets, indices, n_rows, emit);
        } else if wpr <= LARGE_SET_WORDS {
            self.csr_with_set::<LARGE_SET_WORDS>(wpr, offsets, indices, n_rows, emit);
        } else {
            for r in 0..n_rows {
                let row = SortedRow(&indices[offsets[r]..offsets[r + 1]]);
                // Sparse rows hold no invalid value: the walk cannot fail.
                if let Ok(leaf) = self.walk(row) {
                    emit(r, leaf);
                }
            }
        }
    }

    /// Sparse rows through a stack bitset of `N` words: set the row's bits, walk, clear them.
    /// Cost per row: O(nnz) to set and clear plus the walk's bit tests.
    #[inline(always)]
    fn csr_with_set<const N: usize>(
        &self,
        wpr: usize,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        mut emit: impl FnMut(usize, usize),
    ) {
        let mut set = [0u64; N];
        for r in 0..n_rows {
            let row = &indices[offsets[r]..offsets[r + 1]];
            // j < n_features <= 64 * N (check_csr and the caller's choice of N), so the mask
            // never changes the word index; it only lets the compiler drop the bounds check.
            // The indices are sorted, so each word's bits arrive as one run: accumulate the run
            // in a register and store it (whole) at every step. Stores only, no `|=` on memory:
            // read-modify-writes of the word just stored cost ~60 % of the CSR time (perf).
            let (mut word, mut bits) = (usize::MAX, 0u64);
            for &j in row {
                let w = (j >> 6) as usize & (N - 1);
                let keep = ((w == word) as u64).wrapping_neg();
                bits = (bits & keep) | (1u64 << (j & 63));
                word = w;
                set[w] = bits;
            }
            // Sparse rows hold no invalid value: the walk cannot fail.
            if let Ok(leaf) = self.walk(BitsRow(set.as_ptr())) {
                emit(r, leaf);
            }
            if row.len() >= wpr / 4 {
                set[..wpr].fill(0);
            } else {
                for &j in row {
                    set[(j >> 6) as usize & (N - 1)] = 0;
                }
            }
        }
    }

    /// Labels for sparse rows in CSR form: row `r`'s present features are
    /// `indices[offsets[r]..offsets[r + 1]]`, strictly increasing; every other feature is 0.
    /// The whole structure is checked before any output is written.
    pub fn predict_csr(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        out: &mut [i32],
    ) -> Result<()> {
        self.check_csr(offsets, indices, n_rows, out.len(), 1)?;
        self.for_each_leaf_csr(offsets, indices, n_rows, |r, leaf| {
            out[r] = self.label(leaf)
        });
        Ok(())
    }

    /// Probabilities for sparse CSR rows (layout as [`Tree::predict_csr`]).
    pub fn predict_proba_csr(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        out: &mut [f64],
    ) -> Result<()> {
        self.check_csr(offsets, indices, n_rows, out.len(), 2)?;
        self.for_each_leaf_csr(offsets, indices, n_rows, |r, leaf| {
            write_proba(out, r, self.probabilities(leaf))
        });
        Ok(())
    }
}

#[inline(always)]
fn write_proba(out: &mut [f64], r: usize, p: [f64; 2]) {
    out[2 * r] = p[0];
    out[2 * r + 1] = p[1];
}

fn unreachable_error() -> Error {
    Error::new(
        Status::Panic,
        "internal: a bit-packed row reported an invalid value",
    )
}

fn shape_row(row: usize, column: Option<u32>, message: String) -> Error {
    Error {
        row: row as i64,
        column: column.map_or(-1, i64::from),
        ..Error::new(Status::Shape, message)
    }
}

/// The precise error for a CSR row that failed the fast check.
#[cold]
fn csr_row_error(r: usize, row: &[u32], nf: u64) -> Error {
    for (k, &j) in row.iter().enumerate() {
        if j as u64 >= nf {
            return shape_row(
                r,
                Some(j),
                format!(
                    "row {r}: feature index {j} (entry {k}) is out of range (n_features = {nf})"
                ),
            );
        }
        if k > 0 && row[k - 1] >= j {
            let what = if row[k - 1] == j {
                "duplicate"
            } else {
                "unsorted"
            };
            return shape_row(
                r,
                Some(j),
                format!(
                    "row {r}: {what} feature index {j} after {} (entry {k}); indices must be strictly increasing",
                    row[k - 1]
                ),
            );
        }
    }
    shape_row(r, None, format!("row {r}: malformed indices"))
}

pub(crate) fn bad_value<T: Cell>(row: usize, column: usize, v: T) -> Error {
    Error::cell(
        Status::InputValue,
        row,
        column,
        format!(
            "row {row}, column {column}: value {} is not {}",
            v.describe(),
            T::ACCEPTED
        ),
    )
}
