"""write-verify: program conductance levels by incremental step pulse programming (ISPP).

Each level: read; while outside target +- tolerance, fire one pulse and read again. In ``ispp``
mode pulses only push towards the target from below (SET pulses of growing amplitude); a device
that overshoots is RESET to the bottom and the ramp restarts. In ``window`` ("ping-pong") mode the
polarity follows the error: SET below the window, RESET above it, and the amplitude ramp restarts
from the start voltage each time the error changes sign.
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
class WriteVerify(Procedure):
    name = "write-verify"
    version = "1"
    title = "Write-verify programming"
    description = ("Programs one device to a target conductance, or to N levels spread evenly "
                   "(in log) across a range, by pulse-and-read until within tolerance; records "
                   "pulses used, final error and success per level.")
    parameters = (
        ROW, COL,
        Parameter("levels", int, 8, "", 1, 256, help="Number of levels (1: program target_s)"),
        Parameter("target_s", float, 2e-6, "S", 1e-12, 1.0, help="Target when levels = 1"),
        Parameter("g_low_s", float, 1e-6, "S", 1e-12, 1.0, help="Lowest level when levels > 1"),
        Parameter("g_high_s", float, 8e-6, "S", 1e-12, 1.0, help="Highest level when levels > 1"),
        Parameter("tolerance", float, 0.01, "", 1e-4, 0.5, help="Allowed relative error of a level"),
        Parameter("mode", str, "window", "", choices=("ispp", "window"),
                  help="ispp: SET ramps only (RESET and restart on overshoot); window: ping-pong"),
        Parameter("v_start", float, 1.1, "V", 0.0, 20.0, help="First |amplitude| of a ramp"),
        Parameter("v_step", float, 0.02, "V", 1e-4, 5.0, help="Amplitude increment per pulse"),
        Parameter("v_stop", float, 2.5, "V", 0.0, 20.0, help="Largest |amplitude| of a ramp"),
        Parameter("reset_v", float, -2.5, "V", -20.0, 0.0, help="Amplitude of a full RESET (ispp)"),
        replace(WIDTH_S, default=80e-9),
        Parameter("max_pulses", int, 300, "", 1, 100_000, help="Pulses allowed per level"),
        READ_V, COMPLIANCE_A, NPLC,
        Parameter("reads", int, 3, "", 1, 1000, help="Readings averaged per verify"),
    )
    streams = (
        StreamSpec("verify", (Column("level", "", "i4"), Column("pulse", "", "i4"), Column("amplitude", "V"),
                              Column("conductance", "S"), Column("target", "S"), Column("time", "s")),
                   "every verify read"),
        StreamSpec("levels", (Column("level", "", "i4"), Column("target", "S"), Column("final", "S"),
                              Column("error", "", description="relative: final / target - 1"),
                              Column("pulses", "", "i4"), Column("success", "", "i1", description="0/1: within tolerance")),
                   "one row per level"),
    )
    plots = (PlotHint("verify", "pulse", "conductance", "Conductance vs pulse", group_by="level", log_y=True),
             PlotHint("levels", "target", "final", "Final vs target", kind="scatter", log_x=True, log_y=True))
    requires = ("smu", "pulser")

    def validate(self) -> None:
        p = self.p
        if p.levels > 1 and p.g_low_s >= p.g_high_s:
            raise ParameterError("g_high_s", p.g_high_s, f"> g_low_s = {p.g_low_s:g} S")
        if p.v_stop < p.v_start:
            raise ParameterError("v_stop", p.v_stop, f">= v_start = {p.v_start:g} V")
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage")

    def check(self, bench) -> None:
        super().check(bench)
        check_pulse_amplitudes(bench, "v_stop", self.p.v_stop)
        check_pulse_amplitudes(bench, "reset_v", self.p.reset_v)
        check_voltages(bench, "read_v", self.p.read_v)
        check_compliance(bench, self.p.compliance_a)

    def targets(self) -> np.ndarray:
        p = self.p
        if p.levels == 1:
            return np.array([p.target_s])
        return np.geomspace(p.g_low_s, p.g_high_s, p.levels)

    def estimate_s(self, bench) -> float:
        return self.p.levels * 40 * (self.p.reads * (self.p.nplc / 50 + 2e-4) + 0.015)

    def execute(self, ctx) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        targets = self.targets()
        successes = 0
        for level, target in enumerate(targets):
            ctx.check_abort()
            final, pulses, ok = self._program(ctx, device, level, float(target))
            error = (final - target) / target
            successes += ok
            ctx.append_row("levels", (level, target, final, error, pulses, int(ok)))
            if not ok:
                ctx.log(f"level {level}: target {target:.4g} S not reached in {pulses} pulses "
                        f"(final {final:.4g} S, error {error:+.2%})", 30)
            ctx.progress(level + 1, len(targets))
        device.release()
        ctx.log(f"{successes}/{len(targets)} levels within {p.tolerance:.2%}")

    def _program(self, ctx, device: Device, level: int, target: float) -> tuple[float, int, bool]:
        p = self.p
        g = device.read_conductance()
        ctx.append_row("verify", (level, 0, 0.0, g, target, ctx.elapsed_s))
        amplitude, direction, pulses = 0.0, 0, 0
        while abs(g - target) > p.tolerance * target and pulses < p.max_pulses:
            ctx.check_abort()
            want = 1 if g < target else -1
            if p.mode == "ispp" and want < 0:
                device.pulse(p.reset_v, p.width_s)  # overshoot: back to the bottom, ramp again
                amplitude, direction = p.reset_v, 0
            else:
                if want != direction:
                    amplitude, direction = p.v_start, want
                else:
                    amplitude = min(abs(amplitude) + p.v_step, p.v_stop)
                amplitude = abs(amplitude) * want
                device.pulse(amplitude, p.width_s)
            pulses += 1
            g = device.read_conductance()
            ctx.append_row("verify", (level, pulses, amplitude, g, target, ctx.elapsed_s))
        return g, pulses, abs(g - target) <= p.tolerance * target
