#!/usr/bin/env python3
"""Issue 12's comparison: the generated families (benches/gen/families.rs) against a gcc -O3
if/else of each tree, scikit-learn and ONNX Runtime. Driven by benches/compare/families.sh:

  families.py --bench BIN --work DIR

Steps: `BIN gen DIR` writes each tree (.ttm, tree JSON, sample rows) -> this script generates
the if/else C (the reference's value and missing rule, no validation) and builds it with
gcc -O3 as one shared object -> `BIN time DIR ifelse.so` times thetatree's kernels, bit-packed,
CSR and the if/else, alternating in one process on >= 50 MB int8 row pools -> the trees are
injected into scikit-learn (Tree.__setstate__) and ONNX (a TreeEnsembleClassifier node) and timed
on the sample rows -> one table (printed, and written to DIR/results.md and results.json).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import sklearn
from onnx import TensorProto, helper
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import NODE_DTYPE, Tree

THREAD_NS = time.thread_time_ns
# Targets of issue 12: thetatree (chosen kernel) / if/else.
TARGET = {"ref_chain_small": 1.0, "ref_chain_large": 1.0}
DEFAULT_TARGET = 0.8


# ---------------------------------------------------------------- if/else codegen

def gen_ifelse(tree, chunk_depth=10):
    """Nested if/else C for one tree: `x[f] == 1` goes right, `0` left, anything else (the
    reference's missing) to the side recorded in the model; no validation. Every `chunk_depth`
    levels the subtree becomes its own static function (a tail call): gcc -O3 takes superlinear
    time on one huge function."""
    nodes, name = tree["nodes"], tree["name"]
    funcs = []

    def function(root, fname, static):
        out = [f"{'static ' if static else ''}void {fname}(const signed char *x, double *p) {{"]

        def emit(i, ind, d):
            pad = "  " * ind
            n = nodes[i]
            if n[0] < 0:
                out.append(f"{pad}p[0] = {float(n[3])!r}; p[1] = {float(n[4])!r}; return;")
            elif d == chunk_depth:
                sub = f"{name}_n{i}"
                function(i, sub, True)
                out.append(f"{pad}{sub}(x, p); return;")
            else:
                f, left, right, mr = n
                cond = f"x[{f}] != 0" if mr else f"x[{f}] == 1"
                out.append(f"{pad}if ({cond}) {{")
                emit(right, ind + 1, d + 1)
                out.append(f"{pad}}} else {{")
                emit(left, ind + 1, d + 1)
                out.append(f"{pad}}}")

        emit(root, 1, 0)
        out.append("}")
        funcs.append("\n".join(out))

    function(0, f"ifelse_{name}", False)
    protos = [f.split(" {", 1)[0] + ";" for f in funcs if f.startswith("static")]
    return "\n".join(protos) + "\n" + "\n\n".join(funcs)


# ---------------------------------------------------------------- scikit-learn and ONNX

def to_sklearn(tree):
    """A DecisionTreeClassifier whose tree_ is this tree (threshold 0.5 on 0/1 floats). Since
    scikit-learn 1.4 `value` holds class fractions and predict_proba returns a leaf's value as
    stored: leaves get the model's probabilities exactly, splits their counts' fractions."""
    nodes, nf = tree["nodes"], tree["n_features"]
    n = len(nodes)
    arr = np.zeros(n, dtype=NODE_DTYPE)
    values = np.zeros((n, 1, 2))
    counts = [None] * n
    # Children come after their parent: fill counts bottom-up for the splits' sample sizes.
    for i in range(n - 1, -1, -1):
        nd = nodes[i]
        if nd[0] < 0:
            counts[i] = (nd[1], nd[2])
        else:
            a, b = counts[nd[1]], counts[nd[2]]
            counts[i] = (a[0] + b[0], a[1] + b[1])
    for i, nd in enumerate(nodes):
        c = counts[i]
        tot = c[0] + c[1]
        values[i, 0] = (nd[3], nd[4]) if nd[0] < 0 else ((c[0] / tot, c[1] / tot) if tot else (0.5, 0.5))
        arr[i]["n_node_samples"] = max(1, int(round(c[0] + c[1])))
        arr[i]["weighted_n_node_samples"] = c[0] + c[1]
        if nd[0] < 0:
            arr[i]["left_child"] = arr[i]["right_child"] = -1
            arr[i]["feature"] = -2
            arr[i]["threshold"] = -2.0
        else:
            arr[i]["left_child"], arr[i]["right_child"] = nd[1], nd[2]
            arr[i]["feature"] = nd[0]
            arr[i]["threshold"] = 0.5
            if "missing_go_to_left" in NODE_DTYPE.names:
                arr[i]["missing_go_to_left"] = 0 if nd[3] else 1
    t = Tree(nf, np.array([2], dtype=np.intp), 1)
    t.__setstate__({"max_depth": tree["depth"], "node_count": n, "nodes": arr, "values": values})
    clf = DecisionTreeClassifier()
    clf.tree_ = t
    clf.n_outputs_ = 1
    clf.n_classes_ = 2
    clf.classes_ = np.array([0, 1])
    clf.n_features_in_ = nf
    clf.max_features_ = nf
    return clf


def to_onnx(tree):
    """An ai.onnx.ml TreeEnsembleClassifier with the same nodes (x <= 0.5 is the true/left
    branch; missing follows the model's rule; leaf weights are the probabilities as float)."""
    nodes = tree["nodes"]
    a = dict(nodes_treeids=[], nodes_nodeids=[], nodes_featureids=[], nodes_values=[], nodes_modes=[],
             nodes_truenodeids=[], nodes_falsenodeids=[], nodes_missing_value_tracks_true=[],
             class_treeids=[], class_nodeids=[], class_ids=[], class_weights=[])
    for i, nd in enumerate(nodes):
        a["nodes_treeids"].append(0)
        a["nodes_nodeids"].append(i)
        if nd[0] < 0:
            a["nodes_featureids"].append(0)
            a["nodes_values"].append(0.0)
            a["nodes_modes"].append("LEAF")
            a["nodes_truenodeids"].append(0)
            a["nodes_falsenodeids"].append(0)
            a["nodes_missing_value_tracks_true"].append(0)
            for k in (0, 1):
                a["class_treeids"].append(0)
                a["class_nodeids"].append(i)
                a["class_ids"].append(k)
                a["class_weights"].append(float(nd[3 + k]))
        else:
            a["nodes_featureids"].append(nd[0])
            a["nodes_values"].append(0.5)
            a["nodes_modes"].append("BRANCH_LEQ")
            a["nodes_truenodeids"].append(nd[1])
            a["nodes_falsenodeids"].append(nd[2])
            a["nodes_missing_value_tracks_true"].append(0 if nd[3] else 1)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"],
                            domain="ai.onnx.ml", classlabels_int64s=[0, 1], post_transform="NONE", **a)
    graph = helper.make_graph(
        [node], tree["name"],
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, tree["n_features"]])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def per_row(fn, n, repeats=7):
    fn()
    samples = []
    for _ in range(repeats):
        t = THREAD_NS()
        fn()
        samples.append((THREAD_NS() - t) / n)
    return statistics.median(samples)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the families bench binary")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    subprocess.run([a.bench, "gen", a.work], check=True)
    names = [json.loads(line)["name"] for line in
             subprocess.run([a.bench, "stats-json"], check=True, capture_output=True, text=True).stdout.splitlines()]
    trees = {}
    csrc = []
    for name in names:
        with open(os.path.join(a.work, f"{name}.tree.json")) as f:
            trees[name] = json.load(f)
        csrc.append(gen_ifelse(trees[name]))
    cpath = os.path.join(a.work, "ifelse.c")
    so = os.path.join(a.work, "ifelse.so")
    text = "\n\n".join(csrc) + "\n"
    # The same trees give the same C: reuse the shared object (gcc -O3 takes about a minute).
    old = open(cpath).read() if os.path.exists(cpath) else None
    if old != text or not os.path.exists(so):
        with open(cpath, "w") as f:
            f.write(text)
        t0 = time.time()
        subprocess.run(["gcc", "-O3", "-shared", "-fPIC", "-o", so + ".tmp", cpath], check=True)
        os.replace(so + ".tmp", so)
        print(f"# gcc -O3 generated if/else: {time.time() - t0:.1f}s", file=sys.stderr, flush=True)
    p = subprocess.run([a.bench, "time", a.work, so], check=True, capture_output=True, text=True)
    results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]

    for r in results:
        tree = trees[r["name"]]
        nf = tree["n_features"]
        x = np.fromfile(os.path.join(a.work, f"{r['name']}.sample.i8"), dtype=np.int8).reshape(-1, nf)
        x32 = x.astype(np.float32)
        n = x.shape[0]
        clf = to_sklearn(tree)
        r["sklearn_ns"] = per_row(lambda: clf.predict_proba(x32), n)
        sess = to_onnx(tree)
        r["onnx_ns"] = per_row(lambda: sess.run(["probabilities"], {"X": x32}), n)
        tt = np.fromfile(os.path.join(a.work, f"{r['name']}.tt.f64"), dtype="<f8").reshape(-1, 2)
        sk = clf.predict_proba(x32)
        r["sklearn_parity"] = "exact" if np.array_equal(tt, sk) else f"max |diff| {np.abs(tt - sk).max():.3g}"
        ox = sess.run(["probabilities"], {"X": x32})[0]
        r["onnx_max_diff"] = float(np.abs(ox.astype(np.float64) - tt).max())
        print(f"# {r['name']}: scikit-learn and ONNX Runtime timed", file=sys.stderr, flush=True)

    machine = describe_machine()
    table = render(results, machine)
    print(table)
    with open(os.path.join(a.work, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(dict(machine=machine, results=results), f, indent=1)


def describe_machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return dict(cpu=cpu, cores=os.cpu_count(), load1=round(os.getloadavg()[0], 2),
                python=platform.python_version(), sklearn=sklearn.__version__,
                onnxruntime=ort.__version__, numpy=np.__version__, gcc=gcc)


def fmt(ns):
    return f"{ns / 1e3:.2f} µs" if ns >= 1e3 else f"{ns:.1f} ns"


def render(results, m):
    L = [f"Machine: {m['cpu']}, {m['cores']} vCPU, load average {m['load1']} at the end; {m['gcc']}; "
         f"Python {m['python']}, scikit-learn {m['sklearn']}, ONNX Runtime {m['onnxruntime']} (1 thread). "
         "Thread CPU time per row, medians; thetatree and the if/else alternate in one process on "
         f"int8 row pools of {results[0]['pool_mb']:.0f} MB ({results[0]['rounds']} rounds); "
         "scikit-learn and ONNX Runtime on 20,000 float32 rows. Row scan: one load per 64-byte line "
         "of every row (reading the pool from memory, no prediction).", ""]
    kernels = [k[:-3] for k in results[0] if k.endswith("_ns") and k[:-3] not in
               ("chosen", "bits", "csr", "ifelse", "sklearn", "onnx", "scan")]
    head = (["tree (nodes / depth, E[path])", "kernel chosen", "chosen"] + kernels +
            ["bits", "CSR", "if/else", "row scan", "scikit-learn", "ONNX Runtime", "native ÷ if/else",
             "native load / code (interpreter load)", "chosen ÷ if/else (target)", "parity"])
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * 2 + "---:|" * (len(head) - 5) + "---|---|---|")
    for r in results:
        target = TARGET.get(r["name"], DEFAULT_TARGET)
        ratio = r["ratio_chosen_ifelse"]
        verdict = f"{ratio:.2f} (≤ {target}) {'PASS' if ratio <= target else 'MISS'}"
        par = [k for k in ["chosen"] + kernels + ["bits", "csr"] if r[f"{k}_parity"] != "exact"]
        parity = ("bit-exact (all kernels = if/else" if not par else f"DIFFERS: {', '.join(par)} (") + \
            f"; scikit-learn {r['sklearn_parity']}; ONNX float32 max |diff| {r['onnx_max_diff']:.1g})"
        cells = ([f"{r['name']} ({r['nodes']:,} / {r['depth']}, {r['expected_path']:.1f})", r["kernel"],
                  fmt(r["chosen_ns"])] + [fmt(r[f"{k}_ns"]) for k in kernels] +
                 [fmt(r["bits_ns"]), fmt(r["csr_ns"]), fmt(r["ifelse_ns"]), fmt(r["scan_ns"]), fmt(r["sklearn_ns"]),
                  fmt(r["onnx_ns"]), f"{r['ratio_native_ifelse']:.2f}",
                  f"{r['native_load_ms']:.1f} ms / {r['native_code_bytes']:,} B ({r['interp_load_ms']:.2f} ms)",
                  verdict, parity])
        L.append("| " + " | ".join(cells) + " |")
    return "\n".join(L)


if __name__ == "__main__":
    main()
