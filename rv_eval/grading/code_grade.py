"""grade_code: HumanEval / JHumanEval functional correctness of one completion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rv_eval.grading.code_extract import extract_code
from rv_eval.grading.reasoning import strip_reasoning
from rv_eval.grading.sandbox import SandboxLimits, run_python
from rv_eval.schema import Grade


def build_program(completion: str, problem: Mapping[str, Any]) -> str | None:
    """The test program for `completion`: its code, the problem's tests and `check(entry_point)`."""
    final = strip_reasoning(str(completion or ""))
    if final.unclosed:
        return None
    code = extract_code(final.text, problem["prompt"], problem["entry_point"])
    if code is None:
        return None
    return f"{code}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


def grade_code(completion: str, problem: Mapping[str, Any], limits: SandboxLimits | None = None) -> Grade:
    """Run `completion` against a HumanEval record (prompt, test, entry_point) in the sandbox.

    reason: ok, no_code, unclosed_think, test_failed, syntax_error, runtime_error, timeout,
    memory, output_limit, crashed, exited_early. `extracted` holds the program that was run.
    """
    if strip_reasoning(str(completion or "")).unclosed:
        return Grade(False, None, "unclosed_think")
    program = build_program(completion, problem)
    if program is None:
        return Grade(False, None, "no_code")
    result = run_python(program, limits)
    if result.status == "passed":
        return Grade(True, program, "ok")
    return Grade(False, program, result.status)
