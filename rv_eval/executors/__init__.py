"""Executors: where a grid's cells run. The runner plans; an executor only executes.

The runner (`rv_eval.runner`) plans the cells (model × task × seed, fingerprints, what is already
stored) and groups the pending ones by engine (`EngineGroup`: one plain model, or one vector's
target with all its α values). It hands the groups to an executor as a `Job` and publishes every
`CellResult` the executor yields into the results folder itself, with the store's atomic write
and the fingerprint it planned. Executors never write results, so workers need no access to the
results folder.

- `local`: this process, one engine after another (`rv_eval.executors.local`).
- `ray`: one Ray actor per engine group on a Ray cluster (`rv_eval.executors.ray`).

Both run a group with the same code (`rv_eval.executors.engine.EngineSession`), so they give
identical results for the same grid and seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rv_eval.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from rv_eval.grid import Cell, Grid, ModelSpec, VectorSpec

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class EngineGroup:
    """Cells that share one engine: a plain model's cells, or a vector's α-variants (target loaded once)."""

    name: str  # the model's or the vector's name
    models: tuple[ModelSpec, ...]  # one plain model, or the vector's variants in grid order
    cells: tuple[Cell, ...]
    vector: VectorSpec | None = None
    gpus: int = 1  # accelerators one engine needs (vLLM tensor_parallel_size)

    def model(self, name: str) -> ModelSpec:
        """The group's model called `name`."""
        return next(m for m in self.models if m.name == name)


@dataclass(frozen=True)
class Job:
    """Everything an executor needs besides the groups; picklable, and free of the results folder."""

    grid: Grid  # `out` is never used by executors (it may not exist where they run)
    fingerprints: dict[str, str]  # cell key -> fingerprint planned by the driver
    task_fingerprints: dict[str, str]  # task name -> fingerprint planned by the driver
    in_place: bool  # α applied in the live engine (else variants are materialized)
    grader: Callable[[str, dict, str], Any] | None  # a custom grader (runs in the engine's process), or None:
    # grading workers (`rv_eval.sample_grading.SampleGrader`) with a hard limit per response
    grade_timeout_s: float = 10.0
    progress: bool = False  # the backends' own per-request bars (runner.progress_bars: never with the cells bar)
    library_bars: bool = False  # datasets/transformers/huggingface_hub bars (only with `rv-eval -v`; rv_eval.library_output)


@dataclass
class CellResult:
    """One finished cell, as data: the driver publishes it."""

    key: str
    fingerprint: str
    frame: pd.DataFrame
    worker: str = "local"  # where it ran (Ray node id, or "local")
    extra: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Runs engine groups somewhere and yields each cell as soon as it is finished."""

    name: str

    def run(self, job: Job, groups: Sequence[EngineGroup]) -> Iterator[CellResult]:
        """Yield one `CellResult` per cell of `groups` (any order, each cell once)."""
        ...


def get_executor(name: str, ray_address: str | None = None) -> Executor:
    """The executor called `name` ("local" or "ray"; `ray_address` only for Ray)."""
    if name == "local":
        if ray_address:
            raise UserError("--ray-address needs --executor ray. Fix: add --executor ray or drop --ray-address.")
        from rv_eval.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from rv_eval.executors.ray import RayExecutor

        return RayExecutor(address=ray_address or "auto")
    raise UserError(f"unknown executor {name!r}. Fix: use one of {list(EXECUTORS)}.")
