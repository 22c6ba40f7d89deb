"""switching: single SET and RESET pulses, each followed by a read: LRS and HRS per cycle."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, READS, ROW, Device, RowBatch, check_compliance, check_pulse_amplitudes,
    check_voltages, line_frequency_hz,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.pulsed_iv import READ_OVERHEAD_S, SOURCE, STEP_OVERHEAD_S, check_smu_width
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

if TYPE_CHECKING:
    from memlab.procedures.runner import RunContext

SET, RESET = 1, -1


@register
class Switching(Procedure):
    name = "switching"
    version = "1"
    title = "SET/RESET switching"
    description = ("Cycles of one SET pulse and one RESET pulse, each followed by a read: the "
                   "low-resistance state after every SET and the high-resistance state after every "
                   "RESET, per cycle.")
    parameters = (
        ROW, COL, SOURCE,
        Parameter("cycles", int, 10, "", 1, 100_000, help="SET/RESET cycles"),
        Parameter("set_v", float, 2.8, "V", 0.0, 20.0, help="SET pulse amplitude (positive)"),
        Parameter("set_width_s", float, 1e-6, "s", 1e-9, 100.0, help="SET pulse width"),
        Parameter("reset_v", float, -2.8, "V", -20.0, 0.0, help="RESET pulse amplitude (negative)"),
        Parameter("reset_width_s", float, 1e-6, "s", 1e-9, 100.0, help="RESET pulse width"),
        READ_V, COMPLIANCE_A, NPLC, READS,
    )
    streams = (StreamSpec("switching", (
        Column("cycle", "", "i4"), Column("polarity", "", "i1", description="+1 SET, -1 RESET"),
        Column("voltage", "V", description="pulse amplitude"),
        Column("current", "A", description="read after the pulse, at read_v"),
        Column("resistance", "ohm", description="read_v / current"), Column("time", "s")),
        "one row per pulse: LRS after SET (+1), HRS after RESET (-1)"),)
    plots = (PlotHint("switching", "cycle", "resistance", "HRS and LRS per cycle", kind="scatter",
                      group_by="polarity", log_y=True),)
    requires = ("smu",)

    def validate(self) -> None:
        p = self.p
        if p.set_v == 0:
            raise ParameterError("set_v", p.set_v, "a positive amplitude")
        if p.reset_v == 0:
            raise ParameterError("reset_v", p.reset_v, "a negative amplitude")
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (resistance is V / I)")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        if p.source == "pulser" and bench.pulser is None:
            raise ParameterError("source", p.source, "'smu': this bench has no pulse generator")
        check_pulse_amplitudes(bench, "set_v", p.set_v)
        check_pulse_amplitudes(bench, "reset_v", p.reset_v)
        for name in ("set_width_s", "reset_width_s"):
            width = self.values[name]
            if p.source == "smu":
                try:
                    check_smu_width(bench, width)
                except ParameterError as exc:
                    raise ParameterError(name, width, exc.allowed) from None
            elif width < bench.limits.min_pulse_width_s:
                raise ParameterError(name, width, f">= {bench.limits.min_pulse_width_s:g} s "
                                                  "(the bench's min_pulse_width_s)")
        if p.source == "smu":
            check_voltages(bench, "set_v", p.set_v)
            check_voltages(bench, "reset_v", p.reset_v)
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        read_s = p.reads * (p.nplc / line_frequency_hz(bench) + READ_OVERHEAD_S)
        return p.cycles * (2 * (p.set_width_s + p.reset_width_s) + 2 * (read_s + STEP_OVERHEAD_S))

    def execute(self, ctx: RunContext) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        lrs, hrs = [], []
        with RowBatch(ctx, "switching", ("cycle", "polarity", "voltage", "current", "resistance", "time"),
                      size=64) as rows:
            for cycle in range(p.cycles):
                for polarity, amplitude, width in ((SET, p.set_v, p.set_width_s),
                                                   (RESET, p.reset_v, p.reset_width_s)):
                    ctx.check_abort()
                    if p.source == "smu":
                        device.smu_pulse(amplitude, width)
                    else:
                        device.pulse(amplitude, width)
                    current = float(np.mean(device.read_currents()))
                    resistance = p.read_v / current if current * p.read_v > 0 else math.inf
                    (lrs if polarity == SET else hrs).append(resistance)
                    rows.add(cycle, polarity, amplitude, current, resistance, ctx.elapsed_s)
                ctx.progress(cycle + 1, p.cycles)
        device.release()
        ratio = np.median(hrs) / np.median(lrs)
        ctx.log(f"{p.cycles} cycles: median LRS {np.median(lrs):.4g} ohm, median HRS {np.median(hrs):.4g} ohm, "
                f"HRS/LRS {ratio:.3g}")
