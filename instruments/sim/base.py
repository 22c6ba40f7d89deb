"""The message-level base of every virtual instrument.

A :class:`VirtualInstrument` receives the very strings a driver writes and queues the replies a
real instrument would send. Subclasses implement :meth:`VirtualInstrument.handle` (the SCPI twins
through :mod:`memlab.instruments.sim.scpi`, the TSP twins through Lua) and call :meth:`reply`,
:meth:`push_error` and :meth:`charge`; everything about the bus is here:

- the IEEE-488.2 error queue (``push_error`` / ``pop_error``, overflow as ``-350``), the standard
  event status register and the status byte;
- the output queue: ``read`` returns one reply message, ``read_bytes`` raw bytes; a read with
  nothing queued times out (``-420 Query UNTERMINATED``), and a new message arriving before the
  last reply was read discards it (``-410 Query INTERRUPTED``) on instruments that follow 488.2;
- bus latency: every message in either direction charges ``bus_latency_s`` plus its bytes at
  ``bus_rate_bytes_per_s`` to the bench clock;
- fault injection (:class:`Faults`): reads that time out (after charging the timeout), a
  connection that drops after N messages, garbled replies, entries in the error queue.

Transport errors are :class:`pyvisa.errors.VisaIOError` subclasses with the VISA status codes a
real session raises, so drivers and their callers see what they would see on hardware.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field

from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from memlab.instruments.sim.world import DoubleDriveError, SimWorld

# IEEE-488.2 standard event status register bits.
ESR_OPC = 1
ESR_QYE = 4
ESR_DDE = 8
ESR_EXE = 16
ESR_CME = 32
# Status byte bits.
STB_EAV = 4
STB_MAV = 16
STB_ESB = 32


class SimTimeoutError(VisaIOError):
    """A read got no reply within the session timeout (``VI_ERROR_TMO``)."""

    def __init__(self, instrument: str, timeout_s: float) -> None:
        super().__init__(StatusCode.error_timeout)
        self.args = (f"{self.args[0]} [{instrument}: no reply within {timeout_s:g} s]",)


class SimConnectionError(VisaIOError):
    """The instrument dropped off the bus (``VI_ERROR_CONN_LOST``)."""

    def __init__(self, instrument: str, detail: str) -> None:
        super().__init__(StatusCode.error_connection_lost)
        self.args = (f"{self.args[0]} [{instrument}: {detail}]",)


@dataclass
class Faults:
    """Faults injected into one virtual instrument (the bench file's ``faults`` table).

    :param timeout_after: after this many messages the instrument stops answering: writes are
        swallowed and every read times out (0: unresponsive from the start; None: never).
    :param disconnect_after: after this many messages every access raises
        :class:`SimConnectionError` (None: never).
    :param garble_every: every n-th reply is corrupted (0: never).
    :param errors: ``(code, message)`` entries put in the error queue when the faults are set.
    :param seed: seed of the garbling's random choices.
    """

    timeout_after: int | None = None
    disconnect_after: int | None = None
    garble_every: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("timeout_after", "disconnect_after"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"faults.{name}={value!r}: allowed an integer >= 0 or None")
        if not isinstance(self.garble_every, int) or self.garble_every < 0:
            raise ValueError(f"faults.garble_every={self.garble_every!r}: allowed an integer >= 0")
        for entry in self.errors:
            if len(entry) != 2 or not isinstance(entry[0], int) or not isinstance(entry[1], str):
                raise ValueError(f"faults.errors entry {entry!r}: expected (code: int, message: str)")

    @property
    def active(self) -> bool:
        """Whether a message count can make the instrument stop answering or drop off."""
        return self.timeout_after is not None or self.disconnect_after is not None


class VirtualInstrument(ABC):
    """A simulated instrument at the message level (see the module docstring).

    Subclasses set the identity class attributes, implement :meth:`handle` and :meth:`reset`,
    and may change the bus figures.

    :param world: the bench's shared chip, clock, routes and light.
    :param name: how errors name this instrument (the bench role or resource name).
    :param serial: serial number reported by ``*IDN?``.
    """

    manufacturer: str = "memlab"
    model: str = "virtual instrument"
    firmware: str = "1.0"
    default_serial: str = "0000001"
    #: per message in either direction: USBTMC/GPIB turnaround of a bench instrument
    bus_latency_s: float = 200e-6
    #: payload rate of the bus (full-speed USBTMC / GPIB, about 1 MB/s)
    bus_rate_bytes_per_s: float = 1.0e6
    error_queue_size: int = 10
    #: 488.2: a new message discards an unread reply (-410). TSP instruments do not.
    interrupt_unread_queries: bool = True
    termination: bytes = b"\n"

    def __init__(self, world: SimWorld, name: str = "", *, serial: str | None = None) -> None:
        self.world = world
        self.clock = world.clock
        self.name = name or self.model
        self.serial = serial or self.default_serial
        self.timeout_s = 2.0
        self.messages = 0
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self._errors: deque[tuple[int, str]] = deque()
        self._out = bytearray()
        self._replies = 0
        self._bus_debt_s = 0.0  # bus time of the last message, paid with the next clock charge
        self._faults = Faults()
        self._rng = random.Random(0)

    # -- identity and state ---------------------------------------------------------------------

    def identity(self) -> str:
        """The ``*IDN?`` reply."""
        return f"{self.manufacturer},{self.model},{self.serial},{self.firmware}"

    @abstractmethod
    def handle(self, message: str) -> None:
        """Execute one program message (may hold several commands); queue replies with
        :meth:`reply`, errors with :meth:`push_error`, time with :meth:`charge`."""

    @abstractmethod
    def reset(self) -> None:
        """Return to the model's power-on (``*RST``) settings; the queues are left alone."""

    def charge(self, duration_s: float) -> None:
        """Let the time the real instrument would take pass on the bench clock (after the bus
        time of the message being handled)."""
        duration_s += self._bus_debt_s
        self._bus_debt_s = 0.0
        if duration_s > 0.0:
            self.clock.advance(duration_s)

    # -- faults ---------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        """Set the faults; counting of messages starts again from now."""
        with self.world.lock:
            self._faults = faults
            self.messages = 0
            self._replies = 0
            self._rng = random.Random(faults.seed)
            for code, message in faults.errors:
                self.push_error(code, message)

    def _count_message(self) -> bool:
        """Count a message against the faults; False when the instrument no longer answers."""
        self.messages += 1
        faults = self._faults
        if not faults.active:
            return True
        if faults.disconnect_after is not None and self.messages > faults.disconnect_after:
            raise SimConnectionError(
                self.name, f"connection lost after {faults.disconnect_after} messages (injected)"
            )
        return faults.timeout_after is None or self.messages <= faults.timeout_after

    def _check_connected(self) -> None:
        # The reply to the last message that got through can still be read.
        after = self._faults.disconnect_after
        if after is not None and self.messages >= after and not self._out:
            raise SimConnectionError(self.name, f"connection lost after {after} messages (injected)")

    def _garble(self, data: bytes) -> bytes:
        body = bytearray(data.rstrip(self.termination))
        for _ in range(max(1, len(body) // 3)):
            if body:
                body[self._rng.randrange(len(body))] = self._rng.choice(b"#$%&?@~\x7f\xfe")
        return bytes(body) + self.termination

    # -- the error queue and status ---------------------------------------------------------------

    def push_error(self, code: int, message: str) -> None:
        """Queue an error as the instrument would; a full queue ends in ``-350``."""
        if code < 0:
            hundreds = -code // 100
            self.esr |= {1: ESR_CME, 2: ESR_EXE, 3: ESR_DDE, 4: ESR_QYE}.get(hundreds, ESR_DDE)
        else:
            self.esr |= ESR_DDE
        if len(self._errors) >= self.error_queue_size:
            self._errors[-1] = (-350, "Queue overflow")
            return
        self._errors.append((code, message))

    def pop_error(self) -> tuple[int, str]:
        """The oldest error, or ``(0, "No error")``."""
        return self._errors.popleft() if self._errors else (0, "No error")

    def format_error(self, code: int, message: str) -> str:
        """``SYST:ERR?`` reply text for one entry (SCPI style ``-113,"Undefined header"``)."""
        return f'{code},"{message}"'

    @property
    def error_count(self) -> int:
        return len(self._errors)

    def clear_status(self) -> None:
        """``*CLS``: empty the error queue and the event register."""
        self._errors.clear()
        self.esr = 0

    def status_byte(self) -> int:
        stb = 0
        if self._errors:
            stb |= STB_EAV
        if self._out:
            stb |= STB_MAV
        if self.esr & self.ese:
            stb |= STB_ESB
        return stb

    # -- the output queue -----------------------------------------------------------------------

    def reply(self, text: str) -> None:
        """Queue one reply message (the terminator is added)."""
        self.reply_bytes(text.encode("latin-1") + self.termination)

    def reply_bytes(self, data: bytes) -> None:
        """Queue raw reply bytes as they go on the bus (binary blocks; terminator included)."""
        self._replies += 1
        every = self._faults.garble_every
        if every and self._replies % every == 0:
            data = self._garble(data)
        self._out += data

    def clear_output(self) -> None:
        """Discard unread replies (device clear / flush of the read buffer)."""
        self._out.clear()

    # -- the bus --------------------------------------------------------------------------------

    def write(self, message: str) -> None:
        """Receive one program message, as a driver writes it (terminator optional)."""
        with self.world.lock:
            if not self._count_message():
                return
            # One clock charge per exchange: a query's bus time is paid with its read.
            self._bus_debt_s += self.bus_latency_s + len(message) / self.bus_rate_bytes_per_s
            if self._out and self.interrupt_unread_queries:
                self._out.clear()
                self.push_error(-410, "Query INTERRUPTED")
            try:
                self.handle(message.rstrip("\r\n"))
            except DoubleDriveError:
                raise  # a fault of the bench's use, not of this instrument: the client must see it
            except Exception as error:  # noqa: BLE001 - the last line of defence of the bus
                # An instrument never raises into its client: what escaped the model's own
                # checks becomes an execution error in the queue (Ctrl-C still propagates).
                self.push_error(-200, f"Execution error;{type(error).__name__}: {error}"[:200])
            if not self._out:
                self.charge(0.0)

    def write_bytes(self, content: bytes) -> None:
        """Receive raw bytes (binary blocks travel as latin-1 so each byte stays one char)."""
        self.write(content.decode("latin-1"))

    def _timeout(self, timeout_s: float | None) -> SimTimeoutError:
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        self.charge(timeout_s)
        return SimTimeoutError(self.name, timeout_s)

    def _answers(self) -> bool:
        self._check_connected()
        after = self._faults.timeout_after
        return after is None or self.messages <= after

    def read(self, timeout_s: float | None = None) -> str:
        """The next reply message without its terminator; times out when none is queued."""
        with self.world.lock:
            if not self._answers():
                raise self._timeout(timeout_s)
            out = self._out
            if not out:
                self.push_error(-420, "Query UNTERMINATED")
                raise self._timeout(timeout_s)
            end = out.find(self.termination)
            end = len(out) if end < 0 else end + len(self.termination)
            data = bytes(out[:end])
            del out[:end]
            self.charge(self.bus_latency_s + end / self.bus_rate_bytes_per_s)
            return data.rstrip(b"\r\n").decode("latin-1")

    def read_bytes(
        self, count: int = -1, break_on_termchar: bool = False, timeout_s: float | None = None
    ) -> bytes:
        """Up to ``count`` queued bytes (-1: all), stopping after a terminator if asked."""
        with self.world.lock:
            if not self._answers():
                raise self._timeout(timeout_s)
            out = self._out
            if not out:
                self.push_error(-420, "Query UNTERMINATED")
                raise self._timeout(timeout_s)
            end = len(out) if count < 0 else min(count, len(out))
            if break_on_termchar:
                term = out.find(self.termination, 0, end)
                if term >= 0:
                    end = term + len(self.termination)
            data = bytes(out[:end])
            del out[:end]
            self.charge(self.bus_latency_s + end / self.bus_rate_bytes_per_s)
            return data
