"""Robust answer grading for Japanese and English: math, multiple choice, BBH and code.

Public, stable entry points (tasks, regrading and reports use them):

- `grade_math(response, gold, lang="en", config=None) -> Grade`
- `grade_choice(response, gold, options, lang="en") -> Grade`
- `grade_bbh(response, gold, subtask, lang="en") -> Grade`
- `grade_code(completion, problem, limits=None) -> Grade`
- `pass_at_k(n, c, k) -> float`, and `pass_at_k_array(n, c, k)` element-wise over arrays
- `response_language(text) -> "ja" | "en" | "zh" | "mixed" | "other" | "empty"`
- `grade_many(items: Iterable[GradeItem], workers=None) -> list[Grade]`, and `GradingPool` (the same
  workers kept across many calls)
"""

from rv_eval.grading.bbh import grade_bbh
from rv_eval.grading.choice import grade_choice
from rv_eval.grading.code_grade import grade_code
from rv_eval.grading.items import GradeItem, grade_item
from rv_eval.grading.language import response_language
from rv_eval.grading.math_grade import MathConfig, grade_math
from rv_eval.grading.parallel import GradingPool, PoolConfig, grade_many
from rv_eval.grading.passk import pass_at_k, pass_at_k_array
from rv_eval.grading.sandbox import SandboxLimits
from rv_eval.schema import Grade

__all__ = [
    "Grade",
    "GradeItem",
    "GradingPool",
    "MathConfig",
    "PoolConfig",
    "SandboxLimits",
    "grade_bbh",
    "grade_choice",
    "grade_code",
    "grade_item",
    "grade_many",
    "grade_math",
    "pass_at_k",
    "pass_at_k_array",
    "response_language",
]
