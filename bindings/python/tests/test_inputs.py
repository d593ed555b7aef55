"""Inputs: every dtype and memory order, lists, DataFrames, value checks, shapes, zero copy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import thetatree
from conftest import assert_bits_equal, golden, inputs, mapping_dict, ref_path

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64, np.longdouble]


@pytest.fixture(scope="module")
def model(mushroom):
    return thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))


@pytest.fixture(scope="module")
def clean(mushroom):
    return inputs("mushroom", False).x[:2000]


@pytest.fixture(scope="module")
def missing(mushroom):
    return inputs("mushroom", True).x[:2000]


@pytest.fixture(scope="module")
def want(model, clean, missing):
    return {
        "clean": (model.predict(clean), model.predict_proba(clean)),
        "missing": (model.predict(missing), model.predict_proba(missing)),
    }


def unread_column(model) -> int:
    """A column that no split of the model reads."""
    used, stack = set(), [json.loads(model.export_json())["tree_structure"]]
    while stack:
        n = stack.pop()
        if n.get("type") == "split":
            used.add(n["feature_idx"])
            stack += [n["left"], n["right"]]
    return max(set(range(model.n_features_in_)) - used)


def layouts(a: np.ndarray):
    """The same matrix in C order, Fortran order, as a strided view and as a reversed view."""
    yield "C", np.ascontiguousarray(a)
    yield "F", np.asfortranarray(a)
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    wide[:, ::2] = a
    yield "strided", wide[:, ::2]
    yield "reversed", np.ascontiguousarray(a[::-1])[::-1]


def same(model, x, want, what):
    labels, proba = want
    assert np.array_equal(model.predict(x), labels), what
    assert_bits_equal(model.predict_proba(x), proba, what)


def test_golden_baseline(model, mushroom):
    g = golden(mushroom.name, False)
    assert np.array_equal(model.predict(inputs("mushroom", False).x), g.pred)


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES + [np.bool_], ids=lambda d: np.dtype(d).name)
def test_every_dtype_and_layout_gives_the_same_answers(model, clean, want, dtype):
    for name, x in layouts(clean.astype(dtype)):
        same(model, x, want["clean"], f"{np.dtype(dtype).name} {name}")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.float32, np.float64])
def test_missing_values_in_every_signed_dtype(model, missing, want, dtype):
    if np.dtype(dtype).kind == "i":
        x = np.where(np.isnan(missing), -1, missing).astype(dtype)
    else:
        x = missing.astype(dtype)
    for name, lay in layouts(x):
        same(model, lay, want["missing"], f"{np.dtype(dtype).name} {name}")


def test_byte_swapped_arrays(model, clean, want):
    for dtype in (">i8", ">f8", ">i2", "<i4"):
        same(model, clean.astype(dtype), want["clean"], dtype)


def test_misaligned_and_packed_arrays_are_copied_first(model, clean, want):
    for dtype in (np.float64, np.int64, np.int32):
        buf = np.zeros(clean.size * np.dtype(dtype).itemsize + 1, dtype=np.uint8)
        x = np.frombuffer(buf.data, dtype=dtype, count=clean.size, offset=1).reshape(clean.shape)
        buf[1:] = np.ascontiguousarray(clean, dtype=dtype).view(np.uint8).reshape(-1)
        assert not x.flags.aligned
        assert not thetatree.Model.reads_in_place(x)
        same(model, x, want["clean"], f"misaligned {np.dtype(dtype).name}")
        # A packed structured field: strides are not multiples of the item size.
        packed = np.zeros(clean.shape, dtype=[("pad", "i1"), ("v", dtype)])
        packed["v"] = clean
        v = packed["v"]
        assert v.strides[1] == 1 + np.dtype(dtype).itemsize
        same(model, v, want["clean"], f"packed field {np.dtype(dtype).name}")


def test_lists_and_none(model, missing, want):
    rows = missing[:50]
    as_lists = [[None if np.isnan(v) else int(v) for v in r] for r in rows]
    labels, proba = want["missing"]
    assert np.array_equal(model.predict(as_lists), labels[:50])
    assert_bits_equal(model.predict_proba(as_lists), proba[:50], "lists with None")
    as_float_lists = rows.tolist()  # NaN floats
    assert np.array_equal(model.predict(as_float_lists), labels[:50])
    mixed = [[int(v) if k % 2 else float(v) for k, v in enumerate(r)] for r in np.nan_to_num(rows, nan=-1)]
    # -1 in an integer cell is missing; -1.0 in a float cell is not a valid value.
    with pytest.raises(thetatree.InputValueError):
        model.predict(mixed)


def test_one_row_and_empty_inputs(model, clean, want):
    labels, proba = want["clean"]
    assert np.array_equal(model.predict(clean[7]), labels[7:8])
    assert_bits_equal(model.predict_proba(clean[7].astype(np.int8)), proba[7:8], "1-D int8")
    assert_bits_equal(model.predict_proba(clean[7].tolist()), proba[7:8], "1-D list")
    for empty in ([], np.zeros((0, model.n_features_in_)), np.zeros(0, dtype=np.int8)):
        assert model.predict(empty).shape == (0,)
        assert model.predict(empty).dtype == np.int64
        assert model.predict_proba(empty).shape == (0, 2)
        assert model.predict_proba(empty).dtype == np.float64


def test_dataframes_are_matched_by_name(model, clean, missing, want):
    names = list(model.feature_names_in_)
    df = pd.DataFrame(clean.astype(np.int64), columns=names)
    rng = np.random.default_rng(7)
    shuffled = df[list(rng.permutation(names))]
    same(model, shuffled, want["clean"], "shuffled DataFrame")
    same(model, df.astype(np.int8), want["clean"], "int8 DataFrame")
    # Mixed dtypes, nullable integers with NA, floats with NaN: each column by its own rule.
    m = pd.DataFrame(missing, columns=names)
    mixed = m.copy()
    for k, c in enumerate(names):
        if k % 3 == 0:
            mixed[c] = m[c].astype("Int64")  # NA where missing
        elif k % 3 == 1:
            mixed[c] = np.where(m[c].isna(), -1, m[c]).astype(np.int16)
    same(model, mixed[list(rng.permutation(names))], want["missing"], "mixed DataFrame")
    # The default positional columns (np.asarray's view of a frame) are read by position.
    same(model, pd.DataFrame(clean), want["clean"], "positional DataFrame")


def test_dataframe_name_errors_list_the_names(model, clean):
    names = list(model.feature_names_in_)
    df = pd.DataFrame(clean.astype(np.int8), columns=names)
    with pytest.raises(ValueError, match=r"1 model features missing: 'odor=n'"):
        model.predict(df.drop(columns=["odor=n"]))
    with pytest.raises(ValueError, match=r"1 unknown columns: 'row_id'"):
        model.predict(df.assign(row_id=1))
    renamed = df.rename(columns={"odor=n": "odor=N"})
    with pytest.raises(ValueError, match=r"missing: 'odor=n'.*unknown columns: 'odor=N'"):
        model.predict(renamed)


@pytest.mark.parametrize(
    "dtype,bad,text",
    [
        (np.int8, 2, "2"),
        (np.int8, -2, "-2"),
        (np.int64, 257, "257"),  # never wrapped to 1
        (np.uint8, 255, "255"),
        (np.int32, -1 << 31, str(-1 << 31)),
        (np.float64, 0.5, "0.5"),
        (np.float64, -1.0, "-1.0"),
        (np.float64, np.inf, "inf"),
        (np.float32, 2.0, "2.0"),
        (np.float64, 1e-300, "1e-300"),
    ],
)
def test_bad_values_name_row_column_and_feature(model, clean, dtype, bad, text):
    x = clean[:100].astype(dtype)
    col = unread_column(model)
    x[37, col] = bad
    name = model.feature_names_in_[col]
    for _, lay in layouts(x):
        with pytest.raises(thetatree.InputValueError) as e:
            model.predict_proba(lay)
        err = e.value
        assert isinstance(err, ValueError)
        assert (err.row, err.column, err.feature, err.value) == (37, col, name, text)
        assert f"row 37, column {col}" in str(err) and name in str(err)
        # check="visited": the walk never reads this column, so the call succeeds.
        assert model.predict(lay, check="visited").shape == (100,)


def test_visited_check_still_refuses_what_the_walk_reads(model, clean):
    root = thetatree.ModelPersistence.load_model(
        ref_path("models/mushroom_gini_d5_lgk12/model.pkl")
    ).tree_.feature_idx
    for dtype in (np.int8, np.float64, np.int64, np.float32):
        x = clean[:100].astype(dtype)
        x[12, root] = 3
        with pytest.raises(thetatree.InputValueError) as e:
            model.predict(x, check="visited")
        assert (e.value.row, e.value.column, e.value.value) == (12, root, "3" if np.dtype(dtype).kind == "i" else "3.0")


def test_first_bad_value_in_row_major_order(model, clean):
    x = clean[:100].astype(np.int8)
    x[50, 3] = 5
    x[20, 100] = 7
    x[20, 110] = 9
    with pytest.raises(thetatree.InputValueError) as e:
        model.predict(np.asfortranarray(x))
    assert (e.value.row, e.value.column) == (20, 100)


def test_strings_and_objects_are_refused_with_their_location(model, clean):
    x = clean[:10].astype(object)
    x[4, 9] = "1"
    with pytest.raises(thetatree.InputValueError) as e:
        model.predict(x, check="visited")
    assert (e.value.row, e.value.column, e.value.value) == (4, 9, "'1'")
    with pytest.raises(ValueError, match="row 0, column 0"):
        model.predict(clean[:3].astype(str))


def test_width_and_shape_errors_give_both_numbers(model, clean):
    with pytest.raises(ValueError, match="X has 116 columns, but the model has 117 features"):
        model.predict(clean[:, :116])
    with pytest.raises(ValueError, match="X has 118 columns"):
        model.predict_proba(np.zeros(118))
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        model.predict(np.zeros((2, 2, 117)))
    with pytest.raises(ValueError, match="check must be"):
        model.predict(clean, check="none")


def test_binary_check_refuses_missing(model, missing):
    with pytest.raises(thetatree.InputValueError, match="no missing values"):
        model.predict(missing, check="binary")
    with pytest.raises(thetatree.InputValueError, match="no missing values"):
        model.predict(np.where(np.isnan(missing), -1, missing).astype(np.int16), check="binary")


def test_zero_copy_for_c_contiguous_int8_and_float64(model, clean, want):
    """C-contiguous int8 / float64 rows are read in place: read-only arrays are accepted as they
    are, and the walk reads the caller's buffer (changing it changes the answer). Everything
    else is converted first (and still gives the same answers, above)."""
    root = thetatree.ModelPersistence.load_model(
        ref_path("models/mushroom_gini_d5_lgk12/model.pkl")
    ).tree_.feature_idx
    for dtype in (np.int8, np.float64):
        x = np.array(clean, dtype=dtype, order="C")  # a copy: the fixture stays writable
        assert thetatree.Model.reads_in_place(x) and thetatree.Model.reads_in_place(x[3])
        x.setflags(write=False)
        same(model, x, want["clean"], np.dtype(dtype).name)
        row = np.array(clean[0], dtype=dtype)
        before = model.predict_proba(row)
        row[root] = 1 - row[root]
        assert not np.array_equal(model.predict_proba(row), before)
    for _, x in list(layouts(clean.astype(np.int8)))[1:]:
        assert not thetatree.Model.reads_in_place(x)
    for dtype in (np.int16, np.int64, np.float32, np.bool_):
        assert not thetatree.Model.reads_in_place(np.ascontiguousarray(clean, dtype=dtype))
    assert not thetatree.Model.reads_in_place(clean.astype(np.int8).tolist())
