"""Hostile and careless command-line values and paths (issue 12): each is refused with exit
status 2 and one line naming the option, the value and what is allowed; never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "storage"))
from memlab.cli import main  # noqa: E402

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("value, needle", [
    ("inf", "written in plain ASCII digits"),
    ("-inf", "written in plain ASCII digits"),
    ("nan", "written in plain ASCII digits"),
    ("1e400", "too large"),
    ("9" * 400, "too large"),
    ("1_0", "written in plain ASCII digits"),
    ("\u0661\u0660", "written in plain ASCII digits"),  # Arabic-Indic "10"
    ("\uff11\uff10", "written in plain ASCII digits"),  # full-width "10"
    ("1,5", "written in plain ASCII digits"),  # a decimal comma: refused, the CLI is strict
    ("2.5", "not an integer"),
    ("0x10", "written in plain ASCII digits"),
    ("1e20", "too large"),
])
def test_set_numbers_are_strict(tmp_path, capsys, value, needle):
    assert main(["run", "iv-sweep", "--set", f"cycles={value}", "--out", str(tmp_path)]) == 2
    err = one_line_error(capsys, "--set cycles=", needle, "an integer in [1,")
    assert len(err) < 400  # a 400-digit value is cut in the message
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["1_0", "\u0661", "inf", "1e999", " ", "1.0.0"])
def test_set_float_parameters_are_strict(tmp_path, capsys, value):
    assert main(["run", "iv-sweep", "--set", f"v_max={value}", "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "v_max", "allowed")


def test_plain_numbers_still_pass(tmp_path, capsys):
    assert main(["run", "clock-check", "--set", "samples=1e2", "--set", "samples=+100",
                 "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "given twice")
    assert main(["run", "clock-check", "--set", "samples= 1.5e2 ", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.h5"))) == 1


def _out_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    return {
        "existing file": (str(a_file), "is a file"),
        "under a file": (str(a_file / "sub"), "under a file"),
        "dev null": ("/dev/null", "not a folder"),
        "too long name": (str(tmp_path / ("n" * 300)), "at most"),
        "too long path": (str(tmp_path / "/".join(["d" * 200] * 25)), "under 4096"),
        "NUL": (str(tmp_path / "a\x00b"), "NUL"),
        "empty": ("", "a folder path"),
    }


@pytest.mark.parametrize("case", ["existing file", "under a file", "dev null", "too long name",
                                  "too long path", "NUL", "empty"])
@pytest.mark.parametrize("command", ["run", "campaign", "demo", "analyze"])
def test_out_paths(tmp_path, capsys, command, case):
    value, needle = _out_cases(tmp_path)[case]
    if command == "run":
        argv = ["run", "clock-check", "--set", "samples=10", "--out", value]
    elif command == "campaign":
        plan = tmp_path / "plan.yaml"
        plan.write_text("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: clock-check\n")
        argv = ["campaign", str(plan), "--out", value]
    elif command == "demo":
        argv = ["demo", "--out", value]
    else:
        from hostile_run_files import write_good
        good = write_good(tmp_path / "good.h5")
        argv = ["analyze", str(good), "--no-progress", "--report", value]
    assert main(argv) == 2
    one_line_error(capsys, "--report" if command == "analyze" else "--out", needle)


@pytest.mark.skipif(ROOT, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", ["run", "demo", "analyze"])
def test_out_read_only_folder(tmp_path, capsys, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if command == "run":
            argv = ["run", "clock-check", "--out", str(locked / "runs")]
        elif command == "demo":
            argv = ["demo", "--out", str(locked)]
        else:
            from hostile_run_files import write_good
            argv = ["analyze", str(write_good(tmp_path / "good.h5")), "--no-progress",
                    "--report", str(locked / "report")]
        assert main(argv) == 2
        one_line_error(capsys, "not writable")
    finally:
        locked.chmod(0o700)


def test_operator_with_undecodable_bytes(tmp_path, capsys):
    operator = os.fsdecode(b"caf\xe9")  # what Python makes of Latin-1 bytes in a UTF-8 argv
    assert main(["run", "clock-check", "--operator", operator, "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "--operator", "not UTF-8")
    assert not list(tmp_path.iterdir())


def test_operator_through_a_real_argv(tmp_path):
    result = subprocess.run([sys.executable, "-m", "memlab", "run", "clock-check", "--operator",
                             b"caf\xe9\xff", "--out", str(tmp_path)], capture_output=True, timeout=120)
    assert result.returncode == 2
    err = result.stderr.decode("utf-8", "replace").strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "--operator" in err


@pytest.mark.parametrize("operator", ["", "a\nb", "x" * 500])
def test_operator_must_be_plain_text(tmp_path, capsys, operator):
    assert main(["run", "clock-check", "--operator", operator, "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "--operator")


def test_dead_scheduler_fails_fast(tmp_path, capsys):
    import socket

    from hostile_run_files import write_good
    good = write_good(tmp_path / "good.h5")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    assert main(["analyze", str(good), "--no-progress", "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    assert time.monotonic() - t0 < 15
    one_line_error(capsys, "scheduler=", "no dask scheduler answered")


@pytest.mark.parametrize("address", ["tcp://", "tcp://host", "tcp://host:notaport", "gpu"])
def test_bad_scheduler_address(tmp_path, capsys, address):
    from hostile_run_files import write_good
    good = write_good(tmp_path / "good.h5")
    assert main(["analyze", str(good), "--no-progress", "--scheduler", address]) == 2
    one_line_error(capsys, "scheduler=")


def test_unexpected_exception_is_one_line_internal_error(monkeypatch, capsys):
    import memlab.cmd_procedures as cmd

    def boom(args):
        raise ZeroDivisionError("deliberate")
    monkeypatch.setattr(cmd, "run", boom)
    assert main(["procedures"]) == 1
    one_line_error(capsys, "internal error", "ZeroDivisionError: deliberate", "--debug")
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "procedures"])


def test_bad_option_exits_2_without_traceback(capsys):
    assert main(["run", "iv-sweep", "--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --no-such-option" in err and "Traceback" not in err
    assert main(["run", "iv-sweep", "--family", "silicon"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_run_on_an_unreachable_real_instrument(tmp_path, capsys):
    bench = tmp_path / "bench.toml"
    bench.write_text('[instruments.smu]\ndriver = "Keithley2450"\n'
                     'address = "USB0::0x05E6::0x2450::99999999::INSTR"\nsimulated = false\n'
                     'options = { visa_library = "@memsim" }\n')
    assert main(["run", "iv-sweep", "--bench", str(bench), "--out", str(tmp_path / "runs")]) == 1
    one_line_error(capsys, "could not open smu")
    assert not list(tmp_path.rglob("*.h5"))


def test_out_not_writable_is_named(tmp_path, capsys, monkeypatch):
    """The permission check itself, also where the tests run as root (who may write anywhere)."""
    import memlab.arguments as arguments

    monkeypatch.setattr(arguments.os, "access", lambda path, mode: False)
    assert main(["run", "clock-check", "--out", str(tmp_path / "runs")]) == 2
    one_line_error(capsys, "not writable", str(tmp_path))
