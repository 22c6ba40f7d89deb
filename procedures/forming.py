"""forming: grow the first filament of a virgin device under current compliance.

Three ways, all through the SMU so that the compliance holds at every step:

- ``ramp``: a staircase; each step is one list sweep (the step, then the reads), so the ramp can
  stop at the very step where the device reached the target;
- ``pulse-amplitude``: SMU pulses of growing amplitude, a read after each;
- ``pulse-width``: SMU pulses at ``stop_v`` of growing width, a read after each.

The run stops as soon as a read shows a resistance at or below the target. An attempt that ends
without reaching it is followed, up to ``attempts``, by a RESET pulse and a new ramp. Nothing is
ever sourced above ``ceiling_v``: parameters that would are refused before anything starts.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, READS, ROW, Device, RowBatch, check_compliance, check_pulse_amplitudes,
    check_voltages, line_frequency_hz,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.pulsed_iv import READ_OVERHEAD_S, amplitude_steps, check_smu_width
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec, canonical

if TYPE_CHECKING:
    from memlab.procedures.runner import RunContext

MAX_STEPS = 100_000
MODES = ("ramp", "pulse-amplitude", "pulse-width")
SMU_STEP_OVERHEAD_S = 8e-3  # per step: loading and fetching the SMU's list (estimates only)


@register
class Forming(Procedure):
    name = "forming"
    version = "1"
    title = "Forming"
    description = ("Forms a virgin device under current compliance: an SMU staircase ramp, or SMU "
                   "pulses of growing amplitude or width, with a read after each step. Stops at the "
                   "first step whose read resistance is at or below the target; if an attempt ends "
                   "without it, RESETs and tries again. Never sources above ceiling_v.")
    parameters = (
        ROW, COL,
        Parameter("mode", str, "ramp", "", choices=MODES,
                  help="ramp: staircase; pulse-amplitude: growing pulses; pulse-width: pulses at stop_v "
                       "of growing width"),
        Parameter("start_v", float, 0.5, "V", -20.0, 20.0, help="First step (negative: form with negative bias)"),
        Parameter("stop_v", float, 4.0, "V", -20.0, 20.0,
                  help="Last step of a ramp; the amplitude in pulse-width mode. Same sign as start_v"),
        Parameter("step_v", float, 0.05, "V", 1e-4, 10.0, help="Ramp increment (a magnitude)"),
        Parameter("ceiling_v", float, 4.5, "V", 0.01, 20.0,
                  help="Nothing is sourced above this |voltage|; larger stop_v or reset_v are refused"),
        Parameter("width_s", float, 1e-3, "s", 50e-6, 100.0,
                  help="Ramp: settling at each step before its measurement; pulses: pulse width "
                       "(the first width in pulse-width mode)"),
        Parameter("width_factor", float, 2.0, "", 1.01, 100.0, help="pulse-width mode: width growth per step"),
        Parameter("max_width_s", float, 0.1, "s", 50e-6, 100.0, help="pulse-width mode: longest pulse"),
        replace(COMPLIANCE_A, default=50e-6, help="Current compliance during every step: it sets the "
                                                  "conductance the filament grows to"),
        Parameter(canonical.TARGET_RESISTANCE_OHM, float, 500e3, "ohm", 1.0, 1e12,
                  help="Formed once a read shows this resistance or less"),
        Parameter("attempts", int, 3, "", 1, 100, help="Ramps tried, with a RESET pulse before each retry"),
        Parameter("reset_v", float, -2.0, "V", -20.0, 20.0,
                  help="RESET pulse before a retry (opposite sign to the ramp)"),
        Parameter("reset_width_s", float, 1e-3, "s", 50e-6, 100.0, help="Width of the RESET pulse"),
        READ_V, NPLC, READS,
    )
    streams = (
        StreamSpec("forming", (
            Column("attempt", "", "i4"), Column("step", "", "i4"), Column("voltage", "V"), Column("width", "s"),
            Column("current", "A", description="read after the step, at read_v"),
            Column("resistance", "ohm", description="read_v / current"),
            Column("step_current", "A", description="measured during the step (at compliance once formed)"),
            Column("time", "s")), "one row per step"),
        StreamSpec("result", (
            Column("formed", "", "i1", description="0/1"), Column("forming_voltage", "V"),
            Column("forming_current", "A"),
            Column("final_resistance", "ohm"), Column("attempts", "", "i4")),
            "one row: whether and where the device formed (NaN voltage and current if it did not)"),
    )
    plots = (PlotHint("forming", "voltage", "resistance", "Resistance after each step", kind="scatter",
                      group_by="attempt", log_y=True),)
    requires = ("smu",)

    # -- the steps -----------------------------------------------------------------------------
    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(voltage, width) of every step of one attempt."""
        p = self.p
        if p.mode == "pulse-width":
            n = int(math.floor(math.log(p.max_width_s / p.width_s) / math.log(p.width_factor) + 1e-9)) + 1
            widths = p.width_s * p.width_factor ** np.arange(n)
            return np.full(n, p.stop_v), widths
        volts = amplitude_steps(p.start_v, p.stop_v, p.step_v)
        return volts, np.full(volts.size, p.width_s)

    def validate(self) -> None:
        p = self.p
        if p.start_v == 0 or p.stop_v == 0 or (p.start_v > 0) != (p.stop_v > 0):
            raise ParameterError("stop_v", p.stop_v, f"non-zero and of the same sign as start_v = {p.start_v:g} V")
        if abs(p.stop_v) < abs(p.start_v):
            raise ParameterError("stop_v", p.stop_v, f"|stop_v| >= |start_v| = {abs(p.start_v):g} V (a rising ramp)")
        for name in ("start_v", "stop_v"):
            if abs(self.values[name]) > p.ceiling_v:
                raise ParameterError(name, self.values[name], f"|{name}| <= ceiling_v = {p.ceiling_v:g} V")
        if p.attempts > 1:  # the RESET pulse is sourced only before a retry
            if abs(p.reset_v) > p.ceiling_v:
                raise ParameterError("reset_v", p.reset_v, f"|reset_v| <= ceiling_v = {p.ceiling_v:g} V")
            if p.reset_v == 0 or (p.reset_v > 0) == (p.stop_v > 0):
                raise ParameterError("reset_v", p.reset_v,
                                     f"non-zero and of the opposite sign to stop_v = {p.stop_v:g} V")
        if p.mode == "pulse-width" and p.max_width_s < p.width_s:
            raise ParameterError("max_width_s", p.max_width_s, f">= width_s = {p.width_s:g} s")
        if p.mode != "pulse-width" and abs(p.stop_v - p.start_v) / p.step_v + 1 > MAX_STEPS:
            raise ParameterError("step_v", p.step_v, f">= {abs(p.stop_v - p.start_v) / (MAX_STEPS - 1):.3g} V "
                                                     f"(at most {MAX_STEPS} steps)")
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (resistance is V / I)")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        for name in ("start_v", "stop_v"):  # the SMU sources them, as DC steps or as pulses
            check_voltages(bench, name, self.values[name])
            if p.mode != "ramp":
                check_pulse_amplitudes(bench, name, self.values[name])
        if p.attempts > 1:
            check_voltages(bench, "reset_v", p.reset_v)
            check_pulse_amplitudes(bench, "reset_v", p.reset_v)
            check_smu_width(bench, p.reset_width_s)
        if p.mode != "ramp":
            check_smu_width(bench, p.width_s)
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)

    def estimate_s(self, bench: Any) -> float:
        """The longest run: every attempt to the end of its ramp."""
        p = self.p
        volts, widths = self.steps()
        read_s = p.reads * (p.nplc / line_frequency_hz(bench) + READ_OVERHEAD_S)
        hold = 2.0 if p.mode != "ramp" else 1.0  # SMU pulses idle a width after each
        return p.attempts * (float(np.sum(widths)) * hold + volts.size * (read_s + SMU_STEP_OVERHEAD_S))

    # -- the run -------------------------------------------------------------------------------
    def execute(self, ctx: RunContext) -> None:
        p = self.p
        volts, widths = self.steps()
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        integration_s = p.nplc / line_frequency_hz(ctx.bench)
        total = p.attempts * volts.size
        formed_at: tuple[float, float, float, int] | None = None
        resistance = initial_resistance = self._resistance(float(np.mean(device.read_currents())))
        ctx.log(f"device ({p.row},{p.col}) before forming: R = {resistance:.4g} ohm")
        attempt = 0
        for attempt in range(1, p.attempts + 1):
            if attempt > 1:
                ctx.check_abort()
                device.smu_pulse(p.reset_v, p.reset_width_s)
                ctx.log(f"attempt {attempt}: RESET pulse {p.reset_v:g} V, {p.reset_width_s:g} s")
            with RowBatch(ctx, "forming", ("attempt", "step", "voltage", "width", "current", "resistance",
                                           "step_current", "time"), size=32) as rows:
                for k, (volt, width) in enumerate(zip(volts.tolist(), widths.tolist())):
                    ctx.check_abort()
                    if abs(volt) > p.ceiling_v:  # unreachable after validate(); the ceiling is a promise
                        raise ParameterError("stop_v", volt, f"|voltage| <= ceiling_v = {p.ceiling_v:g} V")
                    step_current, read_current, held = self._step(device, volt, width, integration_s)
                    resistance = self._resistance(read_current)
                    rows.add(attempt, k, volt, held, read_current, resistance, step_current, ctx.elapsed_s)
                    ctx.progress((attempt - 1) * volts.size + k + 1, total)
                    if resistance <= p.target_resistance_ohm:
                        formed_at = (volt, step_current, resistance, attempt)
                        break
            if formed_at is not None:
                break
        device.release()
        # What forming knows of the device's state: conducting at the target before the first
        # step means formed already; the target reached means formed now, not reached not formed.
        before = True if initial_resistance <= p.target_resistance_ohm else None
        ctx.record_device_state(p.row, p.col, formed_at_start=before,
                                formed_at_end=True if formed_at is not None or before else False,
                                evidence=f"forming: R {initial_resistance:.4g} ohm before, target "
                                         f"{p.target_resistance_ohm:g} ohm "
                                         f"{'reached' if formed_at is not None else 'not reached'}")
        if formed_at is not None:
            volt, current, resistance, attempt = formed_at
            ctx.append_row("result", (1, volt, current, resistance, attempt))
            ctx.log(f"formed at {volt:g} V ({current:.3g} A during the step, compliance "
                    f"{p.compliance_a:g} A) in attempt {attempt}: R = {resistance:.4g} ohm")
        else:
            ctx.append_row("result", (0, math.nan, math.nan, resistance, attempt))
            ctx.log(f"not formed after {attempt} attempt(s): R = {resistance:.4g} ohm > target "
                    f"{p.target_resistance_ohm:g} ohm")
        ctx.progress(total, total)

    def _step(self, device: Device, volt: float, width: float, integration_s: float) -> tuple[float, float, float]:
        """One step and its read: (current during the step, mean read current, step duration)."""
        p = self.p
        if p.mode == "ramp":
            # The step and its reads in one list sweep: the output never rests at the step voltage
            # while software decides, and the ramp stops at this very step if the target is reached.
            points = np.r_[volt, np.full(p.reads, p.read_v)]
            parts = device.sweep(points, delay_s=width)
            current = np.concatenate([part.current_a for part in parts])
            return float(current[0]), float(np.mean(current[1:])), width + integration_s
        during = float(device.smu_pulse(volt, width).current_a[0])
        return during, float(np.mean(device.read_currents())), width

    def _resistance(self, read_current_a: float) -> float:
        ratio = self.p.read_v / read_current_a if read_current_a != 0 else math.inf
        return ratio if ratio > 0 else math.inf  # no or reversed current: not a conducting device
