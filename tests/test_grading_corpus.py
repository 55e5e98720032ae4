"""Agreement of rv-eval's graders with the labeled corpus, against three baselines.

Baselines: the papers' substring check, lm-eval's gsm8k/mgsm flexible-extract regex (with its
exact_match settings) and plain math-verify. Goal (issues 3, 10): >= 99% agreement on math in each
language, above every baseline. The table is printed (pytest -s) and asserted.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter

import pytest
from grading_corpus_load import load

from rv_eval.grading import (
    GradeItem,
    PoolConfig,
    SandboxLimits,
    grade_bbh,
    grade_choice,
    grade_many,
    grade_math,
)
from rv_eval.grading.baselines import flexible_extract_correct, math_verify_correct, substring_correct

MATH_GOAL = 0.99


@pytest.fixture(scope="module")
def math_items():
    return load("math_en", "math", "en") + load("math_ja", "math", "ja") + load("math_holdout", "math") + load("math_holdout2", "math") + load("math_v2", "math")


def _grade(it):
    return grade_math(it.response, it.gold, it.lang, stop_reason=it.extra.get("stop_reason"))


def _agreement(items, judge) -> float:
    return sum(judge(it) == it.correct for it in items) / len(items)


def test_corpus_size_and_coverage(math_items):
    everything = math_items + load("choice", "choice") + load("bbh", "bbh") + load("code", "code")
    assert len(everything) >= 300
    kinds = Counter((it.kind, it.lang) for it in everything)
    for kind in ("math", "choice", "bbh", "code"):
        assert kinds[(kind, "en")] >= 10 and kinds[(kind, "ja")] >= 10, kinds
    assert all(it.trap for it in everything)
    for kind in ("math", "choice", "bbh", "code"):  # both verdicts present, so no grader passes by always saying one
        assert {it.correct for it in everything if it.kind == kind} == {True, False}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_math_agreement_beats_every_baseline(math_items, lang):
    items = [it for it in math_items if it.lang == lang]
    scores = {
        "rv_eval.grade_math": _agreement(items, lambda it: _grade(it).correct),
        "substring": _agreement(items, lambda it: substring_correct(it.response, it.gold)),
        "lm-eval flexible-extract": _agreement(items, lambda it: flexible_extract_correct(it.response, it.gold)),
        "plain math-verify": _agreement(items, lambda it: math_verify_correct(it.response, it.gold)),
    }
    print(f"\nmath agreement ({lang}, n={len(items)}): " + json.dumps({k: round(v, 3) for k, v in scores.items()}), file=sys.stderr)
    ours = scores.pop("rv_eval.grade_math")
    assert ours >= MATH_GOAL, (lang, ours)
    for name, score in scores.items():
        assert ours > score, (lang, name, ours, score)


def test_math_disagreements_are_listed(math_items):
    wrong = [(it.id, it.trap) for it in math_items if _grade(it).correct != it.correct]
    assert len(wrong) <= 0.01 * len(math_items), wrong


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_choice_and_bbh_agreement(lang):
    choice = [it for it in load("choice", "choice") if it.lang == lang]
    bbh = [it for it in load("bbh", "bbh") if it.lang == lang]
    ours_choice = _agreement(choice, lambda it: grade_choice(it.response, it.gold, it.extra["options"], it.lang).correct)
    ours_bbh = _agreement(bbh, lambda it: grade_bbh(it.response, it.gold, it.extra["subtask"], it.lang).correct)
    sub_choice = _agreement(choice, lambda it: substring_correct(it.response, it.gold))
    sub_bbh = _agreement(bbh, lambda it: substring_correct(it.response, it.gold))
    print(f"\nchoice ({lang}) {ours_choice:.3f} vs substring {sub_choice:.3f}; bbh ({lang}) {ours_bbh:.3f} vs substring {sub_bbh:.3f}", file=sys.stderr)
    assert ours_choice >= 0.95 and ours_bbh >= 0.95
    assert ours_choice > sub_choice and ours_bbh > sub_bbh


@pytest.mark.slow
def test_code_agreement(shared_data):
    problems = {}
    for name in ("humaneval/HumanEval.jsonl.gz", "jhumaneval/jhuman-eval.jsonl.gz"):
        with gzip.open(shared_data / name, "rt", encoding="utf-8") as f:
            problems.update({p["task_id"]: p for p in map(json.loads, f)})
    items = load("code", "code")
    limits = SandboxLimits(timeout_s=3)
    grades = grade_many(
        [GradeItem("code", it.response, "", it.lang, {"problem": problems[it.extra["task_id"]], "limits": limits}) for it in items],
        workers=2,
        config=PoolConfig(progress=False),
    )
    wrong = [(it.id, it.trap, g.reason) for it, g in zip(items, grades, strict=True) if g.correct != it.correct]
    assert wrong == []
