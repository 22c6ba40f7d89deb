"""Fuzz the command line: mutations of valid argument lists and random bytes as arguments.

Every input must end in exit status 0, 1 (a recorded run failure) or 2 with a one-line message;
never a traceback, an "internal error" (the last-resort handler means a bug) or a hang. Cases run
in-process through memlab.cli.main, with the long work (running a procedure, a campaign) replaced
by a stand-in once validation has passed, so thousands of inputs take seconds; a handful go through
a real subprocess with undecodable bytes in argv.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "storage"))
from hostile_run_files import write_good  # noqa: E402

import memlab.cmd_campaign as cmd_campaign  # noqa: E402
import memlab.cmd_demo as cmd_demo  # noqa: E402
import memlab.cmd_run as cmd_run  # noqa: E402
from memlab.cli import _bad_input_types, _connection_error_types, main  # noqa: E402

BAD_INPUT = _bad_input_types() + _connection_error_types()

DEFAULT_INPUTS = 150
LARGE_INPUTS = 3000
PER_INPUT_S = 20.0

HOSTILE = [
    "", " ", "-", "--", "=", "inf", "-inf", "nan", "1e400", "9" * 400, "1_0", "\u0661\u0660",
    "\uff11", "0x10", "1,5", "-1", "0", "1e-400", "\x00", "a\x00b", "\n", "x" * 5000, "../../..",
    "/dev/null", "/proc/self/mem", "\u202e", "\U0001f600", os.fsdecode(b"caf\xe9\xff"),
    "--set", "--out", "--debug", "-q", "key=", "=value", "samples=", "samples=inf", "samples=1_0",
    "v_max=1e400", "row=-1", "cycles=" + "9" * 40, "--scheduler=tcp://", "tcp://127.0.0.1:1",
    "%s%s%n", "{}", "[]", "null", "true", "C:\\\\x", "\\\\?\\", "*", "~", "$HOME",
]
OPTIONS = ["--set", "--out", "--bench", "--family", "--operator", "--report", "--scheduler",
           "--workers", "--procedure", "--device", "--status", "--since", "--until", "--title",
           "--plots-per-procedure", "--json", "--resume", "--dry-run", "--no-progress", "--help"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_cli")
    good = write_good(folder / "good.h5")
    plan = folder / "plan.yaml"
    plan.write_text("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: clock-check\n")
    a_file = folder / "a_file.txt"
    a_file.write_text("x")
    return SimpleNamespace(folder=folder, good=good, plan=plan, a_file=a_file)


def base_arg_lists(w) -> list[list[str]]:
    out = str(w.folder / "out")
    return [
        ["run", "clock-check", "--set", "samples=10", "--out", out],
        ["run", "iv-sweep", "--set", "cycles=2", "--set", "v_max=1.0", "--operator", "me", "--out", out],
        ["info", str(w.good)],
        ["info", str(w.good), "--json"],
        ["analyze", str(w.good), "--no-progress"],
        ["analyze", str(w.good), "--no-progress", "--status", "completed", "--device", "0,1",
         "--since", "2020-01-01", "--report", str(w.folder / "report")],
        ["procedures", "iv-sweep"],
        ["campaign", str(w.plan), "--dry-run", "--out", out],
        ["demo", "--out", out],
        ["bench", "check"],
    ]


def mutate(rng: random.Random, argv: list[str], w) -> list[str]:
    argv = list(argv)
    paths = [str(w.a_file), str(w.a_file / "sub"), str(w.folder), str(w.good), str(w.plan),
             str(w.folder / ("n" * 300))]
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        i = rng.randrange(len(argv)) if argv else 0
        if kind < 0.35 and argv:
            argv[i] = rng.choice(HOSTILE + paths)
        elif kind < 0.5 and argv:  # a hostile value after an option's '='
            key, sep, _ = argv[i].partition("=")
            argv[i] = key + "=" + rng.choice(HOSTILE) if sep else rng.choice(HOSTILE)
        elif kind < 0.65:
            argv.insert(i, rng.choice(OPTIONS))
        elif kind < 0.75 and argv:
            del argv[i]
        elif kind < 0.85 and argv:
            argv.insert(i, argv[i])
        else:  # random bytes as an argument, as a shell would pass them
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))
            argv.insert(i, os.fsdecode(raw.replace(b"\x00", b"")))
    return argv


class Ran(BaseException):  # not an Exception: main's last-resort handler must let it through
    """Raised by the stand-ins: validation passed and the long work would start now."""


def stand_ins(monkeypatch) -> None:
    def fake_run_procedure(procedure, bench, out, operator=None, listeners=()):
        return SimpleNamespace(status="completed", path=Path(out) / "x.h5", error="", ok=True,
                               safety_failures=[])

    class FakeCampaign:
        def __init__(self, plan, bench, out, resume=False, operator=None):
            self.plan, self.tasks, self.listeners = plan, [], []

        def dry_run(self) -> str:
            return "dry run"

        def run(self):
            raise Ran()

    monkeypatch.setattr(cmd_run, "run_procedure", fake_run_procedure)
    monkeypatch.setattr(cmd_campaign, "Campaign", FakeCampaign)
    monkeypatch.setattr("memlab.procedures.demo.run_demo", lambda out, progress: [])
    monkeypatch.setattr(cmd_demo, "CampaignProgress", None)


def judge(argv: list[str]) -> tuple[str, str]:
    """Run one input in-process; ('clean', '') or ('failure', why)."""
    err, out = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(argv)
    except Ran:
        return "clean", ""
    except SystemExit as exc:  # --help inside a sub-command exits through argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # noqa: BLE001 - the very thing the fuzz looks for
        if "--debug" in argv and isinstance(exc, BAD_INPUT):
            return "clean", ""  # --debug asks for the traceback of a refused input
        return "failure", f"{argv!r}: escaped {type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - t0
    text = err.getvalue()
    lines = [line for line in text.splitlines() if "warning" not in line and "INFO" not in line]
    if elapsed > PER_INPUT_S:
        return "failure", f"{argv!r}: took {elapsed:.0f} s"
    if "Traceback" in text or "internal error" in text:
        return "failure", f"{argv!r}: {text.strip()[-300:]}"
    if rc not in (0, 1, 2):
        return "failure", f"{argv!r}: exit status {rc}"
    if rc == 2 and len(lines) != 1:
        return "failure", f"{argv!r}: exit 2 with {len(lines)} lines: {text.strip()[:300]}"
    return "clean", ""


def fuzz(world, monkeypatch, count: int, seed: int) -> None:
    stand_ins(monkeypatch)
    # Relative paths ("../../..") stay inside the test's folder: analysing the whole disk would
    # be a legitimate, slow request, not a fault.
    cwd = world.folder / "a" / "b" / "c"
    cwd.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    rng = random.Random(seed)
    bases = base_arg_lists(world)
    failures = []
    for _ in range(count):
        argv = mutate(rng, rng.choice(bases), world)
        verdict, why = judge(argv)
        if verdict == "failure":
            failures.append(why)
    print(f"\nfuzz cli: {count} inputs tried, {count - len(failures)} clean, {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])


def test_fuzz_cli_default(world, monkeypatch):
    fuzz(world, monkeypatch, DEFAULT_INPUTS, seed=12)


@pytest.mark.fuzz_large
def test_fuzz_cli_large(world, monkeypatch):
    fuzz(world, monkeypatch, LARGE_INPUTS, seed=1212)


@pytest.mark.parametrize("argv", [
    [b"run", b"clock-check", b"--operator", b"\xff\xfe"],
    [b"run", b"clock-check", b"--set", b"samples=\xd9\xa1"],
    [b"info", b"\xff.h5"],
    [b"analyze", b"\xe9", b"--no-progress"],
    [b"run", b"clock-check", b"--out", b"/dev/null"],
])
def test_real_argv_bytes_through_a_subprocess(tmp_path, argv):
    result = subprocess.run([sys.executable, "-m", "memlab", *argv], capture_output=True,
                            timeout=120, cwd=tmp_path)
    err = result.stderr.decode("utf-8", "replace").strip()
    assert result.returncode == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not list(tmp_path.rglob("*.h5"))
