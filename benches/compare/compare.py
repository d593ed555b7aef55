#!/usr/bin/env python3
"""Issue 4's comparison, in one run on the same rows: thetatree (C and Python ctypes),
scikit-learn predict_proba, ONNX Runtime, and a gcc -O3 if/else function generated from each tree.

Driven by benches/compare/run.sh (which builds thetatree, makes the venv and runs this file):
  compare.py --thetatree BIN --lib LIBDIR --include INCDIR --work DIR

Steps: deterministic synthetic data -> 4 DecisionTreeClassifier trees -> reference JSON + feature
mapping -> `thetatree compile` -> rows files -> generated if/else C + the C harness (gcc -O3) ->
timings -> one table (printed, and written to DIR/results.md and DIR/results.json).

Times are per row (batch) or per call (single row), medians over repeats, measured as the
calling thread's CPU time (this machine is shared; wall time would count other processes).
"""

import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import scipy.sparse
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.tree import DecisionTreeClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_NS = time.thread_time_ns


# ---------------------------------------------------------------- data

def dense_data(rng, n, nf=256):
    """0/1 columns, p = 1/2; the label depends on a few interactions plus 12 % label noise, so
    unlimited trees grow large, like real noisy data."""
    x = (rng.random((n, nf)) < 0.5).astype(np.int8)
    s = (x[:, 0] ^ x[:, 1]) * 1.0 + x[:, 2:12].sum(axis=1) * 0.3 + (x[:, 12] & x[:, 13]) * 1.2
    y = (s > 2.2).astype(np.int64)
    flip = rng.random(n) < 0.12
    y[flip] = 1 - y[flip]
    return x, y


def onehot_groups(nf=4096, group=50):
    groups, freq = [], np.zeros(nf)
    start = 0
    while start < nf:
        end = min(start + group, nf)
        k = np.arange(1, end - start + 1)
        p = 1.0 / k
        freq[start:end] = p / p.sum()
        groups.append((start, end))
        start = end
    return groups, freq


def onehot_data(rng, n, groups, freq, nf=4096):
    """One value per categorical variable (`var=value` columns, Zipf frequencies): ~2 % ones.
    The label depends on a handful of values, with 10 % noise: sketch-like long chains."""
    x = np.zeros((n, nf), dtype=np.int8)
    for s, e in groups:
        p = freq[s:e] / freq[s:e].sum()
        pick = rng.choice(e - s, size=n, p=p)
        x[np.arange(n), s + pick] = 1
    w = np.zeros(nf)
    informative = rng.choice(nf, size=300, replace=False)
    w[informative] = rng.normal(0, 1.5, size=300)
    score = x @ w
    y = (score > np.quantile(score, 0.6)).astype(np.int64)
    flip = rng.random(n) < 0.10
    y[flip] = 1 - y[flip]
    return x, y


# ---------------------------------------------------------------- export

def export_reference(clf, names):
    """sklearn tree -> the reference JSON shape (nodes with type/feature_idx/feature_name/
    n_samples/class_counts/left/right; leaves with prediction/probabilities)."""
    t = clf.tree_
    # sklearn >= 1.4 stores class fractions in `value`; counts = fraction * n (exact integers
    # here: no sample weights).
    def counts(i):
        v = t.value[i][0]
        n = t.n_node_samples[i]
        if abs(v.sum() - 1.0) < 1e-9:
            v = v * n
        return [int(round(v[0])), int(round(v[1]))]

    def node(i, depth):
        c = counts(i)
        d = {"n_samples": int(t.n_node_samples[i]), "class_counts": c, "depth": depth}
        if t.children_left[i] == -1:
            tot = c[0] + c[1]
            d.update(type="leaf", is_leaf=True, prediction=int(c[1] > c[0]),
                     probabilities=[round(c[0] / tot, 4), round(c[1] / tot, 4)])
        else:
            f = int(t.feature[i])
            assert abs(t.threshold[i] - 0.5) < 1e-9, t.threshold[i]
            d.update(type="split", is_leaf=False, feature_idx=f, feature_name=names[f],
                     left=node(t.children_left[i], depth + 1),
                     right=node(t.children_right[i], depth + 1))
        return d

    sys.setrecursionlimit(100000)
    return node(0, 0)


# ---------------------------------------------------------------- if/else codegen

def gen_ifelse(clf, fname, chunk_depth=8):
    """Nested if/else C for the tree. Every `chunk_depth` levels the subtree becomes its own
    static function (reached by a tail call): gcc -O3 needs superlinear time on one huge
    function (it did not finish in 15 minutes for a 21,000-node tree); the split costs a jump."""
    t = clf.tree_
    funcs = []

    def leaf_probs(i):
        v = t.value[i][0]
        if abs(v.sum() - 1.0) < 1e-9:
            v = v * t.n_node_samples[i]
        c0, c1 = float(round(v[0])), float(round(v[1]))
        tot = c0 + c1
        return (c0 / tot, c1 / tot) if tot > 0 else (0.5, 0.5)

    def function(root, name, static):
        out = [f"{'static ' if static else ''}void {name}(const signed char *x, double *p) {{"]

        def emit(i, ind, d):
            pad = "  " * ind
            if t.children_left[i] == -1:
                p0, p1 = leaf_probs(i)
                out.append(f"{pad}p[0] = {p0!r}; p[1] = {p1!r}; return;")
            elif d == chunk_depth:
                sub = f"{fname}_n{i}"
                function(i, sub, True)
                out.append(f"{pad}{sub}(x, p); return;")
            else:
                out.append(f"{pad}if (x[{int(t.feature[i])}] <= 0) {{")
                emit(t.children_left[i], ind + 1, d + 1)
                out.append(f"{pad}}} else {{")
                emit(t.children_right[i], ind + 1, d + 1)
                out.append(f"{pad}}}")

        emit(root, 1, 0)
        out.append("}")
        funcs.append("\n".join(out))

    function(0, fname, False)
    protos = [f.split(" {", 1)[0] + ";" for f in funcs if f.startswith("static")]
    return "\n".join(protos) + "\n" + "\n\n".join(funcs)


# ---------------------------------------------------------------- timing helpers

def per_unit(fn, units, repeats, min_ns=200_000_000):
    """Median thread-CPU ns per unit of `fn()` (which processes `units` units)."""
    fn()  # warm-up
    samples = []
    budget_start = THREAD_NS()
    for _ in range(repeats):
        t = THREAD_NS()
        fn()
        samples.append((THREAD_NS() - t) / units)
        if THREAD_NS() - budget_start > min_ns and len(samples) >= 3:
            break
    return statistics.median(samples)


def single_calls(call_row, n_rows, calls=200, repeats=7):
    """Median over repeats of the mean thread-CPU ns of one single-row call, rows cycling."""
    for i in range(min(20, n_rows)):
        call_row(i)
    samples = []
    for r in range(repeats):
        t = THREAD_NS()
        for i in range(calls):
            call_row((r * calls + i) % n_rows)
        samples.append((THREAD_NS() - t) / calls)
    return statistics.median(samples)


# ---------------------------------------------------------------- main

TREES = [
    # name, kind, max_depth, n_train
    ("dense256_d6", "dense", 6, 40000),
    ("dense256_d12", "dense", 12, 40000),
    ("dense256_unlimited", "dense", None, 72000),
    ("onehot4096_unlimited", "onehot", None, 9000),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thetatree", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rows", type=int, default=16384, help="test rows per dense tree")
    ap.add_argument("--onehot-rows", type=int, default=4096)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)

    lib = ctypes.CDLL(os.path.join(a.lib, "libthetatree.so"))
    lib.tt_load.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    lib.tt_load.restype = ctypes.c_int32
    lib.tt_predict_proba.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                     ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    lib.tt_predict_proba.restype = ctypes.c_int32
    lib.tt_model_kernel.argtypes = [ctypes.c_void_p]
    lib.tt_model_kernel.restype = ctypes.c_char_p
    lib.tt_free.argtypes = [ctypes.c_void_p]

    rng = np.random.default_rng(20261128)
    groups, freq = onehot_groups()
    results = []
    harness_specs = []
    c_funcs = []
    for k, (name, kind, depth, n_train) in enumerate(TREES):
        t0 = time.time()
        if kind == "dense":
            xtr, ytr = dense_data(rng, n_train)
            xte, _ = dense_data(rng, a.rows)
            names = [f"f{j:05d}" for j in range(xtr.shape[1])]
        else:
            xtr, ytr = onehot_data(rng, n_train, groups, freq)
            xte, _ = onehot_data(rng, a.onehot_rows, groups, freq)
            names = []
            for g, (s, e) in enumerate(groups):
                names += [f"var{g:03d}={v}" for v in range(e - s)]
        # Wide one-hot data trains from a sparse matrix (same tree semantics, minutes faster).
        xfit = scipy.sparse.csr_matrix(xtr) if kind == "onehot" else xtr
        clf = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(xfit, ytr)
        nf = xtr.shape[1]
        ref = export_reference(clf, names)
        jpath = os.path.join(a.work, f"{name}.json")
        mpath = os.path.join(a.work, f"{name}_feature_mapping.json")
        tpath = os.path.join(a.work, f"{name}.ttm")
        with open(jpath, "w") as f:
            json.dump(ref, f)
        with open(mpath, "w") as f:
            json.dump({n: j for j, n in enumerate(names)}, f)
        subprocess.run([a.thetatree, "compile", jpath, "--features", mpath, "-o", tpath], check=True)
        xte = np.ascontiguousarray(xte, dtype=np.int8)
        xpath = os.path.join(a.work, f"{name}.rows.i8")
        xte.tofile(xpath)
        c_funcs.append(gen_ifelse(clf, f"ifelse_{k}"))
        harness_specs.append((name, tpath, xpath, xte.shape[0], nf, k))
        n_nodes, tdepth = clf.tree_.node_count, clf.get_depth()
        print(f"# {name}: {n_nodes} nodes, depth {tdepth}, trained in {time.time() - t0:.1f}s",
              file=sys.stderr, flush=True)

        # --- Python-side measurements -------------------------------------------------
        x32 = xte.astype(np.float32)
        n = xte.shape[0]
        sk_batch = per_unit(lambda: clf.predict_proba(x32), n, 7)
        sk_one = single_calls(lambda i: clf.predict_proba(x32[i:i + 1]), n, calls=100)
        onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, nf]))],
                              options={id(clf): {"zipmap": False}}, target_opset=17)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
        out_name = [o.name for o in sess.get_outputs() if "prob" in o.name][0]
        ort_batch = per_unit(lambda: sess.run([out_name], {"input": x32}), n, 7)
        ort_one = single_calls(lambda i: sess.run([out_name], {"input": x32[i:i + 1]}), n, calls=200)
        m = ctypes.c_void_p()
        rc = lib.tt_load(tpath.encode(), 0, ctypes.byref(m), None)
        assert rc == 0, rc
        kernel = lib.tt_model_kernel(m).decode()
        out = np.zeros((n, 2))
        xp, op = xte.ctypes.data, out.ctypes.data
        py_batch = per_unit(lambda: lib.tt_predict_proba(m, xp, n, nf, op, 2 * n, None), n, 15)
        row_bytes = nf
        py_one = single_calls(lambda i: lib.tt_predict_proba(m, xp + i * row_bytes, 1, nf, op, 2, None), n, calls=2000)
        # parity: thetatree == sklearn, bit for bit
        lib.tt_predict_proba(m, xp, n, nf, op, 2 * n, None)
        sk = clf.predict_proba(x32)
        parity = "exact" if np.array_equal(out, sk) else f"max |diff| {np.abs(out - sk).max():.3g}"
        ox = sess.run([out_name], {"input": x32})[0]
        lib.tt_free(m)
        results.append(dict(name=name, nodes=int(n_nodes), depth=int(tdepth), kernel=kernel,
                            rows=int(n), sklearn_batch=sk_batch, sklearn_1=sk_one,
                            onnx_batch=ort_batch, onnx_1=ort_one, py_batch=py_batch, py_1=py_one,
                            parity_sklearn=parity,
                            onnx_max_diff=float(np.abs(ox - sk).max())))

    # --- C harness: thetatree via the C ABI and the generated if/else ---------------------
    with open(os.path.join(a.work, "ifelse.c"), "w") as f:
        f.write("\n\n".join(c_funcs) + "\n")
        f.write("typedef void (*ifelse_fn)(const signed char *, double *);\n")
        f.write("ifelse_fn ifelse_table[] = {" + ", ".join(f"ifelse_{k}" for k in range(len(c_funcs))) + "};\n")
    exe = os.path.join(a.work, "harness")
    cmd = ["gcc", "-O3", "-o", exe, os.path.join(HERE, "harness.c"), os.path.join(a.work, "ifelse.c"),
           f"-I{a.include}", f"-L{a.lib}", "-lthetatree", f"-Wl,-rpath,{os.path.abspath(a.lib)}", "-lm"]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    print(f"# gcc -O3 harness + generated if/else: {time.time() - t0:.1f}s", file=sys.stderr)
    for r, (name, tpath, xpath, n, nf, k) in zip(results, harness_specs):
        p = subprocess.run([exe, tpath, xpath, str(n), str(nf), str(k)], check=True,
                           capture_output=True, text=True)
        r.update(json.loads(p.stdout))

    machine = describe_machine()
    table = render(results, machine)
    print(table)
    with open(os.path.join(a.work, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(dict(machine=machine, results=results), f, indent=1)


def describe_machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return dict(cpu=cpu, cores=os.cpu_count(), load1=round(load, 2), python=platform.python_version(),
                sklearn=sklearn.__version__, onnxruntime=ort.__version__, numpy=np.__version__, gcc=gcc,
                kernel=platform.release())


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def render(results, m):
    L = []
    L.append(f"Machine: {m['cpu']}, {m['cores']} vCPU, load average {m['load1']} during the run; "
             f"{m['gcc']}; Python {m['python']}, scikit-learn {m['sklearn']}, ONNX Runtime "
             f"{m['onnxruntime']} (1 thread), numpy {m['numpy']}. Thread CPU time, medians.")
    L.append("")
    L.append("Per row (batch) / per call (1 row):")
    L.append("")
    L.append("| tree (nodes / depth, kernel) | thetatree C batch | thetatree C wide batch | thetatree C 1 call | "
             "thetatree ctypes batch / 1 call | generated if/else batch / 1 row | scikit-learn batch / 1 call | "
             "ONNX Runtime batch / 1 call |")
    L.append("|---|---:|---:|---:|---|---|---|---|")
    for r in results:
        wide = r.get("wide_batch_ns")
        wide_s = f"{fmt(wide)} ({r.get('wide_kind', '')})" if wide else "-"
        L.append(f"| {r['name']} ({r['nodes']:,} / {r['depth']}, {r['kernel']}) | {fmt(r['tt_batch_ns'])} | {wide_s} | "
                 f"{fmt(r['tt_1_ns'])} | {fmt(r['py_batch'])} / {fmt(r['py_1'])} | "
                 f"{fmt(r['ifelse_batch_ns'])} / {fmt(r['ifelse_1_ns'])} | "
                 f"{fmt(r['sklearn_batch'])} / {fmt(r['sklearn_1'])} | {fmt(r['onnx_batch'])} / {fmt(r['onnx_1'])} |")
    L.append("")
    L.append("Ratios (higher = thetatree faster) and issue 4's targets:")
    L.append("")
    L.append("| tree | if/else ÷ tt batch (target ≥ 1.25) | if/else ÷ tt wide batch (one-hot target ≥ 2) | "
             "ONNX ÷ tt batch (≥ 10) | sklearn ÷ tt batch (≥ 10) | ONNX 1 call ÷ tt 1 call (d6: ≥ 150) | "
             "tt 1 call (d6: ≤ 60 ns) | parity with sklearn |")
    L.append("|---|---|---|---|---|---|---|---|")

    def verdict(x, target):
        return f"{x:.2f}× {'PASS' if x >= target else 'MISS'}"

    for r in results:
        tb = r["tt_batch_ns"]
        onehot = r["name"].startswith("onehot")
        ife = verdict(r["ifelse_batch_ns"] / tb, 1.25) if not onehot else f"{r['ifelse_batch_ns'] / tb:.2f}×"
        wide = r.get("wide_batch_ns")
        wide_s = (verdict(r["ifelse_batch_ns"] / wide, 2.0) if onehot else f"{r['ifelse_batch_ns'] / wide:.2f}×") if wide else "-"
        one = r["onnx_1"] / r["tt_1_ns"]
        d6 = r["name"].endswith("_d6")
        one_s = verdict(one, 150) if d6 else f"{one:.0f}×"
        lat = (f"{fmt(r['tt_1_ns'])} {'PASS' if r['tt_1_ns'] <= 60 else 'MISS'}" if d6 else fmt(r["tt_1_ns"]))
        L.append(f"| {r['name']} | {ife} | {wide_s} | {verdict(r['onnx_batch'] / tb, 10)} | "
                 f"{verdict(r['sklearn_batch'] / tb, 10)} | {one_s} | {lat} | {r['parity_sklearn']}; "
                 f"if/else {r['ifelse_parity']} |")
    return "\n".join(L)


if __name__ == "__main__":
    main()
