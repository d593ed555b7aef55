#!/usr/bin/env python3
"""Issue 11's Python benchmark: thetatree's Python API against scikit-learn and ONNX Runtime
(and the C ABI on the same numpy buffer), same rows, same run. Prints one table with the
targets marked PASS / MISS (not a test: nothing fails).

Trees: the reference's mushroom model (its pickle, on the 8 124 mushroom rows) and two
generated trees from benches/compare/compare.py (same data generators and reference-JSON
export; dense256_d6 and onehot4096_unlimited). scikit-learn gets a tree of the same depth on
the same rows (for the mushroom rows, trained on their labels). Times are thread CPU time
medians (compare.py's helpers): one call of one row, and per row of one full-batch call.

    bindings/python/bench/run.sh        # builds, installs what is missing, runs this
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gzip
import io
import os
import statistics
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "benches" / "compare"))

import compare  # noqa: E402  (data generators, reference export, timing helpers)
import onnxruntime as ort  # noqa: E402
from skl2onnx import convert_sklearn  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

import thetatree  # noqa: E402

TARGET_ONE_ROW_NS = 1000.0
TARGET_VS_SKLEARN_ONE = 50.0
TARGET_VS_SKLEARN_BATCH = 10.0
TARGET_VS_C_BATCH = 1.25


def reference_dir() -> Path:
    """As the tests look it up: $TT_REFERENCE_DIR when set, else the repo's copy."""
    env = os.environ.get("TT_REFERENCE_DIR")
    for c in ([Path(env)] if env else [REPO / "tests/data/reference"]):
        if (c / "golden").is_dir():
            return c
    sys.exit("reference data not found (set TT_REFERENCE_DIR)")


def read_csv_rows(path: Path):
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return list(csv.reader(io.StringIO(data.decode())))


def mushroom_case(ref: Path):
    rows = read_csv_rows(ref / "inputs/mushroom_X.csv")
    x = np.array([[int(v) for v in r[1:]] for r in rows[1:]], dtype=np.int8)
    gold = read_csv_rows(ref / "golden/mushroom_gini_d5_lgk12__X.csv")
    y = np.array([int(r[1]) for r in gold[1:]])
    model = thetatree.ModelPersistence.load_model(ref / "models/mushroom_gini_d5_lgk12/model.pkl").model
    clf = DecisionTreeClassifier(max_depth=model.max_depth, random_state=0).fit(x, y)
    return "mushroom (reference pickle)", model, clf, x


def generated_case(name: str, rng, groups, freq, rows: int):
    kind, depth, n_train = next((k, d, n) for t, k, d, n in compare.TREES if t == name)
    if kind == "dense":
        xtr, ytr = compare.dense_data(rng, n_train)
        xte, _ = compare.dense_data(rng, rows)
        names = [f"f{j:05d}" for j in range(xtr.shape[1])]
        fit_x = xtr
    else:
        import scipy.sparse

        xtr, ytr = compare.onehot_data(rng, n_train, groups, freq)
        xte, _ = compare.onehot_data(rng, rows, groups, freq)
        names = [f"var{g:03d}={v}" for g, (s, e) in enumerate(groups) for v in range(e - s)]
        fit_x = scipy.sparse.csr_matrix(xtr)
    clf = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(fit_x, ytr)
    model = thetatree.compile({"tree_structure": compare.export_reference(clf, names)}, features=names)
    return name, model, clf, np.ascontiguousarray(xte, dtype=np.int8)


def c_library():
    lib = ctypes.CDLL(str(REPO / "target/release/libthetatree.so"))
    lib.tt_load_bytes.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32,
                                  ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    lib.tt_load_bytes.restype = ctypes.c_int32
    lib.tt_predict_proba.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                     ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    lib.tt_predict_proba.restype = ctypes.c_int32
    lib.tt_free.argtypes = [ctypes.c_void_p]
    return lib


def measure(name, model, clf, x, lib):
    n, nf = x.shape
    x32 = x.astype(np.float32)
    r = dict(name=name, nodes=model.n_nodes, depth=model.max_depth, kernel=model.kernel, rows=n, nf=nf)
    # thetatree, Python API: one row (1-D, zero copy) and the whole batch (C-contiguous int8).
    r["tt_1"] = compare.single_calls(lambda i: model.predict_proba(x[i]), n, calls=2000)
    r["tt_batch"] = compare.per_unit(lambda: model.predict_proba(x), n, 15)
    r["tt_batch_visited"] = compare.per_unit(lambda: model.predict_proba(x, check="visited"), n, 15)
    xf = np.asfortranarray(x)
    r["tt_batch_fortran"] = compare.per_unit(lambda: model.predict_proba(xf), n, 7)
    r["zero_copy"] = thetatree.Model.reads_in_place(x) and not thetatree.Model.reads_in_place(xf)
    # The C ABI on the same numpy buffer (ctypes), no Python-side work in the timed call.
    blob = model.to_bytes()
    m = ctypes.c_void_p()
    assert lib.tt_load_bytes(blob, len(blob), 0, ctypes.byref(m), None) == 0
    out = np.zeros((n, 2))
    xp, op = x.ctypes.data, out.ctypes.data
    r["c_batch"] = compare.per_unit(lambda: lib.tt_predict_proba(m, xp, n, nf, op, 2 * n, None), n, 15)
    lib.tt_predict_proba(m, xp, n, nf, op, 2 * n, None)
    r["same_as_c"] = bool((out.view(np.uint64) == model.predict_proba(x).view(np.uint64)).all())
    lib.tt_free(m)
    # scikit-learn and ONNX Runtime on the same rows (float32, their native input).
    r["sk_1"] = compare.single_calls(lambda i: clf.predict_proba(x32[i:i + 1]), n, calls=100)
    r["sk_batch"] = compare.per_unit(lambda: clf.predict_proba(x32), n, 7)
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, nf]))],
                          options={id(clf): {"zipmap": False}}, target_opset=17)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
    out_name = [o.name for o in sess.get_outputs() if "prob" in o.name][0]
    r["onnx_1"] = compare.single_calls(lambda i: sess.run([out_name], {"input": x32[i:i + 1]}), n, calls=200)
    r["onnx_batch"] = compare.per_unit(lambda: sess.run([out_name], {"input": x32}), n, 7)
    r["sk_nodes"], r["sk_depth"] = int(clf.tree_.node_count), int(clf.get_depth())
    return r


def median_of(rs):
    """Each timing is the median over the runs; other fields are the same in every run."""
    out = dict(rs[0])
    for k, v in out.items():
        if isinstance(v, float):
            out[k] = statistics.median(r[k] for r in rs)
        elif isinstance(v, bool):
            out[k] = all(r[k] for r in rs)
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(results, machine):
    f = compare.fmt
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} vCPU, load average {machine['load1']}; Python "
        f"{machine['python']}, numpy {machine['numpy']}, scikit-learn {machine['sklearn']}, ONNX Runtime "
        f"{machine['onnxruntime']} (1 thread). Thread CPU time, medians within each run, then the median of "
        f"{machine['runs']} runs; per call (1 row) / per row (batch).",
        "",
        "| rows | tree (nodes / depth, kernel) | thetatree 1 row | scikit-learn 1 row | ONNX Runtime 1 row "
        "| thetatree batch (default check: whole matrix) | thetatree batch, check=\"visited\" "
        "| C ABI batch (same buffer) | Fortran-order batch (copied) | scikit-learn batch | ONNX Runtime batch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']}: {r['rows']:,} x {r['nf']} | {r['nodes']:,} / {r['depth']}, {r['kernel']} "
            f"(sklearn {r['sk_nodes']:,} / {r['sk_depth']}) | {f(r['tt_1'])} | {f(r['sk_1'])} | {f(r['onnx_1'])} "
            f"| {f(r['tt_batch'])} | {f(r['tt_batch_visited'])} | {f(r['c_batch'])} | {f(r['tt_batch_fortran'])} | {f(r['sk_batch'])} "
            f"| {f(r['onnx_batch'])} |"
        )
    lines += [
        "",
        "| rows | 1 row ≤ 1 µs | sklearn ÷ thetatree, 1 row (≥ 50×) | sklearn ÷ thetatree, batch (≥ 10×) "
        "| thetatree ÷ C batch, same check (≤ 1.25×) | whole-matrix check ÷ C batch | zero copy (C-contiguous int8 read in place) | ONNX ÷ thetatree 1 row / batch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        one, s1, sb = r["tt_1"], r["sk_1"] / r["tt_1"], r["sk_batch"] / r["tt_batch"]
        cb, ca = r["tt_batch_visited"] / r["c_batch"], r["tt_batch"] / r["c_batch"]
        lines.append(
            f"| {r['name']} | {f(one)} {verdict(one <= TARGET_ONE_ROW_NS)} | {s1:.0f}× {verdict(s1 >= TARGET_VS_SKLEARN_ONE)} "
            f"| {sb:.1f}× {verdict(sb >= TARGET_VS_SKLEARN_BATCH)} | {cb:.2f}× {verdict(cb <= TARGET_VS_C_BATCH)} | {ca:.2f}× "
            f"| {verdict(r['zero_copy'] and r['same_as_c'])} | {r['onnx_1'] / one:.0f}× / {r['onnx_batch'] / r['tt_batch']:.1f}× |"
        )
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=16384, help="rows per generated tree")
    ap.add_argument("--runs", type=int, default=3, help="measure every case this many times; report medians")
    ap.add_argument("--out", help="also write the table to this file")
    a = ap.parse_args()
    lib = c_library()
    rng = np.random.default_rng(20261128)
    groups, freq = compare.onehot_groups()
    cases = [mushroom_case(reference_dir())]
    for name in ("dense256_d6", "onehot4096_unlimited"):
        cases.append(generated_case(name, rng, groups, freq, a.rows if name.startswith("dense") else a.rows // 4))
    runs = [[] for _ in cases]
    for k in range(a.runs):
        for i, case in enumerate(cases):
            print(f"# run {k + 1}/{a.runs}: {case[0]}", file=sys.stderr, flush=True)
            runs[i].append(measure(*case, lib))
    results = [median_of(rs) for rs in runs]
    machine = compare.describe_machine()
    machine["runs"] = a.runs
    machine["numpy"] = np.__version__
    table = render(results, machine)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
