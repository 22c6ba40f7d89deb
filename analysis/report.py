"""A report of a folder (or list) of run files: tables as CSV and Markdown, plots as PNG, one HTML page.

Layout of the report folder::

    index.html      everything below, linked, with the figures inline
    devices.csv     one row per device, every figure of merit (full precision, SI units)
    devices.md      the same, grouped by kind of measurement, 4 significant digits
    chip.csv/.md    figures over the chip (medians, device-to-device CV, yield, pooled levels)
    runs.csv        one row per (run, device): which run gave which figure
    skipped.csv     files that were skipped and why (only when some were)
    figures/*.png   the standard figure of each procedure for a few runs, pooled figures, chip maps

Figures are drawn for at most ``plots_per_procedure`` runs of each procedure (the earliest
ones), so a folder of 10^4 runs gives a report of a few dozen figures; the tables cover all.
"""

from __future__ import annotations


import html
import logging
import re
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from memlab.analysis import metrics as m
from memlab.analysis import plots
from memlab.analysis.metrics.fom import is_figure
from memlab.analysis.errors import AnalysisError, MissingStreamError
from memlab.analysis.loading import PathLike, Run, open_run
from memlab.analysis.parallel import Summary, summarize
from memlab.analysis.summary import DEFAULT_MIN_WINDOW, DEFAULT_READ_VOLTAGE_V, FIGURES, photoresponse_of_run
from memlab.storage import RunFileError

log = logging.getLogger(__name__)

__all__ = ["ReportResult", "write_report", "GROUPS", "format_value", "markdown_table", "flat_table"]

GROUPS: dict[str, tuple[str, ...]] = {
    "Switching": ("set_voltage_v", "reset_voltage_v", "hrs_ohm", "lrs_ohm", "on_off_ratio",
                  "set_voltage_c2c_cv", "reset_voltage_c2c_cv", "hrs_c2c_cv", "lrs_c2c_cv", "switching_cycles"),
    "Forming": ("formed", "forming_voltage_v", "forming_current_a", "formed_resistance_ohm"),
    "Programming (write-verify)": ("levels_programmed", "distinguishable_levels", "distinguishable_levels_relaxed",
                                   "levels_relax_s", "pulses_per_level", "final_error", "write_verify_success"),
    "Potentiation / depression": ("dynamic_range", "nonlinearity_potentiation", "nonlinearity_depression",
                                  "a_norm_potentiation", "a_norm_depression", "step_fraction_potentiation",
                                  "step_fraction_depression", "asymmetry", "step_noise", "gmax_siemens",
                                  "gmin_siemens"),
    "Readout": ("conductance_siemens", "read_noise_cv"),
    "Retention": ("drift_nu", "drift_log_siemens", "drift_law", "time_to_10pct_loss_s"),
    "Endurance": ("cycles_to_failure", "cycles_tested", "endurance_failed", "initial_window", "final_window"),
    "Optical": ("relaxation_tau_s", "photo_exponent", "shunt_coefficient_per_w", "rise_tau_s", "decay_tau_s",
                "eligibility_tau_s", "eligibility_pulse_light_tau_s", "gating_ratio"),
    "Chip-level runs": ("vmm_rmse_a", "vmm_nrmse", "vmm_bias_a", "vmm_correlation", "vmm_gain",
                        "vmm_weight_error", "xor_accuracy"),
    "Learning": ("train_test_accuracy", "train_float_test_accuracy", "train_accuracy_gap",
                 "train_pulses_per_weight", "train_pulse_energy_j", "train_failed_devices",
                 "maze_episodes_to_learn", "maze_baseline_episodes_to_learn", "maze_final_steps",
                 "maze_pulses_per_device", "maze_pulse_energy_j", "maze_light_energy_j"),
}
"""How the Markdown/HTML device table is split into readable parts."""

MAP_FIGURES: dict[str, str] = {
    "conductance_siemens": "Conductance", "on_off_ratio": "On/off ratio", "set_voltage_v": "SET voltage",
    "reset_voltage_v": "RESET voltage", "hrs_ohm": "HRS", "lrs_ohm": "LRS",
    "forming_voltage_v": "Forming voltage", "nonlinearity_potentiation": "Nonlinearity, potentiation",
    "nonlinearity_depression": "Nonlinearity, depression", "drift_nu": "Drift exponent \u03bd",
    "time_to_10pct_loss_s": "Time to 10 % loss", "final_error": "Write-verify error",
}
"""Per-device figures drawn as chip maps (when at least two devices have them), with their
colour-bar label."""


@dataclass
class ReportResult:
    folder: Path
    index: Path
    summary: Summary
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)


@dataclass
class _Figure:
    path: Path
    caption: str
    section: str


_HOW_TO_READ = ("Each figure of merit is printed with its 95 % confidence interval: \"v ± h\" (symmetric) or "
                "\"v (95% CI low to high)\"; \"> X (not reached within the measurement)\" is a lower bound; "
                "\"[extrapolated]\" marks a value beyond the measured span (never beyond 10x it); "
                "\"not determined: reason\" is a figure the data cannot give. The CSV files hold each figure "
                "x as x, x_low, x_high, x_n (points it rests on) and x_quality.")


def format_value(value: Any) -> str:
    """A table cell: a figure of merit with its interval (or why it is not determined), other
    numbers to 4 significant digits, integers as integers, blank for missing."""
    if is_figure(value):
        return value.text()
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == int(v) and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.4g}"
    return str(value)


def flat_table(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` for a CSV file: each column of figures of merit becomes its value (NaN when not
    determined), ``_low`` / ``_high`` (the 95 % interval; a lower bound has high = inf), ``_n``
    and ``_quality`` (ok, extrapolated, lower bound or not determined, with the reason)."""
    out = {}
    for name in df.columns:
        col = df[name]
        if col.dtype == object and any(is_figure(v) for v in col.tolist()):
            parts = [v.columns(str(name)) if is_figure(v) else {} for v in col.tolist()]
            for key in (f"{name}", f"{name}_low", f"{name}_high", f"{name}_n", f"{name}_quality"):
                out[key] = [p.get(key, np.nan if not key.endswith("_quality") else "") for p in parts]
        else:
            out[name] = col.tolist()
    return pd.DataFrame(out, index=df.index)


def _cells(df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    return list(map(str, df.columns)), [[format_value(v) for v in row] for row in df.itertuples(index=False)]


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (cells via :func:`format_value`)."""
    head, rows = _cells(df)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, head)) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    head, rows = _cells(df)
    out = ["<div class='scroll'><table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _nonempty(df: pd.DataFrame) -> pd.DataFrame:
    """Drop figure columns that no row has a value for."""
    keep = [c for c in df.columns if c in ("device_row", "device_col") or df[c].notna().any()]
    return df[keep]


def _device_groups(devices: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    out = []
    for name, cols in GROUPS.items():
        present = [c for c in cols if c in devices.columns and devices[c].notna().any()]
        if present:
            part = devices[["device_row", "device_col", *present]]
            out.append((name, part[part[present].notna().any(axis=1)]))
    return out


# -- figures of one run ------------------------------------------------------------------------

def _device_label(run: Run) -> str:
    dev = run.device
    return f"device ({dev[0]}, {dev[1]})" if dev else f"{len(run.devices)} devices"


def _of(run: Run) -> str:
    """How a caption names a run: its device and file."""
    return f"{_device_label(run)} ({run.name})"


def _param(run: Run, name: str, default: Any = None) -> Any:
    """A run parameter by its canonical name (``read_v`` for every read voltage)."""
    value = run.parameter(name)
    return default if value is None else value


def _fig_iv(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("iv", ("cycle", "voltage", "current"))
    v_read = float(_param(run, "read_v", DEFAULT_READ_VOLTAGE_V))
    try:
        s = m.iv_summary(a["voltage"], a["current"], a["cycle"], read_voltage_v=v_read)
        switching = {"SET": s.set_voltage_v, "RESET": s.reset_voltage_v}
    except ValueError:
        switching = None
    fig = plots.plot_iv_loops(a["voltage"], a["current"], a["cycle"], read_voltage_v=v_read, switching=switching)
    return [(fig, f"I-V loops of {_of(run)} ({len(np.unique(a['cycle']))} cycles), |I| on a log axis; shaded: "
                  "the SET and RESET voltages' 95 % intervals (SET at the conductance jump, RESET at the "
                  "current peak; first cycle left out).")]


def _fig_switching(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("switching", ("cycle", "polarity", "resistance"))
    cyc = np.unique(a["cycle"])

    def last(polarity: int) -> np.ndarray:  # the resistance after the last event of a cycle
        out = np.full(len(cyc), np.nan)
        for k, c in enumerate(cyc):
            sel = (a["cycle"] == c) & (a["polarity"] == polarity)
            if sel.any():
                out[k] = a["resistance"][sel][-1]
        return out
    fig = plots.plot_resistance_states(cyc, last(-1), last(1))
    return [(fig, f"HRS (after RESET) and LRS (after SET) per cycle of {_of(run)}.")]


def _fig_forming(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("forming", ("voltage", "current", "resistance"))
    if len(a["voltage"]) == 0:
        return []
    fp = m.forming_point(a["voltage"], a["current"], a["resistance"],
                         threshold_ohm=_param(run, "target_resistance_ohm"))
    fig = plots.plot_forming(a["voltage"], a["resistance"], forming_voltage_v=fp.voltage_v)
    state = f"formed at {fp.voltage_v:.3g} V" if fp.formed else "did not form"
    return [(fig, f"Forming ramp of {_of(run)}: resistance read after each step; {state}.")]


def _fig_potentiation(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("pulses", ("repeat", "polarity", "conductance"))
    r = m.potentiation_depression(a["repeat"], a["polarity"], a["conductance"])
    fits = {k: f for k, f in ((1, r.potentiation), (-1, r.depression)) if f is not None}
    fig = plots.plot_pulse_response(a["polarity"], a["conductance"], a["repeat"], fits=fits)
    return [(fig, f"Conductance after each pulse of {_of(run)}; dashed: NeuroSim model fitted per "
                  f"branch (median over {r.repeats} repeats); Gmax/Gmin = {r.dynamic_range}, "
                  f"asymmetry {r.asymmetry} (95 % intervals).")]


def _fig_pulsed_iv(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("pulses", ("amplitude", "conductance"))
    pol = np.where(np.asarray(a["amplitude"]) >= 0, 1, -1)
    fig = plots.plot_pulse_response(pol, a["conductance"])
    return [(fig, f"Conductance read after each pulse of {_of(run)}.")]


def _fig_readout(run: Run) -> list[tuple[Figure, str]]:
    if "map" in run.streams and run.rows.get("map", 0) > 0:
        g = run.arrays("map", ("conductance",))["conductance"][-1]
        fig = plots.plot_chip_map(g, label="Conductance", unit="S")
        return [(fig, f"Conductance map read by {run.name} (light grey: not read).")]
    return []


def _fig_retention(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("retention", ("row", "col", "time", "conductance"))
    labels = np.array([f"({r}, {c})" for r, c in zip(a["row"], a["col"])], dtype=object)
    fits = {}
    for lab in list(dict.fromkeys(labels.tolist()))[:8]:
        sel = labels == lab
        try:
            fits[lab] = m.fit_power_law_drift(a["time"][sel], a["conductance"][sel])
        except ValueError:
            continue
    fig = plots.plot_retention(a["time"], a["conductance"], labels, fits=fits)
    return [(fig, f"Conductance versus time since programming of {_of(run)}, log time; dashed: "
                  "power-law drift fits (\u03bd per device in the legend).")]


def _fig_endurance(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("endurance", ("cycle", "conductance_set", "conductance_reset", "window"))
    if len(a["cycle"]) == 0:
        return []
    min_window = float(_param(run, "min_window", DEFAULT_MIN_WINDOW))
    e = m.cycles_to_failure(a["cycle"], a["window"], min_window=min_window)
    fig = plots.plot_endurance(a["cycle"], a["conductance_set"], a["conductance_reset"], min_window=min_window,
                               failure_cycle=e.cycles_to_failure.value if e.failed else None)
    return [(fig, f"Endurance of {_of(run)}: conductance after SET and RESET, and their ratio, per cycle.")]


def _fig_relaxation(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("decay", ("time", "conductance"))
    fit = m.relaxation_fit(a["time"], a["conductance"])
    fig = plots.plot_relaxation(a["time"], a["conductance"], fit=fit)
    how = ("the shunted law (G + A e^(-t/\u03c4)) / (1 + B e^(-t/\u03c4_s)): the shunting releases while the "
           "photoconductance decays" if fit.law == "shunted" else "an exponential")
    return [(fig, f"Relaxation after the stimulus of {_of(run)}; dashed: {how}, fitted.")]


def _fig_optical(run: Run) -> list[tuple[Figure, str]]:
    out = []
    if "photoresponse" in run.streams and run.rows.get("photoresponse", 0) > 0:
        cols = run.streams["photoresponse"]
        p = run.arrays("photoresponse", tuple(c for c in ("power", "photoconductance", "dark_conductance")
                                              if c in cols))
        if "dark_conductance" in p:
            dark = p["dark_conductance"]
            law = photoresponse_of_run(run).fit
            fig = plots.plot_photoresponse(p["power"], p["photoconductance"], law=law,
                                           dark_conductance_s=float(np.mean(dark)))
            how = ("dashed: the combined photoconductance-plus-shunting law (G + a P^\u03b3) / (1 + k P) - G "
                   "at the mean dark conductance" if law.gamma.determined else
                   f"the combined law is not determined ({law.gamma.reason})")
        else:
            fig, how = plots.plot_photoresponse(p["power"], p["photoconductance"]), \
                "no dark conductance recorded, so no combined-law fit"
        out.append((fig, f"Photoconductance versus optical power of {_of(run)}, log-log; {how}."))
    if "optical" in run.streams and run.rows.get("optical", 0) > 0:
        o = run.arrays("optical", tuple(c for c in ("time", "conductance", "power", "lit")
                                        if c in run.streams["optical"]))
        width = _param(run, "width_s")
        out.append((plots.plot_optical_trace(o["time"], o["conductance"], o["power"], lit=o.get("lit"),
                                             pulse_width_s=None if width is None else float(width)),
                    f"Conductance read after each light pulse of {_of(run)}; shaded: each pulse while the "
                    "light was on; open circles: reads taken in the dark."))
    if "step" in run.streams and run.rows.get("step", 0) > 0:
        s = run.arrays("step", ("time", "conductance", "lit"))
        r = m.step_response(s["time"], s["conductance"], s["lit"])
        out.append((plots.plot_step_response(s["time"], s["conductance"], s["lit"], rise_s=r.rise_s,
                                             decay_s=r.decay_s),
                    f"Continuous-illumination step of {_of(run)}: the rise under light (shaded, left) and the "
                    "decay after it (log time from light-off, right); time constants with their standard errors "
                    "from the combined law fitted to each phase."))
    return out


def _fig_three_factor(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("coincidence", ("delay", "delta"))
    if "pulses" in run.streams.get("coincidence", []):  # the run's own train size; the longer one fits the step law
        main = run.arrays("coincidence", ("pulses",))["pulses"] == int(run.parameter("pulses", 50))
        a = {k: np.asarray(v)[main] for k, v in a.items()}
    try:
        fit = m.eligibility_time_constant(a["delay"], a["delta"])
    except ValueError:
        fit = None
    fig = plots.plot_three_factor(a["delay"], a["delta"], fit=fit)
    return [(fig, f"Weight change of {_of(run)} versus the delay between light and electrical pulse; "
                  "the band is the change without light.")]


def _fig_vmm(run: Run) -> list[tuple[Figure, str]]:
    a = run.arrays("vmm", ("measured", "ideal"))
    out = [(plots.plot_vmm(a["measured"], a["ideal"], reference="read-back"),
            f"Column currents of {_of(run)} against the product of the read-back weights and the inputs "
            "(the multiply's own error: read noise, I-V nonlinearity).")]
    if "weights" in run.streams and "inputs" in run.streams.get("vmm", []):
        w = run.arrays("weights", ("target",))["target"]
        x = run.arrays("vmm", ("inputs",))["inputs"]
        out.append((plots.plot_vmm(a["measured"], m.intended_outputs(x, w), reference="intended"),
                    f"Column currents of {_of(run)} against the product of the intended weights and the "
                    "inputs (everything the array gets wrong, programming error included)."))
    return out


def _column_with_unit(run: Run, stream: str, preferred: str, unit: str) -> str | None:
    """The column named ``preferred``, else the first column in ``unit`` (streams evolve)."""
    columns = run.streams.get(stream, [])
    if preferred in columns:
        return preferred
    units = run.units.get(stream, {})
    for c in columns:
        if units.get(c) == unit:
            return c
    return None


def _fig_xor(run: Run) -> list[tuple[Figure, str]]:
    cols = run.streams.get("truth_table", [])
    current = _column_with_unit(run, "truth_table", "current", "A")
    if not {"input_a", "input_b"} <= set(cols) or current is None:
        return []
    a = run.arrays("truth_table", tuple(c for c in ("input_a", "input_b", current, "output") if c in cols))
    if len(a["input_a"]) == 0:
        return []
    i = np.abs(np.asarray(a[current], float))
    band = None
    threshold = _param(run, "threshold_a")
    if threshold is None and "threshold" in run.streams.get("result", []) and run.rows.get("result", 0) > 0:
        # the xor procedure sets its threshold from calibration trials and records it in /result
        found = np.asarray(run.arrays("result", ("threshold",))["threshold"], float)
        found = found[np.isfinite(found)]
        threshold = float(abs(found[-1])) if found.size else None
    lo, hi = _param(run, "band_low"), _param(run, "band_high")
    dark = i[(a["input_a"] == 0) & (a["input_b"] == 0)]
    if lo is not None and hi is not None and dark.size:
        ref = float(np.median(dark))
        band = (float(lo) * ref, float(hi) * ref)
    fig = plots.plot_xor_truth_table(a["input_a"], a["input_b"], i, output=a.get("output"), band=band,
                                     threshold_a=None if threshold is None else float(threshold))
    trials = max(1, len(i) // 4)
    how = ("shaded: the output-1 band (band_low..band_high times the median (0, 0) current)" if band
           else "dashed: the threshold" if threshold is not None else "no threshold recorded")
    return [(fig, f"XOR truth table of {_of(run)} as measured: |current| of each of {trials} trial(s) per "
                  f"input pair (A light, B read voltage), median as a bar; {how}.")]


def _fig_maze(run: Run) -> list[tuple[Figure, str]]:
    if "policy" not in run.streams or "values" not in run.streams:
        return []
    size = int(_param(run, "size", 5))
    walls = {tuple(int(x) for x in part.split(",")) for part in str(_param(run, "walls", "")).split(";") if part.strip()}
    goal_text = str(_param(run, "goal", ""))
    goal = tuple(int(x) for x in goal_text.split(",")) if goal_text.strip() else (size - 1, size - 1)
    action = run.arrays("policy", ("action",))["action"]
    values = run.arrays("values", ("conductance", "reference")) if "reference" in run.streams["values"] else None
    learned = None if values is None or len(values["conductance"]) == 0 else \
        np.asarray(values["conductance"][-1], float) - np.asarray(values["reference"][-1], float)
    tie = float(_param(run, "tie_s", 0.0))
    fig = plots.plot_maze_policy(size, walls, goal, action, learned, tie=tie)  # type: ignore[arg-type]
    return [(fig, f"Learned policy of {_of(run)}: the greedy action of each cell (arrow), the path it takes "
                  "from the start (red), walls dark, the goal a star"
                  + ("; shade: each cell's largest learned conductance change; a dot: no value above the "
                     f"tie margin ({tie:g} S), no preference learned." if learned is not None else "."))]


def _learning_figures(summary: Summary, confidence: float) -> list[tuple[Figure, str, str]]:
    """Learning curves over seeds (runs of one procedure that differ only in their seed) and the
    hardware-vs-ideal gap over them."""
    groups: dict[str, list] = {}
    for s in summary.summaries:
        if "learning_group" in s.samples and not s.error:
            groups.setdefault(s.samples["learning_group"], []).append(s)
    out = []
    for k, (_, items) in enumerate(sorted(groups.items())):
        proc = items[0].procedure
        band = m.learning_band([s.samples["learning_curve"] for s in items], confidence=confidence)
        ideal = m.learning_band([s.samples["learning_curve_ideal"] for s in items], confidence=confidence)
        first = int(np.min([s.samples["learning_index"][0] for s in items]))
        index = band.index + first
        if proc == "maze-rl":
            shortest = float(items[0].samples["maze_shortest"][0])
            fig = plots.plot_learning_band(index, (band.mean, band.low, band.high), (ideal.mean, ideal.low, ideal.high),
                                           runs=band.runs, ylabel="Steps per episode", xlabel="Episode",
                                           hardware_label="chip", ideal_label="software",
                                           reference=1.5 * shortest, reference_label="1.5 x shortest path",
                                           confidence=confidence, ylim=(0.0, np.inf))
            gap = m.paired_gap([s.samples["learning_curve"][-1] for s in items],
                               [s.samples["learning_curve_ideal"][-1] for s in items], confidence=confidence)
            what = f"steps of the last episode, chip - software: {gap.text()}"
            gap_caption = f"Gap over {band.runs} seed(s), {what}."
        else:
            fig = plots.plot_learning_band(index, (band.mean, band.low, band.high), (ideal.mean, ideal.low, ideal.high),
                                           runs=band.runs, ylabel="Test accuracy", hardware_label="crossbar",
                                           ideal_label="floating point", confidence=confidence, ylim=(0.0, 1.0))
            gap = m.paired_gap([s.samples["learning_curve_ideal"][-1] for s in items],
                               [s.samples["learning_curve"][-1] for s in items], confidence=confidence)
            gap_caption = (f"Gap over {band.runs} seed(s), floating point - crossbar final test accuracy: "
                           f"{gap.text()}.")
        out.append((fig, f"learning_{_slug(proc)}_{k + 1}",
                    f"{proc}: learning curve over {band.runs} run(s) that differ only in their seed, up to the "
                    f"shortest run's {len(index)} epochs/episodes. {gap_caption}"))
    return out


RUN_FIGURES: dict[str, Callable[[Run], list[tuple[Figure, str]]]] = {
    "iv-sweep": _fig_iv,
    "switching": _fig_switching,
    "forming": _fig_forming,
    "potentiation-depression": _fig_potentiation,
    "pulsed-iv": _fig_pulsed_iv,
    "readout": _fig_readout,
    "retention": _fig_retention,
    "endurance": _fig_endurance,
    "relaxation": _fig_relaxation,
    "optical-pulses": _fig_optical,
    "three-factor": _fig_three_factor,
    "vmm": _fig_vmm,
    "xor": _fig_xor,
    "maze-rl": _fig_maze,
}
"""Procedure -> its standard figure(s) for one run."""

_SECTION = {
    "iv-sweep": "Switching", "switching": "Switching", "forming": "Forming",
    "write-verify": "Programming (write-verify)", "potentiation-depression": "Potentiation / depression",
    "pulsed-iv": "Potentiation / depression", "readout": "Readout", "retention": "Retention",
    "endurance": "Endurance", "relaxation": "Optical", "optical-pulses": "Optical",
    "three-factor": "Optical", "vmm": "Chip-level runs", "xor": "Chip-level runs", "maze-rl": "Learning",
}


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _chip_shape(summary: Summary, devices: pd.DataFrame) -> tuple[int, int]:
    rows = int(devices["device_row"].max()) + 1 if len(devices) else 1
    cols = int(devices["device_col"].max()) + 1 if len(devices) else 1
    for s in summary.summaries[:50]:
        try:
            chip = open_run(s.path).chip
        except RunFileError:
            continue
        if chip.get("rows") and chip.get("cols"):
            return max(rows, int(chip["rows"])), max(cols, int(chip["cols"]))
    return rows, cols


def _make_figures(summary: Summary, fig_dir: Path, per_procedure: int, confidence: float) -> list[_Figure]:
    out: list[_Figure] = []

    def emit(fig: Figure, name: str, caption: str, section: str) -> None:
        path = plots.save(fig, fig_dir / f"{_slug(name)}.png")
        out.append(_Figure(path, caption, section))

    by_proc: dict[str, list] = {}
    for s in sorted(summary.summaries, key=lambda s: (s.start_time is None, s.start_time or 0, s.run)):
        if s.procedure in RUN_FIGURES and not s.error:
            by_proc.setdefault(s.procedure, []).append(s)
    for proc, items in by_proc.items():
        for s in items[:per_procedure]:
            try:
                run = open_run(s.path)
                figures = RUN_FIGURES[proc](run)
            except (MissingStreamError, AnalysisError, ValueError, RunFileError) as exc:
                log.warning("%s: no figure: %s", s.run, exc)
                continue
            for k, (fig, caption) in enumerate(figures):
                emit(fig, Path(s.run).stem + (f"_{k + 1}" if k else ""), caption, _SECTION.get(proc, proc))

    # pooled: level histograms of all write-verify runs, by level number
    pooled = [s.samples for s in summary.summaries if "level_final_siemens" in s.samples]
    if pooled:
        n_runs = len(pooled)
        lv = np.concatenate([x["level"] for x in pooled])
        fig = plots.plot_level_histograms(np.concatenate([x["level_final_siemens"] for x in pooled]), lv,
                                          confidence=confidence, delay_s=0.0)
        emit(fig, "levels_histogram", "Conductance of every write-verify level read right after verify (t = 0), "
             f"one colour per level, pooled over {n_runs} run(s); shaded: each level's {confidence:.0%} interval.",
             "Programming (write-verify)")
        relaxed = np.concatenate([x.get("level_relaxed_siemens", np.full(len(x["level"]), np.nan)) for x in pooled])
        delay = np.concatenate([x.get("level_relax_s", np.full(len(x["level"]), np.nan)) for x in pooled])
        for d in np.unique(delay[np.isfinite(relaxed) & np.isfinite(delay)]):
            sel = (delay == d) & np.isfinite(relaxed)
            fig = plots.plot_level_histograms(relaxed[sel], lv[sel], confidence=confidence, delay_s=float(d))
            emit(fig, f"levels_histogram_after_{d:g}s", "Conductance of every write-verify level re-read "
                 f"{plots.format_duration(float(d))} after programming, one colour per level; shaded: each "
                 f"level's {confidence:.0%} interval.", "Programming (write-verify)")

    for fig, name, caption in _learning_figures(summary, confidence):
        emit(fig, name, caption, "Learning")

    devices = summary.devices
    if len(devices) >= 3 and {"hrs_ohm", "lrs_ohm"} <= set(devices.columns) and devices["hrs_ohm"].notna().sum() >= 3:
        fig = plots.plot_resistance_cdf(devices["hrs_ohm"].to_numpy(float, na_value=np.nan),
                                        devices["lrs_ohm"].to_numpy(float, na_value=np.nan))
        emit(fig, "resistance_cdf", "Cumulative distribution over devices of HRS and LRS at the read voltage "
             "(device-to-device variability).", "Switching")

    chips = devices.groupby("chip", sort=True) if "chip" in devices.columns else [("", devices)]
    several = "chip" in devices.columns and devices["chip"].nunique() > 1
    for chip_name, chip_devices in chips:  # one map per chip: devices of two chips never share a map
        if len(chip_devices) < 2:
            continue
        shape = _chip_shape(summary, chip_devices)
        suffix = "_" + re.sub(r"[^A-Za-z0-9]+", "-", chip_name).strip("-") if several else ""
        on_chip = f" on {chip_name}" if several else ""
        for name, label in MAP_FIGURES.items():
            if name not in chip_devices.columns:
                continue
            vals = chip_devices[name].to_numpy(float, na_value=np.nan)
            if np.isfinite(vals).sum() < 2:
                continue
            unit, meaning = FIGURES[name]
            grid = plots.chip_grid(zip(chip_devices["device_row"], chip_devices["device_col"]), vals, shape)
            fig = plots.plot_chip_map(grid, label=label, unit=unit)
            emit(fig, f"map_{name}{suffix}", f"Chip map of {name}{on_chip}: {meaning} (light grey: no value).",
                 "Chip maps")
    return out


# -- writing -----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:1em}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}
td:first-child,th:first-child{text-align:left}
.scroll{overflow-x:auto;max-height:32em}
figure{display:inline-block;width:48%;min-width:340px;vertical-align:top;margin:.5em 1% 1em 0}
figure img{width:100%}figcaption{font-size:12px;color:#444}
.warn{color:#8a4b00}
"""


def _write_html(path: Path, title: str, sources: list[str], summary: Summary, figures: list[_Figure],
                groups: list[tuple[str, pd.DataFrame]], tables: list[Path], max_rows: int) -> None:
    root = path.parent
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    n_runs = summary.runs["run"].nunique() if len(summary.runs) else 0
    parts.append(f"<p>Source: {e(', '.join(sources))}<br>{summary.files} files, {n_runs} runs analysed, "
                 f"{len(summary.devices)} devices, {len(summary.skipped)} files skipped. "
                 f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>")
    parts.append("<p>Tables: " + " · ".join(f"<a href='{e(p.relative_to(root).as_posix())}'>{e(p.name)}</a>"
                                             for p in tables) + "</p>")
    if summary.skipped or summary.errors:
        parts.append("<h2>Problems</h2><ul class='warn'>")
        parts += [f"<li>skipped <code>{e(Path(p).name)}</code>: {e(why)}</li>" for p, why in summary.skipped]
        parts += [f"<li>no figures for <code>{e(r)}</code>: {e(why)}</li>" for r, why in summary.errors]
        parts.append("</ul>")
    if len(summary.chip):
        parts += ["<h2>Chip summary</h2>", _html_table(summary.chip)]
    parts.append("<h2>Devices</h2>")
    if len(summary.devices) > max_rows:
        parts.append(f"<p>First {max_rows} of {len(summary.devices)} devices; all are in devices.csv.</p>")
    for name, df in groups:
        parts += [f"<h3>{e(name)}</h3>", _html_table(df.head(max_rows))]
    sections = list(dict.fromkeys(f.section for f in figures))
    if sections:
        parts.append("<h2>Figures</h2>")
    for sec in sections:
        parts.append(f"<h3>{e(sec)}</h3>")
        for f in (f for f in figures if f.section == sec):
            rel = f.path.relative_to(root).as_posix()
            parts.append(f"<figure><a href='{e(rel)}'><img src='{e(rel)}' alt='{e(f.caption)}'></a>"
                         f"<figcaption>{e(f.caption)}</figcaption></figure>")
    legend = pd.DataFrame([(k, u, d) for k, (u, d) in FIGURES.items() if k in summary.devices.columns
                           or k in summary.runs.columns], columns=["figure", "unit", "definition"])
    if len(legend):
        parts += ["<h2>Definitions</h2>", f"<p>{e(_HOW_TO_READ)} Each figure's method, uncertainty and "
                  "the conditions under which it is not determined are documented in docs/analysis.md "
                  "and in the docstrings of analysis.metrics.</p>", _html_table(legend)]
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def write_report(paths: PathLike | Iterable[PathLike], out_dir: PathLike, *, title: str = "memlab report",
                 plots_per_procedure: int = 2, max_table_rows: int = 200, confidence: float = 0.99,
                 summary: Summary | None = None, **summarize_options: Any) -> ReportResult:
    """Analyse the run files under ``paths`` and write the report into ``out_dir``.

    :param plots_per_procedure: runs of each procedure drawn as figures (the earliest).
    :param max_table_rows: device rows shown in Markdown/HTML (the CSV has all).
    :param summary: a :class:`Summary` already computed for ``paths`` (skips recomputing).
    :param summarize_options: filters and scheduler, passed to :func:`memlab.analysis.parallel.summarize`.
    """
    if plots_per_procedure < 0:
        raise ValueError(f"plots_per_procedure={plots_per_procedure!r}: allowed >= 0")
    if max_table_rows < 1:
        raise ValueError(f"max_table_rows={max_table_rows!r}: allowed >= 1")
    sources = [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if summary is None:
        summary = summarize(paths, confidence=confidence, **summarize_options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig_dir = out / "figures"
    tables: list[Path] = []

    devices = _nonempty(summary.devices)
    flat_table(devices).to_csv(out / "devices.csv", index=False)
    groups = _device_groups(devices)
    md = [f"# {title}", "", f"Per-device figures of merit from {', '.join(sources)}: "
          f"{len(summary.devices)} devices. Units are in the column names (SI); blank = not measured. "
          f"{_HOW_TO_READ}", ""]
    if len(devices) > max_table_rows:
        md += [f"First {max_table_rows} of {len(devices)} devices; all are in devices.csv.", ""]
    for name, df in groups:
        md += [f"## {name}", "", markdown_table(df.head(max_table_rows)), ""]
    (out / "devices.md").write_text("\n".join(md), encoding="utf-8")
    tables += [out / "devices.csv", out / "devices.md"]

    flat_table(summary.chip).to_csv(out / "chip.csv", index=False)
    (out / "chip.md").write_text(f"# {title}: chip summary\n\n{_HOW_TO_READ}\n\n" + markdown_table(summary.chip)
                                 + "\n", encoding="utf-8")
    tables += [out / "chip.csv", out / "chip.md"]
    flat_table(_nonempty(summary.runs)).to_csv(out / "runs.csv", index=False)
    tables.append(out / "runs.csv")
    if summary.skipped:
        pd.DataFrame(summary.skipped, columns=["path", "reason"]).to_csv(out / "skipped.csv", index=False)
        tables.append(out / "skipped.csv")

    figures = _make_figures(summary, fig_dir, plots_per_procedure, confidence) if plots_per_procedure else []
    index = out / "index.html"
    _write_html(index, title, sources, summary, figures, groups, tables, max_table_rows)
    return ReportResult(out, index, summary, [f.path for f in figures], tables)
