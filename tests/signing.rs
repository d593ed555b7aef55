//! Signed models (HMAC-SHA256 trailer, `src/signature.rs`) and model identity (SHA-256).
//!
//! | case | pure (`from_bytes_verified`, `open`) | C ABI (`tt_load_bytes_verified`, `tt_load_verified`, `tt_load`) |
//! |---|---|---|
//! | signed, right key | OK | TT_OK (copy, borrow, mmap, copy-from-file) |
//! | signed, wrong key | KEY_MISMATCH | TT_ERR_KEY_MISMATCH |
//! | signed, no key (NULL / len 0 / empty) | NO_KEY | TT_ERR_NO_KEY, incl. `tt_load`/`tt_load_bytes` with TT_LOAD_REQUIRE_SIGNATURE |
//! | unsigned file, key given | UNSIGNED | TT_ERR_UNSIGNED |
//! | one flipped bit in the model or the trailer | never OK: BAD_SIGNATURE, KEY_MISMATCH (key id bytes), or today UNSIGNED (see below) | same |
//! | signed, plain load (no verification) | OK, trailer ignored, identical predictions | TT_OK, `tt_model_is_signed` = 1 |
//! | correctly MAC'd but structurally invalid model | the structural code (verification does not replace validation) | same |
//! | digest | SHA-256 of the model bytes without trailer, same signed and unsigned | `tt_model_digest` |
//!
//! CLI: `thetatree sign --key-file K M [-o OUT]` and `thetatree verify [--key-file K] M` exit 0 on
//! success, 1 on a refused model or bad key file, 2 on a usage error.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::ffi::CString;
use thetatree::compile::{compile, CompileOptions};
use thetatree::error::code::*;
use thetatree::ffi::*;
use thetatree::signature::{self, key_id, TRAILER_LEN, TRAILER_MAGIC};
use thetatree::{Model, OpenOptions, Status};

const KEY: &[u8] = b"correct horse battery staple";
const OTHER: &[u8] = b"correct horse battery stapler";

const LEAF0: &str = r#"{"type":"leaf","n_samples":5,"class_counts":[4,1]}"#;
const LEAF1: &str = r#"{"type":"leaf","n_samples":3,"class_counts":[1,2]}"#;
const LEAF2: &str = r#"{"type":"leaf","n_samples":4,"class_counts":[0,4]}"#;

/// A 3-leaf model compiled in-process.
fn model() -> Vec<u8> {
    let json = format!(
        r#"{{"type":"split","feature_idx":1,"feature_name":"b","n_samples":12,"class_counts":[5,7],
            "left":{LEAF0},
            "right":{{"type":"split","feature_idx":0,"feature_name":"a","n_samples":7,"class_counts":[1,6],"left":{LEAF1},"right":{LEAF2}}}}}"#
    );
    let opts = CompileOptions {
        model_version: Some("2024-06-01".into()),
        ..Default::default()
    };
    compile(&json, &opts).unwrap()
}

fn signed() -> Vec<u8> {
    signature::sign(&model(), KEY).unwrap()
}

/// Predictions over all 9 rows of {0, 1, -1}^2, as (labels, probability bits).
fn predictions(m: &Model) -> (Vec<i32>, Vec<u64>) {
    let v = [0i8, 1, -1];
    let x: Vec<i8> = v
        .iter()
        .flat_map(|&a| v.iter().map(move |&b| [a, b]))
        .flatten()
        .collect();
    let mut l = vec![0; 9];
    let mut p = vec![0.0; 18];
    m.tree().predict(&x, 9, &mut l).unwrap();
    m.tree().predict_proba(&x, 9, &mut p).unwrap();
    (l, p.iter().map(|p| p.to_bits()).collect())
}

fn ffi_predictions(m: *const tt_model) -> (Vec<i32>, Vec<u64>) {
    let v = [0i8, 1, -1];
    let x: Vec<i8> = v
        .iter()
        .flat_map(|&a| v.iter().map(move |&b| [a, b]))
        .flatten()
        .collect();
    let mut l = vec![0; 9];
    let mut p = vec![0.0; 18];
    let e = std::ptr::null_mut();
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 9, 2, l.as_mut_ptr(), 9, e) },
        TT_OK
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba(m, x.as_ptr(), 9, 2, p.as_mut_ptr(), 18, e) },
        TT_OK
    );
    (l, p.iter().map(|p| p.to_bits()).collect())
}

fn status_of(r: thetatree::Result<Model>) -> Status {
    match r {
        Ok(_) => Status::Ok,
        Err(e) => e.status,
    }
}

/// `tt_load_bytes_verified` (copy and borrow): the code, freeing any model.
fn ffi_verified(bytes: &[u8], key: &[u8], flags: u32) -> i32 {
    let mut out: *mut tt_model = std::ptr::null_mut();
    let key_ptr = if key.is_empty() {
        std::ptr::null()
    } else {
        key.as_ptr()
    };
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let rc = unsafe {
        tt_load_bytes_verified(
            bytes.as_ptr(),
            bytes.len(),
            key_ptr,
            key.len(),
            flags,
            &mut out,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc == TT_OK, !out.is_null());
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(out) };
    rc
}

#[track_caller]
fn expect_everywhere(bytes: &[u8], key: &[u8], status: Status) {
    let key_opt = if key.is_empty() {
        Some(&b""[..])
    } else {
        Some(key)
    };
    assert_eq!(
        status_of(Model::from_bytes_verified(bytes, key_opt)),
        status
    );
    for flags in [0, TT_LOAD_BORROW, TT_LOAD_REQUIRE_SIGNATURE] {
        assert_eq!(
            ffi_verified(bytes, key, flags),
            status as i32,
            "flags {flags}"
        );
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn trailer_layout_matches_the_spec() {
    let m = model();
    let s = signed();
    assert_eq!(s.len(), m.len() + TRAILER_LEN);
    assert_eq!(&s[..m.len()], &m[..]);
    let t = &s[m.len()..];
    assert_eq!(&t[..8], &TRAILER_MAGIC);
    // Key id: the first 8 bytes of HMAC-SHA256(key, "thetatree key id"), computed independently.
    let mut id = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    id.update(b"thetatree key id");
    assert_eq!(&t[8..16], &id.finalize().into_bytes()[..8]);
    assert_eq!(&t[8..16], &key_id(KEY));
    assert_eq!(&t[16..24], &(m.len() as u64).to_le_bytes());
    assert_eq!(&t[24..32], &[0; 8]);
    // MAC over the model bytes and the trailer's first 32 bytes.
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    mac.update(&m);
    mac.update(&t[..32]);
    assert_eq!(&t[32..], &mac.finalize().into_bytes()[..]);
    // Re-signing replaces the trailer instead of stacking a second one.
    let again = signature::sign(&s, OTHER).unwrap();
    assert_eq!(again.len(), s.len());
    assert_eq!(&again[m.len() + 8..m.len() + 16], &key_id(OTHER));
}

#[test]
fn right_key_loads_and_predicts_like_the_unsigned_model() {
    let unsigned = Model::from_bytes(&model()).unwrap();
    let want = predictions(&unsigned);
    let s = signed();
    let m = Model::from_bytes_verified(&s, Some(KEY)).unwrap();
    assert!(m.is_signed());
    assert_eq!(predictions(&m), want);
    assert_eq!(m.model_version(), "2024-06-01");
    expect_everywhere(&s, KEY, Status::Ok);
    let mut out: *mut tt_model = std::ptr::null_mut();
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let rc = unsafe {
        tt_load_bytes_verified(
            s.as_ptr(),
            s.len(),
            KEY.as_ptr(),
            KEY.len(),
            0,
            &mut out,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, TT_OK);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_model_is_signed(out) }, 1);
    assert_eq!(ffi_predictions(out), want);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(out) };
}

#[test]
fn wrong_key_is_key_mismatch() {
    let s = signed();
    expect_everywhere(&s, OTHER, Status::KeyMismatch);
    expect_everywhere(&s, b"x", Status::KeyMismatch);
    let e = Model::from_bytes_verified(&s, Some(OTHER)).err().unwrap();
    assert_eq!(e.byte_offset, model().len() as u64 + 8, "{e}");
}

#[test]
fn no_key_is_no_key() {
    let s = signed();
    // Empty key / NULL key, through every entry point that takes one.
    expect_everywhere(&s, b"", Status::NoKey);
    let mut out: *mut tt_model = std::ptr::null_mut();
    let e = std::ptr::null_mut();
    // A non-NULL pointer with length 0 is "no key" too.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes_verified(s.as_ptr(), s.len(), KEY.as_ptr(), 0, 0, &mut out, e) },
        TT_ERR_NO_KEY
    );
    // Requiring a signature through the loads that take no key.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(s.as_ptr(), s.len(), TT_LOAD_REQUIRE_SIGNATURE, &mut out, e) },
        TT_ERR_NO_KEY
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_load_bytes(
                s.as_ptr(),
                s.len(),
                TT_LOAD_REQUIRE_SIGNATURE | TT_LOAD_BORROW,
                &mut out,
                e,
            )
        },
        TT_ERR_NO_KEY
    );
    assert!(out.is_null());
    // Signing needs a key too.
    assert_eq!(
        signature::sign(&model(), b"").err().unwrap().status,
        Status::NoKey
    );
}

#[test]
fn unsigned_file_is_unsigned() {
    let m = model();
    expect_everywhere(&m, KEY, Status::Unsigned);
    // Verification runs before parsing: garbage and truncated files are "unsigned" too.
    expect_everywhere(b"", KEY, Status::Unsigned);
    expect_everywhere(&m[..100], KEY, Status::Unsigned);
    expect_everywhere(&[0xAB; 4096], KEY, Status::Unsigned);
    // A signed file cut anywhere inside its trailer.
    let s = signed();
    for cut in [1, 8, 32, 63] {
        expect_everywhere(&s[..s.len() - cut], KEY, Status::Unsigned);
    }
}

/// What one flipped bit at `pos` of the signed file gives today.
fn flip_status(model_len: usize, pos: usize) -> Status {
    // Only the key id (trailer bytes 8..16) says "another key"; everything else is tampering.
    match pos.checked_sub(model_len) {
        Some(8..=15) => Status::KeyMismatch,
        _ => Status::BadSignature,
    }
}

/// The byte positions to flip: every byte natively; under Miri (where each HMAC + validation
/// takes ~1 s) a prime stride plus the header's magic and file_len and each trailer field.
/// The bits to flip at `pos`: all 8 natively, one (varying with the position) under Miri.
fn bits(pos: usize) -> std::ops::Range<usize> {
    if cfg!(miri) {
        pos % 8..pos % 8 + 1
    } else {
        0..8
    }
}

fn positions(len: usize) -> Vec<usize> {
    if !cfg!(miri) {
        return (0..len).collect();
    }
    let mut p: Vec<usize> = (0..len).step_by(211).collect();
    p.extend([3, 27, len - 64, len - 56, len - 48, len - 40, len - 1]);
    p.sort_unstable();
    p.dedup();
    p
}

#[test]
fn every_flipped_bit_is_refused() {
    let s = signed();
    let n = model().len();
    let mut counts = std::collections::BTreeMap::new();
    for pos in positions(s.len()) {
        for bit in bits(pos) {
            let mut f = s.clone();
            f[pos] ^= 1 << bit;
            let st = status_of(Model::from_bytes_verified(&f, Some(KEY)));
            assert_ne!(st, Status::Ok, "byte {pos} bit {bit}");
            assert_eq!(st, flip_status(n, pos), "byte {pos} bit {bit}");
            if (pos + bit) % 7 == 0 {
                assert_eq!(ffi_verified(&f, KEY, 0), st as i32);
            }
            *counts.entry(st.name()).or_insert(0) += 1;
        }
    }
    eprintln!("signed-file bit flips ({} bytes): {counts:?}", s.len());
}

/// A single flipped bit anywhere in a signed file, including the header's magic or file_len and
/// the trailer's magic / signed length / zero word, is tampering (BAD_SIGNATURE, or KEY_MISMATCH
/// in the key id), never TT_ERR_UNSIGNED: "unsigned" would invite an operator to re-sign a
/// tampered file.
#[test]
fn a_flipped_bit_is_tampering_not_unsigned() {
    let s = signed();
    for pos in positions(s.len()) {
        for bit in bits(pos) {
            let mut f = s.clone();
            f[pos] ^= 1 << bit;
            let st = status_of(Model::from_bytes_verified(&f, Some(KEY)));
            assert!(
                st == Status::BadSignature || st == Status::KeyMismatch,
                "byte {pos} bit {bit}: {}",
                st.name()
            );
        }
    }
}

#[test]
fn plain_load_ignores_the_trailer() {
    let want = predictions(&Model::from_bytes(&model()).unwrap());
    let s = signed();
    let m = Model::from_bytes(&s).unwrap();
    assert!(m.is_signed());
    assert_eq!(predictions(&m), want);
    assert_eq!(m.model_bytes(), &model()[..]);
    assert_eq!(m.image(), &s[..]);
    for flags in [0, TT_LOAD_BORROW] {
        let mut out: *mut tt_model = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_load_bytes(s.as_ptr(), s.len(), flags, &mut out, std::ptr::null_mut()) },
            TT_OK
        );
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        assert_eq!(unsafe { tt_model_is_signed(out) }, 1);
        assert_eq!(ffi_predictions(out), want);
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_free(out) };
    }
    // Unverified loads do not check the MAC at all (documented): a damaged MAC still loads.
    let mut bad = s.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(Model::from_bytes(&bad).is_ok());
    assert_eq!(
        status_of(Model::from_bytes_verified(&bad, Some(KEY))),
        Status::BadSignature
    );
}

#[test]
fn verification_does_not_replace_validation() {
    // A structurally invalid model (root's right child = root) with a correct CRC and a correct
    // MAC: the signature check passes and the validator still refuses it.
    let mut m = model();
    let nodes = u64::from_le_bytes(m[64..72].try_into().unwrap()) as usize;
    m[nodes + 12..nodes + 16].copy_from_slice(&0u32.to_le_bytes());
    thetatree::format::refresh_crc(&mut m);
    let mut t = [0u8; TRAILER_LEN];
    t[..8].copy_from_slice(&TRAILER_MAGIC);
    t[8..16].copy_from_slice(&key_id(KEY));
    t[16..24].copy_from_slice(&(m.len() as u64).to_le_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    mac.update(&m);
    mac.update(&t[..32]);
    t[32..].copy_from_slice(&mac.finalize().into_bytes());
    let forged = [&m[..], &t[..]].concat();
    assert!(signature::verify(&forged, KEY).is_ok());
    let e = Model::from_bytes_verified(&forged, Some(KEY))
        .err()
        .unwrap();
    assert_eq!(e.status, Status::Graph, "{e}");
    assert_eq!(ffi_verified(&forged, KEY, 0), TT_ERR_GRAPH);
    // `sign` itself refuses to sign an invalid model.
    assert_eq!(
        signature::sign(&m, KEY).err().unwrap().status,
        Status::Graph
    );
}

#[test]
fn digest_is_sha256_of_the_unsigned_model() {
    let m = model();
    let want: [u8; 32] = Sha256::digest(&m).into();
    for bytes in [m.clone(), signed(), signature::sign(&m, OTHER).unwrap()] {
        let loaded = Model::from_bytes(&bytes).unwrap();
        assert_eq!(loaded.digest(), &want);
        let mut out: *mut tt_model = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe {
                tt_load_bytes(
                    bytes.as_ptr(),
                    bytes.len(),
                    TT_LOAD_BORROW,
                    &mut out,
                    std::ptr::null_mut(),
                )
            },
            TT_OK
        );
        let mut d = [0u8; 40];
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(out, d.as_mut_ptr(), 40, std::ptr::null_mut()) },
            TT_OK
        );
        assert_eq!(&d[..32], &want);
        assert_eq!(&d[32..], &[0; 8], "wrote past 32 bytes");
        // Twice (cached) gives the same.
        let mut d2 = [0u8; 32];
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(out, d2.as_mut_ptr(), 32, std::ptr::null_mut()) },
            TT_OK
        );
        assert_eq!(d2, want);
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(out, std::ptr::null_mut(), 32, std::ptr::null_mut()) },
            TT_ERR_NULL_ARG
        );
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(out, d2.as_mut_ptr(), 31, std::ptr::null_mut()) },
            TT_ERR_LENGTH
        );
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_free(out) };
    }
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_model_digest(
                std::ptr::null(),
                [0u8; 32].as_mut_ptr(),
                32,
                std::ptr::null_mut(),
            )
        },
        TT_ERR_NULL_ARG
    );
    // Different models, different digests.
    let other = compile(LEAF0, &CompileOptions::default()).unwrap();
    assert_ne!(Model::from_bytes(&other).unwrap().digest(), &want);
}

// ---------------------------------------------------------------------------------------------
// Files: Model::open, tt_load_verified, tt_load, and the CLI
// ---------------------------------------------------------------------------------------------

struct TempDir(std::path::PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("thetatree-signing-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn c(p: &std::path::Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

#[test]
#[cfg_attr(miri, ignore = "file system and mmap")]
fn files_verify_through_open_and_tt_load_verified() {
    let d = TempDir::new("files");
    let signed_path = d.file("signed.ttm", &signed());
    let unsigned_path = d.file("unsigned.ttm", &model());
    let mut tampered = signed();
    tampered[300] ^= 0x10;
    let tampered_path = d.file("tampered.ttm", &tampered);
    let want = predictions(&Model::from_bytes(&model()).unwrap());
    let cases: [(&std::path::Path, &[u8], Status); 6] = [
        (&signed_path, KEY, Status::Ok),
        (&signed_path, OTHER, Status::KeyMismatch),
        (&signed_path, b"", Status::NoKey),
        (&unsigned_path, KEY, Status::Unsigned),
        (&tampered_path, KEY, Status::BadSignature),
        (&tampered_path, OTHER, Status::KeyMismatch),
    ];
    for (path, key, status) in cases {
        for copy in [false, true] {
            let r = Model::open(
                path,
                OpenOptions {
                    copy,
                    verify_key: Some(key),
                    ..Default::default()
                },
            );
            if let Ok(m) = &r {
                assert_eq!(predictions(m), want);
                assert_eq!(m.is_mmapped(), !copy);
            }
            assert_eq!(status_of(r), status, "{path:?} copy={copy}");
            let mut out: *mut tt_model = std::ptr::null_mut();
            let key_ptr = if key.is_empty() {
                std::ptr::null()
            } else {
                key.as_ptr()
            };
            for flags in [
                if copy { TT_LOAD_COPY } else { 0 },
                TT_LOAD_REQUIRE_SIGNATURE,
            ] {
                // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                let rc = unsafe {
                    tt_load_verified(
                        c(path).as_ptr(),
                        key_ptr,
                        key.len(),
                        flags,
                        &mut out,
                        std::ptr::null_mut(),
                    )
                };
                assert_eq!(rc, status as i32, "{path:?} flags={flags}");
                if rc == TT_OK {
                    assert_eq!(ffi_predictions(out), want);
                    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                    unsafe { tt_free(out) };
                    out = std::ptr::null_mut();
                }
            }
            assert!(out.is_null());
        }
    }
    // tt_load with TT_LOAD_REQUIRE_SIGNATURE has no key: NO_KEY, signed or not.
    let mut out: *mut tt_model = std::ptr::null_mut();
    for p in [&signed_path, &unsigned_path] {
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe {
                tt_load(
                    c(p).as_ptr(),
                    TT_LOAD_REQUIRE_SIGNATURE,
                    &mut out,
                    std::ptr::null_mut(),
                )
            },
            TT_ERR_NO_KEY
        );
    }
    // Plain tt_load of the signed file works and ignores the trailer.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(c(&signed_path).as_ptr(), 0, &mut out, std::ptr::null_mut()) },
        TT_OK
    );
    assert_eq!(ffi_predictions(out), want);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_model_is_signed(out) }, 1);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(out) };
    // BORROW is for tt_load_bytes only.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_load_verified(
                c(&signed_path).as_ptr(),
                KEY.as_ptr(),
                KEY.len(),
                TT_LOAD_BORROW,
                &mut out,
                std::ptr::null_mut(),
            )
        },
        TT_ERR_FLAGS
    );
}

fn cli(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_thetatree"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

macro_rules! run {
    ($($a:expr),* $(,)?) => { cli(&[$(std::ffi::OsStr::new($a)),*]) };
}

#[test]
#[cfg_attr(miri, ignore = "spawns the CLI")]
fn cli_sign_and_verify_exit_codes() {
    let d = TempDir::new("cli");
    let m = d.file("m.ttm", &model());
    let key = d.file("key", b"correct horse battery staple\n"); // trailing newline ignored
    let key2 = d.file("key2", OTHER);
    let empty = d.file("empty", b"\n");
    let out = d.0.join("m.signed.ttm");

    let (code, _, err) = run!("sign", "--key-file", &key, &m, "-o", &out);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&signature::hex(&key_id(KEY))), "{err}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        bytes,
        signed(),
        "CLI and library sign identically (newline stripped)"
    );

    let (code, stdout, err) = run!("verify", "--key-file", &key, &out);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("signature valid"), "{stdout}");
    let digest = signature::hex(&Sha256::digest(model()));
    assert!(stdout.contains(&digest), "{stdout}");

    let (code, _, err) = run!("verify", "--key-file", &key2, &out);
    assert_eq!(code, 1);
    assert!(err.contains("TT_ERR_KEY_MISMATCH"), "{err}");

    let (code, _, err) = run!("verify", "--key-file", &key, &m);
    assert_eq!(code, 1);
    assert!(err.contains("TT_ERR_UNSIGNED"), "{err}");

    let mut t = bytes.clone();
    t[250] ^= 1;
    let tampered = d.file("t.ttm", &t);
    let (code, _, err) = run!("verify", "--key-file", &key, &tampered);
    assert_eq!(code, 1);
    assert!(err.contains("TT_ERR_BAD_SIGNATURE"), "{err}");

    // Without a key: plain validation, which passes and says the signature is unchecked.
    let (code, stdout, _) = run!("verify", &out);
    assert_eq!(code, 0);
    assert!(stdout.contains("not verified"), "{stdout}");
    // ... and a corrupt file fails plain validation (the CRC catches the flip).
    let (code, _, err) = run!("verify", &tampered);
    assert_eq!(code, 1);
    assert!(err.contains("TT_ERR_CHECKSUM"), "{err}");

    // Key file problems: empty (after stripping newlines) and missing.
    let (code, _, err) = run!("sign", "--key-file", &empty, &m);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = run!("verify", "--key-file", &d.0.join("nope"), &out);
    assert_eq!(code, 1);
    // Usage errors.
    assert_eq!(run!("sign", &m).0, 2);
    assert_eq!(run!("sign", "--key-file").0, 2);
    assert_eq!(run!("verify").0, 2);
    // Signing an invalid file fails and leaves it alone.
    let junk = d.file("junk.ttm", b"not a model");
    assert_eq!(run!("sign", "--key-file", &key, &junk).0, 1);
    assert_eq!(std::fs::read(&junk).unwrap(), b"not a model");

    // In place (no -o): the file becomes the signed one.
    let (code, _, err) = run!("sign", "--key-file", &key, &m);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&m).unwrap(), signed());
    // Re-signing with another key replaces the trailer.
    assert_eq!(run!("sign", "--key-file", &key2, &m).0, 0);
    assert_eq!(run!("verify", "--key-file", &key2, &m).0, 0);
    assert_eq!(run!("verify", "--key-file", &key, &m).0, 1);
    assert_eq!(
        std::fs::read(&m).unwrap().len(),
        model().len() + TRAILER_LEN
    );
}
