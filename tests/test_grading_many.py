"""grade_many: parallel grading with a hard per-item timeout; response_language."""

from __future__ import annotations

import os
import time

import pytest

from rv_eval.errors import UserError
from rv_eval.grading import GradeItem, PoolConfig, SandboxLimits, grade_many, grade_math, response_language
from rv_eval.grading.items import grade_item


def test_grade_many_matches_serial_and_keeps_order():
    items = [GradeItem("math", f"The answer is {i}.", str(i % 7)) for i in range(40)]
    items += [
        GradeItem("math", "答えは１８です。", "18", "ja"),
        GradeItem("choice", "Answer: (B)", "B", "en", {"options": ["x", "y", "z"]}),
        GradeItem("bbh", "So the answer is (A).", "(A)", "en", {"subtask": "snarks"}),
    ]
    parallel = grade_many(items, workers=2, config=PoolConfig(progress=False))
    assert parallel == [grade_item(it) for it in items]


@pytest.mark.slow
def test_a_hanging_item_times_out_and_the_run_goes_on(shared_data):
    """A worker stuck on one item past its hard limit is killed and replaced; the rest is graded."""
    import gzip
    import json

    with gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        problem = json.loads(f.readline())
    hang = GradeItem(
        "code", "    open('/proc/self/comm', 'w').write('rvhang7731')\n    while True:\n        pass\n", "", "en",
        {"problem": problem, "limits": SandboxLimits(timeout_s=60), "timeout_s": 3},
    )
    items = [GradeItem("math", "The answer is 1.", "1"), hang, GradeItem("math", "The answer is 2.", "2")]
    grades = grade_many(items, workers=1, config=PoolConfig(progress=False))
    assert [g.reason for g in grades] == ["ok", "timeout", "ok"]
    assert grades[0].correct and grades[2].correct
    time.sleep(0.5)
    assert "rvhang7731" not in os.popen("ps -eo comm").read()  # the sandboxed child died with its worker


def test_pathological_math_items_finish():
    items = [
        GradeItem("math", "\\boxed{" + "{" * 20000 + "}" * 20000 + "}", "1"),
        GradeItem("math", "x" * 3_000_000 + " The answer is 7", "7"),
        GradeItem("math", "\x00\x00 The answer is 7 \x00", "7"),
        GradeItem("math", "The answer is " + "\\frac{" * 200 + "1" + "}{2}" * 200, "1"),
    ]
    grades = grade_many(items, workers=2, config=PoolConfig(item_timeout_s=20, progress=False))
    assert grades[1].correct and grades[2].correct
    assert all(g.reason in ("ok", "mismatch", "no_answer", "timeout", "last_number", "fallback") for g in grades)


def test_bad_items_are_user_errors():
    with pytest.raises(UserError, match="kind"):
        grade_many([GradeItem("essay", "x", "y")], workers=0)
    with pytest.raises(UserError, match="options"):
        grade_many([GradeItem("choice", "x", "y")], workers=0)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("よって答えは18です。", "ja"),
        ("The answer is 18.", "en"),
        ("答案是18。因为每个人有6个苹果。", "zh"),
        ("Let me think. まず、りんごは3個あります。So the total is 18 apples.", "mixed"),
        ("まず $x^2+1$ を計算します。\\frac{1}{2} なので答えは5です。", "ja"),
        ("<think>Let me compute.</think>答えは5です。", "mixed"),
        ("", "empty"),
        ("12345", "other"),
        ("안녕하세요 답은 5입니다", "other"),
    ],
)
def test_response_language(text, lang):
    assert response_language(text) == lang


def test_grade_math_is_exported_and_stable():
    assert grade_math("The answer is 3", "3").reason == "ok"


def test_response_language_on_real_text(shared_data):
    """Japanese CoT with English names, formulas and quotes stays Japanese; English stays English."""
    import yaml

    ja = [ex["target"] for p in (shared_data / "bbh_ja" / "cot-prompts").glob("*.yaml") for ex in yaml.safe_load(p.read_text())]
    en = [p.read_text() for p in (shared_data / "bbh" / "cot-prompts").glob("*.txt")]
    mgsm_ja = [line.split("\t")[0] for line in (shared_data / "mgsm" / "mgsm_ja.tsv").read_text().splitlines()]
    mgsm_en = [line.split("\t")[0] for line in (shared_data / "mgsm" / "mgsm_en.tsv").read_text().splitlines()]
    assert {response_language(t) for t in ja + mgsm_ja} == {"ja"}
    assert {response_language(t) for t in en + mgsm_en} == {"en"}
