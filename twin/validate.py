"""Validate a twin on held-out runs: replay each run's procedure and parameters on the twin and
compare the figures of merit, device by device and as distributions over devices (docs/twin.md).

- Device by device: measured and simulated figures agree when ``|m - s| <= 1.96 sqrt(se_m^2 + se_s^2)``.
- Distributions: the two-sample Kolmogorov-Smirnov statistic D over devices, its p-value by
  permutation (random relabelings of the pooled values; exact in distribution for the small
  samples a bench gives, where the asymptotic law is poor). A figure is rejected at 5 % when p < 0.05.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from memlab.analysis.loading import Run, find_run_files
from memlab.analysis.metrics.fom import FigureOfMerit
from memlab.analysis.summary import summarize_run
from memlab.storage import RunFileError
from memlab.twin.file import Twin, TwinFileError, load_twin
from memlab.twin.fit import standard_error

__all__ = ["ks_two_sample", "validate_twin", "Validation", "FigureComparison", "FIGURE_PARAMETERS"]

ALPHA = 0.05
#: which twin parameters each figure of merit depends on (to explain a disagreement)
FIGURE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "read_noise_cv": ("sigma_read",), "conductance_siemens": ("g_min_s", "g_max_s", "v0_read_v"),
    "set_voltage_v": ("v_th_v", "v0_switch_v", "width_exponent"),
    "reset_voltage_v": ("v_th_v", "v0_switch_v", "width_exponent"),
    "hrs_ohm": ("g_min_s", "v0_read_v"), "lrs_ohm": ("g_max_s", "v0_read_v"),
    "on_off_ratio": ("g_min_s", "g_max_s", "v0_read_v"),
    "step_fraction_potentiation": ("a_plus",), "step_fraction_depression": ("a_minus",),
    "nonlinearity_potentiation": ("a_plus",), "nonlinearity_depression": ("a_minus",),
    "a_norm_potentiation": ("a_plus",), "a_norm_depression": ("a_minus",),
    "asymmetry": ("a_plus", "a_minus"), "dynamic_range": ("g_min_s", "g_max_s", "a_plus"),
    "step_noise": ("sigma_c2c", "sigma_read"), "drift_nu": ("drift_nu",),
    "drift_log_siemens": ("drift_log_s",), "time_to_10pct_loss_s": ("drift_nu", "drift_log_s"),
    "forming_voltage_v": ("v_form_v",),
    "photo_exponent": ("gamma_ph",), "shunt_coefficient_per_w": ("k_shunt_per_w",),
    "rise_tau_s": ("tau_on_s",), "decay_tau_s": ("tau_ph_s",), "relaxation_tau_s": ("tau_ph_s",),
    "eligibility_tau_s": ("tau_e_s",), "eligibility_pulse_light_tau_s": ("tau_pl_s",),
}


def ks_two_sample(x: Any, y: Any, *, permutations: int = 2000, seed: int = 0) -> tuple[float, float]:
    """(D, p): the two-sample Kolmogorov-Smirnov statistic and its permutation p-value."""
    a = np.asarray(x, float)
    b = np.asarray(y, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan

    def stat(u: np.ndarray, v: np.ndarray) -> float:
        grid = np.concatenate((u, v))
        cu = np.searchsorted(np.sort(u), grid, side="right") / u.size
        cv = np.searchsorted(np.sort(v), grid, side="right") / v.size
        return float(np.max(np.abs(cu - cv)))
    d = stat(a, b)
    pooled = np.concatenate((a, b))
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(permutations):
        perm = rng.permutation(pooled)
        hits += stat(perm[:a.size], perm[a.size:]) >= d - 1e-12
    return d, (hits + 1) / (permutations + 1)


@dataclass
class FigureComparison:
    figure: str
    devices: list[tuple[int, int]] = field(default_factory=list)
    measured: list[FigureOfMerit] = field(default_factory=list)
    simulated: list[FigureOfMerit] = field(default_factory=list)
    ks_d: float = math.nan
    ks_p: float = math.nan

    def values(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        figs = self.measured if which == "measured" else self.simulated
        return (np.array([f.value for f in figs], float), np.array([standard_error(f) for f in figs], float))

    @property
    def agreeing(self) -> int:
        (m, ms), (s, ss) = self.values("measured"), self.values("simulated")
        return int(np.sum(np.abs(m - s) <= 1.96 * np.sqrt(ms ** 2 + ss ** 2)))

    @property
    def rejected(self) -> bool:
        return bool(self.ks_p < ALPHA)


@dataclass
class Validation:
    twin: Twin
    comparisons: dict[str, FigureComparison]
    replayed: list[tuple[str, str]]  # (held-out run, simulated run)
    skipped: list[tuple[str, str]]
    report: Path | None = None

    @property
    def figures_tested(self) -> int:
        return sum(1 for c in self.comparisons.values() if math.isfinite(c.ks_p))

    @property
    def figures_rejected(self) -> int:
        return sum(1 for c in self.comparisons.values() if c.rejected)


def _figures(run: Run) -> dict[tuple[int, int], dict[str, FigureOfMerit]]:
    out: dict[tuple[int, int], dict[str, FigureOfMerit]] = {}
    for row in summarize_run(run).rows:
        r, c = row.get("device_row"), row.get("device_col")
        try:
            device = (int(r), int(c))
        except (TypeError, ValueError):
            if run.device is None:
                continue
            device = run.device
        out[device] = {k: v for k, v in row.items() if isinstance(v, FigureOfMerit) and v.determined}
    return out


def validate_twin(twin_path: str | Path, runs: Iterable[str | Path] | str | Path, out_dir: str | Path, *,
                  bench: str | Path | None = None, seed: int = 0, progress: bool | None = None) -> Validation:
    """Replay the held-out ``runs`` on the twin in ``twin_path``, compare, write the report into
    ``out_dir`` (``twin-validation.md`` with PNG overlays) and return the comparison.

    :param bench: a bench file whose ``[chip] twin`` is the twin (for chips the built-in bench's
        wiring does not reach); default: the built-in simulated bench with the twin on it.
    """
    from memlab.instruments.bench import Bench, read_bench_config
    from memlab.procedures import get_procedure, run_procedure

    twin = load_twin(twin_path)
    if bench is None:
        config = read_bench_config(None)
        config = replace(config, chip=replace(config.chip, twin=str(twin_path), rows=twin.rows, cols=twin.cols,
                                              family=twin.family, seed=seed))
    else:
        config = read_bench_config(bench)
        if config.chip.twin is None:
            raise TwinFileError(f"{bench}: its [chip] has no twin key; validation needs the twin on the bench")
    files = find_run_files(runs)
    out = Path(out_dir)
    sim_dir = out / "simulated"
    sim_dir.mkdir(parents=True, exist_ok=True)
    comparisons: dict[str, FigureComparison] = {}
    replayed, skipped = [], []
    bar = tqdm(total=len(files), desc="replaying", unit="run", file=sys.stderr,
               disable=not (sys.stderr.isatty() if progress is None else progress), leave=False)
    with Bench(config) as sim_bench:
        for path in files:
            bar.update(1)
            try:
                run = Run.open(path)
            except RunFileError as exc:
                skipped.append((str(path), str(exc)))
                continue
            if run.status != "completed":
                skipped.append((run.name, f"status {run.status}"))
                continue
            measured = _figures(run)
            if not measured:
                skipped.append((run.name, "no figures of merit to compare"))
                continue
            try:
                procedure = get_procedure(run.procedure)(**run.parameters)
                result = run_procedure(procedure, sim_bench, sim_dir)
            except (ValueError, KeyError, TypeError) as exc:
                skipped.append((run.name, f"cannot replay: {exc}"))
                continue
            if result.status != "completed":
                skipped.append((run.name, f"replay {result.status}: {result.error}"))
                continue
            replayed.append((run.name, Path(result.path).name))
            simulated = _figures(Run.open(result.path))
            for device, figs in measured.items():
                for name, fig in figs.items():
                    sim = simulated.get(device, {}).get(name)
                    if sim is None:
                        continue
                    comp = comparisons.setdefault(name, FigureComparison(name))
                    comp.devices.append(device)
                    comp.measured.append(fig)
                    comp.simulated.append(sim)
    bar.close()
    for comp in comparisons.values():
        if len(comp.devices) >= 2:
            comp.ks_d, comp.ks_p = ks_two_sample(comp.values("measured")[0], comp.values("simulated")[0], seed=seed)
    result = Validation(twin, comparisons, replayed, skipped)
    result.report = _write_report(result, out, Path(twin_path).name)
    return result


def _explain(comp: FigureComparison, twin: Twin) -> str:
    params = FIGURE_PARAMETERS.get(comp.figure, ())
    preset = [p for p in params if p in twin.chip and twin.chip[p].status != "fitted"]
    if preset:
        return f"depends on {', '.join(preset)}, which no run constrained (preset value)"
    if params:
        return f"the fitted {', '.join(params)} do not reproduce it: refit with more runs of its procedure"
    return "no chip parameter is mapped to this figure"


def _write_report(v: Validation, out: Path, twin_name: str) -> Path:
    from memlab.analysis import plots

    lines = [f"# Twin validation: {twin_name}", "",
             f"{len(v.replayed)} held-out runs replayed on the twin; {len(v.skipped)} skipped. "
             f"{v.figures_tested} figures of merit tested as distributions over devices (two-sample "
             f"Kolmogorov-Smirnov, permutation p-value); {v.figures_rejected} rejected at 5 %.", "",
             "| figure | devices | agree (95 %) | KS D | KS p | verdict |", "|---|---|---|---|---|---|"]
    for name, comp in sorted(v.comparisons.items()):
        verdict = ("rejected: " + _explain(comp, v.twin)) if comp.rejected else \
            ("not rejected" if math.isfinite(comp.ks_p) else "one device: no distribution test")
        lines.append(f"| {name} | {len(comp.devices)} | {comp.agreeing}/{len(comp.devices)} | "
                     f"{comp.ks_d:.3g} | {comp.ks_p:.3g} | {verdict} |")
    lines += ["", "## Overlays", ""]
    for name, comp in sorted(v.comparisons.items()):
        (m, ms), (s, ss) = comp.values("measured"), comp.values("simulated")
        unit = {"_v": "V", "_ohm": "ohm", "_siemens": "S", "_s": "s"}
        shown = next((u for suffix, u in unit.items() if name.endswith(suffix)), "")
        fig = plots.plot_measured_vs_simulated(m, s, label=name, unit=shown, measured_err=1.96 * ms,
                                               simulated_err=1.96 * ss)
        plots.save(fig, out / f"twin-{name}.png", dpi=120)
        lines += [f"![{name}: measured vs simulated](twin-{name}.png)", ""]
    lines += ["Figures of a device's state when the run started (conductance_siemens, hrs_ohm, lrs_ohm, "
              "on_off_ratio, dynamic_range) compare device by device only when the held-out run and its "
              "replay start from the same state; the replay starts from the twin's, so compare their "
              "distributions.", ""]
    lines += ["## Parameters the data did not constrain", "",
              "These keep the preset's value in the twin; figures that depend on them are not a test of the fit.", ""]
    lines += [f"- `{name}`: {v.twin.chip[name].reason}" for name in v.twin.not_fitted()]
    if v.skipped:
        lines += ["", "## Runs not replayed", ""] + [f"- {name}: {why}" for name, why in v.skipped]
    lines += ["", "## Runs replayed", ""] + [f"- {a} -> simulated/{b}" for a, b in v.replayed]
    path = out / "twin-validation.md"
    path.write_text("\n".join(lines) + "\n")
    return path
