"""Publication-quality figures of each procedure's standard plot (matplotlib, no pyplot).

Every function takes arrays (and fits from :mod:`memlab.analysis.metrics`) and returns a
``matplotlib.figure.Figure``, built without pyplot or a GUI backend, so it works in worker
processes, in tests and next to the Qt dashboard alike; save it with :func:`save`. Linear axes
show SI prefixes in the label (``Conductance (uS)``); log axes keep base units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from memlab.analysis.fitting import ExpFit, PowerLawFit
from memlab.analysis.metrics.plasticity import BranchFit, split_branches
from memlab.analysis.metrics.programming import level_intervals
from memlab.analysis.metrics.retention import DriftFit

__all__ = [
    "STYLE", "si_scale", "fmt_si", "save", "chip_grid", "plot_iv_loops", "plot_pulse_response", "plot_level_histograms",
    "plot_retention", "plot_endurance", "plot_chip_map", "plot_forming", "plot_photoresponse",
    "plot_optical_trace", "plot_step_response", "plot_relaxation", "plot_three_factor", "plot_vmm",
    "plot_resistance_cdf", "plot_resistance_states", "time_axis", "time_unit", "format_duration",
    "robust_limits", "plot_xor_truth_table", "plot_learning_band", "plot_maze_policy",
    "plot_measured_vs_simulated",
]

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.labelsize": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "legend.frameon": False,
    "mathtext.default": "regular",
    "savefig.dpi": 200,
    "figure.dpi": 100,
}
"""rcParams every figure is drawn with (single-column journal figures, ~3.4 in wide)."""

WIDTH_IN = 3.4
_UNIT_SYMBOL = {"ohm": "\u03a9", "S": "S", "A": "A", "V": "V", "s": "s", "W": "W", "m": "m"}
_PREFIXES = ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "\u00b5"), (1e-3, "m"), (1.0, ""),
             (1e3, "k"), (1e6, "M"), (1e9, "G"))

P = ParamSpec("P")
R = TypeVar("R")


def _styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Draw inside the house style without touching the caller's global rcParams."""
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def si_scale(values: Any, unit: str) -> tuple[float, str]:
    """(factor, label unit) so that ``values * factor`` reads in the SI prefix that suits them,
    e.g. 5e-6 S -> (1e6, "uS") with the micro sign; wavelengths in nm."""
    symbol = _UNIT_SYMBOL.get(unit, unit)
    arr = np.abs(np.asarray(values, dtype=float))
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0 or not unit:
        return 1.0, symbol
    if unit == "m":
        return 1e9, "nm"
    ref = float(np.percentile(arr, 90))
    scale, prefix = _PREFIXES[0]
    for factor, p in _PREFIXES:
        if ref >= factor * (1 - 1e-9):
            scale, prefix = factor, p
    return 1.0 / scale, prefix + symbol


def _label(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def _figure(height_in: float = 2.6, width_in: float = WIDTH_IN, **subplots: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    return fig, fig.subplots(**subplots)


def save(fig: Figure, path: str | Path, *, dpi: int | None = None) -> Path:
    """Write ``fig`` as PNG (or the format the suffix names) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        fig.savefig(path, dpi=dpi or STYLE["savefig.dpi"])
    return path


def fmt_si(value: float, unit: str, digits: int = 3) -> str:
    """``value`` with the SI prefix that puts it in [1, 1000), e.g. 0.999875 s -> "1 s"."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g} {_UNIT_SYMBOL.get(unit, unit)}".strip()
    rounded = float(f"{value:.{digits}g}")  # round first, so 999.9 ms becomes 1 s, not "1e+03 ms"
    scale, shown = si_scale([rounded], unit)
    return f"{rounded * scale:.{digits}g} {shown}"


def _legend_above(ax: Axes, ncols: int) -> None:
    """Legend in rows above the axes, where it cannot hide data."""
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncols=ncols, borderaxespad=0.0,
              handlelength=1.5, markerscale=2, columnspacing=1.2)


def _title(ax: Axes, title: str) -> None:
    if title:
        ax.set_title(title, loc="left", fontsize=STYLE["axes.titlesize"])


def _cycle_colours(n: int) -> np.ndarray:
    cmap = matplotlib.colormaps["viridis"]
    return cmap(np.linspace(0.0, 0.85, max(n, 1)))


@_styled
def plot_iv_loops(voltage_v: Any, current_a: Any, cycle: Any = None, *, title: str = "",
                  read_voltage_v: float | None = None, switching: dict[str, Any] | None = None) -> Figure:
    """I-V loops with |I| on a log axis, one colour per cycle (a colour bar beyond 6 cycles).

    ``switching``: {"SET": figure, "RESET": figure} (FigureOfMerit) drawn as a band over its
    interval, so the reader sees where the switching voltage was found."""
    v = np.asarray(voltage_v, float)
    i = np.abs(np.asarray(current_a, float))
    c = np.zeros(len(v)) if cycle is None else np.asarray(cycle)
    labels = list(dict.fromkeys(c.tolist()))
    colours = _cycle_colours(len(labels))
    fig, ax = _figure()
    for k, lab in enumerate(labels):
        sel = c == lab
        y = np.where(i[sel] > 0, i[sel], np.nan)
        ax.plot(v[sel], y, color=colours[k], lw=1.0, label=f"cycle {int(lab)}" if len(labels) <= 6 else None)
    ax.set_yscale("log")
    positive = i[i > 0]
    if positive.size:  # a decade of room below the loops for the legend
        ax.set_ylim(bottom=positive.min() / 10)
    if labels:
        _sweep_arrows(ax, v[c == labels[-1]], i[c == labels[-1]])
    ax.set_xlabel("Voltage (V)")
    ax.set_ylabel("|Current| (A)")
    if read_voltage_v:
        ax.axvline(read_voltage_v, color="0.5", lw=0.7, ls=":", label=f"read {read_voltage_v:g} V")
    shown_switching = False
    for name, colour in (("SET", "tab:red"), ("RESET", "tab:blue")):
        fig_ = (switching or {}).get(name)
        if fig_ is not None and getattr(fig_, "determined", False):
            ax.axvspan(fig_.low, fig_.high, color=colour, alpha=0.15, lw=0, label=f"{name} {fig_.text('V', 2)}")
            shown_switching = True
    if len(labels) > 6:
        sm = matplotlib.cm.ScalarMappable(Normalize(min(labels), max(labels)), matplotlib.colormaps["viridis"])
        fig.colorbar(sm, ax=ax, label="Cycle", pad=0.02).locator = MaxNLocator(integer=True)
    if len(labels) > 1 or read_voltage_v or shown_switching:
        ax.legend(loc="best", ncols=1 if len(labels) <= 3 else 2, handlelength=1.2, fontsize=6.5)
    _title(ax, title)
    return fig


def _sweep_arrows(ax: Axes, v: np.ndarray, i: np.ndarray) -> None:
    """Arrows along one loop at a quarter and three quarters of each lobe: the sweep direction."""
    n = len(v)
    if n < 8:
        return
    for frac in (0.12, 0.38, 0.62, 0.88):
        k = int(frac * (n - 1))
        if i[k] > 0 and i[k + 1] > 0 and v[k] != v[k + 1]:
            ax.annotate("", xy=(v[k + 1], i[k + 1]), xytext=(v[k], i[k]),
                        arrowprops={"arrowstyle": "-|>", "color": "0.15", "lw": 0.8, "mutation_scale": 9})


@_styled
def plot_pulse_response(polarity: Any, conductance_s: Any, repeat: Any = None, *,
                        fits: dict[int, BranchFit] | None = None, title: str = "") -> Figure:
    """Conductance versus pulse number over the whole train, potentiating and depressing pulses
    in two colours, with the fitted NeuroSim model of each branch dashed."""
    g = np.asarray(conductance_s, float)
    pol = np.asarray(polarity, float)
    rep = np.zeros(len(g)) if repeat is None else np.asarray(repeat, float)
    scale, unit = si_scale(g, "S")
    fig, ax = _figure()
    x = np.arange(1, len(g) + 1)
    colours = {1: "tab:red", -1: "tab:blue"}
    names = {1: "potentiation", -1: "depression"}
    labelled: set[Any] = set()
    start = 0
    for br in split_branches(rep, pol, g):
        n = len(br.pulses)
        xs = x[start:start + n]
        fit = (fits or {}).get(br.polarity)
        label = None
        if br.polarity not in labelled:
            label = names[br.polarity] + (f", NL {fit.nonlinearity:+.2f}".replace("-", "\u2212") if fit else "")
            labelled.add(br.polarity)
        ax.plot(xs, br.conductance_s * scale, ".", ms=2.0, color=colours[br.polarity], label=label)
        if fit is not None:
            # the fitted branch restarted from where this repeat's branch began: same A and
            # asymptote (the soft bound), so a repeat that starts lower is not drawn shifted
            bound = fit.g_start_s + fit.polarity * fit.b_s
            p0, g0 = br.pulses[0], br.conductance_s[0]
            model = bound - (bound - g0) * np.exp(-(br.pulses - p0) / fit.a_pulses)
            ax.plot(xs, model * scale, "--", color="k", lw=0.8,
                    label="NeuroSim fit" if "fit" not in labelled else None)
            labelled.add("fit")
        start += n
    ax.set_xlabel("Pulse number")
    ax.set_ylabel(_label("Conductance", unit))
    ax.set_xlim(0, len(g) + 1)
    _legend_above(ax, 2)
    _title(ax, title)
    return fig


@_styled
def plot_level_histograms(conductance_s: Any, level: Any, *, confidence: float = 0.99,
                          title: str = "", bins: int = 0, delay_s: float | None = None) -> Figure:
    """Histogram of programmed conductance per target level, with each level's
    ``confidence`` interval shaded and the distinguishable count (with its interval) noted.

    ``bins`` 0 picks about three bins per standard deviation of a level. ``delay_s``: when after
    programming the conductances were read (0: right after verify), named in the note."""
    from memlab.analysis.metrics.programming import distinguishable_levels

    g = np.asarray(conductance_s, float)
    lv = np.asarray(level, float)
    when = "" if delay_s is None else (" at t = 0" if delay_s == 0 else f" after {format_duration(delay_s)}")
    scale, unit = si_scale(g, "S")
    fig, ax = _figure()
    labels = np.unique(lv[np.isfinite(lv)])
    cmap = matplotlib.colormaps["viridis"]
    intervals = {iv.level: iv for iv in level_intervals(g, lv, confidence=confidence)}
    finite = g[np.isfinite(g)] * scale
    spread = [iv.std * scale for iv in intervals.values() if iv.std > 0]
    if bins <= 0 and spread and np.ptp(finite) > 0:
        # about three bins per standard deviation of a level, so each level shows its shape
        bins = int(np.clip(np.ptp(finite) / (np.median(spread) / 3), 30, 150))
    edges = np.histogram_bin_edges(finite, bins=bins if bins > 0 else 60)
    for k, lab in enumerate(labels):
        colour = cmap(0.9 * k / max(len(labels) - 1, 1))
        # an edge of the same colour keeps a narrow level visible at any bin width
        ax.hist(g[lv == lab] * scale, bins=edges, color=colour, ec=colour, lw=0.8, histtype="stepfilled")
        iv = intervals.get(float(lab))
        if iv is not None:
            ax.axvspan(iv.low * scale, iv.high * scale, color=colour, alpha=0.15, lw=0)
    ax.set_xlabel(_label("Programmed conductance", unit))
    ax.set_ylabel("Count")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    n = distinguishable_levels(g, lv, confidence=confidence)
    if n.determined:
        note = f"{n.text(digits=2)} of {len(labels)} levels distinguishable{when}"
    else:  # short: the reason is in the report's tables
        note = f"{len(labels)} levels{when}: too few samples to count"
    _title(ax, title)
    if not title:
        ax.set_title(note, loc="left", fontsize=7.5)
    return fig


_TIME_UNITS = (("day", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("\u00b5s", 1e-6))
# log-axis ticks at times a reader thinks in
_NICE_TIMES_S = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 36000.0, 86400.0,
                 864000.0, 8640000.0, 86400000.0)


def time_unit(max_s: float) -> tuple[str, float]:
    """The unit (s, min, h, day, ms, us) a span up to ``max_s`` seconds reads best in: never "ks"."""
    for name, size in _TIME_UNITS:
        if max_s >= size:
            return name, size
    return _TIME_UNITS[-1]


def format_duration(seconds: float) -> str:
    """``10 s``, ``1 min``, ``10 h``, ``1 day``: one tick label."""
    if seconds <= 0 or not math.isfinite(seconds):
        return f"{seconds:g}"
    name, size = time_unit(seconds)
    return f"{seconds / size:.3g} {name}"


def time_axis(ax: Axes, time_s: Any, *, axis: str = "x", label: str = "Time", log: bool | None = None) -> float:
    """Set a time axis in s/min/h/day: log with ticks at 1 s, 1 min, 1 h, 1 day ... when the
    times span more than two decades (``log`` None), else linear in the best unit. Returns the
    factor to divide times in seconds by before plotting (1 on a log axis)."""
    t = np.asarray(time_s, float)
    t = t[np.isfinite(t)]
    positive = t[t > 0]
    if log is None:
        log = positive.size >= 2 and positive.max() / positive.min() > 100
    target = ax.xaxis if axis == "x" else ax.yaxis
    set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
    set_label = ax.set_xlabel if axis == "x" else ax.set_ylabel
    if log:
        set_scale("log")
        lo, hi = (positive.min(), positive.max()) if positive.size else (1.0, 10.0)
        ticks = [v for v in _NICE_TIMES_S if lo / 1.5 <= v <= hi * 1.5]
        if len(ticks) > 6:  # keep the labels apart: every other nice time
            ticks = ticks[::2]
        if len(ticks) >= 2:
            target.set_major_locator(FixedLocator(ticks))
            target.set_major_formatter(FuncFormatter(lambda v, _pos: format_duration(v)))
            target.set_minor_formatter(NullFormatter())
        set_label(f"{label} (log scale)")
        return 1.0
    name, size = time_unit(float(np.max(np.abs(t))) if t.size else 1.0)
    target.set_major_locator(MaxNLocator(nbins=5))
    set_label(f"{label} ({name})")
    return size


def robust_limits(values: Any, *, percentiles: tuple[float, float] = (2.0, 98.0), log: bool = False
                  ) -> tuple[float, float]:
    """Colour limits from robust percentiles of the finite values (of log10 for a log scale),
    within 5 (normal-scaled) median absolute deviations of the median, so one outlier or a noise
    pixel does not set the scale."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if v.size == 0:
        return (1.0, 10.0) if log else (0.0, 1.0)
    x = np.log10(v) if log else v
    lo, hi = np.percentile(x, percentiles)
    # and never beyond 5 median absolute deviations from the median: with few cells one
    # outlier (a 1e72 s extrapolation) sits above any percentile
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med)))
    if mad > 0:
        lo, hi = max(lo, med - 5 * 1.4826 * mad), min(hi, med + 5 * 1.4826 * mad)
    if hi <= lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    return (10 ** lo, 10 ** hi) if log else (float(lo), float(hi))


@_styled
def plot_retention(time_s: Any, conductance_s: Any, device: Any = None, *,
                   fits: dict[Any, DriftFit] | None = None, max_devices: int = 8, title: str = "") -> Figure:
    """Conductance versus time since programming on a log time axis, one marker colour per
    device (up to ``max_devices``), power-law fits dashed."""
    t = np.asarray(time_s, float)
    g = np.asarray(conductance_s, float)
    d = np.zeros(len(t)) if device is None else np.asarray(device, dtype=object)
    labels = list(dict.fromkeys(d.tolist()))[:max_devices]
    scale, unit = si_scale(g, "S")
    fig, ax = _figure(width_in=WIDTH_IN * (1.45 if len(labels) > 1 else 1.0))
    cmap = matplotlib.colormaps["tab10"]
    for k, lab in enumerate(labels):
        sel = (d == lab) & (t > 0)
        colour = cmap(k % 10)
        fit = (fits or {}).get(lab)
        text = str(lab) if device is not None else "measured"
        if fit is not None:
            text += f", \u03bd = {fit.rate:.3g}"
        ax.plot(t[sel], g[sel] * scale, "o", ms=2.5, color=colour, label=text)
        if fit is not None:
            tt = np.geomspace(t[sel].min(), t[sel].max(), 50)
            ax.plot(tt, fit(tt) * scale, "--", lw=0.8, color=colour)
    time_axis(ax, t[t > 0], label="Time since programming", log=True)
    ax.set_ylabel(_label("Conductance", unit))
    if len(labels) > 1:
        shown = len(set(d.tolist()))
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), handlelength=1.0,
                  title="device (row, col)" + (f"\n{max_devices} of {shown} shown" if shown > max_devices else ""),
                  title_fontsize=7.5)
    elif fits:
        ax.legend(loc="best")
    _title(ax, title)
    return fig


@_styled
def plot_endurance(cycle: Any, conductance_set_s: Any, conductance_reset_s: Any, *,
                   min_window: float | None = None, failure_cycle: float | None = None,
                   title: str = "") -> Figure:
    """Set and reset conductance (top) and window (bottom) versus cycle, log-log."""
    c = np.asarray(cycle, float)
    gs, gr = np.asarray(conductance_set_s, float), np.asarray(conductance_reset_s, float)
    fig, (ax, bx) = _figure(height_in=3.6, nrows=2, sharex=True, height_ratios=(1.4, 1))
    ax.plot(c, gs, "o-", ms=2.5, color="tab:red", label="after SET")
    ax.plot(c, gr, "s-", ms=2.5, color="tab:blue", label="after RESET")
    ax.set_yscale("log")
    ax.set_ylabel("Conductance (S)")
    ax.legend(loc="best")
    with np.errstate(divide="ignore", invalid="ignore"):
        bx.plot(c, gs / gr, "k.-", ms=3)
    bx.set_yscale("log")
    bx.set_xscale("log")
    bx.set_xlabel("Cycle")
    bx.set_ylabel("Window G$_{set}$/G$_{reset}$")
    if min_window:
        bx.axhline(min_window, color="0.4", ls=":", lw=0.8, label=f"failure below {min_window:g}")
    if failure_cycle is not None and math.isfinite(failure_cycle):
        for a in (ax, bx):
            a.axvline(failure_cycle, color="tab:orange", lw=0.9, ls="--")
        bx.plot([], [], color="tab:orange", ls="--", lw=0.9, label=f"failed at cycle {failure_cycle:,.0f}")
    if min_window or failure_cycle is not None:
        bx.legend(loc="best")
    _title(ax, title)
    return fig


@_styled
def plot_chip_map(values: Any, *, label: str, unit: str = "", log: bool | None = None,
                  title: str = "") -> Figure:
    """A (rows, cols) map of a per-device figure. Unmeasured (or not determined) cells are NaN and
    drawn hatched grey, named in a legend; the colour bar spans the 2nd to 98th percentile of the
    measured cells (arrows mark values beyond), so noise is not stretched into contrast.

    ``log`` None picks a log colour scale for positive values spanning over a decade.
    """
    z = np.asarray(values, float)
    if z.ndim != 2:
        raise ValueError(f"values: expected a (rows, cols) array, got shape {z.shape}")
    finite = z[np.isfinite(z)]
    if log is None:
        log = finite.size > 0 and bool(np.all(finite > 0)) and finite.max() / finite.min() > 10
    scale, shown_unit = (1.0, _UNIT_SYMBOL.get(unit, unit)) if log else si_scale(finite, unit)
    rows, cols = z.shape
    aspect = rows / cols
    fig, ax = _figure(height_in=min(4.5, max(2.2, WIDTH_IN * aspect * 0.85)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="none")
    # few cells: their full range; many: robust percentiles
    lo, hi = robust_limits(finite * scale, log=log, percentiles=(2.0, 98.0) if finite.size >= 10 else (0.0, 100.0))
    norm = LogNorm(lo, hi) if log else Normalize(lo, hi)
    # unmeasured cells: hatched light grey under the (transparent) masked image
    ax.imshow(np.where(np.isfinite(z), np.nan, 1.0), cmap=matplotlib.colors.ListedColormap(["0.88"]),
              origin="upper", interpolation="nearest", aspect="equal")
    im = ax.imshow(np.ma.masked_invalid(z * scale), cmap=cmap, norm=norm, origin="upper",
                   interpolation="nearest", aspect="equal")
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[
        (bool(finite.size and finite.min() * scale < lo), bool(finite.size and finite.max() * scale > hi))]
    bar = fig.colorbar(im, ax=ax, label=_label(label, shown_unit), pad=0.02, shrink=0.9, extend=extend)
    bar.ax.tick_params(direction="out", which="both")  # ticks inside would cover the colours
    if not log:
        bar.locator = MaxNLocator(nbins=5)
        bar.update_ticks()
    missing = int(np.count_nonzero(~np.isfinite(z)))
    if missing:
        ax.set_title(f"{z.size - missing} of {z.size} cells measured; grey: not measured / not determined",
                     loc="left", fontsize=6.5)
    ax.set_xlabel("Column")
    ax.set_ylabel("Row")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(cols, 8)))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(rows, 8)))
    ax.tick_params(top=False, right=False, direction="out")
    _title(ax, title)
    return fig


@_styled
def plot_xor_truth_table(input_a: Any, input_b: Any, current_a: Any, *, output: Any = None,
                         band: tuple[float, float] | None = None, threshold_a: float | None = None,
                         title: str = "") -> Figure:
    """The XOR truth table as measured: the current of every trial at each input pair (A, B),
    on a log axis, with the band (or threshold) that reads as output 1; filled markers read 1."""
    a = np.asarray(input_a, int)
    b = np.asarray(input_b, int)
    i = np.abs(np.asarray(current_a, float))
    out = None if output is None else np.asarray(output, int)
    fig, ax = _figure()
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1)]
    rng = np.random.default_rng(0)
    for k, (pa, pb) in enumerate(pairs):
        sel = (a == pa) & (b == pb)
        x = k + rng.uniform(-0.12, 0.12, int(sel.sum()))
        ones = out[sel] == 1 if out is not None else np.zeros(int(sel.sum()), bool)
        ax.plot(x[ones], i[sel][ones], "o", color="tab:red", ms=4, label="reads 1" if k == 1 else None)
        ax.plot(x[~ones], i[sel][~ones], "o", mfc="none", color="tab:blue", ms=4,
                label="reads 0" if k == 0 else None)
        if sel.any():
            ax.hlines(np.median(i[sel]), k - 0.25, k + 0.25, color="k", lw=1.0)
    if band is not None:
        ax.axhspan(band[0], band[1], color="tab:red", alpha=0.12, lw=0, label="output-1 band")
    if threshold_a is not None:
        ax.axhline(threshold_a, color="0.3", ls="--", lw=0.8, label="threshold")
    ax.set_yscale("log")
    ax.set_xticks(range(4), [f"A={pa}\nB={pb}" for pa, pb in pairs])
    ax.set_xlim(-0.5, 3.5)
    ax.set_ylabel("|Current| (A)")
    ax.set_xlabel("Inputs (A: light, B: read voltage)")
    _legend_above(ax, 3)
    _title(ax, title)
    return fig


@_styled
def plot_forming(voltage_v: Any, resistance_ohm: Any, *, forming_voltage_v: float | None = None,
                 title: str = "") -> Figure:
    """Resistance after each forming step versus step voltage (log), forming point marked."""
    v = np.asarray(voltage_v, float)
    r = np.asarray(resistance_ohm, float)
    fig, ax = _figure()
    ax.plot(v, r, "o-", ms=2.5, color="tab:blue", label="after each step")
    if forming_voltage_v is not None and math.isfinite(forming_voltage_v):
        k = int(np.argmin(np.abs(v - forming_voltage_v)))
        ax.plot(v[k], r[k], "*", ms=10, color="tab:red", label=f"formed at {forming_voltage_v:.2f} V")
    ax.set_yscale("log")
    ax.margins(x=0.05, y=0.08)  # the forming point is often the last step: keep its marker whole
    ax.set_xlabel("Step voltage (V)")
    ax.set_ylabel("Resistance (\u03a9)")
    ax.legend(loc="best")
    _title(ax, title)
    return fig


@_styled
def plot_photoresponse(power_w: Any, photoconductance_s: Any, *, fit: PowerLawFit | None = None,
                       law: Any = None, dark_conductance_s: float | None = None, title: str = "") -> Figure:
    """Photoconductance versus optical power, log-log, with the combined photoconductance-plus-
    shunting law ``(G + a P^gamma) / (1 + k P) - G`` (``law``: a
    :class:`~memlab.analysis.metrics.optical.PhotoResponseFit`, drawn at the dark conductance
    ``dark_conductance_s``) or a plain power law (``fit``)."""
    p = np.asarray(power_w, float)
    g = np.asarray(photoconductance_s, float)
    fig, ax = _figure()
    ax.plot(p, g, "o", color="tab:purple", label="measured")
    pp = np.geomspace(p[p > 0].min(), p.max(), 100) if np.any(p > 0) else np.array([])
    if law is not None and law.law == "power" and law.gamma.determined and pp.size:
        a = float(np.exp(np.mean(np.log(g[p > 0]) - law.gamma.value * np.log(p[p > 0]))))
        ax.plot(pp, a * pp ** law.gamma.value, "--", color="k", lw=0.8,
                label=f"no shunting resolved: power law, \u03b3 = {law.gamma.value:.2f} (s.e. {law.gamma.stderr:.2f})")
    elif (law is not None and all(e.determined for e in (law.gamma, law.coefficient, law.k_shunt_per_w))
            and dark_conductance_s is not None and pp.size):
        gd = float(dark_conductance_s)
        curve = (gd + law.coefficient.value * pp ** law.gamma.value) / (1 + law.k_shunt_per_w.value * pp) - gd
        ax.plot(pp, curve, "--", color="k", lw=0.8,
                label=f"combined law, \u03b3 = {law.gamma.value:.2f} (s.e. {law.gamma.stderr:.2f})")
    elif fit is not None and pp.size:
        ax.plot(pp, fit.prefactor * pp ** fit.exponent, "--", color="k", lw=0.8,
                label=f"power law, \u03b3 = {fit.exponent:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Optical power (W)")
    ax.set_ylabel("Photoconductance (S)")
    ax.legend(loc="best")
    _title(ax, title)
    return fig


def _shade_spans(ax: Axes, spans: Iterable[tuple[float, float]], *, scale: float = 1.0) -> None:
    first = True
    for t0, t1 in spans:
        ax.axvspan(t0 / scale, t1 / scale, color="gold", alpha=0.35, lw=0, label="light on" if first else None)
        first = False


@_styled
def plot_optical_trace(time_s: Any, conductance_s: Any, power_w: Any, *, lit: Any = None,
                       pulse_width_s: float | None = None, title: str = "") -> Figure:
    """Conductance read after each light pulse versus time. Shaded only where the light was on:
    each pulse's ``pulse_width_s`` ending at the read after it (the pulse is switched off before
    that read); reads taken in the dark (``lit`` 0) are open circles, reads under light filled."""
    t = np.asarray(time_s, float)
    g = np.asarray(conductance_s, float)
    p = np.asarray(power_w, float)
    on = np.zeros(t.size, bool) if lit is None else np.asarray(lit, float) > 0
    scale, unit = si_scale(g, "S")
    fig, ax = _figure()
    size = time_axis(ax, t[t > 0] if np.any(t > 0) else t, label="Time", log=False)
    if pulse_width_s:
        _shade_spans(ax, [(tk - pulse_width_s, tk) for tk in t[p > 0]], scale=size)
    ax.plot(t / size, g * scale, "-", color="tab:purple", lw=0.6, alpha=0.6)
    ax.plot(t[~on] / size, g[~on] * scale, "o", mfc="none", color="tab:purple", ms=3, label="read in the dark")
    if on.any():
        ax.plot(t[on] / size, g[on] * scale, "o", color="tab:purple", ms=3, label="read under light")
    ax.set_ylabel(_label("Conductance", unit))
    _legend_above(ax, 3)
    _title(ax, title)
    return fig


@_styled
def plot_step_response(time_s: Any, conductance_s: Any, lit: Any, *, rise_s: Any = None, decay_s: Any = None,
                       title: str = "") -> Figure:
    """A continuous-illumination step: the rise under light (left, linear time from light-on,
    shaded while lit) and the decay after it (right, log time from light-off). ``rise_s`` and
    ``decay_s`` (Estimates of tau_on and tau_ph) label the panels."""
    t = np.asarray(time_s, float)
    g = np.asarray(conductance_s, float)
    on = np.asarray(lit, float) > 0
    scale, unit = si_scale(g, "S")
    fig, (left, right) = _figure(width_in=2 * WIDTH_IN * 0.8, ncols=2, sharey=True)
    t_off = float(t[on].max()) if on.any() else 0.0
    before = (~on) & (t < 0)
    after = (~on) & (t > t_off)

    def label(name: str, est: Any) -> str:
        if est is None:
            return ""
        if not est.determined:
            return f"{name}: not determined"
        return f"{name} = {fmt_si(est.value, 's')} (s.e. {fmt_si(est.stderr, 's', 2)})"

    size = time_axis(left, t[on], label="Time from light-on", log=False)
    _shade_spans(left, [(0.0, t_off)] if on.any() else [], scale=size)
    if before.any():  # the dark reads come a while before the light: shown as the level they set
        left.axhline(float(np.mean(g[before])) * scale, color="0.4", ls=":", lw=0.8, label="dark, before")
        left.set_xlim(-0.1 * t_off / size, 1.02 * t_off / size)
    left.plot(t[on] / size, g[on] * scale, "o", color="tab:purple", ms=2.5, label="under light")
    left.set_ylabel(_label("Conductance", unit))
    left.legend(loc="lower right")
    if rise_s is not None:
        left.set_title(label("\u03c4$_{on}$", rise_s), loc="left")
    if after.any():
        time_axis(right, t[after] - t_off, label="Time from light-off", log=True)
        right.plot(t[after] - t_off, g[after] * scale, "o", mfc="none", color="tab:purple", ms=2.5)
        if decay_s is not None:
            right.set_title(label("\u03c4$_{ph}$", decay_s), loc="left")
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=STYLE["axes.titlesize"])
    return fig


@_styled
def plot_relaxation(time_s: Any, conductance_s: Any, *, fit: Any = None, title: str = "") -> Figure:
    """Conductance relaxation after a stimulus, with the exponential fit; log time when the
    reads span decades (the decay is then not squeezed into the first few seconds)."""
    t = np.asarray(time_s, float)
    g = np.asarray(conductance_s, float)
    scale, unit = si_scale(g, "S")
    fig, ax = _figure()
    size = time_axis(ax, t, label="Time after stimulus")
    shown = t > 0 if ax.get_xscale() == "log" else np.isfinite(t)  # a log axis cannot show t <= 0
    ax.plot(t[shown] / size, g[shown] * scale, "o", ms=2.5, color="tab:green", label="measured")
    if fit is not None and shown.any():
        lo, hi = t[shown].min(), t[shown].max()
        tt = np.geomspace(lo, hi, 200) if ax.get_xscale() == "log" else np.linspace(lo, hi, 200)
        tau = getattr(fit, "tau", None)
        tau = getattr(tau, "value", tau)  # a RelaxationFit's tau is a FigureOfMerit
        curve = getattr(fit, "curve", fit)
        shown_tau = f"\u03c4 = {fmt_si(tau, 's')}" if tau is not None and math.isfinite(tau) else "\u03c4 not determined"
        ax.plot(tt / size, curve(tt) * scale, "--", color="k", lw=0.8, label=f"fit, {shown_tau}")
    ax.set_ylabel(_label("Conductance", unit))
    ax.legend(loc="best")
    _title(ax, title)
    return fig


@_styled
def plot_three_factor(delay_s: Any, delta_s: Any, *, fit: ExpFit | None = None, title: str = "") -> Figure:
    """Weight change versus light-to-pulse delay; the no-light trials as a dashed band."""
    d = np.asarray(delay_s, float)
    y = np.asarray(delta_s, float)
    scale, unit = si_scale(y, "S")
    fig, ax = _figure()
    lit = np.isfinite(d)
    first = lit & (d >= 0)
    ax.plot(d[first], y[first] * scale, "o", ms=3, color="tab:purple", label="light, then pulse")
    if np.any(lit & (d < 0)):
        ax.plot(d[lit & (d < 0)], y[lit & (d < 0)] * scale, "s", ms=3, mfc="none", color="tab:purple",
                label="pulse, then light")
    if (~lit).any():
        dark = y[~lit] * scale
        ax.axhspan(dark.mean() - dark.std(), dark.mean() + dark.std(), color="0.6", alpha=0.3, lw=0)
        ax.axhline(dark.mean(), color="0.3", ls="--", lw=0.8, label="no light (mean \u00b1 sd)")
    if fit is not None and first.any():
        dd = np.linspace(0, d[first].max(), 200)
        ax.plot(dd, fit(dd) * scale, "-", color="k", lw=0.8, label=f"fit, \u03c4$_e$ = {fmt_si(fit.tau, 's')}")
    ax.set_xlabel("Light-to-pulse delay (s)")
    ax.set_ylabel(_label("Conductance change", unit))
    ax.legend(loc="best")
    _title(ax, title)
    return fig


@_styled
def plot_vmm(measured_a: Any, ideal_a: Any, *, title: str = "", reference: str = "ideal") -> Figure:
    """Measured versus ideal output current (left, with y = x) and the error histogram (right);
    ``reference`` names the ideal in the labels (e.g. "intended")."""
    m = np.asarray(measured_a, float).ravel()
    i = np.asarray(ideal_a, float).ravel()
    scale, unit = si_scale(np.concatenate((m, i)), "A")
    err = m - i
    escale, eunit = si_scale(err, "A")
    fig, (ax, bx) = _figure(height_in=2.5, width_in=2 * WIDTH_IN * 0.9, ncols=2)
    ax.plot(i * scale, m * scale, "o", ms=2.5, color="tab:blue", alpha=0.7, label="outputs")
    lo, hi = float(min(i.min(), m.min()) * scale), float(max(i.max(), m.max()) * scale)
    ax.plot([lo, hi], [lo, hi], "--", color="k", lw=0.8, label=f"{reference} (y = x)")
    ax.set_xlabel(_label(f"{reference.capitalize()} current", unit))
    ax.set_ylabel(_label("Measured current", unit))
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper left")
    bx.hist(err * escale, bins=30, color="tab:blue", alpha=0.8, histtype="stepfilled")
    bx.axvline(0, color="k", lw=0.8, ls="--")
    bx.set_xlabel(_label(f"Measured \u2212 {reference}", eunit))
    bx.set_ylabel("Outputs")
    rmse = float(np.sqrt(np.mean(err ** 2)))
    bx.text(0.98, 0.97, f"RMSE {fmt_si(rmse, 'A')}", transform=bx.transAxes,
            ha="right", va="top", fontsize=7.5)
    bx.set_ylim(top=bx.get_ylim()[1] * 1.15)
    _title(ax, title)
    return fig


@_styled
def plot_resistance_cdf(hrs_ohm: Any, lrs_ohm: Any, *, title: str = "") -> Figure:
    """Cumulative distribution of HRS and LRS over devices (or cycles), log resistance axis."""
    fig, ax = _figure()
    for values, name, colour in ((lrs_ohm, "LRS", "tab:red"), (hrs_ohm, "HRS", "tab:blue")):
        x = np.sort(np.asarray(values, float)[np.isfinite(np.asarray(values, float))])
        if x.size:
            ax.step(x, np.arange(1, x.size + 1) / x.size * 100, where="post", color=colour,
                    label=f"{name} (n = {x.size})")
    ax.set_xscale("log")
    ax.set_xlabel("Resistance at read voltage (\u03a9)")
    ax.set_ylabel("Cumulative probability (%)")
    ax.set_ylim(0, 102)
    ax.legend(loc="best")
    _title(ax, title)
    return fig


@_styled
def plot_resistance_states(cycle: Any, hrs_ohm: Any, lrs_ohm: Any, *, title: str = "") -> Figure:
    """HRS and LRS versus cycle (log resistance)."""
    c = np.asarray(cycle, float)
    fig, ax = _figure()
    ax.plot(c, np.asarray(hrs_ohm, float), "o-", ms=2.5, color="tab:blue", label="HRS")
    ax.plot(c, np.asarray(lrs_ohm, float), "s-", ms=2.5, color="tab:red", label="LRS")
    ax.set_yscale("log")
    ax.set_xlabel("Cycle")
    ax.set_ylabel("Resistance (\u03a9)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best")
    _title(ax, title)
    return fig


def chip_grid(devices: Iterable[tuple[int, int]], values: Sequence[float], shape: tuple[int, int] | None = None
              ) -> np.ndarray:
    """A (rows, cols) array with ``values`` at ``devices`` and NaN elsewhere."""
    devs = [(int(r), int(c)) for r, c in devices]
    if shape is None:
        shape = (max(r for r, _ in devs) + 1, max(c for _, c in devs) + 1) if devs else (1, 1)
    z = np.full(shape, np.nan)
    for (r, c), v in zip(devs, values):
        if 0 <= r < shape[0] and 0 <= c < shape[1]:
            z[r, c] = v
    return z


@_styled
def plot_learning_band(index: Any, hardware: tuple[Any, Any, Any], ideal: tuple[Any, Any, Any] | None, *,
                       runs: int, ylabel: str, xlabel: str = "Epoch", hardware_label: str = "hardware",
                       ideal_label: str = "ideal", reference: float | None = None,
                       reference_label: str = "", confidence: float = 0.95, ylim: tuple[float, float] | None = None,
                       title: str = "") -> Figure:
    """Learning curves over seeds: the mean of the hardware runs and of their ideal twins, each
    with its confidence band (none for one run), and an optional horizontal reference. ``ylim``
    is the quantity's possible range (a t band of few seeds can reach past it)."""
    x = np.asarray(index, float)
    fig, ax = _figure()
    for (mean, low, high), label, colour in ((hardware, hardware_label, "tab:red"),
                                             *(((ideal, ideal_label, "tab:blue"),) if ideal is not None else ())):
        ax.plot(x, mean, color=colour, label=f"{label} (mean of {runs})" if runs > 1 else label)
        if runs > 1:
            ax.fill_between(x, low, high, color=colour, alpha=0.18, lw=0)
    if reference is not None:
        ax.axhline(reference, color="0.3", ls="--", lw=0.8, label=reference_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        bottom, top = ax.get_ylim()
        ax.set_ylim(max(bottom, ylim[0]), min(top, ylim[1]))
    _legend_above(ax, 2)
    if runs > 1:
        ax.text(0.99, 0.02, f"bands: {confidence:.0%} CI over {runs} seeds", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="0.35")
    _title(ax, title)
    return fig


_ARROWS = {0: (0.0, 0.32), 1: (0.32, 0.0), 2: (0.0, -0.32), 3: (-0.32, 0.0)}  # up, right, down, left


@_styled
def plot_maze_policy(size: int, walls: Iterable[tuple[int, int]], goal: tuple[int, int], action: Any,
                     values: Any = None, *, tie: float = 0.0, title: str = "") -> Figure:
    """The learned greedy policy on the maze: an arrow per open cell (0 up, 1 right, 2 down,
    3 left), walls dark, the goal marked, the greedy path from the start (0, 0) in red; the
    cell shade, if ``values`` (cells x 4) is given, is the cell's largest learned value, and a
    cell whose largest value is below ``tie`` (no resolvable preference) gets a dot, not an arrow."""
    a = np.asarray(action, int)
    wall_set = set(walls)
    fig, ax = _figure(height_in=WIDTH_IN * 0.95)
    if values is not None:
        v = np.asarray(values, float).reshape(size * size, 4).max(axis=1).reshape(size, size)
        v = np.where([[(r, c) in wall_set for c in range(size)] for r in range(size)], np.nan, v)
        scale, unit = si_scale(v[np.isfinite(v)], "S")
        image = ax.imshow(v * scale, cmap="Greens", origin="upper", extent=(-0.5, size - 0.5, size - 0.5, -0.5))
        fig.colorbar(image, ax=ax, shrink=0.8, label=f"largest learned value ({unit})")
    path, cell = {(0, 0)}, (0, 0)
    for _ in range(size * size):  # follow the greedy policy from the start
        k = a[cell[0] * size + cell[1]]
        if cell == goal or k < 0:
            break
        dr, dc = ((-1, 0), (0, 1), (1, 0), (0, -1))[k]
        nxt = (cell[0] + dr, cell[1] + dc)
        if not (0 <= nxt[0] < size and 0 <= nxt[1] < size) or nxt in wall_set or nxt in path:
            break
        path.add(nxt)
        cell = nxt
    for r in range(size):
        for c in range(size):
            if (r, c) in wall_set:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, color="0.25"))
                continue
            if (r, c) == goal:
                ax.plot(c, r, "*", color="gold", ms=14, mec="k", mew=0.6)
                continue
            k = a[r * size + c]
            if k < 0:
                continue
            if values is not None and np.nanmax(np.asarray(values, float)[4 * (r * size + c):4 * (r * size + c) + 4]) < tie:
                ax.plot(c, r, ".", color="0.55", ms=4)
                continue
            dx, dy = _ARROWS[int(k)]
            colour = "tab:red" if (r, c) in path else "0.35"
            ax.annotate("", xy=(c + dx, r - dy), xytext=(c - dx, r + dy),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.4})
    ax.plot(0, 0, "o", color="tab:red", ms=5, mfc="none")
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.set_xlabel("Column")
    ax.set_ylabel("Row")
    ax.set_aspect("equal")
    ax.grid(False)
    _title(ax, title)
    return fig


@_styled
def plot_measured_vs_simulated(measured: Any, simulated: Any, *, label: str, unit: str = "",
                               measured_err: Any = None, simulated_err: Any = None, title: str = "") -> Figure:
    """Overlay of a figure of merit measured and simulated (a twin): left, the two distributions
    over devices as empirical CDFs; right, device by device, simulated against measured with
    their 95 % intervals and the line of agreement."""
    m = np.asarray(measured, float)
    s = np.asarray(simulated, float)
    scale, shown = si_scale(np.concatenate((m, s)), unit)
    fig, (left, right) = _figure(2.8, max(WIDTH_IN, 6.0), ncols=2)
    for values, name, colour in ((m, "measured", "C0"), (s, "simulated", "C1")):
        v = np.sort(values[np.isfinite(values)]) * scale
        if v.size:
            left.step(np.concatenate(([v[0]], v)), np.arange(v.size + 1) / v.size, where="post",
                      label=f"{name} ({v.size})", color=colour)
    left.set_xlabel(_label(label, shown))
    left.set_ylabel("fraction of devices")
    _legend_above(left, 2)
    ok = np.isfinite(m) & np.isfinite(s)
    if ok.any():
        xerr = None if measured_err is None else np.asarray(measured_err, float)[ok] * scale
        yerr = None if simulated_err is None else np.asarray(simulated_err, float)[ok] * scale
        right.errorbar(m[ok] * scale, s[ok] * scale, xerr=xerr, yerr=yerr, fmt="o", ms=3, color="C2",
                       elinewidth=0.8)
        lo = float(np.nanmin(np.concatenate((m[ok], s[ok])))) * scale
        hi = float(np.nanmax(np.concatenate((m[ok], s[ok])))) * scale
        right.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
    right.set_xlabel(_label("measured", shown))
    right.set_ylabel(_label("simulated", shown))
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(4))
    _title(right, title or "per device (95 % intervals)")
    return fig
