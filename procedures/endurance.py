"""endurance: N SET/RESET cycles with reads at log-spaced cycles; detects when the device fails.

Between two sampled cycles the pulse generator fires the cycles in one burst of bipolar periods:
pulses from ``reset_v`` (the low level) to ``set_v`` (the high level), ``set_width_s`` at the high
level and the rest of each ``set_width_s + reset_width_s`` period at the low level, so every
period is one SET and one RESET. A sampled cycle is one SET pulse, a read, one RESET pulse and a
read, which give the conductances of that cycle's two states.

Failure, after ``confirm`` sampled cycles in a row fail:

- stuck (reason 2): SET and RESET read the same, within ``stuck_tolerance`` (no switching at all);
- window closed (reason 1): the on/off ratio G_set / G_reset fell below ``min_window``.

With ``on_failure = stop`` the run ends at the failure, with ``continue`` it runs all the cycles
(the result then records the first failure).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.procedures.base import Checkpoint, Pause, PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, READS, ROW, Device, RowBatch, check_compliance, check_pulse_amplitudes,
    check_voltages, line_frequency_hz,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.pulsed_iv import READ_OVERHEAD_S, STEP_OVERHEAD_S
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec, canonical

if TYPE_CHECKING:
    from memlab.procedures.runner import RunContext

NONE, WINDOW_CLOSED, STUCK = 0, 1, 2
REASONS = {NONE: "none", WINDOW_CLOSED: "window closed", STUCK: "stuck"}


def sample_cycles(cycles: int, per_decade: int) -> np.ndarray:
    """Cycle numbers 1..cycles, log-spaced with ``per_decade`` per decade, the last cycle included."""
    exponents = np.arange(0, math.floor(math.log10(cycles) * per_decade + 1e-9) + 1) / per_decade
    samples = np.unique(np.round(10.0 ** exponents).astype(np.int64))
    return np.unique(np.append(samples[samples <= cycles], cycles))


@register
class Endurance(Procedure):
    name = "endurance"
    version = "1"
    title = "Endurance"
    description = ("Alternates SET and RESET pulses for N cycles (bursts of bipolar periods from the pulse "
                   "generator), reads both states at log-spaced cycles and detects failure: the on/off "
                   "window closing below min_window, or a stuck device. Stops or continues at a failure.")
    parameters = (
        ROW, COL,
        Parameter("cycles", int, 100_000, "", 1, 10**9, help="SET/RESET cycles"),
        Parameter("set_v", float, 2.8, "V", 0.0, 20.0, help="SET amplitude (the pulses' high level)"),
        Parameter("set_width_s", float, 1e-6, "s", 1e-9, 1.0, help="SET pulse width"),
        Parameter("reset_v", float, -2.8, "V", -20.0, 0.0, help="RESET amplitude (the pulses' low level)"),
        Parameter("reset_width_s", float, 1e-6, "s", 1e-9, 1.0,
                  help="RESET width: the rest of each period, after the SET pulse"),
        Parameter("samples_per_decade", int, 10, "", 1, 10_000, help="Sampled (read) cycles per decade"),
        Parameter(canonical.MIN_WINDOW, float, 2.0, "", 1.0, 1e9,
                  help="Failure when the on/off ratio G_set / G_reset falls below this"),
        Parameter("stuck_tolerance", float, 0.05, "", 0.0, 1.0,
                  help="Stuck when |G_set / G_reset - 1| is below this (no switching)"),
        Parameter("confirm", int, 2, "", 1, 1000, help="Failing sampled cycles in a row that make a failure"),
        Parameter("on_failure", str, "stop", "", choices=("stop", "continue"),
                  help="stop at the failure, or continue to the last cycle"),
        READ_V, COMPLIANCE_A, NPLC, READS,
    )
    streams = (
        StreamSpec("endurance", (
            Column("cycle", "", "i8"), Column("conductance_set", "S"), Column("conductance_reset", "S"),
            Column("window", "", description="G_set / G_reset"), Column("time", "s")),
            "one row per sampled cycle"),
        StreamSpec("result", (
            Column("failed", "", "i1", description="0/1"), Column("failure_cycle", "", "i8", description="-1 if none"),
            Column("reason_code", "", "i1", description="0 none, 1 window closed, 2 stuck")),
            "one row: whether, when and why the device failed"),
    )
    plots = (PlotHint("endurance", "cycle", "conductance_set", "SET state vs cycle", log_x=True, log_y=True),
             PlotHint("endurance", "cycle", "conductance_reset", "RESET state vs cycle", log_x=True, log_y=True),
             PlotHint("endurance", "cycle", "window", "On/off window vs cycle", log_x=True, log_y=True))
    requires = ("smu", "pulser")

    def validate(self) -> None:
        p = self.p
        if p.set_v <= 0:
            raise ParameterError("set_v", p.set_v, "a positive amplitude")
        if p.reset_v >= 0:
            raise ParameterError("reset_v", p.reset_v, "a negative amplitude")
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        check_pulse_amplitudes(bench, "set_v", p.set_v)
        check_pulse_amplitudes(bench, "reset_v", p.reset_v)
        for name in ("set_width_s", "reset_width_s"):
            if self.values[name] < bench.limits.min_pulse_width_s:
                raise ParameterError(name, self.values[name], f">= {bench.limits.min_pulse_width_s:g} s "
                                                              "(the bench's min_pulse_width_s)")
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        samples = sample_cycles(p.cycles, p.samples_per_decade).size
        read_s = p.reads * (p.nplc / line_frequency_hz(bench) + READ_OVERHEAD_S)
        return p.cycles * (p.set_width_s + p.reset_width_s) + samples * 2 * (read_s + STEP_OVERHEAD_S)

    def classify(self, g_set: float, g_reset: float) -> int:
        """The reason code of one sampled cycle: NONE, WINDOW_CLOSED or STUCK."""
        p = self.p
        window = g_set / g_reset if g_reset > 0 else math.inf
        if abs(window - 1.0) < p.stuck_tolerance:
            return STUCK
        return WINDOW_CLOSED if window < p.min_window else NONE

    def execute(self, ctx: RunContext) -> None:
        self.run_segments(ctx)

    def segments(self, ctx: RunContext) -> Iterator[Pause]:
        """A Checkpoint before each sampled cycle (with the burst before it): in a campaign the
        cycling fills other runs' waits, one piece at a time, without delaying their reads."""
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        period_s = p.set_width_s + p.reset_width_s
        sample_s = 2 * (p.reads * (p.nplc / line_frequency_hz(ctx.bench) + READ_OVERHEAD_S) + STEP_OVERHEAD_S)
        done = 0  # cycles applied so far
        streak: list[tuple[int, int]] = []  # (cycle, reason) of the failing samples in a row
        failure: tuple[int, int] | None = None
        with RowBatch(ctx, "endurance", ("cycle", "conductance_set", "conductance_reset", "window", "time"),
                      size=32) as rows:
            for n in sample_cycles(p.cycles, p.samples_per_decade).tolist():
                yield Checkpoint(max(0, n - 1 - done) * period_s + sample_s)
                ctx.check_abort()
                if n - 1 > done:
                    device.bipolar_burst(p.set_v, p.set_width_s, p.reset_v, p.reset_width_s, n - 1 - done)
                device.pulse(p.set_v, p.set_width_s)
                g_set = device.read_conductance()
                device.pulse(p.reset_v, p.reset_width_s)
                g_reset = device.read_conductance()
                done = n
                rows.add(n, g_set, g_reset, g_set / g_reset if g_reset > 0 else math.inf, ctx.elapsed_s)
                ctx.progress(done, p.cycles)
                reason = self.classify(g_set, g_reset)
                streak = streak + [(n, reason)] if reason != NONE else []
                if failure is None and len(streak) >= p.confirm:
                    failure = streak[0]
                    rows.flush()
                    ctx.log(f"failure at cycle {failure[0]}: {REASONS[failure[1]]} (G_set {g_set:.4g} S, "
                            f"G_reset {g_reset:.4g} S)")
                    if p.on_failure == "stop":
                        break
        device.release()
        if failure is None:
            ctx.append_row("result", (0, -1, NONE))
            ctx.log(f"no failure in {done} cycles")
        else:
            ctx.append_row("result", (1, failure[0], failure[1]))
