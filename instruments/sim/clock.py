"""The virtual clock of a simulated bench.

Virtual time stands still until someone lets it pass: ``sleep``/``advance`` move it forward at
once, so a 24-hour retention test or a million-cycle endurance run costs only the computation.
In *real-time* mode virtual time is paced to the wall clock (scaled by ``speed``) for
demonstrations of the dashboard: ``now()`` then runs on by itself and ``sleep`` really waits.

Pacing sleeps to absolute deadlines: each charge moves a virtual deadline forward by its
duration, and the wait ends when the paced clock reaches it, so the simulator's own CPU time
between charges is absorbed instead of being added on top. When the computation runs more than
``MAX_LAG_S`` of wall time behind the deadlines, it paces from where it is rather than racing
to catch up, and a lag under a second (computation, not idling) is reported: a warning, and
:attr:`behind_s`.

Every time-dependent effect of the simulated chip (drift, photoconductance relaxation,
eligibility windows) reads this clock; the chip itself never advances it.
"""

from __future__ import annotations

import logging
import math
import threading
import time

__all__ = ["VirtualClock"]

log = logging.getLogger(__name__)

MAX_LAG_S = 0.05
"""Wall seconds the paced clock may run ahead of the charged deadlines before the lag is reported
and forgiven (idle time between runs, or a simulator slower than the instrument)."""


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
        self._deadline_s = start  # virtual time the charged waits add up to (real-time mode)
        self._behind_s = 0.0
        self._warned_wall_s = -math.inf

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
        self._deadline_s = self._anchor_virtual_s

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
            now_s = self._now_locked()
            lag_s = now_s - self._deadline_s
            if lag_s > MAX_LAG_S * self._speed:
                if lag_s < 1.0 * self._speed:  # under a second: computation, not idling
                    self._behind_s += lag_s
                    wall_s = time.monotonic()
                    if wall_s - self._warned_wall_s > 10.0:  # at most one warning per 10 s
                        self._warned_wall_s = wall_s
                        log.warning("real-time pacing fell %.3g s behind the instrument's time "
                                    "(the simulation is slower than the instruments here)", lag_s)
                # Idle since the last charge, or the computation fell behind: pace from now.
                self._deadline_s = now_s
            self._deadline_s += seconds
            target_s = self._deadline_s
            # Condition.wait releases the lock: others read the time meanwhile, and switching
            # the mode or the speed wakes us to recompute.
            while self._realtime:
                remaining_s = target_s - self._now_locked()
                if remaining_s <= 0.0:
                    return
                self._changed.wait(remaining_s / self._speed)
            # Pacing was switched off while we waited: the rest passes at once.
            self._anchor_virtual_s = max(self._anchor_virtual_s, target_s)

    def catch_up_to(self, t_s: float) -> None:
        """Move virtual time forward to ``t_s`` if it is later than now (never back): a copy of
        the simulated bench that ran elsewhere (the dashboard's worker process) hands its time
        back, and this clock resumes where that copy stopped. Pacing restarts from there."""
        target = float(t_s)
        if not math.isfinite(target):
            raise ValueError(f"catch_up_to: t_s={t_s!r} is not allowed: a finite number of seconds")
        with self._changed:
            if target <= self._now_locked():
                return
            self._anchor_virtual_s = target
            self._anchor_wall_s = time.monotonic()
            self._deadline_s = target
            self._changed.notify_all()

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
    def behind_s(self) -> float:
        """Virtual seconds by which pacing fell behind the charged deadlines (lags over
        ``MAX_LAG_S`` that were forgiven), added up."""
        with self._lock:
            return self._behind_s

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
