"""Light on the optomemristor: the optical laws and the per-device light history.

The light on each device is piecewise constant in time (it changes only when someone calls
``set_light``). Between changes every optical quantity is a closed form of the time since the
last change, so nothing is ever stepped in time. Each law has its scalar and array form side by
side (tests/instruments/sim/test_chip_laws.py checks they agree):

- **spectral response** :func:`responsivity`: the absorbed fraction of a film at the wavelength,
  ``A(E) = 1 - exp(-alpha(E) d)``, relative to ``A`` at ``wavelength_ref_m``. ``alpha`` follows an
  Urbach tail below the band gap, ``alpha_g exp((E - E_g) / E_U)``, and a smooth rise above it,
  ``alpha_g (1 + (E - E_g) / (2 E_U))^2`` (value and slope continuous at ``E_g``). So the
  response rises towards the blue and never drops to an abrupt zero.
- **photoconductance**: relaxes exponentially towards ``g_ph_ref (P / p_ref)^gamma`` under light
  (time constant ``tau_on``) and towards 0 in the dark (``tau_ph``);
- **shunting**: the output current is divided by ``1 + k_shunt s``, where the shunting state ``s``
  follows the absorbed power with its own rise (``tau_shunt_on``) and fall (``tau_shunt_off``)
  time constants;
- **light-then-pulse enabling trace** ``P / (P + p_half)`` under light, decaying as
  ``exp(-t / tau_e)`` after the light goes off; a pulse's programming efficacy is
  ``h = h_dark + (1 - h_dark) gain_lp trace``.

The pulse-then-light eligibility trace (set by electrical activity, converted by light) is in
:class:`Eligibility`.

``P`` is the absorbed-equivalent power: incident power times the responsivity at its wavelength.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["LightField", "Eligibility", "responsivity", "responsivity_array", "PLANCK_EV_M",
           "photo_gate", "photoconductance_ss"]

_SETTLE_TAUS = 40.0  # after 40 time constants exp(-40) ~ 4e-18: nothing changes any more
PLANCK_EV_M = 1.23984198e-6  # h c in eV m: E [eV] = PLANCK_EV_M / wavelength [m]


# -- spectral response ------------------------------------------------------------------------

def _absorbed(energy_ev: Any, params: dict[str, Any]) -> Any:
    """Absorbed fraction of the film at photon energy ``energy_ev`` (scalar or array)."""
    e = np.asarray(energy_ev, np.float64)
    x = (e - params["band_gap_ev"]) / params["urbach_energy_ev"]
    alpha = params["alpha_gap_per_m"] * np.where(
        x < 0.0, np.exp(np.minimum(x, 0.0)), (1.0 + 0.5 * np.maximum(x, 0.0)) ** 2)
    return -np.expm1(-alpha * params["film_thickness_m"])


def responsivity(wavelength_m: float, params: dict[str, Any]) -> float:
    """Responsivity at ``wavelength_m`` relative to ``wavelength_ref_m`` (1 there)."""
    if wavelength_m <= 0.0:
        return 0.0
    ref = float(_absorbed(PLANCK_EV_M / params["wavelength_ref_m"], params))
    return float(_absorbed(PLANCK_EV_M / wavelength_m, params)) / ref


def responsivity_array(wavelength_m: Any, params: dict[str, Any]) -> np.ndarray:
    w = np.asarray(wavelength_m, np.float64)
    ref = _absorbed(PLANCK_EV_M / params["wavelength_ref_m"], params)
    out = _absorbed(PLANCK_EV_M / np.where(w > 0.0, w, 1.0), params) / ref
    return np.where(w > 0.0, out, 0.0)


# -- steady-state laws ------------------------------------------------------------------------

def photoconductance_ss(p_abs_w: Any, params: dict[str, Any]) -> Any:
    """Steady photoconductance under absorbed power P: g_ph_ref (P / p_ref)^gamma."""
    return params["g_ph_ref_s"] * (np.asarray(p_abs_w, np.float64) / params["p_ref_w"]) \
        ** params["gamma_ph"]


def photo_gate(p_abs_w: Any, params: dict[str, Any]) -> Any:
    """P / (P + p_half): how fully light of absorbed power P enables (or converts) a change."""
    return p_abs_w / (p_abs_w + params["p_half_w"])


def _relax(x0: Any, x_ss: Any, dt: Any, tau: Any) -> Any:
    return x_ss + (x0 - x_ss) * np.exp(-dt / tau)


class LightField:
    """Per-device light history of one chip, as float32/float64 arrays of the chip's shape."""

    def __init__(self, shape: tuple[int, int], params: dict[str, Any], t_s: float) -> None:
        self.p = params
        self.power_w = np.zeros(shape, np.float32)  # incident
        self.wavelength_m = np.zeros(shape, np.float32)
        self.p_abs_w = np.zeros(shape, np.float32)  # absorbed-equivalent
        self.g0 = np.zeros(shape, np.float32)  # G_ph at t_change
        self.g_ss = np.zeros(shape, np.float32)  # where G_ph is heading
        self.s0 = np.zeros(shape, np.float32)  # shunting state at t_change
        self.trace0 = np.zeros(shape, np.float32)  # enabling trace at t_change
        self.t_change = np.full(shape, t_s, np.float64)
        self.settled_after_s = t_s  # G_ph and shunting are constant everywhere from then on
        self.lit_anywhere = False
        self.eligible_until_s = -math.inf  # the enabling trace is ~0 everywhere from then on

    # -- photoconductance ---------------------------------------------------------------------

    def g_ph(self, index: Any, t_s: float | np.ndarray) -> np.ndarray:
        """Photoconductance of the devices at ``index`` at time(s) ``t_s`` (float64)."""
        lit = self.p_abs_w[index] > 0.0
        tau = np.where(lit, self.p["tau_on_s"], self.p["tau_ph_s"])
        dt = np.maximum(np.asarray(t_s) - self.t_change[index], 0.0)
        return _relax(self.g0[index].astype(np.float64), self.g_ss[index].astype(np.float64),
                      dt, tau)

    def g_ph_scalar(self, i: int, j: int, t_s: float) -> float:
        tau = self.p["tau_on_s"] if self.p_abs_w[i, j] > 0.0 else self.p["tau_ph_s"]
        dt = max(t_s - float(self.t_change[i, j]), 0.0)
        g_ss = float(self.g_ss[i, j])
        return g_ss + (float(self.g0[i, j]) - g_ss) * math.exp(-dt / tau)

    # -- shunting -----------------------------------------------------------------------------

    def shunt(self, index: Any, t_s: float | np.ndarray) -> np.ndarray:
        """Divisor of the output current, 1 + k_shunt s(t) (float64)."""
        p_abs = self.p_abs_w[index].astype(np.float64)
        tau = np.where(p_abs > 0.0, self.p["tau_shunt_on_s"], self.p["tau_shunt_off_s"])
        dt = np.maximum(np.asarray(t_s) - self.t_change[index], 0.0)
        return 1.0 + self.p["k_shunt_per_w"] * _relax(self.s0[index].astype(np.float64), p_abs,
                                                      dt, tau)

    def shunt_scalar(self, i: int, j: int, t_s: float) -> float:
        p_abs = float(self.p_abs_w[i, j])
        tau = self.p["tau_shunt_on_s"] if p_abs > 0.0 else self.p["tau_shunt_off_s"]
        dt = max(t_s - float(self.t_change[i, j]), 0.0)
        s = p_abs + (float(self.s0[i, j]) - p_abs) * math.exp(-dt / tau)
        return 1.0 + self.p["k_shunt_per_w"] * s

    def _shunt_state(self, index: Any, t_s: float) -> np.ndarray:
        return (self.shunt(index, t_s) - 1.0) / self.p["k_shunt_per_w"] \
            if self.p["k_shunt_per_w"] > 0.0 else np.zeros(np.shape(self.p_abs_w[index]))

    # -- light-then-pulse enabling trace -------------------------------------------------------

    def trace(self, index: Any, t_s: float | np.ndarray) -> np.ndarray:
        """Enabling trace (0..1) of the devices at ``index`` at time(s) ``t_s``."""
        p_abs = self.p_abs_w[index]
        lit = p_abs > 0.0
        if np.all(lit):  # the common case under a laser spot: no decay to evaluate
            return photo_gate(p_abs, self.p)
        dt = np.maximum(np.asarray(t_s) - self.t_change[index], 0.0)
        dark = self.trace0[index] * np.exp(-dt / self.p["tau_e_s"])
        return np.where(lit, photo_gate(p_abs, self.p), dark)

    def trace_scalar(self, i: int, j: int, t_s: float) -> float:
        p_abs = float(self.p_abs_w[i, j])
        if p_abs > 0.0:
            return p_abs / (p_abs + self.p["p_half_w"])
        dt = max(t_s - float(self.t_change[i, j]), 0.0)
        return float(self.trace0[i, j]) * math.exp(-dt / self.p["tau_e_s"])

    def changing_at(self, t_s: float) -> bool:
        """Whether some device's photoconductance or shunting still changes at ``t_s``."""
        return t_s < self.settled_after_s

    # -- changes --------------------------------------------------------------------------------

    def set(self, index: Any, power_w: float, wavelength_m: float, t_s: float) -> None:
        """From ``t_s`` on, ``power_w`` at ``wavelength_m`` falls on the devices at ``index``."""
        # Materialise the present values, then restart the closed forms from t_s.
        g_now = self.g_ph(index, t_s)
        s_now = self._shunt_state(index, t_s)
        trace_now = self.trace(index, t_s)
        p_abs = power_w * responsivity(wavelength_m, self.p) if power_w > 0.0 else 0.0
        self.g0[index] = g_now
        self.s0[index] = s_now
        self.trace0[index] = trace_now
        self.t_change[index] = t_s
        self.power_w[index] = power_w
        self.wavelength_m[index] = wavelength_m if power_w > 0.0 else 0.0
        self.p_abs_w[index] = p_abs
        self.g_ss[index] = photoconductance_ss(p_abs, self.p) if p_abs > 0.0 else 0.0
        slowest = max(self.p["tau_on_s"], self.p["tau_ph_s"], self.p["tau_shunt_on_s"],
                      self.p["tau_shunt_off_s"])
        self.settled_after_s = max(self.settled_after_s, t_s + _SETTLE_TAUS * slowest)
        self.lit_anywhere = bool(np.any(self.p_abs_w > 0.0))
        if p_abs > 0.0 or np.any(trace_now > 0.0):
            self.eligible_until_s = max(
                self.eligible_until_s, t_s + _SETTLE_TAUS * self.p["tau_e_s"]
            )

    def eligible_at(self, t_s: float) -> bool:
        """Whether some device may have a non-zero enabling trace at ``t_s``."""
        return self.lit_anywhere or t_s < self.eligible_until_s


class Eligibility:
    """The pulse-then-light eligibility trace of every device (S, signed).

    A programming pulse expresses only the fraction ``h`` (its efficacy) of its electrical step
    ``dG_e`` at once; the rest, ``(1 - h) dG_e``, is added to the trace ``e``, which decays as
    ``exp(-t / tau_pl)``. Light of absorbed power P arriving while ``e`` lives converts the part
    ``gate(P) = P / (P + p_half)`` of it into a conductance change ``gain_pl gate(P) e``; the
    converted part leaves the trace.
    """

    def __init__(self, shape: tuple[int, int], params: dict[str, Any]) -> None:
        self.tau_s = params["tau_pl_s"]
        self.shape = shape
        self.e0 = np.zeros(shape, np.float32)
        self.t0 = np.zeros(shape, np.float64)
        # While every device's trace was last set at one time, that time alone (whole-array
        # pulses then decay the trace by one scalar factor instead of an exp per device).
        self.t_uniform: float | None = 0.0
        self.alive_until_s = -math.inf

    def _full(self, index: Any) -> bool:
        return np.shape(self.e0[index]) == self.shape

    def _times(self) -> None:
        """Make the per-device times explicit before a partial update."""
        if self.t_uniform is not None:
            self.t0.fill(self.t_uniform)
            self.t_uniform = None

    def value(self, index: Any, t_s: float) -> np.ndarray:
        if self.t_uniform is not None:
            return self.e0[index] * np.float32(math.exp(-max(t_s - self.t_uniform, 0.0) / self.tau_s))
        return self.e0[index] * np.exp(-np.maximum(t_s - self.t0[index], 0.0) / self.tau_s)

    def value_scalar(self, i: int, j: int, t_s: float) -> float:
        t0 = self.t_uniform if self.t_uniform is not None else float(self.t0[i, j])
        return float(self.e0[i, j]) * math.exp(-max(t_s - t0, 0.0) / self.tau_s)

    def add_scalar(self, i: int, j: int, t_s: float, de: float) -> None:
        value = self.value_scalar(i, j, t_s) + de
        self._times()
        self.e0[i, j] = value
        self.t0[i, j] = t_s
        self.alive_until_s = max(self.alive_until_s, t_s + _SETTLE_TAUS * self.tau_s)

    def add(self, index: Any, t_s: float, de: np.ndarray) -> None:
        if self.t_uniform is not None and self._full(index):
            e = self.e0[index]
            e *= np.float32(math.exp(-max(t_s - self.t_uniform, 0.0) / self.tau_s))
            e += de
            self.t_uniform = t_s
        else:
            value = self.value(index, t_s) + de
            self._times()
            self.e0[index] = value
            self.t0[index] = t_s
        self.alive_until_s = max(self.alive_until_s, t_s + _SETTLE_TAUS * self.tau_s)

    def take(self, index: Any, t_s: float, fraction: Any) -> np.ndarray:
        """Remove ``fraction`` of the trace at ``t_s`` and return the removed part."""
        e = self.value(index, t_s)
        taken = e * fraction
        if not self._full(index):
            self._times()
        self.e0[index] = e - taken
        if self.t_uniform is not None:
            self.t_uniform = t_s
        else:
            self.t0[index] = t_s
        return taken

    def alive_at(self, t_s: float) -> bool:
        return t_s < self.alive_until_s
