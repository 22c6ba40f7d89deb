"""Distinguishable levels from write-verify runs on the simulated bench: counted right after
verify and after a stated relaxation delay, and the report says which."""

from __future__ import annotations

import pytest

from memlab.analysis import summarize
from memlab.analysis.report import markdown_table, write_report
from memlab.instruments.bench import load_bench
from memlab.procedures import get_procedure, run_procedure


def test_levels_are_counted_at_t0_and_after_the_relaxation_delay(tmp_path):
    with load_bench(None) as bench:
        proc = get_procedure("write-verify")(row=2, col=2, levels=3, g_low_s=2e-6, g_high_s=8e-6, repeats=5,
                                             relax_s=3600.0, check_reads=2)
        assert run_procedure(proc, bench, tmp_path).status == "completed"
    s = summarize(tmp_path, scheduler="serial", progress=False)
    row = s.devices.iloc[0]
    at_once, relaxed = row["distinguishable_levels"], row["distinguishable_levels_relaxed"]
    assert at_once.determined and at_once.n == 15 and at_once.low <= at_once.value <= at_once.high
    assert relaxed.determined and row["levels_relax_s"] == 3600.0
    chip = s.chip.set_index("figure")["value"]
    assert chip["distinguishable levels at t = 0 (pooled)"].value == at_once.value
    assert "distinguishable levels after 1 h (pooled)" in chip.index
    assert "after 1 h" in markdown_table(s.chip)
    report = write_report(tmp_path, tmp_path / "report", summary=s)
    programming = (report.folder / "devices.md").read_text().split("## Programming")[1].split("##")[0]
    assert "distinguishable_levels_relaxed" in programming and "levels_relax_s" in programming


def test_one_sample_per_level_is_not_a_count(tmp_path):
    with load_bench(None) as bench:
        run_procedure(get_procedure("write-verify")(row=1, col=1, levels=3), bench, tmp_path)
    s = summarize(tmp_path, scheduler="serial", progress=False)
    fig = s.devices.iloc[0]["distinguishable_levels"]
    assert not fig.determined and "at least 5 per level" in fig.reason
    assert "not determined: too few points" in markdown_table(s.devices[["distinguishable_levels"]])
    with pytest.raises(KeyError):
        s.devices.iloc[0]["distinguishable_levels_relaxed"]
