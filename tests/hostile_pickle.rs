//! Hostile pickles: code-execution payloads, refused opcodes, deep nesting, huge declared
//! lengths, memo abuse, every truncation of real pickles, random and mutated bytes, numpy
//! arrays that lie about their size, unsupported dtypes, and valid pickles of the wrong
//! structure. Each must be refused with a specific status, offset and message, and never
//! panic, hang or allocate what it declares.
//!
//! | input | status | offset |
//! |---|---|---|
//! | `os.system` / `posix.system` / `builtins.eval` / `subprocess.Popen` / ... via GLOBAL or STACK_GLOBAL | CORRUPT | the GLOBAL opcode |
//! | REDUCE of a non-callable, BUILD on a dict, `_reconstruct` of a non-ndarray | CORRUPT | the opcode |
//! | INST, OBJ, NEWOBJ(_EX), PERSID, BINPERSID, EXT1/2/4, sets, NEXT_BUFFER, text opcodes, unknown | CORRUPT | the opcode |
//! | 10^6-deep lists, dicts, tuples (TUPLE1 chains), MARKs; a list containing itself | LIMIT | the container / MARK |
//! | BINUNICODE8 / BINBYTES8 / BYTEARRAY8 of 2^40, BINUNICODE of 2^32-1 | LIMIT | the opcode |
//! | a length within the cap but past the end | TRUNCATED | the opcode |
//! | LONG4 of 2^31-1 bytes / negative | LIMIT / CORRUPT | the opcode |
//! | GET of a missing key, huge memo index, 2^60-fold memo expansion | CORRUPT / LIMIT | the opcode |
//! | every prefix of four real pickles | TRUNCATED | <= prefix length |
//! | random bytes, mutated pickles (seeded) | any error, no panic | <= input length |
//! | array buffer length != shape x itemsize, negative / huge shapes, bad dtypes | CORRUPT / LIMIT | the REDUCE / BUILD |
//! | no PROTO, protocol 6, trailing bytes, STOP with two values, stack underflow | BAD_MAGIC / VERSION / TRAILING_BYTES / CORRUPT | the opcode |
//! | valid pickles of the wrong structure | a CompileError naming the JSON path | - |

mod common;
use common::*;
use serde_json::{json, Value as Json};
use thetatree::compile::{compile_pickle, CompileError, CompileOptions};
use thetatree::pickle::{self, MAX_BLOB_LEN, MAX_NESTING};
use thetatree::{Error, Status};

// ---- building pickles by hand ----

fn s(x: &str) -> Vec<u8> {
    assert!(x.len() < 256);
    [&[0x8c, x.len() as u8][..], x.as_bytes()].concat()
}

fn proto(v: u8) -> Vec<u8> {
    vec![0x80, v]
}

fn stack_global(module: &str, name: &str) -> Vec<u8> {
    [s(module), s(name), vec![0x93]].concat()
}

fn binint(v: i32) -> Vec<u8> {
    [&[b'J'][..], &v.to_le_bytes()].concat()
}

fn bytearray8(b: &[u8]) -> Vec<u8> {
    [&[0x96][..], &(b.len() as u64).to_le_bytes(), b].concat()
}

/// `numpy.dtype(name, False, True)` with its BUILD state.
fn dtype_with(name: &str, order: &str, elsize: i32, build: bool) -> Vec<u8> {
    let mut p = [
        stack_global("numpy", "dtype"),
        s(name),
        vec![0x89, 0x88, 0x87, b'R'],
    ]
    .concat();
    if build {
        p.extend([b'(', b'K', 3]);
        p.extend(s(order));
        p.extend(b"NNN");
        p.extend(binint(elsize));
        p.extend(binint(-1));
        p.extend([b'K', 0, b't', b'b']);
    }
    p
}

fn dtype(name: &str, order: &str) -> Vec<u8> {
    dtype_with(name, order, -1, true)
}

fn shape(dims: &[i64]) -> Vec<u8> {
    let mut p = vec![b'('];
    for &d in dims {
        p.push(0x8a);
        p.push(8);
        p.extend(d.to_le_bytes());
    }
    p.push(b't');
    p
}

/// `numpy._core.numeric._frombuffer(buf, dtype, shape, order)`.
fn frombuffer(buf: &[u8], dtype: &[u8], dims: &[i64], order: &str) -> Vec<u8> {
    [
        stack_global("numpy._core.numeric", "_frombuffer"),
        vec![b'('],
        bytearray8(buf),
        dtype.to_vec(),
        shape(dims),
        s(order),
        vec![b't', b'R'],
    ]
    .concat()
}

fn pickle_of(body: &[u8]) -> Vec<u8> {
    [&proto(5)[..], body, b"."].concat()
}

/// A JSON value as a protocol-4 pickle of the same Python value (dicts, lists, str, int,
/// float, bool, None), like `pickle.dumps(json.loads(text))`.
fn dumps(v: &Json) -> Vec<u8> {
    fn write(v: &Json, out: &mut Vec<u8>) {
        match v {
            Json::Null => out.push(b'N'),
            Json::Bool(b) => out.push(if *b { 0x88 } else { 0x89 }),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.extend([0x8a, 8]);
                    out.extend(i.to_le_bytes());
                } else {
                    out.push(b'G');
                    out.extend(n.as_f64().unwrap().to_be_bytes());
                }
            }
            Json::String(x) => {
                out.push(b'X');
                out.extend((x.len() as u32).to_le_bytes());
                out.extend(x.as_bytes());
            }
            Json::Array(a) => {
                out.extend([b']', b'(']);
                a.iter().for_each(|x| write(x, out));
                out.push(b'e');
            }
            Json::Object(o) => {
                out.extend([b'}', b'(']);
                for (k, x) in o {
                    write(&Json::String(k.clone()), out);
                    write(x, out);
                }
                out.push(b'u');
            }
        }
    }
    let mut out = proto(4);
    write(v, &mut out);
    out.push(b'.');
    out
}

// ---- assertions ----

fn refused(bytes: &[u8]) -> Error {
    let e = pickle::loads(bytes).expect_err("hostile pickle was accepted");
    assert!(!e.message.is_empty());
    assert!(
        e.byte_offset <= bytes.len() as u64,
        "offset {} past the end ({})",
        e.byte_offset,
        bytes.len()
    );
    // The compiler reports the same error.
    let c = compile_pickle(bytes, &CompileOptions::default()).unwrap_err();
    assert!(c.message.contains(&e.message), "{c} vs {e}");
    e
}

fn assert_refused(bytes: &[u8], status: Status, offset: u64, text: &str) {
    let e = refused(bytes);
    assert_eq!(
        (e.status, e.byte_offset),
        (status, offset),
        "expected {status:?} at {offset}, got {e} at {}",
        e.byte_offset
    );
    assert!(e.message.contains(text), "{text:?} not in {:?}", e.message);
}

fn reference_pickle(name: &str) -> Vec<u8> {
    std::fs::read(reference_dir().join(format!("models/{name}/model.pkl"))).unwrap()
}

fn persistence(name: &str) -> Json {
    serde_json::from_str(&read(
        &reference_dir().join(format!("models/{name}/persistence_tree.json")),
    ))
    .unwrap()
}

// ---- code execution ----

#[test]
fn code_execution_payloads_are_refused_at_their_global() {
    // What `pickle.dumps` writes for an object whose __reduce__ returns (os.system, ('true',)).
    let posix = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94.";
    assert_refused(
        posix,
        Status::Corrupt,
        28,
        "global posix.system is not allowed",
    );
    let posix2 = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.";
    assert_refused(
        posix2,
        Status::Corrupt,
        2,
        "global posix.system is not allowed",
    );
    for (module, name) in [
        ("os", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("__builtin__", "eval"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("numpy", "load"),
        ("numpy.core.multiarray", "_fastCopyAndTranspose"),
        ("numpy.ma.core", "_mareconstruct"),
        ("copyreg", "_reconstructor"),
        ("builtins", "bytearray"),
        ("numpy", "ndarray.__new__"),
    ] {
        let p = pickle_of(&[stack_global(module, name), s("true"), vec![0x85, b'R']].concat());
        let at = (2 + s(module).len() + s(name).len()) as u64;
        assert_refused(
            &p,
            Status::Corrupt,
            at,
            &format!("global {module}.{name} is not allowed"),
        );
        let p = [
            &proto(2)[..],
            format!("c{module}\n{name}\n").as_bytes(),
            b"N\x85R.",
        ]
        .concat();
        assert_refused(
            &p,
            Status::Corrupt,
            2,
            &format!("global {module}.{name} is not allowed"),
        );
    }
    // A global name line without its newline, or absurdly long.
    assert_refused(
        b"\x80\x02cos",
        Status::Truncated,
        2,
        "no terminating newline",
    );
    let long = [&b"\x80\x02c"[..], &[b'a'; 300], b"\nb\n."].concat();
    assert_refused(&long, Status::Limit, 2, "longer than 256");
}

#[test]
fn allowed_callables_cannot_be_misused() {
    // REDUCE of something that is not a callable.
    assert_refused(
        &pickle_of(&[s("x"), vec![b')', b'R']].concat()),
        Status::Corrupt,
        6,
        "REDUCE calls a str",
    );
    // numpy.ndarray called directly, _reconstruct of another class, _codecs.encode with utf-7.
    let nd = stack_global("numpy", "ndarray");
    assert_refused(
        &pickle_of(&[nd.clone(), vec![b')', b'R']].concat()),
        Status::Corrupt,
        20,
        "only accepted as the class argument",
    );
    let rec = [
        stack_global("numpy._core.multiarray", "_reconstruct"),
        stack_global("numpy", "dtype"),
        vec![b'K', 0, 0x85],
        s("b"),
        vec![0x87, b'R'],
    ]
    .concat();
    let e = refused(&pickle_of(&rec));
    assert!(e.message.contains("only numpy.ndarray is rebuilt"), "{e}");
    let enc = [
        stack_global("_codecs", "encode"),
        s("x"),
        s("utf-7"),
        vec![0x86, b'R'],
    ]
    .concat();
    assert!(refused(&pickle_of(&enc)).message.contains("only latin1"));
    let enc = [
        stack_global("_codecs", "encode"),
        vec![b'X', 2, 0, 0, 0, 0xc4, 0x80],
        s("latin1"),
        vec![0x86, b'R'],
    ]
    .concat();
    assert!(refused(&pickle_of(&enc)).message.contains("above U+00FF"));
    let b = [stack_global("builtins", "bytes"), s("x"), vec![0x85, b'R']].concat();
    assert!(refused(&pickle_of(&b))
        .message
        .contains("without arguments"));
    // BUILD on a dict (the classic __setstate__ / __dict__.update vector) and on a built dtype.
    assert_refused(&pickle_of(b"}}b"), Status::Corrupt, 4, "BUILD on a dict");
    let twice = [dtype("f8", "<"), vec![b')', b'b']].concat();
    assert!(refused(&pickle_of(&twice))
        .message
        .contains("BUILD on a numpy dtype"));
    // A callable or a dtype is not a value a model holds.
    assert!(refused(&pickle_of(&stack_global("numpy", "dtype")))
        .message
        .contains("is a function"));
    assert!(refused(&pickle_of(&dtype("f8", "<")))
        .message
        .contains("bare numpy dtype"));
    // STACK_GLOBAL of non-strings.
    assert!(refused(&pickle_of(b"K\x01K\x02\x93"))
        .message
        .contains("STACK_GLOBAL needs two str"));
}

#[test]
fn refused_opcodes_are_named() {
    for (op, name) in [
        (b'i', "INST"),
        (b'o', "OBJ"),
        (0x81, "NEWOBJ"),
        (0x92, "NEWOBJ_EX"),
        (b'P', "PERSID"),
        (b'Q', "BINPERSID"),
        (0x82, "EXT1"),
        (0x83, "EXT2"),
        (0x84, "EXT4"),
        (0x8f, "EMPTY_SET"),
        (0x90, "ADDITEMS"),
        (0x91, "FROZENSET"),
        (0x97, "NEXT_BUFFER"),
        (b'I', "INT"),
        (b'L', "LONG"),
        (b'F', "FLOAT"),
        (b'S', "STRING"),
        (b'T', "BINSTRING"),
        (b'U', "SHORT_BINSTRING"),
        (b'V', "UNICODE"),
    ] {
        let p = pickle_of(&[b'N', op]);
        assert_refused(
            &p,
            Status::Corrupt,
            3,
            &format!("opcode {name} (0x{op:02x}) is refused"),
        );
    }
    for op in [0x00, b'z', 0x99, 0xff] {
        assert_refused(
            &pickle_of(&[op]),
            Status::Corrupt,
            2,
            &format!("unknown opcode 0x{op:02x}"),
        );
    }
}

// ---- framing, protocol, stack ----

#[test]
fn protocol_framing_and_stack_errors() {
    assert_refused(b"", Status::Truncated, 0, "empty input");
    assert_refused(b"{\"a\": 1}", Status::BadMagic, 0, "first byte is 0x7b");
    assert_refused(b"N.", Status::BadMagic, 0, "not PROTO");
    assert_refused(b"\x80\x06N.", Status::Version, 0, "protocol 6");
    assert_refused(b"\x80\x01N.", Status::Version, 0, "protocol 1");
    assert_refused(
        b"\x80\x04N.junk",
        Status::TrailingBytes,
        4,
        "4 bytes after the STOP",
    );
    assert_refused(b"\x80\x04NN.", Status::Corrupt, 4, "STOP with 2 values");
    assert_refused(b"\x80\x04(N.", Status::Corrupt, 4, "1 open MARKs");
    assert_refused(b"\x80\x04.", Status::Corrupt, 2, "STOP with 0 values");
    assert_refused(
        b"\x80\x04N\x80\x04.",
        Status::Corrupt,
        3,
        "PROTO after the start",
    );
    assert_refused(
        b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.",
        Status::Truncated,
        2,
        "FRAME declares 255 bytes",
    );
    assert_refused(b"\x80\x04N", Status::Truncated, 3, "ends before its STOP");
    assert_refused(b"\x80\x04a.", Status::Corrupt, 2, "APPEND needs a value");
    assert_refused(b"\x80\x04]N(a.", Status::Corrupt, 5, "APPEND needs a value");
    assert_refused(
        b"\x80\x04NNa.",
        Status::Corrupt,
        4,
        "APPEND to a None, not a list",
    );
    assert_refused(
        b"\x80\x04]NNs.",
        Status::Corrupt,
        5,
        "SETITEM on a list of 0, not a dict",
    );
    assert_refused(b"\x80\x04}(Nu.", Status::Corrupt, 5, "odd number of values");
    assert_refused(b"\x80\x04(Nd0N.", Status::Corrupt, 4, "odd number");
    assert_refused(b"\x80\x04e.", Status::Corrupt, 2, "APPENDS without a MARK");
    assert_refused(b"\x80\x041.", Status::Corrupt, 2, "POP_MARK without a MARK");
    assert_refused(b"\x80\x040.", Status::Corrupt, 2, "POP without a MARK");
    assert_refused(
        b"\x80\x04N\x86.",
        Status::Corrupt,
        3,
        "TUPLE2 needs 2 values",
    );
    assert_refused(
        b"\x80\x04(N\x86.",
        Status::Corrupt,
        4,
        "TUPLE2 needs 2 values",
    );
    assert_refused(
        b"\x80\x04\x98.",
        Status::Corrupt,
        2,
        "READONLY_BUFFER needs a value",
    );
    assert_refused(
        b"\x80\x04N\x98.",
        Status::Corrupt,
        3,
        "READONLY_BUFFER on a None",
    );
    assert_refused(
        b"\x80\x04\x8c\x02\xff\xfe.",
        Status::Corrupt,
        2,
        "not valid UTF-8",
    );
    // Accepted: POP, POP_MARK, DUP, READONLY_BUFFER on bytes, memo at a huge index.
    assert_eq!(
        pickle::loads(b"\x80\x04NK\x010.").unwrap(),
        pickle::Value::None
    );
    assert_eq!(
        pickle::loads(b"\x80\x04N(K\x011.").unwrap(),
        pickle::Value::None
    );
    assert_eq!(
        pickle::loads(b"\x80\x04K\x012\x86.").unwrap(),
        pickle::Value::Tuple(vec![pickle::Value::Int(1), pickle::Value::Int(1)])
    );
    assert_eq!(
        pickle::loads(b"\x80\x05C\x01x\x98.").unwrap(),
        pickle::Value::Bytes(b"x".to_vec())
    );
    assert_eq!(
        pickle::loads(b"\x80\x04K\x07r\xff\xff\xff\xff0j\xff\xff\xff\xff.").unwrap(),
        pickle::Value::Int(7)
    );
    assert_eq!(
        pickle::loads(b"\x80\x02K\x07p12\n0g12\n.").unwrap(),
        pickle::Value::Int(7)
    );
}

// ---- nesting ----

fn deep(open: &[u8], close: &[u8], n: usize) -> Vec<u8> {
    let mut p = proto(4);
    p.extend(open.repeat(n));
    p.extend(close.repeat(n));
    p.push(b'.');
    p
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_million_levels_of_nesting_are_refused_without_recursion() {
    const N: usize = 1_000_000;
    // Lists: N empty lists, then N-1 APPENDs: each into the one below.
    let mut lists = proto(4);
    lists.extend([b']'].repeat(N));
    lists.extend([b'a'].repeat(N - 1));
    lists.push(b'.');
    let e = refused(&lists);
    assert_eq!(e.status, Status::Limit, "{e}");
    assert!(
        e.message
            .contains(&format!("nested deeper than {MAX_NESTING}")),
        "{e}"
    );
    // Dicts: {"k": {"k": ...}} via SETITEM.
    let mut dicts = proto(4);
    for _ in 0..N {
        dicts.extend([b'}']);
        dicts.extend(s("k"));
    }
    dicts.push(b'N');
    dicts.extend([b's'].repeat(N));
    dicts.push(b'.');
    assert_eq!(refused(&dicts).status, Status::Limit);
    // Tuples: TUPLE1 of TUPLE1 of ... (no MARK, the stack stays one deep).
    let mut tuples = proto(4);
    tuples.push(b'N');
    tuples.extend([0x85].repeat(N));
    tuples.push(b'.');
    let e = refused(&tuples);
    assert_eq!(e.status, Status::Limit, "{e}");
    // The same through the memo: each list appended to a fresh one fetched back.
    let mut memo = proto(4);
    memo.extend(b"]\x94");
    for _ in 0..N / 10 {
        memo.extend(b"]\x94h\x00a0");
    }
    memo.push(b'.');
    assert!(
        pickle::loads(&memo).is_ok(),
        "a flat list of 100k empty lists is fine"
    );
    // MARKs: a million nested marks, refused at the first one past the cap.
    let e = refused(&deep(b"(", b"t", N));
    assert_eq!(
        (e.status, e.byte_offset),
        (Status::Limit, 2 + MAX_NESTING as u64),
        "{e}"
    );
    // Nested (( ... )) tuples just within the MARK cap still nest too deep as values? No:
    // MAX_NESTING marks make MAX_NESTING tuples, which is exactly the value cap.
    let ok = deep(b"(", b"t", MAX_NESTING);
    assert!(pickle::loads(&ok).is_ok());
    let mut lists = proto(4);
    lists.extend([b']'].repeat(MAX_NESTING + 1));
    lists.extend([b'a'].repeat(MAX_NESTING));
    lists.push(b'.');
    let e = refused(&lists);
    assert_eq!(e.status, Status::Limit);
    // A list that contains itself.
    let e = refused(b"\x80\x04]\x94h\x00a.");
    assert_eq!(e.status, Status::Limit);
    assert!(e.message.contains("contains itself"), "{e}");
    // The stack cap: a million and more values in one MARK.
    let mut wide = proto(4);
    wide.push(b'(');
    wide.extend([b'N'].repeat((1 << 20) + 1));
    wide.extend(b"l.");
    let e = refused(&wide);
    assert_eq!(
        (e.status, e.byte_offset),
        (Status::Limit, 3 + (1 << 20)),
        "{e}"
    );
}

// ---- declared lengths ----

#[test]
fn huge_declared_lengths_fail_at_their_offset_without_allocating() {
    let huge = 1u64 << 40;
    for (op, name) in [
        (0x8d, "BINUNICODE8"),
        (0x8e, "BINBYTES8"),
        (0x96, "BYTEARRAY8"),
    ] {
        // 20 KB of padding first, so that the length is the only thing wrong.
        let mut p = proto(5);
        p.extend([b'N', b'0'].repeat(10_000));
        let at = p.len() as u64;
        p.push(op);
        p.extend(huge.to_le_bytes());
        p.extend(b"abc.");
        assert_refused(
            &p,
            Status::Limit,
            at,
            &format!("{name} declares {huge} bytes, above the cap of {MAX_BLOB_LEN}"),
        );
        // Within the cap but past the end: truncated.
        let mut p = proto(5);
        p.push(op);
        p.extend(1000u64.to_le_bytes());
        p.extend(b"abc.");
        assert_refused(
            &p,
            Status::Truncated,
            2,
            &format!("{name} declares 1000 bytes, but only 4 remain"),
        );
    }
    for (op, name) in [(b'X', "BINUNICODE"), (b'B', "BINBYTES")] {
        let p = [&proto(4)[..], &[op], &u32::MAX.to_le_bytes(), b"."].concat();
        assert_refused(
            &p,
            Status::Limit,
            2,
            &format!("{name} declares 4294967295 bytes"),
        );
    }
    assert_refused(
        b"\x80\x04\x8c\x05ab.",
        Status::Truncated,
        2,
        "SHORT_BINUNICODE needs 5 bytes",
    );
    assert_refused(
        b"\x80\x04C\x09ab.",
        Status::Truncated,
        2,
        "SHORT_BINBYTES needs 9 bytes",
    );
    // LONG4 with a length of 2^31 - 1 and with a negative one (2^31 as i32); LONG1 of 9 bytes.
    let p = [&proto(4)[..], &[0x8b], &i32::MAX.to_le_bytes(), b"."].concat();
    assert_refused(
        &p,
        Status::Limit,
        2,
        "LONG4 of 2147483647 bytes: integers wider than 64 bits",
    );
    let p = [&proto(4)[..], &[0x8b], &(1u32 << 31).to_le_bytes(), b"."].concat();
    assert_refused(
        &p,
        Status::Corrupt,
        2,
        "LONG4 declares a negative length -2147483648",
    );
    assert_refused(
        b"\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.",
        Status::Limit,
        2,
        "LONG1 of 9 bytes",
    );
    // Within 64 bits, LONG1 is read exactly (two's complement, sign-extended).
    assert_eq!(
        pickle::loads(b"\x80\x04\x8a\x02\x00\xff.").unwrap(),
        pickle::Value::Int(-256)
    );
    assert_eq!(
        pickle::loads(b"\x80\x04\x8a\x00.").unwrap(),
        pickle::Value::Int(0)
    );
    assert_eq!(
        pickle::loads(b"\x80\x04\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.").unwrap(),
        pickle::Value::Int(i64::MIN)
    );
}

// ---- memo ----

#[test]
fn memo_abuse_is_refused() {
    assert_refused(
        b"\x80\x04h\x05.",
        Status::Corrupt,
        2,
        "memo key 5 was never stored",
    );
    assert_refused(
        b"\x80\x04j\xff\xff\xff\xff.",
        Status::Corrupt,
        2,
        "memo key 4294967295 was never stored",
    );
    assert_refused(
        b"\x80\x02g99999999999999999999\n.",
        Status::Corrupt,
        2,
        "is not a memo index",
    );
    assert_refused(b"\x80\x02g1x\n.", Status::Corrupt, 2, "is not a memo index");
    assert_refused(
        b"\x80\x02K\x01p4294967296\n.",
        Status::Corrupt,
        4,
        "out of range",
    );
    assert_refused(
        b"\x80\x04\x94.",
        Status::Corrupt,
        2,
        "memo store needs a value",
    );
    // 2^60-fold expansion: l0 = []; l(k+1) = [lk, lk]; 60 times. 600 bytes of pickle.
    let mut p = proto(4);
    p.extend(b"]\x940");
    for k in 0..60u32 {
        p.push(b'(');
        p.extend([b'j'].iter().chain(k.to_le_bytes().iter()));
        p.extend([b'j'].iter().chain(k.to_le_bytes().iter()));
        p.extend(b"l\x940");
    }
    p.extend(b"j\x3c\x00\x00\x00.");
    assert!(p.len() < 1000);
    let e = refused(&p);
    assert_eq!(e.status, Status::Limit, "{e}");
    assert!(e.message.contains("bytes of memory"), "{e}");
}

// ---- truncation, random and mutated bytes ----

#[test]
#[cfg_attr(miri, ignore)]
fn every_truncation_of_real_pickles_is_refused_as_truncated() {
    let data = repo().join("tests/data/pickles");
    let files = [
        reference_pickle("bcd_gini_d5_lgk12"),
        reference_pickle("mushroom_gini_pruned_lgk12"),
        std::fs::read(data.join("bcd_numpy1_protocol2.pkl")).unwrap(),
        std::fs::read(data.join("pruned_numpy1_protocol2.pkl")).unwrap(),
    ];
    let mut prefixes = 0;
    for file in &files {
        assert!(pickle::loads(file).is_ok());
        for len in 0..file.len() {
            let e = pickle::loads(&file[..len]).expect_err("a prefix was accepted");
            assert_eq!(e.status, Status::Truncated, "prefix {len}: {e}");
            assert!(
                e.byte_offset <= len as u64,
                "prefix {len}: offset {}",
                e.byte_offset
            );
            prefixes += 1;
        }
    }
    assert!(prefixes > 45_000, "{prefixes}");
}

/// xorshift64*: a small seeded generator, so every run tries the same inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn survive(bytes: &[u8]) -> bool {
    match pickle::loads(bytes) {
        Ok(_) => {
            // Whatever it is, compiling it either works or reports an error.
            let _ = compile_pickle(bytes, &CompileOptions::default());
            true
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(e.byte_offset <= bytes.len() as u64);
            false
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn random_bytes_and_mutated_pickles_never_panic() {
    let mut rng = Rng(0x7e7a_7ee5_eed5_2024);
    let opcodes = b"(.0125NJKMGXC}])tlds\x85\x86\x87aeu\x94qrhjcR\x93b\x80\x95\x8a\x8b\x8c\x8d\x8e\x96\x88\x89";
    for i in 0..20_000 {
        let len = rng.below(300);
        let mut p = vec![0x80, 2 + (i % 4) as u8];
        for _ in 0..len {
            // Mostly opcodes, sometimes any byte.
            p.push(if rng.below(4) == 0 {
                rng.next() as u8
            } else {
                opcodes[rng.below(opcodes.len())]
            });
        }
        survive(&p);
        let raw: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        survive(&raw);
    }
    let real = [
        reference_pickle("bcd_gini_d5_lgk12"),
        std::fs::read(repo().join("tests/data/pickles/bcd_numpy1_protocol2.pkl")).unwrap(),
    ];
    let mut accepted = 0;
    for _ in 0..5_000 {
        let mut p = real[rng.below(2)].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(p.len());
            match rng.below(3) {
                0 => p[at] ^= 1 << rng.below(8),
                1 => p[at] = rng.next() as u8,
                _ => {
                    p.remove(at);
                }
            }
        }
        accepted += survive(&p) as usize;
    }
    // Most single-byte changes inside strings and floats still make a valid pickle.
    assert!(accepted > 100, "{accepted}");
}

// ---- numpy ----

#[test]
fn numpy_arrays_that_lie_about_their_size_are_refused() {
    let f8 = dtype("f8", "<");
    // 16 bytes for 3 float64.
    let p = pickle_of(&frombuffer(&[0; 16], &f8, &[3], "C"));
    let e = refused(&p);
    assert_eq!(e.status, Status::Corrupt);
    assert!(
        e.message.contains("needs 24 bytes, but its buffer has 16"),
        "{e}"
    );
    assert_eq!(e.byte_offset, p.len() as u64 - 2, "at the REDUCE");
    // Shapes: huge, negative, too many dimensions, a zero dimension that hides 2^40 rows.
    assert_eq!(
        refused(&pickle_of(&frombuffer(&[0; 8], &f8, &[1 << 40], "C"))).status,
        Status::Limit
    );
    assert!(refused(&pickle_of(&frombuffer(&[0; 8], &f8, &[-1], "C")))
        .message
        .contains("negative"));
    assert!(
        refused(&pickle_of(&frombuffer(&[0; 8], &f8, &[1; 33], "C")))
            .message
            .contains("33 dimensions")
    );
    assert_eq!(
        refused(&pickle_of(&frombuffer(&[], &f8, &[1 << 40, 0], "C"))).status,
        Status::Limit
    );
    // Zero-size elements cannot make 2^30 strings out of nothing.
    let u0 = dtype_with("U0", "<", 0, true);
    assert_eq!(
        refused(&pickle_of(&frombuffer(&[], &u0, &[1 << 30], "C"))).status,
        Status::Limit
    );
    assert!(refused(&pickle_of(&frombuffer(&[0; 8], &f8, &[1], "K")))
        .message
        .contains("order \"K\""));
    // _reconstruct + BUILD with a short buffer.
    let rec = [
        stack_global("numpy._core.multiarray", "_reconstruct"),
        stack_global("numpy", "ndarray"),
        vec![b'K', 0, 0x85],
        vec![b'C', 1, b'b'],
        vec![0x87, b'R'],
        vec![b'(', b'K', 1],
        shape(&[2]),
        f8.clone(),
        vec![0x89],
        vec![b'C', 8],
        vec![0; 8],
        vec![b't', b'b'],
    ]
    .concat();
    assert!(refused(&pickle_of(&rec))
        .message
        .contains("needs 16 bytes, but its buffer has 8"));
    // An array never built, a state of the wrong length.
    let unbuilt = &rec[..rec.iter().position(|&b| b == b'R').unwrap() + 1];
    assert!(refused(&pickle_of(unbuilt))
        .message
        .contains("never received its data"));
    let bad_state = [unbuilt, b"(K\x01t", b"b"].concat();
    assert!(refused(&pickle_of(&bad_state))
        .message
        .contains("array state is a tuple of 1"));
    // Bool elements other than 0/1, uint64 beyond i64.
    let b1 = dtype("b1", "|");
    assert!(refused(&pickle_of(&frombuffer(&[2], &b1, &[1], "C")))
        .message
        .contains("byte value 2"));
    let u8d = dtype("u8", "<");
    assert!(
        refused(&pickle_of(&frombuffer(&[0xff; 8], &u8d, &[1], "C")))
            .message
            .contains("does not fit")
    );
}

#[test]
fn unsupported_and_malformed_dtypes_are_refused() {
    for name in ["c16", "S5", "M8", "m8", "V8", "f2", "i16", "O2", "x"] {
        let p = pickle_of(&frombuffer(&[0; 8], &dtype(name, "<"), &[1], "C"));
        let e = refused(&p);
        assert_eq!(e.status, Status::Corrupt);
        assert!(
            e.message
                .contains(&format!("numpy dtype {name:?} is not supported")),
            "{e}"
        );
    }
    // Native '=' and '|' are ambiguous for multi-byte elements.
    for order in ["=", "|", "!"] {
        let e = refused(&pickle_of(&frombuffer(
            &[0; 8],
            &dtype("f8", order),
            &[1],
            "C",
        )));
        assert!(e.message.contains("byte order"), "{e}");
    }
    // Used before its BUILD state; elsize contradicting the name; structured dtypes.
    let unbuilt = dtype_with("f8", "<", -1, false);
    assert!(
        refused(&pickle_of(&frombuffer(&[0; 8], &unbuilt, &[1], "C")))
            .message
            .contains("before its BUILD")
    );
    let e = refused(&pickle_of(&frombuffer(
        &[0; 8],
        &dtype_with("U2", "<", 4, true),
        &[1],
        "C",
    )));
    assert!(e.message.contains("elsize 4"), "{e}");
    let structured = [
        stack_global("numpy", "dtype"),
        s("V8"),
        vec![0x89, 0x88, 0x87, b'R', b'(', b'K', 3],
        s("|"),
        b"N(s\x01at}".to_vec(),
        binint(8),
        binint(1),
        vec![b'K', 16, b't', b'b'],
    ]
    .concat();
    assert!(refused(&pickle_of(&structured))
        .message
        .contains("not supported"));
    let e = refused(&pickle_of(
        &[
            dtype_with("f8", "<", -1, false),
            b"(K\x03\x8c\x01<(t)NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb".to_vec(),
        ]
        .concat(),
    ));
    assert!(e.message.contains("subarray must be None"), "{e}");
    let e = refused(&pickle_of(
        &[dtype_with("f8", "<", -1, false), b"(K\x05tb".to_vec()].concat(),
    ));
    assert!(e.message.contains("version 5"), "{e}");
    // Object arrays: only str elements.
    let obj = [
        stack_global("numpy._core.multiarray", "_reconstruct"),
        stack_global("numpy", "ndarray"),
        vec![b'K', 0, 0x85, b'C', 1, b'b', 0x87, b'R', b'(', b'K', 1],
        shape(&[2]),
        dtype("O8", "|"),
        vec![0x89, b']', b'('],
        s("a"),
        vec![b'K', 5, b'e', b't', b'b'],
    ]
    .concat();
    let e = refused(&pickle_of(&obj));
    assert!(
        e.message.contains("object array element 1 is a int 5"),
        "{e}"
    );
    // A numpy scalar of a bad size, an object scalar.
    let sc = [
        stack_global("numpy._core.multiarray", "scalar"),
        dtype("f8", "<"),
        vec![b'C', 4, 0, 0, 0, 0, 0x86, b'R'],
    ]
    .concat();
    assert!(refused(&pickle_of(&sc)).message.contains("needs 8 bytes"));
    let sc = [
        stack_global("numpy._core.multiarray", "scalar"),
        dtype("O8", "|"),
        vec![b'N', 0x86, b'R'],
    ]
    .concat();
    assert!(refused(&pickle_of(&sc)).message.contains("must be bytes"));
}

#[test]
fn numpy_arrays_of_every_accepted_dtype_and_order_are_read() {
    use pickle::{ArrayData, DType, Value};
    let read = |buf: &[u8], name: &str, order: &str, dims: &[i64], f: &str| match &pickle::loads(
        &pickle_of(&frombuffer(buf, &dtype(name, order), dims, f)),
    )
    .unwrap()
    {
        Value::NdArray(a) => a.clone(),
        other => panic!("{other:?}"),
    };
    let be: Vec<u8> = [1i32, -2].iter().flat_map(|x| x.to_be_bytes()).collect();
    let a = read(&be, "i4", ">", &[2], "C");
    assert_eq!(
        (a.dtype, a.data),
        (DType::Int { size: 4 }, ArrayData::Int(vec![1, -2]))
    );
    let f4: Vec<u8> = [0.1f32].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(
        read(&f4, "f4", "<", &[1], "C").data,
        ArrayData::Float(vec![f64::from(0.1f32)])
    );
    assert_eq!(
        read(&[1, 0], "b1", "|", &[2], "C").data,
        ArrayData::Bool(vec![true, false])
    );
    assert_eq!(
        read(&[200], "u1", "|", &[1], "C").data,
        ArrayData::Int(vec![200])
    );
    let f: Vec<u8> = [1.0f64, 3.0, 2.0, 4.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let a = read(&f, "f8", "<", &[2, 2], "F");
    assert_eq!(
        (a.shape, a.data),
        (vec![2, 2], ArrayData::Float(vec![1.0, 2.0, 3.0, 4.0]))
    );
    let json = pickle::to_json(
        &pickle::loads(&pickle_of(&frombuffer(&f, &dtype("f8", "<"), &[2, 2], "F"))).unwrap(),
    )
    .unwrap();
    assert_eq!(json, json!([[1.0, 2.0], [3.0, 4.0]]));
}

// ---- wrong structure ----

fn compile_err(doc: &Json) -> CompileError {
    match compile_pickle(&dumps(doc), &CompileOptions::default()) {
        Ok(_) => panic!("wrong structure compiled"),
        Err(e) => e,
    }
}

/// What is changed, how, the error path and a fragment of its message.
type Case = (
    &'static str,
    Box<dyn Fn(&mut Json)>,
    &'static str,
    &'static str,
);

#[test]
fn valid_pickles_of_the_wrong_structure_are_refused_with_their_path() {
    let good = persistence("bcd_gini_d5_lgk12");
    // The plain-JSON pickle of the same dict compiles to the same tree.
    compile_pickle(&dumps(&good), &CompileOptions::default()).unwrap();
    let not_dict = compile_pickle(&dumps(&json!([1, 2])), &CompileOptions::default()).unwrap_err();
    assert!(
        not_dict.message.contains("holds a list, not the dict"),
        "{not_dict}"
    );
    let cases: Vec<Case> = vec![
        (
            "no tree",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("tree_structure");
            }),
            "$",
            "no tree_structure",
        ),
        (
            "tree not a dict",
            Box::new(|d| d["tree_structure"] = json!([1])),
            "$.tree_structure",
            "a list, not a dict",
        ),
        (
            "no mapping",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("feature_mapping");
            }),
            "$",
            "no feature_mapping",
        ),
        (
            "mapping index a string",
            Box::new(|d| d["feature_mapping"]["feature_0=0"] = json!("0")),
            "$.feature_mapping[\"feature_0=0\"]",
            "not a non-negative integer",
        ),
        (
            "class_counts a string",
            Box::new(|d| d["tree_structure"]["left"]["class_counts"] = json!("13,38")),
            "$.tree_structure.left",
            "class_counts must be",
        ),
        (
            "leaf without counts",
            Box::new(|d| {
                d["tree_structure"]["right"]["right"]["class_counts"] = Json::Null;
            }),
            "$.tree_structure.right.right",
            "leaf has no class_counts",
        ),
        (
            "NaN count",
            Box::new(|d| d["tree_structure"]["left"]["left"]["class_counts"] = json!(["NaN", 1.0])),
            "$.tree_structure.left.left",
            "not a finite non-negative number",
        ),
        (
            "split without feature_idx",
            Box::new(|d| {
                d["tree_structure"]
                    .as_object_mut()
                    .unwrap()
                    .remove("feature_idx");
            }),
            "$.tree_structure",
            "feature_idx",
        ),
        (
            "n_features_in_ disagrees",
            Box::new(|d| d["fitted_attributes"]["n_features_in_"] = json!(13)),
            "$.fitted_attributes.n_features_in_",
            "disagrees with the feature mapping, which has 12",
        ),
        (
            "feature names disagree",
            Box::new(|d| d["fitted_attributes"]["feature_names_in_"][3] = json!("x")),
            "$.fitted_attributes.feature_names_in_[3]",
            "disagrees",
        ),
        (
            "classes_ not [0, 1]",
            Box::new(|d| d["fitted_attributes"]["classes_"] = json!([0, 1, 2])),
            "$.fitted_attributes.classes_",
            "not [0, 1]",
        ),
        (
            "n_classes_ 3",
            Box::new(|d| d["fitted_attributes"]["n_classes_"] = json!(3)),
            "$.fitted_attributes.n_classes_",
            "not 2",
        ),
        (
            "importances short",
            Box::new(|d| {
                d["fitted_attributes"]["feature_importances"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            "$.fitted_attributes.feature_importances",
            "11 values",
        ),
        (
            "importance a string",
            Box::new(|d| d["fitted_attributes"]["feature_importances"][0] = json!("x")),
            "$.fitted_attributes.feature_importances[0]",
            "not a number",
        ),
        (
            "fitted not a dict",
            Box::new(|d| d["fitted_attributes"] = json!(1)),
            "$.fitted_attributes",
            "expected an object",
        ),
        (
            "version 2.0",
            Box::new(|d| d["version"] = json!("2.0")),
            "$.version",
            "not supported",
        ),
        (
            "prediction contradicts",
            Box::new(|d| {
                d["tree_structure"]["left"]["left"]["left"]["left"]["prediction"] = json!(0)
            }),
            "$.tree_structure.left.left.left.left",
            "disagrees with class_counts",
        ),
    ];
    for (what, mutate, path, text) in cases {
        let mut d = good.clone();
        mutate(&mut d);
        let e = compile_err(&d);
        assert_eq!(e.path, path, "{what}: {e}");
        assert!(e.message.contains(text), "{what}: {text:?} not in {e}");
    }
    // bytes and non-str keys have no JSON form: refused with their path.
    let mut p = dumps(&good);
    p.truncate(p.len() - 2); // drop the top SETITEMS and STOP: the dict is still open
    let mut bytes = p.clone();
    bytes.extend(s("blob"));
    bytes.extend(b"C\x01\x00u.");
    let e = compile_pickle(&bytes, &CompileOptions::default()).unwrap_err();
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("$.blob", "bytes of length 1 have no JSON form")
    );
    let mut key = p;
    key.extend(b"K\x01Nu.");
    let e = compile_pickle(&key, &CompileOptions::default()).unwrap_err();
    assert!(e.message.contains("dict key of type int"), "{e}");
}
