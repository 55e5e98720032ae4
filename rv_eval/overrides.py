"""Human marks on graded samples: OUT/overrides.jsonl.

Rule-based grading leaves a residue that rules cannot decide (a fallback answer, a truncated or
hedged response, a disagreement with plain math-verify). `rv-eval audit` lists those samples; a
person marks each one correct or wrong, and the marks live in their own file, one JSON object per
line:

    {"model": "s1vec@0.5", "task": "aime24_ja", "seed": 0, "doc_id": "2024-I-3", "sample_idx": 0,
     "correct": true, "note": "boxed 1/2, gold 0.5", "response_sha256": "…"}

`rv_eval.store.load_samples` applies them (so stats, check, select-alpha, results and the report
count the person's verdict, with reason `override`); `regrade` rewrites cells only and never
touches this file. A mark carries the hash of the response it judged: when a re-run replaced that
response, the mark no longer applies (a warning says so) instead of judging text nobody read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rv_eval import atomicio
from rv_eval.errors import UserError
from rv_eval.hashing import canonical_json, sha256_text

log = logging.getLogger(__name__)

OVERRIDES_FILE = "overrides.jsonl"
KEY_FIELDS = ("model", "task", "seed", "doc_id", "sample_idx")
OVERRIDE_REASON = "override"
_FIX = "Fix: correct or delete that line (one JSON object per line; see docs/grading.md, Audit and overrides)."


@dataclass(frozen=True)
class Mark:
    """A person's verdict on one stored sample."""

    model: str
    task: str
    seed: int
    doc_id: str
    sample_idx: int
    correct: bool
    note: str = ""
    response_sha256: str | None = None  # the response judged; None applies the mark to any response

    @property
    def key(self) -> tuple[str, str, int, str, int]:
        """(model, task, seed, doc_id, sample_idx)."""
        return (self.model, self.task, self.seed, self.doc_id, self.sample_idx)


def sample_id(model: str, task: str, seed: int, doc_id: str, sample_idx: int) -> str:
    """A short stable id of one sample (shown by `rv-eval audit`, accepted by `--mark`)."""
    return sha256_text(canonical_json([str(model), str(task), int(seed), str(doc_id), int(sample_idx)]))[:12]


def response_hash(response: str) -> str:
    """The sha256 a mark keeps of the response it judged."""
    return sha256_text(str(response))


def overrides_path(out: str | Path) -> Path:
    """OUT/overrides.jsonl."""
    return Path(out) / OVERRIDES_FILE


def read_marks(out: str | Path) -> list[Mark]:
    """The marks of a results folder ([] without an overrides file); UserError naming a bad line."""
    path = overrides_path(out)
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path} cannot be read ({e}). {_FIX}") from None
    marks = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            marks.append(_parse_mark(line, f"{path}:{n}"))
    return marks


def _parse_mark(line: str, where: str) -> Mark:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        raise UserError(f"{where}: not JSON ({e.msg}). {_FIX}") from None
    if not isinstance(rec, dict):
        raise UserError(f"{where}: expected a JSON object. {_FIX}")
    missing = [f for f in (*KEY_FIELDS, "correct") if f not in rec]
    if missing:
        raise UserError(f"{where}: lacks {', '.join(missing)}. {_FIX}")
    if not isinstance(rec["correct"], bool):
        raise UserError(f"{where}: `correct` must be true or false. {_FIX}")
    try:
        seed, idx = _int(rec["seed"]), _int(rec["sample_idx"])
    except (TypeError, ValueError):
        raise UserError(f"{where}: `seed` and `sample_idx` must be integers. {_FIX}") from None
    digest = rec.get("response_sha256")
    return Mark(str(rec["model"]), str(rec["task"]), seed, str(rec["doc_id"]), idx, rec["correct"],
                str(rec.get("note") or ""), str(digest) if digest else None)


def _int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def add_marks(out: str | Path, marks: list[Mark]) -> Path:
    """Record `marks` in OUT/overrides.jsonl (a later mark of a sample replaces its earlier one); atomic."""
    current = {m.key: m for m in read_marks(out)}
    for m in marks:
        current[m.key] = m
    path = overrides_path(out)
    text = "".join(json.dumps(asdict(m), ensure_ascii=False) + "\n" for m in current.values())
    atomicio.write_text(path, text)
    return path


def apply_marks(df: Any, marks: list[Mark]) -> Any:
    """The samples table with each marked sample's `correct` set to the person's verdict and its
    reason to `override`. `df.attrs["overrides"]` lists what was applied (with the grader's own
    verdict and the note) for the report. Marks of samples not in `df` are left out; a mark whose
    response hash no longer matches the stored response is not applied (logged)."""
    if not marks or df.empty:
        return df
    by_key = {m.key: m for m in marks}
    keys = list(zip(df["model"].astype(str), df["task"].astype(str), df["seed"].astype(int),
                    df["doc_id"].astype(str), df["sample_idx"].astype(int), strict=True))
    rows, applied, stale = [], [], 0
    for pos, key in enumerate(keys):
        m = by_key.get(key)
        if m is None:
            continue
        if m.response_sha256 and m.response_sha256 != response_hash(df["response"].iat[pos]):
            stale += 1
            continue
        rows.append(pos)
        applied.append({**asdict(m), "graded_correct": bool(df["correct"].iat[pos]),
                        "graded_reason": str(df["reason"].iat[pos])})
    if stale:
        log.warning("%d marks in %s judged responses that have since been replaced (re-run); they are not "
                    "applied: audit those samples again", stale, OVERRIDES_FILE)
    if not rows:
        return df
    df = df.copy()
    correct_col, reason_col = df.columns.get_loc("correct"), df.columns.get_loc("reason")
    for pos, rec in zip(rows, applied, strict=True):
        df.iat[pos, correct_col] = rec["correct"]
        df.iat[pos, reason_col] = OVERRIDE_REASON
    df.attrs["overrides"] = applied
    return df
