"""Campaign summaries (serial, Dask processes, dask.distributed), the report and `memlab analyze`."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from memlab.analysis import summarize
from memlab.analysis.report import format_value, markdown_table, write_report
from memlab import cli


@pytest.fixture(scope="module")
def serial(campaign):
    return summarize(campaign.folder, scheduler="serial", progress=False)


def device_row(summary, row: int, col: int, family: str = "prgo") -> pd.Series:
    d = summary.devices
    return d[(d["device_row"] == row) & (d["device_col"] == col) & d["chip"].str.startswith(family)].iloc[0]


def test_campaign_figures_follow_the_generating_parameters(campaign, serial):
    assert serial.files == sum(len(v) for v in campaign.files.values()) and not serial.skipped
    assert not serial.errors
    chip = serial.chip.set_index("figure")["value"].map(float)
    n = campaign.rows * campaign.cols
    assert chip["forming yield"] == pytest.approx((n - 1) / n)  # the last device never forms
    for d in campaign.devices:
        row = device_row(serial, d.row, d.col).map(lambda v: float(v) if hasattr(v, "quality") else v)
        assert row["formed"] == int(d.formed)
        if not d.formed:
            assert pd.isna(row["set_voltage_v"])
            continue
        assert row["forming_voltage_v"] == pytest.approx(d.v_form_v, abs=0.1 + 1e-9)  # 0.1 V steps
        assert row["set_voltage_v"] == pytest.approx(d.v_set_v, abs=0.05 + 0.04)  # step + jitter
        assert row["step_fraction_potentiation"] == pytest.approx(d.a_plus, rel=0.15)
        assert row["step_fraction_depression"] == pytest.approx(d.a_minus, rel=0.15)
        assert row["drift_nu"] == pytest.approx(d.drift_nu, rel=0.1)
        assert row["write_verify_success"] == 1.0
    d0, o0 = device_row(serial, 0, 0), device_row(serial, 0, 0, "optomemristor")
    assert o0["eligibility_tau_s"].value == pytest.approx(campaign.tau_e_s, rel=0.05)
    for name, truth in (("rise_tau_s", campaign.tau_on_s), ("decay_tau_s", campaign.tau_ph_s)):
        fig = o0[name]  # a number only with its interval; else the reason
        assert fig.value == pytest.approx(truth, rel=0.05) if fig.determined else fig.reason
    assert o0["photo_exponent"].value == pytest.approx(campaign.gamma_ph, rel=0.05)
    assert o0["band_gap_ev"].covers(campaign.band_gap_ev) and o0["band_gap_ev"].half_width < 0.05
    assert o0["urbach_energy_ev"].covers(campaign.urbach_energy_ev)
    assert o0["relaxation_tau_s"].value == pytest.approx(campaign.tau_ph_s, rel=0.05)
    failure = d0["cycles_to_failure"]
    assert d0["endurance_failed"] == 1 and failure.value < campaign.endurance_cycles and failure.low < failure.value
    assert chip["vmm_correlation"] > 0.99 and d0["xor_accuracy"].value == 1.0  # a single-device XOR
    assert chip["distinguishable levels at t = 0 (pooled)"] == 8
    assert 0 < chip["hrs_ohm d2d_cv"] < 0.5  # device-to-device variability over the formed devices
    # every figure of the chip table carries an interval or a reason
    for fig in serial.chip["value"]:
        assert fig.determined and fig.low <= fig.value <= fig.high or fig.reason


def _same_tables(a, b) -> None:
    key = ["chip", "device_row", "device_col"]
    pd.testing.assert_frame_equal(a.devices.sort_values(key).reset_index(drop=True),
                                  b.devices.sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(a.chip, b.chip)


def test_dask_processes_give_the_serial_answer_with_a_progress_bar(campaign, serial, capfd):
    par = summarize(campaign.folder, scheduler="processes", workers=2, chunk_size=8, progress=True)
    _same_tables(serial, par)
    assert "analysing" in capfd.readouterr().err  # the tqdm bar on stderr


def test_a_dask_distributed_scheduler_address(campaign, serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        remote = summarize(campaign.folder, scheduler=cluster.scheduler_address, progress=False)
    _same_tables(serial, remote)


def test_filters_and_bad_scheduler(campaign):
    only = summarize(campaign.folder, procedure="retention", scheduler="serial", progress=False)
    assert set(only.runs["procedure"]) == {"retention"}
    with pytest.raises(ValueError, match="scheduler='gpu'"):
        summarize(campaign.folder, scheduler="gpu")


def test_table_formatting():
    assert [format_value(v) for v in (1.23456e-6, 3.0, float("nan"), pd.NA, np.int64(4), math.inf)] == \
        ["1.235e-06", "3", "", "", "4", "inf"]
    md = markdown_table(pd.DataFrame({"a|b": [1.5], "c": ["x"]}))
    assert md.splitlines() == ["| a\\|b | c |", "|---|---|", "| 1.5 | x |"]


def test_report_tables_without_plots(campaign, serial, tmp_path):
    result = write_report(campaign.folder, tmp_path / "r", summary=serial, plots_per_procedure=0)
    devices = pd.read_csv(tmp_path / "r" / "devices.csv")
    assert len(devices) == campaign.rows * campaign.cols + 1  # + the optomemristor chip's device (0, 0)
    figure_columns = [c for c in devices.columns if not c.endswith(("_low", "_high", "_n", "_quality"))]
    for c in figure_columns:  # columns no device has are left out
        assert devices[c].notna().any() or devices.get(f"{c}_quality", pd.Series(dtype=object)).notna().any(), c
    # every figure column comes with its interval, points and quality (the reason when not determined)
    assert {"set_voltage_v_low", "set_voltage_v_high", "set_voltage_v_n", "set_voltage_v_quality"} <= set(devices)
    md = (tmp_path / "r" / "devices.md").read_text()
    for section in ("## Switching", "## Forming", "## Retention", "## Potentiation / depression"):
        assert section in md
    # no figure is printed as a bare number: each cell has its interval, a bound or the reason
    from memlab.analysis.summary import COUNTS, FIGURES
    for line in md.splitlines():
        if line.startswith("| device_row"):
            head = [h.strip() for h in line.strip("|").split("|")]
        elif line.startswith("| ") and not line.startswith("|---"):
            for name, cell in zip(head, (c.strip() for c in line.strip("|").split("|"))):
                if name in FIGURES and name not in COUNTS and cell:
                    assert any(mark in cell for mark in ("±", "CI", "> ", "not determined")), (name, cell)
    html = result.index.read_text()
    for table in result.tables:
        assert f"href='{table.name}'" in html and table.exists()
    assert not result.figures


@pytest.fixture
def main(monkeypatch):
    """memlab's own entry point, with this command added if the lead has not yet."""
    if "memlab.cmd_analyze" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "memlab.cmd_analyze"))
    return cli.main


def test_memlab_analyze_writes_the_report(campaign, tmp_path, main, capsys):
    folder = tmp_path / "campaign"
    shutil.copytree(campaign.folder, folder)
    out = tmp_path / "report"
    code = main(["analyze", str(folder), "--report", str(out), "--scheduler", "serial",
                 "--plots-per-procedure", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"report: {out / 'index.html'}" in captured.out
    html = (out / "index.html").read_text()
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    linked = sorted(re.findall(r"<img src='figures/([^']+)'", html))
    assert pngs == linked and len(pngs) >= 20
    for expected in ("map_on_off_ratio_prgo-2x2-seed-3.png", "levels_histogram.png", "resistance_cdf.png"):
        assert expected in pngs
    assert all((out / "figures" / p).stat().st_size > 10_000 for p in pngs)
    for name in ("devices.csv", "devices.md", "chip.csv", "chip.md", "runs.csv"):
        assert (out / name).stat().st_size > 0


def test_memlab_analyze_skips_bad_files_naming_them(tmp_path, main, capsys, makers, live_writer):
    live_path, _ = live_writer
    folder = live_path.parent
    makers.iv(folder / "good.h5")
    makers.corrupted(folder / "cut.h5")
    makers.foreign(folder / "other.h5")
    code = main(["analyze", str(folder), "--scheduler", "serial"])
    err = capsys.readouterr().err
    assert code == 0
    lines = [ln for ln in err.splitlines() if ln.startswith("memlab analyze: warning: skipped")]
    assert len(lines) == 3
    for name, why in (("cut.h5", "damaged"), ("other.h5", "not a memlab run file"),
                      ("live.h5", "still being written")):
        assert any(name in ln and why in ln for ln in lines), err


@pytest.mark.parametrize("setup, args, message", [
    (lambda d, mk: None, ["nowhere"], "nowhere: no such file or folder"),
    (lambda d, mk: (d / "empty").mkdir(), ["empty"], "no run files"),
    (lambda d, mk: mk.foreign(d / "x.h5"), ["x.h5"], "not a memlab run file"),
    (lambda d, mk: mk.interrupted(d / "x.h5"), ["x.h5"], "interrupted"),
    (lambda d, mk: mk.iv(d / "x.h5"), ["x.h5", "--status", "done"], "status='done': allowed"),
    (lambda d, mk: mk.iv(d / "x.h5"), ["x.h5", "--procedure", "xor"], "no analysable runs"),
])
def test_memlab_analyze_bad_input_is_one_line_and_status_2(tmp_path, main, capsys, makers, setup, args, message):
    setup(tmp_path, makers)
    argv = ["analyze", *[str(tmp_path / a) if i == 0 else a for i, a in enumerate(args)], "--scheduler", "serial"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("memlab analyze: error:") and message in err[0], err


def test_plot_helpers_scale_units_and_refuse_bad_shapes():
    from memlab.analysis import plots

    assert plots.si_scale([5e-6, 8e-6], "S") == (1e6, "\u00b5S")
    assert plots.si_scale([2e6], "ohm") == (1e-6, "M\u03a9")
    assert plots.fmt_si(0.999875, "s") == "1 s"  # rounded before the prefix is chosen
    assert plots.fmt_si(0.0123, "s") == "12.3 ms"
    grid = plots.chip_grid([(0, 1), (1, 0)], [1.0, 2.0], (2, 2))
    assert grid[0, 1] == 1.0 and grid[1, 0] == 2.0 and np.isnan(grid[0, 0])
    with pytest.raises(ValueError, match=r"values: expected a \(rows, cols\) array"):
        plots.plot_chip_map(np.arange(3.0), label="x")
