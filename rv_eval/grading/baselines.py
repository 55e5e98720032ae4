"""The graders rv-eval is compared against (corpus agreement test, benchmark, docs).

- `substring_correct`: the papers' check, "the response contains the gold string".
- `flexible_extract_correct`: lm-eval's gsm8k/mgsm `flexible-extract` filter (last number-like
  match of `(-?[$0-9.,]{2,})|(-?[0-9]+)`) scored by lm-eval's exact_match with gsm8k-cot's
  regexes_to_ignore, ignore_case=True; both taken from lm-eval itself.
- `math_verify_correct`: plain math-verify, `verify(parse(gold), parse(response))`.
"""

from __future__ import annotations

FLEXIBLE_EXTRACT_PATTERN = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
GSM8K_REGEXES_TO_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def substring_correct(response: str, gold: str) -> bool:
    """Correct if the gold string occurs anywhere in the response."""
    return str(gold).strip() in str(response)


def flexible_extract_correct(response: str, gold: str) -> bool:
    """lm-eval's flexible-extract filter + exact_match, as configured for gsm8k-cot / mgsm."""
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    filt = RegexFilter(regex_pattern=FLEXIBLE_EXTRACT_PATTERN, group_select=-1)
    extracted = next(iter(filt.apply([[str(response)]], [{}])))[0]
    score = exact_match_hf_evaluate(
        [extracted], [str(gold)], regexes_to_ignore=GSM8K_REGEXES_TO_IGNORE, ignore_case=True
    )
    return bool(score["exact_match"] == 1.0)


def math_verify_correct(response: str, gold: str, timeout_s: int | None = 5) -> bool:
    """Plain math-verify with its default extraction on the whole response."""
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException  # a BaseException, not an Exception

    try:
        gold_parsed = parse(str(gold), parsing_timeout=timeout_s)
        return bool(verify(gold_parsed, parse(str(response), parsing_timeout=timeout_s), timeout_seconds=timeout_s))
    except (Exception, TimeoutException):
        return False
