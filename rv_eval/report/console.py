"""The table printed at the end of `rv-eval run` and `rv-eval demo`: what the report leads with.

Accuracy with its 95% CI as an interval and language fidelity, one row per model × task, models
in grid order and tasks in the report's order (test tasks first, then per benchmark JA before EN).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rv_eval.report import assemble, stats_calls


def order_like_report(table: pd.DataFrame, samples: pd.DataFrame, models: list[str] | None = None) -> pd.DataFrame:
    """`table` (with `model` and `task` columns) sorted as the report lists them: models in `models`
    order (else first appearance), tasks by `assemble.task_table` (test tasks first)."""
    tasks = list(assemble.task_table(samples)["task"])
    model_order = models or list(dict.fromkeys(table["model"].astype(str)))
    rank_t = {t: i for i, t in enumerate(tasks)}
    rank_m = {m: i for i, m in enumerate(model_order)}
    keys = pd.DataFrame({"m": [rank_m.get(str(m), len(rank_m)) for m in table["model"]],
                         "t": [rank_t.get(str(t), len(rank_t)) for t in table["task"]]}, index=table.index)
    return table.loc[keys.sort_values(["m", "t"], kind="stable").index].reset_index(drop=True)


def _pct(x: float | None) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * float(x):.1f}"


def end_of_run_table(out: str | Path) -> str:
    """The end-of-run table of the results folder `out` (plain text, one line per model × task)."""
    from rv_eval.store import load_run_meta, load_samples

    df = load_samples(out)
    if df.empty:
        return "(no finished cells yet)\n"
    meta = load_run_meta(out)
    summary = order_like_report(stats_calls.summarize(df), df, [m["name"] for m in meta.models])
    split = dict(zip(df["task"].astype(str), df["split"].astype(str), strict=False))
    rows = [["model", "task", "split", "accuracy % [95% CI]", "lang. fidelity %", "questions", "samples"]]
    for r in summary.itertuples(index=False):
        rows.append([str(r.model), str(r.task), split.get(str(r.task), ""),
                     f"{_pct(r.mean)} [{_pct(r.ci_low)}, {_pct(r.ci_high)}]", _pct(r.lang_fidelity),
                     str(int(r.n_questions)), str(int(r.n_samples))])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"
