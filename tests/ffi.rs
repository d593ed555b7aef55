//! The C ABI's argument contract, exercised from Rust through the `extern "C"` functions:
//! NULLs, shapes, lengths, alignment, flags, input values, out-parameters, metadata.

mod common;
use common::*;
use std::ffi::{CStr, CString};
use std::ptr;
use thetatree::ffi::*;

fn model_bytes() -> Vec<u8> {
    let m = manifest()
        .into_iter()
        .find(|m| m.name == "mushroom_gini_d5_lgk12")
        .unwrap();
    compile_ref(&m)
}

#[test]
fn null_arguments_are_errors_and_err_may_be_null() {
    let bytes = model_bytes();
    let m = ffi_model(&bytes, 0);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let nf = unsafe { tt_n_features(m) };
    let x = vec![0i8; nf];
    let mut out = [7i32; 1];
    let mut e = new_err();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(ptr::null(), x.as_ptr(), 1, nf, out.as_mut_ptr(), 1, &mut e) },
        TT_ERR_NULL_ARG
    );
    assert!(err_message(&e).contains("model"));
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, ptr::null(), 1, nf, out.as_mut_ptr(), 1, &mut e) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 1, nf, ptr::null_mut(), 1, ptr::null_mut()) },
        TT_ERR_NULL_ARG
    );
    let mut pm = ptr::null_mut();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(ptr::null(), 0, &mut pm, ptr::null_mut()) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_load_bytes(
                bytes.as_ptr(),
                bytes.len(),
                0,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(ptr::null(), 10, 0, &mut pm, ptr::null_mut()) },
        TT_ERR_NULL_ARG
    );
    assert!(pm.is_null(), "*out untouched on failure");
    let mut name = ptr::null();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_name(ptr::null(), 0, &mut name, ptr::null_mut()) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_name(m, 0, ptr::null_mut(), ptr::null_mut()) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_index(m, ptr::null(), &mut 0, ptr::null_mut()) },
        TT_ERR_NULL_ARG
    );
    assert_eq!(
        (
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_features(ptr::null()) },
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_classes(ptr::null()) },
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_nodes(ptr::null()) }
        ),
        (0, 0, 0)
    );
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_model_version(ptr::null()) }.is_null()
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            && unsafe { tt_metadata_json(ptr::null()) }.is_null()
    );
    assert_eq!(out, [7], "nothing written by failed calls");
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(ptr::null_mut()) };
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
}

#[test]
fn shape_length_and_alignment_errors_write_nothing() {
    let bytes = model_bytes();
    let m = ffi_model(&bytes, 0);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let nf = unsafe { tt_n_features(m) };
    let x = vec![0i8; 3 * nf];
    let mut out = [7i32; 3];
    let mut e = new_err();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 3, nf - 1, out.as_mut_ptr(), 3, &mut e) },
        TT_ERR_SHAPE
    );
    assert!(
        err_message(&e).contains(&nf.to_string()),
        "{}",
        err_message(&e)
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict(
                m,
                x.as_ptr(),
                usize::MAX / 2,
                nf,
                out.as_mut_ptr(),
                3,
                &mut e,
            )
        },
        TT_ERR_SHAPE
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 3, nf, out.as_mut_ptr(), 2, &mut e) },
        TT_ERR_LENGTH
    );
    let mut proba = [7f64; 6];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba(m, x.as_ptr(), 3, nf, proba.as_mut_ptr(), 5, &mut e) },
        TT_ERR_LENGTH
    );
    assert_eq!(out, [7; 3]);
    assert_eq!(proba, [7.0; 6]);
    // A misaligned double pointer (input or output).
    let xf = vec![0f64; 2 * nf];
    let mis = xf.as_ptr().wrapping_byte_add(1);
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_f64(m, mis, 1, nf, out.as_mut_ptr(), 3, &mut e) },
        TT_ERR_ALIGNMENT
    );
    let misout = proba.as_mut_ptr().wrapping_byte_add(4);
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba_f64(m, xf.as_ptr(), 1, nf, misout, 4, &mut e) },
        TT_ERR_ALIGNMENT
    );
    // Zero rows: OK, nothing written.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, x.as_ptr(), 0, nf, out.as_mut_ptr(), 0, &mut e) },
        TT_OK
    );
    assert_eq!(out, [7; 3]);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
}

#[test]
fn invalid_values_name_row_column_and_feature_and_earlier_rows_are_written() {
    let bytes = model_bytes();
    let m = ffi_model(&bytes, 0);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    let nf = unsafe { tt_n_features(m) };
    let odor_n = CString::new("odor=n").unwrap();
    let mut root = 0usize;
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_index(m, odor_n.as_ptr(), &mut root, ptr::null_mut()) },
        TT_OK
    );
    assert_eq!(root, 52);
    for bad in [2i8, -2, 127, -128] {
        let mut x = vec![0i8; 3 * nf];
        x[2 * nf + root] = bad;
        let mut out = [7i32; 3];
        let mut e = new_err();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_predict(m, x.as_ptr(), 3, nf, out.as_mut_ptr(), 3, &mut e) },
            TT_ERR_INPUT_VALUE
        );
        assert_eq!(
            (e.code, e.row, e.column),
            (TT_ERR_INPUT_VALUE, 2, root as i64)
        );
        assert!(
            err_message(&e).contains(&format!("value {bad}")) && err_message(&e).contains("odor=n"),
            "{}",
            err_message(&e)
        );
        assert_ne!(out[0], 7, "row 0 was predicted before the bad row");
        assert_eq!(out[2], 7, "the bad row is not written");
    }
    for bad in [0.5, 2.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, 1e-300] {
        let mut x = vec![0f64; nf];
        x[root] = bad;
        let mut out = [0f64; 2];
        let mut e = new_err();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_predict_proba_f64(m, x.as_ptr(), 1, nf, out.as_mut_ptr(), 2, &mut e) },
            TT_ERR_INPUT_VALUE
        );
        assert_eq!((e.row, e.column), (0, root as i64));
    }
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
}

#[test]
fn load_flags_and_file_errors() {
    let bytes = model_bytes();
    let mut m = ptr::null_mut();
    let mut e = new_err();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(bytes.as_ptr(), bytes.len(), 1 << 9, &mut m, &mut e) },
        TT_ERR_FLAGS
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_load_bytes(
                bytes.as_ptr(),
                bytes.len(),
                TT_LOAD_BORROW | TT_LOAD_COPY,
                &mut m,
                &mut e,
            )
        },
        TT_ERR_FLAGS
    );
    let path = CString::new("/nonexistent/model.ttm").unwrap();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(path.as_ptr(), TT_LOAD_BORROW, &mut m, &mut e) },
        TT_ERR_FLAGS
    );
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(path.as_ptr(), 0, &mut m, &mut e) },
        TT_ERR_IO
    );
    assert!(err_message(&e).contains("/nonexistent/model.ttm"));
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(b"GARBAGE!".as_ptr(), 8, 0, &mut m, &mut e) },
        TT_ERR_BAD_MAGIC
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(bytes.as_ptr(), 100, 0, &mut m, &mut e) },
        TT_ERR_TRUNCATED
    );
    let mut flipped = bytes.clone();
    flipped[1000] ^= 0x10;
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(flipped.as_ptr(), flipped.len(), 0, &mut m, &mut e) },
        TT_ERR_CHECKSUM
    );
    assert_eq!(e.byte_offset, 32);
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load(path.as_ptr(), TT_LOAD_REQUIRE_SIGNATURE, &mut m, &mut e) },
        TT_ERR_NO_KEY
    );
    assert!(m.is_null());
    // From a real file, mapped and copied.
    let dir = std::env::temp_dir().join(format!("tt-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("m.ttm");
    std::fs::write(&file, &bytes).unwrap();
    let cpath = CString::new(file.to_str().unwrap()).unwrap();
    for flags in [TT_LOAD_DEFAULT, TT_LOAD_COPY] {
        let mut m = ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_load(cpath.as_ptr(), flags, &mut m, ptr::null_mut()) },
            TT_OK
        );
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        assert_eq!(unsafe { tt_n_nodes(m) }, 23);
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_free(m) };
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn metadata_calls() {
    let bytes = model_bytes();
    let m = ffi_model(&bytes, 0);
    assert_eq!(
        (
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_features(m) },
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_classes(m) },
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_nodes(m) },
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_n_leaves(m) },
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_max_depth(m) }
        ),
        (117, 2, 23, 12, 5)
    );
    let names = input("mushroom", false).names;
    for (i, n) in names.iter().enumerate() {
        let mut p = ptr::null();
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_feature_name(m, i, &mut p, ptr::null_mut()) },
            TT_OK
        );
        // SAFETY: `p` was set by the library to a NUL-terminated string owned by the live model.
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), n);
        let mut idx = usize::MAX;
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_feature_index(m, p, &mut idx, ptr::null_mut()) },
            TT_OK
        );
        assert_eq!(idx, i);
    }
    let mut p = ptr::null();
    let mut e = new_err();
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_name(m, 117, &mut p, &mut e) },
        TT_ERR_NOT_FOUND
    );
    assert!(p.is_null());
    let nope = CString::new("odor=zzz").unwrap();
    let mut idx = 42usize;
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_feature_index(m, nope.as_ptr(), &mut idx, &mut e) },
        TT_ERR_NOT_FOUND
    );
    assert_eq!(idx, 42);
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_class_label(m, 1, &mut p, ptr::null_mut()) },
        TT_OK
    );
    // SAFETY: `p` was set by the library to a NUL-terminated string owned by the live model.
    assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), "1");
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_class_label(m, 2, &mut p, ptr::null_mut()) },
        TT_ERR_NOT_FOUND
    );
    assert_eq!(
        // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
        unsafe { CStr::from_ptr(tt_model_version(m)) }
            .to_str()
            .unwrap(),
        "mushroom_gini_d5_lgk12"
    );
    // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
    let meta = unsafe { CStr::from_ptr(tt_metadata_json(m)) }
        .to_str()
        .unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(meta).unwrap()["hyperparameters"]["criterion"]
            == "gini"
    );
    let crc = u32::from_le_bytes(bytes[32..36].try_into().unwrap());
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_model_crc32(m) }, crc);
    let mut d = [0u8; 32];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_model_digest(m, d.as_mut_ptr(), 31, ptr::null_mut()) },
        TT_ERR_LENGTH
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_model_digest(m, d.as_mut_ptr(), 32, ptr::null_mut()) },
        TT_OK
    );
    assert_eq!(d, thetatree::signature::digest(&bytes));
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    assert_eq!(unsafe { tt_model_is_signed(m) }, 0);
    assert_eq!(tt_abi_version(), TT_ABI_VERSION);
    for s in thetatree::Status::ALL {
        // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
        let name = unsafe { CStr::from_ptr(tt_status_str(s as i32)) }
            .to_str()
            .unwrap();
        assert_eq!(name, s.name());
        assert!(name.starts_with("TT_"));
    }
    assert_eq!(
        // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
        unsafe { CStr::from_ptr(tt_status_str(9999)) }
            .to_str()
            .unwrap(),
        "TT_ERR_UNKNOWN"
    );
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m) };
}

#[test]
fn one_model_serves_many_threads() {
    let bytes = model_bytes();
    let m = ffi_model(&bytes, 0) as usize;
    let inp = input("mushroom", true);
    let (n, nf) = (inp.rows.len(), inp.names.len());
    let x = inp.i8_flat();
    let mut expected = vec![0f64; 2 * n];
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_predict_proba(
                m as *const _,
                x.as_ptr(),
                n,
                nf,
                expected.as_mut_ptr(),
                2 * n,
                ptr::null_mut(),
            )
        },
        TT_OK
    );
    std::thread::scope(|s| {
        for t in 0..8 {
            let (x, expected) = (&x, &expected);
            s.spawn(move || {
                let mut out = vec![0f64; 2 * n];
                for _ in 0..20 {
                    assert_eq!(
                        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
                        unsafe {
                            tt_predict_proba(
                                m as *const _,
                                x.as_ptr(),
                                n,
                                nf,
                                out.as_mut_ptr(),
                                2 * n,
                                ptr::null_mut(),
                            )
                        },
                        TT_OK
                    );
                    assert!(out == *expected, "thread {t}");
                }
            });
        }
    });
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(m as *mut _) };
}
