//! [`Value`] to `serde_json::Value`, the shape the compiler's persistence-dict path reads:
//! what Python's `json` module writes for the same dict after numpy arrays become lists.
//!
//! * Floats keep their exact bits; `NaN`, `inf` and `-inf`, which JSON cannot hold, become the
//!   strings `"NaN"`, `"Infinity"` and `"-Infinity"` (the tokens Python's `json` would write),
//!   so a consumer that expects a number reports them instead of reading a wrong value.
//! * Tuples and arrays become lists (arrays nested by dimension, C order; a 0-d array is its
//!   scalar). Dict keys must be `str`; the last of a repeated key wins, as in Python.
//! * `bytes` have no JSON form and are refused, as are non-`str` keys.
//!
//! Iterative, and refuses values nested deeper than [`MAX_NESTING`], so the `serde_json`
//! value it returns is bounded in depth (its own drop is recursive).

use super::value::{ArrayData, Value};
use super::MAX_NESTING;
use crate::error::{Error, Result, Status};
use serde_json::{Map, Number, Value as Json};

/// A container being converted: where it is and what it has so far.
struct Frame<'v> {
    src: &'v Value,
    path: String,
    next: usize,
    list: Vec<Json>,
    map: Map<String, Json>,
}

/// Convert `value` to JSON. Errors name the JSON path (`$.fitted_attributes.classes_`).
pub fn to_json(value: &Value) -> Result<Json> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut next: (&Value, String) = (value, "$".to_string());
    loop {
        let (v, path) = next;
        let mut done = match v {
            Value::List(_) | Value::Tuple(_) | Value::Dict(_) => {
                if frames.len() >= MAX_NESTING {
                    return Err(fail(
                        &path,
                        Status::Limit,
                        format!("nested deeper than {MAX_NESTING} levels"),
                    ));
                }
                frames.push(Frame {
                    src: v,
                    path,
                    next: 0,
                    list: Vec::new(),
                    map: Map::new(),
                });
                None
            }
            _ => Some(scalar(v, &path)?),
        };
        loop {
            let Some(top) = frames.last_mut() else {
                return Ok(done.unwrap_or(Json::Null));
            };
            if let Some(j) = done.take() {
                match top.src {
                    Value::Dict(pairs) => {
                        let Value::Str(k) = &pairs[top.next - 1].0 else {
                            unreachable!("keys are checked before their values are converted")
                        };
                        top.map.insert(k.clone(), j);
                    }
                    _ => top.list.push(j),
                }
            }
            let (n, child) = match top.src {
                Value::List(items) | Value::Tuple(items) => (
                    items.len(),
                    items
                        .get(top.next)
                        .map(|c| (c, format!("{}[{}]", top.path, top.next))),
                ),
                Value::Dict(pairs) => {
                    let child = match pairs.get(top.next) {
                        Some((Value::Str(k), c)) => Some((c, key_path(&top.path, k))),
                        Some((k, _)) => {
                            return Err(fail(
                                &top.path,
                                Status::Corrupt,
                                format!(
                                    "dict key of type {} (only str keys have a JSON form)",
                                    k.type_name()
                                ),
                            ))
                        }
                        None => None,
                    };
                    (pairs.len(), child)
                }
                _ => unreachable!("only containers have frames"),
            };
            if let Some(c) = child {
                top.next += 1;
                next = c;
                break;
            }
            debug_assert_eq!(top.next, n);
            let f = frames.pop().unwrap_or_else(|| unreachable!());
            done = Some(match f.src {
                Value::Dict(_) => Json::Object(f.map),
                _ => Json::Array(f.list),
            });
        }
    }
}

fn fail(path: &str, status: Status, message: String) -> Error {
    Error::new(status, format!("{path}: {message}"))
}

fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{key:?}]")
    }
}

/// A float as JSON: a number with the same bits, or the name of a non-finite value.
pub fn float(x: f64) -> Json {
    match Number::from_f64(x) {
        Some(n) => Json::Number(n),
        None if x.is_nan() => Json::String("NaN".into()),
        None if x > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

fn scalar(v: &Value, path: &str) -> Result<Json> {
    Ok(match v {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(x) => float(*x),
        Value::Str(s) => Json::String(s.clone()),
        Value::Bytes(b) => {
            return Err(fail(
                path,
                Status::Corrupt,
                format!("bytes of length {} have no JSON form", b.len()),
            ))
        }
        Value::NdArray(a) => {
            // Arrays from the reader always agree; a hand-built one may not.
            let count = a.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if count != Some(a.data.len()) {
                return Err(fail(
                    path,
                    Status::Corrupt,
                    format!(
                        "array of shape {:?} holds {} elements",
                        a.shape,
                        a.data.len()
                    ),
                ));
            }
            array(&a.shape, &a.data)
        }
        Value::List(_) | Value::Tuple(_) | Value::Dict(_) => {
            unreachable!("containers get frames")
        }
    })
}

fn element(data: &ArrayData, i: usize) -> Json {
    match data {
        ArrayData::Bool(v) => Json::Bool(v[i]),
        ArrayData::Int(v) => Json::from(v[i]),
        ArrayData::Float(v) => float(v[i]),
        ArrayData::Str(v) => Json::String(v[i].clone()),
    }
}

/// Nested lists, C order, as `ndarray.tolist()` gives; built from the innermost dimension
/// outwards, without recursion.
fn array(shape: &[usize], data: &ArrayData) -> Json {
    if shape.is_empty() {
        return element(data, 0);
    }
    let mut level: Vec<Json> = (0..data.len()).map(|i| element(data, i)).collect();
    // After grouping dimension k, the level holds one list per index of shape[..k].
    for k in (1..shape.len()).rev() {
        let groups: usize = shape[..k].iter().product();
        let mut it = level.into_iter();
        level = (0..groups)
            .map(|_| Json::Array(it.by_ref().take(shape[k]).collect()))
            .collect();
    }
    Json::Array(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::value::{DType, NdArray};

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn containers_scalars_and_non_finite_floats() {
        let v = Value::Dict(vec![
            (
                s("a"),
                Value::Tuple(vec![Value::Int(-3), Value::Float(0.1)]),
            ),
            (
                s("b"),
                Value::List(vec![
                    Value::Float(f64::NAN),
                    Value::Float(f64::INFINITY),
                    Value::Float(f64::NEG_INFINITY),
                ]),
            ),
            (s("c"), Value::None),
            (s("a"), Value::Bool(true)),
        ]);
        let j = to_json(&v).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"a": true, "b": ["NaN", "Infinity", "-Infinity"], "c": null})
        );
        let bits = to_json(&Value::Float(0.1 + 0.2))
            .unwrap()
            .as_f64()
            .unwrap()
            .to_bits();
        assert_eq!(bits, (0.1f64 + 0.2).to_bits());
    }

    #[test]
    fn arrays_become_nested_lists() {
        let a = |shape: Vec<usize>, data| {
            Value::NdArray(NdArray {
                dtype: DType::Int { size: 8 },
                shape,
                data: ArrayData::Int(data),
            })
        };
        assert_eq!(
            to_json(&a(vec![2, 3], (1..=6).collect())).unwrap(),
            serde_json::json!([[1, 2, 3], [4, 5, 6]])
        );
        assert_eq!(to_json(&a(vec![], vec![7])).unwrap(), serde_json::json!(7));
        assert_eq!(
            to_json(&a(vec![3], vec![1, 2, 3])).unwrap(),
            serde_json::json!([1, 2, 3])
        );
        assert_eq!(
            to_json(&a(vec![2, 0], vec![])).unwrap(),
            serde_json::json!([[], []])
        );
        assert_eq!(
            to_json(&a(vec![0, 2], vec![])).unwrap(),
            serde_json::json!([])
        );
        assert_eq!(
            to_json(&a(vec![2, 1, 2], vec![1, 2, 3, 4])).unwrap(),
            serde_json::json!([[[1, 2]], [[3, 4]]])
        );
    }

    #[test]
    fn bytes_non_str_keys_and_deep_values_are_refused_with_their_path() {
        let v = Value::Dict(vec![(
            s("x y"),
            Value::List(vec![Value::Int(0), Value::Bytes(vec![1])]),
        )]);
        let e = to_json(&v).unwrap_err();
        assert!(
            e.message.starts_with("$[\"x y\"][1]: bytes"),
            "{}",
            e.message
        );
        let e = to_json(&Value::Dict(vec![(Value::Int(1), Value::None)])).unwrap_err();
        assert!(e.message.contains("key of type int"), "{}", e.message);
        let mut deep = Value::None;
        for _ in 0..MAX_NESTING + 1 {
            deep = Value::List(vec![deep]);
        }
        assert_eq!(to_json(&deep).unwrap_err().status, Status::Limit);
    }
}
