"""Request bookkeeping for the vLLM backend (pure Python, no vLLM import).

lm-eval asks for k samples of a question by repeating the same request k times (`repeats`).
`group_requests` folds identical (context, gen_kwargs) requests into one group, so the backend
issues ONE vLLM request with `n = k` and hands the k outputs back in order.

`request_seed` turns the grid seed into vLLM's per-request sampling seed. vLLM gives the
children of an `n = k` request the seeds `seed, seed + 1, ..., seed + k - 1`; using the grid seed
itself would make grid seed 1's first sample equal grid seed 0's second one. The seed is
therefore a hash of (grid seed, context, gen_kwargs): deterministic per request, independent
of batching and request order, and different across grid seeds.

`split_think` separates a reasoning trace (`<think> ... </think>`) from the answer without
dropping anything: the full text is always kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# vLLM adds the sample index to the request seed; keep seed + index far below 2**63.
_SEED_SPACE = 2**62


@dataclass(frozen=True)
class RequestGroup:
    """One distinct (context, gen_kwargs) request and how many identical copies lm-eval sent."""

    context: str
    gen_kwargs: dict[str, Any]
    count: int


@dataclass(frozen=True)
class ThinkSplit:
    """A response split at the reasoning-trace tags.

    `thinking` is None when the response has no trace; `closed` is False when the trace was
    opened (or started by the prompt) but never closed, in which case `answer` is empty.
    """

    thinking: str | None
    answer: str
    closed: bool


@dataclass
class GenerationRecord:
    """What the engine produced for one lm-eval request (one sample), in request order."""

    context: str
    seed: int  # the vLLM request seed (None-free: greedy requests get one too)
    sample_idx: int  # index among the identical copies of this request (0..k-1)
    text: str  # full generated text, nothing stripped
    thinking: str | None
    answer: str
    returned: str  # what generate_until handed back to lm-eval
    n_prompt_tokens: int
    n_gen_tokens: int
    finish_reason: str | None


def kwargs_key(gen_kwargs: dict[str, Any]) -> str:
    """A canonical string for a gen_kwargs dict (sorted keys; non-JSON values by repr)."""
    return json.dumps(gen_kwargs, sort_keys=True, default=repr, ensure_ascii=False)


def group_requests(
    args: list[tuple[str, dict[str, Any]]],
) -> tuple[list[RequestGroup], list[tuple[int, int]]]:
    """Group identical requests.

    Returns the groups in order of first appearance and, for every input request, its
    (group index, sample index within the group), sample indices counting up in input order.
    """
    index: dict[tuple[str, str], int] = {}
    contexts: list[tuple[str, dict[str, Any]]] = []
    counts: list[int] = []
    positions: list[tuple[int, int]] = []
    for context, gen_kwargs in args:
        key = (context, kwargs_key(gen_kwargs))
        if key not in index:
            index[key] = len(contexts)
            contexts.append((context, gen_kwargs))
            counts.append(0)
        g = index[key]
        positions.append((g, counts[g]))
        counts[g] += 1
    groups = [RequestGroup(c, kw, n) for (c, kw), n in zip(contexts, counts, strict=True)]
    return groups, positions


def request_seed(grid_seed: int, context: str, gen_kwargs: dict[str, Any]) -> int:
    """The vLLM sampling seed of a request: a stable hash of (grid seed, context, gen_kwargs)."""
    payload = json.dumps([int(grid_seed), context, kwargs_key(gen_kwargs)], ensure_ascii=False)
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % _SEED_SPACE


def parse_think_tags(think_tags: str | tuple[str, str] | list[str] | None) -> tuple[str, str] | None:
    """Parse the `think_tags` option: "<think>,</think>" or a pair; "", "none" or None disable it."""
    if think_tags is None:
        return None
    if isinstance(think_tags, str):
        if think_tags.strip().lower() in ("", "none", "false"):
            return None
        parts = [p.strip() for p in think_tags.split(",")]
    else:
        parts = [str(p).strip() for p in think_tags]
    if len(parts) != 2 or not all(parts):
        raise ValueError(
            f"think_tags={think_tags!r} must be two non-empty tags, e.g. '<think>,</think>'"
        )
    return parts[0], parts[1]


def split_think(text: str, tags: tuple[str, str] | None) -> ThinkSplit:
    """Split `text` into reasoning trace and answer at `tags` (open, close).

    A closing tag without an opening one counts as a trace (chat templates often put the
    opening tag into the prompt). An opening tag that is never closed yields an empty answer.
    """
    if tags is None:
        return ThinkSplit(None, text, True)
    open_tag, close_tag = tags
    if close_tag in text:
        head, _, answer = text.partition(close_tag)
        thinking = head.split(open_tag, 1)[1] if open_tag in head else head
        return ThinkSplit(thinking, answer, True)
    if open_tag in text:
        return ThinkSplit(text.split(open_tag, 1)[1], "", False)
    return ThinkSplit(None, text, True)


def cut_at_stops(text: str, stops: list[str]) -> str:
    """Cut `text` at the earliest occurrence of any non-empty stop sequence."""
    cut = len(text)
    for stop in stops:
        if stop:
            pos = text.find(stop)
            if pos != -1:
                cut = min(cut, pos)
    return text[:cut]
