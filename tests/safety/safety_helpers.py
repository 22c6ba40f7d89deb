"""Shared by the safety tests: a real-time simulated bench file, child processes, waiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from memlab.instruments.bench import DEFAULT_BENCH

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def realtime_bench(folder: Path) -> Path:
    """The built-in simulated bench, paced to the wall clock, so a run lasts long enough to be
    signalled or killed mid-way."""
    text = DEFAULT_BENCH.read_text().replace("line_frequency_hz = 50", "line_frequency_hz = 50\nrealtime = true")
    path = folder / "realtime.toml"
    path.write_text(text)
    return path


def start_child(tmp_path: Path, args: list[str], fsize: int | None = None) -> subprocess.Popen:
    """``memlab ARGS`` in a child (tests/safety/child.py); its twins' states go to state.json."""
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "child.py"), str(tmp_path / "state.json"),
         "-" if fsize is None else str(fsize), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "child ready"
    return proc


def child_states(tmp_path: Path) -> list[dict]:
    return json.loads((tmp_path / "state.json").read_text())


def wait_for(condition, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError, IndexError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def running_attempt_started(out: Path) -> bool:
    attempts = manifest(out)["attempts"]
    return bool(attempts) and attempts[-1]["status"] == "running" and (out / attempts[-1]["file"]).exists()


def finish(proc: subprocess.Popen, timeout_s: float = 60.0) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out, err
