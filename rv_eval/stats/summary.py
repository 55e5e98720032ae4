"""Per model x task summaries: clustered CI, seed-to-seed sd, pass@k, maj@k, language fidelity."""

from __future__ import annotations

import pandas as pd

from rv_eval.grading import pass_at_k_array as pass_at_k  # public as rv_eval.stats.pass_at_k
from rv_eval.schema import check_samples_frame
from rv_eval.stats.intervals import proportion_ci
from rv_eval.stats.questions import CELL, QUESTION, question_table

#: Output columns (docs/interfaces.md); task attributes (vector, α, split, lang) stay in the samples table.
SUMMARY_COLUMNS = [
    "model",
    "task",
    "mean",
    "se",
    "ci_low",
    "ci_high",
    "n_questions",
    "n_seeds",
    "n_samples",
    "k",
    "seed_sd",
    "pass_at_k",
    "maj_at_k",
    "lang_fidelity",
]


def summarize(df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per model x task: mean accuracy with question-clustered se and CI, and companions.

    mean: average over questions of each question's accuracy over all its seeds and samples.
    se: question-clustered; ci_low / ci_high: Jeffreys interval at the effective sample size
    (see `proportion_ci`).
    seed_sd: sd across seeds of the per-seed accuracy (NaN with one seed), reported separately.
    k: responses per question (seeds x samples, the smallest over questions); pass_at_k and
    maj_at_k (majority vote over normalized answers, else extracted ones; ties count as the expected share correct).
    lang_fidelity: share of responses written in the task's language.
    """
    df = check_samples_frame(df)
    q = question_table(df)
    rows = [_cell_row(cell_q, level) for _, cell_q in q.groupby(CELL, sort=True)]
    out = pd.DataFrame(rows).set_index(CELL)
    out = out.join(_seed_sd(df)).join(_maj_at_k(df, q)).join(_lang_fidelity(df))
    out = out.join(df.groupby(CELL, observed=True).size().rename("n_samples"))
    return out.reset_index()[SUMMARY_COLUMNS]


def _cell_row(cq: pd.DataFrame, level: float) -> dict[str, object]:
    mean, se, lo, hi = proportion_ci(cq["mean"].to_numpy(), level)
    k = int(cq["n"].min())
    return {
        "model": cq["model"].iat[0],
        "task": cq["task"].iat[0],
        "mean": float(mean),
        "se": float(se),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n_questions": len(cq),
        "n_seeds": int(cq["n_seeds"].max()),
        "k": k,
        "pass_at_k": float(pass_at_k(cq["n"].to_numpy(), cq["c"].to_numpy(), k).mean()),
    }


def _seed_sd(df: pd.DataFrame) -> pd.Series:
    per_q = df.groupby([*CELL, "seed", "doc_id"], observed=True)["correct"].mean()
    per_seed = per_q.groupby(level=[0, 1, 2], observed=True).mean()
    return per_seed.groupby(level=[0, 1], observed=True).std(ddof=1).rename("seed_sd")


def _maj_at_k(df: pd.DataFrame, q: pd.DataFrame) -> pd.Series:
    from rv_eval.grading.passk import vote_series

    df = df.assign(_vote=vote_series(df))
    voted = df[df["_vote"].notna()]
    votes = voted.groupby([*QUESTION, "_vote"], observed=True)["correct"].agg(["size", "mean"])
    top = votes["size"].groupby(level=[0, 1, 2], observed=True).transform("max")
    winners = votes[votes["size"] == top]["mean"].groupby(level=[0, 1, 2], observed=True).mean()
    per_q = q.set_index(QUESTION).join(winners.rename("maj"))["maj"].fillna(0.0)
    maj = per_q.groupby(level=[0, 1], observed=True).mean().rename("maj_at_k")
    has_votes = voted.groupby(CELL, observed=True).size()
    return maj.where(maj.index.isin(has_votes.index))


def _lang_fidelity(df: pd.DataFrame) -> pd.Series:
    same = (df["response_lang"] == df["lang"]).astype(float)
    return same.groupby([df["model"], df["task"]], observed=True).mean().rename("lang_fidelity")
