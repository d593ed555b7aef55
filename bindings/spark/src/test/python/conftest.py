"""Fixtures of the PySpark tests (run by bindings/spark/run-pyspark-tests.sh): one local[2]
SparkSession bound to 127.0.0.1 with the UI off and the thetatree jars on spark.jars, the
reference models, and DataFrames of the reference inputs in every input form.

The reference data helpers are the Python binding's (bindings/python/tests/conftest.py, loaded
under another name: this file is this directory's ``conftest``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, Tuple

import numpy as np
import pyarrow as pa
import pytest
import thetatree

REPO = Path(__file__).resolve().parents[5]
PY_TESTS = REPO / "bindings" / "python" / "tests"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


reference = _load("tt_reference", PY_TESTS / "conftest.py")
columns = _load("tt_spark_columns", PY_TESTS / "spark_columns.py")


def _ship_by_value(module: ModuleType) -> None:
    """Python workers cannot import the test helpers: functions shipped to them that use a
    helper module carry the module's code."""
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(module)


_ship_by_value(columns)

MODELS = reference.MODELS
MUSHROOM = next(m for m in MODELS if m.name == "mushroom_gini_d5_lgk12")


def jars() -> str:
    value = os.environ.get("TT_SPARK_JARS") or ",".join(
        str(p)
        for p in (
            REPO / "bindings/java/target/thetatree-0.1.0.jar",
            REPO / "bindings/spark/target/thetatree-spark-0.1.0.jar",
        )
    )
    missing = [j for j in value.split(",") if not Path(j).is_file()]
    assert not missing, f"jars missing: {missing} (bindings/spark/run-pyspark-tests.sh builds them)"
    return value


@pytest.fixture(scope="session")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("thetatree-pyspark-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.jars", jars())
        .config("spark.sql.shuffle.partitions", "3")
        # Several Arrow batches per partition, so that row numbers cross batch boundaries.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def compiled(m) -> thetatree.Model:
    return thetatree.compile(
        reference.ref_path(m.json), features=reference.mapping_dict(m), model_version=m.name
    )


# Per-feature types of the named columns (cycled over the features; null is missing).
NAMED_TYPES = [pa.int8(), pa.float64(), pa.int32(), pa.bool_(), pa.int64()]


class ReferenceFrames:
    """The reference inputs of one dataset as DataFrames (2 partitions, Arrow batches of 1000
    rows), each with an ``id`` column:

    * ``arrays``: ``f8`` (array<tinyint>, -1 missing), ``fi`` (array<int>), ``fd``
      (array<double>, NaN missing), ``fb`` (binary, 0xFF missing);
    * ``vectors``: ``fv``, sparse ml Vectors (NaN entries for missing values; cached);
    * ``named``: one column per feature, named like it, of mixed types (null missing).
    """

    def __init__(self, spark, dataset: str, missing: bool, names, rows: int = -1) -> None:
        x = reference.inputs(dataset, missing).x
        if rows >= 0:
            x = x[:rows]
        ids = pa.array(np.arange(len(x), dtype=np.int64))
        self.arrays = spark.createDataFrame(
            pa.table(
                {
                    "id": ids,
                    "f8": columns.list_column(x, pa.int8()),
                    "fi": columns.list_column(x, pa.int32()),
                    "fd": columns.list_column(x, pa.float64()),
                    "fb": columns.binary_column(x),
                }
            )
        )
        self.vectors = (
            with_vectors(self.arrays.select("id", "fd"), "fd", "fv", x.shape[1])
            .select("id", "fv")
            .cache()
        )
        named = {"id": ids}
        for j, name in enumerate(names):
            named[name] = columns.named_column(x[:, j], NAMED_TYPES[j % len(NAMED_TYPES)])
        self.named = spark.createDataFrame(pa.table(named))


_frames: Dict[Tuple[str, bool], ReferenceFrames] = {}


def reference_frames(spark, dataset: str, missing: bool, names) -> ReferenceFrames:
    key = (dataset, missing)
    if key not in _frames:
        _frames[key] = ReferenceFrames(spark, dataset, missing, names)
    return _frames[key]


def with_vectors(df, source: str, target: str, nf: int):
    """``df`` plus ``target``: the ``array<double>`` column ``source`` as sparse ml Vectors."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import StructField, StructType

    schema = StructType(list(df.schema.fields) + [StructField(target, VectorUDT(), False)])

    def add(batches):
        for b in batches:
            cells = b.column(source).flatten().to_numpy(zero_copy_only=False).reshape(-1, nf)
            vectors = columns.vector_column(cells, sparse=True)
            yield pa.RecordBatch.from_arrays(b.columns + [vectors], names=b.schema.names + [target])

    return df.mapInArrow(add, schema)


def collect(df, *cols) -> pa.Table:
    """The columns, ordered by id, as Arrow (sorted here: no shuffle)."""
    t = df.select("id", *cols).toArrow()
    return t.take(np.argsort(t.column("id").to_numpy(), kind="stable"))


def proba_of(table: pa.Table, col: str) -> np.ndarray:
    """(n, 2) probabilities of a Vector or array<double> column (no nulls)."""
    return columns.probabilities(table.column(col).combine_chunks())
