"""vmm: program a weight matrix into a sub-array, then multiply input vectors by it.

**Programming.** Each device of the sub-array is written to its target conductance by
write-verify with incremental step pulse programming: read; while outside target +- tolerance,
fire a train of pulses towards the target (SET below it, RESET above it) and read again. The
train length follows the last response (about 60 % of the remaining error at the step per pulse
just measured); when a train moves the device by less than a fifth of the tolerance band, or
when the train would exceed ``max_train`` pulses, the amplitude steps up by ``v_step`` (ISPP),
up to ``v_stop``. Each polarity keeps its own amplitude and step estimate.

**Multiplying.** A VMM applies the input voltages V_i to all rows at once and senses every column
at virtual ground: ``I_j = sum_i G_ij V_i``. This bench has one SMU behind a switch matrix, which
drives and senses one device at a time, so the procedure measures by superposition instead: for
each device (i, j) it sweeps, in one list sweep, the voltage that row i gets in every input
vector, and sums the currents of each column over its rows. In a 1T1R array, where every read
goes through the cell's own transistor, there are no sneak paths and the currents of the cells
on one column simply add on the column wire, so the sum is what the column would carry with all
rows driven. A passive array read with ``read_bias = "v/2-columns"`` (the default) or
``"grounded"`` is the same: every other row sits at the sense column's potential, so a single-device read senses that device alone, and
with all rows driven each device sees its own row's voltage. A passive array with a V/2 or V/3
read bias is refused: every read also collects the half-selected rows' currents, which depend on
their states, not on the inputs, so the sum would count them once per row. The same list sweep
first reads the
device at the read voltage (``weights.programmed``), so weight and products are measured within
milliseconds of each other, after ``settle_s`` has let the fast early drift pass.

A real multi-channel setup drives the rows in parallel (a DAC or SMU channel per row, e.g. the
channels of several 2600B SMUs or a dedicated array tester) and senses each column with a
transimpedance amplifier or an SMU channel held at 0 V: one measurement per vector, with the
array's own summation.

``vmm.ideal`` is the product of the programmed (read-back) weights and the inputs, ``sum_i
G_ij V_i``: ``measured - ideal`` is the multiply's own error (read noise, the I-V's
nonlinearity), while the weights stream holds the programming error against the targets. Inputs
are kept at or below the read voltage: the read I-V is slightly superlinear (sinh), so larger
inputs give a systematic excess.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COMPLIANCE_A, NPLC, READ_V, WIDTH_S, Device, check_compliance, check_pulse_amplitudes, check_superposition,
    check_voltages,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec


def stream_specs(rows: int, cols: int) -> tuple[StreamSpec, ...]:
    """The streams of a ``rows`` x ``cols`` sub-array (the column shapes follow it)."""
    matrix = "rows x cols of the sub-array"
    per_row, per_col = "one per row of the sub-array", "one per column of the sub-array"
    return (
        StreamSpec("weights", (Column("target", "S", shape=(rows, cols), description=matrix),
                               Column("programmed", "S", shape=(rows, cols), description=matrix)),
                   "target and programmed (read back before multiplying) conductances"),
        StreamSpec("vmm", (Column("vector", "", "i4"), Column("inputs", "V", shape=(rows,), description=per_row),
                           Column("measured", "A", shape=(cols,), description=per_col),
                           Column("ideal", "A", shape=(cols,), description=per_col)),
                   "one row per input vector; ideal = programmed weights x inputs"),
    )


def parse_matrix(name: str, text: str, rows: int, cols: int) -> np.ndarray:
    """``"1e-6, 2e-6; 3e-6, 4e-6"`` (rows separated by ';') -> array of shape (rows, cols)."""
    allowed = f"{rows} rows of {cols} positive conductances in S, rows separated by ';', values by ','"
    try:
        matrix = np.array([[float(v) for v in line.split(",")] for line in text.split(";") if line.strip()])
    except ValueError:
        raise ParameterError(name, text, allowed) from None
    if matrix.shape != (rows, cols) or not np.all(np.isfinite(matrix)) or np.any(matrix <= 0):
        raise ParameterError(name, text, allowed)
    return matrix


@register
class VMM(Procedure):
    name = "vmm"
    version = "1"
    title = "Vector-matrix multiply"
    description = ("Programs a weight matrix into a sub-array by write-verify (ISPP pulse trains with reads), "
                   "then applies input voltage vectors to the rows and records the column currents against "
                   "the ideal product. One SMU: measured by superposition of single-device reads (1T1R arrays, or "
                   "passive ones read with the other rows at the sense potential).")
    parameters = (
        Parameter("row", int, 0, "", 0, 4095, help="First chip row of the sub-array"),
        Parameter("col", int, 0, "", 0, 4095, help="First chip column of the sub-array"),
        Parameter("rows", int, 4, "", 1, 4096, help="Rows of the sub-array (inputs)"),
        Parameter("cols", int, 4, "", 1, 4096, help="Columns of the sub-array (outputs)"),
        Parameter("weights_s", str, "", "S",
                  help="Target conductances 'g, g; g, g' (rows by ';'); empty: random in [g_low_s, g_high_s]"),
        Parameter("g_low_s", float, 2e-6, "S", 1e-12, 1.0, help="Lowest random target"),
        Parameter("g_high_s", float, 8e-6, "S", 1e-12, 1.0, help="Highest random target"),
        Parameter("seed", int, 0, "", 0, 2**32 - 1, help="Seed of the random targets and input vectors"),
        Parameter("tolerance", float, 0.03, "", 1e-3, 0.5, help="Allowed relative programming error"),
        Parameter("v_start", float, 1.2, "V", 0.0, 20.0, help="First |amplitude| of each polarity"),
        Parameter("v_step", float, 0.05, "V", 1e-3, 5.0, help="ISPP amplitude increment"),
        Parameter("v_stop", float, 2.5, "V", 0.0, 20.0, help="Largest |amplitude|"),
        replace(WIDTH_S, default=80e-9),
        Parameter("max_train", int, 50, "", 1, 100_000, help="Most pulses in one train between reads"),
        Parameter("max_pulses", int, 2000, "", 1, 10_000_000, help="Pulses allowed per device"),
        Parameter("settle_s", float, 10.0, "s", 0.0, 1e5,
                  help="Wait between programming and multiplying (lets the fast early drift pass)"),
        Parameter("vectors", int, 20, "", 1, 100_000, help="Number of random input vectors"),
        Parameter("input_min_v", float, 0.0, "V", -0.5, 0.5, help="Lowest input voltage"),
        Parameter("input_max_v", float, 0.1, "V", -0.5, 0.5,
                  help="Highest input voltage (at most the read voltage: the I-V is linear only there)"),
        replace(READ_V, default=0.1), COMPLIANCE_A, NPLC,
        Parameter("reads", int, 4, "", 1, 1000, help="Readings averaged per verify and per weight read-back"),
    )
    streams = stream_specs(4, 4)  # the default sub-array's; each instance has its own shape
    plots = (PlotHint("vmm", "ideal", "measured", "Measured vs ideal column currents", kind="scatter"),
             PlotHint("weights", "", "programmed", "Programmed weights", kind="image"))
    requires = ("smu", "pulser")

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.streams = stream_specs(self.p.rows, self.p.cols)

    def validate(self) -> None:
        p = self.p
        if p.read_v <= 0:
            raise ParameterError("read_v", p.read_v, "a positive voltage (conductance is I / V)")
        if p.g_low_s >= p.g_high_s and not p.weights_s.strip():
            raise ParameterError("g_high_s", p.g_high_s, f"> g_low_s = {p.g_low_s:g} S")
        if p.v_stop < p.v_start:
            raise ParameterError("v_stop", p.v_stop, f">= v_start = {p.v_start:g} V")
        if p.input_max_v < p.input_min_v:
            raise ParameterError("input_max_v", p.input_max_v, f">= input_min_v = {p.input_min_v:g} V")
        for name in ("input_min_v", "input_max_v"):
            value = self.values[name]
            if abs(value) > p.read_v:
                raise ParameterError(name, value, f"|value| <= read_v = {p.read_v:g} V (where reads are linear "
                                                  "and do not program)")
        self.targets()

    def targets(self) -> np.ndarray:
        p = self.p
        if p.weights_s.strip():
            return parse_matrix("weights_s", p.weights_s, p.rows, p.cols)
        return np.random.default_rng(p.seed).uniform(p.g_low_s, p.g_high_s, (p.rows, p.cols))

    def inputs(self) -> np.ndarray:
        p = self.p
        rng = np.random.default_rng([p.seed, 1])  # a stream of its own: targets do not shift it
        return rng.uniform(p.input_min_v, p.input_max_v, (p.vectors, p.rows))

    def devices(self) -> list[tuple[int, int]]:
        p = self.p
        return [(p.row + i, p.col + j) for i in range(p.rows) for j in range(p.cols)]

    def check(self, bench: Any) -> None:
        p = self.p
        chip = bench.chip_info()
        for first, size, lines in (("row", "rows", chip.get("rows")), ("col", "cols", chip.get("cols"))):
            if lines is not None and self.values[first] + self.values[size] > lines:
                raise ParameterError(size, self.values[size], f"{first} + {size} <= {lines} (the sub-array from "
                                                              f"{first} {self.values[first]} must fit the chip)")
        super().check(bench)
        check_superposition(bench)
        check_pulse_amplitudes(bench, "v_stop", p.v_stop)
        check_voltages(bench, "read_v", p.read_v)
        check_voltages(bench, "input_max_v", p.input_max_v, p.input_min_v)
        check_compliance(bench, p.compliance_a)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        return p.rows * p.cols * (15 * 0.02 + 0.01 + p.vectors * 1e-3) + p.settle_s

    def execute(self, ctx: Any) -> None:
        p = self.p
        targets, inputs = self.targets(), self.inputs()
        n = p.rows * p.cols
        total = 2 * n
        failed = 0
        for k, (i, j) in enumerate(np.ndindex(p.rows, p.cols)):
            ctx.check_abort()
            device = self._device(ctx, i, j)
            final, pulses, ok = self._program(ctx, device, float(targets[i, j]))
            device.release()
            if not ok:
                failed += 1
                ctx.log(f"device ({p.row + i},{p.col + j}): target {targets[i, j]:.4g} S not reached in "
                        f"{pulses} pulses (at {final:.4g} S)", 30)
            ctx.progress(k + 1, total)
        ctx.log(f"programmed {n - failed}/{n} devices within {p.tolerance:.1%}")
        ctx.sleep(p.settle_s)
        programmed = np.empty((p.rows, p.cols))
        cell_currents = np.empty((p.vectors, p.rows, p.cols))
        for k, (i, j) in enumerate(np.ndindex(p.rows, p.cols)):
            ctx.check_abort()
            device = self._device(ctx, i, j)
            levels = np.concatenate([np.full(p.reads, p.read_v), inputs[:, i]])
            current = np.concatenate([part.current_a for part in device.sweep(levels)])
            device.release()
            programmed[i, j] = current[:p.reads].mean() / p.read_v
            cell_currents[:, i, j] = current[p.reads:]
            ctx.progress(n + k + 1, total)
        ctx.append("weights", {"target": targets[None], "programmed": programmed[None]})
        measured = cell_currents.sum(axis=1)  # superposition: the cells of a column add on its wire
        ideal = inputs @ programmed
        ctx.append("vmm", {"vector": np.arange(p.vectors), "inputs": inputs, "measured": measured, "ideal": ideal})
        scale = np.sqrt(np.mean(ideal ** 2))
        error = np.sqrt(np.mean((measured - ideal) ** 2)) / scale if scale > 0 else float("nan")
        target_error = np.sqrt(np.mean((measured - inputs @ targets) ** 2)) / scale if scale > 0 else float("nan")
        ctx.log(f"VMM error (RMS, relative to the RMS column current): {error:.3%} against the programmed "
                f"weights, {target_error:.3%} against the targets")

    def _device(self, ctx: Any, i: int, j: int) -> Device:
        p = self.p
        return Device(ctx, p.row + i, p.col + j, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc,
                      reads=p.reads)

    def _program(self, ctx: Any, device: Device, target: float) -> tuple[float, int, bool]:
        """Write-verify one device by ISPP pulse trains; returns (final conductance, pulses, success)."""
        p = self.p
        band = p.tolerance * target
        amplitude = {1: p.v_start, -1: p.v_start}
        step: dict[int, float | None] = {1: None, -1: None}  # conductance moved per pulse, last train
        g = device.read_conductance()
        pulses = 0
        while abs(g - target) > band and pulses < p.max_pulses:
            ctx.check_abort()
            sign = 1 if g < target else -1
            error = abs(target - g)
            wanted = 1 if step[sign] is None else round(0.6 * error / step[sign])
            count = int(min(max(wanted, 1), p.max_train, p.max_pulses - pulses))
            device.pulse(sign * amplitude[sign], p.width_s, count=count)
            pulses += count
            g_new = device.read_conductance()
            moved = (g_new - g) * sign
            step[sign] = moved / count if moved > 0 else None
            if moved < 0.2 * band or wanted > p.max_train:
                amplitude[sign] = min(amplitude[sign] + p.v_step, p.v_stop)
            g = g_new
        return g, pulses, abs(g - target) <= band
