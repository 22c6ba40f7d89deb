"""The VISA library of the ``@memsim`` backend.

One library object serves one bench: its path is a bench file, or ``builtin`` (what pyvisa asks
for when no path is given) for memlab's built-in simulated bench. pyvisa caches one library per
(class, path), so every resource opened on the same path talks to twins on one
:class:`~instruments.sim.world.SimWorld` (one chip, one clock). Only the bench's *simulated*
instruments are served, under the address the bench file gives them.

A session passes message bytes to its twin (``write``) and hands back the twin's queued reply
(``read``) with the status a VISA library reports: ``VI_SUCCESS_TERM_CHAR`` when the read
stopped at the termination character, ``VI_SUCCESS`` at the end of a message,
``VI_SUCCESS_MAX_CNT`` when more bytes are waiting. Twins' transport errors (a timeout after the
session's ``VI_ATTR_TMO_VALUE``, an injected disconnect) are raised as the
:class:`pyvisa.errors.VisaIOError` they are.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyvisa import constants, rname
from pyvisa.constants import ResourceAttribute as Attr
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError
from pyvisa.highlevel import VisaLibraryBase
from pyvisa.typing import VISARMSession, VISASession
from pyvisa.util import LibraryPath

from memlab.instruments.simulation import build_simulation, read_bench_config
from memlab.instruments.sim.base import STB_MAV, VirtualInstrument

BUILTIN = "builtin"
_TERMINATION = 0x0A


def _key(resource_name: str) -> str:
    """A resource name in pyvisa's canonical spelling, for matching what clients type."""
    try:
        return str(rname.parse_resource_name(resource_name)).lower()
    except rname.InvalidResourceName:
        return resource_name.strip().lower()


@dataclass
class _Session:
    """One open VISA session on a twin; ``attributes`` holds what the client set."""

    resource_name: str
    twin: VirtualInstrument
    attributes: dict[int, Any] = field(default_factory=dict)


class MemsimVisaLibrary(VisaLibraryBase):
    """VISA library serving the simulated instruments of one memlab bench (see the module)."""

    world: Any
    twins: dict[str, VirtualInstrument]

    @staticmethod
    def get_library_paths() -> Iterable[LibraryPath]:
        return (LibraryPath(BUILTIN, "memlab built-in simulated bench"),)

    @staticmethod
    def get_debug_info() -> dict[str, str]:
        return {"backend": "memsim", "serves": "memlab simulated instruments (instruments/sim)"}

    def _init(self) -> None:
        path = str(self.library_path)
        self.config = read_bench_config(None if path in ("", BUILTIN, "unset") else path)
        self.world, by_role = build_simulation(self.config)
        self.twins = {}
        self.names: dict[str, str] = {}
        self.models: dict[str, str] = {}
        for role, twin in by_role.items():
            address = self.config.instruments[role].address
            self.twins[_key(address)] = twin
            self.names[_key(address)] = address
            self.models[address] = f"{twin.model} ({role})"
        self.sessions: dict[int, _Session] = {}
        self._ids = itertools.count(1)
        self._rm_session: int | None = None

    # -- resource manager -------------------------------------------------------------------------

    def open_default_resource_manager(self) -> tuple[VISARMSession, StatusCode]:
        if self._rm_session is None:
            self._rm_session = next(self._ids)
        return VISARMSession(self._rm_session), StatusCode.success

    def list_resources(self, session: VISARMSession, query: str = "?*::INSTR") -> tuple[str, ...]:
        return tuple(rname.filter(list(self.names.values()), query))

    def open(
        self,
        session: VISARMSession,
        resource_name: str,
        access_mode: constants.AccessModes = constants.AccessModes.no_lock,
        open_timeout: int = constants.VI_TMO_IMMEDIATE,
    ) -> tuple[VISASession, StatusCode]:
        twin = self.twins.get(_key(resource_name))
        if twin is None:
            raise VisaIOError(StatusCode.error_resource_not_found)
        number = next(self._ids)
        self.sessions[number] = _Session(resource_name, twin, self._default_attributes(resource_name, twin))
        return VISASession(number), StatusCode.success

    def close(self, session: VISASession | VISARMSession) -> StatusCode:
        if session == self._rm_session:
            self.sessions.clear()
            self._rm_session = None
            return StatusCode.success
        if self.sessions.pop(session, None) is None:
            raise VisaIOError(StatusCode.error_invalid_object)
        return StatusCode.success

    def _session(self, session: VISASession) -> _Session:
        try:
            return self.sessions[session]
        except KeyError:
            raise VisaIOError(StatusCode.error_invalid_object) from None

    # -- attributes -------------------------------------------------------------------------------

    @staticmethod
    def _default_attributes(resource_name: str, twin: VirtualInstrument) -> dict[int, Any]:
        try:
            parsed = rname.parse_resource_name(resource_name)
            interface = parsed.interface_type_const
            board = int(getattr(parsed, "board", 0) or 0)
        except (rname.InvalidResourceName, ValueError):
            interface, board = constants.InterfaceType.unknown, 0
        return {
            Attr.timeout_value: int(twin.timeout_s * 1000),
            Attr.termchar: _TERMINATION,
            Attr.termchar_enabled: False,
            Attr.send_end_enabled: True,
            Attr.suppress_end_enabled: False,
            Attr.resource_name: resource_name,
            Attr.resource_class: "INSTR",
            Attr.interface_type: interface,
            Attr.interface_number: board,
            Attr.resource_manufacturer_name: "memlab memsim",
            Attr.io_prot: constants.IOProtocol.normal,
            Attr.max_queue_length: 50,
            Attr.resource_lock_state: constants.AccessModes.no_lock,
        }

    def get_attribute(self, session: VISASession, attribute: constants.ResourceAttribute) -> tuple[Any, StatusCode]:
        attributes = self._session(session).attributes
        if attribute not in attributes:
            raise VisaIOError(StatusCode.error_nonsupported_attribute)
        return attributes[attribute], StatusCode.success

    def set_attribute(
        self, session: VISASession, attribute: constants.ResourceAttribute, attribute_state: Any
    ) -> StatusCode:
        self._session(session).attributes[attribute] = attribute_state
        return StatusCode.success

    # -- messages ---------------------------------------------------------------------------------

    def write(self, session: VISASession, data: bytes) -> tuple[int, StatusCode]:
        self._session(session).twin.write_bytes(bytes(data))
        return len(data), StatusCode.success

    def read(self, session: VISASession, count: int) -> tuple[bytes, StatusCode]:
        state = self._session(session)
        attributes = state.attributes
        twin = state.twin
        termchar = attributes[Attr.termchar_enabled]
        timeout_ms = attributes[Attr.timeout_value]
        timeout_s = twin.timeout_s if timeout_ms is None or timeout_ms >= 0xFFFFFFFF else timeout_ms / 1000.0
        data = twin.read_bytes(count, termchar, timeout_s)
        if termchar and data and data[-1] == attributes[Attr.termchar]:
            return data, StatusCode.success_termination_character_read
        if len(data) == count and twin.status_byte() & STB_MAV:
            return data, StatusCode.success_max_count_read
        return data, StatusCode.success

    def clear(self, session: VISASession) -> StatusCode:
        self._session(session).twin.clear_output()
        return StatusCode.success

    def flush(self, session: VISASession, mask: constants.BufferOperation) -> StatusCode:
        self._session(session)
        return StatusCode.success

    def read_stb(self, session: VISASession) -> tuple[int, StatusCode]:
        return self._session(session).twin.status_byte(), StatusCode.success

    def assert_trigger(self, session: VISASession, protocol: constants.TriggerProtocol) -> StatusCode:
        # A bus trigger (GPIB GET / USBTMC TRIGGER) acts as *TRG does.
        self._session(session).twin.write("*TRG")
        return StatusCode.success

    def lock(self, session: VISASession, lock_type: constants.Lock, timeout: int,
             requested_key: str | None = None) -> tuple[str, StatusCode]:
        self._session(session)
        return requested_key or "memsim", StatusCode.success

    def unlock(self, session: VISASession) -> StatusCode:
        self._session(session)
        return StatusCode.success

    # The twins generate no VISA events (service requests are not simulated), so there is never
    # an event to disable or discard; pyvisa calls these when a resource closes.
    def disable_event(self, session: VISASession, event_type: constants.EventType,
                      mechanism: constants.EventMechanism) -> StatusCode:
        return StatusCode.success

    def discard_events(self, session: VISASession, event_type: constants.EventType,
                       mechanism: constants.EventMechanism) -> StatusCode:
        return StatusCode.success

    def describe(self) -> list[tuple[str, str]]:
        """(resource name, model) of every simulated instrument served."""
        return sorted(self.models.items())
