"""xor: a single optomemristor computing XOR of two light inputs, by its non-monotone response.

Encoding (the paper's mechanism: Sarwat et al., Nat. Commun. 13, 2022, a single-device XOR from
photoconductance and shunting; the defaults suit the simulated optomemristor preset):

- inputs A and B are light: each input at 1 adds ``power_w`` to the laser's power (one laser:
  the two inputs add on the device), so the device sees 0, P or 2P;
- the device is read at one fixed voltage ``read_v`` after ``settle_s`` of that light;
- output 1 when the read current is above one threshold (a single threshold, not a band).

Why it is realisable. In steady light of absorbed power P the current is

    I(P) = (G + g_ph(P)) f(V) / (1 + k_shunt P),   g_ph(P) = g_ref (P / p_ref)^gamma,

photoconductance rising with the light (gamma < 1) while shunting divides by a factor that grows
linearly with it. I(P) therefore rises from G f(V), peaks near ``k_shunt P = gamma / (1 - gamma)``
(for G << g_ph) and then falls. A monotone response gives AND or OR at any single threshold; this
one does not: with P beyond the peak, one input (P) gives a current above both the dark current
(P = 0) and the both-on current (2P), where shunting wins. XOR then needs

    I(P) > theta > max(I(0), I(2P)),

which holds when ``(G + g_ph(P)) / (1 + kP) > (G + g_ph(2P)) / (1 + 2kP)`` by more than the read
noise, i.e. enough shunting (for G << g_ph: ``2^gamma (1 + kP) / (1 + 2kP) < 1``, so
``kP > (2^gamma - 1) / (2 - 2^gamma)``, 0.71 for gamma = 0.5) and enough photoconductance over
G. With the preset (gamma 0.5, k_shunt 1/mW, g_ref 5 uS at 1 mW) and 4 mW absorbed per input
(5 mW set, 80 % reaching the chip): I(P)/f(V) = (0.2 + 10) / 5 = 2.0 uS, I(2P)/f(V) =
(0.2 + 14.1) / 9 = 1.6 uS, dark 0.2 uS: a margin of 0.4 uS, 20 % of the one-input current and
~60 read-noise sigmas of a 10-reading average.

The run first measures the four responses ``calibration_trials`` times and sets the threshold
half way between the one-input class and the zero-output classes. When the one-input response is
not above both others by ``margin_sigmas`` noise sigmas, it reports "XOR not realisable on this
device" with the measured responses and stops (the shunting is too weak for the light used, or
the device has no photo-response). Otherwise it runs ``trials`` truth tables with device noise
and reports the accuracy and the margin.
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

PATTERNS = ((0, 0), (0, 1), (1, 0), (1, 1))
EXPECTED = (0, 1, 1, 0)


@register
class XOR(Procedure):
    name = "xor"
    version = "2"
    title = "Single-device XOR (two light inputs, shunting)"
    description = ("XOR of two binary light inputs on one optomemristor read at a fixed voltage: photoconductance "
                   "rises with the light, shunting divides it, so one input on gives more current than none "
                   "or both. One threshold on the current, set from calibration trials; records the four "
                   "responses, the margin and the accuracy over repeated trials, or reports that XOR is not "
                   "realisable on the device.")
    parameters = (
        ROW, COL,
        Parameter("power_w", float, 5e-3, "W", 0.0, 1.0,
                  help="Laser power of one input at 1 (as set on the laser); both inputs at 1 = twice it"),
        Parameter("read_v", float, 0.2, "V", -2.0, 2.0, help="Read voltage (fixed; below the switching threshold)"),
        Parameter("settle_s", float, 0.1, "s", 0.0, 1e4,
                  help="Light on before the read (>= 5 photoconductance and shunting rise times)"),
        Parameter("relax_s", float, 10.0, "s", 0.0, 1e5,
                  help="Dark wait after each lit pattern (>= 5 photoconductance relaxation times)"),
        Parameter("calibration_trials", int, 5, "", 1, 1000,
                  help="Truth tables measured first to set the threshold"),
        Parameter("trials", int, 100, "", 1, 100_000, help="Truth tables measured at that threshold"),
        Parameter("margin_sigmas", float, 3.0, "", 0.0, 1e3,
                  help="Margin needed between the classes, in noise sigmas of one response"),
        replace(COMPLIANCE_A, default=1e-4), NPLC,
        Parameter("reads", int, 10, "", 1, 1000, help="Readings averaged per input pattern"),
    )
    streams = (
        StreamSpec("truth_table", (
            Column("trial", "", "i4"), Column("input_a", "", "i1"), Column("input_b", "", "i1"),
            Column("current", "A"), Column("output", "", "i1"), Column("expected", "", "i1")),
            "four rows per trial at the threshold (trial -1 .. -n: calibration, output from its threshold)"),
        StreamSpec("responses", (
            Column("input_a", "", "i1"), Column("input_b", "", "i1"), Column("current", "A"),
            Column("current_sd", "A"), Column("trials", "", "i4")),
            "the four responses measured in the calibration trials: mean and standard deviation"),
        StreamSpec("result", (
            Column("xor", "", "i1", description="0/1: the truth tables were XOR (realisable, >= 99 % right)"), Column("xor_trials", "", "i4"), Column("trials", "", "i4"),
            Column("realisable", "", "i1"), Column("threshold", "A"), Column("margin", "A"),
            Column("margin_sigmas", ""), Column("accuracy", "")),
            "xor = 1 when realisable and >= 99 % of the outputs were right; margin = lowest one-input "
            "response minus highest zero-output response"),
    )
    plots = (PlotHint("truth_table", "input_b", "current", "Current per input pattern", kind="scatter",
                      group_by="input_a"),)
    requires = ("smu", "laser")

    def validate(self) -> None:
        p = self.p
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (the output is the read current)")
        if p.power_w == 0:
            raise ParameterError("power_w", 0.0, "> 0 W (light is the input)")

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)
        check_laser_power(bench, "power_w", p.power_w)
        check_laser_power(bench, "power_w (x 2: both inputs on)", 2 * p.power_w)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        return (p.calibration_trials + p.trials) * 3 * (p.settle_s + p.relax_s)

    def execute(self, ctx: Any) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                        reads=p.reads)
        light = Light(ctx)
        light.off()
        ctx.sleep(p.relax_s)
        total = p.calibration_trials + p.trials

        def truth_table() -> np.ndarray:
            currents = np.empty(4)
            for k, (a, b) in enumerate(PATTERNS):
                ctx.check_abort()
                power = (a + b) * p.power_w
                if power > 0:
                    light.on(power)
                    ctx.sleep(p.settle_s)
                currents[k] = float(np.mean(device.read_currents()))
                if power > 0:
                    light.off()
                    ctx.sleep(p.relax_s)
            return currents

        inputs_a = np.array([a for a, _ in PATTERNS], np.int8)
        inputs_b = np.array([b for _, b in PATTERNS], np.int8)
        expected = np.array(EXPECTED, np.int8)
        calibration = np.array([truth_table() for _ in range(p.calibration_trials)])
        ctx.progress(p.calibration_trials, total)
        sign = 1.0 if p.read_v > 0 else -1.0  # classes are ordered by |I|
        mean = calibration.mean(axis=0)
        sd = calibration.std(axis=0, ddof=1) if p.calibration_trials > 1 else np.zeros(4)
        ctx.append("responses", {"input_a": inputs_a, "input_b": inputs_b, "current": mean, "current_sd": sd,
                                 "trials": np.full(4, p.calibration_trials, np.int32)})
        ones, zeros = sign * mean[expected == 1], sign * mean[expected == 0]
        margin = float(ones.min() - zeros.max())
        threshold = sign * float(ones.min() + zeros.max()) / 2
        noise = float(np.max(sd)) if p.calibration_trials > 1 else 0.0
        margin_sigmas = margin / noise if noise > 0 else (np.inf if margin > 0 else -np.inf)
        responses = ", ".join(f"{a}{b}: {m:.4g} A" for (a, b), m in zip(PATTERNS, mean))
        for trial, currents in enumerate(calibration):
            output = (sign * currents > sign * threshold).astype(np.int8)
            ctx.append("truth_table", {"trial": np.full(4, -1 - trial, np.int32), "input_a": inputs_a,
                                       "input_b": inputs_b, "current": currents, "output": output,
                                       "expected": expected})
        if margin <= 0 or margin_sigmas < p.margin_sigmas:
            why = ("the one-input response is not above both the dark and the both-inputs response: the shunting "
                   "is too weak for this light (or the device has no photo-response)" if margin <= 0 else
                   f"the margin between the classes is {margin_sigmas:.3g} noise sigmas, below margin_sigmas = "
                   f"{p.margin_sigmas:g}")
            ctx.log(f"XOR not realisable on this device: {why}; measured responses {responses}", 30)
            ctx.append_row("result", (0, 0, 0, 0, threshold, margin, margin_sigmas, np.nan))
            device.release()
            return
        ctx.log(f"responses {responses}; threshold {threshold:.4g} A, margin {margin:.4g} A "
                f"({margin_sigmas:.3g} noise sigmas)")
        correct = good_tables = 0
        for trial in range(p.trials):
            currents = truth_table()
            output = (sign * currents > sign * threshold).astype(np.int8)
            ctx.append("truth_table", {"trial": np.full(4, trial, np.int32), "input_a": inputs_a,
                                       "input_b": inputs_b, "current": currents, "output": output,
                                       "expected": expected})
            correct += int(np.sum(output == expected))
            good_tables += int(np.array_equal(output, expected))
            ctx.progress(p.calibration_trials + trial + 1, total)
        device.release()
        accuracy = correct / (4 * p.trials)
        is_xor = accuracy >= 0.99
        ctx.append_row("result", (int(is_xor), good_tables, p.trials, 1, threshold, margin, margin_sigmas, accuracy))
        ctx.log(f"result: {'XOR' if is_xor else 'not XOR'} (accuracy {accuracy:.2%} over {p.trials} truth tables, "
                f"{good_tables} entirely right; margin {margin:.4g} A at threshold {threshold:.4g} A)")
