"""grade_bbh: BIG-Bench Hard answers, whose format depends on the subtask.

Formats (from the BBH / BBH-ja gold files): multiple choice "(A)", True/False, Yes/No (any case),
valid/invalid, integers, Dyck closing sequences and sorted word lists. Japanese responses may
answer in Japanese words (はい/いいえ, 真/偽, 妥当/妥当でない, kanji numerals), which map onto the
same canonical values as the golds.
"""

from __future__ import annotations

import re
import string

from rv_eval.grading.answer_span import answer_spans, grade_first_answer, prepare
from rv_eval.grading.choice import drop_option_lists, pick_letters, truncated_if_unanswered
from rv_eval.grading.numbers import KANJI_NUMBER_RE, kanji_to_int, nfkc, strip_separators
from rv_eval.grading.truncation import complete_part
from rv_eval.schema import Grade

SUBTASK_FORMATS: dict[str, str] = {
    "boolean_expressions": "bool",
    "causal_judgement": "yesno",
    "navigate": "yesno",
    "web_of_lies": "yesno",
    "sports_understanding": "yesno",
    "formal_fallacies": "validity",
    "multistep_arithmetic_two": "number",
    "object_counting": "number",
    "dyck_languages": "dyck",
    "word_sorting": "words",
}
_WORDS = {
    "bool": [
        (r"\btrue\b|真|正しい", "True"),
        (r"\bfalse\b|偽|誤り|正しくない", "False"),
    ],
    "yesno": [
        (r"\byes\b|はい", "yes"),
        (r"\bno\b|いいえ", "no"),
    ],
    "validity": [
        (r"\binvalid\b|妥当でない|妥当ではない|非妥当|不妥当|無効", "invalid"),
        (r"\bvalid\b|妥当|有効", "valid"),
    ],
}
_BRACKETS = set("()[]{}<>")
_DYCK_BODY_RE = re.compile(r"[\s\\()\[\]{}<>]*")
# The start of a next "Q: … A: …" block the model invents after its answer (the few-shot format of
# BBH and BBH-ja; a full-width "Q：" is NFKC-normalized to "Q:" before this applies).
NEXT_QUESTION_RE = re.compile(r"\n\s*Q\s*:")
_COPULA_RE = re.compile(r"\s*(?:です|である|となります|になります|だ)\s*[。.]?\s*$")


def subtask_format(subtask: str) -> str:
    """The answer format of a BBH subtask name (with or without a `bbh_`/`_ja` decoration)."""
    name = re.sub(r"^(?:bbh_(?:ja_)?|bbh-ja_)|(?:_ja|_en)$", "", subtask)
    return SUBTASK_FORMATS.get(name, "choice")


def grade_bbh(response: str, gold: str, subtask: str, lang: str = "en", stop_reason: str | None = None) -> Grade:
    """Grade a BBH response for `subtask` against its gold target string.

    Only the answer to the question asked counts: anything from an invented next "Q:" on is
    ignored, and so are option lists. A response cut off at its token budget
    (`stop_reason="length"`) is graded on its complete sentences, else `truncated`."""
    fmt = subtask_format(subtask)
    text, unclosed = prepare(response)
    if unclosed:
        return Grade(False, None, "unclosed_think")
    text, invented = own_answer(text)
    if not invented:  # a cut inside an invented question does not affect the answer before it
        text = complete_part(text, stop_reason)
    text = drop_option_lists(text)
    gold_norm = canonical(fmt, gold)
    if gold_norm is None:  # a gold outside the subtask's format (e.g. option text in ruin_names)
        fmt, gold_norm = "text", _text_norm(gold)
    spans = answer_spans(text)
    if fmt == "dyck":
        spans = [*dyck_boxed(text), *spans]
    grade = grade_first_answer(spans, lambda span: extract(fmt, span), gold_norm, " | ")
    return grade if invented else truncated_if_unanswered(grade, stop_reason)


def own_answer(text: str) -> tuple[str, bool]:
    """The response up to a next question it invented ("\n\nQ: …"), and whether there was one."""
    m = NEXT_QUESTION_RE.search(text)
    return (text[: m.start()], True) if m else (text, False)


def dyck_boxed(text: str) -> list[str]:
    """The last `\\boxed{…}` of a Dyck answer, whose closing brackets may be unbalanced braces.

    `\\boxed{) }}` closes `)` and `}`: the box holds its line up to the last `}` when that part is
    brackets only (escaped `\\}` counts as a bracket); [] otherwise."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return []
    line = text[start + len("\\boxed{") :].split("\n", 1)[0]
    body = line[: line.rfind("}")]
    if not body.strip() or not _DYCK_BODY_RE.fullmatch(body):
        return []
    return [body.replace("\\{", "{").replace("\\}", "}")]


def canonical(fmt: str, value: str) -> str | None:
    """The canonical form of a gold (or extracted) value in format `fmt`; None if not of it."""
    found = extract(fmt, str(value))
    return found.pop() if len(found) == 1 else None


def extract(fmt: str, span: str) -> set[str]:
    """Canonical answers named in `span` for format `fmt` (several means hedged)."""
    span = _COPULA_RE.sub("", nfkc(span)).strip(" *「」『』\"'`")
    if fmt == "choice":
        return {f"({x})" for x in pick_letters(span, [], string.ascii_uppercase)}
    if fmt in _WORDS:
        return _first_word(fmt, span)
    if fmt == "number":
        return _number(span)
    if fmt == "dyck":
        seq = " ".join(ch for ch in span if ch in _BRACKETS)
        return {seq} if seq else set()
    if fmt == "words":
        words = re.findall(r"[a-z0-9&'\-]+", span.lower())
        return {" ".join(words)} if words else set()
    norm = _text_norm(span)
    return {norm} if norm else set()


def _first_word(fmt: str, span: str) -> set[str]:
    hits = []
    for pattern, canon in _WORDS[fmt]:
        m = re.search(pattern, span, re.IGNORECASE)
        if m:
            hits.append((m.start(), canon))
    if not hits:
        return set()
    hits.sort()
    if len(hits) > 1 and re.search(r"\bor\b|または|か", span[hits[0][0] : hits[1][0] + 1], re.IGNORECASE):
        return {c for _, c in hits}
    return {hits[0][1]}


def _number(span: str) -> set[str]:
    span = strip_separators(span)
    m = re.search(rf"-?\d+(?:\.\d+)?|{KANJI_NUMBER_RE.pattern}", span)
    if not m:
        return set()
    token = m.group(0)
    if not token.lstrip("-").replace(".", "").isdigit():
        n = kanji_to_int(token)
        return {str(n)} if n is not None else set()
    value = float(token)
    return {str(int(value)) if value == int(value) else str(value)}


def _text_norm(s: str) -> str:
    return re.sub(r"[^\w&]+", " ", nfkc(s).lower()).strip()
