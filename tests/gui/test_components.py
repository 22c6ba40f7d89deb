"""Dashboard parts on their own: SI input, growing buffers, live-plot cost, chip map, forms, CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from memlab.gui.buffers import GrowingBuffer, PeakDecimation
from memlab.gui.chip_map import ChipMap, log_ticks
from memlab.gui.forms import ParameterForm, QuantityField
from memlab.gui.live_plots import DECIMATE_ABOVE, PlotArea, StreamInfo, pair_columns
from memlab.gui.units import QuantityError, format_quantity, parse_quantity
from memlab.procedures import PlotHint, get_procedure
from memlab.storage import Column, StreamSpec


@pytest.mark.parametrize("text, unit, value", [
    ("100 mV", "V", 0.1), ("100m", "V", 0.1), ("0.1", "V", 0.1), ("1.5e-3", "A", 1.5e-3),
    ("10 µA", "A", 1e-5), ("10uA", "A", 1e-5), ("2 kohm", "ohm", 2e3), ("2 kΩ", "ohm", 2e3),
    ("5 m", "m", 5.0), ("635 nm", "m", 635e-9), ("1kHz", "Hz", 1e3), ("-.5 ms", "s", -5e-4),
])
def test_quantities_parse_with_si_prefixes_and_units(text, unit, value):
    assert parse_quantity(text, unit) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", ["", "abc", "10 x", "1.2.3", "10 mA"])
def test_bad_quantities_say_what_is_allowed(text):
    with pytest.raises(QuantityError, match="number|unknown unit"):
        parse_quantity(text, "V")


def test_quantities_format_with_prefixes():
    assert format_quantity(1e-4, "A") == "100 µA"
    assert format_quantity(0.0125, "s") == "12.5 ms"
    assert format_quantity(0.0, "V") == "0 V"
    assert format_quantity(2500.0, "") == "2500"
    for value in (3.3e-9, 47e3, -0.2):  # what is shown parses back to the value
        assert parse_quantity(format_quantity(value, "S"), "S") == pytest.approx(value)


def test_growing_buffer_appends_in_place_and_views_without_copies():
    buffer = GrowingBuffer(4)
    buffer.append(np.arange(3.0))
    first = buffer.view()
    buffer.append([3.0])  # fits: same memory
    assert np.shares_memory(first, buffer.view())
    buffer.append(np.arange(4.0, 100.0))  # grows by doubling
    assert buffer.capacity >= 100 and len(buffer) == 100
    np.testing.assert_array_equal(buffer.view(), np.arange(100.0))
    assert first.tolist() == [0.0, 1.0, 2.0]  # an old view stays valid


def test_peak_decimation_keeps_every_extreme_and_bounds_the_points_drawn():
    rng = np.random.default_rng(1)
    n = 300_000
    x, y = np.arange(n, dtype=float), rng.normal(size=n)
    y[123_457], y[222_222] = 40.0, -35.0  # spikes must survive
    xs, ys, decimation = GrowingBuffer(), GrowingBuffer(), PeakDecimation(target_blocks=256)
    start = 0
    while start < n:  # batches of uneven sizes, as runs send them
        stop = min(n, start + int(rng.integers(1, 5000)))
        xs.append(x[start:stop])
        ys.append(y[start:stop])
        decimation.update(xs.view(), ys.view())
        start = stop
    shown_x, shown_y = decimation.display(xs.view(), ys.view())
    assert shown_y.max() == 40.0 and shown_y.min() == -35.0
    assert shown_x[0] == 0.0 and shown_x[-1] == n - 1
    assert shown_x.size <= 4 * 256 + decimation.factor
    assert np.all(np.diff(shown_x) >= 0)


def _signal_area(qtbot) -> PlotArea:
    area = PlotArea()
    qtbot.addWidget(area)
    area.resize(700, 400)
    area.show()
    info = StreamInfo.from_spec(StreamSpec("signal", (Column("time", "s"), Column("value", "V"))))
    area.setup([info], [PlotHint("signal", "time", "value", "signal")])
    return area


def test_a_long_run_is_drawn_from_a_bounded_number_of_points(qtbot):
    area = _signal_area(qtbot)
    pane = area.panes[0]
    for start in range(0, 1_000_000, 100_000):
        t = np.arange(start, start + 100_000) * 1e-3
        area.feed("signal", {"time": t, "value": np.sin(t)})
    area.refresh()
    curve = pane.curves[None]
    assert len(curve) == 1_000_000 and curve.shown[0] == "blocks"
    assert curve.item.getData()[0].size < 3 * DECIMATE_ABOVE

    # zoomed in: only the raw points in view are handed over
    pane.plot.getViewBox().setXRange(100.0, 110.0, padding=0)
    area.refresh()
    assert curve.shown[0] == "clip"
    assert curve.item.getData()[0].size <= 10_000 + 2
    # a refresh with nothing new hands nothing over again
    assert pane.refresh() == 0


def test_grouped_curves_redraw_only_the_group_that_grew(qtbot):
    area = PlotArea()
    qtbot.addWidget(area)
    spec = StreamSpec("iv", (Column("cycle", "", "i4"), Column("voltage", "V"), Column("current", "A")))
    area.setup([StreamInfo.from_spec(spec)], get_procedure("iv-sweep").plots)
    v = np.r_[np.linspace(0, 1, 50), np.linspace(1, -1, 100), np.linspace(-1, 0, 50)]
    for cycle in range(3):
        area.feed("iv", {"cycle": np.full(v.size, cycle), "voltage": v, "current": -1e-5 * v})
    pane = area.panes[0]
    assert sorted(pane.curves) == [0, 1, 2] and pane.points == 3 * v.size
    assert pane.refresh() == 3
    area.feed("iv", {"cycle": np.full(10, 2), "voltage": v[:10], "current": v[:10]})
    assert pane.refresh() == 1  # only cycle 2
    # |y| from the hint: currents of both signs on a log axis
    assert np.all(pane.curves[1].y.view() >= 0)


def test_many_groups_keep_a_bounded_number_of_curves(qtbot):
    from memlab.gui.live_plots import MAX_GROUP_CURVES

    area = PlotArea()
    qtbot.addWidget(area)
    spec = StreamSpec("iv", (Column("cycle", "", "i4"), Column("voltage", "V"), Column("current", "A")))
    area.setup([StreamInfo.from_spec(spec)], get_procedure("iv-sweep").plots)
    cycles = np.repeat(np.arange(100), 20)
    area.feed("iv", {"cycle": cycles, "voltage": np.tile(np.linspace(-1, 1, 20), 100),
                     "current": np.ones(2000)})
    pane = area.panes[0]
    assert len(pane.curves) == MAX_GROUP_CURVES
    assert pane.points == 2000  # older cycles moved into the grey curve, none lost


def test_user_can_change_axes_and_log_scale(qtbot):
    area = _signal_area(qtbot)
    t = np.linspace(1e-3, 1.0, 500)
    area.feed("signal", {"time": t, "value": 2 * t})
    pane = area.panes[0]
    pane.x_box.setCurrentText("value")
    pane.y_box.setCurrentText("time")
    area.refresh()
    x, y = pane.curves[None].item.getOriginalDataset()
    np.testing.assert_allclose(x, 2 * t)
    np.testing.assert_allclose(y, t)
    assert pane.plot.getPlotItem().getAxis("left").labelText == "time"
    pane.log_y.setChecked(True)
    assert pane.plot.getPlotItem().getAxis("left").logMode


def test_measured_vs_ideal_scatter_gets_the_ideal_line(qtbot):
    area = PlotArea()
    qtbot.addWidget(area)
    spec = StreamSpec("vmm", (Column("vector", "", "i4"), Column("measured", "A", shape=(3,)),
                              Column("ideal", "A", shape=(3,))))
    area.setup([StreamInfo.from_spec(spec)], [PlotHint("vmm", "ideal", "measured", "VMM", kind="scatter")])
    area.feed("vmm", {"vector": np.arange(2), "measured": np.ones((2, 3)), "ideal": np.ones((2, 3)) * 1.1})
    pane = area.panes[0]
    assert pane.identity_line is not None and pane.points == 6
    pane.x_box.setCurrentText("vector")  # no longer the same unit: no y = x line
    assert pane.identity_line is None


def test_array_columns_pair_for_measured_vs_ideal():
    measured, ideal = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3) * 2
    x, y = pair_columns(ideal, measured)
    assert x.tolist() == [0, 2, 4, 6, 8, 10] and y.tolist() == [0, 1, 2, 3, 4, 5]
    x, y = pair_columns(np.array([7.0, 8.0]), measured)
    assert x.tolist() == [7, 7, 7, 8, 8, 8]
    with pytest.raises(ValueError, match="cannot pair"):
        pair_columns(np.zeros((2, 2)), measured)


def test_chip_map_takes_reads_maps_and_failures(qtbot):
    chip = ChipMap(4, 5)
    qtbot.addWidget(chip)
    chip.update_from_batch("reads", {"row": np.array([0, 3]), "col": np.array([1, 4]),
                                     "conductance": np.array([1e-6, 2e-5])}, [])
    assert chip.conductance_s[0, 1] == 1e-6 and chip.conductance_s[3, 4] == 2e-5
    assert "G = 1 µS" in chip.describe((0, 1)) and "R = 1 MΩ" in chip.describe((0, 1))
    assert "not read" in chip.describe((2, 2))
    whole = np.full((4, 5), np.nan)
    whole[2, 2] = 5e-5
    chip.update_from_batch("map", {"conductance": whole[None]}, [])
    assert chip.conductance_s[2, 2] == 5e-5 and chip.conductance_s[0, 1] == 1e-6  # NaN keeps old
    chip.update_from_batch("pulses", {"pulse": np.arange(3), "conductance": np.array([1e-6, 2e-6, 3e-6])}, [(1, 1)])
    assert chip.conductance_s[1, 1] == 3e-6  # a single-device run: its latest read
    chip.update_from_batch("result", {"failed": np.array([1]), "failure_cycle": np.array([9]),
                                      "reason_code": np.array([2])}, [(1, 1)])
    chip.update_from_batch("result", {"formed": np.array([0]), "forming_voltage": np.array([3.0])}, [(0, 0)])
    assert chip.marks == {(1, 1): "stuck", (0, 0): "failed"}
    assert "marked stuck" in chip.describe((1, 1))
    chip.quantity.setCurrentIndex(1)  # resistance: the image shows log10(1/G)
    assert chip.image.image[2, 2] == pytest.approx(np.log10(1 / 5e-5))
    with pytest.raises(ValueError, match="state"):
        chip.mark((0, 0), "broken")


def test_colour_bar_ticks_read_in_si_units():
    ticks = log_ticks(-7.0, -4.0, "S")[0]
    assert [label for _, label in ticks] == ["100 nS", "1 µS", "10 µS", "100 µS"]
    narrow = log_ticks(np.log10(3e-6), np.log10(5e-6), "S")[0]
    assert len(narrow) >= 2 and all(label.endswith("µS") for _, label in narrow)


def test_form_fields_flag_bad_values_and_cross_checks(qtbot):
    form = ParameterForm(get_procedure("clock-check"))
    qtbot.addWidget(form)
    samples = form.fields["samples"]
    assert isinstance(samples, QuantityField) and form.valid
    samples.setText("0")
    assert not form.valid and samples.property("invalid") is True
    assert "[1, 1e+09]" in samples.toolTip()
    samples.setText("2.5")
    assert "whole number" in samples.toolTip()
    samples.setText("10k")
    assert form.valid and form.make().values["samples"] == 10_000

    checked = ParameterForm(get_procedure("clock-check"), check=lambda p: _refuse_long(p))
    qtbot.addWidget(checked)
    checked.fields["samples"].setText("2000")
    assert not checked.valid and checked.fields["samples"].property("invalid") is True


def _refuse_long(procedure) -> None:
    from memlab.procedures import ParameterError

    if procedure.values["samples"] > 1000:
        raise ParameterError("samples", procedure.values["samples"], "<= 1000 on this bench")


def test_gui_command_is_registered_with_its_options(tmp_path):
    from memlab import cmd_gui

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd_gui.register(sub)
    args = parser.parse_args(["gui", "--bench", str(tmp_path / "none.toml"), "--out", "runs",
                              "--family", "optomemristor"])
    assert args.func is cmd_gui.run and args.bench.endswith("none.toml") and args.family == "optomemristor"
    with pytest.raises(SystemExit):
        parser.parse_args(["gui", "--family", "graphene"])
    with pytest.raises(FileNotFoundError, match="none.toml"):
        cmd_gui.run(args)



def test_a_plot_hint_naming_missing_columns_still_plots_and_says_so(qtbot):
    area = PlotArea()
    qtbot.addWidget(area)
    spec = StreamSpec("pacing", (Column("clock", "s"), Column("wall", "s")))
    area.setup([StreamInfo.from_spec(spec)], [PlotHint("pacing", "wall_s", "clock_s", kind="scatter")])
    area.feed("pacing", {"clock": np.arange(5.0), "wall": np.arange(5.0) / 10})
    pane = area.panes[0]
    assert (pane.x_name, pane.y_name) == ("clock", "wall") and pane.points == 5
    assert "wall_s" in pane.error and "clock_s" in pane.error


def test_empty_panes_say_no_data_yet_and_time_axes_read_in_minutes_and_hours(qtbot):
    area = _signal_area(qtbot)
    pane = area.panes[0]
    area.refresh()
    assert pane.empty_label.isVisibleTo(pane) and pane.empty_label.text() == "No data yet"
    t = np.linspace(0.0, 600.0, 50)  # ten minutes
    area.feed("signal", {"time": t, "value": t})
    area.refresh()
    assert not pane.empty_label.isVisibleTo(pane)
    axis = pane.plot.getPlotItem().getAxis("bottom")
    axis.setRange(0.0, 600.0)
    assert axis.labelUnits == "min" and "min" in axis.labelString()
    axis.setRange(0.0, 5 * 3600.0)
    assert axis.labelUnits == "h"
    axis.setRange(0.0, 30.0)
    assert axis.labelUnits == "s"


def test_plots_save_as_png_and_svg_and_export_csv(qtbot, tmp_path):
    area = _signal_area(qtbot)
    area.feed("signal", {"time": np.arange(5.0), "value": np.arange(5.0) * 2})
    area.refresh()
    assert area.save(tmp_path / "p.png").stat().st_size > 0
    area.save(tmp_path / "p.svg")
    assert "<svg" in (tmp_path / "p.svg").read_text()
    (written,) = area.export_csv(tmp_path, "run")
    lines = written.read_text().splitlines()
    assert lines[0].startswith("time (s),value") and lines[-1] == "4,8"
    with pytest.raises(ValueError, match="png or .svg"):
        area.save(tmp_path / "p.jpg")


def test_a_log_axis_spanning_about_one_decade_gets_more_than_one_label(qtbot):
    from memlab.gui.live_plots import ReadableAxis

    axis = ReadableAxis("left")
    axis.setLogMode(False, True)
    axis.setRange(-6.9, -5.6)  # 0.13 µ .. 2.5 µ: 1.3 decades, one decade mark inside
    values = [np.log10(v) for v in (2e-7, 3e-7, 5e-7, 1e-6, 2e-6)]
    labels = [t for t in axis.logTickStrings(values, 1.0, 1.0) if t]
    assert labels == ["2e-07", "5e-07", "1e-06", "2e-06"]
    axis.setRange(-9.0, -3.0)  # six decades: decades only
    values = [np.log10(v) for v in (1e-8, 2e-8, 1e-7, 1e-6)]
    assert [t for t in axis.logTickStrings(values, 1.0, 1.0) if t] == ["1e-08", "1e-07", "1e-06"]


def test_a_live_runs_panes_come_one_per_turn_in_kept_places_with_every_row(qtbot):
    """A staged set-up (a live run's start) builds the first pane at once and the others in later
    turns of the event loop: the first keeps its size, a later pane shows the rows sent before it,
    and the timer's redraws take one pane per turn."""
    area = PlotArea()
    qtbot.addWidget(area)
    area.resize(700, 600)
    area.show()
    spec = StreamSpec("signal", (Column("time", "s"), Column("value", "V"), Column("other", "V")))
    hints = [PlotHint("signal", "time", "value", "value"), PlotHint("signal", "time", "other", "other")]
    area.setup([StreamInfo.from_spec(spec)], hints, staged=True)
    assert len(area.panes) == 1
    qtbot.wait(10)
    first_size = area.panes[0].size()
    t = np.arange(100) * 1e-3
    area.feed("signal", {"time": t, "value": np.sin(t), "other": np.cos(t)})
    qtbot.waitUntil(lambda: len(area.panes) == 2, timeout=2000)
    qtbot.wait(10)
    assert area.panes[0].size() == first_size  # the place kept for the second was already its size
    late = area.panes[1]
    assert late.points == 100
    area.feed("signal", {"time": t + 1, "value": np.sin(t), "other": np.cos(t)})
    # the timer's turns: each redraws at most one pane, and both get there
    area._timer.stop()
    area._refreshed_at.clear()
    before = area.refreshes
    area._refresh_next()
    assert area.refreshes == before + 1
    area._refresh_next()
    assert area.refreshes == before + 2
    area._refresh_next()  # nothing new, and both redrawn just now
    assert area.refreshes == before + 2
    np.testing.assert_array_equal(late.curves[None].item.getData()[1], np.r_[np.cos(t), np.cos(t)])
    np.testing.assert_array_equal(area.panes[0].curves[None].item.getData()[1], np.r_[np.sin(t), np.sin(t)])


def test_an_area_set_up_at_once_has_every_pane_now(qtbot):
    area = PlotArea()
    qtbot.addWidget(area)
    spec = StreamSpec("signal", (Column("time", "s"), Column("value", "V"), Column("other", "V")))
    hints = [PlotHint("signal", "time", "value", "value"), PlotHint("signal", "time", "other", "other")]
    area.setup([StreamInfo.from_spec(spec)], hints)
    assert len(area.panes) == 2  # the run browser feeds a file's rows right after
