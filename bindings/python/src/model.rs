//! `thetatree.Model`: a loaded, validated model and its prediction entry points.
//!
//! Inputs go one of three ways (see `cells`): C-contiguous `int8` / `float64` arrays are read
//! in place (zero copy); other numeric arrays are converted cell by cell in Rust; anything
//! else (lists, DataFrames, object arrays) is first turned into a numeric array by
//! `thetatree._inputs.prepare`. The walk itself always runs with the GIL released.

use crate::cells::{self, bad_cell, BadCell, Check, Code};
use crate::errors::{bad_value, load_error};
use crate::explain::Paths;
use numpy::ndarray::{ArrayView2, Axis, Ix2};
use numpy::{
    PyArray1, PyArray2, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use std::io::Write;
use std::path::{Path, PathBuf};
use thetatree::{Error, Status};

/// An immutable, validated theta-sketch decision tree. Any number of threads may predict on
/// one model at once.
#[pyclass(frozen, module = "thetatree._native", name = "Model")]
pub struct PyModel {
    inner: thetatree::Model,
}

impl PyModel {
    pub fn new(inner: thetatree::Model) -> PyModel {
        PyModel { inner }
    }

    pub fn from_bytes(py: Python<'_>, bytes: &[u8], key: Option<&[u8]>) -> PyResult<PyModel> {
        py.detach(|| thetatree::Model::from_bytes_verified(bytes, key))
            .map(PyModel::new)
            .map_err(|e| load_error(py, e))
    }

    fn feature(&self, column: usize) -> &str {
        self.inner.feature_name(column).unwrap_or("?")
    }

    fn metadata_value(&self) -> serde_json::Value {
        serde_json::from_str(self.inner.metadata_json()).unwrap_or(serde_json::Value::Null)
    }
}

/// What the caller asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Labels,
    Proba,
    /// Leaf node indices (`apply`).
    Leaves,
    /// Per-feature contributions and the bias (`predict_contrib`).
    Contrib,
    /// Root-to-leaf node lists (`decision_path`).
    Paths,
}

/// Rows for the walk: row-major, `n_features` cells per row.
#[derive(Clone, Copy)]
enum Rows<'a> {
    I8(&'a [i8]),
    F64(&'a [f64]),
}

/// Where the walk writes: the numpy output array's memory (allocated before the walk).
enum Out<'a> {
    Labels(&'a mut [i64]),
    Proba(&'a mut [f64]),
    Leaves(&'a mut [isize]),
    Contrib(&'a mut [f64]),
    /// Grows as rows are walked (a path's length is known only once it is walked).
    Paths(&'a mut Paths),
}

/// Why a prediction failed, before it becomes a Python exception (which needs the GIL).
enum Failure {
    /// A refused cell.
    Cell(BadCell),
    /// Any other library error (a bug: shapes are checked before the walk).
    Lib(Error),
}

/// Calls with fewer cells keep the GIL: their walk takes well under a microsecond, while
/// handing the GIL back and forth costs ~35 ns uncontended and, when other Python threads are
/// running, taking it back can wait a whole switch interval (5 ms by default).
const DETACH_MIN_CELLS: usize = 16 * 1024;

/// The strict rule of the reference's public API: 0 or 1 only, no missing values.
fn binary_violation_i8(v: i8) -> bool {
    (v as u8) > 1
}

/// Whether an array of a zero-copy dtype (int8, float64) is read in place: C-contiguous,
/// aligned rows.
fn zero_copy_layout(a: &Bound<'_, PyUntypedArray>) -> bool {
    a.is_c_contiguous() && a.ndim() <= 2 && readable(a)
}

/// Whether Rust may view the array's cells as typed values: aligned, and every stride a
/// multiple of the item size (a view of a packed structured field is neither). Other arrays
/// are copied by numpy first.
fn readable(a: &Bound<'_, PyUntypedArray>) -> bool {
    let item = a.dtype().itemsize() as isize;
    a.is_aligned() && item > 0 && a.strides().iter().all(|s| s % item == 0)
}

impl PyModel {
    /// Walk `n_rows` rows into `out`; `describe(row, column)` renders a refused cell the walk
    /// met.
    fn walk(
        &self,
        rows: Rows<'_>,
        n_rows: usize,
        out: Out<'_>,
        describe: &(dyn Fn(usize, usize) -> BadCell + Sync),
    ) -> Result<(), Failure> {
        let tree = self.inner.tree();
        let cell_error = |e: Error| {
            if e.status == Status::InputValue && e.row >= 0 && e.column >= 0 {
                Failure::Cell(describe(e.row as usize, e.column as usize))
            } else {
                Failure::Lib(e)
            }
        };
        match out {
            Out::Labels(out) => {
                // The walk writes the C ABI's int32 labels; numpy users get int64.
                let mut labels = vec![0i32; n_rows];
                match rows {
                    Rows::I8(x) => tree.predict(x, n_rows, &mut labels),
                    Rows::F64(x) => tree.predict(x, n_rows, &mut labels),
                }
                .map_err(cell_error)?;
                for (o, l) in out.iter_mut().zip(labels) {
                    *o = i64::from(l);
                }
                Ok(())
            }
            Out::Proba(out) => match rows {
                Rows::I8(x) => tree.predict_proba(x, n_rows, out),
                Rows::F64(x) => tree.predict_proba(x, n_rows, out),
            }
            .map_err(cell_error),
            Out::Leaves(out) => {
                // The library writes the C ABI's int32 node indices; numpy users get intp,
                // scikit-learn's dtype for `apply`.
                let mut leaves = vec![0i32; n_rows];
                match rows {
                    Rows::I8(x) => tree.predict_leaf(x, n_rows, &mut leaves),
                    Rows::F64(x) => tree.predict_leaf(x, n_rows, &mut leaves),
                }
                .map_err(cell_error)?;
                for (o, l) in out.iter_mut().zip(leaves) {
                    *o = l as isize;
                }
                Ok(())
            }
            Out::Contrib(out) => match rows {
                Rows::I8(x) => tree.predict_contrib(x, n_rows, out),
                Rows::F64(x) => tree.predict_contrib(x, n_rows, out),
            }
            .map_err(cell_error),
            Out::Paths(paths) => {
                let depth = self.inner.max_depth();
                match rows {
                    Rows::I8(x) => paths.walk(&tree, x, n_rows, depth),
                    Rows::F64(x) => paths.walk(&tree, x, n_rows, depth),
                }
                // One row at a time: the library's row is 0, the row of X is `r`.
                .map_err(|(r, e)| {
                    if e.status == Status::InputValue && e.column >= 0 {
                        Failure::Cell(describe(r, e.column as usize))
                    } else {
                        Failure::Lib(e)
                    }
                })
            }
        }
    }

    /// The whole-matrix check of a zero-copy input, then the walk.
    fn check_and_walk(
        &self,
        rows: Rows<'_>,
        n_rows: usize,
        check: Check,
        binary: bool,
        out: Out<'_>,
    ) -> Result<(), Failure> {
        let nf = self.inner.n_features().max(1);
        let describe = move |r: usize, c: usize| match rows {
            Rows::I8(x) => bad_cell(x[r * nf + c], r, c),
            Rows::F64(x) => bad_cell(x[r * nf + c], r, c),
        };
        if binary || check == Check::All {
            let first = match (rows, binary) {
                (Rows::I8(x), false) => cells::first_invalid_i8(x),
                (Rows::F64(x), false) => cells::first_invalid_f64(x),
                (Rows::I8(x), true) => x.iter().position(|&v| binary_violation_i8(v)),
                (Rows::F64(x), true) => x.iter().position(|&v| !((v == 0.0) | (v == 1.0))),
            };
            if let Some(i) = first {
                return Err(Failure::Cell(describe(i / nf, i % nf)));
            }
        }
        self.walk(rows, n_rows, out, &describe)
    }

    /// Convert a numeric array of any layout to `int8` rows, then walk.
    fn convert_and_walk<T: Code + numpy::Element>(
        &self,
        view: ArrayView2<'_, T>,
        check: Check,
        binary: bool,
        out: Out<'_>,
    ) -> Result<(), Failure> {
        let n_rows = view.nrows();
        let codes = cells::convert(view, check).map_err(Failure::Cell)?;
        if binary {
            if let Some(i) = codes.iter().position(|&v| binary_violation_i8(v)) {
                let nf = view.ncols().max(1);
                let (r, c) = (i / nf, i % nf);
                return Err(Failure::Cell(bad_cell(view[[r, c]], r, c)));
            }
        }
        self.walk(Rows::I8(&codes), n_rows, out, &|r, c| {
            bad_cell(view[[r, c]], r, c)
        })
    }

    /// Rows of a 1-D (one row) or 2-D array, after the width check.
    fn shape(&self, shape: &[usize]) -> PyResult<(usize, usize)> {
        let nf = self.inner.n_features();
        let (rows, cols) = match *shape {
            [0] => (0, nf), // an empty sequence: no rows
            [n] => (1, n),
            [r, c] => (r, c),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "X must be 1-D (one row) or 2-D (rows x features), got shape {shape:?}"
                )))
            }
        };
        if cols != nf {
            return Err(PyValueError::new_err(format!(
                "X has {cols} columns, but the model has {nf} features"
            )));
        }
        Ok((rows, cols))
    }

    /// Allocate the output array for `n_rows` rows, let `fill` write it, and turn a failure
    /// into its Python exception.
    fn output<'py>(
        &self,
        py: Python<'py>,
        want: Want,
        n_rows: usize,
        binary: bool,
        fill: impl FnOnce(Out<'_>) -> Result<(), Failure>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let not_contiguous = |e: numpy::AsSliceError| PyValueError::new_err(e.to_string());
        let result = match want {
            Want::Labels => {
                let a = PyArray1::<i64>::zeros(py, n_rows, false);
                // SAFETY: `a` was created just above and is not shared with anything (no Python
                // reference, no other Rust borrow) until it is returned after `fill`.
                let s = unsafe { a.as_slice_mut() }.map_err(not_contiguous)?;
                fill(Out::Labels(s)).map(|()| a.into_any())
            }
            Want::Proba => {
                let a = PyArray2::<f64>::zeros(py, [n_rows, 2], false);
                // SAFETY: as above: a fresh array, exclusively ours until returned.
                let s = unsafe { a.as_slice_mut() }.map_err(not_contiguous)?;
                fill(Out::Proba(s)).map(|()| a.into_any())
            }
            Want::Leaves => {
                let a = PyArray1::<isize>::zeros(py, n_rows, false);
                // SAFETY: as above: a fresh array, exclusively ours until returned.
                let s = unsafe { a.as_slice_mut() }.map_err(not_contiguous)?;
                fill(Out::Leaves(s)).map(|()| a.into_any())
            }
            Want::Contrib => {
                let width = self.inner.n_features() + 1;
                let a = PyArray2::<f64>::zeros(py, [n_rows, width], false);
                // SAFETY: as above: a fresh array, exclusively ours until returned.
                let s = unsafe { a.as_slice_mut() }.map_err(not_contiguous)?;
                fill(Out::Contrib(s)).map(|()| a.into_any())
            }
            Want::Paths => {
                let mut paths = Paths::with_capacity(n_rows, self.inner.max_depth());
                match fill(Out::Paths(&mut paths)) {
                    Ok(()) => return paths.into_python(py, self.inner.n_nodes()),
                    Err(f) => Err(f),
                }
            }
        };
        result.map_err(|failure| match failure {
            Failure::Cell(mut cell) => {
                if binary {
                    cell.accepted = "0 or 1 (the reference classifier's rule: no missing values)";
                }
                bad_value(py, &cell, self.feature(cell.column))
            }
            Failure::Lib(e) => load_error(py, e),
        })
    }

    /// Run `f` without the GIL when the input is large enough for that to pay.
    fn run<T: Send>(py: Python<'_>, cells: usize, f: impl FnOnce() -> T + Send) -> T {
        if cells >= DETACH_MIN_CELLS {
            py.detach(f)
        } else {
            f()
        }
    }

    fn predict_any<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        check: &str,
        want: Want,
        prepared: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = x.py();
        let (check, binary) = match check {
            "binary" => (Check::All, true),
            other => (
                Check::parse(other).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "check must be 'all', 'visited' or 'binary', not {other:?}"
                    ))
                })?,
                false,
            ),
        };
        // Zero copy: C-contiguous int8 / float64, 1-D or 2-D.
        macro_rules! zero_copy {
            ($t:ty, $variant:ident) => {
                if let Ok(a) = x.cast::<PyArrayDyn<$t>>() {
                    if zero_copy_layout(a.as_untyped()) {
                        let (n_rows, _) = self.shape(a.shape())?;
                        let ro = a
                            .try_readonly()
                            .map_err(|e| PyValueError::new_err(e.to_string()))?;
                        let s = ro
                            .as_slice()
                            .map_err(|e| PyValueError::new_err(e.to_string()))?;
                        let s = &s[..s.len().min(n_rows * self.inner.n_features())];
                        return self.output(py, want, n_rows, binary, |out| {
                            Self::run(py, s.len(), || {
                                self.check_and_walk(Rows::$variant(s), n_rows, check, binary, out)
                            })
                        });
                    }
                }
            };
        }
        zero_copy!(i8, I8);
        zero_copy!(f64, F64);
        // Other numeric dtypes and layouts: converted in Rust.
        macro_rules! converted {
            ($($t:ty),*) => {$(
                if let Some(a) = x.cast::<PyArrayDyn<$t>>().ok().filter(|a| readable(a.as_untyped())) {
                    self.shape(a.shape())?;
                    let ro = a.try_readonly().map_err(|e| PyValueError::new_err(e.to_string()))?;
                    let view = ro.as_array();
                    let view = if view.ndim() == 1 {
                        // One row, or (empty) no rows: (1, n) or (0, 1), any strides.
                        let axis = if view.is_empty() { Axis(1) } else { Axis(0) };
                        view.insert_axis(axis).into_dimensionality::<Ix2>()
                    } else {
                        view.into_dimensionality::<Ix2>()
                    }
                    .map_err(|e| PyValueError::new_err(e.to_string()))?;
                    return self.output(py, want, view.nrows(), binary, |out| {
                        Self::run(py, view.len(), || {
                            self.convert_and_walk(view, check, binary, out)
                        })
                    });
                }
            )*};
        }
        converted!(i8, i16, i32, i64, u8, u16, u32, u64, bool, f32, f64);
        if prepared {
            let what = x
                .cast::<PyUntypedArray>()
                .map(|a| format!("an array of dtype {}", a.dtype()))
                .unwrap_or_else(|_| format!("{}", x.get_type()));
            return Err(PyTypeError::new_err(format!(
                "cannot predict on {what}: expected numbers (0, 1 or missing)"
            )));
        }
        // Lists, DataFrames, object arrays, other dtypes: made numeric in Python, once.
        static PREPARE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let prepare = PREPARE.import(py, "thetatree._inputs", "prepare")?;
        let check_name = if binary {
            "binary"
        } else if check == Check::All {
            "all"
        } else {
            "visited"
        };
        let names = self.feature_names(py)?;
        let numeric = prepare.call1((x, names, check_name))?;
        self.predict_any(&numeric, check_name, want, true)
    }

    fn feature_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, (0..self.inner.n_features()).map(|i| self.feature(i)))
    }
}

/// Write `bytes` to `path` safely: a temporary file in the same directory, fsync, rename over
/// `path`, fsync the directory. A reader never sees a half-written model.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{}: not a file path", path.display())))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself must survive a crash too.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[pymethods]
impl PyModel {
    /// Class indices (0 or 1) of the rows of `X`, as `int64`.
    ///
    /// `X`: a 2-D array (rows x features) or a 1-D array (one row) of any integer, bool or
    /// float dtype and any memory order, a list of lists, or a pandas DataFrame (columns
    /// matched by name). Missing values: -1 in integers, NaN or None in floats and objects.
    /// `check="all"` (default) refuses any other value anywhere with a `ValueError` naming
    /// row, column and feature; `check="visited"` checks only the cells the tree reads;
    /// `check="binary"` also refuses missing values (the reference classifier's rule).
    #[pyo3(signature = (x, *, check = "all"))]
    fn predict<'py>(&self, x: &Bound<'py, PyAny>, check: &str) -> PyResult<Bound<'py, PyAny>> {
        self.predict_any(x, check, Want::Labels, false)
    }

    /// Class probabilities `[P(class 0), P(class 1)]` per row: `float64`, shape (n, 2),
    /// bit-identical to the reference. Same inputs and checks as `predict`.
    #[pyo3(signature = (x, *, check = "all"))]
    fn predict_proba<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        check: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.predict_any(x, check, Want::Proba, false)
    }

    /// The leaf each row of `X` reaches, as its node index (`intp`, shape (n,)), like
    /// scikit-learn's `apply`. Nodes are numbered in the reference's pre-order (root 0, then
    /// the left subtree, then the right one): the `leaf_preorder` of the golden files and
    /// the index `decision_path` uses. Same inputs and checks as `predict`.
    #[pyo3(signature = (x, *, check = "all"))]
    fn apply<'py>(&self, x: &Bound<'py, PyAny>, check: &str) -> PyResult<Bound<'py, PyAny>> {
        self.predict_any(x, check, Want::Leaves, false)
    }

    /// The nodes each row of `X` visits, root to leaf, as scikit-learn's `decision_path`
    /// gives them: a `scipy.sparse.csr_matrix` of shape (n, n_nodes) with a 1 (`intp`) at each
    /// visited node, when scipy is importable; otherwise the pair `(indptr, indices)` of
    /// `intp` arrays (row `i` visits `indices[indptr[i]:indptr[i + 1]]`, root first, leaf
    /// last). Same inputs and checks as `predict`.
    #[pyo3(signature = (x, *, check = "all"))]
    fn decision_path<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        check: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.predict_any(x, check, Want::Paths, false)
    }

    /// Per-feature contributions to P(class 1): `float64`, shape (n, n_features + 1),
    /// LightGBM's `pred_contrib` layout. Column `f` adds up, over the splits on feature `f`
    /// along the row's path, the change P1(child) - P1(node); the last column is the bias,
    /// P1 of the root. A row adds up to its `predict_proba(X)[:, 1]` (within 1e-12), and is 0
    /// for every feature not tested on its path. Same inputs and checks as `predict`.
    #[pyo3(signature = (x, *, check = "all"))]
    fn predict_contrib<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        check: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.predict_any(x, check, Want::Contrib, false)
    }

    /// Whether `predict(X)` reads `X`'s buffer in place (a C-contiguous `int8` or `float64`
    /// array, 1-D or 2-D) instead of converting it first.
    #[staticmethod]
    fn reads_in_place(x: &Bound<'_, PyAny>) -> bool {
        let i8_rows = x
            .cast::<PyArrayDyn<i8>>()
            .map(|a| zero_copy_layout(a.as_untyped()));
        let f64_rows = x
            .cast::<PyArrayDyn<f64>>()
            .map(|a| zero_copy_layout(a.as_untyped()));
        i8_rows.or(f64_rows).unwrap_or(false)
    }

    /// Write the model (with its signature, if any) to `path`: a temporary file, fsync, then
    /// rename over `path`, so that readers see the old file or the new one, never a mix.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let bytes = self.inner.image();
        py.detach(|| write_atomically(&path, bytes))
            .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{}: {e}", path.display())))
    }

    /// The `.ttm` bytes (with the signature trailer of a signed model).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.image())
    }

    /// The model as JSON (reference-compatible node objects; `thetatree.compile` of it gives
    /// back the same model byte for byte).
    fn export_json(&self, py: Python<'_>) -> String {
        py.detach(|| thetatree::compile::export(&self.inner))
    }

    /// Column index of the feature called `name`; `KeyError` if there is none.
    fn feature_index(&self, name: &str) -> PyResult<usize> {
        self.inner
            .feature_index(name.as_bytes())
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_string()))
    }

    /// Number of input columns.
    #[getter]
    fn n_features_in_(&self) -> usize {
        self.inner.n_features()
    }

    /// Feature names in column order (object array of str).
    #[getter]
    fn feature_names_in_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let names = self.feature_names(py)?;
        let np = py.import("numpy")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", "object")?;
        np.call_method("array", (names,), Some(&kwargs))
    }

    /// Always `array([0, 1])`.
    #[getter]
    fn classes_<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, vec![0, 1])
    }

    /// Always 2.
    #[getter]
    fn n_classes_(&self) -> usize {
        self.inner.n_classes()
    }

    /// Labels of class 0 and class 1 (as given to the compiler; default `("0", "1")`).
    #[getter]
    fn class_labels(&self) -> (String, String) {
        let l = |i| self.inner.class_label(i).unwrap_or("").to_string();
        (l(0), l(1))
    }

    /// The reference's feature importances (float64, one per feature), when the source had them.
    #[getter]
    fn feature_importances_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let meta = self.metadata_value();
        let found = [
            meta.pointer("/fitted_attributes/feature_importances"),
            meta.pointer("/feature_importances"),
        ]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_array());
        let values: Option<Vec<f64>> =
            found.and_then(|a| a.iter().map(serde_json::Value::as_f64).collect());
        match values {
            Some(v) if v.len() == self.inner.n_features() => Ok(PyArray1::from_vec(py, v)),
            _ => Err(PyAttributeError::new_err(
                "feature_importances_: this model's source carried no feature importances",
            )),
        }
    }

    /// Number of nodes (splits and leaves).
    #[getter]
    fn n_nodes(&self) -> usize {
        self.inner.n_nodes()
    }

    /// Number of leaves.
    #[getter]
    fn n_leaves(&self) -> usize {
        self.inner.n_leaves()
    }

    /// Edges from the root to the deepest leaf.
    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.max_depth()
    }

    /// The model version string stored in the file.
    #[getter]
    fn version(&self) -> &str {
        self.inner.model_version()
    }

    /// SHA-256 of the model bytes, hex: the model's identity for logs and metrics.
    #[getter]
    fn digest(&self) -> String {
        thetatree::signature::hex(self.inner.digest())
    }

    /// Metadata recorded by the compiler (hyperparameters, source SHA-256, ...), as a dict.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.inner.metadata_json(),))
    }

    /// The traversal kernel chosen for this model at load: "branch-free", "branchy", or "native"
    /// (machine code generated at load, when the library is built with the `native` feature).
    #[getter]
    fn kernel(&self) -> &'static str {
        self.inner.tree().kernel().name()
    }

    /// Whether the file carries an HMAC signature trailer.
    #[getter]
    fn is_signed(&self) -> bool {
        self.inner.is_signed()
    }

    /// Whether the model is served from a read-only memory map of its file.
    #[getter]
    fn is_mmapped(&self) -> bool {
        self.inner.is_mmapped()
    }

    /// `pickle` support: the `.ttm` bytes, validated again on load.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let ctor = py.import("thetatree._native")?.getattr("_from_ttm")?;
        Ok((ctor, (self.to_bytes(py),)))
    }

    /// Models are immutable: a shallow copy is the model itself.
    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// A deep copy owns its bytes (it no longer depends on the file it was mapped from).
    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<PyModel> {
        PyModel::from_bytes(py, self.inner.image(), None)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyModel>()
            .map(|o| o.get().inner.model_bytes() == self.inner.model_bytes())
            .unwrap_or(false)
    }

    fn __hash__(&self) -> u64 {
        let d = self.inner.digest();
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    fn __repr__(&self) -> String {
        let m = &self.inner;
        format!(
            "<thetatree.Model version={:?} features={} nodes={} leaves={} depth={} kernel={} classes=({:?}, {:?}) digest={}{}>",
            m.model_version(),
            m.n_features(),
            m.n_nodes(),
            m.n_leaves(),
            m.max_depth(),
            m.tree().kernel().name(),
            m.class_label(0).unwrap_or(""),
            m.class_label(1).unwrap_or(""),
            &thetatree::signature::hex(m.digest())[..16],
            if m.is_signed() { " signed" } else { "" },
        )
    }
}
