"""Trains of programming pulses without a Python step per pulse.

A soft-bounds update by one pulse is an affine map clipped to bounds,
``G -> min(max(a G + b, lo), hi)`` with ``a`` in [0, 1]. Such clamped affine maps are closed
under composition (the outer map is monotone), so a train of pulses is a prefix composition:
:func:`clamp_affine_scan` evaluates one device through ~10^6 steps in tens of milliseconds.

Current compliance adds one exception the clamped form cannot hold: a SET step on a device that
already conducts more than the compliance allows does nothing (the source limits the current and
the voltage collapses below threshold). The scan evaluates that rule exactly and recomputes
from the first block where it fired.

For many devices at once, :func:`periodic_moments` gives the exact mean and variance of each
device's conductance after N repetitions of a short pulse pattern with independent noise.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["clamp_affine_scan", "periodic_moments", "UNIT_QUANTILES"]

_BIG = 1e300  # an unbounded clamp that stays finite (0 * inf would be nan)
_SMALL_SCAN = 128  # below this many steps a plain loop is faster than numpy
_MAX_RESTARTS = 6


def _sequential(x: float, a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                cap: np.ndarray | None, out: np.ndarray, start: int = 0) -> float:
    """The rule step by step on Python floats, from ``start``; fills ``out``, returns the end."""
    al, bl, lol, hil = (v[start:].tolist() for v in (a, b, lo, hi))
    caps = cap[start:].tolist() if cap is not None else None
    states = []
    for k in range(len(al)):
        if caps is None or x <= caps[k]:
            y = al[k] * x + bl[k]
            x = hil[k] if y > hil[k] else (lol[k] if y < lol[k] else y)
        states.append(x)
    out[start:start + len(states)] = states
    return x


def clamp_affine_scan(
    x0: float,
    a: np.ndarray,
    b: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cap: np.ndarray | None = None,
) -> np.ndarray:
    """All states of ``x_{k+1} = min(max(a_k x_k + b_k, lo_k), hi_k)``, starting from ``x0``.

    Where ``cap`` is given (inf = none) and ``x_k > cap_k``, step k is the identity instead.
    Requires ``a >= 0`` and ``lo <= hi``. Arrays are float64 of one length; returns x_1..x_M.
    """
    m = len(a)
    out = np.empty(m, dtype=np.float64)
    if m == 0:
        return out
    if m <= _SMALL_SCAN:
        _sequential(float(x0), a, b, lo, hi, cap, out)
        return out
    # Two levels: blocks of size B are composed in parallel (one numpy op per position in the
    # block), block starts follow by a short scalar loop, then every position is evaluated.
    size = max(32, int(math.isqrt(m)))
    nblocks = -(-m // size)
    pad = nblocks * size - m

    def blocks(v: np.ndarray, fill: float) -> np.ndarray:
        if pad:
            v = np.concatenate((v, np.full(pad, fill)))
        return np.ascontiguousarray(v.reshape(nblocks, size).T)  # row k = position k of blocks

    A, B, L, H = blocks(a, 1.0), blocks(b, 0.0), blocks(lo, -_BIG), blocks(hi, _BIG)
    C = blocks(cap, np.inf) if cap is not None else None

    # Pass 1: each block's composite map (ca x + cb clamped to [cl, ch]).
    ca = np.ones(nblocks)
    cb = np.zeros(nblocks)
    cl = np.full(nblocks, -_BIG)
    ch = np.full(nblocks, _BIG)
    for k in range(size):
        ak, bk, lk, hk = A[k], B[k], L[k], H[k]
        np.multiply(cb, ak, out=cb)
        cb += bk
        np.multiply(ca, ak, out=ca)
        for c in (cl, ch):  # the image of the old clamp interval under step k
            np.multiply(c, ak, out=c)
            c += bk
            np.maximum(c, lk, out=c)
            np.minimum(c, hk, out=c)
    ca_l, cb_l, cl_l, ch_l = ca.tolist(), cb.tolist(), cl.tolist(), ch.tolist()

    def starts_from(first: int, x: float) -> np.ndarray:
        s = np.empty(nblocks - first)
        for j in range(first, nblocks):
            s[j - first] = x
            y = ca_l[j] * x + cb_l[j]
            x = ch_l[j] if y > ch_l[j] else (cl_l[j] if y < cl_l[j] else y)
        return s

    flat = np.empty((size, nblocks))
    first, x_first, restarts = 0, float(x0), 0
    while True:
        x = starts_from(first, x_first)
        fired = np.zeros(nblocks - first, dtype=bool)
        y = np.empty_like(x)
        for k in range(size):
            np.multiply(A[k, first:], x, out=y)
            y += B[k, first:]
            np.maximum(y, L[k, first:], out=y)
            np.minimum(y, H[k, first:], out=y)
            if C is not None:
                keep = x > C[k, first:]
                if keep.any():
                    fired |= keep
                    y = np.where(keep, x, y)
            x, y = y, x
            flat[k, first:] = x
        hits = np.flatnonzero(fired)
        if hits.size == 0:
            break
        # Block `bad` was evaluated exactly from an exact start; the ones after it were not.
        bad = first + int(hits[0])
        if bad == nblocks - 1:
            break
        first, x_first = bad + 1, float(flat[size - 1, bad])
        restarts += 1
        if restarts > _MAX_RESTARTS:
            # The compliance rule keeps firing: finish step by step (rare; ~1 us per step).
            result = flat.T.reshape(-1)[:m].copy()
            _sequential(x_first, a, b, lo, hi, cap, result, start=first * size)
            return result
    return flat.T.reshape(-1)[:m].copy()


# Equiprobable quantiles of N(0, 1): E[f(xi)] ~ mean(f(UNIT_QUANTILES)), robust to kinks of f.
def _unit_quantiles() -> np.ndarray:
    from memlab.instruments.sim.chip.noise import normal_quantiles

    return normal_quantiles(64)


UNIT_QUANTILES = _unit_quantiles()


def _step_moments(c: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """E[X], E[X^2] of the step fraction X = min(1, c max(0, 1 + sigma xi)), per device."""
    u = np.maximum(0.0, 1.0 + sigma * UNIT_QUANTILES)
    u1, u2, umax = float(u.mean()), float((u * u).mean()), float(u.max())
    if float(np.max(c, initial=0.0)) * umax <= 1.0:
        return c * u1, c * c * u2
    m1 = np.zeros_like(c)
    m2 = np.zeros_like(c)
    for uq in u:
        x = np.minimum(1.0, c * uq)
        m1 += x
        m2 += x * x
    return m1 / len(u), m2 / len(u)


def periodic_moments(
    g0: np.ndarray,
    steps: list[tuple[np.ndarray, np.ndarray]],
    sigma: float,
    periods: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of G after ``periods`` repetitions of a pulse pattern, per device.

    Each pattern step is ``(c, target)``: G -> G + X (target - G), X = min(1, c max(0, 1+sigma xi))
    with independent xi per step and device. The per-period map is affine with random
    coefficients (A, B), iid across periods; first and second moments follow closed forms.
    """
    g0 = np.asarray(g0, dtype=np.float64)
    # Moments of the composite period map, built step by step. om_* = 1 - E[..] kept directly
    # to avoid cancellation when steps are tiny (half-select disturb).
    om_a = np.zeros_like(g0)  # 1 - E[A]
    om_q = np.zeros_like(g0)  # 1 - E[A^2]
    e_b = np.zeros_like(g0)
    e_ab = np.zeros_like(g0)
    e_bb = np.zeros_like(g0)
    for c, target in steps:
        m1, m2 = _step_moments(np.asarray(c, dtype=np.float64), sigma)
        t = np.asarray(target, dtype=np.float64)
        # one step: a = 1 - X, b = X t
        sa_om, sq_om = m1, 2.0 * m1 - m2
        sa, sq = 1.0 - sa_om, 1.0 - sq_om
        sb, sab, sbb = t * m1, t * (m1 - m2), t * t * m2
        # compose (step after period so far): A' = a A, B' = a B + b
        e_a = 1.0 - om_a
        e_bb = sq * e_bb + 2.0 * sab * e_b + sbb
        e_ab = sq * e_ab + sab * e_a
        e_b = sa * e_b + sb
        om_a = om_a + sa_om - om_a * sa_om
        om_q = om_q + sq_om - om_q * sq_om
    n = float(periods)
    still = om_a < 1e-300
    om_a_safe = np.where(still, 1.0, om_a)
    om_q_safe = np.where(om_q < 1e-300, 1.0, om_q)
    log_a = np.log1p(-np.minimum(om_a, 1.0 - 1e-16))  # ln E[A]
    log_q = np.log1p(-np.minimum(om_q, 1.0 - 1e-16))  # ln E[A^2]
    pa, pq = np.exp(n * log_a), np.exp(n * log_q)  # E[A]^N, E[A^2]^N
    # Geometric sums sum_{n<N} E[.]^n = (1 - E[.]^N) / (1 - E[.]), N when E[.] = 1.
    sum_a = np.where(still, n, -np.expm1(n * log_a) / om_a_safe)
    sum_q = np.where(om_q < 1e-300, n, -np.expm1(n * log_q) / om_q_safe)
    e_a = 1.0 - om_a
    e_q = 1.0 - om_q
    mean = pa * g0 + e_b * sum_a
    fixed = np.where(still, g0, e_b / om_a_safe)  # the mean's fixed point
    # sum_{n<N} E[A^2]^(N-1-n) E[A]^n = (E[A]^N - E[A^2]^N) / (E[A] - E[A^2])
    d = e_a - e_q
    close = d <= 1e-12 * np.maximum(e_a, 1e-300)
    mixed = np.where(close, n * np.exp((n - 1.0) * np.log(np.maximum(e_a, 1e-300))),
                     (pa - pq) / np.where(close, 1.0, d))
    # E[x_N^2] = q^N x0^2 + sum q^(N-1-n) (2 E[AB] m_n + E[B^2]), m_n = fixed + E[A]^n (x0 - fixed)
    second = pq * g0 * g0 + 2.0 * e_ab * (fixed * sum_q + (g0 - fixed) * mixed) + e_bb * sum_q
    var = np.maximum(second - mean * mean, 0.0)
    return mean, var
