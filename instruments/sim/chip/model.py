"""The simulated memristor chip: a rows x cols array of devices of one family.

See ``docs/chip-model.md`` for the physics, the parameters and their sources. In short:

- State lives in float32 arrays of shape (rows, cols), per-device parameters in one stacked
  float32 array ``_dev`` (drawn once from the seed). Times are float64 (virtual time can reach
  1e6 s, where float32 would round to 0.06 s).
- Single-device operations read and write scalars only (``_dev[:, i, j].tolist()``), so their
  cost does not depend on the array size.
- Line and array operations are vectorised numpy on views; passive arrays apply the bias
  scheme's voltages to the half-selected regions.
- Trains of pulses on one device are clamped affine scans (``sequences.py``); trains on many
  devices use exact per-device moments.
- The chip reads ``clock.now()`` but never advances the clock, except :meth:`Chip.illuminate`.
  Operations that span time (bursts, sweeps) evaluate step k at ``now + k * period``.

Not thread-safe by itself: the simulated bench serialises access with its world lock.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from memlab.instruments.clock import Clock
from memlab.instruments.sim.chip.noise import NoiseSource
from memlab.instruments.sim.chip.optics import LightField
from memlab.instruments.sim.chip.presets import resolve_params
from memlab.instruments.sim.chip.sequences import clamp_affine_scan, periodic_moments
from memlab.instruments.sim.clock import VirtualClock

__all__ = ["Chip", "FAULT_KINDS", "ARRAYS", "BIAS_SCHEMES"]

ARRAYS = ("1t1r", "passive")
BIAS_SCHEMES = ("v/2", "v/3", "grounded")
FAULT_KINDS = ("open", "short", "stuck", "noisy", "none")
MAX_ABS_VOLTAGE_V = 1000.0

# Rows of the per-device parameter stack `_dev`.
GMIN, GMAX, AP, AM, VTH, VFORM, VBD, DRIFT, NEND, HALF_INV_NEND = range(10)

# Bits of `_flags`.
FORMED = 1
STUCK = 2  # stuck from manufacture
BROKEN = 4  # broke down: shorted for good
OPEN = 8  # injected fault
SHORT = 16  # injected fault
WORN = 32  # reached its endurance: stuck where it was
PINNED = 64  # injected stuck fault
FROZEN = STUCK | BROKEN | OPEN | SHORT | WORN | PINNED

READ_CACHE_TOLERANCE = 1e-4  # relative; read noise is ~1e-2
_BURST_LOOP_MAX = 16  # multi-device bursts up to this count are stepped exactly
_BIG = 1e300

Index = int | slice | Sequence[int] | np.ndarray | None


def _finite(name: str, value: Any, *, low: float | None = None, low_open: bool = False,
            high: float | None = None) -> float:
    """``value`` as a float, refused unless finite and within the bounds."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not allowed: a number") from None
    bad = not math.isfinite(number)
    if low is not None:
        bad |= number <= low if low_open else number < low
    if high is not None:
        bad |= number > high
    if bad:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        bracket = "(" if low_open else "["
        raise ValueError(
            f"{name}={value!r} is not allowed: a finite number in {bracket}{lo}, {hi}]"
        )
    return number


def _integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} is not allowed: an integer >= {low}")
    number = int(value)
    if number < low or (high is not None and number > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name}={value!r} is not allowed: an integer >= {low}{upper}")
    return number


def _runs(index: np.ndarray) -> list[slice] | None:
    """Contiguous runs of a sorted index array as slices (None when there are too many)."""
    if index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) != 1)
    if breaks.size > 3:
        return None
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks + 1, [index.size]))
    return [slice(int(index[s]), int(index[e - 1]) + 1) for s, e in zip(starts, ends)]


def _parts(index: np.ndarray) -> list[slice | np.ndarray]:
    """Index parts that make views where possible."""
    if index.size == 1:
        return [slice(int(index[0]), int(index[0]) + 1)]
    runs = _runs(index)
    return [index] if runs is None else runs


def _complement_parts(index: np.ndarray, size: int) -> list[slice | np.ndarray]:
    """Parts of the lines 0..size-1 not in ``index`` (sorted, unique)."""
    if index.size == 1:  # one selected line: the ones before and after it
        i = int(index[0])
        return [part for part in (slice(0, i), slice(i + 1, size)) if part.stop > part.start]
    keep = np.ones(size, dtype=bool)
    keep[index] = False
    other = np.flatnonzero(keep)
    return _parts(other) if other.size else []


class Chip:
    """A simulated memristor chip. See the module docstring and ``docs/chip-model.md``.

    :param rows, cols: array size (1 .. 4096 each).
    :param family: device family preset, a key of ``PRESETS`` ("prgo", "optomemristor").
    :param seed: all randomness (device draws, programming noise, read noise) derives from it.
    :param clock: the bench clock (default: a new :class:`VirtualClock`).
    :param array: "1t1r" (a transistor per cell: no sneak paths, current limited) or "passive".
    :param bias_scheme: how a passive array biases unselected lines: "v/2", "v/3", "grounded".
    :param overrides: preset parameters to replace, e.g. ``{"sigma_read": 0.0}``.
    :param formed: whether the devices start formed (else they need :meth:`form`).
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        family: str = "prgo",
        seed: int = 0,
        clock: Clock | None = None,
        array: str = "1t1r",
        bias_scheme: str = "v/2",
        overrides: dict[str, Any] | None = None,
        formed: bool = True,
    ) -> None:
        self.rows = _integer("rows", rows, 1, 4096)
        self.cols = _integer("cols", cols, 1, 4096)
        if array not in ARRAYS:
            raise ValueError(
                f"array={array!r} is not allowed: one of {', '.join(map(repr, ARRAYS))}"
            )
        if bias_scheme not in BIAS_SCHEMES:
            raise ValueError(
                f"bias_scheme={bias_scheme!r} is not allowed: one of "
                + ", ".join(map(repr, BIAS_SCHEMES))
            )
        if not isinstance(formed, bool):
            raise ValueError(f"formed={formed!r} is not allowed: true or false")
        seed = _integer("seed", seed, 0)
        if clock is None:
            clock = VirtualClock()
        elif not all(callable(getattr(clock, name, None)) for name in ("now", "sleep")):
            raise ValueError(f"clock={clock!r} is not allowed: an object with now() and sleep()")
        self.clock = clock
        self.family = family
        self.array = array
        self.bias_scheme = bias_scheme
        self.seed = seed
        self.params: dict[str, Any] = resolve_params(family, overrides)
        p = self.params

        draw_seed, prog_seed, read_seed = np.random.SeedSequence(seed).spawn(3)
        self._prog_noise = NoiseSource(prog_seed)
        self._read_noise = NoiseSource(read_seed)
        shape = (self.rows, self.cols)
        self._draw_devices(np.random.Generator(np.random.PCG64(draw_seed)), shape, formed)

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
        self._max_fraction = max(abs(f) for f in self._scheme_fractions())
        self._optical = p["g_ph_ref_s"] > 0.0 or p["k_shunt_per_w"] > 0.0
        self._three_factor = p["three_factor"]
        self._h_dark = p["h_dark"] if p["three_factor"] else 1.0
        self._light: LightField | None = None
        self._saved_g: dict[tuple[int, int], float] = {}
        self._version = 0
        self._cache: tuple | None = None  # (version, t, g_read, g2s, gmax)

    # ==========================================================================================
    # construction
    # ==========================================================================================

    def _draw_devices(self, rng: np.random.Generator, shape: tuple[int, int], formed: bool) -> None:
        p = self.params
        f32 = np.float32

        def normal() -> np.ndarray:
            return rng.standard_normal(shape, dtype=f32)

        dev = np.empty((10,) + shape, f32)
        dev[GMIN] = p["g_min_s"] * np.exp(p["sigma_g_d2d"] * normal())
        dev[GMAX] = p["g_max_s"] * np.exp(p["sigma_g_d2d"] * normal())
        # A window needs Gmax > Gmin: only extreme sigmas can cross them; keep 1 % apart.
        np.minimum(dev[GMIN], dev[GMAX] / f32(1.01), out=dev[GMIN])
        dev[AP] = np.minimum(p["a_plus"] * np.exp(p["sigma_step_d2d"] * normal()), 1.0)
        dev[AM] = np.minimum(p["a_minus"] * np.exp(p["sigma_step_d2d"] * normal()), 1.0)
        dev[VTH] = np.maximum(p["v_th_v"] + p["sigma_v_th_v"] * normal(), 0.05 * p["v_th_v"])
        # A device forms at or above its switching threshold.
        dev[VFORM] = np.maximum(p["v_form_v"] + p["sigma_v_form_v"] * normal(), dev[VTH])
        dev[VBD] = np.maximum(
            p["v_breakdown_v"] + p["sigma_v_breakdown_v"] * normal(), 0.05 * p["v_breakdown_v"]
        )
        if p["drift_law"] == "power":
            dev[DRIFT] = np.maximum(p["drift_nu"] + p["sigma_drift_nu"] * normal(), 0.0)
        else:
            dev[DRIFT] = p["drift_log_s"] + p["sigma_drift_log_s"] * normal()
        dev[NEND] = np.maximum(p["endurance_cycles"] * np.exp(p["sigma_endurance"] * normal()), 1.0)
        dev[HALF_INV_NEND] = 0.5 / dev[NEND]  # pulses -> fraction of life, without a division
        stuck = rng.random(shape, dtype=f32) < p["stuck_fraction"]
        stuck_on = rng.random(shape, dtype=f32) < p["stuck_on_share"]
        self._dev = dev

        self._flags = np.where(stuck, STUCK, 0).astype(np.uint8)
        if formed:
            self._flags |= FORMED
        self._g = np.where(stuck, np.where(stuck_on, dev[GMAX], dev[GMIN]),
                           dev[GMIN] if formed else f32(p["g_unformed_s"])).astype(f32)
        active = ~stuck & formed
        self._ap = np.where(active, dev[AP], 0).astype(f32)  # 0 = cannot switch
        self._am = np.where(active, dev[AM], 0).astype(f32)
        self._nu = np.where(active, dev[DRIFT], 0).astype(f32)  # 0 = does not drift
        self._sigma_read = np.full(shape, p["sigma_read"], f32)
        self._tprog = np.full(shape, self.clock.now(), np.float64)
        self._pulses = np.zeros(shape, np.uint32)

        # Bounds that let hot paths skip whole-array checks.
        self._tprog_min = self.clock.now()  # a lower bound of _tprog
        self._tprog_max = self.clock.now()  # an upper bound of _tprog
        self._drift_max = float(np.abs(dev[DRIFT]).max())
        self._pulse_bound = 0  # an upper bound of _pulses
        self._n_unformed = 0 if formed else int(np.count_nonzero(~stuck))
        self._vth_min = float(dev[VTH].min())
        self._vth_max = float(dev[VTH].max())
        self._vform_min = float(dev[VFORM].min())
        self._vbd_min = float(dev[VBD].min())
        self._v_quiet = min(self._vth_min, self._vbd_min)  # below it no pulse does anything
        self._nend_min = float(dev[NEND].min())
        self._a_max = float(max(dev[AP].max(), dev[AM].max()))
        self._gmax_max = float(dev[GMAX].max())

    # ==========================================================================================
    # small helpers
    # ==========================================================================================

    def _check_device(self, row: Any, col: Any) -> tuple[int, int]:
        for name, value, size in (("row", row, self.rows), ("col", col, self.cols)):
            if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                    or not 0 <= value < size):
                raise ValueError(f"{name}={value!r} is not allowed: an integer in 0..{size - 1}")
        return int(row), int(col)

    def _line_index(self, name: str, value: Index, size: int) -> np.ndarray:
        """Rows or columns as a sorted array of unique indices."""
        if value is None:
            return np.arange(size)
        if isinstance(value, slice):
            return np.arange(size)[value]
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if not 0 <= value < size:
                raise ValueError(f"{name}={value!r} is not allowed: an index in 0..{size - 1}")
            return np.array([int(value)])
        try:
            index = np.asarray(value)
        except Exception:  # noqa: BLE001 - anything unusable is refused below
            index = np.array([None])
        if index.ndim != 1 or (index.size and not np.issubdtype(index.dtype, np.integer)):
            raise ValueError(
                f"{name}={value!r} is not allowed: an index, a slice, a list of indices or None"
            )
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{name}={value!r} is not allowed: indices in 0..{size - 1}")
        return np.unique(index)

    def _device_list(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Paired device indices (rows[k], cols[k]) as integer arrays, checked."""
        r, c = np.asarray(rows), np.asarray(cols)
        if (r.ndim != 1 or c.ndim != 1 or r.shape != c.shape
                or (r.size and not (np.issubdtype(r.dtype, np.integer)
                                    and np.issubdtype(c.dtype, np.integer)))):
            raise ValueError(
                f"rows={rows!r}, cols={cols!r} are not allowed: two integer lists of one length"
            )
        if r.size and (r.min() < 0 or r.max() >= self.rows or c.min() < 0 or c.max() >= self.cols):
            raise ValueError(
                f"rows/cols are not allowed: devices must lie in rows 0..{self.rows - 1}, "
                f"cols 0..{self.cols - 1}"
            )
        return r.astype(np.intp), c.astype(np.intp)

    def _voltage(self, name: str, value: Any) -> float:
        return _finite(name, value, low=-MAX_ABS_VOLTAGE_V, high=MAX_ABS_VOLTAGE_V)

    def _width(self, name: str, value: Any) -> float:
        return _finite(name, value, low=0.0, low_open=True, high=1e6)

    def _compliance(self, compliance_a: float | None) -> float | None:
        """The current limit in force: the source's compliance and, in 1T1R, the transistor."""
        if compliance_a is None:
            return self._i_max
        limit = _finite("compliance_a", compliance_a, low=0.0, low_open=True)
        return limit if self._i_max is None else min(limit, self._i_max)

    def _iv(self, v: float) -> float:
        """f(V) = V0 sinh(V / V0): the read I-V per siemens."""
        v0 = self.params["v0_read_v"]
        x = max(min(v / v0, 700.0), -700.0)
        return v0 * math.sinh(x)

    def _iv_vec(self, v: np.ndarray) -> np.ndarray:
        v0 = self.params["v0_read_v"]
        return v0 * np.sinh(np.clip(np.asarray(v, np.float64) / v0, -700.0, 700.0))

    def _phi(self, absv: float, width_s: float) -> float:
        """Switching rate relative to the reference pulse (the caller applies the threshold)."""
        x = min(absv / self._v0_switch, 700.0)
        return math.sinh(x) / self._sinh_ref * (width_s / self._t_ref) ** self._beta

    def _phi_vec(self, absv: np.ndarray, width_s: Any) -> np.ndarray:
        x = np.minimum(np.asarray(absv, np.float64) / self._v0_switch, 700.0)
        return np.sinh(x) / self._sinh_ref * (np.asarray(width_s) / self._t_ref) ** self._beta

    def _drifted(self, g: float, nu: float, age_s: float) -> float:
        if nu == 0.0 or age_s <= self._t0:
            return g
        if self._power_law:
            return g * (age_s / self._t0) ** (-nu)
        return max(g + nu * math.log(age_s / self._t0), 0.0)

    def _drifted_vec(self, g: np.ndarray, nu: np.ndarray, t: float,
                     tprog: np.ndarray) -> np.ndarray:
        """Drifted conductance of arrays at time ``t`` (float32; ages taken in float64)."""
        lnt = np.empty(np.shape(tprog), np.float32)
        np.subtract(t, tprog, out=lnt, casting="same_kind")
        np.maximum(lnt, np.float32(self._t0), out=lnt)
        np.log(lnt, out=lnt)
        lnt -= np.float32(math.log(self._t0))
        if self._power_law:
            np.multiply(lnt, nu, out=lnt)
            np.negative(lnt, out=lnt)
            np.exp(lnt, out=lnt)
            return np.multiply(lnt, g, out=lnt)
        np.multiply(lnt, nu, out=lnt)
        lnt += g
        return np.maximum(lnt, np.float32(0.0), out=lnt)

    def _drift_pending(self, t: float) -> bool:
        return t - self._tprog_min > self._t0

    def _efficacy_scalar(self, i: int, j: int, t: float) -> float:
        """Three-factor programming efficacy h (1 for families without it)."""
        if not self._three_factor:
            return 1.0
        light = self._light
        if light is None or not light.eligible_at(t):
            return self._h_dark
        return self._h_dark + (1.0 - self._h_dark) * light.trace_scalar(i, j, t)

    def _efficacy(self, index: Any, t: float | np.ndarray) -> np.ndarray | float:
        if not self._three_factor:
            return 1.0
        light = self._light
        if light is None or not light.eligible_at(float(np.min(t))):
            return self._h_dark
        return (self._h_dark + (1.0 - self._h_dark) * light.trace(index, t)).astype(np.float32)

    def _light_active(self) -> bool:
        return self._optical and self._light is not None

    def _changed(self, t: float | None = None) -> None:
        """Invalidate the read cache; ``t`` = the latest time a device may be programmed at."""
        self._version += 1
        if t is not None and t > self._tprog_max:
            self._tprog_max = t

    # -- scalar state changes ------------------------------------------------------------------

    def _refresh(self, i: int, j: int) -> None:
        """Re-derive a device's effective step sizes and drift from its flags."""
        flags = int(self._flags[i, j])
        active = flags & FORMED and not flags & FROZEN
        self._ap[i, j] = self._dev[AP, i, j] if active else 0.0
        self._am[i, j] = self._dev[AM, i, j] if active else 0.0
        self._nu[i, j] = self._dev[DRIFT, i, j] if active else 0.0

    def _refresh_mask(self, index: Any, mask: np.ndarray) -> None:
        """Vector form of :meth:`_refresh` for the devices ``mask`` selects within ``index``."""
        flags = self._flags[index]
        active = ((flags & FORMED) != 0) & ((flags & FROZEN) == 0)
        for eff, row in ((self._ap, AP), (self._am, AM), (self._nu, DRIFT)):
            eff[index] = np.where(mask, np.where(active, self._dev[row][index], 0.0), eff[index])

    def _break(self, i: int, j: int, t: float) -> None:
        self._flags[i, j] |= BROKEN
        if not self._flags[i, j] & FORMED:
            self._n_unformed -= 0 if self._flags[i, j] & STUCK else 1
            self._flags[i, j] |= FORMED
        self._g[i, j] = self.params["g_short_s"]
        self._tprog[i, j] = t
        self._refresh(i, j)

    def _form(self, i: int, j: int, absv: float, i_cc: float | None, t: float) -> None:
        """Form the device: its filament grows until the current limit stops it."""
        self._flags[i, j] |= FORMED
        self._n_unformed -= 1
        if i_cc is None:  # nothing limits the current: the forming runs away into breakdown
            self._break(i, j, t)
            return
        d = self._dev[:, i, j].tolist()
        g = i_cc / max(self._iv(absv), 1e-30)
        self._g[i, j] = min(max(g, d[GMIN]), d[GMAX])
        self._tprog[i, j] = t
        self._refresh(i, j)

    # ==========================================================================================
    # one pulse on one device (Python floats: a few microseconds whatever the array size)
    # ==========================================================================================

    def _window(self, d: list[float], pulses: int) -> tuple[float, float]:
        """The device's (narrowed) conductance window after ``pulses`` switching pulses."""
        gmin, gmax = d[GMIN], d[GMAX]
        if pulses == 0:
            return gmin, gmax
        frac = min(0.5 * pulses / d[NEND], 1.0)
        w = 1.0 - frac ** self._wear_p
        if w >= 1.0:
            return gmin, gmax
        center = gmin + self._wear_center * (gmax - gmin)
        return center - (center - gmin) * w, center + (gmax - center) * w

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
            g = self._drifted(float(self._g[i, j]), float(self._nu[i, j]),
                              t - float(self._tprog[i, j]))
            hi_cap = _BIG
            if i_cc is not None and v > 0.0:
                hi_cap = i_cc / max(self._iv(absv), 1e-30)
                if g > hi_cap:  # the source limits the current, the voltage collapses: no SET
                    return
            pulses = int(self._pulses[i, j])
            lo, hi = self._window(d, pulses) if pulses else (d[GMIN], d[GMAX])
            u = 1.0 + self._sigma_c2c * self._prog_noise.scalar()
            c = (d[AP] if v > 0.0 else d[AM]) * self._phi(absv, width_s)
            if self._three_factor:
                c *= self._efficacy_scalar(i, j, t)
            c = min(c * u, 1.0) if u > 0.0 else 0.0
            if v > 0.0:
                g = min(g + c * (hi - g), hi_cap)
            else:
                g -= c * (g - lo)
            self._g[i, j] = g
            self._tprog[i, j] = t
            pulses += 1
            self._pulses[i, j] = pulses
            if pulses > self._pulse_bound:
                self._pulse_bound = pulses
            if 0.5 * pulses >= d[NEND]:
                self._flags[i, j] |= WORN
                self._refresh(i, j)
        self._touch(i, j, t)

    def _touch(self, i: int, j: int, t: float) -> None:
        """Record that device (i, j) changed at ``t``: update the read cache in place (one
        entry, not the whole matrix) if it was current, else just invalidate it."""
        if t > self._tprog_max:
            self._tprog_max = t
        cache = self._cache
        current = cache is not None and cache[0] == self._version
        self._version += 1
        if current:
            g = self._g_read_scalar(i, j, t)
            cache[2][i, j] = g
            cache[3][i, j] = (float(self._sigma_read[i, j]) * g) ** 2
            self._cache = (self._version, cache[1], cache[2], cache[3], max(cache[4], g))

    # ==========================================================================================
    # trains on one device: clamped affine scans
    # ==========================================================================================

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

        Stops early, after the step at which the device wears out.
        """
        p = self.params
        g0, tp0 = float(self._g[i, j]), float(self._tprog[i, j])
        n0 = int(self._pulses[i, j])
        switching = absv >= d[VTH]
        count = np.cumsum(switching)
        limit = math.ceil(2.0 * d[NEND])  # pulses at which the device wears out
        worn_at = int(np.searchsorted(count, limit - n0)) if n0 + count[-1] >= limit else -1
        steps = len(v) if worn_at < 0 else worn_at + 1
        v, absv, widths, t = v[:steps], absv[:steps], widths[:steps], t[:steps]
        switching, count = switching[:steps], count[:steps]
        if not switching.any():
            g_out[:steps], tp_out[:steps] = g0, tp0
            return steps
        first = int(switching.argmax())
        g_start = self._drifted(g0, float(self._nu[i, j]), float(t[first]) - tp0)
        # The window each step sees (narrowing with the pulses before it).
        before = (n0 + count - switching).astype(np.float64)
        frac = np.minimum(0.5 * before / d[NEND], 1.0)
        w = 1.0 - frac ** p["wear_exponent"]
        center = d[GMIN] + p["wear_center"] * (d[GMAX] - d[GMIN])
        lo_k = center - (center - d[GMIN]) * w
        hi_k = center + (d[GMAX] - center) * w
        positive = v > 0.0
        xi = self._prog_noise.normal(steps).astype(np.float64)
        u = np.maximum(1.0 + self._sigma_c2c * xi, 0.0)
        c = np.where(positive, d[AP], d[AM]) * self._phi_vec(absv, widths) * u
        c *= self._efficacy((i, j), t)
        np.minimum(c, 1.0, out=c)
        c[~switching] = 0.0
        a = 1.0 - c
        b = c * np.where(positive, hi_k, lo_k)
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
        g = clamp_affine_scan(g_start, a, b, lo, hi, cap)
        g[:first] = g0
        g_out[:steps] = g
        last = np.maximum.accumulate(np.where(switching, np.arange(steps), -1))
        tp_out[:steps] = np.where(last >= 0, t[np.maximum(last, 0)], tp0)
        self._g[i, j] = g[-1]
        self._tprog[i, j] = tp_out[steps - 1]
        pulses = n0 + int(count[-1])
        self._pulses[i, j] = pulses
        self._pulse_bound = max(self._pulse_bound, pulses)
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

    def _break_region(self, index: tuple, absv: Any, t: float) -> None:
        flags = self._flags[index]
        hit = (absv > self._dev[VBD][index]) & ((flags & (BROKEN | SHORT | OPEN)) == 0)
        if not hit.any():
            return
        unformed = hit & ((flags & (FORMED | STUCK)) == 0)
        self._n_unformed -= int(np.count_nonzero(unformed))
        self._flags[index] = np.where(hit, flags | BROKEN | FORMED, flags)
        self._g[index] = np.where(hit, np.float32(self.params["g_short_s"]), self._g[index])
        self._tprog[index] = np.where(hit, t, self._tprog[index])
        self._refresh_mask(index, hit)

    def _form_region(self, index: tuple, absv: Any, i_cc: float | None, t: float) -> None:
        flags = self._flags[index]
        hit = ((flags & (FORMED | FROZEN)) == 0) & (absv >= self._dev[VFORM][index])
        if not hit.any():
            return
        self._n_unformed -= int(np.count_nonzero(hit))
        if i_cc is None:
            self._flags[index] = np.where(hit, flags | FORMED | BROKEN, flags)
            g_new = np.float32(self.params["g_short_s"])
        else:
            self._flags[index] = np.where(hit, flags | FORMED, flags)
            g_new = np.clip(i_cc / np.maximum(self._iv_vec(absv), 1e-30),
                            self._dev[GMIN][index], self._dev[GMAX][index])
        self._g[index] = np.where(hit, g_new, self._g[index])
        self._tprog[index] = np.where(hit, t, self._tprog[index])
        self._refresh_mask(index, hit)

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
        rate = phi * self._efficacy(index, t)
        # Step fraction c = a phi h max(0, 1 + s xi), zero below threshold, at most 1.
        c = self._prog_noise.normal(g.shape)
        np.multiply(c, f32(self._sigma_c2c), out=c)
        np.add(c, f32(1.0), out=c)
        np.maximum(c, f32(0.0), out=c)
        np.multiply(c, a, out=c)
        np.multiply(c, rate, out=c)
        thresholded = float(np.min(absv)) < self._vth_max
        if thresholded:
            above = self._dev[VTH][index] <= absv
            np.multiply(c, above, out=c)
            switching = (a > 0) & above
        else:
            switching = a > 0
        if self._a_max * float(np.max(rate)) * (1.0 + 5.0 * self._sigma_c2c) > 1.0:
            np.minimum(c, f32(1.0), out=c)
        if self._drift_pending(t):
            drifted = self._drifted_vec(g, self._nu[index], t, self._tprog[index])
            g_src = np.where(switching, drifted, g)
        else:
            g_src = g
        # Targets: the window edges, narrowed by wear once that matters (> 1e-6 of the window):
        # Gmax - (1 - wc) (Gmax - Gmin) q and Gmin + wc (Gmax - Gmin) q, q = (n / n_end)^p.
        gmin, gmax = self._dev[GMIN][index], self._dev[GMAX][index]
        if (0.5 * self._pulse_bound / self._nend_min) ** self._wear_p > 1e-6:
            q = np.multiply(self._pulses[index], self._dev[HALF_INV_NEND][index], dtype=f32)
            np.minimum(q, f32(1.0), out=q)
            if self._wear_p == 2.0:
                np.multiply(q, q, out=q)
            else:
                np.power(q, f32(self._wear_p), out=q)
            np.multiply(q, gmax - gmin, out=q)
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
        if view and g_src is g and cap is None:
            np.add(g, delta, out=g)  # in place: the hot path of whole-array pulses
            g_new = g
        else:
            g_new = g_src + delta
        if cap is not None:
            # A SET stops at the limit and never starts on a device already above it.
            limited = np.where(g_src > cap, g_src, np.minimum(g_new, cap))
            g_new = np.where(positive, limited, g_new)
        if g_new is not g or not view:
            self._g[index] = g_new
        # Bookkeeping: time of programming, pulse counts, wear-out.
        if thresholded:
            self._tprog[index] = np.where(switching, t, self._tprog[index])
        else:
            self._tprog[index] = t  # frozen devices do not drift: their time does not matter
            if view and g.shape == self._g.shape:
                self._tprog_min = t
        pulses = self._pulses[index]
        np.add(pulses, switching, out=pulses, casting="unsafe")
        if not view:
            self._pulses[index] = pulses
        self._pulse_bound += 1
        if 0.5 * self._pulse_bound >= self._nend_min:
            worn = (pulses * 0.5 >= self._dev[NEND][index]) & ((self._flags[index] & WORN) == 0)
            if worn.any():
                self._flags[index] = np.where(worn, self._flags[index] | WORN, self._flags[index])
                self._refresh_mask(index, worn)

    def _burst_region(self, index: tuple, pattern: list[tuple[Any, float]], periods: int,
                      i_cc: float | None, t: float) -> None:
        """``periods`` repetitions of a pulse pattern on many devices, by exact moments.

        Each device's conductance is drawn from a Gaussian with the exact mean and variance of
        the noisy train (window narrowing during the train is not modelled; wear is counted).
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
        if self._drift_pending(t):
            drifted = self._drifted_vec(g, self._nu[index], t, self._tprog[index])
            g = np.where(switching, drifted, g)
        mean, var = periodic_moments(g, steps, self._sigma_c2c, periods)
        g_new = mean + np.sqrt(var) * self._prog_noise.normal(g.shape)
        g_new = np.clip(g_new, np.minimum(g, gmin), np.maximum(g, gmax))
        if cap is not None:  # as in a single SET: stop at the limit, never start above it
            g_new = np.where(g > cap, g, np.minimum(g_new, cap))
        self._g[index] = np.where(switching, g_new, g).astype(np.float32)
        self._tprog[index] = np.where(switching, t, self._tprog[index])
        pulses = self._pulses[index].astype(np.int64) + n_switch * periods
        self._pulses[index] = np.minimum(pulses, np.iinfo(np.uint32).max)
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

    # -- passive arrays: what the bias scheme puts on unselected devices ----------------------

    def _scheme_fractions(self) -> tuple[float, float, float]:
        """Fractions of V seen by (selected row, other col), (other row, selected col) and
        (other row, other col) devices."""
        if self.bias_scheme == "v/2":
            return 0.5, 0.5, 0.0
        if self.bias_scheme == "v/3":
            return 1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0
        return 1.0, 0.0, 0.0  # grounded: unselected lines at 0 V

    def _half_selected(self, rows: np.ndarray, cols: np.ndarray) -> list[tuple[tuple, float]]:
        """(index, fraction of V) of every unselected region of a passive array."""
        if self.array != "passive":
            return []
        row_parts, col_parts = _parts(rows), _parts(cols)
        other_rows = _complement_parts(rows, self.rows)
        other_cols = _complement_parts(cols, self.cols)
        f_row, f_col, f_other = self._scheme_fractions()
        regions = []
        for r_parts, c_parts, frac in ((row_parts, other_cols, f_row),
                                       (other_rows, col_parts, f_col),
                                       (other_rows, other_cols, f_other)):
            if frac == 0.0:
                continue
            for rp in r_parts:
                for cp in c_parts:
                    regions.append((self._index(rp, cp), frac))
        return regions

    def _index(self, rp: slice | np.ndarray, cp: slice | np.ndarray) -> tuple:
        """An index tuple for rows part x cols part: a view when both are slices."""
        if isinstance(rp, slice) and isinstance(cp, slice):
            return (rp, cp)
        r = np.arange(self.rows)[rp] if isinstance(rp, slice) else rp
        c = np.arange(self.cols)[cp] if isinstance(cp, slice) else cp
        return np.ix_(r, c)

    def _blocks(self, rows: np.ndarray, cols: np.ndarray) -> list[tuple]:
        """Index tuples covering rows x cols: slices (views) where the lines are contiguous."""
        return [self._index(rp, cp) for rp in _parts(rows) for cp in _parts(cols)]

    def _disturb(self, rows: np.ndarray, cols: np.ndarray, v: float, width_s: float, t: float,
                 count: int = 1, period_s: float = 0.0) -> None:
        if self.array != "passive" or abs(v) * self._max_fraction < self._v_quiet:
            return
        for index, frac in self._half_selected(rows, cols):
            if abs(v * frac) >= self._v_quiet:
                self._train_region(index, v * frac, width_s, None, t, count, period_s)

    # ==========================================================================================
    # reading
    # ==========================================================================================

    def _g_read_scalar(self, i: int, j: int, t: float) -> float:
        g = self._drifted(float(self._g[i, j]), float(self._nu[i, j]), t - float(self._tprog[i, j]))
        if self._light_active():
            light = self._light
            g = (g + light.g_ph_scalar(i, j, t)) / (1.0 + self.params["k_shunt_per_w"]
                                                      * float(light.p_abs_w[i, j]))
        return g

    def _g_read(self, index: tuple, t: float) -> np.ndarray:
        """Read conductance (drift, photoconductance, shunting; no noise) of a region."""
        g = self._g[index]
        if self._drift_pending(t):
            g = self._drifted_vec(g, self._nu[index], t, self._tprog[index])
        if self._light_active():
            g = ((g + self._light.g_ph(index, t)) / self._light.shunt(index)).astype(np.float32)
        return np.array(g, dtype=np.float32, copy=True)

    def _read_matrix(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(G_read, (sigma G_read)^2, max G_read) of the whole array, cached while unchanged."""
        cache = self._cache
        if cache is not None and cache[0] == self._version and not self._stale(cache[1], t):
            return cache[2], cache[3], cache[4]
        g = self._g_read((slice(None), slice(None)), t)
        g2s = np.multiply(g, self._sigma_read)
        np.multiply(g2s, g2s, out=g2s)
        self._cache = (self._version, t, g, g2s, float(g.max()))
        return g, g2s, self._cache[4]

    def _stale(self, t_cache: float, t: float) -> bool:
        """Whether read conductances computed at ``t_cache`` may be off at ``t`` by more than
        READ_CACHE_TOLERANCE (relative), by drift or photoconductance."""
        if t == t_cache:
            return False
        if t < t_cache or (self._light_active() and (self._light.changing_at(t_cache)
                                                      or self._light.changing_at(t))):
            return True
        if not self._drift_pending(t) or self._drift_max == 0.0:
            return False
        # |d ln G| <= nu_max |d ln age|, largest for the youngest device (age >= t0).
        youngest_s = max(t_cache - self._tprog_max, self._t0)
        change = self._drift_max * math.log1p((t - t_cache) / youngest_s)
        if not self._power_law:
            change /= 0.5 * self.params["g_min_s"]  # an absolute shift, relative to a low G
        return change > READ_CACHE_TOLERANCE

    def _current_scalar(self, i: int, j: int, v: float, t: float, noisy: bool = True) -> float:
        g = self._g_read_scalar(i, j, t)
        current = g * self._iv(v)
        if noisy:
            current *= 1.0 + float(self._sigma_read[i, j]) * self._read_noise.scalar()
        if self.array == "passive" and v != 0.0:
            current += self._sneak(i, j, v, t, noisy)
        if self._i_max is not None:
            current = max(min(current, self._i_max), -self._i_max)
        return current

    def _sneak(self, i: int, j: int, v: float, t: float, noisy: bool) -> float:
        """Current the bias scheme lets into the sense column through the other rows."""
        frac = self._scheme_fractions()[1]
        if frac == 0.0 or self.rows == 1:
            return 0.0
        g = self._g_read((slice(None), slice(j, j + 1)), t)[:, 0].astype(np.float64)
        g[i] = 0.0
        f = self._iv(v * frac)
        current = float(g.sum()) * f
        if noisy:
            sigma = self._sigma_read[:, j].astype(np.float64)
            current += math.sqrt(float(np.sum((sigma * g * f) ** 2))) * self._read_noise.scalar()
        return current

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
        count = _integer("count", count, 1, 10**9)
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
        return _finite("period_s", period_s, low=width_s)

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
        count = _integer("count", count, 1, 10**9)
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
            raise ValueError("rows/cols are not allowed: a device is listed twice")
        amps = np.asarray(amplitude_v, dtype=np.float64)
        if amps.ndim > 1 or (amps.ndim == 1 and amps.shape != r.shape):
            raise ValueError(
                f"amplitude_v is not allowed: a number or one amplitude per device ({r.size})"
            )
        if not np.all(np.isfinite(amps)) or np.any(np.abs(amps) > MAX_ABS_VOLTAGE_V):
            raise ValueError(
                f"amplitude_v is not allowed: finite numbers in [-{MAX_ABS_VOLTAGE_V:g}, "
                f"{MAX_ABS_VOLTAGE_V:g}] V"
            )
        width = self._width("width_s", width_s)
        count = _integer("count", count, 1, 10**9)
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
        vs = _finite("set_v", set_v, low=0.0, low_open=True, high=MAX_ABS_VOLTAGE_V)
        vr = _finite("reset_v", reset_v, low=-MAX_ABS_VOLTAGE_V, high=0.0)
        if vr == 0.0:
            raise ValueError(f"reset_v={reset_v!r} is not allowed: a negative voltage")
        ws = self._width("set_width_s", set_width_s)
        wr = self._width("reset_width_s", reset_width_s)
        n = _integer("cycles", cycles, 1, 10**9)
        if sample_cycles is None:
            samples = np.arange(1, n + 1) if n <= 10_000 else np.unique(
                np.round(np.geomspace(1, n, 1000)).astype(np.int64))
        else:
            samples = np.unique(np.asarray(sample_cycles))
            if samples.size and (not np.issubdtype(samples.dtype, np.integer)
                                 or samples.min() < 1 or samples.max() > n):
                raise ValueError(
                    f"sample_cycles is not allowed: integer cycle numbers in 1..{n}"
                )
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
            for index, frac in self._half_selected(rows, cols):
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
            raise ValueError("compliance_a=None is not allowed: forming needs a current limit")
        self.pulse(i, j, voltage_v, width_s, compliance_a=compliance_a)
        flags = int(self._flags[i, j])
        return bool(flags & FORMED) and not flags & BROKEN

    # ==========================================================================================
    # public API: DC and reads
    # ==========================================================================================

    def source_voltage(self, row: int, col: int, voltage_v: float, duration_s: float,
                       compliance_a: float | None = None) -> float:
        """Hold ``voltage_v`` for ``duration_s`` (an SMU sweep point): programs the device as a
        pulse of that width if above threshold, returns the current at the end (A), within
        +-compliance."""
        i, j = self._check_device(row, col)
        v = self._voltage("voltage_v", voltage_v)
        width = self._width("duration_s", duration_s)
        i_cc = self._compliance(compliance_a)
        t = self.clock.now()
        return self._source(i, j, v, width, i_cc, t)

    def _source(self, i: int, j: int, v: float, width: float, i_cc: float | None,
                t: float) -> float:
        if abs(v) >= self._v_quiet:
            self._program_scalar(i, j, v, width, i_cc, t)
            if self.array == "passive":
                self._disturb(np.array([i]), np.array([j]), v, width, t)
        current = self._current_scalar(i, j, v, t)
        if i_cc is not None:
            current = max(min(current, i_cc), -i_cc)
        return current

    def sweep(self, row: int, col: int, voltages_v: np.ndarray, duration_s: float,
              compliance_a: float | None = None) -> np.ndarray:
        """A list sweep: each voltage held ``duration_s`` in turn (point k ends at
        ``now + (k + 1) duration``); returns the current at the end of each point (A)."""
        i, j = self._check_device(row, col)
        v = np.asarray(voltages_v, dtype=np.float64)
        if v.ndim != 1 or not np.all(np.isfinite(v)) or np.any(np.abs(v) > MAX_ABS_VOLTAGE_V):
            raise ValueError(
                f"voltages_v is not allowed: a 1-D array of finite voltages within "
                f"+-{MAX_ABS_VOLTAGE_V:g} V"
            )
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
            g = (g + light.g_ph((i, j), times)) / float(light.shunt((i, j)))
        noise = self._read_noise.normal(v.size).astype(np.float64)
        current = g * self._iv_vec(v) * (1.0 + float(self._sigma_read[i, j]) * noise)
        if i_cc is not None:
            np.clip(current, -i_cc, i_cc, out=current)
        return current

    def read(self, row: int, col: int, voltage_v: float) -> float:
        """Current (A) at ``voltage_v``, with read noise, drift, photoconductance and shunting.
        Non-destructive below threshold; above it the read programs like a pulse of
        ``read_width_s``. In a passive array the sense column also collects what the bias
        scheme lets through the other rows."""
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
            raise ValueError(
                f"voltages_v of shape {v.shape} is not allowed: ({self.rows},) or (n, {self.rows})"
            )
        if not np.all(np.isfinite(v)) or np.any(np.abs(v) > MAX_ABS_VOLTAGE_V):
            raise ValueError("voltages_v is not allowed: finite voltages within +-1000 V")
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
        power = _finite("power_w", power_w, low=0.0, high=10.0)
        if power > 0.0:
            wavelength = _finite("wavelength_m", wavelength_m, low=0.0, low_open=True, high=1e-3)
        else:
            wavelength = _finite("wavelength_m", wavelength_m, low=0.0, high=1e-3)
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
        self._changed()

    def illuminate(self, power_w: float, wavelength_m: float, duration_s: float,
                   rows: Index = slice(None), cols: Index = slice(None)) -> None:
        """Light the block for ``duration_s`` (advancing the clock by it), then turn it off."""
        duration = _finite("duration_s", duration_s, low=0.0)
        self.set_light(power_w, wavelength_m, rows, cols)
        self.clock.sleep(duration)
        self.set_light(0.0, wavelength_m, rows, cols)

    # ==========================================================================================
    # public API: faults and inspection
    # ==========================================================================================

    def set_fault(self, row: int, col: int, kind: str, value: float | None = None) -> None:
        """Inject a fault: "open" (no current), "short" (conducts g_short_s), "stuck" (frozen at
        ``value`` S, default its present G), "noisy" (relative read sigma ``value``), or "none"
        (remove injected faults; breakdown and manufacturing faults stay)."""
        i, j = self._check_device(row, col)
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"kind={kind!r} is not allowed: one of {', '.join(map(repr, FAULT_KINDS))}"
            )
        if kind in ("open", "short", "none") and value is not None:
            raise ValueError(f"value={value!r} is not allowed with kind={kind!r}: give no value")
        if kind == "noisy" and value is None:
            raise ValueError("value=None is not allowed with kind='noisy': a relative sigma >= 0")
        self._changed(self.clock.now())
        key = (i, j)
        if kind == "none":
            if self._flags[i, j] & (OPEN | SHORT):
                self._g[i, j] = self._saved_g.pop(key, float(self._g[i, j]))
            self._flags[i, j] &= ~np.uint8(OPEN | SHORT | PINNED)
            self._sigma_read[i, j] = self.params["sigma_read"]
        elif kind == "noisy":
            self._sigma_read[i, j] = _finite("value", value, low=0.0, high=10.0)
        elif kind == "stuck":
            g = (float(self._g[i, j]) if value is None
                 else _finite("value", value, low=0.0, high=1.0))
            if self._flags[i, j] & (OPEN | SHORT):
                self._saved_g.pop(key, None)
                self._flags[i, j] &= ~np.uint8(OPEN | SHORT)
            self._g[i, j] = g
            self._flags[i, j] |= PINNED
        else:
            if not self._flags[i, j] & (OPEN | SHORT):
                self._saved_g[key] = float(self._g[i, j])
            self._flags[i, j] &= ~np.uint8(OPEN | SHORT)
            self._flags[i, j] |= OPEN if kind == "open" else SHORT
            self._g[i, j] = 0.0 if kind == "open" else self.params["g_short_s"]
        self._tprog[i, j] = self.clock.now()
        self._refresh(i, j)

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
        pulses = int(self._pulses[i, j])
        lo, hi = self._window(d, pulses)
        return {
            "G": float(self._g[i, j]),
            "G_read": self._g_read_scalar(i, j, t),
            "G_ph": light.g_ph_scalar(i, j, t) if light is not None and self._optical else 0.0,
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
        }

    def device_parameters(self) -> dict[str, np.ndarray]:
        """The drawn per-device parameters as float32 arrays (copies)."""
        names = ("g_min_s", "g_max_s", "a_plus", "a_minus", "v_th_v", "v_form_v",
                 "v_breakdown_v", "drift", "endurance_cycles")
        return {name: self._dev[k].copy() for k, name in enumerate(names)}

    def fault_map(self) -> dict[str, np.ndarray]:
        """Boolean maps of the devices that cannot be programmed, by cause."""
        flags = self._flags
        return {
            "unformed": (flags & FORMED) == 0,
            "stuck": (flags & (STUCK | PINNED)) != 0,
            "worn_out": (flags & WORN) != 0,
            "shorted": (flags & (BROKEN | SHORT)) != 0,
            "open": (flags & OPEN) != 0,
            "noisy": self._sigma_read != np.float32(self.params["sigma_read"]),
        }

    def __repr__(self) -> str:
        return (f"Chip({self.rows}x{self.cols}, family={self.family!r}, array={self.array!r}, "
                f"bias_scheme={self.bias_scheme!r}, seed={self.seed})")
