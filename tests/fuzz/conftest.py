"""Fuzz suite: generated hostile inputs for every entry point (CLI, bench file, plan, run file,
VISA commands). The default counts keep it under a minute in ``make test``; tests marked
``fuzz_large`` run many more inputs and only with MEMLAB_FUZZ_LARGE=1 (``make fuzz-large``)."""

from __future__ import annotations

import os

import pytest

LARGE = os.environ.get("MEMLAB_FUZZ_LARGE") == "1"


#: the large runs take minutes by design: the suite's per-test timeout (300 s) is for hangs
LARGE_TIMEOUT_S = 3600


def pytest_collection_modifyitems(config, items):
    if LARGE:
        for item in items:
            if "fuzz_large" in item.keywords:
                item.add_marker(pytest.mark.timeout(LARGE_TIMEOUT_S))
        return
    skip = pytest.mark.skip(reason="large fuzz run: set MEMLAB_FUZZ_LARGE=1 (make fuzz-large)")
    for item in items:
        if "fuzz_large" in item.keywords:
            item.add_marker(skip)
