#!/usr/bin/env python3
"""What the explanations cost from Python: apply / decision_path / predict_contrib against
predict_proba on the same model, same rows, same run (issue 15's targets, here measured
through the Python API: apply <= 1.1x predict_proba, predict_contrib <= 2x; decision_path has
no target, it builds a scipy matrix). Not a test: nothing fails, targets are marked PASS / MISS.

Times are thread-CPU medians over interleaved repeats (the machine is shared): per row of one
full-batch call on the model's golden input rows (int8, read in place), and one call of one row.

    bindings/python/bench/explain.py [--models a,b] [--repeats 15]
    # (after bindings/python/run-tests.sh or pip install ./bindings/python; scipy optional)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import thetatree

REPO = Path(__file__).resolve().parents[3]
METHODS = ("predict_proba", "apply", "predict_contrib", "decision_path")
TARGETS = {"apply": 1.1, "predict_contrib": 2.0}
DEFAULT_MODELS = "mushroom_gini_d5_lgk12,mushroom_gini_unlimited_lgk16,du_entropy_d14_lgk12"


def reference_dir() -> Path:
    env = os.environ.get("TT_REFERENCE_DIR")
    for c in [Path(env)] if env else [REPO / "tests/data/reference"]:
        if (c / "golden").is_dir():
            return c
    sys.exit("reference data not found (set TT_REFERENCE_DIR)")


def read(path: Path) -> str:
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode()


def manifest():
    out = {}
    for line in (REPO / "tests/reference_models.tsv").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, js, mapping, dataset = line.split("\t")
            out[name] = (js, mapping, dataset)
    return out


def rows_int8(ref: Path, dataset: str) -> np.ndarray:
    rows = list(csv.reader(io.StringIO(read(ref / f"inputs/{dataset}_X_missing.csv"))))[1:]
    x = np.array([[float(v) if v != "" else np.nan for v in r[1:]] for r in rows])
    return np.ascontiguousarray(np.where(np.isnan(x), -1, x).astype(np.int8))


def timed(fn) -> float:
    t = time.thread_time_ns()
    fn()
    return time.thread_time_ns() - t


def measure(model, x: np.ndarray, repeats: int):
    """{method: (batch ns per row, one-row call ns)}, repeats interleaved across methods."""
    batch = {m: [] for m in METHODS}
    single = {m: [] for m in METHODS}
    calls = 200
    one_rows = [x[i : i + 1] for i in range(calls)]
    for m in METHODS:  # warm-up
        getattr(model, m)(x)
    for _ in range(repeats):
        for m in METHODS:
            f = getattr(model, m)
            batch[m].append(timed(lambda: f(x)) / len(x))

            def loop() -> None:
                for r in one_rows:
                    f(r)

            single[m].append(timed(loop) / calls)
    return {m: (statistics.median(batch[m]), statistics.median(single[m])) for m in METHODS}


def fmt(ns: float) -> str:
    return f"{ns / 1e3:.2f} µs" if ns >= 1e3 else f"{ns:.1f} ns"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    ref = reference_dir()
    known = manifest()
    try:
        import scipy

        sparse = f"scipy {scipy.__version__}"
    except ImportError:
        sparse = "no scipy: (indptr, indices)"
    print(f"thetatree {thetatree.__version__}, numpy {np.__version__}, {sparse}, "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; thread-CPU medians of {args.repeats}")
    print()
    print("| model | rows | depth | call | batch / row | ratio | one row | ratio | target |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|")
    for name in args.models.split(","):
        js, mapping, dataset = known[name]
        model = thetatree.compile(ref / js, features=json.loads(read(ref / mapping)))
        x = rows_int8(ref, dataset)
        res = measure(model, x, args.repeats)
        base_b, base_1 = res["predict_proba"]
        for m in METHODS:
            b, one = res[m]
            rb, r1 = b / base_b, one / base_1
            target = TARGETS.get(m)
            verdict = "" if target is None or m == "predict_proba" else (
                f"<= {target}x batch: {'PASS' if rb <= target else 'MISS'}"
            )
            print(f"| {name} | {len(x)} | {model.max_depth} | {m} | {fmt(b)} | {rb:.2f}x | "
                  f"{fmt(one)} | {r1:.2f}x | {verdict} |")


if __name__ == "__main__":
    main()
