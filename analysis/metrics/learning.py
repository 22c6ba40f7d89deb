"""Figures of merit of the on-chip learning experiments (``crossbar-train``, ``maze-rl``).

- **Learning curve over seeds** (:func:`learning_band`): at each epoch/episode, the mean over
  the runs (one per seed) with its Student-t interval. Only epochs every run reached are
  shown: a curve is never extended past the shortest run.
- **Hardware-vs-ideal gap** (:func:`paired_gap`): the mean over seeds of (ideal - hardware) of
  one figure (final test accuracy, episodes to learn), with the Student-t interval of the paired
  differences; one run alone gives the difference, not determined as a mean.
- **Accuracy gap of one run** (:func:`accuracy_gap`): ideal - hardware accuracy on the same
  test set, with Newcombe's interval for a difference of two Wilson intervals (it treats the
  two as independent, which is conservative for one test set).
- **Episodes to learn** (:func:`episodes_to_learn`): the first episode from which every later
  episode of the run takes at most ``factor`` x the shortest path; a run that does not get there
  reports "at least" its episode count, never a guessed number.
- **Pulses per weight** (:func:`pulses_per_weight`): programming pulses fired during learning,
  divided by the devices that hold weights (both devices of a pair count).
- **Energy estimate** (:func:`pulse_energy_j`): the energy the programming pulses dissipate in
  the devices, ``sum V^2 G t_pulse``, ohmic, with the devices' mean conductance read in that
  epoch; the interval brackets it with their least and most conductive device. It leaves out the reads, the drivers, the wiring and (for maze-rl) the laser, which
  is given separately as optical energy ``P t`` per reward pulse. An order-of-magnitude figure:
  the I-V of a real device is not ohmic at the pulse voltage.
- **Failed devices** (:func:`failed_devices`): weight devices whose read conductance never
  moved by more than ``min_change`` (relative) over the whole run although they were pulsed:
  stuck devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.analysis.metrics.fom import CONFIDENCE, FigureOfMerit, fraction_figure, mean_figure, t_quantile

__all__ = ["LearningBand", "learning_band", "paired_gap", "accuracy_gap", "maze_shortest_path", "episodes_to_learn", "pulses_per_weight",
           "pulse_energy_j", "failed_devices"]


@dataclass(frozen=True)
class LearningBand:
    """Mean learning curve over runs, with its interval (NaN where fewer than 2 runs)."""

    index: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    runs: int


def learning_band(curves: list[np.ndarray], *, confidence: float = CONFIDENCE) -> LearningBand:
    """Mean and Student-t interval over ``curves`` (one per seed) at each index they all reach."""
    if not curves:
        raise ValueError("learning_band: no curves")
    n = min(len(c) for c in curves)
    if n == 0:
        raise ValueError("learning_band: a curve is empty")
    y = np.array([np.asarray(c, float)[:n] for c in curves])
    mean = y.mean(axis=0)
    if len(curves) < 2:
        half = np.full(n, np.nan)
    else:
        half = t_quantile(confidence, len(curves) - 1) * y.std(axis=0, ddof=1) / np.sqrt(len(curves))
    return LearningBand(np.arange(n), mean, mean - half, mean + half, len(curves))


def paired_gap(ideal: object, hardware: object, *, confidence: float = CONFIDENCE) -> FigureOfMerit:
    """Mean of ideal - hardware over paired runs with its Student-t interval."""
    i, h = np.asarray(ideal, float), np.asarray(hardware, float)
    if i.shape != h.shape:
        raise ValueError(f"paired_gap: {i.shape} ideal and {h.shape} hardware values")
    return mean_figure(i - h, confidence=confidence, what="paired runs")


def accuracy_gap(ideal_accuracy: float, hardware_accuracy: float, samples: int, *,
                 confidence: float = CONFIDENCE) -> FigureOfMerit:
    """ideal - hardware accuracy on ``samples`` test samples, Newcombe (method 10) interval."""
    if samples < 1:
        return FigureOfMerit.not_determined("no test samples", 0)
    i = fraction_figure(round(ideal_accuracy * samples), samples, confidence=confidence)
    h = fraction_figure(round(hardware_accuracy * samples), samples, confidence=confidence)
    d = i.value - h.value
    low = d - np.hypot(i.value - i.low, h.high - h.value)
    high = d + np.hypot(i.high - i.value, h.value - h.low)
    return FigureOfMerit.from_interval(d, low, high, samples, confidence=confidence)


def maze_shortest_path(size: int, walls: str, goal: str) -> int | None:
    """Moves from (0, 0) to the goal of a maze-rl maze (its parameters as recorded), or None."""
    blocked = {tuple(int(x) for x in part.split(",")) for part in walls.split(";") if part.strip()}
    target = tuple(int(x) for x in goal.split(",")) if goal.strip() else (size - 1, size - 1)
    frontier, seen, steps = [(0, 0)], {(0, 0)}, 0
    while frontier:
        if target in frontier:
            return steps
        nxt = []
        for r, c in frontier:
            for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
                cell = (r + dr, c + dc)
                if 0 <= cell[0] < size and 0 <= cell[1] < size and cell not in blocked and cell not in seen:
                    seen.add(cell)
                    nxt.append(cell)
        frontier, steps = nxt, steps + 1
    return None


def episodes_to_learn(steps: object, shortest: int, factor: float = 1.5, episode: object = None) -> FigureOfMerit:
    """First episode from which every episode takes at most ``factor * shortest`` steps (an exact
    count: its interval is the point); ``episode`` gives the episode numbers (a resumed run's
    start past 0), else they count from 0."""
    s = np.asarray(steps, float)
    numbers = np.arange(s.size) if episode is None else np.asarray(episode, int)
    if s.size == 0:
        return FigureOfMerit.not_determined("no episodes", 0)
    over = np.flatnonzero(s > factor * shortest)
    first = 0 if over.size == 0 else int(over[-1]) + 1
    if first >= s.size:
        return FigureOfMerit.at_least(float(numbers[-1] + 1), int(s.size),
                                      f"the last episode still took more than {factor:g} x the shortest path")
    return FigureOfMerit.from_interval(float(numbers[first]), float(numbers[first]), float(numbers[first]),
                                       int(s.size))


def pulses_per_weight(pulses: object, devices: int) -> FigureOfMerit:
    """Total pulses / weight devices, with the Student-t interval of the per-epoch rate times
    the epochs (the run's total is exact; the interval says how steady the use was)."""
    p = np.asarray(pulses, float)
    if devices < 1 or p.size == 0:
        return FigureOfMerit.not_determined("no pulses or no devices", int(p.size))
    total = float(p.sum()) / devices
    if p.size < 2:
        return FigureOfMerit.from_interval(total, total, total, int(p.size))
    per = mean_figure(p / devices)
    return FigureOfMerit.from_interval(total, per.low * p.size, per.high * p.size, int(p.size))


def pulse_energy_j(count: object, amplitude_v: float, conductance_s: object, width_s: float) -> FigureOfMerit:
    """Ohmic energy of programming pulses in the devices, ``sum count * V^2 * G * width``.

    ``count``: pulses per epoch/episode; ``conductance_s``: the devices' conductances read in that
    epoch (epochs x devices). Which device each pulse hit is not recorded, so the value uses the
    mean conductance and the interval brackets it between every pulse landing on the least and
    on the most conductive device of its epoch."""
    c = np.asarray(count, float)
    g = np.asarray(conductance_s, float).reshape(len(c), -1) if len(c) else np.zeros((0, 1))
    if c.size == 0 or g.size == 0:
        return FigureOfMerit.not_determined("no pulses recorded", int(c.size))
    per = amplitude_v ** 2 * width_s
    value = float(np.sum(c * np.nanmean(g, axis=1)) * per)
    low = float(np.sum(c * np.nanmin(g, axis=1)) * per)
    high = float(np.sum(c * np.nanmax(g, axis=1)) * per)
    return FigureOfMerit.from_interval(value, low, high, int(c.sum()))


def failed_devices(conductance_series: object, *, min_change: float = 0.02) -> np.ndarray:
    """Boolean mask over devices (axis 1 onwards) whose conductance over time (axis 0) never
    moved by more than ``min_change`` of its mean: stuck."""
    g = np.asarray(conductance_series, float)
    if g.ndim < 2 or g.shape[0] < 2:
        raise ValueError("failed_devices: needs at least two reads of each device")
    span = np.nanmax(g, axis=0) - np.nanmin(g, axis=0)
    return span <= min_change * np.abs(np.nanmean(g, axis=0))
