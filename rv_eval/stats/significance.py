"""Paired significance tests on per-question differences."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats as st
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
    b = int(np.sum((baseline == 1) & (candidate == 0)))
    c = int(np.sum((baseline == 0) & (candidate == 1)))
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
