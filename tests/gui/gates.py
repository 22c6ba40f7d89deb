"""Run gates that work wherever the run executes: in a thread of the test process, or in the
dashboard's worker process (the gate is pickled into it). Free of Qt, so the worker imports it
cheaply. The events are files in a folder of their own: both processes see them."""

from __future__ import annotations

import shutil
import time
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


class KillAt(RunListener):
    """Kills process ``pid`` (SIGKILL: no clean-up at all) at the first batch of ``stream`` in
    the ``nth`` run of ``procedure``: in a worker process it kills the dashboard that started it.
    Then waits a second, so that the run is still under way when the worker notices."""

    def __init__(self, pid: int, procedure: str, stream: str, nth: int = 1) -> None:
        self.pid, self.procedure, self.stream, self.nth = pid, procedure, stream, nth
        self.runs = 0

    def on_start(self, info) -> None:
        self.runs += info["procedure"] == self.procedure

    def on_batch(self, stream, batch) -> None:
        if stream == self.stream and self.runs == self.nth:
            import os
            import signal

            os.kill(self.pid, signal.SIGKILL)
            time.sleep(1.0)  # the worker notices (its lifeline ends) before the run's next step
