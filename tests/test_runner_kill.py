"""A run killed with SIGKILL loses at most its in-flight cell; resuming completes the grid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rv_eval.grid import load_grid
from rv_eval.runner import run_grid
from rv_eval.store import Store, load_samples
from tests.test_runner import toy_grader, write_grid

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import sys
from rv_eval.grid import load_grid
from rv_eval.runner import run_grid
from tests.test_runner import toy_grader
run_grid(load_grid(sys.argv[1]), grader=toy_grader, progress=False)
"""


def test_sigkill_then_resume(tiny_family, tmp_path):
    out = tmp_path / "out"
    models = f"  - {{name: target, path: {tiny_family['target']}}}\n"
    grid_file = write_grid(tmp_path, tiny_family, out, seeds=tuple(range(8)), max_gen=48, models=models)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(grid_file)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells = out / "cells"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if cells.is_dir() and len(list(cells.glob("*.parquet"))) >= 2:
                break
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    survived = {p.name: p.stat().st_mtime_ns for p in cells.glob("*.parquet")}
    assert 2 <= len(survived) < 8, "the kill should land mid-run"
    store = Store(out)
    assert len(store.stored_fingerprints()) == len(survived)  # every visible cell file is complete

    grid = load_grid(grid_file)
    s = run_grid(grid, grader=toy_grader, progress=False)
    assert s.skipped == len(survived) and len(s.ran) == 8 - len(survived)
    assert all(cells.joinpath(n).stat().st_mtime_ns == t for n, t in survived.items())
    df = load_samples(out)
    assert len(df) == 8 * 3 * 2
    assert not df.duplicated(["model", "task", "seed", "doc_id", "sample_idx"]).any()
