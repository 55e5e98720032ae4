"""One engine group run in the current process: the code every executor runs.

`EngineSession` loads a group's engine once and runs its cells one by one: for a vector group it
loads the target and sets θ_target + α·v in place before the first cell of each α (or loads
materialized variants when the backend cannot take weights in place, or `--materialize` asks for
it). Each cell comes back as a `CellResult` (data); nothing is written to the results folder here.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rv_eval.backends import create_lm, supports_in_place
from rv_eval.errors import UserError
from rv_eval.executors import CellResult, EngineGroup, Job
from rv_eval.grid import Cell, ModelSpec, VectorSpec

log = logging.getLogger(__name__)


class EngineSession:
    """The engine of one group, loaded lazily, and the cells run on it.

    `scratch` is a folder this process may write: materialized α-variants go there
    (the local executor uses OUT/variants/<vector>; a Ray worker its own temporary folder).
    """

    def __init__(self, job: Job, group: EngineGroup, scratch: Path, loader: Loader | None = None,
                 catalog: Any = None) -> None:
        from rv_eval.runner import TaskCatalog

        self.job, self.group, self.scratch = job, group, Path(scratch)
        self.loader = loader or Loader(job.grid)
        self.catalog = catalog or TaskCatalog(job.grid.task_paths)
        self.in_place = job.in_place
        self.lm: Any = None
        self.current: str | None = None  # name of the model the engine holds now
        self._variant_paths: dict[float, Path] | None = None
        self._grading: Any = None  # SampleGrader, started with the first cell

    def close_grading(self) -> None:
        """Stop the grading workers (a later cell starts new ones)."""
        if self._grading is not None:
            self._grading.close()
            self._grading = None

    @property
    def grading(self) -> Any:
        """The grader of this session's cells (worker processes under a hard limit per response)."""
        if self._grading is None:
            from rv_eval.sample_grading import SampleGrader

            self._grading = SampleGrader(self.job.grader, timeout_s=self.job.grade_timeout_s)
        return self._grading

    def run(self, cell: Cell) -> CellResult:
        """Generate and grade one cell on this group's engine; return it as data."""
        from rv_eval.runner import evaluate_cell

        model = self.group.model(cell.model)
        ts = self._task(cell)
        lm = self._engine_for(model)
        frame = evaluate_cell(lm, self.job.grid, model, cell, ts, self.grading, self.job.progress)
        return CellResult(cell.key, self.job.fingerprints[cell.key], frame)

    def run_many(self, cells: Sequence[Cell]) -> Iterator[CellResult]:
        """Run `cells`, yielding each as soon as it is done.

        On a backend with `generate_cells` (vLLM), all pending cells of one model (tasks × seeds
        × k samples) go to the engine in one submission, so continuous batching keeps it busy
        through the long tails of reasoning traces; each cell still comes back as soon as its own
        requests are done. Other backends run the cells one by one.
        """
        from rv_eval.runner import cell_frame, cell_requests

        by_model: dict[str, list[Cell]] = {}
        for c in cells:
            by_model.setdefault(c.model, []).append(c)
        for name, mcells in by_model.items():
            model = self.group.model(name)
            lm = self._engine_for(model)
            if len(mcells) == 1 or not callable(getattr(lm, "generate_cells", None)):
                yield from (self.run(c) for c in mcells)
                continue
            work = [(c, *cell_requests(lm, self.job.grid, c, self._task(c), with_seed=True)) for c in mcells]
            t0 = time.perf_counter()
            for i, resps in lm.generate_cells([clones for _, _, clones in work], disable_tqdm=not self.job.progress):
                c, requests, _ = work[i]
                frame = cell_frame(lm, self.job.grid, model, c, requests, resps, time.perf_counter() - t0,
                                   self.grading)
                yield CellResult(c.key, self.job.fingerprints[c.key], frame)

    def _task(self, cell: Cell) -> Any:
        """The loaded task of `cell`, checked against the fingerprint the driver planned."""
        limit = next(t.limit for t in self.job.grid.tasks if t.name == cell.task)
        ts = self.catalog.get(cell.task, limit)
        planned = self.job.task_fingerprints[cell.task]
        if ts.fingerprint != planned:
            raise UserError(f"task {cell.task!r} differs where it runs from where the run was planned "
                            f"(fingerprint {ts.fingerprint[:12]} vs {planned[:12]}). Fix: give every node the "
                            "same tasks/ folder and benchmark data.")
        return ts

    def close(self) -> None:
        """Release the engine (its accelerator memory) and the grading workers now."""
        self.close_grading()
        close_lm(self.lm)
        self.lm, self.current = None, None
        self.loader.last = None

    # ---------------------------------------------------------------- engines

    def _engine_for(self, model: ModelSpec) -> Any:
        """The live engine holding `model` (loaded, or switched to its α in place, when needed)."""
        if self.current == model.name:
            return self.lm
        if not model.is_variant:
            self.lm = self.loader(model.path or "")
        elif self.in_place:
            self._set_in_place(model)
        if model.is_variant and not self.in_place:
            self.lm = self.loader(str(self._materialized()[float(model.alpha or 0.0)]))
        self.current = model.name
        return self.lm

    def _set_in_place(self, model: ModelSpec) -> None:
        v = self._vector()
        if self.lm is None or self.current is None or not self.group.model(self.current).is_variant:
            self.lm = self.loader(v.target)
            if not supports_in_place(self.lm):
                log.warning("backend %s cannot load weights in place; materializing the variants of %s",
                            self.job.grid.backend.name, v.name)
                self.in_place = False
                return
        t = time.perf_counter()
        set_variant_weights(self.lm, self._spec(), float(model.alpha or 0.0))
        log.info("%s: weights set in place in %.2f s", model.name, time.perf_counter() - t)

    def _vector(self) -> VectorSpec:
        if self.group.vector is None:
            raise ValueError(f"group {self.group.name} has α-variants but no vector")
        return self.group.vector

    def _spec(self) -> Any:
        return merge_spec(self._vector(), [m.alpha for m in self.group.models], self.scratch)

    def _materialized(self) -> dict[float, Path]:
        if self._variant_paths is None:
            from rv_eval.merge import merge_variants

            self._variant_paths = merge_variants(self._spec())
        return self._variant_paths


def set_variant_weights(lm: Any, spec: Any, alpha: float) -> None:
    """Set θ_target + α·v in the live engine, computed by `rv_eval.merge.stream_variant`.

    Runs with one torch thread, as `merge_variants` does: the per-tensor work is small and
    memory-bound, and intra-op threads only contend (measured 6-17 s with 2 threads vs 0.5-1.2 s
    with 1 for a 77 M-parameter model on the shared 2-core machine).
    """
    import torch

    from rv_eval.merge import stream_variant

    if callable(getattr(lm, "load_variant", None)):  # vLLM: each worker computes the variant itself
        lm.load_variant(spec, alpha)
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lm.load_weights(stream_variant(spec, alpha))
    finally:
        torch.set_num_threads(threads)


def merge_spec(v: VectorSpec, alphas: list[float | None], out: Path) -> Any:
    """The `rv_eval.merge.MergeSpec` of a grid vector for the given α list."""
    from rv_eval.merge import MergeSpec

    return MergeSpec(pre=v.pre, post=v.post, target=v.target, name=v.name,
                     alphas=tuple(float(a) for a in alphas if a is not None), out=out, **v.merge)


def close_lm(lm: Any) -> None:
    """Release an engine's memory now (vLLM holds most of the GPU until closed)."""
    if lm is not None and callable(getattr(lm, "close", None)):
        lm.close()


class Loader:
    """Loads engines; the engine loaded before is closed and its memory reclaimed first.

    Closing matters on a GPU: the previous engine may still be referenced by the caller, so
    without `close()` a vLLM engine would keep most of the device memory while the next one starts.
    """

    def __init__(self, grid: Any) -> None:
        self.grid, self.last = grid, None

    def __call__(self, model: str) -> Any:
        if self.last is not None:
            close_lm(self.last)
            self.last = None
            gc.collect()  # ~1 s with lm-eval imported, so only between engines
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        # data_parallel_size is the number of engines per group (see runner.engine_groups), not an engine option
        options = {k: v for k, v in self.grid.backend.options.items() if k != "data_parallel_size"}
        self.last = create_lm(self.grid.backend.name, model, options)
        return self.last
