"""Per-question scores: the unit every statistic in `rv_eval.stats` is built on.

Questions are the sampling unit; seeds and samples are repeated measures of a question. So the
samples table is first reduced to one row per (model, task, question): how many responses it has
and how many were correct.
"""

from __future__ import annotations

import pandas as pd

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame

CELL = ["model", "task"]
QUESTION = ["model", "task", "doc_id"]


def question_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, task, doc_id): n responses, c correct, mean = c / n, fold, n_seeds."""
    df = check_samples_frame(df)
    if df.empty:
        raise UserError(
            "the samples table is empty. Fix: run `rv-eval run` first, or check the results folder."
        )
    g = df.groupby(QUESTION, sort=True, observed=True)
    q = g.agg(
        n=("correct", "size"),
        c=("correct", "sum"),
        fold=("fold", "first"),
        n_seeds=("seed", "nunique"),
        doc_hash=("doc_hash", "first"),
    )
    q["c"] = q["c"].astype("int64")
    q["mean"] = q["c"] / q["n"]
    return q.reset_index()


def model_alphas(df: pd.DataFrame, vector: str) -> dict[str, float]:
    """Map each model of `vector` to its α; raise UserError if a vector has two models at one α."""
    rows = df[(df["vector"] == vector) & df["alpha"].notna()]
    pairs = rows[["model", "alpha"]].drop_duplicates()
    dup = pairs[pairs["alpha"].duplicated(keep=False)]
    if not dup.empty:
        raise UserError(
            f"vector {vector!r} has several models at the same alpha: {sorted(dup['model'].unique())}. "
            "Fix: give each α-variant of a vector one model name in the grid."
        )
    return {str(m): float(a) for m, a in zip(pairs["model"], pairs["alpha"], strict=True)}
