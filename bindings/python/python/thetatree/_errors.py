"""Exceptions of the thetatree package."""

from __future__ import annotations

from typing import Optional


class ModelError(ValueError):
    """A model file (or compiler source) that thetatree refuses.

    ``code`` is the library's stable status code (``TT_ERR_*``, see ``status``), ``message``
    says what is wrong, ``offset`` is the byte offset of the offending field when the problem
    has one (else ``None``). Compile errors also carry ``path``: where in the source (a JSON
    path such as ``$.tree_structure.left``, or a pickle location).
    """

    code: int
    message: str
    offset: Optional[int]
    path: Optional[str]

    def __init__(self, code: int, message: str, offset: Optional[int] = None) -> None:
        super().__init__(code, message, offset)
        self.code = code
        self.message = message
        self.offset = offset
        self.path = None

    @property
    def status(self) -> str:
        """The status name, e.g. ``"TT_ERR_CHECKSUM"``."""
        from ._native import status_name

        return status_name(self.code) or f"status {self.code}"

    def __str__(self) -> str:
        where = f" (byte offset {self.offset})" if self.offset is not None else ""
        return f"{self.status}: {self.message}{where}"


class InputValueError(ValueError):
    """A cell of the input that is not 0, 1 or missing (or, with ``check="binary"``, not 0 or 1).

    ``row`` and ``column`` locate it, ``feature`` is that column's feature name and ``value``
    the offending value as text.
    """

    row: int
    column: int
    feature: str
    value: str

    def __init__(self, message: str, row: int, column: int, feature: str, value: str) -> None:
        super().__init__(message)
        self.row = row
        self.column = column
        self.feature = feature
        self.value = value

    def __reduce__(self):  # type: ignore[override]
        return (type(self), (str(self), self.row, self.column, self.feature, self.value))
