"""Minimum detectable effects: the design formula against simulation, and statsmodels agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from rv_eval.stats import DesignAssumptions, mde_design, mde_from_sd, mde_table
from rv_eval.stats import simulate as sim
from rv_eval.stats.power import sd_diff_design, standardized_mde


def _design_diffs(rng, reps: int, n: int, k: int, a: DesignAssumptions, delta: float) -> np.ndarray:
    """Per-question differences under the design model, candidate better by `delta` on average."""
    pb = sim.difficulty(rng, reps * n, a.p, a.icc).reshape(reps, n)
    other = sim.difficulty(rng, reps * n, a.p, a.icc).reshape(reps, n)
    pc = np.where(rng.random((reps, n)) < a.r, pb, other)  # corr(pb, pc) = r
    pc = pc + delta * (1 - pc) / (1 - a.p)  # mean shift exactly delta, still a probability
    yb = (rng.random((reps, n, k)) < pb[..., None]).mean(-1)
    yc = (rng.random((reps, n, k)) < pc[..., None]).mean(-1)
    return yc - yb


CASES = [
    (30, 8, DesignAssumptions()),
    (250, 1, DesignAssumptions()),
    (164, 4, DesignAssumptions(p=0.3, icc=0.6, r=0.7)),
    (1319, 1, DesignAssumptions(p=0.7, icc=0.4, r=0.9)),
]


@pytest.mark.parametrize(("n", "k", "a"), CASES)
def test_design_sd_matches_simulation(n, k, a):
    d = _design_diffs(np.random.default_rng(n), 100, 2000, k, a, 0.0).ravel()
    assert d.std() == pytest.approx(sd_diff_design(k, a=a), rel=0.02)


@pytest.mark.parametrize(("n", "k", "a"), CASES)
def test_design_mde_has_about_80_percent_power(n, k, a):
    reps = 1500
    mde = mde_design(n, k, a=a)
    d = _design_diffs(np.random.default_rng(k + n), reps, n, k, a, mde)
    power = np.mean(st.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05)
    # 0.80 up to Monte-Carlo error and the extra variance an effect adds to binary outcomes
    assert 0.80 - 0.07 < power < 0.80 + 0.05, power
    # a wrong MDE (e.g. the one of 4x as many questions) must be visibly underpowered
    d_small = _design_diffs(np.random.default_rng(1), reps, n, k, a, mde / 2)
    assert np.mean(st.ttest_1samp(d_small, 0.0, axis=1).pvalue < 0.05) < 0.45


def test_standardized_mde_is_statsmodels_and_z_approximation():
    for n in (30, 250, 6511):
        z = (st.norm.ppf(0.975) + st.norm.ppf(0.8)) / math.sqrt(n)
        assert standardized_mde(n) == pytest.approx(z, rel=0.05 if n == 30 else 0.005)
    assert mde_from_sd(0.5, 100) == pytest.approx(0.5 * standardized_mde(100))
    assert math.isnan(mde_from_sd(float("nan"), 100)) and math.isnan(standardized_mde(1))


def test_mde_table_shrinks_with_seeds_and_questions():
    rows = mde_table({"aime24": 30, "gsm8k": 1319}, seeds=(1, 4, 8))
    aime, gsm = rows
    assert aime["mde_1_seeds"] > aime["mde_4_seeds"] > aime["mde_8_seeds"] > gsm["mde_1_seeds"]
    # more seeds only remove within-question noise; the models' disagreement on questions stays
    floor = 100 * mde_design(30, 10_000)
    assert aime["mde_8_seeds"] > floor
