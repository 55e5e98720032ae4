"""Grid files: YAML → validated dataclasses → cells (model × task × seed).

A grid file names the models (local folders, hub ids, or a reasoning vector with an α list that
expands into one model per α), the tasks, the seeds, the sampling settings, the backend and its
options, the baseline and the output folder. Every problem is reported as a `UserError` naming the
file and the key. Relative paths are resolved against the grid file's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rv_eval.errors import UserError
from rv_eval.yamlio import brief, parse_yaml

BACKEND_NAMES = ("hf", "vllm")
_TOP_KEYS = {"name", "out", "models", "tasks", "seeds", "sampling", "backend", "baseline", "task_paths"}
_SAMPLING_KEYS = {"temperature", "top_p", "max_gen_toks", "samples"}
_BACKEND_COMMON = {"name", "chat_template", "in_place", "system_instruction"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# Ranges checked when a grid is loaded, before anything is written (larger values overflow a seed
# generator, an engine's token budget or memory long after the run started).
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_SAMPLES = 10_000  # samples per question
MAX_GEN_TOKS = 2**24  # beyond any model's context window
MAX_LIMIT = 2**31 - 1  # questions per task
#: Largest |α|: α·v is computed in float32, so a larger α is infinite before any weight is touched.
MAX_ABS_ALPHA = 3.4028234663852886e38


@dataclass(frozen=True)
class Sampling:
    """Sampling settings shared by every cell (temperature 0 means greedy)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_gen_toks: int = 256
    samples: int = 1  # samples per question (k)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (stored in run.json and in cell fingerprints)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BackendSpec:
    """Which engine generates, and its options (passed on to the backend unchanged)."""

    name: str = "hf"
    options: dict[str, Any] = field(default_factory=dict)  # dtype, batch_size, tensor_parallel_size, ...
    chat_template: bool = True
    in_place: bool = True  # α sweep in the live engine; False = materialize each variant
    system_instruction: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (stored in run.json)."""
        return {"name": self.name, "options": dict(self.options), "chat_template": self.chat_template,
                "in_place": self.in_place, "system_instruction": self.system_instruction}


@dataclass(frozen=True)
class VectorSpec:
    """A reasoning vector v = post − pre applied to `target` at each α in `alphas`."""

    name: str
    pre: str
    post: str
    target: str
    alphas: tuple[float, ...]
    merge: dict[str, Any] = field(default_factory=dict)  # extra options for rv_eval.merge (dtype, ...)


@dataclass(frozen=True)
class ModelSpec:
    """One model of the grid: a local folder, a hub id, or one α-variant of a vector."""

    name: str
    path: str | None = None  # local folder or hub id; None for α-variants
    vector: str | None = None
    alpha: float | None = None

    @property
    def is_variant(self) -> bool:
        """True for an α-variant of a vector."""
        return self.vector is not None


@dataclass(frozen=True)
class TaskSpec:
    """A task name (from tasks/) and an optional per-task question limit."""

    name: str
    limit: int | None = None


@dataclass(frozen=True)
class Cell:
    """One unit of work and of storage: a model × task × seed."""

    model: str
    task: str
    seed: int

    @property
    def key(self) -> str:
        """File-system-safe, unique name of the cell (its parquet file stem): `MODEL--TASK--sSEED`.

        A name that is not already safe (characters outside `A-Za-z0-9._@+-`, "--", a leading or
        trailing "-", or longer than 80 characters) is written as a readable slug plus `~` and a hash of the exact name, so two
        names never share a file (`モデルA` and `データA` are `___A~<hash>` with different hashes).
        Safe names are written as they are, so keys of existing folders stay the same.
        """
        return f"{_key_part(self.model)}--{_key_part(self.task)}--s{self.seed}"


@dataclass(frozen=True)
class Grid:
    """A validated grid file."""

    name: str
    source: Path | None
    text: str
    out: Path
    models: tuple[ModelSpec, ...]
    vectors: tuple[VectorSpec, ...]
    tasks: tuple[TaskSpec, ...]
    seeds: tuple[int, ...]
    sampling: Sampling
    backend: BackendSpec
    baseline: str | None
    task_paths: tuple[Path, ...] = ()

    def model(self, name: str) -> ModelSpec:
        """The model called `name`."""
        return next(m for m in self.models if m.name == name)

    def vector(self, name: str) -> VectorSpec:
        """The vector called `name`."""
        return next(v for v in self.vectors if v.name == name)

    def cells(self) -> list[Cell]:
        """Every cell, in grid order (models, then tasks, then seeds)."""
        return [Cell(m.name, t.name, s) for m in self.models for t in self.tasks for s in self.seeds]


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", s)


_MAX_KEY_PART = 80


def _key_part(name: str) -> str:
    """`name` itself when it is safe in a file name and unambiguous in a cell key, else slug~hash.

    "~" never occurs in a safe name, so a hashed part cannot equal a verbatim one.
    """
    safe = _safe(name)
    if safe == name and "--" not in name and not name.startswith("-") and not name.endswith("-") \
            and 0 < len(name) <= _MAX_KEY_PART:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{safe.replace('--', '-_').strip('-')[:48]}~{digest}"


def alpha_name(vector: str, alpha: float) -> str:
    """Model name of an α-variant: "<vector>@<alpha>" (α written with format "g")."""
    return f"{vector}@{format(alpha, 'g')}"


_MAX_LISTED = 20  # problems listed in one error (a hostile file may have thousands)


class _Problem(UserError):
    """One problem of a grid file; `line` is its text without the file name."""

    def __init__(self, source: str, line: str) -> None:
        super().__init__(f"{source}: {line}")
        self.line = line


class GridProblems(UserError):
    """Every problem of a grid: `problems` holds one `key: what. Fix: ...` line each (the message lists them)."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = list(problems)


class _Noted(Exception):
    """A section stopped after noting its problems (they are already in `_Ctx.problems`)."""


class _Ctx:
    """Where we are in the file, and the problems found so far (all reported together)."""

    def __init__(self, source: str, relative_to: str = "the grid file") -> None:
        self.source = source
        self.relative_to = relative_to  # what relative paths are resolved against (named in fixes)
        self.problems: list[str] = []

    @staticmethod
    def _line(key: str, what: str, fix: str) -> str:
        key = str(key)
        key = key if len(key) <= 120 else key[:117] + "..."
        return f"{key}: {what}. Fix: {fix}"

    def fail(self, key: str, what: str, fix: str) -> UserError:
        """The error for a problem after which the current section cannot go on (raise it)."""
        return _Problem(self.source, self._line(key, what, fix))

    def note(self, key: str, what: str, fix: str) -> None:
        """Record a problem and go on checking."""
        self.problems.append(self._line(key, what, fix))

    def stop_if_new(self, since: int) -> None:
        """End the current section when problems were noted since count `since`."""
        if len(self.problems) > since:
            raise _Noted

    def collect(self, default: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args)`, or `default` after recording the problem that ended it."""
        try:
            return fn(*args, **kwargs)
        except _Problem as e:
            self.problems.append(e.line)
        except _Noted:
            pass
        return default

    def raise_problems(self) -> None:
        """One GridProblems listing every problem: the first line names the file and the count."""
        if self.problems:
            raise GridProblems(problems_message(self.source, self.problems), self.problems)


def problems_message(source: str, problems: list[str]) -> str:
    """`SOURCE: line` for one problem; else `SOURCE: N problems:` and one indented line each (at most 20)."""
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    shown = problems[:_MAX_LISTED]
    more = [f"... and {len(problems) - len(shown)} more"] if len(problems) > len(shown) else []
    return f"{source}: {len(problems)} problems:\n  " + "\n  ".join(shown + more)


def load_grid(path: str | Path, out: str | Path | None = None) -> Grid:
    """Read and validate a grid file. `out` overrides the file's `out` key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"grid file {path} not found. Fix: pass the path of an existing grid YAML.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"grid file {path} cannot be read ({e}). Fix: pass a UTF-8 YAML file.") from None
    return parse_grid(text, source=path, out=out)


def parse_grid(text: str, source: Path | None = None, out: str | Path | None = None) -> Grid:
    """Validate grid YAML `text`; relative paths resolve against `source`'s folder (else the cwd).

    Every problem of the file is reported in one UserError (one line each).
    """
    ctx = _Ctx(str(source), "the grid file") if source else _Ctx("<grid>", "the current folder")
    base = source.resolve().parent if source else Path.cwd()
    raw = parse_yaml(text, ctx.source)
    if not isinstance(raw, dict):
        raise ctx.fail("<top level>", "expected a mapping of keys", "write `models:`, `tasks:`, `seeds:` ... keys")
    for key in sorted(set(raw) - _TOP_KEYS, key=str):
        ctx.note(key, "unknown key", f"use only {sorted(_TOP_KEYS)}")
    for key in ("models", "tasks"):
        if not raw.get(key):
            ctx.note(key, "missing or empty", f"add a `{key}:` list")
    name = ctx.collect("grid", _str, ctx, "name", raw.get("name") or (source.stem if source else "grid"))
    before = len(ctx.problems)
    vectors, models = ctx.collect(([], []), _parse_models, ctx, raw["models"], base) if raw.get("models") else ([], [])
    models_ok = len(ctx.problems) == before
    tasks = ctx.collect([], _parse_tasks, ctx, raw["tasks"], check_names=not raw.get("task_paths")) \
        if raw.get("tasks") else []
    seeds = ctx.collect([0], _parse_seeds, ctx, raw.get("seeds", [0]))
    baseline = raw.get("baseline")
    if baseline is not None and models_ok and baseline not in {m.name for m in models}:
        ctx.note("baseline", f"{brief(baseline)} is not a model of the grid", f"use one of {[m.name for m in models]}")
    out_path = Path("runs") / _safe(name)
    if out is not None:
        out_path = Path(out)
    elif raw.get("out"):
        out_path = ctx.collect(out_path, lambda: _resolve(base, _str(ctx, "out", raw["out"])))
    task_paths = ctx.collect((), _parse_task_paths, ctx, raw.get("task_paths") or [], base)
    sampling = ctx.collect(Sampling(), _parse_sampling, ctx, raw.get("sampling") or {})
    backend = ctx.collect(BackendSpec(), _parse_backend, ctx, raw.get("backend", "hf"))
    ctx.raise_problems()
    return Grid(
        name=name, source=source, text=text, out=out_path,
        models=tuple(models), vectors=tuple(vectors), tasks=tuple(tasks), seeds=tuple(seeds),
        sampling=sampling, backend=backend, baseline=baseline, task_paths=task_paths,
    )


def _resolve(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else Path(os.path.normpath(base / q))


def _str(ctx: _Ctx, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ctx.fail(key, f"expected a non-empty string, got {brief(v)}", "write a name or path")
    return v.strip()


def _parse_task_paths(ctx: _Ctx, items: Any, base: Path) -> tuple[Path, ...]:
    if not isinstance(items, list):
        raise ctx.fail("task_paths", f"expected a list of folders, got {brief(items)}", "write `task_paths: [my_tasks]`")
    paths = [ctx.collect(None, _str, ctx, f"task_paths[{i}]", p) for i, p in enumerate(items)]
    return tuple(_resolve(base, p) for p in paths if p is not None)


def _model_path(ctx: _Ctx, key: str, v: Any, base: Path) -> str:
    """A local folder (must exist) or a hub id ("org/name")."""
    s = _str(ctx, key, v)
    local = _resolve(base, s)
    if local.exists():
        if not local.is_dir():
            raise ctx.fail(key, f"{local} is a file, not a model folder", "point to the folder holding config.json")
        return str(local.resolve())
    if _HUB_ID.match(s) and not s.startswith((".", "/", "~")):
        return s
    raise ctx.fail(key, f"model folder {local} does not exist", f"fix the path (relative paths are relative to {ctx.relative_to})")


def _parse_models(ctx: _Ctx, items: Any, base: Path) -> tuple[list[VectorSpec], list[ModelSpec]]:
    if not isinstance(items, list):
        raise ctx.fail("models", "expected a list", "write `models:` followed by `- name: ... path: ...` items")
    vectors: list[VectorSpec] = []
    models: list[ModelSpec] = []
    for i, item in enumerate(items):
        parsed = ctx.collect(None, _parse_model_item, ctx, f"models[{i}]", item, base)
        if isinstance(parsed, VectorSpec):
            vectors.append(parsed)
            models += [ModelSpec(alpha_name(parsed.name, a), vector=parsed.name, alpha=a) for a in parsed.alphas]
        elif parsed is not None:
            models.append(parsed)
    seen: set[str] = set()
    for m in models:
        if m.name in seen:
            ctx.note("models", f"model name {brief(m.name)} appears twice", "give every model a distinct `name`")
        seen.add(m.name)
    return vectors, models


def _parse_model_item(ctx: _Ctx, key: str, item: Any, base: Path) -> ModelSpec | VectorSpec:
    if not isinstance(item, dict):
        raise ctx.fail(key, f"expected a mapping, got {brief(item)}", "write `- name: NAME` and `path: PATH` (or `vector:`)")
    if "vector" in item:
        return _parse_vector(ctx, f"{key}.vector", item["vector"], base, item)
    before = len(ctx.problems)
    for extra in sorted(set(item) - {"name", "path"}, key=str):
        ctx.note(f"{key}.{extra}", "unknown key", "a model has `name` and `path` (or is a `vector:` entry)")
    if "path" not in item:
        ctx.note(f"{key}.path", "missing", "give the model folder or hub id")
    ctx.stop_if_new(before)
    path = _model_path(ctx, f"{key}.path", item["path"], base)
    return ModelSpec(_str(ctx, f"{key}.name", item.get("name") or Path(path).name), path=path)


def _parse_vector(ctx: _Ctx, key: str, v: Any, base: Path, item: dict) -> VectorSpec:
    if not isinstance(v, dict):
        raise ctx.fail(key, "expected a mapping with pre, post, target, alphas", "see examples/tiny_cpu.yaml")
    allowed = {"name", "pre", "post", "target", "alphas", "merge"}
    before = len(ctx.problems)
    for extra in sorted(set(v) - allowed, key=str):
        ctx.note(f"{key}.{extra}", "unknown key", f"use only {sorted(allowed)}")
    for k in ("pre", "post", "target", "alphas"):
        if k not in v:
            ctx.note(f"{key}.{k}", "missing", f"add `{k}:`")
    vals = _parse_alphas(ctx, f"{key}.alphas", v["alphas"]) if "alphas" in v else []
    merge = v.get("merge") or {}
    if not isinstance(merge, dict):
        ctx.note(f"{key}.merge", "expected a mapping of merge options", "e.g. `merge: {dtype: bfloat16}`")
    name = ctx.collect(None, _str, ctx, f"{key}.name", v.get("name") or item.get("name") or "vector")
    if name is not None and "@" in name:
        ctx.note(f"{key}.name", f"{brief(name)} contains '@'", "name the vector without '@'")
    paths = {k: ctx.collect(None, _model_path, ctx, f"{key}.{k}", v[k], base)
             for k in ("pre", "post", "target") if k in v}
    ctx.stop_if_new(before)
    return VectorSpec(name=name, pre=paths["pre"], post=paths["post"], target=paths["target"],
                      alphas=tuple(vals), merge=dict(merge))


def _parse_alphas(ctx: _Ctx, key: str, alphas: Any) -> list[float]:
    if not isinstance(alphas, list) or not alphas:
        ctx.note(key, f"expected a non-empty list of numbers, got {brief(alphas)}", "write e.g. `alphas: [0, 0.5, 1]`")
        return []
    vals: list[float] = []
    for a in alphas:
        if isinstance(a, bool) or not isinstance(a, int | float) or not math.isfinite(a) or abs(a) > MAX_ABS_ALPHA:
            ctx.note(key, f"{brief(a)} is not a finite number within ±{MAX_ABS_ALPHA:.4g} (float32)",
                     "write numbers such as 0.5")
        elif float(a) in vals:
            ctx.note(key, f"α {a} appears twice", "list each α once")
        else:
            vals.append(float(a))
    return vals


def _parse_tasks(ctx: _Ctx, items: Any, check_names: bool = True) -> list[TaskSpec]:
    if not isinstance(items, list):
        raise ctx.fail("tasks", "expected a list", "write `tasks: [gsm8k_test_en, ...]`")
    out: list[TaskSpec] = []
    keys: list[str] = []
    for i, item in enumerate(items):
        task = ctx.collect(None, _parse_task_item, ctx, f"tasks[{i}]", item)
        if task is not None:
            out.append(task)
            keys.append(f"tasks[{i}]")
    names = [t.name for t in out]
    for dup in dict.fromkeys(n for n in names if names.count(n) > 1):
        ctx.note("tasks", f"task {brief(dup)} listed twice", "list each task once")
    if check_names:
        _check_task_names(ctx, names, keys)
    return out


def _parse_task_item(ctx: _Ctx, key: str, item: Any) -> TaskSpec:
    if isinstance(item, str):
        return TaskSpec(_task_name(_str(ctx, key, item)))
    if not isinstance(item, dict) or "name" not in item:
        raise ctx.fail(key, f"expected a task name or {{name, limit}}, got {brief(item)}", "write `- demo_en` or `- {name: demo_en, limit: 5}`")
    before = len(ctx.problems)
    for extra in sorted(set(item) - {"name", "limit"}, key=str):
        ctx.note(f"{key}.{extra}", "unknown key", "a task has `name` and optional `limit`")
    limit = item.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT):
        ctx.note(f"{key}.limit", f"expected an integer from 1 to {MAX_LIMIT}, got {brief(limit)}",
                 "write e.g. `limit: 10` or drop the key")
    ctx.stop_if_new(before)
    return TaskSpec(_task_name(_str(ctx, f"{key}.name", item["name"])), limit)


def _task_name(name: str) -> str:
    """The task's current name (an old alias such as gsm8k_ja becomes mgsm_ja, with a warning)."""
    from rv_eval.tasks import resolve_alias

    return resolve_alias(name)


def _check_task_names(ctx: _Ctx, names: list[str], keys: list[str]) -> None:
    """Check names against rv_eval.tasks: known, and a task rather than a group (the runner runs tasks)."""
    try:
        from rv_eval.tasks import list_tasks, subtasks, task_info
    except ImportError:
        return
    known = set(list_tasks())
    for key, n in zip(keys, names, strict=True):
        if known and n not in known:
            near = difflib.get_close_matches(n, sorted(known), n=5)
            hint = f"did you mean {near}? " if near else ""
            ctx.note(key, f"unknown task {brief(n)}", f"{hint}see docs/tasks.md or the `tasks` sub-command for the {len(known)} known tasks, "
                     "or list a folder of your own task YAMLs under `task_paths:` (`--include_path` on the command line)")
        elif n in known and task_info(n).is_group:
            members = subtasks(n)
            ctx.note(key, f"{brief(n)} is a group of {len(members)} subtasks; a grid lists tasks",
                     f"list its subtasks instead ({', '.join(members)}; the `tasks {n}` sub-command prints them) "
                     f"and pool their results with `rv-eval stats --pool '{n}_all={n}_*'`")


def _parse_seeds(ctx: _Ctx, seeds: Any) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds:
        raise ctx.fail("seeds", f"expected a non-empty list of integers, got {brief(seeds)}", "write e.g. `seeds: [0, 1, 2]`")
    before = len(ctx.problems)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            ctx.note("seeds", f"{brief(s)} is not an integer from 0 to {MAX_SEED}", "write e.g. `seeds: [0, 1, 2]`")
    ctx.stop_if_new(before)
    if len(set(seeds)) != len(seeds):
        raise ctx.fail("seeds", "a seed appears twice", "list each seed once")
    return list(seeds)


def _parse_sampling(ctx: _Ctx, raw: Any) -> Sampling:
    if not isinstance(raw, dict):
        raise ctx.fail("sampling", "expected a mapping", "write `sampling: {temperature: 0.6, top_p: 0.95, max_gen_toks: 512, samples: 4}`")
    before = len(ctx.problems)
    for extra in sorted(set(raw) - _SAMPLING_KEYS, key=str):
        ctx.note(f"sampling.{extra}", "unknown key", f"use only {sorted(_SAMPLING_KEYS)}")
    d = Sampling()
    temp = ctx.collect(None, _number, ctx, "sampling.temperature", raw.get("temperature", d.temperature), 0.0, None)
    top_p = ctx.collect(None, _number, ctx, "sampling.top_p", raw.get("top_p", d.top_p), 0.0, 1.0)
    if top_p == 0.0:
        ctx.note("sampling.top_p", "must be > 0", "use a value in (0, 1]")
    max_gen = raw.get("max_gen_toks", d.max_gen_toks)
    samples = raw.get("samples", d.samples)
    for key, v, hi in (("sampling.max_gen_toks", max_gen, MAX_GEN_TOKS), ("sampling.samples", samples, MAX_SAMPLES)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            ctx.note(key, f"expected an integer from 1 to {hi}, got {brief(v)}", "write e.g. 4")
    ctx.stop_if_new(before)
    if temp == 0.0 and samples > 1:
        raise ctx.fail("sampling.samples", f"{samples} samples per question with temperature 0 would all be identical",
                       "set temperature > 0 or samples: 1")
    return Sampling(float(temp), float(top_p), int(max_gen), int(samples))


def _number(ctx: _Ctx, key: str, v: Any, lo: float, hi: float | None) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < lo or (hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ctx.fail(key, f"expected a number {rng}, got {brief(v)}", f"use a number {rng}")
    return float(v)


def _parse_backend(ctx: _Ctx, raw: Any) -> BackendSpec:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise ctx.fail("backend", f"expected `hf`, `vllm` or a mapping, got {brief(raw)}", "write `backend: {name: vllm, dtype: bfloat16}`")
    before = len(ctx.problems)
    name = raw.get("name", "hf")
    for key in ("chat_template", "in_place"):
        if key in raw and not isinstance(raw[key], bool):
            ctx.note(f"backend.{key}", f"expected true or false, got {brief(raw[key])}", "write true or false")
    sysi = raw.get("system_instruction")
    if sysi is not None and not isinstance(sysi, str):
        ctx.note("backend.system_instruction", "expected a string", "write a string or drop the key")
    options = {k: v for k, v in raw.items() if k not in _BACKEND_COMMON}
    if name not in BACKEND_NAMES:
        ctx.note("backend.name", f"unknown backend {brief(name)}", f"use one of {list(BACKEND_NAMES)}")
    else:
        _check_backend_options(ctx, name, options)
    ctx.stop_if_new(before)
    return BackendSpec(name=name, options=options, chat_template=raw.get("chat_template", True),
                       in_place=raw.get("in_place", True), system_instruction=sysi)


def _check_backend_options(ctx: _Ctx, name: str, options: dict[str, Any]) -> None:
    """Refuse options the backend's constructor does not take (they would fail only after the run starts)."""
    from rv_eval.backends import option_sources, unknown_options

    unknown, valid = unknown_options(name, options)
    valid = sorted(_BACKEND_COMMON) + valid
    listed = (f"valid options: {', '.join(valid)}" if len(valid) <= 60 else
              f"valid options are the {len(valid)} keywords of {option_sources(name)}")
    for option in unknown:
        near = difflib.get_close_matches(option, valid, n=3)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        ctx.note(f"backend.{option}", f"unknown option for the {name} backend", f"{hint}remove or rename it; {listed}")


def parse_shard(text: str) -> tuple[int, int]:
    """Parse `--shard i/n` (0-based i, 0 ≤ i < n)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise UserError(f"--shard {brief(text)}: expected i/n with 0 <= i < n (e.g. 0/4). "
                        "Fix: pass e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.")
    return int(m.group(1)), int(m.group(2))


def shard_cells(cells: list[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    """Shard i of n: a contiguous block of the grid-ordered cells (keeps a model's cells together)."""
    if shard is None:
        return list(cells)
    i, n = shard
    lo, hi = (len(cells) * i) // n, (len(cells) * (i + 1)) // n
    return list(cells[lo:hi])
