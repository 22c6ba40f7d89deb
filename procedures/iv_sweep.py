"""iv-sweep: bipolar staircase I-V loops through the SMU's list sweep (one bulk fetch per loop)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import COL, COMPLIANCE_A, NPLC, READ_V, ROW, Device, check_compliance, check_voltages
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec


def staircase(v_max: float, v_min: float, step_v: float) -> np.ndarray:
    """0 -> v_max -> 0 -> v_min -> 0 in steps of ``step_v`` (each end point once)."""
    up = np.arange(0.0, v_max, step_v)
    down = np.arange(v_max, 0.0, -step_v)
    neg = np.arange(0.0, v_min, -step_v)
    back = np.arange(v_min, 0.0, step_v)
    return np.round(np.concatenate([up, down, neg, back, [0.0]]), 12)


@register
class IVSweep(Procedure):
    name = "iv-sweep"
    version = "1"
    title = "I-V sweep"
    description = ("Bipolar staircase loops 0 -> +max -> 0 -> -max -> 0, each loop one list sweep "
                   "into the SMU's buffer read back in one fetch. Shows the pinched hysteresis.")
    parameters = (
        ROW, COL,
        Parameter("v_max", float, 1.5, "V", 0.01, 20.0, help="Most positive voltage (SET side)"),
        Parameter("v_min", float, -1.5, "V", -20.0, -0.01, help="Most negative voltage (RESET side)"),
        Parameter("step_v", float, 0.05, "V", 1e-4, 1.0, help="Staircase step"),
        Parameter("cycles", int, 3, "", 1, 10_000, help="Number of loops"),
        replace(COMPLIANCE_A, default=1e-4),
        NPLC,
        Parameter("delay_s", float, 0.0, "s", 0.0, 10.0, help="Settling delay before each reading"),
        replace(READ_V, default=0.1, help="Voltage at which analysis reads each loop's high- and low-resistance "
                                          "state off the SET side (recorded, not applied on its own)"),
    )
    streams = (StreamSpec("iv", (Column("cycle", "", "i4"), Column("voltage", "V"),
                                 Column("current", "A"), Column("time", "s")), "the I-V loops"),)
    plots = (PlotHint("iv", "voltage", "current", "I-V loops", group_by="cycle", log_y=True, abs_y=True),)
    requires = ("smu",)

    def validate(self) -> None:
        if self.p.read_v == 0:  # analysis reads resistance as V / I there
            raise ParameterError("read_v", 0.0, "a non-zero voltage (resistance is V / I)")
        points = staircase(self.p.v_max, self.p.v_min, self.p.step_v).size
        if points > 100_000:
            raise ParameterError("step_v", self.p.step_v,
                                 f">= {(self.p.v_max - self.p.v_min) * 2 / 100_000:.3g} V "
                                 f"(a loop of {points} points is over 100000)")

    def check(self, bench) -> None:
        super().check(bench)
        check_voltages(bench, "v_max", self.p.v_max)
        check_voltages(bench, "v_min", self.p.v_min)
        check_compliance(bench, self.p.compliance_a)

    def estimate_s(self, bench) -> float:
        line = 50.0
        per_point = self.p.nplc / line + self.p.delay_s + 2e-4
        return self.p.cycles * staircase(self.p.v_max, self.p.v_min, self.p.step_v).size * per_point

    def execute(self, ctx) -> None:
        p = self.p
        volts = staircase(p.v_max, p.v_min, p.step_v)
        device = Device(ctx, p.row, p.col, read_v=0.0, compliance_a=p.compliance_a, nplc=p.nplc)
        for cycle in range(p.cycles):
            ctx.check_abort()
            for part in device.sweep(volts, p.delay_s):
                start = ctx.elapsed_s
                ctx.append("iv", {"cycle": np.full(len(part), cycle), "voltage": part.source_v,
                                  "current": part.current_a, "time": start + part.time_s})
            ctx.progress(cycle + 1, p.cycles)
        device.release()
