"""In-process transport: a pymeasure Adapter that talks straight to a virtual instrument.

The Bench hands a :class:`SimAdapter` to the very driver classes that run on hardware
(``Keithley2450(SimAdapter(twin))``); no VISA layer sits between, so a property read costs only
the driver and the twin. Timeouts and lost connections arrive as
:class:`pyvisa.errors.VisaIOError` (``VI_ERROR_TMO``, ``VI_ERROR_CONN_LOST``), as they would
through a VISA adapter.
"""

from __future__ import annotations

import logging

from pymeasure.adapters import Adapter
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from memlab.instruments.sim.base import VirtualInstrument


class SimSession:
    """The adapter's ``connection``: the few pyvisa-resource attributes drivers touch."""

    def __init__(self, instrument: VirtualInstrument, timeout_ms: float) -> None:
        self.instrument = instrument
        self.timeout = timeout_ms
        self.closed = False

    def clear(self) -> None:
        """Device clear: unread replies are discarded."""
        self.instrument.clear_output()

    def close(self) -> None:
        self.closed = True


class SimAdapter(Adapter):
    """Adapter onto one :class:`~instruments.sim.base.VirtualInstrument`, in process.

    :param instrument: the twin to talk to.
    :param timeout_s: how long a read waits for a reply before ``VI_ERROR_TMO`` (charged to the
        bench clock when it happens); ``connection.timeout`` holds it in ms like pyvisa.
    :param log: parent logger.
    :param resource_name: the address drivers report (default ``SIM::<instrument name>``).
    """

    #: drivers report whether they talk to hardware (DriverMixin.simulated)
    simulated = True

    def __init__(
        self,
        instrument: VirtualInstrument,
        timeout_s: float = 2.0,
        log: logging.Logger | None = None,
        *,
        resource_name: str | None = None,
        **kwargs: object,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s!r} must be > 0")
        super().__init__(log=log, **kwargs)
        self.instrument = instrument
        self.connection = SimSession(instrument, timeout_s * 1e3)
        self.resource_name = resource_name or f"SIM::{instrument.name}"

    def _session(self) -> SimSession:
        connection = self.connection
        if connection.closed:
            raise VisaIOError(StatusCode.error_invalid_object)
        return connection

    def _write(self, command: str, **kwargs: object) -> None:
        self._session()
        self.instrument.write(command)

    def _write_bytes(self, content: bytes, **kwargs: object) -> None:
        self._session()
        self.instrument.write_bytes(content)

    def _read(self, **kwargs: object) -> str:
        return self.instrument.read(self._session().timeout / 1e3)

    def _read_bytes(self, count: int, break_on_termchar: bool, **kwargs: object) -> bytes:
        return self.instrument.read_bytes(count, break_on_termchar, self._session().timeout / 1e3)

    def flush_read_buffer(self) -> None:
        self.instrument.clear_output()

    def close(self) -> None:
        """End this session; the twin lives on for other sessions of the bench."""
        connection = getattr(self, "connection", None)
        if connection is not None:
            connection.close()

    def __repr__(self) -> str:
        return f"<SimAdapter({self.instrument.name!r})>"
