"""Confidence intervals and standard errors on per-question values (vectorised numpy)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as st

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


def bootstrap_ci(
    d: np.ndarray, n_resamples: int = 2000, level: float = LEVEL, rng: np.random.Generator | None = None
) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of paired per-question differences `d`.

    Resampling questions (not responses) is the paired bootstrap over questions. Uses
    `scipy.stats.bootstrap`; falls back to the percentile interval where BCa is undefined, and
    returns (d, d) when every difference is the same.
    """
    d = np.asarray(d, dtype=float)
    if d.size < 2:
        return float("nan"), float("nan")
    if np.ptp(d) == 0:
        return float(d[0]), float(d[0])
    rng = rng if rng is not None else np.random.default_rng(0)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = st.bootstrap(
                (d,),
                np.mean,
                n_resamples=n_resamples,
                confidence_level=level,
                method=method,
                rng=rng,
                batch=max(1, min(n_resamples, 4_000_000 // d.size)),
            )
        lo, hi = res.confidence_interval
        if np.isfinite(lo) and np.isfinite(hi):
            return float(lo), float(hi)
    return float("nan"), float("nan")
