"""Time as a service of the bench.

Procedures and instruments never call ``time.sleep`` or ``time.time`` directly: they ask the
bench's clock. On hardware that is :class:`WallClock`; in simulation it is
:class:`instruments.sim.clock.VirtualClock`, whose ``sleep`` advances virtual time at once, so a
24-hour retention test runs in seconds.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What procedures and instruments may ask of time. Seconds, as floats."""

    virtual: bool

    def now(self) -> float:
        """Seconds since an arbitrary, fixed origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (at once on a virtual clock)."""
        ...


class WallClock:
    """The real clock: monotonic seconds since it was made."""

    virtual = False

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"sleep: seconds={seconds!r} must be >= 0")
        time.sleep(seconds)
