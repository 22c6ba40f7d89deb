"""Does a run file match its procedure's declaration? Read with plain h5py, not memlab's reader,
so the writer is checked too. Used by test_schema.py for the runner's and the synthetic files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from memlab.procedures import get_procedure
from memlab.procedures.base import Procedure


def _plain(value: Any) -> Any:
    """An h5py attribute or scalar dataset value as plain Python."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    return value


def declared_procedure(f: h5py.File) -> Procedure:
    """The file's procedure, made again from the registry with the parameters the file records."""
    values = {_plain(row["name"]): json.loads(_plain(row["value"])) for row in f["parameters"][()]}
    return get_procedure(_plain(f.attrs["procedure"]))(**values)


def mismatches(path: str | Path) -> list[str]:
    """Every way the file at ``path`` differs from its procedure's declaration (empty: none):
    stream names, column names and order, dtypes, cell shapes and units; parameter names and units."""
    problems: list[str] = []
    with h5py.File(path, "r") as f:
        procedure = declared_procedure(f)
        chip = json.loads(_plain(f.attrs["metadata"]))["chip"]
        streams = {spec.name: spec for spec in procedure.stream_specs(chip)}
        written = set(f["streams"]) if "streams" in f else set()
        if written != set(streams):
            problems.append(f"streams {sorted(written)}, declared {sorted(streams)}")
        for name in sorted(written & set(streams)):
            spec, group = streams[name], f["streams"][name]
            columns = [_plain(c) for c in group.attrs["columns"]]
            if columns != list(spec.column_names) or set(group) != set(spec.column_names):
                problems.append(f"{name}: columns {columns} / datasets {sorted(group)}, "
                                f"declared {list(spec.column_names)}")
                continue
            for col in spec.columns:
                ds = group[col.name]
                if ds.dtype != np.dtype(col.dtype):
                    problems.append(f"{name}/{col.name}: dtype {ds.dtype.str}, declared {np.dtype(col.dtype).str}")
                if ds.shape[1:] != tuple(col.shape):
                    problems.append(f"{name}/{col.name}: cells of shape {ds.shape[1:]}, declared {col.shape}")
                if _plain(ds.attrs["units"]) != col.unit:
                    problems.append(f"{name}/{col.name}: units {_plain(ds.attrs['units'])!r}, "
                                    f"declared {col.unit!r}")
        declared = {p.name: p.unit for p in procedure.parameters}
        recorded = {_plain(row["name"]): _plain(row["units"]) for row in f["parameters"][()]}
        if recorded != declared:
            problems.append(f"parameters {recorded}, declared {declared}")
    return problems
