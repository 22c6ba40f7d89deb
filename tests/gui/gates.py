"""Run gates that work wherever the run executes: in a thread of the test process, or in the
dashboard's worker process (the gate is pickled into it). Free of Qt, so the worker imports it
cheaply. The events are files in a folder of their own: both processes see them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from memlab.gui.holds import FileEvent
from memlab.procedures import RunListener


class Gate(RunListener):
    """Holds a run at its ``at_batch``-th batch of ``stream`` until the test releases it, so a test
    sees the run truly mid-way whatever the speed of the simulated bench."""

    def __init__(self, stream: str, at_batch: int = 1) -> None:
        self.stream, self.at_batch, self.seen = stream, at_batch, 0
        self.folder = Path(tempfile.mkdtemp(prefix="memlab-gate-"))
        self.reached, self.release = FileEvent(self.folder / "reached"), FileEvent(self.folder / "release")

    def on_batch(self, stream, batch) -> None:
        if stream == self.stream:
            self.seen += 1
            if self.seen == self.at_batch:
                self.reached.set()
                self.release.wait(20.0)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
