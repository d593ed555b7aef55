//! The pickle machine: a loop over opcodes with an object arena, a stack of references, a
//! mark stack and a memo, like CPython's unpickler, but with a fixed table of what may be
//! built and no code ever run. Objects live in the arena and the stack and memo hold indices,
//! so an object memoized before it is filled (a dict before its SETITEMS, a dtype before its
//! BUILD) is seen filled wherever it is fetched again, as in Python. The result is then copied
//! out of the arena into a [`Value`] tree, iteratively and within the nesting and memory caps.

use super::numpy::{self, DTypeSpec};
use super::value::{ArrayData, DType, NdArray, Value};
use super::{
    memory_cap, MAX_BLOB_LEN, MAX_ELEMENTS, MAX_GLOBAL_NAME, MAX_NESTING, MAX_PROTOCOL, MAX_STACK,
    MIN_PROTOCOL,
};
use crate::error::{Error, Result, Status};
use std::collections::HashMap;

type Ref = u32;

/// The callables and classes a pickle may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Callable {
    /// `numpy.core.multiarray._reconstruct` (numpy 1.x) / `numpy._core.multiarray._reconstruct`.
    Reconstruct,
    /// `numpy.(_)core.multiarray.scalar`.
    Scalar,
    /// `numpy.(_)core.numeric._frombuffer` (protocol 5 arrays).
    FromBuffer,
    /// `numpy.ndarray`, only as the first argument of `_reconstruct`.
    NdarrayClass,
    /// `numpy.dtype`.
    DtypeClass,
    /// `_codecs.encode`, with which protocol 2 writes `bytes` as a latin-1 `str`.
    CodecsEncode,
    /// `builtins.bytes` / `__builtin__.bytes`, called with no argument: protocol 2's `b''`.
    BytesClass,
}

impl Callable {
    fn resolve(module: &str, name: &str) -> Option<Callable> {
        Some(match (module, name) {
            ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
                Callable::Reconstruct
            }
            ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Callable::Scalar,
            ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Callable::FromBuffer,
            ("numpy", "ndarray") => Callable::NdarrayClass,
            ("numpy", "dtype") => Callable::DtypeClass,
            ("_codecs", "encode") => Callable::CodecsEncode,
            ("builtins" | "__builtin__", "bytes") => Callable::BytesClass,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Callable::Reconstruct => "numpy _reconstruct",
            Callable::Scalar => "numpy scalar",
            Callable::FromBuffer => "numpy _frombuffer",
            Callable::NdarrayClass => "numpy.ndarray",
            Callable::DtypeClass => "numpy.dtype",
            Callable::CodecsEncode => "_codecs.encode",
            Callable::BytesClass => "bytes",
        }
    }
}

enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Ref>),
    Tuple(Vec<Ref>),
    Dict(Vec<(Ref, Ref)>),
    Array(Box<NdArray>),
    Callable(Callable),
    /// A `numpy.dtype(...)`; `built` once its BUILD state has set the byte order.
    DType {
        spec: DTypeSpec,
        built: bool,
    },
    /// `_reconstruct(ndarray, ...)`: an array waiting for its BUILD state.
    EmptyArray,
}

impl Obj {
    fn describe(&self) -> String {
        match self {
            Obj::None => "None".into(),
            Obj::Bool(b) => format!("bool {}", if *b { "True" } else { "False" }),
            Obj::Int(i) => format!("int {i}"),
            Obj::Float(x) => format!("float {x}"),
            Obj::Str(s) if s.len() <= 40 => format!("str {s:?}"),
            Obj::Str(s) => format!("str of {} bytes", s.len()),
            Obj::Bytes(b) => format!("bytes of length {}", b.len()),
            Obj::List(l) => format!("list of {}", l.len()),
            Obj::Tuple(t) => format!("tuple of {}", t.len()),
            Obj::Dict(d) => format!("dict of {}", d.len()),
            Obj::Array(_) => "numpy array".into(),
            Obj::Callable(c) => c.name().into(),
            Obj::DType { .. } => "numpy dtype".into(),
            Obj::EmptyArray => "numpy array without its state".into(),
        }
    }
}

struct Slot {
    obj: Obj,
    /// Offset of the opcode that created it (for errors found later).
    offset: u64,
}

/// Memory accounting: every allocation the machine makes is charged before it is made.
struct Budget {
    used: usize,
    cap: usize,
}

impl Budget {
    fn charge(&mut self, bytes: usize, offset: u64) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.cap {
            return Err(Error::at(
                Status::Limit,
                offset,
                format!(
                    "reading the pickle needs more than {} bytes of memory, the cap for an input of this size",
                    self.cap
                ),
            ));
        }
        Ok(())
    }
}

const SLOT_COST: usize = std::mem::size_of::<Slot>();
const REF_COST: usize = std::mem::size_of::<Ref>();
const MEMO_COST: usize = 2 * std::mem::size_of::<(u32, Ref)>();
const VALUE_COST: usize = std::mem::size_of::<Value>();

fn corrupt(offset: u64, message: impl Into<String>) -> Error {
    Error::at(Status::Corrupt, offset, message)
}

/// Opcodes that exist but are refused, with the reason.
fn refused_opcode(op: u8) -> Option<(&'static str, &'static str)> {
    const OBJECTS: &str = "builds arbitrary objects";
    const TEXT: &str = "is a protocol 0/1 text opcode (protocols 2-5 only)";
    Some(match op {
        b'i' => ("INST", OBJECTS),
        b'o' => ("OBJ", OBJECTS),
        0x81 => ("NEWOBJ", OBJECTS),
        0x92 => ("NEWOBJ_EX", OBJECTS),
        b'P' => ("PERSID", "needs a persistent_load hook"),
        b'Q' => ("BINPERSID", "needs a persistent_load hook"),
        0x82 => (
            "EXT1",
            "names a global through the copyreg extension registry",
        ),
        0x83 => (
            "EXT2",
            "names a global through the copyreg extension registry",
        ),
        0x84 => (
            "EXT4",
            "names a global through the copyreg extension registry",
        ),
        0x8f => ("EMPTY_SET", "builds a set, which a model never holds"),
        0x90 => ("ADDITEMS", "builds a set, which a model never holds"),
        0x91 => ("FROZENSET", "builds a set, which a model never holds"),
        0x97 => (
            "NEXT_BUFFER",
            "needs an out-of-band buffer (only in-band buffers are read)",
        ),
        b'I' => ("INT", TEXT),
        b'L' => ("LONG", TEXT),
        b'F' => ("FLOAT", TEXT),
        b'S' => ("STRING", TEXT),
        b'T' => ("BINSTRING", TEXT),
        b'U' => ("SHORT_BINSTRING", TEXT),
        b'V' => ("UNICODE", TEXT),
        _ => return None,
    })
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    arena: Vec<Slot>,
    stack: Vec<Ref>,
    /// Stack lengths at each open MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Ref>,
    budget: Budget,
}

/// Run the machine over `input` and return the pickled value.
pub fn run(input: &[u8]) -> Result<Value> {
    let mut m = Machine {
        input,
        pos: 0,
        arena: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        budget: Budget {
            used: 0,
            cap: memory_cap(input.len()),
        },
    };
    let root = m.execute()?;
    materialize(&m.arena, &mut m.budget, root)
}

impl<'a> Machine<'a> {
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// The next `n` bytes, for the opcode at `op`.
    fn take(&mut self, n: usize, op: u64, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::at(
                Status::Truncated,
                op,
                format!(
                    "{what} needs {n} bytes after offset {}, but the pickle ends {} bytes later",
                    self.pos,
                    self.remaining()
                ),
            ));
        }
        let input: &'a [u8] = self.input;
        let s = &input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self, op: u64, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, op, what)?);
        Ok(a)
    }

    /// A length field's value, checked against the cap and the bytes left before anything
    /// is reserved for it.
    fn length(&mut self, declared: u64, op: u64, what: &str) -> Result<usize> {
        if declared > MAX_BLOB_LEN {
            return Err(Error::at(
                Status::Limit,
                op,
                format!("{what} declares {declared} bytes, above the cap of {MAX_BLOB_LEN}"),
            ));
        }
        let n = declared as usize;
        if n > self.remaining() {
            return Err(Error::at(
                Status::Truncated,
                op,
                format!(
                    "{what} declares {declared} bytes, but only {} remain",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }

    /// A newline-terminated text argument (GLOBAL, PUT, GET).
    fn line(&mut self, op: u64, what: &str) -> Result<&'a str> {
        let window = &self.input[self.pos..self.input.len().min(self.pos + MAX_GLOBAL_NAME + 1)];
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            return Err(if window.len() > MAX_GLOBAL_NAME {
                Error::at(
                    Status::Limit,
                    op,
                    format!("{what} is longer than {MAX_GLOBAL_NAME} bytes"),
                )
            } else {
                Error::at(
                    Status::Truncated,
                    op,
                    format!("{what} has no terminating newline before the end"),
                )
            });
        };
        let bytes = self.take(end + 1, op, what)?;
        std::str::from_utf8(&bytes[..end])
            .map_err(|_| corrupt(op, format!("{what} is not valid UTF-8")))
    }

    fn obj(&self, r: Ref) -> &Obj {
        &self.arena[r as usize].obj
    }

    fn alloc(&mut self, obj: Obj, offset: u64) -> Result<Ref> {
        if self.arena.len() >= MAX_ELEMENTS {
            return Err(Error::at(
                Status::Limit,
                offset,
                format!("more than {MAX_ELEMENTS} objects"),
            ));
        }
        self.budget.charge(SLOT_COST, offset)?;
        self.arena.push(Slot { obj, offset });
        Ok((self.arena.len() - 1) as Ref)
    }

    fn push_ref(&mut self, r: Ref, offset: u64) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(Error::at(
                Status::Limit,
                offset,
                format!("more than {MAX_STACK} values on the pickle stack"),
            ));
        }
        self.stack.push(r);
        Ok(())
    }

    fn push(&mut self, obj: Obj, offset: u64) -> Result<()> {
        let r = self.alloc(obj, offset)?;
        self.push_ref(r, offset)
    }

    /// Lowest stack index the current opcode may pop (the last MARK).
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, op: u64, name: &str) -> Result<Ref> {
        if self.stack.len() <= self.fence() {
            return Err(corrupt(
                op,
                format!("{name} needs a value, but the stack is empty (above the last MARK)"),
            ));
        }
        Ok(self.stack.pop().unwrap_or_default())
    }

    fn top(&self, op: u64, name: &str) -> Result<Ref> {
        match self.stack.last() {
            Some(&r) if self.stack.len() > self.fence() => Ok(r),
            _ => Err(corrupt(
                op,
                format!("{name} needs a value, but the stack is empty (above the last MARK)"),
            )),
        }
    }

    fn pop_mark(&mut self, op: u64, name: &str) -> Result<Vec<Ref>> {
        let Some(base) = self.marks.pop() else {
            return Err(corrupt(op, format!("{name} without a MARK")));
        };
        Ok(self.stack.split_off(base))
    }

    fn memo_put(&mut self, key: u32, op: u64) -> Result<()> {
        let r = self.top(op, "memo store")?;
        self.budget.charge(MEMO_COST, op)?;
        self.memo.insert(key, r);
        Ok(())
    }

    fn memo_get(&mut self, key: u64, op: u64) -> Result<()> {
        let r = u32::try_from(key)
            .ok()
            .and_then(|k| self.memo.get(&k).copied())
            .ok_or_else(|| corrupt(op, format!("memo key {key} was never stored")))?;
        self.push_ref(r, op)
    }

    fn str_arg(&mut self, n: usize, op: u64, what: &str) -> Result<()> {
        let bytes = self.take(n, op, what)?;
        let s = std::str::from_utf8(bytes)
            .map_err(|e| corrupt(op, format!("{what} is not valid UTF-8: {e}")))?;
        self.budget.charge(n, op)?;
        self.push(Obj::Str(s.to_owned()), op)
    }

    fn bytes_arg(&mut self, n: usize, op: u64, what: &str) -> Result<()> {
        let bytes = self.take(n, op, what)?;
        self.budget.charge(n, op)?;
        self.push(Obj::Bytes(bytes.to_vec()), op)
    }

    /// A little-endian two's-complement integer of `n` bytes (LONG1 / LONG4).
    fn long(&mut self, n: u64, op: u64, what: &str) -> Result<()> {
        if n > 8 {
            return Err(Error::at(
                Status::Limit,
                op,
                format!("{what} of {n} bytes: integers wider than 64 bits are not supported"),
            ));
        }
        let b = self.take(n as usize, op, what)?;
        let mut le = [0u8; 8];
        le[..b.len()].copy_from_slice(b);
        if b.last().is_some_and(|&x| x & 0x80 != 0) {
            le[b.len()..].fill(0xff);
        }
        self.push(Obj::Int(i64::from_le_bytes(le)), op)
    }

    fn global(&mut self, module: &str, name: &str, op: u64) -> Result<()> {
        let Some(c) = Callable::resolve(module, name) else {
            return Err(corrupt(
                op,
                format!(
                    "global {module}.{name} is not allowed: a model pickle may only name numpy's array, scalar and dtype reconstructors (nothing is imported or called)"
                ),
            ));
        };
        self.push(Obj::Callable(c), op)
    }

    fn execute(&mut self) -> Result<Ref> {
        match self.input.first() {
            Some(0x80) => {}
            Some(&b) => {
                return Err(Error::at(
                    Status::BadMagic,
                    0,
                    format!(
                    "not a pickle of protocol 2-5: the first byte is 0x{b:02x}, not PROTO (0x80)"
                ),
                ))
            }
            None => return Err(Error::at(Status::Truncated, 0, "empty input: not a pickle")),
        }
        loop {
            let op_at = self.pos as u64;
            let [op] = self.fixed::<1>(op_at, "the next opcode").map_err(|_| {
                Error::at(
                    Status::Truncated,
                    op_at,
                    "the pickle ends before its STOP opcode",
                )
            })?;
            if op == b'.' {
                return self.stop(op_at);
            }
            self.step(op, op_at)?;
        }
    }

    fn stop(&mut self, op: u64) -> Result<Ref> {
        if !self.marks.is_empty() || self.stack.len() != 1 {
            return Err(corrupt(
                op,
                format!(
                    "STOP with {} values and {} open MARKs on the stack (expected exactly one value)",
                    self.stack.len(),
                    self.marks.len()
                ),
            ));
        }
        if self.pos != self.input.len() {
            return Err(Error::at(
                Status::TrailingBytes,
                self.pos as u64,
                format!("{} bytes after the STOP opcode", self.remaining()),
            ));
        }
        Ok(self.stack[0])
    }

    /// Execute one opcode (not STOP) that starts at `op`.
    fn step(&mut self, code: u8, op: u64) -> Result<()> {
        match code {
            0x80 => {
                let [v] = self.fixed::<1>(op, "PROTO")?;
                if op != 0 {
                    return Err(corrupt(op, "PROTO after the start of the pickle"));
                }
                if !(MIN_PROTOCOL..=MAX_PROTOCOL).contains(&v) {
                    return Err(Error::at(
                        Status::Version,
                        op,
                        format!("pickle protocol {v} is not supported (protocols {MIN_PROTOCOL}-{MAX_PROTOCOL})"),
                    ));
                }
            }
            0x95 => {
                // FRAME only groups opcodes for buffered reading; its length must fit.
                let n = u64::from_le_bytes(self.fixed(op, "FRAME")?);
                if n > self.remaining() as u64 {
                    return Err(Error::at(
                        Status::Truncated,
                        op,
                        format!(
                            "FRAME declares {n} bytes, but only {} remain",
                            self.remaining()
                        ),
                    ));
                }
            }
            b'(' => {
                if self.marks.len() >= MAX_NESTING {
                    return Err(Error::at(
                        Status::Limit,
                        op,
                        format!("MARKs nested deeper than {MAX_NESTING}"),
                    ));
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                if self.stack.len() > self.fence() {
                    self.stack.pop();
                } else {
                    self.pop_mark(op, "POP")?;
                }
            }
            b'1' => {
                self.pop_mark(op, "POP_MARK")?;
            }
            b'2' => {
                let r = self.top(op, "DUP")?;
                self.push_ref(r, op)?;
            }
            b'N' => self.push(Obj::None, op)?,
            0x88 => self.push(Obj::Bool(true), op)?,
            0x89 => self.push(Obj::Bool(false), op)?,
            b'J' => {
                let v = i32::from_le_bytes(self.fixed(op, "BININT")?);
                self.push(Obj::Int(i64::from(v)), op)?
            }
            b'K' => {
                let [v] = self.fixed::<1>(op, "BININT1")?;
                self.push(Obj::Int(i64::from(v)), op)?
            }
            b'M' => {
                let v = u16::from_le_bytes(self.fixed(op, "BININT2")?);
                self.push(Obj::Int(i64::from(v)), op)?
            }
            0x8a => {
                let [n] = self.fixed::<1>(op, "LONG1")?;
                self.long(u64::from(n), op, "LONG1")?
            }
            0x8b => {
                let n = i32::from_le_bytes(self.fixed(op, "LONG4")?);
                let n = u64::try_from(n)
                    .map_err(|_| corrupt(op, format!("LONG4 declares a negative length {n}")))?;
                self.long(n, op, "LONG4")?
            }
            b'G' => {
                let v = f64::from_be_bytes(self.fixed(op, "BINFLOAT")?);
                self.push(Obj::Float(v), op)?
            }
            0x8c => {
                let [n] = self.fixed::<1>(op, "SHORT_BINUNICODE")?;
                self.str_arg(usize::from(n), op, "SHORT_BINUNICODE")?
            }
            b'X' => {
                let n = u32::from_le_bytes(self.fixed(op, "BINUNICODE")?);
                let n = self.length(u64::from(n), op, "BINUNICODE")?;
                self.str_arg(n, op, "BINUNICODE")?
            }
            0x8d => {
                let n = u64::from_le_bytes(self.fixed(op, "BINUNICODE8")?);
                let n = self.length(n, op, "BINUNICODE8")?;
                self.str_arg(n, op, "BINUNICODE8")?
            }
            b'C' => {
                let [n] = self.fixed::<1>(op, "SHORT_BINBYTES")?;
                self.bytes_arg(usize::from(n), op, "SHORT_BINBYTES")?
            }
            b'B' => {
                let n = u32::from_le_bytes(self.fixed(op, "BINBYTES")?);
                let n = self.length(u64::from(n), op, "BINBYTES")?;
                self.bytes_arg(n, op, "BINBYTES")?
            }
            0x8e => {
                let n = u64::from_le_bytes(self.fixed(op, "BINBYTES8")?);
                let n = self.length(n, op, "BINBYTES8")?;
                self.bytes_arg(n, op, "BINBYTES8")?
            }
            0x96 => {
                let n = u64::from_le_bytes(self.fixed(op, "BYTEARRAY8")?);
                let n = self.length(n, op, "BYTEARRAY8")?;
                self.bytes_arg(n, op, "BYTEARRAY8")?
            }
            0x98 => {
                // READONLY_BUFFER: a flag on a buffer; the data is the same.
                let r = self.top(op, "READONLY_BUFFER")?;
                if !matches!(self.obj(r), Obj::Bytes(_)) {
                    return Err(corrupt(
                        op,
                        format!("READONLY_BUFFER on a {}", self.obj(r).describe()),
                    ));
                }
            }
            b'}' => self.push(Obj::Dict(Vec::new()), op)?,
            b']' => self.push(Obj::List(Vec::new()), op)?,
            b')' => self.push(Obj::Tuple(Vec::new()), op)?,
            b't' => {
                let items = self.pop_mark(op, "TUPLE")?;
                self.new_sequence(items, true, op)?
            }
            b'l' => {
                let items = self.pop_mark(op, "LIST")?;
                self.new_sequence(items, false, op)?
            }
            0x85..=0x87 => {
                let n = usize::from(code - 0x84);
                if self.stack.len() < self.fence() + n {
                    return Err(corrupt(
                        op,
                        format!("TUPLE{n} needs {n} values above the last MARK"),
                    ));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.new_sequence(items, true, op)?
            }
            b'd' => {
                let items = self.pop_mark(op, "DICT")?;
                let d = self.alloc(Obj::Dict(Vec::new()), op)?;
                self.set_items(d, items, op, "DICT")?;
                self.push_ref(d, op)?
            }
            b'a' => {
                let v = self.pop(op, "APPEND")?;
                let list = self.top(op, "APPEND")?;
                self.append(list, vec![v], op, "APPEND")?
            }
            b'e' => {
                let items = self.pop_mark(op, "APPENDS")?;
                let list = self.top(op, "APPENDS")?;
                self.append(list, items, op, "APPENDS")?
            }
            b's' => {
                let v = self.pop(op, "SETITEM")?;
                let k = self.pop(op, "SETITEM")?;
                let d = self.top(op, "SETITEM")?;
                self.set_items(d, vec![k, v], op, "SETITEM")?
            }
            b'u' => {
                let items = self.pop_mark(op, "SETITEMS")?;
                let d = self.top(op, "SETITEMS")?;
                self.set_items(d, items, op, "SETITEMS")?
            }
            0x94 => {
                let key = u32::try_from(self.memo.len())
                    .map_err(|_| Error::at(Status::Limit, op, "memo is full"))?;
                self.memo_put(key, op)?
            }
            b'q' => {
                let [k] = self.fixed::<1>(op, "BINPUT")?;
                self.memo_put(u32::from(k), op)?
            }
            b'r' => {
                let k = u32::from_le_bytes(self.fixed(op, "LONG_BINPUT")?);
                self.memo_put(k, op)?
            }
            b'p' => {
                let k = self.decimal_line(op, "PUT")?;
                let k = u32::try_from(k)
                    .map_err(|_| corrupt(op, format!("PUT memo key {k} is out of range")))?;
                self.memo_put(k, op)?
            }
            b'h' => {
                let [k] = self.fixed::<1>(op, "BINGET")?;
                self.memo_get(u64::from(k), op)?
            }
            b'j' => {
                let k = u32::from_le_bytes(self.fixed(op, "LONG_BINGET")?);
                self.memo_get(u64::from(k), op)?
            }
            b'g' => {
                let k = self.decimal_line(op, "GET")?;
                self.memo_get(k, op)?
            }
            b'c' => {
                let module = self.line(op, "GLOBAL module name")?;
                let name = self.line(op, "GLOBAL name")?;
                self.global(module, name, op)?
            }
            0x93 => {
                let name = self.pop(op, "STACK_GLOBAL")?;
                let module = self.pop(op, "STACK_GLOBAL")?;
                let (Obj::Str(module), Obj::Str(name)) = (self.obj(module), self.obj(name)) else {
                    return Err(corrupt(
                        op,
                        format!(
                            "STACK_GLOBAL needs two str, found {} and {}",
                            self.obj(module).describe(),
                            self.obj(name).describe()
                        ),
                    ));
                };
                let (module, name) = (module.clone(), name.clone());
                self.global(&module, &name, op)?
            }
            b'R' => {
                let args = self.pop(op, "REDUCE")?;
                let f = self.pop(op, "REDUCE")?;
                let obj = self.reduce(f, args, op)?;
                self.push(obj, op)?
            }
            b'b' => {
                let state = self.pop(op, "BUILD")?;
                let target = self.top(op, "BUILD")?;
                self.build(target, state, op)?
            }
            _ => {
                return Err(corrupt(
                    op,
                    match refused_opcode(code) {
                        Some((name, why)) => {
                            format!("opcode {name} (0x{code:02x}) is refused: it {why}")
                        }
                        None => format!("unknown opcode 0x{code:02x}"),
                    },
                ))
            }
        }
        Ok(())
    }

    fn decimal_line(&mut self, op: u64, what: &str) -> Result<u64> {
        let text = self.line(op, what)?;
        if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(corrupt(
                op,
                format!("{what} argument {text:?} is not a memo index"),
            ));
        }
        text.parse()
            .map_err(|_| corrupt(op, format!("{what} argument {text:?} is not a memo index")))
    }

    fn new_sequence(&mut self, items: Vec<Ref>, tuple: bool, op: u64) -> Result<()> {
        self.budget.charge(items.len() * REF_COST, op)?;
        self.push(
            if tuple {
                Obj::Tuple(items)
            } else {
                Obj::List(items)
            },
            op,
        )
    }

    fn append(&mut self, list: Ref, items: Vec<Ref>, op: u64, name: &str) -> Result<()> {
        self.budget.charge(items.len() * REF_COST, op)?;
        let found = self.obj(list).describe();
        match &mut self.arena[list as usize].obj {
            Obj::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => Err(corrupt(op, format!("{name} to a {found}, not a list"))),
        }
    }

    fn set_items(&mut self, dict: Ref, items: Vec<Ref>, op: u64, name: &str) -> Result<()> {
        if items.len() % 2 != 0 {
            return Err(corrupt(
                op,
                format!(
                    "{name} with an odd number of values ({}): keys and values must pair up",
                    items.len()
                ),
            ));
        }
        self.budget.charge(items.len() * REF_COST, op)?;
        let found = self.obj(dict).describe();
        match &mut self.arena[dict as usize].obj {
            Obj::Dict(d) => {
                d.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                Ok(())
            }
            _ => Err(corrupt(op, format!("{name} on a {found}, not a dict"))),
        }
    }

    // ---- typed access to arguments ----

    fn tuple(&self, r: Ref, op: u64, what: &str) -> Result<Vec<Ref>> {
        match self.obj(r) {
            Obj::Tuple(t) => Ok(t.clone()),
            other => Err(corrupt(
                op,
                format!("{what} must be a tuple, found {}", other.describe()),
            )),
        }
    }

    fn args<const N: usize>(&self, r: Ref, op: u64, what: &str) -> Result<[Ref; N]> {
        let t = self.tuple(r, op, what)?;
        t.as_slice().try_into().map_err(|_| {
            corrupt(
                op,
                format!(
                    "{what} must be a tuple of {N}, found a tuple of {}",
                    t.len()
                ),
            )
        })
    }

    fn int(&self, r: Ref, op: u64, what: &str) -> Result<i64> {
        match self.obj(r) {
            Obj::Int(i) => Ok(*i),
            other => Err(corrupt(
                op,
                format!("{what} must be an int, found {}", other.describe()),
            )),
        }
    }

    fn boolean(&self, r: Ref, op: u64, what: &str) -> Result<bool> {
        match self.obj(r) {
            Obj::Bool(b) => Ok(*b),
            other => Err(corrupt(
                op,
                format!("{what} must be a bool, found {}", other.describe()),
            )),
        }
    }

    fn string(&self, r: Ref, op: u64, what: &str) -> Result<&str> {
        match self.obj(r) {
            Obj::Str(s) => Ok(s),
            other => Err(corrupt(
                op,
                format!("{what} must be a str, found {}", other.describe()),
            )),
        }
    }

    fn bytes(&self, r: Ref, op: u64, what: &str) -> Result<&[u8]> {
        match self.obj(r) {
            Obj::Bytes(b) => Ok(b),
            other => Err(corrupt(
                op,
                format!("{what} must be bytes, found {}", other.describe()),
            )),
        }
    }

    fn none(&self, r: Ref, op: u64, what: &str) -> Result<()> {
        match self.obj(r) {
            Obj::None => Ok(()),
            other => Err(corrupt(
                op,
                format!(
                    "{what} must be None (structured and sub-array dtypes are not supported), found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// A dtype whose BUILD state has been applied.
    fn dtype(&self, r: Ref, op: u64, what: &str) -> Result<DTypeSpec> {
        match self.obj(r) {
            Obj::DType { spec, built: true } => Ok(*spec),
            Obj::DType { built: false, .. } => Err(corrupt(
                op,
                format!(
                    "{what}: the dtype made at offset {} is used before its BUILD state",
                    self.arena[r as usize].offset
                ),
            )),
            other => Err(corrupt(
                op,
                format!("{what} must be a numpy dtype, found {}", other.describe()),
            )),
        }
    }

    fn shape(&self, r: Ref, op: u64, what: &str) -> Result<(Vec<usize>, usize)> {
        let dims = self
            .tuple(r, op, what)?
            .iter()
            .map(|&d| self.int(d, op, "an array dimension"))
            .collect::<Result<Vec<i64>>>()?;
        numpy::shape(&dims).map_err(|e| Error::at(e.status, op, e.message))
    }

    // ---- the allowed callables ----

    fn reduce(&mut self, f: Ref, args: Ref, op: u64) -> Result<Obj> {
        let callable = match self.obj(f) {
            Obj::Callable(c) => *c,
            other => {
                return Err(corrupt(
                    op,
                    format!(
                        "REDUCE calls a {}: only the allowed numpy reconstructors can be called",
                        other.describe()
                    ),
                ))
            }
        };
        let at = |e: Error| Error::at(e.status, op, e.message);
        match callable {
            Callable::Reconstruct => {
                let [class, shape, _typecode] = self.args(args, op, "_reconstruct arguments")?;
                if !matches!(self.obj(class), Obj::Callable(Callable::NdarrayClass)) {
                    return Err(corrupt(
                        op,
                        format!(
                            "_reconstruct of a {}: only numpy.ndarray is rebuilt",
                            self.obj(class).describe()
                        ),
                    ));
                }
                self.tuple(shape, op, "_reconstruct shape")?;
                Ok(Obj::EmptyArray)
            }
            Callable::DtypeClass => {
                let t = self.tuple(args, op, "numpy.dtype arguments")?;
                let Some((&name, flags)) = t.split_first().filter(|(_, f)| f.len() <= 2) else {
                    return Err(corrupt(
                        op,
                        format!(
                            "numpy.dtype takes (name, align, copy), found a tuple of {}",
                            t.len()
                        ),
                    ));
                };
                for &flag in flags {
                    self.boolean(flag, op, "numpy.dtype align/copy flag")?;
                }
                let spec =
                    DTypeSpec::from_name(self.string(name, op, "numpy.dtype name")?).map_err(at)?;
                Ok(Obj::DType { spec, built: false })
            }
            Callable::Scalar => {
                let [dtype, data] = self.args(args, op, "numpy scalar arguments")?;
                let spec = self.dtype(dtype, op, "numpy scalar")?;
                let value =
                    numpy::scalar(&spec, self.bytes(data, op, "numpy scalar data")?).map_err(at)?;
                Ok(match value {
                    Value::Bool(b) => Obj::Bool(b),
                    Value::Int(i) => Obj::Int(i),
                    Value::Float(x) => Obj::Float(x),
                    Value::Str(ref s) => {
                        self.budget.charge(s.len(), op)?;
                        Obj::Str(s.clone())
                    }
                    _ => unreachable!("numpy::scalar returns scalars only"),
                })
            }
            Callable::FromBuffer => {
                let [buf, dtype, shape, order] = self.args(args, op, "_frombuffer arguments")?;
                let spec = self.dtype(dtype, op, "_frombuffer")?;
                let (shape, count) = self.shape(shape, op, "_frombuffer shape")?;
                let fortran = match self.string(order, op, "_frombuffer order")? {
                    "C" => false,
                    "F" => true,
                    o => {
                        return Err(corrupt(
                            op,
                            format!("_frombuffer order {o:?} (expected 'C' or 'F')"),
                        ))
                    }
                };
                self.budget.charge(numpy::decoded_size(&spec, &shape), op)?;
                let raw = self.bytes(buf, op, "_frombuffer buffer")?;
                let data = numpy::decode(&spec, &shape, count, fortran, raw).map_err(at)?;
                Ok(array(spec, shape, data))
            }
            Callable::CodecsEncode => {
                let [text, encoding] = self.args(args, op, "_codecs.encode arguments")?;
                let encoding = self.string(encoding, op, "_codecs.encode encoding")?;
                if !matches!(encoding, "latin1" | "latin-1") {
                    return Err(corrupt(
                        op,
                        format!("_codecs.encode with encoding {encoding:?} (only latin1 is how a pickle writes bytes)"),
                    ));
                }
                let text = self.string(text, op, "_codecs.encode text")?;
                let bytes = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)))
                    .collect::<std::result::Result<Vec<u8>, _>>()
                    .map_err(|_| corrupt(op, "_codecs.encode text has a character above U+00FF"))?;
                self.budget.charge(bytes.len(), op)?;
                Ok(Obj::Bytes(bytes))
            }
            Callable::BytesClass => {
                if !self.tuple(args, op, "bytes arguments")?.is_empty() {
                    return Err(corrupt(
                        op,
                        "bytes(...) is only accepted without arguments (an empty bytes)",
                    ));
                }
                Ok(Obj::Bytes(Vec::new()))
            }
            Callable::NdarrayClass => Err(corrupt(
                op,
                "numpy.ndarray is only accepted as the class argument of _reconstruct",
            )),
        }
    }

    fn build(&mut self, target: Ref, state: Ref, op: u64) -> Result<()> {
        let new = match self.obj(target) {
            Obj::DType { spec, built: false } => {
                let mut spec = *spec;
                self.dtype_state(&mut spec, state, op)?;
                Obj::DType { spec, built: true }
            }
            Obj::EmptyArray => self.array_state(state, op)?,
            other => {
                return Err(corrupt(
                    op,
                    format!(
                        "BUILD on a {}: only a new numpy array or dtype takes a state",
                        other.describe()
                    ),
                ))
            }
        };
        self.arena[target as usize].obj = new;
        Ok(())
    }

    /// `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`.
    fn dtype_state(&self, spec: &mut DTypeSpec, state: Ref, op: u64) -> Result<()> {
        let t = self.tuple(state, op, "dtype state")?;
        let version = match t.first() {
            Some(&v) => self.int(v, op, "dtype state version")?,
            None => 0,
        };
        let expected_len = match version {
            3 => 8,
            4 => 9,
            _ => {
                return Err(corrupt(
                    op,
                    format!("dtype state version {version} is not supported (3 or 4)"),
                ))
            }
        };
        if t.len() != expected_len {
            return Err(corrupt(
                op,
                format!(
                    "dtype state version {version} has {} fields, expected {expected_len}",
                    t.len()
                ),
            ));
        }
        let byteorder = self.string(t[1], op, "dtype byte order")?;
        self.none(t[2], op, "dtype subarray")?;
        self.none(t[3], op, "dtype field names")?;
        self.none(t[4], op, "dtype fields")?;
        let elsize = self.int(t[5], op, "dtype elsize")?;
        self.int(t[6], op, "dtype alignment")?;
        self.int(t[7], op, "dtype flags")?;
        if version == 4 {
            self.none(t[8], op, "dtype metadata")?;
        }
        spec.apply_state(byteorder, elsize)
            .map_err(|e| Error::at(e.status, op, e.message))
    }

    /// `(version, shape, dtype, is_fortran, data)`, data being bytes, or a list for object
    /// arrays.
    fn array_state(&mut self, state: Ref, op: u64) -> Result<Obj> {
        let t = self.tuple(state, op, "array state")?;
        let fields: &[Ref] = match t.len() {
            5 => {
                let v = self.int(t[0], op, "array state version")?;
                if v != 1 {
                    return Err(corrupt(op, format!("array state version {v} (expected 1)")));
                }
                &t[1..]
            }
            4 => &t[..],
            n => {
                return Err(corrupt(
                    op,
                    format!("array state is a tuple of {n}, expected (version, shape, dtype, is_fortran, data)"),
                ))
            }
        };
        let (shape, count) = self.shape(fields[0], op, "array shape")?;
        let spec = self.dtype(fields[1], op, "array state")?;
        let fortran = self.boolean(fields[2], op, "array is_fortran flag")?;
        self.budget.charge(numpy::decoded_size(&spec, &shape), op)?;
        let data = if let DType::Object = spec.kind {
            self.object_elements(fields[3], count, op)?
        } else {
            let raw = self.bytes(fields[3], op, "array data")?;
            numpy::decode(&spec, &shape, count, fortran, raw)
                .map_err(|e| Error::at(e.status, op, e.message))?
        };
        Ok(array(spec, shape, data))
    }

    /// The elements of an object array: a list of `count` str (C order, as numpy writes it).
    fn object_elements(&mut self, list: Ref, count: usize, op: u64) -> Result<ArrayData> {
        let Obj::List(items) = self.obj(list) else {
            return Err(corrupt(
                op,
                format!(
                    "object array data must be a list, found {}",
                    self.obj(list).describe()
                ),
            ));
        };
        if items.len() != count {
            return Err(corrupt(
                op,
                format!(
                    "object array of {count} elements has a data list of {}",
                    items.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(count);
        let mut bytes = 0usize;
        for (i, &r) in items.iter().enumerate() {
            match self.obj(r) {
                Obj::Str(s) => {
                    bytes += s.len();
                    out.push(s.clone());
                }
                other => {
                    return Err(corrupt(
                        op,
                        format!(
                            "object array element {i} is a {}: only arrays of str are accepted",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        self.budget.charge(bytes, op)?;
        Ok(ArrayData::Str(out))
    }
}

fn array(spec: DTypeSpec, shape: Vec<usize>, data: ArrayData) -> Obj {
    Obj::Array(Box::new(NdArray {
        dtype: spec.kind,
        shape,
        data,
    }))
}

/// A container being copied out of the arena: its children so far.
struct Frame {
    src: Ref,
    items: Vec<Value>,
    next: usize,
}

fn child_count(obj: &Obj) -> usize {
    match obj {
        Obj::List(l) | Obj::Tuple(l) => l.len(),
        Obj::Dict(d) => 2 * d.len(),
        _ => 0,
    }
}

fn child(obj: &Obj, i: usize) -> Ref {
    match obj {
        Obj::List(l) | Obj::Tuple(l) => l[i],
        Obj::Dict(d) => {
            let (k, v) = d[i / 2];
            if i % 2 == 0 {
                k
            } else {
                v
            }
        }
        _ => unreachable!("only containers have children"),
    }
}

/// A non-container object as a value.
fn scalar_value(slot: &Slot, budget: &mut Budget) -> Result<Value> {
    Ok(match &slot.obj {
        Obj::None => Value::None,
        Obj::Bool(b) => Value::Bool(*b),
        Obj::Int(i) => Value::Int(*i),
        Obj::Float(x) => Value::Float(*x),
        Obj::Str(s) => {
            budget.charge(s.len(), slot.offset)?;
            Value::Str(s.clone())
        }
        Obj::Bytes(b) => {
            budget.charge(b.len(), slot.offset)?;
            Value::Bytes(b.clone())
        }
        Obj::Array(a) => {
            let bytes = match &a.data {
                ArrayData::Bool(v) => v.len(),
                ArrayData::Int(v) => 8 * v.len(),
                ArrayData::Float(v) => 8 * v.len(),
                ArrayData::Str(v) => v
                    .iter()
                    .map(|s| s.len() + std::mem::size_of::<String>())
                    .sum(),
            };
            budget.charge(bytes, slot.offset)?;
            Value::NdArray((**a).clone())
        }
        Obj::Callable(c) => {
            return Err(corrupt(
                slot.offset,
                format!("{} is a function, not a value a model can hold", c.name()),
            ))
        }
        Obj::DType { .. } => {
            return Err(corrupt(
                slot.offset,
                "a bare numpy dtype is not a value a model holds",
            ))
        }
        Obj::EmptyArray => {
            return Err(corrupt(
                slot.offset,
                "this numpy array never received its data (no BUILD state)",
            ))
        }
        Obj::List(_) | Obj::Tuple(_) | Obj::Dict(_) => {
            unreachable!("containers are copied by materialize")
        }
    })
}

/// Copy the object graph under `root` into a value tree, iteratively: at most [`MAX_NESTING`]
/// containers deep (which also stops reference cycles) and within the memory budget (which
/// stops a small pickle that references one object exponentially many times).
fn materialize(arena: &[Slot], budget: &mut Budget, root: Ref) -> Result<Value> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut next = root;
    loop {
        let slot = &arena[next as usize];
        budget.charge(VALUE_COST, slot.offset)?;
        let mut done = if matches!(slot.obj, Obj::List(_) | Obj::Tuple(_) | Obj::Dict(_)) {
            if frames.len() >= MAX_NESTING {
                return Err(Error::at(
                    Status::Limit,
                    slot.offset,
                    format!(
                        "values nested deeper than {MAX_NESTING} levels (or a container that contains itself)"
                    ),
                ));
            }
            let n = child_count(&slot.obj);
            budget.charge(n * VALUE_COST, slot.offset)?;
            frames.push(Frame {
                src: next,
                items: Vec::with_capacity(n),
                next: 0,
            });
            None
        } else {
            Some(scalar_value(slot, budget)?)
        };
        // Hand finished values to their parents until one needs another child.
        loop {
            let Some(top) = frames.last_mut() else {
                return Ok(done.unwrap_or(Value::None));
            };
            if let Some(v) = done.take() {
                top.items.push(v);
            }
            let src = &arena[top.src as usize].obj;
            if top.next < child_count(src) {
                next = child(src, top.next);
                top.next += 1;
                break;
            }
            let f = frames.pop().unwrap_or_else(|| unreachable!());
            done = Some(match &arena[f.src as usize].obj {
                Obj::List(_) => Value::List(f.items),
                Obj::Tuple(_) => Value::Tuple(f.items),
                _ => {
                    let mut it = f.items.into_iter();
                    let mut pairs = Vec::with_capacity(it.len() / 2);
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Value::Dict(pairs)
                }
            });
        }
    }
}
