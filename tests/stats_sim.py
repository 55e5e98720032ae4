"""An independent generative model of benchmark results, for checking `rv_eval.stats` by simulation.

Written apart from the code under test (it imports nothing from `rv_eval`): question difficulty is
logit-normal (σ = 2.5 makes many questions always or never solved), or Beta-mixture for the
README's planning assumptions; seeds and samples are Bernoulli draws given each question's
probability. Used by tests/test_stats_*.py (small replication counts) and by
benchmarks/stats_calibration.py (full counts).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(201)
_GH_W = _GH_W / _GH_W.sum()


def logit_mean(mean: float, sigma: float) -> float:
    """μ such that E[expit(μ + σ Z)] = mean for Z ~ N(0, 1) (the population accuracy)."""
    return brentq(lambda mu: float(_GH_W @ expit(mu + sigma * _GH_X)) - mean, -40, 40)


def population_mean(mu: float, sigma: float) -> float:
    """E[expit(μ + σ Z)]."""
    return float(_GH_W @ expit(mu + sigma * _GH_X))


def logit_normal(rng: np.random.Generator, shape: tuple[int, ...], mean: float, sigma: float = 2.5) -> np.ndarray:
    """Per-question success probabilities with logit ~ N(μ, σ²) and population mean `mean`."""
    return expit(logit_mean(mean, sigma) + sigma * rng.standard_normal(shape))


def per_question_accuracy(rng: np.random.Generator, p: np.ndarray, seeds: int, samples: int) -> np.ndarray:
    """Each question's accuracy over `seeds` x `samples` Bernoulli(p_q) responses (same shape as p)."""
    return rng.binomial(seeds * samples, p) / (seeds * samples)


def paired_logit_normal(
    rng: np.random.Generator, shape: tuple[int, ...], base: float, shift: float, sigma: float = 2.5, rho: float = 0.9
) -> tuple[np.ndarray, np.ndarray, float]:
    """Baseline and candidate probabilities per question, and the true population difference.

    logit p_b = μ + σ z, logit p_c = μ + shift + σ (ρ z + sqrt(1 - ρ²) z'): the candidate finds the
    same questions hard, up to a model-specific part. The difference is E[p_c] - E[p_b].
    """
    mu = logit_mean(base, sigma)
    z = rng.standard_normal(shape)
    z2 = rho * z + np.sqrt(1 - rho**2) * rng.standard_normal(shape)
    truth = population_mean(mu + shift, sigma) - base
    return expit(mu + sigma * z), expit(mu + shift + sigma * z2), truth


def beta_pair(
    rng: np.random.Generator, shape: tuple[int, ...], p: float = 0.5, icc: float = 0.5, r: float = 0.8, delta: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The README's planning model: p_q ~ Beta(mean p, var icc p(1-p)) for each model, correlation r.

    With probability r the candidate shares the baseline's question probability, else it draws its
    own (so corr = r exactly). The candidate then gains `delta` in population accuracy: a share of
    each question's failures turns into successes (delta > 0) or of its successes into failures.
    """
    total = 1.0 / icc - 1.0
    a, b = p * total, (1 - p) * total
    pb = rng.beta(a, b, shape)
    own = rng.beta(a, b, shape)
    pc = np.where(rng.random(shape) < r, pb, own)
    if delta >= 0:
        pc = pc + delta * (1 - pc) / (1 - p)
    else:
        pc = pc * (1 + delta / p)
    return pb, pc
