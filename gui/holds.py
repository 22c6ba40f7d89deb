"""Holding a run at a chosen batch, wherever it executes (for the documentation's screenshots).

The dashboard runs a simulated bench's procedures in a worker process; a listener that holds
the run must then work in that process and be released from the GUI's. :class:`HoldAtBatch`
keeps its two events as files in a folder of its own, which both processes see, and imports no
Qt (the worker loads it to unpickle it).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from memlab.procedures import RunListener


class FileEvent:
    """``set()`` / ``is_set()`` / ``wait(timeout)`` of a threading.Event, kept as a file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def set(self) -> None:
        self.path.touch()

    def is_set(self) -> bool:
        return self.path.exists()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True


class HoldAtBatch(RunListener):
    """Holds the run once ``batches`` batches of ``stream`` went by (in its ``run``-th run, counted
    in the process the listener runs in), until released."""

    def __init__(self, stream: str, batches: int, run: int = 1, timeout_s: float = 30.0) -> None:
        self.stream, self.batches, self.run, self.timeout_s = stream, batches, run, timeout_s
        self.seen, self.runs = 0, 0
        self.folder = Path(tempfile.mkdtemp(prefix="memlab-hold-"))
        self.reached, self.release = FileEvent(self.folder / "reached"), FileEvent(self.folder / "release")

    def on_start(self, info: object) -> None:
        self.runs += 1
        self.seen = 0

    def on_batch(self, stream: str, batch: object) -> None:
        if stream != self.stream or self.runs != self.run or self.reached.is_set():
            return
        self.seen += 1
        if self.seen == self.batches:
            self.reached.set()
            self.release.wait(self.timeout_s)

    def remove(self) -> None:
        """Delete the folder of the events (release first)."""
        shutil.rmtree(self.folder, ignore_errors=True)
