"""The driver interface in one import, for code written before it was split.

The pieces live in cohesive modules; import from them in new code:

- :mod:`memlab.instruments.roles`: the roles and their capabilities (SourceMeter, PulseGenerator,
  LightSource, SwitchMatrix, PowerMeter; Output, ...), SweepResult;
- :mod:`memlab.instruments.wiring`: CrossbarWiring;
- :mod:`memlab.instruments.plumbing`: DriverMixin, declared settings, InstrumentError, registration;
- :mod:`memlab.instruments.checks` and :mod:`memlab.instruments.limits`: the range checks.
"""

from __future__ import annotations

from .checks import check_line_frequency, check_pulse_train, pulse_aperture, sweep_voltages
from .plumbing import (
    DEFAULT_TIMEOUT_MS,
    MAX_QUEUED_ERRORS,
    DriverMixin,
    InstrumentConnectionError,
    InstrumentError,
    fmt,
)
from .roles import (
    InstrumentRole,
    LightSource,
    Output,
    PowerMeter,
    PulseGenerator,
    SourceMeter,
    SweepResult,
    SwitchMatrix,
)
from .wiring import CrossbarWiring, WiringError

__all__ = [
    "DEFAULT_TIMEOUT_MS", "MAX_QUEUED_ERRORS", "CrossbarWiring", "DriverMixin", "InstrumentConnectionError",
    "InstrumentError", "InstrumentRole", "LightSource", "Output", "PowerMeter", "PulseGenerator", "SourceMeter",
    "SweepResult", "SwitchMatrix", "WiringError", "check_line_frequency", "check_pulse_train", "fmt",
    "pulse_aperture", "sweep_voltages",
]
