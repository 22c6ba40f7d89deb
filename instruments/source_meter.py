"""What the source-measure unit drivers share: ranges per instance, sourcing and pulse-train checks.

Each SMU driver declares the same settings under the same names (``source_function``,
``source_voltage``, ``source_current``, ``compliance_current``, ``compliance_voltage``, ``nplc``,
``output_state``) with its own commands; :class:`SourceMeterDriver` gives them the bench's limits
and the model's ranges per instance and implements the role's sourcing on top of them.
"""

from __future__ import annotations

from typing import ClassVar

from .checks import check_pulse_train
from .limits import Bound
from .plumbing import DriverMixin
from .roles import SourceMeter


class SourceMeterDriver(DriverMixin, SourceMeter):
    """Base of the SMU drivers: ``class Model(SourceMeterDriver, pymeasure_base)``."""

    min_compliance_v: ClassVar[float] = 0.02
    """Smallest voltage limit when sourcing current."""

    def nplc_range(self) -> tuple[float, float]:
        """Integration times the model takes, in power-line cycles."""
        raise NotImplementedError

    def apply_limits(self) -> None:
        limits, model = self.limits, f"{self.model} range"
        volts = Bound(-limits.max_voltage_v, limits.max_voltage_v, "safety limit (SafetyLimits.max_voltage_v)", "V")
        amps = Bound(-limits.max_current_a, limits.max_current_a, "safety limit (SafetyLimits.max_current_a)", "A")
        self.set_bounds("source_voltage", (volts, Bound(-self.max_voltage_v, self.max_voltage_v, model, "V")))
        self.set_bounds("source_current", (amps, Bound(-self.max_current_a, self.max_current_a, model, "A")))
        self.set_bounds("compliance_current", (
            Bound(0.0, limits.max_current_a, "safety limit (SafetyLimits.max_current_a)", "A", above_low=True),
            Bound(self.min_compliance_a, self.max_current_a, model, "A")))
        self.set_bounds("compliance_voltage", (
            Bound(0.0, limits.max_voltage_v, "safety limit (SafetyLimits.max_voltage_v)", "V", above_low=True),
            Bound(self.min_compliance_v, self.max_voltage_v, model, "V")))
        self.set_bounds("nplc", (Bound(*self.nplc_range(), model),))

    def set_voltage(self, voltage_v: float, compliance_a: float) -> None:
        value = self.check("voltage_v", voltage_v, "source_voltage")
        compliance = self.check("compliance_a", compliance_a, "compliance_current")
        self.source_function = "voltage"
        self.compliance_current = compliance
        self.source_voltage = value

    def set_current(self, current_a: float, compliance_v: float) -> None:
        value = self.check("current_a", current_a, "source_current")
        compliance = self.check("compliance_v", compliance_v, "compliance_voltage")
        self.source_function = "current"
        self.compliance_voltage = compliance
        self.source_current = value

    def _pulse_train(self, level_v: float, width_s: float, period_s: float, count: int, base_v: float,
                     compliance_a: float) -> tuple[float, float, float, float, int, float]:
        """(level, width, period, base, count, compliance) of a pulse train, every value checked."""
        level, width, period, base, n = check_pulse_train(self.limits, level_v, width_s, period_s, count, base_v)
        self.check("level_v", level, "source_voltage")
        self.check("base_v", base, "source_voltage")
        return level, width, period, base, n, self.check("compliance_a", compliance_a, "compliance_current")
