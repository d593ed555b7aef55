"""thetatree.spark without Spark: the Arrow batch core (pyarrow only) — golden parity in every
input form, handle_invalid, nulls, names, schema errors, zero copy, the worker's model cache —
and the module's import-lightness. The same code on a SparkSession: bindings/spark's
run-pyspark-tests.sh."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa  # run-tests.sh installs it; thetatree itself never imports it
import pytest
import thetatree
import thetatree.spark as ts
from conftest import MODEL_IDS, MODELS, assert_bits_equal, golden, inputs, mapping_dict, ref_path
from spark_columns import (
    FEATURE_FORMS,
    NAMED_MIXED,
    binary_column,
    features_batch,
    list_column,
    named_batch,
    probabilities,
    vector_column,
)
from thetatree import _spark_arrow as core


def compiled(m) -> thetatree.Model:
    return thetatree.compile(ref_path(m.json), features=mapping_dict(m), model_version=m.name)


def root_feature(model: thetatree.Model) -> int:
    """The feature of the root split: every row's walk reads it."""
    return json.loads(model.export_json())["tree_structure"]["feature_idx"]


def unread_feature(model: thetatree.Model) -> int:
    used, stack = set(), [json.loads(model.export_json())["tree_structure"]]
    while stack:
        n = stack.pop()
        if n.get("type") == "split":
            used.add(n["feature_idx"])
            stack += [n["left"], n["right"]]
    return max(set(range(model.n_features_in_)) - used)


def score_in_slices(scorer: ts.ArrowScorer, batch: pa.RecordBatch) -> pa.Table:
    """Scores the batch as slices of uneven sizes (non-zero Arrow offsets), like a partition."""
    out, start = [], 0
    for size in (1, 7, 250, 1000):
        out.append(scorer.score(batch.slice(start, size), first_row=start))
        start += size
    out.append(scorer.score(batch.slice(start), first_row=start))
    return pa.Table.from_batches(out, schema=scorer.output_schema)


def check_golden(table: pa.Table, m, missing: bool, what: str) -> int:
    g = golden(m.name, missing)
    batch = table.combine_chunks().to_batches()[0]
    assert np.array_equal(batch.column("id").to_numpy(), np.arange(len(g.pred))), what
    pred = batch.column("prediction").to_numpy()
    assert pred.dtype == np.float64
    assert np.array_equal(pred, g.pred.astype(np.float64)), f"{what}: labels"
    proba = probabilities(batch.column("probability"))
    assert_bits_equal(proba[g.has_proba], g.proba[g.has_proba], f"{what}: probabilities")
    assert batch.column("note")[3].as_py() == "row 3"
    return len(pred)


# ---------------------------------------------------------------------------- golden parity


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_every_feature_form_matches_golden(m):
    model = compiled(m)
    for missing in (False, True):
        x = inputs(m.dataset, missing).x
        for form, make in FEATURE_FORMS.items():
            batch = features_batch(make(x))
            scorer = ts.ArrowScorer(model, batch.schema)
            check_golden(
                score_in_slices(scorer, batch), m, missing, f"{m.name} {form} missing={missing}"
            )


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_named_columns_match_golden_in_any_order(m):
    model = compiled(m)
    names = list(model.feature_names_in_)
    for missing in (False, True):
        x = inputs(m.dataset, missing).x
        for what, types in (
            ("int8", [pa.int8()]),
            ("double", [pa.float64()]),
            ("int16/int32/bigint", [pa.int16(), pa.int32(), pa.int64()]),
            ("mixed", NAMED_MIXED),
        ):
            batch = named_batch(x, names, types, seed=len(what))
            scorer = ts.ArrowScorer(model, batch.schema, input_cols=list(reversed(names)))
            check_golden(score_in_slices(scorer, batch), m, missing, f"{m.name} named {what}")


def test_score_batch_and_output_forms(mushroom):
    model = compiled(mushroom)
    x = inputs("mushroom", True).x[:300]
    batch = features_batch(list_column(x, pa.int8()), name="f")
    want = model.predict_proba(np.where(np.isnan(x), -1, x).astype(np.int8))
    out = ts.score_batch(
        batch,
        model,
        features_col="f",
        probability_type="array",
        prediction_col="label",
        probability_col="p",
    )
    assert out.schema.names == ["id", "f", "note", "label", "p"]
    assert out.schema.field("p").type == pa.list_(pa.field("element", pa.float64(), nullable=False))
    assert not out.schema.field("label").nullable and not out.schema.field("p").nullable
    assert_bits_equal(probabilities(out.column("p")), want, "array output")
    assert out.column("f") is not None and out.column(1).equals(batch.column(1))
    only_proba = ts.score_batch(batch, model, features_col="f", prediction_col="")
    assert only_proba.schema.names == ["id", "f", "note", "probability"]
    only_label = ts.score_batch(batch, model, features_col="f", probability_col="")
    assert np.array_equal(only_label.column("prediction").to_numpy(), want.argmax(axis=1) * 1.0)
    nothing = ts.score_batch(batch, model, features_col="f", prediction_col="", probability_col="")
    assert nothing.equals(batch)
    empty = ts.score_batch(batch.slice(0, 0), model, features_col="f")
    assert empty.num_rows == 0 and empty.schema.names[-2:] == ["prediction", "probability"]


# ---------------------------------------------------------------------------- invalid rows


BAD_ROWS = [0, 5, 6, 149]


def with_bad_values(x: np.ndarray, feature: int, value: float) -> np.ndarray:
    x = x.copy()
    x[BAD_ROWS, feature] = value
    return x


INVALID_FORMS = {
    "list<int8>": (lambda x: list_column(x, pa.int8()), "2"),
    "list<int32>": (lambda x: list_column(x, pa.int32()), "2"),
    "list<bigint>": (lambda x: list_column(x, pa.int64()), "2"),
    "list<double>": (lambda x: list_column(x, pa.float64()), "2.0"),
    "binary": (binary_column, "byte 2"),
    "dense Vector": (lambda x: vector_column(x, sparse=False), "2.0"),
    "sparse Vector": (lambda x: vector_column(x, sparse=True), "2.0"),
}


@pytest.fixture(scope="module")
def model(mushroom):
    return compiled(mushroom)


@pytest.fixture(scope="module")
def clean():
    return inputs("mushroom", False).x[:150]


@pytest.mark.parametrize("form", INVALID_FORMS)
def test_handle_invalid_on_a_bad_value_the_walk_reads(model, clean, form):
    make, shown = INVALID_FORMS[form]
    root, unread = root_feature(model), unread_feature(model)
    x = with_bad_values(clean, root, 2.0)
    x[10, unread] = 2.0  # never read by the walk: scored (the library's check="visited")
    batch = features_batch(make(x))
    name = model.feature_names_in_[root]

    with pytest.raises(thetatree.InputValueError) as e:
        ts.score_batch(batch, model)
    assert (e.value.row, e.value.column, e.value.feature, e.value.value) == (0, root, name, shown)
    assert str(e.value).startswith(
        f"thetatree: cannot score row 0: feature {name!r} (index {root}, in features column "
        f"'features') is {shown}; a value must be 0, 1 or missing"
    )
    assert "handle_invalid to 'skip'" in str(e.value)

    good = np.setdiff1d(np.arange(len(x)), BAD_ROWS)
    ok = np.where(np.isnan(clean), -1, clean).astype(np.int8)
    want = model.predict_proba(ok[good])
    skipped = ts.score_batch(batch, model, handle_invalid="skip")
    assert np.array_equal(skipped.column("id").to_numpy(), good)
    assert_bits_equal(probabilities(skipped.column("probability")), want, f"{form} skip")
    assert np.array_equal(skipped.column("prediction").to_numpy(), model.predict(ok[good]) * 1.0)

    kept = ts.score_batch(batch, model, handle_invalid="keep")
    assert kept.num_rows == len(x)
    assert kept.schema.field("prediction").nullable and kept.schema.field("probability").nullable
    for col in ("prediction", "probability"):
        assert (
            np.flatnonzero(kept.column(col).is_null().to_numpy(zero_copy_only=False)).tolist()
            == BAD_ROWS
        )
    assert_bits_equal(
        probabilities(kept.column("probability").take(pa.array(good))), want, f"{form} keep"
    )


def test_bad_value_in_a_named_column(model, clean):
    names = list(model.feature_names_in_)
    root = root_feature(model)
    for t, shown in ((pa.int8(), "2"), (pa.int64(), "300"), (pa.float64(), "0.5")):
        x = with_bad_values(clean, root, float(shown))
        batch = named_batch(x, names, [t])
        with pytest.raises(thetatree.InputValueError) as e:
            ts.score_batch(batch, model, input_cols=names)
        assert (
            f"feature {names[root]!r} (index {root}, in column {names[root]!r}) is {shown};"
            in str(e.value)
        )
        kept = ts.score_batch(batch, model, input_cols=names, handle_invalid="keep")
        nulls = kept.column("prediction").is_null().to_numpy(zero_copy_only=False)
        assert np.flatnonzero(nulls).tolist() == BAD_ROWS
    # Mixed types: integers among floats keep their meaning (-1 missing, 7 refused).
    x = with_bad_values(clean, root, 7.0)
    batch = named_batch(x, names, NAMED_MIXED)
    skipped = ts.score_batch(batch, model, input_cols=names, handle_invalid="skip")
    assert skipped.num_rows == len(x) - len(BAD_ROWS)


SHAPES = {
    "list": lambda x: list_column(x, pa.int8()),
    "binary": binary_column,
    "dense Vector": lambda x: vector_column(x, sparse=False),
    "sparse Vector": lambda x: vector_column(x, sparse=True),
}


def replace_rows(column: pa.Array, rows, replacement: pa.Array) -> pa.Array:
    """``column`` with ``rows`` taken from ``replacement`` (same length)."""
    pick = np.zeros(len(column), dtype=bool)
    pick[rows] = True
    return pa.compute.if_else(pa.array(pick), replacement, column)


@pytest.mark.parametrize("form", SHAPES)
def test_null_and_wrong_length_features_values(model, clean, form):
    make = SHAPES[form]
    col = make(clean)
    short = make(np.zeros((len(clean), model.n_features_in_ - 1)))
    col = replace_rows(col, [0, 5], pa.nulls(len(col), col.type))
    col = replace_rows(col, [6, 149], short)
    batch = features_batch(col)
    with pytest.raises(
        ValueError,
        match=r"^thetatree: cannot score row 0: features column 'features' is null; set handle_invalid",
    ):
        ts.score_batch(batch, model)
    with pytest.raises(
        ValueError,
        match=rf"cannot score row 6: features column 'features' has {model.n_features_in_ - 1} values; the model has {model.n_features_in_} features",
    ):
        ts.ArrowScorer(model, batch.schema).score(batch.slice(6), first_row=6, partition=None)
    skipped = ts.score_batch(batch, model, handle_invalid="skip")
    good = np.setdiff1d(np.arange(len(clean)), BAD_ROWS)
    assert np.array_equal(skipped.column("id").to_numpy(), good)
    assert_bits_equal(
        probabilities(skipped.column("probability")), model.predict_proba(clean[good]), form
    )
    kept = ts.score_batch(batch, model, handle_invalid="keep")
    assert (
        np.flatnonzero(kept.column("prediction").is_null().to_numpy(zero_copy_only=False)).tolist()
        == BAD_ROWS
    )


def test_malformed_sparse_vector_is_an_invalid_row(model, clean):
    col = vector_column(clean[:3], sparse=True).to_pylist()
    col[1] = {"type": 0, "size": model.n_features_in_, "indices": [0, 500], "values": [1.0, 1.0]}
    batch = features_batch(pa.array(col, type=core._VECTOR_ARROW))
    with pytest.raises(
        ValueError, match="row 1: features column 'features' holds a malformed sparse vector"
    ):
        ts.score_batch(batch, model)
    kept = ts.score_batch(batch, model, handle_invalid="keep")
    assert (
        kept.column("prediction").null_count == 1 and kept.column("prediction")[1].as_py() is None
    )


def test_many_bad_rows_and_batch_edges(model, clean):
    """Every other row bad, bad rows at both ends: each valid row still gets its own answer."""
    root = root_feature(model)
    x = clean.copy()
    x[::2, root] = 3
    x[-1, root] = 3
    good = np.array([i for i in range(len(x)) if i % 2 and i != len(x) - 1])
    batch = features_batch(list_column(x, pa.int8()))
    kept = ts.score_batch(batch, model, handle_invalid="keep")
    got = kept.column("probability").take(pa.array(good))
    assert_bits_equal(probabilities(got), model.predict_proba(clean[good]), "alternating")
    assert kept.column("prediction").null_count == len(x) - len(good)


def test_error_rows_count_from_the_partition_start(model, clean):
    root = root_feature(model)
    x = clean[:9].copy()
    x[7, root] = 2
    batch = features_batch(list_column(x, pa.int8()))
    spec = core.ScoringSpec(model.digest, model.to_bytes(), core.ScoringParams())
    with pytest.raises(thetatree.InputValueError, match="cannot score row 7: ") as e:
        list(core.score_partition(spec, [batch.slice(0, 3), batch.slice(3, 3), batch.slice(6)]))
    assert e.value.row == 7


def test_nulls_are_missing_values(model):
    """A null element, a null named cell, a NaN and -1 all mean missing."""
    x = inputs("mushroom", True).x[:400]
    want = model.predict_proba(x)
    names = list(model.feature_names_in_)
    for batch, kwargs in (
        (features_batch(list_column(x, pa.int8(), "null")), {}),
        (features_batch(list_column(x, pa.float64(), "null")), {}),
        (named_batch(x, names, [pa.bool_()]), {"input_cols": names}),
        (named_batch(x, names, [pa.int32(), pa.float64()]), {"input_cols": names}),
    ):
        out = ts.score_batch(batch, model, **kwargs)
        assert_bits_equal(
            probabilities(out.column("probability")), want, str(batch.schema.types[1])
        )


# ---------------------------------------------------------------------------- planning errors


def test_schema_errors_name_the_column_and_what_is_accepted(model, clean):
    names = list(model.feature_names_in_)
    batch = features_batch(list_column(clean, pa.int8()))
    by_name = named_batch(clean, names, [pa.int8()])
    cases = [
        (
            {"features_col": "nope"},
            batch,
            "features column 'nope' does not exist; the input has 3 columns: 'id', 'features', 'note'",
        ),
        (
            {"features_col": "note"},
            batch,
            "features column 'note' has type string; expected a list of tinyint",
        ),
        (
            {},
            features_batch(pa.array([["1"]] * 2)),
            "features column 'features' has type list<item: string>",
        ),
        (
            {},
            features_batch(pa.array([[1]] * 2, pa.list_(pa.uint8()))),
            "has type list<item: uint8>",
        ),
        (
            {"features_col": "f", "input_cols": names},
            batch,
            "both features_col ('f') and input_cols are set",
        ),
        ({"input_cols": []}, batch, "input_cols is empty"),
        (
            {"input_cols": names + [names[0]]},
            by_name,
            f"input_cols names column {names[0]!r} twice",
        ),
        ({"input_cols": ["id"]}, batch, "input column 'id' is not a feature of the model"),
        ({"input_cols": names}, batch, f"input column {names[0]!r} does not exist"),
        (
            {"input_cols": names[1:]},
            by_name,
            f"1 of the model's {len(names)} features have no column in input_cols: {names[0]!r}",
        ),
        (
            {"prediction_col": "note"},
            batch,
            "output column 'note' (prediction_col) already exists in the input",
        ),
        ({"probability_col": "id"}, batch, "output column 'id' (probability_col) already exists"),
        (
            {"handle_invalid": "ignore"},
            batch,
            "handle_invalid must be 'error', 'skip' or 'keep', not 'ignore'",
        ),
        ({"probability_type": "map"}, batch, "probability_type must be 'vector' or 'array'"),
    ]
    for kwargs, b, message in cases:
        with pytest.raises(ValueError) as e:
            ts.ArrowScorer(model, b.schema, **kwargs)
        assert message in str(e.value), (kwargs, str(e.value))
    named = named_batch(clean[:2], names, [pa.int8()])
    cols = named.columns
    cols[1] = pa.array([1, 0], pa.decimal128(3, 0))
    decimal = pa.RecordBatch.from_arrays(
        cols, schema=named.schema.set(1, pa.field(named.schema.names[1], pa.decimal128(3, 0)))
    )
    with pytest.raises(
        ValueError,
        match=r"has type decimal128\(3, 0\) \(cast it to double or int\); expected a boolean",
    ):
        ts.ArrowScorer(model, decimal.schema, input_cols=names)
    with pytest.raises(TypeError, match="input_cols must be a list of column names"):
        ts.ArrowScorer(model, batch.schema, input_cols=names[0])
    with pytest.raises(TypeError, match="input_cols must be a list of column names"):
        ts.score_batch(batch, model, input_cols=names[0])
    # Messages name the Spark type when the schema records it (thetatree.spark.predict does).
    tagged = batch.schema.set(
        0, batch.schema.field(0).with_metadata({core.SPARK_TYPE_KEY: b"bigint"})
    )
    with pytest.raises(ValueError, match="features column 'id' has type bigint; expected a list"):
        ts.ArrowScorer(model, tagged, features_col="id")
    with pytest.raises(TypeError, match="model must be a thetatree.Model"):
        ts.ArrowScorer(b"ttm", batch.schema)
    scorer = ts.ArrowScorer(model, batch.schema)
    with pytest.raises(ValueError, match="the batch's schema differs"):
        scorer.score(named)
    with pytest.raises(TypeError, match="batch must be a pyarrow.RecordBatch"):
        scorer.score(pa.Table.from_batches([batch]))


# ---------------------------------------------------------------------------- zero copy


def test_zero_copy_views_of_the_arrow_buffers(model, clean):
    for make, buffer_of in (
        (lambda x: list_column(x, pa.int8()), lambda c: c.values.buffers()[1]),
        (lambda x: list_column(x, pa.float64()), lambda c: c.values.buffers()[1]),
        (binary_column, lambda c: c.buffers()[2]),
        (lambda x: vector_column(x, sparse=False), lambda c: c.field("values").values.buffers()[1]),
    ):
        column = make(clean)
        batch = features_batch(column).slice(10, 50)
        cells = ts.ArrowScorer(model, batch.schema)._reader.read(batch).x
        buf = buffer_of(column)
        assert cells.shape == (50, model.n_features_in_)
        assert cells.ctypes.data == buf.address + 10 * model.n_features_in_ * cells.itemsize
        assert thetatree.Model.reads_in_place(cells), column.type


# ---------------------------------------------------------------------------- executors


def test_a_worker_loads_each_model_once(mushroom, clean):
    model = thetatree.compile(
        ref_path(mushroom.json), features=mapping_dict(mushroom), model_version="worker-cache-test"
    )
    spec = core.ScoringSpec(model.digest, model.to_bytes(), core.ScoringParams())
    batch = features_batch(list_column(clean, pa.int8()))
    assert core.MODEL_CACHE.loads_of(model.digest) == 0
    assert list(core.score_partition(spec, [])) == []  # an empty partition loads nothing
    assert core.MODEL_CACHE.loads_of(model.digest) == 0
    for _ in range(3):  # three tasks
        out = list(core.score_partition(spec, [batch.slice(0, 100), batch.slice(100)]))
        assert sum(b.num_rows for b in out) == len(clean)
    assert core.MODEL_CACHE.loads_of(model.digest) == 1


def test_model_cache_evicts_the_least_recently_used_and_checks_digests(mushroom):
    cache = core._ModelCache(capacity=2)
    models = [
        thetatree.compile(
            ref_path(mushroom.json), features=mapping_dict(mushroom), model_version=f"v{i}"
        )
        for i in range(3)
    ]
    for m in models[:2]:
        cache.get(m.digest, m.to_bytes())
    cache.get(models[0].digest, models[0].to_bytes())  # models[0] most recent
    cache.get(models[2].digest, models[2].to_bytes())  # evicts models[1]
    cache.get(models[0].digest, models[0].to_bytes())
    cache.get(models[1].digest, models[1].to_bytes())
    assert [cache.loads_of(m.digest) for m in models] == [1, 2, 1]
    with pytest.raises(ValueError, match="were changed on the way"):
        cache.get("0" * 64, models[0].to_bytes())


def test_the_spec_pickles_small_and_the_model_once(model):
    import pickle

    spec = core.ScoringSpec(
        model.digest, model.to_bytes(), core.ScoringParams(handle_invalid="skip")
    )
    data = pickle.dumps(spec)
    assert len(data) < len(model.to_bytes()) + 1024
    assert pickle.loads(data) == spec
    assert "data=" not in repr(spec)


# ---------------------------------------------------------------------------- the module


def run_python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def test_imports_are_light_and_missing_packages_are_named():
    out = run_python("""
        import sys, thetatree, thetatree.spark
        print(sorted(m for m in ("pyarrow", "pyspark", "pandas") if m in sys.modules))
    """)
    assert out.strip() == "[]"
    out = run_python(
        BLOCK.format(blocked={"pyarrow", "pyspark"})
        + textwrap.dedent("""
        import thetatree.spark as ts
        for name in ("score_batch", "ArrowScorer", "ThetaTreeModel"):
            try:
                getattr(ts, name)
            except ImportError as e:
                print(name, "|", e)
        try:
            ts.predict(None, None)
        except ImportError as e:
            print("predict |", e)
    """)
    )
    lines = out.strip().splitlines()
    assert lines[0].startswith(
        "score_batch | thetatree.spark.score_batch needs pyarrow, which is not installed: pip install pyarrow"
    )
    assert lines[1].startswith("ArrowScorer | thetatree.spark.ArrowScorer needs pyarrow")
    assert lines[2].startswith(
        "ThetaTreeModel | thetatree.spark.ThetaTreeModel needs pyspark, which is not installed: pip install pyspark"
    )
    assert lines[3].startswith("predict | thetatree.spark.predict needs pyarrow")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        ts.nope  # noqa: B018


def test_pyspark_finds_the_module_under_the_java_package_name():
    """PipelineModel.load imports 'io.thetatree.spark' (the Java package with org.apache.spark ->
    pyspark): it must resolve to thetatree.spark, and the standard io module must be unharmed."""
    out = run_python(
        BLOCK.format(blocked={"pyspark"})
        + textwrap.dedent("""
        import io
        import thetatree.spark
        m = __import__("io.thetatree.spark", fromlist=["ThetaTreeModel"])
        print(m is thetatree.spark, io.BytesIO(b"x").read(), hasattr(io, "thetatree"))
        try:
            getattr(m, "ThetaTreeModel")
        except ImportError as e:
            print(str(e).split(",")[0])
    """)
    )
    assert out.splitlines() == ["True b'x' False", "thetatree.spark.ThetaTreeModel needs pyspark"]
