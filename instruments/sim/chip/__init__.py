"""The simulated memristor chip (see docs/chip-model.md).

``Chip`` is the model; ``PRESETS`` the device families ("prgo", "optomemristor") with every
default parameter, ``PARAMETERS`` what each parameter means and allows.
"""

from memlab.instruments.sim.chip.model import ARRAYS, BIAS_SCHEMES, FAULT_KINDS, Chip
from memlab.instruments.sim.chip.presets import PARAMETERS, PRESETS, ParamSpec, resolve_params

__all__ = [
    "ARRAYS",
    "BIAS_SCHEMES",
    "Chip",
    "FAULT_KINDS",
    "PARAMETERS",
    "PRESETS",
    "ParamSpec",
    "resolve_params",
]
