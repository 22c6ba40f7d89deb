"""three-factor: the coincidence window of an optomemristor, in both orders.

In an optomemristor an electrical pulse changes the stored conductance only together with light,
the third factor. Either order works, each with its own time constant and gain:

- **light then pulse** (delay > 0): light leaves an enabling trace that decays with ``tau_e``
  after it goes off; a pulse train arriving ``delay`` later is expressed with the efficacy the
  trace still gives;
- **pulse then light** (delay < 0): the train sets an eligibility trace that decays with
  ``tau_pl``; light arriving ``|delay|`` after the train converts what is left of it into a
  conductance change (the order reward learning needs: activity first, reward later).

Each trial:

1. reset: RESET pulses under light (light enables them) bring the device to the bottom of its
   window, so every trial starts from the same conductance; then ``relax_s`` in the dark lets
   the photoconductance, the shunting and both traces die away;
2. read the conductance (``conductance_before``);
3. the stimulus: no light ("none"), the train during the light (0), a light pulse followed after
   ``delay`` by the train (delay > 0), or the train followed after ``|delay|`` by a light pulse
   (delay < 0);
4. ``relax_s`` in the dark, then read again (``conductance_after``; the photoconductance is gone).

``delta = after - before`` against the delay is the coincidence window:
``B + A_lp exp(-delay / tau_e)`` for delay >= 0 and ``B + A_pl exp(delay / tau_pl)`` for
delay < 0, the no-light trials giving B (the dark efficacy and the drift between the reads).

The step law has soft bounds: each pulse closes the fraction ``u = c h`` of the gap to the
bound, so a train of N closes ``1 - (1 - u)^N`` of it, sublinear in the efficacy h. A plain
exponential fitted to delta then comes out slower than the trace (on the simulated chip +1.2 %
at 15 pulses, +4 % at 50, +17 % at 200; inverting the step law trial by trial gives the trace's
own time constant at every size). So each repeat adds one coincident trial (delay 0) with a
longer train, ``bound_pulses``: two train sizes from the same start tell the closed fraction
(and with it the bound) apart from the efficacy, and the analysis fits the window through the
step law (:func:`memlab.analysis.metrics.optical.eligibility_soft_bound`). The stream's
``pulses`` column says which train each trial had. The delay recorded is measured on the bench
clock between light-off and the start of the train, or between the end of the train and
light-on (slightly long by the trigger's reply latency, below a millisecond); the run's log gives
both fitted time constants.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, ROW, WIDTH_S, Device, check_compliance, check_pulse_amplitudes, check_voltages,
)
from memlab.procedures.optical import Light, check_laser_power, parse_numbers
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec


def fit_eligibility(delay_s: np.ndarray, delta_s: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares fit of ``delta = B + A exp(-delay / tau)``; NaN delays (no light) count as
    infinitely late (they pin B). Returns ``(tau_s, A, B)``, or None with fewer than three
    distinct finite delays or no positive one (then tau is not determined)."""
    d = np.asarray(delay_s, dtype=np.float64)
    y = np.asarray(delta_s, dtype=np.float64)
    lit = np.isfinite(d)
    positive = d[lit & (d > 0)]
    if np.unique(d[lit]).size < 3 or positive.size == 0:
        return None

    def solve(log_tau: float) -> tuple[float, np.ndarray]:
        x = np.where(lit, np.exp(-np.where(lit, d, 0.0) / math.exp(log_tau)), 0.0)
        design = np.column_stack([x, np.ones_like(x)])
        coef = np.linalg.lstsq(design, y, rcond=None)[0]
        return float(np.sum((design @ coef - y) ** 2)), coef

    # A coarse grid finds the basin (the error is not convex in tau), a golden section refines it.
    grid = np.linspace(math.log(positive.min() / 10), math.log(positive.max() * 10), 121)
    errors = [solve(g)[0] for g in grid]
    k = int(np.argmin(errors))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if solve(a)[0] < solve(b)[0]:
            hi = b
        else:
            lo = a
    log_tau = 0.5 * (lo + hi)
    amplitude, baseline = solve(log_tau)[1]
    return math.exp(log_tau), float(amplitude), float(baseline)


@register
class ThreeFactor(Procedure):
    name = "three-factor"
    version = "2"  # 2: a longer coincident train per repeat (bound_pulses), the pulses column
    title = "Three-factor eligibility window"
    description = ("Electrical pulse trains with no light, coincident light, at set delays after a light "
                   "pulse (delay > 0) or before one (delay < 0), each from a reset device; records the "
                   "conductance change against the delay (the coincidence window of both orders) and fits "
                   "each order's time constant. Optomemristor benches.")
    parameters = (
        ROW, COL,
        Parameter("delays_s", str, "none, -2, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 2, 4", "s",
                  help="Light-to-pulse delays, comma-separated; 'none' = no light, 0 = pulses during the "
                       "light, < 0 = the pulses come first and the light |delay| after them"),
        Parameter("repeats", int, 2, "", 1, 1000, help="Trials per delay (interleaved)"),
        Parameter("power_w", float, 1e-3, "W", 0.0, 1.0, help="Optical power of the light (as set on the laser)"),
        Parameter("light_width_s", float, 0.1, "s", 1e-3, 1e4, help="Duration of the light pulse"),
        Parameter("pulse_v", float, 1.2, "V", -20.0, 20.0,
                  help="Amplitude of the train's pulses (just above threshold: small steps)"),
        replace(WIDTH_S, default=100e-9),
        Parameter("pulses", int, 50, "", 1, 1_000_000, help="Pulses per train"),
        Parameter("reset_v", float, -2.0, "V", -20.0, 0.0, help="Amplitude of the RESET pulses (under light)"),
        Parameter("reset_pulses", int, 300, "", 0, 1_000_000,
                  help="RESET pulses before each trial (0: no reset; trials then start where the last ended)"),
        Parameter("relax_s", float, 10.0, "s", 0.0, 1e5,
                  help="Dark wait before each read (>= 5 photoconductance and eligibility time constants)"),
        Parameter("bound_pulses", int, 200, "", 0, 1_000_000,
                  help="Pulses of one extra coincident trial per repeat (a second train size, which the "
                       "window's fit through the step law needs; 0: none, and the light-then-pulse time "
                       "constant comes out biased by the step law's saturation)"),
        READ_V, COMPLIANCE_A, NPLC,
        Parameter("reads", int, 10, "", 1, 1000, help="Readings averaged per read"),
    )
    streams = (StreamSpec("coincidence", (
        Column("trial", "", "i4"), Column("delay", "s", description="light-to-pulse delay; NaN = no light"),
        Column("conductance_before", "S"),
        Column("conductance_after", "S"), Column("delta", "S"),
        Column("pulses", "", "i4", description="pulses in the trial's train")),
        "one row per trial; delay NaN = no light, 0 = pulses during the light, > 0 light first, < 0 pulses "
        "first"),)
    # one series per train size: the longer coincident train's larger change stands apart
    plots = (PlotHint("coincidence", "delay", "delta", "Conductance change vs light-to-pulse delay",
                      kind="scatter", group_by="pulses"),)
    requires = ("smu", "pulser", "laser")

    def validate(self) -> None:
        p = self.p
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if p.pulse_v == 0:
            raise ParameterError("pulse_v", 0.0, "a non-zero amplitude")
        if not self.delays():
            raise ParameterError("delays_s", p.delays_s, "at least one delay (or 'none')")
        if p.bound_pulses == p.pulses:
            raise ParameterError("bound_pulses", p.bound_pulses, f"0 or a train size other than pulses = {p.pulses}")

    def delays(self) -> list[float]:
        return parse_numbers("delays_s", self.p.delays_s, allow_none=True, minimum=-1e5, maximum=1e5, unit="s")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)
        check_pulse_amplitudes(bench, "pulse_v", p.pulse_v)
        check_pulse_amplitudes(bench, "reset_v", p.reset_v)
        check_laser_power(bench, "power_w", p.power_w)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        waits = sum(0.0 if math.isnan(d) else abs(d) + p.light_width_s for d in self.delays())
        extra = p.light_width_s + 2 * p.relax_s if p.bound_pulses else 0.0
        return p.repeats * (waits + len(self.delays()) * 2 * p.relax_s + extra)

    def _reset(self, device: Device, light: Light) -> None:
        """RESET pulses under light (light enables them): the device to the bottom of its window."""
        if self.p.reset_pulses:
            light.on(self.p.power_w)
            device.pulse(self.p.reset_v, self.p.width_s, count=self.p.reset_pulses)
            light.off()

    def _coincident(self, ctx: Any, device: Device, light: Light, pulses: int) -> None:
        """The delay-0 stimulus: light for light_width_s, then the train while it stays on."""
        light.on(self.p.power_w)
        ctx.sleep(self.p.light_width_s)
        device.pulse(self.p.pulse_v, self.p.width_s, count=pulses)
        light.off()

    def execute(self, ctx: Any) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc, reads=p.reads)
        light = Light(ctx)
        light.off()
        delays = self.delays()
        period = max(2 * p.width_s, p.width_s + 1e-6)  # Device.pulse's default period
        # (delay, pulses) of each trial in a repeat: the delays, then the longer coincident train
        plan = [(delay, p.pulses) for delay in delays] + ([(0.0, p.bound_pulses)] if p.bound_pulses else [])
        total = p.repeats * len(plan)
        trial = 0
        recorded: list[tuple[float, float]] = []
        for _ in range(p.repeats):
            for delay, pulses in plan:
                ctx.check_abort()
                self._reset(device, light)
                ctx.sleep(p.relax_s)
                before = device.read_conductance()
                device.route("pulse")  # relays switched now do not count in the delay
                if math.isnan(delay):
                    device.pulse(p.pulse_v, p.width_s, count=pulses)
                    measured = math.nan
                elif delay == 0:
                    self._coincident(ctx, device, light, pulses)
                    measured = 0.0
                elif delay > 0:
                    light.pulse(p.power_w, p.light_width_s)
                    t_off = ctx.elapsed_s
                    ctx.sleep(delay)
                    device.pulse(p.pulse_v, p.width_s, count=pulses)
                    measured = ctx.elapsed_s - pulses * period - t_off
                else:
                    device.pulse(p.pulse_v, p.width_s, count=pulses)
                    t_end = ctx.elapsed_s
                    ctx.sleep(-delay)
                    t_on = ctx.elapsed_s
                    light.pulse(p.power_w, p.light_width_s)
                    measured = -(t_on - t_end)
                ctx.sleep(p.relax_s)
                after = device.read_conductance()
                ctx.append_row("coincidence", (trial, measured, before, after, after - before, pulses))
                if pulses == p.pulses:  # the window of one train size (the log's plain fit)
                    recorded.append((measured, after - before))
                trial += 1
                ctx.progress(trial, total)
        device.release()
        measured_delays, deltas = np.array(recorded).T
        dark = np.isnan(measured_delays)
        for label, side, name in (("light then pulse", measured_delays >= 0, "tau_e"),
                                  ("pulse then light", measured_delays < 0, "tau_pl")):
            fit = fit_eligibility(np.where(side, np.abs(measured_delays), np.nan)[side | dark],
                                  deltas[side | dark])
            if fit is None:
                ctx.log(f"{label}: window not fitted: it needs three distinct delays of that sign, one of them "
                        "non-zero")
            else:
                tau, amplitude, baseline = fit
                ctx.log(f"{label}: {name} = {tau:.4g} s (delta = {baseline:.4g} S + {amplitude:.4g} S "
                        f"x exp(-|delay| / {name}))")
