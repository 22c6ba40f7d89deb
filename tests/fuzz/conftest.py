"""Fuzz suite: generated hostile inputs for every entry point (CLI, bench file, plan, run file,
VISA commands). The default counts keep it under a minute in ``make test``; tests marked
``fuzz_large`` run many more inputs and only with MEMLAB_FUZZ_LARGE=1 (``make fuzz-large``)."""

from __future__ import annotations

import os

import pytest

LARGE = os.environ.get("MEMLAB_FUZZ_LARGE") == "1"


def pytest_collection_modifyitems(config, items):
    if LARGE:
        return
    skip = pytest.mark.skip(reason="large fuzz run: set MEMLAB_FUZZ_LARGE=1 (make fuzz-large)")
    for item in items:
        if "fuzz_large" in item.keywords:
            item.add_marker(skip)
