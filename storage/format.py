"""The memlab run-file format: names and declarations shared by writer and reader.

See docs/hdf5-format.md for the layout as a plain-h5py user sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h5py
import numpy as np

FORMAT_NAME = "memlab-run"
FORMAT_VERSION = 2
"""2: the run's description in one JSON attribute ``metadata`` and the parameters in one table;
1 (still read): an attribute per item and a dataset per parameter."""

RUNNING = "running"
COMPLETED = "completed"
ABORTED = "aborted"
FAILED = "failed"
INTERRUPTED = "interrupted"
FINAL_STATUSES = (COMPLETED, ABORTED, FAILED)
STATUSES = (RUNNING, *FINAL_STATUSES, INTERRUPTED)

LOG_MESSAGE_BYTES = 1024
"""Log messages are fixed-size UTF-8 so the log can grow in single-writer/multiple-reader mode."""


PARAMETER_DTYPE = np.dtype([("name", h5py.string_dtype("utf-8")), ("value", h5py.string_dtype("utf-8")),
                            ("units", h5py.string_dtype("utf-8")), ("help", h5py.string_dtype("utf-8"))])
"""One row per parameter: its name, its value as run as JSON text (``null`` when unset), units, help."""


@dataclass(frozen=True)
class Column:
    """One column of a stream: a name, its SI unit ("" when dimensionless), a dtype and the
    shape of one cell (``()`` for a scalar; ``(rows, cols)`` for a map per row)."""

    name: str
    unit: str = ""
    dtype: str = "f8"
    shape: tuple[int, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Column name {self.name!r} must be a Python identifier")
        np.dtype(self.dtype)  # refuse an unknown dtype when declared, not when first written
        if any(int(n) <= 0 for n in self.shape):
            raise ValueError(f"Column {self.name!r}: shape {self.shape!r} must be positive")


@dataclass(frozen=True)
class StreamSpec:
    """A named table of columns that grows by rows during a run."""

    name: str
    columns: tuple[Column, ...]
    description: str = ""
    column_names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Stream name {self.name!r} must be a Python identifier")
        names = tuple(c.name for c in self.columns)
        if not names:
            raise ValueError(f"Stream {self.name!r} declares no columns")
        if len(set(names)) != len(names):
            raise ValueError(f"Stream {self.name!r} declares a column twice: {names}")
        object.__setattr__(self, "column_names", names)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"stream {self.name!r} has no column {name!r}; it has {list(self.column_names)}")
