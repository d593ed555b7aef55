"""The Arrow batch core of :mod:`thetatree.spark`: an Arrow ``RecordBatch`` in, the same rows
with a prediction and a probability column out, scored through the Python binding in batch
calls. Plain pyarrow and numpy, no Spark: ``thetatree.spark.predict`` runs it on the executors
inside ``DataFrame.mapInArrow``, and it can be called directly (:func:`score_batch`).

The rules are the JVM stage's (``bindings/spark``):

* Input: one features column with one value per model feature, in the model's feature order —
  a list of integers, floats or booleans (``array<tinyint>``, ``array<int>``, ``array<bigint>``,
  ``array<double>``, ...), ``binary`` (one byte per feature) or an ml ``Vector`` (in Arrow, the
  struct ``<type, size, indices, values>`` Spark sends it as) — or one boolean or numeric column
  per feature, matched to the model's features by name (``input_cols``). Null is missing.
* Values are judged by the library when it walks a row (``check="visited"``): a value other
  than 0, 1 or missing on the row's path makes the row invalid; values the walk never reads are
  not looked at. A null or wrong-length features value makes the row invalid too.
* ``handle_invalid``: ``"error"`` raises, naming the row, the feature and its value;
  ``"skip"`` drops the row; ``"keep"`` keeps it with null outputs.

Zero copy: a features column of ``list<tinyint>``, ``list<double>`` or ``binary`` whose rows all
have the model's width and no null elements is handed to the library as a numpy view of the
Arrow buffer (int8 and float64 rows are then read in place); other layouts are copied once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import loads
from ._errors import InputValueError
from ._inputs import _as_float_codes
from ._native import Model

HANDLE_INVALID = ("error", "skip", "keep")
PROBABILITY_TYPES = ("vector", "array")

#: The Arrow form of an ml Vector column (Spark's ``VectorUDT.sqlType``): type 0 sparse, 1 dense.
VECTOR_FIELDS = ("type", "size", "indices", "values")
_VECTOR_ARROW = pa.struct(
    [
        pa.field("type", pa.int8(), nullable=False),
        pa.field("size", pa.int32()),
        pa.field("indices", pa.list_(pa.field("element", pa.int32(), nullable=False))),
        pa.field("values", pa.list_(pa.field("element", pa.float64(), nullable=False))),
    ]
)

FEATURE_TYPES = (
    "a list of tinyint, smallint, int, bigint, float, double or boolean (array<...> in Spark), "
    "binary (one byte per feature) or an ml Vector"
)
_COLUMN_TYPES = "a boolean, tinyint, smallint, int, bigint, float or double column"
_VALUE_RULE = "a value must be 0, 1 or missing (null, NaN, or -1 in integer arrays and columns)"
_HINT = "; set handle_invalid to 'skip' to drop such rows or 'keep' to give them null outputs"


def _cell_type(t: pa.DataType) -> bool:
    """A cell type the library reads: signed integers, floats (not half), booleans."""
    return (
        pa.types.is_boolean(t)
        or pa.types.is_signed_integer(t)
        or pa.types.is_float32(t)
        or pa.types.is_float64(t)
    )


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _is_vector(t: pa.DataType) -> bool:
    """The struct an ml Vector travels as (field nullability aside)."""
    if not pa.types.is_struct(t) or t.num_fields != 4:
        return False
    names = tuple(t.field(i).name for i in range(4))
    types = [t.field(i).type for i in range(4)]
    return (
        names == VECTOR_FIELDS
        and types[0] == pa.int8()
        and types[1] == pa.int32()
        and _is_list(types[2])
        and types[2].value_type == pa.int32()
        and _is_list(types[3])
        and types[3].value_type == pa.float64()
    )


# ---------------------------------------------------------------------------- Arrow -> numpy


def _null_mask(arr: pa.Array) -> Optional[np.ndarray]:
    """Bool per row, True where the slot is null; None when nothing is null."""
    if arr.null_count == 0:
        return None
    return arr.is_null().to_numpy(zero_copy_only=False)


def _cells(arr: pa.Array) -> np.ndarray:
    """A flat array of cells as numpy, each null made the missing value of its dtype's rule
    (-1 in integers, NaN in floats; booleans become int8 so that they can hold -1). A view of
    the Arrow buffer when nothing needs changing."""
    t = arr.type
    if pa.types.is_boolean(t):
        arr = arr.cast(pa.int8())
        t = arr.type
    if arr.null_count:
        arr = pc.fill_null(arr, pa.scalar(-1 if pa.types.is_integer(t) else np.nan, t))
    return arr.to_numpy(zero_copy_only=False)


def _filled(arr: pa.Array, fill: int) -> np.ndarray:
    """An integer array as numpy, nulls replaced by ``fill`` (a view when there are none)."""
    if arr.null_count:
        arr = arr.fill_null(fill)
    return arr.to_numpy(zero_copy_only=False)


def _list_offsets(arr: pa.Array) -> np.ndarray:
    """The n + 1 offsets of a list array's rows into ``arr.values`` (its whole child)."""
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return (np.arange(len(arr) + 1, dtype=np.int64) + arr.offset) * size
    return arr.offsets.to_numpy().astype(np.int64, copy=False)


def _gather_rows(
    flat: np.ndarray, starts: np.ndarray, rows: np.ndarray, n: int, nf: int
) -> np.ndarray:
    """An (n, nf) matrix of ``flat``'s dtype: row r (for r in ``rows``) is
    ``flat[starts[r] : starts[r] + nf]``, every other row zeros (a row the library accepts)."""
    x = np.zeros((n, nf), dtype=flat.dtype)
    if rows.size and nf:
        x[rows] = flat[starts[rows][:, None] + np.arange(nf)]
    return x


# ---------------------------------------------------------------------------- readers


@dataclass
class _Cells:
    """One batch's cells: ``x`` (rows x features, a dtype the binding reads) and the rows that
    have no cells to score (null or wrong-length features value), if any."""

    x: np.ndarray
    invalid: Optional[np.ndarray] = None


class _Reader:
    """Turns the input column(s) of a batch into the cells of the model's features. Readers only
    move values; whether a value is acceptable is the library's decision."""

    def read(self, batch: pa.RecordBatch) -> _Cells:
        raise NotImplementedError

    def why(self, batch: pa.RecordBatch, row: int) -> str:
        """Why an invalid row (from ``read``) has no cells."""
        raise NotImplementedError

    def value_of(self, batch: pa.RecordBatch, row: int, feature: int) -> str:
        """The input's value of ``feature`` at ``row``, as text, for an error message."""
        raise NotImplementedError

    def source(self, feature: int) -> str:
        """Where ``feature`` is read from: ``features column 'f'`` or ``column 'odor=n'``."""
        raise NotImplementedError


class _FeaturesColumn(_Reader):
    def __init__(self, index: int, name: str, nf: int) -> None:
        self.index = index
        self.name = name
        self.nf = nf

    def source(self, feature: int) -> str:
        return f"features column {self.name!r}"

    def _shape_reason(self, is_null: bool, length: int) -> str:
        if is_null:
            return f"features column {self.name!r} is null"
        return (
            f"features column {self.name!r} has {length} values; the model has {self.nf} features"
        )


class _ListColumn(_FeaturesColumn):
    """``list<integer | float | bool>``: one element per feature; null elements are missing."""

    def read(self, batch: pa.RecordBatch) -> _Cells:
        arr = batch.column(self.index)
        n, nf = len(arr), self.nf
        offsets = _list_offsets(arr)
        lengths = np.diff(offsets)
        bad = lengths != nf
        nulls = _null_mask(arr)
        if nulls is not None:
            bad |= nulls
        start = int(offsets[0]) if n else 0
        flat = _cells(arr.values.slice(start, int(offsets[-1]) - start if n else 0))
        if not bad.any():
            return _Cells(flat.reshape(n, nf))  # a view of the Arrow buffer when it can be
        good = np.flatnonzero(~bad)
        return _Cells(_gather_rows(flat, offsets[:-1] - start, good, n, nf), bad)

    def why(self, batch: pa.RecordBatch, row: int) -> str:
        v = batch.column(self.index)[row]
        return self._shape_reason(not v.is_valid, len(v) if v.is_valid else 0)

    def value_of(self, batch: pa.RecordBatch, row: int, feature: int) -> str:
        return _text(batch.column(self.index)[row].values[feature].as_py())


class _BinaryColumn(_FeaturesColumn):
    """``binary``: one byte per feature (0, 1, 0xFF = -1 = missing), read as int8."""

    def _bytes_and_offsets(self, arr: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
        n = len(arr)
        bufs = arr.buffers()
        if pa.types.is_fixed_size_binary(arr.type):
            width = arr.type.byte_width
            offsets = (np.arange(n + 1, dtype=np.int64) + arr.offset) * width
            data = bufs[1]
        else:
            kind = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
            offsets = np.frombuffer(
                bufs[1], dtype=kind, count=n + 1, offset=arr.offset * np.dtype(kind).itemsize
            ).astype(np.int64, copy=False)
            data = bufs[2]
        cells = np.frombuffer(data, dtype=np.int8) if data is not None else np.empty(0, np.int8)
        return cells, offsets

    def read(self, batch: pa.RecordBatch) -> _Cells:
        arr = batch.column(self.index)
        n, nf = len(arr), self.nf
        if n == 0:
            return _Cells(np.empty((0, nf), dtype=np.int8))
        cells, offsets = self._bytes_and_offsets(arr)
        bad = np.diff(offsets) != nf
        nulls = _null_mask(arr)
        if nulls is not None:
            bad |= nulls
        if not bad.any():
            start = int(offsets[0])
            return _Cells(cells[start : start + n * nf].reshape(n, nf))  # the Arrow buffer
        return _Cells(_gather_rows(cells, offsets[:-1], np.flatnonzero(~bad), n, nf), bad)

    def why(self, batch: pa.RecordBatch, row: int) -> str:
        v = batch.column(self.index)[row]
        return self._shape_reason(not v.is_valid, len(v.as_py()) if v.is_valid else 0)

    def value_of(self, batch: pa.RecordBatch, row: int, feature: int) -> str:
        b = batch.column(self.index)[row].as_py()[feature]
        return f"byte {b - 256 if b > 127 else b}"


class _VectorColumn(_FeaturesColumn):
    """An ml Vector, dense or sparse (absent entries are 0.0); NaN is missing."""

    def read(self, batch: pa.RecordBatch) -> _Cells:
        arr = batch.column(self.index)
        n, nf = len(arr), self.nf
        kinds, sizes, indices, values = arr.flatten()  # offset-adjusted, parent nulls merged
        kind, size = _filled(kinds, -1), _filled(sizes, -1)
        v_off = _list_offsets(values)
        i_off = _list_offsets(indices)
        v_len, i_len = np.diff(v_off), np.diff(i_off)
        nulls = _null_mask(arr)
        not_null = np.ones(n, dtype=bool) if nulls is None else ~nulls
        dense = not_null & (kind == 1) & (v_len == nf)
        sparse = not_null & (kind == 0) & (size == nf) & (i_len == v_len)
        v_start = int(v_off[0]) if n else 0
        flat = _cells(values.values.slice(v_start, int(v_off[-1]) - v_start if n else 0))
        flat = flat.astype(np.float64, copy=False)
        if dense.all():
            return _Cells(flat.reshape(n, nf))  # every row dense: the Arrow buffer
        x = _gather_rows(flat, v_off[:-1] - v_start, np.flatnonzero(dense), n, nf)
        rows = np.flatnonzero(sparse)
        if rows.size:
            # Scatter each sparse row's (index, value) pairs into its zeroed row.
            counts = i_len[rows]
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            entry_rows = np.repeat(rows, counts)
            i_start = int(i_off[0]) if n else 0
            idx_flat = indices.values.slice(i_start, int(i_off[-1]) - i_start).to_numpy(
                zero_copy_only=False
            )
            idx = idx_flat[np.repeat(i_off[rows] - i_start, counts) + within]
            vals = flat[np.repeat(v_off[rows] - v_start, counts) + within]
            out_of_range = (idx < 0) | (idx >= nf)
            if out_of_range.any():
                sparse[entry_rows[out_of_range]] = False
                keep = sparse[entry_rows]
                entry_rows, idx, vals = entry_rows[keep], idx[keep], vals[keep]
            x[entry_rows, idx] = vals
        return _Cells(x, ~(dense | sparse))

    def why(self, batch: pa.RecordBatch, row: int) -> str:
        v = batch.column(self.index)[row].as_py()
        if v is None:
            return self._shape_reason(True, 0)
        if v["type"] == 1:
            return self._shape_reason(False, len(v["values"] or ()))
        if v["size"] != self.nf:
            return self._shape_reason(False, v["size"])
        return (
            f"features column {self.name!r} holds a malformed sparse vector (indices "
            f"{_short(v['indices'])}, values {_short(v['values'])}, size {v['size']})"
        )

    def value_of(self, batch: pa.RecordBatch, row: int, feature: int) -> str:
        v = batch.column(self.index)[row].as_py()
        if v["type"] == 1:
            return _text(v["values"][feature])
        pairs = dict(zip(v["indices"], v["values"]))
        return _text(pairs.get(feature, 0.0))


class _NamedColumns(_Reader):
    """One boolean or numeric column per feature (``input_cols``), null missing."""

    def __init__(self, index_of_feature: List[int], names: Sequence[str]) -> None:
        self.index_of_feature = index_of_feature
        self.names = list(names)

    def read(self, batch: pa.RecordBatch) -> _Cells:
        n = batch.num_rows
        cols = [_cells(batch.column(i)) for i in self.index_of_feature]
        kinds = {c.dtype for c in cols}
        if len(kinds) == 1:
            dtype = next(iter(kinds))  # one dtype: its own rule, unchanged
        elif all(k.kind == "i" for k in kinds):
            dtype = np.dtype(np.int64)  # integers widen exactly; -1 stays missing
        else:
            dtype = np.dtype(np.float64)
        x = np.empty((n, len(cols)), dtype=dtype)
        for j, c in enumerate(cols):
            if dtype.kind == "f" and c.dtype.kind != "f":
                # Integers among floats: -1 becomes NaN (missing), anything else keeps a value
                # the library refuses (the package's one conversion rule, thetatree._inputs).
                c = _as_float_codes(c, self.names, "visited", j)
            x[:, j] = c
        return _Cells(x)

    def why(self, batch: pa.RecordBatch, row: int) -> str:  # pragma: no cover - never invalid
        raise AssertionError("named columns always have cells")

    def value_of(self, batch: pa.RecordBatch, row: int, feature: int) -> str:
        return _text(batch.column(self.index_of_feature[feature])[row].as_py())

    def source(self, feature: int) -> str:
        return f"column {self.names[feature]!r}"


#: Field metadata key under which thetatree.spark.predict records a column's Spark type, so
#: that messages name the type the user sees (bigint, not int64).
SPARK_TYPE_KEY = b"thetatree.spark_type"


def _type_text(field: pa.Field) -> str:
    spark_type = (field.metadata or {}).get(SPARK_TYPE_KEY)
    return spark_type.decode() if spark_type else str(field.type)


def _text(v: Any) -> str:
    return "null" if v is None else str(v)


def _short(items: Optional[Sequence[Any]], limit: int = 8) -> str:
    if items is None:
        return "null"
    shown = ", ".join(str(i) for i in items[:limit])
    return "[" + shown + (", ..." if len(items) > limit else "") + "]"


def _listing(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# ---------------------------------------------------------------------------- the scorer


@dataclass(frozen=True)
class ScoringParams:
    """The parameters of one scoring, as :func:`thetatree.spark.predict` takes them."""

    features_col: Optional[str] = None
    input_cols: Optional[Sequence[str]] = None  # stored as a tuple
    prediction_col: str = "prediction"
    probability_col: str = "probability"
    handle_invalid: str = "error"
    probability_type: str = "vector"

    def __post_init__(self) -> None:
        if self.handle_invalid not in HANDLE_INVALID:
            raise ValueError(
                f"handle_invalid must be 'error', 'skip' or 'keep', not {self.handle_invalid!r}"
            )
        if self.probability_type not in PROBABILITY_TYPES:
            raise ValueError(
                f"probability_type must be 'vector' or 'array', not {self.probability_type!r}"
            )
        if self.input_cols is not None:
            if isinstance(self.input_cols, str):
                raise TypeError("input_cols must be a list of column names, not a string")
            object.__setattr__(self, "input_cols", tuple(self.input_cols))
            if self.features_col is not None:
                raise ValueError(
                    f"both features_col ({self.features_col!r}) and input_cols are set; set "
                    "only one"
                )
        for name in ("features_col", "prediction_col", "probability_col"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a column name (str), not {type(value).__name__}")

    @property
    def features_column(self) -> str:
        return "features" if self.features_col is None else self.features_col


def probability_arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of the probability column: an ml Vector's struct or list<double>."""
    if kind == "vector":
        return _VECTOR_ARROW
    return pa.list_(pa.field("element", pa.float64(), nullable=False))


class ArrowScorer:
    """Scores Arrow record batches of one schema with a :class:`thetatree.Model`.

    Made once per schema: the constructor checks the input columns against the model (a
    ``ValueError`` naming the column, its type and what is accepted) and fixes
    ``output_schema`` (the input's fields, then ``prediction_col``: float64, the label as Spark
    ML classifiers give it, and ``probability_col``: [P(class 0), P(class 1)] as an ml Vector's
    struct or a ``list<double>``; nullable only under ``handle_invalid="keep"``; an output named
    ``""`` is left out). :meth:`score` then scores any number of batches of that schema.
    """

    def __init__(
        self, model: Model, schema: pa.Schema, params: Optional[ScoringParams] = None, **kwargs: Any
    ) -> None:
        if params is None:
            params = ScoringParams(**kwargs)
        elif kwargs:
            raise TypeError("give either params or keyword arguments, not both")
        if not isinstance(model, Model):
            raise TypeError(f"model must be a thetatree.Model, not {type(model).__name__}")
        if not isinstance(schema, pa.Schema):
            raise TypeError(f"schema must be a pyarrow.Schema, not {type(schema).__name__}")
        self.model = model
        self.params = params
        self.input_schema = schema
        self._names = list(model.feature_names_in_)
        if params.input_cols is not None:
            self._reader: _Reader = self._named_columns(schema, params.input_cols)
        else:
            self._reader = self._features_column(schema, params.features_column)
        keep = params.handle_invalid == "keep"
        fields = list(schema)
        self._labels = bool(params.prediction_col)
        self._proba = bool(params.probability_col)
        for name, param, wanted, arrow_type in (
            (params.prediction_col, "prediction_col", self._labels, pa.float64()),
            (
                params.probability_col,
                "probability_col",
                self._proba,
                probability_arrow_type(params.probability_type),
            ),
        ):
            if not wanted:
                continue
            if name in {f.name for f in fields}:
                raise ValueError(
                    f"output column {name!r} ({param}) already exists in the input; choose "
                    "another name"
                )
            fields.append(pa.field(name, arrow_type, nullable=keep))
        self.output_schema = pa.schema(fields)

    @property
    def has_outputs(self) -> bool:
        """False when both output names are empty (the batches pass through unchanged)."""
        return self._labels or self._proba

    # ---------------------------------------------------------------- planning

    def _column_index(self, schema: pa.Schema, name: str, what: str) -> int:
        matches = [i for i, f in enumerate(schema) if f.name == name]
        if not matches:
            raise ValueError(
                f"{what} {name!r} does not exist; the input has {len(schema)} columns: "
                + _listing(schema.names)
            )
        if len(matches) > 1:
            raise ValueError(f"{what} {name!r} appears {len(matches)} times in the input")
        return matches[0]

    def _features_column(self, schema: pa.Schema, name: str) -> _Reader:
        index = self._column_index(schema, name, "features column")
        field = schema.field(index)
        t = field.type
        nf = self.model.n_features_in_
        if _is_list(t) and _cell_type(t.value_type):
            return _ListColumn(index, name, nf)
        if _is_binary(t):
            return _BinaryColumn(index, name, nf)
        if _is_vector(t):
            return _VectorColumn(index, name, nf)
        raise ValueError(
            f"features column {name!r} has type {_type_text(field)}; expected {FEATURE_TYPES}"
        )

    def _named_columns(self, schema: pa.Schema, columns: Sequence[str]) -> _Reader:
        names = self._names
        if not columns:
            raise ValueError(
                f"input_cols is empty; it must name one column per model feature ({len(names)} "
                "features)"
            )
        feature_of = {n: j for j, n in enumerate(names)}
        index_of_feature = [-1] * len(names)
        seen = set()
        for c in columns:
            if not isinstance(c, str):
                raise TypeError(f"input_cols must hold column names (str), not {c!r}")
            if c in seen:
                raise ValueError(f"input_cols names column {c!r} twice")
            seen.add(c)
            j = feature_of.get(c)
            if j is None:
                raise ValueError(
                    f"input column {c!r} is not a feature of the model (its {len(names)} "
                    "features are matched to columns by name; see Model.feature_names_in_)"
                )
            index = self._column_index(schema, c, "input column")
            field = schema.field(index)
            if not _cell_type(field.type):
                hint = " (cast it to double or int)" if pa.types.is_decimal(field.type) else ""
                raise ValueError(
                    f"input column {c!r} has type {_type_text(field)}{hint}; expected "
                    + _COLUMN_TYPES
                )
            index_of_feature[j] = index
        absent = [names[j] for j, i in enumerate(index_of_feature) if i < 0]
        if absent:
            raise ValueError(
                f"{len(absent)} of the model's {len(names)} features have no column in "
                f"input_cols: {_listing(absent, 10)}"
            )
        return _NamedColumns(index_of_feature, names)

    # ---------------------------------------------------------------- scoring

    def score(
        self, batch: pa.RecordBatch, *, first_row: int = 0, partition: Optional[int] = None
    ) -> pa.RecordBatch:
        """The batch's rows (all, without the invalid ones under ``skip``) with the outputs
        appended. ``first_row`` (the batch's first row within its partition) and ``partition``
        only make error messages say where the row is."""
        if not isinstance(batch, pa.RecordBatch):
            raise TypeError(f"batch must be a pyarrow.RecordBatch, not {type(batch).__name__}")
        if not batch.schema.equals(self.input_schema):
            raise ValueError(
                "the batch's schema differs from the one this scorer was made for:\n"
                f"{batch.schema}\nexpected:\n{self.input_schema}"
            )
        if not self.has_outputs:
            return batch
        n = batch.num_rows
        cells = self._reader.read(batch)
        invalid = cells.invalid if cells.invalid is not None else np.zeros(n, dtype=bool)
        where = _Where(first_row, partition)
        if self.params.handle_invalid == "error" and invalid.any():
            row = int(np.argmax(invalid))
            raise ValueError(f"{where.row(row)}: {self._reader.why(batch, row)}{_HINT}")
        proba = np.zeros((n, 2), dtype=np.float64)
        labels = np.zeros(n, dtype=np.int64)
        on_bad = lambda row, feature, err: self._bad_value(batch, row, feature, where, err)  # noqa: E731
        # Probabilities first: that walk finds the invalid rows, the label walk skips them.
        if self._proba:
            self._walk(self.model.predict_proba, cells.x, proba, invalid, on_bad)
        if self._labels:
            self._walk(self.model.predict, cells.x, labels, invalid, on_bad)
        return self._output(batch, labels, proba, invalid)

    def _walk(
        self,
        kernel: Callable[..., np.ndarray],
        x: np.ndarray,
        out: np.ndarray,
        invalid: np.ndarray,
        on_bad: Callable[[int, int, InputValueError], None],
    ) -> None:
        """``out[r] = kernel(x[r])`` for the rows not marked invalid, in as few calls as the
        invalid rows allow. A row the library refuses is passed to ``on_bad`` (which raises
        under ``error``) and marked invalid; the rows around it are walked again without it."""
        pending = list(reversed(_valid_runs(invalid)))
        while pending:
            start, end = pending.pop()
            if start >= end:
                continue
            try:
                out[start:end] = kernel(x[start:end], check="visited")
            except InputValueError as err:
                bad = start + err.row
                on_bad(bad, err.column, err)
                invalid[bad] = True
                pending.append((bad + 1, end))
                pending.append((start, bad))

    def _bad_value(
        self, batch: pa.RecordBatch, row: int, feature: int, where: "_Where", err: InputValueError
    ) -> None:
        if self.params.handle_invalid != "error":
            return
        name = self._names[feature]
        value = self._reader.value_of(batch, row, feature)
        raise InputValueError(
            f"{where.row(row)}: feature {name!r} (index {feature}, in "
            f"{self._reader.source(feature)}) is {value}; {_VALUE_RULE}{_HINT}",
            where.first_row + row,
            feature,
            name,
            value,
        ) from err

    def _output(
        self, batch: pa.RecordBatch, labels: np.ndarray, proba: np.ndarray, invalid: np.ndarray
    ) -> pa.RecordBatch:
        mask: Optional[np.ndarray] = None
        if invalid.any():
            if self.params.handle_invalid == "skip":
                valid = np.flatnonzero(~invalid)
                batch, labels, proba = batch.take(pa.array(valid)), labels[valid], proba[valid]
            else:
                mask = invalid
        columns = list(batch.columns)
        if self._labels:
            columns.append(pa.array(labels.astype(np.float64), mask=mask))
        if self._proba:
            columns.append(_probability_array(proba, mask, self.params.probability_type))
        return pa.RecordBatch.from_arrays(columns, schema=self.output_schema)


@dataclass(frozen=True)
class _Where:
    first_row: int
    partition: Optional[int]

    def row(self, row: int) -> str:
        at = f" of partition {self.partition}" if self.partition is not None else ""
        return f"thetatree: cannot score row {self.first_row + row}{at}"


def _valid_runs(invalid: np.ndarray) -> List[Tuple[int, int]]:
    """[start, end) runs of consecutive rows not marked invalid."""
    n = len(invalid)
    if not invalid.any():
        return [(0, n)] if n else []
    edges = np.diff(np.concatenate(([0], (~invalid).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _probability_array(proba: np.ndarray, mask: Optional[np.ndarray], kind: str) -> pa.Array:
    """[P0, P1] per row: a dense ml Vector (struct: type 1, size and indices null, values) or a
    list<double>; null where ``mask`` is True."""
    n = len(proba)
    offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
    values = pa.ListArray.from_arrays(
        offsets, pa.array(proba.reshape(-1)), type=probability_arrow_type("array")
    )
    null = None if mask is None else pa.array(mask)
    if kind == "array":
        if null is None:
            return values
        return pa.ListArray.from_arrays(offsets, values.values, type=values.type, mask=null)
    t = _VECTOR_ARROW
    return pa.StructArray.from_arrays(
        [
            pa.array(np.ones(n, dtype=np.int8)),
            pa.nulls(n, pa.int32()),
            pa.nulls(n, t.field("indices").type),
            values,
        ],
        fields=[t.field(i) for i in range(t.num_fields)],
        mask=null,
    )


def score_batch(
    batch: pa.RecordBatch,
    model: Model,
    *,
    features_col: Optional[str] = None,
    input_cols: Optional[Sequence[str]] = None,
    prediction_col: str = "prediction",
    probability_col: str = "probability",
    handle_invalid: str = "error",
    probability_type: str = "vector",
) -> pa.RecordBatch:
    """Score one Arrow record batch: its rows with ``prediction_col`` and ``probability_col``
    appended (see :class:`ArrowScorer`; to score many batches of one schema, make the scorer
    once)."""
    params = ScoringParams(
        features_col,
        input_cols,
        prediction_col,
        probability_col,
        handle_invalid,
        probability_type,
    )
    return ArrowScorer(model, batch.schema, params).score(batch)


# ---------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class ScoringSpec:
    """What ``thetatree.spark.predict`` ships to the executors inside the ``mapInArrow``
    function: the model's ``.ttm`` bytes and digest, and the parameters."""

    digest: str
    data: bytes = field(repr=False)
    params: ScoringParams


class _ModelCache:
    """Models loaded by this process, by digest: a Python worker loads a model once and reuses
    it for every later task (Spark reuses Python workers). Least recently used models past
    ``capacity`` are dropped; a scorer in use keeps its own reference."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._models: "OrderedDict[str, Model]" = OrderedDict()
        self._loads: Dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, data: bytes) -> Model:
        with self._lock:
            model = self._models.get(digest)
            if model is not None:
                self._models.move_to_end(digest)
                return model
            model = loads(data)
            if model.digest != digest:
                raise ValueError(
                    f"the model bytes shipped to this worker have digest {model.digest}, not "
                    f"{digest}: they were changed on the way"
                )
            self._models[digest] = model
            self._loads[digest] = self._loads.get(digest, 0) + 1
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return model

    def loads_of(self, digest: str) -> int:
        """How many times this process loaded the model (a test hook)."""
        with self._lock:
            return self._loads.get(digest, 0)


MODEL_CACHE = _ModelCache()


def _partition_id() -> Optional[int]:
    """The Spark partition being scored, when running inside a Spark task."""
    try:
        from pyspark import TaskContext
    except ImportError:
        return None
    ctx = TaskContext.get()
    return None if ctx is None else ctx.partitionId()


def score_partition(
    spec: ScoringSpec, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: scores a partition's batches with the cached model (loaded
    on the first batch: an empty partition loads nothing)."""
    scorer: Optional[ArrowScorer] = None
    first_row = 0
    partition = _partition_id()
    for batch in batches:
        if scorer is None or not batch.schema.equals(scorer.input_schema):
            scorer = ArrowScorer(MODEL_CACHE.get(spec.digest, spec.data), batch.schema, spec.params)
        yield scorer.score(batch, first_row=first_row, partition=partition)
        first_row += batch.num_rows
