"""Paired significance tests on per-question differences."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats as st
from scipy.optimize import brentq
from statsmodels.stats.multitest import multipletests

EXACT_MAX_NONZERO = 14  # enumerate all 2^m sign patterns up to this many non-zero differences
CORRECTIONS = {"holm": "holm", "bh": "fdr_bh", "none": None}


def sign_flip_pvalue(
    d: np.ndarray, n_resamples: int = 9999, rng: np.random.Generator | None = None, chunk: int = 1000
) -> float:
    """Two-sided paired permutation (sign-flip) p-value for mean(d) == 0.

    Under the null "candidate and baseline are exchangeable on every question" each question's
    difference is equally likely to have either sign. Exact (all 2^m sign patterns of the m
    non-zero differences) when m <= 14, else Monte Carlo with the (1 + hits) / (1 + B) estimator.
    """
    d = np.asarray(d, dtype=float)
    nz = d[d != 0]
    if nz.size == 0:
        return 1.0
    obs = abs(nz.sum())
    tol = 1e-9 * max(1.0, np.abs(nz).sum())
    if nz.size <= EXACT_MAX_NONZERO:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=nz.size)))
        return float(np.mean(np.abs(signs @ nz) >= obs - tol))
    rng = rng if rng is not None else np.random.default_rng(0)
    hits = 0
    n_bytes = (nz.size + 7) // 8
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        bits = np.unpackbits(rng.integers(0, 256, (b, n_bytes), dtype=np.uint8), axis=1, count=nz.size)
        sums = 2.0 * (bits.astype(float) @ nz) - nz.sum()
        hits += int(np.count_nonzero(np.abs(sums) >= obs - tol))
    return (1 + hits) / (1 + n_resamples)


def mcnemar_exact_pvalue(baseline: np.ndarray, candidate: np.ndarray) -> float:
    """Exact McNemar p-value for one binary outcome per question and model (binomial on discordant pairs)."""
    b, c = _discordant(baseline, candidate)
    if b + c == 0:
        return 1.0
    return float(st.binomtest(c, b + c, 0.5).pvalue)


def adjust_pvalues(p: np.ndarray, correction: str = "holm") -> np.ndarray:
    """Holm ("holm") or Benjamini-Hochberg ("bh") adjusted p-values; NaN entries stay NaN."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}, got {correction!r}")
    p = np.asarray(p, dtype=float)
    out = p.copy()
    ok = np.isfinite(p)
    method = CORRECTIONS[correction]
    if method is not None and ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


TOL = 1e-9  # relative tolerance for ties between the observed and a permuted statistic


def sign_flip_test(
    d: np.ndarray, level: float = 0.95, n_resamples: int = 9999, rng: np.random.Generator | None = None
) -> tuple[float, float, float]:
    """Sign-flip p-value for mean(d) == 0 and the interval that inverts the same test.

    The interval is {δ : the sign-flip test of mean(d) == δ does not reject at 1 - level}, computed
    exactly for the sign patterns used (all 2^n when n <= 14, else `n_resamples` seeded random
    ones plus the observed pattern). For each pattern s the permuted statistic |s.(d - δ)| grows
    no faster than the observed |sum(d - δ)| as δ moves away from mean(d), so each pattern stops
    counting at one point; the interval's ends are order statistics of those points. The test
    rejects exactly when 0 lies outside the interval. Returns (p, ci_low, ci_high) within [-1, 1].
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    if n < 2:
        return float("nan"), float("nan"), float("nan")
    dbar = float(d.mean())
    e, c, exact = _pattern_sums(d - dbar, n_resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.abs(c) >= n  # all signs equal: always as extreme as the observed
        t_lo = np.where(full, np.inf, np.where(e > 0, e / (n - c), -e / (n + c)))
        t_hi = np.where(full, np.inf, np.where(e > 0, e / (n + c), -e / (n - c)))
    t_lo, t_hi = np.nan_to_num(t_lo, nan=0.0), np.nan_to_num(t_hi, nan=0.0)
    extra = 0 if exact else 1  # the observed pattern, counted once in (1 + hits) / (1 + B)
    total = e.size + extra
    k = int(np.floor((1 - level) * total)) + 1  # hits needed for p > 1 - level
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = dbar - _kth_largest(t_lo, k - extra), dbar + _kth_largest(t_hi, k - extra)
    t0 = abs(dbar)
    side = t_lo if dbar > 0 else t_hi
    with np.errstate(over="ignore", invalid="ignore"):
        hits = int(np.count_nonzero(side * (1 + TOL) + TOL >= t0)) + extra if t0 > 0 else total
    return hits / total, max(-1.0, lo), min(1.0, hi)


def _kth_largest(t: np.ndarray, k: int) -> float:
    """The k-th largest crossing point, widened by the tie tolerance (inf when k <= 0)."""
    if k <= 0:
        return float("inf")
    if k > t.size:
        return 0.0
    v = float(np.partition(t, t.size - k)[t.size - k])
    return v * (1 + TOL) + TOL


def _pattern_sums(
    dc: np.ndarray, n_resamples: int, rng: np.random.Generator | None, chunk: int = 1000
) -> tuple[np.ndarray, np.ndarray, bool]:
    """For each sign pattern s: s.dc and sum(s); all 2^n patterns when n <= EXACT_MAX_NONZERO."""
    n = dc.size
    if n <= EXACT_MAX_NONZERO:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
        return signs @ dc, signs.sum(axis=1), True
    rng = rng if rng is not None else np.random.default_rng(0)
    es, cs = [], []
    n_bytes = (n + 7) // 8
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        bits = np.unpackbits(rng.integers(0, 256, (b, n_bytes), dtype=np.uint8), axis=1, count=n)
        s = 2.0 * bits.astype(float) - 1.0
        es.append(s @ dc)
        cs.append(s.sum(axis=1))
    return np.concatenate(es), np.concatenate(cs), False


def mcnemar_score_pvalue(baseline: np.ndarray, candidate: np.ndarray) -> float:
    """McNemar's asymptotic (score) test without continuity correction: (c - b)^2 / (b + c) ~ chi2(1).

    b, c: questions only the baseline / only the candidate got right. 1.0 when there are none.
    It holds its level at 30 questions (Fagerland, Lydersen & Laake 2013) where the exact test is
    far below it; it is the test Tango's interval inverts.
    """
    return _score_pvalue(*_discordant(baseline, candidate))


def _discordant(baseline: np.ndarray, candidate: np.ndarray) -> tuple[int, int]:
    """(b, c): questions only the baseline got right, and only the candidate."""
    b = int(np.sum((baseline == 1) & (candidate == 0)))
    c = int(np.sum((baseline == 0) & (candidate == 1)))
    return b, c


def _score_pvalue(b: int, c: int) -> float:
    if b + c == 0:
        return 1.0
    return float(st.chi2.sf((c - b) ** 2 / (b + c), 1))


def mcnemar_test(baseline: np.ndarray, candidate: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """McNemar score test and the interval of the mean difference that inverts it (Tango 1998).

    With one binary response per question and model, the questions are pairs (baseline right?,
    candidate right?). Tango's score interval for the difference of paired proportions is
    {δ : |Z(δ)| < z}, with Z the score statistic whose variance uses the restricted maximum
    likelihood estimate of the discordance under δ; at δ = 0, Z^2 is McNemar's statistic, so 0
    lies inside exactly when p > 1 - level. Recommended for paired proportions by Fagerland,
    Lydersen & Laake (2014); checked against their examples (tests/test_stats_paired.py).
    Returns (p, ci_low, ci_high) of candidate - baseline.
    """
    b, c = _discordant(baseline, candidate)
    n = int(np.size(baseline))
    if n < 2:
        return float("nan"), float("nan"), float("nan")
    p = _score_pvalue(b, c)
    lo, hi = tango_interval(b, c, n, level)
    if p > 1 - level:  # root-finding precision must not move an end past 0
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    else:
        lo, hi = (max(lo, 1e-12), hi) if c > b else (lo, min(hi, -1e-12))
    return p, lo, hi


def tango_interval(b: int, c: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Tango's score interval of (c - b) / n, the candidate-minus-baseline difference of paired proportions.

    b: questions only the baseline got right, c: only the candidate, n: all questions.
    """
    z = float(st.norm.ppf(0.5 + level / 2))

    def score(delta: float) -> float:
        # Tango (1998) with test 1 = candidate: restricted MLE of P(only the baseline right) given delta
        a_, b_, c_ = 2.0 * n, -b - c + (2.0 * n - c + b) * delta, -b * delta * (1.0 - delta)
        p_b = (-b_ + np.sqrt(max(b_ * b_ - 4.0 * a_ * c_, 0.0))) / (2.0 * a_)
        var = n * (2.0 * p_b + delta * (1.0 - delta))
        num = (c - b) - n * delta
        if var <= 0:
            return 0.0 if num == 0 else float(np.copysign(np.inf, num))
        return num / np.sqrt(var)

    est, eps = (c - b) / n, 1e-12
    lo = -1.0 if score(-1.0 + eps) < z else brentq(lambda x: score(x) - z, -1.0 + eps, est, xtol=1e-12)
    hi = 1.0 if score(1.0 - eps) > -z else brentq(lambda x: score(x) + z, est, 1.0 - eps, xtol=1e-12)
    return float(lo), float(hi)
