"""``thetatree.spark.ThetaTreeModel``: the JVM stage ``io.thetatree.spark.ThetaTreeModel``
(``bindings/spark``) as a PySpark ``JavaModel``.

The Params mirror the Java stage's names and defaults; ``transform`` runs on the JVM (the
Python side only holds the Java object). Saved stages and Pipelines load from Python:
``ThetaTreeModel.load(dir)`` through a reader that names the Java class, and
``PipelineModel.load(dir)`` through the ``io.thetatree.spark`` module alias that
``thetatree.spark`` registers (see ``thetatree.spark._register_java_package``).

Needs pyspark, and the thetatree and thetatree-spark jars on the session's class path
(``spark.jars`` / ``--jars``).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Type, TypeVar, cast

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import JavaMLReadable, JavaMLReader, JavaMLWritable
from pyspark.ml.wrapper import JavaModel

from ._errors import ModelError

#: The Java class this wraps.
JAVA_CLASS = "io.thetatree.spark.ThetaTreeModel"

_IO = 5  # ThetaTreeException.IO: a file system error
_BAD_MAGIC, _TRUNCATED = 6, 9  # statuses whose byte offset 0 is a real location

T = TypeVar("T")


def _jvm() -> Any:
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        raise RuntimeError(
            "ThetaTreeModel needs an active SparkSession (with the thetatree and thetatree-spark "
            "jars on its class path: spark.jars or --jars)"
        )
    return sc._jvm


def _java_class() -> Any:
    """The Java class, through Py4J; a clear error when the jars are not on the class path
    (Py4J then resolves the name to a package)."""
    from py4j.java_gateway import JavaClass

    cls = _jvm()
    for part in JAVA_CLASS.split("."):
        cls = getattr(cls, part)
    if not isinstance(cls, JavaClass):
        raise RuntimeError(
            f"{JAVA_CLASS} is not on the JVM's class path: add the thetatree and thetatree-spark "
            "jars to the session (spark.jars or --jars)"
        )
    return cls


def _library_errors(call: Callable[[], T]) -> T:
    """Run a JVM call; the library's ``ThetaTreeException`` becomes ``thetatree.ModelError``
    (``OSError`` for file system errors), as the Python binding raises them."""
    from py4j.protocol import Py4JJavaError

    try:
        return call()
    except Py4JJavaError as e:
        java = e.java_exception
        if java.getClass().getName() != "io.thetatree.ThetaTreeException":
            raise
        code, detail = int(java.code()), str(java.detail())
        if code == _IO:
            raise OSError(detail) from e
        offset = int(java.byteOffset())
        raise ModelError(
            code, detail, offset if offset or code in (_BAD_MAGIC, _TRUNCATED) else None
        ) from e


class _ThetaTreeModelReader(JavaMLReader["ThetaTreeModel"]):
    """PySpark's reader derives the Java class from the Python module name
    (``thetatree.spark`` is not a Java package): name it explicitly."""

    @classmethod
    def _java_loader_class(cls, clazz: Type[Any]) -> str:
        return JAVA_CLASS

    @classmethod
    def _load_java_obj(cls, clazz: Type[Any]) -> Any:
        return _java_class()

    def load(self, path: str) -> "ThetaTreeModel":
        return _library_errors(lambda: super(_ThetaTreeModelReader, self).load(path))


class ThetaTreeModel(JavaModel, JavaMLReadable["ThetaTreeModel"], JavaMLWritable):
    """A compiled theta-sketch decision tree (``.ttm``) as a Spark ML model, scored on the JVM.

    >>> from thetatree.spark import ThetaTreeModel
    >>> model = ThetaTreeModel.fromFile("s3a://bucket/models/trips.ttm").setFeaturesCol("f")
    >>> scored = model.transform(df)   # + prediction (double), probability (Vector [P0, P1])
    >>> leaves = model.setLeafCol("leaf").transform(df)   # + leaf (double pre-order node index)

    Input: ``featuresCol`` (``array<tinyint|int|double>``, ``binary`` or an ml Vector) or, with
    :meth:`setInputCols`, one boolean/numeric column per feature matched by name.
    ``handleInvalid``: ``"error"`` (default), ``"skip"`` or ``"keep"``. See the Spark binding's
    README for every rule; this class only carries the Params to the Java stage.
    """

    featuresCol: "Param[str]" = Param(
        Params._dummy(),
        "featuresCol",
        "features column: array<tinyint>, array<int>, array<double>, binary or ml Vector, one "
        "value per model feature",
        typeConverter=TypeConverters.toString,
    )
    inputCols: "Param[List[str]]" = Param(
        Params._dummy(),
        "inputCols",
        "one boolean or numeric column per model feature, named like the feature (instead of "
        "featuresCol)",
        typeConverter=TypeConverters.toListString,
    )
    predictionCol: "Param[str]" = Param(
        Params._dummy(),
        "predictionCol",
        "prediction column (double label); empty to leave it out",
        typeConverter=TypeConverters.toString,
    )
    probabilityCol: "Param[str]" = Param(
        Params._dummy(),
        "probabilityCol",
        "probability column (ml Vector [P(class 0), P(class 1)]); empty to leave it out",
        typeConverter=TypeConverters.toString,
    )
    leafCol: "Param[str]" = Param(
        Params._dummy(),
        "leafCol",
        "leaf column (double: the reached leaf's pre-order node index, root 0); empty (the "
        "default) to leave it out",
        typeConverter=TypeConverters.toString,
    )
    handleInvalid: "Param[str]" = Param(
        Params._dummy(),
        "handleInvalid",
        "how to handle rows that cannot be scored: 'error' fails the task, 'skip' drops the "
        "row, 'keep' gives it null outputs",
        typeConverter=TypeConverters.toString,
    )
    batchSize: "Param[int]" = Param(
        Params._dummy(),
        "batchSize",
        "rows per native batch call (capped so that one batch holds at most 8 MiB of cells)",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self, java_model: Optional[Any] = None) -> None:
        super().__init__(java_model)
        # The Java stage's defaults (tests check that they agree).
        self._setDefault(
            featuresCol="features",
            predictionCol="prediction",
            probabilityCol="probability",
            leafCol="",
            handleInvalid="error",
            batchSize=4096,
        )
        if java_model is not None:
            self._transfer_params_from_java()

    # ------------------------------------------------------------------ creating

    @classmethod
    def fromFile(cls, path: str) -> "ThetaTreeModel":
        """Load a ``.ttm`` file from a local path or any Hadoop FileSystem URI (``file:``,
        ``hdfs:``, ``s3a:``...), with the active session's Hadoop configuration; fully
        validated (``thetatree.ModelError`` / ``OSError`` otherwise)."""
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, not {type(path).__name__}")
        return cls._from_java(_library_errors(lambda: _java_class().fromFile(path)))

    @classmethod
    def fromBytes(cls, data: bytes) -> "ThetaTreeModel":
        """A model from the bytes of a ``.ttm`` file (e.g. ``thetatree.Model.to_bytes()``)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        raw = bytes(data)
        return cls._from_java(_library_errors(lambda: _java_class().fromBytes(raw)))

    @classmethod
    def read(cls) -> JavaMLReader["ThetaTreeModel"]:
        """Reads a stage saved with ``write().save(dir)`` (or inside a Pipeline)."""
        return _ThetaTreeModelReader(cls)

    @classmethod
    def _from_java(cls, java_stage: Any) -> "ThetaTreeModel":  # type: ignore[override]
        """The Python wrapper of a Java ``ThetaTreeModel`` (also what ``PipelineModel.load``
        builds for each such stage, through ``JavaParams._from_java``)."""
        stage = cls(java_stage)
        stage._resetUid(java_stage.uid())
        return stage

    # ------------------------------------------------------------------ the model

    def getDigest(self) -> str:
        """SHA-256 of the model, lowercase hex: its identity."""
        return cast(str, self._call_java("getDigest"))

    def getVersion(self) -> str:
        """The model version recorded at compile time (may be empty)."""
        return cast(str, self._call_java("getVersion"))

    def getFeatureNames(self) -> List[str]:
        """The feature names, in input order."""
        return list(self._call_java("getFeatureNames"))

    def getClassLabels(self) -> List[str]:
        """The class labels: index 0 negative, 1 positive."""
        return list(self._call_java("getClassLabels"))

    def getModelBytes(self) -> bytes:
        """The ``.ttm`` bytes (``thetatree.loads`` reads them)."""
        # Py4J hands a byte[] over as bytes (PySpark's _call_java would try to unpickle it).
        assert self._java_obj is not None
        return bytes(self._java_obj.getModelBytes())

    @property
    def numFeatures(self) -> int:
        """The number of input features (values per row)."""
        return int(self._call_java("numFeatures"))

    @property
    def numClasses(self) -> int:
        """The number of classes (always 2)."""
        return int(self._call_java("numClasses"))

    @property
    def numNodes(self) -> int:
        """The number of tree nodes."""
        return int(self._call_java("numNodes"))

    @property
    def depth(self) -> int:
        """The depth of the tree."""
        return int(self._call_java("depth"))

    # ------------------------------------------------------------------ params

    def getFeaturesCol(self) -> str:
        return self.getOrDefault(self.featuresCol)

    def getInputCols(self) -> Optional[List[str]]:
        """The per-feature input columns, or None when the features column is used."""
        return self.getOrDefault(self.inputCols) if self.isDefined(self.inputCols) else None

    def getPredictionCol(self) -> str:
        return self.getOrDefault(self.predictionCol)

    def getProbabilityCol(self) -> str:
        return self.getOrDefault(self.probabilityCol)

    def getLeafCol(self) -> str:
        """The leaf column, or ``""`` (the default) when it is left out."""
        return self.getOrDefault(self.leafCol)

    def getHandleInvalid(self) -> str:
        return self.getOrDefault(self.handleInvalid)

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)

    def setFeaturesCol(self, value: str) -> "ThetaTreeModel":
        return self._set(featuresCol=value)

    def setInputCols(self, value: List[str]) -> "ThetaTreeModel":
        """Read one column per feature, matched to the model's features by name."""
        return self._set(inputCols=value)

    def setPredictionCol(self, value: str) -> "ThetaTreeModel":
        return self._set(predictionCol=value)

    def setProbabilityCol(self, value: str) -> "ThetaTreeModel":
        return self._set(probabilityCol=value)

    def setLeafCol(self, value: str) -> "ThetaTreeModel":
        """Append the reached leaf's node index in the reference's pre-order numbering (root 0,
        left subtree, right subtree: ``Model.apply`` and the golden ``leaf_preorder``) as a
        double, the type of Spark's own ``leafCol``; ``""`` (the default) leaves it out."""
        return self._set(leafCol=value)

    def setHandleInvalid(self, value: str) -> "ThetaTreeModel":
        """``"error"`` (default), ``"skip"`` or ``"keep"``."""
        return self._set(handleInvalid=value)

    def setBatchSize(self, value: int) -> "ThetaTreeModel":
        return self._set(batchSize=value)
