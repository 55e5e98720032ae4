"""The merge plan: one task per output tensor, checked completely before any byte is written.

The plan follows the target's layout (tensor names, shapes, tied embeddings). Each task says where
the target, pre and post (or saved vector) data live, the output dtype, and how many leading flat
elements receive the vector (all, none, or the shared vocabulary rows under `--vocab common-rows`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from rv_eval.errors import UserError
from rv_eval.merge.io.reader import EMBEDDING_RE, LM_HEAD, Checkpoint, TensorInfo
from rv_eval.merge.io.writer import OutTensor
from rv_eval.merge.spec import MergeSpec, torch_dtype

log = logging.getLogger(__name__)
MAX_LISTED = 12


@dataclass(frozen=True)
class TensorTask:
    """How to produce one output tensor."""

    name: str
    target: TensorInfo | None  # None when there is no target (vector-only runs)
    pre: TensorInfo | None  # None for a saved vector, or for a copied tensor
    post: TensorInfo | None  # the post tensor, or the saved vector's tensor
    shape: tuple[int, ...]
    dtype: torch.dtype  # output dtype of the variants
    merge_elems: int  # leading flat elements that receive α·v; the rest are the target's

    @property
    def numel(self) -> int:
        """Number of elements of the output tensor."""
        return math.prod(self.shape)

    @property
    def merged(self) -> bool:
        """Whether the vector touches this tensor at all."""
        return self.merge_elems > 0

    def vector_shape(self) -> tuple[int, ...]:
        """Shape of the (possibly row-truncated) vector tensor saved for this task."""
        if self.merge_elems == self.numel or len(self.shape) == 0:
            return self.shape
        cols = self.numel // self.shape[0] if self.shape[0] else 0
        return (self.merge_elems // cols, *self.shape[1:]) if cols else self.shape


@dataclass
class Inputs:
    """The opened checkpoints of one merge."""

    target: Checkpoint | None
    pre: Checkpoint | None
    post: Checkpoint | None  # the post model, or the saved vector


@dataclass
class MergePlan:
    """Ordered tensor tasks plus the inputs they read."""

    inputs: Inputs
    tasks: list[TensorTask]

    def out_tensors(self) -> list[OutTensor]:
        """Layout of one α-variant."""
        return [OutTensor(t.name, t.shape, t.dtype) for t in self.tasks]

    def vector_tensors(self, dtype: torch.dtype) -> list[OutTensor]:
        """Layout of the saved vector (merged tensors only)."""
        return [OutTensor(t.name, t.vector_shape(), dtype) for t in self.tasks if t.merged]


def build_plan(spec: MergeSpec, inputs: Inputs) -> MergePlan:
    """Check the inputs against each other and plan every output tensor; raise UserError on any problem."""
    _check_configs(inputs)
    layout = inputs.target or inputs.post
    assert layout is not None
    problems = _Problems()
    tasks = [_plan_tensor(spec, inputs, name, problems) for name in layout.tensors]
    _check_extra(spec, inputs, problems)
    problems.raise_if_any(spec)
    return MergePlan(inputs, tasks)


def _check_configs(inputs: Inputs) -> None:
    ckpts = [c for c in (inputs.target, inputs.pre, inputs.post) if c is not None and c.config]
    for key in ("model_type", "architectures"):
        seen = {c.role: c.config.get(key) for c in ckpts if c.config.get(key) is not None}
        if len({str(v) for v in seen.values()}) > 1:
            detail = ", ".join(f"{role}={v}" for role, v in seen.items())
            raise UserError(f"the checkpoints have different {key}: {detail}. Fix: a reasoning vector only "
                            "transfers between models of the same architecture; pick matching checkpoints.")


class _Problems:
    def __init__(self) -> None:
        self.missing: dict[str, list[str]] = {}
        self.extra: dict[str, list[str]] = {}
        self.shapes: list[str] = []
        self.vocab: list[str] = []

    def raise_if_any(self, spec: MergeSpec) -> None:
        """Raise one UserError for the first kind of problem found (all names of that kind listed)."""
        if self.missing:
            raise UserError("missing tensors: " + _listing(self.missing, "lacks") + ". Fix: the checkpoints must hold the "
                            "same tensors; use --include/--exclude REGEX to leave tensors out of the merge.")
        if self.extra:
            raise UserError("extra tensors not in the target: " + _listing(self.extra, "has") + ". Fix: check that the "
                            "checkpoints belong together, or drop them with --exclude REGEX.")
        if self.shapes:
            raise UserError("shape mismatch: " + "; ".join(self.shapes[:MAX_LISTED]) +
                            ". Fix: the checkpoints must share the architecture and sizes.")
        if self.vocab:
            raise UserError("vocabulary mismatch (embedding rows differ): " + "; ".join(self.vocab) +
                            ". Fix: pass --vocab common-rows (apply the vector to the shared rows, keep the "
                            "target's extra rows) or --skip-embeddings (keep embeddings and lm_head as in the target).")


def _listing(by_role: dict[str, list[str]], verb: str) -> str:
    parts = []
    for role, names in by_role.items():
        more = f" (+{len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
        parts.append(f"{role} {verb} {', '.join(names[:MAX_LISTED])}{more}")
    return "; ".join(parts)


def _plan_tensor(spec: MergeSpec, inputs: Inputs, name: str, problems: _Problems) -> TensorTask:
    layout = inputs.target or inputs.post
    assert layout is not None
    tgt = inputs.target.tensors[name] if inputs.target else None
    ref = tgt or layout.tensors[name]
    dtype = torch_dtype(spec.dtype) if spec.dtype and ref.dtype.is_floating_point else ref.dtype
    is_embedding = bool(EMBEDDING_RE.search(name))
    copy = TensorTask(name, tgt, None, None, ref.shape, dtype, 0)
    if not ref.dtype.is_floating_point or not spec.selects(name) or (is_embedding and spec.skip_embeddings):
        return copy
    srcs = {}
    for ckpt in (inputs.pre, inputs.post):
        if ckpt is None:
            continue
        info = ckpt.resolve(name)
        if info is None:
            problems.missing.setdefault(ckpt.role, []).append(name)
        srcs[ckpt.role] = info
    if any(v is None for v in srcs.values()):
        return copy
    merge_elems = _merge_elems(spec, name, (layout.role, ref), list(srcs.items()), is_embedding, problems)
    pre = srcs.get(inputs.pre.role) if inputs.pre else None
    post = srcs[inputs.post.role]  # type: ignore[union-attr]
    return TensorTask(name, tgt, pre, post, ref.shape, dtype, merge_elems)


def _merge_elems(spec: MergeSpec, name: str, layout: tuple[str, TensorInfo], srcs: list[tuple[str, TensorInfo]],
                 is_embedding: bool, problems: _Problems) -> int:
    """Elements of `name` that get the vector; shape problems are labelled by each checkpoint's role.

    `layout` is (role, tensor) of the checkpoint that fixes the output layout: the target, or
    post when no target is given (`vector stats`), so no shape is ever called "target" without one.
    """
    ref_role, ref = layout
    shapes = [(ref_role, ref.shape)] + [(role, info.shape) for role, info in srcs if role != ref_role]
    if all(s == ref.shape for _, s in shapes):
        return ref.numel
    detail = f"{name}: " + ", ".join(f"{role} {list(s)}" for role, s in shapes)
    same_cols = all(len(s) == len(ref.shape) and s[1:] == ref.shape[1:] for _, s in shapes)
    if not (is_embedding and same_cols and ref.shape):
        problems.shapes.append(detail)
        return 0
    if spec.vocab != "common-rows":
        problems.vocab.append(detail)
        return 0
    rows = min(s[0] for _, s in shapes)
    log.info("vocabulary: %s gets the vector on its first %d rows (%s)", name, rows, detail)
    return rows * (ref.numel // ref.shape[0] if ref.shape[0] else 0)


def _check_extra(spec: MergeSpec, inputs: Inputs, problems: _Problems) -> None:
    layout = inputs.target or inputs.post
    assert layout is not None
    for ckpt in (inputs.pre, inputs.post):
        if ckpt is None or ckpt is layout:
            continue
        extra = [n for n in ckpt.tensors if n not in layout.tensors and spec.selects(n)]
        if LM_HEAD in extra and layout.is_tied:
            log.warning("target has tied embeddings: the %s lm_head.weight is not used (the output keeps one "
                        "shared embedding matrix, which receives the embedding vector)", ckpt.role)
            extra.remove(LM_HEAD)
        if spec.skip_embeddings:
            extra = [n for n in extra if not EMBEDDING_RE.search(n)]
        if extra:
            problems.extra.setdefault(ckpt.role, []).extend(extra)
