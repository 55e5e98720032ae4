"""The Ray executor: each engine group on its own Ray actor, anywhere on a Ray cluster.

- One actor per engine group (a model's cells, or a vector's target with all its α values); the
  actor owns one engine on `num_gpus` = the group's tensor-parallel size (no GPU is asked for
  on a cluster without GPUs) and switches α in place inside itself.
- Every cell is one actor call, all submitted at once; Ray places the actors as resources free
  up (no scheduler of our own). Inside the actor the calls that arrive together run as one
  batch (one vLLM submission per model), each answered as soon as its cell is done. A finished
  group's actor is killed to free its resources.
- Cells come back as data (`CellResult`); the driver publishes them. Workers never see the
  results folder: the grid they get has its `out` replaced by a temporary folder of their own
  (used only for materialized α-variants).
- A dead node or actor loses only its in-flight cells: the actor is restarted (on another node
  if its own is gone, `max_restarts`) and the calls it had not finished are retried on it
  (`max_task_retries`). Seeds are per cell, so a retried cell gives the same samples.

Models, tasks and benchmark data must be readable at the same paths on every node; each worker
checks that the tasks it loads have the fingerprints the driver planned.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import socket
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from rv_eval.errors import UserError
from rv_eval.executors import CellResult, EngineGroup, Job
from rv_eval.grid import Cell

log = logging.getLogger(__name__)

#: restarts of a dead engine actor, and retries of each cell it had not finished
MAX_RESTARTS = 3


class EngineWorker:
    """The actor body: one engine group's `EngineSession` in a Ray worker process.

    Every cell is its own actor call (so Ray retries exactly the unfinished ones), but the calls
    run concurrently (`max_concurrency`) and only queue their cell: one engine thread takes all
    cells queued together and runs them as one batch (`EngineSession.run_many`: one vLLM
    submission per model), answering each call as soon as its cell is done.
    """

    GATHER_S = 0.2  # a batch closes when no further call arrived for this long

    def __init__(self, job: Job, group: EngineGroup) -> None:
        import ray

        from rv_eval.executors.engine import EngineSession
        from rv_eval.library_output import worker_library_output

        worker_library_output(job.library_bars)  # as the driver's run: no library bars unless -v

        scratch = Path(tempfile.mkdtemp(prefix="rv-eval-worker-"))
        self.node = ray.get_runtime_context().get_node_id()
        self.session = EngineSession(dataclasses.replace(job, grid=dataclasses.replace(job.grid, out=scratch)),
                                     group, scratch / "variants" / group.name)
        self.queue: queue.Queue[tuple[Cell, Future]] = queue.Queue()
        threading.Thread(target=self._engine_loop, name="rv-eval-engine", daemon=True).start()

    def run(self, cell: Cell) -> CellResult:
        """Run one cell here and return it (as data) to the driver."""
        done: Future = Future()
        self.queue.put((cell, done))
        result = done.result()
        result.worker = self.node
        return result

    def _engine_loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            while True:
                try:
                    batch.append(self.queue.get(timeout=self.GATHER_S))
                except queue.Empty:
                    break
            waiting = {cell.key: done for cell, done in batch}
            try:
                for result in self.session.run_many([cell for cell, _ in batch]):
                    waiting.pop(result.key).set_result(result)
            except BaseException as e:  # noqa: BLE001 (handed to the waiting calls, raised there)
                for done in waiting.values():
                    done.set_exception(e)


class RayExecutor:
    """Runs engine groups as Ray actors on the cluster at `address` ("auto" or HOST:PORT)."""

    name = "ray"

    def __init__(self, address: str = "auto", cpus_per_engine: float = 1.0, max_restarts: int = MAX_RESTARTS) -> None:
        self.address, self.cpus, self.max_restarts = address, cpus_per_engine, max_restarts
        check_address(address)

    def run(self, job: Job, groups: Sequence[EngineGroup]) -> Iterator[CellResult]:
        """Yield each cell as its actor finishes it; raise UserError naming cells lost beyond retries."""
        ray = _connect(self.address)
        try:
            yield from self._run(ray, job, groups)
        finally:
            ray.shutdown()

    def _run(self, ray: Any, job: Job, groups: Sequence[EngineGroup]) -> Iterator[CellResult]:
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        actor_cls = ray.remote(EngineWorker)
        # workers get no results folder: each replaces `out` by a temporary folder of its own
        job = dataclasses.replace(job, grid=_worker_grid(job.grid))
        job_ref = ray.put(job)  # one copy in the object store, shared by every actor
        actors, left, calls = [], [], {}
        for gi, group in enumerate(groups):
            actor = actor_cls.options(
                num_cpus=self.cpus, num_gpus=group.gpus if has_gpus else 0, max_concurrency=min(512, max(1, len(group.cells))),
                max_restarts=self.max_restarts, max_task_retries=self.max_restarts,
            ).remote(job_ref, group)
            actors.append(actor)
            left.append(len(group.cells))
            for cell in group.cells:
                calls[actor.run.remote(cell)] = (gi, cell)
        log.info("ray: %d engine groups, %d cells submitted (%s)", len(groups), len(calls),
                 "GPUs" if has_gpus else "no GPUs in the cluster: CPU only")
        failed: list[str] = []
        resent: dict[str, int] = {}
        while calls:
            done, _ = ray.wait(list(calls), num_returns=1)
            gi, cell = calls.pop(done[0])
            try:
                result = ray.get(done[0])
            except (ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError):
                # finished, but its node died before the result reached the driver: run it again
                if resent.get(cell.key, 0) < self.max_restarts:
                    resent[cell.key] = resent.get(cell.key, 0) + 1
                    calls[actors[gi].run.remote(cell)] = (gi, cell)
                    continue
                failed.append(cell.key)
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, UserError):
                    raise cause from None
                raise
            except ray.exceptions.RayActorError as e:
                if e.actor_init_failed:
                    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
                    raise UserError(f"the engine of {groups[gi].name!r} could not start on a Ray worker "
                                    f"({lines[-1].strip() if lines else type(e).__name__}). Fix: install the "
                                    "same rv-eval on every node and give every node the models, tasks and data "
                                    "at the same paths.") from None
                log.error("cell %s lost after %d restarts of its engine: %s", cell.key, self.max_restarts,
                          str(e).splitlines()[0] if str(e) else type(e).__name__)
                failed.append(cell.key)
            else:
                yield result
            left[gi] -= 1
            if left[gi] == 0:
                ray.kill(actors[gi], no_restart=True)  # free its GPUs for the groups still waiting
        if failed:
            raise UserError(f"{len(failed)} cells were lost with their engine after {self.max_restarts} restarts "
                            f"(e.g. {failed[0]}). Fix: check the Ray workers' logs, then re-run the same "
                            "command: finished cells are kept and only these run again.")


def _worker_grid(grid: Any) -> Any:
    """The grid as workers get it: no results folder; a multi-GPU vLLM engine keeps its processes
    inside the actor (`distributed_executor_backend: mp`, on the GPUs Ray gave the actor) unless
    the grid chooses otherwise."""
    backend = grid.backend
    gpus = int(backend.options.get("tensor_parallel_size", 1)) * int(backend.options.get("pipeline_parallel_size", 1))
    if backend.name == "vllm" and gpus > 1:
        backend = dataclasses.replace(backend, options={"distributed_executor_backend": "mp", **backend.options})
    return dataclasses.replace(grid, out=Path("rv-eval-results-on-the-driver"), backend=backend)


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (UserError) when a HOST:PORT address has nobody listening; ray.init would retry for minutes."""
    if address == "auto" or address.startswith(("ray://", "local")):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UserError(f"--ray-address {address!r}: expected auto or HOST:PORT (e.g. 10.0.0.1:6379). "
                        "Fix: pass the address `ray start --head` printed.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UserError(f"no Ray cluster at {address} ({e.strerror or e}). Fix: start one there with "
                        f"`ray start --head --port {port}`, or pass the address of a running one.") from None


def _connect(address: str) -> Any:
    """`ray` connected to the cluster at `address` (UserError when Ray or the cluster is missing)."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray. Fix: pip install 'rv-eval[ray]'.") from None
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                 ignore_reinit_error=True)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"no Ray cluster reachable at {address!r} ({first}). Fix: start one "
                        "(`ray start --head` on the first node, `ray start --address HEAD:6379` on the "
                        "others) or pass --ray-address HOST:PORT.") from None
    return ray
