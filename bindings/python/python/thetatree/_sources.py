"""Model sources: files (``.ttm``, ``.json``, ``.pkl``) and in-memory persistence dicts.

Everything is parsed in Rust: JSON by the compiler, pickles by thetatree's own pickle reader,
which understands only what the reference's ``ModelPersistence.save_model`` writes and never
imports or executes anything (``pickle.load`` is never called).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._errors import ModelError

PathLike = Union[str, "os.PathLike[str]"]
Features = Union[PathLike, Mapping[str, int], Sequence[str], None]

_CORRUPT = 16  # TT_ERR_CORRUPT: the status of a source the compiler refuses
_TTM_MAGIC = b"TTMODEL\0"


def key_bytes(key: Any) -> Optional[bytes]:
    """An HMAC key as bytes (``str`` keys are UTF-8 encoded)."""
    if key is None:
        return None
    if isinstance(key, str):
        return key.encode("utf-8")
    return bytes(key)


def _features_json(features: Features) -> Optional[str]:
    """The feature mapping as the compiler takes it: JSON text ``{"name": index, ...}``."""
    if features is None:
        return None
    if isinstance(features, (str, os.PathLike)):
        with open(features, encoding="utf-8") as f:
            return f.read()
    if isinstance(features, Mapping):
        return json.dumps({str(k): int(v) for k, v in features.items()})
    names = list(features)
    if not all(isinstance(n, str) for n in names):
        raise TypeError("features must be a mapping path, a {name: index} dict or a list of names")
    return json.dumps({n: i for i, n in enumerate(names)})


def _jsonable(o: Any) -> Any:
    """numpy values inside a persistence dict, as JSON values (exact: floats round-trip)."""
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"cannot convert {type(o).__name__} to JSON")


def dict_to_json(source: Mapping[str, Any]) -> str:
    try:
        return json.dumps(source, default=_jsonable, allow_nan=False)
    except RecursionError:
        raise ValueError(
            "the dict is nested too deeply to convert in Python; pass its pickle or JSON file"
        ) from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"cannot convert the dict to the compiler's JSON: {e}") from None


def compile_source(
    source: Union[PathLike, Mapping[str, Any], bytes],
    features: Features = None,
    model_version: Optional[str] = None,
    class_labels: Optional[Tuple[str, str]] = None,
) -> "_native.Model":
    labels = None if class_labels is None else _labels(class_labels)
    mapping = _features_json(features)
    if isinstance(source, Mapping):
        return _native._compile_json(dict_to_json(source), mapping, model_version, labels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        with open(source, "rb") as f:
            data = f.read()
    if data[:1] == b"\x80":  # a pickle's PROTO opcode: the reader names what it refuses
        return _native._compile_pickle(data, mapping, model_version, labels)
    if data.startswith(_TTM_MAGIC):
        raise ValueError("this is already a compiled .ttm model: use thetatree.load()")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelError(
            _CORRUPT, "neither a pickle (no PROTO opcode) nor JSON (invalid UTF-8)", e.start
        ) from None
    return _native._compile_json(text, mapping, model_version, labels)


def _labels(class_labels: Any) -> Tuple[str, str]:
    labels = tuple(class_labels)
    if len(labels) != 2 or not all(isinstance(s, str) for s in labels):
        raise TypeError("class_labels must be two strings: (negative label, positive label)")
    return labels  # type: ignore[return-value]


def open_any(path: PathLike, mmap: bool = True, key: Any = None) -> "_native.Model":
    """A ``.ttm`` file, or a reference ``.pkl`` / ``.json`` compiled in memory."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head == _TTM_MAGIC:
        return _native._load(os.fspath(path), mmap, key_bytes(key))
    if key is not None:
        raise ValueError(
            f"{os.fspath(path)}: signatures are checked on signed .ttm files; this is not one"
        )
    return compile_source(path)

