"""Find the FINAL answer of a math response (not any number in it).

The last clearly stated final answer counts. Candidates, by position: every non-empty
`\\boxed{}`, the answer markers of the response's language ("the answer is", "Answer:", "####",
"Final answer", 答えは…, 最終的な答え, 解答, 回答) and a bold final line; the last of them wins, so
a later correction supersedes an earlier box. Conclusion sentences (so/therefore, よって/したがって…)
count when no such candidate exists, or when they follow the last one after a correction
("wait", "actually", 間違い…). With none of these, `fallback_span` gives the final paragraph for
math-verify's own extraction, and the grade says `fallback`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from rv_eval.grading.numbers import EN_NUMBER_WORDS_RE, KANJI_NUMBER_RE, strip_separators

#: A box or final paragraph longer than this is no answer (and would make the regexes slow).
MAX_SPAN_CHARS = 2000
#: Only this many trailing characters of a response are searched (the final answer is at the end).
TAIL_CHARS = 20_000


@dataclass(frozen=True)
class Candidate:
    """The span holding the final answer, how it was found, and whether it names two answers."""

    span: str
    source: str  # boxed | marker | bold | conclusion | fallback | gold
    hedged: bool = False
    alternatives: tuple[str, ...] = ()  # other boxed answers of the same paragraph
    start: int = 0  # position in the searched text
    complete: bool = True  # False when the statement runs into the end of a cut-off text


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
    r"(?:(?<![\d.,/])-?\d[\d.,/]*|[}])\s*(?:\bor\b|\band\s*/\s*or\b|または|もしくは|あるいは|[かと]、?(?=\s*-?\d))\s*(?:maybe\s+|perhaps\s+)?[-$\\]?\d"
    r"|\b(?:but|or)\s+(?:it\s+)?(?:could|might|may)\s+(?:also\s+)?be\s+\$?-?\d"
    r"|either\s+\$?-?\d",
    re.IGNORECASE,
)
_NEGATED_RE = re.compile(
    r"^\s*not\s+\$?-?\d[\d.,]*\$?\s*(?:[.;]|$)|^\s*\S+\s*(?:ではありません|ではない|じゃない|ではなかった)", re.IGNORECASE
)
_SENTENCE_END_RE = re.compile(r"\n|。|(?<!\d)\.(?!\d)|\.(?=\s|$)|\. ")
_NUMBERISH_RE = re.compile(rf"\d+\s*分の\s*\d+|-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)|{KANJI_NUMBER_RE.pattern}")


def find_final_answer(text: str, lang: str = "en") -> Candidate | None:
    """The last final-answer candidate of `text` (NFKC-normalized, reasoning stripped), or None."""
    found = final_candidates(text, lang)
    return found[-1] if found else None


def final_candidates(text: str, lang: str = "en") -> list[Candidate]:
    """Final-answer candidates of `text`, earliest first; the last one is the answer that counts.

    The grader walks them from the end and takes the first that holds a value."""
    text = text[-TAIL_CHARS:]
    langs = ["ja", "en"] if lang == "ja" else ["en", "ja"]
    strong = sorted(_boxed(text) + _strong_markers(text, langs) + _bold_last_line(text), key=lambda c: c.start)
    weak = _weak_markers(text, langs)
    if not strong:
        return weak
    last = strong[-1].start
    corrected = [c for c in weak if c.start > last and _CORRECTION_RE.search(text, last, c.start)]
    return strong + corrected


#: Words that take back an earlier stated answer, so a later conclusion supersedes it.
_CORRECTION_RE = re.compile(
    r"\b(?:wait|actually|oops|mistake|error|incorrect|wrong|re-?check|re-?evaluate|correction|let me redo)\b"
    r"|間違|誤り|訂正|修正|待って|いや、|見直",
    re.IGNORECASE,
)


def fallback_span(text: str) -> str:
    """The final paragraph of `text`: math-verify's fallback extraction reads its last expression."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text[-TAIL_CHARS:]) if p.strip()]
    return paragraphs[-1].strip()[-MAX_SPAN_CHARS:] if paragraphs else ""


def boxed_contents(text: str) -> list[tuple[int, str]]:
    """(position, content) of every `\\boxed{…}` / `\\fbox{…}` with balanced braces (`\\{`, `\\}` are
    text; a box closed only by reading a stray `\\}` as `}` — `\\boxed{185\\}` — is kept too)."""
    out = []
    strict, loose = None, None
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        strict = strict if strict is not None else _closing_braces(text, escapes=True)
        end = strict.get(m.end() - 1)
        if end is None:
            loose = loose if loose is not None else _closing_braces(text, escapes=False)
            end = loose.get(m.end() - 1)
            if end is not None:
                out.append((m.start(), text[m.end() : end].rstrip("\\")))
            continue
        out.append((m.start(), text[m.end() : end]))
    return out


def _closing_braces(text: str, escapes: bool) -> dict[int, int]:
    """Index of each `{` -> index of its `}`, in one pass; escapes: `\\{` and `\\}` are text."""
    pairs, stack, i = {}, [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and escapes:
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def _boxed(text: str) -> list[Candidate]:
    """Every non-empty box; a box names a hedge when other different boxes share its paragraph."""
    boxes = [(p, c) for p, c in boxed_contents(text) if c.strip() and len(c) <= MAX_SPAN_CHARS]
    breaks = [m.start() for m in re.finditer(r"\n\n", text)]
    paragraphs: dict[int, dict[str, str]] = {}  # paragraph index -> distinct boxed answers in it, in order
    for pos, content in boxes:
        paragraphs.setdefault(bisect.bisect(breaks, pos), {}).setdefault(_squash(content), content)
    out = []
    for pos, content in boxes:
        same_para = paragraphs[bisect.bisect(breaks, pos)]
        others = tuple(c for k, c in same_para.items() if k != _squash(content))
        hedged = bool(others) or bool(HEDGE_RE.search(content))
        out.append(Candidate(content, "boxed", hedged, others, pos, True))
    return out


def _squash(s: str) -> str:
    return re.sub(r"\s+|\\[,;!: ]|\{,\}", "", s).rstrip(".")


def _strong_markers(text: str, langs: list[str]) -> list[Candidate]:
    pattern = "|".join(p for lang in langs for p in _STRONG[lang])
    out = []
    for m in re.finditer(pattern, text, re.IGNORECASE):
        span, complete = _sentence_after(text, m.end())
        if _EMPTY_BOX_RE.search(span) or not _has_answer(span) or _NEGATED_RE.search(span):
            continue  # "The final answer is within \\boxed{}." echoes the instruction
        if _CHECKING_RE.search(text, max(0, m.start() - 60), m.start()):
            continue  # "We may check our answer: 17·44 = 748 …" verifies, it does not state
        out.append(Candidate(span, "marker", bool(HEDGE_RE.search(span)), (), m.start(), complete))
    return out


_FORMULA_RE = re.compile(r"\$[^$\n]+\$|\\\(|\\\[")
#: "check our answer: …" makes a marker's sentence a check of an answer, not a statement of one.
_CHECKING_RE = re.compile(r"\b(?:check|verify|confirm|double-check)(?:ing)?\s+(?:our|the|this|my|that)\s+$", re.IGNORECASE)
_EMPTY_BOX_RE = re.compile(r"\\boxed\s*\{\s*\}")


def _sentence_after(text: str, start: int) -> tuple[str, bool]:
    """The sentence from `start`, and whether it ends before the text does (not cut off)."""
    rest = text[start : start + 2000].lstrip(" \t*:：=、,，")
    if rest.startswith("\n"):
        rest = rest.lstrip()
    rest = _hide_math(rest)
    end = _SENTENCE_END_RE.search(rest)
    span = rest[: end.start()] if end else rest
    complete = end is not None or len(text) - start > 2000
    return _unhide_math(span).strip(" *"), complete


def _hide_math(s: str) -> str:
    """Mask periods and newlines inside $…$ so a sentence does not end inside a formula."""
    return re.sub(r"\$\$.*?\$\$|\$[^$]*\$|\\\[.*?\\\]|\\\(.*?\\\)", lambda m: m.group(0).replace(".", "\x01").replace("\n", "\x02"), s, flags=re.S)


def _unhide_math(s: str) -> str:
    return s.replace("\x01", ".").replace("\x02", "\n")


def _has_answer(span: str) -> bool:
    if EN_NUMBER_WORDS_RE.fullmatch(span.strip(" .!*")):  # "The answer is: seven"
        return True
    return bool(_NUMBERISH_RE.search(span) or re.search(r"\\[a-z]+|[a-zA-Z]\s*[=^]|\$", span))


def _bold_last_line(text: str) -> list[Candidate]:
    stripped = text.rstrip()
    line_start = stripped.rfind("\n") + 1
    line = stripped[line_start:]
    for b in reversed(list(re.finditer(r"\*\*(.+?)\*\*", line))):
        body = b.group(1)
        if _NUMBERISH_RE.search(body) or EN_NUMBER_WORDS_RE.fullmatch(body.strip(" .")) or "$" in body:
            return [Candidate(body, "bold", bool(HEDGE_RE.search(body)), (), line_start + b.start(), True)]
    return []


def _weak_markers(text: str, langs: list[str]) -> list[Candidate]:
    pattern = "|".join(_WEAK[lang] for lang in langs)
    offset = max(0, len(text) - 3000)
    out = []
    for m in re.finditer(pattern, text[offset:], re.IGNORECASE):
        span, complete = _sentence_after(text, offset + m.end())
        line_end = text.find("\n", offset + m.end())
        if line_end >= 0 and _FORMULA_RE.search(text, line_end):
            continue  # a formula on a later line is the more final statement ("全部で10通り…\n確率は $\\frac{1}{10}$")
        para_end = text.find("\n\n", offset + m.end())
        if para_end >= 0 and re.search(r"\d", text[para_end:]):
            continue  # so is a number in a later paragraph: the final paragraph speaks last
        if _NUMBERISH_RE.search(strip_separators(span)) or "$" in span or "\\(" in span or EN_NUMBER_WORDS_RE.search(span):
            out.append(Candidate(span, "conclusion", bool(HEDGE_RE.search(span)), (), offset + m.start(), complete))
    return out
