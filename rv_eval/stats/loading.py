"""Reading a results folder for the statistics commands."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from rv_eval.errors import UserError


def load_results(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The samples table of a results folder (via `rv_eval.store.load_samples`); UserError if it holds none."""
    path = Path(out_dir)
    if not path.is_dir():
        raise UserError(f"results folder {path} does not exist. Fix: pass the OUT folder of `rv-eval run`.")
    from rv_eval.store import load_samples  # the runner's store; imported late to keep `stats` light

    df = load_samples(path)  # exactly SAMPLE_COLUMNS (checked by the store)
    if df.empty:
        raise UserError(f"results folder {path} holds no samples. Fix: run `rv-eval run` into it first.")
    return df


def filter_tasks(df: pd.DataFrame, tasks: list[str] | None) -> pd.DataFrame:
    """Keep only `tasks` (all if None); raise UserError naming tasks the table does not hold."""
    if not tasks:
        return df
    available = sorted(df["task"].unique())
    missing = sorted(set(tasks) - set(available))
    if missing:
        raise UserError(f"no samples for tasks {missing}. Fix: choose from {available}.")
    return df[df["task"].isin(tasks)]

