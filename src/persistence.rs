//! The `ModelPersistence` dict's own attributes (from its JSON form or its pickle): checks that
//! they agree with the feature mapping the model is compiled with, and what of them the
//! metadata keeps.
//!
//! The dict is `{version, hyperparameters, fitted_attributes: {classes_, n_classes_,
//! n_features_in_, feature_names_in_, feature_importances}, tree_structure, feature_mapping,
//! is_fitted}`. The reference reads input column `feature_mapping[name]` and checks the input
//! width against `n_features_in_`, so when the two disagree, or `feature_names_in_` names the
//! columns differently, the dict contradicts itself and is refused rather than guessed at.

use crate::compile::CompileError;
use serde_json::{Map, Value};

/// The persistence format versions this compiler reads.
const VERSIONS: &[&str] = &["1.0"];

fn fail<T>(path: String, message: String) -> Result<T, CompileError> {
    Err(CompileError { path, message })
}

/// Check `version` and `fitted_attributes` of the dict `holder` (at `path`) against the
/// feature names in column order, when known.
pub(crate) fn check(
    holder: &Map<String, Value>,
    path: &str,
    features: Option<&[String]>,
) -> Result<(), CompileError> {
    match holder.get("version") {
        None => {}
        Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => {}
        Some(v) => {
            return fail(
                format!("{path}.version"),
                format!(
                    "persistence version {v} is not supported (this compiler reads {VERSIONS:?})"
                ),
            )
        }
    }
    let fitted = match holder.get("fitted_attributes") {
        None => return Ok(()),
        Some(Value::Object(f)) => f,
        Some(other) => {
            return fail(
                format!("{path}.fitted_attributes"),
                format!("expected an object, found {}", kind(other)),
            )
        }
    };
    let at = |key: &str| format!("{path}.fitted_attributes.{key}");
    if let Some(c) = fitted.get("classes_") {
        if *c != serde_json::json!([0, 1]) {
            return fail(
                at("classes_"),
                format!("{c} is not [0, 1]: the model is a binary classifier with classes 0 and 1"),
            );
        }
    }
    if let Some(n) = fitted.get("n_classes_") {
        if n.as_u64() != Some(2) {
            return fail(at("n_classes_"), format!("{n} is not 2"));
        }
    }
    let Some(features) = features else {
        return Ok(());
    };
    if let Some(n) = fitted.get("n_features_in_") {
        if n.as_u64() != Some(features.len() as u64) {
            return fail(
                at("n_features_in_"),
                format!(
                    "{n} disagrees with the feature mapping, which has {} features (the input width would be ambiguous)",
                    features.len()
                ),
            );
        }
    }
    if let Some(names) = fitted.get("feature_names_in_") {
        let Value::Array(names) = names else {
            return fail(
                at("feature_names_in_"),
                format!("expected a list of names, found {}", kind(names)),
            );
        };
        if names.len() != features.len() {
            return fail(
                at("feature_names_in_"),
                format!(
                    "{} names, but the feature mapping has {} features",
                    names.len(),
                    features.len()
                ),
            );
        }
        for (i, (n, f)) in names.iter().zip(features).enumerate() {
            if n.as_str() != Some(f.as_str()) {
                return fail(
                    format!("{}[{i}]", at("feature_names_in_")),
                    format!("{n} disagrees with the feature mapping, which names column {i} {f:?}"),
                );
            }
        }
    }
    if let Some(imp) = fitted.get("feature_importances") {
        let Value::Array(imp) = imp else {
            return fail(
                at("feature_importances"),
                format!("expected a list of numbers, found {}", kind(imp)),
            );
        };
        if imp.len() != features.len() {
            return fail(
                at("feature_importances"),
                format!(
                    "{} values, but the model has {} features",
                    imp.len(),
                    features.len()
                ),
            );
        }
        // Numbers, or the names the pickle reader gives non-finite floats.
        if let Some((i, v)) = imp.iter().enumerate().find(|(_, v)| {
            !(v.is_number() || matches!(v.as_str(), Some("NaN" | "Infinity" | "-Infinity")))
        }) {
            return fail(
                format!("{}[{i}]", at("feature_importances")),
                format!("{v} is not a number"),
            );
        }
    }
    Ok(())
}

/// What the metadata keeps of `fitted_attributes`: everything but `feature_names_in_` (the
/// model's feature names already are those, checked by [`check`]).
pub(crate) fn fitted_metadata(holder: &Map<String, Value>) -> Option<Value> {
    let Some(Value::Object(fitted)) = holder.get("fitted_attributes") else {
        return None;
    };
    let mut kept = fitted.clone();
    kept.remove("feature_names_in_");
    Some(Value::Object(kept))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
