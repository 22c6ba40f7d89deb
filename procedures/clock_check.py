"""clock-check: records the bench clock and a synthetic signal; needs no instrument.

Useful to check a bench's clock (virtual, real-time paced or wall), the storage path and the
dashboard's live plots without touching a chip.
"""

from __future__ import annotations

import time

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.parameters import Parameter
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

_BATCH_WALL_S = 0.2  # on a wall clock, rows arrive in batches about this far apart
_BATCH_MAX_ROWS = 10_000


@register
class ClockCheck(Procedure):
    name = "clock-check"
    version = "1"
    title = "Clock check"
    description = ("Samples a noisy sine wave at a fixed interval on the bench clock and records "
                   "how bench-clock time compares with wall time.")
    parameters = (
        Parameter("samples", int, 1000, "", 1, 1e9, help="Number of samples"),
        Parameter("interval_s", float, 0.01, "s", 0.0, 3600.0, help="Time between samples"),
        Parameter("amplitude_v", float, 1.0, "V", 0.0, 1e3, help="Sine amplitude"),
        Parameter("frequency_hz", float, 1.0, "Hz", 0.0, 1e9, help="Sine frequency"),
        Parameter("noise_v", float, 0.01, "V", 0.0, 1e3, help="Gaussian noise (standard deviation)"),
        Parameter("seed", int, 0, "", 0, 2**32 - 1, help="Noise seed"),
    )
    streams = (
        StreamSpec("signal", (Column("sample", "", "i8"), Column("time", "s"),
                              Column("value", "V")), "the synthetic signal"),
        StreamSpec("pacing", (Column("clock", "s"), Column("wall", "s")),
                   "bench-clock and wall time elapsed at the end of each batch"),
    )
    plots = (PlotHint("signal", "time", "value", "Synthetic signal"),
             PlotHint("pacing", "wall", "clock", "Bench clock vs wall time", kind="scatter"))

    def estimate_s(self, bench) -> float:
        return self.p.samples * self.p.interval_s

    def execute(self, ctx) -> None:
        p = self.p
        rng = np.random.default_rng(p.seed)
        if ctx.clock.virtual or p.interval_s == 0:
            batch = _BATCH_MAX_ROWS
        else:
            batch = int(min(_BATCH_MAX_ROWS, max(1, _BATCH_WALL_S // p.interval_s)))
        wall0 = time.monotonic()
        done = 0
        while done < p.samples:
            ctx.check_abort()
            n = min(batch, p.samples - done)
            index = np.arange(done, done + n)
            t = index * p.interval_s
            ctx.sleep(max(0.0, t[-1] - ctx.elapsed_s))
            value = p.amplitude_v * np.sin(2 * np.pi * p.frequency_hz * t) + rng.normal(0, p.noise_v, n)
            ctx.append("signal", {"sample": index, "time": t, "value": value})
            ctx.append_row("pacing", (ctx.elapsed_s, time.monotonic() - wall0))
            done += n
            ctx.progress(done, p.samples)
        wall = time.monotonic() - wall0
        ctx.log(f"{p.samples} samples: {ctx.elapsed_s:.6g} s on the bench clock in {wall:.3g} s wall")
