"""thetatree.spark.predict (the mapInArrow helper) on local[2]: golden parity on every reference
model in every input form, the same answers as the JVM stage, handle_invalid, the output schema,
checks made before any job runs, and one model load per Python worker."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pyarrow as pa
import pytest
import thetatree
import thetatree.spark as ts
from conftest import (
    MODELS,
    MUSHROOM,
    collect,
    columns,
    compiled,
    proba_of,
    reference,
    reference_frames,
)
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DoubleType, StructType
from thetatree import _spark_arrow

FORMS = ("f8", "fi", "fd", "fb")


# The Spark side of parity: every input form as Spark sends it, on a balanced 117-feature tree
# and a deep 354-feature one. Every reference model in every form goes through the same batch
# core in bindings/python/tests/test_spark_arrow.py; TT_PYSPARK_ALL_MODELS=1 runs them all here.
PARITY = [
    m
    for m in MODELS
    if os.environ.get("TT_PYSPARK_ALL_MODELS") == "1"
    or m.name in ("mushroom_gini_d5_lgk12", "du_entropy_d14_lgk12")
]


@pytest.mark.parametrize("m", PARITY, ids=[m.name for m in PARITY])
def test_every_form_matches_golden_and_the_jvm_stage(spark, m):
    """One job per input set: a union of one narrow branch per input form (the helper on each
    features column, on the named columns, and the JVM stage on the Vector column)."""
    model = compiled(m)
    names = list(model.feature_names_in_)
    jvm = ts.ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("fv")
    for missing in (False, True):
        frames = reference_frames(spark, m.dataset, missing, names)
        branches = {
            form: ts.predict(frames.arrays.select("id", form), model, features_col=form)
            for form in FORMS
        }
        branches["fv"] = ts.predict(frames.vectors, model, features_col="fv")
        branches["named"] = ts.predict(frames.named, model, input_cols=names)
        branches["jvm"] = jvm.transform(frames.vectors)
        forms = sorted(branches)
        union = None
        for k, form in enumerate(forms):
            df = branches[form].select("id", F.lit(k).alias("form"), "prediction", "probability")
            union = df if union is None else union.unionByName(df)
        got = union.toArrow()
        got = got.take(np.lexsort((got.column("id").to_numpy(), got.column("form").to_numpy())))
        g = reference.golden(m.name, missing)
        n = len(g.pred)
        assert got.num_rows == n * len(forms)
        jvm_proba = proba_of(got.slice(forms.index("jvm") * n, n), "probability")
        for k, form in enumerate(forms):
            t = got.slice(k * n, n)
            what = f"{m.name} missing={missing} {form}"
            assert np.array_equal(t.column("form").to_numpy(), np.full(n, k)), what
            assert np.array_equal(t.column("id").to_numpy(), np.arange(n)), what
            assert np.array_equal(t.column("prediction").to_numpy(), g.pred.astype(np.float64)), (
                what
            )
            proba = proba_of(t, "probability")
            reference.assert_bits_equal(proba[g.has_proba], g.proba[g.has_proba], what)
            reference.assert_bits_equal(proba, jvm_proba, f"{what} vs the JVM stage")


def test_model_as_bytes_or_path_and_the_output_schema(spark, tmp_path):
    model = compiled(MUSHROOM)
    path = tmp_path / "m.ttm"
    model.save(path)
    df = reference_frames(spark, "mushroom", False, list(model.feature_names_in_)).arrays.limit(50)
    stage = ts.ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("f8")
    jvm = stage.transform(df)
    planned = StructType.fromJson(
        json.loads(stage._java_obj.transformSchema(df._jdf.schema()).json())
    )
    want = collect(jvm, "prediction", "probability")
    for source in (model, model.to_bytes(), str(path), path):
        out = ts.predict(df, source, features_col="f8")
        # The JVM stage's types and nullability, and the ML attribute metadata of its
        # transformSchema (its transform output drops the metadata).
        assert [(f.name, f.dataType, f.nullable) for f in out.schema] == [
            (f.name, f.dataType, f.nullable) for f in jvm.schema
        ]
        assert [f.metadata for f in out.schema] == [f.metadata for f in planned]
        assert collect(out, "prediction", "probability").equals(want)
    arr = ts.predict(df, model, features_col="f8", probability_type="array", handle_invalid="keep")
    assert arr.schema["probability"].dataType == ArrayType(DoubleType(), containsNull=False)
    assert arr.schema["probability"].nullable and arr.schema["prediction"].nullable
    got = collect(arr, "probability")
    reference.assert_bits_equal(
        proba_of(got, "probability"), proba_of(want, "probability"), "array"
    )
    with pytest.warns(UserWarning, match="does nothing"):
        assert ts.predict(df, model, features_col="f8", prediction_col="", probability_col="") is df
    with pytest.raises(TypeError, match="model must be a thetatree.Model"):
        ts.predict(df, 42)


def test_input_is_checked_before_any_job(spark):
    model = compiled(MUSHROOM)
    names = list(model.feature_names_in_)
    frames = reference_frames(spark, "mushroom", False, names)
    from pyspark.mllib.linalg import Vectors as OldVectors

    old = spark.createDataFrame([(OldVectors.dense([0.0] * 117),)], ["features"])
    tracker = spark.sparkContext.statusTracker()
    jobs = sorted(tracker.getJobIdsForGroup())
    for df, kwargs, message in (
        (frames.arrays, {}, "features column 'features' does not exist; the input has 5 columns"),
        (
            frames.arrays,
            {"features_col": "id"},
            "features column 'id' has type bigint; expected a list of",
        ),
        (
            frames.named,
            {"input_cols": names[:-1]},
            "1 of the model's 117 features have no column in input_cols",
        ),
        (
            frames.arrays,
            {"features_col": "f8", "prediction_col": "id"},
            "output column 'id' (prediction_col) already exists",
        ),
        (
            frames.arrays,
            {"features_col": "f8", "handle_invalid": "maybe"},
            "handle_invalid must be",
        ),
        (old, {}, "features column 'features' holds old spark.mllib Vectors; convert them with"),
    ):
        with pytest.raises(ValueError) as e:
            ts.predict(df, model, **kwargs)
        assert message in str(e.value)
    assert sorted(tracker.getJobIdsForGroup()) == jobs  # refused without running anything


BAD = (0, 5, 6, 349, 350, 699)


@pytest.fixture(scope="module")
def bad_frame(spark):
    """700 mushroom rows in 3 partitions, sorted by id within each; rows BAD have a 2 in the
    root split's feature. Also: the root feature, the cells, and (partition, row in partition)
    of each id."""
    model = compiled(MUSHROOM)
    root = json.loads(model.export_json())["tree_structure"]["feature_idx"]
    x = reference.inputs("mushroom", False).x[:700].copy()
    x[list(BAD), root] = 2
    t = pa.table({"id": np.arange(len(x)), "f8": columns.list_column(x, pa.int8())})
    df = spark.createDataFrame(t).repartitionByRange(3, "id").sortWithinPartitions("id").cache()
    where = dict(
        df.rdd.mapPartitionsWithIndex(
            lambda p, rows: [(r.id, (p, k)) for k, r in enumerate(rows)]
        ).collect()
    )
    return df, root, x, where


def test_handle_invalid_on_spark(spark, bad_frame):
    model = compiled(MUSHROOM)
    df, root, x, where = bad_frame
    name = model.feature_names_in_[root]
    with pytest.raises(Exception) as e:
        ts.predict(df, model, features_col="f8").collect()
    text = str(e.value)
    found = re.search(
        rf"thetatree: cannot score row (\d+) of partition (\d+): feature {re.escape(repr(name))} "
        rf"\(index {root}, in features column 'f8'\) is 2; a value must be 0, 1 or missing",
        text,
    )
    assert found, text
    assert (int(found.group(2)), int(found.group(1))) in {where[i] for i in BAD}, text
    good = np.setdiff1d(np.arange(len(x)), BAD)
    want = model.predict_proba(x[good].astype(np.int8))
    skipped = collect(
        ts.predict(df, model, features_col="f8", handle_invalid="skip"), "probability"
    )
    assert skipped.column("id").to_numpy().tolist() == good.tolist()
    reference.assert_bits_equal(proba_of(skipped, "probability"), want, "skip")
    kept = ts.predict(df, model, features_col="f8", handle_invalid="keep")
    # (PySpark's toArrow cannot read a null Vector: ask Spark which cells are null.)
    kept = collect(
        kept.select("id", "prediction", F.isnull("probability").alias("no_proba")),
        "prediction",
        "no_proba",
    )
    nulls = kept.column("prediction").is_null().to_numpy(zero_copy_only=False)
    assert np.flatnonzero(nulls).tolist() == list(BAD)
    assert np.flatnonzero(kept.column("no_proba").to_numpy(zero_copy_only=False)).tolist() == list(
        BAD
    )
    # The JVM stage, driven from Python, agrees.
    jvm = (
        ts.ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("f8").setHandleInvalid("skip")
    )
    assert (
        collect(jvm.transform(df), "prediction").column("id").to_numpy().tolist() == good.tolist()
    )


def test_each_python_worker_loads_a_model_once(spark):
    model = thetatree.compile(
        reference.ref_path(MUSHROOM.json),
        features=reference.mapping_dict(MUSHROOM),
        model_version="once",
    )
    df = reference_frames(spark, "mushroom", False, list(model.feature_names_in_)).arrays
    df = df.select("id", "f8").repartition(4)
    for _ in range(3):  # 3 jobs x 4 tasks
        assert ts.predict(df, model, features_col="f8").filter("prediction >= 0").count() == 8124
    digest = model.digest

    def report(batches):
        import os

        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict(
            {"pid": [os.getpid()], "loads": [_spark_arrow.MODEL_CACHE.loads_of(digest)]}
        )

    rows = spark.range(0, 6, numPartitions=6).mapInArrow(report, "pid long, loads long").collect()
    loads = {r.pid: r.loads for r in rows}
    assert all(n <= 1 for n in loads.values()), loads
    assert sum(loads.values()) >= 1, loads
