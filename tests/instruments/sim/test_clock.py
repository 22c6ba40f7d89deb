"""The virtual clock: instant sleeps, real-time pacing, errors, thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from memlab.instruments.clock import Clock
from memlab.instruments.sim.clock import VirtualClock


def test_is_a_bench_clock() -> None:
    clock = VirtualClock()
    assert isinstance(clock, Clock)
    assert clock.virtual is True


def test_sleep_and_advance_move_time_at_once() -> None:
    clock = VirtualClock(start_s=5.0)
    assert clock.now() == 5.0
    wall = time.perf_counter()
    clock.sleep(86_400.0)
    clock.advance(0.25)
    assert time.perf_counter() - wall < 0.05
    assert clock.now() == 5.0 + 86_400.0 + 0.25
    clock.sleep(0.0)
    assert clock.now() == 86_405.25


@pytest.mark.parametrize("method", ["sleep", "advance"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_seconds_are_refused(method: str, bad: float) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match=rf"{method}.*seconds={bad!r}"):
        getattr(clock, method)(bad)
    assert clock.now() == 0.0


@pytest.mark.parametrize("kwargs", [{"speed": 0.0}, {"speed": -2.0}, {"start_s": float("nan")}])
def test_bad_construction_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        VirtualClock(**kwargs)


def test_realtime_paces_to_the_wall_clock() -> None:
    clock = VirtualClock(realtime=True, speed=20.0)
    wall = time.perf_counter()
    clock.sleep(0.4)  # 0.4 virtual s at 20x = 20 ms of wall time
    elapsed = time.perf_counter() - wall
    assert 0.018 <= elapsed < 1.0  # generous: the machine is shared
    assert clock.now() >= 0.4
    before = clock.now()
    time.sleep(0.01)
    assert clock.now() > before  # time runs on by itself in real-time mode


def test_switching_realtime_keeps_time_continuous() -> None:
    clock = VirtualClock(start_s=100.0, realtime=True, speed=1000.0)
    time.sleep(0.005)
    clock.realtime = False
    frozen = clock.now()
    assert frozen >= 104.0
    time.sleep(0.005)
    assert clock.now() == frozen  # stopped
    clock.realtime = True
    assert clock.realtime is True
    assert clock.now() >= frozen
    clock.speed = 1.0
    assert clock.speed == 1.0


def test_switching_realtime_off_releases_a_sleeper() -> None:
    clock = VirtualClock(realtime=True, speed=1.0)
    done = threading.Event()

    def sleeper() -> None:
        clock.sleep(30.0)
        done.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(0.02)
    clock.realtime = False
    thread.join(timeout=5.0)
    assert done.is_set()
    assert clock.now() >= 30.0


def test_advances_from_many_threads_add_up() -> None:
    clock = VirtualClock()
    step = 2.0**-10  # exact in binary: the total must be exact

    def worker() -> None:
        for _ in range(2000):
            clock.advance(step)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == 4 * 2000 * step


def test_realtime_pacing_absorbs_computation_time() -> None:
    """Sleeping to absolute deadlines: 20 steps of 5 ms computation + a 10 ms charge take about
    200 ms of wall time (the charges), not 300 ms (charges + computation)."""
    clock = VirtualClock(realtime=True, speed=1.0)
    wall = time.perf_counter()
    for _ in range(20):
        busy_until = time.perf_counter() + 0.005
        while time.perf_counter() < busy_until:
            pass
        clock.advance(0.010)
    elapsed = time.perf_counter() - wall
    assert 0.199 <= elapsed < 0.27
    assert clock.now() >= 0.2


def test_realtime_pacing_forgives_idle_time() -> None:
    clock = VirtualClock(realtime=True, speed=10.0)
    time.sleep(0.2)  # idle: 2 virtual s pass with nothing charged
    wall = time.perf_counter()
    clock.sleep(0.5)  # must still take 50 ms of wall time, not return at once
    assert time.perf_counter() - wall >= 0.045
