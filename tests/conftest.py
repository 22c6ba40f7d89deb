"""Tests that need real instruments are marked ``hardware`` and run only when a bench file of the
real bench is given: ``MEMLAB_HW_BENCH=bench.toml make test``."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MEMLAB_HW_BENCH"):
        return
    skip = pytest.mark.skip(reason="needs real instruments: set MEMLAB_HW_BENCH to the bench file")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)
