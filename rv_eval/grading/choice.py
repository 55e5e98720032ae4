"""grade_choice: multiple-choice answers (SciQ style), by letter or by option text."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from rv_eval.grading.answer_span import answer_spans, grade_first_answer, prepare
from rv_eval.grading.numbers import nfkc
from rv_eval.grading.truncation import complete_part, is_truncated
from rv_eval.schema import Grade

_LETTER_AT_START_RE = re.compile(r"^[(\[（]?\s*([A-Z])\s*(?:[)\]）.:：,、]|$|\s*$|\s+(?=[(（]|or\b|または|もしくは)|(?=[\u3040-\u30ff]))")
_LETTER_ANY_RE = re.compile(r"[(（]([A-Z])[)）]|\b([A-Z])\b(?=[)）.:]|\s*$)")
_OR_RE = re.compile(r"\bor\b|または|もしくは|あるいは|か、|\band\b|と", re.IGNORECASE)
# A line of an option list: "(A) nucleus", "A. nucleus", "B) mitochondria", "- (C) ribosome", "**D.** wall".
_OPTION_LINE_RE = re.compile(r"^\s*(?:[-*•]\s*)?\**[(\[（]?([A-Z])\s*[)\]）.:：]\**(?:\s|$)")
# An option label inside a line: "(A)", "A)", "A." followed by a space.
_LABEL_RE = re.compile(r"[(\[（]([A-Z])[)\]）]|(?<![\w(])([A-Z])[).](?=\s)")


def grade_choice(response: str, gold: str, options: Sequence[str], lang: str = "en",
                 stop_reason: str | None = None) -> Grade:
    """Grade a multiple-choice response; `gold` is a letter ("B", "(B)") or the option's text.

    The answer may be given as a letter or by the option's text; a letter the response only lists
    among the options (an option list, even after "The correct answer is:") is not an answer. Two
    different options in the final answer span is `hedged`; nothing recognisable is `no_answer`, or
    `truncated` when generation was cut off at its token budget (`stop_reason="length"`).
    """
    letters = string.ascii_uppercase[: max(len(options), 1)]
    gold_letter = _gold_letter(gold, options, letters)
    text, unclosed = prepare(response)
    if unclosed:
        return Grade(False, None, "unclosed_think")
    text = drop_option_lists(complete_part(text, stop_reason))
    grade = grade_first_answer(
        answer_spans(text), lambda span: pick_letters(span, options, letters), gold_letter, "/"
    )
    return truncated_if_unanswered(grade, stop_reason)


def truncated_if_unanswered(grade: Grade, stop_reason: str | None) -> Grade:
    """A `no_answer` grade of a response cut off at its token budget becomes `truncated`."""
    if grade.reason == "no_answer" and is_truncated(stop_reason):
        return Grade(False, None, "truncated")
    return grade


def drop_option_lists(text: str) -> str:
    """`text` without its option lists: runs of two or more lines that each start with a different
    option label ("(A) …", "B. …"). A response that restates the options names no answer by it."""
    lines = text.split("\n")
    keep = [True] * len(lines)
    run: list[int] = []
    repeating = False  # the run continues an option list just closed (the list is being repeated)
    for i, line in enumerate([*lines, ""]):
        m = _OPTION_LINE_RE.match(line) if i < len(lines) else None
        if m is None and i < len(lines) and not line.strip() and run:
            continue  # blank lines inside a list
        letters = [_OPTION_LINE_RE.match(lines[j]).group(1) for j in run]
        if m is not None and m.group(1) not in letters:
            run.append(i)
            continue
        is_list = len(run) >= 2 or (repeating and run)
        if is_list:
            for j in run:
                keep[j] = False
        repeating = bool(is_list and m is not None)
        run = [i] if m is not None else []
    return "\n".join(line for line, k in zip(lines, keep, strict=True) if k)


def _gold_letter(gold: str, options: Sequence[str], letters: str) -> str | None:
    g = nfkc(str(gold)).strip().strip("()（） ").strip()
    if len(g) == 1 and g.upper() in letters:
        return g.upper()
    for letter, opt in zip(letters, options, strict=False):
        if _norm(opt) == _norm(g):
            return letter
    return None


def _norm(s: str) -> str:
    return re.sub(r"[\s.。、,!?「」\"'*]+", " ", nfkc(s).lower()).strip()


def pick_letters(span: str, options: Sequence[str], letters: str) -> set[str]:
    """The option letters a final-answer span names (empty if none; several if hedged)."""
    span = span.strip(" *「」『』\"'`")
    if len({a or b for a, b in _LABEL_RE.findall(span)}) >= 3:
        return set()  # the option list itself ("(A) nucleus (B) mitochondria (C) …"), not a choice
    m = _LETTER_AT_START_RE.match(span)
    if m and m.group(1) in letters:
        found = {m.group(1)}
        rest = span[m.end() :]
        if _OR_RE.search(rest[:20]):
            found |= {x for x in _letters_in(rest[:40]) if x in letters}
        return found
    by_text = _options_in(span, options, letters)
    if by_text:
        return by_text
    return {x for x in _letters_in(span) if x in letters}


def _letters_in(s: str) -> set[str]:
    return {a or b for a, b in _LETTER_ANY_RE.findall(s)}


def _options_in(span: str, options: Sequence[str], letters: str) -> set[str]:
    norm_span = f" {_norm(span)} "
    hits = {
        letter: len(_norm(opt))
        for letter, opt in zip(letters, options, strict=False)
        if _norm(opt) and _contains(norm_span, _norm(opt))
    }
    if len(hits) > 1:  # "carbon dioxide" also contains "carbon": keep the longest, non-overlapping
        longest = max(hits, key=hits.get)
        rest = {k for k in hits if _norm(options[letters.index(k)]) not in _norm(options[letters.index(longest)])}
        return rest | {longest}
    return set(hits)


def _contains(norm_span: str, norm_opt: str) -> bool:
    if norm_opt.isascii():
        return f" {norm_opt} " in norm_span
    return norm_opt.replace(" ", "") in norm_span.replace(" ", "")
