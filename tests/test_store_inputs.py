"""Results folders under attack: colliding Unicode names, corrupt cells and index, forged `correct`
values, a full disk. No silent loss, no traceback: a warning and a skip, or one exit-2 line."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rv_eval import atomicio
from rv_eval.cli import main
from rv_eval.grid import Cell, load_grid
from rv_eval.runner import run_grid
from rv_eval.schema import Grade
from rv_eval.store import INDEX_DB, META_KEY, Store, load_samples
from tests.test_runner import toy_grader, write_grid
from tests.test_store import _meta, _rows, _store


def _cell(s: Store, model: str, task: str = "t", seed: int = 0, **kw) -> str:
    key = Cell(model, task, seed).key
    s.write_cell(key, _meta(model, task, seed, "f"), _rows(model, task, seed, **kw))
    return key


def _run_folder(tmp_path: Path, models: list[str]) -> Store:
    s = _store(tmp_path, {Cell(m, "t", 0).key: "f" for m in models})
    for m in models:
        _cell(s, m)
    return s


@pytest.fixture()
def said(capsys, caplog):
    """Everything a command told the user since the last call: stderr plus log records (pytest
    captures the warnings the CLI logs to stderr)."""
    def read() -> str:
        text = capsys.readouterr().err + caplog.text
        caplog.clear()
        return text
    return read


def _results(out: Path, capsys, said=None) -> tuple[int, list[dict], str]:
    rc = main(["results", str(out), "--format", "json"])
    cap = capsys.readouterr()
    return rc, (json.loads(cap.out)["results"] if rc == 0 else []), cap.err + (said() if said else "")


def _one_error_line(err: str) -> bool:
    """Exactly one `rv-eval: error:` line and no traceback (progress bars may share stderr)."""
    return "Traceback" not in err and len([ln for ln in err.splitlines() if ln.startswith("rv-eval:")]) == 1


# ---------------------------------------------------------------- cell names
NAMES = ["モデルA", "データA", "모델A", "模型A", "model A", "model_A", "model/A", "model\\A", "a--b", "a", "-b", "a-",
         "a---b", "Qwen/Qwen2.5", "Qwen_Qwen2.5", "x" * 300, "x" * 301, "é", "é", "😀", "😁", ".", "..", "~", "_"]


def test_cell_keys_are_distinct_file_names_for_unicode_names():
    cells = [Cell(m, t, s) for m in NAMES for t in ("demo_en", "データ", "a--b") for s in (0, 1)]
    keys = [c.key for c in cells]
    assert len(set(keys)) == len(set(cells))
    for k in keys:
        assert "/" not in k and "\\" not in k and len(f"{k}.parquet".encode()) <= 255, k
    assert Cell("qwen2.5@0.5", "gsm8k_test_en", 3).key == "qwen2.5@0.5--gsm8k_test_en--s3"  # safe names unchanged


def test_models_with_colliding_slugs_keep_both_cells(tmp_path, capsys):
    s = _run_folder(tmp_path, ["モデルA", "データA"])
    assert sorted(load_samples(s.out)["model"].unique()) == ["データA", "モデルA"]
    rc, rows, _ = _results(s.out, capsys)
    assert rc == 0 and len(rows) == 2


def test_folder_written_with_old_cell_names_still_loads(tmp_path, capsys):
    """Before hashed keys, `モデルA` was stored as `___A--t--s0`: run.json lists that key."""
    s = _store(tmp_path, {"___A--t--s0": "f"})
    s.write_cell("___A--t--s0", _meta("モデルA", "t", 0, "f"), _rows("モデルA", "t", 0))
    rc, rows, _ = _results(s.out, capsys)
    assert rc == 0 and [r["model"] for r in rows] == ["モデルA"]


# ---------------------------------------------------------------- corrupt files
def _corrupt_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-120:-8] = b"\xff" * 112  # the footer: schema and row groups
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_cell_corrupted_without_size_or_mtime_change(tmp_path, capsys, monkeypatch, said):
    s = _run_folder(tmp_path, ["a", "b"])
    s.records()  # the index now trusts both files by size and mtime
    _corrupt_keeping_size_and_mtime(s.cell_path("a--t--s0"))

    rc, rows, err = _results(s.out, capsys, said)  # results: skip with a warning naming the file
    assert rc == 0 and [r["model"] for r in rows] == ["b"]
    assert "a--t--s0.parquet" in err and "Traceback" not in err

    report = tmp_path / "r.html"
    assert main(["report", str(s.out), "-o", str(report), "--baseline", "b"]) == 0
    assert "a--t--s0.parquet" in said()

    _fixed_grader(monkeypatch, Grade(True, "1", "ok"))
    assert main(["regrade", str(s.out)]) == 2  # regrade must read that cell: exit 2 naming it
    err = capsys.readouterr().err
    assert _one_error_line(err) and "a--t--s0.parquet" in err and "unreadable" in err


def test_flipped_bit_in_correct_values_is_detected_not_counted(tmp_path, capsys, said):
    """A bit flipped inside the stored `correct` values (same size, same mtime) used to change the
    count silently; page checksums make the cell unreadable instead."""
    s = _run_folder(tmp_path, ["a", "b"])
    s.records()
    path = s.cell_path("a--t--s0")
    rg = pq.ParquetFile(path).metadata.row_group(0)
    col = next(rg.column(i) for i in range(rg.num_columns) if rg.column(i).path_in_schema == "correct")
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[col.data_page_offset + col.total_compressed_size - 1] ^= 0x01  # the last byte of the values
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    rc, rows, err = _results(s.out, capsys, said)
    assert rc == 0 and [(r["model"], r["n_correct"]) for r in rows] == [("b", 2)]
    assert "a--t--s0.parquet" in err


def test_random_bytes_in_index_are_rebuilt_from_cells(tmp_path, capsys, said):
    s = _run_folder(tmp_path, ["a", "b"])
    (s.out / INDEX_DB).write_bytes(os.urandom(8192))
    rc, rows, err = _results(s.out, capsys, said)
    assert rc == 0 and [(r["model"], r["n_correct"]) for r in rows] == [("b", 2), ("a", 2)]
    assert "rebuilding" in err and "Traceback" not in err
    with sqlite3.connect(s.out / INDEX_DB) as con:
        assert con.execute("SELECT count(*) FROM cells").fetchone() == (2,)


# ---------------------------------------------------------------- forged `correct`
def _forge_correct(s: Store, key: str, values: list) -> None:
    """Rewrite a cell file with `correct` replaced, as a hand-edited or foreign file would hold it."""
    path = s.cell_path(key)
    table = pq.read_table(path)
    md = table.schema.metadata
    i = table.schema.get_field_index("correct")
    table = table.set_column(i, "correct", pa.array(values)).replace_schema_metadata(md)
    pq.write_table(table, path)
    assert META_KEY in pq.read_schema(path).metadata


@pytest.mark.parametrize("values", [[float("nan")] * 3, ["yes", "no", "no"], [None, True, False], [1, 1, 1]],
                         ids=["nan", "strings", "nulls", "ints"])
def test_forged_correct_values_are_never_counted(tmp_path, capsys, monkeypatch, said, values):
    s = _run_folder(tmp_path, ["a", "b"])
    _forge_correct(s, "a--t--s0", values)

    rc, rows, err = _results(s.out, capsys, said)
    assert rc == 0 and [r["model"] for r in rows] == ["b"], rows  # never 100 % from NaN
    assert "a--t--s0.parquet" in err and "correct" in err

    assert main(["stats", str(s.out)]) in (0, 1)
    assert "a--t--s0.parquet" in said()

    _fixed_grader(monkeypatch, Grade(True, "1", "ok"))
    s.records()
    assert main(["regrade", str(s.out)]) == 2
    err = capsys.readouterr().err
    assert "a--t--s0.parquet" in err and "'correct'" in err and _one_error_line(err)


# ---------------------------------------------------------------- full disk, injected
def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_report_on_full_disk_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    s = _run_folder(tmp_path, ["a"])
    monkeypatch.setattr(atomicio.os, "fsync", _enospc)
    out = tmp_path / "reports" / "r.html"
    assert main(["report", str(s.out), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no space left on" in err and f"while writing {out}" in err and _one_error_line(err)
    assert not (tmp_path / "reports").exists()


def test_regrade_on_full_disk_is_one_line_and_keeps_cells(tmp_path, capsys, monkeypatch):
    s = _run_folder(tmp_path, ["a"])
    before = s.cell_path("a--t--s0").read_bytes()
    _fixed_grader(monkeypatch, Grade(True, "1", "ok"))
    monkeypatch.setattr("rv_eval.store.pq.write_table", lambda *a, **k: _enospc())
    assert main(["regrade", str(s.out)]) == 2
    err = capsys.readouterr().err
    assert "no space left on" in err and "a--t--s0.parquet" in err and _one_error_line(err)
    assert s.cell_path("a--t--s0").read_bytes() == before
    assert sorted(p.name for p in s.cells_dir.iterdir()) == ["a--t--s0.parquet"]


def test_full_index_database_is_one_line(tmp_path, capsys, monkeypatch):
    s = _run_folder(tmp_path, ["a"])
    real = sqlite3.connect

    class FullConnection(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, *args)

    monkeypatch.setattr("rv_eval.store.sqlite3.connect", lambda *a, **k: real(*a, factory=FullConnection, **k))
    _fixed_grader(monkeypatch, Grade(True, "1", "ok"))
    assert main(["regrade", str(s.out)]) == 2
    err = capsys.readouterr().err
    assert "no space left on" in err and INDEX_DB in err


@pytest.mark.integration
@pytest.mark.slow
def test_run_with_colliding_unicode_model_names_keeps_both(tiny_family, tmp_path, capsys):
    """The reported case end to end: a grid with `モデルA` and `データA` stores and reports two models."""
    out = tmp_path / "out"
    models = f"  - {{name: モデルA, path: {tiny_family['target']}}}\n  - {{name: データA, path: {tiny_family['post']}}}\n"
    grid_file = write_grid(tmp_path, tiny_family, out, seeds=(0,), samples=1, max_gen=4, models=models)
    grid_file.write_text(grid_file.read_text().replace("baseline: target", "baseline: モデルA"))
    summary = run_grid(load_grid(grid_file), grader=toy_grader, progress=False)
    assert len(summary.ran) == 2
    assert len(list((out / "cells").glob("*.parquet"))) == 2
    rc, rows, _ = _results(out, capsys)
    assert rc == 0 and sorted(r["model"] for r in rows) == ["データA", "モデルA"]
    assert all(r["n_samples"] == 3 for r in rows)


def _fixed_grader(monkeypatch, grade):
    """regrade grades every response as `grade` (in this process: the tests need no grading workers)."""
    from rv_eval.sample_grading import SampleGrader

    monkeypatch.setattr("rv_eval.regrade.SampleGrader",
                        lambda grader=None, timeout_s=10.0: SampleGrader(lambda task, doc, resp: grade, timeout_s))
