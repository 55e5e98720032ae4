"""The report's only contact with the statistics stage.

Every number the report shows about accuracy, confidence intervals, significance and α choice
comes through the three functions here, which call `rv_eval.stats` (`summarize`,
`paired_compare`, `select_alpha`; see docs/interfaces.md) and turn their answers into plain
records the page embeds. When `rv_eval.stats` is not importable the module falls back to a
simple question-clustered estimate (normal CI, paired test on per-question means, Holm), so
the report can still be built from a checkout without the stats stage.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

Z95 = 1.959963984540054


@dataclass(frozen=True)
class AlphaChoice:
    """The α chosen on held-out data for one vector and test task."""

    vector: str
    task: str
    alpha: float | None
    test_mean: float | None
    test_ci_low: float | None
    test_ci_high: float | None
    method: str  # "dev" (chosen on the task's dev pool), "cross-fit" or whatever stats reports


def _stats_module() -> Any | None:
    try:
        from rv_eval import stats  # noqa: PLC0415
    except ImportError:
        return None
    return stats


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per model × task: mean, ci_low, ci_high, n_questions, n_seeds, n_samples, lang_fidelity."""
    stats = _stats_module()
    if stats is not None:
        return stats.summarize(df)
    return _fallback_summarize(df)


def paired_compare(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per candidate × task vs `baseline`: diff, ci_low, ci_high, p_value, p_adjusted, significant."""
    stats = _stats_module()
    if stats is not None:
        return stats.paired_compare(df, baseline, correction="holm")
    return _fallback_paired(df, baseline)


def select_alpha(df: pd.DataFrame, vector: str) -> list[AlphaChoice]:
    """The α chosen on held-out data for each test task of `vector` (empty when none can be chosen)."""
    stats = _stats_module()
    if stats is not None:
        return _from_stats_selection(stats.select_alpha(df, vector), vector)
    return _fallback_select(df, vector)


# --- adapters ---------------------------------------------------------------------------------


def _from_stats_selection(sel: Any, vector: str) -> list[AlphaChoice]:
    """Turn an `rv_eval.stats.AlphaSelection` into AlphaChoice records."""
    per_task = getattr(sel, "per_task", None)
    if isinstance(per_task, pd.DataFrame):
        per_task = per_task.to_dict("records")
    out: list[AlphaChoice] = []
    for row in per_task or []:
        get = row.get if isinstance(row, dict) else (lambda k, r=row: getattr(r, k, None))
        out.append(
            AlphaChoice(
                vector=vector,
                task=str(get("task")),
                alpha=_num(get("alpha")),
                test_mean=_num(get("test_mean")),
                test_ci_low=_num(get("test_ci_low")),
                test_ci_high=_num(get("test_ci_high")),
                method=str(get("method") or "dev"),
            )
        )
    return out


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


# --- fallback estimates (used only without rv_eval.stats) ------------------------------------


def _question_means(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby(["model", "task", "doc_id"], observed=True, sort=False)["correct"].mean().reset_index()


def _fallback_summarize(df: pd.DataFrame) -> pd.DataFrame:
    q = _question_means(df)
    g = q.groupby(["model", "task"], observed=True, sort=False)["correct"]
    out = g.agg(mean="mean", sd="std", n_questions="count").reset_index()
    se = (out["sd"].fillna(0.0) / np.sqrt(out["n_questions"])).to_numpy()
    out["se"] = se
    out["ci_low"] = (out["mean"] - Z95 * se).clip(lower=0.0)
    out["ci_high"] = (out["mean"] + Z95 * se).clip(upper=1.0)
    counts = df.groupby(["model", "task"], observed=True, sort=False).agg(
        n_seeds=("seed", "nunique"), n_samples=("correct", "size")
    )
    fid = (df["response_lang"] == df["lang"]).groupby([df["model"], df["task"]], observed=True).mean()
    out = out.merge(counts.reset_index(), on=["model", "task"])
    out = out.merge(fid.rename("lang_fidelity").reset_index(), on=["model", "task"])
    return out.drop(columns="sd")


def _fallback_paired(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    from scipy import stats as st  # noqa: PLC0415
    from statsmodels.stats.multitest import multipletests  # noqa: PLC0415

    q = _question_means(df)
    base = q[q["model"] == baseline][["task", "doc_id", "correct"]].rename(columns={"correct": "b"})
    cand = q[q["model"] != baseline].merge(base, on=["task", "doc_id"])
    cand["d"] = cand["correct"] - cand["b"]
    rows = []
    for (model, task), g in cand.groupby(["model", "task"], observed=True, sort=False):
        d = g["d"].to_numpy(dtype=float)
        n = len(d)
        mean = float(d.mean())
        se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        p = float(2 * st.norm.sf(abs(mean) / se)) if se > 0 else (1.0 if mean == 0 else 0.0)
        rows.append(dict(model=model, task=task, diff=mean, ci_low=mean - Z95 * se, ci_high=mean + Z95 * se, p_value=p))
    out = pd.DataFrame(rows, columns=["model", "task", "diff", "ci_low", "ci_high", "p_value"])
    if len(out):
        reject, p_adj, _, _ = multipletests(out["p_value"], alpha=0.05, method="holm")
        out["p_adjusted"], out["significant"] = p_adj, reject
    else:
        out["p_adjusted"], out["significant"] = [], []
    return out


def _fallback_select(df: pd.DataFrame, vector: str) -> list[AlphaChoice]:
    v = df[df["vector"] == vector]
    dev = v[v["split"] == "dev"]
    test = v[v["split"] == "test"]
    out = []
    for task, g in dev.groupby("serves", observed=True, sort=True):
        by_alpha = g.groupby("alpha")["correct"].mean()
        alpha = float(by_alpha.idxmax())
        t = test[(test["task"] == task) & (test["alpha"] == alpha)]
        s = _fallback_summarize(t) if len(t) else None
        row = s.iloc[0] if s is not None and len(s) else None
        out.append(
            AlphaChoice(
                vector=vector,
                task=str(task),
                alpha=alpha,
                test_mean=None if row is None else float(row["mean"]),
                test_ci_low=None if row is None else float(row["ci_low"]),
                test_ci_high=None if row is None else float(row["ci_high"]),
                method="dev",
            )
        )
    return out
