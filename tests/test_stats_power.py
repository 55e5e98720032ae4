"""Minimum detectable effects of the test that runs, checked against an independent simulation.

The data come from tests/stats_sim.py (the README's planning model: Beta question difficulty,
correlation r between the models, a true gain of exactly the MDE), and the tests are the real
McNemar score and sign-flip tests. Small replication counts here (stated per test, Monte-Carlo
se about 2 points); benchmarks/stats_calibration.py runs the full counts (docs/stats.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.stats_calibration import power_at_mde
from rv_eval.stats import DesignAssumptions, mde_design, mde_from_sd, mde_table
from rv_eval.stats.power import mcnemar_power, sd_diff_design
from tests.stats_sim import beta_pair, per_question_accuracy

REPS = 400  # Monte-Carlo se of a power near 80%: 2.0 points


@pytest.mark.parametrize(("n", "k"), [(30, 1), (30, 8), (250, 4)])
def test_power_at_the_reported_mde_is_80_percent(n, k):
    """The README headline (AIME24, one seed) was at 71.5% with the old t-test MDE; now 80 ± 3 se."""
    got = power_at_mde(REPS, n, k, seed=n + k)
    assert abs(got["rate"] - 0.80) < 3 * 0.02, got


def test_old_t_test_mde_was_underpowered_for_mcnemar():
    """At 30 questions and one seed the paired-t MDE (29 points) gives the McNemar score test ~73% power, ours 80%."""
    a = DesignAssumptions()
    q0 = 0.5 * 0.5 * (1 - a.r * a.icc)
    old = 0.29
    assert mcnemar_power(q0 * (1 - old / 0.5), q0 * (1 - old / 0.5) + old, 30) < 0.75
    assert mde_design(30, 1) > 0.30


def test_design_sd_matches_simulation():
    rng = np.random.default_rng(3)
    for k, a in ((1, DesignAssumptions()), (4, DesignAssumptions(p=0.3, icc=0.6, r=0.7))):
        pb, pc = beta_pair(rng, (200, 1000), a.p, a.icc, a.r)
        d = per_question_accuracy(rng, pc, k, 1) - per_question_accuracy(rng, pb, k, 1)
        assert d.std() == pytest.approx(sd_diff_design(k, a=a), rel=0.02)


def test_mde_from_sd_edges():
    assert math.isnan(mde_from_sd(float("nan"), 100)) and math.isnan(mde_from_sd(0.0, 100))
    assert mde_from_sd(0.5, 400) == pytest.approx(0.5 * 2.8 / 20, rel=0.02)  # (z_.975 + z_.8) sd / sqrt(n)


def test_mde_table_shrinks_with_seeds_and_questions():
    rows = mde_table({"aime24": 30, "gsm8k": 1319}, seeds=(1, 4, 8))
    aime, gsm = rows
    assert aime["mde_1_seeds"] > aime["mde_4_seeds"] > aime["mde_8_seeds"] > gsm["mde_1_seeds"]
    # more seeds only remove within-question noise; the models' disagreement on questions stays
    assert aime["mde_8_seeds"] > 100 * mde_design(30, 10_000)
