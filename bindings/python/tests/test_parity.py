"""Every reference model, through every way in, reproduces the golden outputs bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

import thetatree
from conftest import MODEL_IDS, MODELS, assert_bits_equal, golden, inputs, mapping_dict, ref_path


def _check(model, m, missing: bool, what: str) -> int:
    """predict / predict_proba of one model on one input set against the golden file."""
    inp = inputs(m.dataset, missing)
    g = golden(m.name, missing)
    x = inp.x
    if missing:
        # The reference's public API refuses NaN; its traversal (the golden) sends a missing
        # value to the bigger child. thetatree.Model takes NaN (float) and -1 (int) as missing.
        x8 = np.where(np.isnan(x), -1, x).astype(np.int8)
    else:
        x8 = x.astype(np.int8)
    for name, cells in (("float64", x), ("int8", x8)):
        assert np.array_equal(model.predict(cells), g.pred), f"{what} {name}: labels"
        proba = model.predict_proba(cells)
        assert_bits_equal(proba[g.has_proba], g.proba[g.has_proba], f"{what} {name}: proba")
    return len(g.pred)


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_compile_json_matches_golden(m):
    model = thetatree.compile(ref_path(m.json), features=mapping_dict(m), model_version=m.name)
    assert model.version == m.name
    assert model.n_features_in_ == len(inputs(m.dataset, False).names)
    assert list(model.feature_names_in_) == inputs(m.dataset, False).names
    for missing in (False, True):
        _check(model, m, missing, f"{m.name} json")


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_persistence_dict_matches_golden(m):
    """The persistence dict (as the pickle holds it) given as a Python dict, numpy inside."""
    d = json.loads(ref_path(f"models/{m.name}/persistence_tree.json").read_text())
    fa = d["fitted_attributes"]
    fa["classes_"] = np.array(fa["classes_"], dtype=np.int64)
    fa["feature_importances"] = np.array(fa["feature_importances"], dtype=np.float64)
    model = thetatree.compile(d)
    for missing in (False, True):
        _check(model, m, missing, f"{m.name} dict")


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_load_ttm_matches_golden(m, mmap, tmp_path):
    path = tmp_path / f"{m.name}.ttm"
    thetatree.compile(ref_path(m.json), features=mapping_dict(m)).save(path)
    model = thetatree.load(path, mmap=mmap)
    assert model.is_mmapped == mmap
    for missing in (False, True):
        _check(model, m, missing, f"{m.name} ttm")


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_drop_in_pickle_matches_golden(m):
    """The reference's own pickle through the drop-in loader: the public API's rows."""
    clf = thetatree.ModelPersistence.load_model(m.pkl)
    inp = inputs(m.dataset, False)
    g = golden(m.name, False)
    x = inp.x.astype(np.int64)  # what the guide's apps pass (np.array(..., dtype=int))
    assert clf.n_features_ == clf.n_features_in_ == x.shape[1]
    assert np.array_equal(clf.predict(x), g.pred)
    assert clf.predict(x).dtype == np.int64
    proba = clf.predict_proba(x)
    assert_bits_equal(proba[g.has_proba], g.proba[g.has_proba], f"{m.name} pkl proba")
    # Missing values through the served model (the reference's traversal semantics).
    _check(clf.model, m, True, f"{m.name} pkl model")


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_pickle_and_json_compile_to_the_same_tree(m):
    """Pickle and complete JSON give the same nodes, counts and features (metadata differs)."""
    from_pkl = thetatree.compile(m.pkl)
    from_json = thetatree.compile(ref_path(m.json), features=mapping_dict(m))
    a = json.loads(from_pkl.export_json())
    b = json.loads(from_json.export_json())
    assert a["tree_structure"] == b["tree_structure"]
    assert a["feature_names"] == b["feature_names"]


def test_pruned_leaf_probabilities_come_from_counts():
    """Where the reference has no probabilities (pruned leaves), thetatree derives them from
    the class counts; the labels still match the reference everywhere."""
    m = next(m for m in MODELS if m.name == "mushroom_gini_pruned_lgk12")
    g = golden(m.name, False)
    assert (~g.has_proba).sum() == 3456
    clf = thetatree.ModelPersistence.load_model(m.pkl)
    proba = clf.predict_proba(inputs(m.dataset, False).x)
    rows = ~g.has_proba
    assert np.all(np.isfinite(proba[rows]))
    assert np.array_equal(np.argmax(proba[rows], axis=1), g.pred[rows])


def test_edge_values_follow_the_documented_rules(mushroom):
    """Golden edge values (rows 0-3 with the root's column replaced by 0, 1, NaN, 2, -1, 0.5,
    -0.0, 1e-300, int64 -1): the drop-in accepts exactly what the reference's public API
    accepts, with the same labels; the thetatree API refuses the same invalid values and takes
    NaN and integer -1 as missing (the reference's traversal sends a NaN to the bigger child,
    which the golden shows, but an integer -1 right: calling it missing is thetatree's
    documented choice)."""
    from conftest import read_csv

    clf = thetatree.ModelPersistence.load_model(mushroom.pkl)
    model = clf.model
    x = inputs("mushroom", False).x[:4]
    rows = read_csv(f"golden/edge_values__{mushroom.name}.csv")
    nan_result = {int(r["row"]): r for r in rows if r["value"] == "nan"}
    for r in rows:
        row, col, value = int(r["row"]), int(r["modified_feature_idx"]), r["value"]
        is_int = value.startswith("int64(")
        cells = x[row : row + 1].astype(np.int64 if is_int else np.float64)
        cells[0, col] = int(value[6:-1]) if is_int else float(value)
        public = r["public_predict"]
        if public.startswith("ok:"):
            assert clf.predict(cells)[0] == int(public[3:]), r
        else:
            with pytest.raises(ValueError, match="binary values"):
                clf.predict(cells)
        if value == "nan" or is_int:
            want = nan_result[row]
            assert model.predict(cells)[0] == int(want["traverser_pred"]), r
            p = model.predict_proba(cells)[0]
            assert_bits_equal(p, np.array([float(want["traverser_p0"]), float(want["traverser_p1"])]), str(r))
        elif public.startswith("ok:"):
            assert model.predict(cells)[0] == int(r["traverser_pred"]), r
        else:
            with pytest.raises(thetatree.InputValueError) as e:
                model.predict(cells)
            assert (e.value.row, e.value.column, e.value.feature) == (0, col, model.feature_names_in_[col])
