//! numpy's pickle protocol, reimplemented for the few dtypes a model holds: dtype names and
//! their `BUILD` state, array shapes, and decoding raw buffers into [`ArrayData`].
//!
//! Errors come back without an offset; the machine adds the offset of the opcode at fault.

use super::value::{ArrayData, DType, Value};
use super::{MAX_ELEMENTS, MAX_NDIM};
use crate::error::{Error, Status};

fn corrupt(message: impl Into<String>) -> Error {
    Error::new(Status::Corrupt, message)
}

/// A dtype as the machine tracks it until its elements are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DTypeSpec {
    pub kind: DType,
    /// Bytes per element (4 per code point for unicode; 0 for object arrays, whose elements
    /// come as a list).
    pub itemsize: usize,
    pub big_endian: bool,
}

impl DTypeSpec {
    /// Parse the name numpy passes to `numpy.dtype(...)` when it pickles a dtype: kind letter
    /// and size, e.g. `f8`, `i8`, `b1`, `U11` (code points), `O8`.
    pub fn from_name(name: &str) -> Result<DTypeSpec, Error> {
        let unsupported = || {
            corrupt(format!(
                "numpy dtype {name:?} is not supported (accepted: b1, i1/i2/i4/i8, u1/u2/u4/u8, f4/f8, U<n>, O)"
            ))
        };
        let mut chars = name.chars();
        let kind_letter = chars.next().ok_or_else(unsupported)?;
        let digits = chars.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
            return Err(unsupported());
        }
        let n: usize = digits.parse().map_err(|_| unsupported())?;
        let (kind, itemsize) = match (kind_letter, n) {
            ('b', 1) => (DType::Bool, 1),
            ('i', 1 | 2 | 4 | 8) => (DType::Int { size: n as u8 }, n),
            ('u', 1 | 2 | 4 | 8) => (DType::UInt { size: n as u8 }, n),
            ('f', 4 | 8) => (DType::Float { size: n as u8 }, n),
            ('U', _) => (
                DType::Unicode { chars: n },
                n.checked_mul(4).ok_or_else(unsupported)?,
            ),
            ('O', 4 | 8) => (DType::Object, 0),
            _ => return Err(unsupported()),
        };
        Ok(DTypeSpec {
            kind,
            itemsize,
            big_endian: false,
        })
    }

    /// Apply the dtype's `BUILD` state `(version, byteorder, subarray, names, fields, elsize,
    /// alignment, flags[, metadata])`, already checked to be plain values by the machine.
    pub fn apply_state(&mut self, byteorder: &str, elsize: i64) -> Result<(), Error> {
        let multibyte = self.itemsize > 1 && !matches!(self.kind, DType::Object);
        self.big_endian = match byteorder {
            "<" => false,
            ">" => true,
            "|" if !multibyte => false,
            "=" if !multibyte => false,
            _ => {
                return Err(corrupt(format!(
                    "dtype byte order {byteorder:?} is not valid for a {}-byte element (expected '<' or '>', or '|' for one byte)",
                    self.itemsize
                )))
            }
        };
        // Flexible dtypes (unicode) carry their size in the state; fixed ones write -1.
        let expected = match self.kind {
            DType::Unicode { .. } => Some(self.itemsize as i64),
            _ => None,
        };
        match expected {
            Some(size) if elsize != size => Err(corrupt(format!(
                "dtype state says elsize {elsize}, but the dtype name implies {size} bytes"
            ))),
            None if elsize != -1 && elsize != self.itemsize as i64 => Err(corrupt(format!(
                "dtype state says elsize {elsize} for a {}-byte element",
                self.itemsize
            ))),
            _ => Ok(()),
        }
    }
}

/// Check an array shape (non-negative dimensions, at most [`MAX_NDIM`] of them) and return it
/// with its element count. The product of the non-zero dimensions is capped at
/// [`MAX_ELEMENTS`], so that neither the elements nor the nested lists of an empty array
/// (shape `(2**24, 0)`) can be made numerous by a few bytes.
pub fn shape(dims: &[i64]) -> Result<(Vec<usize>, usize), Error> {
    if dims.len() > MAX_NDIM {
        return Err(Error::new(
            Status::Limit,
            format!(
                "array has {} dimensions, above the cap of {MAX_NDIM}",
                dims.len()
            ),
        ));
    }
    let mut span: usize = 1;
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let d =
            usize::try_from(d).map_err(|_| corrupt(format!("array dimension {d} is negative")))?;
        span = span
            .checked_mul(d.max(1))
            .filter(|&c| c <= MAX_ELEMENTS)
            .ok_or_else(|| {
                Error::new(
                    Status::Limit,
                    format!("array shape {dims:?} has more than {MAX_ELEMENTS} elements"),
                )
            })?;
        out.push(d);
    }
    let count = out.iter().product();
    Ok((out, count))
}

/// Bytes the decoded elements of an array of `shape` occupy, and the lists of its JSON form
/// (for the memory budget).
pub fn decoded_size(spec: &DTypeSpec, shape: &[usize]) -> usize {
    let per = match spec.kind {
        DType::Bool => 1,
        DType::Int { .. } | DType::UInt { .. } | DType::Float { .. } => 8,
        DType::Unicode { .. } | DType::Object => std::mem::size_of::<String>(),
    };
    let count: usize = shape.iter().product();
    let span: usize = shape.iter().map(|&d| d.max(1)).product();
    count
        .saturating_mul(per)
        .saturating_add(span.saturating_mul(32))
}

/// Decode the raw bytes of an array of `count` elements (C order, or Fortran order when
/// `fortran`) into C-order elements.
pub fn decode(
    spec: &DTypeSpec,
    shape: &[usize],
    count: usize,
    fortran: bool,
    raw: &[u8],
) -> Result<ArrayData, Error> {
    if matches!(spec.kind, DType::Object) {
        return Err(corrupt(
            "an object array must carry its elements as a list, not as raw bytes",
        ));
    }
    let expected = count.checked_mul(spec.itemsize);
    if expected != Some(raw.len()) {
        return Err(corrupt(format!(
            "array of shape {shape:?} and {}-byte elements needs {} bytes, but its buffer has {}",
            spec.itemsize,
            expected.map_or("too many".to_string(), |e| e.to_string()),
            raw.len()
        )));
    }
    let order = element_order(shape, fortran);
    let item = |i: usize| &raw[i * spec.itemsize..(i + 1) * spec.itemsize];
    Ok(match spec.kind {
        DType::Bool => ArrayData::Bool(
            order
                .map(|i| match raw[i] {
                    0 => Ok(false),
                    1 => Ok(true),
                    b => Err(corrupt(format!("bool element {i} has byte value {b}"))),
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::Int { .. } | DType::UInt { .. } => ArrayData::Int(
            order
                .map(|i| integer(spec, item(i)).map_err(|e| index_error(e, i)))
                .collect::<Result<_, _>>()?,
        ),
        DType::Float { .. } => ArrayData::Float(order.map(|i| float(spec, item(i))).collect()),
        DType::Unicode { .. } => ArrayData::Str(
            order
                .map(|i| ucs4(spec, item(i)).map_err(|e| index_error(e, i)))
                .collect::<Result<_, _>>()?,
        ),
        DType::Object => unreachable!("refused above"),
    })
}

fn index_error(mut e: Error, i: usize) -> Error {
    e.message = format!("array element {i}: {}", e.message);
    e
}

/// Storage indices in C (row-major) order of the logical elements. For Fortran-ordered data
/// the first index varies fastest in storage.
fn element_order(shape: &[usize], fortran: bool) -> Box<dyn Iterator<Item = usize> + '_> {
    let count: usize = shape.iter().product();
    if !fortran || shape.len() < 2 {
        return Box::new(0..count);
    }
    // Fortran strides: stride[0] = 1, stride[k] = stride[k-1] * shape[k-1].
    let mut strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    Box::new((0..count).map(move |mut c| {
        // Split the C-order position into indices, last dimension fastest.
        let mut storage = 0;
        for k in (0..shape.len()).rev() {
            storage += (c % shape[k]) * strides[k];
            c /= shape[k];
        }
        storage
    }))
}

fn bytes_in_order<const N: usize>(b: &[u8], big_endian: bool) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    if big_endian {
        a.reverse();
    }
    a // now little-endian
}

fn integer(spec: &DTypeSpec, b: &[u8]) -> Result<i64, Error> {
    let be = spec.big_endian;
    Ok(match spec.kind {
        DType::Int { size: 1 } => i64::from(b[0] as i8),
        DType::Int { size: 2 } => i64::from(i16::from_le_bytes(bytes_in_order(b, be))),
        DType::Int { size: 4 } => i64::from(i32::from_le_bytes(bytes_in_order(b, be))),
        DType::Int { .. } => i64::from_le_bytes(bytes_in_order(b, be)),
        DType::UInt { size: 1 } => i64::from(b[0]),
        DType::UInt { size: 2 } => i64::from(u16::from_le_bytes(bytes_in_order(b, be))),
        DType::UInt { size: 4 } => i64::from(u32::from_le_bytes(bytes_in_order(b, be))),
        _ => {
            let u = u64::from_le_bytes(bytes_in_order(b, be));
            i64::try_from(u)
                .map_err(|_| corrupt(format!("uint64 value {u} does not fit in an int64")))?
        }
    })
}

fn float(spec: &DTypeSpec, b: &[u8]) -> f64 {
    match spec.kind {
        DType::Float { size: 4 } => {
            f64::from(f32::from_le_bytes(bytes_in_order(b, spec.big_endian)))
        }
        _ => f64::from_le_bytes(bytes_in_order(b, spec.big_endian)),
    }
}

/// A fixed-width UCS-4 string: code points, NUL padding at the end removed (as numpy does).
fn ucs4(spec: &DTypeSpec, b: &[u8]) -> Result<String, Error> {
    let mut s = String::new();
    for unit in b.chunks_exact(4) {
        let cp = u32::from_le_bytes(bytes_in_order(unit, spec.big_endian));
        let c = char::from_u32(cp)
            .ok_or_else(|| corrupt(format!("0x{cp:x} is not a unicode scalar value")))?;
        s.push(c);
    }
    s.truncate(s.trim_end_matches('\0').len());
    Ok(s)
}

/// A numpy scalar (`numpy.core.multiarray.scalar(dtype, bytes)`) as a plain value.
pub fn scalar(spec: &DTypeSpec, raw: &[u8]) -> Result<Value, Error> {
    if matches!(spec.kind, DType::Object) {
        return Err(corrupt("numpy object scalars are not supported"));
    }
    Ok(match decode(spec, &[], 1, false, raw)? {
        ArrayData::Bool(v) => Value::Bool(v[0]),
        ArrayData::Int(v) => Value::Int(v[0]),
        ArrayData::Float(v) => Value::Float(v[0]),
        ArrayData::Str(mut v) => Value::Str(v.swap_remove(0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, big_endian: bool) -> DTypeSpec {
        let mut s = DTypeSpec::from_name(name).unwrap();
        s.big_endian = big_endian;
        s
    }

    #[test]
    fn names_numpy_writes_are_parsed_and_others_refused() {
        assert_eq!(spec("f8", false).kind, DType::Float { size: 8 });
        assert_eq!(spec("U11", false).itemsize, 44);
        assert_eq!(spec("O8", false).kind, DType::Object);
        for bad in [
            "",
            "f",
            "f2",
            "c16",
            "S5",
            "V8",
            "M8",
            "i3",
            "U-1",
            "f8x",
            "U99999999999",
        ] {
            assert!(DTypeSpec::from_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_byte_orders_decode_to_the_same_values() {
        let le: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let be: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let a = decode(&spec("f8", false), &[2], 2, false, &le).unwrap();
        let b = decode(&spec("f8", true), &[2], 2, false, &be).unwrap();
        assert_eq!(a, ArrayData::Float(vec![1.5, -2.0]));
        assert_eq!(a, b);
        let u: Vec<u8> = "ab\0"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(
            decode(&spec("U3", true), &[1], 1, false, &u).unwrap(),
            ArrayData::Str(vec!["ab".into()])
        );
    }

    #[test]
    fn fortran_order_is_returned_in_c_order() {
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        let raw: Vec<u8> = [1i64, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(
            decode(&spec("i8", false), &[2, 3], 6, true, &raw).unwrap(),
            ArrayData::Int(vec![1, 2, 3, 4, 5, 6])
        );
    }

    #[test]
    fn buffer_length_and_values_are_checked() {
        let e = decode(&spec("f8", false), &[3], 3, false, &[0; 16]).unwrap_err();
        assert!(
            e.message.contains("needs 24 bytes") && e.message.contains("has 16"),
            "{}",
            e.message
        );
        assert!(decode(&spec("b1", false), &[1], 1, false, &[2]).is_err());
        assert!(decode(&spec("u8", false), &[1], 1, false, &[0xff; 8]).is_err());
        assert!(decode(&spec("U1", false), &[1], 1, false, &[0, 0xd8, 0, 0]).is_err());
        assert!(shape(&[-1]).is_err());
        assert_eq!(shape(&[1 << 40]).unwrap_err().status, Status::Limit);
        assert_eq!(
            shape(&[1 << 20, 1 << 20, 1 << 20]).unwrap_err().status,
            Status::Limit
        );
        assert_eq!(shape(&[2, 3]).unwrap(), (vec![2, 3], 6));
    }

    #[test]
    fn dtype_state_is_checked() {
        let mut s = spec("f8", false);
        s.apply_state(">", -1).unwrap();
        assert!(s.big_endian);
        assert!(spec("f8", false).apply_state("|", -1).is_err());
        assert!(spec("f8", false).apply_state("=", -1).is_err());
        spec("b1", false).apply_state("|", -1).unwrap();
        spec("U2", false).apply_state("<", 8).unwrap();
        assert!(spec("U2", false).apply_state("<", 12).is_err());
        assert!(spec("i8", false).apply_state("<", 4).is_err());
    }
}
