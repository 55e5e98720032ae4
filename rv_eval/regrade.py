"""Re-grade stored samples without regenerating, and import lm-eval `--log_samples` files.

Grading goes through the same path as the runner (`rv_eval.tasks.grade_response`), using the
question stored with every sample. Imported lm-eval logs become ordinary cells of the store
(model × task × seed), fingerprinted by the file's content so a re-import replaces them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from rv_eval import fingerprint
from rv_eval.errors import UserError
from rv_eval.grid import Cell
from rv_eval.hashing import sha256_bytes
from rv_eval.runner import response_language, task_labels, versions
from rv_eval.sample_grading import DEFAULT_TIMEOUT_S, Grader, SampleGrader
from rv_eval.schema import RunMeta, samples_frame
from rv_eval.store import Store

log = logging.getLogger(__name__)

_SAMPLES_FILE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl$")


@dataclass
class RegradeSummary:
    """Cells and samples re-graded, and how many verdicts changed."""

    cells: int = 0
    samples: int = 0
    changed: int = 0


def regrade(out: str | Path, grader: Grader | None = None, progress: bool = True,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> RegradeSummary:
    """Re-grade every stored cell of `out` in place (atomic per cell); fingerprints stay the same.

    Each response is graded with its stored stop reason, in worker processes under a hard limit of
    `timeout_s` seconds (reason `timeout` past it); a custom `grader` runs in this process. Human
    marks (OUT/overrides.jsonl) are a separate file: regrading never touches them."""
    store = Store(out)
    summary = RegradeSummary()
    records = store.records(strict=True)  # an unreadable cell is an error here, not a skip
    with SampleGrader(grader, timeout_s=timeout_s) as grade:
        for rec in tqdm(records, desc="regrade", unit="cell", disable=not progress):
            df = store.read_cell(rec.key)
            if "doc_json" not in df.columns:
                log.warning("%s has no stored questions; skipped", rec.key)
                continue
            before = df["correct"].astype(bool).tolist()
            _grade_frame(df, rec.task, grade)
            summary.changed += sum(a != b for a, b in zip(before, df["correct"].tolist(), strict=True))
            store.write_cell(rec.key, store.cell_meta(rec.key) or {}, df)
            summary.cells += 1
            summary.samples += len(df)
    return summary


def _grade_frame(df: pd.DataFrame, task: str, grade: SampleGrader) -> None:
    responses = [str(r) for r in df["response"]]
    stops = [None if pd.isna(s) else str(s) for s in df["stop_reason"]]
    grades = grade.grade(task, [json.loads(d) for d in df["doc_json"]], responses, stops)
    extracted = [g.extracted for g in grades]
    correct = [bool(g.correct) for g in grades]
    reason = [g.reason for g in grades]
    lang = [response_language(r) for r in responses]
    df["extracted"] = pd.array(extracted, dtype="string")
    df["answer"] = pd.array([g.answer for g in grades], dtype="string")
    df["correct"] = correct
    df["reason"] = pd.array(reason, dtype="string")
    df["response_lang"] = pd.array(lang, dtype="string")


def parse_samples_name(path: Path) -> str:
    """The task name in an lm-eval samples file name (samples_<task>_<date>.jsonl)."""
    m = _SAMPLES_FILE.match(path.name)
    if not m:
        raise UserError(f"{path}: not an lm-eval samples file name (samples_<task>_<date>.jsonl). "
                        "Fix: pass the files lm-eval wrote with --log_samples, or give --task.")
    return m.group("task")


def import_samples(out: str | Path, files: list[Path], model: str | None = None, seed: int = 0,
                   task: str | None = None, grader: Grader | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> list[str]:
    """Import lm-eval `--log_samples` JSONL files into the store of `out`; return the new cell keys."""
    store = Store(out)
    with SampleGrader(grader, timeout_s=timeout_s) as grade:
        return [_import_file(store, Path(path), model, seed, task, grade) for path in files]


def _import_file(store: Store, path: Path, model: str | None, seed: int, task: str | None,
                 grade: SampleGrader) -> str:
    """Import one samples file as a cell; its key."""
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a samples file. Fix: pass the lm-eval "
                        f"samples_<task>_<date>.jsonl files inside it (e.g. --import {path}/samples_*.jsonl).")
    if not path.is_file():
        raise UserError(f"{path} not found. Fix: pass existing samples_*.jsonl files.")
    task_name = task or parse_samples_name(path)
    model_name = model or path.parent.name
    cell = Cell(model_name, task_name, seed)
    data = path.read_bytes()
    rows, docs = _import_rows(path, data.decode("utf-8"), cell)
    for row, g in zip(rows, grade.grade(task_name, docs, [r["response"] for r in rows]), strict=True):
        row.update(extracted=g.extracted, answer=g.answer, correct=bool(g.correct), reason=g.reason)
    df = samples_frame(rows)
    df["doc_json"] = [r["_doc_json"] for r in rows]
    fp = "import:" + sha256_bytes(data)
    store.write_cell(cell.key, {"model": model_name, "task": task_name, "seed": seed, "fingerprint": fp}, df)
    _add_to_run(store, cell, fp)
    log.info("imported %s as %s (%d samples)", path, cell.key, len(df))
    return cell.key


def _import_rows(path: Path, text: str, cell: Cell) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ungraded sample rows of an lm-eval samples file, and the doc of each row."""
    meta = task_labels(cell.task)
    rows: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            doc, resps = rec["doc"], rec["resps"][0]
            prompt = rec["arguments"]["gen_args_0"]["arg_0"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
            raise UserError(f"{path}:{n}: not an lm-eval generate_until sample ({e!r}). "
                            "Fix: pass samples files of generation tasks written with --log_samples.") from None
        if rec["doc_id"] in seen:  # one line per filter; the raw responses are the same
            continue
        seen.add(rec["doc_id"])
        doc_json, doc_hash = fingerprint.doc_json_and_hash(doc)
        for s, response in enumerate(resps if isinstance(resps, list) else [resps]):
            docs.append(doc)
            rows.append({
                "grid": "imported", "model": cell.model, "vector": None, "alpha": None, "task": cell.task,
                "split": meta["split"], "serves": meta["serves"], "lang": meta["lang"], "seed": cell.seed,
                "doc_id": str(doc.get("id", rec["doc_id"])), "doc_hash": doc_hash,
                "fold": int(doc.get("fold", -1)), "sample_idx": s, "prompt": prompt, "response": str(response),
                "gold": str(doc.get("gold", rec.get("target", ""))), "extracted": None, "correct": False,
                "reason": "", "response_lang": response_language(str(response)),
                "n_prompt_tokens": 0, "n_gen_tokens": 0, "gen_seconds": 0.0, "stop_reason": None,
                "_doc_json": doc_json,
            })
    return rows, docs


def _add_to_run(store: Store, cell: Cell, fp: str) -> None:
    """List an imported cell in run.json (creating a minimal run.json if the folder is new)."""
    try:
        meta = store.read_run_meta()
    except UserError:
        meta = RunMeta(grid="imported", grid_file_text="", seeds=[], sampling={}, backend={}, baseline=None,
                       models=[], versions=versions(), extra={"cells": [], "tasks": []})
    cells = [c for c in meta.extra.get("cells", []) if c[0] != cell.key] + [[cell.key, fp]]
    meta.extra["cells"] = cells
    if cell.task not in meta.extra.setdefault("tasks", []):
        meta.extra["tasks"].append(cell.task)
    if cell.model not in {m["name"] for m in meta.models}:
        meta.models.append({"name": cell.model, "path": None, "vector": None, "alpha": None, "imported": True})
    if cell.seed not in meta.seeds:
        meta.seeds.append(cell.seed)
    store.write_run_meta(meta)
