"""The read cache of the whole array: read conductances and their noise variances.

A vector-matrix read of a 1024 x 1024 chip needs the read conductance of every device (drift,
photoconductance, shunting). Recomputing it costs more than the multiply itself, so it is cached
with the state version it was computed at, and reused while nothing was programmed and drift or
light cannot have moved any device by more than ``READ_CACHE_TOLERANCE`` (relative; read noise
is ~1e-2). A single-device change patches its one entry instead of invalidating the matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["READ_CACHE_TOLERANCE", "ReadCache", "drift_may_exceed"]

READ_CACHE_TOLERANCE = 1e-4


@dataclass
class _Entry:
    version: int
    t: float
    g: np.ndarray  # read conductance, float32
    g2s: np.ndarray  # (sigma_read G)^2, float32
    gmax: float


class ReadCache:
    """One cached read matrix, valid while ``version`` has not moved on."""

    def __init__(self) -> None:
        self.version = 0  # bumped by every state change
        self._entry: _Entry | None = None

    def invalidate(self) -> None:
        self.version += 1

    def lookup(self, t: float, stale) -> tuple[np.ndarray, np.ndarray, float] | None:
        """The cached (G_read, (sigma G)^2, max G) if still valid at ``t``; ``stale(t_cache, t)``
        says whether drift or light may have moved it."""
        e = self._entry
        if e is not None and e.version == self.version and not stale(e.t, t):
            return e.g, e.g2s, e.gmax
        return None

    def store(self, t: float, g: np.ndarray, sigma_read: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        g2s = np.multiply(g, sigma_read)
        np.multiply(g2s, g2s, out=g2s)
        self._entry = _Entry(self.version, t, g, g2s, float(g.max()))
        return g, g2s, self._entry.gmax

    def patch(self, i: int, j: int, g_read: float | None, sigma: float) -> None:
        """Device (i, j) changed: update its entry if the cache was current (``g_read`` its new
        read conductance, computed by the caller only when :meth:`current`), else invalidate."""
        e = self._entry
        current = e is not None and e.version == self.version
        self.version += 1
        if current and g_read is not None:
            e.g[i, j] = g_read
            e.g2s[i, j] = (sigma * g_read) ** 2
            e.gmax = max(e.gmax, g_read)
            e.version = self.version

    def current(self) -> bool:
        e = self._entry
        return e is not None and e.version == self.version


def drift_may_exceed(t_cache: float, t: float, drift_max: float, youngest_age_s: float,
                     power_law: bool, g_low_s: float) -> bool:
    """Whether drift between ``t_cache`` and ``t`` may move some read conductance by more than
    the tolerance: |d ln G| <= nu_max |d ln age|, largest for the youngest device."""
    change = drift_max * math.log1p((t - t_cache) / youngest_age_s)
    if not power_law:
        change /= 0.5 * g_low_s  # an absolute shift, relative to a low G
    return change > READ_CACHE_TOLERANCE
