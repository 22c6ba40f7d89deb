"""What the on-chip learning experiments share: the built-in data set, the single-layer network's
arithmetic, differential conductance pairs and crossbar forward passes.

**Data.** ``patterns_3x3``: four 3 x 3 binary prototypes (X, O, T, L) and noisy copies of them
(each pixel flipped with probability ``noise``). A single-layer network separates them (the
prototypes are at least three flips apart), so the gap between a hardware-trained and a
floating-point network measures the devices, not the task. No download: the data set is made
from a seed.

**Weights.** Weight ``w_ij`` of input ``i`` and class ``j`` is a differential pair of devices:
``w_ij = (G+_ij - G-_ij) / g_span_s``, with ``G+`` on chip column ``col + 2j`` and ``G-`` on
``col + 2j + 1``, row ``row + i``; the last row is the bias input, always on.

**Forward pass.** Input ``x_i`` (0 or 1) is applied as ``x_i * input_v`` on row ``i``; class
``j``'s output is the differential column current ``I_j = sum_i V_i (G+_ij - G-_ij)``, measured by
superposition of single-device reads as in the ``vmm`` procedure (one list sweep per device over
all samples; a 1T1R array, or a passive one read with the other rows at the sense potential, has no sneak
currents in its reads, so the cell currents of a column add). The logits
are ``gain * I_j / (input_v * g_span_s)``; softmax cross-entropy gives the gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memlab.procedures.common import (
    Device, check_compliance, check_pulse_amplitudes, check_superposition, check_voltages,
)
from memlab.procedures.parameters import ParameterError

PROTOTYPES = {
    "X": "101010101",
    "O": "111101111",
    "T": "111010010",
    "L": "100100111",
}


@dataclass(frozen=True)
class DataSet:
    """Inputs (samples x features, 0/1, the bias column last) and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]

    @property
    def inputs(self) -> int:
        return self.x_train.shape[1]


def patterns_3x3(train: int, test: int, noise: float, seed: int) -> DataSet:
    """Noisy copies of the four prototypes, classes balanced, with a bias input of 1."""
    rng = np.random.default_rng([seed, 7])
    protos = np.array([[int(c) for c in p] for p in PROTOTYPES.values()], dtype=float)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % len(protos)
        rng.shuffle(labels)
        flips = rng.random((n, protos.shape[1])) < noise
        x = np.abs(protos[labels] - flips)
        return np.hstack([x, np.ones((n, 1))]), labels

    x_train, y_train = draw(train)
    x_test, y_test = draw(test)
    return DataSet(x_train, y_train, x_test, y_test, tuple(PROTOTYPES))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def loss_and_gradient(logits: np.ndarray, labels: np.ndarray, x: np.ndarray, gain: float
                      ) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the weights (inputs x classes)."""
    p = softmax(logits)
    n = len(labels)
    loss = float(-np.mean(np.log(np.clip(p[np.arange(n), labels], 1e-12, None))))
    delta = p.copy()
    delta[np.arange(n), labels] -= 1.0
    return loss, gain * x.T @ delta / n


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def check_pair_bench(bench: Any, p: Any) -> None:
    """What a crossbar experiment needs of the bench: forward passes that add single-device
    currents (superposition: a 1T1R array, or a passive one read with the other rows at the sense potential;
    a V/2 or V/3 read bias's sneak currents would corrupt them) and its pulses, read voltage and
    compliance within the bench's limits."""
    check_superposition(bench)
    check_pulse_amplitudes(bench, "set_v", p.set_v)
    check_pulse_amplitudes(bench, "reset_v", p.reset_v)
    check_voltages(bench, "read_v", p.read_v)
    check_compliance(bench, p.compliance_a)


class PairArray:
    """The devices holding an inputs x classes weight matrix as differential pairs."""

    def __init__(self, ctx: Any, row: int, col: int, inputs: int, classes: int, *, read_v: float,
                 compliance_a: float, nplc: float, reads: int) -> None:
        self.ctx = ctx
        self.inputs, self.classes = inputs, classes
        self.devices = {
            (i, j, sign): Device(ctx, row + i, col + 2 * j + (0 if sign > 0 else 1), read_v=read_v,
                                 compliance_a=compliance_a, nplc=nplc, reads=reads)
            for i in range(inputs) for j in range(classes) for sign in (1, -1)}
        self.read_v = read_v
        self.reads = reads
        # pairs left out (a stuck device): their measured offset is subtracted from the outputs
        self.frozen: dict[tuple[int, int], float] = {}

    @staticmethod
    def chip_devices(row: int, col: int, inputs: int, classes: int) -> list[tuple[int, int]]:
        return [(row + i, col + c) for i in range(inputs) for c in range(2 * classes)]

    def forward(self, x: np.ndarray, input_v: float) -> tuple[np.ndarray, np.ndarray]:
        """Differential column currents for every sample of ``x`` and the conductances read at
        the read voltage in the same sweeps: (samples x classes currents, G+ and G- stacked as
        2 x inputs x classes)."""
        currents = np.zeros((x.shape[0], self.classes))
        conductance = np.empty((2, self.inputs, self.classes))
        for (i, j, sign), device in self.devices.items():
            self.ctx.check_abort()
            levels = np.concatenate([np.full(self.reads, self.read_v), x[:, i] * input_v])
            measured = np.concatenate([part.current_a for part in device.sweep(levels)])
            device.release()
            conductance[0 if sign > 0 else 1, i, j] = measured[:self.reads].mean() / self.read_v
            currents[:, j] += sign * measured[self.reads:]
        for (i, j), offset_s in self.frozen.items():
            currents[:, j] -= x[:, i] * input_v * offset_s
        return currents, conductance

    def pulse(self, i: int, j: int, sign: int, amplitude_v: float, width_s: float, count: int) -> None:
        """``count`` pulses on the ``sign`` device of pair (i, j); positive amplitudes potentiate."""
        if count <= 0:
            return
        device = self.devices[(i, j, sign)]
        device.pulse(amplitude_v, width_s, count=count)
        device.release()

    def balance(self, set_v: float, width_s: float, tolerance_s: float, max_pulses: int) -> list[tuple[int, int]]:
        """Bring every pair to weight zero: SET the lower device of each pair until the two are
        within ``tolerance_s``. Returns the pairs that could not be balanced (a stuck device):
        they are frozen, left out of updates, and their offset is subtracted from the outputs
        (a digital correction of a fault, as fault-aware mapping does)."""
        unbalanced = []
        for i in range(self.inputs):
            for j in range(self.classes):
                self.ctx.check_abort()
                plus, minus = self.devices[(i, j, 1)], self.devices[(i, j, -1)]
                g = {1: plus.read_conductance(), -1: minus.read_conductance()}
                plus.release()
                minus.release()
                for _ in range(max_pulses):
                    if abs(g[1] - g[-1]) <= tolerance_s:
                        break
                    low = 1 if g[1] < g[-1] else -1
                    device = self.devices[(i, j, low)]
                    device.pulse(set_v, width_s)
                    g[low] = device.read_conductance()
                    device.release()
                else:
                    if abs(g[1] - g[-1]) > tolerance_s:
                        unbalanced.append((i, j))
                        self.frozen[(i, j)] = g[1] - g[-1]
        return unbalanced

    def program(self, targets: np.ndarray, *, tolerance: float, max_pulses: int, set_v: float,
                reset_v: float, width_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Write-verify every device to ``targets`` (G+ and G- stacked, 2 x inputs x classes):
        read, one pulse towards the target, read again, until within ``tolerance`` (relative)
        or ``max_pulses``. Returns the final conductances and the pulses each device took."""
        final = np.empty_like(targets, dtype=float)
        pulses = np.zeros(targets.shape, dtype=int)
        for (i, j, sign), device in self.devices.items():
            self.ctx.check_abort()
            k = 0 if sign > 0 else 1
            want = float(targets[k, i, j])
            g = device.read_conductance()
            while abs(g - want) > tolerance * want and pulses[k, i, j] < max_pulses:
                device.pulse(set_v if g < want else reset_v, width_s)
                g = device.read_conductance()
                pulses[k, i, j] += 1
            device.release()
            final[k, i, j] = g
        return final, pulses

    def update(self, steps: np.ndarray, set_v: float, reset_v: float, width_s: float) -> int:
        """Move each weight by ``steps[i, j]`` pulses (positive: up): SET on G+ and RESET on G-
        to raise a weight, the reverse to lower it. Returns the pulses fired."""
        fired = 0
        for (i, j), n in np.ndenumerate(steps):
            if n == 0 or (i, j) in self.frozen:
                continue
            up = n > 0
            count = int(abs(n))
            self.pulse(i, j, 1, set_v if up else reset_v, width_s, count)
            self.pulse(i, j, -1, reset_v if up else set_v, width_s, count)
            fired += 2 * count
        return fired
