"""retention: program devices (or take them as they are), then read them at log-spaced times.

Programming (``program = "target"``) sets up the state that is measured: each device is first
RESET by ``reset_pulses`` pulses (a defined start, whatever its history), then written to
``target_s`` +- ``tolerance`` by write-verify (bursts of SET or RESET pulses by the sign of the
error, the burst halved at each overshoot). Its programming time is the end of its last pulse;
every read's time counts from it. The ``programmed`` stream records, per device, that time, the
conductance verified and whether the target was reached.

Several devices are interleaved: each is programmed in turn, and its reads follow its own
programming time at ``first_read_s`` ... ``duration_s`` (log-spaced); one schedule merges them, so
a day of retention on many devices takes a day, not a day per device. On a simulated bench the
clock is virtual and a day takes seconds.

The run declares its waits (:meth:`Retention.segments` yields a ``Wait`` before each read and a
``Checkpoint`` before each programming burst), so a campaign fills them with other runs; each
row records the read's planned and actual time.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.procedures.base import Checkpoint, Pause, PlotHint, Procedure, Wait
from memlab.procedures.common import (
    COMPLIANCE_A, NPLC, READ_V, READS, WIDTH_S, Device, RowBatch, check_compliance, check_pulse_amplitudes,
    check_voltages, line_frequency_hz, parse_devices,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.pulsed_iv import READ_OVERHEAD_S, STEP_OVERHEAD_S
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

if TYPE_CHECKING:
    from memlab.procedures.runner import RunContext

LIVE_FLUSH_WAIT_S = 0.5  # before a wait longer than this, hand the rows so far to the file and the plots


@register
class Retention(Procedure):
    name = "retention"
    version = "2"
    title = "Retention"
    description = ("Programs each device with a SET pulse train until it reaches target_s (or takes it "
                   "as it is), then reads it at log-spaced times after its programming, up to duration_s. "
                   "Devices are interleaved on one schedule.")
    parameters = (
        Parameter("devices", str, "0,0", "", help="Devices as 'row,col;row,col', or 'all'"),
        Parameter("program", str, "target", "", choices=("target", "as-is"),
                  help="target: RESET, then write-verify to target_s +- tolerance; as-is: no "
                       "programming (times then count from the start of the run)"),
        Parameter("target_s", float, 5e-6, "S", 1e-12, 1.0, help="Conductance to program each device to"),
        Parameter("tolerance", float, 0.03, "", 1e-4, 0.5, help="Allowed relative error of the programmed state"),
        Parameter("set_v", float, 2.0, "V", 0.0, 20.0, help="SET pulse amplitude"),
        Parameter("reset_v", float, -2.0, "V", -20.0, 0.0, help="RESET pulse amplitude"),
        Parameter("reset_pulses", int, 100, "", 0, 1_000_000,
                  help="RESET pulses before write-verify (a defined start state; 0: none)"),
        replace(WIDTH_S, default=1e-6),
        Parameter("burst", int, 5, "", 1, 100_000, help="Largest pulse burst between verify reads"),
        Parameter("max_pulses", int, 2000, "", 1, 10_000_000, help="Most write-verify pulses per device"),
        Parameter("duration_s", float, 86400.0, "s", 1e-3, 1e9, help="Time of the last read after programming"),
        Parameter("first_read_s", float, 1.0, "s", 1e-4, 1e9, help="Time of the first read after programming"),
        Parameter("points", int, 40, "", 2, 100_000, help="Reads per device, log-spaced in time"),
        READ_V, COMPLIANCE_A, NPLC, READS,
    )
    streams = (StreamSpec("retention", (
        Column("row", "", "i4"), Column("col", "", "i4"),
        Column("time", "s", description="since the device's programming (as-is: since the run started), "
                                         "when the read was taken"),
        Column("planned_time", "s", description="when the read was due (log-spaced); time - planned_time "
                                                "is how late it was taken"),
        Column("conductance", "S")), "one row per read"),
        StreamSpec("programmed", (
            Column("row", "", "i4"), Column("col", "", "i4"),
            Column("programmed_at", "s", description="run clock at the end of the last programming pulse"),
            Column("conductance", "S", description="verified after programming"),
            Column("target", "S"), Column("pulses", "", "i4"), Column("success", "", "i1")),
            "one row per device programmed (program = target)"),
    )
    plots = (PlotHint("retention", "time", "conductance", "Conductance vs time since programming",
                      kind="scatter", group_by="row", log_x=True, log_y=True),)
    requires = ("smu",)
    _rows: int | None = None  # the chip's size, known from check() on
    _cols: int | None = None

    def validate(self) -> None:
        p = self.p
        if p.devices.strip().lower() != "all":
            devices = parse_devices(p.devices)
            if len(set(devices)) != len(devices):
                raise ParameterError("devices", p.devices, "each device once")
        if p.first_read_s >= p.duration_s:
            raise ParameterError("first_read_s", p.first_read_s, f"< duration_s = {p.duration_s:g} s")
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if p.program == "target" and p.set_v == 0:
            raise ParameterError("set_v", p.set_v, "a positive amplitude")
        if p.program == "target" and p.reset_v == 0:
            raise ParameterError("reset_v", p.reset_v, "a negative amplitude")

    def devices(self) -> list[tuple[int, int]]:
        return parse_devices(self.p.devices, self._rows, self._cols)

    def check(self, bench: Any) -> None:
        chip = bench.chip_info()
        self._rows, self._cols = chip.get("rows"), chip.get("cols")
        super().check(bench)  # every device on the chip
        p = self.p
        if p.program == "target":
            if bench.pulser is None:
                raise ParameterError("program", p.program, "'as-is': this bench has no pulse generator")
            check_pulse_amplitudes(bench, "set_v", p.set_v)
            check_pulse_amplitudes(bench, "reset_v", p.reset_v)
            if p.width_s < bench.limits.min_pulse_width_s:
                raise ParameterError("width_s", p.width_s,
                                     f">= {bench.limits.min_pulse_width_s:g} s (the bench's min_pulse_width_s)")
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)

    def read_times(self) -> np.ndarray:
        """When each device is read, in seconds after its programming."""
        return np.geomspace(self.p.first_read_s, self.p.duration_s, self.p.points)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        chip = bench.chip_info()
        n = len(parse_devices(p.devices, chip.get("rows"), chip.get("cols")))
        read_s = self.read_s(bench)
        program_s = 0.0 if p.program == "as-is" else n * ((p.max_pulses + p.reset_pulses) * 2 * p.width_s + read_s)
        return program_s + p.duration_s + n * read_s

    def busy_estimate_s(self, bench: Any) -> float:
        """Programming and the reads: the waits between reads are free for other runs."""
        p = self.p
        chip = bench.chip_info()
        n = len(parse_devices(p.devices, chip.get("rows"), chip.get("cols")))
        read_s = self.read_s(bench)
        program_s = 0.0 if p.program == "as-is" else n * ((p.max_pulses + p.reset_pulses) * 2 * p.width_s + read_s)
        return program_s + n * p.points * read_s

    def read_s(self, bench: Any) -> float:
        """Estimated instrument time of one read (list sweep, relays, set-up)."""
        p = self.p
        return p.reads * (p.nplc / line_frequency_hz(bench) + READ_OVERHEAD_S) + STEP_OVERHEAD_S

    def execute(self, ctx: RunContext) -> None:
        self.run_segments(ctx)

    def segments(self, ctx: RunContext) -> Iterator[Pause]:
        """Program, then a Wait before every read: a campaign fills the waits with other runs.
        Each row records the planned and the actual time of its read."""
        p = self.p
        devices = [Device(ctx, r, c, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc, reads=p.reads)
                   for r, c in self.devices()]
        read_s = self.read_s(ctx.bench)
        programmed_at = [0.0] * len(devices)
        if p.program == "target":
            for k, device in enumerate(devices):
                programmed_at[k] = yield from self._program(ctx, device, read_s)
                device.release()
        else:
            ctx.log("as-is: no programming; times count from the start of the run")
        # One schedule for all devices: (when, device index, planned time), earliest first.
        schedule = [(programmed_at[k] + t, k, t) for k in range(len(devices)) for t in self.read_times()]
        heapq.heapify(schedule)
        total, done = len(schedule), 0
        with RowBatch(ctx, "retention", ("row", "col", "time", "planned_time", "conductance"), size=64) as rows:
            while schedule:
                when, k, planned = heapq.heappop(schedule)
                if when - ctx.elapsed_s > LIVE_FLUSH_WAIT_S:
                    rows.flush()
                yield Wait(ctx.t0 + when, read_s)
                ctx.check_abort()
                device = devices[k]
                g = device.read_conductance()
                rows.add(device.row, device.col, ctx.elapsed_s - programmed_at[k], planned, g)
                device.release()
                done += 1
                ctx.progress(done, total)

    def _program(self, ctx: RunContext, device: Device, read_s: float) -> Iterator[Pause]:
        """RESET, then write-verify to target_s +- tolerance; records and returns the end of the
        last programming pulse (run clock). A Checkpoint before each verify burst lets due reads
        of other runs go first."""
        p = self.p
        fired = 0
        yield Checkpoint(p.reset_pulses * 2 * p.width_s + read_s)
        if p.reset_pulses:
            device.pulse(p.reset_v, p.width_s, count=p.reset_pulses)
        programmed_at = ctx.elapsed_s
        g = device.read_conductance()
        burst, direction = p.burst, 0
        while abs(g - p.target_s) > p.tolerance * p.target_s and fired < p.max_pulses:
            ctx.check_abort()
            want = 1 if g < p.target_s else -1
            if direction and want != direction:
                burst = max(1, burst // 2)  # overshot: smaller steps from here
            direction = want
            count = min(burst, p.max_pulses - fired)
            yield Checkpoint(count * 2 * p.width_s + read_s)
            device.pulse(p.set_v if want > 0 else p.reset_v, p.width_s, count=count)
            programmed_at = ctx.elapsed_s
            fired += count
            g = device.read_conductance()
        ok = abs(g - p.target_s) <= p.tolerance * p.target_s
        ctx.append_row("programmed", (device.row, device.col, programmed_at, g, p.target_s, fired, int(ok)))
        if ok:
            ctx.log(f"device ({device.row},{device.col}) programmed to {g:.4g} S (target {p.target_s:g} S "
                    f"+- {p.tolerance:.1%}) with {p.reset_pulses} RESET + {fired} verify pulses")
        else:
            ctx.log(f"device ({device.row},{device.col}) reached only {g:.4g} S after {fired} pulses "
                    f"(target {p.target_s:g} S); its retention is recorded from there", logging.WARNING)
        return programmed_at
