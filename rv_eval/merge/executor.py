"""The streaming executor: walk the plan in flat chunks, compute every α from one read of the inputs.

Math (the one definition every output path uses): v = post − pre in float32,
θ_α = round_to_dtype(target_f32 + (α · v)), computed as a float32 multiply then a float32 add.
α = 0 returns the target's values unchanged (bit for bit, also for −0.0).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from rv_eval.errors import UserError
from rv_eval.merge.plan import Inputs, TensorTask


@dataclass
class Chunk:
    """Flat elements [start, end) of one output tensor, with the input views it needs."""

    task: TensorTask
    start: int
    end: int
    merged: bool
    target: torch.Tensor | None  # raw target values (target dtype); None in vector-only runs
    t32: torch.Tensor | None = None
    v: torch.Tensor | None = None  # post − pre in float32 (merged chunks only)


def iter_chunks(inputs: Inputs, tasks: Iterable[TensorTask], chunk_elems: int) -> Iterator[Chunk]:
    """Chunks of every task in order; merged chunks never straddle the end of the merged rows."""
    for task in tasks:
        bounds = [0, task.merge_elems, task.numel] if 0 < task.merge_elems < task.numel else [0, task.numel]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            merged = task.merged and hi <= task.merge_elems
            for start in range(lo, hi, chunk_elems):
                end = min(start + chunk_elems, hi)
                tgt = inputs.target.flat(task.target, start, end) if task.target is not None else None  # type: ignore[union-attr]
                yield Chunk(task, start, end, merged, tgt)
        if task.numel == 0:
            yield Chunk(task, 0, 0, False, torch.empty(0, dtype=task.target.dtype) if task.target else None)


def prepare(inputs: Inputs, chunk: Chunk) -> Chunk:
    """Read and convert the inputs of a merged chunk (t32, v); check that they are finite."""
    if not chunk.merged:
        return chunk
    task = chunk.task
    post = inputs.post.flat(task.post, chunk.start, chunk.end)  # type: ignore[union-attr,arg-type]
    if inputs.pre is not None:
        pre = inputs.pre.flat(task.pre, chunk.start, chunk.end)  # type: ignore[arg-type]
        v = post.float()
        v.sub_(pre)
    else:
        pre = None
        v = post.float()
    chunk.v = v
    if chunk.target is not None:
        chunk.t32 = chunk.target.float()
    if not torch.isfinite(v.sum()) or (chunk.t32 is not None and not torch.isfinite(chunk.t32.sum())):
        _explain_nonfinite(inputs, chunk, pre, post)
    return chunk


def _explain_nonfinite(inputs: Inputs, chunk: Chunk, pre: torch.Tensor | None, post: torch.Tensor) -> None:
    """Name the input holding NaN/inf (a finite-but-overflowing sum passes)."""
    pairs = [(inputs.post, post), (inputs.pre, pre), (inputs.target, chunk.target)]
    for ckpt, data in pairs:
        if ckpt is not None and data is not None and not bool(torch.isfinite(data).all()):
            raise UserError(f"tensor {chunk.task.name} of the {ckpt.role} checkpoint {ckpt.path} holds NaN or "
                            "infinite values. Fix: use an intact checkpoint (re-download or re-export it).")


def combine(chunk: Chunk, alpha: float, dtype: torch.dtype) -> torch.Tensor:
    """The α-variant values of one chunk, in the output dtype; UserError if a value overflows it."""
    assert chunk.target is not None
    if not chunk.merged or alpha == 0:
        if chunk.target.dtype == dtype:
            return chunk.target
        out = chunk.target.to(dtype)
        _check_finite(out, chunk.target, f"tensor {chunk.task.name} (α={alpha:g}, copied from the target)", dtype)
        return out
    out = torch.mul(chunk.v, alpha)  # type: ignore[arg-type]
    out.add_(chunk.t32)  # type: ignore[arg-type]
    out = out.to(dtype)
    _check_finite(out, None, f"tensor {chunk.task.name} at α={alpha:g} (target + α·v)", dtype)
    return out


def vector_values(chunk: Chunk, dtype: torch.dtype) -> torch.Tensor:
    """The saved vector's values (post − pre) of a merged chunk in `dtype`; UserError if one overflows it."""
    out = chunk.v.to(dtype)  # type: ignore[union-attr]
    _check_finite(out, None, f"tensor {chunk.task.name} of the vector post − pre", dtype)
    return out


def _check_finite(out: torch.Tensor, source: torch.Tensor | None, what: str, dtype: torch.dtype) -> None:
    """Raise UserError if `out` holds infinities or NaN that its inputs did not (finite inputs are
    checked in `prepare`; `source`, when given, is the value `out` was converted from)."""
    if not out.is_floating_point() or bool(torch.isfinite(out).all()):
        return
    bad = ~torch.isfinite(out)
    if source is not None:
        bad &= torch.isfinite(source)
    n = int(bad.sum())
    if n == 0:
        return
    limit = torch.finfo(dtype).max
    raise UserError(f"{what} overflows {str(dtype).removeprefix('torch.')}: {n} values of one chunk exceed "
                    f"±{limit:.4g}, so the output would hold infinities; nothing was published. "
                    "Fix: use a smaller |α|, or a wider output dtype (--dtype float32).")


_STOP = object()


class Worker(threading.Thread):
    """A thread applying `fn` to queued items in order; errors surface on the next put/finish."""

    def __init__(self, fn: Callable[[Any], None], depth: int = 3, name: str = "worker"):
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        """Consume the queue until the stop marker; keep draining after a failure."""
        while True:
            item = self.q.get()
            if item is _STOP:
                return
            if self.error is None:
                try:
                    self.fn(item)
                except BaseException as e:  # noqa: BLE001 (re-raised in the caller's thread)
                    self.error = e

    def put(self, item: Any) -> None:
        """Queue an item (blocks while the queue is full); re-raise an earlier failure."""
        if self.error is not None:
            raise self.error
        self.q.put(item)

    def abort(self) -> None:
        """Discard queued items and stop the thread (no error raised)."""
        if self.error is None:
            self.error = RuntimeError("aborted")
        self.q.put(_STOP)
        self.join()

    def finish(self) -> None:
        """Wait for the queue to drain; re-raise a failure."""
        self.q.put(_STOP)
        self.join()
        if self.error is not None:
            raise self.error


def prefetch(items: Iterator[Any], fn: Callable[[Any], Any], depth: int = 2) -> Iterator[Any]:
    """Apply `fn` to `items` in a background thread, `depth` items ahead of the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, fn(item))):
                    return
            put((True, _STOP))
        except BaseException as e:  # noqa: BLE001 (re-raised in the consumer)
            put((False, e))

    thread = threading.Thread(target=produce, name="reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _STOP:
                return
            yield item
    finally:
        stop.set()
        thread.join()
