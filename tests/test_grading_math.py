"""grade_math on the traps named in issue 3 (English and Japanese)."""

from __future__ import annotations

import threading

import pytest

from rv_eval.grading import grade_math

CASES = [
    # (response, gold, lang, correct, reason)
    ("よって答えは18です。", "18", "ja", True, "ok"),
    ("答えは１８", "18", "ja", True, "ok"),
    ("合計で1,234円です。答え：1,234円", "1234", "ja", True, "ok"),
    ("答えは千二百円です。", "1200", "ja", True, "ok"),
    ("答えは二万五千人です", "25000", "ja", True, "ok"),
    ("最終的な答えは 1.5万円 です。", "15000", "ja", True, "ok"),
    ("したがって、3×6=18個になります。", "18", "ja", True, "ok"),
    ("答えは12か18です。", "18", "ja", False, "hedged"),
    ("The answer is 118.", "18", "en", False, "mismatch"),
    ("She had 18 apples, then bought 3 more. The answer is 21.", "18", "en", False, "mismatch"),
    ("So the answer is \\boxed{18}.", "18", "en", True, "ok"),
    ("<think>maybe 12</think>The answer is 18", "18", "en", True, "ok"),
    ("<think>the answer is 18 so far", "18", "en", False, "truncated"),
    ("The answer is 12 or 18.", "18", "en", False, "hedged"),
    ("\\boxed{12} or \\boxed{18}", "18", "en", False, "hedged"),
    ("The final answer is $\\frac{1}{2}$", "\\frac{1}{2}", "en", True, "ok"),
    ("The final answer is $0.5$", "\\frac{1}{2}", "en", True, "ok"),
    ("#### 025", "25", "en", True, "ok"),
    ("Answer: 18.0", "18", "en", True, "ok"),
    ("The total is \\boxed{1{,}234}", "1234", "en", True, "ok"),
    ("Total: $1,234 dollars. **Answer: $1,234**", "1234", "en", True, "ok"),
    ("5 cats and 13 dogs make 18", "18", "en", True, "fallback"),
    ("I am not sure how to solve this.", "18", "en", False, "no_answer"),
    ("", "18", "en", False, "no_answer"),
    ("\\boxed{(3, \\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", "en", True, "ok"),
]


@pytest.mark.parametrize(("response", "gold", "lang", "correct", "reason"), CASES)
def test_grade_math_traps(response, gold, lang, correct, reason):
    g = grade_math(response, gold, lang)
    assert (g.correct, g.reason) == (correct, reason), g


def test_pathological_inputs_do_not_raise():
    for text in ["\x00" * 1000 + "The answer is 18", "\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}", "1 " * 300_000]:
        g = grade_math(text, "18")
        assert isinstance(g.correct, bool)
    assert grade_math("\x00" * 1000 + "The answer is 18", "18").correct


def test_works_in_a_thread_without_signal_errors():
    out = []
    t = threading.Thread(target=lambda: out.append(grade_math("The answer is $\\frac{6}{12}$", "1/2")))
    t.start()
    t.join()
    assert out[0].correct


def test_power_tower_is_graded_in_bounded_time():
    """sympy.N on 9^{9^{9^9}} never returned; the grade now ends well inside its deadline."""
    import time

    start = time.monotonic()
    grade = grade_math("The answer is $\\boxed{9^{9^{9^{9}}}}$.", "18")
    assert not grade.correct and time.monotonic() - start < 5


def test_grade_carries_normalized_answer_and_stop_reason():
    assert grade_math("The answer is $\\frac{1}{2}$.", "0.5").answer == grade_math("The answer is 0.5.", "1/2").answer
    cut = grade_math("We multiply: 40 * 40 = 16", "1600", stop_reason="length")
    assert (cut.correct, cut.reason, cut.stop_reason) == (False, "truncated", "length")


def test_majority_vote_counts_one_answer_written_three_ways():
    """maj@k votes on the normalized answer: 1/2 written as \\frac{1}{2}, \\dfrac12 and 0.5 is one vote."""
    from rv_eval.tasks import majority_correct

    responses = ["$\\boxed{\\frac{1}{2}}$", "$\\boxed{\\dfrac12}$", "The answer is 0.5.", "The answer is 7.", "The answer is 7."]
    graded = [vars(grade_math(r, "\\frac{1}{2}")) for r in responses]
    assert majority_correct(graded) == 1.0


def test_power_tower_is_bounded_in_a_worker_thread():
    """Off the main thread there is no SIGALRM: the tower must still never be evaluated."""
    out = []
    t = threading.Thread(target=lambda: out.append(grade_math("$\\boxed{9^{9^{9^{9}}}}$", "18")), daemon=True)
    t.start()
    t.join(timeout=10)
    assert out and not out[0].correct
