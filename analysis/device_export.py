"""Device models for analog-AI simulators: an aihwkit pulsed-device configuration (JSON) and a
NeuroSim-style parameter table (CSV), from a population of devices (docs/export.md).

The input is a :class:`DevicePopulation`: per-device parameter arrays of the soft-bounds pulse law
of docs/chip-model.md (window edges, step fractions, thresholds) plus the population's noise
figures. It comes from the chip model's drawn parameters (:func:`population_from_chip`), from a
pulse characterisation of a chip (:func:`measure_pulse_response`), or from a fitted twin's
per-device arrays. The distributions (means and spreads across devices) are derived here.

Never imports ``memlab.instruments``: the chip is any object with the simulated chip's public API
(``device_parameters``, ``fault_map``, ``params``, ``pulse``, ``read``, ``probe_current``,
``effective_conductance``).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memlab.analysis.errors import AnalysisError

__all__ = [
    "EXPORT_FORMATS", "ExportParameterError", "DevicePopulation", "population_from_chip",
    "measure_pulse_response", "step_fractions", "aihwkit_config", "neurosim_table",
    "neurosim_nonlinearity_label", "write_aihwkit_json", "write_neurosim_csv",
    "load_aihwkit_rpu_config",
]

EXPORT_FORMATS = ("aihwkit", "neurosim")
AIHWKIT_FORMAT = "memlab.device-export.aihwkit"
FORMAT_VERSION = 1
# NeuroSim tabulates its normalised A for nonlinearity labels 0.01 .. 9 (formula.cpp, getParamA)
NEUROSIM_LABEL_RANGE = (0.01, 9.0)
# NeuroSim's label is the largest gap between the normalised curve and the straight line,
# divided by this; the quotient reproduces its table (tests/analysis/test_device_export.py)
_NEUROSIM_LABEL_UNIT = 0.099


class ExportParameterError(AnalysisError):
    """A bad export input: the message names the parameter, the value and what is allowed."""


def _refuse(name: str, value: Any, allowed: str) -> ExportParameterError:
    return ExportParameterError(f"{name}={value!r} is not allowed: expected {allowed}")


def _positive(name: str, value: Any, *, upper: float | None = None,
              upper_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise _refuse(name, value, "a finite number > 0")
    x = float(value)
    too_high = upper is not None and (x >= upper if upper_open else x > upper)
    if not math.isfinite(x) or x <= 0 or too_high:
        bound = "" if upper is None else (f" and < {upper:g}" if upper_open else f" and <= {upper:g}")
        raise _refuse(name, value, f"a finite number > 0{bound}")
    return x


# ---------------------------------------------------------------------------------------------
# the population
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DevicePopulation:
    """Working devices of one family, one array entry per device, plus population figures.

    Conductances are as read at ``v_read_v`` (read current / read voltage): the convention of
    NeuroSim and of a lab's read-out. ``a_plus``/``a_minus`` are the fractions of the distance to
    the far window edge one reference pulse (``v_ref_v``, ``t_ref_s``) closes, at full efficacy.
    ``v0_switch_v``/``width_exponent`` (the switching law) and the threshold/breakdown arrays
    may be None: then only the reference pulse can be exported (a pulse characterisation
    measures the steps at one pulse and says nothing about others).
    """

    g_min_s: np.ndarray
    g_max_s: np.ndarray
    a_plus: np.ndarray
    a_minus: np.ndarray
    stuck_fraction: float
    sigma_c2c: float
    sigma_read: float
    v_read_v: float
    read_width_s: float
    v_ref_v: float
    t_ref_s: float
    v0_switch_v: float | None = None
    width_exponent: float | None = None
    v_th_v: np.ndarray | None = None
    v_breakdown_v: np.ndarray | None = None
    lit_efficacy: float = 1.0  # three-factor families: the efficacy under saturating light
    sigma_c2c_se: float = 0.0  # standard errors of the noise figures (0: exact, from the law)
    sigma_read_se: float = 0.0
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arrays = {name: np.asarray(getattr(self, name), np.float64)
                  for name in ("g_min_s", "g_max_s", "a_plus", "a_minus")}
        n = arrays["g_min_s"].shape
        for name, arr in arrays.items():
            if arr.ndim != 1 or arr.shape != n or arr.size < 2 or not np.all(np.isfinite(arr)):
                raise _refuse(name, f"array of shape {arr.shape}",
                              f"a finite 1-D array of one length for every per-device parameter, "
                              f"at least 2 devices (g_min_s has {n})")
            object.__setattr__(self, name, arr)
        if np.any(arrays["g_min_s"] <= 0) or np.any(arrays["g_max_s"] <= arrays["g_min_s"]):
            raise _refuse("g_min_s/g_max_s", "a device with g_min_s <= 0 or g_max_s <= g_min_s",
                          "0 < g_min_s < g_max_s for every device")
        for name in ("a_plus", "a_minus"):
            arr = arrays[name]
            if np.any(arr <= 0) or np.any(arr > 1):
                raise _refuse(name, f"values in [{arr.min():g}, {arr.max():g}]", "values in (0, 1]")
        for name in ("v_th_v", "v_breakdown_v"):
            value = getattr(self, name)
            if value is not None:
                arr = np.asarray(value, np.float64)
                if arr.shape != n or not np.all(np.isfinite(arr)):
                    raise _refuse(name, f"array of shape {arr.shape}", f"None or shape {n}")
                object.__setattr__(self, name, arr)
        if not 0.0 <= float(self.stuck_fraction) < 1.0:
            raise _refuse("stuck_fraction", self.stuck_fraction, "a number in [0, 1)")
        for name in ("sigma_c2c", "sigma_read", "sigma_c2c_se", "sigma_read_se"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise _refuse(name, getattr(self, name), "a finite number >= 0")
        for name in ("v_read_v", "read_width_s", "v_ref_v", "t_ref_s"):
            _positive(name, getattr(self, name))
        _positive("lit_efficacy", self.lit_efficacy, upper=1.0)

    @property
    def devices(self) -> int:
        return int(self.g_min_s.size)


def population_from_chip(chip: Any, source: dict[str, Any] | None = None) -> DevicePopulation:
    """The working devices of a simulated chip, from the parameters the model drew for them.

    This is the model-law path: exact (no measurement noise), instant, valid for every family,
    and the same shape of data a fitted twin provides. Conductances are converted to read
    conductances at the family's read voltage by the chip's own I-V, measured once with
    ``probe_current`` on a working device.
    """
    params = chip.params
    drawn = chip.device_parameters()
    faults = chip.fault_map()
    working = np.ones(np.shape(drawn["g_min_s"]), bool)
    for name, mask in faults.items():
        if name != "noisy":  # a noisy device still programs
            working &= ~np.asarray(mask, bool)
    stuck = np.asarray(faults["stuck"], bool)
    if np.count_nonzero(working) < 2:
        raise _refuse("chip", f"{np.count_nonzero(working)} working devices", "at least 2")
    v_read = float(params["v_read_v"])
    i, j = (int(k[0]) for k in np.nonzero(working))
    read_gain = chip.probe_current(i, j, v_read) / (v_read * float(chip.effective_conductance()[i, j]))
    h_lit = 1.0
    if params.get("three_factor"):
        h_dark = float(params["h_dark"])
        h_lit = h_dark + (1.0 - h_dark) * float(params["gain_lp"])
    info = {"method": "model law (the chip model's drawn per-device parameters)",
            "devices_total": int(working.size)}
    info.update(source or {})
    return DevicePopulation(
        g_min_s=drawn["g_min_s"][working].astype(np.float64) * read_gain,
        g_max_s=drawn["g_max_s"][working].astype(np.float64) * read_gain,
        a_plus=drawn["a_plus"][working], a_minus=drawn["a_minus"][working],
        stuck_fraction=float(np.count_nonzero(stuck)) / stuck.size,
        sigma_c2c=float(params["sigma_c2c"]), sigma_read=float(params["sigma_read"]),
        v_read_v=v_read, read_width_s=float(params["read_width_s"]),
        v_ref_v=float(params["v_ref_v"]), t_ref_s=float(params["t_ref_s"]),
        v0_switch_v=float(params["v0_switch_v"]), width_exponent=float(params["width_exponent"]),
        v_th_v=drawn["v_th_v"][working], v_breakdown_v=drawn["v_breakdown_v"][working],
        lit_efficacy=h_lit, source=info)


def measure_pulse_response(chip: Any, devices: int = 32, pulses: int = 150,
                           amplitude_v: float | None = None, width_s: float | None = None,
                           repeat_reads: int = 20, reads_per_point: int = 4) -> DevicePopulation:
    """Characterise a chip by pulsing it, as a lab would, and fit the soft-bounds law per device.

    Each of the first ``devices`` working devices is reset to the bottom of its window, then
    given ``pulses`` potentiating and ``pulses`` depressing pulses of ``amplitude_v`` (default:
    the family's reference pulse), read after each at the read voltage. One soft-bounds step is
    an affine map of the conductance, G' = (1 - a) G + a G_edge, so a straight-line fit of each
    read against the one before gives the step fraction ``a`` and the window edge. Each point is
    the mean of ``reads_per_point`` reads: read noise in the regressor biases the fit (by a few
    per cent at the prGO defaults with 4 reads). The read noise is measured by repeated reads;
    the cycle-to-cycle noise is what the fit residuals have beyond it, with a standard error from
    its spread across devices. Three-factor chips need light with each pulse and are refused.
    """
    params = chip.params
    if params.get("three_factor"):
        raise _refuse("chip", f"a three-factor ({chip.family!r}) chip",
                      "a chip that programs without light (use the model-law path for it)")
    devices = _count("devices", devices, 2, 4096)
    pulses = _count("pulses", pulses, 10, 100_000)
    repeat_reads = _count("repeat_reads", repeat_reads, 2, 10_000)
    reads_per_point = _count("reads_per_point", reads_per_point, 1, 1000)
    v_amp = float(params["v_ref_v"]) if amplitude_v is None else _positive("amplitude_v", amplitude_v)
    width = float(params["t_ref_s"]) if width_s is None else _positive("width_s", width_s)
    # the family's breakdown voltages are known before any device is touched: stay 4 sigma below
    v_safe = float(params["v_breakdown_v"]) - 4.0 * float(params["sigma_v_breakdown_v"])
    if v_amp >= v_safe:
        raise _refuse("amplitude_v", amplitude_v, f"< {v_safe:.4g} V (4 sigma below the family's "
                      "median breakdown voltage: a characterisation must not break devices)")
    v_read = float(params["v_read_v"])
    faults = chip.fault_map()
    unusable = np.zeros(np.shape(faults["stuck"]), bool)
    for name, mask in faults.items():
        if name != "noisy":
            unusable |= np.asarray(mask, bool)
    rows, cols = np.nonzero(~unusable)
    if rows.size < devices:
        raise _refuse("devices", devices, f"at most {rows.size} (the chip's working devices)")
    fit = {name: np.empty(devices) for name in ("g_min", "g_max", "a_plus", "a_minus")}
    excess, expected_var, read_rel, read_weight = (np.zeros(devices) for _ in range(4))

    def conductance(i: int, j: int) -> float:
        return sum(chip.read(i, j, v_read) for _ in range(reads_per_point)) / (reads_per_point * v_read)

    for k in range(devices):
        i, j = int(rows[k]), int(cols[k])
        chip.pulse(i, j, -v_amp, width, count=20 * pulses)  # to the bottom of the window
        trace = np.empty(2 * pulses + 1)
        trace[0] = conductance(i, j)
        for n in range(2 * pulses):
            chip.pulse(i, j, v_amp if n < pulses else -v_amp, width)
            trace[n + 1] = conductance(i, j)
        repeats = np.array([chip.read(i, j, v_read) / v_read for _ in range(repeat_reads)])
        read_rel[k] = np.var(repeats, ddof=1) / np.mean(repeats) ** 2
        for part, name, edge in ((trace[:pulses + 1], "a_plus", "g_max"),
                                 (trace[pulses:], "a_minus", "g_min")):
            x, y = part[:-1], part[1:]
            slope, intercept = np.polyfit(x, y, 1)
            a = 1.0 - slope
            if not 0.0 < a < 1.0:
                raise ExportParameterError(
                    f"device ({i}, {j}): the {name} fit gives a step fraction {a:g}, outside (0, 1); "
                    f"the pulse amplitude_v={v_amp!r} may be below its threshold")
            fit[name][k] = a
            fit[edge][k] = intercept / a
            step = a * (fit[edge][k] - x)
            residual = y - (slope * x + intercept)
            excess[k] += np.sum(residual ** 2)
            expected_var[k] += np.sum(step ** 2)
            # read noise in both (averaged) reads of a pair reaches the residual y - s x
            read_weight[k] += np.sum(y ** 2 + slope ** 2 * x ** 2) / reads_per_point
    sigma_read2 = float(np.mean(read_rel))
    c2c2_each = (excess - sigma_read2 * read_weight) / expected_var
    c2c2 = max(float(np.mean(c2c2_each)), 0.0)
    c2c2_se = float(np.std(c2c2_each, ddof=1)) / math.sqrt(devices)
    sigma_c2c = math.sqrt(c2c2)
    return DevicePopulation(
        g_min_s=fit["g_min"], g_max_s=fit["g_max"], a_plus=fit["a_plus"], a_minus=fit["a_minus"],
        stuck_fraction=float(np.count_nonzero(faults["stuck"])) / unusable.size,
        sigma_c2c=sigma_c2c, sigma_read=math.sqrt(sigma_read2),
        # d sigma = d(sigma^2) / (2 sigma); at an estimate of 0, sigma < sqrt(its error) is all
        sigma_c2c_se=c2c2_se / (2 * sigma_c2c) if sigma_c2c > 0 else math.sqrt(c2c2_se),
        sigma_read_se=math.sqrt(sigma_read2) / math.sqrt(2 * (devices * (repeat_reads - 1))),
        v_read_v=v_read, read_width_s=float(params["read_width_s"]),
        v_ref_v=v_amp, t_ref_s=width,
        source={"method": f"pulse characterisation ({devices} devices, {pulses} pulses each way, "
                          f"{v_amp:g} V / {width:g} s)",
                "devices_total": int(unusable.size)})


def _count(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise _refuse(name, value, f"an integer in {low}..{high}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# steps of one programming pulse
# ---------------------------------------------------------------------------------------------

def step_fractions(pop: DevicePopulation, amplitude_v: float | None = None,
                   width_s: float | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per-device potentiating and depressing step fractions of a pulse (|amplitude|, width),
    default the reference pulse: a * phi(V, t_w) * efficacy, with the switching law of
    docs/chip-model.md. Returns (c_up, c_down, amplitude_v, width_s)."""
    v = pop.v_ref_v if amplitude_v is None else _positive("amplitude_v", amplitude_v)
    t = pop.t_ref_s if width_s is None else _positive("width_s", width_s)
    if v == pop.v_ref_v and t == pop.t_ref_s:
        phi = 1.0
    else:
        if pop.v0_switch_v is None or pop.width_exponent is None:
            raise _refuse("amplitude_v/width_s", (amplitude_v, width_s),
                          f"the characterised pulse only ({pop.v_ref_v:g} V, {pop.t_ref_s:g} s): "
                          "this population has no switching law to rescale the steps")
        phi = (math.sinh(min(v / pop.v0_switch_v, 700.0)) / math.sinh(min(pop.v_ref_v / pop.v0_switch_v, 700.0))
               * (t / pop.t_ref_s) ** pop.width_exponent)
    if pop.v_th_v is not None and v < float(pop.v_th_v.max()):
        raise _refuse("amplitude_v", amplitude_v,
                      f">= {float(pop.v_th_v.max()):.4g} V, the highest switching threshold of the "
                      "devices (below it some devices would not move at all)")
    if pop.v_breakdown_v is not None and v >= float(pop.v_breakdown_v.min()):
        raise _refuse("amplitude_v", amplitude_v,
                      f"< {float(pop.v_breakdown_v.min()):.4g} V, the lowest breakdown voltage of "
                      "the devices")
    c_up = pop.a_plus * phi * pop.lit_efficacy
    c_down = pop.a_minus * phi * pop.lit_efficacy
    if max(c_up.max(), c_down.max()) >= 1.0:
        raise _refuse("amplitude_v/width_s", (v, t),
                      "a pulse that moves every device by less than its whole window "
                      "(this one spans the window in one step: no analog levels)")
    return np.minimum(c_up, 1.0), np.minimum(c_down, 1.0), v, t


def _stat(values: np.ndarray) -> dict[str, float | int]:
    n = values.size
    return {"value": float(np.mean(values)),
            "standard_error": float(np.std(values, ddof=1) / math.sqrt(n)), "devices": int(n)}


def _relative_spread(values: np.ndarray, reference: float) -> dict[str, float | int]:
    """std / |reference|, with the standard error of a standard deviation, std / sqrt(2 (n - 1))."""
    n = values.size
    rel = float(np.std(values, ddof=1) / abs(reference))
    return {"value": rel, "standard_error": rel / math.sqrt(2 * (n - 1)), "devices": int(n)}


# ---------------------------------------------------------------------------------------------
# aihwkit
# ---------------------------------------------------------------------------------------------

def aihwkit_config(pop: DevicePopulation, amplitude_v: float | None = None,
                   width_s: float | None = None) -> dict[str, Any]:
    """An aihwkit ``SoftBoundsDevice`` (in a ``SingleRPUConfig``) for the population.

    Weight units: w = 2 (G - G_lo) / (G_hi - G_lo) - 1, with G_lo, G_hi the medians of the
    devices' window edges, so the median device spans [-1, 1]. The chip's step
    dG = c (G_max - G) becomes dw = c (w_max_ij - w) = c w_max_ij (1 - w / w_max_ij): aihwkit's
    soft-bounds step with scale_up_ij = c_up w_max_ij (and scale_down_ij = c_down |w_min_ij|).
    aihwkit draws scale_up = dw_min (1 + min(up_down, 0) + g + r) and scale_down =
    dw_min (1 - max(up_down, 0) + g - r) with g ~ N(0, dw_min_dtod), r ~ N(0, up_down_dtod), so
    dw_min is the larger mean step, up_down their normalised difference, and the spreads those of
    the half-sum and half-difference.
    """
    c_up, c_down, v, t = step_fractions(pop, amplitude_v, width_s)
    g_lo, g_hi = float(np.median(pop.g_min_s)), float(np.median(pop.g_max_s))
    window = g_hi - g_lo
    w_min_dev = 2.0 * (pop.g_min_s - g_lo) / window - 1.0
    w_max_dev = 2.0 * (pop.g_max_s - g_lo) / window - 1.0
    if np.any(w_min_dev >= 0) or np.any(w_max_dev <= 0):
        raise _refuse("g_min_s/g_max_s", "a device whose window does not contain the median "
                      "window's middle", "windows that all contain w = 0 (aihwkit requires it)")
    scale_up = c_up * w_max_dev
    scale_down = c_down * -w_min_dev
    mean_up, mean_down = float(np.mean(scale_up)), float(np.mean(scale_down))
    dw_min = max(mean_up, mean_down)
    up_down = (mean_up - mean_down) / dw_min
    w_min, w_max = float(np.mean(w_min_dev)), float(np.mean(w_max_dev))
    statistics = {
        "dw_min": _stat(scale_up if mean_up >= mean_down else scale_down),
        "dw_min_dtod": _relative_spread(0.5 * (scale_up + scale_down), dw_min),
        "up_down": _stat((scale_up - scale_down) / dw_min),
        "up_down_dtod": _relative_spread(0.5 * (scale_up - scale_down), dw_min),
        "w_min": _stat(w_min_dev),
        "w_min_dtod": _relative_spread(w_min_dev, w_min),
        "w_max": _stat(w_max_dev),
        "w_max_dtod": _relative_spread(w_max_dev, w_max),
        "dw_min_std": {"value": pop.sigma_c2c, "standard_error": pop.sigma_c2c_se,
                       "devices": pop.devices},
    }
    parameters = {
        "dw_min": dw_min,
        "dw_min_dtod": statistics["dw_min_dtod"]["value"],
        "dw_min_std": pop.sigma_c2c,
        "up_down": up_down,
        "up_down_dtod": statistics["up_down_dtod"]["value"],
        "w_min": w_min,
        "w_min_dtod": statistics["w_min_dtod"]["value"],
        "w_max": w_max,
        "w_max_dtod": statistics["w_max_dtod"]["value"],
        "mult_noise": True,  # the chip's cycle-to-cycle noise scales the step
        "corrupt_devices_prob": pop.stuck_fraction,
        # an integer (older aihwkit types it int): corrupt devices may stick anywhere in their window
        "corrupt_devices_range": int(math.ceil(max(abs(w_min), w_max))),
    }
    return {
        "format": AIHWKIT_FORMAT,
        "format_version": FORMAT_VERSION,
        "rpu_config": {"class": "SingleRPUConfig",
                       "device": {"class": "SoftBoundsDevice", "parameters": parameters}},
        "statistics": statistics,
        "mapping": {
            "weight_of_conductance": "w = 2 (G - g_lo_s) / (g_hi_s - g_lo_s) - 1",
            "g_lo_s": g_lo, "g_hi_s": g_hi,
            "conductance": f"as read at {pop.v_read_v:g} V (read current / read voltage)",
            "pulse_amplitude_v": v, "pulse_width_s": t,
            "efficacy": pop.lit_efficacy,
            "first_potentiation_step_w": float(np.mean(c_up * (w_max_dev - w_min_dev))),
            "first_depression_step_w": float(np.mean(c_down * (w_max_dev - w_min_dev))),
        },
        "not_mapped": {
            "sigma_read": {"value": pop.sigma_read, "why": "read noise is a forward-pass (IO) "
                           "setting in aihwkit, relative to the output range, not to each device"},
            "stuck_at_edges": "aihwkit's corrupt devices stick at a random weight inside "
                              "[-corrupt_devices_range, corrupt_devices_range]; the chip's stick "
                              "at their window edges",
            "drift": "power-law drift of G is not a power law of w (w is affine in G); use "
                     "aihwkit's inference noise models for drift",
        },
        "source": {**pop.source, "devices": pop.devices},
    }


def write_aihwkit_json(path: str | Path, config: dict[str, Any]) -> Path:
    path = Path(path)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def load_aihwkit_rpu_config(path: str | Path) -> Any:
    """The ``SingleRPUConfig`` of an exported file (needs aihwkit: ``pip install memlab[aihwkit]``)."""
    from aihwkit.simulator.configs import SingleRPUConfig
    try:
        from aihwkit.simulator.configs import SoftBoundsDevice
    except ImportError:  # older aihwkit releases
        from aihwkit.simulator.configs.devices import SoftBoundsDevice
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != AIHWKIT_FORMAT:
        raise _refuse("path", str(path), f"a file written by memlab twin export --format aihwkit "
                      f"(format {AIHWKIT_FORMAT!r})")
    device = SoftBoundsDevice(**data["rpu_config"]["device"]["parameters"])
    return SingleRPUConfig(device=device)


# ---------------------------------------------------------------------------------------------
# NeuroSim
# ---------------------------------------------------------------------------------------------

def neurosim_nonlinearity_label(a_normalised: float | np.ndarray) -> float | np.ndarray:
    """NeuroSim's nonlinearity label of a normalised A (A / number of levels; negative for LTD).

    The label is the largest gap between NeuroSim's normalised curve
    y(x) = (1 - exp(-x / A)) / (1 - exp(-1 / A)) and the straight line y = x, in units of 0.099
    (which reproduces NeuroSim's getParamA table); its sign is A's.
    """
    a = np.asarray(a_normalised, np.float64)
    mag = np.abs(a)
    denom = -np.expm1(-1.0 / mag)
    x_star = -mag * np.log(mag * denom)
    gap = -np.expm1(-x_star / mag) / denom - x_star
    label = np.sign(a) * gap / _NEUROSIM_LABEL_UNIT
    return float(label) if label.ndim == 0 else label


def _levels(c: float, coverage: float) -> int:
    return max(int(math.ceil(math.log(1.0 - coverage) / math.log(1.0 - c))), 1)


def _endpoint_margins(c_up: np.ndarray | float, c_down: np.ndarray | float, n_up: int,
                      n_down: int) -> tuple[Any, Any]:
    """Fractions (u_lo, u_hi) of the window left below and above NeuroSim's endpoints such that
    n_up soft-bounds steps go exactly from the lower endpoint to the upper and n_down back:
    (1 - c_up)^n_up = u_hi / (1 - u_lo) and (1 - c_down)^n_down = u_lo / (1 - u_hi)."""
    p = (1.0 - c_up) ** n_up
    m = (1.0 - c_down) ** n_down
    return m * (1.0 - p) / (1.0 - m * p), p * (1.0 - m) / (1.0 - m * p)


def neurosim_table(pop: DevicePopulation, amplitude_v: float | None = None,
                   width_s: float | None = None, coverage: float = 0.95) -> list[dict[str, Any]]:
    """NeuroSim's device parameters (MLP_NeuroSim ``RealDevice`` names) for the population.

    The number of levels is the number of pulses of the mean device to cross ``coverage`` of its
    window; the endpoints (``minConductance``, ``maxConductance``) are placed so that this many
    potentiating pulses go exactly from one to the other, and as many depressing ones back. Then
    NeuroSim's G(x) = B (1 - exp(-x / A)) + G_min is the chip's soft-bounds curve exactly, with
    A = -1 / ln(1 - c) pulses for LTP and 1 / ln(1 - c) for LTD.
    """
    coverage = _positive("coverage", coverage, upper=1.0, upper_open=True)
    c_up, c_down, v, t = step_fractions(pop, amplitude_v, width_s)
    cu, cd = float(np.mean(c_up)), float(np.mean(c_down))
    se_cu, se_cd = (float(np.std(x, ddof=1) / math.sqrt(x.size)) for x in (c_up, c_down))
    n_up, n_down = _levels(cu, coverage), _levels(cd, coverage)
    if max(n_up, n_down) > 100_000:
        raise _refuse("amplitude_v/width_s", (v, t), "a pulse whose steps cross the window in at "
                      "most 100,000 pulses")
    g_lo, g_hi = pop.g_min_s, pop.g_max_s
    u_lo, u_hi = _endpoint_margins(cu, cd, n_up, n_down)
    gmin_ns = g_lo + u_lo * (g_hi - g_lo)  # per device, with the mean device's levels
    gmax_ns = g_hi - u_hi * (g_hi - g_lo)
    gmin_s, gmax_s = _stat(gmin_ns), _stat(gmax_ns)

    def label(c: float, n: int, sign: float) -> float:
        return neurosim_nonlinearity_label(sign * -1.0 / math.log(1.0 - c) / n)

    def label_se(c: float, se: float, n: int, sign: float) -> float:
        return abs(label(min(c + se, 0.999999), n, sign) - label(max(c - se, 1e-12), n, sign)) / 2

    nl_up, nl_down = label(cu, n_up, 1.0), label(cd, n_down, -1.0)
    labels_up = neurosim_nonlinearity_label(-1.0 / np.log1p(-c_up) / n_up)
    labels_down = neurosim_nonlinearity_label(1.0 / np.log1p(-c_down) / n_down)
    sigma_d2d = math.sqrt(0.5 * (np.var(labels_up, ddof=1) + np.var(labels_down, ddof=1)))
    # cycle-to-cycle: NeuroSim adds a constant sigma per pulse (a fraction of the range); the
    # chip's is sigma_c2c times each step. Matched in mean variance over both full sweeps.
    w_mean = float(np.mean(g_hi - g_lo))
    lo_mean, hi_mean = float(np.mean(g_lo)), float(np.mean(g_hi))
    steps = []
    g = lo_mean + u_lo * w_mean
    for _ in range(n_up):
        steps.append(cu * (hi_mean - g)); g += steps[-1]
    for _ in range(n_down):
        steps.append(cd * (g - lo_mean)); g -= steps[-1]
    range_ns = gmax_s["value"] - gmin_s["value"]
    sigma_ctoc = pop.sigma_c2c * math.sqrt(float(np.mean(np.square(steps)))) / range_ns
    ratio = gmax_s["value"] / gmin_s["value"]
    ratio_se = ratio * math.hypot(gmax_s["standard_error"] / gmax_s["value"],
                                  gmin_s["standard_error"] / gmin_s["value"])
    n = pop.devices
    label_note = "" if all(NEUROSIM_LABEL_RANGE[0] <= abs(x) <= NEUROSIM_LABEL_RANGE[1]
                           for x in (nl_up, nl_down)) else \
        "; outside NeuroSim's table (0.01..9): NeuroSim clamps it, use paramA instead"

    def row(name: str, value: Any, unit: str, se: Any, note: str) -> dict[str, Any]:
        return {"parameter": name, "value": value, "unit": unit, "standard_error": se,
                "devices": n, "note": note}

    return [
        row("maxConductance", gmax_s["value"], "S", gmax_s["standard_error"],
            f"conductance after maxNumLevelLTP pulses from minConductance (read at {pop.v_read_v:g} V)"),
        row("minConductance", gmin_s["value"], "S", gmin_s["standard_error"],
            "conductance after maxNumLevelLTD pulses from maxConductance"),
        row("maxNumLevelLTP", n_up, "pulses", "",
            f"pulses of the mean device to cross {coverage:g} of its window (a convention)"),
        row("maxNumLevelLTD", n_down, "pulses", "", "as maxNumLevelLTP, depressing"),
        row("NL_LTP", nl_up, "", label_se(cu, se_cu, n_up, 1.0),
            "NeuroSim nonlinearity label (getParamA(NL) = paramA / levels)" + label_note),
        row("NL_LTD", nl_down, "", label_se(cd, se_cd, n_down, -1.0),
            "negative: LTD" + label_note),
        row("paramALTP", -1.0 / math.log(1.0 - cu), "pulses", "",
            "A of G(x) = B (1 - exp(-x / A)) + minConductance"),
        row("paramALTD", 1.0 / math.log(1.0 - cd), "pulses", "", "A of the LTD curve (negative)"),
        row("onOffRatio", ratio, "", ratio_se, "maxConductance / minConductance"),
        row("sigmaDtoD", sigma_d2d, "", sigma_d2d / math.sqrt(2 * (n - 1)),
            "device-to-device sigma of the NL label (LTP and LTD pooled)"),
        row("sigmaCtoC", sigma_ctoc, "fraction of range",
            sigma_ctoc * (pop.sigma_c2c_se / pop.sigma_c2c if pop.sigma_c2c else 0.0),
            "per-pulse sigma / (max - min conductance); the chip's is proportional to each "
            "step, matched in mean variance over a full LTP and LTD sweep"),
        row("maxConductanceVar", float(np.std(gmax_ns, ddof=1)), "S",
            float(np.std(gmax_ns, ddof=1)) / math.sqrt(2 * (n - 1)), "device-to-device sigma"),
        row("minConductanceVar", float(np.std(gmin_ns, ddof=1)), "S",
            float(np.std(gmin_ns, ddof=1)) / math.sqrt(2 * (n - 1)), "device-to-device sigma"),
        row("sigmaReadNoise", pop.sigma_read, "", pop.sigma_read_se,
            "relative: I = V G (1 + sigma xi), as NeuroSim's Read()"),
        row("readVoltage", pop.v_read_v, "V", "", ""),
        row("readPulseWidth", pop.read_width_s, "s", "", "how long the chip's read holds its voltage"),
        row("writeVoltageLTP", v, "V", "", "amplitude of the programming pulse"),
        row("writeVoltageLTD", v, "V", "", "amplitude (magnitude) of the depressing pulse"),
        row("writePulseWidthLTP", t, "s", "", ""),
        row("writePulseWidthLTD", t, "s", "", ""),
        row("memlab.stuckFraction", pop.stuck_fraction, "", "", "devices stuck at a window edge "
            "(excluded above; NeuroSim has no such parameter)"),
        row("memlab.efficacy", pop.lit_efficacy, "", "", "step efficacy assumed (three-factor "
            "families: under saturating light)"),
        row("memlab.source", pop.source.get("method", ""), "", "",
            "; ".join(f"{k}={v_}" for k, v_ in pop.source.items() if k != "method")),
    ]


def write_neurosim_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["parameter", "value", "unit",
                                                    "standard_error", "devices", "note"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return path
