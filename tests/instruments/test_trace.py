"""The command trace at the Adapter level: writes, reads, timestamps and errors of each
instrument; a failed run's trace shows the failing command."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.interfaces import InstrumentConnectionError
from memlab.instruments.keithley import Keithley2450
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.base import Faults
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley2450 import Keithley2450Twin as Twin2450
from memlab.instruments.sim.world import SimWorld
from memlab.instruments.trace import ERROR, KINDS, READ, WRITE, CommandTrace, TracingAdapter


@pytest.fixture
def world() -> SimWorld:
    world = SimWorld(Chip(4, 4, seed=3, overrides={"stuck_fraction": 0.0}))
    world.connect("smu", 1, 1)
    return world


def test_trace_records_the_conversation_with_bench_time(world: SimWorld) -> None:
    trace = CommandTrace(world.clock.now)
    twin = Twin2450(world, "smu")
    smu = Keithley2450(SimAdapter(twin), "smu")
    trace.attach(smu, "smu")
    assert isinstance(smu.adapter, TracingAdapter)
    assert smu.identity().startswith("KEITHLEY")
    smu.set_voltage(0.1, 1e-4)
    smu.output_on()
    current = smu.measure_current_a()
    smu.output_off()
    records = trace.records()
    kinds = [r.kind for r in records]
    assert kinds[:2] == [WRITE, READ] and records[0].text == "*IDN?"
    assert records[1].text.startswith("KEITHLEY INSTRUMENTS,MODEL 2450")
    assert any(r.kind == READ and float(r.text.split(",")[0]) == pytest.approx(current) for r in records
               if r.kind == READ and r.text[:1] in "-0123456789")
    times = [r.time_s for r in records]
    assert times == sorted(times) and times[-1] > times[0]  # bench time advances with the work
    assert all(r.instrument == "smu" for r in records)
    columns = trace.to_columns()
    assert len(columns["time_s"]) == len(records)
    assert list(columns["instruments"]) == ["smu"]
    assert columns["kind"].dtype == np.uint8 and set(columns["kind"]) <= {WRITE, READ}
    assert columns["text"][0] == b"*IDN?"
    # The driver still sees its own adapter's attributes through the wrapper.
    assert smu.adapter.connection is smu.adapter.inner.connection
    assert smu.adapter.instrument is twin  # the SimAdapter's own attribute
    assert smu.simulated() is True and smu.address() == "SIM::smu"


def test_trace_of_a_failed_conversation_shows_the_failing_command(world: SimWorld) -> None:
    trace = CommandTrace(world.clock.now)
    twin = Twin2450(world, "smu")
    smu = Keithley2450(SimAdapter(twin), "smu")
    trace.attach(smu, "smu")
    smu.set_voltage(0.1, 1e-4)
    twin.faults = Faults(timeout_after=1)  # answers one more message, then goes silent
    with pytest.raises(InstrumentConnectionError):
        smu.output_on()
        smu.measure_current_a()
    last = trace.records()[-2:]
    assert last[0].kind == WRITE
    assert last[1].kind == ERROR and "VI_ERROR_TMO" in last[1].text
    assert KINDS[last[1].kind] == "error"
    assert any("VI_ERROR_TMO" in line for line in trace.last(3))


def test_trace_is_bounded_and_counts_what_it_dropped() -> None:
    trace = CommandTrace(max_records=10, max_text=20)
    for k in range(25):
        trace.record("x", WRITE, f"COMMAND {k} " + "A" * 50)
    records = trace.records()
    assert len(records) == 10 and trace.dropped == 15
    assert records[0].text.startswith("COMMAND 15") and len(records[0].text) == 20
    with pytest.raises(ValueError, match="max_records"):
        CommandTrace(max_records=0)


def test_binary_messages_are_described_by_size() -> None:
    from memlab.instruments.trace import _describe_bytes

    assert _describe_bytes(bytes(range(20))) == "<20 bytes: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ...>"


def test_trace_wraps_a_visa_adapter() -> None:
    from pymeasure.instruments.keithley import Keithley2450 as StockKeithley2450

    address = "USB0::0x05E6::0x2450::04512345::INSTR"
    smu = StockKeithley2450(address, visa_library="@memsim", timeout=500)
    trace = CommandTrace()
    trace.attach(smu, "smu")
    try:
        assert smu.id.startswith("KEITHLEY")
        smu.source_voltage = 0.01
        assert [(r.kind, r.text[:5]) for r in trace.records()[:3]] == [(WRITE, "*IDN?"), (READ, "KEITH"),
                                                                      (WRITE, ":SOUR")]
        assert "0x2450::04512345" in smu.adapter.connection.resource_name  # pyvisa canonical form
    finally:
        smu.adapter.close()
