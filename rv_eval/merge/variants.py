"""The public merge entry points: `merge_variants` (write α-variant folders) and `stream_variant`."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from rv_eval import __version__, atomicio
from rv_eval.errors import UserError
from rv_eval.merge.executor import Chunk, Worker, combine, iter_chunks, prefetch, prepare, vector_values
from rv_eval.merge.io.reader import DTYPE_NAMES, open_checkpoint
from rv_eval.merge.io.writer import (
    ShardedWriter,
    copy_model_files,
    new_temp_folder,
    publish,
    stale_temp_folders,
)
from rv_eval.merge.plan import Inputs, MergePlan, build_plan
from rv_eval.merge.spec import MergeSpec, alpha_dirname, torch_dtype

log = logging.getLogger(__name__)
PROVENANCE = "rv_eval_merge.json"
VECTOR_PROVENANCE = "rv_eval_vector.json"


def open_inputs(spec: MergeSpec) -> Inputs:
    """Open (lazily) the checkpoints a spec names."""
    rev = spec.revisions
    target = open_checkpoint(spec.target, "target", rev.get("target")) if spec.target else None
    if spec.vector:
        return Inputs(target, None, open_checkpoint(spec.vector, "vector", rev.get("vector")))
    return Inputs(target, open_checkpoint(spec.pre, "pre", rev.get("pre")),  # type: ignore[arg-type]
                  open_checkpoint(spec.post, "post", rev.get("post")))  # type: ignore[arg-type]


def plan_merge(spec: MergeSpec) -> MergePlan:
    """Open the inputs and build the fully checked plan (reads headers only)."""
    return build_plan(spec, open_inputs(spec))


def stream_variant(spec: MergeSpec, alpha: float) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) for every tensor of the α-variant, exactly as `merge_variants` writes it."""
    if not spec.target:
        raise UserError("stream_variant needs a target checkpoint. Fix: set MergeSpec.target.")
    plan = plan_merge(spec)
    alpha = float(alpha)
    out: torch.Tensor | None = None
    chunks = iter_chunks(plan.inputs, plan.tasks, spec.chunk_elems)
    for chunk in prefetch(chunks, lambda c: prepare(plan.inputs, c)):  # reads overlap the math
        task = chunk.task
        if chunk.start == 0:
            out = torch.empty(task.numel, dtype=task.dtype)
        out[chunk.start:chunk.end] = combine(chunk, alpha, task.dtype)  # type: ignore[index]
        if chunk.end == task.numel:
            yield task.name, out.view(task.shape)  # type: ignore[union-attr]


def merge_variants(spec: MergeSpec) -> dict[float, Path]:
    """Write `OUT/alpha_<α>` for every α of the spec (and the vector with `save_vector`) in one pass.

    Complete outputs with matching provenance are skipped (unless `spec.force`); partial ones from a
    killed run are discarded and redone. Returns {α: folder} for every α of the spec.
    """
    plan = plan_merge(spec)
    inputs_record = {c.role: c.describe() for c in (plan.inputs.target, plan.inputs.pre, plan.inputs.post) if c}
    finals = {a: spec.out / alpha_dirname(a) for a in spec.alphas}  # type: ignore[operator]
    todo = [a for a, path in finals.items() if not _is_done(path, _key(inputs_record, spec, a), spec.force)]
    vector_todo = spec.save_vector is not None and not _is_done(
        spec.save_vector, _key(inputs_record, spec, None), spec.force)
    if todo or vector_todo:
        _run(spec, plan, inputs_record, todo, vector_todo)
    return finals


def _key(inputs_record: dict[str, Any], spec: MergeSpec, alpha: float | None) -> str:
    data = {"inputs": {r: d["fingerprint_sha256"] for r, d in inputs_record.items()},
            "settings": spec.settings(), "alpha": alpha,
            "vector_dtype": spec.vector_dtype if alpha is None else None}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _is_done(final: Path, key: str, force: bool) -> bool:
    atomicio.recover_folder(final)  # a publish killed between its renames: restore or clean up
    for stale in stale_temp_folders(final):
        log.info("removing %s left by an interrupted run", stale)
        shutil.rmtree(stale, ignore_errors=True)
    if not final.exists() or force:
        return False
    prov = final / (VECTOR_PROVENANCE if (final / VECTOR_PROVENANCE).exists() else PROVENANCE)
    try:
        recorded = json.loads(prov.read_text(encoding="utf-8")).get("key")
    except (OSError, json.JSONDecodeError):
        recorded = None
    if recorded is None:
        raise UserError(f"{final} exists but is not a complete rv-eval merge output (no readable {prov.name}). "
                        "Fix: remove it, choose another --out, or pass --force to overwrite it.")
    if recorded != key:
        raise UserError(f"{final} was merged from other inputs or settings. "
                        "Fix: pass --force to redo it, or choose another --out.")
    log.info("%s is complete, skipping (use --force to redo)", final)
    return True


@dataclass
class _Output:
    """One folder being written: its final name, temporary folder, writer and compute step."""

    final: Path
    tmp: Path
    writer: ShardedWriter
    alpha: float | None  # None: the saved vector


def _run(spec: MergeSpec, plan: MergePlan, inputs_record: dict[str, Any], todo: list[float],
         vector_todo: bool) -> None:
    """One pass over the inputs writing every pending α-variant (and the vector)."""
    try:
        _run_unchecked(spec, plan, inputs_record, todo, vector_todo)
    except OSError as e:  # a full disk while copying model files: one line, nothing published
        if atomicio.is_no_space(e):
            raise atomicio.no_space(e.filename or spec.out or spec.save_vector) from None
        raise


def _run_unchecked(spec: MergeSpec, plan: MergePlan, inputs_record: dict[str, Any], todo: list[float],
                   vector_todo: bool) -> None:
    with ExitStack() as cleanup:
        outputs = _open_outputs(spec, plan, todo, vector_todo, cleanup)
        _write_all(spec, plan, outputs)
        for out in outputs:
            if out.alpha is None:
                _finish_vector(spec, plan, inputs_record, out.tmp)
            else:
                _finish_variant(spec, plan, inputs_record, out.alpha, out.tmp)
            publish(out.tmp, out.final)
            log.info("wrote %s", out.final)


def _open_outputs(spec: MergeSpec, plan: MergePlan, todo: list[float], vector_todo: bool,
                  cleanup: ExitStack) -> list[_Output]:
    """Temporary folders (removed on any failure) and their writers, layouts fixed up front."""
    outputs = []
    targets: list[tuple[Path, float | None]] = [(spec.out / alpha_dirname(a), a) for a in todo]  # type: ignore[operator]
    if vector_todo:
        targets.append((spec.save_vector, None))  # type: ignore[arg-type]
    for final, alpha in targets:
        tmp = new_temp_folder(final)
        cleanup.callback(shutil.rmtree, tmp, True)
        layout = plan.out_tensors() if alpha is not None else plan.vector_tensors(torch_dtype(spec.vector_dtype))
        outputs.append(_Output(final, tmp, ShardedWriter(tmp, layout, spec.max_shard_size), alpha))
    return outputs


def _write_all(spec: MergeSpec, plan: MergePlan, outputs: list[_Output]) -> None:
    """Stream the chunks to one thread per output; on failure stop them all and close the files."""
    vdtype = torch_dtype(spec.vector_dtype)
    workers = [Worker(_vector_writer(vdtype, o.writer) if o.alpha is None else _variant_writer(o.alpha, o.writer),
                      name=f"writer-{i}") for i, o in enumerate(outputs)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from the reader and the per-output threads
    try:
        _stream(spec, plan, workers)
        for w in workers:
            w.finish()
        for o in outputs:
            o.writer.close()
    except BaseException:
        for w, o in zip(workers, outputs, strict=True):
            w.abort()
            o.writer.abort()
        raise
    finally:
        torch.set_num_threads(threads)


def _variant_writer(alpha: float, writer: ShardedWriter) -> Callable[[Chunk], None]:
    def write(chunk: Chunk) -> None:
        writer.write(combine(chunk, alpha, chunk.task.dtype))
    return write


def _vector_writer(dtype: torch.dtype, writer: ShardedWriter) -> Callable[[Chunk], None]:
    def write(chunk: Chunk) -> None:
        if chunk.merged:
            writer.write(vector_values(chunk, dtype))
    return write


def _stream(spec: MergeSpec, plan: MergePlan, workers: list[Worker]) -> None:
    """Reader thread prepares chunks; every output's thread computes and writes its own values."""
    total = sum(t.numel for t in plan.tasks)
    chunks = iter_chunks(plan.inputs, plan.tasks, spec.chunk_elems)
    with tqdm(total=total, unit="el", unit_scale=True, desc="merge", disable=None) as bar:
        for chunk in prefetch(chunks, lambda c: prepare(plan.inputs, c), depth=4):
            for worker in workers:
                worker.put(chunk)
            bar.update(chunk.end - chunk.start)


def _provenance(spec: MergeSpec, plan: MergePlan, inputs_record: dict[str, Any], alpha: float | None,
                dtypes: list[torch.dtype]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for d in dtypes:
        counts[DTYPE_NAMES[d]] = counts.get(DTYPE_NAMES[d], 0) + 1
    return {"tool": "rv-eval merge", "rv_eval_version": __version__, "torch_version": torch.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "alpha": alpha,
            "formula": "target + alpha * (post - pre), float32, rounded once" if alpha is not None
            else "post - pre, float32", "inputs": inputs_record, "settings": spec.settings(),
            "output_dtypes": counts, "merged_tensors": sum(t.merged for t in plan.tasks),
            "copied_tensors": sum(not t.merged for t in plan.tasks), "name": spec.name,
            "key": _key(inputs_record, spec, alpha)}


def _finish_variant(spec: MergeSpec, plan: MergePlan, inputs_record: dict[str, Any], alpha: float,
                    tmp: Path) -> None:
    target = plan.inputs.target
    assert target is not None
    copy_model_files(target.path, tmp, skip=("config.json", PROVENANCE, VECTOR_PROVENANCE))
    if target.config:
        config = dict(target.config)
        if spec.dtype:
            config["torch_dtype"] = spec.dtype
            if "dtype" in config:
                config["dtype"] = spec.dtype
        atomicio.write_json(tmp / "config.json", config)
    atomicio.write_json(tmp / PROVENANCE, _provenance(spec, plan, inputs_record, alpha,
                                                      [t.dtype for t in plan.tasks]))


def _finish_vector(spec: MergeSpec, plan: MergePlan, inputs_record: dict[str, Any], tmp: Path) -> None:
    src = plan.inputs.pre or plan.inputs.post
    if src is not None and src.config:
        atomicio.write_json(tmp / "config.json", src.config)
    atomicio.write_json(tmp / VECTOR_PROVENANCE, _provenance(
        spec, plan, inputs_record, None, [torch_dtype(spec.vector_dtype)] * sum(t.merged for t in plan.tasks)))
