"""`rv-eval demo`: the whole pipeline on tiny models, then a resumed second run."""

from __future__ import annotations

import json

import pytest

from rv_eval.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_runs_then_resumes(tmp_path, capsys):
    pytest.importorskip("rv_eval.tasks")
    pytest.importorskip("rv_eval.merge")
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--limit", "1", "--seeds", "0", "--no-progress"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "ran 16 cells" in first
    assert 'id="rv-summary"' in (out / "report.html").read_text(encoding="utf-8")  # the full report, not a table
    assert main(args) == 0
    assert "ran 0 cells, skipped 16" in capsys.readouterr().out
    assert main(["results", str(out), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cells_done"] == 16 and doc["baseline"] == "tiny@0"
    assert {r["model"] for r in doc["results"]} == {"tiny@0", "tiny@0.5", "tiny@1", "post"}
    assert {r["task"] for r in doc["results"]} == {"demo_en", "demo_ja", "demo_dev_en", "demo_dev_ja"}
    # regrading with the same graders changes nothing; the JSON stays byte-identical
    assert main(["regrade", str(out)]) == 0
    assert "16 cells; 0 verdicts changed" in capsys.readouterr().out
    assert main(["results", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc
