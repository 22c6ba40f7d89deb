"""Imported once by the fork server of the dashboard's worker processes (:mod:`.process_run`).

Builds the built-in simulated bench on both chip families and closes it again: the virtual
instruments' command parsers (compiled once per process) and the chip's code are then ready in
every worker forked from the server, which start in tens of milliseconds instead of half a second.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def warm_up() -> None:
    from memlab.instruments.bench import load_bench

    for family in (None, "optomemristor"):
        try:
            load_bench(None, family=family).close()
        except Exception as exc:  # noqa: BLE001 - a warm-up only: the worker builds its bench anyway
            log.debug("worker warm-up (%s): %s", family, exc)


warm_up()
