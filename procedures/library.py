"""Imports every built-in procedure module so each registers itself."""

from procedures import clock_check, iv_sweep, potentiation, readout, write_verify  # noqa: F401
from procedures import endurance, forming, pulsed_iv, retention, switching  # noqa: F401
from procedures import optical, relaxation, three_factor, vmm, xor  # noqa: F401
