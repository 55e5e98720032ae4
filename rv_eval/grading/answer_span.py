"""The final-answer span of a non-math response (choice, BBH): after the last answer marker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rv_eval.grading.final_answer import boxed_contents
from rv_eval.grading.numbers import nfkc
from rv_eval.grading.reasoning import strip_reasoning
from rv_eval.schema import Grade

_MARKER_RE = re.compile(
    r"(?:\b(?:the\s+)?(?:final\s+|correct\s+|best\s+)?(?:answer|option|choice)\s*(?:is|would\s+be|should\s+be|:|=)"
    r"|最終的な(?:答え|解答|回答)(?:は|:|：)?|(?:答え|解答|回答|正解)\s*(?:は|:|：))",
    re.IGNORECASE,
)


def prepare(response: str, max_chars: int = 200_000) -> tuple[str, bool]:
    """NFKC text of the final part of a response, and whether a reasoning block never closed."""
    final = strip_reasoning(nfkc(str(response or "")[-max_chars:]))
    return final.text[-20_000:], final.unclosed


def answer_spans(text: str) -> list[str]:
    """Candidate answer spans, most authoritative first: last boxed, last markers, last line."""
    spans = []
    boxes = boxed_contents(text)
    if boxes:
        spans.append(boxes[-1][1])
    for m in reversed(list(_MARKER_RE.finditer(text))):
        span = _paragraph_after(text, m.end())
        if span:
            spans.append(span)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        spans.append(lines[-1])
    return spans


def grade_first_answer(
    spans: Iterable[str], answers: Callable[[str], set[str]], gold: str | None, hedge_sep: str
) -> Grade:
    """Grade by the first span that names an answer: one answer is compared with `gold`, several
    distinct ones are `hedged` (reported joined by `hedge_sep`); no span naming one is `no_answer`."""
    for span in spans:
        values = answers(span)
        if len(values) > 1:
            return Grade(False, hedge_sep.join(sorted(values)), "hedged")
        if values:
            value = values.pop()
            ok = value == gold
            return Grade(ok, value, "ok" if ok else "mismatch")
    return Grade(False, None, "no_answer")


def _paragraph_after(text: str, start: int) -> str:
    rest = text[start : start + 3000].lstrip(" \t*:：=")
    if rest.startswith("\n"):
        rest = rest.lstrip()
    end = re.search(r"\n\s*\n", rest)
    para = rest[: end.start()] if end else rest
    first = re.search(r"\n|。|\.(?:\s|$)", para)
    return (para[: first.start()] if first else para).strip(" *")
