"""The command line: exit codes, one-line errors, and each command's real behaviour."""

from __future__ import annotations

import json

import h5py
import pytest

from memlab.cli import main


def test_procedures_lists_parameters(capsys):
    assert main(["procedures", "iv-sweep"]) == 0
    out = capsys.readouterr().out
    assert "iv-sweep" in out and "--set v_max=1.5" in out and "[0.01, 20] V" in out


def test_run_then_info(tmp_path, capsys):
    assert main(["run", "clock-check", "--set", "samples=500", "--out", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("completed: ")
    path = line.split(": ", 1)[1]
    with h5py.File(path, "r") as f:
        assert f["streams/signal/value"].shape == (500,)
    assert main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "status      completed" in out and "signal/value" in out and "[V]" in out
    assert main(["info", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["streams"]["signal"]["time"]["units"] == "s"


@pytest.mark.parametrize("argv, message", [
    (["run", "clock-check", "--set", "samples=0"], "parameter samples='0' is not allowed: an integer in [1, 1e+09]"),
    (["run", "nope"], "parameter procedure='nope' is not allowed"),
    (["run", "clock-check", "--set", "samples"], "expected KEY=VALUE"),
    (["run", "iv-sweep", "--set", "v_max=15"], "max_voltage_v"),
    (["info", "missing.h5"], "no such file"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "run" else [])]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("*.h5"))


def test_bad_bench_file_exits_2(tmp_path, capsys):
    bench = tmp_path / "bench.toml"
    bench.write_text("[chip]\nrows = 'x'\n")
    assert main(["bench", "check", str(bench)]) == 2
    assert "chip.rows" in capsys.readouterr().err


def test_campaign_dry_run_and_plan_errors(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: p\ndevices: [[0, 0], [1, 1]]\nsteps:\n  - procedure: readout\n"
                    "  - procedure: iv-sweep\n    params: {cycles: 2}\n")
    assert main(["campaign", str(plan), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 devices x 1 repeat(s) x 2 steps = 4 runs" in out and "estimated instrument time" in out
    assert not (tmp_path / "out").exists()
    plan.write_text("name: p\ndevices: [[0, 40]]\nsteps:\n  - procedure: readout\n")
    assert main(["campaign", str(plan), "--out", str(tmp_path / "out")]) == 2
    assert "off the chip" in capsys.readouterr().err


def test_demo_runs_both_families(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "demo-prgo: completed" in out and "demo-optomemristor: completed" in out
    assert "run files in" in out
    assert len(list(tmp_path.glob("*/*.h5"))) >= 25
