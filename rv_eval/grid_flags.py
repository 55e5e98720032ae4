"""A grid from `rv-eval run` flags (no YAML), with lm-eval's flag names where lm-eval has them.

`grid_from_flags(...)` checks every flag, writes the grid of the flags that parsed as YAML text and
parses it with `rv_eval.grid.parse_grid`: a command line and the YAML it prints (`--print-grid`, and
OUT/grid.yaml after a run) give the same `Grid`, and the same validation. The flag problems and the
grid's are reported together, in one error. Nothing heavy is imported here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rv_eval.errors import UserError

#: lm-eval gen_kwargs this runner takes, mapped to the grid's `sampling:` keys
_GEN_KWARGS = {"temperature": "temperature", "top_p": "top_p", "max_gen_toks": "max_gen_toks",
               "max_new_tokens": "max_gen_toks", "do_sample": None}
_VECTOR_PARTS = ("pre", "post", "target")


@dataclass
class RunFlags:
    """The grid-building flags of `rv-eval run` (strings as typed; parsed by `grid_from_flags`)."""

    models: list[str] = field(default_factory=list)  # PATH, HUB_ID or NAME=PATH
    vectors: list[str] = field(default_factory=list)  # NAME=pre:PATH,post:PATH,target:PATH
    alpha: str | None = None  # "0,0.5,1"
    tasks: str | None = None  # "a,b"
    limit: int | None = None
    seeds: str | None = None  # "0,1"
    samples: int | None = None
    backend: str = "hf"
    model_args: str | None = None  # "k=v,k=v"
    gen_kwargs: str | None = None  # "k=v,k=v"
    include_path: list[str] = field(default_factory=list)
    system_instruction: str | None = None
    chat_template: bool = True
    in_place: bool | None = None
    name: str | None = None
    baseline: str | None = None
    out: str | None = None

    def given(self) -> bool:
        """True if any grid-building flag was given."""
        return bool(self.models or self.vectors or self.tasks or self.alpha or self.model_args or self.gen_kwargs)


def parse_kv(text: str, flag: str, problems: list[str]) -> dict[str, Any]:
    """lm-eval's `k=v,k=v` (values parsed as YAML scalars: 1 → int, true → bool, 0.5 → float)."""
    out: dict[str, Any] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep or not k.strip():
            problems.append(f"{flag}: {part!r} is not KEY=VALUE. Fix: write e.g. {flag} dtype=float32,batch_size=8")
            continue
        try:
            out[k.strip()] = yaml.safe_load(v.strip()) if v.strip() else ""
        except yaml.YAMLError:
            out[k.strip()] = v.strip()
    return out


def _numbers(text: str, flag: str, problems: list[str], kind: type) -> list:
    vals: list = []
    for part in (p.strip() for p in (text or "").split(",")):
        try:
            x = kind(part)
            if kind is float and not math.isfinite(x):
                raise ValueError
        except ValueError:
            what = "integer" if kind is int else "number"
            problems.append(f"{flag}: {part!r} is not a{'n' if kind is int else ''} {what}. Fix: write e.g. {flag} "
                            f"{'0,1' if kind is int else '0,0.5,1'}")
            continue
        vals.append(x)
    return vals


def _path(p: str) -> str:
    """Absolute path for an existing local folder (the grid then works from any folder); else as given."""
    q = Path(p).expanduser()
    return str(q.resolve()) if q.exists() else p


def _parse_vector(text: str, problems: list[str]) -> dict[str, Any] | None:
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        problems.append(f"--vector: {text!r} has no NAME=. Fix: write --vector s1=pre:P,post:Q,target:T")
        return None
    parts: dict[str, str] = {}
    for item in rest.split(","):
        k, sep, v = item.partition(":")
        if not sep or k.strip() not in _VECTOR_PARTS or not v.strip():
            problems.append(f"--vector {name}: {item!r} is not pre:PATH, post:PATH or target:PATH. "
                            "Fix: write --vector s1=pre:P,post:Q,target:T")
            return None
        parts[k.strip()] = _path(v.strip())
    missing = [k for k in _VECTOR_PARTS if k not in parts]
    if missing:
        problems.append(f"--vector {name}: missing {', '.join(missing)}. Fix: give pre:PATH,post:PATH,target:PATH")
        return None
    return {"name": name.strip(), **parts}


@dataclass
class _Draft:
    """The grid mapping the flags that parsed stand for, the flag problems, and how to name grid keys as flags."""

    raw: dict[str, Any]
    problems: list[str]
    model_flags: list[str]  # the flag that gave models[i], as typed ("--model PATH", "--vector NAME")
    skip: set[str]  # grid keys whose problem is a consequence of a flag problem already listed


def _draft(f: RunFlags) -> _Draft:
    """Parse every flag, noting all problems; what parsed goes into the grid mapping."""
    problems: list[str] = []
    skip: set[str] = set()
    if not (f.models or f.vectors):
        problems.append("no model given. Fix: add --model PATH_OR_HUB_ID (repeatable) or --vector NAME=pre:P,post:Q,target:T")
    tasks: list[Any] = [t.strip() for t in (f.tasks or "").split(",") if t.strip()]
    if not tasks:
        problems.append("no task given. Fix: add --tasks a,b (the `rv-eval tasks` sub-command lists them)")
    models: list[dict[str, Any]] = []
    model_flags: list[str] = []
    for m in f.models:
        name, sep, path = m.partition("=")
        models.append({"name": name.strip(), "path": _path(path.strip())} if sep else {"path": _path(m.strip())})
        model_flags.append(f"--model {m}")
    before = len(problems)
    alphas = _numbers(f.alpha, "--alpha", problems, float) if f.alpha else []
    if f.vectors and not f.alpha:
        problems.append("--vector needs --alpha. Fix: add e.g. --alpha 0,0.5,1")
    alpha_reported = len(problems) > before
    if f.alpha and not f.vectors:
        problems.append("--alpha without --vector. Fix: add --vector NAME=pre:P,post:Q,target:T or drop --alpha")
    for text in f.vectors:
        vec = _parse_vector(text, problems)
        if vec is not None:
            if alpha_reported:  # an empty or partial α list: the grid's complaint about it would repeat ours
                skip.add(f"models[{len(models)}].vector.alphas")
            models.append({"vector": {**vec, "alphas": alphas}})
            model_flags.append(f"--vector {vec['name']}")
    if not models:
        skip.add("models")  # "missing or empty": the problems above say why
    if len(models) < len(f.models) + len(f.vectors) or not models:
        skip.add("baseline")  # it may name a vector whose flag did not parse
    if f.limit is not None:
        if f.limit < 1:
            problems.append(f"--limit: {f.limit} is not a positive integer. Fix: write e.g. --limit 10")
        else:
            tasks = [{"name": t, "limit": f.limit} for t in tasks]
    sampling: dict[str, Any] = {}
    for k, v in parse_kv(f.gen_kwargs or "", "--gen_kwargs", problems).items():
        if k not in _GEN_KWARGS:
            problems.append(f"--gen_kwargs: {k!r} is not supported. Fix: use {', '.join(sorted(_GEN_KWARGS))} "
                            "(stop sequences come from the task)")
        elif k == "do_sample":
            if v is False:
                sampling["temperature"] = 0
        else:
            sampling[_GEN_KWARGS[k]] = v
    if f.samples is not None:
        sampling["samples"] = f.samples
    backend: dict[str, Any] = {"name": f.backend}
    options = parse_kv(f.model_args or "", "--model_args", problems)
    if "pretrained" in options:
        problems.append("--model_args pretrained=... is given by --model here. Fix: write --model PATH")
    backend.update({k: v for k, v in options.items() if k != "pretrained"})
    if not f.chat_template:
        backend["chat_template"] = False
    if f.system_instruction is not None:
        backend["system_instruction"] = f.system_instruction
    if f.in_place is not None:
        backend["in_place"] = f.in_place
    raw: dict[str, Any] = {"name": f.name or "run"}
    if f.out:
        raw["out"] = str(Path(f.out).expanduser().resolve())
    raw.update(models=models, tasks=tasks)
    seeds = _numbers(f.seeds, "--seeds", problems, int) if f.seeds else []
    if seeds:
        raw["seeds"] = seeds
    if sampling:
        raw["sampling"] = sampling
    raw["backend"] = backend
    if f.baseline:
        raw["baseline"] = f.baseline
    if f.include_path:
        raw["task_paths"] = [_path(p) for p in f.include_path]
    return _Draft(raw, problems, model_flags, skip)


_GRID_KEY = re.compile(r"(?P<top>[a-z_]+)(?:\[(?P<i>\d+)\])?(?:\.vector)?(?:\.(?P<sub>.+))?")
_TOP_FLAGS = {"seeds": "--seeds", "baseline": "--baseline", "name": "--name", "out": "--out",
              "task_paths": "--include_path"}
_BACKEND_FLAGS = {"name": "--backend", "system_instruction": "--system_instruction",
                  "chat_template": "--no-chat-template", "in_place": "--in-place"}


def _flag_for(key: str, d: _Draft) -> str:
    """The flag the user typed for grid location `key` (`models[0].path` → `--model PATH`), else `key`."""
    m = _GRID_KEY.fullmatch(key)
    if not m:
        return key
    top, i, sub = m["top"], m["i"], m["sub"]
    if top == "models":
        if i is None:
            has_models, has_vectors = any(x.startswith("--model ") for x in d.model_flags), \
                any(x.startswith("--vector ") for x in d.model_flags)
            return "--model, --vector" if has_models and has_vectors else "--vector" if has_vectors else "--model"
        label = d.model_flags[int(i)] if int(i) < len(d.model_flags) else key
        if sub == "alphas":
            return "--alpha"
        return f"{label} ({sub})" if sub in _VECTOR_PARTS else label
    if top == "tasks":
        return "--limit" if sub == "limit" else "--tasks"
    if top == "sampling":
        return "--samples" if sub == "samples" else f"--gen_kwargs {sub}"
    if top == "backend":
        return _BACKEND_FLAGS.get(sub or "name", f"--model_args {sub}")
    return _TOP_FLAGS.get(top, key)


#: fixes for flags whose grid check words its fix as YAML (`limit: 10`)
_FLAG_FIXES = {"--limit": "write e.g. --limit 10", "--seeds": "write e.g. --seeds 0,1,2",
               "--alpha": "write e.g. --alpha 0,0.5,1"}


def _as_flag_problem(line: str, d: _Draft) -> tuple[str, str]:
    """(grid key, the line with the key named as the flag the user typed and a fix in flag syntax)."""
    key, _, rest = line.partition(": ")
    flag = _flag_for(key, d)
    what, sep, fix = rest.rpartition(". Fix: ")
    if sep and flag in _FLAG_FIXES and "`" in fix:
        rest = f"{what}. Fix: {_FLAG_FIXES[flag]}"
    return key, f"{flag}: {rest}"


def _skipped(key: str, skip: set[str]) -> bool:
    return any(key == s or key.startswith((s + ".", s + "[")) for s in skip)


def _dump(raw: dict[str, Any]) -> str:
    header = "# written by `rv-eval run`; run it again with `rv-eval run --model-grid grid.yaml`\n"
    return header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, default_flow_style=None)


def grid_from_flags(f: RunFlags):
    """The validated `rv_eval.grid.Grid` of the flags: the same object as `parse_grid(grid_yaml(f))`.

    Flag problems and the grid checks' problems (on the grid the flags that parsed stand for) are
    reported together in one UserError, grid locations named by the flag the user typed
    (`--model /x: model folder /x does not exist`, not `models[0].path`).
    """
    from rv_eval.grid import GridProblems, parse_grid, problems_message

    d = _draft(f)
    problems = list(d.problems)
    grid = None
    try:
        grid = parse_grid(_dump(d.raw), source=None)
    except GridProblems as e:
        for line in e.problems:
            key, flagged = _as_flag_problem(line, d)
            if not _skipped(key, d.skip) and flagged not in problems:  # one line for --limit over many tasks
                problems.append(flagged)
    if len(problems) == 1:
        raise UserError(problems[0])
    if problems:
        raise UserError(problems_message("the command line", problems))
    return grid


def grid_yaml(f: RunFlags) -> str:
    """The grid file the flags stand for (what `--print-grid` prints), after every check passed."""
    return grid_from_flags(f).text
