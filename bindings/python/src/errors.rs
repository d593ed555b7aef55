//! Rust errors to Python exceptions: `thetatree.ModelError` for bad model files (defined in
//! `thetatree/_errors.py`, a `ValueError`), `ValueError` for bad inputs, `OSError` for I/O.

use crate::cells::BadCell;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use thetatree::compile::CompileError;
use thetatree::{Error, Status};

static MODEL_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn model_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    MODEL_ERROR.import(py, "thetatree._errors", "ModelError")
}

/// `ModelError(code, message, offset)`; `path` is the source location of a compile error.
pub fn model_error(py: Python<'_>, code: i32, message: &str, offset: Option<u64>) -> PyErr {
    match model_error_type(py) {
        Ok(t) => PyErr::from_type(t.clone(), (code, message.to_string(), offset)),
        Err(e) => e,
    }
}

/// A loader error: I/O is an `OSError`, a refused file a `ModelError` with its status code and
/// byte offset, anything else (a bug) a `RuntimeError`.
pub fn load_error(py: Python<'_>, e: Error) -> PyErr {
    match e.status {
        Status::Io => PyOSError::new_err(e.message),
        Status::Panic => PyRuntimeError::new_err(e.message),
        Status::Shape | Status::InputValue | Status::Length | Status::NotFound => {
            PyValueError::new_err(e.message)
        }
        s => {
            let offset = (e.byte_offset != 0 || offset_matters(s)).then_some(e.byte_offset);
            model_error(py, s as i32, &e.message, offset)
        }
    }
}

/// Statuses whose offset 0 is a real location (the magic, the header), not "no offset".
fn offset_matters(s: Status) -> bool {
    matches!(s, Status::BadMagic | Status::Truncated)
}

/// A compile error names where in the source it is (a JSON path, or a pickle byte offset);
/// it is a bad file, so a `ModelError` with the reader's status (`TT_ERR_CORRUPT` for the
/// compiler's own refusals) and the byte offset when known.
pub fn compile_error(py: Python<'_>, e: &CompileError) -> PyErr {
    let offset = pickle_offset(&e.path);
    // The pickle reader's messages start with their own status ("TT_ERR_LIMIT: ...").
    let code = Status::ALL
        .iter()
        .find(|s| {
            e.message
                .strip_prefix(s.name())
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .map_or(Status::Corrupt, |s| *s);
    let err = model_error(py, code as i32, &e.to_string(), offset);
    let _ = err.value(py).setattr("path", e.path.as_str());
    err
}

/// The byte offset in a location such as `byte 1234` or `offset 1234` (the pickle reader's
/// locations), if the location has one.
fn pickle_offset(path: &str) -> Option<u64> {
    let words: Vec<&str> = path.split_whitespace().collect();
    words.windows(2).find_map(|w| match w[0] {
        "byte" | "offset" => w[1].trim_end_matches(':').parse().ok(),
        _ => None,
    })
}

static INPUT_VALUE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `thetatree.InputValueError` (a `ValueError`) for a refused cell, naming row, column and
/// feature; the same fields are attributes of the exception.
pub fn bad_value(py: Python<'_>, cell: &BadCell, feature: &str) -> PyErr {
    let message = format!(
        "row {}, column {} (feature {feature:?}): value {} is not {}",
        cell.row, cell.column, cell.value, cell.accepted
    );
    match INPUT_VALUE_ERROR.import(py, "thetatree._errors", "InputValueError") {
        Ok(t) => PyErr::from_type(
            t.clone(),
            (
                message,
                cell.row,
                cell.column,
                feature.to_string(),
                cell.value.clone(),
            ),
        ),
        Err(_) => PyValueError::new_err(message),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pickle_offsets_are_found_in_locations() {
        assert_eq!(super::pickle_offset("byte 1234"), Some(1234));
        assert_eq!(super::pickle_offset("pickle byte offset 2"), Some(2));
        assert_eq!(super::pickle_offset("pickle offset 17:"), Some(17));
        assert_eq!(super::pickle_offset("$.tree_structure.left"), None);
    }
}
