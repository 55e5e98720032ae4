"""lm-eval hooks of the rv-eval tasks: load local benchmark files, keep every sample, grade with rv_eval.

Used by the YAMLs in this folder (`!function utils.<name>`). The knowledge lives in
`rv_eval.tasks` / `rv_eval.taskdocs`; this file only adapts it to lm-eval's hook signatures.
Works with plain `lm-eval --include_path tasks` from a checkout (the package need not be installed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    import rv_eval  # noqa: F401
except ImportError:  # a checkout used without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datasets

from rv_eval import tasks as rv_tasks


def load(**kwargs: Any) -> datasets.DatasetDict:
    """custom_dataset hook: the task's docs (its name is metadata `rv_task`; `data_dir` optional)."""
    docs = rv_tasks.load_docs(kwargs["rv_task"], data_dir=kwargs.get("data_dir"))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def keep_all(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """Filter that keeps all k responses of a doc (lm-eval's default keeps only the first repeat)."""
    return resps


def process_results(doc: dict, results: list) -> dict[str, Any]:
    """Grade every response of a doc; metrics acc (mean@k), pass_at_k, maj_at_k, samples (graded fields)."""
    responses: list[str] = []
    for r in results:
        responses.extend(r if isinstance(r, list | tuple) else [r])
    return rv_tasks.score_doc(doc, responses)


def n_samples(items: list[list[dict]]) -> int:
    """Aggregation of the `samples` metric: how many responses were graded."""
    return sum(len(i) for i in items)
