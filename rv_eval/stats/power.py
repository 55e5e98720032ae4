"""Minimum detectable effects (80% power, two-sided 5% paired test)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from statsmodels.stats.power import TTestPower

ALPHA = 0.05
POWER = 0.80


@functools.lru_cache(maxsize=4096)
def standardized_mde(n_questions: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest mean/sd of paired differences a paired t-test on n questions detects with `power`."""
    if n_questions < 2:
        return float("nan")
    es = TTestPower().solve_power(nobs=n_questions, alpha=alpha, power=power, alternative="two-sided")
    return float(np.ravel(es)[0])


def mde_from_sd(sd_diff: float, n_questions: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """MDE in accuracy points (0..1) given the sd of per-question differences (e.g. the observed one).

    NaN when the sd is 0 or unknown: no variation observed, nothing to base a power estimate on.
    """
    if not np.isfinite(sd_diff) or sd_diff <= 0:
        return float("nan")
    return standardized_mde(n_questions, alpha, power) * sd_diff


@dataclass(frozen=True)
class DesignAssumptions:
    """What a planned comparison is assumed to look like (used for MDEs before any data exist).

    p: accuracy of both models; icc: share of the outcome variance p(1-p) that is between
    questions (question difficulty; 0 = all questions alike, 1 = every question always right or
    always wrong); r: correlation of the two models' per-question success probabilities.
    """

    p: float = 0.5
    icc: float = 0.5
    r: float = 0.8


def sd_diff_design(n_seeds: int, samples: int = 1, a: DesignAssumptions | None = None) -> float:
    """sd of one question's paired difference under `a`, with n_seeds x samples responses per model.

    Var(d_q) = 2 p(1-p) [icc (1 - r) + (1 - icc) / m], m = n_seeds * samples: the models'
    disagreement about question difficulty plus the binomial noise of m responses each.
    """
    a = a or DesignAssumptions()
    m = n_seeds * samples
    var = 2 * a.p * (1 - a.p) * (a.icc * (1 - a.r) + (1 - a.icc) / m)
    return math.sqrt(var)


def mde_design(
    n_questions: int,
    n_seeds: int,
    samples: int = 1,
    a: DesignAssumptions | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
) -> float:
    """MDE (accuracy points, 0..1) of a paired comparison planned with `a` (see `DesignAssumptions`)."""
    return mde_from_sd(sd_diff_design(n_seeds, samples, a), n_questions, alpha, power)


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
