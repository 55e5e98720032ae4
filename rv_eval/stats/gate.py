"""The regression gate behind `rv-eval check`: per-task non-inferiority with three answers.

Per task, the 95% interval of candidate - baseline over questions (the inversion of the paired
test, see `paired_compare`) gives one of three answers:

- pass: its lower end is above -margin (non-inferiority shown, one-sided 2.5%);
- regression: its upper end is below -margin (significantly worse than baseline - margin);
- inconclusive: neither (the data cannot tell); also any task with fewer than 2 questions.

The gate is "regression" when any task is, "pass" when every task passes (an intersection-union
test, so no multiplicity correction is needed), else "inconclusive". Without a margin each task
uses the margin its design supports (`gate_margin`: an equal candidate passes and a drop of
twice the margin is a regression, each with 80% power, at its number of questions, responses
per question and the baseline's accuracy); an inconclusive task says the smallest margin its data can establish and
how many more seeds would decide it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from rv_eval.errors import UserError
from rv_eval.schema import check_samples_frame
from rv_eval.stats.paired import paired_compare
from rv_eval.stats.power import DesignAssumptions, gate_margin
from rv_eval.stats.questions import question_table

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
    verdict: str = "inconclusive"  # "pass", "regression" or "inconclusive"
    margin: float = math.nan  # the margin this task was judged with (fraction)
    n_seeds: int = 0
    smallest_margin: float = math.nan  # the smallest margin these data establish (-ci_low, >= 0)
    more_seeds: int | None = None  # extra seeds expected to decide an inconclusive task (None: seeds cannot)

    def decide_hint(self) -> str:
        """What would decide an inconclusive task, in one sentence."""
        head = (
            f"with {self.n_questions} questions and {self.n_seeds} seed{'s' if self.n_seeds != 1 else ''} "
            "the smallest margin this data can "
            f"establish is {100 * self.smallest_margin:.1f} points"
        )
        if self.more_seeds is None:
            return head + "; more seeds alone will not decide it (more questions, or a larger margin)"
        return head + f"; or run {self.more_seeds} more seed{'s' if self.more_seeds != 1 else ''}"


@dataclass
class CheckVerdict:
    """The gate's verdict: "pass" (every task non-inferior), "regression" (a task is), or "inconclusive".

    `margin` is the margin asked for (None: each task used its design MDE, see `TaskVerdict.margin`);
    `passed` is True exactly when the verdict is "pass".
    """

    baseline: str
    candidate: str
    margin: float | None
    level: float
    passed: bool
    tasks: list[TaskVerdict]
    baseline_source: str | None = None
    candidate_source: str | None = None
    verdict: str = "inconclusive"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return asdict(self)

    def to_markdown(self) -> str:
        """A summary fit for a CI comment."""
        head = self.verdict.upper()
        b = _name(self.baseline, self.baseline_source)
        c = _name(self.candidate, self.candidate_source)
        lines = [
            f"### rv-eval check: {head}",
            "",
            f"Candidate {c} vs baseline {b}: non-inferiority margin {_margin_text(self.margin)}, "
            f"{100 * self.level:.0f}% paired CI over questions (inverts the paired test).",
            "",
            "| task | questions | seeds | baseline | candidate | diff | CI | margin | MDE | verdict |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
        ]
        for t in self.tasks:
            lines.append(
                f"| {t.task} | {t.n_questions} | {t.n_seeds} | {100 * t.baseline_mean:.1f} "
                f"| {100 * t.candidate_mean:.1f} | {100 * t.diff:+.1f} "
                f"| [{_signed(t.ci_low)}, {_signed(t.ci_high)}] | {_points(t.margin)} | {_points(t.mde)} "
                f"| {_verdict_cell(t)} |"
            )
        lines += [
            "",
            "pass: the CI's lower end is above -margin; regression: its upper end is below -margin; "
            "inconclusive: neither. MDE: the difference each task's test detects with 80% power "
            "(observed variance).",
        ]
        lines += [f"- {t.task}: {t.decide_hint()}." for t in self.tasks if t.verdict == "inconclusive"]
        return "\n".join(lines) + "\n"


def check(
    df: pd.DataFrame,
    baseline: str,
    candidate: str,
    *,
    margin: float | None = None,
    tasks: list[str] | None = None,
    baseline_df: pd.DataFrame | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> CheckVerdict:
    """Non-inferiority of `candidate` vs `baseline` on every test task of the baseline (or `tasks`).

    With `baseline_df` (e.g. the last release's results) the baseline's samples come from it and
    the candidate's from `df`; questions are paired by (task, doc_id) and must have the same
    content hash in both. `margin=None` judges each task at `gate_margin` (80% power both ways at
    its questions, responses per question and the baseline's accuracy, with the default
    `DesignAssumptions` icc and r).
    """
    if margin is not None and not 0 <= margin < 1:
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
    q = question_table(both)
    verdicts = [_task_verdict(r, margin, q[q["task"] == r.task]) for r in cmp.itertuples()]
    answers = {v.verdict for v in verdicts}
    overall = "regression" if "regression" in answers else "pass" if answers == {"pass"} else "inconclusive"
    return CheckVerdict(
        baseline, candidate, margin, level, overall == "pass", verdicts, verdict=overall
    )


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


def _task_verdict(r: object, margin: float | None, q: pd.DataFrame) -> TaskVerdict:
    """The task's answer; fewer than 2 shared questions can decide nothing, so it is inconclusive."""
    n = int(r.n_questions)
    m = int(q.loc[q["model"] == BASE, "n"].min()) if n else 0
    if margin is None:
        p = float(np.clip(r.baseline_mean, 0.05, 0.95))
        margin = gate_margin(n, max(m, 1), DesignAssumptions(p=p)) if n >= 2 else math.nan
    lo, hi = float(r.ci_low), float(r.ci_high)
    if n < 2 or not math.isfinite(margin):
        log.warning("task %s has %d shared question(s): too few to decide", r.task, n)
        verdict = "inconclusive"
    else:
        verdict = "pass" if lo > -margin else "regression" if hi < -margin else "inconclusive"
    t = TaskVerdict(
        task=r.task,
        n_questions=n,
        baseline_mean=float(r.baseline_mean),
        candidate_mean=float(r.candidate_mean),
        diff=float(r.diff),
        ci_low=lo,
        ci_high=hi,
        mde=float(r.mde),
        passed=verdict == "pass",
        verdict=verdict,
        margin=float(margin),
        n_seeds=int(r.n_seeds),
        smallest_margin=max(0.0, -lo) if math.isfinite(lo) else math.nan,
    )
    if verdict == "inconclusive" and n >= 2 and math.isfinite(margin):
        t.more_seeds = _more_seeds(q, float(r.diff), lo, margin, t.n_seeds)
    return t


def _more_seeds(q: pd.DataFrame, diff: float, lo: float, margin: float, n_seeds: int) -> int | None:
    """Extra seeds after which the lower end is expected above -margin (None when seeds cannot do it).

    The variance of per-question differences splits into a between-question part (fixed) and
    the within-question noise of the responses (shrinks as 1 / responses); the interval's width
    scales with its square root.
    """
    w = q.pivot_table(index="doc_id", columns="model", values=["mean", "n"], aggfunc="first").dropna()
    if len(w) < 2 or diff + margin <= 0 or n_seeds < 1:
        return None
    d = (w["mean", CAND] - w["mean", BASE]).to_numpy()
    var = float(np.var(d, ddof=1))
    within = 0.0
    for side in (BASE, CAND):
        mean, k = w["mean", side].to_numpy(), w["n", side].to_numpy()
        if (k > 1).all():
            within += float(np.mean(mean * (1 - mean) / (k - 1)))  # unbiased per-question noise
        else:  # one response: noise cannot be told from difficulty; take the design's half (icc 0.5)
            within += 0.5 * float(mean.mean() * (1 - mean.mean()))
    half = diff - lo
    if var <= 0 or half <= 0:
        return None
    between = max(var - within, 0.0)
    target = var * ((diff + margin) / half) ** 2  # variance at which the lower end reaches -margin
    if target <= between or within <= 0:
        return None
    factor = within / (target - between)
    return max(1, math.ceil(n_seeds * factor) - n_seeds)


def _verdict_cell(t: TaskVerdict) -> str:
    """'pass', '**regression**', 'inconclusive', or 'inconclusive (too few questions)'."""
    if t.verdict == "regression":
        return "**regression**"
    if t.verdict == "inconclusive" and t.n_questions < 2:
        return "inconclusive (too few questions)"
    return t.verdict


def _margin_text(margin: float | None) -> str:
    if margin is None:
        return "each task's design margin (80% power to pass an equal and to flag a 2x-margin drop)"
    return f"{100 * margin:.1f} points"


def _signed(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:+.1f}"


def _points(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}"


def _name(model: str, source: str | None) -> str:
    return f"`{model}`" + (f" ({source})" if source else "")
