"""write-verify and potentiation-depression on the simulated prGO bench, checked against the chip."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader


@pytest.fixture
def bench():
    with load_bench(None) as b:
        yield b


@pytest.mark.parametrize("mode", ["window", "ispp"])
def test_write_verify_reaches_every_level_within_tolerance(bench, tmp_path, mode):
    proc = get_procedure("write-verify")(row=3, col=3, levels=6, g_low_s=1e-6, g_high_s=6e-6,
                                         tolerance=0.02, mode=mode, reads=4)
    result = run_procedure(proc, bench, tmp_path)
    assert result.status == "completed"
    with RunReader(result.path) as r:
        levels = r.stream("levels").arrays()
        verify = r.stream("verify").arrays()
    assert levels["success"].all(), levels
    assert np.all(np.abs(levels["error"]) <= 0.02)
    # the device itself holds the level (the last verify was not a lucky noisy read)
    g_true = bench.world.chip.conductance[3, 3]
    assert g_true == pytest.approx(levels["target"][-1], rel=0.02 + 3 * 0.01)
    assert levels["pulses"].sum() == (verify["pulse"] > 0).sum()
    if mode == "ispp":
        assert set(np.sign(verify["amplitude"][verify["pulse"] > 0])) <= {1.0, -1.0}


def test_write_verify_reports_unreachable_level(bench, tmp_path):
    """A target above the device's window cannot be reached: reported, not hidden."""
    g_max = bench.world.chip.device_parameters()["g_max_s"][5, 5]
    proc = get_procedure("write-verify")(row=5, col=5, levels=1, target_s=float(g_max) * 2, max_pulses=40)
    result = run_procedure(proc, bench, tmp_path)
    with RunReader(result.path) as r:
        level = r.stream("levels").arrays()
        log = " ".join(m for _, _, m in r.log())
    assert result.status == "completed"
    assert level["success"].tolist() == [0] and level["pulses"].tolist() == [40]
    assert "not reached in 40 pulses" in log


def test_potentiation_depression_is_monotone_and_saturating(bench, tmp_path):
    chip = bench.world.chip
    proc = get_procedure("potentiation-depression")(row=4, col=7, pulses=150, reads=4, start="as-is")
    result = run_procedure(proc, bench, tmp_path)
    assert result.status == "completed"
    with RunReader(result.path) as r:
        a = r.stream("pulses").arrays()
    up = a["conductance"][a["polarity"] == 1]
    down = a["conductance"][a["polarity"] == -1]
    params = chip.device_parameters()
    g_min, g_max = params["g_min_s"][4, 7], params["g_max_s"][4, 7]
    # overall trend up then down, steps shrinking as the soft bound nears (saturating)
    assert up[-1] > up[0] + 0.5 * (g_max - g_min) and down[-1] < down[0] - 0.5 * (g_max - g_min)
    assert np.mean(np.diff(up[:20])) > 3 * np.mean(np.diff(up[-20:]))
    assert abs(up[-1] - g_max) < 0.1 * g_max and abs(down[-1] - g_min) < 0.3 * g_min + 0.02 * g_max
    # the interval between pulses is what was asked, whatever the reads took
    times = a["time"][a["polarity"] == 1]
    assert np.median(np.diff(times)) >= 1e-3


def test_potentiation_interval_must_exceed_width(bench):
    with pytest.raises(ParameterError, match="interval_s"):
        get_procedure("potentiation-depression")(width_s=1e-3, interval_s=1e-3)
    with pytest.raises(ParameterError, match=r"set_v=12\.0 .*max_pulse_voltage_v"):
        get_procedure("potentiation-depression")(set_v=12.0).check(bench)


def test_potentiation_starts_from_a_reset_state(bench, tmp_path):
    """start = reset: the first branch begins near the device's lowest conductance, not wherever
    earlier runs left it; the log names the state it started from."""
    chip = bench.world.chip
    params = chip.device_parameters()
    g_min, g_max = params["g_min_s"][2, 3], params["g_max_s"][2, 3]
    high = get_procedure("write-verify")(row=2, col=3, levels=1, target_s=0.8 * g_max, max_pulses=300)
    run_procedure(high, bench, tmp_path)
    proc = get_procedure("potentiation-depression")(row=2, col=3, pulses=50, reads=4)
    result = run_procedure(proc, bench, tmp_path)
    with RunReader(result.path) as r:
        a = r.stream("pulses").arrays()
        log = " ".join(m for _, _, m in r.log())
    first = a["conductance"][0]
    assert first < g_min + 0.2 * (g_max - g_min)
    assert "start: 500 pulses" in log


def test_write_verify_rereads_each_level_after_the_relaxation_delay(bench, tmp_path):
    proc = get_procedure("write-verify")(row=1, col=2, levels=3, repeats=2, relax_s=60.0, check_reads=4)
    result = run_procedure(proc, bench, tmp_path)
    assert result.status == "completed"
    with RunReader(result.path) as r:
        levels = r.stream("levels").arrays()
        checks = r.stream("checks").arrays()
    assert levels["repeat"].tolist() == [0, 0, 0, 1, 1, 1]
    assert len(checks["conductance"]) == 3 * 2 * 4
    assert np.all(checks["delay"] >= 60.0) and np.all(checks["delay"] < 61.0)
    for lv, rep, relaxed in zip(levels["level"], levels["repeat"], levels["relaxed"]):
        sel = (checks["level"] == lv) & (checks["repeat"] == rep)
        assert relaxed == pytest.approx(np.mean(checks["conductance"][sel]))
