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
from memlab.analysis.fitting import coefficient_of_variation
from memlab.analysis.loading import Run, RunFilter, skip_reason
from memlab.storage import RunFileError

__all__ = [
    "RunSummary", "SUMMARIZERS", "FIGURES", "summarize_run", "summarize_file", "run_table",
    "device_table", "chip_table", "DEFAULT_READ_VOLTAGE_V", "DEFAULT_MIN_WINDOW",
]

DEFAULT_READ_VOLTAGE_V = 0.1
"""Read voltage for I-V loops of runs that record none (``read_voltage_v`` parameter)."""
DEFAULT_MIN_WINDOW = 2.0
"""Endurance: Gset/Greset below which a device has failed, for runs that record no ``min_window``."""

Row = dict[str, Any]

FIGURES: dict[str, tuple[str, str]] = {
    # name: (unit, meaning) -- the legend of every table
    "set_voltage_v": ("V", "SET voltage (median over cycles)"),
    "reset_voltage_v": ("V", "RESET voltage (median over cycles)"),
    "hrs_ohm": ("ohm", "high-resistance state at the read voltage"),
    "lrs_ohm": ("ohm", "low-resistance state at the read voltage"),
    "on_off_ratio": ("", "HRS / LRS"),
    "set_voltage_c2c_cv": ("", "cycle-to-cycle CV of the SET voltage"),
    "reset_voltage_c2c_cv": ("", "cycle-to-cycle CV of the RESET voltage"),
    "hrs_c2c_cv": ("", "cycle-to-cycle CV of HRS"),
    "lrs_c2c_cv": ("", "cycle-to-cycle CV of LRS"),
    "switching_cycles": ("", "I-V or switching cycles analysed"),
    "formed": ("", "1 if the device formed"),
    "forming_voltage_v": ("V", "forming voltage"),
    "forming_current_a": ("A", "current read after the forming step"),
    "formed_resistance_ohm": ("ohm", "resistance after forming"),
    "levels_programmed": ("", "write-verify levels attempted"),
    "distinguishable_levels": ("", "levels with non-overlapping 99 % intervals"),
    "pulses_per_level": ("", "mean write-verify pulses per level"),
    "final_error": ("", "mean |final - target| / target"),
    "write_verify_success": ("", "fraction of levels within tolerance"),
    "dynamic_range": ("", "Gmax / Gmin"),
    "nonlinearity_potentiation": ("", "NL label +Pmax/A of the potentiation branch"),
    "nonlinearity_depression": ("", "NL label -Pmax/A of the depression branch"),
    "a_norm_potentiation": ("", "A / Pmax of the potentiation branch"),
    "a_norm_depression": ("", "A / Pmax of the depression branch"),
    "step_fraction_potentiation": ("", "fraction of remaining range per potentiating pulse"),
    "step_fraction_depression": ("", "fraction of remaining range per depressing pulse"),
    "asymmetry": ("", "asymmetric nonlinearity (0 symmetric .. 1)"),
    "step_noise": ("", "c2c step noise, fraction of Gmax - Gmin"),
    "gmax_siemens": ("S", "highest conductance reached"),
    "gmin_siemens": ("S", "lowest conductance reached"),
    "conductance_siemens": ("S", "conductance read"),
    "read_noise_cv": ("", "CV of repeated reads"),
    "drift_nu": ("", "power-law drift exponent nu"),
    "drift_log_siemens": ("S", "log-time drift per e-fold of time"),
    "drift_law": ("", "better-fitting drift law"),
    "time_to_10pct_loss_s": ("s", "extrapolated time to a 10 % conductance loss"),
    "cycles_to_failure": ("", "endurance: first failing cycle"),
    "cycles_tested": ("", "endurance: last cycle recorded"),
    "endurance_failed": ("", "1 if the window closed"),
    "initial_window": ("", "Gset/Greset at the start of cycling"),
    "final_window": ("", "Gset/Greset at the end of cycling"),
    "relaxation_tau_s": ("s", "relaxation time constant after a stimulus"),
    "photo_exponent": ("", "gamma in dG_ph ~ P^gamma"),
    "photo_prefactor_siemens": ("S", "dG_ph at 1 W (power-law prefactor)"),
    "rise_tau_s": ("s", "photoconductance rise time constant"),
    "decay_tau_s": ("s", "photoconductance decay time constant"),
    "eligibility_tau_s": ("s", "three-factor eligibility time constant"),
    "gating_ratio": ("", "|dG| with light / without"),
    "vmm_rmse_a": ("A", "VMM output RMSE"),
    "vmm_nrmse": ("", "VMM RMSE / ideal range"),
    "vmm_bias_a": ("A", "VMM mean error"),
    "vmm_correlation": ("", "VMM measured vs ideal correlation"),
    "vmm_gain": ("", "VMM measured/ideal slope"),
    "vmm_weight_error": ("", "programmed vs target weights, relative RMS"),
    "xor_accuracy": ("", "fraction of XOR outputs correct"),
}


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


def _param(run: Run, *names: str, default: Any = None) -> Any:
    for name in names:
        value = run.parameter(name)
        if value is not None:
            return value
    return default


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
    v_read = float(_param(run, "read_v", "read_voltage_v", "read_voltage", default=DEFAULT_READ_VOLTAGE_V))
    polarity = int(_param(run, "set_polarity", default=1))
    figs = _attempt(notes, "I-V loops", lambda: _iv_figures(m.iv_summary(
        a["voltage"], a["current"], a["cycle"], read_voltage_v=v_read, set_polarity=polarity)))
    return _one(run, figs), {}


def _switching(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("switching", ("cycle", "polarity", "voltage", "resistance"),
                   purpose="the switching figures")
    figs = _attempt(notes, "switching", lambda: _iv_figures(m.switching_summary(
        a["cycle"], a["polarity"], a["voltage"], a["resistance"])))
    return _one(run, figs), {}


def _forming(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("forming", ("voltage", "current", "resistance"), purpose="the forming figures")
    threshold = _param(run, "target_resistance_ohm", "formed_resistance_ohm", "threshold_ohm")

    def figs() -> Row:
        if len(a["voltage"]) == 0:
            raise AnalysisError("the forming stream is empty")
        fp = m.forming_point(a["voltage"], a["current"], a["resistance"],
                             threshold_ohm=None if threshold is None else float(threshold))
        return {"formed": int(fp.formed), "forming_voltage_v": fp.voltage_v,
                "forming_current_a": fp.current_a, "formed_resistance_ohm": fp.resistance_ohm}
    return _one(run, _attempt(notes, "forming", figs)), {}


def _write_verify(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("levels", ("level", "target", "final", "pulses", "success"),
                   purpose="the programming figures")

    def figs() -> Row:
        if len(a["level"]) == 0:
            raise AnalysisError("the levels stream is empty")
        out: Row = {
            "levels_programmed": int(np.unique(a["level"]).size),
            "pulses_per_level": m.pulses_per_level(a["pulses"]),
            "final_error": m.final_error(a["final"], a["target"]),
            "write_verify_success": m.write_verify_success_rate(a["success"]),
        }
        if np.unique(a["level"]).size < len(a["level"]):  # repeats: spread within this run
            out["distinguishable_levels"] = m.distinguishable_levels(a["final"], a["level"])
        return out
    samples = {"level": np.asarray(a["level"], float), "level_target_siemens": np.asarray(a["target"], float),
               "level_final_siemens": np.asarray(a["final"], float)}
    return _one(run, _attempt(notes, "write-verify", figs)), samples


def _pulsed_iv(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("pulses", ("conductance",), purpose="the pulse-response figures")
    g = np.asarray(a["conductance"], float)

    def figs() -> Row:
        if g.size < 2:
            raise AnalysisError("fewer than two pulses recorded")
        return {"gmax_siemens": float(np.nanmax(g)), "gmin_siemens": float(np.nanmin(g)),
                "dynamic_range": m.dynamic_range(g)}
    return _one(run, _attempt(notes, "pulsed I-V", figs)), {}


def _potentiation(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("pulses", ("repeat", "polarity", "conductance"),
                   purpose="the potentiation/depression figures")

    def figs() -> Row:
        r = m.potentiation_depression(a["repeat"], a["polarity"], a["conductance"])
        out: Row = {"dynamic_range": r.dynamic_range, "asymmetry": r.asymmetry,
                    "step_noise": r.step_noise_range,
                    "gmax_siemens": float(np.nanmax(a["conductance"])),
                    "gmin_siemens": float(np.nanmin(a["conductance"]))}
        for name, fit in (("potentiation", r.potentiation), ("depression", r.depression)):
            out[f"nonlinearity_{name}"] = fit.nonlinearity if fit else math.nan
            out[f"a_norm_{name}"] = fit.a_normalised if fit else math.nan
            out[f"step_fraction_{name}"] = fit.step_fraction if fit else math.nan
        return out
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
        out.append({"device_row": r, "device_col": c, "conductance_siemens": float(np.nanmean(g)),
                    "read_noise_cv": coefficient_of_variation(g)})
    return out, {}


def _retention(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    out = []
    loss = float(_param(run, "loss_fraction", default=0.1))
    for (r, c), a in _per_device(run, "retention", ("time", "conductance"), "the retention figures"):
        def figs(a: dict = a) -> Row:
            res = m.retention(a["time"], a["conductance"], loss_fraction=loss)
            return {"drift_nu": res.power.rate, "drift_log_siemens": res.log.rate,
                    "drift_law": res.best, "time_to_10pct_loss_s": res.time_to_loss_s}
        out.append({"device_row": r, "device_col": c, **_attempt(notes, f"retention r{r}c{c}", figs)})
    return out, {}


def _endurance(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("endurance", ("cycle", "window"), purpose="the endurance figures")
    min_window = float(_param(run, "min_window", default=DEFAULT_MIN_WINDOW))

    def figs() -> Row:
        if len(a["cycle"]) == 0:
            raise AnalysisError("the endurance stream is empty")
        e = m.cycles_to_failure(a["cycle"], a["window"], min_window=min_window)
        return {"cycles_to_failure": e.cycles_to_failure, "cycles_tested": e.cycles_tested,
                "endurance_failed": int(e.failed), "initial_window": e.initial_window,
                "final_window": e.final_window}
    return _one(run, _attempt(notes, "endurance", figs)), {}


def _relaxation(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("decay", ("time", "conductance"), purpose="the relaxation time constant")
    figs = _attempt(notes, "relaxation", lambda: {
        "relaxation_tau_s": m.decay_time_constant(a["time"], a["conductance"]).tau})
    return _one(run, figs), {}


def _optical(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    if "photoresponse" not in run.streams and "optical" not in run.streams:
        run.require("photoresponse", purpose="the optical figures")
    figs: Row = {}
    if "photoresponse" in run.streams:
        p = run.arrays("photoresponse", ("power", "photoconductance"))

        def photo() -> Row:
            fit = m.photoresponse_exponent(p["power"], p["photoconductance"])
            return {"photo_exponent": fit.exponent, "photo_prefactor_siemens": fit.prefactor}
        figs.update(_attempt(notes, "photo-response", photo))
    if "optical" in run.streams:
        o = run.arrays("optical", ("power", "conductance", "time"))

        def times() -> Row:
            tc = m.rise_decay_time_constants(o["time"], o["conductance"], o["power"])
            return {"rise_tau_s": tc.rise_s, "decay_tau_s": tc.decay_s}
        figs.update(_attempt(notes, "rise/decay", times))
    return _one(run, figs), {}


def _three_factor(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("coincidence", ("delay", "delta"), purpose="the three-factor figures")

    def figs() -> Row:
        r = m.three_factor(a["delay"], a["delta"])
        return {"eligibility_tau_s": r.eligibility_s, "gating_ratio": r.gating_ratio}
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
    return _chip_row(out), {}


def _xor(run: Run, notes: list[str]) -> tuple[list[Row], dict]:
    a = run.arrays("truth_table", ("output", "expected"), purpose="the XOR accuracy")

    def figs() -> Row:
        if len(a["output"]) == 0:
            raise AnalysisError("the truth table is empty")
        return {"xor_accuracy": float(np.mean(a["output"] == a["expected"]))}
    out = _attempt(notes, "XOR", figs)
    return (_one(run, out) if run.device else _chip_row(out)), {}


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


_NO_D2D = ("switching_cycles", "levels_programmed", "cycles_tested", "distinguishable_levels")
"""Counts, not device properties: no device-to-device CV (nor for figures that are CVs)."""


@dataclass(frozen=True)
class ChipFigure:
    figure: str
    value: float
    unit: str
    n: int
    definition: str


def chip_table(runs: pd.DataFrame, devices: pd.DataFrame, summaries: Iterable[RunSummary] = (),
               *, confidence: float = 0.99) -> pd.DataFrame:
    """Figures over the chip: for each per-device figure its median and device-to-device CV;
    forming yield; distinguishable levels pooled over write-verify runs; chip-level runs."""
    out: list[ChipFigure] = []
    numeric = [c for c in FIGURES if c in devices.columns and pd.api.types.is_numeric_dtype(devices[c])]
    for name in numeric:
        if name in ("formed", "endurance_failed"):
            continue
        values = devices[name].to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        unit, meaning = FIGURES[name]
        out.append(ChipFigure(f"{name} median", float(np.median(finite)), unit, int(finite.size),
                              f"median over devices of: {meaning}"))
        if finite.size >= 2 and name not in _NO_D2D and not name.endswith("_cv"):
            out.append(ChipFigure(f"{name} d2d_cv", coefficient_of_variation(finite), "",
                                  int(finite.size), f"device-to-device CV of: {meaning}"))
    if "formed" in devices.columns:
        formed = devices["formed"].dropna().to_numpy(dtype=float)
        if formed.size:
            out.append(ChipFigure("forming yield", m.forming_yield(formed), "", int(formed.size),
                                  "fraction of devices tried that formed"))
    if "endurance_failed" in devices.columns:
        failed = devices["endurance_failed"].dropna().to_numpy(dtype=float)
        if failed.size:
            out.append(ChipFigure("endurance survival", float(1 - failed.mean()), "", int(failed.size),
                                  "fraction of cycled devices whose window never closed"))
    levels = [s.samples for s in summaries if "level_final_siemens" in s.samples]
    if levels:
        lv = np.concatenate([x["level"] for x in levels])
        f = np.concatenate([x["level_final_siemens"] for x in levels])
        try:
            n = m.distinguishable_levels(f, lv, confidence=confidence)
            out.append(ChipFigure("distinguishable levels (pooled)", float(n), "", int(np.unique(lv).size),
                                  f"levels whose {confidence:.0%} intervals do not overlap, pooling "
                                  "every write-verify run by level number"))
        except ValueError:
            pass  # one sample per level in the whole campaign: nothing to pool
    chip_rows = runs[runs["device_row"].isna()] if not runs.empty else runs
    for name in ("vmm_rmse_a", "vmm_nrmse", "vmm_bias_a", "vmm_correlation", "vmm_gain",
                 "vmm_weight_error", "xor_accuracy"):
        if name in chip_rows.columns:
            values = chip_rows[name].to_numpy(dtype=float, na_value=np.nan)
            finite = values[np.isfinite(values)]
            if finite.size:
                unit, meaning = FIGURES[name]
                out.append(ChipFigure(name, float(np.median(finite)), unit, int(finite.size),
                                      f"median over runs of: {meaning}"))
    return pd.DataFrame([vars(f) for f in out], columns=["figure", "value", "unit", "n", "definition"])
