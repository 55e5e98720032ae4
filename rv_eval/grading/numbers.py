"""Number normalization for answers: NFKC, separators, units, currency, kanji numerals.

`normalize_response` prepares a whole response (superscripts, NFKC); everything else works on a
single candidate answer (already cut out of the response): it turns "1,234円", "１８", "二万五千",
"マイナス8", "3分の2", "$18.00", "025" or "{,}"-separated LaTeX into text the comparison step reads.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

_KANJI_DIGITS = {
    "〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
    "六": 6, "七": 7, "八": 8, "九": 9, "壱": 1, "弐": 2, "参": 3, "两": 2, "兩": 2,
}
_KANJI_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "千": 1000, "阡": 1000}
_KANJI_BIG_UNITS = {"万": 10**4, "萬": 10**4, "億": 10**8, "兆": 10**12}
_KANJI_CHARS = "".join([*_KANJI_DIGITS, *_KANJI_SMALL_UNITS, *_KANJI_BIG_UNITS])

#: A number written with kanji numerals, possibly mixed with ASCII digits ("1万2千", "2万5000").
KANJI_NUMBER_RE = re.compile(rf"(?<![0-9.])(?:(?:[0-9.]*[{_KANJI_CHARS}])+[0-9]*|[0-9.]+(?=[{_KANJI_CHARS}]))")

#: A plain decimal number, optionally signed, with optional thousands separators.
NUMBER_RE = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")

_SEPARATOR_RES = [
    (re.compile(r"(?<=\d)\{,\}(?=\d)"), ""),  # LaTeX 1{,}234
    (re.compile(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))"), ""),  # LaTeX 10,\!080
    (re.compile(r"(?<=\d)\\[,;:! ](?=\d)"), ""),  # LaTeX thin spaces 1\,234
    (_PLAIN_COMMA_RE := re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), ""),  # 1,234 (also 1,234,567)
    (re.compile(r"(?<=\d)[ \u00a0\u202f\u2009'](?=\d{3}(?!\d))"), ""),  # 1 234 / 1'234
]


def nfkc(text: str) -> str:
    """NFKC-normalize and map the usual look-alikes (minus signs, ideographic separators)."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\u2212", "-").replace("\u2013", "-").replace("\x00", "")


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
#: A unit written with a superscript power (m², cm³, km²): the power belongs to the unit.
_SUPERSCRIPT_UNIT_RE = re.compile(r"(?<![A-Za-z])(k?m|cm|mm|ft|in|yd|mi|inch(?:es)?|feet|foot|meters?|metres?)[²³]")
_SUPERSCRIPT_RE = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")


def normalize_response(text: str) -> str:
    """`nfkc`, after writing superscript powers as `^{n}` (NFKC would turn 2² into 22) and
    dropping the power of a unit (`5 m²` is 5 square metres, not 5·m²)."""
    text = text.replace("\\$", "")  # an escaped dollar is a currency sign, never a formula delimiter
    text = _SUPERSCRIPT_UNIT_RE.sub(r"\1", text)
    text = _SUPERSCRIPT_RE.sub(lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}", text)
    return nfkc(text)


_JA_NEGATIVE_RE = re.compile(r"(?:マイナス|負の)\s*")
_BIG_KANJI_RE = re.compile(rf"(?<![0-9.{_KANJI_CHARS}])[0-9.{_KANJI_CHARS}]*[{_KANJI_CHARS}][0-9.{_KANJI_CHARS}]*")


_KILO_UNIT_RE = re.compile(r"(\d)\s*千(?=[克米瓦])")


def normalize_span(text: str) -> str:
    """Language normalization of an answer span: マイナス/負の as a minus sign, kanji numerals
    (二万五千, 1万2千) as digits, 3分の2 as 2/3."""
    text = _JA_NEGATIVE_RE.sub("-", text)
    text = _KILO_UNIT_RE.sub(r"\1 k", text)  # 4000千克 is 4000 kg (Chinese drift), not 4,000,000
    text = _BIG_KANJI_RE.sub(lambda m: str(kanji_to_int(m.group(0))) if kanji_to_int(m.group(0)) is not None else m.group(0), text)
    return JA_FRACTION_RE.sub(lambda m: f"{m.group(2)}/{m.group(1)}" if int(m.group(1)) else m.group(0), text)


def strip_separators(text: str, commas: bool = True) -> str:
    """Remove thousands separators between digit groups (`,` `，` spaces `{,}` `\\,`).

    commas=False keeps plain commas (tuples and intervals such as `(2,12) \\cup (12,102)`).
    """
    for pattern, repl in _SEPARATOR_RES:
        if commas or pattern is not _PLAIN_COMMA_RE:
            text = pattern.sub(repl, text)
    return text


def kanji_to_int(text: str) -> int | None:
    """Value of a kanji numeral such as 千二百, 二万五千, 三十, 1万2千 or 2万5000; None if not one."""
    if not text or not any(ch in _KANJI_CHARS for ch in text):
        return None
    total, section, digits = 0, 0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            digits += ch
        elif ch in _KANJI_DIGITS:
            digits += str(_KANJI_DIGITS[ch])
        elif ch in _KANJI_SMALL_UNITS:
            section += _take(digits, default=1) * _KANJI_SMALL_UNITS[ch]
            digits = ""
        elif ch in _KANJI_BIG_UNITS:
            section += _take(digits, default=0)
            total += (section or 1) * _KANJI_BIG_UNITS[ch]
            section, digits = 0, ""
        else:
            return None
    value = total + section + _take(digits, default=0)
    return int(value) if value == int(value) else None


def _take(digits: str, default: int) -> Fraction | int:
    if not digits:
        return default
    try:
        return Fraction(digits)
    except ValueError:
        return default


def to_fraction(text: str) -> Fraction | None:
    """Exact value of a plain number string ("18", "-0.5", "1,234", "3/4", "025", "18.0"); else None."""
    text = text.strip()
    if re.fullmatch(r"-?(?:0|\d{4,}),\d+", text):  # a decimal comma: 0,111 1000,99 (but 1,2 is a list)
        text = text.replace(",", ".")
    text = strip_separators(text).rstrip(".")
    m = re.fullmatch(r"(-?(?:\d+(?:\.\d+)?|\.\d+))(?:\s*/\s*(\d+(?:\.\d+)?))?", text)
    if not m:
        kanji = kanji_to_int(text)
        return Fraction(kanji) if kanji is not None else None
    num = Fraction(m.group(1))
    if m.group(2) is None:
        return num
    den = Fraction(m.group(2))
    return num / den if den else None


_EN_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_EN_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_EN_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9}
#: A number written in English words ("eighteen", "twenty-five", "one hundred and two", "1 million").
EN_NUMBER_WORDS_RE = re.compile(
    r"(?:(?<![\d.])\d+(?:\.\d+)?\s+(?:hundred|thousand|million|billion)\b|"
    r"\b(?:" + "|".join([*_EN_UNITS, *_EN_TENS, *_EN_SCALES]) + r")\b(?:[\s-]+(?:and\s+)?(?:"
    + "|".join([*_EN_UNITS, *_EN_TENS, *_EN_SCALES]) + r")\b)*)",
    re.IGNORECASE,
)


def words_to_number(text: str) -> Fraction | None:
    """Value of an English number phrase ("eighteen", "twenty-five", "2.5 million"); else None."""
    total, current = Fraction(0), Fraction(0)
    seen = False
    for tok in re.split(r"[\s-]+", text.lower().strip()):
        if tok in ("", "and"):
            continue
        if re.fullmatch(r"\d+(?:\.\d+)?", tok):
            current += Fraction(tok)
        elif tok in _EN_UNITS:
            current += _EN_UNITS[tok]
        elif tok in _EN_TENS:
            current += _EN_TENS[tok]
        elif tok == "hundred":
            current = (current or 1) * 100
        elif tok in _EN_SCALES:
            total += (current or 1) * _EN_SCALES[tok]
            current = Fraction(0)
        else:
            return None
        seen = True
    return total + current if seen else None


#: A Japanese fraction "3分の2" (= 2/3).
JA_FRACTION_RE = re.compile(r"(?<!\d)(\d+)\s*分の\s*(\d+)")
