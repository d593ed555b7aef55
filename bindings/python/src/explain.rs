//! The explanation outputs whose size is not known before the walk: `decision_path`'s
//! root-to-leaf node lists, gathered row by row as CSR (`indptr`, `indices`), then handed to
//! Python as scipy's `csr_matrix` indicator (scikit-learn's `decision_path` result) or, without
//! scipy, as the `(indptr, indices)` pair.
//!
//! `apply` and `predict_contrib` have fixed-size outputs and go through the same walk as
//! `predict_proba` (`model.rs`).

use numpy::PyArray1;
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use thetatree::traverse::{Cell, Tree};
use thetatree::Error;

/// The paths of the rows walked so far, in CSR form: row `r` visits
/// `indices[indptr[r]..indptr[r + 1]]`, root first, leaf last. `intp` like scikit-learn's.
pub struct Paths {
    indptr: Vec<isize>,
    indices: Vec<isize>,
}

impl Paths {
    /// Room for `n_rows` rows; `depth_hint` (the model's max depth) sizes `indices` for the
    /// common case so that the walk rarely reallocates.
    pub fn with_capacity(n_rows: usize, depth_hint: usize) -> Paths {
        let mut indptr = Vec::with_capacity(n_rows + 1);
        indptr.push(0);
        // Capped: a hostile (huge) hint must not reserve gigabytes before the first row.
        let guess = n_rows.saturating_mul(depth_hint / 2 + 1).min(1 << 24);
        Paths {
            indptr,
            indices: Vec::with_capacity(guess),
        }
    }

    /// Walk `n_rows` rows of `x` (row-major, `tree.n_features()` wide). On an error, the row it
    /// happened in and the library's error (a refused cell: `InputValue` with its column).
    pub fn walk<T: Cell>(
        &mut self,
        tree: &Tree<'_>,
        x: &[T],
        n_rows: usize,
        max_depth: usize,
    ) -> Result<(), (usize, Error)> {
        let nf = tree.n_features();
        // One path is at most max_depth + 1 nodes (validated); the buffer is reused.
        let mut buf = vec![0i32; max_depth + 1];
        for r in 0..n_rows {
            let row = &x[r * nf..(r + 1) * nf];
            let len = tree.decision_path(row, &mut buf).map_err(|e| (r, e))?;
            self.indices.extend(buf[..len].iter().map(|&n| n as isize));
            self.indptr.push(self.indices.len() as isize);
        }
        Ok(())
    }

    /// scipy's `csr_matrix` indicator of shape `(n_rows, n_nodes)` (ones where a row visits a
    /// node, like scikit-learn's `decision_path`), or `(indptr, indices)` when scipy cannot be
    /// imported. The import is looked up on every call (a cached module would hide an
    /// environment change, and `sys.modules` makes the lookup cheap).
    pub fn into_python(self, py: Python<'_>, n_nodes: usize) -> PyResult<Bound<'_, PyAny>> {
        let n_rows = self.indptr.len() - 1;
        let nnz = self.indices.len();
        let indptr = PyArray1::from_vec(py, self.indptr);
        let indices = PyArray1::from_vec(py, self.indices);
        let sparse = match py.import("scipy.sparse") {
            Ok(m) => m,
            Err(e) if e.is_instance_of::<PyImportError>(py) => {
                return Ok(PyTuple::new(py, [indptr.into_any(), indices.into_any()])?.into_any());
            }
            Err(e) => return Err(e),
        };
        let data = PyArray1::from_vec(py, vec![1isize; nnz]);
        let kwargs = PyDict::new(py);
        kwargs.set_item("shape", (n_rows, n_nodes))?;
        // Paths are root-first and a child's pre-order index is always greater than its
        // parent's, so every row's indices are sorted: canonical CSR, as scipy expects.
        sparse
            .getattr("csr_matrix")?
            .call(((data, indices, indptr),), Some(&kwargs))
    }
}
