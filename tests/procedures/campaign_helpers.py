"""A fake bench and small procedures for campaign tests (imported by tests and by subprocesses)."""

from __future__ import annotations

import time

from memlab.procedures import Parameter, Procedure, register
from memlab.procedures.base import Wait
from memlab.storage import Column, StreamSpec


class StepClock:
    """A minimal virtual clock: sleeping adds to now() at once."""

    virtual = True

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class FakeBench:
    """Chip 4 x 4; devices in ``broken`` make the 'probe' procedure fail."""

    def __init__(self, broken=()) -> None:
        self.clock = StepClock()
        self.broken = set(broken)
        self.output_on = False
        self.shutdowns = 0

    def chip_info(self):
        return {"family": "prgo", "rows": 4, "cols": 4, "simulated": True}

    def snapshot(self):
        return {}

    def safe_shutdown(self):
        self.shutdowns += 1
        self.output_on = False
        return []

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@register
class Probe(Procedure):
    """Reads a fake conductance of (row + 1) uS; fails on the bench's broken devices."""

    name = "test-probe"
    parameters = (
        Parameter("row", int, 0, "", 0, 1000),
        Parameter("col", int, 0, "", 0, 1000),
        Parameter("reads", int, 3, "", 1, 100),
        Parameter("wall_s", float, 0.0, "s", 0, 10, help="real seconds per read (for kill tests)"),
        Parameter("flaky", int, 0, "", 0, 10, help="fail this many times before succeeding"),
    )
    streams = (StreamSpec("reads", (Column("read", "", "i4"), Column("conductance", "S"))),)
    attempts: dict = {}

    def estimate_s(self, bench):
        return float(self.p.reads)

    def execute(self, ctx):
        key = (self.p.row, self.p.col)
        ctx.bench.output_on = True
        if key in ctx.bench.broken:
            raise RuntimeError(f"device {key} is shorted")
        count = Probe.attempts.get(key, 0)
        Probe.attempts[key] = count + 1
        if count < self.p.flaky:
            raise TimeoutError("instrument did not answer")
        for i in range(self.p.reads):
            ctx.check_abort()
            if self.p.wall_s:
                time.sleep(self.p.wall_s)
            ctx.clock.sleep(1.0)
            ctx.append_row("reads", (i, (self.p.row + 1) * 1e-6))
            ctx.progress(i + 1, self.p.reads)


@register
class WaitProbe(Procedure):
    """Declares its waits: ``reads`` reads, one every ``interval_s`` on the bench clock, each
    taking 0.1 s of instrument time (and ``wall_s`` real seconds, for kill tests)."""

    name = "test-wait-probe"
    parameters = (
        Parameter("row", int, 0, "", 0, 1000),
        Parameter("col", int, 0, "", 0, 1000),
        Parameter("reads", int, 4, "", 1, 100),
        Parameter("interval_s", float, 10.0, "s", 1.0, 1000.0),
        Parameter("wall_s", float, 0.0, "s", 0, 10, help="real seconds per read (for kill tests)"),
    )
    streams = (StreamSpec("reads", (Column("read", "", "i4"), Column("planned_time", "s"),
                                     Column("time", "s"))),)

    def estimate_s(self, bench):
        return self.p.reads * self.p.interval_s

    def busy_estimate_s(self, bench):
        return 0.1 * self.p.reads

    def execute(self, ctx):
        self.run_segments(ctx)

    def segments(self, ctx):
        for i in range(self.p.reads):
            planned = (i + 1) * self.p.interval_s
            yield Wait(ctx.t0 + planned, 0.1)
            ctx.check_abort()
            if self.p.wall_s:
                time.sleep(self.p.wall_s)
            ctx.clock.sleep(0.1)
            ctx.append_row("reads", (i, planned, ctx.elapsed_s))
