"""crossbar-infer: program trained weights into the crossbar by write-verify, then measure the
inference accuracy as the conductances drift, against the ideal (floating-point) network.

The weights come from a ``crossbar-train`` run file (its last epoch's floating-point weights) or a
``.npy`` file of shape 10 x 4 (the built-in task's inputs x classes). Weight ``w`` becomes the pair
``G+ = g_base_s + max(w, 0) * g_span_s``, ``G- = g_base_s + max(-w, 0) * g_span_s``, with
``g_span_s`` chosen so that the largest |w| reaches ``g_high_s``. After programming, the test set
is classified through the crossbar at ``points`` log-spaced times from ``first_read_s`` to
``duration_s``; each row of ``inference`` holds the accuracy of the crossbar, of the ideal network
(the same every time: the target the drift moves away from) and the weights' mean error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import COMPLIANCE_A, NPLC, WIDTH_S
from memlab.procedures.crossbar_train import CLASSES, INPUTS
from memlab.procedures.learning import PairArray, accuracy, check_pair_bench, patterns_3x3
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, RunFileError, RunReader, StreamSpec


def load_weights(path: str) -> np.ndarray:
    """Trained weights (inputs x classes) from a crossbar-train run file or a .npy file."""
    file = Path(path)
    allowed = f"a crossbar-train run file or a .npy file of {INPUTS} x {CLASSES} finite weights"
    if not file.is_file():
        raise ParameterError("weights_from", path, allowed)
    try:
        if file.suffix == ".npy":
            weights = np.load(file, allow_pickle=False)
        else:
            with RunReader(file) as reader:
                if reader.procedure != "crossbar-train" or len(reader.stream("weights")) == 0:
                    raise ParameterError("weights_from", path, allowed)
                weights = np.asarray(reader.stream("weights").column("float_weights")[-1])
    except (OSError, ValueError, RunFileError, KeyError) as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError("weights_from", path, f"{allowed} ({exc})") from None
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (INPUTS, CLASSES) or not np.all(np.isfinite(weights)) or not np.any(weights):
        raise ParameterError("weights_from", path, allowed)
    return weights


@register
class CrossbarInfer(Procedure):
    name = "crossbar-infer"
    version = "1"
    title = "Crossbar inference under drift"
    description = ("Programs trained weights into differential pairs by write-verify, then classifies the "
                   "test set through the crossbar at log-spaced times, against the ideal network.")
    parameters = (
        Parameter("row", int, 0, "", 0, 4095, help="First chip row of the 10 x 8 sub-array"),
        Parameter("col", int, 0, "", 0, 4095, help="First chip column of the 10 x 8 sub-array"),
        Parameter("weights_from", str, "", "", help="crossbar-train run file or .npy weights (10 x 4)"),
        Parameter("test_samples", int, 64, "", 4, 10_000, help="Held-out patterns"),
        Parameter("noise", float, 0.1, "", 0.0, 0.5, help="Probability that a pixel is flipped"),
        Parameter("seed", int, 0, "", 0, 2**32 - 1, help="Seed of the data set"),
        Parameter("gain", float, 4.0, "", 0.01, 1e3, help="Logits per unit weight (as in training)"),
        Parameter("g_base_s", float, 1e-6, "S", 1e-9, 1.0, help="Conductance of a zero weight's devices"),
        Parameter("g_high_s", float, 6e-6, "S", 1e-9, 1.0, help="Conductance of the largest |weight|"),
        Parameter("tolerance", float, 0.05, "", 1e-3, 0.5, help="Allowed relative programming error"),
        Parameter("max_pulses", int, 300, "", 1, 100_000, help="Most pulses per device"),
        Parameter("input_v", float, 0.1, "V", 0.001, 0.5, help="Voltage of an 'on' input"),
        Parameter("set_v", float, 1.8, "V", 0.0, 20.0, help="Potentiating pulse amplitude"),
        Parameter("reset_v", float, -2.0, "V", -20.0, 0.0, help="Depressing pulse amplitude"),
        WIDTH_S,
        Parameter("first_read_s", float, 1.0, "s", 1e-3, 1e9, help="First inference after programming"),
        Parameter("duration_s", float, 86400.0, "s", 1e-3, 1e9, help="Last inference after programming"),
        Parameter("points", int, 12, "", 1, 10_000, help="Inferences, log-spaced in time"),
        Parameter("read_v", float, 0.1, "V", 0.001, 0.5, help="Read voltage of verify and read-back"),
        COMPLIANCE_A, NPLC,
        Parameter("reads", int, 2, "", 1, 1000, help="Readings averaged per read"),
    )
    streams = (
        StreamSpec("programming", (
            Column("target", "S", shape=(2, INPUTS, CLASSES), description="G+ then G-"),
            Column("final", "S", shape=(2, INPUTS, CLASSES)),
            Column("pulses", "", "i4", shape=(2, INPUTS, CLASSES))), "write-verify of every device"),
        StreamSpec("inference", (
            Column("time", "s", description="since programming ended"), Column("accuracy", ""),
            Column("ideal_accuracy", ""), Column("weight_error", "", description="mean |w - w_ideal| / max |w_ideal|")),
            "test accuracy through the crossbar at log-spaced times"),
    )
    plots = (PlotHint("inference", "time", "accuracy", "Inference accuracy vs time", log_x=True),)
    requires = ("smu", "pulser")

    def validate(self) -> None:
        p = self.p
        if p.g_high_s <= p.g_base_s:
            raise ParameterError("g_high_s", p.g_high_s, f"> g_base_s = {p.g_base_s:g} S")
        if p.duration_s < p.first_read_s:
            raise ParameterError("duration_s", p.duration_s, f">= first_read_s = {p.first_read_s:g} s")
        if p.read_v < p.input_v:
            raise ParameterError("read_v", p.read_v, f">= input_v = {p.input_v:g} V")
        self.weights = load_weights(p.weights_from)

    def devices(self) -> list[tuple[int, int]]:
        return PairArray.chip_devices(self.p.row, self.p.col, INPUTS, CLASSES)

    def check(self, bench: Any) -> None:
        super().check(bench)
        check_pair_bench(bench, self.p)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        return 2 * INPUTS * CLASSES * 0.5 + p.duration_s

    def targets(self) -> tuple[np.ndarray, float]:
        """G+ and G- targets (2 x inputs x classes) and the conductance span of a weight of 1."""
        p = self.p
        g_span = (p.g_high_s - p.g_base_s) / float(np.max(np.abs(self.weights)))
        plus = p.g_base_s + np.clip(self.weights, 0, None) * g_span
        minus = p.g_base_s + np.clip(-self.weights, 0, None) * g_span
        return np.stack([plus, minus]), g_span

    def execute(self, ctx: Any) -> None:
        p = self.p
        data = patterns_3x3(4, p.test_samples, p.noise, p.seed)
        pairs = PairArray(ctx, p.row, p.col, INPUTS, CLASSES, read_v=p.read_v, compliance_a=p.compliance_a,
                          nplc=p.nplc, reads=p.reads)
        targets, g_span = self.targets()
        final, pulses = pairs.program(targets, tolerance=p.tolerance, max_pulses=p.max_pulses,
                                      set_v=p.set_v, reset_v=p.reset_v, width_s=p.width_s)
        ctx.append("programming", {"target": targets[None], "final": final[None], "pulses": pulses[None]})
        missed = int(np.sum(np.abs(final - targets) > p.tolerance * targets))
        ctx.log(f"programmed {targets.size - missed}/{targets.size} devices within {p.tolerance:.0%}")
        ideal = accuracy(p.gain * data.x_test @ self.weights, data.y_test)
        start = ctx.elapsed_s
        times = np.geomspace(p.first_read_s, p.duration_s, p.points) if p.points > 1 else np.array([p.first_read_s])
        scale = float(np.max(np.abs(self.weights)))
        for k, t in enumerate(times):
            ctx.sleep(max(0.0, start + t - ctx.elapsed_s))
            at = ctx.elapsed_s - start
            currents, conductance = pairs.forward(data.x_test, p.input_v)
            logits = p.gain * currents / (p.input_v * g_span)
            measured_w = (conductance[0] - conductance[1]) / g_span
            error = float(np.mean(np.abs(measured_w - self.weights)) / scale)
            ctx.append("inference", {"time": np.array([at]), "accuracy": np.array([accuracy(logits, data.y_test)]),
                                     "ideal_accuracy": np.array([ideal]), "weight_error": np.array([error])})
            ctx.progress(k + 1, len(times))
