"""What the source-measure unit drivers share: ranges per instance, sourcing and pulse-train checks.

Each SMU driver declares the same settings under the same names (``source_function``,
``source_voltage``, ``source_current``, ``compliance_current``, ``compliance_voltage``, ``nplc``,
``output_state``) with its own commands; :class:`SourceMeterDriver` gives them the bench's limits
and the model's ranges per instance and implements the role's sourcing on top of them.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from .checks import check_pulse_train
from .limits import Bound, within
from .plumbing import (
    DriverMixin,
    InstrumentConnectionError,
    InstrumentError,
    Setting,
    as_flag,
    choice,
    control,
    flag,
    fmt,
    number,
    on_off,
)
from .roles import SourceMeter

Commands = tuple[str, str]
"""(query, setting) command templates; ``%s`` is the value, ``{ch}``-style fields the channel."""


def source_meter_settings(*, function: Commands, function_values: dict[str, str], voltage: Commands,
                          current: Commands, compliance_current: Commands, compliance_voltage: Commands,
                          nplc: Commands, output: Commands) -> tuple[Setting, ...]:
    """The settings every SMU driver declares, with its model's commands:
    ``source_function, source_voltage, source_current, compliance_current, compliance_voltage,
    nplc, output_state``. Their ranges are set per instance by :meth:`SourceMeterDriver.apply_limits`."""

    def number_setting(commands: Commands, docs: str, key: str) -> Setting:
        return control(*commands, docs, key=key, validator=within(key), set_process=fmt, get_process=number)

    return (
        control(*function, "Control what is sourced: 'voltage' or 'current'.", validator=choice("source_function"),
                values=function_values, map_values=True, cast=str,
                get_process=lambda reply: str(reply).strip().split(":")[0]),
        number_setting(voltage, "Control the source voltage (V), within the safety limit and the model range.",
                       "voltage_v"),
        number_setting(current, "Control the source current (A), within the safety limit and the model range.",
                       "current_a"),
        number_setting(compliance_current, "Control the current limit while sourcing voltage (A).", "compliance_a"),
        number_setting(compliance_voltage, "Control the voltage limit while sourcing current (V).", "compliance_v"),
        control(*nplc, "Control the integration time of current readings, in power-line cycles.",
                validator=within("nplc"), set_process=fmt, get_process=number),
        control(*output, "Control the output (True: on); reading asks the instrument, every time.",
                key="output", validator=flag("output"), set_process=on_off, get_process=as_flag),
    )


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

    def _run_and_fetch(self, start: str, abort: str, expected_s: float, restore: Callable[[], None],
                       fetch: str, n: int) -> np.ndarray:
        """Output on, ``start`` the sequence loaded in the instrument and wait for it (``*OPC?``,
        allowing twice ``expected_s``); then ``restore`` the DC state, output off, and ``fetch`` the
        ``n`` points of three values each at once. Any failure while it runs sends ``abort`` and
        switches the output off before the error goes up; a timeout is explained by the error queue."""
        self.output_on()
        try:
            with self._allow(2.0 * expected_s + 1.0):  # the start and the wait for its end: one message
                self.ask(f"{start};*OPC?")  # type: ignore[attr-defined]
        except InstrumentConnectionError as exc:
            self._quietly(lambda: self.write(abort), self.output_off)
            raise self._diagnosed(exc) from exc
        except BaseException:
            self._quietly(lambda: self.write(abort), self.output_off)
            raise
        restore()
        self.output_off()
        reply = self.ask(fetch)  # type: ignore[attr-defined]
        self.check_errors()
        try:
            data = np.array(reply.strip().split(","), dtype=np.float64)
        except ValueError:
            raise InstrumentError(self.label(), f"unparsable data: {reply[:80]!r}...") from None
        if data.size != 3 * n:
            raise InstrumentError(self.label(), f"returned {data.size} values, expected {3 * n} (3 x {n} points)")
        return data.reshape(n, 3)
