"""Stop reasons from the backends, grading under a hard per-item time limit in run and regrade,
and results folders written before the stop_reason column."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rv_eval.fingerprint import doc_json_and_hash
from rv_eval.schema import RunMeta, samples_frame
from rv_eval.store import Store, load_samples

# Stuck in sympy for hours inside the in-process grader (issue 15); graded by math-verify as wrong.
HANG = "The answer is $\\boxed{9^{9^{9^{9}}}}$."


def _row(i: int, response: str, gold: str, stop: str | None, task: str = "gsm8k_en") -> dict:
    doc = {"id": f"q{i}", "gold": gold, "fold": 0, "subtask": "", "problem": "?"}
    doc_json, doc_hash = doc_json_and_hash(doc)
    return {"grid": "g", "model": "m", "vector": None, "alpha": None, "task": task, "split": "test",
            "serves": task, "lang": "en", "seed": 0, "doc_id": f"q{i}", "doc_hash": doc_hash, "fold": 0,
            "sample_idx": 0, "prompt": "?", "response": response, "gold": gold, "extracted": None,
            "correct": False, "reason": "ok", "response_lang": "en", "n_prompt_tokens": 1, "n_gen_tokens": 1,
            "gen_seconds": 0.0, "stop_reason": stop, "_doc_json": doc_json}


def write_folder(out: Path, rows: list[dict], key: str = "m--gsm8k_en--0", task: str = "gsm8k_en") -> Store:
    """A results folder holding one cell of `rows` (as the runner writes it)."""
    store = Store(out)
    store.write_run_meta(RunMeta(grid="g", grid_file_text="", seeds=[0], sampling={}, backend={}, baseline=None,
                                 models=[{"name": "m"}], versions={}, extra={"cells": [[key, "fp"]], "tasks": [task]}))
    df = samples_frame(rows)
    df["doc_json"] = [r["_doc_json"] for r in rows]
    store.write_cell(key, {"model": "m", "task": task, "seed": 0, "fingerprint": "fp"}, df)
    return store


def test_regrade_uses_the_stored_stop_reason(tmp_path):
    # labels: a conclusion cut off inside "1600" is no answer; the same text that ended normally is graded
    cut = "40 rows of 40 seats. 40*40 = 1600 seats. Therefore the total is 16"
    rows = [_row(0, cut, "1600", "length"), _row(1, "So the answer is \\boxed{1600}.", "1600", "length"),
            _row(2, "The answer is 7.", "7", "stop")]
    write_folder(tmp_path / "out", rows)
    from rv_eval.regrade import regrade

    regrade(tmp_path / "out", progress=False)
    df = load_samples(tmp_path / "out").set_index("doc_id")
    assert df.loc["q0", "reason"] == "truncated" and not df.loc["q0", "correct"]
    assert df.loc["q1", "correct"] and df.loc["q2", "correct"]
    assert df["stop_reason"].tolist() == ["length", "length", "stop"]


def test_folder_without_stop_reason_still_loads_and_regrades(tmp_path):
    store = write_folder(tmp_path / "out", [_row(0, "The answer is 7.", "7", None)])
    path = store.cell_path("m--gsm8k_en--0")
    table = pq.read_table(path)
    old = table.drop(["stop_reason"]).replace_schema_metadata(table.schema.metadata)
    pq.write_table(old, path)  # a cell as rv-eval wrote it before the column existed
    assert "stop_reason" not in pq.read_schema(path).names
    df = load_samples(tmp_path / "out")
    assert len(df) == 1 and df["stop_reason"].isna().all()
    from rv_eval.regrade import regrade

    assert regrade(tmp_path / "out", progress=False).samples == 1
    assert load_samples(tmp_path / "out")["correct"].tolist() == [True]


REGRADE_SCRIPT = """
import sys
from rv_eval.regrade import regrade
regrade(sys.argv[1], progress=False, timeout_s=3)
"""


@pytest.mark.slow
def test_regrade_cannot_hang_on_one_response(tmp_path):
    """A response that keeps the grader busy for hours is cut at the per-item limit; the others are graded."""
    rows = [_row(0, HANG, "18", None), _row(1, "The answer is 18.", "18", None)]
    write_folder(tmp_path / "out", rows)
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", REGRADE_SCRIPT, str(tmp_path / "out")], check=True, timeout=90)
    assert time.monotonic() - t < 90
    df = load_samples(tmp_path / "out").set_index("doc_id")
    assert not df.loc["q0", "correct"] and df.loc["q0", "reason"] in ("timeout", "mismatch")
    assert df.loc["q1", "correct"]


def test_sample_grader_gives_timeout_past_the_limit():
    from rv_eval.sample_grading import SampleGrader

    doc = {"id": "q0", "gold": "18", "fold": 0}
    t = time.monotonic()
    with SampleGrader(timeout_s=2, workers=2) as grader:
        grades = grader.grade("gsm8k_en", [doc, doc], [HANG, "The answer is 18."], [None, "stop"])
    assert time.monotonic() - t < 60
    assert not grades[0].correct and grades[0].reason in ("timeout", "mismatch")
    assert grades[1].correct


@pytest.mark.integration
@pytest.mark.slow
def test_hf_runner_records_stop_reasons_and_grades_with_them(tiny_family, tmp_path):
    """The hf backend on a tiny model: responses that used the whole budget are `length`, the others
    `stop`; the runner grades each with its stop reason, in worker processes."""
    from rv_eval.grid import load_grid
    from rv_eval.runner import run_grid
    from rv_eval.tasks import grade_response

    max_gen = 12
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(
        f"name: sr\nout: {tmp_path / 'out'}\nmodels:\n  - {{name: target, path: {tiny_family['target']}}}\n"
        "tasks:\n  - {name: demo_en, limit: 6}\nseeds: [0]\n"
        f"sampling: {{temperature: 1.0, top_p: 1.0, max_gen_toks: {max_gen}, samples: 2}}\n"
        "backend: {name: hf, dtype: float32, batch_size: 4}\n"
    )
    run_grid(load_grid(grid_file), progress=False)
    df = load_samples(tmp_path / "out", with_doc=True)
    assert len(df) == 12 and set(df["stop_reason"]) <= {"stop", "length"}
    assert (df["stop_reason"] == "length").any()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_family["target"])
    for r in df.itertuples():
        n = len(tok(r.response, add_special_tokens=False).input_ids)
        if r.stop_reason == "stop":
            assert n < max_gen, r.response  # ended early: EOS (or a stop string) before the budget
        else:
            assert n >= max_gen - 2, r.response  # used the budget (re-tokenizing may merge a token or two)
        g = grade_response("demo_en", json.loads(r.doc_json), r.response, r.stop_reason)
        stored = None if pd.isna(r.extracted) else r.extracted
        assert (g.correct, g.extracted, g.reason) == (r.correct, stored, r.reason)


def test_vllm_finish_reason_is_the_stop_reason():
    """vLLM's finish_reason reaches the samples table; with stops deferred past the reasoning trace, an
    answer cut at a stop string ended by `stop` even when the engine ran to its budget."""
    from types import SimpleNamespace

    from rv_eval.runner import engine_stop_reasons
    from tests.test_vllm_backend import _fake_backend

    def output(text, finish):
        return SimpleNamespace(outputs=[SimpleNamespace(text=text, token_ids=[1, 2], finish_reason=finish)])

    prep = {"greedy": True, "until": ["\n\nQ:"], "seed": 1, "prompt_ids": [1]}
    plain, deferred = _fake_backend(), _fake_backend(defer_stops=True)
    records = [plain._record("c", prep, output("So the answer is", "length"), 0),
               plain._record("c", prep, output("The answer is 4.", "stop"), 0),
               deferred._record("c", prep, output("<think>a</think>(B)\n\nQ: next", "length"), 0),
               deferred._record("c", prep, output("<think>a</think>(B) and on", "length"), 0)]
    lm = SimpleNamespace(generation_log=records)
    assert engine_stop_reasons(lm, 4) == ["length", "stop", "stop", "length"]
    assert engine_stop_reasons(SimpleNamespace(stop_reasons=["stop"]), 1) == ["stop"]
    assert engine_stop_reasons(SimpleNamespace(), 2) == [None, None]


def test_grading_pool_survives_a_worker_that_died_between_batches():
    from rv_eval.grading import GradeItem, GradingPool

    item = GradeItem("math", "The answer is 1.", "1")
    with GradingPool(1) as pool:
        assert pool.grade([item])[0].reason == "ok"
        pool._pool.workers[0].proc.kill()  # e.g. the OOM killer while the runner generated the next cell
        pool._pool.workers[0].proc.wait()
        assert [g.reason for g in pool.grade([item, item])] == ["ok", "ok"]
        assert len(pool._pool.workers) == 1
