"""The simulated memristor chip (see docs/chip-model.md).

``Chip`` is the model; ``PRESETS`` the device families ("prgo", "optomemristor") with every
default parameter, ``PARAMETERS`` what each parameter means and allows. The model's modules:
``laws`` (electrical laws), ``optics`` (optical laws, light history, eligibility), ``state``
(per-device state and faults), ``bias`` (passive arrays), ``read_cache``, ``validation``,
``sequences`` (pulse trains) and ``model`` (programming and the public API).
"""

from memlab.instruments.sim.chip.bias import ARRAYS, BIAS_SCHEMES
from memlab.instruments.sim.chip.model import Chip
from memlab.instruments.sim.chip.presets import PARAMETERS, PRESETS, ParamSpec, resolve_params
from memlab.instruments.sim.chip.state import FAULT_KINDS
from memlab.instruments.sim.chip.validation import ChipInputError

__all__ = [
    "ARRAYS",
    "BIAS_SCHEMES",
    "Chip",
    "ChipInputError",
    "FAULT_KINDS",
    "PARAMETERS",
    "PRESETS",
    "ParamSpec",
    "resolve_params",
]
