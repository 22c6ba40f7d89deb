"""Synthetic run files with known device parameters, in the streams of docs/procedure-streams.md.

For tests, benchmarks and trying the analysis without a bench: :func:`write_campaign` writes a
folder with one run of every procedure that has figures of merit, generated from the device
model of the physics reference (soft-bounds pulse response, sinh read I-V, power-law drift,
exponential photoconductance and eligibility), and returns the parameters it used, so each
figure of merit has a known answer. The data are not a simulation of the instruments: for that,
run the procedures on the simulated bench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memlab.storage import Column, ParameterRecord, RunWriter, StreamSpec

__all__ = ["DeviceTruth", "CampaignTruth", "write_campaign", "STREAMS", "write_run"]

INT = "i8"  # integer columns

STREAMS: dict[str, tuple[StreamSpec, ...]] = {
    "clock-check": (StreamSpec("signal", (Column("sample", "", INT), Column("time", "s"), Column("value", "V"))),),
    "iv-sweep": (StreamSpec("iv", (Column("cycle", "", INT), Column("voltage", "V"), Column("current", "A"),
                                   Column("time", "s"))),),
    "forming": (
        StreamSpec("forming", (Column("attempt", "", INT), Column("step", "", INT), Column("voltage", "V"),
                               Column("width", "s"), Column("current", "A"), Column("resistance", "ohm"),
                               Column("time", "s"))),
        StreamSpec("result", (Column("formed", "", INT), Column("forming_voltage", "V"),
                              Column("forming_current", "A"), Column("final_resistance", "ohm"),
                              Column("attempts", "", INT))),
    ),
    "write-verify": (
        StreamSpec("verify", (Column("level", "", INT), Column("pulse", "", INT), Column("amplitude", "V"),
                              Column("conductance", "S"), Column("target", "S"), Column("time", "s"))),
        StreamSpec("levels", (Column("level", "", INT), Column("target", "S"), Column("final", "S"),
                              Column("error", ""), Column("pulses", "", INT), Column("success", "", INT))),
    ),
    "potentiation-depression": (
        StreamSpec("pulses", (Column("repeat", "", INT), Column("pulse", "", INT), Column("polarity", "", INT),
                              Column("amplitude", "V"), Column("conductance", "S"), Column("time", "s"))),
    ),
    "retention": (StreamSpec("retention", (Column("row", "", INT), Column("col", "", INT), Column("time", "s"),
                                           Column("conductance", "S"))),),
    "endurance": (
        StreamSpec("endurance", (Column("cycle", "", INT), Column("conductance_set", "S"),
                                 Column("conductance_reset", "S"), Column("window", ""), Column("time", "s"))),
        StreamSpec("result", (Column("failed", "", INT), Column("failure_cycle", "", INT),
                              Column("reason_code", "", INT))),
    ),
    "relaxation": (StreamSpec("decay", (Column("time", "s"), Column("current", "A"), Column("conductance", "S"))),),
    "optical-pulses": (
        StreamSpec("optical", (Column("pulse", "", INT), Column("power", "W"), Column("wavelength", "m"),
                               Column("conductance", "S"), Column("time", "s"))),
        StreamSpec("photoresponse", (Column("power", "W"), Column("photoconductance", "S"))),
    ),
    "three-factor": (
        StreamSpec("coincidence", (Column("trial", "", INT), Column("delay", "s"), Column("conductance_before", "S"),
                                   Column("conductance_after", "S"), Column("delta", "S"))),
    ),
    "xor": (StreamSpec("truth_table", (Column("input_a", "", INT), Column("input_b", "", INT), Column("current", "A"),
                                       Column("output", "", INT), Column("expected", "", INT))),),
}
"""The streams each procedure writes (docs/procedure-streams.md); readout and vmm depend on the
chip size and are made by :func:`_readout_streams` / :func:`_vmm_streams`."""


def _readout_streams(rows: int, cols: int) -> tuple[StreamSpec, ...]:
    return (StreamSpec("reads", (Column("row", "", INT), Column("col", "", INT), Column("read", "", INT),
                                 Column("current", "A"), Column("conductance", "S"), Column("time", "s"))),
            StreamSpec("map", (Column("conductance", "S", shape=(rows, cols)),)))


def _vmm_streams(rows: int, cols: int) -> tuple[StreamSpec, ...]:
    return (StreamSpec("weights", (Column("target", "S", shape=(rows, cols)),
                                   Column("programmed", "S", shape=(rows, cols)))),
            StreamSpec("vmm", (Column("vector", "", INT), Column("inputs", "V", shape=(rows,)),
                               Column("measured", "A", shape=(cols,)), Column("ideal", "A", shape=(cols,)))))


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


def write_run(folder: Path, procedure: str, streams: tuple[StreamSpec, ...], data: dict[str, dict[str, Any]],
              *, devices: list[tuple[int, int]], parameters: dict[str, ParameterRecord] | None = None,
              chip: dict[str, Any] | None = None, status: str = "completed", name: str | None = None) -> Path:
    """Write one finished run file of ``procedure`` with ``data`` (stream -> column -> array)."""
    dev = "-".join(f"r{r}c{c}" for r, c in devices[:1]) + ("+" if len(devices) > 1 else "")
    path = folder / (name or f"{procedure}_{dev or 'chip'}.h5")
    k = 1
    while path.exists():  # several runs of one procedure on one device
        path = folder / f"{path.stem.rsplit('~', 1)[0]}~{k}.h5"
        k += 1
    writer = RunWriter(path, procedure=procedure, procedure_version="1", streams=streams,
                       parameters=parameters or {}, chip=chip or {}, devices=devices,
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

    Per device: forming, iv-sweep, potentiation-depression, write-verify; per chip: readout,
    retention, vmm; on device (0, 0): endurance, and (``with_optical``) relaxation,
    optical-pulses and three-factor; plus a clock-check and an xor run. The device in the
    last row and column never forms (its forming voltage is beyond the ramp), so the forming
    yield is (n - 1) / n. Returns the parameters used.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows={rows!r}, cols={cols!r}: a chip needs at least one row and column")
    if cycles < 1 or pulses_per_branch < 4 or repeats < 1:
        raise ValueError("cycles >= 1, pulses_per_branch >= 4 and repeats >= 1 are needed")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    chip = {"family": family, "rows": rows, "cols": cols, "seed": seed, "simulated": True,
            "generator": "memlab.analysis.synthetic"}
    v_read, v0 = 0.2, 1.0
    truth = CampaignTruth(folder, rows, cols, [], v_read, v0, pulses_per_branch, tau_on_s=0.1,
                          tau_ph_s=1.0, tau_e_s=1.0, gamma_ph=0.5, endurance_cycles=1e5)
    files: dict[str, list[Path]] = {}

    def add(proc: str, path: Path) -> None:
        files.setdefault(proc, []).append(path)

    params = lambda **kw: {k: ParameterRecord(v, u) for k, (v, u) in kw.items()}  # noqa: E731

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
            add("forming", write_run(folder, "forming", STREAMS["forming"], {
                "forming": {"attempt": np.zeros(len(volts)), "step": np.arange(len(volts)), "voltage": volts,
                            "width": np.full(len(volts), 1e-3), "current": cur, "resistance": res,
                            "time": np.arange(len(volts)) * 2e-3},
                "result": {"formed": int(d.formed), "forming_voltage": d.v_form_v if d.formed else math.nan,
                           "forming_current": cur[-1] if d.formed else math.nan,
                           "final_resistance": res[-1], "attempts": 1}},
                devices=dev, chip=chip, parameters=params(compliance_a=(1e-4, "A"), v_max_v=(5.0, "V"))))
            if not d.formed:
                continue
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
            add("iv-sweep", write_run(folder, "iv-sweep", STREAMS["iv-sweep"], {
                "iv": {"cycle": np.concatenate(cs), "voltage": v_all, "current": i_all,
                       "time": np.arange(len(v_all)) * 1e-3}},
                devices=dev, chip=chip, parameters=params(read_voltage_v=(v_read, "V"), v_max_v=(1.5, "V"),
                                                          cycles=(cycles, ""))))
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
            add("potentiation-depression", write_run(folder, "potentiation-depression",
                STREAMS["potentiation-depression"], {"pulses": {
                    "repeat": reps, "pulse": pls, "polarity": pols, "amplitude": np.asarray(pols) * 2.0,
                    "conductance": gvals, "time": np.arange(n) * 1e-4}},
                devices=dev, chip=chip, parameters=params(amplitude_v=(2.0, "V"), width_s=(80e-9, "s"),
                                                          pulses=(pulses_per_branch, ""), repeats=(repeats, ""))))
            # write-verify: the same 8 targets on every device, each programmed 3 times to within 2 %
            targets = np.linspace(1e-6, 8e-6, 8)
            ver: dict[str, list] = {k: [] for k in ("level", "pulse", "amplitude", "conductance", "target", "time")}
            lev: dict[str, list] = {k: [] for k in ("level", "target", "final", "error", "pulses", "success")}
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
                    for key, val in zip(lev, (lv, target, read, (read - target) / target, p, int(ok))):
                        lev[key].append(val)
            add("write-verify", write_run(folder, "write-verify", STREAMS["write-verify"],
                {"verify": ver, "levels": lev}, devices=dev, chip=chip,
                parameters=params(tolerance=(0.02, ""), levels=(8, ""), read_voltage_v=(v_read, "V"))))

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
    add("readout", write_run(folder, "readout", _readout_streams(rows, cols),
                             {"reads": rd, "map": {"conductance": gmap}}, devices=alldev, chip=chip,
                             parameters=params(read_voltage_v=(v_read, "V"), reads=(3, ""))))
    # retention: power-law drift from mid-window, 30 log-spaced reads over 1 s .. 10^4 s
    times = np.logspace(0, 4, 30)
    ret: dict[str, list] = {"row": [], "col": [], "time": [], "conductance": []}
    for d in formed:
        g0 = (d.g_min_s + d.g_max_s) / 2
        g = g0 * times ** (-d.drift_nu) * (1 + 0.002 * rng.standard_normal(len(times)))
        ret["row"] += [d.row] * len(times)
        ret["col"] += [d.col] * len(times)
        ret["time"] += times.tolist()
        ret["conductance"] += g.tolist()
    add("retention", write_run(folder, "retention", STREAMS["retention"], {"retention": ret},
                               devices=[(d.row, d.col) for d in formed], chip=chip,
                               parameters=params(duration_s=(1e4, "s"), read_voltage_v=(v_read, "V"))))
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
    add("endurance", write_run(folder, "endurance", STREAMS["endurance"], {
        "endurance": {"cycle": n, "conductance_set": g_set, "conductance_reset": g_reset, "window": window,
                      "time": n * 1e-6},
        "result": {"failed": int(below.size > 0), "failure_cycle": int(n[below[0]]) if below.size else -1,
                   "reason_code": 1 if below.size else 0}},
        devices=[(d0.row, d0.col)], chip=chip, parameters=params(min_window=(2.0, ""), cycles=(int(n[-1]), ""))))
    if with_optical:
        opt_chip = {**chip, "family": "optomemristor"}
        # relaxation after a stimulus
        t = np.linspace(0, 5, 101)
        g = 2e-6 + 3e-6 * np.exp(-t / truth.tau_ph_s) * (1 + 0.002 * rng.standard_normal(len(t)))
        add("relaxation", write_run(folder, "relaxation", STREAMS["relaxation"], {
            "decay": {"time": t, "current": _read_current(g, v_read, v0), "conductance": g}},
            devices=[(d0.row, d0.col)], chip=opt_chip, parameters=params(read_voltage_v=(v_read, "V"))))
        # optical pulses: G_ph = k P^gamma; three 1 s light pulses, 2 s dark after each, 20 ms reads
        powers = np.logspace(-5, -3, 6)
        k_ph = 5e-6 / 1e-3 ** truth.gamma_ph
        dg = k_ph * powers ** truth.gamma_ph * (1 + 0.01 * rng.standard_normal(len(powers)))
        rows_o: dict[str, list] = {k: [] for k in ("pulse", "power", "wavelength", "conductance", "time")}
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
                                                 (base + gph) * (1 + 0.001 * rng.standard_normal()), t)):
                        rows_o[key].append(val)
        add("optical-pulses", write_run(folder, "optical-pulses", STREAMS["optical-pulses"], {
            "optical": rows_o, "photoresponse": {"power": powers, "photoconductance": dg}},
            devices=[(d0.row, d0.col)], chip=opt_chip, parameters=params(wavelength_m=(633e-9, "m"))))
        # three-factor: delta = step (h_dark + (1 - h_dark) exp(-delay / tau_e)); NaN delay = no light
        delays = np.repeat([0.0, 0.25, 0.5, 1.0, 2.0, 4.0, np.nan], 4)
        step, h_dark = 0.2e-6, 0.01
        h = np.where(np.isnan(delays), h_dark, h_dark + (1 - h_dark) * np.exp(-np.nan_to_num(delays) / truth.tau_e_s))
        delta = step * h + 0.002e-6 * rng.standard_normal(len(delays))
        before = 3e-6 + np.zeros(len(delays))
        add("three-factor", write_run(folder, "three-factor", STREAMS["three-factor"], {
            "coincidence": {"trial": np.arange(len(delays)), "delay": delays, "conductance_before": before,
                            "conductance_after": before + delta, "delta": delta}},
            devices=[(d0.row, d0.col)], chip=opt_chip, parameters=params(amplitude_v=(2.0, "V"))))
    # vmm over the whole chip
    target = rng.uniform(1e-6, 9e-6, (rows, cols))
    programmed = target * (1 + 0.03 * rng.standard_normal((rows, cols)))
    inputs = rng.uniform(0, 0.2, (16, rows))
    ideal = inputs @ target
    measured = (inputs @ programmed) * (1 + 0.005 * rng.standard_normal(ideal.shape))
    add("vmm", write_run(folder, "vmm", _vmm_streams(rows, cols), {
        "weights": {"target": target[None], "programmed": programmed[None]},
        "vmm": {"vector": np.arange(16), "inputs": inputs, "measured": measured, "ideal": ideal}},
        devices=alldev, chip=chip, parameters=params(v_max_v=(0.2, "V"))))
    a_in, b_in = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    add("xor", write_run(folder, "xor", STREAMS["xor"], {"truth_table": {
        "input_a": a_in, "input_b": b_in, "current": (a_in ^ b_in) * 5e-6 + 0.2e-6,
        "output": a_in ^ b_in, "expected": a_in ^ b_in}}, devices=[(d0.row, d0.col)], chip=chip))
    add("clock-check", write_run(folder, "clock-check", STREAMS["clock-check"], {"signal": {
        "sample": np.arange(100), "time": np.arange(100) * 0.01,
        "value": np.sin(np.arange(100) * 0.0628)}}, devices=[], chip=chip))
    truth.files = files
    return truth
