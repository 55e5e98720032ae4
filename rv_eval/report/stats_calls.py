"""The report's only contact with the statistics stage (`rv_eval.stats`).

Every number the page shows about accuracy, confidence intervals, significance and α choice comes
through the three functions here, which call `rv_eval.stats` and turn its answers into plain records.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rv_eval import stats
from rv_eval.errors import UserError

log = logging.getLogger(__name__)

Z95 = 1.959963984540054


@dataclass(frozen=True)
class AlphaChoice:
    """The α chosen on held-out data for one vector and test task, as the page shows it.

    test_*: the chosen α's test score; honest_*: the held-out estimate of tune-then-evaluate (the
    cross-fitted score for tasks without a dev pool, its interval from a bootstrap over the whole
    selection); naive_*: the best α on the test set itself (optimistic). `test_optimistic` marks
    a test_* score of an α chosen on those same test questions: show it as optimistic, or not.
    """

    vector: str
    task: str
    alpha: float | None
    method: str  # "dev", "cross-fit", "test-only", ...
    test_mean: float | None
    test_ci_low: float | None
    test_ci_high: float | None
    honest_mean: float | None
    honest_ci_low: float | None
    honest_ci_high: float | None
    naive_alpha: float | None
    naive_mean: float | None
    optimism: float | None
    test_optimistic: bool = False  # test_* scored on the questions α was chosen on (cross-fit tasks)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per model × task: mean, se, ci_low, ci_high, n_questions, n_seeds, n_samples, lang_fidelity, ..."""
    return stats.summarize(df)


def macro_averages(df: pd.DataFrame, groups: dict[str, list[str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, group name): the macro average over the group's test tasks, {m, lo, hi, k}.

    The interval comes from the per-question data (`rv_eval.stats.macro_average`: a bootstrap over
    questions within tasks, equal task weights); models lacking a task of a group get no entry.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name, tasks in groups.items():
        if not tasks:
            continue
        for r in stats.macro_average(df, tasks).itertuples(index=False):
            out[(str(r.model), name)] = {"m": _num(r.mean), "lo": _num(r.ci_low), "hi": _num(r.ci_high),
                                         "k": int(r.n_tasks)}
    return out


def paired_compare(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per candidate × test task vs `baseline`: diff, ci_low, ci_high, p_adjusted (Holm), significant, mde."""
    return stats.paired_compare(df, baseline, correction="holm")


def select_alpha(df: pd.DataFrame, vector: str) -> tuple[list[AlphaChoice], str | None]:
    """The α chosen on held-out data per test task of `vector`, or ([], why not) when none can be."""
    try:
        selection = stats.select_alpha(df, vector)
    except UserError as e:
        log.warning("report: no α chosen for vector %s: %s", vector, e)
        return [], str(e)
    return [_choice(vector, c) for c in selection.choices], None


def _choice(vector: str, c: Any) -> AlphaChoice:
    return AlphaChoice(
        vector=vector, task=str(c.scope), alpha=_num(c.alpha), method=str(c.method),
        test_mean=_num(c.test.mean), test_ci_low=_num(c.test.ci_low), test_ci_high=_num(c.test.ci_high),
        honest_mean=_num(c.honest.mean), honest_ci_low=_num(c.honest.ci_low), honest_ci_high=_num(c.honest.ci_high),
        naive_alpha=_num(c.naive_alpha), naive_mean=_num(c.naive.mean), optimism=_num(c.optimism),
        test_optimistic=str(c.method) != "dev",
    )


def _num(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return None if math.isnan(v) else v
