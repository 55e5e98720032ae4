"""Macro averages over tasks with an interval from the per-question data.

A macro average weighs tasks, not questions (e.g. the mean of AIME24 and GSM8K accuracy). Its
uncertainty comes from the questions of every task: each bootstrap replicate resamples the
questions of each task separately (stratified by task; the task weights stay fixed) and
recomputes the weighted mean of the task accuracies. The bootstrap se gives the effective
sample size, and the interval is the same Jeffreys interval at the t-adjusted effective n as a
single task's (`proportion_ci`), with Satterthwaite degrees of freedom across tasks, so an
average over one task reproduces that task's interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.special import ndtri
from statsmodels.stats.proportion import proportion_confint

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame
from rv_eval.stats.questions import question_table

MACRO_COLUMNS = ["model", "tasks", "n_tasks", "n_questions", "mean", "se", "ci_low", "ci_high"]


def macro_interval(
    per_task: list[np.ndarray],
    weights: list[float] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float, float]:
    """(mean, se, ci_low, ci_high) of sum_t w_t mean(per_task[t]) by a bootstrap stratified by task.

    `per_task[t]` holds task t's per-question accuracies; `weights` default to equal (1 / tasks).
    """
    k = len(per_task)
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, float) / np.sum(weights)
    rng = np.random.default_rng(seed)
    mean = float(sum(wt * v.mean() for wt, v in zip(w, per_task, strict=True)))
    boot = np.zeros(n_resamples)
    for wt, v in zip(w, per_task, strict=True):
        boot += wt * v[rng.integers(0, v.size, (n_resamples, v.size))].mean(axis=1)
    # the bootstrap variance of a mean is (n-1)/n of the unbiased one; undo it per task
    parts = np.array([wt**2 * v.var(ddof=1) / v.size if v.size > 1 else 0.0 for wt, v in zip(w, per_task, strict=True)])
    plug = float(np.sum([wt**2 * v.var(ddof=0) / v.size for wt, v in zip(w, per_task, strict=True)]))
    scale = float(parts.sum() / plug) if plug > 0 else 1.0
    se = float(np.std(boot, ddof=1) * np.sqrt(scale))
    df = _satterthwaite(parts, [v.size for v in per_task])
    n_total = sum(v.size for v in per_task)
    n_eff = mean * (1 - mean) / se**2 if se > 0 else float(n_total)
    z = float(ndtri(0.5 + level / 2))
    n_eff *= (z / st.t.ppf(0.5 + level / 2, df)) ** 2 if np.isfinite(df) else 1.0
    lo, hi = proportion_confint(mean * n_eff, n_eff, alpha=1 - level, method="jeffreys")
    lo = 0.0 if mean <= 0 else float(lo)
    hi = 1.0 if mean >= 1 else float(hi)
    return mean, se, lo, hi


def _satterthwaite(parts: np.ndarray, sizes: list[int]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates."""
    den = sum(p**2 / (n - 1) for p, n in zip(parts, sizes, strict=True) if n > 1)
    if den <= 0:
        return float(max(min(sizes) - 1, 1))
    return float(parts.sum() ** 2 / den)


def macro_average(
    df: pd.DataFrame,
    tasks: list[str] | None = None,
    weights: dict[str, float] | None = None,
    *,
    split: str | None = "test",
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per model: the macro average over `tasks` (default: all tasks of `split`) with its interval.

    Only models with samples for every task get a row. `weights` (task -> weight) default to
    equal weights. Columns: MACRO_COLUMNS.
    """
    df = check_samples_frame(df)
    if split is not None:
        df = df[df["split"] == split]
    names = sorted(tasks) if tasks else sorted(df["task"].unique())
    missing = sorted(set(names) - set(df["task"]))
    if missing or not names:
        raise UserError(f"no samples for tasks {missing or names}. Fix: choose tasks of split {split!r}.")
    q = question_table(df[df["task"].isin(names)])
    rows = []
    for model, mq in q.groupby("model", sort=True, observed=True):
        if set(mq["task"]) != set(names):
            continue
        per_task = [mq.loc[mq["task"] == t, "mean"].to_numpy(float) for t in names]
        w = None if weights is None else [float(weights[t]) for t in names]
        mean, se, lo, hi = macro_interval(per_task, w, n_resamples, seed, level)
        rows.append({
            "model": model, "tasks": ",".join(names), "n_tasks": len(names),
            "n_questions": int(sum(v.size for v in per_task)), "mean": mean, "se": se, "ci_low": lo, "ci_high": hi,
        })
    return pd.DataFrame(rows, columns=MACRO_COLUMNS)
