//! The budget table of issue 4, from criterion's saved medians
//! (`<target>/criterion/<group>/<bench>/new/estimates.json`).
//!
//! Targets that issue 4 states relative to other runtimes (the generated if/else, ONNX Runtime,
//! scikit-learn) are turned into ns using the issue's own measurements on this machine kind;
//! `benches/compare/run.sh` measures those runtimes live, in one run, on scikit-learn trees, and
//! prints its own PASS/MISS table.

use std::path::PathBuf;

pub fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// Median ns per iteration of one benchmark, if it has run.
fn median(path: &str) -> Option<f64> {
    let file = criterion_dir().join(path).join("new/estimates.json");
    let text = std::fs::read_to_string(file).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

struct Budget {
    what: String,
    /// Criterion path of the measurement and the number of rows per iteration.
    path: String,
    per: f64,
    /// Naive baseline path (same rows per iteration), for the ratio.
    baseline: Option<String>,
    /// Upper bound in ns (per row / per call / per load) and how it was derived.
    target: f64,
    target_text: String,
}

const TREES: [(&str, &str); 4] = [
    ("dense256_d6", "dense d6"),
    ("dense256_d12", "dense d12"),
    ("dense256_unlimited", "dense unlimited"),
    ("onehot4096_unlimited", "one-hot unlimited"),
];
/// Issue 4's measurements (ns per row): generated if/else batch, ONNX Runtime batch,
/// scikit-learn batch, and single-call ONNX Runtime.
const IFELSE_BATCH: [f64; 4] = [49.0, 93.0, 124.0, 366.0];
const ONNX_BATCH: [f64; 4] = [181.0, 232.0, 254.0, 1155.0];
const SKLEARN_BATCH: [f64; 4] = [291.0, 355.0, 399.0, 3645.0];
const ONNX_1CALL_D6: f64 = 10_900.0;

fn budgets() -> Vec<Budget> {
    let mut v = Vec::new();
    let big = 16384;
    for (k, (tree, name)) in TREES.iter().enumerate() {
        let batch = |input: &str| format!("batch_{tree}/{input}/{big}");
        if k < 3 {
            v.push(Budget {
                what: format!("{name}: batch int8 rows from memory, ns/row"),
                path: batch("i8"),
                per: big as f64,
                baseline: Some(batch("naive")),
                target: 0.8 * IFELSE_BATCH[k],
                target_text: format!("<= 0.8 x if/else {} ns", IFELSE_BATCH[k]),
            });
        } else {
            v.push(Budget {
                what: format!("{name}: batch CSR rows from memory, ns/row"),
                path: batch("csr"),
                per: big as f64,
                baseline: Some(batch("naive")),
                target: 0.5 * IFELSE_BATCH[k],
                target_text: format!("<= 0.5 x if/else {} ns", IFELSE_BATCH[k]),
            });
        }
        let tenth = ONNX_BATCH[k].min(SKLEARN_BATCH[k]) / 10.0;
        v.push(Budget {
            what: format!("{name}: batch int8 vs ONNX/sklearn, ns/row"),
            path: batch("i8"),
            per: big as f64,
            baseline: Some(batch("naive")),
            target: tenth,
            target_text: format!(">= 10x ONNX {} ns", ONNX_BATCH[k]),
        });
        if k == 1 {
            v.push(Budget {
                what: format!("{name}: batch bit-packed rows, ns/row"),
                path: batch("bits"),
                per: big as f64,
                baseline: Some(batch("naive")),
                target: 25.0,
                target_text: "<= 25 ns".into(),
            });
        }
    }
    v.push(Budget {
        what: "dense d6: one tt_predict_proba call, one row".into(),
        path: "latency_dense256_d6/tt_predict_proba".into(),
        per: 1.0,
        baseline: Some("latency_dense256_d6/naive".into()),
        target: 60.0_f64.min(ONNX_1CALL_D6 / 150.0),
        target_text: format!("<= 60 ns and >= 150x ONNX {ONNX_1CALL_D6} ns"),
    });
    for mode in ["mmap", "copy", "bytes"] {
        v.push(Budget {
            what: format!("load 1M-node model ({mode})"),
            path: format!("load/{mode}/1000k"),
            per: 1.0,
            baseline: None,
            target: 20e6,
            target_text: "<= 20 ms".into(),
        });
    }
    v.extend(explain_budgets());
    v
}

/// Issue 15: leaf indices and contributions against `tt_predict_proba` measured in the same
/// run (`explain_<tree>/{proba,leaf,contrib}`, 1024 rows per iteration); the "baseline"
/// columns then show the proba median and proba / call.
fn explain_budgets() -> Vec<Budget> {
    let rows = 1024.0;
    let mut v = Vec::new();
    for (tree, name) in TREES {
        let proba = format!("explain_{tree}/proba");
        let Some(p) = median(&proba).map(|m| m / rows) else {
            continue;
        };
        for (call, factor) in [("leaf", 1.1), ("contrib", 2.0)] {
            v.push(Budget {
                what: format!("{name}: explain {call} vs proba (same run), ns/row"),
                path: format!("explain_{tree}/{call}"),
                per: rows,
                baseline: Some(proba.clone()),
                target: factor * p,
                target_text: format!("<= {factor}x proba {p:.1} ns"),
            });
        }
    }
    v
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

pub fn print() {
    println!(
        "\n## thetatree budgets (issue 4), medians from {}\n",
        criterion_dir().display()
    );
    println!("| budget | median | naive baseline | speed-up vs naive | target | verdict |");
    println!("|---|---:|---:|---:|---|---|");
    for b in budgets() {
        let Some(m) = median(&b.path).map(|m| m / b.per) else {
            println!("| {} | not run | | | {} | - |", b.what, b.target_text);
            continue;
        };
        let base = b.baseline.as_deref().and_then(median).map(|x| x / b.per);
        let (base_s, ratio_s) = match base {
            Some(x) => (fmt_ns(x), format!("{:.1}x", x / m)),
            None => ("-".into(), "-".into()),
        };
        let verdict = if m <= b.target {
            format!("PASS ({:.0} % of budget)", 100.0 * m / b.target)
        } else {
            format!("MISS by {:.0} %", 100.0 * (m / b.target - 1.0))
        };
        println!(
            "| {} | {} | {base_s} | {ratio_s} | {} (= {}) | {verdict} |",
            b.what,
            fmt_ns(m),
            b.target_text,
            fmt_ns(b.target)
        );
    }
    // Every batch median, for reference.
    println!("\n| tree | input | 1 | 64 | 1024 | 16384 (ns/row) | 1024 cached |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (tree, _) in TREES {
        for input in ["i8", "bits", "csr", "naive"] {
            let cells: Vec<String> = [1usize, 64, 1024, 16384]
                .iter()
                .map(|&n| {
                    median(&format!("batch_{tree}/{input}/{n}"))
                        .map_or("-".into(), |m| format!("{:.1}", m / n as f64))
                })
                .collect();
            if cells.iter().all(|c| c == "-") {
                continue;
            }
            let cached = median(&format!("batch_{tree}/{input}_cached/1024"))
                .map_or("-".into(), |m| format!("{:.1}", m / 1024.0));
            println!("| {tree} | {input} | {} | {cached} |", cells.join(" | "));
        }
    }
    let mem = criterion_dir().join("thetatree_memory.tsv");
    if let Ok(t) = std::fs::read_to_string(&mem) {
        println!("\nresident memory after one load ({}):\n", mem.display());
        for l in t.lines() {
            println!("    {l}");
        }
    }
    println!("\nzero allocations per predict call: proven by tests/no_alloc.rs (cargo test --test no_alloc)");
}
