"""paired_compare() and its tests: agreement with scipy/statsmodels, type I error, CI coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from rv_eval.errors import UserError
from rv_eval.stats import (
    PAIRED_COLUMNS,
    adjust_pvalues,
    bootstrap_ci,
    mcnemar_exact_pvalue,
    mcnemar_score_pvalue,
    mcnemar_test,
    paired_compare,
    sign_flip_pvalue,
    sign_flip_test,
)
from rv_eval.stats import simulate as sim


def _scipy_paired_p(d: np.ndarray, n_resamples: int) -> float:
    res = st.permutation_test(
        (d, np.zeros_like(d)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=n_resamples,
        rng=0,
    )
    return float(res.pvalue)


def test_sign_flip_exact_matches_scipy_permutation_test():
    rng = np.random.default_rng(0)
    for n in (6, 11, 14):
        d = rng.normal(0.2, 1.0, n)
        assert sign_flip_pvalue(d) == pytest.approx(_scipy_paired_p(d, 100_000))


def test_sign_flip_monte_carlo_close_to_scipy():
    d = np.random.default_rng(1).normal(0.15, 1.0, 200)
    ours = sign_flip_pvalue(d, n_resamples=20_000, rng=np.random.default_rng(2))
    assert ours == pytest.approx(_scipy_paired_p(d, 20_000), abs=0.015)


def test_mcnemar_matches_statsmodels_and_sign_flip():
    rng = np.random.default_rng(3)
    for _ in range(5):
        b = rng.random(40) < 0.4
        c = rng.random(40) < 0.6
        table = [[np.sum(b & c), np.sum(b & ~c)], [np.sum(~b & c), np.sum(~b & ~c)]]
        expected = mcnemar(table, exact=True).pvalue
        assert mcnemar_exact_pvalue(b.astype(float), c.astype(float)) == pytest.approx(expected)
        score = mcnemar(table, exact=False, correction=False).pvalue
        assert mcnemar_score_pvalue(b.astype(float), c.astype(float)) == pytest.approx(score)
        if np.sum(b != c) <= 14:  # the exact sign-flip test on 0/1 data is McNemar's test
            assert sign_flip_pvalue(c.astype(float) - b) == pytest.approx(expected)


@pytest.mark.parametrize("n", [40, 400, 3000])
def test_bootstrap_ci_agrees_with_scipy_bca(n):
    rng = np.random.default_rng(n)
    d = (rng.integers(0, 5, n) - 2) / 4 + 0.25 * (rng.random(n) < 0.3)  # skewed, discrete
    ours = bootstrap_ci(d, n_resamples=20_000, rng=rng)
    ref = st.bootstrap((d,), np.mean, n_resamples=20_000, method="BCa", rng=1, batch=500).confidence_interval
    width = ref.high - ref.low
    assert ours == pytest.approx((ref.low, ref.high), abs=0.03 * width + 1e-9)
    # identical differences: bounded by the exact 0-of-n limit on questions that could differ
    assert bootstrap_ci(np.zeros(10)) == pytest.approx((-(1 - 0.025**0.1), 1 - 0.025**0.1))
    assert bootstrap_ci(np.zeros(1319))[0] == pytest.approx(-0.0028, abs=1e-4)
    assert all(np.isnan(bootstrap_ci(np.array([1.0]))))


def test_adjust_matches_multipletests():
    p = np.array([0.001, 0.02, 0.04, 0.3, np.nan, 0.011])
    ok = np.isfinite(p)
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        adj = adjust_pvalues(p, ours)
        assert np.isnan(adj[4])
        assert adj[ok] == pytest.approx(multipletests(p[ok], method=theirs)[1])
    assert adjust_pvalues(p, "none")[ok] == pytest.approx(p[ok])


def _two_models(rng, n_q=60, n_seeds=4, shift=0.0, icc=0.5, task="gsm8k_en", vector_alphas=(1.0,)):
    p = sim.difficulty(rng, n_q, 0.5, icc)
    parts = [sim.frame(sim.outcomes(rng, p, n_seeds), model="target", task=task)]
    for a in vector_alphas:
        pc = np.clip(p + shift * a, 0, 1)
        parts.append(
            sim.frame(sim.outcomes(rng, pc, n_seeds), model=f"v@{a:g}", task=task, vector="v", alpha=a)
        )
    return pd.concat(parts, ignore_index=True)


def test_paired_compare_frame_and_correction():
    rng = np.random.default_rng(4)
    df = pd.concat(
        [_two_models(rng, task=t, vector_alphas=(0.5, 1.0), shift=0.1) for t in ("a_en", "b_en")],
        ignore_index=True,
    )
    out = paired_compare(df, "target")
    assert list(out.columns) == PAIRED_COLUMNS and len(out) == 4
    assert set(out["test"]) == {"sign-flip"}
    assert out["p_adjusted"].to_numpy() == pytest.approx(multipletests(out["p_value"], method="holm")[1])
    row = out[(out["model"] == "v@1") & (out["task"] == "a_en")].iloc[0]
    sub = df[df["task"] == "a_en"]
    per_q = sub.groupby(["model", "doc_id"])["correct"].mean().unstack(0)
    assert row["diff"] == pytest.approx((per_q["v@1"] - per_q["target"]).mean())
    assert row["ci_low"] < row["diff"] < row["ci_high"]
    assert row["alpha"] == 1.0 and row["vector"] == "v" and row["n_seeds"] == 4
    bh = paired_compare(df, "target", correction="bh")
    assert (bh["p_adjusted"] <= out["p_adjusted"] + 1e-12).all()


def test_single_binary_sample_uses_mcnemar():
    df = _two_models(np.random.default_rng(5), n_q=80, n_seeds=1, shift=0.15)
    row = paired_compare(df, "target").iloc[0]
    per_q = df.groupby(["model", "doc_id"])["correct"].first().unstack(0)
    assert row["test"] == "mcnemar"
    assert row["p_value"] == pytest.approx(mcnemar_score_pvalue(per_q["target"], per_q["v@1"]))


def test_pairs_only_shared_questions():
    df = _two_models(np.random.default_rng(6), n_q=30)
    df = df[~((df["model"] == "target") & (df["doc_id"] == "q00000"))]
    assert paired_compare(df, "target").iloc[0]["n_questions"] == 29


def test_no_shared_task_gives_an_empty_table():
    rng = np.random.default_rng(11)
    df = pd.concat([_two_models(rng, task="a_en"), _two_models(rng, task="b_en")], ignore_index=True)
    df = df[~((df["model"] == "target") & (df["task"] == "b_en"))]
    df = df[~((df["model"] == "v@1") & (df["task"] == "a_en"))]
    out = paired_compare(df, "target")
    assert out.empty and list(out.columns) == PAIRED_COLUMNS


def test_unknown_models_and_correction_are_user_errors():
    df = _two_models(np.random.default_rng(7), n_q=10)
    with pytest.raises(UserError, match="nope"):
        paired_compare(df, "nope")
    with pytest.raises(UserError, match="correction"):
        paired_compare(df, "target", correction="bonferroni-ish")


def _null_data(rng, reps, n_q, n_seeds, effect_sd):
    """Same average accuracy, but the candidate is better on some questions and worse on others."""
    p = sim.difficulty(rng, reps * n_q, 0.5, 0.5).reshape(reps, n_q)
    delta = rng.choice([-effect_sd, effect_sd], size=(reps, n_q))
    pc = np.clip(p + delta, 0, 1)
    pb = np.clip(p - delta, 0, 1)  # symmetric: E[pc - pb] = 0 in the clipped model as well
    yb = rng.random((reps, n_q, n_seeds)) < pb[..., None]
    yc = rng.random((reps, n_q, n_seeds)) < pc[..., None]
    return yb, yc


def test_sign_flip_type_one_error_is_five_percent_and_pooled_mcnemar_is_not():
    reps, n_q, n_seeds = 1000, 40, 8
    rng = np.random.default_rng(8)
    yb, yc = _null_data(rng, reps, n_q, n_seeds, effect_sd=0.25)
    d = yc.mean(-1) - yb.mean(-1)
    p = np.array([sign_flip_pvalue(di, n_resamples=999, rng=rng) for di in d])
    rate = np.mean(p < 0.05)
    assert abs(rate - 0.05) < 3 * math.sqrt(0.05 * 0.95 / reps), rate
    # the wrong method: McNemar on all (question, seed) pairs as if they were independent
    naive = np.array([mcnemar_exact_pvalue(b.ravel(), c.ravel()) for b, c in zip(yb, yc, strict=True)])
    assert np.mean(naive < 0.05) > 0.10


def test_sign_flip_has_power_against_a_real_effect():
    rng = np.random.default_rng(9)
    p = sim.difficulty(rng, 300 * 50, 0.5, 0.5).reshape(300, 50)
    yb = rng.random((300, 50, 4)) < p[..., None]
    yc = rng.random((300, 50, 4)) < np.clip(p + 0.12, 0, 1)[..., None]
    d = yc.mean(-1) - yb.mean(-1)
    assert np.mean([sign_flip_pvalue(di, n_resamples=499, rng=rng) < 0.05 for di in d]) > 0.6


def test_paired_interval_covers_the_true_difference():
    """The interval `paired_compare` reports (inverting the sign-flip test); 600 replications."""
    reps, n_q, n_seeds, shift = 600, 100, 4, 0.15
    rng = np.random.default_rng(10)
    p = sim.difficulty(rng, reps * n_q, 0.4, 0.5).reshape(reps, n_q)
    pc = p + shift * (1 - p)  # stays a probability; E[pc - p] = shift * (1 - E[p])
    truth = shift * (1 - 0.4)
    d = (rng.random((reps, n_q, n_seeds)) < pc[..., None]).mean(-1) - (
        rng.random((reps, n_q, n_seeds)) < p[..., None]
    ).mean(-1)
    cis = np.array([sign_flip_test(di, n_resamples=999, rng=rng)[1:] for di in d])
    cover = np.mean((cis[:, 0] <= truth) & (truth <= cis[:, 1]))
    assert abs(cover - 0.95) < 3 * math.sqrt(0.05 * 0.95 / reps) + 0.01, cover


def test_inverted_intervals_equal_brute_force_enumeration():
    """Exact sign-flip inversion against enumerating all 2^10 sign patterns on a δ grid."""
    import itertools

    rng = np.random.default_rng(12)
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=10)))
    grid = np.linspace(-1, 1, 2001)
    for _ in range(5):
        b, c = rng.integers(0, 2, 10), rng.integers(0, 2, 10)
        d = (c - b).astype(float)
        x = d[None, :] - grid[:, None]  # (grid, questions)
        p = np.mean(np.abs(x @ signs.T) >= np.abs(x.sum(axis=1))[:, None] - 1e-9, axis=1)
        kept = grid[p > 0.05]
        test = sign_flip_test(d)
        assert test[1] == pytest.approx(kept.min(), abs=1e-3) and test[2] == pytest.approx(kept.max(), abs=1e-3)
        assert (test[0] <= 0.05) == (not test[1] <= 0 <= test[2])


# Published Tango (1998) score intervals for a paired difference, as tested by the R package ratesci
# (github.com/petelaud/ratesci, tests/testthat/test3.R at commit e7e5a2d68c1386fc99424014bb01112a569bbbbf,
# GPL-3; the numbers are the papers'): x = (both right, only test 1, only test 2, both wrong) and the
# 95% interval of P(test 1) - P(test 2), rounded to 3 decimals.
TANGO_PUBLISHED = [
    ((1, 1, 7, 12), (-0.517, -0.026)),  # Fagerland, Lydersen & Laake 2014, Table II (airway reactivity)
    ((53, 16, 8, 9), (-0.020, 0.207)),  # Agresti & Min 2005
]


@pytest.mark.parametrize(("x", "ci"), TANGO_PUBLISHED)
def test_mcnemar_interval_is_tangos_published_one(x, ci):
    both, only1, only2, neither = x
    candidate = np.array([1] * both + [1] * only1 + [0] * only2 + [0] * neither)  # test 1
    baseline = np.array([1] * both + [0] * only1 + [1] * only2 + [0] * neither)
    p, lo, hi = mcnemar_test(baseline, candidate)
    assert (round(lo, 3), round(hi, 3)) == ci
    assert p == pytest.approx(mcnemar(np.array([[both, only1], [only2, neither]]), exact=False,
                                      correction=False).pvalue)


def test_mcnemar_interval_agrees_with_its_test_on_every_table():
    """0 lies outside Tango's interval exactly when McNemar's score test rejects (all tables, n = 12 and 30)."""
    for n in (12, 30):
        for b in range(n + 1):
            for c in range(n + 1 - b):
                base = np.array([1] * b + [0] * c + [0] * (n - b - c))
                cand = np.array([0] * b + [1] * c + [0] * (n - b - c))
                p, lo, hi = mcnemar_test(base, cand)
                assert lo <= (c - b) / n <= hi
                assert (p <= 0.05) == (not lo <= 0 <= hi), (b, c, p, lo, hi)
