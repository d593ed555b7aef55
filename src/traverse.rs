//! Allocation-free traversal over a validated node array.
//!
//! [`Tree`] can only be built from bytes and a [`Layout`] that [`crate::validate::validate`]
//! produced for them, which is what makes the unchecked indexing below sound: every child index
//! is `< n_nodes`, every split's feature index is `< n_features`, every leaf index is
//! `< n_leaves`, and the walk strictly increases the node index, so it ends within `n_nodes`
//! steps. Rows handed to the walk always have exactly `n_features` cells (checked per call).

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
    fn describe(self) -> String {
        format!("{self:?}")
    }
    const ACCEPTED: &'static str = "0.0, 1.0 or NaN (missing)";
}

/// The node array and leaf table of a validated model.
#[derive(Clone, Copy)]
pub struct Tree<'a> {
    nodes: &'a [RawNode],
    probs: &'a [F64],
    n_features: usize,
}

/// A reached leaf.
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
        let (noff, nlen) = layout.sections[SEC_NODES];
        let (poff, plen) = layout.sections[SEC_PROBS];
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
            n_features: layout.n_features as usize,
        }
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Walk one row (`row.len() == n_features`) to its leaf node index, or return the column
    /// holding an invalid value.
    #[inline(always)]
    pub fn leaf_index<T: Cell>(&self, row: &[T]) -> std::result::Result<usize, usize> {
        debug_assert_eq!(row.len(), self.n_features);
        let mut i = 0usize;
        loop {
            // SAFETY: i is 0 (n_nodes >= 1) or a child index, validated < n_nodes.
            let node = unsafe { self.nodes.get_unchecked(i) };
            let tag = node.tag.get();
            if tag == TAG_LEAF {
                return Ok(i);
            }
            let f = node.a.get() as usize;
            // SAFETY: split feature indices are validated < n_features == row.len().
            let v = unsafe { *row.get_unchecked(f) };
            match v.route(tag == TAG_SPLIT_MISSING_RIGHT) {
                Some(false) => i = node.b.get() as usize,
                Some(true) => i = node.c.get() as usize,
                None => return Err(f),
            }
        }
    }

    #[inline(always)]
    pub fn label(&self, leaf_node: usize) -> i32 {
        // SAFETY: leaf_node comes from `leaf_index`, so it is < n_nodes.
        unsafe { self.nodes.get_unchecked(leaf_node) }.b.get() as i32
    }

    #[inline(always)]
    pub fn probabilities(&self, leaf_node: usize) -> [f64; 2] {
        // SAFETY: leaf_node < n_nodes (from `leaf_index`); its leaf index k < n_leaves, so
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

    /// Drive `emit(row_index, leaf_node)` over every row of a row-major matrix.
    #[inline(always)]
    fn for_each_leaf<T: Cell>(
        &self,
        x: &[T],
        n_rows: usize,
        mut emit: impl FnMut(usize, usize),
    ) -> Result<()> {
        let nf = self.n_features;
        for r in 0..n_rows {
            let row = &x[r * nf..(r + 1) * nf];
            match self.leaf_index(row) {
                Ok(leaf) => emit(r, leaf),
                Err(c) => return Err(bad_value(r, c, row[c])),
            }
        }
        Ok(())
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
            let p = self.probabilities(leaf);
            out[2 * r] = p[0];
            out[2 * r + 1] = p[1];
        })
    }
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
