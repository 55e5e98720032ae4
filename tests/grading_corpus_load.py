"""Loader for the labeled grading corpus under tests/grading_corpus/ (YAML, one file per area)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORPUS_DIR = Path(__file__).parent / "grading_corpus"


@dataclass(frozen=True)
class Labeled:
    """One labeled response: the verdict a careful human grader gives, and the trap it covers."""

    id: str
    kind: str
    lang: str
    response: str
    gold: str
    correct: bool
    trap: str
    extra: dict[str, Any] = field(default_factory=dict)


def load(name: str, kind: str, lang: str | None = None) -> list[Labeled]:
    """Items of tests/grading_corpus/<name>.yaml (lang from the item, else the argument)."""
    rows = yaml.safe_load((CORPUS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    out = []
    for i, row in enumerate(rows):
        extra = {k: v for k, v in row.items() if k not in ("gold", "correct", "trap", "response", "lang")}
        out.append(
            Labeled(
                id=f"{name}-{i:03d}",
                kind=kind,
                lang=row.get("lang", lang or "en"),
                response=str(row.get("response") or ""),
                gold=str(row["gold"]),
                correct=bool(row["correct"]),
                trap=str(row["trap"]),
                extra=extra,
            )
        )
    return out
