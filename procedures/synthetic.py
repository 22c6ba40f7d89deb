"""Synthetic run files with known device parameters, in the streams the procedures declare.

For tests, benchmarks and trying the analysis without a bench: :func:`write_campaign` writes a
folder with a run of every built-in procedure, generated from the device model of the physics
reference (soft-bounds pulse response, sinh read I-V, power-law drift, exponential
photoconductance and eligibility), and returns the parameters it used, so each figure of merit
has a known answer. The data are not a simulation of the instruments: for that,
run the procedures on the simulated bench.

The files' schema is not declared here: :func:`write_run` takes the streams (names, columns,
dtypes, units) and the parameters (names, units, defaults, bounds) from the registered
procedure's own declaration, so a synthetic file is what that procedure would write. This module
lives in procedures/ for that reason (analysis imports storage only); like the declarations, it
imports neither Qt, pyvisa nor pymeasure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memlab.procedures.base import Procedure
from memlab.procedures.registry import get_procedure
from memlab.storage import RunWriter, StreamSpec

__all__ = ["DeviceTruth", "CampaignTruth", "write_campaign", "write_run", "declared_streams"]


def declared_run(procedure: str, parameters: Mapping[str, Any] | None = None) -> Procedure:
    """The registered ``procedure`` made with ``parameters`` (validated as for a real run; the
    others at their defaults)."""
    return get_procedure(procedure)(**dict(parameters or {}))


def declared_streams(procedure: str, parameters: Mapping[str, Any] | None = None,
                     chip: Mapping[str, Any] | None = None) -> tuple[StreamSpec, ...]:
    """The streams ``procedure`` declares for a run with ``parameters`` on ``chip`` (whose
    ``rows`` and ``cols`` shape a readout's map)."""
    return declared_run(procedure, parameters).stream_specs(dict(chip or {}))


@dataclass
class DeviceTruth:
    """The parameters one synthetic device was generated with."""

    row: int
    col: int
    g_min_s: float
    g_max_s: float
    a_plus: float
    a_minus: float
    v_set_v: float
    v_reset_v: float
    v_form_v: float
    drift_nu: float
    formed: bool


@dataclass
class CampaignTruth:
    folder: Path
    rows: int
    cols: int
    devices: list[DeviceTruth]
    read_voltage_v: float
    v0_read_v: float
    pulses_per_branch: int
    tau_on_s: float
    tau_ph_s: float
    tau_e_s: float
    gamma_ph: float
    endurance_cycles: float
    files: dict[str, list[Path]] = field(default_factory=dict)
    band_gap_ev: float = 2.0
    urbach_energy_ev: float = 0.06
    alpha_thickness: float = 0.05
    """the absorption edge behind the optical-pulses run's spectral stream (alpha_g d)."""


def write_run(folder: Path, procedure: str, data: Mapping[str, Mapping[str, Any]], *,
              devices: list[tuple[int, int]], parameters: Mapping[str, Any] | None = None,
              chip: Mapping[str, Any] | None = None, status: str = "completed", name: str | None = None) -> Path:
    """Write one finished run file of ``procedure`` with ``data`` (stream -> column -> array).

    ``parameters`` are values by their declared names (the rest at their defaults); the file
    records every declared parameter with its unit, and the streams ``procedure`` declares,
    as the runner would.
    """
    run = declared_run(procedure, parameters)
    dev = "-".join(f"r{r}c{c}" for r, c in devices[:1]) + ("+" if len(devices) > 1 else "")
    path = folder / (name or f"{procedure}_{dev or 'chip'}.h5")
    k = 1
    while path.exists():  # several runs of one procedure on one device
        path = folder / f"{path.stem.rsplit('~', 1)[0]}~{k}.h5"
        k += 1
    writer = RunWriter(path, procedure=procedure, procedure_version=run.version,
                       streams=run.stream_specs(dict(chip or {})), parameters=run.parameter_records(),
                       chip=dict(chip or {}), devices=devices,
                       instruments={"smu": {"model": "synthetic", "simulated": True}},
                       operator="synthetic", software_version="synthetic")
    try:
        for stream, columns in data.items():
            writer.append(stream, columns)
    except BaseException as exc:
        writer.close("failed", f"{type(exc).__name__}: {exc}")
        raise
    writer.close(status)
    return path


def _read_current(g: np.ndarray | float, v: np.ndarray | float, v0: float) -> np.ndarray:
    return np.asarray(g) * v0 * np.sinh(np.asarray(v) / v0)


def write_campaign(folder: str | Path, *, rows: int = 3, cols: int = 3, seed: int = 0,
                   family: str = "prgo", cycles: int = 5, pulses_per_branch: int = 100,
                   repeats: int = 3, with_optical: bool = True) -> CampaignTruth:
    """Write one run of every procedure with figures of merit for a ``rows`` x ``cols`` chip.

    Per device: forming, switching, iv-sweep, potentiation-depression, write-verify; per chip:
    readout, retention, vmm; on device (0, 0): pulsed-iv, endurance, and (``with_optical``)
    relaxation, optical-pulses and three-factor; plus a clock-check and an xor run: every built-in
    procedure. The device in the last row and column never forms (its forming voltage is beyond
    the ramp), so the forming yield is (n - 1) / n. Returns the parameters used.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows={rows!r}, cols={cols!r}: a chip needs at least one row and column")
    if cycles < 1 or pulses_per_branch < 4 or repeats < 1:
        raise ValueError("cycles >= 1, pulses_per_branch >= 4 and repeats >= 1 are needed")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    chip = {"family": family, "rows": rows, "cols": cols, "seed": seed, "simulated": True,
            "generator": "memlab.procedures.synthetic"}
    v_read, v0 = 0.2, 1.0
    truth = CampaignTruth(folder, rows, cols, [], v_read, v0, pulses_per_branch, tau_on_s=0.1,
                          tau_ph_s=1.0, tau_e_s=1.0, gamma_ph=0.5, endurance_cycles=1e5)
    files: dict[str, list[Path]] = {}

    def add(proc: str, path: Path) -> None:
        files.setdefault(proc, []).append(path)

    for r in range(rows):
        for c in range(cols):
            never_forms = (r, c) == (rows - 1, cols - 1) and rows * cols > 1
            d = DeviceTruth(
                r, c, g_min_s=0.476e-6 * math.exp(0.1 * rng.standard_normal()),
                g_max_s=10e-6 * math.exp(0.1 * rng.standard_normal()),
                a_plus=0.02 * math.exp(0.1 * rng.standard_normal()),
                a_minus=0.025 * math.exp(0.1 * rng.standard_normal()),
                v_set_v=1.0 + 0.05 * rng.standard_normal(), v_reset_v=-0.9 + 0.05 * rng.standard_normal(),
                v_form_v=9.0 if never_forms else 3.0 + 0.2 * rng.standard_normal(),
                drift_nu=max(0.002, 0.02 + 0.004 * rng.standard_normal()), formed=not never_forms)
            truth.devices.append(d)
            dev = [(r, c)]
            # forming: 0.1 V steps up to 5 V, a 0.1 V read after each
            volts = np.round(np.arange(0.5, 5.0 + 1e-9, 0.1), 10)
            if d.formed:
                volts = volts[: int(np.searchsorted(volts, d.v_form_v)) + 1]
            g = np.where(volts >= d.v_form_v, d.g_min_s * 3, 1e-9 * (1 + volts / 5))
            cur = _read_current(g, 0.1, v0) * (1 + 0.01 * rng.standard_normal(len(g)))
            res = 0.1 / cur
            # during the step the device carries its I(V) up to the compliance
            step_current = np.minimum(_read_current(g, volts, v0), 1e-4)
            add("forming", write_run(folder, "forming", {
                "forming": {"attempt": np.zeros(len(volts)), "step": np.arange(len(volts)), "voltage": volts,
                            "width": np.full(len(volts), 1e-3), "current": cur, "resistance": res,
                            "step_current": step_current, "time": np.arange(len(volts)) * 2e-3},
                "result": {"formed": int(d.formed), "forming_voltage": d.v_form_v if d.formed else math.nan,
                           "forming_current": cur[-1] if d.formed else math.nan,
                           "final_resistance": res[-1], "attempts": 1}},
                devices=dev, chip=chip,
                parameters={"row": r, "col": c, "start_v": 0.5, "stop_v": 5.0, "step_v": 0.1, "ceiling_v": 5.0,
                            "width_s": 1e-3, "compliance_a": 1e-4, "read_v": 0.1, "attempts": 1,
                            "target_resistance_ohm": 2e6}))
            if not d.formed:
                continue
            # switching: one SET and one RESET pulse per cycle at the device's voltages (+-20 mV
            # jitter), each followed by a read; written before the I-V sweep, whose figures come later
            sw: dict[str, list] = {k: [] for k in ("cycle", "polarity", "voltage", "current", "resistance", "time")}
            for k in range(cycles):
                for pol, v_sw, g_after in ((1, d.v_set_v, d.g_max_s), (-1, d.v_reset_v, d.g_min_s)):
                    i_read = float(_read_current(g_after, v_read, v0)) * (1 + 0.005 * rng.standard_normal())
                    for key, val in zip(sw, (k, pol, v_sw + 0.02 * rng.standard_normal(), i_read, v_read / i_read,
                                             len(sw["cycle"]) * 1e-3)):
                        sw[key].append(val)
            add("switching", write_run(folder, "switching", {"switching": sw}, devices=dev, chip=chip,
                                       parameters={"row": r, "col": c, "cycles": cycles, "set_v": 1.5,
                                                   "reset_v": -1.5, "read_v": v_read}))
            # iv-sweep: abrupt SET/RESET at the device's voltages (+-20 mV jitter per cycle)
            up = np.round(np.arange(0, 1.5 + 1e-9, 0.05), 10)
            loop = np.concatenate((up, up[::-1][1:], -up[1:], -up[::-1][1:-1]))
            vs, cs, gs = [], [], []
            state = d.g_min_s
            for k in range(cycles):
                vset = d.v_set_v + 0.02 * rng.standard_normal()
                vreset = d.v_reset_v + 0.02 * rng.standard_normal()
                for v in loop:
                    if v >= vset:
                        state = d.g_max_s
                    elif v <= vreset:
                        state = d.g_min_s
                    gs.append(state)
                vs.append(loop)
                cs.append(np.full(len(loop), k))
            v_all = np.concatenate(vs)
            i_all = _read_current(np.asarray(gs), v_all, v0) * (1 + 0.005 * rng.standard_normal(len(v_all)))
            add("iv-sweep", write_run(folder, "iv-sweep", {
                "iv": {"cycle": np.concatenate(cs), "voltage": v_all, "current": i_all,
                       "time": np.arange(len(v_all)) * 1e-3}},
                devices=dev, chip=chip, parameters={"row": r, "col": c, "read_v": v_read, "v_max": 1.5,
                                                    "v_min": -1.5, "step_v": 0.05, "cycles": cycles}))
            if (r, c) == (0, 0):
                # pulsed I-V: 0.1 V steps to 2 V; above the SET voltage each pulse moves G a soft-bounds step
                amps = np.round(np.arange(0.5, 2.0 + 1e-9, 0.1), 10)
                g_pulsed, state = [], d.g_min_s
                for amp in amps:
                    if amp >= d.v_set_v:
                        state += d.a_plus * (amp / d.v_set_v) * (d.g_max_s - state)
                    g_pulsed.append(state * (1 + 0.005 * rng.standard_normal()))
                g_arr = np.asarray(g_pulsed)
                add("pulsed-iv", write_run(folder, "pulsed-iv", {"pulses": {
                    "pulse": np.arange(len(amps)), "amplitude": amps, "width": np.full(len(amps), 1e-6),
                    "current": _read_current(g_arr, v_read, v0), "read_voltage": np.full(len(amps), v_read),
                    "conductance": g_arr, "pulse_current": np.full(len(amps), math.nan),
                    "time": np.arange(len(amps)) * 1e-3}},
                    devices=dev, chip=chip, parameters={"row": r, "col": c, "start_v": 0.5, "stop_v": 2.0,
                                                        "step_v": 0.1, "read_v": v_read}))
            # potentiation-depression: soft bounds, 30 % cycle-to-cycle noise per step, 0.5 % read noise
            reps, pls, pols, gvals = [], [], [], []
            state = d.g_min_s
            for k in range(repeats):
                for pol, a in ((1, d.a_plus), (-1, d.a_minus)):
                    for p in range(1, pulses_per_branch + 1):
                        step = a * (1 + 0.3 * rng.standard_normal())
                        state += step * (d.g_max_s - state) if pol > 0 else -step * (state - d.g_min_s)
                        state = min(max(state, d.g_min_s), d.g_max_s)
                        reps.append(k)
                        pls.append(p)
                        pols.append(pol)
                        gvals.append(state * (1 + 0.005 * rng.standard_normal()))
            n = len(gvals)
            add("potentiation-depression", write_run(folder, "potentiation-depression", {"pulses": {
                    "repeat": reps, "pulse": pls, "polarity": pols, "amplitude": np.asarray(pols) * 2.0,
                    "conductance": gvals, "time": np.arange(n) * 1e-4}},
                devices=dev, chip=chip, parameters={"row": r, "col": c, "set_v": 2.0, "reset_v": -2.0,
                                                    "width_s": 80e-9, "pulses": pulses_per_branch,
                                                    "repeats": repeats, "read_v": v_read}))
            # write-verify: the same 8 targets on every device, each programmed 3 times to within 2 %
            targets = np.linspace(1e-6, 8e-6, 8)
            ver: dict[str, list] = {k: [] for k in ("level", "pulse", "amplitude", "conductance", "target", "time")}
            lev: dict[str, list] = {k: [] for k in ("level", "target", "final", "error", "pulses", "success",
                                                    "repeat", "relaxed")}
            t = 0.0
            for rep in range(3):
                for lv, target in enumerate(targets):
                    gcur = d.g_min_s
                    for p in range(1, 201):
                        gcur += 0.2 * (target - gcur) * (1 + 0.3 * rng.standard_normal())
                        read = gcur * (1 + 0.003 * rng.standard_normal())
                        t += 1e-3
                        for key, val in zip(ver, (lv, p, 1.5, read, target, t)):
                            ver[key].append(val)
                        if abs(read - target) <= 0.02 * target:
                            break
                    ok = abs(read - target) <= 0.02 * target
                    # no check reads after a relaxation delay here: 'relaxed' is NaN, as in such a run
                    for key, val in zip(lev, (lv, target, read, (read - target) / target, p, int(ok), rep,
                                              math.nan)):
                        lev[key].append(val)
            add("write-verify", write_run(folder, "write-verify",
                {"verify": ver, "levels": lev}, devices=dev, chip=chip,
                parameters={"row": r, "col": c, "tolerance": 0.02, "levels": 8, "read_v": v_read}))

    formed = [d for d in truth.devices if d.formed]
    alldev = [(d.row, d.col) for d in truth.devices]
    # readout of every device, three reads each
    gmap = np.full((rows, cols), np.nan)
    rd: dict[str, list] = {k: [] for k in ("row", "col", "read", "current", "conductance", "time")}
    for d in truth.devices:
        g_true = (d.g_min_s + d.g_max_s) / 2 if d.formed else 1e-9
        for k in range(3):
            g = g_true * (1 + 0.01 * rng.standard_normal())
            for key, val in zip(rd, (d.row, d.col, k, _read_current(g, v_read, v0), g, len(rd["row"]) * 1e-3)):
                rd[key].append(val)
        gmap[d.row, d.col] = g_true
    add("readout", write_run(folder, "readout",
                             {"reads": rd, "map": {"conductance": gmap}}, devices=alldev, chip=chip,
                             parameters={"devices": "all", "read_v": v_read, "reads": 3}))
    # retention: power-law drift from mid-window, 30 log-spaced reads over 1 s .. 10^4 s
    times = np.logspace(0, 4, 30)
    ret: dict[str, list] = {"row": [], "col": [], "time": [], "planned_time": [], "conductance": []}
    for d in formed:
        g0 = (d.g_min_s + d.g_max_s) / 2
        taken = times + rng.uniform(0.0, 2e-3, len(times))  # a read is taken a little after it is due
        g = g0 * taken ** (-d.drift_nu) * (1 + 0.002 * rng.standard_normal(len(times)))
        ret["row"] += [d.row] * len(times)
        ret["col"] += [d.col] * len(times)
        ret["time"] += taken.tolist()
        ret["planned_time"] += times.tolist()
        ret["conductance"] += g.tolist()
    add("retention", write_run(folder, "retention", {"retention": ret},
                               devices=[(d.row, d.col) for d in formed], chip=chip,
                               parameters={"devices": ";".join(f"{d.row},{d.col}" for d in formed),
                                           "duration_s": 1e4, "first_read_s": 1.0, "points": len(times),
                                           "read_v": v_read}))
    d0 = truth.devices[0]
    # endurance: the window closes as (n / n_end)^2 and is gone at n_end
    n = np.unique(np.round(np.logspace(0, math.log10(truth.endurance_cycles) + 0.5, 60))).astype(int)
    x = np.clip(n / truth.endurance_cycles, 0, 1) ** 2
    g_mid = math.sqrt(d0.g_min_s * d0.g_max_s)
    g_set = d0.g_max_s + (g_mid - d0.g_max_s) * x
    g_reset = d0.g_min_s + (g_mid - d0.g_min_s) * x
    g_set *= 1 + 0.01 * rng.standard_normal(len(n))
    g_reset *= 1 + 0.01 * rng.standard_normal(len(n))
    window = g_set / g_reset
    below = np.flatnonzero(window < 2.0)
    add("endurance", write_run(folder, "endurance", {
        "endurance": {"cycle": n, "conductance_set": g_set, "conductance_reset": g_reset, "window": window,
                      "time": n * 1e-6},
        "result": {"failed": int(below.size > 0), "failure_cycle": int(n[below[0]]) if below.size else -1,
                   "reason_code": 1 if below.size else 0}},
        devices=[(d0.row, d0.col)], chip=chip,
        parameters={"row": d0.row, "col": d0.col, "min_window": 2.0, "cycles": int(n[-1]), "read_v": v_read}))
    if with_optical:
        opt_chip = {**chip, "family": "optomemristor"}
        # relaxation after a stimulus
        t = np.linspace(0, 5, 101)
        g = 2e-6 + 3e-6 * np.exp(-t / truth.tau_ph_s) * (1 + 0.002 * rng.standard_normal(len(t)))
        add("relaxation", write_run(folder, "relaxation", {
            "decay": {"time": t, "current": _read_current(g, v_read, v0), "conductance": g}},
            devices=[(d0.row, d0.col)], chip=opt_chip,
            parameters={"row": d0.row, "col": d0.col, "duration_s": 5.0, "points": len(t), "read_v": v_read}))
        # optical pulses: G_ph = k P^gamma; three 1 s light pulses, 2 s dark after each, 20 ms reads
        powers = np.logspace(-5, -3, 6)
        k_ph = 5e-6 / 1e-3 ** truth.gamma_ph
        dg = k_ph * powers ** truth.gamma_ph
        base = 2e-6
        # relative read noise (1 %) on the dark and the lit read: the difference carries both
        dg = dg + 0.01 * np.sqrt(base ** 2 + (base + dg) ** 2) * rng.standard_normal(len(powers))
        rows_o: dict[str, list] = {k: [] for k in ("pulse", "power", "wavelength", "conductance", "time", "lit")}
        base, gph, t = 2e-6, 0.0, 0.0
        p_on = 1e-3
        for k in range(3):
            for lit, dur in ((True, 1.0), (False, 2.0)):
                for _ in range(int(round(dur / 0.02))):
                    t += 0.02
                    target = k_ph * p_on ** truth.gamma_ph if lit else 0.0
                    tau = truth.tau_on_s if lit else truth.tau_ph_s
                    gph = target + (gph - target) * math.exp(-0.02 / tau)
                    for key, val in zip(rows_o, (k, p_on if lit else 0.0, 633e-9,
                                                 (base + gph) * (1 + 0.001 * rng.standard_normal()), t,
                                                 int(lit))):
                        rows_o[key].append(val)
        # continuous-illumination step: 2 s lit, 3 s dark, 20 ms reads
        step_t = np.arange(1, 251) * 0.02
        step_lit = step_t <= 2.0
        g_on = k_ph * p_on ** truth.gamma_ph
        step_g = base + np.where(step_lit, g_on * (1 - np.exp(-step_t / truth.tau_on_s)),
                                 g_on * (1 - math.exp(-2.0 / truth.tau_on_s))
                                 * np.exp(-(step_t - 2.0) / truth.tau_ph_s))
        step_g = step_g * (1 + 0.001 * rng.standard_normal(len(step_t)))
        # spectral response: the same law at the absorbed-equivalent power P r(lambda), r from the
        # truth's Urbach edge relative to 633 nm; two steps at each wavelength
        def absorbed(wavelength_m: np.ndarray) -> np.ndarray:
            x = (1.23984198e-6 / wavelength_m - truth.band_gap_ev) / truth.urbach_energy_ev
            shape = np.where(x < 0, np.exp(np.minimum(x, 0)), (1 + 0.5 * np.maximum(x, 0)) ** 2)
            return -np.expm1(-truth.alpha_thickness * shape)
        spectral_w = np.repeat(np.arange(450e-9, 751e-9, 50e-9), 2)
        spectral_p = 1e-4
        spectral_dg = k_ph * (spectral_p * absorbed(spectral_w) / absorbed(np.array(633e-9))) ** truth.gamma_ph
        # relative read noise (1 %) on the dark and the lit read: the difference carries both
        spectral_dg = spectral_dg + 0.01 * np.sqrt(base ** 2 + (base + spectral_dg) ** 2) \
            * rng.standard_normal(len(spectral_w))
        add("optical-pulses", write_run(folder, "optical-pulses", {
            "optical": rows_o, "photoresponse": {"power": powers, "photoconductance": dg,
                                                 "dark_conductance": np.full(len(powers), base),
                                                 "wavelength": np.full(len(powers), 633e-9),
                                                 # the synthetic steps carry no residual of the previous
                                                 # light: as after an endless dark wait
                                                 "dark_wait": np.full(len(powers), np.inf)},
            "spectral": {"wavelength": spectral_w, "power": np.full(len(spectral_w), spectral_p),
                         "photoconductance": spectral_dg, "dark_conductance": np.full(len(spectral_w), base),
                         "dark_wait": np.full(len(spectral_w), np.inf)},
            "step": {"time": step_t, "conductance": step_g, "lit": step_lit.astype(np.int8),
                     "power": np.where(step_lit, p_on, 0.0)}},
            devices=[(d0.row, d0.col)], chip=opt_chip,
            parameters={"row": d0.row, "col": d0.col, "power_w": p_on, "width_s": 1.0, "count": 3,
                        "interval_s": 3.0, "wavelength_m": 633e-9, "read_v": v_read,
                        "wavelengths_m": ", ".join(f"{w:g}" for w in np.unique(spectral_w)),
                        "spectral_power_w": spectral_p, "spectral_repeats": 2}))
        # three-factor: delta = step (h_dark + (1 - h_dark) exp(-delay / tau_e)); NaN delay = no light
        delays = np.repeat([0.0, 0.25, 0.5, 1.0, 2.0, 4.0, np.nan], 4)
        step, h_dark = 0.2e-6, 0.01
        h = np.where(np.isnan(delays), h_dark, h_dark + (1 - h_dark) * np.exp(-np.nan_to_num(delays) / truth.tau_e_s))
        delta = step * h + 0.002e-6 * rng.standard_normal(len(delays))
        before = 3e-6 + np.zeros(len(delays))
        add("three-factor", write_run(folder, "three-factor", {
            "coincidence": {"trial": np.arange(len(delays)), "delay": delays, "conductance_before": before,
                            "conductance_after": before + delta, "delta": delta,
                            "pulses": np.full(len(delays), 50, np.int32)}},
            devices=[(d0.row, d0.col)], chip=opt_chip,
            parameters={"row": d0.row, "col": d0.col, "pulse_v": 2.0, "read_v": v_read, "pulses": 50,
                        "bound_pulses": 0}))
    # vmm over the whole chip
    target = rng.uniform(1e-6, 9e-6, (rows, cols))
    programmed = target * (1 + 0.03 * rng.standard_normal((rows, cols)))
    inputs = rng.uniform(0, 0.2, (16, rows))
    ideal = inputs @ target
    measured = (inputs @ programmed) * (1 + 0.005 * rng.standard_normal(ideal.shape))
    add("vmm", write_run(folder, "vmm", {
        "weights": {"target": target[None], "programmed": programmed[None]},
        "vmm": {"vector": np.arange(16), "inputs": inputs, "measured": measured, "ideal": ideal}},
        devices=alldev, chip=chip,
        parameters={"row": 0, "col": 0, "rows": rows, "cols": cols, "vectors": 16, "input_max_v": 0.2,
                    "read_v": v_read}))
    # xor: A = light, B = read voltage; light alone gives a photocurrent, light with the voltage
    # is shunted below the threshold: responses 0.2 : 5 : 4 : 1 uA; two calibration trials, then two
    a_in, b_in = np.tile([0, 0, 1, 1], 4), np.tile([0, 1, 0, 1], 4)
    response = {(0, 0): 0.2e-6, (0, 1): 5e-6, (1, 0): 4e-6, (1, 1): 1e-6}
    xor_i = np.array([response[(x, z)] for x, z in zip(a_in, b_in)]) * (1 + 0.02 * rng.standard_normal(16))
    threshold = 2.5e-6
    add("xor", write_run(folder, "xor", {
        "truth_table": {"trial": np.repeat([-1, -2, 0, 1], 4), "input_a": a_in, "input_b": b_in,
                        "current": xor_i, "output": (xor_i > threshold).astype(np.int8),
                        "expected": a_in ^ b_in},
        "responses": {"input_a": a_in[:4], "input_b": b_in[:4],
                      "current": [np.mean(xor_i[:8][(a_in[:8] == x) & (b_in[:8] == z)])
                                  for x, z in zip(a_in[:4], b_in[:4])],
                      "current_sd": [np.std(xor_i[:8][(a_in[:8] == x) & (b_in[:8] == z)], ddof=1)
                                     for x, z in zip(a_in[:4], b_in[:4])],
                      "trials": np.full(4, 2)},
        "result": {"xor": 1, "xor_trials": 2, "trials": 2, "realisable": 1, "threshold": threshold,
                   "margin": 4e-6 - 1e-6, "margin_sigmas": 30.0, "accuracy": 1.0}},
        devices=[(d0.row, d0.col)], chip=chip, parameters={"row": d0.row, "col": d0.col, "trials": 1}))
    add("clock-check", write_run(folder, "clock-check", {
        "signal": {"sample": np.arange(100), "time": np.arange(100) * 0.01, "value": np.sin(np.arange(100) * 0.0628)},
        "pacing": {"clock": [1.0], "wall": [0.01]}},
        devices=[], chip=chip, parameters={"samples": 100, "interval_s": 0.01, "noise_v": 0.0}))
    # crossbar-train: both networks' accuracy rising as 1 - 0.75 exp(-epoch / 3), the crossbar's a
    # little lower; crossbar-infer of its final weights, accuracy falling slowly with log time
    from memlab.procedures.crossbar_train import CLASSES, INPUTS
    from memlab.procedures.learning import PairArray
    epochs = np.arange(20)
    acc_float = 1 - 0.75 * np.exp(-epochs / 3.0)
    acc_hw = acc_float - 0.03 * (1 - np.exp(-epochs / 3.0))
    weights = rng.normal(0, 0.5, (INPUTS, CLASSES))
    g_plus = 1e-6 + np.clip(weights, 0, None) * 4e-6
    g_minus = 1e-6 + np.clip(-weights, 0, None) * 4e-6
    xbar = PairArray.chip_devices(0, 0, INPUTS, CLASSES)
    add("crossbar-train", write_run(folder, "crossbar-train", {
        "epochs": {"epoch": epochs, "train_loss": 1.4 * np.exp(-epochs / 4.0), "train_accuracy": acc_hw,
                   "test_accuracy": acc_hw - 0.02, "float_train_loss": 1.3 * np.exp(-epochs / 4.0),
                   "float_train_accuracy": acc_float, "float_test_accuracy": acc_float - 0.02,
                   "pulses": np.full(20, 48), "time": epochs * 5.0},
        "weights": {"epoch": epochs, "g_plus": np.repeat(g_plus[None], 20, 0),
                    "g_minus": np.repeat(g_minus[None], 20, 0), "float_weights": np.repeat(weights[None], 20, 0)}},
        devices=xbar, chip=chip, parameters={"epochs": 20}))
    weights_file = folder / "crossbar-weights.npy"
    np.save(weights_file, weights)
    targets = np.stack([g_plus, g_minus])
    times = np.geomspace(1.0, 86400.0, 8)
    add("crossbar-infer", write_run(folder, "crossbar-infer", {
        "programming": {"target": targets[None], "final": (targets * (1 + 0.02 * rng.standard_normal(targets.shape)))[None],
                        "pulses": rng.integers(1, 30, targets.shape)[None]},
        "inference": {"time": times, "accuracy": 0.95 - 0.01 * np.log10(times), "ideal_accuracy": np.full(8, 0.95),
                      "weight_error": 0.02 + 0.01 * np.log10(times)}},
        devices=xbar, chip=chip, parameters={"weights_from": str(weights_file), "points": 8}))
    # maze-rl on a 2 x 2 maze: steps per episode falling from 6 to the shortest path, 2
    n_ep = 6
    steps = np.maximum(2, 6 - np.arange(n_ep))
    add("maze-rl", write_run(folder, "maze-rl", {
        "episodes": {"episode": np.arange(n_ep), "steps": steps, "reward": np.ones(n_ep),
                     "baseline_steps": steps, "baseline_reward": np.ones(n_ep),
                     "epsilon": 0.3 * 0.9 ** np.arange(n_ep), "pulses": np.minimum(steps, 3),
                     "time": np.arange(n_ep) * 12.0},
        "values": {"episode": np.arange(n_ep), "conductance": np.full((n_ep, 16), 2e-6),
                   "reference": np.full((n_ep, 16), 0.25e-6), "baseline": np.zeros((n_ep, 16))},
        "policy": {"cell": np.arange(4), "action": np.array([1, 2, 1, -1]),
                   "baseline_action": np.array([1, 2, 1, -1])}},
        devices=[(0, k) for k in range(16)], chip={**chip, "family": "optomemristor"},
        parameters={"size": 2, "walls": "", "episodes": n_ep}))
    truth.files = files
    return truth
