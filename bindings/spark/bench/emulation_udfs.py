"""Python UDF bodies for the benchmark: the reference emulation (service/loadtest), loaded once per
Python worker process and kept in this module (shipped with addPyFile, so workers import it and the
cache outlives a task)."""
import numpy as np
import pandas as pd

_CLASSIFIERS = {}


def classifier(persistence_json):
    clf = _CLASSIFIERS.get(persistence_json)
    if clf is None:
        from reference_emulation import ReferenceClassifier

        clf = _CLASSIFIERS[persistence_json] = ReferenceClassifier(persistence_json)
    return clf


def row_scorer(persistence_json):
    """One row per call, as a plain Python UDF gets it: P(class 1) of predict_proba([row])."""

    def score(cells):
        return float(classifier(persistence_json).predict_proba([cells])[0][1])

    return score


def batch_scorer(persistence_json):
    """An Arrow batch per call (pandas UDF): P(class 1) of predict_proba on the batch matrix."""

    def score(cells: pd.Series) -> pd.Series:
        return pd.Series(classifier(persistence_json).predict_proba(np.stack(cells.to_numpy()))[:, 1])

    return score
