"""apply / decision_path / predict_contrib (issue 15) on every reference model and input set.

The leaf indices are checked against the reference's golden ``leaf_preorder`` column. Paths
and contributions are checked against an independent walk in numpy over the model's exported
JSON (pre-order numbering, missing values to the child with more samples, node probabilities
from the class counts), and against the contract's invariants: a path starts at the root and
ends at the leaf ``apply`` gives; contributions add up to P(class 1) within 1e-12 and are zero
for every feature not tested on the path.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import List

import numpy as np
import pytest
import scipy.sparse

import thetatree
from conftest import MODEL_IDS, MODELS, golden, inputs, mapping_dict, ref_path

METHODS = ("apply", "decision_path", "predict_contrib")


@dataclass
class Flat:
    """The exported tree as pre-order arrays (root 0, node, left subtree, right subtree)."""

    feature: np.ndarray  # -1 for a leaf
    left: np.ndarray
    right: np.ndarray
    missing_right: np.ndarray  # bool
    p1: np.ndarray  # P(class 1) from the counts, as the reference computes a leaf's


def flatten(model: thetatree.Model) -> Flat:
    root = json.loads(model.export_json())["tree_structure"]
    nodes: List[dict] = []
    left: List[int] = []
    right: List[int] = []
    # Iterative pre-order: a node gets its number before its subtrees, left before right.
    stack = [(root, -1, "")]
    while stack:
        d, parent, side = stack.pop()
        i = len(nodes)
        nodes.append(d)
        left.append(-1)
        right.append(-1)
        if parent >= 0:
            (left if side == "left" else right)[parent] = i
        if not d["is_leaf"]:
            stack.append((d["right"], i, "right"))
            stack.append((d["left"], i, "left"))
    n = len(nodes)
    feature = np.array([-1 if d["is_leaf"] else d["feature_idx"] for d in nodes], dtype=np.int64)
    samples = np.array([d["n_samples"] for d in nodes], dtype=np.float64)
    left_a, right_a = np.array(left), np.array(right)
    split = feature >= 0
    missing_right = np.zeros(n, dtype=bool)
    missing_right[split] = samples[right_a[split]] > samples[left_a[split]]
    counts = np.array([d["class_counts"] for d in nodes], dtype=np.float64)
    total = counts[:, 0] + counts[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = np.where(total == 0, 0.5, counts[:, 1] / total)
    return Flat(feature, left_a, right_a, missing_right, p1)


def walk(flat: Flat, x: np.ndarray):
    """(paths as lists, leaves, contributions) of float64 rows, NaN = missing, vectorised."""
    n, nf = x.shape
    node = np.zeros(n, dtype=np.int64)
    paths = [[0] for _ in range(n)]
    contrib = np.zeros((n, nf + 1))
    contrib[:, nf] = flat.p1[0]
    rows = np.arange(n)
    while True:
        active = rows[flat.feature[node[rows]] >= 0]
        if active.size == 0:
            break
        at = node[active]
        f = flat.feature[at]
        v = x[active, f]
        go_right = np.where(np.isnan(v), flat.missing_right[at], v == 1.0)
        child = np.where(go_right, flat.right[at], flat.left[at])
        np.add.at(contrib, (active, f), flat.p1[child] - flat.p1[at])
        node[active] = child
        for r, c in zip(active, child):
            paths[r].append(int(c))
        rows = active
    return paths, node, contrib


def as_int8(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), -1, x).astype(np.int8)


def csr_rows(dp) -> List[List[int]]:
    m = dp.tocsr()
    return [list(m.indices[m.indptr[i] : m.indptr[i + 1]]) for i in range(m.shape[0])]


@pytest.fixture(scope="module", params=MODELS, ids=MODEL_IDS)
def ref(request):
    m = request.param
    return m, thetatree.compile(ref_path(m.json), features=mapping_dict(m))


@pytest.mark.parametrize("missing", [False, True], ids=["clean", "missing"])
def test_apply_is_the_golden_leaf_preorder(ref, missing):
    m, model = ref
    x = inputs(m.dataset, missing).x
    g = golden(m.name, missing)
    for name, cells in (("float64", x), ("int8", as_int8(x)), ("int64", as_int8(x).astype(np.int64))):
        leaves = model.apply(cells)
        assert leaves.dtype == np.intp, name
        assert leaves.shape == (len(g.leaf),), name
        bad = np.flatnonzero(leaves != g.leaf)
        assert bad.size == 0, f"{m.name} {name}: row {bad[0]}: leaf {leaves[bad[0]]} != {g.leaf[bad[0]]}"
    # The leaf is a leaf: predict_proba is that node's probabilities, predict its label.
    flat = flatten(model)
    assert np.all(flat.feature[g.leaf] == -1)


@pytest.mark.parametrize("missing", [False, True], ids=["clean", "missing"])
def test_paths_and_contributions_follow_the_tree(ref, missing):
    m, model = ref
    x = inputs(m.dataset, missing).x
    g = golden(m.name, missing)
    flat = flatten(model)
    want_paths, want_leaves, want_contrib = walk(flat, x)
    assert np.array_equal(want_leaves, g.leaf), "the independent walk disagrees with the golden"
    proba = model.predict_proba(x)
    for name, cells in (("float64", x), ("int8", as_int8(x))):
        dp = model.decision_path(cells)
        assert isinstance(dp, scipy.sparse.csr_matrix), type(dp)
        assert dp.shape == (x.shape[0], model.n_nodes)
        assert dp.dtype == np.intp and np.all(dp.data == 1)
        assert dp.has_sorted_indices
        got = csr_rows(dp)
        assert all(p[0] == 0 and p[-1] == leaf for p, leaf in zip(got, g.leaf)), name
        assert all(len(p) <= model.max_depth + 1 for p in got)
        first_bad = next((i for i, (a, b) in enumerate(zip(got, want_paths)) if a != b), None)
        assert first_bad is None, f"{name} row {first_bad}: {got[first_bad]} != {want_paths[first_bad]}"

        c = model.predict_contrib(cells)
        assert c.dtype == np.float64 and c.shape == (x.shape[0], model.n_features_in_ + 1)
        assert np.all(c[:, -1] == flat.p1[0]), "bias = P(class 1) of the root"
        err = np.abs(c.sum(axis=1) - proba[:, 1])
        assert err.max() <= 1e-12, f"{name}: row {err.argmax()} sums off by {err.max()}"
        assert np.abs(c - want_contrib).max() <= 1e-12, name
        # Zero off the path: only the features of the path's splits may be non-zero.
        for r in range(0, x.shape[0], max(1, x.shape[0] // 500)):
            on_path = {int(flat.feature[n]) for n in got[r][:-1]}
            off = np.setdiff1d(np.arange(model.n_features_in_), list(on_path))
            assert np.all(c[r, off] == 0.0), f"{name} row {r}"


def test_decision_path_without_scipy_is_indptr_indices(mushroom, monkeypatch):
    model = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    x = inputs(mushroom.dataset, True).x
    with_scipy = model.decision_path(x)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    dp = model.decision_path(x)
    assert isinstance(dp, tuple) and len(dp) == 2
    indptr, indices = dp
    assert indptr.dtype == indices.dtype == np.intp
    assert indptr.shape == (x.shape[0] + 1,) and indptr[0] == 0 and indptr[-1] == indices.size
    assert np.array_equal(indptr, with_scipy.indptr)
    assert np.array_equal(indices, with_scipy.indices)
    leaves = model.apply(x)
    assert np.all(indices[indptr[:-1]] == 0)
    assert np.array_equal(indices[indptr[1:] - 1], leaves)
    empty = model.decision_path(np.zeros((0, model.n_features_in_)))
    assert empty[0].tolist() == [0] and empty[1].size == 0
    # The drop-in gives the same pair.
    clf = thetatree.ModelPersistence.load_model(mushroom.pkl)
    p, i = clf.decision_path(np.nan_to_num(x).astype(np.int64))
    assert p.shape == indptr.shape and p.dtype == np.intp
    monkeypatch.undo()
    assert isinstance(model.decision_path(x), scipy.sparse.csr_matrix)


def test_one_row_and_empty_inputs(mushroom):
    model = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    nf = model.n_features_in_
    x = inputs(mushroom.dataset, False).x
    row = x[7]
    assert model.apply(row).tolist() == [model.apply(x)[7]]
    assert model.decision_path(row).shape == (1, model.n_nodes)
    assert model.predict_contrib(row).shape == (1, nf + 1)
    assert model.apply(np.zeros((0, nf))).shape == (0,)
    assert model.apply([]).dtype == np.intp
    assert model.predict_contrib(np.zeros((0, nf), dtype=np.int8)).shape == (0, nf + 1)
    dp = model.decision_path(np.zeros((0, nf)))
    assert dp.shape == (0, model.n_nodes) and dp.nnz == 0


def test_every_input_kind_gives_the_same_answer(mushroom):
    """Lists, DataFrames (matched by name), Fortran order, strided views, bool, float32,
    object arrays with None: the inputs predict_proba takes."""
    import pandas as pd

    model = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    x = inputs(mushroom.dataset, True).x[:300]
    x8 = as_int8(x)
    names = list(model.feature_names_in_)
    frame = pd.DataFrame(x, columns=names)[names[::-1]]
    objects = x.astype(object)
    objects[np.isnan(x)] = None
    clean = np.nan_to_num(x)
    kinds = {
        "list": x8.tolist(),
        "frame": frame,
        "fortran": np.asfortranarray(x8),
        "strided": np.repeat(x8, 2, axis=0)[::2],
        "float32": x.astype(np.float32),
        "int16": x8.astype(np.int16),
        "objects": objects,
    }
    base = {meth: getattr(model, meth)(x) for meth in METHODS}
    for kind, cells in kinds.items():
        assert np.array_equal(model.apply(cells), base["apply"]), kind
        assert (model.decision_path(cells) != base["decision_path"]).nnz == 0, kind
        assert np.array_equal(model.predict_contrib(cells), base["predict_contrib"]), kind
    as_bool = clean.astype(bool)
    assert np.array_equal(model.apply(as_bool), model.apply(clean))
    assert np.array_equal(model.predict_contrib(as_bool), model.predict_contrib(clean))


def test_hostile_inputs_fail_as_predict_proba_does(mushroom):
    """Same exception class and message as predict_proba (row, column, feature), nothing else."""
    model = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    nf = model.n_features_in_
    x = np.zeros((40, nf), dtype=np.int8)
    cases = {}
    for dtype in (np.int8, np.float64, np.int64, np.uint8, np.float32):
        bad = x.astype(dtype)
        bad[17, 5] = 2
        cases[f"2 in {np.dtype(dtype).name}"] = bad
        cases[f"2 in fortran {np.dtype(dtype).name}"] = np.asfortranarray(bad)
    half = x.astype(np.float64)
    half[3, nf - 1] = 0.5
    cases["0.5"] = half
    inf = x.astype(np.float64)
    inf[0, 0] = np.inf
    cases["inf"] = inf
    text = x.astype(object)
    text[2, 4] = "1"
    cases["a string"] = text
    cases["wrong width"] = np.zeros((3, nf + 1), dtype=np.int8)
    cases["too narrow"] = np.zeros((3, nf - 1))
    cases["3-D"] = np.zeros((2, 3, nf))
    cases["ragged"] = [[0] * nf, [0] * (nf - 1)]
    cases["None"] = None
    cases["complex"] = np.zeros((2, nf), dtype=complex)
    cases["text"] = "0101"
    for name, cells in cases.items():
        with pytest.raises(Exception) as want:
            model.predict_proba(cells)
        for meth in METHODS:
            with pytest.raises(type(want.value)) as got:
                getattr(model, meth)(cells)
            assert str(got.value) == str(want.value), f"{name} {meth}"
            if isinstance(want.value, thetatree.InputValueError):
                w, g = want.value, got.value
                assert (g.row, g.column, g.feature, g.value) == (w.row, w.column, w.feature, w.value)
    for meth in METHODS:
        with pytest.raises(ValueError, match="check must be"):
            getattr(model, meth)(x, check="some")
        with pytest.raises(thetatree.InputValueError) as e:
            getattr(model, meth)(cases["2 in int8"])
        assert (e.value.row, e.value.column) == (17, 5)


def test_check_visited_reports_the_cell_the_walk_reads(mushroom):
    """With check="visited" a bad value off every path goes unnoticed, one on a path is
    reported with its own row (decision_path walks row by row: the row is not always 0)."""
    model = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    x = inputs(mushroom.dataset, False).x[:50].astype(np.int8)
    flat = flatten(model)
    used = set(int(f) for f in flat.feature if f >= 0)
    unused = next(f for f in range(model.n_features_in_) if f not in used)
    root = int(flat.feature[0])
    off = x.copy()
    off[9, unused] = 5
    on = x.copy()
    on[33, root] = 7
    for meth in METHODS:
        want = getattr(model, meth)(x)
        got = getattr(model, meth)(off, check="visited")
        if meth == "decision_path":
            assert (got != want).nnz == 0
        else:
            assert np.array_equal(got, want), meth
        with pytest.raises(thetatree.InputValueError) as e:
            getattr(model, meth)(off)
        assert (e.value.row, e.value.column) == (9, unused)
        for kind in (on, on.astype(np.float64), on.astype(np.int32)):
            with pytest.raises(thetatree.InputValueError) as e:
                getattr(model, meth)(kind, check="visited")
            assert (e.value.row, e.value.column, e.value.value) == (33, root, "7" if kind.dtype.kind == "i" else "7.0"), meth


def test_drop_in_classifier_keeps_the_reference_rules(mushroom):
    clf = thetatree.ModelPersistence.load_model(mushroom.pkl)
    model = clf.model
    x = inputs(mushroom.dataset, False).x.astype(np.int64)
    g = golden(mushroom.name, False)
    assert np.array_equal(clf.apply(x), g.leaf)
    assert clf.apply(x).dtype == np.intp
    assert (clf.decision_path(x) != model.decision_path(x)).nnz == 0
    c = clf.predict_contrib(x)
    assert np.abs(c.sum(axis=1) - clf.predict_proba(x)[:, 1]).max() <= 1e-12
    nf = clf.n_features_in_
    assert clf.apply(np.zeros((0, nf))).shape == (0,)
    assert clf.apply(np.zeros((0, nf))).dtype == np.intp
    assert clf.predict_contrib(np.zeros((0, nf))).shape == (0, nf + 1)
    assert clf.decision_path(np.zeros((0, nf))).shape == (0, model.n_nodes)
    missing = x[:3].astype(np.float64)
    missing[1, 2] = np.nan
    for meth in METHODS:
        with pytest.raises(ValueError, match="Input must be 2D array"):
            getattr(clf, meth)(x[0])
        with pytest.raises(ValueError, match=f"Input has {nf + 1} features, but classifier expects {nf}"):
            getattr(clf, meth)(np.zeros((2, nf + 1)))
        # Missing values are refused, as by the reference's public predict_proba.
        with pytest.raises(thetatree.InputValueError, match="binary values") as e:
            getattr(clf, meth)(missing)
        assert (e.value.row, e.value.column) == (1, 2)
        with pytest.raises(thetatree.InputValueError, match="binary values"):
            getattr(clf, meth)(np.where(x[:3] == 0, -1, x[:3]))


def test_threads_share_a_model_on_large_inputs(mushroom):
    """Inputs above the GIL-release threshold (16 Ki cells), from several threads at once."""
    model = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    x = as_int8(np.tile(inputs(mushroom.dataset, True).x, (3, 1)))
    assert x.size >= 16 * 1024
    want = {meth: getattr(model, meth)(x) for meth in METHODS}
    failures: List[str] = []

    def work() -> None:
        for _ in range(3):
            for meth in METHODS:
                got = getattr(model, meth)(x)
                same = (got != want[meth]).nnz == 0 if meth == "decision_path" else np.array_equal(got, want[meth])
                if not same:
                    failures.append(meth)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
