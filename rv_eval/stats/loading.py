"""Reading a results folder for the statistics commands."""

from __future__ import annotations

import os

import pandas as pd

from rv_eval.errors import UserError


def load_results(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The samples table of a results folder (via `rv_eval.store.load_samples`); UserError if it holds none."""
    from rv_eval.store import load_samples, results_folder  # imported late to keep `stats` light

    path = results_folder(out_dir)  # UserError naming what the path is instead
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

