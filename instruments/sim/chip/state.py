"""Per-device state of the chip and its faults.

The state is float32 arrays of shape (rows, cols): the stored conductance ``_g``, the drawn
per-device parameters stacked in ``_dev`` (rows GMIN..HALF_INV_NEND), the effective step sizes
and drift exponents (0 for a device that cannot switch), the time of last programming
``_tprog`` (float64), the wear ``_pulses`` (pulse-equivalents, float64) and the fault bits
``_flags``. :class:`DeviceState` draws it, changes it on breakdown, forming and injected
faults, and reports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memlab.instruments.sim.chip.validation import number_in, refuse

__all__ = ["DeviceState", "FAULT_KINDS", "FORMED", "STUCK", "BROKEN", "OPEN", "SHORT", "WORN",
           "PINNED", "FROZEN", "GMIN", "GMAX", "AP", "AM", "VTH", "VFORM", "VBD", "DRIFT", "NEND",
           "HALF_INV_NEND", "INV_DG_FULL", "DEVICE_ROWS", "DEVICE_PARAMETERS", "STUCK_OFF", "STUCK_ON",
           "check_device_parameters"]

FAULT_KINDS = ("open", "short", "stuck", "noisy", "none")

# Rows of the per-device parameter stack `_dev`.
GMIN, GMAX, AP, AM, VTH, VFORM, VBD, DRIFT, NEND, HALF_INV_NEND, INV_DG_FULL = range(11)
DEVICE_ROWS = 11

# Per-device parameters a caller may give instead of drawing them (a fitted twin): name -> the
# row of `_dev` it sets (None: not a row of `_dev`) and the lowest allowed value (exclusive).
# NaN in a given array means "draw this device from the distributions, as usual".
DEVICE_PARAMETERS: dict[str, int | None] = {
    "g_min_s": GMIN, "g_max_s": GMAX, "a_plus": AP, "a_minus": AM, "v_th_v": VTH, "v_form_v": VFORM,
    "v_breakdown_v": VBD, "drift": DRIFT, "endurance_cycles": NEND, "sigma_read": None, "stuck": None,
}
# Values of the given "stuck" array: not stuck, stuck at the device's Gmin, stuck at its Gmax.
NOT_STUCK, STUCK_OFF, STUCK_ON = 0.0, 1.0, 2.0


def check_device_parameters(given: Any, shape: tuple[int, int], power_law: bool) -> dict[str, np.ndarray]:
    """The per-device arrays ``given`` as float64 (rows, cols) arrays, each value checked;
    NaN marks a device to be drawn. Refuses unknown names, wrong shapes and unphysical values."""
    if not isinstance(given, dict):
        raise refuse("devices", given, "a dict of per-device parameter arrays")
    out: dict[str, np.ndarray] = {}
    for name, values in given.items():
        if name not in DEVICE_PARAMETERS:
            raise refuse("devices", name, "one of " + ", ".join(DEVICE_PARAMETERS), "per-device parameters")
        try:
            arr = np.asarray(values, np.float64)
        except (TypeError, ValueError):
            raise refuse(f"devices[{name!r}]", values, f"a {shape[0]} x {shape[1]} array of numbers") from None
        if arr.shape != shape:
            raise refuse(f"devices[{name!r}]", f"an array of shape {arr.shape}",
                         f"shape {shape} (the chip's rows x cols)")
        known = arr[~np.isnan(arr)]
        if name == "stuck":
            bad = ~np.isin(known, (NOT_STUCK, STUCK_OFF, STUCK_ON))
            allowed = "0 (not stuck), 1 (stuck at Gmin), 2 (stuck at Gmax) or NaN (draw)"
        elif name == "drift" and not power_law:
            bad = ~np.isfinite(known)
            allowed = "finite values in S per ln(t/t0) (log law), or NaN (draw)"
        elif name in ("a_plus", "a_minus"):
            bad = ~((known > 0) & (known <= 1))
            allowed = "values in (0, 1], or NaN (draw)"
        elif name in ("drift", "sigma_read"):
            bad = ~((known >= 0) & np.isfinite(known))
            allowed = "finite values >= 0, or NaN (draw)"
        else:
            bad = ~((known > 0) & np.isfinite(known))
            allowed = "finite values > 0, or NaN (draw)"
        if bad.any():
            raise refuse(f"devices[{name!r}]", float(known[bad][0]), allowed)
        out[name] = arr
    gmin, gmax = out.get("g_min_s"), out.get("g_max_s")
    if gmin is not None and gmax is not None:
        crossed = gmin >= gmax
        if crossed.any():
            i, j = np.argwhere(crossed)[0]
            raise refuse(f"devices['g_min_s'][{i}, {j}]", float(gmin[i, j]), f"below g_max_s = {gmax[i, j]:g} S")
    return out


# Bits of `_flags`.
FORMED = 1
STUCK = 2  # stuck from manufacture
BROKEN = 4  # broke down: shorted for good
OPEN = 8  # injected fault
SHORT = 16  # injected fault
WORN = 32  # reached its endurance: stuck where it was
PINNED = 64  # injected stuck fault
FROZEN = STUCK | BROKEN | OPEN | SHORT | WORN | PINNED


class DeviceState:
    """The state half of :class:`~memlab.instruments.sim.chip.model.Chip` (a mixin)."""

    def _draw_devices(self, rng: np.random.Generator, shape: tuple[int, int], formed: bool,
                      given: dict[str, np.ndarray] | None = None) -> None:
        """Draw every device from the preset's distributions, then replace what ``given`` (checked
        by :func:`check_device_parameters`) fixes; the draws happen either way, so a seed gives the
        same random streams with or without given parameters."""
        p = self.params
        given = given or {}
        f32 = np.float32

        def normal() -> np.ndarray:
            return rng.standard_normal(shape, dtype=f32)

        dev = np.empty((DEVICE_ROWS,) + shape, f32)
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
        for name, row in DEVICE_PARAMETERS.items():
            if row is not None and name in given:
                dev[row] = np.where(np.isnan(given[name]), dev[row], given[name])
        if "g_min_s" in given or "g_max_s" in given:  # a given edge may cross a drawn one
            np.minimum(dev[GMIN], dev[GMAX] / f32(1.01), out=dev[GMIN])
        if "v_th_v" in given or "v_form_v" in given:
            np.maximum(dev[VFORM], dev[VTH], out=dev[VFORM])
        dev[HALF_INV_NEND] = 0.5 / dev[NEND]  # pulses -> fraction of life, without a division
        # A change of at least dg_full_fraction of the window counts as one full programming
        # event (drift restart, one pulse of wear); smaller changes count in proportion.
        dev[INV_DG_FULL] = 1.0 / (p["dg_full_fraction"] * (dev[GMAX] - dev[GMIN]))
        stuck = rng.random(shape, dtype=f32) < p["stuck_fraction"]
        stuck_on = rng.random(shape, dtype=f32) < p["stuck_on_share"]
        if "stuck" in given:
            known = ~np.isnan(given["stuck"])
            stuck = np.where(known, given["stuck"] != NOT_STUCK, stuck)
            stuck_on = np.where(known, given["stuck"] == STUCK_ON, stuck_on)
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
        if "sigma_read" in given:
            self._sigma_read = np.where(np.isnan(given["sigma_read"]), self._sigma_read,
                                        given["sigma_read"]).astype(f32)
        self._sigma_read_base = self._sigma_read.copy()  # what set_fault(kind="none") restores
        self._tprog = np.full(shape, self.clock.now(), np.float64)
        self._pulses = np.zeros(shape, np.float64)  # wear, in pulse-equivalents

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

    def set_fault(self, row: int, col: int, kind: str, value: float | None = None) -> None:
        """Inject a fault: "open" (no current), "short" (conducts g_short_s), "stuck" (frozen at
        ``value`` S, default its present G), "noisy" (relative read sigma ``value``), or "none"
        (remove injected faults; breakdown and manufacturing faults stay)."""
        i, j = self._check_device(row, col)
        if kind not in FAULT_KINDS:
            raise refuse("kind", kind, "one of " + ", ".join(map(repr, FAULT_KINDS)))
        if kind in ("open", "short", "none") and value is not None:
            raise refuse("value", value, f"no value with kind={kind!r}")
        if kind == "noisy" and value is None:
            raise refuse("value", value, "a relative sigma >= 0 with kind='noisy'")
        self._changed(self.clock.now())
        key = (i, j)
        if kind == "none":
            if self._flags[i, j] & (OPEN | SHORT):
                self._g[i, j] = self._saved_g.pop(key, float(self._g[i, j]))
            self._flags[i, j] &= ~np.uint8(OPEN | SHORT | PINNED)
            self._sigma_read[i, j] = self._sigma_read_base[i, j]
        elif kind == "noisy":
            self._sigma_read[i, j] = number_in("value", value, 0.0, 10.0)
        elif kind == "stuck":
            g = (float(self._g[i, j]) if value is None
                 else number_in("value", value, 0.0, 1.0, unit="S"))
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


    def device_parameters(self) -> dict[str, np.ndarray]:
        """The drawn per-device parameters as float32 arrays (copies)."""
        names = ("g_min_s", "g_max_s", "a_plus", "a_minus", "v_th_v", "v_form_v",
                 "v_breakdown_v", "drift", "endurance_cycles")
        return {name: self._dev[k].copy() for k, name in enumerate(names)}

    def is_formed(self, row: int, col: int) -> bool:
        """Whether device (row, col) is formed (one flag: no map of the whole chip built)."""
        return bool(self._flags[row, col] & FORMED)

    def fault_map(self) -> dict[str, np.ndarray]:
        """Boolean maps of the devices that cannot be programmed, by cause."""
        flags = self._flags
        return {
            "unformed": (flags & FORMED) == 0,
            "stuck": (flags & (STUCK | PINNED)) != 0,
            "worn_out": (flags & WORN) != 0,
            "shorted": (flags & (BROKEN | SHORT)) != 0,
            "open": (flags & OPEN) != 0,
            "noisy": self._sigma_read != self._sigma_read_base,
        }
