"""Passive crossbars: what the bias scheme puts on the unselected devices.

With the selected row at V and the selected column at 0 V, a "v/2" scheme holds every other line
at V/2 (half-selected devices on the selected row and column see V/2, the rest 0); "v/3" holds
other rows at V/3 and other columns at 2V/3 (half-selected see V/3, the rest -V/3); "grounded"
holds every other line at 0 V (the selected row's devices see V); "v/2-columns" holds the other
rows at 0 V and the other columns at V/2 (the selected row's devices see V/2, the selected
column's 0, the rest -V/2). Half-selected devices are disturbed by pulses above their threshold,
and a read's sense column collects their currents (sneak paths).

Two schemes are in force: the write scheme (``bias_scheme``) while the pulse generator drives a
device (its pulses and the levels it holds), and the read bias (``read_bias``) while the
source-measure unit does (reads, list sweeps, its pulses). The bias lines follow the source's
level point by point (bias channels triggered with the sweep). A read bias that holds the other
rows at the sense column's potential ("grounded", "v/2-columns") lets no current into the sense
column but the selected device's; "v/2-columns", the default, also keeps every other device at
or below half the source's level, so an I-V sweep to switching voltages leaves the rest of the
array alone, where "grounded" puts the full level on the selected row's other devices. Devices on
the driven row draw their current from the source, so its current limit (compliance) holds for
them too.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BIAS_SCHEMES", "READ_BIASES", "SNEAK_FREE_READ_BIASES", "ARRAYS", "PassiveArray", "scheme_fractions",
           "line_parts", "complement_parts"]

ARRAYS = ("1t1r", "passive")
BIAS_SCHEMES = ("v/2", "v/3", "grounded", "v/2-columns")
READ_BIASES = BIAS_SCHEMES
#: read biases whose sense column collects the selected device alone (the other rows at its potential)
SNEAK_FREE_READ_BIASES = ("grounded", "v/2-columns")


def _runs(index: np.ndarray) -> list[slice] | None:
    """Contiguous runs of a sorted index array as slices (None when there are too many)."""
    if index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) != 1)
    if breaks.size > 3:
        return None
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks + 1, [index.size]))
    return [slice(int(index[s]), int(index[e - 1]) + 1) for s, e in zip(starts, ends)]


def line_parts(index: np.ndarray) -> list[slice | np.ndarray]:
    """Index parts that make views where possible."""
    if index.size == 1:
        return [slice(int(index[0]), int(index[0]) + 1)]
    runs = _runs(index)
    return [index] if runs is None else runs


def complement_parts(index: np.ndarray, size: int) -> list[slice | np.ndarray]:
    """Parts of the lines 0..size-1 not in ``index`` (sorted, unique)."""
    if index.size == 1:  # one selected line: the ones before and after it
        i = int(index[0])
        return [part for part in (slice(0, i), slice(i + 1, size)) if part.stop > part.start]
    keep = np.ones(size, dtype=bool)
    keep[index] = False
    other = np.flatnonzero(keep)
    return line_parts(other) if other.size else []


def scheme_fractions(bias_scheme: str) -> tuple[float, float, float]:
    """Fractions of V seen by (selected row, other col), (other row, selected col) and
    (other row, other col) devices."""
    if bias_scheme == "v/2":
        return 0.5, 0.5, 0.0
    if bias_scheme == "v/3":
        return 1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0
    if bias_scheme == "v/2-columns":
        return 0.5, 0.0, -0.5
    return 1.0, 0.0, 0.0  # grounded: unselected lines at 0 V


_MAX_FRACTION = {scheme: max(abs(f) for f in scheme_fractions(scheme)) for scheme in BIAS_SCHEMES}


class PassiveArray:
    """The array half of :class:`~memlab.instruments.sim.chip.model.Chip` (a mixin)."""

    def _scheme_fractions(self, scheme: str | None = None) -> tuple[float, float, float]:
        return scheme_fractions(self.bias_scheme if scheme is None else scheme)

    def _half_selected(self, rows: np.ndarray, cols: np.ndarray,
                       scheme: str | None = None) -> list[tuple[tuple, float, bool]]:
        """(index, fraction of V, on the driven rows) of every unselected region of a passive
        array."""
        if self.array != "passive":
            return []
        row_parts, col_parts = line_parts(rows), line_parts(cols)
        other_rows = complement_parts(rows, self.rows)
        other_cols = complement_parts(cols, self.cols)
        f_row, f_col, f_other = self._scheme_fractions(scheme)
        regions = []
        for r_parts, c_parts, frac, driven in ((row_parts, other_cols, f_row, True),
                                               (other_rows, col_parts, f_col, False),
                                               (other_rows, other_cols, f_other, False)):
            if frac == 0.0:
                continue
            for rp in r_parts:
                for cp in c_parts:
                    regions.append((self._index(rp, cp), frac, driven))
        return regions

    def _index(self, rp: slice | np.ndarray, cp: slice | np.ndarray) -> tuple:
        """An index tuple for rows part x cols part: a view when both are slices."""
        if isinstance(rp, slice) and isinstance(cp, slice):
            return (rp, cp)
        r = np.arange(self.rows)[rp] if isinstance(rp, slice) else rp
        c = np.arange(self.cols)[cp] if isinstance(cp, slice) else cp
        return np.ix_(r, c)

    def _blocks(self, rows: np.ndarray, cols: np.ndarray) -> list[tuple]:
        """Index tuples covering rows x cols: slices (views) where the lines are contiguous."""
        return [self._index(rp, cp) for rp in line_parts(rows) for cp in line_parts(cols)]

    def _disturb(self, rows: np.ndarray, cols: np.ndarray, v: float, width_s: float, t: float,
                 count: int = 1, period_s: float = 0.0, scheme: str | None = None,
                 i_cc: float | None = None) -> None:
        """The bias ``scheme`` (default: the write scheme) applies its share of a pulse ``v`` to
        the unselected devices; those on the driven rows share the source's limit ``i_cc``."""
        if self.array != "passive":
            return
        if abs(v) * _MAX_FRACTION[self.bias_scheme if scheme is None else scheme] < self._v_quiet:
            return
        for index, frac, driven in self._half_selected(rows, cols, scheme):
            if abs(v * frac) >= self._v_quiet:
                self._train_region(index, v * frac, width_s, i_cc if driven else None, t, count,
                                   period_s)

    # ==========================================================================================
    # reading
    # ==========================================================================================

    def _sneak(self, i: int, j: int, v: float, t: float, noisy: bool,
               scheme: str | None = None) -> tuple[float, float]:
        """Current the bias scheme lets into the sense column through the other rows: its
        noise-free value and its read noise (0 unless ``noisy``)."""
        frac = self._scheme_fractions(scheme)[1]
        if frac == 0.0 or self.rows == 1:
            return 0.0, 0.0
        g = self._g_read((slice(None), slice(j, j + 1)), t)[:, 0].astype(np.float64)
        g[i] = 0.0
        f = self._iv(v * frac)
        noise = 0.0
        if noisy:
            sigma = self._sigma_read[:, j].astype(np.float64)
            noise = math.sqrt(float(np.sum((sigma * g * f) ** 2))) * self._read_noise.scalar()
        return float(g.sum()) * f, noise

    # ==========================================================================================
    # public API: pulses
