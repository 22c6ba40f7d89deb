"""Figures of merit of potentiation/depression pulse trains (weight-update curves).

Each repeat applies a potentiation branch (polarity +1) then a depression branch (-1) of
``Pmax`` identical pulses, reading the conductance after each pulse.

**Nonlinearity (NeuroSim-style).** Each branch is fitted with NeuroSim's exponential model::

    potentiation:  G(p) = B (1 - exp(-p / A)) + Gmin
    depression:    G(p) = Gmax - B (1 - exp(-p / A))

with p the pulses applied in the branch. A (in pulses) sets the curvature; normalised to the
branch length, ``A / Pmax``, it no longer depends on how many pulses were applied. NeuroSim maps
``A / Pmax`` to a "nonlinearity label" through a lookup table; memlab uses a closed form instead:

    nonlinearity label = sign * Pmax / A      (sign + for potentiation, - for depression)

i.e. how many curvature constants A the branch spans: 0 for a linear device, larger the sooner
the branch saturates. For NeuroSim's example device (+4.2 / -4.9) the labels are of the same
size, but they are not NeuroSim's table: to compare with NeuroSim, compare ``A / Pmax``.

The model is exactly the soft-bounds pulse rule of the simulated chip (``G += a (Gmax - G)`` per
pulse gives ``exp(-1/A) = 1 - a``), so each fit also reports ``step_fraction = 1 - exp(-1/A)``,
the fraction of the remaining range one pulse moves (the chip's ``a_plus`` / ``a_minus`` times
its pulse-amplitude factor).

**Asymmetry** (asymmetric nonlinearity): the largest gap between the normalised potentiation
curve and the normalised depression curve run backwards, both on 0..1 pulse and 0..1
conductance scales; 0 when up and down steps at a given weight are equal (e.g. a linear device),
up to 1.

**Step noise** (cycle-to-cycle): the standard deviation of each measured conductance step about
the step the fitted model predicts from the conductance just before it (the soft-bounds law
``dG = (bound - G)(1 - exp(-1/A))``), as a fraction of the range Gmax - Gmin (NeuroSim's c2c
sigma) and of the mean model step. Read noise adds to it (each step is the difference of two
reads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from memlab.analysis.fitting import ExpFit, as_1d, fit_exponential, same_length
from memlab.analysis.metrics.fom import CONFIDENCE, FigureOfMerit, cv_figure, mean_figure, t_quantile

__all__ = [
    "Branch", "BranchFit", "PlasticityResult", "split_branches", "fit_branch", "nonlinearity_label",
    "dynamic_range", "asymmetry", "step_noise", "potentiation_depression", "step_law_fraction",
    "StepLaw", "step_law",
]


@dataclass(frozen=True)
class Branch:
    """One potentiation (+1) or depression (-1) branch of one repeat."""

    repeat: int
    polarity: int
    pulses: np.ndarray
    """Pulses applied in this branch so far, 1..Pmax (conductance is read after each)."""
    conductance_s: np.ndarray


def split_branches(repeat: object, polarity: object, conductance_s: object) -> list[Branch]:
    """Cut a ``pulses`` stream into branches: contiguous rows of one (repeat, polarity)."""
    r = as_1d("repeat", repeat, min_size=2)
    pol = as_1d("polarity", polarity, min_size=2)
    g = as_1d("conductance_s", conductance_s, min_size=2)
    same_length(repeat=r, polarity=pol, conductance_s=g)
    bad = sorted(set(np.unique(pol).tolist()) - {1.0, -1.0})
    if bad:
        raise ValueError(f"polarity: values {bad} found; allowed +1 (potentiation) and -1 (depression)")
    change = np.flatnonzero((np.diff(r) != 0) | (np.diff(pol) != 0)) + 1
    bounds = np.concatenate(([0], change, [len(r)]))
    out = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        n = int(stop - start)
        out.append(Branch(int(r[start]), int(pol[start]), np.arange(1, n + 1, dtype=float),
                          g[start:stop].copy()))
    return out


@dataclass(frozen=True)
class BranchFit:
    """NeuroSim's model fitted to one branch (or the median over the repeats of one polarity)."""

    polarity: int
    pulses: int
    """Pmax: pulses in the branch."""
    a_pulses: float
    """A [pulses]."""
    a_normalised: float
    """A / Pmax."""
    b_s: float
    """B [S]."""
    g_start_s: float
    """Model conductance before the first pulse [S] (Gmin for potentiation, Gmax for depression)."""
    nonlinearity: float
    """Signed label sign * Pmax / A, see the module docstring."""
    step_fraction: float
    """1 - exp(-1/A): fraction of the remaining range one pulse moves."""
    rmse_s: float
    linear: bool
    """True when the branch shows no curvature (A far beyond the branch: label ~0)."""

    def __call__(self, pulses: object) -> np.ndarray:
        p = np.asarray(pulses, dtype=float)
        return self.g_start_s + self.polarity * self.b_s * (1.0 - np.exp(-p / self.a_pulses))


def nonlinearity_label(a_normalised: float, polarity: int) -> float:
    """memlab's nonlinearity label ``polarity * Pmax / A`` from ``A / Pmax``."""
    if polarity not in (1, -1):
        raise ValueError(f"polarity={polarity!r}: allowed +1 (potentiation) or -1 (depression)")
    if not a_normalised > 0:
        raise ValueError(f"a_normalised={a_normalised!r}: A / Pmax must be > 0")
    return polarity / a_normalised


def _from_exp(fit: ExpFit, polarity: int, pmax: int) -> BranchFit:
    a = fit.tau
    # fit: G = offset + amp exp(-(p - t0)/A); NeuroSim's p counts from 0, before pulse 1
    g0 = fit.offset + fit.amplitude * math.exp(fit.t0 / a)
    b = polarity * (fit.offset - g0)
    return BranchFit(
        polarity=polarity, pulses=pmax, a_pulses=a, a_normalised=a / pmax, b_s=b, g_start_s=g0,
        nonlinearity=nonlinearity_label(a / pmax, polarity), step_fraction=-math.expm1(-1.0 / a),
        rmse_s=fit.rmse, linear=fit.at_bound and a > pmax,
    )


def fit_branch(pulses: object, conductance_s: object, polarity: int) -> BranchFit:
    """Fit NeuroSim's model to one branch.

    :param pulses: pulses applied so far at each read (1..Pmax), at least 4 reads.
    :param conductance_s: conductance read after each of those pulses [S].
    :param polarity: +1 potentiation, -1 depression.
    """
    p = as_1d("pulses", pulses, min_size=4)
    g = as_1d("conductance_s", conductance_s, min_size=4)
    same_length(pulses=p, conductance_s=g)
    if polarity not in (1, -1):
        raise ValueError(f"polarity={polarity!r}: allowed +1 (potentiation) or -1 (depression)")
    pmax = int(np.nanmax(p))
    # A from a tenth of a pulse (saturated at once) to 1000 branches (a straight line)
    fit = fit_exponential(p, g, tau_range=(0.1, 1000.0 * max(pmax, 1)))
    return _from_exp(fit, polarity, pmax)


def dynamic_range(conductance_s: object, repeat: object | None = None) -> FigureOfMerit:
    """Gmax / Gmin of the reads: each repeat's highest over lowest conductance, the mean over
    repeats with its Student-t interval (not determined below two repeats: no spread)."""
    g = as_1d("conductance_s", conductance_s, min_size=2)
    r = np.zeros(len(g)) if repeat is None else as_1d("repeat", repeat, min_size=2)
    same_length(conductance_s=g, repeat=r)
    ratios = []
    for label in np.unique(r):
        x = g[(r == label) & np.isfinite(g)]
        if x.size:
            if not x.min() > 0:
                raise ValueError(f"conductance_s: lowest conductance {x.min()!r} S is not positive; "
                                 "no Gmax/Gmin ratio")
            ratios.append(x.max() / x.min())
    return mean_figure(ratios, what="repeats")


def _normalised_curve(a_normalised: float, x: np.ndarray) -> np.ndarray:
    """The potentiation curve on 0..1 pulses and 0..1 conductance: (1 - e^(-x/a)) / (1 - e^(-1/a))."""
    return np.expm1(-x / a_normalised) / np.expm1(-1.0 / a_normalised)


def asymmetry(potentiation: BranchFit, depression: BranchFit) -> float:
    """Largest gap (0..1) between the normalised potentiation and reversed depression curves."""
    if potentiation.polarity != 1 or depression.polarity != -1:
        raise ValueError("asymmetry: give the potentiation fit (+1) first, then the depression fit (-1)")
    x = np.linspace(0.0, 1.0, 201)
    up = _normalised_curve(potentiation.a_normalised, x)
    # depression from the top, run backwards: at weight position x it has 1 - x of its pulses left
    down = 1.0 - _normalised_curve(depression.a_normalised, 1.0 - x)
    return float(np.max(np.abs(up - down)))


def step_noise(branches: list[Branch], fits: dict[int, BranchFit]) -> tuple[float, float]:
    """(sigma / range, sigma / mean step) of measured steps about the fitted model's steps.

    ``fits`` maps polarity to its fit; the range is the mean of the fitted B over polarities.
    """
    resid, steps = [], []
    for br in branches:
        fit = fits.get(br.polarity)
        if fit is None or len(br.conductance_s) < 2:
            continue
        # the model's next step from the state actually reached: the soft-bounds step law
        # dG = (bound - G) (1 - exp(-1/A)), so noise of earlier steps does not accumulate
        g = br.conductance_s
        bound = fit.g_start_s + fit.polarity * fit.b_s
        model = (bound - g[:-1]) * fit.step_fraction
        resid.append(np.diff(g) - model)
        steps.append(np.abs(model))
    if not resid:
        return math.nan, math.nan
    r = np.concatenate(resid)
    sigma = float(np.nanstd(r, ddof=1)) if r.size > 1 else math.nan
    span = float(np.mean([abs(f.b_s) * -math.expm1(-f.pulses / f.a_pulses) for f in fits.values()]))
    mean_step = float(np.nanmean(np.concatenate(steps)))
    return (sigma / span if span > 0 else math.nan,
            sigma / mean_step if mean_step > 0 else math.nan)


@dataclass(frozen=True)
class PlasticityResult:
    dynamic_range: FigureOfMerit
    """Model Gmax / Gmin of the potentiation branch (end over start)."""
    potentiation: BranchFit | None
    depression: BranchFit | None
    nonlinearity_potentiation: FigureOfMerit
    nonlinearity_depression: FigureOfMerit
    a_norm_potentiation: FigureOfMerit
    a_norm_depression: FigureOfMerit
    step_fraction_potentiation: FigureOfMerit
    step_fraction_depression: FigureOfMerit
    asymmetry: FigureOfMerit
    step_noise_range: FigureOfMerit
    step_noise_step: float
    repeats: int
    nonlinearity_cv_potentiation: FigureOfMerit
    nonlinearity_cv_depression: FigureOfMerit
    """Cycle-to-cycle CV of the per-repeat nonlinearity label of each branch."""


def _median_fit(fits: list[BranchFit]) -> BranchFit:
    """A fit made of the median parameters of the per-repeat fits of one polarity."""
    def med(name: str) -> float:
        return float(np.median([getattr(f, name) for f in fits]))
    a, pmax = med("a_pulses"), int(np.median([f.pulses for f in fits]))
    pol = fits[0].polarity
    return BranchFit(pol, pmax, a, a / pmax, med("b_s"), med("g_start_s"),
                     nonlinearity_label(a / pmax, pol), -math.expm1(-1.0 / a), med("rmse_s"),
                     sum(f.linear for f in fits) * 2 > len(fits))


@dataclass(frozen=True)
class StepLaw:
    """The soft-bounds step law ``dG = a (bound - G)`` fitted to every step of one polarity."""

    a: float
    """Fraction of the remaining range one pulse moves."""
    a_stderr: float
    bound_s: float
    """The conductance the branch saturates at: Gmax for potentiation, Gmin for depression [S]."""
    bound_stderr_s: float
    steps: int


def step_law(branches: list[Branch], polarity: int) -> StepLaw:
    """The step law ``dG = alpha + beta G`` (``a = -beta``, ``bound = alpha / a``) fitted over every
    step of the branches of one polarity, with heteroscedasticity-robust (HC1) standard errors;
    the bound's by the delta method. NaN where fewer than 4 steps or no spread in G."""
    xs, ys = [], []
    for br in branches:
        if br.polarity == polarity and len(br.conductance_s) >= 2:
            xs.append(br.conductance_s[:-1])
            ys.append(np.diff(br.conductance_s))
    nan = StepLaw(math.nan, math.nan, math.nan, math.nan, 0)
    if not xs:
        return nan
    x, y = np.concatenate(xs), np.concatenate(ys)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < 4 or np.ptp(x) == 0:
        return replace(nan, steps=n)
    design = np.column_stack((np.ones(n), x))
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    bread = np.linalg.inv(design.T @ design)
    meat = design.T @ (design * (resid ** 2)[:, None]) * n / (n - 2)  # HC1
    cov = bread @ meat @ bread
    alpha, beta = float(coef[0]), float(coef[1])
    a = -beta
    if a == 0:
        return StepLaw(0.0, math.sqrt(max(cov[1, 1], 0.0)), math.nan, math.nan, n)
    bound = alpha / a
    grad = np.array([1.0 / a, alpha / a ** 2])  # d(bound)/d(alpha, beta), bound = -alpha / beta
    return StepLaw(a, math.sqrt(max(cov[1, 1], 0.0)), bound, math.sqrt(max(float(grad @ cov @ grad), 0.0)), n)


def step_law_fraction(branches: list[Branch], polarity: int) -> tuple[float, float, int]:
    """(a, standard error, steps) of the soft-bounds step law ``dG = a (bound - G)`` fitted as the
    straight line ``dG = alpha + beta G`` (beta = -a) over every step of the branches of one polarity.

    Each step's noise is independent (the chip's and a real device's cycle-to-cycle step noise),
    unlike the deviations of the conductance curve from its fit, which accumulate along the
    branch; so this regression's (heteroscedasticity-robust) standard error is the honest
    uncertainty of the step fraction."""
    law = step_law(branches, polarity)
    return law.a, law.a_stderr, law.steps


def _transform(fig: FigureOfMerit, fn: object) -> FigureOfMerit:
    """A monotone function of a figure: value and interval ends mapped through it."""
    if not fig.determined:
        return fig
    ends = sorted((fn(fig.low), fn(fig.high)))
    return FigureOfMerit.from_interval(fn(fig.value), ends[0], ends[1], fig.n, confidence=fig.confidence)


def _noise_figure(branches: list[Branch], fits: dict[int, BranchFit], confidence: float) -> tuple[FigureOfMerit, float]:
    sigma_range, sigma_step = step_noise(branches, fits)
    n = sum(len(b.conductance_s) - 1 for b in branches if b.polarity in fits)
    if not math.isfinite(sigma_range) or n < 3:
        return FigureOfMerit.not_determined(f"too few steps ({n})", n), sigma_step
    z = t_quantile(confidence)
    dof = n - 1
    # interval of a standard deviation: chi-square by Wilson-Hilferty
    chi = [dof * (1 - 2 / (9 * dof) + q * math.sqrt(2 / (9 * dof))) ** 3 for q in (z, -z)]
    return FigureOfMerit.from_interval(sigma_range, sigma_range * math.sqrt(dof / chi[0]),
                                       sigma_range * math.sqrt(dof / chi[1]), n,
                                       confidence=confidence), sigma_step


def potentiation_depression(repeat: object, polarity: object, conductance_s: object, *,
                            confidence: float = CONFIDENCE, samples: int = 400, seed: int = 0
                            ) -> PlasticityResult:
    """All potentiation/depression figures from a ``pulses`` stream.

    Each branch of each repeat is fitted on its own with NeuroSim's model; the reported fit per
    polarity is the median of the per-repeat parameters (robust to one odd repeat), and the
    spread of the per-repeat labels is the cycle-to-cycle variability of the nonlinearity.

    The step fraction and its interval come from the step law (:func:`step_law_fraction`, whose
    errors are independent); A, A / Pmax and the nonlinearity label follow from it (monotone
    maps), the asymmetry by sampling both step fractions from their normal laws. A branch with
    no curvature (its step fraction's interval reaches 0) has those figures not determined.
    """
    branches = split_branches(repeat, polarity, conductance_s)
    per: dict[int, list[BranchFit]] = {1: [], -1: []}
    for br in branches:
        if len(br.pulses) >= 4:
            per[br.polarity].append(fit_branch(br.pulses, br.conductance_s, br.polarity))
    fits = {pol: _median_fit(v) for pol, v in per.items() if v}
    missing = FigureOfMerit.not_determined("no branch of at least 4 reads", 0)
    step: dict[int, tuple[FigureOfMerit, float, float]] = {}
    for pol in fits:
        a, se, n = step_law_fraction(branches, pol)
        fig = FigureOfMerit.from_stderr(a, se, n, dof=max(n - 2, 1), confidence=confidence)
        if fig.determined and not (0 < fig.low and fig.high < 1):
            fig = FigureOfMerit.not_determined("parameter at a bound (the step fraction's interval "
                                               "reaches 0: no curvature within noise)", n)
        elif fig.determined and not 0 < fig.value < 1:
            fig = FigureOfMerit.not_determined("fit failed (step fraction outside 0..1)", n)
        step[pol] = (fig, a, se)

    def figures(pol: int) -> tuple[FigureOfMerit, FigureOfMerit, FigureOfMerit]:
        if pol not in fits:
            return missing, missing, missing
        fig = step[pol][0]
        pmax = fits[pol].pulses
        big_a = _transform(fig, lambda a: -1.0 / math.log1p(-a))
        return (fig, _transform(big_a, lambda x: x / pmax),
                _transform(fig, lambda a: pol * pmax * -math.log1p(-a)))

    (sf_up, an_up, nl_up), (sf_down, an_down, nl_down) = figures(1), figures(-1)
    up, down = fits.get(1), fits.get(-1)
    if up and down and sf_up.determined and sf_down.determined:
        rng = np.random.default_rng(seed)
        draws_up = rng.normal(step[1][1], step[1][2], samples)
        draws_down = rng.normal(step[-1][1], step[-1][2], samples)
        ok = (draws_up > 0) & (draws_up < 1) & (draws_down > 0) & (draws_down < 1)

        def asym(a_up: float, a_down: float) -> float:
            return asymmetry(replace(up, a_normalised=-1.0 / math.log1p(-a_up) / up.pulses),
                             replace(down, a_normalised=-1.0 / math.log1p(-a_down) / down.pulses))
        value = asym(sf_up.value, sf_down.value)
        spread = np.array([asym(u, d) for u, d in zip(draws_up[ok], draws_down[ok])])
        q = (1 - confidence) / 2
        lo, hi = np.quantile(spread, [q, 1 - q]) if spread.size else (math.nan, math.nan)
        asym_fig = FigureOfMerit.from_interval(value, min(lo, value), max(hi, value), sf_up.n + sf_down.n,
                                               confidence=confidence)
    else:
        asym_fig = FigureOfMerit.not_determined("needs the step fractions of both branches", 0)
    if up and sf_up.determined:
        # the window spanned by the potentiation branch: end over start of the fitted curve
        def ratio(a: float) -> float:
            fit = replace(up, a_pulses=-1.0 / math.log1p(-a))
            return float(fit(fit.pulses) / fit.g_start_s) if fit.g_start_s > 0 else math.nan
        dyn = _transform(sf_up, ratio)
    else:
        dyn = missing
    noise, noise_step = _noise_figure(branches, fits, confidence) if fits else (missing, math.nan)
    return PlasticityResult(
        dynamic_range=dyn, potentiation=up, depression=down,
        nonlinearity_potentiation=nl_up, nonlinearity_depression=nl_down,
        a_norm_potentiation=an_up, a_norm_depression=an_down,
        step_fraction_potentiation=sf_up, step_fraction_depression=sf_down,
        asymmetry=asym_fig, step_noise_range=noise, step_noise_step=noise_step,
        repeats=len(np.unique(np.asarray(repeat))),
        nonlinearity_cv_potentiation=cv_figure([f.nonlinearity for f in per[1]], what="repeats"),
        nonlinearity_cv_depression=cv_figure([f.nonlinearity for f in per[-1]], what="repeats"),
    )
