"""readout: averaged reads of one device, or a conductance map of the array or a selection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import COMPLIANCE_A, NPLC, READ_V, Device, check_compliance, check_voltages, parse_devices
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

READS_STREAM = StreamSpec("reads", (
    Column("row", "", "i4"), Column("col", "", "i4"), Column("read", "", "i4"),
    Column("current", "A"), Column("conductance", "S"), Column("time", "s")), "every reading")
MAP_DESCRIPTION = "one row: the conductance map of the chip"
MAP_COLUMN = "rows x cols of the chip; mean of each device read, NaN elsewhere"


@register
class Readout(Procedure):
    name = "readout"
    version = "1"
    title = "Readout"
    description = ("Reads each selected device at the read voltage (several readings averaged, in "
                   "one list sweep each) and stores the conductance map of the chip, NaN where "
                   "not read. With one device it gives the mean and the read-noise estimate.")
    parameters = (
        Parameter("devices", str, "0,0", "", help="Devices as 'row,col;row,col', or 'all'"),
        READ_V, COMPLIANCE_A, NPLC,
        Parameter("reads", int, 10, "", 1, 10_000, help="Readings per device"),
    )
    streams = (READS_STREAM, StreamSpec("map", (Column("conductance", "S", shape=(1, 1), description=MAP_COLUMN),),
                                        MAP_DESCRIPTION))  # the map's shape is set by check(), from the chip
    plots = (PlotHint("map", "", "conductance", "Conductance map", kind="image", log_y=True),
             PlotHint("reads", "time", "conductance", "Readings"))
    requires = ("smu",)
    _rows: int | None = None  # the chip's size, known from check() on
    _cols: int | None = None

    def validate(self) -> None:
        if self.p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if self.p.devices.strip().lower() != "all":
            parse_devices(self.p.devices)

    def devices(self) -> list[tuple[int, int]]:
        return parse_devices(self.p.devices, self._rows, self._cols)

    def check(self, bench) -> None:
        chip = bench.chip_info()
        self._rows, self._cols = chip["rows"], chip["cols"]
        super().check(bench)
        check_voltages(bench, "read_v", self.p.read_v)
        check_compliance(bench, self.p.compliance_a)
        self.streams = self.stream_specs(chip)  # the map's shape is the chip's, known only now

    def stream_specs(self, chip: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        if "rows" not in chip or "cols" not in chip:
            raise ValueError(f"readout's map has the chip's shape: the chip {dict(chip)} gives no rows and cols")
        chip_map = Column("conductance", "S", shape=(chip["rows"], chip["cols"]), description=MAP_COLUMN)
        return (READS_STREAM, StreamSpec("map", (chip_map,), MAP_DESCRIPTION))

    def estimate_s(self, bench) -> float:
        return len(self.devices()) * (self.p.reads * (self.p.nplc / 50 + 2e-4) + 0.01)

    def execute(self, ctx) -> None:
        p = self.p
        devices = self.devices()
        cmap = np.full((self._rows, self._cols), np.nan)
        for k, (row, col) in enumerate(devices):
            ctx.check_abort()
            device = Device(ctx, row, col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc)
            t0 = ctx.elapsed_s
            currents = device.read_currents(p.reads)
            device.release()
            conductance = currents / p.read_v
            n = len(currents)
            ctx.append("reads", {"row": np.full(n, row), "col": np.full(n, col), "read": np.arange(n),
                                 "current": currents, "conductance": conductance,
                                 "time": np.linspace(t0, ctx.elapsed_s, n)})
            cmap[row, col] = conductance.mean()
            if len(devices) == 1:
                noise = conductance.std(ddof=1) / abs(conductance.mean()) if n > 1 and conductance.mean() else float("nan")
                ctx.log(f"device ({row},{col}): G = {conductance.mean():.4g} S, read noise "
                        f"{noise:.3%} (relative std of {n} readings)")
            ctx.progress(k + 1, len(devices))
        ctx.append("map", {"conductance": cmap})
