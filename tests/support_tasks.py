"""Shared test helpers of the task tests (imported by tests/test_tasks*.py)."""

from __future__ import annotations

import json

import pytest

from rv_eval import taskdocs


@pytest.fixture(autouse=True)
def aime24_ja_stand_in(tmp_path, monkeypatch, shared_data):
    """Until data/aime24_ja.jsonl lands, aime24_ja reads a stand-in with the right ids and answers."""
    if taskdocs.aime24_ja_file().is_file():
        return
    rows = [json.loads(x) for x in (shared_data / "aime24" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "aime24_ja.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": r["id"], "url": r["url"], "problem": f"（仮）問題 {r['id']}", "answer": r["answer"]},
                       ensure_ascii=False) + "\n"
            for r in rows
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv(taskdocs.AIME24_JA_ENV, str(path))
