"""Optical figures as the report gives them, from an optical-pulses run on the simulated
optomemristor bench: the photo-response exponent from the combined photoconductance-plus-
shunting law, rise and decay time constants from the continuous-illumination step, each with an
interval holding the chip's preset; and the figures a referee reads (light shaded only where on,
log time where the reads span decades, the XOR threshold drawn)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from memlab.analysis import open_run, plots  # noqa: E402
from memlab.analysis.report import RUN_FIGURES  # noqa: E402
from memlab.analysis.summary import summarize_run  # noqa: E402
from memlab.instruments.bench import Bench, load_bench, read_bench_config  # noqa: E402
from memlab.procedures import get_procedure, run_procedure  # noqa: E402


@pytest.fixture(scope="module")
def optical_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optical")
    with load_bench(None, family="optomemristor") as bench:
        params = dict(bench.world.chip.params)
        # the default step: its reads under the light are log-spaced from 1 ms, so tau_on (10 ms)
        # is told apart from the shunting's own rise (5 ms); evenly spaced reads left it not determined
        result = run_procedure(get_procedure("optical-pulses")(row=0, col=0, count=5, interval_s=0.1, width_s=5e-3),
                               bench, folder)
    assert result.status == "completed"
    return open_run(result.path), params


def test_photo_exponent_comes_from_the_combined_law_and_holds_the_preset(optical_run):
    run, params = optical_run
    row = summarize_run(run).rows[0]
    gamma = row["photo_exponent"]
    # a plain power law through the shunted, non-monotone response gives about 0.1 here
    assert gamma.determined and gamma.covers(params["gamma_ph"]), gamma
    assert row["shunt_coefficient_per_w"].determined


def test_rise_and_decay_come_from_the_step_and_hold_the_preset(optical_run):
    run, params = optical_run
    row = summarize_run(run).rows[0]
    for name, truth in (("rise_tau_s", params["tau_on_s"]), ("decay_tau_s", params["tau_ph_s"])):
        fig = row[name]
        assert fig.determined and fig.covers(truth), (name, fig, truth)


def test_a_pulse_train_alone_gives_no_time_constants(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        result = run_procedure(get_procedure("optical-pulses")(row=0, col=0, count=5, powers_w="", step_power_w=0.0),
                               bench, tmp_path)
    row = summarize_run(open_run(result.path)).rows[0]
    assert not row["rise_tau_s"].determined and "continuous-illumination step" in row["rise_tau_s"].reason


def _shaded_spans(ax) -> list[tuple[float, float]]:
    """The x extents of the light shading (axvspan rectangles in data x)."""
    return [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches
            if getattr(p, "get_facecolor", None) and p.get_facecolor()[:3] == pytest.approx((1.0, 0.843, 0.0), abs=0.01)]


def test_pulse_train_is_shaded_only_while_the_light_was_on(optical_run):
    run, _ = optical_run
    figures = RUN_FIGURES["optical-pulses"](run)
    trace = next(fig for fig, caption in figures if "after each light pulse" in caption)
    ax = trace.axes[0]
    spans = _shaded_spans(ax)
    assert len(spans) == 5  # one per pulse, none over the dark gaps between them
    o = run.arrays("optical", ("time",))
    train = float(np.ptp(o["time"]))
    lit = sum(hi - lo for lo, hi in spans)
    assert lit < 0.2 * train  # 5 ms pulses every 100 ms: the light is on ~5 % of the train


def test_step_response_figure_shades_the_light_and_logs_the_decay(optical_run):
    run, _ = optical_run
    figures = RUN_FIGURES["optical-pulses"](run)
    step = next(fig for fig, caption in figures if "Continuous-illumination step" in caption)
    rise, decay = step.axes[:2]
    assert len(_shaded_spans(rise)) == 1 and decay.get_xscale() == "log"
    law = next(fig for fig, caption in figures if "combined" in caption)
    assert any("combined law" in t.get_text() for t in law.axes[0].get_legend().get_texts())


def test_relaxation_over_decades_is_drawn_on_a_log_time_axis():
    t = np.geomspace(1e-3, 100.0, 40)
    fig = plots.plot_relaxation(t, 2e-7 + 3e-6 * np.exp(-t / 1.0))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    fig.canvas.draw()
    assert not any("ks" in label.get_text() for label in ax.get_xticklabels())


def test_xor_figure_draws_the_threshold_the_run_recorded(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        result = run_procedure(get_procedure("xor")(row=0, col=0, trials=5, calibration_trials=2), bench, tmp_path)
    run = open_run(result.path)
    threshold = float(run.arrays("result", ("threshold",))["threshold"][-1])
    (fig, caption), = RUN_FIGURES["xor"](run)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() == "threshold"]
    assert lines and math.isclose(lines[0].get_ydata()[0], abs(threshold)), caption
    assert "threshold" in caption
    # accuracy over the truth tables at the threshold, not the calibration trials that set it
    accuracy = summarize_run(run).rows[0]["xor_accuracy"]
    assert accuracy.n == 5 * 4 and accuracy.determined


def test_relaxation_after_light_separates_the_shunting_release_and_holds_tau_ph(tmp_path):
    """The shunting releases (tens of ms) while the photoconductance decays (tau_ph): a single
    exponential through both gave about 2 tau_ph with an interval excluding it. Over draws of
    tau_ph the reported intervals must hold the chip's own value."""
    rng = np.random.default_rng(5)
    hits, draws = 0, 6
    for k in range(draws):
        tau_ph = float(rng.uniform(0.4, 2.5))
        config = read_bench_config(None, family="optomemristor")
        chip = replace(config.chip, seed=k, overrides={**config.chip.overrides, "tau_ph_s": tau_ph})
        with Bench(replace(config, chip=chip)) as bench:
            result = run_procedure(get_procedure("relaxation")(row=k % 4, col=0, stimulus="light"), bench, tmp_path)
        fig = summarize_run(open_run(result.path)).rows[0]["relaxation_tau_s"]
        assert fig.determined, fig
        hits += fig.covers(tau_ph)
    assert hits >= draws - 1, hits


def test_three_factor_reports_both_orders_of_the_window(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        params = dict(bench.world.chip.params)
        result = run_procedure(get_procedure("three-factor")(row=0, col=0), bench, tmp_path)
    run = open_run(result.path)
    row = summarize_run(run).rows[0]
    for name, truth in (("eligibility_tau_s", params["tau_e_s"]), ("eligibility_pulse_light_tau_s", params["tau_pl_s"])):
        assert row[name].determined and row[name].covers(truth), (name, row[name], truth)
    (fig, _caption), = RUN_FIGURES["three-factor"](run)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "pulse, then light" in labels and "light, then pulse" in labels
