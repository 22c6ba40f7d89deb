"""The figure-of-merit type: intervals, not-determined reasons and how figures print."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.analysis.metrics.fom import (
    FigureOfMerit,
    cv_figure,
    fraction_figure,
    mean_figure,
    median_figure,
    ratio_of_means_figure,
    t_quantile,
)


def test_t_quantiles_match_the_tables():
    # two-sided 95 %: 12.706 (1), 4.303 (2), 2.571 (5), 2.228 (10), 2.042 (30), 1.960 (normal)
    for dof, table in ((1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042), (None, 1.960)):
        assert t_quantile(0.95, dof) == pytest.approx(table, rel=5e-3)
    with pytest.raises(ValueError, match="confidence=1.5"):
        t_quantile(1.5)


def test_a_figure_prints_with_its_uncertainty_or_its_reason():
    assert FigureOfMerit.from_stderr(1.234, 0.05, 10).text("V") == "1.234 ± 0.098 V"
    skewed = FigureOfMerit.from_interval(4.1, 3.2, 6.0, 8).text("s")
    assert skewed == "4.1 s (95% CI 3.2 to 6)"
    assert FigureOfMerit.at_least(3600, 20).text("s") == "> 3600 s (not reached within the measurement)"
    nd = FigureOfMerit.not_determined("data within noise", 5)
    assert nd.text() == "not determined: data within noise" and math.isnan(float(nd))
    with pytest.raises(ValueError, match="needs a reason"):
        FigureOfMerit(math.nan, quality="not determined")
    assert FigureOfMerit.from_interval(0.97, 0.96, 0.98, 40).text() == "0.97 ± 0.01"


def test_csv_columns_keep_the_interval_and_the_reason():
    cols = FigureOfMerit.from_interval(2.0, 1.5, 2.5, 7).columns("x")
    assert cols == {"x": 2.0, "x_low": 1.5, "x_high": 2.5, "x_n": 7, "x_quality": "ok"}
    nd = FigureOfMerit.not_determined("too few points (1)", 1).columns("x")
    assert math.isnan(nd["x"]) and nd["x_quality"] == "not determined: too few points (1)"


def test_intervals_cover_at_their_confidence():
    rng = np.random.default_rng(4)
    covered = {"mean": 0, "median": 0, "cv": 0}
    for _ in range(400):
        x = rng.normal(10.0, 2.0, 12)
        covered["mean"] += mean_figure(x).covers(10.0)
        covered["median"] += median_figure(x).covers(10.0)
        covered["cv"] += cv_figure(x).covers(0.2)
    for name, hits in covered.items():
        assert 0.91 <= hits / 400 <= 0.995, (name, hits)


def test_too_few_points_and_fractions():
    assert "too few points" in mean_figure([1.0]).reason
    assert "too few points" in cv_figure([1.0, 2.0]).reason
    f = fraction_figure(10, 10)
    assert f.value == 1.0 and f.high == 1.0 and 0.65 < f.low < 0.75  # Wilson: not [1, 1]
    assert not fraction_figure(0, 0).determined


def test_ratio_of_means_is_not_determined_within_noise():
    rng = np.random.default_rng(0)
    r = ratio_of_means_figure(rng.normal(5, 0.1, 10), rng.normal(1, 0.1, 10))
    assert r.covers(5.0) and r.low > 4
    assert "too few points" in ratio_of_means_figure([1.0], [1.0, 2.0]).reason
