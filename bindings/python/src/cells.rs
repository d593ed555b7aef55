//! Input cells: the value rules of the Python API, independent of Python.
//!
//! The walk reads two cell types without copying: `int8` (0, 1, -1 = missing) and `float64`
//! (0.0, 1.0, NaN = missing). Every other dtype, and every layout that is not C-contiguous, is
//! converted here into a fresh row-major `int8` matrix, cell by cell, with the rule of its own
//! dtype (so a 257 in an `int64` array is an invalid value, never a wrapped 1).
//!
//! The default check scans the whole matrix before walking ([`first_invalid_i8`],
//! [`first_invalid_f64`]: branch-free folds over blocks that the compiler vectorises, then a
//! precise search inside the first bad block). `check="visited"` leaves it to the walk, which
//! checks exactly the cells it reads.

use numpy::ndarray::{ArrayView2, Axis};

/// Which cells are checked for values other than 0, 1 and missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Every cell, before anything is predicted (the reference's public API does the same).
    All,
    /// Only the cells the walk reads (the C ABI's rule): faster, but a bad value in a column the
    /// tree never looks at goes unnoticed.
    Visited,
}

impl Check {
    pub fn parse(s: &str) -> Option<Check> {
        match s {
            "all" => Some(Check::All),
            "visited" => Some(Check::Visited),
            _ => None,
        }
    }
}

/// The code the walk reads for an invalid cell of a converted input (any value other than
/// 0, 1, -1 is invalid to the `int8` walk; error messages show the original value instead).
pub const INVALID: i8 = 2;

/// A numeric cell type of an input array: its code for the `int8` walk.
pub trait Code: Copy + Send + Sync {
    /// 0, 1, -1 (missing), or `None` for a value the API refuses.
    fn code(self) -> Option<i8>;
    /// The value as the user would write it, for error messages.
    fn text(self) -> String;
    /// The accepted values, for error messages.
    const ACCEPTED: &'static str;
}

macro_rules! signed_code {
    ($($t:ty),*) => {$(
        impl Code for $t {
            #[inline(always)]
            fn code(self) -> Option<i8> {
                match self {
                    0 => Some(0),
                    1 => Some(1),
                    -1 => Some(-1),
                    _ => None,
                }
            }
            fn text(self) -> String {
                self.to_string()
            }
            const ACCEPTED: &'static str = "0, 1 or -1 (missing)";
        }
    )*};
}
signed_code!(i8, i16, i32, i64);

macro_rules! unsigned_code {
    ($($t:ty),*) => {$(
        impl Code for $t {
            #[inline(always)]
            fn code(self) -> Option<i8> {
                match self {
                    0 => Some(0),
                    1 => Some(1),
                    _ => None,
                }
            }
            fn text(self) -> String {
                self.to_string()
            }
            const ACCEPTED: &'static str = "0 or 1 (unsigned integers cannot mark a missing value)";
        }
    )*};
}
unsigned_code!(u8, u16, u32, u64);

impl Code for bool {
    #[inline(always)]
    fn code(self) -> Option<i8> {
        Some(self as i8)
    }
    fn text(self) -> String {
        if self { "True" } else { "False" }.to_string()
    }
    const ACCEPTED: &'static str = "False or True";
}

macro_rules! float_code {
    ($($t:ty),*) => {$(
        impl Code for $t {
            #[inline(always)]
            fn code(self) -> Option<i8> {
                if self == 0.0 {
                    Some(0) // 0.0 and -0.0
                } else if self == 1.0 {
                    Some(1)
                } else if self.is_nan() {
                    Some(-1)
                } else {
                    None
                }
            }
            fn text(self) -> String {
                float_text(self as f64)
            }
            const ACCEPTED: &'static str = "0.0, 1.0 or NaN (missing)";
        }
    )*};
}
float_code!(f32, f64);

/// Python's `repr` of a float for the values that matter in messages (`inf`, `nan`, `0.5`,
/// `2.0`, `1e-300`).
pub fn float_text(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:?}")
    }
}

/// A refused cell: where, and the value as text.
#[derive(Clone, Debug, PartialEq)]
pub struct BadCell {
    pub row: usize,
    pub column: usize,
    pub value: String,
    pub accepted: &'static str,
}

/// Cells scanned per block before looking for the exact position.
const BLOCK: usize = 512;

/// Index of the first `int8` cell that is not 0, 1 or -1.
pub fn first_invalid_i8(cells: &[i8]) -> Option<usize> {
    // -1, 0, 1 are exactly the cells with `v + 1` (wrapping, unsigned) <= 2: a max-fold of
    // that is one vector max per 16-64 cells.
    let shifted = |v: i8| (v as u8).wrapping_add(1);
    for (k, block) in cells.chunks(BLOCK).enumerate() {
        if block.iter().fold(0u8, |acc, &v| acc.max(shifted(v))) > 2 {
            return block
                .iter()
                .position(|&v| shifted(v) > 2)
                .map(|p| k * BLOCK + p);
        }
    }
    None
}

/// Index of the first `float64` cell that is not 0.0, -0.0, 1.0 or NaN.
pub fn first_invalid_f64(cells: &[f64]) -> Option<usize> {
    first_invalid(cells, |v| !((v == 0.0) | (v == 1.0) | v.is_nan()))
}

#[inline(always)]
fn first_invalid<T: Copy>(cells: &[T], bad: impl Fn(T) -> bool + Copy) -> Option<usize> {
    for (k, block) in cells.chunks(BLOCK).enumerate() {
        // No early exit inside the block: a plain OR-fold is what the compiler vectorises.
        let any = block.iter().fold(0u8, |acc, &v| acc | bad(v) as u8);
        if any != 0 {
            return block.iter().position(|&v| bad(v)).map(|p| k * BLOCK + p);
        }
    }
    None
}

/// Convert a 2-D view of any layout into row-major `int8` codes. With [`Check::All`] the first
/// invalid cell (row-major order) is an error; with [`Check::Visited`] invalid cells become
/// [`INVALID`] and the walk reports the first one it reads.
pub fn convert<T: Code>(view: ArrayView2<'_, T>, check: Check) -> Result<Vec<i8>, BadCell> {
    let (rows, cols) = view.dim();
    let mut out = Vec::with_capacity(rows * cols);
    if let Some(s) = view.as_slice() {
        // Row-major and contiguous: one tight loop.
        for (i, &v) in s.iter().enumerate() {
            out.push(code_or(v, check, || {
                bad_cell(v, i / cols.max(1), i % cols.max(1))
            })?);
        }
        return Ok(out);
    }
    for (r, row) in view.axis_iter(Axis(0)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out.push(code_or(v, check, || bad_cell(v, r, c))?);
        }
    }
    Ok(out)
}

#[inline(always)]
fn code_or<T: Code>(v: T, check: Check, bad: impl FnOnce() -> BadCell) -> Result<i8, BadCell> {
    match (v.code(), check) {
        (Some(c), _) => Ok(c),
        (None, Check::Visited) => Ok(INVALID),
        (None, Check::All) => Err(bad()),
    }
}

pub fn bad_cell<T: Code>(v: T, row: usize, column: usize) -> BadCell {
    BadCell {
        row,
        column,
        value: v.text(),
        accepted: T::ACCEPTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpy::ndarray::{Array2, ShapeBuilder};

    #[test]
    fn scans_find_the_first_bad_cell_in_any_block() {
        let mut v = vec![0i8; 3 * BLOCK + 7];
        assert_eq!(first_invalid_i8(&v), None);
        v[2 * BLOCK + 5] = 2;
        v[3 * BLOCK + 1] = -2;
        assert_eq!(first_invalid_i8(&v), Some(2 * BLOCK + 5));
        v[2 * BLOCK + 5] = -1;
        assert_eq!(first_invalid_i8(&v), Some(3 * BLOCK + 1));
        for bad in [2i8, 3, 127, -2, -128] {
            assert_eq!(first_invalid_i8(&[0, 1, -1, bad]), Some(3), "{bad}");
        }
        let mut f = vec![0.0f64; BLOCK + 3];
        f[1] = -0.0;
        f[2] = 1.0;
        f[3] = f64::NAN;
        assert_eq!(first_invalid_f64(&f), None);
        for bad in [0.5, -1.0, 2.0, 1e-300, f64::INFINITY, f64::NEG_INFINITY] {
            f[BLOCK + 1] = bad;
            assert_eq!(first_invalid_f64(&f), Some(BLOCK + 1), "{bad}");
        }
    }

    #[test]
    fn codes_follow_each_dtype_rule() {
        assert_eq!(257i64.code(), None); // never a wrapped 1
        assert_eq!((-1i16).code(), Some(-1));
        assert_eq!(255u8.code(), None); // no missing marker in unsigned types
        assert_eq!(true.code(), Some(1));
        assert_eq!((-0.0f32).code(), Some(0));
        assert_eq!(f32::NAN.code(), Some(-1));
        assert_eq!((-1.0f64).code(), None);
        assert_eq!(float_text(2.0), "2.0");
        assert_eq!(float_text(1e-300), "1e-300");
    }

    #[test]
    fn conversion_handles_fortran_order_and_reports_row_major_first() {
        let data = [0i64, 1, -1, 1, 0, 0];
        let c = Array2::from_shape_vec((2, 3), data.to_vec()).unwrap();
        let f = Array2::from_shape_vec((2, 3).f(), vec![0i64, 1, 1, 0, -1, 0]).unwrap();
        assert_eq!(f, c);
        assert_eq!(convert(c.view(), Check::All).unwrap(), [0, 1, -1, 1, 0, 0]);
        assert_eq!(convert(f.view(), Check::All).unwrap(), [0, 1, -1, 1, 0, 0]);
        let mut bad = f.clone();
        bad[[1, 0]] = 7;
        bad[[0, 2]] = 9;
        let e = convert(bad.view(), Check::All).unwrap_err();
        assert_eq!((e.row, e.column, e.value.as_str()), (0, 2, "9"));
        assert_eq!(
            convert(bad.view(), Check::Visited).unwrap(),
            [0, 1, INVALID, INVALID, 0, 0]
        );
    }
}
