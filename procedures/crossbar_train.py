"""crossbar-train: a single-layer network trained in the loop on the crossbar, beside the same
network trained in floating point.

Each epoch: one forward pass of every training and test sample through the crossbar
(:class:`~memlab.procedures.learning.PairArray`, superposition of single-device list sweeps,
which also read back every conductance), the softmax cross-entropy gradient of the training set
from the measured outputs, and one update of the devices by pulse trains:

- ``manhattan``: one pulse (``pulses_per_step``) on each weight whose gradient exceeds
  ``threshold`` times the largest, in the direction that lowers the loss (the sign/threshold
  Manhattan rule);
- ``stochastic``: ``lr_pulses * |gradient|`` pulses, rounded up or down at random in proportion
  (stochastic rounding), at most ``max_pulses_per_update`` per device.

The floating-point network gets the same data in the same order and a plain gradient step of
``lr_float``. Every epoch appends a row to ``epochs`` (loss and accuracy of both networks, pulses
fired) and to ``weights`` (the conductances just read, and the float weights): together they are
the checkpoint that ``resume_from`` continues from, after re-programming any device that moved
away from its checkpointed conductance (a power cycle, or a new simulated chip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import COMPLIANCE_A, NPLC, WIDTH_S
from memlab.procedures.learning import PairArray, accuracy, check_pair_bench, loss_and_gradient, patterns_3x3
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, RunReader, StreamSpec

INPUTS, CLASSES = 10, 4  # the built-in 3 x 3 patterns plus a bias input; four classes


@register
class CrossbarTrain(Procedure):
    name = "crossbar-train"
    version = "1"
    title = "Crossbar training"
    description = ("Trains a single-layer network in the loop on a crossbar of differential conductance "
                   "pairs (forward passes by crossbar reads, updates by pulse trains), with the same "
                   "network trained in floating point alongside. Built-in task: noisy 3 x 3 patterns.")
    parameters = (
        Parameter("row", int, 0, "", 0, 4095, help="First chip row of the 10 x 8 sub-array"),
        Parameter("col", int, 0, "", 0, 4095, help="First chip column of the 10 x 8 sub-array"),
        Parameter("epochs", int, 30, "", 1, 100_000, help="Training epochs (one update each)"),
        Parameter("train_samples", int, 32, "", 4, 10_000, help="Training patterns"),
        Parameter("test_samples", int, 64, "", 4, 10_000, help="Held-out patterns"),
        Parameter("noise", float, 0.1, "", 0.0, 0.5, help="Probability that a pixel is flipped"),
        Parameter("seed", int, 0, "", 0, 2**32 - 1, help="Seed of the data set and of stochastic rounding"),
        Parameter("update_rule", str, "manhattan", "", choices=("manhattan", "stochastic"),
                  help="How gradients become pulses"),
        Parameter("threshold", float, 0.2, "", 0.0, 1.0,
                  help="Manhattan: pulse weights whose gradient exceeds this share of the largest"),
        Parameter("pulses_per_step", int, 1, "", 1, 1000, help="Manhattan: pulses per device and update"),
        Parameter("lr_pulses", float, 8.0, "", 1e-3, 1e6, help="Stochastic: pulses per unit of gradient"),
        Parameter("max_pulses_per_update", int, 4, "", 1, 10_000, help="Stochastic: most pulses per device"),
        Parameter("lr_float", float, 0.05, "", 1e-6, 1e3, help="Learning rate of the floating-point network"),
        Parameter("gain", float, 4.0, "", 0.01, 1e3, help="Logits per unit weight"),
        Parameter("g_span_s", float, 4e-6, "S", 1e-9, 1.0, help="Conductance difference of a weight of 1"),
        Parameter("input_v", float, 0.1, "V", 0.001, 0.5, help="Voltage of an 'on' input"),
        Parameter("set_v", float, 1.6, "V", 0.0, 20.0, help="Potentiating pulse amplitude"),
        Parameter("reset_v", float, -1.8, "V", -20.0, 0.0, help="Depressing pulse amplitude"),
        WIDTH_S,
        Parameter("init_reset_pulses", int, 20, "", 0, 100_000,
                  help="RESET pulses on every device first (a defined low start); 0 keeps the state"),
        Parameter("balance_pulses", int, 300, "", 0, 100_000,
                  help="Most SET pulses to bring each pair to weight zero at the start"),
        Parameter("read_v", float, 0.1, "V", 0.001, 0.5, help="Read voltage of the weight read-back"),
        COMPLIANCE_A, NPLC,
        Parameter("reads", int, 2, "", 1, 1000, help="Readings averaged per weight read-back"),
        Parameter("resume_from", str, "", "",
                  help="A crossbar-train run file to continue from its last epoch (empty: start afresh)"),
    )
    streams = (
        StreamSpec("epochs", (
            Column("epoch", "", "i4"), Column("train_loss", ""), Column("train_accuracy", ""),
            Column("test_accuracy", ""), Column("float_train_loss", ""), Column("float_train_accuracy", ""),
            Column("float_test_accuracy", ""), Column("pulses", "", "i8", description="fired in this epoch's update"),
            Column("time", "s")), "one row per epoch: both networks' loss and accuracy"),
        StreamSpec("weights", (
            Column("epoch", "", "i4"),
            Column("g_plus", "S", shape=(INPUTS, CLASSES), description="read back before the update"),
            Column("g_minus", "S", shape=(INPUTS, CLASSES)),
            Column("float_weights", "", shape=(INPUTS, CLASSES), description="after the update")),
            "the checkpoint: conductances and floating-point weights per epoch"),
    )
    plots = (PlotHint("epochs", "epoch", "test_accuracy", "Test accuracy (hardware)"),
             PlotHint("epochs", "epoch", "float_test_accuracy", "Test accuracy (floating point)"),
             PlotHint("epochs", "epoch", "train_loss", "Training loss (hardware)"))
    requires = ("smu", "pulser")

    def validate(self) -> None:
        p = self.p
        if p.read_v < p.input_v:
            raise ParameterError("read_v", p.read_v, f">= input_v = {p.input_v:g} V (inputs stay where reads are linear)")
        if p.resume_from and not Path(p.resume_from).is_file():
            raise ParameterError("resume_from", p.resume_from, "an existing crossbar-train run file")

    def devices(self) -> list[tuple[int, int]]:
        return PairArray.chip_devices(self.p.row, self.p.col, INPUTS, CLASSES)

    def check(self, bench: Any) -> None:
        super().check(bench)
        check_pair_bench(bench, self.p)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        points = p.train_samples + p.test_samples + p.reads
        per_epoch = 2 * INPUTS * CLASSES * (0.015 + points * (p.nplc / 50 + 2e-4) + 0.02)
        return p.epochs * per_epoch

    # -- checkpoints ----------------------------------------------------------------------
    def _checkpoint(self) -> tuple[int, np.ndarray, np.ndarray] | None:
        """(last epoch, float weights, G+ and G- stacked) of ``resume_from``, or None."""
        if not self.p.resume_from:
            return None
        with RunReader(self.p.resume_from) as reader:
            if reader.procedure != self.name:
                raise ParameterError("resume_from", self.p.resume_from,
                                     f"a {self.name} run file (this one is {reader.procedure})")
            weights = reader.stream("weights")
            if len(weights) == 0:
                raise ParameterError("resume_from", self.p.resume_from, "a run with at least one finished epoch")
            epoch = int(weights.column("epoch")[-1])
            conductance = np.stack([weights.column("g_plus")[-1], weights.column("g_minus")[-1]])
            return epoch, np.asarray(weights.column("float_weights")[-1], float), conductance

    def _restore(self, ctx: Any, pairs: PairArray, target: np.ndarray) -> None:
        """Pulse every device back to within 10 % of its checkpointed conductance."""
        p = self.p
        _, pulses = pairs.program(target, tolerance=0.1, max_pulses=200, set_v=p.set_v, reset_v=p.reset_v,
                                  width_s=p.width_s)
        ctx.log(f"restored the checkpoint's conductances ({int(pulses.sum())} pulses)")

    def execute(self, ctx: Any) -> None:
        p = self.p
        data = patterns_3x3(p.train_samples, p.test_samples, p.noise, p.seed)
        pairs = PairArray(ctx, p.row, p.col, INPUTS, CLASSES, read_v=p.read_v, compliance_a=p.compliance_a,
                          nplc=p.nplc, reads=p.reads)
        checkpoint = self._checkpoint()
        both = np.vstack([data.x_train, data.x_test])
        n_train = len(data.y_train)
        if checkpoint is None:
            first, w_float = 0, np.zeros((INPUTS, CLASSES))
            if p.init_reset_pulses:
                for (i, j, sign) in pairs.devices:
                    ctx.check_abort()
                    pairs.pulse(i, j, sign, p.reset_v, p.width_s, p.init_reset_pulses)
            stuck = pairs.balance(p.set_v, p.width_s, 0.05 * p.g_span_s, p.balance_pulses)
            if stuck:
                ctx.log(f"{len(stuck)} weight pairs could not be balanced to zero (a stuck device): "
                        + ", ".join(f"input {i} class {j}" for i, j in stuck)
                        + "; they are left out and their offset is subtracted from the outputs", 30)
        else:
            last, w_float, conductance = checkpoint
            first = last + 1
            ctx.log(f"resuming from epoch {last} of {Path(p.resume_from).name}")
            self._restore(ctx, pairs, conductance)
        scale = p.input_v * p.g_span_s
        for epoch in range(first, first + p.epochs):
            ctx.check_abort()
            currents, conductance = pairs.forward(both, p.input_v)
            logits = p.gain * currents / scale
            loss, grad = loss_and_gradient(logits[:n_train], data.y_train, data.x_train, p.gain)
            steps = self._steps(grad, epoch)
            fired = pairs.update(steps, p.set_v, p.reset_v, p.width_s)

            float_logits = p.gain * both @ w_float
            float_loss, float_grad = loss_and_gradient(float_logits[:n_train], data.y_train, data.x_train, p.gain)
            float_train_acc = accuracy(float_logits[:n_train], data.y_train)
            float_test_acc = accuracy(float_logits[n_train:], data.y_test)
            w_float = w_float - p.lr_float * float_grad

            ctx.append("epochs", {
                "epoch": np.array([epoch]), "train_loss": np.array([loss]),
                "train_accuracy": np.array([accuracy(logits[:n_train], data.y_train)]),
                "test_accuracy": np.array([accuracy(logits[n_train:], data.y_test)]),
                "float_train_loss": np.array([float_loss]), "float_train_accuracy": np.array([float_train_acc]),
                "float_test_accuracy": np.array([float_test_acc]), "pulses": np.array([fired]),
                "time": np.array([ctx.elapsed_s])})
            ctx.append("weights", {"epoch": np.array([epoch]), "g_plus": conductance[0][None],
                                   "g_minus": conductance[1][None], "float_weights": w_float[None]})
            ctx.progress(epoch - first + 1, p.epochs)

    def _steps(self, grad: np.ndarray, epoch: int) -> np.ndarray:
        """Signed pulse counts per weight (positive: raise the weight) from the gradient."""
        p = self.p
        if p.update_rule == "manhattan":
            largest = float(np.max(np.abs(grad)))
            if largest == 0.0:
                return np.zeros_like(grad, dtype=int)
            pulse = np.abs(grad) > p.threshold * largest
            return (-np.sign(grad) * pulse * p.pulses_per_step).astype(int)
        rng = np.random.default_rng([p.seed, epoch, 11])
        want = p.lr_pulses * np.abs(grad)
        count = np.floor(want) + (rng.random(grad.shape) < want - np.floor(want))
        return (-np.sign(grad) * np.minimum(count, p.max_pulses_per_update)).astype(int)
