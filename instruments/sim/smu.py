"""What a source-measure unit twin reports, given what the chip conducts.

Shared by the SMU twins (2450, B2900, and the TSP 2600B): the DC bias a device sits under
between measurements, and how a true current becomes a reading (compliance, range, noise,
quantisation, overflow). The per-model figures (ranges, counts) are parameters.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from memlab.instruments.sim.world import SimWorld

#: the reading an SMU returns for an over-range measurement
OVERFLOW = 9.9e37


def seeded_rng(name: str) -> np.random.Generator:
    """A generator seeded from the instrument's name: repeatable runs, distinct instruments."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def pick_range(magnitude: float, ranges: Sequence[float]) -> float:
    """The smallest range that holds ``magnitude`` (the largest when none does)."""
    for value in ranges:
        if magnitude <= value:
            return value
    return ranges[-1]


def range_for_setting(value: float, ranges: Sequence[float], name: str) -> float:
    """A range setting rounds up to the next range, as the instruments do; above the top
    range (with 5 % over-range) it is refused."""
    magnitude = abs(value)
    for candidate in ranges:
        if magnitude <= candidate * 1.0000001:
            return candidate
    if magnitude <= ranges[-1] * 1.05:
        return ranges[-1]
    raise ValueError(f"{name}={value!r}: above the largest range {ranges[-1]:g} (+5 %)")


def readings(
    currents_a: np.ndarray,
    *,
    compliance_a: float,
    range_a: float | None,
    ranges_a: Sequence[float],
    nplc: float,
    rng: np.random.Generator,
    counts: float = 2.0e6,
) -> np.ndarray:
    """Readings of true currents as the instrument reports them.

    - compliance: the source limits the current to +-``compliance_a``;
    - range: ``range_a`` fixed, or per point the smallest range holding the current (auto);
      more than 105 % of a fixed range reads as :data:`OVERFLOW`;
    - noise: Gaussian, ``range / counts * 2 / sqrt(nplc)`` (more integration, less noise);
    - quantisation: steps of ``range / counts_eff``, with fewer effective counts below 1 PLC
      (10x fewer per decade of NPLC, the instruments' digits-vs-speed trade).
    """
    current = np.clip(np.asarray(currents_a, dtype=np.float64), -compliance_a, compliance_a)
    if range_a is None:
        table = np.asarray(ranges_a, dtype=np.float64)
        index = np.minimum(np.searchsorted(table, np.abs(current) / 1.05), len(table) - 1)
        scale = table[index]
    else:
        scale = np.full_like(current, range_a)
    digits_lost = max(0.0, -np.floor(np.log10(max(nplc, 1e-6))))
    quantum = scale / (counts / 10.0 ** digits_lost)
    noisy = current + rng.standard_normal(current.shape) * (scale / counts * 2.0 / np.sqrt(nplc))
    result = np.round(noisy / quantum) * quantum
    if range_a is not None:
        result[np.abs(current) > 1.05 * range_a] = OVERFLOW
    return result


class DcBias:
    """The DC stress on the device behind one SMU terminal between measurements.

    While the output is on at a level, the device is programmed by that level for as long as it
    stays on; :meth:`hold` hands the elapsed time to the chip (``world.source_voltage``) before
    the level or output changes, whenever the instrument measures, and before the world's routes
    change (a relay switched under a live output: the time so far belongs to the old device).
    """

    def __init__(self, world: SimWorld, terminal: str) -> None:
        self.world = world
        self.terminal = terminal
        self.voltage_v = 0.0
        self.compliance_a: float | None = None
        self.on = False
        self._since_s = world.clock.now()
        world.add_holder(self.hold)

    def hold(self, extra_s: float = 0.0) -> float:
        """Apply the present bias from the last hold until now + ``extra_s``; the current at the
        end (0 A when the output is off)."""
        now = self.world.clock.now()
        duration = now + extra_s - self._since_s
        self._since_s = now + extra_s
        if not self.on or duration <= 0.0:
            return 0.0
        return self.world.source_voltage(self.terminal, self.voltage_v, duration, self.compliance_a)

    def set(self, *, on: bool, voltage_v: float, compliance_a: float | None) -> None:
        """Change output state, level or compliance (the old bias is applied first)."""
        if (on, voltage_v, compliance_a) != (self.on, self.voltage_v, self.compliance_a):
            self.hold()
            self.on, self.voltage_v, self.compliance_a = on, voltage_v, compliance_a
            self.world.set_output(self.terminal, on)

    def restart(self) -> None:
        """Something else (a sweep) drove the device up to now: start counting from now."""
        self._since_s = self.world.clock.now()


def voltage_driving(world: SimWorld, terminal: str, current_a: float, limit_v: float) -> float:
    """The voltage, within +-``limit_v``, that drives ``current_a`` through the device behind
    ``terminal``: a source in compliance, or a current source, settles there by feedback.
    Found by bisection on the chip's noise-free I-V (which does not program the device); an
    open terminal, or a device that cannot carry the current, leaves the source at its limit."""
    limit = abs(float(limit_v))
    if current_a == 0.0 or limit == 0.0:
        return 0.0
    sign = 1.0 if current_a > 0 else -1.0
    device = world.device_for(terminal)
    if device is None:
        return sign * limit
    chip = world.chip
    target = abs(current_a)
    if abs(chip.probe_current(*device, sign * limit)) < target:
        return sign * limit
    low, high = 0.0, limit
    for _ in range(48):
        middle = 0.5 * (low + high)
        if abs(chip.probe_current(*device, sign * middle)) < target:
            low = middle
        else:
            high = middle
    return sign * 0.5 * (low + high)


def terminal_voltages(world: SimWorld, terminal: str, levels_v: np.ndarray, currents_a: np.ndarray,
                      limit_a: float) -> np.ndarray:
    """The voltage at the terminal of a voltage source programmed to ``levels_v`` that carried
    ``currents_a`` (already clamped at +-``limit_a``): the level itself, except where the
    current sits at the limit. There the source gave way (compliance) and the terminal sits at
    the voltage that drives the limit current through the device, e.g. I*R into a short."""
    levels = np.asarray(levels_v, dtype=np.float64)
    currents = np.asarray(currents_a, dtype=np.float64)
    voltages = levels.copy()
    held = (np.abs(currents) >= limit_a * (1 - 1e-9)) & (levels != 0.0)
    for sign in (1.0, -1.0):
        points = held & (np.sign(levels) == sign)
        if np.any(points):
            # One solve per polarity: the same limit current needs the same voltage (never
            # more than the programmed level, which drove at least that current).
            top = float(np.max(np.abs(levels[points])))
            needed = abs(voltage_driving(world, terminal, sign * limit_a, top))
            voltages[points] = sign * np.minimum(needed, np.abs(levels[points]))
    return voltages
