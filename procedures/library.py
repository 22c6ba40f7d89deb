"""Imports every built-in procedure module so each registers itself."""

from memlab.procedures import clock_check, iv_sweep, potentiation, readout, write_verify  # noqa: F401
from memlab.procedures import endurance, forming, pulsed_iv, retention, switching  # noqa: F401
from memlab.procedures import optical, relaxation, three_factor, vmm, xor  # noqa: F401
from memlab.procedures import crossbar_infer, crossbar_train, maze_rl  # noqa: F401
