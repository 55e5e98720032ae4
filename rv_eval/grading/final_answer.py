"""Find the FINAL answer of a math response (not any number in it).

Order: the last `\\boxed{}`; else the last answer marker of the response's language
("the answer is", "Answer:", "####", "Final answer", 答えは…, 最終的な答え, 解答, 回答);
else a bold final line; else a conclusion sentence (so/therefore, よって/したがって…); else
the last number, which the grade flags in its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rv_eval.grading.numbers import EN_NUMBER_WORDS_RE, KANJI_NUMBER_RE, strip_separators

#: Only this many trailing characters of a response are searched (the final answer is at the end).
TAIL_CHARS = 20_000


@dataclass(frozen=True)
class Candidate:
    """The span holding the final answer, how it was found, and whether it names two answers."""

    span: str
    source: str  # boxed | marker | bold | conclusion | last_number
    hedged: bool = False
    alternatives: tuple[str, ...] = ()  # other boxed answers of the final paragraph


_STRONG = {
    "en": [
        r"#{4}\s*",
        r"\b(?:final|correct)\s+answer\s*(?:is|:|=|would\s+be|should\s+be)?",
        r"\banswer\s*(?:is|:|=|would\s+be|should\s+be|will\s+be)",
        r"\banswer\s*\*\*\s*[:：]?",
    ],
    "ja": [
        r"最終的な(?:答え|解答|回答|結果)(?:は|:|：|=)?",
        r"正しくは|正しい答えは|答案(?:是|为|為|:|：)|最终答案(?:是|为|:|：)?",
        r"(?:答え|答|解答|回答|正解)\s*(?:は|:|：|=|＝)",
        r"#{4}\s*",
    ],
}
_WEAK = {
    "en": r"\b(?:therefore|thus|hence|so|in\s+total|altogether|in\s+all)\b",
    "ja": r"(?:よって|したがって|従って|ゆえに|故に|以上より|以上から|つまり|合計で|全部で|結果として)",
}
HEDGE_RE = re.compile(
    r"(?:-?\d[\d.,/]*|[}])\s*(?:\bor\b|\band\s*/\s*or\b|または|もしくは|あるいは|[かと]、?(?=\s*-?\d))\s*(?:maybe\s+|perhaps\s+)?[-$\\]?\d"
    r"|\b(?:but|or)\s+(?:it\s+)?(?:could|might|may)\s+(?:also\s+)?be\s+\$?-?\d"
    r"|either\s+\$?-?\d",
    re.IGNORECASE,
)
_NEGATED_RE = re.compile(
    r"^\s*not\s+\$?-?\d[\d.,]*\$?\s*(?:[.;]|$)|^\s*\S+\s*(?:ではありません|ではない|じゃない|ではなかった)", re.IGNORECASE
)
_SENTENCE_END_RE = re.compile(r"\n|。|(?<!\d)\.(?!\d)|\.(?=\s|$)|\. ")
_NUMBERISH_RE = re.compile(rf"\d+\s*分の\s*\d+|-?\d[\d,]*(?:\.\d+)?|{KANJI_NUMBER_RE.pattern}")


def find_final_answer(text: str, lang: str = "en") -> Candidate | None:
    """The final-answer span of `text` (already NFKC-normalized, reasoning stripped), or None."""
    text = text[-TAIL_CHARS:]
    langs = ["ja", "en"] if lang == "ja" else ["en", "ja"]
    for finder in (_boxed, _strong_marker, _bold_last_line, _weak_marker, _last_number):
        found = finder(text, langs)
        if found is not None:
            return found
    return None


def boxed_contents(text: str) -> list[tuple[int, str]]:
    """(position, content) of every `\\boxed{…}` / `\\fbox{…}` with balanced braces (`\\{`, `\\}` are text)."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text[i] == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((m.start(), text[m.end() : i - 1]))
    return out


def _boxed(text: str, langs: list[str]) -> Candidate | None:
    boxes = boxed_contents(text)
    if not boxes:
        return None
    last_pos, last = boxes[-1]
    para_start = text.rfind("\n\n", 0, last_pos)
    same_para = {_squash(c): c for p, c in boxes if p > para_start}
    others = tuple(c for k, c in same_para.items() if k != _squash(last))
    hedged = bool(others) or bool(HEDGE_RE.search(last))
    return Candidate(last, "boxed", hedged, others)


def _squash(s: str) -> str:
    return re.sub(r"\s+|\\[,;!: ]|\{,\}", "", s).rstrip(".")


def _strong_marker(text: str, langs: list[str]) -> Candidate | None:
    pattern = "|".join(p for lang in langs for p in _STRONG[lang])
    for m in reversed(list(re.finditer(pattern, text, re.IGNORECASE))):
        span = _sentence_after(text, m.end())
        if _has_answer(span) and not _NEGATED_RE.search(span):
            return Candidate(span, "marker", bool(HEDGE_RE.search(span)))
    return None


def _sentence_after(text: str, start: int) -> str:
    rest = text[start : start + 2000].lstrip(" \t*:：=、,，")
    if rest.startswith("\n"):
        rest = rest.lstrip()
    end = _SENTENCE_END_RE.search(rest)
    span = rest[: end.start()] if end else rest
    return span.strip(" *")


def _has_answer(span: str) -> bool:
    if EN_NUMBER_WORDS_RE.fullmatch(span.strip(" .!*")):  # "The answer is: seven"
        return True
    return bool(_NUMBERISH_RE.search(span) or re.search(r"\\[a-z]+|[a-zA-Z]\s*[=^]|\$", span))


def _bold_last_line(text: str, langs: list[str]) -> Candidate | None:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    bold = re.findall(r"\*\*(.+?)\*\*", lines[-1])
    for b in reversed(bold):
        if _NUMBERISH_RE.search(b) or EN_NUMBER_WORDS_RE.fullmatch(b.strip(" .")):
            return Candidate(b, "bold", bool(HEDGE_RE.search(b)))
    return None


def _weak_marker(text: str, langs: list[str]) -> Candidate | None:
    pattern = "|".join(_WEAK[lang] for lang in langs)
    tail = text[-3000:]
    for m in reversed(list(re.finditer(pattern, tail, re.IGNORECASE))):
        span = _sentence_after(tail, m.end())
        if _NUMBERISH_RE.search(strip_separators(span)):
            return Candidate(_last_of(span), "conclusion", bool(HEDGE_RE.search(span)))
    return None


def _last_of(span: str) -> str:
    """The result of a conclusion sentence: what follows its last "=", else its first number."""
    span = strip_separators(span)
    if "=" in span:
        span = span.rsplit("=", 1)[1]
    m = _NUMBERISH_RE.search(span)
    return span[m.start() :] if m else span


def _last_number(text: str, langs: list[str]) -> Candidate | None:
    tail = strip_separators(text[-3000:])
    matches = list(_NUMBERISH_RE.finditer(tail))
    if not matches:
        return None
    return Candidate(tail[matches[-1].start() : matches[-1].end() + 8], "last_number")
