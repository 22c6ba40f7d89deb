"""The virtual clock of a simulated bench.

Virtual time stands still until someone lets it pass: ``sleep``/``advance`` move it forward at
once, so a 24-hour retention test or a million-cycle endurance run costs only the computation.
In *real-time* mode virtual time is paced to the wall clock (scaled by ``speed``) for
demonstrations of the dashboard: ``now()`` then runs on by itself and ``sleep`` really waits.

Every time-dependent effect of the simulated chip (drift, photoconductance relaxation,
eligibility windows) reads this clock; the chip itself never advances it.
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["VirtualClock"]


def _check_seconds(name: str, seconds: float) -> float:
    value = float(seconds)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name}: seconds={seconds!r} is not allowed: a finite number >= 0")
    return value


class VirtualClock:
    """Seconds of virtual time; thread-safe (the GUI runs procedures in a worker thread).

    :param start_s: the virtual time at creation.
    :param realtime: pace virtual time to the wall clock (see :attr:`realtime`).
    :param speed: in real-time mode, virtual seconds per wall second (10 = ten times faster).
    """

    virtual = True

    def __init__(self, start_s: float = 0.0, realtime: bool = False, speed: float = 1.0) -> None:
        start = float(start_s)
        if not math.isfinite(start):
            raise ValueError(f"start_s={start_s!r} is not allowed: a finite number of seconds")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # wakes sleepers when pacing changes
        self._speed = self._check_speed(speed)
        # In real-time mode, virtual = anchor_virtual + speed * (wall - anchor_wall).
        self._anchor_virtual_s = start
        self._anchor_wall_s = time.monotonic()
        self._realtime = bool(realtime)

    @staticmethod
    def _check_speed(speed: float) -> float:
        value = float(speed)
        if not math.isfinite(value) or value <= 0.0:
            raise ValueError(f"speed={speed!r} is not allowed: a finite number > 0")
        return value

    def _now_locked(self) -> float:
        if not self._realtime:
            return self._anchor_virtual_s
        return self._anchor_virtual_s + self._speed * (time.monotonic() - self._anchor_wall_s)

    def _reanchor_locked(self) -> None:
        # Freeze the current virtual time as the new origin of pacing (no jump, no going back).
        self._anchor_virtual_s = self._now_locked()
        self._anchor_wall_s = time.monotonic()

    def now(self) -> float:
        """Virtual seconds; never goes backwards."""
        with self._lock:
            return self._now_locked()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass: at once, or in real-time mode by waiting until
        the paced clock has caught up."""
        self._wait("sleep", seconds)

    def advance(self, seconds: float) -> None:
        """Charge ``seconds`` of instrument time; the same as :meth:`sleep`."""
        self._wait("advance", seconds)

    def _wait(self, name: str, seconds: float) -> None:
        seconds = _check_seconds(name, seconds)
        with self._changed:
            if not self._realtime:
                self._anchor_virtual_s += seconds
                return
            target_s = self._now_locked() + seconds
            # Condition.wait releases the lock: others read the time meanwhile, and switching
            # the mode or the speed wakes us to recompute.
            while self._realtime:
                remaining_s = target_s - self._now_locked()
                if remaining_s <= 0.0:
                    return
                self._changed.wait(remaining_s / self._speed)
            # Pacing was switched off while we waited: the rest passes at once.
            self._anchor_virtual_s = max(self._anchor_virtual_s, target_s)

    @property
    def realtime(self) -> bool:
        """Whether virtual time is paced to the wall clock. Switching keeps ``now()`` continuous."""
        return self._realtime

    @realtime.setter
    def realtime(self, value: bool) -> None:
        with self._changed:
            self._reanchor_locked()
            self._realtime = bool(value)
            self._changed.notify_all()

    @property
    def speed(self) -> float:
        """Virtual seconds per wall second in real-time mode."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        speed = self._check_speed(value)
        with self._changed:
            self._reanchor_locked()
            self._speed = speed
            self._changed.notify_all()

    def __repr__(self) -> str:
        mode = f"realtime x{self._speed:g}" if self._realtime else "virtual"
        return f"VirtualClock(now={self.now():.6g} s, {mode})"
