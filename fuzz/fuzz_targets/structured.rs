//! Structure-aware: build a valid model from the input, check that it is valid and a fixed
//! point of export/compile, then apply fuzzer-chosen field mutations (node words, stats,
//! probabilities, header counts, section table entries, string bytes, raw bytes, truncation,
//! appended bytes, swapped nodes), recompute the CRC so that the structural checks are what
//! decides, and load. Must never panic or misbehave; if it loads, predictions must match the
//! reference walk and be in range.
#![no_main]
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use thetatree::format::*;
use thetatree::Model;
use thetatree_fuzz::*;

fn interesting_u32(u: &mut Unstructured, n: u32) -> Result<u32> {
    Ok(match u.int_in_range(0u8..=11)? {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        4 => n.wrapping_sub(1),
        5 => n,
        6 => n.wrapping_add(1),
        7 => u32::MAX,
        8 => 1 << 31,
        9 => MAX_DEPTH + u32::from(u.arbitrary::<bool>()?),
        10 => MAX_NODES + u32::from(u.arbitrary::<bool>()?),
        _ => u.arbitrary()?,
    })
}

fn interesting_f64(u: &mut Unstructured) -> Result<f64> {
    Ok(match u.int_in_range(0u8..=11)? {
        0 => 0.0,
        1 => -0.0,
        2 => 1.0,
        3 => 0.5,
        4 => f64::NAN,
        5 => f64::INFINITY,
        6 => -1.0,
        7 => f64::MIN_POSITIVE,
        8 => 1.0 + f64::EPSILON,
        9 => f64::from(u.arbitrary::<u8>()?),
        10 => f64::from_bits(u.arbitrary::<u64>()?),
        _ => f64::MAX,
    })
}

fn section(b: &[u8], k: usize) -> (usize, usize) {
    let at = 64 + 16 * k;
    (
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize,
        u64::from_le_bytes(b[at + 8..at + 16].try_into().unwrap()) as usize,
    )
}

fn mutate(u: &mut Unstructured, b: &mut Vec<u8>, n_nodes: usize) -> Result<()> {
    if b.len() < HEADER_LEN {
        return Ok(());
    }
    let (noff, _) = section(b, SEC_NODES);
    let (soff, _) = section(b, SEC_STATS);
    let (poff, plen) = section(b, SEC_PROBS);
    let len = b.len();
    let put = |b: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        if at.checked_add(bytes.len()).is_some_and(|end| end <= b.len()) {
            b[at..at + bytes.len()].copy_from_slice(bytes);
        }
    };
    match u.int_in_range(0u8..=12)? {
        0 => {
            let i = u.int_in_range(0..=n_nodes)?;
            let w = u.int_in_range(0usize..=3)?;
            let v = interesting_u32(u, n_nodes as u32)?;
            put(b, noff.wrapping_add(16 * i + 4 * w), &v.to_le_bytes());
        }
        1 => {
            let i = u.int_in_range(0..=n_nodes)?;
            let f = u.int_in_range(0usize..=2)?;
            let v = interesting_f64(u)?;
            put(b, soff.wrapping_add(24 * i + 8 * f), &v.to_le_bytes());
        }
        2 => {
            let k = u.int_in_range(0..=plen / 8)?;
            let v = interesting_f64(u)?;
            put(b, poff.wrapping_add(8 * k), &v.to_le_bytes());
        }
        3 => {
            // A 32-bit header field (format version words are 16-bit pairs).
            let at = *u.choose(&[8usize, 12, 16, 20, 36, 40, 44, 48, 52, 56, 60])?;
            let v = interesting_u32(u, n_nodes as u32)?;
            put(b, at, &v.to_le_bytes());
        }
        4 => {
            let v: u64 = match u.int_in_range(0u8..=4)? {
                0 => len as u64 + u64::from(u.arbitrary::<u8>()?),
                1 => (len as u64).saturating_sub(u64::from(u.arbitrary::<u8>()?)),
                2 => MAX_FILE_LEN + u64::from(u.arbitrary::<bool>()?),
                3 => u64::MAX,
                _ => u.arbitrary()?,
            };
            put(b, 24, &v.to_le_bytes());
        }
        5 => {
            let k = u.int_in_range(0usize..=N_SECTIONS - 1)?;
            let at = 64 + 16 * k + 8 * usize::from(u.arbitrary::<bool>()?);
            let old = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
            let v = match u.int_in_range(0u8..=3)? {
                0 => old.wrapping_add_signed(i64::from(u.arbitrary::<i8>()?)),
                1 => (u64::MAX - old).wrapping_add(u64::from(u.arbitrary::<u8>()?)),
                2 => u64::MAX,
                _ => u.arbitrary()?,
            };
            put(b, at, &v.to_le_bytes());
        }
        6 => {
            let k = u.int_in_range(SEC_CLASS_LABELS..=SEC_METADATA)?;
            let (off, l) = section(b, k);
            if l > 0 {
                let p = off.wrapping_add(u.int_in_range(0..=l - 1)?);
                let v: u8 = *u.choose(&[0u8, 0x80, 0xFF, b'a', b'"', b'{', b'0', 0xC0])?;
                put(b, p, &[v]);
            }
        }
        7 => {
            let p = u.int_in_range(0..=len - 1)?;
            b[p] = u.arbitrary()?;
        }
        8 => {
            let p = u.int_in_range(0..=len - 1)?;
            b[p] ^= 1 << u.int_in_range(0u8..=7)?;
        }
        9 => {
            let n = u.int_in_range(0..=len)?;
            b.truncate(n);
        }
        10 => {
            let extra: Vec<u8> = u.arbitrary()?;
            b.extend_from_slice(&extra[..extra.len().min(128)]);
        }
        11 => {
            if n_nodes >= 2 {
                let i = u.int_in_range(0..=n_nodes - 1)?;
                let j = u.int_in_range(0..=n_nodes - 1)?;
                let (a, c) = (noff.wrapping_add(16 * i), noff.wrapping_add(16 * j));
                if a.max(c).checked_add(16).is_some_and(|e| e <= b.len()) {
                    for k in 0..16 {
                        b.swap(a + k, c + k);
                    }
                }
            }
        }
        _ => {
            // Sign it (a trailer follows), possibly then damage it.
            if let Ok(s) = thetatree::signature::sign(b, b"fuzz key") {
                *b = s;
            }
        }
    }
    Ok(())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let spec = gen_spec(&mut u)?;
    let base = encode(&spec);
    let m = Model::from_bytes(&base)
        .unwrap_or_else(|e| panic!("the encoder wrote an invalid model from a valid spec: {e}"));
    // The generator's canonical models are fixed points of export + compile.
    let again = thetatree::compile::compile(
        &thetatree::compile::export(&m),
        &thetatree::compile::CompileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("export of a valid model does not compile: {e}"));
    assert_eq!(again, base, "compile(export(m)) != m for a canonical model");
    let rows = cells(&mut u, 8 * spec.feature_names.len().max(1));
    let mut b = base;
    let n = u.int_in_range(1u8..=4)?;
    for _ in 0..n {
        mutate(&mut u, &mut b, spec.nodes.len())?;
    }
    if u.arbitrary::<bool>()? || u.is_empty() {
        fix_crc(&mut b);
    }
    load_everywhere(&b, &rows);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
