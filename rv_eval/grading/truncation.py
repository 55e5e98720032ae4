"""Responses cut off at the token budget: only what they said before the cut counts.

A response whose generation stopped at `max_gen_toks` (stop reason `length`) ends inside a
sentence: "Therefore the total is 16" may have been on its way to "1600". Its unfinished last
sentence is dropped; a complete final statement before it still counts, and a response with none
has no answer (reason `truncated`).
"""

from __future__ import annotations

import re

TRUNCATED = "length"  # the stop reason of a response cut off at its token budget

# A sentence ends at a newline, a Japanese full stop, or ./!/? followed by white space or the end.
_SENTENCE_END_RE = re.compile(r"\n|[。！？]|[.!?](?=\s|$)")


def is_truncated(stop_reason: str | None) -> bool:
    """True when generation stopped at the token budget (not at EOS or a stop sequence)."""
    return stop_reason == TRUNCATED


def complete_part(text: str, stop_reason: str | None) -> str:
    """`text` without the unfinished sentence a `length` stop leaves at its end (unchanged otherwise)."""
    if not is_truncated(stop_reason):
        return text
    ends = list(_SENTENCE_END_RE.finditer(text))
    return text[: ends[-1].end()] if ends else ""
