"""A progress bar on the terminal for a run, fed by the Recorder like any live listener."""

from __future__ import annotations

import sys

from tqdm import tqdm

from memlab.procedures import RunListener


class ProgressBar(RunListener):
    """tqdm bar of a run's progress, with the time left estimated from the bench clock."""

    def __init__(self, description: str, disable: bool | None = None) -> None:
        self.description = description
        self.disable = disable
        self.bar: tqdm | None = None

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, unit="step", file=sys.stderr,
                            disable=self.disable, dynamic_ncols=True, leave=False)
        self.bar.n = done
        self.bar.set_postfix_str("left ~" + (f"{eta_s:.3g} s (bench clock)" if eta_s is not None else "?"),
                                 refresh=False)
        self.bar.refresh()

    def on_finish(self, status: str, error: str, path: str) -> None:
        if self.bar is not None:
            self.bar.close()
