"""Results store: atomic cells, index, current-grid filtering, deterministic results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rv_eval.errors import UserError
from rv_eval.results import format_results
from rv_eval.schema import SAMPLE_COLUMNS, RunMeta, samples_frame
from rv_eval.store import INDEX_DB, Store, load_run_meta, load_samples


def _rows(model: str, task: str, seed: int, n: int = 3, correct_every: int = 2) -> pd.DataFrame:
    rows = [dict(grid="g", model=model, vector=None, alpha=None, task=task, split="test", serves=task, lang="en",
                 seed=seed, doc_id=f"q{i}", doc_hash="h", fold=-1, sample_idx=0, prompt="p", response=f"r{i}",
                 gold="1", extracted="1", correct=i % correct_every == 0, reason="ok", response_lang="en",
                 n_prompt_tokens=3, n_gen_tokens=2, gen_seconds=0.1) for i in range(n)]
    df = samples_frame(rows)
    df["doc_json"] = [json.dumps({"id": f"q{i}"}) for i in range(n)]
    return df


def _store(tmp_path, cells: dict[str, str]) -> Store:
    s = Store(tmp_path / "out")
    s.write_run_meta(RunMeta(grid="g", grid_file_text="", seeds=[0], sampling={}, backend={}, baseline="a",
                             models=[{"name": "b"}, {"name": "a"}],
                             versions={}, extra={"cells": [[k, v] for k, v in cells.items()], "tasks": ["t"]}))
    return s


def _meta(model, task, seed, fp):
    return {"model": model, "task": task, "seed": seed, "fingerprint": fp}


def test_roundtrip_has_exact_columns_and_grid_order(tmp_path):
    s = _store(tmp_path, {"b--t--s0": "f1", "a--t--s0": "f2"})
    s.write_cell("a--t--s0", _meta("a", "t", 0, "f2"), _rows("a", "t", 0))
    s.write_cell("b--t--s0", _meta("b", "t", 0, "f1"), _rows("b", "t", 0))
    df = load_samples(s.out)
    assert list(df.columns) == SAMPLE_COLUMNS
    assert df["model"].tolist() == ["b"] * 3 + ["a"] * 3
    assert load_run_meta(s.out).baseline == "a"
    assert "doc_json" in load_samples(s.out, with_doc=True).columns


def test_stale_and_missing_cells_are_left_out(tmp_path):
    s = _store(tmp_path, {"a--t--s0": "new", "a--t--s1": "f"})
    s.write_cell("a--t--s0", _meta("a", "t", 0, "old"), _rows("a", "t", 0))
    assert load_samples(s.out).empty
    assert s.current_keys() == ([], ["a--t--s1"], ["a--t--s0"])


def test_index_is_rebuilt_from_files(tmp_path):
    s = _store(tmp_path, {"a--t--s0": "f"})
    s.write_cell("a--t--s0", _meta("a", "t", 0, "f"), _rows("a", "t", 0))
    (s.out / INDEX_DB).unlink()
    assert s.stored_fingerprints() == {"a--t--s0": "f"}
    rec = s.records()[0]
    assert (rec.n_rows, rec.n_correct) == (3, 2)


def test_corrupt_cell_file_is_ignored_and_no_temp_files_remain(tmp_path):
    s = _store(tmp_path, {"a--t--s0": "f", "a--t--s1": "f"})
    s.write_cell("a--t--s0", _meta("a", "t", 0, "f"), _rows("a", "t", 0))
    s.cell_path("a--t--s1").write_bytes(b"not parquet")
    assert s.stored_fingerprints() == {"a--t--s0": "f"}
    assert len(load_samples(s.out)) == 3
    assert sorted(p.name for p in s.cells_dir.iterdir()) == ["a--t--s0.parquet", "a--t--s1.parquet"]


def test_results_json_is_deterministic_and_counts(tmp_path):
    s = _store(tmp_path, {"a--t--s0": "f", "b--t--s0": "g"})
    s.write_cell("a--t--s0", _meta("a", "t", 0, "f"), _rows("a", "t", 0, n=4))
    s.write_cell("b--t--s0", _meta("b", "t", 0, "g"), _rows("b", "t", 0, n=3, correct_every=1))
    text = format_results(s.out, "json")
    assert text == format_results(s.out, "json")
    doc = json.loads(text)
    assert str(tmp_path) not in text
    assert [(r["model"], r["n_correct"], r["n_samples"]) for r in doc["results"]] == [("b", 3, 3), ("a", 2, 4)]
    assert doc["results"][1]["accuracy"] == 0.5
    assert format_results(s.out, "csv").splitlines()[0] == "model,task,accuracy,n_correct,n_samples,n_questions,n_seeds,prompt_tokens,gen_tokens"
    assert "0.500" in format_results(s.out, "table")


def test_not_a_results_folder_is_user_error(tmp_path):
    with pytest.raises(UserError, match="not a results folder"):
        load_samples(tmp_path)


def test_stale_temp_files_are_removed_but_fresh_ones_kept(tmp_path):
    import os
    import time

    s = _store(tmp_path, {"a--t--s0": "f"})
    s.cells_dir.mkdir(parents=True)
    old, fresh = s.cells_dir / ".a--t--s0.parquet.tmp-123", s.cells_dir / ".b--t--s0.parquet.tmp-456"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert s.remove_stale_temp_files() == 1
    assert not old.exists() and fresh.exists()
    assert s.stored_fingerprints() == {}


@pytest.mark.parametrize("reader", [load_samples, load_run_meta, lambda p: format_results(p, "json")])
def test_reading_a_non_results_folder_creates_nothing(tmp_path, reader):
    """A missing folder, a plain file, an empty folder: one UserError saying what it is; nothing created."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    (tmp_path / "empty").mkdir()
    cases = {tmp_path / "nope": "nope does not exist, so it is not a results folder",
             plain: "plain.txt is a file, not a results folder",
             tmp_path / "empty": "empty/run.json not found"}
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            reader(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["empty", "plain.txt"]


def test_a_file_as_out_is_refused_before_writing(tmp_path):
    """Writing into a store whose OUT is a plain file is a UserError naming it (no NotADirectoryError)."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(UserError, match="plain.txt is a file, not a folder"):
        Store(plain).check_writable()
    with pytest.raises(UserError, match="plain.txt is a file"):
        _store(tmp_path / "plain.txt", {})
    assert plain.read_text() == "x"
