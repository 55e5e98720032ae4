"""grade_math: language-aware final-answer grading for math word problems and competition math."""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction

from rv_eval.grading.final_answer import HEDGE_RE, Candidate, boxed_contents, fallback_span, final_candidates
from rv_eval.grading.numbers import (
    EN_NUMBER_WORDS_RE,
    JA_FRACTION_RE,
    KANJI_NUMBER_RE,
    kanji_to_int,
    normalize_response,
    normalize_span,
    strip_separators,
    to_fraction,
    words_to_number,
)
from rv_eval.grading.reasoning import strip_reasoning
from rv_eval.grading.truncation import is_truncated
from rv_eval.schema import Grade

log = logging.getLogger(__name__)


class _NoTimerNotice(logging.Filter):
    """math-verify warns on every call made without its own timer; grade_math's deadline is the timer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimerNotice())

#: Responses longer than this many characters are cut to their tail before any regex runs.
MAX_RESPONSE_CHARS = 200_000


@dataclass(frozen=True)
class MathConfig:
    """Options of grade_math (defaults fit GSM8K/MGSM/AIME/MATH-style golds)."""

    parse_timeout_s: int = 3  # whole-grade deadline in seconds (SIGALRM, main thread only)
    accept_percent_as_fraction: bool = True  # "25%" also matches gold 0.25
    last_number_fallback: bool = True  # with no marker, grade math-verify's reading of the final paragraph


_DEFAULT = MathConfig()

_UNIT_WORD_RE = re.compile(
    r"^(?:dollars?|cents?|yen|euros?|pounds?|people|persons?|apples?|items?|units?|"
    r"円|個|人|本|枚|匹|頭|台|冊|回|歳|才|分|秒|時間|日|週間|か月|ヶ月|年|km|cm|mm|m|kg|g|度|点|通り|倍|羽|杯|缶|箱|足|着|件|ページ|メートル|キロ|グラム)"
)
_LATEX_MATH_RE = re.compile(r"\$\$?(.+?)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_LEAD_NUMBER_RE = re.compile(r"[$¥€£]?\s*(-?(?:\d+(?:\.\d+)?|\.\d+)(?:\s*/\s*\d+)?)(?:\s*(\\?%|percent|パーセント))?")


#: Extracted answers longer than this are cut (a pathological "answer" must not bloat the samples table).
MAX_EXTRACTED_CHARS = 500


@dataclass(frozen=True)
class Value:
    """A normalized final answer: exact `number` when it is one, else a LaTeX/plain expression."""

    text: str
    number: Fraction | None = None
    percent: bool = False
    parsed: tuple = ()  # math-verify's own parse, when the value came from its extraction


def grade_math(
    response: str, gold: str, lang: str = "en", config: MathConfig | None = None, stop_reason: str | None = None
) -> Grade:
    """Grade a math response against `gold` by its last clearly stated final answer (EN or JA).

    stop_reason: why generation stopped ("stop" / "length"); with "length" only a complete final
    statement before the cut counts. reason: ok, mismatch, no_answer, hedged, timeout, truncated
    (cut off, or a reasoning block never closed) or fallback (no marker: math-verify's reading of
    the final paragraph was graded; `correct` says whether it matched).
    """
    config = config or _DEFAULT
    _load_math_verify()  # its first import and parse take seconds: outside the grade's deadline
    final = strip_reasoning(normalize_response(str(response or "")[-MAX_RESPONSE_CHARS:]))
    if final.unclosed:
        return Grade(False, None, "truncated", stop_reason=stop_reason)
    try:
        with _deadline(config.parse_timeout_s):
            grade = _grade(final.text, str(gold), lang, config, is_truncated(stop_reason))
    except _Timeout:
        grade = Grade(False, None, "timeout")
    return replace(grade, stop_reason=stop_reason)


def _grade(text: str, gold: str, lang: str, config: MathConfig, cut: bool) -> Grade:
    cands = final_candidates(text, lang)
    if cut and cands and not cands[-1].complete:
        return Grade(False, None, "truncated")
    gold_v = gold_value(gold)
    for cand in reversed(cands):
        value = candidate_value(cand, keep_equation="=" in gold)
        if value is not None:
            return _judge(cand, _clip(value), gold_v, config)
    if cut:
        return Grade(False, None, "truncated")
    if not config.last_number_fallback:
        return Grade(False, None, "no_answer")
    value = fallback_value(text, keep_equation="=" in gold)
    if value is None:
        return Grade(False, None, "no_answer")
    value = _clip(value)
    return Grade(values_match(value, gold_v, config), value.text, "fallback", answer=answer_text(value))


def _clip(value: Value) -> Value:
    return replace(value, text=value.text[:MAX_EXTRACTED_CHARS])


def _judge(cand: Candidate, value: Value, gold_v: Value, config: MathConfig) -> Grade:
    answer = answer_text(value)
    if cand.hedged and not _same_answers(cand, value, config):
        listed = _listed_answers(cand)
        if listed is not None and re.search(r",|\\cup|\\{", gold_v.text) and values_match(listed, gold_v, config):
            return Grade(True, listed.text, "ok", answer=answer_text(listed))  # the gold is that list
        return Grade(False, value.text, "hedged", answer=answer)
    correct = values_match(value, gold_v, config)
    return Grade(correct, value.text, "ok" if correct else "mismatch", answer=answer)


def _listed_answers(cand: Candidate) -> Value | None:
    """The stated answers of a hedged candidate as one list (`\\boxed{1} and \\boxed{2}` -> "1, 2"),
    or None; it is right only when the gold is exactly that list or set."""
    if cand.source == "boxed" and cand.alternatives:
        members = [*cand.alternatives, cand.span]
    else:
        members = re.split(r"\s*(?:,|\band\b|\bor\b|と|または|、)\s*", strip_separators(cand.span))
    values = [candidate_value(Candidate(m, "boxed")) for m in members if m.strip()]
    if len(values) < 2 or any(v is None for v in values):
        return None
    return Value(", ".join(v.text for v in values))


_TIME_RE = re.compile(r"(?<![\d:.])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])")

#: Where CJK text touches a number: math-verify's extraction wants a word boundary there.
_CJK_GLUE_RE = re.compile(r"(?<=[\u3000-\u30ff\u4e00-\u9fff])(?=[-\d$¥\\])|(?<=[\d}$])(?=[\u3000-\u30ff\u4e00-\u9fff])")


def _has_words(text: str) -> bool:
    """True when `text` holds prose (words outside LaTeX commands and \\text{}), EN or JA."""
    bare = re.sub(r"\\text\{[^}]*\}|\\[A-Za-z]+(?:\{[A-Za-z*]+\})?", "", text)
    return bool(re.search(r"[A-Za-z]{3,}|[\u3040-\u30ff\u4e00-\u9fff]{2,}", bare))


def _is_prose(text: str) -> bool:
    """A gold written as sentences (a worked solution without a box), not as one expression."""
    bare = re.sub(r"\\text\{[^}]*\}|\\[A-Za-z]+(?:\{[A-Za-z*]+\})?", "", text)
    return bool(re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}", bare))


def fallback_value(text: str, keep_equation: bool = False) -> Value | None:
    """math-verify's own extraction of the last expression of the final paragraph (never a fragment)."""
    para = fallback_span(text)
    if not para:
        return None
    if len(para) <= 80 and "\n" not in para:  # a bare answer: the whole paragraph is the expression
        value = candidate_value(Candidate(para, "fallback"), keep_equation)
        words = EN_NUMBER_WORDS_RE.fullmatch(para.strip(" .")) is not None
        if value is not None and (words or (not _has_words(para) and (value.number is not None or _parse(value.text)))):
            return value
    times = list(_TIME_RE.finditer(para))
    if times and not re.search(r"\d", para[times[-1].end() :]):  # a clock time ends it: "starts at 12:00."
        return Value(times[-1].group(0))
    para = _CJK_GLUE_RE.sub(" ", normalize_span(para)).replace("¥", "")
    parsed = _parse(para, wrap=False)
    if not re.search(r"\$|\\\(|\\\[", para) and "\\" in para:
        parsed = _parse(para) or parsed  # LaTeX written without delimiters: read it as one formula
    if not parsed:
        return None
    value = candidate_value(Candidate(str(parsed[-1]), "fallback"), keep_equation)
    text = value.text if value is not None else str(parsed[-1])
    return Value(text, value.number if value is not None else None, False, tuple(parsed))


def gold_value(gold: str) -> Value:
    """Normalize a gold answer ("18", "025", "1,234", "864 \\mbox{ inches}^2", "\\frac{1}{2}") into a Value."""
    text = normalize_response(str(gold)).strip().strip("$")
    number = to_fraction(text)
    if number is not None:
        return Value(text, number)
    boxes = [(p, c) for p, c in boxed_contents(text) if c.strip()]
    if boxes:  # a worked solution as gold: its last box, with the boxes listed right before it
        listed = [boxes[-1][1]]
        for (p, c), (q, _) in zip(boxes[-2::-1], boxes[:0:-1], strict=False):
            between = text[text.index(c, p) + len(c) + 1 : q]  # from after this box to the next one
            if not _BOX_JOIN_RE.fullmatch(between):
                break
            listed.insert(0, c)
        text = ", ".join(listed)
    elif _is_prose(text):
        parsed = _parse(text, wrap=False)  # a gold written as prose: math-verify's reading of it
        if parsed:
            return Value(str(parsed[-1]), None, False, tuple(parsed))
    text = _LIST_JOIN_RE.sub(", ", text).strip(" ,$") if re.search(r"\$.*\$|\b(?:and|or)\b", text) else text
    return candidate_value(Candidate(text, "gold"), keep_equation=True) or Value(text)


#: What may stand between two listed boxes of a gold: a unit word and a joiner ("papers and", ", ", "$ and $").
_BOX_JOIN_RE = re.compile(r"\s*(?:\\text\{\s*)?(?:[A-Za-z]+\s*)?\}?\s*(?:\$|\\\)|\\\()?\s*(?:,|\band\b|\bor\b|\+*)?\s*(?:\$|\\\(|\\\))?\s*\\*")

_LIST_UNIT_RE = re.compile(r"(?<=\d)\s*(?:\\text\{\s*)?(?:km|cm|mm|m|kg|g|cents?|dollars?|units?)\b\}?(?=\s*[,}\])]|\s*$)")

#: "and" inside a listed answer: "19, 46, \\text{ and } 82", "6 \\text{ and } 8", "1, 2, and 3", "$12$ and $13$".
_IN_LIST_JOIN_RE = re.compile(
    r"(?:,\s*)?\\text\{\s*(?:and|or)\s*\}\s*|,\s*(?:and|or)\s+(?=[-\d$\\])|\s*\$\s*,?\s*and\s*\$\s*(?=[-\d\\])"
)

#: What joins the members of a listed answer: "1, 2 and 3", "$21,16$ or $11$", "6 \\text{ and } 8".
_LIST_JOIN_RE = re.compile(r"\s*,?\s*(?:\$\s*)?(?:\\text\{\s*(?:and|or)\s*\}|\b(?:and|or)\b|\\quad|\$\s*,\s*\$)(?:\s*\$)?\s*")


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
    """Normalize a final-answer span into one Value: an exact number, else a whole expression.

    keep_equation: the gold is an equation ("y = 2x + 3"), so do not cut at "=".
    """
    whole = cand.source in ("boxed", "gold", "fallback")  # the span is the answer itself
    span = _IN_LIST_JOIN_RE.sub(", ", normalize_span(cand.span))
    if "," in span:  # a unit after each listed number: "{35 cm, 4}"
        span = _LIST_UNIT_RE.sub("", span)
    tuple_like = bool(re.search(r"[(\[]", span)) and (whole or bool(re.match(r"\s*[(\[]", span)))
    span = strip_separators(span, commas=not tuple_like).strip()
    for pattern in _NEGATION_RES:
        span = pattern.sub("", span, count=1)
    if cand.source == "conclusion":
        span = _conclusion_result(span, keep_equation)
    math = _LATEX_MATH_RE.match(span)  # an answer that is one LaTeX formula: "$2 \cdot (1012)^2$ です"
    if not whole and not math:
        span = _predicate(_LABEL_RE.sub("", span, count=1))
        clause = _CLAUSE_END_RE.search(span)
        if clause and clause.start() > 0:
            span = span[: clause.start()]
    math = math or _LATEX_MATH_RE.search(span)
    if math:
        span = next(g for g in math.groups() if g is not None)
    in_math = bool(math) or whole  # letters after a number are variables: $2n$
    span = _clean_latex(span)
    if "=" in span and not keep_equation and cand.source in ("boxed", "marker", "bold", "conclusion", "fallback"):
        right = span.rsplit("=", 1)[1].strip()
        if right and not re.search(r"\\[lg]e|\\le|\\ge|[<>≤≥]", span):
            span = right
    span = span.strip(" *「」『』\"'`:：")
    if not span:
        return None
    return _numeric_value(span, boxed=in_math) or _expression_value(span)


#: Words that join a subject to its value in a sentence ("the largest $n$ is 34", "答えは5").
_COPULA_RE = re.compile(r"\s(?:is|are|was|equals|be|of|to)\s+(?!\s*(?:the|a|an)\b)|は|が|是|为|為|で(?=\s*[-\d$])")


def _predicate(span: str) -> str:
    """What a prose-led sentence says the value is: "The largest $n$ is 34" -> "34"."""
    if not re.match(r"\s*[A-Za-z\u3040-\u30ff\u4e00-\u9fff]", span) or EN_NUMBER_WORDS_RE.match(span.strip()):
        return span
    masked = re.sub(r"\$[^$]*\$", lambda m: "#" * len(m.group(0)), span)
    cuts = [m.end() for m in _COPULA_RE.finditer(masked)]
    for end in reversed(cuts):
        rest = span[end:].strip()
        if rest and (re.match(r"[-$\\(\[\d.]", rest) or EN_NUMBER_WORDS_RE.match(rest) or KANJI_NUMBER_RE.match(rest)):
            return rest
    return _conclusion_result(span, keep_equation=True)  # "Jane started 3 hours ago": its formula or number


def _conclusion_result(span: str, keep_equation: bool) -> str:
    """The result of a conclusion sentence: its last formula, else what follows its last "=",
    else its first number (a formula is never cut at a digit: "\\frac{2}{5}" stays whole)."""
    formulas = list(_LATEX_MATH_RE.finditer(span))
    if formulas:
        return formulas[-1].group(0)
    if "=" in span and not keep_equation:
        span = span.rsplit("=", 1)[1]
    m = _NUMBER_START_RE.search(span)
    return span[m.start() :] if m else span


_NUMBER_START_RE = re.compile(
    rf"[$¥€£]?\s*-?(?:\d|\.\d)|\d+\s*分の|{EN_NUMBER_WORDS_RE.pattern}|{KANJI_NUMBER_RE.pattern}", re.IGNORECASE
)


def _clean_latex(s: str) -> str:
    s = re.sub(r"\\(?:text|mathrm|textbf|mbox|operatorname)\s*\{\s*([^{}]*)\}", r" \1", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|\\circ|(?<!\\)\\[!,; ]", "", s)
    s = s.replace("\\$", "$").replace("\\%", "%").replace("\\left", "").replace("\\right", "")
    return re.sub(r"\s+", " ", s).strip()


_LATEX_FRACTION_RE = re.compile(r"(-?)\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")


def _numeric_value(span: str, boxed: bool = False) -> Value | None:
    plain = to_fraction(span)
    if plain is not None:
        return Value(span.strip(), plain)
    frac = _LATEX_FRACTION_RE.fullmatch(span.strip())
    if frac and int(frac.group(3)):  # \frac{1}{12}: exact, so 0.0833 can be read as its rounding
        number = Fraction(int(frac.group(2)), int(frac.group(3))) * (-1 if frac.group(1) else 1)
        return Value(span.strip(), number)
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
    span = re.sub(r"(?<=[)}\]\d])\s*[\u30a0-\u30ff\u4e00-\u9fff]{1,3}$", "", span)  # a unit after a formula: (\frac{2}{5}) 吨
    span = re.sub(r"(です|である|となります|になります|だ)$", "", span).strip()
    return Value(span) if span else None


class _Timeout(BaseException):
    """The grade ran past its deadline (a BaseException, so no library's `except Exception` hides it)."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise _Timeout after `seconds` (main thread only; worker threads rely on `_too_costly`)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _fire(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def values_match(pred: Value, gold: Value, config: MathConfig = _DEFAULT) -> bool:
    """Exact comparison for two numbers, math-verify on the two whole expressions otherwise."""
    pred, gold = _decimal_comma(pred, gold), _decimal_comma(gold, pred)
    if pred.number is not None and gold.number is not None:
        if pred.number == gold.number:
            return True
        if pred.percent and config.accept_percent_as_fraction and pred.number / 100 == gold.number:
            return True
        if _rounds_to(pred, gold.number) or _rounds_to(gold, pred.number):
            return True
        if not pred.parsed:
            return False
    return _math_verify(pred.text, gold.text, config, pred.parsed, gold.parsed)


def _decimal_comma(value: Value, other: Value) -> Value:
    """`1,22` against a decimal such as 1.22: the comma can only be a decimal comma there (a
    thousands group has three digits), so it is read as one."""
    m = re.fullmatch(r"\s*(-?\d+),(\d{1,2}|\d{4,})\s*", value.text)
    if not m or value.number is not None or other.number is None or "." not in other.text:
        return value
    return Value(value.text, Fraction(f"{m.group(1)}.{m.group(2)}"))


def _rounds_to(pred: Value, gold: Fraction) -> bool:
    """A decimal with at least two places that is `gold` rounded to those places (0.0833 for 1/12)."""
    m = re.search(r"\.(\d{2,})\s*$", pred.text)
    return bool(m) and round(gold, len(m.group(1))) == pred.number


_EXTRACTION = None


def _load_math_verify() -> None:
    """Import math-verify and build its parsers once (a first parse in a fresh process)."""
    global _EXTRACTION
    if _EXTRACTION is None:
        from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

        _EXTRACTION = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
        parse("$\\frac{1}{2}$", _EXTRACTION, parsing_timeout=None)


def _parse(text: str, wrap: bool = True) -> list:
    """math-verify's parse with both its LaTeX and expression extraction (no own timer: the
    grade's deadline bounds it). wrap: read `text` as one formula."""
    from math_verify import parse

    _load_math_verify()
    target = f"${text}$" if wrap else text
    try:
        return parse(target, _EXTRACTION, parsing_timeout=None)
    except Exception:  # noqa: BLE001 - a malformed answer is no answer
        return []


def _math_verify(pred: str, gold: str, config: MathConfig, pred_parsed: tuple = (), gold_parsed: tuple = ()) -> bool:
    from math_verify import verify

    if _squash(pred) == _squash(gold):
        return True  # the same text ("12:00") is the same answer
    gold_parsed = list(gold_parsed) or _parse(gold)
    pred_parsed = list(pred_parsed) or _parse(pred)
    if not gold_parsed or not pred_parsed:
        return _squash(pred) == _squash(gold)
    if _too_costly(gold_parsed[0]) or _too_costly(pred_parsed[0]):
        return _squash(pred_parsed[-1]) == _squash(gold_parsed[-1])  # a power tower: compare as written
    if _exact_numbers_differ(gold_parsed[0], pred_parsed[0]):
        return False
    return bool(verify(gold_parsed, pred_parsed[0], timeout_seconds=None))


def _too_costly(expr: object) -> bool:
    """True for expressions whose value sympy cannot bound in time: power towers (9^{9^{9^9}}),
    huge exponents or factorials. They are compared as written, never evaluated."""
    import sympy

    if not isinstance(expr, sympy.Basic):
        return False
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.base.is_number and _huge_exponent(node.exp):
            return True
        if isinstance(node, sympy.factorial) and node.args[0].is_Integer and int(node.args[0]) > 10_000:
            return True
    return False


def _huge_exponent(exp: object) -> bool:
    """An exponent over 10^5, or an integer power tower (9^{9^9}) whose value is that big."""
    import math

    import sympy

    if exp.is_Integer:
        return abs(int(exp)) > 100_000
    if isinstance(exp, sympy.Pow) and exp.base.is_Integer and abs(int(exp.base)) > 1:
        if exp.exp.is_Integer:
            return int(exp.exp) * math.log10(abs(int(exp.base))) > 5
        return _huge_exponent(exp.exp) or isinstance(exp.exp, sympy.Pow)
    return False


def answer_text(value: Value) -> str:
    """The normalized parsed answer as text (what maj@k votes on): "1/2" for 0.5, \\frac{1}{2} and 50%."""
    if value.number is not None:
        return _format(value.number)
    parsed = _parse(value.text)
    if parsed and not _too_costly(parsed[0]):
        return str(parsed[0])[:MAX_EXTRACTED_CHARS]
    return _squash(value.text)[:MAX_EXTRACTED_CHARS]
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
