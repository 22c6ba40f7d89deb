"""iv-sweep and readout on the simulated bench, and what every run promises when it goes wrong."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.instruments.sim.base import Faults
from memlab.procedures import ParameterError, RunListener, get_procedure, run_procedure
from memlab.storage import RunReader


@pytest.fixture
def bench():
    with load_bench(None) as b:
        yield b


def outputs_off(bench) -> bool:
    return not bench.smu.output_enabled() and not bench.pulser.output_enabled() and not bench.laser.output_enabled()


def test_iv_loop_is_pinched_and_hysteretic(bench, tmp_path):
    result = run_procedure(get_procedure("iv-sweep")(row=2, col=5, cycles=2), bench, tmp_path)
    assert result.status == "completed"
    with RunReader(result.path) as r:
        s = r.stream("iv")
        v, i, cycle = s["voltage"], s["current"], s["cycle"]
    assert s.units["current"] == "A" and set(cycle) == {0, 1}
    assert np.all(i[v == 0] == 0)                          # pinched: no current at 0 V
    for c in (0, 1):
        vc, ic = v[cycle == c], i[cycle == c]
        up = ic[np.flatnonzero(np.isclose(vc, 0.5))[0]]     # rising branch, before SET
        down = ic[np.flatnonzero(np.isclose(vc, 0.5))[1]]   # falling branch, after SET
        neg_out = ic[np.flatnonzero(np.isclose(vc, -0.5))[0]]  # going negative: still ON
        neg_back = ic[np.flatnonzero(np.isclose(vc, -0.5))[1]]  # coming back: RESET done
        assert down > 3 * up                                # positive lobe: ON after SET
        assert abs(neg_out) > 3 * abs(neg_back)             # negative lobe turns the other way
    assert outputs_off(bench)


def test_default_iv_sweep_leaves_the_rest_of_a_passive_array_alone(bench, tmp_path):
    """The built-in prGO chip is a passive crossbar read with the other rows at the sense
    potential and the other columns at half the SMU's level: the default I-V sweep (+-1.5 V)
    switches its device and no other, and its currents are the device's own (no sneak current).
    With the other lines grounded the same sweep reprograms the rest of the row."""
    chip = bench.world.chip
    assert bench.chip_info()["array"] == "passive" and chip.read_bias == "v/2-columns"
    before = chip.conductance.copy()
    result = run_procedure(get_procedure("iv-sweep")(row=0, col=0), bench, tmp_path)
    assert result.status == "completed"
    changed = chip.conductance != before
    assert changed[0, 0] and changed.sum() == 1
    with RunReader(result.path) as r:
        s = r.stream("iv")
        v, i = s["voltage"], s["current"]
    last = np.flatnonzero(np.isclose(v, -0.1))[-1]  # the last point: the device as it ends
    v0 = chip.params["v0_read_v"]
    alone = chip.effective_conductance()[0, 0] * v0 * np.sinh(-0.1 / v0)
    assert i[last] == pytest.approx(alone, rel=0.2)  # read noise only, no sneak current

    chip.read_bias = "grounded"
    before = chip.conductance.copy()
    run_procedure(get_procedure("iv-sweep")(row=0, col=0), bench, tmp_path)
    changed = chip.conductance != before
    assert changed[0].sum() > 1 and not changed[1:].any()  # the driven row's devices saw it all


def test_readout_map_matches_chip_within_read_noise(bench, tmp_path):
    chip = bench.world.chip
    result = run_procedure(get_procedure("readout")(devices="all", reads=4), bench, tmp_path)
    with RunReader(result.path) as r:
        cmap = r.stream("map")["conductance"][0]
        assert len(r.stream("reads")) == 16 * 16 * 4
    assert cmap.shape == (16, 16) and not np.isnan(cmap).any()
    rel = cmap / chip.conductance - 1
    sigma = chip.params["sigma_read"] / 2  # four readings averaged
    assert np.std(rel) < 2 * sigma + 0.005  # + the sinh read nonlinearity at 0.2 V


def test_single_device_read_noise_estimate(bench, tmp_path):
    result = run_procedure(get_procedure("readout")(devices="1,1", reads=400), bench, tmp_path)
    with RunReader(result.path) as r:
        g = r.stream("reads")["conductance"]
        cmap = r.stream("map")["conductance"][0]
    assert np.isnan(cmap).sum() == 255
    assert np.std(g) / np.mean(g) == pytest.approx(bench.world.chip.params["sigma_read"], rel=0.2)


def test_out_of_limit_parameters_refused_before_any_output(bench, tmp_path):
    iv = get_procedure("iv-sweep")
    with pytest.raises(ParameterError, match=r"v_max=12\.0 .*max_voltage_v"):
        run_procedure(iv(v_max=12.0), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"row=16 .*0 <= row < 16"):
        run_procedure(iv(row=16), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"compliance_a=0\.05 .*max_current_a"):
        run_procedure(iv(compliance_a=0.05), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert outputs_off(bench)


class AbortAfter(RunListener):
    def __init__(self, event, batches):
        self.event, self.batches, self.seen = event, batches, 0

    def on_batch(self, stream, batch):
        self.seen += 1
        if self.seen >= self.batches:
            self.event.set()


def test_abort_mid_run_leaves_outputs_off_and_rows(bench, tmp_path):
    import threading
    abort = threading.Event()
    result = run_procedure(get_procedure("iv-sweep")(cycles=50), bench, tmp_path,
                           listeners=[AbortAfter(abort, 3)], abort_event=abort)
    assert result.status == "aborted"
    with RunReader(result.path) as r:
        assert r.status == "aborted"
        assert set(r.stream("iv")["cycle"]) == {0, 1, 2}
    assert outputs_off(bench)


def test_instrument_fault_mid_run_fails_with_rows_and_outputs_off(bench, tmp_path):
    class Garble(RunListener):
        def on_batch(self, stream, batch):  # from the second loop on, every reply is garbled
            bench.twins["smu"].faults = Faults(garble_every=1)

    result = run_procedure(get_procedure("iv-sweep")(cycles=5), bench, tmp_path, listeners=[Garble()])
    bench.twins["smu"].faults = Faults()
    assert result.status == "failed" and result.error
    with RunReader(result.path) as r:
        assert r.status == "failed" and r.error == result.error
        assert set(r.stream("iv")["cycle"]) == {0}
    assert outputs_off(bench)
