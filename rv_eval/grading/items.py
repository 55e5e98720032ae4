"""GradeItem and the in-process dispatch from an item to its grader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rv_eval.errors import UserError
from rv_eval.schema import Grade

KINDS = ("math", "choice", "bbh", "code", "math_verify")


@dataclass(frozen=True)
class GradeItem:
    """One response to grade. extra: choice → {"options": [...]}, bbh → {"subtask": name},
    code → {"problem": HumanEval record, "limits": SandboxLimits (optional)},
    math → {"config": MathConfig (optional)}; math_verify (plain math-verify on the whole response, the
    audit's second opinion) → {}; math, choice, bbh: {"stop_reason": "stop" | "length" (optional)};
    any kind: {"timeout_s": hard limit in grade_many}."""

    kind: str
    response: str
    gold: str
    lang: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)


def check_item(item: GradeItem) -> None:
    """Raise UserError when an item cannot be graded (unknown kind, missing extra keys, code
    without a usable sandbox)."""
    if item.kind not in KINDS:
        raise UserError(f"grade item kind {item.kind!r} is unknown. Fix: use one of {', '.join(KINDS)}.")
    need = {"choice": "options", "bbh": "subtask", "code": "problem"}.get(item.kind)
    if need and need not in item.extra:
        raise UserError(f"a {item.kind!r} grade item needs extra[{need!r}]. Fix: pass it in GradeItem.extra.")
    if item.kind == "code":
        from rv_eval.grading.sandbox import require_sandbox

        require_sandbox()  # refuse before any work when code cannot be isolated


def grade_item(item: GradeItem) -> Grade:
    """Grade one item in this process (no hard timeout; grade_many adds that)."""
    from rv_eval.grading.bbh import grade_bbh
    from rv_eval.grading.choice import grade_choice
    from rv_eval.grading.code_grade import grade_code
    from rv_eval.grading.math_grade import grade_math

    check_item(item)
    stop = item.extra.get("stop_reason")
    if item.kind == "math":
        return grade_math(item.response, item.gold, item.lang, item.extra.get("config"), stop_reason=stop)
    if item.kind == "choice":
        return grade_choice(item.response, item.gold, item.extra["options"], item.lang, stop_reason=stop)
    if item.kind == "bbh":
        return grade_bbh(item.response, item.gold, item.extra["subtask"], item.lang, stop_reason=stop)
    if item.kind == "math_verify":
        from rv_eval.grading.baselines import math_verify_correct

        ok = math_verify_correct(item.response, item.gold)
        return Grade(ok, None, "ok" if ok else "mismatch")
    return grade_code(item.response, item.extra["problem"], item.extra.get("limits"))
