"""thetatree.spark.ThetaTreeModel (the JVM stage from Python) on local[2]: creation and getters,
Params mirroring the Java stage, transform, errors as Python exceptions, and persistence through
PySpark's own readers (ThetaTreeModel.load, PipelineModel.load with Java and Python stages)."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest
import thetatree
import thetatree.spark as ts
from conftest import MUSHROOM, ReferenceFrames, collect, columns, compiled, proba_of, reference
from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from thetatree.spark import ThetaTreeModel


@pytest.fixture(scope="module")
def model():
    return compiled(MUSHROOM)


@pytest.fixture(scope="module")
def rows(spark, model):
    """300 mushroom rows with missing values, in one frame: id, f8, fb, fv, the named columns."""
    frames = ReferenceFrames(spark, "mushroom", True, list(model.feature_names_in_), rows=300)
    df = frames.arrays.join(frames.vectors, "id").join(frames.named, "id")
    return df.coalesce(2).cache()


def golden_rows(n: int = 300):
    g = reference.golden(MUSHROOM.name, True)
    return g.pred[:n].astype(np.float64), g.proba[:n], g.has_proba[:n]


def test_from_file_and_from_bytes_with_the_models_getters(spark, model, tmp_path):
    path = tmp_path / "m.ttm"
    model.save(path)
    for stage in (
        ThetaTreeModel.fromFile(str(path)),
        ThetaTreeModel.fromFile(path.as_uri()),
        ThetaTreeModel.fromBytes(model.to_bytes()),
    ):
        assert isinstance(stage, ThetaTreeModel)
        assert stage.uid.startswith("thetatree_") and stage.uid == stage._java_obj.uid()
        assert stage.getDigest() == model.digest
        assert stage.getVersion() == MUSHROOM.name
        assert stage.getFeatureNames() == list(model.feature_names_in_)
        assert stage.getClassLabels() == list(model.class_labels)
        assert (stage.numFeatures, stage.numClasses, stage.numNodes, stage.depth) == (
            model.n_features_in_,
            2,
            model.n_nodes,
            model.max_depth,
        )
        assert stage.getModelBytes() == model.to_bytes()
        assert repr(stage).startswith(f"ThetaTreeModel: uid={stage.uid}, digest={model.digest}")


def test_params_mirror_the_java_stage(spark, model):
    stage = ThetaTreeModel.fromBytes(model.to_bytes())
    java = stage._java_obj
    java_names = sorted(p.name() for p in java.params())
    assert sorted(p.name for p in stage.params) == java_names
    for p in stage.params:
        assert not getattr(p, "created_from_java_param", False), f"{p.name} has no Python Param"
        jp = java.getParam(p.name)
        assert stage.hasDefault(p) == java.hasDefault(jp), p.name
        if java.hasDefault(jp):
            assert stage.getOrDefault(p) == java.getDefault(jp).get(), p.name
    # A fresh Python instance (as PipelineModel.load makes one) has the same defaults.
    fresh = ThetaTreeModel()
    assert {p.name: fresh.getOrDefault(p) for p in fresh.params if fresh.hasDefault(p)} == {
        "featuresCol": "features",
        "predictionCol": "prediction",
        "probabilityCol": "probability",
        "leafCol": "",
        "handleInvalid": "error",
        "batchSize": 4096,
    }
    assert (
        stage.getFeaturesCol(),
        stage.getPredictionCol(),
        stage.getProbabilityCol(),
        stage.getHandleInvalid(),
        stage.getBatchSize(),
        stage.getInputCols(),
        stage.getLeafCol(),
    ) == ("features", "prediction", "probability", "error", 4096, None, "")


def golden_leaves(n: int = 300) -> np.ndarray:
    """The reached leaf's pre-order node index of the first n golden rows (as a double)."""
    rows = reference.read_csv(f"golden/{MUSHROOM.name}__X_missing.csv")[:n]
    return np.array([float(r["leaf_preorder"]) for r in rows])


def test_leaf_col_is_off_by_default_and_gives_the_golden_leaf_preorder(spark, model, rows):
    from pyspark.sql.types import DoubleType

    leaves = golden_leaves()
    plain = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("f8")
    assert plain.getLeafCol() == "" and not plain.isSet(plain.leafCol)
    assert plain.transform(rows).columns[-2:] == ["prediction", "probability"]
    names = list(model.feature_names_in_)
    with_all = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("f8").setLeafCol("leaf")
    alone = (
        ThetaTreeModel.fromBytes(model.to_bytes())
        .setInputCols(names)
        .setPredictionCol("")
        .setProbabilityCol("")
        .setLeafCol("node")
        .setBatchSize(13)
    )
    assert with_all.getLeafCol() == "leaf" and alone.getLeafCol() == "node"
    scored = with_all.transform(rows)
    assert scored.columns[-3:] == ["prediction", "probability", "leaf"]
    got = collect(scored, "prediction", "leaf")
    assert np.array_equal(got.column("leaf").to_numpy(), leaves)
    assert np.array_equal(got.column("prediction").to_numpy(), golden_rows()[0])
    scored_alone = alone.transform(rows)
    assert [c for c in scored_alone.columns if c in ("prediction", "probability", "node")] == [
        "node"
    ]
    assert np.array_equal(collect(scored_alone, "node").column("node").to_numpy(), leaves)
    field = scored.schema["leaf"]
    assert field.dataType == DoubleType() and not field.nullable
    assert field.metadata["ml_attr"]["type"] == "nominal"
    assert field.metadata["ml_attr"]["num_vals"] == model.n_nodes
    assert with_all.copy({with_all.handleInvalid: "keep"}).transform(rows).schema["leaf"].nullable


def test_transform_with_params_set_from_python(spark, model, rows):
    pred, proba, has = golden_rows()
    names = list(model.feature_names_in_)
    cases = [
        (
            ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("f8"),
            "prediction",
            "probability",
        ),
        (
            ThetaTreeModel.fromBytes(model.to_bytes())
            .setFeaturesCol("fv")
            .setBatchSize(7)
            .setPredictionCol("p")
            .setProbabilityCol("q"),
            "p",
            "q",
        ),
        (
            ThetaTreeModel.fromBytes(model.to_bytes()).setInputCols(names),
            "prediction",
            "probability",
        ),
    ]
    for stage, p, q in cases:
        got = collect(stage.transform(rows), p, q)
        assert np.array_equal(got.column(p).to_numpy(), pred)
        reference.assert_bits_equal(proba_of(got, q)[has], proba[has], f"{stage.params}")
    assert cases[1][0].getBatchSize() == 7 and cases[2][0].getInputCols() == names
    only = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("fb").setProbabilityCol("")
    assert only.transform(rows).columns[-1] == "prediction"
    # copy() with extra params copies the Java object too.
    base = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("f8")
    other = base.copy({base.predictionCol: "other"})
    assert other.getPredictionCol() == "other" and base.getPredictionCol() == "prediction"
    assert "other" in other.transform(rows).columns and "other" not in base.transform(rows).columns


def test_refusals_are_python_exceptions(spark, model, tmp_path, rows):
    with pytest.raises(OSError, match="nope.ttm"):
        ThetaTreeModel.fromFile(str(tmp_path / "nope.ttm"))
    with pytest.raises(thetatree.ModelError) as e:
        ThetaTreeModel.fromBytes(b"not a model at all, but long enough to have a header" * 4)
    assert e.value.status == "TT_ERR_BAD_MAGIC" and e.value.offset == 0
    damaged = bytearray(model.to_bytes())
    damaged[100] ^= 1
    with pytest.raises(thetatree.ModelError) as e:
        ThetaTreeModel.fromBytes(bytes(damaged))
    assert e.value.status == "TT_ERR_CHECKSUM"
    with pytest.raises(TypeError):
        ThetaTreeModel.fromBytes("text")
    from pyspark.errors import IllegalArgumentException

    stage = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("id")
    with pytest.raises(IllegalArgumentException, match="features column 'id' has type bigint"):
        stage.transform(rows)
    path = tmp_path / "m.ttm"
    model.save(path)
    with pytest.raises(
        IllegalArgumentException,
        match="is a .ttm model file, not a saved stage: use ThetaTreeModel.fromFile",
    ):
        ThetaTreeModel.load(str(path))


def test_stage_save_and_load(spark, model, rows, tmp_path):
    stage = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("fv").setHandleInvalid("keep")
    stage.write().overwrite().save(str(tmp_path / "stage"))
    loaded = ThetaTreeModel.load(str(tmp_path / "stage"))
    assert type(loaded) is ThetaTreeModel and loaded.uid == stage.uid
    assert (loaded.getFeaturesCol(), loaded.getHandleInvalid(), loaded.getDigest()) == (
        "fv",
        "keep",
        model.digest,
    )
    assert loaded.isSet(loaded.featuresCol) and not loaded.isSet(loaded.batchSize)
    assert collect(loaded.transform(rows), "probability").equals(
        collect(stage.transform(rows), "probability")
    )


class AddOne(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """A pure-Python stage: makes the Pipeline persist through PySpark's Python path."""

    def _transform(self, dataset):
        return dataset.withColumn("plus_one", dataset["id"] + 1)


@pytest.mark.parametrize("python_stage", [False, True], ids=["java stages", "with a python stage"])
def test_pipeline_model_load_from_python_rebuilds_the_stage(
    spark, model, rows, tmp_path, python_stage
):
    first = (
        AddOne()
        if python_stage
        else SQLTransformer(statement="SELECT *, id + 1 AS plus_one FROM __THIS__")
    )
    stage = ThetaTreeModel.fromBytes(model.to_bytes()).setInputCols(list(model.feature_names_in_))
    pipeline = PipelineModel([first, stage])
    path = str(tmp_path / "pipeline")
    pipeline.write().overwrite().save(path)
    loaded = PipelineModel.load(path)
    assert [type(s) for s in loaded.stages] == [type(first), ThetaTreeModel]
    again = loaded.stages[1]
    assert again.uid == stage.uid and again.getInputCols() == list(model.feature_names_in_)
    assert again.getDigest() == model.digest
    pred, proba, has = golden_rows()
    got = collect(loaded.transform(rows), "plus_one", "prediction", "probability")
    assert np.array_equal(got.column("plus_one").to_numpy(), np.arange(1, 301))
    assert np.array_equal(got.column("prediction").to_numpy(), pred)
    reference.assert_bits_equal(proba_of(got, "probability")[has], proba[has], "pipeline")


def test_the_helper_and_the_stage_read_binary_alike(spark, model):
    """A binary column built from Arrow, bad byte on the root split's path: same refusal."""
    root = json.loads(model.export_json())["tree_structure"]["feature_idx"]
    name = model.feature_names_in_[root]
    x = reference.inputs("mushroom", False).x[:20].copy()
    x[3, root] = 5
    df = spark.createDataFrame(
        pa.table({"id": np.arange(20), "fb": columns.binary_column(x)})
    ).coalesce(1)
    jvm = ThetaTreeModel.fromBytes(model.to_bytes()).setFeaturesCol("fb")
    for scored in (ts.predict(df, model, features_col="fb"), jvm.transform(df)):
        with pytest.raises(
            Exception,
            match=re.escape(
                f"cannot score row 3 of partition 0: feature {name!r} (index {root}, in features "
                "column 'fb') is byte 5"
            ),
        ):
            scored.collect()
    kept = [
        collect(s, "prediction")
        for s in (
            ts.predict(df, model, features_col="fb", handle_invalid="keep"),
            jvm.setHandleInvalid("keep").transform(df),
        )
    ]
    assert kept[0].equals(kept[1]) and kept[0].column("prediction").null_count == 1
