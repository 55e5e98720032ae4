"""response_language: the language mix of a response (Japanese, English, Chinese-only hanzi, mixed).

Counted on letters only, after removing code blocks, LaTeX and reasoning tags, sentence by
sentence. Kana marks Japanese (hanzi without kana is Chinese); Latin letters count half a CJK
character, since an English word carries about as much as two Japanese characters.
"""

from __future__ import annotations

import re
import unicodedata

from rv_eval.grading.numbers import nfkc

#: Share of the weighted letters one language needs to name the response; below it is "mixed".
DOMINANT_SHARE = 0.75
#: Kana share among CJK characters from which CJK text counts as Japanese rather than Chinese.
KANA_SHARE_JA = 0.05

_STRIP_RES = [
    re.compile(r"```.*?(?:```|$)", re.DOTALL),
    re.compile(r"`[^`\n]*`"),
    re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|\\\[.*?\\\]|\\\(.*?\\\)", re.DOTALL),
    re.compile(r"\\[a-zA-Z]+"),
    re.compile(r"</?(?:think|thinking|reasoning)>", re.IGNORECASE),
    re.compile(r"https?://\S+"),
]


def script_counts(text: str) -> dict[str, int]:
    """Letters per script: kana, han, latin, hangul, other."""
    counts = {"kana": 0, "han": 0, "latin": 0, "hangul": 0, "other": 0}
    for ch in text:
        if not ch.isalpha():
            continue
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
            counts["kana"] += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or o == 0x3005:
            counts["han"] += 1
        elif ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
            counts["latin"] += 1
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
            counts["hangul"] += 1
        else:
            counts["other"] += 1
    return counts


def response_language(text: str) -> str:
    """"ja", "en", "zh", "mixed", "other" or "empty" for a response's prose.

    Each sentence or line is given one language (a sentence with any kana is Japanese, even with
    English names or formulas in it; hanzi without kana is Chinese; Latin-only is English), and
    the response is the language holding at least DOMINANT_SHARE of the weighted letters.
    """
    text = nfkc(str(text or ""))
    for pattern in _STRIP_RES:
        text = pattern.sub(" ", text)
    weights = {"ja": 0.0, "zh": 0.0, "en": 0.0, "other": 0.0}
    for segment in _SEGMENT_RE.split(text):
        lang, weight = _segment_language(script_counts(segment))
        weights[lang] += weight
    total = sum(weights.values())
    if total == 0:
        return "empty" if not text.strip() else "other"
    top = max(weights, key=weights.get)
    return top if weights[top] / total >= DOMINANT_SHARE else "mixed"


_SEGMENT_RE = re.compile(r"\n+|[。！？!?]|\.(?=\s)")


def _segment_language(c: dict[str, int]) -> tuple[str, float]:
    cjk = c["kana"] + c["han"]
    weight = cjk + c["latin"] / 2 + c["hangul"] + c["other"]
    if c["kana"] and c["kana"] / cjk >= KANA_SHARE_JA:
        return "ja", weight
    if c["han"] and c["han"] >= c["latin"] / 2 and c["han"] >= c["hangul"] + c["other"]:
        return "zh", weight
    if c["latin"] and c["latin"] / 2 >= c["hangul"] + c["other"]:
        return "en", weight
    return "other", weight
