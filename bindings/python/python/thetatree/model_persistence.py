"""``ModelPersistence``: the reference's loader, made safe.

``ModelPersistence.load_model(path)`` takes what the reference's ``load_model`` takes (the
``.pkl`` that ``ModelPersistence.save_model`` writes) and also thetatree's ``.ttm`` and the
reference's JSON. The pickle is read by thetatree's own pickle reader, in Rust: it understands
exactly the dict that ``save_model`` writes (dicts, lists, tuples, strings, numbers, numpy
arrays and scalars) and refuses anything else, naming the byte offset; it never imports or
executes anything. ``pickle.load`` is never called.
"""

from __future__ import annotations

from typing import Any, Union

from ._sources import Features, PathLike, compile_source, open_any
from .classifier import ThetaSketchDecisionTreeClassifier


class ModelPersistence:
    """Load trained models (drop-in for ``theta_sketch_tree.model_persistence.ModelPersistence``)."""

    @staticmethod
    def load_model(
        filepath: PathLike,
        *,
        features: Features = None,
        mmap: bool = True,
        key: Union[bytes, str, None] = None,
    ) -> ThetaSketchDecisionTreeClassifier:
        """A classifier served by thetatree from a reference ``.pkl``, a ``.ttm`` or a JSON model.

        ``features`` (a feature mapping) is only needed for JSON files that do not carry one;
        ``mmap`` and ``key`` (HMAC verification) apply to ``.ttm`` files.
        """
        if features is not None:
            model = compile_source(filepath, features)
        else:
            model = open_any(filepath, mmap=mmap, key=key)
        return ThetaSketchDecisionTreeClassifier(model)

    @staticmethod
    def save_model(model: Any, filepath: PathLike, **kwargs: Any) -> None:
        """Not available: thetatree does not write the reference's pickle. Save the served
        model as ``.ttm`` with ``clf.model.save(path)``."""
        raise NotImplementedError(
            "thetatree does not write pickles; use clf.model.save('model.ttm') "
            "(load it back with ModelPersistence.load_model or thetatree.load)"
        )


__all__ = ["ModelPersistence"]
