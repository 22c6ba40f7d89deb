"""pulsed-iv: pulses of growing amplitude, each followed by a read at the read voltage.

The pulses come from the pulse generator (short pulses, no compliance but the cell's own) or
from the SMU's pulse mode (under compliance, and measured during the pulse as well). Reading the
device after each pulse shows where it starts to switch: below its threshold the conductance does
not move at all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, READS, ROW, WIDTH_S, Device, RowBatch, check_compliance,
    check_pulse_amplitudes, check_voltages, line_frequency_hz,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

if TYPE_CHECKING:
    from memlab.procedures.runner import RunContext

MAX_STEPS = 100_000
SMU_MIN_WIDTH_S = 50e-6  # the shortest SMU pulse of any supported model (B2900); others need more
READ_OVERHEAD_S = 2e-4  # per reading, besides the integration time
STEP_OVERHEAD_S = 0.03  # per pulse-and-read step: relays both ways, setup, trigger (estimates only)


def amplitude_steps(start_v: float, stop_v: float, step_v: float) -> np.ndarray:
    """``start_v`` to ``stop_v`` (both included) in steps of ``step_v`` towards ``stop_v``."""
    n = int(np.floor(abs(stop_v - start_v) / step_v + 1e-9))
    direction = 1.0 if stop_v >= start_v else -1.0
    values = start_v + direction * step_v * np.arange(n + 1)
    if abs(values[-1] - stop_v) > 1e-9 * max(1.0, abs(stop_v)):
        values = np.append(values, stop_v)
    return np.round(values, 12)


def check_smu_width(bench: Any, width_s: float) -> None:
    if width_s < SMU_MIN_WIDTH_S:
        raise ParameterError("width_s", width_s, f">= {SMU_MIN_WIDTH_S:g} s for SMU pulses (each pulse "
                                                  "is measured; use source=pulser for shorter pulses)")
    if width_s < bench.limits.min_pulse_width_s:
        raise ParameterError("width_s", width_s,
                             f">= {bench.limits.min_pulse_width_s:g} s (the bench's min_pulse_width_s)")


SOURCE = Parameter("source", str, "pulser", "", choices=("pulser", "smu"),
                   help="pulser: the pulse generator's bursts; smu: the SMU's pulses, under compliance "
                        "and measured during the pulse (widths from 50 us; 2450 at 50 Hz: 0.4 ms)")


@register
class PulsedIV(Procedure):
    name = "pulsed-iv"
    version = "1"
    title = "Pulsed I-V"
    description = ("Pulses of growing amplitude from start_v to stop_v, each followed by a read at "
                   "read_v: conductance against pulse amplitude shows the switching threshold. Pulses "
                   "from the pulse generator, or from the SMU under compliance (then also measured "
                   "during the pulse).")
    parameters = (
        ROW, COL,
        SOURCE,
        Parameter("start_v", float, 0.5, "V", -20.0, 20.0, help="First pulse amplitude (negative: RESET side)"),
        Parameter("stop_v", float, 2.0, "V", -20.0, 20.0, help="Last pulse amplitude, same sign as start_v"),
        Parameter("step_v", float, 0.1, "V", 1e-4, 10.0, help="Amplitude increment (a magnitude)"),
        replace(WIDTH_S, default=1e-6),
        Parameter("pulses", int, 1, "", 1, 10_000, help="Pulses at each amplitude (one burst)"),
        Parameter("period_s", float, None, "s", 1e-9, 3600.0, optional=True,
                  help="Pulse period within a burst (empty: twice the width)"),
        READ_V, COMPLIANCE_A, NPLC, READS,
    )
    streams = (StreamSpec("pulses", (
        Column("pulse", "", "i4"), Column("amplitude", "V"), Column("width", "s"),
        Column("current", "A", description="read after the pulse(s), at read_voltage"),
        Column("read_voltage", "V"), Column("conductance", "S"),
        Column("pulse_current", "A", description="during the last pulse (SMU source); NaN from the pulse generator"),
        Column("time", "s")), "one row per amplitude step"),)
    plots = (PlotHint("pulses", "amplitude", "conductance", "Conductance after each pulse", kind="scatter"),)
    requires = ("smu",)

    def amplitudes(self) -> np.ndarray:
        return amplitude_steps(self.p.start_v, self.p.stop_v, self.p.step_v)

    def _period(self) -> float:
        p = self.p
        if p.period_s is not None:
            return p.period_s
        return 2.0 * p.width_s if p.source == "smu" else max(2.0 * p.width_s, p.width_s + 1e-6)

    def validate(self) -> None:
        p = self.p
        if p.start_v == 0 or p.stop_v == 0 or (p.start_v > 0) != (p.stop_v > 0):
            raise ParameterError("stop_v", p.stop_v, f"non-zero and of the same sign as start_v = {p.start_v:g} V "
                                                     "(run the other polarity as a second run)")
        steps = abs(p.stop_v - p.start_v) / p.step_v + 1
        if steps > MAX_STEPS:
            raise ParameterError("step_v", p.step_v, f">= {abs(p.stop_v - p.start_v) / (MAX_STEPS - 1):.3g} V "
                                                     f"(at most {MAX_STEPS} steps)")
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if p.period_s is not None and p.period_s <= p.width_s:
            raise ParameterError("period_s", p.period_s, f"> width_s = {p.width_s:g} s")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        if p.source == "pulser" and bench.pulser is None:
            raise ParameterError("source", p.source, "'smu': this bench has no pulse generator")
        check_pulse_amplitudes(bench, "start_v", p.start_v)
        check_pulse_amplitudes(bench, "stop_v", p.stop_v)
        if p.source == "smu":  # the SMU sources these: its DC limit applies too
            check_voltages(bench, "start_v", p.start_v)
            check_voltages(bench, "stop_v", p.stop_v)
            check_smu_width(bench, p.width_s)
            points = p.pulses * max(2, round(self._period() / p.width_s))
            if points > bench.smu.max_sweep_points:  # SMUs without a pulse mode pulse by list sweep
                raise ParameterError("pulses", p.pulses, f"<= {bench.smu.max_sweep_points // (points // p.pulses)} "
                                                         "with the SMU at this period (its list length)")
        elif p.width_s < bench.limits.min_pulse_width_s:
            raise ParameterError("width_s", p.width_s,
                                 f">= {bench.limits.min_pulse_width_s:g} s (the bench's min_pulse_width_s)")
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        read_s = p.reads * (p.nplc / line_frequency_hz(bench) + READ_OVERHEAD_S)
        return self.amplitudes().size * (p.pulses * self._period() + read_s + STEP_OVERHEAD_S)

    def execute(self, ctx: RunContext) -> None:
        p = self.p
        amplitudes = self.amplitudes()
        period = self._period()
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        g0 = device.read_conductance()
        ctx.log(f"device ({p.row},{p.col}) before the first pulse: G = {g0:.4g} S")
        with RowBatch(ctx, "pulses", ("pulse", "amplitude", "width", "current", "read_voltage", "conductance",
                                      "pulse_current", "time"), size=32) as rows:
            for k, amplitude in enumerate(amplitudes.tolist()):
                ctx.check_abort()
                if p.source == "smu":
                    during = float(device.smu_pulse(amplitude, p.width_s, p.pulses, period).current_a[-1])
                else:
                    device.pulse(amplitude, p.width_s, count=p.pulses, period_s=period)
                    during = float("nan")
                current = float(np.mean(device.read_currents()))
                rows.add(k, amplitude, p.width_s, current, p.read_v, current / p.read_v, during, ctx.elapsed_s)
                ctx.progress(k + 1, amplitudes.size)
        device.release()
