"""Imports every built-in procedure module so each registers itself."""

from procedures import clock_check, iv_sweep, potentiation, readout, write_verify  # noqa: F401
