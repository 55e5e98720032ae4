"""grade_math: language-aware final-answer grading for math word problems and competition math."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from fractions import Fraction

from rv_eval.grading.final_answer import HEDGE_RE, Candidate, find_final_answer
from rv_eval.grading.numbers import (
    EN_NUMBER_WORDS_RE,
    JA_FRACTION_RE,
    KANJI_NUMBER_RE,
    kanji_to_int,
    nfkc,
    strip_separators,
    to_fraction,
    words_to_number,
)
from rv_eval.grading.reasoning import strip_reasoning
from rv_eval.grading.truncation import complete_part, is_truncated
from rv_eval.schema import Grade

log = logging.getLogger(__name__)

#: Responses longer than this many characters are cut to their tail before any regex runs.
MAX_RESPONSE_CHARS = 200_000


@dataclass(frozen=True)
class MathConfig:
    """Options of grade_math (defaults fit GSM8K/MGSM/AIME/MATH-style golds)."""

    parse_timeout_s: int = 3  # math-verify's own SIGALRM timeout (main thread only)
    accept_percent_as_fraction: bool = True  # "25%" also matches gold 0.25
    last_number_fallback: bool = True  # use the bare last number when no marker is found


_DEFAULT = MathConfig()

_UNIT_WORD_RE = re.compile(
    r"^(?:dollars?|cents?|yen|euros?|pounds?|people|persons?|apples?|items?|units?|"
    r"円|個|人|本|枚|匹|頭|台|冊|回|歳|才|分|秒|時間|日|週間|か月|ヶ月|年|km|cm|mm|m|kg|g|度|点|通り|倍|羽|杯|缶|箱|足|着|件|ページ|メートル|キロ|グラム)"
)
_LATEX_MATH_RE = re.compile(r"\$\$?(.+?)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_LEAD_NUMBER_RE = re.compile(r"[$¥€£]?\s*(-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?)\s*(\\?%|percent|パーセント)?")


#: Extracted answers longer than this are cut (a pathological "answer" must not bloat the samples table).
MAX_EXTRACTED_CHARS = 500


@dataclass(frozen=True)
class Value:
    """A normalized final answer: exact `number` when it is one, else a LaTeX/plain expression."""

    text: str
    number: Fraction | None = None
    percent: bool = False


def grade_math(response: str, gold: str, lang: str = "en", config: MathConfig | None = None,
               stop_reason: str | None = None) -> Grade:
    """Grade a math response against `gold` by its FINAL answer, in English or Japanese.

    reason: ok, mismatch, no_answer, unclosed_think, hedged, timeout, truncated (cut off at the
    token budget, `stop_reason="length"`, with no complete final statement before the cut), or
    last_number (no marker was found and the bare last number was graded; `correct` says whether
    it matched).
    """
    config = config or _DEFAULT
    text = nfkc(str(response or "")[-MAX_RESPONSE_CHARS:])
    final = strip_reasoning(text)
    if final.unclosed:
        return Grade(False, None, "unclosed_think")
    cand = find_final_answer(complete_part(final.text, stop_reason), lang)
    if is_truncated(stop_reason) and (cand is None or cand.source == "last_number"):
        return Grade(False, None, "truncated")
    if cand is None or (cand.source == "last_number" and not config.last_number_fallback):
        return Grade(False, None, "no_answer")
    value = candidate_value(cand, keep_equation="=" in str(gold))
    if value is None:
        return Grade(False, None, "no_answer")
    value = Value(value.text[:MAX_EXTRACTED_CHARS], value.number, value.percent)
    try:
        if cand.hedged and not _same_answers(cand, value, config):
            return Grade(False, value.text, "hedged")
        correct = values_match(value, gold_value(gold), config)
    except _Timeout:
        return Grade(False, value.text, "timeout")
    if cand.source == "last_number":
        return Grade(correct, value.text, "last_number")
    return Grade(correct, value.text, "ok" if correct else "mismatch")


def gold_value(gold: str) -> Value:
    """Normalize a gold answer ("18", "025", "1,234", "864 \\mbox{ inches}^2", "\\frac{1}{2}") into a Value."""
    text = nfkc(str(gold)).strip().strip("$")
    number = to_fraction(text)
    if number is not None:
        return Value(text, number)
    return candidate_value(Candidate(text, "gold"), keep_equation=True) or Value(text)


_CLAUSE_END_RE = re.compile(
    r",?\s+(?:because|since|as|which|given|from|when|if|where)\b|(?<!,)\s[(（]|[(（](?:since|because|as|from)\b|;|（|なぜなら|理由"
)
_NEGATION_RES = [
    re.compile(r"^\s*not\s+[^,;]*?,?\s*(?:but|it\s+is|it's|rather)\s+", re.IGNORECASE),
    re.compile(r"^[^。]*?(?:ではなく|じゃなく)[、,\s]*"),
]
_LABEL_RE = re.compile(r"^[^\d:：=$\\\-]{1,15}[:：]\s*")


def _same_answers(cand: Candidate, value: Value, config: MathConfig) -> bool:
    """True when a candidate's other boxed answers are all equal to it (`15\\frac{39}{40}` and `\\frac{639}{40}`)."""
    if cand.source != "boxed" or not cand.alternatives or HEDGE_RE.search(cand.span):
        return False
    for alt in cand.alternatives:
        other = candidate_value(Candidate(alt, "boxed"))
        if other is None or not values_match(other, value, config):
            return False
    return True


def candidate_value(cand: Candidate, keep_equation: bool = False) -> Value | None:
    """Normalize the final-answer span into one Value (the first answer in the span).

    keep_equation: the gold is an equation ("y = 2x + 3"), so do not cut at "=".
    """
    tuple_like = bool(re.search(r"[(\[]", cand.span)) and (
        cand.source in ("boxed", "gold") or bool(re.match(r"\s*[(\[]", cand.span))
    )
    span = strip_separators(cand.span, commas=not tuple_like).strip()
    for pattern in _NEGATION_RES:
        span = pattern.sub("", span, count=1)
    math = _LATEX_MATH_RE.match(span)  # an answer that is one LaTeX formula: "$2 \cdot (1012)^2$ です"
    if cand.source not in ("boxed", "gold") and not math:
        clause = _CLAUSE_END_RE.search(span)
        if clause and clause.start() > 0:
            span = span[: clause.start()]
        span = _LABEL_RE.sub("", span, count=1)
    math = math or _LATEX_MATH_RE.search(span)
    if math:
        span = next(g for g in math.groups() if g is not None)
    in_math = bool(math) or cand.source in ("boxed", "gold")  # letters after a number are variables: $2n$
    span = _clean_latex(span)
    if "=" in span and not keep_equation and cand.source in ("boxed", "marker", "bold"):
        right = span.rsplit("=", 1)[1].strip()
        if right:
            span = right
    span = span.strip(" *「」『』\"'`:：")
    if not span:
        return None
    return _numeric_value(span, boxed=in_math) or _expression_value(span)


def _clean_latex(s: str) -> str:
    s = re.sub(r"\\(?:text|mathrm|textbf|mbox|operatorname)\s*\{\s*([^{}]*)\}", r" \1", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|\\circ|(?<!\\)\\[!,; ]", "", s)
    s = s.replace("\\$", "$").replace("\\%", "%").replace("\\left", "").replace("\\right", "")
    return re.sub(r"\s+", " ", s).strip()


def _numeric_value(span: str, boxed: bool = False) -> Value | None:
    frac = JA_FRACTION_RE.match(span)
    if frac and int(frac.group(1)):
        number = Fraction(int(frac.group(2)), int(frac.group(1)))
        return Value(_format(number), number)
    words = EN_NUMBER_WORDS_RE.match(span)
    if words:
        number = words_to_number(words.group(0))
        if number is not None and _is_trailing_words(span[words.end() :]):
            return Value(_format(number), number)
    kanji = KANJI_NUMBER_RE.match(span)
    if kanji and any(not ch.isascii() for ch in kanji.group(0)):
        n = kanji_to_int(kanji.group(0))
        if n is not None:
            return Value(str(n), Fraction(n))
    m = _LEAD_NUMBER_RE.match(span)
    if not m:
        return None
    if not _is_trailing_words(span[m.end() :], boxed):
        return None
    number = to_fraction(m.group(1))
    if number is None:
        return None
    return Value(_format(number), number, percent=bool(m.group(2)))


def _is_trailing_words(raw_rest: str, boxed: bool = False) -> bool:
    """True when what follows a number is units/words, not more math (`18 apples` vs `2k+2`, `1,-2`)."""
    rest = raw_rest.strip().rstrip(".。")
    if not rest:
        return True
    if re.match(r"^[,，、]\s*[-\d]", rest):  # a list or tuple: "1,-2", "3, 5, 7"
        return False
    if re.search(r"[=+*/\\]|-\s*\d", rest[:12]) or re.match(r"^[a-zA-Z](?![a-zA-Z])\s*\^", rest):
        return False  # algebra: 2k+2, 6r^2-4r-24, 5r^5 (but "cm^2" and "inches^2" are units)
    if boxed and re.match(r"^[a-zA-Z]", raw_rest) and not _UNIT_WORD_RE.fullmatch(rest.split()[0]):
        return False  # "2k", "5r" inside \boxed{} (units there come as \text{…} with a space)
    if re.match(r"^[a-zA-Z](?![a-zA-Z])", raw_rest) and not _UNIT_WORD_RE.fullmatch(raw_rest[0]):
        return False  # a single letter glued to the number is a variable: "2n", "3x" (but "5m", "3g")
    if _UNIT_WORD_RE.match(rest) or re.match(r"^[a-zA-Z\u3040-\u30ff\u4e00-\u9fff]", rest):
        return True
    return bool(re.match(r"^[,，、)(（）]", rest))


def _format(number: Fraction) -> str:
    if number.denominator == 1:
        return str(number.numerator)
    return f"{number.numerator}/{number.denominator}"


def _expression_value(span: str) -> Value | None:
    span = span.rstrip(".。").strip()
    span = re.sub(r"(です|である|となります|になります|だ)$", "", span).strip()
    return Value(span) if span else None


class _Timeout(Exception):
    pass


def values_match(pred: Value, gold: Value, config: MathConfig = _DEFAULT) -> bool:
    """Exact comparison for two numbers, math-verify on the single candidate otherwise."""
    if pred.number is not None and gold.number is not None:
        if pred.number == gold.number:
            return True
        return bool(pred.percent and config.accept_percent_as_fraction and pred.number / 100 == gold.number)
    return _math_verify(pred.text, gold.text, config)


def _math_verify(pred: str, gold: str, config: MathConfig) -> bool:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    from math_verify.errors import TimeoutException

    in_main = threading.current_thread() is threading.main_thread()
    t = config.parse_timeout_s if in_main else None
    extraction = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    try:
        gold_parsed = parse(f"${gold}$", extraction, parsing_timeout=t)
        pred_parsed = parse(f"${pred}$", extraction, parsing_timeout=t)
        if not gold_parsed or not pred_parsed:
            return _squash(pred) == _squash(gold)
        if _exact_numbers_differ(gold_parsed[0], pred_parsed[0]):
            return False
        return bool(verify(gold_parsed, pred_parsed[0], timeout_seconds=t))
    except TimeoutException as e:
        raise _Timeout from e


def _exact_numbers_differ(gold: object, pred: object) -> bool:
    """True when both are exact constant expressions (no decimals, no symbols) of different value.

    math-verify compares constants numerically with a tolerance, so tiny exact values such as
    2^{98}/99! and 1/4^{2016} would both round to 0 and match; their ratio tells them apart."""
    import sympy

    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr)):
        return False
    try:
        if not (gold.is_number and pred.is_number) or gold.atoms(sympy.Float) or pred.atoms(sympy.Float):
            return False
        if gold.is_zero or pred.is_zero:
            return False  # math-verify compares zeros well
        ratio = complex(sympy.N(pred / gold, 30))
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return False
    return abs(ratio - 1) > 1e-12


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()
