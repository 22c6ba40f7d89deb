"""potentiation-depression: trains of identical pulses up, then down, with reads between.

The curves start from a defined state: with ``start = "reset"`` (the default) the device is first
depressed by ``start_pulses`` pulses of ``reset_v`` (towards its lowest conductance), so
nonlinearity and asymmetry are fitted to the whole window; ``"as-is"`` starts from whatever
state the device is in. Either way the conductance before the first pulse is the first row of
each branch (pulse 0) and is named in the log.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, ROW, WIDTH_S, Device, check_compliance, check_pulse_amplitudes,
    check_voltages,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec


@register
class PotentiationDepression(Procedure):
    name = "potentiation-depression"
    version = "1"
    title = "Potentiation / depression"
    description = ("Trains of identical potentiating pulses then identical depressing pulses, "
                   "repeated; the interval between pulses is set independently of their width. "
                   "The device is read after every `read_every` pulses (bursts in between).")
    parameters = (
        ROW, COL,
        Parameter("pulses", int, 100, "", 1, 1_000_000, help="Pulses per branch"),
        Parameter("repeats", int, 1, "", 1, 10_000, help="Up/down cycles"),
        Parameter("set_v", float, 2.0, "V", 0.0, 20.0, help="Potentiating pulse amplitude"),
        Parameter("reset_v", float, -2.0, "V", -20.0, 0.0, help="Depressing pulse amplitude"),
        replace(WIDTH_S, default=80e-9),
        Parameter("interval_s", float, 1e-3, "s", 1e-8, 3600.0,
                  help="Time from one pulse to the next (independent of the width)"),
        Parameter("read_every", int, 1, "", 1, 1_000_000, help="Pulses between reads"),
        Parameter("start", str, "reset", "", choices=("reset", "as-is"),
                  help="reset: depress by start_pulses pulses first (a defined start); as-is: no reset"),
        Parameter("start_pulses", int, 500, "", 1, 10_000_000, help="Depressing pulses of the start reset"),
        READ_V, COMPLIANCE_A, NPLC,
        Parameter("reads", int, 1, "", 1, 1000, help="Readings averaged per read"),
    )
    streams = (StreamSpec("pulses", (
        Column("repeat", "", "i4"), Column("pulse", "", "i4"),
        Column("polarity", "", "i1", description="+1 potentiation, -1 depression"),
        Column("amplitude", "V"), Column("conductance", "S"), Column("time", "s")),
        "conductance after each read; pulse counts within the branch"),)
    plots = (PlotHint("pulses", "pulse", "conductance", "Conductance vs pulse number", group_by="polarity"),)
    requires = ("smu", "pulser")

    def validate(self) -> None:
        if self.p.interval_s <= self.p.width_s:
            raise ParameterError("interval_s", self.p.interval_s, f"> width_s = {self.p.width_s:g} s")
        if self.p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage")

    def check(self, bench) -> None:
        super().check(bench)
        check_pulse_amplitudes(bench, "set_v", self.p.set_v)
        check_pulse_amplitudes(bench, "reset_v", self.p.reset_v)
        check_voltages(bench, "read_v", self.p.read_v)
        check_compliance(bench, self.p.compliance_a)

    def estimate_s(self, bench) -> float:
        p = self.p
        reads = 2 * p.repeats * -(-p.pulses // p.read_every)
        start = p.start_pulses * p.interval_s if p.start == "reset" else 0.0
        return start + 2 * p.repeats * p.pulses * p.interval_s + reads * (p.reads * (p.nplc / 50 + 2e-4) + 0.01)

    def execute(self, ctx) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        total = 2 * p.repeats * p.pulses
        done = 0
        before = device.read_conductance()
        if p.start == "reset":
            device.pulse(p.reset_v, p.width_s, count=p.start_pulses, period_s=p.interval_s)
            ctx.log(f"start: {p.start_pulses} pulses of {p.reset_v:g} V took the device from {before:.4g} S "
                    f"to {device.read_conductance():.4g} S")
        else:
            ctx.log(f"start: as-is, at {before:.4g} S")
        for repeat in range(p.repeats):
            for polarity, amplitude in ((1, p.set_v), (-1, p.reset_v)):
                g = device.read_conductance()
                rows = [(repeat, 0, polarity, amplitude, g, ctx.elapsed_s)]
                fired = 0
                while fired < p.pulses:
                    ctx.check_abort()
                    burst = min(p.read_every, p.pulses - fired)
                    start = ctx.elapsed_s
                    device.pulse(amplitude, p.width_s, count=burst, period_s=p.interval_s)
                    fired += burst
                    rows.append((repeat, fired, polarity, amplitude, device.read_conductance(), ctx.elapsed_s))
                    # keep the pulse-to-pulse interval whatever the read took (unless it took longer)
                    ctx.sleep(max(0.0, start + burst * p.interval_s - ctx.elapsed_s))
                    if len(rows) >= 256:
                        self._flush(ctx, rows)
                    ctx.progress(done + fired, total)
                self._flush(ctx, rows)
                done += p.pulses
        device.release()

    @staticmethod
    def _flush(ctx, rows: list) -> None:
        if rows:
            cols = list(zip(*rows))
            ctx.append("pulses", {"repeat": cols[0], "pulse": cols[1], "polarity": cols[2],
                                  "amplitude": cols[3], "conductance": cols[4], "time": cols[5]})
            rows.clear()
