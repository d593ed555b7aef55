//! `thetatree._native`: the Rust side of the `thetatree` Python package. It links the
//! thetatree crate directly (no C ABI in between): loading and validation, the compiler, and
//! the walk over numpy arrays. The public Python API is in `python/thetatree/__init__.py`.

mod cells;
mod errors;
mod explain;
mod model;

use errors::{compile_error, load_error};
use model::PyModel;
use pyo3::prelude::*;
use std::path::PathBuf;
use thetatree::compile::{compile, compile_pickle, CompileOptions};
use thetatree::{Model, OpenOptions, Status};

/// Load a `.ttm` file: memory-mapped (`mmap=True`) or read into memory, fully validated; with
/// `key`, the HMAC signature is verified first.
#[pyfunction]
#[pyo3(signature = (path, mmap = true, key = None))]
fn _load(py: Python<'_>, path: PathBuf, mmap: bool, key: Option<Vec<u8>>) -> PyResult<PyModel> {
    // The OS error (FileNotFoundError, PermissionError, ...) with its errno, before the loader
    // flattens it into a status.
    std::fs::metadata(&path).map_err(|e| {
        PyErr::from(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })?;
    let opts = OpenOptions {
        copy: !mmap,
        verify_key: key.as_deref(),
        ..Default::default()
    };
    py.detach(|| Model::open(&path, opts))
        .map(PyModel::new)
        .map_err(|e| load_error(py, e))
}

/// Validate `.ttm` bytes (copied into an aligned buffer owned by the model).
#[pyfunction]
#[pyo3(signature = (data, key = None))]
fn _loads(py: Python<'_>, data: &[u8], key: Option<Vec<u8>>) -> PyResult<PyModel> {
    PyModel::from_bytes(py, data, key.as_deref())
}

/// The unpickler of `Model` (see `Model.__reduce__`): the bytes are validated again.
#[pyfunction]
fn _from_ttm(py: Python<'_>, data: &[u8]) -> PyResult<PyModel> {
    PyModel::from_bytes(py, data, None)
}

fn options(
    features: Option<String>,
    model_version: Option<String>,
    class_labels: Option<(String, String)>,
) -> CompileOptions {
    CompileOptions {
        feature_mapping: features,
        model_version,
        class_labels: class_labels.map(|(a, b)| [a, b]),
        baseline_key: None,
    }
}

/// Compile reference JSON text (any shape `thetatree compile` accepts) into a model.
#[pyfunction]
#[pyo3(signature = (json, features = None, model_version = None, class_labels = None))]
fn _compile_json(
    py: Python<'_>,
    json: &str,
    features: Option<String>,
    model_version: Option<String>,
    class_labels: Option<(String, String)>,
) -> PyResult<PyModel> {
    let opts = options(features, model_version, class_labels);
    let bytes = py
        .detach(|| compile(json, &opts))
        .map_err(|e| compile_error(py, &e))?;
    PyModel::from_bytes(py, &bytes, None)
}

/// Compile the reference's `ModelPersistence` pickle into a model. The pickle is read by the
/// library's pickle reader, which never imports or runs anything.
#[pyfunction]
#[pyo3(signature = (data, features = None, model_version = None, class_labels = None))]
fn _compile_pickle(
    py: Python<'_>,
    data: &[u8],
    features: Option<String>,
    model_version: Option<String>,
    class_labels: Option<(String, String)>,
) -> PyResult<PyModel> {
    let opts = options(features, model_version, class_labels);
    let bytes = py
        .detach(|| compile_pickle(data, &opts))
        .map_err(|e| compile_error(py, &e))?;
    PyModel::from_bytes(py, &bytes, None)
}

/// The name of a status code, e.g. 11 -> "TT_ERR_CHECKSUM" (None for an unknown code).
#[pyfunction]
fn status_name(code: i32) -> Option<&'static str> {
    Status::from_code(code).map(Status::name)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(_load, m)?)?;
    m.add_function(wrap_pyfunction!(_loads, m)?)?;
    m.add_function(wrap_pyfunction!(_from_ttm, m)?)?;
    m.add_function(wrap_pyfunction!(_compile_json, m)?)?;
    m.add_function(wrap_pyfunction!(_compile_pickle, m)?)?;
    m.add_function(wrap_pyfunction!(status_name, m)?)?;
    use thetatree::ffi::{TT_VERSION_MAJOR, TT_VERSION_MINOR, TT_VERSION_PATCH};
    m.add(
        "LIBRARY_VERSION",
        format!("{TT_VERSION_MAJOR}.{TT_VERSION_MINOR}.{TT_VERSION_PATCH}"),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
