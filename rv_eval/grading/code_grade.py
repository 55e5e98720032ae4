"""grade_code: HumanEval / JHumanEval functional correctness of one completion.

The candidate's code runs in the OS sandbox; the problem's own tests (`check(candidate)`) run here,
in the grader, and reach the candidate's function only through `Candidate.call`, which carries
plain data. So the verdict is the test's, never the candidate's: no exit code, printed token or
object of the candidate's can make a test pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rv_eval.grading.code_extract import extract_code, repair_prompt
from rv_eval.grading.reasoning import strip_reasoning
from rv_eval.grading.sandbox import Candidate, SandboxFailure, SandboxLimits
from rv_eval.schema import Grade


def build_program(completion: str, problem: Mapping[str, Any]) -> str | None:
    """The code run in the sandbox for `completion`: its definition of the entry point (with the
    prompt's imports and helpers), or the prompt continued by the completion. None: no code."""
    final = strip_reasoning(str(completion or ""))
    if final.unclosed:
        return None
    return extract_code(final.text, problem["prompt"], problem["entry_point"])


def grade_code(completion: str, problem: Mapping[str, Any], limits: SandboxLimits | None = None) -> Grade:
    """Run `completion` against a HumanEval record (prompt, test, entry_point).

    reason: ok, no_code, unclosed_think, test_failed, syntax_error, runtime_error, timeout,
    memory, output_limit, crashed, exited_early. `extracted` holds the code that ran in the sandbox.
    Raises UserError when the sandbox cannot run here (docs/security.md).
    """
    if strip_reasoning(str(completion or "")).unclosed:
        return Grade(False, None, "unclosed_think")
    code = build_program(completion, problem)
    if code is None:
        return Grade(False, None, "no_code")
    status = run_tests(code, problem, limits)
    return Grade(status == "passed", code, "ok" if status == "passed" else status)


def run_tests(code: str, problem: Mapping[str, Any], limits: SandboxLimits | None = None) -> str:
    """Status of the problem's tests against `code`: passed, or how it failed."""
    limits = limits or SandboxLimits()
    with Candidate(limits) as box:
        failed = box.load(code, problem["entry_point"])
        if failed:
            return failed
        status = _check(box, problem)
        if box.failure:  # sticky: a test that swallowed the failure does not pass
            return box.failure
        if box.output_bytes() >= limits.max_output_bytes:
            return "output_limit"
        return status


def _check(box: Candidate, problem: Mapping[str, Any]) -> str:
    """Run the test code here with the sandboxed function as `candidate`."""
    entry = problem["entry_point"]

    def candidate(*args: Any, **kwargs: Any) -> Any:
        return box.call(*args, **kwargs)

    candidate.__name__ = candidate.__qualname__ = entry
    namespace: dict[str, Any] = {"__name__": "rv_eval_check"}
    try:  # the prompt's imports and helpers (some tests call them, e.g. HumanEval/38 encode_cyclic)
        exec(compile(repair_prompt(problem["prompt"], entry) + "\n    pass\n", "<prompt>", "exec"), namespace)
    except Exception:
        namespace = {"__name__": "rv_eval_check"}
    namespace[entry] = candidate
    try:
        exec(compile(problem["test"], "<test>", "exec"), namespace)
        namespace["check"](candidate)
    except SandboxFailure as e:
        return e.status
    except AssertionError:
        return "test_failed"
    except MemoryError:
        return "memory"
    except Exception:
        return "runtime_error"
    return "passed"
