"""retention on the simulated bench: the recorded decay has the chip's drift exponent."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from memlab.instruments.bench import Bench, load_bench, read_bench_config
from memlab.procedures import ParameterError, RunListener, get_procedure, run_procedure
from memlab.storage import RunReader

Retention = get_procedure("retention")


def run(bench, tmp_path, **values):
    result = run_procedure(Retention(**values), bench, tmp_path)
    assert result.status == "completed", result.error
    with RunReader(result.path) as r:
        stream = r.stream("retention")
        assert stream.units["time"] == "s" and stream.units["conductance"] == "S"
        return stream.arrays()


def drift_exponent(rows, row: int, col: int) -> float:
    """nu of G = G0 (t / t0)^-nu, fitted to one device's reads (least squares in log-log)."""
    mine = (rows["row"] == row) & (rows["col"] == col)
    return -np.polyfit(np.log(rows["time"][mine]), np.log(rows["conductance"][mine]), 1)[0]


def test_interleaved_devices_each_show_their_own_drift(tmp_path):
    devices = [(1, 1), (4, 7), (9, 3)]
    points, target = 30, 5e-6
    with load_bench(None) as bench:
        chip = bench.world.chip
        rows = run(bench, tmp_path, devices=";".join(f"{r},{c}" for r, c in devices), duration_s=1e5,
                   points=points, reads=4, target_s=target)
        drawn = chip.device_parameters()["drift"]
        assert bench.clock.now() > 1e5  # a day-scale run on the virtual clock
    assert len(rows["row"]) == points * len(devices)
    # one schedule: the devices' reads alternate instead of running one device after another
    assert list(rows["row"][:6]) == [1, 4, 9, 1, 4, 9]
    for row, col in devices:
        mine = (rows["row"] == row) & (rows["col"] == col)
        t = rows["time"][mine]
        assert t[0] == pytest.approx(1.0, abs=0.05) and t[-1] == pytest.approx(1e5, rel=1e-3)
        assert np.allclose(np.diff(np.log(t)), np.log(1e5) / (points - 1), rtol=0.05)  # log-spaced
        assert rows["conductance"][mine][0] >= target * 0.98  # programmed to the target first
        # the fitted exponent is this device's drawn one (read noise 0.5 %: slope error ~3e-4)
        assert drift_exponent(rows, row, col) == pytest.approx(float(drawn[row, col]), abs=1.5e-3)
    assert np.ptp(drawn[tuple(np.array(devices).T)]) > 3e-3  # the devices do differ


def test_decay_follows_the_preset_exponent_without_spread(tmp_path):
    config = read_bench_config(None)
    overrides = {"drift_nu": 0.05, "sigma_drift_nu": 0.0}
    with Bench(replace(config, chip=replace(config.chip, overrides=overrides))) as bench:
        rows = run(bench, tmp_path, devices="2,2;2,3", duration_s=3600.0, points=20, reads=4)
    for row, col in ((2, 2), (2, 3)):
        assert drift_exponent(rows, row, col) == pytest.approx(0.05, abs=2e-3)


def test_as_is_reads_without_programming(tmp_path):
    with load_bench(None) as bench:
        chip = bench.world.chip
        rows = run(bench, tmp_path, devices="0,5", program="as-is", duration_s=10.0, first_read_s=0.1, points=5)
        state = chip.device_state(0, 5)
        assert state["pulses"] == 0 and state["t_prog_s"] == 0.0  # as made, with the bench
    assert len(rows["time"]) == 5 and rows["time"][0] >= 0.1
    # untouched since the bench was made: its Gmin, drifting since then (no drift before t0 = 1 s)
    since_made = np.maximum(rows["time"], 1.0)  # the run started when the bench was made (t = 0)
    expected = state["g_min_s"] * since_made ** -state["drift"] * np.sinh(0.2) / 0.2
    assert np.allclose(rows["conductance"], expected, rtol=4 * chip.params["sigma_read"])


def test_devices_off_the_chip_or_twice_refused(tmp_path):
    with load_bench(None) as bench:
        with pytest.raises(ParameterError, match=r"row=16 .*0 <= row < 16"):
            run_procedure(Retention(devices="1,1;16,0"), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"set_v=12\.0 .*max_pulse_voltage_v"):
            run_procedure(Retention(set_v=12.0), bench, tmp_path)
        assert bench.clock.now() == 0.0
    with pytest.raises(ParameterError, match=r"devices='0,0;0,0' .*once"):
        Retention(devices="0,0;0,0")
    with pytest.raises(ParameterError, match=r"devices='0;0'"):
        Retention(devices="0;0")
    with pytest.raises(ParameterError, match=r"first_read_s=10\.0 .*duration_s"):
        Retention(first_read_s=10.0, duration_s=5.0)
    assert list(tmp_path.iterdir()) == []


class AbortAfterReads(RunListener):
    def __init__(self, event: threading.Event, reads: int) -> None:
        self.event, self.reads = event, reads

    def on_progress(self, done, total, eta_s) -> None:
        if done >= self.reads:
            self.event.set()


def test_abort_during_a_long_wait_keeps_every_read_and_switches_off(tmp_path):
    abort = threading.Event()
    with load_bench(None) as bench:
        result = run_procedure(Retention(devices="0,1;0,2", duration_s=30 * 86400.0, points=50), bench, tmp_path,
                               listeners=[AbortAfterReads(abort, 7)], abort_event=abort)
        assert not bench.smu.output_enabled() and not bench.pulser.output_enabled()
        assert bench.switch.closed() == []
    assert result.status == "aborted"
    with RunReader(result.path) as r:
        assert r.status == "aborted" and len(r.stream("retention")) == 7  # none of the measured reads lost
