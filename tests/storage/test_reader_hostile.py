"""Damaged run files (issue 12) given to RunReader, the loaders, `memlab info` and `memlab analyze`:
one line naming what is wrong, within seconds, and the good runs beside them still analysed."""

from __future__ import annotations

import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hostile_run_files import CASES, make_case, write_good  # noqa: E402

from memlab.analysis.loading import load_runs, open_run  # noqa: E402
from memlab.analysis.parallel import summarize  # noqa: E402
from memlab.cli import main  # noqa: E402
from memlab.storage import RunFileError, RunReader  # noqa: E402
from memlab.storage.recovery import writer_flags  # noqa: E402

# Cases refused, with a word of the one-line reason each must give.
REFUSED = {name: why for name, why in {
    "no streams": "no streams", "no parameters": "no parameters", "no chip": "no chip",
    "no chip/devices": "no chip/devices", "no metadata": "no metadata",
    "no procedure": "no procedure", "no status": "no status", "no format_version": "no format_version",
    "format_version 99": "format_version=99", "format_version text": "format_version=",
    "no column": "no streams/iv/current", "columns attr int": "columns=7",
    "columns attr missing": "no columns attribute", "units attr int array": "units=",
    "units attr float": "units=1.5", "units attr 2-D array": "units=array([[0., 0.], [0., 0.]])", "scalar column": "is a scalar", "column is a group": "is a group",
    "stream is a dataset": "streams/iv is a dataset", "streams is a dataset": "streams is a dataset",
    "devices 3 columns": "(2, 3)", "devices text": "chip/devices", "devices float nan": "chip/devices",
    "chip is a dataset": "chip is a dataset", "parameters is a group": "parameters is a group",
    "parameters table of numbers": "expected one row", "parameters 1e6 rows": "1000000 rows",
    "metadata not an object": "metadata=", "deep JSON metadata": "nested deeper",
    "deep JSON chip attr": "nested deeper",
    "deep JSON root attr": "nested deeper", "soft link loop column": "soft link",
    "soft link loop group": "soft link", "soft link to nowhere": "soft link",
    "external link": "external link", "status int": "status=5", "status unknown": "status='exploded'",
    "status array": "status=", "procedure int": "procedure=12", "heartbeat text": "heartbeat_unix_s=",
    "heartbeat huge": "heartbeat_unix_s=", "pid text": "writer_pid=", "pid huge": "writer_pid=",
    "start_time garbage": "start_time=", "start_time int": "start_time=",
    "truncated 2 KB": "truncated to 2048", "truncated half": "truncated", "3e9 rows": "3000000000 rows",
    "garbage after signature": "cannot be opened", "empty file": "not an HDF5 file",
}.items()}
READ_AS_IS = {"text column"}


def test_every_case_is_covered():
    assert set(CASES) == set(REFUSED) | READ_AS_IS


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    good = write_good(folder / "good.h5")
    return {name: make_case(name, folder / "cases", good) for name in CASES}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_reader_refuses_with_one_line(cases, name):
    t0 = time.monotonic()
    with pytest.raises(RunFileError) as info:
        with RunReader(cases[name]) as reader:
            reader.summary()
    assert time.monotonic() - t0 < 5
    message = str(info.value)
    assert message.startswith(str(cases[name])) and REFUSED[name] in message, message
    assert "\n" not in message and len(message) < 500


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_info_says_one_line_and_exits_2(cases, capsys, name):
    assert main(["info", str(cases[name])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and REFUSED[name] in err


def test_text_column_is_read(cases, capsys):
    assert main(["info", str(cases["text column"])]) == 0
    assert "iv/current" in capsys.readouterr().out


def test_analyze_folder_skips_each_bad_file_and_analyses_the_good(cases, tmp_path, capsys):
    folder = cases["no streams"].parent
    good = [write_good(folder.parent / f"good{i}.h5") for i in range(2)]
    assert main(["analyze", str(folder.parent), "--no-progress"]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if "skipped" in line]
    for name in REFUSED:  # one "skipped" line naming each bad file and what is wrong
        lines = [line for line in skipped if str(cases[name]) in line]
        assert len(lines) == 1 and REFUSED[name] in lines[0], (name, lines)
    assert "Traceback" not in captured.err
    assert "| 0 | 1 |" in captured.out  # the good runs' device (0, 1) has its figures
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = summarize(folder.parent, scheduler="serial", progress=False)
    assert {Path(p).name for p, _ in summary.skipped} >= {cases[n].name for n in REFUSED}
    analysed = set(summary.runs["run"])
    assert {g.name for g in good} <= analysed


def test_loaders_skip_bad_files(cases):
    folder = cases["no streams"].parent
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = load_runs(folder)
    assert {r.name for r in runs} == {cases["text column"].name}
    assert len(runs.skipped) == len(REFUSED) and len(caught) == len(REFUSED)
    with pytest.raises(RunFileError, match="soft link"):
        open_run(cases["soft link loop group"])


def test_huge_declared_stream_is_not_allocated(tmp_path):
    path = write_good(tmp_path / "huge.h5")
    with h5py.File(path, "r+") as f:  # 40 M rows declared of 8 B each, none stored: 'sparse'
        for column in f["streams/iv"].values():
            column.resize((40_000_000,))
    tracemalloc.start()
    with pytest.raises(RunFileError, match="declares 40000000 rows"):
        RunReader(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = summarize(path, scheduler="serial", progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert summary.runs.empty and len(summary.skipped) == 1
    assert peak < 50e6


def test_large_reads_are_checked_and_chunked(tmp_path, monkeypatch):
    import memlab.storage.reader as reader_module

    path = write_good(tmp_path / "run.h5", cycles=50)
    with RunReader(path) as reader:
        stream = reader.stream("iv")
        whole = stream.column("current")
        monkeypatch.setattr(reader_module, "READ_BLOCK_BYTES", 64)  # 8 rows per block
        assert np.array_equal(stream.column("current"), whole)
        assert np.array_equal(np.concatenate(list(stream.blocks("current", rows=7))), whole)
        monkeypatch.setattr(reader_module, "MAX_READ_BYTES", 100)
        with pytest.raises(RunFileError, match="more than memlab reads at once"):
            stream.column("current")


@pytest.mark.parametrize("command", ["info", "analyze"])
def test_interrupted_file_is_repaired_on_sight(tmp_path, capsys, command):
    """A killed writer's file: memlab info and memlab analyze clear its flags, so any reader opens it."""
    path = write_good(tmp_path / "killed.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["status"] = "running"
        f.attrs["end_time"] = ""
        f.attrs["heartbeat_unix_s"] = time.time() - 3600
        f.attrs["writer_host"] = "elsewhere"
    raw = bytearray(path.read_bytes())  # the superblock flags a SWMR writer leaves set
    from memlab.storage.recovery import lookup3
    size = 12 + 4 * raw[9]
    raw[11] = 0x05
    raw[size:size + 4] = lookup3(bytes(raw[:size])).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    assert writer_flags(path)
    with pytest.raises(OSError):
        h5py.File(path, "r").close()
    main([command, str(path), *(["--no-progress"] if command == "analyze" else [])])
    capsys.readouterr()
    assert not writer_flags(path)
    with h5py.File(path, "r") as f:
        assert f["streams/iv/current"].shape[0] > 0


def test_run_browser_listing_survives_bad_files(cases):
    pytest.importorskip("PySide6")
    from memlab.gui.run_browser import scan_folder

    rows = scan_folder(cases["no streams"].parent)
    assert len(rows) == len(CASES)
    unreadable = [r for r in rows if r.status == "unreadable"]
    assert len(unreadable) == len(REFUSED)
    assert all("\n" not in r.error and r.error for r in unreadable)
