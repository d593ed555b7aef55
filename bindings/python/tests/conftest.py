"""Shared test helpers: where the reference golden data is, and readers for it.

The reference data (models, inputs, golden outputs) is ``$TT_REFERENCE_DIR`` when set, else
the bundled ``<repo>/tests/data/reference`` (CSV files may be gzip-compressed as
``*.csv.gz``). Parity is a hard requirement: when
none exists the tests fail instead of skipping.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "python"


def reference_dir() -> Path:
    env = os.environ.get("TT_REFERENCE_DIR")
    candidates = [Path(env)] if env else [REPO / "tests" / "data" / "reference"]
    for c in candidates:
        if (c / "golden").is_dir():
            return c
    raise AssertionError(
        "reference data not found in " + ", ".join(str(c) for c in candidates)
        + " (set TT_REFERENCE_DIR)"
    )


def ref_path(rel: str) -> Path:
    """A file of the reference directory; ``X.csv`` also matches a compressed ``X.csv.gz``."""
    base = reference_dir() / rel
    if base.exists():
        return base
    gz = base.with_name(base.name + ".gz")
    if gz.exists():
        return gz
    raise AssertionError(f"missing reference file {base} (or {gz.name})")


def read_text(rel: str) -> str:
    p = ref_path(rel)
    data = p.read_bytes()
    if p.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def read_csv(rel: str) -> List[dict]:
    return list(csv.DictReader(io.StringIO(read_text(rel))))


@dataclass
class RefModel:
    name: str
    json: str  # complete JSON (never a truncated export)
    mapping: str
    dataset: str

    @property
    def pkl(self) -> Path:
        return ref_path(f"models/{self.name}/model.pkl")

    @property
    def persistence_json(self) -> Path:
        return ref_path(f"models/{self.name}/persistence_tree.json")


def models() -> List[RefModel]:
    """The manifest the Rust parity tests use (tests/reference_models.tsv)."""
    out = []
    for line in (REPO / "tests" / "reference_models.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, js, mapping, dataset = line.split("\t")
        out.append(RefModel(name, js, mapping, dataset))
    return out


MODELS = models()
MODEL_IDS = [m.name for m in MODELS]


@dataclass
class Inputs:
    names: List[str]
    x: np.ndarray  # float64, NaN = missing


_inputs_cache: dict = {}


def inputs(dataset: str, missing: bool) -> Inputs:
    key = (dataset, missing)
    if key not in _inputs_cache:
        rel = f"inputs/{dataset}_X{'_missing' if missing else ''}.csv"
        rows = list(csv.reader(io.StringIO(read_text(rel))))
        names = rows[0][1:]
        x = np.array([[float(v) if v != "" else np.nan for v in r[1:]] for r in rows[1:]])
        _inputs_cache[key] = Inputs(names, x)
    return _inputs_cache[key]


@dataclass
class Golden:
    pred: np.ndarray  # int64
    proba: np.ndarray  # float64 (n, 2); NaN where the reference has none (pruned leaves)
    has_proba: np.ndarray  # bool
    leaf: np.ndarray  # int64: the reached leaf's pre-order node index (leaf_preorder)


def golden(model: str, missing: bool) -> Golden:
    rows = read_csv(f"golden/{model}__X{'_missing' if missing else ''}.csv")
    pred = np.array([int(r["pred"]) for r in rows], dtype=np.int64)
    has = np.array([r["p0"] != "" for r in rows])
    proba = np.array(
        [[float(r["p0"]), float(r["p1"])] if r["p0"] != "" else [np.nan, np.nan] for r in rows]
    )
    leaf = np.array([int(r["leaf_preorder"]) for r in rows], dtype=np.int64)
    return Golden(pred, proba, has, leaf)


def assert_bits_equal(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal to the last bit (including the sign of zero)."""
    got = np.ascontiguousarray(got, dtype=np.float64)
    want = np.ascontiguousarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    diff = np.flatnonzero(got.view(np.uint64) != want.view(np.uint64))
    assert diff.size == 0, (
        f"{what}: {diff.size} values differ, first at flat index {diff[0]}: "
        f"{got.reshape(-1)[diff[0]]!r} != {want.reshape(-1)[diff[0]]!r}"
    )


def mapping_text(m: RefModel) -> str:
    return read_text(m.mapping)


def mapping_dict(m: RefModel) -> dict:
    return json.loads(mapping_text(m))


@pytest.fixture(scope="session")
def mushroom() -> RefModel:
    return next(m for m in MODELS if m.name == "mushroom_gini_d5_lgk12")


def first(xs, pred) -> Optional[object]:
    return next((x for x in xs if pred(x)), None)
