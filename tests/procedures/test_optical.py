"""optical-pulses on the simulated optomemristor bench: photoconductance rise, build-up and the
shunted photo-response, checked against the chip's optical parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.bench import DEFAULT_BENCH, load_bench
from memlab.instruments.sim.chip.optics import responsivity
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

OpticalPulses = get_procedure("optical-pulses")
READ_GAIN = math.sinh(0.2) / 0.2  # apparent conductance I / V of the sinh read I-V at 0.2 V


@pytest.fixture
def bench():
    with load_bench(None, family="optomemristor") as b:
        yield b


def absorbed_w(bench, power_w):
    return np.asarray(power_w) * bench.config.coupling_efficiency * responsivity(
        bench.laser.wavelength_m, bench.world.chip.params)


def test_pulses_build_photoconductance_at_the_chips_rate(tmp_path):
    # No shunting: the reads right after each pulse would still be divided by its slow release.
    bench_file = tmp_path / "bench.toml"
    bench_file.write_text(DEFAULT_BENCH.read_text() + "\n[chip.overrides]\nk_shunt_per_w = 0.0\n")
    tmp_path = tmp_path / "runs"
    tmp_path.mkdir()
    with load_bench(bench_file, family="optomemristor") as bench:
        check_pulse_train(bench, tmp_path)


def check_pulse_train(bench, tmp_path):
    params = bench.world.chip.params
    result = run_procedure(OpticalPulses(row=2, col=2, power_w=1e-3, width_s=5e-3, count=12, interval_s=0.1,
                                         powers_w=""), bench, tmp_path)
    assert result.status == "completed", result.error
    assert not bench.laser.output_enabled()
    with RunReader(result.path) as r:
        s = r.stream("optical")
        pulse, power, g, t = s["pulse"], s["power"], s["conductance"], s["time"]
        assert np.all(s["wavelength"] == bench.laser.wavelength_m)
    assert list(pulse) == list(range(13)) and power[0] == 0 and np.all(power[1:] == 1e-3)
    assert np.diff(t[1:]) == pytest.approx(np.full(11, 0.1), abs=1e-6)  # pulses on schedule
    g_dark = g[0]
    g_ss = params["g_ph_ref_s"] * (absorbed_w(bench, 1e-3) / params["p_ref_w"]) ** params["gamma_ph"] * READ_GAIN
    # After the first 5 ms pulse (half a rise time, plus the output's ~1 ms switch-off) G_ph is
    # g_ss (1 - exp(-width / tau_on)), barely relaxed by the read that follows within milliseconds.
    first = (g[1] - g_dark) / g_ss
    assert 1 - math.exp(-5e-3 / params["tau_on_s"]) < first < 1 - math.exp(-7e-3 / params["tau_on_s"])
    rise = g[1:] - g_dark
    assert np.all(np.diff(rise[:5]) > 0)  # builds up: 0.1 s gaps are short against tau_ph = 1 s
    # Steady state of the train: x = g_ss (1 - e^-w/tau_on) + x e^-w/tau_on e^-(T - w)/tau_ph.
    on = math.exp(-6e-3 / params["tau_on_s"])
    off = math.exp(-(0.1 - 6e-3) / params["tau_ph_s"])
    steady = (1 - on) / (1 - on * off)
    assert np.mean(rise[-3:]) / g_ss == pytest.approx(steady, rel=0.05)


def test_photo_response_is_the_shunted_photoconductance(bench, tmp_path):
    params = bench.world.chip.params
    powers = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    result = run_procedure(OpticalPulses(row=5, col=1, count=0, powers_w=",".join(map(str, powers)), reads=10),
                           bench, tmp_path)
    assert result.status == "completed", result.error
    state = bench.world.chip.device_state(5, 1)
    with RunReader(result.path) as r:
        s = r.stream("photoresponse")
        assert s.units["photoconductance"] == "S" and len(r.stream("optical")) == 0
        power, rise = s["power"], s["photoconductance"]
    assert list(power) == powers
    # the stored conductance, drifted: undo what is left of the last light's shunting and G_ph
    g = state["G_read"] * state["shunt_divisor"] - state["G_ph"]
    p = absorbed_w(bench, power)
    g_ph = params["g_ph_ref_s"] * (p / params["p_ref_w"]) ** params["gamma_ph"]
    expected = ((g + g_ph) / (1 + params["k_shunt_per_w"] * p) - g) * READ_GAIN
    assert rise == pytest.approx(expected, rel=0.02)
    # Shunting divides, photoconductance grows as sqrt(P): the rise peaks, then falls.
    assert 0 < np.argmax(rise) < len(rise) - 1


def test_wavelength_is_the_lasers_own(bench, tmp_path):
    with pytest.raises(ParameterError, match=r"wavelength_m=8\.5e-07 .*fixed by its diode"):
        run_procedure(OpticalPulses(wavelength_m=850e-9), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"powers_w=.*comma-separated numbers"):
        OpticalPulses(powers_w="1e-4, bright")
    with pytest.raises(ParameterError, match="interval_s"):
        OpticalPulses(width_s=0.2, interval_s=0.1)
    with pytest.raises(ParameterError, match=r"powers_w=0\.03 .*max_laser_power_w"):
        run_procedure(OpticalPulses(powers_w="1e-3, 3e-2"), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
    result = run_procedure(OpticalPulses(wavelength_m=635e-9, count=1, powers_w=""), bench, tmp_path)
    assert result.status == "completed"
    assert not bench.laser.output_enabled() and not bench.smu.output_enabled()
