"""The procedure engine: validation, recording, abort, failure, Ctrl-C and safe shutdown."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from memlab.procedures import (
    Parameter,
    ParameterError,
    PlotHint,
    Procedure,
    RunListener,
    get_procedure,
    run_procedure,
    start_run,
)
from memlab.storage import Column, RunReader, StreamSpec

sys.path.insert(0, str(Path(__file__).parent))
import campaign_helpers  # noqa: E402


class FakeBench(campaign_helpers.FakeBench):
    """The campaign tests' fake bench, whose safe shutdown can also fail."""

    def __init__(self, fail_shutdown: bool = False) -> None:
        super().__init__()
        self.fail_shutdown = fail_shutdown

    def safe_shutdown(self):
        errors = super().safe_shutdown()
        return ["smu: did not answer"] if self.fail_shutdown else errors


class Steps(Procedure):
    """Turns the 'output' on, appends one row per step, and can fail or block at a step."""

    name = "steps"
    parameters = (
        Parameter("steps", int, 10, "", 1, 1000),
        Parameter("fail_at", int, -1, "", -1, 1000),
        Parameter("interrupt_at", int, -1, "", -1, 1000),
        Parameter("row", int, 0, "", 0, 100),
        Parameter("col", int, 0, "", 0, 100),
    )
    streams = (StreamSpec("data", (Column("step", "", "i4"), Column("current", "A"))),)
    plots = (PlotHint("data", "step", "current"),)

    def __init__(self, gate: threading.Event | None = None, **values):
        super().__init__(**values)
        self.gate = gate
        self.reached_gate = threading.Event()

    def execute(self, ctx):
        ctx.bench.output_on = True
        for i in range(self.p.steps):
            ctx.check_abort()
            if i == self.p.fail_at:
                raise RuntimeError("instrument timeout")
            if i == self.p.interrupt_at:
                raise KeyboardInterrupt
            ctx.append_row("data", (i, i * 1e-6))
            ctx.progress(i + 1, self.p.steps)
            ctx.sleep(1.0)
            if self.gate is not None and i == 2:
                self.reached_gate.set()
                self.gate.wait(10)


def test_clock_check_end_to_end(tmp_path):
    proc = get_procedure("clock-check")(samples=25_000, interval_s=0.001)
    bench = FakeBench()
    result = run_procedure(proc, bench, tmp_path, operator="tester")
    assert result.status == "completed" and result.path.exists()
    with RunReader(result.path) as r:
        assert r.status == "completed"
        assert r.operator == "tester"
        assert r.parameters["samples"] == 25_000
        s = r.stream("signal")
        assert len(s) == 25_000
        np.testing.assert_allclose(s["time"], np.arange(25_000) * 0.001)
        assert abs(np.std(s["value"]) - 1 / np.sqrt(2)) < 0.05  # a sine of amplitude 1 V
        assert r.stream("pacing")["clock"][-1] == pytest.approx(24.999)
    assert bench.shutdowns == 1


def test_bad_parameters_refused_before_any_file(tmp_path):
    with pytest.raises(ParameterError, match=r"samples=-5 .*\[1, 1e\+09\]"):
        get_procedure("clock-check")(samples=-5)
    with pytest.raises(ParameterError, match="row=9 .*0 <= row < 4"):
        run_procedure(Steps(row=9), FakeBench(), tmp_path)
    with pytest.raises(ParameterError, match="procedure='nope'"):
        get_procedure("nope")
    assert list(tmp_path.iterdir()) == []


def test_parameter_conversion():
    p = Parameter("v", float, 1.0, "V", -2, 2)
    assert p.validate("1.5") == 1.5
    with pytest.raises(ParameterError):
        p.validate("nan")
    assert Parameter("n", int, 1, "", 0, None).validate("1e3") == 1000
    with pytest.raises(ParameterError):
        Parameter("n", int, 1).validate(1.5)
    assert Parameter("b", bool, False).validate("yes") is True
    assert Parameter("t", float, None, "S", 0, 1, optional=True).validate("") is None
    with pytest.raises(ParameterError, match="one of"):
        Parameter("mode", str, "a", choices=("a", "b")).validate("c")


def test_exception_mid_run_keeps_rows_and_shuts_down(tmp_path):
    bench = FakeBench()
    result = run_procedure(Steps(fail_at=5), bench, tmp_path)
    assert result.status == "failed"
    assert "RuntimeError: instrument timeout" in result.error
    assert bench.shutdowns == 1 and not bench.output_on
    with RunReader(result.path) as r:
        assert r.status == "failed" and "instrument timeout" in r.error
        assert r.stream("data")["step"].tolist() == [0, 1, 2, 3, 4]
        assert any("Traceback" in m for _, _, m in r.log())


def test_ctrl_c_records_aborted_and_reraises(tmp_path):
    bench = FakeBench()
    with pytest.raises(KeyboardInterrupt):
        run_procedure(Steps(interrupt_at=3), bench, tmp_path)
    (path,) = tmp_path.iterdir()
    with RunReader(path) as r:
        assert r.status == "aborted" and "Ctrl-C" in r.error
        assert len(r.stream("data")) == 3
    assert bench.shutdowns == 1 and not bench.output_on


def test_abort_from_another_thread(tmp_path):
    bench = FakeBench()
    gate = threading.Event()
    proc = Steps(gate=gate, steps=100)
    handle = start_run(proc, bench, tmp_path)
    assert proc.reached_gate.wait(10)
    handle.abort()
    gate.set()
    result = handle.join(10)
    assert handle.done and result.status == "aborted"
    assert bench.shutdowns == 1 and not bench.output_on
    with RunReader(result.path) as r:
        assert r.status == "aborted"
        assert len(r.stream("data")) == 3


def test_failed_shutdown_marks_run_failed(tmp_path):
    result = run_procedure(Steps(steps=2), FakeBench(fail_shutdown=True), tmp_path)
    assert result.status == "failed" and "did not answer" in result.error


def test_listeners_get_batches_and_a_crashing_listener_is_dropped(tmp_path, caplog):
    class Collect(RunListener):
        def __init__(self):
            self.rows, self.progress, self.finished = [], [], None

        def on_batch(self, stream, batch):
            self.rows.extend(batch["step"].tolist())

        def on_progress(self, done, total, eta_s):
            self.progress.append((done, total, eta_s))

        def on_finish(self, status, error, path):
            self.finished = status

    class Broken(RunListener):
        def on_batch(self, stream, batch):
            raise ValueError("plot crashed")

    good = Collect()
    with caplog.at_level(logging.ERROR):
        result = run_procedure(Steps(steps=5), FakeBench(), tmp_path, listeners=[Broken(), good])
    assert result.status == "completed"
    assert good.rows == [0, 1, 2, 3, 4]
    assert good.progress[-1][:2] == (5, 5) and good.progress[1][2] == pytest.approx(1.5)  # 1 s for 2 of 5 steps
    assert good.finished == "completed"
    assert "plot crashed" in caplog.text
