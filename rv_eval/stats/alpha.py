"""Choosing α on held-out data: dev pools where they exist, cross-fitting over folds otherwise.

A task with a dev pool (rows with split "dev" whose `serves` names the test task) chooses α on
the dev pool, and its test score at that α is honest. A task without one chooses α on the test
folds: for each fold f, α_f is chosen on the other folds and scores fold f's questions; the
resulting per-question scores estimate "tune α, then evaluate" honestly. Shown next to the
naive best-on-test score, the gap is the optimism of picking α on the test set.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame
from rv_eval.stats.intervals import proportion_ci
from rv_eval.stats.macro import macro_interval
from rv_eval.stats.questions import model_alphas, question_table
from rv_eval.stats.selection_bootstrap import TaskArrays, honest_replicates, percentile_interval

log = logging.getLogger(__name__)

TIE_TOL = 1e-12


@dataclass
class Score:
    """A score (accuracy, 0..1) with its question-clustered se and 95% interval."""

    mean: float
    se: float
    ci_low: float
    ci_high: float


@dataclass
class AlphaChoice:
    """α chosen for one task (scope = task name) or for a task set (scope = "macro").

    method: "dev" (all tasks have a dev pool), "cross-fit" (none has), "dev+cross-fit" (mixed),
    or "test-only" (no dev pool and no folds: only the naive best-on-test exists).
    alpha: the α to use (chosen on dev pools and, for tasks without one, on all test folds).
    test: the chosen α's test score (optimistic when the α was chosen on these test questions,
    i.e. for cross-fit tasks); honest: the held-out estimate of tune-then-evaluate (equal to
    `test` for dev-pool tasks, the cross-fitted score otherwise, whose se and interval come from
    a bootstrap over the whole selection); naive: the best α on the test set and its score
    (optimistic); optimism = naive.mean - honest.mean.
    """

    scope: str
    tasks: list[str]
    method: str
    alpha: float
    test: Score
    honest: Score
    naive_alpha: float
    naive: Score
    optimism: float
    n_questions: int
    fold_alphas: dict[int, float] = field(default_factory=dict)
    selection_scores: dict[float, float] = field(default_factory=dict)
    test_scores: dict[float, float] = field(default_factory=dict)
    task_test: dict[str, Score] = field(default_factory=dict)
    task_honest: dict[str, Score] = field(default_factory=dict)


@dataclass
class AlphaSelection:
    """Result of `select_alpha`: one `AlphaChoice` per task, or a single macro one."""

    vector: str
    macro: bool
    choices: list[AlphaChoice]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict (α keys become strings)."""
        d = asdict(self)
        for c in d["choices"]:
            for key in ("fold_alphas", "selection_scores", "test_scores"):
                c[key] = {format(k, "g") if isinstance(k, float) else str(k): v for k, v in c[key].items()}
        return d

    def to_frame(self) -> pd.DataFrame:
        """One row per choice (task, or "macro"): α, method, test / honest / naive scores, optimism."""
        rows = []
        for c in self.choices:
            row: dict[str, object] = {"scope": c.scope, "method": c.method, "alpha": c.alpha}
            for name in ("test", "honest", "naive"):
                row.update(_score_cols(name, getattr(c, name)))
            row.update({"naive_alpha": c.naive_alpha, "optimism": c.optimism, "n_questions": c.n_questions})
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def per_task(self) -> pd.DataFrame:
        """One row per test task: scope, method, the α it gets, its test and honest scores at that α."""
        rows = []
        for c in self.choices:
            for task in c.tasks:
                row: dict[str, object] = {
                    "task": task,
                    "scope": c.scope,
                    "method": c.method,
                    "alpha": c.alpha,
                }
                row.update(_score_cols("test", c.task_test[task]))
                row.update(_score_cols("honest", c.task_honest[task]))
                rows.append(row)
        return pd.DataFrame(rows)


def _score_cols(name: str, s: Score) -> dict[str, float]:
    return {f"{name}_mean": s.mean, f"{name}_ci_low": s.ci_low, f"{name}_ci_high": s.ci_high}


_NAN = Score(math.nan, math.nan, math.nan, math.nan)


@dataclass
class _TaskData:
    """Per-question accuracies of one test task: test[doc, α], fold[doc], dev[doc, α] or None."""

    test: pd.DataFrame
    fold: pd.Series
    dev: pd.DataFrame | None


def select_alpha(
    df: pd.DataFrame, vector: str, tasks: list[str] | None = None, macro: bool = False
) -> AlphaSelection:
    """Choose α for `vector` per test task (or one α for the macro-average over `tasks`).

    Ties go to the smaller |α| (then the smaller α). Every α of the grid must be evaluated on the
    same questions; questions missing for some α are dropped.
    """
    df = check_samples_frame(df)
    alphas = model_alphas(df, vector)
    if not alphas:
        vectors = sorted(df["vector"].dropna().unique())
        raise UserError(f"no α-variants of vector {vector!r} in the results. Fix: choose from {vectors}.")
    rows = df[df["model"].isin(alphas)].copy()
    rows["alpha"] = rows["model"].map(alphas)
    data = _task_data(rows, _test_tasks(rows, tasks))
    if macro:
        return AlphaSelection(vector, True, [_choose("macro", data)])
    return AlphaSelection(vector, False, [_choose(t, {t: d}) for t, d in data.items()])


def _test_tasks(rows: pd.DataFrame, tasks: list[str] | None) -> list[str]:
    available = sorted(rows.loc[rows["split"] == "test", "task"].unique())
    if tasks is None:
        return available
    missing = sorted(set(tasks) - set(available))
    if missing:
        raise UserError(f"no test samples of this vector for tasks {missing}. Fix: choose from {available}.")
    return sorted(tasks)


def _task_data(rows: pd.DataFrame, tasks: list[str]) -> dict[str, _TaskData]:
    q = question_table(rows)
    q["alpha"] = q["model"].map(rows.drop_duplicates("model").set_index("model")["alpha"])
    split = rows.drop_duplicates("task").set_index("task")[["split", "serves"]]
    q = q.join(split, on="task")
    out = {}
    for t in tasks:
        test = q[q["task"] == t]
        dev = q[(q["split"] == "dev") & (q["serves"] == t)]
        wide_dev = (
            _wide(dev.assign(doc_id=dev["task"] + "/" + dev["doc_id"]), f"dev pool of {t}")
            if len(dev)
            else None
        )
        out[t] = _TaskData(_wide(test, t), test.groupby("doc_id")["fold"].first(), wide_dev)
    return out


def _wide(q: pd.DataFrame, what: str) -> pd.DataFrame:
    """Per-question accuracy, one column per α on the task's full question set.

    An α evaluated on fewer questions than the others (an unfinished or limited cell) does not
    compete (logged); questions any remaining α lacks are left out.
    """
    wide = q.pivot_table(index="doc_id", columns="alpha", values="mean", aggfunc="mean")
    counts = wide.notna().sum()
    partial = counts[counts < counts.max()]
    if len(partial):
        log.warning(
            "%s: α %s cover fewer questions than the others; not considered",
            what,
            [format(a, "g") for a in partial.index],
        )
    return wide.loc[:, counts == counts.max()].dropna()


def _grid(data: dict[str, _TaskData]) -> list[float]:
    sets = [set(d.test.columns) for d in data.values()]
    sets += [set(d.dev.columns) for d in data.values() if d.dev is not None]
    grid = sorted(set.intersection(*sets))
    dropped = sorted(set.union(*sets) - set(grid))
    if dropped:
        log.warning("%s: α %s not evaluated on every task / dev pool; not considered", sorted(data), dropped)
    if not grid:
        raise UserError(f"tasks {sorted(data)} share no α. Fix: evaluate the same α grid on every task.")
    return grid


def _argmax(scores: pd.Series) -> float:
    best = scores.max()
    ties = [float(a) for a, s in scores.items() if s >= best - TIE_TOL]
    return min(ties, key=lambda a: (abs(a), a))


def _criterion(data: dict[str, _TaskData], grid: list[float], held_out: int | None) -> pd.Series:
    """Macro-average over tasks of the selection score: dev pool, else test minus fold `held_out`."""
    parts = []
    for d in data.values():
        if d.dev is not None:
            parts.append(d.dev[grid].mean(axis=0))
        else:
            keep = d.fold.reindex(d.test.index) != held_out
            parts.append(d.test.loc[keep, grid].mean(axis=0))
    return pd.concat(parts, axis=1).mean(axis=1)


def _choose(scope: str, data: dict[str, _TaskData]) -> AlphaChoice:
    grid = _grid(data)
    crossfit = [d for d in data.values() if d.dev is None]
    folds = sorted({int(f) for d in crossfit for f in d.fold if f >= 0})
    feasible = all((d.fold >= 0).any() for d in crossfit)
    chosen = _argmax(_criterion(data, grid, None))
    fold_alphas = {f: _argmax(_criterion(data, grid, f)) for f in folds} if feasible else {}
    naive_curve = pd.concat([d.test[grid].mean(axis=0) for d in data.values()], axis=1).mean(axis=1)
    naive_alpha = _argmax(naive_curve)
    test = _macro_score([d.test[chosen].to_numpy() for d in data.values()])
    naive = _macro_score([d.test[naive_alpha].to_numpy() for d in data.values()])
    if feasible:
        honest_q = {t: _honest_scores(d, chosen, fold_alphas) for t, d in data.items()}
        honest = _macro_score(list(honest_q.values()))
        task_honest = {t: _macro_score([h]) for t, h in honest_q.items()}
        if crossfit:  # the choice is made on these questions: the interval must include it
            honest, task_honest = _bootstrap_honest(data, grid, folds, honest, task_honest)
    else:
        honest, task_honest = _NAN, dict.fromkeys(data, _NAN)
    return AlphaChoice(
        scope=scope,
        tasks=sorted(data),
        method=_method(data, feasible),
        alpha=chosen,
        test=test,
        honest=honest,
        naive_alpha=naive_alpha,
        naive=naive,
        optimism=naive.mean - honest.mean,
        n_questions=sum(len(d.test) for d in data.values()),
        fold_alphas=fold_alphas,
        selection_scores=_floats(_criterion(data, grid, None)),
        test_scores=_floats(naive_curve),
        task_test={t: _macro_score([d.test[chosen].to_numpy()]) for t, d in data.items()},
        task_honest=task_honest,
    )


BOOTSTRAP_REPS = 1000


def _bootstrap_honest(
    data: dict[str, _TaskData], grid: list[float], folds: list[int], honest: Score, task_honest: dict[str, Score]
) -> tuple[Score, dict[str, Score]]:
    """Honest scores with se and interval from a bootstrap over the whole selection (see selection_bootstrap)."""
    arrays = [
        TaskArrays(
            d.test[grid].to_numpy(float),
            d.fold.reindex(d.test.index).to_numpy(int),
            None if d.dev is None else d.dev[grid].to_numpy(float),
        )
        for d in data.values()
    ]
    reps = honest_replicates(arrays, grid, folds, reps=BOOTSTRAP_REPS, seed=0)

    def score(point: Score, boot: np.ndarray) -> Score:
        lo, hi = percentile_interval(boot)
        return Score(point.mean, float(np.std(boot, ddof=1)), min(lo, point.mean), max(hi, point.mean))

    per_task = {t: score(task_honest[t], reps[:, i]) for i, t in enumerate(data)}
    return score(honest, reps.mean(axis=1)), per_task


def _honest_scores(d: _TaskData, chosen: float, fold_alphas: dict[int, float]) -> np.ndarray:
    if d.dev is not None:
        return d.test[chosen].to_numpy()
    alpha_of_q = d.fold.reindex(d.test.index).map(fold_alphas)
    keep = alpha_of_q.notna().to_numpy()
    cols = d.test.columns.get_indexer(alpha_of_q[keep].to_numpy())
    return d.test.to_numpy()[keep][np.arange(keep.sum()), cols]


def _macro_score(per_task: list[np.ndarray]) -> Score:
    """Mean over tasks of each task's mean, with the macro interval (`macro_interval`: a bootstrap
    over questions within tasks, equal weights); one task gets its own `proportion_ci`."""
    if len(per_task) == 1:
        mean, se, lo, hi = proportion_ci(per_task[0])
        return Score(float(mean), float(se), float(lo), float(hi))
    mean, se, lo, hi = macro_interval([np.asarray(v, float) for v in per_task], n_resamples=1000)
    return Score(mean, se, lo, hi)


def _method(data: dict[str, _TaskData], feasible: bool) -> str:
    has_dev = [d.dev is not None for d in data.values()]
    if not feasible:
        return "test-only"
    return "dev" if all(has_dev) else "cross-fit" if not any(has_dev) else "dev+cross-fit"


def _floats(s: pd.Series) -> dict[float, float]:
    return {float(k): float(v) for k, v in s.items()}
