"""docs/procedure-streams.md, generated from the procedures' own declarations.

``memlab procedures --markdown`` prints it; ``memlab procedures --markdown --out
docs/procedure-streams.md`` rewrites the file, and a test fails when the committed file differs
from what the declarations give.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from memlab.procedures.base import Procedure
from memlab.procedures.registry import all_procedures
from memlab.storage import Column, canonical

_HEADER = """\
# Streams each procedure writes

<!-- Generated from the procedures' declarations by `memlab procedures --markdown --out
docs/procedure-streams.md`; do not edit by hand (a test compares this file with the declarations). -->

The contract between procedures (which write run files) and analysis (which reads them), as each
procedure declares it. A run file is self-describing: each column is a dataset under
`/streams/<stream>/` with its dtype and `units` and `description` attributes, so analysis takes
units and dtypes from the file, not from this page. Column names carry no unit; an empty unit
means a dimensionless number. A column marked *per row* holds an array in each row, shaped as its
meaning says.
"""

_FOOTER = """
## Parameters

Each run file also records its devices (`/chip/devices`) and every declared parameter
(`/parameters/<name>`, with its `units`; `memlab procedures NAME` lists them). The quantities
below have one name in every procedure that records them (`memlab.storage.canonical`): look them
up by that name, never by an alias.

| parameter | unit | meaning |
|---|---|---|
"""


def builtin_procedures() -> dict[str, type[Procedure]]:
    """The procedures memlab ships (others may register their own in the same registry)."""
    return {name: cls for name, cls in all_procedures().items()
            if cls.__module__.startswith("memlab.procedures.")}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def column_row(stream: str, column: Column) -> str:
    """One column as a table row: stream, column, dtype, unit, meaning."""
    dtype = np.dtype(column.dtype).str.lstrip("<>|=") + (", per row" if column.shape else "")
    return (f"| `{stream}` | `{column.name}` | {dtype} | {column.unit} | {_cell(column.description)} |")


def procedure_section(name: str, cls: type[Procedure]) -> str:
    lines = [f"## `{name}`", ""]
    if cls.title:
        lines += [f"{cls.title}. Streams:", ""]
    lines += [f"- `{stream.name}`: {stream.description or '(no description)'}" for stream in cls.streams]
    lines += ["", "| stream | column | dtype | unit | meaning |", "|---|---|---|---|---|"]
    for stream in cls.streams:
        lines += [column_row(stream.name, column) for column in stream.columns]
    return "\n".join(lines) + "\n"


def procedure_streams_markdown(procedures: Mapping[str, type[Procedure]] | None = None) -> str:
    """The whole of docs/procedure-streams.md for ``procedures`` (default: the built-in ones)."""
    procedures = builtin_procedures() if procedures is None else procedures
    sections = [procedure_section(name, cls) for name, cls in procedures.items()]
    canon = [f"| `{param}` | {unit} | {_cell(meaning)} |"
             for param, (unit, meaning) in canonical.CANONICAL_PARAMETERS.items()]
    return _HEADER + "\n" + "\n".join(sections) + _FOOTER + "\n".join(canon) + "\n"
