"""Stand-in for the reference Python classifier (vijaysrajan/Decision-trees_CART_sketch), which is
not installable here. It reproduces what the reference's public predict()/predict_proba() do, as
summarised in tests/data/reference/README.md, "What the outputs encode" (not copied code):

* the model is rebuilt from the reference's own persistence dict (persistence_tree.json: the
  ModelPersistence pickle converted to JSON) as a tree of node objects holding numpy arrays;
* predict(X) / predict_proba(X) each validate the input like the reference: np.asarray, 2-D
  check, empty input shortcut, width check, and the np.unique() scan that refuses anything but
  0/1 (NaN and -1 included);
* each row is then traversed recursively, node by node, with the reference's rules: pd.isna(v)
  -> child with more n_samples (left on a tie), truthy -> right, falsy -> left;
* predict returns the leaf's stored prediction (int64), predict_proba its stored probability
  array, stacked with np.array.

Outputs equal the golden files bit for bit (checked by run.sh against thetatree-serve).
"""
import json

import numpy as np
import pandas as pd


class _Node:
    __slots__ = ("is_leaf", "n_samples", "feature_idx", "left", "right", "prediction", "probabilities")

    def __init__(self, d):
        self.is_leaf = bool(d["is_leaf"])
        self.n_samples = float(d["n_samples"])
        if self.is_leaf:
            self.prediction = int(d["prediction"])
            p = d.get("probabilities")
            self.probabilities = None if p is None else np.asarray(p, dtype=np.float64)
            self.feature_idx = self.left = self.right = None
        else:
            self.feature_idx = int(d["feature_idx"])
            self.left = _Node(d["left"])
            self.right = _Node(d["right"])
            self.prediction = self.probabilities = None


class ReferenceClassifier:
    def __init__(self, persistence_json_path):
        with open(persistence_json_path) as f:
            d = json.load(f)
        self.root = _Node(d["tree_structure"])
        self.n_features_in_ = int(d["fitted_attributes"]["n_features_in_"])
        self.classes_ = np.array([0, 1])
        self._fitted = bool(d.get("is_fitted", True))

    # --- validation, as the reference's predict/predict_proba do it ---------------------------
    def _validate(self, X):
        if not self._fitted:
            raise ValueError("This classifier is not fitted yet")
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"Input must be 2D array, got shape {X.shape}")
        if X.size == 0:
            return X, True
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"Input has {X.shape[1]} features, but classifier expects {self.n_features_in_}")
        values = np.unique(X)
        if not np.all(np.isin(values, [0, 1])):
            raise ValueError(f"Input array must contain only binary values (0/1), found values: {values}")
        return X, False

    # --- recursive traversal (TreeTraverser semantics) ----------------------------------------
    def _leaf(self, node, row):
        if node.is_leaf:
            return node
        v = row[node.feature_idx]
        if pd.isna(v):
            child = node.left if node.left.n_samples >= node.right.n_samples else node.right
        elif v:
            child = node.right
        else:
            child = node.left
        return self._leaf(child, row)

    def predict(self, X):
        X, empty = self._validate(X)
        if empty:
            return np.array([], dtype=np.int64)
        return np.array([self._leaf(self.root, row).prediction for row in X], dtype=np.int64)

    def predict_proba(self, X):
        X, empty = self._validate(X)
        if empty:
            return np.empty((0, 2), dtype=np.float64)
        return np.array([self._leaf(self.root, row).probabilities for row in X])
