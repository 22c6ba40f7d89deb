"""Driver plumbing shared by memlab's pymeasure drivers: declared settings, errors, registration.

- :func:`control` / :func:`setting` declare an instrument setting as a pymeasure property
  (``Instrument.control``/``Instrument.setting`` with ``dynamic=True``) that also records the last
  value set or read. The snapshot stored in every run file is built from these records
  (:meth:`DriverMixin.settings`), so it cannot drift from what was sent. Commands may contain
  ``{ch}``-style fields, filled per instance from :meth:`DriverMixin.command_fields` (a channel).
  Ranges come per instance from :meth:`DriverMixin.set_bounds` (the bench's limits and the model's
  range, :class:`~memlab.instruments.limits.Bound`): a value outside is refused, never clamped.
- :class:`DriverMixin` wraps every read and write so a timeout or a dead connection raises
  :class:`InstrumentConnectionError` naming the instrument, reads the error queue into
  :class:`InstrumentError`, and builds ``identity`` and ``snapshot``.
- :func:`driver` registers a driver class with its model, role and simulated twin, so a bench file
  can name it (``driver = "Keithley2450"``) without any table elsewhere.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
from contextlib import contextmanager
from typing import Any, Callable, ClassVar, Iterator, Sequence, TypeVar

from pymeasure.instruments import Instrument
from pymeasure.instruments.common_base import DynamicProperty

from memlab.errors import MemlabError

from .limits import SafetyLimits, check_bounds, require_bool, require_choice

log = logging.getLogger(__name__)

try:  # pyvisa's errors are what a VISA timeout or a dropped session raise.
    from pyvisa.constants import StatusCode as _StatusCode
    from pyvisa.errors import Error as _VisaError
    from pyvisa.errors import VisaIOError as _VisaIOError

    _COMM_ERRORS: tuple[type[BaseException], ...] = (OSError, _VisaError)
except ImportError:  # pragma: no cover - pyvisa is a dependency; keep the module importable without it
    _VisaIOError = None  # type: ignore[assignment,misc]
    _StatusCode = None  # type: ignore[assignment]
    _COMM_ERRORS = (OSError,)

DEFAULT_TIMEOUT_MS = 5000
"""Timeout given to a VISA connection that has none (pyvisa's ``None`` means wait forever)."""

MAX_QUEUED_ERRORS = 64
"""A broken instrument could answer errors forever; stop reading its queue after this many."""


class InstrumentError(MemlabError, RuntimeError):
    """An instrument refused a command or reported an error; carries the instrument's own messages."""

    def __init__(self, instrument: str, message: str, errors: Sequence[tuple[int, str]] = ()) -> None:
        self.instrument = instrument
        self.errors = list(errors)
        super().__init__(f"{instrument}: {message}")


class InstrumentConnectionError(InstrumentError):
    """The instrument did not answer in time, or the connection to it is gone."""


def fmt(value: float) -> str:
    """A number as drivers send it: up to 9 significant digits, no trailing zeros (``0.001``, ``1e-09``)."""
    return format(float(value), ".9g")


# -- declared settings ---------------------------------------------------------------------------------


class Setting(DynamicProperty):
    """A pymeasure dynamic property that records the last value set or read for the snapshot.

    ``key`` is the name in the snapshot (``voltage_v``); ``record`` converts what is recorded (e.g.
    nanometres to metres).
    """

    def __init__(self, prop: DynamicProperty, key: str | None, validator: Callable[[Any, Any], Any],
                 values: Any, get_command: str | None, set_command: str | None,
                 record: Callable[[Any], Any] | None = None) -> None:
        super().__init__(prop.fget, prop.fset, None, prop.__doc__, prop.fget_params_list,
                         prop.fset_params_list, prop.prefix)
        self.key = key or ""
        self.validator = validator
        self.values = values
        self.get_command = get_command
        self.set_command = set_command
        self.record = record or (lambda value: value)

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        if not self.key:
            self.key = name
        # The instance attributes that override this property's parameters (pymeasure's dynamic
        # properties), looked up directly in the instance dict: pymeasure's generic lookup goes
        # through its __getattribute__ many times per access.
        self._get_params = tuple((param, f"{self.prefix}{name}_{param}") for param in self.fget_params_list)
        self._set_params = tuple((param, f"{self.prefix}{name}_{param}") for param in self.fset_params_list)

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        if self.fget is None:
            raise AttributeError(f"Unreadable attribute {self.name}")
        found = object.__getattribute__(obj, "__dict__")
        kwargs = {param: found[attr] for param, attr in self._get_params if attr in found}
        try:
            value = self.fget(obj, **kwargs)
        except (ValueError, TypeError, KeyError) as exc:  # a reply that does not parse
            raise InstrumentError(_owner(obj).label(), f"unexpected reply for {self.key}: {exc}") from None
        _records(obj, found)[self.key] = _plain(self.record(value))
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        if self.fset is None:
            raise AttributeError(f"Can't set attribute {self.name}")
        found = object.__getattribute__(obj, "__dict__")
        self.fset(obj, value, **{param: found[attr] for param, attr in self._set_params if attr in found})
        _records(obj, found)[self.key] = _plain(self.record(value))


def _owner(obj: Any) -> Any:
    """The driver that keeps the records: the instrument itself, or a pymeasure channel's parent."""
    return obj if hasattr(obj, "_record") else obj.parent


def _records(obj: Any, found: dict[str, Any]) -> dict[str, Any]:
    """The record dict of the driver owning ``obj`` (read from the instance dict: this runs on every
    property access, and pymeasure's attribute lookup is slow)."""
    records = found.get("_recorded")
    return records if records is not None else _owner(obj)._recorded


def control(get_command: str | None, set_command: str | None, docs: str, *, key: str | None = None,
            validator: Callable[[Any, Any], Any] = lambda v, vs: v, values: Any = (),
            record: Callable[[Any], Any] | None = None, **kwargs: Any) -> Setting:
    """``Instrument.control(..., dynamic=True)`` recorded in the snapshot under ``key`` (through
    ``record``, e.g. to store nanometres as metres)."""
    prop = Instrument.control(get_command, set_command, docs, validator=validator, values=values,
                              dynamic=True, **kwargs)
    return Setting(prop, key, validator, values, get_command, set_command, record)


def setting(set_command: str, docs: str, *, key: str | None = None,
            validator: Callable[[Any, Any], Any] = lambda v, vs: v, values: Any = (), **kwargs: Any) -> Setting:
    """``Instrument.setting(..., dynamic=True)`` (write-only) recorded in the snapshot under ``key``."""
    prop = Instrument.setting(set_command, docs, validator=validator, values=values, dynamic=True, **kwargs)
    return Setting(prop, key, validator, values, None, set_command)


def recorded(prop: Any, key: str | None = None) -> Setting:
    """An existing pymeasure property (e.g. of pymeasure's own channel classes) as a recorded Setting."""
    if not isinstance(prop, DynamicProperty):
        prop = DynamicProperty(prop.fget, prop.fset, None, prop.__doc__)
    return Setting(prop, key, lambda v, vs: v, (), None, None)


def choice(parameter: str) -> Callable[[Any, Any], Any]:
    """Validator for a setting with named values: one of ``values`` (a mapping's keys, for
    ``map_values=True``)."""
    return lambda value, values: require_choice(parameter, value, tuple(values))


def flag(parameter: str) -> Callable[[Any, Any], bool]:
    """Validator for an on/off setting: only True or False."""
    return lambda value, values: require_bool(parameter, value)


def on_off(value: bool) -> str:
    return "ON" if value else "OFF"


def one_zero(value: bool) -> str:
    return "1" if value else "0"


def number(reply: Any) -> float:
    """A numeric reply (pymeasure leaves what it cannot cast as a string: refuse it)."""
    if isinstance(reply, str):
        raise ValueError(f"expected a number, got {reply!r}")
    return float(reply)


def as_flag(reply: Any) -> bool:
    """An instrument's on/off reply (``1``, ``0``, ``ON``, ``OFF``, ``1.00000e+00``) as a bool."""
    text = str(reply).strip().upper()
    if text in ("ON", "OFF"):
        return text == "ON"
    return bool(float(text))


@functools.cache  # a class's declarations are fixed once defined; every run's snapshot asks
def declared_settings(cls: type) -> tuple[Setting, ...]:
    """The recorded settings a driver class declares (its own and its bases'), in declaration order."""
    found: dict[str, Setting] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Setting):
                found[name] = value
            elif name in found:
                del found[name]  # overridden by something that is not a recorded setting
    return tuple(found.values())


def _plain(value: Any) -> Any:
    """A recorded value as it goes into the snapshot: numbers as plain floats."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    return value


# -- registration ------------------------------------------------------------------------------------------

ROLE_NAMES = ("smu", "pulser", "laser", "switch", "power_meter")
"""The roles a bench has, in the order instruments are opened."""

_DRIVERS: dict[str, type] = {}

D = TypeVar("D", bound=type)


def driver(*, model: str, role: str, twin: str | None) -> Callable[[D], D]:
    """Register a driver class: the instrument ``model`` it drives, the bench ``role`` it fills
    (one of :data:`ROLE_NAMES`) and its simulated twin (``"package.module:ClassTwin"``, imported
    only when a simulated bench needs it; None if it has none). A bench file then names the
    driver by its class name."""
    if role not in ROLE_NAMES:
        raise ValueError(f"role={role!r}: allowed {', '.join(ROLE_NAMES)}")

    def register(cls: D) -> D:
        cls.model = model  # type: ignore[attr-defined]
        cls.role = role  # type: ignore[attr-defined]
        cls.twin = twin  # type: ignore[attr-defined]
        previous = _DRIVERS.get(cls.__name__)
        if previous is not None and previous is not cls and previous.__module__ != cls.__module__:
            raise ValueError(f"two drivers named {cls.__name__}: {previous.__module__} and {cls.__module__}")
        _DRIVERS[cls.__name__] = cls
        return cls

    return register


def registered_drivers() -> dict[str, type]:
    """Every registered driver by class name (memlab's own are imported here, which registers them)."""
    from memlab.instruments import keithley, keysight, thorlabs  # noqa: F401 - importing registers them

    return dict(_DRIVERS)


# -- the mixin ---------------------------------------------------------------------------------------------


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return _VisaIOError is not None and isinstance(exc, _VisaIOError) and exc.error_code == _StatusCode.error_timeout


class DriverMixin:
    """Plumbing shared by memlab's pymeasure drivers; put it first in the bases:
    ``class Model(DriverMixin, SourceMeter, pymeasure_driver_or_Instrument)``.

    It takes ``limits``, fills the channel fields of declared settings' commands, applies the
    per-instance ranges (:meth:`apply_limits`), wraps every read and write so that a timeout or a
    dead connection raises :class:`InstrumentConnectionError` naming the instrument, reads the SCPI
    error queue (``SYST:ERR?``) into :class:`InstrumentError` (pymeasure's ``check_errors`` hook, so
    ``check_set_errors=True`` properties raise too), and builds ``identity`` and ``snapshot``.
    """

    model: ClassVar[str] = "instrument"
    role: ClassVar[str] = ""
    twin: ClassVar[str | None] = None
    error_query: ClassVar[str] = "SYST:ERR?"

    # Provided by pymeasure's Instrument, listed for type checkers.
    adapter: Any
    name: str
    isShutdown: bool

    def __init__(self, adapter: Any, name: str | None = None, *, limits: SafetyLimits | None = None, **kwargs: Any):
        if limits is not None and not isinstance(limits, SafetyLimits):
            raise TypeError(f"limits must be a SafetyLimits or None, got {type(limits).__name__}")
        self.limits = limits if limits is not None else SafetyLimits()
        self._recorded: dict[str, Any] = {}
        self._bounds: dict[str, Any] = {}
        self._last_command = ""
        super().__init__(adapter, name or self.model, **kwargs)  # type: ignore[call-arg]
        self._bound_timeout()
        self._fill_commands()
        self.apply_limits()

    def _setup_special_names(self) -> frozenset[str]:  # type: ignore[override]
        """pymeasure's reserved names as a set (it checks names against them in ``__setattr__``)."""
        return frozenset(super()._setup_special_names())  # type: ignore[misc]

    # pymeasure's CommonBase.__getattribute__ only guards against *reading* the reserved
    # ``<property>_values``-style names (their values live under a prefixed name, so a plain read
    # finds nothing anyway); it runs in Python on every attribute access and made each declared
    # property read half again slower. Plain attribute access instead:
    __getattribute__ = object.__getattribute__

    # -- declared settings ----------------------------------------------------------------------------

    def command_fields(self) -> dict[str, Any]:
        """Fields filled into declared commands, e.g. ``{"ch": 2}`` for ``:SOUR{ch}:VOLT %s``."""
        return {}

    def _fill_commands(self) -> None:
        fields = self.command_fields()
        if not fields:
            return
        for prop in declared_settings(type(self)):
            for kind, command in (("get_command", prop.get_command), ("set_command", prop.set_command)):
                if command is not None and "{" in command:
                    setattr(self, f"{prop.name}_{kind}", command.format(**fields))

    def apply_limits(self) -> None:
        """Set the per-instance ranges of the declared settings (:meth:`set_bounds`); drivers extend it."""

    def set_bounds(self, name: str, bounds: Any) -> None:
        """The range(s) the declared setting ``name`` accepts on this instance (its ``<name>_values``)."""
        self._bounds[name] = bounds
        setattr(self, f"{name}_values", bounds)

    def check(self, parameter: str, value: Any, setting_name: str) -> float:
        """``value`` against this instance's bounds of the declared setting ``setting_name``, reported
        under ``parameter``, without sending anything: to check a group of values before the first
        is sent."""
        return check_bounds(parameter, value, self._bounds[setting_name])

    def _record(self, key: str, value: Any) -> None:
        self._recorded[key] = _plain(value)

    def forget_settings(self) -> None:
        """After a reset: nothing recorded is known to hold any more."""
        self._recorded.clear()

    def settings(self) -> dict[str, Any]:
        """The declared settings last set or read, by snapshot key, plus :meth:`configuration`."""
        keys = [prop.key for prop in declared_settings(type(self))]
        keys += [key for key in self._recorded if key not in keys]  # settings of recorded channels
        result = {key: self._recorded[key] for key in keys if key in self._recorded}
        result.update(self.configuration())
        return result

    def configuration(self) -> dict[str, Any]:
        """How the driver was configured by the bench (not instrument state), for the snapshot."""
        return {}

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
            "settings": self.settings(),
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
