"""Pooling several test tasks into one (e.g. the 27 BBH subtasks into BBH overall)."""

from __future__ import annotations

import fnmatch

import pandas as pd

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame


def pool_tasks(df: pd.DataFrame, name: str, tasks: str | list[str]) -> pd.DataFrame:
    """`df` plus the rows of `tasks` once more as the single test task `name`.

    `tasks` is a list of task names or one shell pattern ("bbh_en_*"). The pooled task's
    questions are all the listed tasks' questions (doc_id becomes "<task>/<doc_id>"), so its
    accuracy weights every question equally and its CI stays question-clustered.
    """
    df = check_samples_frame(df)
    names = sorted(fnmatch.filter(df["task"].unique(), tasks)) if isinstance(tasks, str) else sorted(tasks)
    rows = df[df["task"].isin(names)]
    if rows.empty:
        raise UserError(
            f"pool {name!r}: no samples for tasks {tasks!r}. Fix: check the names or the pattern."
        )
    if name in set(df["task"]):
        raise UserError(f"pool name {name!r} is already a task in the results. Fix: choose another name.")
    if (rows["split"] != "test").any():
        dev = sorted(rows.loc[rows["split"] != "test", "task"].unique())
        raise UserError(f"pool {name!r} would mix in dev tasks {dev}. Fix: pool test tasks only.")
    langs = sorted(rows["lang"].unique())
    if len(langs) > 1:
        raise UserError(f"pool {name!r} mixes languages {langs}. Fix: pool one language at a time.")
    pooled = rows.assign(task=name, serves=name, doc_id=rows["task"] + "/" + rows["doc_id"]).astype(
        df.dtypes.to_dict()
    )
    return pd.concat([df, pooled], ignore_index=True)


def apply_pools(df: pd.DataFrame, pools: list[tuple[str, str]] | None) -> pd.DataFrame:
    """`pool_tasks` for each (name, pattern) in `pools`."""
    for name, pattern in pools or []:
        df = pool_tasks(df, name, pattern)
    return df
