//! Safe replacement of model files.
//!
//! The supported way to publish a new model over a path that processes have loaded is to write
//! a new file in the same directory, fsync it, `rename(2)` it over the old path and fsync the
//! directory (the CLI's `compile -o` and `sign` do exactly that). A handle that was loaded
//! before keeps serving the old model: a memory map refers to the old inode, which lives on
//! until it is unmapped; a copied model never looks at the file again. A new load sees the new
//! file. Readers never see a mix.
//!
//! Rewriting a file *in place* (truncate + write, `cp` over it, `>` redirection) is NOT
//! supported for memory-mapped models (the default `tt_load` mode): the mapping is shared with
//! the page cache, so a mapped model would observe the changed bytes after validation (breaking
//! the invariants the allocation-free traversal relies on) or, if the file shrinks, the process
//! receives SIGBUS on the next access, which the library cannot catch and must not try to
//! (hosts such as the JVM and Go own the signal handlers). When files may be rewritten in place,
//! load with `TT_LOAD_COPY` (`OpenOptions { copy: true, .. }`): the model then lives in an owned
//! buffer and is immune to anything done to the file afterwards, as the last tests show. Those
//! hazards are documented, not exercised: triggering them is undefined behaviour.

use std::ffi::{CStr, CString};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use thetatree::compile::{compile, CompileOptions};
use thetatree::error::code::*;
use thetatree::ffi::*;
use thetatree::{Model, OpenOptions};

/// Version `v`: a stump on feature "x" whose leaves depend on the parity of `v`, plus a second,
/// `v`-dependent count so that every version's bytes (and digest) differ.
fn model_bytes(v: u32) -> Vec<u8> {
    let (a, b) = if v % 2 == 0 {
        ([4, 1], [0, 3])
    } else {
        ([0, 3], [4, 1])
    };
    let json = format!(
        r#"{{"type":"split","feature_idx":0,"feature_name":"x","n_samples":{n},"class_counts":[{c0},{c1}],
            "left":{{"type":"leaf","n_samples":5,"class_counts":[{},{}]}},
            "right":{{"type":"leaf","n_samples":{r},"class_counts":[{},{}]}}}}"#,
        a[0],
        a[1],
        b[0],
        b[1] + v,
        n = 8 + v,
        c0 = a[0] + b[0],
        c1 = a[1] + b[1] + v,
        r = 3 + v,
    );
    let opts = CompileOptions {
        model_version: Some(format!("v{v}")),
        ..Default::default()
    };
    compile(&json, &opts).unwrap()
}

/// Labels for rows [0], [1], [-1] and P(class 1) of row [1], as version `v` gives them.
fn expected(v: u32) -> ([i32; 3], f64) {
    let m = Model::from_bytes(&model_bytes(v)).unwrap();
    predict(&m)
}

fn predict(m: &Model) -> ([i32; 3], f64) {
    let mut l = [9; 3];
    m.tree().predict(&[0i8, 1, -1], 3, &mut l).unwrap();
    let mut p = [0.0; 2];
    m.tree().predict_proba(&[1i8], 1, &mut p).unwrap();
    (l, p[1])
}

fn ffi_predict(m: *const tt_model) -> ([i32; 3], f64) {
    let mut l = [9; 3];
    let mut p = [0.0; 2];
    let e = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict(m, [0i8, 1, -1].as_ptr(), 3, 1, l.as_mut_ptr(), 3, e) },
        TT_OK
    );
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_predict_proba(m, [1i8].as_ptr(), 1, 1, p.as_mut_ptr(), 2, e) },
        TT_OK
    );
    (l, p[1])
}

fn ffi_version(m: *const tt_model) -> String {
    // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
    unsafe { CStr::from_ptr(tt_model_version(m)) }
        .to_str()
        .unwrap()
        .to_string()
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("thetatree-replace-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Publish `bytes` at `path` the safe way: temp file in the same directory, fsync, rename,
/// fsync the directory.
fn replace_atomically(path: &Path, bytes: &[u8]) {
    let dir = path.parent().unwrap();
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_str().unwrap()
    ));
    let mut f = fs::File::create(&tmp).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::rename(&tmp, path).unwrap();
    fs::File::open(dir).unwrap().sync_all().unwrap();
}

fn cpath(p: &Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

#[test]
fn versions_differ() {
    assert_ne!(expected(1), expected(2));
    assert_ne!(model_bytes(2), model_bytes(4));
}

/// Load, replace by rename, repeat: every handle keeps its own version.
fn rename_replacement(copy: bool) {
    let d = TempDir::new(if copy { "rename-copy" } else { "rename-mmap" });
    let path = d.0.join("model.ttm");
    replace_atomically(&path, &model_bytes(1));
    let opts = OpenOptions {
        copy,
        verify_key: None,
        ..Default::default()
    };
    let mut handles = vec![];
    for v in 1..=12u32 {
        let m = Model::open(&path, opts).unwrap();
        assert_eq!(m.is_mmapped(), !copy);
        assert_eq!(m.model_version(), format!("v{v}"));
        handles.push((v, m));
        replace_atomically(&path, &model_bytes(v + 1));
        // Every earlier handle still serves its own version, bytes and digest.
        for (hv, h) in &handles {
            assert_eq!(h.model_version(), format!("v{hv}"));
            assert_eq!(
                predict(h),
                expected(*hv),
                "handle v{hv} after publishing v{}",
                v + 1
            );
            assert_eq!(h.model_bytes(), &model_bytes(*hv)[..]);
        }
    }
    // A new load serves the newest.
    let m = Model::open(&path, opts).unwrap();
    assert_eq!(m.model_version(), "v13");
    assert_eq!(predict(&m), expected(13));
}

#[test]
#[cfg_attr(miri, ignore = "file system and mmap")]
fn rename_replacement_mmap() {
    rename_replacement(false);
}

#[test]
#[cfg_attr(miri, ignore = "file system")]
fn rename_replacement_copy() {
    rename_replacement(true);
}

#[test]
#[cfg_attr(miri, ignore = "file system and mmap")]
fn rename_replacement_through_the_c_abi() {
    let d = TempDir::new("ffi");
    let path = d.0.join("model.ttm");
    replace_atomically(&path, &model_bytes(1));
    for flags in [TT_LOAD_DEFAULT, TT_LOAD_COPY] {
        replace_atomically(&path, &model_bytes(1));
        let mut old: *mut tt_model = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_load(cpath(&path).as_ptr(), flags, &mut old, std::ptr::null_mut()) },
            TT_OK
        );
        let mut digest_old = [0u8; 32];
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(old, digest_old.as_mut_ptr(), 32, std::ptr::null_mut()) },
            TT_OK
        );

        replace_atomically(&path, &model_bytes(2));

        let mut new: *mut tt_model = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_load(cpath(&path).as_ptr(), flags, &mut new, std::ptr::null_mut()) },
            TT_OK
        );
        assert_eq!(ffi_version(old), "v1");
        assert_eq!(ffi_predict(old), expected(1));
        assert_eq!(ffi_version(new), "v2");
        assert_eq!(ffi_predict(new), expected(2));
        let mut d1 = [0u8; 32];
        let mut d2 = [0u8; 32];
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(old, d1.as_mut_ptr(), 32, std::ptr::null_mut()) },
            TT_OK
        );
        assert_eq!(
            // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
            unsafe { tt_model_digest(new, d2.as_mut_ptr(), 32, std::ptr::null_mut()) },
            TT_OK
        );
        assert_eq!(d1, digest_old);
        assert_ne!(d1, d2);
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_free(old) };
        // The new one is unaffected by freeing the old one.
        assert_eq!(ffi_predict(new), expected(2));
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_free(new) };
    }
}

/// Readers keep predicting on the old handle from several threads while the file is replaced
/// (and new handles loaded and freed) over and over.
#[test]
#[cfg_attr(miri, ignore = "file system and mmap")]
fn old_handle_serves_while_the_file_is_replaced_concurrently() {
    let d = TempDir::new("concurrent");
    let path = d.0.join("model.ttm");
    replace_atomically(&path, &model_bytes(1));
    let old = Model::open(&path, OpenOptions::default()).unwrap();
    assert!(old.is_mmapped());
    let want = expected(1);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        assert_eq!(predict(&old), want);
                        assert_eq!(old.model_version(), "v1");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for v in 2..=40u32 {
            replace_atomically(&path, &model_bytes(v));
            let m = Model::open(&path, OpenOptions::default()).unwrap();
            assert_eq!(m.model_version(), format!("v{v}"));
            drop(m);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let total: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(total > 0);
    });
    assert_eq!(predict(&old), want);
}

/// The CLI writes through a temporary file and a rename, so recompiling or signing over a
/// mapped model is safe for the process that has it loaded.
#[test]
#[cfg_attr(miri, ignore = "spawns the CLI")]
fn cli_writes_replace_by_rename() {
    let d = TempDir::new("cli");
    let path = d.0.join("model.ttm");
    replace_atomically(&path, &model_bytes(1));
    let old = Model::open(&path, OpenOptions::default()).unwrap();
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
    let before = ino(&path);
    // Recompile v2 over it with the CLI.
    let export = thetatree::compile::export(&Model::from_bytes(&model_bytes(2)).unwrap());
    let json = d.0.join("v2.json");
    fs::write(&json, export).unwrap();
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_thetatree"))
        .args([
            "compile".as_ref(),
            json.as_os_str(),
            "-o".as_ref(),
            path.as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_ne!(
        ino(&path),
        before,
        "the CLI must replace the file, not rewrite it"
    );
    assert_eq!(old.model_version(), "v1");
    assert_eq!(predict(&old), expected(1));
    let new = Model::open(&path, OpenOptions::default()).unwrap();
    assert_eq!(new.model_version(), "v2");
    assert_eq!(predict(&new), expected(2));
    // Signing in place is a rename too.
    let key = d.0.join("key");
    fs::write(&key, "k").unwrap();
    let before = ino(&path);
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_thetatree"))
        .args([
            "sign".as_ref(),
            "--key-file".as_ref(),
            key.as_os_str(),
            path.as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(st.status.success());
    assert_ne!(ino(&path), before);
    assert!(!new.is_signed());
    assert_eq!(predict(&new), expected(2));
    // No temporary files are left behind.
    let left: Vec<_> = fs::read_dir(&d.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// With TT_LOAD_COPY, rewriting the file in place (same inode: truncate + write, then truncate
/// to nothing, then garbage) does not affect the loaded model.
#[test]
#[cfg_attr(miri, ignore = "file system")]
fn copy_mode_is_immune_to_in_place_rewrites() {
    let d = TempDir::new("inplace");
    let path = d.0.join("model.ttm");
    fs::write(&path, model_bytes(1)).unwrap();
    let m = Model::open(
        &path,
        OpenOptions {
            copy: true,
            verify_key: None,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!m.is_mmapped());
    let mut c: *mut tt_model = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_load(
                cpath(&path).as_ptr(),
                TT_LOAD_COPY,
                &mut c,
                std::ptr::null_mut(),
            )
        },
        TT_OK
    );
    let digest = *m.digest();
    let ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());

    // In place: same inode, new contents.
    fs::write(&path, model_bytes(2)).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap()),
        ino
    );
    assert_eq!(m.model_version(), "v1");
    assert_eq!(predict(&m), expected(1));
    assert_eq!(ffi_version(c), "v1");
    assert_eq!(ffi_predict(c), expected(1));
    // A new load sees the new contents.
    let m2 = Model::open(
        &path,
        OpenOptions {
            copy: true,
            verify_key: None,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m2.model_version(), "v2");

    // Truncated to nothing, then overwritten with garbage.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_eq!(predict(&m), expected(1));
    assert_eq!(ffi_predict(c), expected(1));
    fs::write(&path, vec![0xFFu8; 4096]).unwrap();
    assert_eq!(predict(&m), expected(1));
    assert_eq!(ffi_predict(c), expected(1));
    assert_eq!(m.digest(), &digest);
    assert_eq!(m.model_bytes(), &model_bytes(1)[..]);
    assert_eq!(ffi_version(c), "v1");
    // Loading now fails cleanly, and the loaded models are untouched by that too.
    let mut x: *mut tt_model = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe {
            tt_load(
                cpath(&path).as_ptr(),
                TT_LOAD_COPY,
                &mut x,
                std::ptr::null_mut(),
            )
        },
        TT_ERR_BAD_MAGIC
    );
    assert!(x.is_null());
    assert_eq!(ffi_predict(c), expected(1));
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(c) };
}

/// The same immunity for models loaded from memory without TT_LOAD_BORROW: the caller's buffer
/// may be reused at once.
#[test]
fn copied_bytes_are_immune_to_buffer_reuse() {
    let mut buf = model_bytes(1);
    let m = Model::from_bytes(&buf).unwrap();
    let mut c: *mut tt_model = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
        unsafe { tt_load_bytes(buf.as_ptr(), buf.len(), 0, &mut c, std::ptr::null_mut()) },
        TT_OK
    );
    buf.fill(0xAA);
    let v2 = model_bytes(2);
    let n = v2.len().min(buf.len());
    buf[..n].copy_from_slice(&v2[..n]);
    assert_eq!(predict(&m), expected(1));
    assert_eq!(ffi_predict(c), expected(1));
    assert_eq!(ffi_version(c), "v1");
    drop(buf);
    assert_eq!(ffi_predict(c), expected(1));
    // SAFETY: pointers are NULL or valid for the lengths passed; the model is live.
    unsafe { tt_free(c) };
}
