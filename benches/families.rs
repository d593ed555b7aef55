//! Issue 12's families, timed against a gcc -O3 if/else of the same trees in one process.
//!
//! Driven by `benches/compare/families.sh` (which builds the if/else and adds scikit-learn and
//! ONNX Runtime); by hand:
//!
//! ```text
//! cargo bench --bench families -- stats                 # shape, E[path], chosen kernel
//! cargo bench --bench families -- stats-json            # the tree names, one JSON per line
//! cargo bench --bench families -- gen DIR               # .ttm, tree JSON, sample rows
//! cargo bench --bench families -- time DIR IFELSE.so    # one JSON object per tree on stdout
//! ```
//!
//! Environment: `TT_SEED` (default 12) picks the trees, `TT_POOL_MB` (default 56) sizes each
//! int8 row pool (from memory: at least 50 MB), `TT_ROUNDS` (default 9) the alternating rounds,
//! `TT_FAMILY` (comma-separated tree names, default all) keeps only those trees.
//!
//! Timing: each round runs every variant once over the whole pool, in a rotating order (so no
//! variant always follows the same one), and measures the thread's CPU time (the machine is
//! shared). Reported: per-row medians over rounds, and the median over rounds of the paired
//! ratio thetatree-chosen / if/else measured in the same round.

mod gen;

use gen::{families, Generated};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt::Write as _;
use std::path::Path;
use thetatree::ffi::*;
use thetatree::traverse::Kernel;
use thetatree::Model;

/// Rows written for the Python side (scikit-learn, ONNX Runtime and the parity check).
const SAMPLE_ROWS: usize = 20_000;

extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
}
#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}
const CLOCK_THREAD_CPUTIME_ID: c_int = 3;
const RTLD_NOW: c_int = 2;

fn thread_ns() -> f64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (x86_64/aarch64 Linux layout: two i64).
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.sec as f64 * 1e9 + ts.nsec as f64
}

type IfElse = unsafe extern "C" fn(*const i8, *mut f64);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn trees() -> Vec<Generated> {
    let all = families::issue12_trees(env_usize("TT_SEED", 12) as u64);
    let Ok(only) = std::env::var("TT_FAMILY") else {
        return all;
    };
    let wanted: Vec<&str> = only.split(',').collect();
    if let Some(bad) = wanted.iter().find(|&&n| !all.iter().any(|g| g.name == n)) {
        let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
        eprintln!(
            "TT_FAMILY: no tree named {bad:?} (trees: {})",
            names.join(", ")
        );
        std::process::exit(2);
    }
    all.into_iter()
        .filter(|g| wanted.contains(&g.name.as_str()))
        .collect()
}

/// Expected path length from the stats: sum over leaves of depth * n_samples / n_root.
fn expected_path(g: &Generated) -> f64 {
    let nodes = &g.spec.nodes;
    let mut depth = vec![0u32; nodes.len()];
    let mut e = 0.0;
    for (i, n) in nodes.iter().enumerate() {
        match *n {
            thetatree::format::NodeSpec::Split { left, right, .. } => {
                depth[left as usize] = depth[i] + 1;
                depth[right as usize] = depth[i] + 1;
            }
            thetatree::format::NodeSpec::Leaf { .. } => e += depth[i] as f64 * g.spec.stats[i][0],
        }
    }
    e / g.spec.stats[0][0]
}

fn describe(g: &Generated) -> String {
    let m = Model::from_bytes(&g.bytes).expect("generated model validates");
    format!(
        "{}: {} nodes, {} leaves, depth {}, {} features, E[path] {:.1} (from the file: {:.2}), kernel {}{}",
        g.name,
        g.n_nodes(),
        m.n_leaves(),
        g.depth(),
        g.n_features,
        expected_path(g),
        m.layout().expected_path(),
        m.tree().kernel().name(),
        if m.tree().chain_runs() && m.tree().kernel() != Kernel::Native {
            " with runs"
        } else {
            ""
        }
    ) + &format!(", native code {} bytes", m.native_code_len())
}

/// The tree as JSON for the Python side: per node `[feature, left, right, missing_right]` or
/// `[-1, c0, c1, p0, p1]` (counts and probabilities printed so that they read back exactly).
fn tree_json(g: &Generated) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"name\":\"{}\",\"n_features\":{},\"depth\":{},\"expected_path\":{},\"nodes\":[",
        g.name,
        g.n_features,
        g.depth(),
        expected_path(g)
    );
    for (i, n) in g.spec.nodes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match *n {
            thetatree::format::NodeSpec::Split {
                feature,
                left,
                right,
                missing_right,
            } => {
                let _ = write!(s, "[{feature},{left},{right},{}]", u8::from(missing_right));
            }
            thetatree::format::NodeSpec::Leaf { probabilities, .. } => {
                let st = g.spec.stats[i];
                let _ = write!(
                    s,
                    "[-1,{:?},{:?},{:?},{:?}]",
                    st[1], st[2], probabilities[0], probabilities[1]
                );
            }
        }
    }
    s.push_str("]}");
    s
}

fn pool_rows(g: &Generated) -> usize {
    (env_usize("TT_POOL_MB", 56) << 20) / g.n_features
}

fn gen_files(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create output directory");
    for g in trees() {
        eprintln!("{}", describe(&g));
        std::fs::write(dir.join(format!("{}.ttm", g.name)), &g.bytes).expect("write .ttm");
        std::fs::write(dir.join(format!("{}.tree.json", g.name)), tree_json(&g))
            .expect("write tree JSON");
        let x = gen::rows_i8(&g, 7, SAMPLE_ROWS, 0.0);
        let bytes: Vec<u8> = x.iter().map(|&v| v as u8).collect();
        std::fs::write(dir.join(format!("{}.sample.i8", g.name)), bytes).expect("write rows");
    }
}

/// The variants timed per tree, in the order of the table.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Chosen,
    /// A kernel forced, with run scanning on or off (runs only apply to branchy walks).
    Forced(Kernel, bool),
    /// The native-code kernel (feature `native`), generated for every tree whatever the
    /// choice; the interpreter's branchy walk where the build has no native code.
    Native,
    Bits,
    Csr,
    IfElse,
    /// Not a prediction: one load per cache line of every row (the cost of reading the pool
    /// from memory, a floor for any walk that touches most of a row's lines).
    Scan,
}

impl Variant {
    fn key(self) -> String {
        match self {
            Variant::Chosen => "chosen".into(),
            Variant::Forced(k, false) => k.name().into(),
            Variant::Forced(k, true) => format!("{}+runs", k.name()),
            Variant::Native => "native".into(),
            Variant::Bits => "bits".into(),
            Variant::Csr => "csr".into(),
            Variant::IfElse => "ifelse".into(),
            Variant::Scan => "scan".into(),
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_all(dir: &Path, so: &Path) {
    let so_c = CString::new(so.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: dlopen of the generated if/else library (plain C functions, no constructors).
    let lib = unsafe { dlopen(so_c.as_ptr(), RTLD_NOW) };
    if lib.is_null() {
        // SAFETY: dlerror returns a NUL-terminated message after a failed dlopen.
        let e = unsafe { CStr::from_ptr(dlerror()) };
        panic!("dlopen {}: {}", so.display(), e.to_string_lossy());
    }
    let rounds = env_usize("TT_ROUNDS", 9);
    for g in trees() {
        eprintln!("{}", describe(&g));
        let sym = CString::new(format!("ifelse_{}", g.name)).expect("no NUL");
        // SAFETY: `lib` is a live handle and `sym` a NUL-terminated name.
        let f = unsafe { dlsym(lib, sym.as_ptr()) };
        assert!(!f.is_null(), "no symbol {:?} in {}", sym, so.display());
        // SAFETY: the generated functions have exactly this signature.
        let ifelse: IfElse = unsafe { std::mem::transmute::<*mut c_void, IfElse>(f) };
        let nf = g.n_features;
        let n = pool_rows(&g);
        let x = gen::rows_i8(&g, 99, n, 0.0);
        let (bits, _) = gen::pack_bits(&x, nf);
        let (off, idx) = gen::to_csr(&x, nf);
        let model = Model::from_bytes(&g.bytes).expect("generated model validates");
        // Load time without and with native code (median of 5 loads each; wall clock).
        let load_ms = |native: bool| {
            let mut t: Vec<f64> = (0..5)
                .map(|_| {
                    let t0 = std::time::Instant::now();
                    let mut m = Model::from_bytes_with(
                        &g.bytes,
                        thetatree::OpenOptions::default().interpret(true),
                    )
                    .expect("generated model validates");
                    if native {
                        m.force_native();
                    }
                    std::hint::black_box(&m);
                    t0.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            median(&mut t)
        };
        let (interp_load_ms, native_load_ms) = (load_ms(false), load_ms(true));
        let mut native_model = Model::from_bytes(&g.bytes).expect("generated model validates");
        native_model.force_native();
        let native_code_bytes = native_model.native_code_len();
        let mut cm = std::ptr::null_mut();
        // SAFETY: valid buffer and out-pointer.
        let rc = unsafe {
            tt_load_bytes(
                g.bytes.as_ptr(),
                g.bytes.len(),
                0,
                &mut cm,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, TT_OK);
        let variants = [
            Variant::Chosen,
            Variant::Forced(Kernel::Branchy, false),
            Variant::Forced(Kernel::Branchy, true),
            Variant::Forced(Kernel::BranchFree, false),
            Variant::Native,
            Variant::Bits,
            Variant::Csr,
            Variant::Scan,
            Variant::IfElse,
        ];
        let mut outs: Vec<Vec<f64>> = variants.iter().map(|_| vec![0.0; 2 * n]).collect();
        let mut times: Vec<Vec<f64>> = variants.iter().map(|_| Vec::new()).collect();
        let mut ratio = Vec::new();
        let mut ratio_native = Vec::new();
        let native_at = variants
            .iter()
            .position(|&v| v == Variant::Native)
            .expect("native is timed");
        let run = |v: Variant, out: &mut [f64]| {
            match v {
                // SAFETY: x holds n * nf cells, out 2 * n doubles; cm is live.
                Variant::Chosen => unsafe {
                    let rc = tt_predict_proba(
                        cm,
                        x.as_ptr(),
                        n,
                        nf,
                        out.as_mut_ptr(),
                        2 * n,
                        std::ptr::null_mut(),
                    );
                    assert_eq!(rc, TT_OK);
                },
                Variant::Forced(k, runs) => model
                    .tree()
                    .with_kernel(k)
                    .with_chain_runs(runs)
                    .predict_proba(&x, n, out)
                    .expect("predict"),
                Variant::Native => native_model
                    .tree()
                    .predict_proba(&x, n, out)
                    .expect("predict"),
                // SAFETY: bits holds n * words_per_row words; no mask; out as above.
                Variant::Bits => unsafe {
                    let rc = tt_predict_proba_bits(
                        cm,
                        bits.as_ptr(),
                        std::ptr::null(),
                        n,
                        nf,
                        out.as_mut_ptr(),
                        2 * n,
                        std::ptr::null_mut(),
                    );
                    assert_eq!(rc, TT_OK);
                },
                // SAFETY: off has n + 1 entries, idx off[n] indices; out as above.
                Variant::Csr => unsafe {
                    let rc = tt_predict_proba_csr(
                        cm,
                        off.as_ptr(),
                        idx.as_ptr(),
                        idx.len(),
                        n,
                        nf,
                        out.as_mut_ptr(),
                        2 * n,
                        std::ptr::null_mut(),
                    );
                    assert_eq!(rc, TT_OK);
                },
                Variant::Scan => {
                    let mut acc = 0u8;
                    for line in x.chunks(64) {
                        acc = acc.wrapping_add(line[0] as u8);
                    }
                    out[0] = f64::from(std::hint::black_box(acc));
                }
                Variant::IfElse => {
                    for r in 0..n {
                        // SAFETY: row r has nf cells; out holds 2 doubles at 2r.
                        unsafe { ifelse(x.as_ptr().add(r * nf), out.as_mut_ptr().add(2 * r)) };
                    }
                }
            }
        };
        // Warm-up round (page faults of the outputs, code in cache).
        for (k, &v) in variants.iter().enumerate() {
            run(v, &mut outs[k]);
        }
        for round in 0..rounds {
            let mut t_round = vec![0.0; variants.len()];
            for j in 0..variants.len() {
                let k = (j + round) % variants.len();
                let t0 = thread_ns();
                run(variants[k], &mut outs[k]);
                t_round[k] = (thread_ns() - t0) / n as f64;
                times[k].push(t_round[k]);
            }
            ratio.push(t_round[0] / t_round[variants.len() - 1]);
            ratio_native.push(t_round[native_at] / t_round[variants.len() - 1]);
        }
        let reference = &outs[variants.len() - 1];
        let runs = if model.tree().chain_runs() && model.tree().kernel() != Kernel::Native {
            "+runs"
        } else {
            ""
        };
        let kernel_label = format!("{}{runs}", model.tree().kernel().name());
        let mut js = format!(
            "{{\"name\":\"{}\",\"nodes\":{},\"leaves\":{},\"depth\":{},\"n_features\":{},\"expected_path\":{:.2},\"kernel\":\"{}\",\"rows\":{},\"pool_mb\":{:.1},\"rounds\":{},\"ratio_chosen_ifelse\":{:.4}",
            g.name,
            g.n_nodes(),
            model.n_leaves(),
            g.depth(),
            nf,
            expected_path(&g),
            kernel_label,
            n,
            (n * nf) as f64 / (1 << 20) as f64,
            rounds,
            median(&mut ratio)
        );
        let _ = write!(
            js,
            ",\"ratio_native_ifelse\":{:.4},\"native_code_bytes\":{},\"native_load_ms\":{:.3},\"interp_load_ms\":{:.3}",
            median(&mut ratio_native),
            native_code_bytes,
            native_load_ms,
            interp_load_ms
        );
        for (k, v) in variants.iter().enumerate() {
            if *v == Variant::Scan {
                let _ = write!(js, ",\"scan_ns\":{:.3}", median(&mut times[k]));
                continue;
            }
            let exact = outs[k]
                .iter()
                .zip(reference)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            let _ = write!(
                js,
                ",\"{0}_ns\":{1:.3},\"{0}_parity\":\"{2}\"",
                v.key(),
                median(&mut times[k]),
                if exact { "exact" } else { "DIFFERS" }
            );
        }
        js.push('}');
        println!("{js}");
        // thetatree's probabilities on the sample rows, for the scikit-learn parity check.
        let sample = gen::rows_i8(&g, 7, SAMPLE_ROWS, 0.0);
        let mut p = vec![0.0; 2 * SAMPLE_ROWS];
        model
            .tree()
            .predict_proba(&sample, SAMPLE_ROWS, &mut p)
            .expect("predict sample");
        let bytes: Vec<u8> = p.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join(format!("{}.tt.f64", g.name)), bytes).expect("write outputs");
        // SAFETY: cm came from tt_load_bytes and is freed once.
        unsafe { tt_free(cm) };
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["stats"] | [] => {
            for g in trees() {
                println!("{}", describe(&g));
            }
            // Issue 4's trees (the criterion budgets'), for the kernel choice.
            for g in gen::issue4_trees() {
                println!("{}", describe(&g));
            }
        }
        ["stats-json"] => {
            for g in trees() {
                println!("{{\"name\":\"{}\"}}", g.name);
            }
        }
        ["gen", dir] => gen_files(Path::new(dir)),
        ["time", dir, so] => time_all(Path::new(dir), Path::new(so)),
        other => {
            eprintln!("usage: families [stats | gen DIR | time DIR IFELSE.so], got {other:?}");
            std::process::exit(2);
        }
    }
}
