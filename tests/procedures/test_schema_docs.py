"""docs/procedure-streams.md is generated from the procedures' declarations and kept up to date."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from memlab.cli import main
from memlab.procedures import get_procedure
from memlab.procedures.docgen import builtin_procedures, procedure_streams_markdown
from memlab.storage import canonical

DOC = Path(__file__).resolve().parents[2] / "docs" / "procedure-streams.md"
REGENERATE = "memlab procedures --markdown --out docs/procedure-streams.md"


def test_the_committed_doc_is_what_the_declarations_give():
    assert DOC.read_text(encoding="utf-8") == procedure_streams_markdown(), (
        f"docs/procedure-streams.md is out of date with the procedures' declarations: run `{REGENERATE}`")


def test_the_doc_names_every_stream_column_dtype_and_unit():
    text = procedure_streams_markdown()
    for name, cls in builtin_procedures().items():
        assert f"## `{name}`" in text
        for stream in cls.streams:
            for column in stream.columns:
                dtype = column.dtype.lstrip("<>|=") + (", per row" if column.shape else "")
                assert f"| `{stream.name}` | `{column.name}` | {dtype} | {column.unit} |" in text
    for param in canonical.CANONICAL_PARAMETERS:
        assert f"| `{param}` |" in text


def test_a_changed_declaration_changes_the_doc():
    cls = get_procedure("iv-sweep")
    stream = cls.streams[0]
    changed = replace(stream, columns=(replace(stream.columns[0], dtype="i8"), *stream.columns[1:]))
    other = type("ChangedIV", (cls,), {"streams": (changed,), "__module__": cls.__module__})
    assert procedure_streams_markdown({"iv-sweep": other}) != procedure_streams_markdown({"iv-sweep": cls})
    assert "| `iv` | `cycle` | i8 |" in procedure_streams_markdown({"iv-sweep": other})


def test_the_cli_prints_and_writes_the_doc(tmp_path, capsys):
    assert main(["procedures", "--markdown"]) == 0
    assert capsys.readouterr().out == procedure_streams_markdown()
    out = tmp_path / "streams.md"
    assert main(["procedures", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == procedure_streams_markdown()
