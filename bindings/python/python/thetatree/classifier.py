"""The drop-in classifier: a fitted reference ``ThetaSketchDecisionTreeClassifier``, served by
thetatree.

It behaves like the reference's public API (SPEC: predict / predict_proba semantics and error
messages) and carries its fitted attributes; it cannot be trained. Differences, all on inputs
the reference refuses or mishandles:

* values are checked whole-matrix in Rust (the reference's ``np.unique``), and the error also
  names the first bad cell's row, column and feature;
* ``None`` in an object array is a ``ValueError`` (the reference raises ``TypeError``);
* DataFrame columns are matched by name (the reference reads them by position, so a frame in
  another column order silently gets wrong answers there);
* pruned leaves without stored probabilities get them from their class counts (the reference's
  ``predict_proba`` raises on them).

Missing values are not accepted here, exactly as in the reference's public ``predict``; the
underlying :class:`thetatree.Model` (``clf.model``) predicts with missing values.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ._errors import InputValueError
from ._native import Model

# The reference classifier's hyperparameters (its constructor's parameters), in order.
_PARAMS = (
    "criterion",
    "max_depth",
    "min_samples_split",
    "min_samples_leaf",
    "pruning",
    "min_impurity_decrease",
    "validation_fraction",
    "verbose",
    "random_state",
)


class TreeNode:
    """A read-only node of the served tree, with the reference ``TreeNode``'s fields."""

    __slots__ = (
        "depth",
        "n_samples",
        "class_counts",
        "is_leaf",
        "prediction",
        "probabilities",
        "feature_idx",
        "feature_name",
        "left",
        "right",
    )

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.depth: int = d.get("depth", 0)
        self.n_samples: float = d.get("n_samples", 0.0)
        counts = d.get("class_counts")
        self.class_counts = None if counts is None else np.asarray(counts, dtype=np.float64)
        self.is_leaf: bool = bool(d.get("is_leaf"))
        self.prediction: Optional[int] = d.get("prediction") if self.is_leaf else None
        probs = d.get("probabilities") if self.is_leaf else None
        self.probabilities = None if probs is None else np.asarray(probs, dtype=np.float64)
        self.feature_idx: Optional[int] = None if self.is_leaf else d.get("feature_idx")
        self.feature_name: Optional[str] = None if self.is_leaf else d.get("feature_name")
        self.left: Optional[TreeNode] = None
        self.right: Optional[TreeNode] = None

    def __repr__(self) -> str:
        if self.is_leaf:
            return f"TreeNode(leaf, depth={self.depth}, prediction={self.prediction})"
        return f"TreeNode(split on {self.feature_name!r} [{self.feature_idx}], depth={self.depth})"


def _build_tree(root: Mapping[str, Any]) -> TreeNode:
    """Nodes from the exported JSON, iteratively (trees may be thousands of levels deep)."""
    top = TreeNode(root)
    stack = [(root, top)]
    while stack:
        d, node = stack.pop()
        for side in ("left", "right"):
            child = d.get(side)
            if isinstance(child, Mapping):
                c = TreeNode(child)
                setattr(node, side, c)
                stack.append((child, c))
    return top


_tree_lock = threading.Lock()


class ThetaSketchDecisionTreeClassifier:
    """A trained theta-sketch decision tree, as ``ModelPersistence.load_model`` returns it.

    ``predict`` / ``predict_proba`` follow the reference: ``X`` must be 2-D (a 1-D array is a
    ``ValueError``, as in the reference; reshape a single row with ``x.reshape(1, -1)``), an
    empty ``X`` gives an empty result, the width must be ``n_features_in_``, and every value
    must be 0 or 1. Results are bit-identical to the reference's.
    """

    def __init__(self, model: Model) -> None:
        if not isinstance(model, Model):
            raise TypeError(
                "ThetaSketchDecisionTreeClassifier wraps a thetatree.Model; "
                "load one with ModelPersistence.load_model(path)"
            )
        self.model = model
        meta = model.metadata
        fitted = meta.get("fitted_attributes") if isinstance(meta, dict) else None
        self._fitted: Dict[str, Any] = fitted if isinstance(fitted, dict) else {}
        hyper = meta.get("hyperparameters") if isinstance(meta, dict) else None
        self._params: Dict[str, Any] = dict(hyper) if isinstance(hyper, dict) else {}
        self._tree: Optional[TreeNode] = None

    # ---- fitted attributes -----------------------------------------------------------------

    @property
    def classes_(self) -> np.ndarray:
        """``array([0, 1])``: class 1 is the positive sketch set."""
        return np.array([0, 1], dtype=np.int64)

    @property
    def n_classes_(self) -> int:
        return 2

    @property
    def n_features_in_(self) -> int:
        """Input width."""
        return self.model.n_features_in_

    @property
    def n_features_(self) -> int:
        """Input width (the name the reference's deployment guide reads)."""
        return self.model.n_features_in_

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The reference's ``feature_names_in_`` when the model carries it, else the feature
        names in column order."""
        stored = self._fitted.get("feature_names_in_")
        if isinstance(stored, list) and len(stored) == self.n_features_in_:
            return np.array(stored, dtype=object)
        return self.model.feature_names_in_

    @property
    def feature_importances_(self) -> np.ndarray:
        return self.model.feature_importances_

    @property
    def tree_(self) -> TreeNode:
        """The root :class:`TreeNode` (``left`` / ``right`` / ``feature_idx`` / ...), built on
        first use from the served model."""
        with _tree_lock:
            if self._tree is None:
                text = self.model.export_json()
                self._tree = _build_tree(_parse_export(text, self.model.max_depth)["tree_structure"])
            return self._tree

    @property
    def class_labels(self) -> tuple:
        return self.model.class_labels

    def get_depth(self) -> int:
        """Depth of the tree (edges from the root to the deepest leaf)."""
        return self.model.max_depth

    def get_n_leaves(self) -> int:
        return self.model.n_leaves

    # ---- estimator protocol ----------------------------------------------------------------

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The hyperparameters the tree was trained with (as stored in the model)."""
        return {k: self._params.get(k) for k in _PARAMS if k in self._params} or dict(self._params)

    def set_params(self, **params: Any) -> "ThetaSketchDecisionTreeClassifier":
        """Record parameters (like scikit-learn, this does not change a fitted tree)."""
        unknown = [k for k in params if k not in _PARAMS]
        if unknown:
            raise ValueError(f"invalid parameters {unknown}; valid: {list(_PARAMS)}")
        self._params.update(params)
        return self

    def fit(self, *args: Any, **kwargs: Any) -> "ThetaSketchDecisionTreeClassifier":
        raise NotImplementedError(
            "thetatree serves trained trees; train with the reference trainer and load its "
            "pickle with ModelPersistence.load_model"
        )

    # ---- prediction ------------------------------------------------------------------------

    def _checked(self, X: Any) -> Any:
        """The reference's input rules, in its order; returns None for an empty input."""
        if _is_dataframe(X):
            return None if X.size == 0 else X  # matched by name by the model
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"Input must be 2D array, got shape {X.shape}")
        if X.size == 0:
            return None
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"Input has {X.shape[1]} features, but classifier expects {self.n_features_in_}"
            )
        return X

    def _refused(self, X: Any, e: InputValueError) -> InputValueError:
        try:
            found = np.unique(np.asarray(X))
        except TypeError:  # mixed objects cannot be sorted
            found = np.asarray(sorted({repr(v) for v in np.asarray(X, dtype=object).ravel()}))
        err = InputValueError(
            f"Input array must contain only binary values (0/1), found values: {found}; "
            f"first at row {e.row}, column {e.column} (feature {e.feature!r}): {e.value}",
            e.row,
            e.column,
            e.feature,
            e.value,
        )
        return err

    def predict(self, X: Any) -> np.ndarray:
        """Class indices (int64), bit-identical to the reference's ``predict``."""
        checked = self._checked(X)
        if checked is None:
            return np.array([], dtype=np.int64)
        try:
            return self.model.predict(checked, check="binary")
        except InputValueError as e:
            raise self._refused(checked, e) from None

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[P(class 0), P(class 1)]`` per row, float64 (n, 2), bit-identical to the reference."""
        checked = self._checked(X)
        if checked is None:
            return np.empty((0, 2), dtype=np.float64)
        try:
            return self.model.predict_proba(checked, check="binary")
        except InputValueError as e:
            raise self._refused(checked, e) from None

    # ---- explanations (scikit-learn's names; the same input rules as predict_proba) --------

    def _explained(self, method: str, X: Any) -> Any:
        checked = self._checked(X)
        if checked is None:
            # An empty X: the model's own empty result (the right dtype, width, or CSR type).
            checked = np.zeros((0, self.n_features_in_), dtype=np.int8)
        try:
            return getattr(self.model, method)(checked, check="binary")
        except InputValueError as e:
            raise self._refused(checked, e) from None

    def apply(self, X: Any) -> np.ndarray:
        """The leaf each row reaches, as its node index (``intp``, shape (n,)), like
        scikit-learn's ``apply``. Nodes are numbered in the reference's pre-order (root 0,
        then the left subtree, then the right one)."""
        return self._explained("apply", X)

    def decision_path(self, X: Any) -> Any:
        """The nodes each row visits, as scikit-learn's ``decision_path`` gives them: a
        ``scipy.sparse.csr_matrix`` indicator of shape (n, n_nodes) when scipy is importable,
        else the pair ``(indptr, indices)`` of ``intp`` arrays (row ``i`` visits
        ``indices[indptr[i]:indptr[i + 1]]``, root first, leaf last)."""
        return self._explained("decision_path", X)

    def predict_contrib(self, X: Any) -> np.ndarray:
        """Per-feature contributions to P(class 1), float64 (n, n_features_in_ + 1), in
        LightGBM's ``pred_contrib`` layout: column ``f`` is the change in P(class 1) at the
        splits on feature ``f`` along the row's path, the last column the root's P(class 1)
        (the bias). A row adds up to ``predict_proba(X)[:, 1]`` within 1e-12."""
        return self._explained("predict_contrib", X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def score(self, X: Any, y: Any) -> float:
        """Mean accuracy of ``predict(X)`` against ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"ThetaSketchDecisionTreeClassifier({shown})  # served by {self.model!r}"


def _is_dataframe(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "iloc") and hasattr(x, "dtypes")


def _parse_export(text: str, depth: int) -> Dict[str, Any]:
    """json.loads with room for the tree's nesting (one level per tree level)."""
    old = sys.getrecursionlimit()
    need = 2 * depth + 100
    if need > old:
        sys.setrecursionlimit(min(need, 20000))
    try:
        return json.loads(text)
    finally:
        sys.setrecursionlimit(old)


__all__: List[str] = ["ThetaSketchDecisionTreeClassifier", "TreeNode"]
