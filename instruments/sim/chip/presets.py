"""Device-family presets of the simulated chip, and the checks on overrides.

Every number is a default to be fitted to a lab's own devices, never a law; the sources are named
in ``docs/chip-model.md`` (section "Parameters"). A value marked *assumed* has no source in the
physics reference and was chosen to give believable behaviour.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from typing import Any

from memlab.instruments.sim.chip.validation import number_in, refuse

__all__ = ["PRESETS", "PARAMETERS", "FAMILY_ARRAYS", "ParamSpec", "resolve_params"]


@dataclass(frozen=True)
class ParamSpec:
    """What a parameter means and which values it allows."""

    unit: str
    help: str
    low: float | None = None  # inclusive unless low_open
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] | None = None  # for text parameters
    boolean: bool = False

    def allowed(self) -> str:
        if self.boolean:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"a finite number in {'(' if self.low_open else '['}{low}, {high}]"

    def check(self, name: str, value: Any) -> Any:
        """``value`` if allowed, else a :class:`ChipInputError` naming the parameter."""
        allowed = f"{self.allowed()} {self.unit}".rstrip()
        if self.boolean:
            if not isinstance(value, bool):
                raise refuse(f"parameter {name}", value, allowed)
            return value
        if self.choices is not None:
            if value not in self.choices:
                raise refuse(f"parameter {name}", value, allowed)
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse(f"parameter {name}", value, allowed)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return number_in(f"parameter {name}", value, low, high, low_open=self.low_open, unit=self.unit)


def _pos(unit: str, help: str, high: float | None = None) -> ParamSpec:
    return ParamSpec(unit, help, low=0.0, high=high, low_open=True)


def _nonneg(unit: str, help: str, high: float | None = None) -> ParamSpec:
    return ParamSpec(unit, help, low=0.0, high=high)


PARAMETERS: dict[str, ParamSpec] = {
    # conductance window and device-to-device spread
    "g_min_s": _pos("S", "median lower bound of the analog window (HRS)", 1.0),
    "g_max_s": _pos("S", "median upper bound of the analog window (LRS)", 1.0),
    "sigma_g_d2d": _nonneg("", "log-normal sigma of each device's g_min and g_max", 2.0),
    "g_unformed_s": _nonneg("S", "conductance of a virgin (unformed) device", 1.0),
    "g_short_s": _pos("S", "conductance of a broken-down (shorted) device", 1.0),
    # pulse response: soft bounds, threshold, sinh voltage and power-law width dependence
    "a_plus": _pos("", "fraction of (Gmax - G) gained per reference pulse (median)", 1.0),
    "a_minus": _pos("", "fraction of (G - Gmin) lost per reference pulse (median)", 1.0),
    "sigma_step_d2d": _nonneg("", "log-normal sigma of each device's a_plus and a_minus", 3.0),
    "sigma_c2c": _nonneg("", "relative Gaussian sigma on every programming step", 5.0),
    "v_ref_v": _pos("V", "amplitude of the reference pulse (phi = 1)"),
    "t_ref_s": _pos("s", "width of the reference pulse (phi = 1)"),
    "v0_switch_v": _pos("V", "voltage scale of the sinh switching-rate dependence"),
    "width_exponent": _nonneg("", "beta in phi ~ (t_w / t_ref)^beta", 2.0),
    "v_th_v": _pos("V", "median switching threshold |V|"),
    "sigma_v_th_v": _nonneg("V", "Gaussian sigma of each device's threshold"),
    # read
    "v_read_v": _pos("V", "recommended read voltage (a default for instruments)"),
    "v0_read_v": _pos("V", "voltage scale of the sinh read I-V: I = G V0 sinh(V / V0)"),
    "read_width_s": _pos("s", "how long a read() holds its voltage (programs if above threshold)"),
    "sigma_read": _nonneg("", "relative Gaussian sigma of every read", 1.0),
    # drift
    "drift_law": ParamSpec("", "retention law after programming", choices=("power", "log")),
    "drift_t0_s": _pos("s", "drift reference time: no drift before t0 after programming"),
    "drift_nu": ParamSpec("", "power law: median exponent nu in G0 (t/t0)^-nu", 0.0, 1.0),
    "sigma_drift_nu": _nonneg("", "power law: Gaussian sigma of each device's nu", 1.0),
    "drift_log_s": ParamSpec("S", "log law: median shift of G per unit of ln(t/t0)"),
    "sigma_drift_log_s": _nonneg("S", "log law: Gaussian sigma of each device's shift rate"),
    # faults
    "stuck_fraction": _nonneg("", "fraction of devices stuck from manufacture", 1.0),
    "stuck_on_share": _nonneg("", "share of the stuck devices stuck at Gmax (rest at Gmin)", 1.0),
    "v_form_v": _pos("V", "median forming voltage |V|"),
    "sigma_v_form_v": _nonneg("V", "Gaussian sigma of each device's forming voltage"),
    "v_breakdown_v": _pos("V", "median breakdown voltage |V|: above it the device shorts"),
    "sigma_v_breakdown_v": _nonneg("V", "Gaussian sigma of each device's breakdown voltage"),
    "endurance_cycles": ParamSpec("cycles", "median cycles before the device sticks", 1.0, 1e12),
    "sigma_endurance": _nonneg("", "log-normal sigma of each device's endurance", 3.0),
    "wear_exponent": _pos("", "p in window(n) = 1 - (n / n_end)^p"),
    "wear_center": _nonneg("", "where the closing window ends, as a fraction of Gmin..Gmax", 1.0),
    # array
    "transistor_i_max_a": _pos("A", "1T1R: the most current the cell transistor passes"),
    # optics (optomemristor hypothesis; zeros switch an effect off)
    "three_factor": ParamSpec("", "programming needs light or a recent light (eligibility)",
                              boolean=True),
    "h_dark": ParamSpec("", "three-factor: relative programming efficacy with no light", 0.0, 1.0),
    "p_half_w": _pos("W", "three-factor: absorbed power at which efficacy is half way"),
    "tau_e_s": _pos("s", "light-then-pulse: time constant of the enabling trace after light off"),
    "gain_lp": ParamSpec("", "light-then-pulse: efficacy gain of the enabling trace", 0.0, 1.0),
    "tau_pl_s": _pos("s", "pulse-then-light: time constant of the eligibility trace a pulse sets"),
    "gain_pl": ParamSpec("", "pulse-then-light: fraction of the trace light converts (at full gate)",
                         0.0, 10.0),
    "dg_full_fraction": ParamSpec("", "a change of this fraction of the window restarts drift and "
                                  "wears like one full pulse; smaller ones count in proportion",
                                  0.0, 1.0, low_open=True),
    "g_ph_ref_s": _nonneg("S", "steady photoconductance at p_ref_w absorbed power"),
    "p_ref_w": _pos("W", "reference absorbed power of g_ph_ref_s"),
    "gamma_ph": _pos("", "photoconductance exponent: G_ph ~ P^gamma", 3.0),
    "tau_on_s": _pos("s", "photoconductance rise time constant under light"),
    "tau_ph_s": _pos("s", "photoconductance relaxation time constant in the dark"),
    "k_shunt_per_w": _nonneg("1/W", "shunting: I = G V / (1 + k_shunt s), s -> P_absorbed"),
    "tau_shunt_on_s": _pos("s", "shunting: rise time constant of s under light"),
    "tau_shunt_off_s": _pos("s", "shunting: fall time constant of s after light off"),
    "band_gap_ev": _pos("eV", "optical band gap E_g of the absorbing film"),
    "urbach_energy_ev": _pos("eV", "Urbach energy E_U of the absorption tail below E_g"),
    "alpha_gap_per_m": _pos("1/m", "absorption coefficient at the band gap"),
    "film_thickness_m": _pos("m", "thickness of the absorbing film"),
    "wavelength_ref_m": _pos("m", "wavelength at which the responsivity is 1 (powers refer to it)"),
}


_PRGO: dict[str, Any] = {
    "g_min_s": 0.476e-6,  # NeuroSim measured-device preset
    "g_max_s": 10e-6,  # NeuroSim measured-device preset
    "sigma_g_d2d": 0.1,  # physics.md d2d 10-30 %
    "g_unformed_s": 1e-9,  # assumed
    "g_short_s": 1e-3,  # assumed: 1 kOhm filament
    "a_plus": 0.02,  # assumed: ~200 reference pulses span the window
    "a_minus": 0.025,  # assumed: depression steeper, as NeuroSim's -4.9 vs +4.2
    "sigma_step_d2d": 0.3,  # aihwkit dw_min_dtod 0.3
    "sigma_c2c": 0.3,  # aihwkit dw_min_std 0.3
    "v_ref_v": 2.0,  # NeuroSim write pulse +-2 V
    "t_ref_s": 80e-9,  # NeuroSim write pulse 80 ns
    "v0_switch_v": 0.25,  # assumed
    "width_exponent": 0.5,  # assumed
    "v_th_v": 1.0,  # assumed: above the 0.5 V read, near V/2 of a write
    "sigma_v_th_v": 0.05,  # assumed
    "v_read_v": 0.5,  # NeuroSim read 0.5 V
    "v0_read_v": 1.0,  # assumed
    "read_width_s": 1e-6,  # assumed
    "sigma_read": 0.01,  # aihwkit ReRAM ~1 %
    "drift_law": "power",
    "drift_t0_s": 1.0,  # assumed
    "drift_nu": 0.01,  # physics.md nu 0.005-0.1, low end for RRAM
    "sigma_drift_nu": 0.005,  # assumed
    "drift_log_s": -0.089e-6,  # physics.md ReRAM mean shift -0.089 ln t uS
    "sigma_drift_log_s": 0.042e-6,  # physics.md sigma 0.042 ln t uS
    "stuck_fraction": 0.01,  # physics.md 0.1-13 %
    "stuck_on_share": 0.5,  # assumed
    "v_form_v": 3.0,  # assumed
    "sigma_v_form_v": 0.2,  # assumed
    "v_breakdown_v": 5.0,  # assumed
    "sigma_v_breakdown_v": 0.25,  # assumed
    "endurance_cycles": 1e6,  # assumed
    "sigma_endurance": 0.5,  # assumed
    "wear_exponent": 2.0,  # assumed
    "wear_center": 0.5,  # assumed
    "transistor_i_max_a": 100e-6,  # assumed
    "three_factor": False,
    "h_dark": 1.0,
    "p_half_w": 1e-4,
    "tau_e_s": 1.0,
    "gain_lp": 1.0,
    "tau_pl_s": 1.0,
    "gain_pl": 0.0,  # prGO: no pulse-then-light conversion
    "dg_full_fraction": 0.01,  # assumed
    "g_ph_ref_s": 0.0,  # prGO: no photoconductance modelled
    "p_ref_w": 1e-3,
    "gamma_ph": 1.0,
    "tau_on_s": 0.01,
    "tau_ph_s": 1.0,
    "k_shunt_per_w": 0.0,  # prGO: no shunting modelled
    "tau_shunt_on_s": 0.005,
    "tau_shunt_off_s": 0.05,
    "band_gap_ev": 2.0,
    "urbach_energy_ev": 0.06,
    "alpha_gap_per_m": 1e6,
    "film_thickness_m": 50e-9,
    "wavelength_ref_m": 635e-9,
}

_OPTO: dict[str, Any] = {
    **_PRGO,
    # Electrical part: amorphous-chalcogenide-like (Sarwat et al. 2022 give no numbers we could
    # use; every value below is a typical figure of the material class, marked in
    # docs/chip-model.md).
    "g_min_s": 0.2e-6,  # assumed: amorphous chalcogenide film, ~5 MOhm
    "g_max_s": 5e-6,  # assumed: ~200 kOhm, a window of ~25
    "a_plus": 0.03,  # assumed
    "a_minus": 0.03,  # assumed: symmetric steps
    "sigma_c2c": 0.2,  # assumed, within physics.md 5-50 %
    "v0_switch_v": 0.3,  # assumed
    "sigma_read": 0.01,  # physics.md 0.5-2 %
    "drift_nu": 0.01,  # PCM-class power law, low end of physics.md 0.005-0.1 (assumed)
    "sigma_drift_nu": 0.004,  # assumed
    "v_form_v": 2.5,  # assumed
    "v_breakdown_v": 4.0,  # assumed: thinner film than prGO
    "endurance_cycles": 1e5,  # assumed, low end of chalcogenide memories (1e5-1e9)
    # Optical hypothesis (physics.md "to be fitted"); values chosen inside its ranges.
    "three_factor": True,
    "h_dark": 0.001,  # assumed: h ~ 0 without light (physics.md)
    "p_half_w": 1e-4,  # assumed
    "tau_e_s": 1.0,  # assumed
    "gain_lp": 1.0,  # assumed
    "tau_pl_s": 0.5,  # assumed: its own time constant, shorter than tau_e
    "gain_pl": 0.6,  # assumed
    "g_ph_ref_s": 5e-6,  # assumed
    "p_ref_w": 1e-3,  # assumed
    "gamma_ph": 0.5,  # physics.md gamma 0.5-1
    "tau_on_s": 0.01,  # assumed
    "tau_ph_s": 1.0,  # physics.md tau_ph 0.1-10 s
    "k_shunt_per_w": 1e3,  # assumed: halves the current at 1 mW absorbed
    "tau_shunt_on_s": 0.005,  # assumed
    "tau_shunt_off_s": 0.05,  # assumed
    "band_gap_ev": 2.0,  # physics.md: ~2 eV for GeSe3-like films
    "urbach_energy_ev": 0.06,  # assumed, typical of chalcogenide glasses (50-100 meV)
    "alpha_gap_per_m": 1e6,  # assumed: 1e4 /cm, the usual definition of the optical gap E04
    "film_thickness_m": 50e-9,  # assumed
    "wavelength_ref_m": 635e-9,  # the default bench laser
}

PRESETS: dict[str, dict[str, Any]] = {"prgo": _PRGO, "optomemristor": _OPTO}
assert all(set(p) == set(PARAMETERS) for p in PRESETS.values())

#: The array a bench's chip of each family is unless its bench file says otherwise, and the bias
#: schemes a passive array gets unless told (docs/chip-model.md, "Arrays and bias schemes").
#: prGO devices are planar films in passive crossbars; the optomemristor stays 1T1R, as its
#: experiments (single-device XOR, three-factor learning, the maze) assume isolated devices.
FAMILY_ARRAYS: dict[str, dict[str, str]] = {
    "prgo": {"array": "passive", "bias_scheme": "v/3", "read_bias": "v/2-columns"},
    "optomemristor": {"array": "1t1r", "bias_scheme": "v/3", "read_bias": "v/2-columns"},
}
assert set(FAMILY_ARRAYS) == set(PRESETS)


def resolve_params(family: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The preset of ``family`` with ``overrides`` applied, every value checked."""
    if not isinstance(family, str) or family not in PRESETS:
        raise refuse("family", family, "one of " + ", ".join(map(repr, PRESETS)))
    params = copy.deepcopy(PRESETS[family])
    if overrides is not None:
        if not isinstance(overrides, dict):
            raise refuse("overrides", overrides, "a dict of parameters")
        for key, value in overrides.items():
            if key not in PARAMETERS:
                close = difflib.get_close_matches(str(key), PARAMETERS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                error = refuse("overrides", key, "one of " + ", ".join(PARAMETERS), "chip model's parameters")
                error.args = (f"overrides: unknown parameter {key!r}{hint}; allowed: " + ", ".join(PARAMETERS),)
                raise error
            params[key] = value
    for key, spec in PARAMETERS.items():
        params[key] = spec.check(key, params[key])
    if params["g_min_s"] >= params["g_max_s"]:
        raise refuse("parameter g_min_s", params["g_min_s"], f"below g_max_s={params['g_max_s']!r}")
    return params
