"""Growing numpy buffers for live plots: appending costs the new points only.

A run of a million points arrives in batches. Re-building arrays from all points so far at every
batch (or re-reading the file, as PyMeasure's live plots do) makes each refresh slower than the
last. Here every append writes the new rows into preallocated space (capacity doubles when full,
so copies are amortised O(1) per point) and plots get *views* of the filled part.

:class:`PeakDecimation` keeps, next to the raw points, the min/max of every block of ``k`` points,
updated incrementally. A plot showing a whole long run draws those (a few thousand points,
whatever the run's length) instead of having pyqtgraph min/max-reduce every raw point again at
each refresh; when the user zooms in, the plot clips the raw points to the view instead.
"""

from __future__ import annotations

import numpy as np

_MIN_CAPACITY = 1024


class GrowingBuffer:
    """A 1-D float64 array that grows at the end. ``view()`` is the filled part, no copy."""

    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity={capacity!r} must be >= 1")
        self._data = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return self._data.size

    def append(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        end = self._n + values.size
        if end > self._data.size:
            grown = np.empty(max(end, 2 * self._data.size), dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n:end] = values
        self._n = end

    def view(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The filled part (or a slice of it), sharing memory with the buffer: do not keep it
        across appends (a later append may move the data)."""
        stop = self._n if stop is None else min(stop, self._n)
        return self._data[start:stop]

    def last(self) -> float:
        if not self._n:
            raise IndexError("the buffer is empty")
        return float(self._data[self._n - 1])

    def clear(self) -> None:
        self._n = 0


class PeakDecimation:
    """Min/max of consecutive blocks of a growing series, kept up to date as points arrive.

    Each complete block of ``factor`` raw points becomes two display points (its maximum and its
    minimum, at the x of its first point): the shape pyqtgraph's "peak" downsampling draws, and the
    same extremes, so no spike disappears. When more than ``2 * target_blocks`` blocks exist, pairs
    of blocks merge and ``factor`` doubles; the display therefore stays between ``target_blocks``
    and ``2 * target_blocks`` blocks plus the raw points of the unfinished block.
    """

    def __init__(self, target_blocks: int = 1024) -> None:
        if target_blocks < 2:
            raise ValueError(f"target_blocks={target_blocks!r} must be >= 2")
        self.target_blocks = target_blocks
        self.factor = 1
        self._blocks = 0  # complete blocks of `factor` raw points
        self._x = GrowingBuffer(4 * target_blocks + 4)  # one x per block
        self._hi = GrowingBuffer(4 * target_blocks + 4)
        self._lo = GrowingBuffer(4 * target_blocks + 4)

    def clear(self) -> None:
        self.factor, self._blocks = 1, 0
        for buffer in (self._x, self._hi, self._lo):
            buffer.clear()

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        """Take in the raw points added since the last call; ``x``, ``y`` are *all* raw points
        (views), of which only those past the complete blocks are read."""
        n = x.size
        done = self._blocks * self.factor
        complete = (n - done) // self.factor
        if complete:
            end = done + complete * self.factor
            block_y = y[done:end].reshape(complete, self.factor)
            self._x.append(x[done:end:self.factor])
            # fmax/fmin skip NaN (a gap) without warnings; a block of NaN only stays NaN
            self._hi.append(np.fmax.reduce(block_y, axis=1))
            self._lo.append(np.fmin.reduce(block_y, axis=1))
            self._blocks += complete
        while self._blocks > 2 * self.target_blocks:
            self._merge()

    def _merge(self) -> None:
        pairs = self._blocks // 2
        xs, hi, lo = self._x.view(), self._hi.view(), self._lo.view()
        new_x = xs[: 2 * pairs: 2].copy()
        new_hi = np.fmax(hi[: 2 * pairs: 2], hi[1: 2 * pairs: 2])
        new_lo = np.fmin(lo[: 2 * pairs: 2], lo[1: 2 * pairs: 2])
        for buffer, values in ((self._x, new_x), (self._hi, new_hi), (self._lo, new_lo)):
            buffer.clear()
            buffer.append(values)
        # an odd last block goes back to being raw points of the unfinished block
        self._blocks = pairs
        self.factor *= 2

    def display(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw: max/min pairs of every complete block, then the raw remainder."""
        m = self._blocks
        tail_start = m * self.factor
        out_x = np.empty(2 * m + x.size - tail_start)
        out_y = np.empty_like(out_x)
        out_x[: 2 * m: 2] = self._x.view()
        out_x[1: 2 * m: 2] = self._x.view()
        out_y[: 2 * m: 2] = self._hi.view()
        out_y[1: 2 * m: 2] = self._lo.view()
        out_x[2 * m:] = x[tail_start:]
        out_y[2 * m:] = y[tail_start:]
        return out_x, out_y
