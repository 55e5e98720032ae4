"""grade_code: HumanEval/JHumanEval execution, code extraction and sandbox containment."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from rv_eval.errors import UserError
from rv_eval.grading import GradeItem, SandboxLimits, grade_code, grade_many, pass_at_k

FAST = SandboxLimits(timeout_s=3)


def _problems(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def humaneval(shared_data) -> list[dict]:
    return _problems(shared_data / "humaneval" / "HumanEval.jsonl.gz")


@pytest.fixture(scope="module")
def problem(humaneval) -> dict:
    return humaneval[0]  # has_close_elements


def test_chat_answer_with_fenced_full_function(problem):
    chat = (
        "以下が実装です。\n\n```python\nfrom typing import List\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```\n"
        "この関数は全てのペアを調べます。"
    )
    assert grade_code(chat, problem, FAST).reason == "ok"


def test_plain_completion_and_wrong_body(problem):
    assert grade_code(problem["canonical_solution"], problem, FAST).correct
    wrong = grade_code("    return False\n", problem, FAST)
    assert (wrong.correct, wrong.reason) == (False, "test_failed")
    assert grade_code("Sorry, I can't help.", problem, FAST).reason in ("syntax_error", "no_code")
    assert grade_code("", problem, FAST).reason == "no_code"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("    while True:\n        pass\n", "timeout"),
        ("    x = 'a' * (4 * 1024 ** 3)\n", "memory"),
        ("    print('x' * 10 ** 7)\n", "output_limit"),
        ("    import ctypes\n    ctypes.string_at(0)\n", "crashed"),
        ("    import sys\n    sys.exit(0)\n", "exited_early"),
        ("    import os\n    os._exit(0)\n", "exited_early"),
        ("    return (\n", "syntax_error"),
    ],
)
def test_hostile_code_is_contained(problem, body, reason):
    g = grade_code(body, problem, SandboxLimits(timeout_s=2))
    assert (g.correct, g.reason) == (False, reason)


@pytest.mark.slow
def test_fork_bomb_and_rm_rf_are_contained(problem, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("still here")
    os.chmod(tmp_path, 0o777)
    bodies = [
        "    import os\n    while True:\n        os.fork()\n",
        f"    import os\n    os.system('rm -rf ~ {tmp_path}')\n    return True\n",
        f"    import shutil\n    shutil.rmtree({str(tmp_path)!r})\n",
        "    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(60)\n    return True\n",
    ]
    for body in bodies:
        g = grade_code(body, problem, SandboxLimits(timeout_s=3))
        assert not g.correct, (body, g.reason)
    assert canary.read_text() == "still here"
    leftovers = os.popen("ps -eo args").read()
    assert "time.sleep(60)" not in leftovers


def test_secrets_are_not_inherited(problem, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    body = "    import os\n    assert 'OPENAI_API_KEY' not in os.environ\n    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    assert grade_code(body, problem, FAST).correct


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["humaneval/HumanEval.jsonl.gz", "jhumaneval/jhuman-eval.jsonl.gz"])
def test_every_canonical_solution_passes_and_a_wrong_one_fails(shared_data, dataset):
    problems = _problems(shared_data / dataset)
    right = [GradeItem("code", p["canonical_solution"], "", "en", {"problem": p}) for p in problems]
    wrong = [GradeItem("code", "    return None\n", "", "en", {"problem": p}) for p in problems[:20]]
    grades = grade_many(right + wrong, workers=2)
    failed = [p["task_id"] for p, g in zip(problems, grades, strict=False) if not g.correct]
    assert failed == []
    assert not any(g.correct for g in grades[len(right) :])


def test_pass_at_k():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(5, 5, 2) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)
    with pytest.raises(UserError):
        pass_at_k(3, 1, 5)


def test_no_network_inside_the_sandbox(problem):
    """A program cannot reach a server on this machine (private network namespace)."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        body = (
            "    import socket\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n"
            "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
        )
        g = grade_code(body, problem, FAST)
        assert (g.correct, g.reason) == (False, "runtime_error")
        reachable = grade_code(body, problem, SandboxLimits(timeout_s=3, network=True))
        assert reachable.correct  # the same program passes when network is allowed: the test can fail
    finally:
        server.close()


def test_unfenced_answer_with_a_huge_unclosed_list_is_trimmed_fast(problem):
    """Issue 15: `x = [` and 1,\\n lines after the function took 702 s at 176 KB (a parse per prefix)."""
    import time

    from rv_eval.grading.code_extract import extract_code

    func = (
        "def has_close_elements(numbers, threshold):\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n\n"
    )
    answer = "Here is my solution.\n" + func + "x = [\n" + "1,\n" * 60_000
    assert len(answer) > 176_000
    start = time.monotonic()
    code = extract_code(answer, problem["prompt"], problem["entry_point"])
    assert time.monotonic() - start < 2.0
    assert code is not None and code.rstrip().endswith("numbers[i + 1:])") and "x = [" not in code
    assert grade_code(answer, problem, FAST).correct
