"""Per-device parameters given to the chip (a fitted twin) instead of drawn ones."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.sim.chip import Chip, ChipInputError


def test_given_devices_replace_the_draws_and_nan_devices_are_drawn():
    nan = np.nan
    given = {"g_min_s": [[1e-6, nan], [nan, nan]], "a_plus": [[0.05, nan], [nan, 0.01]],
             "sigma_read": [[0.02, nan], [nan, nan]], "stuck": [[0, 2], [nan, nan]]}
    chip = Chip(2, 2, seed=3, devices=given)
    drawn = Chip(2, 2, seed=3)
    state = chip.device_state(0, 0)
    assert state["g_min_s"] == pytest.approx(1e-6) and state["a_plus"] == pytest.approx(0.05)
    assert state["read_sigma"] == pytest.approx(0.02) and not state["stuck"]
    assert chip.device_state(1, 1)["a_plus"] == pytest.approx(0.01)
    # stuck at its Gmax, however it is pulsed
    assert chip.device_state(0, 1)["stuck"]
    assert chip.conductance[0, 1] == pytest.approx(chip.device_state(0, 1)["g_max_s"])
    # a device given nothing is drawn exactly as without given parameters
    assert chip.device_state(1, 0)["g_max_s"] == drawn.device_state(1, 0)["g_max_s"]
    # a given read sigma is the device's own, not an injected "noisy" fault
    assert not chip.fault_map()["noisy"].any()


@pytest.mark.parametrize("given, message", [
    ({"gmin": np.ones((2, 2))}, "devices"),
    ({"g_min_s": np.ones((3, 2))}, "shape"),
    ({"a_plus": np.full((2, 2), 1.5)}, "(0, 1]"),
    ({"stuck": np.full((2, 2), 3.0)}, "stuck at Gmin"),
    ({"g_min_s": np.full((2, 2), 2e-6), "g_max_s": np.full((2, 2), 1e-6)}, "below g_max_s"),
])
def test_bad_given_devices_are_refused_naming_the_parameter(given, message):
    with pytest.raises(ChipInputError, match="devices") as info:
        Chip(2, 2, devices=given)
    assert message in str(info.value)
