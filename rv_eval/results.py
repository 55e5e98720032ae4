"""Per model × task summaries of a results folder, as a table, deterministic JSON or CSV."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from rv_eval.errors import UserError
from rv_eval.store import Store, load_run_meta, load_samples

COLUMNS = ["model", "task", "accuracy", "n_correct", "n_samples", "n_questions", "n_seeds",
           "prompt_tokens", "gen_tokens", "gen_tok_per_s"]
#: columns that differ between identical runs (wall-clock speed): shown in the table only
_TIMING = ["gen_tok_per_s"]
FORMATS = ("table", "json", "csv")


def results_table(out: str | Path) -> pd.DataFrame:
    """Per model × task: mean accuracy over all samples and counts, in grid order."""
    df = load_samples(out)
    meta = load_run_meta(out)
    if df.empty:
        return pd.DataFrame({c: [] for c in COLUMNS})
    model_order = {m["name"]: i for i, m in enumerate(meta.models)}
    task_order = {t: i for i, t in enumerate(meta.extra.get("tasks", []))}
    table = (df.groupby(["model", "task"], sort=False)
             .agg(accuracy=("correct", "mean"), n_correct=("correct", "sum"), n_samples=("correct", "size"),
                  n_questions=("doc_id", "nunique"), n_seeds=("seed", "nunique"),
                  prompt_tokens=("n_prompt_tokens", "sum"), gen_tokens=("n_gen_tokens", "sum"),
                  _gen_s=("gen_seconds", "sum"))
             .reset_index())
    table["gen_tok_per_s"] = (table["gen_tokens"] / table["_gen_s"].where(table["_gen_s"] > 0)).round(1)
    table["model"] = table["model"].astype(str)
    table["task"] = table["task"].astype(str)
    table["_m"] = [model_order.get(m, len(model_order)) for m in table["model"]]
    table["_t"] = [task_order.get(t, len(task_order)) for t in table["task"]]
    table = table.sort_values(["_m", "model", "_t", "task"]).drop(columns=["_m", "_t"]).reset_index(drop=True)
    table["accuracy"] = table["accuracy"].astype(float).round(6)
    for c in COLUMNS[3:-1]:
        table[c] = table[c].astype(int)
    return table[COLUMNS]


def progress_counts(out: str | Path) -> dict[str, int]:
    """How many cells of the current grid are finished, not run yet, or stored under another configuration."""
    done, pending, stale = Store(out).current_keys()
    return {"cells_done": len(done), "cells_pending": len(pending), "cells_stale": len(stale)}


def format_results(out: str | Path, fmt: str = "table") -> str:
    """The results of `out` rendered as `fmt` (table, json or csv). JSON has no timestamps or paths."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}. Fix: use one of {list(FORMATS)}.")
    table = results_table(out)
    if fmt != "table":
        table = table.drop(columns=_TIMING)
    if fmt == "csv":
        buf = io.StringIO()
        table.to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()
    if fmt == "json":
        meta = load_run_meta(out)
        doc = {"grid": meta.grid, "baseline": meta.baseline, **progress_counts(out),
               "results": table.to_dict(orient="records")}
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if table.empty:
        return "(no finished cells yet)\n"
    shown = table.assign(accuracy=table["accuracy"].map(lambda x: f"{x:.3f}"))
    return shown.to_string(index=False) + "\n"
