"""Minimum detectable effects (80% power, two-sided 5%) of the paired test that actually runs.

With one binary response per question and model the paired test is McNemar's score test, and
its power is computed exactly (a binomial number of discordant questions, then a binomial split
of them). With more responses it is the sign-flip permutation test on per-question differences,
whose rejection rule is, to within Monte-Carlo error, |t| >= z sqrt((n-1) / (n - z^2)) for the
paired t-statistic (the self-normalised sum sum(d) / sqrt(sum(d^2)) against its normal limit);
its power is the noncentral t probability of that event. Both are checked against simulations of
the real test (tests/test_stats_power.py, benchmarks/stats_calibration.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st
from scipy.optimize import brentq
from scipy.special import ndtri

ALPHA = 0.05
POWER = 0.80


def signflip_critical_t(n_questions: int, alpha: float = ALPHA) -> float:
    """The paired t-statistic beyond which the two-sided sign-flip test rejects (large-sample rule)."""
    z = float(ndtri(1 - alpha / 2))
    return z * math.sqrt((n_questions - 1) / max(n_questions - z * z, 1e-9))


def signflip_power(effect: float, sd_diff: float, n_questions: int, alpha: float = ALPHA) -> float:
    """Power of the sign-flip test for a mean difference `effect` when per-question differences have sd `sd_diff`."""
    if n_questions < 2 or not sd_diff > 0:
        return float("nan")
    c = signflip_critical_t(n_questions, alpha)
    nc = math.sqrt(n_questions) * effect / sd_diff
    t = st.nct(n_questions - 1, abs(nc))
    far = float(t.cdf(-c))  # the wrong-sided rejection; scipy returns NaN where it is below ~1e-25
    return float(t.sf(c)) + (far if math.isfinite(far) else 0.0)


@functools.lru_cache(maxsize=256)
def _mcnemar_reject(n_questions: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """For N = 0..n discordant questions: N, and the smallest count of one kind the score test rejects at.

    McNemar's score test rejects when |2C - N| >= z sqrt(N), C the count of one kind.
    """
    big_n = np.arange(n_questions + 1)
    z = float(ndtri(1 - alpha / 2))
    k = np.ceil((big_n + z * np.sqrt(big_n)) / 2 - 1e-9)  # reject: C >= k or C <= N - k
    return big_n, np.where(big_n > 0, k, 1)


def mcnemar_power(p10: float, p01: float, n_questions: int, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided McNemar score test with discordance probabilities p10 (b) and p01 (c)."""
    psi = p10 + p01
    if n_questions < 1 or psi <= 0:
        return 0.0
    big_n, k = _mcnemar_reject(n_questions, alpha)
    pi = p01 / psi
    reject = st.binom.sf(k - 1, big_n, pi) + st.binom.cdf(big_n - k, big_n, pi)
    reject = np.where(k <= big_n, np.minimum(np.nan_to_num(reject), 1.0), 0.0)
    return float(np.sum(st.binom.pmf(big_n, n_questions, psi) * reject))


def mde_from_sd(sd_diff: float, n_questions: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """MDE in accuracy points (0..1) of the sign-flip test, given the sd of per-question differences.

    NaN when the sd is 0 or unknown: no variation observed, nothing to base a power estimate on.
    """
    if not np.isfinite(sd_diff) or sd_diff <= 0 or n_questions < 2:
        return float("nan")
    return _solve(lambda e: signflip_power(e, sd_diff, n_questions, alpha), power, 2.0 * sd_diff + 1.0)


def mde_mcnemar(discordant: float, n_questions: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """MDE of the McNemar score test when a share `discordant` of questions has the two models disagree.

    The share is held fixed and the effect moves disagreements from one kind to the other; NaN
    when no difference of at most `discordant` reaches the power.
    """
    if not discordant > 0 or n_questions < 2:
        return float("nan")
    f = lambda e: mcnemar_power((discordant - e) / 2, (discordant + e) / 2, n_questions, alpha)  # noqa: E731
    return _solve(f, power, discordant)


def _solve(power_of, target: float, upper: float) -> float:
    """Smallest effect in (0, upper] whose power reaches `target` (NaN if none)."""
    if power_of(upper) < target:
        return float("nan")
    return float(brentq(lambda e: power_of(e) - target, 1e-9, upper, xtol=1e-6))


@dataclass(frozen=True)
class DesignAssumptions:
    """What a planned comparison is assumed to look like (used for MDEs before any data exist).

    p: accuracy of both models; icc: share of the outcome variance p(1-p) that is between
    questions (question difficulty; 0 = all questions alike, 1 = every question always right or
    always wrong); r: correlation of the two models' per-question success probabilities. The
    candidate's gain comes from turning a share of each question's failures into successes.
    """

    p: float = 0.5
    icc: float = 0.5
    r: float = 0.8


def _design_moments(effect: float, m: int, a: DesignAssumptions) -> tuple[float, float, float]:
    """(P(b=1, c=0), P(b=0, c=1), sd of per-question difference) for a true difference `effect`.

    A gain turns a share effect / (1 - p) of each question's failures into successes; a loss
    turns a share -effect / p of its successes into failures.
    """
    p, v = a.p, a.icc * a.p * (1 - a.p)
    q0 = p * (1 - p) - a.r * v  # E[p_b (1 - p_c)] = E[(1 - p_b) p_c] with no difference
    within_b = p * (1 - p) * (1 - a.icc)
    if effect >= 0:
        kappa = effect / (1 - p)  # p_c -> p_c + kappa (1 - p_c)
        p10 = q0 * (1 - kappa)
        var_between = (1 - kappa) ** 2 * v + v - 2 * (1 - kappa) * a.r * v
        within_c = (1 - kappa) * ((1 - kappa) * p * (1 - p) * (1 - a.icc) + kappa * (1 - p))
    else:
        lam = 1 + effect / p  # p_c -> lam p_c
        p10 = lam * q0 - effect
        var_between = lam**2 * v + v - 2 * lam * a.r * v
        within_c = lam * p - lam**2 * (v + p * p)
    sd = math.sqrt(max(var_between + (within_b + within_c) / m, 0.0))
    return p10, p10 + effect, sd


def sd_diff_design(n_seeds: int, samples: int = 1, a: DesignAssumptions | None = None) -> float:
    """sd of one question's paired difference under `a` (no true difference), m = n_seeds x samples responses.

    Var(d_q) = 2 p(1-p) [icc (1 - r) + (1 - icc) / m]: the models' disagreement about question
    difficulty plus the binomial noise of m responses each.
    """
    return _design_moments(0.0, n_seeds * samples, a or DesignAssumptions())[2]


def design_power(
    effect: float, n_questions: int, n_seeds: int, samples: int = 1, a: DesignAssumptions | None = None,
    alpha: float = ALPHA,
) -> float:
    """Power of the test that runs (McNemar score test for one response per model, else sign-flip) under `a`."""
    a = a or DesignAssumptions()
    m = n_seeds * samples
    p10, p01, sd = _design_moments(effect, m, a)
    if m == 1:
        return mcnemar_power(p10, p01, n_questions, alpha)
    return signflip_power(effect, sd, n_questions, alpha)


def mde_design(
    n_questions: int,
    n_seeds: int,
    samples: int = 1,
    a: DesignAssumptions | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
) -> float:
    """MDE (accuracy points, 0..1) of a paired comparison planned with `a` (see `DesignAssumptions`).

    The true gain whose power, for the test that will run, is `power` (NaN below 2 questions).
    """
    a = a or DesignAssumptions()
    if n_questions < 2:
        return float("nan")
    return _solve(lambda e: design_power(e, n_questions, n_seeds, samples, a, alpha), power, (1 - a.p) * 0.999)


def gate_margin(
    n_questions: int, responses: int, a: DesignAssumptions | None = None, power: float = POWER
) -> float:
    """The default non-inferiority margin of `rv-eval check` (fraction), from the design.

    The smallest margin M with both: an equal candidate passes (lower end of the 95% interval
    above -M) with probability `power`, i.e. the design MDE; and a true drop of 2 M is called a
    regression (upper end below -M) with probability `power`, which needs more room because a
    drop changes the variance of the differences. `responses` = seeds x samples per question.
    """
    a = a or DesignAssumptions()
    mde = mde_design(n_questions, responses, 1, a, power=power)
    if not math.isfinite(mde):
        return mde

    def drop_power(margin: float) -> float:
        sd = _design_moments(-2 * margin, responses, a)[2]
        return signflip_power(margin, sd, n_questions)

    upper = a.p / 2 * 0.999
    if drop_power(mde) >= power or drop_power(upper) < power:
        return mde
    return float(brentq(lambda x: drop_power(x) - power, mde, upper, xtol=1e-6))


def mde_table(
    sizes: dict[str, int], seeds: tuple[int, ...] = (1, 4, 8), a: DesignAssumptions | None = None
) -> list[dict[str, object]]:
    """One row per task: its size and the design MDE (percentage points) at each seed count."""
    rows = []
    for task, n in sizes.items():
        row: dict[str, object] = {"task": task, "n_questions": n}
        for k in seeds:
            row[f"mde_{k}_seeds"] = round(100 * mde_design(n, k, a=a), 1)
        rows.append(row)
    return rows
