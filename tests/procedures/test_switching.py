"""switching on the simulated bench: LRS and HRS per cycle are the device's window edges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

Switching = get_procedure("switching")


@pytest.fixture
def bench():
    with load_bench(None) as b:
        yield b


def iv(chip, v: float) -> float:
    v0 = chip.params["v0_read_v"]
    return v0 * math.sinh(v / v0)


def run(bench, tmp_path, **values):
    result = run_procedure(Switching(**values), bench, tmp_path)
    assert result.status == "completed", result.error
    with RunReader(result.path) as r:
        stream = r.stream("switching")
        assert stream.units["resistance"] == "ohm"
        return stream.arrays()


def conductance(chip, rows):
    """The model's G from the recorded resistance: R = V / (G f(V))."""
    read_v = 0.2
    return read_v / (rows["resistance"] * iv(chip, read_v))


def test_lrs_and_hrs_are_the_window_edges_every_cycle(bench, tmp_path):
    chip = bench.world.chip
    row, col, cycles, set_v = 2, 3, 20, 3.0
    state = chip.device_state(row, col)
    rows = run(bench, tmp_path, row=row, col=col, cycles=cycles, set_v=set_v, reset_v=-set_v, reads=2)
    assert list(rows["polarity"]) == [1, -1] * cycles
    assert list(rows["cycle"]) == [c for c in range(cycles) for _ in (0, 1)]
    assert list(rows["voltage"]) == [set_v, -set_v] * cycles
    g = conductance(chip, rows)
    lrs, hrs = g[rows["polarity"] == 1], g[rows["polarity"] == -1]
    # a full SET reaches the window top, or what the cell transistor lets through at the SET voltage
    top = min(state["g_max_s"], chip.params["transistor_i_max_a"] / iv(chip, set_v))
    assert np.median(lrs) == pytest.approx(top, rel=0.03)
    assert np.median(hrs) == pytest.approx(state["g_min_s"], rel=0.1)
    assert rows["resistance"][rows["polarity"] == 1].max() < rows["resistance"][rows["polarity"] == -1].min()
    assert chip.device_state(row, col)["pulses"] == 2 * cycles
    assert not bench.pulser.output_enabled() and not bench.smu.output_enabled()


def test_smu_set_is_capped_by_the_compliance(bench, tmp_path):
    chip = bench.world.chip
    row, col, compliance, set_v = 8, 1, 10e-6, 1.8
    state = chip.device_state(row, col)
    rows = run(bench, tmp_path, row=row, col=col, source="smu", cycles=4, set_v=set_v, set_width_s=1e-3,
               reset_v=-2.0, reset_width_s=1e-3, compliance_a=compliance)
    g = conductance(chip, rows)
    cap = compliance / iv(chip, set_v)
    assert cap < 0.5 * state["g_max_s"]  # the compliance, not the window, limits this SET
    assert np.allclose(g[rows["polarity"] == 1], cap, rtol=4 * chip.params["sigma_read"])
    assert np.allclose(g[rows["polarity"] == -1], state["g_min_s"], rtol=0.1)


def test_bad_parameters_refused_before_anything_runs(bench, tmp_path):
    with pytest.raises(ParameterError, match=r"set_width_s=1e-06 .*SMU"):
        run_procedure(Switching(source="smu"), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"reset_v=-11\.0 .*max_pulse_voltage_v"):
        run_procedure(Switching(reset_v=-11.0), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"set_v=-1\.0"):
        Switching(set_v=-1.0)
    with pytest.raises(ParameterError, match=r"read_v=0\.0"):
        Switching(read_v=0.0)
    assert list(tmp_path.iterdir()) == [] and bench.clock.now() == 0.0
