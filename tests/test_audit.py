"""`rv-eval audit`: the samples a person should check, their marks (OUT/overrides.jsonl), and the
stages that must honour them (load_samples → stats, regrade, report drill-down)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from rv_eval.cli import main
from rv_eval.overrides import OVERRIDES_FILE, Mark, add_marks, read_marks, sample_id
from rv_eval.regrade import regrade
from rv_eval.store import load_samples
from tests.test_stop_reason_grading import _row, write_folder

# (doc id, response, gold, stop reason, listed?) — labels written from the criteria
CASES = [
    ("q0", "So the answer is \\boxed{18}.", "18", "stop", False),  # both graders agree: not listed
    ("q1", "First 9, then 9 more gives 18", "18", "stop", True),  # no marker: found only by the fallback
    ("q2", "The answer is 3 or 4.", "3", "stop", True),  # hedged
    ("q3", "よって答えは18です。", "18", "stop", True),  # plain math-verify reads nothing here: disagreement
    ("q4", "40*40 = 1600. Therefore the total is 16", "1600", "length", True),  # truncated
    ("q5", "<script>alert(1)</script> The answer is 3 or 5.", "5", "stop", True),  # hedged, hostile text
]


@pytest.fixture
def run(tmp_path):
    out = tmp_path / "run"
    write_folder(out, [_row(i, r, g, s) for i, (_, r, g, s, _) in enumerate(CASES)])
    regrade(out, progress=False)  # the grades come from the real grader
    return out


def _id(doc: str) -> str:
    return sample_id("m", "gsm8k_en", 0, doc, 0)


def test_audit_lists_what_rules_cannot_decide(run):
    from rv_eval.audit import audit_table

    rows = audit_table(run, workers=1).set_index("doc_id")
    assert sorted(rows.index) == [d for d, *_, listed in CASES if listed]
    assert "math-verify says wrong" in rows.loc["q3", "why"]
    assert "fallback" in rows.loc["q1", "why"] and "gold found only by the fallback" in rows.loc["q1", "why"]
    assert "reason hedged" in rows.loc["q2", "why"] and "reason truncated" in rows.loc["q4", "why"]
    assert rows.loc["q4", "stop_reason"] == "length"


def test_audit_page_escapes_model_text(run, capsys):
    assert main(["audit", str(run)]) == 0
    assert "5 samples to look at" in capsys.readouterr().out
    page = (run / "audit.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert _id("q2") in page


def test_marks_are_used_by_stats_and_survive_regrade(run, capsys):
    from rv_eval.stats import summarize
    from rv_eval.stats.loading import load_results

    before = summarize(load_results(run))["mean"].iloc[0]
    assert main(["audit", str(run), "--mark", _id("q2"), "correct", "3 and 4 both solve it", "--mark", _id("q4"), "correct"]) == 0
    lines = (run / OVERRIDES_FILE).read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["note"] == "3 and 4 both solve it"
    df = load_samples(run).set_index("doc_id")
    assert df.loc["q2", "correct"] and df.loc["q2", "reason"] == "override"
    assert df.loc["q4", "correct"] and df.loc["q4", "reason"] == "override"
    raw = load_samples(run, overrides=False).set_index("doc_id")
    assert not raw.loc["q2", "correct"] and raw.loc["q2", "reason"] == "hedged"
    assert not raw.loc["q4", "correct"] and raw.loc["q4", "reason"] == "truncated"
    after = summarize(load_results(run))["mean"].iloc[0]
    assert after == pytest.approx(before + 2 / 6)
    text = (run / OVERRIDES_FILE).read_text()
    regrade(run, progress=False)
    assert (run / OVERRIDES_FILE).read_text() == text
    assert load_samples(run).set_index("doc_id").loc["q2", "reason"] == "override"
    # a later mark of the same sample replaces the earlier one
    assert main(["audit", str(run), "--mark", _id("q2"), "wrong"]) == 0
    assert not load_samples(run).set_index("doc_id").loc["q2", "correct"] and len(read_marks(run)) == 2


def test_csv_round_trip(run, tmp_path, capsys):
    csv = tmp_path / "audit.csv"
    assert main(["audit", str(run), "-o", str(csv)]) == 0
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert list(table["doc_id"]) == sorted(table["doc_id"]) and len(table) == 5
    table.loc[table["doc_id"] == "q3", ["mark", "note"]] = ["correct", "18 in Japanese"]
    table.to_csv(csv, index=False)
    assert main(["audit", str(run), "--apply", str(csv)]) == 0
    (m,) = read_marks(run)
    assert (m.doc_id, m.correct, m.note) == ("q3", True, "18 in Japanese")
    table.loc[table["doc_id"] == "q1", "mark"] = "maybe"
    table.to_csv(csv, index=False)
    assert main(["audit", str(run), "--apply", str(csv)]) == 2
    assert "line" in capsys.readouterr().err


def test_bad_marks_are_one_line_errors(run, capsys):
    assert main(["audit", str(run), "--mark", "000000000000", "correct"]) == 2
    assert "no sample with id" in capsys.readouterr().err
    (run / OVERRIDES_FILE).write_text('{"model": "m", "task": "gsm8k_en"}\n')
    assert main(["stats", str(run)]) == 2
    err = capsys.readouterr().err
    assert "overrides.jsonl:1" in err and "lacks seed" in err and "Traceback" not in err


def test_a_mark_on_a_replaced_response_is_not_applied(run):
    add_marks(run, [Mark("m", "gsm8k_en", 0, "q2", 0, True, "judged another text", "0" * 64)])
    assert load_samples(run).set_index("doc_id").loc["q2", "reason"] == "hedged"


def test_report_drilldown_shows_marks(run, tmp_path):
    from rv_eval.report import write_report
    from rv_eval.report.encode import unpack

    main(["audit", str(run), "--mark", _id("q2"), "correct", "3 and 4 both solve it"])
    html = write_report(run, tmp_path / "r.html").read_text()
    blocks = dict(re.findall(r'<script type="application/x-rv-gz" id="([^"]+)">([^<]*)</script>', html))
    summary = unpack(blocks["rv-summary"])
    chunk = unpack(blocks[summary["mchunks"]["m"]["gsm8k_en"]])
    task = unpack(blocks[summary["tchunks"]["gsm8k_en"]])
    (pos, mark), = chunk["ov"].items()
    assert task["doc"][chunk["q"][int(pos)]] == "q2"
    assert mark == [1, "3 and 4 both solve it", 0, "hedged"]
    assert "marked ${mark[0]" in html  # the page renders it in the sample's header


def test_nothing_to_look_at(tmp_path, capsys):
    out = tmp_path / "clean"
    write_folder(out, [_row(0, "So the answer is \\boxed{18}.", "18", "stop")])
    regrade(out, progress=False)
    assert main(["audit", str(out), "-o", str(tmp_path / "a.csv")]) == 0
    assert "0 samples to look at" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "a.csv")) == 0
