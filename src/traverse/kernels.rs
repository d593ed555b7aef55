//! The walks and the row readers they use. This file holds all of the traversal's `unsafe`:
//! unchecked reads of nodes, leaves and input cells. They are sound because a [`Tree`] is only
//! built from a validated layout (every child index `< n_nodes` and greater than its parent,
//! every split feature `< n_features`, every leaf index `< n_leaves`) and because row readers
//! are only built by the drivers after the input's length was checked against `n_features`.

use super::cell::sealed::{CellKind, Sealed};
use super::{bad_value, Cell, Kernel, Leaf, Tree};
use crate::error::{Error, Result};
use crate::format::*;

/// Whether this build can generate native code (feature `native` on x86_64, not under Miri).
pub const NATIVE_AVAILABLE: bool = cfg!(all(feature = "native", target_arch = "x86_64", not(miri)));

/// A tree's native code (see `native.rs`): machine code in a private read-execute mapping,
/// generated at load from the validated node array of the model that owns it, one function per
/// row kind (`fn(row) -> u64`: a leaf's node index, or `ERR_BIT | column` for an invalid cell):
/// int8 and f64 dense rows, and bit-packed rows without a missing mask. Only
/// [`NativeCode::generate`] builds one, so a value of this type always holds code that reads
/// nothing but cells (bits) `0..n_features` of the row it is given and returns.
#[cfg(all(feature = "native", target_arch = "x86_64", not(miri)))]
pub struct NativeCode {
    placed: super::native::Placed,
    n_nodes: usize,
    n_features: usize,
}

/// Without the feature (or off x86_64, or under Miri) there is never native code.
#[cfg(not(all(feature = "native", target_arch = "x86_64", not(miri))))]
pub enum NativeCode {}

#[cfg(all(feature = "native", target_arch = "x86_64", not(miri)))]
impl NativeCode {
    /// Generate code for `tree` (validated; its root is a split), or `None` when the generator
    /// refuses (above `MAX_NODES` nodes, relocations, or no executable memory).
    pub(crate) fn generate(tree: &Tree<'_>) -> Option<NativeCode> {
        if tree.root_leaf().is_some() {
            return None;
        }
        let placed = super::native::generate(tree.nodes)?;
        Some(NativeCode {
            placed,
            n_nodes: tree.nodes.len(),
            n_features: tree.n_features,
        })
    }

    /// Bytes of machine code.
    pub(crate) fn code_len(&self) -> usize {
        self.placed.code_len
    }

    /// Run the function for row kind `kind` on `row`.
    ///
    /// `row` must point to a readable row of the kind for `n_features` features: `n_features`
    /// cells for a dense kind (the caller is a [`DenseRow`], whose constructors guarantee it),
    /// `ceil(n_features / 64)` words for bits (a [`BitsRow`]'s guarantee).
    #[inline(always)]
    fn call(&self, kind: NativeKind, row: *const u8) -> u64 {
        let entry = match kind {
            NativeKind::Cell(CellKind::I8) => self.placed.i8_entry,
            NativeKind::Cell(CellKind::F64) => self.placed.f64_entry,
            NativeKind::Bits => self.placed.bits_entry,
        };
        let code = self.placed.map.as_ptr().wrapping_add(entry);
        // SAFETY: `code` is the entry of a function that `native.rs` generated for this kind,
        // with the System V signature `fn(*const T) -> u64`, placed in a mapping that is
        // read-execute and owned by `self` (so it lives through the call). The function reads
        // only the cells (or, for bits, the bytes `f / 8`) of validated split features
        // `f < n_features` of `row`, which the caller guarantees readable, writes no memory,
        // calls nothing and returns.
        unsafe {
            let f: extern "sysv64" fn(*const u8) -> u64 = std::mem::transmute(code);
            f(row)
        }
    }
}

#[cfg(not(all(feature = "native", target_arch = "x86_64", not(miri))))]
impl NativeCode {
    pub(crate) fn generate(_tree: &Tree<'_>) -> Option<NativeCode> {
        None
    }
    pub(crate) fn code_len(&self) -> usize {
        match *self {}
    }
    fn call(&self, _kind: NativeKind, _row: *const u8) -> u64 {
        match *self {}
    }
}

impl NativeCode {
    pub(crate) fn n_nodes(&self) -> usize {
        #[cfg(all(feature = "native", target_arch = "x86_64", not(miri)))]
        return self.n_nodes;
        #[cfg(not(all(feature = "native", target_arch = "x86_64", not(miri))))]
        match *self {}
    }
    pub(crate) fn n_features(&self) -> usize {
        #[cfg(all(feature = "native", target_arch = "x86_64", not(miri)))]
        return self.n_features;
        #[cfg(not(all(feature = "native", target_arch = "x86_64", not(miri))))]
        match *self {}
    }
}

/// Which of a tree's native functions a row reader calls.
#[derive(Clone, Copy)]
// Without native code `call` is uninhabited, so nothing reads the cell kind.
#[cfg_attr(
    not(all(feature = "native", target_arch = "x86_64", not(miri))),
    allow(dead_code)
)]
enum NativeKind {
    /// Dense rows of this cell type.
    Cell(CellKind),
    /// Bit-packed rows without a missing mask (and the CSR driver's bitset).
    Bits,
}

/// Set in a native result that reports an invalid cell (the low bits hold its column).
const NATIVE_ERR_BIT: u64 = 1 << 63;

/// Batch prefetch distance, in groups of [`LANES`] rows: while a group is walked, the rows of
/// the group this far ahead are prefetched (dense rows only: a 256-byte int8 row is 4 cache
/// lines that the walk touches in random order; measured from memory, d6: 57 -> 36 ns/row).
const PF_DIST: usize = 4;
/// Rows walked together by the interleaved batch kernel.
pub const LANES: usize = 8;

/// A leaf node reached by a walk of a tree. Only the walks in this file create one, so its
/// index names a leaf of the tree that walked it, which is what the unchecked leaf reads
/// ([`Tree::label`], [`Tree::probabilities`]) rely on. It stays inside the traversal: a public
/// handle could be passed to another model's tree.
#[derive(Clone, Copy)]
pub(super) struct LeafNode(usize);

impl LeafNode {
    /// The leaf's node index.
    #[inline(always)]
    pub(super) fn index(self) -> usize {
        self.0
    }
}

/// Read access to one input row, for the walk. Implementations only read cells at split
/// feature indices, which the validator bounds by `n_features`. Row readers are only built by
/// the drivers (`walk_dense` and `for_each_leaf` here, the bit-packed and CSR drivers in
/// `wide.rs`) after they checked that the input holds `n_features` cells (bits) per row.
pub(super) trait RowRead: Copy {
    /// Whether `valid` can ever be false (int8/f64 cells); lets the compiler drop the checks.
    const CHECKED: bool;
    /// Whether [`RowRead::native`] can run native code (dense rows, and bit-packed rows without
    /// a mask).
    const NATIVE: bool = false;
    /// The raw result of the tree's native code on this row, if this kind of row has one.
    #[inline(always)]
    fn native(self, _code: &NativeCode) -> Option<u64> {
        None
    }
    /// Hint the CPU to start loading the row (no-op for kinds where it does not pay).
    #[inline(always)]
    fn prefetch(self, _n_features: usize) {}
    /// `(go_right, valid)` for feature `f` at a split with missing direction `missing_right`.
    ///
    /// # Safety
    /// `f < n_features` of the tree the row was checked against.
    unsafe fn route(self, f: usize, missing_right: bool) -> (bool, bool);
    /// Zero only if feature `f` is plainly absent (the split surely goes left), nonzero for
    /// present, missing or invalid cells (which the checked step then reads again).
    ///
    /// # Safety
    /// As for [`RowRead::route`].
    #[inline(always)]
    unsafe fn raw(self, f: usize) -> u64 {
        // SAFETY: forwarded contract. A missing cell routed as "right" counts as nonzero.
        let (right, valid) = unsafe { self.route(f, true) };
        u64::from(right | !valid)
    }
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
    const NATIVE: bool = true;
    #[inline(always)]
    fn native(self, code: &NativeCode) -> Option<u64> {
        // The row holds n_features cells of T (DenseRow's constructors), and the tree only
        // carries code generated for its own nodes and width (`Tree::with_native` checks the
        // width); `Cell` is sealed, so T is exactly the machine type of `T::KIND`.
        Some(code.call(NativeKind::Cell(<T as Sealed>::KIND), self.0 as *const u8))
    }
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
        // only built by `walk_dense` (after asserting `row.len() == n_features`) and by
        // `for_each_leaf` at `r * n_features` for `r < n_rows`, with the input's length checked
        // to be exactly `n_rows * n_features`.
        unsafe { *self.0.add(f) }.route_mask(missing_right)
    }
    #[inline(always)]
    unsafe fn raw(self, f: usize) -> u64 {
        // SAFETY: as for `route`.
        unsafe { *self.0.add(f) }.raw()
    }
    #[inline(always)]
    unsafe fn route_branchy(self, f: usize, missing_right: bool) -> Option<bool> {
        // SAFETY: as for `route`. The match form keeps one predictable branch per common value
        // (0, 1) instead of computing masks, so fewer instructions sit between cell loads.
        unsafe { *self.0.add(f) }.route(missing_right)
    }
}

/// A bit-packed row: `ceil(n_features / 64)` readable words, feature `j` = bit `j % 64` of word
/// `j / 64`. Built by `wide.rs` at `r * words_per_row` of an input checked to hold
/// `n_rows * words_per_row` words, or over a stack bitset of at least that many words.
#[derive(Clone, Copy)]
pub(super) struct BitsRow(pub(super) *const u64);

impl RowRead for BitsRow {
    const CHECKED: bool = false;
    const NATIVE: bool = true;
    #[inline(always)]
    fn native(self, code: &NativeCode) -> Option<u64> {
        // The row holds ceil(n_features / 64) words (BitsRow's constructors: the bit-packed
        // driver after checking the input's length, the CSR driver on a bitset at least that
        // long), and the code was generated for this tree's width (`Tree::with_native`).
        Some(code.call(NativeKind::Bits, self.0 as *const u8))
    }
    #[inline(always)]
    unsafe fn route(self, f: usize, _missing_right: bool) -> (bool, bool) {
        // SAFETY: f < n_features, so f / 64 < ceil(n_features / 64) readable words.
        let w = unsafe { *self.0.add(f >> 6) };
        ((w >> (f & 63)) & 1 != 0, true)
    }
}

/// A bit-packed row with a missing mask of the same layout (a set mask bit overrides the value).
#[derive(Clone, Copy)]
pub(super) struct MaskedBitsRow(pub(super) *const u64, pub(super) *const u64);

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
pub(super) struct SortedRow<'r>(pub(super) &'r [u32]);

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

impl<'a> Tree<'a> {
    #[inline(always)]
    fn raw_node(&self, i: usize) -> &'a RawNode {
        // SAFETY: every index the walks pass is 0 (n_nodes >= 1) or a child index read from a
        // split, validated < n_nodes.
        unsafe { self.nodes.get_unchecked(i) }
    }

    /// Scalar walk of one row with the tree's kernel: `Ok(leaf node)` or `Err(column)` of the
    /// first invalid cell read.
    #[inline(always)]
    pub(super) fn walk<R: RowRead>(&self, row: R) -> std::result::Result<LeafNode, usize> {
        // NATIVE_AVAILABLE is a constant: builds without the native kernel compile this test out.
        if NATIVE_AVAILABLE && R::NATIVE {
            if let Some(code) = self.native {
                if let Some(res) = row.native(code).and_then(|r| self.native_result::<R>(r)) {
                    return res;
                }
            }
        }
        self.walk_interp(row)
    }

    /// A native result checked against the tree: a leaf's node index (`< n_nodes` and a leaf)
    /// or an invalid cell's column (`< n_features`); `None` for anything else, which makes
    /// the caller walk the row with the interpreter.
    #[inline(always)]
    fn native_result<R: RowRead>(&self, r: u64) -> Option<std::result::Result<LeafNode, usize>> {
        if r & NATIVE_ERR_BIT == 0 {
            let i = usize::try_from(r).ok()?;
            self.leaf_node(i).map(Ok)
        } else if !R::CHECKED {
            // Rows of this kind hold no invalid value: an error result is not believed.
            None
        } else {
            let c = usize::try_from(r & !NATIVE_ERR_BIT).ok()?;
            (c < self.n_features).then_some(Err(c))
        }
    }

    /// The interpreter's walk with the tree's interpreter kernel.
    #[inline(always)]
    fn walk_interp<R: RowRead>(&self, row: R) -> std::result::Result<LeafNode, usize> {
        match self.kernel {
            Kernel::Branchy | Kernel::Native if self.chain_runs => self.walk_chain(row),
            Kernel::Branchy | Kernel::Native if self.left_adjacent => {
                self.walk_branchy::<R, true>(row)
            }
            Kernel::Branchy | Kernel::Native => self.walk_branchy::<R, false>(row),
            Kernel::BranchFree => self.walk_branch_free(row),
        }
    }

    #[inline(always)]
    /// With `ADJ` (validated pre-order layout) the left child is `i + 1`: computed, not loaded,
    /// so along predicted left turns the next node's address never waits for memory.
    fn walk_branchy<R: RowRead, const ADJ: bool>(
        &self,
        row: R,
    ) -> std::result::Result<LeafNode, usize> {
        let mut i = 0usize;
        loop {
            let node = self.raw_node(i);
            let tag = node.tag.get();
            if tag == TAG_LEAF {
                return Ok(LeafNode(i));
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

    /// The branchy walk of a pre-order tree (`chain_runs` is only set when the left child is
    /// the next record) that first tries to cross four left links at once: when records
    /// `i..i+4` are all splits (so each one's left child is the next) and all four cells are
    /// plainly absent, the walk is at `i + 4`. The four node and cell loads are independent,
    /// so they issue together, with one predictable branch per run instead of one per node,
    /// which is what straight-line compiled code gets from immediate offsets. Otherwise the
    /// first cell of the run that is not plainly absent gets the checked step (present,
    /// missing or invalid), and a run holding a leaf (or the last records) takes four checked
    /// steps of the branchy walk. Either way every cell that decides the path is validated;
    /// cells after the exit that a run read only decided that the run stops.
    #[inline(always)]
    fn walk_chain<R: RowRead>(&self, row: R) -> std::result::Result<LeafNode, usize> {
        // Split tags are 0 and 1, the leaf tag 2: OR-ing the tags of four records shows a
        // leaf among them.
        const _: () =
            assert!(TAG_LEAF == 2 && TAG_SPLIT_MISSING_LEFT == 0 && TAG_SPLIT_MISSING_RIGHT == 1);
        let n = self.nodes.len();
        let mut i = 0usize;
        loop {
            while i + 4 <= n {
                // SAFETY: i + 3 < n.
                let q = unsafe {
                    [
                        self.nodes.get_unchecked(i),
                        self.nodes.get_unchecked(i + 1),
                        self.nodes.get_unchecked(i + 2),
                        self.nodes.get_unchecked(i + 3),
                    ]
                };
                if (q[0].tag.get() | q[1].tag.get() | q[2].tag.get() | q[3].tag.get()) & TAG_LEAF
                    != 0
                {
                    break;
                }
                // SAFETY: all four records are splits (no leaf tag), whose features are
                // validated < n_features.
                let r = unsafe { q.map(|node| row.raw(node.a.get() as usize)) };
                if r[0] | r[1] | r[2] | r[3] == 0 {
                    i += 4;
                    continue;
                }
                // The path leaves the run at its first cell that is not plainly absent (the
                // records before it surely go left): one checked step there, found without
                // another branch per record, so an exit costs one mispredicted branch.
                let m = u32::from(r[0] != 0)
                    | u32::from(r[1] != 0) << 1
                    | u32::from(r[2] != 0) << 2
                    | u32::from(r[3] != 0) << 3;
                let j = m.trailing_zeros() as usize;
                let node = q[j & 3];
                let f = node.a.get() as usize;
                i += j;
                // SAFETY: a split's feature, validated < n_features.
                i = match unsafe { row.route_branchy(f, node.tag.get() == TAG_SPLIT_MISSING_RIGHT) }
                {
                    Some(false) => i + 1,
                    Some(true) => {
                        keep_branch();
                        node.c.get() as usize
                    }
                    None => return Err(f),
                };
            }
            for _ in 0..4 {
                let node = self.raw_node(i);
                let tag = node.tag.get();
                if tag == TAG_LEAF {
                    return Ok(LeafNode(i));
                }
                let f = node.a.get() as usize;
                // SAFETY: split feature indices are validated < n_features.
                i = match unsafe { row.route_branchy(f, tag == TAG_SPLIT_MISSING_RIGHT) } {
                    Some(false) => i + 1,
                    Some(true) => {
                        keep_branch();
                        node.c.get() as usize
                    }
                    None => return Err(f),
                };
            }
        }
    }

    #[inline(always)]
    fn walk_branch_free<R: RowRead>(&self, row: R) -> std::result::Result<LeafNode, usize> {
        let mut i = 0usize;
        loop {
            let node = self.raw_node(i);
            let tag = node.tag.get();
            if tag == TAG_LEAF {
                return Ok(LeafNode(i));
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
                let node = self.raw_node(at[l] as usize);
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
    pub(super) fn run<R: RowRead>(
        &self,
        n_rows: usize,
        row: impl Fn(usize) -> R,
        fail: impl Fn(usize, usize) -> Error,
        mut emit: impl FnMut(usize, LeafNode),
    ) -> Result<()> {
        if let Some(root) = self.root_leaf() {
            // The root is the only leaf: no cell is ever read.
            for r in 0..n_rows {
                emit(r, root);
            }
            return Ok(());
        }
        if NATIVE_AVAILABLE && R::NATIVE && self.native.is_some() {
            // Row by row through the native code, with the rows PF_DIST groups ahead
            // prefetched as in the interleaved batches.
            for r in 0..n_rows {
                if r + PF_DIST * LANES < n_rows {
                    row(r + PF_DIST * LANES).prefetch(self.n_features);
                }
                match self.walk(row(r)) {
                    Ok(leaf) => emit(r, leaf),
                    Err(c) => return Err(fail(r, c)),
                }
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
                            emit(r + l, LeafNode(leaf as usize));
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

    /// The root, when it is the tree's only node that matters: a leaf (no cell is ever read).
    #[inline(always)]
    pub(super) fn root_leaf(&self) -> Option<LeafNode> {
        (self.raw_node(0).tag.get() == TAG_LEAF).then_some(LeafNode(0))
    }

    /// The public value of a reached leaf.
    pub(super) fn leaf_value(&self, leaf: LeafNode) -> Leaf {
        Leaf {
            node: leaf.0,
            label: self.label(leaf),
            probabilities: self.probabilities(leaf),
        }
    }

    /// Node `index` as a leaf handle, if it is a leaf of this tree (checked).
    pub(super) fn leaf_node(&self, index: usize) -> Option<LeafNode> {
        let node = self.nodes.get(index)?;
        (node.tag.get() == TAG_LEAF).then_some(LeafNode(index))
    }

    /// The class label of a reached leaf.
    #[inline(always)]
    pub(super) fn label(&self, leaf: LeafNode) -> i32 {
        // SAFETY: a LeafNode of this tree (walks of `self` and `leaf_node` create them) is a
        // node index < n_nodes.
        unsafe { self.nodes.get_unchecked(leaf.0) }.b.get() as i32
    }

    /// The class probabilities of a reached leaf.
    #[inline(always)]
    pub(super) fn probabilities(&self, leaf: LeafNode) -> [f64; 2] {
        // SAFETY: leaf.0 < n_nodes (as in `label`) and the node is a leaf, whose validated leaf
        // index k < n_leaves, so 2k + 1 < 2 * n_leaves == probs.len().
        unsafe {
            let k = 2 * self.nodes.get_unchecked(leaf.0).a.get() as usize;
            [
                self.probs.get_unchecked(k).get(),
                self.probs.get_unchecked(k + 1).get(),
            ]
        }
    }

    /// Walk one dense row; panics unless `row.len() == n_features`.
    #[inline(always)]
    pub(super) fn walk_dense<T: Cell>(&self, row: &[T]) -> std::result::Result<LeafNode, usize> {
        assert_eq!(row.len(), self.n_features, "row length != n_features");
        self.walk(DenseRow(row.as_ptr()))
    }

    /// Drive `emit(row_index, leaf)` over every row of a row-major matrix of `n_rows` rows;
    /// panics unless `x.len() == n_rows * n_features` (callers check the shape first, with a
    /// specific error).
    #[inline(always)]
    pub(super) fn for_each_leaf<T: Cell>(
        &self,
        x: &[T],
        n_rows: usize,
        emit: impl FnMut(usize, LeafNode),
    ) -> Result<()> {
        let nf = self.n_features;
        assert!(
            n_rows.checked_mul(nf) == Some(x.len()),
            "input length != n_rows * n_features"
        );
        let base = x.as_ptr();
        self.run(
            n_rows,
            // The pointer arithmetic stays in bounds: r < n_rows and x.len() == n_rows * nf.
            |r| DenseRow(base.wrapping_add(r * nf)),
            |r, c| bad_value(r, c, x[r * nf + c]),
            emit,
        )
    }
}

/// What an explanation walk does with each row and each edge it takes (the leaf index, the
/// decision path and the contributions are visitors; see `explain.rs`).
pub(super) trait PathVisit {
    /// Row `row`'s walk starts (at the root, node 0).
    fn start(&mut self, row: usize);
    /// The walk goes from split `node`, which tests `feature`, to `child`.
    fn edge(&mut self, node: usize, feature: usize, child: usize);
}

impl<'a> Tree<'a> {
    /// Scalar walk of one row that reports every edge it takes, root first, to `visit`.
    /// Children are mask-selected and cells are read in the order of [`Tree::walk`], so the
    /// first invalid cell (the `Err` column) is the one the prediction calls report.
    #[inline(always)]
    pub(super) fn walk_edges<R: RowRead, V: PathVisit>(
        &self,
        row: R,
        visit: &mut V,
    ) -> std::result::Result<LeafNode, usize> {
        let mut i = 0usize;
        loop {
            let node = self.raw_node(i);
            let tag = node.tag.get();
            if tag == TAG_LEAF {
                return Ok(LeafNode(i));
            }
            let f = node.a.get() as usize;
            // SAFETY: split feature indices are validated < n_features.
            let (right, valid) = unsafe { row.route(f, tag == TAG_SPLIT_MISSING_RIGHT) };
            if R::CHECKED && !valid {
                return Err(f);
            }
            let next = select(right, node.b.get(), node.c.get()) as usize;
            visit.edge(i, f, next);
            i = next;
        }
    }

    /// [`Tree::walk_edges`] of one dense row; panics unless `row.len() == n_features`.
    #[inline(always)]
    pub(super) fn walk_dense_edges<T: Cell, V: PathVisit>(
        &self,
        row: &[T],
        visit: &mut V,
    ) -> std::result::Result<LeafNode, usize> {
        assert_eq!(row.len(), self.n_features, "row length != n_features");
        visit.start(0);
        self.walk_edges(DenseRow(row.as_ptr()), visit)
    }

    /// [`Tree::walk_edges`] over every row of a row-major dense matrix (rows ahead prefetched
    /// as in `run`); panics unless `x.len() == n_rows * n_features`. The error is the first
    /// invalid cell, after every earlier row was visited.
    #[inline(always)]
    pub(super) fn for_each_path<T: Cell, V: PathVisit>(
        &self,
        x: &[T],
        n_rows: usize,
        visit: &mut V,
    ) -> Result<()> {
        let nf = self.n_features;
        assert!(
            n_rows.checked_mul(nf) == Some(x.len()),
            "input length != n_rows * n_features"
        );
        let base = x.as_ptr();
        // The pointer arithmetic stays in bounds: r < n_rows and x.len() == n_rows * nf.
        let row = |r: usize| DenseRow(base.wrapping_add(r * nf));
        for r in 0..n_rows {
            if r + PF_DIST * LANES < n_rows {
                row(r + PF_DIST * LANES).prefetch(nf);
            }
            visit.start(r);
            if let Err(c) = self.walk_edges(row(r), visit) {
                return Err(bad_value(r, c, x[r * nf + c]));
            }
        }
        Ok(())
    }
}
