"""Turn inputs that are not numeric numpy arrays into numeric numpy arrays.

Called by ``Model.predict*`` (in Rust) for lists, pandas DataFrames, object arrays and the
rare numeric dtypes the Rust side does not read directly. Numeric arrays go straight to Rust,
which checks every value with its own dtype's rule; this module only keeps the meaning of
each cell while changing its container:

* DataFrame columns are matched to the model's features **by name**; a missing feature or an
  unknown column is a ``ValueError`` listing them. (A frame whose columns are the default
  positions ``0..n-1`` is read by position, as ``np.asarray`` would.)
* Missing values: -1 in integer columns, NaN / None / ``pd.NA`` in float and object columns.
* Object cells must be numbers (or missing): a string such as ``"1"`` is refused, like the
  reference's public API does.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from ._errors import InputValueError

# Value codes of the float64 matrix handed back to Rust (NaN = missing).
_INVALID = 2.0


def prepare(x: Any, names: Sequence[str], check: str) -> np.ndarray:
    """A numeric ndarray with the same cells as ``x`` (never a silent change of meaning)."""
    if _is_dataframe(x):
        return _from_frame(x, names, check)
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    return _numeric(a, names, check)


def _is_dataframe(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "iloc") and hasattr(x, "dtypes")


def _numeric(a: np.ndarray, names: Sequence[str], check: str) -> np.ndarray:
    kind = a.dtype.kind
    if kind in "biuf":
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        elif not a.flags.aligned or any(s % a.itemsize for s in a.strides):
            a = np.array(a, order="C")  # an aligned copy with whole-item strides
        if kind == "f" and a.dtype.itemsize < 4:
            return a.astype(np.float32)  # float16 -> float32 is exact
        if kind == "f" and a.dtype.itemsize > 8:
            return _long_double(a, names, check)
        return a
    if kind in "OUS":
        # Objects (lists with None, mixed lists) and strings: judged cell by cell, so that a
        # refused cell is reported with its row and column.
        return _from_objects(a.astype(object, copy=False), names, check)
    raise ValueError(
        f"X has dtype {a.dtype}; cells must be numbers: 0, 1, or missing (-1 in integers, "
        "NaN or None in floats)"
    )


def _long_double(a: np.ndarray, names: Sequence[str], check: str) -> np.ndarray:
    """``longdouble`` cells are judged before narrowing (1 + 2**-60 must not become 1.0)."""
    ok = (a == 0) | (a == 1) | np.isnan(a)
    out = a.astype(np.float64)
    if not ok.all():
        out[~ok] = _INVALID
        if check != "visited":
            _raise_first_bad(a, ~ok, names)
    return out


def _from_frame(df: Any, names: Sequence[str], check: str) -> np.ndarray:
    columns = list(df.columns)
    positional = columns == list(range(len(columns)))
    if not positional:
        labels = [c if isinstance(c, str) else repr(c) for c in columns]
        seen: set = set()
        duplicated = sorted({c for c in labels if c in seen or seen.add(c)})
        if duplicated:
            raise ValueError(f"DataFrame has duplicated columns: {_listing(duplicated)}")
        wanted = set(names)
        missing = [n for n in names if n not in seen]
        unknown = [c for c in labels if c not in wanted]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"{len(missing)} model features missing: {_listing(missing)}")
            if unknown:
                parts.append(f"{len(unknown)} unknown columns: {_listing(unknown)}")
            raise ValueError(
                "DataFrame columns do not match the model's features (matched by name): "
                + "; ".join(parts)
            )
        by_label = dict(zip(labels, range(len(columns))))
        df = df.iloc[:, [by_label[n] for n in names]]
    dtypes = list(df.dtypes)
    if dtypes and all(isinstance(t, np.dtype) and t == dtypes[0] for t in dtypes):
        return _numeric(df.to_numpy(), names, check)
    # Mixed or extension dtypes: column by column, each with its own rule, into float64.
    n = len(df)
    out = np.empty((n, len(dtypes)), dtype=np.float64)
    for j in range(len(dtypes)):
        col = df.iloc[:, j]
        values = col.to_numpy() if isinstance(col.dtype, np.dtype) else col.to_numpy(dtype=object)
        out[:, j] = _as_float_codes(values, names, check, j)
    return out


def _as_float_codes(col: np.ndarray, names: Sequence[str], check: str, j: int) -> np.ndarray:
    """One column as float64 cells with the same meaning (-1 in integers -> NaN)."""
    kind = col.dtype.kind
    if kind == "b":
        return col.astype(np.float64)
    if kind in "iu":
        out = col.astype(np.float64)
        missing = (col == -1) if kind == "i" else np.zeros(col.shape, dtype=bool)
        ok = (col == 0) | (col == 1) | missing
        out[missing] = np.nan
        if not ok.all():
            out[~ok] = _INVALID
            if check != "visited":
                _raise_first_bad(col.reshape(-1, 1), ~ok.reshape(-1, 1), [names[j]], column=j)
        return out
    if kind == "f":
        return col.astype(np.float64)
    return _from_objects(col.astype(object).reshape(-1, 1), [names[j]], check, column=j).reshape(-1)


def _from_objects(a: np.ndarray, names: Sequence[str], check: str, column: Any = None) -> np.ndarray:
    """Object cells: numbers keep their value (ints: -1 = missing), None / NaN / NA are
    missing, anything else (strings, ...) is refused. ``column``: the model column of a
    one-column ``a`` (DataFrame columns are converted one by one)."""
    if a.ndim not in (1, 2):
        raise ValueError(f"X must be 1-D (one row) or 2-D (rows x features), got shape {a.shape}")
    flat = a.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    bad = np.zeros(flat.shape, dtype=bool)
    not_number = np.zeros(flat.shape, dtype=bool)
    for i, v in enumerate(flat):
        code = _object_code(v)
        if code is None:
            bad[i] = True
            not_number[i] = not isinstance(v, (numbers.Number, np.number, np.bool_))
            out[i] = _INVALID
        else:
            out[i] = code
    out = out.reshape(a.shape)
    if not_number.any():
        # Refused in every check mode: there is no value to walk on.
        _raise_first_bad(a, not_number.reshape(a.shape), names, column)
    if bad.any() and check != "visited":
        _raise_first_bad(a, bad.reshape(a.shape), names, column)
    return out


def _object_code(v: Any) -> Any:
    """0.0 / 1.0, NaN for missing, or None for a refused cell."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return math.nan
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (numbers.Integral, np.integer)):
        if v == 0 or v == 1:
            return float(v)
        return math.nan if v == -1 else None
    if isinstance(v, (numbers.Real, np.floating)):
        f = float(v)
        if f == 0.0 or f == 1.0 or math.isnan(f):
            return f
        return None
    return None


def _raise_first_bad(a: np.ndarray, bad: np.ndarray, names: Sequence[str], column: Any = None) -> None:
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
    if a.ndim == 1:
        row, col = 0, int(idx[0])
    else:
        row, col = int(idx[0]), int(idx[1])
    value = a[idx]
    feature = names[col] if col < len(names) else "?"
    if column is not None:
        col = column
    raise InputValueError(
        f"row {row}, column {col} (feature {feature!r}): value {value!r} is not 0, 1 or "
        "missing (-1 in integers, NaN or None)",
        row,
        col,
        feature,
        repr(value),
    )


def _listing(items: Sequence[Any], limit: int = 20) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    more = len(items) - limit
    return shown + (f", ... ({more} more)" if more > 0 else "")
