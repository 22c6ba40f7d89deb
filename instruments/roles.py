"""The roles an instrument fills on a bench, as small capabilities procedures may rely on.

Procedures speak only to these roles (:class:`SourceMeter`, :class:`PulseGenerator`,
:class:`LightSource`, :class:`SwitchMatrix`, :class:`PowerMeter`); each real driver maps a role onto
one instrument model's commands, and a simulated twin under ``instruments/sim/`` answers those very
commands. A role is the sum of capabilities:

- :class:`InstrumentRole`: ``identity()``, ``shutdown()``, ``snapshot()`` (every instrument);
- :class:`Output`: one output switched on and off (SMU, pulse generator, laser), written once here;
- :class:`Sourcing`, :class:`Measuring`, :class:`Sweeping`: what a source-measure unit does;
- :class:`Pulsing`: a triggered pulse burst; :class:`Emitting`: optical power from a laser;
- :class:`Routing`: a relay matrix; :class:`PowerReading`: an optical power meter.

Units are SI throughout (V, A, s, W, m, Hz); names carry them. Bad input raises
:class:`~memlab.instruments.limits.LimitError` before anything is sent; an instrument that reports an
error raises :class:`~memlab.instruments.plumbing.InstrumentError` carrying its own message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from .calibration import LaserCalibration
from .limits import SafetyLimits
from .wiring import CrossbarWiring


@dataclass(frozen=True, eq=False)
class SweepResult:
    """What a list sweep or a pulse train measured: one row per measured point.

    ``source_v``: the sourced level (V); ``current_a``: the measured current (A);
    ``time_s``: seconds since the first point, from the instrument's own timestamps.
    """

    source_v: np.ndarray
    current_a: np.ndarray
    time_s: np.ndarray

    def __post_init__(self) -> None:
        arrays = [np.asarray(getattr(self, name), dtype=np.float64) for name in ("source_v", "current_a", "time_s")]
        if any(a.ndim != 1 for a in arrays) or len({a.size for a in arrays}) != 1:
            raise ValueError(
                "SweepResult: source_v, current_a and time_s must be 1-D arrays of one length, got shapes "
                f"{[a.shape for a in arrays]}"
            )
        for name, array in zip(("source_v", "current_a", "time_s"), arrays):
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return int(self.source_v.size)


class InstrumentRole(ABC):
    """What every instrument of a bench offers. ``limits`` are the bench's safety limits."""

    limits: SafetyLimits

    @abstractmethod
    def identity(self) -> str:
        """The identification string the instrument reports (``*IDN?``)."""

    @abstractmethod
    def shutdown(self) -> None:
        """Safe state: sources at 0, outputs off, laser off, relays open. Never raises for an
        instrument already off; raises InstrumentError only if the instrument cannot be reached."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """``{"model", "identity", "address", "simulated", "settings", "limits"}`` for the run file."""


class Output(ABC):
    """One output switched on and off: the SMU's output, the generator's channel, the laser.

    A driver declares ``output_state`` (a pymeasure control: reading it asks the instrument,
    setting it switches). :meth:`output_enabled` always asks the instrument, never a cached value:
    safe shutdown verifies the off state with it.
    """

    @property
    @abstractmethod
    def output_state(self) -> bool:
        """The output as the instrument reports it; setting it switches the output."""

    @output_state.setter
    @abstractmethod
    def output_state(self, on: bool) -> None: ...

    def ready_for_output(self) -> None:
        """Refuse (InstrumentError) to switch on while the instrument reports an error."""
        self.check_errors()  # type: ignore[attr-defined]

    def output_on(self) -> None:
        """Switch the output on (after :meth:`ready_for_output`)."""
        self.ready_for_output()
        self.output_state = True

    def output_off(self) -> None:
        """Switch the output off."""
        self.output_state = False

    def output_enabled(self) -> bool:
        """Whether the output is on, as the instrument reports it (a query every time)."""
        return bool(self.output_state)


class Sourcing(ABC):
    """Sources a voltage or a current under a compliance. Compliance is always programmed before
    the level, and both before the output goes on."""

    @abstractmethod
    def set_voltage(self, voltage_v: float, compliance_a: float) -> None:
        """Source ``voltage_v`` with current compliance ``compliance_a`` (> 0); the output state is unchanged."""

    @abstractmethod
    def set_current(self, current_a: float, compliance_v: float) -> None:
        """Source ``current_a`` with voltage compliance ``compliance_v`` (> 0); the output state is unchanged."""


class Measuring(ABC):
    """Measures current and voltage with a set integration time."""

    @abstractmethod
    def measure_current_a(self) -> float:
        """One current reading, in amperes."""

    @abstractmethod
    def measure_voltage_v(self) -> float:
        """One voltage reading, in volts."""

    @property
    @abstractmethod
    def nplc(self) -> float:
        """Integration time of current measurements, in power-line cycles."""

    @nplc.setter
    @abstractmethod
    def nplc(self, value: float) -> None: ...


class Sweeping(ABC):
    """Runs voltage lists and pulse trains inside the instrument and fetches them in one go."""

    max_sweep_points: ClassVar[int]
    """Longest voltage list :meth:`list_sweep` accepts on this model."""

    @abstractmethod
    def list_sweep(
        self, voltages_v: Sequence[float] | np.ndarray, compliance_a: float, nplc: float, delay_s: float = 0.0
    ) -> SweepResult:
        """Source each voltage in turn and measure the current at each, inside the instrument.

        The list is loaded into the instrument, run into its buffer (``delay_s`` settling before each
        measurement, integration ``nplc``) and read back with one bulk fetch. The output is switched on
        for the sweep; afterwards the source is at 0 V and the output off. ``nplc`` stays set.
        """

    @abstractmethod
    def pulse(
        self,
        level_v: float,
        width_s: float,
        period_s: float,
        count: int,
        base_v: float = 0.0,
        *,
        compliance_a: float,
    ) -> SweepResult:
        """``count`` voltage pulses from ``base_v`` to ``level_v``, each measured once during the pulse.

        One row per pulse. The measurement integrates over part of the pulse (an aperture of at most half
        the width and at most one power-line cycle); models that cannot time arbitrary periods say so with
        a LimitError naming ``period_s``. Afterwards the source is at 0 V and the output off.
        """


class SourceMeter(InstrumentRole, Output, Sourcing, Measuring, Sweeping):
    """A source-measure unit (one channel). Volts, amperes, seconds."""

    model: ClassVar[str]
    max_voltage_v: ClassVar[float]
    max_current_a: ClassVar[float]
    min_compliance_a: ClassVar[float] = 1e-9
    """The model's source range and smallest current limit, checked after the bench's limits."""


class Pulsing(ABC):
    """A triggered burst of voltage pulses."""

    @abstractmethod
    def configure_pulse(
        self,
        level_v: float,
        width_s: float,
        period_s: float,
        edge_s: float | None = None,
        burst_count: int = 1,
        base_v: float = 0.0,
    ) -> None:
        """``burst_count`` pulses per trigger, one every ``period_s``: each takes the output from
        ``base_v`` to ``level_v`` for ``width_s`` and back. Between pulses and between bursts the
        output sits at ``base_v``.

        The sign of ``level_v - base_v`` is the pulse's polarity: ``configure_pulse(2.0, ...)`` is a
        +2 V SET pulse from 0 V, ``configure_pulse(-1.5, ...)`` a -1.5 V RESET pulse from 0 V (the
        generator inverts its output for it; the device never sees -1.5 V between pulses).
        ``level_v`` must differ from ``base_v`` by the model's minimum amplitude.

        ``edge_s`` sets both edges (None: leave the instrument's edge time as it is). If the output
        is on and the polarity changes, the output is switched off while the generator is
        reprogrammed and on again afterwards.
        """

    @abstractmethod
    def trigger(self) -> None:
        """Fire one burst and return when it is over. The output must be on."""

    def fire_burst(self) -> None:
        """Switch the output on, fire one burst, switch it off (also when the burst fails): for a
        generator that shares the device with another source. Drivers may do it in fewer messages."""
        self.output_on()  # type: ignore[attr-defined]
        try:
            self.trigger()
        finally:
            self.output_off()  # type: ignore[attr-defined]


class PulseGenerator(InstrumentRole, Output, Pulsing):
    """A pulse generator channel, in triggered-burst mode. Volts and seconds.

    Levels are what the device sees (the driver programs the generator's expected load from the
    bench's termination, so that they are)."""


class Emitting(ABC):
    """Optical power from a laser diode, set through a :class:`LaserCalibration`."""

    calibration: LaserCalibration

    @property
    @abstractmethod
    def wavelength_m(self) -> float:
        """Emission wavelength, in metres (fixed by a laser diode; selectable on a tunable or
        multi-line head through :meth:`set_wavelength`)."""

    @property
    @abstractmethod
    def tunable(self) -> bool:
        """True when :meth:`set_wavelength` can select another wavelength."""

    @abstractmethod
    def check_wavelength(self, wavelength_m: float, parameter: str = "wavelength_m") -> float:
        """The wavelength :meth:`set_wavelength` would select for ``wavelength_m`` (a multi-line head
        snaps to its line), sending nothing; LimitError naming ``parameter`` if it cannot emit it."""

    @abstractmethod
    def set_wavelength(self, wavelength_m: float) -> None:
        """Select the emission wavelength; a fixed diode accepts only its own (LimitError otherwise)."""

    @abstractmethod
    def set_power(self, power_w: float) -> None:
        """Set the optical power (through the diode current of the calibration); 0 W sets 0 A."""

    @abstractmethod
    def pulse(self, power_w: float, width_s: float, period_s: float, count: int) -> None:
        """``count`` optical pulses of ``power_w``, ``width_s`` long every ``period_s``; returns when done,
        with the laser off."""

    @abstractmethod
    def set_modulation(self, enabled: bool, frequency_hz: float | None = None, depth: float | None = None) -> None:
        """Amplitude modulation. Internal: give ``frequency_hz`` and ``depth`` (0..1 of the set power);
        external input: leave both None. ``enabled=False`` switches modulation off."""

    @abstractmethod
    def interlock_ok(self) -> bool:
        """True when no interlock, key lock or protection is tripped (the laser may be switched on)."""


class LightSource(InstrumentRole, Output, Emitting):
    """A laser diode controller. Optical power in watts via a :class:`LaserCalibration`; metres; hertz.
    Switching on refuses with InstrumentError if an interlock is open or an error is pending."""


class Routing(ABC):
    """Relays routing instrument terminals to chip devices, per a :class:`CrossbarWiring`."""

    wiring: CrossbarWiring

    @abstractmethod
    def connect(self, terminal: str, row: int, col: int) -> None:
        """Route ``terminal`` (e.g. ``"smu"``) to device ``(row, col)``, releasing that terminal's previous
        device. Refuses (before switching) if a pad needed is held by another terminal. Switch with the
        sources off: hot switching wears the relays and can spike the device."""

    @abstractmethod
    def join(self, terminals: Sequence[str], row: int, col: int) -> None:
        """Route every terminal of ``terminals`` to device ``(row, col)`` at once, releasing their previous
        device (shared or bias-tee routing only; refuses with exclusive routing). Nothing switches when
        they are already there. The instruments behind all but one terminal must idle with their outputs
        off (high impedance) while another drives the device."""

    @abstractmethod
    def disconnect(self, terminal: str, *more: str) -> None:
        """Open every channel of ``terminal`` (and of the ``more`` terminals), in one operation."""

    @abstractmethod
    def open_all(self) -> None:
        """Open every relay."""

    @abstractmethod
    def closed(self) -> list[str]:
        """The closed channels, as the instrument reports them (e.g. ``["1A01", "1B05"]``)."""


class SwitchMatrix(InstrumentRole, Routing):
    """A relay matrix routing instrument terminals to chip devices."""


class PowerReading(ABC):
    """Optical power readings, corrected for a wavelength."""

    @property
    @abstractmethod
    def wavelength_m(self) -> float:
        """Wavelength the sensor's responsivity is corrected for, in metres."""

    @wavelength_m.setter
    @abstractmethod
    def wavelength_m(self, value: float) -> None: ...

    @abstractmethod
    def read_power_w(self) -> float:
        """One power reading, in watts."""


class PowerMeter(InstrumentRole, PowerReading):
    """An optical power meter. Watts and metres."""


ROLES: dict[str, type[InstrumentRole]] = {
    "smu": SourceMeter,
    "pulser": PulseGenerator,
    "laser": LightSource,
    "switch": SwitchMatrix,
    "power_meter": PowerMeter,
}
"""Bench role name -> the interface its driver implements, in the order instruments are opened."""
