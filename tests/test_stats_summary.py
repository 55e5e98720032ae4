"""summarize(): exact numbers on a hand-made table, and CI coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from scipy.special import comb

from rv_eval.errors import UserError
from rv_eval.schema import samples_frame
from rv_eval.stats import SUMMARY_COLUMNS, clustered_ci, pass_at_k, proportion_ci, summarize
from rv_eval.stats import simulate as sim


def _row(doc: str, seed: int, idx: int, correct: bool, extracted: str | None, rlang: str = "ja") -> dict:
    return {
        "grid": "g",
        "model": "m",
        "vector": None,
        "alpha": None,
        "task": "mgsm_ja",
        "split": "test",
        "serves": "mgsm_ja",
        "lang": "ja",
        "seed": seed,
        "doc_id": doc,
        "doc_hash": doc,
        "fold": -1,
        "sample_idx": idx,
        "prompt": "",
        "response": "",
        "gold": "1",
        "extracted": extracted,
        "correct": correct,
        "reason": "ok",
        "response_lang": rlang,
        "n_prompt_tokens": 1,
        "n_gen_tokens": 1,
        "gen_seconds": 0.0,
    }


@pytest.fixture()
def hand_table() -> pd.DataFrame:
    # 3 questions x 2 seeds x 2 samples; per-question accuracy 1.0, 0.25, 0.5
    rows = [
        _row("a", 0, 0, True, "1"),
        _row("a", 0, 1, True, "1"),
        _row("a", 1, 0, True, "1"),
        _row("a", 1, 1, True, "1", rlang="en"),
        _row("b", 0, 0, True, "1"),
        _row("b", 0, 1, False, "7"),
        _row("b", 1, 0, False, "7"),
        _row("b", 1, 1, False, None),
        _row("c", 0, 0, False, "3"),
        _row("c", 0, 1, True, "1"),
        _row("c", 1, 0, False, "4"),
        _row("c", 1, 1, True, "1"),
    ]
    return samples_frame(rows)


def test_summary_numbers_by_hand(hand_table):
    s = summarize(hand_table)
    assert list(s.columns) == SUMMARY_COLUMNS and len(s) == 1
    r = s.iloc[0]
    per_q = np.array([1.0, 0.25, 0.5])
    se = per_q.std(ddof=1) / math.sqrt(3)
    assert r["mean"] == pytest.approx(per_q.mean())
    assert r["se"] == pytest.approx(se)
    n_eff = per_q.mean() * (1 - per_q.mean()) / se**2  # responses / design effect
    n_eff *= (st.norm.ppf(0.975) / st.t.ppf(0.975, 2)) ** 2  # Korn-Graubard: 2 degrees of freedom
    x = per_q.mean() * n_eff  # Jeffreys: Beta(x + 1/2, n - x + 1/2) quantiles
    lo, hi = st.beta.ppf(0.025, x + 0.5, n_eff - x + 0.5), st.beta.ppf(0.975, x + 0.5, n_eff - x + 0.5)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi))
    assert (r["n_questions"], r["n_seeds"], r["n_samples"], r["k"]) == (3, 2, 12, 4)
    seed_acc = [np.mean([1.0, 0.5, 0.5]), np.mean([1.0, 0.0, 0.5])]
    assert r["seed_sd"] == pytest.approx(np.std(seed_acc, ddof=1))
    # pass@4 with 4 responses each: any correct -> 1 for all three questions
    assert r["pass_at_k"] == pytest.approx(1.0)
    # majority: a -> "1" correct; b -> "7" wrong (2 votes vs 1); c -> "1" (2 votes) correct
    assert r["maj_at_k"] == pytest.approx(2 / 3)
    assert r["lang_fidelity"] == pytest.approx(11 / 12)


def test_majority_tie_counts_expected_share(hand_table):
    df = hand_table[
        ~((hand_table["doc_id"] == "c") & (hand_table["extracted"] == "1") & (hand_table["seed"] == 1))
    ]
    # question c now has votes "3", "1", "4": a three-way tie, one of three correct
    r = summarize(df).iloc[0]
    assert r["maj_at_k"] == pytest.approx((1 + 0 + 1 / 3) / 3)


def test_pass_at_k_matches_combinatorics():
    n, c, k = np.array([5, 5, 6, 4]), np.array([0, 2, 6, 1]), 3
    brute = [1 - comb(ni - ci, k, exact=True) / comb(ni, k, exact=True) for ni, ci in zip(n, c, strict=True)]
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_pass_at_k_array_equals_the_graders_scalar():
    from rv_eval.grading import pass_at_k as scalar

    n = np.array([[5, 5, 6], [4, 10, 10]])
    c = np.array([[0, 2, 6], [1, 3, 3]])
    out = pass_at_k(n, c, 3)
    assert out.shape == n.shape
    assert out.tolist() == [[scalar(a, b, 3) for a, b in zip(ra, rc, strict=True)] for ra, rc in zip(n, c, strict=True)]
    assert pass_at_k(np.array([], dtype=int), np.array([], dtype=int), 1).shape == (0,)
    with pytest.raises(UserError):
        pass_at_k(np.array([2]), np.array([1]), 3)


def test_summary_agrees_with_core_on_simulated_table():
    rng = np.random.default_rng(1)
    p = sim.difficulty(rng, 40, mean=0.3, icc=0.6)
    y = sim.outcomes(rng, p, n_seeds=4)
    s = summarize(sim.frame(y, model="m", task="t")).iloc[0]
    mean, se, lo, hi = proportion_ci(y.mean(axis=(1, 2)))
    assert (s["mean"], s["se"], s["ci_low"], s["ci_high"]) == pytest.approx((mean, se, lo, hi))


def test_empty_table_is_user_error():
    with pytest.raises(UserError):
        summarize(samples_frame([]))


def _naive_ci(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """i.i.d. binomial interval that treats every response as independent (the wrong method)."""
    n = y.shape[-1] * y.shape[-2]
    m = y.mean(axis=(-1, -2))
    half = 1.96 * np.sqrt(m * (1 - m) / n)
    return m - half, m + half


def _coverage(lo, hi, truth) -> float:
    return float(np.mean((lo <= truth) & (truth <= hi)))


COVERAGE_CASES = [(30, 8, 0.5, 0.5), (100, 4, 0.3, 0.3), (30, 8, 0.15, 0.5), (250, 1, 0.1, 0.3)]


@pytest.mark.parametrize(("n_q", "n_seeds", "mean", "icc"), COVERAGE_CASES)
def test_clustered_ci_covers_95_percent_and_naive_does_not(n_q, n_seeds, mean, icc):
    reps = 4000
    rng = np.random.default_rng(1)
    p = sim.difficulty(rng, reps * n_q, mean, icc).reshape(reps, n_q)
    y = rng.random((reps, n_q, n_seeds)) < p[..., None]
    _, _, lo, hi = proportion_ci(y.mean(axis=-1))
    band = 3 * math.sqrt(0.95 * 0.05 / reps) + 0.005  # 3 Monte-Carlo standard errors
    assert abs(_coverage(lo, hi, mean) - 0.95) < band
    if n_seeds > 1:  # the wrong method: every response counted as independent
        nlo, nhi = _naive_ci(y[..., None].astype(float))
        assert _coverage(nlo, nhi, mean) < 0.90


def test_t_interval_undercovers_at_low_accuracy():
    """Why accuracies get the Jeffreys interval at the effective n: AIME-like 15% over 30 questions x 8 seeds."""
    reps, n_q, mean = 4000, 30, 0.15
    rng = np.random.default_rng(1)
    p = sim.difficulty(rng, reps * n_q, mean, 0.5).reshape(reps, n_q)
    y = (rng.random((reps, n_q, 8)) < p[..., None]).mean(-1)
    _, _, tlo, thi = clustered_ci(y, bounds=(0, 1))
    _, _, wlo, whi = proportion_ci(y)
    assert _coverage(tlo, thi, mean) < 0.93 < _coverage(wlo, whi, mean)
