"""Light on the optomemristor: photoconductance, eligibility and shunting, evaluated lazily.

The light on each device is piecewise constant in time (it changes only when someone calls
``set_light``). Between changes every optical quantity is a closed form of the time since the
last change, so nothing is ever stepped in time:

- photoconductance relaxes exponentially towards ``g_ph_ref (P / p_ref)^gamma`` under light
  (time constant ``tau_on``) and towards 0 in the dark (``tau_ph``);
- the eligibility trace is ``P / (P + p_half)`` under light and decays as ``exp(-t / tau_e)``
  once the light is off; programming efficacy is ``h = h_dark + (1 - h_dark) trace``;
- shunting divides the output current by ``1 + k_shunt P``.

``P`` is the absorbed-equivalent power: incident power times the responsivity at its wavelength.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["LightField", "responsivity"]

_SETTLE_TAUS = 40.0  # after 40 time constants exp(-40) ~ 4e-18: nothing changes any more


def responsivity(wavelength_m: float, params: dict[str, Any]) -> float:
    """Relative responsivity (0..1): a Gaussian band, zero outside [band_min_m, band_max_m]."""
    if not params["band_min_m"] <= wavelength_m <= params["band_max_m"]:
        return 0.0
    z = (wavelength_m - params["wavelength_peak_m"]) / params["wavelength_sigma_m"]
    return math.exp(-0.5 * z * z)


class LightField:
    """Per-device light history of one chip, as float32/float64 arrays of the chip's shape."""

    def __init__(self, shape: tuple[int, int], params: dict[str, Any], t_s: float) -> None:
        self.p = params
        self.power_w = np.zeros(shape, np.float32)  # incident
        self.wavelength_m = np.zeros(shape, np.float32)
        self.p_abs_w = np.zeros(shape, np.float32)  # absorbed-equivalent
        self.g0 = np.zeros(shape, np.float32)  # G_ph at t_change
        self.g_ss = np.zeros(shape, np.float32)  # where G_ph is heading
        self.trace0 = np.zeros(shape, np.float32)  # eligibility trace at t_change
        self.t_change = np.full(shape, t_s, np.float64)
        self.settled_after_s = t_s  # G_ph is constant everywhere from then on
        self.lit_anywhere = False
        self.eligible_until_s = -math.inf  # the trace is ~0 everywhere from then on

    # -- closed forms ---------------------------------------------------------------------------

    def _g_ss(self, p_abs: np.ndarray | float) -> np.ndarray | float:
        return self.p["g_ph_ref_s"] * (np.asarray(p_abs) / self.p["p_ref_w"]) ** self.p["gamma_ph"]

    def _gate(self, p_abs: np.ndarray | float) -> np.ndarray | float:
        return p_abs / (p_abs + self.p["p_half_w"])

    def g_ph(self, index: Any, t_s: float | np.ndarray) -> np.ndarray:
        """Photoconductance of the devices at ``index`` at time(s) ``t_s`` (float64)."""
        lit = self.p_abs_w[index] > 0.0
        tau = np.where(lit, self.p["tau_on_s"], self.p["tau_ph_s"])
        dt = np.maximum(np.asarray(t_s) - self.t_change[index], 0.0)
        g_ss = self.g_ss[index].astype(np.float64)
        return g_ss + (self.g0[index] - g_ss) * np.exp(-dt / tau)

    def g_ph_scalar(self, i: int, j: int, t_s: float) -> float:
        p_abs = float(self.p_abs_w[i, j])
        tau = self.p["tau_on_s"] if p_abs > 0.0 else self.p["tau_ph_s"]
        dt = max(t_s - float(self.t_change[i, j]), 0.0)
        g_ss = float(self.g_ss[i, j])
        return g_ss + (float(self.g0[i, j]) - g_ss) * math.exp(-dt / tau)

    def trace(self, index: Any, t_s: float | np.ndarray) -> np.ndarray:
        """Eligibility trace (0..1) of the devices at ``index`` at time(s) ``t_s``."""
        p_abs = self.p_abs_w[index]
        lit = p_abs > 0.0
        if np.all(lit):  # the common case under a laser spot: no decay to evaluate
            return self._gate(p_abs)
        dt = np.maximum(np.asarray(t_s) - self.t_change[index], 0.0)
        dark = self.trace0[index] * np.exp(-dt / self.p["tau_e_s"])
        return np.where(lit, self._gate(p_abs), dark)

    def trace_scalar(self, i: int, j: int, t_s: float) -> float:
        p_abs = float(self.p_abs_w[i, j])
        if p_abs > 0.0:
            return p_abs / (p_abs + self.p["p_half_w"])
        dt = max(t_s - float(self.t_change[i, j]), 0.0)
        return float(self.trace0[i, j]) * math.exp(-dt / self.p["tau_e_s"])

    def shunt(self, index: Any) -> np.ndarray:
        """Divisor of the output current, 1 + k_shunt P_abs."""
        return 1.0 + self.p["k_shunt_per_w"] * self.p_abs_w[index]

    def changing_at(self, t_s: float) -> bool:
        """Whether some device's photoconductance still changes at ``t_s``."""
        return t_s < self.settled_after_s

    # -- changes --------------------------------------------------------------------------------

    def set(self, index: Any, power_w: float, wavelength_m: float, t_s: float) -> None:
        """From ``t_s`` on, ``power_w`` at ``wavelength_m`` falls on the devices at ``index``."""
        # Materialise the present values, then restart the closed forms from t_s.
        g_now = self.g_ph(index, t_s)
        trace_now = self.trace(index, t_s)
        p_abs = power_w * responsivity(wavelength_m, self.p) if power_w > 0.0 else 0.0
        self.g0[index] = g_now
        self.trace0[index] = trace_now
        self.t_change[index] = t_s
        self.power_w[index] = power_w
        self.wavelength_m[index] = wavelength_m if power_w > 0.0 else 0.0
        self.p_abs_w[index] = p_abs
        self.g_ss[index] = self._g_ss(p_abs) if p_abs > 0.0 else 0.0
        slowest = max(self.p["tau_on_s"], self.p["tau_ph_s"])
        self.settled_after_s = max(self.settled_after_s, t_s + _SETTLE_TAUS * slowest)
        self.lit_anywhere = bool(np.any(self.p_abs_w > 0.0))
        if p_abs > 0.0 or np.any(trace_now > 0.0):
            self.eligible_until_s = max(
                self.eligible_until_s, t_s + _SETTLE_TAUS * self.p["tau_e_s"]
            )

    def eligible_at(self, t_s: float) -> bool:
        """Whether some device may have a non-zero trace at ``t_s``."""
        return self.lit_anywhere or t_s < self.eligible_until_s
