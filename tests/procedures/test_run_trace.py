"""Every run file holds the instruments' command conversation (/trace): the commands the drivers
sent, readable with plain h5py; a failed run's trace ends with the failing command and its
timeout before the safe shutdown; the bench file's ``trace = false`` switches it off."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from memlab.cli import main
from memlab.instruments.bench import DEFAULT_BENCH, BenchFileError, load_bench, read_bench_config
from memlab.instruments.trace import KINDS, TracingAdapter
from memlab.procedures import get_procedure, run_procedure
from memlab.storage import RunReader

IV = {"v_max": 0.2, "v_min": -0.2, "step_v": 0.05, "cycles": 1}


def bench_file(tmp_path: Path, extra: str = "", bench_keys: str = "") -> Path:
    """The built-in bench as a file, with keys added to [bench] and tables appended."""
    text = DEFAULT_BENCH.read_text(encoding="utf-8").replace("[bench]\n", f"[bench]\n{bench_keys}", 1)
    path = tmp_path / "bench.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def plain_trace(path: Path) -> tuple[list[tuple[float, str, str, str]], dict]:
    """(time_s, instrument, kind, text) of every entry and the group's attributes, read with plain
    h5py only, as someone without memlab would."""
    with h5py.File(path, "r") as f:
        group = f["trace"]
        attrs = dict(group.attrs)
        names = json.loads(attrs["instruments"]) if attrs["instruments"] else []
        kinds = json.loads(attrs["kinds"]) if attrs["kinds"] else []
        assert group["text"].compression == "gzip" and group["time_s"].attrs["units"] == "s"
        rows = [(float(t), names[i], kinds[k], text.decode("utf-8"))
                for t, i, k, text in zip(group["time_s"][:], group["instrument"][:], group["kind"][:],
                                         group["text"][:])]
    return rows, attrs


def test_a_run_file_holds_the_commands_the_drivers_sent(tmp_path):
    with load_bench(None) as bench:
        result = run_procedure(get_procedure("iv-sweep")(**IV), bench, tmp_path)
        assert result.status == "completed", result.error
        # the run is over: the bench's drivers talk through their own adapters again
        assert not any(isinstance(d.adapter, TracingAdapter) for d in bench.instruments().values())
    rows, attrs = plain_trace(result.path)
    assert attrs["enabled"] and attrs["dropped"] == 0
    assert json.loads(attrs["kinds"]) == list(KINDS)
    assert set(json.loads(attrs["instruments"])) == {"smu", "pulser", "laser", "switch", "power_meter"}
    smu = [(kind, text) for _, who, kind, text in rows if who == "smu"]
    assert ("write", "*IDN?") in smu  # the instrument snapshot's queries are traced too
    # the SMU's list sweep: the voltages loaded, the sweep armed, started and fetched in bulk
    assert any(k == "write" and t.startswith(":SOUR:LIST:VOLT ") for k, t in smu)
    assert any(k == "write" and t.startswith(":SOUR:SWE:VOLT:LIST ") for k, t in smu)
    fetch = next(n for n, (k, t) in enumerate(smu) if k == "write" and t.startswith(":TRAC:DATA?"))
    assert smu[fetch + 1][0] == "read" and len(smu[fetch + 1][1].split(",")) >= 3
    assert any(who == "switch" for _, who, _, _ in rows)
    times = [t for t, *_ in rows]
    assert times == sorted(times) and times[-1] > times[0]  # bench time
    # the safe shutdown's conversation follows the run's, and ends with the outputs verified off
    shutdown = int(attrs["safe_shutdown_row"])
    assert 0 < shutdown < len(rows)
    assert any(who == "smu" and text.startswith(":OUTP") for _, who, _, text in rows[shutdown:])
    assert not any(kind == "error" for _, _, kind, _ in rows)
    # the reader gives the same, a slice at a time
    with RunReader(result.path) as reader:
        tail = reader.trace(-3)
        assert tail["rows"] == len(rows) and tail["stored_bytes"] > 0
        assert tail["text"] == [text for *_, text in rows[-3:]]
        assert tail["instrument"] == [who for _, who, _, _ in rows[-3:]]


def test_a_failed_run_shows_the_failing_command_then_the_timeout(tmp_path, caplog, capsys):
    caplog.set_level(logging.ERROR, logger="memlab.run")
    clean = bench_file(tmp_path)
    with load_bench(clean) as bench:
        assert run_procedure(get_procedure("iv-sweep")(**IV), bench, tmp_path).status == "completed"
        messages = bench.twins["smu"].messages
    assert messages > 10
    cut = messages // 2  # the SMU falls silent in the middle of the run
    faulty = bench_file(tmp_path, f"\n[instruments.smu.faults]\ntimeout_after = {cut}\n")
    with load_bench(faulty) as bench:
        result = run_procedure(get_procedure("iv-sweep")(**IV), bench, tmp_path / "failed")
    assert result.status == "failed", result.error
    rows, attrs = plain_trace(result.path)
    shutdown = int(attrs["safe_shutdown_row"])
    assert 0 < shutdown <= len(rows)
    smu_before = [(kind, text) for _, who, kind, text in rows[:shutdown] if who == "smu"]
    # the run's last SMU exchange: a command, then the read of its answer timing out
    assert smu_before[-1][0] == "error" and "VI_ERROR_TMO" in smu_before[-1][1]
    assert smu_before[-2][0] == "write"
    failing = smu_before[-2][1]
    assert rows[shutdown - 1][1:3] == ("smu", "error")  # nothing else after the fault
    # the run log names the last commands, the failing one among them
    with RunReader(result.path) as reader:
        messages_logged = [m for _, level, m in reader.log() if level >= logging.ERROR]
    header = next(n for n, m in enumerate(messages_logged) if "last 20 instrument commands" in m)
    last_lines = messages_logged[header + 1:header + 21]
    assert len(last_lines) == 20 and "VI_ERROR_TMO" in last_lines[-1]
    assert f"smu write: {failing}" in last_lines[-2]
    assert any("last instrument commands" in r.getMessage() for r in caplog.records)
    # `memlab info` shows the trace's size and the last commands before the failure
    assert main(["info", str(result.path)]) == 0
    out = capsys.readouterr().out
    assert f"trace       {len(rows)} instrument messages" in out
    shown = out.split("last commands before the failure", 1)[1].splitlines()[1:]
    assert "VI_ERROR_TMO" in shown[19] and failing in shown[18]
    assert main(["info", str(result.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["trace"]["rows"] == len(rows) and len(info["trace"]["last"]) == 20


def test_trace_false_gives_a_file_without_entries(tmp_path, capsys):
    path = bench_file(tmp_path, bench_keys="trace = false\n")
    assert read_bench_config(path).trace is False and read_bench_config(None).trace is True
    with load_bench(path) as bench:
        result = run_procedure(get_procedure("iv-sweep")(**IV), bench, tmp_path)
        assert not any(isinstance(d.adapter, TracingAdapter) for d in bench.instruments().values())
    assert result.status == "completed", result.error
    rows, attrs = plain_trace(result.path)
    assert rows == [] and not attrs["enabled"]
    assert main(["info", str(result.path)]) == 0
    assert "trace       off (bench file: trace = false)" in capsys.readouterr().out


def test_a_damaged_trace_is_reported_and_the_rest_of_the_file_still_shows(tmp_path, capsys):
    with load_bench(bench_file(tmp_path)) as bench:
        result = run_procedure(get_procedure("iv-sweep")(**IV), bench, tmp_path)
    with h5py.File(result.path, "r+") as f:
        del f["trace/kind"]
    assert main(["info", str(result.path)]) == 0
    out = capsys.readouterr().out
    assert "status      completed" in out and "iv/voltage" in out
    assert "trace       unreadable:" in out and "/trace is damaged" in out


def test_a_bad_trace_switch_is_refused_naming_the_key(tmp_path):
    path = bench_file(tmp_path, bench_keys='trace = "yes"\n')
    with pytest.raises(BenchFileError, match=r"bench\.trace: expected true or false, got 'yes'"):
        read_bench_config(path)


WRITER_SCRIPT = textwrap.dedent("""
    import sys, time
    from memlab.instruments.trace import CommandTrace, WRITE, READ
    from memlab.storage import Column, RunWriter, StreamSpec
    trace = CommandTrace()
    trace.instrument_index("smu")
    spec = StreamSpec("signal", (Column("value", "V"),))
    w = RunWriter(sys.argv[1], procedure="p", procedure_version="1", streams=[spec],
                  flush_interval_s=0.1, trace=trace)
    i = 0
    while True:
        trace.record("smu", WRITE, f":SOUR:VOLT {i}")
        trace.record("smu", READ, f"{i * 1e-6}")
        i += 1
        if i % 50 == 0:
            print(i, flush=True)
        time.sleep(0.001)
""")


def test_a_killed_run_keeps_its_trace_up_to_the_last_flush(tmp_path):
    path = tmp_path / "killed.h5"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path)], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(root)))
    try:
        while int(proc.stdout.readline() or 0) < 300:
            assert proc.poll() is None, "writer exited early"
        time.sleep(0.3)  # a few flushes of 0.1 s
        sent = int(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with RunReader(path) as reader:  # clears the dead writer's flags
        assert reader.status == "interrupted"
        trace = reader.trace()
    assert trace["rows"] >= 2 * 300  # every entry up to the last flush before the kill
    assert trace["text"][:2] == [":SOUR:VOLT 0", "0.0"]
    assert trace["kind"][:2] == ["write", "read"]
    assert trace["rows"] >= 2 * (sent - 100)  # at most about one flush interval lost
    with h5py.File(path, "r") as f:  # plain h5py opens it after the repair
        assert f["trace/text"].shape[0] == trace["rows"]
        assert np.all(np.diff(f["trace/wall_time_s"][:]) >= 0)
