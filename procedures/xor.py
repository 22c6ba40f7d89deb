"""xor: a single optomemristor computing XOR of a light input and a voltage input.

Encoding (the defaults suit the simulated optomemristor preset on the default bench):

- input A (light): 0 = dark, 1 = the laser on at ``power_w`` (steady, read after ``settle_s``);
- input B (voltage): 0 = read at ``v_low``, 1 = read at ``v_high``;
- output: the read current I, thresholded by a band relative to the dark, low-voltage current
  I00 measured in the same trial: output 1 when ``band_low * I00 <= I <= band_high * I00``.

Why a band. The device's current is a product, ``I = G_A * f(V_B)``: light raises the apparent
conductance from G (dark) to ``G_A = (G + G_ph(P)) / (1 + k_shunt P)`` (photoconductance minus
shunting), the voltage raises ``f(V) = V0 sinh(V / V0)``. A product of two increasing factors is
increasing in each input, so (1,1) gives the largest current and no single threshold separates
the mixed inputs from both (0,0) and (1,1): the window comparator (a band) supplies the
non-monotone step, and the device supplies the multiplication that puts (0,1) and (1,0) together
between them. Choose each input's factor near the same value r = sqrt(band_low * band_high):
then (0,0) = 1, (0,1) ~ (1,0) ~ r and (1,1) ~ r^2, each separated by a factor r from its band edge.

With the preset (g_ph_ref 5 uS at 1 mW absorbed, gamma 0.5, k_shunt 1/mW), a fresh device at
G ~ 0.5 uS and 0.1 mW absorbed (0.125 mW set: 80 % reaches the chip on the default bench) gives
``(0.5 + 1.58) / 1.1 = 1.9 uS``, a factor ~3.8; ``v_low = 0.05 V``, ``v_high = 0.2 V`` give
``sinh(0.2) / sinh(0.05) = 4.03``. The band [2, 8] then leaves a factor of ~2 on every side, two
hundred times the 1 % read noise. The light factor depends on G: it needs a low stored
conductance (fresh devices start at Gmin; else RESET the device under light), and falls towards
1 for a device near Gmax, which then cannot do XOR; the run logs both factors.

Each trial reads the dark pair after ``relax_s`` in the dark (photoconductance relaxed), then the
lit pair after ``settle_s`` of light; each pair is one list sweep. ``truth_table`` gets four
rows per trial; the log says whether every trial gave XOR.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import COL, COMPLIANCE_A, NPLC, ROW, Device, check_compliance, check_voltages
from memlab.procedures.optical import Light, check_laser_power
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec


@register
class XOR(Procedure):
    name = "xor"
    version = "1"
    title = "Single-device XOR (light x voltage)"
    description = ("XOR of two binary inputs on one optomemristor: A = light off/on, B = low/high read "
                   "voltage, output = the current inside a band relative to the dark low-voltage current. "
                   "Records the truth table the device produced and whether it is XOR.")
    parameters = (
        ROW, COL,
        Parameter("power_w", float, 0.125e-3, "W", 0.0, 1.0, help="Laser power for input A = 1 (as set on the laser)"),
        Parameter("v_low", float, 0.05, "V", -2.0, 2.0, help="Read voltage for input B = 0"),
        Parameter("v_high", float, 0.2, "V", -2.0, 2.0,
                  help="Read voltage for input B = 1 (below the switching threshold)"),
        Parameter("band_low", float, 2.0, "", 1.0, 1e6, help="Output 1 from this multiple of the (0,0) current"),
        Parameter("band_high", float, 8.0, "", 1.0, 1e6, help="Output 1 up to this multiple of the (0,0) current"),
        Parameter("settle_s", float, 0.1, "s", 0.0, 1e4,
                  help="Light on before the lit reads (>= 5 photoconductance rise times)"),
        Parameter("relax_s", float, 10.0, "s", 0.0, 1e5,
                  help="Dark wait before the dark reads (>= 5 photoconductance relaxation times)"),
        Parameter("trials", int, 1, "", 1, 10_000, help="Truth tables to measure"),
        replace(COMPLIANCE_A, default=1e-4), NPLC,
        Parameter("reads", int, 10, "", 1, 1000, help="Readings averaged per input pattern"),
    )
    streams = (StreamSpec("truth_table", (
        Column("input_a", "", "i1"), Column("input_b", "", "i1"), Column("current", "A"),
        Column("output", "", "i1"), Column("expected", "", "i1")),
        "four rows per trial: A = light, B = read voltage, output = current inside the band"),
        StreamSpec("result", (Column("xor", "", "i1", description="0/1: every truth table measured was XOR"),
                              Column("xor_trials", "", "i4"), Column("trials", "", "i4")),
                   "xor = 1 when every truth table measured was XOR"))
    plots = (PlotHint("truth_table", "input_b", "current", "Current per input pattern", kind="scatter",
                      group_by="input_a", log_y=True),)
    requires = ("smu", "laser")

    def validate(self) -> None:
        p = self.p
        if not 0 < p.v_low < p.v_high:
            raise ParameterError("v_low", p.v_low, f"0 < v_low < v_high = {p.v_high:g} V (the voltage input "
                                                   "raises the current)")
        if not p.band_low < p.band_high:
            raise ParameterError("band_high", p.band_high, f"> band_low = {p.band_low:g}")
        if p.band_low <= 1.0:
            raise ParameterError("band_low", p.band_low, "> 1 (the (0,0) current itself must read 0)")
        if p.power_w == 0:
            raise ParameterError("power_w", 0.0, "> 0 W (light is input A)")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        check_voltages(bench, "v_high", p.v_high)
        check_compliance(bench, p.compliance_a)
        check_laser_power(bench, "power_w", p.power_w)

    def estimate_s(self, bench: Any) -> float:
        return self.p.trials * (self.p.relax_s + self.p.settle_s + 0.05)

    def execute(self, ctx: Any) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.v_high, compliance_a=p.compliance_a, nplc=p.nplc)
        light = Light(ctx)
        light.off()
        levels = np.repeat([p.v_low, p.v_high], p.reads)
        expected = np.array([0, 1, 1, 0])
        inputs_a, inputs_b = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
        good = 0
        for trial in range(p.trials):
            ctx.check_abort()
            ctx.sleep(p.relax_s)
            dark = np.concatenate([part.current_a for part in device.sweep(levels)])
            light.on(p.power_w)
            ctx.sleep(p.settle_s)
            lit = np.concatenate([part.current_a for part in device.sweep(levels)])
            light.off()
            current = np.array([dark[:p.reads].mean(), dark[p.reads:].mean(), lit[:p.reads].mean(),
                                lit[p.reads:].mean()])
            ratio = current / current[0]
            output = ((ratio >= p.band_low) & (ratio <= p.band_high)).astype(np.int8)
            ctx.append("truth_table", {"input_a": inputs_a, "input_b": inputs_b, "current": current,
                                       "output": output, "expected": expected})
            is_xor = bool(np.array_equal(output, expected))
            good += is_xor
            ctx.log(f"trial {trial}: currents relative to (0,0): (0,1) {ratio[1]:.3g}, (1,0) {ratio[2]:.3g}, "
                    f"(1,1) {ratio[3]:.3g}; band [{p.band_low:g}, {p.band_high:g}]; truth table "
                    f"{''.join(map(str, output))} for inputs 00 01 10 11: {'XOR' if is_xor else 'not XOR'}")
            ctx.progress(trial + 1, p.trials)
        device.release()
        verdict = "XOR" if good == p.trials else "not XOR"
        ctx.append_row("result", (int(good == p.trials), good, p.trials))
        ctx.log(f"result: {verdict} ({good}/{p.trials} truth tables were XOR)")
