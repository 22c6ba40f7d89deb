"""The driver interface: what procedures may ask of an instrument, whatever its model.

Procedures speak only to the roles below (:class:`SourceMeter`, :class:`PulseGenerator`,
:class:`LightSource`, :class:`SwitchMatrix`, :class:`PowerMeter`); each real driver maps a role
onto one instrument model's commands, and a simulated twin under ``instruments/sim/`` answers
those very commands. Units are SI throughout (V, A, s, W, m, Hz); names carry them.

Every role has

- ``identity() -> str``: the instrument's identification string (``*IDN?``);
- ``shutdown() -> None``: bring it to a safe state (sources at 0 and outputs off, laser off,
  relays open). It never raises for an instrument that is already off; it tries every step and
  raises :class:`InstrumentError` at the end only if the instrument could not be reached;
- ``snapshot() -> dict``: model, identity, address, simulated (True/False/None when unknown),
  the settings this driver last programmed, and the safety limits - stored in the run file.

Errors: bad input raises :class:`~instruments.limits.LimitError` (a ``ValueError``) before
anything is sent; an instrument that reports an error raises :class:`InstrumentError` carrying its
own message; a timeout or dead connection raises :class:`InstrumentConnectionError` naming the
instrument.

This module also holds :class:`DriverMixin`, the plumbing shared by the pymeasure-based drivers
(error-queue checks, connection errors, snapshots), and :class:`CrossbarWiring`, the bench's map
from chip devices to switch-matrix channels.
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

import numpy as np

from .calibration import LaserCalibration
from .limits import LimitError, SafetyLimits, as_number, require_int, require_range

log = logging.getLogger(__name__)

try:  # pyvisa's errors are what a VISA timeout or a dropped session raise.
    from pyvisa.errors import Error as _VisaError
    from pyvisa.errors import VisaIOError as _VisaIOError
    from pyvisa.constants import StatusCode as _StatusCode

    _COMM_ERRORS: tuple[type[BaseException], ...] = (OSError, _VisaError)
except ImportError:  # pragma: no cover - pyvisa is a dependency; keep the module importable without it
    _VisaIOError = None  # type: ignore[assignment,misc]
    _StatusCode = None  # type: ignore[assignment]
    _COMM_ERRORS = (OSError,)

DEFAULT_TIMEOUT_MS = 5000
"""Timeout given to a VISA connection that has none (pyvisa's ``None`` means wait forever)."""

MAX_QUEUED_ERRORS = 64
"""A broken instrument could answer errors forever; stop reading its queue after this many."""


class InstrumentError(RuntimeError):
    """An instrument refused a command or reported an error; carries the instrument's own messages."""

    def __init__(self, instrument: str, message: str, errors: Sequence[tuple[int, str]] = ()) -> None:
        self.instrument = instrument
        self.errors = list(errors)
        super().__init__(f"{instrument}: {message}")


class InstrumentConnectionError(InstrumentError):
    """The instrument did not answer in time, or the connection to it is gone."""


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


_PAD = re.compile(r"^[1-9][0-9]{2}$")
_LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class CrossbarWiring:
    """How a switch matrix joins instrument terminals to the devices of a crossbar chip.

    A terminal (``"smu"``, ``"pulse"``, ...) is wired to two matrix *rows* (letters ``A``..``H``):
    its HI side to the first, its LO side to the second. Every chip row line and chip column line
    is wired to one matrix *column*, called a pad and written ``"<slot><two-digit column>"``
    (``"101"`` = slot 1, column 1). Connecting terminal ``t`` to device ``(row, col)`` closes
    ``<slot><HI letter><column>`` at the pad of chip row ``row`` and ``<slot><LO letter><column>``
    at the pad of chip column ``col`` - channel names as the Keithley 707B/708B spell them
    (``"1A01"``).

    The default (:meth:`default`): ``smu`` on rows A (HI) / B (LO), ``pulse`` on C / D; chip rows on
    pads 1, 2, ... and chip columns on the pads after them, 12 pads per card, slot 1 first
    (a 4 x 4 chip: rows on ``101``..``104``, columns on ``105``..``108``).
    """

    terminals: Mapping[str, tuple[str, str]]
    row_pads: tuple[str, ...]
    col_pads: tuple[str, ...]

    def __post_init__(self) -> None:
        terminals = {str(name): tuple(letters) for name, letters in dict(self.terminals).items()}
        if not terminals:
            raise ValueError("CrossbarWiring: terminals is empty; wire at least one instrument terminal")
        used: dict[str, str] = {}
        for name, letters in terminals.items():
            if len(letters) != 2 or any(letter not in _LETTERS for letter in letters) or letters[0] == letters[1]:
                raise ValueError(
                    f"CrossbarWiring: terminals[{name!r}]={letters!r}: give two different matrix row letters "
                    f"from {_LETTERS} (HI, LO)"
                )
            for letter in letters:
                if letter in used:
                    raise ValueError(
                        f"CrossbarWiring: matrix row {letter} is wired to both {used[letter]!r} and {name!r}"
                    )
                used[letter] = name
        row_pads = tuple(str(p) for p in self.row_pads)
        col_pads = tuple(str(p) for p in self.col_pads)
        if not row_pads or not col_pads:
            raise ValueError("CrossbarWiring: row_pads and col_pads must each name at least one pad")
        for pad in row_pads + col_pads:
            if not _PAD.match(pad) or not 1 <= int(pad[1:]) <= 99:
                raise ValueError(f"CrossbarWiring: pad {pad!r} must be '<slot 1-9><column 01-99>', e.g. '101'")
        if len(set(row_pads + col_pads)) != len(row_pads) + len(col_pads):
            raise ValueError("CrossbarWiring: a pad is wired to more than one chip line")
        object.__setattr__(self, "terminals", terminals)
        object.__setattr__(self, "row_pads", row_pads)
        object.__setattr__(self, "col_pads", col_pads)

    @classmethod
    def default(
        cls,
        rows: int,
        cols: int,
        terminals: Mapping[str, tuple[str, str]] | None = None,
        columns_per_card: int = 12,
        slots: int = 6,
    ) -> "CrossbarWiring":
        """Chip rows then chip columns on consecutive pads, ``columns_per_card`` per slot."""
        rows = require_int("rows", rows, 1, 10_000)
        cols = require_int("cols", cols, 1, 10_000)
        if rows + cols > columns_per_card * slots:
            raise ValueError(
                f"CrossbarWiring.default: a {rows} x {cols} chip needs {rows + cols} matrix columns, the matrix "
                f"has {columns_per_card * slots} ({slots} slots x {columns_per_card}); give row_pads/col_pads"
            )
        pads = [f"{1 + k // columns_per_card}{k % columns_per_card + 1:02d}" for k in range(rows + cols)]
        return cls(
            terminals=dict(terminals) if terminals is not None else {"smu": ("A", "B"), "pulse": ("C", "D")},
            row_pads=tuple(pads[:rows]),
            col_pads=tuple(pads[rows:]),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "CrossbarWiring":
        """From a bench-file table with keys ``terminals``, ``row_pads``, ``col_pads``."""
        unknown = sorted(set(data) - {"terminals", "row_pads", "col_pads"})
        if unknown:
            raise ValueError(f"wiring: unknown key(s) {unknown}; allowed: terminals, row_pads, col_pads")
        try:
            return cls(
                terminals={k: tuple(v) for k, v in dict(data["terminals"]).items()},
                row_pads=tuple(data["row_pads"]),
                col_pads=tuple(data["col_pads"]),
            )
        except KeyError as exc:
            raise ValueError(f"wiring: missing key {exc.args[0]!r} (need terminals, row_pads, col_pads)") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "terminals": {k: list(v) for k, v in self.terminals.items()},
            "row_pads": list(self.row_pads),
            "col_pads": list(self.col_pads),
        }

    def channels(self, terminal: str, row: int, col: int) -> tuple[str, str]:
        """The two channels that join ``terminal`` to device ``(row, col)``: (HI at the row, LO at the col)."""
        if terminal not in self.terminals:
            raise ValueError(f"terminal={terminal!r} is not wired; wired terminals: {sorted(self.terminals)}")
        row = require_int("row", row, 0, len(self.row_pads) - 1, "wired chip rows")
        col = require_int("col", col, 0, len(self.col_pads) - 1, "wired chip columns")
        hi, lo = self.terminals[terminal]
        row_pad, col_pad = self.row_pads[row], self.col_pads[col]
        return f"{row_pad[0]}{hi}{row_pad[1:]}", f"{col_pad[0]}{lo}{col_pad[1:]}"

    def terminal_of(self, channel: str) -> str | None:
        """The terminal wired to a channel's matrix row, or None if no terminal uses that row."""
        for name, letters in self.terminals.items():
            if len(channel) >= 2 and channel[1] in letters:
                return name
        return None

    @staticmethod
    def pad_of(channel: str) -> str:
        """The pad (matrix column) of a channel: ``"1A05"`` -> ``"105"``."""
        return channel[0] + channel[2:]


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


class SourceMeter(InstrumentRole):
    """A source-measure unit (one channel). Volts, amperes, seconds.

    Compliance is always programmed before the level, and both before the output goes on.
    """

    max_sweep_points: ClassVar[int]
    """Longest voltage list :meth:`list_sweep` accepts on this model."""
    model: ClassVar[str]
    max_voltage_v: ClassVar[float]
    max_current_a: ClassVar[float]
    min_compliance_a: ClassVar[float] = 1e-9
    """The model's source range and smallest current limit, checked after the bench's limits."""

    def _voltage(self, voltage_v: float, parameter: str) -> float:
        """``voltage_v`` within the bench's safety limit and the model's range, or LimitError."""
        value = self.limits.check_voltage(voltage_v, parameter)
        return require_range(parameter, value, -self.max_voltage_v, self.max_voltage_v, "V", f"{self.model} range")

    def _compliance_a(self, compliance_a: float) -> float:
        """``compliance_a`` within the bench's safety limit and the model's range, or LimitError."""
        value = self.limits.check_compliance(compliance_a)
        return require_range("compliance_a", value, self.min_compliance_a, self.max_current_a, "A",
                             f"{self.model} range")

    def _pulse_train(self, level_v: float, width_s: float, period_s: float, count: int, base_v: float,
                     compliance_a: float) -> tuple[float, float, float, float, int, float]:
        """(level, width, period, base, count, compliance) of a pulse train, every value checked."""
        level, width, period, base, n = check_pulse_train(self.limits, level_v, width_s, period_s, count, base_v)
        self._voltage(level, "level_v")
        self._voltage(base, "base_v")
        return level, width, period, base, n, self._compliance_a(compliance_a)

    @abstractmethod
    def set_voltage(self, voltage_v: float, compliance_a: float) -> None:
        """Source ``voltage_v`` with current compliance ``compliance_a`` (> 0); the output state is unchanged."""

    @abstractmethod
    def set_current(self, current_a: float, compliance_v: float) -> None:
        """Source ``current_a`` with voltage compliance ``compliance_v`` (> 0); the output state is unchanged."""

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

    @abstractmethod
    def output_on(self) -> None:
        """Switch the output on (after checking the instrument reports no pending error)."""

    @abstractmethod
    def output_off(self) -> None:
        """Switch the output off."""

    @abstractmethod
    def output_enabled(self) -> bool:
        """Whether the output is on, as the instrument reports it."""

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


class PulseGenerator(InstrumentRole):
    """A pulse generator channel, in triggered-burst mode. Volts and seconds.

    Levels are what the device sees (the driver programs the generator's expected load from the
    bench's termination, so that they are)."""

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

    @abstractmethod
    def output_on(self) -> None:
        """Switch the output on (after checking the instrument reports no pending error)."""

    @abstractmethod
    def output_off(self) -> None:
        """Switch the output off."""

    @abstractmethod
    def output_enabled(self) -> bool:
        """Whether the output is on, as the instrument reports it."""


class LightSource(InstrumentRole):
    """A laser diode controller. Optical power in watts via a :class:`LaserCalibration`; metres; hertz."""

    calibration: LaserCalibration

    @property
    @abstractmethod
    def wavelength_m(self) -> float:
        """Emission wavelength, in metres (read-only for a laser diode: fixed by the diode)."""

    @abstractmethod
    def set_power(self, power_w: float) -> None:
        """Set the optical power (through the diode current of the calibration); 0 W sets 0 A."""

    @abstractmethod
    def output_on(self) -> None:
        """Laser on; refuses with InstrumentError if an interlock is open or an error is pending."""

    @abstractmethod
    def output_off(self) -> None:
        """Laser off."""

    @abstractmethod
    def output_enabled(self) -> bool:
        """Whether the laser output is on, as the controller reports it."""

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


class SwitchMatrix(InstrumentRole):
    """A relay matrix routing instrument terminals to chip devices, per a :class:`CrossbarWiring`."""

    wiring: CrossbarWiring

    @abstractmethod
    def connect(self, terminal: str, row: int, col: int) -> None:
        """Route ``terminal`` (e.g. ``"smu"``) to device ``(row, col)``, releasing that terminal's previous
        device. Refuses (before switching) if a pad needed is held by another terminal. Switch with the
        sources off: hot switching wears the relays and can spike the device."""

    @abstractmethod
    def disconnect(self, terminal: str) -> None:
        """Open every channel of ``terminal``."""

    @abstractmethod
    def open_all(self) -> None:
        """Open every relay."""

    @abstractmethod
    def closed(self) -> list[str]:
        """The closed channels, as the instrument reports them (e.g. ``["1A01", "1B05"]``)."""


class PowerMeter(InstrumentRole):
    """An optical power meter. Watts and metres."""

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


def fmt(value: float) -> str:
    """A number as drivers send it: up to 9 significant digits, no trailing zeros (``0.001``, ``1e-09``)."""
    return format(float(value), ".9g")


def sweep_voltages(
    limits: SafetyLimits, voltages_v: Sequence[float] | np.ndarray, max_points: int, max_voltage_v: float, model: str
) -> np.ndarray:
    """``voltages_v`` as a float array, checked against the safety limits, the model's range and list length."""
    try:
        voltages = np.asarray(voltages_v, dtype=np.float64)
    except (TypeError, ValueError):
        raise LimitError("voltages_v", voltages_v, "a 1-D sequence of numbers", "numbers") from None
    if voltages.ndim != 1 or not 1 <= voltages.size <= max_points:
        raise LimitError(
            "voltages_v", f"<{voltages.size} values, shape {voltages.shape}>", f"1 .. {max_points} values",
            f"{model} list length",
        )
    bad = ~np.isfinite(voltages) | (np.abs(voltages) > min(limits.max_voltage_v, max_voltage_v))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        parameter = f"voltages_v[{index}]"
        limits.check_voltage(voltages[index], parameter)
        require_range(parameter, voltages[index], -max_voltage_v, max_voltage_v, "V", f"{model} range")
    return voltages


def check_pulse_train(
    limits: SafetyLimits, level_v: float, width_s: float, period_s: float, count: int, base_v: float
) -> tuple[float, float, float, float, int]:
    """Checks shared by SMU pulse methods: levels against the SMU and the pulse limits, width, period, count."""
    level = limits.check_voltage(level_v, "level_v")
    limits.check_pulse_voltage(level, "level_v")
    base = limits.check_voltage(base_v, "base_v")
    limits.check_pulse_voltage(base, "base_v")
    width = limits.check_pulse_width(width_s)
    period = require_range("period_s", period_s, width, 1e5, "s", "allowed range (period >= width_s)")
    if period <= width:
        raise LimitError("period_s", period_s, f"> width_s = {width:g} s", "allowed range")
    n = require_int("count", count, 1, 1_000_000)
    return level, width, period, base, n


def pulse_aperture(width_s: float, line_frequency_hz: float, min_nplc: float, model: str) -> float:
    """NPLC that measures a pulse over at most half its width and at most one line cycle."""
    width = as_number("width_s", width_s)
    nplc = min(0.5 * width * line_frequency_hz, 1.0)
    if nplc < min_nplc:
        raise LimitError(
            "width_s", width_s, f">= {2 * min_nplc / line_frequency_hz:g} s (its shortest measurement must fit in "
            "half the pulse)", f"{model} range",
        )
    return nplc


def check_line_frequency(line_frequency_hz: float) -> float:
    value = as_number("line_frequency_hz", line_frequency_hz)
    if value not in (50.0, 60.0):
        raise LimitError("line_frequency_hz", line_frequency_hz, "50 or 60 Hz", "mains frequencies")
    return value


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return _VisaIOError is not None and isinstance(exc, _VisaIOError) and exc.error_code == _StatusCode.error_timeout


class DriverMixin:
    """Plumbing shared by memlab's pymeasure drivers; put it first in the bases:
    ``class Model(DriverMixin, SourceMeter, pymeasure_driver_or_Instrument)``.

    It takes ``limits``, wraps every read and write so that a timeout or a dead connection raises
    :class:`InstrumentConnectionError` naming the instrument, reads the SCPI error queue
    (``SYST:ERR?``) into :class:`InstrumentError` (pymeasure's ``check_errors`` hook, so
    ``check_set_errors=True`` properties raise too), and builds ``identity`` and ``snapshot``.
    """

    model: ClassVar[str] = "instrument"
    error_query: ClassVar[str] = "SYST:ERR?"

    # Provided by pymeasure's Instrument, listed for type checkers.
    adapter: Any
    name: str
    isShutdown: bool

    def __init__(self, adapter: Any, name: str | None = None, *, limits: SafetyLimits | None = None, **kwargs: Any):
        if limits is not None and not isinstance(limits, SafetyLimits):
            raise TypeError(f"limits must be a SafetyLimits or None, got {type(limits).__name__}")
        self.limits = limits if limits is not None else SafetyLimits()
        self._settings: dict[str, Any] = {}
        self._last_command = ""
        super().__init__(adapter, name or self.model, **kwargs)  # type: ignore[call-arg]
        self._bound_timeout()

    # -- communication, with errors that name the instrument ------------------------------------

    def _bound_timeout(self) -> None:
        connection = getattr(self.adapter, "connection", None)
        timeout = getattr(connection, "timeout", 0)
        if timeout is None or (isinstance(timeout, float) and math.isinf(timeout)):
            connection.timeout = DEFAULT_TIMEOUT_MS

    def label(self) -> str:
        """``name (address)``, for messages."""
        address = self.address()
        return f"{self.name} ({address})" if address else self.name

    def _connection_error(self, action: str, exc: BaseException) -> InstrumentConnectionError:
        if _is_timeout(exc):
            timeout = getattr(getattr(self.adapter, "connection", None), "timeout", None)
            within = f" within {timeout / 1000:g} s" if isinstance(timeout, (int, float)) else ""
            what = f"no reply to {self._last_command!r}{within}" if action == "reading" else f"timed out {action}"
        else:
            what = f"connection failed while {action}: {exc}"
        return InstrumentConnectionError(
            self.label(), f"{what}. Check that it is switched on, connected and at this address."
        )

    def write(self, command: str, **kwargs: Any) -> None:
        self._last_command = command
        try:
            super().write(command, **kwargs)  # type: ignore[misc]
        except _COMM_ERRORS as exc:
            raise self._connection_error(f"sending {command!r}", exc) from exc

    def write_bytes(self, content: bytes, **kwargs: Any) -> None:
        try:
            super().write_bytes(content, **kwargs)  # type: ignore[misc]
        except _COMM_ERRORS as exc:
            raise self._connection_error("sending bytes", exc) from exc

    def read(self, **kwargs: Any) -> str:
        try:
            return super().read(**kwargs)  # type: ignore[misc]
        except _COMM_ERRORS as exc:
            raise self._connection_error("reading", exc) from exc

    def read_bytes(self, count: int, **kwargs: Any) -> bytes:
        try:
            return super().read_bytes(count, **kwargs)  # type: ignore[misc]
        except _COMM_ERRORS as exc:
            raise self._connection_error("reading", exc) from exc

    @contextmanager
    def _allow(self, seconds: float) -> Iterator[None]:
        """Lengthen a VISA timeout by ``seconds`` for an operation the instrument needs that long for."""
        connection = getattr(self.adapter, "connection", None)
        old = getattr(connection, "timeout", None)
        if isinstance(old, (int, float)) and not isinstance(old, bool):
            connection.timeout = old + 1000.0 * seconds
            try:
                yield
            finally:
                connection.timeout = old
        else:
            yield

    def _ask_float(self, command: str) -> float:
        reply = self.ask(command).strip()  # type: ignore[attr-defined]
        try:
            return float(reply)
        except ValueError:
            raise InstrumentError(
                self.label(), f"unexpected reply {reply!r} to {command!r}; expected a number"
            ) from None

    # -- errors -----------------------------------------------------------------------------------

    def _next_error(self) -> tuple[int, str]:
        reply = self.ask(self.error_query).strip()  # type: ignore[attr-defined]
        code, _, message = reply.partition(",")
        try:
            return int(float(code)), message.strip().strip('"')
        except ValueError:
            raise InstrumentError(self.label(), f"unexpected reply {reply!r} to {self.error_query}") from None

    def check_errors(self) -> list:
        """Read the whole error queue; raise InstrumentError with the instrument's messages if any."""
        errors: list[tuple[int, str]] = []
        for _ in range(MAX_QUEUED_ERRORS):
            code, message = self._next_error()
            if code == 0:
                break
            errors.append((code, message))
        if errors:
            listed = "; ".join(f"{code} {message}" for code, message in errors)
            raise InstrumentError(self.label(), f"reported {listed} (clear with .clear() once understood)", errors)
        return []

    # -- identity, snapshot, shutdown ---------------------------------------------------------------

    def identity(self) -> str:
        return self.ask("*IDN?").strip()  # type: ignore[attr-defined]

    def address(self) -> str | None:
        for attribute in ("resource_name", "address"):
            value = getattr(self.adapter, attribute, None)
            if isinstance(value, str):
                return value
        return None

    def simulated(self) -> bool | None:
        """True/False if the adapter says (attribute ``simulated``) or its VISA library is a simulator."""
        flag = getattr(self.adapter, "simulated", None)
        if isinstance(flag, bool):
            return flag
        visalib = getattr(getattr(self.adapter, "manager", None), "visalib", None)
        if visalib is not None:
            return "sim" in type(visalib).__module__
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "identity": self.identity(),
            "address": self.address(),
            "simulated": self.simulated(),
            "settings": dict(self._settings),
            "limits": self.limits.to_dict(),
        }

    def _diagnosed(self, exc: InstrumentConnectionError) -> InstrumentError:
        """After a timeout, ask the instrument why: a queued error (a refused command, a script error)
        explains a missing reply better than the timeout does."""
        try:
            self.check_errors()
        except InstrumentConnectionError:
            return exc  # still no answer: the timeout is the news
        except InstrumentError as reason:
            return reason
        return exc

    def _quietly(self, *steps: Callable[[], Any]) -> None:
        """Best-effort safe steps while another error is already on its way up: log, never raise."""
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - the original error matters more
                log.error("%s: could not restore a safe state: %s", self.label(), exc)

    def _safe_state(self, *steps: Callable[[], Any]) -> None:
        """Run every shutdown step even if one fails; raise one InstrumentError at the end if any did."""
        failures: list[BaseException] = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - the remaining steps must still run
                log.error("%s: shutdown step failed: %s", self.label(), exc)
                failures.append(exc)
        self.isShutdown = True
        if failures:
            raise InstrumentError(
                self.label(), "shutdown incomplete: " + "; ".join(str(f) for f in failures)
            ) from failures[0]
