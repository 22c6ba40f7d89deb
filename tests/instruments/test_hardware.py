"""On a real bench (MEMLAB_HW_BENCH=bench.toml): every instrument answers, and switches off."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.hardware


@pytest.fixture
def bench():
    from memlab.instruments.bench import load_bench

    with load_bench(os.environ["MEMLAB_HW_BENCH"]) as b:
        yield b


def test_every_instrument_identifies_itself(bench):
    for role, driver in bench.instruments().items():
        assert driver.identity().strip(), f"{role} gave an empty identity"


def test_safe_shutdown_leaves_every_output_off(bench):
    assert bench.safe_shutdown() == []
    for role in ("smu", "pulser", "laser"):
        driver = getattr(bench, role)
        if driver is not None:
            assert not driver.output_enabled(), f"{role} output still on after safe shutdown"
