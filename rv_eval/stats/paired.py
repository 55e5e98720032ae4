"""Paired comparison of candidates with a baseline on the same questions."""

from __future__ import annotations

import logging
import zlib

import numpy as np
import pandas as pd

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame
from rv_eval.stats.intervals import _no_disagreement_ci
from rv_eval.stats.loading import filter_tasks
from rv_eval.stats.power import mde_from_sd, mde_mcnemar
from rv_eval.stats.questions import question_table
from rv_eval.stats.significance import CORRECTIONS, adjust_pvalues, mcnemar_test, sign_flip_test

log = logging.getLogger(__name__)

PAIRED_COLUMNS = [
    "baseline",
    "model",
    "vector",
    "alpha",
    "task",
    "split",
    "n_questions",
    "n_seeds",
    "baseline_mean",
    "candidate_mean",
    "diff",
    "ci_low",
    "ci_high",
    "test",
    "p_value",
    "p_adjusted",
    "significant",
    "mde",
    "correction",
]


def paired_compare(
    df: pd.DataFrame,
    baseline: str,
    candidates: list[str] | None = None,
    correction: str = "holm",
    *,
    split: str | None = "test",
    tasks: list[str] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per candidate x task: candidate - baseline on the questions both answered.

    diff: mean over shared questions of the per-question accuracy difference; p_value:
    McNemar's score test when each model has one binary response per question (its interval:
    Tango's), else the paired sign-flip permutation test on per-question means; ci_low/ci_high:
    the interval that inverts that same test (it excludes 0 exactly when p_value <= 1 - level);
    p_adjusted: Holm ("holm") or Benjamini-Hochberg ("bh") across all rows (the α grid x tasks),
    or "none"; significant: p_adjusted < 1 - level; mde: the difference this comparison detects
    with 80% power by the test that ran (McNemar: at the observed share of discordant questions;
    sign-flip: at the observed sd of per-question differences). `n_resamples` is kept for
    compatibility (sign-flip tests use at least 9,999 patterns); `seed` makes them repeatable.
    `split` keeps only tasks of that split ("test" by default; None keeps all).
    """
    if correction not in CORRECTIONS:
        raise UserError(f"unknown correction {correction!r}. Fix: use one of {sorted(CORRECTIONS)}.")
    df = _select(check_samples_frame(df), split, tasks)
    candidates = _candidates(df, baseline, candidates)
    q = question_table(df).set_index(["model", "task", "doc_id"])
    attrs = df.groupby(["model", "task"], observed=True)[["vector", "alpha", "split"]].first()
    rows = []
    for cand in candidates:
        shared = sorted(set(_tasks_of(q, baseline)) & set(_tasks_of(q, cand)))
        if not shared:
            log.info("%s shares no task with baseline %s; not compared", cand, baseline)
        for task in shared:
            row = _compare_one(q.loc[baseline, task], q.loc[cand, task], n_resamples, seed, task, level)
            rows.append({"baseline": baseline, "model": cand, **attrs.loc[(cand, task)].to_dict(), **row})
    out = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c not in ("p_adjusted", "significant")])
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(dtype=float), correction)
    out["significant"] = out["p_adjusted"] < (1 - level)
    out["correction"] = correction
    return out[PAIRED_COLUMNS]


def paired_arrays(bq: pd.DataFrame, cq: pd.DataFrame) -> pd.DataFrame:
    """Join two per-question tables (index doc_id) on their shared questions."""
    return bq.merge(cq, left_index=True, right_index=True, how="inner", suffixes=("_b", "_c"))


def _compare_one(
    bq: pd.DataFrame, cq: pd.DataFrame, n_resamples: int, seed: int, task: str, level: float
) -> dict[str, object]:
    j = paired_arrays(bq, cq)
    rng = np.random.default_rng([seed, zlib.crc32(task.encode())])  # same draws for every candidate
    d = (j["mean_c"] - j["mean_b"]).to_numpy()
    if (j["n_b"] == 1).all() and (j["n_c"] == 1).all():
        test = "mcnemar"
        p, lo, hi = mcnemar_test(j["mean_b"].to_numpy(), j["mean_c"].to_numpy(), level)
        mde = mde_mcnemar(float(np.mean(d != 0)), d.size) if d.size > 1 else float("nan")
    else:
        test = "sign-flip"
        p, lo, hi = sign_flip_test(d, level, n_resamples=max(n_resamples, 9999), rng=rng)
        mde = mde_from_sd(float(np.std(d, ddof=1)) if d.size > 1 else float("nan"), d.size)
    if d.size == 1:
        p = float("nan")
    elif d.size > 1 and np.ptp(d) == 0:
        lo, hi = _no_disagreement(float(d[0]), d.size, p, lo, hi, level)
    return {
        "task": task,
        "n_questions": len(j),
        "n_seeds": int(min(j["n_seeds_b"].max(), j["n_seeds_c"].max())) if len(j) else 0,
        "baseline_mean": float(j["mean_b"].mean()),
        "candidate_mean": float(j["mean_c"].mean()),
        "diff": float(d.mean()) if d.size else float("nan"),
        "ci_low": lo,
        "ci_high": hi,
        "test": test,
        "p_value": p if d.size else float("nan"),
        "mde": mde,
    }


def _no_disagreement(d: float, n: int, p: float, lo: float, hi: float, level: float) -> tuple[float, float]:
    """Widen the interval where every question shows the same difference d (e.g. identical models).

    The test's own interval is then a point: nothing varies. The share of questions on which the
    models could differ is bounded by the exact upper limit for 0 of n (`_no_disagreement_ci`);
    the union of both intervals is reported, kept on the side of 0 where the test puts it.
    """
    b_lo, b_hi = _no_disagreement_ci(d, n, level)
    lo2, hi2 = min(lo, b_lo), max(hi, b_hi)
    if p <= 1 - level:  # the test rejects: 0 stays outside
        lo2 = lo2 if lo2 > 0 or d < 0 else lo
        hi2 = hi2 if hi2 < 0 or d > 0 else hi
    return lo2, hi2


def _select(df: pd.DataFrame, split: str | None, tasks: list[str] | None) -> pd.DataFrame:
    df = filter_tasks(df, tasks)
    if split is not None:
        df = df[df["split"] == split]
    if df.empty:
        raise UserError(
            f"no samples of split {split!r} for the chosen tasks. Fix: pass split=None or other tasks."
        )
    return df


def _candidates(df: pd.DataFrame, baseline: str, candidates: list[str] | None) -> list[str]:
    models = sorted(df["model"].unique())
    unknown = [m for m in [baseline, *(candidates or [])] if m not in models]
    if unknown:
        raise UserError(f"model(s) {unknown} not in the results. Fix: choose from {models}.")
    return [m for m in (candidates or models) if m != baseline]


def _tasks_of(q: pd.DataFrame, model: str) -> list[str]:
    return list(q.loc[model].index.get_level_values("task").unique())
