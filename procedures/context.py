"""What a procedure may use of the bench, as a typed Protocol instead of probing it.

:class:`BenchContext` names everything procedures (and :mod:`memlab.procedures.common`) read from
the bench: the instrument roles (None when the bench has no such instrument), the clock, the chip,
the wiring, the mains frequency and the safety limits. :class:`memlab.instruments.bench.Bench`
satisfies it; so can a test double or a dashboard's bench, structurally, without subclassing.

The instrument types are imported for type checking only: importing this module (and so the
procedures' declarations) needs neither pymeasure nor pyvisa.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

if TYPE_CHECKING:
    from memlab.instruments.clock import Clock
    from memlab.instruments.interfaces import (
        CrossbarWiring,
        InstrumentRole,
        LightSource,
        PowerMeter,
        PulseGenerator,
        SourceMeter,
        SwitchMatrix,
    )
    from memlab.instruments.limits import SafetyLimits

__all__ = ["Role", "ROLE_NAMES", "BenchSettings", "BenchContext", "RunnableBench", "ExecutionContext",
           "instrument_for"]

Role = Literal["smu", "pulser", "laser", "switch", "power_meter"]
"""The name of an instrument role, as procedures list them in ``requires``."""

ROLE_NAMES: tuple[str, ...] = get_args(Role)


class BenchSettings(Protocol):
    """The parts of the bench file that procedures read (``bench.config``)."""

    @property
    def name(self) -> str: ...

    @property
    def line_frequency_hz(self) -> float:
        """Mains frequency: SMU integration times are in power-line cycles."""
        ...

    @property
    def wiring(self) -> CrossbarWiring | None:
        """Which switch-matrix pads reach which chip rows and columns (None: no switch matrix)."""
        ...


@runtime_checkable
class BenchContext(Protocol):
    """The bench as procedures see it (``ctx.bench`` in :meth:`Procedure.execute`, the argument of
    :meth:`Procedure.check` and :meth:`Procedure.estimate_s`)."""

    smu: SourceMeter | None
    pulser: PulseGenerator | None
    laser: LightSource | None
    switch: SwitchMatrix | None
    power_meter: PowerMeter | None

    @property
    def clock(self) -> Clock:
        """Time on the bench: virtual in simulation, the wall clock on hardware."""
        ...

    @property
    def limits(self) -> SafetyLimits: ...

    @property
    def config(self) -> BenchSettings: ...

    def chip_info(self) -> Mapping[str, Any]:
        """The chip: ``family``, ``rows``, ``cols``, ``seed``, ``array``, ``simulated``, ..."""
        ...


@runtime_checkable
class RunnableBench(BenchContext, Protocol):
    """What the runner (and the dashboard) needs on top: the instrument snapshot for the run file
    and the safe shutdown after every run. Procedures never call these."""

    def snapshot(self) -> Mapping[str, Mapping[str, Any]]:
        """Per role: model, identity, address, simulated, settings."""
        ...

    def safe_shutdown(self) -> list[str]:
        """Every source to 0 V / output off and the laser off; returns the errors as text."""
        ...


class ExecutionContext(Protocol):
    """What :meth:`Procedure.execute` gets (the runner's ``RunContext`` satisfies it): the bench,
    its clock, recording, progress and abort checks."""

    @property
    def bench(self) -> BenchContext: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def elapsed_s(self) -> float:
        """Seconds on the bench clock since the run started."""
        ...

    #: the run's Devices (procedures.common registers each); a run paused by a campaign's
    #: scheduler opens their routes. None outside a run (the dashboard's manual controls).
    devices_in_use: list[Any] | None

    def append(self, stream: str, batch: Mapping[str, Any]) -> None: ...

    def append_row(self, stream: str, values: Sequence[Any]) -> None: ...

    def log(self, message: str, level: int = ...) -> None: ...

    def check_abort(self) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def progress(self, done: float, total: float) -> None: ...


def instrument_for(bench: BenchContext, role: str) -> InstrumentRole | None:
    """The bench's instrument in ``role`` (None when it has none): the typed lookup for a role
    named by a string, e.g. one of a procedure's ``requires``."""
    instruments: dict[str, InstrumentRole | None] = {
        "smu": bench.smu, "pulser": bench.pulser, "laser": bench.laser,
        "switch": bench.switch, "power_meter": bench.power_meter,
    }
    if role not in instruments:
        raise KeyError(f"no instrument role {role!r}; the roles are {list(ROLE_NAMES)}")
    return instruments[role]
