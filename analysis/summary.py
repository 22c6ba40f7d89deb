"""Figures of merit of whole runs, per device, and the tables built from many runs.

:func:`summarize_run` reads the streams a run's procedure writes (docs/procedure-streams.md) and
applies the metric functions of :mod:`memlab.analysis.metrics`, giving one row of figures per device
(or one chip-level row, for runs such as ``vmm`` that use the whole array). Column names carry
their SI unit: ``_v`` volts, ``_a`` amperes, ``_ohm``, ``_siemens``, ``_s`` seconds; names
without a unit are ratios, counts or fractions.

:func:`device_table` turns the rows of many runs into one row per device (when a device has been
measured by several runs, the latest run's value of each figure wins), and :func:`chip_table`
gives figures over devices: median, device-to-device coefficient of variation, yield, and the
figures that pool several runs (distinguishable levels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from memlab.analysis import metrics as m
from memlab.analysis.errors import AnalysisError, MissingStreamError
from memlab.analysis.metrics.fom import (
    FigureOfMerit,
    cv_figure,
    is_figure,
    mean_figure,
    median_figure,
    ratio_of_means_figure,
)
from memlab.analysis.loading import Run, RunFilter, skip_reason
from memlab.analysis.metrics.optical import coincidence_window
from memlab.storage import RunFileError

__all__ = [
    "RunSummary", "SUMMARIZERS", "FIGURES", "summarize_run", "summarize_file", "run_table",
    "device_table", "chip_table", "DEFAULT_READ_VOLTAGE_V", "DEFAULT_MIN_WINDOW", "SKIP_CYCLES", "SET_METHOD", "RESET_METHOD", "COUNTS",
    "as_figure", "RunPhotoResponse", "photoresponse_of_run", "RunSpectralEdge", "spectral_edge_of_run",
]

DEFAULT_READ_VOLTAGE_V = 0.1
"""Read voltage of the HRS/LRS of I-V loops of runs whose metadata has no ``read_v`` parameter."""
DEFAULT_MIN_WINDOW = 2.0
"""Endurance: Gset/Greset below which a device has failed, for runs that record no ``min_window``."""
SKIP_CYCLES = 1
"""Cycle-to-cycle figures leave out this many first cycles (the forming/first loop)."""
SET_METHOD, RESET_METHOD = "jump", "peak"
"""How I-V loops locate the SET and RESET events (see :data:`memlab.analysis.metrics.iv.SWITCH_METHODS`)."""

Row = dict[str, Any]

FIGURES: dict[str, tuple[str, str]] = {
    # name: (unit, meaning) -- the legend of every table; every value is a FigureOfMerit
    # (value with its 95 % interval, or not determined with the reason) unless it is a count
    "set_voltage_v": ("V", "SET voltage at the switching event (mean over cycles after the first)"),
    "reset_voltage_v": ("V", "RESET voltage at the switching event (mean over cycles after the first)"),
    "hrs_ohm": ("ohm", "high-resistance state at the read voltage"),
    "lrs_ohm": ("ohm", "low-resistance state at the read voltage"),
    "on_off_ratio": ("", "HRS / LRS"),
    "set_voltage_c2c_cv": ("", "cycle-to-cycle CV of the SET voltage (first cycle left out)"),
    "reset_voltage_c2c_cv": ("", "cycle-to-cycle CV of the RESET voltage (first cycle left out)"),
    "hrs_c2c_cv": ("", "cycle-to-cycle CV of HRS (first cycle left out)"),
    "lrs_c2c_cv": ("", "cycle-to-cycle CV of LRS (first cycle left out)"),
    "switching_cycles": ("", "I-V or switching cycles recorded (count)"),
    "formed": ("", "1 if the device formed"),
    "forming_voltage_v": ("V", "forming voltage (interval: the step it formed on)"),
    "levels_programmed": ("", "write-verify levels attempted (count)"),
    "distinguishable_levels": ("", "levels with non-overlapping 99 % intervals, right after verify (t = 0)"),
    "distinguishable_levels_relaxed": ("", "levels with non-overlapping 99 % intervals, after relax_s"),
    "levels_relax_s": ("s", "delay after programming of the relaxed count (a setting)"),
    "pulses_per_level": ("", "mean write-verify pulses per level"),
    "final_error": ("", "mean |final - target| / target"),
    "write_verify_success": ("", "fraction of levels within tolerance"),
    "dynamic_range": ("", "Gmax / Gmin of the fitted potentiation branch"),
    "nonlinearity_potentiation": ("", "NL label +Pmax/A of the potentiation branch"),
    "nonlinearity_depression": ("", "NL label -Pmax/A of the depression branch"),
    "a_norm_potentiation": ("", "A / Pmax of the potentiation branch"),
    "a_norm_depression": ("", "A / Pmax of the depression branch"),
    "step_fraction_potentiation": ("", "fraction of remaining range per potentiating pulse"),
    "step_fraction_depression": ("", "fraction of remaining range per depressing pulse"),
    "asymmetry": ("", "asymmetric nonlinearity (0 symmetric .. 1)"),
    "step_noise": ("", "c2c step noise, fraction of Gmax - Gmin"),
    "conductance_siemens": ("S", "conductance read (mean of repeated reads)"),
    "read_noise_cv": ("", "CV of repeated reads"),
    "drift_nu": ("", "power-law drift exponent nu"),
    "drift_log_siemens": ("S", "log-time drift per e-fold of time"),
    "drift_law": ("", "better-fitting drift law"),
    "time_to_10pct_loss_s": ("s", "time to a 10 % conductance loss (at most 10x the measured time)"),
    "cycles_to_failure": ("", "endurance: first failing cycle"),
    "cycles_tested": ("", "endurance: last cycle recorded (count)"),
    "endurance_failed": ("", "1 if the window closed"),
    "initial_window": ("", "Gset/Greset at the start of cycling (median)"),
    "final_window": ("", "Gset/Greset at the end of cycling (median)"),
    "relaxation_tau_s": ("s", "relaxation time constant after a stimulus (shunting release separated)"),
    "photo_exponent": ("", "gamma of the combined law (G + a P^gamma) / (1 + k P) - G (the dark reads' residual "
                           "photoconductance of the previous light modelled)"),
    "shunt_coefficient_per_w": ("1/W", "shunting coefficient k of the combined photo-response law"),
    "rise_tau_s": ("s", "photoconductance rise time constant tau_on (continuous-illumination step)"),
    "decay_tau_s": ("s", "photoconductance decay time constant tau_ph (after the step's light)"),
    "band_gap_ev": ("eV", "optical gap E_g of the absorption edge (spectral response)"),
    "urbach_energy_ev": ("eV", "Urbach energy E_U of the absorption tail (spectral response)"),
    "eligibility_tau_s": ("s", "three-factor eligibility time constant, light then pulses (through the step law "
                          "when the run has two train sizes, else a plain exponential: biased high)"),
    "eligibility_pulse_light_tau_s": ("s", "three-factor window time constant, pulses then light"),
    "gating_ratio": ("", "|dG| with light / without"),
    "vmm_rmse_a": ("A", "VMM output RMSE against the read-back weights"),
    "vmm_nrmse": ("", "VMM RMSE / output range, against the read-back weights"),
    "vmm_bias_a": ("A", "VMM mean error against the read-back weights"),
    "vmm_correlation": ("", "VMM measured vs read-back-weight product correlation"),
    "vmm_gain": ("", "VMM measured / read-back-weight product slope"),
    "vmm_rmse_intended_a": ("A", "VMM output RMSE against the intended weights"),
    "vmm_nrmse_intended": ("", "VMM RMSE / output range, against the intended weights"),
    "vmm_bias_intended_a": ("A", "VMM mean error against the intended weights"),
    "vmm_gain_intended": ("", "VMM measured / intended product slope"),
    "vmm_weight_error": ("", "programmed vs intended weights, relative RMS"),
    "xor_accuracy": ("", "fraction of XOR outputs correct, over the trials at the threshold (calibration left out)"),
    "train_test_accuracy": ("", "crossbar-train: hardware network's test accuracy at the last epoch"),
    "train_float_test_accuracy": ("", "crossbar-train: floating-point network's test accuracy at the last epoch"),
    "train_accuracy_gap": ("", "crossbar-train: floating-point - hardware test accuracy (Newcombe interval)"),
    "train_pulses_per_weight": ("", "crossbar-train: update pulses per weight device over the run"),
    "train_pulse_energy_j": ("J", "crossbar-train: ohmic energy of the update pulses in the devices (estimate)"),
    "train_failed_devices": ("", "crossbar-train: weight devices whose conductance never moved 2 % (stuck, or never updated; count)"),
    "maze_episodes_to_learn": ("", "maze-rl: first episode from which every episode takes <= 1.5 x the shortest path"),
    "maze_baseline_episodes_to_learn": ("", "maze-rl: the same for the software agent on ideal weights"),
    "maze_final_steps": ("", "maze-rl: mean steps of the last 5 episodes"),
    "maze_pulses_per_device": ("", "maze-rl: eligibility pulses per action device over the run"),
    "maze_pulse_energy_j": ("J", "maze-rl: ohmic energy of the eligibility pulses in the devices (estimate)"),
    "maze_light_energy_j": ("J", "maze-rl: optical energy of the reward pulses (power x width)"),
}

COUNTS = ("switching_cycles", "levels_programmed", "cycles_tested", "formed", "endurance_failed",
          "levels_relax_s", "drift_law", "train_failed_devices")
"""Columns that are counts, flags, settings or labels: exact, so no interval."""


@dataclass
class RunSummary:
    """What one run contributes: its metadata, figure rows and pooled samples, or why not."""

    run: str
    path: str
    procedure: str = ""
    status: str = ""
    start_time: pd.Timestamp | None = None
    rows: list[Row] = field(default_factory=list)
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    """Raw values chip-level figures pool across runs (e.g. write-verify finals per level)."""
    error: str = ""
    """Why this run's figures could not be computed (a missing stream, unusable data)."""
    skipped: str = ""
    """Why the file was skipped altogether (corrupted, interrupted, still being written)."""
    notes: list[str] = field(default_factory=list)
    """Figures left NaN and why."""
    chip: str = ""
    """Which chip the run measured (family, size, seed), so devices of two chips never merge."""


def _param(run: Run, name: str, default: Any = None) -> Any:
    """A run parameter by its canonical name (``read_v`` for every read voltage)."""
    value = run.parameter(name)
    return default if value is None else value


def as_figure(value: Any, what: str = "") -> FigureOfMerit:
    """A :class:`FigureOfMerit` from what a metric returned: itself, or, for a bare number
    from a method that gives no uncertainty, "not determined" saying so (never a bare number)."""
    if is_figure(value):
        return value
    for attr in ("figure", "value", "tau_figure", "exponent_figure"):
        inner = getattr(value, attr, None)
        if is_figure(inner):
            return inner
    return FigureOfMerit.not_determined(f"{what or 'this method'} gives no uncertainty")


def _device(run: Run) -> tuple[Any, Any]:
    dev = run.device
    return (dev[0], dev[1]) if dev else (pd.NA, pd.NA)


def _one(run: Run, figures: Row) -> list[Row]:
    row, col = _device(run)
    return [{"device_row": row, "device_col": col, **figures}]


def _attempt(notes: list[str], what: str, fn: Callable[[], Row]) -> Row:
    """Figures from ``fn``, or an empty dict and a note when the data do not allow them."""
    try:
        return fn()
    except (AnalysisError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        notes.append(f"{what}: {exc}")
        return {}


def _iv_figures(s: m.IVSummary) -> Row:
    return {
        "set_voltage_v": s.set_voltage_v, "reset_voltage_v": s.reset_voltage_v,
        "hrs_ohm": s.hrs_ohm, "lrs_ohm": s.lrs_ohm, "on_off_ratio": s.on_off_ratio,
        "set_voltage_c2c_cv": s.set_voltage_cv, "reset_voltage_c2c_cv": s.reset_voltage_cv,
        "hrs_c2c_cv": s.hrs_cv, "lrs_c2c_cv": s.lrs_cv, "switching_cycles": s.cycles,
    }


def _iv_sweep(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("iv", ("cycle", "voltage", "current"), purpose="the I-V figures")
    v_read = float(_param(run, "read_v", DEFAULT_READ_VOLTAGE_V))
    polarity = int(_param(run, "set_polarity", 1))
    figs = _attempt(notes, "I-V loops", lambda: _iv_figures(m.iv_summary(
        a["voltage"], a["current"], a["cycle"], read_voltage_v=v_read, set_polarity=polarity,
        skip_cycles=SKIP_CYCLES, set_method=SET_METHOD, reset_method=RESET_METHOD)))
    return _one(run, figs), {}


def _switching(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("switching", ("cycle", "polarity", "voltage", "resistance"),
                   purpose="the switching figures")
    figs = _attempt(notes, "switching", lambda: _iv_figures(m.switching_summary(
        a["cycle"], a["polarity"], a["voltage"], a["resistance"], skip_cycles=SKIP_CYCLES)))
    return _one(run, figs), {}


def _forming(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("forming", ("voltage", "current", "resistance"), purpose="the forming figures")
    threshold = _param(run, "target_resistance_ohm")

    def figs() -> Row:
        if len(a["voltage"]) == 0:
            raise AnalysisError("the forming stream is empty")
        fp = m.forming_point(a["voltage"], a["current"], a["resistance"],
                             threshold_ohm=None if threshold is None else float(threshold))
        return {"formed": int(fp.formed), "forming_voltage_v": fp.voltage}
    return _one(run, _attempt(notes, "forming", figs)), {}


def _write_verify(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("levels", ("level", "target", "final", "pulses", "success"),
                   purpose="the programming figures")
    relaxed = _optional_column(run, "levels", "relaxed", len(a["level"]))
    relax_s = float(_param(run, "relax_s", 0.0))

    def figs() -> Row:
        if len(a["level"]) == 0:
            raise AnalysisError("the levels stream is empty")
        out: Row = {
            "levels_programmed": int(np.unique(a["level"]).size),
            "pulses_per_level": m.pulses_per_level(a["pulses"]),
            "final_error": m.final_error(a["final"], a["target"]),
            "write_verify_success": m.write_verify_success_rate(a["success"]),
            "distinguishable_levels": m.distinguishable_levels(a["final"], a["level"]),
        }
        if np.isfinite(relaxed).any():
            out["distinguishable_levels_relaxed"] = m.distinguishable_levels(relaxed, a["level"])
            out["levels_relax_s"] = relax_s
        return out
    samples = {"level": np.asarray(a["level"], float), "level_target_siemens": np.asarray(a["target"], float),
               "level_final_siemens": np.asarray(a["final"], float),
               "level_relaxed_siemens": relaxed, "level_relax_s": np.full(len(a["level"]), relax_s)}
    return _one(run, _attempt(notes, "write-verify", figs)), samples


def _optional_column(run: Run, stream: str, column: str, n: int) -> np.ndarray:
    """A column older files may lack: NaN when absent."""
    try:
        return np.asarray(run.arrays(stream, (column,))[column], float)
    except (MissingStreamError, AnalysisError, KeyError):
        return np.full(n, np.nan)


def _pulsed_iv(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    # a pulsed I-V run has no figure of merit with an uncertainty (its plot shows the response)
    return _one(run, {}), {}


def _potentiation(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("pulses", ("repeat", "polarity", "conductance"),
                   purpose="the potentiation/depression figures")

    def figs() -> Row:
        r = m.potentiation_depression(a["repeat"], a["polarity"], a["conductance"])
        return {"dynamic_range": r.dynamic_range, "asymmetry": r.asymmetry, "step_noise": r.step_noise_range,
                "nonlinearity_potentiation": r.nonlinearity_potentiation,
                "nonlinearity_depression": r.nonlinearity_depression,
                "a_norm_potentiation": r.a_norm_potentiation, "a_norm_depression": r.a_norm_depression,
                "step_fraction_potentiation": r.step_fraction_potentiation,
                "step_fraction_depression": r.step_fraction_depression}
    return _one(run, _attempt(notes, "potentiation/depression", figs)), {}


def _per_device(run: Run, stream: str, columns: tuple[str, ...], purpose: str
                ) -> Iterable[tuple[tuple[int, int], dict[str, np.ndarray]]]:
    """Rows of a stream with row/col columns, grouped by device."""
    a = run.arrays(stream, ("row", "col", *columns), purpose=purpose)
    rows, cols = np.asarray(a["row"], int), np.asarray(a["col"], int)
    if rows.size == 0:
        return
    keys = rows.astype(np.int64) * (int(cols.max()) + 1) + cols
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    for idx in np.split(order, bounds):
        yield (int(rows[idx[0]]), int(cols[idx[0]])), {c: a[c][idx] for c in columns}


def _readout(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    out = []
    for (r, c), a in _per_device(run, "reads", ("conductance",), "the readout figures"):
        g = np.asarray(a["conductance"], float)
        out.append({"device_row": r, "device_col": c, "conductance_siemens": mean_figure(g, what="reads"),
                    "read_noise_cv": cv_figure(g, what="reads")})
    return out, {}


def _retention(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    out = []
    loss = float(_param(run, "loss_fraction", 0.1))
    for (r, c), a in _per_device(run, "retention", ("time", "conductance"), "the retention figures"):
        def figs(a: dict = a) -> Row:
            res = m.retention(a["time"], a["conductance"], loss_fraction=loss)
            return {"drift_nu": res.drift_nu, "drift_log_siemens": res.drift_log_s,
                    "drift_law": res.best, "time_to_10pct_loss_s": res.time_to_loss}
        out.append({"device_row": r, "device_col": c, **_attempt(notes, f"retention r{r}c{c}", figs)})
    return out, {}


def _endurance(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("endurance", ("cycle", "window"), purpose="the endurance figures")
    min_window = float(_param(run, "min_window", DEFAULT_MIN_WINDOW))
    confirm = int(_param(run, "confirm", 1))  # records in a row below the window that make a failure

    def figs() -> Row:
        if len(a["cycle"]) == 0:
            raise AnalysisError("the endurance stream is empty")
        e = m.cycles_to_failure(a["cycle"], a["window"], min_window=min_window, consecutive=confirm)
        return {"cycles_to_failure": e.cycles_to_failure, "cycles_tested": e.cycles_tested,
                "endurance_failed": int(e.failed), "initial_window": e.initial_window,
                "final_window": e.final_window}
    return _one(run, _attempt(notes, "endurance", figs)), {}


def _relaxation(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("decay", ("time", "conductance"), purpose="the relaxation time constant")
    figs = _attempt(notes, "relaxation", lambda: {
        "relaxation_tau_s": m.relaxation_fit(a["time"], a["conductance"]).tau})
    return _one(run, figs), {}


def estimate_figure(est: Any) -> FigureOfMerit:
    """A :class:`FigureOfMerit` from an optical fit's :class:`~memlab.analysis.metrics.optical.Estimate`
    (value, standard error and the fit's degrees of freedom), or not determined with its reason."""
    if not est.determined:
        return FigureOfMerit.not_determined(est.reason, est.n)
    dof = int(est.dof) if math.isfinite(est.dof) and est.dof >= 1 else None
    return FigureOfMerit.from_stderr(est.value, est.stderr, est.n, dof=dof)


@dataclass(frozen=True)
class RunPhotoResponse:
    """The photo-response law of an optical-pulses run (:func:`photoresponse_of_run`)."""

    fit: m.PhotoResponseFit
    corrected: bool
    """whether each dark read's residual photoconductance is modelled (or known negligible)."""
    note: str
    """why it is not corrected, or how large the modelled residual is ("" when negligible)."""
    residual_fraction: float
    """the largest share of the previous light's photoconductance in a dark read (NaN if unknown)."""


#: a residual below this share of the previous light's photoconductance goes without a note
NOTED_RESIDUAL = 1e-3


def _train_reach(run: Run, tau_ph_s: float, tau_on_s: float) -> float:
    """The pulse train's photoconductance at its last light-off, in units of the steady one at its
    power: each pulse closes ``1 - exp(-width / tau_on)`` of the gap (all of it without a rise
    time), the dark between pulses relaxes it by ``exp(-(interval - width) / tau_ph)``."""
    count, width, interval = (int(_param(run, "count", 0)), float(_param(run, "width_s", 0.0)),
                              float(_param(run, "interval_s", 0.0)))
    close = -math.expm1(-width / tau_on_s) if math.isfinite(tau_on_s) and tau_on_s > 0 else 1.0
    keep = math.exp(-max(interval - width, 0.0) / tau_ph_s)
    g = 0.0
    for k in range(count):
        g = 1.0 - (1.0 - g) * (1.0 - close)
        if k < count - 1:
            g *= keep
    return g


_NO_DARK_WAIT = ("the run records no dark wait (no relax_s): the dark reads' residual photoconductance from the "
                 "previous light is not corrected")


def _dark_waits(run: Run, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """Each dark read's wait since the previous light-off: the ``dark_wait`` column, or (version 2
    files, which do not record it) ``relax_s`` for every read; None if neither is known."""
    if "dark_wait" in arrays:
        return np.asarray(arrays["dark_wait"], np.float64)
    relax = run.parameter("relax_s")
    return None if relax is None else np.full(np.shape(arrays["power"]), float(relax))


def _no_decay_time(step: m.StepResponse | None) -> str:
    """Why the dark reads' residual cannot be modelled for want of a decay time ("" if it can)."""
    if step is not None and step.decay_s.determined:
        return ""
    why = "no step response in the run" if step is None else step.decay_s.reason
    return (f"no photoconductance decay time measured ({why}): the dark reads' residual photoconductance "
            "from the previous light is not corrected (unbiased only if relax_s >= 5 tau_ph)")


def photoresponse_of_run(run: Run, step: m.StepResponse | None = None) -> RunPhotoResponse:
    """The combined photo-response law of an optical-pulses run, each step's dark read corrected
    for the photoconductance the previous light left in it.

    Each dark read follows the previous light (the previous step, or the pulse train before the
    first step) by the dark wait (the ``dark_wait`` column from version 3 on, ``relax_s``
    before), so it holds ``exp(-wait / tau_ph)`` of that light's photoconductance; under the next
    light that residual is replaced, so the rise comes out low by it, the more so the higher the
    previous power (a steeper shunting, a distorted gamma). The residual is modelled with the decay
    time the run's own step response measured (:func:`~memlab.analysis.metrics.optical.
    photoresponse_law_after_waits`, whose figures carry the decay time's uncertainty too). A run
    without a determined decay time, or that records no dark wait, is fitted uncorrected and says
    so in ``note`` (the twin does not use it)."""
    cols = run.streams["photoresponse"]
    a = run.arrays("photoresponse", ("power", "photoconductance", "dark_conductance")
                   + (("dark_wait",) if "dark_wait" in cols else ()), purpose="the photo-response law")
    power, rise, dark = a["power"], a["photoconductance"], a["dark_conductance"]
    if step is None and "step" in run.streams and run.rows.get("step", 0) > 0:
        s = run.arrays("step", ("time", "conductance", "lit"), purpose="the photoconductance decay time")
        step = m.step_response(s["time"], s["conductance"], s["lit"])

    def plain(note: str) -> RunPhotoResponse:
        return RunPhotoResponse(m.photoresponse_law(power, rise, dark), False, note, math.nan)

    waits = _dark_waits(run, a)
    problem = _NO_DARK_WAIT if waits is None else _no_decay_time(step)
    if problem:
        return plain(problem)
    train_power = float(_param(run, "power_w", 0.0)) if int(_param(run, "count", 0)) > 0 else 0.0
    previous = np.concatenate(([train_power], power[:-1])) if power.size else power
    tau_on = step.rise_s.value if step.rise_s.determined else math.nan
    unknown = ~np.isfinite(waits) & (previous > 0)
    if np.any(unknown):
        return plain("a dark wait after light is not recorded: the residual photoconductance is not corrected")

    def fractions(tau: float) -> np.ndarray:
        reach = np.ones(power.shape)
        if power.size:
            reach[0] = _train_reach(run, tau, tau_on) if train_power > 0 else 0.0
        return np.where(previous > 0, reach * np.exp(-np.nan_to_num(waits, nan=np.inf) / tau), 0.0)

    worst = float(np.max(fractions(step.decay_s.value), initial=0.0))
    fit = m.photoresponse_law_after_waits(power, rise, dark, previous, fractions, step.decay_s)
    note = ""
    if worst > m.MAX_RESIDUAL_FRACTION:
        note = fit.gamma.reason
        return RunPhotoResponse(fit, False, note, worst)
    if worst >= NOTED_RESIDUAL:
        note = (f"the dark reads held up to {worst:.2%} of the previous light's photoconductance (dark wait "
                f"{float(np.min(waits[previous > 0])):.3g} s, decay time {step.decay_s.value:.3g} s): modelled in "
                "the photo-response law")
    return RunPhotoResponse(fit, True, note, worst)


@dataclass(frozen=True)
class RunSpectralEdge:
    """The absorption edge of an optical-pulses run with a spectral response (:func:`spectral_edge_of_run`)."""

    fit: m.SpectralEdge
    corrected: bool
    """whether each dark read's residual photoconductance is modelled (or known negligible)."""
    note: str
    """why it is not corrected, or how large the modelled residual is ("" when negligible)."""
    residual_fraction: float
    """the largest share of the previous light's photoconductance in a dark read (NaN if unknown)."""


def spectral_edge_of_run(run: Run, step: m.StepResponse | None = None) -> RunSpectralEdge:
    """The absorption edge of an optical-pulses run (the photo-response and the spectral steps
    fitted together, :func:`~memlab.analysis.metrics.optical.spectral_edge`), each dark read
    corrected for the photoconductance the previous light left in it, as
    :func:`photoresponse_of_run` does for the photo-response.

    A spectral step's dark read follows the previous spectral step (the photo-response's last
    power before the first one) by its ``dark_wait`` (``relax_s`` in version 2 files) and holds
    ``exp(-wait / tau_ph)`` of that light's photoconductance, which depends on the previous
    wavelength's absorption; under the next light it is replaced, so the rise comes out low by it.
    It is modelled inside the edge's fit with the decay time the run's own step measured, and the
    figures carry that decay time's uncertainty
    (:func:`~memlab.analysis.metrics.optical.spectral_edge_after_waits`). A run without a
    determined decay time or recorded waits is fitted uncorrected and says so in ``note``."""
    s = run.arrays("spectral", ("wavelength", "power", "photoconductance", "dark_conductance")
                   + (("dark_wait",) if "dark_wait" in run.streams["spectral"] else ()),
                   purpose="the absorption edge")
    ph = run.arrays("photoresponse", ("power", "photoconductance", "dark_conductance", "wavelength")
                    + (("dark_wait",) if "dark_wait" in run.streams["photoresponse"] else ()),
                    purpose="the absorption edge")
    if not len(s["wavelength"]) or not np.isfinite(ph["wavelength"]).any():
        raise AnalysisError("no spectral steps, or no photo-response wavelength to calibrate them")
    reference = float(np.nanmedian(ph["wavelength"]))
    args = (ph["power"], ph["photoconductance"], ph["dark_conductance"], reference, s["wavelength"], s["power"],
            s["photoconductance"], s["dark_conductance"])
    if step is None and "step" in run.streams and run.rows.get("step", 0) > 0:
        t = run.arrays("step", ("time", "conductance", "lit"), purpose="the photoconductance decay time")
        step = m.step_response(t["time"], t["conductance"], t["lit"])

    def plain(note: str) -> RunSpectralEdge:
        return RunSpectralEdge(m.spectral_edge(*args), False, note, math.nan)

    waits = [_dark_waits(run, a) for a in (ph, s)]
    problem = _NO_DARK_WAIT if any(w is None for w in waits) else _no_decay_time(step)
    if problem:
        return plain(problem)
    train_power = float(_param(run, "power_w", 0.0)) if int(_param(run, "count", 0)) > 0 else 0.0
    power, wavelength = np.asarray(ph["power"], np.float64), np.asarray(ph["wavelength"], np.float64)
    # every light in the order it came: the train (at the run's wavelength), the powers, the spectral steps
    lights_p = np.concatenate(([train_power], power, s["power"]))
    lights_w = np.concatenate(([reference], wavelength, s["wavelength"]))
    prev_p, prev_w = lights_p[:-1], lights_w[:-1]
    wait = np.concatenate(waits)
    tau_on = step.rise_s.value if step.rise_s.determined else math.nan
    if np.any(~np.isfinite(wait) & (prev_p > 0)):
        return plain("a dark wait after light is not recorded: the residual photoconductance is not corrected")
    n_ph = power.size

    def fractions(tau: float) -> tuple[np.ndarray, np.ndarray]:
        reach = np.ones(prev_p.shape)
        reach[0] = _train_reach(run, tau, tau_on) if train_power > 0 else 0.0
        f = np.where(prev_p > 0, reach * np.exp(-np.nan_to_num(wait, nan=np.inf) / tau), 0.0)
        return f[:n_ph], f[n_ph:]

    worst = float(max(np.max(f, initial=0.0) for f in fractions(step.decay_s.value)))
    fit = m.spectral_edge_after_waits(*args, previous_power_w=prev_p[:n_ph], previous_wavelength_m=prev_w[:n_ph],
                                      spectral_previous_power_w=prev_p[n_ph:],
                                      spectral_previous_wavelength_m=prev_w[n_ph:], residual_fraction=fractions,
                                      tau_ph=step.decay_s)
    if worst > m.MAX_RESIDUAL_FRACTION:
        return RunSpectralEdge(fit, False, fit.band_gap_ev.reason, worst)
    note = ""
    if worst >= NOTED_RESIDUAL:
        note = (f"the dark reads held up to {worst:.2%} of the previous light's photoconductance (decay time "
                f"{step.decay_s.value:.3g} s): modelled in the absorption edge's fit")
    return RunSpectralEdge(fit, True, note, worst)


def _optical(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    if not {"photoresponse", "step"} & set(run.streams):
        run.require("photoresponse", purpose="the optical figures")
    figs: Row = {}
    step: m.StepResponse | None = None
    if "step" in run.streams and run.rows.get("step", 0) > 0:
        def times() -> Row:
            nonlocal step
            s = run.arrays("step", ("time", "conductance", "lit"))
            step = m.step_response(s["time"], s["conductance"], s["lit"])
            return {"rise_tau_s": estimate_figure(step.rise_s), "decay_tau_s": estimate_figure(step.decay_s)}
        figs.update(_attempt(notes, "step response", times))
    else:
        # a pulse train mixes rise and decay (each read follows a pulse in the dark): no time constant
        reason = "no continuous-illumination step in the run (a pulse train does not separate rise and decay)"
        figs.update({"rise_tau_s": FigureOfMerit.not_determined(reason),
                     "decay_tau_s": FigureOfMerit.not_determined(reason)})
    if "photoresponse" in run.streams:
        def photo() -> Row:
            if "dark_conductance" not in run.streams["photoresponse"]:
                reason = ("the photoresponse stream has no dark conductance, which the combined "
                          "photoconductance-plus-shunting law needs")
                return {"photo_exponent": FigureOfMerit.not_determined(reason),
                        "shunt_coefficient_per_w": FigureOfMerit.not_determined(reason)}
            found = photoresponse_of_run(run, step)
            if found.note:
                notes.append(f"photo-response: {found.note}")
            return {"photo_exponent": estimate_figure(found.fit.gamma),
                    "shunt_coefficient_per_w": estimate_figure(found.fit.k_shunt_per_w)}
        # figures in the order the table has always shown them
        figs = {**_attempt(notes, "photo-response", photo), **figs}
    if "spectral" in run.streams and "photoresponse" in run.streams and "wavelength" in run.streams["photoresponse"]:
        def edge() -> Row:
            found = spectral_edge_of_run(run, step)
            if found.note:
                notes.append(f"absorption edge: {found.note}")
            return {"band_gap_ev": estimate_figure(found.fit.band_gap_ev),
                    "urbach_energy_ev": estimate_figure(found.fit.urbach_energy_ev)}
        figs.update(_attempt(notes, "absorption edge", edge))
    return _one(run, figs), {}


def _estimate_figure(estimate: Any) -> FigureOfMerit:
    """An optical :class:`Estimate` as a figure (95 % interval from its degrees of freedom)."""
    if not estimate.determined:
        return FigureOfMerit.not_determined(estimate.reason, estimate.n)
    dof = int(estimate.dof) if math.isfinite(estimate.dof) else None
    reason = "" if estimate.quality == "good" else "relative standard error 10-50 %"
    return FigureOfMerit.from_stderr(estimate.value, estimate.stderr, estimate.n, dof=dof, reason=reason)


def _three_factor(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    columns = run.streams.get("coincidence", [])
    sized = "pulses" in columns  # version 2 on: trials of two train sizes
    a = run.arrays("coincidence", ("delay", "delta", "conductance_before") + (("pulses",) if sized else ()),
                   purpose="the three-factor figures")

    def figs() -> Row:
        d, y = np.asarray(a["delay"], float), np.asarray(a["delta"], float)
        counts = np.asarray(a["pulses"], float) if sized else np.ones(d.size)
        # the window of the run's own train size; the other size only serves the step law's fit
        main = counts == float(run.parameter("pulses", np.min(counts) if counts.size else 1))
        if not main.any():
            main = np.ones(d.size, bool)
        d_all, y_all = d, y
        d, y = d[main], y[main]
        lit = np.isfinite(d)
        if not lit.any() or lit.all():
            raise AnalysisError("the gating ratio needs trials both with light (a delay) and without (NaN delay)")
        coincident = lit & (d == np.min(d[lit]))
        if np.unique(counts).size >= 2:  # through the step law: unbiased by its saturation
            tau = estimate_figure(m.eligibility_soft_bound(d_all, a["conductance_before"], y_all, counts))
        else:
            try:
                tau = m.eligibility_time_constant(d, y).tau_figure
            except ValueError as exc:
                tau = FigureOfMerit.not_determined(str(exc), int(lit.sum()))
        # the other order (pulses, then light) from the joint fit of both orders with one baseline
        window = coincidence_window(d, y)
        return {"eligibility_tau_s": tau, "eligibility_pulse_light_tau_s": estimate_figure(window.tau_pulse_light_s),
                "gating_ratio": ratio_of_means_figure(y[coincident], y[~lit])}
    return _one(run, _attempt(notes, "three-factor", figs)), {}


def _chip_row(figs: Row) -> list[Row]:
    return [{"device_row": pd.NA, "device_col": pd.NA, **figs}]


def _vmm(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("vmm", ("measured", "ideal"), purpose="the VMM error statistics")

    def figs() -> Row:
        e = m.vmm_errors(a["measured"], a["ideal"])
        return {"vmm_rmse_a": e.rmse_a, "vmm_nrmse": e.nrmse, "vmm_bias_a": e.mean_error_a,
                "vmm_correlation": e.correlation, "vmm_gain": e.gain}
    out = _attempt(notes, "VMM", figs)
    if "weights" in run.streams:
        w = run.arrays("weights", ("target", "programmed"))
        out.update(_attempt(notes, "VMM weights", lambda: {
            "vmm_weight_error": m.weight_error(w["programmed"], w["target"])}))

        def intended() -> Row:
            x = run.arrays("vmm", ("inputs",))["inputs"]
            e = m.vmm_errors(a["measured"], m.intended_outputs(x, w["target"]))
            return {"vmm_rmse_intended_a": e.rmse_a, "vmm_nrmse_intended": e.nrmse,
                    "vmm_bias_intended_a": e.mean_error_a, "vmm_gain_intended": e.gain}
        out.update(_attempt(notes, "VMM against the intended weights", intended))
    return _chip_row(out), {}


def _xor(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    cols = ("output", "expected") + (("trial",) if "trial" in run.streams.get("truth_table", []) else ())
    a = run.arrays("truth_table", cols, purpose="the XOR accuracy")

    def figs() -> Row:
        # calibration trials (trial < 0) set the threshold: scoring them would be in-sample
        keep = np.asarray(a["trial"]) >= 0 if "trial" in a else np.ones(len(a["output"]), bool)
        out, expected = np.asarray(a["output"])[keep], np.asarray(a["expected"])[keep]
        if len(out) == 0:
            raise AnalysisError("the truth table has no trials at the threshold")
        return {"xor_accuracy": m.fraction_figure(int(np.sum(out == expected)), len(out))}
    out = _attempt(notes, "XOR", figs)
    return (_one(run, out) if run.device else _chip_row(out)), {}


def _seed_group(run: Run) -> str:
    """Runs that differ only in their seed (and where they resumed from) belong to one group:
    the learning curves pooled over seeds."""
    fixed = {k: v for k, v in sorted(run.parameters.items()) if k not in ("seed", "resume_from")}
    return f"{run.procedure} {fixed}"


def _crossbar_train(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    e = run.arrays("epochs", ("epoch", "test_accuracy", "float_test_accuracy", "pulses"),
                   purpose="the crossbar-train figures")
    w = run.arrays("weights", ("g_plus", "g_minus"), purpose="the device usage")
    if len(e["epoch"]) == 0:
        raise AnalysisError("no finished epoch")

    def figs() -> Row:
        n_test = int(_param(run, "test_samples", 0))
        hw, fl = float(e["test_accuracy"][-1]), float(e["float_test_accuracy"][-1])
        g = np.concatenate([np.asarray(w["g_plus"], float), np.asarray(w["g_minus"], float)], axis=1)
        devices = int(np.prod(g.shape[1:]))
        epochs = min(len(g), len(e["pulses"]))
        set_v, reset_v = float(_param(run, "set_v", 1.6)), float(_param(run, "reset_v", -1.8))
        # an update fires as many SET as RESET pulses (one of each per pulse on a pair): the
        # mean squared amplitude is (set_v^2 + reset_v^2) / 2
        energy = m.pulse_energy_j(np.asarray(e["pulses"], float)[:epochs], math.sqrt((set_v ** 2 + reset_v ** 2) / 2),
                                  g[:epochs], float(_param(run, "width_s", 100e-9)))
        failed = m.failed_devices(g.reshape(len(g), -1)) if len(g) >= 2 else np.zeros(0, bool)
        return {"train_test_accuracy": m.fraction_figure(round(hw * n_test), n_test),
                "train_float_test_accuracy": m.fraction_figure(round(fl * n_test), n_test),
                "train_accuracy_gap": m.accuracy_gap(fl, hw, n_test),
                "train_pulses_per_weight": m.pulses_per_weight(e["pulses"], devices),
                "train_pulse_energy_j": energy,
                "train_failed_devices": int(failed.sum())}
    samples = {"learning_group": _seed_group(run), "learning_curve": np.asarray(e["test_accuracy"], float),
               "learning_curve_ideal": np.asarray(e["float_test_accuracy"], float),
               "learning_index": np.asarray(e["epoch"], int)}
    return _chip_row(_attempt(notes, "crossbar-train", figs)), samples


def _maze_rl(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    cols = ("episode", "steps", "reward", "baseline_steps")
    e = run.arrays("episodes", cols + (("pulses",) if "pulses" in run.streams.get("episodes", []) else ()),
                   purpose="the maze-rl figures")
    if len(e["episode"]) == 0:
        raise AnalysisError("no finished episode")
    size = int(_param(run, "size", 5))
    shortest = m.maze_shortest_path(size, str(_param(run, "walls", "")), str(_param(run, "goal", "")))
    if shortest is None:
        raise AnalysisError("the recorded maze has no path from the start to the goal")

    def figs() -> Row:
        steps = np.asarray(e["steps"], float)
        out: Row = {"maze_episodes_to_learn": m.episodes_to_learn(steps, shortest, episode=e["episode"]),
                    "maze_baseline_episodes_to_learn": m.episodes_to_learn(e["baseline_steps"], shortest,
                                                                           episode=e["episode"]),
                    "maze_final_steps": mean_figure(steps[-5:], what="episodes")}
        rewards = int(np.sum(e["reward"]))
        power, width = float(_param(run, "reward_power_w", 0.0)), float(_param(run, "reward_width_s", 0.0))
        out["maze_light_energy_j"] = m.FigureOfMerit.from_interval(rewards * power * width, rewards * power * width,
                                                                   rewards * power * width, rewards)
        if "pulses" in e:
            out["maze_pulses_per_device"] = m.pulses_per_weight(e["pulses"], 4 * size ** 2)
            if "values" in run.streams:
                g = np.asarray(run.arrays("values", ("conductance",))["conductance"], float)
                episodes = min(len(g), len(e["pulses"]))
                out["maze_pulse_energy_j"] = m.pulse_energy_j(
                    np.asarray(e["pulses"], float)[:episodes], float(_param(run, "pulse_v", 2.0)), g[:episodes],
                    float(_param(run, "width_s", 100e-9)))
        else:
            notes.append("maze-rl: the run records no pulses per episode (an older file)")
        return out
    samples = {"learning_group": _seed_group(run), "learning_curve": np.asarray(e["steps"], float),
               "learning_curve_ideal": np.asarray(e["baseline_steps"], float),
               "learning_index": np.asarray(e["episode"], int), "maze_shortest": np.array([shortest])}
    return _chip_row(_attempt(notes, "maze-rl", figs)), samples


Summarizer = Callable[[Run, list[str]], tuple[list[Row], dict]]

SUMMARIZERS: dict[str, Summarizer] = {
    "iv-sweep": _iv_sweep,
    "switching": _switching,
    "forming": _forming,
    "write-verify": _write_verify,
    "pulsed-iv": _pulsed_iv,
    "potentiation-depression": _potentiation,
    "readout": _readout,
    "retention": _retention,
    "endurance": _endurance,
    "relaxation": _relaxation,
    "optical-pulses": _optical,
    "three-factor": _three_factor,
    "vmm": _vmm,
    "xor": _xor,
    "crossbar-train": _crossbar_train,
    "maze-rl": _maze_rl,
}
"""Procedure name -> the function giving its figure rows. Procedures not listed (e.g.
``clock-check``) have no figures of merit; their runs still appear in the run table."""


def chip_label(chip: dict) -> str:
    """``"prgo 8x8 seed 0"``: the chip a run measured, from its /chip attributes."""
    if not chip:
        return ""
    size = f" {chip['rows']}x{chip['cols']}" if "rows" in chip and "cols" in chip else ""
    seed = f" seed {chip['seed']}" if "seed" in chip else ""
    return f"{chip.get('family', 'chip')}{size}{seed}"


def summarize_run(run: Run) -> RunSummary:
    """Figures of merit of one run (an empty summary for procedures without figures).

    A stream the figures need but the run lacks, or data they cannot be computed from, is
    recorded in ``error`` / ``notes`` rather than raised, so one odd run cannot stop a campaign.
    """
    out = RunSummary(run.name, str(run.path), run.procedure, run.status, run.start_time,
                     chip=chip_label(run.chip))
    fn = SUMMARIZERS.get(run.procedure)
    if fn is None:
        return out
    try:
        rows, samples = fn(run, out.notes)
    except (MissingStreamError, AnalysisError) as exc:
        out.error = str(exc)
        return out
    for row in rows:
        row.setdefault("run", run.name)
    out.rows, out.samples = rows, samples
    return out


def summarize_file(path: str | Path, keep: RunFilter | None = None) -> RunSummary | None:
    """Open one file and summarise it; None if ``keep`` rejects it. Never raises for bad files:
    a corrupted, interrupted or unfinished file comes back with ``skipped`` set."""
    path = Path(path)
    try:
        run = Run.open(path, keep_open=True)  # one open for the metadata and every stream
    except RunFileError as exc:
        text = str(exc)
        return RunSummary(path.name, str(path), skipped=text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text)
    with run:
        reason = skip_reason(run)
        if reason is not None:
            return RunSummary(run.name, str(path), run.procedure, run.status, run.start_time, skipped=reason)
        if keep is not None and not keep(run):
            return None
        try:
            return summarize_run(run)
        except (RunFileError, OSError) as exc:  # a stream unreadable half-way: a damaged file
            return RunSummary(run.name, str(path), run.procedure, run.status, run.start_time,
                              skipped=f"damaged: {exc}")


# -- tables ------------------------------------------------------------------------------------

def run_table(summaries: Iterable[RunSummary]) -> pd.DataFrame:
    """One row per (run, device): run metadata and every figure that run gave."""
    rows = []
    for s in summaries:
        if s.skipped:
            continue
        meta = {"run": s.run, "procedure": s.procedure, "status": s.status, "chip": s.chip,
                "start_time": s.start_time, "error": s.error, "notes": "; ".join(s.notes)}
        if not s.rows:
            rows.append({**meta, "device_row": pd.NA, "device_col": pd.NA})
        for r in s.rows:
            rows.append({**meta, **r})
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["run", "procedure", "status", "chip", "start_time", "device_row",
                                     "device_col", "error", "notes"])
    for c in ("device_row", "device_col"):
        df[c] = df[c].astype("Int64")
    first = ["run", "procedure", "status", "chip", "start_time", "device_row", "device_col"]
    figures = [c for c in FIGURES if c in df.columns]
    rest = [c for c in df.columns if c not in first and c not in figures]
    return df[first + figures + rest]


def device_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per device: each figure from the latest run that gave it, and the run count."""
    cols = ["chip", "device_row", "device_col", "runs", "procedures"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    dev = runs.dropna(subset=["device_row", "device_col"])
    if dev.empty:
        return pd.DataFrame(columns=cols)
    dev = dev.sort_values("start_time", kind="stable", na_position="first")
    figures = [c for c in FIGURES if c in dev.columns]
    keys = ["chip", "device_row", "device_col"] if "chip" in dev.columns else ["device_row", "device_col"]
    grouped = dev.groupby(keys, sort=True)
    # last() takes the last non-null value of each column: the latest run that gave the figure
    table = grouped[figures].last() if figures else grouped.size().to_frame("runs").iloc[:, :0]
    table.insert(0, "runs", grouped["run"].nunique())
    table.insert(1, "procedures", grouped["procedure"].agg(lambda p: ",".join(sorted(set(p)))))
    return table.reset_index()


_NO_D2D = ("switching_cycles", "levels_programmed", "cycles_tested", "distinguishable_levels",
           "distinguishable_levels_relaxed", "levels_relax_s")
"""Counts, not device properties: no device-to-device CV (nor for figures that are CVs)."""

FRACTIONS = ("write_verify_success", "xor_accuracy")
"""Fractions of trials: pooled over devices (Wilson interval), no device-to-device CV."""

_CHIP_LEVEL = ("vmm_rmse_a", "vmm_nrmse", "vmm_bias_a", "vmm_correlation", "vmm_gain", "vmm_rmse_intended_a",
               "vmm_nrmse_intended", "vmm_bias_intended_a", "vmm_gain_intended", "vmm_weight_error",
               "xor_accuracy")


@dataclass(frozen=True)
class ChipFigure:
    figure: str
    value: FigureOfMerit
    unit: str
    n: int
    definition: str


def _figures_of(column: pd.Series) -> list[FigureOfMerit]:
    return [v for v in column.tolist() if is_figure(v)]


def _over_devices(name: str, figs: list[FigureOfMerit], what: str) -> list[ChipFigure]:
    """The central value over devices (median from 6 devices, mean below) and the d2d CV."""
    unit, meaning = FIGURES[name]
    values = np.array([f.value for f in figs if f.determined])
    bounds = [f for f in figs if f.quality == "lower bound"]
    undetermined = len(figs) - len(values) - len(bounds)
    tail = []
    if bounds:
        tail.append(f"{len(bounds)} lower bounds left out")
    if undetermined:
        tail.append(f"{undetermined} not determined")
    note = f" ({'; '.join(tail)})" if tail else ""
    out = []
    if values.size == 0:
        if bounds and len(bounds) == len(figs):
            fig = FigureOfMerit.at_least(min(b.value for b in bounds), len(bounds),
                                         "not reached within the measurement on any device")
        else:
            reasons = sorted({f.reason for f in figs if f.reason})
            fig = FigureOfMerit.not_determined(f"no {what} determined it: " + "; ".join(reasons)[:200]
                                               if reasons else f"no {what} determined it", len(figs))
        return [ChipFigure(f"{name} median", fig, unit, len(figs), f"over {what}s of: {meaning}")]
    if name in FRACTIONS:  # pool the trials: a fraction over all devices, Wilson interval
        trials = [f.n for f in figs if f.determined]
        successes = sum(round(f.value * f.n) for f in figs if f.determined)
        out.append(ChipFigure(f"{name} pooled", m.fraction_figure(int(successes), int(sum(trials))), unit,
                              int(sum(trials)), f"pooled over {what}s of: {meaning}{note}"))
        return out
    central = median_figure(values, what=f"{what}s") if values.size >= 6 else mean_figure(values, what=f"{what}s")
    kind = "median" if values.size >= 6 else "mean"
    out.append(ChipFigure(f"{name} {kind}", central, unit, int(values.size),
                          f"{kind} over {what}s of: {meaning}{note}"))
    if name not in _NO_D2D and not name.endswith("_cv") and what == "device":
        out.append(ChipFigure(f"{name} d2d_cv", cv_figure(values, what="devices"), "", int(values.size),
                              f"device-to-device CV of: {meaning}{note}"))
    return out


def _pooled_levels(summaries: Iterable[RunSummary], confidence: float) -> list[ChipFigure]:
    """Distinguishable levels pooling every write-verify run by level number, right after
    verify and after each relaxation delay the runs used."""
    levels = [s.samples for s in summaries if "level_final_siemens" in s.samples]
    if not levels:
        return []
    lv = np.concatenate([x["level"] for x in levels])
    out = []
    final = np.concatenate([x["level_final_siemens"] for x in levels])
    n = m.distinguishable_levels(final, lv, confidence=confidence)
    out.append(ChipFigure("distinguishable levels at t = 0 (pooled)", n, "", int(np.unique(lv).size),
                          f"levels whose {confidence:.0%} intervals do not overlap, read right after "
                          "verify, pooling every write-verify run by level number"))
    relaxed = np.concatenate([x.get("level_relaxed_siemens", np.full(len(x["level"]), np.nan)) for x in levels])
    delay = np.concatenate([x.get("level_relax_s", np.full(len(x["level"]), np.nan)) for x in levels])
    for d in np.unique(delay[np.isfinite(relaxed) & np.isfinite(delay)]):
        sel = (delay == d) & np.isfinite(relaxed)
        n = m.distinguishable_levels(relaxed[sel], lv[sel], confidence=confidence)
        out.append(ChipFigure(f"distinguishable levels after {plots_time(d)} (pooled)", n, "",
                              int(np.unique(lv[sel]).size),
                              f"levels whose {confidence:.0%} intervals do not overlap, re-read {d:g} s "
                              "after programming, pooling write-verify runs by level number"))
    return out


def plots_time(seconds: float) -> str:
    """``90 s``, ``15 min``, ``2 h``, ``1.5 day``: a delay in the unit a reader thinks in."""
    for unit, size in (("day", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def chip_table(runs: pd.DataFrame, devices: pd.DataFrame, summaries: Iterable[RunSummary] = (),
               *, confidence: float = 0.99) -> pd.DataFrame:
    """Figures over the chip, each a FigureOfMerit: per-device figures' median (mean below 6
    devices) with its interval and their device-to-device CV; forming yield and endurance survival
    (Wilson intervals); distinguishable levels pooled over write-verify runs; chip-level runs.

    ``confidence`` is that of the level intervals whose overlap decides distinguishability."""
    out: list[ChipFigure] = []
    for name in FIGURES:
        if name not in devices.columns or name in _CHIP_LEVEL:
            continue
        figs = _figures_of(devices[name])
        if figs:
            out += _over_devices(name, figs, "device")
    for flag, label, definition, invert in (
            ("formed", "forming yield", "fraction of devices tried that formed", False),
            ("endurance_failed", "endurance survival", "fraction of cycled devices whose window never closed", True)):
        if flag in devices.columns:
            values = devices[flag].dropna().to_numpy(dtype=float)
            if values.size:
                k = int((1 - values).sum()) if invert else int(values.sum())
                out.append(ChipFigure(label, m.fraction_figure(k, int(values.size)), "", int(values.size),
                                      definition))
    out += _pooled_levels(list(summaries), confidence)
    chip_rows = runs[runs["device_row"].isna()] if not runs.empty else runs
    for name in _CHIP_LEVEL:
        if name in chip_rows.columns:
            figs = _figures_of(chip_rows[name])
            if len(figs) == 1:
                unit, meaning = FIGURES[name]
                out.append(ChipFigure(name, figs[0], unit, figs[0].n, meaning))
            elif figs:
                out += _over_devices(name, figs, "run")
    return pd.DataFrame([vars(f) for f in out], columns=["figure", "value", "unit", "n", "definition"])
