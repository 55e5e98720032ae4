"""The local executor: every engine group in this process, one engine at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rv_eval.executors import CellResult, EngineGroup, Job
from rv_eval.executors.engine import EngineSession, Loader, close_lm


class LocalExecutor:
    """Runs the groups one after another here; the previous engine is closed before the next loads.

    Materialized α-variants are kept in OUT/variants/<vector> (the driver's results folder).
    """

    name = "local"

    def run(self, job: Job, groups: Sequence[EngineGroup]) -> Iterator[CellResult]:
        """Yield each cell of each group as soon as it is finished."""
        from rv_eval.runner import TaskCatalog

        loader, catalog = Loader(job.grid), TaskCatalog(job.grid.task_paths)
        try:
            for group in groups:
                folder = job.grid.out / "variants" / (group.vector.name if group.vector else group.name)
                session = EngineSession(job, group, folder, loader, catalog)
                try:
                    yield from session.run_many(group.cells)
                finally:
                    session.close_grading()
        finally:
            close_lm(loader.last)
