"""Score Spark DataFrames with thetatree models from PySpark, two ways:

* :func:`predict` — pure Python, for clusters without the thetatree jars: a
  ``DataFrame.mapInArrow`` (Spark >= 3.3) over the Python binding. Rows travel as Arrow batches
  and reach the library a batch at a time (zero-copy where the Arrow layout allows); the model's
  ``.ttm`` bytes travel once, inside the function Spark ships to the executors, and each Python
  worker loads a model once (a cache keyed by its digest) for all its tasks. Executors need this
  package and pyarrow.

  >>> import thetatree, thetatree.spark
  >>> scored = thetatree.spark.predict(df, thetatree.load("model.ttm"), features_col="f")

* :class:`ThetaTreeModel` — the JVM stage (``io.thetatree.spark.ThetaTreeModel``) as a PySpark
  ``JavaModel``, with the same Params; it needs the thetatree and thetatree-spark jars on the
  session's class path (``spark.jars`` / ``--jars``). Pipelines holding it save and load from
  Python (``PipelineModel.load``) once this module is imported.

  >>> from thetatree.spark import ThetaTreeModel
  >>> scored = ThetaTreeModel.fromFile("s3a://bucket/model.ttm").setFeaturesCol("f").transform(df)

Both give the reference classifier's answers bit for bit, with the same input forms and rules:
a features column (``array<tinyint|int|bigint|double|...>``, ``binary`` with one byte per
feature, or an ml Vector) or one column per feature matched by name (null = missing);
``prediction`` a double (0.0 / 1.0), ``probability`` [P(class 0), P(class 1)]; ``handle_invalid``
/ ``handleInvalid`` ``"error"``, ``"skip"`` or ``"keep"`` as in Spark ML. The JVM stage also
appends, with ``setLeafCol(name)`` (off by default, as Spark's ``leafCol``), the reached leaf's
pre-order node index as a double.

Importing this module imports neither pyspark nor pyarrow: they are imported when first needed,
with an ``ImportError`` saying what to install.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import types
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ._native import Model

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructField

    from ._spark_arrow import (
        HANDLE_INVALID,
        ArrowScorer,
        ScoringParams,
        score_batch,
    )
    from ._spark_jvm import ThetaTreeModel

__all__ = [
    "HANDLE_INVALID",
    "ArrowScorer",
    "ScoringParams",
    "ThetaTreeModel",
    "predict",
    "score_batch",
]

# name -> (private module, the package it needs): loaded on first access (PEP 562).
_LAZY: Dict[str, Tuple[str, str]] = {
    "ArrowScorer": ("_spark_arrow", "pyarrow"),
    "ScoringParams": ("_spark_arrow", "pyarrow"),
    "score_batch": ("_spark_arrow", "pyarrow"),
    "HANDLE_INVALID": ("_spark_arrow", "pyarrow"),
    "ThetaTreeModel": ("_spark_jvm", "pyspark"),
}

_INSTALL = {
    "pyarrow": "pip install pyarrow (or pip install 'thetatree[spark]')",
    "pyspark": "pip install pyspark (the version of the cluster's Spark), or run inside a "
    "PySpark session",
}


def _require(module: str, package: str, what: str) -> types.ModuleType:
    """Import ``thetatree.<module>``; if ``package`` is missing, say so and how to get it."""
    try:
        return importlib.import_module(f"{__package__}.{module}")
    except ModuleNotFoundError as e:
        if e.name is None or e.name.split(".")[0] != package:
            raise
        raise ImportError(
            f"thetatree.spark.{what} needs {package}, which is not installed: {_INSTALL[package]}"
        ) from e


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, package = _LAZY[name]
    value = getattr(_require(module, package, name), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


def _register_java_package() -> None:
    """Make ``PipelineModel.load`` find :class:`ThetaTreeModel`.

    PySpark rebuilds a loaded Java stage as the Python class named like its Java class with
    ``org.apache.spark`` replaced by ``pyspark`` (``JavaParams._from_java``,
    ``DefaultParamsReader``): for ``io.thetatree.spark.ThetaTreeModel`` it imports the module
    ``io.thetatree.spark``, which cannot exist as a file (``io`` is Python's standard ``io``
    module, not a package). So this module is also registered under that name, in
    ``sys.modules`` only; the standard ``io`` module is not touched.
    """
    this = sys.modules[__name__]
    parent = sys.modules.get("io.thetatree")
    if parent is None:
        parent = types.ModuleType("io.thetatree", "thetatree, as PySpark looks up its Java stages")
        parent.__path__ = []  # a package, so that io.thetatree.spark is its submodule
        sys.modules["io.thetatree"] = parent
    parent.spark = this  # type: ignore[attr-defined]
    sys.modules.setdefault("io.thetatree.spark", this)


_register_java_package()


# ---------------------------------------------------------------------------- predict


def _model_and_bytes(
    model: Union[Model, bytes, bytearray, memoryview, str, "os.PathLike[str]"],
) -> Tuple[Model, bytes]:
    from . import load, loads

    if isinstance(model, Model):
        return model, model.to_bytes()
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        return loads(data), data
    if isinstance(model, (str, os.PathLike)):
        loaded = load(model, mmap=False)
        return loaded, loaded.to_bytes()
    raise TypeError(
        "model must be a thetatree.Model, the bytes of a .ttm file or the path of one, not "
        f"{type(model).__name__}"
    )


def _refuse_old_vectors(df: "DataFrame", column: str) -> None:
    """The old ``pyspark.mllib`` Vector travels like an ml Vector but is refused, as by the JVM
    stage, with the conversion to use."""
    if column not in df.columns:
        return
    t = df.schema[column].dataType
    if type(t).__module__ == "pyspark.mllib.linalg" and type(t).__name__ == "VectorUDT":
        raise ValueError(
            f"features column {column!r} holds old spark.mllib Vectors; convert them with "
            "pyspark.mllib.util.MLUtils.convertVectorColumnsToML"
        )


def _arrow_schema(df: "DataFrame") -> Any:
    """The Arrow schema Spark sends ``df``'s rows in, each field tagged with its Spark type (so
    that messages say ``bigint``, not ``int64``)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    from ._spark_arrow import SPARK_TYPE_KEY

    return pa.schema(
        [
            f.with_metadata({SPARK_TYPE_KEY: s.dataType.simpleString().encode()})
            for f, s in zip(to_arrow_schema(df.schema), df.schema.fields)
        ]
    )


def _output_fields(model: Model, params: "ScoringParams") -> List["StructField"]:
    """The Spark fields predict appends, with the JVM stage's ML attribute metadata."""
    from pyspark.sql.types import ArrayType, DoubleType, StructField

    keep = params.handle_invalid == "keep"
    fields = []
    meta: Dict[str, Any]
    if params.prediction_col:
        meta = {"ml_attr": {"type": "nominal", "vals": list(model.class_labels)}}
        fields.append(StructField(params.prediction_col, DoubleType(), keep, meta))
    if params.probability_col:
        if params.probability_type == "vector":
            from pyspark.ml.linalg import VectorUDT

            proba_type: Any = VectorUDT()
        else:
            proba_type = ArrayType(DoubleType(), containsNull=False)
        meta = {"ml_attr": {"num_attrs": 2}}
        fields.append(StructField(params.probability_col, proba_type, keep, meta))
    return fields


def predict(
    df: "DataFrame",
    model: Union[Model, bytes, str, "os.PathLike[str]"],
    *,
    features_col: Optional[str] = None,
    input_cols: Optional[Sequence[str]] = None,
    prediction_col: str = "prediction",
    probability_col: str = "probability",
    handle_invalid: str = "error",
    probability_type: str = "vector",
) -> "DataFrame":
    """``df`` with the model's predictions appended, computed in Python workers through
    ``DataFrame.mapInArrow`` (no jar needed; executors need thetatree and pyarrow).

    ``model``: a :class:`thetatree.Model`, the bytes of a ``.ttm`` file or a local path to one.
    Input: ``features_col`` (default ``"features"``): ``array<tinyint|smallint|int|bigint|float|
    double|boolean>`` (-1 or null element missing in integers, NaN or null in floats), ``binary``
    (one byte per feature, 0xFF missing) or an ml Vector (dense or sparse, NaN missing), one
    value per feature in ``model.feature_names_in_`` order; or ``input_cols``: one boolean or
    numeric column per model feature, matched by name (null missing). Set one of the two.

    Output: ``prediction_col`` (double 0.0 / 1.0, with the class labels in its ML attribute
    metadata) and ``probability_col`` ([P(class 0), P(class 1)]: an ml ``Vector`` with
    ``probability_type="vector"``, the default, like the JVM stage; ``array<double>`` with
    ``"array"``); ``""`` leaves an output out.

    ``handle_invalid`` — rows with a value other than 0, 1 or missing on their path through the
    tree, or a null or wrong-length features value: ``"error"`` (the task fails naming the
    partition, row, feature and value), ``"skip"`` (dropped) or ``"keep"`` (null outputs).

    Everything about the input is checked here, before any data is read (``ValueError``).
    """
    arrow = _require("_spark_arrow", "pyarrow", "predict")
    try:
        from pyspark.sql.types import StructType
    except ModuleNotFoundError as e:
        raise ImportError(f"thetatree.spark.predict needs pyspark: {_INSTALL['pyspark']}") from e
    params = arrow.ScoringParams(
        features_col,
        input_cols,
        prediction_col,
        probability_col,
        handle_invalid,
        probability_type,
    )
    m, data = _model_and_bytes(model)
    if params.input_cols is None:
        _refuse_old_vectors(df, params.features_column)
    scorer = arrow.ArrowScorer(m, _arrow_schema(df), params)
    if not scorer.has_outputs:
        warnings.warn(
            "thetatree.spark.predict does nothing: prediction_col and probability_col are both "
            "empty",
            stacklevel=2,
        )
        return df
    schema = StructType(list(df.schema.fields) + _output_fields(m, params))
    spec = arrow.ScoringSpec(m.digest, data, params)
    return df.mapInArrow(functools.partial(arrow.score_partition, spec), schema)
