"""What a grid costs before it runs: its size, token budget, GPU-hours and wall time (`rv-eval run --dry-run`).

Counts come from the grid and the task data (questions per task, capped by the grid's `limit`); nothing
loads a model or writes a file. Time = generated tokens / (tokens/s per GPU): the figure is
`--tokens-per-s`, or a published one from `PUBLISHED_THROUGHPUT` for the model size, backend and GPU.
The token budget (every response at `max_gen_toks`) is an upper bound; real responses stop earlier.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass

from rv_eval.errors import UserError
from rv_eval.grid import Grid, TaskSpec

#: the GPU counts the estimate is printed for
GPU_COUNTS = (1, 8, 64)


@dataclass(frozen=True)
class Throughput:
    """A published generation throughput: output tokens/s per GPU for one model size, backend and GPU."""

    size_b: float  # model parameters in billions
    backend: str
    gpu: str
    tokens_per_s_per_gpu: float
    conditions: str
    source: str


#: Published output-token throughputs, each with its source. Searched for vLLM decode throughput of
#: Qwen2.5-7B/32B-class models on H100/H200 (vLLM docs, blog, perf dashboard, issues): no citable
#: figure was found, so those sizes have no row and need `--tokens-per-s` (measure it: the tokens/s
#: column of `rv-eval results` after a short run, or benchmarks/backend_bench.py).
PUBLISHED_THROUGHPUT: tuple[Throughput, ...] = (
    Throughput(1.5, "vllm", "A100", 2194.54,
               "Qwen2.5-1.5B, 1 × A100, 1000 input / 2000 output tokens, vLLM output tokens/s",
               "https://github.com/simon-mo/vLLM-Benchmark/pull/1"),
)


@dataclass(frozen=True)
class SizeRow:
    """One model × task of the grid: its questions and what they ask of the engine."""

    model: str
    task: str
    questions: int
    seeds: int
    samples: int
    max_gen_toks: int

    @property
    def requests(self) -> int:
        """Generation requests: questions × seeds × samples."""
        return self.questions * self.seeds * self.samples

    @property
    def budget(self) -> int:
        """Generated-token upper bound: requests × max_gen_toks."""
        return self.requests * self.max_gen_toks


@dataclass(frozen=True)
class GridSize:
    """The size of a whole grid."""

    rows: tuple[SizeRow, ...]
    cells: int
    cell_budgets: tuple[int, ...]  # generated-token bound of each cell (model × task × seed)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rows)

    @property
    def budget(self) -> int:
        return sum(r.budget for r in self.rows)


def parse_tokens_per_s(text: str | None) -> float | None:
    """`--tokens-per-s` as a positive finite number (None when not given); else a UserError."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"--tokens-per-s: {text!r} is not a positive number. Fix: give generated tokens/s per GPU, "
                        "e.g. --tokens-per-s 1500")
    return value


def question_count(task: TaskSpec, grid: Grid) -> int:
    """Questions the grid asks of `task` (its docs, capped by the task's limit)."""
    from rv_eval.tasks import list_tasks, load_docs

    if task.name in set(list_tasks()):
        n = len(load_docs(task.name))
    else:  # a task from the grid's task_paths: count what lm-eval yields
        from rv_eval.runner import TaskCatalog

        n = sum(1 for _ in TaskCatalog(grid.task_paths).get(task.name, None).task.doc_iterator())
    return min(n, task.limit) if task.limit is not None else n


def grid_size(grid: Grid) -> GridSize:
    """Questions, requests and token budget per model × task, and every cell's token bound."""
    counts = {t.name: question_count(t, grid) for t in grid.tasks}
    s = grid.sampling
    rows = tuple(SizeRow(m.name, t.name, counts[t.name], len(grid.seeds), s.samples, s.max_gen_toks)
                 for m in grid.models for t in grid.tasks)
    cell_budgets = tuple(counts[c.task] * s.samples * s.max_gen_toks for c in grid.cells())
    return GridSize(rows, len(grid.cells()), cell_budgets)


def model_size_b(grid: Grid) -> float | None:
    """The largest parameter count (billions) named in the grid's model paths ("…-32B…"), None if any lacks one."""
    paths = [m.path for m in grid.models if m.path] + [v.target for v in grid.vectors]
    sizes = []
    for p in paths:
        found = re.findall(r"(\d+(?:\.\d+)?)[Bb](?![A-Za-z])", p.rsplit("/", 1)[-1])
        if not found:
            return None
        sizes.append(float(found[-1]))
    return max(sizes) if sizes else None


def published_throughput(grid: Grid, gpu: str | None) -> Throughput | None:
    """The `PUBLISHED_THROUGHPUT` row for the grid's model size, backend and `gpu` (None if there is none)."""
    size = model_size_b(grid)
    if gpu is None or size is None:
        return None
    return next((t for t in PUBLISHED_THROUGHPUT if t.size_b == size and t.backend == grid.backend.name
                 and t.gpu.lower() == gpu.lower()), None)


def wall_hours(cell_budgets: tuple[int, ...], gpus: int, tp: int, tokens_per_s_per_gpu: float) -> float | None:
    """Wall time (hours) on `gpus` GPUs: cells spread over gpus // tp engines, largest first (LPT), each
    engine generating tp × tokens/s per GPU. None when fewer GPUs than one engine needs."""
    engines = gpus // tp
    if engines < 1:
        return None
    loads = [0] * engines
    for b in sorted(cell_budgets, reverse=True):
        heapq.heapreplace(loads, loads[0] + b)
    return max(loads) / (tp * tokens_per_s_per_gpu) / 3600


def array_wall_hours(cell_budgets: tuple[int, ...], gpus: int, tp: int, tokens_per_s_per_gpu: float) -> float | None:
    """Wall time (hours) of a Slurm array of gpus // tp shards (`--shard i/n`: contiguous blocks of the
    grid-ordered cells, rv_eval.grid.shard_cells), each on one engine. None when fewer GPUs than one engine."""
    from rv_eval.grid import shard_cells

    n = gpus // tp
    if n < 1:
        return None
    longest = max(sum(shard_cells(list(cell_budgets), (i, n))) for i in range(n))
    return longest / (tp * tokens_per_s_per_gpu) / 3600


def ray_wall_hours(grid: Grid, size: GridSize, gpus: int, tokens_per_s_per_gpu: float) -> float | None:
    """Wall time (hours) under `--executor ray`: the runner's engine groups (a model, or a vector with all
    its α values; split in D by `data_parallel_size: D`) spread over the engines, largest first."""
    from rv_eval.runner import engine_groups

    budget = dict(zip(grid.cells(), size.cell_budgets, strict=True))
    groups = engine_groups(grid, grid.cells())
    per_engine = groups[0].gpus if groups else 1
    return wall_hours(tuple(sum(budget[c] for c in g.cells) for g in groups), gpus, per_engine, tokens_per_s_per_gpu)


def engine_gpus(grid: Grid) -> int:
    """GPUs of one engine: tensor_parallel_size × pipeline_parallel_size."""
    opts = grid.backend.options
    return int(opts.get("tensor_parallel_size", 1) or 1) * int(opts.get("pipeline_parallel_size", 1) or 1)


def _n(x: int) -> str:
    return f"{x:,}"


def _h(hours: float | None) -> str:
    if hours is None:
        return "—"
    return f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def format_estimate(grid: Grid, size: GridSize, tokens_per_s: float | None, gpu: str | None) -> str:
    """The text `rv-eval run --dry-run` prints."""
    s = grid.sampling
    tp = engine_gpus(grid)
    lines = [f"grid {grid.name}: {len(grid.models)} models × {len(grid.tasks)} tasks × {len(grid.seeds)} seeds "
             f"= {_n(size.cells)} cells; {s.samples} samples per question, max_gen_toks {_n(s.max_gen_toks)}",
             "", f"{'model':<24} {'task':<20} {'questions':>9} {'requests':>9} {'token budget':>14}"]
    lines += [f"{r.model:<24} {r.task:<20} {r.questions:>9} {_n(r.requests):>9} {_n(r.budget):>14}" for r in size.rows]
    lines += ["", f"total: {_n(size.requests)} requests (questions × seeds × samples), generation-token budget "
              f"{_n(size.budget)} (requests × max_gen_toks; an upper bound, responses that stop early use less)"]
    source = "--tokens-per-s"
    if tokens_per_s is None:
        row = published_throughput(grid, gpu)
        if row is None:
            lines.append("no published throughput for this model size, backend and GPU in "
                         "rv_eval.estimate.PUBLISHED_THROUGHPUT: pass --tokens-per-s N (generated tokens/s per GPU, "
                         "measured: the tokens/s column of `rv-eval results` after a short run) for GPU-hours and wall time")
            return "\n".join(lines) + "\n"
        tokens_per_s, source = row.tokens_per_s_per_gpu, f"{row.conditions}; {row.source}"
    gpu_hours = size.budget / tokens_per_s / 3600
    lines.append(f"throughput: {tokens_per_s:,.0f} generated tokens/s per GPU ({source}); "
                 f"engines of {tp} GPU{'s' if tp > 1 else ''} (tensor × pipeline parallel size)")
    lines.append(f"GPU-hours at the budget: {gpu_hours:,.1f}")
    for g in GPU_COUNTS:
        if g < tp:
            lines.append(f"  {g:>3} GPUs: — (one engine needs {tp} GPUs)")
            continue
        lines.append(f"  {g:>3} GPUs ({g // tp} engine{'s' if g // tp != 1 else ''}): wall "
                     f"{_h(wall_hours(size.cell_budgets, g, tp, tokens_per_s))} with cells spread largest first, "
                     f"{_h(array_wall_hours(size.cell_budgets, g, tp, tokens_per_s))} as a Slurm array of "
                     f"{g // tp} shards, {_h(ray_wall_hours(grid, size, g, tokens_per_s))} with --executor ray")
    lines.append("(wall times at the budget; engine starts and α switches not counted; --executor ray runs one "
                 "engine per model or vector unless the backend sets data_parallel_size)")
    return "\n".join(lines) + "\n"
