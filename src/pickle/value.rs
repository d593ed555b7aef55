//! The closed set of values a pickle can produce here, and numpy arrays decoded into plain
//! vectors (byte order already applied).

/// A value read from a pickle. Containers own their elements; nothing refers back to the
/// pickle. Dropping a value is iterative, so even a hand-built million-deep nesting is safe.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    /// Python `int` (and numpy integer scalars), within `i64`.
    Int(i64),
    /// Python `float` (and numpy `float64`/`float32` scalars, widened exactly).
    Float(f64),
    Str(String),
    /// `bytes` or `bytearray`.
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Key/value pairs in pickle order. A key written twice stays twice here; [`Value::get`]
    /// and the JSON conversion take the last one, as Python's dict does.
    Dict(Vec<(Value, Value)>),
    NdArray(NdArray),
}

/// A numpy array: element type, shape and the elements in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: ArrayData,
}

/// The numpy element types accepted. Sizes are in bytes; byte order is not kept (the data is
/// decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// `bool` (`b1`).
    Bool,
    /// `int8` .. `int64` (`i1`, `i2`, `i4`, `i8`).
    Int { size: u8 },
    /// `uint8` .. `uint64` (`u1` .. `u8`); values above `i64::MAX` are refused.
    UInt { size: u8 },
    /// `float32` / `float64` (`f4`, `f8`).
    Float { size: u8 },
    /// Fixed-width unicode `<U n>` (UCS-4, `n` code points, NUL-padded).
    Unicode { chars: usize },
    /// `object` arrays; only arrays of `str` are accepted.
    Object,
}

/// Decoded elements of an array, in C order.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    Str(Vec<String>),
}

impl ArrayData {
    pub fn len(&self) -> usize {
        match self {
            ArrayData::Bool(v) => v.len(),
            ArrayData::Int(v) => v.len(),
            ArrayData::Float(v) => v.len(),
            ArrayData::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as a scalar value.
    pub fn get(&self, i: usize) -> Option<Value> {
        Some(match self {
            ArrayData::Bool(v) => Value::Bool(*v.get(i)?),
            ArrayData::Int(v) => Value::Int(*v.get(i)?),
            ArrayData::Float(v) => Value::Float(*v.get(i)?),
            ArrayData::Str(v) => Value::Str(v.get(i)?.clone()),
        })
    }
}

impl Value {
    /// The Python type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::NdArray(_) => "numpy.ndarray",
        }
    }

    /// The value under string key `key` of a dict (the last one if the key repeats).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn is_container(&self) -> bool {
        matches!(self, Value::List(_) | Value::Tuple(_) | Value::Dict(_))
    }

    /// Move this value's children onto `out` (leaving it childless).
    fn take_children(&mut self, out: &mut Vec<Value>) {
        match self {
            Value::List(items) | Value::Tuple(items) => {
                out.extend(items.drain(..).filter(Value::is_container))
            }
            Value::Dict(pairs) => {
                for (k, v) in pairs.drain(..) {
                    out.extend([k, v].into_iter().filter(Value::is_container));
                }
            }
            _ => {}
        }
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // The default drop recurses once per nesting level; this one keeps the pending
        // containers on the heap instead. Childless values go straight through.
        let has_nested = match self {
            Value::List(items) | Value::Tuple(items) => items.iter().any(Value::is_container),
            Value::Dict(pairs) => pairs
                .iter()
                .any(|(k, v)| k.is_container() || v.is_container()),
            _ => false,
        };
        if !has_nested {
            return;
        }
        let mut pending = Vec::new();
        self.take_children(&mut pending);
        while let Some(mut v) = pending.pop() {
            v.take_children(&mut pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_deep_nesting_does_not_recurse() {
        let depth = if cfg!(miri) { 2_000 } else { 1_000_000 };
        let mut v = Value::None;
        for i in 0..depth {
            v = match i % 3 {
                0 => Value::List(vec![v]),
                1 => Value::Tuple(vec![Value::Int(1), v]),
                _ => Value::Dict(vec![(Value::Str("k".into()), v)]),
            };
        }
        drop(v);
    }

    #[test]
    fn get_takes_the_last_repeated_key() {
        let d = Value::Dict(vec![
            (Value::Str("a".into()), Value::Int(1)),
            (Value::Int(7), Value::Int(2)),
            (Value::Str("a".into()), Value::Int(3)),
        ]);
        assert_eq!(d.get("a"), Some(&Value::Int(3)));
        assert_eq!(d.get("b"), None);
        assert_eq!(Value::Int(1).get("a"), None);
    }
}
