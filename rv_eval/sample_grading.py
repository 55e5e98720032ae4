"""Grading stored or fresh samples for `run` and `regrade`, each item under a hard time limit.

Model output is hostile: one response can make a grader run for hours (a tower of powers sent to
sympy, a huge code answer). So the default path grades every response in worker processes
(`rv_eval.grading.GradingPool`, as `grade_many` does): an item past its limit is scored with
reason `timeout` and its worker is replaced, and the run goes on. A custom `Grader` callable (an
API hook for tests and experiments) runs in this process instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from rv_eval.schema import Grade

Grader = Callable[[str, dict, str], Grade]

#: Hard limit per math / choice / BBH item in seconds (code items: their sandbox limit plus a margin).
DEFAULT_TIMEOUT_S = 10.0
MAX_WORKERS = 8  # each worker holds sympy and math-verify (~150 MB)


class SampleGrader:
    """Grades the responses of one task at a time; worker processes live until `close()`."""

    def __init__(self, grader: Grader | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 workers: int | None = None) -> None:
        if timeout_s <= 0:
            from rv_eval.errors import UserError

            raise UserError(f"grading time limit {timeout_s} s is not positive. Fix: pass a limit above 0 seconds.")
        self.custom = grader
        self.timeout_s = float(timeout_s)
        self.workers = workers or min(os.cpu_count() or 1, MAX_WORKERS)
        self._pool: Any = None

    def grade(self, task: str, docs: Sequence[dict], responses: Sequence[str],
              stop_reasons: Sequence[str | None] | None = None) -> list[Grade]:
        """One Grade per (doc, response, stop reason), in order."""
        stops = list(stop_reasons) if stop_reasons is not None else [None] * len(responses)
        if self.custom is not None:
            return [self.custom(task, doc, str(r)) for doc, r in zip(docs, responses, strict=True)]
        from rv_eval.tasks import grade_item_for

        items = [grade_item_for(task, doc, str(r), s) for doc, r, s in zip(docs, responses, stops, strict=True)]
        return self._workers().grade(items)

    def _workers(self) -> Any:
        if self._pool is None:
            from rv_eval.grading import GradingPool, PoolConfig

            self._pool = GradingPool(self.workers, PoolConfig(item_timeout_s=self.timeout_s, progress=False))
        return self._pool

    def close(self) -> None:
        """Stop the grading workers (if any were started)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> SampleGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
