//! The cell types of dense rows (int8 and f64) and how a value routes at a split.

use crate::error::{Error, Status};

/// Sealed: [`Cell`] is implemented for `i8` and `f64` only, which the native kernel relies on
/// (it reads a row of `T` as the machine type its code was generated for).
pub(crate) mod sealed {
    /// The machine type of a cell, for the native kernel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum CellKind {
        I8,
        F64,
    }
    pub trait Sealed {
        const KIND: CellKind;
    }
    impl Sealed for i8 {
        const KIND: CellKind = CellKind::I8;
    }
    impl Sealed for f64 {
        const KIND: CellKind = CellKind::F64;
    }
}

/// A cell type of an input row: how a value routes at a split. Implemented for `i8` and `f64`
/// (sealed).
pub trait Cell: Copy + Send + Sync + sealed::Sealed {
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
    /// Zero only for a plain absent value (a split surely goes left); anything else, valid or
    /// not, is nonzero. Lets a walk OR several cells and test them at once.
    #[inline(always)]
    fn raw(self) -> u64 {
        let (right, valid) = self.route_mask(true);
        u64::from(right | !valid)
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
    #[inline(always)]
    fn raw(self) -> u64 {
        u64::from(self as u8)
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
