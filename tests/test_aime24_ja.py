"""Checks of the project's own Japanese AIME 2024 translation (`data/aime24_ja.jsonl`).

The translation must keep every number and every LaTeX math segment of the English source
(`aime24/test.jsonl` in the benchmark data folder), and for the 15 AIME 2024 I problems its numbers
must agree with PolyMath's expert translation (`polymath/ja/high.jsonl`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from rv_eval.paths import DATA_DIR

JA_FILE = DATA_DIR / "aime24_ja.jsonl"
FIELDS = ["id", "url", "problem", "answer"]

#: PolyMath `high-ja-<k>` -> AIME 2024 I problem number (see shared/data/MANIFEST.md).
POLYMATH_TO_AIME24_I = {14 + i: p for i, p in enumerate([12, 13, 14, 15, 2, 3, 4, 5, 6, 7, 8, 9, 1, 10, 11])}

#: Numbers (ours minus PolyMath's) that differ because PolyMath translated a different English
#: statement. AIME I P8: our source says "two of the circles are tangent to AB and BC"; PolyMath's
#: rewording ("the first circle is tangent to AB ... the last to AC") has no "two".
POLYMATH_NUMBER_DIFF = {8: Counter({"2": 1})}

# Math segments: $$..$$, $..$, \(..\), \[..\], and equation/align environments.
_MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$|\$(?P<d>.+?)\$|\\\((?P<p>.+?)\\\)|\\\[(?P<b>.+?)\\\]"
    r"|\\begin\{(?P<env>equation\*?|align\*?)\}(?P<e>.+?)\\end\{(?P=env)\}",
    re.DOTALL,
)
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)
_TEXT_ARG = re.compile(r"\\text\{[^{}]*\}")  # prose inside math (e.g. \text{ and }) may be translated

# English numbers written as words; the translation writes them as digits ("four times" -> "4回").
_EN_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
_EN_NUMBER_WORD = re.compile(r"\b(" + "|".join(_EN_WORDS) + r")\b")
_EN_PHRASES = {"root of unity": "root of 1", "unit length": "length 1"}  # "1の13乗根", "長さ1の線分"

_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff]")
_JAPANESE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def _read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def math_segments(text: str) -> Counter[str]:
    """Multiset of the LaTeX math segments of `text`, normalised for comparison.

    Whitespace is dropped, trailing sentence punctuation inside a segment is dropped (English puts
    "." inside "$S.$", Japanese puts "。" after it), and `\\text{...}` arguments are blanked because
    they are prose.
    """
    segments: Counter[str] = Counter()
    for m in _MATH.finditer(text):
        body = next(g for g in (m["dd"], m["d"], m["p"], m["b"], m["e"]) if g is not None)
        body = re.sub(r"\s+", "", _TEXT_ARG.sub(r"\\text{}", body))
        segments[body.rstrip(".,;:。、")] += 1
    return segments


def numbers(text: str, lang: str) -> Counter[str]:
    """Multiset of the numbers (digit runs) in `text`; English number words count as digits."""
    text = unicodedata.normalize("NFKC", text)  # full-width digits -> ASCII
    if lang == "en":
        text = text.lower()
        for phrase, digits in _EN_PHRASES.items():
            text = text.replace(phrase, digits)
        text = _EN_NUMBER_WORD.sub(lambda m: str(_EN_WORDS.index(m[1])), text)
    return Counter(re.findall(r"\d+", text))


def prose(text: str) -> str:
    """`text` without math segments and asymptote figures."""
    return _MATH.sub(" ", _ASY.sub(" ", text))


def aime_part_and_number(url: str) -> tuple[str, int]:
    """("I" | "II", problem number) from an AoPS wiki URL."""
    m = re.search(r"2024_AIME_(I|II)_Problems/Problem_(\d+)$", url)
    assert m, f"unexpected url {url}"
    return m[1], int(m[2])


@pytest.fixture(scope="module")
def english(shared_data: Path) -> list[dict]:
    """The English AIME 2024 rows."""
    return _read_jsonl(shared_data / "aime24" / "test.jsonl")


@pytest.fixture(scope="module")
def japanese() -> list[dict]:
    """Our Japanese rows."""
    return _read_jsonl(JA_FILE)


@pytest.fixture(scope="module")
def pairs(english, japanese) -> list[tuple[dict, dict]]:
    """(English row, Japanese row) matched by id."""
    by_id = {r["id"]: r for r in japanese}
    return [(en, by_id[en["id"]]) for en in english]


def test_ids_urls_and_answers_match_english(english, japanese):
    assert len(japanese) == 30
    assert [list(r) for r in japanese] == [FIELDS] * 30
    assert [(r["id"], r["url"], r["answer"]) for r in japanese] == [
        (r["id"], r["url"], r["answer"]) for r in english
    ]
    assert all(isinstance(r["id"], int) and isinstance(r["answer"], str) for r in japanese)


def test_every_problem_is_mostly_japanese(japanese):
    for r in japanese:
        text = prose(r["problem"])
        assert _KANA.search(text), r["id"]
        n_ja, n_latin = len(_JAPANESE.findall(text)), len(_LATIN.findall(text))
        assert n_ja / (n_ja + n_latin) > 0.75, (r["id"], n_ja, n_latin)


def test_register_is_consistent(japanese):
    """である-style throughout, and every problem asks with 〜を求めよ or 〜はいくつ/いくらか。"""
    for r in japanese:
        text = r["problem"]
        assert "です" not in text and "ます。" not in text, r["id"]
        assert "求めよ。" in text or re.search(r"(いくつ|いくら)か。", text), r["id"]


def test_numbers_match_english(pairs):
    for en, ja in pairs:
        assert numbers(ja["problem"], "ja") == numbers(en["problem"], "en"), en["id"]


def test_math_segments_match_english(pairs):
    for en, ja in pairs:
        assert math_segments(ja["problem"]) == math_segments(en["problem"]), en["id"]


def test_figures_are_kept_verbatim(pairs):
    for en, ja in pairs:
        assert _ASY.findall(ja["problem"]) == _ASY.findall(en["problem"]), en["id"]


def test_numbers_match_polymath_part_one(shared_data: Path, japanese):
    polymath = {r["id"]: r for r in _read_jsonl(shared_data / "polymath" / "ja" / "high.jsonl")}
    ours = {aime_part_and_number(r["url"]): r for r in japanese}
    assert sorted(POLYMATH_TO_AIME24_I.values()) == list(range(1, 16))
    for k, problem in POLYMATH_TO_AIME24_I.items():
        theirs, mine = polymath[f"high-ja-{k}"], ours[("I", problem)]
        assert int(theirs["answer"]) == int(mine["answer"]), problem
        diff = numbers(mine["problem"], "ja")
        diff.subtract(numbers(theirs["question"], "ja"))
        expected = POLYMATH_NUMBER_DIFF.get(problem, Counter())
        assert +diff == expected and -diff == Counter(), (problem, dict(diff))


def test_checks_catch_a_changed_number_or_formula():
    en = r"Find the remainder when $2^{10}$ is divided by 1000, using two steps."
    ja = r"$2^{10}$ を1000で割った余りを、2段階で求めよ。"
    assert numbers(ja, "ja") == numbers(en, "en")
    assert math_segments(ja) == math_segments(en)
    assert numbers(ja.replace("1000", "100"), "ja") != numbers(en, "en")
    assert numbers(ja.replace("2段階", "3段階"), "ja") != numbers(en, "en")
    assert math_segments(ja.replace("2^{10}", "2^{11}")) != math_segments(en)
    assert math_segments(r"\(x\text{ および }y.\)") == math_segments(r"$x\text{ and }y$")
