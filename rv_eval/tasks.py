"""The benchmark tasks: what each one is (TaskInfo), its docs, and the one grading path.

The lm-eval configs in `tasks/` are the source of truth: each task (or BBH group) YAML carries a
`metadata` block with `rv_task`, `lang`, `split`, `serves`, `kind`, `subtask`, `source`, `part`
and `prompt`. This module reads those blocks, so `rv-eval` and plain `lm-eval --include_path tasks`
see the same tasks. `grade_response` is the grading path used by the tasks' `process_results`, by
the runner and by `rv-eval regrade`.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from rv_eval.errors import UserError
from rv_eval.paths import TASKS_DIR
from rv_eval.schema import Grade

KINDS = ("math", "choice", "bbh", "code")
#: Old task names still accepted, with a warning: {old: current}.
TASK_ALIASES = {"gsm8k_ja": "mgsm_ja"}  # MGSM-ja is MGSM, not GSM8K: grouped with mgsm_en

log = logging.getLogger(__name__)


def resolve_alias(name: str) -> str:
    """The current name of a task; an old name (TASK_ALIASES) is translated with a warning."""
    new = TASK_ALIASES.get(name)
    if new is None:
        return name
    log.warning("task %r is now named %r; using %r. Fix: write %r in your grid or command.", name, new, new, new)
    return new


@dataclass(frozen=True)
class TaskInfo:
    """What a task is: language, split ("dev" | "test"), the test task it serves, grader kind, BBH subtask."""

    name: str
    lang: str
    split: str
    serves: str
    kind: str
    subtask: str | None = None
    is_group: bool = False


class _TagTolerantLoader(yaml.SafeLoader):
    """Reads lm-eval YAML, turning `!function x.y` into the plain string."""


_TagTolerantLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


@cache
def _registry(tasks_dir: Path = TASKS_DIR) -> dict[str, dict[str, Any]]:
    reg: dict[str, dict[str, Any]] = {}
    for path in sorted(tasks_dir.rglob("*.yaml")):
        cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=_TagTolerantLoader) or {}
        meta = cfg.get("metadata") or {}
        name = meta.get("rv_task")
        if name:
            reg[name] = {**meta, "is_group": "group" in cfg, "yaml": str(path)}
    return reg


def list_tasks(include_subtasks: bool = True) -> list[str]:
    """Names of every task and group in `tasks/` (BBH subtasks only with include_subtasks)."""
    reg = _registry()
    return sorted(n for n, m in reg.items() if include_subtasks or not m.get("subtask") or m["is_group"])


def task_meta(name: str) -> dict[str, Any]:
    """The raw metadata block of a task's YAML (an old name in TASK_ALIASES resolves, with a warning)."""
    reg = _registry()
    name = resolve_alias(name) if name not in reg else name
    if name not in reg:
        top = ", ".join(list_tasks(include_subtasks=False))
        raise UserError(f"unknown task {name!r}. Fix: use one of {top} (or a BBH subtask, e.g. bbh_en_snarks).")
    return reg[name]


def task_info(name: str) -> TaskInfo:
    """The TaskInfo of a task or group."""
    m = task_meta(name)
    return TaskInfo(
        name=m.get("rv_task", name),
        lang=m["lang"],
        split=m["split"],
        serves=m.get("serves") or name,
        kind=m["kind"],
        subtask=m.get("subtask") or None,
        is_group=m["is_group"],
    )


def subtasks(group: str) -> list[str]:
    """The member tasks of a group (e.g. the 27 of bbh_en); [group] for a plain task."""
    if not task_info(group).is_group:
        return [group]
    return sorted(n for n, m in _registry().items() if m.get("group") == group)


def load_docs(name: str, data_dir: str | None = None) -> list[dict[str, Any]]:
    """The docs of a task (for a group: of all its members), exactly as lm-eval gets them."""
    from rv_eval.taskdocs import build_docs

    if task_info(name).is_group:
        return [d for sub in subtasks(name) for d in load_docs(sub, data_dir)]
    return build_docs(name, task_meta(name), data_dir)


def lm_eval_tasks(names: list[str], repeats: int = 1, task_manager: Any = None) -> list[Any]:
    """lm-eval Task / Group objects for `names` (from tasks/), each doc sampled `repeats` times.

    Pass the result as `tasks=` to `lm_eval.simple_evaluate`; the tasks' filter hands all
    `repeats` responses of a doc to the grader (mean@k, pass@k, maj@k).
    """
    from lm_eval.tasks import TaskManager

    tm = task_manager or TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    out = []
    for name in names:
        task_meta(name)  # UserError for unknown names
        loaded = tm.load([name])
        for task in loaded["tasks"].values():
            task.config.repeats = int(repeats)
        out.append(loaded["groups"].get(name) or loaded["tasks"][name])
    return out


def grade_response(task: str, doc: dict[str, Any], response: str, stop_reason: str | None = None) -> Grade:
    """Grade one response to one doc of `task` with rv_eval.grading (the single grading path).

    `stop_reason` is why generation ended ("stop" / "length"; None when unknown)."""
    from rv_eval.grading import grade_item

    return grade_item(grade_item_for(task, doc, response, stop_reason))


def grade_item_for(task: str, doc: dict[str, Any], response: str, stop_reason: str | None = None) -> Any:
    """The `rv_eval.grading.GradeItem` that grades one response to one doc of `task`.

    The runner and `rv-eval regrade` send these to grading worker processes (a hard time limit
    per item); `grade_response` grades one in this process."""
    from rv_eval.grading import GradeItem

    info = task_info(task)
    stop = {"stop_reason": stop_reason} if stop_reason else {}
    if info.kind == "math":
        return GradeItem("math", str(response), str(doc["gold"]), info.lang, stop)
    if info.kind == "choice":
        return GradeItem("choice", str(response), str(doc["gold"]), info.lang, {"options": list(doc["options"]), **stop})
    if info.kind == "bbh":
        subtask = doc.get("subtask") or info.subtask
        return GradeItem("bbh", str(response), str(doc["gold"]), info.lang, {"subtask": subtask, **stop})
    if info.kind == "code":
        problem = {k: doc[k] for k in ("task_id", "prompt", "test", "entry_point")}
        return GradeItem("code", str(response), str(doc.get("gold", "")), info.lang, {"problem": problem})
    raise UserError(f"task {task}: unknown kind {info.kind!r}. Fix: one of {KINDS}.")


def grade_sample(task: str, doc: dict[str, Any], response: str) -> dict[str, Any]:
    """Grade plus response language, as the flat dict logged with every lm-eval sample."""
    from rv_eval.grading import response_language

    g = grade_response(task, doc, response)
    return {"correct": bool(g.correct), "extracted": g.extracted, "answer": g.answer, "reason": g.reason,
            "response_lang": response_language(response)}


def score_doc(doc: dict[str, Any], responses: list[str]) -> dict[str, Any]:
    """Per-doc metrics over its k responses: acc (mean@k), pass_at_k, maj_at_k and the graded samples."""
    from rv_eval.grading import pass_at_k

    graded = [grade_sample(doc["task"], doc, r) for r in responses]
    n, c = len(graded), sum(g["correct"] for g in graded)
    return {
        "acc": c / n if n else 0.0,
        "pass_at_k": float(pass_at_k(n, c, n)) if n else 0.0,
        "maj_at_k": majority_correct(graded),
        "samples": graded,
    }


def majority_correct(graded: list[dict[str, Any]]) -> float:
    """1.0 if the most frequent extracted answer (first seen wins ties) is graded correct, else 0.0."""
    from rv_eval.grading.passk import vote_value

    answers = [vote_value(g) for g in graded if vote_value(g)]
    if not answers:
        return 0.0
    top = collections.Counter(answers).most_common(1)[0][0]
    return float(any(g["correct"] for g in graded if vote_value(g) == top))
