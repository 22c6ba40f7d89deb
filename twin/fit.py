"""Fit the chip model to run files: per device, and as chip-wide distributions (docs/twin.md).

Each parameter comes from the procedure that determines it, through the figures of merit of
``memlab.analysis`` (which carry their own uncertainties):

| procedure | per-device parameters | chip-wide (median, spread) |
|---|---|---|
| readout | ``sigma_read`` (relative read noise) | ``sigma_read`` |
| potentiation-depression | ``a_plus``, ``a_minus``, ``g_min_s``, ``g_max_s``, ``stuck`` | medians, ``sigma_step_d2d``, ``sigma_g_d2d``, ``sigma_c2c``, ``stuck_fraction``, ``stuck_on_share`` |
| iv-sweep | ``v_th_v`` (SET voltage), ``v0_read_v`` (read nonlinearity) | ``v_th_v``, ``sigma_v_th_v``, ``v0_read_v`` |
| pulsed-iv (amplitude x width grid) | ``v0_switch_v``, ``width_exponent`` | their means |
| forming | ``v_form_v`` | ``v_form_v``, ``sigma_v_form_v`` |
| retention | ``drift`` (nu or the log rate) | ``drift_law``, its median and spread |
| endurance | ``wear_exponent``, ``wear_center``, ``endurance_cycles`` | means; median, ``sigma_endurance`` |
| optical-pulses, relaxation (light) | ``gamma_ph``, ``tau_on_s``, ``band_gap_ev``, ``urbach_energy_ev``, ``k_shunt_per_w`` (divided by the recorded coupling efficiency), ``g_ph_ref_s`` (the photo-response law at the set power that puts ``p_ref_w`` on the device); ``tau_ph_s`` | means (``k_shunt_per_w``, ``g_ph_ref_s``: medians) |
| three-factor | ``tau_pl_s`` (the pulse-then-light side of the coincidence window), ``tau_e_s`` (the light-then-pulse side through the step law: runs with two train sizes only) | medians |

The optical-pulses photo-response (``gamma_ph``, ``k_shunt_per_w``, ``g_ph_ref_s``) is the
analysis' law with each dark read's residual photoconductance modelled from the run's own decay
time (:func:`memlab.analysis.summary.photoresponse_of_run`); a run whose residual cannot be
corrected gives none of the three, with a note. Likewise the absorption edge (``band_gap_ev``,
``urbach_energy_ev``) with the spectral steps' residual modelled
(:func:`memlab.analysis.summary.spectral_edge_of_run`): uncorrected, neither is taken.

The voltage and wear laws are fitted in ``twin/laws.py``. A parameter no run determines keeps
the preset's value and is reported as such, with the reason (:data:`PRESET_REASONS`).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from memlab.analysis.errors import AnalysisError, MissingStreamError
from memlab.analysis.loading import Run, find_run_files
from memlab.analysis.metrics.fom import FigureOfMerit, t_quantile
from memlab.analysis.metrics.plasticity import split_branches, step_law
from memlab.analysis.summary import RunPhotoResponse, photoresponse_of_run, spectral_edge_of_run, summarize_run
from memlab.storage import RunFileError
from memlab.twin.file import FITTED, PRESET, ChipEstimate, DeviceEstimates, Twin, TwinFileError
from memlab.twin.laws import PulsedSequence, fit_read_nonlinearity, fit_switching, fit_wear

__all__ = ["fit_twin", "TwinFitError", "DEVICE_UNITS", "FIT_PROCEDURES", "standard_error"]

Z95 = NormalDist().inv_cdf(0.975)

#: per-device parameters the fit determines, with their units
DEVICE_UNITS = {"sigma_read": "", "a_plus": "", "a_minus": "", "g_min_s": "S", "g_max_s": "S", "v_th_v": "V",
                "v_form_v": "V", "drift": "", "endurance_cycles": "cycles", "stuck": "",
                # chip-wide in the model: per-device estimates pooled into the chip's value
                "v0_read_v": "V", "v0_switch_v": "V", "width_exponent": "", "wear_exponent": "", "wear_center": "",
                "gamma_ph": "", "tau_on_s": "s", "tau_ph_s": "s", "band_gap_ev": "eV",
                "urbach_energy_ev": "eV", "k_shunt_per_w": "1/W", "g_ph_ref_s": "S", "tau_pl_s": "s", "tau_e_s": "s"}
FIT_PROCEDURES = ("readout", "potentiation-depression", "iv-sweep", "forming", "retention", "endurance",
                  "pulsed-iv", "optical-pulses", "relaxation", "three-factor")
#: optical procedures' figures of merit (memlab.analysis.summary) -> the model parameter each measures
OPTICAL_FIGURES = {
    "optical-pulses": {"photo_exponent": "gamma_ph", "rise_tau_s": "tau_on_s", "band_gap_ev": "band_gap_ev",
                       "urbach_energy_ev": "urbach_energy_ev"},
    "relaxation": {"relaxation_tau_s": "tau_ph_s"},  # light stimulus only: a pulse train's relaxation is drift
    # eligibility_tau_s only from runs with two train sizes (fitted through the step law; see _collect)
    "three-factor": {"eligibility_pulse_light_tau_s": "tau_pl_s", "eligibility_tau_s": "tau_e_s"},
}
#: why parameters that no fit here determines keep the preset (instead of "no run determines it")
PRESET_REASONS = {
    "k_shunt_per_w": "no optical-pulses run that records the laser's coupling efficiency and was measured at "
                     "the model's reference wavelength determines it (the analysis' coefficient is per watt set "
                     "on the laser, the model's per watt absorbed on the device)",
    "tau_e_s": "no three-factor run with two train sizes (version 2 on, bound_pulses > 0) determines it (with "
               "one size the light-then-pulse window cannot be fitted through the step law's saturation)",
    "tau_pl_s": "no three-factor run determines it",
    "g_ph_ref_s": "no optical-pulses run with a photo-response that records the laser's coupling efficiency "
                  "and was measured at the model's reference wavelength determines it",
    "wear_exponent": "no endurance run's window closed to half its start: the wear law's shape is not "
                     "in the data (the endurance fit assumed the preset's)",
    "wear_center": "as wear_exponent",
    "v_breakdown_v": "not fitted: breakdown is destructive; no characterisation procedure ramps into it",
    "sigma_v_breakdown_v": "not fitted: as v_breakdown_v",
}
# Below this fraction of a sweep's SET and RESET voltages nothing programs the device: the read
# nonlinearity is fitted there.
QUIET_FRACTION = 0.9
# A device whose potentiation-depression run moves it by less than this (relative) is stuck.
STUCK_CHANGE = 0.05
# A run's wavelength this close (relative) to the model's reference one: responsivity 1 (the
# absorbed fraction changes by far less than the fits' errors over 0.06 nm).
WAVELENGTH_MATCH = 1e-4


class TwinFitError(TwinFileError):
    """Run files a twin cannot be fitted from (none usable, two different chips)."""


@dataclass
class _Value:
    value: float
    stderr: float
    source: int
    also: tuple[int, ...] = ()  # further runs a joint fit rests on
    pulse: tuple[float, float] | None = None  # a step size measured with this (|V|, width) pulse


def _values(c: "_Collected", name: str, device: tuple[int, int]) -> list[_Value]:
    return c.per_device.setdefault(name, {}).setdefault(device, [])


@dataclass
class _Collected:
    """Per-device estimates, gathered over the runs, and chip-level pooled quantities."""

    per_device: dict[str, dict[tuple[int, int], list[_Value]]] = field(default_factory=dict)
    # one per branch: (device, sum of squared residuals, sum of the reads' G^2 over reads averaged,
    # sum of squared model steps); the read noise is subtracted once every readout is in
    c2c: list[tuple[tuple[int, int], float, float, float]] = field(default_factory=list)
    c2c_sources: set[int] = field(default_factory=set)
    gmin_reset: list[tuple[tuple[int, int], float, float, int]] = field(default_factory=list)
    endurance: list[tuple[tuple[int, int], float, float, float, int]] = field(default_factory=list)
    drift_laws: list[str] = field(default_factory=list)
    pulsed: dict[tuple[int, int], list[PulsedSequence]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def standard_error(fig: FigureOfMerit) -> float:
    """A figure's standard error: its own, else from its interval as if normal."""
    if math.isfinite(fig.stderr):
        return fig.stderr
    return (fig.high - fig.low) / (2 * Z95) if fig.confidence == 0.95 else \
        (fig.high - fig.low) / (2 * NormalDist().inv_cdf(0.5 + fig.confidence / 2))


def _add(c: _Collected, name: str, device: tuple[int, int], fig: Any, source: int) -> None:
    if isinstance(fig, FigureOfMerit) and fig.determined and math.isfinite(fig.value):
        se = standard_error(fig)
        if math.isfinite(se) and se >= 0:
            _values(c, name, device).append(_Value(fig.value, se, source))


def _absorbed_per_set_w(run: Run, c: _Collected, params: dict, what: str) -> float | None:
    """Watts absorbed-equivalent on the device per watt set on the laser, ``c R(lambda)``: the
    bench's coupling efficiency (recorded with the chip) times the responsivity at the run's
    wavelength. R is 1 at the model's ``wavelength_ref_m`` whatever the absorption edge; at any
    other wavelength it rests on ``alpha_gap_per_m`` and ``film_thickness_m``, which no run
    determines, so such a run is not used (None, with a note naming ``what``)."""
    coupling = run.chip.get("coupling_efficiency")
    if isinstance(coupling, bool) or not isinstance(coupling, (int, float)) or not 0.0 < coupling <= 1.0:
        c.notes.append(f"{run.name}: the run does not record the laser's coupling efficiency; {what} not used")
        return None
    photo = run.streams.get("photoresponse", {})
    wavelengths = run.arrays("photoresponse", ("wavelength",))["wavelength"] if "wavelength" in photo else []
    wavelengths = np.asarray(wavelengths, float)
    wavelengths = wavelengths[np.isfinite(wavelengths) & (wavelengths > 0)]
    ref = params["wavelength_ref_m"]
    if wavelengths.size == 0:
        c.notes.append(f"{run.name}: the run does not record the laser's wavelength (photoresponse stream); "
                       f"{what} not used")
        return None
    if not np.all(np.abs(wavelengths / ref - 1.0) <= WAVELENGTH_MATCH):
        c.notes.append(f"{run.name}: measured at {float(np.median(wavelengths)):.4g} m, not the model's reference "
                       f"wavelength {ref:.4g} m, where the responsivity (1) needs no absorption edge; {what} not used")
        return None
    return float(coupling)


def _shunting(run: Run, row: dict, c: _Collected, device: tuple[int, int], source: int, params: dict) -> None:
    """k_shunt_per_w: the analysis' coefficient is per watt set on the laser, the model's per watt
    absorbed on the device (shunting 1 + k_model c R P_set)."""
    fig = row.get("shunt_coefficient_per_w")
    if not (isinstance(fig, FigureOfMerit) and fig.determined and math.isfinite(fig.value)):
        return
    per_set = _absorbed_per_set_w(run, c, params, "shunting coefficient")
    se = standard_error(fig)
    if per_set is not None and math.isfinite(se) and se >= 0:
        _values(c, "k_shunt_per_w", device).append(_Value(fig.value / per_set, se / per_set, source))


def _photo_response(run: Run, c: _Collected) -> RunPhotoResponse | None:
    """The photo-response law of an optical-pulses run, or None (with a note) when its dark reads'
    residual photoconductance could not be corrected (no decay time measured in the run, no dark
    wait recorded, or too much of the previous light left): then none of gamma_ph, k_shunt_per_w
    and g_ph_ref_s is taken from it, as the analysis' notes say."""
    if run.rows.get("photoresponse", 0) == 0 or "dark_conductance" not in run.streams.get("photoresponse", []):
        return None
    try:
        photo = photoresponse_of_run(run)
    except (AnalysisError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        c.notes.append(f"{run.name}: photo-response not fitted ({exc})")
        return None
    if not photo.corrected:
        c.notes.append(f"{run.name}: {photo.note}; gamma_ph, k_shunt_per_w and g_ph_ref_s not taken from it")
        return None
    return photo


def _edge_corrected(run: Run, c: _Collected) -> bool:
    """Whether an optical-pulses run's absorption edge (band_gap_ev, urbach_energy_ev) has its dark
    reads' residual photoconductance corrected (:func:`memlab.analysis.summary.spectral_edge_of_run`);
    if not, a note says why and neither figure is taken from it."""
    if run.rows.get("spectral", 0) == 0 or "wavelength" not in run.streams.get("photoresponse", []):
        return True  # no edge: nothing to take
    try:
        edge = spectral_edge_of_run(run)
    except (AnalysisError, ValueError, FloatingPointError, np.linalg.LinAlgError):
        return True  # the summary's own figure says why it is not determined
    if not edge.corrected:
        c.notes.append(f"{run.name}: absorption edge: {edge.note}; band_gap_ev and urbach_energy_ev not taken from it")
    return edge.corrected


def _photoconductance(run: Run, photo: RunPhotoResponse, row: dict, c: _Collected, device: tuple[int, int],
                      source: int, params: dict) -> None:
    """g_ph_ref_s: the model's steady photoconductance at ``p_ref_w`` absorbed. The analysis' law
    gives ``a P_set^gamma`` (as read: times the read I-V's factor) with P_set the set power, and
    the absorbed power is ``c R P_set``: so g_ph_ref is the law at P_set = p_ref / (c R), over the
    read factor, and over the rise reached in the run's ``settle_s`` (``1 - exp(-settle / tau_on)``
    with the run's own rise time; the shunting's rise is far faster). Its uncertainty is the law's
    at that power (ln a and gamma jointly, with the decay time's share from the dark reads'
    residual correction) and the rise time's, combined."""
    if run.rows.get("photoresponse", 0) < 4:
        return
    per_set = _absorbed_per_set_w(run, c, params, "photoconductance")
    if per_set is None:
        return
    est = photo.fit.photoconductance_at(params["p_ref_w"] / per_set)
    if not est.determined:
        c.notes.append(f"{run.name}: photoconductance at p_ref not determined ({est.reason})")
        return
    rel_var = (est.stderr / est.value) ** 2
    settle = float(run.parameter("settle_s", math.inf))
    rise = row.get("rise_tau_s")
    reached = 1.0
    if isinstance(rise, FigureOfMerit) and rise.determined and math.isfinite(settle):
        x = settle / rise.value
        reached = -math.expm1(-x)
        # d ln(reached) / d tau = -(x / tau) e^-x / reached
        rel_var += (x / rise.value * math.exp(-x) / reached * standard_error(rise)) ** 2
    elif math.isfinite(settle):
        c.notes.append(f"{run.name}: no rise time measured (no step response): the photo-response after "
                       f"settle_s = {settle:g} s is taken as steady for g_ph_ref_s")
    value = est.value / _read_factor(run, params) / reached
    _values(c, "g_ph_ref_s", device).append(_Value(value, value * math.sqrt(rel_var), source))


def _read_sigma_of(c: _Collected, device: tuple[int, int], preset: float) -> float:
    values = c.per_device.get("sigma_read", {}).get(device)
    return float(np.mean([v.value for v in values])) if values else preset


def _potentiation(run: Run, c: _Collected, source: int, params: dict) -> None:
    dev = run.device
    a = run.arrays("pulses", ("repeat", "pulse", "polarity", "conductance"), purpose="the twin fit")
    g = np.asarray(a["conductance"], float)
    if g.size < 8:
        return
    # The run reads I / V at read_v; the device's own G is that over the read I-V's factor.
    g = g / _read_factor(run, params)
    span = (np.nanmax(g) - np.nanmin(g)) / max(float(np.nanmedian(g)), 1e-30)
    stuck = span < STUCK_CHANGE
    _values(c, "stuck", dev).append(_Value(1.0 if stuck else 0.0, 0.0, source))
    _values(c, "_stuck_g", dev).append(_Value(float(np.nanmedian(g)), 0.0, source))
    if stuck:
        return
    # A pulse other than the reference moves phi times the reference step (sinh and power law).
    width = float(run.parameter("width_s", params["t_ref_s"]))
    branches = split_branches(a["repeat"], a["polarity"], g)
    for polarity, amp_name, a_name, bound_name in ((1, "set_v", "a_plus", "g_max_s"),
                                                   (-1, "reset_v", "a_minus", "g_min_s")):
        amp = abs(float(run.parameter(amp_name, 2.0 * polarity)))
        law = step_law(branches, polarity)
        if not (math.isfinite(law.a) and 0 < law.a < 1 and math.isfinite(law.bound_s) and law.bound_s > 0):
            continue
        dof = max(law.steps - 2, 1)
        # referred to the reference pulse once the switching law is fitted (_refer_steps)
        if math.isfinite(law.a_stderr) and law.a_stderr >= 0:
            _values(c, a_name, dev).append(_Value(law.a, law.a_stderr, source, pulse=(amp, width)))
        reads = float(run.parameter("reads", 1))
        start_pulses = int(run.parameter("start_pulses", 0)) if run.parameter("start") == "reset" else 0
        if polarity == -1 and (1.0 - law.a) ** start_pulses < 1e-3:
            # The start reset saturated at Gmin: the read before the first potentiating pulse is
            # Gmin itself, far better determined than the depression law's intercept.
            first_is_start = branches[0].polarity == 1 and int(np.asarray(a["pulse"])[0]) == 0
            g0 = float(branches[0].conductance_s[0]) if first_is_start else math.nan
            if math.isfinite(g0) and g0 > 0:  # its uncertainty, the read noise, once every readout is in
                c.gmin_reset.append((dev, g0, reads, source))
            else:
                _add(c, bound_name, dev, FigureOfMerit.from_stderr(law.bound_s, law.bound_stderr_s, law.steps,
                                                                  dof=dof), source)
        else:
            _add(c, bound_name, dev, FigureOfMerit.from_stderr(law.bound_s, law.bound_stderr_s, law.steps, dof=dof),
                 source)
        # cycle-to-cycle noise: each step's scatter about the law, less the two reads' noise
        for br in branches:
            if br.polarity != polarity or len(br.conductance_s) < 3:
                continue
            gb = br.conductance_s
            model = law.a * (law.bound_s - gb[:-1])
            resid = np.diff(gb) - model
            c.c2c.append((dev, float(np.sum(resid ** 2)), float(np.sum(gb[:-1] ** 2 + gb[1:] ** 2)) / reads,
                          float(np.sum(model ** 2))))
            c.c2c_sources.add(source)


def _read_factor(run: Run, params: dict) -> float:
    """The read I-V's factor V0 sinh(V / V0) / V at the run's read voltage (the preset's V0)."""
    v_read = float(run.parameter("read_v", 0.2))
    v0 = params["v0_read_v"]
    return v0 * math.sinh(v_read / v0) / v_read


def _pulsed_iv(run: Run, c: _Collected, source: int, params: dict) -> None:
    a = run.arrays("pulses", ("amplitude", "width", "conductance"), purpose="the twin fit")
    amp = np.asarray(a["amplitude"], float)
    if amp.size < 3:
        return
    c.pulsed.setdefault(run.device, []).append(PulsedSequence(
        1 if amp[0] > 0 else -1, float(np.median(a["width"])), amp,
        np.asarray(a["conductance"], float) / _read_factor(run, params), int(run.parameter("pulses", 1)),
        int(run.parameter("reads", 1)), source))


def _iv_read_law(run: Run, row: dict, c: _Collected, device: tuple[int, int], source: int) -> None:
    """v0_read_v from the sweep's points below QUIET_FRACTION of its SET and RESET voltages."""
    limits = [abs(f.value) for f in (row.get("set_voltage_v"), row.get("reset_voltage_v"))
              if isinstance(f, FigureOfMerit) and f.determined and math.isfinite(f.value)]
    if not limits:
        c.notes.append(f"{run.name}: no SET or RESET voltage: read nonlinearity not fitted")
        return
    a = run.arrays("iv", ("voltage", "current"), purpose="the read nonlinearity")
    law = fit_read_nonlinearity(a["voltage"], a["current"], QUIET_FRACTION * min(limits))
    if law.determined:
        _values(c, "v0_read_v", device).append(_Value(law.value, law.stderr, source))
    else:
        c.notes.append(f"{run.name}: read nonlinearity not determined ({law.reason})")


def _wear(run: Run, c: _Collected, device: tuple[int, int], source: int, params: dict) -> bool:
    """wear_exponent, wear_center and endurance_cycles from an endurance run's window over the
    sampled cycles (twin/laws.py); whether the endurance came out determined."""
    a = run.arrays("endurance", ("cycle", "conductance_set", "conductance_reset"), purpose="the wear law")
    factor = _read_factor(run, params)
    fit = fit_wear(a["cycle"], np.asarray(a["conductance_set"], float) / factor,
                   np.asarray(a["conductance_reset"], float) / factor, sigma_read=params["sigma_read"],
                   reads=int(run.parameter("reads", 1)))
    for name, law in (("wear_exponent", fit.wear_exponent), ("wear_center", fit.wear_center),
                      ("endurance_cycles", fit.endurance_cycles)):
        if law.determined:
            _values(c, name, device).append(_Value(law.value, law.stderr, source))
        elif name == "wear_exponent":
            c.notes.append(f"{run.name}: wear law not determined ({law.reason})")
    return fit.endurance_cycles.determined


def _collect(run: Run, c: _Collected, source: int, params: dict) -> None:
    if run.procedure == "potentiation-depression":  # its own step-law fit, not the summary's figures
        if run.device is not None:
            _potentiation(run, c, source, params)
        return
    if run.procedure == "pulsed-iv":  # fitted per device once every run is in (needs them together)
        if run.device is not None:
            _pulsed_iv(run, c, source, params)
        return
    summary = summarize_run(run)
    if summary.error:
        c.notes.append(f"{run.name}: {summary.error}")
        return
    for row in summary.rows:
        r, col = row.get("device_row"), row.get("device_col")
        device = (int(r), int(col)) if r is not None and col is not None and not _isna(r) else run.device
        if device is None:
            continue
        if run.procedure == "readout":
            _add(c, "sigma_read", device, row.get("read_noise_cv"), source)
        elif run.procedure == "iv-sweep":
            _add(c, "v_th_v", device, row.get("set_voltage_v"), source)
            _iv_read_law(run, row, c, device, source)
        elif run.procedure in OPTICAL_FIGURES:
            if run.procedure == "relaxation" and run.parameter("stimulus") != "light":
                continue
            photo = _photo_response(run, c) if run.procedure == "optical-pulses" else None
            edge = _edge_corrected(run, c) if run.procedure == "optical-pulses" else True
            for figure, name in OPTICAL_FIGURES[run.procedure].items():
                if name == "gamma_ph" and photo is None:
                    continue
                if name in ("band_gap_ev", "urbach_energy_ev") and not edge:
                    continue
                if name == "tau_e_s" and not _two_train_sizes(run):
                    c.notes.append(f"{run.name}: one train size (three-factor before version 2, or bound_pulses = 0): "
                                   "its light-then-pulse time constant is biased by the step law's saturation; "
                                   "tau_e_s not taken from it")
                    continue
                _add(c, name, device, row.get(figure), source)
            if photo is not None:
                _shunting(run, row, c, device, source, params)
                _photoconductance(run, photo, row, c, device, source, params)
        elif run.procedure == "forming":
            fig = row.get("forming_voltage_v")
            if not (isinstance(fig, FigureOfMerit) and fig.determined):
                continue
            if not _formed_here(run, device):
                c.notes.append(f"{run.name}: the device was formed already or did not form (as the run "
                               f"records, else no {FORMING_DROP:g}-fold resistance drop); forming voltage not used")
                continue
            # formed somewhere on the step (low, high]: the middle, with a uniform law's sigma
            low, high = sorted((abs(fig.low), abs(fig.high)))
            if high > low:
                _values(c, "v_form_v", device).append(_Value(0.5 * (low + high), (high - low) / math.sqrt(12),
                                                             source))
        elif run.procedure == "endurance":
            if _wear(run, c, device, source, params):
                continue  # the whole trajectory gave the endurance; the failure bracket adds nothing
            fig = row.get("cycles_to_failure")
            if isinstance(fig, FigureOfMerit) and fig.determined:
                # it failed between two sampled cycles: the middle, a uniform law's sigma; turned
                # into the model's endurance once the device's window (Gmax / Gmin) is known
                c.endurance.append((device, 0.5 * (fig.low + fig.high), (fig.high - fig.low) / math.sqrt(12),
                                    float(run.parameter("min_window", 2.0)), source))
        elif run.procedure == "retention":
            law = row.get("drift_law")
            if isinstance(law, str) and law in ("power", "log"):
                c.drift_laws.append(law)
            _add(c, "_drift_power", device, row.get("drift_nu"), source)
            _add(c, "_drift_log", device, row.get("drift_log_siemens"), source)


def _two_train_sizes(run: Run) -> bool:
    """Whether a three-factor run has trials of two train sizes, which its light-then-pulse window
    needs to be fitted through the step law (memlab.analysis.metrics.optical.eligibility_soft_bound)."""
    if "pulses" not in run.streams.get("coincidence", []):
        return False
    return np.unique(np.asarray(run.arrays("coincidence", ("pulses",))["pulses"])).size >= 2


FORMING_DROP = 10.0  # a filament forming drops the resistance by orders of magnitude; a SET does not


def _formed_here(run: Run, device: tuple[int, int]) -> bool:
    """Whether the run formed a virgin device: from the state the run file records (formed at
    the end and not at the start) when it records both, else inferred: some step of the ramp
    dropped the resistance FORMING_DROP-fold."""
    state = run.device_states.get(device, {})
    start, end = state.get("formed_at_start"), state.get("formed_at_end")
    if start is not None and end is not None:
        return bool(end) and not start
    if start is True or end is False:
        return False
    r = np.asarray(run.arrays("forming", ("resistance",))["resistance"], float)
    r = r[np.isfinite(r) & (r > 0)]
    return r.size >= 2 and float(np.max(r[:-1] / r[1:])) >= FORMING_DROP


def _isna(x: Any) -> bool:
    try:
        return bool(x != x) or x is None or str(x) == "<NA>"
    except (TypeError, ValueError):
        return True


def _combine(values: list[_Value]) -> tuple[float, float, list[int]]:
    """Inverse-variance mean of several estimates of one device's parameter."""
    sources = sorted({k for v in values for k in (v.source, *v.also)})
    if len(values) == 1 or any(v.stderr == 0 for v in values):
        v = values[-1]
        return v.value, v.stderr, sources
    w = np.array([1 / v.stderr ** 2 for v in values])
    x = np.array([v.value for v in values])
    return float(np.sum(w * x) / np.sum(w)), float(1 / math.sqrt(np.sum(w))), sources


def _distribution(values: np.ndarray, stderr: np.ndarray, log: bool) -> tuple[tuple, tuple] | None:
    """(centre, spread) of a parameter over devices, each as (value, stderr, low, high, n).

    ``log``: a log-normal parameter, centre = the median exp(mean ln x), spread = sigma of ln x.
    The spread removes the devices' own estimation noise: sqrt(var - mean(se^2))."""
    ok = np.isfinite(values) & np.isfinite(stderr) & ((values > 0) if log else True)
    x, se = values[ok], stderr[ok]
    n = x.size
    if n == 0:
        return None
    if log:
        se = se / x
        x = np.log(x)
    mean = float(np.mean(x))
    if n == 1:
        centre = (mean, float(se[0]), mean - Z95 * float(se[0]), mean + Z95 * float(se[0]), 1)
        spread = None
    else:
        var = float(np.var(x, ddof=1))
        noise = float(np.mean(se ** 2))
        centre_se = math.sqrt(var / n)
        k = t_quantile(0.95, n - 1)
        centre = (mean, centre_se, mean - k * centre_se, mean + k * centre_se, n)
        dof = n - 1
        chi = [dof * (1 - 2 / (9 * dof) + q * math.sqrt(2 / (9 * dof))) ** 3 for q in (Z95, -Z95)]
        low_var, high_var = var * dof / chi[0], var * dof / max(chi[1], 1e-12)
        spread_value = math.sqrt(max(var - noise, 0.0))
        spread = (spread_value, math.sqrt(var / (2 * dof)), math.sqrt(max(low_var - noise, 0.0)),
                  math.sqrt(max(high_var - noise, 0.0)), n)
    if log:
        v, s, lo, hi, n_c = centre
        centre = (math.exp(v), math.exp(v) * s, math.exp(lo), math.exp(hi), n_c)
    return centre, spread


def _estimate(stats: tuple | None, sources: set[int], unit: str) -> ChipEstimate | None:
    if stats is None:
        return None
    value, se, lo, hi, n = stats
    return ChipEstimate(float(value), float(se), float(lo), float(hi), int(n), FITTED, "",
                        tuple(sorted(sources)), unit)


# chip-wide parameter <- per-device parameter, log-normal?, spread parameter
_DISTRIBUTIONS = (
    ("sigma_read", "sigma_read", False, None),
    ("a_plus", "a_plus", True, "sigma_step_d2d"),
    ("a_minus", "a_minus", True, None),
    ("g_min_s", "g_min_s", True, "sigma_g_d2d"),
    ("g_max_s", "g_max_s", True, None),
    ("v_th_v", "v_th_v", False, "sigma_v_th_v"),
    ("v_form_v", "v_form_v", False, "sigma_v_form_v"),
    ("endurance_cycles", "endurance_cycles", True, "sigma_endurance"),
    # chip-wide in the model (no spread): the mean over the devices measured
    ("v0_read_v", "v0_read_v", False, None),
    ("v0_switch_v", "v0_switch_v", False, None),
    ("width_exponent", "width_exponent", False, None),
    ("wear_exponent", "wear_exponent", False, None),
    ("wear_center", "wear_center", False, None),
    ("gamma_ph", "gamma_ph", False, None),
    ("tau_on_s", "tau_on_s", True, None),
    ("tau_ph_s", "tau_ph_s", True, None),
    ("band_gap_ev", "band_gap_ev", False, None),
    ("urbach_energy_ev", "urbach_energy_ev", False, None),
    ("k_shunt_per_w", "k_shunt_per_w", True, None),
    ("g_ph_ref_s", "g_ph_ref_s", True, None),
    ("tau_pl_s", "tau_pl_s", True, None),
    ("tau_e_s", "tau_e_s", True, None),
)


def _refer_steps(c: _Collected, params: dict) -> None:
    """Step sizes measured with any pulse, divided by its rate phi(V, t_w) relative to the
    reference pulse: with the fitted V0 and beta (mean over devices), else the preset's."""
    def chip_value(name: str) -> float:
        every = [v.value for vals in c.per_device.get(name, {}).values() for v in vals]
        return float(np.mean(every)) if every else params[name]
    v0, beta = chip_value("v0_switch_v"), chip_value("width_exponent")
    for name in ("a_plus", "a_minus"):
        for values in c.per_device.get(name, {}).values():
            for v in values:
                if v.pulse is not None:
                    amp, width = v.pulse
                    phi = (math.sinh(min(amp / v0, 700)) / math.sinh(min(params["v_ref_v"] / v0, 700))
                           * (width / params["t_ref_s"]) ** beta)
                    v.value, v.stderr, v.pulse = v.value / phi, v.stderr / phi, None


def _switching_estimates(c: _Collected, params: dict) -> None:
    """v0_switch_v and width_exponent of each device with pulsed-iv runs (twin/laws.py)."""
    for device, seqs in sorted(c.pulsed.items()):
        fit = fit_switching(seqs, v_ref_v=params["v_ref_v"], t_ref_s=params["t_ref_s"],
                            sigma_read=_read_sigma_of(c, device, params["sigma_read"]),
                            sigma_c2c=params["sigma_c2c"], beta_preset=params["width_exponent"])
        sources = sorted({s.source for s in seqs})
        for name, law in (("v0_switch_v", fit.v0_switch_v), ("width_exponent", fit.width_exponent)):
            if law.determined:  # one estimate from all the device's runs
                _values(c, name, device).append(_Value(law.value, law.stderr, sources[0], tuple(sources[1:])))
            else:
                c.notes.append(f"device {device}: {name} not determined by its {len(seqs)} pulsed-iv runs "
                               f"({law.reason})")


def _endurance_estimates(c: _Collected, params: dict) -> None:
    """The model's endurance from each measured cycles-to-failure.

    The chip's window closes as ``w(n) = 1 - (n / n_end)^p`` towards ``Gmin + centre (Gmax - Gmin)``;
    the run fails when Gmax_w / Gmin_w falls below its ``min_window``, i.e. at ``w*`` below, so
    ``n_end = n_fail / (1 - w*)^(1/p)``. ``p`` and the centre are the preset's (no run here
    separates them from n_end); the window ratio is the device's fitted one, else the chip's."""
    def edge(name: str, device: tuple[int, int]) -> float:
        values = c.per_device.get(name, {}).get(device)
        if values:
            return _combine(values)[0]
        every = [v.value for vals in c.per_device.get(name, {}).values() for v in vals]
        return float(np.exp(np.mean(np.log(every)))) if every else params[name]
    def chip_value(name: str) -> float:  # fitted from other endurance runs' trajectories, else preset
        every = [v.value for vals in c.per_device.get(name, {}).values() for v in vals]
        return float(np.mean(every)) if every else params[name]
    p, centre = chip_value("wear_exponent"), chip_value("wear_center")
    for device, n_fail, se, min_window, source in c.endurance:
        gmin, gmax = edge("g_min_s", device), edge("g_max_s", device)
        mid = gmin + centre * (gmax - gmin)
        w = mid * (min_window - 1) / ((gmax - mid) + min_window * (mid - gmin))
        if not 0 <= w < 1:
            c.notes.append(f"device {device}: a window of {gmax / gmin:.3g} never closes to {min_window:g}; "
                           "endurance not determined")
            continue
        factor = (1 - w) ** (-1 / p)
        _values(c, "endurance_cycles", device).append(_Value(n_fail * factor, se * factor, source))


CHUNK = 64  # files per task


def _procedure_name(path: str) -> str | None:
    """The procedure a run file records, read cheaply (None when it cannot be read so: the
    reader then opens the file properly and says what is wrong with it)."""
    try:
        with h5py.File(path, "r") as f:
            name = f.attrs.get("procedure")
            if name is None:
                metadata = f.attrs.get("metadata")
                if metadata is not None:
                    name = json.loads(metadata).get("procedure")
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return name if isinstance(name, str) else None


def _collect_files(paths: list[str], first: int, family: str | None) -> tuple[_Collected, list[tuple]]:
    """Collect one chunk of files; sources are positions in the whole file list (``first`` on).
    Returns the collection and (position, name, (rows, cols), family) of each run used."""
    from memlab.instruments.sim.chip.presets import resolve_params

    c = _Collected()
    used: list[tuple] = []
    params_of: dict[str, dict] = {}
    for k, path in enumerate(paths):
        if _procedure_name(path) not in (None, *FIT_PROCEDURES):
            continue  # another procedure's run: skip it without the reader's full structure check
        try:
            run = Run.open(path, keep_open=True)  # one open for the metadata and every stream
        except RunFileError as exc:
            c.notes.append(f"{Path(path).name}: skipped ({exc})")
            continue
        with run:
            if run.procedure not in FIT_PROCEDURES or run.status != "completed":
                continue
            rows, cols = run.chip.get("rows"), run.chip.get("cols")
            if rows is None or cols is None:
                c.notes.append(f"{run.name}: skipped (the file does not record the chip's size)")
                continue
            run_family = family or str(run.chip.get("family", "prgo"))
            if run_family not in params_of:
                params_of[run_family] = resolve_params(run_family, None)
            used.append((first + k, run.name, (int(rows), int(cols)), run_family))
            try:
                _collect(run, c, first + k, params_of[run_family])
            except (AnalysisError, MissingStreamError, ValueError, KeyError, OSError) as exc:
                c.notes.append(f"{run.name}: {exc}")
    return c, used


def _collect_parallel(chunks: list[tuple[int, list[str]]], family: str | None, workers: int | None,
                      advance: Any) -> list[tuple[_Collected, list[tuple]]]:
    import dask
    from dask.callbacks import Callback

    tasks = [dask.delayed(_collect_files, pure=True)(chunk, first, family) for first, chunk in chunks]
    sizes = {t.key: len(chunk) for t, (_, chunk) in zip(tasks, chunks)}

    class _Advance(Callback):
        def _posttask(self, key, result, dsk, state, worker_id) -> None:  # noqa: ANN001
            if key in sizes:
                advance(sizes[key])
    with _Advance():
        return list(dask.compute(*tasks, scheduler="processes", num_workers=workers))


def _merge(parts: list[tuple[_Collected, list[tuple]]]) -> tuple[_Collected, list[tuple]]:
    c = _Collected()
    used: list[tuple] = []
    for part, part_used in parts:
        for name, devices in part.per_device.items():
            for device, values in devices.items():
                c.per_device.setdefault(name, {}).setdefault(device, []).extend(values)
        c.c2c += part.c2c
        c.c2c_sources |= part.c2c_sources
        c.gmin_reset += part.gmin_reset
        c.endurance += part.endurance
        c.drift_laws += part.drift_laws
        for device, seqs in part.pulsed.items():
            c.pulsed.setdefault(device, []).extend(seqs)
        c.notes += part.notes
        used += part_used
    return c, sorted(used)


def _renumber(c: _Collected, position: dict[int, int]) -> None:
    for devices in c.per_device.values():
        for values in devices.values():
            for v in values:
                v.source = position[v.source]
    c.c2c_sources = {position[k] for k in c.c2c_sources}
    c.gmin_reset = [(dev, g0, reads, position[src]) for dev, g0, reads, src in c.gmin_reset]
    c.endurance = [(dev, n, se, mw, position[src]) for dev, n, se, mw, src in c.endurance]
    for seqs in c.pulsed.values():
        for seq in seqs:
            seq.source = position[seq.source]


def fit_twin(paths: Iterable[str | Path] | str | Path, *, family: str | None = None,
             progress: bool | None = None, workers: int | None = None) -> Twin:
    """A :class:`Twin` fitted to the run files under ``paths`` (files and/or folders).

    :param family: the chip family whose preset fills what no run determines (default: the
        family the runs record).
    :param progress: a progress bar on stderr (None: when stderr is a terminal).
    :param workers: processes of Dask's local pool that fit chunks of files; 1: serial. None
        (default), as ``memlab analyze``: one per core for folders of
        ``analysis.parallel.SERIAL_BELOW`` files or more, else serial.
    :raises TwinFitError: no usable run file, or runs of chips of different size or family.
    """
    from memlab.instruments.sim.chip.presets import resolve_params

    files = [str(p) for p in find_run_files(paths)]
    if not files:
        raise TwinFitError(f"no run files under {', '.join(map(str, paths if not isinstance(paths, (str, Path)) else [paths]))}")
    chunks = [(k, files[k:k + CHUNK]) for k in range(0, len(files), CHUNK)]
    bar = tqdm(total=len(files), desc="fitting", unit="run", file=sys.stderr,
               disable=not (sys.stderr.isatty() if progress is None else progress), leave=False)
    try:
        if workers is None:
            from memlab.analysis.parallel import SERIAL_BELOW

            workers = (os.cpu_count() or 1) if len(files) >= SERIAL_BELOW else 1
        if workers <= 1:
            parts = []
            for first, chunk in chunks:
                parts.append(_collect_files(chunk, first, family))
                bar.update(len(chunk))
        else:
            parts = _collect_parallel(chunks, family, workers, bar.update)
    finally:
        bar.close()
    c, used = _merge(parts)
    if not used:
        raise TwinFitError(f"none of the {len(files)} run files is a completed run of "
                           f"{', '.join(FIT_PROCEDURES)} on a chip of known size")
    shape, chip_family = used[0][2], family or used[0][3]
    for index, name, run_shape, _ in used:
        if run_shape != shape:
            raise TwinFitError(f"{files[index]}: a {run_shape[0]} x {run_shape[1]} chip, but {used[0][1]} measured "
                               f"a {shape[0]} x {shape[1]} chip; fit one chip at a time")
    # sources: from file positions to positions in the list of runs used
    position = {index: k for k, (index, *_rest) in enumerate(used)}
    _renumber(c, position)
    sources = [name for _, name, _, _ in used]
    params = resolve_params(chip_family, None)
    return _assemble(c, shape, chip_family or "prgo", params, sources)


def _assemble(c: _Collected, shape: tuple[int, int], family: str, params: dict, sources: list[str]) -> Twin:
    from memlab.instruments.sim.chip.presets import PARAMETERS

    twin = Twin(family, shape[0], shape[1], sources=sources)
    # the drift law: the one most retention fits preferred
    law = max(("power", "log"), key=c.drift_laws.count) if c.drift_laws else params["drift_law"]
    drift_key = "_drift_power" if law == "power" else "_drift_log"
    if drift_key in c.per_device:
        c.per_device["drift"] = c.per_device[drift_key]
    for dev, g0, reads, source in c.gmin_reset:
        sigma = _read_sigma_of(c, dev, params["sigma_read"]) / math.sqrt(reads)
        _values(c, "g_min_s", dev).append(_Value(g0, sigma * g0, source))
    _endurance_estimates(c, params)
    _switching_estimates(c, params)
    _refer_steps(c, params)
    for name, unit in DEVICE_UNITS.items():
        est = DeviceEstimates.empty(shape, "S" if name == "drift" and law == "log" else unit)
        for (i, j), values in c.per_device.get(name, {}).items():
            if 0 <= i < shape[0] and 0 <= j < shape[1]:
                v, se, src = _combine(values)
                est.value[i, j], est.stderr[i, j] = v, se
                est.sources[i, j] = ",".join(map(str, src))
        twin.devices[name] = est
    # stuck devices: frozen at their own measured conductance, at Gmax if nearer it than Gmin
    stuck = twin.devices["stuck"].value == 1
    stuck_g = np.full(shape, np.nan)
    for (i, j), values in c.per_device.get("_stuck_g", {}).items():
        stuck_g[i, j] = values[-1].value
    # devices that are not stuck must not carry a stuck device's conductance as a window edge
    for name in ("g_min_s", "g_max_s", "a_plus", "a_minus"):
        twin.devices[name].value[stuck] = np.nan

    chip: dict[str, ChipEstimate] = {}

    def sources_of(name: str) -> set[int]:
        return {k for vals in c.per_device.get(name, {}).values() for v in vals for k in (v.source, *v.also)}

    for chip_name, dev_name, log, spread_name in _DISTRIBUTIONS:
        d = twin.devices[dev_name]
        stats = _distribution(d.value.ravel(), d.stderr.ravel(), log)
        if stats is None:
            continue
        chip[chip_name] = _estimate(stats[0], sources_of(dev_name), d.unit)
        if spread_name and stats[1] is not None:
            chip[spread_name] = _estimate(stats[1], sources_of(dev_name), "" if log else d.unit)
    d = twin.devices["drift"]
    stats = _distribution(d.value.ravel(), d.stderr.ravel(), False)
    if stats is not None:
        chip["drift_law"] = ChipEstimate(law, status=FITTED, n=len(c.drift_laws), sources=tuple(sorted(sources_of("drift"))))
        centre, spread = ("drift_nu", "sigma_drift_nu") if law == "power" else ("drift_log_s", "sigma_drift_log_s")
        chip[centre] = _estimate(stats[0], sources_of("drift"), d.unit)
        if stats[1] is not None:
            chip[spread] = _estimate(stats[1], sources_of("drift"), d.unit)
    if c.c2c and sum(x[3] for x in c.c2c) > 0:
        # each step is the difference of two reads: their noise (the device's read sigma) comes off
        read_sigma = {dev: _read_sigma_of(c, dev, params["sigma_read"]) for dev in {x[0] for x in c.c2c}}
        num = np.array([x[1] - read_sigma[x[0]] ** 2 * x[2] for x in c.c2c])
        den = np.array([x[3] for x in c.c2c])
        value = math.sqrt(max(num.sum() / den.sum(), 0.0))
        rng = np.random.default_rng(0)  # bootstrap over branches: their steps are independent
        boots = []
        for _ in range(400):
            k = rng.integers(0, num.size, num.size)
            boots.append(math.sqrt(max(num[k].sum() / max(den[k].sum(), 1e-300), 0.0)))
        lo, hi = np.quantile(boots, [0.025, 0.975])
        chip["sigma_c2c"] = ChipEstimate(value, float(np.std(boots, ddof=1)), float(min(lo, value)),
                                         float(max(hi, value)), int(num.size), FITTED, "",
                                         tuple(sorted(c.c2c_sources)), "")
    s = twin.devices["stuck"]
    tried = int(s.measured.sum())
    if tried:
        from memlab.analysis.metrics.fom import fraction_figure

        n_stuck = int(stuck.sum())
        frac = fraction_figure(n_stuck, tried)
        chip["stuck_fraction"] = ChipEstimate(frac.value, standard_error(frac), frac.low, frac.high, tried, FITTED,
                                              "", tuple(sorted(sources_of("stuck"))), "")
        if n_stuck:
            gmin = chip.get("g_min_s", ChipEstimate(params["g_min_s"])).value
            gmax = chip.get("g_max_s", ChipEstimate(params["g_max_s"])).value
            on = stuck & (np.abs(np.log(stuck_g / gmax)) < np.abs(np.log(stuck_g / gmin)))
            s.value[stuck] = np.where(on[stuck], 2.0, 1.0)
            # the stuck device's conductance is its window edge (Gmax when stuck on, Gmin when off)
            twin.devices["g_max_s"].value[on] = stuck_g[on]
            twin.devices["g_min_s"].value[stuck & ~on] = stuck_g[stuck & ~on]
            share = fraction_figure(int(on.sum()), n_stuck)
            chip["stuck_on_share"] = ChipEstimate(share.value, standard_error(share), share.low, share.high, n_stuck,
                                                  FITTED, "", chip["stuck_fraction"].sources, "")
    # keep the fitted values inside what the model allows (a spread may come out as 0)
    for name, e in list(chip.items()):
        spec = PARAMETERS[name]
        try:
            spec.check(name, e.value)
        except ValueError as exc:
            chip[name] = ChipEstimate(params[name], status=PRESET, unit=spec.unit,
                                      reason=f"fitted value {e.value!r} outside the model's range ({exc})")
    for name, spec in PARAMETERS.items():
        if name not in chip:
            chip[name] = ChipEstimate(params[name], status=PRESET, unit=spec.unit,
                                      reason=PRESET_REASONS.get(name, "no run determines it: the preset's value"))
    if chip["g_min_s"].value >= chip["g_max_s"].value:
        raise TwinFitError(f"fitted g_min_s {chip['g_min_s'].value:g} S is not below g_max_s "
                           f"{chip['g_max_s'].value:g} S: the potentiation-depression runs are inconsistent")
    twin.chip = chip
    twin.notes = list(c.notes)
    return twin
