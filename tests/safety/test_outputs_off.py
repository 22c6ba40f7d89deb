"""Outputs off after every run, however an instrument fails: verified, or a safety failure.

For each instrument kind (SMU, pulse generator, laser) the twin stops answering after N
messages, for every N over a whole short procedure (its safe shutdown and verification
included). Each run must end failed or completed, and every output must be off in the twin's
own state, unless the run file records a safety failure naming that instrument.
"""

from __future__ import annotations

import logging

import h5py
import pytest

from memlab.instruments.bench import load_bench
from memlab.instruments.safety import SAFETY_FAILURE, ShutdownReport, verify_off
from memlab.instruments.sim.base import Faults
from memlab.procedures import get_procedure, run_procedure


def twin_outputs_on(bench) -> dict[str, bool]:
    """What the simulated instruments really do, read from the twins, not through a driver."""
    return {
        "smu": bool(bench.twins["smu"].state["output"]),
        "pulser": bool(bench.twins["pulser"].state["out1"]),
        "laser": bool(bench.twins["laser"].state["ld_on"]),
    }


def messages_of_clean_run(bench, role: str, procedure, params, out) -> int:
    bench.twins[role].faults = Faults()
    result = run_procedure(get_procedure(procedure)(**params), bench, out)
    assert result.status == "completed", result.error
    return bench.twins[role].messages


CASES = [
    ("smu", "prgo", "iv-sweep", {"v_max": 0.2, "v_min": -0.2, "step_v": 0.1, "cycles": 1}),
    ("pulser", "prgo", "potentiation-depression", {"pulses": 2, "repeats": 1}),
    ("laser", "optomemristor", "xor", {"reads": 1, "relax_s": 0.1, "settle_s": 0.01}),
    ("laser", "optomemristor", "optical-pulses",
     {"count": 1, "reads": 1, "relax_s": 0.1, "settle_s": 0.01, "powers_w": "1e-4"}),
]


@pytest.mark.parametrize("role,family,procedure,params", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_silent_instrument_after_every_n_leaves_outputs_off_or_records_a_safety_failure(
        tmp_path, caplog, role, family, procedure, params):
    caplog.set_level(logging.CRITICAL + 1)  # hundreds of expected errors; checked through files
    with load_bench(None, family=family) as bench:
        total = messages_of_clean_run(bench, role, procedure, params, tmp_path)
        assert total > 5
        outcomes = {"completed": 0, "failed": 0, "safety": 0, "left_on": 0}
        for n in range(total + 3):
            bench.twins[role].faults = Faults(timeout_after=n)
            result = run_procedure(get_procedure(procedure)(**params), bench, tmp_path)
            state = twin_outputs_on(bench)
            with h5py.File(result.path, "r") as f:  # plain h5py: the file is closed and final
                file_status = f.attrs["status"]
                safety = str(f.attrs["safety_failure"])
            where = f"timeout_after={n}: {result.status} {result.error!r} {state}"
            assert result.status in ("completed", "failed"), where
            assert file_status == result.status, where
            for instrument, on in state.items():
                if on:
                    assert f"{SAFETY_FAILURE}: {instrument}:" in safety, where
                    assert "could not verify output off" in safety, where
            if safety:
                assert result.status == "failed" and SAFETY_FAILURE in result.error, where
                assert result.safety_failures and not result.ok, where
            outcomes[result.status] += 1
            outcomes["safety"] += bool(safety)
            outcomes["left_on"] += any(state.values())
            # answer again and leave the twin off for the next N
            bench.twins[role].faults = Faults()
            assert bench.safe_shutdown() == []
        assert outcomes["completed"] >= 1  # the last Ns leave the whole run alone
        assert outcomes["failed"] >= total - 2
        assert outcomes["left_on"] >= 1  # the fault really does strand an output sometimes


def test_xor_whose_laser_stops_after_10_commands_fails_with_a_safety_failure(tmp_path, caplog):
    caplog.set_level(logging.CRITICAL + 1)
    with load_bench(None, family="optomemristor") as bench:
        bench.twins["laser"].faults = Faults(timeout_after=10)
        result = run_procedure(get_procedure("xor")(reads=1, relax_s=0.1, settle_s=0.01), bench, tmp_path)
        assert result.status == "failed"
        assert result.safety_failures and "laser" in result.safety_failures[0]
        with h5py.File(result.path, "r") as f:
            assert f.attrs["status"] == "failed"
            assert "could not verify output off" in f.attrs["error"]
            assert f.attrs["safety_failure"].startswith(f"{SAFETY_FAILURE}: laser:")
            log_text = " ".join(m.decode() for m in f["log/message"][:])
        assert SAFETY_FAILURE in log_text


class _Driver:
    """A driver whose output state can be on, off, or unreadable; counts switch-offs."""

    def __init__(self, reports: list) -> None:
        self.reports = list(reports)
        self.offs = 0

    def label(self) -> str:
        return "fake (ADDR)"

    def output_off(self) -> None:
        self.offs += 1

    def output_enabled(self) -> bool:
        value = self.reports.pop(0)
        if isinstance(value, Exception):
            raise value
        return value


def test_verify_off_switches_off_again_once_and_names_what_stays_on() -> None:
    assert verify_off("smu", _Driver([False])) is None
    retried = _Driver([True, False])
    assert verify_off("smu", retried) is None and retried.offs == 1
    stuck = verify_off("pulser", _Driver([True, True]))
    assert stuck is not None and stuck.startswith(f"{SAFETY_FAILURE}: pulser: could not verify output off")
    assert "still on" in stuck
    silent = verify_off("laser", _Driver([TimeoutError("no reply")]))
    assert silent is not None and "laser" in silent and "no reply" in silent


def test_verify_off_reads_a_pymeasure_style_property() -> None:
    class PropertyDriver:
        def __init__(self) -> None:
            self.queries = 0

        @property
        def output_enabled(self) -> bool:  # pymeasure: reading the property queries the instrument
            self.queries += 1
            return False

    driver = PropertyDriver()
    assert verify_off("smu", driver) is None and driver.queries == 1


def test_bench_safe_shutdown_reports_a_plain_list_with_safety_failures() -> None:
    with load_bench(None) as bench:
        report = bench.safe_shutdown()
        assert report == [] and isinstance(report, ShutdownReport) and report.safety_failures == []
        bench.twins["smu"].faults = Faults(timeout_after=0)
        report = bench.safe_shutdown()
        assert len(report.safety_failures) == 1 and report.safety_failures[0] in report
        assert "smu" in report.safety_failures[0]


def test_memlab_run_exits_1_naming_the_instrument_that_could_not_be_verified_off(tmp_path, capsys, caplog):
    from memlab.cli import main
    from memlab.instruments.bench import DEFAULT_BENCH

    caplog.set_level(logging.CRITICAL + 1)
    bench_file = tmp_path / "silent-laser.toml"
    bench_file.write_text(DEFAULT_BENCH.read_text() + "\n[instruments.laser.faults]\ntimeout_after = 10\n")
    rc = main(["run", "xor", "--family", "optomemristor", "--bench", str(bench_file), "--out", str(tmp_path),
               "--set", "reads=1", "--set", "relax_s=0.1", "--set", "settle_s=0.01"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert out.startswith("failed:")
    [line] = [l for l in err.splitlines() if SAFETY_FAILURE in l]
    assert line.startswith(f"memlab run: {SAFETY_FAILURE}: laser: could not verify output off")


def test_a_final_status_that_cannot_be_written_is_still_reported(tmp_path, monkeypatch):
    from memlab.storage import RunWriteError, RunWriter

    close = RunWriter.close

    def failing_close(self, *args, **kwargs):
        close(self, *args, **kwargs)
        raise RunWriteError(f"{self.path}: could not record the final status (disk full)")

    monkeypatch.setattr(RunWriter, "close", failing_close)
    with load_bench(None) as bench:
        result = run_procedure(get_procedure("iv-sweep")(v_max=0.2, v_min=-0.2, step_v=0.1, cycles=1),
                               bench, tmp_path)
        assert not any(twin_outputs_on(bench).values())
    assert result.status == "failed" and "could not record the final status" in result.error
    assert result.write_failed and not result.ok
