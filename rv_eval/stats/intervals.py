"""Confidence intervals and standard errors on per-question values (vectorised numpy)."""

from __future__ import annotations

import numpy as np
from scipy import stats as st
from scipy.special import ndtr, ndtri
from statsmodels.stats.proportion import proportion_confint

LEVEL = 0.95


def clustered_ci(
    values: np.ndarray, level: float = LEVEL, bounds: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard error and t-interval of per-question values along the last axis.

    `values[..., q]` is question q's mean over all its seeds and samples, so the standard error
    sd(values) / sqrt(n_questions) is the question-clustered (cluster-robust) one: repeated seeds
    of a question are not counted as independent. `bounds` clips the interval (e.g. (0, 1)).
    Returns (mean, se, ci_low, ci_high); se and the interval are NaN with fewer than 2 questions.
    """
    v = np.asarray(values, dtype=float)
    n = v.shape[-1]
    mean = v.mean(axis=-1)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan.copy(), nan.copy()
    se = v.std(axis=-1, ddof=1) / np.sqrt(n)
    half = st.t.ppf(0.5 + level / 2, n - 1) * se
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = np.clip(lo, *bounds), np.clip(hi, *bounds)
    return mean, se, lo, hi


def proportion_ci(
    values: np.ndarray, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy over questions: mean, question-clustered se and a Jeffreys interval at the effective n.

    `values[..., q]` is question q's accuracy over its seeds and samples. The effective sample
    size is n_eff = mean (1 - mean) / se^2 (the number of responses divided by the design effect
    of clustering by question; the number of questions where se is 0). It is shrunk by
    (z / t_df)^2 for the uncertainty of the se (Korn & Graubard 1998), with df the degrees of
    freedom of a chi-square matching the variance of the sample variance,
    df = 2 / (2 / (n-1) + (kurtosis - 3) / n), within [3, n - 1]: heavy-tailed question
    difficulty (a few easy questions among many never solved) has a large kurtosis and an
    unreliable se, so its interval widens (with one response per question the data are binomial
    and df = n - 1). The interval is statsmodels' Jeffreys interval for
    mean * n_eff of n_eff (0 and 1 kept inside at 0 % and 100 %). Chosen by simulation
    (docs/stats.md: 30 questions, 1-32 responses each, accuracy 5-50 %, logit-normal difficulty).
    """
    v = np.asarray(values, dtype=float)
    mean, se, _, _ = clustered_ci(v, level)
    n = v.shape[-1]
    if n < 2:
        return mean, se, se.copy(), se.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(se > 0, mean * (1 - mean) / se**2, n)
    n_eff = n_eff * (ndtri(0.5 + level / 2) / st.t.ppf(0.5 + level / 2, _variance_df(v))) ** 2
    lo, hi = proportion_confint(mean * n_eff, n_eff, alpha=1 - level, method="jeffreys")
    lo = np.where(mean <= 0, 0.0, lo)  # the usual end-point rule: 0 of n keeps 0 inside, n of n keeps 1
    hi = np.where(mean >= 1, 1.0, hi)
    return mean, se, np.asarray(lo, dtype=float)[()], np.asarray(hi, dtype=float)[()]


def _variance_df(v: np.ndarray) -> np.ndarray:
    """Degrees of freedom of the sample variance along the last axis, from the sample kurtosis."""
    n = v.shape[-1]
    c = v - v.mean(axis=-1, keepdims=True)
    m2 = (c**2).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kurt = np.where(m2 > 0, (c**4).mean(axis=-1) / m2**2, 3.0)
    df = np.clip(2.0 / (2.0 / (n - 1) + (kurt - 3.0) / n), min(3, n - 1), n - 1)
    binary = ((v == 0) | (v == 1)).all(axis=-1)  # one response per question: the variance follows the mean
    return np.where(binary, n - 1, df)


def bootstrap_ci(
    d: np.ndarray,
    n_resamples: int = 2000,
    level: float = LEVEL,
    rng: np.random.Generator | None = None,
    chunk_elems: int = 4_000_000,
) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of paired per-question differences `d`.

    Resampling questions (not responses) is the paired bootstrap over questions. The BCa
    formulas are those of `scipy.stats.bootstrap` (Efron & Tibshirani 14.3, 15.4), with the
    jackknife of the mean in closed form, which makes it O(n) instead of O(n^2) for thousands
    of questions. Falls back to the percentile interval where BCa is undefined. When every
    difference is the same the bootstrap has nothing to resample; see `_no_disagreement_ci`.
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    if n < 2:
        return float("nan"), float("nan")
    if np.ptp(d) == 0:
        return _no_disagreement_ci(float(d[0]), n, level)
    rng = rng if rng is not None else np.random.default_rng(0)
    step = max(1, chunk_elems // n)
    boot = np.concatenate(
        [
            d[rng.integers(0, n, (min(step, n_resamples - i), n), dtype=np.int32)].mean(axis=1)
            for i in range(0, n_resamples, step)
        ]
    )
    tail = (1 - level) / 2
    probs = _bca_levels(d, boot, tail)
    if probs is None:
        probs = (tail, 1 - tail)
    lo, hi = np.percentile(boot, [100 * probs[0], 100 * probs[1]])
    return float(lo), float(hi)


def _no_disagreement_ci(d: float, n: int, level: float) -> tuple[float, float]:
    """Interval for n questions that all show the same difference d (e.g. two identical models).

    The share of questions on which the models would differ is then bounded by the exact
    (Clopper-Pearson) upper limit for 0 of n, 1 - (tail)^(1/n), and each such question moves
    the mean by at most 1; so d +- that limit, within [-1, 1].
    """
    u = 1.0 - ((1 - level) / 2) ** (1.0 / n)
    return max(-1.0, d - u), min(1.0, d + u)


def _bca_levels(d: np.ndarray, boot: np.ndarray, tail: float) -> tuple[float, float] | None:
    """BCa-adjusted percentile levels, or None where the bias correction is undefined."""
    theta = d.mean()
    z0 = ndtri((np.count_nonzero(boot < theta) + np.count_nonzero(boot <= theta)) / (2 * boot.size))
    jack = (d.sum() - d) / (d.size - 1)  # leave-one-out means
    u = jack.mean() - jack
    den = np.sum(u**2) ** 1.5
    if not np.isfinite(z0) or den == 0:
        return None
    a = np.sum(u**3) / (6 * den)
    levels = []
    for z in (ndtri(tail), -ndtri(tail)):
        levels.append(float(ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))))
    return (levels[0], levels[1]) if all(np.isfinite(levels)) else None
