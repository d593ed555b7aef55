//! Latency, throughput and load benchmarks (issue 4), with a naive boxed-tree baseline measured
//! in the same run, and the budget table printed at the end.
//!
//! ```text
//! cargo bench --bench perf                       # everything, then the budget table
//! cargo bench --bench perf -- latency            # a filter, as usual with criterion
//! TT_BUDGETS_ONLY=1 cargo bench --bench perf     # print the table from the last run only
//! ```
//!
//! Environment: `TT_BENCH_POOL_MB` (default 512) sizes the row pools that batch benchmarks walk
//! through, so that batches come from memory rather than cache; `TT_BENCH_QUICK=1` shortens
//! warm-up and measurement (for a smoke run).

mod budgets;
mod gen;

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use gen::{naive, Generated};
use std::ffi::CString;
use std::time::{Duration, Instant};
use thetatree::ffi::*;

/// A loaded model through the C ABI.
struct CModel(*mut tt_model);
impl Drop for CModel {
    fn drop(&mut self) {
        // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
        unsafe { tt_free(self.0) };
    }
}
fn load_c(bytes: &[u8]) -> CModel {
    let mut m = std::ptr::null_mut();
    // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
    let rc = unsafe { tt_load_bytes(bytes.as_ptr(), bytes.len(), 0, &mut m, std::ptr::null_mut()) };
    assert_eq!(rc, TT_OK, "tt_load_bytes");
    CModel(m)
}

fn pool_rows(row_bytes: usize) -> usize {
    let mb: usize = std::env::var("TT_BENCH_POOL_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    (mb << 20) / row_bytes.max(1)
}

/// Row pools for one family of trees (dense 256-column or one-hot 4096-column rows).
struct Pool {
    rows: usize,
    i8: Vec<i8>,
    bits: Vec<u64>,
    csr: Option<(Vec<usize>, Vec<u32>)>,
}

impl Pool {
    fn new(g: &Generated, sparse: bool) -> Pool {
        let nf = g.n_features;
        let rows = pool_rows(nf).max(16384 * 2);
        let t = Instant::now();
        let i8 = gen::rows_i8(g, 99, rows, 0.0);
        let (bits, _) = gen::pack_bits(&i8, nf);
        let csr = sparse.then(|| gen::to_csr(&i8, nf));
        eprintln!(
            "pool for {}: {rows} rows, {} MiB int8, {} MiB bits{} ({:.1?})",
            g.name,
            i8.len() >> 20,
            (bits.len() * 8) >> 20,
            csr.as_ref()
                .map(|(_, i)| format!(
                    ", {} MiB csr ({:.1} ones/row)",
                    (i.len() * 4) >> 20,
                    i.len() as f64 / rows as f64
                ))
                .unwrap_or_default(),
            t.elapsed()
        );
        Pool {
            rows,
            i8,
            bits,
            csr,
        }
    }
    /// Start row of the `k`-th batch of `n` rows, cycling through the pool.
    fn start(&self, k: usize, n: usize) -> usize {
        let slots = self.rows / n;
        (k % slots) * n
    }
}

fn configure() -> Criterion {
    let quick = std::env::var_os("TT_BENCH_QUICK").is_some();
    let (w, m, s) = if quick {
        (100, 300, 10)
    } else {
        (500, 1500, 20)
    };
    Criterion::default()
        .warm_up_time(Duration::from_millis(w))
        .measurement_time(Duration::from_millis(m))
        .sample_size(s)
        .configure_from_args()
}

fn bench_tree(c: &mut Criterion, g: &Generated, pool: &Pool) {
    let m = load_c(&g.bytes);
    let nf = g.n_features;
    let root = naive::build(&g.spec);
    let wpr = gen::words_per_row(nf);
    // SAFETY: the library returns a static or model-owned NUL-terminated string; the model is live.
    let kernel = unsafe { std::ffi::CStr::from_ptr(tt_model_kernel(m.0)) };
    eprintln!(
        "{}: {} nodes, depth {}, kernel {}",
        g.name,
        g.n_nodes(),
        g.depth(),
        kernel.to_str().unwrap_or("?")
    );

    // Single-row latency: rows cycle through 4096 cached rows, so branches see real variety.
    {
        let mut grp = c.benchmark_group(format!("latency_{}", g.name));
        let n_cached = 4096;
        let x = &pool.i8[..n_cached * nf];
        grp.bench_function("tt_predict_proba", |b| {
            let mut out = [0.0f64; 2];
            let mut k = 0usize;
            b.iter(|| {
                k = (k + 1) & (n_cached - 1);
                // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                let rc = unsafe {
                    tt_predict_proba(
                        black_box(m.0),
                        black_box(x[k * nf..].as_ptr()),
                        1,
                        nf,
                        out.as_mut_ptr(),
                        2,
                        std::ptr::null_mut(),
                    )
                };
                black_box((rc, out[1]))
            })
        });
        grp.bench_function("naive", |b| {
            let mut out = [0.0f64; 2];
            let mut k = 0usize;
            b.iter(|| {
                k = (k + 1) & (n_cached - 1);
                let r =
                    naive::predict_proba(&root, black_box(&x[k * nf..(k + 1) * nf]), nf, &mut out);
                black_box((r, out[1]))
            })
        });
        grp.finish();
    }

    // Batch throughput, rows from the pool (memory).
    {
        let mut grp = c.benchmark_group(format!("batch_{}", g.name));
        for n in [1usize, 64, 1024, 16384] {
            grp.throughput(Throughput::Elements(n as u64));
            let mut out = vec![0.0f64; 2 * n];
            grp.bench_with_input(BenchmarkId::new("i8", n), &n, |b, &n| {
                let mut k = 0;
                b.iter(|| {
                    let s = pool.start(k, n);
                    k += 1;
                    // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                    let rc = unsafe {
                        tt_predict_proba(
                            m.0,
                            pool.i8[s * nf..].as_ptr(),
                            n,
                            nf,
                            out.as_mut_ptr(),
                            out.len(),
                            std::ptr::null_mut(),
                        )
                    };
                    black_box(rc)
                })
            });
            grp.bench_with_input(BenchmarkId::new("bits", n), &n, |b, &n| {
                let mut k = 0;
                b.iter(|| {
                    let s = pool.start(k, n);
                    k += 1;
                    // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                    let rc = unsafe {
                        tt_predict_proba_bits(
                            m.0,
                            pool.bits[s * wpr..].as_ptr(),
                            std::ptr::null(),
                            n,
                            nf,
                            out.as_mut_ptr(),
                            out.len(),
                            std::ptr::null_mut(),
                        )
                    };
                    black_box(rc)
                })
            });
            if let Some((off, idx)) = &pool.csr {
                grp.bench_with_input(BenchmarkId::new("csr", n), &n, |b, &n| {
                    let mut k = 0;
                    b.iter(|| {
                        let s = pool.start(k, n);
                        k += 1;
                        // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                        let rc = unsafe {
                            tt_predict_proba_csr(
                                m.0,
                                off[s..].as_ptr(),
                                idx.as_ptr(),
                                idx.len(),
                                n,
                                nf,
                                out.as_mut_ptr(),
                                out.len(),
                                std::ptr::null_mut(),
                            )
                        };
                        black_box(rc)
                    })
                });
            }
            grp.bench_with_input(BenchmarkId::new("naive", n), &n, |b, &n| {
                let mut k = 0;
                b.iter(|| {
                    let s = pool.start(k, n);
                    k += 1;
                    let r =
                        naive::predict_proba(&root, &pool.i8[s * nf..(s + n) * nf], nf, &mut out);
                    black_box(r)
                })
            });
        }
        // Rows in cache: 1024-row batches cycling over 4 such batches.
        let n = 1024;
        grp.throughput(Throughput::Elements(n as u64));
        let mut out = vec![0.0f64; 2 * n];
        grp.bench_with_input(BenchmarkId::new("i8_cached", n), &n, |b, &n| {
            let mut k = 0;
            b.iter(|| {
                let s = (k & 3) * n;
                k += 1;
                // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                let rc = unsafe {
                    tt_predict_proba(
                        m.0,
                        pool.i8[s * nf..].as_ptr(),
                        n,
                        nf,
                        out.as_mut_ptr(),
                        out.len(),
                        std::ptr::null_mut(),
                    )
                };
                black_box(rc)
            })
        });
        grp.bench_with_input(BenchmarkId::new("naive_cached", n), &n, |b, &n| {
            let mut k = 0;
            b.iter(|| {
                let s = (k & 3) * n;
                k += 1;
                let r = naive::predict_proba(&root, &pool.i8[s * nf..(s + n) * nf], nf, &mut out);
                black_box(r)
            })
        });
        grp.finish();
    }
    naive::drop_deep(root);
}

/// Resident set from /proc/self/status: (anonymous, file-backed) in KiB.
fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn bench_load(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("thetatree-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut memory =
        String::from("nodes\tfile_bytes\tmode\tload_ms_once\trss_anon_kib\trss_file_kib\n");
    let mut grp = c.benchmark_group("load");
    for target in [1_000usize, 10_000, 100_000, 1_000_000] {
        let g = gen::dense_sized(target);
        let label = format!("{}k", target / 1000);
        let path = dir.join(format!("{label}.ttm"));
        std::fs::write(&path, &g.bytes).unwrap();
        let cpath = CString::new(path.to_str().unwrap()).unwrap();
        eprintln!(
            "load model {label}: {} nodes, {} bytes",
            g.n_nodes(),
            g.bytes.len()
        );
        grp.throughput(Throughput::Bytes(g.bytes.len() as u64));
        let load_path = |flags: u32| {
            let mut m = std::ptr::null_mut();
            // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
            let rc = unsafe { tt_load(cpath.as_ptr(), flags, &mut m, std::ptr::null_mut()) };
            assert_eq!(rc, TT_OK);
            m
        };
        let load_bytes = || {
            let mut m = std::ptr::null_mut();
            // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
            let rc = unsafe {
                tt_load_bytes(
                    g.bytes.as_ptr(),
                    g.bytes.len(),
                    0,
                    &mut m,
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(rc, TT_OK);
            m
        };
        // Memory: resident growth of one load, each mode (the file is in the page cache).
        for (mode, f) in [
            (
                "mmap",
                &(|| load_path(TT_LOAD_DEFAULT)) as &dyn Fn() -> *mut tt_model,
            ),
            ("copy", &|| load_path(TT_LOAD_COPY)),
            ("bytes", &load_bytes),
        ] {
            let before = rss_kib();
            let t = Instant::now();
            let m = f();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let after = rss_kib();
            memory += &format!(
                "{}\t{}\t{mode}\t{ms:.3}\t{}\t{}\n",
                g.n_nodes(),
                g.bytes.len(),
                after.0 as i64 - before.0 as i64,
                after.1 as i64 - before.1 as i64
            );
            // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
            unsafe { tt_free(m) };
        }
        for (mode, flags) in [("mmap", TT_LOAD_DEFAULT), ("copy", TT_LOAD_COPY)] {
            grp.bench_function(BenchmarkId::new(mode, &label), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let t = Instant::now();
                        let m = load_path(flags);
                        total += t.elapsed();
                        // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                        unsafe { tt_free(m) };
                    }
                    total
                })
            });
        }
        grp.bench_function(BenchmarkId::new("bytes", &label), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let m = load_bytes();
                    total += t.elapsed();
                    // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
                    unsafe { tt_free(m) };
                }
                total
            })
        });
    }
    grp.finish();
    let _ = std::fs::remove_dir_all(&dir);
    let out = budgets::criterion_dir().join("thetatree_memory.tsv");
    let _ = std::fs::create_dir_all(budgets::criterion_dir());
    let _ = std::fs::write(&out, &memory);
    eprintln!(
        "\nresident memory per load (written to {}):\n{memory}",
        out.display()
    );
}

fn main() {
    if std::env::var_os("TT_BUDGETS_ONLY").is_some() {
        budgets::print();
        return;
    }
    let mut c = configure();
    let trees = gen::issue4_trees();
    let dense_pool = Pool::new(&trees[0], false);
    for g in &trees[..3] {
        bench_tree(&mut c, g, &dense_pool);
        bench_explain(&mut c, g, &dense_pool);
    }
    drop(dense_pool);
    let onehot_pool = Pool::new(&trees[3], true);
    bench_tree(&mut c, &trees[3], &onehot_pool);
    bench_explain(&mut c, &trees[3], &onehot_pool);
    drop(onehot_pool);
    bench_load(&mut c);
    c.final_summary();
    budgets::print();
}

/// Rows per iteration of the explanation group.
const EXPLAIN_ROWS: usize = 1024;

/// Explanations (issue 15): `explain_<tree>/{proba,leaf,contrib}`, each a batch of
/// [`EXPLAIN_ROWS`] int8 rows from the pool (memory) through the C ABI, so that leaf indices
/// and contributions are measured against `tt_predict_proba` in the same run (budgets: leaf
/// <= 1.1x proba, contrib <= 2x proba).
fn bench_explain(c: &mut Criterion, g: &Generated, pool: &Pool) {
    let m = load_c(&g.bytes);
    let (nf, n) = (g.n_features, EXPLAIN_ROWS);
    let mut grp = c.benchmark_group(format!("explain_{}", g.name));
    grp.throughput(Throughput::Elements(n as u64));
    let mut proba = vec![0.0f64; 2 * n];
    let mut leaf = vec![0i32; n];
    let mut contrib = vec![0.0f64; (nf + 1) * n];
    grp.bench_function("proba", |b| {
        let mut k = 0;
        b.iter(|| {
            let s = pool.start(k, n);
            k += 1;
            // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
            black_box(unsafe {
                tt_predict_proba(
                    m.0,
                    pool.i8[s * nf..].as_ptr(),
                    n,
                    nf,
                    proba.as_mut_ptr(),
                    proba.len(),
                    std::ptr::null_mut(),
                )
            })
        })
    });
    grp.bench_function("leaf", |b| {
        let mut k = 0;
        b.iter(|| {
            let s = pool.start(k, n);
            k += 1;
            // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
            black_box(unsafe {
                tt_predict_leaf(
                    m.0,
                    pool.i8[s * nf..].as_ptr(),
                    n,
                    nf,
                    leaf.as_mut_ptr(),
                    leaf.len(),
                    std::ptr::null_mut(),
                )
            })
        })
    });
    grp.bench_function("contrib", |b| {
        let mut k = 0;
        b.iter(|| {
            let s = pool.start(k, n);
            k += 1;
            // SAFETY: the benchmark's buffers are valid for the lengths passed and the model is live.
            black_box(unsafe {
                tt_predict_contrib(
                    m.0,
                    pool.i8[s * nf..].as_ptr(),
                    n,
                    nf,
                    contrib.as_mut_ptr(),
                    contrib.len(),
                    std::ptr::null_mut(),
                )
            })
        })
    });
    grp.finish();
}
