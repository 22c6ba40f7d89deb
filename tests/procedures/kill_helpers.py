"""Kill -9 a ``memlab run`` child once its run file holds enough checkpoint rows (shared by the
learning experiments' resume tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from memlab.storage import RunReader

REPO = Path(__file__).resolve().parents[2]


def run_and_kill(tmp_path: Path, args: list[str], stream: str, rows: int, timeout_s: float = 60.0) -> Path:
    """Start ``memlab run ARGS --out tmp_path/runs`` in a child process, SIGKILL it as soon as
    ``stream`` of its run file has ``rows`` rows, and return the killed run file."""
    out = tmp_path / "runs"
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    log = tmp_path / "child.log"
    with open(log, "w") as err:
        child = subprocess.Popen([sys.executable, "-m", "memlab", "run", *args, "--out", str(out)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=err)
        seen, path = 0, None
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and child.poll() is None:
                try:
                    [path] = out.glob("*.h5")
                    with RunReader(path) as reader:
                        seen = len(reader.stream(stream))
                except (ValueError, OSError, KeyError):
                    pass  # not created yet, or caught mid-write: look again
                if seen >= rows:
                    break
                time.sleep(0.05)
        finally:
            child.kill()
            child.wait()
    assert path is not None and seen >= rows, f"the child wrote {seen} {stream} rows: {log.read_text()[-2000:]}"
    return path
