//! Predictions for wide inputs: bit-packed rows (64 features per word, optional missing mask)
//! and sparse rows in CSR form. Both are checked whole before anything is written, then walked
//! by the same kernels as dense rows.

use super::explain::Contrib;
use super::kernels::{BitsRow, LeafNode, MaskedBitsRow, PathVisit, SortedRow};
use super::{write_proba, Tree};
use crate::error::{Error, Result, Status};

/// Stack bitset sizes for sparse rows: models up to 4,096 features use a 512-byte set, up to
/// 65,536 an 8 KiB set; wider models search the row's indices instead.
const SMALL_SET_WORDS: usize = 64;
const LARGE_SET_WORDS: usize = 1024;

impl Tree<'_> {
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

    /// Drive `emit(row_index, leaf)` over bit-packed rows; panics unless `x` (and `mask`) hold
    /// exactly `n_rows * words_per_row()` words (callers check first, with a specific error).
    #[inline(always)]
    fn for_each_leaf_bits(
        &self,
        x: &[u64],
        mask: Option<&[u64]>,
        n_rows: usize,
        emit: impl FnMut(usize, LeafNode),
    ) {
        let wpr = self.words_per_row();
        let need = n_rows.checked_mul(wpr);
        assert!(
            need == Some(x.len()) && mask.map_or(true, |m| need == Some(m.len())),
            "bit-packed input length != n_rows * words_per_row"
        );
        let fail = |_r: usize, _c: usize| unreachable_error();
        // Bit rows hold no invalid value, so `run` cannot fail; its result is Ok.
        let _ = match mask {
            // The row pointers stay in bounds: r < n_rows and the lengths were asserted above.
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
        mut emit: impl FnMut(usize, LeafNode),
    ) {
        let wpr = self.words_per_row();
        if let Some(root) = self.root_leaf() {
            for r in 0..n_rows {
                emit(r, root);
            }
        } else if wpr <= SMALL_SET_WORDS {
            self.csr_with_set::<SMALL_SET_WORDS>(offsets, indices, n_rows, emit);
        } else if wpr <= LARGE_SET_WORDS {
            self.csr_with_set::<LARGE_SET_WORDS>(offsets, indices, n_rows, emit);
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
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        mut emit: impl FnMut(usize, LeafNode),
    ) {
        // The walk reads words < words_per_row of the set.
        let wpr = self.words_per_row();
        assert!(wpr <= N, "bitset of {N} words for {wpr} words per row");
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

/// Explanations of wide rows: leaf indices through the prediction drivers above, contributions
/// through the edge-reporting walk.
impl Tree<'_> {
    /// Leaf node indices for bit-packed rows (layout as [`Tree::predict_bits`]).
    pub fn predict_leaf_bits(
        &self,
        x: &[u64],
        mask: Option<&[u64]>,
        n_rows: usize,
        out: &mut [i32],
    ) -> Result<()> {
        self.check_bits(x.len(), mask.map(<[u64]>::len), n_rows, out.len(), 1)?;
        self.for_each_leaf_bits(x, mask, n_rows, |r, leaf| out[r] = leaf.index() as i32);
        Ok(())
    }

    /// Contributions for bit-packed rows (layout as [`Tree::predict_bits`], output as
    /// [`Tree::predict_contrib`]).
    pub fn predict_contrib_bits(
        &self,
        x: &[u64],
        mask: Option<&[u64]>,
        n_rows: usize,
        out: &mut [f64],
    ) -> Result<()> {
        let w = self.contrib_width();
        self.check_bits(x.len(), mask.map(<[u64]>::len), n_rows, out.len(), w)?;
        let wpr = self.words_per_row();
        let visit = &mut Contrib::new(self, out);
        // Lengths were checked above: the row pointers stay in bounds (r < n_rows). Bit rows
        // hold no invalid value, so the walks cannot fail.
        for r in 0..n_rows {
            visit.start(r);
            let _ = match mask {
                None => self.walk_edges(BitsRow(x.as_ptr().wrapping_add(r * wpr)), visit),
                Some(m) => self.walk_edges(
                    MaskedBitsRow(
                        x.as_ptr().wrapping_add(r * wpr),
                        m.as_ptr().wrapping_add(r * wpr),
                    ),
                    visit,
                ),
            };
        }
        Ok(())
    }

    /// Leaf node indices for sparse CSR rows (layout as [`Tree::predict_csr`]).
    pub fn predict_leaf_csr(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        out: &mut [i32],
    ) -> Result<()> {
        self.check_csr(offsets, indices, n_rows, out.len(), 1)?;
        self.for_each_leaf_csr(offsets, indices, n_rows, |r, leaf| {
            out[r] = leaf.index() as i32
        });
        Ok(())
    }

    /// Contributions for sparse CSR rows (layout as [`Tree::predict_csr`], output as
    /// [`Tree::predict_contrib`]).
    pub fn predict_contrib_csr(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        out: &mut [f64],
    ) -> Result<()> {
        self.check_csr(offsets, indices, n_rows, out.len(), self.contrib_width())?;
        let visit = &mut Contrib::new(self, out);
        let wpr = self.words_per_row();
        if wpr <= SMALL_SET_WORDS {
            self.csr_paths::<SMALL_SET_WORDS, _>(offsets, indices, n_rows, visit);
        } else if wpr <= LARGE_SET_WORDS {
            self.csr_paths::<LARGE_SET_WORDS, _>(offsets, indices, n_rows, visit);
        } else {
            for r in 0..n_rows {
                visit.start(r);
                // Sparse rows hold no invalid value: the walk cannot fail.
                let _ = self.walk_edges(SortedRow(&indices[offsets[r]..offsets[r + 1]]), visit);
            }
        }
        Ok(())
    }

    /// The edge walk of checked CSR rows through a stack bitset of `N >= words_per_row()`
    /// words (set the row's bits, walk, clear them).
    fn csr_paths<const N: usize, V: PathVisit>(
        &self,
        offsets: &[usize],
        indices: &[u32],
        n_rows: usize,
        visit: &mut V,
    ) {
        assert!(self.words_per_row() <= N, "bitset too small");
        let mut set = [0u64; N];
        for r in 0..n_rows {
            let row = &indices[offsets[r]..offsets[r + 1]];
            // Indices are < n_features <= 64 * N (check_csr); the mask only drops the bounds check.
            for &j in row {
                set[(j >> 6) as usize & (N - 1)] |= 1u64 << (j & 63);
            }
            visit.start(r);
            // Sparse rows hold no invalid value: the walk cannot fail.
            let _ = self.walk_edges(BitsRow(set.as_ptr()), visit);
            for &j in row {
                set[(j >> 6) as usize & (N - 1)] = 0;
            }
        }
    }
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
