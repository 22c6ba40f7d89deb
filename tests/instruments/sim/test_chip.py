"""The simulated chip: acceptance tests of issue 3, each effect checked against the parameters
that produced it (within statistical tolerance), plus argument errors and array physics."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from memlab.instruments.sim.chip import PARAMETERS, PRESETS, Chip
from memlab.instruments.sim.clock import VirtualClock

WRITE_V, WRITE_W = 2.0, 80e-9  # the presets' reference pulse
CLEAN = {"stuck_fraction": 0.0}  # no manufacturing faults where a test needs every device
QUIET = {**CLEAN, "sigma_c2c": 0.0, "sigma_read": 0.0}
STILL = {**QUIET, "drift_nu": 0.0, "sigma_drift_nu": 0.0}  # and no drift


def iv(chip: Chip, v: float) -> float:
    """f(V) = V0 sinh(V / V0), the read I-V per siemens."""
    v0 = chip.params["v0_read_v"]
    return v0 * math.sinh(v / v0)


def g_of(chip: Chip, row: int = 0, col: int = 0) -> float:
    return chip.device_state(row, col)["G"]


# ---------------------------------------------------------------------------------------------
# pinched hysteresis
# ---------------------------------------------------------------------------------------------


def loop_area(v: np.ndarray, i: np.ndarray) -> float:
    """Signed area of a closed path in the I-V plane (shoelace): > 0 counter-clockwise."""
    return 0.5 * float(np.sum(v[:-1] * i[1:] - v[1:] * i[:-1]))


@pytest.mark.parametrize("family", ["prgo", "optomemristor"])
def test_bipolar_sweep_gives_a_pinched_hysteresis_loop(family: str) -> None:
    chip = Chip(1, 1, family=family, seed=3, overrides=CLEAN)
    if family == "optomemristor":
        chip.set_light(2e-4, 635e-9)  # without light its weight would not move
    up = np.linspace(0.0, 2.5, 251)
    v = np.concatenate([up, up[::-1][1:], -up[1:], -up[::-1][1:]])
    i = chip.sweep(0, 0, v, 1e-3)
    assert np.all(i[v == 0.0] == 0.0)  # pinched: no current at zero volts
    assert np.all(np.sign(i[v != 0.0]) == np.sign(v[v != 0.0]))
    half = 2 * (up.size - 1)
    positive = loop_area(v[: half + 1], i[: half + 1])
    negative = loop_area(v[half:], i[half:])
    # Each lobe encloses real area and they turn in opposite directions.
    scale = float(np.max(np.abs(i))) * 2.5
    assert abs(positive) > 0.02 * scale and abs(negative) > 0.02 * scale
    assert positive * negative < 0


# ---------------------------------------------------------------------------------------------
# pulse trains, nonlinearity, write-verify
# ---------------------------------------------------------------------------------------------


def test_prgo_pulse_trains_are_monotone_saturating_with_the_preset_nonlinearity() -> None:
    chip = Chip(1, 8, seed=11, overrides=CLEAN)
    curves = np.empty((8, 400))
    for n in range(200):
        chip.pulse_row(0, WRITE_V, WRITE_W)
        curves[:, n] = chip.conductance[0]
    for n in range(200):
        chip.pulse_row(0, -WRITE_V, WRITE_W)
        curves[:, 200 + n] = chip.conductance[0]
    params = chip.device_parameters()
    for d in range(8):
        up, down = curves[d, :200], curves[d, 200:]
        gmin, gmax = params["g_min_s"][0, d], params["g_max_s"][0, d]
        assert np.all(np.diff(up) >= 0) and np.all(np.diff(down) <= 0)
        # Saturating: the first steps are much larger than the last ones.
        assert up[10] - up[0] > 5 * (up[-1] - up[-11])
        assert down[0] - down[10] > 5 * (down[-11] - down[-1])
        assert up[-1] > gmin + 0.9 * (gmax - gmin) and down[-1] < gmin + 0.1 * (gmax - gmin)
        # Nonlinearity: the distance to the bound shrinks by (1 - a) per reference pulse.
        n = np.arange(1, 121)
        slope_up = np.polyfit(n, np.log((gmax - up[:120]) / (gmax - gmin)), 1)[0]
        slope_down = np.polyfit(n, np.log((down[:120] - gmin) / (up[-1] - gmin)), 1)[0]
        a_up, a_down = -math.expm1(slope_up), -math.expm1(slope_down)
        assert a_up == pytest.approx(params["a_plus"][0, d], rel=0.08)
        assert a_down == pytest.approx(params["a_minus"][0, d], rel=0.08)


def test_prgo_write_verify_reaches_32_distinguishable_levels() -> None:
    chip = Chip(1, 32, seed=7, overrides=CLEAN)
    targets = np.geomspace(0.7e-6, 9e-6, 32)  # 8.6 % apart: +-1 % bands cannot overlap
    v_read = 0.2
    per_siemens = iv(chip, v_read)

    def measured(col: int) -> float:
        return float(np.mean([chip.read(0, col, v_read) for _ in range(32)])) / per_siemens

    for col, target in enumerate(targets):
        # Incremental-step programming: start below threshold, raise 10 mV per pulse, restart
        # from the bottom at every change of direction.
        amplitude, direction = 0.9, 0
        for _ in range(3000):
            error = measured(col) / target - 1.0
            if abs(error) < 0.003:
                break
            step = -1 if error > 0 else 1
            amplitude = 0.9 if step != direction else amplitude + 0.01
            direction = step
            chip.pulse(0, col, step * amplitude, WRITE_W)
    g = chip.conductance[0].astype(np.float64)
    assert np.all(np.abs(g / targets - 1.0) < 0.01)
    bands = np.stack([targets * 0.99, targets * 1.01], axis=1)
    assert np.all(bands[1:, 0] > bands[:-1, 1])  # 32 disjoint levels


# ---------------------------------------------------------------------------------------------
# retention drift
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("law", ["power", "log"])
def test_retention_drift_follows_the_configured_law(law: str) -> None:
    wall = time.perf_counter()
    chip = Chip(4, 4, seed=5, overrides={**QUIET, "drift_law": law})
    chip.pulse_all(WRITE_V, 10e-6)  # programmed at t = 0
    g0 = chip.conductance.astype(np.float64)
    coef = chip.device_parameters()["drift"].astype(np.float64)
    t0 = chip.params["drift_t0_s"]
    for t in (0.5, 1.0, 10.0, 1e3, 1e5):
        chip.clock.advance(t - chip.clock.now())
        ln = math.log(max(t, t0) / t0)
        expected = g0 * np.exp(-coef * ln) if law == "power" else np.maximum(g0 + coef * ln, 0)
        np.testing.assert_allclose(chip.effective_conductance(), expected, rtol=1e-4)
        # A read sees the same drifted conductance (read noise is off here).
        assert chip.read(1, 2, 0.5) == pytest.approx(expected[1, 2] * iv(chip, 0.5), rel=1e-4)
    if law == "power":
        assert np.all(chip.effective_conductance() < g0)  # conductance relaxes downwards
    assert time.perf_counter() - wall < 1.0


def test_drift_is_kept_when_the_device_is_programmed_again() -> None:
    chip = Chip(1, 1, seed=2, overrides=QUIET)
    chip.pulse(0, 0, WRITE_V, WRITE_W, count=50)
    chip.clock.advance(1e4)
    drifted = chip.device_state(0, 0)["G_read"]
    assert drifted < g_of(chip)
    t_prog, wear = chip.device_state(0, 0)["t_prog_s"], chip.device_state(0, 0)["pulses"]
    chip.pulse(0, 0, 1.05, 1e-12)  # a negligible SET: starts from the drifted value...
    assert chip.device_state(0, 0)["G_read"] == pytest.approx(drifted, rel=1e-3)
    # ... and, changing almost nothing, neither restarts the drift clock nor wears the device.
    assert chip.device_state(0, 0)["t_prog_s"] == pytest.approx(t_prog, abs=1.0)
    assert chip.device_state(0, 0)["pulses"] - wear < 1e-3
    chip.pulse(0, 0, -WRITE_V, WRITE_W)  # a full RESET restarts it
    assert chip.device_state(0, 0)["t_prog_s"] == chip.clock.now()
    assert g_of(chip) == chip.device_state(0, 0)["G_read"]


# ---------------------------------------------------------------------------------------------
# optomemristor
# ---------------------------------------------------------------------------------------------


def test_opto_electrical_pulse_needs_light() -> None:
    dark = Chip(1, 4, family="optomemristor", seed=9, overrides={**CLEAN, "sigma_c2c": 0.0})
    lit = Chip(1, 4, family="optomemristor", seed=9, overrides={**CLEAN, "sigma_c2c": 0.0})
    lit.set_light(1e-3, 635e-9)
    g_start = dark.conductance.copy()
    for chip in (dark, lit):
        chip.pulse_row(0, WRITE_V, WRITE_W)
    d_dark = dark.conductance - g_start
    d_lit = lit.conductance - g_start
    assert np.all(d_lit > 0)
    assert np.all(d_dark < 0.05 * d_lit)


def test_opto_eligibility_window_after_light() -> None:
    params = PRESETS["optomemristor"]
    chip = Chip(1, 3, family="optomemristor", seed=4,
                overrides={**CLEAN, "sigma_c2c": 0.0, "drift_nu": 0.0, "sigma_drift_nu": 0.0})
    tau_e = params["tau_e_s"]
    g_start = chip.conductance.astype(np.float64)
    chip.illuminate(1e-3, 635e-9, 0.1, cols=slice(0, 2))  # light on devices 0 and 1 only
    chip.pulse(0, 0, WRITE_V, WRITE_W)  # right after the light: eligible
    chip.pulse(0, 2, WRITE_V, WRITE_W)  # never lit: not eligible
    chip.clock.advance(2 * tau_e)
    chip.pulse(0, 1, WRITE_V, WRITE_W)  # two time constants later: much less
    d = chip.conductance.astype(np.float64) - g_start
    trace = 1e-3 / (1e-3 + params["p_half_w"])
    h_late = params["h_dark"] + (1 - params["h_dark"]) * trace * math.exp(-2.0)
    h_now = params["h_dark"] + (1 - params["h_dark"]) * trace
    a = chip.device_parameters()["a_plus"][0].astype(np.float64)
    gmax = chip.device_parameters()["g_max_s"][0].astype(np.float64)
    expected = a * (gmax - g_start[0]) * np.array([h_now, h_late, params["h_dark"]])
    np.testing.assert_allclose(d[0], expected, rtol=2e-3)


def test_photoconductance_rises_and_decays_with_its_time_constants() -> None:
    p = PRESETS["optomemristor"]
    chip = Chip(1, 1, family="optomemristor", seed=1, overrides=STILL)
    g_dark = chip.device_state(0, 0)["G_read"]
    power = 2e-3
    g_ss = p["g_ph_ref_s"] * (power / p["p_ref_w"]) ** p["gamma_ph"]
    chip.set_light(power, 635e-9)
    chip.clock.advance(p["tau_on_s"])
    assert chip.device_state(0, 0)["G_ph"] == pytest.approx(g_ss * (1 - math.exp(-1)), rel=1e-6)
    chip.clock.advance(40 * p["tau_on_s"])
    assert chip.device_state(0, 0)["G_ph"] == pytest.approx(g_ss, rel=1e-6)
    chip.set_light(0.0, 635e-9)
    for t in (0.5, 1.0, 3.0):  # multiples of tau_ph
        chip.clock.advance(t * p["tau_ph_s"] - (chip.clock.now() - 41 * p["tau_on_s"]))
        expected = g_ss * math.exp(-t)
        assert chip.device_state(0, 0)["G_ph"] == pytest.approx(expected, rel=1e-6)
        # The read current carries it: (G + G_ph) f(V), no light left to shunt.
        assert chip.read(0, 0, 0.2) == pytest.approx((g_dark + expected) * iv(chip, 0.2), rel=1e-4)


def test_light_reduces_the_output_current_divisively() -> None:
    chip = Chip(2, 3, family="optomemristor", seed=6,
                # isolate shunting from photoconduction and from converting the dark pulses' trace
                overrides={**QUIET, "g_ph_ref_s": 0.0, "gain_pl": 0.0})
    chip.pulse_devices([0, 1, 1], [0, 1, 2], [0.0, 1.6, 2.0], 1e-6)  # different conductances
    k = chip.params["k_shunt_per_w"]

    def currents() -> np.ndarray:
        return np.array([[chip.read(r, c, v) for c in range(3)] for r in range(2)
                         for v in (0.1, 0.4)])

    dark = currents()
    for power in (0.5e-3, 2e-3):
        chip.set_light(power, 635e-9)
        chip.clock.advance(40 * chip.params["tau_shunt_on_s"])  # shunting has its rise time
        lit = currents()
        ratio = lit / dark
        # One factor for every conductance and voltage: division, not subtraction.
        np.testing.assert_allclose(ratio, 1.0 / (1.0 + k * power), rtol=1e-6)


def test_single_device_xor_from_light_as_a_shunting_input() -> None:
    """The design of docs/chip-model.md: two optical inputs of P1 each add on one device;
    photoconductance (~sqrt P) wins for one input, shunting (1 + k P) wins for two."""
    chip = Chip(1, 1, family="optomemristor", seed=2, overrides=CLEAN)
    chip.pulse(0, 0, -WRITE_V, 1e-6, count=20)  # the weight near Gmin
    p1, v_read, threshold = 3e-3, 0.2, 0.41e-6
    out = {}
    for a in (0, 1):
        for b in (0, 1):
            chip.set_light(p1 * (a + b), 635e-9)
            chip.clock.advance(0.1)  # 10 tau_on: settled
            out[a, b] = float(np.mean([chip.read(0, 0, v_read) for _ in range(8)]))
            chip.set_light(0.0, 635e-9)
            chip.clock.advance(20.0)  # photoconductance gone before the next input
    assert {key: value > threshold for key, value in out.items()} == {
        (0, 0): False, (0, 1): True, (1, 0): True, (1, 1): False}


# ---------------------------------------------------------------------------------------------
# faults, variability, endurance
# ---------------------------------------------------------------------------------------------


def test_stuck_devices_do_not_move() -> None:
    chip = Chip(32, 32, seed=8, overrides={"stuck_fraction": 0.05})
    stuck = chip.fault_map()["stuck"]
    assert 0.02 < stuck.mean() < 0.08
    chip.set_fault(0, 0, "stuck", 3e-6)
    stuck[0, 0] = True
    before = chip.conductance
    assert before[0, 0] == np.float32(3e-6)
    for sign in (1, -1, 1):
        chip.pulse_all(sign * WRITE_V, 1e-6)
    chip.pulse(0, 0, WRITE_V, 1e-6, count=100)
    chip.clock.advance(1e5)
    after = chip.effective_conductance()
    assert np.array_equal(after[stuck], before[stuck])  # no programming and no drift
    assert not np.array_equal(after[~stuck], before[~stuck])


def test_breakdown_is_permanent() -> None:
    chip = Chip(1, 2, seed=3, overrides=QUIET)
    v_bd = chip.device_state(0, 0)["v_breakdown_v"]
    chip.pulse(0, 0, v_bd * 0.98, 1e-6)
    assert not chip.device_state(0, 0)["shorted"]
    chip.pulse(0, 0, v_bd * 1.02, 1e-6)
    state = chip.device_state(0, 0)
    assert state["shorted"] and state["broken_down"]
    g_short = chip.params["g_short_s"]
    for v in (-WRITE_V, -4.0, WRITE_V):
        chip.pulse(0, 0, v, 1e-3, count=3)
    chip.set_fault(0, 0, "none")  # clears injected faults only
    chip.clock.advance(1e6)
    assert g_of(chip) == np.float32(g_short) and chip.device_state(0, 0)["shorted"]
    # 1T1R: the cell transistor limits the short's current.
    assert chip.read(0, 0, 0.5) == pytest.approx(chip.params["transistor_i_max_a"])
    assert g_of(chip, 0, 1) < 1e-4  # its neighbour is untouched


def test_injected_faults() -> None:
    chip = Chip(2, 2, seed=1, overrides=CLEAN)
    chip.pulse_all(WRITE_V, 1e-6)
    g = chip.conductance
    chip.set_fault(0, 0, "open")
    chip.set_fault(0, 1, "short")
    chip.set_fault(1, 0, "noisy", 0.2)
    assert chip.read(0, 0, 0.5) == 0.0
    chip.pulse(0, 0, WRITE_V, 1e-6)
    assert chip.read(0, 0, 0.5) == 0.0  # an open device is not programmed either
    short_current = chip.params["g_short_s"] * iv(chip, 0.05)
    assert chip.probe_current(0, 1, 0.05) == pytest.approx(short_current)
    reads = np.array([chip.read(1, 0, 0.3) for _ in range(2000)])
    assert np.std(reads) / np.mean(reads) == pytest.approx(0.2, rel=0.1)
    for row, col in ((0, 0), (0, 1), (1, 0)):
        chip.set_fault(row, col, "none")
    np.testing.assert_array_equal(chip.conductance, g)  # back as it was
    reads = np.array([chip.read(1, 0, 0.3) for _ in range(2000)])
    assert np.std(reads) / np.mean(reads) == pytest.approx(chip.params["sigma_read"], rel=0.1)


def test_wear_out_closes_the_window_at_the_drawn_cycle_count() -> None:
    chip = Chip(1, 3, seed=12, overrides={**QUIET, "endurance_cycles": 2e4,
                                          "sigma_endurance": 0.3})
    p = chip.params
    for col in range(3):
        state = chip.device_state(0, col)
        n_end, gmin, gmax = state["endurance_cycles"], state["g_min_s"], state["g_max_s"]
        total = int(n_end * 1.3)
        # Pulses that switch fully (c = 1) to the window's edges, below the transistor limit.
        run = chip.cycle(0, col, 2.2, 1e-3, -2.2, 1e-3, total,
                         sample_cycles=np.arange(1, total + 1))
        window = run["g_set_s"] - run["g_reset_s"]
        cycles = run["cycle"]
        center = gmin + p["wear_center"] * (gmax - gmin)

        def w(n: float) -> float:  # the narrowing law, n cycles done
            return 1 - min(n / n_end, 1.0) ** p["wear_exponent"]

        for frac in (0.25, 0.5, 0.8, 0.97):
            k = int(frac * n_end)
            # Cycle k's SET sees k - 1 cycles done, its RESET k - 1/2.
            expected = (gmax - center) * w(k - 1) + (center - gmin) * w(k - 0.5)
            assert window[k - 1] == pytest.approx(expected, rel=1e-3)
        closed = cycles >= math.ceil(n_end) + 1
        assert np.all(np.abs(window[closed]) < 1e-3 * (gmax - gmin))
        state = chip.device_state(0, col)
        assert state["worn_out"] and state["stuck"]
        assert state["cycles"] == pytest.approx(math.ceil(2 * n_end) / 2)
        g = state["G"]
        chip.pulse(0, col, 2.2, 1e-3)
        assert g_of(chip, 0, col) == g


def test_a_million_cycles_are_affordable() -> None:
    chip = Chip(1, 1, seed=1, overrides={**CLEAN, "endurance_cycles": 1e9})
    run = chip.cycle(0, 0, 2.0, 1e-6, -2.0, 1e-6, 1_000_000, sample_cycles=np.array([1, 10**6]))
    assert run["cycle"].tolist() == [1, 10**6]
    # Wear counts the changes made: pulses that c2c noise makes small count in proportion.
    assert 0.99e6 < chip.device_state(0, 0)["cycles"] <= 1e6
    assert np.all(run["g_set_s"] > run["g_reset_s"])


def test_device_to_device_spread_matches_the_preset_sigma() -> None:
    overrides = {**QUIET, "sigma_g_d2d": 0.2, "sigma_step_d2d": 0.3}
    # Passive, so that no cell transistor limits the saturating SET below.
    chip = Chip(64, 64, seed=21, array="passive", overrides=overrides)
    g_before = chip.conductance.astype(np.float64)  # each device's Gmin
    chip.pulse_all(1.2, WRITE_W)  # one small step: a+ phi (Gmax - Gmin)
    step = chip.conductance.astype(np.float64) - g_before
    chip.pulse_all(3.0, 1e-3)  # saturate: every device at its Gmax
    g_max = chip.conductance.astype(np.float64)
    # Measured behaviour, not the drawn arrays: log-normal spreads with the preset sigmas.
    assert np.std(np.log(g_before)) == pytest.approx(0.2, rel=0.05)
    assert np.std(np.log(g_max)) == pytest.approx(0.2, rel=0.05)
    assert np.median(g_max) == pytest.approx(chip.params["g_max_s"], rel=0.02)
    a_plus = step / (g_max - g_before)
    above = chip.device_parameters()["v_th_v"] <= 1.2
    assert above.mean() > 0.99
    assert np.std(np.log(a_plus[above])) == pytest.approx(0.3, rel=0.05)
    v_th = chip.device_parameters()["v_th_v"]
    assert np.std(v_th) == pytest.approx(chip.params["sigma_v_th_v"], rel=0.05)


def test_forming_and_compliance() -> None:
    chip = Chip(1, 3, seed=4, array="1t1r", formed=False, overrides=QUIET)
    v_form = chip.device_state(0, 0)["v_form_v"]
    assert g_of(chip) == pytest.approx(chip.params["g_unformed_s"])
    chip.pulse(0, 0, WRITE_V, 1e-6, count=10)  # switching pulses do nothing before forming
    assert g_of(chip) == pytest.approx(chip.params["g_unformed_s"])
    formed, ramp = False, 2.0
    while not formed:  # a forming ramp, 50 mV steps
        formed = chip.form(0, 0, ramp, 1e-3, compliance_a=20e-6)
        ramp += 0.05
    assert v_form <= ramp - 0.05 < v_form + 0.05
    assert g_of(chip) == pytest.approx(20e-6 / iv(chip, ramp - 0.05), rel=1e-5)
    # Compliance caps a SET at I_cc / f(V) and never lowers a device already above it.
    chip.pulse(0, 0, -WRITE_V, 1e-3)
    chip.pulse(0, 0, 2.0, 1e-3, compliance_a=4e-6)
    assert g_of(chip) == pytest.approx(4e-6 / iv(chip, 2.0), rel=1e-5)
    chip.pulse(0, 0, 2.0, 1e-3, compliance_a=2e-6)
    assert g_of(chip) == pytest.approx(4e-6 / iv(chip, 2.0), rel=1e-5)
    # A compliance-limited burst (scan path) stops at the same place.
    chip.pulse(0, 1, 3.5, 1e-3, compliance_a=50e-6)
    chip.pulse(0, 1, -WRITE_V, 1e-3)
    chip.pulse(0, 1, 2.0, 1e-5, compliance_a=4e-6, count=300)
    assert g_of(chip, 0, 1) == pytest.approx(4e-6 / iv(chip, 2.0), rel=1e-5)
    # A passive array has no transistor: forming without a limit runs into breakdown.
    passive = Chip(1, 1, seed=4, array="passive", formed=False, overrides=QUIET)
    passive.pulse(0, 0, 4.0, 1e-3)
    assert passive.device_state(0, 0)["shorted"]


def test_sweep_compliance_limits_the_measured_current() -> None:
    chip = Chip(1, 1, seed=1, overrides=CLEAN)
    v = np.linspace(0, 2.5, 200)
    i = chip.sweep(0, 0, v, 1e-3, compliance_a=5e-6)
    assert np.max(i) <= 5e-6
    assert g_of(chip) <= 5e-6 / iv(chip, 1.0)  # SET stopped where the limit was reached


# ---------------------------------------------------------------------------------------------
# seeds, trains, reads
# ---------------------------------------------------------------------------------------------


def run_script(seed: int) -> np.ndarray:
    chip = Chip(8, 8, family="optomemristor", seed=seed)
    chip.set_light(1e-3, 635e-9, rows=slice(0, 4))
    chip.pulse_all(WRITE_V, 1e-6)
    chip.pulse(2, 3, -WRITE_V, WRITE_W, count=500)
    chip.clock.advance(3.0)
    out = [chip.read_rows(np.full(8, 0.3)), chip.read_row(1, 0.2), [chip.read(5, 5, 0.4)],
           chip.sweep(4, 4, np.linspace(-2, 2, 50), 1e-3),
           chip.cycle(6, 6, 2.0, 1e-6, -2.0, 1e-6, 100)["g_set_s"], chip.conductance.ravel()]
    return np.concatenate([np.ravel(x) for x in out])


def test_same_seed_same_results_bit_for_bit_and_different_seed_differs() -> None:
    a, b, c = run_script(42), run_script(42), run_script(43)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    assert not np.array_equal(Chip(4, 4, seed=1).device_parameters()["a_plus"],
                              Chip(4, 4, seed=2).device_parameters()["a_plus"])


def test_a_burst_equals_its_pulses_one_by_one() -> None:
    one, burst = (Chip(1, 1, seed=3, overrides=QUIET) for _ in range(2))
    for _ in range(150):
        one.pulse(0, 0, 1.6, WRITE_W)
    burst.pulse(0, 0, 1.6, WRITE_W, count=150)
    assert g_of(burst) == pytest.approx(g_of(one), rel=1e-5)
    assert burst.device_state(0, 0)["pulses"] == pytest.approx(one.device_state(0, 0)["pulses"],
                                                               rel=1e-5)


def test_one_device_array_and_scan_paths_agree_through_wear_out() -> None:
    """The three implementations of a pulse (scalar, vectorised, scan) are one model."""
    overrides = {**QUIET, "endurance_cycles": 150.0, "sigma_endurance": 0.0}
    scalar, array, scan = (Chip(1, 1, seed=5, overrides=overrides) for _ in range(3))
    set_v, reset_v, width = 1.8, -1.7, 1e-6
    trace_scalar, trace_array = [], []
    for _ in range(200):
        for v in (set_v, reset_v):
            scalar.pulse(0, 0, v, width)
            array.pulse_all(v, width)
        trace_scalar.append(g_of(scalar))
        trace_array.append(g_of(array))
    run = scan.cycle(0, 0, set_v, width, reset_v, width, 200)
    np.testing.assert_allclose(trace_scalar, run["g_reset_s"], rtol=2e-5)
    np.testing.assert_allclose(trace_array, run["g_reset_s"], rtol=2e-5)
    state = scan.device_state(0, 0)
    assert state["worn_out"] and scalar.device_state(0, 0)["worn_out"]
    assert array.device_state(0, 0)["worn_out"]


def test_many_device_bursts_have_the_exact_mean_and_spread() -> None:
    overrides = {**CLEAN, "sigma_g_d2d": 0.0, "sigma_step_d2d": 0.0, "sigma_v_th_v": 0.0}
    row = Chip(1, 1024, seed=5, overrides=overrides)
    row.pulse_row(0, 1.7, WRITE_W, count=60)  # 60 > 16: the moment method
    singles = Chip(1, 200, seed=6, overrides=overrides)
    for col in range(200):
        singles.pulse(0, col, 1.7, WRITE_W, count=60)  # exact per-pulse scans
    g_row, g_one = row.conductance[0], singles.conductance[0]
    assert np.mean(g_row) == pytest.approx(np.mean(g_one), rel=0.01)
    assert np.std(g_row) == pytest.approx(np.std(g_one), rel=0.25)


def test_reads_are_non_destructive_below_threshold() -> None:
    chip = Chip(4, 4, seed=2, overrides=CLEAN)
    chip.pulse_all(WRITE_V, 1e-6)
    g = chip.conductance
    for _ in range(100):
        chip.read(1, 1, 0.5)
        chip.read_rows(np.full(4, 0.5))
        chip.read_col(2, -0.5)
    np.testing.assert_array_equal(chip.conductance, g)


def test_vector_matrix_read_is_g_transpose_v_with_the_nonlinearity_and_noise() -> None:
    chip = Chip(16, 8, seed=3, overrides=CLEAN)
    chip.pulse_devices(np.repeat(np.arange(16), 8), np.tile(np.arange(8), 16),
                       np.linspace(-2.2, 2.2, 128), 1e-6)
    v = np.linspace(-0.5, 0.5, 16)
    g = chip.effective_conductance().astype(np.float64)
    f = chip.params["v0_read_v"] * np.sinh(v / chip.params["v0_read_v"])
    expected = g.T @ f
    reads = np.array([chip.read_rows(v) for _ in range(2000)])
    assert np.allclose(reads.mean(axis=0), expected, rtol=0, atol=3e-3 * np.abs(expected).max())
    sigma = chip.params["sigma_read"] * np.sqrt((g**2).T @ f**2)
    np.testing.assert_allclose(reads.std(axis=0), sigma, rtol=0.1)
    batch = chip.read_rows(np.stack([v, -v]))
    assert batch.shape == (2, 8)
    assert np.allclose(chip.read_row(3, 0.3), g[3] * iv(chip, 0.3), rtol=0.06)
    assert np.allclose(chip.read_col(5, 0.3), g[:, 5] * iv(chip, 0.3), rtol=0.06)


# ---------------------------------------------------------------------------------------------
# array physics: 1T1R vs passive half-select
# ---------------------------------------------------------------------------------------------


def half_select_setup(array: str, scheme: str = "v/2",
                      read_bias: str = "grounded") -> tuple[Chip, np.ndarray]:
    chip = Chip(6, 6, seed=13, array=array, bias_scheme=scheme, read_bias=read_bias,
                overrides={**QUIET, "v_th_v": 1.0, "sigma_v_th_v": 0.0})
    return chip, chip.conductance.copy()


def test_1t1r_pulse_touches_only_the_selected_device() -> None:
    chip, g = half_select_setup("1t1r")
    chip.pulse(2, 3, 2.4, 1e-6)
    changed = chip.conductance != g
    assert changed[2, 3] and changed.sum() == 1


@pytest.mark.parametrize("scheme, v, disturbed", [
    ("v/2", 2.4, "line"),  # 1.2 V on half-selected > 1.0 V threshold
    ("v/2", 1.8, "none"),  # 0.9 V < threshold
    ("v/3", 2.4, "none"),  # 0.8 V everywhere else < threshold
    ("v/3", 3.3, "all"),  # 1.1 V half-selected, -1.1 V unselected
    ("grounded", 2.4, "row"),  # the whole selected row sees the full pulse
])
def test_passive_half_select_disturb_follows_the_bias_scheme(scheme: str, v: float,
                                                             disturbed: str) -> None:
    chip, _ = half_select_setup("passive", scheme)
    chip.pulse_all(WRITE_V, WRITE_W, count=30)  # mid-window: disturbs can go either way
    before = chip.conductance.copy()
    chip.pulse(2, 3, v, 1e-6)
    changed = chip.conductance != before
    expected = np.zeros_like(changed)
    expected[2, 3] = True
    if disturbed == "line":
        expected[2, :] = expected[:, 3] = True
    elif disturbed == "all":
        expected[:] = True
    elif disturbed == "row":
        expected[2, :] = True
    np.testing.assert_array_equal(changed, expected)
    if disturbed == "all":  # unselected devices saw -V/3: depressed, half-selected potentiated
        assert chip.conductance[0, 0] < before[0, 0] and chip.conductance[2, 0] > before[2, 0]


@pytest.mark.parametrize("read_bias, frac", [("v/2", 0.5), ("v/3", 1 / 3), ("grounded", 0.0),
                                             ("v/2-columns", 0.0)])
def test_passive_read_collects_sneak_current_through_the_read_bias(read_bias: str, frac: float) -> None:
    # The write scheme is V/2 throughout: reads (and every source-measure level) follow read_bias.
    chip, _ = half_select_setup("passive", "v/2", read_bias)
    g = chip.effective_conductance().astype(np.float64)
    v = 0.5
    expected = g[2, 3] * iv(chip, v) + (g[:, 3].sum() - g[2, 3]) * iv(chip, v * frac)
    assert chip.read(2, 3, v) == pytest.approx(expected, rel=1e-6)
    assert chip.source_voltage(2, 3, v, 1e-3) == pytest.approx(expected, rel=1e-6)
    assert chip.sweep(2, 3, np.full(3, v), 1e-3) == pytest.approx(np.full(3, expected), rel=1e-6)
    if frac == 0.0:  # the other rows at the sense potential: it collects the selected device alone
        assert chip.read(2, 3, v) == pytest.approx(g[2, 3] * iv(chip, v), rel=1e-6)
    else:  # 5 half-selected rows of similar devices: the sneak current dominates
        assert chip.read(2, 3, v) > 2.0 * g[2, 3] * iv(chip, v)
    # A level the pulse generator holds is under the write scheme (V/2): its sneak current.
    write = g[2, 3] * iv(chip, v) + (g[:, 3].sum() - g[2, 3]) * iv(chip, v / 2)
    assert chip.source_voltage(2, 3, v, 1e-3, bias="write") == pytest.approx(write, rel=1e-6)


def test_source_measure_levels_follow_the_read_bias_and_pulses_the_write_scheme() -> None:
    # V/3 writes, grounded reads: a 2.4 V pulse leaves the other devices alone (0.8 V at most) ...
    chip, before = half_select_setup("passive", "v/3", "grounded")
    chip.pulse(2, 3, 2.4, 1e-6)
    changed = chip.conductance != before
    assert changed[2, 3] and changed.sum() == 1
    # ... while a source-measure unit's 2.4 V level, with the other lines grounded, puts the full
    # level on the devices of the driven row (and nothing elsewhere)
    chip, before = half_select_setup("passive", "v/3", "grounded")
    chip.source_voltage(2, 3, 2.4, 1e-6, compliance_a=1e-3)
    changed = chip.conductance != before
    expected = np.zeros_like(changed)
    expected[2, :] = True
    np.testing.assert_array_equal(changed, expected)
    # the same level held by the pulse generator follows the write scheme
    chip, before = half_select_setup("passive", "v/3", "grounded")
    chip.source_voltage(2, 3, 2.4, 1e-6, bias="write")
    changed = chip.conductance != before
    assert changed[2, 3] and changed.sum() == 1


@pytest.mark.parametrize("v, disturbed", [(1.8, "none"), (2.4, "all but the column")])
def test_v2_columns_read_bias_keeps_every_other_device_at_half_the_level(v: float, disturbed: str) -> None:
    # The other rows at the sense potential (0 V), the other columns at V/2: the selected row's
    # devices see V/2, the selected column's 0 V, the rest -V/2 (threshold 1.0 V).
    chip, _ = half_select_setup("passive", "v/3", "v/2-columns")
    chip.pulse_all(WRITE_V, WRITE_W, count=30)  # mid-window: disturbs can go either way
    before = chip.conductance.copy()
    chip.source_voltage(2, 3, v, 1e-6, compliance_a=1e-3)
    changed = chip.conductance != before
    expected = np.zeros_like(changed)
    expected[2, 3] = True
    if disturbed != "none":
        expected[:] = True
        expected[:, 3] = False
        expected[2, 3] = True
    np.testing.assert_array_equal(changed, expected)
    if disturbed != "none":  # the row's devices saw +V/2 (SET), the others -V/2 (RESET)
        assert chip.conductance[2, 0] > before[2, 0] and chip.conductance[0, 0] < before[0, 0]


def test_devices_on_the_driven_row_share_the_source_compliance() -> None:
    # A forming level with the other lines grounded forms the whole driven row; its devices draw
    # their current from the source, so its compliance limits them (no runaway into breakdown).
    chip = Chip(3, 3, seed=4, array="passive", read_bias="grounded", formed=False, overrides=QUIET)
    chip.source_voltage(1, 1, 4.0, 1e-3, compliance_a=20e-6)
    for c in range(3):
        state = chip.device_state(1, c)
        assert state["formed"] and not state["shorted"]
        assert state["G"] == pytest.approx(min(max(20e-6 / iv(chip, 4.0), state["g_min_s"]),
                                               state["g_max_s"]), rel=1e-5)
    assert not any(chip.device_state(r, c)["formed"] for r in (0, 2) for c in range(3))


def test_grounded_read_does_not_disturb_and_1t1r_has_no_sneak() -> None:
    # A grounded read puts its level on the selected row's other devices: harmless below threshold.
    chip, before = half_select_setup("passive", "v/3", "grounded")
    for _ in range(100):
        chip.read(2, 3, 0.9)
    np.testing.assert_array_equal(chip.conductance, before)
    chip, _ = half_select_setup("1t1r")
    g = chip.effective_conductance()
    assert chip.read(2, 3, 0.5) == pytest.approx(g[2, 3] * iv(chip, 0.5), rel=1e-6)


def test_v2_write_disturbs_low_threshold_half_selected_devices_and_v3_does_not() -> None:
    # Drawn thresholds (median 1.0 V, sigma 0.05 V): a 2.0 V write puts 1.0 V, the median
    # threshold, on the half-selected devices under V/2, and 0.67 V under V/3.
    changed = {}
    for scheme in ("v/2", "v/3"):
        chip = Chip(32, 32, seed=8, array="passive", bias_scheme=scheme, overrides=QUIET)
        chip.pulse_all(WRITE_V, WRITE_W, count=30)  # mid-window
        before = chip.conductance.copy()
        chip.pulse(5, 7, 2.0, 1e-6, count=10)
        changed[scheme] = chip.conductance != before
        v_th = chip.device_parameters()["v_th_v"]
    half = np.zeros((32, 32), dtype=bool)
    half[5, :] = half[:, 7] = True
    half[5, 7] = False
    low = half & (v_th <= 1.0)
    assert 10 < low.sum() < half.sum() - 10  # some half-selected devices are below 1.0 V, some not
    np.testing.assert_array_equal(changed["v/2"] & half, low)  # exactly the low-threshold ones
    assert not (changed["v/2"] & ~half)[np.arange(32) != 5][:, np.arange(32) != 7].any()
    assert changed["v/3"][5, 7] and changed["v/3"].sum() == 1  # V/3: the selected device alone


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"rows": 0, "cols": 4}, r"rows=0"),
    ({"rows": 4, "cols": 5000}, r"cols=5000"),
    ({"rows": 2.5, "cols": 4}, r"rows=2.5"),
    ({"rows": 2, "cols": 2, "family": "pcm"}, r"family='pcm'.*'prgo'.*'optomemristor'"),
    ({"rows": 2, "cols": 2, "array": "3d"}, r"array='3d'.*'1t1r'.*'passive'"),
    ({"rows": 2, "cols": 2, "bias_scheme": "v/4"}, r"bias_scheme='v/4'.*'v/2'"),
    ({"rows": 2, "cols": 2, "read_bias": "floating"}, r"read_bias='floating'.*'v/2', 'v/3', 'grounded'"),
    ({"rows": 2, "cols": 2, "seed": -1}, r"seed=-1"),
    ({"rows": 2, "cols": 2, "overrides": {"g_maxs": 1.0}}, r"unknown parameter 'g_maxs'.*g_max_s"),
    ({"rows": 2, "cols": 2, "overrides": {"sigma_read": -0.1}}, r"sigma_read=-0.1.*\[0, 1\]"),
    ({"rows": 2, "cols": 2, "overrides": {"g_min_s": 1e-3}}, r"g_min_s.*below g_max_s"),
    ({"rows": 2, "cols": 2, "overrides": {"drift_law": "exp"}}, r"drift_law='exp'.*'power'"),
    ({"rows": 2, "cols": 2, "overrides": {"three_factor": 1}}, r"three_factor=1.*true or false"),
    ({"rows": 2, "cols": 2, "clock": object()}, r"clock=.*now\(\)"),
])
def test_bad_construction_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Chip(**kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda c: c.pulse(5, 0, 1.0, 1e-6), r"row=5.*0\.\.3"),
    (lambda c: c.pulse(0, -1, 1.0, 1e-6), r"col=-1"),
    (lambda c: c.pulse(0, 0, float("nan"), 1e-6), r"amplitude_v=nan"),
    (lambda c: c.pulse(0, 0, 1.0, 0.0), r"width_s=0.0"),
    (lambda c: c.pulse(0, 0, 1.0, 1e-6, count=0), r"count=0"),
    (lambda c: c.pulse(0, 0, 1.0, 1e-6, count=3, period_s=1e-7), r"period_s=1e-07"),
    (lambda c: c.pulse(0, 0, 1.0, 1e-6, compliance_a=-1.0), r"compliance_a=-1.0"),
    (lambda c: c.pulse_lines([0, 9], None, 1.0, 1e-6), r"rows=\[0, 9\]"),
    (lambda c: c.pulse_devices([0, 0], [1, 1], 1.0, 1e-6), r"listed twice"),
    (lambda c: c.pulse_devices([0, 1], [1], 1.0, 1e-6), r"one length"),
    (lambda c: c.cycle(0, 0, -1.0, 1e-6, -1.0, 1e-6, 10), r"set_v=-1.0"),
    (lambda c: c.cycle(0, 0, 1.0, 1e-6, 1.0, 1e-6, 10), r"reset_v=1.0"),
    (lambda c: c.cycle(0, 0, 1.0, 1e-6, -1.0, 1e-6, 10, sample_cycles=np.array([11])),
     r"sample_cycles.*1\.\.10"),
    (lambda c: c.sweep(0, 0, np.array([0.0, np.inf]), 1e-3), r"voltages_v"),
    (lambda c: c.read_rows(np.zeros(3)), r"shape \(3,\).*\(4,\)"),
    (lambda c: c.set_light(-1.0, 635e-9), r"power_w=-1.0"),
    (lambda c: c.set_light(1e-3, 0.0), r"wavelength_m=0.0"),
    (lambda c: c.illuminate(1e-3, 635e-9, -1.0), r"duration_s=-1.0"),
    (lambda c: c.set_fault(0, 0, "melted"), r"kind='melted'.*'open'"),
    (lambda c: c.set_fault(0, 0, "noisy"), r"value=None.*noisy"),
    (lambda c: c.set_fault(0, 0, "open", 1.0), r"value=1.0.*kind='open'"),
    (lambda c: c.form(0, 0, 3.0, 1e-3, None), r"compliance_a=None"),
])
def test_bad_operations_are_refused(call, match: str) -> None:
    chip = Chip(4, 4, seed=0)
    with pytest.raises(ValueError, match=match):
        call(chip)


def test_presets_are_complete_documented_and_overridable() -> None:
    for family, preset in PRESETS.items():
        assert set(preset) == set(PARAMETERS)
        original = preset["g_max_s"]
        chip = Chip(1, 1, family=family, overrides={"g_max_s": 20e-6})
        assert chip.params["g_max_s"] == 20e-6
        assert PRESETS[family]["g_max_s"] == original  # the preset itself is untouched
    for spec in PARAMETERS.values():
        assert spec.help


def test_shared_clock_and_lazy_time() -> None:
    clock = VirtualClock(start_s=1000.0)
    chip = Chip(2, 2, seed=1, clock=clock, overrides=QUIET)
    assert chip.clock is clock
    chip.pulse(0, 0, WRITE_V, WRITE_W, count=1000, period_s=1e-3)
    chip.sweep(0, 1, np.linspace(0, 1, 100), 1e-2)
    assert clock.now() == 1000.0  # the chip charges no time: instruments do
    chip.illuminate(1e-3, 635e-9, 2.5)
    assert clock.now() == 1002.5  # ... except illuminate


# ---------------------------------------------------------------------------------------------
# the scan behind trains
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [7, 500, 20_000])
def test_clamped_affine_scan_equals_the_step_by_step_loop(steps: int) -> None:
    from memlab.instruments.sim.chip.sequences import clamp_affine_scan

    rng = np.random.default_rng(steps)
    c = rng.uniform(0.0, 1.0, steps) * (rng.random(steps) < 0.7)
    target = np.where(rng.random(steps) < 0.5, 10.0, 1.0)
    a, b = 1.0 - c, c * target
    lo = np.full(steps, -1e300)
    hi = np.where(target > 5, rng.uniform(4.0, 12.0, steps), 1e300)  # compliance-like caps
    cap = np.where(target > 5, hi, np.inf)
    expected = np.empty(steps)
    x = 2.0
    for k in range(steps):  # the rule, spelled out
        if x <= cap[k]:
            x = min(max(a[k] * x + b[k], lo[k]), hi[k])
        expected[k] = x
    np.testing.assert_allclose(clamp_affine_scan(2.0, a, b, lo, hi, cap), expected, rtol=1e-9)
    # Without the compliance rule: plain clamped affine steps.
    x, plain = 2.0, np.empty(steps)
    for k in range(steps):
        x = min(max(a[k] * x + b[k], lo[k]), hi[k])
        plain[k] = x
    np.testing.assert_allclose(clamp_affine_scan(2.0, a, b, lo, hi), plain, rtol=1e-9)


def test_devices_below_threshold_in_a_programmed_region_keep_their_conductance() -> None:
    # A region pulse after drift has set in, at an amplitude between the devices' thresholds:
    # the devices below threshold must read what they read before (the stored value of a device
    # that did not switch used to be re-referenced from its undrifted value, so it grew by
    # (age / t0)^nu at every such pulse; half-select disturbs of a passive array do this all
    # the time).
    for array in ("1t1r", "passive"):
        chip = Chip(16, 16, seed=3, array=array, overrides={**QUIET, "drift_nu": 0.05})
        chip.clock.advance(1e4)
        v_th = chip.device_parameters()["v_th_v"]
        below = v_th > 1.0
        assert 0 < below.sum() < below.size
        before = chip.effective_conductance()
        for _ in range(20):
            chip.pulse_all(1.0, 1e-6)
            chip.clock.advance(10.0)
        after = chip.effective_conductance()
        drift = (1e4 / (1e4 + 200.0)) ** chip.device_parameters()["drift"]  # 200 s more drift
        np.testing.assert_allclose(after[below], (before * drift)[below], rtol=1e-4)
        if array == "passive":  # and the half-selected devices of a single-device pulse
            before = chip.effective_conductance()
            for _ in range(20):
                chip.pulse(3, 4, 2.85, 1e-6)  # V/3: 0.95 V on the others, about the thresholds
            after = chip.effective_conductance()
            still = (v_th > 0.95)
            still[3, 4] = False
            np.testing.assert_allclose(after[still], before[still], rtol=1e-4)
