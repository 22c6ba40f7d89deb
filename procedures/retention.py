"""retention: program devices (or take them as they are), then read them at log-spaced times.

Several devices are interleaved: each is programmed in turn, and its reads follow its own
programming time at ``first_read_s`` ... ``duration_s`` (log-spaced); one schedule merges them, so
a day of retention on many devices takes a day, not a day per device. On a simulated bench the
clock is virtual and a day takes seconds.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
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
    version = "1"
    title = "Retention"
    description = ("Programs each device with a SET pulse train until it reaches target_s (or takes it "
                   "as it is), then reads it at log-spaced times after its programming, up to duration_s. "
                   "Devices are interleaved on one schedule.")
    parameters = (
        Parameter("devices", str, "0,0", "", help="Devices as 'row,col;row,col', or 'all'"),
        Parameter("program", str, "target", "", choices=("target", "as-is"),
                  help="target: SET pulse trains until the conductance reaches target_s; as-is: no "
                       "programming (times then count from the start of the run)"),
        Parameter("target_s", float, 5e-6, "S", 1e-12, 1.0, help="Conductance to program each device to (at least)"),
        Parameter("set_v", float, 2.0, "V", 0.0, 20.0, help="SET pulse amplitude"),
        replace(WIDTH_S, default=1e-6),
        Parameter("burst", int, 5, "", 1, 100_000, help="SET pulses between verify reads"),
        Parameter("max_pulses", int, 2000, "", 1, 10_000_000, help="Most SET pulses per device"),
        Parameter("duration_s", float, 86400.0, "s", 1e-3, 1e9, help="Time of the last read after programming"),
        Parameter("first_read_s", float, 1.0, "s", 1e-4, 1e9, help="Time of the first read after programming"),
        Parameter("points", int, 40, "", 2, 100_000, help="Reads per device, log-spaced in time"),
        READ_V, COMPLIANCE_A, NPLC, READS,
    )
    streams = (StreamSpec("retention", (
        Column("row", "", "i4"), Column("col", "", "i4"),
        Column("time", "s", description="since the device's programming (as-is: since the run started)"),
        Column("conductance", "S")), "one row per read"),)
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
        read_s = p.reads * (p.nplc / line_frequency_hz(bench) + READ_OVERHEAD_S) + STEP_OVERHEAD_S
        program_s = 0.0 if p.program == "as-is" else n * (p.max_pulses * 2 * p.width_s + read_s)
        return program_s + p.duration_s + n * read_s

    def execute(self, ctx: RunContext) -> None:
        p = self.p
        devices = [Device(ctx, r, c, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc, reads=p.reads)
                   for r, c in self.devices()]
        programmed_at = [0.0] * len(devices)
        if p.program == "target":
            for k, device in enumerate(devices):
                programmed_at[k] = self._program(ctx, device)
                device.release()
        else:
            ctx.log("as-is: no programming; times count from the start of the run")
        # One schedule for all devices: (when, device index), earliest first.
        schedule = [(programmed_at[k] + t, k) for k in range(len(devices)) for t in self.read_times()]
        heapq.heapify(schedule)
        total, done = len(schedule), 0
        with RowBatch(ctx, "retention", ("row", "col", "time", "conductance"), size=64) as rows:
            while schedule:
                when, k = heapq.heappop(schedule)
                wait = when - ctx.elapsed_s
                if wait > LIVE_FLUSH_WAIT_S:
                    rows.flush()
                ctx.sleep(max(0.0, wait))
                device = devices[k]
                g = device.read_conductance()
                rows.add(device.row, device.col, ctx.elapsed_s - programmed_at[k], g)
                device.release()
                done += 1
                ctx.progress(done, total)

    def _program(self, ctx: RunContext, device: Device) -> float:
        """SET bursts until the device reads at least target_s; returns when its last pulse ended."""
        p = self.p
        fired = 0
        g = device.read_conductance()
        programmed_at = ctx.elapsed_s
        while g < p.target_s and fired < p.max_pulses:
            ctx.check_abort()
            burst = min(p.burst, p.max_pulses - fired)
            device.pulse(p.set_v, p.width_s, count=burst)
            programmed_at = ctx.elapsed_s
            fired += burst
            g = device.read_conductance()
        if fired == 0:
            ctx.log(f"device ({device.row},{device.col}) already at {g:.4g} S (target {p.target_s:g} S): "
                    "no pulses; its times count from this read")
        elif g < p.target_s:
            ctx.log(f"device ({device.row},{device.col}) reached only {g:.4g} S after {fired} pulses "
                    f"(target {p.target_s:g} S); its retention is recorded from there", logging.WARNING)
        else:
            ctx.log(f"device ({device.row},{device.col}) programmed to {g:.4g} S with {fired} pulses")
        return programmed_at
