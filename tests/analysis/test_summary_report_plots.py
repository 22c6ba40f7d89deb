"""Report figures: time axes in s/min/h/day, robust chip maps, the XOR truth table."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from memlab.analysis import plots  # noqa: E402


def _tick_labels(fig, axis: str = "x") -> list[str]:
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


def test_time_axes_read_in_seconds_minutes_hours_and_days():
    t = np.geomspace(1.0, 86400.0, 30)
    fig = plots.plot_retention(t, 5e-6 * t ** -0.01)
    labels = _tick_labels(fig)
    assert labels == ["1 s", "1 min", "1 h", "1 day"] or set(labels) <= {"1 s", "10 s", "1 min", "10 min", "1 h",
                                                                        "10 h", "1 day"}
    assert not any("ks" in label for label in labels)
    assert plots.time_unit(5400.0) == ("h", 3600.0) and plots.format_duration(1800.0) == "30 min"


def test_chip_map_clips_to_robust_percentiles_and_marks_unmeasured_cells():
    z = np.full((8, 8), np.nan)
    z[:4, :4] = np.linspace(1.0, 2.0, 16).reshape(4, 4)
    z[0, 0] = 1e72  # one absurd value must not set the colour scale
    fig = plots.plot_chip_map(z, label="Time to 10 % loss", unit="s")
    image = fig.axes[0].images[-1]
    low, high = image.norm.vmin, image.norm.vmax
    assert high < 1e3 and low >= 1.0 - 1e-9
    assert "16 of 64 cells measured" in fig.axes[0].get_title(loc="left")
    assert plots.robust_limits([1.0, 2.0, np.nan, 3.0], percentiles=(0, 100)) == (1.0, 3.0)


def test_xor_truth_table_figure():
    a = np.array([0, 0, 1, 1] * 3)
    b = np.array([0, 1, 0, 1] * 3)
    current = np.array([1e-8, 5e-8, 6e-8, 3e-7] * 3)
    fig = plots.plot_xor_truth_table(a, b, current, output=np.array([0, 1, 1, 0] * 3), band=(2e-8, 8e-8))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A=0\nB=0", "A=0\nB=1", "A=1\nB=0", "A=1\nB=1"]
    assert ax.get_yscale() == "log"
    assert "output-1 band" in [t.get_text() for t in ax.get_legend().get_texts()]
