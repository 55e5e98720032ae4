"""Reasoning blocks: split a response into its thinking part and its final part."""

from __future__ import annotations

from dataclasses import dataclass

_OPEN_TAGS = ("<think>", "<thinking>", "<reasoning>")
_CLOSE_TAGS = ("</think>", "</thinking>", "</reasoning>")


@dataclass(frozen=True)
class FinalPart:
    """The part of a response after its reasoning block; `unclosed` when the block never ends."""

    text: str
    unclosed: bool


def strip_reasoning(text: str) -> FinalPart:
    """Drop `<think>…</think>` blocks and keep what follows the last closing tag.

    A response that opens a reasoning block and never closes it (the model ran out of tokens
    while thinking) has no final answer: `unclosed` is True and `text` is empty. A response that
    only holds a closing tag (templates that put `<think>` into the prompt) keeps what follows it.
    """
    lowered = text.lower()
    close_at, close_len = -1, 0
    for tag in _CLOSE_TAGS:
        i = lowered.rfind(tag)
        if i > close_at:
            close_at, close_len = i, len(tag)
    if close_at >= 0:
        rest = text[close_at + close_len :]
        if any(tag in rest.lower() for tag in _OPEN_TAGS):
            return FinalPart("", True)
        return FinalPart(rest, False)
    if any(tag in lowered for tag in _OPEN_TAGS):
        return FinalPart("", True)
    return FinalPart(text, False)
