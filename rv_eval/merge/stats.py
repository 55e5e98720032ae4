"""`rv-eval vector stats`: how large a reasoning vector is, where it lives, and what rounding keeps of it.

Per tensor and per layer: ‖v‖, ‖v‖/‖θ_pre‖, the fraction of exactly-zero deltas, the cosine
similarity to another vector, and per α the fraction of target weights that the α-variant leaves
bit-identical after rounding to the output dtype. One streaming pass, bounded memory.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from rv_eval.errors import UserError
from rv_eval.merge.executor import Chunk, combine, iter_chunks, prefetch, prepare
from rv_eval.merge.io.reader import EMBEDDING_RE, Checkpoint, open_checkpoint
from rv_eval.merge.plan import Inputs, TensorTask, build_plan
from rv_eval.merge.spec import MergeSpec

_LAYER_RE = re.compile(r"(?:^|\.)(?:layers|h|blocks)\.(\d+)\.")


@dataclass
class _Acc:
    numel: int = 0
    v_sq: float = 0.0
    pre_sq: float = 0.0
    zeros: int = 0
    dot: float = 0.0
    w_sq: float = 0.0
    unchanged: dict[float, int] = field(default_factory=dict)

    def add(self, other: _Acc) -> None:
        """Accumulate another tensor's or chunk's sums."""
        self.numel += other.numel
        self.v_sq += other.v_sq
        self.pre_sq += other.pre_sq
        self.zeros += other.zeros
        self.dot += other.dot
        self.w_sq += other.w_sq
        for a, n in other.unchanged.items():
            self.unchanged[a] = self.unchanged.get(a, 0) + n

    def row(self, name: str, with_cos: bool) -> dict[str, Any]:
        """The derived statistics of these sums as one table/JSON row."""
        norm = math.sqrt(self.v_sq)
        out: dict[str, Any] = {
            "name": name, "numel": self.numel, "norm": norm,
            "rel_norm": norm / math.sqrt(self.pre_sq) if self.pre_sq > 0 else None,
            "zero_frac": self.zeros / self.numel if self.numel else None,
        }
        if with_cos:
            denom = math.sqrt(self.v_sq * self.w_sq)
            out["cosine"] = self.dot / denom if denom > 0 else None
        if self.unchanged:
            out["unchanged_frac"] = {format(a, "g"): n / self.numel if self.numel else None
                                     for a, n in self.unchanged.items()}
        return out


def layer_of(name: str) -> str:
    """The group a tensor belongs to: `layer <i>`, `embeddings`, or `other` (final norm etc.)."""
    m = _LAYER_RE.search(name)
    if m:
        return f"layer {int(m.group(1))}"
    return "embeddings" if EMBEDDING_RE.search(name) else "other"


def vector_stats(pre: str, post: str, vs: tuple[str, str] | None = None, target: str | None = None,
                 alphas: tuple[float, ...] = (), include: str | None = None, exclude: str | None = None,
                 chunk_elems: int = 1 << 22) -> dict[str, Any]:
    """Statistics of v = post − pre; see the module docstring. Returns {"tensors", "layers", "total", ...}."""
    spec = MergeSpec(pre=pre, post=post, target=target, alphas=alphas, include=include, exclude=exclude,
                     chunk_elems=chunk_elems, analysis_only=True, vocab="common-rows")
    inputs = Inputs(open_checkpoint(target, "target") if target else None, open_checkpoint(pre, "pre"),
                    open_checkpoint(post, "post"))
    plan = build_plan(spec, inputs)
    other = (open_checkpoint(vs[0], "other pre"), open_checkpoint(vs[1], "other post")) if vs else None
    tasks = [t for t in plan.tasks if t.merged]
    per_tensor: dict[str, _Acc] = {t.name: _Acc() for t in tasks}
    with tqdm(total=sum(t.merge_elems for t in tasks), unit="el", unit_scale=True, desc="stats",
              disable=None) as bar:
        for chunk in prefetch(iter_chunks(inputs, tasks, chunk_elems), lambda c: prepare(inputs, c)):
            if chunk.merged:
                per_tensor[chunk.task.name].add(_chunk_stats(inputs, chunk, spec.alphas, other))
                bar.update(chunk.end - chunk.start)
    return _summarize(per_tensor, spec.alphas, with_cos=other is not None,
                      inputs={"pre": pre, "post": post, "vs": list(vs) if vs else None, "target": target})


def _chunk_stats(inputs: Inputs, chunk: Chunk, alphas: tuple[float, ...],
                 other: tuple[Checkpoint, Checkpoint] | None) -> _Acc:
    task, v = chunk.task, chunk.v
    assert v is not None and inputs.pre is not None
    pre = inputs.pre.flat(task.pre, chunk.start, chunk.end).float()  # type: ignore[arg-type]
    acc = _Acc(numel=v.numel(), v_sq=float(torch.dot(v, v)), pre_sq=float(torch.dot(pre, pre)),
               zeros=int((v == 0).sum()))
    if other is not None:
        w = _other_vector(other, task, chunk)
        acc.dot, acc.w_sq = float(torch.dot(v, w)), float(torch.dot(w, w))
    if chunk.target is not None:
        raw = chunk.target
        for a in alphas:
            out = combine(chunk, a, raw.dtype)
            acc.unchanged[a] = int((_bits(out) == _bits(raw)).sum())
    return acc


def _other_vector(other: tuple[Checkpoint, Checkpoint], task: TensorTask, chunk: Chunk) -> torch.Tensor:
    infos = [c.resolve(task.name) for c in other]
    if any(i is None for i in infos) or any(i.numel < chunk.end for i in infos):  # type: ignore[union-attr]
        raise UserError(f"--vs: tensor {task.name} is missing or smaller in {other[0].path} / {other[1].path}. "
                        "Fix: compare vectors of the same architecture and sizes.")
    w = other[1].flat(infos[1], chunk.start, chunk.end).float()  # type: ignore[arg-type]
    return w.sub_(other[0].flat(infos[0], chunk.start, chunk.end))  # type: ignore[arg-type]


def _bits(t: torch.Tensor) -> torch.Tensor:
    size = t.element_size()
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[size])


def _summarize(per_tensor: dict[str, _Acc], alphas: tuple[float, ...], with_cos: bool,
               inputs: dict[str, Any]) -> dict[str, Any]:
    layers: dict[str, _Acc] = {}
    total = _Acc()
    for name, acc in per_tensor.items():
        layers.setdefault(layer_of(name), _Acc()).add(acc)
        total.add(acc)

    def order(key: str) -> tuple[int, int]:
        return (1, int(key.split()[1])) if key.startswith("layer ") else ((0, 0) if key == "embeddings" else (2, 0))

    return {"inputs": inputs, "alphas": list(alphas),
            "tensors": [acc.row(n, with_cos) for n, acc in per_tensor.items()],
            "layers": [layers[k].row(k, with_cos) for k in sorted(layers, key=order)],
            "total": total.row("total", with_cos)}


def format_table(stats: dict[str, Any], per_tensor: bool = False) -> str:
    """A fixed-width text table of the per-layer (or per-tensor) rows plus the total."""
    rows = (stats["tensors"] if per_tensor else stats["layers"]) + [stats["total"]]
    cols = ["name", "numel", "|v|", "|v|/|pre|", "zero%"]
    with_cos = "cosine" in stats["total"]
    if with_cos:
        cols.append("cos(v,w)")
    alphas = [format(a, "g") for a in stats["alphas"]]
    cols += [f"same@α={a}" for a in alphas]
    lines = [[c for c in cols]]
    for r in rows:
        line = [r["name"], str(r["numel"]), f"{r['norm']:.4g}", _fmt(r["rel_norm"], ".3g"),
                _fmt(r["zero_frac"] and 100 * r["zero_frac"], ".2f")]
        if with_cos:
            line.append(_fmt(r.get("cosine"), ".4f"))
        line += [_fmt(100 * r["unchanged_frac"][a], ".2f") for a in alphas]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
                     for line in lines)


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)
