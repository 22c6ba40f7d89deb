"""docs/chip-model.md's parameter table is the presets' source list: one row per parameter, the
values the presets hold, and a source or an "assumed" mark for every number."""

from __future__ import annotations

import math
from pathlib import Path

from memlab.instruments.sim.chip.presets import PARAMETERS, PRESETS

DOC = Path(__file__).resolve().parents[3] / "docs" / "chip-model.md"


def table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and cells[0].strip("`") in PARAMETERS:
            rows[cells[0].strip("`")] = cells
    return rows


def same(documented: str, value: object) -> bool:
    if isinstance(value, bool):
        return documented.lower() == str(value).lower()
    if isinstance(value, str):
        return documented == value
    return math.isclose(float(documented), float(value), rel_tol=1e-9, abs_tol=0.0)


def test_every_preset_number_is_documented_with_its_source():
    rows = table_rows()
    assert set(rows) == set(PARAMETERS)
    for name, (_, _unit, prgo, opto, _meaning, source) in rows.items():
        assert same(prgo, PRESETS["prgo"][name]), (name, prgo, PRESETS["prgo"][name])
        assert same(opto, PRESETS["optomemristor"][name]), (name, opto, PRESETS["optomemristor"][name])
        assert source, f"{name}: no source and not marked assumed"
