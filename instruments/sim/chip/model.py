"""The simulated memristor chip: a rows x cols array of devices of one family.

See ``docs/chip-model.md`` for the physics, the parameters and their sources. The model is split
along its seams:

- ``laws.py``: the electrical laws (read I-V, switching rate, drift, wear), scalar and array
  forms side by side; ``optics.py``: the optical laws and the light history;
- ``state.py``: the per-device state and faults (:class:`DeviceState`);
- ``bias.py``: passive arrays, the bias scheme and sneak paths (:class:`PassiveArray`);
- ``read_cache.py``: the cached read matrix of vector-matrix reads;
- ``validation.py``: argument checks on the shared validation layer (``instruments/limits.py``);
- this module: programming (one pulse, trains, regions) and the public API.

In short:

- State lives in float32 arrays of shape (rows, cols), per-device parameters in one stacked
  float32 array ``_dev`` (drawn once from the seed). Times are float64 (virtual time can reach
  1e6 s, where float32 would round to 0.06 s).
- Single-device operations read and write scalars only (``_dev[:, i, j].tolist()``), so their
  cost does not depend on the array size.
- Line and array operations are vectorised numpy on views; passive arrays apply the bias
  scheme's voltages to the half-selected regions.
- Trains of pulses on one device are clamped affine scans (``sequences.py``); trains on many
  devices use exact per-device moments.
- A change of G restarts the drift clock and wears the device in proportion to |dG| (a change of
  ``dg_full_fraction`` of the window or more counts fully), so ineffective pulses do neither.
- The chip reads ``clock.now()`` but never advances the clock, except :meth:`Chip.illuminate`.
  Operations that span time (bursts, sweeps) evaluate step k at ``now + k * period``.

Not thread-safe by itself: the simulated bench serialises access with its world lock.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from memlab.instruments.clock import Clock
from memlab.instruments.sim.chip import laws
from memlab.instruments.sim.chip.bias import ARRAYS, BIAS_SCHEMES, READ_BIASES, PassiveArray
from memlab.instruments.sim.chip.noise import NoiseSource
from memlab.instruments.sim.chip.optics import Eligibility, LightField, photo_gate, responsivity
from memlab.instruments.sim.chip.presets import resolve_params
from memlab.instruments.sim.chip.read_cache import ReadCache, drift_may_exceed
from memlab.instruments.sim.chip.sequences import clamp_affine_scan, periodic_moments
from memlab.instruments.sim.chip.state import (
    AM, AP, BROKEN, DRIFT, FAULT_KINDS, FORMED, FROZEN, GMAX, GMIN, HALF_INV_NEND, INV_DG_FULL,
    NEND, OPEN, PINNED,
    SHORT, STUCK, VBD, VFORM, VTH, WORN, DeviceState, check_device_parameters,
)
from memlab.instruments.sim.chip.validation import integer_in, number_in, refuse
from memlab.instruments.sim.clock import VirtualClock

__all__ = ["Chip", "FAULT_KINDS", "ARRAYS", "BIAS_SCHEMES", "READ_BIASES"]

MAX_ABS_VOLTAGE_V = 1000.0
_BURST_LOOP_MAX = 16  # multi-device bursts up to this count are stepped exactly
_BIG = 1e300
# A source whose noise-free current is within this factor of its limit is in compliance (a
# conductance set by the limit itself, G = I_cc / f(V), is stored in float32).
_IN_COMPLIANCE = 1.0 - 1e-6

Index = int | slice | Sequence[int] | np.ndarray | None


class Chip(DeviceState, PassiveArray):
    """A simulated memristor chip. See the module docstring and ``docs/chip-model.md``.

    :param rows, cols: array size (1 .. 4096 each).
    :param family: device family preset, a key of ``PRESETS`` ("prgo", "optomemristor").
    :param seed: all randomness (device draws, programming noise, read noise) derives from it.
    :param clock: the bench clock (default: a new :class:`VirtualClock`).
    :param array: "1t1r" (a transistor per cell: no sneak paths, current limited) or "passive".
    :param bias_scheme: how a passive array biases unselected lines while writing (pulses, and
        levels the pulse generator holds): "v/2", "v/3", "grounded", "v/2-columns".
    :param read_bias: how a passive array biases unselected lines while the source-measure unit
        drives a device (reads, list sweeps, its pulses): "v/2-columns" (other rows at the sense
        column's potential, other columns at half the level: no sneak current, no device above
        half the level), "grounded" (every other line at the sense potential: no sneak current,
        the driven row's devices see the full level), "v/2" or "v/3" (the sense column collects
        the half-selected rows).
    :param overrides: preset parameters to replace, e.g. ``{"sigma_read": 0.0}``.
    :param formed: whether the devices start formed (else they need :meth:`form`).
    :param devices: per-device parameters instead of drawn ones (a fitted twin), name -> a rows x
        cols array, NaN where the device is to be drawn; names in ``state.DEVICE_PARAMETERS``.
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        family: str = "prgo",
        seed: int = 0,
        clock: Clock | None = None,
        array: str = "1t1r",
        bias_scheme: str = "v/3",
        read_bias: str = "v/2-columns",
        overrides: dict[str, Any] | None = None,
        formed: bool = True,
        devices: dict[str, Any] | None = None,
    ) -> None:
        self.rows = integer_in("rows", rows, 1, 4096)
        self.cols = integer_in("cols", cols, 1, 4096)
        if array not in ARRAYS:
            raise refuse("array", array, "one of " + ", ".join(map(repr, ARRAYS)))
        if bias_scheme not in BIAS_SCHEMES:
            raise refuse("bias_scheme", bias_scheme, "one of " + ", ".join(map(repr, BIAS_SCHEMES)))
        if read_bias not in READ_BIASES:
            raise refuse("read_bias", read_bias, "one of " + ", ".join(map(repr, READ_BIASES)))
        if not isinstance(formed, bool):
            raise refuse("formed", formed, "true or false")
        seed = integer_in("seed", seed, 0)
        if clock is None:
            clock = VirtualClock()
        elif not all(callable(getattr(clock, name, None)) for name in ("now", "sleep")):
            raise refuse("clock", clock, "an object with now() and sleep()")
        self.clock = clock
        self.family = family
        self.array = array
        self.bias_scheme = bias_scheme
        self.read_bias = read_bias
        self.seed = seed
        self.params: dict[str, Any] = resolve_params(family, overrides)
        p = self.params

        draw_seed, prog_seed, read_seed = np.random.SeedSequence(seed).spawn(3)
        self._prog_noise = NoiseSource(prog_seed)
        self._read_noise = NoiseSource(read_seed)
        shape = (self.rows, self.cols)
        given = (None if devices is None
                 else check_device_parameters(devices, shape, p["drift_law"] == "power"))
        self._draw_devices(np.random.Generator(np.random.PCG64(draw_seed)), shape, formed, given)

        # Constants of the hot paths.
        self._sinh_ref = math.sinh(min(p["v_ref_v"] / p["v0_switch_v"], 700.0))
        self._v0_switch = p["v0_switch_v"]
        self._t_ref = p["t_ref_s"]
        self._beta = p["width_exponent"]
        self._wear_p = p["wear_exponent"]
        self._wear_center = p["wear_center"]
        self._t0 = p["drift_t0_s"]
        self._power_law = p["drift_law"] == "power"
        self._sigma_c2c = p["sigma_c2c"]
        self._i_max = p["transistor_i_max_a"] if array == "1t1r" else None
        self._optical = p["g_ph_ref_s"] > 0.0 or p["k_shunt_per_w"] > 0.0
        self._three_factor = p["three_factor"]
        self._h_dark = p["h_dark"] if p["three_factor"] else 1.0
        self._gain_lp = p["gain_lp"]
        self._dg_full_fraction = p["dg_full_fraction"]
        self._light: LightField | None = None
        # The pulse-then-light trace, created by the first pulse of a three-factor chip.
        self._elig: Eligibility | None = None
        self._saved_g: dict[tuple[int, int], float] = {}
        self._cache = ReadCache()

    # ==========================================================================================
    # construction
    # ==========================================================================================
    # ==========================================================================================
    # small helpers
    # ==========================================================================================

    def _check_device(self, row: Any, col: Any) -> tuple[int, int]:
        for name, value, size in (("row", row, self.rows), ("col", col, self.cols)):
            if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                    or not 0 <= value < size):
                raise refuse(name, value, f"an integer in 0..{size - 1}")
        return int(row), int(col)

    def _line_index(self, name: str, value: Index, size: int) -> np.ndarray:
        """Rows or columns as a sorted array of unique indices."""
        if value is None:
            return np.arange(size)
        if isinstance(value, slice):
            return np.arange(size)[value]
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if not 0 <= value < size:
                raise refuse(name, value, f"an index in 0..{size - 1}")
            return np.array([int(value)])
        try:
            index = np.asarray(value)
        except Exception:  # noqa: BLE001 - anything unusable is refused below
            index = np.array([None])
        if index.ndim != 1 or (index.size and not np.issubdtype(index.dtype, np.integer)):
            raise refuse(name, value, "an index, a slice, a list of indices or None")
        if index.size and (index.min() < 0 or index.max() >= size):
            raise refuse(name, value, f"indices in 0..{size - 1}")
        return np.unique(index)

    def _device_list(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Paired device indices (rows[k], cols[k]) as integer arrays, checked."""
        r, c = np.asarray(rows), np.asarray(cols)
        if (r.ndim != 1 or c.ndim != 1 or r.shape != c.shape
                or (r.size and not (np.issubdtype(r.dtype, np.integer)
                                    and np.issubdtype(c.dtype, np.integer)))):
            raise refuse("rows/cols", (rows, cols), "two integer lists of one length")
        if r.size and (r.min() < 0 or r.max() >= self.rows or c.min() < 0 or c.max() >= self.cols):
            raise refuse("rows/cols", (rows, cols),
                         f"devices in rows 0..{self.rows - 1}, cols 0..{self.cols - 1}")
        return r.astype(np.intp), c.astype(np.intp)

    def _voltage(self, name: str, value: Any) -> float:
        return number_in(name, value, -MAX_ABS_VOLTAGE_V, MAX_ABS_VOLTAGE_V, unit="V")

    def _width(self, name: str, value: Any) -> float:
        return number_in(name, value, 0.0, 1e6, low_open=True, unit="s")

    def _count(self, count: Any) -> int:
        return integer_in("count", count, 1, 10**9)

    def _compliance(self, compliance_a: float | None) -> float | None:
        """The current limit in force: the source's compliance and, in 1T1R, the transistor."""
        if compliance_a is None:
            return self._i_max
        limit = number_in("compliance_a", compliance_a, 0.0, low_open=True, unit="A")
        return limit if self._i_max is None else min(limit, self._i_max)

    # The laws with this chip's parameters (laws.py holds them, scalar and array side by side).

    def _iv(self, v: float) -> float:
        return laws.read_iv(v, self.params["v0_read_v"])

    def _iv_vec(self, v: Any) -> np.ndarray:
        return laws.read_iv_array(v, self.params["v0_read_v"])

    def _phi(self, absv: float, width_s: float) -> float:
        return laws.switching_rate(absv, width_s, self._v0_switch, self._sinh_ref, self._t_ref,
                                   self._beta)

    def _phi_vec(self, absv: Any, width_s: Any) -> np.ndarray:
        return laws.switching_rate_array(absv, width_s, self._v0_switch, self._sinh_ref,
                                         self._t_ref, self._beta)

    def _drifted(self, g: float, nu: float, age_s: float) -> float:
        return laws.drifted(g, nu, age_s, self._t0, self._power_law)

    def _drifted_vec(self, g: np.ndarray, nu: np.ndarray, t: float,
                     tprog: np.ndarray) -> np.ndarray:
        return laws.drifted_array(g, nu, t, tprog, self._t0, self._power_law)

    def _window(self, d: list[float], pulses: float) -> tuple[float, float]:
        """The device's (narrowed) conductance window after ``pulses`` pulse-equivalents."""
        return laws.wear_window(d[GMIN], d[GMAX], pulses, d[NEND], self._wear_p, self._wear_center)

    def _drift_pending(self, t: float) -> bool:
        return t - self._tprog_min > self._t0

    def _efficacy_scalar(self, i: int, j: int, t: float) -> float:
        """Three-factor programming efficacy h (1 for families without it)."""
        if not self._three_factor:
            return 1.0
        light = self._light
        if light is None or not light.eligible_at(t):
            return self._h_dark
        return self._h_dark + (1.0 - self._h_dark) * self._gain_lp * light.trace_scalar(i, j, t)

    def _efficacy(self, index: Any, t: float | np.ndarray) -> np.ndarray | float:
        if not self._three_factor:
            return 1.0
        light = self._light
        if light is None or not light.eligible_at(float(np.min(t))):
            return self._h_dark
        return (self._h_dark + (1.0 - self._h_dark) * self._gain_lp
                * light.trace(index, t)).astype(np.float32)

    def _eligibility(self) -> Eligibility:
        if self._elig is None:
            self._elig = Eligibility((self.rows, self.cols), self.params)
        return self._elig

    def _light_active(self) -> bool:
        return self._optical and self._light is not None

    def _changed(self, t: float | None = None) -> None:
        """Invalidate the read cache; ``t`` = the latest time a device may be programmed at."""
        self._cache.invalidate()
        if t is not None and t > self._tprog_max:
            self._tprog_max = t

    # -- committing a change: drift restart and wear in proportion to |dG| --------------------

    def _commit_scalar(self, i: int, j: int, d: list[float], g_now: float, g_new: float,
                       t: float, inv_dg_full: float, nu: float, tprog: float, pulses: float) -> None:
        """Device (i, j), whose conductance is ``g_now`` at ``t`` (drift applied; ``nu``,
        ``tprog`` and ``pulses`` its drift coefficient, time of programming and wear), becomes
        ``g_new``: the drift clock restarts and the device wears by the effective fraction
        (``inv_dg_full``: 1 / the change that counts fully, dg_full_fraction of its window)."""
        r = laws.effective_fraction(g_new - g_now, inv_dg_full)
        age = (1.0 - r) * (t - tprog if t > tprog else 0.0)
        self._g[i, j] = g_new if age <= self._t0 or nu == 0.0 else \
            laws.undrifted(g_new, nu, age, self._t0, self._power_law)
        self._tprog[i, j] = t - age
        pulses += r
        self._pulses[i, j] = pulses
        if pulses > self._pulse_bound:
            self._pulse_bound = pulses
        if 0.5 * pulses >= d[NEND]:
            self._flags[i, j] |= WORN
            self._refresh(i, j)

    def _commit_region(self, index: tuple, g_new: np.ndarray, delta: np.ndarray, mask: Any,
                       t: float, view: bool, in_place: bool, window: Any = None) -> None:
        """Vector form of :meth:`_commit_scalar`: the devices at ``index`` become ``g_new`` by
        a change ``delta``, for the devices ``mask`` selects (True: all). ``in_place``: ``g_new``
        is already the state's view; ``window``: dg_full_fraction times each device's present
        (wear-narrowed) window (S), None for fresh windows. ``delta`` is used up (overwritten)."""
        r = np.abs(delta, out=delta) if delta.dtype == np.float32 else np.abs(delta, dtype=np.float32)
        if window is None:
            np.multiply(r, self._dev[INV_DG_FULL][index], out=r)
        else:  # a change counts relative to the device's present window
            np.divide(r, window, out=r)
        np.minimum(r, np.float32(1.0), out=r)
        if mask is not True:
            np.multiply(r, mask, out=r)
        if self._tprog_min >= t:  # every device was programmed at t: no drift clock to keep
            if not in_place:
                self._g[index] = g_new
            self._tprog[index] = t
        else:
            age = (1.0 - r) * np.maximum(t - self._tprog[index], 0.0)
            if self._drift_pending(t):
                g_new = laws.undrifted_array(g_new, self._nu[index], age, self._t0,
                                             self._power_law)
                in_place = False
            if not in_place:
                self._g[index] = g_new
            self._tprog[index] = t - age
            if view and g_new.shape == self._g.shape:
                self._tprog_min = float(np.min(self._tprog))
        pulses = self._pulses[index]
        np.add(pulses, r, out=pulses)
        if not view:
            self._pulses[index] = pulses
        self._pulse_bound += 1.0
        if 0.5 * self._pulse_bound >= self._nend_min:
            worn = (pulses * 0.5 >= self._dev[NEND][index]) & ((self._flags[index] & WORN) == 0)
            if worn.any():
                self._flags[index] = np.where(worn, self._flags[index] | WORN, self._flags[index])
                self._refresh_mask(index, worn)

    # ==========================================================================================
    # one pulse on one device (Python floats: a few microseconds whatever the array size)
    # ==========================================================================================

    def _program_scalar(self, i: int, j: int, v: float, width_s: float, i_cc: float | None,
                        t: float) -> None:
        absv = abs(v)
        if absv < self._v_quiet:
            return
        flags = int(self._flags[i, j])
        if flags & OPEN:
            return
        d = self._dev[:, i, j].tolist()
        if absv > d[VBD] and not flags & (BROKEN | SHORT):
            self._break(i, j, t)
        elif not flags & FORMED:
            if absv < d[VFORM] or flags & FROZEN:
                return
            self._form(i, j, absv, i_cc, t)
        else:
            if flags & FROZEN or absv < d[VTH]:
                return
            nu, tprog = float(self._nu[i, j]), float(self._tprog[i, j])
            g = self._drifted(float(self._g[i, j]), nu, t - tprog)
            hi_cap = _BIG
            if i_cc is not None and v > 0.0:
                hi_cap = i_cc / max(self._iv(absv), 1e-30)
                if g > hi_cap:  # the source limits the current, the voltage collapses: no SET
                    return
            pulses = float(self._pulses[i, j])
            lo, hi = self._window(d, pulses) if pulses else (d[GMIN], d[GMAX])
            u = 1.0 + self._sigma_c2c * self._prog_noise.scalar()
            c = (d[AP] if v > 0.0 else d[AM]) * self._phi(absv, width_s)
            c = min(c * u, 1.0) if u > 0.0 else 0.0
            # The electrical step; the efficacy h expresses part of it, the rest is eligibility.
            step = min(g + c * (hi - g), hi_cap) - g if v > 0.0 else -c * (g - lo)
            if self._three_factor:
                h = self._efficacy_scalar(i, j, t)
                if h < 1.0:
                    self._eligibility().add_scalar(i, j, t, (1.0 - h) * step)
                step *= h
            inv = d[INV_DG_FULL] if not pulses else \
                d[INV_DG_FULL] * (d[GMAX] - d[GMIN]) / max(hi - lo, 1e-30)
            self._commit_scalar(i, j, d, g, g + step, t, inv, nu, tprog, pulses)
        self._touch(i, j, t)

    def _touch(self, i: int, j: int, t: float) -> None:
        """Record that device (i, j) changed at ``t``: update the read cache in place (one
        entry, not the whole matrix) if it was current, else just invalidate it."""
        if t > self._tprog_max:
            self._tprog_max = t
        g = self._g_read_scalar(i, j, t) if self._cache.current() else None
        self._cache.patch(i, j, g, float(self._sigma_read[i, j]))

    def _sequence(self, i: int, j: int, v: np.ndarray, width_s: float | np.ndarray,
                  i_cc: float | None, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step device (i, j) through pulses ``v`` (one per step) at times ``t``.

        Returns G after each step and the device's time of last programming at each step.
        """
        m = len(v)
        g_out = np.empty(m)
        tp_out = np.empty(m)
        absv = np.abs(v)
        widths = np.broadcast_to(np.asarray(width_s, np.float64), (m,))
        self._changed(float(np.max(t)) if m else None)
        pos = 0
        while pos < m:
            flags = int(self._flags[i, j])
            d = self._dev[:, i, j].tolist()
            g, tp = float(self._g[i, j]), float(self._tprog[i, j])
            rest = absv[pos:]
            if flags & OPEN:
                g_out[pos:], tp_out[pos:] = g, tp
                break
            bd = -1
            if not flags & (BROKEN | SHORT):
                over = rest > d[VBD]
                bd = int(over.argmax()) if over.any() else -1
            if not flags & FORMED or flags & FROZEN:
                ev, form = bd, False
                if not flags & FORMED and not flags & FROZEN:
                    can = rest >= d[VFORM]
                    fm = int(can.argmax()) if can.any() else -1
                    if fm >= 0 and (bd < 0 or fm < bd):
                        ev, form = fm, True
                if ev < 0:
                    g_out[pos:], tp_out[pos:] = g, tp
                    break
                g_out[pos:pos + ev], tp_out[pos:pos + ev] = g, tp
                k = pos + ev
                if form:
                    self._form(i, j, float(absv[k]), i_cc, float(t[k]))
                else:
                    self._break(i, j, float(t[k]))
                g_out[k], tp_out[k] = float(self._g[i, j]), float(t[k])
                pos = k + 1
                continue
            end = m if bd < 0 else pos + bd
            if end > pos:
                pos += self._active_run(i, j, d, v[pos:end], absv[pos:end], widths[pos:end],
                                        i_cc, t[pos:end], g_out[pos:end], tp_out[pos:end])
            if pos == end and bd >= 0:
                self._break(i, j, float(t[end]))
                g_out[end], tp_out[end] = float(self._g[i, j]), float(t[end])
                pos = end + 1
        return g_out, tp_out


    def _active_run(self, i: int, j: int, d: list[float], v: np.ndarray, absv: np.ndarray,
                    widths: np.ndarray, i_cc: float | None, t: np.ndarray,
                    g_out: np.ndarray, tp_out: np.ndarray) -> int:
        """Steps of a formed, switchable device (no breakdown among them); returns steps done.

        Stops early, after the step at which the device wears out. Wear and the drift clock
        follow the actual changes (see :meth:`_commit_scalar`).
        """
        g0, tp0 = float(self._g[i, j]), float(self._tprog[i, j])
        n0 = float(self._pulses[i, j])
        nu = float(self._nu[i, j])
        steps = len(v)
        switching = absv >= d[VTH]
        if not switching.any():
            g_out[:steps], tp_out[:steps] = g0, tp0
            return steps
        count = np.cumsum(switching)
        first = int(switching.argmax())
        g_start = self._drifted(g0, nu, float(t[first]) - tp0)
        positive = v > 0.0
        xi = self._prog_noise.normal(steps).astype(np.float64)
        u = np.maximum(1.0 + self._sigma_c2c * xi, 0.0)
        c_e = np.where(positive, d[AP], d[AM]) * self._phi_vec(absv, widths) * u
        np.minimum(c_e, 1.0, out=c_e)
        c_e[~switching] = 0.0
        h = self._efficacy((i, j), t)
        c = c_e * h
        lo = np.full(steps, -_BIG)
        hi = np.full(steps, _BIG)
        cap = None
        setting = positive & switching
        if i_cc is not None and setting.any():
            cap = np.where(setting, i_cc / np.maximum(self._iv_vec(absv), 1e-30), np.inf)
            if float(cap.min()) >= max(g_start, d[GMAX]):
                cap = None  # the limit is above anything the device can reach: it cannot bind
            else:
                np.minimum(hi, cap, out=hi)
        span = d[GMAX] - d[GMIN]
        # The wear before each step narrows its window, and the wear is the changes made: start
        # from one pulse-equivalent per switching pulse (an upper bound) and iterate to the
        # fixed point (only while narrowing matters at all).
        before = n0 + (count - switching).astype(np.float64)
        # As in the vectorised path: narrowing below 1e-6 of the window is below every noise.
        narrowing = (0.5 * float(before[-1] + 1.0) / d[NEND]) ** self._wear_p > 1e-6
        for _ in range(6 if narrowing else 1):
            if narrowing:
                lo_k, hi_k = laws.wear_window_array(d[GMIN], d[GMAX], before, d[NEND],
                                                    self._wear_p, self._wear_center)
                target = np.where(positive, hi_k, lo_k)
                inv = d[INV_DG_FULL] * span / np.maximum(hi_k - lo_k, 1e-30)
            else:  # wear has not narrowed the window yet (nor will it within this train)
                target = np.where(positive, d[GMAX], d[GMIN])
                inv = d[INV_DG_FULL]
            g = clamp_affine_scan(g_start, 1.0 - c, c * target, lo, hi, cap)
            g_prev = np.concatenate(([g_start], g[:-1]))
            r = np.minimum(np.abs(g - g_prev) * inv, 1.0)
            r[:first] = 0.0
            if not narrowing:
                break
            actual = n0 + np.concatenate(([0.0], np.cumsum(r)[:-1]))
            # Converged when the windows would move by less than 1e-9 of the full window.
            q_before = np.minimum(0.5 * before / d[NEND], 1.0) ** self._wear_p
            q_actual = np.minimum(0.5 * actual / d[NEND], 1.0) ** self._wear_p
            if float(np.max(np.abs(q_actual - q_before))) < 1e-9:
                break
            before = actual
        wear = n0 + np.cumsum(r)
        limit = 2.0 * d[NEND]  # pulse-equivalents at which the device wears out
        worn_at = int(np.searchsorted(wear, limit)) if wear[-1] >= limit else -1
        if worn_at >= 0:
            steps = worn_at + 1
            g, g_prev, r, wear, t = g[:steps], g_prev[:steps], r[:steps], wear[:steps], t[:steps]
            c_e, target = c_e[:steps], target[:steps]
            h = h if np.ndim(h) == 0 else h[:steps]
        # Drift clock: each step moves the time of programming towards its own time by r_k.
        age0 = max(float(t[0]) - tp0, 0.0)
        if float(t[0]) == float(t[-1]):
            age = age0 * np.cumprod(1.0 - r)
        else:
            tp = clamp_affine_scan(tp0, 1.0 - r, r * t, np.full(steps, -_BIG),
                                   np.full(steps, _BIG))
            age = np.maximum(t - tp, 0.0)
        if nu != 0.0 and float(np.max(age, initial=0.0)) > self._t0:
            stored = laws.undrifted_array(g, nu, age, self._t0, self._power_law)
        else:
            stored = g.copy()
        stored[:first] = g0
        g_out[:steps] = stored
        tp_out[:steps] = t - age
        tp_out[:first] = tp0
        if self._three_factor and np.any(np.asarray(h) < 1.0):
            # The unexpressed part of each step feeds the pulse-then-light trace.
            de = (1.0 - h) * c_e * (target - g_prev)
            t_end = float(t[-1])
            elig = self._eligibility()
            elig.add_scalar(i, j, t_end, float(np.sum(de * np.exp(-(t_end - t) / elig.tau_s))))
        self._g[i, j] = stored[-1]
        self._tprog[i, j] = tp_out[steps - 1]
        self._pulses[i, j] = wear[-1]
        self._pulse_bound = max(self._pulse_bound, float(wear[-1]))
        if worn_at >= 0:
            self._flags[i, j] |= WORN
            self._refresh(i, j)
        return steps

    # ==========================================================================================
    # many devices: vectorised on views
    # ==========================================================================================

    def _program_region(self, index: tuple, v: float | np.ndarray, width_s: float,
                        i_cc: float | None, t: float) -> None:
        """One pulse of amplitude ``v`` (scalar or broadcastable) on the devices at ``index``."""
        absv = np.abs(v)
        vmax = float(np.max(absv))
        if vmax < self._v_quiet:
            return
        if (vmax <= self._vbd_min and vmax < self._vth_max and not self._n_unformed
                and not np.any(self._dev[VTH][index] <= absv)):
            return  # every device of the region is below its threshold (half-select margin)
        self._changed(t)
        view = all(isinstance(k, slice) for k in index)
        if vmax > self._vbd_min:
            self._break_region(index, absv, t)
        if vmax >= self._vth_min:
            self._switch_region(index, v, absv, vmax, width_s, i_cc, t, view)
        if self._n_unformed and vmax >= self._vform_min:
            self._form_region(index, absv, i_cc, t)

    def _switch_region(self, index: tuple, v: Any, absv: Any, vmax: float, width_s: float,
                       i_cc: float | None, t: float, view: bool) -> None:
        f32 = np.float32
        scalar_v = np.ndim(v) == 0
        g = self._g[index]  # a view of the state when `view`
        if scalar_v:
            positive = v > 0.0
            a = (self._ap if positive else self._am)[index]
            phi = f32(self._phi(vmax, width_s))
        else:
            positive = np.asarray(v) > 0.0
            a = np.where(positive, self._ap[index], self._am[index])
            phi = self._phi_vec(absv, width_s).astype(f32)
        # Electrical step fraction c = a phi max(0, 1 + s xi), zero below threshold, at most 1.
        c = self._prog_noise.normal(g.shape)
        np.multiply(c, f32(self._sigma_c2c), out=c)
        np.add(c, f32(1.0), out=c)
        np.maximum(c, f32(0.0), out=c)
        np.multiply(c, a, out=c)
        np.multiply(c, phi, out=c)
        thresholded = float(np.min(absv)) < self._vth_max
        if thresholded:
            above = self._dev[VTH][index] <= absv
            np.multiply(c, above, out=c)
            switching = (a > 0) & above
        else:
            switching = True
        if self._a_max * float(np.max(phi)) * (1.0 + 5.0 * self._sigma_c2c) > 1.0:
            np.minimum(c, f32(1.0), out=c)
        if self._drift_pending(t):
            # Every device starts from its drifted conductance, also those below threshold:
            # committing re-references all of them (undrifts by their age), which gives a device
            # that did not switch its stored value back.
            g_src = self._drifted_vec(g, self._nu[index], t, self._tprog[index])
        else:
            g_src = g
        # Targets: the window edges, narrowed by wear once that matters (> 1e-6 of the window):
        # Gmax - (1 - wc) (Gmax - Gmin) q and Gmin + wc (Gmax - Gmin) q, q = (n / n_end)^p.
        gmin, gmax = self._dev[GMIN][index], self._dev[GMAX][index]
        window = None
        if (0.5 * self._pulse_bound / self._nend_min) ** self._wear_p > 1e-6:
            q = np.multiply(self._pulses[index], self._dev[HALF_INV_NEND][index], dtype=f32)
            np.minimum(q, f32(1.0), out=q)
            if self._wear_p == 2.0:
                np.multiply(q, q, out=q)
            else:
                np.power(q, f32(self._wear_p), out=q)
            span = gmax - gmin
            np.multiply(q, span, out=q)
            window = np.subtract(span, q, out=span)
            np.multiply(window, np.float32(self._dg_full_fraction), out=window)
            np.maximum(window, np.float32(1e-30), out=window)
            if scalar_v:
                target = gmax - q * f32(1.0 - self._wear_center) if positive \
                    else gmin + q * f32(self._wear_center)
            else:
                target = np.where(positive, gmax - q * f32(1.0 - self._wear_center),
                                  gmin + q * f32(self._wear_center))
        else:
            target = (gmax if positive else gmin) if scalar_v else np.where(positive, gmax, gmin)
        cap = None
        if i_cc is not None and np.any(positive):
            cap = (i_cc / np.maximum(self._iv_vec(absv), 1e-30)).astype(f32)
            if float(np.min(cap)) >= self._gmax_max:
                cap = None  # the limit is above every window: it cannot bind
        delta = np.subtract(target, g_src, dtype=f32)
        np.multiply(delta, c, out=delta)
        if self._three_factor:
            h = self._efficacy(index, t)
            if np.any(np.asarray(h) < 1.0):
                # The unexpressed part of the electrical step feeds the pulse-then-light trace.
                self._eligibility().add(index, t, (1.0 - h) * delta)
            np.multiply(delta, h, out=delta, casting="unsafe")
        in_place = view and g_src is g and cap is None
        if in_place:
            np.add(g, delta, out=g)  # in place: the hot path of whole-array pulses
            g_new = g
        else:
            g_new = g_src + delta
        if cap is not None:
            # A SET stops at the limit and never starts on a device already above it.
            limited = np.where(g_src > cap, g_src, np.minimum(g_new, cap))
            g_new = np.where(positive, limited, g_new).astype(f32)
            delta = np.subtract(g_new, g_src, dtype=f32)
        self._commit_region(index, g_new, delta, switching, t, view, in_place, window)

    def _burst_region(self, index: tuple, pattern: list[tuple[Any, float]], periods: int,
                      i_cc: float | None, t: float) -> None:
        """``periods`` repetitions of a pulse pattern on many devices, by exact moments.

        Each device's conductance is drawn from a Gaussian with the exact mean and variance of
        the noisy train (window narrowing during the train is not modelled; wear is counted by
        the change each pulse makes on its first application). The pulse-then-light trace is
        not fed by these bursts: eligibility needs single-device trains or short line trains.
        """
        vmax = max(float(np.max(np.abs(v))) for v, _ in pattern)
        if vmax < self._v_quiet:
            return
        self._changed(t)
        for v, _ in pattern:  # breakdown and forming happen on the first pulse that can
            if vmax > self._vbd_min:
                self._break_region(index, np.abs(v), t)
            if self._n_unformed and vmax >= self._vform_min:
                self._form_region(index, np.abs(v), i_cc, t)
        if vmax < self._vth_min:
            return
        g = self._g[index].astype(np.float64)
        gmin = self._dev[GMIN][index].astype(np.float64)
        gmax = self._dev[GMAX][index].astype(np.float64)
        vth = self._dev[VTH][index]
        h = self._efficacy(index, t)
        steps = []
        n_switch = np.zeros(g.shape, np.int64)
        cap = None
        for v, width_s in pattern:
            absv = np.abs(v)
            positive = np.asarray(v) > 0.0
            a = np.where(positive, self._ap[index], self._am[index]).astype(np.float64)
            above = vth <= absv
            c = a * self._phi_vec(absv, width_s) * h * above
            steps.append((c, np.where(positive, gmax, gmin)))
            n_switch += (c > 0)
            if i_cc is not None and np.any(positive):
                limit = i_cc / np.maximum(self._iv_vec(absv), 1e-30)
                step_cap = np.where(positive & above, limit, np.inf)
                cap = step_cap if cap is None else np.minimum(cap, step_cap)
        switching = n_switch > 0
        g_src = g
        if self._drift_pending(t):
            drifted = self._drifted_vec(g, self._nu[index], t, self._tprog[index])
            g_src = np.where(switching, drifted, g)
        mean, var = periodic_moments(g_src, steps, self._sigma_c2c, periods)
        g_new = mean + np.sqrt(var) * self._prog_noise.normal(g.shape)
        g_new = np.clip(g_new, np.minimum(g_src, gmin), np.maximum(g_src, gmax))
        if cap is not None:  # as in a single SET: stop at the limit, never start above it
            g_new = np.where(g_src > cap, g_src, np.minimum(g_new, cap))
        g_new = np.where(switching, g_new, g_src)
        # Wear: each pulse of the pattern counts by the change its first application makes.
        inv = self._dev[INV_DG_FULL][index]
        per_period = sum(np.minimum(np.abs(c * (target - g_src)) * inv, 1.0) for c, target in steps)
        wear = per_period * periods
        r = np.minimum(np.abs(g_new - g_src) * inv + wear, 1.0)  # drift restart
        age = (1.0 - r) * np.maximum(t - self._tprog[index], 0.0)
        stored = laws.undrifted_array(g_new, self._nu[index], age, self._t0, self._power_law)
        self._g[index] = np.where(switching, stored, g).astype(np.float32)
        self._tprog[index] = np.where(switching, t - age, self._tprog[index])
        pulses = self._pulses[index] + wear
        self._pulses[index] = pulses
        self._pulse_bound += len(pattern) * periods
        worn = (0.5 * pulses >= self._dev[NEND][index]) & ((self._flags[index] & WORN) == 0)
        if worn.any():
            self._flags[index] = np.where(worn, self._flags[index] | WORN, self._flags[index])
            self._refresh_mask(index, worn)

    def _train_region(self, index: tuple, v: Any, width_s: float, i_cc: float | None, t: float,
                      count: int, period_s: float) -> None:
        if count <= _BURST_LOOP_MAX:
            for k in range(count):
                self._program_region(index, v, width_s, i_cc, t + k * period_s)
        else:
            self._burst_region(index, [(v, width_s)], count, i_cc, t)

    # -- passive arrays: what the bias scheme puts on unselected devices ----------------------    # ==========================================================================================
    # reading
    # ==========================================================================================

    def _g_read_scalar(self, i: int, j: int, t: float) -> float:
        g = self._drifted(float(self._g[i, j]), float(self._nu[i, j]), t - float(self._tprog[i, j]))
        if self._light_active():
            light = self._light
            g = (g + light.g_ph_scalar(i, j, t)) / light.shunt_scalar(i, j, t)
        return g

    def _g_read(self, index: tuple, t: float) -> np.ndarray:
        """Read conductance (drift, photoconductance, shunting; no noise) of a region."""
        g = self._g[index]
        if self._drift_pending(t):
            g = self._drifted_vec(g, self._nu[index], t, self._tprog[index])
        if self._light_active():
            g = ((g + self._light.g_ph(index, t)) / self._light.shunt(index, t)).astype(np.float32)
        return np.array(g, dtype=np.float32, copy=True)

    def _read_matrix(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(G_read, (sigma G_read)^2, max G_read) of the whole array, cached while unchanged."""
        cached = self._cache.lookup(t, self._stale)
        if cached is not None:
            return cached
        return self._cache.store(t, self._g_read((slice(None), slice(None)), t), self._sigma_read)

    def _stale(self, t_cache: float, t: float) -> bool:
        """Whether read conductances computed at ``t_cache`` may be off at ``t`` by more than
        the cache's tolerance, by drift, photoconductance or shunting."""
        if t == t_cache:
            return False
        if t < t_cache or (self._light_active() and (self._light.changing_at(t_cache)
                                                      or self._light.changing_at(t))):
            return True
        if not self._drift_pending(t) or self._drift_max == 0.0:
            return False
        return drift_may_exceed(t_cache, t, self._drift_max,
                                max(t_cache - self._tprog_max, self._t0), self._power_law,
                                self.params["g_min_s"])

    def _current_scalar(self, i: int, j: int, v: float, t: float, noisy: bool = True,
                        scheme: str | None = None, limit: float | None = None) -> float:
        """Current into the sense column with device (i, j) at ``v``; in a passive array the
        other lines biased by ``scheme`` (default: the read bias).

        ``limit``: the current limit in force (the source's compliance, or a 1T1R cell's
        transistor; default the transistor). A source whose noise-free current reaches it is in
        compliance and holds exactly the limit: the read noise of the device then moves the
        voltage, not the current."""
        mean = self._g_read_scalar(i, j, t) * self._iv(v)
        noise = mean * float(self._sigma_read[i, j]) * self._read_noise.scalar() if noisy else 0.0
        if self.array == "passive" and v != 0.0:
            s_mean, s_noise = self._sneak(i, j, v, t, noisy,
                                          self.read_bias if scheme is None else scheme)
            mean += s_mean
            noise += s_noise
        if limit is None:
            limit = self._i_max
        if limit is not None:
            if abs(mean) >= limit * _IN_COMPLIANCE:
                return math.copysign(limit, mean)
            return max(min(mean + noise, limit), -limit)
        return mean + noise

    # ==========================================================================================
    # public API: pulses
    # ==========================================================================================

    def pulse(self, row: int, col: int, amplitude_v: float, width_s: float,
              compliance_a: float | None = None, count: int = 1,
              period_s: float | None = None) -> None:
        """Pulse one device; ``count > 1`` is a burst (pulse k at ``now + k * period_s``,
        default period 2 x width), computed without a Python step per pulse.

        In a passive array the half-selected devices get the bias scheme's share of each pulse.
        """
        i, j = self._check_device(row, col)
        v = self._voltage("amplitude_v", amplitude_v)
        width = self._width("width_s", width_s)
        count = self._count(count)
        period = self._period(period_s, width)
        i_cc = self._compliance(compliance_a)
        t = self.clock.now()
        if count == 1:
            self._program_scalar(i, j, v, width, i_cc, t)
        else:
            times = t + period * np.arange(count, dtype=np.float64)
            self._sequence(i, j, np.full(count, v), width, i_cc, times)
        if self.array == "passive":
            self._disturb(np.array([i]), np.array([j]), v, width, t, count, period)

    def _period(self, period_s: float | None, width_s: float) -> float:
        if period_s is None:
            return 2.0 * width_s
        return number_in("period_s", period_s, width_s, 1e9, unit="s")

    def pulse_lines(self, rows: Index, cols: Index, amplitude_v: float, width_s: float,
                    compliance_a: float | None = None, count: int = 1,
                    period_s: float | None = None) -> None:
        """Drive row lines ``rows`` at ``amplitude_v`` with column lines ``cols`` grounded: every
        device of the block rows x cols gets the pulse (None = all lines; an int, a slice or a
        list of indices). In a passive array the other devices get the bias scheme's share.
        """
        r = self._line_index("rows", rows, self.rows)
        c = self._line_index("cols", cols, self.cols)
        v = self._voltage("amplitude_v", amplitude_v)
        width = self._width("width_s", width_s)
        count = self._count(count)
        period = self._period(period_s, width)
        i_cc = self._compliance(compliance_a)
        if r.size == 0 or c.size == 0:
            return
        t = self.clock.now()
        for index in self._blocks(r, c):
            self._train_region(index, v, width, i_cc, t, count, period)
        self._disturb(r, c, v, width, t, count, period)

    def pulse_row(self, row: int, amplitude_v: float, width_s: float,
                  compliance_a: float | None = None, count: int = 1,
                  period_s: float | None = None) -> None:
        """Pulse every device of one row (see :meth:`pulse_lines`)."""
        self._check_device(row, 0)
        self.pulse_lines(row, None, amplitude_v, width_s, compliance_a, count, period_s)

    def pulse_col(self, col: int, amplitude_v: float, width_s: float,
                  compliance_a: float | None = None, count: int = 1,
                  period_s: float | None = None) -> None:
        """Pulse every device of one column (see :meth:`pulse_lines`)."""
        self._check_device(0, col)
        self.pulse_lines(None, col, amplitude_v, width_s, compliance_a, count, period_s)

    def pulse_all(self, amplitude_v: float, width_s: float, compliance_a: float | None = None,
                  count: int = 1, period_s: float | None = None) -> None:
        """Pulse the whole array (see :meth:`pulse_lines`)."""
        self.pulse_lines(None, None, amplitude_v, width_s, compliance_a, count, period_s)

    def pulse_devices(self, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray,
                      amplitude_v: float | np.ndarray, width_s: float,
                      compliance_a: float | None = None, count: int = 1,
                      period_s: float | None = None) -> None:
        """Pulse a list of devices (rows[k], cols[k]); ``amplitude_v`` a number or one per device.

        1T1R: all at once. Passive: one device after another, each with its half-select disturb.
        """
        r, c = self._device_list(rows, cols)
        flat = r.astype(np.int64) * self.cols + c
        if np.unique(flat).size != flat.size:
            raise refuse("rows/cols", (rows, cols), "each device listed once (a device is listed twice)")
        amps = np.asarray(amplitude_v, dtype=np.float64)
        if amps.ndim > 1 or (amps.ndim == 1 and amps.shape != r.shape):
            raise refuse("amplitude_v", amplitude_v, f"a number or one amplitude per device ({r.size})")
        if not np.all(np.isfinite(amps)) or np.any(np.abs(amps) > MAX_ABS_VOLTAGE_V):
            raise refuse("amplitude_v", amplitude_v,
                         f"finite numbers in [-{MAX_ABS_VOLTAGE_V:g}, {MAX_ABS_VOLTAGE_V:g}] V")
        width = self._width("width_s", width_s)
        count = self._count(count)
        period = self._period(period_s, width)
        self._compliance(compliance_a)
        if r.size == 0:
            return
        if self.array == "passive":
            for k in range(r.size):
                amp = float(amps) if amps.ndim == 0 else float(amps[k])
                self.pulse(int(r[k]), int(c[k]), amp, width, compliance_a, count, period)
            return
        i_cc = self._compliance(compliance_a)
        t = self.clock.now()
        v = float(amps) if amps.ndim == 0 else amps.astype(np.float32)
        self._train_region((r, c), v, width, i_cc, t, count, period)

    def cycle(self, row: int, col: int, set_v: float, set_width_s: float, reset_v: float,
              reset_width_s: float, cycles: int, compliance_a: float | None = None,
              sample_cycles: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Endurance run: ``cycles`` x (SET pulse, RESET pulse) on one device.

        Returns ``{"cycle": cycle numbers (1-based), "g_set_s": G after that cycle's SET,
        "g_reset_s": G after its RESET}`` at ``sample_cycles`` (default: every cycle up to
        10,000 cycles, else 1,000 log-spaced ones). 10^6 cycles take well under a second.
        """
        i, j = self._check_device(row, col)
        vs = number_in("set_v", set_v, 0.0, MAX_ABS_VOLTAGE_V, low_open=True, unit="V")
        vr = number_in("reset_v", reset_v, -MAX_ABS_VOLTAGE_V, 0.0, unit="V")
        if vr == 0.0:
            raise refuse("reset_v", reset_v, "a negative voltage")
        ws = self._width("set_width_s", set_width_s)
        wr = self._width("reset_width_s", reset_width_s)
        n = integer_in("cycles", cycles, 1, 10**9)
        if sample_cycles is None:
            samples = np.arange(1, n + 1) if n <= 10_000 else np.unique(
                np.round(np.geomspace(1, n, 1000)).astype(np.int64))
        else:
            samples = np.unique(np.asarray(sample_cycles))
            if samples.size and (not np.issubdtype(samples.dtype, np.integer)
                                 or samples.min() < 1 or samples.max() > n):
                raise refuse("sample_cycles", sample_cycles, f"integer cycle numbers in 1..{n}")
            samples = samples.astype(np.int64)
        i_cc = self._compliance(compliance_a)
        t = self.clock.now()
        g_set = np.empty(samples.size)
        g_reset = np.empty(samples.size)
        chunk = 1 << 16
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            v = np.empty(2 * m)
            v[0::2], v[1::2] = vs, vr
            widths = np.empty(2 * m)
            widths[0::2], widths[1::2] = ws, wr
            g, _ = self._sequence(i, j, v, widths, i_cc, np.full(2 * m, t))
            lo, hi = np.searchsorted(samples, [start + 1, start + m + 1])
            k = samples[lo:hi] - start - 1
            g_set[lo:hi] = g[2 * k]
            g_reset[lo:hi] = g[2 * k + 1]
        if self.array == "passive":
            rows, cols = np.array([i]), np.array([j])
            pattern = [(vs, ws), (vr, wr)]
            for index, frac, _ in self._half_selected(rows, cols):
                if max(abs(vs), abs(vr)) * abs(frac) >= self._v_quiet:
                    self._burst_region(index, [(v * frac, w) for v, w in pattern], n, None, t)
        return {"cycle": samples, "g_set_s": g_set, "g_reset_s": g_reset}

    def form(self, row: int, col: int, voltage_v: float, width_s: float,
             compliance_a: float) -> bool:
        """One forming pulse (a step of a forming ramp). The device forms once ``|voltage_v|``
        reaches its drawn forming voltage, to the conductance the current limit allows.
        Returns whether the device is now formed (False if it is not, or broke down).
        """
        i, j = self._check_device(row, col)
        if compliance_a is None:
            raise refuse("compliance_a", None, "a current limit (forming needs one)")
        self.pulse(i, j, voltage_v, width_s, compliance_a=compliance_a)
        flags = int(self._flags[i, j])
        return bool(flags & FORMED) and not flags & BROKEN

    # ==========================================================================================
    # public API: DC and reads
    # ==========================================================================================

    def source_voltage(self, row: int, col: int, voltage_v: float, duration_s: float,
                       compliance_a: float | None = None, bias: str = "read") -> float:
        """Hold ``voltage_v`` for ``duration_s`` (an SMU sweep point): programs the device as a
        pulse of that width if above threshold, returns the current at the end (A), within
        +-compliance. ``bias``: which scheme holds a passive array's other lines, "read" (the
        read bias: a source-measure unit's level) or "write" (the write scheme: a level the pulse
        generator holds)."""
        i, j = self._check_device(row, col)
        v = self._voltage("voltage_v", voltage_v)
        width = self._width("duration_s", duration_s)
        if bias not in ("read", "write"):
            raise refuse("bias", bias, "'read' or 'write'")
        i_cc = self._compliance(compliance_a)
        t = self.clock.now()
        return self._source(i, j, v, width, i_cc, t,
                            self.read_bias if bias == "read" else self.bias_scheme)

    def _source(self, i: int, j: int, v: float, width: float, i_cc: float | None,
                t: float, scheme: str | None = None) -> float:
        """One level on one device; a passive array's other lines held by ``scheme`` (default:
        the read bias)."""
        if self.array == "passive":
            scheme = self.read_bias if scheme is None else scheme
        else:
            scheme = None
        if abs(v) >= self._v_quiet:
            self._program_scalar(i, j, v, width, i_cc, t)
            if scheme is not None:
                self._disturb(np.array([i]), np.array([j]), v, width, t, scheme=scheme, i_cc=i_cc)
        return self._current_scalar(i, j, v, t, scheme=scheme, limit=i_cc)

    def sweep(self, row: int, col: int, voltages_v: np.ndarray, duration_s: float,
              compliance_a: float | None = None) -> np.ndarray:
        """A list sweep: each voltage held ``duration_s`` in turn (point k ends at
        ``now + (k + 1) duration``); returns the current at the end of each point (A)."""
        i, j = self._check_device(row, col)
        v = np.asarray(voltages_v, dtype=np.float64)
        if v.ndim != 1 or not np.all(np.isfinite(v)) or np.any(np.abs(v) > MAX_ABS_VOLTAGE_V):
            raise refuse("voltages_v", voltages_v,
                         f"a 1-D array of finite voltages within +-{MAX_ABS_VOLTAGE_V:g} V")
        width = self._width("duration_s", duration_s)
        i_cc = self._compliance(compliance_a)
        t0 = self.clock.now()
        times = t0 + width * np.arange(1, v.size + 1, dtype=np.float64)
        if v.size == 0:
            return np.zeros(0)
        if self.array == "passive":
            return np.array([self._source(i, j, float(v[k]), width, i_cc, float(times[k]))
                             for k in range(v.size)])
        if float(np.max(np.abs(v))) >= self._v_quiet:
            g, tp = self._sequence(i, j, v, width, i_cc, times)
        else:
            g = np.full(v.size, float(self._g[i, j]))
            tp = np.full(v.size, float(self._tprog[i, j]))
        nu = float(self._nu[i, j])
        if nu != 0.0 and float(times[-1] - tp.min()) > self._t0:
            lnt = np.log(np.maximum(times - tp, self._t0) / self._t0)
            g = g * np.exp(-nu * lnt) if self._power_law else np.maximum(g + nu * lnt, 0.0)
        if self._light_active():
            light = self._light
            g = (g + light.g_ph((i, j), times)) / light.shunt((i, j), times)
        noise = self._read_noise.normal(v.size).astype(np.float64)
        mean = g * self._iv_vec(v)
        current = mean * (1.0 + float(self._sigma_read[i, j]) * noise)
        if i_cc is not None:
            np.clip(current, -i_cc, i_cc, out=current)
            held = np.abs(mean) >= i_cc * _IN_COMPLIANCE  # in compliance: exactly the limit
            current[held] = np.copysign(i_cc, mean[held])
        return current

    def read(self, row: int, col: int, voltage_v: float) -> float:
        """Current (A) at ``voltage_v``, with read noise, drift, photoconductance and shunting.
        Non-destructive below threshold; above it the read programs like a pulse of
        ``read_width_s``. In a passive array the other lines follow the read bias: the sense
        column also collects what it lets through the other rows (nothing when grounded)."""
        i, j = self._check_device(row, col)
        v = self._voltage("voltage_v", voltage_v)
        return self._source(i, j, v, self.params["read_width_s"], self._i_max, self.clock.now())

    def probe_current(self, row: int, col: int, voltage_v: float) -> float:
        """The current the device would carry at ``voltage_v`` now: no noise, no programming,
        no disturb. For instrument feedback loops (current sources), not for measurements."""
        i, j = self._check_device(row, col)
        v = self._voltage("voltage_v", voltage_v)
        return self._current_scalar(i, j, v, self.clock.now(), noisy=False)

    def read_rows(self, voltages_v: np.ndarray) -> np.ndarray:
        """Vector-matrix multiply: ``voltages_v`` on the rows (shape (rows,) or (n, rows)), every
        column at virtual ground; returns column currents I_col = sum_i G_ij f(V_i) + noise,
        shape (cols,) or (n, cols). Rows above threshold program their devices."""
        v = np.asarray(voltages_v, dtype=np.float64)
        if v.ndim not in (1, 2) or v.shape[-1] != self.rows:
            raise refuse("voltages_v", f"<array of shape {v.shape}>",
                         f"shape ({self.rows},) or (n, {self.rows})")
        if not np.all(np.isfinite(v)) or np.any(np.abs(v) > MAX_ABS_VOLTAGE_V):
            raise refuse("voltages_v", voltages_v, "finite voltages within +-1000 V")
        t = self.clock.now()
        vmax_row = np.max(np.abs(v), axis=0) if v.ndim == 2 else np.abs(v)
        if float(vmax_row.max(initial=0.0)) >= self._v_quiet:
            vecs = v if v.ndim == 2 else v[None, :]
            for vec in vecs:
                self._program_region((slice(None), slice(None)), vec[:, None].astype(np.float32),
                                     self.params["read_width_s"], self._i_max, t)
        g, g2s, gmax = self._read_matrix(t)
        f = self._iv_vec(v).astype(np.float32)
        current = (f @ g).astype(np.float64)
        noise_var = (f * f) @ g2s
        current += np.sqrt(noise_var) * self._read_noise.normal(current.shape)
        if self._i_max is not None and gmax * float(np.max(np.abs(f), initial=0.0)) > self._i_max:
            current += self._transistor_correction(g, f)
        return current

    def _transistor_correction(self, g: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Column-current change from 1T1R cells whose current exceeds the transistor limit."""
        fmax = float(np.max(np.abs(f)))
        r, c = np.nonzero(g * fmax > self._i_max)
        fv = f if f.ndim == 2 else f[None, :]
        excess = g[r, c][None, :] * fv[:, r]
        limited = np.clip(excess, -self._i_max, self._i_max)
        corr = np.zeros((fv.shape[0], self.cols))
        np.add.at(corr, (slice(None), c), limited - excess)
        return corr if f.ndim == 2 else corr[0]

    def read_row(self, row: int, voltage_v: float) -> np.ndarray:
        """Currents of every device of ``row`` at ``voltage_v`` (shape (cols,)): the row driven,
        every column sensed at virtual ground, the other rows grounded."""
        i, _ = self._check_device(row, 0)
        return self._read_block((slice(i, i + 1), slice(None)), voltage_v)[0]

    def read_col(self, col: int, voltage_v: float) -> np.ndarray:
        """Currents of every device of ``col`` at ``voltage_v`` (shape (rows,)), each row driven
        in turn with the others grounded."""
        _, j = self._check_device(0, col)
        return self._read_block((slice(None), slice(j, j + 1)), voltage_v)[:, 0]

    def read_devices(self, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray,
                     voltage_v: float) -> np.ndarray:
        """Currents of the devices (rows[k], cols[k]) at ``voltage_v``, each read alone (no
        sneak currents, as with the other lines grounded)."""
        r, c = self._device_list(rows, cols)
        return self._read_block((r, c), voltage_v)

    def _read_block(self, index: tuple, voltage_v: float) -> np.ndarray:
        v = self._voltage("voltage_v", voltage_v)
        t = self.clock.now()
        if abs(v) >= self._v_quiet:
            self._program_region(index, v, self.params["read_width_s"], self._i_max, t)
        g = self._g_read(index, t).astype(np.float64)
        noise = self._read_noise.normal(g.shape).astype(np.float64)
        current = g * self._iv(v) * (1.0 + self._sigma_read[index] * noise)
        if self._i_max is not None:
            np.clip(current, -self._i_max, self._i_max, out=current)
        return current

    # ==========================================================================================
    # public API: light
    # ==========================================================================================

    def set_light(self, power_w: float, wavelength_m: float, rows: Index = slice(None),
                  cols: Index = slice(None)) -> None:
        """From now on, ``power_w`` (incident, per device) at ``wavelength_m`` lights the block
        rows x cols; 0 W turns it off. Optical effects follow lazily from this history."""
        power = number_in("power_w", power_w, 0.0, 10.0, unit="W")
        wavelength = number_in("wavelength_m", wavelength_m, 0.0, 1e-3, low_open=power > 0.0,
                               unit="m")
        r = self._line_index("rows", rows, self.rows)
        c = self._line_index("cols", cols, self.cols)
        if r.size == 0 or c.size == 0:
            return
        t = self.clock.now()
        if self._light is None:
            if power == 0.0:
                return
            self._light = LightField((self.rows, self.cols), self.params, t)
        for index in self._blocks(r, c):
            self._light.set(index, power, wavelength, t)
            if power > 0.0 and self._elig is not None and self._elig.alive_at(t):
                self._convert(index, power * responsivity(wavelength, self.params), t)
        self._changed(t)

    def _convert(self, index: tuple, p_abs_w: float, t: float) -> None:
        """Light of absorbed power ``p_abs_w`` arrives: it converts the part gate(P) of each
        device's pulse-then-light trace into a conductance change ``gain_pl gate(P) e``."""
        taken = self._elig.take(index, t, photo_gate(p_abs_w, self.params))
        flags = self._flags[index]
        active = ((flags & FORMED) != 0) & ((flags & FROZEN) == 0)
        if not np.any(active & (taken != 0.0)):
            return
        g = self._g[index]
        g_now = self._drifted_vec(g, self._nu[index], t, self._tprog[index]) \
            if self._drift_pending(t) else g.copy()
        g_new = np.clip(g_now + self.params["gain_pl"] * taken, self._dev[GMIN][index],
                        self._dev[GMAX][index]).astype(np.float32)
        g_new = np.where(active, g_new, g_now).astype(np.float32)
        self._commit_region(index, g_new, np.subtract(g_new, g_now, dtype=np.float32), active, t,
                            False, False)

    def illuminate(self, power_w: float, wavelength_m: float, duration_s: float,
                   rows: Index = slice(None), cols: Index = slice(None)) -> None:
        """Light the block for ``duration_s`` (advancing the clock by it), then turn it off."""
        duration = number_in("duration_s", duration_s, 0.0, unit="s")
        self.set_light(power_w, wavelength_m, rows, cols)
        self.clock.sleep(duration)
        self.set_light(0.0, wavelength_m, rows, cols)

    # ==========================================================================================
    # public API: faults and inspection
    # ==========================================================================================

    @property
    def conductance(self) -> np.ndarray:
        """Non-volatile conductance G of every device (S), a float32 copy (no drift applied)."""
        return self._g.copy()

    def effective_conductance(self) -> np.ndarray:
        """Read conductance now (S), float32 copy: drift, photoconductance, shunting; no noise."""
        return self._read_matrix(self.clock.now())[0].copy()

    def device_state(self, row: int, col: int) -> dict[str, Any]:
        """Everything about one device, for inspection and tests (SI units)."""
        i, j = self._check_device(row, col)
        t = self.clock.now()
        flags = int(self._flags[i, j])
        d = self._dev[:, i, j].tolist()
        light = self._light
        pulses = float(self._pulses[i, j])
        lo, hi = self._window(d, pulses)
        return {
            "G": float(self._g[i, j]),
            "G_read": self._g_read_scalar(i, j, t),
            "G_ph": light.g_ph_scalar(i, j, t) if light is not None and self._optical else 0.0,
            "shunt_divisor": light.shunt_scalar(i, j, t) if light is not None and self._optical else 1.0,
            "formed": bool(flags & FORMED),
            "stuck": bool(flags & (STUCK | PINNED | WORN)),
            "shorted": bool(flags & (BROKEN | SHORT)),
            "broken_down": bool(flags & BROKEN),
            "open": bool(flags & OPEN),
            "worn_out": bool(flags & WORN),
            "read_sigma": float(self._sigma_read[i, j]),
            "cycles": 0.5 * pulses,
            "pulses": pulses,
            "endurance_cycles": d[NEND],
            "t_prog_s": float(self._tprog[i, j]),
            "g_min_s": d[GMIN],
            "g_max_s": d[GMAX],
            "window_s": (lo, hi),
            "a_plus": d[AP],
            "a_minus": d[AM],
            "v_th_v": d[VTH],
            "v_form_v": d[VFORM],
            "v_breakdown_v": d[VBD],
            "drift": d[DRIFT],
            "light_power_w": float(light.power_w[i, j]) if light is not None else 0.0,
            "wavelength_m": float(light.wavelength_m[i, j]) if light is not None else 0.0,
            "efficacy": self._efficacy_scalar(i, j, t),
            "eligibility_s": self._elig.value_scalar(i, j, t) if self._elig is not None else 0.0,
        }

    def __repr__(self) -> str:
        return (f"Chip({self.rows}x{self.cols}, family={self.family!r}, array={self.array!r}, "
                f"bias_scheme={self.bias_scheme!r}, read_bias={self.read_bias!r}, seed={self.seed})")
