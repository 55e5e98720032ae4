"""The regression gate behind `rv-eval check`: per-task non-inferiority of a candidate.

A task passes when the lower end of the 95% paired-bootstrap interval of candidate - baseline
is above -margin; a task with fewer than 2 shared questions cannot rule out a regression and
fails. The gate passes when every task passes; requiring all of them is an
intersection-union test, so no multiplicity correction is needed for the gate's error rate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import pandas as pd

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame
from rv_eval.stats.paired import paired_compare

log = logging.getLogger(__name__)

BASE, CAND = "\0baseline", "\0candidate"


@dataclass
class TaskVerdict:
    """One task's non-inferiority result (accuracies as fractions 0..1)."""

    task: str
    n_questions: int
    baseline_mean: float
    candidate_mean: float
    diff: float
    ci_low: float
    ci_high: float
    mde: float
    passed: bool


@dataclass
class CheckVerdict:
    """The gate's verdict: `passed` is True when every task is non-inferior within `margin`."""

    baseline: str
    candidate: str
    margin: float
    level: float
    passed: bool
    tasks: list[TaskVerdict]
    baseline_source: str | None = None
    candidate_source: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return asdict(self)

    def to_markdown(self) -> str:
        """A summary fit for a CI comment."""
        head = "PASS" if self.passed else "FAIL"
        b = _name(self.baseline, self.baseline_source)
        c = _name(self.candidate, self.candidate_source)
        lines = [
            f"### rv-eval check: {head}",
            "",
            f"Candidate {c} vs baseline {b}: non-inferiority margin {100 * self.margin:.1f} points, "
            f"{100 * self.level:.0f}% paired-bootstrap CI over questions.",
            "",
            "| task | questions | baseline | candidate | diff | CI | MDE | verdict |",
            "|---|---:|---:|---:|---:|---|---:|---|",
        ]
        for t in self.tasks:
            lines.append(
                f"| {t.task} | {t.n_questions} | {100 * t.baseline_mean:.1f} | {100 * t.candidate_mean:.1f} "
                f"| {100 * t.diff:+.1f} | [{100 * t.ci_low:+.1f}, {100 * t.ci_high:+.1f}] | {_points(t.mde)} "
                f"| {_verdict_cell(t)} |"
            )
        lines += [
            "",
            f"A task passes when the CI's lower end is above -{100 * self.margin:.1f} points; it fails when "
            "the data cannot rule out a larger drop (a regression, or too few questions to tell). "
            "MDE: the difference each task detects with 80% power (observed variance).",
        ]
        return "\n".join(lines) + "\n"


def check(
    df: pd.DataFrame,
    baseline: str,
    candidate: str,
    *,
    margin: float = 0.02,
    tasks: list[str] | None = None,
    baseline_df: pd.DataFrame | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> CheckVerdict:
    """Non-inferiority of `candidate` vs `baseline` on every test task of the baseline (or `tasks`).

    With `baseline_df` (e.g. the last release's results) the baseline's samples come from it and
    the candidate's from `df`; questions are paired by (task, doc_id) and must have the same
    content hash in both.
    """
    if not 0 <= margin < 1:
        raise UserError(
            f"margin {margin} is not a fraction of accuracy. Fix: e.g. --margin 0.02 for 2 points."
        )
    base = _rows(baseline_df if baseline_df is not None else df, baseline, BASE, "baseline")
    cand = _rows(df, candidate, CAND, "candidate")
    tasks = _gate_tasks(base, cand, tasks)
    both = pd.concat([base, cand], ignore_index=True)
    _same_questions(both)
    cmp = paired_compare(
        both, BASE, [CAND], correction="none", tasks=tasks, n_resamples=n_resamples, seed=seed, level=level
    )
    _same_coverage(both, cmp)
    verdicts = [_task_verdict(r, margin) for r in cmp.itertuples()]
    return CheckVerdict(baseline, candidate, margin, level, all(v.passed for v in verdicts), verdicts)


def _rows(df: pd.DataFrame, model: str, label: str, role: str) -> pd.DataFrame:
    df = check_samples_frame(df)
    rows = df[(df["model"] == model) & (df["split"] == "test")].copy()
    if rows.empty:
        models = sorted(df["model"].unique())
        raise UserError(f"{role} model {model!r} has no test samples. Fix: choose from {models}.")
    rows["model"] = label
    return rows


def _gate_tasks(base: pd.DataFrame, cand: pd.DataFrame, tasks: list[str] | None) -> list[str]:
    have_b, have_c = set(base["task"]), set(cand["task"])
    wanted = sorted(tasks) if tasks else sorted(have_b)
    for role, have in (("baseline", have_b), ("candidate", have_c)):
        missing = [t for t in wanted if t not in have]
        if missing:
            raise UserError(
                f"the {role} has no test samples for tasks {missing}. "
                "Fix: evaluate them, or restrict the gate with --tasks."
            )
    return wanted


def _same_questions(both: pd.DataFrame) -> None:
    hashes = both.groupby(["task", "doc_id"], observed=True)["doc_hash"].nunique()
    changed = hashes[hashes > 1]
    if not changed.empty:
        task, doc = changed.index[0]
        raise UserError(
            f"{len(changed)} questions differ between baseline and candidate (e.g. {task}/{doc}: doc_hash "
            "differs). Fix: evaluate both on the same benchmark data."
        )


def _same_coverage(both: pd.DataFrame, cmp: pd.DataFrame) -> None:
    """Refuse to gate on a subset: both sides must have answered the same questions."""
    n = both.groupby(["task", "model"], observed=True)["doc_id"].nunique().unstack()
    for r in cmp.itertuples():
        nb, nc = int(n.loc[r.task, BASE]), int(n.loc[r.task, CAND])
        if not nb == nc == r.n_questions:
            raise UserError(
                f"task {r.task}: baseline answered {nb} questions, candidate {nc}, both {r.n_questions}. "
                "Fix: finish both runs on the same questions (same --limit), or leave the task out with --tasks."
            )


def _task_verdict(r: object, margin: float) -> TaskVerdict:
    """The task's verdict; fewer than 2 shared questions cannot rule out a regression, so it fails."""
    enough = r.n_questions >= 2
    if not enough:
        log.warning("task %s has %d shared question(s): too few to rule out a regression, so it fails the gate",
                    r.task, r.n_questions)
    return TaskVerdict(
        task=r.task,
        n_questions=int(r.n_questions),
        baseline_mean=float(r.baseline_mean),
        candidate_mean=float(r.candidate_mean),
        diff=float(r.diff),
        ci_low=float(r.ci_low),
        ci_high=float(r.ci_high),
        mde=float(r.mde),
        passed=bool(enough and r.ci_low > -margin),
    )


def _verdict_cell(t: TaskVerdict) -> str:
    """'pass', '**fail**', or '**fail** (too few questions)' when fewer than 2 are shared."""
    if t.passed:
        return "pass"
    return "**fail** (too few questions)" if t.n_questions < 2 else "**fail**"


def _points(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}"


def _name(model: str, source: str | None) -> str:
    return f"`{model}`" + (f" ({source})" if source else "")
