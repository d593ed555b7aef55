"""Arrow columns and batches in every input form thetatree.spark reads, built from a float64
matrix of cells (0, 1, NaN = missing), for the tests of the Arrow batch core."""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import numpy as np
import pyarrow as pa


def _offsets(n: int, width: int) -> pa.Array:
    return pa.array(np.arange(0, n * width + 1, width, dtype=np.int32))


def list_column(x: np.ndarray, value_type: pa.DataType, missing: str = "code") -> pa.Array:
    """One list per row. ``missing``: ``"code"`` writes the dtype's missing value (-1 in
    integers, NaN in floats), ``"null"`` a null element."""
    n, nf = x.shape
    nan = np.isnan(x)
    mask = None
    if missing == "null" or pa.types.is_boolean(value_type):
        mask = nan.reshape(-1)
        cells = np.where(nan, 0, x)
    elif pa.types.is_integer(value_type):
        cells = np.where(nan, -1, x)
    else:
        cells = x
    values = pa.array(cells.reshape(-1).astype(value_type.to_pandas_dtype()), value_type, mask=mask)
    return pa.ListArray.from_arrays(_offsets(n, nf), values)


def binary_column(x: np.ndarray) -> pa.Array:
    """One byte per feature: 0, 1, 0xFF (-1) missing."""
    n, nf = x.shape
    cells = np.where(np.isnan(x), -1, x).astype(np.int8)
    return pa.Array.from_buffers(
        pa.binary(),
        n,
        [
            None,
            pa.py_buffer(np.arange(0, n * nf + 1, nf, dtype=np.int32)),
            pa.py_buffer(cells.tobytes()),
        ],
    )


VECTOR = pa.struct(
    [
        pa.field("type", pa.int8(), nullable=False),
        pa.field("size", pa.int32()),
        pa.field("indices", pa.list_(pa.field("element", pa.int32(), nullable=False))),
        pa.field("values", pa.list_(pa.field("element", pa.float64(), nullable=False))),
    ]
)


def vector_column(x: np.ndarray, sparse: bool) -> pa.Array:
    """ml Vectors as Spark sends them: dense (type 1, all values) or sparse (type 0, size, the
    non-zero entries, NaN included)."""
    n, nf = x.shape
    if not sparse:
        values = pa.ListArray.from_arrays(
            _offsets(n, nf), pa.array(x.reshape(-1)), type=VECTOR.field("values").type
        )
        return pa.StructArray.from_arrays(
            [
                pa.array(np.ones(n, np.int8)),
                pa.nulls(n, pa.int32()),
                pa.nulls(n, VECTOR.field("indices").type),
                values,
            ],
            fields=list(VECTOR),
        )
    nz = x != 0  # NaN != 0: kept as an explicit entry
    counts = nz.sum(axis=1)
    offsets = pa.array(np.concatenate(([0], np.cumsum(counts))).astype(np.int32))
    rows, cols = np.nonzero(nz)
    indices = pa.ListArray.from_arrays(
        offsets, pa.array(cols.astype(np.int32)), type=VECTOR.field("indices").type
    )
    values = pa.ListArray.from_arrays(
        offsets, pa.array(x[rows, cols]), type=VECTOR.field("values").type
    )
    return pa.StructArray.from_arrays(
        [pa.array(np.zeros(n, np.int8)), pa.array(np.full(n, nf, np.int32)), indices, values],
        fields=list(VECTOR),
    )


FEATURE_FORMS: Dict[str, Callable[[np.ndarray], pa.Array]] = {
    "list<int8>": lambda x: list_column(x, pa.int8()),
    "list<int8> null elements": lambda x: list_column(x, pa.int8(), "null"),
    "list<int16>": lambda x: list_column(x, pa.int16()),
    "list<int32>": lambda x: list_column(x, pa.int32()),
    "list<int64>": lambda x: list_column(x, pa.int64()),
    "list<float>": lambda x: list_column(x, pa.float32()),
    "list<double>": lambda x: list_column(x, pa.float64()),
    "list<double> null elements": lambda x: list_column(x, pa.float64(), "null"),
    "list<bool> (null missing)": lambda x: list_column(x, pa.bool_()),
    "large_list<int8>": lambda x: list_column(x, pa.int8()).cast(pa.large_list(pa.int8())),
    "fixed_size_list<double>": lambda x: pa.FixedSizeListArray.from_arrays(
        pa.array(x.reshape(-1)), x.shape[1]
    ),
    "binary": binary_column,
    "large_binary": lambda x: binary_column(x).cast(pa.large_binary()),
    "dense Vector": lambda x: vector_column(x, sparse=False),
    "sparse Vector": lambda x: vector_column(x, sparse=True),
}

# Per-feature column types of the named-column forms (cycled over the features).
NAMED_MIXED = [
    pa.int8(),
    pa.int32(),
    pa.int64(),
    pa.float64(),
    pa.bool_(),
    pa.float32(),
    pa.int16(),
]


def named_column(x: np.ndarray, t: pa.DataType) -> pa.Array:
    """One feature's column; missing is null."""
    nan = np.isnan(x)
    return pa.array(np.where(nan, 0, x).astype(t.to_pandas_dtype()), t, mask=nan)


def named_batch(
    x: np.ndarray, names: Sequence[str], types: Sequence[pa.DataType], seed: int = 0
) -> pa.RecordBatch:
    """An ``id`` column, one column per feature in shuffled order (types cycled), and a string
    column the scorer must pass through."""
    order = np.random.default_rng(seed).permutation(len(names))
    arrays: List[pa.Array] = [pa.array(np.arange(len(x)))]
    fields = ["id"]
    for j in order:
        arrays.append(named_column(x[:, j], types[j % len(types)]))
        fields.append(names[j])
    arrays.append(pa.array([f"row {i}" for i in range(len(x))]))
    fields.append("note")
    return pa.RecordBatch.from_arrays(arrays, names=fields)


def features_batch(column: pa.Array, name: str = "features") -> pa.RecordBatch:
    """``id``, the features column, and a passed-through string column."""
    n = len(column)
    return pa.RecordBatch.from_arrays(
        [pa.array(np.arange(n)), column, pa.array([f"row {i}" for i in range(n)])],
        names=["id", name, "note"],
    )


def probabilities(col: pa.Array) -> np.ndarray:
    """(n, 2) float64 from a probability column (ml Vector struct or list<double>), no nulls."""
    lists = col.field("values") if pa.types.is_struct(col.type) else col
    return lists.flatten().to_numpy(zero_copy_only=False).reshape(-1, 2)
