"""relaxation: a stimulus, then fast reads of how the conductance relaxes.

The stimulus is an electrical pulse train (pulse generator burst) or a light pulse (laser output
switched on the bench clock). Right after it, the device is read at the read voltage by SMU list
sweeps with a delay between points: one sweep for linear spacing, one per group of points for
logarithmic spacing (within a group the points are evenly spaced, the groups a decade or so
apart), so the decay is sampled from milliseconds to hours with one bulk fetch per group.

The time axis (``decay.time``, seconds since the stimulus ended) is the bench-clock time at which
each sweep was requested plus the SMU's own time stamps of its points; it runs early by the
sweep's set-up time (the commands that load the list, a few ms on a Keithley 2450).

Uses: the photoconductance of an optomemristor relaxing after light (an exponential with
``tau_ph``), a volatile device forgetting a pulse train, or the early drift of a non-volatile one.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, ROW, WIDTH_S, Device, check_compliance, check_pulse_amplitudes, check_voltages,
    line_frequency_hz,
)
from memlab.procedures.context import instrument_for
from memlab.procedures.optical import Light, check_laser_power
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

#: below this a sweep delay is left out: the SMU's own per-point time is that long anyway
_MIN_DELAY_S = 1e-4


def sample_plan(first_s: float, duration_s: float, points: int, spacing: str,
                max_points: int) -> list[np.ndarray]:
    """The target read times after the stimulus, grouped into list sweeps.

    Linear: one group (split at the SMU's longest list). Log: geometric times, in groups of about
    one decade (at least 2 points); each group is read evenly spaced between its first and last
    time, so one sweep delay serves it.
    """
    if spacing == "linear":
        times = np.linspace(first_s, duration_s, points)
        return [times[i:i + max_points] for i in range(0, points, max_points)]
    times = np.geomspace(first_s, duration_s, points)
    decades = max(1.0, math.log10(duration_s / first_s))
    size = min(max(2, round(points / decades)), max_points)
    groups = [times[i:i + size] for i in range(0, points, size)]
    return [np.linspace(g[0], g[-1], len(g)) for g in groups]


@register
class Relaxation(Procedure):
    name = "relaxation"
    version = "1"
    title = "Relaxation after a stimulus"
    description = ("An electrical pulse train or a light pulse, then fast reads of the decay (list sweeps "
                   "with a delay, logarithmic or linear time axis): photoconductance relaxation of "
                   "optomemristors, volatile devices, early drift.")
    parameters = (
        ROW, COL,
        Parameter("stimulus", str, "pulses", "", choices=("pulses", "light"),
                  help="pulses: a burst from the pulse generator; light: one laser pulse"),
        Parameter("amplitude_v", float, 2.0, "V", -20.0, 20.0, help="Amplitude of the stimulus pulses"),
        replace(WIDTH_S, default=80e-9),
        Parameter("pulses", int, 20, "", 1, 1_000_000, help="Number of pulses in the stimulus train"),
        Parameter("power_w", float, 1e-3, "W", 0.0, 1.0, help="Optical power of the light stimulus"),
        Parameter("light_width_s", float, 0.1, "s", 1e-3, 1e4, help="Duration of the light stimulus"),
        Parameter("duration_s", float, 100.0, "s", 1e-3, 1e7, help="Time of the last read after the stimulus"),
        Parameter("first_s", float, 1e-3, "s", 1e-4, 1e6,
                  help="Target time of the first read after the stimulus (log spacing starts here)"),
        Parameter("points", int, 60, "", 2, 100_000, help="Number of reads of the decay"),
        Parameter("spacing", str, "log", "", choices=("log", "linear"), help="How the reads spread in time"),
        Parameter("baseline_reads", int, 5, "", 1, 1000, help="Readings averaged before the stimulus (logged)"),
        READ_V, COMPLIANCE_A, NPLC,
    )
    streams = (StreamSpec("decay", (Column("time", "s", description="since the stimulus ended"), Column("current", "A"),
                                    Column("conductance", "S")),
                          "reads after the stimulus; time since the stimulus ended"),)
    plots = (PlotHint("decay", "time", "conductance", "Relaxation", kind="scatter", log_x=True),)
    requires = ("smu",)

    def validate(self) -> None:
        p = self.p
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if p.first_s >= p.duration_s:
            raise ParameterError("first_s", p.first_s, f"< duration_s = {p.duration_s:g} s")
        if p.stimulus == "pulses" and p.amplitude_v == 0:
            raise ParameterError("amplitude_v", 0.0, "a non-zero pulse amplitude")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)
        role = "pulser" if p.stimulus == "pulses" else "laser"
        if instrument_for(bench, role) is None:
            raise ParameterError("stimulus", p.stimulus, f"a stimulus the bench can give: it has no {role}")
        if p.stimulus == "pulses":
            check_pulse_amplitudes(bench, "amplitude_v", p.amplitude_v)
        else:
            check_laser_power(bench, "power_w", p.power_w)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        stimulus = p.light_width_s if p.stimulus == "light" else 2 * p.pulses * p.width_s
        return stimulus + p.duration_s

    def execute(self, ctx: Any) -> None:
        p = self.p
        smu = ctx.bench.smu
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc)
        g_before = device.read_conductance(p.baseline_reads)
        ctx.log(f"before the stimulus: G = {g_before:.4g} S")
        ctx.check_abort()
        if p.stimulus == "pulses":
            device.pulse(p.amplitude_v, p.width_s, count=p.pulses)
            what = f"{p.pulses} pulses of {p.amplitude_v:g} V, {p.width_s:g} s"
        else:
            Light(ctx).pulse(p.power_w, p.light_width_s)
            what = f"{p.light_width_s:g} s of light at {p.power_w:g} W"
        t_end = ctx.elapsed_s
        device.route("smu")  # switch now: the first sweep's request time is then when it starts
        integration_s = p.nplc / line_frequency_hz(ctx.bench)
        groups = sample_plan(p.first_s, p.duration_s, p.points, p.spacing, smu.max_sweep_points)
        done = 0
        for group in groups:
            ctx.check_abort()
            step = (group[-1] - group[0]) / (len(group) - 1) if len(group) > 1 else 0.0
            delay = step - integration_s
            delay = delay if delay >= _MIN_DELAY_S else 0.0
            wait = group[0] - (delay + integration_s) - (ctx.elapsed_s - t_end)
            if wait > 0:  # else the reads before ran past this group's start: read at once
                ctx.sleep(wait)
            t_request = ctx.elapsed_s - t_end
            (result,) = device.sweep(np.full(len(group), p.read_v), delay)
            stamps = result.time_s
            first = stamps[1] - stamps[0] if len(stamps) > 1 else delay + integration_s
            ctx.append("decay", {"time": t_request + first + stamps, "current": result.current_a,
                                 "conductance": result.current_a / p.read_v})
            done += len(group)
            ctx.progress(done, p.points)
        device.release()
        ctx.log(f"relaxation after {what}: {p.points} reads over {ctx.elapsed_s - t_end:.4g} s")
