"""thetatree: serve theta-sketch decision trees from Python, bit-identical to the reference.

Two ways in:

* **Drop-in** for the reference (``theta_sketch_tree``)::

      from thetatree import ModelPersistence           # was: from theta_sketch_tree.model_persistence import ...
      model = ModelPersistence.load_model("model.pkl")  # the reference's pickle, read safely
      model.predict(X); model.predict_proba(X)

* **thetatree API**: ``thetatree.load("model.ttm")``, ``thetatree.compile("model.pkl")``,
  ``thetatree.loads(data)`` give a :class:`Model` whose ``predict`` / ``predict_proba`` take
  numpy arrays of any numeric dtype and order, lists or DataFrames, with missing values
  (-1 in integers, NaN / None in floats and objects).

Bad model files raise :class:`ModelError` (a ``ValueError`` with the library's status code
and byte offset), bad inputs ``ValueError`` (:class:`InputValueError` for a refused cell), I/O
problems ``OSError``. Nothing here ever calls ``pickle.load``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Tuple, Union

from . import _native
from ._errors import InputValueError, ModelError
from ._native import Model
from ._sources import Features, PathLike, compile_source, key_bytes
from .classifier import ThetaSketchDecisionTreeClassifier
from .model_persistence import ModelPersistence

__version__: str = _native.__version__
LIBRARY_VERSION: str = _native.LIBRARY_VERSION

__all__ = [
    "InputValueError",
    "Model",
    "ModelError",
    "ModelPersistence",
    "ThetaSketchDecisionTreeClassifier",
    "compile",
    "load",
    "loads",
]


def load(path: PathLike, *, mmap: bool = True, key: Union[bytes, str, None] = None) -> Model:
    """Load a ``.ttm`` model file, fully validated.

    ``mmap=True`` maps the file read-only (replace model files by rename, never rewrite them in
    place); ``mmap=False`` reads it into memory. With ``key``, the HMAC-SHA256 signature is
    verified before anything else is read (``ModelError`` with ``TT_ERR_UNSIGNED``,
    ``TT_ERR_KEY_MISMATCH`` or ``TT_ERR_BAD_SIGNATURE`` otherwise).
    """
    return _native._load(os.fspath(path), mmap, key_bytes(key))


def loads(data: Union[bytes, bytearray, memoryview], *, key: Union[bytes, str, None] = None) -> Model:
    """A model from ``.ttm`` bytes (copied, then fully validated; ``key`` as for :func:`load`)."""
    return _native._loads(bytes(data), key_bytes(key))


def compile(  # noqa: A001 - the natural name; shadows the builtin only inside this module
    source: Union[PathLike, Mapping[str, Any]],
    *,
    features: Features = None,
    model_version: Optional[str] = None,
    class_labels: Optional[Tuple[str, str]] = None,
) -> Model:
    """Compile a reference model into an in-memory :class:`Model`.

    ``source``: a path to a ``.json`` (any shape the reference writes: the tool export, a bare
    ``tree_to_json`` tree, the persistence dict as JSON) or ``.pkl`` (``ModelPersistence``'s
    pickle, read without executing it), or a persistence dict (``dict`` with numpy values).
    ``features``: the feature mapping (a ``*_feature_mapping.json`` path, a ``{name: index}``
    dict or a list of names); required for sources that do not carry one (the tool's JSON).
    Leaf probabilities are recomputed from the class counts exactly as the reference does.
    """
    return compile_source(source, features, model_version, class_labels)
